"""Closed-form and exact numerical queueing results used to validate the simulator.

This module is a pure "theory" layer: it depends only on numpy, scipy and the
standard library, and nothing else from the ``sim`` package.

Units
-----
All times are in **seconds** and all rates are **per second**.  An *offered
load* ``a = lambda / mu`` is dimensionless (Erlangs).

Contents
--------
* :func:`erlang_b` -- Erlang B blocking probability of M/M/c/c.
* :func:`erlang_c` -- Erlang C probability of waiting in M/M/c.
* :func:`mmc_metrics` -- steady-state metrics of M/M/c (FCFS), returned as
  :class:`MMcResult`, which also gives the waiting-time distribution.
* :func:`mmc_priority_waits` -- Cobham's formula for the mean queue waits of a
  non-preemptive priority M/M/c queue with a common service rate.
* :func:`hypercube` -- Larson's hypercube queueing model (exact, small fleets),
  returned as :class:`HypercubeResult`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

__all__ = [
    "MAX_HYPERCUBE_UNITS",
    "HypercubeResult",
    "MMcResult",
    "erlang_b",
    "erlang_c",
    "hypercube",
    "mmc_metrics",
    "mmc_priority_waits",
]

#: Largest fleet the exact hypercube model accepts (it has ``2**N`` binary states).
MAX_HYPERCUBE_UNITS = 12


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #
def _as_int(value, name: str, minimum: int) -> int:
    """Return ``value`` as a Python int, rejecting non-integers and bools."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _as_rate(value, name: str, *, positive: bool) -> float:
    """Return ``value`` as a finite float that is >= 0 (or > 0 if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _as_rate_vector(values, name: str, *, positive: bool) -> np.ndarray:
    """Return a 1-D, non-empty, finite float array of non-negative (or positive) rates."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of real numbers") from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    if positive and np.any(arr <= 0.0):
        raise ValueError(f"{name} must all be > 0, got {arr.tolist()}")
    if np.any(arr < 0.0):
        raise ValueError(f"{name} must all be >= 0, got {arr.tolist()}")
    return arr


# --------------------------------------------------------------------------- #
# Erlang B / Erlang C
# --------------------------------------------------------------------------- #
def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B formula: blocking probability of an M/M/c/c loss system.

    Uses the numerically stable recursion ``B(0) = 1``,
    ``B(k) = a B(k-1) / (k + a B(k-1))``, which never forms factorials or
    powers and so works for thousands of servers.

    Parameters
    ----------
    servers : int
        Number of servers ``c`` (>= 0).
    offered_load : float
        Offered load ``a = lambda / mu`` in Erlangs (dimensionless, >= 0).

    Returns
    -------
    float
        Probability that an arriving customer finds all ``c`` servers busy and
        is lost (dimensionless, in [0, 1]).
    """
    c = _as_int(servers, "servers", 0)
    a = _as_rate(offered_load, "offered_load", positive=False)
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C formula: probability that an arrival waits in an M/M/c queue.

    Derived from Erlang B: ``C = c B / (c - a (1 - B))`` with ``B = B(c, a)``.

    Parameters
    ----------
    servers : int
        Number of servers ``c`` (>= 1).
    offered_load : float
        Offered load ``a = lambda / mu`` in Erlangs; must satisfy ``a < c``.

    Returns
    -------
    float
        Probability that an arriving customer finds all servers busy and has to
        queue (dimensionless, in [0, 1)).

    Raises
    ------
    ValueError
        If ``offered_load >= servers`` (the queue is unstable) or inputs are invalid.
    """
    c = _as_int(servers, "servers", 1)
    a = _as_rate(offered_load, "offered_load", positive=False)
    if a >= c:
        raise ValueError(
            f"M/M/c is unstable: offered load {a} Erlangs >= {c} servers "
            "(Erlang C requires offered_load < servers)"
        )
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


# --------------------------------------------------------------------------- #
# M/M/c
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class MMcResult:
    """Steady-state metrics of an M/M/c FCFS queue.

    Attributes
    ----------
    arrival_rate : float
        Poisson arrival rate ``lambda`` (1/s).
    service_rate : float
        Exponential service rate per server ``mu`` (1/s).
    servers : int
        Number of servers ``c``.
    offered_load : float
        ``a = lambda / mu`` (Erlangs).
    utilisation : float
        ``rho = lambda / (c mu)``: long-run fraction of time each server is busy.
    prob_wait : float
        Erlang C, ``P(Wq > 0)``: probability an arrival has to queue.
    mean_wait : float
        Mean waiting time in queue ``Wq = C / (c mu - lambda)`` (s).
    mean_response : float
        Mean time in system ``W = Wq + 1/mu`` (s).
    mean_queue_length : float
        Mean number waiting ``Lq = lambda Wq`` (customers).
    mean_in_system : float
        Mean number in system ``L = Lq + a`` (customers).
    """

    arrival_rate: float
    service_rate: float
    servers: int
    offered_load: float
    utilisation: float
    prob_wait: float
    mean_wait: float
    mean_response: float
    mean_queue_length: float
    mean_in_system: float

    @property
    def decay_rate(self) -> float:
        """Rate ``c mu - lambda`` (1/s) of the exponential tail of the queue wait."""
        return self.servers * self.service_rate - self.arrival_rate

    def wait_cdf(self, t):
        """Waiting-time distribution ``P(Wq <= t) = 1 - C exp(-(c mu - lambda) t)``.

        Parameters
        ----------
        t : float or array_like
            Time(s) in seconds.  For ``t < 0`` the CDF is 0.

        Returns
        -------
        float or numpy.ndarray
            ``P(Wq <= t)`` (dimensionless); a float for scalar input.
        """
        t_arr = np.asarray(t, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            cdf = 1.0 - self.prob_wait * np.exp(-self.decay_rate * np.maximum(t_arr, 0.0))
        cdf = np.where(t_arr < 0.0, 0.0, cdf)
        if cdf.ndim == 0:
            return float(cdf)
        return cdf

    def wait_quantile(self, q: float) -> float:
        """Inverse of :meth:`wait_cdf`: smallest ``t`` (s) with ``P(Wq <= t) >= q``.

        Parameters
        ----------
        q : float
            Probability in ``[0, 1]``.

        Returns
        -------
        float
            Quantile of the queue wait in seconds (``inf`` for ``q == 1`` when
            ``C > 0``).
        """
        q = float(q)
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile level must be in [0, 1], got {q}")
        if q <= 1.0 - self.prob_wait:
            return 0.0
        if q >= 1.0:
            return math.inf
        return -math.log((1.0 - q) / self.prob_wait) / self.decay_rate


def mmc_metrics(arrival_rate: float, service_rate: float, servers: int) -> MMcResult:
    """Steady-state metrics of the M/M/c FCFS queue.

    Parameters
    ----------
    arrival_rate : float
        Poisson arrival rate ``lambda`` (1/s, >= 0).
    service_rate : float
        Exponential service rate of each server ``mu`` (1/s, > 0).
    servers : int
        Number of servers ``c`` (>= 1).

    Returns
    -------
    MMcResult
        Utilisation, Erlang C, ``Wq``, ``W``, ``Lq``, ``L`` and the wait CDF.

    Raises
    ------
    ValueError
        If inputs are invalid or ``lambda >= c mu`` (unstable).
    """
    lam = _as_rate(arrival_rate, "arrival_rate", positive=False)
    mu = _as_rate(service_rate, "service_rate", positive=True)
    c = _as_int(servers, "servers", 1)
    a = lam / mu
    if lam >= c * mu:
        raise ValueError(
            f"M/M/c is unstable: arrival_rate {lam}/s >= servers*service_rate {c * mu}/s"
        )
    prob_wait = erlang_c(c, a)
    wq = prob_wait / (c * mu - lam)
    lq = lam * wq
    return MMcResult(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        offered_load=a,
        utilisation=a / c,
        prob_wait=prob_wait,
        mean_wait=wq,
        mean_response=wq + 1.0 / mu,
        mean_queue_length=lq,
        mean_in_system=lq + a,
    )


# --------------------------------------------------------------------------- #
# Non-preemptive priority M/M/c (Cobham)
# --------------------------------------------------------------------------- #
def mmc_priority_waits(
    arrival_rates: Sequence[float], service_rate: float, servers: int
) -> list[float]:
    r"""Mean queue waits of a non-preemptive priority M/M/c queue (Cobham's formula).

    Classes ``k = 1..K`` are listed highest priority first; class ``k`` arrives
    as a Poisson stream with rate ``lambda_k`` and every class has the same
    exponential service rate ``mu`` on each of ``c`` servers.  Within a class
    service is FCFS; a higher-priority arrival never interrupts a service.

    Formula
    -------
    With ``sigma_k = sum_{i<=k} lambda_i / (c mu)`` (``sigma_0 = 0``) and
    ``W0 = C(c, a) / (c mu)``, where ``a = sum_i lambda_i / mu`` and ``C`` is
    Erlang C,

    .. math:: W_k = \frac{W_0}{(1 - \sigma_{k-1})(1 - \sigma_k)}.

    Derivation: because all classes share the exponential rate ``mu`` and the
    discipline is work-conserving and non-preemptive, the number of busy
    servers evolves exactly as in FCFS M/M/c, so (PASTA) an arrival finds all
    servers busy with probability ``C``; when all are busy, completions occur
    at rate ``c mu``, so the mean time until the next server frees is
    ``1/(c mu)``, giving the mean residual ``W0``.  A class-``k`` arrival waits
    ``W0``, plus ``1/(c mu)`` for each queued customer of classes ``<= k``
    found (``Lq_i = lambda_i W_i``), plus ``1/(c mu)`` for each customer of
    classes ``< k`` arriving while it waits (``lambda_i W_k``):
    ``W_k = W0 + sum_{i<=k} sigma'_i W_i + sigma_{k-1} W_k`` with
    ``sigma'_i = lambda_i / (c mu)``.  Solving recursively gives the formula
    above.  For one class it reduces to ``Wq = C / (c mu - lambda)``, and the
    arrival-weighted mean of the class waits equals the FCFS ``Wq``
    (Kleinrock's conservation law).

    Parameters
    ----------
    arrival_rates : sequence of float
        Arrival rate of each class (1/s, >= 0), highest priority first.
    service_rate : float
        Common exponential service rate per server ``mu`` (1/s, > 0).
    servers : int
        Number of servers ``c`` (>= 1).

    Returns
    -------
    list of float
        Mean waiting time in queue of each class (s), same order as input.

    Raises
    ------
    ValueError
        If inputs are invalid or the total load is ``>= c`` (unstable).
    """
    lam = _as_rate_vector(arrival_rates, "arrival_rates", positive=False)
    mu = _as_rate(service_rate, "service_rate", positive=True)
    c = _as_int(servers, "servers", 1)
    total = float(lam.sum())
    cmu = c * mu
    if total >= cmu:
        raise ValueError(
            f"priority M/M/c is unstable: total arrival rate {total}/s >= "
            f"servers*service_rate {cmu}/s"
        )
    w0 = erlang_c(c, total / mu) / cmu
    waits: list[float] = []
    sigma_prev = 0.0
    cumulative = 0.0
    for rate in lam:
        cumulative += float(rate)
        sigma = cumulative / cmu
        waits.append(w0 / ((1.0 - sigma_prev) * (1.0 - sigma)))
        sigma_prev = sigma
    return waits


# --------------------------------------------------------------------------- #
# Larson's hypercube queueing model
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class HypercubeResult:
    """Steady state of Larson's hypercube queueing model.

    Binary states are bitmasks: bit ``n`` of state index ``s`` is set iff unit
    ``n`` is busy; state ``2**N - 1`` is "all busy".  Arrays are read-only.

    Attributes
    ----------
    queue : {"infinite", "loss"}
        Queue discipline used.
    n_units : int
        Number of units ``N``.
    n_atoms : int
        Number of atoms ``J``.
    state_probabilities : numpy.ndarray, shape (2**N,)
        Stationary probability of each binary state.  For ``queue="infinite"``
        the entry ``2**N - 1`` is the probability of *all busy with nobody
        waiting*; the states with ``k >= 1`` calls waiting are summarised by
        ``tail_probability``.  ``state_probabilities.sum() + tail_probability == 1``.
    tail_probability : float
        ``P(all busy and >= 1 call waiting)`` (0 for ``"loss"``).
    all_busy_probability : float
        ``P(all N units busy)``, including the queue tail.
    queue_probability : float
        Probability that an arriving call must wait (PASTA; equals
        ``all_busy_probability`` for ``"infinite"``, 0 for ``"loss"``).
    loss_probability : float
        Probability that an arriving call is lost (equals
        ``all_busy_probability`` for ``"loss"``, 0 for ``"infinite"``).
    workloads : numpy.ndarray, shape (N,)
        ``rho_n``: long-run fraction of time unit ``n`` is busy.
    mean_busy_units : float
        Mean number of busy units, ``sum_n rho_n``.
    busy_count_probabilities : numpy.ndarray, shape (N+1,)
        ``P(exactly k units busy)``, ``k = 0..N`` (entry N includes the tail).
    served_rate : float
        Rate of calls that are dispatched (1/s): ``lambda`` for ``"infinite"``,
        ``lambda (1 - loss_probability)`` for ``"loss"``.
    dispatch_matrix : numpy.ndarray, shape (N, J)
        ``f[n, j]``: fraction of all dispatches (served calls) that send unit
        ``n`` to atom ``j``; sums to 1.  Queued calls (infinite queue only) are
        counted as served by the unit whose completion frees it: when all
        units are busy the next completion is by unit ``n`` with probability
        ``mu_n / sum(mu)``, independently of the queued call's atom, so the
        queued calls of atom ``j`` (rate ``lambda_j * all_busy_probability``)
        are split over units in proportion ``mu_n / sum(mu)``.
    mean_queue_wait : float
        Mean time a call waits in queue (s), over all calls, FCFS (0 for ``"loss"``).
    mean_queue_length : float
        Mean number of calls waiting (0 for ``"loss"``).
    interdistrict_fraction : float or None
        Fraction of dispatches that send a unit outside its home district, if a
        district mapping was given, else ``None``.
    interdistrict_fraction_by_unit : numpy.ndarray or None, shape (N,)
        For each unit, the fraction of *its* dispatches that are outside its
        district, if a district mapping was given, else ``None``.
    """

    queue: str
    n_units: int
    n_atoms: int
    state_probabilities: np.ndarray
    tail_probability: float
    all_busy_probability: float
    queue_probability: float
    loss_probability: float
    workloads: np.ndarray
    mean_busy_units: float
    busy_count_probabilities: np.ndarray
    served_rate: float
    dispatch_matrix: np.ndarray
    mean_queue_wait: float
    mean_queue_length: float
    interdistrict_fraction: float | None = None
    interdistrict_fraction_by_unit: np.ndarray | None = None

    @property
    def dispatch_rates(self) -> np.ndarray:
        """Dispatch rate of unit ``n`` to atom ``j`` (1/s), shape (N, J)."""
        return self.dispatch_matrix * self.served_rate

    def probability_of(self, busy_units: Sequence[int]) -> float:
        """Stationary probability of the binary state whose busy units are ``busy_units``.

        For the all-busy state with an infinite queue this is the probability
        of all busy with *nobody waiting* (see ``state_probabilities``).
        """
        mask = 0
        for n in busy_units:
            n = _as_int(n, "unit index", 0)
            if n >= self.n_units:
                raise ValueError(f"unit index {n} out of range for {self.n_units} units")
            mask |= 1 << n
        return float(self.state_probabilities[mask])


def _validate_preference(preference, n_atoms: int, n_units: int) -> np.ndarray:
    """Return the preference lists as an int array of shape (J, N), validated."""
    try:
        rows = [list(p) for p in preference]
    except TypeError as exc:
        raise ValueError("preference must be a sequence of per-atom unit lists") from exc
    if len(rows) != n_atoms:
        raise ValueError(
            f"preference has {len(rows)} lists but there are {n_atoms} atoms "
            "(one full ordered list of units per atom is required)"
        )
    out = np.empty((n_atoms, n_units), dtype=np.int64)
    expected = list(range(n_units))
    for j, row in enumerate(rows):
        for u in row:
            if isinstance(u, bool) or not isinstance(u, numbers.Integral):
                raise ValueError(f"preference[{j}] contains a non-integer unit {u!r}")
        if sorted(int(u) for u in row) != expected:
            raise ValueError(
                f"preference[{j}] = {[int(u) for u in row]} is not a permutation of the "
                f"units 0..{n_units - 1}"
            )
        out[j] = row
    return out


def _district_labels(
    n_atoms: int,
    n_units: int,
    home_unit_of_atom,
    district_of_atom,
    district_of_unit,
) -> tuple[list[Any], list[Any]] | None:
    """Return (district label per atom, district label per unit), or None."""
    if home_unit_of_atom is not None:
        if district_of_atom is not None or district_of_unit is not None:
            raise ValueError(
                "give either home_unit_of_atom or district_of_atom/district_of_unit, not both"
            )
        homes = list(home_unit_of_atom)
        if len(homes) != n_atoms:
            raise ValueError(
                f"home_unit_of_atom has {len(homes)} entries but there are {n_atoms} atoms"
            )
        atoms = [_as_int(h, "home_unit_of_atom entry", 0) for h in homes]
        if any(h >= n_units for h in atoms):
            raise ValueError(f"home_unit_of_atom entries must be unit indices 0..{n_units - 1}")
        return atoms, list(range(n_units))
    if (district_of_atom is None) != (district_of_unit is None):
        raise ValueError("district_of_atom and district_of_unit must be given together")
    if district_of_atom is None:
        return None
    atoms = list(district_of_atom)
    units = list(district_of_unit)
    if len(atoms) != n_atoms:
        raise ValueError(f"district_of_atom has {len(atoms)} entries but there are {n_atoms} atoms")
    if len(units) != n_units:
        raise ValueError(f"district_of_unit has {len(units)} entries but there are {n_units} units")
    return atoms, units


def hypercube(
    arrival_rates_by_atom: Sequence[float],
    service_rates_by_unit: Sequence[float],
    preference: Sequence[Sequence[int]],
    queue: Literal["infinite", "loss"] = "infinite",
    *,
    home_unit_of_atom: Sequence[int] | None = None,
    district_of_atom: Sequence[Hashable] | None = None,
    district_of_unit: Sequence[Hashable] | None = None,
) -> HypercubeResult:
    """Larson's hypercube queueing model, solved exactly for small fleets.

    Model
    -----
    Calls arrive at atoms ``j = 0..J-1`` as independent Poisson streams of
    rate ``lambda_j``.  ``N`` distinguishable units ``n = 0..N-1`` serve
    calls in exponential times of rate ``mu_n`` (travel and on-scene time
    lumped together; rates may differ by unit).  Dispatch is by fixed
    preference: a call from atom ``j`` is given to the first free unit in
    ``preference[j]``.  If all units are busy the call is lost
    (``queue="loss"``) or joins one FCFS queue (``queue="infinite"``).

    State space and solution
    ------------------------
    The ``2**N`` binary states are bitmasks ``B`` (bit ``n`` set iff unit
    ``n`` is busy).  From ``B != all`` an atom-``j`` call moves the state up to
    ``B | {first free unit of preference[j]}`` at rate ``lambda_j``; a busy
    unit ``n`` completes at rate ``mu_n``, moving to ``B \\ {n}``.  With an
    infinite queue the all-busy states with ``k >= 1`` waiting form a
    birth-death tail with birth rate ``lambda = sum_j lambda_j`` and death
    rate ``M = sum_n mu_n`` (a completion hands the head-of-queue call to the
    freed unit, so all units stay busy, whichever unit it was -- this holds
    for unequal ``mu_n`` too).  Hence ``P(all busy, k waiting) = P_all r**k``
    with ``r = lambda / M``; it requires ``lambda < M``.  Because the flows
    across the cut between ``k = 0`` and ``k = 1`` balance, the global balance
    equations of the binary states are the same as in the loss model; only
    the normalisation differs: ``sum_B p_B + P_all r / (1 - r) = 1``.  The
    balance equations ``p Q = 0`` (one replaced by the normalisation) are
    solved with a sparse LU factorisation.

    Parameters
    ----------
    arrival_rates_by_atom : sequence of float, length J
        Poisson call rate of each atom (1/s, >= 0, total > 0).
    service_rates_by_unit : sequence of float, length N
        Exponential service rate of each unit (1/s, > 0).  ``1 <= N <= 12``.
    preference : sequence of sequences of int, shape (J, N)
        ``preference[j]`` is a permutation of ``0..N-1``: the units in the
        order they are tried for calls from atom ``j``.
    queue : {"infinite", "loss"}, default "infinite"
        What happens to calls that arrive when all units are busy.
    home_unit_of_atom : sequence of int, length J, optional
        Unit whose district contains atom ``j``; a dispatch of unit ``n`` to
        atom ``j`` is inter-district iff ``n != home_unit_of_atom[j]``.
    district_of_atom, district_of_unit : sequences of hashable labels, optional
        Alternative to ``home_unit_of_atom`` (give both): a dispatch is
        inter-district iff ``district_of_unit[n] != district_of_atom[j]``.

    Returns
    -------
    HypercubeResult
        State probabilities, workloads, dispatch matrix, queue statistics and
        (if a district mapping was given) inter-district dispatch fractions.

    Raises
    ------
    ValueError
        For invalid inputs, an unstable infinite queue (``lambda >= sum mu``),
        or ``N > 12`` (the exact model has ``2**N`` states; use the simulator
        or an approximate hypercube instead).
    """
    if queue not in ("infinite", "loss"):
        raise ValueError(f"queue must be 'infinite' or 'loss', got {queue!r}")
    lam = _as_rate_vector(arrival_rates_by_atom, "arrival_rates_by_atom", positive=False)
    mu = _as_rate_vector(service_rates_by_unit, "service_rates_by_unit", positive=True)
    n_atoms = lam.size
    n_units = mu.size
    if n_units > MAX_HYPERCUBE_UNITS:
        raise ValueError(
            f"the exact hypercube model is too big for {n_units} units: it has 2**{n_units} "
            f"= {2**n_units} states (limit {MAX_HYPERCUBE_UNITS} units). Use the simulator "
            "or an approximate hypercube model (e.g. Larson's approximation) instead."
        )
    total_lam = float(lam.sum())
    if total_lam <= 0.0:
        raise ValueError("arrival_rates_by_atom must have a positive total rate")
    total_mu = float(mu.sum())
    if queue == "infinite" and total_lam >= total_mu:
        raise ValueError(
            f"the infinite-queue hypercube is unstable: total arrival rate {total_lam}/s "
            f">= total service rate {total_mu}/s"
        )
    pref = _validate_preference(preference, n_atoms, n_units)
    districts = _district_labels(
        n_atoms, n_units, home_unit_of_atom, district_of_atom, district_of_unit
    )

    n_states = 1 << n_units
    full = n_states - 1
    states = np.arange(n_states, dtype=np.int64)
    busy = ((states[:, None] >> np.arange(n_units)[None, :]) & 1).astype(bool)  # (S, N)

    # Group atoms sharing a preference list: the upward transitions only depend
    # on the list, with the atoms' rates summed.
    unique_prefs, pref_group = np.unique(pref, axis=0, return_inverse=True)
    pref_group = np.asarray(pref_group).reshape(-1)
    group_rate = np.bincount(pref_group, weights=lam, minlength=len(unique_prefs))

    not_full = states != full
    # first_free[g, s]: unit chosen for preference group g in state s (-1 if full)
    first_free = np.full((len(unique_prefs), n_states), -1, dtype=np.int64)
    for g, order in enumerate(unique_prefs):
        free_in_order = ~busy[:, order]  # (S, N)
        pos = np.argmax(free_in_order, axis=1)
        chosen = order[pos]
        first_free[g] = np.where(not_full, chosen, -1)

    # Generator entries, scaled by the largest rate for conditioning (the
    # stationary distribution is unchanged by scaling time).
    scale = max(float(lam.max()), float(mu.max()))
    rows: list[np.ndarray] = []  # from-state
    cols: list[np.ndarray] = []  # to-state
    vals: list[np.ndarray] = []
    for g in range(len(unique_prefs)):
        if group_rate[g] <= 0.0:
            continue
        src = states[not_full]
        dst = src | (np.int64(1) << first_free[g, not_full])
        rows.append(src)
        cols.append(dst)
        vals.append(np.full(src.size, group_rate[g] / scale))
    for n in range(n_units):
        src = states[busy[:, n]]
        rows.append(src)
        cols.append(src & ~(np.int64(1) << n))
        vals.append(np.full(src.size, mu[n] / scale))
    r_from = np.concatenate(rows)
    r_to = np.concatenate(cols)
    r_val = np.concatenate(vals)
    out_rate = np.bincount(r_from, weights=r_val, minlength=n_states)

    # Balance equations  sum_i p_i Q[i, s] = 0  for each state s, i.e. A p = 0
    # with A = Q^T.  The chain is irreducible (from any state an arrival adds
    # a unit until all are busy; completions then remove any chosen units), so
    # A has rank 2**N - 1 and every row is a combination of the others.  We
    # replace the equation of the empty state (row 0) by the constraint
    # p_0 = 1 -- a sparse row, unlike  sum p = 1, which would destroy the
    # sparsity of the LU factors -- and apply the normalisation
    # sum_B p_B + tail = 1 afterwards (exactly equivalent, since p_0 > 0).
    r = total_lam / total_mu if queue == "infinite" else 0.0
    a_rows = np.concatenate([r_to, states])
    a_cols = np.concatenate([r_from, states])
    a_vals = np.concatenate([r_val, -out_rate])
    keep = a_rows != 0
    a_rows = np.append(a_rows[keep], 0)
    a_cols = np.append(a_cols[keep], 0)
    a_vals = np.append(a_vals[keep], 1.0)
    a_mat = scipy.sparse.csc_matrix((a_vals, (a_rows, a_cols)), shape=(n_states, n_states))
    rhs = np.zeros(n_states)
    rhs[0] = 1.0
    # The sparsity pattern is (nearly) symmetric -- every upward edge B -> B+n
    # has the downward edge B+n -> B -- so a minimum-degree ordering on
    # A^T + A keeps the LU fill small (about 10x faster than COLAMD at N = 12).
    p = scipy.sparse.linalg.spsolve(a_mat, rhs, permc_spec="MMD_AT_PLUS_A")
    p = np.asarray(p, dtype=float).reshape(-1)
    if not np.all(np.isfinite(p)):  # pragma: no cover - the system is nonsingular
        raise RuntimeError("hypercube balance equations could not be solved")
    # Round-off can give tiny negatives for states of negligible probability.
    p = np.maximum(p, 0.0)
    p_full = float(p[full])
    tail = p_full * r / (1.0 - r) if queue == "infinite" else 0.0
    p /= float(p.sum()) + tail
    p_full = float(p[full])
    tail = p_full * r / (1.0 - r) if queue == "infinite" else 0.0
    all_busy = p_full + tail

    workloads = busy.T.astype(float) @ p + tail
    n_busy = busy.sum(axis=1)
    busy_counts = np.bincount(n_busy, weights=p, minlength=n_units + 1)
    busy_counts[n_units] += tail

    # Dispatch rates (unnormalised): direct dispatches from non-full states ...
    rates = np.zeros((n_units, n_atoms))
    for g in range(len(unique_prefs)):
        chosen_mass = np.bincount(
            first_free[g, not_full], weights=p[not_full], minlength=n_units
        )
        atoms_g = np.flatnonzero(pref_group == g)
        rates[:, atoms_g] = chosen_mass[:, None] * lam[None, atoms_g]
    # ... plus queued calls, served by whichever unit frees (prob mu_n / M).
    if queue == "infinite":
        rates += np.outer(mu / total_mu, lam * all_busy)
        served = total_lam
        mean_queue_length = p_full * r / (1.0 - r) ** 2
        mean_queue_wait = mean_queue_length / total_lam
        queue_probability, loss_probability = all_busy, 0.0
    else:
        served = total_lam * (1.0 - p_full)
        mean_queue_length = 0.0
        mean_queue_wait = 0.0
        queue_probability, loss_probability = 0.0, p_full
    dispatch = rates / rates.sum()

    inter_total: float | None = None
    inter_by_unit: np.ndarray | None = None
    if districts is not None:
        atom_d, unit_d = districts
        outside = np.array(
            [[unit_d[n] != atom_d[j] for j in range(n_atoms)] for n in range(n_units)],
            dtype=bool,
        ).reshape(n_units, n_atoms)
        inter_total = float(dispatch[outside].sum())
        per_unit = dispatch.sum(axis=1)
        outside_per_unit = np.where(outside, dispatch, 0.0).sum(axis=1)
        inter_by_unit = np.divide(
            outside_per_unit,
            per_unit,
            out=np.full(n_units, np.nan),
            where=per_unit > 0.0,
        )
        inter_by_unit.setflags(write=False)

    for arr in (p, workloads, busy_counts, dispatch):
        arr.setflags(write=False)
    return HypercubeResult(
        queue=queue,
        n_units=n_units,
        n_atoms=n_atoms,
        state_probabilities=p,
        tail_probability=float(tail),
        all_busy_probability=float(all_busy),
        queue_probability=float(queue_probability),
        loss_probability=float(loss_probability),
        workloads=workloads,
        mean_busy_units=float(workloads.sum()),
        busy_count_probabilities=busy_counts,
        served_rate=float(served),
        dispatch_matrix=dispatch,
        mean_queue_wait=float(mean_queue_wait),
        mean_queue_length=float(mean_queue_length),
        interdistrict_fraction=inter_total,
        interdistrict_fraction_by_unit=inter_by_unit,
    )
