"""Location models as mixed-integer programmes, solved by HiGHS through ``scipy.optimize.milp``.

Each model is data plus a solve step, independent of the command line (the shape of pysal/spopt):
build it with ``from_cost_matrix(...)``, then ``.solve(time_limit=...)`` returns a
:class:`Solution` with plain attributes. Sites are the rows of a :class:`CostMatrix`, demand
points its columns; ``x_i`` (binary) opens site ``i``.

- :class:`MCLP`, maximal covering: open ``p`` sites to cover the most demand weight, a demand
  point counting as covered when an open site reaches it within *its own* target (one target per
  demand point: the 1/3/5-minute ladder of key, central and other zones).
- :class:`LSCP`, set cover: the fewest sites covering every demand point, or a stated share of
  each group's weight.
- :class:`PMedian`: ``p`` sites minimising the weighted mean cost of the nearest open site.
- :class:`PCenter`: ``p`` sites minimising the worst cost (a search over the distinct costs,
  each step a set-cover feasibility problem).
- :class:`FairMCLP`: ``p`` sites maximising the *worst* group's covered share, then (with that
  held) the overall covered share.
- :class:`CapacitatedMCLP`: maximal covering where each open site serves at most a stated
  workload, so a site cannot "cover" more demand than it could ever serve.

Every model takes ``fixed`` sites, opened whatever the cost (expansion planning: ``p`` *new*
sites besides them). A time limit returns HiGHS's best solution and its gap, never a heuristic
answer dressed as an optimum; ``Solution.status`` says which.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix, hstack, vstack

from sim.optimize.lagrange import best_neighbour, reduce_by_bound
from sim.optimize.matrix import CostMatrix

__all__ = ["LSCP", "MCLP", "CapacitatedMCLP", "DailyMobileMCLP", "FairMCLP", "PCenter", "PMedian",
           "Solution", "SolveError", "day_moves"]


class SolveError(ValueError):
    """The model has no solution (e.g. a demand point no site can reach), or HiGHS found none in time."""


@dataclass
class Solution:
    """The result of one solve.

    Attributes
    ----------
    sites : indices of the open sites (fixed ones included), increasing.
    objective : the model's objective in its own terms (covered share, number of sites, mean or
        worst cost, worst group's share).
    bound : the best bound HiGHS proved on ``objective``.
    gap : relative optimality gap (0 when proven optimal).
    status : ``"optimal"`` or ``"time limit"`` (best solution found, not proven).
    solve_s : wall-clock time of the solve (s).
    n_variables, n_constraints, n_nonzeros : model size.
    assignment : per demand point, the open site it is served from (-1: none in reach).
    assigned_cost : per demand point, the cost from that site (``inf``: none).
    covered : per demand point, True when reached within its target (coverage models; for the
        others, within the matrix).
    """

    sites: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_s: float
    n_variables: int
    n_constraints: int
    n_nonzeros: int
    assignment: np.ndarray = field(repr=False)
    assigned_cost: np.ndarray = field(repr=False)
    covered: np.ndarray = field(repr=False)
    notes: dict[str, Any] = field(default_factory=dict)  # how it was found (reductions, method)

    def covered_share(self, weights: np.ndarray, groups: np.ndarray | None = None,
                      n_groups: int | None = None) -> np.ndarray | float:
        """Covered share of ``weights``: overall, or per group label ``0 .. n_groups - 1``."""
        w = np.asarray(weights, dtype=float)
        if groups is None:
            return float(w[self.covered].sum() / w.sum()) if w.sum() > 0 else float("nan")
        k = int(n_groups if n_groups is not None else groups.max() + 1)
        tot = np.bincount(groups, weights=w, minlength=k)[:k]
        cov = np.bincount(groups[self.covered], weights=w[self.covered], minlength=k)[:k]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, cov / tot, np.nan)

    def size_text(self) -> str:
        """``'12,681 variables, 6,341 constraints, 1,204,511 nonzeros'``."""
        return (f"{self.n_variables:,} variables, {self.n_constraints:,} constraints, "
                f"{self.n_nonzeros:,} nonzeros")


def nearest_open(matrix: CostMatrix, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per demand point, the open site of least cost (ties: the lower index) and that cost."""
    is_open = np.zeros(matrix.n_sites, dtype=bool)
    is_open[sites] = True
    sel = is_open[matrix.site]
    i, j, c = matrix.site[sel], matrix.demand[sel], matrix.cost[sel]
    order = np.lexsort((i, c, j))
    i, j, c = i[order], j[order], c[order]
    first = np.ones(len(j), dtype=bool)
    first[1:] = j[1:] != j[:-1]
    assign = np.full(matrix.n_demand, -1, dtype=np.int64)
    cost = np.full(matrix.n_demand, np.inf)
    assign[j[first]] = i[first]
    cost[j[first]] = c[first]
    return assign, cost


# -- the MILP plumbing shared by every model ------------------------------------------------------

@dataclass
class _Program:
    """A MILP in scipy's terms, built row block by row block: minimise ``c @ v``."""

    c: np.ndarray
    integrality: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    blocks: list[tuple[csr_matrix, np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, a: csr_matrix | coo_matrix, lo: np.ndarray | float, hi: np.ndarray | float) -> None:
        a = csr_matrix(a)
        n = a.shape[0]
        self.blocks.append((a, np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy(),
                            np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy()))

    @property
    def n_constraints(self) -> int:
        return sum(b[0].shape[0] for b in self.blocks)

    @property
    def n_nonzeros(self) -> int:
        return sum(b[0].nnz for b in self.blocks)

    def solve(self, time_limit: float, mip_gap: float) -> tuple[np.ndarray | None, float, float, str, float]:
        """``(v, objective, bound, status, seconds)``; ``v`` is None when no solution was found."""
        a = vstack([b[0] for b in self.blocks], format="csr")
        lo = np.concatenate([b[1] for b in self.blocks])
        hi = np.concatenate([b[2] for b in self.blocks])
        t0 = time.perf_counter()
        res = milp(self.c, integrality=self.integrality, bounds=Bounds(self.lb, self.ub),
                   constraints=LinearConstraint(a, lo, hi),
                   options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_gap),
                            "disp": False})
        seconds = time.perf_counter() - t0
        if res.x is None:
            if res.status == 2:
                raise SolveError("the model is infeasible")
            raise SolveError(f"HiGHS found no solution within the time limit of {time_limit:g} s "
                             f"({res.message})")
        bound = float(res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None else res.fun
        status = "optimal" if res.status == 0 else "time limit"
        return res.x, float(res.fun), float(bound), status, seconds


def _x_vars(n_sites: int, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrality and bounds of the site variables, fixed sites forced open."""
    lb = np.zeros(n_sites)
    lb[fixed] = 1.0
    return np.ones(n_sites), lb, np.ones(n_sites)


def _cover_rows(pairs: CostMatrix, rows: np.ndarray) -> csr_matrix:
    """``[len(rows), n_sites]``: row ``r`` has a 1 at each site of ``pairs`` reaching demand ``rows[r]``."""
    where = np.full(pairs.n_demand, -1, dtype=np.int64)
    where[rows] = np.arange(len(rows))
    r = where[pairs.demand]
    keep = r >= 0
    return csr_matrix((np.ones(int(keep.sum())), (r[keep], pairs.site[keep])),
                      shape=(len(rows), pairs.n_sites))


def _rel_gap(obj: float, bound: float) -> float:
    return abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else float("inf")


def _chosen(v: np.ndarray, n_sites: int) -> np.ndarray:
    return np.flatnonzero(v[:n_sites] > 0.5)


class _Base:
    """Data common to every model: the matrix, weights, targets, fixed sites and the count to open."""

    def __init__(self, matrix: CostMatrix, weights: np.ndarray | None, *, p: int | None = None,
                 targets: np.ndarray | float | None = None, fixed: Sequence[int] | np.ndarray = ()) -> None:
        self.matrix = matrix
        self.weights = (np.ones(matrix.n_demand) if weights is None
                        else np.asarray(weights, dtype=float))
        if self.weights.shape != (matrix.n_demand,) or np.any(self.weights < 0):
            raise ValueError("weights need one non-negative value per demand point")
        self.fixed = np.unique(np.asarray(fixed, dtype=np.int64))
        if len(self.fixed) and (self.fixed.min() < 0 or self.fixed.max() >= matrix.n_sites):
            raise ValueError("fixed sites must be site indices of the matrix")
        self.p = p
        if p is not None and (p < 0 or p + len(self.fixed) > matrix.n_sites):
            raise ValueError(f"cannot open {p} new sites besides {len(self.fixed)} fixed ones among "
                             f"{matrix.n_sites} candidates")
        self.exclude: list[np.ndarray] = []  # site sets to cut off (MCLP's next-best solutions)
        self.targets = (None if targets is None else
                        np.broadcast_to(np.asarray(targets, dtype=float), (matrix.n_demand,)).copy())

    @property
    def total(self) -> int:
        """Sites open in a solution: the fixed ones plus ``p`` new ones."""
        return int(self.p or 0) + len(self.fixed)

    def _covered(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assign, cost = nearest_open(self.matrix, sites)
        lim = self.targets if self.targets is not None else np.full(self.matrix.n_demand, np.inf)
        return assign, cost, cost <= lim + 1e-9

    def _solution(self, sites: np.ndarray, objective: float, bound: float, status: str,
                  seconds: float, prog: _Program) -> Solution:
        assign, cost, covered = self._covered(sites)
        gap = 0.0 if status == "optimal" and _rel_gap(objective, bound) < 1e-6 else _rel_gap(objective, bound)
        return Solution(sites=sites, objective=objective, bound=bound, gap=gap, status=status,
                        solve_s=seconds, n_variables=len(prog.c), n_constraints=prog.n_constraints,
                        n_nonzeros=prog.n_nonzeros, assignment=assign, assigned_cost=cost,
                        covered=covered)

    def _cover_pairs(self) -> CostMatrix:
        if self.targets is None:
            raise ValueError("this model needs targets (one per demand point, or one for all)")
        return self.matrix.restrict(self.matrix.within(self.targets))

    @classmethod
    def from_cost_matrix(cls, cost: np.ndarray | CostMatrix, weights: np.ndarray | None = None,
                         **kwargs: Any) -> Any:
        """Build the model from a dense ``[site, demand]`` array (``inf``: out of reach) or a
        :class:`CostMatrix`; keyword arguments as the class takes them."""
        matrix = cost if isinstance(cost, CostMatrix) else CostMatrix.from_dense(cost)
        return cls(matrix, weights, **kwargs)


@dataclass
class _Reduced:
    """A covering problem after exact reductions (see :func:`reduce_cover`)."""

    sites: np.ndarray      # kept site indices (into the matrix)
    cover: csr_matrix      # [rows, kept sites]: 1 where a kept site covers a row
    rows: np.ndarray       # a representative demand index per row
    weight: np.ndarray     # summed weight per row
    group: np.ndarray      # group label per row (-1 without groups)
    fixed: np.ndarray      # positions (into ``sites``) of the fixed sites


def reduce_cover(pairs: CostMatrix, weights: np.ndarray, fixed: np.ndarray,
                 groups: np.ndarray | None = None, *, drop_dominated: bool = True,
                 allowed: np.ndarray | None = None) -> _Reduced:
    """Exact reductions of a covering problem before it goes to HiGHS.

    - *Dominated sites* go: a site whose covered set is inside another site's (equal sets: the
      higher index goes) is never needed, since swapping it for the other covers at least as
      much. Fixed sites are kept.
    - *Identical demand points* merge: points of positive weight covered by exactly the same kept
      sites (and, with ``groups``, in the same group) become one row with their summed weight.

    Optimal values are unchanged; models open "at most" their count on the reduced problem and
    fill up afterwards (filling never lowers coverage). ``drop_dominated=False`` keeps every
    site (for next-best solutions, where two sets of equal coverage are different answers).
    ``allowed``: a mask of the sites that may stay at all (default every site).
    """
    ns, nd = pairs.n_sites, pairs.n_demand
    pos = weights[pairs.demand] > 0
    s_mat = csr_matrix((np.ones(int(pos.sum()), dtype=np.int32), (pairs.site[pos], pairs.demand[pos])),
                       shape=(ns, nd))
    s_mat.sum_duplicates()
    size = np.diff(s_mat.indptr)
    drop = np.zeros(ns, dtype=bool)
    if drop_dominated:
        overlap = (s_mat @ s_mat.T).tocoo()  # shared demand points of every pair of sites
        i, k, v = overlap.row, overlap.col, overlap.data
        dom = (v == size[i]) & (i != k) & ((size[k] > size[i]) | ((size[k] == size[i]) & (k < i)))
        drop[i[dom]] = True
        drop[size == 0] = True
    if allowed is not None:
        drop |= ~allowed
    drop[fixed] = False
    kept = np.flatnonzero(~drop)
    cover_t = s_mat[kept].T.tocsr()  # [demand, kept sites]
    cover_t.sort_indices()
    keys: dict[bytes, int] = {}
    rep: list[int] = []
    wsum: list[float] = []
    grp: list[int] = []
    for j in np.flatnonzero(weights > 0):
        cols = cover_t.indices[cover_t.indptr[j]:cover_t.indptr[j + 1]]
        if len(cols) == 0 and groups is None:
            continue  # never covered: only its weight in the total matters
        g = int(groups[j]) if groups is not None else -1
        key = cols.tobytes() + g.to_bytes(8, "little", signed=True)
        r = keys.get(key)
        if r is None:
            keys[key] = len(rep)
            rep.append(int(j))
            wsum.append(weights[j])
            grp.append(g)
        else:
            wsum[r] += weights[j]
    rows = np.array(rep, dtype=np.int64)
    fixed_pos = np.searchsorted(kept, fixed)
    return _Reduced(sites=kept, cover=cover_t[rows].tocsr(), rows=rows, weight=np.array(wsum),
                    group=np.array(grp, dtype=np.int64), fixed=fixed_pos)


def _fill(chosen: np.ndarray, n_sites: int, total: int) -> np.ndarray:
    """Open further sites (lowest index first) until ``total`` are open."""
    if len(chosen) >= total:
        return chosen
    rest = np.setdiff1d(np.arange(n_sites), chosen)[:total - len(chosen)]
    return np.sort(np.concatenate([chosen, rest])).astype(np.int64)


class MCLP(_Base):
    """Maximal covering: open ``p`` new sites (besides ``fixed``) to cover the most demand weight.

    ``targets``: one cost limit per demand point (or one for all). ``objective`` is the covered
    share of the total weight. Variables: ``x`` (binary) per kept site, ``z`` (continuous in
    [0, 1], integral at the optimum) per row of the reduced problem (:func:`reduce_cover`).
    ``exclude``: site sets already found (for the next-best solutions); each is cut off.
    """

    bound_reduction: bool = True  # Lagrangian/LP variable fixing before HiGHS (see sim.optimize.lagrange)

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        if self.p is None:
            raise ValueError("MCLP needs p, the number of sites to open")
        t0 = time.perf_counter()
        pairs = self._cover_pairs()
        red = reduce_cover(pairs, self.weights, self.fixed, drop_dominated=not self.exclude)
        wsum = self.weights.sum()
        inc: np.ndarray | None = None
        inc_value, global_bound = -np.inf, np.inf
        notes: dict[str, Any] = {"sites_after_dominance": len(red.sites), "rows_after_merge": len(red.rows)}
        start = None
        if self.exclude and self.bound_reduction:
            # next-best: start from the best set one swap from a found one (and found by none)
            pos = np.full(self.matrix.n_sites, -1, dtype=np.int64)
            pos[red.sites] = np.arange(len(red.sites))
            found = [pos[f] for f in self.exclude if (pos[f] >= 0).all()]
            start = best_neighbour(csc_matrix(red.cover), red.weight, found, red.fixed) if found else None
        if (self.bound_reduction and (start is not None or not self.exclude)
                and len(red.sites) > self.total > len(red.fixed)):
            rb = reduce_by_bound(red.cover, red.weight / wsum, red.fixed, self.total, incumbent=start)
            inc, inc_value, global_bound = red.sites[rb.sites], rb.value, rb.bound
            notes.update(incumbent=inc_value, lagrangian_bound=rb.bound,
                         sites_after_fixing=int(rb.keep.sum()),
                         sites_forced_open=int(rb.force.sum()) - len(red.fixed),
                         reduction_s=time.perf_counter() - t0)
            if rb.proven:
                return self._incumbent(inc, inc_value, global_bound, "optimal", time.perf_counter() - t0,
                                       notes, "greedy + swap, proven optimal by the Lagrangian bound")
            kept = red.sites[rb.keep]
            red = reduce_cover(pairs.restrict(np.isin(pairs.site, kept)), self.weights,
                               np.union1d(self.fixed, red.sites[rb.force]), drop_dominated=False,
                               allowed=np.isin(np.arange(self.matrix.n_sites), kept))
        ns, nz = len(red.sites), len(red.rows)
        scale = red.weight.max() if nz else 1.0  # objective coefficients near 1 for HiGHS
        integ, lb, ub = _x_vars(ns, red.fixed)
        prog = _Program(c=np.concatenate([np.zeros(ns), -red.weight / scale]),
                        integrality=np.concatenate([integ, np.zeros(nz)]),
                        lb=np.concatenate([lb, np.zeros(nz)]), ub=np.concatenate([ub, np.ones(nz)]))
        prog.add(hstack([-red.cover, _eye(nz)]), -np.inf, 0.0)  # z_j <= sum of x_i covering j
        prog.add(_sum_row(ns, nz), self.total if self.exclude else 0.0, self.total)
        for banned in self.exclude:  # no-good cuts: not this set of sites again
            if not np.isin(banned, red.sites).all():
                continue  # a site of it is gone: the set cannot come back anyway
            pos = np.flatnonzero(np.isin(red.sites, banned))
            row = np.zeros((1, ns + nz))
            row[0, pos] = 1.0
            prog.add(csr_matrix(row), -np.inf, len(pos) - 1)
        if inc is not None:  # objective cutoff: only solutions at least as good as the incumbent
            prog.add(hstack([csr_matrix((1, ns)), csr_matrix(red.weight[None, :] / scale)]),
                     inc_value * wsum / scale * (1 - 1e-9), np.inf)
        left = time_limit - (time.perf_counter() - t0)
        try:
            v, obj, bound, status, _secs = prog.solve(max(1.0, left), mip_gap)
        except SolveError:
            if inc is None:
                raise
            return self._incumbent(inc, inc_value, global_bound, "time limit", time.perf_counter() - t0,
                                   notes, "greedy + swap (HiGHS found no solution in time); gap from the "
                                          "Lagrangian bound")
        assert v is not None
        sites = _fill(red.sites[_chosen(v, ns)], self.matrix.n_sites, self.total)
        value, hb = -obj * scale / wsum, -bound * scale / wsum
        if inc is not None:
            # the reduced problem holds every solution better than the incumbent
            global_bound = min(global_bound, max(inc_value, hb))
            if inc_value > value + 1e-12:
                sites, value = _fill(inc, self.matrix.n_sites, self.total), inc_value
                notes["method"] = "greedy + swap incumbent (HiGHS found no better), bound reduced + HiGHS"
        else:
            global_bound = hb
        notes.setdefault("method", "HiGHS" if inc is None else "Lagrangian/LP reduction + HiGHS")
        sol = self._solution(sites, value, global_bound, status, time.perf_counter() - t0, prog)
        sol.notes = notes
        return sol

    def _incumbent(self, sites: np.ndarray, value: float, bound: float, status: str, seconds: float,
                   notes: dict[str, Any], method: str) -> Solution:
        sites = _fill(np.sort(sites), self.matrix.n_sites, self.total)
        sol = self._solution(sites, value, bound, status, seconds,
                             _Program(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)))
        notes["method"] = method
        sol.notes = notes
        return sol


def _eye(n: int) -> csr_matrix:
    return csr_matrix((np.ones(n), (np.arange(n), np.arange(n))), shape=(n, n))


def _sum_row(ns: int, extra: int) -> csr_matrix:
    """One row summing the site variables (``extra`` further columns at 0)."""
    return csr_matrix(hstack([csr_matrix(np.ones((1, ns))), csr_matrix((1, extra))]))


class LSCP(_Base):
    """Set cover: the fewest new sites (besides ``fixed``) so that every demand point of positive
    weight is within its target, or, with ``shares``, a stated share of each group's weight.

    ``groups``: a label ``0 .. k-1`` per demand point (-1: not required); ``shares``: the share
    each group needs, in [0, 1]. ``objective`` is the number of sites opened, fixed ones included.
    """

    def __init__(self, matrix: CostMatrix, weights: np.ndarray | None, *,
                 targets: np.ndarray | float, fixed: Sequence[int] | np.ndarray = (),
                 groups: np.ndarray | None = None, shares: Sequence[float] | None = None,
                 max_sites: int | None = None) -> None:
        super().__init__(matrix, weights, targets=targets, fixed=fixed)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        self.shares = None if shares is None else np.asarray(shares, dtype=float)
        self.max_sites = max_sites
        if (self.groups is None) != (self.shares is None):
            raise ValueError("give groups and shares together")

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        ns = self.matrix.n_sites
        pairs = self._cover_pairs()
        integ, lb, ub = _x_vars(ns, self.fixed)
        need = self.weights > 0
        if self.shares is None:
            reached = np.zeros(self.matrix.n_demand, dtype=bool)
            reached[pairs.demand] = True
            lost = int(np.sum(need & ~reached))
            if lost:
                raise SolveError(f"{lost} demand point(s) of positive weight are beyond their target "
                                 "from every candidate site; full cover is impossible")
            rows = np.flatnonzero(need)
            prog = _Program(c=np.ones(ns), integrality=integ, lb=lb, ub=ub)
            prog.add(_cover_rows(pairs, rows), 1.0, np.inf)
        else:
            assert self.groups is not None
            rows = np.unique(pairs.demand[need[pairs.demand]])
            nz = len(rows)
            prog = _Program(c=np.concatenate([np.ones(ns), np.zeros(nz)]),
                            integrality=np.concatenate([integ, np.zeros(nz)]),
                            lb=np.concatenate([lb, np.zeros(nz)]), ub=np.concatenate([ub, np.ones(nz)]))
            prog.add(hstack([-_cover_rows(pairs, rows), _eye(nz)]), -np.inf, 0.0)
            for g, share in enumerate(self.shares):
                in_g = self.groups == g
                total = self.weights[in_g].sum()
                if share <= 0 or total <= 0:
                    continue
                coef = np.where(self.groups[rows] == g, self.weights[rows], 0.0)
                if coef.sum() < share * total - 1e-9:
                    raise SolveError(f"group {g}: at most {coef.sum() / total:.1%} of its weight can "
                                     f"be reached within target, less than the {share:.1%} asked")
                prog.add(hstack([csr_matrix((1, ns)), csr_matrix(coef[None, :])]),
                         share * total - 1e-9, np.inf)
        if self.max_sites is not None:
            prog.add(_sum_row(ns, len(prog.c) - ns), 0.0, self.max_sites)
        v, _obj, bound, status, secs = prog.solve(time_limit, mip_gap)
        assert v is not None
        sites = _chosen(v, ns)
        return self._solution(sites, float(len(sites)), float(np.ceil(bound - 1e-6)), status, secs, prog)


class PMedian(_Base):
    """``p`` new sites (besides ``fixed``) minimising the weighted mean cost from each demand
    point to its nearest open site; only pairs in the matrix may be used (a demand point of
    positive weight with no pair makes the model infeasible). ``objective``: the weighted mean
    cost. Variables: ``x`` per site and a continuous assignment ``a`` per pair (the strong
    formulation ``a_ij <= x_i``)."""

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        if self.p is None:
            raise ValueError("p-median needs p, the number of sites to open")
        ns, m = self.matrix.n_sites, self.matrix
        keep = self.weights[m.demand] > 0
        pairs = m.restrict(keep)
        need = np.flatnonzero(self.weights > 0)
        reached = np.zeros(m.n_demand, dtype=bool)
        reached[pairs.demand] = True
        if not reached[need].all():
            raise SolveError(f"{int((~reached[need]).sum())} demand point(s) have no site in the matrix")
        npairs = len(pairs.cost)
        wsum = self.weights.sum()
        integ, lb, ub = _x_vars(ns, self.fixed)
        prog = _Program(c=np.concatenate([np.zeros(ns), self.weights[pairs.demand] * pairs.cost / wsum]),
                        integrality=np.concatenate([integ, np.zeros(npairs)]),
                        lb=np.concatenate([lb, np.zeros(npairs)]), ub=np.concatenate([ub, np.ones(npairs)]))
        where = np.full(m.n_demand, -1, dtype=np.int64)
        where[need] = np.arange(len(need))
        k = np.arange(npairs)
        assign = csr_matrix((np.ones(npairs), (where[pairs.demand], k)), shape=(len(need), npairs))
        prog.add(hstack([csr_matrix((len(need), ns)), assign]), 1.0, 1.0)  # each demand assigned once
        link = csr_matrix((np.concatenate([-np.ones(npairs), np.ones(npairs)]),
                           (np.concatenate([k, k]), np.concatenate([pairs.site, ns + k]))),
                          shape=(npairs, ns + npairs))
        prog.add(link, -np.inf, 0.0)  # a_ij <= x_i
        prog.add(_sum_row(ns, npairs), self.total, self.total)
        v, _obj, bound, status, secs = prog.solve(time_limit, mip_gap)
        assert v is not None
        sites = _chosen(v, ns)
        _, cost = nearest_open(m, sites)
        mean = float(np.sum(self.weights[need] * cost[need]) / wsum)
        return self._solution(sites, mean, bound, status, secs, prog)


class PCenter(_Base):
    """``p`` new sites (besides ``fixed``) minimising the worst cost to a demand point of positive
    weight. Solved exactly by a binary search over the distinct costs of the matrix: the answer
    is the smallest cost ``r`` at which ``total`` sites can cover every demand point within
    ``r`` (each step a set-cover feasibility MILP). ``objective``: the worst cost."""

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        if self.p is None:
            raise ValueError("p-center needs p, the number of sites to open")
        m = self.matrix
        levels = np.unique(m.cost[self.weights[m.demand] > 0])
        t0 = time.perf_counter()
        lo, hi = 0, len(levels) - 1
        best: Solution | None = None
        status = "optimal"
        while lo <= hi:
            mid = (lo + hi) // 2
            model = LSCP(m, self.weights, targets=levels[mid], fixed=self.fixed, max_sites=self.total)
            left = max(1.0, time_limit - (time.perf_counter() - t0))
            try:
                sol = model.solve(time_limit=left, mip_gap=1.0)  # any feasible cover will do
            except SolveError:
                lo = mid + 1
                continue
            if sol.status != "optimal":
                status = "time limit"
            best = sol
            hi = mid - 1
        if best is None:
            raise SolveError(f"no {self.total} sites reach every demand point within the matrix")
        sites = best.sites
        if len(sites) < self.total:  # open the remaining sites where they cut the mean cost most
            sites = self._fill(sites)
        _, cost = nearest_open(m, sites)
        need = self.weights > 0
        worst = float(cost[need].max())
        out = self._solution(sites, worst, worst if status == "optimal" else float(levels[0]), status,
                             time.perf_counter() - t0, _Program(np.zeros(0), np.zeros(0), np.zeros(0),
                                                                np.zeros(0)))
        out.n_variables, out.n_constraints, out.n_nonzeros = (best.n_variables, best.n_constraints,
                                                              best.n_nonzeros)
        return out

    def _fill(self, sites: np.ndarray) -> np.ndarray:
        """Add sites (lowest index first) until ``total`` are open; the worst cost cannot rise."""
        rest = [i for i in range(self.matrix.n_sites) if i not in set(sites.tolist())]
        return np.sort(np.concatenate([sites, rest[:self.total - len(sites)]])).astype(np.int64)


class FairMCLP(_Base):
    """``p`` new sites (besides ``fixed``) maximising the worst group's covered share, then, with
    that share held, the overall covered share (two solves, lexicographic).

    ``groups``: a label ``0 .. k-1`` per demand point (zone classes, or grids); groups without
    weight are ignored. ``objective``: the worst group's covered share.
    """

    def __init__(self, matrix: CostMatrix, weights: np.ndarray | None, *, p: int,
                 targets: np.ndarray | float, groups: np.ndarray,
                 fixed: Sequence[int] | np.ndarray = ()) -> None:
        super().__init__(matrix, weights, p=p, targets=targets, fixed=fixed)
        self.groups = np.asarray(groups, dtype=np.int64)

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        ns = self.matrix.n_sites
        pairs = self._cover_pairs()
        rows = np.unique(pairs.demand[self.weights[pairs.demand] > 0])
        nz = len(rows)
        integ, lb, ub = _x_vars(ns, self.fixed)
        n = ns + nz + 1  # x, z, s
        prog = _Program(c=np.concatenate([np.zeros(ns + nz), [-1.0]]),
                        integrality=np.concatenate([integ, np.zeros(nz + 1)]),
                        lb=np.concatenate([lb, np.zeros(nz + 1)]), ub=np.concatenate([ub, np.ones(nz + 1)]))
        prog.add(hstack([-_cover_rows(pairs, rows), _eye(nz), csr_matrix((nz, 1))]), -np.inf, 0.0)
        for g in range(int(self.groups.max(initial=-1)) + 1):
            total = self.weights[self.groups == g].sum()
            if total <= 0:
                continue
            coef = np.where(self.groups[rows] == g, self.weights[rows] / total, 0.0)
            prog.add(hstack([csr_matrix((1, ns)), csr_matrix(-coef[None, :]), csr_matrix([[1.0]])]),
                     -np.inf, 0.0)  # s <= share of group g
        prog.add(_sum_row(ns, nz + 1), self.total, self.total)
        t0 = time.perf_counter()
        v, obj, bound, status, _ = prog.solve(time_limit, mip_gap)
        assert v is not None
        worst, worst_bound = -obj, -bound
        # second stage: hold the worst share, maximise the overall covered share
        prog.c = np.concatenate([np.zeros(ns), -self.weights[rows] / self.weights.sum(), [0.0]])
        prog.lb[n - 1] = worst - 1e-7
        left = max(1.0, time_limit - (time.perf_counter() - t0))
        v2, _, _, status2, _ = prog.solve(left, mip_gap)
        assert v2 is not None
        sites = _chosen(v2, ns)
        stat = "optimal" if status == status2 == "optimal" else "time limit"
        return self._solution(sites, worst, worst_bound, stat, time.perf_counter() - t0, prog)


class CapacitatedMCLP(_Base):
    """Maximal covering where an open site serves at most ``capacity`` workload.

    ``load``: the workload of each demand point (e.g. incidents per hour); ``capacity``: what one
    open site can serve (same unit; one value, or one per site). Demand may be split between
    sites (a node's calls are a rate). ``objective``: the share of the weight served within
    target. Variables: ``x`` per site and a continuous share ``a_ij`` per pair within target.
    """

    def __init__(self, matrix: CostMatrix, weights: np.ndarray | None, *, p: int,
                 targets: np.ndarray | float, load: np.ndarray, capacity: np.ndarray | float,
                 fixed: Sequence[int] | np.ndarray = ()) -> None:
        super().__init__(matrix, weights, p=p, targets=targets, fixed=fixed)
        self.load = np.asarray(load, dtype=float)
        self.capacity = np.broadcast_to(np.asarray(capacity, dtype=float), (matrix.n_sites,)).copy()
        if self.load.shape != (matrix.n_demand,) or np.any(self.load < 0):
            raise ValueError("load needs one non-negative value per demand point")

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> Solution:
        ns = self.matrix.n_sites
        pairs = self._cover_pairs()
        pairs = pairs.restrict(self.weights[pairs.demand] > 0)
        npairs = len(pairs.cost)
        rows = np.unique(pairs.demand)
        integ, lb, ub = _x_vars(ns, self.fixed)
        wsum = self.weights.sum()
        k = np.arange(npairs)
        prog = _Program(c=np.concatenate([np.zeros(ns), -self.weights[pairs.demand] / wsum]),
                        integrality=np.concatenate([integ, np.zeros(npairs)]),
                        lb=np.concatenate([lb, np.zeros(npairs)]), ub=np.concatenate([ub, np.ones(npairs)]))
        where = np.full(self.matrix.n_demand, -1, dtype=np.int64)
        where[rows] = np.arange(len(rows))
        once = csr_matrix((np.ones(npairs), (where[pairs.demand], k)), shape=(len(rows), npairs))
        prog.add(hstack([csr_matrix((len(rows), ns)), once]), 0.0, 1.0)  # sum_i a_ij <= 1
        link = csr_matrix((np.concatenate([-np.ones(npairs), np.ones(npairs)]),
                           (np.concatenate([k, k]), np.concatenate([pairs.site, ns + k]))),
                          shape=(npairs, ns + npairs))
        prog.add(link, -np.inf, 0.0)  # a_ij <= x_i
        cap = csr_matrix((np.concatenate([-self.capacity, self.load[pairs.demand]]),
                          (np.concatenate([np.arange(ns), pairs.site]),
                           np.concatenate([np.arange(ns), ns + k]))),
                         shape=(ns, ns + npairs))
        prog.add(cap, -np.inf, 0.0)  # sum_j load_j a_ij <= capacity_i x_i
        prog.add(_sum_row(ns, npairs), self.total, self.total)
        v, obj, bound, status, secs = prog.solve(time_limit, mip_gap)
        assert v is not None
        sites = _chosen(v, ns)
        sol = self._solution(sites, -obj, -bound, status, secs, prog)
        # served share per demand point from the assignment; the largest share names its site
        served = np.bincount(pairs.demand, weights=v[ns:], minlength=self.matrix.n_demand)
        sol.covered = served > 1 - 1e-6
        self.served = served
        return sol


class MobileMCLP(_Base):
    """Maximal covering for platforms that move: each platform ``k`` stands at one site of its
    own allowed set (e.g. the sites within a drive of its home post), no two at one site.

    ``allowed``: a list, per platform, of the site indices it may stand at. ``objective``: the
    covered share. Variables: ``y_ki`` (binary) per allowed (platform, site) pair and ``z`` per
    demand row; a site is open when some platform stands there.
    """

    def __init__(self, matrix: CostMatrix, weights: np.ndarray | None, *,
                 targets: np.ndarray | float, allowed: Sequence[Sequence[int] | np.ndarray]) -> None:
        super().__init__(matrix, weights, targets=targets)
        self.allowed = [np.unique(np.asarray(a, dtype=np.int64)) for a in allowed]
        if any(len(a) == 0 for a in self.allowed):
            raise ValueError("every platform needs at least one allowed site")

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> tuple[Solution, np.ndarray]:
        """The solution and, per platform, the site it stands at."""
        ns = self.matrix.n_sites
        red = reduce_cover(self._cover_pairs(), self.weights, np.zeros(0, dtype=np.int64),
                           drop_dominated=False)
        nz = len(red.rows)
        plat = np.concatenate([np.full(len(a), k) for k, a in enumerate(self.allowed)])
        site = np.concatenate(self.allowed)
        ny = len(site)
        scale = red.weight.max() if nz else 1.0
        prog = _Program(c=np.concatenate([np.zeros(ny), -red.weight / scale]),
                        integrality=np.concatenate([np.ones(ny), np.zeros(nz)]),
                        lb=np.zeros(ny + nz), ub=np.ones(ny + nz))
        y_to_site = csr_matrix((np.ones(ny), (site, np.arange(ny))), shape=(ns, ny))  # x = sum_k y
        prog.add(hstack([csr_matrix((np.ones(ny), (plat, np.arange(ny))), shape=(len(self.allowed), ny)),
                         csr_matrix((len(self.allowed), nz))]), 1.0, 1.0)  # one site per platform
        prog.add(hstack([y_to_site, csr_matrix((ns, nz))]), 0.0, 1.0)  # one platform per site
        prog.add(hstack([-(red.cover @ y_to_site[red.sites]), _eye(nz)]), -np.inf, 0.0)
        v, obj, bound, status, secs = prog.solve(time_limit, mip_gap)
        assert v is not None
        on = v[:ny] > 0.5
        where = np.full(len(self.allowed), -1, dtype=np.int64)
        where[plat[on]] = site[on]
        wsum = self.weights.sum()
        sol = self._solution(np.unique(where), -obj * scale / wsum, -bound * scale / wsum, status, secs, prog)
        return sol, where


def day_moves(posts: Sequence[int], home: int, gaps: Sequence[bool]) -> int:
    """Moves of one platform in a day: changes of post in the cyclic sequence of the periods'
    posts, where ``gaps[t]`` says the platform is back at ``home`` between period ``t`` and the
    next (so going out to a post and back is two moves)."""
    seq: list[int] = []
    for t, p in enumerate(posts):
        seq.append(int(p))
        if gaps[t]:
            seq.append(int(home))
    return sum(seq[k] != seq[k - 1] for k in range(len(seq))) if len(seq) > 1 else 0


class DailyMobileMCLP:
    """Posts of moving platforms for every period of the day at once, with at most
    ``max_moves`` moves a day per platform (:func:`day_moves` counts them).

    ``matrices``/``weights``/``targets``: one per period, over the same candidate sites;
    ``allowed[t][k]``: the sites platform ``k`` may stand at in period ``t`` (its ``home[k]``
    among them); ``share``: each period's weight in the objective (e.g. its hours);
    ``gaps[t]``: the platforms are back home between period ``t`` and the next (cyclically).
    ``objective``: the share-weighted mean of the periods' covered shares. Variables:
    ``y_tki`` (binary) per allowed (period, platform, site), ``z`` per demand row and period,
    and a continuous change indicator per platform and pair of adjacent periods.
    """

    def __init__(self, matrices: Sequence[CostMatrix], weights: Sequence[np.ndarray],
                 targets: Sequence[np.ndarray | float], allowed: Sequence[Sequence[np.ndarray]],
                 home: Sequence[int] | np.ndarray, share: Sequence[float], gaps: Sequence[bool],
                 max_moves: int) -> None:
        self.n_periods = len(matrices)
        if not (len(weights) == len(targets) == len(allowed) == len(share) == len(gaps) == self.n_periods):
            raise ValueError("give matrices, weights, targets, allowed, share and gaps per period")
        self.models = [_Base(m, w, targets=t) for m, w, t in zip(matrices, weights, targets, strict=True)]
        self.home = np.asarray(home, dtype=np.int64)
        self.allowed = [[np.union1d(np.asarray(a, dtype=np.int64), [self.home[k]]) for k, a in enumerate(al)]
                        for al in allowed]
        self.share = np.asarray(share, dtype=float) / float(np.sum(share))
        self.gaps = [bool(g) for g in gaps]
        self.max_moves = int(max_moves)

    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-6) -> tuple[list[Solution], np.ndarray]:
        """One solution per period and ``where[t, k]``, the site of platform ``k`` in period ``t``."""
        nk, nt = len(self.home), self.n_periods
        ymap = [(t, k, int(i)) for t in range(nt) for k in range(nk) for i in self.allowed[t][k]]
        ny = len(ymap)
        yt = np.array([m[0] for m in ymap])
        yk = np.array([m[1] for m in ymap])
        yi = np.array([m[2] for m in ymap])
        reds = [reduce_cover(b._cover_pairs(), b.weights, np.zeros(0, dtype=np.int64), drop_dominated=False)
                for b in self.models]
        nzs = [len(r.rows) for r in reds]
        z0 = ny + np.concatenate([[0], np.cumsum(nzs)])
        # change indicators: one per platform and pair (t, t+1) without a gap between them
        adj = [t for t in range(nt) if not self.gaps[t] and nt > 1]
        c0 = int(z0[-1])
        nc = len(adj) * nk
        nv = c0 + nc
        cvec = np.zeros(nv)
        for t, r in enumerate(reds):
            cvec[z0[t]:z0[t + 1]] = -self.share[t] * r.weight / self.models[t].weights.sum()
        prog = _Program(c=cvec, integrality=np.concatenate([np.ones(ny), np.zeros(nv - ny)]),
                        lb=np.zeros(nv), ub=np.ones(nv))
        yidx = np.arange(ny)
        one_post = csr_matrix((np.ones(ny), (yt * nk + yk, yidx)), shape=(nt * nk, nv))
        prog.add(one_post, 1.0, 1.0)
        ns = self.models[0].matrix.n_sites
        prog.add(csr_matrix((np.ones(ny), (yt * ns + yi, yidx)), shape=(nt * ns, nv)), 0.0, 1.0)
        for t, r in enumerate(reds):
            sel = yt == t
            # cover of row j by y: cover[j, pos(site)] for y's site
            pos = np.full(ns, -1, dtype=np.int64)
            pos[r.sites] = np.arange(len(r.sites))
            ysite = csr_matrix((np.ones(int(sel.sum())), (pos[yi[sel]], yidx[sel])), shape=(len(r.sites), nv))
            block = -(r.cover @ ysite)
            zpart = csr_matrix((np.ones(nzs[t]), (np.arange(nzs[t]), z0[t] + np.arange(nzs[t]))),
                               shape=(nzs[t], nv))
            prog.add(block + zpart, -np.inf, 0.0)  # z_tj <= sum of y covering j
        lookup = {m: n for n, m in enumerate(ymap)}
        moves_rows: list[dict[int, float]] = [dict() for _ in range(nk)]
        const = np.zeros(nk)
        for k in range(nk):
            for t in range(nt):
                if self.gaps[t]:  # home between t and t+1: a move if away in t, one if away in t+1
                    for tt in (t, (t + 1) % nt):  # away = 1 - y_home
                        const[k] += 1.0
                        hv = lookup[(tt, k, int(self.home[k]))]
                        moves_rows[k][hv] = moves_rows[k].get(hv, 0.0) - 1.0
        for a_n, t in enumerate(adj):
            t2 = (t + 1) % nt
            for k in range(nk):
                cv = c0 + a_n * nk + k
                both = np.union1d(self.allowed[t][k], self.allowed[t2][k])
                rows_i, cols_i, vals = [], [], []
                for r_n, i in enumerate(both.tolist()):
                    for tt, sgn in ((t2, 1.0), (t, -1.0)):
                        n = lookup.get((tt, k, i))
                        if n is not None:
                            rows_i.append(r_n)
                            cols_i.append(n)
                            vals.append(sgn)
                    rows_i.append(r_n)
                    cols_i.append(cv)
                    vals.append(-1.0)
                # c >= y_t2i - y_ti for every site i
                prog.add(csr_matrix((vals, (rows_i, cols_i)), shape=(len(both), nv)), -np.inf, 0.0)
                moves_rows[k][cv] = moves_rows[k].get(cv, 0.0) + 1.0
        for k in range(nk):
            if not moves_rows[k]:
                continue
            cols = list(moves_rows[k])
            row = csr_matrix(([moves_rows[k][c] for c in cols], ([0] * len(cols), cols)), shape=(1, nv))
            prog.add(row, -np.inf, self.max_moves - const[k])
        v, obj, bound, status, secs = prog.solve(time_limit, mip_gap)
        assert v is not None
        on = v[:ny] > 0.5
        where = np.full((nt, nk), -1, dtype=np.int64)
        where[yt[on], yk[on]] = yi[on]
        sols = []
        for t, b in enumerate(self.models):
            sites = np.unique(where[t])
            _, _, covered = b._covered(sites)
            share = float(b.weights[covered].sum() / b.weights.sum())
            gap = 0.0 if status == "optimal" else _rel_gap(-obj, -bound)
            sols.append(b._solution(sites, share, share, status, secs, prog))
            sols[-1].gap = gap
        self.objective, self.bound = -obj, -bound
        return sols, where
