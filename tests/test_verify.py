"""``verify``: a finished run re-runs to identical records; damaged folders and changed inputs are told apart.
Also the results folder itself: atomic files, a PARTIAL note until the rename, checksums of every file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from sim.cli.checks import register
from sim.cli.main import main
from sim.fileio import atomic_open
from sim.study.folder import PARTIAL_NOTE, finish_run_dir, new_run_dir, sha256_file

from .conftest import write_grid_osm


def _verify(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="run_sim.py")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["verify", *argv])
    return args.handler(args)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A finished run of the tiny scenario (no plots), and the folder holding its inputs."""
    import os

    from .conftest import tiny_scenario, write_scenario

    folder = tmp_path_factory.mktemp("verify")
    write_grid_osm(folder / "grid.osm")
    write_scenario(folder / "tiny.yaml", tiny_scenario("grid.osm", days="2 d"))
    old = os.environ.get("POLICE_SIM_CACHE")
    os.environ["POLICE_SIM_CACHE"] = str(folder / "cache")
    try:
        assert main(["run", str(folder / "tiny.yaml"), "--out", str(folder / "results"), "--no-plots"]) == 0
    finally:
        if old is None:
            os.environ.pop("POLICE_SIM_CACHE")
        else:
            os.environ["POLICE_SIM_CACHE"] = old
    (run,) = (folder / "results" / "tiny").iterdir()
    return folder, run


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / run.name
    shutil.copytree(run, dst)
    return dst


def test_a_finished_run_is_complete_and_checksummed(finished):
    _, run = finished
    assert not run.name.endswith(".partial") and not (run / PARTIAL_NOTE).exists()
    manifest = json.loads((run / "manifest.json").read_text())
    files = manifest["files"]
    assert {"records.csv", "scenario.yaml", "summary.csv"} <= set(files)
    for rel, digest in files.items():
        assert sha256_file(run / rel) == digest
    assert files["records.csv"] == manifest["records_sha256"]
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_verify_reproduces_the_records(finished, cache_dir, capsys, workers):
    _, run = finished
    assert _verify([str(run), "--workers", workers, "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "REPRODUCED: identical records" in out


def test_changed_records_are_not_reproduced(finished, tmp_path, cache_dir, capsys):
    _, run = finished
    run = _copy(run, tmp_path)
    lines = (run / "records.csv").read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",", ",9", 1)
    (run / "records.csv").write_text("".join(lines))
    assert _verify([str(run), "--cache-dir", str(cache_dir)]) == 1
    out = capsys.readouterr().out
    assert "MODIFIED  records.csv" in out and "records.csv line 6" in out and "NOT REPRODUCED" in out


def test_a_modified_summary_is_reported(finished, tmp_path, cache_dir, capsys):
    _, run = finished
    run = _copy(run, tmp_path)
    (run / "summary.csv").write_text("doctored\n")
    assert _verify([str(run), "--cache-dir", str(cache_dir)]) == 1
    assert "summary.csv changed since the run" in capsys.readouterr().out


def test_what_cannot_be_verified_exits_2(finished, tmp_path, cache_dir, capsys):
    folder, run = finished
    partial = tmp_path / "x.partial"
    partial.mkdir()
    assert _verify([str(partial)]) == 2
    assert "did not finish" in capsys.readouterr().err
    assert _verify([str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert _verify([str(tmp_path / "nowhere")]) == 2
    # the network changed since the run: refuse rather than compare apples and pears
    copy = _copy(run, tmp_path)
    grid = folder / "grid.osm"
    saved = grid.read_bytes()
    try:
        write_grid_osm(grid, nx=9)
        assert _verify([str(copy), "--cache-dir", str(cache_dir)]) == 2
        assert "road network input changed" in capsys.readouterr().err
    finally:
        grid.write_bytes(saved)


def test_a_changed_scenario_file_is_rerun_from_the_stored_copy(finished, tmp_path, cache_dir, capsys):
    folder, run = finished
    scen = folder / "tiny.yaml"
    saved = scen.read_text()
    try:
        scen.write_text(saved.replace("seed: 7", "seed: 8"))
        assert _verify([str(run), "--workers", "2", "--cache-dir", str(cache_dir)]) == 0
        out = capsys.readouterr().out
        assert "re-running its stored copy in this process" in out and "REPRODUCED" in out
    finally:
        scen.write_text(saved)


def test_run_folder_is_partial_until_finished(tmp_path):
    partial, final = new_run_dir(tmp_path, "demo", 1)
    assert partial.name.endswith(".partial") and (partial / PARTIAL_NOTE).exists()
    assert final.name in (partial / PARTIAL_NOTE).read_text()
    finish_run_dir(partial, final)
    assert final.is_dir() and not partial.exists() and not (final / PARTIAL_NOTE).exists()


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "records.csv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as fh:
        fh.write("half of the new")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["records.csv"]
    with atomic_open(target) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) != 0o600


def test_another_process_writes_the_same_records(finished, tmp_path):
    import subprocess
    import sys

    folder, run = finished
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "run_sim.py"), "run", str(folder / "tiny.yaml"), "--out",
         str(tmp_path / "results"), "--no-plots", "--workers", "2"],
        capture_output=True, text=True, timeout=300,
        env={"POLICE_SIM_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr
    (other,) = (tmp_path / "results" / "tiny").iterdir()
    assert (other / "records.csv").read_bytes() == (run / "records.csv").read_bytes()
    mine = json.loads((run / "manifest.json").read_text())
    theirs = json.loads((other / "manifest.json").read_text())
    assert mine["records_sha256"] == theirs["records_sha256"]


def test_verify_reruns_a_compare_study(finished, tmp_path, cache_dir, capsys):
    folder, _ = finished
    assert main(["compare", str(folder / "tiny.yaml"), "--out", str(tmp_path / "results"),
                 "--workers", "1", "--reps", "2"]) == 0
    (study,) = (tmp_path / "results" / "tiny").iterdir()
    capsys.readouterr()
    assert _verify([str(study)]) == 0
    assert "REPRODUCED" in capsys.readouterr().out
