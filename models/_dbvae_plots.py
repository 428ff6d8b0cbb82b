"""The pictures of models/dbvae.py: per-group recalls, the alpha sweep, the images the resampling
favours and neglects, the latent histograms it works from, and the decoder's morphs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import minigrad

from .plots import BLUE, GRAY, GREEN, ORANGE, RED, _save, plain_log_ticks

METHOD_NAMES = {"baseline": "baseline classifier", "vae_uniform": "DB-VAE, uniform sampling",
                "dbvae": "DB-VAE, adaptive resampling"}
METHOD_COLORS = {"baseline": GRAY, "vae_uniform": BLUE, "dbvae": ORANGE}
METRICS = (("common_recall", "recall:\ncommon digits"), ("rare_recall", "recall:\ninverted digits (rare)"),
           ("worst_recall", "worst-group\nrecall"), ("neg_recall", "recall of the\nnegatives"),
           ("precision", "precision"))


def recall_bars(runs: dict[str, list[dict]], path: str | Path, note: str = "") -> Path:
    """Grouped bars: each metric of METRICS for each method, the mean over seeds with +-1 std whiskers
    (when there are several seeds) and one dot per seed."""
    methods = [m for m in METHOD_NAMES if runs.get(m)]
    n_seeds = len(runs[methods[0]])
    fig = Figure(figsize=(10, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        vals = np.array([[r[k] for k, _ in METRICS] for r in runs[m]])   # (seeds, metrics)
        x = np.arange(len(METRICS)) + (i - (len(methods) - 1) / 2) * width
        mean = vals.mean(axis=0)
        err = vals.std(axis=0, ddof=1) if len(vals) > 1 else None
        ax.bar(x, mean, width, yerr=err, capsize=3, color=METHOD_COLORS[m], label=METHOD_NAMES[m], zorder=2)
        if len(vals) > 1:
            for row in vals:
                ax.plot(x, row, "k.", ms=3, zorder=3)
        for xi, v in zip(x, mean):
            ax.text(xi, min(v, 1.0) + 0.015, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(np.arange(len(METRICS)), [label for _, label in METRICS], fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(alpha=0.3, axis="y", zorder=0)
    ax.legend(fontsize=8, loc="lower left")
    seeds = f"mean over {n_seeds} seeds, whiskers +-1 std, dots: single seeds" if n_seeds > 1 else "one seed"
    ax.set_title("test set: 500 common + 500 inverted digits (positives), 1,000 natural patches (negatives); "
                 f"threshold logit > 0\n{seeds}" + (f"; {note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def alpha_sweep(rows: Sequence[dict], path: str | Path, rule: str) -> Path:
    """Left: common and rare recall of the DB-VAE against alpha (the baseline dashed); right: the
    rare-vs-common sampling ratio reached in the last epoch."""
    sweep = [r for r in rows if np.isfinite(r["alpha"])]
    base = next(r for r in rows if not np.isfinite(r["alpha"]))
    alphas = np.array([r["alpha"] for r in sweep])
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    curves = (("common_recall", BLUE, "common digits"), ("rare_recall", ORANGE, "inverted (rare)"),
              ("neg_recall", GREEN, "negatives"))
    for key, color, label in curves:
        ax1.plot(alphas, [r[key] for r in sweep], "o-", color=color, label=f"DB-VAE: {label}")
        ax1.axhline(base[key], color=color, ls="--", lw=1, label=f"baseline: {label}")
    ax1.set_xscale("log")
    plain_log_ticks(ax1.xaxis)
    ax1.set_xlabel("alpha (smoothing of 1 / (q + alpha))")
    ax1.set_ylabel("test recall")
    ax1.set_ylim(0, 1.03)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    ax2.plot(alphas, [r["sampling_ratio"] for r in sweep], "o-", color=RED)
    ax2.axhline(1.0, color=GRAY, ls=":", label="uniform sampling")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    plain_log_ticks(ax2.xaxis)
    plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("alpha")
    ax2.set_ylabel("P(rare image) / P(common image), last epoch")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(f"alpha sweep, {rule} rule, one seed: small alpha focuses the sampling on the sparse "
                 "regions of the latent space, alpha -> inf is uniform", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def sampling_extremes(images: np.ndarray, rare: np.ndarray, probs: np.ndarray, path: str | Path,
                      alpha: float, rule: str, when: str = "", n: int = 30, cols: int = 10) -> Path:
    """The ``n`` training positives with the highest and the ``n`` with the lowest sampling probability;
    the rare (inverted) ones framed in red. images (N, 1, H, W), rare (N,) bool, probs (N,)."""
    order = np.argsort(-probs, kind="stable")
    blocks = (("highest", order[:n]), ("lowest", order[::-1][:n]))
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * 0.9, 2 * rows * 0.95 + 1.3), layout="constrained")
    subs = fig.subfigures(2, 1)
    uniform = 1.0 / len(probs)
    for sub, (which, idx) in zip(subs, blocks):
        axes = sub.subplots(rows, cols, squeeze=False).ravel()
        for ax, i in zip(axes, idx):
            ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{probs[i] / uniform:.2g}x", fontsize=7)
            if rare[i]:
                for s in ax.spines.values():
                    s.set_color(RED)
                    s.set_linewidth(2.5)
        sub.suptitle(f"the {n} {which} sampling probabilities: {int(rare[idx].sum())} of {n} are inverted "
                     f"digits (red frame); tile title: probability / uniform", fontsize=9)
    fig.suptitle(f"training positives by DB-VAE sampling probability ({rule} rule, alpha {alpha:g}; {when})\n"
                 f"inverted digits are {rare.mean():.1%} of the training positives", fontsize=9)
    return _save(fig, path)


def latent_histograms(mu: np.ndarray, rare: np.ndarray, path: str | Path, bins: int = 10, k: int = 6) -> Path:
    """Histograms (the sampler's ``bins`` bins, log counts) of the ``k`` latent dimensions whose means
    separate the rare group most (chosen with the group labels, for the picture only), common and rare
    stacked."""
    sep = np.abs(mu[rare].mean(axis=0) - mu[~rare].mean(axis=0)) / (mu.std(axis=0) + 1e-12)
    dims = np.argsort(-sep)[:k]
    cols = 3
    fig = Figure(figsize=(10, 3.0 * -(-k // cols) + 0.6))
    for j, d in enumerate(dims):
        ax = fig.add_subplot(-(-k // cols), cols, j + 1)
        edges = np.histogram_bin_edges(mu[:, d], bins=bins)
        ax.hist([mu[~rare, d], mu[rare, d]], bins=edges, stacked=True, color=[BLUE, RED],
                label=["common digits", "inverted (rare)"])
        ax.set_yscale("log")
        ax.set_title(f"latent dimension {d}: separation {sep[d]:.1f} std", fontsize=8)
        ax.set_xlabel("latent mean mu", fontsize=8)
        if j == 0:
            ax.set_ylabel("training positives (log)", fontsize=8)
            ax.legend(fontsize=7)
    fig.suptitle(f"latent means of the {len(mu):,} training positives, {bins} bins per dimension (the "
                 f"sampler's histograms), the {k} dimensions that separate the inverted digits most "
                 "(|mean difference| / std)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def morph(model: Any, images: np.ndarray, groups: np.ndarray, path: str | Path, device: Any = "cpu",
          steps: int = 9, seed: int = 0) -> Path:
    """Decoder outputs along straight lines between the latent means of two test positives: common to
    common, common to rare, rare to rare; the two originals at the ends of each row."""
    rng = np.random.default_rng(seed)
    common, rare = np.flatnonzero(groups == 1), np.flatnonzero(groups == 2)
    pairs = [(rng.choice(common), rng.choice(common)), (rng.choice(common), rng.choice(rare)),
             (rng.choice(rare), rng.choice(rare))]
    names = ("common\n-> common", "common\n-> inverted", "inverted\n-> inverted")
    t = np.linspace(0.0, 1.0, steps)
    fig = Figure(figsize=((steps + 2) * 0.9, 3 * 1.0 + 0.8))
    model.eval()
    with minigrad.no_grad():
        for r, ((a, b), name) in enumerate(zip(pairs, names)):
            x = minigrad.as_tensor(images[[a, b]]).to(device)
            mu = model.encode(x)[1].numpy()
            z = (1 - t)[:, None] * mu[0] + t[:, None] * mu[1]
            dec = model.decoder(minigrad.as_tensor(z.astype(np.float32)).to(device)).sigmoid().numpy()
            tiles = [images[a, 0], *dec[:, 0], images[b, 0]]
            for c, tile in enumerate(tiles):
                ax = fig.add_subplot(3, steps + 2, r * (steps + 2) + c + 1)
                ax.imshow(tile, cmap="gray_r", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if c in (0, steps + 1):
                    for s in ax.spines.values():
                        s.set_color(GREEN)
                        s.set_linewidth(2)
                if c == 0:
                    ax.set_ylabel(name, fontsize=7)
    fig.suptitle("decoder(mu) along the line between the latent means of two test digits (green frames: "
                 "the inputs)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
