"""Benchmark: the covering model with the target ladder on the default Shaoyang network, and
``optimize --simulate 10`` end to end.

1. Every road node is a demand point (weights from the demand model) and a candidate site; 10
   platforms; key 1 min, central 3 min, other 5 min (patrol car, turnout included, free flow).
   Prints the model size before and after the exact reductions (dominated sites, merged demand,
   Lagrangian/LP variable fixing), the solve time, status and gap, against the same model on
   the CLI's default candidates (300 m spacing) as the reference.
2. ``run_sim.py optimize --platforms 10 --simulate 10`` end to end (static solutions, CRN
   simulation, Kim-Nelson selection), with its replications against the equal allocation.

Usage: python benchmarks/bench_optimize.py [--time-limit 300] [--days 7] [--skip-simulate] [--skip-full]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.cli.main import main as cli_main
from sim.optimize.candidates import build_instance, filter_candidates, reference_unit_type
from sim.optimize.models import MCLP, SolveError
from sim.scenario import DEFAULT_SCENARIO, load_scenario
from sim.study.experiment import load_world


def _coverage(loaded, world, spacing_m: float, time_limit: float, reduce: bool) -> dict:
    ut = reference_unit_type(loaded, None)
    nodes, _ = filter_candidates(loaded, world, spacing_m=spacing_m)
    inst = build_instance(loaded, world, nodes, [str(n) for n in nodes], unit_type=ut)
    t0, c0 = time.perf_counter(), time.process_time()
    model = MCLP(inst.matrix, inst.weights, targets=inst.targets, p=10)
    model.bound_reduction = reduce
    sol = model.solve(time_limit=time_limit, mip_gap=1e-4)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"candidates": len(nodes), "demand": inst.matrix.n_demand,
            "pairs": int(inst.matrix.within(inst.targets).sum()), "build_s": inst.build_s,
            "size": sol.size_text(), "solve_s": sol.solve_s, "total_s": total, "cpu_s": cpu,
            "status": sol.status,
            "gap": sol.gap, "value": sol.objective, "notes": sol.notes}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--days", type=float, default=7.0, help="days per replication for --simulate")
    ap.add_argument("--skip-simulate", action="store_true")
    ap.add_argument("--skip-full", action="store_true", help="only the reference (300 m candidates)")
    ap.add_argument("--without-bound-reduction", action="store_true",
                    help="also solve every-node case without the Lagrangian/LP fixing (the old way; slow)")
    args = ap.parse_args()
    loaded = load_scenario(DEFAULT_SCENARIO)
    _, world = load_world(loaded)
    print("coverage with the target ladder, 10 platforms, default Shaoyang network")
    results = {}
    cases = [("reference: candidates 300 m apart", 300.0, True), ("every node a candidate", 0.0, True)]
    if args.without_bound_reduction:
        cases.append(("every node a candidate, without the bound reduction", 0.0, False))
    for label, spacing, reduce in cases:
        if spacing == 0.0 and args.skip_full:
            continue
        try:
            r = _coverage(loaded, world, spacing, args.time_limit, reduce)
        except SolveError as exc:
            print(f"  {label}: {exc}")
            continue
        if reduce:
            results[spacing] = r
        print(f"  {label}: {r['candidates']:,} candidates x {r['demand']:,} demand points, "
              f"{r['pairs']:,} covering pairs (matrix {r['build_s']:.1f} s)")
        n = r["notes"]
        if "sites_after_fixing" in n:
            print(f"    sites {r['candidates']:,} -> {n['sites_after_dominance']:,} (dominance) -> "
                  f"{n['sites_after_fixing']:,} (Lagrangian/LP fixing, {n['reduction_s']:.1f} s); incumbent "
                  f"{n['incumbent']:.4%}, bound {n['lagrangian_bound']:.4%}")
        print(f"    model to HiGHS: {r['size']}; solve {r['solve_s']:.1f} s in all (CPU {r['cpu_s']:.1f} s: "
              f"the difference is other load on the machine), {r['status']}, "
              f"gap {r['gap']:.3%}, covered {r['value']:.2%} ({n.get('method', 'HiGHS')})")
    if len(results) == 2:
        full, ref = results[0.0], results[300.0]
        print(f"  every node / reference: solve time x{full['total_s'] / max(ref['total_s'], 1e-9):.1f}, "
              f"covered {100 * (full['value'] - ref['value']):+.2f} pp")
    if not args.skip_simulate:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rc = cli_main(["optimize", "--platforms", "10", "--simulate", "10", "--days", f"{args.days:g}",
                           "--out", tmp])
            print(f"optimize --platforms 10 --simulate 10 --days {args.days:g}: exit {rc}, "
                  f"{time.perf_counter() - t0:.1f} s end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
