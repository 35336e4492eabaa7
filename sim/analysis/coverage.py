"""Coverage beside response times: static coverage of demand, and patrol presence (见警率).

- **Static coverage**: the share of demand (the incident-location weights) that some unit could
  reach within 1, 3 and 5 minutes (turnout included) if every unit waited at its post, by zone
  class. It needs no simulation, and is computed at free flow (no congestion period).
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

__all__ = ["presence_by_hour_rows", "presence_rows", "static_coverage", "write_coverage_tables"]

THRESHOLDS_S = (60.0, 180.0, 300.0)


def static_coverage(world: World, layout: str) -> list[dict[str, Any]]:
    """Share of demand within 1/3/5 minutes of the layout's posts, per zone class and overall,
    with free-flow driving times (congestion periods are left out)."""
    fleet = world.fleets[layout]
    disp = fleet.dispatchable
    if not disp.any():
        best = np.full(world.net.n_nodes, np.inf)
    else:
        best = (world.post_times(layout)[:, disp] + fleet.turnout_s[disp]).min(axis=1)
    rows = []
    for zi, zone in enumerate((*ZONE_CLASSES, "all")):
        sel = world.zones.zone == zi if zone != "all" else np.ones(world.net.n_nodes, dtype=bool)
        w = world.weights[sel]
        row: dict[str, Any] = {"layout": layout, "zone": zone, "demand_share": float(w.sum())}
        for t in THRESHOLDS_S:
            row[f"within_{int(t // 60)}_min"] = float(w[best[sel] <= t].sum() / w.sum()) \
                if w.sum() > 0 else math.nan
        rows.append(row)
    return rows


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
    """Write static_coverage.csv, presence.csv and presence_by_hour.csv into ``run_dir``."""
    tables = {
        "static_coverage": [r for lay in layouts for r in static_coverage(world, lay)],
        "presence": presence_rows(presence),
        "presence_by_hour": presence_by_hour_rows(presence),
    }
    for name, rows in tables.items():
        write_csv(Path(run_dir) / f"{name}.csv", rows)
    return tables


def coverage_summary(tables: dict[str, list[dict[str, Any]]]) -> str:
    """A few printed lines: static coverage and presence at key locations, per layout."""
    lines = [f"{'layout':<32} {'demand within 1/3/5 min of posts':>34} "
             f"{'police presence: key':>21} {'grids':>7} {'volunteers: key':>16}"]
    layouts = list(dict.fromkeys(r["layout"] for r in tables["static_coverage"]))
    for layout in layouts:
        st = next(r for r in tables["static_coverage"] if r["layout"] == layout and r["zone"] == "all")
        pres = [r for r in tables["presence"] if r["layout"] == layout]
        key = [r["police_presence"] for r in pres if r["kind"] == "key"]
        grid = [r["police_presence"] for r in pres if r["kind"] == "grid"]
        vol = [r["volunteer_presence"] for r in pres if r["kind"] == "key"]
        cov = f"{st['within_1_min']:.0%} / {st['within_3_min']:.0%} / {st['within_5_min']:.0%}"

        def pct(v: list[float]) -> str:
            return f"{np.mean(v):.0%}" if v else "n/a"

        lines.append(f"{layout:<32} {cov:>34} {pct(key):>21} {pct(grid):>7} {pct(vol):>16}")
    lines.append("Presence (见警率): share of time an on-air unit could reach the point within its "
                 "zone target (key locations 1 min; grid posts their zone's target).")
    return "\n".join(lines)
