"""Run budget: estimate a run's events and memory before it starts, and refuse one over the limits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.quantities import (
    format_memory,
)
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    from sim.scenario.source import LoadedScenario






# ---------------------------------------------------------------------------------------------
# Resource budget: refuse a run that is too big before it starts

EVENTS_PER_INCIDENT = 3.0
"""Engine events per incident: the hand-over to police, the scene clearance, and the return."""

RECORD_BYTES = 250.0
"""Memory per incident record held by a batch (26 columns, with the CSV text written from it)."""


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost, estimated from the scenario alone (before the network is loaded).

    Attributes
    ----------
    incidents_per_replication : expected incidents in one replication of one variant.
    runs : engine runs (variants x layouts x replications).
    incidents : expected incidents over all runs.
    events : expected engine events over all runs.
    memory_bytes : expected memory for the records held by the batch (bytes).
    """

    incidents_per_replication: float
    runs: int
    incidents: float
    events: float
    memory_bytes: float

    def describe(self, s: Scenario, variants: int = 1) -> str:
        """One line: the estimate and what it is made of."""
        days = s.run.duration / 86400.0
        parts = [f"{s.demand.incidents_per_day:g} incidents a day x {days:g} days",
                 f"{s.run.replications} replication(s)", f"{len(s.layout_names())} layout(s)"]
        if variants > 1:
            parts.append(f"{variants} variants")
        return (f"about {self.incidents:.3g} incidents ({' x '.join(parts)}), "
                f"{self.events:.3g} engine events and {format_memory(self.memory_bytes)} of records")


def estimate_run(s: Scenario, *, variants: int = 1, demand_multiplier: float = 1.0) -> RunEstimate:
    """Estimate events and memory of a run of ``s`` (its ``run`` section, after any overrides).

    ``events ~ incidents x layouts x replications x variants x EVENTS_PER_INCIDENT`` and
    ``memory ~ the same incidents x RECORD_BYTES``. ``demand_multiplier`` is the largest demand
    multiplier of a sweep (its variants draw that many incidents).
    """
    per_rep = s.demand.incidents_per_day * demand_multiplier * s.run.duration / 86400.0
    runs = max(1, variants) * len(s.layout_names()) * s.run.replications
    incidents = per_rep * runs
    return RunEstimate(incidents_per_replication=per_rep, runs=runs, incidents=incidents,
                       events=incidents * EVENTS_PER_INCIDENT, memory_bytes=incidents * RECORD_BYTES)


def _budget_message(s: Scenario, est: RunEstimate, max_events: float, max_memory: float,
                    variants: int) -> str | None:
    over = []
    if est.events > max_events:
        over.append(f"{max_events:.3g} events")
    if est.memory_bytes > max_memory:
        over.append(f"{format_memory(max_memory)} of records")
    if not over:
        return None
    return (f"this run is too big: {est.describe(s, variants)}, over the budget of "
            f"{' and '.join(over)}. Shorten run.duration, run fewer replications or layouts, or "
            "raise the limits in run.budget (max_events, max_memory)")


def _budget_problems(s: Scenario) -> Iterable[tuple[tuple[Any, ...], str]]:
    if not s.layout_names() or any(n not in s.layouts for n in s.layout_names()):
        return  # reported elsewhere
    msg = _budget_message(s, estimate_run(s), s.run.budget.max_events, s.run.budget.max_memory, 1)
    if msg:
        yield ("run", "budget"), msg


def check_budget(loaded: LoadedScenario, *, variants: int = 1, demand_multiplier: float = 1.0,
                 max_events: float | None = None, max_memory: float | None = None) -> RunEstimate:
    """Refuse a run that would exceed its budget, before anything is simulated.

    Call it after command-line overrides (``--days``, ``--reps``, ``--layout``) are applied, and
    for a sweep with the number of variants and the largest demand multiplier. ``max_events`` and
    ``max_memory`` (bytes) override ``run.budget`` (e.g. from command-line flags).

    Returns
    -------
    RunEstimate
        The estimate, when it is within the budget.

    Raises
    ------
    ScenarioError
        Naming ``run.budget`` (or ``run`` if the file has no budget section) and its line.
    """
    s = loaded.scenario
    est = estimate_run(s, variants=variants, demand_multiplier=demand_multiplier)
    msg = _budget_message(s, est, max_events if max_events is not None else s.run.budget.max_events,
                          max_memory if max_memory is not None else s.run.budget.max_memory, variants)
    if msg:
        raise loaded.error(("run", "budget"), msg)
    return est
