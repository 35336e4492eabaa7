"""Road access by unit type: footways for people on foot only, one-way streets for cars only."""

import numpy as np
import pytest

from sim.network.oracle import TravelTimeOracle

from .conftest import tiny_scenario, world_for, write_grid_osm
from .test_oracle import make_net


def test_walkers_ignore_one_way_streets_and_cars_do_not():
    net = make_net(3, [(0, 1, 100.0), (1, 2, 100.0), (2, 0, 500.0)])  # 0 -> 1 is one-way
    car = TravelTimeOracle(net, net.edge_length / 10.0)
    walker = TravelTimeOracle(net, net.edge_length / 1.0, both_ways=True)
    assert car.time(1, 0) == pytest.approx(60.0)  # the long way round
    assert walker.time(1, 0) == pytest.approx(100.0)  # straight back along the one-way street


def test_footways_serve_units_on_foot_and_never_cars(tmp_path):
    # a footway cuts diagonally across the 250 m blocks of the grid from node (1,1) to (4,4)
    a, b = 1 * 8 + 1 + 1, 4 * 8 + 4 + 1
    footway = (f'  <way id="999" version="1"><nd ref="{a}"/><nd ref="{b}"/>'
               '<tag k="highway" v="footway"/></way>\n')
    write_grid_osm(tmp_path / "grid.osm", extra_ways=footway)
    data = tiny_scenario("grid.osm")
    data["unit_types"]["foot"] = {"turnout": "0 s", "max_speed": "5 km/h", "access": "walk"}
    data["unit_types"]["walker_on_roads"] = {"turnout": "0 s", "max_speed": "5 km/h"}
    _, net, world = world_for(tmp_path, data)
    assert net.edge_walk_only.sum() == 2  # the footway, both directions
    ia, ib = (int(np.flatnonzero(net.osmid == n)[0]) for n in (a, b))
    diagonal = float(net.edge_length[net.edge_walk_only][0])
    assert diagonal == pytest.approx(3 * 250 * 2 ** 0.5, rel=0.01)
    v_car, v_walk = 30 / 3.6, 5 / 3.6
    # cars and a road-bound walker go round the blocks: 6 blocks of 250 m
    assert world.oracles["car"].time(ia, ib) == pytest.approx(1500 / v_car, rel=0.01)
    assert world.oracles["walker_on_roads"].time(ia, ib) == pytest.approx(1500 / v_walk, rel=0.01)
    # on foot, the footway
    assert world.oracles["foot"].time(ia, ib) == pytest.approx(diagonal / v_walk, rel=1e-6)
    assert world.oracles["foot"].time(ib, ia) == pytest.approx(diagonal / v_walk, rel=1e-6)
    # and a car's route never takes it
    path = world.oracles["car"].path_to(ia, ib)
    assert len(path) == 7
