"""Shared fixtures: a tiny generated road network and a tiny scenario that uses it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.types import IncidentSet

LAT0, LON0 = 27.24, 111.47
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    return LON0 + x_m / M_PER_DEG_LON, LAT0 + y_m / M_PER_DEG_LAT


def write_grid_osm(path: Path, nx: int = 8, ny: int = 6, spacing: float = 250.0,
                   highway: str = "residential", extra_ways: str = "") -> Path:
    """A rectangular grid of two-way streets as OSM XML (node ids 1.., row-major)."""
    nodes, ways = [], []
    for j in range(ny):
        for i in range(nx):
            lon, lat = lonlat((i - (nx - 1) / 2) * spacing, (j - (ny - 1) / 2) * spacing)
            nodes.append(f'  <node id="{j * nx + i + 1}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    wid = 1
    for j in range(ny):
        refs = "".join(f'<nd ref="{j * nx + i + 1}"/>' for i in range(nx))
        ways.append(f'  <way id="{wid}" version="1">{refs}<tag k="highway" v="{highway}"/></way>')
        wid += 1
    for i in range(nx):
        refs = "".join(f'<nd ref="{j * nx + i + 1}"/>' for j in range(ny))
        ways.append(f'  <way id="{wid}" version="1">{refs}<tag k="highway" v="{highway}"/></way>')
        wid += 1
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="tests">\n'
                    + "\n".join(nodes + ways) + "\n" + extra_ways + "</osm>\n", encoding="utf-8")
    return path


def tiny_scenario(network_file: str, *, days: str = "3 d", reps: int = 2,
                  per_day: float = 40.0) -> dict:
    """A small but complete scenario (as a dict) on the grid from :func:`write_grid_osm` (8 x 6)."""
    kl = lonlat(0.0, 0.0)
    ring = [list(lonlat(x, y)) for x, y in ((-600, -400), (600, -400), (600, 400), (-600, 400),
                                               (-600, -400))]
    p1, p2, p3 = lonlat(-625, -125), lonlat(625, 125), lonlat(0, 0)
    return {
        "name": "tiny",
        "title": "Tiny test city",
        "network": {"source": "file", "path": network_file,
                    "speeds": {"residential": "30 km/h", "default": "30 km/h"}},
        "zones": {
            "targets": {"key": "1 min", "central": "3 min", "other": "5 min"},
            "clock": "dispatch",
            "key_locations": [{"name": "Square", "kind": "square", "lon": kl[0], "lat": kl[1],
                               "radius": "200 m"}],
            "central_city": ring,
        },
        "unit_types": {
            "car": {"speed_factor": 1.0, "turnout": "30 s"},
            "moto": {"speed_factor": 1.2, "max_speed": "40 km/h", "turnout": "15 s"},
        },
        "call_handling": {"distribution": "exponential", "mean": "60 s"},
        "incident_types": [
            {"name": "urgent", "priority": "urgent", "share": 0.3,
             "on_scene": {"distribution": "exponential", "mean": "20 min"}},
            {"name": "routine", "priority": "minor", "share": 0.7,
             "on_scene": {"distribution": "lognormal", "mean": "15 min", "cv": 0.5}},
        ],
        "demand": {
            "incidents_per_day": per_day,
            "hourly_profile": [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 2, 1],
            "hotspots": [{"name": "Centre", "lon": kl[0], "lat": kl[1], "sigma": "300 m",
                          "share": 0.3}],
        },
        "layouts": {
            "two_posts": {"platforms": [
                {"name": "West", "lon": p1[0], "lat": p1[1], "units": {"car": 1, "moto": 1}},
                {"name": "East", "lon": p2[0], "lat": p2[1], "units": {"car": 1}},
            ]},
            "one_post": {"platforms": [
                {"name": "Centre", "lon": p3[0], "lat": p3[1], "units": {"car": 2}},
            ]},
        },
        "run": {"duration": days, "warmup": "6 h", "replications": reps, "seed": 7},
    }


def write_scenario(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A folder with grid.osm and tiny.yaml."""
    write_grid_osm(tmp_path / "grid.osm")
    write_scenario(tmp_path / "tiny.yaml", tiny_scenario("grid.osm"))
    return tmp_path


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("POLICE_SIM_CACHE", str(d))
    return d


def world_for(folder: Path, data: dict, *, name: str = "scenario.yaml"):
    """Write ``data`` as a scenario in ``folder`` (which holds grid.osm) and prepare its world."""
    from sim.scenario import load_scenario
    from sim.study.experiment import load_world

    if not (folder / "grid.osm").exists():
        write_grid_osm(folder / "grid.osm")
    loaded = load_scenario(write_scenario(folder / name, data))
    net, world = load_world(loaded, folder / "cache")
    return loaded, net, world


def hand_incidents(world, times, nodes, priorities, on_scene, horizon=86400.0):
    """Incidents given by hand (call times, nodes, priorities, on-scene times; type 0), dispatched
    1 s after each call."""
    n = len(times)
    nodes = np.asarray(nodes, dtype=np.int64)
    return IncidentSet(call_s=np.asarray(times, float), dispatch_s=np.asarray(times, float) + 1.0,
                       node=nodes, zone=world.zones.zone[nodes],
                       key_location=world.zones.key_location[nodes],
                       type_index=np.zeros(n, dtype=np.int16),
                       priority=np.asarray(priorities, dtype=np.int8),
                       on_scene_s=np.asarray(on_scene, float), horizon_s=horizon)
