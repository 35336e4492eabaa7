"""One flat record per incident: the only thing the engine hands to metrics and outputs.

Each field is defined in one line in :data:`FIELDS`; the README's table is generated from it.
Times are seconds since the start of the run; a time not reached by the horizon is NaN.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FIELDS", "OUTCOMES", "RecordTable", "check_invariants", "InvariantError"]

FIELDS: tuple[tuple[str, str], ...] = (
    ("layout", "layout name"),
    ("replication", "replication number (0-based); incidents are identical across layouts"),
    ("incident", "incident number within the replication, in order of call time"),
    ("call_s", "time of the call to 110 (s from the start of the run)"),
    ("dispatch_s", "time the 110 centre hands the job to police, after call handling (s)"),
    ("assign_s", "time a unit is assigned; later than dispatch_s if every unit was busy (s)"),
    ("arrival_s", "time the first unit arrives on scene (s)"),
    ("clear_s", "time the unit clears the scene (s)"),
    ("node", "road node of the incident (index into the network's nodes)"),
    ("osmid", "OSM id of that road node"),
    ("zone", "zone class: key, central or other"),
    ("key_location", "index of the key location the incident is in, or -1"),
    ("incident_type", "incident type name"),
    ("priority", "urgent, standard or minor"),
    ("unit", "the responding unit, or empty"),
    ("unit_type", "the responding unit's type, or empty"),
    ("platform", "the responding unit's platform, or empty"),
    ("turnout_s", "turnout time of the responding unit (s); 0 when it was already on the move"),
    ("travel_s", "driving time to the scene (s)"),
    ("queued", "1 if the job waited for a unit to become free, else 0"),
    ("queue_wait_s", "assign_s - dispatch_s (s)"),
    ("response_s", "arrival_s - call_s: response time from the call (s)"),
    ("target_s", "the response-time target of the incident's zone (s)"),
    ("target_met", "1 met, 0 missed, -1 unknown (still open at the horizon and within target)"),
    ("outcome", "served, on_scene, en_route, queued or call_handling (state at the horizon)"),
    ("counted", "1 if the call came after the warm-up and so counts in the metrics, else 0"),
)

OUTCOMES = ("served", "on_scene", "en_route", "queued", "call_handling")


class InvariantError(AssertionError):
    """A record set breaks an invariant that must hold for every run."""


@dataclass(frozen=True, eq=False)
class RecordTable:
    """Columns of incident records (see :data:`FIELDS`), one row per incident.

    String-valued columns are held as integer codes with a lookup tuple, which keeps the table
    compact; :meth:`column` decodes them.
    """

    columns: dict[str, np.ndarray]
    lookups: dict[str, tuple[str, ...]]

    def __len__(self) -> int:
        return int(self.columns["incident"].shape[0])

    def column(self, name: str) -> np.ndarray:
        """A column, with coded strings decoded to an object array."""
        col = self.columns[name]
        if name in self.lookups:
            table = np.array(("",) + self.lookups[name], dtype=object)
            return table[col + 1]
        return col

    @staticmethod
    def concat(tables: list[RecordTable]) -> RecordTable:
        """Stack tables; string codes are remapped onto merged lookups."""
        if not tables:
            raise ValueError("nothing to concatenate")
        lookups: dict[str, tuple[str, ...]] = {}
        for name in tables[0].lookups:
            seen: dict[str, None] = {}
            for t in tables:
                seen.update(dict.fromkeys(t.lookups[name]))
            lookups[name] = tuple(seen)
        columns: dict[str, np.ndarray] = {}
        for name in tables[0].columns:
            parts = []
            for t in tables:
                col = t.columns[name]
                if name in lookups:
                    remap = np.array([-1] + [lookups[name].index(v) for v in t.lookups[name]])
                    col = remap[col + 1]
                parts.append(col)
            columns[name] = np.concatenate(parts)
        return RecordTable(columns=columns, lookups=lookups)

    def rows(self) -> list[dict[str, Any]]:
        decoded = {name: self.column(name) for name, _ in FIELDS}
        return [{name: decoded[name][i] for name, _ in FIELDS} for i in range(len(self))]

    def to_csv(self, path: Path | None = None) -> str | None:
        """Write the records as CSV (times with millisecond precision); NaN is written empty."""
        buf = io.StringIO() if path is None else None
        fh = buf if buf is not None else open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        try:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([name for name, _ in FIELDS])
            cols = [self.column(name) for name, _ in FIELDS]
            fmt = [_formatter(c) for c in cols]
            for i in range(len(self)):
                writer.writerow([f(c[i]) for f, c in zip(fmt, cols, strict=True)])
        finally:
            if buf is None:
                fh.close()
        return buf.getvalue() if buf is not None else None


def _formatter(col: np.ndarray) -> Any:
    if col.dtype.kind == "f":
        return lambda v: "" if math.isnan(v) else f"{v:.3f}"
    if col.dtype.kind in "iub":
        return lambda v: str(int(v))
    return str


def check_invariants(table: RecordTable, *, n_units: dict[str, int] | None = None) -> None:
    """Assert the invariants every run must satisfy (cheap, vectorised).

    - times are ordered: call <= dispatch <= assign <= arrival <= clear (where reached);
    - every incident has exactly one outcome, consistent with the times reached;
    - no unit is assigned to two incidents whose busy intervals [assign, clear) overlap.
    """
    c = table.columns
    seq = [c["call_s"], c["dispatch_s"], c["assign_s"], c["arrival_s"], c["clear_s"]]
    for a, b, na, nb in zip(seq, seq[1:], ("call", "dispatch", "assign", "arrival"),
                            ("dispatch", "assign", "arrival", "clear"), strict=False):
        both = ~np.isnan(a) & ~np.isnan(b)
        if np.any(a[both] > b[both] + 1e-9):
            raise InvariantError(f"{na} after {nb} in {int(np.sum(a[both] > b[both] + 1e-9))} records")
        later_without_earlier = np.isnan(a) & ~np.isnan(b)
        if np.any(later_without_earlier):
            raise InvariantError(f"{nb} recorded without {na}")
    outcome = table.column("outcome")
    expected = np.where(~np.isnan(c["clear_s"]), "served",
                        np.where(~np.isnan(c["arrival_s"]), "on_scene",
                                 np.where(~np.isnan(c["assign_s"]), "en_route",
                                          np.where(~np.isnan(c["dispatch_s"]), "queued", "call_handling"))))
    if np.any(outcome != expected):
        raise InvariantError("outcome does not match the times reached")
    unit = c["unit"]
    for layout_code in np.unique(c["layout"]):
        for rep in np.unique(c["replication"][c["layout"] == layout_code]):
            sel = (c["layout"] == layout_code) & (c["replication"] == rep) & (unit >= 0)
            u, a = unit[sel], c["assign_s"][sel]
            end = np.where(np.isnan(c["clear_s"][sel]), np.inf, c["clear_s"][sel])
            order = np.lexsort((a, u))
            u, a, end = u[order], a[order], end[order]
            same = u[1:] == u[:-1]
            if np.any(same & (a[1:] < end[:-1] - 1e-9)):
                raise InvariantError("a unit was assigned to an incident while still busy with another")
