"""Result assembly: the engine's plain per-incident lists and assignment log become one flat
record per incident (:class:`~sim.types.RecordTable`), unit workloads and on-air times.

New calls stop at the horizon; incidents still open then run on in a cool-down until they are
cleared, for at most ``run.cooldown``. Values past the end of the run are left out (NaN): the
records show the state when the run stopped. Workloads and on-air times cover the counted window
[warm-up, horizon].
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from struct import Struct

import numpy as np

from sim.scenario import PRIORITIES, ZONE_CLASSES
from sim.types import OUTCOMES, EngineResult, Fleet, IncidentSet, Presence, RecordTable
from sim.world.prepare import MINUTES_PER_DAY, World

__all__ = ["LOG", "JobResults", "assemble", "off_air_between", "on_air_seconds", "target_met"]

_INF = float("inf")
LOG = 5
"""Numbers per entry of the assignment log (:attr:`JobResults.log`)."""
_log_bytes = Struct(f"{LOG}d").pack
"""One log entry as the bytes of its doubles (``log.frombytes``)."""


@dataclass
class JobResults:
    """Per-incident results of one run (first unit on scene unless noted), and the assignment
    log with its flags: entry ``k`` is ``log[LOG * k:LOG * (k + 1)]``, that is ``(incident,
    unit, assign, arrival, clear)``; ``log_diverted`` and ``log_withdrawn`` hold the (few)
    entries a diversion cut short, and those of them that never got to the scene. Counts are
    plain lists; times and the log are arrays of doubles, so that a year of them is neither
    scanned by the garbage collector nor gathered from scattered memory."""

    assign_s: array[float]
    arrival_s: array[float]
    clear_s: array[float]
    full_arrival_s: array[float]
    unit_of: list[int]
    turnout_s: array[float]
    travel_s: array[float]
    moving: list[int]
    sent: list[int]
    required: list[int]
    volunteer_s: array[float]
    diverted: list[int]
    by_diversion: list[int]
    overflow: list[int]
    log: array[float]
    log_diverted: set[int]
    log_withdrawn: set[int]

    @staticmethod
    def empty(required: list[int]) -> JobResults:
        n = len(required)

        def column(value: float) -> array[float]:
            return array("d", [value]) * n

        nan = float("nan")
        return JobResults(
            assign_s=column(nan), arrival_s=column(nan), clear_s=column(nan),
            full_arrival_s=column(-_INF), unit_of=[-1] * n, turnout_s=column(nan),
            travel_s=column(nan), moving=[0] * n, sent=[0] * n, required=list(required),
            volunteer_s=column(nan),
            diverted=[0] * n, by_diversion=[0] * n, overflow=[0] * n, log=array("d"),
            log_diverted=set(), log_withdrawn=set())

    def add(self, i: int, u: int, assign: float, arrival: float, clear: float) -> int:
        """Log unit ``u``'s assignment to job ``i``; returns the entry's index."""
        log = self.log
        log.frombytes(_log_bytes(i, u, assign, arrival, clear))
        return len(log) // LOG - 1

    def entry(self, li: int) -> tuple[int, int, float, float, float]:
        """Log entry ``li``: ``(incident, unit, assign, arrival, clear)``."""
        i, u, assign, arrival, clear = self.log[LOG * li:LOG * (li + 1)]
        return int(i), int(u), assign, arrival, clear

    def arrival_of(self, li: int) -> float:
        """When the unit of log entry ``li`` gets (or got) to the scene."""
        return self.log[LOG * li + 3]

    def cut_short(self, li: int, arrival: float, clear: float) -> None:
        """Log entry ``li`` ends early (a diversion): its arrival and clearance become these."""
        self.log[LOG * li + 3] = arrival
        self.log[LOG * li + 4] = clear


def _flags(entries: set[int], n: int) -> np.ndarray:
    """A flag per log entry: true for ``entries``."""
    flags = np.zeros(n, dtype=bool)
    flags[sorted(entries)] = True
    return flags


def assemble(world: World, layout: str, inc: IncidentSet, replication: int, jobs: JobResults,
             presence: Presence, searches: tuple[int, int], end_s: float) -> EngineResult:
    """The engine result of one run that stopped at ``end_s`` (s), having run ``searches``
    (Dijkstra, goal-directed; see :class:`~sim.types.EngineResult`)."""
    scenario = world.scenario
    fleet: Fleet = world.fleets[layout]
    h = end_s  # nothing later than the end of the run is recorded
    n = len(inc)

    def arr(values: array[float]) -> np.ndarray:
        return np.array(values, dtype=float).reshape(n)

    dispatch = np.where(inc.dispatch_s < h, inc.dispatch_s, np.nan)
    assign_raw, arrival_raw, clear_raw = arr(jobs.assign_s), arr(jobs.arrival_s), arr(jobs.clear_s)
    full_raw = arr(jobs.full_arrival_s)
    sent = np.array(jobs.sent, dtype=np.int32).reshape(n)
    required = np.array(jobs.required, dtype=np.int32).reshape(n)
    assign = np.where(assign_raw <= h, assign_raw, np.nan)
    arrival = np.where(arrival_raw <= h, arrival_raw, np.nan)
    clear = np.where(clear_raw <= h, clear_raw, np.nan)
    full = np.where((full_raw <= h) & (sent >= required) & (sent > 0), full_raw, np.nan)
    lost = np.array(jobs.overflow, dtype=bool).reshape(n)  # handed to the backup force
    outcome = np.where(lost, 5, np.where(~np.isnan(clear), 0, np.where(~np.isnan(arrival), 1,
                       np.where(~np.isnan(assign), 2, np.where(~np.isnan(dispatch), 3, 4)))))
    has_unit = ~np.isnan(assign)
    unit = np.where(has_unit, np.array(jobs.unit_of, dtype=np.int32).reshape(n), -1)
    zones = world.zones
    target = zones.targets[inc.zone]
    start = inc.call_s if scenario.zones.clock == "call" else dispatch
    met = np.where(lost, 0, target_met(arrival, start, target, h)).astype(np.int8)
    warmup = scenario.run.warmup
    unit_type_names = tuple(scenario.unit_types)
    type_code = np.array([unit_type_names.index(t) for t in fleet.unit_type] + [-1], dtype=np.int32)
    plat_code = np.append(fleet.platform, -1).astype(np.int32)
    sent_by_h = np.zeros(n, dtype=np.int32)
    log = np.array(jobs.log, dtype=float).reshape(-1, LOG)
    if log.size:
        kept = (log[:, 2] <= h) & ~_flags(jobs.log_withdrawn, len(log))  # never got there
        np.add.at(sent_by_h, log[:, 0].astype(np.int64), kept.astype(np.int32))
    volunteer_raw = arr(jobs.volunteer_s)
    volunteer = np.where(volunteer_raw <= h, volunteer_raw, np.nan)
    columns = {
        "layout": np.zeros(n, dtype=np.int32),
        "replication": np.full(n, replication, dtype=np.int32),
        "incident": np.arange(n, dtype=np.int64),
        "call_s": inc.call_s.astype(float),
        "dispatch_s": dispatch,
        "assign_s": assign,
        "arrival_s": arrival,
        "clear_s": clear,
        "node": inc.node.astype(np.int64),
        "osmid": world.net.osmid[inc.node],
        "zone": inc.zone.astype(np.int32),
        "key_location": inc.key_location.astype(np.int32),
        "incident_type": inc.type_index.astype(np.int32),
        "priority": inc.priority.astype(np.int32),
        "unit": unit.astype(np.int32),
        "unit_type": type_code[unit],
        "platform": plat_code[unit],
        "turnout_s": np.where(has_unit, arr(jobs.turnout_s), np.nan),
        "travel_s": np.where(has_unit, arr(jobs.travel_s), np.nan),
        # queued: the first unit on scene was assigned after the hand-over, or none yet at the
        # horizon (an urgent job served at once by a diversion did not wait)
        "queued": np.where(np.isnan(dispatch) | lost, 0,  # (a microsecond: the clock's rounding)
                           np.where(np.isnan(assign), 1, assign > dispatch + 1e-6)).astype(np.int8),
        "queue_wait_s": assign - dispatch,
        "response_s": arrival - inc.call_s,
        "target_s": target,
        "target_met": met,
        "outcome": outcome.astype(np.int32),
        "counted": (inc.call_s >= warmup).astype(np.int8),
        "units_required": required,
        "units_sent": sent_by_h,
        "full_arrival_s": full,
        "full_response_s": full - inc.call_s,
        "from_patrol": np.where(has_unit, np.array(jobs.moving, dtype=np.int8).reshape(n),
                                0).astype(np.int8),
        "volunteer_arrival_s": volunteer,
        "diverted": np.array(jobs.diverted, dtype=np.int32).reshape(n),
        "by_diversion": np.where(has_unit, np.array(jobs.by_diversion, dtype=np.int8).reshape(n),
                                 0).astype(np.int8),
    }
    lookups = {
        "layout": (layout,),
        "zone": ZONE_CLASSES,
        "incident_type": tuple(t.name for t in scenario.incident_types),
        "priority": PRIORITIES,
        "unit": fleet.unit_name,
        "unit_type": unit_type_names,
        "platform": fleet.platform_names,
        "outcome": OUTCOMES,
    }
    lo, hi = warmup, inc.horizon_s  # the counted window
    busy = np.zeros(len(fleet))
    busy_off = np.zeros(len(fleet))
    if log.size:
        a = np.clip(log[:, 2], lo, hi)
        c = np.maximum(a, np.clip(log[:, 4], lo, hi))
        units = log[:, 1].astype(np.int64)
        np.add.at(busy, units, c - a)
        np.add.at(busy_off, units, off_air_between(fleet.off_air, units, a, c))
    on_air = on_air_seconds(fleet.off_air, lo, hi)
    assignments = {"incident": log[:, 0].astype(np.int64), "unit": log[:, 1].astype(np.int64),
                   "assign_s": log[:, 2], "arrival_s": log[:, 3], "clear_s": log[:, 4],
                   "diverted": _flags(jobs.log_diverted, len(log))}
    return EngineResult(records=RecordTable(columns=columns, lookups=lookups),
                        unit_busy_s=busy, unit_on_air_s=on_air, unit_busy_off_air_s=busy_off,
                        window_s=hi - lo, run_end_s=end_s,
                        dispatchable=fleet.dispatchable.copy(), assignments=assignments,
                        presence=presence, searches=searches[0], goal_searches=searches[1])


def target_met(arrival: np.ndarray, start: np.ndarray, target: np.ndarray, h: float) -> np.ndarray:
    """``target_met`` per incident: 1 if the first arrival (NaN: none by ``h``, the end of the run) came
    within ``target`` (s) of ``start`` (the call or the hand-over), 0 if not, -1 while unknown
    (still open at the horizon and within target, or ``start`` not reached)."""
    elapsed = np.where(~np.isnan(arrival), arrival, h) - start
    met = np.where(~np.isnan(arrival), (elapsed <= target + 1e-9).astype(np.int8),
                   np.where(elapsed > target, 0, -1)).astype(np.int8)
    return np.where(np.isnan(start), -1, met).astype(np.int8)


def on_air_seconds(off_air: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Seconds each unit is on the air within [lo, hi) (minute resolution of the duty table
    ``off_air[minute of day, unit]``)."""
    if not off_air.any():
        return np.full(off_air.shape[1], hi - lo)
    per_day = (~off_air).sum(axis=0) * 60.0
    days = int((hi - lo) // 86400.0)
    total = per_day * days
    t = lo + days * 86400.0
    while t < hi:  # the remaining part day, minute by minute
        step = min(60.0 - (t % 60.0), hi - t)
        total = total + (~off_air[int(t // 60.0) % MINUTES_PER_DAY]) * step
        t += step
    return np.asarray(total, dtype=float)


def off_air_between(off_air: np.ndarray, units: np.ndarray, start_s: np.ndarray,
                    end_s: np.ndarray) -> np.ndarray:
    """Seconds unit ``units[k]`` is off the air within [start_s[k], end_s[k]) (s since the
    start of the run), from the duty table ``off_air[minute of day, unit]``.

    Vectorised over the intervals: the off-air time up to ``t`` is the whole days' off-air
    minutes, plus this day's up to the minute of ``t``, plus the part of that minute.
    """
    units = np.asarray(units, dtype=np.int64)
    if not off_air.any() or units.size == 0:
        return np.zeros(units.size)
    off = off_air.astype(float) * 60.0  # seconds off the air in each minute of the day
    before = np.vstack([np.zeros((1, off.shape[1])), np.cumsum(off, axis=0)])  # up to minute m

    def upto(t: np.ndarray) -> np.ndarray:
        day, rest = np.divmod(np.asarray(t, dtype=float), 86400.0)
        minute = np.minimum((rest // 60.0).astype(np.int64), MINUTES_PER_DAY - 1)
        part = rest - minute * 60.0
        return np.asarray(day * before[-1, units] + before[minute, units]
                          + off_air[minute, units] * part)

    return np.maximum(0.0, upto(end_s) - upto(start_s))
