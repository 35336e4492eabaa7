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
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

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

from .quantities import (
    format_distance,
    format_duration,
    format_speed,
    parse_distance,
    parse_duration,
    parse_speed,
)

__all__ = [
    "ScenarioError",
    "Scenario",
    "LoadedScenario",
    "load_scenario",
    "DEFAULT_SCENARIO",
    "ZONE_CLASSES",
    "PRIORITIES",
    "format_loc",
]

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "shaoyang.yaml"

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
        text = f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"
        if self.more:
            text += f"\n  ({self.more} more problem{'s' if self.more > 1 else ''} in this file; "
            text += "fix this one and run 'run_sim.py validate' again)"
        return text


def format_loc(loc: Iterable[Any]) -> str:
    """Format a key path tuple as ``a.b[3].c``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DistributionSpec(_Model):
    """A positive random duration: ``{distribution: lognormal, mean: "20 min", cv: 0.8}``.

    ``fixed`` always gives the mean; ``exponential`` has cv 1; ``lognormal`` and ``gamma`` need a
    coefficient of variation ``cv`` (standard deviation / mean).
    """

    distribution: Literal["fixed", "exponential", "lognormal", "gamma"]
    mean: Duration = Field(gt=0.0)
    cv: float | None = Field(default=None, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _cv_needed(self) -> DistributionSpec:
        if self.distribution in ("lognormal", "gamma") and self.cv is None:
            raise ValueError(f"a {self.distribution} distribution needs 'cv' (e.g. cv: 0.5)")
        if self.distribution in ("fixed", "exponential") and self.cv is not None:
            raise ValueError(f"a {self.distribution} distribution takes no 'cv'")
        return self


class NetworkSpec(_Model):
    """Where the road network comes from, and how fast each road class is driven."""

    source: Literal["synthetic", "file", "place", "bbox"]
    seed: int = Field(default=2017, ge=0)
    path: str | None = None
    place: str | None = None
    bbox: tuple[Longitude, Latitude, Longitude, Latitude] | None = None
    speeds: dict[str, Speed] = Field(min_length=1)
    snap_tolerance: Distance = Field(default="300 m", gt=0.0)

    @model_validator(mode="after")
    def _source_fields(self) -> NetworkSpec:
        need = {"file": "path", "place": "place", "bbox": "bbox"}.get(self.source)
        if need and getattr(self, need) is None:
            raise ValueError(f"network source '{self.source}' needs the key '{need}'")
        for other in ("path", "place", "bbox"):
            if other != need and getattr(self, other) is not None:
                raise ValueError(f"key '{other}' does not apply to network source '{self.source}'")
        if "default" not in self.speeds:
            raise ValueError("speeds needs a 'default' entry for road classes not listed")
        if any(v <= 0 for v in self.speeds.values()):
            raise ValueError("every road speed must be positive")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (w < e and s < n):
                raise ValueError("bbox must be [west, south, east, north] with west < east, south < north")
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
    key_locations: list[KeyLocation] = Field(default_factory=list)
    central_city: list[tuple[Longitude, Latitude]]

    @model_validator(mode="after")
    def _check(self) -> Zones:
        missing = [z for z in ZONE_CLASSES if z not in self.targets]
        if missing:
            raise ValueError(f"targets needs every zone class; missing: {', '.join(missing)}")
        if any(t <= 0 for t in self.targets.values()):
            raise ValueError("every target must be a positive duration")
        if tuple(self.precedence) != ZONE_CLASSES:
            raise ValueError(
                "precedence must be [key, central, other]: a point in a key location is 'key' even "
                "inside the central city"
            )
        ring = self.central_city
        if len(ring) < 4:
            raise ValueError("central_city polygon needs at least 3 corners and a closing point")
        if tuple(ring[0]) != tuple(ring[-1]):
            raise ValueError(
                "central_city polygon does not close: the last point must repeat the first "
                f"({ring[0][0]}, {ring[0][1]})"
            )
        if abs(_ring_area(ring)) < 1e-12:
            raise ValueError("central_city polygon has zero area")
        return self


def _ring_area(ring: list[tuple[float, float]]) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))


class UnitType(_Model):
    """A kind of response unit, e.g. a patrol car or a patrol motorcycle."""

    label: str | None = None
    speed_factor: float = Field(default=1.0, gt=0.0, le=3.0)
    max_speed: Speed | None = Field(default=None)
    turnout: Duration = Field(ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> UnitType:
        if self.max_speed is not None and self.max_speed <= 0:
            raise ValueError("max_speed must be positive")
        return self


class IncidentType(_Model):
    """A kind of incident with its priority, share of demand and on-scene time."""

    name: Name
    priority: Literal["urgent", "standard", "minor"]
    share: float = Field(gt=0.0, le=1.0)
    on_scene: DistributionSpec


class Hotspot(_Model):
    """A demand hotspot: a Gaussian bump of incident density around a point."""

    name: Name
    lat: Latitude
    lon: Longitude
    sigma: Distance = Field(gt=0.0)
    share: float = Field(gt=0.0, le=1.0)


class Demand(_Model):
    """Incident demand: a Poisson process with an hour-of-day profile and spatial weights."""

    incidents_per_day: float = Field(gt=0.0, le=100_000.0)
    hourly_profile: list[float] = Field(min_length=24, max_length=24)
    hotspots: list[Hotspot] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Demand:
        if any(w < 0 or not math.isfinite(w) for w in self.hourly_profile):
            raise ValueError("hourly_profile weights must be finite and not negative")
        if sum(self.hourly_profile) <= 0:
            raise ValueError("hourly_profile needs at least one positive weight")
        if sum(h.share for h in self.hotspots) > 1.0 + 1e-9:
            raise ValueError("hotspot shares add up to more than 1")
        return self

    @property
    def baseline_share(self) -> float:
        """Share of incidents spread over the whole network by road length (1 − hotspot shares)."""
        return max(0.0, 1.0 - sum(h.share for h in self.hotspots))


class Platform(_Model):
    """A post from which units respond: a mobile police platform or a police station."""

    name: Name
    lat: Latitude
    lon: Longitude
    grid: str | None = None
    units: dict[str, Annotated[int, Field(ge=0, le=200)]] = Field(min_length=1)


class Layout(_Model):
    """One arrangement of platforms and their units: the thing planners compare."""

    description: str = ""
    platforms: list[Platform] = Field(min_length=1)


class RunSpec(_Model):
    """Run length, warm-up, replications and which layouts to run by default."""

    duration: Duration = Field(gt=0.0, le=10 * 365 * 86400.0)
    warmup: Duration = Field(ge=0.0)
    replications: int = Field(default=5, ge=1, le=10_000)
    seed: int = Field(default=2017, ge=0, le=2**63 - 1)
    layouts: list[str] | None = None
    baseline: str | None = None


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
            yield ("layouts", lname), "layout has no units at all"
    if s.sweep is not None:
        for utype, counts in s.sweep.units.items():
            if utype not in s.unit_types:
                yield ("sweep", "units", utype), _unknown("unit type", utype, s.unit_types)
            elif not counts:
                yield ("sweep", "units", utype), "give at least one count"
        for key, values in s.sweep.parameters.items():
            if not isinstance(values, list) or not values:
                yield ("sweep", "parameters", key), "give a list of at least one value"


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    hint = difflib.get_close_matches(name, known, n=1)
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
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise ScenarioError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return data, lines


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
    """

    scenario: Scenario
    path: Path
    text: str
    lines: dict[tuple[Any, ...], int] = field(repr=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False)

    def error(self, loc: tuple[Any, ...], message: str) -> ScenarioError:
        """Make a :class:`ScenarioError` for a key path of this file (used by later checks)."""
        return ScenarioError(message, file=self.path, loc=loc, line=_line_for(self.lines, loc))

    def resolved(self) -> dict[str, Any]:
        """The scenario with every default filled in and quantities written with units."""
        return self.scenario.model_dump(mode="json")

    def resolve_path(self, relative: str) -> Path:
        """A path written in the scenario, taken relative to the scenario file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


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
        raise ScenarioError(f"file is not UTF-8 text (byte {exc.start})", file=shown) from None
    data, lines = _compose(text, shown)
    if not isinstance(data, dict):
        raise ScenarioError("a scenario file must be a YAML mapping of keys (name:, network:, ...)",
                            file=shown, line=1)
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
                          data=data)


_CHILD_KEYS = frozenset({"extends", "description", "platforms", "remove", "units"})


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
        platforms = [dict(p, units=dict(p.get("units") or {})) for p in base.get("platforms") or []
                     if isinstance(p, dict)]
        by_name = {p.get("name"): p for p in platforms}
        removes = raw.get("remove") or []
        if not isinstance(removes, list):
            raise err((*loc, "remove"), "remove takes a list of platform names")
        for i, pname in enumerate(removes):
            if pname not in by_name:
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
            if not isinstance(entry, dict) or "name" not in entry:
                raise err((*loc, "platforms", i), "each platform needs a 'name'")
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
        out = {"description": raw.get("description", base.get("description", "")),
               "platforms": platforms}
        resolved[name] = out
        return out

    new_layouts = {name: resolve(name, ()) for name in layouts}
    return {**data, "layouts": new_layouts}
