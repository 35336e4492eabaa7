#!/usr/bin/env python3
"""Patrol benchmark: one simulated year of the default scenario with patrolling on and off.

Runs the 2017 grid layout parked at its posts (``grid_platforms_2017``) and patrolling
(``grid_platforms_2017_patrolling``: the same units on loops, plus volunteer beats) on the same
incidents, and prints incidents simulated per second for each, with presence sampling included,
and their ratio (target: patrolling keeps at least half the rate of parked).

Usage: python benchmarks/bench_patrol.py [--days 365]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.core import Engine
from sim.scenario import DEFAULT_SCENARIO, load_scenario
from sim.study.experiment import RunOptions, apply_overrides, load_world
from sim.world.demand import generate_incidents


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=365.0)
    args = ap.parse_args()
    loaded = apply_overrides(load_scenario(DEFAULT_SCENARIO), RunOptions(duration_s=args.days * 86400.0))
    net, world = load_world(loaded)
    s = world.scenario
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    print(f"{len(inc):,} incidents over {args.days:g} days on {net.n_nodes:,} nodes")
    rates, steady = {}, {}
    for layout in ("grid_platforms_2017", "grid_platforms_2017_patrolling"):
        # one-time tables of the layout (loop rows per congestion period), cached in the world
        # and reused by every later replication: timed apart
        t0 = time.perf_counter()
        for k in range(len(world.fleets[layout].loops)):
            for period in range(len(world.period_oracles)):
                world.loop_rows(layout, k, period)
        tables = time.perf_counter() - t0
        t0 = time.perf_counter()
        eng = Engine(world, layout, inc)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = eng.run()
        run = time.perf_counter() - t0
        rates[layout] = len(inc) / (tables + setup + run)
        steady[layout] = len(inc) / (setup + run)
        c = res.records.columns
        print(f"{layout:<32} {steady[layout]:9,.0f} incidents/s with the layout's tables built "
              f"({rates[layout]:,.0f}/s counting {tables:.2f} s to build them; run {run:.2f} s; "
              f"first unit already moving in {c['from_patrol'][c['unit'] >= 0].mean():.0%} of jobs; "
              f"{res.searches:,} Dijkstra searches)")
    ratio = steady["grid_platforms_2017_patrolling"] / steady["grid_platforms_2017"]
    first = rates["grid_platforms_2017_patrolling"] / rates["grid_platforms_2017"]
    print(f"ratio patrolling / parked: {ratio:.2f} with tables built, {first:.2f} counting the "
          "one-time tables   [target >= 0.5]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
