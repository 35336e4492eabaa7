"""Kim-Nelson ranking and selection on synthetic normal "layouts" with known means.

The systems are normal with known means; replication ``r`` shares a common shock (common random
numbers). Over many macro-replications the share of runs that pick the truly best system must be
at least the nominal probability of correct selection, in the least favourable configuration
(every other mean exactly ``delta`` below the best).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.optimize.selection import kim_nelson, kn_constants


def _sampler(means, sds, rho, seed):
    rng = np.random.default_rng(seed)
    cache: dict[int, np.ndarray] = {}

    def sample(r, systems):
        if r not in cache:  # one draw per replication for every system: CRN
            z0 = rng.standard_normal()
            z = rng.standard_normal(len(means))
            cache[r] = np.asarray(means) + np.asarray(sds) * (np.sqrt(rho) * z0 + np.sqrt(1 - rho) * z)
        return [float(cache[r][i]) for i in systems]

    return sample


def _pcs(macro: int, k: int, delta: float, rho: float, seed: int) -> tuple[float, float, float]:
    best = 2
    means = np.zeros(k)
    means[best] = delta
    sds = np.linspace(1.0, 2.0, k)  # unequal variances
    hits, spent, equal = 0, 0, 0
    for m in range(macro):
        sel = kim_nelson(_sampler(means, sds, rho, seed * 100_000 + m), k, delta=delta, pcs=0.95, n0=10)
        hits += sel.best == best
        spent += sel.total_reps
        equal += sel.equal_total
    return hits / macro, spent / macro, equal / macro


def test_kn_constants_hand_worked():
    # k = 2, n0 = 10, pcs 0.95: eta = ((2 * 0.05) ** (-2 / 9) - 1) / 2, h2 = 2 * 9 * eta
    eta, h2 = kn_constants(2, 10, 0.95)
    assert eta == pytest.approx((0.1 ** (-2 / 9) - 1) / 2)
    assert h2 == pytest.approx(18 * eta)


def test_pcs_at_least_nominal_fast():
    pcs, spent, equal = _pcs(macro=300, k=4, delta=0.5, rho=0.3, seed=1)
    assert pcs >= 0.95
    assert spent < equal  # elimination saves replications against the equal allocation


@pytest.mark.slow
def test_pcs_at_least_nominal_many_macro_replications():
    for k, rho in ((3, 0.0), (6, 0.5)):
        pcs, _, _ = _pcs(macro=2000, k=k, delta=0.5, rho=rho, seed=7 + k)
        assert pcs >= 0.95, (k, rho, pcs)


def test_picks_the_clear_winner_and_reports_paired_differences():
    means = [0.0, 0.0, 3.0]
    sel = kim_nelson(_sampler(means, [1, 1, 1], 0.5, 3), 3, delta=0.5, n0=10)
    assert sel.best == 2
    assert sel.eliminated[2] is None and all(sel.eliminated[i] is not None for i in (0, 1))
    for d in sel.differences():
        assert d["ci_low"] < 3.0 < d["ci_high"] or d["ci_low"] > 0  # around the true difference 3
        assert d["difference"] > 0


def test_identical_systems_stop_by_themselves():
    # equal means, perfectly correlated: S2 = 0, so W = 0 at once; the procedure must still stop
    sel = kim_nelson(_sampler([1.0, 1.0, 1.0], [1, 1, 1], 1.0, 4), 3, delta=0.1, n0=5)
    assert sel.total_reps == 15 and sel.best in (0, 1, 2)
