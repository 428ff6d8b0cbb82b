"""Experience storage: a replay buffer for off-policy methods, a rollout buffer for on-policy ones.

ReplayBuffer (DQN, DDPG, TD3, SAC): a ring of the last ``capacity`` transitions
(s, a, r, s', terminated), sampled uniformly. It stores ``terminated``, not ``done``: a transition
cut off by a time limit is an ordinary transition whose s' is the real last observation
(gymnasium's ``info["final_obs"]`` under same-step autoreset), and its target bootstraps.

RolloutBuffer (REINFORCE, A2C, PPO, TRPO): the last T steps of N environments in (T, N, ...)
arrays, with the log-probabilities and values recorded at collection time; ``compute_advantages``
runs GAE over it (see ``returns.gae``), bootstrapping truncated episodes from their final
observation's value.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .returns import gae


class Batch(NamedTuple):
    """A sampled minibatch, NumPy arrays with the batch first."""

    obs: np.ndarray          # (B, *obs_shape)
    actions: np.ndarray      # (B, *action_shape)
    rewards: np.ndarray      # (B,)
    next_obs: np.ndarray     # (B, *obs_shape)
    terminated: np.ndarray   # (B,) float 0/1
    indices: np.ndarray      # (B,) where they sit in the buffer (for prioritised replay)


class ReplayBuffer:
    """A fixed-size ring of transitions, filled by ``add`` and read by ``sample``.

    obs_shape, action_shape: shapes of one observation and one action (() for a discrete action)
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...] = (),
                 obs_dtype: np.dtype = np.float32, action_dtype: np.dtype = np.int64) -> None:
        if capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.pos = 0          # next slot to write
        self.size = 0         # number of valid transitions

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray) -> None:
        """Store n transitions (one per vector environment): every argument has a leading n."""
        n = len(obs)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size transitions drawn uniformly, with replacement."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = rng.integers(0, self.size, size=batch_size)
        return self.get(idx)

    def get(self, idx: np.ndarray) -> Batch:
        """The transitions at the given slots."""
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx], idx)

    def state_dict(self) -> dict:
        """The filled part and the write position, for a checkpoint."""
        n = self.size
        return {"obs": self.obs[:n], "next_obs": self.next_obs[:n], "actions": self.actions[:n],
                "rewards": self.rewards[:n], "terminated": self.terminated[:n], "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        n = len(state["rewards"])
        if n > self.capacity:
            raise ValueError(f"ReplayBuffer.load_state_dict: {n} transitions do not fit a capacity "
                             f"of {self.capacity}")
        for k in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, k)[:n] = state[k]
        self.size, self.pos = n, int(state["pos"]) % self.capacity


class RolloutBuffer:
    """T steps x N environments of on-policy experience, then advantages and returns by GAE."""

    def __init__(self, n_steps: int, n_envs: int, obs_shape: tuple[int, ...],
                 action_shape: tuple[int, ...] = (), action_dtype: np.dtype = np.int64) -> None:
        T, N = n_steps, n_envs
        self.n_steps, self.n_envs = T, N
        self.obs = np.zeros((T, N, *obs_shape), dtype=np.float32)
        self.actions = np.zeros((T, N, *action_shape), dtype=action_dtype)
        self.log_probs = np.zeros((T, N), dtype=np.float32)
        self.rewards = np.zeros((T, N), dtype=np.float32)
        self.values = np.zeros((T, N), dtype=np.float32)
        self.terminated = np.zeros((T, N), dtype=np.float32)
        self.truncated = np.zeros((T, N), dtype=np.float32)
        self.final_values = np.zeros((T, N), dtype=np.float32)   # V(s_final) where truncated
        self.t = 0

    def add(self, obs: np.ndarray, actions: np.ndarray, log_probs: np.ndarray, rewards: np.ndarray,
            values: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
            final_values: np.ndarray | None = None) -> None:
        """Record one step of all N environments. final_values: (N,) V of the real last observation
        of the environments that were truncated at this step (ignored elsewhere)."""
        if self.t >= self.n_steps:
            raise IndexError(f"RolloutBuffer.add: the buffer holds {self.n_steps} steps; call reset()")
        t = self.t
        self.obs[t], self.actions[t], self.log_probs[t] = obs, actions, log_probs
        self.rewards[t], self.values[t] = rewards, values
        self.terminated[t], self.truncated[t] = terminated, truncated
        self.final_values[t] = 0.0 if final_values is None else final_values
        self.t += 1

    def compute_advantages(self, last_values: np.ndarray, gamma: float, lam: float
                           ) -> tuple[np.ndarray, np.ndarray]:
        """(advantages, returns), both (T, N). last_values: (N,) V of the observation after the last step."""
        if self.t != self.n_steps:
            raise ValueError(f"RolloutBuffer.compute_advantages: {self.t} of {self.n_steps} steps filled")
        next_values = np.concatenate([self.values[1:], np.asarray(last_values, np.float32)[None]])
        # where an episode ended at step t, values[t + 1] belongs to the next episode: use the truncated
        # episode's own final value instead (terminated steps do not bootstrap at all)
        next_values = np.where(self.truncated > 0, self.final_values, next_values)
        episode_end = np.maximum(self.terminated, self.truncated)
        return gae(self.rewards, self.values, next_values, self.terminated, episode_end, gamma, lam)

    def reset(self) -> None:
        self.t = 0
