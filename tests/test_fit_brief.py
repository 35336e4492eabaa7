"""The brief's call-log section: the fit report (tables and figures) and the replayed log, in the
HTML and the PDF brief, in English and Chinese.

The fit report comes from a real fit of a small synthetic log; expected cells are read from its
``fit_report.json`` (what ``fit`` wrote), not from the brief code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from sim.brief.content import block_text
from sim.brief.fit_report import write_fit_report
from sim.brief.fit_section import fit_blocks, fit_figures
from sim.brief.html import render_html
from sim.brief.pdf import render_pdf
from sim.history.calls import history_spec, read_calls
from sim.history.fit import fit_log, prepare_for_log, write_fitted
from sim.history.synth_log import SynthOptions, write_synthetic
from sim.scenario import load_scenario


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("fitbrief")
    paths = write_synthetic(folder / "log", SynthOptions(days=7, per_day=150))
    truth = load_scenario(paths["truth"])
    spec = history_spec(truth)
    net, world = prepare_for_log(truth, spec, None)
    log = read_calls(paths["calls"], spec, truth.scenario, net)
    fit = fit_log(truth, log, world, spec=spec)
    out = write_fitted(truth, fit, world, folder / "fitted" / "city_fitted.yaml")
    write_fit_report(out.parent, fit, figures=False)
    report = json.loads((out.parent / "fit_report.json").read_text(encoding="utf-8"))
    return {"scenario": out, "report": report, "calls": Path(paths["calls"]), "log": log}


def _results(fitted: dict, folder: Path, *, replay: dict | None = None, sha: str | None = None):
    text = fitted["scenario"].read_bytes()
    manifest = {"inputs": {"scenario_file": str(fitted["scenario"]),
                           "scenario_sha256": sha or hashlib.sha256(text).hexdigest()}}
    if replay:
        manifest["replay"] = replay
    return SimpleNamespace(manifest=manifest, folder=folder, run_id="test-run", replications_n=1,
                           scenario=SimpleNamespace(name="city_fitted"))


def _replay_note(fitted: dict) -> dict:
    log = fitted["log"]
    return {"replay": True, "calls_file_as_given": "logs/calls.csv", "calls_file": str(fitted["calls"]),
            "sha256": log.checksum, "timezone": "Europe/London", "first_day": "2025-03-29",
            "days": 3.0, "calls": len(log), "rows": log.rows_read, "rejected_rows": log.rejected_rows,
            "rejected_by_reason": log.counts_by_reason(), "on_scene_from_log_share": 0.9,
            "snap": {"calls": len(log), "median_m": 8.1, "p90_m": 22.0, "max_m": 61.0, "over_50_m": 3},
            "uneven_days": [{"day": "2025-03-30", "hours": 23.0}]}


def test_the_brief_embeds_the_fit_report_tables_and_figures(fitted: dict, tmp_path: Path) -> None:
    results = _results(fitted, tmp_path)
    r = fitted["report"]
    figs = fit_figures(results, "en")
    assert [f.name for f in figs] == ["fit_hour_of_week", "fit_qq", "fit_travel"]
    assert all(f.files[0].is_file() and f.preview.startswith(b"\x89PNG") for f in figs)
    blocks = fit_blocks(results, "en", figs, first_number=7)
    grids = [p for k, p in blocks if k == "grid"]
    on_scene = next(g for g in grids if "AIC gamma" in g[0])
    assert [row[0] for row in on_scene[1]] == list(r["on_scene"])
    for row in on_scene[1]:
        f = r["on_scene"][row[0]]
        assert row[1] == str(r["type_counts"][row[0]]) and row[4] == f["chosen"]
    speeds = next(g for g in grids if g[0][0] == "road class" and len(g[0]) == 3)
    assert {row[0]: row[1] for row in speeds[1]} == {
        c: f"{v * 3.6:.1f} km/h" for c, v in r["travel"]["speeds"].items()}
    errors = next(g for g in grids if "MAE before" in g[0])
    a = r["travel"]["errors"]["all"]
    assert errors[1][0][:4] == ["all", str(a["before"]["n"]), f"{a['before']['mae_s']:.1f}",
                                f"{a['after']['mae_s']:.1f}"]
    captions = [p[1] for k, p in blocks if k == "figure"]
    assert captions[0].startswith("Figure 7. ") and captions[2].startswith("Figure 9. ")
    page = render_html(blocks, lang="en", title="t")
    for name in ("fit_hour_of_week", "fit_qq", "fit_travel"):
        assert f'<figure id="{name}"><img src="data:image/png;base64,' in page
    assert "Type mix and on-scene times" in page and "Fitted to the city&#x27;s call log" in page
    pdf = tmp_path / "brief.pdf"
    assert render_pdf(blocks, pdf, title="t", footer="f", page_label="page {n}") >= 4  # text + 3 figures
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Travel-time error before and after" in text and "Figure 8." in text


def test_the_chinese_brief_has_the_same_section(fitted: dict, tmp_path: Path) -> None:
    results = _results(fitted, tmp_path, replay=_replay_note(fitted))
    figs = fit_figures(results, "zh")
    assert [f.files[0].name for f in figs] == ["fit_hour_of_week_zh.png", "fit_qq_zh.png",
                                               "fit_travel_zh.png"]
    blocks = fit_blocks(results, "zh", figs, first_number=1)
    text = block_text(blocks)
    assert "回放的接警记录" in text and "按本市接警记录拟合" in text and "图 1. " in text
    assert "2025-03-30 在 Europe/London 有 23 小时" in text and "-1 小时" in text
    pdf = tmp_path / "zh.pdf"
    assert render_pdf(blocks, pdf, title="t", footer="f", page_label="第 {n} 页") >= 4


def test_the_replay_part_names_the_log_its_rejected_rows_and_snaps(fitted: dict, tmp_path: Path) -> None:
    note = _replay_note(fitted)
    blocks = fit_blocks(_results(fitted, tmp_path, replay=note), "en", [], first_number=1)
    text = block_text(blocks)
    assert "logs/calls.csv (as given; sha256 " + note["sha256"][:16] in text
    assert "median 8.1 m, P90 22 m, max 61 m; 3 more than 50 m away" in text
    assert "2025-03-30 has 23 hours" in text and "-1 h from local time" in text
    problem_tables = [p for k, p in blocks if k == "grid" and p[0][0] == "reason"]
    assert len(problem_tables) == 1  # the same log: its problems are listed once
    assert {row[0]: int(row[1]) for row in problem_tables[0][1]} == fitted["log"].counts_by_reason()
    assert sum(int(row[1]) for row in problem_tables[0][1]) == len(fitted["log"].problems)


def test_a_fit_report_newer_than_the_run_is_left_out(fitted: dict, tmp_path: Path) -> None:
    results = _results(fitted, tmp_path, sha="0" * 64)  # the scenario file changed since the run
    assert fit_figures(results, "en") == []
    assert fit_blocks(results, "en", [], first_number=1) == []
