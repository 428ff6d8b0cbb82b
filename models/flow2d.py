"""Normalizing flows on 2-D toy data: RealNVP (affine couplings) and NICE (additive couplings).

    python -m models.flow2d                     # RealNVP on two moons (the default run)
    python -m models.flow2d --flow nice         # NICE: additive (volume-preserving) couplings + a scaling
    python -m models.flow2d --dataset ring      # 8 Gaussians on a ring

The model. An invertible f maps a point x in R^2 to z = f(x) with prior N(0, I); by the change of
variables, log p(x) = log N(f(x); 0, I) + log|det df/dx|, and training minimises the mean of -log p(x)
(nats per point) over the training points. f = ActNorm (per-coordinate affine, initialised on the first
batch so the data start standardised) followed by ``--layers`` couplings with alternating masks: each keeps
one coordinate x_a and transforms the other,

    realnvp  x_b -> x_b * exp(s(x_a)) + t(x_a),  s = scale * tanh(raw(x_a)),  log|det| = s
    nice     x_b -> x_b + t(x_a),                log|det| = 0; a final learned diagonal scaling (ActNorm)

where (raw, t) come from an MLP of the masked point, 2 -> hidden -> hidden -> 4 (NICE: t only, -> 2; ReLU;
last layer zero-initialised, so f starts
as the ActNorm standardisation). Layers from ``minigrad.nn.flows``.

Data (fixed seeds): two moons (``sklearn.datasets.make_moons``, noise 0.1; 2000 training points with
random_state 0, 1000 test points with random_state 1) or the 8-Gaussian ring of the FFJORD toys (means
at radius 4/1.414 at angles k pi/4, std 0.5/1.414; train seed 0, test seed 1).

Metric (final): ``test_nll_nats_per_point``, the exact -log p(x) of the flow, mean over the 1000 test
points. Beside it: ``optimum_nats_per_point``, the entropy of the true distribution (the best possible
expected NLL; two moons 1.006, see the generative anchors; ring 2.831, Monte Carlo with 10^6 points,
+-0.001), and ``test_nll_true_density``, the NLL of the true density on the same 1000 test points (the
finite test set's own noise: +-0.02 nats around the entropy).

Pictures: density.png (data | learned density | samples), latent.png (the test points pushed to z,
beside samples from N(0, I)), layers.png (the test points after every layer).

Results (seed 0, two moons, default: ActNorm + 12 affine couplings with 2-64-64-4 ReLU MLPs, AdamW lr
3e-3 with weight decay 1e-2 and a cosine schedule, 20,000 training points, 10 epochs of batch 100 =
2,000 steps): test NLL **1.068** nats/point (target <= 1.10), where the true density itself scores
1.057 on the same 1000 test points (entropy 1.006); 23 s at load 2. NICE: 1.114; the ring: 3.010 (the
true density 2.884 on the same points, entropy 2.831).

How the default was chosen, on a separate validation draw (``--validation``, seed 2, true density
1.018 there). With 2000 training points the flow overfits (training NLL 0.966, below the entropy):
8 couplings x 60 epochs 1.074, 12 x 100 1.051 (test 1.111, the target missed); hidden 32/128,
weight decay up to 0.1 and batch 200 did not close the gap. Two moons is a distribution, not a
dataset, so the cure is more of it at the same number of steps: 20,000 points x 10 epochs 1.033
(seeds 1 and 2: 1.039, 1.036), 40,000 x 5 1.037, 20,000 x 20 epochs 1.027 (twice the time).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import Tensor, nn, optim
from minigrad.nn import flows as fl
from minigrad.utils.data import TensorDataset

from . import _flow2d_plots
from .harness import Experiment, run

TARGET = [("test_nll_nats_per_point", "<=", 1.10)]   # default run: RealNVP, two moons, < 1 minute
EXTRA_TARGET_RUNS: dict[str, tuple[list[str], list[tuple[str, str, float]]]] = {}

MOONS_NOISE = 0.1
RING_RADIUS, RING_STD = 4 / 1.414, 0.5 / 1.414
OPTIMUM = {"moons": 1.006, "ring": 2.831}   # entropy in nats per point (see the module docstring)


# --- data and their true densities ---------------------------------------------------------------------
def make_data(dataset: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(points (n, 2) float32, component labels (n,)) of the two moons or the 8-Gaussian ring."""
    if dataset == "moons":
        from sklearn.datasets import make_moons

        x, y = make_moons(n, noise=MOONS_NOISE, random_state=seed)
        return x.astype(np.float32), y
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 8, n)
    x = _ring_means()[k] + RING_STD * rng.standard_normal((n, 2))
    return x.astype(np.float32), k


def _ring_means() -> np.ndarray:
    ang = np.arange(8) * np.pi / 4
    return RING_RADIUS * np.stack([np.cos(ang), np.sin(ang)], 1)


def _moon_arcs(m: int = 1000) -> np.ndarray:
    """Centres of the two moons' noise, (2m, 2): m points evenly spread on each half circle."""
    t = (np.arange(m) + 0.5) / m * np.pi
    return np.concatenate([np.stack([np.cos(t), np.sin(t)], 1),
                           np.stack([1 - np.cos(t), 1 - np.sin(t) - 0.5], 1)])


def true_log_density(dataset: str, x: np.ndarray) -> np.ndarray:
    """log p(x) of the data distribution at points x (n, 2): an equal mixture of isotropic Gaussians
    (the 8 ring means, or the moons' arcs as 2000 quadrature points)."""
    means, std = (_moon_arcs(), MOONS_NOISE) if dataset == "moons" else (_ring_means(), RING_STD)
    out = []
    for i in range(0, len(x), 500):
        d2 = ((x[i:i + 500, None, :].astype(np.float64) - means[None]) ** 2).sum(-1)
        a = -d2 / (2 * std**2)
        top = a.max(1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(a - top).mean(1))
        out.append(lse - math.log(2 * math.pi * std**2))
    return np.concatenate(out)


# --- the flows -----------------------------------------------------------------------------------------
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def coupling_net(hidden: int, out: int, activation: str = "relu") -> nn.Module:
    """MLP 2 -> hidden -> hidden -> out, applied to the masked point; last layer zero-initialised."""
    act = ACTIVATIONS[activation]
    return nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, hidden), act(),
                         fl.zero_init(nn.Linear(hidden, out)))


def build_flow(kind: str, layers: int, hidden: int, activation: str = "relu") -> fl.FlowSequential:
    """ActNorm, then ``layers`` couplings alternating which coordinate they transform (NICE: + ActNorm)."""
    steps: list[fl.FlowModule] = [fl.ActNorm(2)]
    for i in range(layers):
        mask = fl.alternating_mask(2, i % 2)
        if kind == "realnvp":
            steps.append(fl.AffineCoupling(mask, coupling_net(hidden, 4, activation), num_channels=2))
        else:
            steps.append(fl.AdditiveCoupling(mask, coupling_net(hidden, 2, activation)))
    if kind == "nice":
        steps.append(fl.ActNorm(2))
    return fl.FlowSequential(*steps)


def nll_per_point(flow: fl.FlowModule, x: Tensor) -> Tensor:
    """-log p(x) for each point (N,): -(log N(f(x); 0, I) + log|det df/dx|)."""
    z, logdet = flow(x)
    return -(fl.standard_normal_logprob(z) + logdet)


class Flow2D(Experiment):
    """RealNVP / NICE on two moons or an 8-Gaussian ring (exact NLL against the exact optimum)."""

    name = "flow2d"
    defaults = dict(epochs=10, batch_size=100, lr=3e-3, dataset="moons", seed=0)
    quick = dict(epochs=2, max_batches=6)
    dataset_choices = ("moons", "ring")
    curve_labels = {"loss": "NLL (nats per point)"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flow", default="realnvp", choices=("realnvp", "nice"), help="coupling type")
        parser.add_argument("--layers", type=int, default=12, help="coupling layers")
        parser.add_argument("--hidden", type=int, default=64, help="width of the coupling MLPs")
        parser.add_argument("--activation", default="relu", choices=tuple(ACTIVATIONS), help="of the MLPs")
        parser.add_argument("--n-train", type=int, default=20_000, help="training points")
        parser.add_argument("--n-test", type=int, default=1000, help="test points")
        parser.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW's decoupled weight decay")
        parser.add_argument("--validation", action="store_true",
                            help="evaluate on a validation draw (seed 2), not the test set (for tuning)")

    def load_data(self, args: argparse.Namespace) -> tuple[TensorDataset, TensorDataset]:
        xtr, ytr = make_data(args.dataset, args.n_train, seed=0)
        xte, yte = make_data(args.dataset, args.n_test, seed=2 if args.validation else 1)
        return (TensorDataset(minigrad.tensor(xtr), minigrad.tensor(ytr)),
                TensorDataset(minigrad.tensor(xte), minigrad.tensor(yte)))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return build_flow(args.flow, args.layers, args.hidden, args.activation)

    def build_optimizer(self, model: nn.Module, args: argparse.Namespace) -> Any:
        return optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any:
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, _ = batch
        return nll_per_point(model, x).mean(), {}

    @minigrad.no_grad()
    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        x, _ = self.test_arrays()
        nll = nll_per_point(model, minigrad.tensor(x).to(self.device)).numpy()
        true_nll = -true_log_density(args.dataset, x)
        return {"test_nll_nats_per_point": float(nll.mean()),
                "optimum_nats_per_point": OPTIMUM[args.dataset],
                "test_nll_true_density": float(true_nll.mean()),
                "gap_to_true_density": float(nll.mean() - true_nll.mean())}

    def test_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.test_set.tensors
        return x.numpy(), y.numpy()

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        x_train = self.train_set.tensors[0].numpy()
        x_test, y_test = self.test_arrays()
        dev = self.device

        def log_density(pts: np.ndarray) -> np.ndarray:
            return -nll_per_point(model, minigrad.tensor(pts.astype(np.float32)).to(dev)).numpy()

        def steps(pts: np.ndarray) -> list[np.ndarray]:
            return [s.numpy() for s in model.forward_steps(minigrad.tensor(pts).to(dev))]

        rng = np.random.default_rng(args.seed + 7)
        z = rng.standard_normal((2000, 2)).astype(np.float32)
        samples = model.inverse(minigrad.tensor(z).to(dev)).numpy()
        nll = float(-log_density(x_test).mean())
        tag = (f"{'RealNVP' if args.flow == 'realnvp' else 'NICE'}, {args.layers} couplings, {args.dataset}: "
               f"test NLL {nll:.3f} nats/point (optimum {OPTIMUM[args.dataset]:.3f})")
        layer_names = [type(m).__name__ for m in model]
        return [
            _flow2d_plots.density(x_train, log_density, samples, out / "density.png", title=tag),
            _flow2d_plots.latent(steps(x_test)[-1], y_test, z, out / "latent.png",
                                 title=f"{tag}\ntest points pushed to z = f(x) (colour: component)"),
            _flow2d_plots.layer_panels(steps(x_test), y_test, layer_names, out / "layers.png",
                                       title=f"{tag}: the test points after each layer"),
        ]


def main(argv: list[str] | None = None) -> dict:
    return run(Flow2D(), argv)


if __name__ == "__main__":
    main()
