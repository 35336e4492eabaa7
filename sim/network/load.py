"""Load a road network from any source through osmnx, keep the drivable part, and cache it.

Sources (``network.source`` in the scenario):

- ``synthetic``: the built-in synthetic central-Shaoyang network, generated as an OSM XML file
  (``sim.network.synth``) and read with :func:`osmnx.graph_from_xml`, the same code path as a real
  ``.osm`` extract;
- ``file``: a local ``.osm``, ``.osm.bz2`` (read by ``graph_from_xml``) or ``.graphml`` file;
- ``place`` / ``bbox``: an online download through osmnx, saved as GraphML in the cache so that the
  next run is offline. When there is no network connection it fails within seconds with
  :class:`NetworkSourceError`, suggesting the local-file route.

Whatever the source, the graph is reduced to drivable roads; unless ``network.simplify`` is
false, chains through junctions of degree 2 are merged (osmnx ``simplify_graph``), keeping every
node the scenario refers to (:class:`Keep`: the two ends of the road segment nearest to each
place, and the OSM ids of ``demand.points``). The largest strongly connected component is kept;
how many nodes and edges were dropped is reported, and the dropped road segments are kept aside
so that a place on them can be named. A network with no two places connected both ways is
refused with one message. An edge without a length, or with a zero length, gets the length of its
geometry or of the straight line between its ends (great circle); a negative length, or no
length between two nodes at one place, is refused. Parallel edges are later reduced to the
fastest one by the oracle. The result, a :class:`~sim.network.graph.RoadNetwork`, is cached on disk
keyed by the input checksum and what is kept. A cache entry is never trusted blindly: its
metadata must name the same key and input and match its own SHA-256 (``meta_sha256``), its array
file must match the SHA-256 recorded in the metadata, and the arrays must form a valid graph;
anything else (truncated, corrupt, edited, stale or foreign) is deleted and rebuilt. Entries are
written to temporary files and renamed, so a crash never leaves half an entry, and a cache
folder that cannot be written only costs the rebuild next time.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from sim.fileio import sha256_file
from sim.network.graph import LocalFrame, RoadNetwork

__all__ = [
    "DRIVABLE_CLASSES",
    "Keep",
    "NetworkSourceError",
    "default_cache_dir",
    "file_checksum",
    "load_network",
    "network_from_osmnx",
]

LOADER_VERSION = "3"
"""Bump when the loader changes what it keeps, so old cache entries are not reused."""

DRIVABLE_CLASSES = frozenset({
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "service", "road",
})
"""OSM ``highway`` values a police car may drive on."""

OPT_IN_CLASSES = frozenset({"track"})
"""Rural OSM ``highway`` values kept only when the scenario's ``network.speeds`` names them (then
they are driven at that speed); otherwise dropped, so urban networks do not change."""

_NO_ACCESS = frozenset({"no", "private"})
_SERVICE_EXCLUDED = frozenset({"parking_aisle", "driveway", "private", "emergency_access"})

log = logging.getLogger(__name__)


class NetworkSourceError(RuntimeError):
    """The road network cannot be obtained or has no usable drivable roads."""


def default_cache_dir() -> Path:
    """Where networks are cached: ``$POLICE_SIM_CACHE``, else ``$XDG_CACHE_HOME/police-sim``,
    else ``~/.cache/police-sim``."""
    env = os.environ.get("POLICE_SIM_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "police-sim"


def file_checksum(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return sha256_file(path)


# ---------------------------------------------------------------------------------------------
# osmnx graph -> arrays

WALK_ONLY_CLASSES = frozenset({"footway", "pedestrian", "path", "steps"})
"""OSM ``highway`` values only people on foot may use (kept for foot patrols, never for cars)."""


def _walk_only(data: dict[str, Any]) -> str | None:
    """The class of a footway / pedestrian street people may walk on, or None."""
    values = data.get("highway")
    values = values if isinstance(values, list) else [values]
    cls = next((v for v in values if isinstance(v, str) and v in WALK_ONLY_CLASSES), None)
    if cls is None:
        return None
    for key in ("access", "foot"):
        v = data.get(key)
        if any(x in _NO_ACCESS for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)):
            return None
    return cls


def _first_drivable(value: Any, extra: frozenset[str] = frozenset()) -> str | None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str) and (v in DRIVABLE_CLASSES or v in extra):
            return v
    return None


def _edge_allowed(data: dict[str, Any], extra: frozenset[str] = frozenset()) -> str | None:
    """The drivable road class of an edge (``extra``: opted-in classes), or None if cars may not
    use it."""
    cls = _first_drivable(data.get("highway"), extra)
    if cls is None:
        return None

    def has(key: str, bad: frozenset[str]) -> bool:
        v = data.get(key)
        vals = v if isinstance(v, list) else [v]
        return any(isinstance(x, str) and x in bad for x in vals)

    if has("access", _NO_ACCESS) or has("motor_vehicle", _NO_ACCESS) or has("motorcar", _NO_ACCESS):
        return None
    if cls == "service" and has("service", _SERVICE_EXCLUDED):
        return None
    if has("area", frozenset({"yes"})):
        return None
    return cls


def _drivable_subgraph(G: Any, *, walkable: bool = False, extra: frozenset[str] = frozenset()
                       ) -> tuple[Any, dict[str, int]]:
    """Remove edges cars cannot use (keeping footways too if ``walkable``), and lone nodes."""
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
            if _edge_allowed(d, extra) is None and not (walkable and _walk_only(d))]
    n_edges = G.number_of_edges()
    H = G.copy()
    H.remove_edges_from(drop)
    H.remove_nodes_from([n for n in list(H.nodes) if H.degree(n) == 0])
    return H, {"edges_in_file": n_edges, "edges_not_drivable": len(drop)}


def network_from_osmnx(G: Any, *, source: str, checksum: str,
                       rivers: dict[str, list[tuple[float, float]]] | None = None,
                       extra: frozenset[str] = frozenset()) -> RoadNetwork:
    """Turn an osmnx MultiDiGraph (lon/lat node coordinates) into a :class:`RoadNetwork`.

    Keeps the largest strongly connected component of the drivable roads, plus the footways and
    pedestrian streets between its nodes (flagged walk-only: for units on foot, never for cars).
    Raises :class:`NetworkSourceError` if no drivable road is left.
    """
    import networkx as nx  # loading only; never used in the event loop

    walk_edges = [(u, v, k, d) for u, v, k, d in G.edges(keys=True, data=True)
                  if _edge_allowed(d, extra) is None and _walk_only(d)]
    H, report = _drivable_subgraph(G, extra=extra)
    if H.number_of_edges() == 0:
        raise NetworkSourceError(f"{source}: the network has no drivable roads "
                                 f"(highway={', '.join(sorted(DRIVABLE_CLASSES))})")
    components = list(nx.strongly_connected_components(H))
    largest = max(components, key=lambda c: (len(c), min(c)))
    if len(largest) < 2:
        raise NetworkSourceError(
            f"{source}: the drivable roads form no network a car can drive both ways between two "
            f"places ({H.number_of_nodes()} nodes, {H.number_of_edges()} edges, no two of them "
            "connected in both directions: a single one-way street?); use a larger extract")
    report["nodes_drivable"] = H.number_of_nodes()
    report["strong_components"] = len(components)
    report["nodes_dropped_outside_largest_scc"] = H.number_of_nodes() - len(largest)
    cut = [(u, v) for u, v in H.edges() if not (u in largest and v in largest)]
    report["edges_dropped_outside_largest_scc"] = len(cut)
    dropped = np.array([[float(H.nodes[a][c]) for a in (u, v) for c in ("x", "y")] for u, v in cut],
                       dtype=float).reshape(-1, 4)
    H = H.subgraph(largest).copy()
    kept_walk = [(u, v, k, d) for u, v, k, d in walk_edges if u in largest and v in largest]
    H.add_edges_from((u, v, ("walk", k), d) for u, v, k, d in kept_walk)
    report["walk_only_edges"] = len(kept_walk)

    nodes = sorted(H.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    lon = np.array([float(H.nodes[n]["x"]) for n in nodes])
    lat = np.array([float(H.nodes[n]["y"]) for n in nodes])
    edges = sorted(((index[u], index[v], k, d) for u, v, k, d in H.edges(keys=True, data=True)),
                   key=lambda e: (e[0], e[1], str(e[2])))
    edges = [e for e in edges if e[0] != e[1]]  # self-loops never shorten a route
    walk_only = np.array([_edge_allowed(e[3], extra) is None for e in edges], dtype=bool)
    classes_per_edge = [_edge_allowed(e[3], extra) or _walk_only(e[3]) or "road" for e in edges]
    classes = tuple(sorted(set(classes_per_edge)))
    cls_index = {c: i for i, c in enumerate(classes)}
    frame = LocalFrame(lon0=float((lon.min() + lon.max()) / 2), lat0=float((lat.min() + lat.max()) / 2))
    x, y = frame.to_local(lon, lat)
    length, computed = _edge_lengths(H, nodes, edges, source)
    report["edge_lengths_from_coordinates"] = computed
    report["nodes"] = len(nodes)
    report["edges"] = len(edges)
    report["parallel_edges"] = len(edges) - len({(e[0], e[1]) for e in edges})
    return RoadNetwork(
        osmid=np.array([int(n) if not isinstance(n, int) else n for n in nodes], dtype=np.int64),
        lon=lon, lat=lat, x=np.asarray(x), y=np.asarray(y),
        edge_u=np.array([e[0] for e in edges], dtype=np.int32),
        edge_v=np.array([e[1] for e in edges], dtype=np.int32),
        edge_length=length,
        edge_class=np.array([cls_index[c] for c in classes_per_edge], dtype=np.int16),
        classes=classes, frame=frame, source=source, checksum=checksum, report=report,
        rivers=rivers or {}, edge_walk_only=walk_only, dropped_segments=dropped,
    )


def _ground_m(lon: np.ndarray, lat: np.ndarray) -> float:
    """Length (m) of a polyline of lon/lat points (haversine, mean Earth radius)."""
    p, lam = np.radians(lat), np.radians(lon)
    h = np.sin(np.diff(p) / 2) ** 2 + np.cos(p[:-1]) * np.cos(p[1:]) * np.sin(np.diff(lam) / 2) ** 2
    return float(np.sum(2 * 6_371_009.0 * np.arcsin(np.minimum(1.0, np.sqrt(h)))))


def _edge_lengths(H: Any, nodes: list[Any], edges: list[tuple[int, int, Any, dict[str, Any]]],
                  source: str) -> tuple[np.ndarray, int]:
    """Each edge's length (m): its ``length`` attribute, or when that is missing or zero, the
    length of its geometry or of the straight line between its ends. Returns the lengths and how
    many were computed.

    Raises
    ------
    NetworkSourceError
        For a negative or non-numeric length, or an edge of no length between two nodes at the
        same place (naming its OSM nodes).
    """
    out = np.empty(len(edges))
    computed = 0
    for k, (u, v, _key, d) in enumerate(edges):
        raw = d.get("length")
        try:
            value = float(raw) if raw is not None else 0.0
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise NetworkSourceError(f"{source}: the edge from OSM node {nodes[u]} to {nodes[v]} has "
                                     f"the length {raw!r}; lengths must be metres, not negative")
        if value == 0:
            geom = d.get("geometry")
            if geom is not None and hasattr(geom, "coords") and len(geom.coords) >= 2:
                xy = np.asarray(geom.coords, dtype=float)
            else:
                xy = np.array([[H.nodes[nodes[u]]["x"], H.nodes[nodes[u]]["y"]],
                               [H.nodes[nodes[v]]["x"], H.nodes[nodes[v]]["y"]]], dtype=float)
            value = _ground_m(xy[:, 0], xy[:, 1])
            computed += 1
            if not value > 0:
                raise NetworkSourceError(
                    f"{source}: the edge from OSM node {nodes[u]} to {nodes[v]} has no length and its "
                    "two ends are at the same place; merge the two nodes or give the edge a length")
        out[k] = value
    return out, computed


# ---------------------------------------------------------------------------------------------
# readers

PROTECTED = "police_sim_place"
"""Node attribute that keeps a node through simplification (osmnx ``node_attrs_include``)."""


def _read_osm_xml(path: Path, keep: Keep | None = None, extra: frozenset[str] = frozenset()) -> Any:
    import osmnx as ox

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # osmnx warns about missing metadata in hand-made files
            G = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except Exception as exc:  # osmnx raises many types for bad files
        raise NetworkSourceError(f"{path}: cannot read as OSM XML ({type(exc).__name__}: {exc})") from None
    return _simplify(G, path, keep, extra)


@dataclass(frozen=True)
class Keep:
    """What simplification must keep: whether to simplify at all, the scenario's places
    (``points``, lon/lat degrees: the two ends of the road segment nearest to each are kept)
    and OSM node ids the scenario names (``osmids``)."""

    simplify: bool = True
    points: tuple[tuple[float, float], ...] = ()
    osmids: tuple[int, ...] = ()

    def key(self) -> str:
        """A short digest of what is kept, for the cache key."""
        text = json.dumps([self.simplify, sorted(self.points), sorted(self.osmids)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _protect(G: Any, keep: Keep) -> int:
    """Mark the nodes ``keep`` names (see :class:`Keep`); return how many were marked."""
    from sim.network.snap import nearest_segments

    marked = set()
    for n in keep.osmids:
        if n in G.nodes:
            marked.add(n)
    road = [(u, v) for u, v, d in G.edges(data=True) if _edge_allowed(d) is not None and u != v]
    if keep.points and road:
        lon = np.array([[G.nodes[u]["x"], G.nodes[v]["x"]] for u, v in road], dtype=float)
        lat = np.array([[G.nodes[u]["y"], G.nodes[v]["y"]] for u, v in road], dtype=float)
        frame = LocalFrame(float(lon.mean()), float(lat.mean()))
        x, y = frame.to_local(lon, lat)
        px, py = frame.to_local(np.array([p[0] for p in keep.points]), np.array([p[1] for p in keep.points]))
        k, _, _ = nearest_segments(np.column_stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]]), px, py)
        for i in k:
            marked.update(road[int(i)])
    for n in marked:
        G.nodes[n][PROTECTED] = True
    return len(marked)


def _simplify(G: Any, path: Path | str, keep: Keep | None = None,
              extra: frozenset[str] = frozenset()) -> Any:
    import osmnx as ox

    keep = keep or Keep()
    if G.number_of_edges() == 0:
        raise NetworkSourceError(f"{path}: the file holds no roads")
    drivable, _ = _drivable_subgraph(G, extra=extra)
    if drivable.number_of_edges() == 0:
        raise NetworkSourceError(f"{path}: the network has no drivable roads")
    roads, _ = _drivable_subgraph(G, walkable=True, extra=extra)  # footways stay, for units on foot
    if G.graph.get("simplified") or not keep.simplify:
        return roads
    _protect(roads, keep)
    return ox.simplify_graph(roads, node_attrs_include=[PROTECTED])


def _read_graphml(path: Path, keep: Keep | None = None, extra: frozenset[str] = frozenset()) -> Any:
    import osmnx as ox

    try:
        G = ox.load_graphml(path)
    except Exception as exc:
        raise NetworkSourceError(f"{path}: cannot read as GraphML ({type(exc).__name__}: {exc})") from None
    return _simplify(G, path, keep, extra)


def _read_rivers(path: Path) -> dict[str, list[tuple[float, float]]]:
    """River centre lines (``waterway=river`` ways) from an OSM XML file, for maps."""
    import xml.etree.ElementTree as ET

    opener = bz2.open if path.suffix == ".bz2" else open
    try:
        with opener(path, "rb") as fh:
            root = ET.parse(fh).getroot()
    except (ET.ParseError, OSError, EOFError):
        return {}
    coords = {n.get("id"): (float(n.get("lon", "nan")), float(n.get("lat", "nan")))
              for n in root.iter("node")}
    rivers: dict[str, list[tuple[float, float]]] = {}
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags.get("waterway") != "river":
            continue
        name = tags.get("name") or f"river {way.get('id')}"
        pts = [coords[nd.get("ref")] for nd in way.iter("nd") if nd.get("ref") in coords]
        rivers.setdefault(name, []).extend(pts)
    return rivers


def _check_online(timeout_s: float = 3.0) -> None:
    """Fail fast when osmnx's servers cannot be reached (no 60 s waits on an offline machine)."""
    import osmnx as ox

    for url in (ox.settings.overpass_url, ox.settings.nominatim_url):
        host = urlparse(url).hostname
        if not host:
            continue
        try:
            with socket.create_connection((host, 443), timeout=timeout_s):
                pass
        except OSError as exc:
            raise NetworkSourceError(
                f"cannot reach {host} to download the road network ({exc.__class__.__name__}). "
                "This machine looks offline. Use a local file instead: download an extract once "
                "(e.g. an .osm or .graphml file) and set in the scenario\n"
                "  network: {source: file, path: path/to/city.osm}"
            ) from None


def _download(spec: dict[str, Any], target: Path) -> None:
    import osmnx as ox

    _check_online()
    ox.settings.requests_timeout = 30
    ox.settings.overpass_rate_limit = False
    try:
        if spec["source"] == "place":
            G = ox.graph_from_place(spec["place"], network_type="drive", simplify=False, retain_all=True)
        else:
            G = ox.graph_from_bbox(tuple(spec["bbox"]), network_type="drive", simplify=False,
                                   retain_all=True)
    except Exception as exc:
        raise NetworkSourceError(f"download failed ({type(exc).__name__}: {exc}); "
                                 "use network: {source: file, path: ...} with a local extract") from None
    tmp = target.with_suffix(".tmp.graphml")
    ox.save_graphml(G, tmp)
    os.replace(tmp, target)


# ---------------------------------------------------------------------------------------------
# cache

_ARRAYS = ("osmid", "lon", "lat", "edge_u", "edge_v", "edge_length", "edge_class", "edge_walk_only",
           "dropped_segments")


def _write_atomically(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` through a unique temporary file in the same folder, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _save_cache(net: RoadNetwork, npz: Path, key: str = "") -> None:
    """Write a cache entry: the arrays (``.npz``) first, then the metadata (``.json``) naming the
    arrays' checksum. A failure (e.g. a read-only cache folder) is logged, never raised."""
    meta = {
        "key": key, "loader_version": LOADER_VERSION,
        "classes": list(net.classes), "lon0": net.frame.lon0, "lat0": net.frame.lat0,
        "source": net.source, "checksum": net.checksum, "report": net.report,
        "rivers": {k: [list(p) for p in v] for k, v in net.rivers.items()},
    }
    try:
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(net, k) for k in _ARRAYS}
        if arrays["dropped_segments"] is None:
            arrays["dropped_segments"] = np.zeros((0, 4))
        _write_atomically(npz, lambda fh: np.savez(fh, **arrays))
        meta["npz_sha256"] = file_checksum(npz)
        meta["meta_sha256"] = _meta_checksum(meta)
        _write_atomically(npz.with_suffix(".json"), lambda fh: fh.write(json.dumps(meta, indent=1)),
                          mode="w")
    except OSError as exc:
        log.warning("could not write the network cache entry %s (%s); it will be rebuilt next time",
                    npz, exc)


def _meta_checksum(meta: dict[str, Any]) -> str:
    """SHA-256 of the metadata without its own checksum (canonical JSON), so an edit is seen."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _valid_arrays(a: dict[str, np.ndarray], n_classes: int) -> str | None:
    """Why cached arrays do not form a valid network, or None if they do."""
    missing = [k for k in _ARRAYS if k not in a]
    if missing:
        return f"missing arrays {missing}"
    n, m = a["osmid"].shape[0], a["edge_u"].shape[0]
    if n == 0 or m == 0:
        return "empty graph"
    if any(a[k].shape != (n,) for k in ("osmid", "lon", "lat")):
        return "node arrays of different lengths"
    if any(a[k].shape != (m,) for k in ("edge_u", "edge_v", "edge_length", "edge_class")):
        return "edge arrays of different lengths"
    if a["edge_u"].dtype.kind not in "iu" or a["edge_v"].dtype.kind not in "iu":
        return "edge ends are not integers"
    if min(a["edge_u"].min(), a["edge_v"].min()) < 0 or max(a["edge_u"].max(), a["edge_v"].max()) >= n:
        return "edge ends out of range"
    if not np.all(np.isfinite(a["edge_length"])) or np.any(a["edge_length"] <= 0):
        return "edge lengths not positive"
    if not (np.all(np.isfinite(a["lon"])) and np.all(np.isfinite(a["lat"]))):
        return "node coordinates not finite"
    if a["edge_class"].min() < 0 or a["edge_class"].max() >= n_classes:
        return "road classes out of range"
    if a["dropped_segments"].ndim != 2 or a["dropped_segments"].shape[1] != 4:
        return "dropped segments not of shape [k, 4]"
    return None


def _discard(npz: Path, why: str) -> None:
    log.warning("network cache entry %s is %s; rebuilding it", npz.name, why)
    for f in (npz, npz.with_suffix(".json")):
        with contextlib.suppress(OSError):
            f.unlink(missing_ok=True)


def _load_cache(npz: Path, key: str = "") -> RoadNetwork | None:
    """A cached network, or None if there is none or it cannot be trusted (then it is deleted)."""
    meta_path = npz.with_suffix(".json")
    if not (npz.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            _discard(npz, "unreadable (metadata is not an object)")
            return None
        if key and meta.get("key") != key:
            _discard(npz, "stale or foreign (its metadata names another key)")
            return None
        if meta.get("loader_version") != LOADER_VERSION:
            _discard(npz, "stale (written by another loader version)")
            return None
        if meta.get("meta_sha256") != _meta_checksum(meta):
            _discard(npz, "corrupt (its metadata was changed after it was written)")
            return None
        if file_checksum(npz) != meta["npz_sha256"]:
            _discard(npz, "corrupt (checksum mismatch)")
            return None
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        classes = tuple(str(c) for c in meta["classes"])
        why = _valid_arrays(arrays, len(classes))
        if why:
            _discard(npz, f"invalid ({why})")
            return None
        frame = LocalFrame(float(meta["lon0"]), float(meta["lat0"]))
        x, y = frame.to_local(arrays["lon"], arrays["lat"])
        return RoadNetwork(
            osmid=arrays["osmid"], lon=arrays["lon"], lat=arrays["lat"], x=x, y=y,
            edge_u=arrays["edge_u"], edge_v=arrays["edge_v"], edge_length=arrays["edge_length"],
            edge_class=arrays["edge_class"], edge_walk_only=arrays["edge_walk_only"].astype(bool),
            dropped_segments=arrays["dropped_segments"],
            classes=classes, frame=frame,
            source=str(meta["source"]), checksum=str(meta["checksum"]), report=dict(meta["report"]),
            rivers={str(k): [(float(p[0]), float(p[1])) for p in v] for k, v in meta["rivers"].items()},
        )
    except Exception as exc:
        _discard(npz, f"unreadable ({type(exc).__name__}: {exc})")
        return None


def _cached(key_parts: list[str], cache_dir: Path, build: Callable[[], RoadNetwork]) -> RoadNetwork:
    key = hashlib.sha256("\n".join([LOADER_VERSION, *key_parts]).encode()).hexdigest()[:24]
    npz = cache_dir / "networks" / f"{key}.npz"
    net = _load_cache(npz, key)
    if net is not None:
        return net
    net = build()
    _save_cache(net, npz, key)
    return net


def load_network(spec: dict[str, Any], *, base_dir: Path | None = None,
                 cache_dir: Path | None = None, progress: Callable[[str], None] | None = None,
                 keep_points: list[tuple[float, float]] | None = None,
                 keep_osmids: list[int] | None = None) -> RoadNetwork:
    """Load the network a scenario's ``network`` section describes.

    Parameters
    ----------
    spec : the ``network`` section as a dict (``source``, ``seed``, ``path``, ``place``, ``bbox``).
    base_dir : folder that relative ``path`` values are resolved against (the scenario's folder).
    cache_dir : cache folder (default :func:`default_cache_dir`).
    progress : optional callback for one-line status messages.
    keep_points, keep_osmids : the scenario's places (lon/lat) and the OSM node ids it names:
        simplification (``spec["simplify"]``, default true) keeps the ends of the road segment
        nearest to each place, and the named nodes.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    keep = Keep(simplify=bool(spec.get("simplify", True)),
                points=tuple((float(a), float(b)) for a, b in keep_points or ()),
                osmids=tuple(int(n) for n in keep_osmids or ()))
    say = progress or (lambda _msg: None)
    source = spec["source"]
    t0 = time.perf_counter()
    extra = frozenset(c for c in spec.get("speeds") or {} if c in OPT_IN_CLASSES)
    opt_in = [f"+{','.join(sorted(extra))}"] if extra else []  # cache key: unchanged without

    if source == "synthetic" and spec.get("synthetic", "central") != "central":
        from sim.network import synth_county

        kind, seed, size = spec["synthetic"], int(spec.get("seed", 2017)), float(spec.get("size", 1.0))
        osm = cache_dir / "networks" / f"synthetic-{kind}-{seed}-{size:g}.osm"
        write = synth_county.write_synthetic_city if kind == "city" else synth_county.write_synthetic_county

        def build_rural() -> RoadNetwork:
            say(f"generating the synthetic {kind} network (seed {seed}, size {size:g}) ...")
            write(osm, seed, size)
            return network_from_osmnx(_read_osm_xml(osm, keep, extra), extra=extra, rivers=_read_rivers(osm),
                                      source=f"synthetic {kind} (seed {seed}, size {size:g})",
                                      checksum=file_checksum(osm))

        net = _cached(["synthetic", kind, str(seed), f"{size:g}", synth_county.COUNTY_VERSION, keep.key(),
                       *opt_in],
                      cache_dir, build_rural)
    elif source == "synthetic":
        from sim.network.synth import write_synthetic_shaoyang

        seed = int(spec.get("seed", 2017))
        osm = cache_dir / "networks" / f"synthetic-shaoyang-{seed}.osm"

        def build_synth() -> RoadNetwork:
            say(f"generating the synthetic Shaoyang network (seed {seed}) ...")
            osm.parent.mkdir(parents=True, exist_ok=True)
            write_synthetic_shaoyang(osm, seed=seed)
            G = _read_osm_xml(osm, keep, extra)
            return network_from_osmnx(G, source=f"synthetic central Shaoyang (seed {seed})",
                                      checksum=file_checksum(osm), rivers=_read_rivers(osm), extra=extra)

        from sim.network import synth

        net = _cached(["synthetic", str(seed), getattr(synth, "GENERATOR_VERSION", "1"), keep.key(),
                       *opt_in], cache_dir, build_synth)
    elif source == "file":
        path = Path(spec["path"]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = (base_dir / path).resolve()
        if not path.is_file():
            what = ("is a folder, not a network file" if path.is_dir() else
                    "is not a regular file (a device or a pipe?)" if path.exists() else "not found")
            raise NetworkSourceError(f"network file {what}: {path}")
        checksum = file_checksum(path)
        name = path.name.lower()

        def build_file() -> RoadNetwork:
            say(f"reading {path.name} with osmnx ...")
            if name.endswith(".graphml"):
                G, rivers = _read_graphml(path, keep, extra), {}
            elif name.endswith((".osm", ".xml", ".osm.bz2", ".xml.bz2")):
                G, rivers = _read_osm_xml(path, keep, extra), _read_rivers(path)
            else:
                raise NetworkSourceError(f"{path}: unknown network file type; use .osm, .osm.bz2 or .graphml")
            return network_from_osmnx(G, source=f"file {path.name}", checksum=checksum, rivers=rivers,
                                      extra=extra)

        net = _cached(["file", checksum, keep.key(), *opt_in], cache_dir, build_file)
    elif source in ("place", "bbox"):
        query = spec["place"] if source == "place" else ",".join(f"{v:.6f}" for v in spec["bbox"])
        qkey = hashlib.sha256(f"{source}:{query}".encode()).hexdigest()[:16]
        graphml = cache_dir / "downloads" / f"{source}-{qkey}.graphml"
        if not graphml.exists():
            graphml.parent.mkdir(parents=True, exist_ok=True)
            say(f"downloading the road network for {query!r} (cached afterwards) ...")
            _download(spec, graphml)
        checksum = file_checksum(graphml)

        def build_dl() -> RoadNetwork:
            G = _read_graphml(graphml, keep)
            return network_from_osmnx(G, source=f"OpenStreetMap download ({source}: {query})",
                                      checksum=checksum)

        try:
            net = _cached(["download", checksum, keep.key()], cache_dir, build_dl)
        except NetworkSourceError as exc:
            # a download kept in the cache that no longer reads (truncated, corrupt): fetch it again
            log.warning("cached download %s is unreadable (%s); downloading it again", graphml.name, exc)
            graphml.unlink(missing_ok=True)
            say(f"downloading the road network for {query!r} again (the cached copy was corrupt) ...")
            _download(spec, graphml)
            checksum = file_checksum(graphml)
            net = _cached(["download", checksum, keep.key()], cache_dir, build_dl)
    else:  # pragma: no cover - the schema allows only the sources above
        raise NetworkSourceError(f"unknown network source {source!r}")
    log.info("network ready in %.2f s: %s", time.perf_counter() - t0, net.source)
    return net
