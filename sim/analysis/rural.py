"""Rural metrics from incident records: time to first presence, police arrival, the rural ladder,
village officers' workload, and the villages with the worst police arrival.

The village auxiliary officer (一村一辅警) is **modelled from public descriptions** of Shaoyang's
system (see :mod:`sim.scenario.rural`). Every function here is pure: it reads a table of
columns, either a :class:`~sim.types.RecordTable` or a plain mapping of name to array, so small
hand-made tables test it. Besides the standard record fields (``call_s``, ``dispatch_s``,
``arrival_s``, ``clear_s``, ``counted``) the rural functions read the columns of
:data:`RURAL_FIELDS` (record fields the engine writes, :mod:`sim.engine.village`), and
:func:`officer_effect` compares a layout with the village officers against one without them on
the same calls.

Times are seconds. A police arrival that is missing (the job still open at the horizon) counts
as not within any step of the ladder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.analysis.metrics import mean_ci, paired_differences
from sim.types import FIELDS

__all__ = [
    "EFFECT_METRICS",
    "RURAL_FIELDS",
    "first_presence_s",
    "officer_effect",
    "officer_workload",
    "rural_summary",
    "worst_villages",
]

RURAL_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, meaning) for name, meaning in FIELDS
    if name in ("village", "rural_zone", "officer_arrival_s", "officer_closed", "officer_busy_s"))
"""Record columns the rural metrics read, each with its one-line definition."""

Table = Mapping[str, np.ndarray] | Any


def _col(table: Table, name: str) -> np.ndarray:
    if hasattr(table, "column"):
        return np.asarray(table.column(name))
    return np.asarray(table[name])


def _f(table: Table, name: str) -> np.ndarray:
    return _col(table, name).astype(float)


def first_presence_s(table: Table) -> np.ndarray:
    """Time from the call to the first presence on scene (s): whichever comes first of the police
    (``arrival_s``) and the village officer (``officer_arrival_s``); NaN if neither arrived.
    A job the officer closed has no police arrival: the officer's is the presence."""
    police = _f(table, "arrival_s")
    officer = _f(table, "officer_arrival_s")
    return np.asarray(np.fmin(police, officer) - _f(table, "call_s"), dtype=float)


def _within(times: np.ndarray, step: float) -> float:
    """Share of ``times`` at most ``step`` (NaN counts as not within); NaN for no jobs."""
    if times.size == 0:
        return math.nan
    return float(np.mean(np.nan_to_num(times, nan=np.inf) <= step + 1e-9))


def _stat(times: np.ndarray, q: float | None = None) -> float:
    ok = times[~np.isnan(times)]
    if ok.size == 0:
        return math.nan
    return float(np.mean(ok)) if q is None else float(np.quantile(ok, q))


def rural_summary(table: Table, ladder: Mapping[str, Sequence[float]], *,
                  counted_only: bool = True) -> list[dict[str, Any]]:
    """One row per rural zone class of ``ladder`` (e.g. township, village) and one ``rural`` row
    for them together.

    Columns: ``incidents``; ``police_mean_s``/``police_p90_s`` (call to first police arrival,
    over the jobs the police had: those the village officer closed are left out) and
    ``presence_mean_s``/``presence_p90_s`` (call to first presence, :func:`first_presence_s`);
    ``police_within_k`` and ``presence_within_k`` for each step ``k`` (1-based) of the class's
    ladder (the ``rural`` row uses each job's own class's step ``k``, up to the shortest
    ladder); ``officer_attended``, ``officer_closed`` (jobs).
    """
    zone = _col(table, "rural_zone").astype(str)
    keep = _col(table, "counted").astype(bool) if counted_only else np.ones(zone.shape, bool)
    police = _f(table, "arrival_s") - _f(table, "call_s")
    presence = first_presence_s(table)
    attended = ~np.isnan(_f(table, "officer_arrival_s"))
    closed = _col(table, "officer_closed").astype(bool)
    rows = []
    classes = list(ladder)
    n_common = min(len(ladder[c]) for c in classes) if classes else 0
    step_of = np.full((zone.shape[0], max(n_common, 1)), np.nan)
    for c in classes:
        step_of[zone == c, :n_common] = list(ladder[c])[:n_common]
    for name in [*classes, "rural"]:
        m = keep & ((zone == name) if name != "rural" else np.isin(zone, classes))
        pm = m & ~closed  # police figures: the jobs the police had (not those the officer closed)
        row: dict[str, Any] = {"zone": name, "incidents": int(m.sum()),
                               "police_mean_s": _stat(police[pm]), "police_p90_s": _stat(police[pm], 0.9),
                               "presence_mean_s": _stat(presence[m]),
                               "presence_p90_s": _stat(presence[m], 0.9)}
        steps = list(ladder[name]) if name != "rural" else list(range(n_common))
        for k, step in enumerate(steps, start=1):
            if name == "rural":
                row[f"police_within_{k}"] = _within(police[pm] - step_of[pm, k - 1], 0.0)
                row[f"presence_within_{k}"] = _within(presence[m] - step_of[m, k - 1], 0.0)
            else:
                row[f"police_within_{k}"] = _within(police[pm], float(step))
                row[f"presence_within_{k}"] = _within(presence[m], float(step))
        row["officer_attended"] = int((attended & m).sum())
        row["officer_closed"] = int((closed & m).sum())
        rows.append(row)
    return rows


def officer_workload(table: Table, villages: Sequence[str], *, counted_only: bool = True
                     ) -> list[dict[str, Any]]:
    """Each village officer's workload, one row per village in ``villages`` order: jobs in the
    village, jobs attended, jobs closed without the police, and hours committed."""
    v = _col(table, "village").astype(np.int64)
    keep = _col(table, "counted").astype(bool) if counted_only else np.ones(v.shape, bool)
    attended = ~np.isnan(_f(table, "officer_arrival_s"))
    closed = _col(table, "officer_closed").astype(bool)
    busy = _f(table, "officer_busy_s")
    rows = []
    n = len(villages)
    ok = keep & (v >= 0) & (v < n)
    jobs = np.bincount(v[ok], minlength=n)
    att = np.bincount(v[ok & attended], minlength=n)
    clo = np.bincount(v[ok & closed], minlength=n)
    hours = np.bincount(v[ok], weights=busy[ok], minlength=n) / 3600.0
    for i, name in enumerate(villages):
        rows.append({"village": name, "incidents": int(jobs[i]), "attended": int(att[i]),
                     "closed": int(clo[i]), "busy_h": float(hours[i])})
    return rows


def worst_villages(table: Table, villages: Sequence[str], *, k: int = 10, min_incidents: int = 1,
                   counted_only: bool = True) -> list[dict[str, Any]]:
    """The ``k`` villages with the longest mean police arrival from the call, worst first (ties
    by village index): ``village``, ``incidents``, ``police_mean_s``, ``police_p90_s``,
    ``presence_mean_s``. A job with no police arrival by the horizon is left out of the means;
    villages with fewer than ``min_incidents`` jobs are left out."""
    v = _col(table, "village").astype(np.int64)
    keep = _col(table, "counted").astype(bool) if counted_only else np.ones(v.shape, bool)
    police = _f(table, "arrival_s") - _f(table, "call_s")
    presence = first_presence_s(table)
    ranked: list[tuple[float, int, dict[str, Any]]] = []
    for i, name in enumerate(villages):
        m = keep & (v == i)
        if int(m.sum()) < min_incidents or np.all(np.isnan(police[m])):
            continue
        mean = _stat(police[m])
        ranked.append((-mean, i, {"village": name, "incidents": int(m.sum()), "police_mean_s": mean,
                                  "police_p90_s": _stat(police[m], 0.9),
                                  "presence_mean_s": _stat(presence[m])}))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [row for _, _, row in ranked[:k]]


EFFECT_METRICS: tuple[tuple[str, str], ...] = (
    ("presence_mean_s", "mean time from the call to the first presence (s)"),
    ("presence_within_1", "share with a first presence within the ladder's first step"),
    ("police_mean_s", "mean time from the call to the first police arrival (s)"),
    ("police_jobs", "jobs the police were sent to"),
    ("officer_closed", "jobs the village officer closed without the police"),
)
"""What :func:`officer_effect` compares, each with its meaning."""

_EFFECT_COLUMNS = ("rural_zone", "counted", "arrival_s", "call_s", "officer_arrival_s",
                   "officer_closed", "unit")


def _assigned(unit: np.ndarray) -> np.ndarray:
    """Whether a police unit was assigned: a unit name (decoded records) or index >= 0."""
    if unit.dtype.kind in "OUS":
        return np.asarray(unit.astype(str) != "")
    return np.asarray(unit >= 0)


def officer_effect(table: Table, ladder: Mapping[str, Sequence[float]], *, with_layout: str,
                   without_layout: str, counted_only: bool = True) -> list[dict[str, Any]]:
    """The village officers' effect: ``with_layout`` minus ``without_layout``, replication by
    replication on the same calls (common random numbers), per rural zone class and ``rural``.

    One row per (zone, metric of :data:`EFFECT_METRICS`): ``with`` and ``without`` (means over
    replications), ``diff`` (mean paired difference) with its 95% CI (``diff_ci_low``,
    ``diff_ci_high``), ``significant`` and ``pairs``. ``police_jobs`` counts the jobs with a
    police unit assigned: its drop is the police workload the officers save.
    """
    layout = _col(table, "layout").astype(str)
    rep = _col(table, "replication").astype(np.int64)
    cols = {name: _col(table, name) for name in _EFFECT_COLUMNS}
    per_rep: list[dict[str, Any]] = []
    for name in (with_layout, without_layout):
        for r in sorted(set(rep[layout == name].tolist())):
            m = (layout == name) & (rep == r)
            sub = {k: v[m] for k, v in cols.items()}
            police = _assigned(sub["unit"])
            zone = sub["rural_zone"].astype(str)
            keep = sub["counted"].astype(bool) if counted_only else np.ones(zone.shape, bool)
            for row in rural_summary(sub, ladder, counted_only=counted_only):
                z = row["zone"]
                in_zone = keep & ((zone == z) if z != "rural" else np.isin(zone, list(ladder)))
                per_rep.append({"layout": name, "zone": z, "replication": r,
                                "presence_mean_s": row["presence_mean_s"],
                                "presence_within_1": row["presence_within_1"],
                                "police_mean_s": row["police_mean_s"],
                                "police_jobs": float((police & in_zone).sum()),
                                "officer_closed": float(row["officer_closed"])})
    out = []
    for metric, _ in EFFECT_METRICS:
        for d in paired_differences(per_rep, without_layout, metric):
            if d["layout"] != with_layout:
                continue
            side = {name: mean_ci([p[metric] for p in per_rep if p["layout"] == name
                                   and p["zone"] == d["zone"] and not math.isnan(p[metric])])[0]
                    for name in (with_layout, without_layout)}
            out.append({"zone": d["zone"], "metric": metric, "with": side[with_layout],
                        "without": side[without_layout], "diff": d[f"{metric}_diff"],
                        "diff_ci_low": d[f"{metric}_diff_ci_low"],
                        "diff_ci_high": d[f"{metric}_diff_ci_high"],
                        "significant": d["significant"], "pairs": d["pairs"]})
    return out
