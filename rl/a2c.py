"""A2C: synchronous advantage actor-critic on N vectorised environments, with an entropy bonus.

    python -m rl.a2c                                        # CartPole-v1, 8 envs x 5 steps, 500k steps
    python -m rl.a2c --shared                               # one trunk for the actor and the critic
    python -m rl.benchmark a2c --env-id CartPole-v1 --seeds 5 -- --no-gif --no-tensorboard

Every n_steps steps of the N environments, one gradient step on

    A_t  = GAE(lambda) over the short rollout (lambda = 1: the n-step return minus V(s_t)),
           bootstrapped from V of the observation after the rollout
    loss = -mean_t log pi(a_t|s_t) A_t + vf_coef mean_t (V(s_t) - R_t)^2 - ent_coef mean_t H(pi(.|s_t))

The critic is the baseline of the policy gradient and, through the bootstrap, its target as well
(actor-critic). "Advantage": A = Q - V estimated by the return minus V. Synchronous: the N environments
step in lockstep and give one batch, rather than A3C's asynchronous workers. A2C is PPO with one epoch,
one minibatch and no clipping (the ratio is 1 at the only step). RMSprop as in the original paper and
Stable-Baselines3; gradients clipped to a global norm.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn as nn
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
    total_timesteps: int = 500_000
    n_envs: int = 8
    n_steps: int = 5
    gamma: float = 0.99
    gae_lambda: float = 1.0
    normalize_obs: bool = False
    normalize_reward: bool = False
    learning_rate: float = 7e-4
    anneal_lr: bool = False
    rms_eps: float = 1e-5
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    norm_adv: bool = False
    hidden: list = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    shared: bool = field(default=False, metadata={"help": "one trunk for actor and critic"})
    policy: str = "auto"
    log_std_init: float = 0.0
    # --- bookkeeping
    eval_every: int = 25_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


PRESETS: dict[str, dict] = {
    "CartPole-v1": dict(total_timesteps=500_000),
    "Acrobot-v1": dict(total_timesteps=500_000, n_envs=16, normalize_obs=True, normalize_reward=True),
}


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "a2c")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, normalize_obs=args.normalize_obs,
                        normalize_reward=args.normalize_reward, gamma=args.gamma)
    norm = envs if isinstance(envs, VecNormalize) else None
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    space = envs.single_action_space
    agent = ActorCritic(obs_dim, space, args.hidden, args.activation, args.policy, args.shared,
                        args.log_std_init)
    optimizer = mg.optim.RMSprop(agent.parameters(), lr=args.learning_rate, alpha=0.99, eps=args.rms_eps)
    discrete = hasattr(space, "n")
    buffer = RolloutBuffer(args.n_steps, args.n_envs, (obs_dim,), () if discrete else space.shape,
                           np.int64 if discrete else np.float32)
    rollout = args.n_envs * args.n_steps
    n_updates = max(1, args.total_timesteps // rollout)

    parts = {"agent": agent, "optimizer": optimizer, **({"norm": norm} if norm else {})}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "a2c", **asdict(args)}, n_updates * rollout, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    obs, _ = envs.reset(seed=args.seed + start)
    obs = obs.reshape(args.n_envs, -1).astype(np.float32)
    t0 = time.time()
    step = start
    log_every = max(1, 1000 // rollout)
    for update in range(start // rollout, n_updates):
        lr = args.learning_rate * ((1.0 - update / n_updates) if args.anneal_lr else 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr
        obs, step = collect_rollout(envs, agent, buffer, obs, step, log)
        with mg.no_grad():
            last_values = agent.value(mg.tensor(obs)).numpy()
        advantages, returns = buffer.compute_advantages(last_values, args.gamma, args.gae_lambda)

        b_obs = mg.tensor(buffer.obs.reshape(rollout, -1))
        adv = advantages.reshape(-1)
        if args.norm_adv:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        dist = agent.distribution(b_obs)
        logp = dist.log_prob(mg.tensor(buffer.actions.reshape(rollout, *buffer.actions.shape[2:])))
        pg_loss = -(logp * mg.tensor(adv.astype(np.float32))).mean()
        v_loss = ((agent.value(b_obs) - mg.tensor(returns.reshape(-1).astype(np.float32))) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
        optimizer.step()

        if update % log_every == 0:
            log.scalars(step, **{"losses/policy_loss": pg_loss.item(), "losses/value_loss": v_loss.item(),
                                 "losses/entropy": entropy.item(),
                                 "losses/explained_variance": explained_variance(buffer.values.ravel(),
                                                                                 returns.ravel())})
        if step // args.eval_every > (step - rollout) // args.eval_every:
            returns_eval = evaluate(agent.deterministic, args.env_id, args.eval_episodes, obs_norm=norm)
            log.evaluation(step, returns_eval)
        if step // args.checkpoint_every > (step - rollout) // args.checkpoint_every:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
    envs.close()

    seconds = time.time() - t0
    return finish_run("a2c", args, log, out, agent.deterministic, step, step - start, seconds, parts, rng,
                      obs_norm=norm)


if __name__ == "__main__":
    main()
