"""Small file helpers shared by every layer: checksums, atomic writes and CSV tables.

A file is written to a temporary name next to its target and renamed into place, so a reader
never sees half a file.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

__all__ = ["atomic_open", "atomic_write_text", "format_cell", "fsync_dir", "read_npz_mapped",
           "sha256_file", "trim_folder", "write_csv", "write_npy_filled", "write_npz_aligned"]


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


_ALIGN = 64
"""Where the arrays of :func:`write_npz_aligned` start: a multiple of 64 bytes into the file, as
a ``.npy`` header pads its data within its member."""
_PADDING_ID = 0xD935
"""The header id of the extra field that pads a member's local header (the one zipalign uses)."""


def write_npz_aligned(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the open binary file ``fh`` as an uncompressed ``.npz`` that
    :func:`numpy.load` reads as ever, with each array's data at a multiple of 64 bytes into
    the file (an extra field in each member's local header pads it), so that
    :func:`read_npz_mapped` can map every array in place, aligned."""
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            # local header (30 bytes), name, padding field (4 + p), zip64 sizes (20, forced)
            fixed = fh.tell() + 30 + len(info.filename.encode()) + 4 + 20
            info.extra = struct.pack("<HH", _PADDING_ID, -fixed % _ALIGN) + bytes(-fixed % _ALIGN)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def write_npy_filled(path: Path, shape: tuple[int, ...], dtype: Any,
                     fill: Callable[[np.ndarray], None]) -> np.ndarray:
    """Write an ``.npy`` file of ``shape`` and ``dtype`` whose values ``fill`` puts into the
    array it is given: the file itself, memory-mapped (written atomically, as
    :class:`atomic_open`). Returns the finished file, mapped read-only.

    A table of a gigabyte is then never held in this process's own memory: what ``fill``
    writes goes to the file's pages, which the system writes out and may drop, as it may the
    pages of the mapping returned. If ``fill`` raises, or the disk has no room for the file
    (an ``OSError`` before ``fill`` runs), no file is left."""
    dtype = np.dtype(dtype)
    with atomic_open(path, "w+b") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": shape})
        offset = fh.tell()
        nbytes = math.prod(shape) * dtype.itemsize
        fh.flush()
        if nbytes and hasattr(os, "posix_fallocate"):
            # the blocks are taken now: a full disk is an OSError here, not a SIGBUS when a
            # page of the mapping is first written
            os.posix_fallocate(fh.fileno(), offset, nbytes)
        else:
            fh.truncate(offset + nbytes)
        if nbytes:
            table = np.memmap(fh, dtype=dtype, mode="r+", offset=offset, shape=shape)
            fill(table)
            table.flush()
            del table
        else:
            fill(np.empty(shape, dtype=dtype))
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.asarray(mapped)


def read_npz_mapped(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz``, read-only, each memory-mapped where it lies in
    the file (or, where it does not lie aligned for its type, copied).

    ``numpy.load`` reads every member into memory and checks its CRC: tens of milliseconds for
    the tens of megabytes of rows a world keeps, in every process, with a private copy in each.
    Mapped, pages are read when first used and shared by the processes of the machine. Files
    from :func:`write_npz_aligned` map whole. Raises ``ValueError`` for a compressed or
    non-``.npy`` member, one holding Python objects, or one cut short; the CRCs are not checked
    (the files are written atomically).
    """
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
        members = archive.infolist()
        if not members:
            return out
        whole = np.memmap(fh, dtype=np.uint8, mode="r")  # one mapping (page-aligned) for all
        for info in members:
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"{path}: member {info.filename} is not a stored .npy")
            fh.seek(info.header_offset)
            local = fh.read(30)  # the member's local header; its name and extra field follow
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"{path}: member {info.filename} has no local header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"{path}: member {info.filename} has .npy version {version}")
            if dtype.hasobject:
                raise ValueError(f"{path}: member {info.filename} holds Python objects")
            offset = fh.tell()
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes != info.file_size - (offset - start) or offset + nbytes > len(whole):
                raise ValueError(f"{path}: member {info.filename} is cut short")
            order: Literal["C", "F"] = "F" if fortran else "C"
            array = np.asarray(whole[offset:offset + nbytes]).view(dtype)
            array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
            if offset % dtype.alignment:  # (a file numpy wrote: copied, aligned)
                array = np.array(array, order=order)
            array.setflags(write=False)
            out[info.filename[:-4]] = array
    return out
