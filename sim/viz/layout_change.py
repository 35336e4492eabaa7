"""The layout-change map of ``run_sim.py optimize``: the chosen sites against an existing layout,
and the roads that gain and lose coverage within their zone's target.

Roads are coloured by what the change does to them (blue: newly within target, orange-red: no
longer within target, pale green: within target in both, light grey: beyond target in both).
Sites: kept (black square), existing sites that move or go (grey hollow circle), moved sites with
an arrow from where they stood (blue circle), new sites (blue triangle). A side panel gives the
demand-weighted share within target per zone class, before and after.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from sim.i18n import layout_name, pct, tr, wrap, zone_name
from sim.network.graph import RoadNetwork
from sim.scenario import ZONE_CLASSES, Scenario
from sim.viz.basemap import (
    draw_lines,
    draw_rivers,
    map_frame,
    map_size,
    road_width,
    scale_bar_and_north,
    segments,
    zone_shapes,
)
from sim.viz.fonts import cjk_font
from sim.viz.style import add_footer

__all__ = ["CHANGE_COLOURS", "plot_layout_change"]

CHANGE_COLOURS = {"gained": "#0072B2", "lost": "#D55E00", "both": "#9ccf9c", "neither": "#d9d9d9"}


def plot_layout_change(net: RoadNetwork, scenario: Scenario, *, old_layout: str, new_layout: str,
                       before: np.ndarray, after: np.ndarray, node_zone: np.ndarray,
                       node_weight: np.ndarray, kept: list[tuple[int, int]], moved: list[tuple[int, int]],
                       removed: list[int], new: list[int], lang: str = "en", note: str = "") -> Any:
    """The map; returns the figure.

    Parameters
    ----------
    before, after : per road node, True when within its zone's target from the old / new sites.
    node_zone : per node, the zone class index (0 key, 1 central, 2 other).
    node_weight : per node, its demand weight (for the side panel's shares).
    kept, moved : ``(old node, new node)`` pairs of sites kept (about the same place) and moved.
    removed, new : nodes of old sites that go, and of new sites.
    note : the footer line (travel-time period, unit type).
    """
    before, after = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    cjk_font()
    w, h = map_size(net, side_in=3.0)
    fig = plt.figure(figsize=(w, h), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[w - 3.0, 3.0])
    ax = fig.add_subplot(gs[0, 0])
    side = fig.add_subplot(gs[0, 1])
    cat = np.where(before & after, 3, np.where(after, 0, np.where(before, 1, 2)))  # 0 gained 1 lost
    edge_cat = np.minimum(cat[net.edge_u], cat[net.edge_v])  # a road gains if one end gains
    keys = ("gained", "lost", "neither", "both")
    for ci, cls in enumerate(net.classes):
        for k in (2, 3, 1, 0):  # the changes on top
            sel = (net.edge_class == ci) & (edge_cat == k)
            if sel.any():
                draw_lines(ax, segments(net, sel), lw=road_width(cls) + (1.2 if k < 2 else 0.2),
                           color=CHANGE_COLOURS[keys[k]], zorder=2 + (2 - k % 2 if k < 2 else 0) * 0.1)
    draw_rivers(ax, net)
    x, y = net.x / 1000.0, net.y / 1000.0
    for a, b in moved:
        ax.annotate("", xy=(x[b], y[b]), xytext=(x[a], y[a]), zorder=11,
                    arrowprops={"arrowstyle": "->", "color": "0.15", "lw": 1.3, "shrinkA": 4, "shrinkB": 5})
    old_gone = [a for a, _ in moved] + list(removed)
    if old_gone:
        ax.scatter(x[old_gone], y[old_gone], marker="o", s=60, facecolor="white", edgecolor="0.35",
                   linewidth=1.5, zorder=12)
    if moved:
        to = [b for _, b in moved]
        ax.scatter(x[to], y[to], marker="o", s=70, color=CHANGE_COLOURS["gained"], edgecolor="black",
                   linewidth=1.0, zorder=13)
    if kept:
        k_nodes = [b for _, b in kept]
        ax.scatter(x[k_nodes], y[k_nodes], marker="s", s=60, color="black", edgecolor="white",
                   linewidth=0.8, zorder=13)
    if new:
        ax.scatter(x[new], y[new], marker="^", s=110, color=CHANGE_COLOURS["gained"], edgecolor="black",
                   linewidth=1.0, zorder=13)
    handles = [Line2D([], [], color=CHANGE_COLOURS[k], lw=3.5 if k in ("gained", "lost") else 2.5,
                      label=tr(f"o.{k}", lang)) for k in ("gained", "lost", "both", "neither")]
    handles += zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    handles += [
        Line2D([], [], marker="s", ls="", color="black", markeredgecolor="white", ms=8,
               label=f"{tr('o.kept', lang)} ({len(kept)})"),
        Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="0.35", ms=8,
               label=f"{tr('o.moved_from', lang)} ({len(moved) + len(removed)})"),
        Line2D([], [], marker="o", ls="", color=CHANGE_COLOURS["gained"], markeredgecolor="black", ms=8,
               label=f"{tr('o.moved_to', lang)} ({len(moved)})"),
        Line2D([], [], marker="^", ls="", color=CHANGE_COLOURS["gained"], markeredgecolor="black", ms=9,
               label=f"{tr('o.new', lang)} ({len(new)})"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4, fontsize=8,
              frameon=False)
    map_frame(ax, net, lang)
    title = tr("o.title", lang, new=layout_name(scenario, new_layout, lang),
               old=layout_name(scenario, old_layout, lang))
    ax.set_title("\n".join(wrap(title, 70)), fontsize=12)
    scale_bar_and_north(ax, lang)
    _side(side, scenario, before, after, np.asarray(node_zone), np.asarray(node_weight, dtype=float),
          old_layout, new_layout, lang)
    add_footer(fig, note)
    return fig


def _side(side: Any, scenario: Scenario, before: np.ndarray, after: np.ndarray, zone: np.ndarray,
          weight: np.ndarray, old_layout: str, new_layout: str, lang: str) -> None:
    groups = [*ZONE_CLASSES, "all"]
    yb = np.arange(len(groups))[::-1].astype(float)
    for off, mask, colour, label in ((0.2, before, "0.6", layout_name(scenario, old_layout, lang)),
                                     (-0.2, after, CHANGE_COLOURS["gained"],
                                      layout_name(scenario, new_layout, lang))):
        vals = []
        for g in groups:
            sel = np.ones(len(zone), dtype=bool) if g == "all" else zone == ZONE_CLASSES.index(g)
            tot = weight[sel].sum()
            vals.append(float(weight[sel & mask].sum() / tot) if tot > 0 else float("nan"))
        v = np.nan_to_num(np.array(vals)) * 100
        side.barh(yb + off, v, height=0.38, color=colour, edgecolor="0.3", label="\n".join(wrap(label, 24)))
        for yi, share, vi in zip(yb + off, vals, v, strict=True):
            side.text(min(vi + 2, 80), yi, pct(share, lang, 0), va="center", fontsize=8)
    side.set_yticks(yb, [zone_name(g, lang) for g in groups], fontsize=9)
    side.set_xlim(0, 100)
    side.set_xlabel("%", fontsize=8)
    side.set_title("\n".join(wrap(tr("o.side", lang), 24)), fontsize=9)
    side.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), fontsize=7.5, frameon=False)
    side.tick_params(axis="x", labelsize=8)
