"""One objective on one instance: pick the model, solve, and describe the answer in plain data.

The objectives (``run_sim.py optimize --objective``):

- ``coverage``: :class:`~sim.optimize.models.MCLP` with each demand point's own target (with
  ``capacity``: :class:`~sim.optimize.models.CapacitatedMCLP`);
- ``min-platforms``: :class:`~sim.optimize.models.LSCP`, full cover or a share per zone class;
- ``mean-time``: :class:`~sim.optimize.models.PMedian`; ``worst-time``:
  :class:`~sim.optimize.models.PCenter`;
- ``fair``: :class:`~sim.optimize.models.FairMCLP` over zone classes or grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.optimize.matrix import CostMatrix
from sim.optimize.models import LSCP, MCLP, CapacitatedMCLP, FairMCLP, PCenter, PMedian, Solution
from sim.scenario import ZONE_CLASSES

__all__ = ["OBJECTIVES", "Problem", "describe", "solve_objective"]

OBJECTIVES = ("coverage", "min-platforms", "mean-time", "worst-time", "fair")


@dataclass
class Problem:
    """The data an objective needs (from a scenario or from a planner's matrix).

    ``groups``/``group_names``: labels per demand point for shares (zone classes by default);
    ``load``/``capacity``: workload per demand point and per site for the capacitated variant;
    ``shares``: share of weight per group for ``min-platforms`` (``None``: full cover).
    """

    matrix: CostMatrix
    weights: np.ndarray
    targets: np.ndarray
    groups: np.ndarray
    group_names: list[str]
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    load: np.ndarray | None = None
    capacity: float | None = None
    shares: list[float] | None = None


def solve_objective(objective: str, prob: Problem, p: int | None, *, time_limit: float,
                    mip_gap: float = 1e-4) -> Solution:
    """Solve ``objective`` on ``prob`` opening ``p`` new sites (besides ``prob.fixed``)."""
    m, w, t, fixed = prob.matrix, prob.weights, prob.targets, prob.fixed
    if objective == "min-platforms":
        if prob.shares is None:
            return LSCP(m, w, targets=t, fixed=fixed).solve(time_limit, mip_gap)
        return LSCP(m, w, targets=t, fixed=fixed, groups=prob.groups,
                    shares=prob.shares).solve(time_limit, mip_gap)
    if p is None:
        raise ValueError(f"--objective {objective} needs --platforms K")
    if objective == "coverage":
        if prob.capacity is not None:
            assert prob.load is not None
            return CapacitatedMCLP(m, w, p=p, targets=t, load=prob.load, capacity=prob.capacity,
                                   fixed=fixed).solve(time_limit, mip_gap)
        return MCLP(m, w, p=p, targets=t, fixed=fixed).solve(time_limit, mip_gap)
    if objective == "mean-time":
        return PMedian(m, w, p=p, fixed=fixed).solve(time_limit, mip_gap)
    if objective == "worst-time":
        return PCenter(m, w, p=p, fixed=fixed).solve(time_limit, mip_gap)
    if objective == "fair":
        return FairMCLP(m, w, p=p, targets=t, groups=prob.groups, fixed=fixed).solve(time_limit, mip_gap)
    raise ValueError(f"unknown objective {objective!r}; objectives: {', '.join(OBJECTIVES)}")


def describe(objective: str, prob: Problem, sol: Solution) -> dict[str, Any]:
    """Objective, solve statistics and covered share per group (and overall) as plain data.

    For the mean- and worst-time models "covered" is judged by the same targets as the others
    (the nearest open site within the demand point's target)."""
    if objective in ("mean-time", "worst-time"):
        sol.covered = sol.assigned_cost <= prob.targets + 1e-9
    shares = sol.covered_share(prob.weights, prob.groups, len(prob.group_names))
    need = prob.weights > 0
    finite = np.isfinite(sol.assigned_cost) & need
    return {
        "objective": objective,
        "value": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "status": sol.status,
        "solve_s": sol.solve_s,
        "variables": sol.n_variables,
        "constraints": sol.n_constraints,
        "nonzeros": sol.n_nonzeros,
        "sites_open": len(sol.sites),
        "covered_share": sol.covered_share(prob.weights),
        "covered_share_by_group": {g: (None if np.isnan(v) else float(v))
                                   for g, v in zip(prob.group_names, np.atleast_1d(shares), strict=True)},
        "mean_cost": float(np.sum(prob.weights[finite] * sol.assigned_cost[finite])
                           / prob.weights[finite].sum()) if finite.any() else None,
        "worst_cost": float(sol.assigned_cost[finite].max()) if finite.any() else None,
        "unreached_share": float(prob.weights[need & ~finite].sum() / prob.weights.sum()),
        "cost_unit": prob.matrix.unit,
        "method": sol.notes.get("method", "HiGHS"),
        "reductions": {k: v for k, v in sol.notes.items() if k != "method"},
    }


def zone_names() -> list[str]:
    return list(ZONE_CLASSES)
