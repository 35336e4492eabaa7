"""One flat record per incident: the only thing the engine hands to metrics and outputs.

Each field is defined in one line in :data:`FIELDS`; the README's table is generated from it.
Times are seconds since the start of the run; a time not reached by the end of the run (the
horizon plus any cool-down) is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.types import FIELDS, OUTCOMES, RecordTable

__all__ = ["FIELDS", "OUTCOMES", "InvariantError", "RecordTable", "check_invariants", "check_result"]




class InvariantError(AssertionError):
    """A record set breaks an invariant that must hold for every run."""








_TOL = 1e-6
"""Slack (s) for comparing times that the engine computes by different sums."""


def check_invariants(table: RecordTable, *, n_units: dict[str, int] | None = None,
                     expected_incidents: int | dict[tuple[str, int], int] | None = None,
                     horizon_s: float | None = None, end_s: float | None = None,
                     warmup_s: float | None = None,
                     unit_busy_s: np.ndarray | None = None, unit_on_air_s: np.ndarray | None = None,
                     unit_busy_off_air_s: np.ndarray | None = None,
                     assignments: dict[str, np.ndarray] | None = None,
                     off_air: np.ndarray | None = None,
                     dispatchable: np.ndarray | None = None, work_conserving: bool = True) -> None:
    """Assert the invariants every run must satisfy (cheap and vectorised: O(n log n)).

    Always checked:

    - times are ordered: call <= dispatch <= assign <= arrival <= clear (where reached), and a
      later time is never reached without the earlier ones;
    - every incident has exactly one outcome, consistent with the times reached (served, on scene,
      en route, queued or still in call handling when the run stopped: none is lost);
    - incidents are numbered 0, 1, 2, ... in order of call time within each layout and
      replication (none missing, none twice);
    - a responding unit, its type and platform are recorded exactly when a unit was assigned;
      durations agree with the times (queue_wait = assign - dispatch, response = arrival - call,
      arrival = assign + turnout + travel), turnout and travel are not negative, a job that did
      not queue was assigned at dispatch, ``target_met`` is -1, 0 or 1 (1 only if arrived); at
      most ``units_required`` units are sent, at least one if a unit was assigned, and the last
      required unit arrives no earlier than the first;
    - no unit is first on scene at two incidents whose busy intervals [assign, clear) overlap.

    Checked when the argument is given:

    - ``n_units`` (layout name -> units): no more units respond than the layout has;
    - ``expected_incidents`` (a count, or per (layout, replication)): every generated incident
      has a record;
    - ``horizon_s``: no call after the horizon; ``end_s`` (the end of the run, the horizon
      plus any cool-down): nothing recorded later, no unit assigned later; ``warmup_s``:
      ``counted`` is 1 exactly for calls after the warm-up;
    - ``unit_busy_s``, ``unit_on_air_s`` and ``unit_busy_off_air_s`` (s per unit in the counted
      window): the busy time off the air is part of the busy time, the busy time on the air is
      no more than the on-air time, so utilisation lies in [0, 1];
    - ``assignments`` (one engine run: every unit sent, as ``EngineResult.assignments``): no unit
      is on two incidents at once (backups included), assignments agree with the records and
      ``units_sent``; with ``dispatchable`` (per unit) only response units are sent; with
      ``off_air`` (``[minute of day, unit]``, the fleet's duty table) no unit is sent while off
      duty or on a break, and no job waits in the queue while a unit is free to take it
      (dispatch is work-conserving).

    Raises
    ------
    InvariantError
        Naming the first invariant broken and how many records break it.
    """
    c = table.columns
    n = len(table)

    def fail(mask: np.ndarray | bool, what: str) -> None:
        count = int(np.sum(mask))
        if count:
            rows = np.flatnonzero(mask)[:3].tolist() if isinstance(mask, np.ndarray) else []
            raise InvariantError(f"{what} ({count} record{'s' if count > 1 else ''}, e.g. rows {rows})")

    names = ("call", "dispatch", "assign", "arrival", "clear")
    seq = [c[f"{k}_s"] for k in names]
    fail(np.isnan(seq[0]), "call time missing")
    for a, b, na, nb in zip(seq, seq[1:], names, names[1:], strict=False):
        both = ~np.isnan(a) & ~np.isnan(b)
        fail(both & (a > b + 1e-9), f"{na} after {nb}")
        fail(np.isnan(a) & ~np.isnan(b), f"{nb} recorded without {na}")
    outcome = table.column("outcome")
    expected = np.where(~np.isnan(c["clear_s"]), "served",
                        np.where(~np.isnan(c["arrival_s"]), "on_scene",
                                 np.where(~np.isnan(c["assign_s"]), "en_route",
                                          np.where(~np.isnan(c["dispatch_s"]), "queued", "call_handling"))))
    if "officer_closed" in c:  # the village officer's jobs: no police sent (sim.engine.village)
        closed = c["officer_closed"] == 1
        fail(closed & ~np.isnan(c["assign_s"]), "police sent to a job the village officer closed")
        expected = np.where(closed, "closed_by_officer", expected)
    lost = outcome == "overflow"  # handed to the backup force: no unit of the layout on scene
    fail(lost & (np.isnan(c["dispatch_s"]) | ~np.isnan(c["assign_s"])),
         "an overflow incident was not handed over, or had a unit on scene")
    fail(lost & (c["target_met"] != 0), "an overflow incident counted as meeting its target")
    fail(~lost & (outcome != expected), "outcome does not match the times reached")

    # numbering: 0..k-1 in call order within each (layout, replication)
    layout, rep, inc = c["layout"].astype(np.int64), c["replication"].astype(np.int64), c["incident"]
    order = np.lexsort((inc, rep, layout))
    lo_, re_, in_ = layout[order], rep[order], inc[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (lo_[1:] != lo_[:-1]) | (re_[1:] != re_[:-1])
    starts = np.flatnonzero(new_group)
    sizes = np.diff(np.append(starts, n))
    position = np.arange(n) - np.repeat(starts, sizes)
    fail(in_ != position, "incident numbers within a layout and replication are not 0, 1, 2, ...")
    call_sorted = c["call_s"][order]
    fail(~new_group[1:] & (call_sorted[1:] < call_sorted[:-1]), "incidents not in order of call time")
    if expected_incidents is not None:
        layout_names = table.lookups.get("layout", ())
        for s, k in zip(starts.tolist(), sizes.tolist(), strict=True):
            key = (layout_names[int(lo_[s])] if int(lo_[s]) < len(layout_names) else str(lo_[s]), int(re_[s]))
            want = expected_incidents if isinstance(expected_incidents, int) else expected_incidents.get(key)
            if want is not None and k != want:
                raise InvariantError(f"{key[0]}, replication {key[1]}: {k} records for {want} "
                                     "generated incidents")
        if isinstance(expected_incidents, int) and n == 0 and expected_incidents:
            raise InvariantError(f"no records for {expected_incidents} generated incidents")

    # the responding unit and derived durations
    assigned = ~np.isnan(c["assign_s"])
    unit = c["unit"]
    fail(assigned != (unit >= 0), "a unit is recorded exactly when one was assigned: not so")
    for col in ("unit_type", "platform"):
        if col in c:
            fail(assigned != (c[col] >= 0), f"{col} recorded without a unit, or missing")
    for col in ("turnout_s", "travel_s"):
        v = c[col]
        fail(assigned & ~(v >= 0), f"{col} negative or missing for an assigned unit")
    arrived = ~np.isnan(c["arrival_s"])
    fail(arrived & (np.abs(c["arrival_s"] - (c["assign_s"] + c["turnout_s"] + c["travel_s"]))
                    > _TOL * np.maximum(1.0, np.abs(c["arrival_s"]))),
         "arrival is not assign + turnout + travel")
    qw = c["queue_wait_s"]
    fail(~np.isnan(qw) & (np.abs(qw - (c["assign_s"] - c["dispatch_s"])) > _TOL),
         "queue_wait_s is not assign - dispatch")
    fail(np.isnan(qw) != np.isnan(c["assign_s"]), "queue_wait_s is not assign - dispatch")
    resp = c["response_s"]
    fail(np.isnan(resp) != ~arrived, "response_s is not arrival - call")
    fail(arrived & (np.abs(resp - (c["arrival_s"] - c["call_s"])) > _TOL), "response_s is not arrival - call")
    queued = c["queued"]
    fail((queued != 0) & (queued != 1), "queued is not 0 or 1")
    fail(assigned & (queued == 1) & ~(c["assign_s"] > c["dispatch_s"]),
         "a job marked queued was assigned at its hand-over")
    fail(assigned & (queued == 0) & (np.abs(c["assign_s"] - c["dispatch_s"]) > _TOL),
         "a job that did not queue was assigned after its dispatch")
    met = c["target_met"]
    fail((met < -1) | (met > 1), "target_met is not -1, 0 or 1")
    fail((met == 1) & ~arrived, "target met without an arrival")
    fail((met == -1) & (outcome == "served"), "target unknown for a served incident")
    if "units_sent" in c and "units_required" in c:
        sent, required = c["units_sent"], c["units_required"]
        fail(required < 1, "units_required below 1")
        fail(sent > required, "more units sent than required")
        fail(assigned & (sent < 1), "a unit assigned but units_sent is 0")
        fail(~np.isnan(c["dispatch_s"]) & np.isnan(c["assign_s"]) & (sent > 0) & (required == 1),
             "a unit sent but no assign time")
    if "full_arrival_s" in c:
        full = c["full_arrival_s"]
        fail(~np.isnan(full) & ~(full >= c["arrival_s"] - _TOL), "the last unit arrives before the first")

    if horizon_s is not None:
        fail(c["call_s"] >= horizon_s, "a call at or after the horizon")
    if end_s is not None:
        for k, times in zip(names, seq, strict=True):
            fail(~np.isnan(times) & (times > end_s + 1e-9), f"{k} time after the end of the run")
    if warmup_s is not None:
        fail(c["counted"] != (c["call_s"] >= warmup_s), "counted does not match call time vs warm-up")

    # no unit first on scene at two incidents at once
    if np.any(assigned):
        a = c["assign_s"][assigned]
        end = np.where(np.isnan(c["clear_s"][assigned]), np.inf, c["clear_s"][assigned])
        u, la, rp = unit[assigned].astype(np.int64), layout[assigned], rep[assigned]
        o = np.lexsort((a, u, rp, la))
        u, la, rp, a_o, end_o = u[o], la[o], rp[o], a[o], end[o]
        same = (u[1:] == u[:-1]) & (la[1:] == la[:-1]) & (rp[1:] == rp[:-1])
        fail(same & (a_o[1:] < end_o[:-1] - 1e-9),
             "a unit was assigned to an incident while still busy with another")
    if n_units:
        layout_names = table.lookups.get("layout", ())
        for code, lname in enumerate(layout_names):
            if lname in n_units:
                used = np.unique(unit[(layout == code) & (unit >= 0)]).size
                if used > int(n_units[lname]):
                    raise InvariantError(f"layout '{lname}' has {n_units[lname]} units but {used} responded")

    if unit_busy_s is not None and unit_on_air_s is not None and unit_busy_off_air_s is not None:
        busy = np.asarray(unit_busy_s, dtype=float)
        off = np.asarray(unit_busy_off_air_s, dtype=float)
        on_air = np.asarray(unit_on_air_s, dtype=float)
        bad = (off < -_TOL) | (off > busy + _TOL) | (busy - off > on_air + _TOL) | np.isnan(busy)
        if np.any(bad):
            u = int(np.flatnonzero(bad)[0])
            raise InvariantError(
                f"utilisation outside [0, 1]: unit {u} busy {busy[u]:.1f} s ({off[u]:.1f} s of it "
                f"off the air) against {on_air[u]:.1f} s on the air")

    if assignments is not None:
        _check_assignments(c, assignments, end_s=end_s, off_air=off_air,
                           dispatchable=dispatchable, work_conserving=work_conserving)


MINUTES_PER_DAY = 1440


def _check_assignments(c: dict[str, np.ndarray], asg: dict[str, np.ndarray], *,
                       end_s: float | None, off_air: np.ndarray | None,
                       dispatchable: np.ndarray | None, work_conserving: bool = True) -> None:
    """Invariants over every unit sent in one engine run (one layout, one replication)."""
    inc, unit = np.asarray(asg["incident"], dtype=np.int64), np.asarray(asg["unit"], dtype=np.int64)
    a, arr, clr = (np.asarray(asg[k], dtype=float) for k in ("assign_s", "arrival_s", "clear_s"))
    n = len(c["incident"])
    if inc.size == 0:
        if np.any(~np.isnan(c["assign_s"])):
            raise InvariantError("records show assigned units but the assignment log is empty")
        return
    if np.any((inc < 0) | (inc >= n)):
        raise InvariantError("an assignment names an incident that has no record")
    if np.any(~(a <= arr + 1e-9)) or np.any(~(arr <= clr + 1e-9)):
        raise InvariantError("an assignment's times are out of order (assign <= arrival <= clear)")
    if end_s is not None and np.any(a > end_s + 1e-9):
        raise InvariantError("a unit was assigned after the end of the run")
    # the same unit on two incidents at once (backups included)
    o = np.lexsort((a, unit))
    u_o, a_o, c_o = unit[o], a[o], clr[o]
    same = u_o[1:] == u_o[:-1]
    clash = same & (a_o[1:] < c_o[:-1] - 1e-9)
    if np.any(clash):
        k = int(np.flatnonzero(clash)[0])
        raise InvariantError(f"unit {int(u_o[k])} was sent to incident {int(inc[o][k + 1])} at "
                             f"{a_o[k + 1]:.1f} s while still on incident {int(inc[o][k])} (until "
                             f"{c_o[k]:.1f} s); {int(clash.sum())} such assignment(s)")
    # the records: units_sent counts assignments by the end of the run; the first unit on scene is logged
    sent = np.bincount(inc, minlength=n)
    if "units_sent" in c and np.any(sent < c["units_sent"]):
        raise InvariantError("units_sent counts more units than were assigned")
    rec_unit = c["unit"]
    has = rec_unit >= 0
    # each (incident, unit) assigned, as one sorted integer key: membership by bisection
    width = int(max(unit.max(), rec_unit.max(initial=-1))) + 1
    logged = np.unique(inc * width + unit)
    named = np.flatnonzero(has)
    missing = named[~_among(named * width + rec_unit[named].astype(np.int64), logged)]
    if missing.size:
        raise InvariantError(f"{missing.size} record(s) name a unit that was never assigned to them "
                             f"(e.g. incident {int(missing[0])})")
    if dispatchable is not None:
        bad = ~np.asarray(dispatchable, dtype=bool)[unit]
        if np.any(bad):
            raise InvariantError(f"{int(bad.sum())} assignment(s) of units that do not take "
                                 "dispatches (volunteers or platform vehicles)")
    if off_air is None:
        return
    off_air = np.asarray(off_air, dtype=bool)
    minute = (a // 60.0).astype(np.int64) % off_air.shape[0]
    off = off_air[minute, unit]
    if np.any(off):
        k = int(np.flatnonzero(off)[0])
        raise InvariantError(f"{int(off.sum())} assignment(s) of a unit that was off duty or on a "
                             f"break (e.g. unit {int(unit[k])} at {a[k]:.1f} s)")
    # work conservation: when a job queued (or overflowed) at its dispatch time t, no unit was
    # free at t (a job
    # sent back to the queue by a diversion waited from the diversion instead: left out); not
    # for a policy that holds jobs back on purpose (reserve)
    if not work_conserving:
        return
    diverted = c["diverted"] > 0 if "diverted" in c else np.zeros(len(c["queued"]), dtype=bool)
    # (queued means the first unit on scene was assigned after the hand-over: a job that got
    # some unit at its hand-over did not wait for one)
    first = np.full(n, np.inf)
    np.minimum.at(first, inc, a)
    at_once = first <= c["dispatch_s"] + 1e-9
    lost = c["outcome"] == OUTCOMES.index("overflow")  # handed on: none was free either
    waited = np.flatnonzero(((c["queued"] == 1) | lost) & ~np.isnan(c["dispatch_s"]) & ~diverted
                            & ~at_once)
    if waited.size == 0:
        return
    can = ~off_air
    if dispatchable is not None:
        can = can & np.asarray(dispatchable, dtype=bool)[None, :]
    t = c["dispatch_s"][waited]
    can_t = can[(t // 60.0).astype(np.int64) % off_air.shape[0]]  # [waited job, unit]
    for u in np.flatnonzero(can_t.any(axis=0)).tolist():
        mine = unit == u
        starts, ends = np.sort(a[mine]), np.sort(clr[mine])
        # busy at t: some assignment with assign <= t <= clear (ties at t count as busy)
        busy = np.searchsorted(starts, t + 1e-9, side="right") - np.searchsorted(ends, t - 1e-9, side="left")
        # a unit that already served a job is never sent to it again: not free for it
        served = _among(waited * width + u, logged)
        free = can_t[:, u] & (busy <= 0) & ~served
        if np.any(free):
            k = int(np.flatnonzero(free)[0])
            raise InvariantError(f"incident {int(waited[k])} queued at {t[k]:.1f} s while unit {u} was "
                                 f"on duty and free (dispatch is not work-conserving); "
                                 f"{int(free.sum())} such job(s)")


def _among(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (ascending, unique): one bisection each."""
    at = np.searchsorted(sorted_keys, keys)
    hit = at < sorted_keys.size
    hit[hit] = sorted_keys[at[hit]] == keys[hit]
    return hit


def check_result(result: Any, fleet: Any, *, expected_incidents: int | None = None,
                 horizon_s: float | None = None, warmup_s: float | None = None,
                 work_conserving: bool = True) -> None:
    """:func:`check_invariants` with everything one engine run offers.

    ``result`` is a ``sim.engine.core.EngineResult`` and ``fleet`` the layout's ``sim.world.prepare.Fleet``
    (duty table and roles); the other arguments are the replication's incident count, the
    horizon and the warm-up (s).
    """
    layout = result.records.lookups["layout"][0]
    check_invariants(result.records, n_units={layout: len(fleet)},
                     expected_incidents=expected_incidents, horizon_s=horizon_s,
                     end_s=result.run_end_s, warmup_s=warmup_s, unit_busy_s=result.unit_busy_s,
                     unit_on_air_s=result.unit_on_air_s,
                     unit_busy_off_air_s=result.unit_busy_off_air_s,
                     assignments=getattr(result, "assignments", None),
                     off_air=getattr(fleet, "off_air", None),
                     dispatchable=getattr(result, "dispatchable", None),
                     work_conserving=work_conserving)
