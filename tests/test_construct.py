"""``Tensor(...)`` as ``torch.Tensor(...)``: the rules live in minigrad._construct.tensor_init_args; the
last tests call ``mg.Tensor`` itself."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad._construct import from_data, tensor_init_args


def build(*args, **kwargs):
    return tensor_init_args(args, kwargs)


def test_sizes_and_empty():
    a = build()
    assert a.shape == (0,) and a.dtype == np.float32
    a = build(2, 3)
    assert a.shape == (2, 3) and a.dtype == np.float32 and not a.any()
    assert build(np.int64(4)).shape == (4,)
    assert build(0).shape == (0,)
    assert build(2, dtype=np.float64).dtype == np.float64


def test_data_becomes_default_float():
    for data in ([1, 2], [True, False], [1, 2.5], (2, 3), [[1, 2], [3, 4]], [],
                 np.array([1, 2], dtype=np.int64), np.array([1, 2], dtype=np.uint8),
                 np.array([1.0, 2.0]), np.array([1, 2], dtype=np.float16), np.array(2.0)):
        a = build(data)
        assert a.dtype == np.float32, data
        np.testing.assert_array_equal(a, np.asarray(data, dtype=np.float32))


def test_default_dtype_is_followed():
    old = mg.get_default_dtype()
    mg.set_default_dtype(np.float64)
    try:
        assert build([1, 2]).dtype == np.float64 and build(2).dtype == np.float64
    finally:
        mg.set_default_dtype(old)


def test_memory_sharing():
    f32 = np.array([1.0, 2.0], dtype=np.float32)
    assert build(f32) is f32  # the default dtype already: shared, as torch.Tensor(ndarray)
    f64 = np.array([1.0, 2.0])
    a = build(f64)
    f64[0] = 9
    assert a[0] == 1  # converted: a copy
    t = mg.tensor([1.0, 2.0], dtype=np.float64)
    assert build(t) is t.array  # Tensor(t): same memory, keeps float64


def test_explicit_dtype_and_device():
    assert build(np.array([1, 2]), dtype=np.int64).dtype == np.int64
    assert build([1.5], dtype="float64").dtype == np.float64
    assert build([1.0], device="cpu").dtype == np.float32


def test_errors():
    with pytest.raises(TypeError, match=r"data must be a sequence.*got float.*minigrad.tensor"):
        build(3.5)
    with pytest.raises(TypeError, match="got numpy.float64|got float64"):
        build(np.float64(2.0))
    with pytest.raises(ValueError, match="negative dimension -1"):
        build(-1)
    with pytest.raises(TypeError, match=r"expected sizes \(ints\) or one data argument"):
        build(2, 3.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'pin_memory'"):
        build([1], pin_memory=True)
    with pytest.raises(TypeError, match="dtype complex64"):
        build(np.ones(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="dtype <U1"):
        build(["a"])
    with pytest.raises(TypeError, match="rectangular"):
        build([[1, 2], [3]])


def test_from_data_keeps_the_old_rule():
    assert from_data(np.array([1, 2])).dtype == np.int64
    assert from_data(np.array([1.0])).dtype == np.float64
    assert from_data([1, 2]).dtype == np.int64 and from_data([1.0]).dtype == np.float32
    a = np.ones(3)
    assert from_data(a).array is a
    assert from_data([1.0], requires_grad=True).requires_grad


def test_against_torch():
    torch = pytest.importorskip("torch")
    cases = [(), (2, 3), ([1, 2],), ([True],), (np.array([1, 2], dtype=np.int64),), (np.array([1.0, 2.0]),),
             ((2, 3),), ([[1, 2], [3, 4]],), (np.array(2.0),), ([],)]
    for args in cases:
        ours, theirs = build(*args), torch.Tensor(*args)
        assert ours.shape == tuple(theirs.shape) and str(theirs.dtype) == f"torch.{ours.dtype}", args
        if not (len(args) == 2 and all(isinstance(a, int) for a in args)):  # torch's sizes are uninitialised
            np.testing.assert_array_equal(ours, theirs.numpy())
    for bad in ((3.5,), (2, 3.0)):
        with pytest.raises(TypeError):
            torch.Tensor(*bad)
        with pytest.raises(TypeError):
            build(*bad)


def test_tensor_constructor_is_torch_tensor():
    assert mg.Tensor([1, 2]).dtype == np.float32
    assert mg.Tensor(2, 3).shape == (2, 3)
    assert mg.Tensor().shape == (0,)
    assert mg.Tensor(np.array([1.0, 2.0])).dtype == np.float32


def test_internal_signature_still_works():
    t = mg.Tensor(np.array([1.0, 2.0]), dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf
    p = mg.nn.Parameter(mg.tensor([1.0], dtype=np.float64))
    assert p.dtype == np.float64 and p.requires_grad
    assert mg.nn.Parameter(np.zeros(2)).dtype == np.float64  # arrays keep their dtype in Parameter


def test_array_gradient_seed_keeps_the_output_dtype():
    """backward(gradient=<float64 array>) on a float64 output: the seed must not go through Tensor(array)
    (the default float type would round it to float32)."""
    x = mg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    seed = np.array([1.0 + 1e-12, 3.0])
    (x * 1.0).backward(seed)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), seed)
