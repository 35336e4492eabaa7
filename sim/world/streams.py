"""Named random streams: one ``numpy.random.Generator`` per purpose, per replication.

Streams are derived from the run seed with :class:`numpy.random.SeedSequence`: the stream for
purpose ``name`` in replication ``r`` uses the spawn key ``(r, crc32(name))``. The same seed and
replication give the same numbers in any process, whatever else runs, and adding a new purpose
never shifts the numbers of an existing one. Nothing seeds a global generator.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream", "streams"]


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for purpose ``name`` in replication ``replication`` of a run seeded ``seed``."""
    key = (int(replication), zlib.crc32(name.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


def streams(seed: int, replication: int, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """Several named generators at once (see :func:`stream`)."""
    return {n: stream(seed, replication, n) for n in names}
