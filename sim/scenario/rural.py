"""The ``rural`` section: villages with one resident auxiliary officer each (一村一辅警), township
and village zone classes with their response ladder, and which incidents a village officer may
take first.

The village role is **modelled from public descriptions** of Shaoyang's system (press and
government reports of the 2017 reform: one auxiliary officer living in each administrative
village and working from a village work station, 辅警工作站; first on scene for disputes and help
requests, handing over to township police for the rest). No operational data stands behind the
defaults; a planner should replace them with local figures.

An example::

    rural:
      note: "village role modelled from public descriptions"
      villages: {generate: county}          # or {file: villages.csv}
      village_radius: "1200 m"
      townships:
        - {name: "Liantang (廉桥)", lon: 111.8, lat: 27.3, radius: "1500 m"}
      ladder:
        township: ["10 min", "20 min", "30 min"]
        village: ["10 min", "20 min", "30 min"]
      targets: {township: "10 min", village: "15 min"}   # default: each ladder's first step
      officer:
        mode: e-bike
        turnout: "2 min"
        duty: {on_duty: ["08:00", "20:00"], on_call: ["20:00", "08:00"], on_call_delay: "10 min"}
        first_on: [dispute, help_request, noise]
        closes: [noise]
      cross_county: urgent_only

This module does not import :mod:`sim.scenario.schema` (the schema imports it), so it keeps its
own two quantity annotations, parsed by :mod:`sim.quantities` like the schema's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from sim.quantities import (
    format_distance,
    format_duration,
    format_speed,
    parse_distance,
    parse_duration,
    parse_speed,
)
from sim.scenario.errors import FieldProblem

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

__all__ = [
    "MODE_SPEEDS_KMH",
    "RURAL_ROAD_CLASSES",
    "RURAL_ZONE_CLASSES",
    "VILLAGE_ROLE",
    "RuralSpec",
    "rural_problems",
]

_Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
_Distance = Annotated[float, BeforeValidator(parse_distance), PlainSerializer(format_distance)]
_Speed = Annotated[float, BeforeValidator(parse_speed), PlainSerializer(format_speed)]

VILLAGE_ROLE = "village_auxiliary"
"""The unit role of a village auxiliary officer (村辅警)."""

RURAL_ZONE_CLASSES: tuple[str, ...] = ("township", "village")
"""Zone classes of the rural ladder. A point is ``township`` within a township's radius, else
``village`` within ``village_radius`` of a village centre; the urban classes (key, central) win
over both, and both win over ``other``."""

MODE_SPEEDS_KMH: dict[str, float] = {"foot": 5.0, "e-bike": 18.0, "motorcycle": 35.0}
"""Default travel speed of a village officer by mode (km/h), used when ``officer.speed`` is not
given. Assumed typical speeds on village roads, not measured."""

RURAL_ROAD_CLASSES: dict[str, str] = {
    "county road (县道)": "tertiary", "township road (乡道)": "unclassified",
    "village road (村道)": "unclassified", "track (机耕道)": "track",
}
"""How Chinese rural road grades map onto OSM ``highway`` classes (as in the synthetic county):
give their speeds in ``network.speeds``. Listing ``track`` there is what keeps tracks in the
network (they are dropped otherwise)."""

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class VillageSource(_Model):
    """Where the villages come from: a CSV file (columns ``name, lon, lat, population``, optional
    ``county``), or ``generate: county`` for the synthetic county's villages (seed and size from
    ``network``)."""

    file: str | None = None
    generate: Literal["county"] | None = None

    @model_validator(mode="after")
    def _one(self) -> VillageSource:
        if (self.file is None) == (self.generate is None):
            raise FieldProblem("file", "give exactly one of 'file' (a CSV of villages) or "
                                       "'generate: county'")
        return self


class TownshipZone(_Model):
    """A township seat (乡镇) with its police station: the ``township`` zone is a disc about it."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    radius: _Distance = Field(gt=0.0, le=20_000.0)


class County(_Model):
    """A county (or the urban districts) of the city: its seat, and the radius of its town.

    A road node belongs to the county of the nearest seat; it is urban within ``town_radius`` of
    it (or inside ``zones.central_city``), rural otherwise (``road_speeds`` apply there)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    lon: float = Field(ge=-180.0, le=180.0)
    lat: float = Field(ge=-90.0, le=90.0)
    town_radius: _Distance = Field(default="3 km", gt=0.0, le=50_000.0)  # type: ignore[assignment]  # parsed from its unit


class DutySchedule(_Model):
    """When a village officer works: on duty in ``on_duty`` (HH:MM to HH:MM, may wrap past
    midnight), on call in ``on_call`` (answers with ``on_call_delay`` added to the turnout),
    unavailable otherwise."""

    on_duty: tuple[str, str] = ("08:00", "20:00")
    on_call: tuple[str, str] | None = ("20:00", "08:00")
    on_call_delay: _Duration = Field(default="10 min", ge=0.0, le=4 * 3600.0)  # type: ignore[assignment]  # parsed from its unit

    @model_validator(mode="after")
    def _check(self) -> DutySchedule:
        import numpy as np

        from sim.scenario.schema import _window_mask, minute_of_day  # here: schema imports us

        windows = [("on_duty", self.on_duty)] + ([("on_call", self.on_call)] if self.on_call else [])
        for key, w in windows:
            for j, t in enumerate(w):
                try:
                    minute_of_day(t)
                except ValueError as exc:
                    raise FieldProblem((key, j), str(exc)) from None
        if self.on_call is not None:
            minutes = np.arange(1440)
            if (_window_mask(minutes, *self.on_duty) & _window_mask(minutes, *self.on_call)).any():
                raise FieldProblem("on_call", "on-call hours overlap the on-duty hours")
        return self


    def masks(self) -> tuple[Any, Any]:
        """``(on_duty, on_call)``: ``[1440]`` boolean arrays by minute of the day."""
        import numpy as np

        from sim.scenario.schema import _window_mask

        minutes = np.arange(1440)
        call = (_window_mask(minutes, *self.on_call) if self.on_call is not None
                else np.zeros(1440, dtype=bool))
        return _window_mask(minutes, *self.on_duty), call


class VillageOfficer(_Model):
    """The village auxiliary officer (村辅警): one per village, living at the village station.

    ``first_on`` lists the incident types the officer may take first (e.g. disputes, help
    requests); for every other type the police are sent alone and the officer's presence is not
    counted. ``closes`` is the subset the officer finishes without the police (minor jobs); for
    the rest of ``first_on`` the police still come and the officer holds the scene until they do.
    """

    role: Literal["village_auxiliary"] = "village_auxiliary"
    mode: Literal["foot", "e-bike", "motorcycle"] = "e-bike"
    speed: _Speed | None = Field(default=None, gt=0.0, le=120 / 3.6)
    """Travel speed (default by mode, :data:`MODE_SPEEDS_KMH`)."""
    detour: float = Field(default=1.3, ge=1.0, le=3.0)
    """Road distance over straight-line distance inside the village area."""
    turnout: _Duration = Field(default="2 min", ge=0.0, le=3600.0)  # type: ignore[assignment]  # parsed from its unit
    duty: DutySchedule = Field(default_factory=DutySchedule)
    first_on: list[str] = Field(min_length=1)
    closes: list[str] = Field(default_factory=list)

    @property
    def speed_mps(self) -> float:
        """The officer's speed (m/s)."""
        return self.speed if self.speed is not None else MODE_SPEEDS_KMH[self.mode] / 3.6


def _default_ladder() -> dict[Literal["township", "village"], list[float]]:
    return {"township": [600.0, 1200.0, 1800.0], "village": [600.0, 1200.0, 1800.0]}


class RuralSpec(_Model):
    """The rural part of a scenario (see the module docstring for an example)."""

    note: str = ""
    """Say where the rural model comes from (e.g. "modelled from public descriptions")."""
    villages: VillageSource
    village_radius: _Distance = Field(default="1200 m", gt=0.0, le=10_000.0)  # type: ignore[assignment]  # parsed from its unit
    """A point within this distance of a village centre is in the ``village`` zone class and
    belongs to that village (the nearest centre wins)."""
    townships: list[TownshipZone] = Field(default_factory=list)
    ladder: dict[Literal["township", "village"], list[_Duration]] = Field(
        default_factory=_default_ladder)
    """Response ladder by rural zone class: the share of police arrivals within each step is
    reported (default 10/20/30 min)."""
    targets: dict[Literal["township", "village"], _Duration] = Field(default_factory=dict)
    """Response-time target by rural zone class (``target_s`` and ``target_met`` of the records
    for incidents in a township or village outside the urban zones); default: the first step of
    the class's ladder."""
    officer: VillageOfficer
    counties: list[County] = Field(default_factory=list)
    road_speeds: dict[str, _Speed] = Field(default_factory=dict)
    """Speeds on rural roads by OSM class (e.g. ``tertiary`` county roads, ``unclassified``
    village roads, ``track``), used instead of ``network.speeds`` on roads outside every county
    town and the central city; classes not listed keep their ``network.speeds`` speed."""
    without_officers: list[str] = Field(default_factory=list)
    """Layouts run without village officers, to compare with the others on the same calls."""
    cross_county: Literal["never", "urgent_only", "always"] = "urgent_only"
    """May a unit answer a call in a neighbouring county: never, for urgent jobs only, or always."""

    @model_validator(mode="after")
    def _check(self) -> RuralSpec:
        for zc in RURAL_ZONE_CLASSES:
            steps = self.ladder.get(zc)  # type: ignore[call-overload]
            if not steps:
                raise FieldProblem("ladder", f"ladder needs steps for zone class '{zc}', "
                                             "e.g. [\"10 min\", \"20 min\", \"30 min\"]")
            if any(not 0 < t <= 86400.0 for t in steps) or list(steps) != sorted(set(steps)):
                raise FieldProblem(("ladder", zc), "ladder steps must be increasing positive "
                                                   "durations of at most a day")
        for zc, target in self.targets.items():
            if not 0 < target <= 86400.0:
                raise FieldProblem(("targets", zc), "a target must be a positive duration of at "
                                                    "most a day")
        return self

    def target_of(self, zone_class: str) -> float:
        """The response-time target (s) of a rural zone class (see ``targets``)."""
        got = self.targets.get(zone_class)  # type: ignore[call-overload]
        return float(got) if got is not None else float(self.ladder[zone_class][0])  # type: ignore[index]


def rural_problems(s: Scenario) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Cross-section checks of the ``rural`` section: incident type names, one problem each."""
    r = s.rural
    if r is None:
        return
    names = [t.name for t in s.incident_types]
    for key in ("first_on", "closes"):
        for i, name in enumerate(getattr(r.officer, key)):
            if name not in names:
                hint = difflib.get_close_matches(name, names, n=1)
                yield ("rural", "officer", key, i), (
                    f"unknown incident type '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                    + f"; known: {', '.join(names)}")
            elif key == "closes" and name not in r.officer.first_on:
                yield ("rural", "officer", key, i), (
                    f"the officer can close '{name}' only if it is also in first_on")
    for cls, v in r.road_speeds.items():
        if not 0 < v <= 200 / 3.6:
            yield ("rural", "road_speeds", cls), "a rural road speed must be above 0 and at most 200 km/h"
        if cls == "track" and "track" not in s.network.speeds:
            yield ("rural", "road_speeds", cls), (
                "tracks are dropped from the network unless network.speeds lists 'track' too")
    if r.road_speeds and not r.counties:
        yield ("rural", "road_speeds"), "rural road speeds need the counties (their towns are urban)"
    for i, name in enumerate(r.without_officers):
        if name not in s.layouts:
            hint = difflib.get_close_matches(name, list(s.layouts), n=1)
            yield ("rural", "without_officers", i), (
                f"unknown layout '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    for key, names_ in (("townships", [t.name for t in r.townships]),
                        ("counties", [c.name for c in r.counties])):
        seen: set[str] = set()
        for i, name in enumerate(names_):
            if name in seen:
                yield ("rural", key, i, "name"), f"'{name}' is listed twice"
            seen.add(name)
    if r.villages.generate == "county" and not (s.network.source == "synthetic"
                                                and s.network.synthetic in ("county", "city")):
        yield ("rural", "villages", "generate"), (
            "generated villages belong to the synthetic county: set network.synthetic to county or "
            "city, or give the villages in a CSV file")
