"""NAF: normalized advantage functions (Gu et al. 2016), Q-learning with continuous actions.

    python -m rl.naf --env-id Pendulum-v1 --seed 1
    python -m rl.benchmark naf --env-id Pendulum-v1 --seeds 5 -- --no-tensorboard --no-gif

DQN needs max_a Q(s, a), which has no closed form for a general network over a continuous action. NAF
makes it closed-form by giving Q a quadratic shape in the action:

    Q(s, a) = V(s) + A(s, a),   A(s, a) = -1/2 (a - mu(s))^T P(s) (a - mu(s)),   P(s) = L(s) L(s)^T

with L(s) lower-triangular and a positive (exponentiated) diagonal, so P is positive definite, A <= 0
and argmax_a Q(s, a) = mu(s), max_a Q(s, a) = V(s). One network outputs V, mu and the entries of L.
The target needs only V of a slowly moving copy (Polyak averaging, as DDPG):

    y = r + gamma (1 - terminated) V(s'; theta^-),   L(theta) = mean (Q(s, a; theta) - y)^2 + box penalty

Exploration adds Gaussian (or Ornstein-Uhlenbeck) noise to mu(s); the first ``learning_starts`` steps act
uniformly at random. Actions live in [-1, 1]^A (mu + noise is clipped there; mu itself is kept in the box
by a penalty, see ``box_penalty``) and ``to_env`` maps them to the environment's box.
Writes runs/naf_<env>_s<seed>/: metrics.csv, TensorBoard events, curves.png, summary.json (final:
deterministic evaluation of mu(s)), episode.gif, last.ckpt.
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
from rl.ddpg import exploration_noise, mlp, soft_update, to_env


@dataclass
class Args:
    env_id: str = "Pendulum-v1"
    seed: int = 1
    total_timesteps: int = 20_000
    # --- learning
    learning_rate: float = 1e-3
    buffer_size: int = 200_000
    gamma: float = 0.98
    tau: float = field(default=0.005, metadata={"help": "Polyak coefficient of the target network"})
    batch_size: int = 256
    learning_starts: int = field(default=1000, metadata={"help": "uniformly random steps before learning"})
    gradient_steps: int = field(default=1, metadata={"help": "updates per environment step"})
    max_grad_norm: float = 10.0
    loss: str = field(default="mse", metadata={"help": "mse or huber"})
    box_penalty: float = field(default=1.0, metadata={"help": "weight of relu(|mu| - 1)^2"})
    hidden: list = field(default_factory=lambda: [64, 64])
    # --- exploration
    noise: str = field(default="normal", metadata={"help": "normal or ou (Ornstein-Uhlenbeck)"})
    exploration_noise: float = field(default=0.2, metadata={"help": "noise std, in the [-1, 1] action box"})
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


PRESETS: dict[str, dict] = {
    "Pendulum-v1": dict(total_timesteps=20_000),
}



class NAFNetwork(nn.Module):
    """obs (B, obs_dim) -> V (B,), mu (B, A), L (B, A, A) lower-triangular with a positive diagonal;
    ``q(obs, actions)`` -> (B,). A shared ReLU trunk and three linear heads. mu is not squashed (see
    ``box_penalty``); acting clips mu + noise to the box."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.act_dim = act_dim
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1])
        self.value = nn.Linear(hidden[-1], 1)
        self.mu = nn.Linear(hidden[-1], act_dim)
        rows, cols = np.tril_indices(act_dim)
        self.l_entries = nn.Linear(hidden[-1], len(rows))
        # constants: which entries sit on the diagonal, and where each entry goes in the flat A x A matrix
        self.register_buffer("diag_mask", mg.tensor((rows == cols).astype(np.float32)))
        place = np.zeros((len(rows), act_dim * act_dim), np.float32)
        place[np.arange(len(rows)), rows * act_dim + cols] = 1.0
        self.register_buffer("place", mg.tensor(place))

    def forward(self, obs: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor, mg.Tensor]:
        h = self.trunk(obs).relu()
        raw = self.l_entries(h)                                             # (B, A(A+1)/2)
        entries = raw + self.diag_mask * (raw.clamp(-10.0, 5.0).exp() - raw)   # exp on the diagonal only
        L = (entries @ self.place).reshape(-1, self.act_dim, self.act_dim)
        return self.value(h)[:, 0], self.mu(h), L

    def q(self, obs: mg.Tensor, actions: mg.Tensor) -> mg.Tensor:
        v, mu, L = self(obs)
        return v + advantage(actions, mu, L)


def advantage(actions: mg.Tensor, mu: mg.Tensor, L: mg.Tensor) -> mg.Tensor:
    """A(s, a) = -1/2 (a - mu)^T L L^T (a - mu) = -1/2 ||L^T (a - mu)||^2. actions, mu: (B, A); L: (B, A, A)
    -> (B,), <= 0 and 0 exactly at a = mu."""
    d = (actions - mu).unsqueeze(1)          # (B, 1, A)
    lt_d = (d @ L)[:, 0]                     # (B, A): (L^T d)_j = sum_i d_i L_ij
    return -0.5 * (lt_d * lt_d).sum(-1)


def box_penalty(mu: mg.Tensor) -> mg.Tensor:
    """mean_d relu(|mu_d| - 1)^2: pulls mu back into the action box.

    Why it is needed: near an edge of the box the clipped exploration actions all lie on one side of mu,
    and while Q overestimates (early on, Q > y) the TD gradient pushes mu away from them, out of the box,
    where the data can no longer pull it back (a tanh on mu saturates the same way: 2 of 5 Pendulum
    seeds froze at an edge). Inside the box the penalty is zero, so argmax_a Q = mu is unchanged there."""
    return (mu.abs() - 1.0).relu().pow(2).sum(-1).mean()


def naf_loss(args: Args, batch: Batch, net: NAFNetwork, target: NAFNetwork) -> tuple[mg.Tensor, float]:
    """Mean squared TD error against r + gamma (1 - terminated) V'(s'), and the mean Q(s, a)."""
    with mg.no_grad():
        next_v = target(mg.tensor(batch.next_obs))[0]
        y = mg.tensor(batch.rewards) + args.gamma * (1.0 - mg.tensor(batch.terminated)) * next_v
    v, mu, L = net(mg.tensor(batch.obs))
    q = v + advantage(mg.tensor(batch.actions), mu, L)
    td = F.huber_loss(q, y) if args.loss == "huber" else F.mse_loss(q, y)
    return td + args.box_penalty * box_penalty(mu), float(q.detach().mean().item())


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "naf")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    low, high = envs.single_action_space.low, envs.single_action_space.high

    net, target = NAFNetwork(obs_dim, act_dim, args.hidden), NAFNetwork(obs_dim, act_dim, args.hidden)
    target.load_state_dict(net.state_dict())
    optimizer = mg.optim.Adam(net.parameters(), lr=args.learning_rate)
    buffer = ReplayBuffer(args.buffer_size, (obs_dim,), (act_dim,), action_dtype=np.float32)
    noise = exploration_noise(args.noise, (args.n_envs, act_dim), args.exploration_noise)

    parts = {"net": net, "target": target, "optimizer": optimizer, "buffer": buffer}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "naf", **asdict(args)}, args.total_timesteps, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    def deterministic(o: np.ndarray) -> np.ndarray:
        with mg.no_grad():
            return to_env(net(mg.tensor(o.reshape(len(o), -1)))[1].numpy(), low, high)

    obs, _ = envs.reset(seed=args.seed + start)
    t0 = time.time()
    step = start
    while step < args.total_timesteps:
        if step < args.learning_starts:
            actions = rng.uniform(-1.0, 1.0, (args.n_envs, act_dim)).astype(np.float32)
        else:
            with mg.no_grad():
                actions = net(mg.tensor(obs))[1].numpy()
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
                loss, mean_q = naf_loss(args, buffer.sample(args.batch_size, rng), net, target)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), args.max_grad_norm)
                optimizer.step()
                soft_update(target, net, args.tau)
            if step % 100 < args.n_envs:
                log.scalars(step, **{"losses/qf_loss": loss.item(), "losses/qf_values": mean_q,
                                     "charts/SPS": log.steps_per_second(step)})
        if step % args.eval_every < args.n_envs:
            returns = evaluate(deterministic, args.env_id, args.eval_episodes, seed=PERIODIC_EVAL_SEED)
            log.evaluation(step, returns)
        if step % args.checkpoint_every < args.n_envs:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
        log.progress(step)
    envs.close()

    seconds = time.time() - t0
    return finish_run("naf", args, log, out, deterministic, step, step - start, seconds, parts, rng)


if __name__ == "__main__":
    main()
