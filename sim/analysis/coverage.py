"""Coverage beside response times: static coverage of demand, and patrol presence (见警率).

- **Static coverage**: the share of demand (the incident-location weights) that some unit could
  reach within each of the scenario's zone targets (turnout included; 1, 3 and 5 minutes in the
  Shaoyang scenario) and within its own zone's target, if every unit waited at its post, by zone
  class. It needs no simulation, and is computed at free flow (no congestion period).
- **Per place** (``coverage_nodes.csv``): every road node, its zone, the post whose units reach it
  first, the response time from there (turnout plus driving, at free flow and in each congestion
  period), its zone's target and whether it is met; :func:`worst_places` names the places beyond
  their targets, worst first.
- **Presence**: from the engine's samples, the share of time each key location and each grid's
  post had a police unit (and, apart, a volunteer team) within its zone's target travel time,
  overall and by hour of day, as the mean over replications with a 95% CI.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.metrics import mean_ci
from sim.fileio import write_csv
from sim.scenario import ZONE_CLASSES
from sim.types import Presence
from sim.world.prepare import World

__all__ = ["coverage_node_rows", "presence_by_hour_rows", "presence_rows", "static_coverage",
           "thresholds", "worst_places", "write_coverage_tables"]


def thresholds(world: World) -> list[float]:
    """The distinct zone targets of the scenario (s), shortest first: the coverage thresholds."""
    return sorted({float(t) for t in world.scenario.zones.targets.values()})


def _threshold_name(t: float) -> str:
    return f"within_{t / 60:g}_min" if t % 60 == 0 else f"within_{t:g}_s"


def _best_response(world: World, layout: str, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the shortest turnout plus driving time (s) from a post of the layout's dispatchable
    units in congestion period ``period``, and the unit that gives it (-1: none)."""
    fleet = world.fleets[layout]
    disp = np.flatnonzero(fleet.dispatchable)
    if len(disp) == 0:
        return np.full(world.net.n_nodes, np.inf), np.full(world.net.n_nodes, -1)
    t = world.post_times(layout, period=period)[:, disp] + fleet.turnout_s[disp]
    k = np.argmin(t, axis=1)  # ties: the first unit in fleet order
    return t[np.arange(len(k)), k], disp[k]


def static_coverage(world: World, layout: str) -> list[dict[str, Any]]:
    """Share of demand within each zone target of the layout's posts and within each node's own
    zone target, per zone class and overall, with free-flow driving times."""
    best, _ = _best_response(world, layout)
    own = world.zones.targets[world.zones.zone]
    rows = []
    for zi, zone in enumerate((*ZONE_CLASSES, "all")):
        sel = world.zones.zone == zi if zone != "all" else np.ones(world.net.n_nodes, dtype=bool)
        w = world.weights[sel]
        total = float(w.sum())
        row: dict[str, Any] = {"layout": layout, "zone": zone, "demand_share": total}
        for t in thresholds(world):
            row[_threshold_name(t)] = float(w[best[sel] <= t].sum() / total) if total > 0 else math.nan
        row["within_zone_target"] = float(w[best[sel] <= own[sel]].sum() / total) \
            if total > 0 else math.nan
        rows.append(row)
    return rows


def coverage_node_rows(world: World, layout: str) -> list[dict[str, Any]]:
    """One row per road node: zone, nearest post, response times and whether the target is met.

    Columns: ``layout``, ``node`` (OSM id; negative for a node inserted at a scenario's place),
    ``lon``, ``lat``, ``zone``, ``key_location``, ``place`` (the scenario places at this node),
    ``demand_share``, ``nearest_post`` (the platform whose unit reaches the node first at free
    flow), ``unit``, ``response_s`` (turnout plus free-flow driving from that post), one
    ``response_<period>_s`` per congestion period (the best post in that period),
    ``target_s``, ``within_target`` (free flow) and ``within_target_<period>``.
    """
    net, fleet, s = world.net, world.fleets[layout], world.scenario
    best, unit = _best_response(world, layout)
    periods = [(p.name, _best_response(world, layout, i + 1)[0])
               for i, p in enumerate(s.congestion.periods)]
    target = world.zones.targets[world.zones.zone]
    keys = [k.name for k in s.zones.key_locations]
    at: dict[int, list[str]] = {}
    index = {int(o): i for i, o in enumerate(net.osmid)}
    for r in net.report.get("places", []):
        if r["kind"] in ("key location", "demand point") or f"layouts.{layout}." in r["key"]:
            names = at.setdefault(index[int(r["node"])], [])
            if r["name"] not in names:
                names.append(r["name"])
    rows = []
    for n in range(net.n_nodes):
        u = int(unit[n])
        row: dict[str, Any] = {
            "layout": layout, "node": int(net.osmid[n]), "lon": round(float(net.lon[n]), 7),
            "lat": round(float(net.lat[n]), 7), "zone": ZONE_CLASSES[int(world.zones.zone[n])],
            "key_location": keys[int(world.zones.key_location[n])]
            if world.zones.key_location[n] >= 0 else "",
            "place": "; ".join(at.get(n, [])), "demand_share": float(world.weights[n]),
            "nearest_post": fleet.platform_names[int(fleet.platform[u])] if u >= 0 else "",
            "unit": fleet.unit_name[u] if u >= 0 else "", "response_s": float(best[n]),
        }
        for name, times in periods:
            row[f"response_{name}_s"] = float(times[n])
        row["target_s"] = float(target[n])
        row["within_target"] = bool(best[n] <= target[n])
        for name, times in periods:
            row[f"within_target_{name}"] = bool(times[n] <= target[n])
        rows.append(row)
    return rows


def worst_places(rows: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """The nodes of ``coverage_node_rows`` beyond their target at free flow, worst first (by the
    ratio of response time to target; ties by node id), at most ``limit``."""
    beyond = [r for r in rows if not r["within_target"]]
    beyond.sort(key=lambda r: (-r["response_s"] / r["target_s"], r["node"]))
    return beyond[:limit]


def presence_rows(presence: dict[tuple[str, int], Presence]) -> list[dict[str, Any]]:
    """Per layout and point: the share of sampled time covered by police and by volunteers."""
    groups: dict[tuple[str, int], list[tuple[float, float]]] = {}
    meta: dict[tuple[str, int], Presence] = {}
    for (layout, _rep), p in presence.items():
        total = p.samples.sum()
        for k in range(len(p.names)):
            police = p.police[k].sum() / total if total else math.nan
            vols = p.volunteers[k].sum() / total if total else math.nan
            groups.setdefault((layout, k), []).append((police, vols))
            meta[(layout, k)] = p
    out = []
    for (layout, k), values in groups.items():
        p = meta[(layout, k)]
        m, lo, hi = mean_ci(v[0] for v in values)
        vm, vlo, vhi = mean_ci(v[1] for v in values)
        out.append({"layout": layout, "point": p.names[k], "kind": p.kinds[k],
                    "target_s": float(p.targets_s[k]), "police_presence": m,
                    "police_presence_ci_low": _clip(lo), "police_presence_ci_high": _clip(hi),
                    "volunteer_presence": vm, "volunteer_presence_ci_low": _clip(vlo),
                    "volunteer_presence_ci_high": _clip(vhi), "replications": len(values)})
    return out


def presence_by_hour_rows(presence: dict[tuple[str, int], Presence]) -> list[dict[str, Any]]:
    """Per layout, point kind (key or grid) and hour of day: mean presence over points and replications."""
    acc: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    for (layout, _rep), p in presence.items():
        for kind in ("key", "grid"):
            sel = np.array([k == kind for k in p.kinds], dtype=bool)
            if not sel.any():
                continue
            for h in range(24):
                if p.samples[h] == 0:
                    continue
                acc.setdefault((layout, kind, h), []).append(
                    (float(p.police[sel, h].mean() / p.samples[h]),
                     float(p.volunteers[sel, h].mean() / p.samples[h])))
    return [{"layout": layout, "kind": kind, "hour": h,
             "police_presence": float(np.mean([v[0] for v in vals])),
             "volunteer_presence": float(np.mean([v[1] for v in vals]))}
            for (layout, kind, h), vals in acc.items()]


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def write_coverage_tables(run_dir: Path, world: World, layouts: list[str],
                          presence: dict[tuple[str, int], Presence]) -> dict[str, list[dict[str, Any]]]:
    """Write static_coverage.csv, coverage_nodes.csv, presence.csv and presence_by_hour.csv into
    ``run_dir``."""
    tables = {
        "static_coverage": [r for lay in layouts for r in static_coverage(world, lay)],
        "coverage_nodes": [r for lay in layouts for r in coverage_node_rows(world, lay)],
        "presence": presence_rows(presence),
        "presence_by_hour": presence_by_hour_rows(presence),
    }
    for name, rows in tables.items():
        write_csv(Path(run_dir) / f"{name}.csv", rows)
    return tables


def coverage_summary(tables: dict[str, list[dict[str, Any]]]) -> str:
    """Printed lines: static coverage and presence at key locations per layout, then each
    layout's count of places beyond their target and the worst of them."""
    names = [k for k in (tables["static_coverage"][0] if tables["static_coverage"] else {})
             if k.startswith("within_") and k != "within_zone_target"]
    label = "/".join(n.removeprefix("within_").replace("_min", "").replace("_s", " s") for n in names)
    lines = [f"{'layout':<32} {'demand within ' + label + ' min of posts':>34} "
             f"{'police presence: key':>21} {'grids':>7} {'volunteers: key':>16}"]
    layouts = list(dict.fromkeys(r["layout"] for r in tables["static_coverage"]))
    for layout in layouts:
        st = next(r for r in tables["static_coverage"] if r["layout"] == layout and r["zone"] == "all")
        pres = [r for r in tables["presence"] if r["layout"] == layout]
        key = [r["police_presence"] for r in pres if r["kind"] == "key"]
        grid = [r["police_presence"] for r in pres if r["kind"] == "grid"]
        vol = [r["volunteer_presence"] for r in pres if r["kind"] == "key"]
        cov = " / ".join(f"{st[n]:.0%}" for n in names)

        def pct(v: list[float]) -> str:
            return f"{np.mean(v):.0%}" if v else "n/a"

        lines.append(f"{layout:<32} {cov:>34} {pct(key):>21} {pct(grid):>7} {pct(vol):>16}")
    lines.append("Presence (见警率): share of time an on-air unit could reach the point within its "
                 "zone target (key locations 1 min; grid posts their zone's target).")
    nodes = tables.get("coverage_nodes", [])
    if nodes:
        lines.append("\nPlaces beyond their zone target from the posts (free flow, turnout included; "
                     "every node in coverage_nodes.csv):")
        for layout in layouts:
            rows = [r for r in nodes if r["layout"] == layout]
            beyond = sum(not r["within_target"] for r in rows)
            worst = worst_places(rows, limit=1)
            text = f"  {layout:<30} {beyond:,} of {len(rows):,} nodes beyond target"
            if worst:
                w = worst[0]
                where = w["place"] or f"node {w['node']}" + (f" in {w['key_location']}"
                                                            if w["key_location"] else "")
                text += (f"; worst: {where} ({w['lon']:.5f}, {w['lat']:.5f}), {w['zone']}, "
                         f"{w['response_s'] / 60:.1f} min from {w['nearest_post'] or 'no post'} "
                         f"against {w['target_s'] / 60:g} min")
            lines.append(text)
    return "\n".join(lines)
