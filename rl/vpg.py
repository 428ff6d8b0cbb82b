"""VPG: the vanilla policy gradient with GAE(lambda) advantages and a learned value function
(Spinning Up's ``vpg``): one policy-gradient step per batch, then the critic fitted to the returns.

    python -m rl.vpg                                        # CartPole-v1
    python -m rl.vpg --env-id Pendulum-v1                   # a diagonal Gaussian policy
    python -m rl.benchmark vpg --env-id CartPole-v1 --seeds 5 -- --no-gif --no-tensorboard

    delta_t = r_t + gamma V(s_{t+1}) - V(s_t)                (the TD error: a one-step advantage)
    A_t     = sum_k (gamma lambda)^k delta_{t+k}             (GAE: lambda = 0 one-step TD, 1 Monte Carlo)
    policy: one Adam step on -mean_t log pi(a_t|s_t) A_t     (A normalised over the batch)
    critic: value_iters Adam steps on mean_t (V(s_t) - (A_t + V(s_t)))^2

Lambda trades bias (a wrong V biases short horizons) for variance (long sums of rewards). Between
REINFORCE (lambda = 1, whole episodes) and A2C (short rollouts, one shared loss); PPO and TRPO keep
this estimator and change only how far one batch may move the policy.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
from rl.common.args import parse_args, run_dir
from rl.common.buffers import RolloutBuffer
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import VecNormalize, make_vec_env
from rl.common.evaluate import evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.policies import ActorCritic, collect_rollout, explained_variance
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = "CartPole-v1"
    seed: int = 1
    total_timesteps: int = 300_000
    n_envs: int = 4
    n_steps: int = field(default=1000, metadata={"help": "steps per env per batch (4000 in all)"})
    gamma: float = 0.99
    gae_lambda: float = 0.97
    normalize_obs: bool = False
    pi_lr: float = 3e-3
    vf_lr: float = 1e-3
    value_iters: int = 80
    hidden: list = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    policy: str = "auto"
    log_std_init: float = -0.5
    # --- bookkeeping
    eval_every: int = 20_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


PRESETS: dict[str, dict] = {"CartPole-v1": dict(total_timesteps=300_000)}


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "vpg")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, normalize_obs=args.normalize_obs,
                        gamma=args.gamma)
    norm = envs if isinstance(envs, VecNormalize) else None
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    space = envs.single_action_space
    agent = ActorCritic(obs_dim, space, args.hidden, args.activation, args.policy, False, args.log_std_init)
    pi_opt = mg.optim.Adam(agent.actor_parameters(), lr=args.pi_lr)
    v_opt = mg.optim.Adam(agent.critic_parameters(), lr=args.vf_lr)
    discrete = hasattr(space, "n")
    buffer = RolloutBuffer(args.n_steps, args.n_envs, (obs_dim,), () if discrete else space.shape,
                           np.int64 if discrete else np.float32)
    rollout = args.n_envs * args.n_steps
    n_updates = max(1, args.total_timesteps // rollout)

    parts = {"agent": agent, "pi_optimizer": pi_opt, "v_optimizer": v_opt, **({"norm": norm} if norm else {})}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "vpg", **asdict(args)}, n_updates * rollout, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    obs, _ = envs.reset(seed=args.seed + start)
    obs = obs.reshape(args.n_envs, -1).astype(np.float32)
    t0 = time.time()
    step = start
    for _ in range(start // rollout, n_updates):
        obs, step = collect_rollout(envs, agent, buffer, obs, step, log)
        with mg.no_grad():
            last_values = agent.value(mg.tensor(obs)).numpy()
        advantages, returns = buffer.compute_advantages(last_values, args.gamma, args.gae_lambda)
        adv = advantages.reshape(-1)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        b_obs = mg.tensor(buffer.obs.reshape(rollout, -1))
        b_actions = mg.tensor(buffer.actions.reshape(rollout, *buffer.actions.shape[2:]))

        dist = agent.distribution(b_obs)
        pi_loss = -(dist.log_prob(b_actions) * mg.tensor(adv.astype(np.float32))).mean()
        pi_opt.zero_grad()
        pi_loss.backward()
        pi_opt.step()

        target = mg.tensor(returns.reshape(-1).astype(np.float32))
        for _ in range(args.value_iters):
            v_loss = ((agent.value(b_obs) - target) ** 2).mean()
            v_opt.zero_grad()
            v_loss.backward()
            v_opt.step()

        with mg.no_grad():
            kl = dist.detach().kl(agent.distribution(b_obs)).mean().item()
        log.scalars(step, **{"losses/policy_loss": pi_loss.item(), "losses/value_loss": v_loss.item(),
                             "losses/kl": kl, "losses/entropy": dist.entropy().mean().item(),
                             "losses/explained_variance": explained_variance(buffer.values.ravel(),
                                                                             returns.ravel())})
        if step // args.eval_every > (step - rollout) // args.eval_every:
            returns_eval = evaluate(agent.deterministic, args.env_id, args.eval_episodes, obs_norm=norm)
            log.evaluation(step, returns_eval)
        if step // args.checkpoint_every > (step - rollout) // args.checkpoint_every:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
    envs.close()

    seconds = time.time() - t0
    return finish_run("vpg", args, log, out, agent.deterministic, step, step - start, seconds, parts, rng,
                      obs_norm=norm)


if __name__ == "__main__":
    main()
