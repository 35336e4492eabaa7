"""Compiled (numba) kernels of the travel-time oracle: the walks and searches the engine runs
thousands of times a year, where a Python loop or a full scipy call costs too much.

- :func:`goal_time`: one shortest time between two nodes, by a goal-directed search; and
  :func:`goal_route`, the same search keeping the route.
- :func:`might_reach`: whether two lower bounds (straight line, landmarks) leave a trip
  within a time limit: the check that decides whether a search is needed at all.
- :func:`walk_route`: where a trip along a fastest route is after some seconds (and
  :func:`walk_routes`, for many trips to one target at once).

**goal_time.** The engine asks "how long from where this moving unit is to the scene, if under ``limit``?"
thousands of times a year. A bounded Dijkstra from the scene answers it for every node, and on
this size of network costs 0.3-0.6 ms (most of it spent on nodes far from the unit). An A*
search guided by the landmark (ALT) lower bound visits only the nodes that could lie on a
route from the unit to the scene, in tens of microseconds. Most of that is waiting for memory
(the same search repeated at once runs 3-4 times faster), so the oracle gives it the graph with
its nodes renumbered along a Hilbert curve and the landmark table in single precision
(:class:`sim.network.oracle._GoalInputs`).

**It gives the same floating-point time as the Dijkstra.** The search runs backwards from the
scene on the reversed graph, as the Dijkstra does, so a node's time is the sum of edge times
added up from the scene outwards. Both searches settle the same equations (a node's time is the
least over its out-edges of the edge time plus the neighbour's time). With positive edge times
these have exactly one solution, whatever order nodes are settled in. A node is reopened when a
smaller time reaches it, so a slightly inconsistent bound cannot leave a wrong time behind. The
bound is admissible with a margin (``1e-9`` relative plus a slack: ``1e-6`` s, plus what the
table's single-precision rounding could add), so when the unit's node comes off the heap its
time is final; a test puts the limit at exactly the time to check the slack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, typeof

__all__ = ["OVERFLOW", "compiled_for", "goal_route", "goal_time", "landmark_bound", "might_reach",
           "walk_route", "walk_routes"]


def compiled_for(fn: Any, *args: Any) -> Callable[..., Any]:
    """The machine code that the numba function ``fn`` runs for arguments of the types of
    ``args`` (compiled, or read from its disk cache, if it is not loaded yet), to be called
    directly, as ``fn`` is.

    A call through ``fn`` first types each argument to choose among its compiled versions:
    about 0.1 us an array and 1 us a numba structure (:mod:`sim.engine.tables`), as much as
    the work of a small kernel. The function returned skips that step, so it must only be given
    arguments of exactly those types: the same arrays, or arrays of the same dtype, dimensions,
    layout and writeability, and Python numbers of the same kinds. Bind it beside the arrays
    it serves and call it with them only. ``args`` are only typed, not passed to ``fn``.
    """
    entry: Callable[..., Any] = fn.compile(tuple(typeof(a) for a in args))
    return entry

OVERFLOW = -1.0
"""What :func:`goal_time` returns when its heap was too small (the caller searches otherwise)."""


@njit(cache=True, nogil=True)
def landmark_bound(fwd: np.ndarray, rev: np.ndarray, source: int,
                   node: int) -> float:  # pragma: no cover (compiled)
    """Landmark lower bound on the time from ``source`` to ``node`` (fwd[v, j] = T(L_j, v),
    rev[v, j] = T(v, L_j)), minus a hair of slack; never negative."""
    best = 0.0
    for j in range(fwd.shape[1]):
        a = fwd[node, j] - fwd[source, j]
        if a > best:
            best = a
        b = rev[source, j] - rev[node, j]
        if b > best:
            best = b
    return max(0.0, best - 1e-9 * best - 1e-6)


@njit(cache=True, nogil=True, inline="always")
def _table_bound(lm: np.ndarray, source: int, node: int,
                 slack: float) -> float:  # pragma: no cover (compiled)
    """:func:`landmark_bound` from one table ``lm[v] = (T(L_1, v), ..., T(L_m, v), T(v, L_1),
    ..., T(v, L_m))`` (double or single precision: each entry is widened first), less ``slack``
    (s) and a hair; never negative."""
    m = lm.shape[1] // 2
    best = 0.0
    for j in range(m):
        a = np.float64(lm[node, j]) - np.float64(lm[source, j])
        if a > best:
            best = a
        b = np.float64(lm[source, m + j]) - np.float64(lm[node, m + j])
        if b > best:
            best = b
    return max(0.0, best - 1e-9 * best - slack)


@njit(cache=True, nogil=True)
def goal_time(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, target: int,
              source: int, limit: float, lm: np.ndarray, slack: float, dist: np.ndarray,
              touched: np.ndarray, heap_key: np.ndarray, heap_node: np.ndarray,
              heap_time: np.ndarray) -> float:  # pragma: no cover (compiled)
    """Shortest time (s) from ``source`` to ``target`` if at most ``limit``, else ``inf``; see
    :func:`_search`. Returns :data:`OVERFLOW` if the heap arrays were too small."""
    none = np.empty(0, dtype=np.int64)
    return _search(indptr, indices, weights, target, source, limit, lm, slack, dist, touched,
                   heap_key, heap_node, heap_time, False, none, none, np.empty(0), none)


@njit(cache=True, nogil=True)
def goal_route(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, target: int,
               source: int, lm: np.ndarray, slack: float, dist: np.ndarray,
               touched: np.ndarray, heap_key: np.ndarray, heap_node: np.ndarray,
               heap_time: np.ndarray, pred: np.ndarray, path: np.ndarray,
               times: np.ndarray) -> int:  # pragma: no cover (compiled)
    """A fastest route from ``source`` to ``target`` (:func:`_search`, keeping each node's next
    hop towards ``target`` in ``pred``): its nodes into ``path`` and each one's time to
    ``target`` into ``times``. Returns the number of nodes, 0 if ``target`` cannot be reached,
    -1 if the heap arrays were too small."""
    count = np.zeros(1, dtype=np.int64)
    t = _search(indptr, indices, weights, target, source, np.inf, lm, slack, dist, touched,
                heap_key, heap_node, heap_time, True, pred, path, times, count)
    if t == OVERFLOW:
        return -1
    return int(count[0])


@njit(cache=True, nogil=True)
def _search(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, target: int,
            source: int, limit: float, lm: np.ndarray, slack: float, dist: np.ndarray,
            touched: np.ndarray, heap_key: np.ndarray, heap_node: np.ndarray,
            heap_time: np.ndarray, keep_route: bool, pred: np.ndarray, path: np.ndarray,
            times: np.ndarray, count: np.ndarray
            ) -> float:  # pragma: no cover (compiled; tested through the oracle)
    """Shortest time (s) from ``source`` to ``target`` if at most ``limit``, else ``inf``.
    With ``keep_route``, the route's nodes and their times to ``target`` go to ``path`` and
    ``times`` (``count[0]`` of them; none if unreachable), from the next hops kept in ``pred``.

    ``indptr, indices, weights``: the reversed graph in CSR (row v: the edges into v).
    ``lm``: the landmark table, one row per node (:func:`_table_bound`, less ``slack``).
    ``dist`` (all ``inf``), ``touched`` (one int per node) and the heap arrays are workspaces
    the caller keeps; ``dist`` is all ``inf`` again on return. Returns :data:`OVERFLOW` if the
    heap arrays were too small.
    """
    if source == target:
        if keep_route:
            path[0] = target
            times[0] = 0.0
            count[0] = 1
        return 0.0
    n_touched = 0
    size = 0
    cap = heap_key.shape[0]
    dist[target] = 0.0
    touched[n_touched] = target
    n_touched += 1
    heap_key[0] = _table_bound(lm, source, target, slack)
    heap_node[0] = target
    heap_time[0] = 0.0
    size = 1
    result = np.inf
    while size > 0:
        key = heap_key[0]
        v = heap_node[0]
        d = heap_time[0]
        # pop the root, sift the last entry down
        size -= 1
        if size > 0:
            lk = heap_key[size]
            ln = heap_node[size]
            lt = heap_time[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and heap_key[c + 1] < heap_key[c]:
                    c += 1
                if heap_key[c] < lk:
                    heap_key[i] = heap_key[c]
                    heap_node[i] = heap_node[c]
                    heap_time[i] = heap_time[c]
                    i = c
                else:
                    break
            heap_key[i] = lk
            heap_node[i] = ln
            heap_time[i] = lt
        if key > limit:
            break  # every route still open is longer than the limit
        if d > dist[v]:  # a stale entry: a shorter time reached v since
            continue
        if v == source:
            result = d
            break
        for e in range(indptr[v], indptr[v + 1]):
            w = indices[e]
            nd = d + weights[e]
            if nd < dist[w]:
                if dist[w] == np.inf:
                    touched[n_touched] = w
                    n_touched += 1
                dist[w] = nd
                if keep_route:
                    pred[w] = v
                if size >= cap:
                    result = OVERFLOW
                    size = 0
                    break
                # push (nd + bound, w): sift up
                nk = nd + _table_bound(lm, source, w, slack)
                i = size
                size += 1
                while i > 0:
                    p = (i - 1) // 2
                    if heap_key[p] > nk:
                        heap_key[i] = heap_key[p]
                        heap_node[i] = heap_node[p]
                        heap_time[i] = heap_time[p]
                        i = p
                    else:
                        break
                heap_key[i] = nk
                heap_node[i] = w
                heap_time[i] = nd
    if keep_route and result != OVERFLOW and result < np.inf:
        node, k = source, 0
        while node != target:  # each node on the route was settled before the source
            path[k] = node
            times[k] = dist[node]
            k += 1
            node = pred[node]
        path[k] = target
        times[k] = 0.0
        count[0] = k + 1
    for t in range(n_touched):
        dist[touched[t]] = np.inf
    return result


@njit(cache=True, nogil=True)
def walk_route(pred: np.ndarray, to_target: np.ndarray, source: int, target: int,
               elapsed: float) -> tuple[int, float]:  # pragma: no cover (tested through the oracle)
    """Where a trip from ``source`` along the next hops ``pred`` towards ``target`` (times to it
    ``to_target``) is ``elapsed`` seconds after it left: the next node it reaches (the first whose
    time from the start is at least ``elapsed``) and in how long (s); ``(target, 0.0)`` once
    there; ``(-1, 0.0)`` if ``target`` cannot be reached from ``source``."""
    start = to_target[source]
    node = source
    cum = 0.0
    while cum < elapsed:
        if node == target:
            return target, 0.0
        node = pred[node]
        if node < 0:
            return -1, 0.0
        cum = start - to_target[node]
    return node, cum - elapsed


@njit(cache=True, nogil=True)
def walk_routes(pred: np.ndarray, to_target: np.ndarray, sources: np.ndarray, target: int,
                elapsed: np.ndarray, node_out: np.ndarray, left_out: np.ndarray
                ) -> int:  # pragma: no cover (tested through the oracle)
    """:func:`walk_route` for trips from each of ``sources`` to one ``target``, ``elapsed[i]``
    seconds after trip i left, into ``node_out`` and ``left_out``. Returns -1, or the index of
    the first trip whose target cannot be reached."""
    for i in range(sources.shape[0]):
        node, left = walk_route(pred, to_target, sources[i], target, elapsed[i])
        if node < 0:
            return i
        node_out[i] = node
        left_out[i] = left
    return -1


@njit(cache=True, nogil=True)
def might_reach(x: np.ndarray, y: np.ndarray, top_speed: float, fwd: np.ndarray,
                rev: np.ndarray, source: int, target: int, limit: float
                ) -> bool:  # pragma: no cover (compiled; tested through the oracle)
    """Whether the trip from ``source`` to ``target`` might take at most ``limit`` seconds: no
    lower bound exceeds it. The bounds are the straight line at ``top_speed`` (m/s, with a 2%
    margin for projection error) and the landmark bound (:func:`landmark_bound`)."""
    d = np.hypot(x[source] - x[target], y[source] - y[target])
    if 0.98 * d / top_speed > limit:
        return False
    return landmark_bound(fwd, rev, source, target) <= limit
