"""The location models against brute-force enumeration on small random instances.

Every expected value is computed here by trying every set of sites with plain numpy (and, for
the capacitated model, scipy's LP solver for the assignment of a fixed set of sites), never by
the model under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from sim.optimize.matrix import CostMatrix
from sim.optimize.models import LSCP, MCLP, CapacitatedMCLP, FairMCLP, PCenter, PMedian, SolveError


def _instance(seed: int, ns: int = 7, nd: int = 9, holes: float = 0.0):
    rng = np.random.default_rng(seed)
    sx, sy = rng.random(ns) * 10, rng.random(ns) * 10
    dx, dy = rng.random(nd) * 10, rng.random(nd) * 10
    cost = np.round(np.hypot(sx[:, None] - dx[None, :], sy[:, None] - dy[None, :]), 3)
    if holes:
        cost[rng.random(cost.shape) < holes] = np.inf
    w = rng.integers(1, 10, nd).astype(float)
    targets = rng.choice([2.0, 4.0, 6.0], nd)
    return cost, w, targets


def _subsets(ns: int, k: int, fixed=()):
    rest = [i for i in range(ns) if i not in fixed]
    for extra in itertools.combinations(rest, k):
        yield tuple(sorted((*fixed, *extra)))


def _best_cost(cost, sites):
    return cost[list(sites)].min(axis=0)


SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
def test_mclp_matches_brute_force(seed):
    cost, w, t = _instance(seed)
    for p in (1, 2, 3):
        best = max(w[_best_cost(cost, s) <= t].sum() for s in _subsets(7, p)) / w.sum()
        sol = MCLP.from_cost_matrix(cost, w, targets=t, p=p).solve()
        assert sol.status == "optimal"
        assert sol.objective == pytest.approx(best, abs=1e-9)
        assert len(sol.sites) == p
        # the reported sites really achieve it
        assert w[_best_cost(cost, sol.sites) <= t].sum() / w.sum() == pytest.approx(best)
        assert sol.covered_share(w) == pytest.approx(best)


@pytest.mark.parametrize("seed", SEEDS)
def test_expansion_keeps_fixed_sites(seed):
    cost, w, t = _instance(seed)
    fixed = (1, 4)
    best = max(w[_best_cost(cost, s) <= t].sum() for s in _subsets(7, 2, fixed)) / w.sum()
    sol = MCLP.from_cost_matrix(cost, w, targets=t, p=2, fixed=fixed).solve()
    assert set(fixed) <= set(sol.sites.tolist()) and len(sol.sites) == 4
    assert sol.objective == pytest.approx(best)
    med = PMedian.from_cost_matrix(cost, w, p=1, fixed=fixed).solve()
    expect = min((w * _best_cost(cost, s)).sum() for s in _subsets(7, 1, fixed)) / w.sum()
    assert med.objective == pytest.approx(expect)


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_matches_brute_force(seed):
    cost, w, t = _instance(seed)
    t = t + 2.0  # looser targets so that full cover is possible more often
    feasible = [k for k in range(1, 8) if any((_best_cost(cost, s) <= t).all() for s in _subsets(7, k))]
    if not feasible:
        with pytest.raises(SolveError):
            LSCP.from_cost_matrix(cost, w, targets=t).solve()
        return
    sol = LSCP.from_cost_matrix(cost, w, targets=t).solve()
    assert sol.objective == feasible[0]
    assert (_best_cost(cost, sol.sites) <= t).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_shares_per_group(seed):
    cost, w, t = _instance(seed)
    groups = np.arange(9) % 2
    shares = [0.6, 0.4]

    def ok(s):
        cov = _best_cost(cost, s) <= t
        return all(w[(groups == g) & cov].sum() >= sh * w[groups == g].sum() - 1e-9
                   for g, sh in enumerate(shares))

    feasible = [k for k in range(1, 8) if any(ok(s) for s in _subsets(7, k))]
    if not feasible:
        with pytest.raises(SolveError):
            LSCP.from_cost_matrix(cost, w, targets=t, groups=groups, shares=shares).solve()
        return
    sol = LSCP.from_cost_matrix(cost, w, targets=t, groups=groups, shares=shares).solve()
    assert sol.objective == feasible[0] and ok(sol.sites)


@pytest.mark.parametrize("seed", SEEDS)
def test_pmedian_matches_brute_force(seed):
    cost, w, _ = _instance(seed)
    for p in (1, 2, 3):
        best = min((w * _best_cost(cost, s)).sum() for s in _subsets(7, p)) / w.sum()
        sol = PMedian.from_cost_matrix(cost, w, p=p).solve()
        assert sol.objective == pytest.approx(best, rel=1e-9)


def test_pmedian_with_missing_pairs():
    cost, w, _ = _instance(3, holes=0.3)
    best = min(((w * _best_cost(cost, s)).sum() for s in _subsets(7, 3)
                if np.isfinite(_best_cost(cost, s)).all()), default=None)
    if best is None:
        pytest.skip("no feasible set in this instance")
    assert PMedian.from_cost_matrix(cost, w, p=3).solve().objective == pytest.approx(best / w.sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_pcenter_matches_brute_force(seed):
    cost, w, _ = _instance(seed)
    for p in (1, 2, 3):
        best = min(_best_cost(cost, s).max() for s in _subsets(7, p))
        sol = PCenter.from_cost_matrix(cost, w, p=p).solve()
        assert sol.objective == pytest.approx(best)
        assert len(sol.sites) == p
        fixed = (0,)
        best_f = min(_best_cost(cost, s).max() for s in _subsets(7, p, fixed))
        sol_f = PCenter.from_cost_matrix(cost, w, p=p, fixed=fixed).solve()
        assert sol_f.objective == pytest.approx(best_f) and 0 in sol_f.sites


@pytest.mark.parametrize("seed", SEEDS)
def test_fair_matches_brute_force(seed):
    cost, w, t = _instance(seed)
    groups = np.arange(9) % 3

    def shares(s):
        cov = _best_cost(cost, s) <= t
        return min(w[(groups == g) & cov].sum() / w[groups == g].sum() for g in range(3)), \
            w[cov].sum() / w.sum()

    best = max(shares(s) for s in _subsets(7, 3))  # lexicographic: worst group, then overall
    sol = FairMCLP.from_cost_matrix(cost, w, p=3, targets=t, groups=groups).solve()
    assert sol.objective == pytest.approx(best[0])
    assert shares(sol.sites)[1] == pytest.approx(best[1])


def _served_lp(cost, w, t, load, cap, sites):
    """Best served weight for a fixed set of sites: a transportation LP (scipy linprog)."""
    pairs = [(i, j) for i in sites for j in range(cost.shape[1]) if cost[i, j] <= t[j]]
    if not pairs:
        return 0.0
    c = -np.array([w[j] for _, j in pairs])
    a_ub, b_ub = [], []
    for j in range(cost.shape[1]):
        a_ub.append([1.0 if pj == j else 0.0 for _, pj in pairs])
        b_ub.append(1.0)
    for i in sites:
        a_ub.append([load[pj] if pi == i else 0.0 for pi, pj in pairs])
        b_ub.append(cap)
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", SEEDS)
def test_capacitated_matches_brute_force(seed):
    cost, w, t = _instance(seed)
    load = w * 0.5
    cap = 4.0
    best = max(_served_lp(cost, w, t, load, cap, s) for s in _subsets(7, 2)) / w.sum()
    sol = CapacitatedMCLP.from_cost_matrix(cost, w, p=2, targets=t, load=load, capacity=cap).solve()
    assert sol.objective == pytest.approx(best, abs=1e-7)
    # a capacity that binds gives less than the plain covering optimum
    plain = MCLP.from_cost_matrix(cost, w, targets=t, p=2).solve().objective
    assert sol.objective <= plain + 1e-9


def test_capacity_binds_on_a_hand_worked_case():
    # one site reaches both demand points (loads 3 and 3) but serves only 4: 4/6 of the weight
    cost = np.array([[1.0, 1.0]])
    sol = CapacitatedMCLP.from_cost_matrix(cost, np.array([3.0, 3.0]), p=1, targets=2.0,
                                           load=np.array([3.0, 3.0]), capacity=4.0).solve()
    assert sol.objective == pytest.approx(4 / 6)


def test_zero_cost_pairs_count():
    # a site on the demand point itself (cost 0) covers it; sparse storage must keep that pair
    m = CostMatrix.from_dense(np.array([[0.0, np.inf], [np.inf, 0.0]]))
    assert len(m.cost) == 2
    sol = MCLP(m, np.array([1.0, 2.0]), targets=0.0, p=1).solve()
    assert sol.sites.tolist() == [1] and sol.objective == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_next_best_solution_by_a_no_good_cut(seed):
    cost, w, t = _instance(seed)
    values = sorted((w[_best_cost(cost, s) <= t].sum() / w.sum() for s in _subsets(7, 2)), reverse=True)
    first = MCLP.from_cost_matrix(cost, w, targets=t, p=2).solve()
    model = MCLP.from_cost_matrix(cost, w, targets=t, p=2)
    model.exclude = [first.sites]
    second = model.solve()
    assert set(second.sites.tolist()) != set(first.sites.tolist())
    # the best set other than the first: the second value in the sorted list of all pairs
    assert second.objective == pytest.approx(values[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_mobile_platforms_match_brute_force(seed):
    from sim.optimize.models import MobileMCLP

    cost, w, t = _instance(seed)
    allowed = [[0, 1, 2], [2, 3], [4, 5, 6]]
    best = max(w[_best_cost(cost, combo) <= t].sum()
               for combo in itertools.product(*allowed) if len(set(combo)) == 3) / w.sum()
    sol, where = MobileMCLP.from_cost_matrix(cost, w, targets=t, allowed=allowed).solve()
    assert sol.objective == pytest.approx(best)
    assert all(where[k] in allowed[k] for k in range(3)) and len(set(where.tolist())) == 3


def _day_moves_brute(posts, home, gaps):
    """Moves by walking the day: each period's post, then home when a gap follows, cyclic."""
    day = []
    for t, p in enumerate(posts):
        day.append(p)
        if gaps[t]:
            day.append(home)
    return sum(1 for a, b in zip(day, day[1:] + day[:1], strict=True) if a != b) if len(day) > 1 else 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_moves", [0, 1, 2, 4])
@pytest.mark.parametrize("gaps", [(True, True), (False, False), (True, False, False)])
def test_daily_moves_limit_matches_brute_force(seed, max_moves, gaps):
    from sim.optimize.models import DailyMobileMCLP, day_moves

    rng = np.random.default_rng(100 + seed)
    nt, ns, nd, nk = len(gaps), 5, 8, 2
    costs = [_instance(seed * 10 + t, ns=ns, nd=nd)[0] for t in range(nt)]
    w = [rng.integers(1, 9, nd).astype(float) for _ in range(nt)]
    t = [rng.choice([2.0, 4.0], nd) for _ in range(nt)]
    home = [0, 3]
    allowed = [[np.array(sorted(set(rng.choice(ns, 3, replace=False).tolist()) | {home[k]}))
                for k in range(nk)] for _ in range(nt)]
    share = rng.integers(1, 4, nt).astype(float)
    best = -1.0
    for combo in itertools.product(*[itertools.product(*allowed[p]) for p in range(nt)]):
        if any(len(set(c)) < nk for c in combo):
            continue  # two platforms at one site
        posts = [[combo[p][k] for p in range(nt)] for k in range(nk)]
        if any(_day_moves_brute(posts[k], home[k], gaps) > max_moves for k in range(nk)):
            continue
        val = sum(share[p] * w[p][_best_cost(costs[p], combo[p]) <= t[p]].sum() / w[p].sum()
                  for p in range(nt)) / share.sum()
        best = max(best, val)
    model = DailyMobileMCLP([CostMatrix.from_dense(c) for c in costs], w, t, allowed, home, share,
                            list(gaps), max_moves)
    sols, where = model.solve()
    assert model.objective == pytest.approx(best, abs=1e-9)
    for k in range(nk):
        assert day_moves(where[:, k], home[k], gaps) <= max_moves
        assert _day_moves_brute(list(where[:, k]), home[k], gaps) <= max_moves
    got = sum(share[p] * sols[p].objective for p in range(nt)) / share.sum()
    assert got == pytest.approx(best, abs=1e-9)
