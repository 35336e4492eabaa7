"""Parse physical quantities written with units in scenario files.

Scenario files always carry a unit ("90 s", "5 min", "25 km/h", "300 m"); inside the code
every quantity is a float in SI-like base units:

- durations in seconds,
- speeds in metres per second,
- distances in metres.

A bare number is refused: a scenario that says ``turnout: 30`` could mean seconds or minutes,
and guessing would be a silent default.
"""

from __future__ import annotations

import difflib
import math
import re

__all__ = [
    "DISTANCE_UNITS",
    "DURATION_UNITS",
    "SPEED_UNITS",
    "QuantityError",
    "format_distance",
    "format_duration",
    "format_speed",
    "parse_distance",
    "parse_duration",
    "parse_speed",
]

DURATION_UNITS: dict[str, float] = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "week": 604800.0, "weeks": 604800.0,
    "y": 365.0 * 86400.0, "year": 365.0 * 86400.0, "years": 365.0 * 86400.0,
}
DISTANCE_UNITS: dict[str, float] = {
    "m": 1.0, "metre": 1.0, "metres": 1.0, "meter": 1.0, "meters": 1.0,
    "km": 1000.0,
}
SPEED_UNITS: dict[str, float] = {
    "km/h": 1000.0 / 3600.0, "kph": 1000.0 / 3600.0, "kmh": 1000.0 / 3600.0,
    "m/s": 1.0,
}

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")


class QuantityError(ValueError):
    """A quantity string that cannot be read (no unit, unknown unit, not a number)."""


_CANONICAL = {
    "duration": ["s", "min", "h", "d", "week", "year"],
    "distance": ["m", "km"],
    "speed": ["km/h", "m/s"],
}


def _parse(value: object, units: dict[str, float], kind: str, example: str) -> float:
    if isinstance(value, bool):
        raise QuantityError(f"expected a {kind} with a unit, e.g. '{example}', got {value!r}")
    if isinstance(value, int | float):
        raise QuantityError(
            f"{kind} {value!r} has no unit; write it with one, e.g. '{example}'"
        )
    if not isinstance(value, str):
        raise QuantityError(f"expected a {kind} with a unit, e.g. '{example}', got {value!r}")
    match = _NUMBER_UNIT.match(value)
    if match is None:
        raise QuantityError(f"cannot read {kind} {value!r}; write a number and a unit, e.g. '{example}'")
    number, unit = match.group(1), (match.group(2) or "").strip()
    if not unit:
        raise QuantityError(f"{kind} {value!r} has no unit; write it with one, e.g. '{example}'")
    factor = units.get(unit) if unit in units else units.get(unit.lower())
    if factor is None:
        canonical = _CANONICAL[kind]
        hint = difflib.get_close_matches(unit.lower(), canonical, n=1, cutoff=0.4)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        allowed = ", ".join(canonical)
        raise QuantityError(
            f"unknown {kind} unit '{unit}' in {value!r}{did_you_mean}; known units: {allowed}"
        )
    result = float(number) * factor
    if result != result or result in (float("inf"), float("-inf")):
        raise QuantityError(f"{kind} {value!r} is not a finite number")
    return result


def parse_duration(value: object) -> float:
    """Parse a duration such as ``"90 s"``, ``"5 min"`` or ``"1.5 h"`` into seconds."""
    return _parse(value, DURATION_UNITS, "duration", "90 s")


def parse_distance(value: object) -> float:
    """Parse a distance such as ``"300 m"`` or ``"1.2 km"`` into metres."""
    return _parse(value, DISTANCE_UNITS, "distance", "300 m")


def parse_speed(value: object) -> float:
    """Parse a speed such as ``"25 km/h"`` or ``"7 m/s"`` into metres per second."""
    return _parse(value, SPEED_UNITS, "speed", "25 km/h")


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def format_duration(seconds: float) -> str:
    """Write a duration in seconds back in the unit a scenario would use (``"90 s"``)."""
    return f"{_fmt(seconds)} s"


def format_speed(mps: float) -> str:
    """Write a speed in m/s back as km/h (``"25 km/h"``)."""
    return f"{_fmt(mps * 3.6)} km/h"


def format_distance(metres: float) -> str:
    """Write a distance in metres back as ``"300 m"``."""
    return f"{_fmt(metres)} m"


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
