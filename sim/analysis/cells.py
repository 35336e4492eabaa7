"""Incidents and road nodes aggregated over space: hexagonal cells of compliance, their paired
differences between two layouts, and the share of each zone's road nodes reached within target.

Pure data (numpy only): the maps of :mod:`sim.viz.maps` and the interactive map of
:mod:`sim.brief.explorer` draw what these functions count. Distances are kilometres on the
network's local frame (x east, y north of the map centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.network.graph import RoadNetwork
from sim.scenario import ZONE_CLASSES, Scenario
from sim.types import RecordTable

__all__ = ["HexCells", "coverage_shares", "difference_cells", "hex_aggregate", "layout_cells", "zone_targets"]


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
    return np.asarray((c["layout"] == code) & (c["counted"] == 1) & (c["target_met"] >= 0), dtype=bool)


def layout_cells(net: RoadNetwork, records: RecordTable, layout: str, cell_km: float) -> HexCells:
    """Hexagonal cells of one layout's counted incidents with a known outcome (all replications)."""
    c = records.columns
    sel = _known(records, layout)
    nodes = c["node"][sel]
    return hex_aggregate(net.x[nodes] / 1000.0, net.y[nodes] / 1000.0,
                         (c["target_met"][sel] == 1).astype(int), cell_km)


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


def zone_targets(scenario: Scenario) -> dict[str, float]:
    """The target (s) of each zone class, keyed by its name."""
    return {str(zone): float(t) for zone, t in scenario.zones.targets.items()}


def coverage_shares(scenario: Scenario, node_times_s: np.ndarray, node_zone: np.ndarray
                    ) -> dict[str, tuple[float, int]]:
    """Per zone class: share of its road nodes reached within its target, and its node count."""
    out = {}
    targets = zone_targets(scenario)
    for zi, zone in enumerate(ZONE_CLASSES):
        sel = node_zone == zi
        n = int(sel.sum())
        share = float(np.mean(node_times_s[sel] <= targets[zone] + 1e-9)) if n else math.nan
        out[zone] = (share, n)
    return out
