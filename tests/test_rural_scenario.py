"""The rural scenario section (sim.scenario.rural) and villages (sim.world.villages)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from sim.scenario import ScenarioError, load_scenario, validate_data
from sim.world.villages import (
    VillageTable,
    nearest_village,
    officer_availability,
    read_villages_csv,
    rural_zones,
    village_officers,
)
from tests.conftest import lonlat, tiny_scenario, write_grid_osm, write_scenario

RURAL = {
    "note": "village role modelled from public descriptions",
    "villages": {"file": "villages.csv"},
    "village_radius": "300 m",
    "townships": [{"name": "Seat", "lon": lonlat(-875, -625)[0], "lat": lonlat(-875, -625)[1],
                   "radius": "200 m"}],
    "ladder": {"township": ["10 min", "20 min", "30 min"], "village": ["10 min", "20 min", "30 min"]},
    "officer": {"mode": "e-bike", "turnout": "2 min",
                "duty": {"on_duty": ["08:00", "20:00"], "on_call": ["20:00", "08:00"],
                         "on_call_delay": "10 min"},
                "first_on": ["routine"], "closes": ["routine"]},
}


def _data(**rural) -> dict:
    d = tiny_scenario("grid.osm")
    d["rural"] = {**copy.deepcopy(RURAL), **rural}
    return d


def _problem(data: dict, tmp_path) -> ScenarioError:
    with pytest.raises(ScenarioError) as exc:
        validate_data(data, file="s.yaml", lines={}, text="", path=tmp_path / "s.yaml")
    return exc.value


def _villages_csv(path, rows) -> None:
    path.write_text("name,lon,lat,population,county\n"
                    + "".join(f"{n},{lo:.7f},{la:.7f},{p},T\n" for n, lo, la, p in rows), encoding="utf-8")


def test_a_rural_section_validates(tmp_path):
    loaded = validate_data(_data(), file="s.yaml", lines={}, text="", path=tmp_path / "s.yaml")
    r = loaded.scenario.rural
    assert r.officer.role == "village_auxiliary"
    assert r.officer.speed_mps == pytest.approx(18 / 3.6)
    assert r.ladder["village"] == [600.0, 1200.0, 1800.0]
    assert r.cross_county == "urgent_only"


def test_scenarios_without_a_rural_section_are_unchanged(tmp_path):
    loaded = validate_data(tiny_scenario("grid.osm"), file="s.yaml", lines={}, text="",
                           path=tmp_path / "s.yaml")
    assert loaded.scenario.rural is None
    assert loaded.scenario.network.synthetic == "central"


@pytest.mark.parametrize(("change", "where", "words"), [
    ({"officer": {**RURAL["officer"], "first_on": ["routin"]}}, ("rural", "officer", "first_on", 0),
     "did you mean 'routine'"),
    ({"officer": {**RURAL["officer"], "first_on": ["urgent"], "closes": ["routine"]}},
     ("rural", "officer", "closes", 0), "also in first_on"),
    ({"ladder": {"township": ["20 min", "10 min"], "village": ["10 min"]}},
     ("rural", "ladder", "township"), "increasing"),
    ({"ladder": {"village": ["10 min"]}}, ("rural", "ladder"), "township"),
    ({"villages": {}}, ("rural", "villages", "file"), "exactly one"),
    ({"villages": {"generate": "county"}}, ("rural", "villages", "generate"), "synthetic county"),
    ({"officer": {**RURAL["officer"], "duty": {"on_duty": ["08:00", "20:00"],
                                               "on_call": ["19:00", "08:00"]}}},
     ("rural", "officer", "duty", "on_call"), "overlap"),
    ({"officer": {**RURAL["officer"], "duty": {"on_duty": ["8h", "20:00"]}}},
     ("rural", "officer", "duty", "on_duty", 0), "HH:MM"),
    ({"officer": {**RURAL["officer"], "mode": "horse"}}, ("rural", "officer", "mode"), "foot"),
    ({"targets": {"village": "0 s"}}, ("rural", "targets", "village"), "positive"),
    ({"targets": {"hamlet": "10 min"}}, ("rural", "targets", "hamlet", "[key]"), "township"),
])
def test_rural_problems_name_their_key(tmp_path, change, where, words):
    err = _problem(_data(**change), tmp_path)
    assert err.loc == where
    assert words in err.message


def test_synthetic_and_size_need_a_synthetic_source(tmp_path):
    d = tiny_scenario("grid.osm")
    d["network"]["synthetic"] = "county"
    err = _problem(d, tmp_path)
    assert err.loc == ("network", "synthetic")


def test_read_villages_csv_and_its_errors(tmp_path):
    f = tmp_path / "v.csv"
    _villages_csv(f, [("A", 111.5, 27.2, 1200), ("B", 111.6, 27.3, 800)])
    t = read_villages_csv(f)
    assert t.name == ("A", "B") and t.county == ("T", "T")
    assert t.population.tolist() == [1200, 800]
    f.write_text("name,lon,lat,population\nA,111.5,27.2,10\nA,111.5,27.2,x\nB,500,27.2,-3\n",
                 encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        read_villages_csv(f, shown="v.csv")
    assert exc.value.line == 3 and len(exc.value.problems) == 3  # line 3 (twice), line 4 (lon, population)
    assert "v.csv:3" in str(exc.value)
    f.write_text("name,lat,population\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="no column lon"):
        read_villages_csv(f)


def test_nearest_village_against_brute_force():
    rng = np.random.default_rng(3)
    vx, vy = rng.uniform(-3000, 3000, 40), rng.uniform(-3000, 3000, 40)
    px, py = rng.uniform(-3500, 3500, 2000), rng.uniform(-3500, 3500, 2000)

    class Frame:  # identity frame: "lon/lat" are metres
        def to_local(self, a, b):
            return np.asarray(a, float), np.asarray(b, float)

    table = VillageTable(tuple(str(i) for i in range(40)), ("",) * 40, vx, vy, np.ones(40, int))
    got = nearest_village(px, py, table, Frame(), 400.0)
    for i in range(len(px)):
        d = np.hypot(vx - px[i], vy - py[i])
        want = int(np.argmin(d)) if d.min() <= 400.0 else -1
        assert got[i] == want


def test_rural_zones_and_officers_on_a_grid(tmp_path):
    # grid.osm: 8 x 6 nodes 250 m apart, x in [-875, 875], y in [-625, 625]
    write_grid_osm(tmp_path / "grid.osm")
    _villages_csv(tmp_path / "villages.csv", [("East", *lonlat(625, 375), 900),
                                              ("Mid", *lonlat(125, 125), 1500)])
    loaded = load_scenario(write_scenario(tmp_path / "s.yaml", _data()))
    from sim.network.load import load_network
    from sim.world.villages import load_villages

    net = load_network(loaded.scenario.network.model_dump(), base_dir=tmp_path,
                       cache_dir=tmp_path / "cache")
    villages = load_villages(loaded)
    rz = rural_zones(net, loaded.scenario.rural, villages)
    ex, ey = net.frame.to_local(*lonlat(625, 375))
    sx, sy = net.frame.to_local(*lonlat(-875, -625))
    mx, my = net.frame.to_local(*lonlat(125, 125))
    for i in range(net.n_nodes):
        de, dm = math.hypot(net.x[i] - ex, net.y[i] - ey), math.hypot(net.x[i] - mx, net.y[i] - my)
        want_v = -1 if min(de, dm) > 300.0 else (0 if de < dm else 1)
        assert rz.village[i] == want_v
        in_seat = math.hypot(net.x[i] - sx, net.y[i] - sy) <= 200.0
        assert rz.zone[i] == (0 if in_seat else (1 if want_v >= 0 else -1))
    off = village_officers(loaded, net, villages)
    assert off.village == ("East", "Mid")
    assert [math.hypot(net.x[n] - x, net.y[n] - y) < 1.0
            for n, x, y in zip(off.home_node, (ex, mx), (ey, my), strict=True)] == [True, True]
    assert off.first_on.tolist() == [False, True] and off.closes.tolist() == [False, True]
    # 07:59 on call, 08:00 on duty, 19:59 on duty, 20:00 on call, day 2 at 03:00 on call
    t = np.array([7 * 3600 + 59 * 60, 8 * 3600, 19 * 3600 + 59 * 60, 20 * 3600, 86400 + 3 * 3600])
    assert officer_availability(off, t).tolist() == [2, 1, 1, 2, 2]
    no_call = _data(officer={**RURAL["officer"], "duty": {"on_duty": ["08:00", "20:00"],
                                                           "on_call": None}})
    loaded2 = load_scenario(write_scenario(tmp_path / "s2.yaml", no_call))
    off2 = village_officers(loaded2, net, villages)
    assert officer_availability(off2, t).tolist() == [0, 1, 1, 0, 0]


def test_rural_speed_and_county_rules(tmp_path):
    d = _data(road_speeds={"track": "15 km/h"}, counties=[])
    err = _problem(d, tmp_path)
    assert err.loc == ("rural", "road_speeds", "track") and "network.speeds" in err.message
    d["network"]["speeds"]["track"] = "10 km/h"
    err = _problem(d, tmp_path)
    assert err.loc == ("rural", "road_speeds") and "counties" in err.message
    err = _problem(_data(without_officers=["two_post"]), tmp_path)
    assert err.loc == ("rural", "without_officers", 0) and "two_posts" in err.message


def test_counties_and_rural_edge_speeds_on_a_grid(tmp_path):
    # two county seats at the grid's west and east ends; towns of radius 300 m around them
    write_grid_osm(tmp_path / "grid.osm", highway="tertiary")
    _villages_csv(tmp_path / "villages.csv", [("Mid", *lonlat(125, 125), 1500)])
    west, east = lonlat(-625, -125), lonlat(625, -125)
    d = _data(counties=[{"name": "W", "lon": west[0], "lat": west[1], "town_radius": "300 m"},
                        {"name": "E", "lon": east[0], "lat": east[1], "town_radius": "300 m"}],
              road_speeds={"tertiary": "54 km/h"})
    d["network"]["speeds"] = {"tertiary": "36 km/h", "default": "30 km/h"}
    loaded = load_scenario(write_scenario(tmp_path / "s.yaml", d))
    from sim.network.load import load_network
    from sim.world.villages import county_of_nodes, rural_edge_speeds

    net = load_network(loaded.scenario.network.model_dump(), base_dir=tmp_path,
                       cache_dir=tmp_path / "cache")
    county, urban = county_of_nodes(net, loaded.scenario.rural)
    wx, wy = net.frame.to_local(*west)
    ex, ey = net.frame.to_local(*east)
    for i in range(net.n_nodes):
        dw, de = math.hypot(net.x[i] - wx, net.y[i] - wy), math.hypot(net.x[i] - ex, net.y[i] - ey)
        assert county[i] == (0 if dw <= de else 1)
        assert urban[i] == (min(dw, de) <= 300.0)
    v = rural_edge_speeds(net, loaded.scenario.network.speeds, loaded.scenario.rural, urban)
    for e in range(net.n_edges):
        in_town = urban[net.edge_u[e]] or urban[net.edge_v[e]]
        assert v[e] == pytest.approx(10.0 if in_town else 15.0)


def test_cross_county_rule():
    from sim.world.villages import cross_county_allowed

    units = np.array([0, 0, 1, 2, -1])
    assert cross_county_allowed("never", units, 0, "urgent").tolist() == [1, 1, 0, 0, 1]
    assert cross_county_allowed("urgent_only", units, 0, "urgent").tolist() == [1, 1, 1, 1, 1]
    assert cross_county_allowed("urgent_only", units, 1, "minor").tolist() == [0, 0, 1, 0, 1]
    assert cross_county_allowed("always", units, 1, "minor").all()
    assert cross_county_allowed("never", units, -1, "minor").all()
    with pytest.raises(ValueError):
        cross_county_allowed("sometimes", units, 0, "minor")
