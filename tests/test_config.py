"""Scenario validation: every problem gets one message with file, key path and line."""

from pathlib import Path

import pytest
import yaml

from sim.cli.main import main
from sim.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario


def _mutate(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    assert old in text, old
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, count), encoding="utf-8")
    return bad


def _line_of(path: Path, fragment: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return i
    raise AssertionError(fragment)


def test_default_scenario_is_valid():
    loaded = load_scenario(DEFAULT_SCENARIO)
    s = loaded.scenario
    assert s.zones.targets == {"key": 60.0, "central": 180.0, "other": 300.0}
    assert len(s.layouts["grid_platforms_2017"].platforms) == 10
    for p in s.layouts["grid_platforms_2017"].platforms:
        assert p.units == {"platform_vehicle": 1, "patrol_car": 2, "patrol_motorcycle": 4}
    assert 90 <= s.demand.incidents_per_day <= 100
    assert len(s.layouts) >= 2
    # the resolved scenario round-trips: writing it back gives the same validated scenario
    resolved = yaml.safe_load(yaml.safe_dump(loaded.resolved(), allow_unicode=True))
    assert type(s).model_validate(resolved) == s


@pytest.mark.parametrize(("old", "new", "key", "fragment", "line_fragment"), [
    ('mean: "75 s", cv', 'mean: "5 minits", cv', "call_handling.mean",
     "unknown duration unit 'minits'", "call_handling:"),
    ("  snap_tolerance:", "  snap_tolerence:", "network.snap_tolerence",
     "did you mean 'snap_tolerance'", "snap_tolerence"),
    ("incidents_per_day: 95", "incidents_per_day: -3", "demand.incidents_per_day",
     "greater than 0", "incidents_per_day"),
    ("units: {station_car: 2}}", "units: {station_kar: 2}}", "units.station_kar",
     "did you mean 'station_car'", "S1 Daxiang"),
    ("  baseline: police_stations_pre2017", "  baseline: police_stations_1990", "run.baseline",
     "unknown layout 'police_stations_1990'", "baseline:"),
    ("  layouts: [police_stations_pre2017, grid_platforms_2017,",
     "  layouts: [police_stations_pre2017, grid_platforms_2071,", "run.layouts[1]",
     "did you mean 'grid_platforms_2017'", "layouts: [police"),
    ("  replications: 5", "  replications: five", "run.replications", "valid integer", "replications:"),
    ("clock: dispatch", "clock: arrival", "zones.clock", "'call' or 'dispatch'", "clock:"),
    ('turnout: "20 s"', "turnout: 20", "unit_types.patrol_car.turnout", "has no unit", "turnout: 20"),
])
def test_bad_values_name_key_and_line(tmp_path, old, new, key, fragment, line_fragment):
    bad = _mutate(tmp_path, old, new)
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    err = info.value
    assert key in str(err)
    assert fragment in str(err)
    assert err.file == str(bad)
    assert err.line == _line_of(bad, line_fragment)


def test_polygon_must_close(tmp_path):
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    lines = text.splitlines()
    # drop the closing point of the central-city ring
    idx = max(i for i, line in enumerate(lines) if line.strip() == "- [111.43969, 27.21468]")
    bad = tmp_path / "open.yaml"
    bad.write_text("\n".join(lines[:idx] + lines[idx + 1:]) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="does not close"):
        load_scenario(bad)


def test_shares_must_add_up(tmp_path):
    bad = _mutate(tmp_path, "share: 0.12,", "share: 0.22,")
    with pytest.raises(ScenarioError, match=r"add up to 1\.1"):
        load_scenario(bad)


def test_malformed_yaml_and_duplicate_keys(tmp_path):
    bad = _mutate(tmp_path, "clock: dispatch", "clock: [dispatch")
    with pytest.raises(ScenarioError, match="malformed YAML") as info:
        load_scenario(bad)
    assert info.value.line is not None
    dup = _mutate(tmp_path, "  clock: dispatch", "  clock: dispatch\n  clock: call")
    with pytest.raises(ScenarioError, match="appears twice") as info:
        load_scenario(dup)
    assert info.value.line == _line_of(dup, "clock: call")


def test_missing_file_and_not_a_mapping(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ScenarioError, match="YAML mapping"):
        load_scenario(tmp_path / "list.yaml")


def test_cli_prints_one_clear_message_and_exits_2(tmp_path, capsys):
    bad = _mutate(tmp_path, "incidents_per_day: 95", "incidents_per_day: -3")
    assert main(["validate", "--schema-only", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:{_line_of(bad, 'incidents_per_day')}: demand.incidents_per_day")
    assert "Traceback" not in err


def test_missing_layout_on_command_line(tmp_path, capsys, tiny_dir, cache_dir):
    code = main(["run", str(tiny_dir / "tiny.yaml"), "--layout", "nowhere", "--out", str(tmp_path)])
    assert code == 2
    assert "--layout nowhere: no such layout" in capsys.readouterr().err


def test_platform_off_the_network(tmp_path, capsys, tiny_dir, cache_dir):
    data = yaml.safe_load((tiny_dir / "tiny.yaml").read_text())
    data["layouts"]["one_post"]["platforms"][0]["lon"] += 0.05  # ~5 km east of the grid
    (tiny_dir / "far.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", str(tiny_dir / "far.yaml")]) == 2
    err = capsys.readouterr().err
    assert "layouts.one_post.platforms[0]" in err
    assert "from the nearest drivable road" in err
    assert "Traceback" not in err


def test_layout_inheritance_expands(tmp_path):
    s = load_scenario(DEFAULT_SCENARIO).scenario
    base = {p.name: p for p in s.layouts["grid_platforms_2017"].platforms}
    cars = s.layouts["grid_cars_only"].platforms
    assert [p.name for p in cars] == list(base)
    assert all(p.units == {"platform_vehicle": 1, "patrol_car": 2} for p in cars)
    moved = {p.name: p for p in s.layouts["grid_posts_at_key_locations"].platforms}
    assert moved["P02 Chengnan (城南)"].lon == 111.45990
    assert moved["P02 Chengnan (城南)"].units == base["P02 Chengnan (城南)"].units
    assert moved["P01 Old Town (老城区)"] == base["P01 Old Town (老城区)"]


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("    extends: grid_platforms_2017\n    description: The 10",
     "    extends: grid_cars_only\n    description: The 10", "cycle: grid_cars_only -> grid_cars_only"),
    ("    extends: grid_platforms_2017\n    description: The 10",
     "    extends: grid_platforms_2071\n    description: The 10", "did you mean 'grid_platforms_2017'"),
    ("    units: {patrol_motorcycle: 0}", "    units: {patrol_motorcycle: 0}\n    remove: [P99]",
     "unknown platform in layout 'grid_platforms_2017' 'P99'"),
    ("    units: {patrol_motorcycle: 0}", "    unit: {patrol_motorcycle: 0}", "did you mean 'units'"),
])
def test_layout_inheritance_errors(tmp_path, old, new, fragment):
    bad = _mutate(tmp_path, old, new)
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert fragment in str(info.value)
    assert "layouts.grid_cars_only" in str(info.value)
    assert info.value.line is not None


def test_extends_cycle_between_two_layouts(tmp_path):
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    text = text.replace("    extends: grid_platforms_2017\n    description: The 10",
                        "    extends: grid_posts_at_key_locations\n    description: The 10")
    text = text.replace("    extends: grid_platforms_2017\n    description: >\n      The 2017 layout",
                        "    extends: grid_cars_only\n    description: >\n      The 2017 layout")
    bad = tmp_path / "cycle.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(bad)
