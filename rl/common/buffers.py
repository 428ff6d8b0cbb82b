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
    steps: np.ndarray        # (B,) how many rewards ``rewards`` sums (n-step returns): discount gamma**steps
    indices: np.ndarray      # (B,) where they sit in the buffer (for prioritised replay)
    weights: np.ndarray      # (B,) importance-sampling weights (all 1 for uniform replay)


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
        self.steps = np.ones(capacity, dtype=np.int64)
        self.pos = 0          # next slot to write
        self.size = 0         # number of valid transitions

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        """Store n transitions (one per vector environment): every argument has a leading n.
        steps: (n,) rewards summed per transition (``NStepReturns``), 1 by default. Returns the slots."""
        n = len(obs)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.steps[idx] = 1 if steps is None else steps
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """batch_size transitions drawn uniformly, with replacement."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = rng.integers(0, self.size, size=batch_size)
        return self.get(idx)

    def get(self, idx: np.ndarray) -> Batch:
        """The transitions at the given slots."""
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx], self.steps[idx], idx, np.ones(len(idx), np.float32))

    def state_dict(self) -> dict:
        """The filled part and the write position, for a checkpoint."""
        n = self.size
        return {"obs": self.obs[:n], "next_obs": self.next_obs[:n], "actions": self.actions[:n],
                "rewards": self.rewards[:n], "terminated": self.terminated[:n], "steps": self.steps[:n],
                "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        n = len(state["rewards"])
        if n > self.capacity:
            raise ValueError(f"ReplayBuffer.load_state_dict: {n} transitions do not fit a capacity "
                             f"of {self.capacity}")
        for k in ("obs", "next_obs", "actions", "rewards", "terminated", "steps"):
            getattr(self, k)[:n] = state[k]
        self.size, self.pos = n, int(state["pos"]) % self.capacity


class SumTree:
    """Priorities p_1..p_N in a binary tree whose every node holds the sum of its children, so that
    drawing i with probability p_i / sum(p) and changing one p_i both cost O(log N).

    The leaves live in ``tree[cap:2*cap]`` (cap = N rounded up to a power of two), node k's children
    are 2k and 2k+1, and tree[1] is the total. ``find`` descends from the root for a whole batch of
    prefix sums at once.
    """

    def __init__(self, capacity: int) -> None:
        self.cap = 1 << max(0, (capacity - 1).bit_length())
        self.tree = np.zeros(2 * self.cap)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def update(self, idx: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaves ``idx`` to ``priorities`` and refresh the sums above them."""
        nodes = np.asarray(idx) + self.cap
        self.tree[nodes] = priorities
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            nodes = np.unique(nodes // 2)
            if nodes[0] == 0:
                break

    def find(self, prefix: np.ndarray) -> np.ndarray:
        """The leaf index i of each prefix sum u: sum(p_<i) <= u < sum(p_<=i)."""
        nodes = np.ones(len(prefix), np.int64)
        u = np.array(prefix, np.float64)
        while nodes[0] < self.cap:
            left = 2 * nodes
            go_right = u >= self.tree[left]
            u = np.where(go_right, u - self.tree[left], u)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self.cap

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        return self.tree[np.asarray(idx) + self.cap]


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritised replay (Schaul et al. 2016): transition i is drawn with probability
    P(i) = p_i^alpha / sum_k p_k^alpha, p_i = |TD error| + eps, and its loss weighted by
    w_i = (N P(i))^-beta / max_j w_j, which undoes the bias of the non-uniform draw as beta -> 1.

    New transitions get the largest priority seen so far, so each is replayed at least once soon.
    Call ``update_priorities(batch.indices, td_errors)`` after every learning step.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...] = (),
                 obs_dtype: np.dtype = np.float32, action_dtype: np.dtype = np.int64, alpha: float = 0.6,
                 eps: float = 1e-6) -> None:
        super().__init__(capacity, obs_shape, action_shape, obs_dtype, action_dtype)
        self.alpha, self.eps = alpha, eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        idx = super().add(obs, actions, rewards, next_obs, terminated, steps)
        self.tree.update(idx, np.full(len(idx), self.max_priority ** self.alpha))
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """Stratified: one draw from each of batch_size equal slices of the total priority."""
        if self.size == 0:
            raise ValueError("PrioritizedReplayBuffer.sample: the buffer is empty")
        total = self.tree.total
        edges = np.linspace(0.0, total, batch_size + 1)
        u = rng.uniform(edges[:-1], edges[1:])
        idx = np.minimum(self.tree.find(np.minimum(u, np.nextafter(total, 0))), self.size - 1)
        probs = self.tree[idx] / total
        weights = (self.size * probs) ** -beta
        batch = self.get(idx)
        return batch._replace(weights=(weights / weights.max()).astype(np.float32))

    def update_priorities(self, idx: np.ndarray, td_errors: np.ndarray) -> None:
        p = np.abs(np.asarray(td_errors, np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(p.max()))
        self.tree.update(idx, p ** self.alpha)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "priorities": self.tree[np.arange(self.size)],
                "max_priority": self.max_priority}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tree = SumTree(self.capacity)
        self.tree.update(np.arange(self.size), state["priorities"])
        self.max_priority = float(state["max_priority"])


class NStepReturns:
    """Turn one-step transitions of N environments into n-step ones:

        (s_t, a_t, R = r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1}, s_{t+k}, terminated, k)

    with k = n inside an episode and k < n for the last steps of an episode, which end at the episode's
    real last observation. ``terminated`` is that of the episode's end (a truncated episode's tail still
    bootstraps, from s_final, with gamma^k). ``push`` returns the transitions completed by this step, as
    arrays ready for ``ReplayBuffer.add(..., steps=k)``; with n = 1 it passes every transition through.
    """

    def __init__(self, n: int, gamma: float, n_envs: int) -> None:
        if n < 1:
            raise ValueError(f"NStepReturns: n must be >= 1, got {n}")
        self.n, self.gamma = n, gamma
        self.pending: list[list[tuple]] = [[] for _ in range(n_envs)]

    def push(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
             terminated: np.ndarray, truncated: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """One vector step (next_obs: the real next observations). Returns (obs, actions, returns,
        next_obs, terminated, steps) of the finished n-step transitions, or None."""
        out = []
        for i, queue in enumerate(self.pending):
            queue.append((obs[i], actions[i], float(rewards[i])))
            ended = bool(terminated[i] or truncated[i])
            while queue and (len(queue) == self.n or ended):
                ret = sum(self.gamma ** k * r for k, (_, _, r) in enumerate(queue))
                term = bool(terminated[i]) and ended
                out.append((queue[0][0], queue[0][1], ret, next_obs[i], term, len(queue)))
                queue.pop(0)
                if not ended:
                    break
        if not out:
            return None
        o, a, r, o2, d, k = zip(*out)
        return (np.stack(o), np.stack(a), np.array(r, np.float32), np.stack(o2), np.array(d, np.float32),
                np.array(k, np.int64))


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
