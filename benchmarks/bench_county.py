#!/usr/bin/env python3
"""County-scale benchmark: generate and load a synthetic county, and run the engine city-wide.

Prints, all measured in this run (a fresh temporary cache):

- for central Shaoyang (the reference) and for the synthetic county at ``--size``: nodes and
  edges, the time to generate the OSM file, the cold load (osmnx + build + cache write), the
  cached load (median of three), and one travel-time row of the CSR oracle (median of 20
  sources); the county's figures as ratios of the reference's;
- unless ``--engine-days 0``: incidents per second of the current engine on
  ``scenarios/shaoyang_city.yaml`` (whole-city network, 39 posts) against the bare-SimPy
  reference of ``bench_engine.py`` on the same incidents, and their ratio, for each layout of
  the run list (with the village officers inside the engine, and without them).

The county must load from the cache in seconds at 50,000+ nodes (``--size 12`` gives about
54,000). Usage: python benchmarks/bench_county.py [--size 12] [--engine-days 30]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim.network import synth, synth_county
from sim.network.load import load_network
from sim.network.oracle import TravelTimeOracle, edge_times

SPEEDS = {"tertiary": 12.5, "unclassified": 8.3, "track": 4.2, "default": 8.0}
"""Road speeds (m/s) for the oracle timing (any plausible profile: the timing does not depend on
it much)."""


def _time(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def measure(label: str, spec: dict, write, cache: Path) -> dict[str, float]:
    """Generate, cold-load, cached-load and one oracle row of one synthetic network."""
    gen_s, _ = _time(lambda: write(cache / f"{label}.osm"))
    cold_s, net = _time(lambda: load_network(spec, cache_dir=cache))
    cached_s, net = _time(lambda: load_network(spec, cache_dir=cache), repeat=3)
    oracle = TravelTimeOracle(net, edge_times(net, SPEEDS), lru_size=1)
    sources = np.random.default_rng(0).choice(net.n_nodes, 20, replace=False)
    row_s, _ = _time(lambda: [oracle.from_node(int(s)) for s in sources])
    fig = {"nodes": net.n_nodes, "edges": net.n_edges, "generate_s": gen_s, "cold_s": cold_s,
           "cached_s": cached_s, "row_ms": 1000.0 * row_s / len(sources)}
    print(f"{label}: {fig['nodes']:,} nodes, {fig['edges']:,} edges\n"
          f"    generate the OSM file {gen_s:7.2f} s | cold load (generate + osmnx + build) "
          f"{cold_s:7.2f} s\n    cached load {cached_s:6.3f} s | oracle row {fig['row_ms']:7.2f} ms")
    return fig


def engine_rate(days: float, cache: Path) -> None:
    """The current engine on the whole-city scenario, against the bare-SimPy reference."""
    from bench_engine import reference_rate

    from sim.engine.core import Engine
    from sim.scenario import load_scenario
    from sim.study.experiment import RunOptions, apply_overrides, load_world
    from sim.world.demand import generate_incidents

    loaded = apply_overrides(load_scenario(ROOT / "scenarios" / "shaoyang_city.yaml"),
                             RunOptions(duration_s=days * 86400.0))
    cold_s, (net, world) = _time(lambda: load_world(loaded, cache))
    cached_s, (net, world) = _time(lambda: load_world(loaded, cache))
    print(f"city network + world: {net.n_nodes:,} nodes; cold {cold_s:.1f} s, cached {cached_s:.2f} s")
    s = world.scenario
    layout = s.layout_names()[0]
    inc = generate_incidents(s, net, world.zones, seed=s.run.seed, replication=0, weights=world.weights)
    ref_s, n = reference_rate(world, layout, inc)
    # with the village officers, then without (rural.without_officers); twice, as the first
    # pass also fills the oracle's caches that every later run shares
    for when in ("first pass, cold caches", "second pass"):
        for name in s.layout_names():
            setup_s, engine = _time(lambda name=name: Engine(world, name, inc, presence=False))
            full_s, res = _time(engine.run)
            closed = int(res.records.columns["officer_closed"].sum())
            print(f"city engine ({when}), {days:g} days, {n:,} incidents, layout {name}: reference "
                  f"{n / ref_s:,.0f} incidents/s, full engine {n / full_s:,.0f} incidents/s "
                  f"(set-up {setup_s:.2f} s); ratio full / reference {ref_s / full_s:.2f}; "
                  f"{closed:,} jobs closed by village officers")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=float, default=12.0, help="county size (1: 50 x 50 km)")
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--engine-days", type=float, default=30.0, help="0 skips the engine run")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        ref = measure("central Shaoyang (reference)", {"source": "synthetic", "seed": args.seed,
                                                       "speeds": {"default": "18 km/h"}},
                      lambda p: synth.write_synthetic_shaoyang(p, args.seed), cache)
        spec = {"source": "synthetic", "synthetic": "county", "seed": args.seed, "size": args.size,
                "speeds": {"default": "30 km/h", "track": "15 km/h"}}
        county = measure(f"county, size {args.size:g}", spec,
                         lambda p: synth_county.write_synthetic_county(p, args.seed, args.size), cache)
        print("county / reference: " + ", ".join(
            f"{k} x{county[k] / ref[k]:.1f}" for k in ("nodes", "cold_s", "cached_s", "row_ms")))
        verdict = "OK" if county["cached_s"] < 5.0 else "SLOW"
        print(f"cached load of {county['nodes']:,} nodes: {county['cached_s']:.2f} s "
              f"[target: seconds, < 5 s] {verdict}")
        if args.engine_days > 0:
            engine_rate(args.engine_days, cache)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak memory (RSS): {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
