"""The brief's section on a layout found by ``run_sim.py optimize``: when the results come from
``compare optimized.yaml``, the ``optimize.json`` beside that file says which objective chose
the layouts, how well they cover statically, what they change against the base layout (with
the layout-change map), and what the selection by simulation chose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.brief.figures import Figure
from sim.i18n import layout_name, pct, tr

__all__ = ["optimize_figure", "optimize_summary"]


def optimize_figure(scenario_file: Path, scenario: Any, lang: str = "en") -> Figure | None:
    """The layout-change map that ``optimize`` wrote beside ``scenario_file``, as a brief figure
    (its small palette copy ``*_preview.png`` embedded), or None."""
    folder = scenario_file.parent if scenario_file.name else None
    rep = folder / "optimize.json" if folder is not None else None
    png = folder / ("layout_change_zh.png" if lang == "zh" else "layout_change.png") if folder else None
    if rep is None or png is None or not rep.is_file() or not png.is_file():
        return None
    change = json.loads(rep.read_text(encoding="utf-8")).get("change", {})
    title = tr("o.title", lang, new=layout_name(scenario, str(change.get("new_layout", "")), lang),
               old=layout_name(scenario, str(change.get("old_layout", "")), lang))
    small = png.with_name(png.stem + "_preview.png")
    return Figure(name="layout_change", title=title, files=[png],
                  preview=(small if small.is_file() else png).read_bytes())


def optimize_summary(scenario_file: Path, scenario: Any, lang: str = "en") -> list[str]:
    """Bullets on the optimisation result beside ``scenario_file`` (none when there is none)."""
    path = scenario_file.parent / "optimize.json" if scenario_file.name else None
    if path is None or not path.is_file():
        return []
    rep = json.loads(path.read_text(encoding="utf-8"))
    change = rep.get("change", {})
    old = layout_name(scenario, str(change.get("old_layout", rep.get("base_layout", ""))), lang)
    out: list[str] = []
    for st in rep.get("static", [])[:3]:
        status = st.get("status", "")
        out.append(tr("o.summary", lang, layout=layout_name(scenario, st["layout"], lang),
                      objective=st.get("objective", ""), n=st.get("sites_open", 0),
                      covered=pct(st.get("covered_share", float("nan")), lang),
                      old=old, before=pct(change.get("covered_before", float("nan")), lang),
                      status=status, gap=pct(st.get("gap") or 0.0, lang, 2),
                      secs=f"{st.get('solve_s', 0.0):.1f}"))
    if change:
        out.append(tr("o.change", lang, old=old, gained=pct(change["gained"], lang),
                      lost=pct(change["lost"], lang), kept=len(change.get("kept", [])),
                      moved=len(change.get("moved", [])), new=len(change.get("new", []))))
        png = path.parent / ("layout_change_zh.png" if lang == "zh" else "layout_change.png")
        if png.is_file():
            out.append(tr("o.map", lang, path=str(png)))
    sel = rep.get("selection") or {}
    if sel.get("chosen"):
        out.append(tr("o.selected", lang, layout=layout_name(scenario, sel["chosen"], lang),
                      pcs=pct(sel.get("pcs", float("nan")), lang, 0)))
    return out
