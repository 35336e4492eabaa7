"""The discrete-event engine (SimPy): units, dispatch and the incident records.

One :class:`Engine` runs one layout against one replication's incidents in its own
``simpy.Environment``. The model:

- A job becomes dispatchable at ``dispatch_s`` (the call plus 110 call handling).
- Dispatch sends the available unit with the earliest arrival, tie-broken by unit index. Units
  parked at their post need their turnout time first; a unit on its way back to its post is
  already moving and is sent from where it is.
- If every unit is busy, the job waits in a priority queue (priority, then call time, then
  incident number). A unit that clears a scene takes the first waiting job, from the scene;
  otherwise it drives back to its post and can be dispatched again on the way.
- Moving units are located lazily: a returning unit holds its route and the cumulative times
  along it, and its position is computed only when a dispatch asks. There is no event per road
  edge; the only events are job hand-overs and scene clearances.

simpy is imported here and nowhere else.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import simpy

from .config import PRIORITIES, ZONE_CLASSES, Scenario
from .demand import IncidentSet
from .network.oracle import TravelTimeOracle
from .records import OUTCOMES, RecordTable
from .world import Fleet, World

__all__ = ["Engine", "EngineResult", "simulate"]

_INF = float("inf")


@dataclass(frozen=True, eq=False)
class EngineResult:
    """What one engine run produces: the records and per-unit busy time.

    Attributes
    ----------
    records : one row per incident.
    unit_busy_s : time (s) each unit spent committed to incidents (assign to clear) within the
        counted window [warm-up, horizon].
    window_s : length (s) of that window.
    searches : Dijkstra searches the oracles ran during the run (for benchmarks).
    """

    records: RecordTable
    unit_busy_s: np.ndarray
    window_s: float
    searches: int


class Engine:
    """Simulate one layout on one set of incidents (see the module docstring for the model).

    Parameters
    ----------
    world : the prepared world (network, zones, oracles, fleets).
    layout : name of the layout to run.
    incidents : the replication's incidents (shared by all layouts).
    replication : replication number, written into the records.
    """

    def __init__(self, world: World, layout: str, incidents: IncidentSet, replication: int = 0) -> None:
        self.world = world
        self.scenario: Scenario = world.scenario
        self.fleet: Fleet = world.fleets[layout]
        self.layout = layout
        self.inc = incidents
        self.replication = replication
        self.horizon = incidents.horizon_s
        fleet = self.fleet
        n_units = len(fleet)
        self.oracle: list[TravelTimeOracle] = [world.oracles[t] for t in fleet.unit_type]
        # post_time[node, u]: driving time from unit u's post to node (one row lookup per dispatch)
        self.post_time = world.post_times(layout)
        self.turnout = fleet.turnout_s.astype(float)
        # unit state
        self.busy = np.zeros(n_units, dtype=bool)
        self.ret_t0 = np.zeros(n_units)           # when the current return trip started
        self.ret_end = np.full(n_units, -_INF)    # when it reaches the post (-inf: parked)
        self.ret_from = np.zeros(n_units, dtype=np.int64)
        self._route: list[tuple[np.ndarray, np.ndarray] | None] = [None] * n_units
        self.queue: list[tuple[int, float, int]] = []
        # per-incident results
        n = len(incidents)
        self.assign_s = np.full(n, np.nan)
        self.arrival_s = np.full(n, np.nan)
        self.clear_s = np.full(n, np.nan)
        self.unit_of = np.full(n, -1, dtype=np.int32)
        self.turnout_s = np.full(n, np.nan)
        self.travel_s = np.full(n, np.nan)
        self.queued = np.zeros(n, dtype=np.int8)
        self.env = simpy.Environment()
        self._searches0 = sum(o.searches for o in set(self.oracle))

    # -- lazy positions ---------------------------------------------------------------------

    def route(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit ``u``'s current return route: node indices and cumulative times (s) from its start."""
        r = self._route[u]
        if r is None:
            oracle, post = self.oracle[u], int(self.fleet.post[u])
            path = oracle.path_to(int(self.ret_from[u]), post)
            to_post = oracle.to_node(post)[0]
            r = (path, to_post[path[0]] - to_post[path])  # exact along a shortest-path tree
            self._route[u] = r
        return r

    def position(self, u: int, t: float) -> tuple[int, float]:
        """Where returning unit ``u`` is at time ``t``: the next node it reaches, and in how long (s)."""
        path, cum = self.route(u)
        elapsed = t - self.ret_t0[u]
        k = int(np.searchsorted(cum, elapsed, side="left"))
        if k >= len(path):
            return int(path[-1]), 0.0
        return int(path[k]), float(cum[k] - elapsed)

    # -- dispatch -----------------------------------------------------------------------------

    def _best_unit(self, node: int, now: float) -> tuple[int, float, float]:
        """The available unit with the earliest arrival at ``node``: (unit, turnout, travel)."""
        free = ~self.busy
        parked = free & (self.ret_end <= now)
        eta = np.where(parked, self.post_time[node] + self.turnout, _INF)
        best = int(np.argmin(eta))  # first minimum: ties go to the lowest unit index
        best_eta = float(eta[best])
        best_turnout = float(self.turnout[best]) if best_eta < _INF else 0.0
        for u in np.flatnonzero(free & ~parked):
            u = int(u)
            nxt, offset = self.position(u, now)
            oracle = self.oracle[u]
            if offset + oracle.lower_bound(nxt, node) > best_eta:
                continue
            travel = offset + float(oracle.times_to(node, best_eta)[nxt])
            if travel < best_eta or (travel == best_eta and u < best):
                best, best_eta, best_turnout = u, travel, 0.0
        if best_eta == _INF:
            return -1, 0.0, _INF
        return best, best_turnout, best_eta - best_turnout

    def _assign(self, u: int, i: int, now: float, turnout: float, travel: float) -> None:
        arrival = now + turnout + travel
        clear = arrival + float(self.inc.on_scene_s[i])
        self.busy[u] = True
        self.assign_s[i] = now
        self.arrival_s[i] = arrival
        self.clear_s[i] = clear
        self.unit_of[i] = u
        self.turnout_s[i] = turnout
        self.travel_s[i] = travel
        done = self.env.timeout(clear - now)
        done.callbacks.append(lambda _ev, u=u, i=i: self._on_clear(u, i))

    def _dispatch(self, i: int) -> None:
        now = self.env.now
        u, turnout, travel = self._best_unit(int(self.inc.node[i]), now)
        if u < 0:
            self.queued[i] = 1
            heapq.heappush(self.queue, (int(self.inc.priority[i]), float(self.inc.call_s[i]), i))
            return
        self._assign(u, i, now, turnout, travel)

    def _on_clear(self, u: int, i: int) -> None:
        now = self.env.now
        node = int(self.inc.node[i])
        self.busy[u] = False
        if self.queue:
            _, _, j = heapq.heappop(self.queue)
            travel = float(self.oracle[u].times_to(int(self.inc.node[j]), _INF)[node])
            self._assign(u, j, now, 0.0, travel)
            return
        post = int(self.fleet.post[u])
        self.ret_from[u] = node
        self.ret_t0[u] = now
        self.ret_end[u] = now + float(self.oracle[u].to_node(post)[0][node])
        self._route[u] = None

    def _handovers(self):  # a SimPy process: jobs reach police in order of dispatch time
        order = np.lexsort((np.arange(len(self.inc)), self.inc.dispatch_s))
        env = self.env
        for i in order:
            t = float(self.inc.dispatch_s[i])
            if t >= self.horizon:
                break
            if t > env.now:
                yield env.timeout(t - env.now)
            self._dispatch(int(i))

    # -- run ------------------------------------------------------------------------------------

    def run(self) -> EngineResult:
        """Run to the horizon and return the records."""
        self.env.process(self._handovers())
        self.env.run(until=self.horizon)
        return self._result()

    def _result(self) -> EngineResult:
        inc, h = self.inc, self.horizon
        n = len(inc)
        dispatch = np.where(inc.dispatch_s < h, inc.dispatch_s, np.nan)
        assign = np.where(self.assign_s <= h, self.assign_s, np.nan)
        arrival = np.where(self.arrival_s <= h, self.arrival_s, np.nan)
        clear = np.where(self.clear_s <= h, self.clear_s, np.nan)
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
        # busy time per unit within the counted window
        lo, hi = warmup, h
        a = np.clip(self.assign_s, lo, hi)
        c = np.clip(np.where(np.isnan(self.clear_s), hi, self.clear_s), lo, hi)
        busy = np.zeros(len(fleet))
        sel = self.unit_of >= 0
        np.add.at(busy, self.unit_of[sel], np.maximum(0.0, c[sel] - a[sel]))
        searches = sum(o.searches for o in set(self.oracle)) - self._searches0
        return EngineResult(records=RecordTable(columns=columns, lookups=lookups),
                            unit_busy_s=busy, window_s=hi - lo, searches=searches)


def simulate(world: World, layout: str, incidents: IncidentSet, replication: int = 0) -> EngineResult:
    """Run one layout on one replication's incidents (a fresh environment each call)."""
    return Engine(world, layout, incidents, replication).run()
