"""RL wall time: minigrad's algorithm files against Stable-Baselines3 with the same hyper-parameters.

    make bench-rl                                    # installs stable-baselines3 (and torch) if missing
    .venv/bin/python -m benchmarks.rl_wall --only dqn_cartpole --seeds 1 2 3

For each case and seed, two processes run one after the other on the same machine: ``python -m
rl.<algo>`` (minigrad) and a Stable-Baselines3 worker (``--worker sb3``; it never imports minigrad, and
the minigrad run never imports torch; SB3 runs torch with one thread, the fastest setting for these
small networks here). Each reports its training wall time (periodic evaluation off on
both sides) and the mean return of 10 deterministic evaluation episodes of the final policy on the same
episode seeds (10000, 10001, ...). The table gives both, and the ratio minigrad time / SB3 time (below
1: minigrad is faster). Results go to benchmarks/results/rl-latest.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"

# case id -> (env id, steps, minigrad module, minigrad flags, SB3 algorithm, SB3 keyword arguments);
# "n_envs" in the SB3 arguments makes a vector env of that many copies, as minigrad's preset does
CASES: dict[str, tuple] = {
    "ppo_cartpole": (
        "CartPole-v1", 100_000, "ppo", [],
        "PPO", dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                    ent_coef=0.0, learning_rate="linear 1e-3", clip_range="linear 0.2")),
    "dqn_cartpole": (
        "CartPole-v1", 50_000, "dqn", ["--no-double", "--no-anneal-lr", "--no-keep-best"],  # plain, as SB3
        "DQN", dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
                    gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                    exploration_fraction=0.16, exploration_final_eps=0.04,
                    policy_kwargs=dict(net_arch=[256, 256]))),
    "dqn_acrobot": (                         # the Zoo's Acrobot settings: one gradient step per env step
        "Acrobot-v1", 100_000, "dqn", [],
        "DQN", dict(learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0,
                    gamma=0.99, target_update_interval=250, train_freq=4, gradient_steps=-1,
                    exploration_fraction=0.12, exploration_final_eps=0.1,
                    policy_kwargs=dict(net_arch=[256, 256]))),
}


def run_minigrad(case: str, seed: int, steps: int | None = None) -> dict:
    env_id, default_steps, algo, flags, *_ = CASES[case]
    steps = steps or default_steps
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", f"rl.{algo}", "--env-id", env_id, "--seed", str(seed),
               "--total-timesteps", str(steps), "--eval-every", str(10 * steps), "--eval-episodes", "10",
               "--no-gif", "--no-tensorboard", "--no-progress", "--out-dir", out, "--run-name", "r", *flags]
        subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, MPLBACKEND="Agg"))
        final = json.loads((Path(out) / "r" / "summary.json").read_text())["final"]
    return {"seconds": final["seconds"], "eval_return_mean": final["eval_return_mean"]}


def sb3_worker(case: str, seed: int, steps: int | None = None) -> None:
    """Train and evaluate with Stable-Baselines3; prints one JSON line."""
    import gymnasium as gym
    import stable_baselines3 as sb3
    import torch

    # one intra-op thread: for these small MLPs torch's 2-thread pool only waits on a busy core (35 s
    # instead of ~1 s for 2k PPO steps at load 2); minigrad's BLAS policy makes the same choice itself
    torch.set_num_threads(1)
    from stable_baselines3.common.env_util import make_vec_env

    env_id, default_steps, _, _, algo, kwargs = CASES[case]
    steps = steps or default_steps
    kwargs = dict(kwargs)
    env = make_vec_env(env_id, n_envs=kwargs.pop("n_envs", 1), seed=seed)
    for k, v in kwargs.items():             # "linear 1e-3": to 0 over training, as the Zoo's lin_1e-3
        if isinstance(v, str) and v.startswith("linear "):
            kwargs[k] = (lambda start: lambda progress_left: start * progress_left)(float(v.split()[1]))
    model = getattr(sb3, algo)("MlpPolicy", env, seed=seed, verbose=0, **kwargs)
    t0 = time.time()
    model.learn(total_timesteps=steps)
    seconds = time.time() - t0
    env = gym.make(env_id)
    returns = []
    for k in range(10):
        obs, _ = env.reset(seed=10_000 + k)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, r, term, trunc, _ = env.step(action)
            total, done = total + float(r), term or trunc
        returns.append(total)
    print("@@rl " + json.dumps({"seconds": seconds, "eval_return_mean": float(np.mean(returns))}))


def run_sb3(case: str, seed: int, steps: int | None = None) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.rl_wall", "--worker", "sb3", "--case", case,
                           "--seed", str(seed), "--steps", str(steps or 0)], check=True, capture_output=True,
                          text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("@@rl "))
    return json.loads(line[5:])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default="", help="comma-separated case ids: " + ", ".join(CASES))
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--frameworks", default="minigrad,sb3", help="minigrad,sb3 or one of them")
    p.add_argument("--steps", type=int, default=0, help="override every case's step budget (a smoke test)")
    p.add_argument("--worker", choices=["sb3"], help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        sb3_worker(args.case, args.seed, args.steps)
        return {}
    cases = [c for c in CASES if not args.only or c in args.only.split(",")]
    rows, load_before = {}, os.getloadavg()
    for case in cases:
        runners = {"minigrad": run_minigrad, "sb3": run_sb3}
        runs = {name: [] for name in args.frameworks.split(",")}
        for seed in args.seeds:
            for name in runs:
                runs[name].append(runners[name](case, seed, args.steps))
            print(case, seed, {k: v[-1] for k, v in runs.items()}, flush=True)
        rows[case] = runs
    lines = ["| case | env steps | seeds | minigrad s (median) | SB3 s (median) | ratio | minigrad return "
             "| SB3 return |", "|---|---|---|---|---|---|---|---|"]
    for case, runs in rows.items():
        mt, st = (np.median([r["seconds"] for r in runs.get(k, [])] or [np.nan]) for k in ("minigrad", "sb3"))
        mr, sr = ([r["eval_return_mean"] for r in runs.get(k, [])] or [np.nan] for k in ("minigrad", "sb3"))
        lines.append(f"| {case} | {args.steps or CASES[case][1]} | {len(args.seeds)} | {mt:.1f} | {st:.1f} | "
                     f"{mt / st:.2f}× | {np.mean(mr):.1f} ± {np.std(mr):.1f} | "
                     f"{np.mean(sr):.1f} ± {np.std(sr):.1f} |")
    machine = platform.processor() or platform.machine()
    text = "\n".join(lines) + (f"\n\nMachine: {machine}, {os.cpu_count()} cores, load average before "
                               f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}.\n")
    print(text)
    RESULTS.mkdir(exist_ok=True)
    if args.steps == 0 and "sb3" in args.frameworks:      # smoke runs do not overwrite the results
        (RESULTS / "rl-latest.md").write_text(text)
        detail = {"seeds": args.seeds, "rows": rows, "load_before": load_before}
        (RESULTS / "rl-latest.json").write_text(json.dumps(detail, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
