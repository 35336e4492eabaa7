"""``optimize`` on a scenario, end to end: instance, solve, layouts, optional selection, files.

Writes to the output folder:

- ``optimized.yaml``: the scenario with the chosen layouts added (they ``extends`` the base
  layout), so ``run_sim.py compare optimized.yaml`` runs them against the base;
- ``optimize.json``: options, candidate counts, per solution the objective, bound, gap, status,
  model size, solve time and covered share per zone class, and the selection steps;
- ``optimize.csv``: one row per chosen site of each solution.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.fileio import write_csv
from sim.i18n import layout_name, tr
from sim.network.graph import RoadNetwork
from sim.optimize.candidates import (
    NetworkInstance,
    build_instance,
    filter_candidates,
    read_candidates_csv,
    reference_unit_type,
)
from sim.optimize.layouts import layout_entry, optimized_scenario, write_optimized
from sim.optimize.models import MCLP, DailyMobileMCLP, MobileMCLP, Solution, SolveError, nearest_open
from sim.optimize.solve import Problem, describe, solve_objective
from sim.scenario import ZONE_CLASSES, LoadedScenario, ScenarioError
from sim.study.experiment import load_world
from sim.world.prepare import World

__all__ = ["OptimizeOptions", "default_base", "optimize_scenario"]


@dataclass(frozen=True)
class OptimizeOptions:
    """The ``optimize`` command's options (see ``run_sim.py optimize --help``); times in s,
    distances in m, ``delta`` a share (0.01 = 1 percentage point)."""

    objective: str = "coverage"
    platforms: int | None = None
    keep: str | None = None
    base: str | None = None
    candidates: str = "nodes"
    spacing_m: float = 300.0
    candidate_zones: tuple[str, ...] = ZONE_CLASSES
    unit_type: str | None = None
    period: str | None = None
    shares: list[str] | None = None
    capacity: float | None = None
    fair_by: str = "zone"
    time_limit: float = 60.0
    limit_s: float | None = None
    demand_cell_m: float = 0.0
    simulate: int | None = None
    delta: float = 0.01
    pcs: float = 0.95
    n0: int = 10
    max_reps: int = 200
    days: float | None = None
    cache_dir: Path | None = None
    by_period: bool = False
    move_limit_s: float = 600.0
    max_moves_per_day: int | None = None


def default_base(loaded: LoadedScenario, unit_type: str) -> str:
    """The layout new ones extend: the first run layout whose platforms carry ``unit_type``."""
    s = loaded.scenario
    for name in s.layout_names():
        if any(p.units.get(unit_type, 0) > 0 for p in s.layouts[name].platforms):
            return name
    return s.layout_names()[0]


def _shares(loaded: LoadedScenario, items: list[str] | None) -> list[float] | None:
    if not items:
        return None
    out = [0.0] * len(ZONE_CLASSES)
    for item in items:
        zone, _, value = item.partition("=")
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if zone.strip() not in ZONE_CLASSES or not 0 < share <= 1:
            raise ScenarioError(f"--share {item!r}: write ZONE=SHARE with a zone of "
                                f"{', '.join(ZONE_CLASSES)} and a share in (0, 1], e.g. central=0.9")
        out[ZONE_CLASSES.index(zone.strip())] = share
    return out


def _grid_groups(loaded: LoadedScenario, base: str, net: RoadNetwork, demand: np.ndarray
                 ) -> tuple[np.ndarray, list[str]]:
    """Grid of each demand node: the grid of the base layout's nearest platform (straight line)."""
    platforms = loaded.scenario.layouts[base].platforms
    grids = sorted({p.grid or p.name for p in platforms})
    px, py = net.frame.to_local([p.lon for p in platforms], [p.lat for p in platforms])
    d = np.hypot(net.x[demand][:, None] - np.asarray(px)[None, :],
                 net.y[demand][:, None] - np.asarray(py)[None, :])
    nearest = np.argmin(d, axis=1)
    label = np.array([grids.index(platforms[k].grid or platforms[k].name) for k in nearest], dtype=np.int64)
    return label, grids


def optimize_scenario(loaded: LoadedScenario, opts: OptimizeOptions, out: Path,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Solve ``opts.objective`` on the scenario, write the output files, and return the report."""
    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    s = loaded.scenario
    if opts.keep is not None and opts.keep not in s.layouts:
        raise loaded.error(("layouts",),
                           f"--keep {opts.keep}: no such layout; layouts: {', '.join(s.layouts)}")
    net, world = load_world(loaded, opts.cache_dir, progress=say)
    ut = reference_unit_type(loaded, opts.unit_type)
    base = opts.keep or opts.base or default_base(loaded, ut)
    if base not in s.layouts:
        raise loaded.error(("layouts",), f"--base {base}: no such layout; layouts: {', '.join(s.layouts)}")
    counts: dict[str, Any]
    if opts.candidates == "nodes":
        unknown = [z for z in opts.candidate_zones if z not in ZONE_CLASSES]
        if unknown:
            raise ScenarioError(f"--candidate-zones: unknown zone class {unknown[0]!r}; zone classes: "
                                f"{', '.join(ZONE_CLASSES)}")
        nodes, counts = filter_candidates(loaded, world, spacing_m=opts.spacing_m, zones=opts.candidate_zones)
        names = [f"node {net.osmid[n]}" for n in nodes]
    else:
        nodes, names = read_candidates_csv(Path(opts.candidates), loaded, net)
        counts = {"candidates": len(nodes), "file": opts.candidates}
    keep_nodes = keep_names = None
    if opts.keep:
        keep_nodes = world.fleets[opts.keep].platform_nodes
        keep_names = [p.name for p in s.layouts[opts.keep].platforms]
    say(f"candidates: {counts['candidates']:,} sites ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    inst = build_instance(loaded, world, nodes, names, unit_type=ut, period=opts.period,
                          keep_nodes=keep_nodes, keep_names=keep_names, limit_s=opts.limit_s,
                          demand_cell_m=opts.demand_cell_m)
    say(f"travel times: {inst.unit_type} (turnout included), {inst.period}; {len(inst.matrix.cost):,} "
        f"site-demand pairs within {inst.limit_s:g} s, {inst.matrix.n_demand:,} demand points, "
        f"built in {inst.build_s:.1f} s")
    if opts.fair_by == "grid" and opts.objective == "fair":
        groups, group_names = _grid_groups(loaded, base, net, inst.demand)
    else:
        groups, group_names = inst.zone, list(ZONE_CLASSES)
    prob = Problem(inst.matrix, inst.weights, inst.targets, groups, group_names, fixed=inst.fixed,
                   shares=_shares(loaded, opts.shares))
    if opts.capacity is not None:
        template = s.layouts[base].platforms[0].units
        n_resp = sum(n for t, n in template.items() if s.unit_types[t].role == "response")
        prob.load = inst.weights / inst.weights.sum() * s.demand.incidents_per_day / 24.0
        prob.capacity = opts.capacity * n_resp
    try:
        solutions = [solve_objective(opts.objective, prob, opts.platforms, time_limit=opts.time_limit)]
        say(f"solved: {solutions[0].size_text()}, {solutions[0].solve_s:.1f} s, {solutions[0].status}")
        if opts.simulate and opts.simulate > 1:
            solutions += _next_best(prob, opts, solutions[0], say)
    except SolveError as exc:
        raise ScenarioError(f"optimize --objective {opts.objective}: {exc}", file=loaded.path) from None
    posts: dict[int, list[dict[str, Any]]] = {}
    periods_report: list[dict[str, Any]] = []
    if opts.by_period:
        if opts.keep:
            raise ScenarioError("--by-period moves every platform of the solution; use it without --keep")
        posts, periods_report = _posts_by_period(loaded, world, opts, nodes, names, ut, inst,
                                                 solutions[0], say)
    tag = opts.objective.replace("-", "_")
    layouts: dict[str, dict[str, Any]] = {}
    reports: list[dict[str, Any]] = []
    csv_rows: list[dict[str, Any]] = []
    for k, sol in enumerate(solutions):
        new = [int(i) for i in sol.sites if not (opts.keep and i in set(inst.fixed.tolist()))]
        count = len(new) if opts.keep else len(sol.sites)
        name = (f"{opts.keep}_plus_{count}_{tag}" if opts.keep else f"optimized_{tag}_{count}") + \
            (f"_{k + 1}" if len(solutions) > 1 else "")
        rep = describe(opts.objective, prob, sol)
        rep.update(layout=name, rank=k + 1)
        reports.append(rep)
        desc = (f"{opts.objective} optimum #{k + 1}: {count} {'new ' if opts.keep else ''}sites, covered "
                f"{rep['covered_share']:.1%} within target (static, {inst.period}, {ut})")
        rank = f" #{k + 1}" if len(solutions) > 1 else ""
        labels = [tr("o.label_keep" if opts.keep else "o.label_new", lang, n=count, objective=opts.objective,
                     rank=rank, base=layout_name(s, base, lang)) for lang in ("en", "zh")]
        layouts[name] = layout_entry(loaded, base, [int(inst.sites[i]) for i in new],
                                     [inst.site_names[i] for i in new], net, keep=bool(opts.keep),
                                     description=desc, posts_by_time=posts if k == 0 else None)
        layouts[name].update(label=labels[0][:80], label_zh=labels[1][:80])
        for i in sol.sites.tolist():
            csv_rows.append({"layout": name, "site": inst.site_names[i],
                             "node": int(net.osmid[inst.sites[i]]),
                             "lon": float(net.lon[inst.sites[i]]), "lat": float(net.lat[inst.sites[i]]),
                             "kept": bool(opts.keep and i in set(inst.fixed.tolist()))})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checked = write_optimized(out / "optimized.yaml", loaded, optimized_scenario(loaded, base, layouts))
    report: dict[str, Any] = {
        "scenario": str(loaded.path), "options": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in asdict(opts).items()},
        "base_layout": base, "unit_type": ut, "period": inst.period, "candidates": counts,
        "demand_points": int(inst.matrix.n_demand), "pairs": len(inst.matrix.cost),
        "matrix_build_s": inst.build_s, "static": reports, "by_period": periods_report}
    lines: list[str] = []
    if opts.simulate:
        from sim.optimize.simulate import ladder_coverage, select_by_simulation, selection_report

        candidates = list(dict.fromkeys([*layouts, *s.layout_names()]))
        say(f"simulating {len(candidates)} layouts with common random numbers ...")
        sel, sim_world = select_by_simulation(checked, net, candidates, delta=opts.delta, pcs=opts.pcs,
                                              n0=opts.n0, max_reps=opts.max_reps, days=opts.days,
                                              progress=say)
        static = {c: ladder_coverage(sim_world, c) for c in candidates}
        report["selection"], lines = selection_report(sel, candidates, static)
    change = layout_change(world, inst, base, solutions[0].sites, keep=bool(opts.keep))
    osm = [int(v) for v in net.osmid]  # road nodes by their OpenStreetMap id in the report
    report["change"] = {"old_layout": base, "new_layout": next(iter(layouts)), "map": "layout_change.png",
                        **{k: v for k, v in change.items() if not isinstance(v, (np.ndarray, list))},
                        "kept": [[osm[a], osm[b]] for a, b in change["kept"]],
                        "moved": [[osm[a], osm[b]] for a, b in change["moved"]],
                        "removed": [osm[a] for a in change["removed"]],
                        "new": [osm[b] for b in change["new"]]}
    report["total_s"] = time.perf_counter() - t_start
    report["lines"] = lines
    (out / "optimize.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, default=float) + "\n",
                                       encoding="utf-8")
    write_csv(out / "optimize.csv", csv_rows)
    report["change_data"] = {**change, "world": world}  # for the map (not in optimize.json)
    return report


def layout_change(world: World, inst: NetworkInstance, base: str, sites: np.ndarray, *, keep: bool
                  ) -> dict[str, Any]:
    """What the chosen ``sites`` (indices into ``inst.sites``) change against layout ``base``.

    Per road node, whether it is within its zone's target (turnout + driving in ``inst.period``)
    from the base's platforms (``before``) and from the chosen sites (``after``); the sites as
    kept / moved ``(old node, new node)`` pairs (matched one to one by least total straight-line
    distance; kept when under 100 m apart), removed old nodes and new nodes (with ``keep`` every
    old site is kept and the rest are new); and the demand-weighted shares gained and lost.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse.csgraph import dijkstra

    net = world.net
    scenario = world.scenario
    oracle = world.period_oracles[_period_pos(world, inst.period)][inst.unit_type]
    turnout = float(scenario.unit_types[inst.unit_type].turnout)
    target = world.zones.targets[world.zones.zone]
    reach = max(0.0, float(target.max()) - turnout)
    old = np.unique(np.asarray(world.fleets[base].platform_nodes, dtype=np.int64))
    new = np.unique(np.asarray(inst.sites[sites], dtype=np.int64))

    def within(nodes: np.ndarray) -> np.ndarray:
        t = dijkstra(oracle.forward, directed=True, indices=nodes, limit=reach, min_only=True)
        return np.asarray(t + turnout <= target + 1e-9, dtype=bool)

    before, after = within(old), within(new)
    kept: list[tuple[int, int]] = []
    moved: list[tuple[int, int]] = []
    if keep:
        kept = [(int(a), int(a)) for a in old]
        removed: list[int] = []
        added = [int(b) for b in new if b not in set(old.tolist())]
    else:
        d = np.hypot(net.x[old][:, None] - net.x[new][None, :], net.y[old][:, None] - net.y[new][None, :])
        rows, cols = linear_sum_assignment(d)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            (kept if d[r, c] < 100.0 else moved).append((int(old[r]), int(new[c])))
        removed = [int(old[r]) for r in range(len(old)) if r not in set(rows.tolist())]
        added = [int(new[c]) for c in range(len(new)) if c not in set(cols.tolist())]
    w = np.asarray(world.weights, dtype=float)
    return {"before": before, "after": after, "node_zone": world.zones.zone, "node_weight": w,
            "kept": kept, "moved": moved, "removed": removed, "new": added,
            "covered_before": float(w[before].sum() / w.sum()),
            "covered_after": float(w[after].sum() / w.sum()),
            "gained": float(w[after & ~before].sum() / w.sum()),
            "lost": float(w[before & ~after].sum() / w.sum()),
            "period": inst.period, "unit_type": inst.unit_type}


def _period_pos(world: World, period: str) -> int:
    names = [p.name for p in world.scenario.congestion.periods]
    return names.index(period) + 1 if period in names else 0


def _next_best(prob: Problem, opts: OptimizeOptions, first: Solution,
               say: Callable[[str], None]) -> list[Solution]:
    """The next ``simulate - 1`` best distinct site sets (coverage: each found set is cut off)."""
    if opts.objective != "coverage" or prob.capacity is not None:
        say(f"next-best solutions are found for --objective coverage only; simulating the "
            f"{opts.objective} optimum and the scenario's layouts")
        return []
    out: list[Solution] = []
    found = [first.sites]
    for _ in range(int(opts.simulate or 1) - 1):
        model = MCLP(prob.matrix, prob.weights, p=opts.platforms, targets=prob.targets, fixed=prob.fixed)
        model.exclude = [f[~np.isin(f, prob.fixed)] if len(prob.fixed) else f for f in found]
        try:
            sol = model.solve(time_limit=opts.time_limit, mip_gap=1e-4)
        except SolveError:
            break
        out.append(sol)
        found.append(sol.sites)
        say(f"  solution #{len(found)}: covered {sol.objective:.2%} ({sol.status}, {sol.solve_s:.1f} s)")
    return out


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _daily_posts(loaded: LoadedScenario, opts: OptimizeOptions, pinsts: list[NetworkInstance],
                 alloweds: list[list[np.ndarray]], home: Solution, say: Callable[[str], None]
                 ) -> list[tuple[Solution, np.ndarray]]:
    """Every period's posts at once with at most ``opts.max_moves_per_day`` moves a day per
    platform (:class:`~sim.optimize.models.DailyMobileMCLP`): each period weighs by its length,
    and a platform is home between periods that do not touch (out and back: two moves)."""
    periods = loaded.scenario.congestion.periods
    spans = [(_minutes(p.hours[0]), _minutes(p.hours[1])) for p in periods]
    length = [((b - a) % 1440) or 1440 for a, b in spans]
    gaps = [spans[t][1] % 1440 != spans[(t + 1) % len(spans)][0] % 1440 for t in range(len(spans))]
    model = DailyMobileMCLP([p.matrix for p in pinsts], [p.weights for p in pinsts],
                            [p.targets for p in pinsts], alloweds, home.sites, length, gaps,
                            int(opts.max_moves_per_day or 0))
    try:
        sols, where = model.solve(time_limit=opts.time_limit, mip_gap=1e-4)
    except SolveError as exc:
        raise ScenarioError(f"--by-period --max-moves {opts.max_moves_per_day}: {exc}",
                            file=loaded.path) from None
    say(f"posts for all periods at once, at most {opts.max_moves_per_day} moves a day per platform: "
        f"{model.objective:.1%} covered (time-weighted over the periods), {sols[0].status}")
    return [(sols[t], where[t]) for t in range(len(pinsts))]


def _posts_by_period(loaded: LoadedScenario, world: World, opts: OptimizeOptions, nodes: np.ndarray,
                     names: list[str], ut: str, inst: NetworkInstance, home: Solution,
                     say: Callable[[str], None]
                     ) -> tuple[dict[int, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Posts for each congestion period: every platform may move to a site within
    ``opts.move_limit_s`` of its home post (driving in that period), to cover that period's
    travel times best (:class:`~sim.optimize.models.MobileMCLP`)."""
    posts: dict[int, list[dict[str, Any]]] = {}
    rows = []
    net = world.net
    periods = loaded.scenario.congestion.periods
    pinsts, alloweds = [], []
    for pi, period in enumerate(periods, start=1):
        pinst = build_instance(loaded, world, nodes, names, unit_type=ut, period=period.name,
                               limit_s=opts.limit_s, demand_cell_m=opts.demand_cell_m)
        oracle = world.period_oracles[pi][ut]
        pinsts.append(pinst)
        alloweds.append([np.flatnonzero(oracle.from_node(int(inst.sites[h]))[pinst.sites]
                                        <= opts.move_limit_s) for h in home.sites])
    if opts.max_moves_per_day is not None:
        wheres = _daily_posts(loaded, opts, pinsts, alloweds, home, say)
    for t, (period, pinst) in enumerate(zip(periods, pinsts, strict=True)):
        if opts.max_moves_per_day is None:
            model = MobileMCLP(pinst.matrix, pinst.weights, targets=pinst.targets, allowed=alloweds[t])
            try:
                sol, where = model.solve(time_limit=opts.time_limit, mip_gap=1e-4)
            except SolveError as exc:
                raise ScenarioError(f"--by-period {period.name}: {exc}", file=loaded.path) from None
        else:
            sol, where = wheres[t]
        stay = nearest_open(pinst.matrix, home.sites)[1] <= pinst.targets + 1e-9
        stay_share = float(pinst.weights[stay].sum() / pinst.weights.sum())
        moved = 0
        for k, h in enumerate(home.sites):
            if where[k] != h:
                moved += 1
                node = int(pinst.sites[where[k]])
                posts.setdefault(k, []).append({"name": f"{period.name} post", "hours": list(period.hours),
                                                "lon": round(float(net.lon[node]), 6),
                                                "lat": round(float(net.lat[node]), 6)})
        rows.append({"period": period.name, "hours": list(period.hours), "covered_if_staying": stay_share,
                     "covered_with_moves": sol.objective, "platforms_moved": moved,
                     "max_moves_per_day": opts.max_moves_per_day,
                     "status": sol.status, "gap": sol.gap, "solve_s": sol.solve_s})
        say(f"{period.name}: covered {stay_share:.1%} staying, {sol.objective:.1%} with {moved} platform(s) "
            f"moved (at most {opts.move_limit_s / 60:g} min drive"
            + (f", {opts.max_moves_per_day} moves a day" if opts.max_moves_per_day is not None else "")
            + f"), {sol.status}")
    return posts, rows
