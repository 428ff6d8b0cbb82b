"""Tensor conveniences (Size, type, new_*, *_like), numerics edge cases without an oracle, and the
error messages of the scans, sorting, norms and linalg ops."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg


# --- Size, type, new_*, *_like ------------------------------------------------------------------------
def test_size_is_a_tuple_like_torch_size():
    x = mg.zeros(2, 3, 4)
    s = x.shape
    assert isinstance(s, mg.Size) and isinstance(s, tuple)
    assert s == (2, 3, 4) and x.size() == s and x.size(1) == 3 and x.size(-1) == 4
    assert repr(s) == "minigrad.Size([2, 3, 4])"
    assert isinstance(s[1:], mg.Size) and s[1:] == (3, 4)
    assert isinstance(s[0], int)
    assert isinstance(s + (5,), mg.Size) and s + (5,) == (2, 3, 4, 5)
    assert (1,) + s == (1, 2, 3, 4)
    assert s.numel() == 24 and mg.Size([]).numel() == 1
    assert mg.zeros(*s).shape == s and np.zeros(s).shape == s
    with pytest.raises(IndexError, match="size: dim 3"):
        x.size(3)


@pytest.mark.parametrize(
    "dtype,name",
    [
        (mg.float32, "FloatTensor"),
        (mg.float64, "DoubleTensor"),
        (mg.float16, "HalfTensor"),
        (mg.int64, "LongTensor"),
        (mg.int32, "IntTensor"),
        (mg.uint8, "ByteTensor"),
        (mg.bool_, "BoolTensor"),
    ],
)
def test_type_names(dtype, name):
    x = mg.zeros(2, dtype=dtype)
    assert x.type() == f"minigrad.{name}"
    assert x.to(mg.float32).type(f"torch.{name}").dtype == dtype
    assert x.to(mg.float32).type(f"minigrad.{name}").dtype == dtype


def test_type_converts():
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    y = x.type(mg.float64)
    assert y.dtype == mg.float64
    y.sum().backward()
    assert x.grad.dtype == mg.float32
    assert x.type("float64").dtype == mg.float64
    with pytest.raises(TypeError, match="unknown tensor type"):
        x.type("minigrad.FancyTensor")


def test_new_factories_inherit_dtype_and_device():
    x = mg.zeros(2, dtype=mg.float64)
    for t in (x.new_zeros(3, 4), x.new_ones((3, 4)), x.new_empty(3, 4), x.new_full((3, 4), 7.0)):
        assert t.shape == (3, 4) and t.dtype == mg.float64 and t.device == x.device and not t.requires_grad
    assert float(x.new_full((2,), 7).sum()) == 14.0
    assert x.new_ones(2).tolist() == [1.0, 1.0]
    assert x.new_zeros(2, dtype=mg.int64).dtype == mg.int64
    assert x.new_zeros(2, requires_grad=True).requires_grad
    t = x.new_tensor([1, 2, 3])
    assert t.dtype == mg.float64 and t.tolist() == [1.0, 2.0, 3.0]
    src = mg.tensor([1.0, 2.0])
    c = x.new_tensor(src)
    c.array[0] = 5.0
    assert src.tolist() == [1.0, 2.0], "new_tensor copies"
    assert x.new_tensor([1, 2], dtype=mg.int32).dtype == mg.int32


def test_like_factories():
    x = mg.zeros(2, 3, dtype=mg.float64)
    for f in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.rand_like, mg.randn_like):
        t = f(x)
        assert t.shape == x.shape and t.dtype == mg.float64
        assert f(x, dtype=mg.float32).dtype == mg.float32
        assert f(x, device="cpu").device == "cpu"
    assert mg.full_like(x, 3, dtype=mg.int64).tolist() == [[3, 3, 3], [3, 3, 3]]
    r = mg.randint_like(x, 5)
    assert r.dtype == mg.float64 and r.shape == x.shape and 0 <= float(r.min()) and float(r.max()) < 5
    r = mg.randint_like(x, 2, 4, dtype=mg.int64)
    assert r.dtype == mg.int64 and set(np.unique(r.numpy())) <= {2, 3}
    assert mg.ones_like(x, requires_grad=True).requires_grad


def test_mm_bmm_methods():
    a, b = mg.randn(2, 3), mg.randn(3, 4)
    assert a.mm(b).shape == (2, 4)
    assert mg.randn(5, 2, 3).bmm(mg.randn(5, 3, 4)).shape == (5, 2, 4)
    with pytest.raises(ValueError, match=r"mm: expected two 2-D tensors, got shapes \(2, 2, 3\) and \(3, 4"):
        mg.mm(mg.randn(2, 2, 3), b)
    with pytest.raises(ValueError, match=r"bmm: .*same batch size.*\(5, 2, 3\) and \(4, 3, 4\)"):
        mg.bmm(mg.randn(5, 2, 3), mg.randn(4, 3, 4))


# --- numerics without an oracle -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_logsumexp_masked_row(dtype):
    x = mg.tensor([[-1e9] * 4, [0.0, 1.0, 2.0, 3.0]], dtype=dtype, requires_grad=True)
    mg.logsumexp(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0], [0.25] * 4, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy().sum(1), [1.0, 1.0], rtol=1e-6)


def test_softmax_masked_row_is_uniform():
    x = mg.tensor([[-1e9] * 3], requires_grad=True)
    np.testing.assert_allclose(mg.softmax(x, -1).numpy(), [[1 / 3] * 3], rtol=1e-6)
    np.testing.assert_allclose(mg.log_softmax(x, -1).numpy(), [[-np.log(3)] * 3], rtol=1e-6)


def test_empty_reductions_follow_pytorch():
    e = mg.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(mg.sum(e)) == 0.0
        assert np.isnan(float(mg.mean(e)))
        assert float(mg.logsumexp(e, 0)) == -np.inf
        assert mg.softmax(mg.zeros(2, 0), -1).shape == (2, 0)
    with pytest.raises(RuntimeError, match=r"amax: .*zero-size.*\(0,\)"):
        mg.amax(e)
    with pytest.raises(RuntimeError, match=r"amax: .*\(0, 3\)"):
        mg.zeros(0, 3).amax(0)
    assert mg.zeros(0, 3).amax(1).shape == (0,)
    with pytest.raises(RuntimeError, match=r"argmax: .*\(0,\)"):
        mg.argmax(e)
    with pytest.raises(RuntimeError, match=r"max: .*\(2, 0\)"):
        mg.zeros(2, 0).max(1)


def test_norm_gradient_at_zero_is_zero():
    for p in (2, 1, 3, 0.5):
        x = mg.zeros(3, requires_grad=True)
        mg.linalg.vector_norm(x, p).backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x = mg.zeros(2, 2, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_std_constant_gradient_is_zero():
    x = mg.ones(4, requires_grad=True)
    x.std().backward()
    assert x.grad.tolist() == [0.0] * 4


def test_cumprod_zero_gradient_exact():
    x = mg.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]], requires_grad=True)
    mg.cumprod(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 3.0, 0.0], [16.0, 0.0, 0.0]])


def test_sort_namedtuple_and_stable():
    x = mg.tensor([2.0, 1.0, 2.0, 1.0])
    r = mg.sort(x, stable=True)
    assert r.values.tolist() == [1.0, 1.0, 2.0, 2.0] and r.indices.tolist() == [1, 3, 0, 2]
    v, i = x.sort(descending=True, stable=True)
    assert v.tolist() == [2.0, 2.0, 1.0, 1.0] and i.tolist() == [0, 2, 1, 3]
    assert i.dtype == mg.int64
    v, i = mg.topk(x, 0)
    assert v.shape == (0,)


def test_nonzero_shapes():
    x = mg.tensor([[0, 1], [2, 0]])
    assert x.nonzero().tolist() == [[0, 1], [1, 0]]
    assert [t.tolist() for t in mg.nonzero(x, as_tuple=True)] == [[0, 1], [1, 0]]
    assert mg.nonzero(mg.zeros(3)).shape == (0, 1)
    assert mg.argwhere(x).dtype == mg.int64


def test_dim_aliases_conflict():
    x = mg.ones(2, 3)
    assert mg.sum(x, axis=1, keepdims=True).shape == (2, 1)
    assert x.mean(axis=0).shape == (3,)
    with pytest.raises(TypeError, match="sum: got both dim= and its alias axis="):
        mg.sum(x, dim=0, axis=1)


# --- error messages -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: mg.narrow(mg.zeros(3, 4), 1, 2, 3),
            IndexError,
            r"narrow: start \(2\) \+ length \(3\) .*size 4",
        ),
        (lambda: mg.topk(mg.zeros(3, 4), 5), RuntimeError, r"topk: k \(5\) .*size 4 \(shape \(3, 4\)\)"),
        (lambda: mg.sort(mg.zeros(3), 2), IndexError, r"sort: dim 2 is out of range"),
        (lambda: mg.cumsum(mg.zeros(3), 1), IndexError, r"cumsum: dim 1"),
        (lambda: mg.tril(mg.zeros(3)), ValueError, r"tril: .*at least 2 dims.*\(3,\)"),
        (lambda: mg.outer(mg.zeros(2, 2), mg.zeros(3)), ValueError, r"outer: .*1-D.*\(2, 2\) and \(3,\)"),
        (lambda: mg.linalg.inv(mg.zeros(2, 3)), ValueError, r"inv: .*square.*\(2, 3\)"),
        (lambda: mg.linalg.inv(mg.zeros(2, 2)), RuntimeError, r"inv: .*\(2, 2\) is not invertible"),
        (lambda: mg.linalg.det(mg.zeros(3, 3, dtype=mg.int64)), TypeError, r"det: .*floating.*int64"),
        (lambda: mg.linalg.cholesky(-mg.eye(3)), RuntimeError, r"cholesky: .*not positive-definite"),
        (
            lambda: mg.linalg.solve(mg.eye(3), mg.zeros(4, 2)),
            ValueError,
            r"solve: A of shape \(3, 3\) and B of shape \(4, 2\)",
        ),
        (
            lambda: mg.linalg.solve(mg.eye(3).expand(2, 3, 3), mg.zeros(4, 3, 1)),
            ValueError,
            r"solve: batch dims",
        ),
        (lambda: mg.linalg.matrix_norm(mg.zeros(3)), ValueError, r"matrix_norm: .*at least 2 dims"),
        (
            lambda: mg.linalg.matrix_norm(mg.zeros(3, 3), "nuc"),
            NotImplementedError,
            r"matrix_norm: ord='nuc'",
        ),
        (lambda: mg.linalg.matrix_norm(mg.zeros(3, 3), 3), ValueError, r"matrix_norm: ord must be"),
        (lambda: mg.linalg.vector_norm(mg.zeros(3), "fro"), ValueError, r"vector_norm: ord must be a number"),
        (lambda: mg.linalg.vector_norm(mg.zeros(3, dtype=mg.int64)), TypeError, r"vector_norm: .*int64"),
        (lambda: mg.linalg.norm(mg.zeros(2, 2, 2), 2), ValueError, r"linalg.norm: .*1-D or 2-D"),
        (lambda: mg.norm(mg.zeros(3), "bad"), ValueError, r"norm: p must be"),
        (lambda: mg.var(mg.zeros(3), unbiased=True, correction=0), TypeError, r"var: give either"),
    ],
)
def test_error_messages(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_inplace_change_of_a_saved_input_is_caught():
    """det reads its input in backward (so an in-place change raises); inv only reads its output."""
    a = mg.tensor(np.eye(3) * 2.0 + 0.1, requires_grad=True)
    h = a * 1.0
    d = mg.linalg.det(h)
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match="Det"):
        d.backward()
    h = a * 1.0
    y = mg.linalg.inv(h)
    h.mul_(2.0)
    y.sum().backward()
    assert a.grad is not None
