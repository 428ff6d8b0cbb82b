"""Sequence to sequence: an LSTM encoder-decoder that learns to reverse a string of digits.

    python -m models.seq2seq                   # reverse strings of 5-10 digits ("31415" -> "51413")
    python -m models.seq2seq --task add        # "123+4567" -> "4690" (harder, see below)
    python -m models.seq2seq --quick           # a smoke test (seconds)

The encoder LSTM reads the source string; its final state (h, c) is the only thing the decoder gets,
so the whole string has to fit in that memory. The decoder LSTM starts from that state and writes the
answer one token at a time. During training it is fed the true previous token (teacher forcing: all
steps in parallel, one fused LSTM call); at test time it feeds back its own prediction (greedy
decoding) until it writes ``</s>``. We report the token accuracy under teacher forcing and, more
demanding, the exact-sequence accuracy of greedy decoding on held-out strings that never appear in
the training set.

Sources are padded on the left, so the encoder's final state always comes right after the last real
token; targets are padded on the right and the padding is ignored by the loss.

Reversal is the easy direction for this architecture: the first answer token is the last one read.
Addition (``--task add``) is much harder without attention: the first digit of the sum depends on every
carry, all of which must be worked out from the memory before anything is written; with the default
budget it reaches only about 30% exact answers (12 epochs), a good starting point for experiments.

Pictures: ``predictions.png`` (exact accuracy against the source length, and test strings with the
model's answers: 7 drawn at random, then 7 of the mistakes; mistakes in red).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import minigrad
import minigrad.nn.functional as F
from minigrad import Tensor, nn
from minigrad.optim.lr_scheduler import CosineAnnealingLR
from minigrad.utils.data import TensorDataset

from . import plots
from .harness import Experiment, run

# --- hyperparameters -------------------------------------------------------------------------------
EMBED = 32            # token embedding size (shared by encoder and decoder)
HIDDEN = 128          # LSTM state size: the whole source must fit in (h, c)
MIN_LEN, MAX_LEN = 5, 10   # source lengths of --task reverse (--task add: operands of 1-5 digits)
N_TRAIN, N_TEST = 20_000, 1_000
DATA_SEED = 1234      # the strings are the same for every --seed: only the model changes


# --- the vocabulary --------------------------------------------------------------------------------
PAD, SOS, EOS = 0, 1, 2
TOKENS = ["_", "<s>", "</s>", *"0123456789", "+"]
STOI = {t: i for i, t in enumerate(TOKENS)}


def encode(s: str) -> list[int]:
    return [STOI[c] for c in s]


def decode(ids: Any) -> str:
    """Token ids -> string, stopping at ``</s>`` (``<s>`` and padding are dropped)."""
    out = []
    for i in np.asarray(ids).reshape(-1):
        if i == EOS:
            break
        if i > EOS:
            out.append(TOKENS[int(i)])
    return "".join(out)


# --- the data --------------------------------------------------------------------------------------
def make_example(task: str, rng: np.random.Generator) -> tuple[str, str]:
    """One (source, target) pair of strings."""
    if task == "reverse":
        n = int(rng.integers(MIN_LEN, MAX_LEN + 1))
        s = "".join(rng.choice(list("0123456789"), size=n))
        return s, s[::-1]
    if task == "add":
        a, b = (int(rng.integers(0, 10 ** int(rng.integers(1, 6)))) for _ in range(2))
        return f"{a}+{b}", str(a + b)
    raise ValueError(f"seq2seq: unknown task {task!r}")


def make_pairs(task: str, n_train: int, n_test: int, seed: int = DATA_SEED) -> tuple[list, list]:
    """Distinct random pairs; no test source appears in the training set."""
    rng = np.random.default_rng(seed)
    test: dict[str, str] = {}
    while len(test) < n_test:
        s, t = make_example(task, rng)
        test[s] = t
    train = []
    while len(train) < n_train:
        s, t = make_example(task, rng)
        if s not in test:
            train.append((s, t))
    return train, list(test.items())


def to_arrays(pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs -> int64 arrays: src (N, S) left-padded; tgt_in (N, T) = <s> t...; tgt_out (N, T) = t... </s>.

    S is the longest source, T the longest target + 1."""
    S = max(len(s) for s, _ in pairs)
    T = max(len(t) for _, t in pairs) + 1
    src = np.full((len(pairs), S), PAD, dtype=np.int64)
    tgt_in = np.full((len(pairs), T), PAD, dtype=np.int64)
    tgt_out = np.full((len(pairs), T), PAD, dtype=np.int64)
    for k, (s, t) in enumerate(pairs):
        src[k, S - len(s):] = encode(s)
        tgt_in[k, : len(t) + 1] = [SOS, *encode(t)]
        tgt_out[k, : len(t) + 1] = [*encode(t), EOS]
    return src, tgt_in, tgt_out


# --- the model -------------------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    """Embedding -> encoder LSTM -> (h, c) -> decoder LSTM -> Linear over the vocabulary.

    Inputs: src (B, S) and tgt_in (B, T) token ids. Output: logits (B, T, V)."""

    def __init__(self, vocab: int = len(TOKENS), embed: int = EMBED, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.encoder = nn.LSTM(embed, hidden, batch_first=True)
        self.decoder = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        _, state = self.encoder(self.embed(src))
        return state

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: the decoder reads the true previous tokens, all steps in one call."""
        out, _ = self.decoder(self.embed(tgt_in), self.encode(src))
        return self.out(out)

    @minigrad.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int) -> Tensor:
        """Feed back the most likely token at every step. Returns ids (B, max_len); after the first
        ``</s>`` of a row its remaining entries are meaningless (use :func:`decode`)."""
        state = self.encode(src)
        tok = minigrad.full((src.shape[0], 1), SOS, dtype=minigrad.int64, device=src.device)
        outs = []
        for _ in range(max_len):
            out, state = self.decoder(self.embed(tok), state)
            tok = self.out(out).argmax(-1)          # (B, 1)
            outs.append(tok)
        return minigrad.cat(outs, dim=1)


def exact_match(pred: np.ndarray, tgt_out: np.ndarray) -> np.ndarray:
    """(N,) bool: the prediction equals the target up to and including ``</s>``."""
    mask = tgt_out != PAD
    return np.all((pred[:, : tgt_out.shape[1]] == tgt_out) | ~mask, axis=1)


# --- training through the harness ------------------------------------------------------------------
class Seq2SeqExperiment(Experiment):
    """LSTM encoder-decoder on a synthetic task that needs memory (reverse a digit string, or add)."""

    name = "seq2seq"
    defaults = dict(epochs=8, batch_size=64, lr=3e-3, dataset="synthetic", grad_clip=1.0)
    quick = {"epochs": 2, "max_batches": 6, "n_train": 512, "n_test": 128}
    dataset_choices = ("synthetic",)
    curve_labels = {"loss": "cross-entropy per token (teacher forcing)"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--task", default="reverse", choices=("reverse", "add"))
        parser.add_argument("--hidden", type=int, default=HIDDEN)
        parser.add_argument("--n-train", type=int, default=N_TRAIN)
        parser.add_argument("--n-test", type=int, default=N_TEST)

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        train, test = make_pairs(args.task, args.n_train, args.n_test)
        return TensorDataset(*to_arrays(train)), TensorDataset(*to_arrays(test))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return Seq2Seq(hidden=args.hidden)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any:
        # cosine decay to 5%: the last, slow epochs polish the exact-sequence accuracy
        return CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr / 20)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        src, tgt_in, tgt_out = batch
        logits = model(src, tgt_in)                                   # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD)
        mask = tgt_out.array != PAD
        tok_acc = float(((logits.array.argmax(-1) == tgt_out.array) & mask).sum() / mask.sum())
        logs = {"tok_acc": tok_acc}
        if not model.training:  # evaluation: the real test, greedy decoding without the true tokens
            pred = model.greedy_decode(src, tgt_out.shape[1]).numpy()
            logs["seq_acc"] = float(exact_match(pred, tgt_out.numpy()).mean())
        return loss, logs

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        src, _, tgt_out = (t.array for t in self.test_set.tensors)
        pred = model.greedy_decode(minigrad.tensor(src, device=self.device), tgt_out.shape[1]).numpy()
        ok = exact_match(pred, tgt_out)
        src_len = (src != PAD).sum(1)
        rows = [(decode(s), decode(t), decode(p), bool(c))
                for s, t, p, c in zip(src[:400], tgt_out[:400], pred[:400], ok[:400])]
        return [predictions_figure(src_len, ok, rows, out / "predictions.png", args.task)]


def predictions_figure(src_len: np.ndarray, ok: np.ndarray, rows: list, path: Path, task: str,
                       n_examples: int = 14, seed: int = 0) -> Path:
    """Left: exact accuracy per source length; right: examples (source, target, greedy answer).

    The examples are half drawn at random from ``rows`` (a fair sample) and half drawn from its mistakes
    (to study them), under headings that say which is which."""
    fig = Figure(figsize=(10.5, 4.4))
    ax = fig.add_subplot(1, 2, 1)
    lengths = np.unique(src_len)
    acc = [ok[src_len == n].mean() for n in lengths]
    bars = ax.bar(lengths, acc, color=plots.BLUE, zorder=2)
    ax.set_ylim(0, 1.0)
    plots.label_bars(ax, bars, acc, "{:.1%}", [f"n={int((src_len == n).sum())}" for n in lengths], fontsize=7)
    ax.set_xticks(lengths)
    ax.set_xlabel("source length (" + ("characters" if task == "reverse" else "characters, 'a+b'") + ")")
    ax.set_ylabel("exact-sequence accuracy (greedy)")
    ax.set_title(f"{len(ok):,} held-out strings: {ok.mean():.2%} exactly right", fontsize=10)
    ax.grid(alpha=0.3, axis="y", zorder=0)

    rng = np.random.default_rng(seed)
    k = n_examples // 2
    fair = [rows[i] for i in np.sort(rng.choice(len(rows), size=min(k, len(rows)), replace=False))]
    wrong_all = [r for r in rows if not r[3]]
    wrong = [wrong_all[i] for i in np.sort(rng.choice(len(wrong_all), size=min(k, len(wrong_all)),
                                                      replace=False))]
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.axis("off")
    ax2.set_title(f"greedy decoding ({task}); wrong answers in red", fontsize=10)
    y = 1.0
    blocks = [(fair, f"{len(fair)} drawn at random (a fair sample): {sum(not r[3] for r in fair)} wrong")]
    if wrong:
        heading = f"{plots.some_of(len(wrong), len(wrong_all), 'mistake')} in the first {len(rows)} strings"
        blocks.append((wrong, heading))
    for shown, heading in blocks:
        ax2.text(0.0, y, heading, fontsize=8.5, fontstyle="italic", va="top", transform=ax2.transAxes)
        y -= 0.06
        ax2.text(0.0, y, f"{'source':<13}{'target':<12}{'model':<12}", family="monospace", fontsize=9,
                 fontweight="bold", va="top", transform=ax2.transAxes)
        for s, t, p, c in shown:
            y -= 0.055
            ax2.text(0.0, y, f"{s:<13}{t:<12}{p:<12}", family="monospace", fontsize=9, va="top",
                     color="black" if c else plots.RED, transform=ax2.transAxes)
        y -= 0.08
    fig.tight_layout()
    return plots._save(fig, path)


TARGET = ("test_seq_acc", ">=", 0.95)


def main(argv: list[str] | None = None) -> dict:
    return run(Seq2SeqExperiment(), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
