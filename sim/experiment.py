"""Layouts x replications: the experiment layer on top of the engine.

In replication ``r`` every layout sees the same incidents (drawn once from the named streams of
``(seed, r)``): common random numbers, so layouts are compared pair by pair. Tasks run in a local
process pool; each worker prepares the world once from the on-disk network cache (the world is
not pickled into every task). Results are gathered in a fixed order, so they are identical for any
number of workers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .config import LoadedScenario, Scenario, ScenarioError, load_scenario
from .demand import IncidentSet, generate_incidents
from .engine import simulate
from .metrics import replication_metrics, summarise
from .network.graph import RoadNetwork
from .network.load import NetworkSourceError, load_network
from .quantities import format_duration
from .records import RecordTable, check_invariants
from .world import World, prepare_world

__all__ = ["RunOptions", "BatchResult", "apply_overrides", "load_world", "run_batch"]


@dataclass(frozen=True)
class RunOptions:
    """What to run: which layouts, how many replications, the seed and the run length.

    ``None`` means "as the scenario says".
    """

    layouts: tuple[str, ...] | None = None
    replications: int | None = None
    seed: int | None = None
    duration_s: float | None = None
    workers: int = 1
    cache_dir: Path | None = None


@dataclass
class BatchResult:
    """Everything a batch produced, in a fixed order (layouts as listed, then replications)."""

    scenario: Scenario
    layouts: list[str]
    replications: int
    seed: int
    records: RecordTable
    per_replication: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    incidents_simulated: int = 0


def apply_overrides(loaded: LoadedScenario, opts: RunOptions) -> LoadedScenario:
    """The scenario with command-line overrides applied (and re-checked)."""
    s = loaded.scenario
    run_update: dict[str, Any] = {}
    if opts.duration_s is not None:
        if opts.duration_s <= s.run.warmup:
            raise ScenarioError(
                f"--days gives a run of {format_duration(opts.duration_s)}, not longer than the "
                f"warm-up ({format_duration(s.run.warmup)})", file=loaded.path, loc=("run", "warmup"),
                line=loaded.lines.get(("run", "warmup")))
        run_update["duration"] = opts.duration_s
    if opts.replications is not None:
        run_update["replications"] = opts.replications
    if opts.seed is not None:
        run_update["seed"] = opts.seed
    if opts.layouts:
        for name in opts.layouts:
            if name not in s.layouts:
                raise ScenarioError(f"--layout {name}: no such layout; layouts: {', '.join(s.layouts)}",
                                    file=loaded.path, loc=("layouts",), line=loaded.lines.get(("layouts",)))
        run_update["layouts"] = list(opts.layouts)
        if s.run.baseline not in opts.layouts:
            run_update["baseline"] = None
    if not run_update:
        return loaded
    scenario = s.model_copy(update={"run": s.run.model_copy(update=run_update)})
    return LoadedScenario(scenario=scenario, path=loaded.path, text=loaded.text, lines=loaded.lines)


def load_world(loaded: LoadedScenario, cache_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> tuple[RoadNetwork, World]:
    """Load the scenario's network (cached) and prepare its world for the layouts to run.

    A network that cannot be had is reported against the scenario's ``network`` key and line.
    """
    spec = loaded.scenario.network
    try:
        net = load_network(spec.model_dump(), base_dir=loaded.path.parent, cache_dir=cache_dir,
                           progress=progress)
    except NetworkSourceError as exc:
        key = {"file": "path", "place": "place", "bbox": "bbox"}.get(spec.source, "source")
        raise loaded.error(("network", key), f"road network: {exc}") from None
    return net, prepare_world(loaded, net)


def _run_one(world: World, layout: str, incidents: IncidentSet, rep: int
             ) -> tuple[RecordTable, list[dict[str, Any]], int]:
    result = simulate(world, layout, incidents, rep)
    check_invariants(result.records)
    rows = replication_metrics(result.records, result.unit_busy_s, result.window_s)
    for row in rows:
        row["layout"] = layout
        row["replication"] = rep
    return result.records, rows, len(incidents)


# -- worker processes ---------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(path: str, opts: RunOptions) -> None:
    loaded = apply_overrides(load_scenario(path), opts)
    _, world = load_world(loaded, opts.cache_dir)
    _WORKER.update(loaded=loaded, world=world, rep=None, incidents=None)


def _worker_task(rep: int, layout: str) -> tuple[RecordTable, list[dict[str, Any]], int]:
    world: World = _WORKER["world"]
    if _WORKER["rep"] != rep:
        s = world.scenario
        _WORKER["incidents"] = generate_incidents(s, world.net, world.zones, seed=s.run.seed,
                                                  replication=rep, weights=world.weights)
        _WORKER["rep"] = rep
    return _run_one(world, layout, _WORKER["incidents"], rep)


def run_batch(loaded: LoadedScenario, world: World,
              progress: Callable[[int, int], None] | None = None, workers: int = 1,
              cache_dir: Path | None = None) -> BatchResult:
    """Run every layout of ``loaded`` (after overrides) for every replication.

    Parameters
    ----------
    world : the prepared world for ``loaded`` (used directly when ``workers == 1``).
    progress : called with (tasks done, tasks in all) after each task.
    workers : processes to use; 1 runs in this process.
    """
    s = loaded.scenario
    layouts = s.layout_names()
    reps = s.run.replications
    tasks = [(rep, layout) for rep in range(reps) for layout in layouts]
    t0 = time.perf_counter()
    results: dict[tuple[int, str], tuple[RecordTable, list[dict[str, Any]], int]] = {}
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        incidents: IncidentSet | None = None
        for k, (rep, layout) in enumerate(tasks):
            if incidents is None or k == 0 or tasks[k - 1][0] != rep:
                incidents = generate_incidents(s, world.net, world.zones, seed=s.run.seed,
                                               replication=rep, weights=world.weights)
            results[(rep, layout)] = _run_one(world, layout, incidents, rep)
            if progress:
                progress(k + 1, len(tasks))
    else:
        opts = RunOptions(layouts=tuple(layouts), replications=reps, seed=s.run.seed,
                          duration_s=s.run.duration, cache_dir=cache_dir)
        ctx = get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(str(loaded.path), opts)) as pool:
            futures = {pool.submit(_worker_task, rep, layout): (rep, layout) for rep, layout in tasks}
            done = 0
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                done += 1
                if progress:
                    progress(done, len(tasks))
    elapsed = time.perf_counter() - t0
    ordered = [(layout, rep) for layout in layouts for rep in range(reps)]
    tables = [results[(rep, layout)][0] for layout, rep in ordered]
    per_rep = [row for layout, rep in ordered for row in results[(rep, layout)][1]]
    n_inc = sum(results[(rep, layout)][2] for layout, rep in ordered)
    records = RecordTable.concat(tables)
    return BatchResult(scenario=s, layouts=layouts, replications=reps, seed=s.run.seed,
                       records=records, per_replication=per_rep, summary=summarise(per_rep),
                       timings={"simulate_s": elapsed}, incidents_simulated=n_inc)


def default_workers() -> int:
    """Worker processes to use by default: the machine's cores."""
    return max(1, os.cpu_count() or 1)


def records_checksum(records: RecordTable) -> str:
    """SHA-256 of the records as CSV text: identical runs give identical checksums."""
    text = records.to_csv()
    assert text is not None
    return hashlib.sha256(text.encode()).hexdigest()
