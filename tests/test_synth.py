"""Tests for the synthetic central-Shaoyang network generator (sim.network.synth)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from sim.network import synth

SEED = 2017
CLASSES = ("trunk", "primary", "secondary", "tertiary", "residential")


def _values(v) -> list:
    """osmnx stores merged attributes as lists; make every attribute a list."""
    return v if isinstance(v, list) else [v]


@pytest.fixture(scope="module")
def osm_path(tmp_path_factory):
    return synth.write_synthetic_shaoyang(tmp_path_factory.mktemp("synth") / "shaoyang.osm", SEED)


@pytest.fixture(scope="module")
def graph(osm_path):
    return ox.graph_from_xml(osm_path, simplify=True, retain_all=True)


@pytest.fixture(scope="module")
def roads(graph):
    """The drivable graph: edges of ways with a ``highway`` tag."""
    keep = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if "highway" in d]
    return graph.edge_subgraph(keep).copy()


@pytest.fixture(scope="module")
def features():
    return synth.synthetic_features(SEED)


@pytest.fixture(scope="module")
def xml_root(osm_path):
    return ET.parse(osm_path).getroot()


def _edge_line(G, u, v, d) -> LineString:
    if "geometry" in d:
        return d["geometry"]
    return LineString([(G.nodes[u]["x"], G.nodes[u]["y"]), (G.nodes[v]["x"], G.nodes[v]["y"])])


# --- determinism ----------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(osm_path, tmp_path):
    again = synth.write_synthetic_shaoyang(tmp_path / "again.osm", seed=SEED)
    assert again == tmp_path / "again.osm"
    assert again.read_bytes() == osm_path.read_bytes()


def test_different_seed_gives_different_bytes(osm_path, tmp_path):
    other = synth.write_synthetic_shaoyang(tmp_path / "other.osm", seed=SEED + 1)
    assert other.read_bytes() != osm_path.read_bytes()


def test_creates_missing_parent_directories(tmp_path):
    out = synth.write_synthetic_shaoyang(str(tmp_path / "a" / "b" / "net.osm"), seed=3)
    assert out.is_file() and out.stat().st_size > 0


# --- file format ----------------------------------------------------------------------------

def test_osm_xml_structure(xml_root):
    assert xml_root.tag == "osm" and xml_root.get("version") == "0.6"
    assert "OSMnx" not in xml_root.get("generator", "")  # osmnx warns about its own files
    nodes = xml_root.findall("node")
    ways = xml_root.findall("way")
    assert [int(n.get("id")) for n in nodes] == list(range(1, len(nodes) + 1))
    assert [int(w.get("id")) for w in ways] == list(range(1, len(ways) + 1))
    for n in nodes[:50]:
        for attr in ("lat", "lon"):
            assert len(n.get(attr).split(".")[1]) == 7
    node_ids = {n.get("id") for n in nodes}
    used = set()
    for w in ways:
        refs = [nd.get("ref") for nd in w.findall("nd")]
        assert len(refs) >= 2 and set(refs) <= node_ids
        used.update(refs)
    assert used == node_ids  # no orphan nodes


def test_river_ways_are_separate_from_roads(xml_root, features):
    road_nodes, river_nodes, river_names = set(), set(), set()
    for w in xml_root.findall("way"):
        tags = {t.get("k"): t.get("v") for t in w.findall("tag")}
        refs = {nd.get("ref") for nd in w.findall("nd")}
        if "highway" in tags:
            road_nodes |= refs
        else:
            assert tags.get("waterway") == "river"
            river_nodes |= refs
            river_names.add(tags["name"])
    assert river_names == set(features["rivers"]) == {synth.ZI_NAME, synth.SHAO_NAME}
    assert not road_nodes & river_nodes


def test_tags(xml_root):
    ways = [{t.get("k"): t.get("v") for t in w.findall("tag")} for w in xml_root.findall("way")]
    roads = [t for t in ways if "highway" in t]
    for t in roads:
        assert t["highway"] in CLASSES
        if t["highway"] in ("trunk", "primary"):
            assert int(t["maxspeed"]) >= 40
        else:
            assert "maxspeed" not in t
        if t["highway"] in ("trunk", "primary", "secondary"):
            assert t.get("name")
        if "oneway" in t:
            assert t["oneway"] == "yes"
    names = {t.get("name") for t in roads}
    assert {"Baoqing Road (宝庆路)", "Dongfeng Road (东风路)", "Shaoyang Avenue (邵阳大道)"} <= names
    bridges = [t for t in roads if t.get("bridge") == "yes"]
    assert len(bridges) == len(synth.ZI_BRIDGES) + len(synth.SHAO_BRIDGES) + 1
    assert all(t["highway"] in ("trunk", "primary", "secondary") and t.get("name") for t in bridges)


# --- the graph osmnx builds --------------------------------------------------------------------

def test_osmnx_node_count(graph, roads):
    assert 5000 <= len(graph) <= 20000
    assert 5000 <= len(roads) <= 20000
    assert roads.number_of_edges() > len(roads)


def test_drivable_graph_strongly_connected(roads):
    largest = max(nx.strongly_connected_components(roads), key=len)
    assert len(largest) == len(roads)


def test_every_class_present_and_some_oneway(roads):
    classes = {c for *_, d in roads.edges(data=True) for c in _values(d["highway"])}
    assert set(CLASSES) <= classes
    oneway = [d for *_, d in roads.edges(data=True) if d["oneway"] is True]
    assert 100 <= len(oneway) < roads.number_of_edges() // 4
    assert all("residential" in _values(d["highway"]) for d in oneway)


def test_oneway_streets_alternate(roads):
    """Neighbouring one-way streets run in opposite directions: both headings are common."""
    north = south = 0
    for u, v, d in roads.edges(data=True):
        if d["oneway"] is True:
            dy = roads.nodes[v]["y"] - roads.nodes[u]["y"]
            north += dy > 0
            south += dy < 0
    assert north > 0.3 * (north + south) and south > 0.3 * (north + south)


def test_roads_cross_rivers_only_on_bridges(roads, features):
    rivers = {name: LineString(pts) for name, pts in features["rivers"].items()}
    lines, is_bridge, pairs = [], [], []
    for u, v, d in roads.edges(data=True):
        lines.append(_edge_line(roads, u, v, d))
        is_bridge.append("yes" in _values(d.get("bridge")))
        pairs.append(frozenset((u, v)))
    lines_arr = np.array(lines, dtype=object)
    is_bridge = np.array(is_bridge)
    crossings = {}
    for name, river in rivers.items():
        hit = shapely.intersects(lines_arr, river)
        assert not np.any(hit & ~is_bridge), f"a road crosses the {name} off a bridge"
        crossings[name] = {pairs[i] for i in np.flatnonzero(hit)}
    assert 5 <= len(crossings[synth.ZI_NAME]) <= 6
    assert 4 <= len(crossings[synth.SHAO_NAME]) <= 5
    # every bridge crosses exactly one river
    n_bridges = len({pairs[i] for i in np.flatnonzero(is_bridge)})
    assert n_bridges == len(crossings[synth.ZI_NAME]) + len(crossings[synth.SHAO_NAME])


def test_no_road_node_in_a_river(roads, features):
    xs, ys = synth.lonlat_to_local([roads.nodes[n]["x"] for n in roads],
                                   [roads.nodes[n]["y"] for n in roads])
    pts = shapely.points(xs, ys)
    for name, half in ((synth.ZI_NAME, synth.ZI_HALF_WIDTH_M),
                       (synth.SHAO_NAME, synth.SHAO_HALF_WIDTH_M)):
        lon, lat = np.array(features["rivers"][name]).T
        river = LineString(np.column_stack(synth.lonlat_to_local(lon, lat)))
        assert shapely.distance(pts, river).min() >= half


def test_road_nodes_in_all_three_districts(roads, features):
    x = np.array([roads.nodes[n]["x"] for n in roads])
    y = np.array([roads.nodes[n]["y"] for n in roads])
    counts, member = {}, []
    for name, ring in features["districts"].items():
        poly = Polygon(ring)
        assert poly.is_valid
        inside = shapely.intersects_xy(poly, x, y)  # nodes on the frame edge count as inside
        member.append(inside)
        counts[name] = int(inside.sum())
    assert set(counts) == {"Beita (北塔区)", "Daxiang (大祥区)", "Shuangqing (双清区)"}
    assert all(c > 500 for c in counts.values()), counts
    assert (np.sum(member, axis=0) == 1).all()  # the districts tile the frame


def test_old_town_is_dense_and_has_the_oneway_streets(roads, features):
    old = Polygon(features["old_town"])
    x = np.array([roads.nodes[n]["x"] for n in roads])
    y = np.array([roads.nodes[n]["y"] for n in roads])
    inside = shapely.contains_xy(old, x, y)
    # node density (per square degree is fine for a ratio) inside vs. the whole frame
    frame = shapely.box(x.min(), y.min(), x.max(), y.max())
    dens_old = inside.sum() / old.area
    dens_rest = (~inside).sum() / (frame.area - old.area)
    assert dens_old > 2.0 * dens_rest
    # the old town sits in Daxiang, near the confluence
    assert Polygon(features["districts"]["Daxiang (大祥区)"]).buffer(1e-4).contains(old)
    cx, cy = synth.lonlat_to_local(old.centroid.x, old.centroid.y)
    assert -2500 < cx < 800 and -1800 < cy < 600
    mids = [_edge_line(roads, u, v, d).interpolate(0.5, normalized=True)
            for u, v, d in roads.edges(data=True) if d["oneway"] is True]
    oneway_in = shapely.contains(old, np.array(mids, dtype=object))
    assert np.mean(oneway_in) > 0.95


# --- features --------------------------------------------------------------------------------

def test_features(features):
    assert set(features) == {"rivers", "bridges", "districts", "old_town"}
    for pts in features["rivers"].values():
        assert len(pts) > 20 and all(len(p) == 2 for p in pts)
    zi = features["rivers"][synth.ZI_NAME]
    shao = features["rivers"][synth.SHAO_NAME]
    assert shao[-1] in zi  # the Shao flows into the Zi
    for ring in [*list(features["districts"].values()), features["old_town"]]:
        assert ring[0] == ring[-1] and len(ring) >= 4
    by_river = {}
    for b in features["bridges"]:
        assert set(b) == {"name", "river", "lon", "lat"}
        by_river.setdefault(b["river"], []).append(b)
    assert len(by_river[synth.ZI_NAME]) == 6 and len(by_river[synth.SHAO_NAME]) == 5
    for b in features["bridges"]:  # each bridge mid-point lies on (or very near) its river
        assert LineString(features["rivers"][b["river"]]).distance(Point(b["lon"], b["lat"])) < 3e-4
    assert synth.synthetic_features(SEED + 1) == features  # the geography does not depend on it


# --- projection ------------------------------------------------------------------------------

def test_projection_scalars():
    assert synth.local_to_lonlat(0.0, 0.0) == (synth.ORIGIN_LON, synth.ORIGIN_LAT)
    lon, lat = synth.local_to_lonlat(1000.0, 110_574.0)
    assert isinstance(lon, float) and isinstance(lat, float)
    assert lat == pytest.approx(synth.ORIGIN_LAT + 1.0)
    assert (lon - synth.ORIGIN_LON) * 111_320.0 * np.cos(np.radians(27.24)) == pytest.approx(1000.0)


def test_projection_arrays_round_trip():
    rng = np.random.default_rng(0)
    x = rng.uniform(-7000, 7000, 1000)
    y = rng.uniform(-5000, 5000, 1000)
    lon, lat = synth.local_to_lonlat(x, y)
    assert lon.shape == x.shape
    x2, y2 = synth.lonlat_to_local(lon, lat)
    np.testing.assert_allclose(x2, x, atol=1e-6)
    np.testing.assert_allclose(y2, y, atol=1e-6)


@given(st.floats(-20_000, 20_000), st.floats(-20_000, 20_000))
def test_projection_round_trip_property(x, y):
    x2, y2 = synth.lonlat_to_local(*synth.local_to_lonlat(x, y))
    assert x2 == pytest.approx(x, abs=1e-6) and y2 == pytest.approx(y, abs=1e-6)
