"""One-time tables stored beside the network: a second process reads them instead of searching,
gets the same records, and never trusts a damaged file."""

from __future__ import annotations

import copy
import io
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from sim.engine.core import simulate
from sim.fileio import read_npz_mapped, write_npy_filled, write_npz_aligned
from sim.world.demand import generate_incidents
from sim.world.prepare import _changes, slots_of

from .conftest import tiny_scenario, world_for

PEAK = {"name": "peak", "hours": ["07:00", "10:00"],
        "speed_factor": {"residential": 0.5, "default": 0.8}}


def _data() -> dict:
    data = tiny_scenario("grid.osm", days="2 d", per_day=150.0)
    data["unit_types"]["car"]["patrols"] = True
    data["layouts"]["two_posts"]["patrol"] = True
    data["congestion"] = {"periods": [copy.deepcopy(PEAK)]}
    return data


def _records(result) -> str:
    fh = io.StringIO()
    result.records.write_csv(fh)
    return fh.getvalue()


def _oracles(world):
    return list({id(o): o for po in world.period_oracles for o in po.values()}.values())


def _run(world, layout="two_posts"):
    s = world.scenario
    inc = generate_incidents(s, world.net, world.zones, seed=3, replication=0, weights=world.weights)
    before = sum(o.searches for o in _oracles(world))
    result = simulate(world, layout, inc, 0)
    return result, sum(o.searches for o in _oracles(world)) - before


def test_a_second_world_reads_the_stored_tables_and_finds_the_same_records(tmp_path):
    _, _, first = world_for(tmp_path, _data())
    assert first.tables_dir == tmp_path / "cache" / "tables"
    built, searched = _run(first)
    first.store_rows()
    names = {p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in first.tables_dir.iterdir()}
    assert {"oracle-rows", "post-times", "post-order", "loop-rank", "loop-low", "loop-cols"} <= names
    assert any(p.name.startswith("post-order-of-") for p in first.tables_dir.iterdir())
    assert any(p.name.startswith("rejoin-") for p in first.tables_dir.iterdir())

    _, _, second = world_for(tmp_path, _data(), name="again.yaml")
    kept = sum(len(o._kept) for o in _oracles(second))
    assert kept > 0  # reverse rows of posts and loop nodes came from the store, before any run
    for oracle in _oracles(second):  # and the goal-directed search's inputs, as built here
        stored = oracle._goal
        assert stored is not None and not stored.indices.flags.writeable
        fresh = oracle._goal_inputs()
        for name in ("order", "indptr", "indices", "weights", "lm"):
            np.testing.assert_array_equal(getattr(stored, name), getattr(fresh, name))
            assert getattr(stored, name).dtype == getattr(fresh, name).dtype
        assert stored.near_of == fresh.near_of and stored.slack == fresh.slack
    again, searched_again = _run(second)
    assert _records(again) == _records(built)
    assert searched_again < searched

    # the stored tables are the tables: checked against searches made here
    fleet = second.fleets["two_posts"]
    for period, oracles in enumerate(second.period_oracles):
        times = second.post_times("two_posts", fleet.post, period)
        for u, (utype, post) in enumerate(zip(fleet.unit_type, fleet.post, strict=True)):
            want = dijkstra(oracles[utype].forward, directed=True, indices=int(post))
            np.testing.assert_array_equal(times[:, u], want)
        eta = times + fleet.turnout_s
        order = second.post_order("two_posts", fleet.post, period)
        np.testing.assert_array_equal(order, np.argsort(eta, axis=1, kind="stable"))
        parkable = fleet.dispatchable & (fleet.loop < 0)  # the engine's parked units' orders
        assert 0 < parkable.sum() < len(fleet)
        want = [[u for u in np.argsort(row, kind="stable").tolist() if parkable[u]] for row in eta]
        parked = second.post_order("two_posts", fleet.post, period, only=parkable)
        assert parked.tolist() == want
        for k, lp in enumerate(fleet.loops):  # times from every loop node, built into a file
            rows, nodes = second.loop_rows("two_posts", k, period)
            want = dijkstra(oracles[lp.unit_type].forward, directed=True, indices=nodes)
            np.testing.assert_array_equal(rows, want.astype(np.float32))
        assert not second.loop_table("two_posts", period)[0].flags.writeable
        low, loop = second.loop_rank("two_posts", period)
        for k, lp in enumerate(fleet.loops):
            rows = dijkstra(oracles[lp.unit_type].forward, directed=True,
                            indices=np.unique(lp.nodes)).astype(np.float32)
            np.testing.assert_array_equal(low[np.arange(len(low)), np.argmax(loop == k, axis=1)],
                                          rows.min(axis=0))
        assert np.all(np.diff(low, axis=1) >= 0)  # loops in order of their bound at every node
        for k, lp in enumerate(fleet.loops):  # the ways back to each loop: first waypoint reached
            oracle = oracles[lp.unit_type]
            node, time, cum = second.rejoin_table("two_posts", k, oracle, True)
            assert not node.flags.writeable and node.dtype == np.int64
            back = dijkstra(oracle.reverse, directed=True, indices=lp.nodes[lp.waypoints])
            first = [min(range(len(lp.waypoints)), key=lambda w, v=v: (back[w, v], w))
                     for v in range(back.shape[1])]
            assert node.tolist() == [int(lp.nodes[lp.waypoints[w]]) for w in first]
            np.testing.assert_array_equal(time, back[first, np.arange(back.shape[1])])
            np.testing.assert_array_equal(cum, np.asarray(lp.cum)[lp.waypoints[first]])


def test_rows_another_process_stored_meanwhile_are_kept(tmp_path):
    _, _, a = world_for(tmp_path, _data())
    _, _, b = world_for(tmp_path, _data(), name="b.yaml")  # both started before anything was stored
    _run(a, "two_posts")
    a.store_rows()
    _run(b, "one_post")
    b.store_rows()  # merges what a stored
    _, _, c = world_for(tmp_path, _data(), name="c.yaml")
    for layout in ("two_posts", "one_post"):
        posts = {int(n) for n in np.unique(c.fleets[layout].post_table)}
        for oracle in _oracles(c):
            assert posts <= set(oracle._kept) | set(oracle._to), layout


def test_damaged_stored_tables_are_rebuilt_not_trusted(tmp_path):
    _, _, first = world_for(tmp_path, _data())
    built, _ = _run(first)
    first.store_rows()
    files = sorted(first.tables_dir.iterdir())
    for i, path in enumerate(files):  # garbage, a cut-off file, an empty file, in turn
        raw = path.read_bytes()
        path.write_bytes([b"not a table at all", raw[: len(raw) // 2], b""][i % 3])
    _, _, second = world_for(tmp_path, _data(), name="again.yaml")
    assert sum(len(o._kept) for o in _oracles(second)) == 0
    again, searched = _run(second)
    assert _records(again) == _records(built)
    assert searched > 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7),
                          st.sampled_from(["<f8", "<f4", "<i4", "<i8", "<i2", "|b1"]), st.booleans()),
                min_size=1, max_size=5), st.booleans())
def test_npz_members_map_back_to_the_arrays_that_were_saved(tmp_path_factory, specs, ours):
    rng = np.random.default_rng(len(specs))
    saved = {}
    for k, (rows, cols, dtype, fortran) in enumerate(specs):
        a = (rng.random((rows, cols)) * 1000).astype(dtype)
        saved[f"m{'x' * k}"] = np.asfortranarray(a) if fortran else a  # names of every length
    path = tmp_path_factory.mktemp("npz") / "rows.npz"
    if ours:
        with open(path, "wb") as fh:
            write_npz_aligned(fh, saved)
    else:  # what numpy writes (its members lie anywhere: copied where misaligned)
        np.savez(path, **saved)
    with np.load(path) as plain:  # numpy reads either file, CRCs checked
        assert {k: plain[k].tolist() for k in plain.files} == {k: a.tolist() for k, a in saved.items()}
    mapped = read_npz_mapped(path)
    assert mapped.keys() == saved.keys()
    for name, a in saved.items():
        m = mapped[name]
        assert m.dtype == a.dtype and m.shape == a.shape and np.array_equal(m, a)
        assert not m.flags.writeable and m.flags.aligned
        if ours and m.size:  # mapped in place (a page-aligned mapping): 64-byte aligned there
            assert not m.flags.owndata and m.ctypes.data % 64 == 0


def test_a_compressed_npz_is_refused_by_the_mapped_reader(tmp_path):
    path = tmp_path / "rows.npz"
    np.savez_compressed(path, a=np.arange(10.0))
    try:
        read_npz_mapped(path)
    except ValueError as err:
        assert "not a stored .npy" in str(err)
    else:
        raise AssertionError("a compressed member was mapped")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.lists(st.tuples(st.integers(0, 1439), st.integers(0, 3),
                                             st.integers(0, 4)), max_size=12),
       st.lists(st.integers(0, 1439), max_size=4))
def test_slots_are_what_unique_over_every_minute_gives(units, changes, peaks):
    table = np.zeros((1440, units), dtype=np.int64)
    for minute, unit, post in changes:  # a post from this minute on, for one unit
        table[minute:, unit % units] = post
    period = np.zeros(1440, dtype=np.int64)
    for i, minute in enumerate(peaks):
        period[minute:minute + 90] = i % 2 + 1
    slot_posts, slot_of_minute, used = slots_of(table, period)
    want_posts, want_slot = np.unique(table, axis=0, return_inverse=True)
    np.testing.assert_array_equal(slot_posts, want_posts)
    np.testing.assert_array_equal(slot_of_minute, want_slot.reshape(-1))
    np.testing.assert_array_equal(used, np.unique(np.stack([period, want_slot.reshape(-1)]), axis=1))
    # the rows where some post changes hold every unit's posts (what the world warms and pins)
    rows = _changes(table)
    for u in range(units):
        assert set(rows[:, u].tolist()) == set(np.unique(table[:, u]).tolist())


def test_trim_folder_deletes_the_least_recently_used_first_and_keeps_the_new_one(tmp_path):
    from sim.fileio import trim_folder

    folder = tmp_path / "tables"
    folder.mkdir()
    # (name, bytes, modification time in s): by hand, oldest first: c (10), a (20), d (30), b (40)
    for name, size, mtime in [("a.npy", 300, 20), ("b.npy", 200, 40), ("c.npy", 100, 10),
                              ("d.npy", 400, 30), (".d.npy.123.tmp", 5000, 1)]:
        path = folder / name
        path.write_bytes(b"x" * size)
        os.utime(path, ns=(mtime * 10**9, mtime * 10**9))
    # 1,000 bytes of tables (the temporary file of a write in progress does not count) against
    # a limit of 600: c, then a go (600 left); d is the newest write and is kept whatever its age
    gone = trim_folder(folder, 600, keep=folder / "d.npy")
    assert [p.name for p in gone] == ["c.npy", "a.npy"]
    assert sorted(p.name for p in folder.iterdir()) == [".d.npy.123.tmp", "b.npy", "d.npy"]
    # a limit below the kept file alone: everything else goes, the kept file stays
    assert [p.name for p in trim_folder(folder, 10, keep=folder / "d.npy")] == ["b.npy"]
    assert trim_folder(folder, 10, keep=folder / "d.npy") == []
    assert trim_folder(tmp_path / "missing", 10) == []


def test_the_stored_tables_stay_within_their_limit_and_a_trimmed_table_is_rebuilt(tmp_path,
                                                                                   monkeypatch):
    _, _, free = world_for(tmp_path, _data())  # no limit to speak of: the reference records
    reference = {layout: _records(_run(free, layout)[0]) for layout in free.fleets}
    free.store_rows()
    sizes = sorted(p.stat().st_size for p in free.tables_dir.iterdir())
    assert len(sizes) > 4
    limit = sum(sizes) // 3  # room for a third of them
    monkeypatch.setenv("POLICE_SIM_TABLES_MAX", f"{limit} B")
    for name in ("b.yaml", "c.yaml"):  # later processes, each storing what it lacks
        _, _, world = world_for(tmp_path, _data(), name=name)
        assert world.tables_limit == limit
        files = [p for p in world.tables_dir.iterdir() if not p.name.startswith(".")]
        assert sum(p.stat().st_size for p in files) <= limit  # trimmed as the world was prepared
        for layout in world.fleets:
            assert _records(_run(world, layout)[0]) == reference[layout]
        world.store_rows()
        files = [p for p in world.tables_dir.iterdir() if not p.name.startswith(".")]
        total = sum(p.stat().st_size for p in files)
        assert total <= limit or len(files) == 1


def test_a_malformed_tables_limit_is_reported_by_name(tmp_path, monkeypatch):
    import pytest

    from sim.scenario import ScenarioError

    monkeypatch.setenv("POLICE_SIM_TABLES_MAX", "lots")
    with pytest.raises(ScenarioError, match="POLICE_SIM_TABLES_MAX='lots'"):
        world_for(tmp_path, _data())


def test_stored_search_inputs_of_other_node_positions_are_not_taken(tmp_path):
    """The goal-directed search's node order comes from the nodes' positions, which the graph's
    checksum does not cover: inputs stored for other positions are refused."""
    _, _, first = world_for(tmp_path, _data())
    _run(first)
    oracle = next(o for o in _oracles(first) if o._goal is not None)
    arrays = dict(oracle.export_rows(set()))
    oracle._goal = None
    assert oracle._import_goal(arrays) and oracle._goal is not None
    moved = arrays["goal_x"].copy()
    moved[0] += 1.0
    oracle._goal = None
    assert not oracle._import_goal({**arrays, "goal_x": moved})
    assert not oracle._import_goal({k: v for k, v in arrays.items() if k != "goal_lm"})
    assert not oracle._import_goal({**arrays, "goal_indices": arrays["goal_indices"][:-1]})
    assert oracle._goal is None


def test_a_table_filled_into_its_file_is_the_table_and_a_failed_fill_leaves_no_file(tmp_path):
    want = np.arange(24, dtype=np.float32).reshape(4, 6) * 1.5

    def fill(table: np.ndarray) -> None:
        assert table.shape == (4, 6) and table.dtype == np.float32 and table.flags.writeable
        for j in range(6):  # column by column, as the loop columns are filled
            table[:, j] = want[:, j]

    path = tmp_path / "t.npy"
    got = write_npy_filled(path, (4, 6), np.float32, fill)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32 and not got.flags.writeable
    np.testing.assert_array_equal(np.load(path), want)  # a plain .npy file

    def broken(table: np.ndarray) -> None:
        table[0, 0] = 1.0
        raise RuntimeError("no more")

    try:
        write_npy_filled(tmp_path / "u.npy", (4, 6), np.float32, broken)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the fill's error was swallowed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npy"]


def test_a_table_with_no_room_on_the_disk_is_refused_before_it_is_filled(tmp_path, monkeypatch):
    """Pages of a mapped file without blocks behind them would kill the process with SIGBUS
    when first written on a full disk: the blocks are taken first, and a full disk is an
    OSError, with no file left and nothing filled."""
    import errno

    import sim.fileio as fileio

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "posix_fallocate", full, raising=False)
    filled = []
    try:
        write_npy_filled(tmp_path / "t.npy", (4, 6), np.float32, filled.append)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("a full disk went unnoticed")
    assert not filled and list(tmp_path.iterdir()) == []


def test_a_run_counts_the_searches_its_oracles_ran(tmp_path):
    """EngineResult.searches and .goal_searches (what bench_engine prints) are the oracles' own
    counts over the run. A second run of a layout builds no one-time tables, so the run's counts
    are all its oracles ran (the first run's table builds come before the run's window)."""
    _, _, world = world_for(tmp_path, _data())
    for layout in ("two_posts", "one_post"):
        _run(world, layout)
        before = [(o.searches, o.goal_searches) for o in _oracles(world)]
        result, _ = _run(world, layout)
        after = [(o.searches, o.goal_searches) for o in _oracles(world)]
        assert result.searches == sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        assert result.goal_searches == sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
        assert result.searches + result.goal_searches > 0  # (the counts are not trivially 0)
