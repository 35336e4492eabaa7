"""Scenarios: YAML with lines → a validated :class:`Scenario` (the first layer of the data flow).

- ``errors``: :class:`ScenarioError` and how a key path and line are written.
- ``schema``: the pydantic models of every section, with quantities parsed from their units.
- ``rules``: cross-section rules the schema cannot express.
- ``rural``: the optional ``rural`` section (villages, village officers, the rural ladder).
- ``inheritance``: layouts that ``extends`` others.
- ``history``: the ``history:`` section (how a call log maps onto the scenario).
- ``budget``: the run-size estimate and its limits.
- ``staffing``: officers, shifts and crews of a platform, and the units they can keep on duty.
- ``source``: reading a file (or text), with the line of every key, into a :class:`LoadedScenario`.

Other layers import from this package, not from its modules.
"""

from sim.scenario.budget import check_budget, estimate_run
from sim.scenario.errors import ScenarioError, format_loc
from sim.scenario.history import HistoryColumns, HistorySpec
from sim.scenario.rural import RURAL_ZONE_CLASSES, VILLAGE_ROLE, RuralSpec
from sim.scenario.schema import (
    DEFAULT_SCENARIO,
    DISPATCH_POLICIES,
    PRIORITIES,
    ZONE_CLASSES,
    DispatchSpec,
    DistributionSpec,
    Scenario,
    Zones,
    ground_distance_m,
    layout_dispatch,
    minute_of_day,
)
from sim.scenario.source import LoadedScenario, load_scenario, load_scenario_text, validate_data
from sim.scenario.staffing import Staffing, crew_shortfall, officer_hours_per_day, staff_needed

__all__ = [
    "DEFAULT_SCENARIO",
    "DISPATCH_POLICIES",
    "PRIORITIES",
    "RURAL_ZONE_CLASSES",
    "VILLAGE_ROLE",
    "ZONE_CLASSES",
    "DispatchSpec",
    "DistributionSpec",
    "HistoryColumns",
    "HistorySpec",
    "LoadedScenario",
    "RuralSpec",
    "Scenario",
    "ScenarioError",
    "Staffing",
    "Zones",
    "check_budget",
    "crew_shortfall",
    "estimate_run",
    "format_loc",
    "ground_distance_m",
    "layout_dispatch",
    "load_scenario",
    "load_scenario_text",
    "minute_of_day",
    "officer_hours_per_day",
    "staff_needed",
    "validate_data",
]
