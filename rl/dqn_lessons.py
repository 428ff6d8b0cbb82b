"""Three lessons of DQN, each a figure with numbers, all trained by ``rl.dqn.main`` (nothing copied).

    python -m rl.dqn_lessons                                  # every lesson (about 25 min of CPU)
    python -m rl.dqn_lessons --lesson overestimation --seeds 3
    python -m rl.dqn_lessons --quick                          # a smoke test: seconds

1. overestimation: DQN vs Double DQN. At every periodic evaluation (every ``eval_every`` steps) the
   current greedy policy plays ``MC_EPISODES`` episodes from fixed start seeds; on the first
   ``MC_STATES`` states of each we compare the network's prediction, max_a Q(s, a), with the discounted
   Monte Carlo return actually obtained from s by that same policy, G_t = sum_k gamma^k r_{t+k} (the
   same gamma as training). The episodes are allowed ``MC_STATES + MC_TAIL`` steps (more than the
   environment's own time limit), so every G_t sees at least MC_TAIL rewards after s: Q bootstraps
   through time-limit truncations, so it predicts the untruncated return, and the tail left out is
   below gamma^MC_TAIL * r_max / (1 - gamma) (0.66 on CartPole). The gap = mean max-Q - mean G.
   Two settings on CartPole (gamma 0.99), each DQN vs Double DQN: the real rewards, and rewards with
   zero-mean Gaussian noise of std 5 (``--reward-noise``: the classic setting in which the max
   operator's upward bias shows; evaluation and G use the real rewards). The preset refreshes the
   target just before every training phase, so the target equals the online network when a phase
   starts and Double DQN can differ from DQN only through the phase's own 128 updates (a target
   refreshed every 1000 steps instead made the Q-values lag far below the returns: docs/dqn_lessons.md).
2. ablation: a scaled-down Rainbow (double + dueling + prioritised + 3-step + noisy + C51) against
   Rainbow with each component removed in turn and against plain DQN; evaluation-return curves with a
   band of one std over seeds, and a table of the final evaluation and the area under the curve
   (the mean evaluation return over training).
3. no_target_no_replay: DQN against no target network (the bootstrap uses the online network itself),
   no replay (a buffer of ``batch_size`` transitions: every update samples the latest 64
   transitions, each used only in the training phase right after it was collected), and neither. The
   figure shows the evaluation return and the mean Q on the replayed batches (its magnitude shows
   divergence); the overestimation statistic of lesson 1 is logged too.

Every run is ``python -m rl.dqn`` with the flags of ``LESSONS`` below (seeded 1..N, logged to
``<out>/<lesson>/<variant>/s<seed>/metrics.csv`` and ``summary.json``); a finished run is read back, not
rerun, so an interrupted lesson resumes. The final number of a run is rl.dqn's own deterministic
evaluation (``eval_episodes`` episodes on seeds 10000...) of the last network (no keep-best, no
learning-rate annealing, so that instabilities are visible). Outputs under ``--out``: one PNG per
lesson, ``lessons.md`` (the tables), ``lessons.json`` (every number).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rl import dqn
from rl.common.logger import EVAL_MEAN, column, read_metrics, write_json

# ---------------------------------------------------------------------------------------------------
# Hyper-parameters: every lesson's runs in one place
# ---------------------------------------------------------------------------------------------------
MC_EPISODES = 3        # greedy episodes per overestimation measurement (fixed start seeds)
MC_STATES = 200        # states per episode whose Monte Carlo return is compared with max-Q
MC_TAIL = 500          # rewards seen after the last compared state (gamma^500 = 0.0066)
MC_SEED = 70_000       # their episode seeds: MC_SEED, MC_SEED + 1, ... (not the evaluation seeds)

# CartPole's preset (rl.dqn.PRESETS) with a smaller network, without its run-end helpers (keep-best,
# learning-rate annealing) and without Double DQN unless a variant asks for it
COMMON = ["--env-id", "CartPole-v1", "--hidden", "64", "64", "--no-keep-best", "--no-anneal-lr",
          "--no-double", "--eval-episodes", "10", "--no-tensorboard", "--no-gif", "--no-progress"]
RAINBOW = {"double": ["--double"], "dueling": ["--dueling"], "prioritized": ["--prioritized"],
           "n-step": ["--n-step", "3"], "noisy": ["--noisy"],
           "distributional": ["--distributional", "c51", "--v-min", "0", "--v-max", "100"]}


def _rainbow_without(*removed: str) -> list[str]:
    return [f for name, flags in RAINBOW.items() if name not in removed for f in flags]


LESSONS: dict[str, dict] = {
    "overestimation": dict(
        steps=30_000, eval_every=2500, measure=True, flags=[],
        variants={"DQN, noisy rewards": ["--reward-noise", "5.0"],
                  "Double DQN, noisy rewards": ["--double", "--reward-noise", "5.0"],
                  "DQN, real rewards": [], "Double DQN, real rewards": ["--double"]},
        panels={"rewards + N(0, 5^2) noise": ["DQN, noisy rewards", "Double DQN, noisy rewards"],
                "real rewards": ["DQN, real rewards", "Double DQN, real rewards"]}),
    "ablation": dict(
        steps=16_000, eval_every=2000, measure=False, flags=[],
        variants={"Rainbow": _rainbow_without(),
                  **{f"- {name}": _rainbow_without(name) for name in RAINBOW},
                  "DQN": []}),
    "no_target_no_replay": dict(
        steps=20_000, eval_every=2000, measure=True,
        # 32 updates every 64 steps (the preset's ratio), so that a 64-transition buffer loses nothing
        flags=["--train-frequency", "64", "--gradient-steps", "32"],
        variants={"DQN": [], "no target": ["--no-target-network"], "no replay": ["--buffer-size", "64"],
                  "neither": ["--no-target-network", "--buffer-size", "64"]}),
}
QUICK = dict(steps=400, eval_every=200, flags=["--hidden", "16", "--learning-starts", "200",
                                               "--train-frequency", "50", "--gradient-steps", "4",
                                               "--eval-episodes", "2"])
FIGURE_NAMES = {"overestimation": "dqn_overestimation.png", "ablation": "dqn_ablation.png",
                "no_target_no_replay": "dqn_no_target_no_replay.png"}

# metrics.csv keys written by the overestimation measurement
Q_PRED, MC_RETURN, GAP = "overest/q_max_mean", "overest/mc_return_mean", "overest/gap"
Q_BATCH = "losses/q_values"


# ---------------------------------------------------------------------------------------------------
# The statistics
# ---------------------------------------------------------------------------------------------------
def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ... to the end of the sequence, for every t.
    rewards: (T,) -> (T,)."""
    rewards = np.asarray(rewards, float)
    out = np.zeros_like(rewards)
    g = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


def greedy_rollouts(policy: Callable[[np.ndarray], np.ndarray], env_id: str, gamma: float,
                    n_episodes: int = MC_EPISODES, n_states: int = MC_STATES, tail: int = MC_TAIL,
                    seed: int = MC_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Play ``policy`` for n_episodes episodes (seeds seed, seed + 1, ...) of at most n_states + tail
    steps; return (states (N, obs_dim), their discounted returns (N,)) for the first n_states states
    of every episode."""
    import gymnasium as gym

    env = gym.make(env_id, max_episode_steps=n_states + tail)
    states, returns = [], []
    try:
        for k in range(n_episodes):
            obs, _ = env.reset(seed=seed + k)
            visited, rewards, done = [], [], False
            while not done:
                o = np.asarray(obs, np.float32).reshape(-1)
                visited.append(o)
                action = np.asarray(policy(o[None]))[0]
                obs, reward, terminated, truncated, _ = env.step(action.item())
                rewards.append(float(reward))
                done = terminated or truncated
            states += visited[:n_states]
            returns.append(discounted_returns(np.array(rewards), gamma)[:n_states])
    finally:
        env.close()
    return np.stack(states), np.concatenate(returns)


def overestimation_stats(q_fn: Callable[[np.ndarray], np.ndarray], states: np.ndarray,
                         mc_returns: np.ndarray) -> dict[str, float]:
    """Mean over the states of max_a Q(s, a), of the Monte Carlo return, and their difference."""
    q_max = np.asarray(q_fn(states)).max(1)
    pred, real = float(q_max.mean()), float(np.mean(mc_returns))
    return {Q_PRED: pred, MC_RETURN: real, GAP: pred - real}


def measure_overestimation(env_id: str, gamma: float) -> Callable:
    """An ``on_eval`` hook for rl.dqn.main: the statistics at every periodic evaluation."""
    def hook(step: int, q_fn: Callable, greedy: Callable) -> dict[str, float]:
        states, mc = greedy_rollouts(greedy, env_id, gamma)
        return overestimation_stats(q_fn, states, mc)
    return hook


def area_under_curve(steps: np.ndarray, values: np.ndarray) -> float:
    """The curve's mean height: the trapezoid area over its step span divided by the span (a single
    point: its value)."""
    steps, values = np.asarray(steps, float), np.asarray(values, float)
    if len(steps) == 1:
        return float(values[0])
    area = float(np.sum((values[1:] + values[:-1]) * np.diff(steps)) / 2)
    return area / float(steps[-1] - steps[0])


def mean_std(x: list[float] | np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, float)
    return float(x.mean()), float(x.std())


# ---------------------------------------------------------------------------------------------------
# Running the lessons
# ---------------------------------------------------------------------------------------------------
def lesson_config(lesson: str, quick: bool) -> dict:
    cfg = dict(LESSONS[lesson])
    if quick:
        cfg.update(steps=QUICK["steps"], eval_every=QUICK["eval_every"], flags=cfg["flags"] + QUICK["flags"])
    return cfg


def run_one(lesson: str, variant: str, flags: list[str], seed: int, out: Path, cfg: dict) -> Path:
    """One rl.dqn run (read back when its summary.json exists); returns its folder."""
    folder = out / lesson / variant.replace("- ", "no_").replace(",", "").replace(" ", "_").replace("-", "")
    run = folder / f"s{seed}"
    if (run / "summary.json").exists():
        return run
    argv = [*COMMON, *cfg["flags"], *flags, "--total-timesteps", str(cfg["steps"]),
            "--eval-every", str(cfg["eval_every"]), "--seed", str(seed),
            "--out-dir", str(folder), "--run-name", f"s{seed}"]
    hook = measure_overestimation("CartPole-v1", dqn.Args().gamma) if cfg["measure"] else None
    print(f"[{lesson}] {variant} seed {seed}: python -m rl.dqn {' '.join(argv)}", flush=True)
    dqn.main(argv, on_eval=hook)
    return run


def seed_curves(runs: list[Path], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values (seeds, points)) of one metrics.csv column, on the first run's steps."""
    curves = [column(read_metrics(r / "metrics.csv"), key) for r in runs]
    grid = curves[0][0]
    return grid, np.stack([np.interp(grid, s, v) for s, v in curves])


def collect(lesson: str, seeds: list[int], out: Path, cfg: dict) -> dict:
    """Train every variant on every seed; per variant: the runs, their final numbers and curves."""
    results = {}
    for variant, flags in cfg["variants"].items():
        runs, t0 = [], time.time()
        for seed in seeds:
            runs.append(run_one(lesson, variant, flags, seed, out, cfg))
        finals = [json.loads((r / "summary.json").read_text())["final"] for r in runs]
        steps, evals = seed_curves(runs, EVAL_MEAN)
        res = {"runs": [str(r) for r in runs], "flags": flags,
               "final": [f["eval_return_mean"] for f in finals],
               "seconds": [f["seconds"] for f in finals],
               "auc": [area_under_curve(steps, e) for e in evals],
               "eval_steps": steps, "eval_curves": evals}
        qs, qb = seed_curves(runs, Q_BATCH)
        if len(qs):
            res.update(q_batch_steps=qs, q_batch=qb, q_batch_final=qb[:, -1].tolist(),
                       q_batch_max_abs=np.abs(qb).max(1).tolist())
        if cfg["measure"]:
            ms, pred = seed_curves(runs, Q_PRED)
            _, real = seed_curves(runs, MC_RETURN)
            half = ms >= ms[len(ms) // 2]
            res.update(measure_steps=ms, q_pred=pred, mc_return=real,
                       gap_mean=(pred - real).mean(1).tolist(),
                       gap_second_half=(pred - real)[:, half].mean(1).tolist(),
                       gap_final=(pred - real)[:, -1].tolist())
        print(f"[{lesson}] {variant}: final {mean_std(res['final'])[0]:.1f}, "
              f"{time.time() - t0:.0f} s", flush=True)
        results[variant] = res
    return results


# ---------------------------------------------------------------------------------------------------
# Figures and tables
# ---------------------------------------------------------------------------------------------------
def _band(ax, x: np.ndarray, y: np.ndarray, label: str, color, ls: str = "-") -> None:
    m, s = y.mean(0), y.std(0)
    ax.plot(x, m, ls, color=color, lw=1.8, label=label)
    ax.fill_between(x, m - s, m + s, color=color, alpha=0.15)


def plot_lesson(lesson: str, results: dict, path: Path, n_seeds: int, steps: int) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10").colors
    band = f"mean ± 1 std over {n_seeds} seed{'s' * (n_seeds > 1)}"
    if lesson == "overestimation":
        panels = LESSONS["overestimation"]["panels"]
        fig, axes = plt.subplots(1, len(panels) + 1, figsize=(16, 4.4))
        color = {name: colors[i] for i, name in enumerate(results)}
        for ax, (title, names) in zip(axes, panels.items()):
            for name in (n for n in names if n in results):
                r = results[name]
                kind = name.split(",")[0]
                x, c = r["measure_steps"], color[name]
                _band(ax, x, r["q_pred"], f"{kind}: predicted mean max_a Q(s,a)", c)
                _band(ax, x, r["mc_return"], f"{kind}: actual discounted return", c, "--")
            ax.set_title(f"CartPole, {title}, gamma 0.99 ({band})", fontsize=9)
            ax.set_ylabel("mean over the greedy policy's states")
        for name, r in results.items():
            _band(axes[-1], r["measure_steps"], r["q_pred"] - r["mc_return"],
                  f"{name}: mean gap {np.mean(r['gap_mean']):+.1f}", color[name])
        axes[-1].axhline(0, color="k", lw=0.8)
        axes[-1].set_ylabel("predicted - actual (overestimation)")
        axes[-1].set_title("overestimation gap", fontsize=9)
    elif lesson == "ablation":
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.7, 1]})
        for i, (name, r) in enumerate(results.items()):
            lw_color = "k" if name == "Rainbow" else colors[i % 10]
            _band(axes[0], r["eval_steps"], r["eval_curves"], name, lw_color)
        axes[0].set_ylabel("evaluation return (10 greedy episodes)")
        axes[0].set_title(f"Rainbow ablation, CartPole, {steps // 1000}k steps ({band})", fontsize=9)
        names = list(results)[::-1]
        auc = [mean_std(results[n]["auc"]) for n in names]
        fin = [mean_std(results[n]["final"]) for n in names]
        y = np.arange(len(names))
        axes[1].barh(y + 0.2, [a[0] for a in auc], 0.4, xerr=[a[1] for a in auc], label="area under curve")
        axes[1].barh(y - 0.2, [f[0] for f in fin], 0.4, xerr=[f[1] for f in fin], label="final evaluation")
        axes[1].set_yticks(y, names)
        axes[1].set_xlabel("return (mean ± std over seeds)")
        axes[1].legend(fontsize=8, loc="lower right")
    else:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
        for i, (name, r) in enumerate(results.items()):
            ls = "--" if i == 3 else "-"       # "neither" lies on "no target": dashed, to show both
            _band(axes[0], r["eval_steps"], r["eval_curves"], name, colors[i], ls)
            _band(axes[1], r["q_batch_steps"], r["q_batch"], name, colors[i], ls)
        axes[0].set_ylabel("evaluation return (10 greedy episodes)")
        axes[0].set_title(f"CartPole, {steps // 1000}k steps ({band})", fontsize=9)
        axes[1].set_ylabel("mean Q on the replayed batches")
        axes[1].axhline(100, color="k", lw=0.8, ls=":", label="1/(1-gamma) = 100: the largest true value")
        axes[1].set_yscale("symlog", linthresh=100)
        axes[1].set_ylim(bottom=min(-1.0, min(float(r["q_batch"].min()) for r in results.values())))
        axes[1].set_title("Q-value magnitude", fontsize=9)
    for ax in axes if lesson != "ablation" else axes[:1]:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pm(x: list[float], fmt: str = ".1f") -> str:
    m, s = mean_std(x)
    return f"{m:{fmt}} ± {s:{fmt}}"


def table(lesson: str, results: dict) -> list[str]:
    """The markdown table of one lesson (mean ± std over seeds)."""
    if lesson == "overestimation":
        lines = ["| variant | gap, all measurements | gap, second half | gap, last | predicted max-Q, last "
                 "| actual return, last | final eval return |", "|---|---|---|---|---|---|---|"]
        for n, r in results.items():
            lines.append(f"| {n} | {_pm(r['gap_mean'])} | {_pm(r['gap_second_half'])} "
                         f"| {_pm(r['gap_final'])} | {_pm(r['q_pred'][:, -1])} "
                         f"| {_pm(r['mc_return'][:, -1])} | {_pm(r['final'])} |")
    elif lesson == "ablation":
        lines = ["| variant | final eval return | area under curve (mean eval return) | seconds per run |",
                 "|---|---|---|---|"]
        for n, r in results.items():
            lines.append(f"| {n} | {_pm(r['final'])} | {_pm(r['auc'])} | {np.mean(r['seconds']):.0f} |")
    else:
        lines = ["| variant | final eval return | area under curve | mean Q (batch), last | max abs mean Q "
                 "| overestimation gap, mean |", "|---|---|---|---|---|---|"]
        for n, r in results.items():
            lines.append(f"| {n} | {_pm(r['final'])} | {_pm(r['auc'])} | {_pm(r['q_batch_final'])} | "
                         f"{_pm(r['q_batch_max_abs'])} | {_pm(r['gap_mean'])} |")
    return lines


def run_lesson(lesson: str, seeds: list[int], out: Path, quick: bool = False) -> dict:
    """Train, plot and tabulate one lesson; returns its JSON-ready numbers."""
    cfg = lesson_config(lesson, quick)
    t0 = time.time()
    results = collect(lesson, seeds, out, cfg)
    figure = plot_lesson(lesson, results, out / FIGURE_NAMES[lesson], len(seeds), cfg["steps"])
    lines = [f"## {lesson}", "", f"{len(seeds)} seeds ({seeds}), {cfg['steps']} environment steps per run, "
             f"evaluation every {cfg['eval_every']} steps; lesson flags: `{' '.join(cfg['flags'])}`", "",
             *table(lesson, results), ""]
    print("\n".join(lines), flush=True)
    keep = ("final", "auc", "seconds", "flags", "gap_mean", "gap_second_half", "gap_final",
            "q_batch_final", "q_batch_max_abs")
    return {"lesson": lesson, "seeds": seeds, "steps": cfg["steps"], "eval_every": cfg["eval_every"],
            "flags": COMMON + cfg["flags"], "figure": str(figure), "markdown": lines,
            "seconds": round(time.time() - t0, 1),
            "variants": {n: {k: v for k, v in r.items() if k in keep} for n, r in results.items()}}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lesson", default="all", choices=[*LESSONS, "all"])
    p.add_argument("--seeds", type=int, default=None, help="seeds 1..N (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke test in seconds")
    p.add_argument("--out", default="runs/dqn_lessons")
    args = p.parse_args(argv)
    out = Path(args.out)
    seeds = list(range(1, (args.seeds or (1 if args.quick else 3)) + 1))
    lessons = list(LESSONS) if args.lesson == "all" else [args.lesson]
    summary_path = out / "lessons.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for lesson in lessons:
        summary[lesson] = run_lesson(lesson, seeds, out, args.quick)
        out.mkdir(parents=True, exist_ok=True)
        write_json(summary_path, summary)
        md = ["# DQN lessons", ""] + [ln for k in LESSONS if k in summary for ln in summary[k]["markdown"]]
        (out / "lessons.md").write_text("\n".join(md) + "\n")
    return summary


if __name__ == "__main__":
    main()
