"""Tests for sim.theory.queueing: Erlang B/C, M/M/c, Cobham priority waits, hypercube model.

Reference values are computed independently in this file (hand-worked
textbook values, explicit birth-death chains and explicitly built CTMC
generators solved with numpy), never by calling the code under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.theory.queueing import (
    MAX_HYPERCUBE_UNITS,
    HypercubeResult,
    MMcResult,
    erlang_b,
    erlang_c,
    hypercube,
    mmc_metrics,
    mmc_priority_waits,
)

# --------------------------------------------------------------------------- #
# Independent reference computations
# --------------------------------------------------------------------------- #


def solve_ctmc(q: np.ndarray) -> np.ndarray:
    """Stationary distribution of a dense generator: solve pi Q = 0, sum pi = 1."""
    n = q.shape[0]
    a = np.vstack([q.T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    return pi


def mmc_birth_death(lam: float, mu: float, c: int, capacity: int) -> np.ndarray:
    """Stationary distribution of the M/M/c/capacity birth-death chain (dense)."""
    n = capacity + 1
    q = np.zeros((n, n))
    for k in range(n):
        if k < capacity:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, c) * mu
        q[k, k] = -q[k].sum()
    return solve_ctmc(q)


def mmc_reference(lam: float, mu: float, c: int) -> dict:
    """B, C, Wq, Lq from explicit birth-death chains (queue truncated far out)."""
    loss = mmc_birth_death(lam, mu, c, c)
    rho = lam / (c * mu)
    capacity = c + math.ceil(math.log(1e-16) / math.log(rho)) + 10
    pi = mmc_birth_death(lam, mu, c, capacity)
    k = np.arange(pi.size)
    lq = float(np.sum(np.maximum(k - c, 0) * pi))
    return {
        "B": float(loss[c]),
        "C": float(pi[c:].sum()),
        "Lq": lq,
        "Wq": lq / lam,
        "pi": pi,
    }


def popcount(s: int) -> int:
    return bin(s).count("1")


def hypercube_generator(lam, mu, pref, queue: str, tail_levels: int = 0) -> np.ndarray:
    """Explicit dense generator of the hypercube model, built with plain loops.

    States 0..2**N-1 are the binary states; for queue == "infinite",
    states 2**N + k - 1 (k = 1..tail_levels) are "all busy with k waiting"
    (the last level has no arrivals: truncation).
    """
    n_units = len(mu)
    full = (1 << n_units) - 1
    n_bin = full + 1
    n = n_bin + (tail_levels if queue == "infinite" else 0)
    q = np.zeros((n, n))
    total_lam = sum(lam)
    total_mu = sum(mu)
    for s in range(n_bin):
        if s != full:
            for j, rate in enumerate(lam):
                unit = next(u for u in pref[j] if not (s >> u) & 1)
                q[s, s | (1 << unit)] += rate
        elif queue == "infinite" and tail_levels > 0:
            q[s, n_bin] += total_lam
        for u in range(n_units):
            if (s >> u) & 1:
                q[s, s & ~(1 << u)] += mu[u]
    if queue == "infinite":
        for k in range(1, tail_levels + 1):
            idx = n_bin + k - 1
            q[idx, idx - 1 if k > 1 else full] += total_mu
            if k < tail_levels:
                q[idx, idx + 1] += total_lam
    np.fill_diagonal(q, 0.0)
    np.fill_diagonal(q, -q.sum(axis=1))
    return q


# --------------------------------------------------------------------------- #
# Erlang B / C
# --------------------------------------------------------------------------- #


def test_erlang_b_textbook_values():
    assert erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-14)
    # B(3, 2) = (2^3/3!) / (1 + 2 + 2 + 8/6) = 4/19
    assert erlang_b(3, 2.0) == pytest.approx(4.0 / 19.0, rel=1e-14)
    for a in (0.1, 1.0, 7.5):
        assert erlang_b(1, a) == pytest.approx(a / (1.0 + a), rel=1e-14)
        assert erlang_b(0, a) == 1.0
    assert erlang_b(5, 0.0) == 0.0


def test_erlang_c_textbook_values():
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0, rel=1e-14)
    for rho in (0.0, 0.05, 0.5, 0.93):
        assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-14, abs=1e-300)
    # c = 2, a = 1.5: C = (a^2/2 * 1/(1-a/2)) / (1 + a + a^2/2 * 1/(1-a/2)) = 4.5/7
    assert erlang_c(2, 1.5) == pytest.approx(4.5 / 7.0, rel=1e-14)


@pytest.mark.parametrize(
    ("c", "lam", "mu"),
    [(1, 0.3, 1.0), (2, 1.0, 1.0), (3, 2.4, 1.0), (5, 0.02, 0.005), (8, 6.9, 1.0), (12, 3.0, 0.4)],
)
def test_erlang_against_birth_death(c, lam, mu):
    ref = mmc_reference(lam, mu, c)
    assert erlang_b(c, lam / mu) == pytest.approx(ref["B"], rel=1e-9)
    assert erlang_c(c, lam / mu) == pytest.approx(ref["C"], rel=1e-9)


@pytest.mark.parametrize("a", [1.0, 100.0, 450.0, 480.0, 500.0, 620.0, 5000.0, 1e6])
def test_erlang_b_stable_for_large_c(a):
    c = 500
    b = erlang_b(c, a)
    assert math.isfinite(b) and 0.0 <= b <= 1.0
    # Independent: B(c, a) = P(X = c) / P(X <= c) with X ~ Poisson(a), in log space.
    log_pmf = scipy.stats.poisson.logpmf(np.arange(c + 1), a)
    log_ref = log_pmf[-1] - scipy.special.logsumexp(log_pmf)
    if log_ref < -700:
        assert b < 1e-300
    else:
        assert b == pytest.approx(math.exp(log_ref), rel=1e-9)


def test_erlang_c_large_c_finite():
    c, a = 500, 480.0
    cval = erlang_c(c, a)
    b = erlang_b(c, a)
    assert 0.0 < b < cval < 1.0
    # Independent: the definition, C = T / (S + T) with S = sum_{k<c} a^k/k! and
    # T = a^c/c! x c/(c - a), in log space through Poisson log-probabilities (e^-a cancels)
    log_pmf = scipy.stats.poisson.logpmf(np.arange(c + 1), a)
    log_s = scipy.special.logsumexp(log_pmf[:-1])
    log_t = log_pmf[-1] + math.log(c / (c - a))
    assert cval == pytest.approx(math.exp(log_t - np.logaddexp(log_s, log_t)), rel=1e-9)


def test_erlang_validation():
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(2, 2.0)
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(3, 3.5)
    with pytest.raises(ValueError):
        erlang_b(2, -0.1)
    with pytest.raises(ValueError):
        erlang_b(-1, 1.0)
    with pytest.raises(ValueError):
        erlang_b(2.5, 1.0)
    with pytest.raises(ValueError):
        erlang_b(True, 1.0)
    with pytest.raises(ValueError):
        erlang_b(2, float("nan"))
    with pytest.raises(ValueError):
        erlang_c(0, 0.5)
    assert erlang_b(np.int64(2), np.float64(1.0)) == pytest.approx(0.2)


# --------------------------------------------------------------------------- #
# M/M/c metrics
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.5, 1.0, 1), (1.0, 0.6, 2), (1 / 60, 1 / 1800, 40)])
def test_mmc_metrics_against_birth_death(lam, mu, c):
    res = mmc_metrics(lam, mu, c)
    ref = mmc_reference(lam, mu, c)
    assert isinstance(res, MMcResult)
    assert res.utilisation == pytest.approx(lam / (c * mu))
    assert res.offered_load == pytest.approx(lam / mu)
    assert res.prob_wait == pytest.approx(ref["C"], rel=1e-9)
    assert res.mean_wait == pytest.approx(ref["Wq"], rel=1e-8)
    assert res.mean_queue_length == pytest.approx(ref["Lq"], rel=1e-8)
    assert res.mean_response == pytest.approx(ref["Wq"] + 1 / mu, rel=1e-8)
    k = np.arange(ref["pi"].size)
    assert res.mean_in_system == pytest.approx(float(np.sum(k * ref["pi"])), rel=1e-8)
    # Little's law
    assert res.mean_in_system == pytest.approx(lam * res.mean_response, rel=1e-12)


def test_mmc_mm1_closed_form():
    lam, mu = 0.75, 1.0
    res = mmc_metrics(lam, mu, 1)
    rho = lam / mu
    assert res.prob_wait == pytest.approx(rho)
    assert res.mean_wait == pytest.approx(rho / (mu - lam))
    assert res.mean_response == pytest.approx(1 / (mu - lam))
    assert res.mean_queue_length == pytest.approx(rho**2 / (1 - rho))


def test_mmc_wait_cdf_against_mixture():
    lam, mu, c = 2.2, 1.0, 3
    res = mmc_metrics(lam, mu, c)
    pi = mmc_reference(lam, mu, c)["pi"]
    ts = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 10.0])
    # An arrival finding n >= c in system waits Erlang(n - c + 1, c mu).
    n = np.arange(c, pi.size)
    sf = np.array(
        [np.sum(pi[c:] * scipy.stats.gamma.sf(t, a=n - c + 1, scale=1 / (c * mu))) for t in ts]
    )
    np.testing.assert_allclose(res.wait_cdf(ts), 1.0 - sf, rtol=1e-9, atol=1e-12)
    assert res.wait_cdf(0.0) == pytest.approx(1 - res.prob_wait)
    assert res.wait_cdf(-1.0) == 0.0
    assert isinstance(res.wait_cdf(1.0), float)
    for q in (0.0, 0.2, 0.5, 0.9, 0.999):
        t = res.wait_quantile(q)
        assert t >= 0.0
        if t > 0:
            assert res.wait_cdf(t) == pytest.approx(q, rel=1e-12)
    assert res.wait_quantile(1.0) == math.inf


def test_mmc_zero_arrivals_and_validation():
    res = mmc_metrics(0.0, 1.0, 2)
    assert res.prob_wait == 0.0 and res.mean_wait == 0.0
    assert res.mean_response == pytest.approx(1.0)
    assert res.wait_cdf(0.0) == 1.0
    with pytest.raises(ValueError, match="unstable"):
        mmc_metrics(2.0, 1.0, 2)
    with pytest.raises(ValueError):
        mmc_metrics(-1.0, 1.0, 2)
    with pytest.raises(ValueError):
        mmc_metrics(1.0, 0.0, 2)
    with pytest.raises(ValueError):
        mmc_metrics(1.0, 1.0, 0)


# --------------------------------------------------------------------------- #
# Cobham: non-preemptive priority M/M/c
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.4, 1.0, 1), (1.7, 1.0, 2), (5.0, 0.8, 9)])
def test_cobham_one_class_is_mmc(lam, mu, c):
    (w,) = mmc_priority_waits([lam], mu, c)
    assert w == pytest.approx(mmc_metrics(lam, mu, c).mean_wait, rel=1e-12)


@pytest.mark.parametrize(
    ("rates", "mu", "c"),
    [([0.2, 0.3], 1.0, 1), ([0.5, 0.5, 0.7], 1.0, 2), ([0.01, 0.0, 0.04, 0.02], 0.02, 4)],
)
def test_cobham_conservation_law(rates, mu, c):
    waits = mmc_priority_waits(rates, mu, c)
    lam = sum(rates)
    weighted = sum(r * w for r, w in zip(rates, waits, strict=False)) / lam
    assert weighted == pytest.approx(mmc_metrics(lam, mu, c).mean_wait, rel=1e-12)


def test_cobham_higher_priority_waits_less():
    waits = mmc_priority_waits([0.3, 0.5, 0.4, 0.6], 0.5, 4)
    assert all(a < b for a, b in itertools.pairwise(waits))


def test_cobham_mm1_hand_values():
    # M/M/1, mu = 1: W0 = rho / mu = 0.5
    # W1 = 0.5 / (1 * 0.8) = 0.625, W2 = 0.5 / (0.8 * 0.5) = 1.25
    w1, w2 = mmc_priority_waits([0.2, 0.3], 1.0, 1)
    assert w1 == pytest.approx(0.625)
    assert w2 == pytest.approx(1.25)


def test_cobham_validation():
    with pytest.raises(ValueError, match="unstable"):
        mmc_priority_waits([0.6, 0.5], 1.0, 1)
    with pytest.raises(ValueError):
        mmc_priority_waits([], 1.0, 1)
    with pytest.raises(ValueError):
        mmc_priority_waits([0.1, -0.1], 1.0, 1)
    with pytest.raises(ValueError):
        mmc_priority_waits([0.1], -1.0, 1)


# --------------------------------------------------------------------------- #
# Hypercube
# --------------------------------------------------------------------------- #


def test_hypercube_single_unit_is_mm1():
    lam_atoms = [0.1, 0.25, 0.15]
    lam, mu = sum(lam_atoms), 0.8
    rho = lam / mu
    res = hypercube(lam_atoms, [mu], [[0], [0], [0]], queue="infinite")
    assert isinstance(res, HypercubeResult)
    np.testing.assert_allclose(res.state_probabilities, [1 - rho, rho * (1 - rho)], rtol=1e-12)
    assert res.tail_probability == pytest.approx(rho**2)
    assert res.all_busy_probability == pytest.approx(rho)
    assert res.queue_probability == pytest.approx(rho)
    assert res.workloads[0] == pytest.approx(rho)
    assert res.mean_queue_wait == pytest.approx(rho / (mu - lam))
    assert res.mean_queue_length == pytest.approx(rho**2 / (1 - rho))
    np.testing.assert_allclose(res.dispatch_matrix[0], np.array(lam_atoms) / lam, rtol=1e-12)

    loss = hypercube(lam_atoms, [mu], [[0], [0], [0]], queue="loss")
    assert loss.workloads[0] == pytest.approx(rho / (1 + rho))
    assert loss.loss_probability == pytest.approx(rho / (1 + rho))
    assert loss.queue_probability == 0.0 and loss.tail_probability == 0.0
    assert loss.mean_queue_wait == 0.0
    assert loss.served_rate == pytest.approx(lam / (1 + rho))
    np.testing.assert_allclose(loss.dispatch_matrix.sum(), 1.0)


@pytest.mark.parametrize("n_units", [1, 2, 3, 5])
@pytest.mark.parametrize("same_preference", [True, False])
def test_hypercube_equal_rates_reduces_to_mmc(n_units, same_preference):
    rng = np.random.default_rng(n_units)
    mu = 0.5
    n_atoms = 4
    lam_atoms = rng.uniform(0.1, 1.0, n_atoms)
    lam_atoms *= 0.7 * n_units * mu / lam_atoms.sum()  # utilisation 0.7
    lam = lam_atoms.sum()
    a = lam / mu
    if same_preference:
        order = list(rng.permutation(n_units))
        pref = [order] * n_atoms
    else:
        pref = [list(rng.permutation(n_units)) for _ in range(n_atoms)]
    mus = [mu] * n_units

    ref = mmc_reference(lam, mu, n_units)
    inf = hypercube(lam_atoms, mus, pref, queue="infinite")
    assert inf.all_busy_probability == pytest.approx(ref["C"], rel=1e-9)
    assert inf.all_busy_probability == pytest.approx(erlang_c(n_units, a), rel=1e-9)
    assert inf.workloads.sum() == pytest.approx(a, rel=1e-9)
    assert inf.mean_queue_wait == pytest.approx(mmc_metrics(lam, mu, n_units).mean_wait, rel=1e-9)
    np.testing.assert_allclose(
        inf.busy_count_probabilities[:-1], ref["pi"][:n_units], rtol=1e-9
    )

    loss = hypercube(lam_atoms, mus, pref, queue="loss")
    b = erlang_b(n_units, a)
    assert loss.all_busy_probability == pytest.approx(b, rel=1e-9)
    assert loss.loss_probability == pytest.approx(b, rel=1e-9)
    assert loss.workloads.sum() == pytest.approx(a * (1 - b), rel=1e-9)
    np.testing.assert_allclose(
        loss.busy_count_probabilities, mmc_birth_death(lam, mu, n_units, n_units), rtol=1e-9
    )
    if same_preference:
        # With one shared order, unit workloads decrease along that order.
        w = inf.workloads[order]
        assert all(x > y for x, y in itertools.pairwise(w))


def test_hypercube_twelve_units_matches_mmc():
    n_units, mu = 12, 1 / 1800
    rng = np.random.default_rng(12)
    n_atoms = 20
    lam_atoms = rng.uniform(0.5, 1.5, n_atoms)
    lam_atoms *= 0.8 * n_units * mu / lam_atoms.sum()
    pref = [list(rng.permutation(n_units)) for _ in range(n_atoms)]
    res = hypercube(lam_atoms, [mu] * n_units, pref, queue="infinite")
    lam = lam_atoms.sum()
    assert res.state_probabilities.shape == (2**n_units,)
    assert res.all_busy_probability == pytest.approx(erlang_c(n_units, lam / mu), rel=1e-8)
    assert res.mean_busy_units == pytest.approx(lam / mu, rel=1e-8)


@pytest.mark.parametrize("queue", ["infinite", "loss"])
def test_hypercube_workload_and_dispatch_identities(queue):
    lam_atoms = [0.05, 0.3, 0.12, 0.2, 0.08]
    mus = [0.4, 0.25, 0.5]
    pref = [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]]
    res = hypercube(lam_atoms, mus, pref, queue=queue)
    p = res.state_probabilities
    assert np.all(p >= 0)
    assert p.sum() + res.tail_probability == pytest.approx(1.0, abs=1e-13)
    # workloads sum to the mean number of busy units
    mean_busy = sum(popcount(s) * p[s] for s in range(p.size)) + 3 * res.tail_probability
    assert res.workloads.sum() == pytest.approx(mean_busy, rel=1e-12)
    assert res.mean_busy_units == pytest.approx(mean_busy, rel=1e-12)
    for n in range(3):
        direct = sum(p[s] for s in range(p.size) if (s >> n) & 1) + res.tail_probability
        assert res.workloads[n] == pytest.approx(direct, rel=1e-12)
    # dispatch matrix sums to 1 (over served calls), and each unit's dispatch
    # rate equals its completion rate mu_n * rho_n (flow conservation)
    assert res.dispatch_matrix.shape == (3, 5)
    assert res.dispatch_matrix.sum() == pytest.approx(1.0, abs=1e-13)
    assert np.all(res.dispatch_matrix >= 0)
    np.testing.assert_allclose(
        res.dispatch_rates.sum(axis=1), np.array(mus) * res.workloads, rtol=1e-10
    )
    # calls served from atom j: lambda_j (infinite) or lambda_j (1 - B) (loss)
    lost = res.loss_probability
    np.testing.assert_allclose(
        res.dispatch_rates.sum(axis=0), np.array(lam_atoms) * (1 - lost), rtol=1e-10
    )
    assert res.served_rate == pytest.approx(sum(lam_atoms) * (1 - lost), rel=1e-12)
    assert res.busy_count_probabilities.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("queue", ["infinite", "loss"])
def test_hypercube_two_units_two_atoms_by_hand(queue):
    l0, l1 = 0.3, 0.5  # atom 0 prefers unit 0, atom 1 prefers unit 1
    m0, m1 = 0.9, 0.6
    lam, big_m = l0 + l1, m0 + m1
    # States: p00 (both free), p01 (only unit 0 busy, mask 1),
    #         p10 (only unit 1 busy, mask 2), p11 (both busy, nobody waiting).
    # Balance equations (the tail adds lam*p11 out and M*p_1 = lam*p11 in to p11):
    #   (l0 + l1) p00          = m0 p01 + m1 p10
    #   (l0 + l1 + m0) p01     = l0 p00 + m1 p11
    #   (l0 + l1 + m1) p10     = l1 p00 + m0 p11
    #   (m0 + m1) p11          = (l0 + l1) p01 + (l0 + l1) p10
    a = np.array(
        [
            [-(l0 + l1), m0, m1, 0.0],
            [l0, -(l0 + l1 + m0), 0.0, m1],
            [l1, 0.0, -(l0 + l1 + m1), m0],
            [0.0, lam, lam, -(m0 + m1)],
        ]
    )
    r = lam / big_m if queue == "infinite" else 0.0
    # replace the last equation by the normalisation p00+p01+p10+p11/(1-r) = 1
    a[3] = [1.0, 1.0, 1.0, 1.0 / (1.0 - r)]
    p00, p01, p10, p11 = np.linalg.solve(a, [0.0, 0.0, 0.0, 1.0])
    tail = p11 * r / (1 - r)
    all_busy = p11 + tail

    res = hypercube([l0, l1], [m0, m1], [[0, 1], [1, 0]], queue=queue, home_unit_of_atom=[0, 1])
    np.testing.assert_allclose(res.state_probabilities, [p00, p01, p10, p11], rtol=1e-12)
    assert res.probability_of([0]) == pytest.approx(p01)
    assert res.probability_of([0, 1]) == pytest.approx(p11)
    assert res.tail_probability == pytest.approx(tail, rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(res.workloads, [p01 + p11 + tail, p10 + p11 + tail], rtol=1e-12)

    # Dispatch rates: unit 0 takes atom 0 when it is free (p00, p10) and
    # atom 1 when only unit 1 is busy (p10); symmetrically for unit 1.
    rates = np.array(
        [
            [l0 * (p00 + p10), l1 * p10],
            [l0 * p01, l1 * (p00 + p01)],
        ]
    )
    if queue == "infinite":
        rates += np.outer([m0 / big_m, m1 / big_m], [l0 * all_busy, l1 * all_busy])
        served = lam
        assert res.mean_queue_wait == pytest.approx(all_busy / (big_m - lam), rel=1e-12)
    else:
        served = lam * (1 - p11)
        assert res.loss_probability == pytest.approx(p11, rel=1e-12)
    assert rates.sum() == pytest.approx(served, rel=1e-12)
    np.testing.assert_allclose(res.dispatch_matrix, rates / served, rtol=1e-12)
    inter = (rates[0, 1] + rates[1, 0]) / served
    assert res.interdistrict_fraction == pytest.approx(inter, rel=1e-12)
    np.testing.assert_allclose(
        res.interdistrict_fraction_by_unit,
        [rates[0, 1] / rates[0].sum(), rates[1, 0] / rates[1].sum()],
        rtol=1e-12,
    )
    # the same via district labels
    res2 = hypercube(
        [l0, l1],
        [m0, m1],
        [[0, 1], [1, 0]],
        queue=queue,
        district_of_atom=["north", "south"],
        district_of_unit=["north", "south"],
    )
    assert res2.interdistrict_fraction == pytest.approx(inter, rel=1e-12)
    assert res.interdistrict_fraction is not None
    assert hypercube([l0, l1], [m0, m1], [[0, 1], [1, 0]]).interdistrict_fraction is None


def test_hypercube_infinite_matches_explicit_truncated_chain():
    lam_atoms = [0.2, 0.35, 0.1]
    mus = [0.3, 0.5, 0.4]
    pref = [[2, 0, 1], [1, 2, 0], [0, 1, 2]]
    res = hypercube(lam_atoms, mus, pref, queue="infinite")
    q = hypercube_generator(lam_atoms, mus, pref, "infinite", tail_levels=400)
    pi = solve_ctmc(q)
    np.testing.assert_allclose(res.state_probabilities, pi[:8], rtol=1e-9, atol=1e-15)
    assert res.tail_probability == pytest.approx(pi[8:].sum(), rel=1e-9)
    lq = float(np.sum(np.arange(1, 401) * pi[8:]))
    assert res.mean_queue_length == pytest.approx(lq, rel=1e-8)
    assert res.mean_queue_wait == pytest.approx(lq / sum(lam_atoms), rel=1e-8)


@st.composite
def hypercube_instances(draw):
    n_units = draw(st.integers(1, 4))
    n_atoms = draw(st.integers(1, 4))
    queue = draw(st.sampled_from(["infinite", "loss"]))
    mus = draw(st.lists(st.floats(0.05, 5.0), min_size=n_units, max_size=n_units))
    weights = draw(st.lists(st.floats(0.0, 1.0), min_size=n_atoms, max_size=n_atoms))
    weights[draw(st.integers(0, n_atoms - 1))] += 0.1  # positive total
    load = draw(st.floats(0.02, 0.9) if queue == "infinite" else st.floats(0.02, 5.0))
    total = load * sum(mus)
    lam = [w / sum(weights) * total for w in weights]
    pref = [draw(st.permutations(range(n_units))) for _ in range(n_atoms)]
    return lam, mus, pref, queue


@settings(max_examples=60, deadline=None)
@given(hypercube_instances())
def test_hypercube_random_instances_global_balance(instance):
    lam, mus, pref, queue = instance
    n_units = len(mus)
    res = hypercube(lam, mus, pref, queue=queue)
    p = res.state_probabilities
    assert p.shape == (2**n_units,)
    assert np.all(p >= 0.0)
    assert res.tail_probability >= 0.0
    assert p.sum() + res.tail_probability == pytest.approx(1.0, abs=1e-12)
    assert np.all((res.workloads >= 0) & (res.workloads <= 1 + 1e-12))
    assert res.dispatch_matrix.sum() == pytest.approx(1.0, abs=1e-12)

    # Global balance of the true chain, built independently. For the infinite
    # queue we append the first tail levels P(k) = p_full r^k and check the
    # balance equations of every binary state and of tail levels 1..K-1.
    levels = 30 if queue == "infinite" else 0
    q = hypercube_generator(lam, mus, pref, queue, tail_levels=levels)
    full = 2**n_units - 1
    pi = np.array(p, dtype=float)
    if queue == "infinite":
        r = sum(lam) / sum(mus)
        pi = np.concatenate([pi, p[full] * r ** np.arange(1, levels + 1)])
    flow = pi @ q
    scale = max(max(lam), max(mus))
    n_check = 2**n_units + max(levels - 1, 0)  # last level is truncated
    np.testing.assert_allclose(flow[:n_check], 0.0, atol=1e-12 * scale)


def test_hypercube_too_many_units_raises():
    assert MAX_HYPERCUBE_UNITS == 12
    n_units = 13
    with pytest.raises(ValueError, match="too big") as info:
        hypercube([0.1], [1.0] * n_units, [list(range(n_units))])
    assert "simulator" in str(info.value)


@pytest.mark.parametrize(
    ("lam", "mus", "pref", "queue", "match"),
    [
        ([-0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 0]], "loss", ">= 0"),
        ([0.0, 0.0], [1.0, 1.0], [[0, 1], [1, 0]], "loss", "positive total"),
        ([0.1, 0.2], [1.0, 0.0], [[0, 1], [1, 0]], "loss", "> 0"),
        ([0.1, 0.2], [1.0, float("inf")], [[0, 1], [1, 0]], "loss", "finite"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 1]], "loss", "permutation"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1], [1]], "loss", "permutation"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 2]], "loss", "permutation"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 0.5]], "loss", "non-integer"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1]], "loss", "one full ordered list"),
        ([0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 0]], "fifo", "queue must be"),
        ([1.5, 0.6], [1.0, 1.0], [[0, 1], [1, 0]], "infinite", "unstable"),
        ([], [1.0], [], "loss", "non-empty"),
    ],
)
def test_hypercube_validation(lam, mus, pref, queue, match):
    with pytest.raises(ValueError, match=match):
        hypercube(lam, mus, pref, queue=queue)


def test_hypercube_district_validation_and_readonly():
    lam, mus, pref = [0.1, 0.2], [1.0, 1.0], [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="not both"):
        hypercube(lam, mus, pref, home_unit_of_atom=[0, 1], district_of_atom=["a", "b"],
                  district_of_unit=["a", "b"])
    with pytest.raises(ValueError, match="together"):
        hypercube(lam, mus, pref, district_of_atom=["a", "b"])
    with pytest.raises(ValueError):
        hypercube(lam, mus, pref, home_unit_of_atom=[0, 2])
    with pytest.raises(ValueError):
        hypercube(lam, mus, pref, home_unit_of_atom=[0])
    with pytest.raises(ValueError):
        hypercube(lam, mus, pref, district_of_atom=["a"], district_of_unit=["a", "b"])
    # the loss model accepts overload (lambda > sum mu)
    res = hypercube([5.0, 5.0], mus, pref, queue="loss")
    assert 0.5 < res.loss_probability < 1.0
    with pytest.raises(ValueError):
        res.state_probabilities[0] = 0.5
    with pytest.raises(ValueError):
        res.probability_of([2])
