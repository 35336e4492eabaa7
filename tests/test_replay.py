"""Replaying a call log in ``compare`` and ``sweep``; time zones with a daylight-saving change;
calls placed on the nearest drivable road.

Expected values are computed independently: offsets and day lengths by hand, checksums with
hashlib, nearest roads by brute force over every drivable segment.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.cli.main import main
from sim.history.calls import history_spec, read_calls
from sim.history.fit import fit_arrivals
from sim.history.replay import Replay, log_days, log_span_s, uneven_days
from sim.history.synth_log import MAPPING, SynthOptions, write_synthetic
from sim.scenario import DEFAULT_SCENARIO, HistorySpec, ScenarioError, load_scenario
from sim.study.experiment import load_net, load_world, run_study


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("replay")
    paths = write_synthetic(folder, SynthOptions(days=2, per_day=120))
    truth = load_scenario(paths["truth"])
    data = copy.deepcopy(truth.data)
    base = load_scenario(DEFAULT_SCENARIO)
    data["layouts"]["stations"] = base.data["layouts"]["police_stations_pre2017"]
    data["run"].update(layouts=["grid_cars_only", "stations"], replications=2)
    two = folder / "two.yaml"
    two.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return {**paths, "folder": folder, "loaded": truth, "net": load_net(truth, None), "two": two,
            "data": data}


def _run_dir(root: Path) -> Path:
    [folder] = [p for p in (root / "synthetic_truth").iterdir() if p.is_dir()]
    return folder


def _records(folder: Path) -> list[dict[str, str]]:
    with open(folder / "records.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_compare_replays_one_trace_for_every_layout_with_any_number_of_workers(
        synth: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    calls = Path(synth["calls"])
    runs = {}
    for w in (1, 2):
        rc = main(["compare", str(synth["two"]), "--replay", str(calls), "--workers", str(w),
                   "--out", str(tmp_path / f"w{w}")])
        assert rc == 0
        runs[w] = _run_dir(tmp_path / f"w{w}")
    err = capsys.readouterr().err
    assert "calls placed on the nearest drivable road: median" in err
    one, two = (runs[w] / "records.csv" for w in (1, 2))
    assert one.read_bytes() == two.read_bytes()
    manifest = json.loads((runs[1] / "manifest.json").read_text(encoding="utf-8"))
    r = manifest["replay"]
    assert r["calls_file_as_given"] == str(calls)
    assert r["sha256"] == hashlib.sha256(calls.read_bytes()).hexdigest()
    assert r["days"] == 2 and manifest["duration_s"] == 2 * 86400.0  # Asia/Shanghai: no DST
    assert set(r["snap"]) >= {"median_m", "p90_m", "max_m", "over_50_m"}
    assert "replay.json" in manifest["files"]
    # every layout and replication sees the log's calls, in the same order
    rows = _records(runs[1])
    seq: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for row in rows:
        seq.setdefault((row["layout"], row["replication"]), []).append((row["call_s"], row["node"]))
    assert len(seq) == 4
    first = next(iter(seq.values()))
    assert all(v == first for v in seq.values())
    with open(calls, encoding="utf-8") as fh:
        logged = sum(1 for _ in csv.DictReader(fh))
    corrupt = len(json.loads(Path(synth["corrupt"]).read_text()))
    assert len(first) == logged - corrupt


def test_a_demand_sweep_on_a_replay_is_refused(synth: dict, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    data = copy.deepcopy(synth["data"])
    data["sweep"] = {"demand_multiplier": [1.0, 1.2]}
    path = synth["folder"] / "demand_sweep.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rc = main(["sweep", str(path), "--replay", str(synth["calls"]), "--out", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "sweep.demand_multiplier" in err and "cannot be scaled" in err
    assert not (tmp_path / "synthetic_truth").exists()


def test_a_speed_sweep_replays_the_same_trace_in_every_variant(synth: dict, tmp_path: Path) -> None:
    data = copy.deepcopy(synth["data"])
    data["sweep"] = {"speed_multiplier": [1.0, 0.8]}
    data["run"].update(layouts=["grid_cars_only"], replications=1)
    path = synth["folder"] / "speed_sweep.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rc = main(["sweep", str(path), "--replay", str(synth["calls"]), "--workers", "1",
               "--out", str(tmp_path)])
    assert rc == 0
    folder = _run_dir(tmp_path)
    base = _records(folder)
    slow_path = folder / "variants" / "v001" / "records.csv"
    with open(slow_path, encoding="utf-8") as fh:
        slow = list(csv.DictReader(fh))
    assert [(r["call_s"], r["node"]) for r in base] == [(r["call_s"], r["node"]) for r in slow]
    served = [(float(a["response_s"]), float(b["response_s"])) for a, b in zip(base, slow, strict=True)
              if a["outcome"] == b["outcome"] == "served"]
    assert np.mean([b for _, b in served]) > np.mean([a for a, _ in served])  # slower roads


def test_a_replayed_study_resumes_and_refuses_another_log(synth: dict, tmp_path: Path) -> None:
    from sim.cli.calls import setup_replay

    loaded = load_scenario(synth["two"])

    class Args:
        replay, mapping, cache_dir, days, scenario = synth["calls"], None, None, None, str(synth["two"])

    loaded, replay, _ = setup_replay(Args(), loaded)  # type: ignore[arg-type]
    store = tmp_path / "store"
    full = run_study(loaded, sweep=False, store_dir=store, incidents=replay)
    pieces = sorted(store.glob("pieces/*/*/*.pkl"))
    assert len(pieces) == 4
    pieces[-1].unlink()  # as if interrupted before the last piece
    again = run_study(loaded, sweep=False, store_dir=store, incidents=replay)
    for col in ("call_s", "node", "response_s", "clear_s"):
        assert np.array_equal(again.records.column(col), full.records.column(col), equal_nan=True)
    other = Replay(replay.calls, replay.mapping, sha256="0" * 64)
    with pytest.raises(ScenarioError, match="different study"):
        run_study(loaded, sweep=False, store_dir=store, incidents=other)
    with pytest.raises(ScenarioError, match="different study"):  # generated demand: not the replay
        run_study(loaded, sweep=False, store_dir=store)


def _csv(path: Path, stamps: list[str], lon: float, lat: float) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "x", "y", "kind"])
        for s in stamps:
            w.writerow([s, lon, lat, "DISPUTE"])
    return path


def _spec(tz: str) -> HistorySpec:
    return HistorySpec.model_validate({"columns": {"call_time": "t", "lon": "x", "lat": "y",
                                                   "type": "kind"},
                                       "timezone": tz, "types": MAPPING["types"]})


def test_spring_forward_day_has_23_hours_of_elapsed_seconds(synth: dict, tmp_path: Path) -> None:
    net = synth["net"]
    # Los Angeles, 2025-03-09: 02:00 PST becomes 03:00 PDT (UTC-8 -> UTC-7)
    path = _csv(tmp_path / "spring.csv", ["2025-03-08 23:00:00", "2025-03-09 01:30:00",
                                          "2025-03-09 03:30:00", "2025-03-09T03:30:00-07:00",
                                          "2025-03-10 00:30:00"], float(net.lon[7]), float(net.lat[7]))
    log = read_calls(path, _spec("America/Los_Angeles"), synth["loaded"].scenario, net)
    assert not log.problems
    # time 0 = 2025-03-08 00:00 PST = 08:00 UTC; by hand, in UTC:
    #   03-08 23:00 PST = 03-09 07:00 UTC -> 23.0 h;  03-09 01:30 PST = 09:30 UTC -> 25.5 h
    #   03-09 03:30 PDT = 10:30 UTC -> 26.5 h (one hour after 01:30, not two)
    #   03-10 00:30 PDT = 03-10 07:30 UTC -> 47.5 h
    assert (log.call_s / 3600.0).tolist() == [23.0, 25.5, 26.5, 26.5, 47.5]
    assert log_days(log) == 3
    # the run ends at 03-11 00:00 PDT = 07:00 UTC: 71 h after the start, not 72
    assert log_span_s(log) == 71 * 3600.0
    assert uneven_days(log) == [{"day": "2025-03-09", "hours": 23.0}]
    assert fit_arrivals(log)["hours_observed"] == 71.0  # the fit's exposure: the same 71 hours


def test_fall_back_day_has_25_hours_and_a_repeated_local_time_needs_its_offset(
        synth: dict, tmp_path: Path) -> None:
    net = synth["net"]
    # Los Angeles, 2025-11-02: 02:00 PDT becomes 01:00 PST; 01:30 happens twice
    path = _csv(tmp_path / "fall.csv", ["2025-11-02 00:30:00", "2025-11-02 01:30:00",
                                        "2025-11-02T01:30:00-07:00", "2025-11-02T01:30:00-08:00",
                                        "2025-11-02 23:30:00"], float(net.lon[7]), float(net.lat[7]))
    log = read_calls(path, _spec("America/Los_Angeles"), synth["loaded"].scenario, net)
    assert [(p.row, p.column) for p in log.problems] == [(2, "call_time")]
    assert "daylight-saving" in log.problems[0].reason and "+01:00" in log.problems[0].reason
    # time 0 = 2025-11-02 00:00 PDT = 07:00 UTC; 01:30 PDT = 08:30 UTC (1.5 h),
    # 01:30 PST = 09:30 UTC (2.5 h), 23:30 PST = 11-03 07:30 UTC (24.5 h)
    assert (log.call_s / 3600.0).tolist() == [0.5, 1.5, 2.5, 24.5]
    assert log_span_s(log) == 25 * 3600.0
    assert uneven_days(log) == [{"day": "2025-11-02", "hours": 25.0}]


def _drivable_segments(net) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    walk = net.edge_walk_only if net.edge_walk_only is not None else np.zeros(net.n_edges, bool)
    u, v = net.edge_u[~walk].astype(np.int64), net.edge_v[~walk].astype(np.int64)
    return u, v, np.column_stack([net.x[u], net.y[u], net.x[v], net.y[v]])


def test_calls_are_placed_on_the_nearest_drivable_road(synth: dict, tmp_path: Path) -> None:
    net = synth["net"]
    u, _, seg = _drivable_segments(net)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    k = int(np.argmax(length))  # the longest street: its middle is far from every junction
    assert length[k] > 400.0
    ux, uy = (seg[k, 2] - seg[k, 0]) / length[k], (seg[k, 3] - seg[k, 1]) / length[k]
    t = 0.45
    px = seg[k, 0] + t * (seg[k, 2] - seg[k, 0]) - 20.0 * uy  # 20 m to the side of the street
    py = seg[k, 1] + t * (seg[k, 3] - seg[k, 1]) + 20.0 * ux
    # brute force: the distance from the point to every drivable segment
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    tt = np.clip(((px - seg[:, 0]) * dx + (py - seg[:, 1]) * dy) / np.maximum(dx * dx + dy * dy, 1e-12),
                 0, 1)
    d = np.hypot(seg[:, 0] + tt * dx - px, seg[:, 1] + tt * dy - py)
    assert d.min() == pytest.approx(20.0, abs=1e-6)  # this street is the nearest road
    near_node = np.hypot(net.x - px, net.y - py).min()
    assert near_node > 100.0  # so the nearest node is beyond the tolerance set below
    lon, lat = net.frame.to_lonlat(np.array([px]), np.array([py]))
    base = synth["loaded"].scenario  # 100 m: nearer than that to the road, farther from any node
    scenario = base.model_copy(update={"network": base.network.model_copy(update={"snap_tolerance": 100.0})})
    log = read_calls(_csv(tmp_path / "mid.csv", ["2025-03-01 08:00:00"], float(lon[0]), float(lat[0])),
                     _spec("Asia/Shanghai"), scenario, net)
    assert not log.problems
    assert log.snap_m[0] == pytest.approx(20.0, abs=0.05)
    assert int(log.node[0]) == int(u[k])  # 45 % along: the nearer end is the first
    assert log.along_m[0] == pytest.approx(t * length[k], abs=0.5)


def test_shipped_log_calls_are_within_their_gps_error_of_a_road() -> None:
    folder = DEFAULT_SCENARIO.parent / "history" / "synthetic"
    truth = load_scenario(folder / "truth.yaml")
    spec = history_spec(truth, folder / "mapping.yaml")
    assert spec.timezone == "Asia/Shanghai"
    _, world = load_world(truth)
    log = Replay(str(folder / "calls.csv"), str(folder / "mapping.yaml")).log(truth, world)
    # the generator puts each call on a node and adds a Gaussian error of 20 m per coordinate: the
    # median distance to that node is 20 m * sqrt(2 ln 2) = 23.5 m, and the road is no farther
    assert len(log) > 2000 and float(np.median(log.snap_m)) < 20.0 * np.sqrt(2 * np.log(2))
    assert np.all(log.snap_m <= truth.scenario.network.snap_tolerance)
