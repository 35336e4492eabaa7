"""Call logs: import with every row checked, replay, distributions, fitted scenario (fast tests).

A small synthetic log (7 days) from the known true scenario of ``sim.history.synth_log`` is
made once per module; expected values come from the generator's answer key or from hand-worked
numbers, never from the code under test.
"""

from __future__ import annotations

import copy
import csv
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from sim.cli.main import main
from sim.history import calls as calls_mod
from sim.history.calibrate import huber_fit
from sim.history.calls import history_spec, read_calls
from sim.history.distributions import fit_duration
from sim.history.fit import fit_log, write_fitted
from sim.history.replay import Replay, incidents_from_log
from sim.history.synth_log import MAPPING, SynthOptions, dirty_copy, write_synthetic
from sim.scenario import DEFAULT_SCENARIO, DistributionSpec, HistorySpec, load_scenario, validate_data
from sim.study.experiment import RunOptions, apply_overrides, load_net, load_world, run_batch
from sim.world.demand import sample_durations

PERSONAL = ("caller_name", "caller_phone", "narrative")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("synth")
    paths = write_synthetic(folder, SynthOptions(days=7, per_day=150))
    truth = load_scenario(paths["truth"])
    net = load_net(truth, None)
    return {**paths, "folder": folder, "loaded": truth, "net": net,
            "key": json.loads(Path(paths["corrupt"]).read_text())}


def _read(synth: dict, path: Path | None = None, net=None):
    t = synth["loaded"]
    return read_calls(path or synth["calls"], history_spec(t), t.scenario, net or synth["net"])


def test_check_reports_every_corrupt_row_and_drops_nothing_silently(synth: dict) -> None:
    log = _read(synth)
    key = synth["key"]
    assert len(key) == 6
    assert {p.row for p in log.problems} == {k["row"] for k in key}
    for k in key:
        mine = [p for p in log.problems if p.row == k["row"]]
        assert any(p.column == k["column"] and p.reason.startswith(k["reason"]) for p in mine), (k, mine)
    assert len(log) + log.rejected_rows == log.rows_read
    with open(synth["calls"], encoding="utf-8") as fh:
        assert log.rows_read == sum(1 for _ in fh) - 1
    assert sum(log.counts_by_reason().values()) == len(log.problems)
    assert set(log.row.tolist()).isdisjoint(k["row"] for k in key)


def test_dirty_copy_every_bad_row_with_its_reason(synth: dict, tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.csv"
    shipped = {k["row"] for k in synth["key"]}
    key = dirty_copy(synth["calls"], dirty, every=40, exclude=frozenset(shipped))
    assert len(key) >= 20
    assert {k["damage"] for k in key} >= {"bad_time", "in_the_sea", "unknown_type",
                                          "arrival_before_dispatch", "lat_out_of_range",
                                          "bad_clear_time", "dispatch_days_later"}
    log = _read(synth, dirty)
    assert {p.row for p in log.problems} == {k["row"] for k in key} | shipped
    for k in key:
        mine = [p for p in log.problems if p.row == k["row"]]
        assert any(p.column == k["column"] and p.reason.startswith(k["reason"]) for p in mine), (k, mine)
    assert len(log) + log.rejected_rows == log.rows_read


def test_unmapped_columns_are_never_read(synth: dict) -> None:
    spec = history_spec(synth["loaded"])
    table = calls_mod._read_table(Path(synth["calls"]), spec)
    assert set(table.columns) == set(MAPPING["columns"])
    with open(synth["calls"], encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert set(PERSONAL) <= set(header)


def _one_call_csv(path: Path, stamps: list[str], lon: float, lat: float) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "x", "y", "kind"])
        for s in stamps:
            w.writerow([s, lon, lat, "DISPUTE"])
    return path


def test_time_zones_naive_offset_and_utc_agree(synth: dict, tmp_path: Path) -> None:
    net = synth["net"]
    lon, lat = float(net.lon[100]), float(net.lat[100])
    path = _one_call_csv(tmp_path / "tz.csv", ["2025-03-01 08:00:00", "2025-03-01T08:00:00+08:00",
                                               "2025-03-01T00:00:00Z"], lon, lat)
    spec = HistorySpec.model_validate({"columns": {"call_time": "t", "lon": "x", "lat": "y", "type": "kind"},
                                       "timezone": "Asia/Shanghai", "types": MAPPING["types"]})
    log = read_calls(path, spec, synth["loaded"].scenario, net)
    expected = datetime(2025, 3, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    assert log.call_epoch.tolist() == [expected] * 3
    assert log.hour_of_week.tolist() == [5 * 24 + 8] * 3  # Saturday 08:00
    assert log.node.tolist() == [100] * 3


def test_a_time_that_does_not_exist_is_rejected(synth: dict, tmp_path: Path) -> None:
    net = synth["net"]
    path = _one_call_csv(tmp_path / "dst.csv", ["2025-03-09 02:30:00", "2025-03-09 03:30:00"],
                         float(net.lon[5]), float(net.lat[5]))
    spec = HistorySpec.model_validate({"columns": {"call_time": "t", "lon": "x", "lat": "y", "type": "kind"},
                                       "timezone": "America/Los_Angeles", "types": MAPPING["types"]})
    log = read_calls(path, spec, synth["loaded"].scenario, net)
    assert [(p.row, p.column) for p in log.problems] == [(1, "call_time")]
    assert len(log) == 1


def test_calls_check_command(synth: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report = tmp_path / "bad.csv"
    rc = main(["calls", "check", str(synth["calls"]), "--scenario", str(synth["truth"]),
               "--report", str(report)])
    assert rc == 1
    out = capsys.readouterr().out
    assert "6 rejected" in out
    with open(report, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["row"]) for r in rows) == sorted(k["row"] for k in synth["key"])
    assert all(int(r["line"]) == int(r["row"]) + 1 for r in rows)


def _two_layout_truth(synth: dict) -> tuple:
    data = copy.deepcopy(synth["loaded"].data)
    base = load_scenario(DEFAULT_SCENARIO)
    data["layouts"]["stations"] = base.data["layouts"]["police_stations_pre2017"]
    data["run"].update(layouts=["grid_cars_only", "stations"], replications=2)
    loaded = validate_data(data, file="two.yaml", lines={}, text=yaml.safe_dump(data),
                           path=synth["truth"])
    return apply_overrides(loaded, RunOptions(duration_s=7 * 86400.0))


def test_replay_same_trace_for_every_layout_and_on_scene_from_the_log(synth: dict) -> None:
    loaded = _two_layout_truth(synth)
    _, world = load_world(loaded)
    replay = Replay(str(synth["calls"]))
    batch = run_batch(loaded, world, incidents=replay)
    log = _read(synth, net=world.net)
    rec = batch.records
    lay, rep = rec.column("layout"), rec.column("replication")
    for r in (0, 1):
        a, b = (lay == "grid_cars_only") & (rep == r), (lay == "stations") & (rep == r)
        for col in ("call_s", "node", "incident_type", "priority"):
            assert np.array_equal(rec.column(col)[a], rec.column(col)[b])
        # the log's calls, in order, are the incidents
        assert np.allclose(rec.column("call_s")[a], log.call_s)
        assert np.array_equal(rec.column("node")[a], log.node)
    # replications vary only what the log does not fix (call handling here)
    r0, r1 = (lay == "stations") & (rep == 0), (lay == "stations") & (rep == 1)
    assert np.array_equal(rec.column("call_s")[r0], rec.column("call_s")[r1])
    assert not np.array_equal(rec.column("dispatch_s")[r0], rec.column("dispatch_s")[r1])
    logged = log.clear_epoch - log.arrival_epoch  # in call order, as the records of one run
    served = rec.column("outcome")[r0] == "served"
    scene = (rec.column("clear_s") - rec.column("arrival_s"))[r0][served]
    from_log = logged[served]
    has = np.isfinite(from_log) & (from_log > 0)
    assert has.sum() > 500
    assert np.allclose(scene[has], from_log[has], atol=1e-6)
    # calls without a logged on-scene time got one drawn from the scenario
    assert np.all(scene[~has] > 0)


def test_incidents_from_log_are_identical_for_equal_seeds(synth: dict) -> None:
    loaded = apply_overrides(synth["loaded"], RunOptions(duration_s=7 * 86400.0))
    _, world = load_world(loaded)
    log = _read(synth, net=world.net)
    a = incidents_from_log(log, world, seed=3, replication=1)
    b = incidents_from_log(log, world, seed=3, replication=1)
    for f in ("call_s", "dispatch_s", "node", "type_index", "on_scene_s"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    short = incidents_from_log(log, world, seed=3, replication=1, horizon_s=86400.0)
    assert len(short) == int(np.sum(log.call_s < 86400.0))


def test_fitted_scenario_validates_and_runs(synth: dict, tmp_path: Path) -> None:
    truth = synth["loaded"]
    _, world = load_world(truth)
    log = _read(synth, net=world.net)
    fit = fit_log(truth, log, world)
    out = write_fitted(truth, fit, world, tmp_path / "fitted.yaml")
    assert (tmp_path / "fitted_points.csv").is_file()
    fitted = load_scenario(out)
    s = fitted.scenario
    assert s.demand.points is not None and s.demand.points.file == "fitted_points.csv"
    assert s.demand.baseline == "none"
    assert s.history is not None and s.history.layout == "grid_cars_only"
    assert abs(s.demand.incidents_per_day - len(log) / 7) < 1e-2
    short = apply_overrides(fitted, RunOptions(duration_s=86400.0, replications=1))
    _, fworld = load_world(short)
    assert abs(fworld.weights.sum() - 1) < 1e-9
    batch = run_batch(short, fworld)
    assert len(batch.records) > 50
    assert main(["validate", str(out)]) == 0
    from sim.brief.fit_report import write_fit_report

    report = write_fit_report(tmp_path, fit)
    text = report["html"].read_text(encoding="utf-8")
    data = report["json"].read_text(encoding="utf-8")
    assert "Day-of-week effect" in text and text.count("<img") >= 8
    assert "weights" not in json.loads(data)["spatial"]
    shown = re.sub(r"<img[^>]*>", "", text)  # (base64 figures may hold any letters)
    for personal in ("+86 139", "Wei", "help, come quickly"):  # unmapped columns never read
        assert personal not in shown and personal not in data
        assert personal not in out.read_text(encoding="utf-8")


def test_huber_fit_ignores_outliers() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, 400)
    y = 3.0 + 2.0 * x + rng.normal(0, 1.0, 400)
    y[::10] += 500.0  # 10% wild outliers
    b = huber_fit(np.column_stack([np.ones_like(x), x]), y)
    assert abs(b[0] - 3.0) < 1.0 and abs(b[1] - 2.0) < 0.02
    ols = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
    assert abs(ols[0] - 3.0) > 20  # the plain fit is pulled away


def test_duration_fits_choose_the_right_family() -> None:
    rng = np.random.default_rng(5)
    prior = {"distribution": "exponential", "mean": "10 min"}
    sigma = np.sqrt(np.log1p(0.6**2))
    logn = rng.lognormal(np.log(1200.0) - sigma**2 / 2, sigma, 3000)
    f = fit_duration(logn, prior)
    assert f["chosen"] == "lognormal"
    assert abs(f["candidates"]["lognormal"]["params"]["mean_s"] / 1200.0 - 1) < 0.03
    assert abs(f["spec"]["cv"] - 0.6) < 0.04
    gam = rng.gamma(1 / 0.5**2, 900.0 * 0.5**2, 3000)
    g = fit_duration(gam, prior)
    assert g["chosen"] == "gamma"
    assert abs(g["candidates"]["gamma"]["params"]["mean_s"] / 900.0 - 1) < 0.03
    two = np.concatenate([rng.normal(300, 20, 1500), rng.normal(3000, 100, 1500)])
    e = fit_duration(two, prior)
    assert e["chosen"] == "empirical"
    DistributionSpec.model_validate(e["spec"])
    few = fit_duration(logn[:10], prior)
    assert few["chosen"] == "prior" and few["spec"] == prior


def test_empirical_distribution_interpolates_its_quantiles() -> None:
    spec = DistributionSpec.model_validate({"distribution": "empirical", "mean": "60 s",
                                            "quantiles": ["0 s", "1 min", "2 min"]})
    got = sample_durations(spec, np.array([0.25, 0.5, 0.75, 1.0]))
    assert got.tolist() == [30.0, 60.0, 90.0, 120.0]
    with pytest.raises(ValueError):
        DistributionSpec.model_validate({"distribution": "empirical", "mean": "60 s",
                                         "quantiles": ["2 min", "1 min"]})


def test_shipped_synthetic_log_reports_its_corrupt_rows() -> None:
    folder = DEFAULT_SCENARIO.parent / "history" / "synthetic"
    key = json.loads((folder / "corrupt_rows.json").read_text())
    truth = load_scenario(folder / "truth.yaml")
    mapped = history_spec(truth, folder / "mapping.yaml")
    log = read_calls(folder / "calls.csv", mapped, truth.scenario, load_net(truth, None))
    assert {p.row for p in log.problems} == {k["row"] for k in key}
    assert len(log) > 2000


def test_the_shipped_log_is_what_the_generator_writes(tmp_path: Path) -> None:
    """The shipped 14-day log, its answer key and its true scenario are what the generator
    writes today (under a second): a change to the engine or the default scenario that changes
    them must regenerate them. (Among the slow tests, this went unseen once: the horizon
    cool-down gave the last calls arrival times, which moved the corrupt rows.)"""
    shipped = DEFAULT_SCENARIO.parent / "history" / "synthetic"
    paths = write_synthetic(tmp_path, SynthOptions(days=14))
    for key, name in (("calls", "calls.csv"), ("corrupt", "corrupt_rows.json"),
                      ("truth", "truth.yaml")):
        assert paths[key].read_bytes() == (shipped / name).read_bytes(), name


def test_run_replay_command_writes_the_replay_note(synth: dict, tmp_path: Path) -> None:
    from sim.brief.fit_report import history_notes

    rc = main(["run", str(synth["truth"]), "--replay", str(synth["calls"]), "--reps", "1",
               "--no-plots", "--out", str(tmp_path)])
    assert rc == 0
    [folder] = list((tmp_path / "synthetic_truth").iterdir())
    note = json.loads((folder / "replay.json").read_text())
    assert note["calls"] == len(_read(synth)) and note["days"] == 7
    assert note["first_day"] == "2025-01-06"
    lines = history_notes(folder, Path("nowhere.yaml"))
    assert len(lines) == 1 and "replay" in lines[0] and "2025-01-06" in lines[0]


def test_parquet_log_reads_as_the_csv_does(synth: dict, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    table = pd.read_csv(synth["calls"], dtype=str, keep_default_na=False)
    table["received_at"] = table["received_at"].where(table.index != 0, "")  # one more bad row
    pq = tmp_path / "calls.parquet"
    table.to_parquet(pq)
    a, b = _read(synth), _read(synth, pq)
    assert b.rows_read == a.rows_read
    assert {p.row for p in b.problems} == {p.row for p in a.problems} | {1}
    keep = a.row != 1
    assert np.array_equal(a.call_epoch[keep], b.call_epoch)
    assert np.array_equal(a.node[keep], b.node)


def test_a_bad_mapping_file_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("history:\n  columns: {call_time: when}\n  timezone: Mars/Olympus\n  bogus: 1\n")
    rc = main(["calls", "check", str(DEFAULT_SCENARIO.parent / "history" / "synthetic" / "calls.csv"),
               "--mapping", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "columns: map either 'lon' and 'lat'" in err
    assert "timezone: unknown time zone 'Mars/Olympus'" in err
    assert "bogus:" in err
