"""PyTorch-style custom functions (``F.apply`` with static forward/backward taking ctx) beside minigrad's
own Function style; errors for mixing the two and for backwards that return raw arrays."""

from __future__ import annotations

import numpy as np
import pytest
from opdb_custom import Cube, Exp, MulAdd, SinCos

import minigrad as mg


def _x(*shape, seed=0):
    return mg.tensor(np.random.default_rng(seed).uniform(-1, 1, size=shape), requires_grad=True)


def test_cube_grad_and_double_grad():
    x = _x(4)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn is not None and "Cube" in repr(y.grad_fn)
    (g,) = mg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 6 * x.numpy() ** 2)
    (gg,) = mg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 12 * x.numpy())


def test_backward_accumulates_into_leaf_grad():
    x = _x(3)
    Exp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.numpy()))


def test_multiple_outputs_and_one_unused():
    x = _x(5)
    s, c = SinCos.apply(x)
    s.sum().backward()  # c receives no gradient: backward gets zeros for it
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()))


def test_needs_input_grad_per_forward_argument():
    seen = {}

    class Probe(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["fwd"] = ctx.needs_input_grad
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            seen["bwd"] = ctx.needs_input_grad
            return g, None, None

    a, b = _x(2), mg.ones(2)
    Probe.apply(a, b, 3).sum().backward()
    assert seen["fwd"] == seen["bwd"] == (True, False, False)
    with mg.no_grad():
        y = Probe.apply(a, b, 3)
    assert seen["fwd"] == (False, False, False) and y.grad_fn is None and not y.requires_grad


def test_setup_context_style():
    x, y = _x(3), _x(3, seed=1)
    MulAdd.apply(x, y, 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())
    np.testing.assert_allclose(y.grad.numpy(), x.numpy())


def test_forward_records_nothing():
    inner = {}

    class F(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            z = x * 2
            inner["z"] = z
            return z + 1

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = F.apply(_x(3))
    assert inner["z"].grad_fn is None and y.grad_fn is not None


def test_mark_non_differentiable():
    class MaxArg(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = mg.tensor(np.argmax(x.numpy()), dtype=np.float64)
            m = x.max()
            ctx.save_for_backward(x, i)
            ctx.mark_non_differentiable(i)
            return m, i

        @staticmethod
        def backward(ctx, gm, gi):
            x, i = ctx.saved_tensors
            out = mg.zeros_like(x)
            out.array[int(i.item())] = 1.0
            return out * gm

    x = mg.tensor([1.0, 5.0, 2.0], requires_grad=True)
    m, i = MaxArg.apply(x)
    assert m.requires_grad and not i.requires_grad and i.grad_fn is None
    m.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, 0.0])


def test_ctx_style_called_minigrad_way_raises():
    with pytest.raises(TypeError, match=r"Cube\.apply\(x, \.\.\.\), not Cube\(\)\(x, \.\.\.\)"):
        Cube()(_x(2))


def test_minigrad_style_called_with_apply_raises_and_still_works():
    class Twice(mg.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g * 2

    x = _x(3)
    with pytest.raises(TypeError, match=r"Twice\(\)\(x, \.\.\.\), not Twice\.apply"):
        Twice.apply(x)
    Twice()(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_ctx_style_backward_returning_numpy_raises():
    class Bad(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.numpy() * 2

    y = Bad.apply(_x(3))
    msg = r"Bad\.backward returned a numpy\.ndarray for input 0; return a Tensor \(wrap an array with"
    with pytest.raises(TypeError, match=msg):
        y.sum().backward()


def test_minigrad_style_backward_returning_numpy_raises():
    class Bad(mg.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g.numpy() * 2

    y = Bad()(_x(3))
    msg = r"Bad\.backward returned a numpy\.ndarray for input 0; return a Tensor \(wrap an array with"
    with pytest.raises(TypeError, match=msg):
        y.sum().backward()


def test_wrong_number_of_gradients():
    class Short(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    y = Short.apply(_x(2), _x(2, seed=1))
    with pytest.raises(RuntimeError, match=r"Short\.backward returned 1 gradients, expected 2"):
        y.sum().backward()


def test_gradient_for_non_tensor_argument_raises():
    class Extra(mg.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    y = Extra.apply(_x(2), 3.0)
    with pytest.raises(RuntimeError, match=r"Extra\.backward returned a gradient for input 1"):
        y.sum().backward()


def test_forward_returning_numpy_raises():
    class F(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.numpy()

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match=r"F\.forward returned a numpy\.ndarray as output 0"):
        F.apply(_x(2))


def test_saved_tensor_modified_in_place_raises():
    x = _x(3)
    y = Cube.apply(x * 1, 1.0)  # saves the (non-leaf) input x * 1
    inp = y.grad_fn.inputs[0]
    inp._bump_version()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_second_backward_names_the_class():
    x = _x(3)
    y = Exp.apply(x)
    y.backward(mg.ones(3))
    with pytest.raises(RuntimeError, match=r"op Exp"):
        y.backward(mg.ones(3))


def test_saving_a_non_tensor_raises():
    class F(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match=r"F\.save_for_backward: argument 1 is a int"):
        F.apply(_x(2))


def test_matches_torch_custom_function():
    torch = pytest.importorskip("torch")

    class TCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x**3 * k

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * (3 * ctx.k) * x**2, None

    a = np.random.default_rng(3).normal(size=(3, 4))
    xm = mg.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    (gm,) = mg.grad(Cube.apply(xm, 1.5).sum(), xm, create_graph=True)
    (gt,) = torch.autograd.grad(TCube.apply(xt, 1.5).sum(), xt, create_graph=True)
    np.testing.assert_allclose(gm.numpy(), gt.detach().numpy(), rtol=1e-12)
    (ggm,) = mg.grad((gm**2).sum(), xm)
    (ggt,) = torch.autograd.grad((gt**2).sum(), xt)
    np.testing.assert_allclose(ggm.numpy(), ggt.numpy(), rtol=1e-12)


def test_anomaly_mode_and_viz_name_the_class():
    class Nan(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * float("nan")

        @staticmethod
        def backward(ctx, g):
            return g

    with mg.detect_anomaly():
        with pytest.raises(RuntimeError, match="forward of Nan produced NaN"):
            Nan.apply(_x(2))
        y = Exp.apply(_x(2))
    assert "Exp" in mg.viz.to_dot(y)


def test_ctx_is_a_function_ctx():
    from minigrad.autograd.function import Function, FunctionCtx

    seen = []

    class F(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(isinstance(ctx, FunctionCtx))
            return x + 1

        @staticmethod
        def backward(ctx, g):
            return g

    F.apply(_x(2))
    assert seen == [True] and Function is mg.autograd.Function


def test_saved_output_modified_in_place_raises():
    x = _x(3)
    y = Exp.apply(x)  # saves its output
    with mg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(mg.ones(3))
