"""The road network as flat arrays: what the rest of the simulator works with.

Loading (``sim.network.load``) turns any source into a :class:`RoadNetwork`; the travel-time
oracle (``sim.network.oracle``) builds CSR matrices from it. Nothing downstream touches networkx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LocalFrame", "RoadNetwork"]

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class LocalFrame:
    """Equirectangular projection about an origin: lon/lat degrees <-> local metres (x east, y north).

    Over a city (tens of km) the distortion is far below the precision of the demand model.
    """

    lon0: float
    lat0: float

    @property
    def m_per_deg_lon(self) -> float:
        return _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))

    def to_local(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """Longitude/latitude (degrees) to local x/y (metres)."""
        x = (np.asarray(lon, dtype=float) - self.lon0) * self.m_per_deg_lon
        y = (np.asarray(lat, dtype=float) - self.lat0) * _M_PER_DEG_LAT
        return x, y

    def to_lonlat(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Local x/y (metres) to longitude/latitude (degrees)."""
        lon = self.lon0 + np.asarray(x, dtype=float) / self.m_per_deg_lon
        lat = self.lat0 + np.asarray(y, dtype=float) / _M_PER_DEG_LAT
        return lon, lat


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed, strongly connected, drivable road graph held as numpy arrays.

    Attributes
    ----------
    osmid : OSM node ids, one per node (int64).
    lon, lat : node coordinates (degrees).
    x, y : node coordinates in the local frame (metres).
    edge_u, edge_v : tail and head node index of each directed edge (int32).
    edge_length : edge length (metres).
    edge_class : index into ``classes`` of each edge's OSM ``highway`` class.
    classes : the road classes present, e.g. ``("primary", "residential", ...)``.
    frame : the local projection used for x/y.
    source : a one-line description of where the network came from.
    checksum : SHA-256 of the input the network was built from (file bytes or generator input).
    report : counts from loading: nodes and edges kept and dropped, and why.
    rivers : optional river centre lines for maps, ``{name: [(lon, lat), ...]}``.
    edge_walk_only : True for footways and pedestrian streets: usable on foot, never by car.
    dropped_segments : ``[k, (lon0, lat0, lon1, lat1)]``: the drivable road segments dropped as
        outside the largest strongly connected component (to name a place that lies on them).
    places : the scenario's points placed on this network (``sim.world.places``):
        ``(lon, lat) -> (node index, distance to the road in m)``.
    """

    osmid: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_class: np.ndarray
    classes: tuple[str, ...]
    frame: LocalFrame
    source: str
    checksum: str
    report: dict[str, Any] = field(default_factory=dict)
    rivers: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    edge_walk_only: np.ndarray | None = None
    dropped_segments: np.ndarray | None = None
    places: dict[tuple[float, float], tuple[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.edge_walk_only is None:  # no footways: every edge is a road
            object.__setattr__(self, "edge_walk_only", np.zeros(len(self.edge_u), dtype=bool))

    @property
    def n_nodes(self) -> int:
        return int(self.osmid.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    def edge_speeds(self, speeds: dict[str, float], *, factor: float = 1.0,
                    cap: float | None = None) -> np.ndarray:
        """Speed (m/s) on each edge: the class speed times ``factor``, capped at ``cap``.

        ``speeds`` maps road class to m/s and must hold a ``"default"`` entry for other classes.
        """
        per_class = np.array([speeds.get(c, speeds["default"]) for c in self.classes], dtype=float)
        v = per_class[self.edge_class] * factor
        if cap is not None:
            v = np.minimum(v, cap)
        return np.asarray(v, dtype=float)

    def nearest_node(self, x: float, y: float) -> tuple[int, float]:
        """Index of the node nearest to local point (x, y), and its distance (metres)."""
        d2 = (self.x - x) ** 2 + (self.y - y) ** 2
        i = int(np.argmin(d2))
        return i, float(math.sqrt(d2[i]))

    def edge_length_per_node(self) -> np.ndarray:
        """Half the length of every road touching each node (metres): road length 'owned' by a node.

        A two-way road is two directed edges but one stretch of street; it is counted once.
        """
        lo = np.minimum(self.edge_u, self.edge_v).astype(np.int64)
        hi = np.maximum(self.edge_u, self.edge_v).astype(np.int64)
        _, first = np.unique(lo * self.n_nodes + hi, return_index=True)
        out = np.zeros(self.n_nodes)
        np.add.at(out, lo[first], self.edge_length[first] / 2.0)
        np.add.at(out, hi[first], self.edge_length[first] / 2.0)
        return out
