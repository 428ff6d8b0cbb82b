"""Losses of the GAN family, as functions of what the discriminator/critic outputs.

Notation: ``x`` real data, ``G(z)`` generated data. ``real``/``fake`` are the discriminator's outputs on a
batch of each, shape (N,) or (N, 1); every loss is a batch mean (a 0-d Tensor). The ``*_d_loss`` functions
are minimised by the discriminator, the ``*_g_loss`` functions by the generator (compute the generator's
``fake`` without ``detach``, the discriminator's with it).

=========  ======================  ===============================================================
family     D outputs               losses (E: batch mean, sigma: logistic sigmoid)
=========  ======================  ===============================================================
MMGAN      logits l                D: -E log sigma(l_r) - E log(1 - sigma(l_f)); G: E log(1 - sigma(l_f))
NSGAN      logits l                D: as MMGAN; G: -E log sigma(l_f)
LSGAN      scores s                D: 1/2 E (s_r - 1)^2 + 1/2 E s_f^2;  G: 1/2 E (s_f - 1)^2
WGAN       scores s                D: E s_f - E s_r;  G: -E s_f  (+ ``clip_weights_`` or ``gradient_penalty``)
hinge      scores s                D: E relu(1 - s_r) + E relu(1 + s_f);  G: -E s_f
f-GAN      raw v, see F_DIVERGENCES  D: -(E g(v_r) - E f*(g(v_f)));  G: -E f*(g(v_f))
EBGAN      energies e >= 0          D: E e_r + E relu(m - e_f);  G: E e_f
=========  ======================  ===============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import minigrad

from ..autograd import grad
from ..grad_mode import no_grad
from ..tensor import Tensor
from .module import Module

__all__ = [
    "mmgan_d_loss", "mmgan_g_loss", "nsgan_d_loss", "nsgan_g_loss", "lsgan_d_loss", "lsgan_g_loss",
    "wgan_d_loss", "wgan_g_loss", "clip_weights_", "gradient_penalty", "hinge_d_loss", "hinge_g_loss",
    "FDivergence", "F_DIVERGENCES", "fgan_d_loss", "fgan_g_loss", "reconstruction_energy",
    "ebgan_d_loss", "ebgan_g_loss",
]


def _softplus(x: Tensor) -> Tensor:
    """log(1 + e^x), computed without overflow for large |x|."""
    return minigrad.ops.softplus(x, beta=1.0, threshold=20.0)


# --- minimax and non-saturating GAN (Goodfellow et al. 2014) --------------------------------------


def mmgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator's binary cross-entropy on logits: -E log sigma(l_r) - E log(1 - sigma(l_f)).

    With log sigma(l) = -softplus(-l) and log(1 - sigma(l)) = -softplus(l) this is
    E softplus(-l_r) + E softplus(l_f)."""
    return _softplus(-real).mean() + _softplus(fake).mean()


def mmgan_g_loss(fake: Tensor) -> Tensor:
    """Minimax generator loss E log(1 - sigma(l_f)) = -E softplus(l_f).

    Saturates: d/dl log(1 - sigma(l)) = -sigma(l), about 0 when D confidently rejects the fakes."""
    return -_softplus(fake).mean()


nsgan_d_loss = mmgan_d_loss


def nsgan_g_loss(fake: Tensor) -> Tensor:
    """Non-saturating generator loss -E log sigma(l_f) = E softplus(-l_f); its gradient is -(1 - sigma(l)),
    about -1 where the minimax loss's vanishes."""
    return _softplus(-fake).mean()


# --- least squares GAN (Mao et al. 2017), targets a = 0 (fake), b = 1 (real), c = 1 ----------------


def lsgan_d_loss(real: Tensor, fake: Tensor, real_target: float = 1.0, fake_target: float = 0.0) -> Tensor:
    """1/2 E (s_r - b)^2 + 1/2 E (s_f - a)^2 with b = ``real_target``, a = ``fake_target``."""
    return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * ((fake - fake_target) ** 2).mean()


def lsgan_g_loss(fake: Tensor, target: float = 1.0) -> Tensor:
    """1/2 E (s_f - c)^2 with c = ``target``."""
    return 0.5 * ((fake - target) ** 2).mean()


# --- Wasserstein GAN (Arjovsky et al. 2017; Gulrajani et al. 2017) and hinge ------------------------


def wgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Critic loss E s_f - E s_r (the negated estimate of the Wasserstein-1 distance)."""
    return fake.mean() - real.mean()


def wgan_g_loss(fake: Tensor) -> Tensor:
    """Generator loss -E s_f."""
    return -fake.mean()


def clip_weights_(module: Module, clip_value: float = 0.01) -> None:
    """Clamp every parameter of ``module`` to [-c, c] in place (WGAN's crude Lipschitz constraint)."""
    with no_grad():
        for p in module.parameters():
            p.xp.clip(p.array, -clip_value, clip_value, out=p.array)
            p._bump_version()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     alpha: Tensor | None = None, center: float = 1.0, one_sided: bool = False) -> Tensor:
    """WGAN-GP penalty E (||grad_x D(x_hat)||_2 - 1)^2 at x_hat = alpha x + (1 - alpha) G(z).

    Args:
        critic: maps a batch (N, ...) to scores (N,) or (N, 1).
        real, fake: batches of the same shape (N, ...); both are detached (the penalty trains the critic).
        alpha: (N, 1, ..., 1) mixing weights; default U(0, 1) per sample from minigrad's generator.
        center: the target norm (1 in the paper).
        one_sided: penalise only norms above ``center``: E relu(||g|| - 1)^2.

    Each sample's gradient (C, H, W) is flattened to one vector before its 2-norm is taken, so the norm is
    that of the full input gradient of one sample (not a per-row or per-channel norm). The result keeps
    the graph (``create_graph=True``), so ``(lambda * gp).backward()`` reaches the critic's parameters.
    Returns a 0-d Tensor; multiply by lambda (10 in the paper) yourself.
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ")
    n = real.shape[0]
    if alpha is None:
        alpha = minigrad.rand(n, *([1] * (real.ndim - 1)), dtype=real.dtype, device=real.device)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).detach().requires_grad_()
    scores = critic(x_hat)
    (g,) = grad(scores.sum(), x_hat, create_graph=True)
    norms = minigrad.linalg.vector_norm(g.reshape(n, -1), 2, dim=1)
    gap = norms - center
    if one_sided:
        gap = minigrad.ops.relu(gap)
    return (gap ** 2).mean()


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge critic loss E relu(1 - s_r) + E relu(1 + s_f) (Lim & Ye 2017; SNGAN)."""
    return minigrad.ops.relu(1 - real).mean() + minigrad.ops.relu(1 + fake).mean()


hinge_g_loss = wgan_g_loss


# --- f-GAN (Nowozin et al. 2016) --------------------------------------------------------------------


@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table.

    D_f(P || Q) = E_Q f(p/q) with f convex, f(1) = 0. Its variational bound
    D_f >= sup_T E_P T(x) - E_Q f*(T(x)) uses the Fenchel conjugate f*(t) = sup_u (u t - f(u)); the
    discriminator outputs a raw v and T = activation(v) keeps T inside the domain of f*.

    Attributes:
        f: the generator function f(u) (u > 0), on NumPy arrays (for documentation and tests).
        activation: v -> T = g_f(v), on Tensors.
        conjugate: t -> f*(t), on Tensors (t in dom f*).
        conjugate_of_activation: v -> f*(g_f(v)), the same composition written so that it is stable.
    """

    name: str
    f: Callable
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


_LOG2 = math.log(2.0)


def _np_xlogx(u: np.ndarray) -> np.ndarray:
    """u log u with 0 log 0 = 0."""
    u = np.asarray(u, dtype=float)
    return np.where(u > 0, u * np.log(np.where(u > 0, u, 1.0)), 0.0)


F_DIVERGENCES: dict[str, FDivergence] = {
    # KL(P||Q): f(u) = u log u, f*(t) = e^(t - 1), T = v
    "kl": FDivergence("kl", lambda u: _np_xlogx(u), lambda v: v, lambda t: (t - 1).exp(),
                      lambda v: (v - 1).exp()),
    # reverse KL(Q||P): f(u) = -log u, f*(t) = -1 - log(-t) (t < 0), T = -e^(-v)
    "reverse_kl": FDivergence("reverse_kl", lambda u: -np.log(u), lambda v: -(-v).exp(),
                              lambda t: -1 - (-t).log(), lambda v: v - 1),
    # Jensen-Shannon: f(u) = u log u - (u + 1) log((u + 1)/2), f*(t) = -log(2 - e^t) (t < log 2),
    # T = log 2 - softplus(-v), so f*(T) = softplus(v) - log 2
    "js": FDivergence("js", lambda u: _np_xlogx(u) - _np_xlogx(u + 1.0) + (u + 1.0) * _LOG2,
                      lambda v: _LOG2 - _softplus(-v), lambda t: -(2 - t.exp()).log(),
                      lambda v: _softplus(v) - _LOG2),
    # Pearson chi^2: f(u) = (u - 1)^2, f*(t) = t^2/4 + t, T = v
    "pearson": FDivergence("pearson", lambda u: (u - 1.0) ** 2, lambda v: v, lambda t: t * t / 4 + t,
                           lambda v: v * v / 4 + v),
    # squared Hellinger: f(u) = (sqrt u - 1)^2, f*(t) = t / (1 - t) (t < 1), T = 1 - e^(-v),
    # so f*(T) = e^v - 1
    "hellinger": FDivergence("hellinger", lambda u: (u ** 0.5 - 1.0) ** 2, lambda v: 1 - (-v).exp(),
                             lambda t: t / (1 - t), lambda v: v.exp() - 1),
}


def _divergence(divergence: str | FDivergence) -> FDivergence:
    if isinstance(divergence, FDivergence):
        return divergence
    if divergence not in F_DIVERGENCES:
        raise ValueError(f"unknown f-divergence {divergence!r}; choose from {sorted(F_DIVERGENCES)}")
    return F_DIVERGENCES[divergence]


def fgan_d_loss(real: Tensor, fake: Tensor, divergence: str | FDivergence = "js") -> Tensor:
    """Negated variational bound: -(E_P g_f(v_r) - E_Q f*(g_f(v_f))). At the optimum, -loss ~ D_f(P||Q)."""
    d = _divergence(divergence)
    return d.conjugate_of_activation(fake).mean() - d.activation(real).mean()


def fgan_g_loss(fake: Tensor, divergence: str | FDivergence = "js", alternative: bool = False) -> Tensor:
    """Generator loss: minimise the bound's Q term, -E f*(g_f(v_f)); ``alternative=True`` uses the
    paper's non-saturating heuristic -E g_f(v_f) instead."""
    d = _divergence(divergence)
    if alternative:
        return -d.activation(fake).mean()
    return -d.conjugate_of_activation(fake).mean()


# --- energy-based GAN (Zhao et al. 2017) -------------------------------------------------------------


def reconstruction_energy(autoencoder: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """EBGAN's energy of each sample: the mean squared reconstruction error, (N, ...) -> (N,)."""
    n = x.shape[0]
    return ((autoencoder(x) - x) ** 2).reshape(n, -1).mean(dim=1)


def ebgan_d_loss(real_energy: Tensor, fake_energy: Tensor, margin: float) -> Tensor:
    """E e_r + E max(0, m - e_f): push real energies down, fake energies up to the margin m."""
    return real_energy.mean() + minigrad.ops.relu(margin - fake_energy).mean()


def ebgan_g_loss(fake_energy: Tensor) -> Tensor:
    """E e_f: the generator seeks samples the autoencoder reconstructs well."""
    return fake_energy.mean()
