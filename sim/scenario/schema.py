"""The scenario schema: pydantic models of every section, with quantities parsed from their units.

Quantities are written with units in YAML ("90 s", "25 km/h", "300 m") and held as floats in
seconds, metres per second and metres inside the validated :class:`Scenario`.
Coordinates are WGS84 longitude/latitude in degrees.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import shapely
import shapely.validation
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from sim.quantities import (
    format_distance,
    format_duration,
    format_memory,
    format_speed,
    parse_distance,
    parse_duration,
    parse_memory,
    parse_speed,
)
from sim.scenario.errors import FieldProblem
from sim.scenario.history import HistorySpec
from sim.scenario.rural import RuralSpec
from sim.scenario.staffing import Staffing, crew_shortfall

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

Memory = Annotated[float, BeforeValidator(parse_memory), PlainSerializer(format_memory)]
Name = Annotated[str, Field(min_length=1, max_length=200)]

def _unit_text(text: str) -> Any:
    """A default written with its unit (``"300 m"``): the field's validator parses it like YAML
    input, so the default reads as the scenario would write it."""
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DistributionSpec(_Model):
    """A positive random duration: ``{distribution: lognormal, mean: "20 min", cv: 0.8}``.

    ``fixed`` always gives the mean; ``exponential`` has cv 1; ``lognormal`` and ``gamma`` need a
    coefficient of variation ``cv`` (standard deviation / mean).
    """

    distribution: Literal["fixed", "exponential", "lognormal", "gamma", "empirical"]
    mean: Duration = Field(gt=0.0, le=365 * 86400.0)
    cv: float | None = Field(default=None, gt=0.0, le=10.0)
    quantiles: list[Duration] | None = Field(default=None, min_length=2, max_length=1001)
    """``empirical`` only: durations at equally spaced probabilities 0, 1/(n-1), ..., 1 (e.g. from
    a call log, see ``sim.history.fit``); draws interpolate between them."""

    @model_validator(mode="after")
    def _cv_needed(self) -> DistributionSpec:
        if self.mean <= 0 and self.distribution != "fixed":
            raise FieldProblem("mean", f"a {self.distribution} distribution needs a positive mean; "
                                       "for no time at all write {distribution: fixed, mean: \"0 s\"}")
        if self.distribution in ("lognormal", "gamma") and self.cv is None:
            raise FieldProblem("distribution",
                               f"a {self.distribution} distribution needs 'cv' (e.g. cv: 0.5)")
        if self.distribution in ("fixed", "exponential", "empirical") and self.cv is not None:
            raise FieldProblem("cv", f"a {self.distribution} distribution takes no 'cv'")
        if (self.distribution == "empirical") != (self.quantiles is not None):
            raise FieldProblem("quantiles", "'quantiles' goes with (and only with) an empirical "
                                            "distribution")
        q = self.quantiles or []
        if any(b < a for a, b in itertools.pairwise(q)) or (q and q[0] < 0):
            raise FieldProblem("quantiles", "quantiles must be durations in increasing order")
        return self


class CallHandlingSpec(DistributionSpec):
    """Call handling at the command centre: a distribution like :class:`DistributionSpec`, which
    may also be no time at all: ``{distribution: fixed, mean: "0 s"}``."""

    mean: Duration = Field(ge=0.0, le=365 * 86400.0)


class NetworkSpec(_Model):
    """Where the road network comes from, and how fast each road class is driven."""

    source: Literal["synthetic", "file", "place", "bbox"]
    seed: int = Field(default=2017, ge=0)
    path: str | None = None
    place: str | None = None
    bbox: tuple[Longitude, Latitude, Longitude, Latitude] | None = None
    speeds: dict[str, Speed] = Field(min_length=1)
    snap_tolerance: Distance = Field(default=_unit_text("300 m"), gt=0.0, le=100_000.0)
    """A place (platform, key location, demand point...) farther than this from the nearest
    drivable road is an error; nearer ones are placed on the road (``sim.world.places``)."""
    simplify: bool = True
    """Merge chains of road links through junctions of degree 2 into single edges (osmnx
    ``simplify_graph``). Nodes the scenario refers to are kept either way; ``false`` keeps every
    junction of the file (junction-based city files, where each link is its own way)."""
    synthetic: Literal["central", "county", "city"] = "central"
    """``source: synthetic`` only: central Shaoyang, one county or the whole city (synthetic, see
    ``sim.network.synth_county``); ``size`` scales the county's area."""
    size: float = Field(default=1.0, ge=0.05, le=100.0)
    river_width: Distance = Field(default=_unit_text("30 m"), gt=0.0, le=5000.0)
    """Width assumed for a river whose OSM way has no ``width`` tag: a platform closer than half
    of it to a river's centre line (and not on a bridge) is an error (see ``sim.world.checks``)."""

    @model_validator(mode="after")
    def _source_fields(self) -> NetworkSpec:
        need = {"file": "path", "place": "place", "bbox": "bbox"}.get(self.source)
        if need and getattr(self, need) is None:
            raise FieldProblem("source", f"network source '{self.source}' needs the key '{need}'")
        if self.source != "synthetic" and (self.synthetic != "central" or self.size != 1.0):
            raise FieldProblem("synthetic", "'synthetic' and 'size' apply to source: synthetic only")
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
        if shapely.Polygon(ring).convex_hull.area < 1e-12:
            raise FieldProblem("central_city", "central_city polygon has zero area")
        crossing = ring_crossing(ring)
        if crossing is not None:
            raise FieldProblem("central_city", (
                f"central_city polygon crosses itself (its edges meet near {crossing[0]:.6f}, "
                f"{crossing[1]:.6f}), so inside and outside are not defined; list the corners in order "
                "around the area, without crossing"))
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
            d = float(ground_distance_m(ks[i].lon, ks[i].lat, ks[j].lon, ks[j].lat))
            if d < ks[i].radius + ks[j].radius:
                out.append((i, j, d))
    return out


def ground_distance_m(lon0: Any, lat0: Any, lon1: Any, lat1: Any) -> Any:
    """Great-circle distance (m) between WGS84 points (haversine, mean Earth radius); numpy
    arrays broadcast."""
    p0, p1 = np.radians(lat0), np.radians(lat1)
    dp, dl = p1 - p0, np.radians(np.subtract(lon1, lon0))
    h = np.sin(dp / 2) ** 2 + np.cos(p0) * np.cos(p1) * np.sin(dl / 2) ** 2
    return 2 * 6_371_009.0 * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def ring_crossing(ring: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Where a closed lon/lat ring crosses or touches itself, or None for a simple ring."""
    poly = shapely.Polygon(ring)
    if poly.is_valid:
        return None
    reason = shapely.validation.explain_validity(poly)
    match = re.search(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]", reason)
    if match is None:
        point = poly.representative_point()
        return float(point.x), float(point.y)
    return float(match.group(1)), float(match.group(2))


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


class DemandPoints(_Model):
    """Demand at given places: a CSV file of ``lon,lat,weight`` or ``node,weight`` rows.

    ``file`` is relative to the scenario file; ``node`` is an OSM node id of the network. Points
    are placed on their nearest roads like platforms. ``share`` is the part of all incidents
    drawn from the points (in proportion to ``weight``); default: what the hotspots leave when
    ``demand.baseline`` is ``none``. Optional columns: ``h0`` ... ``h23`` (a relative hour-of-day
    profile of the point: its weight at hour h is ``weight * h<h> / mean``), and ``urgent``,
    ``standard``, ``minor`` (the point's priority mix, relative shares).
    """

    file: str = Field(min_length=1)
    share: float | None = Field(default=None, gt=0.0, le=1.0)


class Demand(_Model):
    """Incident demand: a Poisson process with an hour-of-day profile and spatial weights.

    Where incidents happen: each hotspot's share around its point, the demand points' share at
    their places, and the rest (the baseline) spread by ``baseline``: ``road_length`` (in
    proportion to the road length around each node), ``equal_per_node``, or ``none`` (then the
    shares must add up to 1).
    """

    incidents_per_day: float = Field(gt=0.0)
    hourly_profile: list[float] = Field(min_length=24, max_length=24)
    hotspots: list[Hotspot] = Field(default_factory=list)
    points: DemandPoints | None = None
    baseline: Literal["road_length", "equal_per_node", "none"] = "road_length"
    weekly_profile: list[float] | None = Field(default=None, min_length=168, max_length=168)
    """Relative call volume by hour of the week (Monday 00:00-01:00 first; the run starts on a
    Monday at midnight); when given it replaces ``hourly_profile``."""

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
        weekly = self.weekly_profile or [1.0]
        if any(w < 0 or not math.isfinite(w) for w in weekly) or sum(weekly) <= 0:
            raise FieldProblem("weekly_profile", "weekly_profile weights must be finite, not "
                                                 "negative, and not all zero")
        total = sum(h.share for h in self.hotspots)
        if total > 1.0 + 1e-9:
            raise FieldProblem("hotspots", f"hotspot shares add up to {total:.4g}, more than 1")
        if self.points is not None and self.points.share is None and self.baseline != "none":
            raise FieldProblem(("points", "share"), "demand.points needs a 'share' (the part of all "
                               "incidents drawn from the points), unless demand.baseline is 'none'")
        full = total + self.points_share
        if full > 1.0 + 1e-9:
            raise FieldProblem("points", f"hotspot and point shares add up to {full:.4g}, more than 1")
        if self.baseline == "none" and full < 1.0 - 1e-9:
            raise FieldProblem("baseline", f"with baseline: none the hotspot and point shares must "
                               f"add up to 1; they add up to {full:.4g}")
        return self

    @property
    def points_share(self) -> float:
        """Share of incidents drawn from ``points`` (0 without points)."""
        if self.points is None:
            return 0.0
        if self.points.share is not None:
            return float(self.points.share)
        return max(0.0, 1.0 - sum(h.share for h in self.hotspots))

    @property
    def baseline_share(self) -> float:
        """Share of incidents spread over the whole network by ``baseline`` (the rest)."""
        if self.baseline == "none":
            return 0.0
        return max(0.0, 1.0 - sum(h.share for h in self.hotspots) - self.points_share)


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
    staffing: Staffing | None = None
    """Officers, shifts and crews (``sim.scenario.staffing``); a roster they cannot crew is refused."""

    @model_validator(mode="after")
    def _crewable(self) -> Platform:
        if self.staffing is None:
            return self
        for k, units in enumerate(self.units_by_shift or [self.units]):
            police, aux = crew_shortfall(self.staffing, units)
            if police or aux:
                on_hand = self.staffing.per_shift()
                raise FieldProblem(
                    ("units_by_shift", k) if self.units_by_shift else "units",
                    f"the staff cannot crew this roster: {police} police and {aux} auxiliaries "
                    f"short in a shift ({on_hand[0]} police and {on_hand[1]} auxiliaries on hand per "
                    f"shift after absence)")
        return self


class VolunteerTeam(_Model):
    """Volunteer street patrols (e.g. 宝庆大叔): a foot beat walked in a loop during set hours."""

    name: Name
    unit_type: str
    teams: int = Field(default=1, ge=1, le=100)
    beat: list[tuple[Longitude, Latitude]] = Field(min_length=2)
    hours: tuple[str, str] = ("08:00", "20:00")


DISPATCH_POLICIES: tuple[str, ...] = ("earliest_arrival", "preference", "reserve")
"""Dispatch policies a scenario may name (``dispatch.policy``; see :mod:`sim.engine.dispatch`)."""


def _policy_name(v: object) -> str | None:
    if v is None or v in DISPATCH_POLICIES:
        return None if v is None else str(v)
    hint = difflib.get_close_matches(str(v), DISPATCH_POLICIES, n=1)
    raise ValueError(f"unknown dispatch policy '{v}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                     + f"; known: {', '.join(DISPATCH_POLICIES)}")


class PreferenceSpec(_Model):
    """Parameters of the ``preference`` policy (a fixed preference order per node)."""

    order: dict[str, list[str]] = Field(default_factory=dict)
    """Written-out lists: a platform's name (meaning the nodes of its grid) to platform names,
    most preferred first; the units of a platform go in index order, units not named follow by
    travel time. Empty (the default): own grid first, then by travel time from the home post."""


def _default_min_free() -> dict[Literal["urgent", "standard", "minor"], int]:
    return {"urgent": 1, "standard": 2, "minor": 2}


class ReserveSpec(_Model):
    """Parameters of the ``reserve`` policy (cutoff priority)."""

    scope: Literal["grid", "fleet"] = "grid"
    """Where free units are counted: the job's grid (its platform's units) or the whole fleet."""
    min_free: dict[Literal["urgent", "standard", "minor"], int] = Field(
        default_factory=lambda: _default_min_free())
    """A job of this priority waits while fewer than this many response units are free in its
    area; priorities not given use 1 (no reserve). The default keeps one unit per grid free
    for urgent jobs."""

    @field_validator("min_free")
    @classmethod
    def _non_negative(cls, v: dict[str, int]) -> dict[str, int]:
        for k, n in v.items():
            if n < 0 or n > 1000:
                raise ValueError(f"min_free for {k} must be between 0 and 1000 (got {n})")
        return v


class LayoutDispatch(_Model):
    """A layout's own dispatch policy (``layouts.<name>.dispatch``), overriding ``dispatch``."""

    policy: str | None = None
    preference: PreferenceSpec | None = None
    reserve: ReserveSpec | None = None
    when_all_busy: Literal["queue", "overflow"] | None = None

    @field_validator("policy", mode="before")
    @classmethod
    def _known_policy(cls, v: object) -> str | None:
        return _policy_name(v)


class Layout(_Model):
    """One arrangement of platforms and their units: the thing planners compare."""

    label: str = Field(default="", max_length=80)
    """The layout's name in figures, tables and findings (default: its key)."""
    label_zh: str = Field(default="", max_length=80)
    """The same in Chinese (default: ``label``)."""
    description: str = ""
    platforms: list[Platform] = Field(min_length=1)
    patrol: bool = False
    """Idle units whose type patrols follow loops in their grid instead of waiting at the post."""
    volunteers: list[VolunteerTeam] = Field(default_factory=list)
    dispatch: LayoutDispatch | None = None
    """This layout's dispatch policy, if not the scenario's ``dispatch.policy``."""


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
    handover: Duration = Field(default=_unit_text("0 s"), ge=0.0, le=3600.0)
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
    """The dispatch policy and its switches."""

    policy: str = "earliest_arrival"
    """Which units a job gets: ``earliest_arrival`` (default), ``preference`` or ``reserve``
    (see :mod:`sim.engine.dispatch`); their parameters sit beside it."""
    preference: PreferenceSpec = Field(default_factory=PreferenceSpec)
    reserve: ReserveSpec = Field(default_factory=ReserveSpec)

    @field_validator("policy", mode="before")
    @classmethod
    def _known_policy(cls, v: object) -> str | None:
        return _policy_name(v)

    when_all_busy: Literal["queue", "overflow"] = "queue"
    """What a job that finds no unit to send does: ``queue`` waits for one (a delay system);
    ``overflow`` is handed at once to a backup force outside the layout and recorded with outcome
    ``overflow`` and its target missed (a loss system; Erlang B for one site). A multi-unit job
    that gets some of its units takes its missing backup from that force too."""

    divert_from_minor: bool = False
    """If true, a unit on a minor job (driving there or on scene) can be diverted to an urgent
    one when it would arrive first; the minor job goes back to the queue (or, if the unit was
    already on scene, ends there). Records show the diversion."""


def layout_dispatch(scenario: Scenario, layout: str) -> DispatchSpec:
    """The dispatch policy and parameters of one layout: ``layouts.<name>.dispatch`` over
    ``dispatch``."""
    base = scenario.dispatch
    own = scenario.layouts[layout].dispatch
    if own is None:
        return base
    update = {k: getattr(own, k) for k in ("policy", "preference", "reserve", "when_all_busy")
              if getattr(own, k) is not None}
    return base.model_copy(update=update)


class PatrolSpec(_Model):
    """How patrolling units behave and how presence (见警率) is measured."""

    after_incident: Literal["resume", "return_to_post"] = "resume"
    """``resume``: drive to the nearest point of the loop and go on; ``return_to_post``: drive back
    to the platform first."""
    waypoints_per_loop: int = Field(default=4, ge=1, le=20)
    waypoint_spacing: Distance = Field(default=_unit_text("400 m"), gt=0.0, le=100_000.0)
    presence_sample: Duration = Field(default=_unit_text("5 min"), gt=0.0, le=3600.0)
    volunteers_first_on_minor: bool = False
    """If true, a volunteer team's walking time to a minor incident is recorded
    (``volunteer_arrival_s``); police figures never include it."""


class RunBudget(_Model):
    """Resource limits checked before a run starts (see :func:`estimate_run`).

    A run whose estimated event count or record memory exceeds either limit is refused with a
    message before anything is simulated. Raise the limits here for a deliberately huge study.
    """

    max_events: float = Field(default=1e9, gt=0.0)
    max_memory: Memory = Field(default=_unit_text("4 GB"))


class RunSpec(_Model):
    """Run length, warm-up, replications and which layouts to run by default."""

    duration: Duration = Field(gt=0.0)
    warmup: Duration = Field(ge=0.0, le=MAX_DURATION_S)
    cooldown: Duration = Field(default=_unit_text("1 d"), ge=0.0, le=30 * 86400.0)
    """New calls stop at the horizon (``duration``); incidents still open then run on until they
    are cleared, for at most this long. ``0 s`` stops the run at the horizon, and an incident
    still open then is judged on what happened by then."""
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
    title_zh: str = ""
    """The title in Chinese figures and briefs (default: ``title``)."""
    description: str = ""
    network: NetworkSpec
    zones: Zones
    unit_types: dict[str, UnitType] = Field(min_length=1)
    call_handling: CallHandlingSpec
    incident_types: list[IncidentType] = Field(min_length=1)
    demand: Demand
    layouts: dict[str, Layout] = Field(min_length=1)
    run: RunSpec
    sweep: Sweep | None = None
    shifts: Shifts = Field(default_factory=Shifts)
    patrol: PatrolSpec = Field(default_factory=PatrolSpec)
    dispatch: DispatchSpec = Field(default_factory=DispatchSpec)
    congestion: Congestion = Field(default_factory=Congestion)
    history: HistorySpec | None = None
    """How to read this city's call log (``sim.history``): column mapping and time zone."""
    rural: RuralSpec | None = None
    """Villages, their officers and the rural ladder (``sim.scenario.rural``); none by default."""

    def layout_names(self) -> list[str]:
        """Layouts to run by default: ``run.layouts`` or every layout in file order."""
        return list(self.run.layouts) if self.run.layouts else list(self.layouts)

    def baseline_layout(self) -> str:
        """The layout others are compared with: ``run.baseline`` or the first one run."""
        return self.run.baseline or self.layout_names()[0]
