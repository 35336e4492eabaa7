"""``validate-model`` and ``verify``: the trust subcommands (registered by ``sim.cli.main``).

- ``python run_sim.py validate-model [--full]`` runs the simulator where queueing theory applies
  and prints simulated against analytic values (see ``sim.theory.validate_model``). Exit 0 if every check
  passes, 1 if any fails.
- ``python run_sim.py verify RESULTS_DIR [--workers N]`` re-runs a finished run from its manifest
  and compares the records byte for byte (see ``sim.study.verify``). Exit 0 reproduced, 1 not
  reproduced or the folder was modified, 2 cannot verify (not a finished results folder, or its
  inputs changed).

Also here, for the ``run``/``compare``/``sweep`` commands: :func:`add_budget_arguments` and
:func:`budget_limits` (``--max-events``, ``--max-memory``, checked by ``config.check_budget``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TypedDict

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "MIN_REPLICATIONS", "add_budget_arguments", "budget_limits",
           "few_replications_warning", "register"]

EXIT_FAILED = 1
EXIT_INPUT = 2


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


MAX_SEED = 2**63 - 1
"""The largest seed (``run.seed`` takes the same range)."""


def _seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**63 - 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to {MAX_SEED}, got {v}")
    return v


def _out_dir(text: str) -> Path:
    """A results root that is (or can become) a writable folder; checked before anything runs,
    nothing is created here."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {probe} is a file, so no folder can be made there")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot write in {probe} (permission denied)")
    return path


MIN_REPLICATIONS = 5
"""Below this many replications a run's confidence intervals are too wide to compare layouts."""


def few_replications_warning(replications: int) -> str | None:
    """A warning for a run of fewer than :data:`MIN_REPLICATIONS` replications, or None.

    With ``n`` replications a 95% interval is ``t(n - 1)`` standard errors wide on each side:
    12.7 for 2, 4.3 for 3, 3.2 for 4, 2.8 for 5.
    """
    if replications >= MIN_REPLICATIONS:
        return None
    from scipy import stats

    why = ("one replication gives no confidence interval at all" if replications < 2 else
           f"the 95% intervals are {stats.t.ppf(0.975, replications - 1):.1f} standard errors wide "
           "on each side")
    return (f"warning: only {replications} replication(s): {why}; for figures to compare, use "
            f"--reps {MIN_REPLICATIONS} or more, or --ci-target PP to add replications until the "
            "interval is PP percentage points")


def _memory(text: str) -> float:
    from sim.quantities import parse_memory

    try:
        return parse_memory(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add the ``validate-model`` and ``verify`` subcommands to ``subparsers``."""
    m = subparsers.add_parser(
        "validate-model", help="check the simulator against queueing theory (Erlang C, Cobham, "
                               "hypercube, lattice travel distance)",
        description="Run the simulator in configurations where queueing theory applies (one site "
                    "with zero travel: M/M/c and priority classes; a line of atoms: Larson's "
                    "hypercube; a lattice: expected travel distance) and print simulated against "
                    "analytic values. Tolerances are k standard errors of the replication mean "
                    "plus a small floor. Exit 0 if every check passes, 1 if any fails.")
    m.add_argument("--full", action="store_true",
                   help="longer runs, more replications and more configurations (minutes)")
    m.add_argument("--k", type=_positive_float, default=4.0,
                   help="tolerance in standard errors of the replication mean (default 4)")
    m.add_argument("--seed", type=_seed, default=2017, help="seed of every check (default 2017)")
    m.add_argument("--workdir", type=Path, default=None,
                   help="keep the generated networks and scenarios here (default: a temporary folder)")
    m.add_argument("--cache-dir", type=Path, default=None,
                   help="network cache for the generated networks (default: inside the work folder)")
    m.set_defaults(handler=cmd_validate_model)

    v = subparsers.add_parser(
        "verify", help="re-run a finished results folder from its manifest and compare the records",
        description="Check that a results folder is complete and unmodified, then re-run its "
                    "scenario with the seed, replications, layouts and run length in its manifest "
                    "and compare the records' SHA-256. Exit 0 reproduced, 1 not reproduced or "
                    "modified, 2 cannot verify.")
    v.add_argument("results_dir", type=Path, metavar="RESULTS_DIR",
                   help="a finished run folder, e.g. results/shaoyang/20240101-120000-seed2017")
    v.add_argument("--workers", type=_positive_int, default=1,
                   help="worker processes for the re-run (default 1; must not change the records)")
    v.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    v.set_defaults(handler=cmd_verify)


def cmd_validate_model(args: argparse.Namespace) -> int:
    """Handler of ``validate-model``: print the table; 0 if all checks pass, else 1."""
    from sim.theory.validate_model import format_table, validate_model

    mode = "full" if args.full else "fast"
    _say(f"validate-model ({mode}): simulating configurations where theory applies ...")
    groups = validate_model(mode, k=args.k, seed=args.seed, workdir=args.workdir,
                            cache_dir=args.cache_dir,
                            progress=lambda g: _say(f"  {g.name}: {g.incidents:,} incidents, "
                                                    f"{g.seconds:.1f} s"))
    print(format_table(groups, k=args.k))
    failed = [c for g in groups for c in g.checks if not c.passed]
    if failed:
        print(f"\nFAILED: {len(failed)} check(s): "
              + "; ".join(f"{c.group} / {c.quantity}" for c in failed), file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Handler of ``verify``: 0 reproduced, 1 not reproduced or modified, 2 cannot verify."""
    from sim.study.folder import ResultsFolderError
    from sim.study.verify import VerifyInputError, verify_run

    try:
        from sim.cli.calls import replay_for_verify

        report = verify_run(args.results_dir, workers=args.workers, cache_dir=args.cache_dir,
                            progress=_say, replay=replay_for_verify)
    except (ResultsFolderError, VerifyInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(report.text())
    return 0 if report.reproduced else EXIT_FAILED


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-events`` and ``--max-memory``: override the scenario's ``run.budget``."""
    parser.add_argument("--max-events", type=_positive_float, default=None, metavar="N",
                        help="refuse runs estimated above N engine events (default: run.budget, 1e9)")
    parser.add_argument("--max-memory", type=_memory, default=None, metavar="SIZE",
                        help="refuse runs whose records are estimated above SIZE, e.g. '8 GB' "
                             "(default: run.budget, 4 GB)")


class BudgetLimits(TypedDict):
    """Keyword arguments of ``check_budget`` from the command line (None: the scenario's)."""

    max_events: float | None
    max_memory: float | None


def budget_limits(args: argparse.Namespace) -> BudgetLimits:
    """Keyword arguments for ``config.check_budget`` from :func:`add_budget_arguments`' flags."""
    return {"max_events": getattr(args, "max_events", None),
            "max_memory": getattr(args, "max_memory", None)}
