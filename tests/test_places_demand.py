"""Demand the planner can state: demand.points (CSV), demand.baseline, zero call handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.cli.main import main
from sim.scenario import PRIORITIES, ScenarioError
from sim.world.demand import generate_incidents

from .conftest import lonlat, tiny_scenario, world_for, write_grid_osm, write_scenario

# two places between the grid's junctions (streets every 250 m; nodes at x = -875 + 250 i)
P1, P2 = lonlat(-250.0, -125.0), lonlat(250.0, 125.0)


def _with_points(folder: Path, csv_text: str, **demand) -> dict:
    (folder / "points.csv").write_text(csv_text, encoding="utf-8")
    data = tiny_scenario("grid.osm", days="4 d", per_day=200.0)
    data["demand"]["hotspots"] = []
    data["demand"]["points"] = {"file": "points.csv"}
    data["demand"].update(demand)
    return data


def _node(net, lonlat_pair) -> int:
    return net.places[lonlat_pair][0]


def test_points_with_no_baseline_take_all_demand_in_proportion(tmp_path):
    data = _with_points(tmp_path, f"lon,lat,weight\n{P1[0]},{P1[1]},1\n{P2[0]},{P2[1]},3\n",
                        baseline="none")
    _, _, world = world_for(tmp_path, data)
    net = world.net
    n1, n2 = _node(net, P1), _node(net, P2)
    assert net.osmid[n1] < 0 and net.osmid[n2] < 0  # placed on their streets, not on junctions
    assert world.weights[n1] == pytest.approx(0.25) and world.weights[n2] == pytest.approx(0.75)
    assert np.delete(world.weights, [n1, n2]).sum() == 0.0


def test_points_share_beside_the_road_length_baseline(tmp_path):
    data = _with_points(tmp_path, f"lon,lat,weight\n{P1[0]},{P1[1]},1\n", points={"file": "points.csv",
                                                                              "share": 0.4})
    _, _, world = world_for(tmp_path, data)
    n1 = _node(world.net, P1)
    others = np.delete(world.weights, n1)
    road = world.net.edge_length_per_node()
    # the point's node also owns its share of road length
    assert world.weights[n1] == pytest.approx(0.4 + 0.6 * road[n1] / road.sum())
    assert others.sum() == pytest.approx(0.6 * (1 - road[n1] / road.sum()))


def test_equal_per_node_baseline(tmp_path):
    data = tiny_scenario("grid.osm")
    data["demand"]["hotspots"] = []
    data["demand"]["baseline"] = "equal_per_node"
    _, _, world = world_for(tmp_path, data)
    np.testing.assert_allclose(world.weights, 1.0 / world.net.n_nodes)


def test_node_points_name_osm_nodes(tmp_path):
    write_grid_osm(tmp_path / "grid.osm")
    data = _with_points(tmp_path, "node,weight\n10,1\n11,1\n", baseline="none")
    _, _, world = world_for(tmp_path, data)
    w = dict(zip(world.net.osmid.tolist(), world.weights.tolist(), strict=True))
    assert w[10] == pytest.approx(0.5) and w[11] == pytest.approx(0.5)
    data = _with_points(tmp_path, "node,weight\n10,1\n123456,1\n", baseline="none")
    with pytest.raises(ScenarioError, match="OSM node 123456 is not on the drivable road network"):
        world_for(tmp_path, data, name="unknown.yaml")


def test_an_hour_profile_moves_demand_between_the_points(tmp_path):
    day = ",".join(["1"] * 12 + ["0"] * 12)
    night = ",".join(["0"] * 12 + ["1"] * 12)
    head = "lon,lat,weight," + ",".join(f"h{h}" for h in range(24))
    data = _with_points(tmp_path, f"{head}\n{P1[0]},{P1[1]},1,{day}\n{P2[0]},{P2[1]},1,{night}\n",
                        baseline="none")
    _, _, world = world_for(tmp_path, data)
    n1, n2 = _node(world.net, P1), _node(world.net, P2)
    inc = generate_incidents(world.scenario, world.net, world.zones, seed=1, replication=0,
                             weights=world.weights, model=world.demand)
    hour = (inc.call_s // 3600).astype(int) % 24
    assert len(inc) > 500
    assert set(inc.node[hour < 12].tolist()) == {n1}
    assert set(inc.node[hour >= 12].tolist()) == {n2}


def test_a_priority_mix_sets_the_priorities_of_a_points_incidents(tmp_path):
    data = _with_points(tmp_path, f"lon,lat,weight,urgent,standard,minor\n"
                                  f"{P1[0]},{P1[1]},1,1,0,0\n{P2[0]},{P2[1]},1,0,0,1\n",
                        baseline="none")
    _, _, world = world_for(tmp_path, data)
    n1, n2 = _node(world.net, P1), _node(world.net, P2)
    inc = generate_incidents(world.scenario, world.net, world.zones, seed=2, replication=0,
                             weights=world.weights, model=world.demand)
    urgent, minor = PRIORITIES.index("urgent"), PRIORITIES.index("minor")
    assert (inc.node == n1).sum() > 100 and (inc.node == n2).sum() > 100
    assert set(inc.priority[inc.node == n1].tolist()) == {urgent}
    assert set(inc.priority[inc.node == n2].tolist()) == {minor}


def test_a_mix_giving_a_priority_without_incident_types_is_refused(tmp_path):
    data = _with_points(tmp_path, f"lon,lat,weight,urgent,standard,minor\n{P1[0]},{P1[1]},1,0,1,0\n",
                        baseline="none")
    with pytest.raises(ScenarioError, match="no incident type has priority standard"):
        world_for(tmp_path, data)


@pytest.mark.parametrize(("text", "fragment"), [
    ("lon,lat,weight\n111.47,27.24,one\n", "points.csv:2: expected numbers"),
    ("lon,lat,weight\n111.47,27.24,-1\n", "points.csv:2: weights"),
    ("x,y,w\n1,2,3\n", "line 1 must name the columns"),
    ("lon,lat,weight,h0\n111.47,27.24,1,1\n", "24 columns h0 ... h23"),
    ("lon,lat,weight,colour\n111.47,27.24,1,red\n", "unknown column 'colour'"),
])
def test_a_bad_points_file_gets_one_clear_message(tmp_path, capsys, cache_dir, text, fragment):
    write_grid_osm(tmp_path / "grid.osm")
    write_scenario(tmp_path / "s.yaml", _with_points(tmp_path, text, baseline="none"))
    assert main(["validate", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "demand.points.file" in err and fragment in err


def test_shares_must_be_stated(tmp_path, capsys, cache_dir):
    write_grid_osm(tmp_path / "grid.osm")
    data = _with_points(tmp_path, "node,weight\n10,1\n")  # baseline road_length and no share
    write_scenario(tmp_path / "s.yaml", data)
    assert main(["validate", str(tmp_path / "s.yaml"), "--schema-only"]) == 2
    assert "demand.points.share" in capsys.readouterr().err
    data = tiny_scenario("grid.osm")
    data["demand"]["baseline"] = "none"  # the hotspot's 0.3 alone
    write_scenario(tmp_path / "s.yaml", data)
    assert main(["validate", str(tmp_path / "s.yaml"), "--schema-only"]) == 2
    assert "must add up to 1" in capsys.readouterr().err


def test_call_handling_may_be_zero(tmp_path, capsys, cache_dir):
    data = tiny_scenario("grid.osm")
    data["call_handling"] = {"distribution": "fixed", "mean": "0 s"}
    _, _, world = world_for(tmp_path, data)
    inc = generate_incidents(world.scenario, world.net, world.zones, seed=1, replication=0)
    assert len(inc) > 0 and np.array_equal(inc.dispatch_s, inc.call_s)
    data["call_handling"] = {"distribution": "exponential", "mean": "0 s"}
    write_scenario(tmp_path / "s.yaml", data)
    assert main(["validate", str(tmp_path / "s.yaml"), "--schema-only"]) == 2
    assert "call_handling.mean" in capsys.readouterr().err
