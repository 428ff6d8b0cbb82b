"""Policies for policy-gradient methods: MLPs with orthogonal init, action distributions with one
interface for discrete and continuous actions, an actor-critic, and the rollout loop that runs it.

    agent = ActorCritic(obs_dim, envs.single_action_space, hidden=[64, 64])   # Categorical or Gaussian
    dist = agent.distribution(obs)            # obs (B, obs_dim) -> an ActionDistribution over B states
    dist.log_prob(a), dist.entropy(), dist.kl(other)                          # each (B,)
    obs, step = collect_rollout(envs, agent, buffer, obs, step, log)           # fills a RolloutBuffer

The three action distributions (``kind``):
    categorical  pi(a|s) = softmax(logits(s))[a]                         (gymnasium Discrete)
    gaussian     a ~ N(mu(s), diag(sigma^2)), log sigma a free vector      (Box: the state-independent
                 log-std of TRPO/PPO); log pi(a|s) = sum_d log N(a_d; mu_d, sigma_d); actions are clipped
                 to the bounds only when sent to the environment, the buffer keeps the raw sample
    tanh         u ~ N(mu(s), diag(sigma^2)), a = tanh(u) scaled to [low, high] (SAC's squashing):
                 log pi(a|s) = log N(u) - sum_d log(1 - tanh(u_d)^2), the change-of-variables term;
                 log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) is the stable form. The buffer keeps
                 u, so the log-probability never needs atanh; the affine scaling adds a constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.distributions import Categorical, Normal, kl_divergence

from .envs import finished_episodes

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


# ---------------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------------
def layer_init(layer: nn.Linear, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights scaled by ``gain``, constant bias (the PPO implementation detail: sqrt(2)
    for hidden layers, 0.01 for the policy output so the first policy is near uniform, 1 for values)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int | None = None, activation: str = "tanh",
        out_gain: float = 1.0, ortho: bool = True) -> nn.Sequential:
    """in_dim -> hidden... (each followed by the activation) -> out_dim (linear; None: no output layer).
    x: (B, in_dim) -> (B, out_dim or hidden[-1])."""
    layers, d = [], in_dim
    for h in hidden:
        lin = nn.Linear(d, h)
        layers += [layer_init(lin) if ortho else lin, ACTIVATIONS[activation]()]
        d = h
    if out_dim is not None:
        lin = nn.Linear(d, out_dim)
        layers.append(layer_init(lin, out_gain) if ortho else lin)
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------
# Action distributions: log_prob / entropy / kl are (B,), summed over action dimensions
# ---------------------------------------------------------------------------------------------------
class CategoricalDist:
    """pi(.|s) = softmax(logits), logits (B, A)."""

    def __init__(self, logits: mg.Tensor) -> None:
        self.logits = logits
        self.dist = Categorical(logits=logits)

    def log_prob(self, actions: mg.Tensor) -> mg.Tensor:
        return self.dist.log_prob(actions)

    def entropy(self) -> mg.Tensor:
        return self.dist.entropy()

    def kl(self, other: CategoricalDist) -> mg.Tensor:
        """KL(self || other), (B,)."""
        return kl_divergence(self.dist, other.dist)

    def sample(self) -> np.ndarray:
        return self.dist.sample().numpy()

    def mode(self) -> np.ndarray:
        return self.logits.numpy().argmax(-1)

    def detach(self) -> CategoricalDist:
        return CategoricalDist(self.logits.detach())

    def __getitem__(self, idx: np.ndarray) -> CategoricalDist:
        return CategoricalDist(self.logits[idx])


class DiagGaussianDist:
    """N(mean, diag(exp(log_std)^2)); mean (B, D), log_std (D,) or (B, D)."""

    def __init__(self, mean: mg.Tensor, log_std: mg.Tensor) -> None:
        self.mean, self.log_std = mean, log_std
        self.normal = Normal(mean, log_std.exp().expand(*mean.shape))

    def log_prob(self, actions: mg.Tensor) -> mg.Tensor:
        return self.normal.log_prob(actions).sum(-1)

    def entropy(self) -> mg.Tensor:
        return self.normal.entropy().sum(-1)

    def kl(self, other: DiagGaussianDist) -> mg.Tensor:
        return kl_divergence(self.normal, other.normal).sum(-1)

    def sample(self) -> np.ndarray:
        return self.normal.sample().numpy()

    def rsample(self) -> mg.Tensor:
        return self.normal.rsample()

    def mode(self) -> np.ndarray:
        return self.mean.numpy()

    def detach(self) -> DiagGaussianDist:
        return type(self)(self.mean.detach(), self.log_std.detach())

    def __getitem__(self, idx: np.ndarray) -> DiagGaussianDist:
        log_std = self.log_std[idx] if self.log_std.ndim == 2 else self.log_std
        return type(self)(self.mean[idx], log_std)


def log1m_tanh_sq(u: mg.Tensor) -> mg.Tensor:
    """log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), finite for any u."""
    return (math.log(2.0) - u - F.softplus(-2.0 * u)) * 2.0


class TanhGaussianDist(DiagGaussianDist):
    """a = tanh(u), u ~ N(mean, diag(std^2)). Samples, log_prob and mode are of u (the pre-squash
    value; ``squash`` maps it to (-1, 1)). KL between two squashed Gaussians equals the KL between the
    Gaussians (an invertible map changes neither); entropy is the Gaussian's (the squashed one has no
    closed form), used only as a bonus term."""

    def log_prob(self, u: mg.Tensor) -> mg.Tensor:
        return (self.normal.log_prob(u) - log1m_tanh_sq(u)).sum(-1)

    def rsample_and_log_prob(self) -> tuple[mg.Tensor, mg.Tensor]:
        """(tanh(u), log pi) with u reparameterised (SAC's actor loss differentiates through both)."""
        u = self.normal.rsample()
        return u.tanh(), self.log_prob(u)


ActionDistribution = CategoricalDist | DiagGaussianDist | TanhGaussianDist


# ---------------------------------------------------------------------------------------------------
# Actor-critic
# ---------------------------------------------------------------------------------------------------
class ActorCritic(nn.Module):
    """An actor pi(a|s) and a critic V(s): separate MLPs, or one shared trunk with two linear heads.

    obs_dim: size of the (flattened) observation; action_space: a gymnasium Discrete or Box.
    policy: "auto" (categorical for Discrete, gaussian for Box), "gaussian" or "tanh".
    log_std_init: initial log sigma of the Gaussian (state-independent, a learned vector).
    """

    def __init__(self, obs_dim: int, action_space: Any, hidden: Sequence[int] = (64, 64),
                 activation: str = "tanh", policy: str = "auto", shared: bool = False,
                 log_std_init: float = 0.0, ortho_init: bool = True) -> None:
        super().__init__()
        discrete = hasattr(action_space, "n")
        if policy not in ("auto", "categorical", "gaussian", "tanh") or \
                (policy != "auto" and discrete != (policy == "categorical")):
            raise ValueError(f"ActorCritic: policy {policy!r} does not fit the action space {action_space}")
        self.kind = "categorical" if discrete else ("gaussian" if policy == "auto" else policy)
        n_out = int(action_space.n) if discrete else int(np.prod(action_space.shape))
        if not discrete:
            self.low = np.asarray(action_space.low, np.float32)
            self.high = np.asarray(action_space.high, np.float32)
            self.log_std = nn.Parameter(mg.full((n_out,), float(log_std_init)))
        self.shared = shared
        if shared:
            self.trunk = mlp(obs_dim, hidden, None, activation, ortho=ortho_init)
            self.pi_head = nn.Linear(hidden[-1], n_out)
            self.v_head = nn.Linear(hidden[-1], 1)
            if ortho_init:
                layer_init(self.pi_head, 0.01)
                layer_init(self.v_head, 1.0)
        else:
            self.actor = mlp(obs_dim, hidden, n_out, activation, out_gain=0.01, ortho=ortho_init)
            self.critic = mlp(obs_dim, hidden, 1, activation, out_gain=1.0, ortho=ortho_init)

    def distribution(self, obs: mg.Tensor) -> ActionDistribution:
        """obs (B, obs_dim) -> pi(.|s) for the B states."""
        out = self.pi_head(self.trunk(obs)) if self.shared else self.actor(obs)
        if self.kind == "categorical":
            return CategoricalDist(out)
        cls = TanhGaussianDist if self.kind == "tanh" else DiagGaussianDist
        return cls(out, self.log_std)

    def value(self, obs: mg.Tensor) -> mg.Tensor:
        """obs (B, obs_dim) -> V(s) (B,)."""
        out = self.v_head(self.trunk(obs)) if self.shared else self.critic(obs)
        return out[:, 0]

    def actor_parameters(self) -> list[nn.Parameter]:
        if self.shared:
            raise ValueError("ActorCritic: a shared trunk has no separate actor parameters")
        return list(self.actor.parameters()) + ([self.log_std] if self.kind != "categorical" else [])

    def critic_parameters(self) -> list[nn.Parameter]:
        if self.shared:
            raise ValueError("ActorCritic: a shared trunk has no separate critic parameters")
        return list(self.critic.parameters())

    def env_actions(self, raw: np.ndarray) -> np.ndarray:
        """What the environment receives for the buffer's raw actions: the index, the Gaussian sample
        clipped to the bounds, or tanh(u) scaled from (-1, 1) to [low, high]."""
        if self.kind == "categorical":
            return raw
        if self.kind == "tanh":
            return self.low + (np.tanh(raw) + 1.0) * 0.5 * (self.high - self.low)
        return np.clip(raw, self.low, self.high)

    def act(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample for N observations (N, obs_dim): (raw actions, log pi(a|s) (N,), V(s) (N,))."""
        with mg.no_grad():
            x = mg.tensor(obs)
            dist = self.distribution(x)
            raw = dist.sample()
            logp = dist.log_prob(mg.tensor(raw))
            return raw, logp.numpy(), self.value(x).numpy()

    def deterministic(self, obs: np.ndarray) -> np.ndarray:
        """The evaluation policy: argmax / the mean, as environment actions. obs (N, obs_dim)."""
        with mg.no_grad():
            return self.env_actions(self.distribution(mg.tensor(obs.reshape(len(obs), -1))).mode())


def collect_rollout(envs: Any, agent: ActorCritic, buffer: Any, obs: np.ndarray, step: int, log: Any
                    ) -> tuple[np.ndarray, int]:
    """Fill ``buffer`` (a RolloutBuffer of T steps x N envs) with the current policy; returns the next
    observation (N, obs_dim) and the env step. Truncated episodes record V(s_final) so that GAE
    bootstraps from it; finished episodes go to the logger."""
    buffer.reset()
    n_envs = buffer.n_envs
    for _ in range(buffer.n_steps):
        raw, logp, values = agent.act(obs)
        next_obs, rewards, terminated, truncated, info = envs.step(agent.env_actions(raw))
        final_values = np.zeros(n_envs, np.float32)
        cut = np.flatnonzero(truncated & ~terminated)
        if len(cut):
            final = np.stack([np.asarray(info["final_obs"][i], np.float32).reshape(-1) for i in cut])
            with mg.no_grad():
                final_values[cut] = agent.value(mg.tensor(final)).numpy()
        buffer.add(obs, raw, logp, rewards, values, terminated, truncated, final_values)
        obs = next_obs.reshape(n_envs, -1).astype(np.float32)
        step += n_envs
        for ret, length in finished_episodes(info):
            log.episode(step, ret, length)
        log.progress(step)
    return obs, step


def explained_variance(pred: np.ndarray, target: np.ndarray) -> float:
    """1 - Var[target - pred] / Var[target]: 1 a perfect critic, 0 no better than a constant."""
    var = np.var(target)
    return float("nan") if var == 0 else float(1.0 - np.var(target - pred) / var)
