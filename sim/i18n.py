# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""Labels, titles and table headers of figures and reports, in English and Simplified Chinese.

Every piece of text that a figure or report shows a reader comes from :data:`TEXT` through
:func:`tr`, so ``--lang zh`` switches all of it. Names that come from the data (scenario title,
layout and platform names) are shown as written in the scenario.

Also here: number formats per language, and :func:`wrap`, which breaks text into lines that fit a
width for both languages (Chinese has no spaces between words, so ``textwrap`` cannot do it).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["LANGS", "TEXT", "all_text", "days", "layout_name", "minutes", "pct", "pp", "scenario_title", "tr",
           "wrap", "zone_name"]

LANGS: tuple[str, ...] = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    # zone classes
    "zone.key": {"en": "Key locations", "zh": "重点部位"},
    "zone.central": {"en": "Central city", "zh": "中心城区"},
    "zone.other": {"en": "Other urban area", "zh": "其他城区"},
    "zone.all": {"en": "All zones", "zh": "全部区域"},
    "zone_target": {"en": "{zone} ({target} target)", "zh": "{zone}（目标{target}）"},
    "min": {"en": "{n} min", "zh": "{n}分钟"},
    "km": {"en": "{n} km", "zh": "{n}千米"},
    "day_one": {"en": "{n} day", "zh": "{n} 天"},
    "day_many": {"en": "{n} days", "zh": "{n} 天"},
    "north": {"en": "N", "zh": "北"},
    # source line and notes
    "source": {"en": "Scenario: {name} · run {run_id} · {reps} replications",
               "zh": "情景：{name} · 运行编号 {run_id} · {reps} 次重复"},
    "source_one": {"en": "Scenario: {name} · run {run_id} · 1 replication",
                   "zh": "情景：{name} · 运行编号 {run_id} · 1 次重复"},
    "network_note": {"en": "Network: {source}, {nodes} road nodes.",
                     "zh": "路网：{source}，{nodes} 个道路节点。"},
    "synthetic_note": {"en": "Synthetic street network; positions are illustrative.",
                       "zh": "路网为合成路网，点位仅为示意。"},
    # map axes and legends
    "x_km": {"en": "km east of map centre", "zh": "距地图中心以东（千米）"},
    "y_km": {"en": "km north of map centre", "zh": "距地图中心以北（千米）"},
    "rivers": {"en": "Rivers", "zh": "河流"},
    "bridges": {"en": "Bridges", "zh": "桥梁"},
    "main_roads": {"en": "Main roads", "zh": "主干道路"},
    "other_roads": {"en": "Other roads", "zh": "其他道路"},
    "posts_legend": {"en": "{layout}: {posts} posts, {units} units",
                     "zh": "{layout}：{posts} 个点位，{units} 个警力单元"},
    "areas_legend": {"en": "Response-area boundaries of {layout}",
                     "zh": "{layout} 责任区边界"},
    "areas_note": {"en": "Response area: the road nodes a post reaches first by road.",
                   "zh": "责任区：按道路行车最先到达的点位所覆盖的道路节点。"},
    "post_key_title": {"en": "Posts", "zh": "点位"},
    "layout_map_title": {"en": "{title}: zones, posts and response areas",
                         "zh": "{title}：区域分类、点位与责任区"},
    # coverage map
    "coverage_title": {"en": "{layout}: roads reached within 1, 3 and 5 minutes of dispatch",
                       "zh": "{layout}：派警后 1、3、5 分钟内可到达的道路"},
    "band.1": {"en": "within 1 min", "zh": "1 分钟内"},
    "band.3": {"en": "1 to 3 min", "zh": "1–3 分钟"},
    "band.5": {"en": "3 to 5 min", "zh": "3–5 分钟"},
    "band.more": {"en": "over 5 min", "zh": "超过 5 分钟"},
    "coverage_legend_title": {"en": "Time from dispatch", "zh": "派警后用时"},
    "coverage_note": {"en": "Idle units leaving their posts: turnout plus driving time of the fastest "
                            "unit; no waiting for a free unit.",
                      "zh": "空闲警力从点位出发：出警准备时间加行车时间（取最快单元），不计排队等待。"},
    "coverage_table_title": {"en": "Road nodes within their zone's target",
                             "zh": "目标时间内可达的道路节点"},
    "coverage_x": {"en": "road nodes within target (%)", "zh": "目标时间内可到达的节点（%）"},
    # compliance and difference maps
    "compliance_map_title": {"en": "{layout}: share of incidents reached within their zone's target",
                             "zh": "{layout}：在区域目标时间内到达的警情比例"},
    "compliance_cbar": {"en": "incidents within target (%)", "zh": "目标时间内到达的警情（%）"},
    "too_few": {"en": "fewer than {n} incidents", "zh": "警情少于 {n} 起"},
    "hex_note": {"en": "Hexagons {d} km across; incidents of all replications pooled.",
                 "zh": "六边形宽 {d} 千米；合并所有重复的警情。"},
    "overall_summary": {"en": "All zones, within target: {value}", "zh": "全部区域按时到达：{value}"},
    "diff_title": {"en": "{b} minus {a}: change in the share within target",
                   "zh": "{b} 相对 {a}：目标时间内到达比例的变化"},
    "diff_cbar": {"en": "change (percentage points)", "zh": "变化（百分点）"},
    "diff_better": {"en": "better with {b}", "zh": "{b} 更好"},
    "diff_worse": {"en": "worse with {b}", "zh": "{b} 更差"},
    "diff_note": {"en": "Same incidents in both layouts (common random numbers).",
                  "zh": "两种布局使用相同的警情（共同随机数）。"},
    # response-time curves
    "cdf_title": {"en": "{title}: response times by zone class", "zh": "{title}：各类区域的响应时间"},
    "cdf_x_dispatch": {"en": "minutes from dispatch to first arrival",
                       "zh": "从派警到首个警力到达（分钟）"},
    "cdf_x_call": {"en": "minutes from the call to first arrival", "zh": "从报警到首个警力到达（分钟）"},
    "cdf_y": {"en": "incidents reached (%)", "zh": "已到达的警情（%）"},
    "cdf_line": {"en": "{layout}: {value} within {target}", "zh": "{layout}：{target}内 {value}"},
    "cdf_note": {"en": "Curves pool all replications; shares in the legends are means over "
                       "replications.",
                 "zh": "曲线合并所有重复；图例中的比例为各次重复的平均值。"},
    # compliance bars
    "bars_title": {"en": "Share of incidents reached within their zone's target, with 95% confidence "
                         "intervals",
                   "zh": "在区域目标时间内到达的警情比例（含 95% 置信区间）"},
    "bars_y": {"en": "incidents within target (%)", "zh": "目标时间内到达的警情（%）"},
    "bars_goal": {"en": "goal: {goal} of incidents within target", "zh": "目标：{goal} 的警情按时到达"},
    "bars_note": {"en": "Whiskers: 95% confidence interval over replications (Student t).",
                  "zh": "误差线：各次重复的 95% 置信区间（t 分布）。"},
    # by hour of day
    "hour_title": {"en": "{title}: by hour of day", "zh": "{title}：按一天中的时段"},
    "hour_x": {"en": "hour of day", "zh": "一天中的时段（时）"},
    "hour_calls": {"en": "incidents in the\nhour, per day", "zh": "该时段每日\n警情（起）"},
    "hour_compliance": {"en": "within target (%)", "zh": "按时到达（%）"},
    "hour_util": {"en": "units committed (%)", "zh": "警力占用（%）"},
    "hour_patrol": {"en": "police presence at\nkey locations (%)", "zh": "重点部位\n见警率（%）"},
    "hour_util_mean": {"en": "{layout}: units committed, day average {value}",
                       "zh": "{layout}：全天平均警力占用 {value}"},
    "hour_note": {"en": "Incidents and compliance by the hour of the call. Units committed: time from "
                        "assignment to clearing the scene of the first unit sent, as a share of the "
                        "units on duty, by clock hour; dotted: the day average over all units.",
                  "zh": "警情数与达标率按报警时段统计。警力占用：首个出警单元从指派到现场处置完毕的"
                        "时间占在岗警力时间的比例，按钟点统计；虚线：全部警力的全天平均。"},
    # report
    "report_title": {"en": "Rapid-response police layouts: policy brief",
                     "zh": "城市快警布局方案：决策简报"},
    "report_subtitle": {"en": "{title} · run {run_id}", "zh": "{title} · 运行编号 {run_id}"},
    "h.question": {"en": "The question", "zh": "研究问题"},
    "h.findings": {"en": "Key findings", "zh": "主要发现"},
    "h.table": {"en": "Compliance by layout and zone", "zh": "各布局方案、各区域的达标情况"},
    "h.figures": {"en": "Figures", "zh": "图表"},
    "h.assumptions": {"en": "Assumptions", "zh": "假设"},
    "h.reproduce": {"en": "How to reproduce", "zh": "如何复现"},
    "question": {
        "en": "How often do police reach an incident within the target of its zone (1 minute at key "
              "locations, 3 minutes in the central city, 5 minutes elsewhere) under {layouts}? "
              "{baseline} is the baseline; {n_b} compared with it.",
        "zh": "在 {layouts} 之下，警力在区域目标时间内（重点部位 1 分钟、中心城区 3 分钟、其他城区 "
              "5 分钟）到达警情现场的比例是多少？以 {baseline} 为基准，与之比较的方案：{n_b}。"},
    "question_one": {
        "en": "How often do police reach an incident within the target of its zone (1 minute at key "
              "locations, 3 minutes in the central city, 5 minutes elsewhere) under {layout}?",
        "zh": "在 {layout} 之下，警力在区域目标时间内（重点部位 1 分钟、中心城区 3 分钟、其他城区 "
              "5 分钟）到达警情现场的比例是多少？"},
    "list_sep": {"en": ", ", "zh": "、"},
    "col.layout": {"en": "Layout", "zh": "布局方案"},
    "col.zone": {"en": "Zone", "zh": "区域"},
    "col.target": {"en": "Target", "zh": "目标时间"},
    "col.incidents": {"en": "Incidents per replication", "zh": "每次重复的警情数"},
    "col.compliance": {"en": "Within target", "zh": "按时到达"},
    "col.ci": {"en": "95% CI", "zh": "95% 置信区间"},
    "col.mean": {"en": "Mean response", "zh": "平均响应时间"},
    "col.p90": {"en": "90th percentile", "zh": "第 90 百分位"},
    "col.util": {"en": "Units committed", "zh": "警力占用"},
    "table_note": {"en": "Means over {reps} replications with 95% confidence intervals (Student t), "
                         "as in summary.csv. Response times are from the call; targets are timed from "
                         "the {clock}.",
                   "zh": "为 {reps} 次重复的平均值及 95% 置信区间（t 分布），与 summary.csv 一致。"
                         "响应时间自报警起算；目标时间自{clock}起算。"},
    "clock.dispatch": {"en": "dispatch order", "zh": "派警指令"},
    "clock.call": {"en": "call", "zh": "报警"},
    "n_a": {"en": "n/a", "zh": "无"},
    # findings
    "f.change": {
        "en": "{b} {verb} the share of incidents reached within {target} {where} from {a_val} under "
              "{a} to {b_val} ({diff} pp, 95% CI ±{half} pp, paired by replication).",
        "zh": "与 {a} 相比，{b} 使{where}在 {target}内到达的警情比例从 {a_val} {verb}至 {b_val}"
              "（{diff} 个百分点，95% 置信区间 ±{half} 个百分点，按重复配对）。"},
    "f.change_best": {
        "en": "{where_cap}, {b} does best: it {verb} the share of incidents reached within {target} "
              "from {a_val} under {a} to {b_val} ({diff} pp, 95% CI ±{half} pp, paired by replication).",
        "zh": "{where_cap}表现最好的是 {b}：与 {a} 相比，{target}内到达的警情比例从 {a_val} {verb}至 "
              "{b_val}（{diff} 个百分点，95% 置信区间 ±{half} 个百分点，按重复配对）。"},
    "f.overall_list": {
        "en": "Across all zones, {a} reaches {a_val} of incidents within their zone's target; "
              "against it, {items}.",
        "zh": "就全部区域而言，{a} 在区域目标时间内到达的警情占 {a_val}；相比之下，{items}。"},
    "f.item": {"en": "{b} reaches {value} ({diff} pp, ±{half} pp)",
               "zh": "{b} 为 {value}（{diff} 个百分点，±{half} 个百分点）"},
    "f.where_cap.key": {"en": "At key locations", "zh": "重点部位"},
    "f.where_cap.central": {"en": "In the central city", "zh": "中心城区"},
    "f.where_cap.other": {"en": "In the other urban area", "zh": "其他城区"},
    "f.verb.up": {"en": "raises", "zh": "提高"},
    "f.verb.down": {"en": "lowers", "zh": "降低"},
    "f.same": {
        "en": "{b} leaves the share of incidents reached within {target} {where} about where it is "
              "({a_val} under {a}, {b_val} under {b}; {diff} pp, 95% CI ±{half} pp).",
        "zh": "{b} 与 {a} 相比，{where}在 {target}内到达的警情比例基本不变"
              "（{a_val} 对 {b_val}；{diff} 个百分点，95% 置信区间 ±{half} 个百分点）。"},
    "f.where.key": {"en": "at key locations", "zh": "重点部位"},
    "f.where.central": {"en": "in the central city", "zh": "中心城区"},
    "f.where.other": {"en": "in the other urban area", "zh": "其他城区"},
    "f.overall": {
        "en": "Across all zones, {layout} reaches {value} of incidents within their zone's target "
              "(95% CI {lo} to {hi}).",
        "zh": "就全部区域而言，{layout} 在区域目标时间内到达的警情占 {value}"
              "（95% 置信区间 {lo} 至 {hi}）。"},
    "f.hardest": {
        "en": "The hardest target is {zone_target}: even under {layout} only {value} of those "
              "incidents are reached in time.",
        "zh": "最难达到的是{zone_target}：即使在 {layout} 下，也只有 {value} 的此类警情按时到达。"},
    "f.response": {
        "en": "Mean response time from the call goes from {a_min} under {a} to {b_min} under {b}; "
              "units are committed to incidents {a_util} and {b_util} of the time.",
        "zh": "自报警起的平均响应时间从 {a} 的 {a_min} 变为 {b} 的 {b_min}；"
              "警力处置警情的时间占比分别为 {a_util} 和 {b_util}。"},
    "f.response_one": {
        "en": "Mean response time from the call is {min}; units are committed to incidents {util} of "
              "the time.",
        "zh": "自报警起的平均响应时间为 {min}；警力处置警情的时间占比为 {util}。"},
    # assumptions
    "a.network": {"en": "Road network: {source} ({nodes} nodes, {edges} directed road links), "
                        "drivable roads only, speeds per road class (e.g. {speeds}).",
                  "zh": "路网：{source}（{nodes} 个节点，{edges} 条有向路段），仅可通行机动车的道路，"
                        "按道路等级设定车速（如 {speeds}）。"},
    "a.synthetic": {"en": "The built-in network is synthetic, modelled on central Shaoyang: it is not "
                          "the real street map, and post positions are illustrative.",
                    "zh": "内置路网为参照邵阳中心城区生成的合成路网，并非真实街道图，点位仅为示意。"},
    "a.demand": {"en": "Demand: {per_day} incidents a day (scenario calibration), arriving as a "
                       "Poisson process with an hour-of-day profile (busiest hour {peak}:00); {hot} "
                       "of incidents around {n_hot} hotspots, the rest spread by road length.",
                 "zh": "需求：每日 {per_day} 起警情（情景标定），按一天中各时段的强度以泊松过程到达"
                       "（最繁忙时段 {peak}:00）；{hot} 的警情集中在 {n_hot} 个热点周围，"
                       "其余按道路长度分布。"},
    "a.staffing": {"en": "Staffing of {layout}: {posts} posts; units that take dispatches: {units}.",
                   "zh": "{layout} 的警力配置：{posts} 个点位；出警警力：{units}。"},
    "a.staffing_more": {"en": "Staffing of {layout}: {posts} posts; units that take dispatches: {units}; "
                              "never dispatched: {others}.",
                        "zh": "{layout} 的警力配置：{posts} 个点位；出警警力：{units}；"
                              "不参与出警：{others}。"},
    "a.unit_plain": {"en": "{n} {label}", "zh": "{label} {n} 个"},
    "a.unit": {"en": "{n} {label} (turnout {turnout})", "zh": "{label} {n} 个（出警准备 {turnout}）"},
    "a.clock": {"en": "Targets are timed from the {clock}; call handling at the 110 centre takes "
                      "{handling} on average. Response times are from the call.",
                "zh": "目标时间自{clock}起算；110 指挥中心接处警平均用时 {handling}。响应时间自报警起算。"},
    "a.run": {"en": "Each replication simulates {days} after a warm-up of {warmup}; "
                    "{reps} replications, seed {seed}. Every layout sees the same incidents.",
              "zh": "每次重复模拟 {days}（另有 {warmup}预热期）；共 {reps} 次重复，随机种子 {seed}。"
                    "各布局方案使用相同的警情。"},
    "a.goal": {"en": "The goal line in the bar chart ({goal} of incidents within target) is a "
                     "reporting choice, not part of the scenario.",
               "zh": "柱状图中的目标线（{goal} 的警情按时到达）为报告设定，不属于情景参数。"},
    "a.not_modelled": {"en": "A trip keeps the congestion of the period it starts in, and patrol "
                             "loops keep free-flow timing.",
                       "zh": "每次出行按出发时段的拥堵计算；巡逻路线按畅通速度计时。"},
    "h.fit": {"en": "Fitted to the city's call log", "zh": "按本市接警记录拟合"},
    "h.optimize": {"en": "Finding a layout (run_sim.py optimize)", "zh": "布局优化（run_sim.py optimize）"},
    "o.title": {"en": "{new} against {old}: where coverage within target is gained and lost",
                "zh": "{new} 与 {old} 对比：按时覆盖的得与失"},
    "o.gained": {"en": "newly within target", "zh": "新增按时覆盖"},
    "o.lost": {"en": "no longer within target", "zh": "失去按时覆盖"},
    "o.both": {"en": "within target in both", "zh": "两者均按时覆盖"},
    "o.neither": {"en": "beyond target in both", "zh": "两者均未按时覆盖"},
    "o.kept": {"en": "site kept", "zh": "保留点位"},
    "o.moved_from": {"en": "existing site (moved or removed)", "zh": "现有点位（迁移或撤销）"},
    "o.moved_to": {"en": "moved site (arrow: from where)", "zh": "迁移后点位（箭头表示迁移）"},
    "o.new": {"en": "new site", "zh": "新增点位"},
    "o.side": {"en": "Demand within target (weighted by incidents)",
               "zh": "按时覆盖的警情比例（按警情加权）"},
    "o.note": {"en": "Static travel times ({period}, {unit}, turnout included); target per zone class. "
                     "Shares weighted by the demand model.",
               "zh": "静态行车时间（{period}，{unit}，含出警准备）；各区域类别的目标时间。"
                     "比例按需求模型加权。"},
    "o.summary": {"en": "{layout}: {objective} optimum with {n} sites, {covered} of demand within target "
                        "statically ({old}: {before}); {status}, gap {gap}, solved in {secs} s.",
                  "zh": "{layout}：{objective} 目标的最优解，{n} 个点位，静态按时覆盖 {covered}"
                        "（{old}：{before}）；{status}，间隙 {gap}，求解 {secs} 秒。"},
    "o.change": {"en": "Against {old}: {gained} of demand newly within target, {lost} no longer; "
                       "{kept} sites kept, {moved} moved, {new} new.",
                 "zh": "与 {old} 相比：{gained} 的警情新增按时覆盖，{lost} 失去；"
                       "保留 {kept} 个点位，迁移 {moved} 个，新增 {new} 个。"},
    "o.selected": {"en": "Chosen by simulation: {layout}, probability of correct selection at least {pcs}.",
                   "zh": "仿真选优结果：{layout}，正确选择概率不低于 {pcs}。"},
    "o.map": {"en": "Map of gained and lost coverage: {path}", "zh": "覆盖得失地图：{path}"},
    "o.label_keep": {"en": "{base} + {n} new sites ({objective}){rank}",
                     "zh": "{base} + {n} 个新点位（{objective}）{rank}"},
    "o.label_new": {"en": "Optimised: {n} sites ({objective}){rank}",
                    "zh": "优化方案：{n} 个点位（{objective}）{rank}"},
    "a.places": {"en": "Every place the scenario names stands on the nearest drivable road: {n} places, "
                       "half within {median} of where the scenario puts them; the farthest, {name}, "
                       "is {far} away ({over} more than 50 m; each distance is in manifest.json).",
                 "zh": "情景中的每个地点都放在最近的可通行道路上：共 {n} 处，半数离设定位置不超过 {median}；"
                       "最远的是 {name}，相距 {far}（超过 50 米的有 {over} 处；每个距离见 manifest.json）。"},
    "r.command": {"en": "The run was made with:", "zh": "本次运行使用的命令："},
    "r.explicit": {"en": "The same run with every setting written out:",
                   "zh": "写明全部设置的等效命令："},
    "r.report": {"en": "This report:", "zh": "生成本报告："},
    "r.checksums": {"en": "Checksums from manifest.json (SHA-256):",
                    "zh": "manifest.json 中的校验和（SHA-256）："},
    "r.scenario_sha": {"en": "scenario file", "zh": "情景文件"},
    "r.network_sha": {"en": "road network input", "zh": "路网输入"},
    "r.records_sha": {"en": "records.csv", "zh": "records.csv"},
    "r.versions": {"en": "Software: {versions}.", "zh": "软件版本：{versions}。"},
    "no_maps": {"en": "Maps left out: {reason}", "zh": "未包含地图：{reason}"},
    "fig.layout_map": {"en": "Layout map", "zh": "布局地图"},
    "fig.coverage": {"en": "Coverage map: {layout}", "zh": "覆盖范围图：{layout}"},
    "fig.compliance_map": {"en": "Compliance map: {layout}", "zh": "达标率地图：{layout}"},
    "fig.difference": {"en": "Paired difference: {b} minus {a}", "zh": "配对差异：{b} 相对 {a}"},
    "fig.cdf": {"en": "Response-time curves", "zh": "响应时间累积曲线"},
    "fig.bars": {"en": "Compliance by zone", "zh": "各区域达标率"},
    "fig.hours": {"en": "By hour of day", "zh": "按时段"},
    "figure_n": {"en": "Figure {n}. {title}", "zh": "图 {n}. {title}"},
    "generated": {"en": "Made from the results folder {folder} (run finished {date}); nothing was "
                        "re-simulated.",
                  "zh": "根据结果文件夹 {folder}（运行完成于 {date}）生成；未重新运行模拟。"},
    "page": {"en": "page {n}", "zh": "第 {n} 页"},
    # interactive map (map.html)
    "m.title": {"en": "{title}: interactive map", "zh": "{title}：交互地图"},
    "m.layout": {"en": "Layout", "zh": "布局方案"},
    "m.roads": {"en": "Roads", "zh": "道路"},
    "m.central": {"en": "Central city", "zh": "中心城区"},
    "m.key": {"en": "Key locations", "zh": "重点部位"},
    "m.posts": {"en": "Posts", "zh": "点位"},
    "m.loops": {"en": "Patrol loops", "zh": "巡逻路线"},
    "m.reach": {"en": "Reached in {band} ({period})", "zh": "{band}可达（{period}）"},
    "m.free_flow": {"en": "free flow", "zh": "畅通"},
    "m.cells": {"en": "Within target, per cell", "zh": "各网格达标率"},
    "m.pair": {"en": "{b} minus {a}", "zh": "{b} 减 {a}"},
    "m.pair_menu": {"en": "Difference between two layouts (pp)", "zh": "两个布局方案之差（百分点）"},
    "m.pair_none": {"en": "no difference layer", "zh": "不显示差异"},
    "m.pp": {"en": "pp", "zh": "百分点"},
    "m.hover_node": {"en": "nearest post {post}<br>{time} from dispatch",
                     "zh": "最近点位 {post}<br>派警后 {time}"},
    "m.hover_cell": {"en": "{n} incidents, {share} within target<br>nearest post {post}, {time}",
                     "zh": "{n} 起警情，按时到达 {share}<br>最近点位 {post}，{time}"},
    "m.hover_pair": {"en": "{b}: {diff} pp against {a}<br>{n} incidents in {a}",
                     "zh": "{b} 与 {a} 相比 {diff} 个百分点<br>{a} 下 {n} 起警情"},
    "m.help": {"en": "Choose a layout above the map, and any two layouts to compare cell by cell (blue: "
                     "the second reaches more incidents within target); click legend entries to show or "
                     "hide layers; hover a place for its nearest post, travel time, compliance and "
                     "incidents.",
               "zh": "在地图上方选择布局方案，并可任选两个方案逐格比较（蓝色：后者按时到达更多）；点击图例"
                     "显示或隐藏图层；鼠标悬停可查看最近点位、行车时间、达标率和警情数。"},
}


def tr(key: str, lang: str, **kw: object) -> str:
    """The text ``key`` in ``lang`` (``en`` or ``zh``), with ``{name}`` fields filled from ``kw``."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}")
    return TEXT[key][lang].format(**kw)


def zone_name(zone: str, lang: str) -> str:
    """Zone class ``key``, ``central``, ``other`` or ``all`` as the reader sees it."""
    return tr(f"zone.{zone}", lang)


def layout_name(scenario: Any, layout: str, lang: str) -> str:
    """A layout as the reader sees it: ``label_zh`` in Chinese (else ``label``), ``label`` in
    English, else the layout's key. ``scenario`` is a :class:`sim.scenario.Scenario`."""
    spec = getattr(scenario, "layouts", {}).get(layout)
    if spec is None:
        return layout
    zh, en = str(getattr(spec, "label_zh", None) or ""), str(getattr(spec, "label", None) or "")
    return (zh or en or layout) if lang == "zh" else (en or layout)


def scenario_title(scenario: Any, lang: str) -> str:
    """The scenario's ``title_zh`` in Chinese (else its title), its ``title`` in English, else its
    name."""
    zh, en = str(getattr(scenario, "title_zh", None) or ""), str(getattr(scenario, "title", None) or "")
    return (zh or en or str(scenario.name)) if lang == "zh" else (en or str(scenario.name))


def days(seconds: float, lang: str) -> str:
    """Seconds as days, singular or plural (``1 day``, ``2.5 days``, ``1 天``)."""
    d = seconds / 86400.0
    return tr("day_one" if abs(d - 1.0) < 1e-9 else "day_many", lang, n=f"{d:g}")


def pct(share: float, lang: str = "en", digits: int = 1) -> str:
    """A share (0-1) as a percentage with ``digits`` decimals; n/a for NaN."""
    if share is None or math.isnan(share):
        return tr("n_a", lang)
    return f"{share * 100:.{digits}f}%"


def pp(diff: float, digits: int = 1, sign: bool = True) -> str:
    """A difference of shares (0-1) in percentage points, signed (``+12.3``)."""
    return f"{diff * 100:+.{digits}f}" if sign else f"{diff * 100:.{digits}f}"


def minutes(seconds: float, lang: str, digits: int = 1) -> str:
    """Seconds as minutes (``4.3 min`` / ``4.3分钟``); whole minutes without decimals."""
    if seconds is None or math.isnan(seconds):
        return tr("n_a", lang)
    m = seconds / 60.0
    text = f"{m:g}" if abs(m - round(m)) < 1e-9 else f"{m:.{digits}f}"
    return tr("min", lang, n=text)


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """Words for Latin text (with their trailing space), single characters for CJK text."""
    out: list[str] = []
    word = ""
    for ch in text:
        if _is_wide(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        elif ch == " ":
            out.append(word + " ")
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


_NO_LINE_START = set("，。、；：？！）》」』】％%,.;:?!)")


def wrap(text: str, fits: Callable[[str], bool] | int) -> list[str]:
    """Break ``text`` into lines that fit.

    ``fits`` is either a width in columns (a CJK character counts two) or a function that says
    whether a line fits (e.g. measured with a renderer). Latin text breaks at spaces; CJK text may
    break between any two characters, but not before closing punctuation.
    """
    fits_fn: Callable[[str], bool]
    if isinstance(fits, int):
        width = fits

        def fits_fn(line: str) -> bool:
            return sum(2 if _is_wide(c) else 1 for c in line.rstrip()) <= width
    else:
        fits_fn = fits
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in _tokens(para):
            trial = line + tok
            if not line or fits_fn(trial) or tok[0] in _NO_LINE_START:
                line = trial
            else:
                lines.append(line.rstrip())
                line = tok
        lines.append(line.rstrip())
    return lines


def all_text(lang: str) -> Iterable[str]:
    """Every label in ``lang`` with its fields left as written (for glyph-coverage checks)."""
    for entry in TEXT.values():
        yield entry[lang]
