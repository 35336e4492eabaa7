"""The whole-city scenario (scenarios/shaoyang_city.yaml): its content, and (slow) one short run
with the rural columns on the current engine's records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.scenario import load_scenario

CITY = Path(__file__).resolve().parent.parent / "scenarios" / "shaoyang_city.yaml"


def test_city_scenario_has_33_platforms_and_marks_the_synthetic_parts():
    loaded = load_scenario(CITY)
    s = loaded.scenario
    layout = s.layouts["city_2017"]
    platforms = [p for p in layout.platforms if p.units.get("platform_vehicle", 0) > 0]
    assert len(platforms) == 33
    assert sum(p.name.startswith("P") for p in platforms) == 10  # urban grid platforms
    assert sum(p.name.startswith("SD") and "county town" in p.name for p in platforms) == 3
    assert s.network.synthetic == "city" and "track" in s.network.speeds
    assert s.rural is not None and "public descriptions" in s.rural.note
    assert s.rural.officer.role == "village_auxiliary"
    assert s.rural.without_officers == ["city_2017_without_village_officers"]
    text = CITY.read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "PUBLIC DESCRIPTIONS" in text


@pytest.mark.slow
def test_short_city_run_gives_consistent_rural_records(tmp_path):
    from sim.analysis.rural import first_presence_s
    from sim.engine.core import Engine
    from sim.engine.invariants import check_result
    from sim.study.experiment import RunOptions, apply_overrides, load_world
    from sim.world.demand import generate_incidents

    loaded = apply_overrides(load_scenario(CITY), RunOptions(duration_s=3 * 86400.0))
    net, world = load_world(loaded, tmp_path / "cache")
    s = world.scenario
    assert len(world.rural.officers.village) == 300
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    res = Engine(world, "city_2017", inc, presence=False).run()
    check_result(res, world.fleets["city_2017"], expected_incidents=len(inc), work_conserving=False)
    t = {n: res.records.column(n) for n in res.records.columns}
    attended = ~np.isnan(t["officer_arrival_s"])
    assert attended.any()
    assert (t["village"][attended] >= 0).all()
    assert set(t["incident_type"][attended]) <= set(s.rural.officer.first_on)
    closed = t["officer_closed"].astype(bool)
    assert closed.any() and set(t["incident_type"][closed]) <= set(s.rural.officer.closes)
    assert (t["unit"][closed] == "").all() and (t["outcome"][closed] == "closed_by_officer").all()
    assert (t["officer_arrival_s"][attended] >= t["call_s"][attended] - 1e-9).all()
    presence = first_presence_s(t)
    police = t["arrival_s"] - t["call_s"]
    ok = ~np.isnan(police)
    assert (presence[ok] <= police[ok] + 1e-9).all()
    first_officer = t["first_on_scene"] == "village_officer"
    assert (first_officer <= attended).all()
    rural = t["rural_zone"] != ""
    assert (t["target_s"][rural] == 600.0).all()  # the rural ladder's first step
    # the same calls without the officers: the police go to every job
    res0 = Engine(world, "city_2017_without_village_officers", inc, presence=False).run()
    assert np.isnan(res0.records.columns["officer_arrival_s"]).all()
    assert res0.records.columns["officer_closed"].sum() == 0
    assert not (res0.records.column("outcome") == "closed_by_officer").any()
    assert len(res0.assignments["unit"]) > len(res.assignments["unit"])  # more police jobs
