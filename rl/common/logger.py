"""Run logging: a progress bar, ``metrics.csv``, TensorBoard events, ``curves.png`` and ``summary.json``.

    log = RunLogger(run_dir, config=vars(args), total_steps=args.total_timesteps)
    log.episode(step, ret, length)                  # every finished training episode
    log.scalars(step, **{"losses/td_loss": 0.3})    # anything else, tagged as in CleanRL
    log.progress(step)                              # moves the bar: steps/s and the recent return
    log.close(final={"eval_return_mean": ..., ...}) # writes summary.json and curves.png

Files in ``run_dir``:
    metrics.csv     one row per logged event: step, then the logged keys (blank where a row lacks one);
                    training episodes are rows with charts/episodic_return and charts/episodic_length
    events.out.*    TensorBoard events (tensorboardX), so ``tensorboard --logdir runs`` shows every run
    curves.png      the training return (each episode and a moving average), evaluations with their
                    spread, and up to three other logged curves (losses/* first)
    summary.json    the configuration, ``final`` (the numbers the run is judged by) and the files
TensorBoard is optional: without tensorboardX (or with ``tensorboard=False``) the rest still works.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

EPISODE_RETURN = "charts/episodic_return"
EPISODE_LENGTH = "charts/episodic_length"
EVAL_MEAN = "eval/return_mean"
EVAL_STD = "eval/return_std"


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_plain) + "\n")
    os.replace(tmp, path)


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """metrics.csv as a list of rows, numbers as floats, blanks left out."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def column(rows: list[dict[str, float]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the rows that have ``key``."""
    pairs = [(r["step"], r[key]) for r in rows if key in r]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    s, v = zip(*pairs)
    return np.array(s), np.array(v)


class RunLogger:
    """Everything a run writes while it trains (see the module docstring)."""

    def __init__(self, run_dir: str | Path, config: dict, total_steps: int, *, tensorboard: bool = True,
                 progress: bool = True, resume_step: int | None = None, flush_every: float = 10.0) -> None:
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        self.total_steps = total_steps
        self.rows: list[dict[str, float]] = []
        self.recent = deque(maxlen=20)
        if resume_step is not None and (self.dir / "metrics.csv").exists():
            self.rows = [r for r in read_metrics(self.dir / "metrics.csv") if r["step"] <= resume_step]
            self.recent.extend(r[EPISODE_RETURN] for r in self.rows if EPISODE_RETURN in r)
        self.start = time.time()
        self.start_step = resume_step or 0
        self.flush_every, self._last_flush = flush_every, self.start
        self.writer = None
        if tensorboard:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                pass
            else:
                self.writer = SummaryWriter(str(self.dir), purge_step=resume_step)
                table = "\n".join(f"|{k}|{v}|" for k, v in self.config.items())
                self.writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
        self.bar = None
        if progress:
            from tqdm import tqdm
            self.bar = tqdm(total=total_steps, initial=self.start_step, unit="step", dynamic_ncols=True,
                            desc=str(config.get("run_name", self.dir.name)))
        self._bar_step = self.start_step
        self._last_bar = 0.0

    # ---- recording -------------------------------------------------------------------------
    def scalars(self, step: int, **values: float) -> None:
        """One row of named numbers at env step ``step`` (keys like "losses/td_loss")."""
        row = {"step": float(step)}
        for k, v in values.items():
            row[k] = float(v)
            if self.writer is not None:
                self.writer.add_scalar(k, float(v), step)
        self.rows.append(row)
        if time.time() - self._last_flush > self.flush_every:
            self.flush()

    def episode(self, step: int, ret: float, length: int) -> None:
        """A finished training episode (its undiscounted return and length)."""
        self.recent.append(ret)
        self.scalars(step, **{EPISODE_RETURN: ret, EPISODE_LENGTH: length})

    def evaluation(self, step: int, returns: np.ndarray) -> None:
        """The returns of a periodic evaluation."""
        returns = np.asarray(returns, float)
        self.scalars(step, **{EVAL_MEAN: returns.mean(), EVAL_STD: returns.std()})

    def steps_per_second(self, step: int) -> float:
        return (step - self.start_step) / max(time.time() - self.start, 1e-9)

    def progress(self, step: int) -> None:
        """Move the bar to ``step``; at most a few updates a second."""
        if self.bar is None:
            return
        now = time.time()
        if now - self._last_bar < 0.25 and step < self.total_steps:
            return
        self._last_bar = now
        self.bar.update(step - self._bar_step)
        self._bar_step = step
        post = {"sps": f"{self.steps_per_second(step):.0f}"}
        if self.recent:
            post["return"] = f"{np.mean(self.recent):.1f}"
        self.bar.set_postfix(post, refresh=False)

    # ---- files -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Rewrite metrics.csv (atomically) and flush TensorBoard."""
        keys = ["step"] + sorted({k for r in self.rows for k in r} - {"step"})
        tmp = self.dir / "metrics.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for r in self.rows:
                w.writerow({k: (int(v) if k == "step" else f"{v:.6g}") for k, v in r.items()})
        os.replace(tmp, self.dir / "metrics.csv")
        if self.writer is not None:
            self.writer.flush()
        self._last_flush = time.time()

    def close(self, final: dict, extra_files: list[str | Path] = ()) -> dict:
        """Write metrics.csv, curves.png and summary.json; returns the summary."""
        if self.bar is not None:
            self.bar.close()
        self.flush()
        if self.writer is not None:
            self.writer.close()
        files = ["metrics.csv"]
        if plot_curves(self.rows, self.dir / "curves.png", title=str(self.config.get("run_name", ""))):
            files.append("curves.png")
        files += [Path(p).name for p in extra_files if p]
        summary = {"config": self.config, "final": final, "files": files}
        write_json(self.dir / "summary.json", summary)
        return summary


def plot_curves(rows: list[dict[str, float]], path: Path, title: str = "") -> bool:
    """curves.png: return per episode with a moving average, evaluations, and up to 3 other curves."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    special = {EPISODE_RETURN, EPISODE_LENGTH, EVAL_MEAN, EVAL_STD, "step"}
    # the losses first (they say most about a run), then anything else, the steps-per-second last
    rank = lambda k: (not k.startswith("losses/"), k.endswith("SPS"), k)
    others = sorted({k for r in rows for k in r} - special, key=rank)[:3]
    from matplotlib.ticker import EngFormatter

    fig, axes = plt.subplots(1, 1 + len(others), figsize=(5.5 * (1 + len(others)), 3.8), squeeze=False)
    for ax in axes[0]:
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))   # 100k, not 100000
    ax = axes[0, 0]
    s, r = column(rows, EPISODE_RETURN)
    if len(r):
        ax.plot(s, r, ".", ms=2, alpha=0.3, color="C0", label="training episodes")
        w = max(1, min(100, len(r) // 10))
        ax.plot(s[w - 1:], np.convolve(r, np.ones(w) / w, mode="valid"), color="C0",
                label=f"moving average ({w})")
    es, em = column(rows, EVAL_MEAN)
    if len(em):
        _, esd = column(rows, EVAL_STD)
        ax.plot(es, em, "o-", color="C3", ms=3, label="evaluation (mean ± std)")
        ax.fill_between(es, em - esd, em + esd, color="C3", alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title or "return")
    if ax.get_legend_handles_labels()[0]:        # a run too short to finish an episode has nothing to label
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax, key in zip(axes[0, 1:], others):
        ks, kv = column(rows, key)
        ax.plot(ks, kv, lw=0.8)
        if len(kv) > 20:
            w = max(1, len(kv) // 20)
            ax.plot(ks[w - 1:], np.convolve(kv, np.ones(w) / w, mode="valid"), color="C1")
        finite = kv[np.isfinite(kv)]
        if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def final_metrics(eval_returns: np.ndarray, env_steps: int, seconds: float) -> dict[str, float]:
    """The ``final`` block every run's summary.json carries."""
    eval_returns = np.asarray(eval_returns, float)
    return {"eval_return_mean": float(eval_returns.mean()), "eval_return_std": float(eval_returns.std()),
            "eval_episodes": int(len(eval_returns)), "env_steps": int(env_steps),
            "seconds": round(seconds, 2), "steps_per_second": round(env_steps / max(seconds, 1e-9), 1)}
