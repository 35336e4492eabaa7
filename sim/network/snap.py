"""Places on roads: snap points to the nearest drivable edge and insert a node there.

A platform, key location or demand point given by longitude/latitude is placed on the nearest
drivable road, not on the nearest node: the nearest point of the nearest edge (edges are the
straight segments between their end nodes, in the network's local frame). When that point is
farther than :data:`MERGE_M` from both ends, a node is inserted there and every directed edge
between the two ends (both directions of a two-way street, walk-only edges along it too) is
split at it, each piece getting the edge's length in proportion, so travel times along the
street are unchanged and a unit posted there starts exactly where the planner put it.

Inserted nodes get negative ids (-1, -2, ...) and are appended after the network's nodes, so
every existing node keeps its index. Nearest-edge search uses a shapely STRtree; ties go to the
edge with the lowest end-node indices, so the result never depends on the order of the points.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely

from sim.network.graph import RoadNetwork

__all__ = ["MERGE_M", "insert_points", "nearest_road", "nearest_segments", "segments_distance"]

MERGE_M = 0.5
"""A point this close (m) to an edge's end is placed on that end node (no node is inserted)."""


def _drivable_pairs(net: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
    """The undirected end pairs ``(lo, hi)`` of the drivable edges, sorted and unique."""
    walk = net.edge_walk_only if net.edge_walk_only is not None else np.zeros(net.n_edges, bool)
    u, v = net.edge_u[~walk].astype(np.int64), net.edge_v[~walk].astype(np.int64)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = np.unique(lo * net.n_nodes + hi)
    return key // net.n_nodes, key % net.n_nodes


def nearest_segments(seg: np.ndarray, x: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point, the nearest of the segments ``seg[k] = (x0, y0, x1, y1)`` (metres).

    Returns the segment index (ties: the lowest), the position ``t`` in [0, 1] of the nearest
    point along it (0 at its first end) and the distance (m).
    """
    x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
    lines = shapely.linestrings(seg.reshape(-1, 2, 2))
    tree = shapely.STRtree(lines)
    (which_pt, which_line), dist = tree.query_nearest(shapely.points(x, y), all_matches=True,
                                                      return_distance=True)
    best = np.full(len(x), -1, dtype=np.int64)
    best_d = np.full(len(x), np.inf)
    for p, k, d in zip(which_pt, which_line, dist, strict=True):
        if d < best_d[p] or (d == best_d[p] and k < best[p]):
            best[p], best_d[p] = k, d
    x0, y0, x1, y1 = (seg[best, i] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0, ((x - x0) * dx + (y - y0) * dy) / np.where(len2 > 0, len2, 1), 0)
    t = np.clip(t, 0.0, 1.0)
    return best, t, np.hypot(x0 + t * dx - x, y0 + t * dy - y)


def nearest_road(net: RoadNetwork, x: np.ndarray, y: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each local point (m), the nearest drivable edge and the point on it.

    Returns
    -------
    lo, hi : end node indices of the nearest street (``lo < hi``), int64.
    t : position of the nearest point along the street, 0 at ``lo`` and 1 at ``hi``.
    distance : distance (m) from the point to the street.
    """
    lo, hi = _drivable_pairs(net)
    if len(lo) == 0:
        raise ValueError("the network has no drivable road to snap to")
    seg = np.column_stack([net.x[lo], net.y[lo], net.x[hi], net.y[hi]])
    k, t, distance = nearest_segments(seg, x, y)
    return lo[k], hi[k], t, distance


def segments_distance(px: float, py: float, seg: np.ndarray) -> np.ndarray:
    """Distance (m) from a point to each segment ``seg[k] = (x0, y0, x1, y1)`` (local metres)."""
    x0, y0, x1, y1 = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    dx, dy = x1 - x0, y1 - y0
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0, ((px - x0) * dx + (py - y0) * dy) / np.where(len2 > 0, len2, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(np.hypot(x0 + t * dx - px, y0 + t * dy - py))


def insert_points(net: RoadNetwork, x: np.ndarray, y: np.ndarray,
                  nearest: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
                  ) -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
    """Place local points (m) on their nearest drivable edges, inserting nodes where needed.
    ``nearest`` is what :func:`nearest_road` gives for these points on ``net``, if the caller
    has it already (it costs a tree of all the streets).

    Returns
    -------
    net : the network with the inserted nodes (``net`` itself if none was needed).
    nodes : the node index of each point (int64).
    distance : each point's distance (m) to the road it was placed on.
    """
    lo, hi, t, distance = nearest_road(net, x, y) if nearest is None else nearest
    seg_len = np.hypot(net.x[hi] - net.x[lo], net.y[hi] - net.y[lo])
    nodes = np.where(t * seg_len <= MERGE_M, lo, -1)
    nodes = np.where((nodes < 0) & ((1 - t) * seg_len <= MERGE_M), hi, nodes)
    # the cuts to make on each street: distinct positions, points closer than MERGE_M share one
    cuts: dict[tuple[int, int], list[float]] = {}
    for k in np.flatnonzero(nodes < 0):
        cuts.setdefault((int(lo[k]), int(hi[k])), []).append(float(t[k]))
    if not cuts:
        return net, nodes.astype(np.int64), distance
    new_x: list[float] = []
    new_y: list[float] = []
    cut_nodes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for (a, b) in sorted(cuts):
        ts = np.sort(np.asarray(cuts[(a, b)]))
        length = float(np.hypot(net.x[b] - net.x[a], net.y[b] - net.y[a]))
        keep = np.concatenate(([True], np.diff(ts) * length > MERGE_M))
        ts = ts[keep]
        ids = net.n_nodes + len(new_x) + np.arange(len(ts))
        new_x.extend(net.x[a] + ts * (net.x[b] - net.x[a]))
        new_y.extend(net.y[a] + ts * (net.y[b] - net.y[a]))
        cut_nodes[(a, b)] = (ts, ids)
    for k in np.flatnonzero(nodes < 0):
        ts, ids = cut_nodes[(int(lo[k]), int(hi[k]))]
        nodes[k] = ids[int(np.argmin(np.abs(ts - t[k])))]

    eu, ev = net.edge_u.astype(np.int64), net.edge_v.astype(np.int64)
    pair_lo, pair_hi = np.minimum(eu, ev), np.maximum(eu, ev)
    walk = net.edge_walk_only if net.edge_walk_only is not None else np.zeros(net.n_edges, bool)
    split = np.zeros(net.n_edges, dtype=bool)
    out_u: list[int] = []
    out_v: list[int] = []
    out_len: list[float] = []
    out_cls: list[int] = []
    out_walk: list[bool] = []
    for (a, b), (ts, ids) in cut_nodes.items():
        for e in np.flatnonzero((pair_lo == a) & (pair_hi == b)):
            split[e] = True
            forward = eu[e] == a  # positions t run from a to b
            chain = [a, *ids.tolist(), b]
            pos = np.concatenate(([0.0], ts, [1.0]))
            if not forward:
                chain, pos = chain[::-1], 1.0 - pos[::-1]
            for i in range(len(chain) - 1):
                out_u.append(chain[i])
                out_v.append(chain[i + 1])
                out_len.append(float(net.edge_length[e]) * float(pos[i + 1] - pos[i]))
                out_cls.append(int(net.edge_class[e]))
                out_walk.append(bool(walk[e]))
    keep_e = ~split
    lon_new, lat_new = net.frame.to_lonlat(np.asarray(new_x), np.asarray(new_y))
    first_id = min(0, int(net.osmid.min())) - 1
    report = dict(net.report)
    report["nodes_inserted_for_places"] = report.get("nodes_inserted_for_places", 0) + len(new_x)
    augmented = dataclasses.replace(
        net,
        osmid=np.concatenate([net.osmid, first_id - np.arange(len(new_x), dtype=np.int64)]),
        lon=np.concatenate([net.lon, lon_new]), lat=np.concatenate([net.lat, lat_new]),
        x=np.concatenate([net.x, new_x]), y=np.concatenate([net.y, new_y]),
        edge_u=np.concatenate([net.edge_u[keep_e], np.asarray(out_u, dtype=net.edge_u.dtype)]),
        edge_v=np.concatenate([net.edge_v[keep_e], np.asarray(out_v, dtype=net.edge_v.dtype)]),
        edge_length=np.concatenate([net.edge_length[keep_e], out_len]),
        edge_class=np.concatenate([net.edge_class[keep_e],
                                   np.asarray(out_cls, dtype=net.edge_class.dtype)]),
        edge_walk_only=np.concatenate([walk[keep_e], np.asarray(out_walk, dtype=bool)]),
        report=report,
    )
    return augmented, nodes.astype(np.int64), distance
