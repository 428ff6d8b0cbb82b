"""A small two-network trainer for GANs: k discriminator steps per generator step, any loss of
``minigrad.nn.gan_losses``, exact resume, and a warning when the discriminator's loss collapses to 0.

    trainer = GANTrainer(G, D, opt_g, opt_d, GAN_LOSSES["wgan_gp"], sample_real, z_dim=2, seed=0)
    trainer.train(steps=1000)                 # generator steps; history: one row per generator step
    state = trainer.state_dict()              # G, D, both optimizers, the step, the noise generator
    other.load_state_dict(state)              # continues exactly where ``trainer`` stopped

All randomness of training (real batches, noise z, the gradient penalty's mixing weights) comes from
the trainer's own NumPy generator, so a resumed run repeats an uninterrupted one bit for bit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor, nn
from minigrad.nn import gan_losses as L


@dataclass(frozen=True)
class GANLoss:
    """How one method trains: the two losses and the extras of its critic.

    d_loss(real_out, fake_out) and g_loss(fake_out) take the discriminator's outputs (N, 1);
    ``gp_weight`` > 0 adds lambda * gradient_penalty; ``clip`` > 0 clamps D's weights after each step;
    ``saturating_d`` marks losses whose discriminator loss reaching 0 means D has won (the warning)."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    gp_weight: float = 0.0
    clip: float = 0.0
    saturating_d: bool = True


def _fgan(div: str) -> GANLoss:
    return GANLoss(lambda r, f: L.fgan_d_loss(r, f, div), lambda f: L.fgan_g_loss(f, div),
                   saturating_d=False)


GAN_LOSSES: dict[str, GANLoss] = {
    "gan": GANLoss(L.nsgan_d_loss, L.nsgan_g_loss),
    "mmgan": GANLoss(L.mmgan_d_loss, L.mmgan_g_loss),
    "lsgan": GANLoss(L.lsgan_d_loss, L.lsgan_g_loss),
    "wgan": GANLoss(L.wgan_d_loss, L.wgan_g_loss, clip=0.01, saturating_d=False),
    "wgan_gp": GANLoss(L.wgan_d_loss, L.wgan_g_loss, gp_weight=0.1, saturating_d=False),
    "hinge": GANLoss(L.hinge_d_loss, L.hinge_g_loss),
    **{f"fgan_{d}": _fgan(d) for d in L.F_DIVERGENCES},
}


class GANTrainer:
    """Alternating GAN training of ``generator`` (z (N, z_dim) -> x) and ``discriminator`` (x -> (N, 1)).

    Args:
        sample_real: (n, rng) -> real batch (n, ...) as a NumPy array.
        n_critic: discriminator steps per generator step (k).
        energy: EBGAN mode: the discriminator is an autoencoder, its outputs are reconstruction
            energies and the losses are ``ebgan_*`` with ``margin``.
        collapse_tol: warn once when the mean D loss over the last 50 steps falls below this.
        decay_steps: if set, both learning rates fall linearly from their initial values to 0 at this
            generator step (lr_t = lr_0 (1 - t / T)); a function of the step, so resume stays exact.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, opt_g: Any, opt_d: Any,
                 loss: GANLoss | None, sample_real: Callable[[int, np.random.Generator], np.ndarray],
                 z_dim: int, batch_size: int = 256, n_critic: int = 1, seed: int = 0,
                 energy_margin: float | None = None, collapse_tol: float = 1e-3,
                 decay_steps: int | None = None) -> None:
        self.g, self.d, self.opt_g, self.opt_d = generator, discriminator, opt_g, opt_d
        self.loss, self.sample_real, self.z_dim = loss, sample_real, z_dim
        self.batch_size, self.n_critic = batch_size, n_critic
        self.energy_margin = energy_margin
        self.collapse_tol = collapse_tol
        self.rng = np.random.default_rng(seed)
        self.decay_steps = decay_steps
        self.base_lrs = [[g["lr"] for g in o.param_groups] for o in (opt_g, opt_d)]
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.warned_collapse = False

    def noise(self, n: int, rng: np.random.Generator | None = None) -> Tensor:
        """z ~ N(0, I), (n, z_dim), from the trainer's generator (or ``rng``)."""
        return mg.tensor((rng or self.rng).standard_normal((n, self.z_dim)).astype(np.float32))

    def _d_out(self, x: Tensor) -> Tensor:
        if self.energy_margin is not None:
            return L.reconstruction_energy(self.d, x)
        return self.d(x)

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        r, f = self._d_out(real), self._d_out(fake)
        if self.energy_margin is not None:
            return L.ebgan_d_loss(r, f, self.energy_margin)
        loss = self.loss.d_loss(r, f)
        if self.loss.gp_weight > 0:
            alpha = mg.tensor(self.rng.random((real.shape[0],) + (1,) * (real.ndim - 1)).astype(np.float32))
            loss = loss + self.loss.gp_weight * L.gradient_penalty(self.d, real, fake, alpha=alpha)
        return loss

    def g_loss(self, fake: Tensor) -> Tensor:
        out = self._d_out(fake)
        if self.energy_margin is not None:
            return L.ebgan_g_loss(out)
        return self.loss.g_loss(out)

    def train_step(self) -> dict[str, float]:
        """k discriminator steps, then one generator step; returns {"d_loss", "g_loss"}."""
        n = self.batch_size
        if self.decay_steps:
            scale = max(0.0, 1.0 - self.step / self.decay_steps)
            for opt, lrs in zip((self.opt_g, self.opt_d), self.base_lrs):
                for group, lr in zip(opt.param_groups, lrs):
                    group["lr"] = lr * scale
        for _ in range(self.n_critic):
            real = mg.tensor(self.sample_real(n, self.rng))
            with mg.no_grad():
                fake = self.g(self.noise(n))
            d_loss = self.d_loss(real, fake)
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
            if self.loss is not None and self.loss.clip > 0:
                L.clip_weights_(self.d, self.loss.clip)
        g_loss = self.g_loss(self.g(self.noise(n)))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        self.step += 1
        row = {"d_loss": float(d_loss), "g_loss": float(g_loss)}
        self.history.append(row)
        self._check_collapse()
        return row

    def _check_collapse(self) -> None:
        saturating = self.energy_margin is None and self.loss.saturating_d
        if self.warned_collapse or not saturating or len(self.history) < 50:
            return
        recent = np.mean([h["d_loss"] for h in self.history[-50:]])
        if recent < self.collapse_tol:
            self.warned_collapse = True
            warnings.warn(f"GAN step {self.step}: the discriminator's loss has collapsed to {recent:.2g} "
                          "(mean of the last 50 steps): D separates real from fake perfectly and the "
                          "generator's gradient carries little information", RuntimeWarning, stacklevel=2)

    def train(self, steps: int, callback: Callable[[GANTrainer], None] | None = None) -> None:
        """``steps`` generator steps; ``callback(self)`` after each."""
        for _ in range(steps):
            self.train_step()
            if callback is not None:
                callback(self)

    @mg.no_grad()
    def generate(self, z: Tensor) -> np.ndarray:
        """G(z) as a NumPy array (the generator in eval mode, then back)."""
        was = self.g.training
        self.g.eval()
        x = self.g(z).numpy()
        self.g.train(was)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.g.state_dict(), "discriminator": self.d.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step,
                "rng": self.rng.bit_generator.state, "history": list(self.history),
                "warned_collapse": self.warned_collapse}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g.load_state_dict(state["generator"])
        self.d.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]
        self.history = list(state["history"])
        self.warned_collapse = bool(state["warned_collapse"])
