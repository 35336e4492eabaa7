"""Deterministic synthetic county (县) and whole-city (邵阳市) road networks, as OSM XML.

Everything here is **synthetic**: plausible geometry for planning experiments, not a map of the
real counties. It extends :mod:`sim.network.synth` (central Shaoyang) with

* a **county**: a county town (县城) of a few thousand nodes, a grid of local streets with
  arterials, in the middle of a square of about 50 x 50 km that holds a sparse rural grid of
  county roads (县道, OSM ``tertiary`` with ``ref=X…``) every :data:`COUNTY_ROAD_SPACING_M`, a
  provincial road through the town each way (``primary``, ``ref=S…``), and hundreds of
  villages (行政村). Each village is a small cluster of lanes (``residential``) joined to the
  nearest county road by a village road (村道, OSM ``unclassified``), and to its nearest
  neighbour village by a ``highway=track`` (机耕道). The loader drops tracks unless a scenario
  opts in (``network.speeds`` lists ``track``); the network stays strongly connected without
  them, because every village also has its village road;
* a **city**: the central Shaoyang network, the detailed county :data:`DETAILED_COUNTY`, and
  the other county towns of :data:`LIGHT_COUNTIES` as lighter blocks (a town grid, no
  villages), joined by trunk roads (``trunk``, ``ref=G…``).

``size`` scales the detailed county's area (town and rural square, so the number of villages and
nodes grows about linearly with it); benchmarks use it to grow the network past 50,000 nodes.

Determinism: every random draw comes from ``numpy.random.default_rng([seed, purpose, county])``
so the same ``(seed, size)`` gives a byte-identical file, and the villages
(:func:`county_villages`) can be computed without building the roads. Coordinates are local
metres about :data:`sim.network.synth.ORIGIN_LON`/``ORIGIN_LAT`` (the centre of the city), x east
and y north.

Run ``python -m sim.network.synth_county --size 2 county.osm`` to write a file.
"""

from __future__ import annotations

import argparse
import math
import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.network.synth import (
    GENERATOR_VERSION as CENTRAL_VERSION,
)
from sim.network.synth import (
    _Builder,
    _Line,
    drop_links,
    local_to_lonlat,
    render_osm,
)

__all__ = [
    "DETAILED_COUNTY",
    "LIGHT_COUNTIES",
    "CountyTown",
    "Village",
    "city_towns",
    "county_villages",
    "write_synthetic_city",
    "write_synthetic_county",
]

COUNTY_VERSION = "1"
"""Bumped whenever a county or city network changes for a given seed and size (a cache key)."""

COUNTY_SIDE_M = 50_000.0
"""Side of the detailed county's square at size 1 (m)."""
TOWN_SIDE_M = 7_000.0
"""Side of the detailed county town at size 1 (m)."""
TOWN_SPACING_M = 130.0
"""Street spacing in a county town (m)."""
LIGHT_TOWN_SIDE_M = 3_000.0
"""Side of a lighter county town block (m)."""
LIGHT_TOWN_SPACING_M = 200.0
COUNTY_ROAD_SPACING_M = 6_000.0
"""Distance between the county roads of the rural grid (m)."""
ROAD_SAMPLE_M = 500.0
"""County roads have a node every this many metres (where village roads may join)."""
VILLAGES_PER_KM2 = 300 / 2500.0
"""Villages per square kilometre of the county square (300 at size 1)."""
VILLAGE_MIN_GAP_M = 1_000.0
"""No two village centres are closer than this (m)."""
TOWN_CLEARANCE_M = 1_000.0
"""No village centre lies within this distance of the town's square (m)."""
TRACK_MAX_M = 4_000.0
"""A village gets a track to its nearest neighbour village only if it is at most this far (m)."""
POPULATION_MEDIAN = 1_300.0
"""Median village population (lognormal, sigma :data:`POPULATION_SIGMA`)."""
POPULATION_SIGMA = 0.45

_P_TOWN, _P_VILLAGES, _P_RURAL = 1, 2, 3  # purposes of the random streams


@dataclass(frozen=True)
class CountyTown:
    """A county town: where it is, how big, and how many platforms the city scenario gives it."""

    key: str
    name: str
    x_m: float
    y_m: float
    platforms: int
    side_m: float = LIGHT_TOWN_SIDE_M
    spacing_m: float = LIGHT_TOWN_SPACING_M

    @property
    def lonlat(self) -> tuple[float, float]:
        """Centre of the town (degrees)."""
        lon, lat = local_to_lonlat(self.x_m, self.y_m)
        return float(lon), float(lat)


@dataclass(frozen=True)
class Village:
    """A synthetic administrative village (行政村): centre, population and its county."""

    name: str
    county: str
    x_m: float
    y_m: float
    population: int

    @property
    def lonlat(self) -> tuple[float, float]:
        """Centre of the village (degrees)."""
        lon, lat = local_to_lonlat(self.x_m, self.y_m)
        return float(lon), float(lat)


DETAILED_COUNTY = CountyTown("SD", "Shaodong (邵东, synthetic)", 40_000.0, 0.0, 3,
                             TOWN_SIDE_M, TOWN_SPACING_M)
"""The county built in full detail. Its position east of the city is synthetic."""

LIGHT_COUNTIES: tuple[CountyTown, ...] = (
    CountyTown("XS", "Xinshao (新邵, synthetic)", 0.0, 28_000.0, 2),
    CountyTown("SX", "Shaoyang County (邵阳县, synthetic)", -20_000.0, -25_000.0, 3),
    CountyTown("LH", "Longhui (隆回, synthetic)", -55_000.0, 10_000.0, 3),
    CountyTown("DK", "Dongkou (洞口, synthetic)", -85_000.0, 20_000.0, 2),
    CountyTown("WG", "Wugang (武冈, synthetic)", -70_000.0, -45_000.0, 3),
    CountyTown("XN", "Xinning (新宁, synthetic)", -45_000.0, -80_000.0, 2),
    CountyTown("CB", "Chengbu (城步, synthetic)", -80_000.0, -90_000.0, 2),
    CountyTown("SN", "Suining (绥宁, synthetic)", -110_000.0, -50_000.0, 3),
)
"""The other county towns, as lighter blocks: 20 platforms, so with the detailed county's 3 and
the 10 urban ones the city has 33. Directions from the city follow the real map loosely; the
distances are synthetic."""

_CITY = "CITY"
_TRUNK_LINKS: tuple[tuple[str, str, str], ...] = (
    (_CITY, "SD", "G320"), (_CITY, "XS", "G207"), (_CITY, "SX", "S219"), (_CITY, "LH", "G320"),
    ("LH", "DK", "G320"), ("SX", "WG", "S219"), ("WG", "XN", "S221"), ("XN", "CB", "S221"),
    ("WG", "SN", "S221"),
)
"""Trunk roads between the city and the county towns: (from, to, ref)."""


def _scaled(town: CountyTown, size: float) -> tuple[float, float]:
    """Side of the county square and of its town (m) at ``size``."""
    k = math.sqrt(size)
    return COUNTY_SIDE_M * k, town.side_m * k


def city_towns(size: float = 1.0) -> tuple[CountyTown, ...]:
    """Every county town of the city network, the detailed one first (its side scaled)."""
    _, side = _scaled(DETAILED_COUNTY, size)
    detailed = CountyTown(DETAILED_COUNTY.key, DETAILED_COUNTY.name, DETAILED_COUNTY.x_m,
                          DETAILED_COUNTY.y_m, DETAILED_COUNTY.platforms, side,
                          DETAILED_COUNTY.spacing_m)
    return (detailed, *LIGHT_COUNTIES)


# ---------------------------------------------------------------------------------------------
# villages

def county_villages(seed: int = 2017, size: float = 1.0) -> list[Village]:
    """The villages of the detailed county: centres at least :data:`VILLAGE_MIN_GAP_M` apart,
    outside the town, populations lognormal about :data:`POPULATION_MEDIAN` (people).

    Depends only on ``seed`` and ``size`` (its own random stream), in a fixed order.
    """
    _check_size(size)
    town = DETAILED_COUNTY
    side, town_side = _scaled(town, size)
    rng = np.random.default_rng([int(seed), _P_VILLAGES, 0])
    want = round(VILLAGES_PER_KM2 * (side / 1000.0) ** 2)
    keep_out = town_side / 2 + TOWN_CLEARANCE_M
    margin = 500.0
    pts: list[tuple[float, float]] = []
    cell = VILLAGE_MIN_GAP_M
    grid: dict[tuple[int, int], list[int]] = {}
    tries = 0
    while len(pts) < want and tries < 60 * want:
        tries += 1
        x, y = rng.uniform(-side / 2 + margin, side / 2 - margin, 2)
        if max(abs(x), abs(y)) < keep_out:
            continue
        ci, cj = int(x // cell), int(y // cell)
        near = (grid.get((ci + a, cj + b), []) for a in (-1, 0, 1) for b in (-1, 0, 1))
        if any(math.hypot(x - pts[i][0], y - pts[i][1]) < VILLAGE_MIN_GAP_M for ids in near for i in ids):
            continue
        grid.setdefault((ci, cj), []).append(len(pts))
        pts.append((float(x), float(y)))
    pops = np.exp(rng.normal(math.log(POPULATION_MEDIAN), POPULATION_SIGMA, len(pts)))
    return [Village(f"{town.key} village {i + 1:03d}", town.key, town.x_m + x, town.y_m + y,
                    round(p))
            for i, ((x, y), p) in enumerate(zip(pts, pops.tolist(), strict=True))]


# ---------------------------------------------------------------------------------------------
# roads

Tags = tuple[tuple[str, str], ...]
Key = tuple[Any, ...]
"""A node key: ``("T", county, i, j)`` town, ``("R", county, x, y)`` rural grid, ``("V", ...)``
village, ``("G", ...)`` trunk road; central Shaoyang's keys are its own."""


class _Net:
    """Lines, node positions and per-node drop probabilities being assembled."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.pos: dict[Key, tuple[float, float]] = {}
        self.drop_p: dict[Key, float] = {}

    def add(self, keys: list[Key], tags: Tags, *, droppable: bool = False, p_drop: float = 0.0) -> None:
        n = len(keys) - 1
        if n < 1:
            return
        self.lines.append(_Line(keys, [tags] * n, [droppable] * n, False))
        if droppable:
            for k in keys:
                self.drop_p[k] = max(self.drop_p.get(k, 0.0), p_drop)


def _town(net: _Net, town: CountyTown, side: float, rng: np.random.Generator) -> dict[str, Key]:
    """A town grid centred on the town; returns its four gateway nodes (ends of the central
    arterials: ``"w"``, ``"e"``, ``"s"``, ``"n"``)."""
    n = _town_lines(town, side)
    mid = n // 2
    step = side / (n - 1)
    jit = rng.uniform(-0.07, 0.07, (n, n, 2)) * step
    for i in range(n):
        for j in range(n):
            edge = i in (0, n - 1) or j in (0, n - 1)
            dx, dy = (0.0, 0.0) if edge else (float(jit[i, j, 0]), float(jit[i, j, 1]))
            net.pos[("T", town.key, i, j)] = (town.x_m - side / 2 + i * step + dx,
                                               town.y_m - side / 2 + j * step + dy)

    def cls(k: int) -> str:
        if k == mid:
            return "primary"
        if k in (0, n - 1) or (k - mid) % 8 == 0:
            return "secondary"
        if (k - mid) % 4 == 0:
            return "tertiary"
        return "residential"

    for j in range(n):  # east-west streets
        c = cls(j)
        tags = _street(c, f"{town.key} East-West {j + 1}")
        net.add([("T", town.key, i, j) for i in range(n)], tags, droppable=c == "residential",
                p_drop=0.1)
    for i in range(n):  # north-south streets
        c = cls(i)
        tags = _street(c, f"{town.key} North-South {i + 1}")
        net.add([("T", town.key, i, j) for j in range(n)], tags, droppable=c == "residential",
                p_drop=0.1)
    return {"w": ("T", town.key, 0, mid), "e": ("T", town.key, n - 1, mid),
            "s": ("T", town.key, mid, 0), "n": ("T", town.key, mid, n - 1)}


def _street(highway: str, name: str) -> Tags:
    return (("highway", highway), ("name", name))


def _road(net: _Net, a: Key, b: Key, tags: Tags, prefix: Key, rng: np.random.Generator,
          step: float = ROAD_SAMPLE_M, wiggle: float = 0.04) -> list[Key]:
    """A winding road from node ``a`` to node ``b`` (both placed), with a node every ``step`` m;
    the new nodes are keyed ``prefix + (m,)``. Returns its keys."""
    (xa, ya), (xb, yb) = net.pos[a], net.pos[b]
    length = math.hypot(xb - xa, yb - ya)
    m = max(1, round(length / step))
    nx_, ny_ = (-(yb - ya) / length, (xb - xa) / length) if length > 0 else (0.0, 0.0)
    phase, amp = rng.uniform(0, 2 * math.pi), wiggle * length
    keys = [a]
    for t in range(1, m):
        f = t / m
        off = amp * math.sin(math.pi * f) * math.sin(3 * math.pi * f + phase)
        k = (*prefix, t)
        net.pos[k] = (xa + f * (xb - xa) + off * nx_, ya + f * (yb - ya) + off * ny_)
        keys.append(k)
    keys.append(b)
    net.add(keys, tags)
    return keys


def _county(net: _Net, seed: int, size: float) -> dict[str, Key]:
    """The detailed county (town, rural grid, villages); returns the town's gateways."""
    town = DETAILED_COUNTY
    side, town_side = _scaled(town, size)
    rng_t = np.random.default_rng([seed, _P_TOWN, 0])
    rng_r = np.random.default_rng([seed, _P_RURAL, 0])
    gates = _town(net, town, town_side, rng_t)
    half, thalf = side / 2, town_side / 2
    cx, cy = town.x_m, town.y_m

    # the rural grid: county roads on lines x = k * spacing and y = k * spacing (county frame),
    # with a node every ROAD_SAMPLE_M, cut where they would enter the town
    n_lines = int(half // COUNTY_ROAD_SPACING_M)
    offsets = [k * COUNTY_ROAD_SPACING_M for k in range(-n_lines, n_lines + 1)]
    first = math.ceil(-half / ROAD_SAMPLE_M)  # samples on multiples of the step: roads cross at nodes
    samples = np.arange(first, -first + 1) * ROAD_SAMPLE_M
    rural_nodes: list[Key] = []

    def rkey(x: float, y: float) -> Key:
        k = ("R", town.key, round(x), round(y))
        if k not in net.pos:
            net.pos[k] = (cx + x, cy + y)
            rural_nodes.append(k)
        return k

    ref_no = 100
    for axis in ("x", "y"):
        for off in offsets:
            ref_no += 1
            if abs(off) < 1e-6:  # the provincial road through the town
                tags: Tags = (("highway", "primary"), ("ref", f"S{ref_no + 100}"),
                              ("name", f"Provincial Road S{ref_no + 100} (省道S{ref_no + 100})"))
            else:
                tags = (("highway", "tertiary"), ("ref", f"X{ref_no}"),
                        ("name", f"County Road X{ref_no} (县道X{ref_no})"))
            run: list[Key] = []
            for s in samples:
                x, y = (off, float(s)) if axis == "x" else (float(s), off)
                inside = abs(off) < thalf and abs(float(s)) < thalf
                if inside:
                    if run:
                        run.append(_town_edge(town, axis, off, -1, town_side))
                        net.add(run, tags)
                        run = []
                    continue
                if not run and abs(off) < thalf and float(s) > 0:
                    run = [_town_edge(town, axis, off, +1, town_side)]
                run.append(rkey(x, y))
            net.add(run, tags)

    # villages: a cluster of lanes, a village road to the nearest county-road node, a track to the
    # nearest neighbour village
    villages = county_villages(seed, size)
    rpos = np.array([net.pos[k] for k in rural_nodes])
    vpos = np.array([(v.x_m, v.y_m) for v in villages])
    for vi, v in enumerate(villages):
        centre = ("V", town.key, vi, "c")
        net.pos[centre] = (v.x_m, v.y_m)
        lane_tags = _street("residential", f"{v.name} lane")
        for b in range(int(rng_r.integers(2, 5))):
            ang = rng_r.uniform(0, 2 * math.pi)
            keys: list[Key] = [centre]
            for seg in range(int(rng_r.integers(1, 4))):
                r = (seg + 1) * rng_r.uniform(80.0, 150.0)
                k = ("V", town.key, vi, "l", b, seg)
                net.pos[k] = (v.x_m + r * math.cos(ang), v.y_m + r * math.sin(ang))
                keys.append(k)
            net.add(keys, lane_tags)
        d = np.hypot(rpos[:, 0] - v.x_m, rpos[:, 1] - v.y_m)
        target = rural_nodes[int(np.argmin(d))]
        _road(net, centre, target, (("highway", "unclassified"),
                                    ("name", f"{v.name} road (村道)")),
              ("V", town.key, vi, "r"), rng_r, step=400.0, wiggle=0.08)
    for vi, v in enumerate(villages):
        d = np.hypot(vpos[:, 0] - v.x_m, vpos[:, 1] - v.y_m)
        d[vi] = np.inf
        vj = int(np.argmin(d))
        if d[vj] > TRACK_MAX_M or (vj < vi and int(np.argmin(_others(vpos, vj))) == vi):
            continue  # too far, or the same pair as vj's own track
        _road(net, ("V", town.key, vi, "c"), ("V", town.key, vj, "c"),
              (("highway", "track"), ("tracktype", "grade3")), ("V", town.key, vi, "t"), rng_r,
              step=300.0, wiggle=0.1)
    return gates


def _others(vpos: np.ndarray, i: int) -> np.ndarray:
    d: np.ndarray = np.hypot(vpos[:, 0] - vpos[i, 0], vpos[:, 1] - vpos[i, 1])
    d[i] = np.inf
    return d


def _town_edge(town: CountyTown, axis: str, off: float, end: int, side: float) -> Key:
    """The town's boundary node where a county road on ``axis = off`` (m from the town centre)
    meets it: ``end`` -1 on the south/west side, +1 on the north/east side."""
    n = _town_lines(town, side)
    k = min(max(round((off + side / 2) / (side / (n - 1))), 0), n - 1)
    edge = 0 if end < 0 else n - 1
    return ("T", town.key, k, edge) if axis == "x" else ("T", town.key, edge, k)


def _town_lines(town: CountyTown, side: float) -> int:
    """Streets each way in a town grid of this side (m)."""
    return max(3, round(side / town.spacing_m) + 1)


def _kept_all(lines: list[_Line]) -> None:
    for ln in lines:
        if not ln.kept:
            ln.kept = [True] * len(ln.tags)


def _finish(net: _Net, rng: np.random.Generator) -> None:
    """Drop some town residential links (keeping the graph strongly connected without tracks)."""
    tracks = [ln for ln in net.lines if ("highway", "track") in ln.tags[0]]
    others = [ln for ln in net.lines if ("highway", "track") not in ln.tags[0]]
    drop_links(others, net.drop_p, rng)
    _kept_all(tracks)


def _county_net(seed: int, size: float) -> tuple[_Net, dict[str, dict[str, Key]]]:
    """The detailed county on its own, strongly connected; and its town's gateways."""
    net = _Net()
    gates = _county(net, seed, size)
    _finish(net, np.random.default_rng([seed, _P_TOWN, 1]))
    return net, {DETAILED_COUNTY.key: gates}


def write_synthetic_county(path: str | pathlib.Path, seed: int = 2017, size: float = 1.0
                           ) -> pathlib.Path:
    """Write the synthetic detailed county (town, rural grid, villages) as an OSM XML file.

    Parameters
    ----------
    path : output file (``*.osm``); missing parent folders are created.
    seed : the same seed and size always give a byte-identical file.
    size : scales the county's area (default 1: about 50 x 50 km, 300 villages).
    """
    _check_size(size)
    net, _ = _county_net(int(seed), float(size))
    return _write(path, render_osm(net.lines, net.pos, _generator("county", seed, size)))


def write_synthetic_city(path: str | pathlib.Path, seed: int = 2017, size: float = 1.0
                         ) -> pathlib.Path:
    """Write the synthetic whole city: central Shaoyang (exactly as :mod:`sim.network.synth`
    builds it for ``seed``), the detailed county and the lighter county towns, joined by trunk
    roads. ``size`` scales the detailed county only."""
    _check_size(size)
    seed = int(seed)
    central = _Builder(seed)
    central.build()  # its links are already dropped and kept strongly connected
    county, gates = _county_net(seed, float(size))
    blocks = [central.lines, county.lines]
    net = _Net()
    net.pos.update(central.pos)
    net.pos.update(county.pos)
    for ci, town in enumerate(LIGHT_COUNTIES, start=1):
        block = _Net()
        gates[town.key] = _town(block, town, town.side_m, np.random.default_rng([seed, _P_TOWN, ci]))
        _finish(block, np.random.default_rng([seed, _P_TOWN, 100 + ci]))
        blocks.append(block.lines)
        net.pos.update(block.pos)
    trunk_ends = _trunk_nodes(central)
    rng = np.random.default_rng([seed, _P_RURAL, 99])
    towns = {t.key: t for t in city_towns(size)}
    for a, b, ref in _TRUNK_LINKS:
        tb = towns[b]
        if a == _CITY:
            ka = min(trunk_ends, key=lambda k: (math.hypot(central.pos[k][0] - tb.x_m,
                                                           central.pos[k][1] - tb.y_m), repr(k)))
        else:
            ka = _facing(gates[a], tb.x_m - towns[a].x_m, tb.y_m - towns[a].y_m)
        pa = net.pos[ka]
        kb = _facing(gates[b], pa[0] - tb.x_m, pa[1] - tb.y_m)
        _road(net, ka, kb, (("highway", "trunk"), ("ref", ref), ("maxspeed", "80"),
                            ("name", f"{ref} ({a}-{b})")), ("G", a, b), rng, step=1000.0)
    _kept_all(net.lines)
    blocks.append(net.lines)
    lines = [ln for block in blocks for ln in block]
    text = render_osm(lines, net.pos, _generator("city", seed, size))
    return _write(path, text)


def _trunk_nodes(b: _Builder) -> list[Key]:
    """Nodes of the central network's trunk roads (where the roads to the counties start)."""
    out: set[Key] = set()
    for ln in b.lines:
        for ei, tags in enumerate(ln.tags):
            if ("highway", "trunk") in tags and ln.kept[ei]:
                out.update(ln.keys[ei:ei + 2])
    return sorted(out, key=repr)


def _facing(gates: dict[str, Key], dx: float, dy: float) -> Key:
    """The gateway of a town that faces direction (dx, dy)."""
    if abs(dx) >= abs(dy):
        return gates["e"] if dx > 0 else gates["w"]
    return gates["n"] if dy > 0 else gates["s"]


def _generator(kind: str, seed: int, size: float) -> str:
    return (f"police-sim synthetic {kind} v{COUNTY_VERSION} (central v{CENTRAL_VERSION}, "
            f"seed {int(seed)}, size {float(size):g})")


def _write(path: str | pathlib.Path, text: str) -> pathlib.Path:
    p = pathlib.Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode("utf-8"))
    return p


def _check_size(size: float) -> None:
    if not (0.05 <= float(size) <= 100.0):
        raise ValueError(f"size must be between 0.05 and 100 (got {size}); 1 is a 50 x 50 km county")


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.network.synth_county [--city] [--size S] [--seed N] OUT.osm``."""
    ap = argparse.ArgumentParser(prog="python -m sim.network.synth_county",
                                 description="Write a synthetic county (or whole city) as OSM XML.")
    ap.add_argument("out")
    ap.add_argument("--size", type=float, default=1.0, help="scales the county's area (default 1)")
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--city", action="store_true", help="the whole city, not one county")
    a = ap.parse_args(argv)
    write = write_synthetic_city if a.city else write_synthetic_county
    print(write(a.out, a.seed, a.size))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
