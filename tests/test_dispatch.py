"""Dispatch policies: hand-made cases without SimPy, tiny engine runs worked by hand, scenario
keys, and the preference policy against Larson's exact hypercube with its own preference lists."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.metrics import mean_ci
from sim.engine.core import Engine, simulate
from sim.engine.dispatch import (
    EarliestArrival,
    Job,
    Offer,
    Preference,
    Reserve,
    generated_preference,
    written_preference,
)
from sim.engine.invariants import check_invariants
from sim.engine.policies import REGISTRY
from sim.scenario import DISPATCH_POLICIES, ScenarioError, layout_dispatch, load_scenario
from sim.world.demand import generate_incidents

from .conftest import hand_incidents, tiny_scenario, world_for, write_scenario


class FakeUnits:
    """A hand-made dispatch moment: free units and the arrival of each unit (s)."""

    def __init__(self, free: list[int], arrival: dict[int, float]) -> None:
        self._free, self.arrival = free, arrival
        self.asked: list[int] = []

    def free(self) -> list[int]:
        return self._free

    def earliest(self, k: int) -> list[Offer]:
        ranked = sorted(self._free, key=lambda u: (self.arrival[u], u))[:k]
        return [Offer(u, 0.0, self.arrival[u], True) for u in ranked]

    def offer(self, unit: int) -> Offer:
        self.asked.append(unit)
        return Offer(unit, 0.0, self.arrival[unit], True)


ARRIVAL = {0: 50.0, 1: 20.0, 2: 20.0, 3: 90.0}


def test_earliest_arrival_takes_the_earliest_with_ties_to_the_lower_unit():
    units = FakeUnits([0, 1, 2, 3], ARRIVAL)
    got = EarliestArrival().choose(Job(0, 5, 1, 2), units)
    assert [o.unit for o in got] == [1, 2]


def test_preference_takes_the_first_free_units_of_the_list_whatever_their_arrival():
    policy = Preference(order=lambda node: [3, 0, 2, 1] if node == 5 else [1, 2, 3, 0])
    units = FakeUnits([0, 1, 2], ARRIVAL)  # unit 3 is busy
    assert [o.unit for o in policy.choose(Job(0, 5, 1, 1), units)] == [0]
    assert [o.unit for o in policy.choose(Job(0, 5, 1, 2), units)] == [0, 2]
    assert [o.unit for o in policy.choose(Job(0, 6, 1, 3), units)] == [1, 2, 0]
    assert units.asked[:1] == [0]
    assert policy.choose(Job(0, 5, 0, 1), FakeUnits([], ARRIVAL)) == []


def test_reserve_holds_minor_jobs_while_too_few_units_are_free_in_their_grid():
    # grid 0 holds units 0 and 1, grid 1 units 2 and 3; nodes 0..1 in grid 0, 2..3 in grid 1
    policy = Reserve(min_free=[1, 2, 2], area_of_node=[0, 0, 1, 1], area_of_unit=[0, 0, 1, 1])
    one_free_here = FakeUnits([1, 2, 3], ARRIVAL)
    assert policy.choose(Job(0, 0, 2, 1), one_free_here) == []  # minor: would take the last unit
    assert policy.choose(Job(0, 0, 1, 1), one_free_here) == []  # standard alike
    assert [o.unit for o in policy.choose(Job(0, 0, 0, 1), one_free_here)] == [1]  # urgent goes
    # in grid 1 two units are free: the minor job goes, by earliest arrival (unit 1 of grid 0)
    assert [o.unit for o in policy.choose(Job(0, 2, 2, 1), one_free_here)] == [1]
    fleet_wide = Reserve(min_free=[1, 4, 4], area_of_node=[0] * 4, area_of_unit=[0] * 4)
    assert fleet_wide.choose(Job(0, 0, 2, 1), one_free_here) == []
    assert len(fleet_wide.choose(Job(0, 0, 2, 1), FakeUnits([0, 1, 2, 3], ARRIVAL))) == 1


def test_generated_preference_is_own_grid_first_then_by_travel_time():
    # units 0, 1 at grid 0; units 2, 3 at grid 1; times from the posts to node 7, by hand
    times = {7: [300.0, 100.0, 50.0, 100.0]}
    order = generated_preference([0, 0, 1, 1], [0, 1, 2, 3], grid_of_node=lambda n: 0,
                                 time_to=times.__getitem__)
    assert order(7) == [1, 0, 2, 3]
    own_is_1 = generated_preference([0, 0, 1, 1], [0, 1, 2, 3], grid_of_node=lambda n: 1,
                                    time_to=times.__getitem__)
    assert own_is_1(7) == [2, 3, 1, 0]  # 3 and 1 tie at 100 s: 1 is another grid's


def test_written_preference_puts_the_named_platforms_first():
    fallback = {4: [0, 1, 2, 3, 4]}
    order = written_preference({0: [2, 0]}, [[0, 1], [2], [3, 4]], fallback.__getitem__,
                               grid_of_node=lambda n: 0)
    assert order(4) == [3, 4, 0, 1, 2]


def test_every_policy_name_has_a_builder():
    assert tuple(REGISTRY) == DISPATCH_POLICIES


# -- scenario keys -----------------------------------------------------------------------------

def test_unknown_policy_names_get_a_hint_and_the_line(tmp_path):
    data = tiny_scenario("grid.osm")
    data["dispatch"] = {"policy": "prefernce"}
    data["layouts"]["one_post"]["dispatch"] = {"policy": "reserv"}
    path = write_scenario(tmp_path / "bad.yaml", data)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "bad.yaml:" in text and "layouts.one_post.dispatch.policy" in text
    assert "unknown dispatch policy 'reserv' (did you mean 'reserve'?)" in text
    assert len(err.value.problems) == 2  # the top-level one, reported with it
    assert "unknown dispatch policy 'prefernce'" in text
    del data["layouts"]["one_post"]["dispatch"]
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_scenario(tmp_path / "bad2.yaml", data))
    assert "dispatch.policy: unknown dispatch policy 'prefernce' (did you mean 'preference'?)" \
        in str(err.value)


def test_layout_dispatch_overrides_and_is_inherited(tmp_path):
    data = tiny_scenario("grid.osm")
    data["dispatch"] = {"policy": "reserve", "reserve": {"min_free": {"minor": 3}}}
    data["layouts"]["one_post"]["dispatch"] = {"policy": "preference"}
    data["layouts"]["child"] = {"extends": "one_post"}
    loaded = load_scenario(write_scenario(tmp_path / "s.yaml", data))
    s = loaded.scenario
    assert layout_dispatch(s, "two_posts").policy == "reserve"
    assert layout_dispatch(s, "two_posts").reserve.min_free == {"minor": 3}
    assert layout_dispatch(s, "one_post").policy == "preference"
    assert layout_dispatch(s, "child").policy == "preference"
    assert loaded.resolved()["dispatch"]["policy"] == "reserve"


# -- tiny engine runs worked by hand --------------------------------------------------------------


def test_written_preference_sends_the_far_platform_first(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"]["two_posts"]["dispatch"] = {
        "policy": "preference", "preference": {"order": {"West": ["East", "West"]}}}
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["two_posts"]
    west = int(fleet.post[0])
    # a job at the West post goes to the East car (unit 2); a second one, while it is busy, to
    # the West units in index order (the car, unit 0, although the motorcycle is quicker)
    res = simulate(world, "two_posts", hand_incidents(world, [100, 110], [west, west], [1, 1], [600, 600]))
    assert list(res.records.columns["unit"]) == [2, 0]
    east_time = world.oracles["car"].time(int(fleet.post[2]), west)
    assert res.records.columns["travel_s"][0] == pytest.approx(east_time)
    check_invariants(res.records)


def test_generated_preference_is_nearest_own_grid_unit(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"]["two_posts"]["dispatch"] = {"policy": "preference"}
    _, _, world = world_for(tmp_path, data)
    fleet = world.fleets["two_posts"]
    west = int(fleet.post[0])
    res = simulate(world, "two_posts", hand_incidents(world, [100, 110, 120], [west] * 3, [1] * 3,
                                                  [600] * 3))
    # own grid (West) first, by arrival: motorcycle (15 s turnout), car (30 s), then East
    assert list(res.records.columns["unit"]) == [1, 0, 2]


def test_reserve_keeps_the_last_unit_of_a_grid_for_urgent_jobs(tmp_path):
    data = tiny_scenario("grid.osm")
    data["layouts"] = {"solo": {"platforms": [data["layouts"]["one_post"]["platforms"][0]]}}
    data["dispatch"] = {"policy": "reserve"}  # the defaults: minor and standard keep one free
    _, _, world = world_for(tmp_path, data)
    post = int(world.fleets["solo"].post[0])  # two cars, turnout 30 s, no drive
    # dispatch at 1: minor, 2 free -> goes (car 0), clears at 1 + 30 + 600 = 631;
    # at 11: minor, 1 free -> waits; at 21: urgent -> takes the last car, clears at 351;
    # at 351 one car is free (the reserve): the minor job still waits; at 631 it goes
    inc = hand_incidents(world, [0, 10, 20], [post] * 3, [2, 2, 0], [600, 600, 300])
    res = simulate(world, "solo", inc)
    rec = res.records.columns
    assert list(rec["assign_s"]) == [1.0, 631.0, 21.0]
    assert list(rec["unit"]) == [0, 0, 1]
    assert list(rec["queued"]) == [0, 1, 0]  # queued: assigned after the hand-over
    check_invariants(res.records)
    eng = Engine(world, "solo", inc, policy=EarliestArrival())  # without the reserve: at once
    assert list(eng.run().records.columns["assign_s"]) == [1.0, 11.0, 631.0]


def test_reserve_policy_is_in_the_manifest_of_a_run(tmp_path):
    from sim.study.experiment import run_batch

    data = tiny_scenario("grid.osm", days="1 d", reps=1)
    data["layouts"]["one_post"]["dispatch"] = {"policy": "reserve"}
    loaded, _, world = world_for(tmp_path, data)
    batch = run_batch(loaded, world)
    assert batch.scenario.layouts["one_post"].dispatch.policy == "reserve"
    from sim.study.folder import dispatch_policies
    assert dispatch_policies(batch.scenario, batch.layouts) == {
        "two_posts": "earliest_arrival", "one_post": "reserve"}


# -- preference against the exact hypercube -------------------------------------------------------

@pytest.mark.slow
def test_preference_matches_the_exact_hypercube_with_its_own_lists(tmp_path):
    """Three units on a line of eight atoms, dispatched by written preference lists that are NOT
    nearest-first; workloads, dispatch shares and P(queue) against Larson's hypercube."""
    from sim.theory.queueing import hypercube
    from sim.theory.validate_model import _base_scenario, write_line_osm

    n_atoms, spacing, posts = 8, 25.0, (0, 3, 6)
    shares = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    per_hour, mean_min, reps, days = 3.0, 30.0, 8, 60
    osm = write_line_osm(tmp_path / "line.osm", n_atoms, spacing, spacing)
    data = _base_scenario(osm.name, per_day=per_hour * 24, days=days, warmup_days=2, reps=reps,
                          seed=11)
    data["network"]["speeds"] = {"residential": "90 km/h", "default": "90 km/h"}
    data["incident_types"][0]["on_scene"]["mean"] = f"{mean_min:g} min"
    atoms = [lonlat_line(i * spacing) for i in range(n_atoms)]
    data["demand"]["hotspots"] = [{"name": f"atom{i}", "lon": lon, "lat": lat, "sigma": "1 m",
                                   "share": float(sh)} for i, ((lon, lat), sh) in
                                  enumerate(zip(atoms, shares / shares.sum(), strict=True))]
    names = [f"P{a}" for a in posts]
    data["layouts"] = {"line": {"platforms": [
        {"name": n, "lon": atoms[a][0], "lat": atoms[a][1], "units": {"car": 1}}
        for n, a in zip(names, posts, strict=True)]}}
    # grids by hand (nearest post on the line): atoms 0-1 -> P0, 2-4 -> P3, 5-7 -> P6
    lists = {"P0": ["P6", "P0", "P3"], "P3": ["P0", "P6", "P3"], "P6": ["P3", "P0", "P6"]}
    data["dispatch"] = {"policy": "preference", "preference": {"order": lists}}
    grid_of_atom = [0, 0, 1, 1, 1, 2, 2, 2]
    pref_by_grid = [[names.index(p) for p in lists[names[g]]] for g in range(3)]
    pref = [pref_by_grid[grid_of_atom[j]] for j in range(n_atoms)]
    lam = per_hour / 3600.0 * shares / shares.sum()
    mu = np.full(3, 1.0 / (mean_min * 60.0))
    theory = hypercube(lam, mu, pref, "infinite")

    _loaded, net, world = world_for(tmp_path, data, name="line.yaml")
    from sim.world.demand import generate_incidents
    s = world.scenario
    workload, share, p_queue = [[] for _ in range(3)], [[] for _ in range(3)], []
    for rep in range(reps):
        inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=rep,
                                 weights=world.weights)
        res = simulate(world, "line", inc, rep, presence=False)
        c = res.records.columns
        sel = (c["call_s"] >= s.run.warmup) & (c["call_s"] <= inc.horizon_s - 86400.0)
        unit = c["unit"][sel & (c["unit"] >= 0)]
        for u in range(3):
            workload[u].append(float(res.unit_busy_s[u] / res.window_s))
            share[u].append(float(np.mean(unit == u)))
        p_queue.append(float(np.mean(c["queued"][sel])))
    checks = [(workload[u], float(theory.workloads[u])) for u in range(3)]
    checks += [(share[u], float(theory.dispatch_matrix.sum(axis=1)[u])) for u in range(3)]
    checks.append((p_queue, float(theory.queue_probability)))
    for values, expected in checks:
        m, lo, hi = mean_ci(values)
        se = (hi - lo) / 2 / 2.0  # the CI is about 2 SE either side for 8 replications
        assert abs(m - expected) <= 4.0 * se + 2e-3, (m, expected, se)
    # the lists matter: nearest-first dispatch gives clearly different workloads
    nearest = hypercube(lam, mu, [sorted(range(3), key=lambda u: (abs(posts[u] - j), u))
                                  for j in range(n_atoms)], "infinite")
    assert np.max(np.abs(nearest.workloads - theory.workloads)) > 0.05


def lonlat_line(x_m: float) -> tuple[float, float]:
    from sim.theory.validate_model import _lonlat
    return _lonlat(x_m, 0.0)


class _Delegate:
    """The earliest-arrival rule behind the protocol: the core cannot tell it from its default
    and so asks it through ``choose`` and the :class:`Units` view."""

    name = "earliest_arrival"
    holds_back = False

    def choose(self, job: Job, units) -> list[Offer]:
        return EarliestArrival().choose(job, units)


def test_the_default_rule_gives_the_same_records_directly_and_through_the_protocol(tmp_path):
    """The core answers earliest_arrival with its own query, skipping the policy layer: the
    records must equal those of the same rule asked through choose(), on a busy run with units
    driving back, diversions from minor jobs, multi-unit jobs and a patrolling layout."""
    data = tiny_scenario("grid.osm", days="6 d", per_day=160.0)
    data["dispatch"] = {"divert_from_minor": True}
    data["incident_types"][0]["units_required"] = 2
    data["unit_types"]["car"]["patrols"] = True
    data["layouts"]["patrolling"] = {"patrol": True, "platforms": data["layouts"]["two_posts"]["platforms"]}
    _, _, world = world_for(tmp_path, data)
    seen = {"diverted": 0, "driving back": 0, "looping": 0, "multi-unit": 0}
    for layout in ("two_posts", "one_post", "patrolling"):
        inc = generate_incidents(world.scenario, world.net, world.zones, seed=7, replication=0,
                                 weights=world.weights)
        direct = Engine(world, layout, inc)
        assert direct._earliest
        via = Engine(world, layout, inc, policy=_Delegate())
        assert not via._earliest
        a, b = direct.run().records, via.run().records
        assert a.to_csv() == b.to_csv(), layout
        c = a.columns
        seen["diverted"] += int(c["diverted"].sum())
        # sent on the move: from a loop in the patrolling layout, else while driving back
        seen["looping" if layout == "patrolling" else "driving back"] += int(c["from_patrol"].sum())
        seen["multi-unit"] += int((c["units_sent"] > 1).sum())
    assert min(seen.values()) > 0, seen  # every path of the dispatch was taken
