# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""The brief's section on a call log: the fit report itself when the run's scenario was fitted to
a log (``run_sim.py fit``), and the replayed log when the run was a replay (``--replay``).

The fit report is the ``fit_report.json`` that ``fit`` wrote beside the fitted scenario; it is
used only while that scenario file is still the one the run used (its SHA-256 is the manifest's
``scenario_sha256``), so a later refit never slips into an older run's brief. The section holds
the report's tables (call-log problems, type mix and on-scene fits, call handling, calibrated
speeds, travel-time errors before and after) and its figures (the hour-of-week profile, the Q-Q
plots of every type, observed against modelled travel times), drawn through
:mod:`sim.viz.fit_plots` into the results folder like the brief's other figures (``fit_*.png``,
``fit_*_zh.png``). The replay part says which log (as given, and its checksum), over which days,
which rows were rejected and why, how far the calls were from their road, and which days were
not 24 hours long.

Blocks are those of :mod:`sim.brief.content`, with ``("grid", (headers, rows, note))`` for a
plain table.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sim.brief.figures import PREVIEW_PX, Figure
from sim.brief.fit_report import fitted_report_path, summary_lines
from sim.brief.results import Results
from sim.i18n import tr

__all__ = ["fit_blocks", "fit_figures", "fit_report_of", "replay_note_of"]

Block = tuple[str, Any]

_TEXT = {
    "replay": ("The replayed call log", "回放的接警记录"),
    "problems": ("Rows of the log that were rejected, by reason:", "被剔除的记录行（按原因）："),
    "problem": ("reason", "原因"),
    "rows": ("rows", "行数"),
    "problems_note": ("Every rejected row, with its column and reason: run_sim.py calls check "
                      "CALLS --report FILE.", "每一行的列与原因：run_sim.py calls check 记录文件 "
                                              "--report 文件。"),
    "types": ("Type mix and on-scene times (maximum likelihood; the family chosen by AIC):",
              "警情类型构成与现场处置时间（极大似然估计，按 AIC 选择分布族）："),
    "type": ("type", "类型"), "calls": ("calls", "警情数"), "share": ("share", "占比"),
    "n_times": ("times", "时长数"), "chosen": ("chosen", "选用"), "mean": ("mean", "均值"),
    "cv": ("cv", "变异系数"),
    "types_note": ("KS: Kolmogorov–Smirnov statistic and p-value of the chosen family; "
                   "'empirical' where neither family fits.",
                   "KS：所选分布的 Kolmogorov–Smirnov 统计量与 p 值；两者都不拟合时采用经验分布。"),
    "handling": ("Call handling (call to dispatch), {n} calls with a dispatch time: {chosen}, "
                 "mean {mean}, cv {cv}.", "接警处理（接警至派警），{n} 起有派警时间：{chosen}，均值 "
                                          "{mean}，变异系数 {cv}。"),
    "speeds": ("Road speeds calibrated to the observed travel times (Huber loss; turnout {turnout}):",
               "按记录的行驶时间校准的道路速度（Huber 损失；出警准备 {turnout}）："),
    "road": ("road class", "道路等级"), "speed": ("speed", "速度"),
    "factor": ("factor on the scenario's speed", "相对情景速度的系数"),
    "errors": ("Travel-time error before and after the calibration, by main road class:",
               "校准前后的行驶时间误差（按主要道路等级）："),
    "mae_b": ("MAE before", "校准前平均绝对误差"), "mae_a": ("MAE after", "校准后平均绝对误差"),
    "bias_b": ("bias before", "校准前偏差"), "bias_a": ("bias after", "校准后偏差"),
    "p90_b": ("P90 before", "校准前 P90"), "p90_a": ("P90 after", "校准后 P90"),
    "errors_note": ("Seconds; P90 of the absolute error. By hour of day: see the full fit report.",
                    "单位：秒；P90 为绝对误差的第 90 百分位。按小时的误差见完整拟合报告。"),
    "refused": ("Not calibrated (kept from the scenario): {what}.", "未校准（沿用情景设定）：{what}。"),
    "all": ("all", "全部"),
    "call_handling": ("call handling", "接警处理"),
    "fig_how": ("Calls per hour by hour of the week, fitted to the log",
                "按周小时的每小时警情数（按接警记录拟合）"),
    "fig_qq": ("Q-Q plots of the on-scene times of every type and of call handling",
               "各类警情现场处置时间与接警处理时间的 Q-Q 图"),
    "fig_travel": ("Observed against modelled travel times, before and after the calibration",
                   "记录与模型的行驶时间（校准前后）"),
    "log": ("Log {file} (as given; sha256 {sha}…), time zone {tz}.",
            "记录文件 {file}（按给定路径；sha256 {sha}…），时区 {tz}。"),
    "period": ("{calls} calls over {days:g} days from {first}: {rows} rows read, {rejected} rejected.",
               "{first} 起 {days:g} 天共 {calls} 起警情：读取 {rows} 行，剔除 {rejected} 行。"),
    "on_scene": ("On-scene times from the log for {share} of the calls; the rest are drawn from "
                 "the scenario, as is call handling.",
                 "{share} 的现场处置时间取自记录，其余与接警处理时间一样按情景抽样。"),
    "snap": ("Calls placed on the nearest drivable road: median {median:g} m, P90 {p90:g} m, max "
             "{max:g} m; {far} more than 50 m away.",
             "警情位置落到最近的可通行道路：中位数 {median:g} 米，P90 {p90:g} 米，最大 {max:g} 米；"
             "超过 50 米的 {far} 起。"),
    "uneven": ("{day} has {hours:g} hours in {tz} (daylight saving): times are elapsed seconds, so "
               "from then on the scenario's clock of day (shifts, congestion) is {drift:+g} h from "
               "local time.", "{day} 在 {tz} 有 {hours:g} 小时（夏令时）：时间按实际经过的秒数计，"
                              "此后情景的钟点（班次、拥堵时段）与当地时间相差 {drift:+g} 小时。"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    text = _TEXT[key][1 if lang == "zh" else 0]
    return text.format(**kw) if kw else text


def fit_report_of(results: Results) -> tuple[dict[str, Any], Path] | None:
    """The fit report of the run's scenario and the path of its HTML, or None (see the module
    docstring: only while the scenario file is the one the run used)."""
    inputs = results.manifest.get("inputs", {})
    scenario_file = Path(str(inputs.get("scenario_file") or ""))
    path = fitted_report_path(scenario_file)
    if path is None:
        return None
    if hashlib.sha256(scenario_file.read_bytes()).hexdigest() != inputs.get("scenario_sha256"):
        return None
    return json.loads(path.read_text(encoding="utf-8")), path.with_suffix(".html")


def replay_note_of(results: Results) -> dict[str, Any] | None:
    """What the run's manifest (or its ``replay.json``) says about a replayed log, or None."""
    note = results.manifest.get("replay")
    if note is None and (results.folder / "replay.json").is_file():
        note = json.loads((results.folder / "replay.json").read_text(encoding="utf-8"))
    return note if isinstance(note, dict) else None


def fit_figures(results: Results, lang: str, *, dpi: int = 150) -> list[Figure]:
    """Draw the fit report's figures into the results folder (PNG) and return them (none when
    the run's scenario was not fitted)."""
    found = fit_report_of(results)
    if found is None:
        return []
    from sim.viz import fit_plots
    from sim.viz.save import save_with_preview
    from sim.viz.style import source_line

    r = found[0]
    footer = source_line(results.scenario.name, results.run_id, results.replications_n, lang)
    made: list[tuple[str, str, Any]] = []
    if r.get("arrivals", {}).get("weekly_rate"):
        made.append(("fit_hour_of_week", _t("fig_how", lang),
                     fit_plots.plot_hour_of_week(r["arrivals"], lang=lang, footer=footer)[0]))
    fits = {name: f for name, f in r.get("on_scene", {}).items()}
    if r.get("call_handling", {}).get("qq"):
        fits[_t("call_handling", lang)] = r["call_handling"]
    if fits:
        made.append(("fit_qq", _t("fig_qq", lang), fit_plots.plot_qq_grid(fits, lang=lang,
                                                                          footer=footer)[0]))
    scatter = r.get("travel", {}).get("scatter")
    if scatter and scatter.get("observed_s"):
        made.append(("fit_travel", _t("fig_travel", lang),
                     fit_plots.plot_travel_scatter(scatter, lang=lang, footer=footer)[0]))
    out = []
    for name, title, fig in made:
        stem = name if lang == "en" else f"{name}_{lang}"
        files, preview = save_with_preview(fig, results.folder / stem, ("png",), dpi=dpi,
                                           preview_px=PREVIEW_PX)
        out.append(Figure(name, title, files, preview))
    return out


def _num(v: Any, fmt: str = "{:.3g}") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return fmt.format(v) if v == v else "n/a"
    return str(v)


def _fit_tables(r: dict[str, Any], lang: str, shown_problems: bool) -> list[Block]:
    out: list[Block] = []
    problems = r.get("calls", {}).get("problems_by_reason") or {}
    if problems and not shown_problems:
        out += [("para", _t("problems", lang)),
                ("grid", ([_t("problem", lang), _t("rows", lang)],
                          [[k, str(v)] for k, v in problems.items()], _t("problems_note", lang)))]
    rows = []
    for name, f in r.get("on_scene", {}).items():
        cand = f.get("candidates", {})
        chosen = cand.get(f.get("chosen"), {})
        spec = f.get("spec", {})
        rows.append([name, str(r.get("type_counts", {}).get(name, "")),
                     f"{float(r.get('type_mix', {}).get(name, 0.0)):.1%}", str(f.get("n", "")),
                     str(f.get("chosen", "")), str(spec.get("mean", "n/a")), _num(spec.get("cv")),
                     _num(cand.get("lognormal", {}).get("aic"), "{:.0f}"),
                     _num(cand.get("gamma", {}).get("aic"), "{:.0f}"),
                     _num(chosen.get("ks_d")), _num(chosen.get("ks_p"))])
    if rows:
        out += [("para", _t("types", lang)),
                ("grid", ([_t("type", lang), _t("calls", lang), _t("share", lang), _t("n_times", lang),
                           _t("chosen", lang), _t("mean", lang), _t("cv", lang), "AIC lognormal",
                           "AIC gamma", "KS D", "KS p"], rows, _t("types_note", lang)))]
    ch = r.get("call_handling") or {}
    if ch.get("n"):
        spec = ch.get("spec", {})
        out.append(("para", _t("handling", lang, n=ch["n"], chosen=ch.get("chosen", ""),
                               mean=spec.get("mean", "n/a"), cv=_num(spec.get("cv")))))
    travel = r.get("travel") or {}
    if "speeds" in travel:
        turnout = f"{travel.get('turnout_s', 0.0):.0f} s" if lang == "en" else \
            f"{travel.get('turnout_s', 0.0):.0f} 秒"
        out += [("para", _t("speeds", lang, turnout=turnout)),
                ("grid", ([_t("road", lang), _t("speed", lang), _t("factor", lang)],
                          [[c, f"{float(v) * 3.6:.1f} km/h", f"{float(travel['speed_factor'][c]):.3f}"]
                           for c, v in travel["speeds"].items()], ""))]
        err = travel.get("errors", {})
        erows = [[_t("all", lang), *_err(err["all"])]] if "all" in err else []
        erows += [[c, *_err(v)] for c, v in err.get("by_class", {}).items()]
        if erows:
            out += [("para", _t("errors", lang)),
                    ("grid", ([_t("road", lang), "n", _t("mae_b", lang), _t("mae_a", lang),
                               _t("bias_b", lang), _t("bias_a", lang), _t("p90_b", lang),
                               _t("p90_a", lang)], erows, _t("errors_note", lang)))]
    if travel.get("refused"):
        what = "; ".join(f"{k} ({v})" for k, v in travel["refused"].items())
        out.append(("para", _t("refused", lang, what=what)))
    return out


def _err(v: dict[str, Any]) -> list[str]:
    b, a = v["before"], v["after"]
    return [str(b.get("n", "")), _num(b.get("mae_s"), "{:.1f}"), _num(a.get("mae_s"), "{:.1f}"),
            _num(b.get("bias_s"), "{:+.1f}"), _num(a.get("bias_s"), "{:+.1f}"),
            _num(b.get("p90_abs_s"), "{:.1f}"), _num(a.get("p90_abs_s"), "{:.1f}")]


def _replay_blocks(note: dict[str, Any], lang: str) -> list[Block]:
    lines = [_t("log", lang, file=note.get("calls_file_as_given", note.get("calls_file", "")),
                sha=str(note.get("sha256", ""))[:16], tz=note.get("timezone", "")),
             _t("period", lang, calls=note.get("calls"), days=float(note.get("days", 0)),
                first=note.get("first_day", ""), rows=note.get("rows"),
                rejected=note.get("rejected_rows")),
             _t("on_scene", lang, share=f"{float(note.get('on_scene_from_log_share', 0.0)):.0%}")]
    snap = note.get("snap") or {}
    if snap.get("calls"):
        lines.append(_t("snap", lang, median=snap["median_m"], p90=snap["p90_m"], max=snap["max_m"],
                        far=snap.get("over_50_m", 0)))
    drift = 0.0
    for d in note.get("uneven_days", []):
        drift += float(d["hours"]) - 24.0
        lines.append(_t("uneven", lang, day=d["day"], hours=float(d["hours"]),
                        tz=note.get("timezone", ""), drift=drift))
    out: list[Block] = [("heading", _t("replay", lang)), ("bullets", lines)]
    problems = note.get("rejected_by_reason") or {}
    if problems:
        out += [("para", _t("problems", lang)),
                ("grid", ([_t("problem", lang), _t("rows", lang)],
                          [[k, str(v)] for k, v in problems.items()], _t("problems_note", lang)))]
    return out


def fit_blocks(results: Results, lang: str, figures: list[Figure], first_number: int) -> list[Block]:
    """The blocks of the call-log section (empty for a run on neither fitted nor replayed data):
    the replay, then the fit report with its tables and ``figures`` (from :func:`fit_figures`),
    numbered from ``first_number``."""
    out: list[Block] = []
    note = replay_note_of(results)
    if note:
        out += _replay_blocks(note, lang)
    found = fit_report_of(results)
    if found is not None:
        report, html_path = found
        out += [("heading", tr("h.fit", lang)), ("bullets", summary_lines(report, html_path, lang))]
        same_log = note is not None and note.get("sha256") == report.get("calls", {}).get("sha256")
        out += _fit_tables(report, lang, shown_problems=same_log)
        for i, f in enumerate(figures):
            out.append(("figure", (f, tr("figure_n", lang, n=first_number + i, title=f.title))))
    return out
