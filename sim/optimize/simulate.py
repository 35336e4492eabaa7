"""Choosing among layouts by simulation: common random numbers and Kim-Nelson selection.

Replication ``r`` of every layout sees the same incidents and service times (the study layer
draws them once per replication and shares them), so the selection works on paired differences.
The output compared is each replication's overall compliance (share of counted incidents reached
within their zone's target).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim.network.graph import RoadNetwork
from sim.optimize.selection import Selection, kim_nelson
from sim.scenario import ZONE_CLASSES, LoadedScenario
from sim.study.experiment import PieceRunner, RunOptions, StudySpec, apply_overrides
from sim.world.prepare import World

__all__ = ["ladder_coverage", "replication_sampler", "select_by_simulation"]


def ladder_coverage(world: World, layout: str) -> dict[str, float]:
    """Static coverage with the target ladder: the share of demand weight some dispatchable unit
    of ``layout`` reaches from its post (turnout + free-flow drive) within its zone's target,
    per zone class and overall."""
    fleet = world.fleets[layout]
    disp = fleet.dispatchable
    best = (world.post_times(layout)[:, disp] + fleet.turnout_s[disp]).min(axis=1)
    covered = best <= world.zones.targets[world.zones.zone] + 1e-9
    out = {}
    for zi, z in enumerate(ZONE_CLASSES):
        sel = world.zones.zone == zi
        tot = world.weights[sel].sum()
        out[z] = float(world.weights[sel & covered].sum() / tot) if tot > 0 else math.nan
    out["all"] = float(world.weights[covered].sum() / world.weights.sum())
    return out


def replication_sampler(loaded: LoadedScenario, net: RoadNetwork, layouts: list[str],
                        zone: str = "all") -> tuple[Callable[[int, Sequence[int]], list[float]], PieceRunner]:
    """``sample(r, systems)``: compliance in ``zone`` of ``layouts[i]`` in replication ``r``, each
    replication's incidents drawn once and shared by every layout (common random numbers)."""
    spec = StudySpec(str(loaded.path), RunOptions(layouts=tuple(layouts)), sweep=False)
    state = PieceRunner(spec, loaded=loaded, net=net)

    def sample(r: int, systems: Sequence[int]) -> list[float]:
        out = []
        for i in systems:
            rows = state.run(0, layouts[i], r).rows
            value = next(row["compliance"] for row in rows if row["zone"] == zone)
            out.append(0.0 if value is None or math.isnan(value) else float(value))
        return out

    return sample, state


def select_by_simulation(loaded: LoadedScenario, net: RoadNetwork, layouts: list[str], *,
                         delta: float, pcs: float, n0: int, max_reps: int,
                         days: float | None = None,
                         progress: Callable[[str], None] | None = None) -> tuple[Selection, World]:
    """Run the KN procedure over ``layouts`` (names in ``loaded``) and return its selection and
    the prepared world (for static coverage beside it)."""
    loaded = apply_overrides(loaded, RunOptions(layouts=tuple(layouts), replications=1,
                                                duration_s=days * 86400.0 if days else None))
    sample, state = replication_sampler(loaded, net, layouts)

    def said(r: int, alive: list[int]) -> None:
        if progress:
            progress(f"  selection: {r} replications, {len(alive)} layout(s) left: "
                     + ", ".join(layouts[i] for i in alive[:6]) + (" ..." if len(alive) > 6 else ""))

    sel = kim_nelson(sample, len(layouts), delta=delta, pcs=pcs, n0=n0, max_reps=max_reps, progress=said)
    return sel, state.world(0)


def selection_report(sel: Selection, layouts: list[str], static: dict[str, dict[str, float]]
                     ) -> tuple[dict[str, Any], list[str]]:
    """The selection as plain data and as printed lines (static and simulated side by side)."""
    diffs = sel.differences()
    rows = []
    for i, name in enumerate(layouts):
        d = next((x for x in diffs if x["system"] == i), None)
        gone = sel.eliminated[i]
        rows.append({"layout": name, "static_coverage": static[name]["all"],
                     "simulated_compliance": float(sel.means[i]), "replications": int(sel.reps[i]),
                     "eliminated_at": gone[0] if gone is not None else None,
                     "chosen_minus_this": d["difference"] if d else None,
                     "ci_low": d["ci_low"] if d else None, "ci_high": d["ci_high"] if d else None})
    lines = [f"\nselection (Kim-Nelson, indifference zone {sel.delta * 100:g} pp, PCS >= {sel.pcs:g}, "
             f"n0 = {sel.n0}):",
             f"{'layout':<40} {'static cov':>10} {'simulated':>10} {'reps':>5}  chosen minus this (95% CI)"]
    order = np.argsort(-sel.means, kind="stable")
    for i in order:
        r = rows[i]
        diff = ("(chosen)" if i == sel.best else
                f"{r['chosen_minus_this'] * 100:+.2f} pp "
                f"[{r['ci_low'] * 100:+.2f}, {r['ci_high'] * 100:+.2f}]"
                if r["ci_low"] is not None and not math.isnan(r["ci_low"]) else "n/a")
        lines.append(f"{r['layout']:<40} {r['static_coverage']:>10.1%} {r['simulated_compliance']:>10.1%} "
                     f"{r['replications']:>5}  {diff}")
    lines.append(f"chosen: {layouts[sel.best]} (probability of correct selection >= {sel.pcs:g} when the "
                 f"best is at least {sel.delta * 100:g} pp ahead)")
    lines.append(f"replications: {sel.total_reps} spent, against {sel.equal_total} for an equal "
                 f"allocation with the same guarantee ({sel.equal_allocation} per layout)")
    data = {"chosen": layouts[sel.best], "delta": sel.delta, "pcs": sel.pcs, "n0": sel.n0,
            "replications_spent": sel.total_reps, "equal_allocation_total": sel.equal_total,
            "equal_allocation_per_layout": sel.equal_allocation, "layouts": rows}
    return data, lines
