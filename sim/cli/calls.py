"""Call-log commands (registered by ``sim.cli.main``): ``calls check``, ``calls synth``, ``fit`` and
``backtest``; and the set-up of ``--replay`` for ``run``, ``compare`` and ``sweep``.

- ``calls check CALLS.csv --scenario S [--mapping M] [--report bad_rows.csv]``: read and check every
  row; print the counts by reason and the first problems, write all of them with ``--report``.
  Exit 0 when every row is accepted, 1 when some are rejected, 2 when the file cannot be read.
- ``calls synth OUT_DIR [--days N]``: write the synthetic log of ``sim.history.synth_log``.
- ``fit CALLS.csv --scenario S --out S_fitted.yaml``: the fitted scenario, its demand points and
  ``fit_report.html``/``.json`` beside it.
- ``backtest S.yaml --calls CALLS.csv --train A:B --test C:D``: fit on the training window,
  simulate the test window and compare (``backtest_report.html``/``.json``). Exit 0 when the
  model reproduces all calls of the test window (KS p >= 0.01), 1 when it does not.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from sim.cli.checks import _positive_int
from sim.scenario import DEFAULT_SCENARIO, LoadedScenario, load_scenario

__all__ = ["add_replay_arguments", "register", "replay_for_verify", "setup_replay"]

SHOWN = 20


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def register(sub: Any) -> None:
    """Add the call-log commands to the ``run_sim.py`` subcommands."""
    def common(p: argparse.ArgumentParser, scenario_flag: bool = True) -> None:
        if scenario_flag:
            p.add_argument("--scenario", default=str(DEFAULT_SCENARIO),
                           help="scenario whose network, types and history: mapping the log uses")
        p.add_argument("--mapping", type=Path, help="YAML column mapping (default: the scenario's "
                                                    "history: section)")
        p.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")

    c = sub.add_parser("calls", help="check a call log, or write the synthetic one",
                       description="Call-log tools: 'check' reads every row through the column mapping "
                                   "and reports every bad row; 'synth' writes a synthetic log.")
    csub = c.add_subparsers(dest="calls_command", required=True, metavar="ACTION")
    chk = csub.add_parser("check", help="read and check every row of a call log")
    chk.add_argument("calls", type=Path, help="call log (.csv or .parquet)")
    chk.add_argument("--report", type=Path, help="write every problem (row, column, reason) as CSV")
    common(chk)
    chk.set_defaults(handler=_cmd_check)
    syn = csub.add_parser("synth", help="write a synthetic call log from a known true scenario")
    syn.add_argument("out", type=Path, help="folder for calls.csv, truth.yaml, corrupt_rows.json")
    syn.add_argument("--days", type=float, default=35.0, help="days of calls (default 35)")
    syn.add_argument("--per-day", type=float, default=150.0, help="calls a day (default 150)")
    syn.add_argument("--seed", type=int, default=7)
    syn.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    syn.set_defaults(handler=_cmd_synth)

    f = sub.add_parser("fit", help="fit demand, times and travel speeds to a call log",
                       description="Write a scenario whose demand, type mix, on-scene and call-handling "
                                   "times, road speeds, congestion factors and turnout come from the "
                                   "log, with fit_report.html and fit_report.json beside it.")
    f.add_argument("calls", type=Path, help="call log (.csv or .parquet)")
    f.add_argument("--out", type=Path, required=True, help="the fitted scenario to write (YAML)")
    f.add_argument("--no-plots", action="store_true", help="report without figures")
    common(f)
    f.set_defaults(handler=_cmd_fit)

    b = sub.add_parser("backtest", help="fit on a training window, compare a simulated test window",
                       description="Fit the scenario on the calls of --train, simulate the length of "
                                   "--test and compare simulated with observed response times per "
                                   "priority and zone class (median, P90, compliance, two-sample KS).")
    b.add_argument("scenario", help="scenario YAML (e.g. the fitted one)")
    b.add_argument("--calls", type=Path, required=True, help="call log")
    b.add_argument("--train", required=True, metavar="FIRST:LAST", help="training days, e.g. "
                                                                         "2025-01-01:2025-09-30")
    b.add_argument("--test", required=True, metavar="FIRST:LAST", help="test days")
    b.add_argument("--reps", type=_positive_int, default=3, help="simulated replications (default 3)")
    b.add_argument("--no-refit", action="store_true", help="test the scenario as given")
    b.add_argument("--out", type=Path, default=None, help="report folder (default: results/backtest_<name>)")
    b.add_argument("--no-plots", action="store_true")
    common(b, scenario_flag=False)
    b.set_defaults(handler=_cmd_backtest)


def add_replay_arguments(p: argparse.ArgumentParser) -> None:
    """``--replay CALLS`` and ``--mapping M`` for ``run``, ``compare`` and ``sweep``."""
    p.add_argument("--replay", type=Path, metavar="CALLS",
                   help="replay a call log (CSV/Parquet) instead of generated demand: the same calls "
                        "for every layout (see 'calls check')")
    p.add_argument("--mapping", type=Path, help="column mapping for --replay (default: the scenario's "
                                                "history: section)")


def _read(args: argparse.Namespace, loaded: LoadedScenario, net: Any) -> Any:
    from sim.history.calls import history_spec, read_calls

    spec = history_spec(loaded, args.mapping)
    return read_calls(args.calls, spec, loaded.scenario, net)


def _world(args: argparse.Namespace, loaded: LoadedScenario) -> tuple[Any, Any, Any]:
    from sim.history.calls import history_spec
    from sim.history.fit import prepare_for_log

    spec = history_spec(loaded, args.mapping)
    net, world = prepare_for_log(loaded, spec, args.cache_dir)
    return spec, net, world


def print_problems(log: Any, limit: int = SHOWN) -> None:
    print(f"{log.path}: {log.rows_read} rows, {len(log)} accepted, {log.rejected_rows} rejected")
    for reason, count in log.counts_by_reason().items():
        print(f"  {count:6d}  {reason}")
    for p in log.problems[:limit]:
        print(f"  row {p.row} (line {p.row + 1}), {p.column}: {p.reason}")
    if len(log.problems) > limit:
        print(f"  ... and {len(log.problems) - limit} more (write them all with --report FILE)")


def _cmd_check(args: argparse.Namespace) -> int:
    from sim.study.experiment import load_net

    loaded = load_scenario(args.scenario)
    log = _read(args, loaded, load_net(loaded, args.cache_dir, progress=_say))
    print_problems(log)
    if args.report:
        with open(args.report, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["row", "line", "column", "reason"])
            w.writerows([p.row, p.row + 1, p.column, p.reason] for p in log.problems)
        print(f"problems written to {args.report}")
    return 1 if log.problems else 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from sim.history.synth_log import SynthOptions, write_synthetic

    paths = write_synthetic(args.out, SynthOptions(days=args.days, per_day=args.per_day, seed=args.seed),
                            cache_dir=args.cache_dir)
    for k, v in paths.items():
        print(f"{k}: {v}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from sim.brief.fit_report import write_fit_report
    from sim.history.fit import fit_log, write_fitted

    loaded = load_scenario(args.scenario)
    spec, net, world = _world(args, loaded)
    log = _read(args, loaded, net)
    print_problems(log, limit=5)
    fit = fit_log(loaded, log, world, spec=spec)
    out = write_fitted(loaded, fit, world, args.out)
    report = write_fit_report(out.parent, fit, figures=not args.no_plots)
    t = fit["travel"]
    print(f"fitted scenario: {out}\nreport: {report['html']}")
    if "speeds" in t:
        e = t["errors"]["all"]
        print(f"travel: {t['observations']} calls; MAE {e['before']['mae_s']:.1f} s -> "
              f"{e['after']['mae_s']:.1f} s; turnout {t['turnout_s']:.1f} s")
    for k, why in t["refused"].items():
        print(f"  not fitted: {k}: {why}")
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from sim.brief.fit_report import write_backtest_report
    from sim.history.backtest import backtest
    from sim.history.calls import parse_window

    loaded = load_scenario(args.scenario)
    spec, net, world = _world(args, loaded)
    log = _read(args, loaded, net)
    tz = log.timezone
    out = args.out or Path("results") / f"backtest_{loaded.scenario.name}"
    report = backtest(loaded, log, world, train=parse_window(args.train, tz),
                      test=parse_window(args.test, tz), out_dir=out, refit=not args.no_refit,
                      reps=args.reps, cache_dir=args.cache_dir, spec=spec)
    paths = write_backtest_report(out, report, figures=not args.no_plots)
    head = f"{'priority':<9} {'zone':<8} {'obs':>6} {'sim':>6} {'med obs':>8} {'med sim':>8} " \
           f"{'p90 obs':>8} {'p90 sim':>8} {'KS D':>6} {'KS p':>8}  verdict"
    print(head)
    for g in report["groups"]:
        print(f"{g['priority']:<9} {g['zone']:<8} {g['n_observed']:>6} {g['n_simulated']:>6} "
              f"{g['median_observed_s']:>7.0f}s {g['median_simulated_s']:>7.0f}s "
              f"{g['p90_observed_s']:>7.0f}s {g['p90_simulated_s']:>7.0f}s {g['ks_d']:>6.3f} "
              f"{g['ks_p']:>8.3g}  {g['verdict']}")
    print(f"verdict (all calls): {report['verdict']}; report: {paths['html']}")
    return 0 if report["verdict"] == "consistent" else 1


def setup_replay(args: argparse.Namespace, loaded: LoadedScenario
                 ) -> tuple[LoadedScenario, Any, dict[str, Any]]:
    """For ``run``, ``compare`` and ``sweep`` with ``--replay``: the scenario set to the log's
    length, the incidents provider (the same trace for every layout and variant) and its note
    for the manifest and the brief.

    A sweep of ``demand_multiplier`` is refused: a replay's demand is the log, which cannot be
    scaled up without inventing calls (a demand sweep belongs on the scenario fitted to the log,
    ``run_sim.py fit``). Speed, unit and parameter sweeps replay the same trace in every variant.
    """
    from sim.history.calls import history_spec, read_calls
    from sim.history.replay import Replay
    from sim.study.experiment import RunOptions, apply_overrides, load_net
    from sim.world.places import WARN_M

    sweep = loaded.scenario.sweep
    if getattr(args, "command_name", "") == "sweep" and sweep is not None and \
            any(m != 1.0 for m in sweep.demand_multiplier):
        raise loaded.error(("sweep", "demand_multiplier"),
                           "a replay's demand is the call log, which cannot be scaled; drop "
                           "demand_multiplier from the sweep to replay the log, or sweep demand on "
                           "the scenario fitted to the log (run_sim.py fit) without --replay")
    net = load_net(loaded, args.cache_dir, progress=_say)
    log = read_calls(args.replay, history_spec(loaded, args.mapping), loaded.scenario, net)
    if not len(log):
        raise loaded.error(("history",), f"--replay {args.replay}: no call of the log is accepted "
                                         f"(see: run_sim.py calls check {args.replay})")
    if log.problems:
        _say(f"replay: {log.rejected_rows} of {log.rows_read} rows rejected "
             f"(see: run_sim.py calls check {args.replay} --scenario {args.scenario}"
             + (f" --mapping {args.mapping})" if args.mapping else ")"))
    if args.days:
        _say("replay: --days is ignored; the run covers the log")
    mapping = str(Path(args.mapping).resolve()) if args.mapping else None
    replay = Replay(str(Path(args.replay).resolve()), mapping, log.checksum)
    note = replay.describe(log, as_given=str(args.replay))
    loaded = apply_overrides(loaded, RunOptions(duration_s=note["duration_s"]))
    _say(f"replay: {note['calls']} calls over {note['days']:g} days from {note['first_day']} "
         f"({note['timezone']}); on-scene times from the log for {note['on_scene_from_log_share']:.0%}")
    snap = note["snap"]
    far = snap.get(f"over_{WARN_M:g}_m", 0)
    _say(f"replay: calls placed on the nearest drivable road: median {snap['median_m']:g} m, "
         f"P90 {snap['p90_m']:g} m, max {snap['max_m']:g} m"
         + (f"; {far} call(s) more than {WARN_M:g} m from a road" if far else ""))
    drift = 0.0
    for d in note["uneven_days"]:
        drift += d["hours"] - 24.0
        _say(f"replay: {d['day']} has {d['hours']:g} h in {note['timezone']} (daylight saving); "
             "call times are elapsed seconds, so from then on the scenario's clock of day (shifts, "
             f"congestion periods) is {drift:+g} h from local time")
    return loaded, replay, note


def replay_for_verify(note: dict[str, Any]) -> Any:
    """For ``verify`` of a replay: the provider of the manifest's log, if that log is unchanged."""
    from sim.fileio import sha256_file
    from sim.history.replay import Replay
    from sim.study.verify import VerifyInputError

    path = Path(str(note.get("calls_file", "")))
    if not path.is_file():
        raise VerifyInputError(f"the replayed call log {path} is gone; a re-run needs it")
    digest = sha256_file(path)
    if digest != note.get("sha256"):
        raise VerifyInputError(f"the replayed call log {path} changed since the run (it was "
                               f"{str(note.get('sha256'))[:12]}..., now {digest[:12]}...): a re-run "
                               "would not be the same experiment")
    mapping = note.get("mapping_file")
    if mapping and not Path(mapping).is_file():
        raise VerifyInputError(f"the column mapping {mapping} of the replayed log is gone")
    return Replay(str(path), mapping, digest)
