"""Data types shared by every layer: plain, frozen records with no behaviour beyond access.

This module imports nothing from the rest of the package, so every layer may import it: the
scenario, the world, the engine, the analysis, the studies, the figures and the brief.

- :class:`IncidentSet`: one replication's incidents, drawn before the engine runs.
- :class:`Loop`, :class:`Fleet`: a layout's patrol loops and units, as prepared for the engine.
- :class:`Presence`, :class:`EngineResult`: what one engine run produces.
- :data:`FIELDS`, :data:`OUTCOMES`, :class:`RecordTable`: one flat record per incident.
- :class:`Variant`, :class:`Piece`, :class:`BatchResult`: the pieces of a study and their assembly.

Times are seconds from the start of the run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only: this module imports no other layer at run time
    from _typeshed import SupportsWrite

    from sim.scenario import Scenario

FIELDS: tuple[tuple[str, str], ...] = (
    ("layout", "layout name"),
    ("replication", "replication number (0-based); incidents are identical across layouts"),
    ("incident", "incident number within the replication, in order of call time"),
    ("call_s", "time of the call to 110 (s from the start of the run)"),
    ("dispatch_s", "time the 110 centre hands the job to police, after call handling (s)"),
    ("assign_s", "time the first unit on scene was assigned; later than dispatch_s if it had to "
                 "wait for a free unit (s)"),
    ("arrival_s", "time the first unit arrives on scene (s)"),
    ("clear_s", "time the first unit on scene clears it (each unit spends the on-scene time) (s)"),
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
    ("queued", "1 if the job waited for a unit to become free (assign_s > dispatch_s, or none "
               "by the end of the run), else 0"),
    ("queue_wait_s", "assign_s - dispatch_s (s)"),
    ("response_s", "arrival_s - call_s: response time from the call (s)"),
    ("target_s", "the response-time target of the incident's zone (s); in a township or village, "
                 "its rural zone class's (rural.targets)"),
    ("target_met", "1 met, 0 missed (also when handed to the backup force), -1 unknown (still "
                   "open when the run stopped and within target, or closed by the village officer)"),
    ("outcome", "served, on_scene, en_route, queued, call_handling (state when the run stopped), "
                "overflow (no unit free: handed to the backup force, dispatch.when_all_busy) or "
                "closed_by_officer (the village officer's job: no police sent)"),
    ("counted", "1 if the call came after the warm-up and so counts in the metrics, else 0"),
    ("units_required", "units the incident type needs (backup for urgent types)"),
    ("units_sent", "units assigned by the end of the run, less any diverted away before they "
                   "arrived"),
    ("full_arrival_s", "time the last required unit arrives (s); equals arrival_s for one unit"),
    ("full_response_s", "full_arrival_s - call_s: full response time from the call (s)"),
    ("from_patrol", "1 if the first unit was already on the move (patrolling or driving back)"),
    ("volunteer_arrival_s", "when a volunteer team could be on scene (minor incidents, if allowed; "
                            "never part of police figures) (s)"),
    ("diverted", "units taken off this job for a more urgent one (dispatch.divert_from_minor)"),
    ("by_diversion", "1 if the first unit on scene was diverted here from a minor job"),
    ("village", "index of the village the incident is in (rural.villages; nearest centre within "
                "rural.village_radius, outside the urban zones), or -1"),
    ("rural_zone", "rural zone class: township, village, or empty when not rural"),
    ("officer_arrival_s", "time the village officer (一村一辅警) arrives on scene (s); empty if the "
                          "officer did not go (type not allowed, off duty, on another job)"),
    ("officer_closed", "1 if the village officer closed the job and no police were sent, else 0"),
    ("officer_busy_s", "time the village officer was committed to the job, from the call (s); 0 if "
                       "the officer did not go"),
    ("first_on_scene", "who was on scene first: police or village_officer; empty if nobody yet"),
)


OUTCOMES = ("served", "on_scene", "en_route", "queued", "call_handling", "overflow",
            "closed_by_officer")


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
            decoded: np.ndarray = table[col + 1]
            return decoded
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
        remaps: dict[tuple[str, tuple[str, ...]], np.ndarray | None] = {}
        for name, merged in lookups.items():
            where = {v: i for i, v in enumerate(merged)}
            for t in tables:
                own = t.lookups[name]
                if (name, own) not in remaps:  # None: the codes are those of the merged lookup
                    remaps[name, own] = (None if merged[:len(own)] == own else
                                         np.array([-1] + [where[v] for v in own]))
        columns: dict[str, np.ndarray] = {}
        for name in tables[0].columns:
            parts = []
            for t in tables:
                col = t.columns[name]
                remap = remaps.get((name, t.lookups[name])) if name in lookups else None
                parts.append(col if remap is None else remap[col + 1])
            columns[name] = np.concatenate(parts)
        return RecordTable(columns=columns, lookups=lookups)

    def rows(self) -> list[dict[str, Any]]:
        decoded = {name: self.column(name) for name, _ in FIELDS}
        return [{name: decoded[name][i] for name, _ in FIELDS} for i in range(len(self))]

    def to_csv(self, path: Path | None = None) -> str | None:
        """Write the records as CSV (times with millisecond precision); NaN is written empty.

        With ``path`` the file is written (not atomically: callers write to a temporary name and
        rename); without, the CSV text is returned.
        """
        if path is None:
            buf = io.StringIO()
            self.write_csv(buf)
            return buf.getvalue()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            self.write_csv(fh)
        return None

    def write_csv(self, fh: SupportsWrite[str], *, header: bool = True, block: int = 65_536) -> None:
        """Write the records as CSV to an open text file, ``block`` rows at a time.

        The bytes are those of :mod:`csv` (excel dialect, ``\\n`` line ends, minimal quoting) with
        times as ``"%.3f"`` writes them. They are made a block at a time with numpy, not a field
        at a time: each column becomes a byte matrix, one row per record, each field padded to
        the column's width with a byte that UTF-8 never holds; the block is the matrices side by
        side, separators between, with the padding taken out. Appending tables with
        ``header=False`` streams a long run to disk without holding its text in memory.
        """
        if header:
            fh.write(",".join(_csv_field(name) for name, _ in FIELDS) + "\n")
        n = len(self)
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            parts: list[np.ndarray] = []
            for k, (name, _) in enumerate(FIELDS):
                parts.append(_csv_column(self, name, lo, hi))
                parts.append(np.full((hi - lo, 1), ord("\n" if k == len(FIELDS) - 1 else ","),
                                     dtype=np.uint8))
            flat = np.concatenate(parts, axis=1).ravel()
            fh.write(flat[flat != _PAD].tobytes().decode("utf-8"))


_PAD = 0xFF
"""The padding of fields in :meth:`RecordTable.write_csv`'s byte matrices: a byte that no UTF-8
text holds."""

_THOUSANDTHS = np.array([f".{k:03d}".encode() for k in range(1000)], dtype="S4")


def _csv_field(value: str) -> str:
    """``value`` as the csv module writes it inside a row (quoted only when it must be)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([value, "x"])
    return buf.getvalue()[: -len(",x\n")]


def _csv_column(table: RecordTable, name: str, lo: int, hi: int) -> np.ndarray:
    """Rows lo..hi of a column as CSV fields: a ``uint8`` matrix, a field per row, padded."""
    col = table.columns[name][lo:hi]
    if name in table.lookups:
        texts = _text_matrix([""] + [_csv_field(str(v)) for v in table.lookups[name]])
        coded: np.ndarray = texts[col + 1]
        return coded
    if col.dtype.kind == "f":
        return _fixed3(col)
    if col.dtype.kind in "iub":
        return _numeral_matrix(col.astype(np.int64))
    return _text_matrix([_csv_field(str(v)) for v in col])


def _text_matrix(texts: list[str]) -> np.ndarray:
    """``texts`` UTF-8 encoded, one per row, padded with :data:`_PAD`."""
    encoded = [t.encode("utf-8") for t in texts]
    out = np.full((len(encoded), max(map(len, encoded), default=0)), _PAD, dtype=np.uint8)
    for i, e in enumerate(encoded):
        out[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
    return out


def _numeral_matrix(values: np.ndarray) -> np.ndarray:
    """Integers (``int64``) as ``str`` writes them, one per row, right-aligned and padded with
    :data:`_PAD`; the digits are taken off by division, a pass per place."""
    n = values.shape[0]
    if n == 0:
        return np.zeros((0, 0), dtype=np.uint8)
    negative = values < 0
    magnitude = np.abs(values)  # (an int64 record value is never -2**63)
    places = len(str(int(magnitude.max())))
    width = places + int(negative.any())
    out = np.empty((n, width), dtype=np.uint8)
    rest = magnitude.copy()
    for k in range(width - 1, width - 1 - places, -1):
        out[:, k] = rest % 10 + 48
        rest //= 10
    digits = np.ones(n, dtype=np.int64)  # each value's digits: 1 + the powers of ten it reaches
    for p in range(1, places):
        digits += magnitude >= 10**p
    first = width - digits  # where each value's first digit is
    out[np.arange(width) < first[:, None]] = _PAD
    if negative.any():
        out[np.flatnonzero(negative), first[negative] - 1] = ord("-")
    return out


def _fixed3(values: np.ndarray) -> np.ndarray:
    """Floats as ``"%.3f" % x`` writes them (NaN empty), without formatting each float.

    ``"%.3f"`` rounds the exact binary value to thousandths, ties to even. For ``x >= 0`` that is
    ``rint(1000 x)`` thousandths unless the product ``s = fl(1000 x)`` lies within an ulp of a
    half-integer (``1000 x`` may then be on the other side, or on it); those, negative values,
    infinities and products from 2**52 up are formatted one by one. The others are written from
    their whole and thousandth parts.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * 1000.0
        fast = (~np.signbit(values) & (scaled < 2.0**52)
                & (np.abs(scaled - np.floor(scaled) - 0.5) > np.spacing(scaled)))
    whole, thousandths = np.divmod(np.where(fast, np.rint(scaled), 0.0).astype(np.int64), 1000)
    frac = _THOUSANDTHS[thousandths].view(np.uint8).reshape(values.shape[0], 4)
    out = np.concatenate([_numeral_matrix(whole), frac], axis=1)
    out[~fast] = _PAD
    slow = np.flatnonzero(~fast & ~np.isnan(values))
    if slow.size:
        texts = _text_matrix([f"{x:.3f}" for x in values[slow].tolist()])
        if texts.shape[1] > out.shape[1]:
            out = np.concatenate([out, np.full((out.shape[0], texts.shape[1] - out.shape[1]), _PAD,
                                               dtype=np.uint8)], axis=1)
        out[slow, : texts.shape[1]] = texts
    return out


@dataclass(frozen=True, eq=False)
class IncidentSet:
    """All incidents of one replication, sorted by call time (arrays of equal length).

    Attributes
    ----------
    call_s : time of the call (s since the start of the run).
    dispatch_s : time the 110 centre hands the job to police (call + call handling) (s).
    node : road node of the incident.
    zone : zone class index (0 key, 1 central, 2 other).
    key_location : index of the key location, or -1.
    type_index : index into the scenario's ``incident_types``.
    priority : priority index (0 urgent, 1 standard, 2 minor).
    on_scene_s : time the first unit spends on scene (s).
    """

    call_s: np.ndarray
    dispatch_s: np.ndarray
    node: np.ndarray
    zone: np.ndarray
    key_location: np.ndarray
    type_index: np.ndarray
    priority: np.ndarray
    on_scene_s: np.ndarray
    horizon_s: float

    def __len__(self) -> int:
        return int(self.call_s.shape[0])


@dataclass(frozen=True, eq=False)
class Loop:
    """A closed patrol route: ``nodes[0] == nodes[-1]``; ``cum[k]`` is the time (s) to reach
    ``nodes[k]`` from the start; ``cycle`` = ``cum[-1]``; ``waypoints`` are indices into ``nodes``."""

    nodes: np.ndarray
    cum: np.ndarray
    waypoints: np.ndarray
    unit_type: str

    @property
    def cycle(self) -> float:
        return float(self.cum[-1])


@dataclass(frozen=True, eq=False)
class Fleet:
    """The units of one layout (arrays of equal length, in a fixed order: unit index = tie-break).

    Attributes
    ----------
    unit_name : e.g. ``"P01 Old Town/patrol_car#2"``.
    unit_type : unit type name per unit.
    role : ``response``, ``platform_vehicle`` or ``volunteer`` per unit.
    platform : platform index per unit (-1 for volunteer teams).
    post : road node of the unit's home post (a volunteer's beat start).
    post_table : ``[minute of day, unit]``: the node where the unit waits at that time (its
        platform's ``posts_by_time``, else the home post).
    turnout_s : turnout time (s) when leaving from the post.
    off_air : ``[minute of day, unit]``: True when the unit is off duty or on a break.
    loop : index into ``loops`` of the unit's patrol loop, or -1 (waits at its post).
    loop_phase_s : where on its loop the unit is at time 0 (s along the loop).
    loops : the patrol loops and volunteer beats.
    platform_names, platform_nodes, platform_snap_m : per platform: name, node, snapping distance (m).
    """

    layout: str
    unit_name: tuple[str, ...]
    unit_type: tuple[str, ...]
    role: tuple[str, ...]
    platform: np.ndarray
    post: np.ndarray
    turnout_s: np.ndarray
    off_air: np.ndarray
    loop: np.ndarray
    loop_phase_s: np.ndarray
    loops: tuple[Loop, ...]
    post_table: np.ndarray
    platform_names: tuple[str, ...]
    platform_nodes: np.ndarray
    platform_snap_m: np.ndarray

    def __len__(self) -> int:
        return len(self.unit_name)

    @property
    def dispatchable(self) -> np.ndarray:
        return np.array([r == "response" for r in self.role], dtype=bool)

    @property
    def police(self) -> np.ndarray:
        return np.array([r != "volunteer" for r in self.role], dtype=bool)


@dataclass(frozen=True, eq=False)
class Presence:
    """Presence samples: for each point (key location or grid post), by hour of day.

    Attributes
    ----------
    names, kinds, nodes, targets_s : the points (kind ``key`` or ``grid``).
    samples : samples taken in each hour of day (24,).
    police : samples with a police unit within the target, ``[point, hour]``.
    volunteers : the same for volunteer teams.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    nodes: np.ndarray
    targets_s: np.ndarray
    samples: np.ndarray
    police: np.ndarray
    volunteers: np.ndarray


@dataclass(frozen=True, eq=False)
class EngineResult:
    """What one engine run produces.

    Attributes
    ----------
    records : one row per incident.
    unit_busy_s : time (s) each unit spent committed to incidents (assign to clear) within the
        counted window [warm-up, horizon].
    unit_on_air_s : time (s) each unit was on the air (on shift, not in a hand-over or on a
        break) within that window.
    unit_busy_off_air_s : the part of ``unit_busy_s`` spent off the air: finishing a job after
        the shift ended, or through a break that started during the job. Utilisation is busy
        time over on-air time plus this (:func:`sim.analysis.metrics.utilisation`).
    window_s : length (s) of the window.
    run_end_s : when the run stopped (s): the horizon, or later when counted incidents were
        still open then (the cool-down, at most ``run.cooldown``); no time in the records is
        later.
    dispatchable : which units take dispatches (utilisation is over these).
    assignments : every (incident, unit, assign_s, arrival_s, clear_s), for invariant checks.
    presence : presence samples (see :class:`Presence`).
    searches : Dijkstra searches the oracles ran during the run (for benchmarks).
    goal_searches : goal-directed point-to-point searches they ran (for benchmarks).
    """

    records: RecordTable
    unit_busy_s: np.ndarray
    unit_on_air_s: np.ndarray
    unit_busy_off_air_s: np.ndarray
    window_s: float
    run_end_s: float
    dispatchable: np.ndarray
    assignments: dict[str, np.ndarray]
    presence: Presence
    searches: int
    goal_searches: int


@dataclass(frozen=True, eq=False)
class Variant:
    """One combination of sweep factors, with the scenario it gives."""

    name: str
    factors: dict[str, Any]
    scenario: Scenario
    demand_multiplier: float = 1.0


@dataclass(frozen=True, eq=False)
class Piece:
    """The result of one (variant, layout, replication) task."""

    records: RecordTable
    rows: list[dict[str, Any]]
    incidents: int
    presence: Presence | None = None


@dataclass
class BatchResult:
    """Everything a batch produced, in a fixed order (variants, layouts, then replications)."""

    scenario: Scenario
    layouts: list[str]
    replications: int
    seed: int
    records: RecordTable
    per_replication: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    incidents_simulated: int = 0
    variants: list[Variant] = field(default_factory=list)
    variant_records: list[RecordTable] = field(default_factory=list)
    """Records per variant (``records`` is the first variant's)."""
    presence: dict[tuple[str, int], Presence] = field(default_factory=dict)
    """Presence samples of the first variant, per (layout, replication)."""
