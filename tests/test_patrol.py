"""Units that patrol: lazy loop positions, patrol vs parked, shifts, backup units, presence."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.core import Engine, simulate
from sim.engine.invariants import check_result
from sim.types import IncidentSet
from sim.world.prepare import MINUTES_PER_DAY

from .conftest import lonlat, tiny_scenario, world_for, write_grid_osm


def _incidents(world, times, nodes, priorities=None, on_scene=None, types=None, horizon=86400.0):
    n = len(times)
    nodes = np.asarray(nodes, dtype=np.int64)
    return IncidentSet(call_s=np.asarray(times, float), dispatch_s=np.asarray(times, float) + 1.0,
                       node=nodes, zone=world.zones.zone[nodes],
                       key_location=world.zones.key_location[nodes],
                       type_index=np.asarray(types if types is not None else [0] * n, dtype=np.int16),
                       priority=np.asarray(priorities if priorities is not None else [1] * n, dtype=np.int8),
                       on_scene_s=np.asarray(on_scene if on_scene is not None else [60.0] * n, float),
                       horizon_s=horizon)


def ladder_scenario(tmp_path, *, patrol: bool):
    """A ladder of 13 x 2 nodes, 100 m apart, 36 km/h: post at column 1, key location at 11."""
    write_grid_osm(tmp_path / "grid.osm", nx=13, ny=2, spacing=100.0)
    data = tiny_scenario("grid.osm")
    data["network"]["speeds"] = {"residential": "36 km/h", "default": "36 km/h"}
    post = lonlat(-500.0, -50.0)
    key = lonlat(500.0, -50.0)
    data["zones"]["key_locations"] = [{"name": "Station", "lon": key[0], "lat": key[1], "radius": "60 m"}]
    data["demand"]["hotspots"] = []
    data["unit_types"] = {"car": {"turnout": "30 s", "patrols": True}}
    data["incident_types"] = [{"name": "job", "priority": "standard", "share": 1.0,
                               "on_scene": {"distribution": "fixed", "mean": "1 min"}}]
    data["layouts"] = {"one": {"patrol": patrol, "platforms": [
        {"name": "P", "lon": post[0], "lat": post[1], "units": {"car": 1},
         "patrol_waypoints": [list(key)]}]}}
    data["run"]["warmup"] = "0 s"
    return data


def test_patrolling_unit_reaches_the_key_location_faster_than_parked(tmp_path):
    _, _, parked_world = world_for(tmp_path, ladder_scenario(tmp_path, patrol=False), name="parked.yaml")
    _, _, patrol_world = world_for(tmp_path, ladder_scenario(tmp_path, patrol=True), name="patrol.yaml")
    fleet = patrol_world.fleets["one"]
    loop = fleet.loops[0]
    key = int(loop.nodes[loop.waypoints[1]])
    # by hand: the loop is post -> key -> post, 10 edges of 100 m at 10 m/s each way
    assert loop.cycle == pytest.approx(200.0, rel=0.01)
    assert list(loop.nodes[:11]) == list(loop.nodes[10:][::-1])
    # one incident at the key location at a time, far apart so the unit is back on its loop
    phases = np.array([0.0, 15.0, 40.0, 99.0, 120.0, 150.0, 185.0])
    times = 10_000.0 * np.arange(1, 1 + len(phases)) + phases - 1.0  # dispatched at phase
    res_parked = simulate(parked_world, "one", _incidents(parked_world, times, [key] * len(times)))
    patrol_engine = Engine(patrol_world, "one", _incidents(patrol_world, times, [key] * len(times)))
    res_patrol = patrol_engine.run()
    parked_eta = res_parked.records.columns["arrival_s"] - res_parked.records.columns["dispatch_s"]
    assert parked_eta == pytest.approx(np.full(len(times), 30.0 + 100.0), rel=0.01)
    patrol_eta = res_patrol.records.columns["arrival_s"] - res_patrol.records.columns["dispatch_s"]
    # the unit rejoins its loop after each job, so compute its phase from the logged anchor
    for i, t in enumerate(times + 1.0):
        seg = [sg for sg in patrol_engine.segs[0] if sg[0] < t][-1]  # before this job
        anchor = seg[2] if seg[1] == 1 else seg[4]
        phase = (t - anchor) % loop.cycle
        half = loop.cycle / 2
        if phase <= half:  # going out: straight on to the key location
            expected = half - phase
        else:  # coming back: on to the next node, then turn round
            j = math.ceil(phase / (loop.cycle / 20))
            expected = (j * loop.cycle / 20 - phase) + (j - 10) * loop.cycle / 20
        assert patrol_eta[i] == pytest.approx(expected, abs=0.6), (phase, patrol_eta[i], expected)
    assert patrol_eta.mean() < parked_eta.mean()
    assert np.all(res_patrol.records.columns["from_patrol"] == 1)
    assert np.all(res_patrol.records.columns["turnout_s"] == 0.0)


def test_lazy_loop_position_matches_an_explicit_walk(tmp_path):
    data = ladder_scenario(tmp_path, patrol=True)
    _, _, world = world_for(tmp_path, data)
    eng = Engine(world, "one", _incidents(world, [], []))
    loop = world.fleets["one"].loops[0]
    oracle = world.oracles["car"]
    for t in np.linspace(0.0, 3 * loop.cycle, 301):
        # explicit walk: edge by edge from the loop start, the anchor being the unit's phase
        walked = (t - eng.anchor[0]) % loop.cycle
        clock = 0.0
        nxt, left = int(loop.nodes[-1]), 0.0
        for a, b in zip(loop.nodes[:-1], loop.nodes[1:], strict=True):
            leg = oracle.time(int(a), int(b))
            if walked == clock:  # exactly at a node
                nxt, left = int(a), 0.0
                break
            if clock + leg >= walked:  # on this edge, heading for b
                nxt, left = int(b), clock + leg - walked
                break
            clock += leg
        got = eng.position(0, t)
        assert got[0] == nxt and got[1] == pytest.approx(left, abs=1e-6)


def _presence_by_hand(eng, world, times):
    pts = [(int(n), float(t)) for n, t in zip(eng.presence().nodes, eng.presence().targets_s,
                                               strict=True)]
    covered = np.zeros(len(pts), dtype=int)
    for t in times:
        minute = int(t // 60) % MINUTES_PER_DAY
        for k, (node, target) in enumerate(pts):
            for u in range(len(eng.fleet)):
                if eng.fleet.off_air[minute, u] or eng.volunteers[u]:
                    continue
                nxt, left = eng.position(u, t)
                if left + world.oracles[eng.fleet.unit_type[u]].time(nxt, node) <= target:
                    covered[k] += 1
                    break
    return covered


def test_presence_matches_a_step_by_step_count(tmp_path):
    data = ladder_scenario(tmp_path, patrol=True)
    data["layouts"]["one"]["platforms"][0]["units"] = {"car": 2}
    data["shifts"] = {"starts": ["00:00", "12:00"], "handover": "20 min"}
    data["run"]["duration"] = "1 d"
    data["patrol"] = {"presence_sample": "7 min"}
    _, _, world = world_for(tmp_path, data)
    eng = Engine(world, "one", _incidents(world, [], []))
    eng.run()
    p = eng.presence()
    times = np.arange(0.0, 86400.0, 7 * 60.0)
    assert p.samples.sum() == len(times)
    assert list(p.police.sum(axis=1)) == list(_presence_by_hand(eng, world, times))
    assert 0 < p.police[0].sum() < len(times)  # the key location is covered part of the time


@st.composite
def schedules(draw):
    n_shifts = draw(st.integers(1, 3))
    starts = sorted(draw(st.sets(st.integers(0, 23), min_size=n_shifts, max_size=n_shifts)))
    counts = [{"car": draw(st.integers(0, 2)), "moto": draw(st.integers(0, 1))} for _ in starts]
    breaks = []
    if draw(st.booleans()):
        a = draw(st.integers(0, 20))
        breaks.append({"window": [f"{a:02d}:00", f"{a + 2:02d}:00"],
                       "duration": f"{draw(st.integers(10, 60))} min"})
    return {"starts": [f"{h:02d}:00" for h in starts],
            "handover": f"{draw(st.integers(0, 30))} min", "meal_breaks": breaks}, counts


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedules())
def test_no_unit_is_dispatched_while_off_the_air(tmp_path, schedule):
    shifts, counts = schedule
    data = tiny_scenario("grid.osm", days="1 d", per_day=120.0)
    data["shifts"] = shifts
    for p in data["layouts"]["two_posts"]["platforms"]:
        p["units"] = {"car": 2, "moto": 1}
        p["units_by_shift"] = counts
    data["layouts"] = {"two_posts": data["layouts"]["two_posts"]}
    data["run"]["layouts"] = ["two_posts"]
    _, net, world = world_for(tmp_path, data)
    from sim.world.demand import generate_incidents

    s = world.scenario
    inc = generate_incidents(s, net, world.zones, seed=3, replication=0)
    res = simulate(world, "two_posts", inc)
    a = res.assignments
    minute = (a["assign_s"] // 60).astype(int) % MINUTES_PER_DAY
    off = world.fleets["two_posts"].off_air
    assert not off[minute, a["unit"]].any()
    # nobody on the air at all means nobody is ever sent
    if off.all():
        assert len(a["unit"]) == 0


def test_backup_units_are_distinct_and_full_response_is_the_last_arrival(tmp_path):
    data = tiny_scenario("grid.osm")
    data["incident_types"][0]["units_required"] = 2
    _, net, world = world_for(tmp_path, data)
    centre = int(np.argmin(np.hypot(net.x, net.y)))
    inc = _incidents(world, [100.0, 5000.0], [centre, centre], priorities=[0, 0], on_scene=[600, 600],
                     types=[0, 0])
    res = simulate(world, "two_posts", inc)
    a = res.assignments
    for i in range(2):
        units = a["unit"][a["incident"] == i]
        assert len(units) == 2 and len(set(units.tolist())) == 2
        arrivals = a["arrival_s"][a["incident"] == i]
        c = res.records.columns
        assert c["arrival_s"][i] == pytest.approx(arrivals.min())
        assert c["full_arrival_s"][i] == pytest.approx(arrivals.max())
        assert c["units_sent"][i] == 2 and c["units_required"][i] == 2
    # three units, two needed each: a third urgent job at the same time waits for a second unit
    inc = _incidents(world, [100.0, 101.0], [centre, centre], priorities=[0, 0], on_scene=[600, 600],
                     types=[0, 0])
    res = simulate(world, "two_posts", inc)
    c = res.records.columns
    assert c["units_sent"][1] == 2 and c["queued"][1] == 0  # queued: assign_s > dispatch_s; its
    assert c["assign_s"][1] == c["dispatch_s"][1]  # first unit went at once, the backup waited
    assert c["full_arrival_s"][1] > c["arrival_s"][1]


def test_static_coverage_grows_with_the_threshold(tmp_path):
    from sim.analysis.coverage import static_coverage

    _, _, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    rows = {r["zone"]: r for r in static_coverage(world, "two_posts")}
    for r in rows.values():
        assert 0.0 <= r["within_1_min"] <= r["within_3_min"] <= r["within_5_min"] <= 1.0
    assert rows["all"]["demand_share"] == pytest.approx(1.0)
    assert rows["all"]["within_5_min"] == pytest.approx(1.0)  # a 1.75 km grid at 30 km/h


def test_mobile_platform_moves_post_by_time_of_day(tmp_path):
    data = ladder_scenario(tmp_path, patrol=False)
    night = lonlat(500.0, -50.0)
    data["layouts"]["one"]["platforms"][0]["posts_by_time"] = [
        {"name": "night market", "hours": ["20:00", "06:00"], "lon": night[0], "lat": night[1]}]
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["one"]
    home = int(fleet.post[0])
    market = int(fleet.post_table[21 * 60, 0])
    assert market != home and int(fleet.post_table[12 * 60, 0]) == home
    oracle = world.oracles["car"]
    drive = oracle.time(home, market)
    assert drive == pytest.approx(100.0, rel=0.01)
    # noon: from home, with turnout; 20:00:30: caught on the drive to the night post, no turnout;
    # 21:00: parked at the night post
    times = np.array([12 * 3600.0, 20 * 3600.0 + 30.0, 21 * 3600.0]) - 1.0
    eng = Engine(world, "one", _incidents(world, times, [market] * 3, on_scene=[60.0] * 3))
    c = eng.run().records.columns
    assert c["turnout_s"][0] == 30.0 and c["travel_s"][0] == pytest.approx(drive)
    assert c["turnout_s"][1] == 0.0 and c["travel_s"][1] == pytest.approx(drive - 30.0, abs=0.01)
    assert c["turnout_s"][2] == 30.0 and c["travel_s"][2] == pytest.approx(0.0)
    # the logged trajectory: on the way to the night post at 20:00:20, then sent to the job
    nxt, left, known = eng.trajectory(0, np.array([20 * 3600.0 + 20.0, 20 * 3600.0 + 50.0]))
    assert known[0] and not known[1]  # on the way to a job: position not tracked
    assert oracle.time(int(nxt[0]), market) + left[0] == pytest.approx(drive - 20.0, abs=0.01)


def test_a_unit_on_a_minor_job_is_diverted_to_an_urgent_one(tmp_path):
    data = ladder_scenario(tmp_path, patrol=False)
    data["dispatch"] = {"divert_from_minor": True}
    data["incident_types"] = [
        {"name": "urgent", "priority": "urgent", "share": 0.5,
         "on_scene": {"distribution": "fixed", "mean": "10 min"}},
        {"name": "minor", "priority": "minor", "share": 0.5,
         "on_scene": {"distribution": "fixed", "mean": "10 min"}}]
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["one"]
    post = int(fleet.post[0])
    far = int(fleet.post_table[0, 0])
    oracle = world.oracles["car"]
    key = int(np.argmax(oracle.from_node(post)))  # the far end of the ladder
    # en route: the minor job is far away; an urgent call at the post comes in 20 s later
    inc = _incidents(world, [0.0, 50.0], [key, far], priorities=[2, 0], on_scene=[600.0, 600.0],
                     types=[1, 0])
    eng = Engine(world, "one", inc)
    res = eng.run()
    c = res.records.columns
    assert c["diverted"][0] == 1 and c["by_diversion"][1] == 1
    assert c["turnout_s"][1] == 0.0
    # the car had driven 20 s towards the minor job: it comes back that far
    assert c["travel_s"][1] == pytest.approx(20.0, abs=10.5)  # to within one 10 s edge
    # the minor job waited for the car to clear the urgent one, then got it
    assert c["queued"][0] == 1 and c["assign_s"][0] == pytest.approx(c["clear_s"][1])
    assert c["arrival_s"][0] > c["clear_s"][1]
    a = res.assignments
    assert a["diverted"].tolist() == [True, False, False]
    check_result(res, world.fleets["one"], expected_incidents=2, horizon_s=86400.0, warmup_s=0.0)
    # on scene: the minor job ends when the car leaves for the urgent one
    inc = _incidents(world, [0.0, 400.0], [post, far], priorities=[2, 0], on_scene=[900.0, 600.0],
                     types=[1, 0])
    res = Engine(world, "one", inc).run()
    check_result(res, world.fleets["one"], expected_incidents=2, horizon_s=86400.0, warmup_s=0.0)
    c = res.records.columns
    assert c["diverted"][0] == 1 and c["clear_s"][0] == pytest.approx(401.0)
    assert c["units_sent"][0] == 1  # it got there: it counts
    assert c["assign_s"][1] == pytest.approx(401.0) and c["outcome"][0] == 0  # served (cut short)
    # without the switch, the urgent call waits
    data["dispatch"] = {"divert_from_minor": False}
    _, _, plain = world_for(tmp_path, data, name="plain.yaml")
    c = Engine(plain, "one", inc).run().records.columns
    assert c["diverted"][0] == 0 and c["queued"][1] == 1
