"""Matplotlib helpers shared by the model zoo: training curves, digit grids, confusion matrices, filters.

Every function takes plain NumPy arrays (call ``tensor.numpy()`` first), draws one figure and
writes it to ``path`` (a PNG). We build ``matplotlib.figure.Figure`` objects directly instead of
going through ``pyplot``: no global figure state, no GUI backend needed (it works the same as the
``Agg`` backend on a headless machine), and nothing to close afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

RED, GREEN, BLUE, ORANGE = "#d62728", "#2ca02c", "#1f77b4", "#ff7f0e"


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _numeric(rows: Sequence[dict], key: str) -> np.ndarray:
    """Column ``key`` of ``rows`` as floats (missing/empty entries become NaN)."""
    out = []
    for r in rows:
        v = r.get(key, "")
        out.append(float(v) if v not in ("", None) else math.nan)
    return np.asarray(out, dtype=np.float64)


def plot_curves(rows: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Training curves from the per-epoch metric rows (the rows of metrics.csv).

    Panel 1: every column whose name ends in ``loss``; panel 2: the other metrics (accuracy ...);
    panel 3: the learning rate, only when it changes over the run.
    """
    if not rows:
        raise ValueError("plot_curves: no metric rows to plot")
    keys = [k for k in rows[0] if k != "epoch"]
    loss_keys = [k for k in keys if k.endswith("loss")]
    other_keys = [k for k in keys if k not in loss_keys and k != "lr"]
    epochs = _numeric(rows, "epoch")
    lr = _numeric(rows, "lr") if "lr" in keys else None
    show_lr = lr is not None and np.nanmax(lr) != np.nanmin(lr)
    panels = [("loss", loss_keys)] + ([("metric", other_keys)] if other_keys else [])
    if show_lr:
        panels.append(("learning rate", ["lr"]))

    fig = Figure(figsize=(4.6 * len(panels), 3.6))
    for i, (label, cols) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for c in cols:
            ax.plot(epochs, _numeric(rows, c), marker="o", markersize=3, label=c)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        if label == "loss" and all(np.nanmin(_numeric(rows, c)) > 0 for c in cols):
            ax.set_yscale("log")
        if label == "learning rate":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _spread(idx: np.ndarray, k: int) -> np.ndarray:
    """``k`` entries of ``idx`` evenly spaced over it (test sets are often sorted by class)."""
    if len(idx) <= k:
        return idx
    return idx[(np.arange(k) * len(idx)) // k]


def _pick_examples(correct: np.ndarray, n: int) -> np.ndarray:
    """Indices to show: up to half of them mistakes (the interesting ones), the rest correct, in order."""
    wrong = _spread(np.flatnonzero(~correct), n // 2)
    right = _spread(np.flatnonzero(correct), n - len(wrong))
    return np.sort(np.concatenate([wrong, right]))


def digit_grid(images: np.ndarray, labels: np.ndarray, preds: np.ndarray, path: str | Path,
               n: int = 40, cols: int = 10, title: str = "",
               class_names: Sequence[str] | None = None) -> Path:
    """A grid of images titled with the predicted label; mistakes in red as ``pred (true)``.

    Args:
        images: (N, H, W) or (N, 1, H, W) grey images, any range (each is shown min-max scaled).
        labels, preds: (N,) integer true and predicted classes.
        n: how many to show; up to half of them are mistakes when there are any.
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    labels, preds = np.asarray(labels), np.asarray(preds)
    idx = _pick_examples(labels == preds, min(n, len(images)))
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    rows = math.ceil(len(idx) / cols)
    fig = Figure(figsize=(cols * 0.95, rows * 1.1))
    for k, i in enumerate(idx):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(images[i], cmap="gray_r")
        ok = labels[i] == preds[i]
        ax.set_title(name(preds[i]) if ok else f"{name(preds[i])} ({name(labels[i])})",
                     color="black" if ok else RED, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if not ok:
            for s in ax.spines.values():
                s.set_color(RED)
                s.set_linewidth(2)
    acc = float(np.mean(labels == preds))
    title = title or f"test predictions (accuracy {acc:.2%}; mistakes in red: predicted (true))"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, path: str | Path, num_classes: int | None = None,
                     title: str = "confusion matrix", class_names: Sequence[str] | None = None) -> Path:
    """Counts of (true class, predicted class) pairs, annotated; the diagonal holds the correct ones."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    k = num_classes or int(max(labels.max(), preds.max())) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    fig = Figure(figsize=(0.5 * k + 2.5, 0.5 * k + 2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    ax.set_xticks(range(k), names, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    half = cm.max() / 2
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > half else ("black" if i == j else RED))
    ax.set_title(f"{title} (accuracy {np.trace(cm) / cm.sum():.2%})", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def filter_grid(weight: np.ndarray, path: str | Path, title: str = "learned filters") -> Path:
    """Show convolution kernels: weight (C_out, C_in, kH, kW), one tile per output channel.

    Multi-channel kernels are averaged over C_in. Each tile gets its own symmetric colour range so
    the sign pattern is visible (blue negative, red positive).
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected a (C_out, C_in, kH, kW) weight, got shape {w.shape}")
    w = w.mean(axis=1)
    n = len(w)
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(cols * 1.0, rows * 1.05 + 0.4))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        m = np.abs(w[i]).max() or 1.0
        ax.imshow(w[i], cmap="RdBu_r", vmin=-m, vmax=m)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def reconstructions(inputs: np.ndarray, outputs: np.ndarray, path: str | Path, n: int = 12,
                    title: str = "inputs (top) and reconstructions (bottom)") -> Path:
    """Two rows of images: originals above, the model's reconstructions below. Shapes (N, [1,] H, W)."""
    a, b = np.asarray(inputs), np.asarray(outputs)
    a = a[:, 0] if a.ndim == 4 else a
    b = b[:, 0] if b.ndim == 4 else b
    n = min(n, len(a))
    fig = Figure(figsize=(n * 0.95, 2.3))
    for row, imgs in enumerate((a, b)):
        for i in range(n):
            ax = fig.add_subplot(2, n, row * n + i + 1)
            ax.imshow(imgs[i], cmap="gray_r", vmin=0.0, vmax=max(1.0, float(a[:n].max())))
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def compare_runs(curves: dict[str, Sequence[float]], path: str | Path, ylabel: str = "test accuracy",
                 title: str = "") -> Path:
    """Left: one line per run (metric vs epoch); right: a bar of each run's final value."""
    fig = Figure(figsize=(9.5, 3.6))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colors = [BLUE, ORANGE, GREEN, RED]
    for (name, ys), c in zip(curves.items(), colors * 4):
        ax1.plot(np.arange(1, len(ys) + 1), ys, marker="o", markersize=3, label=name, color=c)
    ax1.set_xlabel("epoch")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_ylabel(ylabel)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    names = list(curves)
    finals = [float(curves[k][-1]) for k in names]
    bars = ax2.bar(names, finals, color=(colors * 4)[: len(names)])
    for bar, v in zip(bars, finals):
        ax2.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.2%}" if v <= 1 else f"{v:.3g}",
                 ha="center", va="bottom", fontsize=9)
    ax2.set_ylabel(f"final {ylabel}")
    lo = min(finals)
    ax2.set_ylim(max(0.0, lo - (1 - lo) * 1.5 - 0.05) if max(finals) <= 1 else 0, None)
    ax2.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
