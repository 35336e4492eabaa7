"""Figures (matplotlib; imported nowhere else). Plot functions take data and an optional ``ax``
and return ``(fig, ax)``; they never run a simulation.

Colours come from the Okabe-Ito palette, which stays distinct for colour-blind readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Circle, FancyArrow, Polygon  # noqa: E402

from .config import ZONE_CLASSES, Scenario  # noqa: E402
from .network.graph import RoadNetwork  # noqa: E402
from .records import RecordTable  # noqa: E402
from .world import Fleet  # noqa: E402

__all__ = ["OKABE_ITO", "plot_layout_map", "plot_response_cdf", "save_figure", "source_line"]

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
ZONE_LABELS = {"key": "Key locations (1 min)", "central": "Central city (3 min)",
               "other": "Other urban area (5 min)"}
_ROAD_STYLE = {  # class -> (width, grey level)
    "motorway": (2.0, "0.35"), "trunk": (1.8, "0.35"), "primary": (1.4, "0.45"),
    "secondary": (1.0, "0.55"), "tertiary": (0.8, "0.6"),
}
_MARKERS = ("^", "s", "D", "o", "v", "P", "X", "*")


def source_line(scenario: Scenario, run_id: str = "", replications: int | None = None) -> str:
    """The small print under each figure: scenario, run id and replications."""
    parts = [f"Scenario: {scenario.name}"]
    if run_id:
        parts.append(f"run {run_id}")
    if replications is not None:
        parts.append(f"{replications} replication{'s' if replications != 1 else ''}")
    return " · ".join(parts)


def _new_ax(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _scale_bar(ax: Any, length_km: float = 2.0) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([bx, bx + length_km], [by, by], color="black", lw=3, solid_capstyle="butt", zorder=9)
    ax.text(bx + length_km / 2, by + 0.015 * (y1 - y0), f"{length_km:g} km", ha="center",
            va="bottom", fontsize=8, zorder=9)


def _north_arrow(ax: Any) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    ax_x, ax_y = x1 - 0.05 * (x1 - x0), y1 - 0.16 * (y1 - y0)
    ax.add_patch(FancyArrow(ax_x, ax_y, 0, 0.08 * (y1 - y0), width=0.012 * (x1 - x0),
                            head_width=0.035 * (x1 - x0), head_length=0.035 * (y1 - y0),
                            length_includes_head=True, color="black", zorder=9))
    ax.text(ax_x, ax_y + 0.095 * (y1 - y0), "N", ha="center", va="bottom", fontsize=10,
            fontweight="bold", zorder=9)


def plot_layout_map(net: RoadNetwork, scenario: Scenario, fleets: Sequence[Fleet], *,
                    ax: Any = None, title: str | None = None, footer: str = "") -> tuple[Any, Any]:
    """Road network, rivers, zone classes and the platforms of each layout, in km from the centre."""
    fig, ax = _new_ax(ax, (10, 7.6))
    xs, ys = net.x / 1000.0, net.y / 1000.0
    for cls_i, cls in enumerate(net.classes):
        sel = net.edge_class == cls_i
        if not sel.any():
            continue
        width, grey = _ROAD_STYLE.get(cls, (0.35, "0.72"))
        segs = np.stack([np.column_stack([xs[net.edge_u[sel]], ys[net.edge_u[sel]]]),
                         np.column_stack([xs[net.edge_v[sel]], ys[net.edge_v[sel]]])], axis=1)
        ax.add_collection(LineCollection(segs, linewidths=width, colors=grey, zorder=2))
    for k, (name, pts) in enumerate(net.rivers.items()):
        if len(pts) < 2:
            continue
        rx, ry = net.frame.to_local([p[0] for p in pts], [p[1] for p in pts])
        ax.plot(rx / 1000.0, ry / 1000.0, color="#56B4E9", lw=5, alpha=0.8, zorder=1,
                solid_capstyle="round", label="Rivers" if k == 0 else None)
    ring = np.asarray(scenario.zones.central_city, dtype=float)
    cx, cy = net.frame.to_local(ring[:, 0], ring[:, 1])
    ax.add_patch(Polygon(np.column_stack([cx, cy]) / 1000.0, closed=True, facecolor="#E69F00",
                         alpha=0.12, edgecolor="#E69F00", lw=1.5, zorder=0,
                         label=ZONE_LABELS["central"]))
    for k, kl in enumerate(scenario.zones.key_locations):
        kx, ky = net.frame.to_local(kl.lon, kl.lat)
        ax.add_patch(Circle((float(kx) / 1000.0, float(ky) / 1000.0), kl.radius / 1000.0,
                            facecolor="#CC79A7", alpha=0.45, edgecolor="#CC79A7", zorder=3,
                            label=ZONE_LABELS["key"] if k == 0 else None))
    for k, fleet in enumerate(fleets):
        px, py = xs[fleet.platform_nodes], ys[fleet.platform_nodes]
        n_units = len(fleet)
        ax.scatter(px, py, marker=_MARKERS[k % len(_MARKERS)], s=90, color=OKABE_ITO[k % 8],
                   edgecolor="white", linewidth=1.2, zorder=6 + k,
                   label=f"{fleet.layout} ({len(fleet.platform_names)} posts, {n_units} units)")
    ax.set_xlim(xs.min() - 0.3, xs.max() + 0.3)
    ax.set_ylim(ys.min() - 0.3, ys.max() + 0.3)
    ax.set_aspect("equal")
    ax.set_xlabel("km east of map centre")
    ax.set_ylabel("km north of map centre")
    ax.set_title(title or f"{scenario.title or scenario.name}: zones and posts")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    _scale_bar(ax)
    _north_arrow(ax)
    note = f"Network: {net.source}, {net.n_nodes:,} nodes. Other urban area: the rest of the map."
    _footer(fig, f"{note}   {footer}".strip())
    return fig, ax


def _footer(fig: Any, text: str) -> None:
    """Small print at the bottom left; as a figure-level label, the layout engine makes room for it."""
    if text:
        fig.supxlabel(text, x=0.01, ha="left", fontsize=7, color="0.35")


def target_clock_times(records: RecordTable, clock: str) -> np.ndarray:
    """Time (s) from the target clock's start (call or dispatch) to the first arrival; NaN if none."""
    c = records.columns
    start = c["call_s"] if clock == "call" else c["dispatch_s"]
    return c["arrival_s"] - start


def plot_response_cdf(records: RecordTable, scenario: Scenario, layouts: Sequence[str], *,
                      ax: Any = None, footer: str = "") -> tuple[Any, Any]:
    """Cumulative share of incidents reached within t, one panel per zone class, one line per layout.

    The x axis uses the scenario's target clock; each panel marks its zone's target, and the
    legend gives the share meeting it (counted incidents, all replications pooled).
    """
    clock = scenario.zones.clock
    if ax is None:
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), sharey=True, layout="constrained")
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    c = records.columns
    elapsed = target_clock_times(records, clock) / 60.0
    layout_names = records.lookups["layout"]
    counted = c["counted"] == 1
    for zi, zone in enumerate(ZONE_CLASSES):
        a = axes[zi]
        target_min = scenario.zones.targets[zone] / 60.0
        for k, layout in enumerate(layouts):
            code = layout_names.index(layout)
            sel = counted & (c["layout"] == code) & (c["zone"] == zi) & (c["target_met"] >= 0)
            t = np.sort(np.where(np.isnan(elapsed[sel]), np.inf, elapsed[sel]))
            if t.size == 0:
                continue
            share = np.arange(1, t.size + 1) / t.size
            met = float(np.mean(c["target_met"][sel] == 1))
            finite = np.isfinite(t)
            a.step(np.concatenate(([0.0], t[finite])), np.concatenate(([0.0], share[finite])),
                   where="post", color=OKABE_ITO[k % 8], lw=2,
                   label=f"{layout}: {met:.0%} within target (n={t.size:,})")
        a.axvline(target_min, color="black", ls="--", lw=1.2)
        a.text(target_min, 0.02, f" target {target_min:g} min", rotation=90, va="bottom",
               ha="right", fontsize=8)
        a.set_xlim(0, max(10.0, 3 * target_min))
        a.set_ylim(0, 1.0)
        a.set_title(ZONE_LABELS[zone])
        a.set_xlabel(f"minutes from {'call' if clock == 'call' else 'dispatch'} to first arrival")
        a.grid(alpha=0.3)
        a.legend(loc="lower right", fontsize=7.5)
    axes[0].set_ylabel("share of incidents reached")
    fig.suptitle(f"{scenario.title or scenario.name}: response times by zone class")
    _footer(fig, footer)
    return fig, axes


def save_figure(fig: Any, path: Path, formats: Sequence[str] = ("png",), dpi: int = 200) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``, then close it."""
    out = []
    for fmt in formats:
        p = Path(path).with_suffix(f".{fmt}")
        fig.savefig(p, dpi=dpi)
        out.append(p)
    plt.close(fig)
    return out
