"""Closures run in forked worker processes: the figures of a brief are independent, and a worker
forked after the results, the network and the world are loaded starts warm (nothing to import,
load or send). Only on Linux, where ``fork`` is the proven start method here (as for the
study's pieces); elsewhere, and with one worker, everything runs in this process.

A closure cannot be pickled, so the pending closures are kept in a module list that the forked
workers inherit, and only their index is sent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

__all__ = ["in_background", "run_all", "workers_here"]

_PENDING: list[Callable[[], Any]] = []
"""The closures being run, inherited by the forked workers."""


def workers_here() -> int:
    """Two where workers can be forked (Linux) and the machine has two cores or more, else one."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _call(i: int) -> Any:
    return _PENDING[i]()


def run_all(jobs: Sequence[Callable[[], Any]], workers: int,
            done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """Every job's result, in the jobs' order, from ``workers`` forked processes (in this one if
    ``workers`` is 1 or there are fewer than four jobs). ``done(i, result)`` hears each job as it
    finishes."""
    if workers <= 1 or len(jobs) < 4 or not sys.platform.startswith("linux"):
        out = []
        for i, job in enumerate(jobs):
            out.append(job())
            if done:
                done(i, out[-1])
        return out
    start = len(_PENDING)
    _PENDING.extend(jobs)
    results: dict[int, Any] = {}
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            futures = {pool.submit(_call, start + i): i for i in range(len(jobs))}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if done:
                    done(i, results[i])
    finally:
        del _PENDING[start:]
    return [results[i] for i in range(len(jobs))]


class _Inline:
    """A job run when its result is asked for (no worker to run it meanwhile)."""

    def __init__(self, job: Callable[[], Any]) -> None:
        self._job = job

    def result(self) -> Any:
        return self._job()


@contextmanager
def in_background(job: Callable[[], Any], enabled: bool = True) -> Iterator[Future[Any] | _Inline]:
    """Start ``job`` in a forked process while the ``with`` block runs; its ``result()`` waits for
    it (and raises what it raised). Disabled, or off Linux, ``result()`` runs it then."""
    if not enabled or not sys.platform.startswith("linux"):
        yield _Inline(job)
        return
    start = len(_PENDING)
    _PENDING.append(job)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) as pool:
            yield pool.submit(_call, start)
    finally:
        del _PENDING[start:]
