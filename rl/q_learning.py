"""Tabular Q-learning on a gymnasium environment with discrete states, CleanRL style.

    python -m rl.q_learning --env-id FrozenLake-v1 --seed 1 --total-timesteps 200000
    python -m rl.q_learning --env-id Taxi-v4
    python -m rl.q_learning --env-id CliffWalking-v1 --learning-rate 0.5 --gamma 1.0

The off-policy TD control of Sutton & Barto section 6.5. After each step s -a-> (r, s'):

    Q(s, a) <- Q(s, a) + alpha [r + gamma (1 - terminated) max_a' Q(s', a') - Q(s, a)]

The agent acts epsilon-greedily (epsilon decays linearly from ``start_e`` to ``end_e`` over
``exploration_fraction`` of the run) but learns the greedy policy's values. A time-limit truncation
still bootstraps from Q(s'), since the state where the clock ran out has a future; only termination
(a hole, the goal, a drop-off) ends the sum. Evaluation runs the greedy policy on fresh episodes;
for the toy-text environments the greedy policy's exact expected return is also computed from the
environment's transition table (``rl.tabular.mdp``), which needs no sampling.

Writes runs/q_learning_<env>_s<seed>/: metrics.csv, TensorBoard events, curves.png, summary.json,
q_table.png (values and greedy arrows, for grid worlds), episode.gif, last.ckpt.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from rl.common.args import parse_args, run_dir
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import finished_episodes, make_vec_env, real_next_obs
from rl.common.evaluate import evaluate, record_gif
from rl.common.logger import RunLogger, final_metrics
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = field(default="FrozenLake-v1", metadata={"help": "a gymnasium env with Discrete states"})
    seed: int = 1
    total_timesteps: int = 200_000
    learning_rate: float = field(default=0.1, metadata={"help": "alpha, the step size"})
    gamma: float = 0.99
    start_e: float = 1.0
    end_e: float = 0.05
    exploration_fraction: float = field(default=0.5, metadata={"help": "part of the run to decay epsilon"})
    eval_every: int = 20_000
    eval_episodes: int = 100
    checkpoint_every: int = 50_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


def linear_schedule(start: float, end: float, duration: float, t: int) -> float:
    """start -> end linearly over ``duration`` steps, then flat."""
    return end + (start - end) * max(0.0, 1.0 - t / max(duration, 1.0))


def exact_greedy_return(env_id: str, q: np.ndarray, gamma: float = 1.0) -> float | None:
    """The greedy policy's exact expected (undiscounted) return from the env's transition table."""
    try:
        from rl.tabular.mdp import TabularMDP, expected_return
        mdp = TabularMDP.from_gymnasium(env_id)
    except Exception:       # not a toy-text environment with a published table
        return None
    horizon = mdp.max_steps or 1000     # a greedy policy may loop forever where there is no time limit
    return expected_return(mdp, q.argmax(1), gamma, horizon=horizon)


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0])
    out = run_dir(args, "q_learning")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=1, seed=args.seed)
    n_states, n_actions = envs.single_observation_space.n, envs.single_action_space.n
    q = np.zeros((n_states, n_actions))

    start_step = 0
    if args.resume and (out / "last.ckpt").exists():
        start_step, _ = load_checkpoint(out / "last.ckpt", {"q": q}, rng)
    log = RunLogger(out, {"algo": "q_learning", **asdict(args)}, args.total_timesteps,
                    tensorboard=args.tensorboard, progress=args.progress,
                    resume_step=start_step if args.resume else None)

    def greedy(obs: np.ndarray) -> np.ndarray:
        return q[obs.astype(np.int64)].argmax(-1)

    obs, _ = envs.reset(seed=args.seed + start_step)
    t0 = time.time()
    for step in range(start_step, args.total_timesteps):
        epsilon = linear_schedule(args.start_e, args.end_e, args.exploration_fraction * args.total_timesteps,
                                  step)
        if rng.random() < epsilon:
            action = rng.integers(n_actions, size=1)
        else:   # greedy with random tie-breaking: an all-zero row must not always pick action 0
            row = q[obs[0]]
            action = np.array([rng.choice(np.flatnonzero(row == row.max()))])
        next_obs, reward, terminated, truncated, info = envs.step(action)
        s2 = real_next_obs(next_obs, terminated | truncated, info)[0]
        s, a = obs[0], action[0]
        target = reward[0] + args.gamma * (1.0 - terminated[0]) * q[s2].max()
        q[s, a] += args.learning_rate * (target - q[s, a])
        obs = next_obs

        for ret, length in finished_episodes(info):
            log.episode(step + 1, ret, length)
        if (step + 1) % args.eval_every == 0:
            log.evaluation(step + 1, evaluate(greedy, args.env_id, args.eval_episodes))
            log.scalars(step + 1, **{"charts/epsilon": epsilon, "charts/SPS": log.steps_per_second(step + 1)})
        if (step + 1) % args.checkpoint_every == 0:
            save_checkpoint(out / "last.ckpt", step + 1, {"q": q}, rng)
        log.progress(step + 1)
    envs.close()

    seconds = time.time() - t0
    returns = evaluate(greedy, args.env_id, args.eval_episodes)
    final = final_metrics(returns, args.total_timesteps - start_step, seconds)
    exact = exact_greedy_return(args.env_id, q)
    if exact is not None:
        final["exact_greedy_return"] = round(exact, 4)
    files = [save_checkpoint(out / "last.ckpt", args.total_timesteps, {"q": q}, rng)]
    files.append(plot_q_table(args.env_id, q, out / "q_table.png"))
    if args.gif:
        files.append(record_gif(greedy, args.env_id, out / "episode.gif"))
    summary = log.close(final, files)
    print(f"{args.env_id}: greedy return {final['eval_return_mean']:.3f} ± {final['eval_return_std']:.3f} "
          f"over {final['eval_episodes']} episodes"
          + (f", exact {exact:.4f}" if exact is not None else "") + f"; {out}")
    return summary["final"]


def plot_q_table(env_id: str, q: np.ndarray, path) -> object | None:
    """max_a Q(s, a) as a heatmap with the greedy arrows, for the grid worlds; None for others."""
    arrows = {"FrozenLake": "FROZENLAKE_ARROWS", "CliffWalking": "CLIFFWALKING_ARROWS"}
    key = next((k for k in arrows if env_id.startswith(k)), None)
    if key is None:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.tabular import plots
    from rl.tabular.mdp import TabularMDP

    mdp = TabularMDP.from_gymnasium(env_id)
    shape = mdp.grid_shape
    term = mdp.terminal_states.reshape(shape)
    fig, ax = plt.subplots(figsize=(1.0 * shape[1] + 1.5, 1.0 * shape[0] + 0.8))
    im = plots.plot_value_grid(ax, q.max(1).reshape(shape), q.reshape(*shape, -1), mask=term,
                               arrows=getattr(plots, arrows[key]),
                               title=f"{env_id}: max_a Q and greedy policy")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
