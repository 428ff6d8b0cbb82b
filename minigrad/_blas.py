"""NumPy's BLAS (OpenBLAS) threads: the policy for minigrad's GEMMs, one-thread blocks, parking the idle ones.

The CPU convolution runs its chunks of images on minigrad's own threads, each calling a one-thread GEMM
(each thread's columns stay in its core's cache, and no copy touches the whole batch). Two things make
that work next to OpenBLAS's own thread pool:

* ``single_threaded()`` sets OpenBLAS to one thread for the duration of a block (restored after).
* ``gemm(flops)``: minigrad's GEMMs run under this policy. OpenBLAS is set to one thread at import;
  a GEMM of at least ``LARGE_GEMM_FLOPS`` gets as many threads as there are free cores. "Free" is read
  from the kernel (runnable tasks in ``/proc/loadavg`` minus this process's own, refreshed every
  0.1 s): on a machine busy with other work, a multi-threaded GEMM waits for its slowest thread, whose
  core is taken, and a training run became 2x slower (measured: ``make train-cnn`` 49 s instead of 22 s
  with one of two cores busy; 28-30 s with this policy). ``MINIGRAD_BLAS_THREADS=numpy`` leaves OpenBLAS's
  thread count alone (NumPy's own default, all cores for every GEMM).
* ``park()`` ends OpenBLAS's idle worker threads. After every multi-threaded call they spin, waiting for
  the next one, for about 2**28 cycles (~0.1 s) before they sleep: on a small machine that spinning takes
  a core away from minigrad's threads (measured: a LeNet training step 1.5x slower). OpenBLAS starts them
  again at its next multi-threaded call (tens of microseconds). ``parallel`` sections call it.

The library is found from ``/proc/self/maps`` and called through ctypes. Where that is not possible
(another BLAS, another OS) ``available`` is False and BLAS is left as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np  # noqa: F401  (NumPy's BLAS must be loaded before it is looked for)

_get: Any = None
_set: Any = None
_shutdown: Any = None
_lock = threading.Lock()
_depth = 0  # nesting of single_threaded() blocks, across threads
_saved = 1


def _find() -> None:
    global _get, _set, _shutdown
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                getter = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if getter is not None and setter is not None:
                    getter.restype, getter.argtypes = ctypes.c_int, []
                    setter.restype, setter.argtypes = None, [ctypes.c_int]
                    _get, _set = getter, setter
                    _shutdown = getattr(lib, "blas_thread_shutdown_", None)
                    if _shutdown is not None:
                        _shutdown.restype, _shutdown.argtypes = ctypes.c_int, []
                    return


_find()
available = _get is not None
"""Whether the BLAS thread count can be changed (NumPy linked to OpenBLAS, on Linux)."""
_full = int(_get()) if available else 1  # OpenBLAS's own default: the cores (or OPENBLAS_NUM_THREADS)
policy = available and _full > 1 and os.environ.get("MINIGRAD_BLAS_THREADS", "auto").strip() != "numpy"
"""Whether minigrad chooses BLAS threads per GEMM (see the module docstring)."""
LARGE_GEMM_FLOPS = 1 << 24
"""16.8 MFLOP (about 170 microseconds on one core): a second thread gives 1.7-2x from here up (measured at
17-400 MFLOP); below, the gain is smaller and OpenBLAS's idle workers spin afterwards (at 4 MFLOP the
digit-reading RNN model was 10% slower)."""
if policy:
    _set(1)
_free = (-1.0, 1)  # (time of the reading, free cores)
park_enabled = os.environ.get("MINIGRAD_PARK_BLAS", "1").strip() != "0"
"""``park()`` does something only when this is true (environment: ``MINIGRAD_PARK_BLAS=0`` turns it off)."""


def _read_free_cores() -> int:
    """Cores not taken by other processes: ``_full`` minus the runnable tasks that are not ours."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
        ours = 0
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R":
                ours += 1
    except (OSError, ValueError, IndexError):
        return _full
    return max(1, min(_full, _full - (running - ours)))


def free_cores() -> int:
    """How many cores a GEMM may use now (read at most every 0.1 s)."""
    global _free
    now = time.monotonic()
    if now - _free[0] > 0.1:
        _free = (now, _read_free_cores())
    return _free[1]


@contextlib.contextmanager
def gemm(flops: float) -> Iterator[None]:
    """Run minigrad's GEMM(s) of ``flops`` in the block with the policy's thread count: one thread, or
    the free cores for a large one. Nothing changes inside ``single_threaded()`` blocks or without the
    policy."""
    n = free_cores() if policy and flops >= LARGE_GEMM_FLOPS and _depth == 0 else 1
    if n <= 1:
        yield
        return
    _set(n)
    try:
        yield
    finally:
        if _depth == 0:
            _set(1)


def mm(a: Any, b: Any) -> Any:
    """``a @ b`` under the policy: a large GEMM gets the free cores, a small one one thread."""
    flops = 2 * a.size * (b.shape[-1] if b.ndim > 1 else 1)
    if flops < LARGE_GEMM_FLOPS or not policy:
        return a @ b
    with gemm(flops):
        return a @ b


def get_num_threads() -> int:
    """The BLAS thread count (1 when it cannot be read)."""
    return int(_get()) if _get is not None else 1


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with a one-thread BLAS (the count is restored when the last such block ends, so
    blocks may nest and overlap across threads)."""
    global _depth, _saved
    if _set is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = int(_get())
            if _saved != 1:
                _set(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved != 1:
                _set(_saved)


def _alone() -> bool:
    """No other thread could be inside a BLAS call: every other Python thread is one of minigrad's
    helpers or a daemon (a progress bar's monitor)."""
    me = threading.current_thread()
    return all(t is me or t.daemon or t.name.startswith("minigrad-") for t in threading.enumerate())


def park() -> None:
    """End OpenBLAS's idle worker threads, so that their spinning does not slow the threads minigrad is
    about to run. Skipped when another thread might be using BLAS, and with ``park_enabled`` false."""
    if _shutdown is not None and park_enabled and _alone():
        _shutdown()
