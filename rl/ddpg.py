"""DDPG: deep deterministic policy gradient (Lillicrap et al. 2016), Q-learning for continuous actions.

    python -m rl.ddpg --env-id Pendulum-v1 --seed 1                  # the tuned Pendulum preset
    python -m rl.benchmark ddpg --env-id Pendulum-v1 --seeds 5 -- --no-tensorboard --no-gif

A deterministic actor mu(s; phi) proposes the action and a critic Q(s, a; theta) rates it. The critic
is regressed on one-step targets computed with slowly moving copies of both networks; the actor climbs
the critic's gradient with respect to the action (the deterministic policy gradient, Silver et al. 2014):

    y        = r + gamma (1 - terminated) Q(s', mu(s'; phi^-); theta^-)
    L(theta) = mean (Q(s, a; theta) - y)^2
    L(phi)   = -mean Q(s, mu(s; phi); theta)           (the gradient flows through a = mu(s))
    theta^- <- tau theta + (1 - tau) theta^-,   phi^- <- tau phi + (1 - tau) phi^-     (Polyak averaging)

Exploration: a = clip(mu(s) + N(0, sigma^2), -1, 1) (Gaussian noise, or Ornstein-Uhlenbeck with
``--noise ou``); the first ``learning_starts`` steps act uniformly at random to fill the buffer.

Actions. The networks work in [-1, 1]^A (the actor ends in tanh, the replay buffer stores these
actions, and the noise scale is relative to that box); ``to_env`` maps them to the environment's
[low, high] box. This module also holds what TD3 and SAC share with DDPG: the critic ``QNetwork``,
``soft_update`` (Polyak averaging) and ``to_env``.

Termination vs truncation: ``terminated`` zeroes the bootstrap; a time-limit truncation does not (the
buffer stores the real last observation, ``info["final_obs"]``). Pendulum never terminates.

Writes runs/ddpg_<env>_s<seed>/: metrics.csv, TensorBoard events, curves.png, summary.json (final:
deterministic evaluation of mu(s) over ``eval_episodes`` episodes), episode.gif, last.ckpt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from rl.common.args import parse_args, run_dir
from rl.common.buffers import Batch, ReplayBuffer
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import finished_episodes, make_vec_env, real_next_obs
from rl.common.evaluate import PERIODIC_EVAL_SEED, evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = "Pendulum-v1"
    seed: int = 1
    total_timesteps: int = 20_000
    # --- learning
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam, actor and critic"})
    buffer_size: int = 200_000
    gamma: float = 0.98
    tau: float = field(default=0.005, metadata={"help": "Polyak coefficient of the target networks"})
    batch_size: int = 256
    learning_starts: int = field(default=10_000, metadata={"help": "uniformly random steps before learning"})
    gradient_steps: int = field(default=1, metadata={"help": "updates per environment step"})
    hidden: list = field(default_factory=lambda: [256, 256])
    # --- exploration
    noise: str = field(default="normal", metadata={"help": "normal or ou (Ornstein-Uhlenbeck)"})
    exploration_noise: float = field(default=0.1, metadata={"help": "noise std, in the [-1, 1] action box"})
    # --- bookkeeping
    n_envs: int = 1
    eval_every: int = 5_000
    eval_episodes: int = 10
    checkpoint_every: int = 50_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


# The RL Zoo's DDPG settings (Pendulum: gamma 0.98, buffer 2e5, 10k random steps, lr 1e-3, noise 0.1;
# the zoo's [400, 300] networks are replaced by [256, 256], see the README for the timing).
PRESETS: dict[str, dict] = {
    "Pendulum-v1": dict(total_timesteps=20_000, hidden=[64, 64]),
    "MountainCarContinuous-v0": dict(total_timesteps=300_000, noise="ou", exploration_noise=0.5,
                                     learning_starts=100, gamma=0.99, hidden=[64, 64]),
}



# ---------------------------------------------------------------------------------------------------
# Networks and pieces shared with TD3 and SAC
# ---------------------------------------------------------------------------------------------------
def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """in_dim -> hidden (ReLU after each) -> out_dim (linear). x: (B, in_dim) -> (B, out_dim)."""
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class QNetwork(nn.Module):
    """Q(s, a): obs (B, obs_dim) and actions (B, act_dim) in [-1, 1] -> (B,)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, hidden, 1)

    def forward(self, obs: mg.Tensor, actions: mg.Tensor) -> mg.Tensor:
        return self.net(mg.cat([obs, actions], dim=1))[:, 0]


class Actor(nn.Module):
    """mu(s) = tanh(MLP(s)): obs (B, obs_dim) -> actions (B, act_dim) in (-1, 1)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, act_dim)

    def forward(self, obs: mg.Tensor) -> mg.Tensor:
        return self.net(obs).tanh()


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging, theta^- <- tau theta + (1 - tau) theta^- (tau = 1: a copy)."""
    with mg.no_grad():
        for t, p in zip(target.parameters(), source.parameters()):
            if tau >= 1.0:
                t.copy_(p)
            else:
                t.lerp_(p, tau)             # t + tau (p - t)


def to_env(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Actions in [-1, 1]^A (clipped there) -> the environment's box: low + (a + 1) (high - low) / 2."""
    a = np.clip(actions, -1.0, 1.0)
    return (low + 0.5 * (a + 1.0) * (high - low)).astype(np.float32)


class OUNoise:
    """Ornstein-Uhlenbeck noise x_{t+1} = x_t + theta (0 - x_t) dt + sigma sqrt(dt) N(0, 1), one process per
    environment (reset where an episode ends): temporally correlated exploration, for momentum tasks."""

    def __init__(self, shape: tuple[int, ...], sigma: float, theta: float = 0.15, dt: float = 1e-2) -> None:
        self.x = np.zeros(shape, np.float32)
        self.sigma, self.theta, self.dt = sigma, theta, dt

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        self.x = (self.x - self.theta * self.x * self.dt
                  + self.sigma * np.sqrt(self.dt) * rng.standard_normal(self.x.shape)).astype(np.float32)
        return self.x

    def reset(self, done: np.ndarray) -> None:
        self.x[np.asarray(done, bool)] = 0.0


class GaussianNoise:
    """Independent N(0, sigma^2) noise at every step."""

    def __init__(self, shape: tuple[int, ...], sigma: float) -> None:
        self.shape, self.sigma = shape, sigma

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        return (self.sigma * rng.standard_normal(self.shape)).astype(np.float32)

    def reset(self, done: np.ndarray) -> None:
        pass


def exploration_noise(kind: str, shape: tuple[int, ...], sigma: float) -> GaussianNoise | OUNoise:
    """``noise(rng)`` draws (N, A) noise; ``noise.reset(done)`` restarts the episodes that ended."""
    if kind not in ("normal", "ou"):
        raise ValueError(f"unknown noise {kind!r}: normal or ou")
    return OUNoise(shape, sigma) if kind == "ou" else GaussianNoise(shape, sigma)


# ---------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------
def critic_loss(args: Args, batch: Batch, actor_target: Actor, critic: QNetwork, critic_target: QNetwork
                ) -> tuple[mg.Tensor, float]:
    """Mean squared TD error on one batch, and the mean Q(s, a)."""
    obs, actions = mg.tensor(batch.obs), mg.tensor(batch.actions)
    with mg.no_grad():
        next_obs = mg.tensor(batch.next_obs)
        next_q = critic_target(next_obs, actor_target(next_obs))
        y = mg.tensor(batch.rewards) + args.gamma * (1.0 - mg.tensor(batch.terminated)) * next_q
    q = critic(obs, actions)
    return F.mse_loss(q, y), float(q.detach().mean().item())


def actor_loss(obs: mg.Tensor, actor: Actor, critic: QNetwork) -> mg.Tensor:
    """-mean Q(s, mu(s)): its gradient is the deterministic policy gradient."""
    return -critic(obs, actor(obs)).mean()


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "ddpg")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    low, high = envs.single_action_space.low, envs.single_action_space.high

    actor, actor_target = Actor(obs_dim, act_dim, args.hidden), Actor(obs_dim, act_dim, args.hidden)
    critic, critic_target = QNetwork(obs_dim, act_dim, args.hidden), QNetwork(obs_dim, act_dim, args.hidden)
    actor_target.load_state_dict(actor.state_dict())
    critic_target.load_state_dict(critic.state_dict())
    actor_opt = mg.optim.Adam(actor.parameters(), lr=args.learning_rate)
    critic_opt = mg.optim.Adam(critic.parameters(), lr=args.learning_rate)
    buffer = ReplayBuffer(args.buffer_size, (obs_dim,), (act_dim,), action_dtype=np.float32)
    noise = exploration_noise(args.noise, (args.n_envs, act_dim), args.exploration_noise)

    parts = {"actor": actor, "actor_target": actor_target, "critic": critic, "critic_target": critic_target,
             "actor_opt": actor_opt, "critic_opt": critic_opt, "buffer": buffer}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "ddpg", **asdict(args)}, args.total_timesteps, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    def deterministic(o: np.ndarray) -> np.ndarray:
        with mg.no_grad():
            return to_env(actor(mg.tensor(o.reshape(len(o), -1))).numpy(), low, high)

    obs, _ = envs.reset(seed=args.seed + start)
    t0 = time.time()
    step = start
    while step < args.total_timesteps:
        if step < args.learning_starts:
            actions = rng.uniform(-1.0, 1.0, (args.n_envs, act_dim)).astype(np.float32)
        else:
            with mg.no_grad():
                actions = actor(mg.tensor(obs)).numpy()
            actions = np.clip(actions + noise(rng), -1.0, 1.0)
        next_obs, rewards, terminated, truncated, info = envs.step(to_env(actions, low, high))
        buffer.add(obs, actions, rewards, real_next_obs(next_obs, terminated | truncated, info), terminated)
        noise.reset(terminated | truncated)
        obs = next_obs
        step += args.n_envs
        for ret, length in finished_episodes(info):
            log.episode(step, ret, length)

        if step > args.learning_starts:
            for _ in range(args.gradient_steps):
                batch = buffer.sample(args.batch_size, rng)
                q_loss, mean_q = critic_loss(args, batch, actor_target, critic, critic_target)
                critic_opt.zero_grad()
                q_loss.backward()
                critic_opt.step()

                critic.requires_grad_(False)           # the critic only passes the gradient to the action
                pi_loss = actor_loss(mg.tensor(batch.obs), actor, critic)
                actor_opt.zero_grad()
                pi_loss.backward()
                actor_opt.step()
                critic.requires_grad_(True)
                soft_update(critic_target, critic, args.tau)
                soft_update(actor_target, actor, args.tau)
            if step % 100 < args.n_envs:
                log.scalars(step, **{"losses/qf_loss": q_loss.item(), "losses/actor_loss": pi_loss.item(),
                                     "losses/qf_values": mean_q, "charts/SPS": log.steps_per_second(step)})
        if step % args.eval_every < args.n_envs:
            returns = evaluate(deterministic, args.env_id, args.eval_episodes, seed=PERIODIC_EVAL_SEED)
            log.evaluation(step, returns)
        if step % args.checkpoint_every < args.n_envs:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
        log.progress(step)
    envs.close()

    seconds = time.time() - t0
    return finish_run("ddpg", args, log, out, deterministic, step, step - start, seconds, parts, rng)


if __name__ == "__main__":
    main()
