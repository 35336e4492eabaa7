# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""The brief's county and village pages (zh and en), for a run whose scenario has a ``rural``
section: the rural ladder by zone class and layout, the village officers' effect on the same
calls when a layout runs without them (``rural.without_officers``), and the villages with the
worst police arrival. Numbers come from :mod:`sim.analysis.rural`; nothing is simulated.

The village officer (一村一辅警) is modelled from public descriptions of Shaoyang's system; the
pages say so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.analysis.rural import officer_effect, rural_summary, worst_villages
from sim.brief.results import Results
from sim.i18n import layout_name

__all__ = ["rural_blocks"]

Block = tuple[str, Any]

_T: dict[str, dict[str, str]] = {
    "h.rural": {"en": "County towns and villages", "zh": "县城与农村"},
    "intro": {
        "en": "Calls in townships and villages outside the urban zones, with their own response "
              "ladder. A village auxiliary officer (一村一辅警) lives in each village and is first "
              "on scene for {first_on}; they close {closes} without the police. The village role "
              "is modelled from public descriptions of the system, not from operational data.",
        "zh": "城区以外乡镇和村的警情，按各自的响应梯度统计。每村一名驻村辅警（一村一辅警），"
              "对{first_on}先行到场；其中{closes}由辅警自行处置，不派民警。村辅警的作用根据公开报道"
              "建模，并非来自实际业务数据。"},
    "note": {"en": "{note}", "zh": "{note}"},
    "ladder_note": {
        "en": "Police: from the call to the first police arrival, over the jobs the police had. "
              "Presence: to the first of the police or the village officer. Within the first "
              "step: township {township} min, village {village} min.",
        "zh": "民警：从报警到首名民警到场，只计派警的警情。见警：民警或村辅警先到者。第一档："
              "乡镇 {township} 分钟，村 {village} 分钟。"},
    "headers": {"en": "layout|zone|calls|police mean|presence mean|police within 1st step|"
                      "presence within 1st step|closed by officer",
                "zh": "方案|区域|警情|民警平均|见警平均|民警第一档内|见警第一档内|辅警处置"},
    "h.effect": {"en": "What the village officers change", "zh": "村辅警的作用"},
    "effect": {
        "en": "On the same calls ({with_} against {without}, {pairs} replications, 95% CI): the "
              "time to first presence in villages changes by {presence} (from {before} to "
              "{after}); the share with a presence within the first step by {within}; the village "
              "officers close {closed} jobs per replication, so the police go to {saved} fewer.",
        "zh": "同一批警情（{with_} 对比 {without}，{pairs} 次重复，95% 置信区间）：村内首次见警时间"
              "变化 {presence}（由 {before} 到 {after}）；第一档内见警比例变化 {within}；村辅警每次"
              "重复处置 {closed} 起，民警出警相应减少 {saved} 起。"},
    "police_same": {
        "en": "Police arrival in villages changes by {police} (the police still go to every job "
              "the officer does not close).",
        "zh": "村内民警到场时间变化 {police}（辅警不能处置的警情仍派民警）。"},
    "h.worst": {"en": "Villages with the worst police arrival ({layout})",
                "zh": "民警到场最慢的村（{layout}）"},
    "worst": {"en": "{village}: {mean} min on average ({n} calls)",
              "zh": "{village}：平均 {mean} 分钟（{n} 起）"},
    "zone.township": {"en": "township", "zh": "乡镇"},
    "zone.village": {"en": "village", "zh": "村"},
    "zone.rural": {"en": "all rural", "zh": "农村合计"},
    "sep": {"en": ", ", "zh": "、"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return _T[key]["zh" if lang == "zh" else "en"].format(**kw)


def _min(x: float) -> str:
    return "-" if math.isnan(x) else f"{x / 60.0:.1f}"


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100.0 * x:.0f}%"


def _ci(r: dict[str, Any], fmt: Any, unit: str) -> str:
    return f"{fmt(r['diff'])}{unit} [{fmt(r['diff_ci_low'])}{unit}, {fmt(r['diff_ci_high'])}{unit}]"


def rural_blocks(results: Results, lang: str) -> list[Block]:
    """The county and village pages (none without a ``rural`` section or rural records)."""
    s = results.scenario
    r = s.rural
    rec = results.records
    if r is None or "officer_arrival_s" not in rec.columns:
        return []
    ladder: dict[str, list[float]] = {str(k): list(v) for k, v in r.ladder.items()}
    sep = _t("sep", lang)
    blocks: list[Block] = [
        ("heading", _t("h.rural", lang)),
        ("para", _t("intro", lang, first_on=sep.join(r.officer.first_on),
                    closes=sep.join(r.officer.closes) or "-")),
    ]
    if r.note.strip():
        blocks.append(("note", r.note.strip()))
    layout = rec.column("layout").astype(str)
    rows: list[list[str]] = []
    for name in results.layouts:
        m = layout == name
        sub = {k: rec.column(k)[m] for k in rec.columns}
        for j, row in enumerate(rural_summary(sub, ladder)):
            rows.append([layout_name(s, name, lang) if j == 0 else "",
                         _t(f"zone.{row['zone']}", lang), f"{row['incidents']:,}",
                         _min(row["police_mean_s"]), _min(row["presence_mean_s"]),
                         _pct(row["police_within_1"]), _pct(row["presence_within_1"]),
                         f"{row['officer_closed']:,}"])
    note = _t("ladder_note", lang, township=f"{ladder['township'][0] / 60:g}",
              village=f"{ladder['village'][0] / 60:g}")
    blocks.append(("table", (_t("headers", lang).split("|"), rows, note)))
    without = [n for n in results.layouts if n in r.without_officers]
    with_ = [n for n in results.layouts if n not in r.without_officers]
    if without and with_:
        eff = {(e["zone"], e["metric"]): e for e in officer_effect(
            rec, ladder, with_layout=with_[0], without_layout=without[0])}
        p = eff.get(("village", "presence_mean_s"))
        if p is not None:
            w, c = eff[("village", "presence_within_1")], eff[("village", "officer_closed")]
            police = eff[("village", "police_mean_s")]
            jobs = eff[("village", "police_jobs")]
            unit = " 分钟" if lang == "zh" else " min"
            blocks += [("heading", _t("h.effect", lang)), ("bullets", [
                _t("effect", lang, with_=layout_name(s, with_[0], lang),
                   without=layout_name(s, without[0], lang), pairs=p["pairs"],
                   presence=_ci(p, _min, unit), before=_min(p["without"]) + unit,
                   after=_min(p["with"]) + unit,
                   within=_ci(w, lambda x: "-" if math.isnan(x) else f"{100 * x:+.0f}", " pp"),
                   closed=f"{c['with']:.1f}", saved=f"{-jobs['diff']:.1f}"),
                _t("police_same", lang, police=_ci(police, _min, unit))])]
    villages = _village_names(results)
    first = with_[0] if with_ else results.layouts[0]
    m = layout == first
    worst = worst_villages({k: rec.column(k)[m] for k in rec.columns}, villages, k=5)
    if worst:
        blocks += [("heading", _t("h.worst", lang, layout=layout_name(s, first, lang))),
                   ("bullets", [_t("worst", lang, village=v["village"], mean=_min(v["police_mean_s"]),
                                   n=v["incidents"]) for v in worst])]
    return blocks


def _village_names(results: Results) -> list[str]:
    """Village names in index order (the ``village`` column), or numbers if they cannot load."""
    from sim.scenario import ScenarioError
    from sim.world.villages import load_villages

    try:
        return list(load_villages(results.loaded).name)
    except ScenarioError:
        v = results.records.columns["village"]
        n = int(np.max(v)) + 1 if v.size else 0
        return [str(i) for i in range(n)]
