"""Pictures of the PixelCNN (models/pixelcnn.py): samples, completions of half-hidden digits, and the
receptive field of one output pixel (|d logit_centre / d input| from autograd), where the blind spot
of a masked 3x3 stack shows as a wedge of exact zeros that the gated stack fills.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import minigrad
from minigrad import nn

from ._vae_plots import _mosaic_axes, _row_ticks, tile
from .plots import RED, _save


def samples(images: np.ndarray, labels: np.ndarray | None, path: str | Path, title: str = "") -> Path:
    """A grid of samples (n, 1, H, W): one row per class when ``labels`` is given, else a square."""
    n = len(images)
    if labels is not None:
        classes = np.unique(labels)
        grid = np.stack([images[labels == c] for c in classes])
    else:
        cols = int(np.ceil(np.sqrt(n)))
        pad = np.zeros((cols * cols - n, *images.shape[1:]))
        grid = np.concatenate([images, pad]).reshape(cols, cols, *images.shape[1:])
    fig = Figure(figsize=(max(5.5, 0.5 * grid.shape[1] + 1.2), 0.5 * grid.shape[0] + 1.1))
    ax = _mosaic_axes(fig, tile(grid, gap=0.25))
    if labels is not None:
        _row_ticks(ax, grid.shape[0], images.shape[-2], [f"class {c}" for c in classes])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def completions(originals: np.ndarray, done: np.ndarray, half: int, path: str | Path,
                title: str = "") -> Path:
    """Rows: test digits; first column the original, then completions (rows >= ``half`` sampled).

    originals (n, 1, H, W), done (n, reps, 1, H, W). A red line marks where the sampling starts."""
    grid = np.concatenate([originals[:, None], done], axis=1)
    h = originals.shape[-2]
    fig = Figure(figsize=(max(5.5, 0.6 * grid.shape[1] + 1.0), 0.6 * grid.shape[0] + 1.1))
    ax = _mosaic_axes(fig, tile(grid, gap=0.25))
    for i in range(grid.shape[0]):
        ax.axhline(i * (h + 1) + half - 0.5, color=RED, lw=0.6)
    ax.set_xlabel("original | samples of the bottom half given the top half (above the red line)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plt_cmap() -> Colormap:
    """viridis with NaN (a gradient that is exactly 0) drawn white."""
    return colormaps["viridis"].with_extremes(bad="white")


class _Gated(nn.Module):
    """A gated stack (A, then B layers); its output is the horizontal stack."""

    def __init__(self, layers: int, k1: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.GatedPixelCNNLayer(1, 4, k1, "A")]
                                    + [nn.GatedPixelCNNLayer(4, 4, 3, "B") for _ in range(layers)])

    def forward(self, x: minigrad.Tensor) -> minigrad.Tensor:
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h)
        return h


def _plain(layers: int, k1: int) -> nn.Module:
    mods: list[nn.Module] = [nn.MaskedConv2d(1, 4, k1, "A")]
    for _ in range(layers):
        mods += [nn.Tanh(), nn.MaskedConv2d(4, 4, 3, "B")]
    return nn.Sequential(*mods)


def field(fn: Callable[[minigrad.Tensor], minigrad.Tensor], x: np.ndarray, r: int, c: int) -> np.ndarray:
    """|d sum_channels fn(x)[0, :, r, c] / d x[0, 0]|: (H, W), from one backward pass."""
    with minigrad.enable_grad():
        t = minigrad.tensor(x, requires_grad=True)
        out = fn(t)
        out[0, :, r, c].sum().backward()
    return np.abs(t.grad.numpy()[0, 0])


def receptive_fields(path: str | Path, seed: int = 0, layers: int = 6, size: int = 15,
                     trained: tuple[Callable, np.ndarray] | None = None) -> Path:
    """|d out_centre / d input| (log scale; exact zeros in white) of random-weight float64 stacks:
    one 5x5 masked layer of type A and B, a masked stack (3x3 A + ``layers`` 3x3 B), a gated one; plus
    a trained model's on a test image (``trained`` = (fn, x (1, 1, H, W)))."""
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 1, size, size))
    mid = size // 2
    panels = [("one 5x5 masked conv, type A", nn.MaskedConv2d(1, 4, 5, "A"), x),
              ("one 5x5 masked conv, type B", nn.MaskedConv2d(1, 4, 5, "B"), x),
              (f"masked stack: 3x3 A + {layers} x 3x3 B", _plain(layers, 3), x),
              (f"gated stack: 3x3 A + {layers} x 3x3 B", _Gated(layers, 3), x)]
    maps = [(name, field(m.to(minigrad.float64), xi, mid, mid), (mid, mid)) for name, m, xi in panels]
    if trained is not None:
        fn, xt = trained
        rc = (xt.shape[2] // 2, xt.shape[3] // 2)
        maps.append(("the trained model, a test digit", field(fn, xt, *rc), rc))
    cmap = plt_cmap()
    fig = Figure(figsize=(3.0 * len(maps), 3.4))
    for k, (name, g, (r, c)) in enumerate(maps):
        ax = fig.add_subplot(1, len(maps), k + 1)
        logg = np.where(g > 0, np.log10(np.where(g > 0, g, 1.0)), np.nan)
        lo = np.nanmin(logg) if np.isfinite(logg).any() else 0.0
        im = ax.imshow(logg, cmap=cmap, vmin=lo, vmax=np.nanmax(logg), interpolation="nearest")
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec=RED, lw=1.5))
        ax.add_patch(Rectangle((c + 1.5, r - 1.5), 1, 1, fill=False, ec=RED, lw=0.8, ls=":"))
        ax.set_title(f"{name}\ngradient at (r-1, c+2), dotted: {g[r - 1, c + 2]:.2g}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="log10 |gradient|")
    fig.suptitle("receptive field of the red output pixel: |d out / d input| by autograd "
                 "(white: exactly 0)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
