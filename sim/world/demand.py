"""Incident generation: drawn before the engine runs, and shared by every layout.

Incidents follow a Poisson process whose rate changes by hour of day (piecewise constant), and are
placed on road nodes by spatial weights: a baseline (``demand.baseline``: by road length, equal
per node, or none), Gaussian hotspots, and demand points read from a CSV file (``demand.points``),
whose optional columns give each point an hour-of-day profile and a priority mix.
Each attribute comes from its own named stream, and every attribute is drawn for every incident
even where it is not needed, so the streams stay aligned (common random numbers by construction).
On-scene and call-handling times are drawn as uniforms and turned into durations by the inverse
CDF of each incident's distribution, so a layout comparison sees the same service times.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from sim.network.graph import RoadNetwork
from sim.scenario import PRIORITIES, DistributionSpec, LoadedScenario, Scenario
from sim.types import IncidentSet
from sim.world.streams import streams
from sim.world.zones import ZoneMap

__all__ = ["STREAM_NAMES", "DemandModel", "DemandPointsData", "IncidentSet", "demand_model",
           "generate_incidents", "node_weights", "point_nodes", "read_demand_points",
           "sample_durations"]

STREAM_NAMES = ("arrivals", "locations", "types", "call_handling", "on_scene", "thinning")




MAX_POINTS = 1_000_000
"""The most rows a ``demand.points`` file may have."""


@dataclass(frozen=True)
class DemandPointsData:
    """The rows of a ``demand.points`` file: either ``lon``/``lat`` or ``node`` (OSM ids), and weights."""

    file: Path
    weight: np.ndarray
    lon: np.ndarray | None = None
    lat: np.ndarray | None = None
    node: np.ndarray | None = None
    hours: np.ndarray | None = None
    """``[points, 24]``: each point's relative hour-of-day profile (columns ``h0`` ... ``h23``)."""
    mix: np.ndarray | None = None
    """``[points, 3]``: each point's priority mix (columns ``urgent``, ``standard``, ``minor``),
    rows summing to 1."""


@dataclass(frozen=True)
class DemandModel:
    """Where and what incidents happen when it depends on more than the node.

    Attributes
    ----------
    weights_by_hour : ``[24, nodes]``: the location probabilities in each hour of the day (rows
        sum to 1), or None when they do not change with the hour (then ``weights`` is used).
    priority_by_hour : ``[24, nodes, 3]``: the probability of each priority at each node and hour,
        or None when it is the incident-type shares' everywhere.
    """

    weights_by_hour: np.ndarray | None = None
    priority_by_hour: np.ndarray | None = None


def read_demand_points(loaded: LoadedScenario) -> DemandPointsData | None:
    """Read the scenario's ``demand.points`` CSV (None if it has none).

    Raises
    ------
    ScenarioError
        Naming ``demand.points.file`` and the file's line for a missing file, unknown columns or
        a value that is not a number (weights must be finite and not negative, one positive).
    """
    spec = loaded.scenario.demand.points
    if spec is None:
        return None
    loc = ("demand", "points", "file")
    path = loaded.resolve_path(spec.file)
    if not path.is_file():
        raise loaded.error(loc, f"demand points file not found: {path}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise loaded.error(loc, f"{path}: cannot read it as a CSV file ({exc})") from None
    if not rows:
        raise loaded.error(loc, f"{path}: the file is empty")
    head = [h.strip().lower() for h in rows[0]]
    if "weight" not in head or not ({"lon", "lat"} <= set(head) or "node" in head):
        raise loaded.error(loc, f"{path}: line 1 must name the columns lon,lat,weight or "
                                f"node,weight; it has {','.join(head)}")
    cols = ["node", "weight"] if "node" in head else ["lon", "lat", "weight"]
    hour_cols = [f"h{h}" for h in range(24)]
    given_hours = [c for c in head if re.fullmatch(r"h\d+", c)]
    if given_hours and sorted(given_hours) != sorted(hour_cols):
        raise loaded.error(loc, f"{path}: line 1: an hour profile needs the 24 columns h0 ... h23; "
                                f"it has {', '.join(given_hours)}")
    given_mix = [c for c in PRIORITIES if c in head]
    if given_mix and len(given_mix) != len(PRIORITIES):
        raise loaded.error(loc, f"{path}: line 1: a priority mix needs the columns "
                                f"{', '.join(PRIORITIES)}; it has {', '.join(given_mix)}")
    unknown = [c for c in head if c not in {*cols, *hour_cols, *PRIORITIES, "lon", "lat", "name"}]
    if unknown:
        raise loaded.error(loc, f"{path}: line 1: unknown column '{unknown[0]}'; the columns are "
                                "lon,lat,weight or node,weight, optionally h0 ... h23 and "
                                f"{','.join(PRIORITIES)}")
    cols = cols + (hour_cols if given_hours else []) + (list(PRIORITIES) if given_mix else [])
    idx = [head.index(c) for c in cols]
    values: list[list[float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            vals = [float(row[i]) for i in idx]
        except (ValueError, IndexError):
            raise loaded.error(loc, f"{path}:{line}: expected numbers in the columns "
                                    f"{', '.join(cols)}; got {','.join(row)}") from None
        first_w = 1 if cols[0] == "node" else 2
        if not all(math.isfinite(v) for v in vals) or min(vals[first_w:]) < 0:
            raise loaded.error(loc, f"{path}:{line}: weights, hour profiles and priority mixes must "
                                    "be finite and not negative, coordinates finite")
        if given_hours and sum(vals[first_w + 1:first_w + 25]) <= 0:
            raise loaded.error(loc, f"{path}:{line}: the hour profile needs a positive value")
        if given_mix and sum(vals[-3:]) <= 0:
            raise loaded.error(loc, f"{path}:{line}: the priority mix needs a positive share")
        if cols[0] == "lon" and not (-180 <= vals[0] <= 180 and -90 <= vals[1] <= 90):
            raise loaded.error(loc, f"{path}:{line}: lon must be in [-180, 180] and lat in [-90, 90]")
        values.append(vals)
        if len(values) > MAX_POINTS:
            raise loaded.error(loc, f"{path}: more than {MAX_POINTS:,} points")
    arr = np.asarray(values, dtype=float).reshape(-1, len(cols))
    wi = cols.index("weight")
    if len(arr) == 0 or arr[:, wi].sum() <= 0:
        raise loaded.error(loc, f"{path}: needs at least one point with a positive weight")
    hours = arr[:, wi + 1:wi + 25] if given_hours else None
    mix = arr[:, -3:] / arr[:, -3:].sum(axis=1, keepdims=True) if given_mix else None
    if mix is not None:
        have = {t.priority for t in loaded.scenario.incident_types}
        for k, prio in enumerate(PRIORITIES):
            if prio not in have and mix[:, k].max() > 0:
                raise loaded.error(loc, f"{path}: the priority mix gives '{prio}' incidents, but no "
                                        f"incident type has priority {prio}")
    if cols[0] == "node":
        if np.any(arr[:, 0] != np.round(arr[:, 0])):
            raise loaded.error(loc, f"{path}: node must be a whole OSM node id")
        return DemandPointsData(file=path, weight=arr[:, wi], node=arr[:, 0].astype(np.int64),
                                hours=hours, mix=mix)
    return DemandPointsData(file=path, weight=arr[:, wi], lon=arr[:, 0], lat=arr[:, 1],
                            hours=hours, mix=mix)


def point_nodes(net: RoadNetwork, points: DemandPointsData) -> np.ndarray:
    """The node index of each demand point: its place on the road (``net.places``) or its OSM id.

    Raises
    ------
    KeyError
        For a point not on ``net`` (not placed, or an OSM id the network does not hold).
    """
    if points.node is not None:
        index = {int(o): i for i, o in enumerate(net.osmid)}
        missing = [int(n) for n in points.node if int(n) not in index]
        if missing:
            raise KeyError(f"OSM node {missing[0]} is not on the road network"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        return np.array([index[int(n)] for n in points.node], dtype=np.int64)
    assert points.lon is not None and points.lat is not None
    return np.array([net.places[(float(a), float(b))][0] for a, b in zip(points.lon, points.lat,
                                                                          strict=True)],
                    dtype=np.int64)


def node_weights(net: RoadNetwork, scenario: Scenario,
                 points: DemandPointsData | None = None) -> np.ndarray:
    """Probability that an incident happens at each node (sums to 1).

    The baseline share is spread by ``demand.baseline``: in proportion to the road length around
    each node, or equally per node. Each hotspot's share is spread by road length times a Gaussian
    kernel of the distance to the hotspot. The points' share (``demand.points``, given as
    ``points``) goes to their nodes in proportion to their weights.
    """
    demand = scenario.demand
    road = net.edge_length_per_node()
    w = np.zeros(net.n_nodes)
    if demand.baseline == "road_length":
        w += demand.baseline_share * road / road.sum()
    elif demand.baseline == "equal_per_node":
        w += demand.baseline_share / net.n_nodes
    for h in demand.hotspots:
        hx, hy = net.frame.to_local(h.lon, h.lat)
        d2 = (net.x - hx) ** 2 + (net.y - hy) ** 2
        kernel = road * np.exp(-0.5 * d2 / h.sigma**2)
        if kernel.sum() <= 0:  # hotspot far outside the network: fall back to its nearest node
            kernel = np.zeros(net.n_nodes)
            kernel[int(np.argmin(d2))] = 1.0
        w = w + h.share * kernel / kernel.sum()
    if points is not None and demand.points_share > 0:
        at = np.zeros(net.n_nodes)
        np.add.at(at, point_nodes(net, points), points.weight)
        w = w + demand.points_share * at / at.sum()
    return np.asarray(w / w.sum(), dtype=float)


def _type_priority_mix(scenario: Scenario) -> np.ndarray:
    """``[3]``: the share of each priority among incidents from the incident-type shares."""
    out = np.zeros(len(PRIORITIES))
    for t in scenario.incident_types:
        out[PRIORITIES.index(t.priority)] += t.share
    return np.asarray(out / out.sum(), dtype=float)


def demand_model(net: RoadNetwork, scenario: Scenario, points: DemandPointsData | None,
                 weights: np.ndarray) -> DemandModel:
    """The hour- and node-dependent part of the demand from the points' optional columns.

    A point's hour profile moves the points' share between the points through the day (the
    points' share of each hour's incidents stays ``demand.points.share``): at hour ``h`` point
    ``i`` weighs ``weight_i * h_i[h] / mean(h_i)``. A point's priority mix applies to the
    incidents drawn from it; at a node, the priorities are the mix of its points' incidents and
    of its other incidents (which follow the incident-type shares), in proportion.
    """
    share = scenario.demand.points_share
    if points is None or share <= 0 or (points.hours is None and points.mix is None):
        return DemandModel()
    nodes = point_nodes(net, points)
    if points.hours is not None:
        rel = points.hours / points.hours.mean(axis=1, keepdims=True)
        per_hour = points.weight[None, :] * rel.T  # [24, points]
    else:
        per_hour = np.tile(points.weight, (24, 1))
    base = weights - share * _point_weights(net, nodes, points.weight)  # the other components
    base = np.maximum(base, 0.0)
    pw = np.zeros((24, net.n_nodes))
    for h in range(24):
        at = np.zeros(net.n_nodes)
        np.add.at(at, nodes, per_hour[h])
        pw[h] = share * at / at.sum()
    by_hour = base[None, :] + pw
    by_hour = by_hour / by_hour.sum(axis=1, keepdims=True)
    prio = None
    if points.mix is not None:
        default = _type_priority_mix(scenario)
        prio = np.tile(default, (24, net.n_nodes, 1))
        for h in range(24):
            mixed = np.zeros((net.n_nodes, len(PRIORITIES)))
            np.add.at(mixed, nodes, (share * per_hour[h] / per_hour[h].sum())[:, None] * points.mix)
            total = base + pw[h]
            with np.errstate(invalid="ignore", divide="ignore"):
                p = (base[:, None] * default[None, :] + mixed) / total[:, None]
            ok = total > 0
            prio[h, ok] = p[ok]
    return DemandModel(weights_by_hour=by_hour if points.hours is not None else None,
                       priority_by_hour=prio)


def _point_weights(net: RoadNetwork, nodes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    at = np.zeros(net.n_nodes)
    np.add.at(at, nodes, weight)
    return np.asarray(at / at.sum(), dtype=float)



def sample_durations(spec: DistributionSpec, u: np.ndarray) -> np.ndarray:
    """Turn uniforms ``u`` in (0, 1) into durations (s) by the inverse CDF of ``spec``."""
    mean = spec.mean
    if spec.distribution == "fixed":  # a fixed 0 s is allowed (e.g. no call handling)
        return np.full(u.shape, mean)
    if spec.distribution == "exponential":
        return np.asarray(-mean * np.log1p(-u), dtype=float)
    if spec.distribution == "empirical":
        q = np.asarray(spec.quantiles, dtype=float)
        return np.asarray(np.interp(u, np.linspace(0.0, 1.0, len(q)), q), dtype=float)
    assert spec.cv is not None  # validated present for lognormal and gamma
    cv = float(spec.cv)
    if spec.distribution == "lognormal":
        sigma = np.sqrt(np.log1p(cv * cv))
        mu = np.log(mean) - 0.5 * sigma * sigma
        return np.asarray(np.exp(mu + sigma * stats.norm.ppf(u)), dtype=float)
    shape = 1.0 / (cv * cv)
    return np.asarray(stats.gamma.ppf(u, shape, scale=mean / shape), dtype=float)


def _uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    # strictly inside (0, 1) so inverse CDFs stay finite
    return np.clip(rng.random(n), 1e-12, 1.0 - 1e-12)


def generate_incidents(scenario: Scenario, net: RoadNetwork, zones: ZoneMap, *, seed: int,
                       replication: int, horizon_s: float | None = None,
                       weights: np.ndarray | None = None, demand_multiplier: float = 1.0,
                       max_multiplier: float | None = None,
                       model: DemandModel | None = None) -> IncidentSet:
    """Draw the incidents of one replication.

    Parameters
    ----------
    horizon_s : length of the run (s); default ``scenario.run.duration``.
    weights : node weights from :func:`node_weights` (computed if not given).
    demand_multiplier, max_multiplier : for demand sweeps. Incidents are drawn at
        ``max_multiplier`` times the scenario's rate and each is kept with probability
        ``demand_multiplier / max_multiplier`` (from its own stream), so variants with more
        demand see the same incidents plus others: common random numbers across demand levels.
    model : where and what incidents happen by hour (:func:`demand_model`, from the demand
        points' hour profiles and priority mixes); without one, ``weights`` and the incident-type
        shares hold at every hour.
    """
    horizon = float(horizon_s if horizon_s is not None else scenario.run.duration)
    rng = streams(seed, replication, STREAM_NAMES)
    demand = scenario.demand

    # arrivals: Poisson counts per hour, then uniform times within each hour
    top = float(max_multiplier if max_multiplier is not None else demand_multiplier)
    if not 0 < demand_multiplier <= top:
        raise ValueError("need 0 < demand_multiplier <= max_multiplier")
    profile = np.asarray(demand.weekly_profile or demand.hourly_profile, dtype=float)
    hourly_rate = top * demand.incidents_per_day * (len(profile) / 24) * profile / profile.sum()
    n_hours = int(np.ceil(horizon / 3600.0))
    hours = np.arange(n_hours)
    lam = hourly_rate[hours % len(profile)] * np.minimum(1.0, (horizon - hours * 3600.0) / 3600.0)
    counts = rng["arrivals"].poisson(lam)
    n = int(counts.sum())
    hour_of = np.repeat(hours, counts)
    span = np.minimum(3600.0, horizon - hour_of * 3600.0)
    call = np.sort(hour_of * 3600.0 + rng["arrivals"].random(n) * span, kind="stable")

    w = weights if weights is not None else node_weights(net, scenario)
    u_loc = rng["locations"].random(n)
    hod = (call // 3600.0).astype(np.int64) % 24
    if model is not None and model.weights_by_hour is not None:
        node = np.empty(n, dtype=np.int64)
        for h in range(24):
            sel = hod == h
            hcdf = np.cumsum(model.weights_by_hour[h])
            node[sel] = np.searchsorted(hcdf, u_loc[sel] * hcdf[-1], side="right")
        node = np.minimum(node, net.n_nodes - 1)
    else:
        cdf = np.cumsum(w)
        node = np.minimum(np.searchsorted(cdf, u_loc * cdf[-1], side="right"), net.n_nodes - 1)

    shares = np.array([t.share for t in scenario.incident_types])
    prio_of_type = np.array([PRIORITIES.index(t.priority) for t in scenario.incident_types], dtype=np.int8)
    u_type = rng["types"].random(n)
    if model is not None and model.priority_by_hour is not None:
        # P(type | node, hour) = P(priority | node, hour) * the type's share within its priority
        within = np.zeros((len(PRIORITIES), len(shares)))
        for k, p in enumerate(prio_of_type):
            within[p, k] = shares[k]
        within = within / np.maximum(within.sum(axis=1, keepdims=True), 1e-300)
        probs = model.priority_by_hour[hod, node] @ within  # [n, types]
        tcdf_n = np.cumsum(probs, axis=1)
        type_index = np.minimum((u_type[:, None] * tcdf_n[:, -1:] >= tcdf_n).sum(axis=1),
                                len(shares) - 1).astype(np.int16)
    else:
        tcdf = np.cumsum(shares) / shares.sum()
        type_index = np.minimum(np.searchsorted(tcdf, u_type, side="right"),
                                len(shares) - 1).astype(np.int16)

    handling = sample_durations(scenario.call_handling, _uniforms(rng["call_handling"], n))
    u_scene = _uniforms(rng["on_scene"], n)
    on_scene = np.empty(n)
    for k, t in enumerate(scenario.incident_types):
        mask = type_index == k
        on_scene[mask] = sample_durations(t.on_scene, u_scene[mask])

    keep = rng["thinning"].random(n) * top < demand_multiplier
    return IncidentSet(
        call_s=call[keep], dispatch_s=(call + handling)[keep], node=node[keep].astype(np.int64),
        zone=zones.zone[node[keep]], key_location=zones.key_location[node[keep]],
        type_index=type_index[keep], priority=prio_of_type[type_index[keep]],
        on_scene_s=on_scene[keep], horizon_s=horizon,
    )
