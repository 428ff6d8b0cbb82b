"""Small PyTorch API names: inference_mode, backends.cudnn, accelerator, cuda, set_printoptions."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import _printing


def test_inference_mode_context_manager():
    x = mg.ones(3, requires_grad=True)
    assert not mg.is_inference_mode_enabled()
    with mg.inference_mode():
        assert mg.is_inference_mode_enabled() and not mg.is_grad_enabled()
        y = x * 2
        with mg.inference_mode(False):
            assert not mg.is_inference_mode_enabled() and mg.is_grad_enabled()
            assert (x * 2).requires_grad
        assert mg.is_inference_mode_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert mg.is_grad_enabled() and not mg.is_inference_mode_enabled()


def test_inference_mode_restores_on_error_and_nested_no_grad():
    with mg.no_grad():
        with pytest.raises(ValueError):
            with mg.inference_mode():
                raise ValueError
        assert not mg.is_grad_enabled() and not mg.is_inference_mode_enabled()
    assert mg.is_grad_enabled()


def test_inference_mode_decorators():
    x = mg.ones(2, requires_grad=True)

    @mg.inference_mode()
    def f(a):
        assert mg.is_inference_mode_enabled()
        return a * 3

    @mg.inference_mode
    def g(a):
        return a * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 3).requires_grad and not mg.is_inference_mode_enabled()
    assert f.__name__ == "f" and g.__name__ == "g"


def test_inference_mode_is_thread_local():
    seen = []
    with mg.inference_mode():
        t = threading.Thread(target=lambda: seen.append(mg.is_inference_mode_enabled()))
        t.start()
        t.join()
    assert seen == [False]


def test_backends_flags_are_settable_and_harmless():
    cudnn = mg.backends.cudnn
    old = (cudnn.benchmark, cudnn.deterministic, cudnn.enabled)
    try:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = True, True, False
        b = mg.backends.cudnn
        assert b.benchmark and b.deterministic and not b.enabled
        mg.backends.cuda.matmul.allow_tf32 = True
        assert (mg.ones(2) * 2).numpy().tolist() == [2.0, 2.0]
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = old
        mg.backends.cuda.matmul.allow_tf32 = False
    assert cudnn.is_available() is False and mg.backends.mps.is_available() is False


def test_accelerator_and_cuda_agree():
    avail = mg.cuda_is_available()
    assert mg.cuda.is_available() is avail and mg.accelerator.is_available() is avail
    assert mg.accelerator.device_count() == mg.cuda.device_count()
    if avail:
        assert mg.cuda.device_count() >= 1
        assert mg.accelerator.current_accelerator() == mg.device("cuda")
        assert isinstance(mg.cuda.get_device_name(), str)
    else:
        assert mg.cuda.device_count() == 0 and mg.accelerator.current_accelerator() is None
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            mg.cuda.current_device()
    mg.cuda.synchronize()
    mg.cuda.empty_cache()


def test_cuda_manual_seed_is_harmless_and_seeds_the_gpu():
    mg.cuda.manual_seed(0)
    mg.cuda.manual_seed_all(0)
    if not mg.cuda_is_available():
        return
    mg.cuda.manual_seed(5)
    a = mg.randn(4, device="cuda").numpy()
    mg.cuda.manual_seed_all(5)
    b = mg.randn(4, device="cuda").numpy()
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def _printopts():
    yield
    _printing._reset()


def test_format_array_defaults_match_the_current_repr(_printopts):
    a = np.array([1.0, 2.5, 1e-3], dtype=np.float32)
    assert _printing.format_array(a) == np.array2string(a, separator=", ", precision=4, prefix="tensor(")


def test_set_printoptions(_printopts):
    a = np.array([1.0, 2.123456, 3.0])
    mg.set_printoptions(precision=2)
    assert _printing.format_array(a) == "[1.  , 2.12, 3.  ]"
    mg.set_printoptions(sci_mode=True, precision=1)
    assert _printing.format_array(a) == "[1.0e+00, 2.1e+00, 3.0e+00]"
    mg.set_printoptions(threshold=5, edgeitems=1, precision=4)
    assert "..." in _printing.format_array(np.arange(10.0))
    mg.set_printoptions(profile="full")
    assert "..." not in _printing.format_array(np.arange(2000.0))
    assert mg.get_printoptions()["precision"] == 4
    with pytest.raises(ValueError, match="unknown profile"):
        mg.set_printoptions(profile="tiny")


def test_set_printoptions_reaches_tensor_repr(_printopts):
    mg.set_printoptions(precision=1)
    assert repr(mg.tensor([1.25, 2.0])) == "tensor([1.2, 2. ])"
