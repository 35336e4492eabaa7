"""Scenario files: read YAML with the line of every key, validate the whole scenario, report every problem.

A scenario is validated in full before anything is simulated. Every problem is reported as a
:class:`ScenarioError` that names the file, the key path (``layouts.grid_2017.platforms[3].lat``)
and the line, so that the CLI can print one clear message and exit with code 2.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from sim.quantities import format_memory, parse_memory
from sim.scenario.errors import FieldProblem, ScenarioError, _line_for
from sim.scenario.inheritance import resolve_layout_inheritance
from sim.scenario.rules import _semantic_problems
from sim.scenario.schema import Scenario

# ---------------------------------------------------------------------------------------------
# Bounded input: a scenario is a few kB; a device, a huge file or an alias bomb is refused early.

MAX_SCENARIO_BYTES = 8_000_000
"""The most bytes read from a scenario file (8 MB; the default scenario is 15 kB). Raise it with
the environment variable ``POLICE_SIM_MAX_SCENARIO_BYTES`` (e.g. ``"64 MB"``)."""

MAX_YAML_VALUES = 200_000
"""The most values (mappings, lists and scalars, each alias expanded) a scenario may hold (the
default scenario has about 550). Raise it with ``POLICE_SIM_MAX_YAML_VALUES``."""


def _limit(env: str, default: int, file: str) -> int:
    text = os.environ.get(env)
    if not text:
        return default
    try:
        value = parse_memory(text) if not text.strip().isdigit() else float(text)
    except ValueError:
        raise ScenarioError(f"environment variable {env}={text!r} is not a number or a size "
                            "such as '64 MB'", file=file) from None
    return max(1, int(value))


# ---------------------------------------------------------------------------------------------
# YAML with line numbers

def _compose(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML into plain Python data and a map from key path to 1-based line number."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines: dict[tuple[Any, ...], int] = {}
        budget = [_limit("POLICE_SIM_MAX_YAML_VALUES", MAX_YAML_VALUES, file)]
        data = _build(loader, root, (), lines, file, budget) if root is not None else None
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
           lines: dict[tuple[Any, ...], int], file: str, budget: list[int]) -> Any:
    """Plain data from a composed YAML node; ``budget[0]`` is how many more values may be built
    (an alias repeats its anchor's values, so a few lines can ask for billions)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ScenarioError(
            f"the YAML holds more than {_limit('POLICE_SIM_MAX_YAML_VALUES', MAX_YAML_VALUES, file):,} "
            "values once its aliases ('*name') are expanded; a scenario needs a few thousand (an alias "
            "bomb?). Raise the limit with POLICE_SIM_MAX_YAML_VALUES if this is meant",
            file=file, loc=path[:1], line=lines.get(path[:1], node.start_mark.line + 1))
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
            out[key] = _build(loader, value_node, (*path, key), lines, file, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines, file, budget) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode) and ":" in node.value and node.tag in (
            "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return node.value  # YAML 1.1 reads 16:00 as 960 (base 60); a scenario means the text
    return loader.construct_object(node, deep=True)





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


def _pydantic_problem(err: Mapping[str, Any]) -> tuple[tuple[Any, ...], str]:
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

    At most :data:`MAX_SCENARIO_BYTES` are read, and the YAML may expand to at most
    :data:`MAX_YAML_VALUES` values (both can be raised with environment variables).

    Raises
    ------
    ScenarioError
        On any problem: unreadable file, malformed YAML, schema errors and cross-field errors;
        every independent problem is in it (see :func:`validate_data`).
    """
    path = Path(path)
    shown = str(path)
    cap = _limit("POLICE_SIM_MAX_SCENARIO_BYTES", MAX_SCENARIO_BYTES, shown)
    if path.is_dir():
        raise ScenarioError("is a folder, not a scenario file", file=shown)
    try:
        with path.open("rb") as fh:
            raw = fh.read(cap + 1)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=shown) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror or exc}", file=shown) from None
    if len(raw) > cap:
        raise ScenarioError(
            f"more than {format_memory(cap)} ({cap:,} bytes) to read: a scenario is a few kB of "
            "YAML; is this the right file (not a device or a network file)? Raise the limit with "
            "POLICE_SIM_MAX_SCENARIO_BYTES, e.g. '64 MB'", file=shown, line=1)
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
    """Validate parsed scenario data: the schema, then the cross-section rules.

    Raises
    ------
    ScenarioError
        Holding every problem found: all schema problems, and the problems of every rule whose
        sections passed the schema (a rule cannot judge a section that failed it). Its
        ``partial`` is the scenario built from the sections that passed, and
        ``invalid_sections`` names the others, so that later checks that read only valid
        sections (e.g. against the road network) can still run and add their problems.
    """
    shown = file
    problems: list[tuple[tuple[Any, ...], str]] = []
    invalid: frozenset[str] = frozenset()
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = _schema_problems(exc)
        scenario, invalid = _valid_sections(data, {str(loc[0]) for loc, _ in problems if loc})
    problems += list(_semantic_problems(scenario, invalid))
    if problems:
        error = ScenarioError.combine(
            ScenarioError(message, file=shown, loc=loc, line=_line_for(lines, loc))
            for loc, message in problems)
        error.partial = LoadedScenario(scenario=scenario, path=Path(path).resolve(), text=text,
                                       lines=lines, data=data, shown=shown)
        error.invalid_sections = invalid
        raise error from None
    return LoadedScenario(scenario=scenario, path=Path(path).resolve(), text=text, lines=lines,
                          data=data, shown=shown)


def _schema_problems(exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """The schema's problems, one per key path: a misspelt key shows up twice, as unknown and as
    the key it was meant to be, missing; it is reported once, as the unknown key with its hint."""
    problems = [_pydantic_problem(e) for e in exc.errors(include_url=False)]
    meant = {(*loc[:-1], m.group(1)) for loc, msg in problems
             if (m := _HINT.search(msg)) and msg.startswith("unknown key")}
    return [(loc, msg) for loc, msg in problems
            if not (msg.startswith("missing required key")
                    and (*loc, msg.split("'")[1]) in meant)] or problems


def _valid_sections(data: dict[str, Any], failed: set[str]) -> tuple[Scenario, frozenset[str]]:
    """A :class:`Scenario` built from the top-level sections that pass the schema on their own,
    and the names of the others (failed, or required and missing): only rules that read none of
    them may look at it."""
    fields = Scenario.model_fields
    valid: dict[str, Any] = {}
    for name, value in data.items():
        if name in fields and name not in failed:
            info = fields[name]
            with contextlib.suppress(ValidationError):
                adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, Annotated[info.annotation, info]))
                valid[name] = adapter.validate_python(value)
    invalid = frozenset(name for name, info in fields.items()
                        if name not in valid and (name in data or info.is_required()))
    return Scenario.model_construct(**valid), invalid
