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
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator

RED, GREEN, BLUE, ORANGE = "#d62728", "#2ca02c", "#1f77b4", "#ff7f0e"
PURPLE, BROWN, PINK, OLIVE, GRAY = "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#555555"
PALETTE = (BLUE, ORANGE, GREEN, RED, PURPLE, BROWN, PINK, OLIVE)
SPLIT_STYLE = {"train": dict(ls="-", marker="o"), "test": dict(ls="--", marker="s")}

# axis labels of the metric names the models log (the part after ``train_``/``test_`` and a model prefix)
METRIC_LABELS = {
    "loss": "loss",
    "acc": "accuracy",
    "tok_acc": "token accuracy (teacher forcing)",
    "seq_acc": "exact-sequence accuracy (greedy)",
    "mse": "mean squared error",
    "bpc": "bits per character",
}


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


class _PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's choice of which log ticks to label, written as plain numbers (0.5, 2, 1e-05)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_ticks(axis: Any) -> None:
    """Label a log axis with plain numbers (0.5, 2, 1e-05), not ``5 x 10^-1``; minor ticks as matplotlib
    chooses (labelled only when the axis spans few decades)."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))


def log_if_wide(ax: Any, values: np.ndarray, ratio: float = 20.0) -> None:
    """A log y-axis when positive ``values`` span more than ``ratio`` (else linear: easier to read)."""
    v = values[np.isfinite(values)]
    if len(v) and v.min() > 0 and v.max() / v.min() > ratio:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)


def cap_at_one(ax: Any, bottom: float | None = None) -> None:
    """Keep an accuracy axis inside [0, 1]: the top at most 1.0, the bottom at least 0 (or ``bottom``)."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(lo, 0.0) if bottom is None else bottom, min(hi, 1.0))


def label_bars(ax: Any, bars: Any, values: Sequence[float], fmt: str = "{:.1%}", extra: Sequence[str] = (),
               fontsize: int = 9) -> None:
    """Print each bar's value on it: above the bar, or inside its top when the bar nearly fills the axis."""
    top = ax.get_ylim()[1]
    for k, (bar, v) in enumerate(zip(bars, values)):
        text = fmt.format(v) + (f"\n{extra[k]}" if k < len(extra) and extra[k] else "")
        x = bar.get_x() + bar.get_width() / 2
        if v > 0.85 * top:
            ax.text(x, v - 0.02 * top, text, ha="center", va="top", fontsize=fontsize, color="white",
                    fontweight="bold")
        else:
            ax.text(x, v + 0.01 * top, text, ha="center", va="bottom", fontsize=fontsize)


def chance_line(ax: Any, chance: float, label: str | None = None) -> None:
    """A dotted horizontal line at the chance level (what guessing scores), labelled for the legend."""
    ax.axhline(chance, color=GRAY, ls=":", lw=1.2, label=label or f"chance ({chance:.0%})", zorder=1)


def _split_column(col: str, metric_names: Sequence[str]) -> tuple[str, str, str] | None:
    """``'test_lstm_acc'`` -> ``('test', 'lstm', 'acc')``, ``'train_tok_acc'`` -> ``('train', '', 'tok_acc')``

    ``None`` for a column that is not a train/test metric."""
    split, _, rest = col.partition("_")
    if split not in ("train", "test") or not rest:
        return None
    for m in sorted(metric_names, key=len, reverse=True):  # the longest known metric name that ends ``rest``
        if rest == m:
            return split, "", m
        if rest.endswith("_" + m):
            return split, rest[: -len(m) - 1], m
    return split, "", rest


def plot_curves(rows: Sequence[dict], path: str | Path, title: str = "", labels: dict[str, str] | None = None,
                colors: dict[str, str] | None = None) -> Path:
    """Training curves from the per-epoch metric rows (the rows of metrics.csv).

    One panel per kind of quantity: the loss, the accuracies (``*acc``, on a [0, 1] axis), every other
    metric on its own, and the learning rate when it changes over the run. Each curve is one quantity
    of one model: train solid with circles, test dashed with squares. With one model the colour is the
    split (train blue, test orange, the same in every panel); with several models (columns
    ``train_<model>_<metric>``) the colour is the model, the same in every panel, and the total
    ``train_loss``/``test_loss`` (the sum the optimizer minimised) is left out.

    Args:
        labels: display names: metric names to axis labels (``{"loss": "cross-entropy (nats)"}``) and model
            names to legend names (``{"rnn": "RNN"}``); METRIC_LABELS gives the defaults.
        colors: model name -> colour (default: PALETTE in order of appearance).
    """
    if not rows:
        raise ValueError("plot_curves: no metric rows to plot")
    labels = {**METRIC_LABELS, **(labels or {})}
    colors = dict(colors or {})
    keys = [k for k in rows[0] if k not in ("epoch", "lr")]
    parsed = {k: p for k in keys if (p := _split_column(k, list(labels)))}
    models = list(dict.fromkeys(m for _, m, _ in parsed.values() if m))
    own_losses = any(p[1] and p[2] == "loss" for p in parsed.values())
    if own_losses:  # several models, each with its own loss: leave out their sum (train_loss, test_loss)
        parsed = {k: p for k, p in parsed.items() if p[1] or p[2] != "loss"}
    for m in models:
        colors.setdefault(m, PALETTE[len(colors) % len(PALETTE)])

    def kind(metric: str) -> str:
        return "acc" if metric.endswith("acc") else metric

    kinds = list(dict.fromkeys(kind(p[2]) for p in parsed.values()))
    kinds.sort(key=lambda k: (k != "loss", k != "acc"))  # loss first, then the accuracies, then the rest
    epochs = _numeric(rows, "epoch")
    lr = _numeric(rows, "lr") if "lr" in rows[0] else None
    show_lr = lr is not None and np.nanmax(lr) != np.nanmin(lr)
    n_panels = len(kinds) + int(show_lr)

    fig = Figure(figsize=(4.6 * n_panels, 3.8))
    for i, kd in enumerate(kinds):
        ax = fig.add_subplot(1, n_panels, i + 1)
        cols = [k for k, p in parsed.items() if kind(p[2]) == kd]
        metrics_here = list(dict.fromkeys(parsed[c][2] for c in cols))
        values = np.concatenate([_numeric(rows, c) for c in cols])
        for c in cols:
            split, model, metric = parsed[c]
            style = dict(SPLIT_STYLE[split])
            if not models:
                color = BLUE if split == "train" else ORANGE
                if metrics_here.index(metric) > 0:  # a second accuracy of the same model: dotted, diamonds
                    style = dict(ls=":", marker="D")
            else:
                color = colors.get(model, GRAY)  # a quantity of no single model (gray)
            name = " ".join(x for x in (labels.get(model, model), split,
                                        labels.get(metric, metric) if len(metrics_here) > 1 else "") if x)
            ax.plot(epochs, _numeric(rows, c), color=color, markersize=3.5, label=name, clip_on=kd != "acc",
                    **style)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy" if kd == "acc" and len(metrics_here) > 1 else labels.get(kd, kd))
        if kd == "acc":
            cap_at_one(ax)
        else:
            log_if_wide(ax, values)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if show_lr:
        ax = fig.add_subplot(1, n_panels, n_panels)
        ax.plot(epochs, lr, color=GRAY, marker="o", markersize=3.5)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("learning rate (during the epoch)")
        log_if_wide(ax, lr)
        if ax.get_yscale() == "linear":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        ax.grid(alpha=0.3, which="both")
    note = ("train: mean over the epoch's batches while learning (dropout and augmentation, if any, on)\n"
            "test: evaluated after each epoch")
    if own_losses:
        note += "\neach curve is one model's own loss or metric (the optimizer minimised their losses' sum)"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def some_of(k: int, n: int, noun: str) -> str:
    """'the only mistake', 'all 5 mistakes' or '20 of the 57 mistakes, drawn at random'."""
    if k == n:
        return f"the only {noun}" if n == 1 else f"all {n} {noun}s"
    return f"{k} of the {n} {noun}s, drawn at random"


def _sample(idx: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` entries of ``idx`` drawn at random without replacement (all of them if fewer), sorted."""
    if len(idx) <= k:
        return np.sort(idx)
    return np.sort(rng.choice(idx, size=k, replace=False))


def digit_grid(images: np.ndarray, labels: np.ndarray, preds: np.ndarray, path: str | Path,
               n: int = 40, cols: int = 10, title: str = "",
               class_names: Sequence[str] | None = None, seed: int = 0) -> Path:
    """Test images titled with their predicted class, in two labelled blocks; mistakes in red.

    Top block: ``n // 2`` test images drawn at random (a fair sample: its mistakes are as frequent as in
    the whole set). Bottom block: up to ``n - n // 2`` of the mistakes, drawn at random, so that the
    errors can be studied; its heading says how many mistakes there are in all. The figure title gives
    the accuracy over all ``len(labels)`` images.

    Args:
        images: (N, H, W) or (N, 1, H, W) grey images, any range (each is shown min-max scaled).
        labels, preds: (N,) integer true and predicted classes.
        title: a heading put before the accuracy (default "test predictions").
        seed: the random draws (the same picture for the same predictions).
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    labels, preds = np.asarray(labels), np.asarray(preds)
    images = images[: len(labels)]
    correct = labels == preds
    rng = np.random.default_rng(seed)
    n_random = min(n // 2, len(labels))
    shown_random = _sample(np.arange(len(labels)), n_random, rng)
    wrong_all = np.flatnonzero(~correct)
    shown_wrong = _sample(wrong_all, n - n_random, rng)
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    long_names = class_names is not None and max(len(str(c)) for c in class_names) > 3

    blocks = [(shown_random, f"{len(shown_random)} test images drawn at random (a fair sample): "
                             f"{int((~correct[shown_random]).sum())} of them wrong")]
    if len(wrong_all):
        blocks.append((shown_wrong, f"{some_of(len(shown_wrong), len(wrong_all), 'mistake')} "
                                    "(not a fair sample: every one here is wrong)"))
    rows = [max(1, math.ceil(len(idx) / cols)) for idx, _ in blocks]
    tile_h = 1.4 if long_names else 1.1
    fig = Figure(figsize=(cols * 0.95, sum(rows) * tile_h + 0.45 * len(blocks) + 0.5), layout="constrained")
    ratios = [r * tile_h + 0.45 for r in rows]
    subfigs = fig.subfigures(len(blocks), 1, height_ratios=ratios, squeeze=False)[:, 0]
    for sub, (idx, heading), r in zip(subfigs, blocks, rows):
        axes = sub.subplots(r, cols, squeeze=False).ravel()
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
        for ax, i in zip(axes, idx):
            ax.set_frame_on(True)
            ax.imshow(images[i], cmap="gray_r")
            ok = bool(correct[i])
            sep = "\n" if long_names else " "   # long class names: predicted and (true) on two lines
            ax.set_title(name(preds[i]) if ok else f"{name(preds[i])}{sep}({name(labels[i])})",
                         color="black" if ok else RED, fontsize=7 if long_names else 9)
            if not ok:
                for s in ax.spines.values():
                    s.set_color(RED)
                    s.set_linewidth(2)
        sub.suptitle(heading, fontsize=9, fontweight="bold" if sub is subfigs[0] else "normal")
    total, right = len(labels), int(correct.sum())
    head = title or "test predictions"
    fig.suptitle(f"{head}: accuracy {right / total:.2%} on {total:,} test images ({total - right:,} wrong)\n"
                 "each tile: the predicted class; mistakes in red with a red frame: predicted (true)",
                 fontsize=10)
    return _save(fig, path)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, path: str | Path, num_classes: int | None = None,
                     title: str = "confusion matrix", class_names: Sequence[str] | None = None) -> Path:
    """Counts of (true class, predicted class) pairs, annotated; the diagonal holds the correct ones.

    Off-diagonal counts (mistakes) are printed in red. The title gives the number of images and the
    accuracy, and names the classes that have no image among them (a short ``--quick`` evaluation)."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    k = num_classes or int(max(labels.max(), preds.max())) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    fig = Figure(figsize=(0.5 * k + 2.5, 0.5 * k + 2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(cm, cmap="Blues")
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("number of test images")
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    ax.set_xticks(range(k), names, fontsize=8, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    half = cm.max() / 2
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > half else ("black" if i == j else RED))
    text = f"{title}: {cm.sum():,} test images, accuracy {np.trace(cm) / cm.sum():.2%}"
    text += "\nrows: the true class; off-diagonal counts (red) are mistakes"
    absent = [names[c] for c in range(k) if cm[c].sum() == 0]
    if absent:
        text += f"\nno test image of class {', '.join(absent)} among them"
    ax.set_title(text, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def filter_grid(weight: np.ndarray, path: str | Path, title: str = "learned filters") -> Path:
    """Show convolution kernels: weight (C_out, C_in, kH, kW), one tile per output channel.

    Multi-channel kernels are averaged over C_in. Each tile gets its own symmetric colour range so
    the sign pattern is visible (blue negative, red positive); the title says so.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected a (C_out, C_in, kH, kW) weight, got shape {w.shape}")
    c_in = w.shape[1]
    w = w.mean(axis=1)
    n = len(w)
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(cols * 1.0, rows * 1.05 + 0.6))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        m = np.abs(w[i]).max() or 1.0
        ax.imshow(w[i], cmap="RdBu_r", vmin=-m, vmax=m)
        ax.set_xticks([])
        ax.set_yticks([])
    note = "red: positive weight, blue: negative, white: 0; each filter on its own scale"
    if c_in > 1:
        note += f"; mean over the {c_in} input channels"
    fig.suptitle(f"{title}\n{note}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def reconstructions(inputs: np.ndarray, outputs: np.ndarray, path: str | Path, n: int = 12,
                    title: str = "inputs (top) and reconstructions (bottom)") -> Path:
    """Two rows of images: originals above, the model's reconstructions below. Shapes (N, [1,] H, W).

    Both rows share one grey scale (0 to the inputs' maximum), so faint reconstructions look faint."""
    a, b = np.asarray(inputs), np.asarray(outputs)
    a = a[:, 0] if a.ndim == 4 else a
    b = b[:, 0] if b.ndim == 4 else b
    n = min(n, len(a))
    fig = Figure(figsize=(n * 0.95 + 0.6, 2.4))
    for row, (imgs, label) in enumerate(((a, "input"), (b, "reconstruction"))):
        for i in range(n):
            ax = fig.add_subplot(2, n, row * n + i + 1)
            ax.imshow(imgs[i], cmap="gray_r", vmin=0.0, vmax=max(1.0, float(a[:n].max())))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def compare_runs(curves: dict[str, Sequence[float]], path: str | Path, ylabel: str = "test accuracy",
                 title: str = "", chance: float | None = None, colors: dict[str, str] | None = None) -> Path:
    """Left: one line per run (``ylabel`` vs epoch); right: a bar of each run's final value, printed on it.

    For fractions (all values in [0, 1], e.g. accuracies) the bars start at 0 and the axis ends at
    1.0, so bar heights compare honestly; ``chance`` (e.g. 0.1 for ten classes) is drawn as a labelled
    dotted line on both panels. The line plot zooms in (its axis starts near the lowest value) but
    never goes past 1.0. ``colors``: run name -> colour (default PALETTE in order), the same on both panels.
    """
    names = list(curves)
    colors = {k: (colors or {}).get(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(names)}
    finals = [float(curves[k][-1]) for k in names]
    fractions = all(0.0 <= float(v) <= 1.0 for ys in curves.values() for v in ys)
    fig = Figure(figsize=(10, 3.9))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    n_epochs = max(len(ys) for ys in curves.values())
    for name in names:
        ys = np.asarray(curves[name], dtype=np.float64)
        ax1.plot(np.arange(1, len(ys) + 1), ys, marker="o", markersize=3.5, label=name, color=colors[name],
                 clip_on=not fractions)
    ax1.set_xlabel("epoch")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_ylabel(ylabel)
    if fractions:
        cap_at_one(ax1)
        if chance is not None and ax1.get_ylim()[0] <= chance:
            chance_line(ax1, chance)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)

    bars = ax2.bar(names, finals, color=[colors[k] for k in names], zorder=2)
    if fractions:
        ax2.set_ylim(0.0, 1.0)
        if chance is not None:
            chance_line(ax2, chance)
            ax2.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False)
    label_bars(ax2, bars, finals, "{:.1%}" if fractions else "{:.3g}")
    ax2.set_ylabel(f"{ylabel} after epoch {n_epochs}")
    ax2.grid(alpha=0.3, axis="y", zorder=0)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
