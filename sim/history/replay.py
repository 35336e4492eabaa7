"""Replay a call log: its calls become the incidents of every replication, for every layout.

The trace fixes when and where each call came and what it was; on-scene times come from the log
(``clear - arrival``) where it has both, and are drawn from the scenario's distribution of the
call's type otherwise; call handling is drawn from the scenario (the log's dispatch time depends
on which unit was free, so it belongs to the layout that answered, not to the call). Draws use
the named streams of ``(seed, replication)`` for every call, so every layout sees the same
incidents (common random numbers) and replications vary only what the log does not fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.history.calls import CallLog, history_spec, read_calls
from sim.scenario import LoadedScenario
from sim.types import IncidentSet
from sim.world.demand import sample_durations
from sim.world.prepare import World
from sim.world.streams import streams

__all__ = ["Replay", "incidents_from_log", "log_days"]

STREAMS = ("replay_call_handling", "replay_on_scene")


def log_days(log: CallLog) -> float:
    """Whole days from the log's start (local midnight) to the midnight after its last call."""
    if not len(log):
        return 1.0
    return float(max(1, math.ceil((float(log.call_s.max()) + 1.0) / 86400.0)))


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


_LOGS: dict[tuple[str, str | None, str], CallLog] = {}


@dataclass(frozen=True)
class Replay:
    """An incidents provider for :func:`sim.study.experiment.run_study` (small and picklable: a
    worker reads the log itself, once)."""

    calls: str
    mapping: str | None = None

    def log(self, loaded: LoadedScenario, world: World) -> CallLog:
        key = (self.calls, self.mapping, world.net.checksum)
        if key not in _LOGS:
            spec = history_spec(loaded, Path(self.mapping) if self.mapping else None)
            _LOGS.clear()
            _LOGS[key] = read_calls(self.calls, spec, world.scenario, world.net)
        return _LOGS[key]

    def __call__(self, loaded: LoadedScenario, world: World, replication: int) -> IncidentSet:
        return incidents_from_log(self.log(loaded, world), world, seed=world.scenario.run.seed,
                                  replication=replication)

    def describe(self, log: CallLog) -> dict[str, Any]:
        """What the brief says about the replay: the file, its checksum, period and counts."""
        logged = np.isfinite(log.clear_epoch - log.arrival_epoch)
        return {"replay": True, "calls_file": self.calls, "sha256": log.checksum,
                "timezone": log.timezone,
                "first_day": log.local_time(log.start_epoch).date().isoformat(),
                "days": log_days(log), "calls": len(log), "rows": log.rows_read,
                "rejected_rows": log.rejected_rows,
                "on_scene_from_log_share": float(logged.mean()) if len(log) else 0.0}
