"""Metrics from incident records: target compliance, response times, queueing and utilisation.

Per replication, each layout gets one row per zone class (and ``all``). Across replications, each
metric gets its mean and a 95% confidence interval (Student t on the replication means). Only
incidents whose call came after the warm-up count. New calls stop at the horizon and open incidents
run on in a cool-down (``run.cooldown``); an incident still open when the run stops counts as
missed if its target had already passed, and is left out (unknown) otherwise. An incident handed to
the backup force (``dispatch.when_all_busy: overflow``) counts as missed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import stats

from sim.scenario import ZONE_CLASSES
from sim.types import OUTCOMES, RecordTable

__all__ = [
    "METRICS",
    "ZONE_ROWS",
    "mean_ci",
    "paired_differences",
    "rankings",
    "replication_metrics",
    "summarise",
    "utilisation",
]

ZONE_ROWS = (*ZONE_CLASSES, "all")

METRICS: tuple[tuple[str, str], ...] = (
    ("compliance", "share of counted incidents whose first unit arrived within the zone's target"),
    ("response_mean_s", "mean response time from the call (s)"),
    ("response_median_s", "median response time from the call (s)"),
    ("response_p90_s", "90th percentile of response time from the call (s)"),
    ("travel_mean_s", "mean driving time of the first unit (s)"),
    ("queued_share", "share of counted incidents that waited for a free unit"),
    ("overflow_share", "share of counted incidents handed to the backup force because no unit was "
                       "free (dispatch.when_all_busy: overflow)"),
    ("utilisation", "mean share of working time units were committed to incidents (assign to "
                    "clear); working time is on-air time plus busy time off the air"),
    ("full_response_mean_s", "mean full response time (last required unit) for incidents needing "
                             "more than one unit (s)"),
    ("from_patrol_share", "share of first units that were already on the move when sent"),
    ("incidents", "counted incidents per replication"),
)


def utilisation(unit_busy_s: np.ndarray, unit_on_air_s: np.ndarray,
                unit_busy_off_air_s: np.ndarray) -> float:
    """Mean over units of busy time / (on-air time + busy time off the air).

    A unit is available for work while on the air; a job it is still finishing after its shift
    ended, or through a break that began during the job, adds that busy time to the time it
    worked. All arguments are seconds per unit within the counted window; each unit's share lies
    in [0, 1] because its busy time on the air cannot exceed its on-air time.
    """
    busy = np.asarray(unit_busy_s, dtype=float)
    worked = np.asarray(unit_on_air_s, dtype=float) + np.asarray(unit_busy_off_air_s, dtype=float)
    ok = worked > 0
    return float(np.mean(busy[ok] / worked[ok])) if ok.any() else math.nan


def replication_metrics(records: RecordTable, unit_busy_s: np.ndarray, unit_on_air_s: np.ndarray,
                        unit_busy_off_air_s: np.ndarray) -> list[dict[str, Any]]:
    """Metrics of one layout in one replication: a row per zone class and one for ``all``.

    ``unit_busy_s``, ``unit_on_air_s`` and ``unit_busy_off_air_s`` (s) cover the units that take
    dispatches, within the counted window (see :func:`utilisation`).
    """
    c = records.columns
    counted = c["counted"] == 1
    util = utilisation(unit_busy_s, unit_on_air_s, unit_busy_off_air_s)
    rows = []
    for zi, zone in enumerate(ZONE_ROWS):
        sel = counted & ((c["zone"] == zi) if zone != "all" else True)
        known = sel & (c["target_met"] >= 0)
        resp = c["response_s"][sel]
        resp = resp[~np.isnan(resp)]
        travel = c["travel_s"][sel]
        travel = travel[~np.isnan(travel)]
        n_known = int(known.sum())
        rows.append({
            "zone": zone,
            "incidents": int(sel.sum()),
            "compliance": float(np.mean(c["target_met"][known] == 1)) if n_known else math.nan,
            "response_mean_s": float(resp.mean()) if resp.size else math.nan,
            "response_median_s": float(np.median(resp)) if resp.size else math.nan,
            "response_p90_s": float(np.percentile(resp, 90)) if resp.size else math.nan,
            "travel_mean_s": float(travel.mean()) if travel.size else math.nan,
            "queued_share": float(np.mean(c["queued"][sel])) if sel.any() else math.nan,
            "overflow_share": float(np.mean(c["outcome"][sel] == _OVERFLOW)) if sel.any() else math.nan,
            "utilisation": util,
            "full_response_mean_s": _mean(c["full_response_s"][sel & (c["units_required"] > 1)]),
            "from_patrol_share": float(np.mean(c["from_patrol"][sel & (c["unit"] >= 0)]))
            if (sel & (c["unit"] >= 0)).any() else math.nan,
        })
    return rows


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


_OVERFLOW = OUTCOMES.index("overflow")

_BOUNDS = {"compliance": (0.0, 1.0), "queued_share": (0.0, 1.0), "utilisation": (0.0, 1.0),
           "overflow_share": (0.0, 1.0),
           "from_patrol_share": (0.0, 1.0)}
"""Metrics that are shares: their intervals are clipped to [0, 1]; others are clipped at 0."""


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided ``level`` confidence interval (Student t) of replication values.

    With fewer than two values the interval is NaN (unknown); NaNs are ignored.
    """
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = float(_t_quantile(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - half, m + half


@functools.lru_cache(maxsize=256)
def _t_quantile(q: float, df: int) -> float:
    """Student t quantile (a summary asks for the same few hundreds of times; scipy's call
    costs about 0.3 ms)."""
    return float(stats.t.ppf(q, df))


def summarise(per_rep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Aggregate replication rows (each with ``layout``, ``replication``, ``zone``) across replications.

    Returns one row per (layout, zone) in first-seen order with ``<metric>``, ``<metric>_ci_low`` and
    ``<metric>_ci_high`` for every metric, and ``replications``.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in per_rep:
        groups.setdefault((row["layout"], row["zone"]), []).append(row)
    out = []
    for (layout, zone), rows in groups.items():
        agg: dict[str, Any] = {"layout": layout, "zone": zone, "replications": len(rows)}
        for name, _ in METRICS:
            m, lo, hi = mean_ci(r[name] for r in rows)
            floor, ceil = _BOUNDS.get(name, (0.0, math.inf))
            lo, hi = (max(lo, floor), min(hi, ceil)) if not math.isnan(lo) else (lo, hi)
            agg[name] = m
            agg[f"{name}_ci_low"] = lo
            agg[f"{name}_ci_high"] = hi
        out.append(agg)
    return out


def paired_differences(per_rep: list[dict[str, Any]], baseline: str, metric: str = "compliance"
                       ) -> list[dict[str, Any]]:
    """Layout minus baseline, replication by replication (common random numbers), per zone.

    Rows per (variant, layout, zone) for every layout but the baseline: the mean paired difference,
    its 95% CI, ``significant`` (the CI excludes 0) and ``pairs``, the replications used (both
    sides known, e.g. the zone had incidents in both). Variant is ``""`` for a plain run.
    """
    values: dict[tuple[str, str, str, int], float] = {}
    order: dict[tuple[str, str, str], None] = {}
    for r in per_rep:
        v = r.get("variant", "")
        values[(v, r["layout"], r["zone"], r["replication"])] = r[metric]
        order[(v, r["layout"], r["zone"])] = None
    out = []
    for v, layout, zone in order:
        if layout == baseline:
            continue
        diffs = [val - values[(v, baseline, zone, rep)]
                 for (vv, lay, z, rep), val in values.items()
                 if (vv, lay, z) == (v, layout, zone) and (v, baseline, zone, rep) in values]
        diffs = [d for d in diffs if not math.isnan(d)]  # a pair with a NaN side is not used
        m, lo, hi = mean_ci(diffs)
        out.append({"variant": v, "layout": layout, "zone": zone, "baseline": baseline,
                    f"{metric}_diff": m, f"{metric}_diff_ci_low": lo, f"{metric}_diff_ci_high": hi,
                    "significant": bool(not math.isnan(lo) and (lo > 0 or hi < 0)),
                    "pairs": len(diffs)})
    return out


def rankings(per_rep: list[dict[str, Any]], metric: str = "compliance", zone: str = "all"
             ) -> list[dict[str, Any]]:
    """Rank layouts by ``metric`` in ``zone`` within each replication (1 = best, higher is better).

    Ties go to the layout listed first. Returns per (variant, layout): the mean rank, the share of
    replications in which the layout ranks first, and its rank by mean ``metric``.
    """
    by_rep: dict[tuple[str, int], list[tuple[str, float]]] = {}
    layouts: dict[str, dict[str, None]] = {}
    for r in per_rep:
        if r["zone"] != zone:
            continue
        v = r.get("variant", "")
        by_rep.setdefault((v, r["replication"]), []).append((r["layout"], r[metric]))
        layouts.setdefault(v, {})[r["layout"]] = None
    ranks: dict[tuple[str, str], list[int]] = {}
    for (v, _), items in by_rep.items():
        order = list(layouts[v])
        ranked = sorted(items, key=lambda it: (-_nan_low(it[1]), order.index(it[0])))
        for k, (layout, _) in enumerate(ranked, start=1):
            ranks.setdefault((v, layout), []).append(k)
    out = []
    for v, names in layouts.items():
        means = {lay: float(np.nanmean([r[metric] for r in per_rep if r.get("variant", "") == v
                                        and r["layout"] == lay and r["zone"] == zone]))
                 for lay in names}
        order = list(names)
        by_mean = sorted(names, key=lambda lay: (-_nan_low(means[lay]), order.index(lay)))
        for layout in names:
            rs = ranks[(v, layout)]
            out.append({"variant": v, "layout": layout, "mean_rank": float(np.mean(rs)),
                        "share_ranked_first": float(np.mean(np.array(rs) == 1)),
                        "rank_by_mean": by_mean.index(layout) + 1, "replications": len(rs)})
    return out


def _nan_low(x: float) -> float:
    return -math.inf if math.isnan(x) else x
