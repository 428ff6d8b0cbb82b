"""The autograd engine: accumulation, graph re-use, deep graphs, retain/create_graph, ``minigrad.grad``,
hooks, retain_grad, detach, the grad-mode switches and their thread-locality."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function

ROOT = Path(__file__).resolve().parents[1]


def host(t):
    a = t.array if isinstance(t, mg.Tensor) else t
    return a.get() if hasattr(a, "get") else np.asarray(a)


def leaf(values, device="cpu", dtype="float64"):
    return mg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True, device=device)


# --- backward semantics ------------------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, -2.0, 3.0], device)
    (x * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(host(x.grad), [5.0, -1.0, 9.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 3.0, 3.0])


def test_reused_intermediate_gets_the_summed_gradient(device):
    x = leaf([0.5, -1.5, 2.0], device)
    y = x * x
    z = y + y * y  # dz/dx = 2x + 4x^3
    z.sum().backward()
    xv = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(host(x.grad), 2 * xv + 4 * xv ** 3)


def test_diamond_and_leaf_used_twice_in_one_op():
    x = leaf([1.5, -0.5])
    a, b = x.exp(), x.sin()
    (a * b + x * x).sum().backward()
    xv = np.array([1.5, -0.5])
    np.testing.assert_allclose(host(x.grad), np.exp(xv) * np.sin(xv) + np.exp(xv) * np.cos(xv) + 2 * xv)


def test_backward_of_a_leaf_itself():
    x = leaf([1.0, 2.0])
    x.backward(mg.tensor([3.0, 4.0], dtype="float64"))
    np.testing.assert_allclose(host(x.grad), [3.0, 4.0])


def test_backward_through_a_multi_output_op_with_an_unused_output():
    x = leaf(np.arange(6.0).reshape(3, 2))
    a, b, c = mg.split(x, 1, 0)
    (b * 2.0).sum().backward()  # a and c receive no gradient: zeros are filled in
    np.testing.assert_allclose(host(x.grad), [[0, 0], [2, 2], [0, 0]])


def test_long_chain_backward_is_iterative():
    """A 100k-node chain: a recursive walk would raise RecursionError (the limit is ~1000 frames)."""
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    assert x.grad.item() == 1.0
    assert y.grad_fn._freed  # and the graph was released as it went


def test_deep_chain_can_be_built_and_deallocated():
    """Dropping a 100k-node chain that never ran backward must not overflow the C stack (run in a child
    process so that a crash is a test failure rather than the end of the test run)."""
    code = (
        "import gc, minigrad as mg\n"
        "x = mg.randn(4, requires_grad=True)\n"
        "y = x\n"
        "for _ in range(100_000):\n"
        "    y = y + 1.0\n"
        "del y\n"
        "gc.collect()\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * 2.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(host(x.grad), 4 * np.exp([1.0, 2.0]))


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        (x * 2.0).backward()


def test_gradient_argument_is_the_vector_of_a_vjp(device):
    x = leaf([[1.0, 2.0], [3.0, 4.0]], device)
    w = leaf([[0.5, -1.0], [2.0, 0.0]], device)
    v = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), device=device)
    (x * w).backward(v)
    np.testing.assert_allclose(host(x.grad), host(v) * host(w))
    np.testing.assert_allclose(host(w.grad), host(v) * host(x))
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*\(2, 2\)"):
        (x * w).backward(mg.ones(3, dtype="float64"))


def test_backward_inputs_accumulates_only_into_the_given_tensors():
    x, w, b = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([0.5, 0.5])
    out = (x * w + b).sum()
    out.backward(inputs=[w], retain_graph=True)
    np.testing.assert_allclose(host(w.grad), [1.0, 2.0])
    assert x.grad is None and b.grad is None
    out.backward(inputs=[w, b])
    np.testing.assert_allclose(host(w.grad), [2.0, 4.0])
    np.testing.assert_allclose(host(b.grad), [1.0, 1.0])
    assert x.grad is None


def test_backward_inputs_gives_independent_gradient_arrays():
    """One gradient Tensor may reach several inputs (a + b); each .grad must own its array, since
    optimizers update gradients in place."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward(inputs=[a, b])
    assert a.grad.array is not b.grad.array
    with mg.no_grad():
        a.grad.mul_(0.0)
    np.testing.assert_allclose(host(b.grad), [1.0, 1.0])


def test_leaf_grads_do_not_alias_each_other_or_the_seed():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = mg.ones(2, dtype="float64")
    (a + b).backward(seed)
    assert a.grad.array is not b.grad.array and a.grad.array is not seed.array


# --- higher order --------------------------------------------------------------------------------------
def test_second_derivative_of_cube(device):
    x = leaf([-1.0, 0.5, 2.0], device)
    (g,) = mg.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(host(g), 3 * host(x) ** 2)
    g.sum().backward()
    np.testing.assert_allclose(host(x.grad), 6 * host(x))


def test_hessian_vector_product_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    x = leaf(rng.standard_normal(4))
    A = mg.tensor(a)
    f = x @ (A @ x)  # x^T A x: gradient (A + A^T) x, Hessian A + A^T
    (g,) = mg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(host(g), (a + a.T) @ host(x))
    (hv,) = mg.grad(g, x, grad_outputs=mg.tensor(v))
    np.testing.assert_allclose(host(hv), (a + a.T) @ v, rtol=1e-12)


def test_gradient_penalty_differentiated_with_respect_to_parameters():
    """pen(w) = || d/dx sum(tanh(x @ w)) ||^2, checked against central differences in w."""
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def penalty(w_arr, record):
        x = leaf(xv)
        w = mg.tensor(w_arr, requires_grad=record)
        out = mg.tanh(x @ w).sum()
        (gx,) = mg.grad(out, x, create_graph=True)
        return (gx * gx).sum(), w

    pen, w = penalty(wv, True)
    pen.backward()
    num = np.zeros_like(wv)
    eps = 1e-6
    for idx in np.ndindex(wv.shape):
        wp, wm = wv.copy(), wv.copy()
        wp[idx] += eps
        wm[idx] -= eps
        num[idx] = (penalty(wp, False)[0].item() - penalty(wm, False)[0].item()) / (2 * eps)
    np.testing.assert_allclose(host(w.grad), num, rtol=1e-5, atol=1e-7)


def test_third_derivative_of_sin():
    x = leaf([0.3, 1.2, -2.0])
    (g1,) = mg.grad(mg.sin(x).sum(), x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    np.testing.assert_allclose(host(g1), np.cos(host(x)))
    np.testing.assert_allclose(host(g2), -np.sin(host(x)))
    np.testing.assert_allclose(host(g3), -np.cos(host(x)))


def test_create_graph_accumulates_a_differentiable_grad():
    x = leaf([2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = mg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(host(gg), [12.0])


# --- minigrad.grad ------------------------------------------------------------------------------------
def test_grad_returns_gradients_and_leaves_dot_grad_alone(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, -1.0], device)
    gx, gw = mg.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(host(gx), [3.0, -1.0])
    np.testing.assert_allclose(host(gw), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_with_grad_outputs_and_several_outputs():
    x = leaf([1.0, 2.0, 3.0])
    y1, y2 = x * 2.0, x * x
    v1, v2 = mg.tensor([1.0, 0.0, -1.0], dtype="float64"), mg.tensor([0.5, 0.5, 2.0], dtype="float64")
    (g,) = mg.grad([y1, y2], x, grad_outputs=[v1, v2])
    np.testing.assert_allclose(host(g), 2 * host(v1) + 2 * host(x) * host(v2))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        mg.grad(y1, x)


def test_grad_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    with pytest.raises(RuntimeError, match=r"input 1 .*not used.*allow_unused=True"):
        mg.grad((x * 2.0).sum(), [x, unused])
    gx, gu = mg.grad((x * 2.0).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(host(gx), [2.0, 2.0])
    assert gu is None


def test_grad_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp()).sum()
    (g1,) = mg.grad(y, x, retain_graph=True)
    (g2,) = mg.grad(y, x)
    np.testing.assert_allclose(host(g1), host(g2))
    with pytest.raises(RuntimeError, match="second time"):
        mg.grad(y, x)


def test_grad_with_respect_to_a_non_leaf():
    x = leaf([1.0, -2.0])
    y = x * 3.0
    z = (y * y).sum()
    gy, gx = mg.grad(z, [y, x])
    np.testing.assert_allclose(host(gy), 2 * host(y))
    np.testing.assert_allclose(host(gx), 18 * host(x))
    assert x.grad is None


def test_grad_with_respect_to_an_activation_leaves_the_graph_below_it_usable():
    """Only the part of the graph between the output and the captured tensor is run (and freed)."""
    x = leaf([1.0, -2.0])
    h = x.exp()
    (gh,) = mg.grad((h * h).sum(), h)
    np.testing.assert_allclose(host(gh), 2 * host(h))
    (h * 5.0).sum().backward()  # Exp's saved output is still there
    np.testing.assert_allclose(host(x.grad), 5 * np.exp(host(x)))
    h2 = x.exp()
    (h2 * h2).sum().backward(inputs=[h2])
    np.testing.assert_allclose(host(h2.grad), 2 * host(h2))
    h2.sum().backward()


def test_grad_does_not_run_hooks_of_leaves_it_was_not_asked_about():
    x, w = leaf([1.0]), leaf([2.0])
    seen = []
    w.register_hook(lambda g: seen.append(g))
    mg.grad((x * w).sum(), x)
    assert seen == []
    mg.grad((x * w).sum(), w)
    assert len(seen) == 1


def test_grad_of_an_input_that_needs_no_grad_raises():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="input 0 .*does not require grad"):
        mg.grad((x * 2.0).sum(), x)


# --- hooks, retain_grad, detach --------------------------------------------------------------------
def test_hook_on_a_leaf_replaces_its_gradient_and_can_be_removed(device):
    x = leaf([1.0, 2.0], device)
    h = x.register_hook(lambda g: g * 10.0)
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(host(x.grad), [20.0, 20.0])
    h.remove()
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(host(x.grad), [2.0, 2.0])


def test_hook_on_a_non_leaf_changes_what_flows_further():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(host(g).copy()))  # returns None: observes only
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * host(y))
    np.testing.assert_allclose(host(x.grad), 0.5 * 2 * host(y) * 3.0)


def test_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="register_hook"):
        mg.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_on_a_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    z = x * 4.0
    y.retain_grad()
    assert y.retains_grad and not z.retains_grad
    (y * y + z).sum().backward()
    np.testing.assert_allclose(host(y.grad), 2 * host(y))
    assert z.grad is None


def test_retained_grad_accumulates_and_owns_its_array():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    y.retain_grad()
    seed = mg.tensor([1.0, 1.0], dtype="float64")
    y.backward(seed, retain_graph=True)
    assert y.grad.array is not seed.array
    y.backward(seed)
    np.testing.assert_allclose(host(y.grad), [2.0, 2.0])


def test_detach_requires_grad_and_is_leaf():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(host(d), host(y))
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    c = mg.tensor([1.0, 2.0])
    assert c.requires_grad_() is c and c.requires_grad
    c.requires_grad_(False)
    assert not c.requires_grad
    # gradients do not flow through detach
    (y.detach() * x).sum().backward()
    np.testing.assert_allclose(host(x.grad), host(y))


@pytest.mark.parametrize("make,name", [
    (lambda x: x * 2.0, "Mul"), (lambda x: x + x, "Add"), (lambda x: x - 1.0, "Sub"),
    (lambda x: x / 2.0, "Div"), (lambda x: x.exp(), "Exp"), (lambda x: x.sum(), "Sum"),
    (lambda x: x.reshape(1, 2) @ x.reshape(2, 1), "MatMul"), (lambda x: x.reshape(2, 1), "Reshape"),
    (lambda x: x[0], "GetItem"), (lambda x: x ** 3, "PowScalar"),
])
def test_grad_fn_names(make, name):
    x = leaf([1.0, 2.0])
    y = make(x)
    assert y.grad_fn.name() == name
    assert f"grad_fn=<{name}>" in repr(y)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        mg.arange(3).requires_grad_()
    with pytest.raises(RuntimeError, match="floating-point"):
        mg.zeros(2, dtype=mg.int32, requires_grad=True)


def test_float32_leaf_gets_a_float32_gradient_after_a_mixed_expression():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    out = (x * y + x * 2 + mg.tensor(np.float64(0.5)) * x).sum()
    assert out.dtype == np.float64
    out.backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_allclose(host(x.grad), [5.5, 6.5])


def test_custom_function_with_a_bad_backward_is_reported():
    class WrongCount(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, gy):
            return gy

    class WrongShape(Function):
        def forward(self, a):
            return a * 2

        def backward(self, gy):
            return gy.sum()

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradients for 2 inputs"):
        WrongCount()(x, x).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(\) .*\(2,\)"):
        WrongShape()(x).sum().backward()


# --- grad mode ---------------------------------------------------------------------------------------
def test_no_grad_and_enable_grad_nest():
    x = leaf([1.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2.0
        with mg.enable_grad():
            z = x * 2.0
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_grad_mode_restored_after_an_exception():
    with pytest.raises(ValueError):
        with mg.no_grad():
            raise ValueError
    assert mg.is_grad_enabled()


def test_grad_mode_decorators():
    @mg.no_grad()
    def f(x):
        return x * 2.0, mg.is_grad_enabled()

    @mg.no_grad
    def g(x):
        return x * 2.0

    @mg.enable_grad()
    def h(x):
        return x * 2.0

    x = leaf([1.0])
    y, mode = f(x)
    assert not mode and not y.requires_grad
    assert not g(x).requires_grad and g.__name__ == "g"
    with mg.no_grad():
        assert h(x).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    try:
        mg.set_grad_enabled(False)
        assert not mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)
    with mg.set_grad_enabled(False):
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()

    @mg.set_grad_enabled(False)
    def f():
        return mg.is_grad_enabled()

    assert mg.is_grad_enabled(), "decorating with set_grad_enabled(False) must not switch grad off globally"
    assert f() is False
    assert mg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    x = leaf([1.0])
    ready, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with mg.no_grad():
            seen["worker_inside"] = mg.is_grad_enabled()
            ready.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert ready.wait(10)
        # the worker sits inside no_grad(); this thread still records
        assert mg.is_grad_enabled()
        assert (x * 2.0).requires_grad
    finally:
        release.set()
        t.join(10)
    assert seen["worker_inside"] is False

    def fresh():
        seen["fresh"] = mg.is_grad_enabled()

    with mg.no_grad():
        t2 = threading.Thread(target=fresh)
        t2.start()
        t2.join(10)
    assert seen["fresh"] is True
