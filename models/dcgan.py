"""DCGAN on the 5,000 embedded MNIST digits (or scikit-learn's 8x8 digits), scored by the project's frozen
digit classifier (``models/_digit_scorer.py``): classifier IS and FID of 1,000 samples, printed beside the
real-test-data floor and a full-covariance Gaussian baseline.

    python -m models.dcgan                        # NSGAN, mnist5k, 32/64 channels, lr 4e-4, EMA of G
                                                  # (about 4.5 min idle on 2 cores, 9 min at load 5)
    python -m models.dcgan --loss wgan_gp         # or lsgan, hinge, wgan_clip
    python -m models.dcgan --dataset digits       # 8x8 digits (faster)
    python -m models.dcgan --compare              # only the comparison NSGAN / WGAN-GP / WGAN-clip
    python -m models.dcgan --quick                # seconds (smoke test)

Data. The anchors' stratified 80/20 split (seed 0, ``models.vae.stratified_split``): the GAN trains on
the 4,000 training images of mnist5k (1,437 of digits) only, the split the scorer's FID reference uses;
the 1,000 test images are the real floor. Pixels x in [0, 1] are shown to D as 2x - 1; G ends in tanh
and its samples are mapped back by (G(z) + 1) / 2. Real batches are drawn with replacement.

Networks (DCGAN rules: strided convolutions in D, transposed convolutions in G, BatchNorm, ReLU and tanh
in G, LeakyReLU(0.2) in D; c = --channels, S = 28 or 8, s = S / 4, z ~ N(0, I_64)):

    G: z (N, 64) -> Linear -> (N, 2c, s, s) -> BN, ReLU -> ConvT(2c -> c, 4, stride 2, pad 1) -> BN, ReLU
       -> ConvT(c -> 1, 4, 2, 1) -> tanh -> (N, 1, S, S)
    D: x (N, 1, S, S) -> Conv(1 -> c, 4, 2, 1), LReLU -> Conv(c -> 2c, 4, 2, 1) -> BN, LReLU
       -> Linear(2c s^2 -> 1) -> (N, 1) (a logit, or the critic's score)

Weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02) (Radford et al.). The WGAN critics (clip and GP) have
no BatchNorm: the gradient penalty is per sample, and BN couples the samples of a batch (Gulrajani et al.).

Losses and optimisers (``METHODS``), with V the discriminator's logit or critic score:
    nsgan     D: -log s(V(x)) - log(1 - s(V(G(z))))   G: -log s(V(G(z)))      Adam 2e-4 (0.5, 0.999), k=1
    lsgan     D: (V(x) - 1)^2 + V(G(z))^2 (halves)    G: (V(G(z)) - 1)^2 / 2  Adam 2e-4 (0.5, 0.999), k=1
    hinge     D: relu(1 - V(x)) + relu(1 + V(G(z)))   G: -V(G(z))             Adam 2e-4 (0.5, 0.999), k=1
    wgan_gp   D: V(G(z)) - V(x) + 10 (|grad V(x^)| - 1)^2   G: -V(G(z))         Adam 1e-4 (0.5, 0.9), k=5
    wgan_clip D: V(G(z)) - V(x), weights clipped to [-0.01, 0.01]  G: -V(G(z))  RMSprop 5e-5, k=5
(k: critic steps per generator step; batch 64.)

The single NSGAN run (the default) uses Adam 4e-4 for both nets (``TUNED_LR``) and scores an exponential
moving average of G's weights (``--ema 0.995``, ``EMAGANTrainer``; BatchNorm statistics recomputed on
fixed noise before each scoring). Measured on seed 1, 2,000 steps (classifier FID, EMA / raw G):
Adam 2e-4 + EMA 0.999 27.0 / 25.9; Adam 4e-4 + EMA 0.995 24.9 / 28.2 (the EMA also hides the raw
G's spikes); linear LR decay to 0 32.5; minibatch-std in D ~ no change; hinge + spectral-norm D +
TTUR + decay 59 at step 1000 (slower); InfoGAN code K=10 (``--info-codes``) 39.7 at step 1200 (its
codes did not align with digits). The targets (IS >= 8, FID <= 10) are not reached: see the README.

Scores: every --eval-every generator steps, 1,000 samples of G (eval mode: BatchNorm's running
statistics) from a fixed noise are scored: classifier_is = exp(E KL(p(y|x) || p(y))), classifier_fid =
Frechet distance of the scorer's 64 penultimate features to those of the 4,000 training images.

--compare trains NSGAN, WGAN-GP and WGAN-clip with the same networks (D without BatchNorm for all three,
so that the architectures are identical), the same seed and the same number of generator steps
(--compare-steps), and draws their FID curves side by side against generator steps and wall-clock time.
It runs instead of the single training, into runs/dcgan-compare unless --out is given.

Outputs in runs/dcgan/: summary.json ("final": classifier_is, classifier_fid, the real floor, the
Gaussian baseline, the scorer's hash), metrics.csv (one row per evaluation: train_loss = mean D loss
since the last evaluation, g_loss, classifier_is, classifier_fid), curves.png (D/G losses, FID, IS),
samples_over_training.png (the same 10 noise vectors at each evaluation), samples.png (final 10x10),
last.ckpt (resume), final.ckpt. With --compare: compare.png, compare.json, summary.json and per method
compare_<loss>/last.ckpt (resume).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor, nn
from minigrad.serialization import load, save

from ._digit_scorer import DigitScorer, describe, load_scorer
from ._gan_trainer import GAN_LOSSES, GANLoss, GANTrainer, make_optimizers

SIZES = {"mnist_sample": 28, "digits": 8}
NUM_CLASSES = 10
N_EVAL = 1000

METHODS: dict[str, dict[str, Any]] = {
    "nsgan": dict(loss="gan", opt="adam", lr=2e-4, betas=(0.5, 0.999), k=1, norm="batch"),
    "lsgan": dict(loss="lsgan", opt="adam", lr=2e-4, betas=(0.5, 0.999), k=1, norm="batch"),
    "hinge": dict(loss="hinge", opt="adam", lr=2e-4, betas=(0.5, 0.999), k=1, norm="batch"),
    "wgan_gp": dict(loss="wgan_gp", opt="adam", lr=1e-4, betas=(0.5, 0.9), k=5, norm="none", gp=10.0),
    "wgan_clip": dict(loss="wgan", opt="rmsprop", lr=5e-5, k=5, norm="none"),
}
COMPARE = ("nsgan", "wgan_gp", "wgan_clip")

# the targets on mnist5k (n = 1,000 samples, this project's frozen scorer)
PROGRESS_METRIC = "classifier_fid"   # what run_all checks went down (the D loss rises to equilibrium)
TARGET = [("classifier_is", ">=", 8.0), ("classifier_fid", "<=", 10.0)]
TUNED_LR = 4e-4   # the single NSGAN run's Adam rate for G and D (tuned on seed 1; METHODS keeps 2e-4)


def dcgan_init_(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv/linear weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (N, z_dim) -> images (N, 1, S, S) in [-1, 1].

    Conditional (``num_classes`` = K > 0): the input is (N, z_dim + K), noise then a one-hot label y,
    and the output is (N, S^2 + K): the flattened image followed by y unchanged, so that the label travels
    with the sample to the discriminator (the form ``GANTrainer`` passes between the two networks).
    """

    def __init__(self, z_dim: int, channels: int, size: int, num_classes: int = 0) -> None:
        super().__init__()
        c, s = channels, size // 4
        self.size, self.num_classes = size, num_classes
        self.fc = nn.Linear(z_dim + num_classes, 2 * c * s * s, bias=False)
        self.net = nn.Sequential(
            nn.Unflatten(1, (2 * c, s, s)), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh())
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(self.fc(z))
        if not self.num_classes:
            return x
        return mg.cat([x.reshape(x.shape[0], -1), z[:, -self.num_classes:].detach()], dim=1)


class MinibatchStd(nn.Module):
    """Appends one constant feature map: the batch's mean standard deviation (Karras et al. 2018).

    For h (N, C, H, W): sigma = mean_{c,i,j} sqrt(Var_n h[n, c, i, j] + 1e-8) (a scalar, the biased
    variance over the batch), output (N, C + 1, H, W) = [h, sigma * 1]. A generator that collapses onto a
    few modes makes batches with a small sigma, which D can see and G is then pushed away from.
    """

    def forward(self, h: Tensor) -> Tensor:
        centred = h - h.mean(dim=0, keepdim=True)
        sigma = ((centred * centred).mean(dim=0) + 1e-8) ** 0.5
        return mg.cat([h, h[:, :1] * 0.0 + sigma.mean()], dim=1)


class Discriminator(nn.Module):
    """images (N, 1, S, S) -> scores V (N, 1): a logit (NSGAN, LSGAN, hinge) or a critic value (WGAN).

    ``norm``: "batch" (BatchNorm after the second convolution), "none" (the WGAN critics) or "spectral"
    (no BatchNorm; every weight W of D is used as W / sigma_max(W), sigma by one power iteration per
    forward, Miyato et al. 2018, so that D is 1-Lipschitz per layer).
    ``mbstd``: insert ``MinibatchStd`` after the first convolution (its output has c + 1 channels).
    ``info_codes`` = K > 0 (unconditional only): an InfoGAN head q = Linear(h) -> K logits on the features
    h of the last forward (``last_features``), used by ``InfoGANTrainer``.
    Conditional (``num_classes`` = K > 0): a projection discriminator (Miyato & Koyama 2018) on inputs
    (N, S^2 + K), flattened image then one-hot label y: with h(x) the (N, F) features,
    V(x, y) = w^T h + b + (E y)^T h, where E (F, K) embeds the label.
    """

    def __init__(self, channels: int, size: int, norm: str = "batch", num_classes: int = 0,
                 mbstd: bool = False, info_codes: int = 0) -> None:
        super().__init__()
        if norm not in ("batch", "none", "spectral"):
            raise ValueError(f"Discriminator: norm must be 'batch', 'none' or 'spectral', got {norm!r}")
        c, s = channels, size // 4
        self.size, self.num_classes = size, num_classes
        layers: list[nn.Module] = [nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2)]
        layers += [MinibatchStd()] if mbstd else []
        layers.append(nn.Conv2d(c + int(mbstd), 2 * c, 4, 2, 1, bias=norm != "batch"))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(2 * c))
        layers += [nn.LeakyReLU(0.2), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(2 * c * s * s, 1)
        self.embed = nn.Linear(num_classes, 2 * c * s * s, bias=False) if num_classes else None
        self.q = nn.Linear(2 * c * s * s, info_codes) if info_codes else None
        self.last_features: Tensor | None = None
        dcgan_init_(self)
        if norm == "spectral":
            for m in list(self.modules()):
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.spectral_norm(m)

    def forward(self, x: Tensor) -> Tensor:
        n, pixels = x.shape[0], self.size * self.size
        if self.embed is None:
            self.last_features = self.features(x)
            return self.out(self.last_features)
        h = self.features(x[:, :pixels].reshape(n, 1, self.size, self.size))
        return self.out(h) + (self.embed(x[:, pixels:]) * h).sum(dim=1, keepdim=True)


class EMAGANTrainer(GANTrainer):
    """GANTrainer that also keeps an exponential moving average of the generator's weights, G_ema.

    After generator step t (t = 1, 2, ...), for every parameter theta of G and its shadow theta_ema:

        theta_ema <- beta_t theta_ema + (1 - beta_t) theta,   beta_t = min(beta, (1 + t) / (10 + t))

    (the warm-up keeps the shadow from remembering the random initial weights). The average of the
    iterates smooths out G's oscillation around the equilibrium that the alternating updates cause.
    G_ema is never trained, so its BatchNorm running statistics mean nothing: ``generate_ema`` first
    recomputes them ("standing statistics", Brock et al. 2019) as the exact average over ``calib_batches``
    fixed batches of noise, then draws in eval mode.
    """

    def __init__(self, *args: Any, ema_decay: float = 0.999, calib_batches: int = 4, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ema_decay = ema_decay
        self.g_ema = copy.deepcopy(self.g)
        for p in self.g_ema.parameters():
            p.requires_grad_(False)
        self.g_ema.eval()
        rng = np.random.default_rng([self.seeds[0], 7])
        self.calib_z = [mg.tensor(rng.standard_normal((self.batch_size, self.z_dim)).astype(np.float32))
                        for _ in range(calib_batches)]

    def train_step(self) -> dict[str, float]:
        row = super().train_step()
        beta = min(self.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        for pe, p in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
            pe.array *= beta
            pe.array += (1.0 - beta) * p.array
        return row

    @mg.no_grad()
    def generate_ema(self, z: Tensor) -> np.ndarray:
        """G_ema(z) as a NumPy array, after recomputing its BatchNorm statistics on the fixed noise."""
        norms = [m for m in self.g_ema.modules() if isinstance(m, nn.BatchNorm2d)]
        saved = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None                   # cumulative average over the calibration batches
        self.g_ema.train()
        for zc in self.calib_z:
            self.g_ema(self.with_codes(zc) if isinstance(self, InfoGANTrainer) else zc)
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
        self.g_ema.eval()
        return self.g_ema(z).numpy()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "g_ema": self.g_ema.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.g_ema.load_state_dict(state["g_ema"])


class InfoGANTrainer(EMAGANTrainer):
    """Label-free InfoGAN (Chen et al. 2016) with one categorical code, plus the EMA of G.

    G's input is [z, c], z ~ N(0, I_zdim) and c a one-hot code uniform over K categories; D has a second
    head Q(c | x) = softmax(q(h(x))) on its features. Both networks add lambda times the cross-entropy
    -log Q(c | G(z, c)) (a lower bound on the mutual information I(c; G(z, c)), up to H(c)) to their
    GAN losses. G is pushed to make the K codes give K distinguishable kinds of image, uniformly often:
    a discrete latent lets G split its samples into separate modes (digits, if it finds them) instead of
    bridging them with a continuous z, and p(c) uniform keeps every mode fed. No labels are used.

    Sampling from a plain z (n, z_dim) (the evaluators, the calibration batches) appends the codes
    c_i = i mod K, so that a fixed z gives a fixed, balanced set of samples.
    """

    def __init__(self, *args: Any, info_codes: int = 10, info_weight: float = 1.0, **kwargs: Any) -> None:
        self.info_codes, self.info_weight = info_codes, info_weight
        self.last_codes: np.ndarray | None = None
        super().__init__(*args, **kwargs)

    def with_codes(self, z: Tensor) -> Tensor:
        """[z, one-hot(i mod K)] for z (n, z_dim); inputs that already carry codes pass unchanged."""
        if z.shape[-1] != self.z_dim:
            return z
        codes = np.eye(self.info_codes, dtype=np.float32)[np.arange(z.shape[0]) % self.info_codes]
        return mg.cat([z, mg.tensor(codes)], dim=1)

    def noise(self, n: int, rng: np.random.Generator | None = None) -> Tensor:
        r = rng or self.rng
        z = r.standard_normal((n, self.z_dim)).astype(np.float32)
        self.last_codes = r.integers(0, self.info_codes, n)
        onehot = np.eye(self.info_codes, dtype=np.float32)[self.last_codes]
        return mg.tensor(np.concatenate([z, onehot], axis=1))

    def _info_loss(self) -> Tensor:
        """-mean log Q(c | x) on the last forward of D (the fake batch built from ``last_codes``)."""
        logits = self.d.q(self.d.last_features)
        return nn.functional.cross_entropy(logits, mg.tensor(self.last_codes.astype(np.int64)))

    def d_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, list[float]]:
        loss, values = super().d_loss(real, fake)          # D's last forward was the fake batch
        return loss + self.info_weight * self._info_loss(), values

    def g_loss(self, fake: Tensor) -> tuple[Tensor, list[float]]:
        loss, values = super().g_loss(fake)
        return loss + self.info_weight * self._info_loss(), values

    @mg.no_grad()
    def generate(self, z: Tensor) -> np.ndarray:
        return super().generate(self.with_codes(z))

    @mg.no_grad()
    def generate_ema(self, z: Tensor) -> np.ndarray:
        return super().generate_ema(self.with_codes(z))


def load_split(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, S^2) float32 in [0, 1], labels (N,)) of the training split (the scorer's)."""
    scorer = load_scorer(dataset)
    return scorer.x_train, scorer.y_train


def method_loss(method: str) -> GANLoss:
    cfg = METHODS[method]
    loss = GAN_LOSSES[cfg["loss"]]
    return dataclasses.replace(loss, gp_weight=cfg["gp"]) if "gp" in cfg else loss


def build(args: argparse.Namespace, method: str, norm: str | None = None, num_classes: int = 0,
          trainer_cls: type[GANTrainer] = GANTrainer,
          sample_real: Callable[[int, np.random.Generator], np.ndarray] | None = None) -> GANTrainer:
    """A fresh trainer: G and D initialised from ``args.seed``, the method's optimisers and k.

    Optional fields of ``args`` (absent: off): ``ema`` > 0 (an ``EMAGANTrainer`` with that beta, when
    ``trainer_cls`` is the plain GANTrainer), ``lr_decay`` (both learning rates fall linearly to 0 at
    ``args.steps``), ``mbstd`` (minibatch-std feature in D), ``lr_g`` / ``lr_d`` (override the method's
    learning rate, Adam methods only)."""
    cfg = METHODS[method]
    size = SIZES[args.dataset]
    mg.manual_seed(args.seed)
    info = int(getattr(args, "info_codes", 0)) if trainer_cls is GANTrainer else 0
    g = Generator(args.z_dim + info, args.channels, size, num_classes)
    d = Discriminator(args.channels, size, norm or getattr(args, "d_norm", None) or cfg["norm"], num_classes,
                      mbstd=bool(getattr(args, "mbstd", False)), info_codes=info)
    extra: dict[str, Any] = {}
    if getattr(args, "lr_decay", False):
        extra["decay_steps"] = args.steps
    if info:
        trainer_cls = InfoGANTrainer
        extra.update(info_codes=info, info_weight=args.info_weight, ema_decay=getattr(args, "ema", 0.0))
    elif getattr(args, "ema", 0.0) and trainer_cls is GANTrainer:
        trainer_cls, extra["ema_decay"] = EMAGANTrainer, args.ema
    two_scales = cfg["opt"] == "adam"   # --lr-g / --lr-d apply to the Adam methods
    opt_g, opt_d = make_optimizers(g, d, cfg, getattr(args, "lr_g", None) if two_scales else None,
                                   getattr(args, "lr_d", None) if two_scales else None)
    if sample_real is None:
        x = load_split(args.dataset)[0].reshape(-1, 1, size, size) * 2.0 - 1.0

        def sample_real(n: int, rng: np.random.Generator) -> np.ndarray:
            return x[rng.integers(0, len(x), n)]

    return trainer_cls(g, d, opt_g, opt_d, method_loss(method), sample_real, z_dim=args.z_dim,
                       batch_size=args.batch_size, n_critic=cfg["k"], seed=args.seed, **extra)


def to_unit(x: np.ndarray, size: int) -> np.ndarray:
    """Generator output in [-1, 1] (any shape with S^2 leading pixels per row) -> (N, S^2) in [0, 1]."""
    x = np.asarray(x).reshape(len(x), -1)[:, :size * size]
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)


def gaussian_baseline(scorer: DigitScorer, seed: int = 0) -> dict[str, float]:
    """IS/FID of 1,000 samples of a full-covariance Gaussian fitted to the training pixels (clipped)."""
    x = scorer.x_train.astype(np.float64)
    g = np.random.default_rng(seed).multivariate_normal(x.mean(0), np.cov(x, rowvar=False), size=N_EVAL)
    s = scorer.score(np.clip(g, 0.0, 1.0).astype(np.float32))
    return {"gaussian_classifier_is": s["classifier_is"], "gaussian_classifier_fid": s["classifier_fid"]}


def train_with_evals(trainer: GANTrainer, steps: int, eval_every: int,
                     evaluate: Callable[[GANTrainer], tuple[dict[str, float], np.ndarray]],
                     state: dict | None, save_state: Callable[[dict], None] | None,
                     log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train to ``steps`` generator steps; every ``eval_every`` steps call ``evaluate`` -> (metrics, a few
    images for the snapshot grid), record a row and save a resumable state (the trainer, the rows, the
    snapshots and the seconds spent so far). Returns {"evals", "snapshots", "seconds"}."""
    evals: list[dict[str, Any]] = []
    snapshots: list[dict[str, Any]] = []
    seconds = 0.0
    if state is not None:
        trainer.load_state_dict(state["trainer"])
        evals, snapshots, seconds = state["evals"], state["snapshots"], state["seconds"]
    while trainer.step < steps:
        t0 = time.perf_counter()
        trainer.train(min(eval_every - trainer.step % eval_every, steps - trainer.step))
        metrics, images = evaluate(trainer)
        seconds += time.perf_counter() - t0
        recent = trainer.history[-eval_every:]
        row = {"step": trainer.step, "d_loss": float(np.mean([h["d_loss"] for h in recent])),
               "g_loss": float(np.mean([h["g_loss"] for h in recent])), **metrics, "seconds": seconds}
        evals.append(row)
        snapshots.append({"step": trainer.step, "images": images})
        shown = "  ".join(f"{k} {v:.3g}" for k, v in row.items() if k not in ("step", "seconds"))
        line = f"step {trainer.step:5d}  {shown}  ({seconds:.0f} s)"
        if log is None:
            print(line, flush=True)
        else:
            log(line)
        if save_state is not None:
            save_state({"trainer": trainer.state_dict(), "evals": evals, "snapshots": snapshots,
                        "seconds": seconds})
    return {"evals": evals, "snapshots": snapshots, "seconds": seconds}


def unconditional_evaluator(scorer: DigitScorer, size: int, z_dim: int, seed: int,
                            n_snap: int = 10) -> Callable[[GANTrainer], tuple[dict[str, float], np.ndarray]]:
    """Scores of 1,000 samples from a fixed noise (seeded by ``seed``); the first ``n_snap`` for pictures.

    With an ``EMAGANTrainer`` the scores (and pictures) are G_ema's, and G's own are added as
    raw_classifier_is / raw_classifier_fid."""
    z = mg.tensor(np.random.default_rng([seed, 2024]).standard_normal((N_EVAL, z_dim)).astype(np.float32))

    def evaluate(trainer: GANTrainer) -> tuple[dict[str, float], np.ndarray]:
        x = to_unit(trainer.generate(z), size)
        if not isinstance(trainer, EMAGANTrainer):
            return scorer.score(x), x[:n_snap]
        raw = {f"raw_{k}": v for k, v in scorer.score(x).items()}
        x = to_unit(trainer.generate_ema(z), size)
        return {**scorer.score(x), **raw}, x[:n_snap]

    return evaluate


def metrics_rows(evals: Sequence[dict[str, Any]], batch_size: int, n_train: int) -> list[dict[str, Any]]:
    """metrics.csv rows: epoch (evaluation index), step, epochs of data seen, train_loss (the D loss)..."""
    rows = []
    for i, e in enumerate(evals):
        rest = {k: v for k, v in e.items() if k not in ("step", "d_loss")}
        rows.append({"epoch": i + 1, "step": e["step"], "data_epochs": e["step"] * batch_size / n_train,
                     "train_loss": e["d_loss"], **rest})
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m models.dcgan", description=__doc__.split("\n")[0])
    add_common_arguments(p, default_out="runs/dcgan")
    p.add_argument("--loss", default="nsgan", choices=list(METHODS))
    p.add_argument("--compare", action="store_true", help="NSGAN vs WGAN-GP vs WGAN-clip, FID curves")
    p.add_argument("--compare-steps", type=int, default=300, help="generator steps per method with --compare")
    p.add_argument("--ema", type=float, default=0.995,
                   help="beta of the EMA of G's weights; scores and samples are G_ema's (0: off; "
                        "--compare always runs without)")
    p.add_argument("--lr-decay", action="store_true",
                   help="both learning rates fall linearly to 0 by --steps")
    p.add_argument("--mbstd", action="store_true", help="minibatch-std feature map in D")
    p.add_argument("--info-codes", type=int, default=0,
                   help="K > 0: InfoGAN categorical code with K values (label-free), see InfoGANTrainer")
    p.add_argument("--info-weight", type=float, default=1.0, help="lambda of the InfoGAN term")
    p.add_argument("--d-norm", default=None, choices=["batch", "none", "spectral"],
                   help="D's normalisation (default: the method's)")
    p.add_argument("--lr-g", type=float, default=None,
                   help=f"G's Adam learning rate (default: {TUNED_LR} for a single nsgan run)")
    p.add_argument("--lr-d", type=float, default=None,
                   help=f"D's Adam learning rate (default: {TUNED_LR} for a single nsgan run)")
    args = p.parse_args(argv)
    if args.compare and args.out == "runs/dcgan":
        args.out = "runs/dcgan-compare"
    if args.compare:
        args.ema = 0.0
    elif args.loss == "nsgan":
        args.lr_g = TUNED_LR if args.lr_g is None else args.lr_g
        args.lr_d = TUNED_LR if args.lr_d is None else args.lr_d
    if args.quick:
        args.steps, args.eval_every, args.compare_steps = 40, 20, 6
    return args


def add_common_arguments(p: argparse.ArgumentParser, default_out: str) -> None:
    """Flags shared with models.cgan."""
    p.add_argument("--dataset", default="mnist_sample", choices=list(SIZES))
    p.add_argument("--steps", type=int, default=2000, help="generator steps (batch 64: 4000 images = 62.5)")
    p.add_argument("--eval-every", type=int, default=200, help="generator steps between scorings")
    p.add_argument("--channels", type=int, default=32, help="c: the networks have c and 2c channels")
    p.add_argument("--z-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=default_out)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    p.add_argument("--quick", action="store_true", help="a few seconds: a handful of steps, 8x8 digits")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--device", default="cpu", help="only cpu")


def quick_overrides(args: argparse.Namespace) -> None:
    if args.quick:
        args.dataset, args.channels, args.batch_size = "digits", 8, 32


def run_compare(args: argparse.Namespace, out: Path, scorer: DigitScorer) -> dict[str, Any]:
    """NSGAN, WGAN-GP and WGAN-clip on identical networks (D without BN); FID curves side by side."""
    from . import _dcgan_plots as plots

    size = SIZES[args.dataset]
    curves: dict[str, Any] = {}
    for method in COMPARE:
        sub = out / f"compare_{method}"
        sub.mkdir(parents=True, exist_ok=True)
        state = load(sub / "last.ckpt") if args.resume and (sub / "last.ckpt").is_file() else None
        trainer = build(args, method, norm="none")
        print(f"--- compare: {method} ({args.compare_steps} generator steps, k={trainer.n_critic})",
              flush=True)
        r = train_with_evals(trainer, args.compare_steps, args.eval_every,
                             unconditional_evaluator(scorer, size, args.z_dim, args.seed),
                             state, lambda s, sub=sub: save(s, sub / "last.ckpt"))
        curves[method] = {"evals": r["evals"], "seconds": r["seconds"], "k": trainer.n_critic,
                          "final": r["evals"][-1], "images": r["snapshots"][-1]["images"]}
    floor = scorer.real_floor()
    result = {"steps": args.compare_steps, "dataset": args.dataset, "d_norm": "none",
              "scorer_hash": scorer.hash,
              "real_floor": floor, "runs": {m: {k: v for k, v in c.items() if k != "images"}
                                            for m, c in curves.items()}}
    (out / "compare.json").write_text(json.dumps(result, indent=1))
    if not args.no_pictures:
        plots.compare(curves, floor, scorer.hash, out / "compare.png")
    for m, c in curves.items():
        f = c["final"]
        print(f"{m:10s} k={c['k']}  IS {f['classifier_is']:.2f}  FID {f['classifier_fid']:.2f}  "
              f"({c['seconds']:.0f} s)")
    return result


def start_run(args: argparse.Namespace) -> tuple[Path, float, DigitScorer, int, dict[str, float]]:
    """(out folder, start time, the frozen scorer, image side, the Gaussian baseline) of a dcgan/cgan run."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    scorer = load_scorer(args.dataset)
    print(describe(scorer), flush=True)
    return out, t_start, scorer, SIZES[args.dataset], gaussian_baseline(scorer, args.seed)


def resume_state(args: argparse.Namespace, out: Path) -> dict | None:
    return load(out / "last.ckpt") if args.resume and (out / "last.ckpt").is_file() else None


def common_final(trainer: GANTrainer, evals: Sequence[dict[str, Any]], scorer: DigitScorer,
                 baseline: dict[str, float], batch_size: int) -> dict[str, Any]:
    """The final metrics every digit GAN reports: the last IS/FID beside the real floor and the baseline."""
    return {"classifier_is": evals[-1]["classifier_is"], "classifier_fid": evals[-1]["classifier_fid"],
            **scorer.real_floor(), **baseline, "scorer_hash": scorer.hash, "steps": trainer.step,
            "data_epochs": trainer.step * batch_size / len(scorer.x_train)}


def write_run_files(args: argparse.Namespace, out: Path, trainer: GANTrainer, evals: Sequence[dict[str, Any]],
                    final: dict[str, Any], scorer: DigitScorer, baseline: dict[str, float], title: str,
                    extra_state: dict[str, Any] | None = None, extra_curve: str | None = None) -> list[str]:
    """metrics.csv, final.ckpt (both networks, ``extra_state``) and curves.png; returns the file names."""
    from . import _dcgan_plots as plots
    from .harness import write_metrics

    write_metrics(metrics_rows(evals, args.batch_size, len(scorer.x_train)), out / "metrics.csv")
    save({"generator": trainer.g.state_dict(), "discriminator": trainer.d.state_dict(), "final": final,
          **(extra_state or {}), "args": vars(args)}, out / "final.ckpt")
    plots.curves(trainer.history, evals, scorer.real_floor(), baseline, out / "curves.png", title=title,
                 **({"extra": extra_curve} if extra_curve else {}))
    return ["metrics.csv", "last.ckpt", "final.ckpt", "summary.json", "curves.png"]


def write_summary(args: argparse.Namespace, out: Path, final: dict[str, Any], t_start: float,
                  train_seconds: float, files: list[str], name: str) -> None:
    wall = time.perf_counter() - t_start
    summary = {"args": vars(args), "final": final, "wall_seconds": wall, "train_seconds": train_seconds,
               "files": sorted(set(files))}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"{name}: {wall:.0f} s -> {out}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    quick_overrides(args)
    out, t_start, scorer, size, baseline = start_run(args)
    print(f"full-covariance Gaussian baseline: IS {baseline['gaussian_classifier_is']:.2f}, "
          f"FID {baseline['gaussian_classifier_fid']:.2f}", flush=True)
    if args.compare:
        compare = run_compare(args, out, scorer)
        final_c = {f"{m}/{k}": v["final"][k] for m, v in compare["runs"].items()
                   for k in ("classifier_is", "classifier_fid")}
        files = ["compare.json", "summary.json"] + ([] if args.no_pictures else ["compare.png"])
        (out / "summary.json").write_text(json.dumps(
            {"args": vars(args), "final": {**final_c, **scorer.real_floor(), **baseline,
                                           "scorer_hash": scorer.hash},
             "wall_seconds": time.perf_counter() - t_start, "files": files}, indent=1, default=str))
        return final_c
    trainer = build(args, args.loss)
    evaluate = unconditional_evaluator(scorer, size, args.z_dim, args.seed)
    r = train_with_evals(trainer, args.steps, args.eval_every, evaluate, resume_state(args, out),
                         lambda s: save(s, out / "last.ckpt"))
    evals = r["evals"]
    final = {**common_final(trainer, evals, scorer, baseline, args.batch_size),
             "best_classifier_fid": min(e["classifier_fid"] for e in evals),
             **{k: v for k, v in evals[-1].items() if k.startswith("raw_")}}
    print(f"final: IS {final['classifier_is']:.2f}  FID {final['classifier_fid']:.2f}  |  {describe(scorer)}")
    ema = isinstance(trainer, EMAGANTrainer)
    files = write_run_files(args, out, trainer, evals, final, scorer, baseline,
                            title=f"DCGAN {args.loss} on {args.dataset} (scorer #{scorer.hash})",
                            extra_state={"generator_ema": trainer.g_ema.state_dict()} if ema else None)
    if not args.no_pictures:
        from . import _dcgan_plots as plots

        z = mg.tensor(np.random.default_rng([args.seed, 2024]).standard_normal((100, args.z_dim))
                      .astype(np.float32))
        drawn = trainer.generate_ema(z) if ema else trainer.generate(z)
        files.append(plots.grid(to_unit(drawn, size), size, out / "samples.png", ncol=10,
                                title=f"step {trainer.step}: IS {final['classifier_is']:.2f}, "
                                      f"FID {final['classifier_fid']:.2f}").name)
        files.append(plots.over_training(r["snapshots"], size, out / "samples_over_training.png").name)
    write_summary(args, out, final, t_start, r["seconds"], files, "dcgan")
    return final


if __name__ == "__main__":
    main(sys.argv[1:])
