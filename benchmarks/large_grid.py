#!/usr/bin/env python3
"""A large grid city for the scale benchmark: about 100,000 road nodes as OSM XML, with a scenario.

Writes, into ``--out`` (default ``benchmarks/out/large_grid``):

- ``large_grid.osm``: a rectangular grid of two-way streets over the default scenario's frame
  (14 km x 10 km around central Shaoyang), every 8th street a primary road, the others
  residential; node ids row-major from 1;
- ``large_grid.yaml``: the default scenario with its network replaced by that file, so that its
  platforms, key locations and hotspots land on the grid.

Then loads the network twice (cold: osmnx and the build; cached), printing the times and peak
memory against the targets (cached load under 3 s, peak memory under 2 GB), and, unless
``--no-engine``, runs ``bench_engine.py`` on it for the engine ratio per layout.

Usage: python benchmarks/large_grid.py [--nodes 100000] [--out DIR] [--days 365] [--no-engine]
                                       [--layout NAME ...]
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.network.synth import M_PER_DEG_LAT, M_PER_DEG_LON, ORIGIN_LAT, ORIGIN_LON
from sim.scenario import DEFAULT_SCENARIO, load_scenario

WIDTH_M, HEIGHT_M = 14_000.0, 10_000.0
"""The default scenario's frame."""


def grid_shape(nodes: int) -> tuple[int, int, float]:
    """Columns, rows and spacing (m) of a grid of about ``nodes`` nodes over the frame."""
    spacing = math.sqrt(WIDTH_M * HEIGHT_M / nodes)
    return round(WIDTH_M / spacing) + 1, round(HEIGHT_M / spacing) + 1, spacing


def write_grid(path: Path, nx: int, ny: int, spacing: float) -> int:
    """Write the grid as OSM XML; returns the number of nodes."""
    x0, y0 = -(nx - 1) * spacing / 2, -(ny - 1) * spacing / 2
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="large_grid">']
    for j in range(ny):
        lat = ORIGIN_LAT + (y0 + j * spacing) / M_PER_DEG_LAT
        for i in range(nx):
            lon = ORIGIN_LON + (x0 + i * spacing) / M_PER_DEG_LON
            lines.append(f'<node id="{j * nx + i + 1}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    wid = 1
    for j in range(ny):
        refs = "".join(f'<nd ref="{j * nx + i + 1}"/>' for i in range(nx))
        kind = "primary" if j % 8 == 0 else "residential"
        lines.append(f'<way id="{wid}" version="1">{refs}<tag k="highway" v="{kind}"/></way>')
        wid += 1
    for i in range(nx):
        refs = "".join(f'<nd ref="{j * nx + i + 1}"/>' for j in range(ny))
        kind = "primary" if i % 8 == 0 else "residential"
        lines.append(f'<way id="{wid}" version="1">{refs}<tag k="highway" v="{kind}"/></way>')
        wid += 1
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return nx * ny


def write_scenario(path: Path, osm_name: str) -> None:
    """The default scenario on the grid: only the network section changes."""
    data = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    speeds = data["network"].get("speeds", {})
    data["network"] = {"source": "file", "path": osm_name, "speeds": speeds}
    data["name"] = "large_grid"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _load_only(scenario: Path, cache: Path) -> int:
    """Load the network once; print seconds, peak RSS (MB), nodes and edges."""
    from sim.study.experiment import load_net

    loaded = load_scenario(scenario)
    t0 = time.perf_counter()
    net = load_net(loaded, cache)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(seconds, peak_mb, net.n_nodes, net.n_edges)
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--load-only":
        return _load_only(Path(sys.argv[2]), Path(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "large_grid")
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--no-engine", action="store_true")
    ap.add_argument("--layout", action="append", default=None)
    args = ap.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    nx, ny, spacing = grid_shape(args.nodes)
    osm, scenario = args.out / "large_grid.osm", args.out / "large_grid.yaml"
    t0 = time.perf_counter()
    n = write_grid(osm, nx, ny, spacing)
    write_scenario(scenario, osm.name)
    print(f"grid {nx} x {ny} = {n:,} nodes, {spacing:.1f} m apart; written in "
          f"{time.perf_counter() - t0:.1f} s: {osm}")
    cache = args.out / "cache"
    # the cold load starts from an empty network cache, on every run (a cache left by the last
    # run would answer it at once); the world's tables beside it (cache/tables, which the
    # engine benchmark reads and a rebuilt network keeps valid) stay
    shutil.rmtree(cache / "networks", ignore_errors=True)
    for label in ("cold (osmnx + build)", "cached"):  # each in a fresh process: its own peak
        out = subprocess.run([sys.executable, __file__, "--load-only", str(scenario), str(cache)],
                             capture_output=True, text=True, check=True).stdout.split()
        seconds, peak_mb, nodes, edges = float(out[0]), float(out[1]), int(out[2]), int(out[3])
        target = "   [target < 3 s, peak < 2 GB]" if label == "cached" else ""
        print(f"load, {label:22s} {seconds:7.2f} s, peak memory {peak_mb:,.0f} MB{target}")
    print(f"network: {nodes:,} nodes, {edges:,} edges")
    if args.no_engine:
        return 0
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--scenario", str(scenario),
           "--days", f"{args.days:g}", "--skip-cold", "--cache-dir", str(cache)]
    for layout in args.layout or ():
        cmd += ["--layout", layout]
    print("engine:", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
