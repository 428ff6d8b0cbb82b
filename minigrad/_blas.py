"""NumPy's BLAS (OpenBLAS) threads: read and set their number, and park the idle ones.

The CPU convolution runs its chunks of images on minigrad's own threads, each calling a one-thread GEMM
(each thread's columns stay in its core's cache, and no copy touches the whole batch). Two things make
that work next to OpenBLAS's own thread pool:

* ``single_threaded()`` sets OpenBLAS to one thread for the duration of a block (restored after).
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
park_enabled = os.environ.get("MINIGRAD_PARK_BLAS", "1").strip() != "0"
"""``park()`` does something only when this is true (environment: ``MINIGRAD_PARK_BLAS=0`` turns it off)."""


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
