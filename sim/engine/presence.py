"""Presence (见警率) from the units' logged trajectories, computed after the run.

Every ``patrol.presence_sample`` from the end of the warm-up, each point (key location, grid post)
counts as covered by police when an on-air police unit could reach it within the point's zone
target from where it is; volunteers are counted apart. Units on the way to a job are left out
(their route is not tracked); units on scene are at the scene. Vectorised over all sample times,
from the same lazy positions the dispatcher uses (:mod:`sim.engine.positions`); the reach from a
position to a point is timed in the congestion period of the sample.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from numba import njit

from sim.engine.positions import Trajectories
from sim.network.oracle import TravelTimeOracle
from sim.types import Presence
from sim.world.prepare import MINUTES_PER_DAY, presence_points

__all__ = ["sample_presence"]

_INF = float("inf")
_BATCH = 1 << 20
"""Positions (unit x sample) computed at once: about 17 MB of arrays."""
_CHUNK = 62
"""Points per bit field (one int64, its sign bit clear): see :func:`_point_bits`."""


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
    volunteers = np.array([r == "volunteer" for r in fleet.role], dtype=bool)
    oracles_p = traj.oracles_p
    # [point, hour]: samples with some police unit (volunteer team) within the point's target
    police = np.zeros((len(pts), 24), dtype=np.int64)
    vols = np.zeros((len(pts), 24), dtype=np.int64)
    if times.size and len(pts):
        minute = (times // 60.0).astype(np.int64) % MINUTES_PER_DAY
        n_nodes = world.net.n_nodes
        period_of_minute = world.period_of_minute
        periods = np.unique(period_of_minute[minute])
        # column offset of each sample's period in the stacked reverse rows
        shift = (np.searchsorted(periods, period_of_minute[minute]) * n_nodes).astype(np.int64)
        on_table = np.ascontiguousarray(~fleet.off_air)
        has_shifts = bool(fleet.off_air.any())
        # per sample and chunk of points (police, volunteers): the bits of the points some unit
        # covers, gathered over the units of every kind, then counted by hour
        found: dict[bool, list[np.ndarray]] = {
            who: [np.zeros(times.size, dtype=np.int64) for _ in range(0, len(pts), _CHUNK)]
            for who in (False, True)}
        # units that drive alike in every period share reverse rows
        signature = [tuple(id(po[u]) for po in oracles_p) for u in range(len(fleet))]
        for sig in dict.fromkeys(signature):
            units = [u for u in range(len(fleet)) if signature[u] == sig]
            # [point, period * node]: the time from every node to each point, in each period,
            # and its bits; the same for every run, and for every layout with the same points
            # and a unit that drives alike (kept by the world)
            key = ("bits", sig, tuple(periods.tolist()), nodes_p.tobytes(), targets.tobytes())
            chunks = world.kept(key, None, partial(_unit_bits, [po[units[0]] for po in oracles_p],
                                                    nodes_p, periods, targets))
            # a batch of units at a time (police and volunteers apart): [unit, sample] arrays
            # of at most about _BATCH positions
            per_batch = max(1, _BATCH // max(1, times.size))
            by_who = {who: [u for u in units if bool(volunteers[u]) == who] for who in (False, True)}
            for who, mine in by_who.items():
                for lo in range(0, len(mine), per_batch):
                    batch = mine[lo:lo + per_batch]
                    node, offset, known = traj.trajectories(batch, times)
                    batch_a = np.array(batch, dtype=np.int64)
                    for (_, bits, sub, tgt), out in zip(chunks, found[who], strict=True):
                        _cover_bits(bits, sub, tgt, node, offset, known, shift, has_shifts,
                                    on_table, minute, batch_a, out)
        for who, counts in ((False, police), (True, vols)):
            for c, out in enumerate(found[who]):
                _count_by_hour(out, hours, _CHUNK * c, counts)
    samples = np.bincount(hours, minlength=24)
    return Presence(names=names, kinds=kinds, nodes=nodes_p, targets_s=targets, samples=samples,
                    police=police, volunteers=vols)


def _unit_bits(oracles: list[TravelTimeOracle], nodes_p: np.ndarray, periods: np.ndarray,
               targets: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_point_bits` of the time from every node to each point (``[point, period *
    node]``) by a unit's ``oracles`` (one per congestion period) in each of ``periods``."""
    rev = np.concatenate([np.stack([oracles[p].to_node(int(n))[0] for n in nodes_p])
                          for p in periods], axis=1)
    return _point_bits(rev, targets)


def _point_bits(rev: np.ndarray, targets: np.ndarray
                ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """The points in chunks of :data:`_CHUNK` (one int64 bit field), each ``(first point, bits, rev rows,
    targets)``: ``bits[node]`` has bit ``j`` set when the chunk's point ``j`` is reached from
    ``node`` within its target (``rev[point, node] <= target``).

    The bit is a necessary condition for a unit at a node (offsets are never negative) and
    exact where the offset is 0: one lookup per unit and sample instead of one per point, unit
    and sample. Positions with a positive offset are checked again, with their offset, only for
    the points whose bit is set (a node near a point is within target of one or two of them,
    seldom more); the loop over samples is compiled (:func:`_cover_bits`).
    """
    chunks = []
    for lo in range(0, rev.shape[0], _CHUNK):
        hi = min(rev.shape[0], lo + _CHUNK)
        sub, tgt = np.ascontiguousarray(rev[lo:hi]), np.ascontiguousarray(targets[lo:hi])
        bits = np.zeros(rev.shape[1], dtype=np.int64)
        for j in range(hi - lo):  # (a point at a time: no [points, nodes] temporaries)
            bits |= (sub[j] <= tgt[j]).astype(np.int64) << j
        chunks.append((lo, bits, sub, tgt))
    return chunks


_DE_BRUIJN = 0x03F79D71B4CB0A89
"""A de Bruijn sequence of order 6: ``(b * _DE_BRUIJN) >> 58`` differs for each single bit ``b``
of a 64-bit word, so a table of 64 gives the bit's index in one multiply (:data:`_BIT_INDEX`)."""
_BIT_INDEX = np.zeros(64, dtype=np.int64)
for _j in range(64):
    _BIT_INDEX[(((1 << _j) * _DE_BRUIJN) % (1 << 64)) >> 58] = _j


@njit(cache=True, nogil=True, inline="always")
def _bit_index(low: int) -> int:  # pragma: no cover (compiled)
    """The index of ``low``, a single set bit of an int64."""
    return _BIT_INDEX[((low * _DE_BRUIJN) >> 58) & 63]  # (wraps; the mask drops the sign)


@njit(cache=True, nogil=True)
def _cover_bits(bits: np.ndarray, sub: np.ndarray, tgt: np.ndarray, node: np.ndarray,
                offset: np.ndarray, known: np.ndarray, shift: np.ndarray, has_shifts: bool,
                on_table: np.ndarray, minute: np.ndarray, units: np.ndarray, out: np.ndarray
                ) -> None:  # pragma: no cover (compiled; tested through sample_presence)
    """``out[sample] |=`` the bits of the points some known position of ``units`` (rows of
    ``node``, ``offset``, ``known``) reaches within target, in the sample's congestion period
    (``shift[sample]``: where its columns start in ``bits`` and ``sub``), the units off the air
    (``on_table[minute[sample], unit]`` false, with ``has_shifts``) left out.

    A position on the move is checked again only for the points whose bits are set, taken
    lowest bit first (``x & -x``, its index by :data:`_BIT_INDEX`): one or two points, where a
    scan of the chunk's 62 costs about three times the whole pass."""
    n_units, n_samples = node.shape
    for u in range(n_units):
        unit = units[u]
        for t in range(n_samples):
            if not known[u, t] or (has_shifts and not on_table[minute[t], unit]):
                continue
            at = node[u, t] + shift[t]
            b = bits[at]
            if b == 0:
                continue
            off = offset[u, t]
            if off > 0.0:  # on the move: each candidate point again, with the offset
                keep = 0
                x = b
                while x != 0:
                    low = x & -x
                    j = _bit_index(low)
                    if sub[j, at] + off <= tgt[j]:
                        keep |= low
                    x ^= low
                b = keep
            out[t] |= b


@njit(cache=True, nogil=True)
def _count_by_hour(out: np.ndarray, hours: np.ndarray, first: int,
                   counts: np.ndarray) -> None:  # pragma: no cover (compiled; tested through
    #                                                sample_presence)
    """``counts[first + j, hours[sample]] += 1`` for each bit ``j`` set in ``out[sample]``."""
    for t in range(out.shape[0]):
        x = out[t]
        h = hours[t]
        while x != 0:
            low = x & -x
            counts[first + _bit_index(low), h] += 1
            x ^= low
