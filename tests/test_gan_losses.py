"""GAN-family losses (minigrad.nn.gan_losses) against NumPy formulas, finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.nn import gan_losses as L

RNG = np.random.default_rng(0)
REAL = RNG.normal(size=(6, 1))
FAKE = RNG.normal(size=(6, 1)) - 0.5


def _t(a: np.ndarray, grad: bool = False) -> mg.Tensor:
    return mg.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _sig(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("name, got, want", [
    ("mmgan_d", lambda r, f: L.mmgan_d_loss(r, f),
     lambda r, f: -np.log(_sig(r)).mean() - np.log(1 - _sig(f)).mean()),
    ("mmgan_g", lambda r, f: L.mmgan_g_loss(f), lambda r, f: np.log(1 - _sig(f)).mean()),
    ("nsgan_g", lambda r, f: L.nsgan_g_loss(f), lambda r, f: -np.log(_sig(f)).mean()),
    ("lsgan_d", lambda r, f: L.lsgan_d_loss(r, f),
     lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()),
    ("lsgan_g", lambda r, f: L.lsgan_g_loss(f), lambda r, f: 0.5 * ((f - 1) ** 2).mean()),
    ("wgan_d", lambda r, f: L.wgan_d_loss(r, f), lambda r, f: f.mean() - r.mean()),
    ("wgan_g", lambda r, f: L.wgan_g_loss(f), lambda r, f: -f.mean()),
    ("hinge_d", lambda r, f: L.hinge_d_loss(r, f),
     lambda r, f: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean()),
    ("hinge_g", lambda r, f: L.hinge_g_loss(f), lambda r, f: -f.mean()),
    ("ebgan_d", lambda r, f: L.ebgan_d_loss(r ** 2, f ** 2, margin=0.5),
     lambda r, f: (r ** 2).mean() + np.maximum(0, 0.5 - f ** 2).mean()),
    ("ebgan_g", lambda r, f: L.ebgan_g_loss(f ** 2), lambda r, f: (f ** 2).mean()),
])
def test_loss_matches_numpy(name, got, want):
    assert float(got(_t(REAL), _t(FAKE))) == pytest.approx(want(REAL, FAKE), rel=1e-10, abs=1e-12)


def test_logit_losses_are_stable_for_large_logits():
    big = _t(np.array([[80.0], [-80.0]]))
    for v in (L.mmgan_d_loss(big, big), L.mmgan_g_loss(big), L.nsgan_g_loss(big)):
        assert np.isfinite(float(v))
    # -log sigma(-80) = 80 (up to e^-80), not inf
    assert float(L.nsgan_g_loss(_t(np.array([[-80.0]])))) == pytest.approx(80.0)


def test_minimax_generator_saturates_where_nonsaturating_does_not():
    """At D(G(z)) = sigma(-10) ~ 4.5e-5: d/dl log(1 - sigma(l)) = -sigma(l) ~ 0, d/dl -log sigma(l) ~ -1."""
    for loss, want in ((L.mmgan_g_loss, -_sig(-10.0)), (L.nsgan_g_loss, -(1 - _sig(-10.0)))):
        logit = _t(np.array([-10.0]), grad=True)
        loss(logit).backward()
        assert float(logit.grad.numpy()[0]) == pytest.approx(want, rel=1e-9)
    assert abs(_sig(-10.0)) < 1e-4


def test_ebgan_margin_stops_pushing_fakes_beyond_it():
    fake_e = _t(np.array([0.2, 0.7]), grad=True)
    L.ebgan_d_loss(_t(np.zeros(2)), fake_e, margin=0.5).backward()
    np.testing.assert_allclose(fake_e.grad.numpy(), [-0.5, 0.0])


def test_reconstruction_energy_is_per_sample_mse():
    x = RNG.normal(size=(3, 2, 2))
    e = L.reconstruction_energy(lambda t: t * 0.5, _t(x))
    np.testing.assert_allclose(e.numpy(), ((0.5 * x) ** 2).reshape(3, -1).mean(1))


def test_clip_weights_clamps_every_parameter():
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
    for p in net.parameters():
        p.array[...] *= 10
    L.clip_weights_(net, 0.01)
    for p in net.parameters():
        assert np.abs(p.numpy()).max() <= 0.01 + 1e-9
        assert np.abs(p.numpy()).max() == pytest.approx(0.01)


# --- f-GAN table -----------------------------------------------------------------------------------

_T_IN_DOMAIN = {"kl": [-1.0, 0.0, 0.5], "reverse_kl": [-3.0, -1.0, -0.3], "js": [-1.0, 0.0, 0.5],
                "pearson": [-1.5, 0.0, 1.0], "hellinger": [-2.0, 0.0, 0.5]}


@pytest.mark.parametrize("name", sorted(L.F_DIVERGENCES))
def test_f_divergence_row_is_consistent(name):
    d = L.F_DIVERGENCES[name]
    assert abs(float(d.f(np.array(1.0)))) < 1e-12  # f(1) = 0
    # f* is the Fenchel conjugate: f*(t) = sup_u u t - f(u), checked on a fine grid of u
    u = np.linspace(1e-6, 60.0, 600_001)
    for t in _T_IN_DOMAIN[name]:
        sup = np.max(u * t - d.f(u))
        assert float(d.conjugate(_t(np.array(t)))) == pytest.approx(sup, abs=2e-4), t
    # the stable composition equals f*(activation(v)), and activation(v) lands in dom f*
    v = _t(np.linspace(-3, 3, 13))
    np.testing.assert_allclose(d.conjugate_of_activation(v).numpy(), d.conjugate(d.activation(v)).numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(L.F_DIVERGENCES))
def test_fgan_bound_is_tight_at_the_optimal_critic(name):
    """For discrete P, Q and T(x) = f'(p(x)/q(x)), E_P T - E_Q f*(T) equals D_f(P||Q) = sum_x q f(p/q)."""
    d = L.F_DIVERGENCES[name]
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.2, 0.3, 0.5])
    r = p / q
    h = 1e-6
    t_opt = (d.f(r + h) - d.f(r - h)) / (2 * h)
    divergence = float(np.sum(q * d.f(r)))
    bound = float((_t(p) * _t(t_opt)).sum() - (_t(q) * d.conjugate(_t(t_opt))).sum())
    assert bound == pytest.approx(divergence, abs=1e-6)
    assert divergence > 0.01


def test_fgan_losses_use_the_table():
    d = L.F_DIVERGENCES["js"]
    r, f = _t(REAL), _t(FAKE)
    want_d = (np.logaddexp(0, FAKE) - np.log(2)).mean() - (np.log(2) - np.logaddexp(0, -REAL)).mean()
    assert float(L.fgan_d_loss(r, f, "js")) == pytest.approx(want_d, rel=1e-10)
    assert float(L.fgan_g_loss(f, d)) == pytest.approx(-(np.logaddexp(0, FAKE) - np.log(2)).mean())
    assert float(L.fgan_g_loss(f, "js", alternative=True)) == pytest.approx(
        -(np.log(2) - np.logaddexp(0, -FAKE)).mean())
    with pytest.raises(ValueError, match="unknown f-divergence"):
        L.fgan_d_loss(r, f, "tv")


# --- WGAN-GP gradient penalty ----------------------------------------------------------------------

def _conv_critic_params(dtype=np.float64):
    rng = np.random.default_rng(1)
    return [mg.tensor(rng.normal(size=s) * 0.5, dtype=dtype, requires_grad=True)
            for s in [(3, 2, 3, 3), (3,), (1, 3 * 3 * 3), (1,)]]


def _conv_critic(params):
    w1, b1, w2, b2 = params

    def critic(x):
        h = mg.ops.tanh(F.conv2d(x, w1, b1))  # (N, 3, 3, 3); smooth, so second derivatives are not zero
        return F.linear(h.reshape(x.shape[0], -1), w2, b2)  # (N, 1)
    return critic


_X = np.random.default_rng(2).normal(size=(2, 4, 2, 5, 5))  # real, fake: (N=4, C=2, 5, 5)
_ALPHA = np.array([0.1, 0.5, 0.8, 0.3]).reshape(4, 1, 1, 1)


def test_gradient_penalty_flattens_each_sample_before_the_norm():
    """The penalty equals mean_i (||dD/dx_hat_i||_2 - 1)^2 with the gradient of sample i over all of
    (C, H, W), here taken by central finite differences of the critic."""
    params = _conv_critic_params()
    critic = _conv_critic(params)
    real, fake = _X
    x_hat = _ALPHA * real + (1 - _ALPHA) * fake
    h = 1e-6
    grads = np.zeros_like(x_hat)
    for idx in np.ndindex(*x_hat.shape):
        e = np.zeros_like(x_hat)
        e[idx] = h
        grads[idx] = (critic(_t(x_hat + e)).numpy().sum() - critic(_t(x_hat - e)).numpy().sum()) / (2 * h)
    norms = np.sqrt((grads.reshape(4, -1) ** 2).sum(1))
    want = ((norms - 1) ** 2).mean()
    got = L.gradient_penalty(critic, _t(real), _t(fake), alpha=_t(_ALPHA))
    assert float(got) == pytest.approx(want, rel=1e-7)
    # a norm over the wrong axis (per channel, or over the batch) gives another number
    per_channel = np.sqrt((grads ** 2).sum((2, 3)))
    assert abs(((per_channel - 1) ** 2).mean() - want) > 1e-3
    one_sided = L.gradient_penalty(critic, _t(real), _t(fake), alpha=_t(_ALPHA), one_sided=True)
    assert float(one_sided) == pytest.approx((np.maximum(norms - 1, 0) ** 2).mean(), rel=1e-7)


def test_gradient_penalty_parameter_gradient_matches_finite_differences():
    """Double backward through conv2d + tanh + linear: d(GP)/d(critic params) vs finite differences."""
    real, fake = _t(_X[0]), _t(_X[1])
    alpha = _t(_ALPHA)

    def gp(*params):
        return L.gradient_penalty(_conv_critic(params), real, fake, alpha=alpha)

    assert mg.gradcheck(gp, _conv_critic_params(), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradient_penalty_default_alpha_is_per_sample_uniform():
    mg.manual_seed(3)
    seen = []
    critic = lambda x: (x * x).sum(dim=1)  # noqa: E731  grad = 2 x_hat, norm = 2 ||x_hat||
    real = _t(np.ones((5, 3)))
    fake = _t(np.zeros((5, 3)))
    gp = L.gradient_penalty(critic, real, fake)
    mg.manual_seed(3)
    a = mg.rand(5, 1, dtype=mg.float64).numpy()
    seen = 2 * np.sqrt(3) * a[:, 0]
    assert float(gp) == pytest.approx(((seen - 1) ** 2).mean(), rel=1e-6)
    with pytest.raises(ValueError, match="differ"):
        L.gradient_penalty(critic, real, _t(np.zeros((4, 3))))


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    params = _conv_critic_params()
    gp = L.gradient_penalty(_conv_critic(params), _t(_X[0]), _t(_X[1]), alpha=_t(_ALPHA))
    gp.backward()
    tp = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    real, fake, alpha = (torch.tensor(a) for a in (_X[0], _X[1], _ALPHA))
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_()
    out = torch.nn.functional.linear(torch.tanh(torch.nn.functional.conv2d(x_hat, tp[0], tp[1])).flatten(1),
                                     tp[2], tp[3])
    (g,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    tgp = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    tgp.backward()
    assert float(gp) == pytest.approx(float(tgp.detach()), rel=1e-10)
    assert params[3].grad is None and tp[3].grad is None  # the output bias does not move the input gradient
    for p, q in zip(params[:3], tp[:3]):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-12)
