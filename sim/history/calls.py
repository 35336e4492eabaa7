"""Read a call log (CSV or Parquet) through the scenario's column mapping, checking every row.

Only the mapped columns are read (personal fields never enter the results). Every row is
checked: a bad or missing call time, a place off the map, an unknown type or priority, or times
out of order rejects the row; each problem is listed (row, column, reason) and counted by reason.
Reading never stops at the first bad row and never drops a row without saying so.

Times become seconds: ``*_epoch`` arrays are seconds since 1970 UTC; ``call_s`` etc. are seconds
from ``start`` (local midnight of the first call's day in the mapping's time zone), which is the
run clock of a replay. A time with a zone offset (``+01:00``, ``Z``) is taken as written; a time
without one is local time in ``history.timezone``. Elapsed seconds are therefore right across a
daylight-saving change (a 23 h or 25 h local day); a local time that the change skips or repeats
cannot be placed and its row is rejected, saying so. Rows are numbered from 1, the first data row
(line 2 of a CSV file).

Places: a logged ``lon, lat`` is put on the nearest drivable road (the nearest point of the
nearest drivable edge, ``sim.network.snap.nearest_road``), like every other place of a scenario;
its distance to that road is checked against ``network.snap_tolerance``. Incidents of the model
sit on road nodes (generated ones too), so the call is placed on the nearer end of that street;
``snap_m`` is the distance to the road and ``along_m`` the distance along the street from the
nearest point to that node.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from sim.fileio import sha256_file
from sim.network.graph import RoadNetwork
from sim.network.snap import nearest_road
from sim.quantities import format_distance
from sim.scenario import PRIORITIES, HistorySpec, LoadedScenario, Scenario, ScenarioError, format_loc

__all__ = ["CallLog", "RowProblem", "history_spec", "read_calls"]

TIME_COLUMNS = ("call_time", "dispatch_time", "arrival_time", "clear_time")
MAX_SPAN_S = 86400.0
"""A dispatch, arrival or clear time more than this after the call is rejected as implausible."""

_WKT_POINT = r"^\s*POINT\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)\s*$"
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


@dataclass(frozen=True)
class RowProblem:
    """One problem in one row: row number (1 = first data row), column (mapped name), reason."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True, eq=False)
class CallLog:
    """The accepted calls of a log, in order of call time (arrays of equal length).

    Attributes
    ----------
    row : row number of each call in the file (1 = first data row).
    call_epoch, dispatch_epoch, arrival_epoch, clear_epoch : times (s since 1970 UTC); NaN where
        the log has none.
    start_epoch : the run's time 0: local midnight of the first accepted call's day.
    node : road node of each call: the nearer end of the drivable street nearest to its place.
    snap_m : distance (m) from the logged place to that street (0 for a logged node).
    along_m : distance (m) along the street from the nearest point to ``node``.
    type_index, priority : index into the scenario's incident types, and priority index.
    unit, platform : the responding unit and its platform as logged ("" when absent).
    hour_of_week : local hour of the week of the call (0 = Monday 00:00-01:00).
    dispatch_minute : local minute of the day of the dispatch (-1 without one).
    problems : every problem of every rejected row; rows_read : rows in the file.
    """

    path: Path
    checksum: str
    timezone: str
    row: np.ndarray
    call_epoch: np.ndarray
    dispatch_epoch: np.ndarray
    arrival_epoch: np.ndarray
    clear_epoch: np.ndarray
    start_epoch: float
    node: np.ndarray
    snap_m: np.ndarray
    along_m: np.ndarray
    type_index: np.ndarray
    priority: np.ndarray
    unit: np.ndarray
    platform: np.ndarray
    hour_of_week: np.ndarray
    dispatch_minute: np.ndarray
    rows_read: int
    problems: list[RowProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @property
    def call_s(self) -> np.ndarray:
        """Call times (s from ``start_epoch``)."""
        return self.call_epoch - self.start_epoch

    def since_start(self, epoch: np.ndarray) -> np.ndarray:
        return epoch - self.start_epoch

    @property
    def rejected_rows(self) -> int:
        return len({p.row for p in self.problems})

    def counts_by_reason(self) -> dict[str, int]:
        """Problems counted by reason kind (the reason without its row-specific detail)."""
        return dict(Counter(p.reason.split(":")[0] for p in self.problems).most_common())

    def local_time(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, ZoneInfo(self.timezone))

    def subset(self, keep: np.ndarray) -> CallLog:
        """The calls where ``keep`` is True (the same start and problems)."""
        arrays = {k: getattr(self, k)[keep] for k in (
            "row", "call_epoch", "dispatch_epoch", "arrival_epoch", "clear_epoch", "node", "snap_m",
            "along_m", "type_index", "priority", "unit", "platform", "hour_of_week", "dispatch_minute")}
        return CallLog(path=self.path, checksum=self.checksum, timezone=self.timezone,
                       start_epoch=self.start_epoch, rows_read=self.rows_read, problems=self.problems,
                       **arrays)

    def window(self, start: datetime, end: datetime) -> CallLog:
        """Calls at or after ``start`` and before ``end`` (local datetimes), with time 0 at ``start``."""
        a, z = start.timestamp(), end.timestamp()
        part = self.subset((self.call_epoch >= a) & (self.call_epoch < z))
        return _restart(part, a)


def _restart(log: CallLog, start_epoch: float) -> CallLog:
    fields = {k: getattr(log, k) for k in log.__dataclass_fields__}
    fields["start_epoch"] = start_epoch
    return CallLog(**fields)


def history_spec(loaded: LoadedScenario, mapping: Path | None = None) -> HistorySpec:
    """The column mapping: a YAML file (its top level, or its ``history:`` key) or the scenario's."""
    if mapping is None:
        if loaded.scenario.history is None:
            raise loaded.error(("history",), "the scenario has no 'history:' section; add one or "
                                             "give a mapping file with --mapping")
        return loaded.scenario.history
    try:
        data = yaml.safe_load(Path(mapping).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read the mapping file: {exc.strerror}", file=mapping) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=mapping) from None
    if isinstance(data, dict) and "history" in data:
        data = data["history"]
    try:
        return HistorySpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError.combine(
            ScenarioError(err["msg"].removeprefix("Value error, "), file=mapping, loc=tuple(err["loc"]))
            for err in exc.errors()) from None


def _read_table(path: Path, spec: HistorySpec) -> pd.DataFrame:
    """The mapped columns only, as text (CSV) or as stored (Parquet)."""
    wanted = {k: v for k, v in spec.columns.model_dump().items() if v is not None}
    kind = spec.format
    if kind == "auto":
        kind = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq  # optional: only for Parquet logs

            present = set(pq.read_schema(path).names)
        else:
            present = set(pd.read_csv(path, nrows=0, dtype=str).columns)
    except ImportError:
        raise ScenarioError("reading Parquet needs pyarrow (pip install pyarrow)", file=path) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"cannot read the call log: {exc}", file=path) from None
    missing = [f"{k} -> '{v}'" for k, v in wanted.items() if v not in present]
    if missing:
        raise ScenarioError(f"mapped column(s) not in the file: {', '.join(missing)}; the file has: "
                            f"{', '.join(sorted(present))}", file=path, loc=("history", "columns"))
    cols = sorted(set(wanted.values()))
    if kind == "parquet":
        table = pd.read_parquet(path, columns=cols)
    else:
        table = pd.read_csv(path, usecols=cols, dtype=str, keep_default_na=False)
    return pd.DataFrame({k: table[v] for k, v in wanted.items()})


def _epoch(ts: pd.Series) -> np.ndarray:
    """Seconds since 1970 UTC of tz-aware timestamps (whatever their resolution)."""
    since = ts.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return np.asarray(since / pd.Timedelta(1, "s"), dtype=float)


def _parse_times(col: pd.Series, tz: str, fmt: str | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epoch seconds (NaN where empty or bad), a mask of entries that were given but unreadable,
    and a mask of readable local times that ``tz`` skips or repeats (a daylight-saving change)."""
    n = len(col)
    out = np.full(n, np.nan)
    gap = np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(col):
        if col.dt.tz is not None:
            ts = col
        else:
            ts = col.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            gap = (ts.isna() & col.notna()).to_numpy()
        vals = ts.dt.tz_convert("UTC")
        ok = vals.notna().to_numpy()
        out[ok] = _epoch(vals[ok])
        return out, ~ok & col.notna().to_numpy() & ~gap, gap
    text = col.astype(str).str.strip()
    given = (text != "") & (text.str.lower() != "nan") & col.notna()
    aware = given & text.str.contains(_TZ_SUFFIX)
    for mask, is_aware in ((aware, True), (given & ~aware, False)):
        if not mask.any():
            continue
        parsed = pd.to_datetime(text[mask], errors="coerce", format=fmt or "mixed", utc=is_aware)
        if not is_aware:
            readable = parsed.notna().to_numpy()
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
            gap[np.flatnonzero(mask.to_numpy())[readable & parsed.isna().to_numpy()]] = True
        ok = parsed.notna()
        idx = np.flatnonzero(mask.to_numpy())[ok.to_numpy()]
        out[idx] = _epoch(parsed[ok])
    return out, given.to_numpy() & np.isnan(out) & ~gap, gap


def read_calls(path: str | Path, spec: HistorySpec, scenario: Scenario,
               net: RoadNetwork) -> CallLog:
    """Read and check every row of a call log (see the module docstring).

    Raises
    ------
    ScenarioError
        When the file cannot be read or a mapped column is missing (nothing row-specific).
    """
    path = Path(path)
    table = _read_table(path, spec)
    n = len(table)
    problems: list[RowProblem] = []
    bad = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, column: str, reason: Any) -> None:
        for i in np.flatnonzero(mask):
            text = reason(int(i)) if callable(reason) else reason
            problems.append(RowProblem(int(i) + 1, column, text))
        bad[mask] = True

    times: dict[str, np.ndarray] = {}
    for name in TIME_COLUMNS:
        if getattr(spec.columns, name) is None:
            times[name] = np.full(n, np.nan)
            continue
        epoch, unreadable, gap = _parse_times(table[name], spec.timezone, spec.time_format)
        raw = table[name].astype(str).to_numpy()
        reject(unreadable, name, lambda i, raw=raw: f"not a time: '{raw[i]}'")
        reject(gap, name, lambda i, raw=raw: f"not a time in {spec.timezone}: '{raw[i]}' is skipped "
                                             "or repeated by a daylight-saving change; write it "
                                             "with its zone offset (e.g. +01:00)")
        times[name] = epoch
    reject(np.isnan(times["call_time"]) & ~bad, "call_time", "missing: no call time")

    # order: call <= dispatch <= arrival <= clear (each against the latest earlier time given),
    # each within a day of the call
    last_t = times["call_time"].copy()
    last_name = np.full(n, "call_time", dtype=object)
    for later in TIME_COLUMNS[1:]:
        t = times[later]
        given = ~np.isnan(t)
        wrong = given & ~np.isnan(last_t) & (t < last_t)
        reject(wrong, later,
               lambda i, later=later, names=last_name: f"out of order: {later} before {names[i]}")
        far = given & (t - times["call_time"] > MAX_SPAN_S)
        reject(far, later, f"implausible: more than {MAX_SPAN_S / 3600:g} h after the call")
        last_t = np.where(given, t, last_t)
        last_name = np.where(given, later, last_name)

    # place
    node = np.zeros(n, dtype=np.int64)
    snap = np.zeros(n)
    along = np.zeros(n)
    if spec.columns.node is not None:
        ids = pd.to_numeric(table["node"], errors="coerce").to_numpy()
        index = {int(o): i for i, o in enumerate(net.osmid)}
        found = np.array([index.get(int(v), -1) if np.isfinite(v) else -1 for v in ids])
        reject(found < 0, "node", lambda i: f"unknown road node: '{table['node'].iloc[i]}'")
        node = np.maximum(found, 0)
    else:
        wkt_bad = np.zeros(n, dtype=bool)
        if spec.columns.point is not None:
            xy = table["point"].astype(str).str.extract(_WKT_POINT)
            wkt_bad = xy[0].isna().to_numpy()
            reject(wkt_bad, "point", lambda i: f"not a POINT (lon lat): "
                                                               f"'{table['point'].iloc[i]}'")
            table["lon"], table["lat"] = xy[0].fillna("nan"), xy[1].fillna("nan")
        lon = pd.to_numeric(table["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(table["lat"], errors="coerce").to_numpy(dtype=float)
        for name, v, lim in (("lon", lon, 180.0), ("lat", lat, 90.0)):
            reject(~np.isfinite(v) & ~wkt_bad, name, lambda i, name=name: f"not a number: "
                                                                     f"'{table[name].iloc[i]}'")
            reject(np.isfinite(v) & (np.abs(v) > lim), name, f"not a coordinate: |{name}| > {lim:g}")
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        node, snap, along = _on_roads(net, lon, lat, ok)
        tol = scenario.network.snap_tolerance
        def off_map(i: int) -> str:
            return (f"off the map: {format_distance(round(float(snap[i])))} from the nearest road "
                    f"(tolerance {format_distance(tol)})")

        reject(ok & (snap > tol), "lon", off_map)

    # type or priority
    names = [t.name for t in scenario.incident_types]
    type_index = np.zeros(n, dtype=np.int16)
    if spec.columns.type is not None:
        values = table["type"].astype(str).str.strip().to_numpy()
        lookup = {**{v: v for v in names}, **spec.types}
        idx = np.array([names.index(lookup[v]) if lookup.get(v) in names else -1 for v in values])
        reject(idx < 0, "type", lambda i: f"unknown incident type: '{values[i]}' (map it under "
                                          f"{format_loc(('history', 'types'))})")
        type_index = np.maximum(idx, 0).astype(np.int16)
    elif spec.columns.priority is not None:
        values = table["priority"].astype(str).str.strip().to_numpy()
        lookup_p: dict[str, str] = {**{p: p for p in PRIORITIES}, **spec.priorities}
        best = {}
        for p in PRIORITIES:
            of_p = [k for k, t in enumerate(scenario.incident_types) if t.priority == p]
            if of_p:
                best[p] = max(of_p, key=lambda k: scenario.incident_types[k].share)
        idx = np.array([best.get(lookup_p.get(v, ""), -1) for v in values])
        reject(idx < 0, "priority", lambda i: f"unknown priority: '{values[i]}' (map it under "
                                              f"{format_loc(('history', 'priorities'))})")
        type_index = np.maximum(idx, 0).astype(np.int16)
    prio_of_type = np.array([PRIORITIES.index(t.priority) for t in scenario.incident_types], dtype=np.int8)

    def text_col(name: str) -> np.ndarray:
        if getattr(spec.columns, name) is None:
            return np.full(n, "", dtype=object)
        col = table[name].astype(str).str.strip()
        return np.asarray(col.where(col.str.lower() != "nan", "").to_numpy(dtype=object))

    unit, platform = text_col("unit"), text_col("platform")
    keep = ~bad
    order_idx = np.flatnonzero(keep)[np.argsort(times["call_time"][keep], kind="stable")]
    call = times["call_time"][order_idx]
    zone = ZoneInfo(spec.timezone)
    if len(call):
        first = datetime.fromtimestamp(float(call[0]), zone)
        start = datetime(first.year, first.month, first.day, tzinfo=zone).timestamp()
    else:
        start = 0.0
    how = _hour_of_week(call, zone)
    disp = times["dispatch_time"][order_idx]
    minute = _minute_of_day(disp, zone)
    problems.sort(key=lambda p: (p.row, TIME_COLUMNS.index(p.column) if p.column in TIME_COLUMNS else 9))
    return CallLog(
        path=path, checksum=sha256_file(path), timezone=spec.timezone, row=order_idx + 1,
        call_epoch=call, dispatch_epoch=disp, arrival_epoch=times["arrival_time"][order_idx],
        clear_epoch=times["clear_time"][order_idx], start_epoch=float(start), node=node[order_idx],
        snap_m=snap[order_idx], along_m=along[order_idx],
        type_index=type_index[order_idx], priority=prio_of_type[type_index[order_idx]],
        unit=unit[order_idx], platform=platform[order_idx], hour_of_week=how,
        dispatch_minute=minute, rows_read=n, problems=problems)


def _on_roads(net: RoadNetwork, lon: np.ndarray, lat: np.ndarray, ok: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node, distance to the road (m) and distance along it (m) of each place (see the module
    docstring); places not ``ok`` get node 0 and distance 0 (their rows are rejected anyway)."""
    n = len(lon)
    node, snap, along = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
    if not ok.any():
        return node, snap, along
    px, py = net.frame.to_local(lon[ok], lat[ok])
    lo, hi, t, dist = nearest_road(net, np.asarray(px), np.asarray(py))
    length = np.hypot(net.x[hi] - net.x[lo], net.y[hi] - net.y[lo])
    first = t <= 0.5  # the nearer end; a tie goes to the lower node index
    node[ok] = np.where(first, lo, hi)
    snap[ok] = dist
    along[ok] = np.where(first, t, 1.0 - t) * length
    return node, snap, along


def _local(epoch: np.ndarray, zone: ZoneInfo) -> pd.DatetimeIndex:
    return pd.to_datetime(np.nan_to_num(epoch), unit="s", utc=True).tz_convert(zone)


def _hour_of_week(epoch: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    t = _local(epoch, zone)
    return np.asarray(t.day_of_week * 24 + t.hour, dtype=np.int64)


def _minute_of_day(epoch: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    t = _local(epoch, zone)
    out = np.asarray(t.hour * 60 + t.minute, dtype=np.int64)
    return np.where(np.isnan(epoch), -1, out)


def local_midnight(text: str, tz: str) -> datetime:
    """``"2025-01-01"`` -> that day's midnight in ``tz``."""
    d = datetime.strptime(text.strip(), "%Y-%m-%d")
    return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz))


def parse_window(text: str, tz: str) -> tuple[datetime, datetime]:
    """``"2025-01-01:2025-09-30"`` -> [midnight of the first day, midnight after the last day)."""
    try:
        a, z = text.split(":")
        return local_midnight(a, tz), local_midnight(z, tz) + timedelta(days=1)
    except ValueError:
        raise ScenarioError(f"'{text}' is not a window; write FIRST:LAST days, e.g. "
                            "2025-01-01:2025-09-30") from None
