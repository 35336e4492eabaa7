"""``compare`` and ``sweep``: layout studies from the command line (registered by ``sim.cli.main``)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sim.cli.checks import _positive_int, few_replications_warning
from sim.scenario import LoadedScenario, ScenarioError, check_budget, load_scenario

__all__ = ["register"]


def _pp(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected percentage points, got {text!r}") from None
    if not 0 < v < 100:
        raise argparse.ArgumentTypeError("must be between 0 and 100 percentage points")
    return v


def run_folders(args: argparse.Namespace, loaded: LoadedScenario, root: Path) -> tuple[Path, Path]:
    """The ``.partial`` folder to fill and the final name: a new one, or ``--resume DIR``."""
    from sim.study.folder import PARTIAL_NOTE, new_run_dir

    if getattr(args, "resume", None):
        partial = Path(args.resume)
        if not partial.is_dir():
            raise ScenarioError(f"--resume {partial}: no such folder", file=loaded.path)
        final = partial.with_name(partial.name.removesuffix(".partial"))
        if final == partial:
            done = (partial / "manifest.json").exists()
            raise ScenarioError(f"--resume {partial}: " + (
                "that run is already complete" if done else "not an interrupted run (its name "
                "does not end in .partial); give the <run-id>.partial folder the run printed"),
                file=loaded.path)
        if not ((partial / PARTIAL_NOTE).exists() or (partial / "study.json").exists()):
            raise ScenarioError(f"--resume {partial}: not an interrupted run (it holds neither "
                                f"{PARTIAL_NOTE} nor study.json)", file=loaded.path)
        return partial, final
    s = loaded.scenario
    try:
        return new_run_dir(root, s.name, s.run.seed)
    except OSError as exc:
        raise ScenarioError(f"--out {root}: cannot create the results folder there: "
                            f"{exc.strerror or exc}", file=loaded.path) from None


def interpreter() -> str:
    """The Python running this command, as the user can type it again (``.venv/bin/python``)."""
    exe = Path(sys.executable)
    try:
        return shlex.quote(str(exe.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(exe))


def stopped(args: argparse.Namespace, command: str, partial: Path, exc: BaseException) -> int:
    """Say where the finished pieces are and how to resume; the exit code for the stop."""
    why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "a worker process died"
    done = len(list(Path(partial).glob("pieces/*/*/*.pkl")))
    print(f"\n{why}: {done} finished run(s) are saved in {partial}\nresume with:  {interpreter()} run_sim.py "
          f"{command} {args.scenario} --resume {partial}" +
          ("".join(f" --layout {x}" for x in args.layout or [])) +
          (f" --days {args.days:g}" if args.days else "") +
          (f" --reps {args.reps}" if args.reps else "") +
          (f" --seed {args.seed}" if args.seed is not None else "") +
          (f" --replay {shlex.quote(str(args.replay))}" if getattr(args, "replay", None) else "") +
          (f" --mapping {shlex.quote(str(args.mapping))}" if getattr(args, "mapping", None) else ""),
          file=sys.stderr)
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser) -> None:
    """Add the ``compare`` and ``sweep`` subcommands; ``common`` holds the shared run options."""
    from sim.cli.calls import add_replay_arguments
    from sim.study.experiment import default_workers

    for name, sweep, text in (
        ("compare", False, "compare every layout against the baseline, pair by pair"),
        ("sweep", True, "compare layouts under every combination of the scenario's sweep factors"),
    ):
        p = sub.add_parser(name, parents=[common], help=text, description=text[0].upper() + text[1:] +
                           ". Every layout sees the same incidents in each replication (common "
                           "random numbers). Finished pieces are saved as they complete; an "
                           "interrupted study resumes with --resume.")
        p.add_argument("--workers", type=_positive_int, default=default_workers(),
                       help="local worker processes (default: the number of cores)")
        p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on an existing Dask distributed cluster instead of local processes")
        p.add_argument("--resume", type=Path, metavar="DIR",
                       help="continue an interrupted study in DIR (runs only the missing pieces)")
        p.add_argument("--ci-target", type=_pp, metavar="PP",
                       help="add replications until the 95%% CI half-width of overall compliance is "
                            "at most PP percentage points for every layout")
        p.add_argument("--max-reps", type=_positive_int, default=None,
                       help="upper limit on replications with --ci-target (default 10x --reps)")
        add_replay_arguments(p)
        p.set_defaults(handler=_handler(sweep), command_name=name)


def _handler(sweep: bool) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        return _study(args, sweep)

    return handle


def _study(args: argparse.Namespace, sweep: bool) -> int:
    from sim.analysis.comparison import comparison_table, write_study_tables
    from sim.cli.checks import budget_limits
    from sim.cli.progress import Progress
    from sim.study.experiment import RunOptions, apply_overrides, build_variants, load_net, run_study
    from sim.study.folder import finish_run_dir, write_results

    t_start = time.perf_counter()
    if args.max_reps is not None and not args.ci_target:
        raise ScenarioError("--max-reps limits --ci-target; without --ci-target give --reps",
                            file=args.scenario)
    loaded = load_scenario(args.scenario)
    loaded = apply_overrides(loaded, RunOptions(
        layouts=tuple(args.layout) if args.layout else None, replications=args.reps, seed=args.seed,
        duration_s=args.days * 86400.0 if args.days else None, cache_dir=args.cache_dir))
    if sweep and loaded.scenario.sweep is None:
        raise ScenarioError("this scenario has no 'sweep' section; use 'compare', or add e.g.\n"
                            "  sweep: {demand_multiplier: [1.0, 1.2], speed_multiplier: [1.0, 0.85]}",
                            file=loaded.path)
    replay, replay_note = None, None
    if args.replay:  # the same calls for every layout and variant (sim.cli.calls.setup_replay)
        from sim.cli.calls import setup_replay

        loaded, replay, replay_note = setup_replay(args, loaded)
    s = loaded.scenario
    variants = build_variants(loaded, sweep=sweep)
    check_budget(loaded, variants=len(variants),
                 demand_multiplier=max(v.demand_multiplier for v in variants), **budget_limits(args))
    if args.scheduler:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ScenarioError("--scheduler needs Dask: pip install 'dask[distributed]'",
                                file=loaded.path) from None
    net = load_net(loaded, args.cache_dir)
    partial, final = run_folders(args, loaded, args.out)
    max_reps = args.max_reps or (10 * s.run.replications if args.ci_target else None)
    try:
        batch = run_study(loaded, sweep=sweep, workers=args.workers, scheduler=args.scheduler,
                          store_dir=partial, cache_dir=args.cache_dir,
                          ci_target=args.ci_target / 100 if args.ci_target else None,
                          max_reps=max_reps, progress=Progress(args.command_name), incidents=replay)
    except (KeyboardInterrupt, BrokenProcessPool) as exc:
        return stopped(args, args.command_name, partial, exc)
    baseline = s.baseline_layout()
    tables = write_study_tables(partial, batch, baseline)
    for vi, v in enumerate(batch.variants[1:], start=1):
        folder = partial / "variants" / f"v{vi:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "variant.txt").write_text(v.name + "\n", encoding="utf-8")
        batch.variant_records[vi].to_csv(folder / "records.csv")
    timings = {"simulate_s": batch.timings["simulate_s"], "total_s": time.perf_counter() - t_start}
    write_results(partial, loaded, net, batch, command=["run_sim.py", *sys.argv[1:]], timings=timings,
                  replay=replay_note)
    finish_run_dir(partial, final)
    print(comparison_table(tables["comparison"], tables["robustness"]))
    print(f"\n{len(batch.variants)} variant(s) x {len(batch.layouts)} layout(s) x {batch.replications} "
          f"replication(s), {batch.incidents_simulated:,} incidents simulated. Results: {final}")
    warning = few_replications_warning(batch.replications)
    if warning:
        print(warning, file=sys.stderr)
    return 0
