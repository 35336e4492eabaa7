"""Cost matrices for the location models: candidate sites x demand points, kept sparse.

A :class:`CostMatrix` holds only the pairs a model may use, as three flat arrays (site, demand,
cost), so a time of 0 (a site on the demand point itself) is a pair like any other, and a pair
that is absent is out of reach. Costs are seconds (travel times) or metres (distances), as the
caller says; the models never mix the two.

Built from a dense array (tests and small cases), from the project's travel-time oracle by
limited searches (:func:`oracle_matrix`), or from a planner's CSV (``site,demand,travel_s`` or
``site,demand,distance_m``, :func:`read_matrix_csv`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from sim.network.oracle import TravelTimeOracle

__all__ = ["CostMatrix", "oracle_matrix", "read_matrix_csv", "read_weights_csv"]


@dataclass(frozen=True)
class CostMatrix:
    """Reachable (site, demand) pairs and their cost.

    Attributes
    ----------
    n_sites, n_demand : numbers of candidate sites and demand points.
    site, demand : index of the site and of the demand point of each pair (int64).
    cost : cost of each pair (s or m; finite, not negative).
    unit : ``"s"`` or ``"m"``.
    """

    n_sites: int
    n_demand: int
    site: np.ndarray
    demand: np.ndarray
    cost: np.ndarray
    unit: str = "s"

    @classmethod
    def from_dense(cls, cost: np.ndarray, unit: str = "s") -> CostMatrix:
        """From a ``[site, demand]`` array; ``inf`` (or NaN) marks a pair out of reach."""
        cost = np.asarray(cost, dtype=float)
        i, j = np.nonzero(np.isfinite(cost))
        return cls(cost.shape[0], cost.shape[1], i.astype(np.int64), j.astype(np.int64),
                   cost[i, j], unit)

    def within(self, limit: np.ndarray | float) -> np.ndarray:
        """Mask of the pairs whose cost is at most ``limit`` (a scalar, or one value per demand)."""
        lim = np.broadcast_to(np.asarray(limit, dtype=float), (self.n_demand,))
        return np.asarray(self.cost <= lim[self.demand] + 1e-9, dtype=bool)

    def restrict(self, mask: np.ndarray) -> CostMatrix:
        """Only the pairs in ``mask``."""
        return CostMatrix(self.n_sites, self.n_demand, self.site[mask], self.demand[mask],
                          self.cost[mask], self.unit)

    def dense(self) -> np.ndarray:
        """The ``[site, demand]`` array with ``inf`` for absent pairs (small matrices only)."""
        out = np.full((self.n_sites, self.n_demand), np.inf)
        out[self.site, self.demand] = self.cost
        return out


def oracle_matrix(oracle: TravelTimeOracle, sites: np.ndarray, demand: np.ndarray, limit_s: float,
                  *, offset_s: float = 0.0, chunk: int = 256) -> CostMatrix:
    """Driving times (s) from each site node to each demand node, for pairs within ``limit_s``.

    One reverse search per demand node, limited to ``limit_s - offset_s`` (the largest target
    less the turnout), in chunks so the dense rows never exceed ``chunk`` x nodes. ``offset_s``
    (the unit type's turnout) is added to every cost.
    """
    sites = np.asarray(sites, dtype=np.int64)
    demand = np.asarray(demand, dtype=np.int64)
    pos = np.full(oracle.n, -1, dtype=np.int64)
    pos[sites] = np.arange(len(sites))
    parts_i, parts_j, parts_c = [], [], []
    reach = max(0.0, limit_s - offset_s)
    for a in range(0, len(demand), chunk):
        idx = demand[a:a + chunk]
        rows = dijkstra(oracle.reverse, directed=True, indices=idx, limit=reach)
        oracle.searches += len(idx)
        sub = rows[:, sites]
        jj, ii = np.nonzero(np.isfinite(sub))
        parts_i.append(ii)
        parts_j.append(jj + a)
        parts_c.append(sub[jj, ii] + offset_s)
    def cat(parts: list[np.ndarray], dt: type) -> np.ndarray:
        return np.concatenate(parts).astype(dt) if parts else np.zeros(0, dtype=dt)

    return CostMatrix(len(sites), len(demand), cat(parts_i, np.int64), cat(parts_j, np.int64),
                      cat(parts_c, float), "s")


class MatrixFileError(ValueError):
    """A problem in a matrix, weights or candidates CSV (the message names the file and line)."""


def read_matrix_csv(path: Path) -> tuple[CostMatrix, list[str], list[str]]:
    """``site,demand,travel_s`` or ``site,demand,distance_m`` rows: the matrix and the names of
    its sites and demand points (in order of first appearance)."""
    sites: dict[str, int] = {}
    demands: dict[str, int] = {}
    ii, jj, cc = [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        col = "travel_s" if "travel_s" in cols else "distance_m" if "distance_m" in cols else None
        if "site" not in cols or "demand" not in cols or col is None:
            raise MatrixFileError(f"{path}: line 1: the header must be 'site,demand,travel_s' or "
                                  f"'site,demand,distance_m' (got {','.join(cols)})")
        problems = []
        for row in reader:
            line = reader.line_num
            try:
                value = float(row[col])
            except (TypeError, ValueError):
                problems.append(f"{path}: line {line}: {col} {row.get(col)!r} is not a number")
                continue
            if not np.isfinite(value) or value < 0:
                problems.append(f"{path}: line {line}: {col} must be finite and not negative")
                continue
            ii.append(sites.setdefault(row["site"], len(sites)))
            jj.append(demands.setdefault(row["demand"], len(demands)))
            cc.append(value)
        if problems:
            raise MatrixFileError("\n".join(problems[:20]) + (
                f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""))
    if not cc:
        raise MatrixFileError(f"{path}: no rows")
    unit = "s" if col == "travel_s" else "m"
    return (CostMatrix(len(sites), len(demands), np.array(ii, dtype=np.int64),
                       np.array(jj, dtype=np.int64), np.array(cc), unit), list(sites), list(demands))


def read_weights_csv(path: Path, demand_names: list[str]) -> np.ndarray:
    """``demand,weight`` rows, in the order of ``demand_names`` (demand points not listed: 0)."""
    index = {n: k for k, n in enumerate(demand_names)}
    w = np.zeros(len(demand_names))
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"demand", "weight"} <= set(reader.fieldnames):
            raise MatrixFileError(f"{path}: line 1: the header must be 'demand,weight'")
        for row in reader:
            line = reader.line_num
            if row["demand"] not in index:
                raise MatrixFileError(f"{path}: line {line}: demand {row['demand']!r} is not in the matrix")
            try:
                v = float(row["weight"])
            except (TypeError, ValueError):
                raise MatrixFileError(f"{path}: line {line}: weight {row['weight']!r} is not a number"
                                      ) from None
            if not np.isfinite(v) or v < 0:
                raise MatrixFileError(f"{path}: line {line}: weight must be finite and not negative")
            w[index[row["demand"]]] = v
    if w.sum() <= 0:
        raise MatrixFileError(f"{path}: every weight is 0")
    return w
