"""``run_sim.py validate-model``: the simulator against queueing theory, where theory applies.

Each check builds a small scenario on a generated OSM network (written to a temporary folder and
loaded through the normal osmnx path), runs the engine for several independent replications, and
compares the replication mean of a statistic with its analytic value from :mod:`sim.theory.queueing`:

``M/M/c``
    All units at one post and every incident at that post (zero travel, zero turnout), Poisson
    calls, exponential on-scene times: probability of waiting (Erlang C), mean queue wait ``Wq``,
    ``P(Wq > t)`` and unit utilisation against :func:`sim.theory.queueing.mmc_metrics`.
``Cobham``
    The same single site with three priorities sharing one exponential on-scene time: the mean
    queue wait of each priority against :func:`sim.theory.queueing.mmc_priority_waits`.
``hypercube``
    A line of atoms (road nodes) with units posted at some of them. The engine sends the available
    unit with the earliest arrival, so on a line its choice for each atom is a fixed preference
    list (the units sorted by turnout plus travel from their posts, ties to the lower unit, the
    engine's own rule; lists are read from the engine's travel times, so they match exactly). With
    travel times of a few seconds against an hour on scene, busy time is on-scene time, and the
    model is Larson's hypercube with an infinite FCFS queue: each unit's workload, each unit's
    share of dispatches, the share of calls that queue, the share of dispatches that are not the
    atom's first choice, and ``Wq`` against :func:`sim.theory.queueing.hypercube`.
``lattice``
    A square (or rectangular) street lattice with one unit at the centre, incidents spread by road
    length (the engine's baseline demand) and Manhattan travel: the mean travel distance of
    dispatches from the post against a closed form (below). Units that are driving back are sent
    from where they are, so only dispatches from the post (turnout > 0) are counted; whether the
    unit was at its post is independent of where the next call comes from, so this does not bias
    the mean.

Tolerances come from the replications: a check passes when ``|simulated - analytic| <= k SE +
floor``, where SE is the standard error of the mean over replications, ``k`` is 4 by default, and
the floor (half a percent of the analytic value plus a small absolute amount) covers the known,
deliberate approximations (travel times that are small but not zero; a finite warm-up).

The lattice closed form
-----------------------
Nodes ``(i, j)`` with ``i = -mx..mx``, ``j = -my..my`` and spacing ``s`` (``nx = 2 mx + 1`` by
``ny = 2 my + 1`` nodes); the unit sits at ``(0, 0)``; travel is Manhattan. Demand falls on road
length, so a node's weight is half the length of its streets, proportional to ``h(i) + v(j)``
with ``h = 2`` inside and 1 on the west and east edges (likewise ``v``). Summing,

``W = 4 nx ny - 2 nx - 2 ny`` and
``S = 2 ny mx**2 + 2 (ny - 1) mx (mx + 1) + 2 nx my**2 + 2 (nx - 1) my (my + 1)``,

and ``E[D] = s S / W``. osmnx removes the four corner nodes (two streets meeting at a bend are
one road to it) and joins their two edges; their road length moves to their neighbours, which
are one block closer: each corner lowers ``S`` by 2, so ``E[D] = s (S - 8) / W`` with the corners
merged (the check counts how many corners the loader removed). As the lattice gets finer,
``E[D] -> (Lx + Ly) / 4`` with sides ``Lx = 2 mx s`` and ``Ly = 2 my s`` (``L / 2`` for a square):
the continuous result for uniform demand on a rectangle with the unit at its centre and
right-angle (Manhattan) travel (Larson & Odoni, *Urban Operations Research*, ch. 3).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.engine.core import simulate
from sim.engine.invariants import check_result
from sim.scenario import PRIORITIES, load_scenario
from sim.theory.queueing import hypercube, mmc_metrics, mmc_priority_waits
from sim.world.demand import generate_incidents

__all__ = [
    "MODES",
    "Check",
    "CheckGroup",
    "format_table",
    "lattice_expected_distance",
    "validate_model",
    "write_lattice_osm",
    "write_line_osm",
]

EARTH_RADIUS_M = 6_371_009.0
"""The Earth radius osmnx uses for great-circle edge lengths (m)."""

LAT0, LON0 = 27.24, 111.47


# ---------------------------------------------------------------------------------------------
# generated networks

def _lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """Local metres to lon/lat, with the metre as osmnx measures it (great circle, its radius)."""
    lat = LAT0 + math.degrees(y_m / EARTH_RADIUS_M)
    lon = LON0 + math.degrees(x_m / (EARTH_RADIUS_M * math.cos(math.radians(LAT0))))
    return lon, lat


def _osm(nodes: list[tuple[int, float, float]], ways: list[list[int]], highway: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="validate-model">']
    for nid, x, y in nodes:
        lon, lat = _lonlat(x, y)
        out.append(f'  <node id="{nid}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, refs in enumerate(ways, start=1):
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        out.append(f'  <way id="{wid}" version="1">{nds}<tag k="highway" v="{highway}"/></way>')
    out.append("</osm>")
    return "\n".join(out) + "\n"


def write_lattice_osm(path: Path, nx: int, ny: int, spacing_m: float, highway: str = "residential") -> Path:
    """A lattice of two-way streets, ``nx`` by ``ny`` nodes ``spacing_m`` apart, centred on the
    origin (node id ``j * nx + i + 1``)."""
    nodes = [(j * nx + i + 1, (i - (nx - 1) / 2) * spacing_m, (j - (ny - 1) / 2) * spacing_m)
             for j in range(ny) for i in range(nx)]
    ways = [[j * nx + i + 1 for i in range(nx)] for j in range(ny)]
    ways += [[j * nx + i + 1 for j in range(ny)] for i in range(nx)]
    path.write_text(_osm(nodes, ways, highway), encoding="utf-8")
    return path


def write_line_osm(path: Path, n_atoms: int, spacing_m: float, spur_m: float,
                   highway: str = "residential") -> Path:
    """A straight two-way street through ``n_atoms`` nodes (ids 1..n, from x = 0 eastwards), each
    with a short dead-end spur north and south so that osmnx keeps it as a junction."""
    nodes = [(i + 1, i * spacing_m, 0.0) for i in range(n_atoms)]
    ways = [[i + 1 for i in range(n_atoms)]]
    for i in range(n_atoms):
        for k, dy in enumerate((spur_m, -spur_m)):
            nid = 1000 + 2 * i + k
            nodes.append((nid, i * spacing_m, dy))
            ways.append([i + 1, nid])
    path.write_text(_osm(nodes, ways, highway), encoding="utf-8")
    return path


def lattice_expected_distance(nx: int, ny: int, spacing_m: float, corners_merged: int = 4) -> float:
    """Mean Manhattan distance (m) from the centre of an ``nx`` x ``ny`` lattice (both odd) to
    incidents spread by road length; ``corners_merged`` corner nodes were joined into their
    neighbours by the loader (see the module docstring)."""
    if nx % 2 == 0 or ny % 2 == 0 or nx < 3 or ny < 3:
        raise ValueError("the lattice needs an odd number (at least 3) of nodes each way")
    mx, my = (nx - 1) // 2, (ny - 1) // 2
    w = 4 * nx * ny - 2 * nx - 2 * ny
    s = (2 * ny * mx**2 + 2 * (ny - 1) * mx * (mx + 1) + 2 * nx * my**2 + 2 * (nx - 1) * my * (my + 1)
         - 2 * corners_merged)
    return spacing_m * s / w


# ---------------------------------------------------------------------------------------------
# checks

@dataclass(frozen=True)
class Check:
    """One comparison of a simulated statistic with its analytic value.

    Attributes
    ----------
    group : the configuration (e.g. ``"M/M/c c=3 a=2"``).
    quantity : what is compared (e.g. ``"P(wait)"``).
    simulated : mean over replications.
    analytic : the theoretical value.
    se : standard error of the simulated mean (over replications).
    tolerance : allowed absolute difference (k SE + floor).
    unit : unit of the values (``""``, ``"s"``, ``"m"``).
    """

    group: str
    quantity: str
    simulated: float
    analytic: float
    se: float
    tolerance: float
    unit: str = ""

    @property
    def passed(self) -> bool:
        return bool(abs(self.simulated - self.analytic) <= self.tolerance)


@dataclass
class CheckGroup:
    """The checks of one configuration and what it took to run them."""

    name: str
    checks: list[Check] = field(default_factory=list)
    replications: int = 0
    incidents: int = 0
    seconds: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class _Mode:
    reps: int
    mmc_days: float
    prio_days: float
    cube_days: float
    lattice_days: float
    extra: bool


MODES: dict[str, _Mode] = {
    "fast": _Mode(reps=10, mmc_days=200, prio_days=200, cube_days=200, lattice_days=150, extra=False),
    "full": _Mode(reps=20, mmc_days=1000, prio_days=1000, cube_days=1000, lattice_days=400, extra=True),
}
"""Replications and days per replication: ``fast`` (under a minute, run by the test suite) and
``full`` (tighter tolerances and more configurations)."""


def _stat(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.inf


def _check(group: str, quantity: str, values: list[float], analytic: float, k: float, *,
           rel_floor: float = 0.005, abs_floor: float = 0.0, unit: str = "") -> Check:
    m, se = _stat(values)
    tol = k * se + rel_floor * abs(analytic) + abs_floor
    return Check(group, quantity, m, analytic, se, tol if math.isfinite(tol) else math.inf, unit)


# ---------------------------------------------------------------------------------------------
# scenarios

def _base_scenario(network_file: str, *, per_day: float, days: float, warmup_days: float,
                   reps: int, seed: int) -> dict[str, Any]:
    ring = [list(_lonlat(x, y)) for x, y in ((-1e4, -1e4), (1e4, -1e4), (1e4, 1e4), (-1e4, 1e4),
                                               (-1e4, -1e4))]
    return {
        "name": "validate_model",
        "network": {"source": "file", "path": network_file,
                    "speeds": {"residential": "36 km/h", "default": "36 km/h"}},
        "zones": {"targets": {"key": "1 min", "central": "3 min", "other": "5 min"},
                  "clock": "dispatch", "central_city": ring},
        "unit_types": {"car": {"turnout": "0 s"}},
        "call_handling": {"distribution": "fixed", "mean": "1 s"},
        "incident_types": [{"name": "job", "priority": "standard", "share": 1.0,
                            "on_scene": {"distribution": "exponential", "mean": "30 min"}}],
        "demand": {"incidents_per_day": per_day, "hourly_profile": [1] * 24, "hotspots": []},
        "layouts": {},
        "run": {"duration": f"{days:g} d", "warmup": f"{warmup_days:g} d", "replications": reps,
                "seed": seed},
    }


class _Runner:
    """Writes scenarios into a work folder, loads them, runs replications through the engine."""

    def __init__(self, workdir: Path, cache_dir: Path | None) -> None:
        self.workdir = workdir
        self.cache_dir = cache_dir or (workdir / "cache")

    def world(self, name: str, data: dict[str, Any]) -> tuple[Any, Any]:
        from sim.study.experiment import load_world

        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        loaded = load_scenario(path)
        net, world = load_world(loaded, self.cache_dir)
        return net, world

    def replications(self, world: Any, layout: str) -> list[tuple[Any, Any]]:
        """(incidents, engine result) per replication, each checked against the invariants."""
        s = world.scenario
        out = []
        for rep in range(s.run.replications):
            inc = generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=rep,
                                     weights=world.weights)
            res = simulate(world, layout, inc, rep, presence=False)
            check_result(res, world.fleets[layout], expected_incidents=len(inc),
                         horizon_s=inc.horizon_s, warmup_s=s.run.warmup)
            out.append((inc, res))
        return out


def _window(res: Any, inc: Any, warmup: float, tail: float) -> np.ndarray:
    """Incidents called in [warm-up, horizon - tail]: nearly all are assigned by the horizon."""
    call = res.records.columns["call_s"]
    return (call >= warmup) & (call <= inc.horizon_s - tail)


def _waits(res: Any, sel: np.ndarray, horizon: float) -> np.ndarray:
    c = res.records.columns
    wait = np.where(np.isnan(c["assign_s"]), horizon - c["dispatch_s"], c["queue_wait_s"])
    return wait[sel]


def _single_site(runner: _Runner, *, c: int, per_hour: float, mean_min: float, days: float,
                 reps: int, seed: int, types: list[dict[str, Any]] | None = None) -> tuple[Any, Any]:
    name = f"site_c{c}_{per_hour:g}_{mean_min:g}" + ("_prio" if types else "")
    osm = write_lattice_osm(runner.workdir / "site.osm", 3, 3, 200.0)
    data = _base_scenario(osm.name, per_day=per_hour * 24, days=days, warmup_days=2, reps=reps, seed=seed)
    lon, lat = _lonlat(0.0, 0.0)
    data["demand"]["hotspots"] = [{"name": "post", "lon": lon, "lat": lat, "sigma": "1 m", "share": 1.0}]
    if types:
        data["incident_types"] = types
    else:
        data["incident_types"][0]["on_scene"]["mean"] = f"{mean_min:g} min"
    data["layouts"] = {"site": {"platforms": [{"name": "Site", "lon": lon, "lat": lat,
                                               "units": {"car": c}}]}}
    return runner.world(name, data)


def check_mmc(runner: _Runner, *, c: int, per_hour: float, mean_min: float, days: float, reps: int,
              k: float, seed: int) -> CheckGroup:
    """All units at one site, zero travel: M/M/c."""
    t0 = time.perf_counter()
    _, world = _single_site(runner, c=c, per_hour=per_hour, mean_min=mean_min, days=days, reps=reps,
                            seed=seed)
    theory = mmc_metrics(per_hour / 3600.0, 1.0 / (mean_min * 60.0), c)
    t_probe = mean_min * 60.0 / 2
    name = f"M/M/c  c={c} a={theory.offered_load:g}"
    p_wait, wq, p_late, util = [], [], [], []
    n = 0
    warmup = world.scenario.run.warmup
    for inc, res in runner.replications(world, "site"):
        n += len(inc)
        if np.any(np.nan_to_num(res.records.columns["travel_s"]) != 0.0):
            raise AssertionError("the single-site check needs zero travel")
        sel = _window(res, inc, warmup, 86400.0)
        w = _waits(res, sel, inc.horizon_s)
        p_wait.append(float(np.mean(res.records.columns["queued"][sel])))
        wq.append(float(np.mean(w)))
        p_late.append(float(np.mean(w > t_probe)))
        util.append(float(np.mean(res.unit_busy_s) / res.window_s))
    g = CheckGroup(name, replications=reps, incidents=n)
    g.checks = [
        _check(name, "P(wait) (Erlang C)", p_wait, theory.prob_wait, k, abs_floor=1e-3),
        _check(name, "Wq", wq, theory.mean_wait, k, abs_floor=1.0, unit="s"),
        _check(name, f"P(Wq > {t_probe / 60:g} min)", p_late, 1.0 - theory.wait_cdf(t_probe), k,
               abs_floor=1e-3),
        _check(name, "utilisation", util, theory.utilisation, k, abs_floor=1e-3),
    ]
    g.seconds = time.perf_counter() - t0
    return g


def check_priority(runner: _Runner, *, c: int, rates_per_hour: tuple[float, float, float],
                   mean_min: float, days: float, reps: int, k: float, seed: int) -> CheckGroup:
    """One site, zero travel, three priorities with one service time: Cobham's formula."""
    t0 = time.perf_counter()
    total = sum(rates_per_hour)
    on_scene = {"distribution": "exponential", "mean": f"{mean_min:g} min"}
    types = [{"name": p, "priority": p, "share": r / total, "on_scene": on_scene}
             for p, r in zip(PRIORITIES, rates_per_hour, strict=True)]
    _, world = _single_site(runner, c=c, per_hour=total, mean_min=mean_min, days=days, reps=reps,
                            seed=seed, types=types)
    mu = 1.0 / (mean_min * 60.0)
    theory = mmc_priority_waits([r / 3600.0 for r in rates_per_hour], mu, c)
    name = f"Cobham  c={c} rho={total / 60 * mean_min / c:.2g}"
    waits: list[list[float]] = [[] for _ in PRIORITIES]
    n = 0
    warmup = world.scenario.run.warmup
    for inc, res in runner.replications(world, "site"):
        n += len(inc)
        sel = _window(res, inc, warmup, 86400.0)
        prio = res.records.columns["priority"]
        for p in range(len(PRIORITIES)):
            waits[p].append(float(np.mean(_waits(res, sel & (prio == p), inc.horizon_s))))
    g = CheckGroup(name, replications=reps, incidents=n)
    g.checks = [_check(name, f"Wq {p}", waits[i], theory[i], k, abs_floor=1.0, unit="s")
                for i, p in enumerate(PRIORITIES)]
    g.seconds = time.perf_counter() - t0
    return g


def check_hypercube(runner: _Runner, *, shares: tuple[float, ...], posts: tuple[int, ...],
                    per_hour: float, mean_min: float, days: float, reps: int, k: float,
                    seed: int, spacing_m: float = 25.0) -> CheckGroup:
    """Units on a line of atoms, fixed preference by travel time: Larson's hypercube model."""
    t0 = time.perf_counter()
    n_atoms = len(shares)
    osm = write_line_osm(runner.workdir / f"line{n_atoms}.osm", n_atoms, spacing_m, spacing_m)
    data = _base_scenario(osm.name, per_day=per_hour * 24, days=days, warmup_days=2, reps=reps, seed=seed)
    data["network"]["speeds"] = {"residential": "90 km/h", "default": "90 km/h"}
    data["incident_types"][0]["on_scene"]["mean"] = f"{mean_min:g} min"
    atoms_ll = [_lonlat(i * spacing_m, 0.0) for i in range(n_atoms)]
    data["demand"]["hotspots"] = [{"name": f"atom{i}", "lon": lon, "lat": lat, "sigma": "1 m",
                                   "share": float(sh)} for i, ((lon, lat), sh) in enumerate(
                                       zip(atoms_ll, np.asarray(shares) / sum(shares), strict=True))]
    platforms: dict[int, int] = {}
    for a in posts:
        platforms[a] = platforms.get(a, 0) + 1
    data["layouts"] = {"line": {"platforms": [
        {"name": f"P{a}", "lon": atoms_ll[a][0], "lat": atoms_ll[a][1], "units": {"car": cnt}}
        for a, cnt in platforms.items()]}}
    net, world = runner.world(f"line_{n_atoms}_{len(posts)}", data)
    fleet = world.fleets["line"]
    atom_nodes = np.array([net.nearest_node(*(float(v) for v in net.frame.to_local(lon, lat)))[0]
                           for lon, lat in atoms_ll])
    # the engine's choice order for each atom: turnout + travel from the post, ties to lower units
    oracle = world.oracles["car"]
    eta = np.stack([oracle.from_node(int(fleet.post[u]))[atom_nodes] + fleet.turnout_s[u]
                    for u in range(len(fleet))], axis=1)  # (atoms, units)
    pref = [sorted(range(len(fleet)), key=lambda u, j=j: (float(eta[j, u]), u))  # type: ignore[misc]
            for j in range(n_atoms)]
    lam = per_hour / 3600.0 * np.asarray(shares) / sum(shares)
    mu = np.full(len(fleet), 1.0 / (mean_min * 60.0))
    theory = hypercube(lam.tolist(), mu.tolist(), pref, "infinite", home_unit_of_atom=[p[0] for p in pref])
    atom_of_node = {int(node): j for j, node in enumerate(atom_nodes)}
    name = f"hypercube  {len(fleet)} units, {n_atoms} atoms"
    n_units = len(fleet)
    workload: list[list[float]] = [[] for _ in range(n_units)]
    share: list[list[float]] = [[] for _ in range(n_units)]
    p_queue, inter, wq = [], [], []
    n = 0
    warmup = world.scenario.run.warmup
    first_choice = np.array([p[0] for p in pref])
    max_travel = 0.0
    for inc, res in runner.replications(world, "line"):
        n += len(inc)
        c = res.records.columns
        sel = _window(res, inc, warmup, 86400.0)
        served = sel & (c["unit"] >= 0)
        unit = c["unit"][served]
        atoms = np.array([atom_of_node.get(int(x), -1) for x in c["node"][served]])
        if np.any(atoms < 0):
            raise AssertionError("an incident fell outside the atoms")
        max_travel = max(max_travel, float(np.nanmax(c["travel_s"][served], initial=0.0)))
        for u in range(n_units):
            workload[u].append(float(res.unit_busy_s[u] / res.window_s))
            share[u].append(float(np.mean(unit == u)))
        p_queue.append(float(np.mean(c["queued"][sel])))
        inter.append(float(np.mean(unit != first_choice[atoms])))
        wq.append(float(np.mean(_waits(res, sel, inc.horizon_s))))
    g = CheckGroup(name, replications=reps, incidents=n,
                   note=f"posts at atoms {list(posts)}; longest drive {max_travel:.1f} s against "
                        f"{mean_min:g} min on scene")
    for u in range(n_units):
        g.checks.append(_check(name, f"workload unit {u}", workload[u], float(theory.workloads[u]), k,
                               abs_floor=1e-3))
    dispatch_share = theory.dispatch_matrix.sum(axis=1)
    for u in range(n_units):
        g.checks.append(_check(name, f"dispatch share unit {u}", share[u], float(dispatch_share[u]), k,
                               abs_floor=1e-3))
    g.checks.append(_check(name, "P(all busy: call queues)", p_queue, theory.queue_probability, k,
                           abs_floor=1e-3))
    assert theory.interdistrict_fraction is not None  # defined: the atoms have home units
    g.checks.append(_check(name, "not first choice", inter, float(theory.interdistrict_fraction), k,
                           abs_floor=1e-3))
    g.checks.append(_check(name, "Wq", wq, theory.mean_queue_wait, k, abs_floor=1.0, unit="s"))
    g.seconds = time.perf_counter() - t0
    return g


def check_lattice(runner: _Runner, *, nx: int, ny: int, spacing_m: float, days: float, reps: int,
                  k: float, seed: int) -> CheckGroup:
    """One unit at the centre of a lattice: mean travel distance against the closed form."""
    t0 = time.perf_counter()
    osm = write_lattice_osm(runner.workdir / f"lattice{nx}x{ny}.osm", nx, ny, spacing_m)
    data = _base_scenario(osm.name, per_day=24, days=days, warmup_days=1, reps=reps, seed=seed)
    data["unit_types"] = {"car": {"turnout": "1 s"}}  # > 0 marks dispatches from the post
    data["incident_types"][0]["on_scene"] = {"distribution": "fixed", "mean": "1 min"}
    lon, lat = _lonlat(0.0, 0.0)
    data["layouts"] = {"centre": {"platforms": [{"name": "C", "lon": lon, "lat": lat,
                                                 "units": {"car": 1}}]}}
    net, world = runner.world(f"lattice_{nx}x{ny}", data)
    corners = nx * ny - net.n_nodes
    if corners not in (0, 4):
        raise AssertionError(f"the loader kept {net.n_nodes} of {nx * ny} lattice nodes")
    speed = 10.0  # 36 km/h in m/s
    analytic = lattice_expected_distance(nx, ny, spacing_m, corners_merged=corners)
    name = f"lattice  {nx}x{ny}, {spacing_m:g} m, unit at centre"
    dist = []
    n = 0
    for inc, res in runner.replications(world, "centre"):
        n += len(inc)
        c = res.records.columns
        from_post = (c["counted"] == 1) & (c["turnout_s"] > 0)
        dist.append(float(np.mean(c["travel_s"][from_post]) * speed))
    g = CheckGroup(name, replications=reps, incidents=n,
                   note=f"continuous limit (Lx + Ly)/4 = {spacing_m * (nx + ny - 2) / 4:g} m; "
                        f"{corners} corner nodes merged by the loader")
    g.checks = [_check(name, "E[travel distance]", dist, analytic, k, rel_floor=0.002, abs_floor=0.5,
                       unit="m")]
    g.seconds = time.perf_counter() - t0
    return g


# ---------------------------------------------------------------------------------------------

def validate_model(mode: str = "fast", *, k: float = 4.0, seed: int = 2017,
                   workdir: Path | None = None, cache_dir: Path | None = None,
                   progress: Callable[[CheckGroup], None] | None = None) -> list[CheckGroup]:
    """Run every check of ``mode`` (``"fast"`` or ``"full"``) and return the groups of checks.

    Parameters
    ----------
    k : tolerance in standard errors of the replication mean.
    seed : run seed of every scenario (each check is deterministic for a seed).
    workdir : folder for the generated networks and scenarios (default: a temporary folder).
    cache_dir : network cache (default: inside the work folder).
    progress : called with each group when it is done.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    m = MODES[mode]
    with tempfile.TemporaryDirectory(prefix="validate-model-") as tmp:
        runner = _Runner(Path(workdir) if workdir else Path(tmp), cache_dir)
        runner.workdir.mkdir(parents=True, exist_ok=True)
        jobs: list[Callable[[], CheckGroup]] = [
            lambda: check_mmc(runner, c=3, per_hour=4.0, mean_min=30.0, days=m.mmc_days, reps=m.reps,
                              k=k, seed=seed),
            lambda: check_priority(runner, c=3, rates_per_hour=(1.0, 1.5, 1.5), mean_min=30.0,
                                   days=m.prio_days, reps=m.reps, k=k, seed=seed),
            lambda: check_hypercube(runner, shares=(0.10, 0.25, 0.15, 0.20, 0.10, 0.20),
                                    posts=(0, 2, 2, 5), per_hour=2.0, mean_min=60.0, days=m.cube_days,
                                    reps=m.reps, k=k, seed=seed),
            lambda: check_lattice(runner, nx=11, ny=11, spacing_m=200.0, days=m.lattice_days,
                                  reps=m.reps, k=k, seed=seed),
        ]
        if m.extra:
            jobs += [
                lambda: check_mmc(runner, c=1, per_hour=1.5, mean_min=20.0, days=m.mmc_days,
                                  reps=m.reps, k=k, seed=seed + 1),
                lambda: check_mmc(runner, c=6, per_hour=10.0, mean_min=30.0, days=m.mmc_days,
                                  reps=m.reps, k=k, seed=seed + 2),
                lambda: check_priority(runner, c=2, rates_per_hour=(0.5, 1.0, 1.0), mean_min=36.0,
                                       days=m.prio_days, reps=m.reps, k=k, seed=seed + 3),
                lambda: check_hypercube(runner, shares=(1, 2, 3, 1, 2, 1, 3, 2), posts=(1, 4, 6),
                                        per_hour=1.5, mean_min=60.0, days=m.cube_days, reps=m.reps,
                                        k=k, seed=seed + 4),
                lambda: check_lattice(runner, nx=21, ny=21, spacing_m=100.0, days=m.lattice_days,
                                      reps=m.reps, k=k, seed=seed + 5),
                lambda: check_lattice(runner, nx=15, ny=7, spacing_m=150.0, days=m.lattice_days,
                                      reps=m.reps, k=k, seed=seed + 6),
            ]
        groups = []
        for job in jobs:
            g = job()
            groups.append(g)
            if progress:
                progress(g)
    return groups


def _fmt(v: float, unit: str) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    if unit:
        return f"{v:.4g} {unit}"
    return f"{v:.4f}"


def format_table(groups: list[CheckGroup], k: float = 4.0) -> str:
    """The table ``validate-model`` prints: one row per check, PASS or FAIL."""
    head = (f"{'check':<34} {'quantity':<26} {'simulated':>12} {'analytic':>12} {'SE':>10} "
            f"{'tolerance':>10}  result")
    lines = [head, "-" * len(head)]
    for g in groups:
        for i, c in enumerate(g.checks):
            lines.append(f"{g.name if i == 0 else '':<34} {c.quantity:<26} {_fmt(c.simulated, c.unit):>12} "
                         f"{_fmt(c.analytic, c.unit):>12} {_fmt(c.se, c.unit):>10} "
                         f"{_fmt(c.tolerance, c.unit):>10}  {'PASS' if c.passed else 'FAIL'}")
        lines.append(f"{'':<34} ({g.replications} replications, {g.incidents:,} incidents, "
                     f"{g.seconds:.1f} s{'; ' + g.note if g.note else ''})")
    n = sum(len(g.checks) for g in groups)
    failed = sum(not c.passed for g in groups for c in g.checks)
    lines.append(f"\n{n - failed} of {n} checks passed (tolerance: {k:g} standard errors of the "
                 "replication mean, plus a floor of 0.5% of the analytic value and a small absolute amount)")
    return "\n".join(lines)
