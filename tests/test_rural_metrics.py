"""Rural metrics on small hand-made record tables (sim.analysis.rural); every expected value is
worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis.rural import (
    RURAL_FIELDS,
    officer_workload,
    rural_summary,
    worst_villages,
)

NAN = math.nan
LADDER = {"township": [600.0, 1200.0, 1800.0], "village": [600.0, 1200.0, 1800.0]}


def _table():
    # job: zone, call, police arrival, officer arrival, village, closed, busy
    rows = [
        ("village", 0.0, 900.0, 0.0, 0, 0, 900.0),        # officer already there
        ("village", 100.0, 1600.0, NAN, 0, 0, 0.0),       # type not allowed: police 1500
        ("township", 0.0, 700.0, NAN, -1, 0, 0.0),
        ("village", 0.0, NAN, 300.0, 1, 1, 1200.0),       # officer closed it, no police
        ("", 0.0, 100.0, NAN, -1, 0, 0.0),                # urban: not in rural rows
        ("village", 0.0, 3000.0, 100.0, 1, 0, 3000.0),    # not counted (warm-up)
    ]
    cols = list(zip(*rows, strict=True))
    return {"rural_zone": np.array(cols[0], dtype=object), "call_s": np.array(cols[1]),
            "arrival_s": np.array(cols[2]), "officer_arrival_s": np.array(cols[3]),
            "village": np.array(cols[4]), "officer_closed": np.array(cols[5]),
            "officer_busy_s": np.array(cols[6]), "counted": np.array([1, 1, 1, 1, 1, 0])}


def test_rural_summary_by_zone_class():
    rows = {r["zone"]: r for r in rural_summary(_table(), LADDER)}
    v = rows["village"]
    # police from the call: 900, 1500 (the job the officer closed had no police)
    assert v["incidents"] == 3
    assert v["police_mean_s"] == pytest.approx(1200.0)
    assert [v[f"police_within_{k}"] for k in (1, 2, 3)] == pytest.approx([0.0, 1 / 2, 1.0])
    # first presence: 0 (officer), 1500 (police), 300 (officer)
    assert v["presence_mean_s"] == pytest.approx(600.0)
    assert [v[f"presence_within_{k}"] for k in (1, 2, 3)] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert (v["officer_attended"], v["officer_closed"]) == (2, 1)
    t = rows["township"]
    assert t["incidents"] == 1
    assert [t[f"police_within_{k}"] for k in (1, 2, 3)] == [0.0, 1.0, 1.0]
    r = rows["rural"]
    assert r["incidents"] == 4
    assert [r[f"police_within_{k}"] for k in (1, 2, 3)] == pytest.approx([0.0, 2 / 3, 1.0])  # 3 police jobs
    assert [r[f"presence_within_{k}"] for k in (1, 2, 3)] == pytest.approx([0.5, 0.75, 1.0])


def test_each_ladder_is_its_own_class():
    ladder = {"township": [800.0], "village": [600.0, 1200.0]}
    rows = {r["zone"]: r for r in rural_summary(_table(), ladder)}
    assert rows["township"]["police_within_1"] == 1.0  # 700 <= 800
    assert rows["village"]["police_within_1"] == 0.0
    assert rows["rural"]["police_within_1"] == pytest.approx(1 / 3)  # only the township job of 3
    assert "police_within_2" not in rows["rural"]


def test_officer_workload():
    rows = officer_workload(_table(), ["Upper", "Lower", "Quiet"])
    assert rows == [
        {"village": "Upper", "incidents": 2, "attended": 1, "closed": 0, "busy_h": 0.25},
        {"village": "Lower", "incidents": 1, "attended": 1, "closed": 1, "busy_h": 1200 / 3600},
        {"village": "Quiet", "incidents": 0, "attended": 0, "closed": 0, "busy_h": 0.0},
    ]
    uncounted = officer_workload(_table(), ["Upper", "Lower"], counted_only=False)
    assert uncounted[1]["incidents"] == 2 and uncounted[1]["busy_h"] == pytest.approx(4200 / 3600)


def test_worst_villages():
    rows = worst_villages(_table(), ["Upper", "Lower", "Quiet"], counted_only=False)
    # Upper: police 900 and 1500 -> mean 1200; Lower: only the uncounted 3000 (the other open)
    assert [r["village"] for r in rows] == ["Lower", "Upper"]
    assert rows[0]["police_mean_s"] == 3000.0 and rows[1]["police_mean_s"] == 1200.0
    counted = worst_villages(_table(), ["Upper", "Lower", "Quiet"])
    assert [r["village"] for r in counted] == ["Upper"]  # Lower has no counted police arrival
    assert worst_villages(_table(), ["Upper", "Lower"], k=1, counted_only=False)[0]["village"] == "Lower"


def test_field_definitions_are_unique_and_one_line():
    names = [n for n, _ in RURAL_FIELDS]
    assert len(names) == len(set(names))
    assert all("\n" not in d and d for _, d in RURAL_FIELDS)


def test_officer_effect_is_paired_by_replication():
    from sim.analysis.rural import officer_effect

    # (layout, rep, police arrival, officer arrival, closed, unit); every job a village job at 0
    rows = [("with", 0, 1200.0, 300.0, 0, 1), ("with", 0, NAN, 600.0, 1, -1),
            ("without", 0, 1200.0, NAN, 0, 1), ("without", 0, 900.0, NAN, 0, 2),
            ("with", 1, 600.0, 0.0, 0, 1), ("with", 1, NAN, 200.0, 1, -1),
            ("without", 1, 600.0, NAN, 0, 1), ("without", 1, 1000.0, NAN, 0, 2)]
    c = list(zip(*rows, strict=True))
    n = len(rows)
    table = {"layout": np.array(c[0], dtype=object), "replication": np.array(c[1]),
             "rural_zone": np.array(["village"] * n, dtype=object), "counted": np.ones(n, int),
             "arrival_s": np.array(c[2]), "call_s": np.zeros(n), "officer_arrival_s": np.array(c[3]),
             "officer_closed": np.array(c[4]), "unit": np.array(c[5])}
    out = {(r["zone"], r["metric"]): r for r in officer_effect(table, LADDER, with_layout="with",
                                                                without_layout="without")}
    p = out[("village", "presence_mean_s")]
    # presence with: (300 + 600) / 2 = 450 and (0 + 200) / 2 = 100; without: 1050 and 800
    assert (p["with"], p["without"], p["diff"], p["pairs"]) == (275.0, 925.0, -650.0, 2)
    assert p["diff_ci_low"] < -650.0 < p["diff_ci_high"]
    assert out[("village", "police_jobs")]["diff"] == -1.0  # one police job saved per replication
    assert out[("village", "officer_closed")]["with"] == 1.0
    w = out[("village", "presence_within_1")]  # within 600 s: with 2/2 and 2/2, without 0 and 1/2
    assert (w["with"], w["without"], w["diff"]) == (1.0, 0.25, 0.75)
    assert out[("rural", "presence_mean_s")]["diff"] == -650.0
