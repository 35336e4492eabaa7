"""Staffing of a platform: officers, shifts and crews, and the units they can keep on duty.

A platform's ``staffing`` (optional) gives its police and auxiliary officers, the number of shifts
they cover, the crew each unit type needs (e.g. a patrol car 1 police + 1 auxiliary, a motorcycle
1 auxiliary) and an absence factor for leave, training and sickness. Shaoyang's published figures
for a 2017 platform are 6-8 police and 24 auxiliaries over three shifts.

Officers on hand per shift are ``floor(staff * (1 - absence) / shifts)`` of each kind. A roster
(units on duty per shift) is crewable when its crews fit those numbers; the schema refuses one
that is not. This is the Patrol Car Allocation Model's question: staff, not only vehicles.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Crew", "Staffing", "crew_shortfall", "officer_hours_per_day", "staff_needed",
           "units_on_duty"]

_Count = Annotated[int, Field(ge=0, le=10_000)]


class Crew(BaseModel):
    """Officers one unit of a type needs on duty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    police: int = Field(default=0, ge=0, le=20)
    auxiliary: int = Field(default=0, ge=0, le=20)

    @property
    def size(self) -> int:
        return self.police + self.auxiliary


class Staffing(BaseModel):
    """A platform's officers: ``{police: 8, auxiliaries: 24, shifts: 3, absence: 0.15,
    crew: {patrol_car: {police: 1, auxiliary: 1}, patrol_motorcycle: {auxiliary: 1}}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    police: _Count
    auxiliaries: _Count = 0
    shifts: int = Field(default=3, ge=1, le=12)
    absence: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of officers away (leave, training, sickness) on a typical day."""
    crew: dict[str, Crew] = Field(default_factory=dict)
    """Crew per unit type; types not listed need no officers (e.g. the platform vehicle)."""

    @model_validator(mode="after")
    def _check(self) -> Staffing:
        if self.police + self.auxiliaries == 0:
            raise ValueError("staffing needs at least one officer")
        return self

    def per_shift(self) -> tuple[int, int]:
        """Police and auxiliaries on hand in each shift."""
        f = (1.0 - self.absence) / self.shifts
        return math.floor(self.police * f + 1e-9), math.floor(self.auxiliaries * f + 1e-9)


def crew_shortfall(staffing: Staffing, units: dict[str, int]) -> tuple[int, int]:
    """Police and auxiliaries missing to crew ``units`` in one shift (0, 0: crewable)."""
    police, aux = staffing.per_shift()
    need_p = sum(staffing.crew[t].police * n for t, n in units.items() if t in staffing.crew)
    need_a = sum(staffing.crew[t].auxiliary * n for t, n in units.items() if t in staffing.crew)
    return max(0, need_p - police), max(0, need_a - aux)


def units_on_duty(staffing: Staffing, order: list[str]) -> dict[str, int]:
    """The most units per shift the staff can crew, filling the types in ``order`` one unit at
    a time in turn (so the mix stays balanced); types without a crew are left out."""
    police, aux = staffing.per_shift()
    out = {t: 0 for t in order if t in staffing.crew}
    grew = True
    while grew:
        grew = False
        for t in out:
            c = staffing.crew[t]
            if c.size and c.police <= police and c.auxiliary <= aux:
                out[t] += 1
                police -= c.police
                aux -= c.auxiliary
                grew = True
    return out


def staff_needed(staffing: Staffing, units: dict[str, int]) -> tuple[int, int]:
    """Police and auxiliaries a platform needs to keep ``units`` on duty in every shift."""
    need_p = sum(staffing.crew[t].police * n for t, n in units.items() if t in staffing.crew)
    need_a = sum(staffing.crew[t].auxiliary * n for t, n in units.items() if t in staffing.crew)
    f = staffing.shifts / (1.0 - staffing.absence)
    return math.ceil(need_p * f - 1e-9), math.ceil(need_a * f - 1e-9)


def officer_hours_per_day(staffing: Staffing, units: dict[str, int]) -> float:
    """Officer-hours on duty per day to keep ``units`` on the street around the clock."""
    return 24.0 * sum(staffing.crew[t].size * n for t, n in units.items() if t in staffing.crew)
