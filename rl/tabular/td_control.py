"""TD control: SARSA, Expected SARSA, Q-learning and Double Q-learning, over many independent runs at once.

N runs of one ``TabularMDP`` step in lockstep, each with its own action-value table:

    q = np.zeros((N, S, A))              # Double Q-learning: (2, N, S, A), the two tables Q1, Q2
    log = train(mdp, "q_learning", rng, n_runs=100, episodes=500, epsilon=0.1, alpha=0.5)
    log.returns.shape                    # (N, 500): the online return of every episode of every run

Every run acts ε-greedily (ties between greedy actions broken at random) and updates its own table
after each transition; runs whose episode ends (terminated, or truncated by the time limit) are
reset on their own, so the runs drift apart in episode count. An action that a state does not have
is marked by -inf in the initial table: it is never chosen, and max/argmax never pick it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rl.tabular.mdp import TabularMDP

ALGORITHMS = ("sarsa", "expected_sarsa", "q_learning", "double_q")

Schedule = float | Callable[[int], float]      # a constant, or a function of the step count t


def greedy_action(rng: np.random.Generator, q: np.ndarray) -> np.ndarray:
    """(N, A) action values -> (N,) an action of largest value, ties broken uniformly at random."""
    is_best = q == q.max(-1, keepdims=True)
    return np.argmax(np.where(is_best, rng.random(q.shape), -1.0), axis=-1)


def epsilon_greedy(rng: np.random.Generator, q: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    """(N, A) action values -> (N,) actions: uniform over the available actions with probability eps,
    else greedy (random tie-breaking). eps: scalar or (N,)."""
    uniform = np.argmax(np.where(np.isfinite(q), rng.random(q.shape), -1.0), axis=-1)
    explore = rng.random(q.shape[0]) < eps
    return np.where(explore, uniform, greedy_action(rng, q))


def epsilon_greedy_probs(q: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    """(N, A) action values -> (N, A) the probabilities with which ``epsilon_greedy`` picks each action:
    pi(a) = eps / n_available + (1 - eps) [a greedy] / n_greedy."""
    eps = np.reshape(eps, (-1, 1))
    available = np.isfinite(q)
    is_best = q == q.max(-1, keepdims=True)
    explore = eps * available / available.sum(-1, keepdims=True)
    return explore + (1 - eps) * is_best / is_best.sum(-1, keepdims=True)


def _td_step(q: np.ndarray, s: np.ndarray, a: np.ndarray, target: np.ndarray, alpha) -> None:
    """q[n, s_n, a_n] += alpha (target_n - q[n, s_n, a_n]) for every run n, in place."""
    n = np.arange(len(s))
    q[n, s, a] += alpha * (target - q[n, s, a])


def _bootstrap(term: np.ndarray, gamma: float, value_next: np.ndarray) -> np.ndarray:
    """gamma * V(s') where the transition did not terminate, 0 where it did (also keeps -inf out)."""
    return np.where(term, 0.0, gamma * value_next)


def sarsa_update(q, s, a, r, s2, a2, term, alpha, gamma: float) -> None:
    """SARSA (on-policy TD control), in place on q (N, S, A); s, a, r, s2, a2, term are (N,):

        Q(s, a) += alpha [r + gamma Q(s', a') - Q(s, a)],   a' the action the run takes next in s'.
    """
    n = np.arange(len(s))
    _td_step(q, s, a, r + _bootstrap(term, gamma, q[n, s2, a2]), alpha)


def expected_sarsa_update(q, s, a, r, s2, term, alpha, gamma: float, eps) -> None:
    """Expected SARSA, in place on q (N, S, A): the next action's value averaged under the ε-greedy policy,

        Q(s, a) += alpha [r + gamma sum_a' pi(a'|s') Q(s', a') - Q(s, a)].
    """
    n = np.arange(len(s))
    q_next = q[n, s2]                                           # (N, A)
    pi = epsilon_greedy_probs(q_next, eps)
    v_next = (pi * np.where(pi > 0, q_next, 0.0)).sum(-1)       # unavailable actions: -inf -> 0 first
    _td_step(q, s, a, r + _bootstrap(term, gamma, v_next), alpha)


def q_learning_update(q, s, a, r, s2, term, alpha, gamma: float) -> None:
    """Q-learning (off-policy TD control), in place on q (N, S, A):

        Q(s, a) += alpha [r + gamma max_a' Q(s', a') - Q(s, a)].
    """
    n = np.arange(len(s))
    _td_step(q, s, a, r + _bootstrap(term, gamma, q[n, s2].max(-1)), alpha)


def double_q_update(q, s, a, r, s2, term, alpha, gamma: float, rng: np.random.Generator) -> None:
    """Double Q-learning, in place on q (2, N, S, A). With probability 1/2 per run (else Q1 and Q2 swapped):

        Q1(s, a) += alpha [r + gamma Q2(s', argmax_a' Q1(s', a')) - Q1(s, a)],
    so one table picks the next action and the other, independently estimated, values it.
    """
    n = np.arange(len(s))
    i = (rng.random(len(s)) < 0.5).astype(int)                  # the table to update, per run
    j = 1 - i
    a_star = greedy_action(rng, q[i, n, s2])                    # (N,) chosen by the updated table
    target = r + _bootstrap(term, gamma, q[j, n, s2, a_star])   # valued by the other one
    q[i, n, s, a] += alpha * (target - q[i, n, s, a])


@dataclass
class TrainLog:
    """What ``train`` records. N runs; E episodes per run (episode budget); K evaluations (step budget)."""

    q: np.ndarray                          # (N, S, A) final action values (Double Q: Q1 + Q2)
    returns: np.ndarray | None = None      # (N, E) online (undiscounted) return of each episode
    first_actions: np.ndarray | None = None  # (N, E) the first action of each episode
    eval_steps: list[int] = field(default_factory=list)            # (K,) step counts of the evaluations
    eval_values: list[np.ndarray] = field(default_factory=list)    # K arrays (N,) returned by `evaluate`
    steps: int = 0                         # lockstep iterations run


def _value(schedule: Schedule, t: int) -> float:
    return schedule(t) if callable(schedule) else schedule


def train(mdp: TabularMDP, algorithm: str, rng: np.random.Generator, *, n_runs: int,
          episodes: int | None = None, steps: int | None = None,
          epsilon: Schedule = 0.1, alpha: Schedule = 0.5, gamma: float = 1.0,
          q_init: np.ndarray | None = None,
          evaluate: Callable[[np.ndarray], np.ndarray] | None = None, evaluate_every: int = 0) -> TrainLog:
    """Run ``algorithm`` (one of ALGORITHMS) on n_runs independent copies of ``mdp`` in lockstep.

    Budget: ``episodes`` per run (runs that are done stop learning; the loop ends when all are done),
    or ``steps`` lockstep iterations (every run makes that many transitions). epsilon and alpha are
    constants or functions of the step count t. Episodes end at termination or at ``mdp.max_steps``
    (truncation: the update still bootstraps from s'). q_init: (S, A) initial values, -inf for
    unavailable actions (default zeros). ``evaluate(q)`` with q (N, S, A) -> (N,) is called every
    ``evaluate_every`` steps and at the end (step budget only).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"train: unknown algorithm {algorithm!r}, expected one of {ALGORITHMS}")
    if (episodes is None) == (steps is None):
        raise ValueError("train: give exactly one of episodes= and steps=")
    S, A = mdp.n_states, mdp.n_actions
    q0 = np.zeros((S, A)) if q_init is None else np.asarray(q_init, dtype=float)
    n_tables = 2 if algorithm == "double_q" else 1
    q = np.broadcast_to(q0, (n_tables, n_runs, S, A)).copy()
    runs = np.arange(n_runs)

    def values_at(s: np.ndarray) -> np.ndarray:      # (N, A) the values the runs act on (Double Q: Q1 + Q2)
        return q[:, runs, s].sum(0)

    log = TrainLog(q=q[0])
    if episodes is not None:
        log.returns = np.zeros((n_runs, episodes))
        log.first_actions = np.zeros((n_runs, episodes), dtype=int)
    episode = np.zeros(n_runs, dtype=int)        # index of each run's current episode
    ret = np.zeros(n_runs)                       # return so far in the current episode
    length = np.zeros(n_runs, dtype=int)         # steps so far in the current episode
    s = mdp.reset(rng, n_runs)
    eps = _value(epsilon, 0)
    a = epsilon_greedy(rng, values_at(s), eps)
    t = 0
    while (steps is not None and t < steps) or (episodes is not None and (episode < episodes).any()):
        eps, lr = _value(epsilon, t), _value(alpha, t)
        if algorithm != "sarsa" and t > 0:
            a = epsilon_greedy(rng, values_at(s), eps)     # chosen with the latest values
        active = episode < episodes if episodes is not None else np.ones(n_runs, dtype=bool)
        lr = lr * active                                             # finished runs stop learning
        if log.first_actions is not None:
            first = (length == 0) & active
            log.first_actions[runs[first], episode[first]] = a[first]

        s2, r, term = mdp.step(rng, s, a)
        if algorithm == "sarsa":
            a2 = epsilon_greedy(rng, values_at(s2), eps)
            sarsa_update(q[0], s, a, r, s2, a2, term, lr, gamma)
        elif algorithm == "expected_sarsa":
            expected_sarsa_update(q[0], s, a, r, s2, term, lr, gamma, eps)
        elif algorithm == "q_learning":
            q_learning_update(q[0], s, a, r, s2, term, lr, gamma)
        else:
            double_q_update(q, s, a, r, s2, term, lr, gamma, rng)

        ret += r
        length += 1
        t += 1
        ended = term | (length >= mdp.max_steps if mdp.max_steps is not None else False)
        if ended.any():
            if log.returns is not None:
                done = ended & active
                log.returns[runs[done], episode[done]] = ret[done]
            episode += ended
            ret[ended], length[ended] = 0.0, 0
            s2 = np.where(ended, mdp.reset(rng, n_runs), s2)
            if algorithm == "sarsa":
                a2 = np.where(ended, epsilon_greedy(rng, values_at(s2), eps), a2)
        s = s2
        if algorithm == "sarsa":
            a = a2
        if evaluate is not None and steps is not None and evaluate_every and t % evaluate_every == 0:
            log.eval_steps.append(t)
            log.eval_values.append(evaluate(q.sum(0)))
    if evaluate is not None and steps is not None and (not log.eval_steps or log.eval_steps[-1] != t):
        log.eval_steps.append(t)
        log.eval_values.append(evaluate(q.sum(0)))
    log.q = q.sum(0)
    log.steps = t
    return log


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """(..., S, A) action values -> (..., S) the greedy actions (ties: the lowest index)."""
    return np.argmax(q, axis=-1)


class GreedyReturn:
    """Exact expected return of each run's greedy policy, for N runs at once: q (N, S, A) -> (N,).

    The same finite-horizon recursion as ``mdp.policy_values`` (V_0 = 0, H times
    V(s) <- sum_s' P(s'|s,pi(s)) [R + gamma (1 - done) V(s')], then p0 . V), on each (s, a)'s list of
    at most K successors instead of the dense (S, A, S) arrays: O(N S K) per sweep, so that learning
    curves of 20 Taxi runs cost milliseconds rather than seconds. Without a horizon (and none in the
    MDP) it sweeps until V changes by less than ``tol``.
    """

    def __init__(self, mdp: TabularMDP, gamma: float = 1.0, horizon: int | None = None, tol: float = 1e-12):
        reachable = mdp.P > 0
        K = int(reachable.sum(-1).max())
        self.next = np.argsort(~reachable, axis=-1, kind="stable")[..., :K]     # (S, A, K) successors
        self.prob = np.take_along_axis(mdp.P, self.next, axis=-1)                # (S, A, K), zero-padded
        self.reward = np.take_along_axis(mdp.R, self.next, axis=-1)
        self.cont = gamma * ~np.take_along_axis(mdp.done, self.next, axis=-1)
        self.p0 = mdp.p0
        self.horizon = mdp.max_steps if horizon is None else horizon
        self.tol = tol

    def __call__(self, q: np.ndarray) -> np.ndarray:
        return self.of_policies(greedy_policy(q))

    def of_policies(self, policy: np.ndarray) -> np.ndarray:
        """(N, S) deterministic policies -> (N,) exact expected returns."""
        N, S = policy.shape
        states = np.arange(S)
        nxt, prob = self.next[states, policy], self.prob[states, policy]         # (N, S, K)
        reward, cont = self.reward[states, policy], self.cont[states, policy]
        V = np.zeros((N, S))
        for _ in range(self.horizon if self.horizon is not None else 1_000_000):
            V_next = np.take_along_axis(V, nxt.reshape(N, -1), axis=1).reshape(nxt.shape)
            V_new = (prob * (reward + cont * V_next)).sum(-1)
            if self.horizon is None and np.max(np.abs(V_new - V)) < self.tol:
                return V_new @ self.p0
            V = V_new
        return V @ self.p0
