"""Fit a scenario's demand and times to a call log, and write the fitted scenario and its report.

- **Arrival rate by hour of week.** Calls counted per hour of the week (local time) against the
  hours of each kind the log covers. A likelihood-ratio (G) test compares "the same 24-hour profile
  every day" with "its own profile each day of the week" (144 degrees of freedom); when it rejects
  at ``ALPHA`` the hour-of-week profile is written (``demand.weekly_profile``), else only the
  24-hour profile.
- **Spatial intensity.** Calls per road-metre, smoothed on a grid of ``CELL_M`` cells with a
  Gaussian kernel, times each node's road length; the bandwidth maximises the held-out
  log-likelihood of ``FOLDS``-fold cross-validation. Written as ``demand.points`` (a CSV of
  ``lon,lat,weight`` beside the fitted scenario, one row per road node).
- **Type mix**, **on-scene times per type** (``clear - arrival``) and **call handling**
  (``dispatch - call``): see :mod:`sim.history.distributions`.
- **Travel**: see :mod:`sim.history.calibrate`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import stats
from scipy.ndimage import gaussian_filter

from sim.fileio import atomic_write_text
from sim.history.calibrate import calibrate_travel
from sim.history.calls import CallLog
from sim.history.distributions import fit_duration
from sim.history.replay import log_span_s
from sim.network.graph import RoadNetwork
from sim.quantities import format_duration, format_speed
from sim.scenario import HistorySpec, LoadedScenario, ScenarioError
from sim.study.experiment import load_net
from sim.world.checks import check_against_network
from sim.world.prepare import World, prepare_world

__all__ = ["ALPHA", "fit_arrivals", "fit_log", "fit_spatial", "history_layout", "prepare_for_log",
           "write_fitted"]

ALPHA = 0.01
MIN_CALLS = 30
CELL_M = 100.0
FOLDS = 5
BANDWIDTHS_M = (100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 800.0, 1200.0, 2000.0, 4000.0)


def _exposure(start_epoch: float, end_epoch: float, timezone: str) -> np.ndarray:
    """Hours of each hour of the week (local) between two instants: ``[168]``."""
    import pandas as pd

    hours = pd.date_range(pd.Timestamp(start_epoch, unit="s", tz="UTC"),
                          pd.Timestamp(end_epoch, unit="s", tz="UTC"), freq="h", inclusive="left")
    local = hours.tz_convert(timezone)
    return np.bincount(np.asarray(local.day_of_week * 24 + local.hour), minlength=168).astype(float)


def fit_arrivals(log: CallLog, end_epoch: float | None = None) -> dict[str, Any]:
    """Rates by hour of week, the day-of-week test and the profiles to write (see the module doc)."""
    # to the local midnight after the last call (a daylight-saving day has 23 or 25 hours)
    end = end_epoch if end_epoch is not None else log.start_epoch + log_span_s(log)
    exposure = _exposure(log.start_epoch, end, log.timezone)
    counts = np.bincount(log.hour_of_week, minlength=168).astype(float)
    e7, n7 = exposure.reshape(7, 24), counts.reshape(7, 24)
    hourly_rate = n7.sum(axis=0) / np.maximum(e7.sum(axis=0), 1e-12)
    expected = e7 * hourly_rate
    seen = (e7 > 0) & (n7 > 0)
    g = float(2.0 * np.sum(n7[seen] * np.log(n7[seen] / expected[seen])))
    days_seen = int(np.sum(e7.sum(axis=1) > 0))
    df = 24 * max(days_seen - 1, 0)
    p = float(stats.chi2.sf(g, df)) if df else 1.0
    weekly_rate = counts / np.maximum(exposure, 1e-12)
    per_day = float(counts.sum() / max(exposure.sum(), 1e-12) * 24.0)
    return {"calls": int(counts.sum()), "hours_observed": float(exposure.sum()),
            "incidents_per_day": per_day, "g_statistic": g, "df": df, "p_value": p,
            "day_of_week_effect": bool(df and p < ALPHA), "hourly_rate": hourly_rate.tolist(),
            "weekly_rate": weekly_rate.tolist(), "counts": counts.tolist(), "exposure": exposure.tolist()}


def _grid(world: World) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
    net = world.net
    ix = np.floor((net.x - net.x.min()) / CELL_M).astype(np.int64)
    iy = np.floor((net.y - net.y.min()) / CELL_M).astype(np.int64)
    shape = (int(ix.max()) + 1, int(iy.max()) + 1)
    return np.ravel_multi_index((ix, iy), shape), shape, net.edge_length_per_node()


def _weights(counts_cell: np.ndarray, road_cell: np.ndarray, cell_of: np.ndarray,
             road: np.ndarray, shape: tuple[int, int], h_m: float) -> np.ndarray:
    sig = h_m / CELL_M
    num = gaussian_filter(counts_cell.reshape(shape), sig, mode="constant").ravel()
    den = gaussian_filter(road_cell.reshape(shape), sig, mode="constant").ravel()
    w = road * num[cell_of] / np.maximum(den[cell_of], 1e-12)
    base = road / road.sum()
    return np.asarray(0.999 * w / max(w.sum(), 1e-300) + 0.001 * base)


def fit_spatial(log: CallLog, world: World, seed: int = 0) -> dict[str, Any]:
    """Node weights (sum 1) by the smoothed ratio estimator, bandwidth by cross-validation."""
    cell_of, shape, road = _grid(world)
    ncell = shape[0] * shape[1]
    road_cell = np.bincount(cell_of, weights=road, minlength=ncell)
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(log))
    scores = []
    for h in BANDWIDTHS_M:
        ll = 0.0
        for f in range(FOLDS):
            train = log.node[fold != f]
            cnt = np.bincount(cell_of[train], minlength=ncell).astype(float)
            w = _weights(cnt, road_cell, cell_of, road, shape, h)
            ll += float(np.log(w[log.node[fold == f]]).sum())
        scores.append(ll)
    best = BANDWIDTHS_M[int(np.argmax(scores))]
    cnt = np.bincount(cell_of[log.node], minlength=ncell).astype(float)
    w = _weights(cnt, road_cell, cell_of, road, shape, best)
    return {"bandwidth_m": best, "cv_loglik": dict(zip([str(h) for h in BANDWIDTHS_M], scores, strict=True)),
            "weights": w, "cell_m": CELL_M}


def history_layout(loaded: LoadedScenario, spec: HistorySpec | None) -> str:
    """The layout that answered the logged calls: the mapping's, else the scenario's baseline."""
    if spec and spec.layout:
        if spec.layout not in loaded.scenario.layouts:
            raise loaded.error(("history", "layout"), f"no layout named '{spec.layout}' in this "
                               f"scenario; layouts: {', '.join(loaded.scenario.layouts)}")
        return spec.layout
    return loaded.scenario.baseline_layout()


def prepare_for_log(loaded: LoadedScenario, spec: HistorySpec | None,
                    cache_dir: Path | None = None) -> tuple[RoadNetwork, World]:
    """The network and a world prepared for the scenario's layouts and the log's layout.

    The network returned is the world's (with the scenario's places on their roads): read the
    log against it, so that call nodes and post nodes index the same graph.
    """
    net = load_net(loaded, cache_dir)
    check_against_network(loaded, net)
    layouts = list(dict.fromkeys([*loaded.scenario.layout_names(), history_layout(loaded, spec)]))
    world = prepare_world(loaded, net, layouts)
    return world.net, world


def fit_log(loaded: LoadedScenario, log: CallLog, world: World, *, spec: HistorySpec | None = None,
            layout: str | None = None, unit_type: str | None = None,
            end_epoch: float | None = None) -> dict[str, Any]:
    """Everything fitted from ``log``: a JSON-able report (node weights as an array).

    ``spec`` is the mapping the log was read with (default: the scenario's ``history:``).
    """
    s = loaded.scenario
    if len(log) < MIN_CALLS:
        raise ScenarioError(f"only {len(log)} calls accepted (of {log.rows_read} rows); a fit needs "
                            f"at least {MIN_CALLS}", file=log.path)
    spec = spec or s.history
    layout = layout or history_layout(loaded, spec)
    fleet = world.fleets[layout]
    if unit_type is None:
        unit_type = spec.unit_type if spec and spec.unit_type else next(
            (t for t, r in zip(fleet.unit_type, fleet.role, strict=True) if r == "response"),
            fleet.unit_type[0])
    names = [t.name for t in s.incident_types]
    counts = np.bincount(log.type_index, minlength=len(names))
    on_scene = {}
    scene = log.clear_epoch - log.arrival_epoch
    for k, t in enumerate(s.incident_types):
        on_scene[t.name] = fit_duration(scene[log.type_index == k], t.on_scene.model_dump(mode="json"))
    handling = fit_duration(log.dispatch_epoch - log.call_epoch, s.call_handling.model_dump(mode="json"))
    return {
        "history": spec.model_dump(mode="json", exclude_defaults=True) if spec else None,
        "calls": {"file": str(log.path), "sha256": log.checksum, "rows": log.rows_read,
                  "accepted": len(log), "rejected_rows": log.rejected_rows,
                  "problems_by_reason": log.counts_by_reason(), "timezone": log.timezone,
                  "first_call": log.local_time(float(log.call_epoch.min())).isoformat() if len(log) else None,
                  "last_call": log.local_time(float(log.call_epoch.max())).isoformat() if len(log) else None},
        "arrivals": fit_arrivals(log, end_epoch),
        "spatial": fit_spatial(log, world),
        "type_mix": {n: float(c / max(counts.sum(), 1)) for n, c in zip(names, counts, strict=True)},
        "type_counts": {n: int(c) for n, c in zip(names, counts, strict=True)},
        "on_scene": on_scene,
        "call_handling": handling,
        "travel": calibrate_travel(log, world, layout, unit_type),
    }


def _profile(rates: np.ndarray) -> list[float]:
    top = float(rates.max()) or 1.0
    return [round(float(r / top * 10.0), 4) for r in rates]


def fitted_data(loaded: LoadedScenario, fit: dict[str, Any], points_file: str) -> dict[str, Any]:
    """The scenario's data with the fitted values written in."""
    data = copy.deepcopy(loaded.data)
    data["name"] = f"{loaded.scenario.name}_fitted"
    arr = fit["arrivals"]
    demand = data["demand"]
    demand["incidents_per_day"] = round(arr["incidents_per_day"], 3)
    demand["hourly_profile"] = _profile(np.asarray(arr["hourly_rate"]))
    if arr["day_of_week_effect"]:
        demand["weekly_profile"] = _profile(np.asarray(arr["weekly_rate"]))
    else:
        demand.pop("weekly_profile", None)
    demand["hotspots"] = []
    demand["points"] = {"file": points_file}  # all the demand: no baseline beside the points
    demand["baseline"] = "none"
    mix = fit["type_mix"]
    shares = {k: max(round(v, 8), 1e-5) for k, v in mix.items()}
    top = max(shares, key=lambda k: shares[k])  # the largest takes the rounding: the sum is 1
    shares[top] = round(1.0 - sum(v for k, v in shares.items() if k != top), 8)
    for t in data["incident_types"]:
        t["share"] = shares[t["name"]]
        t["on_scene"] = fit["on_scene"][t["name"]]["spec"]
    data["call_handling"] = fit["call_handling"]["spec"]
    if fit.get("history"):
        data["history"] = fit["history"]
    travel = fit["travel"]
    if "speeds" in travel:
        speeds = data["network"].setdefault("speeds", {})
        for c, v in travel["speeds"].items():
            speeds[c] = format_speed(round(v * 3.6, 2) / 3.6)
        data["unit_types"][travel["unit_type"]]["turnout"] = format_duration(
            round(max(travel["turnout_s"], 0.0), 1))
        for p in data.get("congestion", {}).get("periods", []):
            for c, f in travel["period_factors"].get(p["name"], {}).items():
                p["speed_factor"][c] = round(f, 4)
    return data


def write_fitted(loaded: LoadedScenario, fit: dict[str, Any], world: World, out: Path) -> Path:
    """Write the fitted scenario to ``out`` and its demand points beside it; returns ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    points = out.with_name(out.stem + "_points.csv")
    net = world.net
    w = np.asarray(fit["spatial"]["weights"])
    lines = ["lon,lat,weight"] + [f"{net.lon[i]:.7f},{net.lat[i]:.7f},{w[i]:.6e}"
                                  for i in np.flatnonzero(w > 0)]
    atomic_write_text(points, "\n".join(lines) + "\n")
    data = fitted_data(loaded, fit, points.name)
    net_spec = data["network"]
    if net_spec.get("source") == "file" and "path" in net_spec:
        net_spec["path"] = str(loaded.resolve_path(net_spec["path"]))
    head = (f"# Fitted by run_sim.py fit from {fit['calls']['file']} (sha256 {fit['calls']['sha256'][:12]}), "
            f"{fit['calls']['accepted']} calls.\n# Demand, type mix, on-scene and call-handling times, "
            "speeds, congestion factors and turnout come from the log; see fit_report.html.\n")
    atomic_write_text(out, head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110))
    return out
