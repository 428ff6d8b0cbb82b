"""A finite MDP as NumPy arrays, built from a gymnasium toy-text environment or by hand.

    mdp = TabularMDP.from_gymnasium("FrozenLake-v1")
    mdp.P.shape          # (S, A, S): P[s, a, s'] = Pr(s' | s, a)
    mdp.R.shape          # (S, A, S): the reward of the transition s -a-> s'
    mdp.done.shape       # (S, A, S): True where that transition terminates the episode
    s = mdp.reset(rng, n)                 # (n,) start states drawn from p0
    s2, r, term = mdp.step(rng, s, a)     # n transitions at once, one draw each

gymnasium's toy-text environments (FrozenLake, CliffWalking, Taxi) publish their dynamics as
``env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]``; ``from_gymnasium`` turns
that table into arrays, so that dynamic programming is a few matrix products and thousands of
learning runs can be simulated side by side. ``step`` draws from the same distribution as the
environment's own ``step`` (not from the same random stream). The time limit is kept in
``max_steps`` (``None``: no limit) and is the caller's to apply: reaching it *truncates* an
episode, which is not the same as terminating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TabularMDP:
    """Arrays of a finite MDP with S states and A actions (see the module docstring)."""

    P: np.ndarray            # (S, A, S) transition probabilities; each P[s, a] sums to 1
    R: np.ndarray            # (S, A, S) reward of each transition
    done: np.ndarray         # (S, A, S) bool: the transition ends the episode (terminated)
    p0: np.ndarray           # (S,) initial-state distribution
    max_steps: int | None = None          # time limit (truncation), None for none
    grid_shape: tuple[int, int] | None = None   # (nrow, ncol) for grid worlds: state = row * ncol + col
    name: str = ""
    _cum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        S, A, S2 = self.P.shape
        if S != S2 or self.R.shape != self.P.shape or self.done.shape != self.P.shape \
                or self.p0.shape != (S,):
            raise ValueError(f"TabularMDP: inconsistent shapes P {self.P.shape}, R {self.R.shape}, "
                             f"done {self.done.shape}, p0 {self.p0.shape}")
        if not np.allclose(self.P.sum(-1), 1.0):
            raise ValueError("TabularMDP: every P[s, a] must sum to 1")
        self._cum = np.cumsum(self.P, axis=-1)
        self._cum[..., -1] = 1.0            # guard against round-off at the top of the CDF

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @property
    def expected_reward(self) -> np.ndarray:
        """(S, A): r(s, a) = sum_s' P[s, a, s'] R[s, a, s']."""
        return (self.P * self.R).sum(-1)

    @property
    def terminal_states(self) -> np.ndarray:
        """(S,) bool: states that only a terminating transition enters (holes, goals)."""
        entered = self.P > 0
        entered_by_done = (entered & self.done).any(axis=(0, 1))
        entered_otherwise = (entered & ~self.done).any(axis=(0, 1))
        return entered_by_done & ~entered_otherwise

    @classmethod
    def from_gymnasium(cls, env_id: str, **make_kwargs) -> TabularMDP:
        """Read ``env.unwrapped.P`` of a gymnasium toy-text environment into arrays."""
        import gymnasium as gym

        env = gym.make(env_id, **make_kwargs)
        u = env.unwrapped
        S, A = u.observation_space.n, u.action_space.n
        P = np.zeros((S, A, S))
        R = np.zeros((S, A, S))
        done = np.zeros((S, A, S), dtype=bool)
        for s in range(S):
            for a in range(A):
                for prob, s2, r, terminated in u.P[s][a]:
                    P[s, a, s2] += prob     # FrozenLake lists a wall bump twice: the probabilities add up
                    R[s, a, s2] = r
                    done[s, a, s2] = terminated
        p0 = np.asarray(getattr(u, "initial_state_distrib", None) if hasattr(u, "initial_state_distrib")
                        else np.eye(S)[0], dtype=float)
        shape = getattr(u, "shape", None)
        if shape is None and hasattr(u, "desc"):
            shape = tuple(u.desc.shape)
        env.close()
        return cls(P, R, done, p0 / p0.sum(), env.spec.max_episode_steps,
                   tuple(shape) if shape is not None else None, env_id)

    def reset(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n,) start states drawn from p0."""
        return rng.choice(self.n_states, size=n, p=self.p0)

    def step(self, rng: np.random.Generator, s: np.ndarray, a: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n transitions at once: s, a (n,) ints -> next states (n,), rewards (n,), terminated (n,) bool."""
        u = rng.random(np.shape(s))
        s2 = (self._cum[s, a] <= u[..., None]).sum(-1)   # inverse-CDF sampling, one uniform per transition
        return s2, self.R[s, a, s2], self.done[s, a, s2]


def policy_matrix(mdp: TabularMDP, policy: np.ndarray) -> np.ndarray:
    """A deterministic policy (S,) of action indices, or a stochastic one (S, A), as (S, A) probabilities."""
    policy = np.asarray(policy)
    if policy.ndim == 1:
        return np.eye(mdp.n_actions)[policy]
    return policy


def policy_values(mdp: TabularMDP, policy: np.ndarray, gamma: float = 1.0,
                  horizon: int | None = None, tol: float = 1e-12) -> np.ndarray:
    """Exact state values (S,) of a policy: deterministic (S,) or stochastic (S, A).

    With a horizon H (default: the MDP's time limit) this is the finite-horizon recursion
    V_0 = 0, V_{k+1}(s) = sum_a pi(a|s) sum_s' P(s'|s,a) [R + gamma (1 - done) V_k(s')], run H times:
    the expected return of an episode that is truncated after H steps. Without a horizon it iterates
    to the fixed point (gamma < 1, or a policy that terminates with probability 1).
    """
    pi = policy_matrix(mdp, policy)
    H = mdp.max_steps if horizon is None else horizon
    V = np.zeros(mdp.n_states)
    cont = gamma * (~mdp.done)
    for _ in range(H if H is not None else 1_000_000):
        Q = (mdp.P * (mdp.R + cont * V)).sum(-1)           # (S, A)
        V_new = (pi * Q).sum(-1)
        if H is None and np.max(np.abs(V_new - V)) < tol:
            return V_new
        V = V_new
    return V


def expected_return(mdp: TabularMDP, policy: np.ndarray, gamma: float = 1.0,
                    horizon: int | None = None) -> float:
    """The policy's exact expected return from the initial distribution: p0 . V."""
    return float(mdp.p0 @ policy_values(mdp, policy, gamma, horizon))
