"""``run_sim.py verify RESULTS_DIR``: re-run a finished run from its manifest and compare.

A results folder holds the scenario as given (``scenario.yaml``) and a manifest with the seed,
replications, layouts, run length, the checksums of the inputs, of ``records.csv`` and of every
other file. Verifying

1. checks that the folder is complete and unmodified (every file against its checksum);
2. checks that the inputs are the same: the scenario copy against the manifest, and the road
   network input (file bytes, or the generator's output) against ``network_input_sha256`` — a
   re-run on other inputs would prove nothing, so a changed input is refused;
3. re-runs the same scenario, seed, replications, layouts and run length (in ``workers``
   processes, which must not matter), writes the records as CSV and compares their SHA-256 with
   ``records_sha256``; on a mismatch it shows the first record that differs.

Exit codes of the command: 0 reproduced, 1 not reproduced or folder modified, 2 cannot verify
(not a finished results folder, or inputs changed).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.fileio import sha256_file
from sim.scenario import load_scenario_text
from sim.study.folder import ResultsFolderError, read_manifest

__all__ = ["VerifyInputError", "VerifyReport", "verify_run"]


class VerifyInputError(Exception):
    """The run cannot be verified: its inputs are gone or changed (exit code 2)."""


@dataclass
class VerifyReport:
    """What :func:`verify_run` found.

    Attributes
    ----------
    run_dir : the results folder.
    problems : files missing or changed since the run (the folder is not as written).
    expected_sha256, actual_sha256 : records checksum in the manifest, and of the re-run.
    first_difference : the first differing line of ``records.csv`` (line number, old, new), if any.
    incidents, seconds, workers : size and time of the re-run.
    notes : remarks (e.g. why the re-run used one process).
    """

    run_dir: Path
    problems: list[str] = field(default_factory=list)
    expected_sha256: str = ""
    actual_sha256: str = ""
    first_difference: tuple[int, str, str] | None = None
    incidents: int = 0
    seconds: float = 0.0
    workers: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return not self.problems and bool(self.actual_sha256) and self.actual_sha256 == self.expected_sha256

    def text(self) -> str:
        lines = [f"verify {self.run_dir}"]
        for p in self.problems:
            lines.append(f"  MODIFIED  {p}")
        lines += [f"  note: {n}" for n in self.notes]
        if self.actual_sha256:
            lines.append(f"  re-ran {self.incidents:,} incidents in {self.seconds:.1f} s "
                         f"({self.workers} worker process{'es' if self.workers > 1 else ''})")
            lines.append(f"  records_sha256 in manifest: {self.expected_sha256}")
            lines.append(f"  records_sha256 of re-run:   {self.actual_sha256}")
        if self.first_difference:
            n, old, new = self.first_difference
            lines.append(f"  first difference, records.csv line {n}:\n    was: {old}\n    now: {new}")
        lines.append("REPRODUCED: identical records" if self.reproduced else
                     "NOT REPRODUCED" + (" (the folder was modified)" if self.problems else ""))
        return "\n".join(lines)


class _HashWriter:
    """A text sink that hashes what is written (UTF-8) and can also keep it in a file."""

    def __init__(self, fh: Any | None = None) -> None:
        self.h = hashlib.sha256()
        self.fh = fh

    def write(self, text: str) -> int:
        self.h.update(text.encode("utf-8"))
        if self.fh is not None:
            self.fh.write(text)
        return len(text)


def _first_difference(old: Path, new: Path) -> tuple[int, str, str] | None:
    try:
        with open(old, encoding="utf-8", newline="") as a, open(new, encoding="utf-8", newline="") as b:
            n = 0
            while True:
                n += 1
                la, lb = a.readline(), b.readline()
                if la != lb:
                    return n, la.rstrip("\n") or "<end of file>", lb.rstrip("\n") or "<end of file>"
                if not la:
                    return None
    except OSError:
        return None


def verify_run(run_dir: Path, *, workers: int = 1, cache_dir: Path | None = None,
               progress: Callable[[str], None] | None = None,
               replay: Callable[[dict[str, Any]], Any] | None = None) -> VerifyReport:
    """Verify a finished results folder (see the module docstring).

    A run that replayed a call log (``replay`` in its manifest) is re-run on the same log:
    ``replay`` turns the manifest's note into the incidents provider, raising
    :class:`VerifyInputError` when the log is gone or changed (``sim.cli`` passes
    ``sim.cli.calls.replay_for_verify``; this layer cannot read call logs itself).

    Raises
    ------
    ResultsFolderError
        Not a finished results folder.
    VerifyInputError
        The scenario or network input is gone or changed.
    ScenarioError, NetworkSourceError
        The stored scenario no longer validates, or its network cannot be loaded.
    """
    from sim.study.experiment import RunOptions, apply_overrides, load_net, run_batch, run_study
    from sim.world.prepare import prepare_world

    say = progress or (lambda _m: None)
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    report = VerifyReport(run_dir=run_dir, expected_sha256=str(manifest["records_sha256"]))

    # 1. the folder as written
    records_path = run_dir / "records.csv"
    if not records_path.is_file():
        report.problems.append("records.csv is missing")
    elif sha256_file(records_path) != report.expected_sha256:
        report.problems.append("records.csv does not match records_sha256")
    for rel, digest in sorted((manifest.get("files") or {}).items()):
        f = run_dir / rel
        if rel == "records.csv":
            continue
        if not f.is_file():
            report.problems.append(f"{rel} is missing")
        elif sha256_file(f) != digest:
            report.problems.append(f"{rel} changed since the run")

    # 2. the inputs
    inputs = manifest.get("inputs") or {}
    copy = run_dir / "scenario.yaml"
    try:
        text = copy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFolderError(f"{copy}: cannot read the scenario copy ({exc})") from None
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != inputs.get("scenario_sha256"):
        report.problems.append("scenario.yaml does not match the manifest's scenario_sha256")
        return report
    original = Path(str(inputs.get("scenario_file") or copy))
    loaded = load_scenario_text(text, file=str(copy), path=original)
    if not original.is_file() or sha256_file(original) != inputs.get("scenario_sha256"):
        if workers > 1:
            report.notes.append(f"the scenario file {original} is gone or changed since the run; "
                                "re-running its stored copy in this process")
        workers = 1
    for key in ("layouts", "replications", "seed", "duration_s"):
        if key not in manifest:
            raise ResultsFolderError(f"{run_dir / 'manifest.json'}: no '{key}'; cannot re-run")
    loaded = apply_overrides(loaded, RunOptions(
        layouts=tuple(manifest["layouts"]), replications=int(manifest["replications"]),
        seed=int(manifest["seed"]), duration_s=float(manifest["duration_s"]), cache_dir=cache_dir))
    net = load_net(loaded, cache_dir, say)
    expected_net = inputs.get("network_input_sha256")
    if expected_net and net.checksum != expected_net:
        raise VerifyInputError(
            f"{run_dir}: the road network input changed since this run (it was {expected_net[:12]}..., "
            f"now {net.checksum[:12]}...): a re-run would not be the same experiment")

    incidents = None
    note = manifest.get("replay")
    if note:
        if replay is None:
            raise VerifyInputError(f"{run_dir}: this run replayed a call log; verify it with "
                                   "run_sim.py verify, which re-reads the log")
        incidents = replay(note)

    # 3. re-run and compare
    command = [str(c) for c in manifest.get("command") or []]
    kind = command[1] if len(command) > 1 and command[1] in ("run", "compare", "sweep") else "run"
    say(f"re-running {kind}: {len(manifest['layouts'])} layout(s) x {manifest['replications']} "
        f"replication(s), seed {manifest['seed']} ...")
    t0 = time.perf_counter()
    if kind == "run":
        batch = run_batch(loaded, prepare_world(loaded, net), workers=workers, cache_dir=cache_dir,
                          incidents=incidents)
    else:
        batch = run_study(loaded, sweep=kind == "sweep", workers=workers, cache_dir=cache_dir,
                          incidents=incidents)
    report.seconds = time.perf_counter() - t0
    report.workers = workers
    report.incidents = int(batch.incidents_simulated)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        new = Path(tmp) / "records.csv"
        with open(new, "w", encoding="utf-8", newline="") as fh:
            sink = _HashWriter(fh)
            batch.records.write_csv(sink)
        report.actual_sha256 = sink.h.hexdigest()
        if records_path.is_file() and (report.actual_sha256 != report.expected_sha256
                                       or sha256_file(records_path) != report.actual_sha256):
            report.first_difference = _first_difference(records_path, new)
    return report
