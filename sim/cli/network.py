"""``run_sim.py network SCENARIO [--near LON LAT]``: the scenario's road network as a planner
placing posts needs it: extent and size, what loading dropped and why, the bounding box as a
polygon to copy, the road and node nearest a point, and a quick map with a coordinate grid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.network.inspect import describe, nearest
from sim.scenario import load_scenario

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``network`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "network", help="describe a scenario's road network; find the road nearest a point",
        description="Load the scenario's road network (from the cache when it can) and print its "
                    "extent and size, what was dropped while loading and why, and its bounding box "
                    "as a polygon to copy into the scenario. With --near, the road and node nearest "
                    "a point. Writes a quick map with a longitude/latitude grid.")
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--near", nargs=2, type=float, action="append", metavar=("LON", "LAT"),
                   help="print the road and node nearest this point (repeat for several)")
    p.add_argument("--map", type=Path, default=None, metavar="FILE.png",
                   help="where to write the quick map (default: network_<scenario>.png here)")
    p.add_argument("--no-map", action="store_true", help="do not write the quick map")
    p.add_argument("--cache-dir", type=Path, default=None, help="network cache folder")
    p.set_defaults(handler=_cmd_network)


def _cmd_network(args: argparse.Namespace) -> int:
    from sim.study.experiment import load_net

    loaded = load_scenario(args.scenario)
    net = load_net(loaded, args.cache_dir, progress=lambda m: print(m, file=sys.stderr, flush=True))
    d = describe(net)
    lon0, lat0, lon1, lat1 = d["bbox"]
    print(f"network: {d['source']}")
    print(f"  size: {d['nodes']:,} nodes, {d['edges']:,} directed road links, "
          f"{sum(d['road_km'].values()):,.1f} km of links (a two-way street counts twice)")
    print(f"  extent: lon {lon0:.5f} to {lon1:.5f}, lat {lat0:.5f} to {lat1:.5f} "
          f"({d['width_km']:.1f} km x {d['height_km']:.1f} km)")
    print("  link km by class: " + ", ".join(f"{c} {km:,.1f}" for c, km in d["road_km"].items()))
    report = d["report"]
    if report:
        print("  loading kept and dropped: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int)
                                                         else f"{k.replace('_', ' ')} {v}"
                                                         for k, v in report.items()))
        print("  (roads that cars may not use are dropped, and nodes outside the largest strongly "
              "connected part, which no unit could both reach and leave)")
    ring = ", ".join(f"[{lon:.5f}, {lat:.5f}]" for lon, lat in d["polygon"])
    print(f"  bounding box as a polygon (e.g. zones.central_city):\n    [{ring}]")
    points = []
    for lon, lat in args.near or []:
        n = nearest(net, lon, lat)
        walk = ", on foot only" if n.foot_only else ""
        print(f"near ({lon:.5f}, {lat:.5f}):")
        print(f"  nearest road: a {n.road_class} link ({n.edge_length_m:.0f} m long{walk}), "
              f"{n.road_m:.0f} m away; closest point on it lon {n.point_on_road[0]:.5f}, "
              f"lat {n.point_on_road[1]:.5f}")
        print(f"  nearest node: #{n.node} (OSM id {n.node_osmid}) at lon {n.node_lon:.5f}, "
              f"lat {n.node_lat:.5f}, {n.node_m:.0f} m away")
        points.append((lon, lat, f"{lon:.5f}, {lat:.5f}"))
    if not args.no_map:
        from sim.viz.network_map import plot_network_grid
        from sim.viz.save import save_figure

        target = args.map or Path(f"network_{loaded.scenario.name}.png")
        fig, _ = plot_network_grid(net, points=points, title=f"{loaded.scenario.name}: {net.source}")
        (path,) = save_figure(fig, target.with_suffix(""), ("png",), dpi=130)
        print(f"map with a coordinate grid: {path}")
    return 0
