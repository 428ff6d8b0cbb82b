"""SAC: soft actor-critic (Haarnoja et al. 2018), off-policy maximum-entropy RL for continuous actions.

    python -m rl.sac --env-id Pendulum-v1 --seed 1                   # the tuned Pendulum preset
    python -m rl.benchmark sac --env-id Pendulum-v1 --seeds 5 -- --no-tensorboard --no-gif

The agent maximises return plus entropy, sum_t r_t + alpha H(pi(.|s_t)). The policy is a Gaussian
squashed by tanh, a = tanh(u), u ~ N(mu(s), sigma(s)^2); its log-density needs the change of variables

    log pi(a|s) = sum_d [ log N(u_d; mu_d, sigma_d) - log(1 - tanh(u_d)^2) ]

(``minigrad.distributions``: a ``TransformedDistribution`` of a ``Normal`` by a ``TanhTransform``).
Two critics Q_1, Q_2 and their Polyak-averaged targets; the minimum of the two curbs overestimation:

    y          = r + gamma (1 - terminated) [ min_i Q_i(s', a'; theta_i^-) - alpha log pi(a'|s') ],
                 a' ~ pi(.|s')
    L(theta_i) = mean (Q_i(s, a) - y)^2
    L(phi)     = mean [ alpha log pi(a~|s) - min_i Q_i(s, a~) ],  a~ = tanh(mu + sigma eps) (reparameterised)
    L(alpha)   = -mean log(alpha) [ log pi(a~|s) + H_target ],  H_target = -dim(A)

The last line tunes the temperature automatically: when the policy's entropy -log pi falls below the
target, the gradient raises alpha (and lowers it when the entropy is above the target).

Actions live in [-1, 1]^A in the networks and the buffer; ``to_env`` maps them to the environment's box.
Deterministic evaluation acts with tanh(mu(s)). Writes runs/sac_<env>_s<seed>/: metrics.csv,
TensorBoard events, curves.png, summary.json, episode.gif, last.ckpt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.distributions import Normal, TanhTransform, TransformedDistribution
from rl.common.args import parse_args, run_dir
from rl.common.buffers import Batch, ReplayBuffer
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import finished_episodes, make_vec_env, real_next_obs
from rl.common.evaluate import PERIODIC_EVAL_SEED, evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.seeding import seed_everything
from rl.ddpg import QNetwork, mlp, soft_update, to_env


@dataclass
class Args:
    env_id: str = "Pendulum-v1"
    seed: int = 1
    total_timesteps: int = 20_000
    # --- learning
    policy_lr: float = 1e-3
    q_lr: float = 1e-3
    buffer_size: int = 1_000_000
    gamma: float = 0.99
    tau: float = field(default=0.005, metadata={"help": "Polyak coefficient of the target critics"})
    batch_size: int = 256
    learning_starts: int = field(default=100, metadata={"help": "uniformly random steps before learning"})
    gradient_steps: int = field(default=1, metadata={"help": "updates per environment step"})
    policy_frequency: int = field(default=1, metadata={"help": "critic updates per actor/alpha update"})
    hidden: list = field(default_factory=lambda: [256, 256])
    # --- entropy
    autotune: bool = field(default=True, metadata={"help": "tune alpha toward the target entropy"})
    alpha: float = field(default=1.0, metadata={"help": "initial (or, without autotune, fixed) alpha"})
    target_entropy: float | None = field(default=None, metadata={"help": "default -dim(A)"})
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


# The RL Zoo's SAC settings (Pendulum: 20k steps, learning rate 1e-3, SB3 defaults otherwise; 64x64
# networks instead of 256x256, see the README for the timing). MountainCarContinuous: the zoo's settings
# without its gSDE exploration, not measured here (TD3 with OU noise is the measured solver).
PRESETS: dict[str, dict] = {
    "Pendulum-v1": dict(total_timesteps=20_000, hidden=[64, 64]),
    "MountainCarContinuous-v0": dict(total_timesteps=50_000, policy_lr=3e-4, q_lr=3e-4, buffer_size=50_000,
                                     batch_size=512, gamma=0.9999, tau=0.01, learning_starts=0,
                                     autotune=False, alpha=0.1, hidden=[64, 64]),
}

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class TanhGaussianActor(nn.Module):
    """pi(.|s): a = tanh(u), u ~ N(mu(s), diag sigma(s)^2). obs (B, obs_dim) -> a distribution over (B, A).

    log sigma = LOG_STD_MIN + (LOG_STD_MAX - LOG_STD_MIN) (tanh(h) + 1) / 2 keeps sigma in a sane range
    with a smooth gradient.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1])
        self.mean = nn.Linear(hidden[-1], act_dim)
        self.log_std = nn.Linear(hidden[-1], act_dim)

    def forward(self, obs: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(mu, log sigma), each (B, A)."""
        h = self.trunk(obs).relu()
        log_std = self.log_std(h).tanh()
        return self.mean(h), LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1.0)

    def distribution(self, obs: mg.Tensor) -> TransformedDistribution:
        mu, log_std = self(obs)
        return squashed_gaussian(mu, log_std)

    def sample(self, obs: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(a~, log pi(a~|s)): a reparameterised sample (B, A) and its log-density (B,)."""
        dist = self.distribution(obs)
        a = dist.rsample()
        return a, dist.log_prob(a).sum(-1)

    def deterministic(self, obs: mg.Tensor) -> mg.Tensor:
        """tanh(mu(s)), (B, A): the action used for evaluation."""
        return self(obs)[0].tanh()


def squashed_gaussian(mu: mg.Tensor, log_std: mg.Tensor) -> TransformedDistribution:
    """The law of tanh(u), u ~ N(mu, exp(log_std)^2), elementwise. ``TanhTransform(cache_size=1)`` hands
    log_prob the u of the last rsample exactly (no atanh of a value rounded to +-1)."""
    return TransformedDistribution(Normal(mu, log_std.exp()), [TanhTransform(cache_size=1)])


class Temperature(nn.Module):
    """The entropy coefficient alpha = exp(log_alpha), a learnable scalar (a module for state_dict)."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(mg.tensor([math.log(alpha)], dtype=mg.float32))

    def forward(self) -> mg.Tensor:
        return self.log_alpha.exp()


# ---------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------
def critic_loss(args: Args, batch: Batch, actor: TanhGaussianActor, q1: QNetwork, q2: QNetwork,
                q1_target: QNetwork, q2_target: QNetwork, alpha: float) -> tuple[mg.Tensor, float]:
    """Sum of both critics' mean squared soft TD errors, and the mean Q_1(s, a)."""
    obs, actions = mg.tensor(batch.obs), mg.tensor(batch.actions)
    with mg.no_grad():
        next_obs = mg.tensor(batch.next_obs)
        next_a, next_logp = actor.sample(next_obs)
        next_v = mg.minimum(q1_target(next_obs, next_a), q2_target(next_obs, next_a)) - alpha * next_logp
        y = mg.tensor(batch.rewards) + args.gamma * (1.0 - mg.tensor(batch.terminated)) * next_v
    q1_sa, q2_sa = q1(obs, actions), q2(obs, actions)
    return F.mse_loss(q1_sa, y) + F.mse_loss(q2_sa, y), float(q1_sa.detach().mean().item())


def actor_loss(obs: mg.Tensor, actor: TanhGaussianActor, q1: QNetwork, q2: QNetwork, alpha: float
               ) -> tuple[mg.Tensor, mg.Tensor]:
    """mean [alpha log pi(a~|s) - min_i Q_i(s, a~)], and log pi (B,) for the temperature's loss."""
    a, logp = actor.sample(obs)
    return (alpha * logp - mg.minimum(q1(obs, a), q2(obs, a))).mean(), logp


def alpha_loss(temperature: Temperature, logp: mg.Tensor, target_entropy: float) -> mg.Tensor:
    """-mean log(alpha) (log pi + H_target): descending it raises alpha while the entropy is too low."""
    return -(temperature.log_alpha * (logp.detach() + target_entropy)).mean()


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "sac")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    low, high = envs.single_action_space.low, envs.single_action_space.high
    target_entropy = -float(act_dim) if args.target_entropy is None else args.target_entropy

    actor = TanhGaussianActor(obs_dim, act_dim, args.hidden)
    q1, q2 = QNetwork(obs_dim, act_dim, args.hidden), QNetwork(obs_dim, act_dim, args.hidden)
    q1_target, q2_target = QNetwork(obs_dim, act_dim, args.hidden), QNetwork(obs_dim, act_dim, args.hidden)
    q1_target.load_state_dict(q1.state_dict())
    q2_target.load_state_dict(q2.state_dict())
    q_opt = mg.optim.Adam([*q1.parameters(), *q2.parameters()], lr=args.q_lr)
    actor_opt = mg.optim.Adam(actor.parameters(), lr=args.policy_lr)
    temperature = Temperature(args.alpha)
    alpha_opt = mg.optim.Adam(temperature.parameters(), lr=args.q_lr)
    buffer = ReplayBuffer(args.buffer_size, (obs_dim,), (act_dim,), action_dtype=np.float32)

    parts = {"actor": actor, "q1": q1, "q2": q2, "q1_target": q1_target, "q2_target": q2_target,
             "temperature": temperature, "q_opt": q_opt, "actor_opt": actor_opt, "alpha_opt": alpha_opt,
             "buffer": buffer}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "sac", **asdict(args)}, args.total_timesteps, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    def deterministic(o: np.ndarray) -> np.ndarray:
        with mg.no_grad():
            return to_env(actor.deterministic(mg.tensor(o.reshape(len(o), -1))).numpy(), low, high)

    obs, _ = envs.reset(seed=args.seed + start)
    t0 = time.time()
    step, updates = start, 0
    alpha = float(temperature().item())
    pi_loss, logp = mg.zeros(1), mg.zeros(1)     # logged before the first actor update
    while step < args.total_timesteps:
        if step < args.learning_starts:
            actions = rng.uniform(-1.0, 1.0, (args.n_envs, act_dim)).astype(np.float32)
        else:
            with mg.no_grad():
                actions = actor.sample(mg.tensor(obs))[0].numpy()
        next_obs, rewards, terminated, truncated, info = envs.step(to_env(actions, low, high))
        buffer.add(obs, actions, rewards, real_next_obs(next_obs, terminated | truncated, info), terminated)
        obs = next_obs
        step += args.n_envs
        for ret, length in finished_episodes(info):
            log.episode(step, ret, length)

        if step > args.learning_starts:
            for _ in range(args.gradient_steps):
                batch = buffer.sample(args.batch_size, rng)
                q_loss, mean_q = critic_loss(args, batch, actor, q1, q2, q1_target, q2_target, alpha)
                q_opt.zero_grad()
                q_loss.backward()
                q_opt.step()
                updates += 1

                if updates % args.policy_frequency == 0:
                    q1.requires_grad_(False)       # the critics only pass the gradient on to the action
                    q2.requires_grad_(False)
                    pi_loss, logp = actor_loss(mg.tensor(batch.obs), actor, q1, q2, alpha)
                    actor_opt.zero_grad()
                    pi_loss.backward()
                    actor_opt.step()
                    q1.requires_grad_(True)
                    q2.requires_grad_(True)
                    if args.autotune:
                        a_loss = alpha_loss(temperature, logp, target_entropy)
                        alpha_opt.zero_grad()
                        a_loss.backward()
                        alpha_opt.step()
                        alpha = float(temperature().item())
                soft_update(q1_target, q1, args.tau)
                soft_update(q2_target, q2, args.tau)
            if step % 100 < args.n_envs:
                log.scalars(step, **{"losses/qf_loss": q_loss.item(), "losses/actor_loss": pi_loss.item(),
                                     "losses/alpha": alpha, "losses/qf_values": mean_q,
                                     "charts/entropy": -float(logp.detach().mean().item()),
                                     "charts/SPS": log.steps_per_second(step)})
        if step % args.eval_every < args.n_envs:
            returns = evaluate(deterministic, args.env_id, args.eval_episodes, seed=PERIODIC_EVAL_SEED)
            log.evaluation(step, returns)
        if step % args.checkpoint_every < args.n_envs:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
        log.progress(step)
    envs.close()

    seconds = time.time() - t0
    return finish_run("sac", args, log, out, deterministic, step, step - start, seconds, parts, rng,
                      final_extra={"alpha": alpha})


if __name__ == "__main__":
    main()
