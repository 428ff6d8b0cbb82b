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
    if _blas._full < 2 or _blas._shutdown is None:
        pytest.skip("OpenBLAS runs one thread here")
    if not _blas._alone():
        pytest.skip("another thread of this process might be using BLAS")
    before = _blas.get_num_threads()  # 1 under minigrad's policy: give this test OpenBLAS's default
    _blas._set(_blas._full)
    try:
        a = np.random.default_rng(0).standard_normal((400, 400))
        ref = a @ a  # a multi-threaded GEMM: OpenBLAS's workers exist now
        running = _os_threads()
        _blas.park()
        assert _os_threads() < running
        np.testing.assert_array_equal(a @ a, ref)  # OpenBLAS starts its workers again, same result
        assert _os_threads() == running
    finally:
        _blas._set(before)


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


# --- the thread policy: one thread for small GEMMs, the free cores for large ones -------------------
needs_policy = pytest.mark.skipif(not _blas.policy, reason="no controllable multi-threaded OpenBLAS here")


@needs_policy
def test_blas_is_one_thread_outside_large_gemms(monkeypatch):
    assert _blas.get_num_threads() == 1  # set at import
    monkeypatch.setattr(_blas, "_free", (-1.0, 1))
    monkeypatch.setattr(_blas, "_read_free_cores", lambda: _blas._full)  # an idle machine
    with _blas.gemm(_blas.LARGE_GEMM_FLOPS):
        assert _blas.get_num_threads() == _blas._full
    assert _blas.get_num_threads() == 1
    with _blas.gemm(_blas.LARGE_GEMM_FLOPS - 1):
        assert _blas.get_num_threads() == 1
    with _blas.single_threaded(), _blas.gemm(10 * _blas.LARGE_GEMM_FLOPS):
        assert _blas.get_num_threads() == 1  # inside the convolution's own parallel sections


@needs_policy
def test_a_busy_machine_gets_one_thread_even_for_large_gemms(monkeypatch):
    monkeypatch.setattr(_blas, "_free", (-1.0, 1))
    monkeypatch.setattr(_blas, "_read_free_cores", lambda: 1)  # the other cores are taken
    seen = []
    real = _blas._set
    monkeypatch.setattr(_blas, "_set", lambda n: (seen.append(n), real(n)))
    with _blas.gemm(100 * _blas.LARGE_GEMM_FLOPS):
        assert _blas.get_num_threads() == 1
    assert seen == []


@needs_policy
def test_free_cores_is_read_from_the_kernel_and_cached(monkeypatch):
    calls = []
    monkeypatch.setattr(_blas, "_free", (-1.0, 1))
    monkeypatch.setattr(_blas, "_read_free_cores", lambda: calls.append(1) or 2)
    assert _blas.free_cores() == 2 and _blas.free_cores() == 2
    assert len(calls) == 1  # read again only after 0.1 s
    monkeypatch.undo()
    assert 1 <= _blas._read_free_cores() <= _blas._full


def test_mm_is_matmul():
    a, b = np.random.rand(300, 200).astype(np.float32), np.random.rand(200, 150).astype(np.float32)
    np.testing.assert_allclose(_blas.mm(a, b), a @ b, rtol=1e-5)
    np.testing.assert_allclose(_blas.mm(a[:2], b[:, :3]), a[:2] @ b[:, :3], rtol=1e-5)


@needs_openblas
def test_the_policy_can_be_turned_off():
    code = "import minigrad, numpy; from minigrad import _blas; print(_blas.policy, _blas.get_num_threads())"
    env = dict(os.environ, MINIGRAD_BLAS_THREADS="numpy", OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "2"]
