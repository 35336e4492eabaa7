"""The exact reductions of maximal covering (dominated sites, merged demand, Lagrangian/LP
variable fixing) against brute-force enumeration: the reduced model's optimum must be the
optimum of every set of sites, computed here by trying each one with plain numpy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.sparse import csc_matrix

from sim.optimize.lagrange import (
    fix_sites,
    greedy_sites,
    lagrangian_bound,
    lp_multipliers,
    reduce_by_bound,
    swap_search,
)
from sim.optimize.models import MCLP


def _instance(seed: int, ns: int = 14, nd: int = 60):
    """Sites and demand points in a 10 x 10 square; a site covers what is within the point's
    target (2, 3 or 4); many demand points share coverage sets, many sites are dominated."""
    rng = np.random.default_rng(seed)
    sx, sy = rng.random(ns) * 10, rng.random(ns) * 10
    dx, dy = rng.integers(0, 6, nd) * 2.0, rng.integers(0, 6, nd) * 2.0  # a coarse grid: duplicates
    cost = np.hypot(sx[:, None] - dx[None, :], sy[:, None] - dy[None, :])
    w = rng.integers(1, 20, nd).astype(float)
    t = rng.choice([2.0, 3.0, 4.0], nd)
    return cost, w, t


def _brute(cover: np.ndarray, w: np.ndarray, p: int, fixed=()) -> float:
    rest = [i for i in range(cover.shape[0]) if i not in fixed]
    return max(w[cover[list((*fixed, *extra))].any(axis=0)].sum()
               for extra in itertools.combinations(rest, p - len(fixed)))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [2, 3, 4])
def test_reduced_mclp_matches_brute_force(seed, p):
    cost, w, t = _instance(seed)
    cover = cost <= t[None, :]
    best = _brute(cover, w, p) / w.sum()
    sol = MCLP.from_cost_matrix(cost, w, targets=t, p=p).solve()
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best, abs=1e-9)
    assert w[cover[sol.sites].any(axis=0)].sum() / w.sum() == pytest.approx(best)
    assert sol.bound >= best - 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_reduced_expansion_matches_brute_force(seed):
    cost, w, t = _instance(seed)
    cover = cost <= t[None, :]
    fixed = (0, 5)
    best = _brute(cover, w, 4, fixed) / w.sum()
    sol = MCLP.from_cost_matrix(cost, w, targets=t, p=2, fixed=fixed).solve()
    assert {0, 5} <= set(sol.sites.tolist()) and len(sol.sites) == 4
    assert sol.objective == pytest.approx(best, abs=1e-9)


def _unique_cover(seed: int):
    """A cover matrix [rows, sites] (0/1) with weights, no reduction applied."""
    cost, w, t = _instance(seed, ns=16, nd=40)
    return (cost <= t[None, :]).T.astype(float), w


@pytest.mark.parametrize("seed", range(10))
def test_bounds_and_incumbent_bracket_the_optimum(seed):
    a, w = _unique_cover(seed)
    p = 3
    best = _brute(a.T > 0, w, p)
    cov = csc_matrix(a)
    s, v = swap_search(cov, w, greedy_sites(cov, w, p))
    assert len(s) == p and v == pytest.approx(w[(a[:, s] > 0).any(axis=1)].sum())
    assert v <= best + 1e-9
    for lam in (None, np.zeros(len(w)), w.copy()):  # any multipliers in [0, w] give a bound
        res = lagrangian_bound(cov, w, p, s, v, lam=lam, iterations=50)
        assert res.bound >= best - 1e-9
    lp = lp_multipliers(cov, w, p, s, v)
    assert lp.bound >= best - 1e-9
    drop, force = fix_sites(lp, p, s)
    # an optimal set survives the fixing: the best set avoiding dropped sites, holding forced ones
    kept = [i for i in range(a.shape[1]) if not drop[i]]
    forced = [i for i in range(a.shape[1]) if force[i]]
    assert max(w[(a[:, list(c)] > 0).any(axis=1)].sum() for c in itertools.combinations(kept, p)
               if set(forced) <= set(c)) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(10))
def test_reduce_by_bound_keeps_an_optimum(seed):
    a, w = _unique_cover(seed)
    p = 3
    best = _brute(a.T > 0, w, p)
    rb = reduce_by_bound(csc_matrix(a), w, np.zeros(0, dtype=np.int64), p, lp_below=8)
    assert rb.value <= best + 1e-9 <= rb.bound + 2e-9
    kept = np.flatnonzero(rb.keep)
    forced = set(np.flatnonzero(rb.force).tolist())
    assert max(w[(a[:, list(c)] > 0).any(axis=1)].sum() for c in itertools.combinations(kept, p)
               if forced <= set(c)) == pytest.approx(best)


def test_fixing_removes_sites_on_some_instance():
    """The test above is not vacuous: on these instances the fixing does remove sites."""
    removed = 0
    for seed in range(10):
        a, w = _unique_cover(seed)
        rb = reduce_by_bound(csc_matrix(a), w, np.zeros(0, dtype=np.int64), 3, lp_below=8)
        removed += int((~rb.keep).sum() + rb.force.sum())
    assert removed > 0


@pytest.mark.parametrize("seed", range(8))
def test_next_best_solutions_with_fixing_match_brute_force(seed):
    """The 2nd and 3rd best distinct sets (no-good cuts on the reduced model) against the sorted
    values of every set of 3 sites."""
    cost, w, t = _instance(seed)
    cover = cost <= t[None, :]
    values = sorted((w[cover[list(c)].any(axis=0)].sum() / w.sum()
                     for c in itertools.combinations(range(cost.shape[0]), 3)), reverse=True)
    found = [MCLP.from_cost_matrix(cost, w, targets=t, p=3).solve()]
    for _ in range(2):
        model = MCLP.from_cost_matrix(cost, w, targets=t, p=3)
        model.exclude = [f.sites for f in found]
        found.append(model.solve())
    assert len({tuple(f.sites.tolist()) for f in found}) == 3
    for k, f in enumerate(found):
        assert f.objective == pytest.approx(values[k], abs=1e-9)
        assert w[cover[f.sites].any(axis=0)].sum() / w.sum() == pytest.approx(values[k])
