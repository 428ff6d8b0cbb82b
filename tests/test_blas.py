"""minigrad/_blas.py: the one-thread BLAS blocks of the CPU convolution; parking OpenBLAS's idle threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from minigrad import _blas

needs_openblas = pytest.mark.skipif(not _blas.available, reason="NumPy's BLAS is not a known OpenBLAS")


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@needs_openblas
def test_single_threaded_blocks_nest_overlap_across_threads_and_restore():
    before = _blas.get_num_threads()
    seen = []
    entered, may_leave, left = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with _blas.single_threaded():
            seen.append(_blas.get_num_threads())
            entered.set()
            may_leave.wait(5)
        seen.append(_blas.get_num_threads())
        left.set()

    with _blas.single_threaded():  # nested blocks
        assert _blas.get_num_threads() == 1
        with _blas.single_threaded():
            assert _blas.get_num_threads() == 1
        assert _blas.get_num_threads() == 1
    assert _blas.get_num_threads() == before
    with _blas.single_threaded():  # the other thread's block opens and closes inside this one
        t = threading.Thread(target=other)
        t.start()
        entered.wait(5)
        may_leave.set()
        left.wait(5)
        assert _blas.get_num_threads() == 1
    t.join(5)
    assert seen == [1, 1] and _blas.get_num_threads() == before
    entered.clear(), may_leave.clear(), left.clear()
    t = threading.Thread(target=other)
    with _blas.single_threaded():  # this block closes first, the other thread's block still open
        t.start()
        entered.wait(5)
    assert _blas.get_num_threads() == 1
    may_leave.set()
    t.join(5)
    assert seen[2:] == [1, before] and _blas.get_num_threads() == before


@needs_openblas
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_park_ends_idle_openblas_threads_and_blas_starts_them_again():
    if _blas.get_num_threads() < 2 or _blas._shutdown is None:
        pytest.skip("OpenBLAS runs one thread here")
    if not _blas._alone():
        pytest.skip("another thread of this process might be using BLAS")
    a = np.random.default_rng(0).standard_normal((400, 400))
    ref = a @ a  # a multi-threaded GEMM: OpenBLAS's workers exist now
    running = _os_threads()
    _blas.park()
    assert _os_threads() < running
    np.testing.assert_array_equal(a @ a, ref)  # OpenBLAS starts its workers again, same result
    assert _os_threads() == running


@needs_openblas
def test_park_is_skipped_while_another_thread_might_use_blas(monkeypatch):
    calls = []
    monkeypatch.setattr(_blas, "_shutdown", lambda: calls.append(1))
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, args=(5,), name="user-worker")  # not a daemon: might use BLAS
    t.start()
    try:
        _blas.park()
        assert calls == []
    finally:
        stop.set()
        t.join(5)
    _blas.park()
    assert calls == [1]
    monkeypatch.setattr(_blas, "park_enabled", False)
    _blas.park()
    assert calls == [1]


def test_park_can_be_turned_off_from_the_environment():
    env = dict(os.environ, MINIGRAD_PARK_BLAS="0")
    out = subprocess.run([sys.executable, "-c", "from minigrad import _blas; print(_blas.park_enabled)"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
