"""A results folder read back: ``records.csv`` into a :class:`RecordTable`, ``summary.csv`` and
``replications.csv`` as rows, the manifest, the scenario as run, and the optional presence table.

Nothing here loads a road network; :mod:`sim.brief.report` gets one through
:func:`sim.study.experiment.load_world` when the maps need it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.fileio import sha256_file
from sim.scenario import PRIORITIES, ZONE_CLASSES, LoadedScenario, Scenario, load_scenario
from sim.types import OUTCOMES, RecordTable

__all__ = ["ReportError", "Results", "load_results", "presence_by_hour", "read_records_csv",
           "read_table_csv"]

_CODED = ("layout", "zone", "incident_type", "priority", "unit", "unit_type", "platform", "outcome")
_FIXED_LOOKUPS = {"zone": ZONE_CLASSES, "priority": PRIORITIES, "outcome": OUTCOMES}
_NEEDED = ("layout", "replication", "call_s", "dispatch_s", "assign_s", "arrival_s", "clear_s", "node",
           "zone", "unit", "target_met", "counted")
_INT_TYPES = {"replication": np.int32, "incident": np.int64, "node": np.int64, "osmid": np.int64,
              "key_location": np.int32, "queued": np.int8, "target_met": np.int8, "counted": np.int8}
_REQUIRED = ("manifest.json", "summary.csv", "replications.csv", "records.csv", "scenario.resolved.yaml")


class ReportError(Exception):
    """A results folder that cannot be reported on (missing or altered files)."""


def read_records_csv(path: Path | str) -> RecordTable:
    """Read ``records.csv`` back into a :class:`RecordTable` (the inverse of ``RecordTable.to_csv``).

    Columns are taken by their header, so a file from an older or newer version of the record
    still reads. String columns (layout, zone, unit, ...) become integer codes with a lookup:
    zone, priority and outcome in their fixed orders, the others in order of first appearance;
    an empty string is code -1. Whole-number columns become integers, the rest floats (an empty
    time is NaN).
    """
    import pandas as pd  # its C reader: the csv module takes seconds on a default run's records

    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if header is None:
        raise ReportError(f"{path}: empty file; expected a header row")
    missing = [name for name in _NEEDED if name not in header]
    if missing:
        raise ReportError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = pd.read_csv(path, dtype={name: str for name in header if name in _CODED},
                        keep_default_na=False, na_values=[""], encoding="utf-8")
    columns: dict[str, np.ndarray] = {}
    lookups: dict[str, tuple[str, ...]] = {}
    for name in header:
        col = frame[name]
        kind = col.dtype.kind if name not in _CODED else "U"
        if kind == "i":
            columns[name] = col.to_numpy().astype(_INT_TYPES.get(name, np.int64))
        elif kind == "f":
            columns[name] = col.to_numpy(dtype=float)
        else:  # text (or anything not a number): integer codes with a lookup
            codes, uniques = pd.factorize(col.fillna("").astype(str), sort=False)  # first appearance
            known = list(dict.fromkeys([*_FIXED_LOOKUPS.get(name, ()), *(u for u in uniques if u != "")]))
            index = {v: i for i, v in enumerate(known)}
            index[""] = -1
            remap = np.array([index[u] for u in uniques], dtype=np.int32)
            columns[name] = remap[codes] if len(codes) else np.zeros(0, dtype=np.int32)
            lookups[name] = tuple(known)
    return RecordTable(columns=columns, lookups=lookups)


def read_table_csv(path: Path | str) -> list[dict[str, Any]]:
    """Read ``summary.csv`` or ``replications.csv``: ``layout``, ``zone`` (and ``variant``) as text,
    every other column as a float (empty is NaN)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append({k: (v if k in ("layout", "zone", "variant") else (float(v) if v != "" else math.nan))
                         for k, v in row.items()})
    return rows


@dataclass
class Results:
    """A results folder read back: the files a run wrote and the scenario as run."""

    folder: Path
    manifest: dict[str, Any]
    summary: list[dict[str, Any]]
    replications: list[dict[str, Any]]
    records: RecordTable
    loaded: LoadedScenario
    display: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario(self) -> Scenario:
        return self.loaded.scenario

    @property
    def layouts(self) -> list[str]:
        return list(self.manifest["layouts"])

    @property
    def baseline(self) -> str:
        return str(self.manifest.get("baseline") or self.layouts[0])

    @property
    def others(self) -> list[str]:
        return [name for name in self.layouts if name != self.baseline]

    @property
    def replications_n(self) -> int:
        return int(self.manifest["replications"])

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.folder.name.removesuffix(".partial")))

    def row(self, layout: str, zone: str) -> dict[str, Any]:
        for r in self.summary:
            if r["layout"] == layout and r["zone"] == zone:
                return r
        raise ReportError(f"summary.csv has no row for layout {layout!r}, zone {zone!r}")


def load_results(folder: Path | str, records: RecordTable | None = None) -> Results:
    """Read a results folder and check records.csv against the manifest's checksum.

    The scenario is read from ``scenario.resolved.yaml`` (it holds the command-line overrides);
    relative paths in it are taken from the original scenario file's folder, as in the run.
    ``records`` may be given when they are still in memory (the end of a run, which has just
    written them to records.csv); else records.csv is read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such results folder")
    missing = [name for name in _REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ReportError(f"{folder}: not a complete results folder (missing {', '.join(missing)}); "
                          "'run_sim.py run' writes one")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    want = manifest.get("records_sha256")
    if want and sha256_file(folder / "records.csv") != want:
        raise ReportError(f"{folder / 'records.csv'}: does not match the checksum in manifest.json; "
                          "the folder was changed after the run")
    loaded = load_scenario(folder / "scenario.resolved.yaml")
    original = Path(manifest.get("inputs", {}).get("scenario_file", ""))
    if original.name and original.parent.is_dir():
        loaded = dataclasses.replace(loaded, path=original)
    if records is None:
        records = read_records_csv(folder / "records.csv")
    display = str(folder).removesuffix(".partial")
    return Results(folder=folder, manifest=manifest, summary=read_table_csv(folder / "summary.csv"),
                   replications=read_table_csv(folder / "replications.csv"), records=records,
                   loaded=loaded, display=display)


def presence_by_hour(results: Results) -> dict[str, np.ndarray] | None:
    """Police presence at key locations by hour of day (``presence_by_hour.csv``, if the run
    measured it): layout -> 24 shares. None when there is no such data."""
    path = results.folder / "presence_by_hour.csv"
    if not path.is_file():
        return None
    out: dict[str, np.ndarray] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("kind") != "key" or row.get("layout") not in results.layouts:
                continue
            try:
                hour, value = int(row["hour"]), float(row["police_presence"])
            except (KeyError, TypeError, ValueError):
                continue
            if 0 <= hour < 24:
                out.setdefault(row["layout"], np.full(24, np.nan))[hour] = value
    return out or None
