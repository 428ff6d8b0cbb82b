"""REINFORCE: the Monte-Carlo policy gradient with reward-to-go and a choice of baseline.

    python -m rl.reinforce                                  # CartPole-v1, learned value baseline, 500k steps
    python -m rl.reinforce --baseline none                  # G_t alone: unbiased, but every G_t > 0 here
    python -m rl.reinforce --baseline mean                  # G_t minus the running mean of the G's seen
    python -m rl.benchmark reinforce --env-id CartPole-v1 --seeds 5 -- --no-gif --no-tensorboard

The log-derivative trick turns the gradient of an expectation into an expectation we can sample:

    grad_theta E_tau[R(tau)] = E_tau[ sum_t grad log pi_theta(a_t|s_t) R(tau) ]

since grad p(tau) = p(tau) grad log p(tau) and the dynamics do not depend on theta. Causality: an action
cannot change rewards that came before it, so R(tau) may be replaced by the reward-to-go
G_t = sum_{k>=t} gamma^(k-t) r_k (same mean, less variance). Any b(s_t) may be subtracted, because
E_a[grad log pi(a|s) b(s)] = b(s) grad sum_a pi(a|s) = 0:

    loss = -mean_t log pi_theta(a_t|s_t) (G_t - b(s_t))

Baselines: none (b = 0), mean (b = running mean of all G_t so far, a constant), value (b = V_phi(s_t),
regressed on G_t after each batch; it also bootstraps episodes cut by the time limit,
G_t += gamma^(T-t) V(s_final)). With CartPole's reward of +1 a step every G_t is positive, so without a
baseline every sampled action is made more likely, the good ones only a little more: learning is slower
and noisier (``python -m rl.pg_demos baselines`` draws this over seeds).

A batch is whole episodes: N environments play from a reset until the finished episodes hold at least
``batch_size`` steps; the episodes still running are dropped (their steps count in the budget), so every
G_t is a true Monte-Carlo return of the current policy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
from rl.common.args import parse_args, run_dir
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import RunningMeanStd, finished_episodes, make_vec_env
from rl.common.evaluate import evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.policies import ActorCritic, explained_variance
from rl.common.returns import discounted_returns
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = "CartPole-v1"
    seed: int = 1
    total_timesteps: int = 500_000
    gamma: float = 0.99
    baseline: str = field(default="value", metadata={"help": "none, mean or value"})
    batch_size: int = field(default=5000, metadata={"help": "env steps per update (whole episodes)"})
    n_envs: int = 4
    learning_rate: float = 1e-2
    value_lr: float = 1e-3
    value_iters: int = field(default=80, metadata={"help": "full-batch steps on V per update"})
    hidden: list = field(default_factory=lambda: [32])
    activation: str = "tanh"
    policy: str = "auto"
    log_std_init: float = 0.0
    # --- bookkeeping
    eval_every: int = 50_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


PRESETS: dict[str, dict] = {"CartPole-v1": dict(total_timesteps=500_000)}


def collect_episodes(envs, agent: ActorCritic, batch_size: int, gamma: float, bootstrap: bool, step: int,
                     log) -> tuple[dict[str, np.ndarray], int]:
    """Play N environments from a reset until the finished episodes hold at least batch_size steps.
    Episodes still running then are dropped (every G_t is a whole episode's, from this policy); their
    steps still count. Returns the batch (obs, raw actions, rewards-to-go G) and the env step."""
    n_envs = envs.num_envs
    obs, _ = envs.reset()
    obs = obs.reshape(n_envs, -1).astype(np.float32)
    obs_l, act_l, ret_l = [], [], []
    running = [([], [], []) for _ in range(n_envs)]       # per env: observations, actions, rewards
    n = 0
    while n < batch_size:
        with mg.no_grad():
            raw = agent.distribution(mg.tensor(obs)).sample()
        next_obs, rewards, terminated, truncated, info = envs.step(agent.env_actions(raw))
        step += n_envs
        for i, (ep_obs, ep_act, ep_rew) in enumerate(running):
            ep_obs.append(obs[i])
            ep_act.append(raw[i])
            ep_rew.append(float(rewards[i]))
            if not (terminated[i] or truncated[i]):
                continue
            G = discounted_returns(np.array(ep_rew), gamma)
            if truncated[i] and not terminated[i] and bootstrap:
                final = np.asarray(info["final_obs"][i], np.float32).reshape(1, -1)
                with mg.no_grad():
                    v_final = agent.value(mg.tensor(final)).item()
                G = G + gamma ** np.arange(len(G), 0, -1) * v_final     # gamma^(T - t) V(s_final)
            obs_l += ep_obs
            act_l += ep_act
            ret_l.append(G)
            n += len(G)
            running[i] = ([], [], [])
        for ret, length in finished_episodes(info):
            log.episode(step, ret, length)
        log.progress(step)
        obs = next_obs.reshape(n_envs, -1).astype(np.float32)
    batch = {"obs": np.stack(obs_l), "actions": np.stack(act_l), "returns": np.concatenate(ret_l)}
    return batch, step


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    if args.baseline not in ("none", "mean", "value"):
        raise ValueError(f"reinforce: --baseline must be none, mean or value, got {args.baseline!r}")
    out = run_dir(args, "reinforce")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    agent = ActorCritic(obs_dim, envs.single_action_space, args.hidden, args.activation, args.policy,
                        log_std_init=args.log_std_init)
    pi_opt = mg.optim.Adam(agent.actor_parameters(), lr=args.learning_rate)
    v_opt = mg.optim.Adam(agent.critic_parameters(), lr=args.value_lr)
    return_stats = RunningMeanStd(())

    parts = {"agent": agent, "pi_optimizer": pi_opt, "v_optimizer": v_opt}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, extra = load_checkpoint(out / "last.ckpt", parts, rng)
        return_stats.load_state_dict(extra["return_stats"])
    log = RunLogger(out, {"algo": "reinforce", **asdict(args)}, args.total_timesteps,
                    tensorboard=args.tensorboard, progress=args.progress,
                    resume_step=start if args.resume else None)

    envs.reset(seed=args.seed + start)
    t0 = time.time()
    step = start
    while step < args.total_timesteps:
        prev = step
        batch, step = collect_episodes(envs, agent, args.batch_size, args.gamma, args.baseline == "value",
                                       step, log)
        b_obs = mg.tensor(batch["obs"])
        G = batch["returns"].astype(np.float32)
        with mg.no_grad():
            values = agent.value(b_obs).numpy()
        if args.baseline == "value":
            baseline = values
        elif args.baseline == "mean":
            baseline = np.full_like(G, return_stats.mean if return_stats.count > 1 else 0.0)
        else:
            baseline = np.zeros_like(G)
        adv = mg.tensor((G - baseline).astype(np.float32))

        logp = agent.distribution(b_obs).log_prob(mg.tensor(batch["actions"]))
        pi_loss = -(logp * adv).mean()
        pi_opt.zero_grad()
        pi_loss.backward()
        pi_opt.step()

        return_stats.update(G)
        v_loss = float("nan")
        if args.baseline == "value":
            target = mg.tensor(G)
            for _ in range(args.value_iters):
                loss = ((agent.value(b_obs) - target) ** 2).mean()
                v_opt.zero_grad()
                loss.backward()
                v_opt.step()
            v_loss = loss.item()
        log.scalars(step, **{"losses/policy_loss": pi_loss.item(), "losses/value_loss": v_loss,
                             "losses/explained_variance": explained_variance(values, G)})
        if step // args.eval_every > prev // args.eval_every:
            log.evaluation(step, evaluate(agent.deterministic, args.env_id, args.eval_episodes))
        if step // args.checkpoint_every > prev // args.checkpoint_every:
            save_checkpoint(out / "last.ckpt", step, parts, rng,
                            extra={"return_stats": return_stats.state_dict()})
    envs.close()

    seconds = time.time() - t0
    return finish_run("reinforce", args, log, out, agent.deterministic, step, step - start, seconds, parts,
                      rng, checkpoint_extra={"return_stats": return_stats.state_dict()})


if __name__ == "__main__":
    main()
