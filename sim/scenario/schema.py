"""Scenario files: read YAML, validate the whole scenario, and report errors with file and line.

A scenario is validated in full before anything is simulated. Every problem is reported as a
:class:`ScenarioError` that names the file, the key path (``layouts.grid_2017.platforms[3].lat``)
and the line, so that the CLI can print one clear message and exit with code 2.

Quantities are written with units in YAML ("90 s", "25 km/h", "300 m") and held as floats in
seconds, metres per second and metres inside the validated :class:`Scenario`.
Coordinates are WGS84 longitude/latitude in degrees.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from sim.quantities import (
    format_distance,
    format_duration,
    format_speed,
    parse_distance,
    parse_duration,
    parse_speed,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "PRIORITIES",
    "ZONE_CLASSES",
    "LoadedScenario",
    "RunEstimate",
    "Scenario",
    "ScenarioError",
    "check_budget",
    "estimate_run",
    "format_loc",
    "format_memory",
    "load_scenario",
    "load_scenario_text",
    "parse_memory",
]

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "shaoyang.yaml"

MAX_SPEED_MPS = 500.0 / 3.6
"""The fastest road speed or speed cap a scenario may give (500 km/h)."""

ZONE_CLASSES: tuple[str, ...] = ("key", "central", "other")
"""Zone classes, in the order of precedence used when zones overlap."""

PRIORITIES: tuple[str, ...] = ("urgent", "standard", "minor")
"""Incident priorities, most urgent first; a lower index is served first from the queue."""

Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
Distance = Annotated[float, BeforeValidator(parse_distance), PlainSerializer(format_distance)]
Speed = Annotated[float, BeforeValidator(parse_speed), PlainSerializer(format_speed)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0, strict=False)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, strict=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ScenarioError(Exception):
    """A scenario problem that a planner can fix: file, key path, line and message."""

    def __init__(self, message: str, *, file: str | Path | None = None,
                 loc: tuple[Any, ...] = (), line: int | None = None, more: int = 0) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.loc = tuple(loc)
        self.line = line
        self.more = more
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        key = format_loc(self.loc)
        if not key and self.line is not None:
            key = TOP_LEVEL  # a problem with the file as a whole still names a "key path"
        text = f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"
        if self.more:
            text += f"\n  ({self.more} more problem{'s' if self.more > 1 else ''} in this file; "
            text += "fix this one and run 'run_sim.py validate' again)"
        return text


TOP_LEVEL = "(top level)"
"""The key path printed for a problem with the whole file (e.g. a missing top-level key)."""


def format_loc(loc: Iterable[Any]) -> str:
    """Format a key path tuple as ``a.b[3].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


MEMORY_UNITS: dict[str, float] = {
    "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40,
}


def parse_memory(value: object) -> float:
    """Parse a memory size such as ``"4 GB"`` or ``"512 MiB"`` into bytes."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"memory size {value!r} has no unit; write it with one, e.g. '4 GB'")
        raise ValueError(f"expected a memory size with a unit, e.g. '4 GB', got {value!r}")
    parts = value.strip().split()
    if len(parts) == 1:  # "4GB"
        head = parts[0].rstrip("KMGTiBkmgtb")
        parts = [head, parts[0][len(head):]] if head else parts
    if len(parts) != 2:
        raise ValueError(f"cannot read memory size {value!r}; write a number and a unit, e.g. '4 GB'")
    try:
        number = float(parts[0])
    except ValueError:
        raise ValueError(f"cannot read memory size {value!r}; write a number and a unit, "
                         "e.g. '4 GB'") from None
    factor = MEMORY_UNITS.get(parts[1].lower())
    if factor is None:
        hint = difflib.get_close_matches(parts[1].lower(), list(MEMORY_UNITS), n=1, cutoff=0.5)
        raise ValueError(f"unknown memory unit '{parts[1]}' in {value!r}"
                         + (f" (did you mean '{hint[0].upper()}'?)" if hint else "")
                         + "; known units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB")
    result = number * factor
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"memory size {value!r} must be a positive, finite amount")
    return result


def format_memory(n_bytes: float) -> str:
    """Write a byte count as a short size (``"1.2 GB"``)."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{n_bytes:.0f} B"


Memory = Annotated[float, BeforeValidator(parse_memory), PlainSerializer(format_memory)]


class FieldProblem(ValueError):
    """A problem found by a model-level check that belongs to one key below the model.

    Raised from a model validator as ``FieldProblem("speeds", "...")``; the message then names
    ``network.speeds`` and its line rather than ``network``.
    """

    def __init__(self, key: str | tuple[Any, ...], message: str) -> None:
        self.key = (key,) if isinstance(key, str) else tuple(key)
        super().__init__(message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DistributionSpec(_Model):
    """A positive random duration: ``{distribution: lognormal, mean: "20 min", cv: 0.8}``.

    ``fixed`` always gives the mean; ``exponential`` has cv 1; ``lognormal`` and ``gamma`` need a
    coefficient of variation ``cv`` (standard deviation / mean).
    """

    distribution: Literal["fixed", "exponential", "lognormal", "gamma"]
    mean: Duration = Field(gt=0.0, le=365 * 86400.0)
    cv: float | None = Field(default=None, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _cv_needed(self) -> DistributionSpec:
        if self.distribution in ("lognormal", "gamma") and self.cv is None:
            raise FieldProblem("distribution",
                               f"a {self.distribution} distribution needs 'cv' (e.g. cv: 0.5)")
        if self.distribution in ("fixed", "exponential") and self.cv is not None:
            raise FieldProblem("cv", f"a {self.distribution} distribution takes no 'cv'")
        return self


class NetworkSpec(_Model):
    """Where the road network comes from, and how fast each road class is driven."""

    source: Literal["synthetic", "file", "place", "bbox"]
    seed: int = Field(default=2017, ge=0)
    path: str | None = None
    place: str | None = None
    bbox: tuple[Longitude, Latitude, Longitude, Latitude] | None = None
    speeds: dict[str, Speed] = Field(min_length=1)
    snap_tolerance: Distance = Field(default="300 m", gt=0.0, le=100_000.0)
    river_width: Distance = Field(default="30 m", gt=0.0, le=5000.0)
    """Width assumed for a river whose OSM way has no ``width`` tag: a platform closer than half
    of it to a river's centre line (and not on a bridge) is an error (see ``sim.world.checks``)."""

    @model_validator(mode="after")
    def _source_fields(self) -> NetworkSpec:
        need = {"file": "path", "place": "place", "bbox": "bbox"}.get(self.source)
        if need and getattr(self, need) is None:
            raise FieldProblem("source", f"network source '{self.source}' needs the key '{need}'")
        for other in ("path", "place", "bbox"):
            if other != need and getattr(self, other) is not None:
                raise FieldProblem(other, f"key '{other}' does not apply to network source "
                                          f"'{self.source}'")
        if "default" not in self.speeds:
            raise FieldProblem("speeds", "speeds needs a 'default' entry for road classes not listed")
        for cls, v in self.speeds.items():
            if v <= 0:
                raise FieldProblem(("speeds", cls), "every road speed must be positive")
            if v > MAX_SPEED_MPS:
                raise FieldProblem(("speeds", cls), f"{v * 3.6:g} km/h is not a road speed "
                                                    f"(at most {MAX_SPEED_MPS * 3.6:g} km/h)")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (w < e and s < n):
                raise FieldProblem("bbox", "bbox must be [west, south, east, north] with west < east, "
                                           "south < north")
        return self


class KeyLocation(_Model):
    """A key location (重点部位): a point with a radius, e.g. a railway station."""

    name: Name
    kind: str = "other"
    lat: Latitude
    lon: Longitude
    radius: Distance = Field(gt=0.0, le=5000.0)


class Zones(_Model):
    """Zone classes and their response-time targets (key 1 min, central 3 min, other 5 min)."""

    targets: dict[Literal["key", "central", "other"], Duration]
    clock: Literal["call", "dispatch"]
    precedence: tuple[str, ...] = ZONE_CLASSES
    key_overlap: Literal["nearest"] | None = None
    key_locations: list[KeyLocation] = Field(default_factory=list)
    central_city: list[tuple[Longitude, Latitude]]

    @model_validator(mode="after")
    def _check(self) -> Zones:
        missing = [z for z in ZONE_CLASSES if z not in self.targets]
        if missing:
            raise FieldProblem("targets", f"targets needs every zone class; missing: {', '.join(missing)}")
        for z, target in self.targets.items():
            if not 0 < target <= 86400.0:
                raise FieldProblem(("targets", z), "every target must be a positive duration of at "
                                                   "most a day")
        if tuple(self.precedence) != ZONE_CLASSES:
            unknown = [z for z in self.precedence if z not in ZONE_CLASSES]
            got = "[" + ", ".join(str(z) for z in self.precedence) + "]"
            if unknown:
                hint = difflib.get_close_matches(str(unknown[0]), ZONE_CLASSES, n=1)
                raise FieldProblem(
                    "precedence", f"unknown zone class '{unknown[0]}' in precedence {got}"
                    + (f" (did you mean '{hint[0]}'?)" if hint else "")
                    + "; the zone classes are key, central, other")
            raise FieldProblem(
                "precedence", f"precedence {got} is not supported: zones that overlap are resolved "
                "by the one rule [key, central, other] (a point in a key location is 'key' even inside the "
                "central city, which wins over the other urban area); write "
                "precedence: [key, central, other] or leave it out"
            )
        ring = self.central_city
        if len(ring) < 4:
            raise FieldProblem("central_city",
                               "central_city polygon needs at least 3 corners and a closing point")
        if tuple(ring[0]) != tuple(ring[-1]):
            raise FieldProblem(
                ("central_city", len(ring) - 1), "central_city polygon does not close: the last "
                f"point must repeat the first ({ring[0][0]}, {ring[0][1]})"
            )
        if abs(_ring_area(ring)) < 1e-12:
            raise FieldProblem("central_city", "central_city polygon has zero area")
        return self


def key_location_overlaps(zones: Zones) -> list[tuple[int, int, float]]:
    """Pairs of key locations whose circles intersect: ``(i, j, centre distance in m)``.

    Overlapping key locations need a rule for the points in both. ``zones.key_overlap: nearest``
    gives it: such a point belongs to the key location with the nearer centre (this is what
    ``sim.world.zones.classify_nodes`` does). Without that key, an overlap is a scenario error, so that a
    planner never gets a tie broken silently.
    """
    out = []
    ks = zones.key_locations
    for i in range(len(ks)):
        for j in range(i + 1, len(ks)):
            d = _ground_distance_m(ks[i].lon, ks[i].lat, ks[j].lon, ks[j].lat)
            if d < ks[i].radius + ks[j].radius:
                out.append((i, j, d))
    return out


def _ground_distance_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    """Great-circle distance (m) between two WGS84 points (haversine, mean Earth radius)."""
    p0, p1 = math.radians(lat0), math.radians(lat1)
    dp, dl = p1 - p0, math.radians(lon1 - lon0)
    h = math.sin(dp / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009.0 * math.asin(min(1.0, math.sqrt(h)))


def _ring_area(ring: list[tuple[float, float]]) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


class UnitType(_Model):
    """A kind of response unit, e.g. a patrol car or a patrol motorcycle."""

    label: str | None = None
    speed_factor: float = Field(default=1.0, gt=0.0, le=3.0)
    max_speed: Speed | None = Field(default=None, le=MAX_SPEED_MPS)
    turnout: Duration = Field(ge=0.0, le=86400.0)
    role: Literal["response", "platform_vehicle", "volunteer"] = "response"
    """``response`` units take dispatches; a ``platform_vehicle`` stays at its post and is never
    dispatched; ``volunteer`` teams patrol fixed beats, are never dispatched, and are reported apart
    from police."""
    patrols: bool = False
    """Idle units of this type patrol their grid when their layout has ``patrol: true``."""
    access: Literal["drive", "walk"] = "drive"
    """``drive``: roads only, one-way streets respected; ``walk``: roads, footways and pedestrian
    streets, in either direction (cap the speed with ``max_speed``, e.g. "5 km/h")."""
    congestion_sensitivity: float = Field(default=1.0, ge=0.0, le=1.0)
    """How much of the hour's congestion this type feels: 1 the full effect (cars), 0 none (on
    foot). In a congestion period with road-class factor ``f`` the type drives at
    ``1 - sensitivity * (1 - f)`` times its free-flow speed on that class."""

    @model_validator(mode="after")
    def _check(self) -> UnitType:
        if self.max_speed is not None and self.max_speed <= 0:
            raise FieldProblem("max_speed", "max_speed must be positive")
        return self


class IncidentType(_Model):
    """A kind of incident with its priority, share of demand and on-scene time."""

    name: Name
    priority: Literal["urgent", "standard", "minor"]
    share: float = Field(gt=0.0, le=1.0)
    on_scene: DistributionSpec
    units_required: int = Field(default=1, ge=1, le=10)
    """Units sent: the response time is to the first arrival, the full response to the last."""


class Hotspot(_Model):
    """A demand hotspot: a Gaussian bump of incident density around a point."""

    name: Name
    lat: Latitude
    lon: Longitude
    sigma: Distance = Field(ge=0.01, le=100_000.0)
    share: float = Field(gt=0.0, le=1.0)


class Demand(_Model):
    """Incident demand: a Poisson process with an hour-of-day profile and spatial weights."""

    incidents_per_day: float = Field(gt=0.0)
    hourly_profile: list[float] = Field(min_length=24, max_length=24)
    hotspots: list[Hotspot] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Demand:
        if not math.isfinite(self.incidents_per_day) or self.incidents_per_day > MAX_INCIDENTS_PER_DAY:
            raise FieldProblem(
                "incidents_per_day", f"incidents_per_day {self.incidents_per_day:g} is more than this "
                f"tool handles ({MAX_INCIDENTS_PER_DAY:,.0f} a day, about one a second); a city's "
                "police calls are hundreds to a few thousand a day")
        for i, w in enumerate(self.hourly_profile):
            if w < 0 or not math.isfinite(w):
                raise FieldProblem(("hourly_profile", i),
                                   "hourly_profile weights must be finite and not negative")
            if w > 1e9:
                raise FieldProblem(("hourly_profile", i),
                                   f"hourly_profile weights are relative (e.g. 1 to 10); {w:g} is "
                                   "too large")
        if sum(self.hourly_profile) <= 0:
            raise FieldProblem("hourly_profile", "hourly_profile needs at least one positive weight")
        total = sum(h.share for h in self.hotspots)
        if total > 1.0 + 1e-9:
            raise FieldProblem("hotspots", f"hotspot shares add up to {total:.4g}, more than 1")
        return self

    @property
    def baseline_share(self) -> float:
        """Share of incidents spread over the whole network by road length (1 - hotspot shares)."""
        return max(0.0, 1.0 - sum(h.share for h in self.hotspots))


MAX_INCIDENTS_PER_DAY = 100_000.0
"""The most incidents per day a scenario may ask for."""

MAX_DURATION_S = 10 * 365 * 86400.0
"""The longest run (10 years of 365 days)."""


class TimedPost(_Model):
    """A post a mobile platform moves to during a window of the day (``hours: [from, to]``)."""

    name: str = ""
    hours: tuple[str, str]
    lat: Latitude
    lon: Longitude


class Platform(_Model):
    """A post from which units respond: a mobile police platform or a police station."""

    name: Name
    lat: Latitude
    lon: Longitude
    grid: str | None = None
    units: dict[str, Annotated[int, Field(ge=0, le=200)]] = Field(min_length=1)
    units_by_shift: list[dict[str, Annotated[int, Field(ge=0, le=200)]]] | None = None
    """Units on duty in each shift (one mapping per entry of ``shifts.starts``); default ``units``
    in every shift. Unit ``#k`` of a type is on duty in a shift when k <= that shift's count."""
    patrol_waypoints: list[tuple[Longitude, Latitude]] | None = None
    """Points the platform's patrol loop passes, in order (default: generated, see ``patrol``)."""
    posts_by_time: list[TimedPost] = Field(default_factory=list)
    """Where a mobile platform stands at times of day (e.g. a night market in the evening, a
    school at opening time); outside these windows it stands at ``lon``/``lat``."""


class VolunteerTeam(_Model):
    """Volunteer street patrols (e.g. 宝庆大叔): a foot beat walked in a loop during set hours."""

    name: Name
    unit_type: str
    teams: int = Field(default=1, ge=1, le=100)
    beat: list[tuple[Longitude, Latitude]] = Field(min_length=2)
    hours: tuple[str, str] = ("08:00", "20:00")


class Layout(_Model):
    """One arrangement of platforms and their units: the thing planners compare."""

    description: str = ""
    platforms: list[Platform] = Field(min_length=1)
    patrol: bool = False
    """Idle units whose type patrols follow loops in their grid instead of waiting at the post."""
    volunteers: list[VolunteerTeam] = Field(default_factory=list)


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def minute_of_day(text: str) -> int:
    """``"07:30"`` -> 450 (minutes after midnight)."""
    m = _HHMM.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a time of day; write it as HH:MM, e.g. '08:00'")
    return int(m.group(1)) * 60 + int(m.group(2))


class MealBreak(_Model):
    """Each unit takes one break of ``duration`` inside ``window``, staggered across units."""

    window: tuple[str, str]
    duration: Duration = Field(gt=0.0, le=4 * 3600.0)


class Shifts(_Model):
    """Shift starts (three shifts for 24-hour cover), hand-over time and meal breaks.

    Units are off the air for ``handover`` at the start of each shift and during their meal
    break; a unit already on a job finishes it first. Off-air units are never dispatched.
    """

    starts: list[str] = Field(default_factory=lambda: ["00:00"], min_length=1, max_length=12)
    handover: Duration = Field(default="0 s", ge=0.0, le=3600.0)
    meal_breaks: list[MealBreak] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Shifts:
        minutes = []
        for i, t in enumerate(self.starts):
            try:
                minutes.append(minute_of_day(t))
            except ValueError as exc:
                raise FieldProblem(("starts", i), str(exc)) from None
        if minutes != sorted(set(minutes)):
            raise FieldProblem("starts", "shift starts must be distinct times in increasing order")
        for k, b in enumerate(self.meal_breaks):
            try:
                a, z = minute_of_day(b.window[0]), minute_of_day(b.window[1])
            except ValueError as exc:
                raise FieldProblem(("meal_breaks", k, "window"), str(exc)) from None
            if (z - a) % 1440 * 60 < b.duration:
                raise FieldProblem(("meal_breaks", k),
                                   f"a meal break of {b.duration / 60:g} min does not fit its window "
                                   f"{b.window[0]}-{b.window[1]}")
        return self


class CongestionPeriod(_Model):
    """A time window of the day in which road speeds drop: ``speed_factor`` per road class
    (the classes of ``network.speeds``, with ``default`` for the others), each in (0, 1]."""

    name: Name
    hours: tuple[str, str]
    speed_factor: dict[str, float] = Field(min_length=1)


class Congestion(_Model):
    """Congestion by hour of day: road speeds in each period are the free-flow speeds times the
    period's factor for the road class. Outside every period the roads are free-flowing."""

    periods: list[CongestionPeriod] = Field(default_factory=list)

    def period_of_minute(self) -> np.ndarray:
        """``[1440]``: the period of each minute of the day, 0 for free flow, ``i + 1`` for
        ``periods[i]`` (the scenario must be valid: windows readable and not overlapping)."""
        out = np.zeros(1440, dtype=np.int64)
        minutes = np.arange(1440)
        for i, p in enumerate(self.periods):
            out[_window_mask(minutes, *p.hours)] = i + 1
        return out


def _window_mask(minutes: np.ndarray, start: str, end: str) -> np.ndarray:
    """Minutes of the day inside the window [start, end) (wrapping past midnight; equal: all day)."""
    a, z = minute_of_day(start), minute_of_day(end)
    return (minutes - a) % 1440 < ((z - a) % 1440 or 1440)


class DispatchSpec(_Model):
    """Dispatch policy switches."""

    divert_from_minor: bool = False
    """If true, a unit on a minor job (driving there or on scene) can be diverted to an urgent
    one when it would arrive first; the minor job goes back to the queue (or, if the unit was
    already on scene, ends there). Records show the diversion."""


class PatrolSpec(_Model):
    """How patrolling units behave and how presence (见警率) is measured."""

    after_incident: Literal["resume", "return_to_post"] = "resume"
    """``resume``: drive to the nearest point of the loop and go on; ``return_to_post``: drive back
    to the platform first."""
    waypoints_per_loop: int = Field(default=4, ge=1, le=20)
    waypoint_spacing: Distance = Field(default="400 m", gt=0.0, le=100_000.0)
    presence_sample: Duration = Field(default="5 min", gt=0.0, le=3600.0)
    volunteers_first_on_minor: bool = False
    """If true, a volunteer team's walking time to a minor incident is recorded
    (``volunteer_arrival_s``); police figures never include it."""


class RunBudget(_Model):
    """Resource limits checked before a run starts (see :func:`estimate_run`).

    A run whose estimated event count or record memory exceeds either limit is refused with a
    message before anything is simulated. Raise the limits here for a deliberately huge study.
    """

    max_events: float = Field(default=1e9, gt=0.0)
    max_memory: Memory = Field(default="4 GB")


class RunSpec(_Model):
    """Run length, warm-up, replications and which layouts to run by default."""

    duration: Duration = Field(gt=0.0)
    warmup: Duration = Field(ge=0.0, le=MAX_DURATION_S)
    replications: int = Field(default=5, ge=1, le=10_000)
    seed: int = Field(default=2017, ge=0, le=2**63 - 1)
    layouts: list[str] | None = None
    baseline: str | None = None
    budget: RunBudget = Field(default_factory=RunBudget)

    @model_validator(mode="after")
    def _check(self) -> RunSpec:
        if not math.isfinite(self.duration) or self.duration > MAX_DURATION_S:
            raise FieldProblem(
                "duration", f"a run of {self.duration / (365 * 86400):.3g} years is longer than the limit of "
                f"{MAX_DURATION_S / (365 * 86400):.0f} years; use replications of a few weeks "
                "to a year instead")
        return self


class Sweep(_Model):
    """Parameters to vary over a grid; each combination is a named variant of the scenario.

    ``demand_multiplier`` scales incidents per day (variants share incidents by thinning, so
    common random numbers hold); ``speed_multiplier`` scales every road speed; ``units`` sets
    the count of a unit type at every platform that has that type; ``parameters`` sets any
    scalar by its key path, e.g. ``call_handling.mean: ["60 s", "90 s"]``.
    """

    demand_multiplier: list[Annotated[float, Field(gt=0.0, le=100.0)]] = Field(
        default_factory=lambda: [1.0], min_length=1)
    speed_multiplier: list[Annotated[float, Field(gt=0.0, le=10.0)]] = Field(
        default_factory=lambda: [1.0], min_length=1)
    units: dict[str, list[Annotated[int, Field(ge=0, le=200)]]] = Field(default_factory=dict)
    parameters: dict[str, list[Any]] = Field(default_factory=dict)


class Scenario(_Model):
    """A whole validated scenario. Build it with :func:`load_scenario`."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=80)]
    title: str = ""
    description: str = ""
    network: NetworkSpec
    zones: Zones
    unit_types: dict[str, UnitType] = Field(min_length=1)
    call_handling: DistributionSpec
    incident_types: list[IncidentType] = Field(min_length=1)
    demand: Demand
    layouts: dict[str, Layout] = Field(min_length=1)
    run: RunSpec
    sweep: Sweep | None = None
    shifts: Shifts = Field(default_factory=Shifts)
    patrol: PatrolSpec = Field(default_factory=PatrolSpec)
    dispatch: DispatchSpec = Field(default_factory=DispatchSpec)
    congestion: Congestion = Field(default_factory=Congestion)

    def layout_names(self) -> list[str]:
        """Layouts to run by default: ``run.layouts`` or every layout in file order."""
        return list(self.run.layouts) if self.run.layouts else list(self.layouts)

    def baseline_layout(self) -> str:
        """The layout others are compared with: ``run.baseline`` or the first one run."""
        return self.run.baseline or self.layout_names()[0]


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


def _unknown(what: str, name: str, known: Iterable[Any]) -> str:
    known = [str(k) for k in known]
    hint = difflib.get_close_matches(str(name), known, n=1)
    text = f"unknown {what} '{name}'"
    if hint:
        text += f" (did you mean '{hint[0]}'?)"
    return text + f"; known: {', '.join(known)}"


# ---------------------------------------------------------------------------------------------
# YAML with line numbers

def _compose(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML into plain Python data and a map from key path to 1-based line number."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        data = _build(loader, root, (), lines, file) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "malformed YAML"
        where = (mark.line, mark.column) if mark is not None else None
        raise ScenarioError(f"malformed YAML: {problem}", file=file, loc=_path_at_error(text, where),
                            line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=file, line=1) from None
    except RecursionError:
        raise ScenarioError("malformed YAML: nested too deeply", file=file, line=1) from None
    finally:
        loader.dispose()
    return data, lines


def _path_at_error(text: str, mark: tuple[int, int] | None = None) -> tuple[Any, ...]:
    """The key path being read where YAML reading failed (for messages about malformed YAML).

    Replays the parser's events up to the error (or up to ``mark``, the 0-based line and column
    of the problem), tracking mapping keys and sequence indices. Between two entries of a mapping
    the path is the mapping's own.
    """
    stack: list[list[Any]] = []  # frames: ["map", key, want_key] or ["seq", index]

    def child_starts() -> None:
        if stack and stack[-1][0] == "seq":
            stack[-1][1] += 1

    def child_done() -> None:
        if stack and stack[-1][0] == "map":
            stack[-1][2] = not stack[-1][2]

    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            if mark is not None and (ev.start_mark.line, ev.start_mark.column) >= mark:
                break
            if isinstance(ev, yaml.ScalarEvent | yaml.AliasEvent):
                top = stack[-1] if stack else None
                child_starts()
                if top is not None and top[0] == "map" and top[2]:
                    top[1] = ev.value if isinstance(ev, yaml.ScalarEvent) else None
                child_done()
            elif isinstance(ev, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                child_starts()
                stack.append(["map", None, True] if isinstance(ev, yaml.MappingStartEvent)
                             else ["seq", -1])
            elif isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                if stack:
                    stack.pop()
                child_done()
    except (yaml.YAMLError, RecursionError):
        pass
    path: list[Any] = []
    for frame in stack:
        if frame[0] == "map":
            if frame[1] is None or frame[2]:  # no key yet, or between two entries
                break
            path.append(frame[1])
        elif frame[1] >= 0:
            path.append(frame[1])
    return tuple(path)


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: tuple[Any, ...],
           lines: dict[tuple[Any, ...], int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ScenarioError("YAML merge keys ('<<') are not supported; write the keys out",
                                    file=file, loc=path, line=key_node.start_mark.line + 1)
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise ScenarioError(f"a key must be a plain word, not {key!r}", file=file,
                                    loc=path, line=key_node.start_mark.line + 1)
            if key in out:
                raise ScenarioError(f"key '{key}' appears twice", file=file, loc=(*path, key),
                                    line=key_node.start_mark.line + 1)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode) and ":" in node.value and node.tag in (
            "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return node.value  # YAML 1.1 reads 16:00 as 960 (base 60); a scenario means the text
    return loader.construct_object(node, deep=True)


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario together with where it came from, to report later problems by line.

    Attributes
    ----------
    scenario : the validated :class:`Scenario` (all quantities in s, m, m/s).
    path : the scenario file.
    text : the file's exact text (its checksum goes into each run's manifest).
    lines : key path -> 1-based line number in the file.
    data : the parsed YAML after layout inheritance was resolved (used to build sweep variants).
    shown : the file name as the user gave it, for messages (default: ``path``). Copies made with
        :func:`dataclasses.replace` keep it.
    """

    scenario: Scenario
    path: Path
    text: str
    lines: dict[tuple[Any, ...], int] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    shown: str | None = field(default=None, repr=False)

    def error(self, loc: tuple[Any, ...], message: str) -> ScenarioError:
        """Make a :class:`ScenarioError` for a key path of this file (used by later checks)."""
        return ScenarioError(message, file=self.shown or self.path, loc=loc,
                             line=_line_for(self.lines, loc))

    def resolved(self) -> dict[str, Any]:
        """The scenario with every default filled in and quantities written with units."""
        return self.scenario.model_dump(mode="json")

    def resolve_path(self, relative: str) -> Path:
        """A path written in the scenario, taken relative to the scenario file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


_HINT = re.compile(r"did you mean '([^']+)'")


def _pydantic_problem(err: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed = _allowed_keys(parent)
        hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        msg = f"unknown key '{key}'"
        if hint:
            msg += f" (did you mean '{hint[0]}'?)"
        elif allowed:
            msg += f"; allowed keys here: {', '.join(allowed)}"
        return loc, msg
    if kind == "missing":
        return loc[:-1], f"missing required key '{loc[-1]}'"
    msg = str(err.get("msg", "invalid value"))
    ctx = err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        msg = str(ctx["error"])
        if isinstance(ctx["error"], FieldProblem):
            loc = (*loc, *ctx["error"].key)
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict | list):
        msg += f" (got {err['input']!r})"
    return loc, msg


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    """Field names of the model at key path ``parent``, found by walking the schema.

    List indices and user-chosen dict keys (layout and unit-type names) leave the model as it is.
    """
    model: Any = Scenario
    for part in parent:
        fields = getattr(model, "model_fields", {})
        if isinstance(part, str) and part in fields:
            model = _inner_model(fields[part].annotation)
            if model is None:
                return []
    return list(getattr(model, "model_fields", {}))


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``list[Platform]`` or ``dict[str, Layout]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ()) or ()):
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file.

    Raises
    ------
    ScenarioError
        On any problem: unreadable file, malformed YAML, schema errors and cross-field errors.
        The first problem found is reported, with the count of others.
    """
    path = Path(path)
    shown = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("file not found", file=shown) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror or exc}", file=shown) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"file is not UTF-8 text (byte {exc.start} cannot be read); save it "
                            "as UTF-8", file=shown, line=line) from None
    return load_scenario_text(text, file=shown, path=path)


def load_scenario_text(text: str, *, file: str, path: Path) -> LoadedScenario:
    """Validate a scenario given as text; ``path`` is where relative paths in it are resolved from.

    ``run_sim.py verify`` uses this to re-run the copy of a scenario kept in a results folder as if
    it were still at its original place.
    """
    shown = file
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ScenarioError("file holds a NUL byte: is it a binary file?", file=shown, line=line)
    data, lines = _compose(text, shown)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a YAML {type(data).__name__}"
        raise ScenarioError(f"a scenario file must be a YAML mapping of keys (name:, network:, ...); "
                            f"this one is {what}", file=shown, line=1)
    data = resolve_layout_inheritance(data, file=shown, lines=lines)
    return validate_data(data, file=shown, lines=lines, text=text, path=path)


def validate_data(data: dict[str, Any], *, file: str, lines: dict[tuple[Any, ...], int],
                  text: str, path: Path) -> LoadedScenario:
    """Validate parsed scenario data (schema, then cross-field checks)."""
    shown = file
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_pydantic_problem(e) for e in errors]
        # a misspelt key shows up twice: as unknown, and as the key it was meant to be, missing;
        # report it once, as the unknown key with its hint
        meant = {(*loc[:-1], m.group(1)) for loc, msg in problems
                 if (m := _HINT.search(msg)) and msg.startswith("unknown key")}
        problems = [(loc, msg) for loc, msg in problems
                    if not (msg.startswith("missing required key")
                            and (*loc, msg.split("'")[1]) in meant)] or problems
        problems.sort(key=lambda p: (_line_for(lines, p[0]) or 0))
        loc, message = problems[0]
        raise ScenarioError(message, file=shown, loc=loc, line=_line_for(lines, loc),
                            more=len(problems) - 1) from None
    semantic = list(_semantic_problems(scenario))
    if semantic:
        semantic.sort(key=lambda p: (_line_for(lines, p[0]) or 0))
        loc, message = semantic[0]
        raise ScenarioError(message, file=shown, loc=loc, line=_line_for(lines, loc),
                            more=len(semantic) - 1)
    return LoadedScenario(scenario=scenario, path=Path(path).resolve(), text=text, lines=lines,
                          data=data, shown=shown)


_CHILD_KEYS = frozenset({"extends", "description", "platforms", "remove", "units", "patrol",
                         "volunteers"})


def resolve_layout_inheritance(data: dict[str, Any], *, file: str,
                               lines: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    """Expand layouts that ``extends`` another into full layouts.

    A child layout starts from its parent's platforms, then:

    - ``remove: [names]`` drops platforms;
    - ``units: {type: count}`` sets that unit count at every inherited platform;
    - ``platforms:`` entries are matched by ``name``: fields given replace the parent's (a new
      ``lat``/``lon`` moves the post; ``units`` are merged by type, 0 removes a type); entries with
      a new name are added and need every field.

    Inheritance may chain; a cycle or an unknown parent is an error.
    """
    layouts = data.get("layouts")
    if not isinstance(layouts, dict):
        return data
    resolved: dict[str, Any] = {}

    def err(loc: tuple[Any, ...], msg: str) -> ScenarioError:
        return ScenarioError(msg, file=file, loc=loc, line=_line_for(lines, loc))

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        raw = layouts[name]
        if not isinstance(raw, dict) or "extends" not in raw:
            resolved[name] = raw
            return raw
        loc = ("layouts", name)
        parent = raw["extends"]
        if not isinstance(parent, str) or parent not in layouts:
            raise err((*loc, "extends"), _unknown("layout", str(parent), layouts))
        if parent in chain or parent == name:
            cycle = " -> ".join((*chain, name, parent))
            raise err((*loc, "extends"), f"layouts extend each other in a cycle: {cycle}")
        for key in raw:
            if key not in _CHILD_KEYS:
                hint = difflib.get_close_matches(str(key), sorted(_CHILD_KEYS), n=1)
                raise err((*loc, key), f"unknown key '{key}' in a layout that extends another"
                          + (f" (did you mean '{hint[0]}'?)" if hint else "")
                          + f"; allowed: {', '.join(sorted(_CHILD_KEYS))}")
        base = resolve(parent, (*chain, name))
        if not isinstance(base, dict):
            base = {}
        base_platforms = base.get("platforms")
        platforms = [dict(p, units=dict(p["units"]) if isinstance(p.get("units"), dict) else {})
                     for p in (base_platforms if isinstance(base_platforms, list) else [])
                     if isinstance(p, dict)]
        by_name = {p["name"]: p for p in platforms if isinstance(p.get("name"), str)}
        removes = raw.get("remove") or []
        if not isinstance(removes, list):
            raise err((*loc, "remove"), "remove takes a list of platform names")
        for i, pname in enumerate(removes):
            if not isinstance(pname, str) or pname not in by_name:
                raise err((*loc, "remove", i), _unknown(f"platform in layout '{parent}'", str(pname),
                                                        [str(n) for n in by_name]))
            platforms.remove(by_name.pop(pname))
        units = raw.get("units") or {}
        if not isinstance(units, dict):
            raise err((*loc, "units"), "units takes a mapping of unit type to count")
        for p in platforms:
            p["units"].update(units)
        entries = raw.get("platforms") or []
        if not isinstance(entries, list):
            raise err((*loc, "platforms"), "platforms takes a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise err((*loc, "platforms", i), "each platform needs a 'name' (a text)")
            target = by_name.get(entry["name"])
            if target is None:
                platforms.append(dict(entry))
                by_name[entry["name"]] = platforms[-1]
                continue
            for key, value in entry.items():
                if key == "units" and isinstance(value, dict):
                    target["units"].update(value)
                else:
                    target[key] = value
        for p in platforms:
            p["units"] = {k: v for k, v in p["units"].items() if v != 0} or p["units"]
        out = {"description": raw.get("description", base.get("description") or ""),
               "platforms": platforms}
        for key in ("patrol", "volunteers"):  # inherited unless the child sets them
            if key in raw or key in base:
                out[key] = raw.get(key, base.get(key))
        resolved[name] = out
        return out

    new_layouts = {name: resolve(name, ()) for name in layouts}
    return {**data, "layouts": new_layouts}
