"""Invariants of every run: checked by hypothesis over random small scenarios, and shown to bite."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis.metrics import replication_metrics
from sim.engine.core import simulate
from sim.engine.invariants import InvariantError, check_invariants, check_result
from sim.types import FIELDS, RecordTable
from sim.world.demand import generate_incidents

from .conftest import tiny_scenario, world_for

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def scenarios(draw):
    data = tiny_scenario("grid.osm", days=f"{draw(st.integers(1, 3))} d", reps=1,
                         per_day=draw(st.sampled_from([5.0, 40.0, 150.0, 400.0])))
    data["run"]["seed"] = draw(st.integers(0, 10_000))
    data["unit_types"]["car"]["turnout"] = f"{draw(st.integers(0, 120))} s"
    data["unit_types"]["car"]["patrols"] = draw(st.booleans())
    required = draw(st.integers(1, 3))  # every layout can send that many (else a scenario error)
    data["incident_types"][0]["units_required"] = required
    data["incident_types"][1]["on_scene"] = draw(st.sampled_from([
        {"distribution": "fixed", "mean": "10 min"}, {"distribution": "exponential", "mean": "30 min"},
        {"distribution": "gamma", "mean": "20 min", "cv": 1.5}]))
    west, east, centre = (data["layouts"]["two_posts"]["platforms"][0],
                          data["layouts"]["two_posts"]["platforms"][1],
                          data["layouts"]["one_post"]["platforms"][0])
    west["units"] = {"car": draw(st.integers(0, 3)), "moto": draw(st.integers(1, 2))}
    east["units"] = {"car": draw(st.integers(max(1, required - 1), 3))}
    centre["units"] = {"car": draw(st.integers(required, 4))}
    if draw(st.booleans()):  # three shifts, a hand-over, a meal break, fewer units at night
        data["shifts"] = {"starts": ["00:00", "08:00", "16:00"],
                          "handover": f"{draw(st.integers(0, 20))} min",
                          "meal_breaks": [{"window": ["11:00", "13:00"], "duration": "30 min"}]}
        east["units_by_shift"] = [{"car": 1}, east["units"], east["units"]]
    data["layouts"]["two_posts"]["patrol"] = draw(st.booleans())
    return data


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("inv")


@SETTINGS
@given(data=scenarios())
def test_invariants_hold_on_random_small_scenarios(folder, data):
    _, net, world = world_for(folder, data)
    s = world.scenario
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    for layout, fleet in world.fleets.items():
        res = simulate(world, layout, inc, 0, presence=False)
        check_result(res, fleet, expected_incidents=len(inc), horizon_s=inc.horizon_s,
                     warmup_s=s.run.warmup)
        outcome = res.records.column("outcome")
        assert len(outcome) == len(inc)  # none lost: every incident has a record and a state
        disp = res.dispatchable
        for row in replication_metrics(res.records, res.unit_busy_s[disp], res.unit_on_air_s[disp],
                                       res.unit_busy_off_air_s[disp]):
            for key in ("utilisation", "compliance", "queued_share"):
                v = row.get(key, math.nan)
                assert math.isnan(v) or 0.0 <= v <= 1.0, (key, v)


# -- the checker catches what it should ------------------------------------------------------------

@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    """An overloaded run with shifts and backup units: queues, censoring, several units per job."""
    folder = tmp_path_factory.mktemp("busy")
    data = tiny_scenario("grid.osm", days="2 d", per_day=200.0)
    data["incident_types"][0]["units_required"] = 2
    data["shifts"] = {"starts": ["00:00", "12:00"], "handover": "10 min"}
    _, net, world = world_for(folder, data)
    s = world.scenario
    inc = generate_incidents(s, net, world.zones, seed=3, replication=0, weights=world.weights)
    res = simulate(world, "two_posts", inc, 0, presence=False)
    fleet = world.fleets["two_posts"]
    kw = dict(expected_incidents=len(inc), horizon_s=inc.horizon_s, warmup_s=s.run.warmup)
    check_result(res, fleet, **kw)
    c = res.records.columns
    assert c["queued"].sum() > 10 and (c["units_sent"] == 2).any() and fleet.off_air.any()
    return res, fleet, kw


def _table(res, **changes) -> RecordTable:
    cols = {k: v.copy() for k, v in res.records.columns.items()}
    for k, f in changes.items():
        f(cols[k]) if callable(f) else cols.__setitem__(k, f)
    return RecordTable(columns=cols, lookups=res.records.lookups)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check(res, fleet, kw, table=None, assignments=None, off_air=None, unit_busy_s=None):
    check_invariants(table if table is not None else res.records, n_units={fleet.layout: len(fleet)},
                     unit_busy_s=res.unit_busy_s if unit_busy_s is None else unit_busy_s,
                     unit_on_air_s=res.unit_on_air_s, unit_busy_off_air_s=res.unit_busy_off_air_s,
                     end_s=res.run_end_s, assignments=assignments or res.assignments,
                     off_air=fleet.off_air if off_air is None else off_air,
                     dispatchable=res.dispatchable, **kw)


def test_times_out_of_order_are_caught(busy_run):
    res, fleet, kw = busy_run
    c = res.records.columns
    i = _first(~np.isnan(c["arrival_s"]))
    bad = _table(res, arrival_s=lambda a: a.__setitem__(i, c["assign_s"][i] - 5.0))
    with pytest.raises(InvariantError, match="assign after arrival"):
        _check(res, fleet, kw, table=bad)


def test_a_lost_incident_is_caught(busy_run):
    res, fleet, kw = busy_run
    keep = np.arange(len(res.records)) != 7
    lost = RecordTable(columns={k: v[keep] for k, v in res.records.columns.items()},
                       lookups=res.records.lookups)
    with pytest.raises(InvariantError, match="not 0, 1, 2"):
        _check(res, fleet, kw, table=lost)
    last = np.arange(len(res.records)) < len(res.records) - 1
    short = RecordTable(columns={k: v[last] for k, v in res.records.columns.items()},
                        lookups=res.records.lookups)
    with pytest.raises(InvariantError, match="generated incidents"):
        _check(res, fleet, kw, table=short)


def test_a_wrong_outcome_is_caught(busy_run):
    res, fleet, kw = busy_run
    i = _first(res.records.column("outcome") == "served")
    bad = _table(res, outcome=lambda o: o.__setitem__(i, 3))
    with pytest.raises(InvariantError, match="outcome"):
        _check(res, fleet, kw, table=bad)


def test_a_unit_on_two_incidents_at_once_is_caught(busy_run):
    res, fleet, kw = busy_run
    a = {k: v.copy() for k, v in res.assignments.items()}
    # move the second job of some unit to start before its first one ends
    u = int(a["unit"][0])
    mine = np.flatnonzero(a["unit"] == u)
    j, k = int(mine[0]), int(mine[1])
    shift = a["assign_s"][k] - (a["assign_s"][j] + 1.0)
    for key in ("assign_s", "arrival_s", "clear_s"):
        a[key][k] -= shift
    with pytest.raises(InvariantError, match="while still on incident"):
        _check(res, fleet, kw, assignments=a)


def test_a_record_naming_a_unit_never_sent_to_it_is_caught(busy_run):
    res, fleet, kw = busy_run
    a, c = res.assignments, res.records.columns
    end = np.where(np.isnan(c["clear_s"]), np.inf, c["clear_s"])

    def swap() -> tuple[int, int]:
        """A job with a unit, and the highest unit number (the edge of the keys) that was not
        sent to it and was first on scene nowhere else while it was on."""
        for i in np.flatnonzero(c["unit"] >= 0).tolist():
            sent = set(a["unit"][a["incident"] == i].tolist())
            for u in range(len(fleet) - 1, -1, -1):
                mine = c["unit"] == u
                if u not in sent and res.dispatchable[u] and not np.any(
                        mine & (c["assign_s"] < end[i]) & (end > c["assign_s"][i])):
                    return i, u
        raise AssertionError("no job and unit to swap in")

    i, other = swap()
    assert np.any(a["unit"] == other)  # sent elsewhere: pairs, not units, must be matched
    bad = _table(res, unit=lambda col: col.__setitem__(i, other))
    with pytest.raises(InvariantError, match="never assigned"):
        _check(res, fleet, kw, table=bad)


def test_a_unit_sent_while_off_duty_is_caught(busy_run):
    res, fleet, kw = busy_run
    a = res.assignments
    off = fleet.off_air.copy()
    minute = int(a["assign_s"][0] // 60) % off.shape[0]
    off[minute, int(a["unit"][0])] = True
    with pytest.raises(InvariantError, match="off duty"):
        _check(res, fleet, kw, off_air=off)


def test_a_job_waiting_while_a_unit_is_free_is_caught(busy_run):
    res, fleet, kw = busy_run
    # a spare unit that is always on duty and never sent: every queued job could have had it
    off = np.concatenate([fleet.off_air, np.zeros((fleet.off_air.shape[0], 1), dtype=bool)], axis=1)
    with pytest.raises(InvariantError, match="work-conserving"):
        check_invariants(res.records, assignments=res.assignments, off_air=off,
                         dispatchable=np.append(res.dispatchable, True), **kw)


def test_utilisation_above_one_is_caught(busy_run):
    res, fleet, kw = busy_run
    with pytest.raises(InvariantError, match="utilisation"):
        _check(res, fleet, kw, unit_busy_s=res.unit_busy_s + res.window_s)


def test_derived_durations_must_agree(busy_run):
    res, fleet, kw = busy_run
    c = res.records.columns
    i = _first(~np.isnan(c["response_s"]))
    bad = _table(res, response_s=lambda r: r.__setitem__(i, r[i] + 1.0))
    with pytest.raises(InvariantError, match="response_s"):
        _check(res, fleet, kw, table=bad)
    j = _first(c["units_sent"] >= 1)
    bad = _table(res, units_sent=lambda s: s.__setitem__(j, c["units_required"][j] + 1))
    with pytest.raises(InvariantError, match="more units sent"):
        _check(res, fleet, kw, table=bad)


def test_counted_must_follow_the_warmup(busy_run):
    res, fleet, kw = busy_run
    bad = _table(res, counted=lambda x: x.__setitem__(0, 1 - x[0]))
    with pytest.raises(InvariantError, match="warm-up"):
        _check(res, fleet, kw, table=bad)


# -- the CSV writer is byte-identical to the csv module ----------------------------------------------

def _reference_csv(table: RecordTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([n for n, _ in FIELDS])
    cols = [table.column(n) for n, _ in FIELDS]
    for i in range(len(table)):
        row = []
        for col in cols:
            v = col[i]
            if col.dtype.kind == "f":
                row.append("" if math.isnan(v) else f"{v:.3f}")
            elif col.dtype.kind in "iub":
                row.append(str(int(v)))
            else:
                row.append(str(v))
        w.writerow(row)
    return buf.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4),
       values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=6),
       ints=st.lists(st.integers(-10**15, 10**15), min_size=6, max_size=6))
def test_fast_csv_writer_matches_the_csv_module(busy_run, names, values, ints):
    res, _, _ = busy_run
    n = len(values)
    cols = {k: v[:n].copy() for k, v in res.records.columns.items()}
    cols["call_s"] = np.asarray(values, dtype=float)
    cols["node"] = np.asarray(ints[:n], dtype=np.int64)
    cols["unit"] = (np.arange(n) % (len(names) + 1) - 1).astype(np.int32)
    lookups = dict(res.records.lookups, unit=tuple(names))
    table = RecordTable(columns=cols, lookups=lookups)
    assert table.to_csv() == _reference_csv(table)
    sink = io.StringIO()
    table.write_csv(sink, block=2)
    assert sink.getvalue() == _reference_csv(table)


def test_fast_csv_writer_rounds_near_ties_as_printf_does(busy_run):
    """Times a few ulps either side of a half-thousandth (and on one), where 1000 x rounded to
    a double can land on the other side of the tie: written as ``"%.3f"`` writes them."""
    res, _, _ = busy_run
    rng = np.random.default_rng(7)
    ties = (2 * rng.integers(0, 40_000_000_000, 3_000) + 1) / 2000.0  # up to about a year (s)
    near = [ties, np.array([0.0005, 0.0015, 0.0625, 2.5e-4, 1e-300, 123456.0005, 4503599627.3705])]
    below, above = ties, ties
    for _ in range(3):
        below, above = np.nextafter(below, 0.0), np.nextafter(above, np.inf)
        near += [below, above]
    values = np.concatenate(near)
    n = values.shape[0]
    cols = {k: np.resize(v, n) for k, v in res.records.columns.items()}
    cols["arrival_s"] = values
    table = RecordTable(columns=cols, lookups=res.records.lookups)
    lines = table.to_csv().splitlines()[1:]
    at = [name for name, _ in FIELDS].index("arrival_s")
    assert [line.split(",")[at] for line in lines] == [f"{x:.3f}" for x in values.tolist()]


def test_streamed_blocks_equal_one_table(busy_run):
    res, _, _ = busy_run
    t = res.records
    half = len(t) // 2
    parts = [RecordTable(columns={k: v[s] for k, v in t.columns.items()}, lookups=t.lookups)
             for s in (slice(0, half), slice(half, None))]
    sink = io.StringIO()
    parts[0].write_csv(sink)
    parts[1].write_csv(sink, header=False)
    assert sink.getvalue() == t.to_csv()


def test_concat_remaps_codes_onto_merged_lookups():
    """Tables whose lookups differ (another layout's units, a shorter list) stack into codes of
    one merged lookup: each part, decoded, reads as it did alone; a part whose lookup starts the
    merged one keeps its codes, and -1 (no unit) stays empty."""
    def table(units: tuple[str, ...], codes: list[int]) -> RecordTable:
        n = len(codes)
        cols = {name: np.zeros(n) for name, _ in FIELDS}
        cols["incident"] = np.arange(n)
        cols["unit"] = np.array(codes)
        return RecordTable(columns=cols, lookups={"unit": units})

    parts = [table(("a", "b"), [0, 1, -1]), table(("c", "a"), [0, 1, 1]), table(("a",), [0]),
             table(("c", "a"), [1, -1])]
    both = RecordTable.concat(parts)
    assert both.lookups["unit"] == ("a", "b", "c")
    expected = [v for p in parts for v in p.column("unit").tolist()]
    assert both.column("unit").tolist() == expected == ["a", "b", "", "c", "a", "a", "a", "a", ""]
    assert both.columns["unit"].tolist() == [0, 1, -1, 2, 0, 0, 0, 0, -1]
