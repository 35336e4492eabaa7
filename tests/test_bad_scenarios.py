"""The corpus of broken scenarios: one clear message (file, line, key path), exit 2, no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "data" / "bad_scenarios"
CASES = sorted(CORPUS.glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (.*?) \| (.*)$")


def expectation(path: Path) -> tuple[str, str, int]:
    """(key path, message fragment, line) from a case's header and its ``# <- error`` marker."""
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    match = _EXPECT.match(lines[1])
    assert match, f"{path.name}: second line must be '# expect: <key path> | <fragment>'"
    line = next((i for i, text in enumerate(lines, start=1) if "# <- error" in text), 1)
    return match.group(1), match.group(2), line


def assert_one_clean_error(err: str, path: Path) -> str:
    key, fragment, line = expectation(path)
    assert "Traceback" not in err
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"error: {path}:{line}: {key}: "), (errors[0], line, key)
    assert fragment in errors[0], (errors[0], fragment)
    return errors[0]


def test_the_corpus_is_big_and_covers_the_issue():
    names = {p.stem for p in CASES}
    assert len(CASES) >= 40
    for needed in ("yaml_unclosed_bracket", "type_replications_word", "rate_negative_demand",
                   "unknown_top_level_key", "unit_duration_typo", "platform_off_network",
                   "platform_in_river", "layout_empty", "zone_polygon_open", "zone_key_overlap",
                   "zone_precedence_order", "extends_cycle", "network_empty_file",
                   "network_truncated_file", "network_not_osm", "network_no_drivable_roads",
                   "size_billion_incidents", "size_century"):
        assert needed in names


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_scenario_gives_one_clear_message(path, cache_dir, capsys):
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert_one_clean_error(captured.err, path)


@pytest.mark.parametrize("name", ["yaml_unclosed_bracket", "unknown_top_level_key",
                                  "network_truncated_file", "size_century"])
def test_bad_scenario_through_the_script(name, tmp_path):
    path = CORPUS / f"{name}.yaml"
    proc = subprocess.run([sys.executable, str(ROOT / "run_sim.py"), "validate", str(path)],
                          capture_output=True, text=True, timeout=120,
                          env={"POLICE_SIM_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert_one_clean_error(proc.stderr, path)


def test_validate_refuses_a_platform_in_the_river(cache_dir, capsys):
    assert main(["validate", str(CORPUS / "platform_in_river.yaml")]) == 2


def test_river_width_from_the_tag_the_default_and_bridges(tmp_path, cache_dir):
    from sim.study.experiment import load_world
    from sim.world.checks import check_platforms_against_rivers, river_lines

    text = (CORPUS / "platform_in_river.yaml").read_text(encoding="utf-8")
    for f in ("river.osm",):
        (tmp_path / f).write_bytes((CORPUS / f).read_bytes())
    ok = tmp_path / "ok.yaml"
    ok.write_text(text.replace("lon: 111.464948", "lon: 111.470000"), encoding="utf-8")
    loaded = load_scenario(ok)
    net, _ = load_world(loaded, cache_dir)
    (river,) = river_lines(loaded, net)
    assert river.name == "Test River" and river.width_m == 60.0 and river.width_from == "OSM width tag"
    check_platforms_against_rivers(loaded, net)  # the valid positions pass
    # 20 m from the centre line of a 60 m river: in it
    near = tmp_path / "near.yaml"
    near.write_text(text.replace("lon: 111.464948", "lon: 111.465150"), encoding="utf-8")
    with pytest.raises(ScenarioError, match="is in the river 'Test River'"):
        check_platforms_against_rivers(load_scenario(near), net)
    # 40 m from it: on the bank
    bank = tmp_path / "bank.yaml"
    bank.write_text(text.replace("lon: 111.464948", "lon: 111.465352"), encoding="utf-8")
    check_platforms_against_rivers(load_scenario(bank), net)
    # on the street that crosses the river (a bridge): allowed
    bridge = tmp_path / "bridge.yaml"
    bridge.write_text(text.replace("lat: 27.240000, units: {car: 2}}", "lat: 27.238870, units: {car: 2}}"),
                      encoding="utf-8")
    check_platforms_against_rivers(load_scenario(bridge), net)
    # without a width tag the scenario's river_width applies
    (tmp_path / "river.osm").write_text((CORPUS / "river.osm").read_text().replace(
        '<tag k="width" v="60"/>', ""), encoding="utf-8")
    wide = tmp_path / "wide.yaml"
    wide.write_text(text.replace("lon: 111.464948", "lon: 111.465352").replace(
        '  snap_tolerance: "300 m"', '  snap_tolerance: "300 m"\n  river_width: "100 m"'), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"from network\.river_width"):
        load_world(load_scenario(wide), cache_dir)  # loading the world runs the river check


def test_the_default_scenario_has_no_platform_in_a_river():
    """Every post of every default layout against the synthetic rivers (no network needed)."""
    from types import SimpleNamespace

    import numpy as np

    from sim.network.graph import LocalFrame
    from sim.network.synth import synthetic_features
    from sim.scenario import DEFAULT_SCENARIO
    from sim.world.checks import check_platforms_against_rivers, river_lines

    loaded = load_scenario(DEFAULT_SCENARIO)
    empty = np.zeros(0)
    net = SimpleNamespace(rivers=synthetic_features()["rivers"], frame=LocalFrame(111.47, 27.24),
                          x=empty, y=empty, edge_u=np.zeros(0, dtype=int), edge_v=np.zeros(0, dtype=int),
                          n_edges=0)
    assert sorted(round(r.width_m) for r in river_lines(loaded, net)) == [100, 200]
    check_platforms_against_rivers(loaded, net)


def test_overlapping_key_locations_are_fine_with_a_rule(tmp_path):
    text = (CORPUS / "zone_key_overlap.yaml").read_text(encoding="utf-8")
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(text.replace("  clock: dispatch", "  clock: dispatch\n  key_overlap: nearest"),
                     encoding="utf-8")
    assert load_scenario(fixed).scenario.zones.key_overlap == "nearest"


def test_budget_estimate_and_overrides(tmp_path):
    from sim.quantities import parse_memory
    from sim.scenario import check_budget, estimate_run

    base = (CORPUS / "rate_zero_demand.yaml").read_text(encoding="utf-8").replace(
        "incidents_per_day: 0", "incidents_per_day: 1000")
    path = tmp_path / "ok.yaml"
    path.write_text(base, encoding="utf-8")
    loaded = load_scenario(path)
    est = estimate_run(loaded.scenario)
    assert est.incidents == pytest.approx(1000 * 3 * 2 * 2)  # per day x days x reps x layouts
    assert est.events == pytest.approx(3 * est.incidents)
    assert est.memory_bytes == pytest.approx(250 * est.incidents)
    assert check_budget(loaded).incidents == est.incidents
    with pytest.raises(ScenarioError) as info:
        check_budget(loaded, max_events=1e3)
    assert "run.budget" in str(info.value) and "too big" in str(info.value)
    with pytest.raises(ScenarioError):
        check_budget(loaded, variants=4, max_memory=parse_memory("10 MB"))
    assert parse_memory("4 GB") == 4e9 and parse_memory("1 GiB") == 2**30 and parse_memory("512MB") == 512e6
    for bad in ("4", "four GB", "4 gigs", "-1 GB"):
        with pytest.raises(ValueError):
            parse_memory(bad)


NEW_CASES = ("layout_cannot_send_enough", "zone_polygon_crosses_itself", "zone_polygon_no_road",
             "hotspot_no_road_nearby", "hotspot_other_side_of_earth", "key_location_same_name",
             "network_path_is_folder", "network_path_is_device", "yaml_alias_bomb")


def test_the_corpus_covers_scenarios_that_mean_nothing():
    names = {p.stem for p in CASES}
    assert set(NEW_CASES) <= names


def _broken_in_many_ways(tmp_path: Path) -> Path:
    """The valid tiny scenario with five independent problems, on lines found by their text."""
    (tmp_path / "grid.osm").write_bytes((CORPUS / "grid.osm").read_bytes())
    text = (CORPUS / "zone_polygon_open.yaml").read_text(encoding="utf-8").split("\n", 2)[2]
    text = text.replace("    - [111.463938, 27.243617]  # <- error\n",
                        "    - [111.463938, 27.243617]\n    - [111.463938, 27.236383]\n")
    text = text.replace('turnout: "30 s"', 'turnout: "30 sex"')  # schema: a unit typo
    text = text.replace("    share: 0.7\n", "    share: 0.6\n")  # rule: shares add up to 0.9
    text = text.replace("  warmup: \"6 h\"", "  warmup: \"4 d\"")  # rule: warm-up longer than the run
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_independent_problems_are_all_reported_in_one_run(tmp_path, cache_dir, capsys):
    path = _broken_in_many_ways(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, t in enumerate(lines, start=1) if fragment in t)

    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [x for x in err.splitlines() if x.startswith("error:")]
    assert errors == sorted(errors, key=lambda e: int(e.split(":")[2])), errors
    expected = [(line_of('turnout: "30 sex"'), "unit_types.car.turnout"),
                (line_of("incident_types:"), "incident_types"),
                (line_of('warmup: "4 d"'), "run.warmup")]
    assert [(int(e.split(":")[2]), e.split(": ")[2]) for e in errors] == expected, errors
    assert "3 problems" in err


def test_network_checks_run_beside_problems_in_other_sections(tmp_path, cache_dir, capsys):
    """A warm-up too long (run section) and a hotspot off the map (a network check): both."""
    path = _broken_in_many_ways(tmp_path)
    text = path.read_text(encoding="utf-8").replace('turnout: "30 sex"', 'turnout: "30 s"').replace(
        "    share: 0.6\n", "    share: 0.7\n").replace(
        "lon: 111.470000, lat: 27.240000, sigma", "lon: 112.470000, lat: 27.240000, sigma")
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert [e.split(": ")[2] for e in errors] == ["demand.hotspots[0]", "run.warmup"], errors
    assert main(["validate", "--schema-only", str(path)]) == 2  # no network: the rule alone
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert [e.split(": ")[2] for e in errors] == ["run.warmup"], errors


def test_network_problems_are_all_reported_in_one_run(tmp_path, cache_dir, capsys):
    """A platform off the roads in each layout, a hotspot off the map and a central city
    without roads: four lines, one run."""
    (tmp_path / "grid.osm").write_bytes((CORPUS / "grid.osm").read_bytes())
    text = (CORPUS / "zone_polygon_no_road.yaml").read_text(encoding="utf-8")
    text = text.replace("lon: 111.520000", "lon: 111.470000")
    text = text.replace("lon: 111.463685", "lon: 111.363685").replace(
        "{name: Centre, lon: 111.470000, lat: 27.240000, units", "{name: Centre, lon: 111.570000, "
        "lat: 27.240000, units").replace("lon: 111.470000, lat: 27.240000, sigma",
                                          "lon: 111.900000, lat: 27.240000, sigma")
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    keys = [e.split(": ")[2] for e in errors]
    assert keys == ["zones.central_city", "demand.hotspots[0]", "layouts.two_posts.platforms[0]",
                    "layouts.one_post.platforms[0]"], errors


def test_an_inherited_platform_is_reported_where_it_was_placed(tmp_path, cache_dir):
    """A child layout that inherits a post off the roads, and one that moves it off the roads:
    each message names the line that placed the post (the parent's, then the child's)."""
    (tmp_path / "grid.osm").write_bytes((CORPUS / "grid.osm").read_bytes())
    text = (CORPUS / "platform_off_network.yaml").read_text(encoding="utf-8").replace(
        "  # <- error", "")
    text = text.replace("run:\n", "  child:\n    extends: one_post\n    units: {car: 1}\n"
                        "  moved:\n    extends: two_posts\n    platforms:\n"
                        "      - {name: East, lon: 111.576315}\n"
                        "run:\n  layouts: [two_posts]\n")
    path = tmp_path / "inherit.yaml"
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    parent_line = next(i for i, t in enumerate(lines, 1) if "lon: 111.520518" in t)
    moved_line = next(i for i, t in enumerate(lines, 1) if "lon: 111.576315" in t)
    from sim.study.experiment import load_world

    with pytest.raises(ScenarioError) as info:
        load_world(load_scenario(path), cache_dir)
    got = {(p.loc, p.line) for p in info.value.problems}
    assert got == {(("layouts", "one_post", "platforms", 0), parent_line),
                   (("layouts", "child", "platforms", 0), parent_line),
                   (("layouts", "moved", "platforms", 1), moved_line)}, got


def test_scenario_input_is_bounded(tmp_path, monkeypatch, capsys):
    """/dev/zero and a big file stop at the byte limit; the limits move with the environment."""
    assert main(["validate", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "more than 8 MB" in err and "Traceback" not in err
    ok = CORPUS / "rate_zero_demand.yaml"
    monkeypatch.setenv("POLICE_SIM_MAX_SCENARIO_BYTES", "1 kB")
    with pytest.raises(ScenarioError, match="more than 1 kB"):
        load_scenario(ok)
    monkeypatch.setenv("POLICE_SIM_MAX_SCENARIO_BYTES", "lots")
    with pytest.raises(ScenarioError, match="POLICE_SIM_MAX_SCENARIO_BYTES"):
        load_scenario(ok)
    monkeypatch.delenv("POLICE_SIM_MAX_SCENARIO_BYTES")
    monkeypatch.setenv("POLICE_SIM_MAX_YAML_VALUES", "50")
    with pytest.raises(ScenarioError, match="more than 50 values"):
        load_scenario(ok)
    monkeypatch.setenv("POLICE_SIM_MAX_YAML_VALUES", "100000")
    with pytest.raises(ScenarioError, match=r"greater than 0"):  # the file's own problem
        load_scenario(ok)
