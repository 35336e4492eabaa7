"""The results folder: everything needed to reproduce a figure, written atomically.

``results/<scenario>/<run-id>/`` holds:

- ``scenario.yaml`` (the input as given) and ``scenario.resolved.yaml`` (every default filled in,
  command-line overrides applied);
- ``manifest.json``: seed, replications, layouts, versions, input checksums, records checksum,
  network report and runtimes;
- ``records.csv``: one row per incident per layout per replication (see ``sim.records.FIELDS``);
- ``replications.csv``: metrics per layout, replication and zone class;
- ``summary.csv`` and ``summary.json``: metrics per layout and zone class with 95% CIs;
- the figures written by ``sim.plots``.

The folder is built under a ``.partial`` name and renamed at the end, so a folder without that
suffix is always complete.
"""

from __future__ import annotations

import csv
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

from .config import LoadedScenario
from .experiment import BatchResult
from .network.graph import RoadNetwork

__all__ = ["new_run_dir", "finish_run_dir", "write_results", "versions"]

_PACKAGES = ("simpy", "numpy", "scipy", "networkx", "osmnx", "matplotlib", "pydantic", "PyYAML")


def versions() -> dict[str, str]:
    """Versions of Python, this package and its main dependencies."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        out["police-rapid-response-sim"] = metadata.version("police-rapid-response-sim")
    except metadata.PackageNotFoundError:
        from . import __version__

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
            return partial, final
        k += 1


def finish_run_dir(partial: Path, final: Path) -> Path:
    """Rename the finished folder to its final name (atomic on one file system)."""
    os.replace(partial, final)
    return final


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        _atomic_write(path, "")
        return
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if _clean(v) is None else (f"{v:.6g}" if isinstance(v, float) else v))
                             for k, v in row.items()})
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_results(run_dir: Path, loaded: LoadedScenario, net: RoadNetwork, batch: BatchResult,
                  *, command: list[str], timings: dict[str, float]) -> dict[str, Any]:
    """Write scenario copies, records, tables and the manifest into ``run_dir``; return the manifest."""
    run_dir = Path(run_dir)
    _atomic_write(run_dir / "scenario.yaml", loaded.text)
    resolved = batch.scenario.model_dump(mode="json")
    _atomic_write(run_dir / "scenario.resolved.yaml",
                  "# The scenario as run: every default filled in, command-line overrides applied.\n"
                  + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, width=100))
    records_path = run_dir / "records.csv"
    batch.records.to_csv(records_path.with_name("records.csv.tmp"))
    os.replace(records_path.with_name("records.csv.tmp"), records_path)
    per_rep_cols = ["layout", "replication", "zone"]
    per_rep = [{**{k: r[k] for k in per_rep_cols}, **{k: v for k, v in r.items() if k not in per_rep_cols}}
               for r in batch.per_replication]
    _write_table(run_dir / "replications.csv", per_rep)
    _write_table(run_dir / "summary.csv", batch.summary)
    _atomic_write(run_dir / "summary.json", json.dumps(
        [{k: _clean(v) for k, v in row.items()} for row in batch.summary], indent=1, ensure_ascii=False))
    manifest = {
        "scenario": batch.scenario.name,
        "run_id": run_dir.name.removesuffix(".partial"),
        "command": command,
        "seed": batch.seed,
        "replications": batch.replications,
        "layouts": batch.layouts,
        "baseline": batch.scenario.baseline_layout(),
        "duration_s": batch.scenario.run.duration,
        "warmup_s": batch.scenario.run.warmup,
        "incidents_simulated": batch.incidents_simulated,
        "inputs": {
            "scenario_file": str(loaded.path),
            "scenario_sha256": hashlib.sha256(loaded.text.encode("utf-8")).hexdigest(),
            "network_source": net.source,
            "network_input_sha256": net.checksum,
        },
        "network": {"nodes": net.n_nodes, "edges": net.n_edges, **net.report},
        "records_sha256": _sha256(records_path),
        "versions": versions(),
        "runtime_s": {k: round(v, 3) for k, v in timings.items()},
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def remove_partial(partial: Path) -> None:
    """Remove an unfinished run folder (used when a run fails before it is complete)."""
    shutil.rmtree(partial, ignore_errors=True)
