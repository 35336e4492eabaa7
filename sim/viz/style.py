"""What every figure shares: the colour-blind-safe palettes, the figure chrome (new axes, the
source line at the bottom) and a few small formatting helpers.

Categories use the Okabe-Ito palette; the time bands of the coverage map put the 1-minute band,
the one readers need most, in strong vermillion against blues for 1-3 and 3-5 minutes; rivers
are a pale grey-blue with darker banks, unlike any band.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
from matplotlib import patheffects

from sim.i18n import tr, wrap
from sim.scenario import Scenario
from sim.viz.fonts import cjk_font

__all__ = [
    "BAND_COLOURS",
    "BAND_EDGES_S",
    "HALO",
    "MARKERS",
    "OKABE_ITO",
    "RIVER_COLOUR",
    "RIVER_EDGE",
    "ZONE_COLOURS",
    "add_footer",
    "join_notes",
    "new_ax",
    "post_codes",
    "source_line",
    "summary_row",
]

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
ZONE_COLOURS = {"key": "#CC79A7", "central": "#E69F00", "other": "#F0E442"}
RIVER_COLOUR = "#A7B8C8"
"""Rivers: a pale grey-blue (desaturated water), apart from every time band and the road greys."""
RIVER_EDGE = "#6E8296"
"""The rivers' thin darker banks, so that a river never reads as a road of some band."""
MARKERS = ("^", "s", "D", "o", "v", "P", "X", "*")
BAND_EDGES_S = (60.0, 180.0, 300.0)
BAND_COLOURS = ("#D55E00", "#0072B2", "#7FB8E0", "#C8C8C8")
"""Within 1 min (vermillion), 1-3 min (blue), 3-5 min (light blue), beyond (grey)."""
HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def source_line(scenario_name: str | Scenario, run_id: str = "", replications: int | None = None,
                lang: str = "en") -> str:
    """The small print under each figure: scenario, run id and replications."""
    name = scenario_name.name if isinstance(scenario_name, Scenario) else scenario_name
    reps = replications if replications is not None else 0
    key = "source_one" if reps == 1 else "source"
    return tr(key, lang, name=name, run_id=run_id or "-", reps=reps)


def new_ax(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    """``(fig, ax)``: the given axes and their figure, or a new figure of ``size`` (inches)."""
    cjk_font()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def add_footer(fig: Any, text: str) -> None:
    """Small print at the bottom left, each line wrapped to the figure's width; as a figure-level
    label, the layout engine makes room for it."""
    if text:
        # 7 pt text is about 3.9 pt per Latin character (a CJK character counts two)
        width = max(40, int(fig.get_figwidth() * 0.97 * 72 / 3.9))
        lines = [part for line in text.split("\n") for part in (wrap(line, width) or [""])]
        fig.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=7, color="0.3", linespacing=1.4)


def join_notes(*parts: str) -> str:
    """Non-empty notes, one per line."""
    return "\n".join(p for p in parts if p)


def summary_row(summary: Sequence[dict[str, Any]] | None, layout: str, zone: str) -> dict[str, Any] | None:
    """The summary.csv row of ``layout`` and ``zone``, or None."""
    for row in summary or ():
        if row["layout"] == layout and row["zone"] == zone:
            return row
    return None


def post_codes(names: Sequence[str], prefix: str = "") -> list[str]:
    """Short labels for posts on a map: a leading code such as ``P01`` if every name has one, else
    ``prefix`` + the post's number (1-based)."""
    codes = [n.split()[0] if n.split() else "" for n in names]
    if all(re.fullmatch(r"[A-Za-z]{1,3}\d{1,3}", c) for c in codes) and len(set(codes)) == len(codes):
        return codes
    return [f"{prefix}{i + 1}" for i in range(len(names))]
