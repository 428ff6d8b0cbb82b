"""Pictures of PixelRNN (models/pixelrnn.py): a grid of samples, completions of half-hidden test digits,
and the NLL per epoch beside the baselines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ._vae_plots import _mosaic_axes, _row_ticks, tile
from .plots import BLUE, GRAY, ORANGE, _save


def sample_grid(samples: np.ndarray, path: str | Path, title: str = "") -> Path:
    """samples (k*k, 1, H, W) of 0/1 -> a k x k mosaic."""
    k = int(round(np.sqrt(len(samples))))
    h, w = samples.shape[-2:]
    imgs = samples[: k * k].reshape(k, k, h, w)
    fig = Figure(figsize=(0.5 * k * w / 8 + 1.0, 0.5 * k * h / 8 + 0.8))
    ax = _mosaic_axes(fig, tile(imgs, gap=0.35))
    ax.set_title(title, fontsize=8)
    return _save(fig, path)


def completions(originals: np.ndarray, completed: Sequence[np.ndarray], n_known: int, path: str | Path,
                title: str = "") -> Path:
    """Rows: the test digits, what the model is given (the first ``n_known`` pixels in raster order,
    the rest shown gray), then each completion; columns: the digits."""
    n, _, h, w = originals.shape
    given = originals.reshape(n, -1).copy()
    given[:, n_known:] = 0.35
    rows = [originals[:, 0], given.reshape(n, h, w)] + [c[:, 0] for c in completed]
    labels = ["test digit", "given (top half)"] + [f"completion {i + 1}" for i in range(len(completed))]
    fig = Figure(figsize=(0.5 * n * w / 8 + 1.8, 0.5 * len(rows) * h / 8 + 0.8))
    ax = _mosaic_axes(fig, tile(np.stack(rows), gap=0.15))
    _row_ticks(ax, len(rows), h, labels)
    ax.set_title(title, fontsize=8)
    return _save(fig, path)


def nll_curves(rows: Sequence[dict], baselines: dict[str, float], target: float | None, path: str | Path,
               title: str = "") -> Path:
    """Train and test NLL (nats per image) per epoch; baselines and the target as horizontal lines."""
    epochs = np.array([r["epoch"] for r in rows])
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(epochs, [r["train_loss"] for r in rows], color=BLUE, label="PixelRNN train")
    ax.plot(epochs, [r["test_loss"] for r in rows], color=ORANGE, label="PixelRNN test")
    styles = iter([":", "-."])
    for name, v in baselines.items():
        ax.axhline(v, color=GRAY, ls=next(styles, "--"), lw=1, label=f"{name} (test) {v:.2f}")
    if target is not None:
        ax.axhline(target, color="black", ls="--", lw=0.8, label=f"target {target}")
    best = min(r["test_loss"] for r in rows)
    finite = [r["test_loss"] for r in rows] + [r["train_loss"] for r in rows]
    top = min(max(finite), 1.25 * max([*baselines.values(), best]))
    ax.set_ylim(0.9 * min(finite), top)
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL (nats per image)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
