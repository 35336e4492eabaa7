"""A realistic synthetic call log from a known "true" scenario, to test import, fit and backtest.

No public Shaoyang call log exists, so the tests and the README use this one. The true scenario
is the default one with its own road speeds, congestion factors, hour-of-week pattern (busier
Friday and Saturday nights), hotspots, type mix, on-scene and call-handling times and turnout; it
is simulated (the grid platforms with their patrol cars, parked at their posts) and each record
becomes a log row, with the noise of a real dispatch log:

- GPS error on the incident position (``gps_sd_m``, Gaussian, per coordinate);
- every time rounded to the second; a share of arrival times rounded to the minute;
- a share of arrival (and clear) times missing;
- a few corrupt rows (unreadable time, a place in the sea, an unknown type, arrival before call);
- personal columns (caller name, phone, free text) that a mapping must never read.

:func:`write_synthetic` writes the log, the true scenario (``truth.yaml``) and the list of
corrupt rows (``corrupt_rows.json``); :func:`dirty_copy` makes a copy with many more problems,
each at a known row, with the reason the check must give.
"""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from sim.engine.core import simulate
from sim.fileio import atomic_write_text
from sim.scenario import DEFAULT_SCENARIO, LoadedScenario, load_scenario, validate_data
from sim.study.experiment import load_world
from sim.world.demand import generate_incidents
from sim.world.streams import streams

__all__ = ["SynthOptions", "dirty_copy", "true_scenario_data", "write_synthetic"]

TIMEZONE = "Asia/Shanghai"
START = "2025-01-06"  # a Monday
LAYOUT = "grid_cars_only"

COLUMNS = ("incident_no", "received_at", "dispatched_at", "on_scene_at", "cleared_at", "longitude",
           "latitude", "call_type", "unit_id", "caller_name", "caller_phone", "narrative")

MAPPING: dict[str, Any] = {
    "columns": {"call_time": "received_at", "dispatch_time": "dispatched_at",
                "arrival_time": "on_scene_at", "clear_time": "cleared_at", "lon": "longitude",
                "lat": "latitude", "type": "call_type", "unit": "unit_id"},
    "timezone": TIMEZONE,
    "types": {"ROBBERY/ASSAULT": "urgent_in_progress", "TRAFFIC": "traffic_accident",
              "DISPUTE": "dispute_mediation", "THEFT": "theft_report", "HELP": "request_for_help",
              "OTHER": "other_minor"},
    "layout": LAYOUT,
    "unit_type": "patrol_car",
}
"""The ``history:`` section that reads the synthetic log."""

TRUE_SPEEDS = {"trunk": "40 km/h", "primary": "29 km/h", "secondary": "27 km/h",
               "tertiary": "27 km/h", "residential": "21 km/h", "default": "21 km/h"}
TRUE_CONGESTION = [
    {"name": "morning_peak", "hours": ["07:00", "09:00"],
     "speed_factor": {"trunk": 0.7, "primary": 0.7, "secondary": 0.75, "tertiary": 0.8,
                      "residential": 0.9, "default": 0.9}},
    {"name": "evening_peak", "hours": ["17:00", "19:30"],
     "speed_factor": {"trunk": 0.6, "primary": 0.6, "secondary": 0.7, "tertiary": 0.8,
                      "residential": 0.85, "default": 0.85}},
]
TRUE_HOTSPOTS = [
    {"name": "Night market", "lon": 111.4680, "lat": 27.2346, "sigma": "300 m", "share": 0.20},
    {"name": "Railway station", "lon": 111.5064, "lat": 27.2165, "sigma": "300 m", "share": 0.12},
    {"name": "Beita centre", "lon": 111.4750, "lat": 27.2599, "sigma": "350 m", "share": 0.08},
]
TRUE_ON_SCENE = {
    "urgent_in_progress": {"distribution": "lognormal", "mean": "40 min", "cv": 0.5},
    "traffic_accident": {"distribution": "gamma", "mean": "28 min", "cv": 0.6},
    "dispute_mediation": {"distribution": "lognormal", "mean": "22 min", "cv": 0.7},
    "theft_report": {"distribution": "gamma", "mean": "25 min", "cv": 0.5},
    "request_for_help": {"distribution": "lognormal", "mean": "18 min", "cv": 0.6},
    "other_minor": {"distribution": "lognormal", "mean": "12 min", "cv": 0.8},
}
TRUE_SHARES = {"urgent_in_progress": 0.10, "traffic_accident": 0.22, "dispute_mediation": 0.25,
               "theft_report": 0.13, "request_for_help": 0.18, "other_minor": 0.12}
TRUE_TURNOUT = "35 s"
TRUE_CALL_HANDLING = {"distribution": "gamma", "mean": "60 s", "cv": 0.6}


def true_weekly_profile(hourly: list[float]) -> list[float]:
    """The true hour-of-week pattern: the default day, busier on Friday and Saturday evenings and
    nights (x1.6 from 20:00 to 04:00 the next morning) and quieter on Sunday daytime (x0.8)."""
    week = np.tile(np.asarray(hourly, dtype=float), 7)
    for day in (4, 5):  # Friday, Saturday
        week[day * 24 + 20: day * 24 + 28] *= 1.6
    week[6 * 24 + 8: 6 * 24 + 18] *= 0.8
    return [round(float(w), 4) for w in week]


def true_scenario_data(base: LoadedScenario, *, days: float, per_day: float,
                       weekly: bool = True) -> dict[str, Any]:
    """The true scenario as YAML data: ``base`` with the true parameters (module constants)."""
    data = copy.deepcopy(base.data)
    data["name"] = "synthetic_truth"
    data["title"] = "The true scenario behind the synthetic call log"
    data["network"]["speeds"] = dict(TRUE_SPEEDS)
    data["congestion"] = {"periods": copy.deepcopy(TRUE_CONGESTION)}
    demand = data["demand"]
    demand["incidents_per_day"] = per_day
    demand["hotspots"] = copy.deepcopy(TRUE_HOTSPOTS)
    if weekly:
        demand["weekly_profile"] = true_weekly_profile(demand["hourly_profile"])
    for t in data["incident_types"]:
        t["on_scene"] = dict(TRUE_ON_SCENE[t["name"]])
        t["share"] = TRUE_SHARES[t["name"]]
        t["units_required"] = 1
    data["call_handling"] = dict(TRUE_CALL_HANDLING)
    data["unit_types"]["patrol_car"]["turnout"] = TRUE_TURNOUT
    data["layouts"] = {LAYOUT: data["layouts"][LAYOUT]}
    data["run"] = {"duration": f"{days:g} d", "warmup": "0 s", "replications": 1,
                   "seed": data["run"]["seed"], "layouts": [LAYOUT], "baseline": LAYOUT}
    data["dispatch"] = {"divert_from_minor": False}
    data.pop("sweep", None)
    data["history"] = copy.deepcopy(MAPPING)
    return data


@dataclass(frozen=True)
class SynthOptions:
    """How big and how noisy the synthetic log is."""

    days: float = 35.0
    per_day: float = 150.0
    seed: int = 7
    gps_sd_m: float = 20.0
    missing_arrival: float = 0.04
    minute_rounded: float = 0.1
    utc_share: float = 0.1
    corrupt_rows: int = 6
    weekly: bool = True


def write_synthetic(folder: Path, opts: SynthOptions = SynthOptions(), *,
                    cache_dir: Path | None = None) -> dict[str, Path]:
    """Simulate the true scenario and write ``calls.csv``, ``truth.yaml`` and ``corrupt_rows.json``.

    Returns the paths written. The log covers ``opts.days`` days from Monday ``START`` (local
    time ``TIMEZONE``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = load_scenario(DEFAULT_SCENARIO)
    data = true_scenario_data(base, days=opts.days, per_day=opts.per_day, weekly=opts.weekly)
    data["run"]["seed"] = opts.seed
    truth_path = folder / "truth.yaml"
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)
    atomic_write_text(truth_path, "# The TRUE scenario behind calls.csv (synthetic; see "
                                  "sim/history/synth_log.py)\n" + text)
    loaded = validate_data(data, file=str(truth_path), lines={}, text=text, path=truth_path)
    net, world = load_world(loaded, cache_dir)
    s = loaded.scenario
    inc = generate_incidents(s, net, world.zones, seed=opts.seed, replication=0, weights=world.weights)
    rec = simulate(world, LAYOUT, inc, 0, presence=False).records
    rng = streams(opts.seed, 0, ("gps", "rounding", "missing", "corrupt", "personal", "zone"))
    n = len(rec)
    zone = ZoneInfo(TIMEZONE)
    t0 = datetime.strptime(START, "%Y-%m-%d").replace(tzinfo=zone)
    type_label = {v: k for k, v in MAPPING["types"].items()}

    node = rec.column("node").astype(np.int64)
    px = net.x[node] + rng["gps"].normal(0.0, opts.gps_sd_m, n)
    py = net.y[node] + rng["gps"].normal(0.0, opts.gps_sd_m, n)
    lon, lat = net.frame.to_lonlat(px, py)
    arrival = rec.column("arrival_s").astype(float).copy()
    clear = rec.column("clear_s").astype(float).copy()
    missing = rng["missing"].random(n) < opts.missing_arrival
    arrival[missing] = np.nan
    clear[missing & (rng["missing"].random(n) < 0.5)] = np.nan
    by_minute = rng["rounding"].random(n) < opts.minute_rounded
    arrival = np.where(by_minute, np.round(arrival / 60.0) * 60.0, np.round(arrival))
    utc = rng["zone"].random(n) < opts.utc_share

    def stamp(sec: float, i: int) -> str:
        if not np.isfinite(sec):
            return ""
        t = t0 + timedelta(seconds=round(float(sec)))
        if utc[i]:
            return t.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
        return t.strftime("%Y-%m-%d %H:%M:%S")

    call, assign = rec.column("call_s"), rec.column("assign_s")
    types, units = rec.column("incident_type"), rec.column("unit")
    first_names = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang")
    rows: list[list[str]] = []
    for i in range(n):
        rows.append([
            f"SY{20250000 + i:08d}", stamp(call[i], i), stamp(assign[i], i), stamp(arrival[i], i),
            stamp(clear[i], i), f"{lon[i]:.6f}", f"{lat[i]:.6f}", type_label[types[i]], str(units[i]),
            f"{first_names[int(rng['personal'].integers(6))]} Wei",
            f"+86 139 {int(rng['personal'].integers(10**7, 10**8))}",
            "Caller says: \"help, come quickly\", near the market",
        ])
    corrupt = _corrupt(rows, opts.corrupt_rows, rng["corrupt"])
    out = folder / "calls.csv"
    _write_rows(out, rows)
    (folder / "corrupt_rows.json").write_text(json.dumps(corrupt, indent=1))
    return {"calls": out, "truth": truth_path, "corrupt": folder / "corrupt_rows.json"}


_C = {name: k for k, name in enumerate(COLUMNS)}

# (what is done to the row, the mapped column the check names, the reason's kind)
DAMAGE: tuple[tuple[str, str, str], ...] = (
    ("bad_time", "call_time", "not a time"),
    ("no_call_time", "call_time", "missing"),
    ("in_the_sea", "lon", "off the map"),
    ("unknown_type", "type", "unknown incident type"),
    ("arrival_before_dispatch", "arrival_time", "out of order"),
    ("lon_text", "lon", "not a number"),
    ("lat_out_of_range", "lat", "not a coordinate"),
    ("bad_clear_time", "clear_time", "not a time"),
    ("dispatch_days_later", "dispatch_time", "implausible"),
)


def _damage(row: list[str], kind: str) -> None:
    if kind == "bad_time":
        row[_C["received_at"]] = "2025-13-45 25:61:00"
    elif kind == "no_call_time":
        row[_C["received_at"]] = ""
    elif kind == "in_the_sea":
        row[_C["longitude"]], row[_C["latitude"]] = "112.900000", "26.100000"
    elif kind == "unknown_type":
        row[_C["call_type"]] = "UFO SIGHTING"
    elif kind == "arrival_before_dispatch":
        row[_C["on_scene_at"]] = row[_C["received_at"]]
        row[_C["dispatched_at"]] = _shift(row[_C["received_at"]], 120)
        row[_C["cleared_at"]] = _shift(row[_C["received_at"]], 1800)
    elif kind == "lon_text":
        row[_C["longitude"]] = "east of the bridge"
    elif kind == "lat_out_of_range":
        row[_C["latitude"]] = "127.24"
    elif kind == "bad_clear_time":
        row[_C["cleared_at"]] = "yesterday"
    elif kind == "dispatch_days_later":
        row[_C["dispatched_at"]] = _shift(row[_C["received_at"]], 3 * 86400)
        row[_C["on_scene_at"]] = _shift(row[_C["received_at"]], 3 * 86400 + 300)
        row[_C["cleared_at"]] = _shift(row[_C["received_at"]], 3 * 86400 + 1800)


def _shift(stamp: str, seconds: float) -> str:
    if stamp.endswith("Z"):
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=seconds)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    t = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _corrupt(rows: list[list[str]], count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Damage ``count`` rows (kinds in turn, rows with all their times) and say which and how."""
    complete = [i for i, r in enumerate(rows) if all(r[_C[c]] for c in
                                                     ("received_at", "dispatched_at", "on_scene_at",
                                                      "cleared_at"))]
    chosen = sorted(rng.choice(complete, size=min(count, len(complete)), replace=False).tolist())
    out = []
    for j, i in enumerate(chosen):
        kind, column, reason = DAMAGE[j % len(DAMAGE)]
        _damage(rows[i], kind)
        out.append({"row": i + 1, "damage": kind, "column": column, "reason": reason})
    return out


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)


def dirty_copy(calls: Path, out: Path, *, every: int = 97, seed: int = 11,
               exclude: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """Copy ``calls`` with one row in ``every`` damaged (each kind of :data:`DAMAGE` in turn).

    Returns the damaged rows (1-based row, damage, column, reason kind), the answer key a check of
    the copy must reproduce. Rows in ``exclude`` (1-based: those already damaged in ``calls``)
    are left as they are.
    """
    with open(calls, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [list(r) for r in reader]
    if tuple(header) != COLUMNS:
        raise ValueError(f"{calls} is not a synthetic log of this version")
    rng = np.random.default_rng(seed)
    complete = [i for i, r in enumerate(rows) if i + 1 not in exclude and all(
        r[_C[c]] for c in ("received_at", "dispatched_at", "on_scene_at", "cleared_at"))]
    picks = sorted(rng.choice(complete, size=max(1, len(rows) // every), replace=False).tolist())
    key = []
    for j, i in enumerate(picks):
        kind, column, reason = DAMAGE[j % len(DAMAGE)]
        _damage(rows[i], kind)
        key.append({"row": i + 1, "damage": kind, "column": column, "reason": reason})
    _write_rows(out, rows)
    return key
