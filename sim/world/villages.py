"""Villages and their resident auxiliary officers (一村一辅警): points with a population, the
rural zone classes of the road nodes, and the officers' plan that the engine will read.

The village officer's role is **modelled from public descriptions** of Shaoyang's system (see
:mod:`sim.scenario.rural`): one officer per administrative village, living at the village work
station, on duty by day and on call at night, first on scene for the incident types the scenario
allows. Villages come from a CSV file (``name, lon, lat, population`` and an optional
``county``) or from the synthetic county (:func:`sim.network.synth_county.county_villages`).

Nothing here runs the clock: :class:`VillageOfficers` is plain data (home nodes, speeds, duty by
minute of the day, which incident types the officer takes first and which it closes), the seam
through which a dispatch policy can send the village officer beside the police.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.network.graph import LocalFrame, RoadNetwork
from sim.network.synth_county import county_villages
from sim.scenario import RURAL_ZONE_CLASSES, LoadedScenario, RuralSpec, ScenarioError

__all__ = [
    "RuralZones",
    "VillageOfficers",
    "VillageTable",
    "county_of_nodes",
    "cross_county_allowed",
    "load_villages",
    "nearest_village",
    "officer_availability",
    "read_villages_csv",
    "rural_edge_speeds",
    "rural_overview",
    "rural_zones",
    "synthetic_villages",
    "village_officers",
]

CSV_COLUMNS = ("name", "lon", "lat", "population")
"""Required columns of a villages CSV (``county`` is optional)."""


@dataclass(frozen=True, eq=False)
class VillageTable:
    """Villages as columns: ``name``, ``county`` (``""`` if not given), ``lon``/``lat`` (degrees)
    and ``population`` (people)."""

    name: tuple[str, ...]
    county: tuple[str, ...]
    lon: np.ndarray
    lat: np.ndarray
    population: np.ndarray

    def __len__(self) -> int:
        return len(self.name)

    def local(self, frame: LocalFrame) -> tuple[np.ndarray, np.ndarray]:
        """Village centres in ``frame`` (m)."""
        x, y = frame.to_local(self.lon, self.lat)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def synthetic_villages(seed: int = 2017, size: float = 1.0) -> VillageTable:
    """The synthetic county's villages (the same as in its road network)."""
    vs = county_villages(seed, size)
    ll = np.array([v.lonlat for v in vs], dtype=float).reshape(-1, 2)
    return VillageTable(tuple(v.name for v in vs), tuple(v.county for v in vs), ll[:, 0], ll[:, 1],
                        np.array([v.population for v in vs], dtype=np.int64))


def read_villages_csv(path: Path, *, shown: str | None = None) -> VillageTable:
    """Read villages from a CSV file; every bad row is reported at once with its line.

    Raises :class:`ScenarioError` naming the file and the first bad line (``more`` counts the
    others).
    """
    shown = shown or str(path)
    loc = ("rural", "villages", "file")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"cannot read the villages file ({exc.strerror or exc})", file=shown,
                            loc=loc) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise ScenarioError("the villages file is empty; it needs a header "
                            f"{', '.join(CSV_COLUMNS)}", file=shown, line=1, loc=loc)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ScenarioError(f"the villages file has no column {', '.join(missing)} (header: "
                            f"{', '.join(header)})", file=shown, line=1, loc=loc)
    col = {c: header.index(c) for c in (*CSV_COLUMNS, "county") if c in header}
    problems: list[tuple[int, str]] = []
    names, counties, lon, lat, pop = [], [], [], [], []
    seen: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            problems.append((line, f"{len(row)} cells, the header has {len(header)}"))
            continue
        name = row[col["name"]].strip()
        try:
            x, y = float(row[col["lon"]]), float(row[col["lat"]])
            p = float(row[col["population"]])
        except ValueError:
            problems.append((line, "lon, lat and population must be numbers"))
            continue
        if not name:
            problems.append((line, "the village has no name"))
        elif name in seen:
            problems.append((line, f"village '{name}' is listed twice"))
        if not (-180 <= x <= 180 and -90 <= y <= 90) or not (math.isfinite(x) and math.isfinite(y)):
            problems.append((line, f"({x}, {y}) is not a longitude/latitude"))
        if not (math.isfinite(p) and p >= 0 and p == int(p)):
            problems.append((line, f"population {row[col['population']]!r} must be a whole number >= 0"))
        seen.add(name)
        names.append(name)
        counties.append(row[col["county"]].strip() if "county" in col else "")
        lon.append(x)
        lat.append(y)
        pop.append(p)
    if problems:
        line, msg = problems[0]
        raise ScenarioError(msg, file=shown, line=line, loc=loc, more=len(problems) - 1)
    if not names:
        raise ScenarioError("the villages file lists no village", file=shown, line=1, loc=loc)
    return VillageTable(tuple(names), tuple(counties), np.array(lon), np.array(lat),
                        np.array(pop, dtype=np.int64))


def load_villages(loaded: LoadedScenario) -> VillageTable:
    """The villages of a scenario's ``rural`` section (an error if it has none)."""
    s = loaded.scenario
    if s.rural is None:
        raise loaded.error(("rural",), "the scenario has no rural section")
    src = s.rural.villages
    if src.generate == "county":
        return synthetic_villages(s.network.seed, s.network.size)
    assert src.file is not None
    return read_villages_csv(loaded.resolve_path(src.file), shown=src.file)


@dataclass(frozen=True, eq=False)
class RuralZones:
    """Rural zone class and village of every road node.

    Attributes
    ----------
    zone : ``-1`` not rural, else an index into ``RURAL_ZONE_CLASSES`` (0 township, 1 village).
    village : index of the village a node belongs to (nearest centre within the radius), or -1.
    township : index of the township whose disc holds the node, or -1.
    """

    zone: np.ndarray
    village: np.ndarray
    township: np.ndarray


def rural_zones(net: RoadNetwork, rural: RuralSpec, villages: VillageTable) -> RuralZones:
    """Township discs first, then village discs (nearest village centre wins); the urban
    classes key and central are applied on top by the caller (they win over both)."""
    n = net.n_nodes
    zone = np.full(n, -1, dtype=np.int8)
    township = np.full(n, -1, dtype=np.int32)
    best = np.full(n, np.inf)
    for i, t in enumerate(rural.townships):
        tx, ty = net.frame.to_local(t.lon, t.lat)
        d = np.hypot(net.x - float(tx), net.y - float(ty))
        take = (d <= t.radius) & (d < best)
        township[take] = i
        best[take] = d[take]
    zone[township >= 0] = RURAL_ZONE_CLASSES.index("township")
    village = nearest_village(net.x, net.y, villages, net.frame, rural.village_radius)
    zone[(village >= 0) & (zone < 0)] = RURAL_ZONE_CLASSES.index("village")
    return RuralZones(zone=zone, village=village, township=township)


def nearest_village(x: np.ndarray, y: np.ndarray, villages: VillageTable, frame: LocalFrame,
                    radius_m: float) -> np.ndarray:
    """Index of the nearest village centre within ``radius_m`` of each point (m), else -1;
    ties go to the lower index. Uses a grid of cell ``radius_m`` (no all-pairs matrix)."""
    vx, vy = villages.local(frame)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.full(x.shape, -1, dtype=np.int32)
    best = np.full(x.shape, np.inf)
    cells: dict[tuple[int, int], list[int]] = {}
    for i, (a, b) in enumerate(zip(vx.tolist(), vy.tolist(), strict=True)):
        cells.setdefault((math.floor(a / radius_m), math.floor(b / radius_m)), []).append(i)
    cx = np.floor(x / radius_m).astype(np.int64)
    cy = np.floor(y / radius_m).astype(np.int64)
    for (ci, cj), members in cells.items():
        near = (np.abs(cx - ci) <= 1) & (np.abs(cy - cj) <= 1)
        idx = np.flatnonzero(near)
        for v in members:
            d = np.hypot(x[idx] - vx[v], y[idx] - vy[v])
            take = (d <= radius_m) & ((d < best[idx]) | ((d == best[idx]) & (v < out[idx])))
            out[idx[take]] = v
            best[idx[take]] = d[take]
    return out


def county_of_nodes(net: RoadNetwork, rural: RuralSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(county, urban)`` per node: the index of the nearest county seat (-1 if the scenario
    lists none; ties to the lower index), and whether the node is within that county's
    ``town_radius``. The cross-county dispatch rule compares the county of a unit's post with
    that of the job."""
    n = net.n_nodes
    if not rural.counties:
        return np.full(n, -1, dtype=np.int32), np.zeros(n, dtype=bool)
    d = np.empty((len(rural.counties), n))
    for i, c in enumerate(rural.counties):
        cx, cy = net.frame.to_local(c.lon, c.lat)
        d[i] = np.hypot(net.x - float(cx), net.y - float(cy))
    county = np.argmin(d, axis=0).astype(np.int32)
    radius = np.array([c.town_radius for c in rural.counties])
    return county, d[county, np.arange(n)] <= radius[county]


def cross_county_allowed(rule: str, unit_county: np.ndarray, job_county: int, priority: str
                         ) -> np.ndarray:
    """Which units may answer a job under ``rural.cross_county``: ``never`` only units of the
    job's county, ``urgent_only`` any unit for an urgent job and the county's own otherwise,
    ``always`` any unit. Counties of -1 (none listed) never restrict. Any county other than the
    job's counts as a neighbour (adjacency is not modelled: the nearest units of a far county are
    rarely the fastest anyway)."""
    units = np.asarray(unit_county)
    same = (units == job_county) | (units < 0) | (job_county < 0)
    if rule == "always" or (rule == "urgent_only" and priority == "urgent"):
        return np.ones(units.shape, dtype=bool)
    if rule in ("never", "urgent_only"):
        return same
    raise ValueError(f"unknown cross-county rule {rule!r}")


def rural_edge_speeds(net: RoadNetwork, speeds: dict[str, float], rural: RuralSpec,
                      urban_node: np.ndarray) -> np.ndarray:
    """Free-flow speed (m/s) of every edge: ``rural.road_speeds`` for its class where neither
    end is urban (``urban_node``: in a county town or the central city), ``speeds``
    (``network.speeds``, with ``default``) everywhere else."""
    v = net.edge_speeds(speeds)
    if not rural.road_speeds:
        return v
    rural_edge = ~(urban_node[net.edge_u] | urban_node[net.edge_v])
    for cls, speed in rural.road_speeds.items():
        if cls in net.classes:
            take = rural_edge & (net.edge_class == net.classes.index(cls))
            v[take] = speed
    return v


@dataclass(frozen=True, eq=False)
class VillageOfficers:
    """One village auxiliary officer per village: what a dispatch policy needs to send them.

    Attributes
    ----------
    village : the village names (officer ``i`` lives in village ``i``).
    home_node : road node of each officer's village station (the village centre), snapped.
    home_x, home_y : the station in the network's local frame (m).
    speed_mps : travel speed (m/s) by the officer's mode; ``detour`` road over straight distance.
    turnout_s : time to set off when on duty (s); on call, ``on_call_delay_s`` is added.
    on_duty, on_call : ``[1440]`` booleans, by minute of the day.
    first_on : ``[n incident types]``: the officer may take this type first.
    closes : ``[n incident types]``: the officer closes this type without the police.
    """

    village: tuple[str, ...]
    home_node: np.ndarray
    home_x: np.ndarray
    home_y: np.ndarray
    speed_mps: float
    detour: float
    turnout_s: float
    on_call_delay_s: float
    on_duty: np.ndarray
    on_call: np.ndarray
    first_on: np.ndarray
    closes: np.ndarray


def village_officers(loaded: LoadedScenario, net: RoadNetwork, villages: VillageTable) -> VillageOfficers:
    """The officers of a scenario with a ``rural`` section, one per village (homes snapped to
    the nearest road node; a village farther than ``network.snap_tolerance`` is an error)."""
    s = loaded.scenario
    assert s.rural is not None
    off = s.rural.officer
    hx, hy = villages.local(net.frame)
    nodes = np.empty(len(villages), dtype=np.int64)
    for i in range(len(villages)):
        node, dist = net.nearest_node(float(hx[i]), float(hy[i]))
        if dist > s.network.snap_tolerance:
            raise loaded.error(("rural", "villages"), f"village '{villages.name[i]}' is {dist:.0f} m "
                               "from the nearest road of the network")
        nodes[i] = node
    on_duty, on_call = off.duty.masks()
    types = [t.name for t in s.incident_types]
    return VillageOfficers(
        village=villages.name, home_node=nodes, home_x=hx, home_y=hy, speed_mps=off.speed_mps,
        detour=off.detour, turnout_s=off.turnout, on_call_delay_s=off.duty.on_call_delay,
        on_duty=on_duty, on_call=on_call,
        first_on=np.array([t in off.first_on for t in types], dtype=bool),
        closes=np.array([t in off.closes for t in types], dtype=bool))


def officer_availability(officers: VillageOfficers, t_s: np.ndarray) -> np.ndarray:
    """The officer's state at times ``t_s`` (s from the start of the run, day 0 at midnight):
    0 off, 1 on duty, 2 on call."""
    minute = (np.floor(np.asarray(t_s, dtype=float) / 60.0).astype(np.int64)) % 1440
    return np.where(officers.on_duty[minute], 1, np.where(officers.on_call[minute], 2, 0))


def rural_overview(loaded: LoadedScenario, net: RoadNetwork) -> str:
    """One line on a scenario's rural part for ``validate``: villages, officers, zones. Loads
    the villages and snaps the officers' homes, so their errors show before any run."""
    s = loaded.scenario
    assert s.rural is not None
    villages = load_villages(loaded)
    officers = village_officers(loaded, net, villages)
    zones = rural_zones(net, s.rural, villages)
    counts = ", ".join(f"{name} {int(np.sum(zones.zone == i)):,}"
                       for i, name in enumerate(RURAL_ZONE_CLASSES))
    return (f"  rural: {len(villages):,} villages ({int(villages.population.sum()):,} people), "
            f"{len(officers.village):,} village officers ({s.rural.officer.mode}), "
            f"{len(s.rural.townships)} townships, {len(s.rural.counties)} counties; "
            f"road nodes by rural zone: {counts}")
