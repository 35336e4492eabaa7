#!/usr/bin/env python3
"""Engine benchmark: one simulated year of the default scenario against a minimal reference.

Prints, all measured in this run:

- network load time, cold (empty cache: generate + osmnx + build) and cached;
- for every layout of the run list: incidents simulated per second by the full engine for one
  year, with presence sampling, shifts, congestion and patrols on, as ``make run`` runs them;
- the same for a minimal reference measured on the same network and incidents: a bare SimPy loop
  that sends the nearest idle unit using a precomputed numpy travel-time matrix from the posts,
  with units teleporting home after each job and a plain FIFO queue;
- the ratio full / reference per layout (target: at least 0.5), the travel-time searches the
  engine ran (Dijkstra rows and goal-directed point-to-point searches), and peak memory (RSS).

Usage: python benchmarks/bench_engine.py [--days 365] [--layout NAME ...] [--skip-cold] [--rounds 3]
       [--scenario FILE]
"""

from __future__ import annotations

import argparse
import math
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

from sim.engine.core import simulate
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


def _resident_now() -> str:
    """What is resident now, split into this process's own memory and the pages of mapped
    files (the stored tables: shared with other processes, and the system may drop them), where
    the system tells (Linux)."""
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        own, files = (int(status[k].split()[0]) / 1024.0 for k in ("RssAnon", "RssFile"))
    except (OSError, KeyError, ValueError):
        return ""
    return f"; resident at the end: {own:,.0f} MB own, {files:,.0f} MB of mapped files"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--layout", action="append", default=None,
                    help="a layout to time (repeatable; default: every layout of the run list)")
    ap.add_argument("--skip-cold", action="store_true", help="do not time a cold network load")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the reference and the engine, taking turns; each one's best "
                         "time counts (default 3)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="network cache for --skip-cold (default: the user's cache)")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO),
                    help="scenario file (default: the default scenario)")
    args = ap.parse_args()

    loaded = apply_overrides(load_scenario(Path(args.scenario)),
                             RunOptions(duration_s=args.days * 86400.0))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        if args.skip_cold:
            cache = args.cache_dir  # the user's cache (or the one given): already warm
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
    print(f"presence sampling every {s.patrol.presence_sample / 60:g} min, shifts, congestion "
          f"periods: {world.n_periods - 1}, as `make run` runs each piece (simulate())")
    layouts = args.layout or list(s.run.layouts)
    worst = math.inf
    for layout in layouts:
        # the first run of a layout builds its one-time tables (post tables per period, loop
        # rows, landmarks); like the reference's matrix, they are timed apart
        t0 = time.perf_counter()
        result = simulate(world, layout, inc, 0)
        first_s = time.perf_counter() - t0
        world.store_rows()  # as a study does after each piece: the next process reads them
        # the machine may be shared, with slow spells of a few seconds: the reference and the
        # engine take turns, --rounds times, and each one's best time counts
        ref_s = full_s = math.inf
        n = len(inc)
        for _ in range(args.rounds):
            one, n = reference_rate(world, layout, inc)
            ref_s = min(ref_s, one)
            t0 = time.perf_counter()
            result = simulate(world, layout, inc, 0)
            full_s = min(full_s, time.perf_counter() - t0)
        ref_rate = n / ref_s
        ratio = n / full_s / ref_rate
        worst = min(worst, ratio)
        print(f"{layout:32s} reference {ref_rate:9,.0f}/s   engine {n / full_s:9,.0f}/s "
              f"({full_s:5.2f} s; first run {first_s:5.2f} s)   ratio {ratio:.2f} [target >= 0.5]"
              f"   searches: Dijkstra {result.searches:,}, goal-directed {result.goal_searches:,}")
    print(f"worst ratio: {worst:.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory (RSS): {peak_mb:,.0f} MB{_resident_now()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
