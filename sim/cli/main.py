"""Command-line interface: ``python run_sim.py run|validate ...``.

Exit codes: 0 success, 2 a problem with the input (scenario or network file), 130 interrupted.
Input problems are printed as one message naming the file, key path and line, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from sim.cli.checks import _out_dir, _positive_int, _seed, few_replications_warning
from sim.network.load import NetworkSourceError, default_cache_dir
from sim.scenario import DEFAULT_SCENARIO, LoadedScenario, ScenarioError, check_budget, load_scenario

__all__ = ["build_parser", "main"]

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _days(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not (0 < v <= 3650) or math.isnan(v):
        raise argparse.ArgumentTypeError(f"days must be in (0, 3650], got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_sim.py",
        description="Simulate rapid-response police platforms on a road network and measure how "
                    "often the 1/3/5-minute targets are met.",
        epilog="Examples:\n  python run_sim.py run\n"
               "  python run_sim.py run scenarios/shaoyang.yaml --days 60 --reps 10\n"
               "  python run_sim.py compare scenarios/shaoyang.yaml --reps 20 --workers 2\n"
               "  python run_sim.py sweep scenarios/shaoyang.yaml --ci-target 1\n"
               "  python run_sim.py validate scenarios/shaoyang.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO),
                        help="scenario YAML file (default: the built-in Shaoyang scenario)")
    common.add_argument("--layout", action="append", metavar="NAME",
                        help="run only this layout (repeat for several; default: the scenario's list)")
    common.add_argument("--days", type=_days, help="simulated days per replication (overrides run.duration)")
    common.add_argument("--reps", type=_positive_int, help="replications (overrides run.replications)")
    common.add_argument("--seed", type=_seed, help="random seed (overrides run.seed)")
    common.add_argument("--out", type=_out_dir, default=Path("results"),
                        help="results root (default: results/)")
    common.add_argument("--cache-dir", type=Path, default=None,
                        help=f"network cache (default: $POLICE_SIM_CACHE or {default_cache_dir()})")

    r = sub.add_parser("run", parents=[common],
                       help="simulate a scenario's layouts and write a results folder",
                       description="Simulate every layout of a scenario (or those given with "
                                   "--layout) for several replications, print a summary and write "
                                   "results/<scenario>/<run-id>/.")
    r.add_argument("--workers", type=_positive_int, default=1,
                   help="worker processes (default 1; results are identical for any number)")
    r.add_argument("--no-plots", action="store_true", help="skip the figures and the report")
    r.add_argument("--resume", type=Path, metavar="DIR",
                   help="finish an interrupted run in DIR (a <run-id>.partial folder): only the "
                        "missing pieces run")
    from sim.cli.calls import add_replay_arguments
    from sim.cli.calls import register as register_calls

    add_replay_arguments(r)
    r.set_defaults(handler=_cmd_run)

    from sim.cli.checks import add_budget_arguments
    from sim.cli.checks import register as register_checks
    from sim.cli.study import register as register_study

    add_budget_arguments(common)
    register_study(sub, common)
    register_checks(sub)
    register_calls(sub)

    v = sub.add_parser("validate", help="check a scenario file without simulating",
                       description="Validate a scenario: the schema, cross-references and, unless "
                                   "--schema-only, the platforms against the road network.")
    v.add_argument("scenario", help="scenario YAML file")
    v.add_argument("--schema-only", action="store_true", help="do not load the road network")
    v.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    v.set_defaults(handler=_cmd_validate)

    from sim.cli.network import register as register_network
    from sim.cli.report import register as register_report

    register_report(sub)
    register_network(sub)
    from sim.cli.optimize import register as register_optimize

    register_optimize(sub)
    from sim.cli.rural import register as register_rural  # the county/village tables

    register_rural(sub)
    return p


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fmt_pct(row: dict[str, Any], key: str) -> str:
    m, lo, hi = row[key], row[f"{key}_ci_low"], row[f"{key}_ci_high"]
    if m is None or math.isnan(m):
        return "n/a"
    if lo is None or math.isnan(lo):
        return f"{m:6.1%}"
    return f"{m:6.1%} ± {max(m - lo, hi - m) * 100:.1f} pp"


def _fmt_min(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x / 60:.1f} min"


def _fmt_share(x: float | None, width: int) -> str:
    return f"{'n/a':>{width}}" if x is None or math.isnan(x) else f"{x:>{width}.1%}"


def summary_table(summary: list[dict[str, Any]], targets: Mapping[Any, float], clock: str,
                  replications: int = 1) -> str:
    """The compact table printed when a run's simulation ends. Incidents are totals over the
    replications (whole numbers, so the zones add up to ``all``); a zone without incidents shows
    n/a, not a percentage of nothing."""
    head = (f"{'layout':<32} {'zone':<8} {'target':>7} {'incidents':>9}  {'within target (95% CI)':<23}"
            f" {'mean resp':>9} {'p90 resp':>9} {'queued':>7} {'util':>6}")
    lines = [head, "-" * len(head)]
    last = None
    for row in summary:
        layout = row["layout"] if row["layout"] != last else ""
        last = row["layout"]
        tgt = f"{targets[row['zone']] / 60:g} min" if row["zone"] in targets else ""
        lines.append(
            f"{layout:<32} {row['zone']:<8} {tgt:>7} {round(row['incidents'] * replications):>9,}  "
            f"{_fmt_pct(row, 'compliance'):<23} {_fmt_min(row['response_mean_s']):>9} "
            f"{_fmt_min(row['response_p90_s']):>9} {_fmt_share(row['queued_share'], 7)} "
            f"{_fmt_share(row['utilisation'], 6)}")
    over = "the replication" if replications == 1 else f"all {replications} replications"
    lines.append(f"Targets are timed from the {clock}; response times from the call. "
                 f"Incidents are counted over {over}.")
    return "\n".join(lines)


NETWORK_CHECK_SECTIONS = frozenset({"network", "zones", "demand", "layouts"})
"""The sections the checks against the road network read (``sim.world.checks``)."""


def _load_for_validate(args: argparse.Namespace) -> LoadedScenario:
    """The scenario; if it has problems in sections the network checks do not read, those checks
    still run, so that one ``validate`` reports every independent problem."""
    try:
        return load_scenario(args.scenario)
    except ScenarioError as exc:
        if args.schema_only or exc.partial is None or exc.invalid_sections & NETWORK_CHECK_SECTIONS:
            raise
        from sim.study.experiment import load_net
        from sim.world.checks import network_problems

        try:
            net = load_net(exc.partial, args.cache_dir, progress=_say)
            more = network_problems(exc.partial, net)
        except ScenarioError as net_exc:
            more = [net_exc]
        raise ScenarioError.combine([exc, *more]) from None


def _cmd_validate(args: argparse.Namespace) -> int:
    loaded = _load_for_validate(args)
    s = loaded.scenario
    if not args.schema_only:
        from sim.study.experiment import load_world

        net, world = load_world(loaded, args.cache_dir, progress=_say)
        for name, fleet in world.fleets.items():
            print(f"  layout {name}: {len(fleet.platform_names)} posts, {len(fleet)} units")
        print(f"  network: {net.source}: {net.n_nodes:,} nodes, {net.n_edges:,} edges")
        if s.rural is not None:
            from sim.world.villages import rural_overview

            print(rural_overview(loaded, net))
    print(f"{args.scenario}: OK ({len(s.layouts)} layouts, {len(s.incident_types)} incident types, "
          f"{s.demand.incidents_per_day:g} incidents/day)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.analysis.coverage import coverage_summary, write_coverage_tables
    from sim.cli.checks import budget_limits
    from sim.cli.progress import Progress
    from sim.cli.study import run_folders, stopped
    from sim.study.experiment import RunOptions, apply_overrides, load_world, run_batch
    from sim.study.folder import finish_run_dir, write_results

    t_start = time.perf_counter()
    loaded = load_scenario(args.scenario)
    opts = RunOptions(layouts=tuple(args.layout) if args.layout else None, replications=args.reps,
                      seed=args.seed, duration_s=args.days * 86400.0 if args.days else None,
                      cache_dir=args.cache_dir)
    loaded = apply_overrides(loaded, opts)
    replay, replay_note = None, None
    if args.replay:
        from sim.cli.calls import setup_replay

        loaded, replay, replay_note = setup_replay(args, loaded)
    check_budget(loaded, **budget_limits(args))
    s = loaded.scenario
    t0 = time.perf_counter()
    net, world = load_world(loaded, args.cache_dir, progress=_say)
    t_net = time.perf_counter() - t0
    layouts = s.layout_names()
    _say(f"{s.name}: {len(layouts)} layout(s) x {s.run.replications} replication(s) x "
         f"{s.run.duration / 86400:g} days on {net.n_nodes:,} road nodes ({net.source})")
    partial, final = run_folders(args, loaded, args.out)
    try:
        batch = run_batch(loaded, world, progress=Progress("simulating"), workers=args.workers,
                          cache_dir=args.cache_dir, store_dir=partial, incidents=replay)
    except (KeyboardInterrupt, BrokenProcessPool) as exc:
        return stopped(args, "run", partial, exc)
    coverage = write_coverage_tables(partial, world, batch.layouts, batch.presence)
    timings = {"network_s": t_net, "simulate_s": batch.timings["simulate_s"],
               "plots_s": 0.0, "total_s": time.perf_counter() - t_start}
    write_results(partial, loaded, net, batch, command=["run_sim.py", *sys.argv[1:]], timings=timings,
                  replay=replay_note)
    # the results first, as soon as the simulation is done; the figures follow
    print(summary_table(batch.summary, s.zones.targets, s.zones.clock, s.run.replications))
    print()
    print(coverage_summary(coverage))
    print(f"\n{batch.incidents_simulated:,} incidents simulated in {batch.timings['simulate_s']:.1f} s.",
          flush=True)
    briefs: list[Path] = []
    if not args.no_plots:  # figures and the report, from the folder just written
        from sim.brief.report import report_after_run

        written = report_after_run(partial, net=net, world=world, records=batch.records, progress=_say)
        briefs = [final / p.name for p in written if p.name.startswith("report_") or p.name == "map.html"]
    finish_run_dir(partial, final)
    print(f"Results: {final}")
    if briefs:
        print("Brief: " + "  ".join(str(p) for p in briefs))
    warning = few_replications_warning(s.run.replications)
    if warning:
        _say(warning)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"error: {problem.where()}", file=sys.stderr)
        if len(exc.problems) > 1:
            print(f"{len(exc.problems)} problems; each line names the file, line and key path.",
                  file=sys.stderr)
        return EXIT_INPUT
    except NetworkSourceError as exc:
        print(f"error: road network: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:  # before any run started: nothing to keep
        print("\ninterrupted before any simulation finished; nothing was written.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
