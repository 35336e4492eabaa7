"""Records by hour of day: incidents per day, the share within target and unit utilisation.

Also :func:`target_clock_times`, the time each incident's target clock ran until the first
arrival. Times are seconds; hours are clock hours 0-23 of the call.
"""

from __future__ import annotations

import math

import numpy as np

from sim.types import RecordTable

__all__ = ["hourly_profile", "target_clock_times"]


def target_clock_times(records: RecordTable, clock: str) -> np.ndarray:
    """Time (s) from the target clock's start (call or dispatch) to the first arrival; NaN if none."""
    c = records.columns
    start = c["call_s"] if clock == "call" else c["dispatch_s"]
    return np.asarray(c["arrival_s"] - start, dtype=float)


def _hour_exposure_s(lo: float, hi: float) -> np.ndarray:
    """Seconds of [lo, hi) that fall in each hour of the day."""
    out = np.zeros(24)
    if hi <= lo:
        return out
    first, last = int(lo // 3600), math.ceil(hi / 3600)
    slots = np.arange(first, last)
    overlap = np.minimum(hi, (slots + 1) * 3600.0) - np.maximum(lo, slots * 3600.0)
    np.add.at(out, slots % 24, np.maximum(overlap, 0.0))
    return out


def hourly_profile(records: RecordTable, layout: str, *, n_units: float | np.ndarray,
                   replications: int, warmup_s: float, horizon_s: float) -> dict[str, np.ndarray]:
    """Per hour of day (0-23) for one layout: counted incidents per day, the share reached within
    target (NaN without incidents), the incidents behind that share, and unit utilisation.

    Utilisation is the busy time of the responding units in the records (assignment to clearing,
    clipped to the counted window [warm-up, horizon]; still open at the horizon counts to the
    horizon) over the units on duty x ``replications`` x the window's seconds in that hour.
    ``n_units`` is the number of units on duty, or 24 mean numbers on duty per hour of day.
    With every unit always on duty and one unit per incident, the exposure-weighted mean equals
    the summary's utilisation.
    """
    c = records.columns
    code = records.lookups["layout"].index(layout)
    lay = c["layout"] == code
    counted = lay & (c["counted"] == 1)
    hour = (np.mod(c["call_s"], 86400.0) // 3600).astype(int)
    exposure = _hour_exposure_s(warmup_s, horizon_s)
    days = exposure / 3600.0
    n_inc = np.bincount(hour[counted], minlength=24).astype(float)
    per_day = np.divide(n_inc, days * max(replications, 1), out=np.full(24, np.nan), where=days > 0)
    known = counted & (c["target_met"] >= 0)
    n_known = np.bincount(hour[known], minlength=24).astype(float)
    n_met = np.bincount(hour[known], weights=(c["target_met"][known] == 1).astype(float), minlength=24)
    share = np.divide(n_met, n_known, out=np.full(24, np.nan), where=n_known > 0)
    busy_sel = lay & ~np.isnan(c["assign_s"]) & (c["unit"] >= 0)
    a = np.clip(c["assign_s"][busy_sel], warmup_s, horizon_s)
    e = np.clip(np.where(np.isnan(c["clear_s"][busy_sel]), horizon_s, c["clear_s"][busy_sel]),
                warmup_s, horizon_s)
    busy = np.zeros(24)
    if a.size:
        slot = np.floor(a / 3600.0)
        span = int(np.max(np.ceil(e / 3600.0) - slot)) if a.size else 0
        for k in range(span + 1):
            s = slot + k
            overlap = np.minimum(e, (s + 1) * 3600.0) - np.maximum(a, s * 3600.0)
            np.add.at(busy, (s % 24).astype(int), np.maximum(overlap, 0.0))
    denom = exposure * np.broadcast_to(np.asarray(n_units, dtype=float), (24,)) * max(replications, 1)
    util = np.divide(busy, denom, out=np.full(24, np.nan), where=denom > 0)
    return {"incidents_per_day": per_day, "compliance": share, "known": n_known, "utilisation": util}
