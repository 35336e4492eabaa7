"""Replay a call log: its calls become the incidents of every replication, for every layout.

The trace fixes when and where each call came and what it was; on-scene times come from the log
(``clear - arrival``) where it has both, and are drawn from the scenario's distribution of the
call's type otherwise; call handling is drawn from the scenario (the log's dispatch time depends
on which unit was free, so it belongs to the layout that answered, not to the call). Draws use
the named streams of ``(seed, replication)`` for every call, so every layout sees the same
incidents (common random numbers) and replications vary only what the log does not fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sim.history.calls import CallLog, history_spec, read_calls
from sim.network.graph import RoadNetwork
from sim.scenario import LoadedScenario
from sim.types import IncidentSet
from sim.world.demand import sample_durations
from sim.world.places import WARN_M
from sim.world.prepare import World
from sim.world.streams import streams

__all__ = ["Replay", "incidents_from_log", "log_days", "log_span_s", "snap_summary", "uneven_days"]

STREAMS = ("replay_call_handling", "replay_on_scene")


def _last_day(log: CallLog) -> date:
    return log.local_time(float(log.call_epoch.max())).date() if len(log) else \
        log.local_time(log.start_epoch).date()


def log_days(log: CallLog) -> float:
    """Local calendar days from the log's first call's day to its last call's day, both in."""
    return float((_last_day(log) - log.local_time(log.start_epoch).date()).days + 1)


def log_span_s(log: CallLog) -> float:
    """Seconds from the log's start (local midnight) to the local midnight after its last call's
    day: the run length of a replay (not ``86400 * days`` when a daylight-saving change falls in
    the log: its local day has 23 or 25 hours)."""
    zone = ZoneInfo(log.timezone)
    end = _last_day(log) + timedelta(days=1)
    return datetime(end.year, end.month, end.day, tzinfo=zone).timestamp() - log.start_epoch


def uneven_days(log: CallLog) -> list[dict[str, Any]]:
    """The local days of the log that are not 24 h long (daylight-saving changes), with their
    length in hours."""
    zone = ZoneInfo(log.timezone)
    first = log.local_time(log.start_epoch).date()
    out = []
    for k in range(int(log_days(log))):
        d, e = first + timedelta(days=k), first + timedelta(days=k + 1)
        hours = (datetime(e.year, e.month, e.day, tzinfo=zone).timestamp()
                 - datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()) / 3600.0
        if hours != 24.0:
            out.append({"day": d.isoformat(), "hours": hours})
    return out


def snap_summary(log: CallLog, far_m: float = WARN_M) -> dict[str, Any]:
    """How far the logged places are from the road they were put on (m): median, P90, max, the
    count farther than ``far_m``, and the median distance along the street to the node."""
    if not len(log):
        return {"calls": 0}
    d = np.asarray(log.snap_m, dtype=float)
    return {"calls": len(log), "median_m": round(float(np.median(d)), 1),
            "p90_m": round(float(np.percentile(d, 90)), 1), "max_m": round(float(d.max()), 1),
            f"over_{far_m:g}_m": int(np.sum(d > far_m)),
            "along_street_to_node_median_m": round(float(np.median(log.along_m)), 1)}


def incidents_from_log(log: CallLog, world: World, *, seed: int, replication: int,
                       horizon_s: float | None = None) -> IncidentSet:
    """The incidents of one replication of a replay (calls after ``horizon_s`` are left out)."""
    s = world.scenario
    horizon = float(horizon_s if horizon_s is not None else s.run.duration)
    keep = (log.call_s >= 0) & (log.call_s < horizon)
    call = log.call_s[keep]
    node = log.node[keep]
    types = log.type_index[keep]
    n = len(call)
    rng = streams(seed, replication, STREAMS)
    u_handle = np.clip(rng["replay_call_handling"].random(n), 1e-12, 1 - 1e-12)
    u_scene = np.clip(rng["replay_on_scene"].random(n), 1e-12, 1 - 1e-12)
    handling = sample_durations(s.call_handling, u_handle)
    drawn = np.empty(n)
    for k, t in enumerate(s.incident_types):
        mask = types == k
        drawn[mask] = sample_durations(t.on_scene, u_scene[mask])
    logged = (log.clear_epoch - log.arrival_epoch)[keep]
    on_scene = np.where(np.isfinite(logged) & (logged > 0), logged, drawn)
    return IncidentSet(call_s=call, dispatch_s=call + handling, node=node.astype(np.int64),
                       zone=world.zones.zone[node], key_location=world.zones.key_location[node],
                       type_index=types.astype(np.int16), priority=log.priority[keep].astype(np.int8),
                       on_scene_s=on_scene, horizon_s=horizon)


_LOGS: dict[tuple[str, str | None, int], tuple[RoadNetwork, CallLog]] = {}
_KEEP = 8
"""Logs kept per process: one per (file, mapping, network); a sweep's variants may each have
their own network object (their places inserted), and a piece of each runs in turn."""


@dataclass(frozen=True)
class Replay:
    """An incidents provider for :func:`sim.study.experiment.run_study` (small and picklable: a
    worker reads the log itself, once per network).

    ``calls`` and ``mapping`` are resolved paths; ``sha256`` the log's checksum, part of the
    study's fingerprint so that resuming a study with another log is refused."""

    calls: str
    mapping: str | None = None
    sha256: str = ""

    def fingerprint(self) -> dict[str, Any]:
        return {"replay": self.calls, "mapping": self.mapping, "sha256": self.sha256}

    def log(self, loaded: LoadedScenario, world: World) -> CallLog:
        key = (self.calls, self.mapping, id(world.net))
        hit = _LOGS.get(key)
        if hit is None or hit[0] is not world.net:  # node indices belong to one network
            spec = history_spec(loaded, Path(self.mapping) if self.mapping else None)
            while len(_LOGS) >= _KEEP:
                _LOGS.pop(next(iter(_LOGS)))
            hit = (world.net, read_calls(self.calls, spec, world.scenario, world.net))
            _LOGS[key] = hit
        return hit[1]

    def __call__(self, loaded: LoadedScenario, world: World, replication: int) -> IncidentSet:
        return incidents_from_log(self.log(loaded, world), world, seed=world.scenario.run.seed,
                                  replication=replication)

    def describe(self, log: CallLog, as_given: str | None = None) -> dict[str, Any]:
        """What the manifest and the brief say about the replay: the file (as given and
        resolved), its checksum, period, counts, days that are not 24 h, and snap distances."""
        logged = np.isfinite(log.clear_epoch - log.arrival_epoch)
        return {"replay": True, "calls_file": self.calls, "calls_file_as_given": as_given or self.calls,
                "mapping_file": self.mapping, "sha256": log.checksum,
                "timezone": log.timezone,
                "first_day": log.local_time(log.start_epoch).date().isoformat(),
                "days": log_days(log), "duration_s": log_span_s(log), "uneven_days": uneven_days(log),
                "calls": len(log), "rows": log.rows_read,
                "rejected_rows": log.rejected_rows, "rejected_by_reason": log.counts_by_reason(),
                "on_scene_from_log_share": float(logged.mean()) if len(log) else 0.0,
                "snap": snap_summary(log)}
