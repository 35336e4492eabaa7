"""Tests for the synthetic county and whole-city networks (sim.network.synth_county) and the
opt-in rural road classes of the loader."""

from __future__ import annotations

import hashlib
import itertools
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sim.network import synth, synth_county
from sim.network.load import load_network

SEED = 2017
SIZE = 0.2  # a 22 x 22 km county with 60 villages: quick to build and load
SPEEDS = {"default": "30 km/h"}


@pytest.fixture(scope="module")
def county_osm(tmp_path_factory):
    return synth_county.write_synthetic_county(tmp_path_factory.mktemp("county") / "c.osm", SEED, SIZE)


@pytest.fixture(scope="module")
def xml_root(county_osm):
    return ET.parse(county_osm).getroot()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _spec(**extra) -> dict:
    return {"source": "synthetic", "synthetic": "county", "seed": SEED, "size": SIZE,
            "speeds": SPEEDS, **extra}


def _way_tags(root) -> list[dict[str, str]]:
    return [{t.get("k"): t.get("v") for t in w.iter("tag")} for w in root.iter("way")]


def test_same_seed_and_size_give_identical_bytes(county_osm, tmp_path):
    again = synth_county.write_synthetic_county(tmp_path / "again.osm", SEED, SIZE)
    assert again.read_bytes() == county_osm.read_bytes()
    other = synth_county.write_synthetic_county(tmp_path / "other.osm", SEED + 1, SIZE)
    assert other.read_bytes() != county_osm.read_bytes()


def test_central_network_is_unchanged():
    """The refactor that lets the county reuse the writer keeps central Shaoyang byte-identical
    (checksum of the file measured before the county generator existed)."""
    text = synth._render(SEED)
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "7f2e04251d8a783a190a0259b5259b0aa12d9ce732862174b1d265de63704f75")


def test_rural_road_classes_are_tagged(xml_root):
    tags = _way_tags(xml_root)
    classes = {t.get("highway") for t in tags}
    assert {"primary", "secondary", "tertiary", "residential", "unclassified", "track"} <= classes
    county_roads = [t for t in tags if t.get("highway") == "tertiary" and "ref" in t]
    assert county_roads and all(t["ref"].startswith("X") for t in county_roads)
    assert all(t.get("tracktype") == "grade3" for t in tags if t.get("highway") == "track")


def test_villages_are_spread_outside_the_town():
    villages = synth_county.county_villages(SEED, SIZE)
    side = synth_county.COUNTY_SIDE_M * math.sqrt(SIZE)
    town_half = synth_county.TOWN_SIDE_M * math.sqrt(SIZE) / 2
    assert len(villages) == round(0.12 * (side / 1000) ** 2)  # 300 per 2,500 km2
    cx, cy = synth_county.DETAILED_COUNTY.x_m, synth_county.DETAILED_COUNTY.y_m
    for v in villages:
        x, y = v.x_m - cx, v.y_m - cy
        assert max(abs(x), abs(y)) >= town_half + 1000.0
        assert max(abs(x), abs(y)) <= side / 2
        assert v.population > 0
    gaps = [math.hypot(a.x_m - b.x_m, a.y_m - b.y_m) for a, b in itertools.combinations(villages, 2)]
    assert min(gaps) >= 1000.0
    assert len({v.name for v in villages}) == len(villages)
    assert synth_county.county_villages(SEED, SIZE) == villages


def test_size_grows_the_county():
    small = synth_county.county_villages(SEED, 0.1)
    big = synth_county.county_villages(SEED, 0.4)
    assert len(big) == pytest.approx(4 * len(small), rel=0.05)


def test_tracks_are_dropped_unless_the_speeds_name_them(cache):
    plain = load_network(_spec(), cache_dir=cache)
    rural = load_network(_spec(speeds={"default": "30 km/h", "track": "15 km/h"}), cache_dir=cache)
    assert "track" not in plain.classes
    assert "track" in rural.classes
    assert rural.n_edges > plain.n_edges
    for net in (plain, rural):  # strongly connected without tracks: nothing dropped
        assert net.report["strong_components"] == 1
        assert net.report["nodes_dropped_outside_largest_scc"] == 0


def test_every_village_centre_is_on_the_network(cache):
    net = load_network(_spec(), cache_dir=cache)
    for v in synth_county.county_villages(SEED, SIZE):
        lon, lat = v.lonlat
        x, y = net.frame.to_local(np.array([lon]), np.array([lat]))
        _, d = net.nearest_node(float(x[0]), float(y[0]))
        assert d < 1.0, v.name


def test_city_contains_central_shaoyang_and_every_county_town(tmp_path):
    city = ET.parse(synth_county.write_synthetic_city(tmp_path / "city.osm", SEED, 0.1)).getroot()
    central = ET.parse(synth.write_synthetic_shaoyang(tmp_path / "central.osm", SEED)).getroot()

    def ways(root) -> set:
        coords = {n.get("id"): (n.get("lat"), n.get("lon")) for n in root.iter("node")}
        return {(tuple(coords[nd.get("ref")] for nd in w.iter("nd")),
                 tuple(sorted((t.get("k"), t.get("v")) for t in w.iter("tag")))) for w in root.iter("way")}

    assert ways(central) <= ways(city)
    names = " ".join(t.get("name", "") for t in _way_tags(city))
    for town in synth_county.city_towns(0.1):
        assert f"{town.key} North-South 1" in names
    assert sum(t.platforms for t in synth_county.city_towns()) == 23  # + 10 urban = 33


def test_size_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="size must be"):
        synth_county.write_synthetic_county(tmp_path / "x.osm", SEED, 0.0)
