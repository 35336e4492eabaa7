"""The discrete-event engine (SimPy): units, patrols, shifts, dispatch and the incident records.

One :class:`Engine` runs one layout against one replication's incidents in its own
``simpy.Environment``. The model:

- A job becomes dispatchable at ``dispatch_s`` (the call plus 110 call handling). It needs
  ``units_required`` units (backup for urgent types); the response time is to the first arrival,
  the full response to the last.
- Dispatch sends the available units with the earliest arrivals, tie-broken by unit index. A unit
  is available when it is a response unit, not on a job and on the air (not off shift, in a
  hand-over or on a meal break). Units parked at their post need their turnout time first; a
  unit already on the move (patrolling, or driving back after a job) is sent from where it is.
- If too few units are available, the job waits in a priority queue (priority, then call time,
  then incident number). Whenever a unit clears a scene or comes back on the air, waiting jobs
  are served first.
- After a job, a unit drives back to its post and waits there; in a layout with ``patrol: true``
  a patrolling unit instead rejoins its loop, at the nearest waypoint (``patrol.after_incident:
  resume``) or at the post (``return_to_post``).
- Moving units are located lazily. A patrolling unit's position follows from its loop, its
  phase and the time; a unit driving back holds its route and the cumulative times along it.
  Positions are computed only when a dispatch or a presence sample asks: there is no event per
  road edge. The events are job hand-overs, scene clearances, units coming on the air and
  presence samples.
- Congestion by hour of day: a trip is timed with the oracle of the congestion period it starts in
  (the dispatch time for a job, the clearance for the drive back, the change time for a move
  to a mobile post) and keeps it to the end; the period is stored with the unit's transit (and
  in its logged TRANSIT segment) so the route is rebuilt the same way. Patrol loops keep their
  free-flow timing; the drive from the loop to an incident uses the period's oracle.
- Presence (见警率): every ``patrol.presence_sample`` the engine records, for each key location
  and each grid's post, whether an on-duty police unit (and, separately, a volunteer team) is
  within the zone's target travel time, by hour of day.

simpy is imported here and nowhere else.
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy

from sim.network.oracle import TravelTimeOracle
from sim.scenario import PRIORITIES, ZONE_CLASSES, Scenario
from sim.types import OUTCOMES, EngineResult, Fleet, IncidentSet, Presence, RecordTable
from sim.world.prepare import MINUTES_PER_DAY, World, presence_points

__all__ = ["Engine", "EngineResult", "Presence", "simulate"]

_INF = float("inf")
PARK, LOOP, TRANSIT, JOB = 0, 1, 2, 3






class Engine:
    """Simulate one layout on one set of incidents (see the module docstring for the model).

    Parameters
    ----------
    world : the prepared world (network, zones, oracles, fleets).
    layout : name of the layout to run.
    incidents : the replication's incidents (shared by all layouts).
    replication : replication number, written into the records.
    presence : whether to sample patrol presence.
    """

    def __init__(self, world: World, layout: str, incidents: IncidentSet, replication: int = 0,
                 *, presence: bool = True) -> None:
        self.world = world
        self.scenario: Scenario = world.scenario
        self.fleet: Fleet = world.fleets[layout]
        self.layout = layout
        self.inc = incidents
        self.replication = replication
        self.horizon = incidents.horizon_s
        # per-incident values as plain lists: the event loop reads them one at a time
        self._node: list[int] = incidents.node.tolist()
        self._prio: list[int] = incidents.priority.tolist()
        self._call: list[float] = incidents.call_s.tolist()
        self._scene: list[float] = incidents.on_scene_s.tolist()
        fleet = self.fleet
        n_units = len(fleet)
        self.oracle: list[TravelTimeOracle] = [world.oracles[t] for t in fleet.unit_type]
        # congestion: the period of each minute of the day, and each unit's oracle per period
        self.period_of_minute = world.period_of_minute
        self._period_list: list[int] = world.period_of_minute.tolist()  # fast scalar lookups
        self.oracles_p: list[list[TravelTimeOracle]] = [
            [po[t] for t in fleet.unit_type] for po in world.period_oracles]
        # where units wait, by time of day: a few distinct sets of posts ("slots")
        self.slot_posts, self.slot_of_minute = np.unique(fleet.post_table, axis=0, return_inverse=True)
        self.slot_of_minute = self.slot_of_minute.reshape(-1)
        used = np.unique(np.stack([self.period_of_minute, self.slot_of_minute]), axis=1)
        # post_tables[period][slot], for the (period, slot) pairs that occur in a day
        self.post_tables: list[list[np.ndarray | None]] = [
            [None] * len(self.slot_posts) for _ in world.period_oracles]
        for p, slot in used.T:
            self.post_tables[int(p)][int(slot)] = world.post_times(layout, self.slot_posts[slot],
                                                                   int(p))
        self.turnout = fleet.turnout_s.astype(float)
        self.dispatchable = fleet.dispatchable
        self.off_air = fleet.off_air
        self.has_shifts = bool(self.off_air.any())
        self.on_table = ~self.off_air  # [minute of day, unit]
        self.candidates = self.dispatchable[None, :] & self.on_table  # on the air and dispatchable
        # trajectories: a transit leg (route from trans_from to trans_to) then the loop or the post
        self.busy = np.zeros(n_units, dtype=bool)
        self.loop = fleet.loop.copy()
        self.has_loop = self.loop >= 0
        self.any_loop = bool(self.has_loop.any())
        self.trans_t0 = np.zeros(n_units)
        self.trans_end = np.full(n_units, -_INF)
        self.trans_from = self.slot_posts[self.slot_of_minute[0]].copy()
        self.trans_to = self.trans_from.copy()
        self.trans_period = [0] * n_units  # congestion period of each unit's transit
        self.anchor = -fleet.loop_phase_s.astype(float)  # time the unit was (or would be) at loop start
        self._route: list[tuple[np.ndarray, np.ndarray] | None] = [None] * n_units
        self._flat_nodes: np.ndarray | None = None
        self._wp_times: dict[tuple[int, int], np.ndarray] = {}
        self._flat_loops()
        self.queue: list[tuple[int, float, int]] = []
        self.remaining = np.asarray([self.scenario.incident_types[t].units_required
                                     for t in incidents.type_index], dtype=np.int32) \
            if len(incidents) else np.zeros(0, dtype=np.int32)
        self.required = self.remaining.copy()
        # per-incident results (first unit)
        n = len(incidents)
        self.assign_s = np.full(n, np.nan)
        self.arrival_s = np.full(n, np.nan)
        self.clear_s = np.full(n, np.nan)
        self.full_arrival_s = np.full(n, -_INF)
        self.unit_of = np.full(n, -1, dtype=np.int32)
        self.turnout_s = np.full(n, np.nan)
        self.travel_s = np.full(n, np.nan)
        self.queued = np.zeros(n, dtype=np.int8)
        self.moving = np.zeros(n, dtype=np.int8)
        self.sent = np.zeros(n, dtype=np.int32)
        self.volunteer_s = np.full(n, np.nan)
        self.log: list[tuple[int, int, float, float, float]] = []
        # each busy unit's job: incident, log entry, where and when its drive there starts
        self.job_of = np.full(n_units, -1, dtype=np.int64)
        self.job_log = np.full(n_units, -1, dtype=np.int64)
        self.job_from = np.zeros(n_units, dtype=np.int64)
        self.job_start = np.zeros(n_units)
        self.job_arrival = np.zeros(n_units)
        self.job_token = np.zeros(n_units, dtype=np.int64)
        self.job_period = [0] * n_units  # congestion period of each unit's drive to its job
        self.diverted = np.zeros(n, dtype=np.int32)
        self.by_diversion = np.zeros(n, dtype=np.int8)
        self.log_diverted: list[bool] = []   # the unit was taken off this job for an urgent one
        self.log_withdrawn: list[bool] = []  # ... before it got there
        self.divert = self.scenario.dispatch.divert_from_minor
        # each unit's trajectory as segments (start, kind, a, b, c, d): PARK (a = post node);
        # LOOP (a = anchor); TRANSIT (a = route start node, b = target node, c = loop anchor after
        # it, d = congestion period of the drive); JOB (a = scene node, b = arrival time)
        self.segs: list[list[tuple[float, int, float, float, float, float]]] = [
            [(0.0, LOOP, float(self.anchor[u]), 0.0, 0.0, 0.0) if lp >= 0 else
             (0.0, PARK, float(self.trans_to[u]), 0.0, 0.0, 0.0)] for u, lp in enumerate(self.loop)]
        self.env = simpy.Environment()
        self._all_oracles = list({id(o): o for po in self.oracles_p for o in po}.values())
        self._searches0 = sum(o.searches for o in self._all_oracles)
        self.sample_presence = presence
        self.volunteers = np.array([r == "volunteer" for r in fleet.role], dtype=bool)
        self.any_volunteer = bool(self.volunteers.any())
        self.minor = PRIORITIES.index("minor")

    # -- lazy positions ---------------------------------------------------------------------

    def _flat_loops(self) -> None:
        """All loops of the layout end to end, so positions of all patrolling units are one
        ``searchsorted``; rows of driving times from every loop node come with them."""
        loops = self.fleet.loops
        self.loop_base = np.zeros(len(loops))
        if not loops:
            self.flat_cum = np.zeros(0)
            return
        offsets, cums, base = [], [], 0.0
        for k, lp in enumerate(loops):
            self.loop_base[k] = base
            cums.append(lp.cum + base)
            offsets.append(k)
            base += lp.cycle + 1.0  # a gap keeps segments apart
        self.flat_cum = np.concatenate(cums)
        self.flat_start = np.cumsum([0] + [len(lp.nodes) for lp in loops])[:-1]
        self.cycle = np.array([lp.cycle for lp in loops])
        self._flat_rows: dict[int, np.ndarray] = {}

    def flat_rows(self, period: int = 0) -> np.ndarray:
        """``[flat loop index, node]``: driving time (s) from each loop node in congestion period
        ``period`` (float32, lazy)."""
        rows = self._flat_rows.get(period)
        if rows is None:
            rows = np.concatenate([self.world.loop_rows(self.layout, k, period)[0]
                                   for k in range(len(self.fleet.loops))])
            self._flat_rows[period] = rows
        return rows

    def period(self, t: float) -> int:
        """The congestion period at time ``t`` (0 = free flow)."""
        return self._period_list[int(t // 60.0) % MINUTES_PER_DAY]

    def route(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit ``u``'s current transit route: node indices and cumulative times (s) from its start,
        in the congestion period the transit started in."""
        r = self._route[u]
        if r is None:
            oracle, target = self.oracles_p[self.trans_period[u]][u], int(self.trans_to[u])
            path = oracle.path_to(int(self.trans_from[u]), target)
            to_target = oracle.to_node(target)[0]
            r = (path, to_target[path[0]] - to_target[path])  # exact along a shortest-path tree
            self._route[u] = r
        return r

    def _loop_positions(self, units: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Flat loop indices of the next node, and time (s) to reach it, for units on their loops."""
        lp = self.loop[units]
        phase = np.mod(t - self.anchor[units], self.cycle[lp])
        k = np.searchsorted(self.flat_cum, self.loop_base[lp] + phase, side="left")
        return k, self.flat_cum[k] - self.loop_base[lp] - phase

    def position(self, u: int, t: float) -> tuple[int, float]:
        """Where unit ``u`` is at time ``t`` (when not on a job): the next node it reaches, and in
        how long (s). A parked unit is at its post with 0."""
        if t < self.trans_end[u]:
            path, cum = self.route(u)
            elapsed = t - self.trans_t0[u]
            k = int(np.searchsorted(cum, elapsed, side="left"))
            if k >= len(path):
                return int(path[-1]), 0.0
            return int(path[k]), float(cum[k] - elapsed)
        if self.loop[u] >= 0:
            k, offset = self._loop_positions(np.array([u]), t)
            return int(self.flat_nodes()[k[0]]), float(offset[0])
        return int(self.trans_to[u]), 0.0

    def flat_nodes(self) -> np.ndarray:
        """All loops' nodes end to end (index with the positions of :meth:`_loop_positions`)."""
        if self._flat_nodes is None:
            self._flat_nodes = np.concatenate([lp.nodes for lp in self.fleet.loops])
        return self._flat_nodes

    def _waypoint_times(self, k: int, oracle: TravelTimeOracle) -> np.ndarray:
        """``[waypoint, node]``: time (s) from every node to each waypoint of loop ``k``."""
        key = (k, id(oracle))
        table = self._wp_times.get(key)
        if table is None:
            lp = self.fleet.loops[k]
            table = np.stack([oracle.to_node(int(lp.nodes[w]))[0] for w in lp.waypoints])
            self._wp_times[key] = table
        return table

    # -- availability -------------------------------------------------------------------------

    def on_air(self, t: float) -> np.ndarray:
        """Which units are on the air at time ``t``."""
        return self.on_table[int(t // 60.0) % MINUTES_PER_DAY]

    # -- dispatch -----------------------------------------------------------------------------

    def _best_units(self, node: int, now: float, k: int, urgent: bool = False
                    ) -> list[tuple[int, float, float, bool, bool]]:
        """Up to ``k`` available units with the earliest arrivals at ``node``:
        (unit, turnout, travel, already moving, diverted from a minor job), best first.

        The hot path of the engine: a parked unit's arrival is one row lookup in the post table of
        the period and posts of the hour; patrolling units are one vectorised loop lookup; units
        driving back, and units on minor jobs that could be diverted, need a (bounded, cached)
        search only when a straight-line bound says they might win.
        """
        minute = int(now // 60.0) % MINUTES_PER_DAY
        period = self._period_list[minute]
        avail = self.candidates[minute] & ~self.busy
        transit = avail & (self.trans_end > now)
        any_transit = bool(transit.any())
        still = avail & ~transit if any_transit else avail
        eta = np.where(still, self.post_tables[period][self.slot_of_minute[minute]][node] + self.turnout,
                       _INF)
        looping = None
        if self.any_loop:
            looping = still & self.has_loop
            if looping.any():
                units = np.flatnonzero(looping)
                kflat, offset = self._loop_positions(units, now)
                eta[units] = offset + self.flat_rows(period)[kflat, node]
        oracles = self.oracles_p[period]
        if any_transit:  # driving back after a job: sent from where they are
            self._refine(eta, transit, self.position, node, now, k, oracles)
        divertable = None
        if urgent and self.divert:
            divertable = self.busy & (self.job_of >= 0) & self.candidates[minute]
            divertable[divertable] = self.inc.priority[self.job_of[divertable]] == self.minor
            if divertable.any():  # only a strictly earlier arrival justifies a diversion
                self._refine(eta, divertable, self.job_position, node, now, k, oracles, strict=True)
        # earliest arrival first; ties go to the lowest unit index (argmin and a stable sort agree)
        order = [int(np.argmin(eta))] if k == 1 else np.argsort(eta, kind="stable")[:k]
        out = []
        for u in order:
            u = int(u)
            if eta[u] == _INF:
                break
            divert = bool(divertable is not None and divertable[u])
            moving = bool(transit[u] or divert or (looping is not None and looping[u]))
            turnout = 0.0 if moving else float(self.turnout[u])
            out.append((u, turnout, float(eta[u]) - turnout, moving, divert))
        return out

    def _refine(self, eta: np.ndarray, units: np.ndarray, where, node: int, now: float, k: int,
                oracles: list[TravelTimeOracle], *, strict: bool = False) -> None:
        """Exact arrival times, into ``eta``, for moving ``units`` that might be among the k best.

        ``where(u, now)`` gives a unit's next node and the time to reach it. A straight-line
        bound at the free-flow top speed (valid in every congestion period) skips units that
        cannot beat the k-th best so far; the others get one bounded, cached reverse search.
        With ``strict``, a unit only enters when it is strictly earlier than that k-th best.
        """
        bound = self._kth(eta, k)
        for u in np.flatnonzero(units):
            u = int(u)
            nxt, offset = where(u, now)
            if offset + self.oracle[u].lower_bound(nxt, node) > bound:
                continue
            t = offset + float(oracles[u].times_to(node, bound)[nxt])
            if t < bound or not strict:
                eta[u] = t

    @staticmethod
    def _kth(eta: np.ndarray, k: int) -> float:
        """The k-th smallest arrival time so far: what a unit must beat to be chosen."""
        if k == 1:
            return float(eta.min())
        finite = np.sort(eta[np.isfinite(eta)])
        return float(finite[k - 1]) if finite.size >= k else _INF

    def _here(self, u: int, now: float) -> tuple[int, float]:
        """The node a unit being sent leaves from, and when it gets there (s since the start)."""
        nxt, offset = self.job_position(u, now) if self.busy[u] else self.position(u, now)
        return nxt, now + offset

    def job_position(self, u: int, t: float) -> tuple[int, float]:
        """Where busy unit ``u`` is at ``t``: on scene, or on its way there (lazily, as for returns,
        in the congestion period of the dispatch)."""
        scene = self._node[int(self.job_of[u])]
        if t >= self.job_arrival[u]:
            return scene, 0.0
        start, origin = float(self.job_start[u]), int(self.job_from[u])
        if t < start:
            return origin, start - t
        oracle = self.oracles_p[self.job_period[u]][u]
        path = oracle.path_to(origin, scene)
        to_scene = oracle.to_node(scene)[0]
        cum = to_scene[path[0]] - to_scene[path]
        k = int(np.searchsorted(cum, t - start, side="left"))
        k = min(k, len(path) - 1)
        return int(path[k]), float(max(0.0, cum[k] - (t - start)))

    def _divert(self, u: int, now: float) -> None:
        """Take unit ``u`` off its minor job: back to the queue if not yet there, else it ends."""
        j = int(self.job_of[u])
        self.job_token[u] += 1  # its pending scene clearance no longer applies
        li = int(self.job_log[u])
        i_, u_, a, arr, _ = self.log[li]
        arrived = now >= arr
        self.log[li] = (i_, u_, a, arr if arrived else now, now)
        self.log_diverted[li] = True
        self.log_withdrawn[li] = not arrived
        self.diverted[j] += 1
        if arrived:
            if self.unit_of[j] == u:
                self.clear_s[j] = now  # the job ends early
            return
        self.sent[j] -= 1
        self.remaining[j] += 1
        if self.unit_of[j] == u:  # the first unit never got there: the job waits for another
            for arr_ in (self.assign_s, self.arrival_s, self.clear_s, self.turnout_s, self.travel_s):
                arr_[j] = np.nan
            self.unit_of[j] = -1
            self.moving[j] = 0
            self.full_arrival_s[j] = -_INF
        if self.remaining[j] == 1:  # it was fully served before: it needs a place in the queue
            self.queued[j] = 1
            heapq.heappush(self.queue, (self._prio[j], self._call[j], j))

    def _assign(self, u: int, i: int, now: float, turnout: float, travel: float, moving: bool) -> None:
        # where its drive starts (before the unit's state changes): a parked unit after turnout
        self.job_from[u], self.job_start[u] = (
            (int(self.trans_to[u]), now + turnout) if turnout > 0 else self._here(u, now))
        self.job_period[u] = self._period_list[int(now // 60.0) % MINUTES_PER_DAY]  # of the ETA
        arrival = now + turnout + travel
        clear = arrival + self._scene[i]
        self.busy[u] = True
        if self.unit_of[i] < 0 or arrival < self.arrival_s[i]:  # the first unit on scene
            self.assign_s[i] = now
            self.arrival_s[i] = arrival
            self.unit_of[i] = u
            self.turnout_s[i] = turnout
            self.travel_s[i] = travel
            self.moving[i] = moving
            self.clear_s[i] = clear
        self.full_arrival_s[i] = max(self.full_arrival_s[i], arrival)
        self.sent[i] += 1
        self.remaining[i] -= 1
        self.job_of[u] = i
        self.job_log[u] = len(self.log)
        self.job_arrival[u] = arrival
        self.log.append((i, u, now, arrival, clear))
        self.log_diverted.append(False)
        self.log_withdrawn.append(False)
        if self.segs[u][-1][1] == TRANSIT:
            self._close_transit(u, now)
        self.segs[u].append((now, JOB, float(self._node[i]), arrival, 0.0, 0.0))
        token = int(self.job_token[u])
        done = self.env.timeout(clear - now)
        done.callbacks.append(lambda _ev, u=u, i=i, tok=token: self._on_clear(u, i)
                              if self.job_token[u] == tok else None)

    def _send(self, i: int, now: float) -> bool:
        """Send as many of job ``i``'s remaining units as are available; True if none remain."""
        urgent = self._prio[i] == 0
        for u, turnout, travel, moving, divert in self._best_units(self._node[i], now,
                                                                    int(self.remaining[i]), urgent):
            if divert:
                self._divert(u, now)
                self.by_diversion[i] = 1
            self._assign(u, i, now, turnout, travel, moving)
        return self.remaining[i] <= 0

    def _dispatch(self, i: int) -> None:
        now = self.env.now
        if self.any_volunteer and self._prio[i] == self.minor \
                and self.scenario.patrol.volunteers_first_on_minor:
            self._volunteer_eta(i, now)
        if self.queue or not self._send(i, now):
            if self.remaining[i] > 0:
                self.queued[i] = 1
                heapq.heappush(self.queue, (self._prio[i], self._call[i], i))
            self._serve_queue(now)
        elif self.queue:  # a diversion may have sent a minor job back to the queue
            self._serve_queue(now)

    def _serve_queue(self, now: float) -> None:
        """Give waiting jobs, most urgent first, to whatever units are available."""
        while self.queue:
            _, _, j = self.queue[0]
            before = self.remaining[j]
            done = self._send(j, now)
            if done:
                heapq.heappop(self.queue)
            elif self.remaining[j] == before:
                return  # nobody available

    def _on_clear(self, u: int, i: int) -> None:
        now = self.env.now
        node = self._node[i]
        self.busy[u] = False
        # the drive after a job: back to the post, or to the loop
        minute = int(now // 60.0) % MINUTES_PER_DAY
        target = int(self.slot_posts[self.slot_of_minute[minute], u])
        period = self._period_list[minute]
        oracle = self.oracles_p[period][u]
        if self.loop[u] >= 0:
            lp = self.fleet.loops[int(self.loop[u])]
            join = 0
            if self.scenario.patrol.after_incident == "resume":  # the nearest waypoint, by time
                times = self._waypoint_times(int(self.loop[u]), oracle)[:, node]
                join = int(lp.waypoints[int(np.argmin(times))])
            target = int(lp.nodes[join])
            arrive = now + float(oracle.to_node(target)[0][node])
            self.anchor[u] = arrive - float(lp.cum[join])
            self.trans_end[u] = arrive
        else:
            self.trans_end[u] = now + float(oracle.to_node(target)[0][node])
        self.trans_from[u] = node
        self.trans_to[u] = target
        self.trans_t0[u] = now
        self.trans_period[u] = period
        self._route[u] = None
        self.segs[u].append((now, TRANSIT, float(node), float(target), float(self.anchor[u]),
                             float(period)))
        self._serve_queue(now)

    def _close_transit(self, u: int, now: float) -> None:
        """If unit ``u``'s drive after a job ended before ``now``, log what it did next."""
        last = self.segs[u][-1]
        if last[1] == TRANSIT and self.trans_end[u] <= now:
            if self.loop[u] >= 0:
                self.segs[u].append((float(self.trans_end[u]), LOOP, float(self.anchor[u]), 0.0, 0.0,
                                     0.0))
            else:
                self.segs[u].append((float(self.trans_end[u]), PARK, float(self.trans_to[u]), 0.0,
                                     0.0, 0.0))

    def _volunteer_eta(self, i: int, now: float) -> None:
        units = np.flatnonzero(self.volunteers & self.on_air(now) & (self.loop >= 0))
        if units.size:
            kflat, offset = self._loop_positions(units, now)
            eta = offset + self.flat_rows(self.period(now))[kflat, self._node[i]]
            self.volunteer_s[i] = now + float(np.min(eta))

    # -- processes ----------------------------------------------------------------------------

    def _handovers(self):  # jobs reach police in order of dispatch time
        order = np.lexsort((np.arange(len(self.inc)), self.inc.dispatch_s)).tolist()
        when = self.inc.dispatch_s.tolist()
        env, horizon, dispatch = self.env, self.horizon, self._dispatch
        for i in order:
            t = when[i]
            if t >= horizon:
                break
            if t > env.now:
                yield env.timeout(t - env.now)
            dispatch(i)

    def _daily(self, minutes: np.ndarray, action):
        """A SimPy process: ``action(now)`` at these minutes of every day, up to the horizon."""
        env, day = self.env, 0.0
        while minutes.size:
            for m in minutes:
                at = day + float(m) * 60.0
                if at >= self.horizon:
                    return
                if at > env.now:
                    yield env.timeout(at - env.now)
                action(env.now)
            day += 86400.0

    def _back_on_air(self, now: float) -> None:
        if self.queue:  # units coming back on the air take waiting jobs
            self._serve_queue(now)

    def _move_posts(self, now: float) -> None:
        posts = self.slot_posts[self.slot_of_minute[int(now // 60.0) % MINUTES_PER_DAY]]
        period = self.period(now)  # the move's period: the time of the change
        for u in np.flatnonzero(~self.busy & ~self.has_loop & (posts != self.trans_to)):
            u = int(u)
            self._close_transit(u, now)
            nxt, offset = self.position(u, now)
            target = int(posts[u])
            self.trans_from[u] = nxt
            self.trans_to[u] = target
            self.trans_t0[u] = now + offset
            self.trans_end[u] = now + offset + float(
                self.oracles_p[period][u].to_node(target)[0][nxt])
            self.trans_period[u] = period
            self._route[u] = None
            self.segs[u].append((now + offset, TRANSIT, float(nxt), float(target), 0.0,
                                 float(period)))

    def presence(self) -> Presence:
        """Presence (见警率) from the units' logged trajectories, on a fixed time grid.

        Every ``patrol.presence_sample`` from the end of the warm-up, each point (key location,
        grid post) counts as covered by police when an on-air police unit could reach it within
        the point's zone target from where it is; volunteers are counted apart. Units on the way
        to a job are left out (their route is not tracked); units on scene are at the scene.
        Computed after the run, vectorised over all sample times, from the same lazy positions
        the dispatcher uses; the reach from a position to a point is timed in the congestion
        period of the sample.
        """
        pts = presence_points(self.world, self.layout)
        names = tuple(p[0] for p in pts)
        kinds = tuple(p[1] for p in pts)
        nodes_p = np.array([p[2] for p in pts], dtype=np.int64)
        targets = np.array([p[3] for p in pts])
        step = self.scenario.patrol.presence_sample
        t0 = float(np.ceil(self.scenario.run.warmup / step) * step)
        times = np.arange(t0, self.horizon, step) if self.sample_presence else np.zeros(0)
        hours = (times // 3600.0).astype(np.int64) % 24
        best_p = np.full((len(pts), times.size), _INF)
        best_v = np.full((len(pts), times.size), _INF)
        if times.size and len(pts):
            minute = (times // 60.0).astype(np.int64) % MINUTES_PER_DAY
            n_nodes = self.world.net.n_nodes
            periods = np.unique(self.period_of_minute[minute])
            # column offset of each sample's period in the stacked reverse rows
            shift = (np.searchsorted(periods, self.period_of_minute[minute]) * n_nodes)
            # units that drive alike in every period share reverse rows
            signature = [tuple(id(po[u]) for po in self.oracles_p) for u in range(len(self.fleet))]
            for sig in dict.fromkeys(signature):
                units = [u for u in range(len(self.fleet)) if signature[u] == sig]
                # [point, period * node]: the time from every node to each point, in each period
                rev = np.concatenate([np.stack([self.oracles_p[p][units[0]].to_node(int(n))[0]
                                                for n in nodes_p]) for p in periods], axis=1)
                traj = [self.trajectory(u, times) for u in units]
                node = np.stack([tr[0] for tr in traj])
                offset = np.stack([tr[1] for tr in traj])
                known = np.stack([tr[2] for tr in traj])
                if periods.size > 1:
                    node = node + shift[None, :]
                if self.has_shifts:
                    known &= self.on_table[minute][:, units].T
                vol = self.volunteers[units]
                for lo in range(0, times.size, 2048):  # [point, unit, sample] in chunks of time
                    sl = slice(lo, lo + 2048)
                    reach = rev[:, node[:, sl]] + offset[None, :, sl]
                    reach[:, ~known[:, sl]] = _INF
                    if (~vol).any():
                        np.minimum(best_p[:, sl], reach[:, ~vol].min(axis=1), out=best_p[:, sl])
                    if vol.any():
                        np.minimum(best_v[:, sl], reach[:, vol].min(axis=1), out=best_v[:, sl])
        samples = np.bincount(hours, minlength=24)
        police = np.stack([np.bincount(hours, weights=(best_p[k] <= targets[k]), minlength=24)
                           for k in range(len(pts))]) if len(pts) else np.zeros((0, 24))
        vols = np.stack([np.bincount(hours, weights=(best_v[k] <= targets[k]), minlength=24)
                         for k in range(len(pts))]) if len(pts) else np.zeros((0, 24))
        return Presence(names=names, kinds=kinds, nodes=nodes_p, targets_s=targets, samples=samples,
                        police=police.astype(np.int64), volunteers=vols.astype(np.int64))

    def trajectory(self, u: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit ``u``'s position at each of ``times`` (sorted, within the run) from its logged
        segments: next node, time (s) to reach it, and whether the position is known."""
        seg = np.array(self.segs[u], dtype=float)
        start, kind, a, b, c, d = seg.T
        w = np.searchsorted(start, times, side="right") - 1
        k = kind[w].astype(np.int64)
        node = np.full(times.size, int(self.trans_to[u]), dtype=np.int64)
        offset = np.zeros(times.size)
        known = np.ones(times.size, dtype=bool)
        anchor = np.where(k == LOOP, a[w], np.nan)
        park = k == PARK
        node[park] = a[w[park]].astype(np.int64)
        job = k == JOB
        node[job] = a[w[job]].astype(np.int64)
        known[job] = times[job] >= b[w[job]]
        trans = np.flatnonzero(k == TRANSIT)
        if trans.size:
            tw = w[trans]
            drive = np.empty(tw.size)
            # few targets (the post and the loop's waypoints) and few periods
            for target, period in np.unique(np.stack([b[tw], d[tw]]), axis=1).T:
                same = (b[tw] == target) & (d[tw] == period)
                oracle = self.oracles_p[int(period)][u]
                drive[same] = oracle.to_node(int(target))[0][a[tw][same].astype(np.int64)]
            ended = times[trans] >= start[tw] + drive
            after = trans[ended]
            if self.loop[u] >= 0:
                anchor[after] = c[w[after]]
            else:
                node[after] = b[w[after]].astype(np.int64)
            for sg in np.unique(tw[~ended]):  # samples caught mid-drive: walk that route
                idx = trans[~ended][tw[~ended] == sg]
                oracle = self.oracles_p[int(d[sg])][u]
                path = oracle.path_to(int(a[sg]), int(b[sg]))
                to_target = oracle.to_node(int(b[sg]))[0]
                cum = to_target[path[0]] - to_target[path]
                j = np.searchsorted(cum, times[idx] - start[sg], side="left")
                node[idx] = path[j]
                offset[idx] = cum[j] - (times[idx] - start[sg])
        on_loop = ~np.isnan(anchor)
        if on_loop.any():
            lp = self.fleet.loops[int(self.loop[u])]
            phase = np.mod(times[on_loop] - anchor[on_loop], lp.cycle)
            j = np.searchsorted(lp.cum, phase, side="left")
            node[on_loop] = lp.nodes[j]
            offset[on_loop] = lp.cum[j] - phase
        return node, offset, known

    # -- run ------------------------------------------------------------------------------------

    def run(self) -> EngineResult:
        """Run to the horizon and return the records."""
        self.env.process(self._handovers())
        if self.has_shifts:
            back = np.flatnonzero((np.roll(self.off_air, 1, axis=0) & ~self.off_air).any(axis=1))
            self.env.process(self._daily(back, self._back_on_air))
        if len(self.slot_posts) > 1:
            changes = np.flatnonzero(self.slot_of_minute != np.roll(self.slot_of_minute, 1))
            self.env.process(self._daily(changes, self._move_posts))  # idle units go to the new post
        self.env.run(until=self.horizon)
        result = self._result()
        self.env._queue.clear()  # drop pending events: their callbacks hold this engine in a cycle
        return result

    def _result(self) -> EngineResult:
        inc, h = self.inc, self.horizon
        n = len(inc)
        dispatch = np.where(inc.dispatch_s < h, inc.dispatch_s, np.nan)
        assign = np.where(self.assign_s <= h, self.assign_s, np.nan)
        arrival = np.where(self.arrival_s <= h, self.arrival_s, np.nan)
        clear = np.where(self.clear_s <= h, self.clear_s, np.nan)
        full = np.where((self.full_arrival_s <= h) & (self.sent >= self.required) & (self.sent > 0),
                        self.full_arrival_s, np.nan)
        outcome = np.where(~np.isnan(clear), 0, np.where(~np.isnan(arrival), 1,
                           np.where(~np.isnan(assign), 2, np.where(~np.isnan(dispatch), 3, 4))))
        has_unit = ~np.isnan(assign)
        unit = np.where(has_unit, self.unit_of, -1)
        zones = self.world.zones
        target = zones.targets[inc.zone]
        start = inc.call_s if self.scenario.zones.clock == "call" else dispatch
        elapsed = np.where(~np.isnan(arrival), arrival, h) - start
        met = np.where(~np.isnan(arrival), (elapsed <= target + 1e-9).astype(np.int8),
                       np.where(elapsed > target, 0, -1)).astype(np.int8)
        met = np.where(np.isnan(start), -1, met).astype(np.int8)
        warmup = self.scenario.run.warmup
        fleet = self.fleet
        unit_type_names = tuple(self.scenario.unit_types)
        type_code = np.array([unit_type_names.index(t) for t in fleet.unit_type] + [-1], dtype=np.int32)
        plat_code = np.append(fleet.platform, -1).astype(np.int32)
        sent_by_h = np.zeros(n, dtype=np.int32)
        log = np.array(self.log, dtype=float).reshape(-1, 5)
        if log.size:
            kept = (log[:, 2] <= h) & ~np.array(self.log_withdrawn, dtype=bool)  # never got there
            np.add.at(sent_by_h, log[:, 0].astype(np.int64), kept.astype(np.int32))
        volunteer = np.where(self.volunteer_s <= h, self.volunteer_s, np.nan)
        columns = {
            "layout": np.zeros(n, dtype=np.int32),
            "replication": np.full(n, self.replication, dtype=np.int32),
            "incident": np.arange(n, dtype=np.int64),
            "call_s": inc.call_s.astype(float),
            "dispatch_s": dispatch,
            "assign_s": assign,
            "arrival_s": arrival,
            "clear_s": clear,
            "node": inc.node.astype(np.int64),
            "osmid": self.world.net.osmid[inc.node],
            "zone": inc.zone.astype(np.int32),
            "key_location": inc.key_location.astype(np.int32),
            "incident_type": inc.type_index.astype(np.int32),
            "priority": inc.priority.astype(np.int32),
            "unit": unit.astype(np.int32),
            "unit_type": type_code[unit],
            "platform": plat_code[unit],
            "turnout_s": np.where(has_unit, self.turnout_s, np.nan),
            "travel_s": np.where(has_unit, self.travel_s, np.nan),
            "queued": self.queued.astype(np.int8),
            "queue_wait_s": assign - dispatch,
            "response_s": arrival - inc.call_s,
            "target_s": target,
            "target_met": met,
            "outcome": outcome.astype(np.int32),
            "counted": (inc.call_s >= warmup).astype(np.int8),
            "units_required": self.required.astype(np.int32),
            "units_sent": sent_by_h,
            "full_arrival_s": full,
            "full_response_s": full - inc.call_s,
            "from_patrol": np.where(has_unit, self.moving, 0).astype(np.int8),
            "volunteer_arrival_s": volunteer,
            "diverted": self.diverted.astype(np.int32),
            "by_diversion": np.where(has_unit, self.by_diversion, 0).astype(np.int8),
        }
        lookups = {
            "layout": (self.layout,),
            "zone": ZONE_CLASSES,
            "incident_type": tuple(t.name for t in self.scenario.incident_types),
            "priority": PRIORITIES,
            "unit": fleet.unit_name,
            "unit_type": unit_type_names,
            "platform": fleet.platform_names,
            "outcome": OUTCOMES,
        }
        lo, hi = warmup, h
        busy = np.zeros(len(fleet))
        if log.size:
            a = np.clip(log[:, 2], lo, hi)
            c = np.clip(log[:, 4], lo, hi)
            np.add.at(busy, log[:, 1].astype(np.int64), np.maximum(0.0, c - a))
        on_air = self._on_air_seconds(lo, hi)
        presence = self.presence()
        searches = sum(o.searches for o in self._all_oracles) - self._searches0
        assignments = {"incident": log[:, 0].astype(np.int64), "unit": log[:, 1].astype(np.int64),
                       "assign_s": log[:, 2], "arrival_s": log[:, 3], "clear_s": log[:, 4],
                       "diverted": np.array(self.log_diverted, dtype=bool)}
        return EngineResult(records=RecordTable(columns=columns, lookups=lookups),
                            unit_busy_s=busy, unit_on_air_s=on_air, window_s=hi - lo,
                            dispatchable=self.dispatchable.copy(), assignments=assignments,
                            presence=presence, searches=searches)

    def _on_air_seconds(self, lo: float, hi: float) -> np.ndarray:
        """Seconds each unit is on the air within [lo, hi) (minute resolution of the duty table)."""
        if not self.has_shifts:
            return np.full(len(self.fleet), hi - lo)
        per_day = (~self.off_air).sum(axis=0) * 60.0
        days = int((hi - lo) // 86400.0)
        total = per_day * days
        t = lo + days * 86400.0
        while t < hi:  # the remaining part day, minute by minute
            step = min(60.0 - (t % 60.0), hi - t)
            total = total + (~self.off_air[int(t // 60.0) % MINUTES_PER_DAY]) * step
            t += step
        return total


def simulate(world: World, layout: str, incidents: IncidentSet, replication: int = 0,
             *, presence: bool = True) -> EngineResult:
    """Run one layout on one replication's incidents (a fresh environment each call)."""
    return Engine(world, layout, incidents, replication, presence=presence).run()
