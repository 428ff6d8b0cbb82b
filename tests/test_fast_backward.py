"""The first-order fast path (``Function.backward_arrays``) against the reference (the differentiable
``backward`` on Tensors), generated from the op registry (tests/opdb.py): every registered op and
sample, float64, random upstream gradients; the two engines must agree to 1e-12.

``test_every_fast_path_is_exercised`` fails when a Function class defines ``backward_arrays`` but no
registered sample puts it in a graph compared here.
"""

from __future__ import annotations

import numpy as np
import pytest
from opdb import OPS, S, to_tensors
from test_ops import CASES, IDS, _all_function_classes, _flat, _has_diff_input, _host

import minigrad as mg
from minigrad.autograd import Function, reference_backward


def _grads(op, sample: S, xp, reference: bool, seen: set | None = None):
    """Input gradients of ``op`` at ``sample`` (a fresh forward each time) for seeded random cotangents."""
    args, kwargs = to_tensors(sample, xp)
    leaves = _has_diff_input(args, kwargs)
    outs = [o for o in _flat(op.fn(*args, **kwargs)) if o.requires_grad]
    if not leaves or not outs:
        return None
    if seen is not None:
        seen.update(type(n) for n in mg.autograd._topological_order([o.grad_fn for o in outs if o.grad_fn]))
    rng = np.random.default_rng(11)
    vs = [mg.tensor(xp.asarray(rng.standard_normal(o.shape))).to(o.dtype) for o in outs]
    if reference:
        with reference_backward():
            gs = mg.grad(outs, leaves, vs, allow_unused=True)
    else:
        gs = mg.grad(outs, leaves, vs, allow_unused=True)
    return [None if g is None else _host(g.array) for g in gs]


def _gradgrads(op, sample: S, xp, reference: bool, seen: set | None = None):
    """First-order gradients (w.r.t. the inputs and the cotangents) of <u, grad(op)> where the inner
    gradient is taken with create_graph=True: the graph of a backward pass, walked by either engine."""
    args, kwargs = to_tensors(sample, xp)
    leaves = _has_diff_input(args, kwargs)
    outs = [o for o in _flat(op.fn(*args, **kwargs)) if o.requires_grad]
    if not leaves or not outs:
        return None
    rng = np.random.default_rng(12)
    vs = [mg.tensor(xp.asarray(rng.standard_normal(o.shape))).to(o.dtype).requires_grad_() for o in outs]
    gs = [g for g in mg.grad(outs, leaves, vs, create_graph=True, allow_unused=True)
          if g is not None and g.requires_grad]
    if not gs:
        return None
    if seen is not None:
        seen.update(type(n) for n in mg.autograd._topological_order([g.grad_fn for g in gs if g.grad_fn]))
    us = [mg.tensor(xp.asarray(rng.standard_normal(g.shape))).to(g.dtype) for g in gs]
    if reference:
        with reference_backward():
            ggs = mg.grad(gs, leaves + vs, us, allow_unused=True)
    else:
        ggs = mg.grad(gs, leaves + vs, us, allow_unused=True)
    return [None if g is None else _host(g.array) for g in ggs]


def _assert_same(name: str, fast: list, ref: list) -> None:
    assert len(fast) == len(ref)
    for i, (f, r) in enumerate(zip(fast, ref)):
        assert (f is None) == (r is None), f"{name}: input {i} has a gradient on one path only"
        if f is not None:
            assert f.shape == r.shape and f.dtype == r.dtype
            np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-12, err_msg=f"{name}: input {i}")


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_fast_path_matches_reference(op, sample: S, xp):
    if not op.gradcheck:
        pytest.skip("not differentiable")
    mg.manual_seed(0)  # ops that draw random numbers (dropout) must draw the same ones twice
    fast = _grads(op, sample, xp, reference=False)
    if fast is None:
        pytest.skip("sample has no differentiable input")
    mg.manual_seed(0)
    _assert_same(op.name, fast, _grads(op, sample, xp, reference=True))


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_fast_path_matches_reference_through_a_backward_graph(op, sample: S, xp):
    """The same comparison one order up: a first-order pass through the graph that a create_graph=True
    backward recorded (the nodes of the backward ops, e.g. IndexAddInto, take the fast path too)."""
    if not (op.gradcheck and op.gradgrad and sample.gradgrad):
        pytest.skip("second derivative undefined at this sample")
    mg.manual_seed(0)
    fast = _gradgrads(op, sample, xp, reference=False)
    if fast is None:
        pytest.skip("no differentiable first derivative")
    mg.manual_seed(0)
    _assert_same(op.name, fast, _gradgrads(op, sample, xp, reference=True))


def test_every_fast_path_is_exercised():
    """Each Function class with a ``backward_arrays`` appears in some graph compared above (first order,
    or inside a recorded backward pass)."""
    import minigrad.nn.functional  # noqa: F401  (import every module that defines Functions)

    seen: set[type] = set()
    for op in OPS:
        if not op.gradcheck:
            continue
        for s in op.samples:
            _grads(op, s, np, reference=False, seen=seen)
            if op.gradgrad and s.gradgrad:
                _gradgrads(op, s, np, reference=False, seen=seen)
    fast = {c for c in _all_function_classes() if getattr(c, "backward_arrays", None) is not None}
    missing = sorted(c.__qualname__ for c in fast - seen)
    assert not missing, f"backward_arrays never compared with backward: {missing}"


# --- when the engine takes which path -------------------------------------------------------------
class _Counting(Function):
    """y = 3x with both paths counted."""

    calls: list = []  # noqa: RUF012

    def forward(self, x):
        return x * 3.0

    def backward(self, gy):
        _Counting.calls.append("backward")
        return gy * 3.0

    def backward_arrays(self, gy):
        _Counting.calls.append("arrays")
        return gy * 3.0


def _counted(**kw):
    _Counting.calls = []
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = _Counting()(x).sum()
    y.backward(**kw)
    return _Counting.calls, x.grad.numpy()


def test_first_order_backward_uses_backward_arrays():
    calls, g = _counted()
    assert calls == ["arrays"]
    np.testing.assert_array_equal(g, [3.0, 3.0])


def test_create_graph_and_anomaly_use_the_reference():
    calls, _ = _counted(create_graph=True)
    assert calls == ["backward"]
    with mg.detect_anomaly():
        calls, _ = _counted()
    assert calls == ["backward"]
    with reference_backward():
        calls, _ = _counted()
    assert calls == ["backward"]


def test_node_without_fast_path_gets_tensors_under_no_grad():
    seen = []

    class Twice(Function):
        def forward(self, x):
            return x * 2.0

        def backward(self, gy):
            seen.append((type(gy), mg.is_grad_enabled()))
            return gy * 2.0

    x = mg.tensor([1.0, -1.0], requires_grad=True)
    (Twice()(x.exp()) * x).sum().backward()
    assert seen == [(mg.Tensor, False)]
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, -1.0]) * (1 + np.array([1.0, -1.0])))


def test_backward_returning_an_array_is_a_type_error():
    class Bad(Function):
        def forward(self, x):
            return x * 2.0

        def backward(self, gy):
            return gy.array * 2.0

    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="return a Tensor"):
        Bad()(x).sum().backward()


def test_hooks_and_retained_grads_on_the_fast_path_match_the_reference():
    def run(reference):
        x = mg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = x.tanh()
        h.retain_grad()
        h.register_hook(lambda g: g * 2.0)  # replaces the gradient flowing on
        x.register_hook(lambda g: g + 1.0)
        y = (h * h).sum()
        if reference:
            with reference_backward():
                y.backward()
        else:
            y.backward()
        return x.grad.numpy().copy(), h.grad.numpy().copy()

    (gx, gh), (rx, rh) = run(False), run(True)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gh, rh)


def test_leaf_grads_do_not_share_memory():
    """One gradient array reaching two leaves (Add hands dy on unchanged) gives each its own .grad."""
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    a.grad.array += 1.0
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    # and accumulation into an existing .grad stays in place and correct
    (a * 2.0 + b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])


def test_float32_stays_float32_on_the_fast_path():
    x = mg.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    w = mg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = mg.nn.functional.linear(x, w).sigmoid().mean()
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_retain_graph_then_second_backward_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_saved_output_changed_in_place_raises_on_the_fast_path():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = (y * 1.0).sum()
    with mg.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
