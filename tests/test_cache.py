"""The network cache: keyed by checksum; corrupt, stale or foreign entries are rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sim.network import load as netload
from sim.network.load import load_network

from .conftest import write_grid_osm

SPEC = {"source": "file", "path": "grid.osm"}


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    write_grid_osm(tmp_path / "grid.osm")
    return tmp_path


def _load(folder: Path, cache: Path) -> tuple[object, list[str]]:
    said: list[str] = []
    net = load_network(SPEC, base_dir=folder, cache_dir=cache, progress=said.append)
    return net, said


def _entry(cache: Path) -> tuple[Path, Path]:
    (npz,) = sorted((cache / "networks").glob("*.npz"))
    return npz, npz.with_suffix(".json")


def _same(a, b) -> None:
    for name in ("osmid", "lon", "lat", "edge_u", "edge_v", "edge_length", "edge_class"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.classes == b.classes and a.checksum == b.checksum


def test_second_load_comes_from_the_cache(grid, tmp_path):
    cache = tmp_path / "cache"
    first, said = _load(grid, cache)
    assert any("reading grid.osm" in s for s in said)
    again, said = _load(grid, cache)
    assert said == []  # nothing read or built
    _same(first, again)
    npz, meta = _entry(cache)
    m = json.loads(meta.read_text())
    assert m["npz_sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()
    assert m["key"] == npz.stem and m["loader_version"] == netload.LOADER_VERSION
    assert not list((cache / "networks").glob("*.tmp"))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def _flip(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0xFF
    p.write_bytes(bytes(b))


def _garbage(p: Path) -> None:
    p.write_text("not what you think")


def _empty(p: Path) -> None:
    p.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _flip, _garbage, _empty], ids=lambda f: f.__name__)
@pytest.mark.parametrize("which", ["npz", "json"])
def test_damaged_entry_is_detected_and_rebuilt(grid, tmp_path, damage, which):
    cache = tmp_path / "cache"
    good, _ = _load(grid, cache)
    npz, meta = _entry(cache)
    damage(npz if which == "npz" else meta)
    net, said = _load(grid, cache)
    assert any("reading grid.osm" in s for s in said), "the damaged entry was trusted"
    _same(good, net)
    # and the rebuilt entry is whole again
    _, said = _load(grid, cache)
    assert said == []


def test_missing_half_of_an_entry_is_rebuilt(grid, tmp_path):
    cache = tmp_path / "cache"
    _load(grid, cache)
    npz, meta = _entry(cache)
    meta.unlink()
    _, said = _load(grid, cache)
    assert said
    npz.unlink()
    _, said = _load(grid, cache)
    assert said


def _rewrite(npz: Path, meta: Path, **changes) -> None:
    """Replace arrays in an entry and give it a matching checksum (a 'valid-looking' bad entry)."""
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    with open(npz, "wb") as fh:
        np.savez(fh, **arrays)
    m = json.loads(meta.read_text())
    m["npz_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    m["meta_sha256"] = netload._meta_checksum(m)  # a careful forger: the metadata checks out too
    meta.write_text(json.dumps(m))


@pytest.mark.parametrize("edit", ["node_count", "dropped_count", "source", "frame"])
def test_an_edited_metadata_file_is_detected_and_rebuilt(grid, tmp_path, edit):
    cache = tmp_path / "cache"
    good, _ = _load(grid, cache)
    _, meta = _entry(cache)
    m = json.loads(meta.read_text())
    if edit == "node_count":
        m["report"]["nodes"] += 1
    elif edit == "dropped_count":
        m["report"]["nodes_dropped_outside_largest_scc"] = 7
    elif edit == "source":
        m["source"] = "file elsewhere.osm"
    else:
        m["lon0"] += 0.01
    meta.write_text(json.dumps(m, indent=1))
    net, said = _load(grid, cache)
    assert any("reading grid.osm" in s for s in said), "the edited metadata was trusted"
    _same(good, net)
    assert net.report == good.report and net.source == good.source


@pytest.mark.parametrize("change", ["edge_out_of_range", "negative_length", "short_array", "no_edges"])
def test_checksummed_but_invalid_arrays_are_rebuilt(grid, tmp_path, change):
    cache = tmp_path / "cache"
    good, _ = _load(grid, cache)
    npz, meta = _entry(cache)
    bad = {"edge_out_of_range": {"edge_v": good.edge_v + 10_000},
           "negative_length": {"edge_length": -good.edge_length},
           "short_array": {"lon": good.lon[:-1]},
           "no_edges": {k: getattr(good, k)[:0] for k in ("edge_u", "edge_v", "edge_length", "edge_class")},
           }[change]
    _rewrite(npz, meta, **bad)
    net, said = _load(grid, cache)
    assert said
    _same(good, net)


@pytest.mark.parametrize("field", ["key", "loader_version"])
def test_stale_or_foreign_metadata_is_rebuilt(grid, tmp_path, field):
    cache = tmp_path / "cache"
    _load(grid, cache)
    _, meta = _entry(cache)
    m = json.loads(meta.read_text())
    m[field] = "something else"
    meta.write_text(json.dumps(m))
    _, said = _load(grid, cache)
    assert said


def test_a_changed_input_file_gets_its_own_entry(grid, tmp_path):
    cache = tmp_path / "cache"
    first, _ = _load(grid, cache)
    write_grid_osm(grid / "grid.osm", nx=6, ny=5, spacing=300.0)
    second, said = _load(grid, cache)
    assert said and second.checksum != first.checksum and second.n_nodes != first.n_nodes
    assert len(list((cache / "networks").glob("*.npz"))) == 2


def test_an_unwritable_cache_only_costs_a_rebuild(grid, tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(netload, "_write_atomically", refuse)
    cache = tmp_path / "cache"
    net, said = _load(grid, cache)
    assert net.n_nodes > 0 and said
    _, said = _load(grid, cache)
    assert said  # nothing was cached, so it is built again; no error


def test_a_corrupt_cached_download_is_fetched_again(grid, tmp_path, monkeypatch):
    import osmnx as ox

    cache = tmp_path / "cache"
    G = ox.graph_from_xml(grid / "grid.osm", simplify=True, retain_all=True)
    good = tmp_path / "good.graphml"
    ox.save_graphml(G, good)
    calls = []

    def fake_download(spec, target):
        calls.append(spec["place"])
        target.write_bytes(good.read_bytes())

    monkeypatch.setattr(netload, "_download", fake_download)
    spec = {"source": "place", "place": "Test Town"}
    qkey = hashlib.sha256(b"place:Test Town").hexdigest()[:16]
    cached = cache / "downloads" / f"place-{qkey}.graphml"
    cached.parent.mkdir(parents=True)
    cached.write_text("<graphml><graph>truncated")  # a download cut off earlier
    net = load_network(spec, cache_dir=cache)
    assert calls == ["Test Town"] and net.n_nodes > 0
    assert cached.read_bytes() == good.read_bytes()
