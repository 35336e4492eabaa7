"""Text from the numbers of a results folder: the key findings, the compliance table, the
assumptions and the commands that reproduce the run.

Every share is as it is in ``summary.csv``; paired differences and their intervals come from
``replications.csv`` through :func:`sim.analysis.metrics.paired_differences`. Layouts and the
scenario are named by their ``label``/``label_zh`` and ``title``/``title_zh``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim.analysis.cells import zone_targets
from sim.analysis.metrics import paired_differences
from sim.brief.results import Results
from sim.i18n import days, layout_name, minutes, pct, pp, tr, zone_name
from sim.scenario import ZONE_CLASSES, Scenario

__all__ = ["assumptions", "compliance_table", "findings", "paired_difference", "reproduce", "versions"]


def paired_difference(results: Results, a: str, b: str, zone: str, metric: str = "compliance"
                      ) -> tuple[float, float]:
    """Mean of B - A over replications (paired: same incidents) and its 95% CI half-width (NaN
    when fewer than two replications have both values)."""
    for row in paired_differences(results.replications, a, metric):
        if row["layout"] == b and row["zone"] == zone:
            m, hi = row[f"{metric}_diff"], row[f"{metric}_diff_ci_high"]
            return m, (hi - m) if not math.isnan(hi) else math.nan
    return math.nan, math.nan


def _name(results: Results, layout: str, lang: str) -> str:
    return layout_name(results.scenario, layout, lang)


def _target(results: Results, zone: str, lang: str) -> str:
    return minutes(zone_targets(results.scenario)[zone], lang)


def _half(v: float, lang: str) -> str:
    return tr("n_a", lang) if math.isnan(v) else pp(v, sign=False)


def _change(results: Results, a: str, b: str, zone: str, lang: str, best: bool) -> str:
    ra, rb = results.row(a, zone), results.row(b, zone)
    if math.isnan(ra["compliance"]) or math.isnan(rb["compliance"]):
        return ""
    diff = rb["compliance"] - ra["compliance"]
    _, half = paired_difference(results, a, b, zone)
    same = not math.isnan(half) and abs(diff) <= half
    key = "f.same" if same else ("f.change_best" if best else "f.change")
    return tr(key, lang, a=_name(results, a, lang), b=_name(results, b, lang),
              verb=tr("f.verb.up" if diff >= 0 else "f.verb.down", lang),
              target=_target(results, zone, lang), where=tr(f"f.where.{zone}", lang),
              where_cap=tr(f"f.where_cap.{zone}", lang),
              a_val=pct(ra["compliance"], lang), b_val=pct(rb["compliance"], lang),
              diff=pp(diff), half=_half(half, lang))


def findings(results: Results, lang: str = "en") -> list[str]:
    """Three to five sentences with the key numbers, every share as it is in summary.csv.

    One layout: its overall compliance, its hardest target, response time and utilisation. One
    alternative B to the baseline A: B against A in each zone class, response time, the hardest
    target. Several alternatives: each one's overall compliance against A, the best alternative
    in each zone class against A, and the response time of the best one overall.
    """
    a = results.baseline
    others = results.others
    out: list[str] = []
    if not others:
        r = results.row(a, "all")
        out.append(tr("f.overall", lang, layout=_name(results, a, lang), value=pct(r["compliance"], lang),
                      lo=pct(r["compliance_ci_low"], lang), hi=pct(r["compliance_ci_high"], lang)))
        out.append(_hardest(results, a, lang))
        out.append(tr("f.response_one", lang, min=minutes(r["response_mean_s"], lang),
                      util=pct(r["utilisation"], lang)))
        return [s for s in out if s]
    several = len(others) > 1
    if several:
        items = []
        for b in others:
            diff = results.row(b, "all")["compliance"] - results.row(a, "all")["compliance"]
            _, half = paired_difference(results, a, b, "all")
            items.append(tr("f.item", lang, b=_name(results, b, lang),
                            value=pct(results.row(b, "all")["compliance"], lang),
                            diff=pp(diff), half=_half(half, lang)))
        out.append(tr("f.overall_list", lang, a=_name(results, a, lang),
                      a_val=pct(results.row(a, "all")["compliance"], lang),
                      items=tr("list_sep", lang).join(items)))
    for zone in ("central", "key", "other"):
        candidates = [(results.row(b, zone)["compliance"], -i, b) for i, b in enumerate(others)
                      if not math.isnan(results.row(b, zone)["compliance"])]
        if candidates:
            out.append(_change(results, a, max(candidates)[2], zone, lang, best=several))
    best_all = max(others, key=lambda b: (results.row(b, "all")["compliance"], -others.index(b)))
    ra, rb = results.row(a, "all"), results.row(best_all, "all")
    out.append(tr("f.response", lang, a=_name(results, a, lang), b=_name(results, best_all, lang),
                  a_min=minutes(ra["response_mean_s"], lang), b_min=minutes(rb["response_mean_s"], lang),
                  a_util=pct(ra["utilisation"], lang), b_util=pct(rb["utilisation"], lang)))
    if not several:
        out.append(_hardest(results, others[0], lang))
    return [s for s in out if s][:5]


def _hardest(results: Results, layout: str, lang: str) -> str:
    zones = [(results.row(layout, z)["compliance"], z) for z in ZONE_CLASSES
             if not math.isnan(results.row(layout, z)["compliance"])]
    if not zones:
        return ""
    value, zone = min(zones)
    return tr("f.hardest", lang, layout=_name(results, layout, lang), value=pct(value, lang),
              zone_target=tr("zone_target", lang, zone=zone_name(zone, lang),
                             target=_target(results, zone, lang)))


def _count(v: float) -> str:
    if math.isnan(v):
        return ""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def compliance_table(results: Results, lang: str = "en") -> tuple[list[str], list[list[str]], str]:
    """Headers, rows (one per layout and zone class, values from summary.csv) and a note.

    A zone class without incidents shows n/a, never a number made of nothing."""
    headers = [tr(f"col.{k}", lang) for k in ("layout", "zone", "target", "incidents", "compliance",
                                             "ci", "mean", "p90", "util")]
    rows = []
    for layout in results.layouts:
        for i, zone in enumerate((*ZONE_CLASSES, "all")):
            r = results.row(layout, zone)
            lo, hi = r["compliance_ci_low"], r["compliance_ci_high"]
            ci = tr("n_a", lang) if math.isnan(lo) else f"{pct(lo, lang)} – {pct(hi, lang)}"  # noqa: RUF001
            rows.append([_name(results, layout, lang) if i == 0 else "", zone_name(zone, lang),
                         _target(results, zone, lang) if zone in ZONE_CLASSES else "",
                         _count(r["incidents"]), pct(r["compliance"], lang), ci,
                         minutes(r["response_mean_s"], lang), minutes(r["response_p90_s"], lang),
                         pct(r["utilisation"], lang)])
    clock = tr(f"clock.{results.scenario.zones.clock}", lang)
    return headers, rows, tr("table_note", lang, reps=results.replications_n, clock=clock)


def _units_text(scenario: Scenario, layout: str, lang: str) -> tuple[int, str, str]:
    """Posts, the units that take dispatches (with turnout), and the units that never do."""
    counts: dict[str, int] = {}
    platforms = scenario.layouts[layout].platforms
    for p in platforms:
        for utype, n in p.units.items():
            counts[utype] = counts.get(utype, 0) + n
    dispatched, never = [], []
    for utype, n in counts.items():
        ut = scenario.unit_types[utype]
        label = ut.label or utype
        if ut.role == "response":
            turnout = minutes(ut.turnout, lang) if ut.turnout >= 60 else f"{ut.turnout:g} s"
            dispatched.append(tr("a.unit", lang, n=n, label=label, turnout=turnout))
        else:
            never.append(tr("a.unit_plain", lang, n=n, label=label))
    sep = tr("list_sep", lang)
    return len(platforms), sep.join(dispatched), sep.join(never)


def assumptions(results: Results, lang: str = "en", goal: float | None = 0.9) -> list[str]:
    """The assumptions behind the numbers: network, demand, staffing, clock, run length."""
    s, m = results.scenario, results.manifest
    speeds = s.network.speeds
    shown = [f"{c} {speeds[c] * 3.6:g} km/h" for c in ("primary", "residential") if c in speeds]
    shown = shown or [f"default {speeds['default'] * 3.6:g} km/h"]
    net = m.get("network", {})
    out = [tr("a.network", lang, source=m.get("inputs", {}).get("network_source", s.network.source),
              nodes=f"{net.get('nodes', 0):,}", edges=f"{net.get('edges', 0):,}",
              speeds=tr("list_sep", lang).join(shown))]
    if s.network.source == "synthetic":
        out.append(tr("a.synthetic", lang))
    prof = s.demand.hourly_profile
    hot = sum(h.share for h in s.demand.hotspots)
    out.append(tr("a.demand", lang, per_day=f"{s.demand.incidents_per_day:g}",
                  peak=int(np.argmax(prof)), hot=pct(hot, lang, 0), n_hot=len(s.demand.hotspots)))
    for layout in results.layouts:
        posts, units, never = _units_text(s, layout, lang)
        key = "a.staffing_more" if never else "a.staffing"
        out.append(tr(key, lang, layout=_name(results, layout, lang), posts=posts, units=units,
                      others=never))
    out.append(tr("a.clock", lang, clock=tr(f"clock.{s.zones.clock}", lang),
                  handling=minutes(s.call_handling.mean, lang)))
    out.append(tr("a.run", lang, days=days(s.run.duration - s.run.warmup, lang),
                  warmup=days(s.run.warmup, lang), reps=results.replications_n, seed=m.get("seed")))
    if goal is not None:
        out.append(tr("a.goal", lang, goal=pct(goal, lang, 0)))
    snaps = [p for p in m.get("places", []) if "snap_m" in p]
    if snaps:
        far = max(snaps, key=lambda p: p["snap_m"])
        out.append(tr("a.places", lang, n=len(snaps),
                      median=f"{float(np.median([p['snap_m'] for p in snaps])):.0f} m",
                      name=f"{far['kind']} '{far['name']}'", far=f"{far['snap_m']:.0f} m",
                      over=sum(p["snap_m"] > 50 for p in snaps)))
    out.append(tr("a.not_modelled", lang))
    from sim.brief.fit_report import history_notes

    out.extend(history_notes(results.folder, Path(m.get("inputs", {}).get("scenario_file", "")), lang))
    return out


def reproduce(results: Results, lang: str, formats: Sequence[str],
              python: str = ".venv/bin/python") -> list[tuple[str, list[str]]]:
    """(explanation, command or checksum lines) pairs for the "how to reproduce" section; the
    commands use ``python`` (the project's virtual environment after ``make run``)."""
    m = results.manifest
    s = results.scenario
    cmd = python + " " + " ".join(shlex.quote(str(c)) for c in m.get("command", []))
    explicit = [python, "run_sim.py", "run", str(m.get("inputs", {}).get("scenario_file", ""))]
    for layout in results.layouts:
        explicit += ["--layout", layout]
    replay = m.get("replay") or {}
    if replay:  # a replay's length is the log's; the log and mapping are inputs
        explicit += ["--replay", str(replay.get("calls_file_as_given") or replay.get("calls_file"))]
        explicit += ["--mapping", str(replay["mapping_file"])] if replay.get("mapping_file") else []
    else:
        explicit += ["--days", f"{s.run.duration / 86400:g}"]
    explicit += ["--reps", str(results.replications_n), "--seed", str(m.get("seed"))]
    report = [python, "run_sim.py", "report", results.display, "--lang", lang,
              "--format", ",".join(formats)]
    inputs = m.get("inputs", {})
    sums = [f"{tr('r.scenario_sha', lang)}: {inputs.get('scenario_sha256', '')}",
            f"{tr('r.network_sha', lang)}: {inputs.get('network_input_sha256', '')}",
            f"{tr('r.records_sha', lang)}: {m.get('records_sha256', '')}"]
    if replay:
        sums.append(f"--replay {replay.get('calls_file_as_given', '')}: sha256 {replay.get('sha256', '')}")
    return [(tr("r.command", lang), [cmd]),
            (tr("r.explicit", lang), [" ".join(shlex.quote(x) for x in explicit)]),
            (tr("r.report", lang), [" ".join(shlex.quote(x) for x in report)]),
            (tr("r.checksums", lang), sums)]


def versions(results: Results) -> str:
    """Software versions from the manifest, as one line."""
    v = results.manifest.get("versions", {})
    keys = ("police-rapid-response-sim", "python", "simpy", "numpy", "scipy", "osmnx", "matplotlib")
    return ", ".join(f"{k} {v[k]}" for k in keys if k in v)
