"""The training harness shared by every model in the zoo, so each model file stays short.

A model file subclasses ``Experiment``, fills in a few hooks and calls ``run``::

    class MLP(Experiment):
        name = "mlp"
        defaults = dict(epochs=30, batch_size=64, lr=1e-3, dataset="digits")
        dataset_choices = ("digits", "mnist_sample", "mnist")

        def add_arguments(self, parser):          # optional: model-specific flags
            parser.add_argument("--hidden", type=int, default=128)

        def load_data(self, args):                # -> (train_set, test_set), minigrad Datasets
            ...

        def build_model(self, args):              # -> nn.Module (self.train_set is available here)
            ...

        def step(self, model, batch, args):       # -> (loss Tensor, {"acc": float, ...})
            x, y = batch
            logits = model(x)
            return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}

        def pictures(self, model, args, out):     # optional: task pictures, returns the paths written
            ...

    TARGET = ("test_acc", ">=", 0.97)             # checked by ``python -m models.run_all --check-targets``

    def main(argv=None):
        return run(MLP(), argv)

More hooks, with sensible defaults: ``build_optimizer`` (Adam with ``--lr``), ``build_scheduler``
(none; stepped once per epoch by ``scheduler_step``), ``train_loader``/``test_loader``,
``evaluate`` (the mean of ``step`` over the test set), ``finish`` (a second phase after training,
returning extra final metrics). Every model gets the same flags: ``--epochs --batch-size --lr
--dataset --device --seed --grad-clip --out --resume --quick --max-batches --no-pictures``.

``run`` parses the command line, seeds everything, trains with a tqdm bar per epoch, evaluates
on the test set after every epoch, and writes ``runs/<name>/``:

    metrics.csv    one row per epoch: epoch, train_loss, train_<metric>..., test_loss, test_<metric>..., lr
    curves.png     the loss and metric curves
    last.ckpt      everything needed to resume (model, optimizer, scheduler, epoch, RNG states, metrics)
    final.ckpt     the trained model (and its metrics) at the end
    summary.json   the arguments, the final metrics, wall time and the files written
    *.png          the model's own pictures

Reproducibility. Before every epoch the random generators (minigrad's, NumPy's, Python's) are
re-seeded from ``(seed, epoch)``. The data-loader shuffling, dropout and augmentation of epoch ``e``
are therefore a function of the seed and ``e`` only, which makes ``--resume`` exact: a run that
stops after epoch 3 and is resumed produces the same metrics.csv as one that never stopped. (The
generator states are saved in the checkpoint too, and restored, for code that draws outside epochs.)
``--resume --epochs N`` with a larger N extends a finished run; a scheduler whose shape depends on
the number of epochs (cosine annealing) keeps the shape it was created with, as in PyTorch.

Devices. ``--device cuda`` moves the model (``model.to``) and every batch (``to_device``) to the
GPU, where minigrad computes with CuPy; metrics and pictures come back to the CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import Tensor, nn, optim
from minigrad.serialization import load, save
from minigrad.utils.datasets import DatasetOfflineError

from . import plots

# --- small helpers the models use too ---------------------------------------------------------


def accuracy(logits: Tensor, targets: Tensor) -> float:
    """Fraction of rows of ``logits`` (N, C) whose argmax equals ``targets`` (N,)."""
    pred = logits.array.argmax(axis=-1)
    return float((pred == targets.array).mean())


def to_device(obj: Any, device: Any) -> Any:
    """Move a Tensor, or the Tensors inside a tuple/list/dict (a batch), to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def batch_size_of(batch: Any) -> int:
    """Number of samples in a batch: the first dimension of its first Tensor."""
    while isinstance(batch, (tuple, list)):
        batch = batch[0]
    if isinstance(batch, dict):
        return batch_size_of(next(iter(batch.values())))
    return int(batch.shape[0])


def seed_everything(seed: int) -> None:
    """Seed minigrad (NumPy/CuPy generators), NumPy's legacy global generator and Python's ``random``."""
    minigrad.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 32-bit seed for epoch ``epoch`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


@minigrad.no_grad()
def predict(model: nn.Module, loader: Iterable, device: Any = "cpu",
            max_batches: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` in eval mode over (the first ``max_batches`` of) a loader of ``(x, y)`` batches.

    Returns ``(outputs, targets)``: the model's outputs and the ``y`` of every batch, concatenated
    as NumPy arrays (on the CPU, ready for plotting)."""
    was_training = model.training
    model.eval()
    outs, ys = [], []
    for x, y in islice(loader, max_batches):
        outs.append(model(x.to(device)).numpy())
        ys.append(y.numpy())
    model.train(was_training)
    return np.concatenate(outs), np.concatenate(ys)


class Averager:
    """Running means of named values, weighted by batch size: ``update({"loss": 0.3}, n=64)``."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def update(self, values: dict[str, float], n: int) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def means(self) -> dict[str, float]:
        return {k: s / max(self.count, 1) for k, s in self.sums.items()}


# --- the experiment: what a model file fills in -----------------------------------------------


class Experiment:
    """Base class of a model of the zoo; override the hooks (see the module docstring).

    Class attributes:
        name: the model's name; the default output folder is ``runs/<name>``.
        defaults: default values of the common flags (epochs, batch_size, lr, dataset, seed, grad_clip).
        quick: overrides applied by ``--quick`` (a budget of seconds, for the smoke test). ``max_batches``
            limits the batches per epoch (training and evaluation).
        dataset_choices: the values ``--dataset`` accepts (``None``: any string).
        curve_labels: display names for curves.png: metric -> axis label (``{"loss": "cross-entropy"}``),
            model prefix -> legend name (``{"rnn": "RNN"}``); see ``plots.plot_curves``.
        curve_colors: model prefix -> colour in curves.png (match the model's own pictures).

    While running, the harness sets ``self.args``, ``self.device``, ``self.out`` (the output folder),
    ``self.train_set`` and ``self.test_set`` so that every hook can use them.
    """

    name: str = "experiment"
    defaults: dict[str, Any] = {}
    quick: dict[str, Any] = {"epochs": 2, "max_batches": 8}
    dataset_choices: Sequence[str] | None = None
    curve_labels: dict[str, str] = {}
    curve_colors: dict[str, str] = {}

    # --- hooks ----------------------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add model-specific flags to ``parser``."""

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        """Return ``(train_set, test_set)``: minigrad ``Dataset`` objects."""
        raise NotImplementedError

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        raise NotImplementedError

    def build_optimizer(self, model: nn.Module, args: argparse.Namespace) -> Any:
        """Default: Adam with ``--lr``."""
        return optim.Adam(model.parameters(), lr=args.lr)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any | None:
        """Default: no learning-rate schedule. A scheduler returned here is stepped once per epoch."""
        return None

    def train_loader(self, args: argparse.Namespace) -> Any:
        """The training DataLoader (shuffled; its order is fixed by the per-epoch seed)."""
        from minigrad.utils.data import DataLoader

        return DataLoader(self.train_set, batch_size=args.batch_size, shuffle=True)

    def test_loader(self, args: argparse.Namespace) -> Any:
        from minigrad.utils.data import DataLoader

        return DataLoader(self.test_set, batch_size=args.batch_size, shuffle=False)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        """One batch: return the loss (a scalar Tensor) and a dict of extra metrics (floats, batch means).

        Used for training (then ``loss.backward()`` follows) and, under ``no_grad`` and ``model.eval()``,
        for evaluation."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Iterable, args: argparse.Namespace) -> dict:
        """Mean loss and metrics of ``step`` over ``loader`` (called in eval mode under ``no_grad``)."""
        return evaluate_loader(lambda m, b: self.step(m, b, args), model, loader, self.device)

    def scheduler_step(self, scheduler: Any, row: dict) -> None:
        """Step the scheduler at the end of an epoch (override for ReduceLROnPlateau: use ``row``)."""
        scheduler.step()

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        """Draw the task's pictures into ``out``; return the paths written."""
        return []

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        """Anything to do after training (a second phase, an analysis); returns extra final metrics."""
        return {}


# --- command line ------------------------------------------------------------------------------


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, except the ones that mean "not set" (None, False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return (action.help or "") + " (default: %(default)s)"


def make_parser(exp: Experiment) -> argparse.ArgumentParser:
    common = {"epochs": 10, "batch_size": 64, "lr": 1e-3, "dataset": None, "seed": 0, "grad_clip": None}
    d = {**common, **exp.defaults}
    p = argparse.ArgumentParser(prog=f"python -m models.{exp.name}", description=(exp.__doc__ or "").strip(),
                                formatter_class=_DefaultsHelp)
    p.add_argument("--epochs", type=int, default=d["epochs"], help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="samples per optimizer step")
    p.add_argument("--lr", type=float, default=d["lr"], help="learning rate")
    p.add_argument("--dataset", default=d["dataset"], choices=exp.dataset_choices, help="training data")
    p.add_argument("--device", default="cpu", help="cpu or cuda (CuPy)")
    p.add_argument("--seed", type=int, default=d["seed"], help="seeds the weights, data order and dropout")
    p.add_argument("--grad-clip", type=float, default=d["grad_clip"], help="clip the gradient norm to this")
    p.add_argument("--out", default=f"runs/{exp.name}", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.ckpt")
    p.add_argument("--quick", action="store_true", help="a tiny budget (seconds): a smoke test")
    p.add_argument("--max-batches", type=int, default=None, help="at most this many batches per epoch")
    p.add_argument("--no-pictures", action="store_true", help="skip the task pictures")
    exp.add_arguments(p)
    # model-specific defaults (for its own flags, or settings that are not flags at all)
    p.set_defaults(**{k: v for k, v in exp.defaults.items() if k not in common})
    for action in p._actions:  # argparse prints no default for an option without help text
        if not action.help:
            action.help = action.dest.replace("_", " ")
    return p


def parse_args(exp: Experiment, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = make_parser(exp)
    args = parser.parse_args(argv)
    if args.quick:
        # --quick changes only what the user did not set explicitly on the command line
        given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]) if a.startswith("--")}
        for k, v in exp.quick.items():
            if "--" + k.replace("_", "-") not in given:
                setattr(args, k, v)
    args.out = Path(args.out)
    return args


# --- checkpoints and metrics files -------------------------------------------------------------


def rng_states() -> dict:
    """The state of every random generator we seed (saved in checkpoints)."""
    return {"minigrad": minigrad.get_rng_state(), "numpy": np.random.get_state(legacy=False),
            "python": random.getstate()}


def set_rng_states(state: dict) -> None:
    minigrad.set_rng_state(state["minigrad"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def write_metrics(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: format(v, ".6g") if isinstance(v, float) else v for k, v in r.items()})


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a metrics.csv, with numbers as floats (the epoch as int)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "epoch" else float(v) if v != "" else math.nan) for k, v in r.items()}
            for r in rows]


def _fmt(k: str, v: Any) -> str:
    if isinstance(v, float):
        return f"{k} {v:.2%}" if k.endswith("acc") else f"{k} {v:.4g}"
    return f"{k} {v}"


def current_lr(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --- the training loop -------------------------------------------------------------------------


StepFn = Callable[[nn.Module, Any], tuple[Tensor, dict]]


def train_one_epoch(step: StepFn, model: nn.Module, optimizer: Any, loader: Iterable,
                    device: Any = "cpu", desc: str = "", max_batches: int | None = None,
                    grad_clip: float | None = None) -> dict:
    """One pass over ``loader``: forward, backward, (clip the gradient norm), optimizer update.

    ``step(model, batch) -> (loss, metrics)`` does the forward pass. Shows a tqdm bar with the running
    means; returns the epoch's mean loss and metrics."""
    from tqdm.auto import tqdm

    model.train()
    n_batches = len(loader) if max_batches is None else min(len(loader), max_batches)
    avg = Averager()
    bar = tqdm(islice(loader, n_batches), total=n_batches, desc=desc, leave=False, dynamic_ncols=True,
               mininterval=0.3, disable=None)
    for batch in bar:
        batch = to_device(batch, device)
        optimizer.zero_grad()
        loss, logs = step(model, batch)
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        avg.update({"loss": loss.item(), **logs}, batch_size_of(batch))
        bar.set_postfix({k: f"{v:.4f}" for k, v in avg.means().items()}, refresh=False)
    bar.close()
    return avg.means()


@minigrad.no_grad()
def evaluate_loader(step: StepFn, model: nn.Module, loader: Iterable, device: Any = "cpu",
                    max_batches: int | None = None) -> dict:
    """Mean loss and metrics of ``step`` over (the first ``max_batches`` of) ``loader``, in eval mode."""
    was_training = model.training
    model.eval()
    avg = Averager()
    for batch in islice(loader, max_batches):
        batch = to_device(batch, device)
        loss, logs = step(model, batch)
        avg.update({"loss": loss.item(), **logs}, batch_size_of(batch))
    model.train(was_training)
    return avg.means()


def run(exp: Experiment, argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv``, train ``exp`` and write its outputs; returns the final metrics (a dict).

    BLAS threads are minigrad's business (``minigrad._blas``: one thread for small GEMMs, the free cores
    for large ones), so no model sets them.
    """
    args = parse_args(exp, argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    dev = minigrad.device(args.device)
    if dev.type == "cuda" and not minigrad.cuda.is_available():
        raise SystemExit(f"{exp.name}: --device {args.device}: CuPy with a GPU is not available")
    exp.args, exp.device, exp.out = args, dev, out
    started = time.perf_counter()

    # 1. data, model, optimizer: the initial weights depend on the seed only
    seed_everything(args.seed)
    try:
        exp.train_set, exp.test_set = exp.load_data(args)
    except DatasetOfflineError as e:  # no network for a downloaded dataset: say so in one line
        raise SystemExit(f"{exp.name}: {e}") from None
    model = exp.build_model(args).to(dev)
    optimizer = exp.build_optimizer(model, args)
    scheduler = exp.build_scheduler(optimizer, args)
    rows: list[dict] = []
    start_epoch = 1

    # 2. resume: load everything that changes during training
    ckpt_path = out / "last.ckpt"
    if args.resume:
        if not ckpt_path.exists():
            print(f"{exp.name}: --resume: {ckpt_path} does not exist, starting from scratch")
        else:
            ckpt = load(ckpt_path)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(ckpt["scheduler"])
            set_rng_states(ckpt["rng"])
            rows = list(ckpt["metrics"])
            start_epoch = int(ckpt["epoch"]) + 1
            print(f"{exp.name}: resumed from {ckpt_path} after epoch {start_epoch - 1}")

    print(f"{exp.name}: {model.num_parameters():,} parameters, {len(exp.train_set)} training / "
          f"{len(exp.test_set)} test samples, device {dev}, out {out}")
    train_loader, test_loader = exp.train_loader(args), exp.test_loader(args)

    # 3. the epochs (Ctrl-C: one line saying how to resume, instead of a traceback)
    try:
        _train_epochs(exp, args, model, optimizer, scheduler, train_loader, test_loader, rows, start_epoch,
                      ckpt_path)
    except KeyboardInterrupt:
        _interrupted(exp, args, rows, ckpt_path, sys.argv[1:] if argv is None else list(argv))

    # 4. final checkpoint, pictures, summary
    if not rows:
        raise SystemExit(f"{exp.name}: nothing to do (--epochs {args.epochs}, checkpoint at epoch "
                         f"{start_epoch - 1})")
    model.eval()
    final = dict(rows[-1])
    extra = exp.finish(model, args, out) or {}
    final.update(extra)
    save({"model": model.state_dict(), "epoch": rows[-1]["epoch"], "metrics": rows, "final": _plain(final),
          "args": _plain(vars(args))}, out / "final.ckpt")
    files = [out / "metrics.csv", out / "final.ckpt", out / "last.ckpt"]
    title = f"{exp.name} ({args.dataset or ''})"
    if args.max_batches:
        title += f": at most {args.max_batches} batches per epoch, training and test"
    files.append(plots.plot_curves(rows, out / "curves.png", title=title, labels=exp.curve_labels,
                                   colors=exp.curve_colors))
    if not args.no_pictures:
        with minigrad.no_grad():
            files += [Path(p) for p in exp.pictures(model, args, out) or []]
    final["seconds"] = round(time.perf_counter() - started, 2)
    summary = {"name": exp.name, "args": _plain(vars(args)), "final": final,
               "files": [str(Path(f).relative_to(out)) for f in files]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{exp.name}: done in {final['seconds']:.1f}s: "
          + "  ".join(_fmt(k, v) for k, v in final.items() if k.startswith("test_") or k in extra)
          + f"  -> {out}")
    return final


def _train_epochs(exp: Experiment, args: argparse.Namespace, model: Any, optimizer: Any, scheduler: Any,
                  train_loader: Any, test_loader: Any, rows: list[dict], start_epoch: int,
                  ckpt_path: Path) -> None:
    """Train from ``start_epoch`` to ``args.epochs``; per epoch a row in ``rows``, metrics.csv, last.ckpt."""
    out = exp.out
    for epoch in range(start_epoch, args.epochs + 1):
        t0 = time.perf_counter()
        seed_everything(epoch_seed(args.seed, epoch))  # shuffling, dropout, augmentation of this epoch
        lr = current_lr(optimizer)
        desc = f"epoch {epoch}/{args.epochs}"
        train = train_one_epoch(lambda m, b: exp.step(m, b, args), model, optimizer, train_loader, exp.device,
                                desc, args.max_batches, args.grad_clip)
        model.eval()
        with minigrad.no_grad():
            n_test = None if args.max_batches is None else args.max_batches
            test = exp.evaluate(model, islice(test_loader, n_test), args)
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()},
               **{f"test_{k}": v for k, v in test.items()}, "lr": lr}
        rows.append(row)
        if scheduler is not None:
            exp.scheduler_step(scheduler, row)
        print(f"epoch {epoch:3d}/{args.epochs}  "
              + "  ".join(_fmt(k, v) for k, v in row.items() if k not in ("epoch", "lr"))
              + f"  lr {lr:.3g}  ({time.perf_counter() - t0:.1f}s)", flush=True)
        write_metrics(rows, out / "metrics.csv")
        save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
              "scheduler": scheduler.state_dict() if scheduler is not None else None,
              "epoch": epoch, "rng": rng_states(), "metrics": rows, "args": _plain(vars(args))}, ckpt_path)


def _interrupted(exp: Experiment, args: argparse.Namespace, rows: list[dict], ckpt_path: Path,
                 argv: list[str]) -> None:
    """Ctrl-C: say where the last checkpoint is and the exact command that continues from it."""
    argv = [a for a in argv if a != "--resume"]
    command = shlex.join(["python", "-m", f"models.{exp.name}", *argv, "--resume"])
    if rows:
        where = f"{ckpt_path} holds epoch {rows[-1]['epoch']}/{args.epochs}"
    else:
        where = "no epoch finished, so there is no checkpoint yet"
    print(f"\n{exp.name}: interrupted; {where}. Continue with: {command}", flush=True)
    raise SystemExit(130)


# --- plumbing for the checkpoint ---------------------------------------------------------------


def _plain(d: dict) -> dict:
    """JSON-friendly copy of a dict (Paths and other objects become strings)."""
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in d.items()}
