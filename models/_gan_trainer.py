"""A small two-network trainer for GANs: k discriminator steps per generator step, any loss of
``minigrad.nn.gan_losses``, exact resume, and a warning when the discriminator's loss collapses to 0.

    trainer = GANTrainer(G, D, opt_g, opt_d, GAN_LOSSES["wgan_gp"], sample_real, z_dim=2, seed=0)
    trainer.train(steps=1000)                 # generator steps; history: one row per generator step
    state = trainer.state_dict()              # G, D, both optimizers, the step, the noise generator
    other.load_state_dict(state)              # continues exactly where ``trainer`` stopped

All randomness of training (real batches, noise z, the gradient penalty's mixing weights) comes from
the trainer's own NumPy generator, so a resumed run repeats an uninterrupted one bit for bit.

Seed-batched training (``seed=[s_0, ..., s_{S-1}]``, networks from ``models._ensemble``): G maps z
(S, N, z_dim) -> (S, N, ...) and D maps (S, N, ...) -> (S, N, 1); copy i draws its batches from its own
generator ``default_rng(s_i)`` in the same order as a separate run with ``seed=s_i``, and each step
minimises sum_i L_i, the sum of the per-copy losses, so every copy follows its separate run (to float
rounding). History rows then hold one value per copy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
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


def make_optimizers(g: nn.Module, d: nn.Module, cfg: dict, lr_g: float | None = None,
                    lr_d: float | None = None) -> tuple[Any, Any]:
    """(opt_g, opt_d) of a method's settings: ``cfg["opt"]`` "adam" (``cfg["betas"]``) or "rmsprop", at
    ``cfg["lr"]`` unless lr_g / lr_d (two time-scales) are given."""
    lr_g, lr_d = lr_g or cfg["lr"], lr_d or cfg["lr"]
    if cfg["opt"] == "adam":
        return (mg.optim.Adam(g.parameters(), lr=lr_g, betas=cfg["betas"]),
                mg.optim.Adam(d.parameters(), lr=lr_d, betas=cfg["betas"]))
    if cfg["opt"] == "rmsprop":
        return mg.optim.RMSprop(g.parameters(), lr=lr_g), mg.optim.RMSprop(d.parameters(), lr=lr_d)
    raise ValueError(f"make_optimizers: unknown optimizer {cfg['opt']!r} (adam or rmsprop)")


class GANTrainer:
    """Alternating GAN training of ``generator`` (z (N, z_dim) -> x) and ``discriminator`` (x -> (N, 1)).

    Args:
        sample_real: (n, rng) -> real batch (n, ...) as a NumPy array.
        n_critic: discriminator steps per generator step (k).
        energy: EBGAN mode: the discriminator is an autoencoder, its outputs are reconstruction
            energies and the losses are ``ebgan_*`` with ``margin``.
        seed: one seed (plain networks), or S seeds (seed-batched networks with a leading model axis S).
        collapse_tol: warn once (per copy) when the mean D loss over the last 50 steps falls below this.
        decay_steps: if set, both learning rates fall linearly from their initial values to 0 at this
            generator step (lr_t = lr_0 (1 - t / T)); a function of the step, so resume stays exact.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, opt_g: Any, opt_d: Any,
                 loss: GANLoss | None, sample_real: Callable[[int, np.random.Generator], np.ndarray],
                 z_dim: int, batch_size: int = 256, n_critic: int = 1, seed: int | Sequence[int] = 0,
                 energy_margin: float | None = None, collapse_tol: float = 1e-3,
                 decay_steps: int | None = None) -> None:
        self.g, self.d, self.opt_g, self.opt_d = generator, discriminator, opt_g, opt_d
        self.loss, self.sample_real, self.z_dim = loss, sample_real, z_dim
        self.batch_size, self.n_critic = batch_size, n_critic
        self.energy_margin = energy_margin
        self.collapse_tol = collapse_tol
        self.batched = not isinstance(seed, (int, np.integer))
        self.seeds = list(seed) if self.batched else [int(seed)]
        self.rngs = [np.random.default_rng(s) for s in self.seeds]
        self.decay_steps = decay_steps
        self.base_lrs = [[g["lr"] for g in o.param_groups] for o in (opt_g, opt_d)]
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.collapsed = [False] * len(self.seeds)

    @property
    def warned_collapse(self) -> bool:
        """Whether the collapse warning fired (for any copy)."""
        return any(self.collapsed)

    @property
    def rng(self) -> np.random.Generator:
        """The generator of an unbatched trainer (the first copy's when seed-batched)."""
        return self.rngs[0]

    def _draw(self, fn: Callable[[np.random.Generator], np.ndarray]) -> Tensor:
        """fn(rng) of every copy, stacked on a leading model axis when seed-batched, as a float32 Tensor."""
        arrays = [np.asarray(fn(rng), dtype=np.float32) for rng in self.rngs]
        return mg.tensor(np.stack(arrays) if self.batched else arrays[0])

    def noise(self, n: int, rng: np.random.Generator | None = None) -> Tensor:
        """z ~ N(0, I): (n, z_dim), or (S, n, z_dim) seed-batched, from the trainer's generators; with
        ``rng``, all S copies get the same z drawn from it."""
        if rng is not None:
            z = rng.standard_normal((n, self.z_dim)).astype(np.float32)
            return mg.tensor(np.repeat(z[None], len(self.seeds), axis=0) if self.batched else z)
        return self._draw(lambda r: r.standard_normal((n, self.z_dim)))

    def _d_out(self, x: Tensor) -> Tensor:
        """D(x) (.., N, 1), or EBGAN's energies (.., N): the mean squared reconstruction error per sample."""
        if self.energy_margin is not None:
            return ((self.d(x) - x) ** 2).reshape(*x.shape[:-1], -1).mean(dim=-1)
        return self.d(x)

    def _per_copy(self, fn: Callable[..., Tensor], *outs: Tensor) -> tuple[Tensor, list[float]]:
        """sum_i fn(outs[i]) over the copies (just fn(outs) unbatched), and the S values."""
        if not self.batched:
            loss = fn(*outs)
            return loss, [float(loss)]
        terms = [fn(*(o[i] for o in outs)) for i in range(len(self.seeds))]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total, [float(t) for t in terms]

    def d_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, list[float]]:
        """The discriminator's loss (summed over copies) and its per-copy values."""
        r, f = self._d_out(real), self._d_out(fake)
        if self.energy_margin is not None:
            m = self.energy_margin
            return self._per_copy(lambda a, b: L.ebgan_d_loss(a, b, m), r, f)
        if self.loss.gp_weight <= 0:
            return self._per_copy(self.loss.d_loss, r, f)
        # alpha ~ U(0, 1), one per sample: (N, 1, ..) or (S, N, 1, ..)
        per_copy = tuple(real.shape[1:]) if self.batched else tuple(real.shape)
        shape = (per_copy[0],) + (1,) * (len(per_copy) - 1)
        alpha = self._draw(lambda rng: rng.random(shape))
        if not self.batched:
            penalty = L.gradient_penalty(self.d, real, fake, alpha)
            loss = self.loss.d_loss(r, f) + self.loss.gp_weight * penalty
            return loss, [float(loss)]
        penalty = self._gradient_penalty(real, fake, alpha)  # (S,)
        lam = self.loss.gp_weight
        return self._per_copy(lambda a, b, p: self.loss.d_loss(a, b) + lam * p, r, f, penalty)

    def _gradient_penalty(self, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
        """Per copy i: E_n (||grad_x D_i(x_hat)||_2 - 1)^2 at x_hat = alpha x + (1 - alpha) G(z), (S,).

        The gradient of sum over all copies and samples of D(x_hat) w.r.t. x_hat (S, N, ...) holds each
        sample's own input gradient, since D_i's output on sample n depends on x_hat[i, n] only."""
        s, n = real.shape[0], real.shape[1]
        x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).detach().requires_grad_()
        (g,) = mg.autograd.grad(self.d(x_hat).sum(), x_hat, create_graph=True)
        norms = ((g.reshape(s, n, -1) ** 2).sum(dim=-1) + 1e-12) ** 0.5  # (S, N)
        return ((norms - 1) ** 2).mean(dim=-1)

    def g_loss(self, fake: Tensor) -> tuple[Tensor, list[float]]:
        """The generator's loss (summed over copies) and its per-copy values."""
        out = self._d_out(fake)
        if self.energy_margin is not None:
            return self._per_copy(L.ebgan_g_loss, out)
        return self._per_copy(self.loss.g_loss, out)

    def train_step(self) -> dict[str, float]:
        """k discriminator steps, then one generator step; returns {"d_loss", "g_loss"} (floats, or lists
        of S floats when seed-batched)."""
        n = self.batch_size
        if self.decay_steps:
            scale = max(0.0, 1.0 - self.step / self.decay_steps)
            for opt, lrs in zip((self.opt_g, self.opt_d), self.base_lrs):
                for group, lr in zip(opt.param_groups, lrs):
                    group["lr"] = lr * scale
        for _ in range(self.n_critic):
            real = self._draw(lambda rng: self.sample_real(n, rng))
            with mg.no_grad():
                fake = self.g(self.noise(n))
            d_loss, d_values = self.d_loss(real, fake)
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
            if self.loss is not None and self.loss.clip > 0:
                L.clip_weights_(self.d, self.loss.clip)
        g_loss, g_values = self.g_loss(self.g(self.noise(n)))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        self.step += 1
        if self.batched:
            row: dict[str, Any] = {"d_loss": d_values, "g_loss": g_values}
        else:
            row = {"d_loss": d_values[0], "g_loss": g_values[0]}
        self.history.append(row)
        self._check_collapse()
        return row

    def _check_collapse(self) -> None:
        saturating = self.energy_margin is None and self.loss.saturating_d
        if all(self.collapsed) or not saturating or len(self.history) < 50:
            return
        recent = np.mean([np.atleast_1d(h["d_loss"]) for h in self.history[-50:]], axis=0)
        for i, value in enumerate(recent):
            if value < self.collapse_tol and not self.collapsed[i]:
                self.collapsed[i] = True
                which = f" (seed {self.seeds[i]})" if self.batched else ""
                warnings.warn(f"GAN step {self.step}{which}: the discriminator's loss has collapsed to "
                              f"{value:.2g} (mean of the last 50 steps): D separates real from fake "
                              "perfectly and the generator's gradient carries little information",
                              RuntimeWarning, stacklevel=3)

    def train(self, steps: int, callback: Callable[[GANTrainer], None] | None = None) -> None:
        """``steps`` generator steps; ``callback(self)`` after each."""
        for _ in range(steps):
            self.train_step()
            if callback is not None:
                callback(self)

    @mg.no_grad()
    def generate(self, z: Tensor) -> np.ndarray:
        """G(z) as a NumPy array, (n, ...) or (S, n, ...) (the generator in eval mode, then back)."""
        was = self.g.training
        self.g.eval()
        x = self.g(z).numpy()
        self.g.train(was)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.g.state_dict(), "discriminator": self.d.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step,
                "rngs": [r.bit_generator.state for r in self.rngs], "history": list(self.history),
                "collapsed": list(self.collapsed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g.load_state_dict(state["generator"])
        self.d.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        for r, st in zip(self.rngs, state["rngs"], strict=True):
            r.bit_generator.state = st
        self.history = list(state["history"])
        self.collapsed = [bool(c) for c in state["collapsed"]]
