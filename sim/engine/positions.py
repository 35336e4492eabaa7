"""Lazy positions of units on the move: where a unit is when a dispatch or a sample asks.

There is no event per road edge. A patrolling unit's position follows from its loop, the time it
was (or would be) at the loop's start (its anchor) and the time; a unit driving back after a job,
or to a mobile post, holds the start of its drive, its target and the congestion period it
started in; where it is on its route is walked from the start along the next hops towards the
target, only as far as it has got, when asked. Every drive and job is also logged as a trajectory
segment (seven doubles appended to the unit's log; a drive's segment holds its end and what the
unit does after it), so that presence can be computed after the run.

Per-unit state is held in plain Python lists: the event loop reads and writes one value at a time.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from struct import Struct

import numpy as np
from numba import njit

from sim.engine.tables import DispatchTables
from sim.network.oracle import TravelTimeOracle
from sim.types import Fleet
from sim.world.prepare import MINUTES_PER_DAY, World

__all__ = ["JOB", "LOOP", "PARK", "TRANSIT", "Trajectories", "dispatch_tables",
           "first_loop_arrivals", "loop_offers", "unit_offers"]

_INF = float("inf")
PARK, LOOP, TRANSIT, JOB = 0, 1, 2, 3
"""Kinds of trajectory segment ``(start, kind, a, b, c, d, e)``: PARK (a = post node); LOOP
(a = anchor); TRANSIT (a = route start node, b = target node, c = loop anchor after it,
d = congestion period of the drive, e = when it ends, as the engine computed it); JOB (a = scene
node, b = arrival time). Unused numbers are 0. A unit starts the run parked or on its loop; once
a drive has ended, its TRANSIT segment says the rest (parked at its target, or on its loop from
anchor c) until the next segment starts."""
SEG = 7
"""Numbers per trajectory segment in a unit's log (:attr:`Trajectories.segs`)."""
_seg_bytes = Struct(f"{SEG}d").pack
"""One segment as the bytes of its doubles, to append to a log (``log.frombytes``: a third of
the cost of ``log.extend``)."""


class Trajectories:
    """Where each unit of one layout is, lazily (see the module docstring).

    Parameters
    ----------
    world : the prepared world.
    layout : the layout's name.
    start_posts : each unit's post at time 0.
    """

    def __init__(self, world: World, layout: str, start_posts: list[int]) -> None:
        self.world = world
        self.layout = layout
        fleet: Fleet = world.fleets[layout]
        self.fleet = fleet
        n_units = len(fleet)
        self.oracles_p: list[list[TravelTimeOracle]] = [
            [po[t] for t in fleet.unit_type] for po in world.period_oracles]
        self.loop: list[int] = fleet.loop.tolist()
        self.trans_t0 = [0.0] * n_units
        self.trans_end = [-_INF] * n_units
        self.trans_from = list(start_posts)
        self.trans_to = list(start_posts)
        self.trans_period = [0] * n_units  # congestion period of each unit's transit
        self.anchor: list[float] = (-fleet.loop_phase_s.astype(float)).tolist()
        # the same two lists as arrays, for the compiled dispatch of looping units
        # (:func:`loop_offers`): written together, read only by the kernel
        self.trans_end_a = np.full(n_units, -_INF)
        self.anchor_a = np.array(self.anchor, dtype=np.float64)
        # each unit's trajectory segments, SEG numbers each, end to end: plain doubles, so that
        # a year's log is neither scanned by the garbage collector nor scattered in memory
        self.segs: list[array[float]] = [
            array("d", (0.0, LOOP, self.anchor[u], 0.0, 0.0, 0.0, 0.0) if lp >= 0 else
                  (0.0, PARK, float(self.trans_to[u]), 0.0, 0.0, 0.0, 0.0))
            for u, lp in enumerate(self.loop)]
        self._rows_to: dict[tuple[int, int], memoryview] = {}
        self._loop_arrays: tuple[np.ndarray, ...] | None = None
        self._oracles: tuple[list[TravelTimeOracle], np.ndarray] | None = None
        self._flat_loops()

    def _flat_loops(self) -> None:
        """All loops of the layout end to end, so that a patrolling unit's position is one
        bisection (the rows of driving times from the loop nodes are the world's:
        :meth:`flat_rows`)."""
        loops = self.fleet.loops
        self.loop_base: list[float] = [0.0] * len(loops)
        self.cycle: list[float] = [float(lp.cycle) for lp in loops]
        if not loops:
            self.flat_cum = np.zeros(0)
            self.flat_starts = np.zeros(1, dtype=np.int64)
            self.flat_node = np.zeros(0, dtype=np.int64)
            self.flat_cum_list: list[float] = []
            self.flat_node_list: list[int] = []
            return
        cums, base = [], 0.0
        for k, lp in enumerate(loops):
            self.loop_base[k] = base
            cums.append(lp.cum + base)
            base += lp.cycle + 1.0  # a gap keeps segments apart
        self.flat_cum = np.concatenate(cums).astype(np.float64)
        self.flat_starts = second_starts(self.flat_cum)  # (a position in a step or two)
        self.flat_cum_list = self.flat_cum.tolist()
        # all loops' nodes end to end (index with the positions of loop_position)
        self.flat_node = np.concatenate([lp.nodes for lp in loops]).astype(np.int64)
        self.flat_node_list = self.flat_node.tolist()

    def rejoin_at(self, u: int, anchor: float) -> None:
        """Looping unit ``u`` is (back) on its loop as if it had been at the loop's start at
        ``anchor`` (s since the start)."""
        self.anchor[u] = anchor
        self.anchor_a[u] = anchor

    def flat_rows(self, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(cols, row_of)``: ``cols[node, row_of[k]]`` is the driving time (s) from flat loop
        position ``k`` to ``node`` in congestion period ``period`` (float32, node-major, held by
        the world for every run of the layout: :meth:`World.loop_table`)."""
        return self.world.loop_table(self.layout, period)

    def loop_position(self, u: int, t: float) -> tuple[int, float]:
        """Flat loop index of the next node of looping unit ``u`` at ``t``, and the time (s) to
        reach it."""
        lp = self.loop[u]
        phase = (t - self.anchor[u]) % self.cycle[lp]
        base = self.loop_base[lp]
        k = bisect_left(self.flat_cum_list, base + phase)
        return k, self.flat_cum_list[k] - base - phase

    def position(self, u: int, t: float) -> tuple[int, float]:
        """Where unit ``u`` is at time ``t`` (when not on a job): the next node it reaches, and in
        how long (s). A parked unit is at its post with 0."""
        if t < self.trans_end[u]:  # along its route, walked only as far as it has got
            oracle = self.oracles_p[self.trans_period[u]][u]
            return oracle.along_route(self.trans_from[u], self.trans_to[u], t - self.trans_t0[u])
        if self.loop[u] >= 0:
            k, offset = self.loop_position(u, t)
            return self.flat_node_list[k], offset
        return self.trans_to[u], 0.0

    def times_to(self, oracle: TravelTimeOracle, target: int) -> memoryview:
        """The time (s) from every node to ``target`` by ``oracle`` (its reverse row), as a
        memoryview: the event loop reads one value at a time, which a numpy array answers
        several times slower. Few targets occur (the posts and the loops' waypoints)."""
        key = (id(oracle), target)
        row = self._rows_to.get(key)
        if row is None:
            row = self._rows_to[key] = oracle.to_node(target)[0].data
        return row

    def rejoin_table(self, k: int, oracle: TravelTimeOracle, nearest: bool
                     ) -> tuple[memoryview, memoryview, memoryview]:
        """Where a unit of loop ``k`` leaving each node for the loop rejoins it, by ``oracle``:
        for every node, the waypoint reached first (ties to the earlier one; with ``nearest``
        false, the loop's start), the time (s) to it and the waypoint's time along the loop
        (s). Kept by the world for every run of the layout (:meth:`World.rejoin_table`), read
        here as memoryviews (one value at a time)."""
        node, time, cum = self.world.rejoin_table(self.layout, k, oracle, nearest)
        return node.data, time.data, cum.data

    def start_transit(self, u: int, t0: float, origin: int, target: int, end: float,
                      period: int) -> None:
        """Unit ``u`` starts driving at ``t0`` from ``origin`` to ``target``, arriving at ``end``."""
        self.trans_from[u] = origin
        self.trans_to[u] = target
        self.trans_t0[u] = t0
        self.trans_end[u] = end
        self.trans_end_a[u] = end
        self.trans_period[u] = period
        self.segs[u].frombytes(_seg_bytes(t0, TRANSIT, origin, target, self.anchor[u], period,
                                          end))

    def start_job(self, u: int, now: float, scene: int, arrival: float) -> None:
        """Unit ``u`` is sent at ``now`` to a job at ``scene``, where it arrives at ``arrival``
        (a drive back that ended before needs no segment of its own: see :data:`PARK`)."""
        self.segs[u].frombytes(_seg_bytes(now, JOB, scene, arrival, 0, 0, 0))

    def segments(self, u: int) -> np.ndarray:
        """Unit ``u``'s logged segments so far, ``[segment, (start, kind, a, b, c, d, e)]`` (a
        copy)."""
        return np.array(self.segs[u], dtype=np.float64).reshape(-1, SEG)

    def _loops_for_positions(self) -> tuple[np.ndarray, ...]:
        """The loops as :func:`_positions` reads them, made once per run: where each loop's
        nodes start in :attr:`flat_node`, those nodes, each loop's own cumulative times (from
        its start, not laid end to end as :attr:`flat_cum`), the cycles, and where each loop's
        :func:`second_starts` start, and they."""
        if self._loop_arrays is None:
            loops = self.fleet.loops
            cums = [np.asarray(lp.cum, dtype=np.float64) for lp in loops]
            starts = [second_starts(cum) for cum in cums]
            self._loop_arrays = (
                np.cumsum([0] + [len(lp.nodes) for lp in loops], dtype=np.int64),
                self.flat_node if loops else np.zeros(1, dtype=np.int64),
                np.concatenate(cums) if loops else np.zeros(1),
                np.array(self.cycle or [1.0], dtype=np.float64),
                np.cumsum([0] + [len(st) for st in starts], dtype=np.int64),
                np.concatenate(starts) if loops else np.zeros(1, dtype=np.int64))
        return self._loop_arrays

    def _oracle_index(self) -> tuple[list[TravelTimeOracle], np.ndarray]:
        """The distinct oracles of :attr:`oracles_p`, and ``[period, unit]``: the number of each
        unit's oracle in each period among them (made once per run)."""
        if self._oracles is None:
            ids: dict[int, int] = {}
            oracles: list[TravelTimeOracle] = []
            which = np.empty((len(self.oracles_p), len(self.loop)), dtype=np.int64)
            for p, per_unit in enumerate(self.oracles_p):
                for u, o in enumerate(per_unit):
                    if id(o) not in ids:
                        ids[id(o)] = len(oracles)
                        oracles.append(o)
                    which[p, u] = ids[id(o)]
            self._oracles = (oracles, which)
        return self._oracles

    def trajectory(self, u: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit ``u``'s position at each of ``times`` (:meth:`trajectories` of one unit)."""
        node, offset, known = self.trajectories([u], times)
        return node[0], offset[0], known[0]

    def trajectories(self, units: list[int], times: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each of ``units``' position at each of ``times`` (sorted, within the run) from their
        logged segments, ``[unit, time]``: next node, time (s) to reach it, and whether the
        position is known.

        The samples are matched to segments in one compiled pass over all the units
        (:func:`_positions`); the few caught mid-drive are then walked along their routes, one
        compiled walk per oracle and target."""
        times = np.ascontiguousarray(times, dtype=np.float64)
        logs = [self.segs[u] for u in units]
        segs = np.frombuffer(b"".join(log.tobytes() for log in logs)).reshape(-1, SEG)
        seg_ptr = np.cumsum([0] + [len(log) // SEG for log in logs], dtype=np.int64)
        loop_of = np.array([self.loop[u] for u in units], dtype=np.int64)
        loop_ptr, loop_nodes, loop_cum, cycle, start_ptr, starts = self._loops_for_positions()
        shape = (len(units), times.size)
        node = np.empty(shape, dtype=np.int64)
        offset = np.zeros(shape)
        known = np.ones(shape, dtype=bool)
        mid = np.empty((max(1024, node.size // 64), 3), dtype=np.int64)
        n_mid = _positions(times, segs, seg_ptr, loop_of, loop_ptr, loop_nodes, loop_cum, cycle,
                           start_ptr, starts, node, offset, known, mid)
        if n_mid > len(mid):  # (more samples mid-drive than room for them: again, with room)
            mid = np.empty((n_mid, 3), dtype=np.int64)
            _positions(times, segs, seg_ptr, loop_of, loop_ptr, loop_nodes, loop_cum, cycle,
                       start_ptr, starts, node, offset, known, mid)
        if n_mid:  # samples caught mid-drive: walk those routes, by oracle and target
            row, at, sg = mid[:n_mid].T
            oracles, which = self._oracle_index()
            n = self.world.net.n_nodes
            unit = np.asarray(units, dtype=np.int64)[row]
            key = which[segs[sg, 5].astype(np.int64), unit] * n + segs[sg, 3].astype(np.int64)
            for k in np.unique(key).tolist():
                same = np.flatnonzero(key == k)
                node[row[same], at[same]], offset[row[same], at[same]] = oracles[k // n].along_routes(
                    segs[sg[same], 2].astype(np.int64), k % n, times[at[same]] - segs[sg[same], 0])
        return node, offset, known


def second_starts(cum: np.ndarray) -> np.ndarray:
    """For each whole second ``b`` from 0 to past ``cum[-1]`` (``cum`` ascending, from 0 s): the
    first index ``j`` with ``cum[j] >= b``, so that :func:`first_at_least` finds the first time
    at or past any ``x`` in a step or two from ``starts[int(x)]``, where a bisection takes
    seven to eleven (a looping unit's next node, at every dispatch and presence sample)."""
    top = float(cum[-1]) if len(cum) else 0.0
    return np.searchsorted(cum, np.arange(int(top) + 2, dtype=np.float64),
                           side="left").astype(np.int64)


@njit(cache=True, nogil=True, inline="always")
def first_at_least(cum: np.ndarray, starts: np.ndarray,
                   x: float) -> int:  # pragma: no cover (compiled; tested against searchsorted)
    """``np.searchsorted(cum, x, side="left")`` for ``0 <= x``, from ``starts =
    second_starts(cum)``: the first index ``j`` with ``cum[j] >= x`` (``len(cum)`` if none)."""
    b = int(x)
    if b >= starts.shape[0]:
        b = starts.shape[0] - 1
    j = starts[b]
    n = cum.shape[0]
    while j < n and cum[j] < x:
        j += 1
    return j


@njit(cache=True, nogil=True, inline="always")
def _split(a: float) -> tuple[float, float]:  # pragma: no cover (compiled)
    """``a`` as ``hi + lo`` exactly, each with at most 26 significant bits (Veltkamp), so that
    a product of two halves is exact in double precision."""
    t = 134217729.0 * a  # 2**27 + 1
    hi = t - (t - a)
    return hi, a - hi


@njit(cache=True, nogil=True, inline="always")
def floor_mod(x: float, c: float) -> float:  # pragma: no cover (compiled; tested against %)
    """``x % c`` (Python's and numpy's floor remainder) for ``c > 0``, bit for bit, in a few
    multiplications instead of the library's ``fmod`` (a third of the time of a position's
    lookup on a loop).

    The remainder ``x - q c`` of the true quotient ``q`` is exactly representable. With ``q``
    from the rounded ``floor(x / c)`` (off by at most one), ``q c = p + e`` exactly (Dekker's
    product of the split halves), ``x - p`` is exact (Sterbenz: ``p`` is within ``c`` of ``x``
    and ``x >= 2c``), so ``(x - p) - e`` is the remainder rounded once, that is exactly, when
    ``q`` is right; a result below 0 or at least ``c`` shows ``q`` was one too large or small,
    and it is computed again. Small, negative or huge ``x`` take ``%``."""
    if not (x >= 2.0 * c) or not (x < 1e300):
        return x % c
    q = np.floor(x / c)
    c_hi, c_lo = _split(c)
    while True:
        q_hi, q_lo = _split(q)
        p = q * c
        e = ((q_hi * c_hi - p) + q_hi * c_lo + q_lo * c_hi) + q_lo * c_lo
        r = (x - p) - e
        if r < 0.0:
            q -= 1.0
        elif r >= c:
            q += 1.0
        else:
            return r


@njit(cache=True, nogil=True)
def _positions(times: np.ndarray, segs: np.ndarray, seg_ptr: np.ndarray, loop_of: np.ndarray,
               loop_ptr: np.ndarray, loop_nodes: np.ndarray, loop_cum: np.ndarray,
               cycle: np.ndarray, start_ptr: np.ndarray, starts: np.ndarray, node: np.ndarray,
               offset: np.ndarray, known: np.ndarray,
               mid: np.ndarray) -> int:  # pragma: no cover (compiled; tested through trajectory)
    """Positions at sorted ``times`` of units whose segments are ``segs[seg_ptr[r]:seg_ptr[r +
    1]]`` (row ``r`` of the outputs; ``loop_of[r]``: its loop, or -1), into ``node``, ``offset``
    and ``known`` (``[r, sample]``); each sample caught mid-drive goes to ``mid`` as ``(r,
    sample, segment)`` (its position is walked by the caller), as far as there is room. Returns
    how many there are (more than ``len(mid)``: call again with room for them all).

    A loop's position is the first of its own cumulative times (``loop_cum[loop_ptr[k]:
    loop_ptr[k + 1]]``, from the loop's start) at or past the phase, as the dispatcher's
    arithmetic, found from the loop's :func:`second_starts` (``starts[start_ptr[k]:start_ptr[k
    + 1]]``)."""
    n_mid = 0
    for r in range(seg_ptr.shape[0] - 1):
        lo, hi = seg_ptr[r], seg_ptr[r + 1]
        lp = loop_of[r]
        looping = lp >= 0
        cyc = cycle[lp] if looping else 1.0
        cum = loop_cum[loop_ptr[lp]:loop_ptr[lp + 1]] if looping else loop_cum[:1]
        nodes = loop_nodes[loop_ptr[lp]:loop_ptr[lp + 1]] if looping else loop_nodes[:1]
        first = starts[start_ptr[lp]:start_ptr[lp + 1]] if looping else starts[:1]
        w = lo
        for i in range(times.shape[0]):
            t = times[i]
            while w + 1 < hi and segs[w + 1, 0] <= t:
                w += 1
            k = segs[w, 1]
            anchor = np.nan
            if k == PARK:
                node[r, i] = np.int64(segs[w, 2])
            elif k == JOB:
                node[r, i] = np.int64(segs[w, 2])
                known[r, i] = t >= segs[w, 3]
            elif k == TRANSIT:
                if t >= segs[w, 6]:  # the drive is over
                    if looping:
                        anchor = segs[w, 4]
                    else:
                        node[r, i] = np.int64(segs[w, 3])
                else:
                    if n_mid < mid.shape[0]:
                        mid[n_mid, 0] = r
                        mid[n_mid, 1] = i
                        mid[n_mid, 2] = w
                    n_mid += 1
            else:  # LOOP
                anchor = segs[w, 2]
            if looping and anchor == anchor:  # on the loop
                phase = floor_mod(t - anchor, cyc)
                j = first_at_least(cum, first, phase)
                node[r, i] = nodes[j]
                offset[r, i] = cum[j] - phase
    return n_mid


@njit(cache=True, nogil=True)
def loop_offers(node: int, now: float, k: int, minute: int, cand: np.ndarray,
                blocked: np.ndarray, trans_end: np.ndarray, anchor: np.ndarray, low: np.ndarray,
                order: np.ndarray, rows: np.ndarray, row_of: np.ndarray, flat_node: np.ndarray,
                flat_cum: np.ndarray, flat_starts: np.ndarray, loop_base: np.ndarray,
                cycle: np.ndarray, loop_ptr: np.ndarray, loop_units: np.ndarray, top: np.ndarray,
                out: np.ndarray) -> int:  # pragma: no cover (compiled; tested against the Python rule)
    """The dispatch of looping units at one moment: their exact arrivals at ``node`` at ``now``,
    for the loops whose lower bound could beat the k-th best so far.

    The loops are taken in order of their lower bound on the drive to ``node`` (``low`` and
    ``order``, ``[node, rank]``); a loop is timed only while its bound is within the k-th best
    arrival so far (a hair of slack for rounding), and then each unit of it that is available:
    on the air (``cand[minute, u]``), not ``blocked`` (busy or excluded) and not still driving
    back (``trans_end[u] <= now``). A unit's next loop node is the first of the loops' times laid
    end to end (``flat_cum``, ``loop_base``, ``cycle``, ``anchor``) at or past its place, found
    from their :func:`second_starts` (``flat_starts``) as a bisection would find it, and its
    arrival is the time to that node plus the driving time from it (``rows[node, row_of[k]]``,
    node-major).

    ``top`` is a workspace with room for ``k`` (with ``k`` at most ``len(top)``,
    ``len(top) > len(out)`` meaning "every unit"). Writes ``(arrival, unit, next node, time to
    it)`` rows into ``out`` for every unit timed whose arrival is within the final k-th best
    (none later can be among the k earliest) and returns how many. The arithmetic is the
    Python rule's, operation for operation, so the floats are the same.
    """
    n_out, m = _scan_loops(node, now, k, minute, cand, blocked, trans_end, anchor, low, order,
                           rows, row_of, flat_node, flat_cum, flat_starts, loop_base, cycle,
                           loop_ptr, loop_units, top, 0, out, 0)
    return _within_kth(top, m, k, out, n_out)


@njit(cache=True, nogil=True)
def first_loop_arrivals(nodes: np.ndarray, nows: np.ndarray, minutes: np.ndarray,
                        cand: np.ndarray, anchor: np.ndarray, low: np.ndarray, order: np.ndarray,
                        rows: np.ndarray, row_of: np.ndarray, flat_node: np.ndarray,
                        flat_cum: np.ndarray, flat_starts: np.ndarray, loop_base: np.ndarray,
                        cycle: np.ndarray, loop_ptr: np.ndarray, loop_units: np.ndarray,
                        top: np.ndarray, out: np.ndarray, first: np.ndarray
                        ) -> None:  # pragma: no cover (compiled; tested through the engine)
    """:func:`loop_offers` with k = 1 at many moments, for looping units that are never blocked
    nor driving back (volunteers): ``first[q]`` is when the first of them on the air could be
    at ``nodes[q]``, from ``nows[q]`` in minute of the day ``minutes[q]`` (``now`` plus the
    earliest arrival, as the engine adds them), or NaN if none is on the air."""
    n_units = anchor.shape[0]
    never_blocked = np.zeros(n_units, dtype=np.uint8)
    never_driving = np.full(n_units, -np.inf)
    for q in range(nodes.shape[0]):
        now = nows[q]
        if loop_offers(nodes[q], now, 1, minutes[q], cand, never_blocked, never_driving, anchor,
                       low, order, rows, row_of, flat_node, flat_cum, flat_starts, loop_base,
                       cycle, loop_ptr, loop_units, top, out):
            first[q] = now + out[0, 0]
        else:
            first[q] = np.nan


@njit(cache=True, nogil=True)
def dispatch_tables(cand: np.ndarray, blocked: np.ndarray, trans_end: np.ndarray,
                    post_order: np.ndarray, post_time: np.ndarray, turnout: np.ndarray,
                    anchor: np.ndarray, low: np.ndarray, order: np.ndarray, rows: np.ndarray,
                    row_of: np.ndarray, flat_node: np.ndarray, flat_cum: np.ndarray,
                    flat_starts: np.ndarray, loop_base: np.ndarray, cycle: np.ndarray,
                    loop_ptr: np.ndarray, loop_units: np.ndarray, top: np.ndarray,
                    out: np.ndarray, transit: np.ndarray
                    ) -> DispatchTables:  # pragma: no cover (compiled)
    """The arrays of :func:`unit_offers` in one structure (:mod:`sim.engine.tables`; it refers
    to them, so later writes to the unit state are seen): made by compiled code, whose cache
    spares each process the compilation of the structure's constructor."""
    return DispatchTables(cand, blocked, trans_end, post_order, post_time, turnout, anchor, low,
                          order, rows, row_of, flat_node, flat_cum, flat_starts, loop_base, cycle,
                          loop_ptr, loop_units, top, out, transit)


@njit(cache=True, nogil=True)
def unit_offers(node: int, now: float, k: int, minute: int, t: DispatchTables
                ) -> tuple[int, int, float, float, float, float]:  # pragma: no cover (compiled)
    """One dispatch moment of the earliest-arrival rule, for the units whose arrival is a
    lookup: parked units, then looping units (as :func:`loop_offers`); and the list of units
    driving back, whose arrivals need a search (the caller's). ``t`` holds the arrays
    (:func:`dispatch_tables`): one argument, as a call costs mostly its arguments' unboxing.

    Parked units: the first ``k`` available ones in ``t.post_order[node]`` (the parkable units
    in order of arrival from their posts, turnout included, ties to the lower unit) that are
    on the air (``t.cand[minute, u]``), not ``t.blocked`` and not driving (``t.trans_end[u]
    <= now``); each arrives after ``t.turnout[u] + t.post_time[node, u]``. Their rows have
    next node -1 and time 0. Looping units follow (``t.low``, ``t.order``, ``t.rows``,
    ``t.row_of``, ``t.flat_node``, ``t.flat_cum``, ``t.loop_base``, ``t.cycle``, ``t.anchor``,
    ``t.loop_ptr``, ``t.loop_units``: see :func:`loop_offers`; a layout without loops has
    none), with the parked arrivals as the seed of the k-th best. Rows of either kind later
    than the final k-th best are dropped; the others are left in ``t.out`` as ``(arrival,
    unit, next node, time to it)``, in order of arrival and then unit. ``t.top`` is a
    workspace.

    Units still driving at ``now`` (``t.trans_end[u] > now``), on the air and not blocked, are
    written to ``t.transit`` in ascending order. Returns ``(rows in out, units in transit)``
    and the first row (the earliest arrival; ``(inf, -1, -1, 0)`` when there is none), which
    is all most dispatches read.
    """
    out, top = t.out, t.top
    found = _scan_posts(node, now, k, minute, t.cand, t.blocked, t.trans_end, t.post_order,
                        t.post_time, t.turnout, out)
    m = 0  # arrivals so far; top[:min(m, k)] holds the smallest, ascending
    for i in range(found):
        m = _keep_smallest(top, m, k, out[i, 0])
    n_out = found
    if t.order.shape[1]:
        n_out, m = _scan_loops(node, now, k, minute, t.cand, t.blocked, t.trans_end, t.anchor,
                               t.low, t.order, t.rows, t.row_of, t.flat_node, t.flat_cum,
                               t.flat_starts, t.loop_base, t.cycle, t.loop_ptr, t.loop_units,
                               top, m, out, found)
    n_transit = _scan_transit(now, minute, t.cand, t.blocked, t.trans_end, t.transit)
    kept = _within_kth(top, m, k, out, n_out)
    if kept > 1:
        _sort_rows(out, kept)
    if kept == 0:
        return 0, n_transit, np.inf, -1.0, -1.0, 0.0
    return kept, n_transit, out[0, 0], out[0, 1], out[0, 2], out[0, 3]


@njit(cache=True, nogil=True, inline="always")
def _sort_rows(out: np.ndarray, n: int) -> None:  # pragma: no cover (compiled)
    """Sort ``out[:n]`` by arrival and then unit, in place (an insertion sort: a few rows)."""
    for i in range(1, n):
        eta, u, nxt, offset = out[i, 0], out[i, 1], out[i, 2], out[i, 3]
        j = i
        while j > 0 and (out[j - 1, 0] > eta or (out[j - 1, 0] == eta and out[j - 1, 1] > u)):
            out[j, 0], out[j, 1], out[j, 2], out[j, 3] = \
                out[j - 1, 0], out[j - 1, 1], out[j - 1, 2], out[j - 1, 3]
            j -= 1
        out[j, 0], out[j, 1], out[j, 2], out[j, 3] = eta, u, nxt, offset


@njit(cache=True, nogil=True, inline="always")
def _scan_posts(node: int, now: float, k: int, minute: int, cand: np.ndarray,
                blocked: np.ndarray, trans_end: np.ndarray, post_order: np.ndarray,
                post_time: np.ndarray, turnout: np.ndarray,
                out: np.ndarray) -> int:  # pragma: no cover (compiled)
    """The parked units' rows of :func:`unit_offers` into ``out``, in order of arrival; how
    many."""
    found = 0
    for r in range(post_order.shape[1]):
        u = post_order[node, r]
        if cand[minute, u] and blocked[u] == 0 and trans_end[u] <= now:
            out[found, 0] = np.float64(post_time[node, u]) + turnout[u]
            out[found, 1] = u
            out[found, 2] = -1.0
            out[found, 3] = 0.0
            found += 1
            if found == k:
                break
    return found


@njit(cache=True, nogil=True, inline="always")
def _scan_transit(now: float, minute: int, cand: np.ndarray, blocked: np.ndarray,
                  trans_end: np.ndarray, transit: np.ndarray) -> int:  # pragma: no cover
    """The units still driving at ``now``, on the air and not blocked, into ``transit`` in
    ascending order; how many."""
    n_transit = 0
    for u in range(trans_end.shape[0]):
        if trans_end[u] > now and cand[minute, u] and blocked[u] == 0:
            transit[n_transit] = u
            n_transit += 1
    return n_transit


@njit(cache=True, nogil=True)
def _scan_loops(node: int, now: float, k: int, minute: int, cand: np.ndarray,
                blocked: np.ndarray, trans_end: np.ndarray, anchor: np.ndarray, low: np.ndarray,
                order: np.ndarray, rows: np.ndarray, row_of: np.ndarray, flat_node: np.ndarray,
                flat_cum: np.ndarray, flat_starts: np.ndarray, loop_base: np.ndarray,
                cycle: np.ndarray, loop_ptr: np.ndarray, loop_units: np.ndarray, top: np.ndarray,
                m: int, out: np.ndarray, n_out: int
                ) -> tuple[int, int]:  # pragma: no cover (compiled)
    """The loop scan of :func:`loop_offers`, appending to ``out[n_out:]`` and to the ``m``
    arrivals so far in ``top``; returns the new ``(n_out, m)``."""
    bound = top[k - 1] if m >= k else np.inf
    for r in range(order.shape[1]):
        if low[node, r] > bound + 1e-6:
            break
        lp = order[node, r]
        cyc, base = cycle[lp], loop_base[lp]
        for j in range(loop_ptr[lp], loop_ptr[lp + 1]):
            u = loop_units[j]
            if cand[minute, u] and blocked[u] == 0 and trans_end[u] <= now:
                phase = floor_mod(now - anchor[u], cyc)
                kf = first_at_least(flat_cum, flat_starts, base + phase)
                offset = flat_cum[kf] - base - phase
                eta = offset + np.float64(rows[node, row_of[kf]])
                out[n_out, 0] = eta
                out[n_out, 1] = u
                out[n_out, 2] = flat_node[kf]
                out[n_out, 3] = offset
                n_out += 1
                m = _keep_smallest(top, m, k, eta)
        bound = top[k - 1] if m >= k else np.inf
    return n_out, m


@njit(cache=True, nogil=True, inline="always")
def _within_kth(top: np.ndarray, m: int, k: int, out: np.ndarray,
                n_out: int) -> int:  # pragma: no cover (compiled)
    """Keep the rows of ``out[:n_out]`` within the k-th best arrival (in place); how many."""
    bound = top[k - 1] if m >= k else np.inf
    kept = 0
    for i in range(n_out):
        if out[i, 0] <= bound:
            out[kept, :] = out[i, :]
            kept += 1
    return kept


@njit(cache=True, nogil=True, inline="always")
def _keep_smallest(top: np.ndarray, m: int, k: int,
                   value: float) -> int:  # pragma: no cover (compiled)
    """Insert ``value`` into ``top[:min(m, k)]`` (ascending, the k smallest of the ``m`` values
    so far); returns ``m + 1``."""
    n = m if m < k else k
    if n == k:
        if value >= top[k - 1]:
            return m + 1
        n -= 1  # the largest drops out
    i = n
    while i > 0 and top[i - 1] > value:
        top[i] = top[i - 1]
        i -= 1
    top[i] = value
    return m + 1


def minute_of(t: float) -> int:
    """The minute of the day at time ``t`` (s)."""
    return int(t // 60.0) % MINUTES_PER_DAY
