"""Everything a run needs that does not change between replications: the prepared world.

Built once from a validated scenario and its road network: the zone of every node, the demand
weights, one travel-time oracle per unit type, and for each layout its fleet: units snapped to
road nodes, their duty table (shifts, hand-overs, meal breaks), and their patrol loops.
Every place the scenario names is first put on its nearest road (``sim.world.places``: a node is
inserted on the edge), so ``World.net`` may have more nodes than the loaded network; places
farther than ``network.snap_tolerance`` from any road are scenario errors.

Patrol loops (when a layout has ``patrol: true``) start and end at the platform's post and pass
through waypoints: the platform's ``patrol_waypoints`` if given, otherwise generated inside its
grid (the nodes nearer to its post than to any other post): key locations first, then the nodes
with the most demand, at least ``patrol.waypoint_spacing`` apart, visited in angular order.
Units of one type at one platform share a loop, spread evenly along it.

Congestion (``congestion.periods``): one oracle per speed profile and period of the day, so a trip
is served by the oracle of the period it starts in (``period_oracles[period_of_minute[m]]``;
period 0 is free flow and ``oracles`` is its oracle set). A unit type of
``congestion_sensitivity`` ``s`` drives a road class of period factor ``f`` at
``1 - s * (1 - f)`` times its free-flow speed; types with sensitivity 0 (on foot) use the
free-flow oracle in every period. Patrol loops and volunteer beats keep their free-flow timing
(patrols drive slowly on purpose); only the drive from a loop node to an incident feels the
period's congestion (:meth:`World.loop_rows`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
from scipy.sparse.csgraph import dijkstra

from sim.fileio import (
    atomic_open,
    read_npz_mapped,
    trim_folder,
    write_npy_filled,
    write_npz_aligned,
)
from sim.network.graph import RoadNetwork
from sim.network.oracle import TravelTimeOracle, edge_times
from sim.quantities import format_distance, parse_memory
from sim.scenario import ZONE_CLASSES, LoadedScenario, Scenario, ScenarioError, minute_of_day
from sim.types import Fleet, Loop
from sim.world.demand import DemandModel, demand_model, node_weights, read_demand_points
from sim.world.places import place_on_roads
from sim.world.rural_world import RuralWorld, prepare_rural
from sim.world.zones import ZoneMap, classify_nodes

_T = TypeVar("_T")

__all__ = ["Fleet", "Loop", "World", "duty_table", "prepare_world"]

MINUTES_PER_DAY = 1440






@dataclass(eq=False)
class World:
    """The prepared, replication-independent part of a scenario (see module docstring)."""

    scenario: Scenario
    net: RoadNetwork
    zones: ZoneMap
    weights: np.ndarray
    oracles: dict[str, TravelTimeOracle]
    fleets: dict[str, Fleet]
    period_oracles: list[dict[str, TravelTimeOracle]] = field(default_factory=list)
    """Per congestion period (0 = free flow, ``i + 1`` = ``congestion.periods[i]``): the oracle
    of each unit type. ``period_oracles[0]`` is ``oracles``."""
    period_of_minute: np.ndarray = field(
        default_factory=lambda: np.zeros(MINUTES_PER_DAY, dtype=np.int64))
    """``[1440]``: the congestion period of each minute of the day (0 = free flow)."""
    demand: DemandModel = field(default_factory=DemandModel)
    """Hour- and node-dependent demand from the demand points' optional columns."""
    _post_times: dict[tuple[str, bytes, int], np.ndarray] = field(default_factory=dict, repr=False)
    _slots: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict,
                                                                         repr=False)
    _post_order: dict[tuple[str, bytes, int, bytes | None], np.ndarray] = field(
        default_factory=dict, repr=False)
    _loop_table: dict[tuple[str, object], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)
    _loop_min: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, repr=False)
    _rejoin: dict[tuple[str, int, bool], dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = \
        field(default_factory=dict, repr=False)
    _loop_rank: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)
    run_tables: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    """What the engine derives once per layout from the tables above, for every run of the
    process (:mod:`sim.engine`: the dispatchable units on the air by minute, the presence
    points' reverse rows and bits); read-only, filled through :meth:`kept`."""
    tables_dir: Path | None = None
    """Where one-time tables (loop rows, post times and orders, loop ranks, the ways back to the
    loops, the oracles' rows of pinned nodes and search inputs) are stored between processes;
    None: not stored."""
    tables_limit: int = 0
    """The most bytes the stored tables may take (:func:`stored_tables_limit`); the least recently used
    go first when a new one is stored."""
    _rows_stored: dict[int, int] = field(default_factory=dict, repr=False)  # oracle -> rows on disk
    _pinned: frozenset[int] | None = field(default=None, repr=False)
    rural: RuralWorld | None = None
    """Villages, their officers, rural targets and counties (:mod:`sim.world.rural_world`);
    None without a ``rural`` section."""

    def __post_init__(self) -> None:
        if not self.period_oracles:
            self.period_oracles = [self.oracles]

    def kept(self, key: tuple[object, ...], fleet: Fleet | None, build: Callable[[], _T]) -> _T:
        """What ``build`` derives from ``fleet`` (a layout's), computed once and kept in
        :attr:`run_tables` for every run (read-only), and computed again if the layout's fleet
        was replaced. With ``fleet`` None the key names all that the value is derived from (it
        may then serve several layouts)."""
        hit = self.run_tables.get(key)
        if hit is not None and cast(tuple[Fleet, _T], hit)[0] is fleet:
            return cast(tuple[Fleet, _T], hit)[1]
        value = build()
        self.run_tables[key] = (fleet, value)
        return value

    def pinned_nodes(self) -> frozenset[int]:
        """Nodes every run asks about, in any layout: posts (at every hour) and patrol loop nodes,
        where units drive to, and the presence points (key locations, grid posts), which are
        timed from everywhere. The oracles keep their reverse rows from one run to the next."""
        if self._pinned is None:
            nodes: set[int] = set()
            for layout, fleet in self.fleets.items():
                nodes.update(np.unique(_changes(fleet.post_table)).tolist())
                for lp in fleet.loops:
                    nodes.update(np.asarray(lp.nodes).tolist())
                nodes.update(int(p[2]) for p in presence_points(self, layout))
            self._pinned = frozenset(nodes)
        return self._pinned

    @property
    def n_periods(self) -> int:
        """Congestion periods, free flow (period 0) included."""
        return len(self.period_oracles)

    def slots(self, layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where ``layout``'s units wait, by time of day, as a few distinct sets of posts
        ("slots"): ``slot_posts[slot, unit]`` (sorted rows), the slot of each minute of the day,
        and the (period, slot) pairs that occur in a day (``[2, pairs]``, sorted). Computed once
        per layout; every run reads them."""
        hit = self._slots.get(layout)
        if hit is None:
            hit = self._slots[layout] = slots_of(self.fleets[layout].post_table,
                                                 self.period_of_minute)
        return hit

    def _posts_key(self, layout: str, posts: np.ndarray, period: int) -> bytes:
        """What a table from ``layout``'s units at ``posts`` in ``period`` is computed from: each
        unit's oracle (by checksum) and post; the key of its stored file."""
        oracles = self.period_oracles[period]
        return (b"".join(oracles[t].signature.encode() for t in self.fleets[layout].unit_type)
                + posts.astype(np.int64).tobytes())

    def post_times(self, layout: str, posts: np.ndarray | None = None, period: int = 0) -> np.ndarray:
        """Driving time (s) from each unit's post to every node: ``[node, unit]``, read-only.

        ``posts`` gives each unit's post (default: the home posts); ``period`` the congestion
        period (default: free flow). Computed once per layout, set of posts and period (one
        forward Dijkstra per post node and speed profile) and shared by every run, so a dispatch
        from a post is one row lookup.
        """
        fleet = self.fleets[layout]
        posts = fleet.post if posts is None else posts
        key = (layout, posts.tobytes(), period)
        table = self._post_times.get(key)
        if table is None:
            oracles = self.period_oracles[period]
            stored = self._posts_key(layout, posts, period)

            def fill(out: np.ndarray) -> None:
                for u, (utype, post) in enumerate(zip(fleet.unit_type, posts, strict=True)):
                    out[:, u] = oracles[utype].from_node(int(post))

            table = self._post_times[key] = self._stored_table(
                "post-times", stored, fill, (self.net.n_nodes, len(fleet)), np.float64)
        return table

    def post_order(self, layout: str, posts: np.ndarray | None = None, period: int = 0,
                   only: np.ndarray | None = None) -> np.ndarray:
        """``[node, rank]``: the units in order of arrival at each node from their posts (turnout
        included; ties to the lower unit), for the same ``posts`` and ``period`` as
        :meth:`post_times`; with ``only`` (a mask over the units), those units alone. Computed
        once and shared by every run, and stored between processes."""
        fleet = self.fleets[layout]
        posts = fleet.post if posts is None else posts
        mask = None if only is None else np.asarray(only, dtype=bool)
        key = (layout, posts.tobytes(), period, None if mask is None else mask.tobytes())
        order = self._post_order.get(key)
        if order is None:
            stored = self._posts_key(layout, posts, period) + fleet.turnout_s.astype(float).tobytes()
            dtype = np.int16 if len(fleet) < 2**15 else np.int32
            width = len(fleet)

            def build() -> np.ndarray:
                eta = self.post_times(layout, posts, period) + fleet.turnout_s.astype(float)
                return np.argsort(eta, axis=1, kind="stable").astype(dtype)

            name, make = "post-order", build
            if mask is not None:  # the full order, less the units not asked for (as many in a row)
                name, stored, width = "post-order-of", stored + b"only" + mask.tobytes(), int(mask.sum())

                def make() -> np.ndarray:
                    full = self.post_order(layout, posts, period)
                    return np.ascontiguousarray(full[mask[full]].reshape(full.shape[0], width))

            order = self._post_order[key] = self._stored_table(
                name, stored, _whole(make), (self.net.n_nodes, width), dtype)
        return order

    def loop_table(self, layout: str, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The driving times from every node of ``layout``'s loops in congestion period
        ``period``: ``cols[node, r]`` (float32, s) with one column per distinct loop node and
        oracle (a loop passes most nodes twice, out and back), and ``row_of`` (int64,
        read-only), the column of each position of the loops laid end to end (as
        :class:`sim.engine.positions.Trajectories` lays them). Node-major: a dispatch reads
        the times of several loop positions to one scene, which then lie in one short stretch
        of memory. Multi-source Dijkstras per oracle, computed when first asked, or read from
        ``tables_dir`` (memory-mapped: processes on the machine share the pages)."""
        hit = self._loop_table.get((layout, period))
        if hit is not None:
            return hit
        loops = self.fleets[layout].loops
        oracles = [self.period_oracles[period][lp.unit_type] for lp in loops]
        key = (layout, tuple(id(o) for o in oracles))  # periods that drive alike share a table
        hit = self._loop_table.get(key)
        if hit is None and not loops:
            empty = np.zeros((self.net.n_nodes, 0), dtype=np.float32)
            empty.setflags(write=False)
            none = np.zeros(0, dtype=np.int64)
            none.setflags(write=False)
            hit = (empty, none)
        if hit is None:
            starts = np.cumsum([0] + [len(lp.nodes) for lp in loops])  # of each loop, end to end
            row_of = np.zeros(starts[-1], dtype=np.int64)
            blocks: list[tuple[TravelTimeOracle, np.ndarray]] = []
            base = 0
            for oracle in {id(o): o for o in oracles}.values():
                mine = [k for k, o in enumerate(oracles) if o is oracle]
                nodes, back = np.unique(np.concatenate([loops[k].nodes for k in mine]),
                                        return_inverse=True)
                blocks.append((oracle, nodes))
                pos = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in mine])
                row_of[pos] = back.reshape(-1) + base
                base += len(nodes)
            rows = self._stored_rows(blocks)
            row_of.setflags(write=False)
            hit = self._loop_table[key] = (rows, row_of)
        self._loop_table[(layout, period)] = hit
        return hit

    def loop_rows(self, layout: str, k: int, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """For loop ``k`` of ``layout``: ``rows[j, node]``, the time (s) from the loop's j-th node to
        every node in congestion period ``period`` (float32, from :meth:`loop_table`; a copy),
        and the loop's nodes."""
        loops = self.fleets[layout].loops
        cols, row_of = self.loop_table(layout, period)
        start = sum(len(lp.nodes) for lp in loops[:k])
        return np.ascontiguousarray(cols[:, row_of[start:start + len(loops[k].nodes)]].T), \
            loops[k].nodes

    def loop_min(self, layout: str, period: int = 0) -> np.ndarray:
        """``[loop, node]``: the shortest drive (s) from any node of each of ``layout``'s loops to
        each node in ``period``: a lower bound on the arrival of any unit on that loop."""
        key = (layout, period)
        table = self._loop_min.get(key)
        if table is None:
            cols, row_of = self.loop_table(layout, period)
            mins, start = [], 0
            for lp in self.fleets[layout].loops:
                mine = np.unique(row_of[start:start + len(lp.nodes)])
                mins.append(cols[:, mine].min(axis=1))
                start += len(lp.nodes)
            table = np.stack(mins)
            table.setflags(write=False)
            self._loop_min[key] = table
        return table

    def loop_rank(self, layout: str, period: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(low, loop)``, both ``[node, rank]``: for each node, ``layout``'s loops in order of
        :meth:`loop_min` (ties to the lower loop) and those lower bounds, so that a dispatch
        reads its node's row instead of sorting the loops."""
        key = (layout, period)
        hit = self._loop_rank.get(key)
        loops = self.fleets[layout].loops
        if hit is None and not loops:  # (empty, in the types of a layout with loops)
            low = np.zeros((self.net.n_nodes, 0), np.float32)
            order = np.zeros((self.net.n_nodes, 0), np.int64)
            low.setflags(write=False)
            order.setflags(write=False)
            hit = self._loop_rank[key] = (low, order)
        if hit is None:
            stored = b"".join(self.period_oracles[period][lp.unit_type].signature.encode()
                              + np.asarray(lp.nodes, dtype=np.int64).tobytes() + b";"
                              for lp in loops)
            shape = (self.net.n_nodes, len(loops))
            order = self._stored_table(
                "loop-rank", stored, _whole(lambda: np.argsort(self.loop_min(layout, period),
                                                               axis=0, kind="stable").T),
                shape, np.int64)
            low = self._stored_table(
                "loop-low", stored, _whole(lambda: np.take_along_axis(
                    self.loop_min(layout, period), order.T, axis=0).T), shape, np.float32)
            hit = self._loop_rank[key] = (low, order)
        return hit

    def rejoin_table(self, layout: str, k: int, oracle: TravelTimeOracle, nearest: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where a unit of ``layout``'s loop ``k`` leaving each node for the loop rejoins it,
        driving by ``oracle``: for every node, the loop node of the waypoint reached first
        (ties to the earlier waypoint; with ``nearest`` false, the loop's start), the time (s)
        to it and that waypoint's time along the loop (s); read-only. ``oracle`` is one of the
        world's oracles for the loop's unit type (in some period). Made for all the loops that
        may drive by ``oracle`` at once, and stored between processes as one table."""
        key = (layout, id(oracle), nearest)
        tables = self._rejoin.get(key)
        if tables is None:
            loops = self.fleets[layout].loops
            mine = [j for j, lp in enumerate(loops)
                    if any(po[lp.unit_type] is oracle for po in self.period_oracles)]
            stored = oracle.signature.encode() + (b"nearest;" if nearest else b"start;") + b"".join(
                np.asarray(lp.nodes, dtype=np.int64).tobytes() + b"|"
                + np.asarray(lp.waypoints, dtype=np.int64).tobytes() + b"|"
                + np.asarray(lp.cum, dtype=np.float64).tobytes() + b";" for lp in (loops[j] for j in mine))
            table = self._stored_table(
                "rejoin", stored, _whole(lambda: np.stack([_rejoin_rows(loops[j], oracle, nearest)
                                                           for j in mine])),
                (len(mine), 3, self.net.n_nodes), np.float64)
            tables = self._rejoin[key] = {}
            for i, j in enumerate(mine):
                node = table[i, 0].astype(np.int64)  # (exact: node numbers are far below 2**53)
                node.setflags(write=False)
                tables[j] = (node, table[i, 1], table[i, 2])
        if k not in tables:
            raise ValueError(f"loop {k} of layout {layout!r} never drives by this oracle")
        return tables[k]

    def _distinct_oracles(self) -> list[TravelTimeOracle]:
        return _distinct(self.period_oracles)

    def store_rows(self) -> None:
        """Store each oracle's rows of pinned nodes (:meth:`pinned_nodes`) and its landmarks
        beside the network, when it holds more than were stored; rows another process stored
        meanwhile are kept (read, merged, written back atomically). Run between runs, never
        inside one; a file that cannot be written is skipped."""
        if self.tables_dir is None:
            return
        keep = self.pinned_nodes()
        for oracle in self._distinct_oracles():
            if oracle.export_count(keep) <= self._rows_stored.get(id(oracle), 0):
                continue
            _load_rows(oracle, self.tables_dir)  # what another process stored meanwhile
            path = _rows_path(oracle, self.tables_dir)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_open(path, "wb") as fh:
                    write_npz_aligned(fh, oracle.export_rows(keep))
            except OSError:
                continue
            self._rows_stored[id(oracle)] = oracle.export_count(keep)
            self._trim(path)

    def _trim(self, stored: Path) -> None:
        """Keep the stored tables within :attr:`tables_limit`, the one just ``stored`` included."""
        if self.tables_dir is not None and self.tables_limit > 0:
            trim_folder(self.tables_dir, self.tables_limit, keep=stored)

    def _stored_rows(self, blocks: list[tuple[TravelTimeOracle, np.ndarray]]) -> np.ndarray:
        """``[node, j]``: float32 driving times to every node from each of the nodes of every
        ``(oracle, nodes)`` block, the blocks one after the other (multi-source Dijkstras of
        up to :data:`_SOURCES_AT_ONCE` sources, so that the double-precision rows in hand stay
        small), stored between processes as one table (:meth:`_stored_table`: memory-mapped,
        so that the processes of a sweep share its pages rather than each holding a copy)."""
        key = b"".join((oracle.signature + ":").encode() + nodes.astype(np.int64).tobytes()
                       + b";" for oracle, nodes in blocks)
        total = sum(len(nodes) for _, nodes in blocks)

        def fill(cols: np.ndarray) -> None:
            base = 0
            for oracle, nodes in blocks:
                for lo in range(0, len(nodes), _SOURCES_AT_ONCE):
                    part = nodes[lo:lo + _SOURCES_AT_ONCE]
                    cols[:, base + lo:base + lo + len(part)] = dijkstra(
                        oracle.forward, directed=True, indices=part).T
                base += len(nodes)

        return self._stored_table("loop-cols", key, fill, (self.net.n_nodes, total), np.float32)

    def _stored_table(self, name: str, key: bytes, fill: Callable[[np.ndarray], None],
                      shape: tuple[int, ...], dtype: type) -> np.ndarray:
        """A one-time table of ``shape`` and ``dtype``, read-only: read from ``tables_dir`` when
        an earlier process stored it under the same ``key`` (a checksum of everything it is
        computed from names the file), else made by ``fill``, which writes it into the array it
        is given, and stored. Stored tables are memory-mapped, so processes on the machine share
        their pages, and a new one is filled straight into its file
        (:func:`~sim.fileio.write_npy_filled`): the 100,000-node grid's loop columns, 1.1 GB a
        speed profile, are never held in this process's own memory. A file that cannot be read
        or written, or holds another shape or type, costs only the fill (twice, if the disk
        failed while it was filling)."""
        path = None
        if self.tables_dir is not None:
            path = self.tables_dir / f"{name}-{hashlib.sha256(key).hexdigest()[:32]}.npy"
            try:
                stored = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
                if stored.shape == shape and stored.dtype == dtype:
                    _used(path)
                    return stored
            except (OSError, ValueError, EOFError):
                pass
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                filled = write_npy_filled(path, shape, dtype, fill)
                self._trim(path)
                return filled
            except OSError:
                pass
        held: np.ndarray = np.empty(shape, dtype=dtype)
        fill(held)
        held.setflags(write=False)
        return held

def _whole(build: Callable[[], np.ndarray]) -> Callable[[np.ndarray], None]:
    """A fill for :meth:`World._stored_table` from a function that returns the whole table."""
    def fill(out: np.ndarray) -> None:
        table = build()
        assert table.shape == out.shape and table.dtype == out.dtype, (table.shape, table.dtype)
        out[...] = table
    return fill

def _changes(post_table: np.ndarray) -> np.ndarray:
    """The rows of ``post_table`` (``[minute, unit]``) where some unit's post changes, the first
    included: each column's values all occur in them (a value's run starts at a change)."""
    return post_table[np.r_[True, np.any(post_table[1:] != post_table[:-1], axis=1)]]


def slots_of(post_table: np.ndarray, period_of_minute: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of ``post_table`` (``[minute, unit]``), sorted; each minute's row among
    them; and the (period, row) pairs that occur, sorted (``[2, pairs]``): what
    ``np.unique(axis=...)`` gives, from the few minutes where the table changes."""
    starts = np.flatnonzero(np.r_[True, np.any(post_table[1:] != post_table[:-1], axis=1)])
    slot_posts, first = np.unique(post_table[starts], axis=0, return_inverse=True)
    slot_of_minute = np.repeat(first.reshape(-1), np.diff(np.r_[starts, len(post_table)]))
    n = len(slot_posts)
    pairs = np.unique(period_of_minute * n + slot_of_minute)
    used = np.stack([pairs // n, pairs % n])
    for a in (slot_posts, slot_of_minute, used):
        a.setflags(write=False)
    return slot_posts, slot_of_minute, used


def _rejoin_rows(loop: Loop, oracle: TravelTimeOracle, nearest: bool) -> np.ndarray:
    """:meth:`World.rejoin_table` of one loop, computed: ``[3, node]``, the loop node (as a
    float), the time to it and its time along the loop."""
    waypoints = np.asarray(loop.waypoints if nearest else [0], dtype=np.int64)
    times = np.stack([oracle.to_node(int(loop.nodes[w]))[0] for w in waypoints])
    first = np.argmin(times, axis=0)
    join = waypoints[first]
    return np.stack([np.asarray(loop.nodes, dtype=np.int64)[join].astype(np.float64),
                     times[first, np.arange(times.shape[1])],
                     np.asarray(loop.cum, dtype=np.float64)[join]])


def _distinct(period_oracles: list[dict[str, TravelTimeOracle]]) -> list[TravelTimeOracle]:
    """Each oracle once (unit types and periods that drive alike share one)."""
    return list({id(o): o for po in period_oracles for o in po.values()}.values())


TABLES_LIMIT = 10 * 1024**3
"""The most bytes of one-time tables kept in a ``tables/`` folder (10 GiB; the default scenario's
take about 100 MB, a 100,000-node city's a few GB). Set ``POLICE_SIM_TABLES_MAX`` (e.g.
``"2 GB"``) to change it."""


def stored_tables_limit(file: str | Path | None = None) -> int:
    """The size limit of the stored tables: ``$POLICE_SIM_TABLES_MAX`` or :data:`TABLES_LIMIT`
    (a malformed value is reported against ``file``, the scenario being run)."""
    text = os.environ.get("POLICE_SIM_TABLES_MAX")
    if not text:
        return TABLES_LIMIT
    try:
        return max(1, int(parse_memory(text)))
    except ValueError as err:
        raise ScenarioError(f"environment variable POLICE_SIM_TABLES_MAX={text!r}: {err}",
                            file=file) from None


def _used(path: Path) -> None:
    """Mark a stored table as just used (its modification time), so that it is the last to go
    when the folder is trimmed."""
    with contextlib.suppress(OSError):
        os.utime(path)


_SOURCES_AT_ONCE = 256
"""Sources per multi-source Dijkstra of the loop table (:meth:`World._stored_rows`)."""


def _rows_path(oracle: TravelTimeOracle, tables_dir: Path) -> Path:
    """The file of ``oracle``'s stored rows. ``v2``: written by :func:`write_npz_aligned`, so that
    each process maps them in place; files of the first layout (``np.savez``) are no longer read,
    and go when the folder is trimmed."""
    return tables_dir / f"oracle-rows-v2-{oracle.signature[:32]}.npz"


def _load_rows(oracle: TravelTimeOracle, tables_dir: Path) -> int:
    """Import the rows stored for ``oracle`` (:meth:`World.store_rows`): how many it took (0 if
    there are none or the file cannot be read)."""
    path = _rows_path(oracle, tables_dir)
    if not path.exists():
        return 0
    try:
        taken = oracle.import_rows(read_npz_mapped(path))  # (mapped: pages read when used)
        _used(path)
        return taken
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return 0


def congested_edge_factors(net: RoadNetwork, speed_factor: dict[str, float],
                           sensitivity: float) -> np.ndarray:
    """Each edge's speed multiplier in a period: ``1 - sensitivity * (1 - f)`` for its road class's
    factor ``f`` (``default`` for classes not listed)."""
    per_class = np.array([1.0 - sensitivity * (1.0 - speed_factor.get(c, speed_factor["default"]))
                          for c in net.classes], dtype=float)
    return per_class[net.edge_class]


def _period_oracles(scenario: Scenario, net: RoadNetwork, edge_speed: np.ndarray | None = None
                    ) -> list[dict[str, TravelTimeOracle]]:
    """One oracle set per congestion period (0 = free flow); identical profiles share an oracle.
    ``edge_speed`` (m/s per edge: the rural road speeds) replaces the class speeds when given."""
    speeds = scenario.network.speeds
    by_profile: dict[tuple, TravelTimeOracle] = {}
    out: list[dict[str, TravelTimeOracle]] = []
    periods = [None, *scenario.congestion.periods]
    for period in periods:
        oracles: dict[str, TravelTimeOracle] = {}
        for name, ut in scenario.unit_types.items():
            base = edge_times(net, speeds, factor=ut.speed_factor, cap=ut.max_speed,
                              edge_speed=edge_speed)
            walk = ut.access == "walk"
            if not walk:  # cars never use footways
                base = np.where(np.asarray(net.edge_walk_only, dtype=bool), np.inf, base)
            factors = None
            if period is not None and ut.congestion_sensitivity > 0:
                factors = congested_edge_factors(net, period.speed_factor, ut.congestion_sensitivity)
                if np.all(factors == 1.0):
                    factors = None
            key = (ut.speed_factor, ut.max_speed, walk,
                   None if factors is None else factors.tobytes())
            if key not in by_profile:  # unit types that drive alike share one oracle and its caches
                by_profile[key] = TravelTimeOracle(net, base if factors is None else base / factors,
                                                   both_ways=walk)
            oracles[name] = by_profile[key]
        out.append(oracles)
    return out


def _oracles(scenario: Scenario, net: RoadNetwork) -> dict[str, TravelTimeOracle]:
    """The free-flow oracle of each unit type."""
    return _period_oracles(scenario, net)[0]


def duty_table(s: Scenario, numbers: list[int], counts: list[list[int]]) -> np.ndarray:
    """Which units are off the air, minute by minute of the day: ``[1440, units]``.

    Unit ``u`` is the ``numbers[u]``-th unit of its type at its platform; it is on duty in shift
    ``i`` when ``numbers[u] <= counts[u][i]``. Every unit is off the air for ``shifts.handover`` at
    each shift start, and takes each meal break inside its window, staggered by unit index so
    that breaks are spread across the window.
    """
    starts = [minute_of_day(t) for t in s.shifts.starts]
    n_units = len(numbers)
    off = np.zeros((MINUTES_PER_DAY, n_units), dtype=bool)
    minutes = np.arange(MINUTES_PER_DAY)
    handover = math.ceil(s.shifts.handover / 60.0)
    for i, start in enumerate(starts):
        end = starts[(i + 1) % len(starts)]
        length = (end - start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        in_shift = (minutes - start) % MINUTES_PER_DAY < length
        for u in range(n_units):
            if numbers[u] > counts[u][i]:
                off[in_shift, u] = True
        if handover:
            off[(minutes - start) % MINUTES_PER_DAY < handover, :] = True
    for b in s.shifts.meal_breaks:
        a, z = minute_of_day(b.window[0]), minute_of_day(b.window[1])
        dur = math.ceil(b.duration / 60.0)
        slots = max(1, ((z - a) % MINUTES_PER_DAY) // dur)
        for u in range(n_units):
            begin = a + (u % slots) * dur
            off[(minutes - begin) % MINUTES_PER_DAY < dur, u] = True
    return off


def _snap(loaded: LoadedScenario, net: RoadNetwork, lon: float, lat: float,
          loc: tuple, what: str) -> tuple[int, float]:
    """The node of a place and its distance (m) to the road: where ``place_on_roads`` put it."""
    placed = net.places.get((lon, lat))
    if placed is not None:
        return placed
    tol = loaded.scenario.network.snap_tolerance
    px, py = net.frame.to_local(lon, lat)
    node, dist = net.nearest_node(float(px), float(py))  # a place not listed by scenario_places
    if dist > tol:
        raise loaded.error(loc, f"{what} is {format_distance(round(dist))} from the nearest drivable "
                                f"road (tolerance {format_distance(tol)}): is it off the network or "
                                "in a river?")
    return node, dist


def _loop_through(oracle: TravelTimeOracle, stops: list[int], unit_type: str) -> Loop | None:
    """A closed route visiting ``stops`` in order and returning to ``stops[0]``."""
    stops = [n for i, n in enumerate(stops) if i == 0 or n != stops[i - 1]]
    if len(stops) < 2:
        return None
    nodes: list[int] = [stops[0]]
    waypoints = [0]
    for a, b in zip(stops, [*stops[1:], stops[0]], strict=True):
        leg = oracle.path_to(a, b)
        nodes.extend(int(n) for n in leg[1:])
        waypoints.append(len(nodes) - 1)
    path = np.array(nodes, dtype=np.int64)
    cum = oracle.cumulative_times(path)
    return Loop(nodes=path, cum=cum, waypoints=np.array(waypoints[:-1], dtype=np.int64),
                unit_type=unit_type)


def _generated_waypoints(world_zones: ZoneMap, weights: np.ndarray, net: RoadNetwork,
                         grid_nodes: np.ndarray, post: int, s: Scenario) -> list[int]:
    spacing = s.patrol.waypoint_spacing
    want = s.patrol.waypoints_per_loop
    keys = grid_nodes[world_zones.key_location[grid_nodes] >= 0]
    # key-location nodes first (the most demand first), then the busiest other nodes
    order = np.concatenate([keys[np.argsort(-weights[keys], kind="stable")],
                            grid_nodes[np.argsort(-weights[grid_nodes], kind="stable")]])
    chosen: list[int] = []
    for n in order:
        n = int(n)
        pts = [post, *chosen]
        if all(math.hypot(net.x[n] - net.x[m], net.y[n] - net.y[m]) >= spacing for m in pts):
            chosen.append(n)
            if len(chosen) >= want:
                break
    chosen.sort(key=lambda n: math.atan2(net.y[n] - net.y[post], net.x[n] - net.x[post]))
    return chosen


def _fleet(loaded: LoadedScenario, net: RoadNetwork, layout_name: str, zones: ZoneMap,
           weights: np.ndarray, oracles: dict[str, TravelTimeOracle]) -> Fleet:
    s = loaded.scenario
    layout = s.layouts[layout_name]
    names, types, roles, plat, post, turnout, numbered = [], [], [], [], [], [], []
    p_nodes, p_snap = [], []
    per_unit_counts: list[list[int]] = []
    for i, p in enumerate(layout.platforms):
        node, dist = _snap(loaded, net, p.lon, p.lat, ("layouts", layout_name, "platforms", i),
                           f"platform '{p.name}'")
        p_nodes.append(node)
        p_snap.append(dist)
        shift_counts = p.units_by_shift or [p.units] * len(s.shifts.starts)
        for utype, count in p.units.items():  # YAML order, so unit ids are stable
            for k in range(count):
                names.append(f"{p.name}/{utype}#{k + 1}")
                types.append(utype)
                roles.append(s.unit_types[utype].role)
                plat.append(i)
                post.append(node)
                turnout.append(s.unit_types[utype].turnout)
                numbered.append((utype, k + 1))
                per_unit_counts.append([c.get(utype, 0) for c in shift_counts])
    off = duty_table(s, [k for _, k in numbered], per_unit_counts)
    post_table = np.tile(np.array(post, dtype=np.int64), (MINUTES_PER_DAY, 1))
    minutes = np.arange(MINUTES_PER_DAY)
    for i, p in enumerate(layout.platforms):
        members = np.array([q == i for q in plat], dtype=bool)
        for j, tp in enumerate(p.posts_by_time):
            node, _ = _snap(loaded, net, tp.lon, tp.lat,
                            ("layouts", layout_name, "platforms", i, "posts_by_time", j),
                            f"post '{tp.name or j}' of platform '{p.name}'")
            a, z = (minute_of_day(t) for t in tp.hours)
            window = (minutes - a) % MINUTES_PER_DAY < ((z - a) % MINUTES_PER_DAY or MINUTES_PER_DAY)
            post_table[np.ix_(window, members)] = node
    loops: list[Loop] = []
    loop_of = np.full(len(names), -1, dtype=np.int64)
    phase = np.zeros(len(names))
    if layout.patrol:
        grid_of = _grid_of_nodes(net, oracles, layout_name, p_nodes, types, plat)
        for i, p in enumerate(layout.platforms):
            for utype in p.units:
                ut = s.unit_types[utype]
                crew = [u for u in range(len(names)) if plat[u] == i and types[u] == utype]
                if not (ut.patrols and ut.role == "response" and crew):
                    continue
                oracle = oracles[utype]
                if p.patrol_waypoints:
                    stops = [_snap(loaded, net, lon, lat, ("layouts", layout_name, "platforms", i,
                                                           "patrol_waypoints", j), "patrol waypoint")[0]
                             for j, (lon, lat) in enumerate(p.patrol_waypoints)]
                else:
                    stops = _generated_waypoints(zones, weights, net, np.flatnonzero(grid_of == i),
                                                 p_nodes[i], s)
                loop = _loop_through(oracle, [p_nodes[i], *stops], utype)
                if loop is None or loop.cycle <= 0:
                    continue
                loops.append(loop)
                for j, u in enumerate(crew):
                    loop_of[u] = len(loops) - 1
                    phase[u] = loop.cycle * j / len(crew)
    # volunteer teams: on their beat during their hours, never dispatched
    for i, team in enumerate(layout.volunteers):
        ut = s.unit_types[team.unit_type]
        oracle = oracles[team.unit_type]
        stops = [_snap(loaded, net, lon, lat, ("layouts", layout_name, "volunteers", i, "beat", j),
                       "volunteer beat point")[0] for j, (lon, lat) in enumerate(team.beat)]
        loop = _loop_through(oracle, stops, team.unit_type)
        a, z = (minute_of_day(t) for t in team.hours)
        minutes = np.arange(MINUTES_PER_DAY)
        on = (minutes - a) % MINUTES_PER_DAY < ((z - a) % MINUTES_PER_DAY or MINUTES_PER_DAY)
        if loop is not None:
            loops.append(loop)
        for k in range(team.teams):
            names.append(f"{team.name}#{k + 1}")
            types.append(team.unit_type)
            roles.append("volunteer")
            plat.append(-1)
            post.append(stops[0])
            turnout.append(ut.turnout)
            off = np.column_stack([off, ~on])
            post_table = np.column_stack([post_table, np.full(MINUTES_PER_DAY, stops[0])])
            loop_of = np.append(loop_of, len(loops) - 1 if loop is not None else -1)
            phase = np.append(phase, loop.cycle * k / team.teams if loop is not None else 0.0)
    return Fleet(
        layout=layout_name, unit_name=tuple(names), unit_type=tuple(types), role=tuple(roles),
        platform=np.array(plat, dtype=np.int32), post=np.array(post, dtype=np.int64),
        turnout_s=np.array(turnout, dtype=float), off_air=off, loop=loop_of, loop_phase_s=phase,
        loops=tuple(loops), post_table=post_table, platform_names=tuple(p.name for p in layout.platforms),
        platform_nodes=np.array(p_nodes, dtype=np.int64), platform_snap_m=np.array(p_snap),
    )


def _grid_of_nodes(net: RoadNetwork, oracles: dict[str, TravelTimeOracle], layout: str,
                   p_nodes: list[int], types: list[str], plat: list[int]) -> np.ndarray:
    """Each node's grid: the platform whose post reaches it first (by the fastest unit type there)."""
    best = np.full(net.n_nodes, np.inf)
    grid = np.full(net.n_nodes, -1, dtype=np.int64)
    for i, node in enumerate(p_nodes):
        here = {t for t, q in zip(types, plat, strict=True) if q == i} or set(oracles)
        t = np.min([oracles[ut].from_node(node) for ut in sorted(here)], axis=0)
        better = t < best
        best[better] = t[better]
        grid[better] = i
    return grid


def prepare_world(loaded: LoadedScenario, net: RoadNetwork, layouts: list[str] | None = None,
                  *, tables_dir: Path | None = None) -> World:
    """Zones, demand weights, oracles and fleets for ``layouts`` (default: the scenario's run list).

    ``tables_dir``: where one-time tables are stored between processes (loop rows, and the
    oracles' rows of posts, loop nodes and presence points, read here before any search), within
    :func:`stored_tables_limit` bytes.

    Raises
    ------
    ScenarioError
        For a layout name the scenario does not define, a platform too far from the network, or
        a malformed ``$POLICE_SIM_TABLES_MAX``.
    """
    s = loaded.scenario
    # the size limit of the stored tables (a malformed one fails here, before any work)
    limit = stored_tables_limit(loaded.path) if tables_dir is not None else 0
    names = layouts or s.layout_names()
    for name in names:
        if name not in s.layouts:
            raise ScenarioError(f"no layout named '{name}' in this scenario; layouts: "
                                f"{', '.join(s.layouts)}", file=loaded.path, loc=("layouts",),
                                line=loaded.lines.get(("layouts",)))
    net = place_on_roads(loaded, net, names)
    zones = classify_nodes(net, s.zones)  # key locations off the roads: sim.world.checks
    try:
        points = read_demand_points(loaded)
        weights = node_weights(net, s, points)
        demand = demand_model(net, s, points, weights)
    except KeyError as exc:
        raise loaded.error(("demand", "points", "file"), str(exc.args[0])) from None
    rural = prepare_rural(loaded, net, zones) if s.rural is not None else None  # sim.world.rural_world
    period_oracles = _period_oracles(s, net, None if rural is None else rural.edge_speed_mps)
    oracles = period_oracles[0]
    stored = {} if tables_dir is None else {id(o): _load_rows(o, tables_dir)
                                            for o in _distinct(period_oracles)}
    fleets = {name: _fleet(loaded, net, name, zones, weights, oracles) for name in names}
    # the free-flow rows from and to the posts were computed for the grids and loops; the same
    # for each congestion period, so that post tables and drives back are cheap in every run
    for fleet in fleets.values():
        pairs = {(t, n) for row in _changes(fleet.post_table).tolist()
                 for t, n in zip(fleet.unit_type, row, strict=True)}
        for po in period_oracles[1:]:
            for t, n in sorted(pairs):
                po[t].from_node(n)
                po[t].to_node(n)
    world = World(
        scenario=s, net=net, zones=zones, weights=weights, oracles=oracles, fleets=fleets,
        period_oracles=period_oracles, period_of_minute=s.congestion.period_of_minute(),
        demand=demand, rural=rural, tables_dir=tables_dir, tables_limit=limit,
    )
    if stored:  # what is on disk now, so that store_rows writes only when there is more
        keep = world.pinned_nodes()
        world._rows_stored = {id(o): o.export_count(keep) for o in world._distinct_oracles()
                              if stored.get(id(o))}
    if tables_dir is not None:  # (a lowered limit holds from now on; the rows just read stay)
        trim_folder(tables_dir, limit)
    return world


def presence_points(world: World, layout: str) -> list[tuple[str, str, int, float]]:
    """Where presence (见警率) is measured: (name, kind, node, target s) for each key location
    (its nearest node) and each grid (its platform's post)."""
    s, net = world.scenario, world.net
    out = []
    for k in s.zones.key_locations:
        placed = net.places.get((k.lon, k.lat))
        if placed is not None:
            node = placed[0]
        else:
            kx, ky = net.frame.to_local(k.lon, k.lat)
            node, _ = net.nearest_node(float(kx), float(ky))
        out.append((k.name, "key", node, s.zones.targets["key"]))
    fleet = world.fleets[layout]
    for name, node in zip(fleet.platform_names, fleet.platform_nodes, strict=True):
        zone = ZONE_CLASSES[int(world.zones.zone[node])]
        out.append((name, "grid", int(node), {str(k): float(v) for k, v in s.zones.targets.items()}[zone]))
    return out
