"""Pictures of models/flow2d.py: the learned density beside the data, z-space, the points layer by layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .plots import _save

CMAP = "tab10"


def _limits(x: np.ndarray, pad: float = 0.15) -> tuple[float, float, float, float]:
    lo, hi = np.percentile(x, 0.5, axis=0), np.percentile(x, 99.5, axis=0)
    span = hi - lo
    return lo[0] - pad * span[0], hi[0] + pad * span[0], lo[1] - pad * span[1], hi[1] + pad * span[1]


def density(x_train: np.ndarray, log_density: Callable[[np.ndarray], np.ndarray], samples: np.ndarray,
            path: str | Path, title: str = "", grid: int = 200) -> Path:
    """Three panels on the same axes: the training points, the learned density p(x) on a grid, samples."""
    x0, x1, y0, y1 = _limits(x_train)
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    logp = log_density(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(grid, grid)
    fig = Figure(figsize=(13.5, 4.4))
    axes = fig.subplots(1, 3)
    axes[0].scatter(x_train[:, 0], x_train[:, 1], s=2, alpha=0.5, color="k")
    axes[0].set_title(f"training data ({len(x_train)} points)")
    im = axes[1].imshow(np.exp(logp), origin="lower", extent=(x0, x1, y0, y1), aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=axes[1], label="p(x)")
    axes[1].set_title("learned density p(x) = N(f(x)) |det df/dx|")
    axes[2].scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5, color="C3")
    axes[2].set_title(f"{len(samples)} samples x = f^-1(z), z ~ N(0, I)")
    for ax in axes:
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    fig.suptitle(title)
    return _save(fig, path)


def latent(z_test: np.ndarray, labels: np.ndarray, z_prior: np.ndarray, path: str | Path,
           title: str = "") -> Path:
    """The test points in z-space (coloured by component) beside draws from the prior N(0, I)."""
    fig = Figure(figsize=(9.5, 4.6))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    axes[0].scatter(z_test[:, 0], z_test[:, 1], s=3, c=labels, cmap=CMAP, vmin=0, vmax=9)
    axes[0].set_title(f"f(x) of the {len(z_test)} test points")
    axes[1].scatter(z_prior[:, 0], z_prior[:, 1], s=3, alpha=0.5, color="k")
    axes[1].set_title(f"{len(z_prior)} draws of N(0, I)")
    t = np.linspace(0, 2 * np.pi, 200)
    for ax in axes:
        for r in (1, 2, 3):
            ax.plot(r * np.cos(t), r * np.sin(t), color="gray", lw=0.7, ls="--")
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
    axes[0].set_xlabel("z1 (circles: radius 1, 2, 3)")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def layer_panels(steps: Sequence[np.ndarray], labels: np.ndarray, names: Sequence[str], path: str | Path,
                 title: str = "", cols: int = 5) -> Path:
    """One scatter per stage: the input, then the output of every layer (coloured by component)."""
    n = len(steps)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(3.0 * cols, 3.0 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        if i >= n:
            ax.axis("off")
            continue
        p = steps[i]
        ax.scatter(p[:, 0], p[:, 1], s=2, c=labels, cmap=CMAP, vmin=0, vmax=9)
        ax.set_title("data x" if i == 0 else f"after layer {i}: {names[i - 1]}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
