"""Checks of a scenario against its road network that the schema cannot see.

:func:`check_platforms_against_rivers` refuses a platform placed in a river. The road network only
knows river centre lines (``waterway=river`` ways), so a river's extent is taken as a band around
its centre line:

- its width is the way's OSM ``width`` tag when the file has one (``"30"``, ``"30 m"``, ``"100 ft"``);
  the synthetic Shaoyang network carries such tags, and their values are the generator's own;
- otherwise the scenario's ``network.river_width`` (default 30 m, a typical urban river);
- a platform closer to the centre line than half the width is *in the river*, unless it lies on a
  road (within :data:`ON_ROAD_M` of a road segment): a post on a bridge is allowed.

:func:`check_against_network` runs every check of a scenario against its network and reports
all problems at once: the river check above, and places the roads never reach:

- a platform, timed post, patrol waypoint or volunteer beat point farther than
  ``network.snap_tolerance`` from the nearest drivable road segment;
- a key location with no road node within its radius;
- a ``central_city`` polygon that holds no road node;
- a demand hotspot with no road node within 3 sigma of its centre (its demand would all land at
  the map's edge), at any distance (great-circle, so a point on another continent is measured
  right).

Checks read the resolved layouts; the key path of an inherited platform names the line of the
entry that placed it (see ``sim.scenario.inheritance``).
"""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from sim.network.graph import RoadNetwork
from sim.network.snap import segments_distance
from sim.quantities import format_distance
from sim.scenario import LoadedScenario, Scenario, ScenarioError, ground_distance_m
from sim.world.places import dropped_message, dropped_segments

__all__ = [
    "ON_ROAD_M",
    "RiverLine",
    "check_against_network",
    "check_platforms_against_rivers",
    "network_problems",
    "river_lines",
]

ON_ROAD_M = 15.0
"""A platform this close (m) to a road segment is on a road (e.g. a bridge), even over a river."""

_WIDTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|ft|')?\s*$")


@dataclass(frozen=True)
class RiverLine:
    """A river centre line in the network's local frame.

    Attributes
    ----------
    name : river name.
    x, y : vertices (m, local frame).
    width_m : river width (m).
    width_from : where the width came from: ``"OSM width tag"`` or ``"network.river_width"``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    width_m: float
    width_from: str


def parse_osm_width(value: str | None) -> float | None:
    """An OSM ``width`` tag in metres (``"30"``, ``"30 m"``, ``"98 ft"``), or None if unreadable."""
    if not value:
        return None
    m = _WIDTH.match(value.replace(",", "."))
    if m is None:
        return None
    w = float(m.group(1)) * (0.3048 if m.group(2) in ("ft", "'") else 1.0)
    return w if 0 < w < 50_000 else None


def _osm_river_ways(path: Path) -> list[tuple[str, list[tuple[float, float]], float | None]]:
    """``waterway=river`` ways of an OSM XML file: (name, [(lon, lat)], width in m or None)."""
    opener: Any = bz2.open if path.suffix == ".bz2" else open
    try:
        with opener(path, "rb") as fh:
            root = ET.parse(fh).getroot()
    except (ET.ParseError, OSError, EOFError, ValueError):
        return []
    coords: dict[str | None, tuple[float, float]] = {}
    for n in root.iter("node"):
        try:
            coords[n.get("id")] = (float(n.get("lon", "nan")), float(n.get("lat", "nan")))
        except ValueError:
            continue
    out = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags.get("waterway") != "river":
            continue
        pts = [coords[nd.get("ref")] for nd in way.iter("nd") if nd.get("ref") in coords]
        if len(pts) >= 2:
            name = tags.get("name") or f"river {way.get('id')}"
            out.append((name, pts, parse_osm_width(tags.get("width"))))
    return out


def river_lines(loaded: LoadedScenario, net: RoadNetwork) -> list[RiverLine]:
    """The rivers of the scenario's network, with their widths (see the module docstring)."""
    spec = loaded.scenario.network
    default = float(spec.river_width)
    ways: list[tuple[str, list[tuple[float, float]], float | None]] = []
    if spec.source == "file" and spec.path and not spec.path.lower().endswith(".graphml"):
        ways = _osm_river_ways(loaded.resolve_path(spec.path))
    if not ways:
        known: dict[str, float] = {}
        if spec.source == "synthetic":
            from sim.network import synth

            known = {synth.ZI_NAME: 2 * synth.ZI_HALF_WIDTH_M, synth.SHAO_NAME: 2 * synth.SHAO_HALF_WIDTH_M}
        ways = [(name, list(pts), known.get(name)) for name, pts in net.rivers.items() if len(pts) >= 2]
    out = []
    for name, pts, width in ways:
        arr = np.asarray(pts, dtype=float)
        x, y = net.frame.to_local(arr[:, 0], arr[:, 1])
        out.append(RiverLine(name=name, x=np.asarray(x), y=np.asarray(y),
                             width_m=width if width is not None else default,
                             width_from="OSM width tag" if width is not None else "network.river_width"))
    return out



def _river_problems(loaded: LoadedScenario, net: RoadNetwork,
                    layouts: list[str] | None = None) -> list[ScenarioError]:
    """A problem for each platform that stands in a river (see the module docstring)."""
    rivers = river_lines(loaded, net)
    if not rivers:
        return []
    s = loaded.scenario
    ex, ey = net.x[net.edge_u], net.y[net.edge_u]
    fx, fy = net.x[net.edge_v], net.y[net.edge_v]
    out = []
    for lname in layouts or list(s.layouts):
        for i, p in enumerate(s.layouts[lname].platforms):
            px, py = (float(v) for v in net.frame.to_local(p.lon, p.lat))
            for r in rivers:
                seg = np.column_stack([r.x[:-1], r.y[:-1], r.x[1:], r.y[1:]])
                d = float(segments_distance(px, py, seg).min())
                if d >= r.width_m / 2:
                    continue
                roads = np.column_stack([ex, ey, fx, fy])
                if net.n_edges and float(segments_distance(px, py, roads).min()) <= ON_ROAD_M:
                    break  # on a road over the river: a bridge
                how = ("its OSM width tag" if r.width_from == "OSM width tag"
                       else "network.river_width, since the map gives none")
                out.append(loaded.error(
                    ("layouts", lname, "platforms", i),
                    f"platform '{p.name}' is in the river '{r.name}': "
                    f"{format_distance(round(d))} from its centre line, closer than half its width "
                    f"(the river is {format_distance(r.width_m)} wide, from {how}); move the post "
                    f"onto a road (a post on a bridge, within {ON_ROAD_M:g} m of the road, is allowed)"))
                break
    return out


def check_platforms_against_rivers(loaded: LoadedScenario, net: RoadNetwork,
                                   layouts: list[str] | None = None) -> None:
    """Refuse a platform that stands in a river (see the module docstring for the rule).

    Parameters
    ----------
    layouts : layouts to check (default: every layout of the scenario, run or not).

    Raises
    ------
    ScenarioError
        Naming each such platform's key path and line, the river, and how its width was found.
    """
    problems = _river_problems(loaded, net, layouts)
    if problems:
        raise ScenarioError.combine(problems)


def _far(d: float) -> str:
    """A distance for a message: metres near the map, thousands of km across the Earth."""
    return format_distance(round(d)) if d < 10_000 else f"{d / 1000:,.0f} km"


def _nearest_ground_m(net: RoadNetwork, lon: float, lat: float) -> float:
    """Great-circle distance (m) from a point to the nearest road node (right at any distance,
    unlike the local frame, which only holds over a city)."""
    return float(np.min(ground_distance_m(lon, lat, net.lon, net.lat)))


def _places_on_roads(s: Scenario) -> Iterable[tuple[tuple[Any, ...], str, float, float]]:
    """Every point a scenario puts on the roads: (key path, what, lon, lat), all layouts."""
    for lname, layout in s.layouts.items():
        for i, p in enumerate(layout.platforms):
            loc = ("layouts", lname, "platforms", i)
            yield loc, f"platform '{p.name}'", p.lon, p.lat
            for j, tp in enumerate(p.posts_by_time):
                yield (*loc, "posts_by_time", j), f"post '{tp.name or j}' of platform '{p.name}'", \
                    tp.lon, tp.lat
            for j, (lon, lat) in enumerate(p.patrol_waypoints or []):
                yield (*loc, "patrol_waypoints", j), f"patrol waypoint {j} of '{p.name}'", lon, lat
        for i, team in enumerate(layout.volunteers):
            for j, (lon, lat) in enumerate(team.beat):
                yield (("layouts", lname, "volunteers", i, "beat", j),
                       f"beat point {j} of volunteers '{team.name}'", lon, lat)


def _road_problems(loaded: LoadedScenario, net: RoadNetwork) -> list[ScenarioError]:
    """Places too far from the roads, and zones and hotspots the roads never reach."""
    s = loaded.scenario
    out: list[ScenarioError] = []
    if net.n_nodes == 0:
        return out
    drive = ~np.asarray(net.edge_walk_only, dtype=bool)
    roads = shapely.STRtree(shapely.linestrings(np.stack(
        [np.column_stack([net.x[net.edge_u[drive]], net.y[net.edge_u[drive]]]),
         np.column_stack([net.x[net.edge_v[drive]], net.y[net.edge_v[drive]]])], axis=1)))
    tol = s.network.snap_tolerance
    places = list(_places_on_roads(s))
    if places and drive.any():
        xs, ys = net.frame.to_local([p[2] for p in places], [p[3] for p in places])
        _, dist = roads.query_nearest(shapely.points(xs, ys), return_distance=True, all_matches=False)
        dropped = dropped_segments(net)
        for (loc, what, lon, lat), d, px, py in zip(places, dist, xs, ys, strict=True):
            d = min(float(d), _nearest_ground_m(net, lon, lat))
            d_drop = float(segments_distance(px, py, dropped).min()) if len(dropped) else np.inf
            if d_drop < d and d_drop <= tol:  # on a road the loader dropped: say so
                out.append(loaded.error(loc, dropped_message(net, what, d_drop, d)))
            elif d > tol:
                out.append(loaded.error(loc, (
                    f"{what} is {_far(d)} from the nearest drivable road "
                    f"(tolerance {format_distance(tol)}, network.snap_tolerance): is it off the "
                    "network, or are lon and lat swapped?")))
    for i, k in enumerate(s.zones.key_locations):
        if not np.any(ground_distance_m(k.lon, k.lat, net.lon, net.lat) <= k.radius):
            out.append(loaded.error(("zones", "key_locations", i), (
                f"key location '{k.name}' has no road node within its radius "
                f"({format_distance(k.radius)}; the nearest is "
                f"{_far(_nearest_ground_m(net, k.lon, k.lat))} away); move it or "
                "widen the radius")))
    ring = shapely.Polygon(s.zones.central_city)
    if not shapely.contains_xy(ring, net.lon, net.lat).any():
        out.append(loaded.error(("zones", "central_city"), (
            "the central_city polygon holds no road node, so no incident can be in the central city "
            f"(the map spans lon {net.lon.min():.4f} to {net.lon.max():.4f}, lat {net.lat.min():.4f} "
            f"to {net.lat.max():.4f}); check the corners, and that each is [lon, lat]")))
    for i, h in enumerate(s.demand.hotspots):
        d = _nearest_ground_m(net, h.lon, h.lat)
        if drive.any() and d > 3 * h.sigma:  # a road passing between its nodes counts too
            hx, hy = net.frame.to_local(h.lon, h.lat)
            _, on_road = roads.query_nearest(shapely.points(hx, hy), return_distance=True)
            d = min(d, float(on_road[0]))
        if d > 3 * h.sigma:
            out.append(loaded.error(("demand", "hotspots", i), (
                f"hotspot '{h.name}' has no road within 3 sigma ({format_distance(3 * h.sigma)}) of "
                f"its centre: the nearest road is {_far(d)} away, so its "
                f"{h.share:.0%} of the demand would land at the map's edge; move it onto the map "
                "(lon and lat swapped?) or widen sigma")))
    return out


def network_problems(loaded: LoadedScenario, net: RoadNetwork) -> list[ScenarioError]:
    """Every problem of the scenario against its road network, for every layout (run or not)."""
    return _road_problems(loaded, net) + _river_problems(loaded, net)


def check_against_network(loaded: LoadedScenario, net: RoadNetwork) -> None:
    """Every network check of this module, for every layout (call it where the network is loaded):
    places off the roads, key locations, the central city and hotspots the roads never reach, and
    platforms in rivers.

    Raises
    ------
    ScenarioError
        Holding every problem found.
    """
    problems = network_problems(loaded, net)
    if problems:
        raise ScenarioError.combine(problems)
