"""A character-level language model: Embedding -> LSTM -> Linear, predicting the next character.

    python -m models.char_lstm                         # text of Python's standard library (offline)
    python -m models.char_lstm --dataset shakespeare   # downloads Tiny Shakespeare (1.1M characters)
    python -m models.char_lstm --quick                 # a smoke test (seconds)

Training reads random windows of ``--seq-len`` characters; at every position the target is the next
character, so one window gives ``seq_len`` predictions (back-propagation through time over the window,
each window starting from a zero state). The score is the cross-entropy in *bits per character* (bpc)
on (the first 100,000 characters of) the last 10% of the text, which the model never trains on
(bpc = loss in nats / ln 2). The baseline is a unigram model that
ignores the context and predicts every character with its frequency in the training text: its bpc is
the entropy of those frequencies, sum_c -p_c log2 p_c. Whatever the LSTM gains below it, it learned
from the context.

After every epoch a sample is generated from a seed string and appended to ``samples.txt``. Sampling
draws each character from softmax(logits / temperature): temperature 1 is the model's own
distribution, lower is more conservative (towards the argmax), higher more random.
``samples_final.txt`` has samples at three temperatures; ``bpc.png`` the bits per character per epoch
against the unigram baseline.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import minigrad
import minigrad.nn.functional as F
from minigrad import Tensor, nn
from minigrad.optim.lr_scheduler import CosineAnnealingLR
from minigrad.utils.data import Dataset
from minigrad.utils.datasets import CharCorpus, TinyShakespeare, load_char_corpus

from . import plots
from .harness import Experiment, read_metrics, run

# --- hyperparameters -------------------------------------------------------------------------------
EMBED = 32              # character embedding size
HIDDEN = 256            # LSTM state size
SEQ_LEN = 64            # characters per training window (the length of back-propagation through time)
WINDOWS_PER_EPOCH = 64 * 50   # random training windows per epoch
EVAL_CHARS = 100_000    # held-out characters scored after each epoch (the first ones of the split)


TRAIN_FRACTION = 0.9
SAMPLE_LEN = 400        # characters generated after each epoch
TEMPERATURE = 0.7
PROMPTS = {"char_corpus": "def ", "shakespeare": "ROMEO:\n"}


# --- the data --------------------------------------------------------------------------------------
def load_text(dataset: str) -> CharCorpus:
    if dataset == "shakespeare":
        return TinyShakespeare()
    return load_char_corpus()


def unigram_bpc(train: np.ndarray, test: np.ndarray, vocab: int) -> float:
    """Bits per character on ``test`` of the best context-free model of ``train`` (its character
    frequencies, add-one smoothed so unseen characters have a finite cost). On the training text itself
    this is the entropy -sum_c p_c log2 p_c."""
    p = (np.bincount(train, minlength=vocab) + 1.0) / (len(train) + vocab)
    return float(-np.log2(p[test]).mean())


class RandomWindows(Dataset):
    """``n`` windows per epoch at random offsets of ``data``: (input ids (L,), next-character ids (L,)).

    The offsets come from NumPy's global generator, which the harness re-seeds before every epoch, so
    an epoch's windows are a function of (seed, epoch)."""

    def __init__(self, data: np.ndarray, seq_len: int, n: int) -> None:
        if len(data) <= seq_len + 1:
            raise ValueError(f"RandomWindows: text of {len(data)} characters is too short for "
                             f"seq_len {seq_len}")
        self.data, self.seq_len, self.n = data, seq_len, n

    def __len__(self) -> int:
        return self.n

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        starts = np.random.randint(0, len(self.data) - self.seq_len - 1, size=len(indices))
        w = self.data[starts[:, None] + np.arange(self.seq_len + 1)]
        return Tensor._make(w[:, :-1]), Tensor._make(w[:, 1:])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, y = self._get_batch(np.asarray([index]))
        return x[0], y[0]


class ConsecutiveWindows(Dataset):
    """The text cut into consecutive windows of ``seq_len`` (for evaluation: every character once)."""

    def __init__(self, data: np.ndarray, seq_len: int) -> None:
        n = (len(data) - 1) // seq_len
        self.x = data[: n * seq_len].reshape(n, seq_len)
        self.y = data[1: n * seq_len + 1].reshape(n, seq_len)

    def __len__(self) -> int:
        return len(self.x)

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, Tensor]:
        return Tensor._make(self.x[indices]), Tensor._make(self.y[indices])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return Tensor._make(self.x[index]), Tensor._make(self.y[index])


# --- the model -------------------------------------------------------------------------------------
class CharLSTM(nn.Module):
    """ids (B, L) -> logits (B, L, V) of the next character, and the final LSTM state (h, c)."""

    def __init__(self, vocab: int, embed: int = EMBED, hidden: int = HIDDEN, num_layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Any]:
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


@minigrad.no_grad()
def sample(model: CharLSTM, corpus: CharCorpus, prompt: str, length: int, temperature: float = 1.0,
           rng: np.random.Generator | None = None) -> str:
    """Generate ``length`` characters after ``prompt``.

    Each character is drawn from softmax(logits / temperature) (``temperature`` 0: always the argmax),
    then fed back with the carried LSTM state. Returns the generated text (without the prompt)."""
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    rng = rng if rng is not None else np.random.default_rng()
    was_training = model.training
    model.eval()
    device = next(iter(model.parameters())).device
    ids = corpus.encode(prompt) if prompt else np.zeros(1, dtype=np.int64)
    logits, state = model(minigrad.tensor(ids[None], device=device))
    out = []
    for _ in range(length):
        z = logits.numpy()[0, -1].astype(np.float64)
        if temperature == 0:
            nxt = int(z.argmax())
        else:
            z = z / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        logits, state = model(minigrad.tensor(np.asarray([[nxt]]), device=device), state)
    model.train(was_training)
    return corpus.decode(out)


# --- training through the harness ------------------------------------------------------------------
class CharLSTMExperiment(Experiment):
    """Character-level LSTM language model; reports held-out bits per character against a unigram model."""

    name = "char_lstm"
    defaults = dict(epochs=10, batch_size=64, lr=5e-3, dataset="char_corpus", grad_clip=1.0)
    quick = {"epochs": 2, "max_batches": 5, "hidden": 64, "seq_len": 32, "sample_len": 80}
    dataset_choices = ("char_corpus", "shakespeare", "tiny_shakespeare")
    curve_labels = {"loss": "cross-entropy (nats per character)"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hidden", type=int, default=HIDDEN)
        parser.add_argument("--layers", type=int, default=1)
        parser.add_argument("--seq-len", type=int, default=SEQ_LEN)
        parser.add_argument("--windows", type=int, default=WINDOWS_PER_EPOCH,
                            help="training windows per epoch")
        parser.add_argument("--temperature", type=float, default=TEMPERATURE)
        parser.add_argument("--sample-len", type=int, default=SAMPLE_LEN)
        parser.add_argument("--prompt", default=None, help="seed string for the samples")

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        if args.dataset == "tiny_shakespeare":
            args.dataset = "shakespeare"
        self.corpus = load_text(args.dataset)
        train, test = self.corpus.split(TRAIN_FRACTION)
        test = test[: EVAL_CHARS + 1]
        self.unigram = unigram_bpc(train, test, self.corpus.vocab_size)
        print(f"char_lstm: {self.corpus!r}; unigram baseline {self.unigram:.3f} bits/char on the held-out "
              "text")
        self.prompt = args.prompt if args.prompt is not None else PROMPTS[args.dataset]
        self.samples = args.out / "samples.txt"
        if not args.resume and self.samples.exists():
            self.samples.unlink()
        return RandomWindows(train, args.seq_len, args.windows), ConsecutiveWindows(test, args.seq_len)

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return CharLSTM(self.corpus.vocab_size, hidden=args.hidden, num_layers=args.layers)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any:
        return CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=args.lr / 20)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, y = batch
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))  # nats per character
        return loss, {"bpc": loss.item() / math.log(2)}

    def evaluate(self, model: nn.Module, loader: Any, args: argparse.Namespace) -> dict:
        """The harness's evaluation, then a sample appended to samples.txt (once per epoch)."""
        metrics = super().evaluate(model, loader, args)
        old = self.samples.read_text() if self.samples.exists() else ""
        epoch = old.count("=== epoch ") + 1
        text = sample(model, self.corpus, self.prompt, args.sample_len, args.temperature,
                      np.random.default_rng(epoch))
        with open(self.samples, "a") as f:
            f.write(f"=== epoch {epoch}: held-out {metrics['bpc']:.3f} bits/char "
                    f"(unigram {self.unigram:.3f}), temperature {args.temperature} ===\n"
                    f"{self.prompt}{text}\n\n")
        return metrics

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        self.rows = read_metrics(out / "metrics.csv")
        bpc = self.rows[-1]["test_bpc"]
        return {"unigram_bpc": self.unigram, "bpc_vs_unigram": bpc / self.unigram}

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        """bpc.png (held-out bits per character per epoch against the unigram baseline) and final
        samples at three temperatures (samples_final.txt), next to the per-epoch ones."""
        path = out / "samples_final.txt"
        parts = []
        for t in (0.4, 0.7, 1.0):
            text = sample(model, self.corpus, self.prompt, args.sample_len, t, np.random.default_rng(0))
            parts.append(f"=== temperature {t} ===\n{self.prompt}{text}\n")
        path.write_text("\n".join(parts))
        return [self.samples, path, bpc_figure(self.rows, self.unigram, out / "bpc.png", args.dataset)]


def bpc_figure(rows: list[dict], unigram: float, path: Path, dataset: str) -> Path:
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["train_bpc"] for r in rows], marker="o", markersize=3, color=plots.BLUE,
            label="LSTM, training windows")
    ax.plot(epochs, [r["test_bpc"] for r in rows], marker="o", markersize=3, color=plots.ORANGE,
            label="LSTM, held-out text")
    ax.axhline(unigram, color=plots.RED, ls="--", label=f"unigram baseline ({unigram:.2f})")
    ax.set_ylim(0, None)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("bits per character")
    ax.set_title(f"{dataset}: final {rows[-1]['test_bpc']:.3f} bits/char held out", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return plots._save(fig, path)


# "beat the unigram model by a wide margin": at most 60% of its bits per character
TARGET = [("bpc_vs_unigram", "<=", 0.6)]


def main(argv: list[str] | None = None) -> dict:
    return run(CharLSTMExperiment(), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
