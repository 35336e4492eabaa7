"""The engine against queueing theory, hand-worked traces, and its own invariants."""

import copy
import math

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from sim.analysis.metrics import mean_ci
from sim.engine.core import Engine, simulate
from sim.engine.invariants import check_invariants
from sim.study.experiment import run_batch
from sim.theory.queueing import mmc_metrics
from sim.world.demand import generate_incidents

from .conftest import hand_incidents, lonlat, tiny_scenario, world_for


def single_site(c: int, per_hour: float, mean_service_min: float, days: int, reps: int) -> dict:
    """All units at one post, every incident at that post: zero travel, M/M/c."""
    data = tiny_scenario("grid.osm", days=f"{days} d", reps=reps, per_day=per_hour * 24)
    lon, lat = lonlat(-125.0, -125.0)  # a node of the grid: the hotspot is on the road
    data["unit_types"] = {"car": {"turnout": "0 s"}}
    data["call_handling"] = {"distribution": "fixed", "mean": "1 s"}
    data["incident_types"] = [{"name": "job", "priority": "standard", "share": 1.0,
                               "on_scene": {"distribution": "exponential",
                                            "mean": f"{mean_service_min} min"}}]
    data["demand"]["hourly_profile"] = [1] * 24
    data["demand"]["hotspots"] = [{"name": "post", "lon": lon, "lat": lat, "sigma": "1 m",
                                   "share": 1.0}]
    data["layouts"] = {"site": {"platforms": [{"name": "Site", "lon": lon, "lat": lat,
                                               "units": {"car": c}}]}}
    data["run"]["warmup"] = "1 d"
    return data


# Hand-worked M/M/c values. c = 3, a = 4/h x 30 min = 2 erlangs: P(wait) = (a^c / c! x c / (c - a))
# / (1 + a + a^2/2 + a^c / c! x c / (c - a)) = 4 / 9; Wq = P(wait) / (c mu - lambda) = (4/9) /
# (3/30 - 4/60 per min) = 13 1/3 min = 800 s. c = 1, a = 0.5: P(wait) = rho = 1/2; Wq = rho /
# (mu - lambda) = 0.5 / (1/20 - 1.5/60 per min) = 20 min = 1200 s.
@pytest.mark.parametrize(("c", "per_hour", "mean_min", "p_wait_hand", "wq_hand_s"),
                         [(3, 4.0, 30.0, 4 / 9, 800.0), (1, 1.5, 20.0, 0.5, 1200.0)])
def test_single_site_matches_erlang_c(tmp_path, c, per_hour, mean_min, p_wait_hand, wq_hand_s):
    loaded, _, world = world_for(tmp_path, single_site(c, per_hour, mean_min, days=40, reps=12))
    batch = run_batch(loaded, world)
    cols = batch.records.columns
    assert np.all(np.nan_to_num(cols["travel_s"]) == 0.0)  # zero travel by construction
    p_wait, wq = [], []
    for rep in range(12):
        sel = (cols["replication"] == rep) & (cols["counted"] == 1) & ~np.isnan(cols["assign_s"])
        p_wait.append(float(np.mean(cols["queued"][sel])))
        wq.append(float(np.mean(cols["queue_wait_s"][sel])))
    theory = mmc_metrics(per_hour / 3600.0, 1.0 / (mean_min * 60.0), c)
    assert theory.prob_wait == pytest.approx(p_wait_hand, rel=1e-12)
    assert theory.mean_wait == pytest.approx(wq_hand_s, rel=1e-12)
    for values, expected in ((p_wait, theory.prob_wait), (wq, theory.mean_wait)):
        m, lo, hi = mean_ci(values)
        half = (hi - lo) / 2
        # within 4 standard errors (the CI half-width is ~2.2 SE for 12 replications)
        assert abs(m - expected) <= 2.0 * half + 1e-3 * expected, (m, expected, half)


# Hand-worked Erlang B: c = 2, a = 4/h x 30 min = 2 erlangs: B = (a^2/2) / (1 + a + a^2/2) = 2/5;
# c = 1, a = 1: B = a / (1 + a) = 1/2.
@pytest.mark.parametrize(("c", "per_hour", "mean_min", "blocked_hand"),
                         [(2, 4.0, 30.0, 0.4), (1, 2.0, 30.0, 0.5)])
def test_a_loss_system_at_one_site_matches_erlang_b(tmp_path, c, per_hour, mean_min, blocked_hand):
    data = single_site(c, per_hour, mean_min, days=40, reps=10)
    data["dispatch"] = {"when_all_busy": "overflow"}
    loaded, _, world = world_for(tmp_path, data)
    batch = run_batch(loaded, world)
    check_invariants(batch.records)
    cols = batch.records.columns
    lost = batch.records.column("outcome") == "overflow"
    assert lost.any() and not np.any(cols["queued"] == 1)  # nothing waits in a loss system
    assert np.all(cols["target_met"][lost] == 0) and np.all(np.isnan(cols["assign_s"][lost]))
    blocked = [float(np.mean(lost[(cols["replication"] == rep) & (cols["counted"] == 1)]))
               for rep in range(10)]
    m, lo, hi = mean_ci(blocked)
    assert abs(m - blocked_hand) <= (hi - lo) + 1e-3, (m, blocked_hand, (lo, hi))
    share = [r["overflow_share"] for r in batch.per_replication if r["zone"] == "all"]
    assert share == pytest.approx(blocked)


def test_same_seed_same_records_and_different_seed_differs(tmp_path):
    data = tiny_scenario("grid.osm")
    loaded, _, world = world_for(tmp_path, data)
    a = run_batch(loaded, world).records.to_csv()
    b = run_batch(loaded, world).records.to_csv()
    assert a == b
    other = copy.deepcopy(data)
    other["run"]["seed"] = 8
    loaded2, _, world2 = world_for(tmp_path, other, name="other.yaml")
    assert run_batch(loaded2, world2).records.to_csv() != a


def test_layouts_share_the_samehand_incidents(tmp_path):
    loaded, _, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    batch = run_batch(loaded, world)
    c = batch.records.columns
    for rep in range(2):
        calls = [c["call_s"][(c["layout"] == k) & (c["replication"] == rep)] for k in range(2)]
        scene = [c["node"][(c["layout"] == k) & (c["replication"] == rep)] for k in range(2)]
        assert np.array_equal(calls[0], calls[1])
        assert np.array_equal(scene[0], scene[1])



def test_queue_serves_priority_then_call_time(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"] = {"solo": {"platforms": [data["layouts"]["one_post"]["platforms"][0]]}}
    data["layouts"]["solo"]["platforms"][0]["units"] = {"car": 1}
    _, _, world = world_for(tmp_path, data)
    post = int(world.fleets["solo"].post[0])
    # four calls while the single car is busy with the first: minor, minor, urgent, standard
    inc = hand_incidents(world, [0, 10, 20, 30, 40], [post] * 5, [1, 2, 2, 0, 1], [600] * 5)
    res = simulate(world, "solo", inc)
    order = np.argsort(res.records.columns["assign_s"])
    assert list(order) == [0, 3, 1, 4, 2] or list(order) == [0, 3, 4, 1, 2]
    assert list(order) == [0, 3, 4, 1, 2]  # urgent, then standard, then minor by call time
    assert list(res.records.columns["queued"]) == [0, 1, 1, 1, 1]
    check_invariants(res.records)


def test_nearest_unit_by_arrival_time_and_deterministic_ties(tmp_path):
    _, _, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    fleet = world.fleets["two_posts"]
    node = int(fleet.post[2])  # East post: its car has turnout 30 s and zero travel
    res = simulate(world, "two_posts", hand_incidents(world, [100], [node], [1], [60]))
    assert res.records.column("unit")[0] == fleet.unit_name[2]
    assert res.records.columns["travel_s"][0] == 0.0
    # the West post holds a car (index 0) and a motorcycle (index 1); at the West post itself,
    # the motorcycle's shorter turnout wins
    west = int(fleet.post[0])
    res = simulate(world, "two_posts", hand_incidents(world, [100], [west], [1], [60]))
    assert res.records.column("unit")[0] == fleet.unit_name[1]


def test_returning_unit_is_sent_from_where_it_is(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"] = {"solo": {"platforms": [data["layouts"]["two_posts"]["platforms"][0]]}}
    data["layouts"]["solo"]["platforms"][0]["units"] = {"car": 1}
    _, net, world = world_for(tmp_path, data)
    post = int(world.fleets["solo"].post[0])
    far = int(np.argmax(np.hypot(net.x - net.x[post], net.y - net.y[post])))
    oracle = world.oracles["car"]
    back = oracle.to_node(post)[0][far]
    # job 1 at the far corner clears at t1; job 2 arrives half-way through the drive home
    first = Engine(world, "solo", hand_incidents(world, [0], [far], [1], [100]))
    t_clear = float(first.run().records.columns["clear_s"][0])
    t2 = t_clear + back / 2
    nxt, offset = first.position(0, t2)  # where the car is when the second job comes in
    assert offset > 0 and nxt not in (post, far)
    inc = hand_incidents(world, [0, t2 - 1.0], [far, far], [1, 1], [100, 100])
    rec = Engine(world, "solo", inc).run().records.columns
    expected_travel = offset + oracle.time(nxt, far)
    assert rec["turnout_s"][1] == 0.0  # already on the move
    assert rec["travel_s"][1] == pytest.approx(expected_travel)
    assert rec["travel_s"][1] < oracle.time(post, far)  # better than starting from the post


def test_lazy_position_matches_an_explicit_walk(tmp_path):
    _, _, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    eng = Engine(world, "two_posts", hand_incidents(world, [0], [0], [1], [1]))
    u = 2
    post = int(eng.fleet.post[u])
    start = 0
    traj = eng.traj
    traj.trans_from[u], traj.trans_to[u], traj.trans_t0[u] = start, post, 1000.0
    traj.trans_end[u] = 1000.0 + eng.oracle[u].time(start, post)
    path = eng.oracle[u].path_to(start, post)
    # explicit walk: edge by edge, the unit is on edge (k-1, k) until it reaches node k
    times = eng.oracle[u].cumulative_times(path)
    assert times[-1] == pytest.approx(traj.trans_end[u] - 1000.0)
    for t in np.linspace(1000.0, eng.trans_end[u] + 10, 97):
        walked_next, walked_left = path[-1], 0.0
        for k in range(len(path)):
            if 1000.0 + times[k] >= t:
                walked_next, walked_left = path[k], 1000.0 + times[k] - t
                break
        nxt, left = eng.position(u, t)
        assert nxt == walked_next
        assert left == pytest.approx(walked_left)


def test_invariants_and_censoring_at_the_horizon_without_a_cool_down(tmp_path):
    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)  # overloaded: queues build up
    data["run"]["cooldown"] = "0 s"  # the run stops at the horizon: open incidents are censored
    loaded, _, world = world_for(tmp_path, data)
    batch = run_batch(loaded, world)
    check_invariants(batch.records)
    outcome = batch.records.column("outcome")
    assert "served" in outcome and "queued" in outcome
    c = batch.records.columns
    open_ = outcome != "served"
    assert np.all(np.isnan(c["clear_s"][open_]))
    assert np.nanmax(c["clear_s"]) <= 2 * 86400.0
    # an unknown target (-1) only for incidents still open at the horizon
    assert np.all(outcome[c["target_met"] == -1] != "served")
    for row in batch.per_replication:
        assert 0.0 <= row["utilisation"] <= 1.0
        if not math.isnan(row["compliance"]):
            assert 0.0 <= row["compliance"] <= 1.0


def test_the_cool_down_lets_every_open_incident_finish(tmp_path):
    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)  # overloaded: queues build up
    _, _, world = world_for(tmp_path, data)  # the default cool-down: up to 1 d after the horizon
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=0,
                             weights=world.weights)
    res = simulate(world, "one_post", inc, 0, presence=False)
    c = res.records.columns
    horizon = 2 * 86400.0
    assert np.all(c["call_s"] < horizon)  # no new calls after the horizon
    assert np.all(res.records.column("outcome") == "served")  # every incident finished ...
    assert np.all(c["target_met"] >= 0)  # ... so every target is known
    late = c["clear_s"] > horizon
    assert late.any()  # some ran on into the cool-down, and the run stopped at the last clearance
    assert res.run_end_s == pytest.approx(float(np.nanmax(res.assignments["clear_s"])))
    assert horizon < res.run_end_s <= horizon + 86400.0


def test_incident_streams_are_independent_per_attribute(tmp_path):
    _, net, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    s = world.scenario
    a = generate_incidents(s, net, world.zones, seed=1, replication=0)
    b = generate_incidents(s, net, world.zones, seed=1, replication=0)
    c = generate_incidents(s, net, world.zones, seed=1, replication=1)
    assert np.array_equal(a.call_s, b.call_s) and np.array_equal(a.on_scene_s, b.on_scene_s)
    assert not np.array_equal(a.call_s[:5], c.call_s[:5])
    assert np.all(np.diff(a.call_s) >= 0)
    assert np.all(a.dispatch_s > a.call_s)


def test_a_unit_is_never_sent_twice_to_one_job(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"] = {"solo": {"platforms": [data["layouts"]["one_post"]["platforms"][0]]}}
    data["layouts"]["solo"]["platforms"][0]["units"] = {"car": 1}
    _, _, world = world_for(tmp_path, data)
    # more units than the layout can ever send: validation refuses such a scenario, so the engine
    # is given it directly, to show it still never counts one unit twice for one job
    s = world.scenario
    types = [t.model_copy(update={"units_required": 2}) if i == 0 else t
             for i, t in enumerate(s.incident_types)]
    world.scenario = s.model_copy(update={"incident_types": types})
    post = int(world.fleets["solo"].post[0])
    # the one car goes at 1 s, is on scene at 31 s and clears at 631 s; the job still lacks its
    # second unit, but the car that already served it is not sent again
    res = simulate(world, "solo", hand_incidents(world, [0], [post], [0], [600]))
    c = res.records.columns
    assert c["units_sent"][0] == 1 and c["units_required"][0] == 2
    assert len(res.assignments["unit"]) == 1
    assert c["clear_s"][0] == 631.0 and np.isnan(c["full_arrival_s"][0])
    check_invariants(res.records)


def test_a_run_leaves_only_post_and_loop_rows_cached_and_records_do_not_depend_on_caches(tmp_path):
    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)
    _, _, world = world_for(tmp_path, data)
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=1, replication=0, weights=world.weights)
    first = simulate(world, "two_posts", inc, 0).records.to_csv()
    keep = world.pinned_nodes()
    posts = {int(n) for f in world.fleets.values() for n in np.unique(f.post_table)}
    assert posts <= keep
    for period in world.period_oracles:
        for oracle in period.values():
            assert not oracle._limited and not oracle._to
            assert set(oracle._kept) <= keep
    # rows of posts are kept from one run to the next, and they are the exact reverse rows
    some = next(o for period in world.period_oracles for o in period.values() if o._kept)
    for target, (times, _) in some._kept.items():
        np.testing.assert_array_equal(times, dijkstra(some.reverse, directed=True, indices=target))
    for layout in world.fleets:  # other runs fill and empty the caches in between
        simulate(world, layout, inc, 0)
    assert simulate(world, "two_posts", inc, 0).records.to_csv() == first


def test_a_run_pauses_the_garbage_collector_and_gives_it_back_as_it_was(tmp_path, monkeypatch):
    import gc

    _, _, world = world_for(tmp_path, tiny_scenario("grid.osm", days="1 d", per_day=60.0))
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=1, replication=0, weights=world.weights)
    seen = []
    real_presence = Engine.presence  # called inside the run, after the event loop

    def spy(self):
        seen.append(gc.isenabled())
        return real_presence(self)

    monkeypatch.setattr(Engine, "presence", spy)
    first = simulate(world, "two_posts", inc, 0).records.to_csv()
    assert gc.isenabled() and seen == [False]
    gc.disable()
    try:
        assert simulate(world, "two_posts", inc, 0).records.to_csv() == first
        assert not gc.isenabled()  # a caller's choice to keep it off is kept
    finally:
        gc.enable()
    # an error inside the run gives the collector back too
    monkeypatch.setattr(Engine, "presence", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        simulate(world, "two_posts", inc, 0)
    assert gc.isenabled()


def test_the_world_keeps_a_derived_table_per_fleet(tmp_path):
    """World.kept (what the engine derives once per layout, for every run) builds a table once
    for a fleet and serves it again, and builds it anew for another fleet object under the same
    key (a replaced fleet must not be served its predecessor's table)."""
    _, _, world = world_for(tmp_path, tiny_scenario("grid.osm"))
    calls: list[int] = []

    def build() -> int:
        calls.append(1)
        return len(calls)

    fleet_a, fleet_b = world.fleets["one_post"], copy.copy(world.fleets["one_post"])
    got = [world.kept(("test",), fleet, build) for fleet in (fleet_a, fleet_a, fleet_b, fleet_b)]
    assert got == [1, 1, 2, 2]


def test_kernels_called_directly_give_the_records_of_calls_through_numba_dispatchers(tmp_path,
                                                                                    monkeypatch):
    """The engine and the oracles call their hot kernels through ``kernels.compiled_for``; a
    version bound to arrays of other types would read their memory wrongly. Every layout, with
    drives back, diversions and patrols, must give the records of calls that numba types anew
    each time."""
    import sim.engine.core as core
    import sim.network.oracle as oracle_module

    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)
    data["dispatch"] = {"divert_from_minor": True}
    data["unit_types"]["car"]["patrols"] = True
    data["layouts"]["patrolling"] = {"patrol": True, "platforms": [
        {**p, "units": {"car": 2}} for p in data["layouts"]["two_posts"]["platforms"]]}

    def records(folder: str) -> list[str]:
        _, _, world = world_for(tmp_path / folder, data)
        s = world.scenario
        inc = generate_incidents(s, world.net, world.zones, seed=3, replication=0,
                                 weights=world.weights)
        return [simulate(world, layout, inc, 0).records.to_csv() for layout in world.fleets]

    (tmp_path / "direct").mkdir()
    (tmp_path / "typed").mkdir()
    direct = records("direct")
    with monkeypatch.context() as m:
        for module in (core, oracle_module):
            m.setattr(module, "compiled_for", lambda fn, *args: fn)
        through = records("typed")
    assert direct == through
    assert len(direct) == 3
