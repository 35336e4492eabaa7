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
def test_short_city_run_gives_consistent_rural_columns(tmp_path):
    from sim.analysis.rural import first_presence_s, rural_columns
    from sim.engine.core import Engine
    from sim.study.experiment import RunOptions, apply_overrides, load_world
    from sim.world.demand import generate_incidents
    from sim.world.villages import load_villages, rural_zones, village_officers

    loaded = apply_overrides(load_scenario(CITY), RunOptions(duration_s=3 * 86400.0))
    net, world = load_world(loaded, tmp_path / "cache")
    s = world.scenario
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    rec = Engine(world, "city_2017", inc, presence=False).run().records
    villages = load_villages(loaded)
    assert len(villages) == 300
    rz = rural_zones(net, s.rural, villages)
    off = village_officers(loaded, net, villages)
    cols = {n: rec.column(n) for n in ("node", "incident_type", "dispatch_s", "arrival_s", "clear_s",
                                       "call_s", "counted")}
    extra = rural_columns(cols, node_x=net.x, node_y=net.y, zones=rz, officers=off,
                          type_names=[t.name for t in s.incident_types],
                          mean_on_scene_s=[t.on_scene.mean for t in s.incident_types],
                          horizon_s=inc.horizon_s)
    t = {**cols, **extra}
    attended = ~np.isnan(t["officer_arrival_s"])
    assert attended.any()
    assert (t["village"][attended] >= 0).all()
    allowed = set(s.rural.officer.first_on)
    assert all(x in allowed for x in t["incident_type"][attended])
    closed = t["officer_closed"].astype(bool)
    assert (closed <= attended).all()
    assert all(x in set(s.rural.officer.closes) for x in t["incident_type"][closed])
    presence = first_presence_s(t)
    police = t["arrival_s"] - t["call_s"]
    ok = ~np.isnan(police)
    assert (presence[ok] <= police[ok] + 1e-9).all()
    assert (t["officer_arrival_s"][attended] >= t["dispatch_s"][attended] + off.turnout_s - 1e-9).all()
