"""A lesson on vanishing and exploding gradients in recurrent networks, and gradient clipping.

    python -m models.vanishing_gradients            # the analysis and the clipping experiment (seconds)
    python -m models.vanishing_gradients --quick    # a smoke test (seconds)

Part 1, the analysis (``grad_norms.png``). A plain RNN, h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b), runs
over T steps and a loss is read from the last state only: L = <r, h_T> with a fixed unit vector r. By the
chain rule the gradient that reaches an earlier state is

    dL/dh_{t-1} = W_hh^T diag(1 - h_t^2) dL/dh_t        (one Jacobian per step back)

so it is multiplied by (at most) the spectral norm sigma of W_hh at every step: over T - t steps it
shrinks like sigma^(T-t) when sigma < 1 and can grow like it when sigma > 1 (tanh' <= 1 only damps).
We set W_hh = sigma Q with Q a random orthogonal matrix (all singular values exactly sigma), read
||dL/dh_t|| for every t with ``retain_grad()`` on the hidden states, and plot it on a log scale for
sigma = 0.5, 0.9, 1.0, 1.1, 1.5, with the straight lines sigma^(T-t) for reference. An LSTM carries a
second state c_t = f_t c_{t-1} + i_t g_t whose gradient is multiplied by the forget gate f_t (a number
in (0, 1) the network controls, not a fixed matrix): with the forget gates open (bias +3, f ~ 0.95)
the gradient crosses a hundred steps; at PyTorch's default init (f ~ 0.5) it still decays.

Part 2, the experiment (``clipping.png``, trained through the harness). Two copies of the same RNN,
started from W_hh = 1.5 Q (the exploding regime), learn to output the symbol they saw ``--delay`` steps
ago, on the same batches with SGD (momentum 0.9). One copy updates with the raw gradient; the other first
rescales its gradient to norm at most ``--max-norm`` (``minigrad.nn.utils.clip_grad_norm_``), which keeps
the direction and bounds the step. When the gradient explodes, the raw step throws the weights far away
(often into saturated tanh units, where the loss sits at chance, log 8 = 2.08, and the gradient vanishes
for good); the clipped copy takes a bounded step and keeps learning. metrics.csv has both losses per epoch,
clipping.png the loss and the gradient norm of every step.
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

import minigrad
import minigrad.nn.functional as F
from minigrad import Tensor, nn
from minigrad.nn.utils import clip_grad_norm_
from minigrad.utils.data import TensorDataset

from . import plots
from .harness import Experiment, accuracy, run

# --- hyperparameters -------------------------------------------------------------------------------
HIDDEN = 64
SYMBOLS = 8                  # one-hot inputs: random symbols 0..7
STEPS = 100                  # T for the gradient-norm analysis
SIGMAS = (0.5, 0.9, 1.0, 1.1, 1.5)   # spectral norms of W_hh in the analysis
LSTM_FORGET_BIASES = (0.0, 3.0)      # forget-gate bias added at init (0: PyTorch's default init)
SEQ_LEN, DELAY = 50, 10      # the experiment: output at step t the symbol of step t - DELAY
INIT_SIGMA = 1.5             # the experiment starts in the exploding regime
N_TRAIN, N_TEST = 3200, 512


def scaled_orthogonal(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """sigma * Q with Q a random orthogonal (n, n) matrix: every singular value equals sigma."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return (sigma * q * np.sign(np.diag(r))).astype(np.float32)


def one_hot(ids: Tensor) -> Tensor:
    return F.one_hot(ids, SYMBOLS).float()


# --- part 1: the gradient norm through time --------------------------------------------------------
def grad_norms_through_time(cell: nn.Module, ids: np.ndarray, readout: np.ndarray) -> np.ndarray:
    """||dL/dh_t|| for t = 1..T (mean over the batch), L = sum_b <readout, h_T[b]>.

    ``cell``: an ``nn.RNNCell`` or ``nn.LSTMCell``; ``ids``: (B, T) input symbols. The hidden states are
    graph tensors; ``retain_grad()`` keeps their gradient after ``backward()``."""
    x = one_hot(minigrad.tensor(ids))
    state, hs = None, []
    for t in range(ids.shape[1]):
        state = cell(x[:, t], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    loss = (hs[-1] * minigrad.tensor(readout)).sum()
    loss.backward()
    return np.array([np.linalg.norm(h.grad.numpy().astype(np.float64), axis=1).mean() for h in hs])


def analysis(hidden: int, steps: int, batch: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """The curves of part 1: one per sigma (plain RNN) and per LSTM forget-gate bias."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, SYMBOLS, size=(batch, steps))
    readout = rng.normal(size=hidden).astype(np.float32)
    readout /= np.linalg.norm(readout)
    curves = {}
    for sigma in SIGMAS:
        minigrad.manual_seed(seed)
        cell = nn.RNNCell(SYMBOLS, hidden)
        with minigrad.no_grad():
            cell.weight_hh.array[...] = scaled_orthogonal(hidden, sigma, rng)
        curves[f"RNN sigma={sigma:g}"] = grad_norms_through_time(cell, ids, readout)
    for fb in LSTM_FORGET_BIASES:
        minigrad.manual_seed(seed)
        cell = nn.LSTMCell(SYMBOLS, hidden)
        with minigrad.no_grad():
            cell.bias_hh.array[hidden: 2 * hidden] += np.float32(fb)   # gate blocks i, f, g, o
        label = f"LSTM forget bias {fb:+g}" + (" (default init)" if fb == 0 else "")
        curves[label] = grad_norms_through_time(cell, ids, readout)
    return curves


# --- part 2: training with and without clipping ----------------------------------------------------
class DelayNet(nn.Module):
    """ids (B, T) -> logits (B, T, SYMBOLS): one-hot -> tanh RNN -> Linear; W_hh starts at sigma * Q."""

    def __init__(self, hidden: int = HIDDEN, sigma: float = INIT_SIGMA, seed: int = 0) -> None:
        super().__init__()
        self.rnn = nn.RNN(SYMBOLS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)
        with minigrad.no_grad():
            self.rnn.weight_hh_l0.array[...] = scaled_orthogonal(hidden, sigma, np.random.default_rng(seed))

    def forward(self, ids: Tensor) -> Tensor:
        out, _ = self.rnn(one_hot(ids))
        return self.head(out)


class ClipPerGroupSGD(minigrad.optim.SGD):
    """SGD whose param groups may carry ``max_norm``: that group's gradient is clipped to it first.

    ``grad_norms`` holds, per group, the gradient norm (before clipping) of the last ``step()``."""

    def step(self, closure: Any = None) -> Any:
        self.grad_norms = [float(clip_grad_norm_(g["params"], g.get("max_norm") or math.inf))
                           for g in self.param_groups]
        return super().step(closure)


def delay_task(n: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, SYMBOLS, size=(n, seq_len))


class VanishingGradients(Experiment):
    """Vanishing/exploding gradients in an RNN vs an LSTM, and gradient clipping."""

    name = "vanishing_gradients"
    defaults = dict(epochs=6, batch_size=32, lr=0.1, dataset="delay")
    quick = {"epochs": 2, "max_batches": 10, "steps": 30}
    dataset_choices = ("delay",)
    curve_labels = {"loss": "cross-entropy loss", "acc": "accuracy (symbols recalled)"}
    curve_colors = {"clipped": plots.BLUE, "unclipped": plots.RED}   # as in clipping.png

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hidden", type=int, default=HIDDEN)
        parser.add_argument("--steps", type=int, default=STEPS, help="T of the gradient-norm analysis")
        parser.add_argument("--delay", type=int, default=DELAY)
        parser.add_argument("--seq-len", type=int, default=SEQ_LEN)
        parser.add_argument("--max-norm", type=float, default=1.0,
                            help="clipping threshold of the clipped copy")
        parser.add_argument("--init-sigma", type=float, default=INIT_SIGMA)

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        rng = np.random.default_rng(1000 + args.seed)
        self.history: dict[str, list] = {k: [] for k in ("unclipped_loss", "clipped_loss",
                                                         "unclipped_norm", "clipped_norm")}
        return (TensorDataset(delay_task(N_TRAIN, args.seq_len, rng)),
                TensorDataset(delay_task(N_TEST, args.seq_len, rng)))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        net = DelayNet(args.hidden, args.init_sigma, args.seed)
        return nn.ModuleDict({"unclipped": net, "clipped": copy.deepcopy(net)})   # the same start

    def build_optimizer(self, model: nn.Module, args: argparse.Namespace) -> Any:
        self.optimizer = ClipPerGroupSGD([{"params": list(model["unclipped"].parameters())},
                                          {"params": list(model["clipped"].parameters()),
                                           "max_norm": args.max_norm}], lr=args.lr, momentum=0.9)
        return self.optimizer

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        (ids,) = batch
        if model.training and getattr(self.optimizer, "grad_norms", None) and self.history["unclipped_loss"]:
            # the norms of the previous step (the optimizer computes them after this function returns)
            self.history["unclipped_norm"].append(self.optimizer.grad_norms[0])
            self.history["clipped_norm"].append(self.optimizer.grad_norms[1])
        target = ids[:, : ids.shape[1] - args.delay]
        total, logs = 0.0, {}
        for name, net in model.items():
            logits = net(ids)[:, args.delay:]                       # predict the symbol DELAY steps back
            loss = F.cross_entropy(logits.reshape(-1, SYMBOLS), target.reshape(-1))
            total = total + loss
            logs[f"{name}_loss"] = loss.item()
            logs[f"{name}_acc"] = accuracy(logits.reshape(-1, SYMBOLS), target.reshape(-1))
            if model.training:
                self.history[f"{name}_loss"].append(loss.item())
        return total, logs

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        if getattr(self.optimizer, "grad_norms", None):   # the last step's norms
            self.history["unclipped_norm"].append(self.optimizer.grad_norms[0])
            self.history["clipped_norm"].append(self.optimizer.grad_norms[1])
        self.curves = analysis(args.hidden, args.steps, seed=args.seed)
        with open(out / "grad_norms.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t", *self.curves])
            for t in range(args.steps):
                w.writerow([t + 1, *(f"{c[t]:.6g}" for c in self.curves.values())])
        # how much of the gradient reaches the first step, relative to the last
        return {"h1_grad_" + slug(k): float(c[0] / c[-1]) for k, c in self.curves.items()}

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        return [grad_norms_figure(self.curves, out / "grad_norms.png"),
                clipping_figure(self.history, args, out / "clipping.png"), out / "grad_norms.csv"]


def slug(label: str) -> str:
    """'RNN sigma=0.9' -> 'rnn_sigma0.9', 'LSTM forget bias +3' -> 'lstm_fb3' (metric names)."""
    label = label.split(" (")[0].lower().replace("sigma=", "sigma").replace(" forget bias ", "_fb")
    label = label.replace("+", "")
    return label.replace(" ", "_")


# --- pictures --------------------------------------------------------------------------------------
def grad_norms_figure(curves: dict[str, np.ndarray], path: Path) -> Path:
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    colors = ["#9467bd", plots.BLUE, plots.GREEN, plots.ORANGE, plots.RED]
    rnn = [k for k in curves if k.startswith("RNN")]
    for k, color in zip(rnn, colors):
        c = curves[k]
        T = len(c)
        t = np.arange(1, T + 1)
        ax.plot(t, c, color=color, lw=2, label=k.replace("sigma", "\u03c3"))
        sigma = float(k.split("=")[1])
        ax.plot(t, c[-1] * sigma ** (T - t.astype(np.float64)), color=color, lw=0.8, ls=":")
    for k, style in zip([k for k in curves if k.startswith("LSTM")], ("--", "-")):
        c = curves[k]
        ax.plot(np.arange(1, len(c) + 1), c, color="black", lw=2, ls=style, label=k)
    ax.set_yscale("log")
    lo = max(min(float(np.min(c[c > 0])) for c in curves.values()), 1e-40)  # float32: down to ~1e-45
    ax.set_ylim(lo / 3, max(float(np.max(c)) for c in curves.values()) * 3)
    ax.set_xlabel("time step t (the loss reads h_T, T on the right)")
    ax.set_ylabel("||dL/dh_t||  (mean over the batch)")
    ax.set_title("gradient reaching step t: plain RNN with W_hh = \u03c3 Q (dotted: \u03c3^(T-t)) and LSTM",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="gray", lw=0.8, ls=":", label="\u03c3^(T-t) (RNN reference lines)"))
    ax.legend(handles=handles, fontsize=8, ncol=2)
    fig.tight_layout()
    return plots._save(fig, path)


def clipping_figure(history: dict[str, list], args: argparse.Namespace, path: Path) -> Path:
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, color in (("clipped", plots.BLUE), ("unclipped", plots.RED)):
        loss = np.asarray(history[f"{name}_loss"], dtype=np.float64)
        ax1.plot(np.arange(1, len(loss) + 1), loss, color=color, lw=0.8,
                 label=f"{name}" + (f" (max norm {args.max_norm:g})" if name == "clipped" else ""))
        norm = np.asarray(history[f"{name}_norm"], dtype=np.float64)
        ax2.plot(np.arange(1, len(norm) + 1), norm, color=color, lw=0.8, label=f"{name}: raw gradient norm")
    ax1.axhline(math.log(SYMBOLS), color="gray", ls=":", lw=1, label=f"chance (log {SYMBOLS})")
    ax1.set_xlabel("training step")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_ylabel("training loss (cross-entropy)")
    ax1.set_title(f"recall the symbol {args.delay} steps back; SGD lr {args.lr:g}, "
                  f"W_hh = {args.init_sigma:g} Q at init", fontsize=9)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.axhline(args.max_norm, color="gray", ls=":", lw=1, label="clipping threshold")
    ax2.set_yscale("log")
    plots.plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("training step")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set_ylabel("gradient norm (before clipping)")
    ax2.set_title("gradient norm of every step: the spikes are exploding gradients", fontsize=9)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return plots._save(fig, path)


TARGET = [("test_clipped_acc", ">=", 0.9)]


def main(argv: list[str] | None = None) -> dict:
    return run(VanishingGradients(), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
