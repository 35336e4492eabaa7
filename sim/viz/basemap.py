"""The map's base: roads, rivers and bridges, zone shapes, the frame with its scale bar and
north arrow, post labels placed clear of each other, and response-area boundaries.

A network's geometry (road segments by class, bridges, river lines, all in km) is computed once
and kept (:func:`geometry`), so every map of a report, in every language, reuses it instead of
recomputing it from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import numpy as np
from matplotlib import patheffects
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Polygon, Rectangle
from matplotlib.transforms import Bbox
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from sim.i18n import minutes, tr, zone_name
from sim.network.graph import RoadNetwork
from sim.scenario import Scenario
from sim.viz.style import HALO, RIVER_COLOUR, RIVER_EDGE, ZONE_COLOURS

__all__ = [
    "MAJOR_ROADS",
    "Geometry",
    "area_boundaries",
    "draw_lines",
    "draw_rivers",
    "draw_roads",
    "geometry",
    "key_codes",
    "map_frame",
    "map_size",
    "place_labels",
    "river_crossings",
    "river_handle",
    "road_width",
    "scale_bar_and_north",
    "segments",
    "zone_shapes",
]

MAJOR_ROADS = {"motorway": 1.6, "trunk": 1.5, "primary": 1.2, "secondary": 0.9, "tertiary": 0.7}
"""Line width (pt) of the main road classes; other roads are drawn 0.35 pt wide."""
MINOR_WIDTH = 0.35


@dataclass(frozen=True)
class Geometry:
    """What the maps draw of one network, in km on its local frame."""

    roads: tuple[tuple[str, np.ndarray], ...]
    """(road class, segments of shape (n, 2, 2)) for every class that has edges."""
    bridges: np.ndarray
    rivers: tuple[np.ndarray, ...]
    """Each river centre line as (k, 2) points."""
    extent: tuple[float, float, float, float]
    """x min, x max, y min, y max of the road nodes."""


_GEOMETRY: dict[int, tuple[RoadNetwork, Geometry]] = {}


def geometry(net: RoadNetwork) -> Geometry:
    """The network's map geometry, computed on first use and kept for the next maps."""
    hit = _GEOMETRY.get(id(net))
    if hit is not None and hit[0] is net:
        return hit[1]
    roads = []
    for ci, cls in enumerate(net.classes):
        sel = net.edge_class == ci
        if sel.any():
            roads.append((cls, segments(net, sel)))
    rivers = []
    for pts in net.rivers.values():
        if len(pts) >= 2:
            rx, ry = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
            rivers.append(np.column_stack([rx, ry]) / 1000.0)
    xs, ys = net.x / 1000.0, net.y / 1000.0
    geom = Geometry(roads=tuple(roads), bridges=segments(net, river_crossings(net)), rivers=tuple(rivers),
                    extent=(float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())))
    if len(_GEOMETRY) >= 4:  # a report needs one network; keep a few, not every one ever drawn
        _GEOMETRY.clear()
    _GEOMETRY[id(net)] = (net, geom)
    return geom


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


def segments(net: RoadNetwork, sel: np.ndarray) -> np.ndarray:
    """The selected road edges as segments (n, 2, 2) in km."""
    xs, ys = net.x / 1000.0, net.y / 1000.0
    return np.stack([np.column_stack([xs[net.edge_u[sel]], ys[net.edge_u[sel]]]),
                     np.column_stack([xs[net.edge_v[sel]], ys[net.edge_v[sel]]])], axis=1)


def draw_lines(ax: Any, segs: np.ndarray, **kw: Any) -> None:
    """Draw segments (n, 2, 2) as one line broken by NaNs: a single path in every backend, much
    faster to build and draw than a collection of thousands of short lines."""
    if len(segs) == 0:
        return
    broken = np.full((len(segs), 3, 2), np.nan)
    broken[:, :2, :] = segs
    pts = broken.reshape(-1, 2)
    kw.setdefault("solid_capstyle", "round")
    ax.plot(pts[:, 0], pts[:, 1], scalex=False, scaley=False, **kw)


def road_width(cls: str) -> float:
    """Line width (pt) of a road class."""
    return MAJOR_ROADS.get(cls, MINOR_WIDTH)


def draw_roads(ax: Any, net: RoadNetwork, *, alpha: float = 1.0, zorder: float = 2) -> None:
    """Grey roads, wider and darker for main roads (one collection per road class)."""
    for cls, segs in geometry(net).roads:
        major = cls in MAJOR_ROADS
        draw_lines(ax, segs, lw=road_width(cls), alpha=alpha, color="0.42" if major else "0.72",
                   zorder=zorder + (0.1 if major else 0.0))


def draw_rivers(ax: Any, net: RoadNetwork) -> bool:
    """Rivers as wide grey-blue bands with darker banks; False if the network has none."""
    rivers = geometry(net).rivers
    for pts in rivers:
        ax.plot(pts[:, 0], pts[:, 1], color=RIVER_COLOUR, lw=RIVER_WIDTH, zorder=1, solid_capstyle="round",
                path_effects=_RIVER_BANKS)
    return bool(rivers)


def river_handle(lang: str) -> Line2D:
    """The legend entry of the rivers, drawn as they are on the map."""
    return Line2D([], [], color=RIVER_COLOUR, lw=RIVER_WIDTH, path_effects=_RIVER_BANKS,
                  label=tr("rivers", lang))


RIVER_WIDTH = 5.0
"""Line width (pt) of a river, wider than any road."""
_RIVER_BANKS = [patheffects.Stroke(linewidth=RIVER_WIDTH + 1.4, foreground=RIVER_EDGE), patheffects.Normal()]


def map_size(net: RoadNetwork, *, side_in: float, height_in: float = 7.4,
             max_map_in: float = 10.5) -> tuple[float, float]:
    """Figure size (in) for a map of the network's shape with ``side_in`` inches beside it for
    legends, so that a small or tall network does not leave the page mostly white."""
    x0, x1, y0, y1 = geometry(net).extent
    aspect = max(x1 - x0, 0.3) / max(y1 - y0, 0.3)
    map_h = height_in - 1.3  # title, axis labels and the source line
    map_w = min(max_map_in, max(3.5, map_h * aspect))
    if map_w / aspect < map_h:
        map_h = max(3.5, map_w / aspect)
    return round(map_w + side_in + 1.0, 2), round(map_h + 1.3, 2)


def map_frame(ax: Any, net: RoadNetwork, lang: str) -> None:
    """Limits around the network (km), equal aspect, axis labels."""
    x0, x1, y0, y1 = geometry(net).extent
    pad = max(0.15, 0.02 * max(x1 - x0, y1 - y0))
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
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


def scale_bar_and_north(ax: Any, lang: str) -> None:
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
            fontsize=10, fontweight="bold", zorder=20, path_effects=HALO)


def zone_shapes(ax: Any, net: RoadNetwork, scenario: Scenario, *, filled: bool, lang: str,
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
                                      target=minutes(targets["other"], lang))))
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
                                  target=minutes(targets["central"], lang))))
    for kl in scenario.zones.key_locations:
        kx, ky = net.frame.to_local(kl.lon, kl.lat)
        ax.add_patch(Circle((float(kx) / 1000.0, float(ky) / 1000.0), kl.radius / 1000.0,
                            facecolor=ZONE_COLOURS["key"] if filled else "none",
                            alpha=0.5 if filled else 1.0, edgecolor=ZONE_COLOURS["key"],
                            lw=1.4 if filled else 1.8, zorder=zorder + 3))
    for code, kl in zip(key_codes(scenario), scenario.zones.key_locations, strict=True):
        # numbered at the circle's upper right; the names are listed in the map's key
        kx, ky = net.frame.to_local(kl.lon, kl.lat)
        off = kl.radius / 1000.0 * 0.75
        ax.text(float(kx) / 1000.0 + off, float(ky) / 1000.0 + off, code, fontsize=7, color="#7A2E5E",
                fontweight="bold", ha="left", va="bottom", zorder=zorder + 9, path_effects=HALO)
    if scenario.zones.key_locations:
        handles.append(Patch(facecolor=ZONE_COLOURS["key"] if filled else "none",
                             alpha=0.6 if filled else 1.0, edgecolor=ZONE_COLOURS["key"], lw=1.4,
                             label=tr("zone_target", lang, zone=zone_name("key", lang),
                                      target=minutes(targets["key"], lang))))
    return handles


def key_codes(scenario: Scenario) -> list[str]:
    """``K1``, ``K2``, ... for the scenario's key locations, in their order."""
    return [f"K{i + 1}" for i in range(len(scenario.zones.key_locations))]


def place_labels(ax: Any, points: Sequence[tuple[float, float]], texts: Sequence[str],
                  colors: Sequence[str], fontsize: float = 7.5) -> None:
    """Put each label next to its point, trying eight positions, avoiding earlier labels and points."""
    fig = ax.figure
    # the final layout and aspect, so that sizes in data units are right (no drawing needed)
    engine = fig.get_layout_engine()
    if engine is not None and engine.__class__.__name__ != "PlaceHolderLayoutEngine":
        engine.execute(fig)
    ax.apply_aspect()
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
                    path_effects=HALO)
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


def area_boundaries(ax: Any, net: RoadNetwork, areas: np.ndarray, colour: str) -> None:
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
    draw_lines(ax, segs[inside], color=colour, lw=1.6, alpha=0.95, zorder=4)


