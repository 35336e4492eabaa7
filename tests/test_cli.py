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
