"""Edge lengths: missing or zero lengths come from the coordinates, impossible ones are refused,
and the straight-line bound the dispatch search prunes with never changes a record."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from sim.engine.core import simulate
from sim.network.load import NetworkSourceError, load_network
from sim.network.oracle import TravelTimeOracle
from sim.world.demand import generate_incidents

from .conftest import tiny_scenario, world_for, write_grid_osm


def _haversine(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    p0, p1 = math.radians(lat0), math.radians(lat1)
    h = (math.sin((p1 - p0) / 2) ** 2
         + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2)
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h))


def _graphml(tmp_path: Path, edit) -> Path:
    import osmnx as ox

    write_grid_osm(tmp_path / "grid.osm", nx=4, ny=3)
    G = ox.graph_from_xml(tmp_path / "grid.osm", simplify=False, retain_all=True)
    edit(G)
    path = tmp_path / "edited.graphml"
    ox.save_graphml(G, path)
    return path


def test_missing_and_zero_lengths_come_from_the_coordinates(tmp_path):
    def edit(G):
        for k, (_u, _v, d) in enumerate(G.edges(data=True)):
            if k % 3 == 0:
                del d["length"]
            elif k % 3 == 1:
                d["length"] = 0.0
            else:
                d["length"] = 1234.5  # given lengths are kept as they are

    path = _graphml(tmp_path, edit)
    net = load_network({"source": "file", "path": str(path), "simplify": False},
                       cache_dir=tmp_path / "cache")
    straight = np.array([_haversine(net.lon[u], net.lat[u], net.lon[v], net.lat[v])
                         for u, v in zip(net.edge_u, net.edge_v, strict=True)])
    given = net.edge_length == 1234.5
    assert 0 < given.sum() < net.n_edges
    np.testing.assert_allclose(net.edge_length[~given], straight[~given], rtol=1e-9)
    assert net.report["edge_lengths_from_coordinates"] == int((~given).sum())
    assert net.edge_length.min() > 200  # never the old silent 0.1 m


def test_a_zero_length_edge_between_two_nodes_at_one_place_is_refused(tmp_path):
    def edit(G):
        G.add_node(999, x=G.nodes[1]["x"], y=G.nodes[1]["y"])
        G.add_edge(1, 999, length=0.0, highway="residential")
        G.add_edge(999, 1, length=0.0, highway="residential")

    path = _graphml(tmp_path, edit)
    with pytest.raises(NetworkSourceError, match=r"OSM node (1 to 999|999 to 1).*same place"):
        load_network({"source": "file", "path": str(path), "simplify": False},
                     cache_dir=tmp_path / "cache")


def test_a_negative_length_is_refused(tmp_path):
    def edit(G):
        next(iter(G.edges(data=True)))[2]["length"] = -5.0

    path = _graphml(tmp_path, edit)
    with pytest.raises(NetworkSourceError, match="not negative"):
        load_network({"source": "file", "path": str(path), "simplify": False},
                     cache_dir=tmp_path / "cache")


def _records(res) -> str:
    fh = io.StringIO()
    res.records.write_csv(fh)
    return fh.getvalue()


def test_pruning_by_the_bounds_and_goal_directed_search_never_change_a_record(tmp_path, monkeypatch):
    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)
    data["unit_types"]["car"]["patrols"] = True
    data["unit_types"]["moto"]["patrols"] = True
    data["layouts"]["two_posts"]["patrol"] = True
    data["dispatch"] = {"divert_from_minor": True}
    # a place off the grid's nodes, so that inserted nodes and split edges are searched too
    data["layouts"]["two_posts"]["platforms"][0]["lat"] += 0.0004
    _, _, world = world_for(tmp_path, data)
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=5, replication=0, weights=world.weights)
    pruned = simulate(world, "two_posts", inc, 0, presence=False)
    # (the landmark rows, built once, are not searches the bounds could have saved)
    searches_pruned = sum(o.searches - o.landmark_searches for o in world.oracles.values())

    _, _, world2 = world_for(tmp_path, data, name="again.yaml")
    # prune nothing: no bound rules a unit out
    monkeypatch.setattr(TravelTimeOracle, "might_reach", lambda self, a, b, limit, speed: True)
    monkeypatch.setattr(TravelTimeOracle, "goal_directed", False)  # limited Dijkstra, not A*
    unpruned = simulate(world2, "two_posts", inc, 0, presence=False)
    searches_unpruned = sum(o.searches for o in world2.oracles.values())
    assert _records(pruned) == _records(unpruned)
    assert searches_unpruned > searches_pruned  # the bound did prune: the comparison means something
