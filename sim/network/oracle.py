"""Travel-time oracle: shortest driving times on the road graph with scipy.sparse.csgraph.

One oracle serves one speed profile (a unit type's speeds). It holds the graph as a CSR matrix
of edge travel times (seconds) and its transpose, and answers three questions:

- ``from_node(s)``: times from ``s`` to every node (a forward Dijkstra, cached). Used for the
  posts where idle units wait, so the common dispatch case is one array lookup.
- ``to_node(t)``: times from every node to ``t`` and the next hop towards ``t`` (a reverse
  Dijkstra, cached). Used for routes back to a post.
- ``times_to(t, limit)``: times from every node to ``t`` within ``limit`` seconds (a limited
  reverse Dijkstra, LRU-cached).
- ``time_within(s, t, limit)``: the one time from ``s`` to ``t``, if within ``limit`` (a
  goal-directed search, :mod:`sim.network.kernels`, with the same result as the Dijkstra). Used
  for units on the move, only when a cheap lower bound says they might beat the best idle unit.

Parallel edges keep the fastest one (not the sum, which is what a plain CSR build would do).
networkx is never used here.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.network.graph import RoadNetwork
from sim.network.kernels import (
    OVERFLOW,
    compiled_for,
    goal_route,
    goal_time,
    landmark_bound,
    might_reach,
    walk_route,
    walk_routes,
)

__all__ = ["LANDMARKS", "TravelTimeOracle", "edge_times"]

LANDMARKS = 16
"""Landmarks per oracle (:meth:`TravelTimeOracle.landmark_bound`). Sixteen rather than eight
make the goal-directed search settle fewer nodes (a tenth less time a search on the default
network) for 256 bytes a node."""


def edge_times(net: RoadNetwork, speeds: dict[str, float], *, factor: float = 1.0,
               cap: float | None = None, edge_speed: np.ndarray | None = None) -> np.ndarray:
    """Travel time (s) on each edge for class speeds (m/s), a speed factor and a speed cap (m/s).

    ``edge_speed`` (m/s per edge, e.g. rural road speeds) replaces the class speeds when given."""
    if edge_speed is None:
        v = net.edge_speeds(speeds, factor=factor, cap=cap)
    else:
        v = np.asarray(edge_speed, dtype=float) * factor
        v = v if cap is None else np.minimum(v, cap)
    return np.asarray(net.edge_length / v, dtype=float)


def _csr_min(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> csr_matrix:
    """CSR matrix keeping the minimum weight among parallel edges u->v (infinite ones dropped),
    its column indices sorted in each row. One stable sort of the edges by ``(u, v)`` and a
    minimum per run of equal pairs (a tenth of the time of sorting by weight too, per oracle)."""
    finite = np.isfinite(w)
    if not finite.all():
        u, v, w = u[finite], v[finite], w[finite]
    key = np.asarray(u, dtype=np.int64) * n + np.asarray(v, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    key, w = key[order], np.asarray(w, dtype=float)[order]
    first = np.flatnonzero(np.diff(key, prepend=-1))  # where each pair's run starts
    data = np.minimum.reduceat(w, first)
    key = key[first]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(key // n, minlength=n), out=indptr[1:])
    m = csr_matrix((data, (key % n).astype(np.int32), indptr), shape=(n, n))
    m.has_sorted_indices = True
    return m


_Row = TypeVar("_Row")


def _move_kept(cache: OrderedDict[int, _Row], kept: dict[int, _Row], keep: AbstractSet[int],
               size: int) -> None:
    """Move the rows of targets in ``keep`` from an LRU ``cache`` to ``kept`` (the most recently
    used first, while ``kept`` holds fewer than ``size``), and empty the cache."""
    for target in reversed(cache):
        if len(kept) >= size:
            break
        if target in keep:
            kept[target] = cache[target]
    cache.clear()


def _curve_order(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """The nodes in the order of a Hilbert curve through their positions (``x, y``, m): nodes
    near each other on the ground mostly come near each other in this order. Ties (nodes on
    one cell of the ``2**bits`` grid) keep their node order."""
    side = 1 << bits
    span_x, span_y = float(np.ptp(x)) or 1.0, float(np.ptp(y)) or 1.0
    cx = ((x - x.min()) / span_x * (side - 1)).astype(np.int64)
    cy = ((y - y.min()) / span_y * (side - 1)).astype(np.int64)
    d = np.zeros(len(cx), dtype=np.int64)
    s = side >> 1
    while s > 0:  # each level: the quadrant, then the turn that keeps the curve connected
        rx = (cx & s) > 0
        ry = (cy & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = ~ry & rx
        cx = np.where(flip, side - 1 - cx, cx)
        cy = np.where(flip, side - 1 - cy, cy)
        cx, cy = np.where(ry, cx, cy), np.where(ry, cy, cx)
        s >>= 1
    return np.argsort(d, kind="stable")


@dataclass
class _GoalInputs:
    """What the goal-directed searches (:mod:`sim.network.kernels`) read, and their workspaces
    (reused by every search).

    They read the reversed graph in CSR with its nodes renumbered along a Hilbert curve
    (``near_of[v]``: node v's number there; ``order``: the other way), and the landmark table
    (each node's times from and to the landmarks, one row) in single precision, less a slack
    that covers its rounding. A search then touches about half as much memory as with the
    original numbering and double precision, mostly in neighbouring cache lines, and runs
    about a third faster. Renumbering cannot change a shortest time, only the order in which
    nodes are settled (see :mod:`sim.network.kernels`); of several equally fast routes the
    route search keeps the one it finds first, always the same one for a graph.
    """

    near_of: list[int]
    order: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    lm: np.ndarray
    slack: float
    dist: np.ndarray  # all inf between searches
    touched: np.ndarray
    heap_key: np.ndarray
    heap_node: np.ndarray
    heap_time: np.ndarray
    pred: np.ndarray  # next hops of the route search, and its route
    path: np.ndarray
    times: np.ndarray


class TravelTimeOracle:
    """Shortest travel times (seconds) for one speed profile.

    Parameters
    ----------
    net : the road network.
    edge_time : travel time (s) of each of ``net``'s directed edges; must be positive (``inf``:
        the edge cannot be used).
    lru_size : how many limited reverse searches to keep.
    both_ways : every edge may also be used against its direction (people on foot ignore
        one-way streets).
    """

    def __init__(self, net: RoadNetwork, edge_time: np.ndarray, *, lru_size: int = 1024,
                 both_ways: bool = False) -> None:
        edge_time = np.asarray(edge_time, dtype=float)
        if edge_time.shape != (net.n_edges,) or np.any(~(edge_time > 0)):
            raise ValueError("edge_time needs one positive travel time per edge")
        self.n = net.n_nodes
        u, v, w = net.edge_u, net.edge_v, edge_time
        if both_ways:
            u, v, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
        self.forward = _csr_min(self.n, u, v, w)
        self.reverse = self.forward.transpose().tocsr()
        self.reverse.sort_indices()
        usable = np.isfinite(edge_time)
        self.max_speed_mps = float(np.max(net.edge_length[usable] / edge_time[usable]))
        self._x, self._y = net.x, net.y
        self._from: dict[int, np.ndarray] = {}
        self._to: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        # full reverse rows (times and next hops, 16 bytes a node) are kept for the targets used
        # most recently: posts and waypoints stay, incident scenes come and go (about 32 MB)
        self._to_size = max(64, 1_500_000 // max(self.n, 1))
        self._limited: OrderedDict[int, tuple[float, np.ndarray]] = OrderedDict()
        # limited searches of incident nodes: at most lru_size, and at most about 50 MB of them
        self._lru_size = min(lru_size, max(32, 6_500_000 // max(self.n, 1)))
        # rows of the targets every run asks for (posts, loop waypoints, presence points), moved
        # out of the LRUs at the end of a run (:meth:`end_run`): plain lookups, never evicted
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._kept_size = max(64, 3_000_000 // max(self.n, 1))  # rows each: ~50 MB a store at most
        self.searches = 0  # number of Dijkstra runs, for benchmarks
        # landmark rows (times from and to a few far-apart nodes, per node), built when first asked
        self._landmarks: tuple[np.ndarray, np.ndarray] | None = None  # [node, landmark] from, to
        self.landmark_searches = 0  # the part of ``searches`` that built the landmark rows
        # the goal-directed search's inputs and workspaces, built when first asked
        self._goal: _GoalInputs | None = None
        self.goal_searches = 0  # time_within() answered by the goal-directed search
        # the compiled bound check and search for these arrays' types, called directly
        # (kernels.compiled_for): bound when first used, once the arrays are fixed
        self._reach: tuple[Callable[..., bool], np.ndarray, np.ndarray, np.ndarray,
                           np.ndarray] | None = None
        self._goal_time: Callable[..., float] | None = None
        self._signature: str | None = None

    def from_node(self, source: int) -> np.ndarray:
        """Times (s) from ``source`` to every node (read-only, cached)."""
        row = self._from.get(source)
        if row is None:
            row = dijkstra(self.forward, directed=True, indices=source)
            row.setflags(write=False)
            self._from[source] = row
            self.searches += 1
        return row

    def to_node(self, target: int) -> tuple[np.ndarray, np.ndarray]:
        """Times (s) from every node to ``target``, and each node's next hop towards it (cached)."""
        hit = self._kept.get(target)
        if hit is not None:
            return hit
        hit = self._to.get(target)
        if hit is None:
            times, nxt = dijkstra(self.reverse, directed=True, indices=target, return_predecessors=True)
            times.setflags(write=False)
            nxt.setflags(write=False)
            hit = (times, nxt)
            self._to[target] = hit
            self.searches += 1
            if len(self._to) > self._to_size:  # bounded: the least recently used goes
                self._to.popitem(last=False)
        else:
            self._to.move_to_end(target)
        return hit

    def times_to(self, target: int, limit: float) -> np.ndarray:
        """Times (s) from every node to ``target``, exact up to ``limit`` seconds.

        Beyond ``limit`` a time is ``inf``, or exact if a wider search is cached and reused.
        """
        full = self._kept.get(target) or self._to.get(target)
        if full is not None:
            return full[0]
        hit = self._limited.get(target)
        if hit is not None and hit[0] >= limit:
            self._limited.move_to_end(target)
            return hit[1]
        times = dijkstra(self.reverse, directed=True, indices=target, limit=limit)
        times.setflags(write=False)
        self.searches += 1
        self._limited[target] = (limit, times)
        self._limited.move_to_end(target)
        if len(self._limited) > self._lru_size:
            self._limited.popitem(last=False)
        return np.asarray(times)

    goal_directed = True
    """Whether :meth:`time_within` uses the goal-directed search (else a limited Dijkstra; the
    two give the same times, which the tests check by switching this off)."""

    def time_within(self, source: int, target: int, limit: float) -> float:
        """The shortest time (s) from ``source`` to ``target`` if at most ``limit``; beyond it
        ``inf`` (or the exact time, when a full row of ``target`` is cached).

        One A* search on the reversed graph from ``target``, guided by the landmark bound
        (:func:`sim.network.kernels.goal_time`): tens of microseconds where a limited Dijkstra
        costs hundreds, and the same floating-point time.
        """
        full = self._kept.get(target) or self._to.get(target)
        if full is not None:
            return float(full[0][source])
        if not self.goal_directed:
            return float(self.times_to(target, limit)[source])
        g = self._goal
        if g is None:
            g = self._goal = self._goal_inputs()
        search = self._goal_time
        if search is None:
            search = self._goal_time = compiled_for(
                goal_time, g.indptr, g.indices, g.weights, 0, 0, 1.0, g.lm, g.slack, g.dist,
                g.touched, g.heap_key, g.heap_node, g.heap_time)
        near = g.near_of
        t: float = search(g.indptr, g.indices, g.weights, near[target], near[source], limit, g.lm,
                          g.slack, g.dist, g.touched, g.heap_key, g.heap_node, g.heap_time)
        if t == OVERFLOW:  # (a heap too small for a pathological search: never seen so far)
            return float(self.times_to(target, limit)[source])
        self.goal_searches += 1
        return t

    def route(self, source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
        """A fastest route from ``source`` to ``target`` (node indices, both included) and each
        node's time (s) to ``target``, by the goal-directed search (never cached). Of several
        equally fast routes it takes the one its search finds first, always the same one."""
        g = self._goal
        if g is None:
            g = self._goal = self._goal_inputs()
        near = g.near_of
        n: int = goal_route(g.indptr, g.indices, g.weights, near[target], near[source], g.lm,
                            g.slack, g.dist, g.touched, g.heap_key, g.heap_node, g.heap_time,
                            g.pred, g.path, g.times)
        if n == 0:
            raise ValueError(f"node {target} cannot be reached from node {source}")
        self.goal_searches += 1
        if n < 0:  # (a heap too small for a pathological search: never seen so far)
            path = self.path_to(source, target)
            return path, np.asarray(self.to_node(target)[0][path])
        return g.order[g.path[:n]], g.times[:n].copy()

    def _goal_inputs(self) -> _GoalInputs:
        """The inputs and workspaces of the goal-directed searches (about 20 bytes per edge and
        150 per node)."""
        fwd, rev = self._landmark_rows()
        lm = np.concatenate([fwd, rev], axis=1)
        order = _curve_order(np.asarray(self._x, dtype=float), np.asarray(self._y, dtype=float))
        near_of = np.empty(self.n, dtype=np.int64)
        near_of[order] = np.arange(self.n)
        coo = self.reverse.tocoo()
        near = csr_matrix((coo.data, (near_of[coo.row], near_of[coo.col])), shape=coo.shape)
        near.sort_indices()
        # single precision: each entry within |t| 2**-24 of its time, so a difference of two
        # within 2**-23 of the largest finite one; twice that is the slack
        finite = lm[lm < 1e29]
        slack = float(finite.max(initial=0.0)) * 2.0 ** -22 + 1e-6
        return self._goal_of(order, near.indptr.astype(np.int32), near.indices.astype(np.int32),
                             near.data.astype(np.float64),
                             np.ascontiguousarray(lm[order], dtype=np.float32), slack)

    def _goal_of(self, order: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                 weights: np.ndarray, lm: np.ndarray, slack: float) -> _GoalInputs:
        """:class:`_GoalInputs` of these arrays (made read-only: built or stored, the compiled
        searches then see one type), with fresh workspaces."""
        for a in (order, indptr, indices, weights, lm):
            a.setflags(write=False)
        near_of = np.empty(self.n, dtype=np.int64)
        near_of[order] = np.arange(self.n)
        cap = 2 * len(indices) + 16  # heap entries: one per time improved (nodes may be reopened)
        return _GoalInputs(near_of.tolist(), order, indptr, indices, weights, lm, slack,
                           np.full(self.n, np.inf), np.empty(self.n, dtype=np.int64),
                           np.empty(cap), np.empty(cap, dtype=np.int64), np.empty(cap),
                           np.empty(self.n, dtype=np.int64), np.empty(self.n, dtype=np.int64),
                           np.empty(self.n))

    def end_run(self, keep: AbstractSet[int]) -> None:
        """Drop what one engine run cached for its incident scenes: the limited searches, and the
        full reverse rows and next hops of targets not in ``keep``. Those of targets in ``keep``
        (posts, loop nodes and presence points, which every run asks for) move to a store that
        is never evicted (up to about 50 MB of rows; the rest are searched again when asked).

        No result depends on these caches. Kept across runs, the scenes' rows would fill their
        LRUs over many replications, and memory would keep growing long after the first; the
        kept store is bounded by ``keep``.
        """
        self._limited.clear()
        _move_kept(self._to, self._kept, keep, self._kept_size)

    @property
    def signature(self) -> str:
        """A checksum (sha256) of the graph and its edge times: what stored rows depend on."""
        if self._signature is None:
            h = hashlib.sha256()
            for part in (self.forward.indptr, self.forward.indices, self.forward.data):
                h.update(np.ascontiguousarray(part).tobytes())
            self._signature = h.hexdigest()
        return self._signature

    def export_rows(self, keep: AbstractSet[int]) -> dict[str, np.ndarray]:
        """The rows worth keeping between processes, as arrays to store: forward rows of sources
        in ``keep`` (posts), the kept reverse rows and next hops, and the landmark rows."""
        src = sorted(s for s in self._from if s in keep)
        dst = sorted(self._kept)
        empty = np.empty((0, self.n))
        out = {"from_nodes": np.array(src, dtype=np.int64),
               "from_rows": np.stack([self._from[s] for s in src]) if src else empty,
               "to_nodes": np.array(dst, dtype=np.int64),
               "to_times": np.stack([self._kept[t][0] for t in dst]) if dst else empty,
               "to_pred": (np.stack([self._kept[t][1] for t in dst]) if dst else empty).astype(np.int32)}
        if self._landmarks is not None:
            out["landmarks_fwd"], out["landmarks_rev"] = self._landmarks
        g = self._goal
        if g is not None:  # (with the positions its node order was made from)
            out.update(goal_order=g.order, goal_indptr=g.indptr, goal_indices=g.indices,
                       goal_weights=g.weights, goal_lm=g.lm, goal_slack=np.array([g.slack]),
                       goal_x=np.asarray(self._x, dtype=float), goal_y=np.asarray(self._y, dtype=float))
        return out

    def export_count(self, keep: AbstractSet[int]) -> int:
        """How many rows :meth:`export_rows` would store (landmarks count as one, and so do the
        goal-directed search's inputs)."""
        return (sum(1 for s in self._from if s in keep) + len(self._kept)
                + (self._landmarks is not None) + (self._goal is not None))

    def import_rows(self, arrays: Mapping[str, np.ndarray]) -> int:
        """Take rows that :meth:`export_rows` stored (for this same graph and edge times: the
        caller's check) where none are cached yet; arrays of the wrong shape are ignored.
        Returns how many rows were taken."""
        n, taken = self.n, 0
        src, rows = arrays.get("from_nodes"), arrays.get("from_rows")
        if src is not None and rows is not None and rows.shape == (len(src), n) \
                and rows.dtype == np.float64:
            rows.setflags(write=False)
            for i, s in enumerate(src.tolist()):
                if s not in self._from:
                    self._from[s] = rows[i]
                    taken += 1
        dst, times, pred = arrays.get("to_nodes"), arrays.get("to_times"), arrays.get("to_pred")
        if dst is not None and times is not None and pred is not None \
                and times.shape == pred.shape == (len(dst), n) and times.dtype == np.float64 \
                and pred.dtype == np.int32:
            times.setflags(write=False)
            pred.setflags(write=False)
            for i, t in enumerate(dst.tolist()):
                if t not in self._kept and len(self._kept) < self._kept_size:
                    self._kept[t] = (times[i], pred[i])
                    taken += 1
        fwd, rev = arrays.get("landmarks_fwd"), arrays.get("landmarks_rev")
        if self._landmarks is None and fwd is not None and rev is not None \
                and fwd.shape == rev.shape and fwd.ndim == 2 and fwd.shape[0] == n \
                and fwd.shape[1] >= min(LANDMARKS, n) and fwd.dtype == rev.dtype == np.float64:
            fwd.setflags(write=False)
            rev.setflags(write=False)
            self._landmarks = (np.ascontiguousarray(fwd), np.ascontiguousarray(rev))
            taken += 1
        if self._goal is None and self._import_goal(arrays):
            taken += 1
        return taken

    def _import_goal(self, arrays: Mapping[str, np.ndarray]) -> bool:
        """Take the goal-directed search's stored inputs if they are whole, of the right shapes
        and types, and made from this network's node positions (the node order is)."""
        names = ("goal_order", "goal_indptr", "goal_indices", "goal_weights", "goal_lm",
                 "goal_slack", "goal_x", "goal_y")
        if any(name not in arrays for name in names):
            return False
        order, indptr, indices, weights, lm, slack, x, y = (arrays[name] for name in names)
        n, nnz = self.n, self.reverse.nnz
        if not (order.shape == x.shape == y.shape == (n,) and order.dtype == np.int64
                and indptr.shape == (n + 1,) and indptr.dtype == indices.dtype == np.int32
                and indices.shape == weights.shape == (nnz,) and weights.dtype == np.float64
                and lm.ndim == 2 and lm.shape[0] == n and lm.dtype == np.float32
                and slack.shape == (1,) and slack.dtype == np.float64
                and np.array_equal(x, np.asarray(self._x, dtype=float))
                and np.array_equal(y, np.asarray(self._y, dtype=float))):
            return False
        self._goal = self._goal_of(order, indptr, indices, weights, lm, float(slack[0]))
        return True

    def time(self, source: int, target: int) -> float:
        """Shortest travel time (s) from ``source`` to ``target``."""
        if source in self._from:
            return float(self._from[source][target])
        return float(self.to_node(target)[0][source])

    def path_to(self, source: int, target: int) -> np.ndarray:
        """Node indices of a fastest route from ``source`` to ``target`` (both included), along
        the next hops of :meth:`to_node`."""
        pred = self.to_node(target)[1]
        path = [source]
        node = source
        while node != target:
            node = int(pred[node])
            if node < 0:
                raise ValueError(f"node {target} cannot be reached from node {source}")
            path.append(node)
        return np.array(path, dtype=np.int64)

    def along_route(self, source: int, target: int, elapsed: float) -> tuple[int, float]:
        """Where a trip on the fastest route from ``source`` to ``target`` is ``elapsed`` seconds
        after it left: the next node it reaches (the first whose time from the start is at least
        ``elapsed``), and in how long (s); ``(target, 0.0)`` once there. Walks only as far as
        needed (compiled: :func:`sim.network.kernels.walk_route`)."""
        times, pred = self.to_node(target)
        node, left = walk_route(pred, times, source, target, elapsed)
        if node < 0:
            raise ValueError(f"node {target} cannot be reached from node {source}")
        return node, left

    def along_routes(self, sources: np.ndarray, target: int, elapsed: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`along_route` for many trips to one ``target``: the next node of each and the
        time (s) to it, as arrays."""
        times, pred = self.to_node(target)
        sources = np.ascontiguousarray(sources, dtype=np.int64)
        node = np.empty(sources.size, dtype=np.int64)
        left = np.empty(sources.size)
        bad = walk_routes(pred, times, sources, target,
                          np.ascontiguousarray(elapsed, dtype=np.float64), node, left)
        if bad >= 0:
            raise ValueError(f"node {target} cannot be reached from node {sources[bad]}")
        return node, left

    def cumulative_times(self, path: np.ndarray) -> np.ndarray:
        """Arrival time offsets (s) at each node of ``path``, starting at 0."""
        if len(path) < 2:
            return np.zeros(len(path))
        legs = np.asarray(self.forward[path[:-1], path[1:]]).ravel()
        return np.concatenate(([0.0], np.cumsum(legs)))

    def lower_bound(self, source: int, target: int) -> float:
        """A cheap lower bound (s) on the travel time: straight-line distance at the top speed."""
        d = float(np.hypot(self._x[source] - self._x[target], self._y[source] - self._y[target]))
        return 0.98 * d / self.max_speed_mps  # 2% margin for projection error

    def might_reach(self, source: int, target: int, limit: float, top_speed: float) -> bool:
        """Whether no cheap lower bound rules out a trip from ``source`` to ``target`` within
        ``limit`` s: the straight line at ``top_speed`` (m/s: the free-flow top speed is valid in
        every congestion period), then this oracle's landmark bound; one compiled call
        (:func:`sim.network.kernels.might_reach`, called directly), about 0.6 us where the two
        methods cost 6."""
        bound = self._reach
        if bound is None:
            fwd, rev = self._landmark_rows()
            bound = self._reach = (compiled_for(might_reach, self._x, self._y, 1.0, fwd, rev, 0, 0,
                                                1.0), self._x, self._y, fwd, rev)
        reach, x, y, fwd, rev = bound
        ok: bool = reach(x, y, top_speed, fwd, rev, source, target, limit)
        return ok

    def landmark_bound(self, source: int, target: int) -> float:
        """A lower bound (s) on the travel time from ``source`` to ``target`` by the triangle
        inequality over a few landmarks L (the ALT bound): ``T(L, target) - T(L, source)`` and
        ``T(source, L) - T(target, L)``, less a hair of slack, never negative. Much tighter than
        :meth:`lower_bound` on a road network; the same bound :meth:`might_reach` and the
        goal-directed search use (:func:`sim.network.kernels.landmark_bound`)."""
        fwd, rev = self._landmark_rows()
        bound: float = landmark_bound(fwd, rev, source, target)
        return bound

    def _landmark_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._landmarks is None:
            self._landmarks = self._build_landmarks()
        return self._landmarks

    def _build_landmarks(self, k: int = LANDMARKS) -> tuple[np.ndarray, np.ndarray]:
        """Times from and to ``k`` landmarks picked far apart (each the node farthest from those
        picked so far, by driving time; ties to the lower node), as read-only ``[node,
        landmark]`` matrices (16 bytes a node and landmark)."""
        picked: list[int] = []
        rows: list[np.ndarray] = []
        nearest = dijkstra(self.forward, directed=True, indices=0)
        self.searches += 1
        for _ in range(min(k, self.n)):
            far = np.where(np.isfinite(nearest), nearest, -1.0)
            node = int(np.argmax(far))
            if node in picked:
                break
            picked.append(node)
            rows.append(dijkstra(self.forward, directed=True, indices=node))
            nearest = np.minimum(nearest, rows[-1]) if len(picked) > 1 else rows[-1]
        back = dijkstra(self.reverse, directed=True, indices=picked)
        self.searches += 2 * len(picked)
        self.landmark_searches += 1 + 2 * len(picked)
        big = 1e30  # unreachable: a finite stand-in keeps the differences free of NaN
        fwd = np.ascontiguousarray(np.where(np.isfinite(np.stack(rows)), np.stack(rows), big).T)
        rev = np.ascontiguousarray(np.where(np.isfinite(back), back, big).reshape(len(picked), -1).T)
        fwd.setflags(write=False)
        rev.setflags(write=False)
        return fwd, rev
