"""Property tests (hypothesis): broadcasting binary ops and their gradients, reductions over random
dims, and shape round trips, all against NumPy on random shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

SETTINGS = settings(max_examples=40, deadline=None)


def sum_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """NumPy reference for the gradient of a broadcast: sum ``g`` over the axes ``shape`` was stretched on."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def arrays(rng: np.random.Generator, *shapes):
    return [rng.uniform(-2.0, 2.0, size=s) for s in shapes]


BINARY = {
    "add": (mg.add, np.add, lambda g, a, b: (g, g)),
    "sub": (mg.sub, np.subtract, lambda g, a, b: (g, -g)),
    "mul": (mg.mul, np.multiply, lambda g, a, b: (g * b, g * a)),
    "maximum": (mg.maximum, np.maximum, lambda g, a, b: (g * (a > b), g * (a < b))),
}


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 32 - 1))
def test_broadcasting_binary_op_and_gradient(shapes, op, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    av, bv = arrays(rng, sa, sb)  # continuous random values: no ties for maximum
    fn, ref, grads = BINARY[op]
    a = mg.tensor(av, requires_grad=True)
    b = mg.tensor(bv, requires_grad=True)
    out = fn(a, b)
    expect = ref(av, bv)
    assert out.shape == out_shape == expect.shape
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out_shape)
    out.backward(mg.tensor(g))
    ga, gb = grads(g, np.broadcast_to(av, out_shape), np.broadcast_to(bv, out_shape))
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(a.grad.numpy(), sum_to_shape(ga, sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), sum_to_shape(gb, sb), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_broadcasting_keeps_float32(shapes, seed):
    (sa, sb) = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = mg.tensor(rng.standard_normal(sa).astype(np.float32), requires_grad=True)
    b = mg.tensor(rng.standard_normal(sb).astype(np.float32), requires_grad=True)
    out = (a * b + a - 2.0 * b) * 0.5
    assert out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert a.grad.shape == sa and b.grad.shape == sb


@st.composite
def shape_and_dims(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape),
                         unique_by=lambda d: d % len(shape)))
    dim = draw(st.sampled_from([None, axes[0], tuple(axes)]))
    return shape, dim


def _np_var(x, axis, keepdims):
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    if n <= 1:
        return np.full(np.sum(x, axis=axis, keepdims=keepdims).shape, np.nan)
    return np.var(x, axis=axis, keepdims=keepdims, ddof=1)


def _np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


REDUCTIONS = {
    "sum": (lambda x, dim, k: x.sum(dim, keepdim=k), lambda x, ax, k: np.sum(x, axis=ax, keepdims=k)),
    "mean": (lambda x, dim, k: x.mean(dim, keepdim=k), lambda x, ax, k: np.mean(x, axis=ax, keepdims=k)),
    "amax": (lambda x, dim, k: x.amax(dim, keepdim=k), lambda x, ax, k: np.max(x, axis=ax, keepdims=k)),
    "var": (lambda x, dim, k: x.var(dim, keepdim=k), _np_var),
    "logsumexp": (lambda x, dim, k: mg.logsumexp(x, dim, keepdim=k), _np_logsumexp),
}


@SETTINGS
@given(sd=shape_and_dims(), keepdim=st.booleans(), op=st.sampled_from(sorted(REDUCTIONS)),
       seed=st.integers(0, 2 ** 32 - 1))
def test_reductions_match_numpy(sd, keepdim, op, seed):
    shape, dim = sd
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-3.0, 3.0, size=shape)
    ours, ref = REDUCTIONS[op]
    x = mg.tensor(xv, requires_grad=True)
    out = ours(x, dim, keepdim)
    expect = np.asarray(ref(xv, dim, keepdim))
    assert out.shape == expect.shape
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-10, atol=1e-12, equal_nan=True)
    # the gradient has the input's shape; for sum and mean it is the cotangent spread back evenly
    g = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g))
    assert x.grad.shape == shape
    if op in ("sum", "mean"):
        axes = tuple(range(len(shape))) if dim is None else tuple(d % len(shape) for d in np.atleast_1d(dim))
        spread = np.broadcast_to(g if keepdim else np.expand_dims(g, axes), shape)
        n = int(np.prod([shape[a] for a in axes]))
        np.testing.assert_allclose(x.grad.numpy(), spread / (n if op == "mean" else 1), rtol=1e-12)
    if op == "logsumexp":  # the gradient of logsumexp is softmax: it sums to 1 per reduced slice (times g)
        axes = tuple(range(len(shape))) if dim is None else tuple(d % len(shape) for d in np.atleast_1d(dim))
        gk = g if keepdim else np.expand_dims(g, axes)
        np.testing.assert_allclose(x.grad.numpy().sum(axis=axes, keepdims=True), gk, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=3), data=st.data())
def test_permute_round_trip_and_gradient(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    rng = np.random.default_rng(len(shape))
    xv = rng.standard_normal(shape)
    x = mg.tensor(xv, requires_grad=True)
    y = x.permute(*perm)
    np.testing.assert_array_equal(y.numpy(), np.transpose(xv, perm))
    back = y.permute(*np.argsort(perm).tolist())
    np.testing.assert_array_equal(back.numpy(), xv)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), np.transpose(g, np.argsort(perm)))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data())
def test_reshape_round_trip_and_gradient(shape, data):
    n = int(np.prod(shape))
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = data.draw(st.sampled_from(divisors))
    new_shape = data.draw(st.sampled_from([(d, n // d), (n,), (-1, d), (d, -1, 1)]))
    xv = np.arange(n, dtype=np.float64).reshape(shape)
    x = mg.tensor(xv, requires_grad=True)
    y = x.reshape(new_shape)
    np.testing.assert_array_equal(y.numpy(), xv.reshape(new_shape))
    z = y.reshape(shape)
    np.testing.assert_array_equal(z.numpy(), xv)
    g = np.random.default_rng(n).standard_normal(y.shape)
    y.backward(mg.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), g.reshape(shape))
    # flatten / unflatten and squeeze / unsqueeze are reshapes too
    np.testing.assert_array_equal(x.flatten().numpy(), xv.ravel())
    np.testing.assert_array_equal(x.unsqueeze(0).squeeze(0).numpy(), xv)


def test_sum_to_shape_reference_itself():
    """The helper the properties rely on, checked on a hand-made case."""
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(sum_to_shape(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(sum_to_shape(g, ()), np.asarray(g.sum()))
    np.testing.assert_array_equal(sum_to_shape(g, (1, 4)), g.sum(axis=(0, 1)).reshape(1, 4))
    np.testing.assert_array_equal(sum_to_shape(g, (2, 3, 4)), g)
