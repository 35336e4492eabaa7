"""The discrete-event core (SimPy): job hand-overs, scene clearances, duty changes, post moves.

One :class:`Engine` runs one layout against one replication's incidents in its own
``simpy.Environment``. The model:

- A job becomes dispatchable at ``dispatch_s`` (the call plus 110 call handling). It needs
  ``units_required`` units (backup for urgent types); the response time is to the first arrival,
  the full response to the last.
- Which units go is the layout's dispatch policy (:mod:`sim.engine.dispatch`); the default,
  ``earliest_arrival``, sends the available units with the earliest arrivals, tie-broken by unit
  index. A unit is available when it is a response unit, not on a job and on the air (not off
  shift, in a hand-over or on a meal break). Units parked at their post need their turnout time
  first; a unit already on the move (patrolling, or driving back after a job) is sent from
  where it is.
- If the policy sends too few units, the job waits in a priority queue (priority, then call
  time, then incident number). Whenever a unit clears a scene or comes back on the air, waiting
  jobs are served first.
- After a job, a unit drives back to its post and waits there; in a layout with ``patrol: true``
  a patrolling unit instead rejoins its loop, at the nearest waypoint (``patrol.after_incident:
  resume``) or at the post (``return_to_post``).
- Moving units are located lazily (:mod:`sim.engine.positions`): there is no event per road
  edge. The events are job hand-overs, scene clearances, units coming on the air and post moves.
- Congestion by hour of day: a trip is timed with the oracle of the congestion period it starts in
  (the dispatch time for a job, the clearance for the drive back, the change time for a move
  to a mobile post) and keeps it to the end. Patrol loops keep their free-flow timing; the
  drive from the loop to an incident uses the period's oracle.
- Presence (见警率) is computed after the run from the logged trajectories
  (:mod:`sim.engine.presence`); the records are assembled by :mod:`sim.engine.results`.

Per-unit state and per-incident results are plain Python lists, and the times and logs arrays of
doubles (:mod:`array`), read and written one value at a time; they become numpy arrays once, at
the end. The cyclic garbage collector is paused while a run goes on. simpy is imported here and
nowhere else.
"""

from __future__ import annotations

import gc
import heapq
from bisect import bisect_left
from collections.abc import Callable, Generator
from collections.abc import Set as AbstractSet
from functools import partial
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from sim.engine.dispatch import DispatchPolicy, EarliestArrival, Job, Offer
from sim.engine.policies import build_policy
from sim.engine.positions import (
    JOB,
    LOOP,
    PARK,
    TRANSIT,
    Trajectories,
    dispatch_tables,
    first_loop_arrivals,
    unit_offers,
)
from sim.engine.presence import sample_presence
from sim.engine.results import JobResults, assemble
from sim.engine.tables import DispatchTables
from sim.engine.village import rural_records, village_desk
from sim.network.kernels import compiled_for
from sim.network.oracle import TravelTimeOracle
from sim.scenario import PRIORITIES, Scenario, layout_dispatch
from sim.types import EngineResult, Fleet, IncidentSet, Presence
from sim.world.prepare import MINUTES_PER_DAY, World

__all__ = ["JOB", "LOOP", "PARK", "TRANSIT", "Engine", "EngineResult", "Presence", "simulate"]

_INF = float("inf")
_NONE: frozenset[int] = frozenset()


_offer: Callable[[tuple[int, float, float, bool, bool]], Offer] = partial(tuple.__new__, Offer)
"""``_offer(fields)`` is ``Offer(*fields)`` without the Python frame of a named tuple's
constructor (the hot path makes one per unit sent)."""


class Engine:
    """Simulate one layout on one set of incidents (see the module docstring for the model).

    Parameters
    ----------
    world : the prepared world (network, zones, oracles, fleets).
    layout : name of the layout to run.
    incidents : the replication's incidents (shared by all layouts).
    replication : replication number, written into the records.
    presence : whether to sample patrol presence.
    policy : the dispatch policy (default: the one the scenario names for this layout).
    """

    def __init__(self, world: World, layout: str, incidents: IncidentSet, replication: int = 0,
                 *, presence: bool = True, policy: DispatchPolicy | None = None) -> None:
        self.world = world
        self.scenario: Scenario = world.scenario
        self.fleet: Fleet = world.fleets[layout]
        self.layout = layout
        self.inc = incidents
        self.replication = replication
        self.horizon = incidents.horizon_s
        # new calls stop at the horizon; open incidents then run on for at most the cool-down
        self.end = self.horizon + self.scenario.run.cooldown
        self.policy = policy if policy is not None else build_policy(world, layout)
        # the default rule is answered by the core's own query (_best_units) directly
        self._earliest = type(self.policy) is EarliestArrival
        # per-incident values as plain lists: the event loop reads them one at a time
        self._node: list[int] = incidents.node.tolist()
        self._prio: list[int] = incidents.priority.tolist()
        self._call: list[float] = incidents.call_s.tolist()
        self._scene: list[float] = incidents.on_scene_s.tolist()
        fleet = self.fleet
        n_units = len(fleet)
        self.n_units = n_units
        self.oracle: list[TravelTimeOracle] = [world.oracles[t] for t in fleet.unit_type]
        self._top_speed = [o.max_speed_mps for o in self.oracle]  # free flow: valid in any period
        # congestion: the period of each minute of the day, and each unit's oracle per period
        self.period_of_minute = world.period_of_minute
        self._period_list: list[int] = world.period_of_minute.tolist()  # fast scalar lookups
        # where units wait, by time of day: a few distinct sets of posts ("slots")
        slot_posts, self.slot_of_minute, used = world.slots(layout)
        self.slot_posts = slot_posts
        self._slot_list: list[int] = self.slot_of_minute.tolist()
        self._slot_posts_list: list[list[int]] = slot_posts.tolist()
        # post_tables[period][slot], for the (period, slot) pairs that occur in a day, with each
        # node's units in order of arrival from their posts (turnout included, ties to the lower)
        n_periods = len(world.period_oracles)
        self.post_tables: list[list[np.ndarray | None]] = [[None] * len(slot_posts)
                                                           for _ in range(n_periods)]
        self._post_order: list[list[np.ndarray | None]] = [[None] * len(slot_posts)
                                                           for _ in range(n_periods)]
        self.turnout = fleet.turnout_s.astype(float)
        self.dispatchable = fleet.dispatchable
        # units that can be sent from a post: dispatchable and not patrolling
        parkable = self.dispatchable & (fleet.loop < 0)
        for p, slot in used.T:
            table = world.post_times(layout, slot_posts[slot], int(p))
            self.post_tables[int(p)][int(slot)] = table
            self._post_order[int(p)][int(slot)] = world.post_order(layout, slot_posts[slot], int(p),
                                                                   only=parkable)
        self._turnout: list[float] = self.turnout.tolist()
        self.off_air = fleet.off_air
        self.has_shifts = bool(self.off_air.any())
        self.on_table = ~self.off_air  # [minute of day, unit]
        candidates = self.dispatchable[None, :] & self.on_table  # on the air and dispatchable
        self._cand: list[list[bool]] = world.kept(("on the air", layout), fleet,
                                                 lambda: _rows_as_lists(candidates))
        self.has_loop: list[bool] = (fleet.loop >= 0).tolist()
        self._off_loop = [u for u in range(n_units) if not self.has_loop[u]]  # those with a post
        self.traj = Trajectories(world, layout, self._slot_posts_list[self._slot_list[0]])
        self.oracles_p = self.traj.oracles_p
        self.busy = [False] * n_units
        self.queue: list[tuple[int, float, int]] = []
        per_type = np.array([t.units_required for t in self.scenario.incident_types])
        required: list[int] = per_type[incidents.type_index].tolist()
        self.remaining: list[int] = list(required)
        self.jobs = JobResults.empty(required)
        self.village = village_desk(world, layout, incidents, self.jobs)  # sim.engine.village
        # each busy unit's job: incident, log entry, where and when its drive there starts
        self.job_of = [-1] * n_units
        self.job_log = [-1] * n_units
        self.job_from = [0] * n_units
        self.job_start = [0.0] * n_units
        self.job_arrival = [0.0] * n_units
        self.job_token = [0] * n_units
        self.job_period = [0] * n_units  # congestion period of each unit's drive to its job
        self.job_offer: list[Offer] = [Offer(-1, 0.0, 0.0, False)] * n_units  # what it was sent on
        # each busy unit's route to its job and the times along it, when a diversion asked
        self._job_route: list[tuple[list[int], list[float]] | None] = [None] * n_units
        self._on_minor: set[int] = set()  # units on minor jobs (that a diversion may take)
        self.divert = self.scenario.dispatch.divert_from_minor
        # a job finding no unit to send is handed to a backup force (a loss system)
        self.overflow = layout_dispatch(self.scenario, layout).when_all_busy == "overflow"
        self._resume = self.scenario.patrol.after_incident == "resume"
        self.env = simpy.Environment()
        self._stop = self.env.event()  # the end of the run: all counted work done, or self.end
        self._past_horizon = False
        self._handed_all = False
        self._all_oracles = list({id(o): o for po in self.oracles_p for o in po}.values())
        self._searches0 = self._search_counts()
        self.sample_presence = presence
        self.volunteers = np.array([r == "volunteer" for r in fleet.role], dtype=bool)
        vol_units = [u for u in range(n_units) if self.volunteers[u]]
        self.any_volunteer = bool(self.volunteers.any())
        self.minor = PRIORITIES.index("minor")
        # what the compiled dispatch of looping units reads (positions.loop_offers): the units
        # of each loop (dispatchable ones; and volunteers, who are never blocked nor driving
        # back), the unit state as arrays (busy or excluded units are "blocked"), and buffers
        self._loop_ptr, self._loop_units_a = _by_loop(
            [u for u in range(n_units) if self.dispatchable[u]], self.traj.loop, len(fleet.loops))
        self._vol_ptr, self._vol_units_a = _by_loop(vol_units, self.traj.loop, len(fleet.loops))
        self._cand_a = np.ascontiguousarray(candidates)
        self._on_a = np.ascontiguousarray(self.on_table)
        # busy (1) or excluded (2) units: written through the bytearray (a third of the cost of
        # a numpy item), read by the kernel through the array on the same memory
        self._blocked_b = bytearray(n_units)
        self._blocked = np.frombuffer(self._blocked_b, dtype=np.uint8)
        self._loop_base_a = np.array(self.traj.loop_base, dtype=np.float64)
        self._cycle_a = np.array(self.traj.cycle, dtype=np.float64)
        # per period: the world's loop rows and ranks, gathered once (references, not copies)
        self._loop_tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._top = np.empty(n_units + 1)
        self._k_max = n_units + 1  # (k at most len(top); more than the units means "all")
        self._offers = np.empty((max(n_units, 1), 4))
        self._transit = np.empty(max(n_units, 1), dtype=np.int64)  # units driving back
        # the arrays the compiled dispatch reads, per (period, slot), with the compiled code
        # for their types (called directly: kernels.compiled_for): made when first needed
        self._tables: list[list[tuple[DispatchTables, Callable[..., Any]] | None]] = [
            [None] * len(slot_posts) for _ in range(n_periods)]
        # the dispatch moment the Units view answers for (set by _send)
        self._at: tuple[int, float, bool, AbstractSet[int]] = (0, 0.0, False, frozenset())
        # units with a kept assignment to each multi-unit job: never sent to it twice
        self._on_job: dict[int, set[int]] = {}
        self._job_logs: dict[int, list[int]] = {}  # and their assignment-log entries
        # where the current dispatch found the moving units it timed: (next node, time to it);
        # cleared at every dispatch moment, so that a unit sent is sent from there
        self._seen: dict[int, tuple[int, float]] = {}
        # the hand-overs (_handovers): jobs in order of hand-over, their times, the next one
        self._hand_order: list[int] = []
        self._hand_when: list[float] = []
        self._hand_next = 0
        self._volunteer_due: list[tuple[int, float]] = []  # minor jobs and their hand-over times
        # the callbacks of the clearance and hand-over events, bound once
        self._on_cleared: Callable[[simpy.Event], None] = self._cleared
        self._on_hand_on: Callable[[simpy.Event], None] = self._hand_on
        # per congestion period and looping unit: where it rejoins its loop from each node
        self._rejoin: list[list[tuple[memoryview, memoryview, memoryview] | None]] = [
            [None] * n_units for _ in range(n_periods)]

    # -- views kept for tests and benchmarks ----------------------------------------------------

    def segments(self, u: int) -> np.ndarray:
        return self.traj.segments(u)

    @property
    def anchor(self) -> list[float]:
        return self.traj.anchor

    @property
    def trans_end(self) -> list[float]:
        return self.traj.trans_end

    @property
    def trans_period(self) -> list[int]:
        return self.traj.trans_period

    def position(self, u: int, t: float) -> tuple[int, float]:
        return self.traj.position(u, t)

    def trajectory(self, u: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.traj.trajectory(u, times)

    def period(self, t: float) -> int:
        """The congestion period at time ``t`` (0 = free flow)."""
        return self._period_list[int(t // 60.0) % MINUTES_PER_DAY]

    def on_air(self, t: float) -> np.ndarray:
        """Which units are on the air at time ``t``."""
        row: np.ndarray = self.on_table[int(t // 60.0) % MINUTES_PER_DAY]
        return row

    # -- the Units view the dispatch policy asks (sim.engine.dispatch.Units) ---------------------

    def free(self) -> list[int]:
        """Available units at the current dispatch moment, ascending."""
        minute = int(self._at[1] // 60.0) % MINUTES_PER_DAY
        cand, busy, exclude = self._cand[minute], self.busy, self._at[3]
        return [u for u in range(self.n_units) if cand[u] and not busy[u] and u not in exclude]

    def earliest(self, k: int) -> list[Offer]:
        node, now, urgent, exclude = self._at
        return self._best_units(node, now, int(now // 60.0) % MINUTES_PER_DAY, k, urgent, exclude)

    def offer(self, unit: int) -> Offer:
        """The exact cost of sending one available unit now."""
        node, now, _, _ = self._at
        minute = int(now // 60.0) % MINUTES_PER_DAY
        period = self._period_list[minute]
        traj = self.traj
        if now < traj.trans_end[unit]:
            nxt, offset = traj.position(unit, now)
            travel = offset + float(self.oracles_p[period][unit].to_node(node)[0][nxt])
            return Offer(unit, 0.0, travel, True)
        if self.has_loop[unit]:
            kflat, offset = traj.loop_position(unit, now)
            rows, row_of = traj.flat_rows(period)
            return Offer(unit, 0.0, offset + float(rows[node, row_of[kflat]]), True)
        table = self.post_tables[period][self._slot_list[minute]]
        assert table is not None
        return Offer(unit, self._turnout[unit], float(table[node, unit]), False)

    # -- dispatch: the earliest arrivals -----------------------------------------------------------

    def _best_units(self, node: int, now: float, minute: int, k: int, urgent: bool = False,
                    exclude: AbstractSet[int] = frozenset()) -> list[Offer]:
        """Up to ``k`` available units with the earliest arrivals at ``node`` at ``now`` (in
        ``minute`` of the day), best first; ties go to the lowest unit index. Units in
        ``exclude`` (already on this job) are never chosen.

        The hot path of the engine. Parked units come in order of arrival from a table per node
        (computed once per layout, posts and period): the first k available ones are the only
        parked candidates. Patrolling units are timed exactly only when their loop's lower bound
        (the shortest drive from any of its nodes) could beat the k-th best so far. Units driving
        back, and units on minor jobs that could be diverted, need a search (one goal-directed
        search each) only when neither the straight-line nor the landmark bound rules them out.
        """
        period = self._period_list[minute]
        slot = self._slot_list[minute]
        pair = self._tables[period][slot]
        if pair is None:
            pair = self._tables_of(period, slot)
        tables, offers_of = pair
        if exclude:
            blocked = self._blocked_b
            for u in exclude:
                blocked[u] |= 2
            n, n_transit, eta, unit, nxt, offset = offers_of(node, now, min(k, self._k_max),
                                                             minute, tables)
            for u in exclude:
                blocked[u] &= 1
        else:
            n, n_transit, eta, unit, nxt, offset = offers_of(node, now, min(k, self._k_max),
                                                             minute, tables)
        # the rows come sorted (later ones are never among the k earliest); the first came back
        # with the counts, so that the common dispatch of one unit reads no array
        n = min(n, k)
        if not n_transit and not (urgent and self.divert and self._on_minor):
            # every candidate's arrival was a lookup; the common dispatch, of one unit, reads
            # the first row only
            if n == 1:
                return [] if eta == _INF else [self._lookup_offer(eta, unit, nxt, offset)]
            return [self._lookup_offer(*row) for row in self._offers[:n].tolist()
                    if row[0] != _INF]
        rows = [(eta, unit, nxt, offset)] if n == 1 else self._offers[:n].tolist()
        best: list[tuple[float, int]] = []  # (arrival, unit) of candidates
        kind: dict[int, int] = {}  # unit -> 0 parked, 1 looping, 2 driving back, 3 diverted
        if n:
            seen = self._seen  # where the looping units were found: a unit sent leaves there
            for eta, unit, nxt, offset in rows:
                u = int(unit)
                best.append((eta, u))
                if nxt < 0:
                    kind[u] = 0
                else:
                    kind[u] = 1
                    seen[u] = (int(nxt), offset)
        cand, turnout = self._cand[minute], self._turnout
        oracles = self.oracles_p[period]
        if n_transit:  # driving back after a job: sent from where they are
            self._refine_transit(best, kind, self._transit[:n_transit].tolist(), node, now, k,
                                 oracles)
        if urgent and self.divert:
            divertable = [u for u in sorted(self._on_minor) if cand[u] and u not in exclude]
            if divertable:  # only a strictly earlier arrival justifies a diversion
                self._refine_diverted(best, kind, divertable, node, now, k, oracles)
        best.sort()
        out = []
        for eta, u in best[:k]:
            if eta == _INF:
                break
            c = kind[u]
            turn = 0.0 if c else turnout[u]
            out.append(_offer((u, turn, eta - turn, c != 0, c == 3)))
        return out

    def _lookup_offer(self, eta: float, unit: float, nxt: float, offset: float) -> Offer:
        """:meth:`_best_units`'s offer of a unit whose arrival was a lookup, from a row of the
        compiled call: arrival, unit, next node (-1 if parked) and time to it."""
        u = int(unit)
        if nxt < 0:
            turn = self._turnout[u]
            return _offer((u, turn, eta - turn, False, False))
        self._seen[u] = (int(nxt), offset)  # where it was found: a unit sent leaves there
        return _offer((u, 0.0, eta, True, False))

    def _tables_of(self, period: int, slot: int) -> tuple[DispatchTables, Callable[..., Any]]:
        """The arrays the compiled dispatch reads in congestion period ``period`` with the
        posts of ``slot`` (:mod:`sim.engine.tables`), made once per run, and
        :func:`~sim.engine.positions.unit_offers` compiled for their types, called directly
        (:func:`~sim.network.kernels.compiled_for`: 0.6 us a call instead of 1.6)."""
        traj = self.traj
        order, table = self._post_order[period][slot], self.post_tables[period][slot]
        assert order is not None and table is not None
        rows, row_of, low, loop_order = self._loop_tables_of(period)
        tables = dispatch_tables(
            self._cand_a, self._blocked, traj.trans_end_a, order, table, self.turnout,
            traj.anchor_a, low, loop_order, rows, row_of, traj.flat_node, traj.flat_cum,
            traj.flat_starts, self._loop_base_a, self._cycle_a, self._loop_ptr,
            self._loop_units_a, self._top, self._offers, self._transit)
        pair = self._tables[period][slot] = (tables, compiled_for(unit_offers, 0, 0.0, 1, 0,
                                                                  tables))
        return pair

    def _loop_tables_of(self, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
        """The world's loop rows and ranks for congestion period ``period`` (references, gathered
        once per run): ``(rows, row_of, low, order)``."""
        tables = self._loop_tables.get(period)
        if tables is None:
            tables = self._loop_tables[period] = (*self.traj.flat_rows(period),
                                                  *self.world.loop_rank(self.layout, period))
        return tables

    def _refine_diverted(self, best: list[tuple[float, int]], kind: dict[int, int],
                         units: list[int], node: int, now: float, k: int,
                         oracles: list[TravelTimeOracle]) -> None:
        """Exact arrival times, into ``best``, for units on minor jobs that a diversion would
        bring strictly earlier than the k-th best so far (from where they are on their way, or
        from the scene). Units the lower bounds rule out need no search (the straight line at the
        free-flow top speed, valid in every congestion period, and the landmark bound of the
        period's oracle: :meth:`TravelTimeOracle.might_reach`); each
        of the others gets one goal-directed search, stopped at that k-th best
        (:meth:`TravelTimeOracle.time_within`).
        """
        bound = self._kth(best, k)
        for u in units:
            # on its way, timed by this period's oracle: its route from where the drive started
            # reaches the next node ``offset`` after ``now``, so (triangle inequality) it cannot
            # reach ``node`` sooner than the bound from the start less ``now - start``. A unit
            # this rules out needs no search for its route.
            oracle, top = oracles[u], self._top_speed[u]
            start = self.job_start[u]
            if start <= now < self.job_arrival[u] \
                    and self.oracles_p[self.job_period[u]][u] is oracle \
                    and not oracle.might_reach(self.job_from[u], node, bound - (start - now), top):
                continue
            nxt, offset = self.job_position(u, now)
            if not oracle.might_reach(nxt, node, bound - offset, top):
                continue
            t = offset + oracle.time_within(nxt, node, bound)
            if t < bound:
                best.append((t, u))
                kind[u] = 3

    def _refine_transit(self, best: list[tuple[float, int]], kind: dict[int, int], units: list[int],
                        node: int, now: float, k: int, oracles: list[TravelTimeOracle]) -> None:
        """Exact arrival times, into ``best``, for units driving back that might be among the k
        best (as :meth:`_refine_diverted`, with a tighter bound).

        A unit on its way to ``target`` arrives at ``node`` no later than by way of ``target``:
        ``offset + T(next, target) + T(target, node)``, two lookups in rows kept for the posts and
        waypoints. The k-th smallest of these upper bounds and the exact times so far is the
        bound: units whose lower bounds (:meth:`TravelTimeOracle.might_reach`) exceed it cannot
        be among the k best and need no search, and the goal-directed search of each of the
        others stops at it.
        """
        bound = self._kth(best, k)
        traj = self.traj
        trans_from, trans_to, trans_t0 = traj.trans_from, traj.trans_to, traj.trans_t0
        trans_period, oracles_p, top = traj.trans_period, self.oracles_p, self._top_speed
        todo: list[tuple[int, int, float]] = []  # (unit, next node, offset)
        uppers: list[tuple[float, int]] = []
        seen = self._seen
        for u in units:
            oracle, target = oracles[u], trans_to[u]
            drive = oracles_p[trans_period[u]][u]  # the oracle its drive is timed by
            # as for a diversion: a drive timed by this period's oracle cannot reach ``node``
            # sooner than the bound from where it started less the time since; a unit this
            # rules out is never walked along its route
            if bound < _INF and drive is oracle \
                    and not oracle.might_reach(trans_from[u], node, bound - (trans_t0[u] - now),
                                               top[u]):
                continue
            # where it is on its way (as traj.position: it is still driving)
            nxt, offset = seen[u] = drive.along_route(trans_from[u], target, now - trans_t0[u])
            if not oracle.might_reach(nxt, node, bound - offset, top[u]):
                continue
            uppers.append((offset + traj.times_to(oracle, target)[nxt]
                           + float(oracle.from_node(target)[node]), u))
            todo.append((u, nxt, offset))
        if not todo:
            return
        # (a hair of slack: a sum of two shortest times may round below the direct one)
        limit = self._kth(best + uppers, k)
        limit += 1e-9 * limit + 1e-6
        for u, nxt, offset in todo:  # (at a limit no lower than the bound, the check above holds)
            oracle = oracles[u]
            if limit >= bound or oracle.might_reach(nxt, node, limit - offset, top[u]):
                best.append((offset + oracle.time_within(nxt, node, limit), u))
                kind[u] = 2

    @staticmethod
    def _kth(best: list[tuple[float, int]], k: int) -> float:
        """The k-th smallest arrival time so far: what a unit must beat to be chosen."""
        if len(best) < k:
            return _INF
        if k == 1:
            return min(best)[0]
        return sorted(best)[k - 1][0]

    def job_position(self, u: int, t: float) -> tuple[int, float]:
        """Where busy unit ``u`` is at ``t``: on scene, or on its way there (lazily, as for returns,
        in the congestion period of the dispatch)."""
        scene = self._node[self.job_of[u]]
        if t >= self.job_arrival[u]:
            return scene, 0.0
        start, origin = self.job_start[u], self.job_from[u]
        if t < start:
            return origin, start - t
        hit = self._job_route[u]
        if hit is None:  # its route, searched once per job (a goal-directed search), as lists
            path, to_scene = self.oracles_p[self.job_period[u]][u].route(origin, scene)
            hit = self._job_route[u] = (path.tolist(), (to_scene[0] - to_scene).tolist())
        nodes, cum = hit
        k = min(bisect_left(cum, t - start), len(nodes) - 1)
        return nodes[k], max(0.0, cum[k] - (t - start))

    def _divert(self, u: int, now: float) -> None:
        """Take unit ``u`` off its minor job: back to the queue if not yet there, else it ends."""
        jobs = self.jobs
        j = self.job_of[u]
        self._on_minor.discard(u)
        self.job_token[u] += 1  # its pending scene clearance no longer applies
        li = self.job_log[u]
        arrival = jobs.arrival_of(li)
        arrived = now >= arrival
        jobs.cut_short(li, arrival if arrived else now, now)  # withdrawn: it never gets there
        jobs.log_diverted.add(li)
        if not arrived:
            jobs.log_withdrawn.add(li)
        jobs.diverted[j] += 1
        if arrived:
            if jobs.unit_of[j] == u:
                jobs.clear_s[j] = now  # the job ends early
            return
        jobs.sent[j] -= 1
        self.remaining[j] += 1
        if j in self._on_job:  # withdrawn before it got there: it may be sent to this job again
            self._on_job[j].discard(u)
        # the units still sent to this job (a backup on its way may become its first unit)
        kept = [li for li in self._job_logs.get(j, ()) if li not in jobs.log_withdrawn]
        if jobs.unit_of[j] == u:  # the others were all later than u, so none is there yet
            self._first_unit(j, min(kept, key=lambda k: (jobs.arrival_of(k), k), default=-1))
        jobs.full_arrival_s[j] = max((jobs.arrival_of(li) for li in kept), default=-_INF)
        if self.remaining[j] == 1:  # it was fully served before: it needs a place in the queue
            heapq.heappush(self.queue, (self._prio[j], self._call[j], j))

    def _first_unit(self, j: int, li: int) -> None:
        """Make the unit of assignment ``li`` (already sent, still on its way) job ``j``'s first
        unit on scene; with ``li = -1`` the job has none."""
        jobs = self.jobs
        if li < 0:
            nan = float("nan")
            for col in (jobs.assign_s, jobs.arrival_s, jobs.clear_s, jobs.turnout_s, jobs.travel_s):
                col[j] = nan
            jobs.unit_of[j] = -1
            jobs.moving[j] = 0
            return
        _, v, assign, arrival, clear = jobs.entry(li)
        _, turnout, travel, moving, _ = self.job_offer[v]
        jobs.assign_s[j], jobs.arrival_s[j], jobs.clear_s[j] = assign, arrival, clear
        jobs.unit_of[j], jobs.turnout_s[j], jobs.travel_s[j] = v, turnout, travel
        jobs.moving[j] = int(moving)

    def _assign(self, o: Offer, i: int, now: float, period: int) -> None:
        """Send unit ``o.unit`` on offer ``o`` to job ``i`` at ``now``, in congestion period
        ``period`` (the drive's, to the end)."""
        jobs = self.jobs
        u, turnout, travel, moving, _ = o
        # where its drive starts (before the unit's state changes): a parked unit after turnout;
        # a moving one where the dispatch found it (or, busy, where it is on its way)
        if turnout > 0:
            self.job_from[u], self.job_start[u] = self.traj.trans_to[u], now + turnout
        else:
            if self.busy[u]:
                nxt, offset = self.job_position(u, now)
            else:
                hit = self._seen.get(u)
                nxt, offset = hit if hit is not None else self.traj.position(u, now)
            self.job_from[u], self.job_start[u] = nxt, now + offset
        self.job_period[u] = period
        arrival = now + turnout + travel
        clear = arrival + self._scene[i]
        self.busy[u] = True
        self._blocked_b[u] = 1
        if self._prio[i] == self.minor:
            self._on_minor.add(u)
        if jobs.unit_of[i] < 0 or arrival < jobs.arrival_s[i]:  # the first unit on scene
            jobs.assign_s[i] = now
            jobs.arrival_s[i] = arrival
            jobs.unit_of[i] = u
            jobs.turnout_s[i] = turnout
            jobs.travel_s[i] = travel
            jobs.moving[i] = int(moving)
            jobs.clear_s[i] = clear
        if arrival > jobs.full_arrival_s[i]:
            jobs.full_arrival_s[i] = arrival
        jobs.sent[i] += 1
        self.remaining[i] -= 1
        li = jobs.add(i, u, now, arrival, clear)
        if jobs.required[i] > 1:
            self._on_job.setdefault(i, set()).add(u)
            self._job_logs.setdefault(i, []).append(li)
        self.job_of[u] = i
        self._job_route[u] = None
        self.job_log[u] = li
        self.job_arrival[u] = arrival
        self.job_offer[u] = o
        self.traj.start_job(u, now, self._node[i], arrival)
        _Due(self.env, clear - now, (u, i, self.job_token[u]), self._on_cleared)

    def _cleared(self, ev: simpy.Event) -> None:
        """Unit ``u`` clears the scene of job ``i`` (the timeout's value ``(u, i, token)``;
        void if it was diverted since, as its token moved on) and drives back to its post or
        loop; waiting jobs may take it."""
        u, i, token = ev._value  # (set by _assign: read directly, not through the property)
        if self.job_token[u] != token:
            return
        now = self.env.now
        node = self._node[i]
        self.busy[u] = False
        self._blocked_b[u] = 0
        self._on_minor.discard(u)
        traj = self.traj
        # the drive after a job: back to the post, or to the loop
        minute = int(now // 60.0) % MINUTES_PER_DAY
        period = self._period_list[minute]
        k = traj.loop[u]
        if k >= 0:  # at the nearest waypoint by time (patrol.after_incident: resume) or the start
            back = self._rejoin[period][u]
            if back is None:
                back = self._rejoin[period][u] = traj.rejoin_table(k, self.oracles_p[period][u],
                                                                   self._resume)
            target_of, time_of, cum_of = back
            target = target_of[node]
            end = now + time_of[node]
            traj.rejoin_at(u, end - cum_of[node])
        else:
            target = self._slot_posts_list[self._slot_list[minute]][u]
            end = now + traj.times_to(self.oracles_p[period][u], target)[node]
        traj.start_transit(u, now, node, target, end, period)
        if self.queue:  # waiting jobs may take it
            self._serve_queue(now)
        if self._past_horizon:
            self._maybe_stop()

    def _send(self, i: int, now: float) -> bool:
        """Send the units the policy chooses for job ``i``; True if none remain to be sent."""
        if self._seen:
            self._seen.clear()
        minute = int(now // 60.0) % MINUTES_PER_DAY
        if self._earliest:  # what EarliestArrival.choose asks, without the layers between
            offers = self._best_units(self._node[i], now, minute, self.remaining[i],
                                      self._prio[i] == 0, self._on_job.get(i, _NONE))
        else:
            self._at = (self._node[i], now, self._prio[i] == 0, self._on_job.get(i, frozenset()))
            offers = self.policy.choose(Job(i, self._node[i], self._prio[i], self.remaining[i]),
                                        self)
        for o in offers:
            if o.divert:
                self._divert(o.unit, now)
                self.jobs.by_diversion[i] = 1
            self._assign(o, i, now, self._period_list[minute])
        return self.remaining[i] <= 0

    def _dispatch(self, i: int) -> None:
        now = self.env.now
        if self.village is not None and not self.village.police_needed(i, now):
            return  # closed by the village officer (sim.engine.village)
        if self.any_volunteer and self._prio[i] == self.minor \
                and self.scenario.patrol.volunteers_first_on_minor:
            self._volunteer_due.append((i, now))  # (timed after the run: _volunteer_etas)
        if self.overflow:
            self._send_or_hand_on(i, now)
            if self.queue:  # minor jobs a diversion put back
                self._serve_queue(now)
            return
        if self.queue or not self._send(i, now):
            if self.remaining[i] > 0:
                heapq.heappush(self.queue, (self._prio[i], self._call[i], i))
            self._serve_queue(now)
        elif self.queue:  # a diversion may have sent a minor job back to the queue
            self._serve_queue(now)

    def _send_or_hand_on(self, i: int, now: float) -> None:
        """A loss system: send what the policy gives; the backup force takes what is missing (the
        whole job, with outcome ``overflow``, if no unit of the layout is on it)."""
        if not self._send(i, now):
            self.remaining[i] = 0
            if self.jobs.unit_of[i] < 0:
                self.jobs.overflow[i] = 1

    def _serve_queue(self, now: float) -> None:
        """Give waiting jobs, most urgent first, to whatever units the policy sends."""
        if self.overflow:  # nothing waits: a job put back by a diversion is sent again or handed on
            while self.queue:
                _, _, j = heapq.heappop(self.queue)
                if self.remaining[j] > 0:
                    self._send_or_hand_on(j, now)
            return
        if self.policy.holds_back:
            self._serve_all(now)
            return
        while self.queue:
            _, _, j = self.queue[0]
            before = self.remaining[j]
            done = self._send(j, now)
            if done:
                heapq.heappop(self.queue)
            elif self.remaining[j] == before:
                if self._on_job.get(j):  # its own units may be free for the jobs behind it
                    self._serve_all(now)
                return  # nobody available

    def _serve_all(self, now: float) -> None:
        """For a policy that may hold a job back while units are free: try every waiting job,
        most urgent first (a held job does not block the jobs behind it)."""
        progress = True
        while progress and self.queue:
            progress = False
            for entry in sorted(self.queue):
                j = entry[2]
                if self.remaining[j] <= 0:
                    continue
                before = self.remaining[j]
                self._send(j, now)
                if self.remaining[j] != before:
                    progress = True
                if not self._any_free(now):
                    break
            self.queue = [e for e in self.queue if self.remaining[e[2]] > 0]
            heapq.heapify(self.queue)
            if not self._any_free(now):
                return

    def _any_free(self, now: float) -> bool:
        """Whether any unit is available at ``now`` (for some job)."""
        cand, busy = self._cand[int(now // 60.0) % MINUTES_PER_DAY], self.busy
        return any(cand[u] and not busy[u] for u in range(self.n_units))

    def _volunteer_etas(self) -> None:
        """When the first volunteer on the air could be at each minor job handed over (none:
        NaN): the earliest arrival of the patrolling volunteers, busy or not, found as for police
        units (:func:`sim.engine.positions.loop_offers`).

        Volunteers are never sent and never drive back, so where they are depends on the time
        alone: the jobs' hand-over times are noted during the run (:meth:`_dispatch`) and the
        arrivals found after it, in one compiled pass per congestion period
        (:func:`~sim.engine.positions.first_loop_arrivals`): the same floats as at each
        hand-over, without a compiled call per job."""
        by_period: dict[int, list[tuple[int, float, int]]] = {}
        for i, now in self._volunteer_due:
            minute = int(now // 60.0) % MINUTES_PER_DAY
            by_period.setdefault(self._period_list[minute], []).append((i, now, minute))
        traj, volunteer_s = self.traj, self.jobs.volunteer_s
        for period, due in sorted(by_period.items()):
            rows, row_of, low, order = self._loop_tables_of(period)
            first = np.empty(len(due))
            first_loop_arrivals(np.array([self._node[i] for i, _, _ in due], dtype=np.int64),
                                np.array([now for _, now, _ in due], dtype=np.float64),
                                np.array([m for _, _, m in due], dtype=np.int64), self._on_a,
                                traj.anchor_a, low, order, rows, row_of, traj.flat_node,
                                traj.flat_cum, traj.flat_starts, self._loop_base_a, self._cycle_a,
                                self._vol_ptr, self._vol_units_a, self._top, self._offers, first)
            for (i, _, _), t in zip(due, first.tolist(), strict=True):
                if t == t:  # (NaN: no volunteer on the air)
                    volunteer_s[i] = t

    # -- processes ----------------------------------------------------------------------------

    def _handovers(self) -> Generator[simpy.Event, Any, None]:  # jobs reach police in order
        """A SimPy process that starts the hand-overs, in the place of a process among the
        events of time 0. From then on each hand-over is a timeout whose callback dispatches
        the job and sets the next one (:meth:`_hand_on`): a generator resumed once per job
        would cost a few percent of a year, and the events come in the same order."""
        self._hand_order = np.lexsort((np.arange(len(self.inc)),
                                       self.inc.dispatch_s)).tolist()
        self._hand_when = self.inc.dispatch_s.tolist()
        self._hand_next = 0
        self._hand_over_due()
        yield from ()

    def _hand_on(self, _ev: simpy.Event) -> None:
        """The next hand-over is due (the timeout :meth:`_hand_over_due` set): its job is
        dispatched, and so are the ones due with it."""
        i = self._hand_order[self._hand_next]
        self._hand_next += 1
        self._dispatch(i)
        self._hand_over_due()

    def _hand_over_due(self) -> None:
        """Dispatch the jobs handed over by now, in order; then wait for the next one, or, when
        none is left before the end, mark the hand-overs done."""
        env, end, dispatch = self.env, self.end, self._dispatch
        order, when = self._hand_order, self._hand_when
        k = self._hand_next
        now = env.now  # (the clock stands still while the jobs due are dispatched)
        while k < len(order):  # every call is before the horizon; its hand-over may be in the
            i = order[k]       # cool-down
            t = when[i]
            if t >= end:
                break
            if t > now:
                self._hand_next = k
                _Due(env, t - now, None, self._on_hand_on)
                return
            k += 1
            self._hand_next = k
            dispatch(i)
        self._handed_all = True
        self._maybe_stop()

    def _maybe_stop(self) -> None:
        """End the run once past the horizon with every handed-over job cleared."""
        if self._past_horizon and self._handed_all and not self.queue and not any(self.busy) \
                and not self._stop.triggered:
            self._stop.succeed()

    def _at_horizon(self, _ev: simpy.Event) -> None:
        self._past_horizon = True
        self._maybe_stop()

    def _at_end(self, _ev: simpy.Event) -> None:
        if not self._stop.triggered:
            self._stop.succeed()

    def _daily(self, minutes: np.ndarray, action: Callable[[float], None]
               ) -> Generator[simpy.Event, Any, None]:
        """A SimPy process: ``action(now)`` at these minutes of every day, up to the end of the
        run (the horizon plus the cool-down)."""
        env, day = self.env, 0.0
        while minutes.size:
            for m in minutes:
                at = day + float(m) * 60.0
                if at >= self.end:
                    return
                if at > env.now:
                    yield env.timeout(at - env.now)
                action(env.now)
            day += 86400.0

    def _back_on_air(self, now: float) -> None:
        if self.queue:  # units coming back on the air take waiting jobs
            self._serve_queue(now)

    def _move_posts(self, now: float) -> None:
        traj = self.traj
        posts = self._slot_posts_list[self._slot_list[int(now // 60.0) % MINUTES_PER_DAY]]
        period = self.period(now)  # the move's period: the time of the change
        for u in self._off_loop:  # (a looping unit keeps to its loop)
            if self.busy[u] or posts[u] == traj.trans_to[u]:
                continue
            nxt, offset = traj.position(u, now)
            target = posts[u]
            end = now + offset + float(self.oracles_p[period][u].to_node(target)[0][nxt])
            traj.start_transit(u, now + offset, nxt, target, end, period)

    def _search_counts(self) -> tuple[int, int]:
        """Dijkstra and goal-directed searches the oracles have run so far (for benchmarks)."""
        return (sum(o.searches for o in self._all_oracles),
                sum(o.goal_searches for o in self._all_oracles))

    def presence(self) -> Presence:
        """Presence (见警率) from the units' logged trajectories (:mod:`sim.engine.presence`)."""
        return sample_presence(self.traj, self.horizon, on=self.sample_presence)

    # -- run ------------------------------------------------------------------------------------

    def run(self) -> EngineResult:
        """Run to the horizon and through the cool-down; return the records."""
        self.env.timeout(self.horizon).callbacks.append(self._at_horizon)
        self.env.timeout(self.end).callbacks.append(self._at_end)
        self.env.process(self._handovers())
        if self.has_shifts:
            back = np.flatnonzero((np.roll(self.off_air, 1, axis=0) & ~self.off_air).any(axis=1))
            self.env.process(self._daily(back, self._back_on_air))
        if len(self.slot_posts) > 1:
            changes = np.flatnonzero(self.slot_of_minute != np.roll(self.slot_of_minute, 1))
            self.env.process(self._daily(changes, self._move_posts))  # idle units go to the new post
        # The cyclic garbage collector is paused for the run: a run makes no garbage cycles
        # but its own (a few objects, freed after it), so scanning what it allocates is wasted
        # work (3-10% of a year, and now and then a full collection of the whole process in
        # the middle of a run).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self._stop)
            end = float(self.env.now)
            if self._volunteer_due:
                self._volunteer_etas()
            presence = self.presence()
            (d0, g0), (d1, g1) = self._searches0, self._search_counts()
            searches = (d1 - d0, g1 - g0)
            keep = self.world.pinned_nodes()
            for o in self._all_oracles:  # what was cached for incident scenes serves one run
                o.end_run(keep)
            result = assemble(self.world, self.layout, self.inc, self.replication, self.jobs,
                              presence, searches, end)
            result = rural_records(self.world, self.inc, result, self.village)  # rural fields
        finally:
            if collecting:
                gc.enable()
        self.env._queue.clear()  # drop pending events: their callbacks hold this engine in a cycle
        return result


class _Due(simpy.Timeout):
    """A timeout that calls ``callback`` when it is processed: a scene clearance or a
    hand-over is one object, scheduled as :class:`simpy.Timeout` schedules itself (the same
    event order), with its callback in place instead of appended afterwards."""

    def __init__(self, env: simpy.Environment, delay: float, value: Any,
                 callback: Callable[[simpy.Event], None]) -> None:
        # Timeout.__init__'s own lines (it does not call Event.__init__ either), less the check
        # of a negative delay: the engine's delays are never negative
        self.env = env
        self.callbacks = [callback]
        self._value = value
        self._delay = delay
        self._ok = True
        env.schedule(self, NORMAL, delay)


def _rows_as_lists(table: np.ndarray) -> list[list[bool]]:
    """Each row of a boolean table as a list, one list shared by equal rows."""
    rows = {row.tobytes(): row.tolist() for row in table}
    return [rows[row.tobytes()] for row in table]


def _by_loop(units: list[int], loop_of: list[int], n_loops: int) -> tuple[np.ndarray, np.ndarray]:
    """``units`` grouped by their loop, ascending within each (units on no loop left out), as a
    pointer array and the units: loop ``k``'s are ``units[ptr[k]:ptr[k + 1]]``."""
    by_loop = [[u for u in units if loop_of[u] == k] for k in range(n_loops)]
    ptr = np.cumsum([0] + [len(us) for us in by_loop]).astype(np.int64)
    return ptr, np.array([u for us in by_loop for u in us], dtype=np.int64)


def simulate(world: World, layout: str, incidents: IncidentSet, replication: int = 0,
             *, presence: bool = True) -> EngineResult:
    """Run one layout on one replication's incidents (a fresh environment each call)."""
    return Engine(world, layout, incidents, replication, presence=presence).run()
