"""Layout inheritance: a layout ``extends`` another, then removes, adds or overrides platforms.
"""

from __future__ import annotations

import difflib
from typing import Any

from sim.scenario.errors import ScenarioError, _line_for, _unknown

_CHILD_KEYS = frozenset({"extends", "description", "platforms", "remove", "units", "patrol",
                         "volunteers", "dispatch", "label", "label_zh"})


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

    ``lines`` is updated so that each resolved platform's key paths name the lines that gave their
    values: a post inherited from a parent is reported at the parent's entry, a moved one at the
    child's (later checks, e.g. against the road network, then need not know about ``extends``).
    """
    layouts = data.get("layouts")
    if not isinstance(layouts, dict):
        return data
    resolved: dict[str, Any] = {}
    origins: dict[str, list[dict[str, tuple[Any, ...]]]] = {}
    """Per layout, per resolved platform: key -> the entry (key path) it came from; ``""`` is the
    entry that placed the post (its lon/lat)."""

    def err(loc: tuple[Any, ...], msg: str) -> ScenarioError:
        return ScenarioError(msg, file=file, loc=loc, line=_line_for(lines, loc))

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        if name in resolved:
            return resolved[name]
        raw = layouts[name]
        if not isinstance(raw, dict) or "extends" not in raw:
            resolved[name] = raw
            own = raw.get("platforms") if isinstance(raw, dict) else None
            origins[name] = [_all_from(p, ("layouts", name, "platforms", k))
                             for k, p in enumerate(own if isinstance(own, list) else [])]
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
        where = [dict(o) for o in origins.get(parent, [])]
        if len(where) != len(platforms):  # a malformed parent: the schema reports it
            where = [{} for _ in platforms]
        by_name = {p["name"]: p for p in platforms if isinstance(p.get("name"), str)}
        removes = raw.get("remove") or []
        if not isinstance(removes, list):
            raise err((*loc, "remove"), "remove takes a list of platform names")
        for i, pname in enumerate(removes):
            if not isinstance(pname, str) or pname not in by_name:
                raise err((*loc, "remove", i), _unknown(f"platform in layout '{parent}'", str(pname),
                                                        [str(n) for n in by_name]))
            k = platforms.index(by_name.pop(pname))
            del platforms[k], where[k]
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
            entry_loc = (*loc, "platforms", i)
            target = by_name.get(entry["name"])
            if target is None:
                platforms.append(dict(entry))
                where.append(_all_from(entry, entry_loc))
                by_name[entry["name"]] = platforms[-1]
                continue
            k = next(j for j, p in enumerate(platforms) if p is target)
            where[k].update(_all_from(entry, entry_loc) if "lon" in entry or "lat" in entry
                            else {key: entry_loc for key in entry})
            for key, value in entry.items():
                if key == "units" and isinstance(value, dict):
                    target["units"].update(value)
                else:
                    target[key] = value
        for p in platforms:
            p["units"] = {k: v for k, v in p["units"].items() if v != 0} or p["units"]
        out = {"description": raw.get("description", base.get("description") or ""),
               "platforms": platforms}
        for key in ("label", "label_zh"):  # a child is another layout: its name is its own
            if key in raw:
                out[key] = raw[key]
        for key in ("patrol", "volunteers", "dispatch"):  # inherited unless the child sets them
            if key in raw or key in base:
                out[key] = raw.get(key, base.get(key))
        resolved[name] = out
        origins[name] = where
        _point_lines(lines, (*loc, "platforms"), where)
        return out

    new_layouts = {name: resolve(name, ()) for name in layouts}
    return {**data, "layouts": new_layouts}


def _all_from(entry: Any, loc: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """Every key of a platform entry (and the entry itself) as coming from ``loc``."""
    keys = list(entry) if isinstance(entry, dict) else []
    return {"": loc, **{key: loc for key in keys}}


def _point_lines(lines: dict[tuple[Any, ...], int], prefix: tuple[Any, ...],
                 where: list[dict[str, tuple[Any, ...]]]) -> None:
    """Make ``prefix[i]...`` (a child's resolved platforms) name the lines of their sources."""
    old = {key: line for key, line in lines.items() if key[:len(prefix)] == prefix}
    copied: dict[tuple[Any, ...], int] = {}
    for i, origin in enumerate(where):
        new = (*prefix, i)
        for key, src in origin.items():
            sub = (key,) if key else ()
            source = old if src[:len(prefix)] == prefix else lines
            for path, line in source.items():
                if path[:len(src) + len(sub)] == (*src, *sub):
                    copied[(*new, *path[len(src):])] = line
    for path in old:
        if len(path) > len(prefix):
            del lines[path]
    lines.update(copied)
