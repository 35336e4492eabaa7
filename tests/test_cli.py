"""End to end through the command line on a small generated network."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"scenario.yaml", "scenario.resolved.yaml", "manifest.json", "records.csv",
            "replications.csv", "summary.csv", "summary.json", "layout_map.png",
            "response_times.png"}


def _only_run(out: Path) -> Path:
    runs = [p for p in (out / "tiny").iterdir()]
    assert len(runs) == 1 and not runs[0].name.endswith(".partial")
    return runs[0]


def test_run_writes_every_output(tiny_dir, cache_dir, capsys):
    out = tiny_dir / "results"
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(out), "--days", "2"]) == 0
    run = _only_run(out)
    assert {p.name for p in run.iterdir()} >= EXPECTED
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["replications"] == 2
    assert manifest["layouts"] == ["two_posts", "one_post"]
    assert manifest["duration_s"] == 2 * 86400
    assert len(manifest["inputs"]["scenario_sha256"]) == 64
    assert len(manifest["inputs"]["network_input_sha256"]) == 64
    assert len(manifest["records_sha256"]) == 64
    assert {"simpy", "numpy", "osmnx", "python"} <= set(manifest["versions"])
    assert manifest["runtime_s"]["total_s"] > 0
    summary = json.loads((run / "summary.json").read_text())
    assert {(r["layout"], r["zone"]) for r in summary} == {
        (lay, z) for lay in ("two_posts", "one_post") for z in ("key", "central", "other", "all")}
    printed = capsys.readouterr().out
    assert "within target" in printed and "two_posts" in printed
    assert "duration: 2 d" not in (run / "scenario.resolved.yaml").read_text()
    assert "duration: 172800 s" in (run / "scenario.resolved.yaml").read_text()


def test_workers_give_identical_records(tiny_dir, cache_dir):
    a, b = tiny_dir / "a", tiny_dir / "b"
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(a), "--no-plots"]) == 0
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(b), "--no-plots",
                 "--workers", "2"]) == 0
    ra, rb = _only_run(a), _only_run(b)
    assert (ra / "records.csv").read_bytes() == (rb / "records.csv").read_bytes()
    ma = json.loads((ra / "manifest.json").read_text())
    mb = json.loads((rb / "manifest.json").read_text())
    assert ma["records_sha256"] == mb["records_sha256"]


def test_script_help_and_bad_input_exit_codes(tiny_dir, tmp_path):
    help_ = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "run", "--help"],
                           capture_output=True, text=True, check=True)
    assert "--layout" in help_.stdout and "--reps" in help_.stdout and "--days" in help_.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((tiny_dir / "tiny.yaml").read_text().replace("incidents_per_day: 40.0",
                                                                "incidents_per_day: lots"))
    proc = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "demand.incidents_per_day" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content", ["", "<osm version='0.6'>", "not xml at all",
                                     "<osm version='0.6'><node id='1' lat='0' lon='0'/></osm>"])
def test_broken_network_files_fail_cleanly(tiny_dir, cache_dir, capsys, content):
    (tiny_dir / "grid.osm").write_text(content)
    assert main(["validate", str(tiny_dir / "tiny.yaml")]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: {tiny_dir / 'tiny.yaml'}:") and "Traceback" not in err
    assert "network.path: road network:" in last


def test_readme_documents_every_record_field_and_metric():
    from sim.analysis.metrics import METRICS
    from sim.types import FIELDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, meaning in (*FIELDS, *METRICS):
        assert f"| `{name}` | {meaning} |" in readme, name


def test_ctrl_c_during_a_run_keeps_the_pieces_and_resume_finishes_it(tiny_dir, cache_dir, capsys,
                                                                     monkeypatch):
    import sim.study.experiment as experiment

    real = experiment.simulate
    calls = {"n": 0}

    def interrupted_on_the_third(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    out = tiny_dir / "results"
    args = ["run", str(tiny_dir / "tiny.yaml"), "--out", str(out), "--no-plots"]
    monkeypatch.setattr(experiment, "simulate", interrupted_on_the_third)
    assert main(args) == 130
    err = capsys.readouterr().err
    (partial,) = (out / "tiny").glob("*.partial")
    assert f"2 finished run(s) are saved in {partial}" in err
    assert f"--resume {partial}" in err and "Traceback" not in err
    monkeypatch.setattr(experiment, "simulate", real)
    assert main([*args, "--resume", str(partial)]) == 0
    final = partial.with_name(partial.name.removesuffix(".partial"))
    assert final.is_dir() and not partial.exists()
    clean = tiny_dir / "clean"
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(clean), "--no-plots"]) == 0
    assert (final / "records.csv").read_bytes() == (_only_run(clean) / "records.csv").read_bytes()


def _cli_error(argv: list[str], capsys) -> str:
    """Run the CLI expecting exit code 2 and no traceback; the error output."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--seed", "-5"], "a seed is a whole number from 0"),
    (["run", "--seed", str(2**63)], "a seed is a whole number from 0"),
    (["compare", "--workers", "0"], "must be at least 1"),
    (["sweep", "--workers", "-2"], "must be at least 1"),
    (["compare", "--max-reps", "0", "--ci-target", "1"], "must be at least 1"),
])
def test_bad_command_line_values_are_refused_before_anything_runs(argv, fragment, tiny_dir, capsys):
    out = tiny_dir / "results"
    err = _cli_error([*argv[:1], str(tiny_dir / "tiny.yaml"), *argv[1:], "--out", str(out)], capsys)
    assert fragment in err
    assert not out.exists()  # no .partial folder


def test_an_out_folder_that_is_a_file_or_not_writable(tiny_dir, capsys):
    a_file = tiny_dir / "taken"
    a_file.write_text("x")
    err = _cli_error(["run", str(tiny_dir / "tiny.yaml"), "--out", str(a_file)], capsys)
    assert "is a file, not a folder" in err
    err = _cli_error(["run", str(tiny_dir / "tiny.yaml"), "--out", str(a_file / "below")], capsys)
    assert "is a file, so no folder can be made there" in err
    locked = tiny_dir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if not os.access(locked, os.W_OK):  # (root writes anywhere)
            err = _cli_error(["run", str(tiny_dir / "tiny.yaml"), "--out", str(locked / "r")], capsys)
            assert "cannot write in" in err
    finally:
        locked.chmod(0o700)
    if Path("/proc").is_dir():  # a folder no one can create, even root: refused at creation
        assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", "/proc/results", "--days", "1"]) == 2
        err = capsys.readouterr().err
        assert "cannot create the results folder there" in err and "Traceback" not in err


def test_max_reps_needs_a_ci_target_and_resume_needs_a_run(tiny_dir, cache_dir, capsys):
    tiny = str(tiny_dir / "tiny.yaml")
    assert main(["compare", tiny, "--max-reps", "3", "--out", str(tiny_dir / "r")]) == 2
    assert "--max-reps limits --ci-target" in capsys.readouterr().err
    plain = tiny_dir / "plain"
    plain.mkdir()
    assert main(["compare", tiny, "--resume", str(plain), "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert "not an interrupted run" in err and "Traceback" not in err
    fake = tiny_dir / "x.partial"
    fake.mkdir()
    assert main(["compare", tiny, "--resume", str(fake), "--days", "1"]) == 2
    assert "holds neither" in capsys.readouterr().err


def test_few_replications_warn_with_the_width_of_the_interval(tiny_dir, cache_dir, capsys):
    from sim.cli.checks import few_replications_warning

    assert few_replications_warning(5) is None and few_replications_warning(40) is None
    # t quantiles (0.975) from tables: 12.706 for 1 degree of freedom, 4.303 for 2
    assert "12.7 standard errors" in few_replications_warning(2)
    assert "4.3 standard errors" in few_replications_warning(3)
    assert "no confidence interval" in few_replications_warning(1)
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(tiny_dir / "r"), "--days", "1",
                 "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "warning: only 2 replication(s)" in err and "--reps 5" in err and "--ci-target" in err
    assert main(["run", str(tiny_dir / "tiny.yaml"), "--out", str(tiny_dir / "r5"), "--days", "1",
                 "--no-plots", "--reps", "5"]) == 0
    assert "warning: only" not in capsys.readouterr().err


def test_pairs_count_only_the_replications_used():
    import math

    from sim.analysis.metrics import paired_differences

    nan = math.nan
    rows = [{"layout": lay, "zone": "key", "replication": r, "compliance": c}
            for lay, values in (("A", [0.5, 0.6, nan, 0.7]), ("B", [0.6, nan, 0.8, 0.9]))
            for r, c in enumerate(values)]
    (d,) = paired_differences(rows, "A")
    # replications 0 and 3 have both sides: differences 0.1 and 0.2
    assert d["pairs"] == 2 and d["compliance_diff"] == pytest.approx(0.15)
