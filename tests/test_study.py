"""Layout studies: common random numbers, paired statistics, resumable pieces, Dask == local."""

import gc
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.metrics import paired_differences, rankings
from sim.scenario import load_scenario
from sim.study.experiment import RunOptions, apply_overrides, build_variants, run_study
from sim.world.demand import generate_incidents

from .conftest import tiny_scenario, world_for, write_grid_osm, write_scenario

ROOT = Path(__file__).resolve().parent.parent


def _sweep_scenario(folder: Path, reps: int = 3) -> Path:
    data = tiny_scenario("grid.osm", days="2 d", reps=reps)
    data["sweep"] = {"demand_multiplier": [1.0, 1.5], "parameters": {"call_handling.mean": ["60 s", "2 min"]}}
    write_grid_osm(folder / "grid.osm")
    return write_scenario(folder / "sweep.yaml", data)


def test_variants_are_named_validated_and_share_incidents(tmp_path):
    loaded = load_scenario(_sweep_scenario(tmp_path))
    variants = build_variants(loaded)
    assert [v.name for v in variants] == [
        "demand_multiplier=1,call_handling.mean=60 s", "demand_multiplier=1,call_handling.mean=2 min",
        "demand_multiplier=1.5,call_handling.mean=60 s", "demand_multiplier=1.5,call_handling.mean=2 min"]
    assert variants[1].scenario.call_handling.mean == 120.0
    _, net, world = world_for(tmp_path, loaded.data, name="plain.yaml")
    s = world.scenario
    low = generate_incidents(s, net, world.zones, seed=3, replication=0, demand_multiplier=1.0,
                             max_multiplier=1.5)
    high = generate_incidents(s, net, world.zones, seed=3, replication=0, demand_multiplier=1.5,
                              max_multiplier=1.5)
    # the lower-demand variant sees a subset of the same incidents, with the same service times
    assert 0.55 < len(low) / len(high) < 0.8
    idx = np.searchsorted(high.call_s, low.call_s)
    assert np.array_equal(high.call_s[idx], low.call_s)
    assert np.array_equal(high.on_scene_s[idx], low.on_scene_s[idx * 0 + np.arange(len(low))])
    assert np.array_equal(high.node[idx], low.node)


def test_bad_sweep_key_path_is_reported(tmp_path):
    path = _sweep_scenario(tmp_path)
    path.write_text(path.read_text().replace("call_handling.mean", "call_handling.meen"))
    loaded = load_scenario(path)
    with pytest.raises(Exception, match=r"call_handling\.meen") as info:
        build_variants(loaded)
    assert "sweep.parameters" in str(info.value)


def test_paired_differences_and_rankings_by_hand():
    rows = []
    for rep, (a, b, c) in enumerate([(0.5, 0.6, 0.55), (0.4, 0.52, 0.7), (0.45, 0.56, 0.5)]):
        for layout, v in (("A", a), ("B", b), ("C", c)):
            rows.append({"layout": layout, "zone": "all", "replication": rep, "compliance": v})
    diffs = {d["layout"]: d for d in paired_differences(rows, "A")}
    assert diffs["B"]["compliance_diff"] == pytest.approx((0.1 + 0.12 + 0.11) / 3)
    assert diffs["B"]["significant"]  # all three pairs clearly positive
    assert not diffs["C"]["significant"]  # +0.05, +0.3, +0.05: wide interval
    ranks = {r["layout"]: r for r in rankings(rows)}
    assert ranks["B"]["mean_rank"] == pytest.approx((1 + 2 + 1) / 3)
    assert ranks["B"]["share_ranked_first"] == pytest.approx(2 / 3)
    assert ranks["C"]["share_ranked_first"] == pytest.approx(1 / 3)
    assert ranks["A"]["rank_by_mean"] == 3


def _study(path: Path, store: Path | None, **kw):
    loaded = load_scenario(path)
    return run_study(loaded, sweep=True, store_dir=store, cache_dir=path.parent / "cache", **kw)


def test_resume_runs_only_missing_pieces_and_counts_each_once(tmp_path):
    path = _sweep_scenario(tmp_path)
    full = _study(path, tmp_path / "full")
    store = tmp_path / "store"
    _study(path, store)
    pieces = sorted((store / "pieces").rglob("*.pkl"))
    assert len(pieces) == 4 * 2 * 3
    for p in pieces[::3]:
        p.unlink()
    pieces[1].write_bytes(b"torn")  # a torn write is run again, not trusted
    seen: list[tuple[int, int]] = []
    again = _study(path, store, progress=lambda done, total: seen.append((done, total)))
    assert seen[0][0] == len(pieces) - len(pieces[::3]) - 1  # found on disk
    assert seen[-1] == (24, 24)
    assert again.records.to_csv() == full.records.to_csv()
    assert again.summary == full.summary
    assert again.incidents_simulated == full.incidents_simulated


def test_store_refuses_another_study(tmp_path):
    path = _sweep_scenario(tmp_path)
    _study(path, tmp_path / "store")
    path.write_text(path.read_text().replace("seed: 7", "seed: 8"))
    with pytest.raises(Exception, match="different study"):
        _study(path, tmp_path / "store")


def test_sequential_stopping_adds_replications(tmp_path):
    path = _sweep_scenario(tmp_path, reps=2)
    loose = _study(path, None, ci_target=0.9, max_reps=6)
    assert loose.replications == 2
    tight = _study(path, None, ci_target=1e-6, max_reps=6)
    assert tight.replications == 6


def test_pieces_run_with_the_prepared_heap_frozen_and_thawed_after(tmp_path):
    """What the study holds before its pieces (network, worlds) is out of the collector's
    sight while they run (gc.freeze), and back in it afterwards, after a failed piece too."""
    path = _sweep_scenario(tmp_path, reps=1)
    seen: list[int] = []

    def incidents(loaded, world, rep):
        seen.append(gc.get_freeze_count())
        s = world.scenario
        return generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=rep,
                                  weights=world.weights)

    def broken(loaded, world, rep):
        raise RuntimeError("no log today")

    before = gc.get_freeze_count()
    loaded = load_scenario(path)
    run_study(loaded, sweep=False, cache_dir=tmp_path / "cache", incidents=incidents)
    assert seen and min(seen) > before + 1000  # the worlds, the network, the modules
    assert gc.get_freeze_count() == before
    with pytest.raises(RuntimeError, match="no log today"):
        run_study(loaded, sweep=False, cache_dir=tmp_path / "cache", incidents=broken)
    assert gc.get_freeze_count() == before


def test_workers_and_dask_give_identical_results(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    path = _sweep_scenario(tmp_path, reps=2)
    one = _study(path, None, workers=1)
    two = _study(path, None, workers=2)
    assert two.records.to_csv() == one.records.to_csv()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = _study(path, None, scheduler=cluster.scheduler_address)
    assert dask.records.to_csv() == one.records.to_csv()
    assert dask.summary == one.summary


class _NotedIncidents:
    """An incident provider (at module level, so that it travels to the helper processes) that
    notes which process drew each replication's incidents, and fails in the helpers if asked."""

    def __init__(self, folder: Path, fail_in_helpers: bool = False) -> None:
        self.folder, self.fail_in_helpers, self.parent = folder, fail_in_helpers, os.getpid()

    def __call__(self, loaded, world, rep):
        (self.folder / f"{os.getpid()}-{rep}-{time.perf_counter_ns()}").touch()
        if self.fail_in_helpers and os.getpid() != self.parent:
            raise ValueError("a helper's piece failed")
        s = world.scenario
        return generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=rep,
                                  weights=world.weights)


def test_this_process_runs_pieces_beside_its_helpers(tmp_path, monkeypatch):
    """With 3 workers this process and 2 helpers take pieces from one queue; the helpers' pieces
    come back through files that are gone afterwards, and the records are those of 1 worker."""
    path = _sweep_scenario(tmp_path, reps=4)
    notes, scratch = tmp_path / "notes", tmp_path / "scratch"
    notes.mkdir()
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    loaded = load_scenario(path)
    one = run_study(loaded, sweep=False, cache_dir=tmp_path / "cache", incidents=_NotedIncidents(notes))
    assert {n.name.split("-")[0] for n in notes.iterdir()} == {str(os.getpid())}
    for n in notes.iterdir():
        n.unlink()
    three = run_study(loaded, sweep=False, workers=3, cache_dir=tmp_path / "cache",
                      incidents=_NotedIncidents(notes))
    assert three.records.to_csv() == one.records.to_csv()
    assert three.summary == one.summary
    pids = {n.name.split("-")[0] for n in notes.iterdir()}
    assert str(os.getpid()) in pids and len(pids) >= 2
    assert list(scratch.iterdir()) == []


def test_a_failed_piece_in_a_helper_is_raised_here(tmp_path, caplog):
    path = _sweep_scenario(tmp_path, reps=4)
    notes = tmp_path / "notes"
    notes.mkdir()
    before = gc.get_freeze_count()
    with pytest.raises(ValueError, match="a helper's piece failed"):
        run_study(load_scenario(path), sweep=False, workers=2, cache_dir=tmp_path / "cache",
                  incidents=_NotedIncidents(notes, fail_in_helpers=True))
    assert gc.get_freeze_count() == before
    # no "exception calling callback" from the pool's thread: the error is reported once
    assert not [r for r in caplog.records if r.name.startswith("concurrent.futures")]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_killing_a_worker_mid_sweep_then_resuming(tmp_path):
    path = _sweep_scenario(tmp_path, reps=6)
    data = path.read_text().replace('duration: 2 d', 'duration: 20 d')
    path.write_text(data)
    env = {**os.environ, "POLICE_SIM_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "run_sim.py"), "sweep", str(path), "--out", str(tmp_path / "out"),
           "--workers", "2", "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    partial = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "out").glob("*/*.partial/pieces/*/*/*.pkl"))
        if len(found) >= 3:
            partial = found[0].parents[3]
            break
        time.sleep(0.05)
    assert partial is not None, "the sweep finished or failed before pieces appeared"
    # pool workers: forked (Linux) or spawned children, not multiprocessing's resource tracker
    workers = [c for c in _children(proc.pid)
               if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")]
    assert workers, "no worker processes found"
    os.kill(workers[-1], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "resume with:" in err and "Traceback" not in err
    done_before = len(list(partial.rglob("*.pkl")))
    assert 0 < done_before < 4 * 2 * 6
    resumed = subprocess.run([*cmd[:-4], "--resume", str(partial), "--cache-dir", str(tmp_path / "cache")],
                             capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = partial.with_name(partial.name.removesuffix(".partial"))
    assert (final / "comparison.csv").exists() and not partial.exists()
    clean = run_study(apply_overrides(load_scenario(path), RunOptions()), sweep=True,
                      cache_dir=tmp_path / "cache")
    assert (final / "records.csv").read_text() == clean.records.to_csv()
    assert not math.isnan(clean.summary[0]["compliance"])
