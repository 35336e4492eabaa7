"""Incident generation: drawn before the engine runs, and shared by every layout.

Incidents follow a Poisson process whose rate changes by hour of day (piecewise constant), and are
placed on road nodes by spatial weights: a baseline spread by road length plus Gaussian hotspots.
Each attribute comes from its own named stream, and every attribute is drawn for every incident
even where it is not needed, so the streams stay aligned (common random numbers by construction).
On-scene and call-handling times are drawn as uniforms and turned into durations by the inverse
CDF of each incident's distribution, so a layout comparison sees the same service times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats
from scipy.spatial import cKDTree

from sim.network.graph import RoadNetwork
from sim.scenario import PRIORITIES, DistributionSpec, Scenario
from sim.types import IncidentSet
from sim.world.streams import streams
from sim.world.zones import ZoneMap

__all__ = ["STREAM_NAMES", "IncidentSet", "generate_incidents", "node_weights", "point_weights",
           "sample_durations"]

STREAM_NAMES = ("arrivals", "locations", "types", "call_handling", "on_scene", "thinning")




def node_weights(net: RoadNetwork, scenario: Scenario, base_dir: Path | None = None) -> np.ndarray:
    """Probability that an incident happens at each node (sums to 1).

    The baseline share is spread in proportion to the road length around each node (or over the
    ``demand.points`` file, read relative to ``base_dir``, each point at its nearest node); each
    hotspot's share is spread by road length times a Gaussian kernel of the distance to the hotspot.
    """
    road = net.edge_length_per_node()
    base = road / road.sum()
    if scenario.demand.points:
        base = point_weights(net, Path(base_dir or ".") / scenario.demand.points)
    w = scenario.demand.baseline_share * base
    for h in scenario.demand.hotspots:
        hx, hy = net.frame.to_local(h.lon, h.lat)
        d2 = (net.x - hx) ** 2 + (net.y - hy) ** 2
        kernel = road * np.exp(-0.5 * d2 / h.sigma**2)
        if kernel.sum() <= 0:  # hotspot far outside the network: fall back to its nearest node
            kernel = np.zeros(net.n_nodes)
            kernel[int(np.argmin(d2))] = 1.0
        w = w + h.share * kernel / kernel.sum()
    return w / w.sum()


def point_weights(net: RoadNetwork, path: Path) -> np.ndarray:
    """Node weights (sum 1) from a CSV of ``lon,lat,weight``: each point's weight at its nearest node."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, usecols=(0, 1, 2))
    px, py = net.frame.to_local(table[:, 0], table[:, 1])
    _, nearest = cKDTree(np.column_stack([net.x, net.y])).query(np.column_stack([px, py]))
    w = np.bincount(nearest, weights=table[:, 2], minlength=net.n_nodes)
    return w / w.sum()


def sample_durations(spec: DistributionSpec, u: np.ndarray) -> np.ndarray:
    """Turn uniforms ``u`` in (0, 1) into durations (s) by the inverse CDF of ``spec``."""
    mean = spec.mean
    if spec.distribution == "fixed":
        return np.full(u.shape, mean)
    if spec.distribution == "exponential":
        return -mean * np.log1p(-u)
    if spec.distribution == "empirical":
        q = np.asarray(spec.quantiles, dtype=float)
        return np.interp(u, np.linspace(0.0, 1.0, len(q)), q)
    cv = float(spec.cv)  # validated present for lognormal and gamma
    if spec.distribution == "lognormal":
        sigma = np.sqrt(np.log1p(cv * cv))
        mu = np.log(mean) - 0.5 * sigma * sigma
        return np.exp(mu + sigma * stats.norm.ppf(u))
    shape = 1.0 / (cv * cv)
    return stats.gamma.ppf(u, shape, scale=mean / shape)


def _uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    # strictly inside (0, 1) so inverse CDFs stay finite
    return np.clip(rng.random(n), 1e-12, 1.0 - 1e-12)


def generate_incidents(scenario: Scenario, net: RoadNetwork, zones: ZoneMap, *, seed: int,
                       replication: int, horizon_s: float | None = None,
                       weights: np.ndarray | None = None, demand_multiplier: float = 1.0,
                       max_multiplier: float | None = None) -> IncidentSet:
    """Draw the incidents of one replication.

    Parameters
    ----------
    horizon_s : length of the run (s); default ``scenario.run.duration``.
    weights : node weights from :func:`node_weights` (computed if not given).
    demand_multiplier, max_multiplier : for demand sweeps. Incidents are drawn at
        ``max_multiplier`` times the scenario's rate and each is kept with probability
        ``demand_multiplier / max_multiplier`` (from its own stream), so variants with more
        demand see the same incidents plus others: common random numbers across demand levels.
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
    cdf = np.cumsum(w)
    node = np.minimum(np.searchsorted(cdf, rng["locations"].random(n) * cdf[-1], side="right"),
                      net.n_nodes - 1)

    shares = np.array([t.share for t in scenario.incident_types])
    tcdf = np.cumsum(shares) / shares.sum()
    type_index = np.minimum(np.searchsorted(tcdf, rng["types"].random(n), side="right"),
                            len(shares) - 1).astype(np.int16)
    prio_of_type = np.array([PRIORITIES.index(t.priority) for t in scenario.incident_types], dtype=np.int8)

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
