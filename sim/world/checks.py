"""Checks of a scenario against its road network that the schema cannot see.

:func:`check_platforms_against_rivers` refuses a platform placed in a river. The road network only
knows river centre lines (``waterway=river`` ways), so a river's extent is taken as a band around
its centre line:

- its width is the way's OSM ``width`` tag when the file has one (``"30"``, ``"30 m"``, ``"100 ft"``);
  the synthetic Shaoyang network carries such tags, and their values are the generator's own;
- otherwise the scenario's ``network.river_width`` (default 30 m, a typical urban river);
- a platform closer to the centre line than half the width is *in the river*, unless it lies on a
  road (within :data:`ON_ROAD_M` of a road segment): a post on a bridge is allowed.

``world.prepare_world`` refuses a platform far from every road (``network.snap_tolerance``); this
catches the other mistake, a post in the water next to a river-bank road, which snapping would
silently move to the bank.
"""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.network.graph import RoadNetwork
from sim.quantities import format_distance
from sim.scenario import LoadedScenario

__all__ = [
    "ON_ROAD_M",
    "RiverLine",
    "check_against_network",
    "check_platforms_against_rivers",
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


def _distance_to_segments(px: float, py: float, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray,
                          y1: np.ndarray) -> np.ndarray:
    """Distance (m) from point (px, py) to each segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0, ((px - x0) * dx + (py - y0) * dy) / np.where(len2 > 0, len2, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(x0 + t * dx - px, y0 + t * dy - py)


def _platform_loc(loaded: LoadedScenario, layout: str, index: int, name: str) -> tuple[Any, ...]:
    """Key path of the YAML entry that placed platform ``name`` (follows ``extends``)."""
    try:
        raw = yaml.safe_load(loaded.text).get("layouts") or {}
        seen: set[str] = set()
        current = layout
        while current in raw and current not in seen:
            seen.add(current)
            entry = raw[current]
            if not isinstance(entry, dict) or "extends" not in entry:
                for k, p in enumerate(entry.get("platforms") or []):
                    if isinstance(p, dict) and p.get("name") == name:
                        return ("layouts", current, "platforms", k)
                break
            for k, p in enumerate(entry.get("platforms") or []):
                if isinstance(p, dict) and p.get("name") == name and ("lon" in p or "lat" in p):
                    return ("layouts", current, "platforms", k)
            current = entry["extends"]
    except (yaml.YAMLError, AttributeError, TypeError):
        pass
    return ("layouts", layout, "platforms", index)


def check_platforms_against_rivers(loaded: LoadedScenario, net: RoadNetwork,
                                   layouts: list[str] | None = None) -> None:
    """Refuse a platform that stands in a river (see the module docstring for the rule).

    Parameters
    ----------
    layouts : layouts to check (default: every layout of the scenario, run or not).

    Raises
    ------
    ScenarioError
        Naming the platform's key path and line, the river, and how its width was found.
    """
    rivers = river_lines(loaded, net)
    if not rivers:
        return
    s = loaded.scenario
    ex, ey = net.x[net.edge_u], net.y[net.edge_u]
    fx, fy = net.x[net.edge_v], net.y[net.edge_v]
    for lname in layouts or list(s.layouts):
        for i, p in enumerate(s.layouts[lname].platforms):
            px, py = (float(v) for v in net.frame.to_local(p.lon, p.lat))
            for r in rivers:
                d = float(_distance_to_segments(px, py, r.x[:-1], r.y[:-1], r.x[1:], r.y[1:]).min())
                if d >= r.width_m / 2:
                    continue
                if net.n_edges and float(_distance_to_segments(px, py, ex, ey, fx, fy).min()) <= ON_ROAD_M:
                    break  # on a road over the river: a bridge
                how = ("its OSM width tag" if r.width_from == "OSM width tag"
                       else "network.river_width, since the map gives none")
                raise loaded.error(
                    _platform_loc(loaded, lname, i, p.name),
                    f"platform '{p.name}' is in the river '{r.name}': "
                    f"{format_distance(round(d))} from its centre line, closer than half its width "
                    f"(the river is {format_distance(r.width_m)} wide, from {how}); move the post "
                    f"onto a road (a post on a bridge, within {ON_ROAD_M:g} m of the road, is allowed)")


def check_against_network(loaded: LoadedScenario, net: RoadNetwork) -> None:
    """Every network check of this module, for every layout (call it where the network is loaded).

    Raises
    ------
    ScenarioError
        For the first problem found.
    """
    check_platforms_against_rivers(loaded, net)
