"""Pictures of the 2-D GAN lab: loss curves, samples over the data with the critic's contour, a GIF."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402

from ._toy2d import sample  # noqa: E402

LIMITS = {"ring": 1.6, "grid": 5.5, "moons": 2.2}
GRID_N = 60


def _grid(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    lim = LIMITS[dataset]
    ticks = np.linspace(-lim, lim, GRID_N) + (np.array([0.5]) if dataset == "moons" else 0.0)
    xx, yy = np.meshgrid(ticks, np.linspace(-lim, lim, GRID_N) + (0.25 if dataset == "moons" else 0.0))
    return xx, yy


@mg.no_grad()
def critic_on_grid(trainer: Any, dataset: str, scale: float = 1.0) -> np.ndarray | None:
    """The discriminator's output (or EBGAN's energy) on a GRID_N x GRID_N grid of data points (the
    networks see data / ``scale``), for the first seed of a seed-batched trainer; None for a packed
    discriminator. D runs in eval mode (a spectral norm's power iteration does not advance)."""
    if getattr(trainer.d, "pack", 1) > 1:
        return None
    xx, yy = _grid(dataset)
    pts = (np.stack([xx.ravel(), yy.ravel()], 1) / scale).astype(np.float32)
    if trainer.batched:
        pts = np.broadcast_to(pts, (len(trainer.seeds),) + pts.shape).copy()
    was = trainer.d.training
    trainer.d.eval()
    out = trainer._d_out(mg.tensor(pts)).numpy()
    trainer.d.train(was)
    return (out[0] if trainer.batched else out).reshape(GRID_N, GRID_N)


def _panel(ax: Any, dataset: str, snap: dict[str, Any], real: np.ndarray, title: str) -> None:
    if snap["d"] is not None:
        xx, yy = _grid(dataset)
        ax.contourf(xx, yy, snap["d"], levels=20, cmap="RdBu_r", alpha=0.55)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="k", alpha=0.4, lw=0)
    ax.scatter(snap["x"][:, 0], snap["x"][:, 1], s=2, c="tab:orange", alpha=0.6, lw=0)
    lim = LIMITS[dataset]
    c = (0.5, 0.25) if dataset == "moons" else (0.0, 0.0)
    ax.set_xlim(c[0] - lim, c[0] + lim)
    ax.set_ylim(c[1] - lim, c[1] + lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def curves(results: dict, args: argparse.Namespace, path: Path) -> list[Path]:
    """D and G losses per method (mean over seeds, smoothed over 25 steps), one row per dataset."""
    fig, axes = plt.subplots(len(args.datasets), 2, figsize=(10, 3 * len(args.datasets)), squeeze=False)
    for i, dataset in enumerate(args.datasets):
        for method in args.methods:
            hist = [results[(method, dataset, s)]["history"] for s in range(args.seeds)]
            for j, key in enumerate(("d_loss", "g_loss")):
                y = np.mean([[h[key] for h in run] for run in hist], axis=0)
                w = min(25, len(y))
                y = np.convolve(y, np.ones(w) / w, mode="valid")
                axes[i, j].plot(np.arange(len(y)) + w, y, label=method, lw=1)
        for j, key in enumerate(("discriminator loss", "generator loss")):
            axes[i, j].set_title(f"{dataset}: {key} (mean of {args.seeds} seeds)", fontsize=9)
            axes[i, j].set_xlabel("generator step")
        axes[i, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def samples_figure(results: dict, args: argparse.Namespace, dataset: str, path: Path,
                   n_cols: int = 5) -> Path:
    """Rows: methods (seed 0); columns: samples (orange) over the data (black) at evenly spaced points of
    training, the discriminator's output under them (red high, blue low)."""
    real = sample(dataset, 1000, np.random.default_rng(0))
    fig, axes = plt.subplots(len(args.methods), n_cols, figsize=(2 * n_cols, 2 * len(args.methods)),
                             squeeze=False)
    for i, method in enumerate(args.methods):
        snaps = results[(method, dataset, 0)]["snapshots"]
        picks = np.unique(np.linspace(0, len(snaps) - 1, n_cols).round().astype(int))
        for j in range(n_cols):
            ax = axes[i, j]
            if j >= len(picks):
                ax.axis("off")
                continue
            snap = snaps[picks[j]]
            _panel(ax, dataset, snap, real, f"{method} step {snap['step']}")
    fig.suptitle(f"{dataset}: generated (orange) vs data (black), D/critic contour; seed 0", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def ring_gif(results: dict, args: argparse.Namespace, path: Path) -> Path:
    """One frame per snapshot: every method of the run side by side on the ring (seed 0)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    real = sample("ring", 1000, np.random.default_rng(0))
    snaps = {m: results[(m, "ring", 0)]["snapshots"] for m in args.methods}
    n_frames = min(len(s) for s in snaps.values())
    fig, axes = plt.subplots(1, len(args.methods), figsize=(2.6 * len(args.methods), 2.8), squeeze=False)

    def draw(k: int) -> list:
        for ax, m in zip(axes[0], args.methods):
            ax.clear()
            _panel(ax, "ring", snaps[m][k], real, f"{m} step {snaps[m][k]['step']}")
        return []

    anim = FuncAnimation(fig, draw, frames=n_frames, blit=False)
    anim.save(path, writer=PillowWriter(fps=6))
    draw(n_frames // 2)
    fig.savefig(path.with_name("ring_gif_frame_mid.png"), dpi=90)
    draw(n_frames - 1)
    fig.savefig(path.with_name("ring_gif_frame_last.png"), dpi=90)
    plt.close(fig)
    return path


def pictures(results: dict, args: argparse.Namespace, out: Path, build: Callable) -> list[Path]:
    paths = [samples_figure(results, args, d, out / f"samples_{d}.png") for d in args.datasets]
    if "ring" in args.datasets:
        paths.append(ring_gif(results, args, out / "ring.gif"))
        paths += [out / "ring_gif_frame_mid.png", out / "ring_gif_frame_last.png"]
    return paths
