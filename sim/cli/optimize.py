"""``optimize`` and ``size``: find a layout, and how much fleet is enough (registered by ``sim.cli.main``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sim.fileio import write_csv
from sim.quantities import parse_distance, parse_duration
from sim.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario

__all__ = ["register"]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def register(sub: Any) -> None:
    """Add the ``optimize`` and ``size`` subcommands."""
    from sim.optimize.solve import OBJECTIVES

    o = sub.add_parser("optimize", help="choose platform sites with location models (and by simulation)",
                       description="Choose where the platforms stand: classic location models on the "
                                   "scenario's travel times (HiGHS), optionally followed by a "
                                   "Kim-Nelson selection among the best layouts by simulation.")
    o.add_argument("scenario", nargs="?", default=None,
                   help="scenario YAML (default: the built-in Shaoyang scenario; optional with --matrix)")
    o.add_argument("--objective", choices=OBJECTIVES, default="coverage")
    o.add_argument("--platforms", type=int, metavar="K", help="sites to open (new ones with --keep)")
    o.add_argument("--keep", metavar="LAYOUT", help="keep this layout's platforms and add --platforms K")
    o.add_argument("--base", metavar="LAYOUT",
                   help="layout the result extends (units per platform; default --keep or the baseline's "
                        "first platform-based layout)")
    o.add_argument("--candidates", default="nodes", metavar="nodes|FILE.csv",
                   help="candidate sites: filtered road nodes (default) or a CSV site,lon,lat")
    o.add_argument("--spacing", default=None, metavar="DIST",
                   help="minimum spacing of candidate nodes (default 300 m; 500 m for mean/worst-time)")
    o.add_argument("--candidate-zones", default="key,central,other",
                   help="zone classes candidates may stand in (the urban boundary; default all)")
    o.add_argument("--unit-type", help="unit type whose speeds and turnout are used (default: the "
                                       "first patrolling response type)")
    o.add_argument("--period", help="congestion period of the travel times (default: free flow)")
    o.add_argument("--share", action="append", metavar="ZONE=SHARE",
                   help="min-platforms: share of a zone class's demand to cover (repeat); default all")
    o.add_argument("--capacity", type=float, metavar="PER_HOUR",
                   help="coverage: capacitated variant, incidents per hour one response unit can serve")
    o.add_argument("--fair-by", choices=("zone", "grid"), default="zone")
    o.add_argument("--time-limit", type=float, default=60.0, help="solver time limit (s), default 60")
    o.add_argument("--limit", default=None, metavar="DURATION",
                   help="largest travel time kept in the matrix (default: the largest target; "
                        "10 min for mean/worst-time)")
    o.add_argument("--demand-cell", default=None, metavar="DIST",
                   help="merge demand into cells of this size (default none; 500 m for mean/worst-time)")
    o.add_argument("--matrix", type=Path, help="external cost matrix CSV site,demand,travel_s|distance_m")
    o.add_argument("--demand-weights", type=Path, help="with --matrix: CSV demand,weight")
    o.add_argument("--radius", help='with --matrix: the coverage threshold, e.g. "5000 m" or "3 min"')
    o.add_argument("--simulate", type=int, metavar="N",
                   help="simulate the N best static solutions and the scenario's layouts, then select "
                        "one by Kim-Nelson ranking and selection with CRN")
    o.add_argument("--delta", type=float, default=1.0, help="indifference zone (percentage points of "
                                                            "overall compliance), default 1")
    o.add_argument("--pcs", type=float, default=0.95, help="probability of correct selection, default 0.95")
    o.add_argument("--n0", type=int, default=10, help="first-stage replications, default 10")
    o.add_argument("--max-reps", type=int, default=200, help="cap on replications per layout")
    o.add_argument("--days", type=float, help="simulated days per replication for --simulate")
    o.add_argument("--by-period", action="store_true",
                   help="also choose each platform's post in every congestion period (posts_by_time)")
    o.add_argument("--move-limit", default="10 min", metavar="DURATION",
                   help="with --by-period: the longest drive from a platform's home post (default 10 min)")
    o.add_argument("--max-moves", type=int, metavar="N",
                   help="with --by-period: at most N moves a day per platform (out to a period's post and "
                        "back home is two); all periods are then chosen together")
    o.add_argument("--out", type=Path, default=Path("results/optimize"), help="output folder")
    o.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    o.set_defaults(handler=_cmd_optimize)

    s = sub.add_parser("size", help="the smallest fleet that meets response goals (by simulation)",
                       description="Add units per platform (or platforms) step by step, simulating with "
                                   "common random numbers, until every goal is met by the lower bound "
                                   "of its 95%% CI.")
    s.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO))
    s.add_argument("--goal", action="append", required=True, metavar='"ZONE>=SHARE"',
                   help='e.g. "central>=0.90" (zones: key, central, other, all); repeat')
    s.add_argument("--vary", choices=("units", "platforms"), default="units")
    s.add_argument("--layout", help="layout to grow (default: the scenario's first platform layout)")
    s.add_argument("--unit-type", help="unit type to add (default: the first patrolling response type)")
    s.add_argument("--start", type=int, default=1, help="first count to try (default 1)")
    s.add_argument("--max", type=int, default=6, help="largest count to try (default 6)")
    s.add_argument("--days", type=float, help="simulated days per replication")
    s.add_argument("--reps", type=int, help="replications per step")
    s.add_argument("--out", type=Path, default=Path("results/size"), help="output folder")
    s.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    s.set_defaults(handler=_cmd_size)


def _dist(text: str | None, default: float, what: str) -> float:
    if text is None:
        return default
    try:
        return float(parse_distance(text))
    except ValueError as exc:
        raise ScenarioError(f"{what} {text!r}: {exc}") from None


def _cmd_optimize(args: argparse.Namespace) -> int:
    from sim.optimize.matrix import MatrixFileError

    try:
        if args.matrix is not None:
            return _optimize_matrix(args)
        return _optimize_scenario(args)
    except MatrixFileError as exc:
        raise ScenarioError(str(exc)) from None


def _print_solution(report: dict[str, Any]) -> None:
    red = report.get("reductions", {})
    if "sites_after_fixing" in red:
        print(f"reductions: {red['sites_after_dominance']:,} sites after dominance, "
              f"{red['sites_after_fixing']:,} after Lagrangian/LP fixing ({red['reduction_s']:.1f} s); "
              f"incumbent {red['incumbent']:.4%}, bound {red['lagrangian_bound']:.4%}")
    print(f"model to HiGHS: {report['variables']:,} variables, {report['constraints']:,} constraints, "
          f"{report['nonzeros']:,} nonzeros; solved in {report['solve_s']:.1f} s, "
          f"{report['status']}, gap {report['gap']:.2%} ({report.get('method', 'HiGHS')})")
    shares = ", ".join(f"{g} {v:.1%}" for g, v in report["covered_share_by_group"].items() if v is not None)
    print(f"{report['objective']}: value {report['value']:.6g} (bound {report['bound']:.6g}); "
          f"covered within target: {report['covered_share']:.1%} overall ({shares})")


def _optimize_matrix(args: argparse.Namespace) -> int:
    from sim.optimize.matrix import read_matrix_csv, read_weights_csv
    from sim.optimize.solve import Problem, describe, solve_objective

    matrix, sites, demands = read_matrix_csv(args.matrix)
    w = read_weights_csv(args.demand_weights, demands) if args.demand_weights else np.ones(len(demands))
    if args.radius is None and args.objective in ("coverage", "min-platforms", "fair"):
        raise ScenarioError(f"--objective {args.objective} with --matrix needs --radius, e.g. "
                            + ('"5000 m"' if matrix.unit == "m" else '"3 min"'))
    radius = np.inf
    if args.radius is not None:
        try:
            radius = float(parse_distance(args.radius) if matrix.unit == "m" else parse_duration(args.radius))
        except ValueError as exc:
            col = "distance_m" if matrix.unit == "m" else "travel_s"
            raise ScenarioError(f"--radius {args.radius!r} does not match the matrix column {col}: {exc}"
                                ) from None
    prob = Problem(matrix, w, np.full(len(demands), radius), np.zeros(len(demands), dtype=np.int64), ["all"])
    if args.share:
        prob.shares = [float(args.share[0].split("=")[-1])]
    sol = solve_objective(args.objective, prob, args.platforms, time_limit=args.time_limit)
    report = describe(args.objective, prob, sol)
    report.update(matrix=str(args.matrix), radius=args.radius,
                  sites=[sites[i] for i in sol.sites.tolist()])
    _print_solution(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "optimize.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    write_csv(args.out / "optimize.csv", [{"site": sites[i]} for i in sol.sites.tolist()])
    print(f"chosen sites: {', '.join(report['sites'])}\nwritten: {args.out}/optimize.json, optimize.csv")
    return 0


def _optimize_scenario(args: argparse.Namespace) -> int:
    from sim.optimize.run import OptimizeOptions, optimize_scenario

    loaded = load_scenario(args.scenario or DEFAULT_SCENARIO)
    timed = args.objective in ("mean-time", "worst-time")
    opts = OptimizeOptions(
        objective=args.objective, platforms=args.platforms, keep=args.keep, base=args.base,
        candidates=args.candidates, spacing_m=_dist(args.spacing, 500.0 if timed else 300.0, "--spacing"),
        candidate_zones=tuple(z.strip() for z in args.candidate_zones.split(",") if z.strip()),
        unit_type=args.unit_type, period=args.period, shares=args.share, capacity=args.capacity,
        fair_by=args.fair_by, time_limit=args.time_limit,
        limit_s=(float(parse_duration(args.limit)) if args.limit else (600.0 if timed else None)),
        demand_cell_m=_dist(args.demand_cell, 500.0 if timed else 0.0, "--demand-cell"),
        simulate=args.simulate, delta=args.delta / 100.0, pcs=args.pcs, n0=args.n0,
        max_reps=args.max_reps, days=args.days, cache_dir=args.cache_dir, by_period=args.by_period,
        move_limit_s=float(parse_duration(args.move_limit)), max_moves_per_day=args.max_moves)
    if args.max_moves is not None and (args.max_moves < 0 or not args.by_period):
        raise ScenarioError("--max-moves needs --by-period and a count of 0 or more")
    t0 = time.perf_counter()
    result = optimize_scenario(loaded, opts, args.out, progress=_say)
    maps = _change_maps(args.out, result)
    _print_solution(result["static"][0])
    for line in result.get("lines", []):
        print(line)
    print(f"written: {args.out}/optimized.yaml, optimize.json, optimize.csv, {', '.join(maps)} "
          f"({time.perf_counter() - t0:.1f} s)\ncompare them with:  python run_sim.py compare "
          f"{args.out / 'optimized.yaml'}")
    return 0


def _change_maps(out: Path, result: dict[str, Any]) -> list[str]:
    """``layout_change.png`` (English) and ``layout_change_zh.png``: the chosen sites against
    the base layout, with the roads that gain and lose coverage within target."""
    from sim.brief.figures import PREVIEW_PX
    from sim.i18n import tr
    from sim.scenario import load_scenario as load
    from sim.viz.layout_change import plot_layout_change
    from sim.viz.save import save_with_preview
    from sim.world.prepare import World

    data, info = result.pop("change_data"), result["change"]
    world: World = data.pop("world")
    scenario = load(out / "optimized.yaml").scenario
    names = []
    for lang, suffix in (("en", ""), ("zh", "_zh")):
        fig = plot_layout_change(
            world.net, scenario, old_layout=info["old_layout"], new_layout=info["new_layout"],
            before=data["before"], after=data["after"], node_zone=data["node_zone"],
            node_weight=data["node_weight"], kept=data["kept"], moved=data["moved"],
            removed=data["removed"], new=data["new"], lang=lang,
            note=tr("o.note", lang, unit=info["unit_type"],
                    period=tr("m.free_flow", lang) if info["period"] == "free flow" else info["period"]))
        _, small = save_with_preview(fig, out / f"layout_change{suffix}", preview_px=PREVIEW_PX)
        (out / f"layout_change{suffix}_preview.png").write_bytes(small)  # embedded by the brief
        names.append(f"layout_change{suffix}.png")
    return names


def _cmd_size(args: argparse.Namespace) -> int:
    from sim.optimize.size import parse_goal, size_fleet

    loaded = load_scenario(args.scenario)
    goals = [parse_goal(g) for g in args.goal]
    result = size_fleet(loaded, goals, vary=args.vary, layout=args.layout, unit_type=args.unit_type,
                        start=args.start, stop=args.max, days=args.days, reps=args.reps,
                        cache_dir=args.cache_dir, out=args.out, progress=_say)
    for line in result["lines"]:
        print(line)
    return 0 if result["met"] else 1
