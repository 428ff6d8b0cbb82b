"""CPU helpers shared by the convolution and the pooling: reused workspaces and helper threads.

Workspaces. Large temporaries (padded images, im2col columns) live in a small per-thread cache keyed
by their shape: page faults on fresh buffers are expensive, so reusing a buffer pays even on the CPU.
Nothing that is returned or saved in the graph aliases a workspace.

Threads. NumPy releases the GIL while it copies, adds, compares and multiplies matrices, so memory-bound
passes and per-chunk work can be split over ``num_threads`` threads (disjoint memory for each).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .. import _blas

__all__ = ["workspace", "clear_workspaces", "parallel", "num_threads", "workspace_limit_bytes"]

workspace_limit_bytes = 512 * 2**20
"""Upper bound on the bytes of cached workspaces per thread (a buffer larger than half of it is never
cached)."""


class Entry:
    """A cached buffer ``a`` and a ``tag`` saying what it holds (``None``: unknown)."""

    __slots__ = ("a", "tag")

    def __init__(self, a: np.ndarray) -> None:
        self.a = a
        self.tag: Any = None


class _Workspaces(threading.local):
    def __init__(self) -> None:
        self.entries: OrderedDict = OrderedDict()
        self.nbytes = 0


_WS = _Workspaces()


def clear_workspaces() -> None:
    """Free the cached convolution/pooling workspaces of the calling thread."""
    _WS.entries.clear()
    _WS.nbytes = 0


def workspace(key: tuple, size: int, dtype: Any, fill: float | None = None) -> Entry:
    """A flat NumPy buffer of ``size`` elements for temporary use inside one call.

    ``fill`` is applied only when the buffer is created: callers that rely on a region staying at
    that value (the zero border of a padded image) never write into it.
    """
    dtype = np.dtype(dtype)
    full = (key, int(size), dtype.str, fill)
    e = _WS.entries.get(full)
    if e is not None:
        _WS.entries.move_to_end(full)
        return e
    a = np.empty(size, dtype) if fill is None else np.full(size, fill, dtype)
    e = Entry(a)
    nbytes = a.nbytes
    if nbytes <= workspace_limit_bytes // 2:
        while _WS.entries and _WS.nbytes + nbytes > workspace_limit_bytes:
            _, old = _WS.entries.popitem(last=False)
            _WS.nbytes -= old.a.nbytes
        _WS.entries[full] = e
        _WS.nbytes += nbytes
    return e


def _threads() -> int:
    """The usable cores (at most 8), or the first of MINIGRAD_NUM_THREADS, OMP_NUM_THREADS,
    OPENBLAS_NUM_THREADS that is set (so a run limited to one BLAS thread is limited here too)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    for var in ("MINIGRAD_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            n = int(value)
            break
    return max(1, min(n, 8))


num_threads = _threads()
"""Threads used by the CPU convolution and pooling. May be changed at run time."""
PAR_MIN_BYTES = 1 << 20
_POOL: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, workers, pool)
_POOL_LOCK = threading.Lock()


def _helpers(workers: int) -> ThreadPoolExecutor:
    """The helper threads (made again after a fork: threads do not survive it)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] != workers:
            _POOL = (os.getpid(), workers, ThreadPoolExecutor(workers, thread_name_prefix="minigrad-cpu"))
        return _POOL[2]


def parallel(fn: Callable[[int, int], None], n: int, nbytes: int) -> None:
    """Run ``fn(lo, hi)`` on disjoint chunks of ``range(n)``: the calling thread does the first chunk and
    helper threads the others (only when the pass is large enough, ``nbytes``, to pay for the hand-off)."""
    k = min(num_threads, n)
    if k < 2 or nbytes < PAR_MIN_BYTES:
        fn(0, n)
        return
    pool = _helpers(num_threads - 1)
    _blas.park()
    bounds = [n * i // k for i in range(k + 1)]
    futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, k)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()
