"""Scenario errors: one message per problem, naming the file, the key path and the line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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





class FieldProblem(ValueError):
    """A problem found by a model-level check that belongs to one key below the model.

    Raised from a model validator as ``FieldProblem("speeds", "...")``; the message then names
    ``network.speeds`` and its line rather than ``network``.
    """

    def __init__(self, key: str | tuple[Any, ...], message: str) -> None:
        self.key = (key,) if isinstance(key, str) else tuple(key)
        super().__init__(message)


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _unknown(what: str, name: str, known: Iterable[Any]) -> str:
    known = [str(k) for k in known]
    hint = difflib.get_close_matches(str(name), known, n=1)
    text = f"unknown {what} '{name}'"
    if hint:
        text += f" (did you mean '{hint[0]}'?)"
    return text + f"; known: {', '.join(known)}"
