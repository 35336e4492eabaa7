"""Presence (见警率) from the units' logged trajectories, computed after the run.

Every ``patrol.presence_sample`` from the end of the warm-up, each point (key location, grid post)
counts as covered by police when an on-air police unit could reach it within the point's zone
target from where it is; volunteers are counted apart. Units on the way to a job are left out
(their route is not tracked); units on scene are at the scene. Vectorised over all sample times,
from the same lazy positions the dispatcher uses (:mod:`sim.engine.positions`); the reach from a
position to a point is timed in the congestion period of the sample.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.engine.positions import Trajectories
from sim.types import Presence
from sim.world.prepare import MINUTES_PER_DAY, presence_points

__all__ = ["sample_presence"]

_INF = float("inf")


def sample_presence(traj: Trajectories, horizon: float, *, on: bool = True) -> Presence:
    """Presence counts by point and hour of day for one finished run (none sampled if not ``on``)."""
    world, fleet = traj.world, traj.fleet
    scenario = world.scenario
    pts = presence_points(world, traj.layout)
    names = tuple(p[0] for p in pts)
    kinds = tuple(p[1] for p in pts)
    nodes_p = np.array([p[2] for p in pts], dtype=np.int64)
    targets = np.array([p[3] for p in pts])
    step = scenario.patrol.presence_sample
    t0 = float(np.ceil(scenario.run.warmup / step) * step)
    times = np.arange(t0, horizon, step) if on else np.zeros(0)
    hours = (times // 3600.0).astype(np.int64) % 24
    covered_p = np.zeros((len(pts), times.size), dtype=bool)
    covered_v = np.zeros((len(pts), times.size), dtype=bool)
    volunteers = np.array([r == "volunteer" for r in fleet.role], dtype=bool)
    oracles_p = traj.oracles_p
    if times.size and len(pts):
        minute = (times // 60.0).astype(np.int64) % MINUTES_PER_DAY
        n_nodes = world.net.n_nodes
        period_of_minute = world.period_of_minute
        periods = np.unique(period_of_minute[minute])
        # column offset of each sample's period in the stacked reverse rows
        shift = (np.searchsorted(periods, period_of_minute[minute]) * n_nodes)
        on_table = ~fleet.off_air
        has_shifts = bool(fleet.off_air.any())
        # units that drive alike in every period share reverse rows
        signature = [tuple(id(po[u]) for po in oracles_p) for u in range(len(fleet))]
        for sig in dict.fromkeys(signature):
            units = [u for u in range(len(fleet)) if signature[u] == sig]
            # [point, period * node]: the time from every node to each point, in each period
            rev = np.concatenate([np.stack([oracles_p[p][units[0]].to_node(int(n))[0]
                                            for n in nodes_p]) for p in periods], axis=1)
            traj_u = [traj.trajectory(u, times) for u in units]
            node = np.stack([tr[0] for tr in traj_u])
            offset = np.stack([tr[1] for tr in traj_u])
            known = np.stack([tr[2] for tr in traj_u])
            if periods.size > 1:
                node = node + shift[None, :]
            if has_shifts:
                known &= on_table[minute][:, units].T
            vol = volunteers[units]
            for who, covered in ((~vol, covered_p), (vol, covered_v)):
                if who.any():
                    _cover(rev, targets, node[who], offset[who], known[who], covered)
    samples = np.bincount(hours, minlength=24)
    police = np.stack([np.bincount(hours, weights=covered_p[k], minlength=24)
                       for k in range(len(pts))]) if len(pts) else np.zeros((0, 24))
    vols = np.stack([np.bincount(hours, weights=covered_v[k], minlength=24)
                     for k in range(len(pts))]) if len(pts) else np.zeros((0, 24))
    return Presence(names=names, kinds=kinds, nodes=nodes_p, targets_s=targets, samples=samples,
                    police=police.astype(np.int64), volunteers=vols.astype(np.int64))


def _cover(rev: np.ndarray, targets: np.ndarray, node: np.ndarray, offset: np.ndarray,
           known: np.ndarray, covered: np.ndarray) -> None:
    """Mark, into ``covered[point, sample]``, the samples where some unit (rows of ``node``,
    ``offset``, ``known``: ``[unit, sample]``) reaches the point within its target:
    ``rev[point, node] + offset <= target``.

    Each node carries a bit per point that it reaches within target (``rev <= target``, a
    necessary condition as offsets are never negative, and exact where the offset is 0): one
    lookup per unit and sample instead of one per point, unit and sample. Positions with a
    positive offset are checked again, with their offset, only for the points whose bit is set
    (a node near a point is within target of one or two of them, seldom more). The loop over
    units and samples is compiled (:func:`_cover_bits`).
    """
    n_pts = rev.shape[0]
    node = np.ascontiguousarray(node, dtype=np.int64)
    offset = np.ascontiguousarray(offset, dtype=np.float64)
    known = np.ascontiguousarray(known)
    for lo in range(0, n_pts, 62):  # 62 points per int64 bit field
        hi = min(n_pts, lo + 62)
        sub, tgt = np.ascontiguousarray(rev[lo:hi]), np.ascontiguousarray(targets[lo:hi])
        weights = np.left_shift(1, np.arange(hi - lo, dtype=np.int64))
        bits = ((sub <= tgt[:, None]).astype(np.int64) * weights[:, None]).sum(axis=0)  # per node
        out = np.zeros(node.shape[1], dtype=np.int64)  # per sample: the points covered
        _cover_bits(bits, sub, tgt, node, offset, known, out)
        for j in range(hi - lo):
            covered[lo + j] |= ((out >> j) & 1).astype(bool)


@njit(cache=True, nogil=True)
def _cover_bits(bits: np.ndarray, sub: np.ndarray, tgt: np.ndarray, node: np.ndarray,
                offset: np.ndarray, known: np.ndarray, out: np.ndarray
                ) -> None:  # pragma: no cover (compiled; tested through sample_presence)
    """``out[sample] |=`` the bits of the points some known position reaches within target."""
    n_units, n_samples = node.shape
    for u in range(n_units):
        for t in range(n_samples):
            if not known[u, t]:
                continue
            at = node[u, t]
            b = bits[at]
            if b == 0:
                continue
            off = offset[u, t]
            if off > 0.0:  # on the move: each candidate point again, with the offset
                keep = 0
                for j in range(sub.shape[0]):
                    if (b >> j) & 1 and sub[j, at] + off <= tgt[j]:
                        keep |= 1 << j
                b = keep
            out[t] |= b
