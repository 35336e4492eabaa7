"""A quick map of a road network in longitude and latitude with a labelled coordinate grid, so
that a planner can read post positions off it (``run_sim.py network``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt
import numpy as np

from sim.network.graph import RoadNetwork
from sim.viz.basemap import MAJOR_ROADS, MINOR_WIDTH
from sim.viz.fonts import cjk_font
from sim.viz.style import HALO

__all__ = ["plot_network_grid"]


def _step(span_deg: float) -> float:
    for v in (0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if span_deg / v <= 16:
            return v
    return 1.0


def plot_network_grid(net: RoadNetwork, *, points: Sequence[tuple[float, float, str]] = (),
                      title: str = "") -> tuple[Any, Any]:
    """Roads (wider for main roads) on a lon/lat grid of round steps, labelled with enough
    decimals to copy; ``points`` are (lon, lat, label) drawn as red crosses."""
    cjk_font()
    lon_span, lat_span = float(np.ptp(net.lon)) or 0.01, float(np.ptp(net.lat)) or 0.01
    aspect = 1.0 / math.cos(math.radians(float(net.lat.mean())))
    w = 11.0
    h = min(14.0, max(5.0, w * lat_span * aspect / lon_span + 1.2))
    fig, ax = plt.subplots(figsize=(w, h), layout="constrained")
    for ci, cls in enumerate(net.classes):
        sel = net.edge_class == ci
        if not sel.any():
            continue
        u, v = net.edge_u[sel], net.edge_v[sel]
        xs = np.column_stack([net.lon[u], net.lon[v], np.full(len(u), np.nan)]).ravel()
        ys = np.column_stack([net.lat[u], net.lat[v], np.full(len(u), np.nan)]).ravel()
        major = cls in MAJOR_ROADS
        ax.plot(xs, ys, color="0.35" if major else "0.6", lw=MAJOR_ROADS.get(cls, MINOR_WIDTH) + 0.2,
                solid_capstyle="round")
    for lon, lat, label in points:
        ax.plot([lon], [lat], marker="x", color="#D55E00", ms=10, mew=2.5, zorder=5)
        ax.annotate(label, (lon, lat), xytext=(6, 6), textcoords="offset points", fontsize=8,
                    color="#D55E00", fontweight="bold", path_effects=HALO)
    step = _step(max(lon_span, lat_span))
    digits = len(f"{step:.6f}".rstrip("0").split(".")[1])  # 0.0025 -> 4
    for axis, lo, hi in ((ax.xaxis, float(net.lon.min()), float(net.lon.max())),
                         (ax.yaxis, float(net.lat.min()), float(net.lat.max()))):
        ticks = np.arange(math.floor(lo / step) * step, hi + step, step)
        axis.set_ticks(ticks, [f"{t:.{digits}f}" for t in ticks])
    pad_x, pad_y = lon_span * 0.02, lat_span * 0.02
    ax.set_xlim(float(net.lon.min()) - pad_x, float(net.lon.max()) + pad_x)
    ax.set_ylim(float(net.lat.min()) - pad_y, float(net.lat.max()) + pad_y)
    ax.set_aspect(aspect)
    ax.grid(True, color="#0072B2", alpha=0.35, lw=0.6)
    ax.tick_params(labelsize=8)
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(title or net.source, fontsize=11)
    return fig, ax
