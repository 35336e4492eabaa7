"""``optimize`` and ``size`` end to end on the default scenario, and the planner's matrix mode."""

from __future__ import annotations

import csv
import json

import pytest

from sim.cli.main import main
from sim.scenario import load_scenario


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    out = tmp_path_factory.mktemp("opt")
    rc = main(["optimize", "--objective", "coverage", "--platforms", "10", "--spacing", "800 m",
               "--out", str(out)])
    assert rc == 0
    return out


def test_optimize_writes_a_scenario_that_compare_runs(optimized, tmp_path, capsys):
    loaded = load_scenario(optimized / "optimized.yaml")
    s = loaded.scenario
    assert s.run.layouts == ["grid_platforms_2017", "optimized_coverage_10"]
    assert len(s.layouts["optimized_coverage_10"].platforms) == 10
    report = json.loads((optimized / "optimize.json").read_text())
    stat = report["static"][0]
    assert stat["status"] == "optimal" and stat["gap"] == 0
    assert set(stat["covered_share_by_group"]) == {"key", "central", "other"}
    rc = main(["compare", str(optimized / "optimized.yaml"), "--days", "1.2", "--reps", "1",
               "--workers", "1", "--out", str(tmp_path)])
    assert rc == 0
    assert "optimized_coverage_10" in capsys.readouterr().out


def test_keep_adds_platforms_to_an_existing_layout(tmp_path):
    rc = main(["optimize", "--keep", "grid_platforms_2017", "--platforms", "2", "--spacing", "800 m",
               "--out", str(tmp_path)])
    assert rc == 0
    s = load_scenario(tmp_path / "optimized.yaml").scenario
    name = "grid_platforms_2017_plus_2_coverage"
    old = {p.name for p in s.layouts["grid_platforms_2017"].platforms}
    new = s.layouts[name].platforms
    assert len(new) == 12 and old <= {p.name for p in new}
    with open(tmp_path / "optimize.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(r["kept"] == "True" for r in rows) == 10


def test_matrix_mode_hand_worked(tmp_path, capsys):
    # sites A, B, C; demand d1..d4. Within 3 min: A covers d1, d2; B covers d2, d3, d4; C covers d4.
    # weights 5, 1, 1, 1: with one site B covers 3 of 8, A covers 6 of 8 -> A.
    rows = [("A", "d1", 60), ("A", "d2", 170), ("A", "d3", 400), ("B", "d2", 100), ("B", "d3", 150),
            ("B", "d4", 179), ("C", "d4", 10), ("C", "d1", 500)]
    m = tmp_path / "m.csv"
    m.write_text("site,demand,travel_s\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    w = tmp_path / "w.csv"
    w.write_text("demand,weight\nd1,5\nd2,1\nd3,1\nd4,1\n")
    rc = main(["optimize", "--matrix", str(m), "--demand-weights", str(w), "--radius", "3 min",
               "--platforms", "1", "--out", str(tmp_path / "o")])
    assert rc == 0
    report = json.loads((tmp_path / "o" / "optimize.json").read_text())
    assert report["sites"] == ["A"] and report["covered_share"] == pytest.approx(6 / 8)
    rc = main(["optimize", "--matrix", str(m), "--objective", "min-platforms", "--radius", "3 min",
               "--out", str(tmp_path / "o2")])
    assert rc == 0  # d1 needs A, d3 needs B: two sites
    assert json.loads((tmp_path / "o2" / "optimize.json").read_text())["sites"] == ["A", "B"]
    assert main(["optimize", "--matrix", str(m), "--radius", "500 m", "--platforms", "1",
                 "--out", str(tmp_path / "o3")]) == 2
    assert "does not match the matrix column travel_s" in capsys.readouterr().err


def test_bad_matrix_file_names_the_line(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("site,demand,travel_s\nA,d1,60\nA,d2,soon\n")
    assert main(["optimize", "--matrix", str(m), "--radius", "3 min", "--platforms", "1",
                 "--out", str(tmp_path)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_size_reports_each_step_and_an_unreachable_goal(tmp_path, capsys):
    rc = main(["size", "--goal", "central>=0.99", "--layout", "grid_cars_only", "--start", "1",
               "--max", "2", "--days", "1.5", "--reps", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "size_patrol_car_1" in out and "size_patrol_car_2" in out
    assert "no step meets every goal; best lower CI bounds reached: central" in out
    assert (tmp_path / "size.csv").exists()


@pytest.mark.slow
def test_simulate_selects_with_a_stated_pcs(tmp_path, capsys):
    rc = main(["optimize", "--platforms", "10", "--spacing", "1500 m", "--simulate", "2", "--days", "1.5",
               "--n0", "3", "--max-reps", "6", "--out", str(tmp_path)])
    assert rc == 0
    sel = json.loads((tmp_path / "optimize.json").read_text())["selection"]
    names = [r["layout"] for r in sel["layouts"]]
    assert sel["chosen"] in names and sel["pcs"] == 0.95 and sel["delta"] == 0.01
    assert {"optimized_coverage_10_1", "optimized_coverage_10_2", "grid_platforms_2017"} <= set(names)
    assert sel["replications_spent"] == sum(r["replications"] for r in sel["layouts"])
    chosen = next(r for r in sel["layouts"] if r["layout"] == sel["chosen"])
    assert chosen["simulated_compliance"] == max(r["simulated_compliance"] for r in sel["layouts"]
                                                 if r["replications"] == chosen["replications"])
    out = capsys.readouterr().out
    assert "probability of correct selection >= 0.95" in out and "static cov" in out



def test_layout_change_map_and_brief_section(optimized):
    from sim.brief.optimize_section import optimize_figure, optimize_summary

    assert (optimized / "layout_change.png").stat().st_size > 10_000
    assert (optimized / "layout_change_zh.png").stat().st_size > 10_000
    ch = json.loads((optimized / "optimize.json").read_text())["change"]
    # after = before + gained - lost, whatever the sites
    assert ch["covered_after"] == pytest.approx(ch["covered_before"] + ch["gained"] - ch["lost"])
    # the static covered share of the solution is the map's "after" (same times and targets)
    stat = json.loads((optimized / "optimize.json").read_text())["static"][0]
    assert ch["covered_after"] == pytest.approx(stat["covered_share"], abs=1e-9)
    assert len(ch["kept"]) + len(ch["moved"]) + len(ch["new"]) == 10
    scenario = load_scenario(optimized / "optimized.yaml").scenario
    en = optimize_summary(optimized / "optimized.yaml", scenario, "en")
    zh = optimize_summary(optimized / "optimized.yaml", scenario, "zh")
    assert len(en) == len(zh) >= 3
    assert f"{100 * stat['covered_share']:.1f}%" in en[0]
    assert "layout_change_zh.png" in zh[-1] and "layout_change.png" in en[-1]
    assert optimize_summary(optimized / "nowhere" / "x.yaml", scenario, "en") == []
    fig = optimize_figure(optimized / "optimized.yaml", scenario, "zh")
    assert fig is not None and fig.files == [optimized / "layout_change_zh.png"]
    assert fig.preview[:8] == b"\x89PNG\r\n\x1a\n"
    assert optimize_figure(optimized / "nowhere" / "x.yaml", scenario, "en") is None


def test_max_moves_needs_by_period(tmp_path, capsys):
    assert main(["optimize", "--platforms", "2", "--max-moves", "2", "--out", str(tmp_path)]) == 2
    assert "--max-moves needs --by-period" in capsys.readouterr().err
