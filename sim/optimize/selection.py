"""Fully sequential ranking and selection: the Kim-Nelson procedure (KN, 2001), with CRN.

Among ``k`` systems (layouts) whose outputs are normal with unknown, unequal variances, KN picks
the one with the largest mean; when the best mean is at least ``delta`` (the indifference zone)
above every other, it is right with probability at least ``pcs``. Common random numbers are
allowed (replication ``r`` of every system shares its random numbers), and help: the variances
that matter are those of the *paired differences*.

The procedure:

1. Run ``n0`` replications of every system. For each pair ``(i, l)`` take ``S2[i, l]``, the sample
   variance of ``X_i - X_l``. Let ``eta = ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1) / 2`` with
   ``alpha = 1 - pcs``, and ``h2 = 2 eta (n0 - 1)``.
2. At stage ``r`` (replications so far), system ``i`` is eliminated when some surviving ``l`` has
   ``mean_i(r) < mean_l(r) - W_il(r)``, where
   ``W_il(r) = max(0, delta / (2 r) * (h2 S2[i, l] / delta ** 2 - r))``.
3. Stop when one system survives; otherwise run one more replication of each survivor. Past
   ``r = max floor(h2 S2 / delta^2) + 1`` the ``W`` are all 0, and the largest mean is chosen.

The fixed equal allocation with the same guarantee runs every system to that last stage:
``k * max(n0, ceil(h2 max S2 / delta^2))`` replications. :class:`Selection` reports both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.metrics import mean_ci

__all__ = ["Selection", "kim_nelson", "kn_constants"]

Sampler = Callable[[int, Sequence[int]], Sequence[float]]
"""``sample(r, systems)``: the outputs of ``systems`` in replication ``r`` (same random numbers)."""


def kn_constants(k: int, n0: int, pcs: float) -> tuple[float, float]:
    """``(eta, h2)`` of the KN procedure for ``k`` systems, ``n0`` first-stage replications and a
    probability of correct selection ``pcs``."""
    if k < 2 or n0 < 2 or not 0 < pcs < 1:
        raise ValueError("need k >= 2 systems, n0 >= 2 and 0 < pcs < 1")
    alpha = 1.0 - pcs
    eta = 0.5 * ((2.0 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    return eta, 2.0 * eta * (n0 - 1)


@dataclass
class Selection:
    """The result of a selection.

    Attributes
    ----------
    best : index of the chosen system.
    reps : replications run of each system.
    means : each system's mean over its own replications.
    eliminated : per system, the stage (replications) at which it was eliminated (``None``: the
        chosen one), and by which system.
    equal_allocation : replications per system of the fixed equal allocation with the same
        guarantee (see the module docstring).
    delta, pcs, n0 : the settings.
    outputs : every output, ``outputs[i]`` a list over replications ``0 ..``.
    """

    best: int
    reps: np.ndarray
    means: np.ndarray
    eliminated: list[tuple[int, int] | None]
    equal_allocation: int
    delta: float
    pcs: float
    n0: int
    outputs: list[list[float]] = field(repr=False)

    @property
    def total_reps(self) -> int:
        return int(self.reps.sum())

    @property
    def equal_total(self) -> int:
        return self.equal_allocation * len(self.reps)

    def differences(self, level: float = 0.95) -> list[dict[str, Any]]:
        """The chosen system minus each other, paired over their common replications, with CIs."""
        out = []
        for i in range(len(self.reps)):
            if i == self.best:
                continue
            n = int(min(self.reps[i], self.reps[self.best]))
            d = np.asarray(self.outputs[self.best][:n]) - np.asarray(self.outputs[i][:n])
            m, lo, hi = mean_ci(d, level)
            out.append({"system": i, "difference": m, "ci_low": lo, "ci_high": hi, "replications": n})
        return out


def kim_nelson(sample: Sampler, k: int, *, delta: float, pcs: float = 0.95, n0: int = 10,
               max_reps: int | None = None,
               progress: Callable[[int, list[int]], None] | None = None) -> Selection:
    """Select the system with the largest mean by the KN procedure (see the module docstring).

    Parameters
    ----------
    sample : ``sample(r, systems)`` returns the outputs of ``systems`` in replication ``r``;
        replication ``r`` should use the same random numbers for every system (CRN).
    k : number of systems.
    delta : indifference zone (same unit as the outputs), > 0.
    pcs : probability of correct selection to guarantee.
    n0 : first-stage replications.
    max_reps : a hard cap on the replications of any system; reaching it ends the procedure
        with the largest mean (the guarantee then no longer holds, and ``reps`` shows it).
    progress : called with ``(r, survivors)`` after each stage.
    """
    if delta <= 0:
        raise ValueError("delta must be positive")
    outputs: list[list[float]] = [[] for _ in range(k)]
    eliminated: list[tuple[int, int] | None] = [None] * k
    if k == 1:
        for r in range(n0):
            outputs[0].append(float(sample(r, [0])[0]))
        x = np.asarray(outputs[0])
        return Selection(0, np.array([n0]), np.array([x.mean()]), eliminated, n0, delta, pcs, n0,
                         outputs)
    _, h2 = kn_constants(k, n0, pcs)
    for r in range(n0):
        for i, v in zip(range(k), sample(r, list(range(k))), strict=True):
            outputs[i].append(float(v))
    x0 = np.array(outputs)  # [k, n0]
    diff = x0[:, None, :] - x0[None, :, :]
    s2 = diff.var(axis=2, ddof=1)  # S2[i, l]
    last = math.floor(h2 * s2.max() / delta**2) + 1
    equal = max(n0, math.ceil(h2 * s2.max() / delta**2))
    alive = list(range(k))
    r = n0
    while True:
        sums = {i: sum(outputs[i][:r]) for i in alive}
        means = {i: sums[i] / r for i in alive}
        keep = []
        for i in alive:
            out_by = None
            for m in alive:
                if m == i:
                    continue
                w = max(0.0, delta / (2 * r) * (h2 * s2[i, m] / delta**2 - r))
                if means[i] < means[m] - w:
                    out_by = m
                    break
            if out_by is None:
                keep.append(i)
            else:
                eliminated[i] = (r, out_by)
        alive = keep
        if progress:
            progress(r, list(alive))
        if len(alive) == 1 or r >= last or (max_reps is not None and r >= max_reps):
            break
        for i, v in zip(alive, sample(r, alive), strict=True):
            outputs[i].append(float(v))
        r += 1
    best = max(alive, key=lambda i: (np.mean(outputs[i][:r]), -i))
    for i in alive:
        if i != best:
            eliminated[i] = (r, best)
    reps = np.array([len(o) for o in outputs])
    means_all = np.array([float(np.mean(o)) for o in outputs])
    return Selection(best, reps, means_all, eliminated, equal, delta, pcs, n0, outputs)
