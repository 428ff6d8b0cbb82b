"""DQN and its family in one file: each Rainbow component is a switch, and the whole algorithm reads
top to bottom.

    python -m rl.dqn --env-id CartPole-v1 --seed 1                    # DQN with the tuned CartPole preset
    python -m rl.dqn --env-id CartPole-v1 --double --dueling          # + Double DQN, + dueling heads
    python -m rl.dqn --env-id Acrobot-v1 --prioritized --n-step 3     # + prioritised replay, 3-step returns
    python -m rl.dqn --env-id CartPole-v1 --noisy --distributional c51 # NoisyNet exploration, C51 head
    python -m rl.dqn --env-id CartPole-v1 --rainbow                   # all of them together
    python -m rl.benchmark dqn --env-id CartPole-v1 --seeds 5         # mean ± std over seeds

The loss. A Q-network Q(s, a; theta) is regressed on bootstrapped targets computed with a slowly
moving copy of itself (the target network theta^-), from transitions replayed at random from a buffer
of recent experience (which decorrelates consecutive updates):

    y = r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1} + gamma^k (1 - terminated) Q(s_{t+k}, a*; theta^-)
    L = mean_i w_i huber(Q(s_i, a_i; theta) - y_i)

DQN:           a* = argmax_a Q(s', a; theta^-), k = 1, w = 1
Double DQN:    a* = argmax_a Q(s', a; theta): the online network picks, the target network rates,
               which removes most of the max operator's upward bias (van Hasselt et al. 2016)
Dueling:       Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a'): a state-value stream and an advantage
               stream on a shared trunk; subtracting the mean makes V and A identifiable
Prioritised:   transitions drawn with probability proportional to |TD error|^alpha, the loss weighted
               by w_i = (N P(i))^-beta / max w, beta annealed to 1 (rl.common.buffers)
n-step:        k = n rewards before bootstrapping (fewer at the end of an episode)
NoisyNet:      the heads' linear layers are w = mu + sigma * eps with factorised Gaussian noise eps,
               resampled every step: exploration without epsilon, learned per weight
C51:           the head predicts a distribution over 51 fixed returns (the support z); the target
               distribution r + gamma^k z is projected back onto the support, loss = cross-entropy
QR-DQN:        the head predicts N quantiles of the return; loss = quantile Huber regression
Rainbow:       double + dueling + prioritised + 3-step + noisy + C51

Termination vs truncation: ``terminated`` zeroes the bootstrap; a time-limit truncation does not (the
replay buffer stores the real last observation, ``info["final_obs"]``).

Writes runs/dqn_<env>_s<seed>/: metrics.csv, TensorBoard events, curves.png, summary.json (final:
deterministic greedy evaluation over ``eval_episodes`` episodes), episode.gif, last.ckpt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from rl.common.args import parse_args, run_dir
from rl.common.buffers import NStepReturns, PrioritizedReplayBuffer, ReplayBuffer
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import finished_episodes, make_vec_env, real_next_obs
from rl.common.evaluate import PERIODIC_EVAL_SEED, evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = "CartPole-v1"
    seed: int = 1
    total_timesteps: int = 50_000
    # --- learning
    learning_rate: float = 2.3e-3
    buffer_size: int = 100_000
    gamma: float = 0.99
    batch_size: int = 64
    learning_starts: int = field(default=1000, metadata={"help": "env steps before the first update"})
    train_frequency: int = field(default=256, metadata={"help": "env steps between training phases"})
    gradient_steps: int = field(default=128, metadata={"help": "updates per training phase"})
    target_network_frequency: int = field(default=10, metadata={"help": "env steps between target updates"})
    tau: float = field(default=1.0, metadata={"help": "target update: 1 = copy, < 1 = Polyak averaging"})
    loss: str = field(default="huber", metadata={"help": "huber or mse (scalar heads)"})
    max_grad_norm: float = 10.0
    anneal_lr: bool = field(default=False, metadata={"help": "decay the learning rate linearly to 0"})
    hidden: list = field(default_factory=lambda: [256, 256])
    # --- exploration
    exploration: str = field(default="epsilon", metadata={"help": "epsilon or boltzmann"})
    start_e: float = 1.0
    end_e: float = 0.04
    exploration_fraction: float = field(default=0.16, metadata={"help": "part of the run to decay over"})
    temperature: float = field(default=1.0, metadata={"help": "Boltzmann: final temperature (starts 10x)"})
    # --- the Rainbow components
    double: bool = False
    dueling: bool = False
    prioritized: bool = False
    alpha: float = field(default=0.6, metadata={"help": "prioritised replay exponent"})
    beta0: float = field(default=0.4, metadata={"help": "initial IS exponent, annealed to 1"})
    n_step: int = 1
    noisy: bool = False
    sigma0: float = field(default=0.5, metadata={"help": "NoisyNet initial sigma (factorised)"})
    distributional: str = field(default="none", metadata={"help": "none, c51 or qr"})
    n_atoms: int = field(default=51, metadata={"help": "C51 atoms / QR quantiles"})
    v_min: float = -10.0
    v_max: float = 10.0
    rainbow: bool = field(default=False, metadata={"help": "double+dueling+prioritized+3-step+noisy+c51"})
    # --- switches for the lessons (rl.dqn_lessons)
    target_network: bool = field(default=True, metadata={
        "help": "--no-target-network: bootstrap from the online network itself (theta^- = theta)"})
    reward_noise: float = field(default=0.0, metadata={
        "help": "std of zero-mean Gaussian noise added to the training rewards (evaluation: the real ones)"})
    # --- bookkeeping
    n_envs: int = 1
    eval_every: int = 10_000
    eval_episodes: int = 10
    keep_best: bool = field(default=False, metadata={
        "help": "end with the network of the best periodic evaluation (its own episode seeds), not the last"})
    checkpoint_every: int = 50_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


# Tuned per environment: the RL Zoo's DQN settings, plus, for CartPole, what made every seed succeed.
# With the Zoo's settings alone (50k steps) 5 seeds evaluated to 500, 375, 72, 18 and 473: DQN's greedy
# policy keeps oscillating between good and bad. Twice the steps with the learning rate annealed to 0,
# Double DQN, and keeping the best of the periodic evaluations (every 5k steps, on their own episode
# seeds) gave 500 on every seed. MountainCar: the Zoo's settings, keeping the best periodic network too
# (5 seeds: -105.3 +- 5.9, 3 of 5 at or above -110; the final networks of seeds 1 and 2: -116.4, -111.5).
# Flags given on the command line override these.
PRESETS: dict[str, dict] = {
    "CartPole-v1": dict(total_timesteps=100_000, anneal_lr=True, double=True, keep_best=True,
                        eval_every=5000),
    "Acrobot-v1": dict(
        total_timesteps=100_000, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0,
        target_network_frequency=250, train_frequency=4, gradient_steps=-1, exploration_fraction=0.12,
        end_e=0.1),
    "MountainCar-v0": dict(
        total_timesteps=120_000, learning_rate=4e-3, batch_size=128, buffer_size=10_000, learning_starts=1000,
        gamma=0.98, target_network_frequency=600, train_frequency=16, gradient_steps=8,
        exploration_fraction=0.2, end_e=0.07, keep_best=True),
    "LunarLander-v3": dict(
        total_timesteps=500_000, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0,
        target_network_frequency=250, train_frequency=4, gradient_steps=-1, exploration_fraction=0.12,
        end_e=0.1),
}


# ---------------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------------
class NoisyLinear(nn.Module):
    """y = (mu_W + sigma_W * eps_W) x + mu_b + sigma_b * eps_b with factorised noise (Fortunato et al.):
    eps_W = f(eps_out) f(eps_in)^T, eps_b = f(eps_out), f(u) = sign(u) sqrt(|u|), u ~ N(0, 1).

    x: (B, in) -> (B, out). ``reset_noise`` draws new eps; in eval mode the layer is its mean
    (the deterministic policy). The gradient reaches mu and sigma: d y / d sigma_W = eps_W x.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5) -> None:
        super().__init__()
        bound = 1.0 / np.sqrt(in_features)
        self.weight_mu = nn.Parameter(mg.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(mg.full((out_features, in_features), sigma0 * bound))
        self.bias_mu = nn.Parameter(mg.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(mg.full((out_features,), sigma0 * bound))
        self.register_buffer("eps_in", mg.zeros(in_features))
        self.register_buffer("eps_out", mg.zeros(out_features))
        self.reset_noise()

    def reset_noise(self) -> None:
        f = lambda u: u.sign() * u.abs().sqrt()
        self.eps_in.copy_(f(mg.randn(self.eps_in.shape[0])))
        self.eps_out.copy_(f(mg.randn(self.eps_out.shape[0])))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        w = self.weight_mu + self.weight_sigma * self.eps_out.unsqueeze(1) * self.eps_in.unsqueeze(0)
        return F.linear(x, w, self.bias_mu + self.bias_sigma * self.eps_out)


def dueling_combine(value: mg.Tensor, advantage: mg.Tensor) -> mg.Tensor:
    """Q = V + A - mean_a A. value: (B, 1, ...) and advantage: (B, A, ...) -> (B, A, ...)."""
    return value + advantage - advantage.mean(1, keepdim=True)


class QNetwork(nn.Module):
    """obs (B, obs_dim) -> (B, A, atoms): Q-values (atoms = 1), C51 logits or QR quantiles.

    An MLP trunk with ReLU, then one head (Q) or two (V and A, dueling); NoisyLinear heads with
    ``noisy``.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: list[int], dueling: bool = False,
                 noisy: bool = False, atoms: int = 1, sigma0: float = 0.5) -> None:
        super().__init__()
        layers, d = [], obs_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.trunk = nn.Sequential(*layers)
        head = (lambda i, o: NoisyLinear(i, o, sigma0)) if noisy else nn.Linear
        self.n_actions, self.atoms, self.dueling = n_actions, atoms, dueling
        self.advantage = head(d, n_actions * atoms)
        self.value = head(d, atoms) if dueling else None

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        h = self.trunk(x)
        out = self.advantage(h).reshape(-1, self.n_actions, self.atoms)
        if self.dueling:
            out = dueling_combine(self.value(h).reshape(-1, 1, self.atoms), out)
        return out

    def reset_noise(self) -> None:
        for m in self.modules():
            if isinstance(m, NoisyLinear):
                m.reset_noise()


# ---------------------------------------------------------------------------------------------------
# Heads: from the network's output to Q-values, and the loss of each kind of head
# ---------------------------------------------------------------------------------------------------
def q_values(out: mg.Tensor, kind: str, support: mg.Tensor | None) -> mg.Tensor:
    """(B, A, atoms) network output -> (B, A) expected returns."""
    if kind == "c51":
        return (F.softmax(out, -1) * support).sum(-1)
    return out.mean(-1)      # a scalar head (atoms = 1), or the mean of QR's quantiles


def c51_project(next_probs: np.ndarray, rewards: np.ndarray, discounts: np.ndarray, support: np.ndarray
                ) -> np.ndarray:
    """Project the distribution of r + discount * z (z on ``support``, probabilities next_probs) back
    onto the support (Bellemare et al. 2017, Algorithm 1).

    next_probs: (B, K); rewards, discounts: (B,) with discount = gamma^k (1 - terminated); support: (K,)
    Returns (B, K): each shifted atom's mass split between its two neighbours on the support, in
    proportion to how close it lies to each.
    """
    B, K = next_probs.shape
    v_min, v_max = support[0], support[-1]
    dz = (v_max - v_min) / (K - 1)
    tz = np.clip(rewards[:, None] + discounts[:, None] * support[None], v_min, v_max)
    b = (tz - v_min) / dz
    lo, hi = np.floor(b).astype(np.int64), np.ceil(b).astype(np.int64)
    exact = lo == hi                       # landed on an atom: all its mass stays there
    rows = np.repeat(np.arange(B), K)
    m = np.zeros((B, K))
    np.add.at(m, (rows, lo.ravel()), (next_probs * np.where(exact, 1.0, hi - b)).ravel())
    np.add.at(m, (rows, hi.ravel()), (next_probs * np.where(exact, 0.0, b - lo)).ravel())
    return m


def quantile_huber_loss(pred: mg.Tensor, target: mg.Tensor, kappa: float = 1.0) -> mg.Tensor:
    """QR-DQN's loss. pred: (B, N) quantiles at tau_i = (2i + 1) / 2N, target: (B, N') samples of the
    target distribution -> (B,): sum_i mean_j |tau_i - 1{u_ij < 0}| huber_kappa(u_ij) / kappa,
    u_ij = target_j - pred_i."""
    n = pred.shape[1]
    tau = mg.tensor((2 * np.arange(n) + 1) / (2.0 * n), dtype=pred.dtype).reshape(1, n, 1)
    u = target.unsqueeze(1) - pred.unsqueeze(2)                      # (B, N, N')
    huber = F.huber_loss(u, mg.zeros_like(u), reduction="none", delta=kappa)
    weight = (tau - (u.detach() < 0).to(pred.dtype)).abs()
    return (weight * huber / kappa).mean(2).sum(1)


def td_loss(args: Args, q_net: QNetwork, target_net: QNetwork, batch, support: mg.Tensor | None
            ) -> tuple[mg.Tensor, np.ndarray, float]:
    """The loss of one replayed batch: (loss, per-sample TD errors for the priorities, mean Q)."""
    kind = args.distributional
    obs = mg.tensor(batch.obs)
    next_obs = mg.tensor(batch.next_obs)
    actions = batch.actions.astype(np.int64)
    idx = np.arange(len(actions))
    discount = (args.gamma ** batch.steps) * (1.0 - batch.terminated)          # (B,) numpy
    weights = mg.tensor(batch.weights)

    out = q_net(obs)                                                             # (B, A, atoms)
    with mg.no_grad():
        next_target = target_net(next_obs)
        picker = q_net(next_obs) if args.double else next_target                 # who chooses a*
        a_star = q_values(picker, kind, support).numpy().argmax(1)
        chosen_next = next_target[idx, a_star]                                   # (B, atoms)

    chosen = out[idx, actions]                                                   # (B, atoms)
    if kind == "c51":
        target = c51_project(F.softmax(chosen_next, -1).numpy(), batch.rewards, discount, support.numpy())
        per_sample = -(mg.tensor(target, dtype=chosen.dtype) * F.log_softmax(chosen, -1)).sum(-1)
        errors = per_sample.detach().numpy()
    elif kind == "qr":
        target = batch.rewards[:, None] + discount[:, None] * chosen_next.numpy()
        target = mg.tensor(target, dtype=chosen.dtype)
        per_sample = quantile_huber_loss(chosen, target)
        errors = per_sample.detach().numpy()
    else:
        y = mg.tensor(batch.rewards + discount * chosen_next.numpy()[:, 0], dtype=chosen.dtype)
        q_sa = chosen[:, 0]
        if args.loss == "huber":
            per_sample = F.huber_loss(q_sa, y, reduction="none")
        else:
            per_sample = F.mse_loss(q_sa, y, reduction="none")
        errors = (q_sa - y).detach().numpy()
    loss = (weights * per_sample).mean()
    return loss, errors, float(q_values(out.detach(), kind, support).mean().item())


def update_target(target_net: QNetwork, q_net: QNetwork, tau: float) -> None:
    """theta^- <- tau theta + (1 - tau) theta^- (tau = 1: a copy)."""
    with mg.no_grad():
        for t, p in zip(target_net.parameters(), q_net.parameters()):
            if tau >= 1.0:
                t.copy_(p)
            else:
                t.mul_(1.0 - tau).add_(p, alpha=tau)




def linear_schedule(start: float, end: float, duration: float, t: int) -> float:
    return end + (start - end) * max(0.0, 1.0 - t / max(duration, 1.0))


def select_actions(args: Args, q_net: QNetwork, obs: np.ndarray, step: int, rng: np.random.Generator,
                   support: mg.Tensor | None, n_actions: int) -> tuple[np.ndarray, float]:
    """Actions (N,) for N observations, and the exploration parameter in force."""
    decay = args.exploration_fraction * args.total_timesteps
    if args.noisy:
        q_net.reset_noise()                          # a fresh draw of the weights' noise every step
    with mg.no_grad():
        q = q_values(q_net(mg.tensor(obs)), args.distributional, support).numpy()
    if args.noisy:                                   # NoisyNet explores through its weights
        return q.argmax(1), 0.0
    if args.exploration == "boltzmann":
        temp = linear_schedule(10 * args.temperature, args.temperature, decay, step)
        logits = (q - q.max(1, keepdims=True)) / temp
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        return np.array([rng.choice(n_actions, p=row) for row in p]), temp
    eps = linear_schedule(args.start_e, args.end_e, decay, step)
    greedy = q.argmax(1)
    explore = rng.random(len(obs)) < eps
    return np.where(explore, rng.integers(n_actions, size=len(obs)), greedy), eps


def apply_rainbow(args: Args) -> Args:
    if args.rainbow:
        args.double = args.dueling = args.prioritized = args.noisy = True
        args.n_step = max(args.n_step, 3)
        if args.distributional == "none":
            args.distributional = "c51"
    return args


OnEval = Callable[[int, Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]], dict | None]


def main(argv=None, on_eval: OnEval | None = None) -> dict:
    """Train one run. ``on_eval(step, q_fn, greedy)``, when given, is called at every periodic evaluation
    with q_fn: observations (B, obs_dim) -> greedy-mode Q-values (B, A) and the greedy policy; the
    scalars of the dict it returns are logged at that step (metrics.csv, TensorBoard)."""
    args = apply_rainbow(parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS))
    out = run_dir(args, "dqn")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    n_actions = int(envs.single_action_space.n)
    atoms = 1 if args.distributional == "none" else args.n_atoms
    support = mg.linspace(args.v_min, args.v_max, atoms) if args.distributional == "c51" else None

    q_net = QNetwork(obs_dim, n_actions, list(args.hidden), args.dueling, args.noisy, atoms, args.sigma0)
    target_net = QNetwork(obs_dim, n_actions, list(args.hidden), args.dueling, args.noisy, atoms, args.sigma0)
    target_net.load_state_dict(q_net.state_dict())
    optimizer = mg.optim.Adam(q_net.parameters(), lr=args.learning_rate)
    if args.prioritized:
        buffer = PrioritizedReplayBuffer(args.buffer_size, (obs_dim,), alpha=args.alpha)
    else:
        buffer = ReplayBuffer(args.buffer_size, (obs_dim,))
    n_step = NStepReturns(args.n_step, args.gamma, args.n_envs)

    parts = {"q": q_net, "target": target_net, "optimizer": optimizer, "buffer": buffer}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "dqn", **asdict(args)}, args.total_timesteps, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    def q_fn(o: np.ndarray) -> np.ndarray:
        q_net.eval()
        with mg.no_grad():
            q = q_values(q_net(mg.tensor(o.reshape(len(o), -1))), args.distributional, support).numpy()
        q_net.train()
        return q

    def greedy(o: np.ndarray) -> np.ndarray:
        return q_fn(o).argmax(1)

    best: tuple = (-np.inf, start, None)     # (periodic evaluation mean, its step, the weights)
    obs, _ = envs.reset(seed=args.seed + start)
    obs = obs.reshape(args.n_envs, -1)
    t0 = time.time()
    step = start
    while step < args.total_timesteps:
        actions, explore = select_actions(args, q_net, obs, step, rng, support, n_actions)
        next_obs, rewards, terminated, truncated, info = envs.step(actions)
        if args.reward_noise > 0:        # the agent learns from noisy rewards; episodes log the real ones
            rewards = rewards + args.reward_noise * rng.standard_normal(rewards.shape)
        real_next = real_next_obs(next_obs, terminated | truncated, info).reshape(args.n_envs, -1)
        done_steps = n_step.push(obs, actions, rewards, real_next, terminated, truncated)
        if done_steps is not None:
            buffer.add(*done_steps)
        obs = next_obs.reshape(args.n_envs, -1)
        step += args.n_envs
        for ret, length in finished_episodes(info):
            log.episode(step, ret, length)

        if step > args.learning_starts and step % args.train_frequency < args.n_envs:
            n_updates = args.gradient_steps if args.gradient_steps > 0 else args.train_frequency
            if args.anneal_lr:
                frac_left = max(0.0, 1.0 - step / args.total_timesteps)
                optimizer.param_groups[0]["lr"] = args.learning_rate * frac_left
            losses, qs = [], []
            beta = min(1.0, args.beta0 + (1.0 - args.beta0) * step / args.total_timesteps)
            for _ in range(n_updates):
                batch = (buffer.sample(args.batch_size, rng, beta) if args.prioritized
                         else buffer.sample(args.batch_size, rng))
                if args.noisy:
                    q_net.reset_noise()
                    target_net.reset_noise()
                bootstrap_net = target_net if args.target_network else q_net
                loss, errors, mean_q = td_loss(args, q_net, bootstrap_net, batch, support)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q_net.parameters(), args.max_grad_norm)
                optimizer.step()
                if args.prioritized:
                    buffer.update_priorities(batch.indices, errors)
                losses.append(loss.item())
                qs.append(mean_q)
            log.scalars(step, **{"losses/td_loss": np.mean(losses), "losses/q_values": np.mean(qs),
                                 "charts/exploration": explore, "charts/SPS": log.steps_per_second(step)})
        if step % args.target_network_frequency < args.n_envs:
            update_target(target_net, q_net, args.tau)
        if step % args.eval_every < args.n_envs:
            returns = evaluate(greedy, args.env_id, args.eval_episodes, seed=PERIODIC_EVAL_SEED)
            log.evaluation(step, returns)
            if on_eval is not None:
                log.scalars(step, **(on_eval(step, q_fn, greedy) or {}))
            if args.keep_best and returns.mean() >= best[0]:
                best = (returns.mean(), step, {k: v.clone() for k, v in q_net.state_dict().items()})
        if step % args.checkpoint_every < args.n_envs:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
        log.progress(step)
    envs.close()

    seconds = time.time() - t0
    if args.keep_best and best[2] is not None:
        q_net.load_state_dict(best[2])
    return finish_run("dqn", args, log, out, greedy, step, step - start, seconds, parts, rng,
                      final_extra={"selected_step": int(best[1])} if args.keep_best else None)


if __name__ == "__main__":
    main()
