"""Small file helpers shared by every layer: checksums, atomic writes and CSV tables.

A file is written to a temporary name next to its target and renamed into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_open", "atomic_write_text", "format_cell", "fsync_dir", "sha256_file", "trim_folder",
           "write_csv"]


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk, where the system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


class atomic_open:
    """``with atomic_open(path) as fh:`` writes a uniquely named temporary file next to ``path``,
    flushes it to disk and renames it over ``path`` only if the block finished; otherwise the
    temporary file is removed. Concurrent writers never share a temporary file."""

    def __init__(self, path: Path, mode: str = "w") -> None:
        self.path = Path(path)
        self.mode = mode

    def __enter__(self) -> Any:
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.chmod(self.tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual mode
        if "b" in self.mode:
            self.fh = os.fdopen(fd, self.mode)
        else:
            self.fh = os.fdopen(fd, self.mode, encoding="utf-8", newline="")
        return self.fh

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            if kind is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            self.fh.close()
            if kind is None:
                os.replace(self.tmp, self.path)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    with atomic_open(path) as fh:
        fh.write(text)


def format_cell(value: Any) -> Any:
    """A table cell: floats with 6 significant digits, NaN as an empty cell."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write dict rows as CSV (columns from the first row), atomically; no rows, an empty file."""
    with atomic_open(path) as fh:
        if rows:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows({k: format_cell(v) for k, v in r.items()} for r in rows)


def trim_folder(folder: Path, limit: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used files of ``folder`` (oldest modification time first, ties
    by name) until its files take at most ``limit`` bytes; ``keep`` and temporary files (names
    starting with ".") are never deleted. Files another process deletes meanwhile, or that
    cannot be deleted, are skipped. Returns the files deleted."""
    entries = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.name.startswith(".") or not e.is_file(follow_symlinks=False):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append((st.st_mtime_ns, e.name, st.st_size))
    except OSError:
        return []
    total = sum(size for _, _, size in entries)
    gone: list[Path] = []
    for _, name, size in sorted(entries):
        if total <= limit:
            break
        path = Path(folder) / name
        if keep is not None and path == Path(keep):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            continue
        total -= size
        gone.append(path)
    return gone
