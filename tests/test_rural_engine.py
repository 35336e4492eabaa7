"""Village officers (一村一辅警) inside the engine, rural targets and rural road speeds, on small
hand-made cases (sim.engine.village, sim.world.rural_world). Expected values are worked by hand."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from sim.engine.core import Engine
from sim.engine.invariants import check_result
from sim.types import IncidentSet
from tests.conftest import lonlat, tiny_scenario, world_for

SPEED = 18 / 3.6  # e-bike (m/s)
DETOUR = 1.3
TURNOUT = 120.0
VILLAGE_XY = (-875.0, 375.0)  # on the grid edge, outside the central ring: rural


def _data(**rural) -> dict:
    d = tiny_scenario("grid.osm")
    d["incident_types"] = [
        {"name": "urgent", "priority": "urgent", "share": 0.3,
         "on_scene": {"distribution": "exponential", "mean": "20 min"}},
        {"name": "routine", "priority": "minor", "share": 0.4,
         "on_scene": {"distribution": "lognormal", "mean": "15 min", "cv": 0.5}},
        {"name": "dispute", "priority": "standard", "share": 0.3,
         "on_scene": {"distribution": "exponential", "mean": "30 min"}},
    ]
    d["layouts"]["no_officers"] = copy.deepcopy(d["layouts"]["two_posts"])
    d["rural"] = {
        "note": "village role modelled from public descriptions",
        "villages": {"file": "villages.csv"},
        "village_radius": "400 m",
        "ladder": {"township": ["10 min", "20 min"], "village": ["12 min", "20 min"]},
        "targets": {"village": "15 min"},
        "officer": {"mode": "e-bike", "turnout": "2 min", "detour": DETOUR,
                    "duty": {"on_duty": ["08:00", "20:00"], "on_call": ["20:00", "02:00"],
                             "on_call_delay": "10 min"},
                    "first_on": ["routine", "dispute"], "closes": ["routine"]},
        "without_officers": ["no_officers"],
        **rural,
    }
    return d


def _world(tmp_path, **rural):
    lon, lat = lonlat(*VILLAGE_XY)
    (tmp_path / "villages.csv").write_text(f"name,lon,lat,population\nCorner,{lon:.7f},{lat:.7f},800\n",
                                           encoding="utf-8")
    return world_for(tmp_path, _data(**rural))


def _node(net, x, y) -> int:
    return int(np.argmin(np.hypot(net.x - x, net.y - y)))


def _incidents(world, rows, horizon=2 * 86400.0):
    """rows: (call s, node, type index); handed over 60 s after the call."""
    call = np.array([r[0] for r in rows], float)
    nodes = np.array([r[1] for r in rows], dtype=np.int64)
    types = np.array([r[2] for r in rows], dtype=np.int16)
    prio = np.array([{0: 0, 1: 2, 2: 1}[int(t)] for t in types], dtype=np.int8)
    return IncidentSet(call_s=call, dispatch_s=call + 60.0, node=nodes, zone=world.zones.zone[nodes],
                       key_location=world.zones.key_location[nodes], type_index=types,
                       priority=prio, on_scene_s=np.full(len(rows), 600.0), horizon_s=horizon)


def _run(world, inc, layout="two_posts"):
    res = Engine(world, layout, inc, presence=False).run()
    check_result(res, world.fleets[layout], expected_incidents=len(inc))
    return res, {n: res.records.column(n) for n in res.records.columns}


def test_officer_already_there_closes_a_minor_job_with_zero_time_to_presence(tmp_path):
    _, _, world = _world(tmp_path)
    net = world.net
    home = int(world.rural.officers.home_node[0])
    assert home == _node(net, *VILLAGE_XY)
    inc = _incidents(world, [(10 * 3600.0, home, 1)])  # routine, 10:00 (on duty)
    res, r = _run(world, inc)
    assert r["officer_arrival_s"][0] == 10 * 3600.0  # presence at the call: zero time
    assert r["officer_closed"][0] == 1 and r["outcome"][0] == "closed_by_officer"
    assert r["first_on_scene"][0] == "village_officer"
    assert math.isnan(r["arrival_s"][0]) and r["unit"][0] == ""  # no police sent
    assert res.assignments["unit"].size == 0
    assert r["officer_busy_s"][0] == 600.0  # its on-scene time
    assert r["village"][0] == 0 and r["rural_zone"][0] == "village"


def test_a_type_the_officer_may_not_take_waits_for_the_police(tmp_path):
    _, _, world = _world(tmp_path)
    home = int(world.rural.officers.home_node[0])
    inc = _incidents(world, [(10 * 3600.0, home, 0)])  # urgent: not in first_on
    _, r = _run(world, inc)
    assert math.isnan(r["officer_arrival_s"][0]) and r["officer_closed"][0] == 0
    assert r["first_on_scene"][0] == "police" and r["outcome"][0] == "served"
    assert r["arrival_s"][0] > inc.dispatch_s[0]


def test_held_scene_the_officer_travels_and_waits_for_the_police(tmp_path):
    _, _, world = _world(tmp_path)
    net = world.net
    home = int(world.rural.officers.home_node[0])
    near = _node(net, VILLAGE_XY[0] + 250.0, VILLAGE_XY[1])  # one block east
    t0, t1 = 9 * 3600.0, 86400.0 + 9 * 3600.0
    inc = _incidents(world, [(t0, near, 2), (t1, home, 2)])  # disputes: first on, not closed
    _, r = _run(world, inc)
    d = math.hypot(net.x[near] - net.x[home], net.y[near] - net.y[home])
    assert d == pytest.approx(250.0, abs=1.0)
    officer = r["officer_arrival_s"]
    assert officer[0] == pytest.approx(t0 + TURNOUT + d * DETOUR / SPEED)  # 120 s + 65 s
    assert (r["officer_closed"] == 0).all() and (r["outcome"] == "served").all()  # police came
    police = r["arrival_s"]
    # the moto from West (500 m away) is there first: 60 s hand-over, 15 s turnout, 50 s drive
    assert police[0] == pytest.approx(t0 + 125.0, abs=1.0) and r["first_on_scene"][0] == "police"
    assert r["officer_busy_s"][0] == pytest.approx(officer[0] - t0)  # came anyway
    assert officer[1] == t1 and r["first_on_scene"][1] == "village_officer"  # there at the call
    assert r["officer_busy_s"][1] == pytest.approx(police[1] - t1)  # held the scene till then


def test_busy_or_off_duty_officer_falls_back_to_the_police(tmp_path):
    _, _, world = _world(tmp_path)
    home = int(world.rural.officers.home_node[0])
    day = 10 * 3600.0
    inc = _incidents(world, [
        (day, home, 1),            # the officer closes it (busy 600 s)
        (day + 300.0, home, 1),    # officer busy: police
        (day + 900.0, home, 1),    # free again, at home: officer at once
        (21 * 3600.0, home, 1),    # 21:00: on call, already there: the delay only
        (27 * 3600.0, home, 1),    # 03:00 next day: off (on call ends at 02:00): police
    ])
    _, r = _run(world, inc)
    arr = r["officer_arrival_s"]
    assert arr[0] == day and r["officer_closed"][0] == 1
    assert math.isnan(arr[1]) and r["unit"][1] != "" and r["first_on_scene"][1] == "police"
    assert arr[2] == day + 900.0 and r["officer_closed"][2] == 1
    assert arr[3] == 21 * 3600.0 + 600.0 and r["officer_closed"][3] == 1
    assert math.isnan(arr[4]) and r["unit"][4] != "" and r["officer_closed"][4] == 0


def test_layout_without_officers_sends_the_police_to_every_job(tmp_path):
    _, _, world = _world(tmp_path)
    home = int(world.rural.officers.home_node[0])
    inc = _incidents(world, [(10 * 3600.0, home, 1)])
    _, r = _run(world, inc, "no_officers")
    assert math.isnan(r["officer_arrival_s"][0]) and r["officer_closed"][0] == 0
    assert r["unit"][0] != "" and r["first_on_scene"][0] == "police"


def test_rural_targets_apply_in_villages_only(tmp_path):
    _, _, world = _world(tmp_path)
    net = world.net
    home = int(world.rural.officers.home_node[0])
    centre = _node(net, 0.0, 0.0)  # key location: urban target
    inc = _incidents(world, [(10 * 3600.0, home, 0), (10 * 3600.0 + 5, centre, 0)])
    _, r = _run(world, inc)
    assert r["target_s"][0] == 900.0  # rural.targets.village
    assert r["target_s"][1] == 60.0 and r["rural_zone"][1] == ""  # key location: 1 min
    waited = r["arrival_s"][0] - r["dispatch_s"][0]  # clock: dispatch
    assert r["target_met"][0] == int(waited <= 900.0)
    # default target: the first step of the class's ladder
    (tmp_path / "b").mkdir()
    _, _, world2 = _world(tmp_path / "b", targets={})
    assert world2.rural.target_s[int(world2.rural.officers.home_node[0])] == 720.0


# -- the cross-county rule -----------------------------------------------------------------------


class _Units:
    """A hand-made dispatch moment: free units and their arrivals (s)."""

    def __init__(self, arrival: dict[int, float]) -> None:
        self.arrival = arrival

    def free(self) -> list[int]:
        return sorted(self.arrival)

    def earliest(self, k: int):
        from sim.engine.dispatch import Offer

        ranked = sorted(self.arrival, key=lambda u: (self.arrival[u], u))[:k]
        return [Offer(u, 0.0, self.arrival[u], False) for u in ranked]

    def offer(self, unit: int):
        from sim.engine.dispatch import Offer

        return Offer(unit, 0.0, self.arrival[unit], False)


def test_cross_county_wrapper_sends_the_earliest_allowed_units():
    from sim.engine.dispatch import CrossCounty, EarliestArrival, Job

    rng = np.random.default_rng(3)
    arrival = {u: float(rng.integers(10, 500)) for u in range(40)}
    mask = [u % 5 == 0 for u in range(40)]  # 8 allowed units, mostly not the earliest
    policy = CrossCounty(EarliestArrival(), allowed=lambda job: mask, n_units=40)
    for k in (1, 2, 3, 8, 9):
        got = [o.unit for o in policy.choose(Job(0, 0, 1, k), _Units(arrival))]
        brute = sorted((u for u in arrival if mask[u]), key=lambda u: (arrival[u], u))[:k]
        assert got == brute
    assert policy.holds_back and policy.name == "earliest_arrival"


def _county_world(tmp_path, rule):
    w, e = lonlat(-625, -125), lonlat(625, 125)
    counties = [{"name": "W", "lon": w[0], "lat": w[1], "town_radius": "100 m"},
                {"name": "E", "lon": e[0], "lat": e[1], "town_radius": "100 m"}]
    return _world(tmp_path, counties=counties, cross_county=rule)


@pytest.mark.parametrize(("rule", "urgent", "crosses"), [
    ("never", True, False), ("urgent_only", False, False), ("urgent_only", True, True),
    ("always", False, True)])
def test_cross_county_rule_in_the_engine(tmp_path, rule, urgent, crosses):
    _, _, world = _county_world(tmp_path, rule)
    net = world.net
    west = _node(net, -875.0, -375.0)  # the West county (nearest seat W)
    assert world.rural.county[west] == 0
    t = 9 * 3600.0
    kind = 0 if urgent else 2  # urgent, or dispute (standard; the officer's village is far)
    inc = _incidents(world, [(t, west, kind), (t + 10, west, kind), (t + 20, west, kind)])
    res = Engine(world, "two_posts", inc, presence=False).run()
    r = {n: res.records.column(n) for n in res.records.columns}
    fleet = world.fleets["two_posts"]
    county_of_unit = world.rural.county[fleet.post]
    assert county_of_unit.tolist().count(0) == 2  # West has 2 units, East 1
    sent = res.assignments["unit"][res.assignments["incident"] == 2]
    assert sent.size >= 1
    assert (county_of_unit[sent[0]] == 1) == crosses
    if not crosses:
        assert r["queued"][2] == 1  # waited for a unit of its own county



# -- rural road speeds in the engine's oracle ----------------------------------------------------


def test_rural_road_speeds_in_the_oracle_match_an_independent_shortest_path(tmp_path):
    import heapq

    w = lonlat(-625, -125)
    counties = [{"name": "W", "lon": w[0], "lat": w[1], "town_radius": "300 m"}]
    _, _, world = _world(tmp_path, counties=counties, road_speeds={"residential": "12 km/h"})
    net = world.net
    seat = np.hypot(net.x - (-625.0), net.y - (-125.0)) <= 300.0
    ring = (np.abs(net.x) <= 600.0) & (np.abs(net.y) <= 400.0)  # the central city (a rectangle)
    urban = seat | ring
    assert urban.any() and (~urban).any()
    fast, slow = 30 / 3.6, 12 / 3.6
    adj: dict[int, list[tuple[int, float]]] = {}
    for u, v, length in zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist(),
                            strict=True):
        speed = fast if (urban[u] or urban[v]) else slow
        adj.setdefault(u, []).append((v, length / speed))
    src = _node(net, -875.0, 375.0)
    best = {src: 0.0}
    heap = [(0.0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > best[u]:
            continue
        for v, w_ in adj.get(u, ()):
            if d + w_ < best.get(v, math.inf):
                best[v] = d + w_
                heapq.heappush(heap, (d + w_, v))
    got = world.oracles["car"].from_node(src)
    expected = np.array([best.get(n, math.inf) for n in range(net.n_nodes)])
    assert np.allclose(got, expected)
    rural_edges = ~(urban[net.edge_u] | urban[net.edge_v])
    assert rural_edges.any() and np.allclose(world.rural.edge_speed_mps[rural_edges], slow)


# -- the with/without study, from a results folder -----------------------------------------------


def test_rural_command_shows_the_officers_effect(tmp_path, cache_dir, capsys):
    from sim.cli.main import main
    from tests.conftest import write_grid_osm, write_scenario

    write_grid_osm(tmp_path / "grid.osm")
    lon, lat = lonlat(*VILLAGE_XY)
    (tmp_path / "villages.csv").write_text(f"name,lon,lat,population\nCorner,{lon:.7f},{lat:.7f},800\n",
                                           encoding="utf-8")
    data = _data()
    data["run"]["layouts"] = ["two_posts", "no_officers"]
    data["run"]["baseline"] = "no_officers"
    data["demand"]["hotspots"] = [{"name": "Village", "lon": lon, "lat": lat, "sigma": "200 m",
                                   "share": 0.9}]
    write_scenario(tmp_path / "rural.yaml", data)
    assert main(["compare", str(tmp_path / "rural.yaml"), "--days", "2", "--reps", "2",
                 "--out", str(tmp_path / "out")]) == 0
    folder = next((tmp_path / "out").glob("*/*"))
    capsys.readouterr()
    assert main(["rural", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "Village officers' effect: two_posts minus no_officers" in text
    assert "village   presence_mean_s" in text and "Corner" in text
    assert "busiest village officers: Corner" in text
    assert main(["rural", str(tmp_path / "nowhere")]) == 2
    # the brief's county and village pages, in both languages, from the same folder
    from sim.brief.results import load_results
    from sim.brief.rural_pages import rural_blocks

    res = load_results(folder)
    for lang, heading, effect in (("en", "County towns and villages", "What the village officers change"),
                                  ("zh", "县城与农村", "村辅警的作用")):
        blocks = rural_blocks(res, lang)
        headings = [b[1] for b in blocks if b[0] == "heading"]
        assert headings[:2] == [heading, effect]
        table = next(b[1] for b in blocks if b[0] == "table")
        assert len(table[1]) == 2 * 3  # two layouts x (township, village, all rural)
        assert any("public descriptions" in b[1] or "公开报道" in b[1] for b in blocks if b[0] == "para")
