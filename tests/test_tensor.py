"""The Tensor API: dtype policy (PyTorch's), creation functions, seeding, conversions, in-place
updates and their guards, repr, comparisons and indexing with Tensors."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def host(t):
    a = t.array if isinstance(t, mg.Tensor) else t
    return a.get() if hasattr(a, "get") else np.asarray(a)


F32, F64, I64, BOOL = np.dtype("float32"), np.dtype("float64"), np.dtype("int64"), np.dtype("bool")


# --- dtype policy --------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,dtype", [
    (1.5, F32), (2, I64), (True, BOOL), ([1, 2.5], F32), ([[1, 2], [3, 4]], I64), ([], F32),
    (np.arange(3, dtype=np.int32), np.dtype("int32")), (np.ones(2, dtype=np.float64), F64),
    (np.ones(2, dtype=np.float16), np.dtype("float16")), (np.float64(1.5), F64),
    (np.int32(3), np.dtype("int32")),
])
def test_tensor_dtype_inference(data, dtype):
    assert mg.tensor(data).dtype == dtype


def test_dtype_argument_overrides():
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == F64
    assert mg.tensor([1.7, 2.2], dtype="int64").tolist() == [1, 2]
    assert mg.tensor(np.ones(2), dtype=np.float32).dtype == F32
    assert mg.tensor(1.5, dtype=mg.float16).dtype == np.float16


_x32 = lambda: mg.tensor([0.5, -1.5, 2.0])  # noqa: E731


@pytest.mark.parametrize("name,fn", [
    ("add", lambda x: x + 2.5), ("radd", lambda x: 2.5 + x), ("sub", lambda x: 1.0 - x),
    ("mul", lambda x: x * 3),
    ("mul-float", lambda x: x * 0.1), ("div", lambda x: x / 3), ("rdiv", lambda x: 3.0 / x),
    ("pow", lambda x: x ** 2), ("pow-float", lambda x: mg.abs(x) ** 2.5), ("rpow", lambda x: 2.0 ** x),
    ("where", lambda x: mg.where(x > 0, x, 0.0)), ("where-left", lambda x: mg.where(x > 0, 1.0, x)),
    ("clamp", lambda x: x.clamp(-1.0, 1.0)), ("maximum", lambda x: mg.maximum(x, 0.5)),
    ("minimum", lambda x: mg.minimum(0.5, x)), ("masked_fill", lambda x: x.masked_fill(x > 0, -1.0)),
    ("numpy-scalar", lambda x: x * np.float64(2.0)),
    ("0d-float64-tensor", lambda x: mg.tensor(np.float64(2.0)) * x),
    ("0d-float64-array-tensor", lambda x: x + mg.tensor(np.array(2.0))),
    ("int-0d-tensor", lambda x: x * mg.tensor(3)), ("matmul", lambda x: x @ x), ("mean", lambda x: x.mean()),
])
def test_float32_survives_python_scalars_and_0d_tensors(name, fn):
    assert fn(_x32()).dtype == F32, name


@pytest.mark.parametrize("fn,dtype", [
    (lambda: mg.tensor([1.0, 2.0]) + mg.tensor([1.0, 2.0], dtype="float64"), F64),
    (lambda: mg.arange(3) + mg.tensor([1.0, 2.0, 3.0]), F32),
    (lambda: mg.arange(3, dtype="int32") + mg.tensor([1.0, 2.0, 3.0], dtype="float16"), np.dtype("float16")),
    (lambda: mg.arange(3) / mg.arange(1, 4), F32),
    (lambda: mg.arange(3) / 2, F32),
    (lambda: mg.arange(3) * 2.5, F32),
    (lambda: mg.arange(3) ** 0.5, F32),
    (lambda: mg.arange(3) * 2, I64),
    (lambda: mg.arange(3, dtype="int32") + 1, np.dtype("int32")),
    (lambda: mg.arange(3, dtype="int32") + mg.arange(3), I64),
    (lambda: mg.tensor([True, False]) + 1, I64),
    (lambda: mg.tensor(2.0, dtype="float64") * mg.tensor(3.0), F64),  # both 0-d: ordinary promotion
    (lambda: mg.arange(3).clamp(0.5, 1.5), F32),
    (lambda: mg.cat([mg.zeros(2), mg.zeros(2, dtype="float64")]), F64),
])
def test_tensor_tensor_promotion(fn, dtype):
    assert fn().dtype == dtype


def test_int_clamp_to_float_bounds_keeps_the_fraction():
    np.testing.assert_allclose(host(mg.arange(3).clamp(0.5, 1.5)), [0.5, 1.0, 1.5])


def test_default_dtype_can_be_changed():
    try:
        mg.set_default_dtype(mg.float64)
        assert mg.tensor(1.5).dtype == F64 and mg.zeros(2).dtype == F64
    finally:
        mg.set_default_dtype(mg.float32)
    assert mg.tensor(1.5).dtype == F32
    with pytest.raises(TypeError):
        mg.set_default_dtype(mg.int64)


# --- creation -----------------------------------------------------------------------------------------
def test_shape_creation_functions(device):
    for fn in (mg.zeros, mg.ones, mg.empty, mg.randn, mg.rand):
        assert fn(2, 3, device=device).shape == (2, 3)
        assert fn((2, 3), device=device).shape == (2, 3)
        assert fn(2, device=device).dtype == F32
        assert fn(2, dtype="float64", device=device).dtype == F64
        t = fn(2, requires_grad=True, device=device)
        assert t.requires_grad and t.is_leaf
    np.testing.assert_array_equal(host(mg.zeros(2, 2, device=device)), np.zeros((2, 2)))
    np.testing.assert_array_equal(host(mg.ones(3, dtype="int64", device=device)), [1, 1, 1])
    assert mg.ones(3, dtype="int64").dtype == I64


def test_full_arange_linspace_eye(device):
    assert mg.full((2, 2), 3).dtype == I64
    f = mg.full((2, 2), 1.5, device=device)
    assert f.dtype == F32 and host(f).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert mg.full((2,), True).dtype == BOOL
    assert mg.full((2,), 1.0, dtype="float64", requires_grad=True).requires_grad
    assert mg.arange(5).tolist() == [0, 1, 2, 3, 4] and mg.arange(5).dtype == I64
    assert mg.arange(2, 8, 2).tolist() == [2, 4, 6]
    a = mg.arange(0, 1, 0.25, device=device)
    assert a.dtype == F32 and host(a).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(3, dtype="float64").dtype == F64
    ls = mg.linspace(0, 1, 5, device=device)
    assert ls.dtype == F32
    np.testing.assert_allclose(host(ls), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(host(mg.eye(2, 3, device=device)), np.eye(2, 3))
    assert mg.eye(3, dtype="float64", requires_grad=True).requires_grad


def test_like_functions():
    x = mg.randn(2, 3, dtype="float64", requires_grad=True)
    for fn in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.randn_like, mg.rand_like):
        y = fn(x)
        assert y.shape == x.shape and y.dtype == F64 and not y.requires_grad
    assert mg.zeros_like(x, dtype="float32").dtype == F32
    assert mg.ones_like(x, requires_grad=True).requires_grad
    fl = mg.full_like(x, 7.0)
    assert fl.dtype == F64 and (host(fl) == 7.0).all()
    assert (host(mg.zeros_like(x)) == 0).all() and (host(mg.ones_like(x)) == 1).all()


def test_random_functions_ranges_and_dtypes():
    r = mg.rand(1000)
    assert 0.0 <= host(r).min() and host(r).max() < 1.0
    n = mg.randn(4000, dtype="float64")
    assert abs(host(n).mean()) < 0.1 and abs(host(n).std() - 1) < 0.1
    ri = mg.randint(3, 7, (200,))
    assert ri.dtype == I64 and host(ri).min() >= 3 and host(ri).max() < 7
    assert mg.randint(5, size=(2, 2)).shape == (2, 2)
    assert mg.randint(0, 5, (3,), dtype="int32").dtype == np.dtype("int32")
    p = mg.randperm(6)
    assert sorted(p.tolist()) == list(range(6)) and p.dtype == I64
    assert mg.normal(2.0, 0.5, (3,)).shape == (3,)


def test_manual_seed_reproducibility():
    mg.manual_seed(123)
    a = (mg.randn(5), mg.rand(3), mg.randint(0, 100, (4,)), mg.randperm(5))
    mg.manual_seed(123)
    b = (mg.randn(5), mg.rand(3), mg.randint(0, 100, (4,)), mg.randperm(5))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(host(u), host(v))
    assert not np.array_equal(host(mg.randn(5)), host(a[0]))
    g1, g2 = mg.Generator().manual_seed(7), mg.Generator().manual_seed(7)
    np.testing.assert_array_equal(host(mg.randn(3, generator=g1)), host(mg.randn(3, generator=g2)))
    state = mg.get_rng_state()
    x1 = mg.rand(4)
    mg.set_rng_state(state)
    np.testing.assert_array_equal(host(mg.rand(4)), host(x1))


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    t = mg.tensor(a)
    with mg.no_grad():
        t.add_(1.0)
    assert (a == 0).all(), "minigrad.tensor(ndarray) must copy, as torch.tensor does"
    src = mg.tensor([1.0, 2.0])
    t2 = mg.tensor(src)
    t2.fill_(5.0)
    assert src.tolist() == [1.0, 2.0]
    f = mg.from_numpy(a)
    f.fill_(2.0)
    assert (a == 2).all()
    assert mg.as_tensor(f) is f


# --- conversions and attributes ------------------------------------------------------------------------
def test_item_numpy_tolist_and_shape_attributes(device):
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and x.numel() == 6 and len(x) == 2
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.dtype == F32 and x.device == device and x.is_floating_point()
    assert x.T.shape == (3, 2) and x.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    n = x.numpy()
    assert isinstance(n, np.ndarray) and n.dtype == np.float32 and n.shape == (2, 3)
    assert x[1, 2].item() == 6.0 and isinstance(x[1, 2].item(), float)
    assert isinstance(mg.tensor(3).item(), int)
    assert float(mg.tensor(2.5)) == 2.5 and int(mg.tensor(7)) == 7
    with pytest.raises(RuntimeError, match="one-element"):
        x.item()
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))
    assert np.asarray(x).shape == (2, 3)


def test_to_dtype_is_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(mg.float64)
    assert y.dtype == F64 and y.grad_fn.name() == "Cast"
    (y * y).sum().backward()
    assert x.grad.dtype == F32
    np.testing.assert_allclose(host(x.grad), [2.0, 4.0])
    assert x.to("float64").dtype == F64 and x.double().dtype == F64 and x.double().float().dtype == F32
    assert x.long().dtype == I64 and not x.long().requires_grad
    assert x.to(dtype=mg.float16).dtype == np.float16 and x.half().dtype == np.float16
    assert x.to(mg.float32) is x
    assert x.to("cpu") is x
    assert mg.tensor([0.0, 1.5]).bool().tolist() == [False, True]
    assert mg.tensor([1.7]).int().dtype == np.dtype("int32")
    assert x.type_as(mg.zeros(1, dtype="float64")).dtype == F64


def test_inplace_ops_under_no_grad_and_their_guard():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for name, op in [("add_", lambda t: t.add_(1.0)), ("mul_", lambda t: t.mul_(2.0)),
                     ("zero_", lambda t: t.zero_()), ("fill_", lambda t: t.fill_(1.0)),
                     ("copy_", lambda t: t.copy_(mg.ones(3))), ("sub_", lambda t: t.sub_(1.0)),
                     ("div_", lambda t: t.div_(2.0)), ("clamp_", lambda t: t.clamp_(0.0, 1.0))]:
        with pytest.raises(RuntimeError, match=rf"{name}: a leaf Variable that requires grad \(shape \(3"):
            op(w)
    for name, op in [("uniform_", lambda t: t.uniform_()), ("normal_", lambda t: t.normal_())]:
        with pytest.raises(RuntimeError, match=f"{name}: a tensor that requires grad"):
            op(w)
    with mg.no_grad():
        w.add_(1.0)
        np.testing.assert_allclose(host(w), [2.0, 3.0, 4.0])
        w.mul_(mg.tensor([1.0, 0.5, 2.0]))
        np.testing.assert_allclose(host(w), [2.0, 1.5, 8.0])
        w.sub_(mg.tensor([1.0, 1.0, 1.0]), alpha=2.0)
        np.testing.assert_allclose(host(w), [0.0, -0.5, 6.0])
        w.clamp_(-0.25, 5.0)
        np.testing.assert_allclose(host(w), [0.0, -0.25, 5.0])
        w.copy_(mg.tensor([7.0]))
        np.testing.assert_allclose(host(w), [7.0, 7.0, 7.0])
        w.zero_()
        assert (host(w) == 0).all()
    assert w.requires_grad and w.is_leaf
    with mg.no_grad(), pytest.raises(RuntimeError, match=r"copy_: shape \(2,\) does not broadcast to \(3,\)"):
        w.copy_(mg.ones(2))
    # a tensor that does not require grad can be updated anywhere
    c = mg.zeros(2)
    c.add_(mg.ones(2), alpha=3.0)
    assert c.tolist() == [3.0, 3.0]


def test_setitem():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: a leaf Variable that requires grad"):
        w[0] = 5.0
    with mg.no_grad():
        w[0] = 5.0
        w[mg.tensor([1, 2])] = mg.tensor([8.0, 9.0])
    assert w.tolist() == [5.0, 8.0, 9.0]
    c = mg.zeros(2, 3)
    c[:, 1] = 1.0
    c[c == 0] = 2.0
    assert c.tolist() == [[2.0, 1.0, 2.0], [2.0, 1.0, 2.0]]


def test_repr():
    assert repr(mg.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(mg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(mg.tensor(2.5)) == "tensor(2.5)"
    assert repr(mg.tensor([1.0], dtype="float64")) == "tensor([1.], dtype=float64)"
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2.0) == "tensor([2., 4.], grad_fn=<Mul>)"
    assert "\n" in repr(mg.zeros(2, 2))


def test_comparisons_return_bool_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.tensor([3.0, 2.0, 1.0])
    cases = [(x < y, [True, False, False]), (x <= y, [True, True, False]), (x > 2, [False, False, True]),
             (x >= 2.0, [False, True, True]), (x == y, [False, True, False]), (x != y, [True, False, True]),
             (2.0 < x, [False, False, True]), (~(x > 2), [True, True, False]),
             ((x > 1) & (x < 3), [False, True, False]), ((x < 2) | (x > 2), [True, False, True])]
    for r, expect in cases:
        assert r.dtype == BOOL and not r.requires_grad and r.grad_fn is None
        assert r.tolist() == expect
    assert x.isnan().dtype == BOOL and not x.isnan().any().item()
    assert mg.equal(x, mg.tensor([1.0, 2.0, 3.0])) and mg.allclose(x, x + 1e-9)


def test_truth_value():
    assert bool(mg.tensor([1.0])) and not bool(mg.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))


def test_indexing_with_tensors(device):
    x = mg.tensor(np.arange(12.0).reshape(3, 4), dtype="float64", requires_grad=True, device=device)
    i = mg.tensor([2, 0, 2], device=device)
    assert host(x[i]).tolist() == [[8, 9, 10, 11], [0, 1, 2, 3], [8, 9, 10, 11]]
    mask = x > 6.5
    assert host(x[mask]).tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert x[mg.tensor(1)].shape == (4,)
    assert x[1:mg.tensor(3), mg.tensor(2)].tolist() == [6.0, 10.0]
    assert host(x[i, i]).tolist() == [10.0, 0.0, 10.0]
    # duplicate indices accumulate in the backward
    (x[i] * 1.0).sum().backward()
    expect = np.zeros((3, 4))
    expect[0] = 1
    expect[2] = 2
    np.testing.assert_array_equal(host(x.grad), expect)


def test_index_tensor_methods():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    g = x.gather(1, mg.tensor([[1], [0]]))
    assert g.tolist() == [[2.0], [3.0]]
    assert x.index_select(0, mg.tensor([1, 1])).tolist() == [[3.0, 4.0], [3.0, 4.0]]
    assert x.argmax().item() == 3 and x.argmax(1).tolist() == [1, 1]
    v, idx = x.max(1)
    assert v.tolist() == [2.0, 4.0] and idx.tolist() == [1, 1] and v.requires_grad and not idx.requires_grad


def test_tensor_from_a_backend_array_keeps_backend_and_dtype_and_copies(xp):
    a = xp.arange(4, dtype=xp.float64)
    t = mg.tensor(a)
    assert isinstance(t.array, xp.ndarray) and t.dtype == F64 and t.xp is xp
    with mg.no_grad():
        t.mul_(2.0)
    assert float(a[1]) == 1.0 and float(t[1].item()) == 2.0
    s = t.sum()
    assert isinstance(s.array, xp.ndarray) and s.item() == 12.0
    assert isinstance((t > 1).array, xp.ndarray) and (t > 1).dtype == BOOL
