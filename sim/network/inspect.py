"""A road network described for a planner placing posts: its extent and size, what loading
dropped and why, and the road and node nearest a point. Distances in metres, angles in degrees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.network.graph import RoadNetwork

__all__ = ["Nearest", "describe", "nearest"]


@dataclass(frozen=True)
class Nearest:
    """The node and the road (directed edge) nearest a point, and their distances (m)."""

    node: int
    node_osmid: int
    node_lon: float
    node_lat: float
    node_m: float
    edge: int
    road_class: str
    road_m: float
    edge_length_m: float
    foot_only: bool
    point_on_road: tuple[float, float]
    """(lon, lat) of the closest point on that road."""


def describe(net: RoadNetwork) -> dict[str, Any]:
    """Extent (lon/lat and km), size (nodes, edges, km of road by class) and the loading report."""
    lon0, lon1 = float(net.lon.min()), float(net.lon.max())
    lat0, lat1 = float(net.lat.min()), float(net.lat.max())
    km_by_class: dict[str, float] = {}
    for ci, cls in enumerate(net.classes):
        km_by_class[cls] = float(net.edge_length[net.edge_class == ci].sum()) / 1000.0
    return {
        "source": net.source,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "bbox": (lon0, lat0, lon1, lat1),
        "width_km": float(np.ptp(net.x)) / 1000.0,
        "height_km": float(np.ptp(net.y)) / 1000.0,
        "road_km": dict(sorted(km_by_class.items(), key=lambda kv: -kv[1])),
        "report": dict(net.report),
        "polygon": [(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)],
    }


def nearest(net: RoadNetwork, lon: float, lat: float) -> Nearest:
    """The node and the road nearest (``lon``, ``lat``), by straight-line distance on the local
    frame (brute force over every node and edge: exact, and fast enough for one point)."""
    px, py = net.frame.to_local(lon, lat)
    px, py = float(px), float(py)
    d_node = np.hypot(net.x - px, net.y - py)
    node = int(np.argmin(d_node))
    ax_, ay_ = net.x[net.edge_u], net.y[net.edge_u]
    bx_, by_ = net.x[net.edge_v], net.y[net.edge_v]
    dx, dy = bx_ - ax_, by_ - ay_
    seg2 = dx * dx + dy * dy
    t = np.clip(np.divide((px - ax_) * dx + (py - ay_) * dy, seg2, out=np.zeros_like(seg2), where=seg2 > 0),
                0.0, 1.0)
    cx, cy = ax_ + t * dx, ay_ + t * dy
    d_edge = np.hypot(cx - px, cy - py)
    edge = int(np.argmin(d_edge))
    on_lon, on_lat = net.frame.to_lonlat(cx[edge], cy[edge])
    walk = net.edge_walk_only
    return Nearest(node=node, node_osmid=int(net.osmid[node]), node_lon=float(net.lon[node]),
                   node_lat=float(net.lat[node]), node_m=float(d_node[node]), edge=edge,
                   road_class=net.classes[int(net.edge_class[edge])], road_m=float(d_edge[edge]),
                   edge_length_m=float(net.edge_length[edge]),
                   foot_only=bool(walk[edge]) if walk is not None else False,
                   point_on_road=(float(on_lon), float(on_lat)))
