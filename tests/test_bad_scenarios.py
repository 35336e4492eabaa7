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
