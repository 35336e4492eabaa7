"""The village auxiliary officers (一村一辅警) inside a run, and the rural columns of its records.

The role is **modelled from public descriptions** of Shaoyang's system (see
:mod:`sim.scenario.rural`). One officer per village, living at the village work station:

- The officer hears of a call in their village when it is made (the villagers have the
  officer's number; the 110 centre hands the job to the police later, at ``dispatch_s``).
- The officer goes if the incident type is in ``rural.officer.first_on``, the officer is on duty
  (or on call: ``on_call_delay`` is added) and not on another job. Otherwise the police handle
  it alone, as in a town.
- From where the officer is (the station, a scene, or on the way back from one: a straight
  line, walked or ridden at the mode's speed times ``detour``) to the scene, after the turnout.
  An officer already at the scene is there at once: time to presence zero (the on-call delay
  still applies at night).
- For the types in ``closes`` the officer finishes the job alone (its on-scene time) and no
  police are sent: the record's ``outcome`` is ``closed_by_officer``. For the other types the
  police are dispatched as usual and the officer holds the scene until they arrive.
- After a job the officer goes back to the station (a straight line, same speed).

Nothing here schedules SimPy events: the core asks :meth:`VillageDesk.police_needed` at each
hand-over, and the desk first takes every call made up to that moment, in call order (their
decisions depend only on the state at their call time, which is known by then). Besides the
officers, :func:`rural_records` writes each record's rural zone class and village, the rural
targets (``rural.targets``) in ``target_s`` / ``target_met``, and who was first on scene.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sim.engine.results import JobResults, target_met
from sim.scenario import RURAL_ZONE_CLASSES
from sim.types import OUTCOMES, EngineResult, IncidentSet, RecordTable
from sim.world.prepare import World
from sim.world.villages import officer_availability

__all__ = ["FIRST_ON_SCENE", "VillageDesk", "rural_records", "village_desk"]

FIRST_ON_SCENE: tuple[str, ...] = ("police", "village_officer")
"""Values of the ``first_on_scene`` record field."""

_OFF, _ON_CALL = 0, 2  # officer_availability: 0 off, 1 on duty, 2 on call


class VillageDesk:
    """The village officers of one run (see the module docstring).

    Parameters
    ----------
    world : the prepared world (with its ``rural`` part).
    layout : the layout; in ``rural.without_officers`` the officers never go.
    incidents : the replication's incidents.
    jobs : the police results the core fills in (the held scenes read the police arrival).
    """

    def __init__(self, world: World, layout: str, incidents: IncidentSet, jobs: JobResults) -> None:
        rural = world.rural
        assert rural is not None
        off = rural.officers
        self.active = rural.officers_in(layout)
        self.jobs = jobs
        self.horizon = incidents.horizon_s
        self._call: list[float] = incidents.call_s.tolist()
        self._scene: list[float] = incidents.on_scene_s.tolist()
        self._village: list[int] = rural.zones.village[incidents.node].tolist()
        tidx = incidents.type_index
        self._first_on: list[bool] = off.first_on[tidx].tolist()
        self._closes: list[bool] = off.closes[tidx].tolist()
        net = world.net
        self._x: list[float] = net.x[incidents.node].tolist()
        self._y: list[float] = net.y[incidents.node].tolist()
        self._home_x: list[float] = net.x[off.home_node].tolist()
        self._home_y: list[float] = net.y[off.home_node].tolist()
        self._pace = off.detour / off.speed_mps  # s per straight-line metre
        self._turnout = off.turnout_s
        self._on_call_delay = off.on_call_delay_s
        self._state: list[int] = officer_availability(off, incidents.call_s).tolist()  # per call
        n = len(incidents)
        self.arrival: list[float] = [math.nan] * n
        self.closed: list[bool] = [False] * n
        self._job_of: dict[int, int] = {}  # village -> the officer's latest job
        self._order: list[int] = np.lexsort((np.arange(n), incidents.call_s)).tolist()
        self._next = 0

    # -- the core's hook ---------------------------------------------------------------------

    def police_needed(self, i: int, now: float) -> bool:
        """At job ``i``'s hand-over (time ``now``): False if its village officer closes it (no
        police are sent), else True."""
        self.catch_up(now)
        return not self.closed[i]

    def catch_up(self, now: float, *, before: bool = False) -> None:
        """Take the calls made up to ``now`` (strictly before it with ``before``), in call order."""
        order, call = self._order, self._call
        while self._next < len(order):
            j = order[self._next]
            if call[j] > now or (before and call[j] >= now):
                return
            self._take(j)
            self._next += 1

    # -- one call ------------------------------------------------------------------------------

    def end_of(self, j: int) -> float:
        """When the officer leaves job ``j``'s scene (s): after its on-scene time if they close
        it, else when the police arrive (infinite while no police unit is on its way)."""
        if self.closed[j]:
            return self.arrival[j] + self._scene[j]
        police = self.jobs.arrival_s[j]
        return math.inf if math.isnan(police) else max(self.arrival[j], police)

    def position(self, v: int, t: float) -> tuple[float, float] | None:
        """Where village ``v``'s officer is at ``t`` (local m), or None while on a job."""
        hx, hy = self._home_x[v], self._home_y[v]
        last = self._job_of.get(v)
        if last is None:
            return hx, hy
        leave = self.end_of(last)
        if t < leave:
            return None
        sx, sy = self._x[last], self._y[last]
        back = math.hypot(hx - sx, hy - sy) * self._pace
        if back <= 0.0 or t >= leave + back:
            return hx, hy
        f = (t - leave) / back
        return sx + (hx - sx) * f, sy + (hy - sy) * f

    def _take(self, j: int) -> None:
        v = self._village[j]
        if not self.active or v < 0 or not self._first_on[j]:
            return
        t = self._call[j]
        state = self._state[j]
        if state == _OFF:
            return
        where = self.position(v, t)
        if where is None:  # on another job: the police go alone
            return
        d = math.hypot(self._x[j] - where[0], self._y[j] - where[1])
        delay = self._on_call_delay if state == _ON_CALL else 0.0
        self.arrival[j] = t + delay + (self._turnout + d * self._pace if d > 0.0 else 0.0)
        self.closed[j] = self._closes[j]
        self._job_of[v] = j

    # -- the records -------------------------------------------------------------------------

    def columns(self, end_s: float) -> dict[str, np.ndarray]:
        """``officer_arrival_s``, ``officer_closed``, ``officer_busy_s`` per incident (values
        past the end of the run ``end_s`` left out, busy time counted up to it)."""
        self.catch_up(end_s, before=True)
        h = end_s
        n = len(self.arrival)
        arrival = np.array(self.arrival, dtype=float).reshape(n)
        busy = np.zeros(n)
        for j in np.flatnonzero(~np.isnan(arrival)).tolist():
            busy[j] = min(self.end_of(j), h) - self._call[j]
        return {"officer_arrival_s": np.where(arrival <= h, arrival, np.nan),
                "officer_closed": np.array(self.closed, dtype=np.int8).reshape(n),
                "officer_busy_s": busy}


def village_desk(world: World, layout: str, incidents: IncidentSet, jobs: JobResults
                 ) -> VillageDesk | None:
    """The desk of a run, or None when the scenario has no ``rural`` section."""
    return None if world.rural is None else VillageDesk(world, layout, incidents, jobs)


def rural_records(world: World, inc: IncidentSet, result: EngineResult, desk: VillageDesk | None
                  ) -> EngineResult:
    """``result`` with the rural record fields (``village``, ``rural_zone``, the officer's
    columns and ``first_on_scene``) and, in a rural world, the rural targets applied and the
    jobs the officer closed marked (outcome ``closed_by_officer``, not queued, target unknown:
    the police target does not apply to a job the police never had)."""
    rec = result.records
    c = dict(rec.columns)
    n = len(rec)
    police = c["arrival_s"]
    if desk is None:
        officer = {"officer_arrival_s": np.full(n, np.nan), "officer_closed": np.zeros(n, np.int8),
                   "officer_busy_s": np.zeros(n)}
        village = np.full(n, -1, dtype=np.int32)
        zone = np.full(n, -1, dtype=np.int32)
    else:
        rural = world.rural
        assert rural is not None
        officer = desk.columns(result.run_end_s)
        village = rural.zones.village[inc.node].astype(np.int32)
        zone = rural.zones.zone[inc.node].astype(np.int32)
        rural_target = rural.target_s[inc.node]
        target = np.where(np.isnan(rural_target), c["target_s"], rural_target)
        start = inc.call_s if world.scenario.zones.clock == "call" else c["dispatch_s"]
        met = target_met(police, start, target, result.run_end_s)
        met = np.where(c["outcome"] == OUTCOMES.index("overflow"), 0, met)  # the backup force's
        closed = officer["officer_closed"] == 1
        c["target_s"] = target
        c["target_met"] = np.where(closed, -1, met).astype(np.int8)
        c["queued"] = np.where(closed, 0, c["queued"]).astype(np.int8)
        c["outcome"] = np.where(closed, OUTCOMES.index("closed_by_officer"),
                                c["outcome"]).astype(np.int32)
    o = officer["officer_arrival_s"]
    first = np.where(np.isnan(police) & np.isnan(o), -1,
                     np.where(np.nan_to_num(o, nan=np.inf) < np.nan_to_num(police, nan=np.inf),
                              FIRST_ON_SCENE.index("village_officer"),
                              FIRST_ON_SCENE.index("police")))
    c.update(village=village, rural_zone=zone, first_on_scene=first.astype(np.int32), **officer)
    lookups = {**rec.lookups, "rural_zone": RURAL_ZONE_CLASSES, "first_on_scene": FIRST_ON_SCENE}
    return replace(result, records=RecordTable(columns=c, lookups=lookups))
