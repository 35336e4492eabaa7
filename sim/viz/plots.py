"""Figures (matplotlib; imported nowhere else). Plot functions take data and an optional ``ax``
and return ``(fig, ax)``; they never run a simulation.

Figures of a results folder:

1. :func:`plot_layout_map`: roads, rivers and bridges, zone classes, posts and response areas;
2. :func:`plot_coverage_map`: roads reached within 1, 3 and 5 minutes of dispatch;
3. :func:`plot_compliance_map`: share of incidents within target, per hexagonal cell;
4. :func:`plot_difference_map`: layout B minus layout A per cell, in percentage points;
5. :func:`plot_response_cdf`: response-time curves per zone class;
6. :func:`plot_compliance_bars`: compliance per layout and zone class with 95% CIs;
7. :func:`plot_by_hour`: incidents, compliance and utilisation by hour of day.

Every figure has a title, axis labels with units, a legend and a source line; maps have a scale
bar and a north arrow. Categories use the Okabe-Ito palette, the compliance map the sequential
``cividis`` and the difference map the diverging ``RdBu`` centred on 0, all colour-blind safe.
Text comes from :mod:`sim.i18n` in English or Chinese. Chinese glyphs come from a system CJK font
when matplotlib finds one, else from the Noto Sans SC that the ``pylopdf-fonts-zh-cn`` package
ships (SIL Open Font License 1.1); see :func:`cjk_font`.

Also here, because they need matplotlib: :func:`text_pages` (the text pages of the PDF brief) and
:func:`write_pdf` (a multi-page PDF through ``PdfPages``).
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager, patheffects
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PolyCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Polygon, Rectangle
from matplotlib.transforms import Bbox
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from sim.i18n import minutes, pct, tr, wrap, zone_name
from sim.network.graph import RoadNetwork
from sim.scenario import ZONE_CLASSES, Scenario
from sim.types import Fleet, RecordTable

__all__ = [
    "OKABE_ITO",
    "CjkFont",
    "HexCells",
    "cjk_font",
    "close",
    "figure_png",
    "hex_aggregate",
    "hourly_profile",
    "many_figures",
    "plot_by_hour",
    "plot_compliance_bars",
    "plot_compliance_map",
    "plot_coverage_map",
    "plot_difference_map",
    "plot_layout_map",
    "plot_response_cdf",
    "post_codes",
    "river_crossings",
    "save_figure",
    "source_line",
    "target_clock_times",
    "text_pages",
    "write_pdf",
]

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
ZONE_COLOURS = {"key": "#CC79A7", "central": "#E69F00", "other": "#F0E442"}
RIVER_COLOUR = "#56B4E9"
_MAJOR_ROADS = {"motorway": 1.6, "trunk": 1.5, "primary": 1.2, "secondary": 0.9, "tertiary": 0.7}
_MARKERS = ("^", "s", "D", "o", "v", "P", "X", "*")
BAND_EDGES_S = (60.0, 180.0, 300.0)
BAND_COLOURS = ("#440154", "#2A788E", "#5EC962", "#BBBBBB")  # viridis 0, .4, .75; grey beyond
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]
_MONO = "DejaVu Sans Mono"

# ---------------------------------------------------------------------------------------------
# fonts

_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans CJK TC", "Noto Sans CJK JP",
                 "Droid Sans Fallback")
"""System CJK fonts, in order of preference (Simplified Chinese forms first)."""

_SYSTEM_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback")


@dataclass(frozen=True)
class CjkFont:
    """The font used for Chinese text: family name, file, face index and where it came from."""

    name: str
    path: str
    index: int
    origin: str  # "system" or "package"


_FONT: CjkFont | None = None


class _NoBoldNotice(logging.Filter):
    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not (msg.startswith("findfont: Failed to find font weight") and self.family in msg)


def _covers(path: str, index: int, text: str) -> bool:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return all(ord(ch) in cmap for ch in set(text) if not ch.isspace())


def cjk_font() -> CjkFont:
    """Find (once) the CJK font for figures and register it with matplotlib's font manager.

    A system font is preferred (Noto Sans CJK SC, Noto Sans SC, Source Han Sans, WenQuanYi, ...):
    first among the fonts matplotlib knows, then among the files in the system font folders. The
    fallback is Noto Sans SC from the ``pylopdf-fonts-zh-cn`` package (SIL OFL 1.1). The text
    family becomes ``["DejaVu Sans", <CJK font>]``, so Latin text keeps matplotlib's default and
    every Chinese glyph falls back to the CJK font.
    """
    global _FONT
    if _FONT is not None:
        _apply_font(_FONT)  # again: an rc_context may have restored the defaults since
        return _FONT
    probe = "城市快警重点部位中心城区"
    found: CjkFont | None = None
    by_name = {e.name: e for e in font_manager.fontManager.ttflist}
    for fam in _CJK_FAMILIES:
        e = by_name.get(fam)
        if e is not None and _covers(e.fname, getattr(e, "index", 0), probe):
            found = CjkFont(fam, e.fname, getattr(e, "index", 0), "system")
            break
    if found is None:
        files = [f for f in font_manager.findSystemFonts()
                 if any(h in Path(f).name.lower().replace("-", "").replace("_", "")
                        for h in _SYSTEM_FILE_HINTS)]
        for f in sorted(files):
            before = len(font_manager.fontManager.ttflist)
            try:
                font_manager.fontManager.addfont(f)
            except (OSError, RuntimeError, ValueError):
                continue
            new = font_manager.fontManager.ttflist[before:]
            for fam in _CJK_FAMILIES:
                e = next((x for x in new if x.name == fam), None)
                if e is not None and _covers(e.fname, getattr(e, "index", 0), probe):
                    found = CjkFont(fam, e.fname, getattr(e, "index", 0), "system")
                    break
            if found:
                break
    if found is None:
        import pylopdf_fonts_zh_cn  # Noto Sans SC, SIL OFL 1.1 (see pyproject.toml)

        path = str(pylopdf_fonts_zh_cn.sans_path())
        font_manager.fontManager.addfont(path)
        found = CjkFont(font_manager.FontProperties(fname=path).get_name(), path, 0, "package")
    # the packaged font has no bold face: bold text falls back to its regular face, which
    # matplotlib would log as a warning for every bold label
    logging.getLogger("matplotlib.font_manager").addFilter(_NoBoldNotice(found.name))
    _FONT = found
    _apply_font(found)
    return found


def _apply_font(font: CjkFont) -> None:
    family = ["DejaVu Sans", font.name]
    if list(plt.rcParams["font.family"]) != family:
        plt.rcParams["font.family"] = family
    plt.rcParams["svg.hashsalt"] = "police-sim"  # stable ids in SVG files


# ---------------------------------------------------------------------------------------------
# small helpers


def source_line(scenario_name: str | Scenario, run_id: str = "", replications: int | None = None,
                lang: str = "en") -> str:
    """The small print under each figure: scenario, run id and replications."""
    name = scenario_name.name if isinstance(scenario_name, Scenario) else scenario_name
    reps = replications if replications is not None else 0
    key = "source_one" if reps == 1 else "source"
    return tr(key, lang, name=name, run_id=run_id or "-", reps=reps)


def _new_ax(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    cjk_font()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _footer(fig: Any, text: str) -> None:
    """Small print at the bottom left; as a figure-level label, the layout engine makes room for it."""
    if text:
        fig.supxlabel(text, x=0.01, ha="left", fontsize=7, color="0.3", linespacing=1.4)


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _summary_row(summary: Sequence[dict[str, Any]] | None, layout: str, zone: str) -> dict[str, Any] | None:
    for row in summary or ():
        if row["layout"] == layout and row["zone"] == zone:
            return row
    return None


def _target_text(seconds: float, lang: str) -> str:
    return minutes(seconds, lang)


def target_clock_times(records: RecordTable, clock: str) -> np.ndarray:
    """Time (s) from the target clock's start (call or dispatch) to the first arrival; NaN if none."""
    c = records.columns
    start = c["call_s"] if clock == "call" else c["dispatch_s"]
    return c["arrival_s"] - start


def post_codes(names: Sequence[str], prefix: str = "") -> list[str]:
    """Short labels for posts on a map: a leading code such as ``P01`` if every name has one, else
    ``prefix`` + the post's number (1-based)."""
    codes = [n.split()[0] if n.split() else "" for n in names]
    if all(re.fullmatch(r"[A-Za-z]{1,3}\d{1,3}", c) for c in codes) and len(set(codes)) == len(codes):
        return codes
    return [f"{prefix}{i + 1}" for i in range(len(names))]


def river_crossings(net: RoadNetwork) -> np.ndarray:
    """Boolean mask of the road edges that cross a river centre line (the bridges)."""
    mask = np.zeros(net.n_edges, dtype=bool)
    if not net.rivers:
        return mask
    ax_, ay_ = net.x[net.edge_u], net.y[net.edge_u]
    bx_, by_ = net.x[net.edge_v], net.y[net.edge_v]

    def orient(px: Any, py: Any, qx: Any, qy: Any, rx: Any, ry: Any) -> Any:
        return np.sign((qx - px) * (ry - py) - (qy - py) * (rx - px))

    for pts in net.rivers.values():
        if len(pts) < 2:
            continue
        rx, ry = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
        for i in range(len(rx) - 1):
            cx, cy, dx, dy = rx[i], ry[i], rx[i + 1], ry[i + 1]
            lo_x, hi_x = min(cx, dx), max(cx, dx)
            lo_y, hi_y = min(cy, dy), max(cy, dy)
            near = ((np.maximum(ax_, bx_) >= lo_x) & (np.minimum(ax_, bx_) <= hi_x)
                    & (np.maximum(ay_, by_) >= lo_y) & (np.minimum(ay_, by_) <= hi_y))
            if not near.any():
                continue
            idx = np.flatnonzero(near)
            o1 = orient(ax_[idx], ay_[idx], bx_[idx], by_[idx], cx, cy)
            o2 = orient(ax_[idx], ay_[idx], bx_[idx], by_[idx], dx, dy)
            o3 = orient(cx, cy, dx, dy, ax_[idx], ay_[idx])
            o4 = orient(cx, cy, dx, dy, bx_[idx], by_[idx])
            mask[idx[(o1 != o2) & (o3 != o4)]] = True
    return mask


def _segments(net: RoadNetwork, sel: np.ndarray) -> np.ndarray:
    xs, ys = net.x / 1000.0, net.y / 1000.0
    return np.stack([np.column_stack([xs[net.edge_u[sel]], ys[net.edge_u[sel]]]),
                     np.column_stack([xs[net.edge_v[sel]], ys[net.edge_v[sel]]])], axis=1)


def _lines(ax: Any, segs: np.ndarray, **kw: Any) -> None:
    """Draw segments (n, 2, 2) as one line with breaks: one path in every backend (fast in PDF/SVG)."""
    if len(segs) == 0:
        return
    pts = np.full((len(segs), 3, 2), np.nan)
    pts[:, :2, :] = segs
    pts = pts.reshape(-1, 2)
    kw.setdefault("solid_capstyle", "round")
    ax.plot(pts[:, 0], pts[:, 1], **kw)


def _draw_roads(ax: Any, net: RoadNetwork, *, alpha: float = 1.0, zorder: float = 2) -> None:
    """Grey roads, wider and darker for main roads (one line per road class)."""
    for ci, cls in enumerate(net.classes):
        sel = net.edge_class == ci
        if not sel.any():
            continue
        major = cls in _MAJOR_ROADS
        _lines(ax, _segments(net, sel), lw=_MAJOR_ROADS.get(cls, 0.35), alpha=alpha,
               color="0.42" if major else "0.72", zorder=zorder + (0.1 if major else 0.0))


def _map_frame(ax: Any, net: RoadNetwork, lang: str) -> None:
    xs, ys = net.x / 1000.0, net.y / 1000.0
    pad = max(0.3, 0.02 * max(np.ptp(xs), np.ptp(ys)))
    ax.set_xlim(xs.min() - pad, xs.max() + pad)
    ax.set_ylim(ys.min() - pad, ys.max() + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(tr("x_km", lang))
    ax.set_ylabel(tr("y_km", lang))
    ax.tick_params(labelsize=8)


def _nice_length(span_km: float) -> float:
    target = span_km / 6.0
    for v in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if v >= target * 0.7:
            return float(v)
    return 100.0


def _scale_bar_and_north(ax: Any, lang: str) -> None:
    x0, x1 = ax.get_xlim()
    length = _nice_length(x1 - x0)
    bar = AnchoredSizeBar(ax.transData, length, tr("km", lang, n=f"{length:g}"), loc="lower left",
                          pad=0.4, borderpad=0.6, sep=4, frameon=True, size_vertical=0,
                          fontproperties=FontProperties(size=8))
    bar.patch.set_alpha(0.85)
    bar.patch.set_edgecolor("0.6")
    # a thick bar: the size bar's own rectangle is drawn as a line of the given width
    for child in bar.size_bar.get_children():
        for rect in getattr(child, "get_children", list)():
            if isinstance(rect, Rectangle):
                rect.set_linewidth(3)
    bar.set_zorder(20)
    ax.add_artist(bar)
    ax.annotate("", xy=(0.965, 0.96), xytext=(0.965, 0.86), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "white", "width": 5, "headwidth": 13,
                            "headlength": 10, "linewidth": 0.8}, zorder=20)
    ax.text(0.965, 0.845, tr("north", lang), transform=ax.transAxes, ha="center", va="top",
            fontsize=10, fontweight="bold", zorder=20, path_effects=_HALO)


def _zone_shapes(ax: Any, net: RoadNetwork, scenario: Scenario, *, filled: bool, lang: str,
                 zorder: float = 0.5) -> list[Any]:
    """Draw the central city and key locations (filled or outlined); return legend handles."""
    handles = []
    targets = scenario.zones.targets
    if filled:
        xs, ys = net.x / 1000.0, net.y / 1000.0
        ax.add_patch(Rectangle((xs.min(), ys.min()), np.ptp(xs), np.ptp(ys), facecolor=ZONE_COLOURS["other"],
                               alpha=0.10, edgecolor="none", zorder=0))
        handles.append(Patch(facecolor=ZONE_COLOURS["other"], alpha=0.25, edgecolor="none",
                             label=tr("zone_target", lang, zone=zone_name("other", lang),
                                      target=_target_text(targets["other"], lang))))
    ring = np.asarray(scenario.zones.central_city, dtype=float)
    cx, cy = net.frame.to_local(ring[:, 0], ring[:, 1])
    ax.add_patch(Polygon(np.column_stack([cx, cy]) / 1000.0, closed=True,
                         facecolor=ZONE_COLOURS["central"] if filled else "none",
                         alpha=0.16 if filled else 1.0,
                         edgecolor=ZONE_COLOURS["central"] if filled else "black",
                         lw=1.6, ls="-" if filled else "--", zorder=zorder))
    handles.append(Patch(facecolor=ZONE_COLOURS["central"] if filled else "none",
                         alpha=0.35 if filled else 1.0,
                         edgecolor=ZONE_COLOURS["central"] if filled else "black",
                         ls="-" if filled else "--", lw=1.6,
                         label=tr("zone_target", lang, zone=zone_name("central", lang),
                                  target=_target_text(targets["central"], lang))))
    for kl in scenario.zones.key_locations:
        kx, ky = net.frame.to_local(kl.lon, kl.lat)
        ax.add_patch(Circle((float(kx) / 1000.0, float(ky) / 1000.0), kl.radius / 1000.0,
                            facecolor=ZONE_COLOURS["key"] if filled else "none",
                            alpha=0.5 if filled else 1.0, edgecolor=ZONE_COLOURS["key"],
                            lw=1.4 if filled else 1.8, zorder=zorder + 3))
    if scenario.zones.key_locations:
        handles.append(Patch(facecolor=ZONE_COLOURS["key"] if filled else "none",
                             alpha=0.6 if filled else 1.0, edgecolor=ZONE_COLOURS["key"], lw=1.4,
                             label=tr("zone_target", lang, zone=zone_name("key", lang),
                                      target=_target_text(targets["key"], lang))))
    return handles


def _rivers(ax: Any, net: RoadNetwork) -> bool:
    drawn = False
    for pts in net.rivers.values():
        if len(pts) < 2:
            continue
        rx, ry = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
        ax.plot(rx / 1000.0, ry / 1000.0, color=RIVER_COLOUR, lw=5, alpha=0.85, zorder=1,
                solid_capstyle="round")
        drawn = True
    return drawn


def _place_labels(ax: Any, points: Sequence[tuple[float, float]], texts: Sequence[str],
                  colors: Sequence[str], fontsize: float = 7.5) -> None:
    """Put each label next to its point, trying eight positions, avoiding earlier labels and points."""
    fig = ax.figure
    fig.canvas.draw()  # final layout, so that sizes in data units are right
    inv = ax.transData.inverted()
    px_per_pt = fig.dpi / 72.0
    placed: list[Bbox] = []
    pts_disp = ax.transData.transform(np.asarray(points, dtype=float).reshape(-1, 2))
    marker_boxes = [Bbox.from_extents(x - 6 * px_per_pt, y - 6 * px_per_pt,
                                      x + 6 * px_per_pt, y + 6 * px_per_pt) for x, y in pts_disp]
    renderer = fig.canvas.get_renderer()
    offsets = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1.4, 0), (-1.4, 0), (0, 1.4), (0, -1.4)]
    axes_box = ax.get_window_extent()
    for (x, y), text, colour in zip(pts_disp, texts, colors, strict=True):
        t = ax.text(0, 0, text, fontsize=fontsize, fontweight="bold", color=colour, zorder=15,
                    path_effects=_HALO)
        bb = t.get_window_extent(renderer)
        w, h = bb.width, bb.height
        gap = 6 * px_per_pt
        best = None
        for dx, dy in offsets:
            cx = x + dx * (gap + w / 2)
            cy = y + dy * (gap * 0.7 + h / 2)
            box = Bbox.from_extents(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            clash = any(box.overlaps(o) for o in placed) or any(box.overlaps(m) for m in marker_boxes)
            if inside and not clash:
                best = (cx, cy, box)
                break
            if best is None and inside:
                best = (cx, cy, box)
        if best is None:
            best = (x + gap + w / 2, y + gap + h / 2, Bbox.from_extents(x, y, x + w, y + h))
        dxy = inv.transform((best[0], best[1]))
        t.set_position((float(dxy[0]), float(dxy[1])))
        t.set_ha("center")
        t.set_va("center")
        placed.append(best[2])


def _area_boundaries(ax: Any, net: RoadNetwork, areas: np.ndarray, colour: str) -> None:
    """Boundaries between response areas (node -> area): the Voronoi ridges between neighbouring
    road nodes that belong to different areas."""
    from scipy.spatial import Voronoi

    pts = np.column_stack([net.x, net.y]) / 1000.0
    areas = np.asarray(areas)
    if len(pts) < 4 or len(np.unique(areas)) < 2:
        return
    vor = Voronoi(pts)
    ridges = np.asarray(vor.ridge_points)
    verts = np.asarray(vor.ridge_vertices)
    keep = (areas[ridges[:, 0]] != areas[ridges[:, 1]]) & (verts.min(axis=1) >= 0)
    segs = vor.vertices[verts[keep]]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    inside = np.all((segs >= lo) & (segs <= hi), axis=(1, 2))
    _lines(ax, segs[inside], color=colour, lw=1.6, alpha=0.95, zorder=4)


# ---------------------------------------------------------------------------------------------
# 1. layout map


def plot_layout_map(net: RoadNetwork, scenario: Scenario, fleets: Sequence[Fleet], *,
                    areas: np.ndarray | None = None, areas_layout: str | None = None,
                    lang: str = "en", ax: Any = None, title: str | None = None,
                    footer: str = "") -> tuple[Any, Any]:
    """Roads, rivers and bridges, zone classes shaded, every layout's posts labelled.

    Parameters
    ----------
    fleets : the layouts to show (their posts; the legend counts posts and units).
    areas : optional response area per road node (index of the post that reaches it first);
        its boundaries are drawn, labelled with ``areas_layout``.
    """
    own = ax is None
    fig, ax = _new_ax(ax, (13, 7.8))
    _draw_roads(ax, net)
    bridges = river_crossings(net)
    handles: list[Any] = [
        Line2D([], [], color="0.42", lw=1.4, label=tr("main_roads", lang)),
        Line2D([], [], color="0.72", lw=0.8, label=tr("other_roads", lang)),
    ]
    if _rivers(ax, net):
        handles.append(Line2D([], [], color=RIVER_COLOUR, lw=5, alpha=0.85, label=tr("rivers", lang)))
    if bridges.any():
        _lines(ax, _segments(net, bridges), color="black", lw=3.2, zorder=3, solid_capstyle="butt")
        handles.append(Line2D([], [], color="black", lw=3.2, label=tr("bridges", lang)))
    handles += _zone_shapes(ax, net, scenario, filled=True, lang=lang)
    _map_frame(ax, net, lang)
    if areas is not None:
        names = [f.layout for f in fleets]
        k_area = names.index(areas_layout) if areas_layout in names else 0
        area_colour = OKABE_ITO[k_area % 8]
        _area_boundaries(ax, net, areas, colour=area_colour)
        handles.append(Line2D([], [], color=area_colour, lw=1.6,
                              label=tr("areas_legend", lang, layout=areas_layout or "")))
    xs, ys = net.x / 1000.0, net.y / 1000.0
    label_pts, label_txt, label_col = [], [], []
    key_handles, key_labels = [], []
    labelled: set[tuple[int, str]] = set()
    listed: set[tuple[str, str]] = set()
    for k, fleet in enumerate(fleets):
        colour = OKABE_ITO[k % 8]
        marker = _MARKERS[k % len(_MARKERS)]
        px, py = xs[fleet.platform_nodes], ys[fleet.platform_nodes]
        # later layouts get smaller markers, so posts that several layouts share stay visible
        size = 130.0 * 0.6 ** k
        ax.scatter(px, py, marker=marker, s=size, color=colour, edgecolor="white",
                   linewidth=1.0, zorder=10 + k)
        handles.append(Line2D([], [], marker=marker, ls="", markersize=8, color=colour,
                              markeredgecolor="white",
                              label=tr("posts_legend", lang, layout=fleet.layout,
                                       posts=len(fleet.platform_names), units=len(fleet))))
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
    ax.set_title(title or tr("layout_map_title", lang, title=scenario.title or scenario.name),
                 fontsize=12)
    # legends outside the map when the figure is ours (the layout engine makes room for them)
    host = fig if own else ax
    host.legend(handles=handles, loc="outside right upper" if own else "upper left", fontsize=7.5,
                framealpha=0.95)
    if key_handles:
        host.legend(key_handles, key_labels, loc="outside right lower" if own else "lower right",
                    fontsize=7, title=tr("post_key_title", lang), title_fontsize=7.5,
                    framealpha=0.95, handletextpad=0.3, labelspacing=0.3,
                    ncols=2 if len(key_labels) > 18 else 1, alignment="left")
    _scale_bar_and_north(ax, lang)
    _place_labels(ax, label_pts, label_txt, label_col)
    note = tr("network_note", lang, source=net.source, nodes=f"{net.n_nodes:,}")
    if "synthetic" in net.source:
        note += " " + tr("synthetic_note", lang)
    if areas is not None:
        note += " " + tr("areas_note", lang)
    _footer(fig, _join(note, footer))
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
        fig = plt.figure(figsize=(12.5, 7.6), layout="constrained")
        gs = fig.add_gridspec(1, 2, width_ratios=[4.2, 1.0])
        ax = fig.add_subplot(gs[0, 0])
        side = fig.add_subplot(gs[0, 1]) if node_zone is not None else None
    else:
        fig, ax = _new_ax(ax, (0, 0))
        side = None
    edge_t = np.maximum(node_times_s[net.edge_u], node_times_s[net.edge_v])
    band = _bands(edge_t)
    for ci, cls in enumerate(net.classes):
        for bi in range(len(BAND_COLOURS)):  # slow roads first, fast roads on top
            sel = (net.edge_class == ci) & (band == bi)
            if sel.any():
                _lines(ax, _segments(net, sel), lw=_MAJOR_ROADS.get(cls, 0.35) + 0.35,
                       color=BAND_COLOURS[bi], zorder=2 + (len(BAND_COLOURS) - bi) * 0.01)
    _rivers(ax, net)
    handles = [Line2D([], [], color=BAND_COLOURS[i], lw=2.5, label=tr(k, lang))
               for i, k in enumerate(("band.1", "band.3", "band.5", "band.more"))]
    leg = ax.legend(handles=handles, loc="upper left", fontsize=8, title=tr("coverage_legend_title", lang),
                    title_fontsize=8, framealpha=0.95)
    ax.add_artist(leg)
    zone_handles = _zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    if posts is not None and len(posts):
        ax.scatter(net.x[posts] / 1000.0, net.y[posts] / 1000.0, marker="o", s=36, color="white",
                   edgecolor="black", linewidth=1.2, zorder=12)
        zone_handles.append(Line2D([], [], marker="o", ls="", color="white", markeredgecolor="black",
                                   label=tr("post_key_title", lang)))
    ax.legend(handles=zone_handles, loc="upper right", bbox_to_anchor=(0.93, 1.0), fontsize=7.5,
              framealpha=0.95)
    _map_frame(ax, net, lang)
    ax.set_title(tr("coverage_title", lang, layout=layout), fontsize=12)
    _scale_bar_and_north(ax, lang)
    if side is not None and node_zone is not None:
        _coverage_side(side, scenario, node_times_s, np.asarray(node_zone), lang)
    _footer(fig, _join(tr("coverage_note", lang), footer))
    return fig, ax


def coverage_shares(scenario: Scenario, node_times_s: np.ndarray, node_zone: np.ndarray
                    ) -> dict[str, tuple[float, int]]:
    """Per zone class: share of its road nodes reached within its target, and its node count."""
    out = {}
    for zi, zone in enumerate(ZONE_CLASSES):
        sel = node_zone == zi
        n = int(sel.sum())
        share = float(np.mean(node_times_s[sel] <= scenario.zones.targets[zone] + 1e-9)) if n else math.nan
        out[zone] = (share, n)
    return out


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
    side.set_yticks(y, [f"{zone_name(z, lang)}\n({_target_text(scenario.zones.targets[z], lang)}, "
                        f"n={shares[z][1]:,})" for z in zones], fontsize=8)
    side.set_xlim(0, 100)
    side.set_xlabel(tr("coverage_x", lang), fontsize=8)
    side.set_title("\n".join(wrap(tr("coverage_table_title", lang), 26)), fontsize=9)
    side.tick_params(axis="x", labelsize=8)
    side.grid(axis="x", alpha=0.3)
    side.set_box_aspect(1.6)


# ---------------------------------------------------------------------------------------------
# 3-4. compliance and difference maps on hexagonal cells


@dataclass(frozen=True)
class HexCells:
    """Counts per pointy-top hexagonal cell (axial coordinates ``q``, ``r``; centres in km).

    ``n``: incidents with a known outcome; ``met``: of those, reached within target.
    """

    q: np.ndarray
    r: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    n: np.ndarray
    met: np.ndarray
    cell_km: float

    @property
    def share(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.met / np.maximum(self.n, 1), np.nan)

    def polygons(self) -> np.ndarray:
        """Corner coordinates (km) of every cell, shape (cells, 6, 2)."""
        radius = self.cell_km / math.sqrt(3.0)
        ang = np.radians(60.0 * np.arange(6) - 30.0)
        return np.stack([self.cx[:, None] + radius * np.cos(ang)[None, :],
                         self.cy[:, None] + radius * np.sin(ang)[None, :]], axis=2)


def hex_aggregate(x_km: np.ndarray, y_km: np.ndarray, met: np.ndarray, cell_km: float) -> HexCells:
    """Count incidents and those within target per hexagon ``cell_km`` across (flat to flat).

    The grid is anchored at (0, 0), so two layouts' cells line up. ``met`` is 1 or 0 per incident.
    """
    radius = cell_km / math.sqrt(3.0)
    x = np.asarray(x_km, dtype=float)
    y = np.asarray(y_km, dtype=float)
    qf = (math.sqrt(3.0) / 3.0 * x - y / 3.0) / radius
    rf = (2.0 / 3.0 * y) / radius
    sf = -qf - rf
    q, r, s = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    q, r = q.astype(np.int64), r.astype(np.int64)
    keys = np.stack([q, r], axis=1)
    if keys.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HexCells(empty, empty, np.zeros(0), np.zeros(0), empty, empty, cell_km)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = np.bincount(inv, minlength=len(uniq))
    m = np.bincount(inv, weights=np.asarray(met, dtype=float), minlength=len(uniq)).astype(np.int64)
    uq, ur = uniq[:, 0], uniq[:, 1]
    cx = radius * math.sqrt(3.0) * (uq + ur / 2.0)
    cy = radius * 1.5 * ur
    return HexCells(uq, ur, cx, cy, n, m, cell_km)


def _known(records: RecordTable, layout: str) -> np.ndarray:
    c = records.columns
    code = records.lookups["layout"].index(layout)
    return (c["layout"] == code) & (c["counted"] == 1) & (c["target_met"] >= 0)


def layout_cells(net: RoadNetwork, records: RecordTable, layout: str, cell_km: float) -> HexCells:
    """Hexagonal cells of one layout's counted incidents with a known outcome (all replications)."""
    c = records.columns
    sel = _known(records, layout)
    nodes = c["node"][sel]
    return hex_aggregate(net.x[nodes] / 1000.0, net.y[nodes] / 1000.0,
                         (c["target_met"][sel] == 1).astype(int), cell_km)


def _hatched(ax: Any, polys: np.ndarray, label: str) -> Patch:
    if len(polys):
        ax.add_collection(PolyCollection(polys, facecolors="none", edgecolors="0.45", hatch="////",
                                         linewidths=0.5, zorder=3))
    return Patch(facecolor="white", edgecolor="0.45", hatch="////", label=label)


def plot_compliance_map(net: RoadNetwork, scenario: Scenario, records: RecordTable, layout: str, *,
                        summary: Sequence[dict[str, Any]] | None = None, cell_km: float = 0.8,
                        min_incidents: int = 20, lang: str = "en", ax: Any = None,
                        footer: str = "") -> tuple[Any, Any]:
    """Share of incidents reached within their zone's target, per hexagonal cell.

    Cells with fewer than ``min_incidents`` incidents are hatched, not coloured.
    """
    fig, ax = _new_ax(ax, (11.5, 7.6))
    _draw_roads(ax, net, alpha=0.6)
    _rivers(ax, net)
    cells = layout_cells(net, records, layout, cell_km)
    polys = cells.polygons()
    enough = cells.n >= min_incidents
    cmap = plt.get_cmap("cividis")
    pc = PolyCollection(polys[enough], array=cells.share[enough] * 100.0, cmap=cmap,
                        edgecolors="white", linewidths=0.4, alpha=0.88, zorder=3)
    pc.set_clim(0, 100)
    ax.add_collection(pc)
    hatch = _hatched(ax, polys[~enough], tr("too_few", lang, n=min_incidents))
    zone_handles = _zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    _map_frame(ax, net, lang)
    cb = fig.colorbar(pc, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label(tr("compliance_cbar", lang))
    ax.legend(handles=[hatch, *zone_handles], loc="upper left", fontsize=7.5, framealpha=0.95)
    ax.set_title(tr("compliance_map_title", lang, layout=layout), fontsize=12)
    _scale_bar_and_north(ax, lang)
    note = tr("hex_note", lang, d=f"{cell_km:g}")
    row = _summary_row(summary, layout, "all")
    if row is not None:
        note += " " + tr("overall_summary", lang, value=pct(row["compliance"], lang))
    _footer(fig, _join(note, footer))
    return fig, ax


def difference_cells(net: RoadNetwork, records: RecordTable, layout_a: str, layout_b: str,
                     cell_km: float, min_incidents: int) -> tuple[HexCells, np.ndarray, np.ndarray]:
    """Cells of layout A, B's share minus A's per cell (percentage points), and which cells have
    at least ``min_incidents`` incidents in both layouts."""
    a = layout_cells(net, records, layout_a, cell_km)
    b = layout_cells(net, records, layout_b, cell_km)
    index_b = {(int(q), int(r)): i for i, (q, r) in enumerate(zip(b.q, b.r, strict=True))}
    diff = np.full(len(a.q), np.nan)
    ok = np.zeros(len(a.q), dtype=bool)
    for i, (q, r) in enumerate(zip(a.q, a.r, strict=True)):
        j = index_b.get((int(q), int(r)))
        if j is None:
            continue
        if a.n[i] >= min_incidents and b.n[j] >= min_incidents:
            ok[i] = True
            diff[i] = (b.met[j] / b.n[j] - a.met[i] / a.n[i]) * 100.0
    return a, diff, ok


def plot_difference_map(net: RoadNetwork, scenario: Scenario, records: RecordTable, layout_a: str,
                        layout_b: str, *, cell_km: float = 0.8, min_incidents: int = 20,
                        lang: str = "en", ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Layout B's share within target minus layout A's, per cell, in percentage points.

    Blue cells are better with B, red cells worse; the scale is centred on 0. Cells with fewer
    than ``min_incidents`` incidents in either layout are hatched.
    """
    fig, ax = _new_ax(ax, (11.5, 7.6))
    _draw_roads(ax, net, alpha=0.6)
    _rivers(ax, net)
    cells, diff, ok = difference_cells(net, records, layout_a, layout_b, cell_km, min_incidents)
    polys = cells.polygons()
    lim = float(np.nanmax(np.abs(diff[ok]))) if ok.any() else 5.0
    lim = max(5.0, math.ceil(lim / 5.0) * 5.0)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    pc = PolyCollection(polys[ok], array=diff[ok], cmap=plt.get_cmap("RdBu"), norm=norm,
                        edgecolors="0.5", linewidths=0.3, alpha=0.92, zorder=3)
    ax.add_collection(pc)
    hatch = _hatched(ax, polys[~ok], tr("too_few", lang, n=min_incidents))
    zone_handles = _zone_shapes(ax, net, scenario, filled=False, lang=lang, zorder=5)
    _map_frame(ax, net, lang)
    cb = fig.colorbar(pc, ax=ax, shrink=0.8, pad=0.02)
    cb.set_label(tr("diff_cbar", lang))
    cmap = plt.get_cmap("RdBu")
    direction = [Patch(facecolor=cmap(0.85), edgecolor="0.5", label=tr("diff_better", lang, b=layout_b)),
                 Patch(facecolor=cmap(0.15), edgecolor="0.5", label=tr("diff_worse", lang, b=layout_b))]
    ax.legend(handles=[*direction, hatch, *zone_handles], loc="upper left", fontsize=7.5,
              framealpha=0.95)
    ax.set_title(tr("diff_title", lang, a=layout_a, b=layout_b), fontsize=12)
    _scale_bar_and_north(ax, lang)
    _footer(fig, _join(tr("diff_note", lang) + " " + tr("hex_note", lang, d=f"{cell_km:g}"), footer))
    return fig, ax


# ---------------------------------------------------------------------------------------------
# 5. response-time curves


def plot_response_cdf(records: RecordTable, scenario: Scenario, layouts: Sequence[str], *,
                      summary: Sequence[dict[str, Any]] | None = None, lang: str = "en",
                      ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Cumulative share of incidents reached within t, one panel per zone class, one line per layout.

    The x axis uses the scenario's target clock; every panel marks the 1, 3 and 5 minute targets
    and draws its own zone's target bold. With ``summary``, the legend gives each layout's share
    within target from it (mean over replications); else the share of the pooled incidents.
    """
    clock = scenario.zones.clock
    if ax is None:
        cjk_font()
        fig, axes = plt.subplots(1, 3, figsize=(13, 5.4), sharey=True, layout="constrained")
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    c = records.columns
    elapsed = target_clock_times(records, clock) / 60.0
    layout_names = records.lookups["layout"]
    counted = c["counted"] == 1
    marks = sorted({*BAND_EDGES_S, *scenario.zones.targets.values()})
    for zi, zone in enumerate(ZONE_CLASSES):
        a = axes[zi]
        target_s = scenario.zones.targets[zone]
        target_min = target_s / 60.0
        for k, layout in enumerate(layouts):
            if layout not in layout_names:
                continue
            code = layout_names.index(layout)
            sel = counted & (c["layout"] == code) & (c["zone"] == zi) & (c["target_met"] >= 0)
            t = np.sort(np.where(np.isnan(elapsed[sel]), np.inf, elapsed[sel]))
            if t.size == 0:
                continue
            share = np.arange(1, t.size + 1) / t.size * 100.0
            row = _summary_row(summary, layout, zone)
            met = row["compliance"] if row is not None else float(np.mean(c["target_met"][sel] == 1))
            finite = np.isfinite(t)
            a.step(np.concatenate(([0.0], t[finite])), np.concatenate(([0.0], share[finite])),
                   where="post", color=OKABE_ITO[k % 8], lw=2,
                   label=tr("cdf_line", lang, layout=layout, value=pct(met, lang),
                            target=_target_text(target_s, lang)))
        for m in marks:
            own = abs(m - target_s) < 1e-9
            a.axvline(m / 60.0, color="black" if own else "0.55", ls="--" if own else ":",
                      lw=1.4 if own else 0.9, zorder=1)
        a.set_xlim(0, max(10.0, 3 * target_min))
        top = a.secondary_xaxis("top")
        top.set_xticks([m / 60.0 for m in marks], [_target_text(m, lang) for m in marks], fontsize=7.5)
        for m, lab in zip(marks, top.get_xticklabels(), strict=True):
            if abs(m - target_s) < 1e-9:
                lab.set_fontweight("bold")
            else:
                lab.set_color("0.35")
        a.set_ylim(0, 100)
        a.set_title(tr("zone_target", lang, zone=zone_name(zone, lang),
                       target=_target_text(target_s, lang)), fontsize=10)
        a.set_xlabel(tr("cdf_x_call" if clock == "call" else "cdf_x_dispatch", lang))
        a.grid(alpha=0.3)
        a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7.5, frameon=False)
    axes[0].set_ylabel(tr("cdf_y", lang))
    fig.suptitle(tr("cdf_title", lang, title=scenario.title or scenario.name), fontsize=12)
    _footer(fig, _join(tr("cdf_note", lang) if summary is not None else "", footer))
    return fig, axes


# ---------------------------------------------------------------------------------------------
# 6. compliance bars


def plot_compliance_bars(summary: Sequence[dict[str, Any]], scenario: Scenario,
                         layouts: Sequence[str], *, goal: float | None = 0.9, lang: str = "en",
                         ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Compliance per zone class (groups) and layout (bars), with 95% CI whiskers from ``summary``
    (rows with ``layout``, ``zone``, ``compliance``, ``compliance_ci_low``, ``compliance_ci_high``),
    each bar labelled with its value, and a dashed line at ``goal`` (a share) if given."""
    fig, ax = _new_ax(ax, (11, 5.6))
    zones = [*ZONE_CLASSES, "all"]
    n = max(1, len(layouts))
    width = 0.8 / n
    for k, layout in enumerate(layouts):
        xs, vals, lo, hi = [], [], [], []
        for zi, zone in enumerate(zones):
            row = _summary_row(summary, layout, zone)
            if row is None or row["compliance"] is None or math.isnan(row["compliance"]):
                continue
            m = row["compliance"]
            lo_v, hi_v = row.get("compliance_ci_low"), row.get("compliance_ci_high")
            xs.append(zi - 0.4 + width * (k + 0.5))
            vals.append(m * 100)
            lo.append(0.0 if lo_v is None or math.isnan(lo_v) else (m - lo_v) * 100)
            hi.append(0.0 if hi_v is None or math.isnan(hi_v) else (hi_v - m) * 100)
        bars = ax.bar(xs, vals, width=width * 0.92, color=OKABE_ITO[k % 8], label=layout, zorder=2,
                      yerr=[lo, hi], capsize=4, error_kw={"elinewidth": 1.2, "ecolor": "0.15"})
        for b, v, h in zip(bars, vals, hi, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, v + h + 1.2, f"{v:.1f}%", ha="center",
                    va="bottom", fontsize=7.5 if n <= 3 else 6.5, zorder=3)
    if goal is not None:
        ax.axhline(goal * 100, color="black", ls="--", lw=1.2, zorder=1,
                   label=tr("bars_goal", lang, goal=pct(goal, lang, 0)))
    ax.set_xticks(range(len(zones)), [
        tr("zone_target", lang, zone=zone_name(z, lang), target=_target_text(scenario.zones.targets[z], lang))
        if z in scenario.zones.targets else zone_name(z, lang) for z in zones], fontsize=9)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(tr("bars_y", lang))
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncols=min(4, n + 1), fontsize=8.5,
              frameon=False)
    ax.set_title(tr("bars_title", lang), fontsize=12)
    _footer(fig, _join(tr("bars_note", lang), footer))
    return fig, ax


# ---------------------------------------------------------------------------------------------
# 7. by hour of day


def _hour_exposure_s(lo: float, hi: float) -> np.ndarray:
    """Seconds of [lo, hi) that fall in each hour of the day."""
    out = np.zeros(24)
    if hi <= lo:
        return out
    first, last = int(lo // 3600), math.ceil(hi / 3600)
    slots = np.arange(first, last)
    overlap = np.minimum(hi, (slots + 1) * 3600.0) - np.maximum(lo, slots * 3600.0)
    np.add.at(out, slots % 24, np.maximum(overlap, 0.0))
    return out


def hourly_profile(records: RecordTable, layout: str, *, n_units: float | np.ndarray,
                   replications: int, warmup_s: float, horizon_s: float) -> dict[str, np.ndarray]:
    """Per hour of day (0-23) for one layout: counted incidents per day, the share reached within
    target (NaN without incidents), the incidents behind that share, and unit utilisation.

    Utilisation is the busy time of the responding units in the records (assignment to clearing,
    clipped to the counted window [warm-up, horizon]; still open at the horizon counts to the
    horizon) over the units on duty x ``replications`` x the window's seconds in that hour.
    ``n_units`` is the number of units on duty, or 24 mean numbers on duty per hour of day.
    With every unit always on duty and one unit per incident, the exposure-weighted mean equals
    the summary's utilisation.
    """
    c = records.columns
    code = records.lookups["layout"].index(layout)
    lay = c["layout"] == code
    counted = lay & (c["counted"] == 1)
    hour = (np.mod(c["call_s"], 86400.0) // 3600).astype(int)
    exposure = _hour_exposure_s(warmup_s, horizon_s)
    days = exposure / 3600.0
    n_inc = np.bincount(hour[counted], minlength=24).astype(float)
    per_day = np.divide(n_inc, days * max(replications, 1), out=np.full(24, np.nan), where=days > 0)
    known = counted & (c["target_met"] >= 0)
    n_known = np.bincount(hour[known], minlength=24).astype(float)
    n_met = np.bincount(hour[known], weights=(c["target_met"][known] == 1).astype(float), minlength=24)
    share = np.divide(n_met, n_known, out=np.full(24, np.nan), where=n_known > 0)
    busy_sel = lay & ~np.isnan(c["assign_s"]) & (c["unit"] >= 0)
    a = np.clip(c["assign_s"][busy_sel], warmup_s, horizon_s)
    e = np.clip(np.where(np.isnan(c["clear_s"][busy_sel]), horizon_s, c["clear_s"][busy_sel]),
                warmup_s, horizon_s)
    busy = np.zeros(24)
    if a.size:
        slot = np.floor(a / 3600.0)
        span = int(np.max(np.ceil(e / 3600.0) - slot)) if a.size else 0
        for k in range(span + 1):
            s = slot + k
            overlap = np.minimum(e, (s + 1) * 3600.0) - np.maximum(a, s * 3600.0)
            np.add.at(busy, (s % 24).astype(int), np.maximum(overlap, 0.0))
    denom = exposure * np.broadcast_to(np.asarray(n_units, dtype=float), (24,)) * max(replications, 1)
    util = np.divide(busy, denom, out=np.full(24, np.nan), where=denom > 0)
    return {"incidents_per_day": per_day, "compliance": share, "known": n_known, "utilisation": util}


def plot_by_hour(profiles: dict[str, dict[str, np.ndarray]], scenario: Scenario, *,
                 summary: Sequence[dict[str, Any]] | None = None,
                 patrol: dict[str, np.ndarray] | None = None, min_incidents: int = 5,
                 lang: str = "en", ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Incidents, compliance and unit utilisation by hour of day, one line per layout.

    ``profiles`` maps layout -> :func:`hourly_profile`. With ``summary`` each layout's day-average
    utilisation (summary.csv, zone ``all``) is drawn as a dotted line. A panel of the share of
    units on patrol is added only if ``patrol`` (layout -> 24 shares) is given. Hours with fewer
    than ``min_incidents`` incidents are left out of the compliance line.
    """
    rows = 4 if patrol else 3
    if ax is None:
        cjk_font()
        fig, axes = plt.subplots(rows, 1, figsize=(11, 2.5 * rows + 1.2), sharex=True,
                                 layout="constrained", height_ratios=[0.7] + [1.0] * (rows - 1))
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    hours = np.arange(24) + 0.5
    layouts = list(profiles)
    first = profiles[layouts[0]] if layouts else None
    if first is not None:
        axes[0].bar(hours, first["incidents_per_day"], width=0.85, color="0.7", zorder=2)
    axes[0].set_ylabel(tr("hour_calls", lang))
    handles: list[Any] = []
    for k, layout in enumerate(layouts):
        prof = profiles[layout]
        colour = OKABE_ITO[k % 8]
        comp = np.where(prof["known"] >= min_incidents, prof["compliance"] * 100, np.nan)
        line = axes[1].plot(hours, comp, marker="o", ms=3.5, color=colour, lw=1.8, label=layout)[0]
        handles.append(line)
        axes[2].plot(hours, prof["utilisation"] * 100, marker="o", ms=3.5, color=colour, lw=1.8)
        row = _summary_row(summary, layout, "all")
        if row is not None and not math.isnan(row["utilisation"]):
            handles.append(axes[2].axhline(
                row["utilisation"] * 100, color=colour, ls=":", lw=1.4,
                label=tr("hour_util_mean", lang, layout=layout, value=pct(row["utilisation"], lang))))
        if patrol and layout in patrol:
            axes[3].plot(hours, np.asarray(patrol[layout]) * 100, marker="o", ms=3.5, color=colour,
                         lw=1.8)
    axes[1].set_ylabel(tr("hour_compliance", lang))
    axes[1].set_ylim(0, 105)
    axes[2].set_ylabel(tr("hour_util", lang))
    top = max([float(np.nanmax(p["utilisation"])) for p in profiles.values()
               if np.isfinite(p["utilisation"]).any()] or [0.1])
    axes[2].set_ylim(0, min(105.0, max(5.0, top * 100 * 1.2)))
    if patrol:
        axes[3].set_ylabel(tr("hour_patrol", lang))
        axes[3].set_ylim(0, 105)
    if handles:
        axes[0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.02), fontsize=8,
                       ncols=2 if len(handles) > 1 else 1, frameon=False)
    for a in axes:
        a.grid(alpha=0.3)
    axes[-1].set_xlim(0, 24)
    axes[-1].set_xticks(range(0, 25, 2))
    axes[-1].set_xlabel(tr("hour_x", lang))
    fig.suptitle(tr("hour_title", lang, title=scenario.title or scenario.name), fontsize=12)
    _footer(fig, _join(tr("hour_note", lang), footer))
    return fig, axes


# ---------------------------------------------------------------------------------------------
# saving


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "figure"


def save_figure(fig: Any, path: Path | str, formats: Sequence[str] = ("png",), dpi: int = 200,
                *, close_after: bool = True) -> list[Path]:
    """Save ``fig`` as ``path`` + ``.<format>`` for each format (png, svg, pdf), then close it.

    ``path`` is taken without a suffix (a dot in it is kept). File metadata carry no date, so the
    same data give the same files.
    """
    cjk_font()
    path = Path(path)
    out = []
    for fmt in formats:
        p = path.with_name(f"{path.name}.{fmt}")
        meta: dict[str, Any] | None = {"svg": {"Date": None}, "pdf": {"CreationDate": None},
                                       "png": None}.get(fmt)
        fig.savefig(p, dpi=dpi, metadata=meta)
        out.append(p)
    if close_after:
        plt.close(fig)
    return out


def figure_png(fig: Any, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (for embedding in HTML)."""
    cjk_font()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def close(fig: Any) -> None:
    """Release a figure."""
    plt.close(fig)


def many_figures() -> Any:
    """A context in which many figures may be open at once (a report keeps every figure open
    until its PDF is written) without matplotlib's warning about open figures."""
    return plt.rc_context({"figure.max_open_warning": 0})


# ---------------------------------------------------------------------------------------------
# text pages of the PDF brief

A4 = (8.27, 11.69)


@dataclass
class _Flow:
    """Lays out blocks of text top-down on A4 pages, starting a new page when one is full."""

    lang: str
    footer: str
    margin: float = 0.75
    pages: list[Any] | None = None

    def __post_init__(self) -> None:
        self.pages = []
        self._new_page()

    def _new_page(self) -> None:
        fig = plt.figure(figsize=A4)
        self.fig = fig
        assert self.pages is not None
        self.pages.append(fig)
        self.renderer = fig.canvas.get_renderer()
        self.y = A4[1] - self.margin
        fig.text(self.margin / A4[0], 0.4 / A4[1], self.footer, fontsize=6.5, color="0.4",
                 ha="left", va="bottom")
        fig.text(1 - self.margin / A4[0], 0.4 / A4[1], tr("page", self.lang, n=len(self.pages)),
                 fontsize=6.5, color="0.4", ha="right", va="bottom")

    @property
    def width(self) -> float:
        return A4[0] - 2 * self.margin

    def _measure(self, text: str, size: float, weight: str = "normal", family: Any = None) -> float:
        prop = FontProperties(size=size, weight=weight, family=family or plt.rcParams["font.family"])
        w, _, _ = self.renderer.get_text_width_height_descent(text, prop, ismath=False)
        return w / self.fig.dpi

    def _fits(self, size: float, width: float, weight: str = "normal",
              family: Any = None) -> Callable[[str], bool]:
        return lambda s: self._measure(s, size, weight, family) <= width

    def _need(self, height: float) -> None:
        if self.y - height < self.margin + 0.3:
            self._new_page()

    def _line(self, x: float, text: str, size: float, weight: str = "normal",
              family: Any = None, colour: str = "black") -> None:
        kw: dict[str, Any] = {"fontsize": size, "fontweight": weight, "color": colour,
                              "ha": "left", "va": "top"}
        if family:
            kw["family"] = family
        self.fig.text(x / A4[0], self.y / A4[1], text, **kw)

    def text(self, text: str, size: float = 9.5, weight: str = "normal", indent: float = 0.0,
             family: Any = None, colour: str = "black", space_after: float = 0.08,
             bullet: str = "") -> None:
        width = self.width - indent
        lines = wrap(text, self._fits(size, width, weight, family))
        step = size * 1.5 / 72.0
        for i, line in enumerate(lines):
            self._need(step)
            if bullet and i == 0:
                self._line(self.margin + indent - 0.16, bullet, size, weight, family, colour)
            self._line(self.margin + indent, line, size, weight, family, colour)
            self.y -= step
        self.y -= space_after

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], size: float = 7.5) -> None:
        ncol = len(headers)
        while True:  # the largest font size (down to 5.5 pt) at which every column fits
            natural = [max([self._measure(str(r[i]), size) for r in rows] + [0.3]) for i in range(ncol)]
            head_w = [self._measure(h, size, "bold") for h in headers]
            pad = size / 72.0 * 1.2
            # a header may wrap down to 0.6 in, so long headers do not starve the data columns
            widths = [max(n, min(h, max(n, 0.6))) + pad for n, h in zip(natural, head_w, strict=True)]
            if sum(widths) <= self.width or size <= 5.5:
                break
            size -= 0.25
        if sum(widths) > self.width:
            widths = [w * self.width / sum(widths) for w in widths]
        xs = np.concatenate(([self.margin], self.margin + np.cumsum(widths)[:-1]))
        step = size * 1.45 / 72.0
        head_lines = [wrap(h, self._fits(size, w - 0.08, "bold"))
                      for h, w in zip(headers, widths, strict=True)]
        nh = max(len(h) for h in head_lines)
        self._need(step * (nh + 2))
        top = self.y
        for x, lines in zip(xs, head_lines, strict=True):
            for j, line in enumerate(lines):
                self.fig.text(x / A4[0], (top - j * step) / A4[1], line, fontsize=size,
                              fontweight="bold", ha="left", va="top")
        self.y = top - nh * step - 0.04
        self.fig.add_artist(Line2D([self.margin / A4[0], (A4[0] - self.margin) / A4[0]],
                                   [(self.y + 0.02) / A4[1]] * 2, color="0.3", lw=0.8))
        self.y -= 0.03
        for i, row in enumerate(rows):
            self._need(step)
            if i % 2 == 1:
                self.fig.add_artist(Rectangle((self.margin / A4[0], (self.y - step + 0.02) / A4[1]),
                                              self.width / A4[0], step / A4[1], color="0.94", lw=0,
                                              zorder=-1))
            for x, cell in zip(xs, row, strict=True):
                self.fig.text(x / A4[0], self.y / A4[1], str(cell), fontsize=size, ha="left", va="top")
            self.y -= step
        self.y -= 0.1


def text_pages(blocks: Iterable[tuple[str, Any]], *, lang: str, footer: str = "") -> list[Any]:
    """Figures (A4 portrait) holding ``blocks`` of text, in order, over as many pages as needed.

    Blocks: ``("title", str)``, ``("subtitle", str)``, ``("heading", str)``, ``("para", str)``,
    ``("bullets", [str])``, ``("code", [str])`` (monospaced, wrapped) and
    ``("table", (headers, rows, note))``.
    """
    cjk_font()
    flow = _Flow(lang=lang, footer=footer)
    for kind, payload in blocks:
        if kind == "title":
            flow.text(payload, size=17, weight="bold", space_after=0.05)
        elif kind == "subtitle":
            flow.text(payload, size=10, colour="0.3", space_after=0.2)
        elif kind == "heading":
            flow._need(0.6)
            flow.y -= 0.08
            flow.text(payload, size=12.5, weight="bold", space_after=0.06)
        elif kind == "para":
            flow.text(payload)
        elif kind == "bullets":
            for item in payload:
                flow.text(item, indent=0.22, bullet="•", space_after=0.05)
        elif kind == "code":
            for line in payload:
                flow.text(line, size=7.5, family=[_MONO, cjk_font().name], indent=0.1, space_after=0.02,
                          colour="0.1")
            flow.y -= 0.06
        elif kind == "table":
            headers, rows, note = payload
            flow.table(headers, rows)
            if note:
                flow.text(note, size=7.5, colour="0.3")
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    assert flow.pages is not None
    return flow.pages


def write_pdf(path: Path | str, figures: Iterable[Any], *, title: str = "", close_after: bool = True
              ) -> int:
    """Write ``figures`` as the pages of one PDF (each page keeps its figure's size); return the
    number of pages."""
    cjk_font()
    n = 0
    with PdfPages(path, metadata={"Title": title, "CreationDate": None}) as pdf:
        for fig in figures:
            pdf.savefig(fig)
            n += 1
            if close_after:
                plt.close(fig)
    return n
