"""Pictures of models.dcgan and models.cgan: sample grids, loss/score curves, the loss comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .plots import _save as _save_open  # noqa: E402


def _save(fig: Any, path: str | Path) -> Path:
    out = _save_open(fig, path)
    plt.close(fig)
    return out


def tile(images: np.ndarray, size: int, ncol: int, pad: int = 1, gap: float = 0.3) -> np.ndarray:
    """(N, S^2) images in [0, 1] -> one (rows (S + pad), ncol (S + pad)) mosaic, row-major; gaps = ``gap``
    (light grey under the ink-black colour map, where 0 is white paper and 1 black ink)."""
    x = np.asarray(images).reshape(-1, size, size)
    nrow = -(-len(x) // ncol)
    out = np.full((nrow * (size + pad) - pad, ncol * (size + pad) - pad), float(gap))
    for i, im in enumerate(x):
        r, c = divmod(i, ncol)
        out[r * (size + pad):r * (size + pad) + size, c * (size + pad):c * (size + pad) + size] = im
    return out


def grid(images: np.ndarray, size: int, path: str | Path, ncol: int = 10, title: str = "",
         row_labels: Sequence[str] | None = None, ylabel: str = "") -> Path:
    """A grid of samples, ink (1) black on white paper (0); optional labels of the rows."""
    mosaic = tile(images, size, ncol)
    fig, ax = plt.subplots(figsize=(6, 6 * mosaic.shape[0] / mosaic.shape[1] + 0.4))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks([(size + 1) * i + size / 2 - 0.5 for i in range(len(row_labels))])
        ax.set_yticklabels(row_labels)
        ax.set_ylabel(ylabel)
    else:
        ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def over_training(snapshots: Sequence[dict[str, Any]], size: int, path: str | Path, max_rows: int = 10,
                  title: str = "fixed noise over training (one row per evaluation)") -> Path:
    """One row per evaluation (the same noise vectors in every row): how the samples formed."""
    if len(snapshots) > max_rows:
        keep = np.unique(np.linspace(0, len(snapshots) - 1, max_rows).round().astype(int))
        snapshots = [snapshots[i] for i in keep]
    images = np.concatenate([s["images"] for s in snapshots])
    ncol = len(snapshots[0]["images"])
    return grid(images, size, path, ncol=ncol, title=title,
                row_labels=[f"step {s['step']}" for s in snapshots])


def _smooth(v: np.ndarray, k: int) -> np.ndarray:
    if len(v) < k or k < 2:
        return v
    return np.convolve(v, np.ones(k) / k, mode="valid")


def curves(history: Sequence[dict[str, float]], evals: Sequence[dict[str, Any]], floor: dict[str, float],
           baseline: dict[str, float] | None, path: str | Path, title: str = "",
           extra: str | None = None) -> Path:
    """D and G losses per generator step (moving mean over 25), FID and IS per evaluation, with the real
    test data's scores and the Gaussian baseline as dashed lines; ``extra`` a further per-evaluation
    metric (the cGAN's label accuracy)."""
    n_panels = 3 + (extra is not None)
    fig, axes = plt.subplots(1, n_panels, figsize=(4.3 * n_panels, 3.6))
    steps = np.arange(1, len(history) + 1)
    k = max(1, min(25, len(history) // 10))
    for key, color in (("d_loss", "C0"), ("g_loss", "C1")):
        v = _smooth(np.array([h[key] for h in history]), k)
        axes[0].plot(steps[len(steps) - len(v):], v, color=color, label=key.replace("_", " "))
    axes[0].set_xlabel("generator step")
    axes[0].set_title(f"losses (moving mean of {k})")
    axes[0].legend()
    es = [e["step"] for e in evals]
    for ax, key, name in ((axes[1], "classifier_fid", "classifier FID"), (axes[2], "classifier_is",
                                                                          "classifier IS")):
        ax.plot(es, [e[key] for e in evals], "o-", color="C2", label="GAN (1,000 samples)")
        ax.axhline(floor[f"real_{key}"], ls="--", color="k", label=f"real test {floor[f'real_{key}']:.2f}")
        if baseline is not None:
            ax.axhline(baseline[f"gaussian_{key}"], ls=":", color="C3",
                       label=f"Gaussian {baseline[f'gaussian_{key}']:.2f}")
        ax.set_xlabel("generator step")
        ax.set_title(name)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    if extra is not None:
        axes[3].plot(es, [e[extra] for e in evals], "o-", color="C4")
        axes[3].axhline(0.9, ls="--", color="k", label="target 0.90")
        axes[3].set_ylim(0, 1.02)
        axes[3].set_xlabel("generator step")
        axes[3].set_title(extra.replace("_", " "))
        axes[3].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def compare(runs: dict[str, dict[str, Any]], floor: dict[str, float], scorer_hash: str,
            path: str | Path) -> Path:
    """FID of each method against generator steps and against wall-clock seconds; final samples below."""
    fig = plt.figure(figsize=(12, 7))
    n = len(runs)
    gs = fig.add_gridspec(2, 2 * n)
    ax1, ax2 = fig.add_subplot(gs[0, :n]), fig.add_subplot(gs[0, n:])
    for i, (m, r) in enumerate(runs.items()):
        ev = r["evals"]
        label = f"{m} (k={r['k']}): {ev[-1]['classifier_fid']:.1f}"
        ax1.plot([e["step"] for e in ev], [e["classifier_fid"] for e in ev], "o-", color=f"C{i}", label=label)
        ax2.plot([e["seconds"] for e in ev], [e["classifier_fid"] for e in ev], "o-", color=f"C{i}", label=m)
    for ax, xl in ((ax1, "generator step"), (ax2, "wall-clock seconds (2 shared cores)")):
        ax.axhline(floor["real_classifier_fid"], ls="--", color="k",
                   label=f"real test {floor['real_classifier_fid']:.2f}")
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("classifier FID (1,000 samples)")
        ax.legend(fontsize=8)
    ax1.set_title(f"same networks (D without BN), scorer #{scorer_hash}", fontsize=10)
    for i, (m, r) in enumerate(runs.items()):
        ax = fig.add_subplot(gs[1, 2 * i:2 * i + 2])
        size = int(round(np.sqrt(r["images"].shape[1])))
        ax.imshow(tile(r["images"], size, 5), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{m}: final samples", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
