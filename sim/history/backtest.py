"""Backtest: fit on a training window, simulate the test window, compare with what was observed.

The model (the scenario refitted on the training window's calls, or the scenario as given with
``refit=False``) is simulated with generated demand over the length of the test window, after a
day of warm-up, with its hour-of-week profile turned to start on the test window's weekday. The
simulated response times (call to first arrival) are compared with the observed ones of the test
window per priority and zone class: median, 90th percentile, compliance with the zone's target
(on the scenario's clock) and a two-sample Kolmogorov-Smirnov statistic with its p-value. A group
whose p-value is below ``ALPHA`` is one the model does not reproduce.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import stats

from sim.engine.core import simulate
from sim.history.calls import CallLog
from sim.history.fit import fit_log, history_layout, write_fitted
from sim.scenario import (
    PRIORITIES,
    ZONE_CLASSES,
    HistorySpec,
    LoadedScenario,
    load_scenario,
    validate_data,
)
from sim.study.experiment import load_world
from sim.world.demand import generate_incidents
from sim.world.prepare import World

__all__ = ["ALPHA", "MIN_GROUP", "backtest", "compare_groups"]

ALPHA = 0.01
MIN_GROUP = 20
WARMUP_DAYS = 1


def _model_for_window(model: LoadedScenario, start: datetime, days: float, reps: int,
                      layout: str) -> LoadedScenario:
    """``model`` set to run ``days`` after a warm-up day, its week starting on ``start - 1 day``."""
    data = copy.deepcopy(model.data)
    first = start - timedelta(days=WARMUP_DAYS)
    weekly = data["demand"].get("weekly_profile")
    if weekly:
        shift = first.weekday() * 24
        data["demand"]["weekly_profile"] = list(weekly[shift:]) + list(weekly[:shift])
    data["run"] = {**data["run"], "duration": f"{days + WARMUP_DAYS:g} d", "warmup": f"{WARMUP_DAYS} d",
                   "replications": reps, "layouts": [layout], "baseline": layout}
    data.pop("sweep", None)
    return validate_data(data, file=str(model.path), lines={}, text=yaml.safe_dump(data),
                         path=model.path)


def _stats(obs: np.ndarray, sim: np.ndarray, met_obs: np.ndarray, met_sim: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"n_observed": len(obs), "n_simulated": len(sim)}
    for name, x, met in (("observed", obs, met_obs), ("simulated", sim, met_sim)):
        out[f"median_{name}_s"] = float(np.median(x)) if len(x) else float("nan")
        out[f"p90_{name}_s"] = float(np.quantile(x, 0.9)) if len(x) else float("nan")
        out[f"compliance_{name}"] = float(np.mean(met)) if len(met) else float("nan")
    if len(obs) >= MIN_GROUP and len(sim) >= MIN_GROUP:
        ks = stats.ks_2samp(obs, sim)
        out.update(ks_d=float(ks.statistic), ks_p=float(ks.pvalue),
                   verdict="consistent" if ks.pvalue >= ALPHA else "differs")
    else:
        out.update(ks_d=float("nan"), ks_p=float("nan"), verdict="too few calls")
    return out


def compare_groups(obs: dict[str, np.ndarray], sim: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per (priority, zone) group, and for all calls: see :func:`_stats`. Each input holds
    ``response_s``, ``met`` (0/1), ``priority`` and ``zone`` (indices) of equal length."""
    rows = []
    groups: list[tuple[str, str]] = [("all", "all")]
    groups += [(p, "all") for p in PRIORITIES] + [("all", z) for z in ZONE_CLASSES]
    groups += [(p, z) for p in PRIORITIES for z in ZONE_CLASSES]
    for p, z in groups:
        def pick(d: dict[str, np.ndarray], p: str = p, z: str = z) -> np.ndarray:
            m = np.ones(len(d["response_s"]), dtype=bool)
            if p != "all":
                m &= d["priority"] == PRIORITIES.index(p)
            if z != "all":
                m &= d["zone"] == ZONE_CLASSES.index(z)
            return m
        mo, ms = pick(obs), pick(sim)
        if not mo.any():
            continue
        rows.append({"priority": p, "zone": z, **_stats(obs["response_s"][mo], sim["response_s"][ms],
                                                        obs["met"][mo], sim["met"][ms])})
    return rows


def _observed(log: CallLog, world: World) -> dict[str, np.ndarray]:
    s = world.scenario
    has = np.isfinite(log.arrival_epoch)
    zone = world.zones.zone[log.node].astype(np.int64)
    start = log.dispatch_epoch if s.zones.clock == "dispatch" else log.call_epoch
    start = np.where(np.isfinite(start), start, log.call_epoch)
    target = world.zones.targets[zone]
    met = ((log.arrival_epoch - start) <= target).astype(float)
    return {"response_s": (log.arrival_epoch - log.call_epoch)[has], "met": met[has],
            "priority": log.priority[has].astype(np.int64), "zone": zone[has]}


def _simulated(model: LoadedScenario, layout: str, reps: int,
               cache_dir: Path | None) -> tuple[dict[str, np.ndarray], World]:
    _, world = load_world(model, cache_dir)
    s = world.scenario
    parts: dict[str, list[np.ndarray]] = {"response_s": [], "met": [], "priority": [], "zone": []}
    for rep in range(reps):
        inc = generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=rep,
                                 weights=world.weights)
        rec = simulate(world, layout, inc, rep, presence=False).records
        resp = rec.column("response_s").astype(float)
        ok = (rec.column("counted") == 1) & np.isfinite(resp)
        pri = np.array([PRIORITIES.index(p) for p in rec.column("priority")], dtype=np.int64)
        zone = np.array([ZONE_CLASSES.index(z) for z in rec.column("zone")], dtype=np.int64)
        parts["response_s"].append(resp[ok])
        parts["met"].append((rec.column("target_met")[ok] == 1).astype(float))
        parts["priority"].append(pri[ok])
        parts["zone"].append(zone[ok])
    return {k: np.concatenate(v) for k, v in parts.items()}, world


def backtest(loaded: LoadedScenario, log: CallLog, world: World, *, train: tuple[datetime, datetime],
             test: tuple[datetime, datetime], out_dir: Path, refit: bool = True, reps: int = 3,
             cache_dir: Path | None = None, spec: HistorySpec | None = None) -> dict[str, Any]:
    """Fit on ``train`` (unless ``refit`` is false), simulate ``test``, compare (see module doc).

    ``world`` is the prepared world of ``loaded``. The refitted scenario is written in ``out_dir``.
    Returns a JSON-able report with one row per group (``groups``) and the overall ``verdict``.
    """
    spec = spec or loaded.scenario.history
    layout = history_layout(loaded, spec)
    train_log, test_log = log.window(*train), log.window(*test)
    report: dict[str, Any] = {"train": [train[0].isoformat(), train[1].isoformat()],
                              "test": [test[0].isoformat(), test[1].isoformat()],
                              "train_calls": len(train_log), "test_calls": len(test_log),
                              "refit": refit, "layout": layout, "replications": reps}
    model = loaded
    if refit:
        fit = fit_log(loaded, train_log, world, spec=spec, end_epoch=train[1].timestamp())
        path = write_fitted(loaded, fit, world, Path(out_dir) / f"{loaded.scenario.name}_backtest_fit.yaml")
        model = load_scenario(path)
        report["fitted_scenario"] = str(path)
        report["fit"] = {k: v for k, v in fit.items() if k != "spatial"}
        report["fit"]["travel"] = {k: v for k, v in fit["travel"].items() if k != "scatter"}
    days = (test[1] - test[0]).total_seconds() / 86400.0
    windowed = _model_for_window(model, test[0], days, reps, layout)
    sim, sim_world = _simulated(windowed, layout, reps, cache_dir)
    obs = _observed(test_log, sim_world)
    report["groups"] = compare_groups(obs, sim)
    overall = report["groups"][0]
    report["verdict"] = overall["verdict"]
    report["observed_response_s"] = obs["response_s"].tolist()
    report["simulated_response_s"] = sim["response_s"][:20000].tolist()
    return report
