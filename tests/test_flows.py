"""Flow layers (minigrad.nn.flows): exact inverses, log-dets against a brute-force autograd Jacobian,
the change-of-variables examples of the issue, ActNorm's data-dependent init and NaN guards."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.autograd.functional import jacobian
from minigrad.nn import flows as fl


def _set(param, value) -> None:
    """Overwrite a parameter's values (outside autograd)."""
    with mg.no_grad():
        param.copy_(np.asarray(value, dtype=param.numpy().dtype))


def _conv_net(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, 6, 3, padding=1), nn.Tanh(), nn.Conv2d(6, c_out, 3, padding=1))


def _mlp(d_in: int, d_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, 8), nn.Tanh(), nn.Linear(8, d_out))


# name -> (builder, per-example input shape); nets are randomly initialised, so no layer is the identity
LAYERS = {
    "affine_checker": (lambda: fl.AffineCoupling(fl.checkerboard_mask(2, 2, 0), _conv_net(4, 8), 4),
                       (4, 2, 2)),
    "affine_checker_c1": (lambda: fl.AffineCoupling(fl.checkerboard_mask(4, 4, 1), _conv_net(1, 2), 1),
                          (1, 4, 4)),
    "affine_channel": (lambda: fl.AffineCoupling("channel", _conv_net(2, 4), 4), (4, 2, 2)),
    "affine_channel_flip": (lambda: fl.AffineCoupling("channel_flip", _conv_net(2, 4), 4), (4, 2, 2)),
    "affine_alternating": (lambda: fl.AffineCoupling(fl.alternating_mask(6, 1), _mlp(6, 12)), (6,)),
    "affine_half_vec": (lambda: fl.AffineCoupling(fl.half_mask(6, 0), _mlp(6, 12)), (6,)),
    "affine_channel_vec_odd": (lambda: fl.AffineCoupling("channel", _mlp(2, 6), 5), (5,)),
    "additive_checker": (lambda: fl.AdditiveCoupling(fl.checkerboard_mask(2, 2, 1), _conv_net(4, 4)),
                         (4, 2, 2)),
    "additive_channel": (lambda: fl.AdditiveCoupling("channel_flip", _conv_net(2, 2)), (4, 2, 2)),
    "additive_vec": (lambda: fl.AdditiveCoupling(fl.alternating_mask(6, 0), _mlp(6, 6)), (6,)),
    "squeeze": (lambda: fl.Squeeze(), (1, 4, 4)),
    "unsqueeze": (lambda: fl.Unsqueeze(), (4, 2, 2)),
    "actnorm": (lambda: fl.ActNorm(4), (4, 2, 2)),
    "actnorm_vec": (lambda: fl.ActNorm(6), (6,)),
    "invconv": (lambda: fl.InvConv1x1(4, seed=1), (4, 2, 2)),
    "invconv_lu": (lambda: fl.InvConv1x1(4, lu=True, seed=2), (4, 2, 2)),
    "invconv_vec": (lambda: fl.InvConv1x1(6, seed=3), (6,)),
    "logit": (lambda: fl.LogitTransform(0.05), (1, 4, 4)),
    "multiscale": (lambda: _multiscale(), (1, 4, 4)),
}


def _multiscale() -> fl.MultiScaleFlow:
    level0 = fl.FlowSequential(fl.AffineCoupling(fl.checkerboard_mask(4, 4, 0), _conv_net(1, 2), 1),
                               fl.Squeeze(), fl.ActNorm(4), fl.InvConv1x1(4, lu=True, seed=4),
                               fl.AffineCoupling("channel", _conv_net(2, 4), 4))
    level1 = fl.FlowSequential(fl.Squeeze(), fl.InvConv1x1(8, seed=5),
                               fl.AdditiveCoupling("channel", _conv_net(4, 4)))
    return fl.MultiScaleFlow([level0, level1], (1, 4, 4))


def _build(name: str, dtype, n: int = 8, seed: int = 0):
    """The layer (ActNorm layers initialised on a first batch) and a fresh input batch of ``n``."""
    mg.manual_seed(seed)
    np.random.seed(seed)
    builder, shape = LAYERS[name]
    layer = builder()
    if dtype == np.float64:
        layer = layer.double()
    rng = np.random.default_rng(seed)

    def draw(m: int) -> np.ndarray:
        size = (m,) + shape
        return rng.uniform(0.05, 0.95, size=size) if name == "logit" else rng.normal(size=size)

    layer(mg.tensor(draw(16).astype(dtype)))  # data-dependent init of any ActNorm
    x = draw(n)
    return layer, mg.tensor(x.astype(dtype))


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_inverse_recovers_input(name, dtype, tol):
    layer, x = _build(name, dtype)
    y, logdet = layer(x)
    assert logdet.shape == (x.shape[0],) and logdet.dtype == dtype and y.dtype == dtype
    assert not np.allclose(y.numpy().reshape(-1), x.numpy().reshape(-1))  # not the identity
    err = np.abs(layer.inverse(y).numpy() - x.numpy()).max()
    assert err < tol, f"{name}: max |f^-1(f(x)) - x| = {err}"


def _brute_logdet(layer, x: mg.Tensor) -> float:
    """log|det J| of one example from the full autograd Jacobian (D x D) and numpy's slogdet."""
    d = int(np.prod(x.shape[1:]))
    jac = jacobian(lambda v: layer(v)[0], x).numpy().reshape(d, d)
    sign, logabs = np.linalg.slogdet(jac)
    assert sign != 0
    return float(logabs)


@pytest.mark.parametrize("name", list(LAYERS))
def test_logdet_matches_brute_force_jacobian(name):
    layer, x = _build(name, np.float64, n=1, seed=3)
    _, logdet = layer(x)
    assert abs(float(logdet.numpy()[0]) - _brute_logdet(layer, x)) < 1e-8


def test_logdet_is_per_example():
    layer, x = _build("affine_checker", np.float64, n=3, seed=4)
    _, logdet = layer(x)
    for i in range(3):
        assert abs(float(logdet.numpy()[i]) - _brute_logdet(layer, x[i:i + 1])) < 1e-8


# --- the examples -------------------------------------------------------------------------------
def test_linear_flow_det_minus_two():
    """f(z) = (z1 + z2, 2 z1): J = [[1, 1], [2, 0]], det J = -2, log|det| = log 2."""
    layer = fl.InvConv1x1(2).double()
    _set(layer.weight, np.array([[1.0, 1.0], [2.0, 0.0]]))
    z = mg.tensor(np.array([[0.3, -1.2]]))
    y, logdet = layer(z)
    np.testing.assert_allclose(y.numpy(), [[0.3 - 1.2, 0.6]])
    assert abs(float(logdet.numpy()[0]) - np.log(2.0)) < 1e-12
    jac = jacobian(lambda v: layer(v)[0], z).numpy().reshape(2, 2)
    assert np.linalg.det(jac) == pytest.approx(-2.0)


def test_uniform_pushed_through_affine_has_density_half():
    """z ~ U[0, 1], x = 2 z + 1: p(x) = p(z) / |dx/dz| = 0.5 on [1, 3] (ActNorm as the affine map)."""
    layer = fl.ActNorm(1).double()
    layer.initialized.array = np.ones((), dtype=bool)
    _set(layer.bias, np.array([0.5]))  # y = (z + 0.5) * 2
    _set(layer.log_scale, np.array([np.log(2.0)]))
    z = mg.tensor(np.random.default_rng(0).uniform(0, 1, size=(1000, 1)))
    x, logdet = layer(z)
    assert x.numpy().min() >= 1.0 and x.numpy().max() <= 3.0
    log_px = 0.0 - logdet.numpy()  # log p_z(z) = 0 on [0, 1]
    np.testing.assert_allclose(np.exp(log_px), 0.5)
    np.testing.assert_allclose(layer.inverse(x).numpy(), z.numpy(), atol=1e-12)


def test_invconv_permutation():
    """W sending channels [1, 2, 3] to [3, 1, 2] permutes them and has log|det| = 0."""
    layer = fl.InvConv1x1(3).double()
    _set(layer.weight, np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    x = mg.tensor(np.random.default_rng(1).normal(size=(2, 3, 2, 2)))
    y, logdet = layer(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy()[:, [2, 0, 1]])
    np.testing.assert_allclose(logdet.numpy(), 0.0, atol=1e-14)


@pytest.mark.parametrize("lu", [False, True])
def test_invconv_logdet_scales_with_image_size(lu):
    layer = fl.InvConv1x1(3, lu=lu, seed=7).double()
    w = layer.weight_matrix().numpy()
    for h, wd in [(1, 1), (2, 3), (4, 4)]:
        _, logdet = layer(mg.tensor(np.ones((1, 3, h, wd))))
        assert float(logdet.numpy()[0]) == pytest.approx(h * wd * np.linalg.slogdet(w)[1], abs=1e-12)


def test_invconv_lu_reproduces_orthogonal_init():
    layer = fl.InvConv1x1(5, lu=True, seed=9).double()
    w = layer.weight_matrix().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-6)
    assert abs(float(layer.log_abs_det_w().numpy())) < 1e-6


# --- ActNorm --------------------------------------------------------------------------------------------
def test_actnorm_init_normalises_first_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[3.0, -2.0, 0.5], scale=[0.1, 5.0, 1.0], size=(64, 3)).T.reshape(3, 64)
    x = mg.tensor(np.ascontiguousarray(x.T.reshape(16, 4, 3).transpose(0, 2, 1)).reshape(16, 3, 2, 2))
    layer = fl.ActNorm(3).double()
    y, _ = layer(x)
    a = y.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(a.mean(1), 0.0, atol=1e-10)
    np.testing.assert_allclose(a.std(1), 1.0, atol=1e-10)
    y2, _ = layer(x * 2)  # the init happens once: a second batch is not renormalised
    assert abs(y2.numpy().transpose(1, 0, 2, 3).reshape(3, -1).std(1) - 2.0).max() < 1e-10


def test_actnorm_constant_channel_is_finite():
    x = np.random.default_rng(0).normal(size=(8, 2, 2, 2))
    x[:, 1] = 0.7
    layer = fl.ActNorm(2).double()
    y, logdet = layer(mg.tensor(x))
    assert np.isfinite(y.numpy()).all() and np.isfinite(logdet.numpy()).all()
    np.testing.assert_allclose(y.numpy()[:, 1], 0.0)  # centred, scale left at 1
    assert float(layer.log_scale.numpy()[1]) == 0.0


def test_actnorm_state_dict_keeps_initialized():
    layer = fl.ActNorm(3)
    layer(mg.randn(10, 3, 2, 2) * 4 + 1)
    state = layer.state_dict()
    assert "initialized" in state
    fresh = fl.ActNorm(3)
    assert not bool(fresh.initialized.numpy())
    fresh.load_state_dict(state)
    assert bool(fresh.initialized.numpy())
    x = mg.randn(5, 3, 2, 2)
    np.testing.assert_array_equal(fresh(x)[0].numpy(), layer(x)[0].numpy())  # no second init


def test_invconv_lu_state_dict_round_trip():
    a, b = fl.InvConv1x1(4, lu=True, seed=1), fl.InvConv1x1(4, lu=True, seed=2)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.weight_matrix().numpy(), b.weight_matrix().numpy())


# --- shapes, layout, errors -----------------------------------------------------------------------------
def test_squeeze_layout():
    x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    y, _ = fl.Squeeze()(x)
    assert y.shape == (1, 4, 2, 2)
    np.testing.assert_array_equal(y.numpy()[0, :, 0, 0], [0, 1, 4, 5])  # channel 2i + j: pixel (i, j)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[0, 2], [8, 10]])


def test_multiscale_z_layout():
    flow = _multiscale()
    assert flow.z_shapes == [(2, 2, 2), (8, 1, 1)]
    x = mg.randn(3, 1, 4, 4)
    z, _ = flow(x)
    assert z.shape == (3, 16)
    h, _ = flow.level0(x)  # the first 8 entries of z are the factored-out second half of level 0
    np.testing.assert_allclose(z.numpy()[:, :8], h.numpy()[:, 2:].reshape(3, 8), atol=1e-6)


def test_standard_normal_logprob():
    z = mg.tensor(np.array([[0.0, 0.0], [1.0, -2.0]]))
    np.testing.assert_allclose(fl.standard_normal_logprob(z).numpy(),
                               [-np.log(2 * np.pi), -np.log(2 * np.pi) - 2.5])


def test_uniform_dequantize_range():
    v = np.array([[0, 1, 15, 16]])
    y = fl.uniform_dequantize(v, 17, np.random.default_rng(0))
    assert ((y * 17 >= v) & (y * 17 < v + 1)).all() and y.dtype == np.float32


def test_non_finite_forward_names_the_layer():
    layer = fl.ActNorm(2)
    layer.initialized.array = np.ones((), dtype=bool)
    _set(layer.log_scale, np.array([1e4, 0.0], dtype=np.float32))
    flow = fl.FlowSequential(fl.Squeeze(), fl.FlowSequential(fl.Unsqueeze(), layer))
    with np.errstate(over="ignore", divide="ignore"):
        with pytest.raises(FloatingPointError, match="ActNorm"):
            flow(mg.randn(2, 2, 2, 2))
        with pytest.raises(FloatingPointError, match="LogitTransform"):
            fl.LogitTransform(0.0)(mg.tensor(np.array([[0.0, 0.5]])))


def test_zero_init_coupling_is_identity():
    layer = fl.AffineCoupling(fl.alternating_mask(4), fl.zero_init(_mlp(4, 8)))
    x = mg.randn(5, 4)
    y, logdet = layer(x)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(logdet.numpy(), 0.0)
