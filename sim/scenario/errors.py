"""Scenario errors: one message per problem, naming the file, the key path and the line.

Independent problems are reported together: a :class:`ScenarioError` holds every one found
before the check that found them had to stop (the CLI prints one ``error:`` line each).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ScenarioError(Exception):
    """A scenario problem that a planner can fix: file, key path, line and message.

    One error may carry several independent problems (:meth:`combine`); :attr:`problems` lists
    them, each a single-problem :class:`ScenarioError`, in the order they should be printed.
    """

    def __init__(self, message: str, *, file: str | Path | None = None,
                 loc: tuple[Any, ...] = (), line: int | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.loc = tuple(loc)
        self.line = line
        self.problems: tuple[ScenarioError, ...] = (self,)
        self.partial: Any = None
        """The scenario as far as it is valid (a ``LoadedScenario``), when later checks may run."""
        self.invalid_sections: frozenset[str] = frozenset()
        """Top-level sections that failed, when ``partial`` is set."""
        super().__init__(str(self))

    @classmethod
    def combine(cls, problems: Iterable[ScenarioError]) -> ScenarioError:
        """One error holding every problem of ``problems`` (each may hold several), in line order
        within a file; the first problem gives the error's own file, key path, line and message."""
        flat = [p for group in problems for p in group.problems]
        if not flat:
            raise ValueError("no problems to combine")
        flat.sort(key=lambda p: (p.file or "", p.line or 0))
        first = flat[0]
        out = cls(first.message, file=first.file, loc=first.loc, line=first.line)
        out.problems = tuple(flat)
        out.args = (str(out),)
        return out

    def where(self) -> str:
        """``file:line: key.path: message`` for this problem alone."""
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        key = format_loc(self.loc)
        if not key and self.line is not None:
            key = TOP_LEVEL  # a problem with the file as a whole still names a "key path"
        return f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"

    def __str__(self) -> str:
        problems = getattr(self, "problems", (self,))
        return "\n".join(p.where() for p in problems)


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
