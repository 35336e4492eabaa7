"""Every place a scenario names, put on the road network where the planner put it.

The places are the platforms, their timed posts and patrol waypoints, volunteer beat points,
key-location centres and demand points (``demand.points``). Each is placed on the nearest
drivable road (``sim.network.snap``: a node is inserted on the edge when the point is not at a
junction), and its distance to that road is checked against ``network.snap_tolerance``. A key
location centre farther from every road than its radius is not placed (the zone check reports a
key location without roads). A place, or a hotspot centre, nearer to a part of the road network
that was dropped as not strongly connected than to the kept roads is an error that names it.

The result is the network with the inserted nodes, carrying ``places`` (``(lon, lat) -> (node,
distance m)``, for :func:`sim.world.prepare._snap`) and in its report the list of snaps
(``report["places"]``: kind, name, key path, lon, lat, node id, distance), which goes into the
results manifest. Snaps farther than :data:`WARN_M` are listed by :func:`far_snaps` for the
terminal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.network.graph import RoadNetwork
from sim.network.snap import insert_points, nearest_road, segments_distance
from sim.quantities import format_distance
from sim.scenario import LoadedScenario, ScenarioError, format_loc
from sim.world.demand import read_demand_points

__all__ = ["WARN_M", "Place", "far_snaps", "place_on_roads", "scenario_places"]

WARN_M = 50.0
"""A place moved farther than this (m) to reach its road is printed on the terminal."""


@dataclass(frozen=True)
class Place:
    """A point the scenario names: what it is, its name, where, and its key path in the file."""

    kind: str
    name: str
    lon: float
    lat: float
    loc: tuple[Any, ...]


def scenario_places(loaded: LoadedScenario, layouts: list[str] | None = None) -> list[Place]:
    """The places of ``layouts`` (default: every layout), the key locations and demand points."""
    s = loaded.scenario
    out: list[Place] = []
    for lname in layouts or list(s.layouts):
        lay = s.layouts[lname]
        for i, p in enumerate(lay.platforms):
            base = ("layouts", lname, "platforms", i)
            out.append(Place("platform", p.name, p.lon, p.lat, base))
            for j, tp in enumerate(p.posts_by_time):
                out.append(Place("timed post", f"{p.name}: {tp.name or j}", tp.lon, tp.lat,
                                 (*base, "posts_by_time", j)))
            for j, (lon, lat) in enumerate(p.patrol_waypoints or []):
                out.append(Place("patrol waypoint", f"{p.name} #{j + 1}", lon, lat,
                                 (*base, "patrol_waypoints", j)))
        for i, team in enumerate(lay.volunteers):
            for j, (lon, lat) in enumerate(team.beat):
                out.append(Place("volunteer beat point", f"{team.name} #{j + 1}", lon, lat,
                                 ("layouts", lname, "volunteers", i, "beat", j)))
    for i, k in enumerate(s.zones.key_locations):
        out.append(Place("key location", k.name, k.lon, k.lat, ("zones", "key_locations", i)))
    points = read_demand_points(loaded)
    if points is not None:
        for r in range(len(points.weight)):
            if points.lon is not None and points.lat is not None:
                out.append(Place("demand point", f"{points.file.name} row {r + 2}",
                                 float(points.lon[r]), float(points.lat[r]), ("demand", "points")))
    return out


def dropped_segments(net: RoadNetwork) -> np.ndarray:
    """The dropped road segments in local metres, ``[k, (x0, y0, x1, y1)]``."""
    d = net.dropped_segments
    if d is None or len(d) == 0:
        return np.zeros((0, 4))
    x0, y0 = net.frame.to_local(d[:, 0], d[:, 1])
    x1, y1 = net.frame.to_local(d[:, 2], d[:, 3])
    return np.column_stack([x0, y0, x1, y1])


def dropped_message(net: RoadNetwork, what: str, d_drop: float, d_kept: float) -> str:
    r = net.report
    return (f"{what} is {format_distance(round(d_drop))} from a road that was dropped because it is "
            f"not connected both ways to the rest of the network (only the largest strongly "
            f"connected part is kept: {r.get('nodes_dropped_outside_largest_scc', 0):,} nodes and "
            f"{r.get('edges_dropped_outside_largest_scc', 0):,} edges were dropped); the nearest kept "
            f"road is {format_distance(round(d_kept))} away. Move it onto the connected network, or "
            "fix the map (a one-way street with no way out, a missing link)")


def place_on_roads(loaded: LoadedScenario, net: RoadNetwork,
                   layouts: list[str] | None = None) -> RoadNetwork:
    """The network with every place of ``layouts`` on its road (see the module docstring).

    Raises
    ------
    ScenarioError
        For a place farther than ``network.snap_tolerance`` from every road, or a place or hotspot
        in a dropped part of the network (the first problem, with the count of the others).
    """
    s = loaded.scenario
    tol = s.network.snap_tolerance
    places = scenario_places(loaded, layouts)
    lon = np.array([p.lon for p in places], dtype=float)
    lat = np.array([p.lat for p in places], dtype=float)
    x, y = (np.asarray(v, dtype=float) for v in net.frame.to_local(lon, lat))
    problems: list[ScenarioError] = []
    dropped = dropped_segments(net)
    radius = {i: k.radius for i, k in enumerate(s.zones.key_locations)}
    keep = np.ones(len(places), dtype=bool)
    nearest = None
    if places:
        nearest = nearest_road(net, x, y)
        dist = nearest[3]
        for k, p in enumerate(places):
            what = f"{p.kind} '{p.name}'"
            limit = radius[p.loc[2]] if p.kind == "key location" else tol
            if len(dropped):
                d_drop = float(segments_distance(x[k], y[k], dropped).min())
                if d_drop < dist[k] and d_drop <= limit:
                    problems.append(loaded.error(p.loc, dropped_message(net, what, d_drop, dist[k])))
                    continue
            if dist[k] > limit:
                keep[k] = False
                if p.kind != "key location":  # a key location without roads is the zone check's
                    problems.append(loaded.error(
                        p.loc, f"{what} is {format_distance(round(dist[k]))} from the nearest drivable "
                        f"road (tolerance {format_distance(tol)}): is it off the network or in a river?"))
    points = read_demand_points(loaded)
    if points is not None and points.node is not None:
        known = set(net.osmid.tolist())
        missing = [int(n) for n in points.node if int(n) not in known]
        if missing:
            problems.append(loaded.error(("demand", "points", "file"), (
                f"{points.file.name}: OSM node {missing[0]} is not on the drivable road network "
                f"({len(missing)} point(s) so): not in the file, not drivable, or in a part dropped "
                "as not connected both ways to the rest")))
    if len(dropped):
        for i, h in enumerate(s.demand.hotspots):
            hx, hy = (float(v) for v in net.frame.to_local(h.lon, h.lat))
            d_drop = float(segments_distance(hx, hy, dropped).min())
            d_kept = float(nearest_road(net, np.array([hx]), np.array([hy]))[3][0])
            if d_drop < d_kept and d_drop <= h.sigma:
                problems.append(loaded.error(("demand", "hotspots", i),
                                             dropped_message(net, f"hotspot '{h.name}'", d_drop, d_kept)))
    if problems:
        raise ScenarioError.combine(problems)
    # places already on this network (prepared once before) keep their node and record
    sel = np.array([k for k in np.flatnonzero(keep).tolist()
                    if (places[k].lon, places[k].lat) not in net.places], dtype=np.int64)
    if len(sel):
        assert nearest is not None
        lo, hi, t, d = nearest
        new, nodes, dist = insert_points(net, x[sel], y[sel], (lo[sel], hi[sel], t[sel], d[sel]))
    else:
        new, nodes, dist = net, np.zeros(0, int), np.zeros(0)
    lookup = dict(net.places)
    records = list(net.report.get("places", []))
    for j, k in enumerate(sel.tolist()):
        p = places[k]
        lookup[(p.lon, p.lat)] = (int(nodes[j]), float(dist[j]))
        records.append({"kind": p.kind, "name": p.name, "key": format_loc(p.loc), "lon": p.lon,
                        "lat": p.lat, "node": int(new.osmid[nodes[j]]),
                        "snap_m": round(float(dist[j]), 2)})
    report = {**new.report, "places": records}
    return dataclasses.replace(new, places=lookup, report=report)


def far_snaps(net: RoadNetwork, limit_m: float = WARN_M) -> list[str]:
    """One line per place moved farther than ``limit_m`` to reach its road, for the terminal
    (a place that several layouts share is listed once, with its first key path)."""
    lines, seen = [], set()
    for r in net.report.get("places", []):
        who = (r["kind"], r["name"], r["lon"], r["lat"])
        if r["snap_m"] > limit_m and who not in seen:
            seen.add(who)
            lines.append(f"note: {r['kind']} '{r['name']}' ({r['key']}) is "
                         f"{format_distance(round(r['snap_m']))} from the nearest road; it is "
                         "placed on that road")
    return lines


def places_to_keep(loaded: LoadedScenario) -> tuple[list[tuple[float, float]], list[int]]:
    """What network simplification must keep for this scenario: every place of every layout
    (lon, lat) and the OSM node ids of ``demand.points``."""
    points = [(p.lon, p.lat) for p in scenario_places(loaded)]
    data = read_demand_points(loaded)
    osmids = [int(n) for n in data.node] if data is not None and data.node is not None else []
    return points, osmids


def network_notes(net: RoadNetwork) -> list[str]:
    """Lines for the terminal: what was dropped as not strongly connected, and far snaps."""
    r = net.report
    lines = []
    if "nodes_dropped_outside_largest_scc" in r:
        lines.append(f"network: {r['nodes_dropped_outside_largest_scc']:,} nodes and "
                     f"{r.get('edges_dropped_outside_largest_scc', 0):,} edges dropped as outside "
                     "the largest strongly connected component")
    return lines + far_snaps(net)
