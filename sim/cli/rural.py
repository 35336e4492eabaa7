"""``run_sim.py rural RESULTS_DIR``: the rural tables of a results folder (villages, their
officers, the rural ladder), and the village officers' effect when the run has a layout without
them (``rural.without_officers``): paired differences on the same calls. Nothing is simulated."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from sim.analysis.rural import (
    EFFECT_METRICS,
    officer_effect,
    officer_workload,
    rural_summary,
    worst_villages,
)
from sim.brief.results import ReportError, load_results

__all__ = ["effect_lines", "register"]

EXIT_INPUT = 2


def register(sub: Any) -> None:
    """Add the ``rural`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "rural", help="rural tables of a results folder and the village officers' effect",
        description="Print the rural ladder by zone class, the villages with the worst police "
                    "arrival, the busiest village officers and, when the run has a layout "
                    "without village officers (rural.without_officers), the officers' effect on "
                    "the same calls as paired differences with 95% CIs. Run 'compare' on a "
                    "scenario with a rural section first. The village role is modelled from "
                    "public descriptions.")
    p.add_argument("results", type=Path, help="a results folder (results/<scenario>/<run-id>)")
    p.add_argument("--worst", type=int, default=10, help="villages listed by worst police arrival")
    p.set_defaults(handler=_cmd_rural)


def _v(metric: str, x: float) -> str:
    if math.isnan(x):
        return "-"
    if metric.endswith("_s"):
        return f"{x / 60.0:.1f} min"
    if metric.endswith("within_1"):
        return f"{100 * x:.1f}%"
    return f"{x:,.1f}"


def effect_lines(rows: list[dict[str, Any]], with_layout: str, without_layout: str) -> list[str]:
    """The effect table as text lines (``diff`` = with minus without, per replication)."""
    out = [f"Village officers' effect: {with_layout} minus {without_layout} on the same calls "
           "(mean of paired differences, 95% CI)",
           f"{'zone':<10}{'metric':<20}{'with':>12}{'without':>12}{'difference (95% CI)':>34}"]
    for r in rows:
        m = r["metric"]
        ci = f"{_v(m, r['diff'])} ({_v(m, r['diff_ci_low'])} to {_v(m, r['diff_ci_high'])})"
        out.append(f"{r['zone']:<10}{m:<20}{_v(m, r['with']):>12}{_v(m, r['without']):>12}{ci:>34}"
                   + (" *" if r["significant"] else ""))
    out.append("* the CI excludes 0. " + "; ".join(f"{k}: {d}" for k, d in EFFECT_METRICS) + ".")
    return out


def _cmd_rural(args: argparse.Namespace) -> int:
    try:
        res = load_results(args.results)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    r = res.scenario.rural
    if r is None:
        print(f"error: {res.display}: the scenario has no rural section", file=sys.stderr)
        return EXIT_INPUT
    if "officer_arrival_s" not in res.records.columns:
        print(f"error: {res.display}: records.csv has no rural columns (an older run)", file=sys.stderr)
        return EXIT_INPUT
    ladder: dict[str, list[float]] = {str(k): list(v) for k, v in r.ladder.items()}
    rec = res.records
    layout = rec.column("layout").astype(str)
    print(f"{res.display}: rural part ({r.note.strip() or 'village role modelled from public descriptions'})")
    for name in res.layouts:
        m = layout == name
        sub = {k: rec.column(k)[m] for k in rec.columns}
        print(f"\n{name}")
        steps = "/".join(f"{s / 60:g}" for s in ladder["village"])
        print(f"  {'zone':<10}{'incidents':>10}{'police mean':>13}{'presence mean':>15}"
              f"{'police within 1st step':>24}{'closed by officer':>19}   (village ladder {steps} min)")
        for row in rural_summary(sub, ladder):
            print(f"  {row['zone']:<10}{row['incidents']:>10}{_v('_s', row['police_mean_s']):>13}"
                  f"{_v('_s', row['presence_mean_s']):>15}{_v('within_1', row['police_within_1']):>24}"
                  f"{row['officer_closed']:>19}")
        names = _village_names(res)
        worst = worst_villages(sub, names, k=args.worst, min_incidents=1)
        if worst:
            print("  worst police arrival: " + "; ".join(
                f"{w['village']} {w['police_mean_s'] / 60:.1f} min ({w['incidents']} calls)" for w in worst))
        load = sorted(officer_workload(sub, names), key=lambda w: (-w["busy_h"], w["village"]))
        busy = [w for w in load[: args.worst] if w["attended"]]
        if busy:
            print("  busiest village officers: " + "; ".join(
                f"{w['village']} {w['busy_h']:.1f} h ({w['attended']} jobs, {w['closed']} closed)"
                for w in busy))
    without = [name for name in res.layouts if name in r.without_officers]
    with_ = [name for name in res.layouts if name not in r.without_officers]
    if without and with_:
        print()
        rows = officer_effect(rec, ladder, with_layout=with_[0], without_layout=without[0])
        print("\n".join(effect_lines(rows, with_[0], without[0])))
    else:
        print("\n(no layout without village officers in this run: no effect to show; list one in "
              "rural.without_officers and run 'compare')")
    return 0


def _village_names(res: Any) -> list[str]:
    """The village names of the run's scenario (index order, as in the ``village`` column)."""
    from sim.world.villages import load_villages

    return list(load_villages(res.loaded).name)
