"""Units that patrol: lazy loop positions, patrol vs parked, shifts, backup units, presence."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.core import Engine, simulate
from sim.engine.invariants import check_result
from sim.scenario import ZONE_CLASSES
from sim.types import IncidentSet
from sim.world.prepare import MINUTES_PER_DAY

from .conftest import hand_incidents, lonlat, tiny_scenario, world_for, write_grid_osm


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


def _ladder_edge_s() -> float:
    """The ladder's edge time (s) from its coordinates: the great-circle length of a 100 m step
    in :func:`lonlat` (osmnx measures edges so, Earth radius 6,371,009 m) at 36 km/h."""
    (lon0, lat0), (lon1, lat1) = lonlat(0.0, -50.0), lonlat(100.0, -50.0)
    p0, p1, dl = math.radians(lat0), math.radians(lat1), math.radians(lon1 - lon0)
    h = math.sin((p1 - p0) / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h)) / 10.0


def _eta_by_design(phase: float, edge: float) -> float:
    """Time (s) from a loop position to the key location on the ladder loop post -> key -> post
    (10 edges each way; a unit coming back goes on to its next node, then turns round)."""
    if phase <= 10 * edge:  # going out: straight on to the key location
        return 10 * edge - phase
    j = math.ceil(phase / edge)
    return (j * edge - phase) + (j - 10) * edge


def test_patrolling_unit_reaches_the_key_location_faster_than_parked(tmp_path):
    _, _, parked_world = world_for(tmp_path, ladder_scenario(tmp_path, patrol=False), name="parked.yaml")
    _, _, patrol_world = world_for(tmp_path, ladder_scenario(tmp_path, patrol=True), name="patrol.yaml")
    fleet = patrol_world.fleets["one"]
    loop = fleet.loops[0]
    key = int(loop.nodes[loop.waypoints[1]])
    # by hand: the loop is post -> key -> post, 10 edges of 100 m at 10 m/s each way
    assert loop.cycle == pytest.approx(200.0, rel=0.01)
    assert list(loop.nodes[:11]) == list(loop.nodes[10:][::-1])
    # one incident at the key location at a time, each dispatched at a designed phase of the loop:
    # the unit starts at the post (phase 0) at time 0; after a job at the key it rejoins its
    # loop there (the nearest waypoint), that is at phase 100 s when it clears; two cycles later
    # the next job comes. Phases avoid the nodes on the way back, where the next node changes.
    edge = _ladder_edge_s()
    assert edge == pytest.approx(10.0, rel=0.01)
    phases = [15.0, 0.5, 40.0, 99.0, 125.0, 155.0, 185.0]
    dispatch, expected, anchor = [], [], 0.0
    for phase in phases:
        t = anchor + 2 * 20 * edge + phase
        eta = _eta_by_design(phase, edge)
        dispatch.append(t)
        expected.append(eta)
        anchor = t + eta + 60.0 - 10 * edge  # cleared after 60 s on scene, half-way round
    times = np.array(dispatch) - 1.0  # calls: dispatched 1 s later
    res_parked = simulate(parked_world, "one", _incidents(parked_world, times, [key] * len(times)))
    res_patrol = simulate(patrol_world, "one", _incidents(patrol_world, times, [key] * len(times)))
    parked_eta = res_parked.records.columns["arrival_s"] - res_parked.records.columns["dispatch_s"]
    assert parked_eta == pytest.approx(np.full(len(times), 30.0 + 100.0), rel=0.01)
    c = res_patrol.records.columns
    assert c["dispatch_s"] == pytest.approx(np.array(dispatch))
    patrol_eta = c["arrival_s"] - c["dispatch_s"]
    # to within 0.05 s: node coordinates are written to 7 decimals (about 1 cm)
    assert patrol_eta == pytest.approx(np.array(expected), abs=0.05), (patrol_eta, expected)
    assert patrol_eta.mean() < parked_eta.mean()
    assert np.all(c["from_patrol"] == 1)
    assert np.all(c["turnout_s"] == 0.0)


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


EDGE_S = 10.0
"""The ladder's edge time at free flow (100 m at 36 km/h); 20 s in the congestion period."""


def _edge_s(t: float) -> float:
    """Edge time (s) of a trip or reach starting at ``t``: halved speed from 06:00 to 12:00."""
    return 2 * EDGE_S if 6 * 3600 <= t % 86400 < 12 * 3600 else EDGE_S


def _presence_by_hand(jobs, points, times, off_air):
    """Covered samples per point and hour, counted from the designed jobs alone.

    ``jobs``: (dispatch s, scene column, on-scene s) for two cars parked at column 1 (turnout
    30 s), each job served at once by an idle car. A car is unseen from dispatch until it
    arrives, at the scene while on scene, then drives back along the bottom row (timed in the
    period it leaves). ``points``: (column, target s). Reach from a position = the time to its
    next node plus the edges from there to the point at the sample's edge time.
    """
    post = 1
    trips = []  # (dispatch, arrival, clear, scene column, edge time back)
    for dispatch, col, on_scene in jobs:
        arrival = dispatch + 30.0 + (col - post) * _edge_s(dispatch)
        clear = arrival + on_scene
        trips.append((dispatch, arrival, clear, col, _edge_s(clear)))
    counts = np.zeros((len(points), 24), dtype=int)
    margin = math.inf
    for t in times:
        if off_air(t):
            continue
        busy = [tr for tr in trips if tr[0] <= t < tr[2] + (tr[3] - post) * tr[4]]
        positions = [(post, 0.0)] * (2 - len(busy))  # idle cars at the post
        for _, arrival, clear, col, back in busy:
            if t < arrival:
                continue  # on the way: not counted
            if t < clear:
                positions.append((col, 0.0))
                continue
            driven = (t - clear) / back  # edges driven towards the post
            positions.append((col - math.ceil(driven), (math.ceil(driven) - driven) * back))
        for k, (col, target) in enumerate(points):
            reach = min((left + abs(node - col) * _edge_s(t) for node, left in positions),
                        default=math.inf)
            margin = min(margin, abs(reach - target))
            counts[k, int(t // 3600) % 24] += reach <= target
    return counts, trips, margin


def test_presence_matches_a_step_by_step_count(tmp_path):
    """Two parked cars, jobs at several distances, drives back, a congestion period and shift
    hand-overs: presence by hour equals an independent count from the designed jobs."""
    data = ladder_scenario(tmp_path, patrol=False)
    data["layouts"]["one"]["platforms"][0]["units"] = {"car": 2}
    data["shifts"] = {"starts": ["00:00", "18:00"], "handover": "20 min"}
    data["congestion"] = {"periods": [{"name": "morning", "hours": ["06:00", "12:00"],
                                       "speed_factor": {"default": 0.5}}]}
    data["run"]["duration"] = "1 d"
    data["patrol"] = {"presence_sample": "1 min"}
    _, _, world = world_for(tmp_path, data)
    col = {int(np.round(x / 100.0)) + 6: n
           for n, (x, y) in enumerate(zip(world.net.x, world.net.y, strict=True)) if y < 0}
    # (call s, scene column): free flow; starting in the period; leaving the scene just after
    # 06:00 (a congested drive back); two jobs at once; at the key location itself; evening
    calls = [(2 * 3600 + 3.3, 9), (7 * 3600 + 17.9, 11), (5 * 3600 + 52 * 60 + 1.7, 7),
             (15 * 3600 + 11.1, 11), (15 * 3600 + 95.3, 4), (20 * 3600 + 41.9, 10)]
    on_scene = 600.0
    inc = _incidents(world, [t for t, _ in calls], [col[c] for _, c in calls],
                     on_scene=[on_scene] * len(calls))
    eng = Engine(world, "one", inc)
    res = eng.run()
    p = eng.presence()
    times = np.arange(0.0, 86400.0, 60.0)
    assert p.samples.sum() == len(times)
    post_zone = ZONE_CLASSES[int(world.zones.zone[col[1]])]
    targets = world.scenario.zones.targets
    points = [(11, targets["key"]), (1, targets[post_zone])]  # the key location, the grid's post

    def off_air(t):  # hand-overs: 20 min from 00:00 and from 18:00
        return t % 86400 < 1200 or 18 * 3600 <= t % 86400 < 18 * 3600 + 1200

    counts, trips, margin = _presence_by_hand([(t + 1.0, c, on_scene) for t, c in calls],
                                              points, times, off_air)
    assert margin > 1.0  # no sample sits on a boundary (edges are 100 m to within 0.1 %)
    c = res.records.columns
    for i, (_, arrival, clear, _, _) in enumerate(trips):
        assert c["arrival_s"][i] == pytest.approx(arrival, abs=0.5)
        assert c["clear_s"][i] == pytest.approx(clear, abs=0.5)
    assert p.names[0] == "Station"
    assert p.police.tolist() == counts.tolist()
    assert 0 < counts[0].sum() < len(times) // 10  # the key location is covered only near jobs


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
    # the minor job 10 edges east along the post's row; an urgent call at the post comes in when
    # the car has driven 25 s towards it (dispatched at 1 s, turnout 30 s, diverted at 56 s)
    row = world.net.y < 0
    assert row[post]
    key = int(np.flatnonzero(row)[np.argmin(np.abs(world.net.x[row] - 500.0))])
    inc = _incidents(world, [0.0, 55.0], [key, far], priorities=[2, 0], on_scene=[600.0, 600.0],
                     types=[1, 0])
    eng = Engine(world, "one", inc)
    res = eng.run()
    c = res.records.columns
    assert c["diverted"][0] == 1 and c["by_diversion"][1] == 1
    assert c["turnout_s"][1] == 0.0
    # 2.5 edges out, it goes on to the third node, then back three edges: 6 edges - 25 s
    edge = _ladder_edge_s()
    assert c["travel_s"][1] == pytest.approx(6 * edge - 25.0, abs=0.01)
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


def test_a_backup_on_its_way_becomes_the_first_unit_when_the_first_is_diverted(tmp_path):
    data = ladder_scenario(tmp_path, patrol=False)
    data["dispatch"] = {"divert_from_minor": True}
    data["incident_types"] = [
        {"name": "urgent", "priority": "urgent", "share": 0.5,
         "on_scene": {"distribution": "fixed", "mean": "10 min"}},
        {"name": "minor pair", "priority": "minor", "share": 0.5, "units_required": 2,
         "on_scene": {"distribution": "fixed", "mean": "10 min"}}]
    a_post, b_post = lonlat(-500.0, -50.0), lonlat(-600.0, -50.0)
    data["layouts"] = {"two": {"platforms": [
        {"name": "A", "lon": a_post[0], "lat": a_post[1], "units": {"car": 1}},
        {"name": "B", "lon": b_post[0], "lat": b_post[1], "units": {"car": 1}}]}}
    _, _, world = world_for(tmp_path, data)
    net = world.net
    row = np.flatnonzero(net.y < 0)
    xs = sorted(float(net.x[n]) for n in row)  # column k of the southern row, west to east
    node_at = {k: int(row[np.argmin(np.abs(net.x[row] - x))]) for k, x in enumerate(xs)}
    fleet = world.fleets["two"]
    a, b = (int(np.flatnonzero(fleet.platform == k)[0]) for k in range(2))
    assert int(fleet.post[a]) == node_at[1] and int(fleet.post[b]) == node_at[0]
    edge = _ladder_edge_s()
    # the pair job at column 11 at t = 0: A (10 edges) is first, B (11 edges) its backup. An
    # urgent call at column 12 is handed over at 56 s: A, 2.5 edges out, is earlier there than
    # B (next node column 4 then 8 edges, against column 3 then 9 edges), so A is diverted
    inc = _incidents(world, [0.0, 55.0], [node_at[11], node_at[12]], priorities=[2, 0],
                     on_scene=[600.0, 600.0], types=[1, 0])
    res = Engine(world, "two", inc).run()
    check_result(res, fleet, expected_incidents=2, horizon_s=86400.0, warmup_s=0.0)
    c = res.records.columns
    assert c["diverted"][0] == 1 and c["by_diversion"][1] == 1 and c["unit"][1] == a
    # B, still on its way, is now the pair job's first unit, as sent at 1 s
    assert c["unit"][0] == b
    assert c["assign_s"][0] == pytest.approx(1.0) and c["queued"][0] == 0
    assert c["turnout_s"][0] == pytest.approx(30.0)
    assert c["travel_s"][0] == pytest.approx(11 * edge, abs=0.01)
    assert c["arrival_s"][0] == pytest.approx(31.0 + 11 * edge, abs=0.01)
    # the second unit is A again, after the urgent job: it is the last to arrive
    asg = res.assignments
    again = (asg["incident"] == 0) & (asg["unit"] == a) & ~asg["diverted"]
    assert again.sum() == 1
    assert c["full_arrival_s"][0] == pytest.approx(float(asg["arrival_s"][again][0]))
    assert c["units_sent"][0] == 2


@st.composite
def _loop_scenes(draw):
    """Loops laid end to end, units on them in any state, and driving-time rows."""
    n_nodes = draw(st.integers(2, 6))
    n_loops = draw(st.integers(1, 4))
    cums, bases, cycles, nodes, base = [], [], [], [], 0.0
    for _ in range(n_loops):
        steps = draw(st.lists(st.floats(1.0, 30.0), min_size=1, max_size=5))
        cum = np.concatenate([[0.0], np.cumsum(steps)])  # back at the start after a cycle
        bases.append(base)
        cums.append(cum + base)
        cycles.append(float(cum[-1]))
        stops = draw(st.lists(st.integers(0, n_nodes - 1), min_size=len(steps),
                              max_size=len(steps)))
        nodes += stops + stops[:1]
        base += cycles[-1] + 1.0
    flat_cum = np.concatenate(cums)
    n_rows = draw(st.integers(1, len(flat_cum)))
    row_of = np.array(draw(st.lists(st.integers(0, n_rows - 1), min_size=len(flat_cum),
                                    max_size=len(flat_cum))), dtype=np.int64)
    # whole seconds (and a few ties) make equal arrivals likely; node-major, as the world's
    rows = np.array(draw(st.lists(st.integers(0, 300), min_size=n_rows * n_nodes,
                                  max_size=n_rows * n_nodes)), dtype=np.float32).reshape(n_nodes, -1)
    n_units = draw(st.integers(1, 12))
    loop_of = draw(st.lists(st.integers(0, n_loops - 1), min_size=n_units, max_size=n_units))
    anchor = draw(st.lists(st.floats(-5000.0, 5000.0), min_size=n_units, max_size=n_units))
    trans_end = draw(st.lists(st.sampled_from([-math.inf, 0.0, 900.0, 1000.0, 1100.0]),
                              min_size=n_units, max_size=n_units))
    blocked = draw(st.lists(st.sampled_from([0, 0, 1, 2]), min_size=n_units, max_size=n_units))
    on_air = draw(st.lists(st.booleans(), min_size=n_units, max_size=n_units))
    k = draw(st.sampled_from([1, 1, 2, 3, 5]))
    node = draw(st.integers(0, n_nodes - 1))
    now = draw(st.sampled_from([1000.0, 1000.5, 12345.25]))
    return (n_nodes, bases, cycles, flat_cum, np.array(nodes, dtype=np.int64), rows, row_of,
            loop_of, anchor, trans_end, blocked, on_air, k, node, now)


@settings(max_examples=300, deadline=None)
@given(_loop_scenes())
def test_compiled_loop_dispatch_finds_the_k_earliest_with_the_python_floats(scene):
    """positions.loop_offers against a brute force in plain Python: every available looping
    unit timed (Python's ``%`` and ``bisect``), no pruning; the k earliest of those (ties to the
    lower unit) must be the k earliest the kernel leaves, with the same floats. (Parked units
    seeding the k-th best are tested with positions.unit_offers, below.)"""
    from bisect import bisect_left

    from sim.engine.positions import loop_offers, second_starts

    (n_nodes, bases, cycles, flat_cum, flat_node, rows, row_of, loop_of, anchor, trans_end,
     blocked, on_air, k, node, now) = scene
    n_units, n_loops = len(loop_of), len(bases)
    cum_list = flat_cum.tolist()
    # brute force: every available unit of every loop
    expected = []
    for u in range(n_units):
        if on_air[u] and blocked[u] == 0 and trans_end[u] <= now:
            lp = loop_of[u]
            phase = (now - anchor[u]) % cycles[lp]
            kf = bisect_left(cum_list, bases[lp] + phase)
            offset = cum_list[kf] - bases[lp] - phase
            expected.append((offset + float(rows[node, row_of[kf]]), u))
    expected.sort()
    # the kernel's inputs: each loop's lower bound is its least row entry for the node
    bound = np.array([min(rows[node, row_of[kf]] for kf in range(len(flat_cum))
                          if bases[lp] <= flat_cum[kf] <= bases[lp] + cycles[lp])
                      for lp in range(n_loops)], dtype=np.float32)
    order = np.argsort(bound, kind="stable")
    low = np.tile(bound[order], (n_nodes, 1))
    order2 = np.tile(order.astype(np.int64), (n_nodes, 1))
    units_of = [[u for u in range(n_units) if loop_of[u] == lp] for lp in range(n_loops)]
    ptr = np.cumsum([0] + [len(us) for us in units_of]).astype(np.int64)
    flat_units = np.array([u for us in units_of for u in us], dtype=np.int64)
    cand = np.tile(np.array(on_air, dtype=bool), (1440, 1))
    top = np.empty(n_units + 1)  # room for every arrival
    out = np.empty((n_units, 4))
    n = loop_offers(node, now, min(k, len(top)), 7, cand,
                    np.array(blocked, dtype=np.uint8), np.array(trans_end), np.array(anchor),
                    low, order2, rows, row_of, flat_node, flat_cum, second_starts(flat_cum),
                    np.array(bases),
                    np.array(cycles), ptr, flat_units, top, out)
    got = sorted((float(r[0]), int(r[1])) for r in out[:n])
    assert got[:k] == expected[:k]
    exact = {u: eta for eta, u in expected}
    for eta, u, nxt, offset in out[:n].tolist():  # each one's float, and where it was found
        assert eta == exact[int(u)]
        lp = loop_of[int(u)]
        phase = (now - anchor[int(u)]) % cycles[lp]
        kf = bisect_left(cum_list, bases[lp] + phase)
        assert (nxt, offset) == (flat_node[kf], cum_list[kf] - bases[lp] - phase)


@st.composite
def _dispatch_scenes(draw):
    """A loop scene (:func:`_loop_scenes`) plus parked units after the looping ones: their
    driving times from their posts (whole seconds, ties and unreachable nodes), turnouts and
    states; any unit may still be driving back."""
    scene = draw(_loop_scenes())
    n_nodes, n_loop_units = scene[0], len(scene[7])
    n_parked = draw(st.integers(0, 6))
    times = draw(st.lists(st.sampled_from([0.0, 30.0, 30.0, 60.0, 95.0, math.inf]),
                          min_size=n_parked * n_nodes, max_size=n_parked * n_nodes))
    post_time = np.zeros((n_nodes, n_loop_units + n_parked))
    post_time[:, n_loop_units:] = np.array(times).reshape(n_nodes, n_parked)
    turnout = [0.0] * n_loop_units + draw(st.lists(st.sampled_from([0.0, 30.0, 60.0]),
                                                   min_size=n_parked, max_size=n_parked))
    states = draw(st.lists(st.tuples(st.sampled_from([-math.inf, 0.0, 1000.0, 1100.0]),
                                     st.sampled_from([0, 0, 1, 2]), st.booleans()),
                           min_size=n_parked, max_size=n_parked))
    return scene, post_time, np.array(turnout), states


@settings(max_examples=300, deadline=None)
@given(_dispatch_scenes())
def test_compiled_dispatch_of_parked_and_looping_units_matches_a_brute_force(scenes):
    """positions.unit_offers (with and without loops) against plain
    Python: every available unit, parked (turnout plus the drive from its post) or looping,
    timed with no pruning; the k earliest (ties to the lower unit) must be the kernel's, with
    the same floats, and the units it lists as driving back must be exactly the available ones
    whose drive has not ended."""
    from bisect import bisect_left

    from sim.engine.positions import dispatch_tables, second_starts, unit_offers

    scene, post_time, turnout, states = scenes
    (n_nodes, bases, cycles, flat_cum, flat_node, rows, row_of, loop_of, anchor, trans_end,
     blocked, on_air, k, node, now) = scene
    n_loop_units, n_loops = len(loop_of), len(bases)
    n_units = n_loop_units + len(states)
    trans_end = list(trans_end) + [s[0] for s in states]
    blocked = list(blocked) + [s[1] for s in states]
    on_air = list(on_air) + [s[2] for s in states]
    cum_list = flat_cum.tolist()
    expected = []
    for u in range(n_units):
        if not (on_air[u] and blocked[u] == 0 and trans_end[u] <= now):
            continue
        if u >= n_loop_units:  # parked
            expected.append((float(post_time[node, u]) + float(turnout[u]), u))
            continue
        lp = loop_of[u]
        phase = (now - anchor[u]) % cycles[lp]
        kf = bisect_left(cum_list, bases[lp] + phase)
        expected.append((cum_list[kf] - bases[lp] - phase + float(rows[node, row_of[kf]]), u))
    expected.sort()
    driving = [u for u in range(n_units) if trans_end[u] > now and on_air[u] and blocked[u] == 0]
    # the kernel's inputs: parked units by arrival from their posts, loops by lower bound
    parked = np.arange(n_loop_units, n_units)
    eta = post_time[:, parked] + turnout[parked]
    post_order = parked[np.argsort(eta, axis=1, kind="stable")].astype(np.int16)
    bound = np.array([min(rows[node, row_of[kf]] for kf in range(len(flat_cum))
                          if bases[lp] <= flat_cum[kf] <= bases[lp] + cycles[lp])
                      for lp in range(n_loops)], dtype=np.float32)
    order = np.argsort(bound, kind="stable")
    units_of = [[u for u in range(n_loop_units) if loop_of[u] == lp] for lp in range(n_loops)]
    ptr = np.cumsum([0] + [len(us) for us in units_of]).astype(np.int64)
    top = np.empty(n_units + 1)
    out = np.empty((max(n_units, 1), 4))
    transit = np.empty(max(n_units, 1), dtype=np.int64)
    cand = np.tile(np.array(on_air, dtype=bool), (1440, 1))
    blocked_a = np.array(blocked, dtype=np.uint8)
    trans_end_a = np.array(trans_end)
    tables = dispatch_tables(
        cand, blocked_a, trans_end_a, post_order, post_time, turnout,
        np.array(list(anchor) + [0.0] * len(states)), np.tile(bound[order], (n_nodes, 1)),
        np.tile(order.astype(np.int64), (n_nodes, 1)), rows, row_of, flat_node, flat_cum,
        second_starts(flat_cum), np.array(bases), np.array(cycles), ptr,
        np.array([u for us in units_of for u in us], dtype=np.int64), top, out, transit)
    n, n_transit, *first = unit_offers(node, now, min(k, len(top)), 7, tables)
    got = [(float(r[0]), int(r[1])) for r in out[:n]]
    assert got == sorted(got)  # in order of arrival, then unit
    assert got[:k] == expected[:k]
    assert first == (out[0].tolist() if n else [np.inf, -1.0, -1.0, 0.0])
    assert transit[:n_transit].tolist() == driving
    exact = {u: e for e, u in expected}
    for e, u, nxt, offset in out[:n].tolist():
        assert e == exact[int(u)]
        if u >= n_loop_units:  # parked: found at its post, no time to a next node
            assert (nxt, offset) == (-1.0, 0.0)
    # a layout without loops: the k earliest parked units, in order, and the same units
    # driving back
    no_loops = dispatch_tables(
        cand, blocked_a, trans_end_a, post_order, post_time, turnout, np.zeros(n_units),
        np.zeros((n_nodes, 0), dtype=np.float32), np.zeros((n_nodes, 0), dtype=np.int64),
        np.zeros((n_nodes, 0), dtype=np.float32), np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(1, dtype=np.int64), np.zeros(0),
        np.zeros(0), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), top, out,
        transit)
    n, n_transit, *first = unit_offers(node, now, min(k, len(top)), 7, no_loops)
    assert [(e, int(u)) for e, u, _, _ in out[:n].tolist()] == \
        [(e, u) for e, u in expected if u >= n_loop_units][:k]
    assert out[:n, 2:].tolist() == [[-1.0, 0.0]] * n
    assert transit[:n_transit].tolist() == driving
    # the arrays are referred to, not copied: a unit blocked after the tables were made is
    # not offered
    if n:
        blocked_a[int(out[0, 1])] = 1
        assert unit_offers(node, now, min(k, len(top)), 7, no_loops)[2:4] != tuple(first[:2])


def test_the_array_mirrors_of_unit_state_match_the_lists_at_every_dispatch(tmp_path, monkeypatch):
    """The compiled dispatch reads busy units, drive ends and loop anchors from arrays kept
    beside the engine's lists; a write that reaches one and not the other would make it time
    units from a stale state. Checked at every dispatch of a busy patrolling run."""
    from sim.world.demand import generate_incidents

    data = tiny_scenario("grid.osm", days="2 d", per_day=240.0)
    for unit_type in data["unit_types"].values():
        unit_type["patrols"] = True
    data["layouts"]["two_posts"]["patrol"] = True
    _, _, world = world_for(tmp_path, data)
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=5, replication=0,
                             weights=world.weights)
    checked = []
    send = Engine._send

    def spy(self, i, now):
        traj = self.traj
        assert self._blocked.tolist() == [int(b) for b in self.busy]
        assert traj.trans_end_a.tolist() == traj.trans_end
        assert traj.anchor_a.tolist() == traj.anchor
        checked.append(any(self.busy))
        return send(self, i, now)

    monkeypatch.setattr(Engine, "_send", spy)
    assert world.fleets["two_posts"].loops  # the units patrol
    simulate(world, "two_posts", inc, 0)
    assert len(checked) > 300 and any(checked)  # (some dispatches with units busy)


def test_presence_counts_police_and_volunteers_apart_as_a_sample_by_sample_count(tmp_path):
    """Parked police (one off the air at night) and two volunteer beats on a grid, no jobs:
    presence by hour, police and volunteers apart, equals a count sample by sample from each
    unit's lazy position (Trajectories.position) and the oracle's reverse rows."""
    write_grid_osm(tmp_path / "grid.osm")
    data = tiny_scenario("grid.osm", days="1 d")
    data["unit_types"]["walker"] = {"role": "volunteer", "access": "walk",
                                    "max_speed": "5 km/h", "turnout": "0 s"}
    data["layouts"]["two_posts"]["volunteers"] = [
        {"name": "Beat A", "unit_type": "walker", "teams": 2, "hours": ["08:00", "20:00"],
         "beat": [list(lonlat(-250, -125)), list(lonlat(250, -125)), list(lonlat(0, 375))]},
        {"name": "Beat B", "unit_type": "walker", "teams": 1, "hours": ["00:00", "12:00"],
         "beat": [list(lonlat(500, 125)), list(lonlat(-500, 125))]}]
    data["shifts"] = {"starts": ["00:00"], "handover": "0 min",
                      "meal_breaks": [{"window": ["01:00", "03:00"], "duration": "60 min"}]}
    data["run"]["warmup"] = "0 s"
    data["patrol"] = {"presence_sample": "5 min"}
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["two_posts"]
    assert {"volunteer", "response"} <= set(fleet.role)
    eng = Engine(world, "two_posts", hand_incidents(world, [], [], [], []))
    eng.run()
    p = eng.presence()
    times = np.arange(0.0, 86400.0, 300.0)
    police = np.zeros_like(p.police)
    volunteers = np.zeros_like(p.volunteers)
    for t in times:
        minute = int(t // 60) % 1440
        period = int(world.period_of_minute[minute])
        for k, (node, target) in enumerate(zip(p.nodes, p.targets_s, strict=True)):
            reach = {"police": math.inf, "volunteer": math.inf}
            for u in range(len(fleet)):
                if fleet.off_air[minute, u]:
                    continue
                nxt, offset = eng.traj.position(u, float(t))
                oracle = eng.traj.oracles_p[period][u]
                who = "volunteer" if fleet.role[u] == "volunteer" else "police"
                reach[who] = min(reach[who], offset + float(oracle.to_node(int(node))[0][nxt]))
            police[k, int(t // 3600)] += reach["police"] <= target
            volunteers[k, int(t // 3600)] += reach["volunteer"] <= target
    assert p.police.tolist() == police.tolist()
    assert p.volunteers.tolist() == volunteers.tolist()
    assert volunteers.sum() > 0 and police.sum() > 0 and (volunteers != police).any()
    assert volunteers[:, 20:].sum() == 0  # no beat after 20:00


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 40.0)), min_size=1, max_size=60),
       xs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_first_at_least_is_the_bisection(steps, xs):
    """A looping unit's next node, found from the first index at or past each whole second,
    is numpy's left bisection for any place on the loop (repeated times, steps far below and
    above a second, places on a time exactly, past the end)."""
    from sim.engine.positions import first_at_least, second_starts

    cum = np.cumsum([0.0, *steps])
    starts = second_starts(cum)
    places = [x * (cum[-1] + 2.0) for x in xs] + [float(c) for c in cum] + [float(np.floor(cum[-1]))]
    for x in places:
        assert first_at_least(cum, starts, x) == int(np.searchsorted(cum, x, side="left"))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_points=st.integers(1, 62))
def test_cover_bits_matches_a_point_by_point_check(seed, n_points):
    """The compiled presence pass (each set bit visited by its index) against the plain rule:
    a known position of an on-air unit covers point j when its offset plus the time from its
    node to j, in the sample's congestion period, is within j's target. Many bits set per node,
    offsets zero and positive, unknown positions, two periods, units off the air."""
    from sim.engine.presence import _count_by_hour, _cover_bits, _point_bits

    rng = np.random.default_rng(seed)
    n_nodes, n_units, n_samples = 40, 3, 50
    rev = rng.uniform(0.0, 100.0, size=(n_points, 2 * n_nodes))  # [point, period * node]
    targets = rng.uniform(20.0, 90.0, size=n_points)
    node = rng.integers(0, n_nodes, size=(n_units, n_samples))
    offset = np.where(rng.random((n_units, n_samples)) < 0.3, 0.0,
                      rng.uniform(0.0, 40.0, size=(n_units, n_samples)))
    known = rng.random((n_units, n_samples)) < 0.9
    period = rng.integers(0, 2, size=n_samples)
    minute = rng.integers(0, 1440, size=n_samples)
    units = np.array([4, 0, 2], dtype=np.int64)  # the rows' unit numbers in the fleet
    on_table = rng.random((1440, 5)) < 0.7  # [minute of day, unit]
    ((_, bits, sub, tgt),) = _point_bits(rev, targets)
    assert bits.tolist() == [sum(1 << j for j in range(n_points) if rev[j, v] <= targets[j])
                             for v in range(2 * n_nodes)]  # (bit 61 too: the sign stays clear)
    hours = rng.integers(0, 24, size=n_samples)
    for has_shifts in (False, True):
        out = np.zeros(n_samples, dtype=np.int64)
        _cover_bits(bits, sub, tgt, node, offset, known, period * n_nodes, has_shifts, on_table,
                    minute, units, out)
        counts = np.zeros((n_points + 3, 24), dtype=np.int64)
        _count_by_hour(out, hours, 3, counts)
        expect_counts = np.zeros_like(counts)
        for t in range(n_samples):
            expect = 0
            for u in range(n_units):
                if known[u, t] and (not has_shifts or on_table[minute[t], units[u]]):
                    for j in range(n_points):
                        if rev[j, period[t] * n_nodes + node[u, t]] + offset[u, t] <= targets[j]:
                            expect |= 1 << j
            assert int(out[t]) == expect
            for j in range(n_points):  # each covered point counts once in its sample's hour
                expect_counts[3 + j, hours[t]] += (expect >> j) & 1
        assert counts.tolist() == expect_counts.tolist()


def test_volunteer_arrival_of_each_minor_job_is_the_earliest_on_air_volunteer(tmp_path):
    """Two volunteer beats (one on the air 08:00-20:00, one 00:00-12:00) and minor jobs all
    day: each job's volunteer arrival equals, at its hand-over, the least over the volunteers
    on the air of the time to the next node of the beat plus the drive from there (the lazy
    position in plain Python and the oracle's reverse row); NaN when none is on the air, and
    none for other priorities."""
    from sim.scenario import PRIORITIES

    write_grid_osm(tmp_path / "grid.osm")
    data = tiny_scenario("grid.osm", days="1 d")
    data["unit_types"]["walker"] = {"role": "volunteer", "access": "walk",
                                    "max_speed": "5 km/h", "turnout": "0 s"}
    data["layouts"]["two_posts"]["volunteers"] = [
        {"name": "Beat A", "unit_type": "walker", "teams": 2, "hours": ["08:00", "20:00"],
         "beat": [list(lonlat(-250, -125)), list(lonlat(250, -125)), list(lonlat(0, 375))]},
        {"name": "Beat B", "unit_type": "walker", "teams": 1, "hours": ["00:00", "12:00"],
         "beat": [list(lonlat(500, 125)), list(lonlat(-500, 125))]}]
    data["patrol"] = {"volunteers_first_on_minor": True}
    data["run"]["warmup"] = "0 s"
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["two_posts"]
    minor, urgent = PRIORITIES.index("minor"), PRIORITIES.index("urgent")
    rng = np.random.default_rng(7)
    times = np.sort(rng.uniform(0.0, 86000.0, 60)).round(1)
    nodes = rng.integers(0, world.net.n_nodes, 60)
    prios = np.where(np.arange(60) % 5 == 0, urgent, minor)
    inc = hand_incidents(world, times.tolist(), nodes.tolist(), prios.tolist(), [300.0] * 60)
    eng = Engine(world, "two_posts", inc)
    got = eng.run().records.column("volunteer_arrival_s")
    vols = [u for u in range(len(fleet)) if fleet.role[u] == "volunteer"]
    for i in range(60):
        t = float(inc.dispatch_s[i])
        minute = int(t // 60) % 1440
        period = int(world.period_of_minute[minute])
        best = math.inf
        for u in vols:
            if fleet.off_air[minute, u]:
                continue
            nxt, offset = eng.traj.position(u, t)
            oracle = eng.traj.oracles_p[period][u]
            best = min(best, offset + float(oracle.to_node(int(nodes[i]))[0][nxt]))
        if prios[i] != minor or best == math.inf:
            assert math.isnan(got[i]), i
        else:
            assert got[i] == pytest.approx(t + best, abs=1e-3), i  # (rows in single precision)
    assert np.isfinite(got).sum() > 20 and np.isnan(got[prios == minor]).any()


@settings(max_examples=300, deadline=None)
@given(x=st.floats(-1e7, 1e12, allow_nan=False), c=st.floats(1e-3, 1e5),
       shift=st.sampled_from([0, -1, 1]))
def test_floor_mod_is_pythons_remainder_bit_for_bit(x, c, shift):
    """positions.floor_mod (the compiled loop phase) against Python's float %, also at and
    next to exact multiples of the cycle, where a quotient one off would show."""
    from sim.engine.positions import floor_mod

    for value in (x, math.floor(x / c) * c, math.floor(x / c + 1) * c):
        if shift:
            value = math.nextafter(value, shift * math.inf)
        got, want = floor_mod(value, c), value % c
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (value, c)


def _position_by_the_book(traj, u: int, t: float) -> tuple[int, float, bool]:
    """Unit ``u``'s position at ``t`` read from its logged segments one sample at a time, in
    plain Python: the segment started last by ``t``; a drive's length from the reverse row of
    its target (not the logged end); a loop position by Python's ``%`` and a bisection of the
    loop's own cumulative times."""
    from bisect import bisect_left, bisect_right

    from sim.engine.positions import JOB, PARK, TRANSIT

    segs = traj.segments(u).tolist()
    start, kind, a, b, c, d, e = segs[bisect_right([sg[0] for sg in segs], t) - 1]
    if kind == PARK:
        return int(a), 0.0, True
    if kind == JOB:
        return int(a), 0.0, t >= b
    anchor = a
    if kind == TRANSIT:
        oracle = traj.oracles_p[int(d)][u]
        drive = float(oracle.to_node(int(b))[0][int(a)])
        assert e == start + drive  # the end logged is the engine's: the same sum
        if t < start + drive:
            nxt, left = oracle.along_route(int(a), int(b), t - start)
            return int(nxt), float(left), True
        if traj.loop[u] < 0:
            return int(b), 0.0, True
        anchor = c
    lp = traj.fleet.loops[traj.loop[u]]
    phase = (t - anchor) % float(lp.cycle)
    j = bisect_left(lp.cum.tolist(), phase)
    return int(lp.nodes[j]), float(lp.cum[j]) - phase, True


def test_batched_trajectories_match_each_sample_read_by_the_book(tmp_path):
    # a patrolling unit and a parked one, sent out and driving back: every kind of segment,
    # samples caught mid-drive, for both units at once and for each alone
    data = ladder_scenario(tmp_path, patrol=True)
    data["unit_types"]["van"] = {"turnout": "30 s", "patrols": False}
    here = lonlat(0.0, 50.0)
    data["layouts"]["one"]["platforms"].append(
        {"name": "Q", "lon": here[0], "lat": here[1], "units": {"van": 1}})
    _, _, world = world_for(tmp_path, data)
    assert world.fleets["one"].loop.tolist() == [0, -1]
    nodes = [0, 12, 23, 5, 19, 7]
    eng = Engine(world, "one", _incidents(world, [600.0, 700.0, 2000.0, 2100.0, 5000.0, 5050.0],
                                          nodes, on_scene=[90.0, 200.0, 60.0, 300.0, 45.0, 120.0],
                                          horizon=9000.0))
    eng.run()
    times = np.arange(0.0, 9000.0, 3.7)
    both = eng.traj.trajectories([1, 0], times)
    for row, u in enumerate((1, 0)):
        alone = eng.traj.trajectories([u], times)
        for got in (both, alone):
            assert [(int(n), float(o), bool(k)) for n, o, k in
                    zip(got[0][-1 if got is alone else row], got[1][-1 if got is alone else row],
                        got[2][-1 if got is alone else row], strict=True)] \
                == [_position_by_the_book(eng.traj, u, float(t)) for t in times]
    kinds = {int(sg[1]) for u in (0, 1) for sg in eng.traj.segments(u).tolist()}
    assert kinds == {0, 1, 2, 3}  # park, loop, transit and job segments were all read


def test_layouts_share_presence_bits_only_where_their_points_and_units_agree(tmp_path):
    """The presence bits (kept by the world for every run) are keyed by what they are made of:
    a layout whose grid post stands elsewhere gets its own, and its presence is what a world
    that never ran the other layout gives; a layout with the same post and unit type shares
    the first one's table."""
    data = tiny_scenario("grid.osm", days="1 d", per_day=30.0)
    west, east = lonlat(-625, -125), lonlat(625, 125)
    data["layouts"] = {
        "west": {"platforms": [{"name": "P", "lon": west[0], "lat": west[1], "units": {"car": 2}}]},
        "east": {"platforms": [{"name": "P", "lon": east[0], "lat": east[1], "units": {"car": 2}}]},
        "west_again": {"platforms": [{"name": "P", "lon": west[0], "lat": west[1],
                                      "units": {"car": 1}}]},
    }
    data["patrol"] = {"presence_sample": "5 min"}
    data["zones"]["targets"] = {"key": "1 min", "central": "1 min", "other": "1 min"}  # (the
    # grid is crossed in 3 min: with longer targets every point is covered from everywhere)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, net, shared = world_for(tmp_path / "a", data)
    _, _, fresh = world_for(tmp_path / "b", data)
    from sim.world.demand import generate_incidents

    s = shared.scenario
    inc = generate_incidents(s, net, shared.zones, seed=s.run.seed, replication=0,
                             weights=shared.weights)
    first = {name: simulate(shared, name, inc, 0).presence for name in ("west", "east", "west_again")}
    bits = [k for k in shared.run_tables if k[0] == "bits"]
    assert len(bits) == 2  # west and west_again share one; east has its own
    for name in ("east", "west_again"):
        alone = simulate(fresh, name, inc, 0).presence
        assert first[name].police.tolist() == alone.police.tolist()
        fresh.run_tables.clear()
    assert first["west"].police.tolist() != first["east"].police.tolist()
