"""Semantic rules the schema cannot express: cross-references between sections, one problem each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
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
# Cross-field checks that pydantic models cannot see on their own. Each yields (loc, message).

def _semantic_problems(s: Scenario) -> Iterable[tuple[tuple[Any, ...], str]]:
    total = sum(t.share for t in s.incident_types)
    if abs(total - 1.0) > 1e-6:
        yield ("incident_types",), f"incident type shares add up to {total:.4g}, not 1"
    seen: set[str] = set()
    for i, t in enumerate(s.incident_types):
        if t.name in seen:
            yield ("incident_types", i, "name"), f"incident type '{t.name}' is listed twice"
        seen.add(t.name)
    if s.run.warmup >= s.run.duration:
        yield ("run", "warmup"), (
            f"warm-up ({format_duration(s.run.warmup)}) must be shorter than the run "
            f"({format_duration(s.run.duration)})"
        )
    for i, j, d in key_location_overlaps(s.zones):
        if s.zones.key_overlap is None:
            a, b = s.zones.key_locations[i], s.zones.key_locations[j]
            yield ("zones", "key_locations", j), (
                f"key locations '{a.name}' and '{b.name}' overlap (centres {d:.0f} m apart, radii "
                f"{a.radius:g} m + {b.radius:g} m) and no rule says which one a point in both "
                "belongs to; shrink a radius, or add 'key_overlap: nearest' under zones (the "
                "nearer centre wins)")
    yield from _budget_problems(s)
    for i, name in enumerate(s.run.layouts or []):
        if name not in s.layouts:
            yield ("run", "layouts", i), _unknown("layout", name, s.layouts)
    if s.run.baseline is not None and s.run.baseline not in s.layout_names():
        yield ("run", "baseline"), _unknown("layout", s.run.baseline, s.layout_names())
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
    yield from _congestion_problems(s)
    yield from rural_problems(s)
    if s.sweep is not None:
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


