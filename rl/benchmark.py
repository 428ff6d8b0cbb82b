"""Run one algorithm on several seeds and summarise: a table (mean ± std across seeds, per-seed
numbers) and the learning curves with a shaded band.

    python -m rl.benchmark q_learning --env-id FrozenLake-v1 --seeds 5
    python -m rl.benchmark dqn --env-id CartPole-v1 --seeds 5 --workers 2 -- --total-timesteps 100000

Arguments after ``--`` go to every run unchanged. Each seed runs in its own process
(``python -m rl.<algo> --env-id ... --seed s``) with one BLAS thread, ``--workers`` at a time, into
``<out>/<algo>_<env>/s<seed>/``. Then ``<out>/<algo>_<env>/`` gets:

    benchmark.md     the table: eval return mean ± std across seeds, each seed's number, the step
                     budget and wall time, and the evaluation protocol the runs used
    benchmark.json   the same numbers, machine-readable
    curves.png       evaluation return vs environment steps: mean across seeds, ± one std band,
                     each seed faintly (the training-return moving average where a run logged no
                     evaluations)
A finished seed is not run again (its summary.json is read), so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rl.common.logger import EPISODE_RETURN, EVAL_MEAN, column, read_metrics, write_json


def run_seed(algo: str, env_id: str, seed: int, folder: Path, extra: list[str]) -> dict:
    """One run in a child process; returns its summary (reads it if the run finished before)."""
    summary = folder / f"s{seed}" / "summary.json"
    if not summary.exists():
        cmd = [sys.executable, "-m", f"rl.{algo}", "--env-id", env_id, "--seed", str(seed),
               "--out-dir", str(folder), "--run-name", f"s{seed}", "--no-progress", *extra]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
        print("$", " ".join(cmd), flush=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"rl.benchmark: seed {seed} failed (exit {done.returncode}):\n"
                               f"{done.stderr[-3000:]}")
    return json.loads(summary.read_text())


def seed_curve(run: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(steps, returns, kind) of one run: its evaluations, else its training-return moving average."""
    rows = read_metrics(run / "metrics.csv")
    steps, values = column(rows, EVAL_MEAN)
    if len(values):
        return steps, values, "evaluation return"
    steps, values = column(rows, EPISODE_RETURN)
    w = max(1, min(100, len(values) // 10))
    if len(values) >= w:
        steps, values = steps[w - 1:], np.convolve(values, np.ones(w) / w, mode="valid")
    return steps, values, f"training return (moving average of {w})"


LAST_EPISODES = 10


def last_training_return(run: Path, n: int = LAST_EPISODES) -> float:
    """Mean undiscounted return of the run's last ``n`` training episodes (NaN if it logged none)."""
    _, values = column(read_metrics(run / "metrics.csv"), EPISODE_RETURN)
    return float(np.mean(values[-n:])) if len(values) else float("nan")


def summarise(algo: str, env_id: str, seeds: list[int], folder: Path, summaries: list[dict]) -> dict:
    finals = [s["final"] for s in summaries]
    means = np.array([f["eval_return_mean"] for f in finals])
    cfg = summaries[0]["config"]
    # the stochastic policy's return at the end of training, the protocol of CleanRL's and Spinning
    # Up's tables (deterministic evaluation can differ a lot: a PPO HalfCheetah seed at ~1200 when
    # sampling scored -200 with its mean action)
    train_last = np.array([last_training_return(folder / f"s{s}") for s in seeds])
    result = {
        "algo": algo, "env_id": env_id, "seeds": seeds,
        "eval_return_mean": float(means.mean()), "eval_return_std_across_seeds": float(means.std()),
        "training_return_last_mean": float(np.nanmean(train_last)),
        "training_return_last_std_across_seeds": float(np.nanstd(train_last)),
        "training_return_last_episodes": LAST_EPISODES,
        "per_seed": {str(s): f for s, f in zip(seeds, finals)},
        "env_steps": finals[0]["env_steps"], "eval_episodes": finals[0]["eval_episodes"],
        "seconds_mean": float(np.mean([f["seconds"] for f in finals])),
        "config": cfg,
    }
    lines = [f"# {algo} on {env_id}: {len(seeds)} seeds", "",
             f"Evaluation return (each seed: mean over {result['eval_episodes']} evaluation episodes at "
             f"the end of {result['env_steps']} environment steps): "
             f"**{means.mean():.2f} ± {means.std():.2f}** (mean ± std across seeds). Training return "
             f"(the stochastic policy's last {LAST_EPISODES} episodes): {np.nanmean(train_last):.2f} ± "
             f"{np.nanstd(train_last):.2f}.", "",
             "| seed | eval return mean | eval return std | training return (last episodes) | env steps | "
             "seconds | steps/s |" + (" exact greedy return |" if "exact_greedy_return" in finals[0] else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if "exact_greedy_return" in finals[0] else "")]
    for s, f, tr in zip(seeds, finals, train_last):
        lines.append(f"| {s} | {f['eval_return_mean']:.2f} | {f['eval_return_std']:.2f} | {tr:.2f} | "
                     f"{f['env_steps']} | {f['seconds']:.1f} | {f['steps_per_second']:.0f} |"
                     + (f" {f['exact_greedy_return']:.4f} |" if "exact_greedy_return" in f else ""))
    lines += ["", "Configuration of seed " + str(seeds[0]) + ": " +
              ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("seed", "run_name", "out_dir")), ""]
    (folder / "benchmark.md").write_text("\n".join(lines))
    write_json(folder / "benchmark.json", result)
    plot_band(folder, seeds, f"{algo} on {env_id} ({len(seeds)} seeds)")
    print("\n".join(lines))
    return result


def plot_band(folder: Path, seeds: list[int], title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [seed_curve(folder / f"s{s}") for s in seeds]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    kind = curves[0][2]
    grid_end = min(c[0][-1] for c in curves if len(c[0]))
    grid = np.linspace(max(c[0][0] for c in curves if len(c[0])), grid_end, 200)
    stacked = np.stack([np.interp(grid, st, v) for st, v, _ in curves if len(st)])
    for (st, v, _), s in zip(curves, seeds):
        ax.plot(st, v, lw=0.7, alpha=0.35, label=f"seed {s}")
    m, sd = stacked.mean(0), stacked.std(0)
    ax.plot(grid, m, color="k", lw=2, label="mean across seeds")
    ax.fill_between(grid, m - sd, m + sd, color="k", alpha=0.15, label="± 1 std")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(kind)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=110)
    plt.close(fig)
    return folder / "curves.png"


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("algo", help="an algorithm module of rl/, e.g. q_learning")
    p.add_argument("--env-id", required=True)
    p.add_argument("--seeds", type=int, default=5, help="how many seeds")
    p.add_argument("--start-seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="runs at a time")
    p.add_argument("--out", default="runs/benchmark")
    args = p.parse_args(own)
    seeds = list(range(args.start_seed, args.start_seed + args.seeds))
    folder = Path(args.out) / f"{args.algo}_{args.env_id.replace('/', '-')}"
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        summaries = list(pool.map(lambda s: run_seed(args.algo, args.env_id, s, folder, extra), seeds))
    result = summarise(args.algo, args.env_id, seeds, folder, summaries)
    print(f"{folder}: {len(seeds)} seeds in {time.time() - t0:.0f} s")
    return result


if __name__ == "__main__":
    main()
