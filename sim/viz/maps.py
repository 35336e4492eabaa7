"""The four maps of a results folder; each takes data and an optional ``ax`` and returns ``(fig, ax)``.

1. :func:`plot_layout_map`: roads, rivers and bridges, zone classes, posts and response areas;
2. :func:`plot_coverage_map`: roads reached within 1, 3 and 5 minutes of dispatch;
3. :func:`plot_compliance_map`: share of incidents within target, per hexagonal cell;
4. :func:`plot_difference_map`: layout B minus layout A per cell, in percentage points.

Every map has a title, axis labels in km, a legend, a scale bar, a north arrow and the source
line; key locations are numbered (K1, K2, ...) and named in the layout map's key. Layouts and
the scenario are shown by their ``label``/``label_zh`` and ``title``/``title_zh``. The compliance
map uses the sequential ``cividis``, the difference map the diverging ``RdBu`` centred on 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.analysis.cells import coverage_shares, difference_cells, layout_cells, zone_targets
from sim.i18n import layout_name, minutes, pct, scenario_title, tr, wrap, zone_name
from sim.network.graph import RoadNetwork
from sim.scenario import ZONE_CLASSES, Scenario
from sim.types import Fleet, RecordTable
from sim.viz.basemap import (
    MAJOR_ROADS,
    area_boundaries,
    draw_lines,
    draw_rivers,
    draw_roads,
    geometry,
    key_codes,
    map_frame,
    map_size,
    place_labels,
    river_handle,
    road_width,
    scale_bar_and_north,
    segments,
    zone_shapes,
)
from sim.viz.fonts import cjk_font
from sim.viz.style import (
    BAND_COLOURS,
    BAND_EDGES_S,
    MARKERS,
    OKABE_ITO,
    ZONE_COLOURS,
    add_footer,
    join_notes,
    new_ax,
    post_codes,
    summary_row,
)

__all__ = ["plot_compliance_map", "plot_coverage_map", "plot_difference_map", "plot_layout_map"]


# ---------------------------------------------------------------------------------------------
# 1. layout map


def plot_layout_map(net: RoadNetwork, scenario: Scenario, fleets: Sequence[Fleet], *,
                    areas: np.ndarray | None = None, areas_layout: str | None = None,
                    lang: str = "en", ax: Any = None, title: str | None = None,
                    footer: str = "") -> tuple[Any, Any]:
    """Roads, rivers and bridges, zone classes shaded, every layout's posts labelled.

    Parameters
    ----------
    fleets : the layouts to show (their posts; the legend counts posts and units that take
        dispatches).
    areas : optional response area per road node (index of the post that reaches it first);
        its boundaries are drawn, labelled with ``areas_layout``.
    """
    own = ax is None
    fig, ax = new_ax(ax, map_size(net, side_in=4.6))
    draw_roads(ax, net)
    geom = geometry(net)
    handles: list[Any] = [
        Line2D([], [], color="0.42", lw=1.4, label=tr("main_roads", lang)),
        Line2D([], [], color="0.72", lw=0.8, label=tr("other_roads", lang)),
    ]
    if draw_rivers(ax, net):
        handles.append(river_handle(lang))
    if len(geom.bridges):
        draw_lines(ax, geom.bridges, color="black", lw=3.2, zorder=3, solid_capstyle="butt")
        handles.append(Line2D([], [], color="black", lw=3.2, label=tr("bridges", lang)))
    handles += zone_shapes(ax, net, scenario, filled=True, lang=lang)
    map_frame(ax, net, lang)
    if areas is not None:
        names = [f.layout for f in fleets]
        k_area = names.index(areas_layout) if areas_layout in names else 0
        area_colour = OKABE_ITO[k_area % 8]
        area_boundaries(ax, net, areas, colour=area_colour)
        handles.append(Line2D([], [], color=area_colour, lw=1.6,
                              label=tr("areas_legend", lang,
                                       layout=layout_name(scenario, areas_layout or "", lang))))
    xs, ys = net.x / 1000.0, net.y / 1000.0
    label_pts, label_txt, label_col = [], [], []
    key_handles: list[Any] = []
    key_labels: list[str] = []
    labelled: set[tuple[int, str]] = set()
    listed: set[tuple[str, str]] = set()
    for k, fleet in enumerate(fleets):
        colour = OKABE_ITO[k % 8]
        marker = MARKERS[k % len(MARKERS)]
        px, py = xs[fleet.platform_nodes], ys[fleet.platform_nodes]
        # later layouts get smaller markers, so posts that several layouts share stay visible
        size = 130.0 * 0.6 ** k
        ax.scatter(px, py, marker=marker, s=size, color=colour, edgecolor="white",
                   linewidth=1.0, zorder=10 + k)
        handles.append(Line2D([], [], marker=marker, ls="", markersize=8, color=colour,
                              markeredgecolor="white",
                              label="\n".join(wrap(tr("posts_legend", lang,
                                                      layout=layout_name(scenario, fleet.layout, lang),
                                                      posts=len(fleet.platform_names),
                                                      units=int(np.sum(fleet.dispatchable))), 46))))
        codes = post_codes(fleet.platform_names, prefix=chr(ord("A") + k))
        for code, name, node, x, y in zip(codes, fleet.platform_names, fleet.platform_nodes, px, py,
                                          strict=True):
            # a post that another layout has at the same place is labelled and listed once
            if (int(node), code) not in labelled:
                labelled.add((int(node), code))
                label_pts.append((x, y))
                label_txt.append(code)
                label_col.append(colour)
            if (code, name) not in listed:
                listed.add((code, name))
                rest = name[len(code):].strip() if name.startswith(code) else name
                key_handles.append(Line2D([], [], marker=marker, ls="", markersize=5, color=colour))
                key_labels.append(f"{code}  {rest}")
    for code, kl in zip(key_codes(scenario), scenario.zones.key_locations, strict=True):
        key_handles.append(Patch(facecolor=ZONE_COLOURS["key"], alpha=0.6, edgecolor=ZONE_COLOURS["key"]))
        key_labels.append(f"{code}  {kl.name}")
    ax.set_title(title or tr("layout_map_title", lang, title=scenario_title(scenario, lang)), fontsize=12)
    # legends beside the map when the figure is ours (the layout engine makes room for them)
    host = fig if own else ax
    host.legend(handles=handles, loc="outside right upper" if own else "upper left", fontsize=7.5,
                framealpha=0.95)
    if key_handles:
        host.legend(key_handles, key_labels, loc="outside right lower" if own else "lower right",
                    fontsize=6.5, title=tr("post_key_title", lang), title_fontsize=7.5,
                    framealpha=0.95, handletextpad=0.3, labelspacing=0.25,
                    ncols=2 if len(key_labels) > 22 else 1, alignment="left")
    scale_bar_and_north(ax, lang)
    place_labels(ax, label_pts, label_txt, label_col)
    note = tr("network_note", lang, source=net.source, nodes=f"{net.n_nodes:,}")
    if "synthetic" in net.source:
        note += " " + tr("synthetic_note", lang)
    if areas is not None:
        note += " " + tr("areas_note", lang)
    add_footer(fig, join_notes(note, footer))
    return fig, ax


# ---------------------------------------------------------------------------------------------
# 2. coverage map


def _bands(times_s: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(BAND_EDGES_S), times_s, side="left")


def plot_coverage_map(net: RoadNetwork, scenario: Scenario, node_times_s: np.ndarray, *,
                      layout: str, posts: np.ndarray | None = None,
                      node_zone: np.ndarray | None = None, lang: str = "en", ax: Any = None,
                      footer: str = "") -> tuple[Any, Any]:
    """Roads coloured by the time (s) from dispatch to reach them from the layout's posts.

    Parameters
    ----------
    node_times_s : per road node, the shortest turnout + driving time (s) from any post.
    posts : road nodes of the posts (drawn as markers).
    node_zone : per node, the zone class index (0 key, 1 central, 2 other); if given, a side
        panel gives the share of each zone's road nodes reached within that zone's target.
    """
    node_times_s = np.asarray(node_times_s, dtype=float)
    if ax is None:
        cjk_font()
        w, h = map_size(net, side_in=2.6)
        fig = plt.figure(figsize=(w, h), layout="constrained")
        gs = fig.add_gridspec(1, 2, width_ratios=[w - 2.6, 2.6])
        ax = fig.add_subplot(gs[0, 0])
        side = fig.add_subplot(gs[0, 1]) if node_zone is not None else None
    else:
        fig, ax = new_ax(ax, (0, 0))
        side = None
    edge_t = np.maximum(node_times_s[net.edge_u], node_times_s[net.edge_v])
    band = _bands(edge_t)
    n_bands = len(BAND_COLOURS)
    for ci, cls in enumerate(net.classes):
        for bi in range(n_bands - 1, -1, -1):  # slow roads first, the 1-minute roads on top, wider
            sel = (net.edge_class == ci) & (band == bi)
            if sel.any():
                extra = 1.1 if bi == 0 else 0.35
                draw_lines(ax, segments(net, sel), lw=road_width(cls) + extra, color=BAND_COLOURS[bi],
                           zorder=2 + (n_bands - bi) * 0.01 + (0.1 if cls in MAJOR_ROADS else 0.0))
    rivers = draw_rivers(ax, net)
    handles = [Line2D([], [], color=BAND_COLOURS[i], lw=3.2 if i == 0 else 2.5, label=tr(k, lang))
               for i, k in enumerate(("band.1", "band.3", "band.5", "band.more"))]
    leg = ax.legend(handles=handles, loc="upper left", fontsize=8, title=tr("coverage_legend_title", lang),
                    title_fontsize=8, framealpha=0.95)
    ax.add_artist(leg)
    zone_handles = zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    if rivers:
        zone_handles.append(river_handle(lang))
    if posts is not None and len(posts):
        ax.scatter(net.x[posts] / 1000.0, net.y[posts] / 1000.0, marker="o", s=36, color="white",
                   edgecolor="black", linewidth=1.2, zorder=12)
        zone_handles.append(Line2D([], [], marker="o", ls="", color="white", markeredgecolor="black",
                                   label=tr("post_key_title", lang)))
    ax.legend(handles=zone_handles, loc="upper right", bbox_to_anchor=(0.93, 1.0), fontsize=7.5,
              framealpha=0.95)
    map_frame(ax, net, lang)
    ax.set_title(tr("coverage_title", lang, layout=layout_name(scenario, layout, lang)), fontsize=12)
    scale_bar_and_north(ax, lang)
    if side is not None and node_zone is not None:
        _coverage_side(side, scenario, node_times_s, np.asarray(node_zone), lang)
    add_footer(fig, join_notes(tr("coverage_note", lang), footer))
    return fig, ax


def _coverage_side(side: Any, scenario: Scenario, node_times_s: np.ndarray, node_zone: np.ndarray,
                   lang: str) -> None:
    shares = coverage_shares(scenario, node_times_s, node_zone)
    zones = list(ZONE_CLASSES)
    vals = [shares[z][0] * 100 if not math.isnan(shares[z][0]) else 0.0 for z in zones]
    colours = [ZONE_COLOURS[z] for z in zones]
    y = np.arange(len(zones))[::-1]
    side.barh(y, vals, color=colours, edgecolor="0.3", height=0.55)
    for yi, z, v in zip(y, zones, vals, strict=True):
        share = shares[z][0]
        side.text(min(v, 100) + 2 if v < 70 else v - 2, yi, pct(share, lang, 0),
                  va="center", ha="left" if v < 70 else "right", fontsize=9, fontweight="bold")
    targets = zone_targets(scenario)
    side.set_yticks(y, [f"{zone_name(z, lang)}\n({minutes(targets[z], lang)}, "
                        f"n={shares[z][1]:,})" for z in zones], fontsize=8)
    side.set_xlim(0, 100)
    side.set_xlabel(tr("coverage_x", lang), fontsize=8)
    side.set_title("\n".join(wrap(tr("coverage_table_title", lang), 26)), fontsize=9)
    side.tick_params(axis="x", labelsize=8)
    side.grid(axis="x", alpha=0.3)
    side.set_box_aspect(1.6)


# ---------------------------------------------------------------------------------------------
# 3-4. compliance and difference maps on hexagonal cells


def _too_few(ax: Any, polys: np.ndarray, label: str) -> Patch:
    """Cells with too few incidents: pale grey, outlined (flat, so the PNG stays small)."""
    if len(polys):
        ax.add_collection(PolyCollection(list(polys), linewidths=0.4, zorder=3, facecolor="0.88",
                                         edgecolor="0.6", alpha=0.55))
    return Patch(label=label, facecolor="0.88", edgecolor="0.6", alpha=0.55)


def plot_compliance_map(net: RoadNetwork, scenario: Scenario, records: RecordTable, layout: str, *,
                        summary: Sequence[dict[str, Any]] | None = None, cell_km: float = 0.8,
                        min_incidents: int = 20, lang: str = "en", ax: Any = None,
                        footer: str = "") -> tuple[Any, Any]:
    """Share of incidents reached within their zone's target, per hexagonal cell.

    Cells with fewer than ``min_incidents`` incidents are pale grey, not coloured.
    """
    fig, ax = new_ax(ax, map_size(net, side_in=1.2))
    draw_roads(ax, net, alpha=0.6)
    rivers = draw_rivers(ax, net)
    cells = layout_cells(net, records, layout, cell_km)
    polys = cells.polygons()
    enough = cells.n >= min_incidents
    pc = PolyCollection(list(polys[enough]), array=cells.share[enough] * 100.0, cmap=plt.get_cmap("cividis"),
                        edgecolors="white", linewidths=0.4, alpha=0.88, zorder=3)
    pc.set_clim(0, 100)
    ax.add_collection(pc)
    hatch = _too_few(ax, polys[~enough], tr("too_few", lang, n=min_incidents))
    zone_handles = zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    map_frame(ax, net, lang)
    cb = fig.colorbar(pc, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label(tr("compliance_cbar", lang))
    if rivers:
        zone_handles.append(river_handle(lang))
    ax.legend(handles=[hatch, *zone_handles], loc="upper left", fontsize=7.5, framealpha=0.95)
    ax.set_title(tr("compliance_map_title", lang, layout=layout_name(scenario, layout, lang)), fontsize=12)
    scale_bar_and_north(ax, lang)
    note = tr("hex_note", lang, d=f"{cell_km:g}")
    row = summary_row(summary, layout, "all")
    if row is not None:
        note += " " + tr("overall_summary", lang, value=pct(row["compliance"], lang))
    add_footer(fig, join_notes(note, footer))
    return fig, ax


def plot_difference_map(net: RoadNetwork, scenario: Scenario, records: RecordTable, layout_a: str,
                        layout_b: str, *, cell_km: float = 0.8, min_incidents: int = 20,
                        lang: str = "en", ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Layout B's share within target minus layout A's, per cell, in percentage points.

    Blue cells are better with B, red cells worse; the scale is centred on 0. Cells with fewer
    than ``min_incidents`` incidents in either layout are pale grey.
    """
    fig, ax = new_ax(ax, map_size(net, side_in=1.2))
    draw_roads(ax, net, alpha=0.6)
    rivers = draw_rivers(ax, net)
    cells, diff, ok = difference_cells(net, records, layout_a, layout_b, cell_km, min_incidents)
    polys = cells.polygons()
    lim = float(np.nanmax(np.abs(diff[ok]))) if ok.any() else 5.0
    lim = max(5.0, math.ceil(lim / 5.0) * 5.0)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    cmap = plt.get_cmap("RdBu")
    pc = PolyCollection(list(polys[ok]), array=diff[ok], cmap=cmap, norm=norm,
                        edgecolors="0.5", linewidths=0.3, alpha=0.92, zorder=3)
    ax.add_collection(pc)
    hatch = _too_few(ax, polys[~ok], tr("too_few", lang, n=min_incidents))
    zone_handles = zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    map_frame(ax, net, lang)
    cb = fig.colorbar(pc, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label(tr("diff_cbar", lang))
    name_a, name_b = layout_name(scenario, layout_a, lang), layout_name(scenario, layout_b, lang)
    direction = [Patch(facecolor=cmap(0.85), edgecolor="0.5", label=tr("diff_better", lang, b=name_b)),
                 Patch(facecolor=cmap(0.15), edgecolor="0.5", label=tr("diff_worse", lang, b=name_b))]
    if rivers:
        zone_handles.append(river_handle(lang))
    ax.legend(handles=[*direction, hatch, *zone_handles], loc="upper left", fontsize=7.5,
              framealpha=0.95)
    ax.set_title("\n".join(wrap(tr("diff_title", lang, a=name_a, b=name_b), 90)), fontsize=12)
    scale_bar_and_north(ax, lang)
    add_footer(fig, join_notes(tr("diff_note", lang) + " " + tr("hex_note", lang, d=f"{cell_km:g}"),
                           footer))
    return fig, ax
