#!/usr/bin/env python3
"""Soak test: at least a million incidents on the default network in one process, memory bounded.

Runs one layout of the default scenario replication after replication (each a fresh engine, its
incidents drawn from the named streams), checks every run's invariants, and streams the records to
one CSV file as each replication finishes, so memory does not grow with the number of incidents:
what is held at any time is one replication. Prints incidents, time, the records' size and
SHA-256, and memory: peak RSS, and the RSS after the first, second and last replication. Exits
with status 1 when the RSS after the last replication exceeds the RSS after the second by more
than 10% (memory that grows with the number of replications).

What grew before (about 9 MB a replication): every oracle kept the full reverse row and next
hops of every incident node a diverted unit's route was rebuilt for (``to_node`` was an
unbounded cache). It is now a bounded LRU; rows of posts and waypoints stay as they are used.

Each finished engine drops its pending SimPy events, which would otherwise keep it alive in a
reference cycle (callbacks that close over the engine) until Python's cyclic collector ran;
``gc.collect()`` after each replication is kept as a belt and braces, and ``--no-gc`` shows that
memory stays flat without it.

Usage: python benchmarks/soak.py [--incidents 1000000] [--days 365] [--layout grid_platforms_2017]
                                 [--out DIR] [--presence] [--no-gc]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.core import simulate
from sim.engine.invariants import check_result
from sim.scenario import DEFAULT_SCENARIO, load_scenario
from sim.study.experiment import RunOptions, apply_overrides, load_world
from sim.world.demand import generate_incidents


def rss_mb() -> float:
    """Current resident set size (MB), from /proc (Linux)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return math.nan


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KB on Linux


class _Sink:
    """Writes CSV text to a file and hashes it on the way."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.h = hashlib.sha256()
        self.bytes = 0

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self.h.update(data)
        self.bytes += len(data)
        self.fh.write(text)
        return len(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--incidents", type=float, default=1e6, help="incidents to simulate (at least)")
    p.add_argument("--days", type=float, default=365.0, help="days per replication")
    p.add_argument("--layout", default="grid_platforms_2017")
    p.add_argument("--out", type=Path, default=None, help="folder for records.csv (default: temporary)")
    p.add_argument("--presence", action="store_true", help="also sample patrol presence")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--no-gc", dest="gc", action="store_false",
                   help="do not collect garbage after each replication (shows the cycles' cost)")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    loaded = apply_overrides(load_scenario(DEFAULT_SCENARIO),
                             RunOptions(layouts=(args.layout,), duration_s=args.days * 86400.0))
    net, world = load_world(loaded, args.cache_dir)
    s = world.scenario
    fleet = world.fleets[args.layout]
    t_load = time.perf_counter() - t0
    rss_loaded = rss_mb()
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges; layout {args.layout}: "
          f"{len(fleet)} units; loaded in {t_load:.1f} s; RSS {rss_loaded:.0f} MB", flush=True)

    tmp = None
    if args.out is None:
        tmp = tempfile.TemporaryDirectory(prefix="soak-")
        out = Path(tmp.name)
    else:
        out = args.out
        out.mkdir(parents=True, exist_ok=True)
    path = out / "records.csv"
    total = 0
    rep = 0
    rss_first = rss_second = math.nan
    t_sim = t_check = t_write = 0.0
    t1 = time.perf_counter()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        sink = _Sink(fh)
        while total < args.incidents:
            ta = time.perf_counter()
            inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=rep,
                                     weights=world.weights)
            res = simulate(world, args.layout, inc, rep, presence=args.presence)
            tb = time.perf_counter()
            check_result(res, fleet, expected_incidents=len(inc), horizon_s=inc.horizon_s,
                         warmup_s=s.run.warmup)
            tc = time.perf_counter()
            res.records.write_csv(sink, header=rep == 0)
            fh.flush()
            td = time.perf_counter()
            t_sim, t_check, t_write = t_sim + tb - ta, t_check + tc - tb, t_write + td - tc
            total += len(inc)
            del inc, res
            if args.gc:
                gc.collect()  # an engine holds reference cycles (SimPy callbacks): free it now
            if rep == 0:
                rss_first = rss_mb()
            if rep == 1:
                rss_second = rss_mb()
            rep += 1
            print(f"  replication {rep:3d}: {total:>9,} incidents, {time.perf_counter() - t1:6.1f} s, "
                  f"RSS {rss_mb():.0f} MB", flush=True)
    elapsed = time.perf_counter() - t1
    rss_last = rss_mb()
    print(f"\n{total:,} incidents in {rep} replications of {args.days:g} days, one process, "
          f"{elapsed:.1f} s ({total / elapsed:,.0f} incidents/s: engine {t_sim:.1f} s, invariants "
          f"{t_check:.1f} s, CSV {t_write:.1f} s)")
    print(f"records: {path} ({sink.bytes / 1e6:.0f} MB, sha256 {sink.h.hexdigest()[:16]}...)")
    print(f"memory: peak RSS {peak_rss_mb():.0f} MB; RSS after loading {rss_loaded:.0f} MB, after the "
          f"first replication {rss_first:.0f} MB, after the last {rss_last:.0f} MB")
    if tmp is not None:
        tmp.cleanup()
    if rep >= 2 and rss_last > 1.10 * rss_second:
        print(f"FAIL: memory grows: RSS after the last replication ({rss_last:.0f} MB) is more than "
              f"10% above the RSS after the second ({rss_second:.0f} MB)")
        return 1
    print(f"memory flat: last replication {rss_last:.0f} MB against {rss_second:.0f} MB after the "
          f"second (limit +10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
