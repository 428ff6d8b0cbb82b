"""minigrad.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp against finite differences and
torch.autograd.functional (same return structures: Tensor for Tensor, tuple for tuple)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import functional as AF

_rng = np.random.default_rng(7)
A = _rng.normal(size=(3,))
B = _rng.normal(size=(2, 2))
V3 = _rng.normal(size=(3,))
V22 = _rng.normal(size=(2, 2))


def f_single(x):  # R^3 -> R^3
    return mg.sin(x) * (x**2).sum()


def f_multi(x, y):  # (R^3, R^{2x2}) -> (R^3, R^{2x2})
    return x * (y**2).sum(), mg.exp(y) * x.sum()


def s_single(x):  # R^3 -> R
    return (x**3).sum() * mg.sin(x).sum()


def s_multi(x, y):  # (R^3, R^{2x2}) -> R
    return (x**2).sum() * (y**3).sum() + mg.tanh(x).sum()


def _fd_jacobian(f, arrays, eps=1e-6):
    """J[i][j]: d out_i / d in_j by central differences (float64)."""
    outs = f(*[mg.tensor(a) for a in arrays])
    outs = outs if isinstance(outs, tuple) else (outs,)
    res = [[np.zeros(o.shape + a.shape) for a in arrays] for o in outs]
    for j, a in enumerate(arrays):
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[j][idx] += eps
            minus[j][idx] -= eps
            op = f(*[mg.tensor(x) for x in plus])
            om = f(*[mg.tensor(x) for x in minus])
            op = op if isinstance(op, tuple) else (op,)
            om = om if isinstance(om, tuple) else (om,)
            for i in range(len(outs)):
                res[i][j][(..., *idx)] = (op[i].numpy() - om[i].numpy()) / (2 * eps)
    return res


def test_jacobian_single_matches_finite_differences():
    J = AF.jacobian(f_single, mg.tensor(A))
    assert isinstance(J, mg.Tensor) and J.shape == (3, 3) and not J.requires_grad
    np.testing.assert_allclose(J.numpy(), _fd_jacobian(f_single, [A])[0][0], atol=1e-7)


def test_jacobian_structures():
    x, y = mg.tensor(A), mg.tensor(B)
    J = AF.jacobian(f_multi, (x, y))
    fd = _fd_jacobian(f_multi, [A, B])
    assert isinstance(J, tuple) and all(isinstance(r, tuple) and len(r) == 2 for r in J)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(J[i][j].numpy(), fd[i][j], atol=1e-7)
    # one output, tuple of inputs -> tuple over inputs
    Jt = AF.jacobian(lambda a, b: a * b.sum(), (x, y))
    assert isinstance(Jt, tuple) and Jt[0].shape == (3, 3) and Jt[1].shape == (3, 2, 2)
    # tuple of outputs, one input -> tuple over outputs
    Jo = AF.jacobian(lambda a: (a * 2, a.sum()), x)
    assert isinstance(Jo, tuple) and Jo[0].shape == (3, 3) and Jo[1].shape == (3,)


def test_hessian_matches_finite_differences_of_gradient():
    H = AF.hessian(s_single, mg.tensor(A))
    assert H.shape == (3, 3)

    def g(x):
        return AF.vjp(s_single, x)[1]

    np.testing.assert_allclose(H.numpy(), _fd_jacobian(g, [A])[0][0], atol=1e-6)
    np.testing.assert_allclose(H.numpy(), H.numpy().T, atol=1e-10)
    Ht = AF.hessian(s_multi, (mg.tensor(A), mg.tensor(B)))
    assert Ht[0][1].shape == (3, 2, 2) and Ht[1][0].shape == (2, 2, 3) and Ht[1][1].shape == (2, 2, 2, 2)


def test_vjp_jvp_consistent_with_jacobian():
    x = mg.tensor(A)
    J = AF.jacobian(f_single, x).numpy()
    out, vj = AF.vjp(f_single, x, mg.tensor(V3))
    np.testing.assert_allclose(out.numpy(), f_single(x).numpy())
    np.testing.assert_allclose(vj.numpy(), V3 @ J, atol=1e-12)
    out, jv = AF.jvp(f_single, x, mg.tensor(V3))
    np.testing.assert_allclose(jv.numpy(), J @ V3, atol=1e-12)


def test_hvp_vhp_consistent_with_hessian():
    x = mg.tensor(A)
    H = AF.hessian(s_single, x).numpy()
    val, hv = AF.hvp(s_single, x, mg.tensor(V3))
    assert val.shape == () and isinstance(hv, mg.Tensor)
    np.testing.assert_allclose(hv.numpy(), H @ V3, atol=1e-12)
    _, vh = AF.vhp(s_single, x, mg.tensor(V3))
    np.testing.assert_allclose(vh.numpy(), V3 @ H, atol=1e-12)
    _, hvs = AF.hvp(s_multi, (mg.tensor(A), mg.tensor(B)), (mg.tensor(V3), mg.tensor(V22)))
    assert isinstance(hvs, tuple) and hvs[0].shape == (3,) and hvs[1].shape == (2, 2)


def test_v_defaults_only_for_single_element():
    out, g = AF.vjp(lambda x: (x**2).sum(), mg.tensor(A))
    np.testing.assert_allclose(g.numpy(), 2 * A)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(f_single, mg.tensor(A))
    with pytest.raises(RuntimeError, match=r"v has shape \(2,\) but the output has shape \(3,\)"):
        AF.vjp(f_single, mg.tensor(A), mg.ones(2))


def test_unused_input_zeros_or_strict_error():
    x, y = mg.tensor(A), mg.tensor(B)
    _, (gx, gy) = AF.vjp(lambda a, b: (a**2).sum(), (x, y))
    np.testing.assert_array_equal(gy.numpy(), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda a, b: (a**2).sum(), (x, y), strict=True)
    J = AF.jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_array_equal(J[1].numpy(), np.zeros((3, 2, 2)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    Jc = AF.jacobian(lambda a: mg.ones(2), x)  # constant output: zeros
    np.testing.assert_array_equal(Jc.numpy(), np.zeros((2, 3)))


def test_bad_inputs_and_outputs():
    with pytest.raises(TypeError, match="vjp: the inputs given to vjp must be either a Tensor or a tuple"):
        AF.vjp(f_single, A)
    with pytest.raises(TypeError, match="jacobian: the outputs of the user-provided function"):
        AF.jacobian(lambda x: 3.0, mg.tensor(A))
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(f_single, mg.tensor(A))


def test_callers_graph_untouched_and_create_graph():
    x = mg.tensor(A, requires_grad=True)
    _, g = AF.vjp(s_single, x)
    assert not g.requires_grad and x.grad is None
    _, g = AF.vjp(s_single, x, create_graph=True)
    assert g.requires_grad
    (h,) = mg.grad(g.sum(), x)  # differentiable through vjp: H @ 1
    H = AF.hessian(s_single, mg.tensor(A)).numpy()
    np.testing.assert_allclose(h.numpy(), H.sum(1), atol=1e-10)
    Hc = AF.hessian(s_single, x, create_graph=True)
    assert Hc.requires_grad


def test_float32_stays_float32():
    x = mg.tensor(A.astype(np.float32))
    assert AF.jacobian(f_single, x).dtype == np.float32
    assert AF.hvp(s_single, x, mg.tensor(V3.astype(np.float32)))[1].dtype == np.float32


# --- oracle ---------------------------------------------------------------------------------------------
def _t(torch, f):
    """The torch twin of one of the functions above (same expression, torch ops)."""
    import types

    ns = types.SimpleNamespace(sin=torch.sin, exp=torch.exp, tanh=torch.tanh)
    src = {
        f_single: lambda x: ns.sin(x) * (x**2).sum(),
        f_multi: lambda x, y: (x * (y**2).sum(), ns.exp(y) * x.sum()),
        s_single: lambda x: (x**3).sum() * ns.sin(x).sum(),
        s_multi: lambda x, y: (x**2).sum() * (y**3).sum() + ns.tanh(x).sum(),
    }
    return src[f]


def _cmp(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)  # torch: lists for forward-mode
        for p, q in zip(a, b):
            _cmp(p, q)
        return
    assert isinstance(a, mg.Tensor) and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("single", [True, False])
def test_against_torch(single):
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as TF

    if single:
        f, s, args, vin = f_single, s_single, (A,), (V3,)
        vout = (V3,)
    else:
        f, s, args, vin = f_multi, s_multi, (A, B), (V3, V22)
        vout = (V3, V22)

    def mgt(arrs):
        ts = tuple(mg.tensor(a) for a in arrs)
        return ts[0] if single else ts

    def tht(arrs):
        ts = tuple(torch.tensor(a) for a in arrs)
        return ts[0] if single else ts

    ft, st = _t(torch, f), _t(torch, s)
    _cmp(AF.jacobian(f, mgt(args)), TF.jacobian(ft, tht(args)))
    _cmp(AF.hessian(s, mgt(args)), TF.hessian(st, tht(args)))
    _cmp(AF.vjp(f, mgt(args), mgt(vout)), TF.vjp(ft, tht(args), tht(vout)))
    _cmp(AF.jvp(f, mgt(args), mgt(vin)), TF.jvp(ft, tht(args), tht(vin)))
    _cmp(AF.hvp(s, mgt(args), mgt(vin)), TF.hvp(st, tht(args), tht(vin)))
    _cmp(AF.vhp(s, mgt(args), mgt(vin)), TF.vhp(st, tht(args), tht(vin)))
    Jf = AF.jacobian(f, mgt(args), vectorize=True, strategy="forward-mode")
    _cmp(Jf, TF.jacobian(ft, tht(args), vectorize=True, strategy="forward-mode"))
