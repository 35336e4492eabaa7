"""Places stay where the planner put them: junction-based files, snapping to roads, dropped parts.

The hand-made city ``tests/data/places/junctions.osm`` has eight junctions, each road link its own
way (as contest and planning-department files come), all two-way residential streets:

    F(0,400) ---- E(300,400) ---- D(600,400)
    |             |               |
    |             |               H(600,200)
    |             |               |
    A(0,0) - G(150,0) - B(300,0) -- C(600,0)

(local metres east/north of 111.47 E, 27.24 N). Only B and E have more than two neighbours, so
osmnx's simplification would merge everything else away. Expected times are worked out here from
the coordinates in the file (great-circle legs along the hand-chosen shortest paths), never from
the code under test.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.coverage import coverage_node_rows, worst_places
from sim.cli.main import main
from sim.network.load import NetworkSourceError, load_network

from .conftest import lonlat, tiny_scenario, world_for, write_grid_osm, write_scenario

DATA = Path(__file__).parent / "data" / "places"
SPEED = 10.0  # m/s: "36 km/h"
TURNOUT = 30.0


def _coords() -> dict[int, tuple[float, float]]:
    text = (DATA / "junctions.osm").read_text(encoding="utf-8")
    return {int(i): (float(lon), float(lat)) for i, lat, lon in
            re.findall(r'<node id="(\d+)" version="1" lat="([\d.]+)" lon="([\d.]+)"', text)}


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    p0, p1 = math.radians(a[1]), math.radians(b[1])
    h = (math.sin((p1 - p0) / 2) ** 2
         + math.cos(p0) * math.cos(p1) * math.sin(math.radians(b[0] - a[0]) / 2) ** 2)
    return 2 * 6_371_009.0 * math.asin(math.sqrt(h))


def _path_m(*ids: int) -> float:
    c = _coords()
    return sum(_haversine(c[a], c[b]) for a, b in itertools.pairwise(ids))


A, G, B, C, H, D, E, F = range(1, 9)
EXPECTED_M = {  # shortest routes from C, by hand
    C: 0.0, B: _path_m(C, B), G: _path_m(C, B, G), A: _path_m(C, B, G, A), H: _path_m(C, H),
    D: _path_m(C, H, D), E: min(_path_m(C, B, E), _path_m(C, H, D, E)),
    F: min(_path_m(C, B, G, A, F), _path_m(C, B, E, F), _path_m(C, H, D, E, F)),
}


def _city(folder: Path, *, simplify: bool | None) -> dict:
    shutil.copy(DATA / "junctions.osm", folder / "junctions.osm")
    shutil.copy(DATA / "junction_demand.csv", folder / "junction_demand.csv")
    c = _coords()
    ring = [list(lonlat(x, y)) for x, y in ((-50, -50), (350, -50), (350, 450), (-50, 450), (-50, -50))]
    data = tiny_scenario("junctions.osm")
    data["network"] = {"source": "file", "path": "junctions.osm",
                       "speeds": {"residential": "36 km/h", "default": "36 km/h"}}
    if simplify is not None:
        data["network"]["simplify"] = simplify
    data["zones"]["central_city"] = ring
    data["zones"]["key_locations"] = [{"name": "Corner F", "lon": c[F][0], "lat": c[F][1],
                                       "radius": "50 m"}]
    data["unit_types"] = {"car": {"turnout": "30 s"}}
    data["demand"]["hotspots"] = []
    data["demand"]["points"] = {"file": "junction_demand.csv"}
    data["demand"]["baseline"] = "none"
    data["layouts"] = {"at_c": {"platforms": [{"name": "Post C", "lon": c[C][0], "lat": c[C][1],
                                               "units": {"car": 1}}]}}
    return data


def test_junction_city_without_simplification_gives_exact_times_per_junction(tmp_path):
    data = _city(tmp_path, simplify=False)
    data["congestion"] = {"periods": [{"name": "peak", "hours": ["07:00", "09:00"],
                                       "speed_factor": {"default": 0.5}}]}
    _, net, world = world_for(tmp_path, data, name="city.yaml")
    assert sorted(net.osmid.tolist()) == list(range(1, 9))  # every junction kept, none inserted
    rows = {r["node"]: r for r in coverage_node_rows(world, "at_c")}
    for node, metres in EXPECTED_M.items():
        assert rows[node]["response_s"] == pytest.approx(TURNOUT + metres / SPEED, abs=1e-6), node
        assert rows[node]["response_peak_s"] == pytest.approx(TURNOUT + metres / (SPEED / 2), abs=1e-6)
        assert rows[node]["nearest_post"] == "Post C"
    # zones and targets: F is the key location (1 min), A G B E central (3 min), C H D other (5 min)
    assert rows[F]["zone"] == "key" and rows[F]["target_s"] == 60.0
    assert {rows[n]["zone"] for n in (A, G, B, E)} == {"central"}
    assert {rows[n]["zone"] for n in (C, H, D)} == {"other"}
    for node, r in rows.items():
        assert r["within_target"] == (TURNOUT + EXPECTED_M[node] / SPEED <= r["target_s"])
        assert r["within_target_peak"] == (TURNOUT + 2 * EXPECTED_M[node] / SPEED <= r["target_s"])
    assert rows[C]["within_target"] and rows[H]["within_target"] and not rows[F]["within_target"]
    # F: 30 s + ~1000 m at 10 m/s is far beyond its 1 min: the worst place
    assert worst_places(list(rows.values()))[0]["node"] == F
    # demand at the junctions of the CSV (node ids 1, 2, 5 with weights 1, 2, 5), nowhere else
    w = {int(o): float(x) for o, x in zip(net.osmid, world.weights, strict=True)}
    assert w[A] == pytest.approx(1 / 8) and w[G] == pytest.approx(2 / 8) and w[H] == pytest.approx(5 / 8)
    assert sum(w[n] for n in (B, C, D, E, F)) == 0.0
    # the post stands on junction C itself: no distance to its road
    (snap,) = [p for p in net.report["places"] if p["kind"] == "platform"]
    assert snap["node"] == C and snap["snap_m"] == 0.0


def test_simplification_keeps_every_junction_the_scenario_names(tmp_path):
    _loaded, net, world = world_for(tmp_path, _city(tmp_path, simplify=True), name="city.yaml")
    kept = set(net.osmid.tolist())
    # named: C (platform), A G H (demand points), F (key location); B and E are real junctions
    assert {A, G, B, C, H, E, F} <= kept
    assert D not in kept  # an unnamed junction of degree 2 is merged away
    rows = {r["node"]: r for r in coverage_node_rows(world, "at_c")}
    for node in kept:  # merged links keep their summed lengths: the same times
        assert rows[node]["response_s"] == pytest.approx(TURNOUT + EXPECTED_M[node] / SPEED, rel=1e-9)


def test_a_post_beside_a_street_is_placed_on_it_and_the_edge_time_is_split(tmp_path):
    data = tiny_scenario("grid.osm")
    # grid streets 250 m apart, nodes at x = -875 + 250 i, y = -625 + 250 j; this post stands 20 m
    # north of the street y = -125, 100 m east of the junction at x = -125
    x, y = -125.0 + 100.0, -125.0 + 20.0
    data["layouts"] = {"beside": {"platforms": [{"name": "Beside", "lon": lonlat(x, y)[0],
                                                 "lat": lonlat(x, y)[1], "units": {"car": 1}}]}}
    _loaded, net, world = world_for(tmp_path, data)
    node, dist = net.places[(data["layouts"]["beside"]["platforms"][0]["lon"],
                             data["layouts"]["beside"]["platforms"][0]["lat"])]
    assert net.osmid[node] < 0  # a node inserted on the street
    assert dist == pytest.approx(20.0, abs=0.05)
    assert net.x[node] == pytest.approx(x, abs=0.05) and net.y[node] == pytest.approx(-125.0, abs=0.05)
    # the street's time is split 100 : 150 in both directions (30 km/h residential)
    oracle = world.oracles["car"]
    west = int(np.argmin(np.hypot(net.x - (-125.0), net.y - (-125.0))))
    east = int(np.argmin(np.hypot(net.x - 125.0, net.y - (-125.0))))
    v = 30 / 3.6
    for a, b, share in ((node, west, 0.4), (west, node, 0.4), (node, east, 0.6), (east, node, 0.6)):
        assert oracle.time(a, b) == pytest.approx(share * 250.0 / v, rel=2e-3), (a, b)
    # the sum over the street is unchanged by the split
    assert oracle.time(west, east) == pytest.approx(250.0 / v, rel=2e-3)


def test_far_snaps_are_printed_and_go_into_the_manifest(tmp_path, capsys, cache_dir):
    write_grid_osm(tmp_path / "grid.osm")
    data = tiny_scenario("grid.osm", days="1 d", reps=1, per_day=10)
    data["layouts"]["one_post"]["platforms"][0]["lat"] = lonlat(0, 205)[1]  # 80 m off y = 125
    write_scenario(tmp_path / "far.yaml", data)
    assert main(["run", str(tmp_path / "far.yaml"), "--no-plots", "--out", str(tmp_path / "out"),
                 "--layout", "one_post"]) == 0
    err = capsys.readouterr().err
    assert "platform 'Centre'" in err and "80 m from the nearest road" in err
    assert "0 nodes and 0 edges dropped" in err
    (run,) = (tmp_path / "out" / "tiny").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["network_path"] == "grid.osm"
    (centre,) = [p for p in manifest["places"] if p["name"] == "Centre"]
    assert centre["snap_m"] == pytest.approx(80.0, abs=0.1)
    with (run / "coverage_nodes.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["layout"] for r in rows} == {"one_post"} and len(rows) == manifest["network"]["nodes"]


ONEWAY_SPUR = ('  <node id="900" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>\n'
               '  <way id="900" version="1"><nd ref="8"/><nd ref="900"/>'
               '<tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>\n')


def test_a_post_on_a_dropped_part_is_named(tmp_path, capsys, cache_dir):
    spur_lon, spur_lat = lonlat(875 + 400, -625)  # a one-way dead end east of the grid's corner
    write_grid_osm(tmp_path / "grid.osm", extra_ways=ONEWAY_SPUR.format(lon=spur_lon, lat=spur_lat))
    data = tiny_scenario("grid.osm")
    data["layouts"]["one_post"]["platforms"][0].update(lon=lonlat(875 + 380, -625)[0],
                                                       lat=lonlat(875 + 380, -625)[1])
    write_scenario(tmp_path / "spur.yaml", data)
    assert main(["validate", str(tmp_path / "spur.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "layouts.one_post.platforms[0]" in err and "platform 'Centre'" in err
    assert "1 nodes and 1 edges were dropped" in err
    # without that post, validate passes and says what was dropped
    data["layouts"]["one_post"]["platforms"][0].update(lon=lonlat(0, 0)[0], lat=lonlat(0, 0)[1])
    write_scenario(tmp_path / "spur.yaml", data)
    assert main(["validate", str(tmp_path / "spur.yaml")]) == 0
    assert "1 nodes and 1 edges dropped as outside the largest strongly connected" in capsys.readouterr().err


def test_a_single_one_way_street_gets_one_clear_message(tmp_path, capsys, cache_dir):
    a, b = lonlat(0, 0), lonlat(300, 0)
    (tmp_path / "street.osm").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        f'  <node id="1" version="1" lat="{a[1]:.7f}" lon="{a[0]:.7f}"/>\n'
        f'  <node id="2" version="1" lat="{b[1]:.7f}" lon="{b[0]:.7f}"/>\n'
        '  <way id="1" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>'
        '<tag k="oneway" v="yes"/></way>\n</osm>\n', encoding="utf-8")
    with pytest.raises(NetworkSourceError, match="single one-way street"):
        load_network({"source": "file", "path": str(tmp_path / "street.osm")}, cache_dir=cache_dir)
    data = tiny_scenario("street.osm")
    write_scenario(tmp_path / "street.yaml", data)
    assert main(["validate", str(tmp_path / "street.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "zero-size" not in err
    assert next(x for x in err.splitlines() if x.startswith("error:")).count("one-way") == 1
