#!/usr/bin/env python3
"""Engine benchmark: one simulated year of the default scenario against a minimal reference.

Prints, all measured in this run:

- network load time, cold (empty cache: generate + osmnx + build) and cached;
- incidents simulated per second by the full engine (one layout, one year);
- the same for a minimal reference measured on the same network and incidents: a bare SimPy loop
  that sends the nearest idle unit using a precomputed numpy travel-time matrix from the posts,
  with units teleporting home after each job and a plain FIFO queue;
- the ratio full / reference (target: at least 1/3) and peak memory (RSS).

Usage: python benchmarks/bench_engine.py [--days 365] [--layout grid_platforms_2017] [--skip-cold]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.core import Engine
from sim.scenario import DEFAULT_SCENARIO, load_scenario
from sim.study.experiment import RunOptions, apply_overrides, load_world
from sim.world.demand import generate_incidents


def reference_rate(world, layout: str, inc) -> tuple[float, int]:
    """The minimal reference: nearest idle unit from a precomputed matrix, in a bare SimPy loop."""
    fleet = world.fleets[layout]
    matrix = np.stack([world.oracles[t].from_node(int(p)) for t, p in zip(fleet.unit_type, fleet.post,
                                                                          strict=True)], axis=1)
    env = simpy.Environment()
    idle = np.ones(len(fleet), dtype=bool)
    queue: deque[int] = deque()
    served = [0]

    def job(u, i):
        yield env.timeout(matrix[inc.node[i], u] + inc.on_scene_s[i])
        served[0] += 1
        if queue:
            env.process(job(u, queue.popleft()))
        else:
            idle[u] = True

    def source():
        for i in range(len(inc)):
            t = inc.dispatch_s[i]
            if t >= inc.horizon_s:
                break
            if t > env.now:
                yield env.timeout(t - env.now)
            if idle.any():
                eta = np.where(idle, matrix[inc.node[i]], np.inf)
                u = int(np.argmin(eta))
                idle[u] = False
                env.process(job(u, i))
            else:
                queue.append(i)

    t0 = time.perf_counter()
    env.process(source())
    env.run(until=inc.horizon_s)
    return time.perf_counter() - t0, len(inc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--layout", default="grid_platforms_2017")
    ap.add_argument("--skip-cold", action="store_true", help="do not time a cold network load")
    args = ap.parse_args()

    loaded = apply_overrides(load_scenario(DEFAULT_SCENARIO), RunOptions(duration_s=args.days * 86400.0))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        if args.skip_cold:
            cache = None  # the user's cache: already warm
        else:
            t0 = time.perf_counter()
            load_world(loaded, cache)
            cold = time.perf_counter() - t0
            print(f"network load, cold (generate + osmnx + build + world): {cold:7.2f} s")
        t0 = time.perf_counter()
        net, world = load_world(loaded, cache)
        cached = time.perf_counter() - t0
        print(f"network load, cached (read + world):                  {cached:7.2f} s"
              f"   [target < 5 s]")
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges ({net.source})")

    s = world.scenario
    t0 = time.perf_counter()
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    gen = time.perf_counter() - t0
    print(f"incidents: {len(inc):,} over {args.days:g} days, generated in {gen:.2f} s")

    ref_s, n = reference_rate(world, args.layout, inc)
    ref_rate = n / ref_s
    print(f"reference (bare SimPy, matrix lookup):  {ref_rate:10,.0f} incidents/s ({ref_s:.2f} s)")

    # like the reference, whose travel-time matrix is built before its clock starts, the engine's
    # set-up (post tables per period, loop rows: built once per layout and cached) is timed apart
    t0 = time.perf_counter()
    engine = Engine(world, args.layout, inc, presence=False)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = engine.run()
    full_s = time.perf_counter() - t0
    full_rate = n / full_s
    print(f"full engine set-up (first run of the layout): {setup_s:.2f} s")
    print(f"full engine (shifts, congestion, records, lazy positions, assignment log): "
          f"{full_rate:10,.0f} incidents/s ({full_s:.2f} s)")
    t0 = time.perf_counter()
    Engine(world, args.layout, inc, presence=True).run()
    pres_s = time.perf_counter() - t0
    print(f"full engine + presence sampling every {s.patrol.presence_sample / 60:g} min: "
          f"{n / pres_s:10,.0f} incidents/s ({pres_s:.2f} s)")
    print(f"ratio full / reference: {full_rate / ref_rate:.2f}   [target >= 0.33]; "
          f"with presence {n / pres_s / ref_rate:.2f}")
    print(f"Dijkstra searches during the run: {result.searches:,} "
          f"({result.searches / n:.3f} per incident)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory (RSS): {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
