"""Pictures of the VAE (models/vae.py): prior samples over epochs, interpolations, latent traversals,
KL per latent dimension, the importance-weighted bound against k, the 2-D manifold and latent means.

Images are drawn as one mosaic per panel (``tile``): (rows, cols, H, W) -> one (rows*(H+1), cols*(W+1))
array with a one-pixel white gap, shown with ``imshow`` (dark digits on white, as in ``plots``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .plots import BLUE, GRAY, ORANGE, _save, plain_log_ticks

Decode = Callable[[np.ndarray], np.ndarray]   # z (n, L) -> images (n, C, H, W) in [0, 1]
Encode = Callable[[np.ndarray], np.ndarray]   # images (n, C, H, W) -> posterior means (n, L)


def tile(images: np.ndarray, gap: float = 0.0) -> np.ndarray:
    """(rows, cols, [1,] H, W) -> one (rows*(H+1)-1, cols*(W+1)-1) mosaic; gaps filled with ``gap``."""
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 5:
        a = a[:, :, 0]
    r, c, h, w = a.shape
    out = np.full((r * (h + 1) - 1, c * (w + 1) - 1), gap)
    for i in range(r):
        for j in range(c):
            out[i * (h + 1): i * (h + 1) + h, j * (w + 1): j * (w + 1) + w] = a[i, j]
    return out


def _mosaic_axes(fig: Figure, mosaic: np.ndarray) -> Any:
    """One axes showing ``mosaic`` (dark = 1), without ticks."""
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _row_ticks(ax: Any, n_rows: int, h: int, labels: Sequence[str], fontsize: int = 8) -> None:
    """Label the rows of a mosaic of tiles of height ``h``."""
    ax.set_yticks([i * (h + 1) + h / 2 for i in range(n_rows)], labels, fontsize=fontsize)
    ax.tick_params(length=0)


def sample_strip(history: Sequence[tuple[int, np.ndarray]], path: str | Path, title: str = "",
                 max_rows: int = 12) -> Path:
    """Rows: epochs (at most ``max_rows``, evenly spread, always the last); columns: the fixed noise draws."""
    idx = np.unique(np.linspace(0, len(history) - 1, min(max_rows, len(history))).round().astype(int))
    rows = [history[i] for i in idx]
    imgs = np.stack([np.clip(r[1], 0, 1) for r in rows])
    h = imgs.shape[-2]
    fig = Figure(figsize=(0.55 * imgs.shape[1] + 1.2, 0.55 * len(rows) + 0.9))
    ax = _mosaic_axes(fig, tile(imgs))
    _row_ticks(ax, len(rows), h, [f"epoch {e}" for e, _ in rows])
    ax.set_xlabel("the same 12 draws of z in every row")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


PAIRS = ((0, 1), (2, 3), (4, 9), (5, 6), (7, 1), (8, 0))


def interpolations(encode: Encode, decode: Decode, x: np.ndarray, y: np.ndarray, path: str | Path,
                   title: str = "", steps: int = 10, pairs: Sequence[tuple[int, int]] = PAIRS) -> Path:
    """One row per pair of classes (a, b): decode (1 - t) mu(x_a) + t mu(x_b) for t from 0 to 1."""
    x_a = np.stack([x[np.flatnonzero(y == a)[0]] for a, _ in pairs])
    x_b = np.stack([x[np.flatnonzero(y == b)[0]] for _, b in pairs])
    mu_a, mu_b = encode(x_a), encode(x_b)
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    z = (1 - t) * mu_a[:, None] + t * mu_b[:, None]                    # (pairs, steps, L)
    imgs = decode(z.reshape(-1, z.shape[-1])).reshape(len(pairs), steps, *x.shape[1:])
    # the inputs themselves at both ends, beside the path
    full = np.concatenate([x_a[:, None], imgs, x_b[:, None]], axis=1)
    h = x.shape[-2]
    fig = Figure(figsize=(0.55 * (steps + 2) + 1.0, 0.6 * len(pairs) + 1.0))
    ax = _mosaic_axes(fig, tile(full))
    _row_ticks(ax, len(pairs), h, [f"{a} -> {b}" for a, b in pairs])
    w = x.shape[-1]
    ax.set_xticks([w / 2, (steps + 1) * (w + 1) + w / 2], ["input", "input"], fontsize=8)
    ax.set_xlabel(f"columns 2..{steps + 1}: t = 0, 1/{steps - 1}, ..., 1", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def traversals(decode: Decode, kl_per_dim: np.ndarray, path: str | Path, title: str = "",
               values: Sequence[float] = tuple(np.linspace(-3, 3, 9))) -> Path:
    """One row per latent u (sorted by its KL, largest first): decode z = v e_u for each v in ``values``."""
    order = np.argsort(-kl_per_dim)
    n_latent, vals = len(kl_per_dim), np.asarray(values, dtype=np.float32)
    z = np.zeros((n_latent, len(vals), n_latent), dtype=np.float32)
    for r, u in enumerate(order):
        z[r, :, u] = vals
    imgs = decode(z.reshape(-1, n_latent))
    imgs = imgs.reshape(n_latent, len(vals), *imgs.shape[1:])
    h = imgs.shape[-2]
    fig = Figure(figsize=(0.5 * len(vals) + 2.0, 0.5 * n_latent + 1.0))
    ax = _mosaic_axes(fig, tile(imgs))
    _row_ticks(ax, n_latent, h, [f"z{u}  KL {kl_per_dim[u]:.2f}" for u in order], fontsize=7)
    w = imgs.shape[-1]
    ax.set_xticks([j * (w + 1) + w / 2 for j in range(len(vals))], [f"{v:g}" for v in vals], fontsize=7)
    ax.set_xlabel("value of the latent (the prior's standard deviations)", fontsize=8)
    ax.set_title(title + "\nrows sorted by the latent's KL (nats); flat rows: unused latents", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def kl_per_dimension(kl: np.ndarray, activity: np.ndarray, path: str | Path, title: str = "",
                     threshold: float = 0.01) -> Path:
    """Bars of the mean KL of each latent, largest first; active units (Cov_x E_q[z_u] > threshold) blue."""
    order = np.argsort(-kl)
    active = activity[order] > threshold
    fig = Figure(figsize=(max(5.0, 0.32 * len(kl) + 2.0), 3.6))
    ax = fig.add_subplot(1, 1, 1)
    colors = [BLUE if a else GRAY for a in active]
    ax.bar(range(len(kl)), kl[order], color=colors, zorder=2)
    ax.set_xticks(range(len(kl)), [f"z{u}" for u in order], fontsize=7, rotation=90)
    ax.set_ylabel("KL per latent (nats per image)")
    ax.grid(alpha=0.3, axis="y", zorder=0)
    n_act, n_small = int(active.sum()), int((kl < 0.05).sum())
    ax.set_title(f"{title}\ntotal KL {kl.sum():.3g} nats; blue: {n_act} active units (variance of mu_u over "
                 f"x > {threshold}), gray: {len(kl) - n_act} collapsed (q(z_u|x) = p(z_u))\n"
                 f"{n_small} latents carry < 0.05 nats (flat rows in traversal.png)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def bound_vs_k(curve: dict[int, float], neg_elbo: float, path: str | Path, title: str = "") -> Path:
    """-log of the IW estimate against k (log axis), and the -ELBO (the mean log-weight of all the draws)."""
    ks = np.asarray(list(curve), dtype=np.float64)
    vals = np.asarray(list(curve.values()))
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(ks, vals, marker="o", color=BLUE, label="-log (1/k) sum_j w_j  (IW bound on -log p(x))")
    ax.axhline(neg_elbo, color=ORANGE, ls="--", label=f"-ELBO ({neg_elbo:.2f}; k = 1 estimates it)")
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("samples k per image")
    ax.set_ylabel("nats per test image")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    gap = neg_elbo - vals[-1]
    ax.set_title(f"{title}\nk = {int(ks[-1])}: {vals[-1]:.2f}, {gap:.2f} nats below the -ELBO",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def manifold(decode: Decode, path: str | Path, title: str = "", n: int = 15, extent: float = 2.5) -> Path:
    """Decode a regular n x n grid of z in [-extent, extent]^2 (2-D latent): the learned manifold."""
    v = np.linspace(-extent, extent, n, dtype=np.float32)
    z = np.stack(np.meshgrid(v, v[::-1]), axis=-1).reshape(-1, 2)   # rows: z2 from top (high) to bottom
    imgs = decode(z)
    imgs = imgs.reshape(n, n, *imgs.shape[1:])
    fig = Figure(figsize=(7.0, 7.3))
    ax = _mosaic_axes(fig, tile(imgs))
    h, w = imgs.shape[-2:]
    marks = (0, n // 2, n - 1)
    ax.set_xticks([j * (w + 1) + w / 2 for j in marks], [f"{v[j]:g}" for j in marks])
    ax.set_yticks([i * (h + 1) + h / 2 for i in marks], [f"{v[::-1][i]:g}" for i in marks])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def latent_scatter(mu: np.ndarray, labels: np.ndarray, path: str | Path, title: str = "") -> Path:
    """The posterior means of a 2-D latent, one colour per class."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    fig = Figure(figsize=(6.2, 5.4))
    ax = fig.add_subplot(1, 1, 1)
    for c in range(10):
        m = labels == c
        ax.scatter(mu[m, 0], mu[m, 1], s=7, color=cmap(c), label=str(c), alpha=0.8)
    ax.set_xlabel("mu_1(x)")
    ax.set_ylabel("mu_2(x)")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(title="class", fontsize=8, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
