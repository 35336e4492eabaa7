"""Zone classes on the road network: key locations, the central city, and the other urban area.

Each node gets one zone class by precedence (key > central > other) and, when it is in a key
location, the index of the nearest such location. Targets are looked up by zone class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.network.graph import LocalFrame, RoadNetwork
from sim.scenario import ZONE_CLASSES, Zones

__all__ = ["ZoneMap", "classify_nodes", "points_in_polygon"]


def points_in_polygon(x: np.ndarray, y: np.ndarray, ring_x: np.ndarray, ring_y: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points (x, y) lie inside the closed ring (vectorised ray casting)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = np.zeros(x.shape, dtype=bool)
    for i in range(len(ring_x) - 1):
        x0, y0, x1, y1 = ring_x[i], ring_y[i], ring_x[i + 1], ring_y[i + 1]
        if y0 == y1:
            continue
        crosses = (y0 > y) != (y1 > y)
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


@dataclass(frozen=True)
class ZoneMap:
    """Zone class of every node.

    Attributes
    ----------
    zone : zone class index per node (0 key, 1 central, 2 other; see ``config.ZONE_CLASSES``).
    key_location : index of the key location a node belongs to, or -1.
    targets : response-time target (s) per zone class index.
    """

    zone: np.ndarray
    key_location: np.ndarray
    targets: np.ndarray

    def counts(self) -> dict[str, int]:
        return {name: int(np.sum(self.zone == i)) for i, name in enumerate(ZONE_CLASSES)}


def classify_nodes(net: RoadNetwork, zones: Zones, frame: LocalFrame | None = None) -> ZoneMap:
    """Give each node of ``net`` its zone class (key > central > other)."""
    frame = frame or net.frame
    ring = np.asarray(zones.central_city, dtype=float)
    rx, ry = frame.to_local(ring[:, 0], ring[:, 1])
    zone = np.full(net.n_nodes, ZONE_CLASSES.index("other"), dtype=np.int8)
    zone[points_in_polygon(net.x, net.y, rx, ry)] = ZONE_CLASSES.index("central")
    key_loc = np.full(net.n_nodes, -1, dtype=np.int32)
    best = np.full(net.n_nodes, np.inf)
    for i, k in enumerate(zones.key_locations):
        kx, ky = frame.to_local(k.lon, k.lat)
        d = np.hypot(net.x - kx, net.y - ky)
        hit = (d <= k.radius) & (d < best)
        key_loc[hit] = i
        best[hit] = d[hit]
    zone[key_loc >= 0] = ZONE_CLASSES.index("key")
    by_class: dict[str, float] = {str(k): float(v) for k, v in zones.targets.items()}
    targets = np.array([by_class[z] for z in ZONE_CLASSES], dtype=np.float64)
    return ZoneMap(zone=zone, key_location=key_loc, targets=targets)
