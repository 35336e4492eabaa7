"""Candidate sites and demand points on the road network, and the instance a model is built on.

Candidates are the network's drivable nodes (a node a car can leave and reach), filtered by
rules: not in a river (closer to a river's centre line than half its width plus
``river_margin``), inside the urban boundary (the network's extent, or the zone classes asked
for), and at least ``spacing`` apart (kept greedily by demand weight, ties by node index). Or
a CSV ``site,lon,lat`` of places the city can actually use, each snapped to its nearest drivable
node within the scenario's ``network.snap_tolerance``.

Demand points are every node with positive demand weight (``sim.world.demand.node_weights``),
each with its zone's target (the 1/3/5-minute ladder). Costs are the unit type's turnout plus its
driving time in the chosen congestion period, from one limited reverse search per demand point.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from sim.network.graph import RoadNetwork
from sim.optimize.matrix import CostMatrix, MatrixFileError, oracle_matrix
from sim.quantities import format_distance
from sim.scenario import ZONE_CLASSES, LoadedScenario
from sim.world.checks import river_lines
from sim.world.prepare import World

__all__ = ["NetworkInstance", "build_instance", "drivable_nodes", "filter_candidates",
           "read_candidates_csv", "reference_unit_type"]


def drivable_nodes(net: RoadNetwork) -> np.ndarray:
    """Mask of nodes with a road (not footway-only) edge leaving and one arriving."""
    road = ~np.asarray(net.edge_walk_only, dtype=bool)
    out = np.zeros(net.n_nodes, dtype=bool)
    inn = np.zeros(net.n_nodes, dtype=bool)
    out[net.edge_u[road]] = True
    inn[net.edge_v[road]] = True
    return out & inn


def _river_mask(loaded: LoadedScenario, net: RoadNetwork, margin_m: float) -> np.ndarray:
    """Nodes closer to a river's centre line than half its width plus ``margin_m``."""
    wet = np.zeros(net.n_nodes, dtype=bool)
    for r in river_lines(loaded, net):
        reach = r.width_m / 2 + margin_m
        for k in range(len(r.x) - 1):
            x0, y0, x1, y1 = r.x[k], r.y[k], r.x[k + 1], r.y[k + 1]
            dx, dy = x1 - x0, y1 - y0
            len2 = dx * dx + dy * dy
            t = np.clip(((net.x - x0) * dx + (net.y - y0) * dy) / len2, 0, 1) if len2 > 0 else 0.0
            wet |= np.hypot(x0 + t * dx - net.x, y0 + t * dy - net.y) < reach
    return wet


def filter_candidates(loaded: LoadedScenario, world: World, *, spacing_m: float = 0.0,
                      zones: tuple[str, ...] = ZONE_CLASSES, river_margin_m: float = 10.0
                      ) -> tuple[np.ndarray, dict[str, int]]:
    """Candidate nodes by the rules of the module docstring, and how many each rule removed."""
    net = world.net
    ok = drivable_nodes(net)
    counts = {"nodes": net.n_nodes, "not drivable": int((~ok).sum())}
    wet = _river_mask(loaded, net, river_margin_m) & ok
    counts["in or at a river"] = int(wet.sum())
    ok &= ~wet
    zone_ok = np.isin(world.zones.zone, [ZONE_CLASSES.index(z) for z in zones])
    counts["outside the zones asked for"] = int((ok & ~zone_ok).sum())
    ok &= zone_ok
    nodes = np.flatnonzero(ok)
    if spacing_m > 0 and len(nodes):
        order = nodes[np.lexsort((nodes, -world.weights[nodes]))]
        tree = cKDTree(np.column_stack([net.x[order], net.y[order]]))
        taken = np.zeros(len(order), dtype=bool)
        blocked = np.zeros(len(order), dtype=bool)
        for k in range(len(order)):
            if blocked[k]:
                continue
            taken[k] = True
            blocked[tree.query_ball_point(tree.data[k], spacing_m - 1e-9)] = True
        counts[f"closer than {format_distance(spacing_m)} to a busier one"] = int((~taken).sum())
        nodes = np.sort(order[taken])
    counts["candidates"] = len(nodes)
    return nodes, counts


def read_candidates_csv(path: Path, loaded: LoadedScenario, net: RoadNetwork
                        ) -> tuple[np.ndarray, list[str]]:
    """``site,lon,lat`` rows snapped to drivable nodes: the nodes and the site names."""
    tol = loaded.scenario.network.snap_tolerance
    ok = np.flatnonzero(drivable_nodes(net))
    tree = cKDTree(np.column_stack([net.x[ok], net.y[ok]]))
    nodes, names, problems = [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"site", "lon", "lat"} <= set(reader.fieldnames):
            raise MatrixFileError(f"{path}: line 1: the header must be 'site,lon,lat'")
        for row in reader:
            line = reader.line_num
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except (TypeError, ValueError):
                problems.append(f"{path}: line {line}: lon/lat must be numbers")
                continue
            x, y = net.frame.to_local(lon, lat)
            dist, k = tree.query([float(x), float(y)])
            if dist > tol:
                problems.append(f"{path}: line {line}: site {row['site']!r} is "
                                f"{format_distance(round(dist))} from the nearest drivable road "
                                f"(tolerance {format_distance(tol)})")
                continue
            nodes.append(int(ok[k]))
            names.append(row["site"])
    if problems:
        raise MatrixFileError("\n".join(problems))
    if not nodes:
        raise MatrixFileError(f"{path}: no candidate sites")
    return np.array(nodes, dtype=np.int64), names


def reference_unit_type(loaded: LoadedScenario, name: str | None) -> str:
    """The unit type whose speeds and turnout time the models use (default: the first response
    type that patrols, else the first response type)."""
    types = loaded.scenario.unit_types
    if name is not None:
        if name not in types:
            raise loaded.error(("unit_types",), f"--unit-type {name}: no such unit type; "
                                                f"unit types: {', '.join(types)}")
        return name
    response = [n for n, t in types.items() if t.role == "response"]
    patrolling = [n for n in response if types[n].patrols]
    if not response:
        raise loaded.error(("unit_types",), "the scenario has no response unit type")
    return (patrolling or response)[0]


@dataclass
class NetworkInstance:
    """What the models need from a scenario: candidate sites, demand points and their costs.

    Attributes
    ----------
    sites : node index of each candidate site.
    site_names : a name per site (``node <osmid>``, or from the candidates CSV).
    demand : node index of each demand point.
    weights : demand weight of each point (the incident-location probabilities).
    zone : zone class index of each demand point (0 key, 1 central, 2 other).
    targets : target (s) of each demand point, from its zone.
    matrix : turnout + driving time (s) from each site to each demand point, within ``limit_s``.
    unit_type, period : the speed profile and the congestion period (``"free flow"`` or a name).
    limit_s : the largest cost kept in the matrix.
    fixed : indices (into ``sites``) of sites that must stay open (``--keep``).
    build_s : seconds spent building the matrix.
    """

    sites: np.ndarray
    site_names: list[str]
    demand: np.ndarray
    weights: np.ndarray
    zone: np.ndarray
    targets: np.ndarray
    matrix: CostMatrix
    unit_type: str
    period: str
    limit_s: float
    fixed: np.ndarray
    build_s: float


def aggregate_demand(net: RoadNetwork, weights: np.ndarray, cell_m: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Demand merged into square cells of side ``cell_m`` (m): each cell's weight moves to its
    busiest node (ties: the lower index). Returns the new per-node weights and the demand nodes.
    An approximation for the mean- and worst-time models, whose size grows with demand points."""
    nodes = np.flatnonzero(weights > 0)
    cx = np.floor(net.x[nodes] / cell_m).astype(np.int64)
    cy = np.floor(net.y[nodes] / cell_m).astype(np.int64)
    cell = (cx - cx.min()) * (int(cy.max() - cy.min()) + 1) + (cy - cy.min())
    order = np.lexsort((nodes, -weights[nodes], cell))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    rep_of_cell = dict(zip(cell[order][first].tolist(), nodes[order][first].tolist(), strict=True))
    out = np.zeros_like(weights)
    np.add.at(out, np.array([rep_of_cell[c] for c in cell.tolist()]), weights[nodes])
    return out, np.flatnonzero(out > 0)


def period_index(loaded: LoadedScenario, name: str | None) -> tuple[int, str]:
    """Index into ``World.period_oracles`` of a congestion period named on the command line."""
    periods = [p.name for p in loaded.scenario.congestion.periods]
    if name is None or name in ("free", "free_flow", "free flow"):
        return 0, "free flow"
    if name not in periods:
        raise loaded.error(("congestion", "periods"), f"--period {name}: no such congestion period; "
                           f"periods: {', '.join(periods) or 'none'} (or free_flow)")
    return periods.index(name) + 1, name


def build_instance(loaded: LoadedScenario, world: World, sites: np.ndarray, site_names: list[str],
                   *, unit_type: str, period: str | None = None, keep_nodes: np.ndarray | None = None,
                   keep_names: list[str] | None = None, limit_s: float | None = None,
                   weights: np.ndarray | None = None, demand_cell_m: float = 0.0) -> NetworkInstance:
    """The instance on ``world`` for candidate ``sites`` (node indices), kept sites added first.

    ``limit_s``: the largest cost to keep (default the largest zone target); ``weights``: demand
    weights per node (default the world's, e.g. a period's demand for ``--by-period``);
    ``demand_cell_m``: merge demand into square cells of this side (m), see :func:`aggregate_demand`.
    """
    t0 = time.perf_counter()
    pi, pname = period_index(loaded, period)
    oracle = world.period_oracles[pi][unit_type]
    turnout = float(loaded.scenario.unit_types[unit_type].turnout)
    keep_nodes = np.zeros(0, dtype=np.int64) if keep_nodes is None else np.asarray(keep_nodes, np.int64)
    names = list(keep_names or [f"node {world.net.osmid[n]}" for n in keep_nodes])
    extra = [k for k, n in enumerate(sites) if n not in set(keep_nodes.tolist())]
    all_sites = np.concatenate([keep_nodes, np.asarray(sites, dtype=np.int64)[extra]])
    names += [site_names[k] for k in extra]
    w_all = world.weights if weights is None else np.asarray(weights, dtype=float)
    demand = np.flatnonzero(w_all > 0)
    if demand_cell_m > 0:
        w_all, demand = aggregate_demand(world.net, w_all, demand_cell_m)
    zone = world.zones.zone[demand].astype(np.int64)
    targets = world.zones.targets[zone]
    limit = float(limit_s if limit_s is not None else world.zones.targets.max())
    matrix = oracle_matrix(oracle, all_sites, demand, limit, offset_s=turnout)
    return NetworkInstance(sites=all_sites, site_names=names, demand=demand, weights=w_all[demand],
                           zone=zone, targets=targets, matrix=matrix, unit_type=unit_type,
                           period=pname, limit_s=limit, fixed=np.arange(len(keep_nodes)),
                           build_s=time.perf_counter() - t0)
