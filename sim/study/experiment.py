"""Variants x layouts x replications: the experiment layer on top of the engine.

- **Variants.** A scenario's ``sweep`` section defines a grid of factors (demand and speed
  multipliers, unit counts, any scalar by key path). Each combination is a named variant, built
  and validated up front. A plain run has one variant.
- **Common random numbers.** In replication ``r`` every layout and every variant sees the same
  incidents and the same service-time draws (drawn from the named streams of ``(seed, r)``; demand
  variants thin one shared set, see ``sim.world.demand``). Layouts are compared pair by pair.
- **Execution.** Each (variant, layout, replication) is one task, the *piece*. Pieces run in this
  process; with ``workers`` N, in this process and N - 1 local helper processes taking pieces
  from one queue; or on an existing Dask cluster (``scheduler``). A helper forked on Linux
  starts with this process's network and world; elsewhere, and on Dask, a worker prepares them
  once, from the on-disk cache. Only the task key travels. Pieces are assembled in a fixed
  order, so results are identical for any execution.
- **Resumable store.** With a store folder, each finished piece is written atomically as its own
  file; a study started again runs only the missing pieces, and a piece is never counted twice.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import pickle
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sim.analysis.metrics import replication_metrics, summarise
from sim.engine.core import simulate
from sim.engine.invariants import check_result
from sim.engine.policies import work_conserving
from sim.network.graph import RoadNetwork
from sim.network.load import NetworkSourceError, default_cache_dir, load_network
from sim.quantities import format_duration
from sim.scenario import LoadedScenario, ScenarioError, format_loc, load_scenario, validate_data
from sim.types import BatchResult, IncidentSet, Piece, RecordTable, Variant
from sim.world.checks import check_against_network
from sim.world.demand import generate_incidents
from sim.world.places import network_notes, places_to_keep
from sim.world.prepare import World, prepare_world

__all__ = [
    "BatchResult",
    "Piece",
    "PieceRunner",
    "RunOptions",
    "StudySpec",
    "StudyStore",
    "Variant",
    "apply_overrides",
    "build_variants",
    "default_workers",
    "load_net",
    "load_world",
    "run_batch",
    "run_study",
]


@dataclass(frozen=True)
class RunOptions:
    """Command-line overrides: which layouts, how many replications, the seed and the run length.

    ``None`` means "as the scenario says".
    """

    layouts: tuple[str, ...] | None = None
    replications: int | None = None
    seed: int | None = None
    duration_s: float | None = None
    cache_dir: Path | None = None








# -- scenario preparation ------------------------------------------------------------------------

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
    data = copy.deepcopy(loaded.data)
    data.setdefault("run", {}).update({k: v for k, v in run_update.items() if k != "duration"})
    if "duration" in run_update:
        data["run"]["duration"] = format_duration(run_update["duration"])
    return dataclasses.replace(loaded, scenario=scenario, data=data)


def load_world(loaded: LoadedScenario, cache_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> tuple[RoadNetwork, World]:
    """Load the scenario's network (cached) and prepare its world for the layouts to run.

    A network that cannot be had is reported against the scenario's ``network`` key and line.
    """
    net = load_net(loaded, cache_dir, progress)
    check_against_network(loaded, net)
    world = prepare_world(loaded, net, tables_dir=_tables_dir(cache_dir))
    if progress is not None:
        for line in network_notes(world.net):
            progress(line)
    return world.net, world


def _tables_dir(cache_dir: Path | None) -> Path:
    """Where a world's one-time tables are stored beside the network cache (shared by every
    process and sweep worker on the machine)."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "tables"


def load_net(loaded: LoadedScenario, cache_dir: Path | None,
              progress: Callable[[str], None] | None = None) -> RoadNetwork:
    spec = loaded.scenario.network
    points, osmids = places_to_keep(loaded)
    try:
        return load_network(spec.model_dump(), base_dir=loaded.path.parent, cache_dir=cache_dir,
                            progress=progress, keep_points=points, keep_osmids=osmids)
    except NetworkSourceError as exc:
        key = {"file": "path", "place": "place", "bbox": "bbox"}.get(spec.source, "source")
        raise loaded.error(("network", key), f"road network: {exc}") from None


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _set_path(data: Any, path: str, value: Any) -> None:
    parts: list[Any] = [int(m.group(2)) if m.group(2) else m.group(1) for m in _PATH_PART.finditer(path)]
    node = data
    for part in parts[:-1]:
        node = node[part]
    if isinstance(node, dict) and parts[-1] not in node:
        raise KeyError(parts[-1])
    node[parts[-1]] = value


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def build_variants(loaded: LoadedScenario, *, sweep: bool = True) -> list[Variant]:
    """Every combination of the sweep's factors, in a fixed order, each validated.

    Without a sweep (or with ``sweep=False``) there is one variant, named ``base``.
    """
    s = loaded.scenario
    if not sweep or s.sweep is None:
        return [Variant("base", {}, s, 1.0)]
    sw = s.sweep
    factors: list[tuple[str, tuple[Any, ...], list[Any]]] = [
        ("demand_multiplier", ("sweep", "demand_multiplier"), list(sw.demand_multiplier)),
        ("speed_multiplier", ("sweep", "speed_multiplier"), list(sw.speed_multiplier)),
    ]
    factors += [(f"units.{t}", ("sweep", "units", t), list(v)) for t, v in sw.units.items()]
    factors += [(k, ("sweep", "parameters", k), list(v)) for k, v in sw.parameters.items()]
    named = [f for f in factors if len(f[2]) > 1]
    out: list[Variant] = []
    for combo in itertools.product(*(f[2] for f in factors)):
        values = dict(zip((f[0] for f in factors), combo, strict=True))
        data = copy.deepcopy(loaded.data)
        data.pop("sweep", None)
        for (name, loc, _), value in zip(factors, combo, strict=True):
            if name.startswith("units."):
                utype = name.split(".", 1)[1]
                for layout in data["layouts"].values():
                    for p in layout["platforms"]:
                        if utype in p.get("units", {}):
                            p["units"][utype] = value
            elif name not in ("demand_multiplier", "speed_multiplier"):
                try:
                    _set_path(data, name, value)
                except (KeyError, IndexError, TypeError):
                    raise loaded.error(loc, f"'{name}' is not a key path of this scenario") from None
        try:
            v_loaded = validate_data(data, file=str(loaded.path), lines={}, text=loaded.text,
                                     path=loaded.path)
        except ScenarioError as exc:
            where = format_loc(exc.loc)
            raise loaded.error(named[0][1] if named else ("sweep",),
                               f"the variant {values} is not a valid scenario: {where}: {exc.message}"
                               ) from None
        scen = v_loaded.scenario
        m = float(values["speed_multiplier"])
        if m != 1.0:
            speeds = {k: v * m for k, v in scen.network.speeds.items()}
            scen = scen.model_copy(update={"network": scen.network.model_copy(update={"speeds": speeds})})
        scen = scen.model_copy(update={"run": s.run})
        name = ",".join(f"{f[0]}={_fmt_value(values[f[0]])}" for f in named) or "base"
        out.append(Variant(name, {f[0]: values[f[0]] for f in factors}, scen,
                           float(values["demand_multiplier"])))
    return out


# -- the piece runner (the same code in this process, a pool worker or a Dask worker) ----------------

@dataclass(frozen=True)
class StudySpec:
    """What a worker needs to rebuild everything from disk: small, cheap to send with every task."""

    scenario_path: str
    options: RunOptions
    sweep: bool
    incidents: Callable[[LoadedScenario, World, int], IncidentSet] | None = None
    """Optional incidents provider (e.g. a replayed call log, ``sim.history.replay.Replay``)
    used instead of generated demand: called with (scenario, world, replication)."""


class PieceRunner:
    """Runs the pieces (variant, layout, replication) of one study in this process: holds the
    network, variants and worlds (built on first use) and each replication's incidents, shared
    by every layout (common random numbers). The pool workers use one each; so does selection by
    simulation (``sim.optimize``), which asks for pieces one at a time."""

    def __init__(self, spec: StudySpec, loaded: LoadedScenario | None = None,
                 net: RoadNetwork | None = None) -> None:
        self.spec = spec
        if loaded is None:
            loaded = apply_overrides(load_scenario(spec.scenario_path), spec.options)
        self.loaded = loaded
        self.provider = spec.incidents
        self.variants = build_variants(loaded, sweep=spec.sweep)
        self.net = net if net is not None else load_net(loaded, spec.options.cache_dir)
        self.max_multiplier = max(v.demand_multiplier for v in self.variants)
        self.worlds: dict[int, World] = {}
        self.incidents: tuple[tuple[int, int], IncidentSet] | None = None
        self.lock = threading.Lock()

    def world(self, vi: int) -> World:
        if vi not in self.worlds:
            v = self.variants[vi]
            vloaded = dataclasses.replace(self.loaded, scenario=v.scenario)
            self.worlds[vi] = prepare_world(vloaded, self.net,
                                            tables_dir=_tables_dir(self.spec.options.cache_dir))
        return self.worlds[vi]

    def run(self, vi: int, layout: str, rep: int) -> Piece:
        with self.lock:  # Dask may run tasks in threads; the world's caches are not thread-safe
            world = self.world(vi)
            s = world.scenario
            if self.incidents is None or self.incidents[0] != (vi, rep):
                if self.provider is not None:
                    inc = self.provider(self.loaded, world, rep)
                else:
                    inc = generate_incidents(s, world.net, world.zones, seed=s.run.seed, replication=rep,
                                             weights=world.weights, model=world.demand,
                                             demand_multiplier=self.variants[vi].demand_multiplier,
                                             max_multiplier=self.max_multiplier)
                self.incidents = ((vi, rep), inc)
            incidents = self.incidents[1]
            result = simulate(world, layout, incidents, rep)
            world.store_rows()  # rows this run searched first, for the next processes
        check_result(result, world.fleets[layout], expected_incidents=len(incidents),
                     horizon_s=incidents.horizon_s, warmup_s=s.run.warmup,
                     work_conserving=work_conserving(world, layout))
        disp = result.dispatchable
        rows = replication_metrics(result.records, result.unit_busy_s[disp], result.unit_on_air_s[disp],
                                   result.unit_busy_off_air_s[disp])
        for row in rows:
            row.update(variant=self.variants[vi].name, layout=layout, replication=rep)
        return Piece(records=result.records, rows=rows, incidents=len(incidents),
                     presence=result.presence)


_STATES: dict[StudySpec, PieceRunner] = {}
_STATES_LOCK = threading.Lock()


def _state(spec: StudySpec) -> PieceRunner:
    with _STATES_LOCK:
        if spec not in _STATES:
            _STATES.clear()  # one study per process at a time
            _STATES[spec] = PieceRunner(spec)
        return _STATES[spec]


def run_piece(spec: StudySpec, vi: int, layout: str, rep: int) -> Piece:
    """Run one task; the entry point for pool and Dask workers."""
    return _state(spec).run(vi, layout, rep)


def run_piece_into(spec: StudySpec, store: StudyStore, vi: int, layout: str, rep: int) -> None:
    """:func:`run_piece` for a local helper: it saves the piece in ``store``, and only its
    completion crosses the pool's result pipe."""
    store.save(vi, layout, rep, run_piece(spec, vi, layout, rep))


# -- the store of finished pieces ----------------------------------------------------------------

class StudyStore:
    """Finished pieces on disk: ``<root>/pieces/v<variant>/<layout>/rep<r>.pkl``, written atomically.

    ``study.json`` holds the study's fingerprint; a folder holding another study is refused.
    With ``durable`` False pieces are not flushed to disk (a scratch store whose pieces are read
    back at once: local helpers hand theirs back through one).
    """

    def __init__(self, root: Path, fingerprint: dict[str, Any], *, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / "study.json"
        if meta.exists():
            old = json.loads(meta.read_text())
            if old != fingerprint:
                raise ScenarioError(f"{self.root} holds results of a different study (scenario, "
                                    "options or code changed); use a new --out folder")
        else:
            tmp = meta.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(fingerprint, indent=1, sort_keys=True))
            os.replace(tmp, meta)

    def path(self, vi: int, layout: str, rep: int) -> Path:
        return self.root / "pieces" / f"v{vi:03d}" / layout / f"rep{rep:05d}.pkl"

    def load(self, vi: int, layout: str, rep: int) -> Piece | None:
        p = self.path(vi, layout, rep)
        if not p.exists():
            return None
        try:
            with open(p, "rb") as fh:
                piece = pickle.load(fh)
            return piece if isinstance(piece, Piece) else None
        except Exception:  # a torn or foreign file: run the piece again
            return None

    def save(self, vi: int, layout: str, rep: int, piece: Piece) -> None:
        p = self.path(vi, layout, rep)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(piece, fh, protocol=pickle.HIGHEST_PROTOCOL)
            if self.durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, p)


# -- execution -----------------------------------------------------------------------------------

Task = tuple[int, str, int]


def _execute(spec: StudySpec, tasks: list[Task], *, workers: int, scheduler: str | None,
             store: StudyStore | None, local_state: PieceRunner | None,
             progress: Callable[[int, int], None] | None) -> dict[Task, Piece]:
    """Run ``tasks`` (skipping those already in ``store``) and return every piece."""
    out: dict[Task, Piece] = {}
    todo: list[Task] = []
    for t in tasks:
        piece = store.load(*t) if store is not None else None
        if piece is not None:
            out[t] = piece
        else:
            todo.append(t)
    total = len(tasks)

    def finished(t: Task, piece: Piece, *, saved: bool = False) -> None:
        out[t] = piece
        if store is not None and not saved:
            store.save(*t, piece)
        if progress:
            progress(len(out), total)

    if progress and out:
        progress(len(out), total)
    if not todo:
        return out
    if scheduler:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed

        with Client(scheduler, timeout="10s") as client:
            futures = {client.submit(run_piece, spec, *t, pure=False, key=f"piece-{t[0]}-{t[1]}-{t[2]}-"
                                     + hashlib.sha1(repr(spec).encode()).hexdigest()[:8]): t
                       for t in todo}
            for fut in dask_completed(futures):
                finished(futures[fut], fut.result())
    elif workers <= 1 or len(todo) == 1:
        state = local_state or _state(spec)
        with _long_lived_frozen():
            for t in todo:
                finished(t, state.run(*t))
    else:
        _run_with_helpers(spec, todo, helpers=min(workers, len(todo)) - 1,
                          state=local_state or _state(spec), store=store, finished=finished)
    return out


def _run_with_helpers(spec: StudySpec, todo: list[Task], *, helpers: int, state: PieceRunner,
                      store: StudyStore | None,
                      finished: Callable[..., None]) -> None:
    """Run ``todo`` in this process and in ``helpers`` local worker processes, which take their
    pieces from one queue.

    This process is a worker too: it holds the study's state already, warm, with nothing to copy
    and nothing to start. Between its own pieces it takes in the helpers' finished ones. A helper
    always has its next piece waiting (``ahead``), except at the end of the queue, where a piece
    waiting for a busy helper would leave this process idle.

    A helper does not send its piece back through the pool's pipe: it saves it (in ``store``, or
    a scratch store in a temporary folder, read and emptied here) and sends only that it is
    done. A piece is hundreds of kilobytes; read through the pipe by the pool's thread, which
    waits for the interpreter lock while this process simulates, it held each helper up for
    milliseconds. A helper killed while writing leaves a torn file, not a message half sent
    that the pool would wait for ever.
    """
    ahead = 2
    queue = collections.deque(todo)
    lock = threading.Lock()  # guards queue, running, done, broken and submitting
    running: dict[Future[None], Task] = {}
    done: collections.deque[tuple[Future[None], Task]] = collections.deque()
    broken = False
    submitting = 0  # pieces taken from the queue, not yet in running
    wake = threading.Event()  # a helper's piece is done
    ctx = _pool_context(spec, state)
    with contextlib.ExitStack() as stack:
        target = store if store is not None else StudyStore(
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="police-sim-pieces-"))), {},
            durable=False)
        stack.enter_context(_long_lived_frozen())
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=helpers, mp_context=ctx))

        def feed() -> None:
            """Give the helpers their next pieces: ``ahead`` each, one near the queue's end."""
            nonlocal broken, submitting
            while True:
                with lock:
                    room = (ahead if len(queue) > helpers + 1 else 1) * helpers
                    if broken or not queue or len(running) + submitting >= room:
                        return
                    t = queue.popleft()
                    submitting += 1
                try:  # (outside the lock: the pool's thread takes it in on_done)
                    fut = pool.submit(run_piece_into, spec, target, *t)
                except RuntimeError:  # the pool broke (a helper died): its futures say why
                    with lock:
                        queue.appendleft(t)
                        submitting -= 1
                        broken = True
                    return
                with lock:
                    submitting -= 1
                    running[fut] = t
                fut.add_done_callback(on_done)

        def on_done(fut: Future[None]) -> None:  # (in the pool's thread)
            with lock:
                done.append((fut, running.pop(fut)))
            if not fut.cancelled() and fut.exception() is None:
                feed()
            wake.set()

        def take_in() -> None:
            """Read the helpers' finished pieces."""
            while True:
                with lock:
                    if not done:
                        return
                    fut, t = done.popleft()
                fut.result()  # (a helper's error, or its death, is raised here)
                piece = target.load(*t)
                if piece is None:
                    raise RuntimeError(f"a worker finished piece {t} but its file "
                                       f"{target.path(*t)} cannot be read")
                if target is not store:
                    target.path(*t).unlink()
                finished(t, piece, saved=store is not None)

        feed()
        while True:
            take_in()
            with lock:
                own = queue.popleft() if queue else None
            if own is not None:
                finished(own, state.run(*own))
                feed()
                continue
            with lock:
                if not running and not done and not submitting:
                    break
                wake.clear()
                waiting = not done
            if waiting:
                wake.wait()
        # Every piece is in: the idle helpers exit while this process assembles the results
        # (about 30 ms of freeing their memory that nobody need wait for; on an error, the
        # with block waits for them as before)
        pool.shutdown(wait=False)


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Run the pieces with what this process holds already (network, worlds, the compiled
    code) out of the garbage collector's sight (:func:`gc.freeze`), and give it back after.

    None of it is garbage, yet each full collection walked all of it: 50-150 ms a study in
    this process, and as much in each forked worker, where walking an inherited object also
    copies its memory page (about 0.15-0.2 s a worker, measured, against 20-30 ms frozen).
    What the pieces allocate is collected as before; nothing a result depends on."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _pool_context(spec: StudySpec, state: PieceRunner | None) -> Any:
    """How local workers start. On Linux they are forked from this process after it has
    prepared the study's state (network, variants, worlds), so a worker starts warm: no imports,
    no network load, no world to prepare. Elsewhere they are spawned and build it themselves
    (one-time tables then come from the disk cache beside the network)."""
    if sys.platform.startswith("linux"):
        if state is not None:
            with _STATES_LOCK:
                _STATES.clear()
                _STATES[spec] = state  # inherited by the forked workers
        return get_context("fork")
    return get_context("spawn")


def _assemble(loaded: LoadedScenario, variants: list[Variant], layouts: list[str], reps: int,
              pieces: dict[Task, Piece], elapsed: float) -> BatchResult:
    ordered = [(vi, layout, rep) for vi in range(len(variants)) for layout in layouts
               for rep in range(reps)]
    s = loaded.scenario
    per_rep = [row for t in ordered for row in pieces[t].rows]
    summary = []
    for v in variants:
        rows = [r for r in per_rep if r["variant"] == v.name]
        for row in summarise(rows):
            summary.append({"variant": v.name, **row} if len(variants) > 1 else row)
    variant_records = [RecordTable.concat([pieces[t].records for t in ordered if t[0] == vi])
                       for vi in range(len(variants))]
    presence = {(t[1], t[2]): p for t in ordered
                if t[0] == 0 and (p := pieces[t].presence) is not None}
    return BatchResult(
        scenario=s, layouts=layouts, replications=reps, seed=s.run.seed, presence=presence,
        records=variant_records[0], variant_records=variant_records,
        per_replication=per_rep if len(variants) > 1 else [
            {k: v for k, v in r.items() if k != "variant"} for r in per_rep],
        summary=summary, timings={"simulate_s": elapsed},
        incidents_simulated=sum(pieces[t].incidents for t in ordered), variants=variants)


def run_batch(loaded: LoadedScenario, world: World,
              progress: Callable[[int, int], None] | None = None, workers: int = 1,
              cache_dir: Path | None = None, store_dir: Path | None = None,
              incidents: Callable[[LoadedScenario, World, int], IncidentSet] | None = None) -> BatchResult:
    """Run every layout of ``loaded`` (after overrides) for every replication, no sweep.

    ``world`` is the prepared world for ``loaded``, used directly in this process; with
    ``store_dir`` finished pieces are saved there and a second call resumes.
    """
    return run_study(loaded, sweep=False, workers=workers, store_dir=store_dir, cache_dir=cache_dir,
                     progress=progress, world=world, incidents=incidents)


def _options_of(loaded: LoadedScenario, cache_dir: Path | None) -> RunOptions:
    r = loaded.scenario.run
    return RunOptions(layouts=tuple(loaded.scenario.layout_names()), replications=r.replications,
                      seed=r.seed, duration_s=r.duration, cache_dir=cache_dir)


def study_fingerprint(loaded: LoadedScenario, sweep: bool) -> dict[str, Any]:
    """What identifies a study's pieces: the scenario text, the run settings and the code version."""
    from sim import __version__

    r = loaded.scenario.run
    return {"scenario_sha256": hashlib.sha256(loaded.text.encode()).hexdigest(),
            "layouts": loaded.scenario.layout_names(), "seed": r.seed, "duration_s": r.duration,
            "sweep": sweep, "version": __version__}


def run_study(loaded: LoadedScenario, *, sweep: bool, workers: int = 1, scheduler: str | None = None,
              store_dir: Path | None = None, cache_dir: Path | None = None,
              ci_target: float | None = None, max_reps: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              world: World | None = None,
              incidents: Callable[[LoadedScenario, World, int], IncidentSet] | None = None) -> BatchResult:
    """Run all variants (``sweep``) x layouts x replications, optionally until the CIs are narrow.

    Parameters
    ----------
    store_dir : folder for the resumable piece store (``None``: keep pieces in memory only).
    ci_target : stop adding replications once the 95% CI half-width of overall compliance is at
        most this (a share, e.g. 0.01 for 1 percentage point) for every variant and layout.
    max_reps : the most replications to run with ``ci_target``.
    """
    spec = StudySpec(str(loaded.path), _options_of(loaded, cache_dir), sweep=sweep, incidents=incidents)
    net = world.net if world is not None else load_net(loaded, cache_dir)
    state = PieceRunner(spec, loaded=loaded, net=net)
    if world is not None and not sweep:
        state.worlds[0] = world  # the one variant is the scenario itself
    variants = state.variants
    for vi in range(len(variants)):  # validate every variant's platforms before simulating
        state.world(vi)
    fingerprint = study_fingerprint(loaded, sweep)
    if incidents is not None:  # a replayed log: resuming with another log is another study
        fingerprint["incidents"] = getattr(incidents, "fingerprint", lambda: repr(incidents))()
    store = StudyStore(store_dir, fingerprint) if store_dir else None
    layouts = loaded.scenario.layout_names()
    reps = loaded.scenario.run.replications
    step = reps
    limit = max(reps, max_reps or reps)
    pieces: dict[Task, Piece] = {}
    t0 = time.perf_counter()
    while True:
        tasks = [(vi, layout, rep) for rep in range(reps) for vi in range(len(variants))
                 for layout in layouts]
        pieces.update(_execute(spec, [t for t in tasks if t not in pieces], workers=workers,
                               scheduler=scheduler, store=store, local_state=state, progress=progress))
        result = _assemble(loaded, variants, layouts, reps, pieces, time.perf_counter() - t0)
        if ci_target is None or reps >= limit or _widest_half_width(result.summary) <= ci_target:
            return result
        reps = min(limit, reps + step)


def _widest_half_width(summary: Iterable[dict[str, Any]]) -> float:
    widest = 0.0
    for row in summary:
        if row["zone"] != "all":
            continue
        lo, hi = row["compliance_ci_low"], row["compliance_ci_high"]
        if lo != lo or hi != hi:  # NaN: fewer than two replications
            return float("inf")
        widest = max(widest, (hi - lo) / 2)
    return widest


def default_workers() -> int:
    """Worker processes to use by default: the machine's cores."""
    return max(1, os.cpu_count() or 1)
