"""A bound, a good solution and an exact reduction for maximal covering, before HiGHS sees it.

The covering problem (after :func:`~sim.optimize.models.reduce_cover`): rows ``j`` of weight
``w_j``, sites ``i``, ``a_ij = 1`` when site ``i`` covers row ``j``::

    max  sum_j w_j z_j   s.t.  z_j <= sum_i a_ij x_i,   sum_i x_i <= p,   x binary, z in [0, 1]

Relaxing the cover rows with multipliers ``lam_j`` in ``[0, w_j]`` gives, for every ``lam``, the
upper bound (Lagrangian relaxation)::

    L(lam) = sum_j (w_j - lam_j) + (sum of the p largest c_i),   c_i = sum_j a_ij lam_j

which :func:`lagrangian_bound` lowers by projected subgradient steps (Polyak step towards the
incumbent's value). A greedy solution improved by best-swap local search is the incumbent.

*Variable fixing* (:func:`fix_sites`) then removes sites exactly: with the incumbent's value
``LB``, opening a site ``i`` outside the ``p`` largest ``c`` can score at most
``L - c_(p) + c_i``; when that is below ``LB`` no solution opening ``i`` beats the incumbent,
so ``i`` goes. Likewise a site inside the ``p`` largest with ``L - c_i + c_(p+1) < LB`` is open
in every better solution, so it is forced open. The optimum of the reduced problem is the
optimum of the full one (the incumbent stays feasible in it). All values here are in the
units of ``weight``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csc_matrix, csr_matrix, hstack, vstack

__all__ = ["BoundResult", "Reduction", "best_neighbour", "cover_value", "fix_sites", "greedy_sites",
           "lagrangian_bound",
           "lp_multipliers", "reduce_by_bound", "swap_search"]


def _rows_of(cover: csc_matrix, i: int) -> np.ndarray:
    return cover.indices[cover.indptr[i]:cover.indptr[i + 1]]


def _counts(cover: csc_matrix, sites: np.ndarray) -> np.ndarray:
    """Per row, how many of ``sites`` cover it."""
    rows = [_rows_of(cover, int(i)) for i in sites]
    return np.bincount(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
                       minlength=cover.shape[0])


def cover_value(cover: csc_matrix, weight: np.ndarray, sites: np.ndarray) -> float:
    """Weight of the rows that ``sites`` cover."""
    return float(weight[_counts(cover, sites) > 0].sum())


def greedy_sites(cover: csc_matrix, weight: np.ndarray, p: int) -> np.ndarray:
    """``p`` sites, each in turn the one adding the most uncovered weight (ties: lower index)."""
    at = csr_matrix(cover.T)
    open_w = weight.astype(float).copy()
    chosen: list[int] = []
    for _ in range(min(p, cover.shape[1])):
        gain = at @ open_w
        gain[chosen] = -1.0
        i = int(np.argmax(gain))
        chosen.append(i)
        open_w[_rows_of(cover, i)] = 0.0
    return np.array(sorted(chosen), dtype=np.int64)


def swap_search(cover: csc_matrix, weight: np.ndarray, sites: np.ndarray,
                max_passes: int = 20) -> tuple[np.ndarray, float]:
    """Best-swap local search: for each open site in turn, the best replacement (exact, from
    the weight covered by the others); repeat until no swap improves. Returns the sites and
    their covered weight."""
    at = csr_matrix(cover.T)
    s = [int(i) for i in sites]
    cnt = _counts(cover, np.array(s, dtype=np.int64))
    value = float(weight[cnt > 0].sum())
    for _ in range(max_passes):
        improved = False
        for k in range(len(s)):
            rem = cnt.copy()
            rem[_rows_of(cover, s[k])] -= 1
            gain = at @ (weight * (rem == 0))
            gain[s] = -1.0
            i = int(np.argmax(gain))
            new = float(weight[rem > 0].sum() + gain[i])
            if new > value * (1 + 1e-12) + 1e-15:
                rem[_rows_of(cover, i)] += 1
                s[k], cnt, value, improved = i, rem, new, True
        if not improved:
            break
    return np.array(sorted(s), dtype=np.int64), value


def best_neighbour(cover: csc_matrix, weight: np.ndarray, found: list[np.ndarray],
                   fixed: np.ndarray) -> np.ndarray | None:
    """The best set of sites one swap away from one of ``found`` and none of them (fixed sites
    stay): a starting solution for the next-best search. ``None`` when there is none."""
    at = csr_matrix(cover.T)
    banned = {tuple(sorted(int(i) for i in f)) for f in found}
    best, best_v = None, -np.inf
    for f in found:
        s = [int(i) for i in f]
        cnt = _counts(cover, np.asarray(s, dtype=np.int64))
        for k in range(len(s)):
            if s[k] in set(fixed.tolist()):
                continue
            rem = cnt.copy()
            rem[_rows_of(cover, s[k])] -= 1
            gain = at @ (weight * (rem == 0))
            base = float(weight[rem > 0].sum())
            for i in np.lexsort((np.arange(len(gain)), -gain)).tolist():
                if i in s:
                    continue
                cand = tuple(sorted([*s[:k], i, *s[k + 1:]]))
                if cand not in banned:
                    if base + gain[i] > best_v:
                        best, best_v = np.array(cand, dtype=np.int64), base + float(gain[i])
                    break
    return best


def _top(c: np.ndarray, p: int) -> np.ndarray:
    """Indices of the ``p`` largest values (ties: lower index), deterministic."""
    return np.lexsort((np.arange(len(c)), -c))[:p]


@dataclass
class BoundResult:
    """What :func:`lagrangian_bound` found: the best (lowest) bound ``L(lam)`` and its
    multipliers, the site values ``c`` at them, and the best solution seen with its value.
    ``bound`` is ``L`` itself, never capped (the fixing test needs ``L`` at these ``lam``)."""

    bound: float
    lam: np.ndarray
    c: np.ndarray
    sites: np.ndarray
    value: float
    iterations: int


def lagrangian_bound(cover: csc_matrix, weight: np.ndarray, p: int, sites: np.ndarray, value: float,
                     *, lam: np.ndarray | None = None, iterations: int = 3000,
                     rel_tol: float = 1e-6) -> BoundResult:
    """Lower the Lagrangian bound by subgradient steps from ``lam`` (default half the weights).

    ``sites``/``value``: the incumbent. Each step's ``p`` best sites are a solution too; a better
    one becomes the incumbent. The step size halves after 30 steps without a new best bound;
    stops when it is tiny, when the bound meets the incumbent within ``rel_tol``, or after
    ``iterations`` steps.
    """
    at = csr_matrix(cover.T)
    w = weight.astype(float)
    lam = (0.5 * w if lam is None else np.clip(lam, 0.0, w)).copy()
    best, best_lam, theta, stall = np.inf, lam.copy(), 2.0, 0
    inc_sites, inc = np.asarray(sites, dtype=np.int64), float(value)
    it = 0
    for it in range(1, iterations + 1):
        c = at @ lam
        top = _top(c, p)
        bound = float((w - lam).sum() + c[top].sum())
        if bound < best - 1e-12 * max(1.0, abs(bound)):
            best, best_lam, stall = bound, lam.copy(), 0
        else:
            stall += 1
            if stall >= 30:
                theta, stall = theta / 2, 0
        cnt = _counts(cover, top)
        if it % 10 == 0:
            v = float(w[cnt > 0].sum())
            if v > inc:
                inc_sites, inc = np.sort(top).astype(np.int64), v
        if best - inc <= rel_tol * max(abs(inc), 1e-12) or theta < 1e-4:
            break
        g = cnt - (lam < w)
        gg = float(g @ g)
        if gg == 0:
            break
        lam = np.clip(lam - theta * (bound - inc) / gg * g, 0.0, w)
    return BoundResult(bound=best, lam=best_lam, c=at @ best_lam,
                       sites=inc_sites, value=inc, iterations=it)


def lp_multipliers(cover: csc_matrix, weight: np.ndarray, p: int, sites: np.ndarray, value: float
                   ) -> BoundResult:
    """The optimal multipliers from the linear relaxation (HiGHS interior point): its cover-row
    duals, clipped to ``[0, w]``. ``L`` at them is the LP bound, the best any ``lam`` gives;
    it is recomputed from the clipped multipliers, so it is a valid bound whatever the LP's
    tolerances."""
    nz, ns = cover.shape
    w = weight.astype(float)
    eye = csr_matrix((np.ones(nz), (np.arange(nz), np.arange(nz))), shape=(nz, nz))
    a = vstack([hstack([-csr_matrix(cover), eye]),
                hstack([csr_matrix(np.ones((1, ns))), csr_matrix((1, nz))])], format="csr")
    res = linprog(np.concatenate([np.zeros(ns), -w]), A_ub=a, b_ub=np.concatenate([np.zeros(nz), [p]]),
                  bounds=(0, 1), method="highs-ipm")
    lam = np.clip(-np.asarray(res.ineqlin.marginals[:nz]), 0.0, w) if res.status == 0 else 0.5 * w
    c = csr_matrix(cover.T) @ lam
    bound = float((w - lam).sum() + c[_top(c, p)].sum())
    return BoundResult(bound=bound, lam=lam, c=c, sites=np.asarray(sites),
                       value=float(value), iterations=0)


def fix_sites(res: BoundResult, p: int, incumbent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks ``(drop, force)`` over the sites, by the bound test of the module docstring.

    A margin of ``1e-9`` of the incumbent's value keeps rounding from fixing a site wrongly;
    the incumbent's own sites are never dropped."""
    c = res.c
    n = len(c)
    order = _top(c, n)
    in_top = np.zeros(n, dtype=bool)
    in_top[order[:p]] = True
    cp = c[order[p - 1]] if p >= 1 else np.inf
    cp1 = c[order[p]] if p < n else 0.0
    margin = 1e-9 * max(abs(res.value), 1e-12)
    drop = ~in_top & (res.bound - cp + c < res.value - margin)
    drop[incumbent] = False
    force = in_top & (res.bound - c + cp1 < res.value - margin)
    return drop, force


@dataclass
class Reduction:
    """The result of :func:`reduce_by_bound`, over the sites of the cover matrix.

    ``keep``: sites still in the problem; ``force``: sites open in every better solution (the
    given fixed ones included); ``sites``/``value``: the incumbent and its covered weight;
    ``bound``: an upper bound on the optimum; ``rounds``: per round (sites left, bound,
    incumbent's value)."""

    keep: np.ndarray
    force: np.ndarray
    sites: np.ndarray
    value: float
    bound: float
    rounds: list[tuple[int, float, float]]

    @property
    def proven(self) -> bool:
        """The incumbent is optimal (bound met within a relative 1e-9)."""
        return self.bound - self.value <= 1e-9 * max(abs(self.value), 1e-12)


def reduce_by_bound(cover: csr_matrix, weight: np.ndarray, fixed: np.ndarray, total: int,
                    *, rounds: int = 6, iterations: int = 1000, lp_below: int = 1500,
                    incumbent: np.ndarray | None = None) -> Reduction:
    """Greedy + swap incumbent, Lagrangian bound and variable fixing, repeated ``rounds`` times
    (each round on what the last one left, multipliers warm-started). Once at most
    ``lp_below`` sites are left, the rounds take the multipliers from the linear relaxation
    instead (:func:`lp_multipliers`; the best bound, and quick on a reduced problem), until
    a round removes less than a tenth of the free sites.

    ``incumbent``: a solution (site positions) to start from and keep, with no search for a
    better one (for next-best solutions: it must not be one of the sets cut off, and fixing
    then keeps every solution better than it).

    ``cover``: ``[rows, sites]``; ``fixed``: site positions that must be open; ``total``: sites
    open in a solution, fixed ones included. Rows covered by open-for-sure sites count as a
    constant, so each round works on the free sites and the rows they alone decide.
    """
    cover = csc_matrix(cover)
    w = np.asarray(weight, dtype=float)
    ns = cover.shape[1]
    keep = np.ones(ns, dtype=bool)
    force = np.zeros(ns, dtype=bool)
    force[np.asarray(fixed, dtype=np.int64)] = True
    lam_all = 0.5 * w
    frozen = incumbent is not None
    inc = None if incumbent is None else np.sort(np.asarray(incumbent, dtype=np.int64))
    value, bound = -np.inf, np.inf
    history: list[tuple[int, float, float]] = []
    for _ in range(rounds):
        open_rows = _counts(cover, np.flatnonzero(force)) > 0
        base = float(w[open_rows].sum())
        free = np.flatnonzero(keep & ~force)
        pf = total - int(force.sum())
        if pf <= 0 or len(free) == 0:
            inc = np.flatnonzero(force)
            value = bound = cover_value(cover, w, inc)
            break
        rest = ~open_rows
        sub = csc_matrix(csr_matrix(cover)[rest][:, free])
        wf = w[rest]
        pos = np.full(ns, -1, dtype=np.int64)
        pos[free] = np.arange(len(free))
        if inc is None:
            s, v = swap_search(sub, wf, greedy_sites(sub, wf, pf))
        else:
            s = pos[inc[~force[inc]]]
            v = cover_value(sub, wf, s)
        if len(free) <= lp_below:
            res = lp_multipliers(sub, wf, pf, s, v)
        else:
            res = lagrangian_bound(sub, wf, pf, s, v, lam=lam_all[rest], iterations=iterations)
        if frozen:
            res.sites, res.value = s, v
        elif res.value > v:
            s, v = swap_search(sub, wf, res.sites)
            res.sites, res.value = s, v
        inc = np.sort(np.concatenate([np.flatnonzero(force), free[s]])).astype(np.int64)
        value = base + v
        bound = min(bound, max(value, base + min(res.bound, float(wf.sum()))))
        lam_all[rest] = res.lam
        drop, frc = fix_sites(res, pf, s)
        keep[free[drop]] = False
        force[free[frc]] = True
        history.append((int(keep.sum()), bound, value))
        if bound - value <= 1e-9 * max(abs(value), 1e-12):
            break
        if len(free) <= lp_below and int(drop.sum() + frc.sum()) < 0.1 * len(free):
            break  # the LP bound no longer moves; further rounds remove little
    assert inc is not None
    return Reduction(keep=keep, force=force & keep, sites=inc, value=value, bound=max(bound, value),
                     rounds=history)
