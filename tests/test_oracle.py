"""The travel-time oracle against an independent shortest path (networkx) on small graphs."""

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from sim.network.graph import LocalFrame, RoadNetwork
from sim.network.oracle import TravelTimeOracle, _csr_min, _curve_order


def make_net(n, edges, xy=None):
    """A RoadNetwork from (u, v, length_m) triples; all edges class 'residential'."""
    u = np.array([e[0] for e in edges], dtype=np.int32)
    v = np.array([e[1] for e in edges], dtype=np.int32)
    length = np.array([e[2] for e in edges], dtype=float)
    xy = np.zeros((n, 2)) if xy is None else np.asarray(xy, dtype=float)
    frame = LocalFrame(111.47, 27.24)
    lon, lat = frame.to_lonlat(xy[:, 0], xy[:, 1])
    return RoadNetwork(osmid=np.arange(n, dtype=np.int64) + 1, lon=lon, lat=lat, x=xy[:, 0],
                       y=xy[:, 1], edge_u=u, edge_v=v, edge_length=length,
                       edge_class=np.zeros(len(edges), dtype=np.int16), classes=("residential",),
                       frame=frame, source="test", checksum="test")


@st.composite
def graphs(draw):
    n = draw(st.integers(2, 12))
    m = draw(st.integers(1, 40))
    edges = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)),
              draw(st.floats(1.0, 1000.0))) for _ in range(m)]
    edges = [e for e in edges if e[0] != e[1]] or [(0, 1, 10.0)]
    return n, edges


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_matches_networkx_including_parallel_edges(graph):
    n, edges = graph
    net = make_net(n, edges)
    speed = 10.0  # m/s
    oracle = TravelTimeOracle(net, net.edge_length / speed)
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for u, v, length in edges:  # independent reduction: keep the fastest parallel edge
        t = length / speed
        if not G.has_edge(u, v) or G[u][v]["t"] > t:
            G.add_edge(u, v, t=t)
    for s in range(n):
        expected = nx.single_source_dijkstra_path_length(G, s, weight="t")
        row = oracle.from_node(s)
        for t in range(n):
            want = expected.get(t, math.inf)
            assert row[t] == pytest.approx(want)
            assert oracle.time(s, t) == pytest.approx(want)
            assert oracle.times_to(t, math.inf)[s] == pytest.approx(want)
            limited = oracle.times_to(t, 50.0)[s]
            if want <= 50.0:
                assert limited == pytest.approx(want)
            else:  # beyond the limit: unknown (inf) or, from a wider cached search, exact
                assert limited == math.inf or limited == pytest.approx(want)
            if math.isfinite(want):
                path = oracle.path_to(s, t)
                assert path[0] == s and path[-1] == t
                cum = oracle.cumulative_times(path)
                assert cum[-1] == pytest.approx(want)


@given(st.integers(1, 9), st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8),
                                              st.sampled_from([1.0, 2.5, 2.5, 7.0, math.inf])),
                                    max_size=40))
def test_csr_keeps_the_least_finite_weight_of_each_pair_in_sorted_rows(n, triples):
    triples = [(a % n, b % n, w) for a, b, w in triples]
    want: dict[tuple[int, int], float] = {}
    for a, b, w in triples:  # independent reduction: the least finite weight per (u, v)
        if math.isfinite(w):
            want[(a, b)] = min(w, want.get((a, b), math.inf))
    u = np.array([t[0] for t in triples], dtype=np.int32)
    v = np.array([t[1] for t in triples], dtype=np.int32)
    w = np.array([t[2] for t in triples], dtype=float)
    m = _csr_min(n, u, v, w)
    got = {}
    for a in range(n):
        cols = m.indices[m.indptr[a]:m.indptr[a + 1]].tolist()
        assert cols == sorted(set(cols))  # sorted, no duplicate pair
        got.update({(a, b): float(x) for b, x in zip(cols, m.data[m.indptr[a]:m.indptr[a + 1]],
                                                     strict=True)})
    assert got == want
    assert m.shape == (n, n) and m.has_sorted_indices


def test_parallel_edges_keep_the_fastest_not_the_sum():
    net = make_net(2, [(0, 1, 100.0), (0, 1, 300.0), (1, 0, 100.0)])
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    assert oracle.time(0, 1) == pytest.approx(10.0)


def test_one_way_streets_are_respected():
    # 0 -> 1 is one-way; going back takes the long way round via 2
    net = make_net(3, [(0, 1, 100.0), (1, 2, 100.0), (2, 0, 500.0)])
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    assert oracle.time(0, 1) == pytest.approx(10.0)
    assert oracle.time(1, 0) == pytest.approx(60.0)
    assert list(oracle.path_to(1, 0)) == [1, 2, 0]


def test_lower_bound_never_exceeds_the_true_time():
    rng = np.random.default_rng(3)
    n = 30
    xy = rng.uniform(0, 2000, size=(n, 2))
    edges = []
    for i in range(n):
        for j in rng.choice(n, 4, replace=False):
            if i != j:
                d = float(np.hypot(*(xy[i] - xy[j])))
                edges.append((i, int(j), d * rng.uniform(1.0, 1.5)))
    net = make_net(n, edges, xy)
    speeds = rng.uniform(5, 20, len(edges))
    oracle = TravelTimeOracle(net, net.edge_length / speeds)
    for s in range(n):
        row = oracle.from_node(s)
        for t in range(n):
            if math.isfinite(row[t]):
                assert oracle.lower_bound(s, t) <= row[t] + 1e-9


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(1, 4))
def test_landmark_bound_never_exceeds_the_networkx_time(graph, k):
    n, edges = graph  # one-way edges and unreachable pairs included
    net = make_net(n, edges)
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    oracle._landmarks = oracle._build_landmarks(k)
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for u, v, length in edges:
        if not G.has_edge(u, v) or G[u][v]["t"] > length / 10.0:
            G.add_edge(u, v, t=length / 10.0)
    for s in range(n):
        expected = nx.single_source_dijkstra_path_length(G, s, weight="t")
        for t in range(n):
            bound = oracle.landmark_bound(s, t)
            assert not math.isnan(bound)
            if t in expected:
                assert bound <= expected[t] + 1e-9


def test_landmark_bound_is_tight_where_a_landmark_lies_behind_the_source():
    # a one-way line 0 -> 1 -> ... -> 9: the landmark is the far end from node 0 (node 9), and
    # the times back to it give the exact time between any two nodes of the line
    edges = [(i, i + 1, 100.0) for i in range(9)]
    oracle = TravelTimeOracle(make_net(10, edges), np.full(9, 10.0))
    oracle._landmarks = oracle._build_landmarks(1)
    assert oracle.landmark_bound(2, 7) == pytest.approx(50.0, abs=1e-5)
    assert oracle.lower_bound(2, 7) == 0.0  # (all nodes at one point: no straight-line help)


@st.composite
def tied_graphs(draw):
    """Graphs whose edge times come from a few thirds, so that many routes tie and sums added
    in another order would differ in their last bits."""
    n = draw(st.integers(2, 14))
    m = draw(st.integers(1, 50))
    edges = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)),
              draw(st.sampled_from([10.0, 20.0, 30.0, 70.0, 110.0])) / 3.0) for _ in range(m)]
    return n, [e for e in edges if e[0] != e[1]] or [(0, 1, 10.0)]


@settings(max_examples=80, deadline=None)
@given(tied_graphs(), st.integers(1, 4), st.floats(0.5, 40.0))
def test_goal_directed_time_is_bit_for_bit_the_dijkstra_time(graph, k, limit):
    n, edges = graph
    net = make_net(n, edges)
    oracle = TravelTimeOracle(net, net.edge_length)
    oracle._landmarks = oracle._build_landmarks(k)
    for t in range(n):
        exact = dijkstra(oracle.reverse, directed=True, indices=t)  # independent: scipy, unlimited
        for s in range(n):
            got = oracle.time_within(s, t, limit)
            if exact[s] <= limit:
                assert got == exact[s]  # the same float, not merely close
            else:
                assert got == math.inf
            assert oracle.time_within(s, t, math.inf) == exact[s]


def test_goal_directed_time_on_a_city_sized_grid_matches_dijkstra():
    rng = np.random.default_rng(11)
    side = 25  # 625 nodes, two-way streets with random speeds and a few one-way ones
    xy = np.array([(i * 100.0, j * 100.0) for i in range(side) for j in range(side)])
    edges = []
    for i in range(side):
        for j in range(side):
            a = i * side + j
            for b in ((a + 1) if j + 1 < side else None, (a + side) if i + 1 < side else None):
                if b is not None:
                    edges.append((a, b, 100.0))
                    if rng.random() > 0.1:
                        edges.append((b, a, 100.0))
    net = make_net(side * side, edges, xy)
    oracle = TravelTimeOracle(net, net.edge_length / rng.uniform(4.0, 15.0, len(edges)))
    for t in rng.choice(side * side, 15, replace=False).tolist():
        exact = dijkstra(oracle.reverse, directed=True, indices=t)
        for s in rng.choice(side * side, 40, replace=False).tolist():
            limit = float(rng.uniform(0.5, 1.5) * exact[s])
            got = oracle.time_within(s, t, limit)
            assert got == (exact[s] if exact[s] <= limit else math.inf)
    assert oracle.goal_searches > 0 and oracle.searches == 1 + 2 * oracle._landmarks[0].shape[1]


def test_goal_directed_time_at_exactly_its_limit_survives_the_single_precision_table():
    # a one-way line of long legs whose times are not round in single precision: the landmark
    # (the far end) makes the bound exact, so a bound rounded up would put the source's key
    # above a limit equal to its time and report it unreachable
    legs = 40
    edges = [(i, i + 1, 1000.0) for i in range(legs)]
    oracle = TravelTimeOracle(make_net(legs + 1, edges), np.full(legs, 12345.678 / 7.0))
    oracle._landmarks = oracle._build_landmarks(1)
    for t in range(0, legs + 1, 3):
        exact = dijkstra(oracle.reverse, directed=True, indices=t)
        for s in range(t):
            assert oracle.time_within(s, t, float(exact[s])) == exact[s]


def test_curve_order_is_a_permutation_that_keeps_neighbours_close():
    side = 32
    xy = np.array([(i * 10.0, j * 10.0) for i in range(side) for j in range(side)])
    order = _curve_order(xy[:, 0], xy[:, 1])
    assert sorted(order.tolist()) == list(range(side * side))
    # along a Hilbert curve each step goes to a grid neighbour (a row-by-row order jumps back
    # at every row's end)
    steps = np.abs(np.diff(xy[order], axis=0)).sum(axis=1)
    assert np.all(steps == 10.0)


def test_goal_directed_search_falls_back_to_dijkstra_when_its_heap_is_too_small():
    # a star: five roads into node 0, so that its first step pushes five entries
    edges = [(i, 0, 100.0 * i) for i in range(1, 6)] + [(0, i, 100.0) for i in range(1, 6)]
    net = make_net(6, edges)
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    g = oracle._goal = oracle._goal_inputs()
    g.heap_key, g.heap_node, g.heap_time = np.empty(1), np.empty(1, dtype=np.int64), np.empty(1)
    before = oracle.searches
    assert oracle.time_within(4, 0, math.inf) == pytest.approx(40.0)
    assert oracle.searches == before + 1 and oracle.goal_searches == 0  # answered by Dijkstra
    path, times = oracle.route(4, 0)  # the route search falls back to the Dijkstra's route
    assert path.tolist() == [4, 0] and times.tolist() == [40.0, 0.0]


def test_along_route_follows_the_path_and_its_times():
    rng = np.random.default_rng(4)
    n = 40
    edges = [(i, int(j), float(rng.uniform(50, 400))) for i in range(n)
             for j in rng.choice(n, 3, replace=False) if i != j]
    net = make_net(n, edges)
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    for s, t in [(0, 7), (3, 29), (11, 11), (39, 1)]:
        if not math.isfinite(oracle.time(s, t)):
            continue
        path = oracle.path_to(s, t)
        cum = oracle.cumulative_times(path)
        for elapsed in np.linspace(0.0, cum[-1] + 5.0, 23):
            k = min(int(np.searchsorted(cum, elapsed - 1e-9)), len(path) - 1)
            node, left = oracle.along_route(s, t, float(elapsed))
            assert node == path[k]
            assert left == pytest.approx(max(0.0, cum[k] - elapsed), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.integers(1, 4), st.floats(0.0, 200.0))
def test_might_reach_never_rules_out_a_trip_within_the_limit(graph, k, limit):
    n, edges = graph
    xy = np.random.default_rng(len(edges)).uniform(0, 300, size=(n, 2))
    # a road is never shorter than the straight line between its ends
    edges = [(u, v, max(length, float(np.hypot(*(xy[u] - xy[v]))))) for u, v, length in edges]
    net = make_net(n, edges, xy)
    oracle = TravelTimeOracle(net, net.edge_length / 10.0)
    oracle._landmarks = oracle._build_landmarks(k)
    top = 10.0 * 1.5  # faster than any edge: a valid straight-line speed
    for s in range(n):
        row = dijkstra(oracle.forward, directed=True, indices=s)  # independent of the bounds
        for t in range(n):
            if row[t] <= limit:
                assert oracle.might_reach(s, t, limit, top)


def test_might_reach_rules_out_what_a_landmark_shows_too_far():
    edges = [(i, i + 1, 100.0) for i in range(9)]  # one way, 10 s an edge, all at one point
    oracle = TravelTimeOracle(make_net(10, edges), np.full(9, 10.0))
    oracle._landmarks = oracle._build_landmarks(1)
    assert oracle.might_reach(2, 7, 50.0, 20.0)
    assert not oracle.might_reach(2, 7, 49.0, 20.0)  # the landmark bound alone: 50 s
    far = make_net(2, [(0, 1, 1000.0)], xy=[(0.0, 0.0), (1000.0, 0.0)])
    straight = TravelTimeOracle(far, np.full(1, 100.0))
    assert not straight.might_reach(0, 1, 40.0, 20.0)  # 1 km at 20 m/s: 49 s at least


@settings(max_examples=60, deadline=None)
@given(tied_graphs(), st.integers(1, 4))
def test_goal_directed_route_is_a_fastest_route_with_the_dijkstra_times(graph, k):
    n, edges = graph
    net = make_net(n, edges)
    oracle = TravelTimeOracle(net, net.edge_length)
    oracle._landmarks = oracle._build_landmarks(k)
    fastest: dict[tuple[int, int], float] = {}
    for u, v, t in edges:
        fastest[(u, v)] = min(t, fastest.get((u, v), math.inf))
    for t in range(n):
        exact = dijkstra(oracle.reverse, directed=True, indices=t)  # independent: scipy
        for s in range(n):
            if not math.isfinite(exact[s]):
                with pytest.raises(ValueError, match="cannot be reached"):
                    oracle.route(s, t)
                continue
            path, times = oracle.route(s, t)
            assert path[0] == s and path[-1] == t
            np.testing.assert_array_equal(times, exact[path])  # the same floats
            legs = [fastest[(int(a), int(b))] for a, b in itertools.pairwise(path)]
            assert sum(legs) == pytest.approx(exact[s])  # real roads, as fast as the fastest
            again = oracle.route(s, t)
            np.testing.assert_array_equal(again[0], path)  # ties always go the same way


def test_rejects_bad_edge_times():
    net = make_net(2, [(0, 1, 100.0)])
    with pytest.raises(ValueError, match="positive"):
        TravelTimeOracle(net, np.array([0.0]))


def test_compiled_for_gives_the_version_for_its_arguments_types_and_does_not_run_it():
    from sim.network.kernels import compiled_for, might_reach, walk_routes

    x, y = np.array([0.0, 1000.0]), np.zeros(2)
    fwd = np.array([[0.0], [50.0]])  # T(L, v): the landmark is node 0, node 1 is 50 s on
    rev = np.array([[0.0], [1e30]])
    frozen = x.copy()
    frozen.setflags(write=False)  # another numba type than a writable array
    writable = compiled_for(might_reach, x, y, 20.0, fwd, rev, 0, 1, 1.0)
    read_only = compiled_for(might_reach, frozen, y, 20.0, fwd, rev, 0, 1, 1.0)
    assert writable is not read_only
    for limit in (40.0, 49.0, 50.0, 60.0):  # 49 s by the straight line, 50 s by the landmark
        expected = limit >= 50.0
        assert writable(x, y, 20.0, fwd, rev, 0, 1, limit) is expected
        assert read_only(frozen, y, 20.0, fwd, rev, 0, 1, limit) is expected
        assert might_reach(x, y, 20.0, fwd, rev, 0, 1, limit) is expected
    # the arguments are only typed: a kernel that writes its outputs is not run
    pred, to_target = np.array([1, -1]), np.array([10.0, 0.0])
    node_out, left_out = np.full(1, -7), np.full(1, -7.0)
    walk = compiled_for(walk_routes, pred, to_target, np.array([0]), 1, np.array([4.0]), node_out,
                        left_out)
    assert node_out[0] == -7 and left_out[0] == -7.0
    assert walk(pred, to_target, np.array([0]), 1, np.array([4.0]), node_out, left_out) == -1
    assert node_out[0] == 1 and left_out[0] == 6.0  # 4 s into a 10 s edge: 6 s to node 1
