"""Two policy-gradient lessons as figures.

    python -m rl.pg_demos importance          # importance sampling from a distant proposal (seconds)
    python -m rl.pg_demos baselines --seeds 5 # REINFORCE on CartPole: no baseline vs mean vs learned V
                                              # (3 baselines x seeds runs of 150k steps: minutes)

importance: E_p[f] estimated from samples of q as mean_i w(x_i) f(x_i), w = p(x) / q(x), with
p = N(1, 1), q = N(-2, 1) and f(x) = x (true value 1). Almost every sample of q lands where f < 0 and w
is tiny; the rare samples from p's bulk carry weights of order e^4.5 and more. With few samples the
estimate is therefore usually negative (the wrong sign) and far too small; it converges only once
n is comparable to E_q[w^2] = e^9 ~ 8100. This is why PPO and TRPO keep pi_theta close to pi_old: the
ratio r = pi_theta / pi_old is the weight w.

baselines: REINFORCE with reward-to-go on CartPole, where every reward is +1 and so every G_t > 0.
Without a baseline each update pushes up the probability of every sampled action; only the relative
sizes of G_t separate good from bad, so learning is slower and more seed-dependent than with the
running-mean or learned-value baseline.

Figures go to ``--out`` (default runs/pg_demos/).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np


def importance_sampling_estimates(n_max: int, runs: int, seed: int = 0, mu_p: float = 1.0, mu_q: float = -2.0
                                  ) -> tuple[np.ndarray, np.ndarray]:
    """Running IS estimates of E_p[x], p = N(mu_p, 1), from x ~ q = N(mu_q, 1).

    Returns (n (K,), estimates (runs, K)) at K log-spaced sample counts n <= n_max:
    estimate_n = (1/n) sum_{i<=n} w_i x_i, log w = log p - log q = (x - mu_q)^2/2 - (x - mu_p)^2/2.
    """
    rng = np.random.default_rng(seed)
    n = np.unique(np.logspace(0, math.log10(n_max), 60).astype(int))
    est = np.empty((runs, len(n)))
    for r in range(runs):                      # one run at a time: n_max floats, not runs * n_max
        x = rng.normal(mu_q, 1.0, size=n_max)
        w = np.exp(0.5 * (x - mu_q) ** 2 - 0.5 * (x - mu_p) ** 2)
        est[r] = np.cumsum(w * x)[n - 1] / n
    return n, est


def plot_importance(out: Path, n_max: int = 1_000_000, runs: int = 200) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, est = importance_sampling_estimates(n_max, runs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for r in range(12):
        ax.plot(n, est[r], lw=0.7, alpha=0.6)
    lo, med, hi = np.percentile(est, [10, 50, 90], axis=0)
    ax.plot(n, med, color="k", lw=2, label=f"median of {runs} runs")
    ax.fill_between(n, lo, hi, color="k", alpha=0.15, label="10-90 % of runs")
    ax.axhline(1.0, color="C3", ls="--", label="true E_p[x] = 1")
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.set_xscale("log")
    ax.set_ylim(-1.0, 3.0)
    ax.set_xlabel("samples n from q = N(-2, 1)")
    ax.set_ylabel("estimate (1/n) sum w(x) x")
    ax.set_title("importance sampling: E_p[x], p = N(1, 1)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(n, (est < 0).mean(0), color="C0", label="estimate < 0 (wrong sign)")
    ax.plot(n, (np.abs(est - 1.0) < 0.1).mean(0), color="C2", label="within 0.1 of the truth")
    ax.axvline(math.exp(9), color="gray", ls=":", label="E_q[w^2] = e^9")
    ax.set_xscale("log")
    ax.set_xlabel("samples n")
    ax.set_ylabel(f"fraction of {runs} runs")
    ax.set_title("wrong sign with few samples, convergence with many")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "importance_sampling.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_baselines(out: Path, seeds: int, steps: int, batch_size: int) -> Path:
    """Run REINFORCE for each baseline and seed (resumes finished runs), plot the training return."""
    import json

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl import reinforce
    from rl.common.logger import EPISODE_RETURN, column, read_metrics

    grid = np.linspace(0, steps, 101)[1:]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    table = {}
    for k, baseline in enumerate(("none", "mean", "value")):
        curves, finals = [], []
        for seed in range(1, seeds + 1):
            run = out / "baselines" / f"{baseline}_s{seed}"
            if not (run / "summary.json").exists():
                reinforce.main(["--baseline", baseline, "--seed", str(seed), "--total-timesteps", str(steps),
                                "--batch-size", str(batch_size), "--out-dir", str(run.parent),
                                "--run-name", run.name, "--no-gif", "--no-tensorboard", "--no-progress",
                                "--eval-every", str(10 * steps)])
            s, r = column(read_metrics(run / "metrics.csv"), EPISODE_RETURN)
            w = 20
            smooth = np.convolve(r, np.ones(w) / w, mode="valid")
            curves.append(np.interp(grid, s[w - 1:], smooth, left=np.nan))
            finals.append(json.loads((run / "summary.json").read_text())["final"]["eval_return_mean"])
            ax.plot(grid, curves[-1], color=f"C{k}", lw=0.6, alpha=0.35)
        c = np.array(curves)
        m, sd = np.nanmean(c, 0), np.nanstd(c, 0)
        ax.plot(grid, m, color=f"C{k}", lw=2.2, label=f"baseline: {baseline}")
        ax.fill_between(grid, m - sd, m + sd, color=f"C{k}", alpha=0.15)
        table[baseline] = (float(np.mean(finals)), float(np.std(finals)), float(np.nanmean(c[:, -1])))
    ax.set_xlabel("environment steps")
    ax.set_ylabel("training return (moving average of 20 episodes)")
    ax.set_title(f"REINFORCE on CartPole-v1 (all rewards +1): {seeds} seeds, mean ± std")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "reinforce_baselines.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    for b, (mean, std, train) in table.items():
        print(f"baseline {b:5s}: deterministic eval {mean:.1f} ± {std:.1f} (10 episodes per seed), "
              f"final training return {train:.1f}")
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("demo", nargs="?", default="importance", choices=["importance", "baselines"])
    p.add_argument("--out", default="runs/pg_demos")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--steps", type=int, default=150_000)
    p.add_argument("--batch-size", type=int, default=2000)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.demo == "importance":
        path = plot_importance(out)
    else:
        path = plot_baselines(out, args.seeds, args.steps, args.batch_size)
    print(path)


if __name__ == "__main__":
    main()
