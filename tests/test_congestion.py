"""Congestion by hour of day: per-period oracles, the period of a trip, validation, defaults."""

import copy
import itertools
import math

import networkx as nx
import numpy as np
import pytest

from sim.engine.core import TRANSIT, Engine
from sim.network.graph import LocalFrame, RoadNetwork
from sim.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario
from sim.types import IncidentSet
from sim.world.prepare import _period_oracles

from .conftest import lonlat, tiny_scenario, world_for, write_scenario
from .test_patrol import ladder_scenario

PEAK = {"name": "peak", "hours": ["07:00", "09:00"],
        "speed_factor": {"residential": 0.5, "default": 0.8}}
EDGE_V = 10.0  # the ladder: edges of about 100 m at 36 km/h


def _incidents(world, dispatch, nodes, on_scene=60.0, horizon=86400.0):
    n = len(dispatch)
    nodes = np.asarray(nodes, dtype=np.int64)
    return IncidentSet(call_s=np.asarray(dispatch, float) - 1.0, dispatch_s=np.asarray(dispatch, float),
                       node=nodes, zone=world.zones.zone[nodes],
                       key_location=world.zones.key_location[nodes],
                       type_index=np.zeros(n, dtype=np.int16), priority=np.ones(n, dtype=np.int8),
                       on_scene_s=np.full(n, on_scene), horizon_s=horizon)


def _congested_ladder(tmp_path, *, patrol=False):
    data = ladder_scenario(tmp_path, patrol=patrol)
    data["run"]["duration"] = "1 d"
    data["congestion"] = {"periods": [copy.deepcopy(PEAK)]}
    data["unit_types"] = {
        "car": {"turnout": "30 s", "patrols": True},  # sensitivity 1 by default
        "moto": {"turnout": "30 s", "congestion_sensitivity": 0.5},
        "foot": {"turnout": "30 s", "congestion_sensitivity": 0},
    }
    platform = data["layouts"]["one"]["platforms"][0]
    data["layouts"] = {name: {"patrol": patrol, "platforms": [dict(platform, units={name: 1})]}
                       for name in ("car", "moto", "foot")}
    return world_for(tmp_path, data)


def _edge_m(net, a, b):
    """Length (m) of the shortest edge a -> b."""
    return float(net.edge_length[(net.edge_u == a) & (net.edge_v == b)].min())


def _bottom_row(net, x0, x1):
    """Nodes along the ladder's bottom row from x0 to x1 (m), and the edge lengths between them."""
    xs = np.linspace(x0, x1, round(abs(x1 - x0) / 100.0) + 1)
    nodes = [_node_at(net, x, -50.0) for x in xs]
    return nodes, [_edge_m(net, a, b) for a, b in itertools.pairwise(nodes)]


def _node_at(net, x, y):
    return net.nearest_node(*(float(v) for v in net.frame.to_local(*lonlat(x, y))))[0]


def test_a_trip_is_timed_in_the_period_it_starts_in(tmp_path):
    _, net, world = _congested_ladder(tmp_path)
    far = _node_at(net, 500.0, -50.0)  # 10 edges east of the post (the ladder's end columns
    # are simplified away)
    post = int(world.fleets["car"].post[0])
    nodes, lengths = _bottom_row(net, -500.0, 500.0)
    assert nodes[0] == post and nodes[-1] == far
    free = sum(lengths) / EDGE_V  # about 10 edges of 10 s
    assert world.oracles["car"].time(post, far) == pytest.approx(free)
    # off-peak at 03:00; in the peak at 07:30; dispatched 10 s before the peak (the drive itself
    # starts after the 30 s turnout, inside the peak, but the period is that of the dispatch)
    dispatch = [3 * 3600.0, 7.5 * 3600.0, 7 * 3600.0 - 10.0, 9 * 3600.0]
    nodes = [far] * len(dispatch)
    # by hand: 11 edges of 10 s at free flow; in the peak the residential factor 0.5 doubles it
    # for a car; a motorcycle of sensitivity 0.5 drives at 1 - 0.5 * (1 - 0.5) = 0.75 of its speed
    expected = {"car": [free, sum(lengths) / (EDGE_V * 0.5), free, free],
                "moto": [free, sum(lengths) / (EDGE_V * 0.75), free, free],
                "foot": [free, free, free, free]}
    for layout, want in expected.items():
        rec = Engine(world, layout, _incidents(world, dispatch, nodes)).run().records.columns
        assert rec["turnout_s"] == pytest.approx([30.0] * 4)
        assert rec["travel_s"] == pytest.approx(want), layout
    # the foot type is unaffected: it shares the free-flow oracle in the peak
    assert world.period_oracles[1]["foot"] is world.oracles["foot"]
    assert world.period_oracles[1]["car"] is not world.oracles["car"]
    assert world.n_periods == 2
    assert world.period_of_minute[7 * 60 - 1] == 0 and world.period_of_minute[7 * 60] == 1
    assert world.period_of_minute[9 * 60 - 1] == 1 and world.period_of_minute[9 * 60] == 0


def test_the_drive_back_uses_the_period_of_the_clearance(tmp_path):
    _, net, world = _congested_ladder(tmp_path)
    far = _node_at(net, 500.0, -50.0)
    # job 1 clears in the peak; job 2 is dispatched in the peak but clears after it
    t1 = 7.5 * 3600.0
    t2 = 9 * 3600.0 - 200.0  # arrives 30 + about 200 s later, just after 09:00
    eng = Engine(world, "car", _incidents(world, [t1, t2], [far, far]))
    rec = eng.run().records.columns
    back_nodes, back_m = _bottom_row(net, 500.0, -500.0)
    peak = sum(back_m) / (EDGE_V * 0.5)
    free = sum(back_m) / EDGE_V
    assert rec["travel_s"] == pytest.approx([peak, peak])
    assert rec["clear_s"][1] > 9 * 3600.0
    transits = [sg for sg in eng.segments(0).tolist() if sg[1] == TRANSIT]
    assert [sg[5] for sg in transits] == [1.0, 0.0]  # the period is logged with the transit
    clear1 = float(rec["clear_s"][0])
    assert transits[0][0] == clear1
    oracle_peak = world.period_oracles[1]["car"]
    post = int(world.fleets["car"].post[0])
    assert oracle_peak.time(far, post) == pytest.approx(peak)
    # replay the first drive back: the unit's state as it was then
    eng2 = Engine(world, "car", _incidents(world, [t1], [far]))
    eng2.run()
    assert eng2.trans_end[0] == pytest.approx(clear1 + peak)
    assert eng2.trans_period[0] == 1
    path = oracle_peak.path_to(far, post)
    assert list(path) == back_nodes
    edge = [m / (EDGE_V * 0.5) for m in back_m]  # peak edge times, by hand
    times = np.linspace(clear1, clear1 + peak + 10.0, 117)
    traj = eng2.trajectory(0, times)
    for i, t in enumerate(times):
        # explicit walk, edge by edge with the peak edge times
        walked_next, walked_left, clock = int(path[-1]), 0.0, clear1
        for k in range(len(path)):
            at = clock + (sum(edge[:k]))
            if at >= t:
                walked_next, walked_left = int(path[k]), at - t
                break
        nxt, left = eng2.position(0, t)
        assert nxt == walked_next and left == pytest.approx(walked_left, abs=1e-9)
        assert traj[0][i] == walked_next and traj[1][i] == pytest.approx(walked_left, abs=1e-9)
    # the second job cleared after the peak: its drive back takes the free-flow time
    clear2 = float(rec["clear_s"][1])
    assert eng.trans_end[0] == pytest.approx(clear2 + free)
    assert eng.position(0, clear2 + 5.0) == (int(path[1]), pytest.approx(back_m[0] / EDGE_V - 5.0))


def test_patrol_loop_keeps_free_flow_timing_but_the_drive_to_a_job_is_congested(tmp_path):
    _, net, world = _congested_ladder(tmp_path, patrol=True)
    loop = world.fleets["car"].loops[0]
    _, out_m = _bottom_row(net, -500.0, 500.0)
    assert loop.cycle == pytest.approx(2 * sum(out_m) / EDGE_V)  # free flow: post -> key -> post
    eng = Engine(world, "car", _incidents(world, [], []))
    far = _node_at(net, 400.0, 50.0)  # on the top row, off the loop
    for t in (3 * 3600.0 + 17.0, 7.5 * 3600.0 + 17.0):
        nxt, left = eng.position(0, t)
        period = eng.period(t)
        want = left + world.period_oracles[period]["car"].time(nxt, far)
        got = eng._best_units(far, t, int(t // 60.0) % 1440, 1)[0]
        assert got[2] == pytest.approx(want, abs=1e-3)  # float32 rows
    rows_peak = world.loop_rows("car", 0, 1)[0]
    assert rows_peak[0, far] == pytest.approx(2 * world.loop_rows("car", 0, 0)[0][0, far])


def test_presence_uses_the_period_of_each_sample(tmp_path):
    _, _, world = _congested_ladder(tmp_path, patrol=True)
    eng = Engine(world, "car", _incidents(world, [], []))
    eng.run()
    p = eng.presence()
    step = world.scenario.patrol.presence_sample
    times = np.arange(0.0, 86400.0, step)
    covered = np.zeros((len(p.nodes), 24), dtype=int)
    for t in times:
        oracle = world.period_oracles[eng.period(t)]["car"]
        nxt, left = eng.position(0, t)
        for k, (node, target) in enumerate(zip(p.nodes, p.targets_s, strict=True)):
            if left + oracle.time(nxt, int(node)) <= target:
                covered[k, int(t // 3600) % 24] += 1
    assert p.police.tolist() == covered.tolist()
    # the peak (07:00-09:00) lowers presence against the same loop at 03:00
    assert covered[:, 7].sum() < covered[:, 3].sum()


def _random_net(seed):
    rng = np.random.default_rng(seed)
    n = 14
    edges = [(int(a), int(b)) for a, b in rng.integers(0, n, size=(45, 2)) if a != b]
    u = np.array([e[0] for e in edges], dtype=np.int32)
    v = np.array([e[1] for e in edges], dtype=np.int32)
    xy = rng.uniform(0, 300, size=(n, 2))
    length = np.hypot(*(xy[u] - xy[v]).T) + rng.uniform(1, 400, size=len(edges))
    frame = LocalFrame(111.47, 27.24)
    lon, lat = frame.to_lonlat(xy[:, 0], xy[:, 1])
    classes = ("primary", "residential", "service")
    return RoadNetwork(osmid=np.arange(n, dtype=np.int64) + 1, lon=lon, lat=lat, x=xy[:, 0],
                       y=xy[:, 1], edge_u=u, edge_v=v, edge_length=length,
                       edge_class=rng.integers(0, 3, size=len(edges)).astype(np.int16),
                       classes=classes, frame=frame, source="test", checksum="test")


@pytest.mark.parametrize("seed", range(6))
def test_period_oracles_match_networkx_on_the_periods_weights(tmp_path, seed):
    data = tiny_scenario("grid.osm")
    data["network"]["speeds"] = {"primary": "50 km/h", "residential": "30 km/h", "default": "20 km/h"}
    data["congestion"] = {"periods": [
        {"name": "am", "hours": ["07:00", "09:00"],
         "speed_factor": {"primary": 0.5, "residential": 0.7, "default": 0.9}},
        {"name": "night", "hours": ["23:00", "01:00"], "speed_factor": {"default": 0.95}}]}
    data["unit_types"]["moto"]["congestion_sensitivity"] = 0.4
    s = load_scenario(write_scenario(tmp_path / "s.yaml", data)).scenario
    net = _random_net(seed)
    per_period = _period_oracles(s, net)
    assert len(per_period) == 3
    speeds = s.network.speeds
    for p, factors in enumerate([None, *(q.speed_factor for q in s.congestion.periods)]):
        for name, ut in s.unit_types.items():
            G = nx.DiGraph()
            G.add_nodes_from(range(net.n_nodes))
            for a, b, length, c in zip(net.edge_u, net.edge_v, net.edge_length, net.edge_class,
                                       strict=True):
                cls = net.classes[c]
                v = speeds.get(cls, speeds["default"]) * ut.speed_factor
                if ut.max_speed is not None:
                    v = min(v, ut.max_speed)
                if factors is not None:
                    f = factors.get(cls, factors["default"])
                    v *= 1 - ut.congestion_sensitivity * (1 - f)
                t = length / v
                if not G.has_edge(a, b) or G[a][b]["t"] > t:
                    G.add_edge(int(a), int(b), t=t)
            oracle = per_period[p][name]
            for src in range(net.n_nodes):
                want = nx.single_source_dijkstra_path_length(G, src, weight="t")
                row = oracle.from_node(src)
                for dst in range(net.n_nodes):
                    exp = want.get(dst, math.inf)
                    assert row[dst] == pytest.approx(exp)
                    assert oracle.to_node(dst)[0][src] == pytest.approx(exp)
                    if math.isfinite(exp):
                        path = oracle.path_to(src, dst)
                        assert oracle.cumulative_times(path)[-1] == pytest.approx(exp)
                        # the free-flow bound stays a lower bound in every period
                        assert per_period[0][name].lower_bound(src, dst) <= exp + 1e-9


def _with_periods(tmp_path, periods):
    data = tiny_scenario("grid.osm")
    data["congestion"] = {"periods": periods}
    return write_scenario(tmp_path / "bad.yaml", data)


@pytest.mark.parametrize("periods, where, what", [
    ([PEAK, dict(PEAK, name="late", hours=["08:30", "10:00"])],
     "congestion.periods[1].hours", "overlaps period 'peak'"),
    ([dict(PEAK, hours=["22:00", "02:00"]), dict(PEAK, name="dawn", hours=["01:00", "03:00"])],
     "congestion.periods[1].hours", "overlaps"),
    ([dict(PEAK, speed_factor={"residential": 0, "default": 0.8})],
     "congestion.periods[0].speed_factor.residential", "above 0 and at most 1"),
    ([dict(PEAK, speed_factor={"residential": 0.5, "default": 1.2})],
     "congestion.periods[0].speed_factor.default", "above 0 and at most 1"),
    ([dict(PEAK, speed_factor={"residential": 0.5})],
     "congestion.periods[0].speed_factor", "needs a 'default' entry"),
    ([dict(PEAK, speed_factor={"residental": 0.5, "default": 0.8})],
     "congestion.periods[0].speed_factor.residental", "did you mean 'residential'"),
    ([dict(PEAK, hours=["7 am", "09:00"])], "congestion.periods[0].hours[0]", "HH:MM"),
])
def test_bad_congestion_periods_name_the_key_path(tmp_path, periods, where, what):
    with pytest.raises(ScenarioError) as info:
        load_scenario(_with_periods(tmp_path, periods))
    text = str(info.value)
    assert f": {where}: " in text and what in text, text
    assert info.value.line is not None


def test_bad_sensitivity_names_the_key_path(tmp_path):
    data = tiny_scenario("grid.osm")
    data["unit_types"]["moto"]["congestion_sensitivity"] = 1.5
    with pytest.raises(ScenarioError, match=r"unit_types\.moto\.congestion_sensitivity"):
        load_scenario(write_scenario(tmp_path / "bad.yaml", data))


def test_wrapping_period_and_the_default_scenario():
    s = load_scenario(DEFAULT_SCENARIO).scenario
    names = [p.name for p in s.congestion.periods]
    assert names == ["morning_peak", "evening_peak"]
    table = s.congestion.period_of_minute()
    assert (table == 1).sum() == 120 and (table == 2).sum() == 150 and table[3 * 60] == 0
    for p in s.congestion.periods:
        assert min(p.speed_factor.values()) > 0 and max(p.speed_factor.values()) <= 1
    sens = {k: ut.congestion_sensitivity for k, ut in s.unit_types.items()}
    assert sens["patrol_car"] == 1.0 and sens["station_car"] == 1.0
    assert sens["patrol_motorcycle"] == 0.5 and sens["volunteer_patrol"] == 0.0
    night = s.congestion.model_copy(update={"periods": [
        s.congestion.periods[0].model_copy(update={"hours": ("23:30", "00:30")})]})
    t = night.period_of_minute()
    assert t[23 * 60 + 29] == 0 and t[23 * 60 + 30] == 1 and t[29] == 1 and t[30] == 0
