"""Semantic rules the schema cannot express: cross-references between sections, one problem each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from sim.quantities import (
    format_duration,
)
from sim.scenario.budget import _budget_problems
from sim.scenario.errors import _unknown
from sim.scenario.rural import rural_problems
from sim.scenario.schema import Layout, Scenario, _window_mask, key_location_overlaps, minute_of_day

# ---------------------------------------------------------------------------------------------
# Cross-field checks that pydantic models cannot see on their own. Each rule yields (loc, message)
# and names the sections it reads, so that it still runs when other sections failed the schema.

Problem = tuple[tuple[Any, ...], str]


def _incident_type_problems(s: Scenario) -> Iterable[Problem]:
    total = sum(t.share for t in s.incident_types)
    if abs(total - 1.0) > 1e-6:
        yield ("incident_types",), f"incident type shares add up to {total:.4g}, not 1"
    seen: set[str] = set()
    for i, t in enumerate(s.incident_types):
        if t.name in seen:
            yield ("incident_types", i, "name"), f"incident type '{t.name}' is listed twice"
        seen.add(t.name)


def _warmup_problems(s: Scenario) -> Iterable[Problem]:
    if s.run.warmup >= s.run.duration:
        yield ("run", "warmup"), (
            f"warm-up ({format_duration(s.run.warmup)}) must be shorter than the run "
            f"({format_duration(s.run.duration)})"
        )


def _key_location_problems(s: Scenario) -> Iterable[Problem]:
    names: dict[str, int] = {}
    for j, k in enumerate(s.zones.key_locations):
        if k.name in names:
            yield ("zones", "key_locations", j, "name"), (
                f"key location '{k.name}' is listed twice (also zones.key_locations[{names[k.name]}]); "
                "give each key location its own name: results and presence are reported by name")
        names.setdefault(k.name, j)
    for i, j, d in key_location_overlaps(s.zones):
        if s.zones.key_overlap is None:
            a, b = s.zones.key_locations[i], s.zones.key_locations[j]
            yield ("zones", "key_locations", j), (
                f"key locations '{a.name}' and '{b.name}' overlap (centres {d:.0f} m apart, radii "
                f"{a.radius:g} m + {b.radius:g} m) and no rule says which one a point in both "
                "belongs to; shrink a radius, or add 'key_overlap: nearest' under zones (the "
                "nearer centre wins)")


def _run_layout_problems(s: Scenario) -> Iterable[Problem]:
    for i, name in enumerate(s.run.layouts or []):
        if name not in s.layouts:
            yield ("run", "layouts", i), _unknown("layout", name, s.layouts)
    if s.run.baseline is not None and s.run.baseline not in s.layout_names():
        yield ("run", "baseline"), _unknown("layout", s.run.baseline, s.layout_names())


def _platform_problems(s: Scenario) -> Iterable[Problem]:
    for lname, layout in s.layouts.items():
        names: set[str] = set()
        for i, p in enumerate(layout.platforms):
            if p.name in names:
                yield ("layouts", lname, "platforms", i, "name"), f"platform '{p.name}' is listed twice"
            names.add(p.name)
            for utype in p.units:
                if utype not in s.unit_types:
                    yield ("layouts", lname, "platforms", i, "units", utype), _unknown(
                        "unit type", utype, s.unit_types
                    )
        if sum(sum(p.units.values()) for p in layout.platforms) == 0:
            yield ("layouts", lname), "layout has no units at all: give at least one platform a unit"
        yield from _layout_problems(s, lname, layout)


def dispatchable_units(s: Scenario, layout: Layout) -> int:
    """The most response units ``layout`` has on duty at once (over its shifts): the most it can
    ever send to one job. Platform vehicles and volunteers are never dispatched."""
    def response(counts: dict[str, int]) -> int:
        return sum(n for t, n in counts.items()
                   if t in s.unit_types and s.unit_types[t].role == "response")

    best = 0
    for shift in range(len(s.shifts.starts)):
        on_duty = 0
        for p in layout.platforms:
            by_shift = p.units_by_shift
            counts = by_shift[shift] if by_shift is not None and shift < len(by_shift) else p.units
            on_duty += response(counts)
        best = max(best, on_duty)
    return best


def _capacity_problems(s: Scenario) -> Iterable[Problem]:
    """A job type needing more units than a layout can ever send would get the same units twice."""
    need = max(s.incident_types, key=lambda t: t.units_required)
    for lname, layout in s.layouts.items():
        have = dispatchable_units(s, layout)
        if 0 < have < need.units_required:
            i = s.incident_types.index(need)
            yield ("incident_types", i, "units_required"), (
                f"incident type '{need.name}' needs {need.units_required} units but layout "
                f"'{lname}' can send at most {have} (its response units on duty at once); lower "
                f"units_required or add units to '{lname}'")


def _sweep_problems(s: Scenario) -> Iterable[Problem]:
    if s.sweep is None:
        return
    for utype, counts in s.sweep.units.items():
        if utype not in s.unit_types:
            yield ("sweep", "units", utype), _unknown("unit type", utype, s.unit_types)
        elif not counts:
            yield ("sweep", "units", utype), "give at least one count"
    for key, values in s.sweep.parameters.items():
        if not isinstance(values, list) or not values:
            yield ("sweep", "parameters", key), "give a list of at least one value"


def _congestion_problems(s: Scenario) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Congestion periods: readable windows that do not overlap, factors in (0, 1], a default."""
    minutes = np.arange(1440)
    taken = np.full(1440, -1, dtype=np.int64)
    names: set[str] = set()
    for i, p in enumerate(s.congestion.periods):
        loc = ("congestion", "periods", i)
        if p.name in names:
            yield (*loc, "name"), f"congestion period '{p.name}' is listed twice"
        names.add(p.name)
        if "default" not in p.speed_factor:
            yield (*loc, "speed_factor"), ("speed_factor needs a 'default' entry for road classes "
                                           "not listed (e.g. default: 0.8)")
        for cls, f in p.speed_factor.items():
            if not (math.isfinite(f) and 0.0 < f <= 1.0):
                yield (*loc, "speed_factor", cls), (
                    f"a congestion speed factor must be above 0 and at most 1 (1 = free flow), "
                    f"got {f:g}")
            elif cls != "default" and cls not in s.network.speeds:
                yield (*loc, "speed_factor", cls), _unknown(
                    "road class (from network.speeds)", str(cls),
                    [c for c in s.network.speeds if c != "default"])
        bad = False
        for j, t in enumerate(p.hours):
            try:
                minute_of_day(t)
            except ValueError as exc:
                bad = True
                yield (*loc, "hours", j), str(exc)
        if bad:
            continue
        mask = _window_mask(minutes, *p.hours)
        clash = taken[mask]
        if (clash >= 0).any():
            other = s.congestion.periods[int(clash[clash >= 0][0])]
            yield (*loc, "hours"), (
                f"congestion period '{p.name}' ({p.hours[0]}-{p.hours[1]}) overlaps period "
                f"'{other.name}' ({other.hours[0]}-{other.hours[1]}); periods must not overlap")
        else:
            taken[mask] = i


def _layout_problems(s: Scenario, lname: str, layout: Layout) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Shift staffing, mobile posts and volunteer teams of one layout."""
    for i, p in enumerate(layout.platforms):
        ploc = ("layouts", lname, "platforms", i)
        if p.units_by_shift is not None:
            if len(p.units_by_shift) != len(s.shifts.starts):
                yield (*ploc, "units_by_shift"), (
                    f"give one entry per shift: {len(s.shifts.starts)} shift(s) start at "
                    f"{', '.join(s.shifts.starts)}, got {len(p.units_by_shift)}")
            for k, counts in enumerate(p.units_by_shift):
                for utype, n in counts.items():
                    if n > p.units.get(utype, 0):
                        yield (*ploc, "units_by_shift", k, utype), (
                            f"{n} {utype} on duty but the platform has only {p.units.get(utype, 0)}")
        taken = np.zeros(1440, dtype=bool)
        for j, post in enumerate(p.posts_by_time):
            try:
                a, z = (minute_of_day(t) for t in post.hours)
            except ValueError as exc:
                yield (*ploc, "posts_by_time", j, "hours"), str(exc)
                continue
            window = (np.arange(1440) - a) % 1440 < ((z - a) % 1440 or 1440)
            if (window & taken).any():
                yield (*ploc, "posts_by_time", j, "hours"), (
                    "this window overlaps another of the platform's posts_by_time")
            taken |= window
        for utype in p.units:
            if utype in s.unit_types and s.unit_types[utype].role == "volunteer":
                yield (*ploc, "units", utype), (
                    "volunteer teams go under the layout's 'volunteers', not a platform's units")
    for i, team in enumerate(layout.volunteers):
        tloc = ("layouts", lname, "volunteers", i)
        ut = s.unit_types.get(team.unit_type)
        if ut is None:
            yield (*tloc, "unit_type"), _unknown("unit type", team.unit_type, s.unit_types)
        elif ut.role != "volunteer":
            yield (*tloc, "unit_type"), (
                f"unit type '{team.unit_type}' has role '{ut.role}'; volunteer teams need a unit type "
                "with role: volunteer")
        for j, t in enumerate(team.hours):
            try:
                minute_of_day(t)
            except ValueError as exc:
                yield (*tloc, "hours", j), str(exc)


RULES: tuple[tuple[frozenset[str], Callable[[Scenario], Iterable[Problem]]], ...] = (
    (frozenset({"incident_types"}), _incident_type_problems),
    (frozenset({"run"}), _warmup_problems),
    (frozenset({"zones"}), _key_location_problems),
    (frozenset({"run", "layouts", "demand"}), _budget_problems),
    (frozenset({"run", "layouts"}), _run_layout_problems),
    (frozenset({"layouts", "unit_types", "shifts"}), _platform_problems),
    (frozenset({"layouts", "unit_types", "shifts", "incident_types"}), _capacity_problems),
    (frozenset({"congestion", "network"}), _congestion_problems),
    (frozenset({"sweep", "unit_types"}), _sweep_problems),
    (frozenset({"rural", "unit_types", "incident_types", "zones", "layouts"}), rural_problems),
)
"""Each rule with the top-level sections it reads; a rule runs when all of them are valid."""


def _semantic_problems(s: Scenario, invalid: frozenset[str] = frozenset()) -> Iterable[Problem]:
    """Every cross-section problem of ``s``, skipping rules that read a section in ``invalid``
    (one that failed the schema, so that ``s`` was built without validating it)."""
    for needs, rule in RULES:
        if not needs & invalid:
            yield from rule(s)
