"""The results folder: everything needed to reproduce a figure, written atomically.

``results/<scenario>/<run-id>/`` holds:

- ``scenario.yaml`` (the input as given) and ``scenario.resolved.yaml`` (every default filled in,
  command-line overrides applied);
- ``manifest.json``: seed, replications, layouts, versions, input checksums, records checksum,
  network report (the network path as written in the scenario, nodes and edges kept and dropped
  as outside the largest strongly connected component), every place of the scenario with its
  distance to the road it was placed on (``places``) and runtimes;
- ``records.csv``: one row per incident per layout per replication (see ``sim.engine.invariants.FIELDS``);
- ``replications.csv``: metrics per layout, replication and zone class;
- ``summary.csv`` and ``summary.json``: metrics per layout and zone class with 95% CIs;
- the figures written by ``sim.viz.plots``.

The folder is built under a ``.partial`` name (with a ``PARTIAL.txt`` note inside) and renamed at
the end, so a folder without that suffix is always complete. Every file in it is written to a
temporary name, flushed to disk and renamed, so no file is ever seen half-written; the manifest is
written last and lists the SHA-256 of every other file (``files``), which ``run_sim.py verify``
checks before it re-runs the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from sim.fileio import atomic_open, atomic_write_text, fsync_dir, sha256_file, write_csv
from sim.network.graph import RoadNetwork
from sim.scenario import LoadedScenario, Scenario, layout_dispatch
from sim.types import BatchResult
from sim.world.places import place_on_roads

__all__ = [
    "PARTIAL_NOTE",
    "ResultsFolderError",
    "file_checksums",
    "finish_run_dir",
    "new_run_dir",
    "read_manifest",
    "sha256_file",
    "versions",
    "write_results",
]

PARTIAL_NOTE = "PARTIAL.txt"
"""A note inside an unfinished run folder; removed just before the folder gets its final name."""


class ResultsFolderError(Exception):
    """A results folder that cannot be read (no manifest, unfinished, or not a results folder)."""

_PACKAGES = ("simpy", "numpy", "scipy", "networkx", "osmnx", "matplotlib", "pydantic", "PyYAML")


def versions() -> dict[str, str]:
    """Versions of Python, this package and its main dependencies."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        out["police-rapid-response-sim"] = metadata.version("police-rapid-response-sim")
    except metadata.PackageNotFoundError:
        from sim import __version__

        out["police-rapid-response-sim"] = __version__
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def new_run_dir(root: Path, scenario_name: str, seed: int) -> tuple[Path, Path]:
    """Create ``root/<scenario>/<run-id>.partial`` and return (partial dir, final dir)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / scenario_name
    base.mkdir(parents=True, exist_ok=True)
    k = 0
    while True:
        run_id = f"{stamp}-seed{seed}" + (f"-{k}" if k else "")
        final = base / run_id
        partial = base / f"{run_id}.partial"
        if not final.exists() and not partial.exists():
            partial.mkdir()
            atomic_write_text(partial / PARTIAL_NOTE,
                          "This run has not finished (or was interrupted): its results are incomplete.\n"
                          f"When it finishes, this folder is renamed to {final.name}.\n")
            return partial, final
        k += 1


def finish_run_dir(partial: Path, final: Path) -> Path:
    """Rename the finished folder to its final name (atomic on one file system)."""
    (Path(partial) / PARTIAL_NOTE).unlink(missing_ok=True)
    fsync_dir(Path(partial))
    os.replace(partial, final)
    fsync_dir(Path(final).parent)
    return final


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def write_results(run_dir: Path, loaded: LoadedScenario, net: RoadNetwork, batch: BatchResult,
                  *, command: list[str], timings: dict[str, float],
                  replay: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write scenario copies, records, tables and the manifest into ``run_dir``; return the manifest.

    ``replay`` describes a replayed call log (file as given and resolved, checksum, period, snap
    distances); it goes into the manifest as ``replay`` and into ``replay.json``."""
    run_dir = Path(run_dir)
    if not net.places:  # the network as loaded (compare, sweep): place the scenario's points on it
        net = place_on_roads(loaded, net, batch.layouts)
    # the saved pieces only serve to resume an unfinished run; their records are in records.csv now
    shutil.rmtree(run_dir / "pieces", ignore_errors=True)
    (run_dir / "study.json").unlink(missing_ok=True)
    atomic_write_text(run_dir / "scenario.yaml", loaded.text)
    if replay:
        atomic_write_text(run_dir / "replay.json", json.dumps(replay, indent=1, ensure_ascii=False))
    resolved = batch.scenario.model_dump(mode="json")
    atomic_write_text(run_dir / "scenario.resolved.yaml",
                  "# The scenario as run: every default filled in, command-line overrides applied.\n"
                  + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, width=100))
    records_path = run_dir / "records.csv"
    with atomic_open(records_path) as fh:
        batch.records.write_csv(fh)
    per_rep_cols = ["layout", "replication", "zone"]
    per_rep = [{**{k: r[k] for k in per_rep_cols}, **{k: v for k, v in r.items() if k not in per_rep_cols}}
               for r in batch.per_replication]
    write_csv(run_dir / "replications.csv", per_rep)
    write_csv(run_dir / "summary.csv", batch.summary)
    atomic_write_text(run_dir / "summary.json", json.dumps(
        [{k: _clean(v) for k, v in row.items()} for row in batch.summary], indent=1, ensure_ascii=False))
    manifest = {
        "scenario": batch.scenario.name,
        "run_id": run_dir.name.removesuffix(".partial"),
        "command": command,
        "seed": batch.seed,
        "replications": batch.replications,
        "layouts": batch.layouts,
        "baseline": batch.scenario.baseline_layout(),
        "dispatch_policy": dispatch_policies(batch.scenario, batch.layouts),
        "duration_s": batch.scenario.run.duration,
        "warmup_s": batch.scenario.run.warmup,
        "incidents_simulated": batch.incidents_simulated,
        "inputs": {
            "scenario_file": str(loaded.path),
            "scenario_sha256": hashlib.sha256(loaded.text.encode("utf-8")).hexdigest(),
            "network_source": net.source,
            "network_path": loaded.scenario.network.path,
            "network_path_resolved": str(loaded.resolve_path(loaded.scenario.network.path))
            if loaded.scenario.network.path else None,
            "network_input_sha256": net.checksum,
        },
        "network": {**{k: v for k, v in net.report.items() if k != "places"},
                    "nodes_as_loaded": net.report.get("nodes"), "edges_as_loaded": net.report.get("edges"),
                    "nodes": net.n_nodes, "edges": net.n_edges,  # places' nodes included
                    "simplify": loaded.scenario.network.simplify},
        "places": net.report.get("places", []),
        **({"replay": replay} if replay else {}),
        "records_sha256": sha256_file(records_path),
        "files": file_checksums(run_dir),
        "versions": versions(),
        "runtime_s": {k: round(v, 3) for k, v in timings.items()},
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(run_dir / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def dispatch_policies(scenario: Scenario, layouts: list[str]) -> dict[str, str]:
    """The dispatch policy each layout ran with (``layouts.<name>.dispatch`` over ``dispatch``)."""
    return {name: layout_dispatch(scenario, name).policy for name in layouts}


def file_checksums(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in a results folder (relative path -> hex), except the manifest."""
    run_dir = Path(run_dir)
    out = {}
    for f in sorted(run_dir.rglob("*")):
        rel = f.relative_to(run_dir).as_posix()
        if f.is_file() and rel not in ("manifest.json", PARTIAL_NOTE) and not f.name.endswith(".tmp"):
            out[rel] = sha256_file(f)
    return out


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a finished results folder.

    Raises
    ------
    ResultsFolderError
        If the folder does not exist, is unfinished (``.partial``), or has no readable manifest.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ResultsFolderError(f"{run_dir}: no such results folder")
    if run_dir.name.endswith(".partial") or (run_dir / PARTIAL_NOTE).exists():
        raise ResultsFolderError(f"{run_dir}: this run did not finish (an unfinished .partial "
                                 "folder); there is nothing complete to verify")
    path = run_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFolderError(f"{run_dir}: no manifest.json; is this a results folder "
                                 "(results/<scenario>/<run-id>)?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFolderError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or "records_sha256" not in manifest:
        raise ResultsFolderError(f"{path}: not a run manifest (no records_sha256)")
    return manifest
