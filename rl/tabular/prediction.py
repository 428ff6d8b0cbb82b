"""Prediction (policy evaluation from experience): Monte Carlo, TD(0), n-step TD, and their batch forms.

    mdp = random_walk(5)                           # Example 6.2: states 0 and 6 terminal, start in 3
    ep = sample_episodes(mdp, rng, n)              # n episodes, padded arrays (see Episodes)
    td0(V, ep, alpha)                              # V (..., n, S): one episode per row, updated in place
    mc(V, ep, alpha, first_visit=True)
    nstep_td(V, ep, n=4, alpha=0.4)
    batch_td(ep, S), batch_mc(ep, S), certainty_equivalence(ep, S)   # Example 6.4, one data set

The policy being evaluated is fixed, so the episodes do not depend on what is learned: they are
sampled first (all runs at once) and the learners replay them. Every learner takes a value table
V of shape (..., B, S) and a batch of B episodes, episode b updating row b; the leading dimensions
hold, e.g., several step sizes alpha (shape (..., 1)) learning from the same episodes, so different
methods and step sizes are compared on common random numbers.

``run`` draws Example 6.2 (TD vs MC on the 5-state walk), Figure 6.2 (the same under batch training),
Figure 7.2 (n-step TD on the 19-state walk) and Example 6.4 (batch MC vs batch TD, "You are the
Predictor").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from rl.tabular.mdp import TabularMDP


class Episodes(NamedTuple):
    """B episodes S_0, R_1, S_1, ..., R_T, S_T as padded arrays (T varies per episode).

    states:  (B, Tmax + 1) int, S_0 .. S_T, then S_T repeated
    rewards: (B, Tmax) float, rewards[:, t] = R_{t+1}, then 0
    lengths: (B,) int, T of each episode
    """
    states: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray

    def reshape(self, *shape: int) -> Episodes:
        """The same episodes with the batch dimension B split as ``shape`` (e.g. runs x episodes)."""
        return Episodes(self.states.reshape(*shape, -1), self.rewards.reshape(*shape, -1),
                        self.lengths.reshape(shape))

    def take(self, k: int) -> Episodes:
        """Episode k of every run from a (runs, K, ...) batch, trimmed to its longest length."""
        T = int(self.lengths[:, k].max())
        return Episodes(self.states[:, k, :T + 1], self.rewards[:, k, :T], self.lengths[:, k])


def random_walk(n_states: int = 5, left_reward: float = 0.0) -> TabularMDP:
    """Example 6.2 (n = 5) / Figure 7.2 (n = 19, left reward -1): a Markov reward process.

    States 0 and n + 1 are terminal, 1..n the walk (A..E for n = 5); every episode starts in the middle
    and moves left or right with probability 1/2 (one action); leaving on the right pays +1, on the
    left ``left_reward``, every other step 0.
    """
    S = n_states + 2
    P, R = np.zeros((S, 1, S)), np.zeros((S, 1, S))
    done = np.zeros((S, 1, S), dtype=bool)
    for s in range(1, n_states + 1):
        P[s, 0, [s - 1, s + 1]] = 0.5
    P[[0, S - 1], 0, [0, S - 1]] = 1.0                 # terminal states loop (never stepped from)
    R[n_states, 0, S - 1], R[1, 0, 0] = 1.0, left_reward
    done[:, 0, [0, S - 1]] = True
    p0 = np.eye(S)[(n_states + 1) // 2]
    return TabularMDP(P, R, done, p0, None, (1, S), f"random walk {n_states}")


def random_walk_values(n_states: int = 5, left_reward: float = 0.0) -> np.ndarray:
    """(n + 2,) true values: linear from left_reward to 1 across the walk, 0 at the terminals."""
    i = np.arange(n_states + 2)
    v = left_reward + (1.0 - left_reward) * i / (n_states + 1)
    v[[0, -1]] = 0.0
    return v


def sample_episodes(mdp: TabularMDP, rng: np.random.Generator, n: int, policy: np.ndarray | None = None,
                    max_steps: int = 100_000) -> Episodes:
    """n episodes of ``policy`` ((S, A) probabilities; None: always action 0), all stepped together."""
    s = mdp.reset(rng, n)
    states, rewards = [s], []
    lengths = np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    while alive.any() and len(rewards) < max_steps:
        if policy is None:
            a = np.zeros(n, dtype=int)
        else:
            a = (np.cumsum(policy[s], -1) < rng.random((n, 1))).sum(-1)
        s2, r, term = mdp.step(rng, s, a)
        s = np.where(alive, s2, s)                  # finished episodes stay where they ended
        rewards.append(np.where(alive, r, 0.0))
        states.append(s)
        lengths += alive
        alive &= ~term
    return Episodes(np.stack(states, 1), np.stack(rewards, 1), lengths)


# --------------------------------------------------------------------------------------------------
# online learners: V (..., B, S) updated in place from B episodes, one per row

def td0(V: np.ndarray, ep: Episodes, alpha: float | np.ndarray, gamma: float = 1.0) -> None:
    """TD(0) after every step: V(S_t) += alpha [R_{t+1} + gamma V(S_{t+1}) - V(S_t)], no V(S_T) term."""
    b = np.arange(len(ep.lengths))
    for t in range(int(ep.lengths.max())):
        live = t < ep.lengths
        s, s2 = ep.states[:, t], ep.states[:, t + 1]
        target = ep.rewards[:, t] + gamma * (t + 1 < ep.lengths) * V[..., b, s2]
        V[..., b, s] += alpha * live * (target - V[..., b, s])


def mc(V: np.ndarray, ep: Episodes, alpha: float | np.ndarray | None, gamma: float = 1.0,
       first_visit: bool = False, counts: np.ndarray | None = None) -> None:
    """Monte Carlo after the episode, backwards: G <- R_{t+1} + gamma G; V(S_t) += step (G - V(S_t)).

    Every-visit updates each time step, first-visit only the first time step in each state. ``alpha``
    is a constant step size; with alpha=None, pass ``counts`` (like V, zeros at first) for sample
    averages, step = 1 / (number of returns averaged so far into V(S_t)).
    """
    B, Tmax = ep.rewards.shape
    b = np.arange(B)
    first = np.zeros((B, Tmax), dtype=bool)
    seen = np.zeros((B, int(ep.states.max()) + 1), dtype=bool)
    for t in range(Tmax):
        first[:, t] = ~seen[b, ep.states[:, t]]
        seen[b, ep.states[:, t]] = True
    G = np.zeros(B)
    for t in reversed(range(Tmax)):
        live = t < ep.lengths
        G = np.where(live, ep.rewards[:, t] + gamma * G, 0.0)
        update = live & first[:, t] if first_visit else live
        s = ep.states[:, t]
        if alpha is None:
            counts[..., b, s] += update
            step = update / np.maximum(counts[..., b, s], 1)
        else:
            step = alpha * update
        V[..., b, s] += step * (G - V[..., b, s])


def nstep_td(V: np.ndarray, ep: Episodes, n: int, alpha: float | np.ndarray, gamma: float = 1.0) -> None:
    """n-step TD (Sutton & Barto 7.1): V(S_tau) += alpha [G_{tau:tau+n} - V(S_tau)] for tau = 0..T-1,

    G_{tau:tau+n} = R_{tau+1} + ... + gamma^{n-1} R_{tau+n} + gamma^n V(S_{tau+n}) (no bootstrap past T).
    The online algorithm makes the update of S_tau at time tau + n - 1, after those of tau' < tau: doing
    them in the order of tau, each with the current V, is the same computation. n = 1 is TD(0); n >= T
    is every-visit constant-alpha MC.
    """
    B, Tmax = ep.rewards.shape
    b = np.arange(B)
    disc = gamma ** np.arange(n)
    for tau in range(Tmax):
        window = ep.rewards[:, tau:tau + n]            # R_{tau+1} .. R_{tau+n}; zeros past T
        G = window @ disc[:window.shape[1]]
        bootstrap = tau + n < ep.lengths
        s_n = ep.states[:, min(tau + n, Tmax)]
        G = G + gamma ** n * bootstrap * V[..., b, s_n]
        s = ep.states[:, tau]
        V[..., b, s] += alpha * (tau < ep.lengths) * (G - V[..., b, s])


# --------------------------------------------------------------------------------------------------
# batch updating (Section 6.3): one fixed data set, swept until the values stop moving

def _steps(ep: Episodes, gamma: float) -> tuple[np.ndarray, ...]:
    """All the time steps of the data, flattened: S_t, R_{t+1}, S_{t+1}, bootstrap (t + 1 < T), G_t."""
    G = np.zeros_like(ep.rewards)
    running = np.zeros(len(ep.lengths))
    for t in reversed(range(ep.rewards.shape[1])):     # the return of every step (padded rewards are 0)
        running = ep.rewards[:, t] + gamma * running
        G[:, t] = running
    t = np.arange(ep.rewards.shape[1])
    live = t < ep.lengths[:, None]
    bootstrap = t + 1 < ep.lengths[:, None]
    return ep.states[:, :-1][live], ep.rewards[live], ep.states[:, 1:][live], bootstrap[live], G[live]


def _batch(s: np.ndarray, targets, n_states: int, V0: float, alpha: float, tol: float,
           max_sweeps: int) -> np.ndarray:
    """Sweep the whole data set; sum the increments alpha (target_t - V(S_t)) per state; apply; repeat."""
    V = np.full(n_states, float(V0))
    for _ in range(max_sweeps):
        inc = alpha * np.bincount(s, weights=targets(V) - V[s], minlength=n_states)
        V += inc
        if np.abs(inc).max() < tol:
            return V
    raise RuntimeError("batch updating did not converge: lower alpha")


def batch_td(ep: Episodes, n_states: int, gamma: float = 1.0, V0: float = 0.0, alpha: float = 0.01,
             tol: float = 1e-13, max_sweeps: int = 1_000_000) -> np.ndarray:
    """Batch TD(0): the TD errors R_{t+1} + gamma V(S_{t+1}) - V(S_t) of all the data, summed, then applied.

    States never visited keep V0; so does a terminal state (it is only bootstrapped from when nonterminal).
    """
    s, r, s2, bootstrap, _ = _steps(ep, gamma)
    return _batch(s, lambda V: r + gamma * bootstrap * V[s2], n_states, V0, alpha, tol, max_sweeps)


def batch_mc(ep: Episodes, n_states: int, gamma: float = 1.0, V0: float = 0.0, alpha: float = 0.01,
             tol: float = 1e-13, max_sweeps: int = 1_000_000) -> np.ndarray:
    """Batch every-visit MC: the returns G_t of all the data as targets (converges to their averages)."""
    s, _, _, _, G = _steps(ep, gamma)
    return _batch(s, lambda V: G, n_states, V0, alpha, tol, max_sweeps)


def average_returns(ep: Episodes, n_states: int, gamma: float = 1.0, V0: float = 0.0) -> np.ndarray:
    """The fixed point of batch every-visit MC: each visited state's mean return (V0 elsewhere)."""
    s, _, _, _, G = _steps(ep, gamma)
    N = np.bincount(s, minlength=n_states)
    return np.where(N > 0, np.bincount(s, weights=G, minlength=n_states) / np.maximum(N, 1), V0)


def certainty_equivalence(ep: Episodes, n_states: int, gamma: float = 1.0, V0: float = 0.0) -> np.ndarray:
    """Values of the maximum-likelihood model of the data: the fixed point of batch TD(0).

    P_hat(s'|s) and r_hat(s) are the observed frequencies and mean rewards; V = r_hat + gamma P_hat V is
    solved over the visited states (a terminal successor counts 0; unvisited states keep V0).
    """
    s, r, s2, bootstrap, _ = _steps(ep, gamma)
    N = np.bincount(s, minlength=n_states)
    visited = N > 0
    P_hat = np.zeros((n_states, n_states))
    np.add.at(P_hat, (s[bootstrap], s2[bootstrap]), 1.0)
    P_hat = P_hat[np.ix_(visited, visited)] / N[visited, None]
    r_hat = np.bincount(s, weights=r, minlength=n_states)[visited] / N[visited]
    V = np.full(n_states, float(V0))
    V[visited] = np.linalg.solve(np.eye(visited.sum()) - gamma * P_hat, r_hat)
    return V


def predictor_example() -> Episodes:
    """Example 6.4's eight episodes: A,0,B,0 / B,1 (six times) / B,0. States A = 0, B = 1, terminal 2."""
    states = np.array([[0, 1, 2]] + [[1, 2, 2]] * 7)
    rewards = np.array([[0.0, 0.0]] + [[1.0, 0.0]] * 6 + [[0.0, 0.0]])
    lengths = np.array([2] + [1] * 7)
    return Episodes(states, rewards, lengths)


# --------------------------------------------------------------------------------------------------
# experiments

EXPECTED: dict[str, tuple[float, float]] = {
    "ex6.2 RMS error at episode 0": (float(np.sqrt(np.mean((0.5 - np.arange(1, 6) / 6) ** 2))), 1e-12),
    "ex6.4 batch MC V(A)": (0.0, 1e-9),
    "ex6.4 batch MC V(B)": (0.75, 1e-9),
    "ex6.4 batch TD V(A)": (0.75, 1e-9),
    "ex6.4 batch TD V(B)": (0.75, 1e-9),
}


def rms_error(V: np.ndarray, truth: np.ndarray, states: np.ndarray) -> np.ndarray:
    """sqrt(mean over ``states`` of (V - truth)^2), over the last axis of V."""
    return np.sqrt(np.mean((V[..., states] - truth[states]) ** 2, -1))


def _learning_curves(update, alphas: np.ndarray, ep: Episodes, V0: np.ndarray, truth: np.ndarray,
                     states: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Replay K episodes per run; RMS error after each (alphas, K + 1) averaged over runs, and each V."""
    runs, K = ep.lengths.shape
    V = np.broadcast_to(V0, (len(alphas), runs, len(V0))).copy()
    a = alphas[:, None]
    history = [V.copy()]
    for k in range(K):
        update(V, ep.take(k), a)
        history.append(V.copy())
    rms = np.stack([rms_error(Vk, truth, states).mean(-1) for Vk in history], -1)
    return rms, history


def _example_6_2(out: Path, rng: np.random.Generator, runs: int, K: int, m: dict[str, float]) -> Episodes:
    mdp, truth = random_walk(5), random_walk_values(5)
    inner = np.arange(1, 6)
    V0 = np.where(np.isin(np.arange(7), inner), 0.5, 0.0)
    ep = sample_episodes(mdp, rng, runs * K).reshape(runs, K)
    td_alphas, mc_alphas = np.array([0.05, 0.1, 0.15]), np.array([0.01, 0.02, 0.03, 0.04])
    td_rms, td_hist = _learning_curves(td0, td_alphas, ep, V0, truth, inner)
    mc_rms, _ = _learning_curves(lambda V, e, a: mc(V, e, a), mc_alphas, ep, V0, truth, inner)
    m["ex6.2 RMS error at episode 0"] = float(td_rms[0, 0])
    for name, alphas, rms in [("TD", td_alphas, td_rms), ("MC", mc_alphas, mc_rms)]:
        for i, a in enumerate(alphas):
            m[f"ex6.2 {name} alpha={a:g} RMS at episode {K}"] = float(rms[i, -1])
    m["ex6.2 best MC - best TD RMS at the end"] = float(mc_rms[:, -1].min() - td_rms[:, -1].min())

    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    letters = list("ABCDE")
    for k in [0, 1, 10, 100]:
        if k <= K:
            ax.plot(letters, td_hist[k][1, 0, inner], marker="o", label=f"{k}")
    ax.plot(letters, truth[inner], color="black", ls="--", marker=".", label="true values")
    ax.set_title("Example 6.2: TD(0) estimates, $\\alpha$ = 0.1, one run")
    ax.set_xlabel("state")
    ax.set_ylabel("estimated value")
    ax.legend(title="episodes", fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    for i, a in enumerate(td_alphas):
        ax.plot(td_rms[i], color="C0", alpha=0.45 + 0.55 * i / 2, label=f"TD $\\alpha$={a:g}")
    for i, a in enumerate(mc_alphas):
        ax.plot(mc_rms[i], color="C3", ls="--", alpha=0.4 + 0.6 * i / 3, label=f"MC $\\alpha$={a:g}")
    ax.set_title(f"RMS error over the 5 states, averaged over {runs} runs")
    ax.set_xlabel("walks / episodes")
    ax.set_ylim(0, 0.25)
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(out / "random_walk_td_mc.png", dpi=110, bbox_inches="tight")
    return ep


def batch_limits(ep: Episodes, n_states: int, V0: float) -> tuple[np.ndarray, np.ndarray]:
    """What batch TD(0) and batch MC converge to on the first k episodes of each run, for k = 0..K.

    ep: (runs, K) episodes, gamma = 1. Returns the certainty-equivalence values and the average returns,
    each (runs, K + 1, S): ``certainty_equivalence`` and ``average_returns`` of every prefix of the data,
    from running counts instead of one solve per data set.
    """
    runs, K = ep.lengths.shape
    flat = ep.reshape(runs * K)
    live = np.arange(flat.rewards.shape[1]) < flat.lengths[:, None]
    e = np.nonzero(live)[0]                                     # episode of each time step
    s, r, s2, bootstrap, G = _steps(flat, 1.0)
    N, Rsum, Gsum = (np.zeros((runs * K, n_states)) for _ in range(3))
    C = np.zeros((runs * K, n_states, n_states))                # counts of s -> s' (s' nonterminal)
    np.add.at(N, (e, s), 1.0)
    np.add.at(Rsum, (e, s), r)
    np.add.at(Gsum, (e, s), G)
    np.add.at(C, (e[bootstrap], s[bootstrap], s2[bootstrap]), 1.0)

    def prefix_sums(x: np.ndarray) -> np.ndarray:              # (runs * K, ...) -> (runs, K + 1, ...)
        x = np.cumsum(x.reshape(runs, K, *x.shape[1:]), 1)
        return np.concatenate([np.zeros_like(x[:, :1]), x], 1)

    N, Rsum, Gsum, C = map(prefix_sums, (N, Rsum, Gsum, C))
    visited, n = N > 0, np.maximum(N, 1)
    V_mc = np.where(visited, Gsum / n, V0)
    A = np.eye(n_states) - C / n[..., None]                     # unvisited rows stay those of I
    b = np.where(visited, Rsum / n, V0)
    V_td = np.linalg.solve(A, b[..., None])[..., 0]
    return V_td, V_mc


def _figure_6_2(out: Path, ep: Episodes, m: dict[str, float]) -> None:
    """Batch TD(0) and batch constant-alpha MC on the first k episodes of each run, k = 0..K.

    Batch updating with a small enough alpha converges to the same values whatever alpha is: the
    certainty-equivalence values for TD, the average returns for MC (``batch_td``/``batch_mc`` reach
    them on Example 6.4 and in the tests); those limits are computed here directly.
    """
    truth, inner = random_walk_values(5), np.arange(1, 6)
    runs, K = ep.lengths.shape
    V_td, V_mc = batch_limits(ep, 7, V0=0.5)
    rms = np.stack([rms_error(V_td, truth, inner), rms_error(V_mc, truth, inner)])   # (2, runs, K + 1)
    td, mc_ = rms.mean(1)
    for k in [10, 50, K]:
        m[f"fig6.2 batch TD RMS at episode {k}"], m[f"fig6.2 batch MC RMS at episode {k}"] = td[k], mc_[k]
    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(td, color="C0", label="batch TD(0)")
    ax.plot(mc_, color="C3", ls="--", label="batch MC")
    ax.set_ylim(0, 0.25)
    ax.set_xlabel("walks / episodes")
    ax.set_ylabel(f"RMS error over the 5 states, averaged over {runs} runs")
    ax.set_title("Figure 6.2: batch training on the random walk")
    ax.legend()
    fig.savefig(out / "random_walk_batch.png", dpi=110, bbox_inches="tight")


def _figure_7_2(out: Path, rng: np.random.Generator, runs: int, alphas: np.ndarray,
                ns: list[int], m: dict[str, float]) -> None:
    K = 10
    mdp, truth = random_walk(19, left_reward=-1.0), random_walk_values(19, left_reward=-1.0)
    inner = np.arange(1, 20)
    ep = sample_episodes(mdp, rng, runs * K).reshape(runs, K)
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    for i, n in enumerate(ns):
        rms, _ = _learning_curves(lambda V, e, a, n=n: nstep_td(V, e, n, a), alphas, ep,
                                  np.zeros(21), truth, inner)
        err = rms[:, 1:].mean(-1)                    # average over the first 10 episodes
        best = int(err.argmin())
        m[f"fig7.2 n={n} best RMS (first 10 episodes)"] = float(err[best])
        m[f"fig7.2 n={n} best alpha"] = float(alphas[best])
        ax.plot(alphas, err, color=f"C{i % 10}", label=f"n={n}")
    ax.set_ylim(0.25, 0.55)
    ax.set_xlabel("$\\alpha$")
    ax.set_ylabel(f"average RMS error over 19 states and first {K} episodes")
    ax.set_title(f"Figure 7.2: n-step TD on the 19-state random walk ({runs} runs)")
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(out / "nstep_td_19.png", dpi=110, bbox_inches="tight")


def run(out: Path, quick: bool = False, seed: int = 0) -> dict[str, float]:
    """Examples 6.2 and 6.4, Figures 6.2 and 7.2; writes three PNGs into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m: dict[str, float] = {}
    t0 = time.perf_counter()
    rng6, rng7 = np.random.default_rng(seed).spawn(2)
    ep = _example_6_2(out, rng6, runs=20 if quick else 100, K=100, m=m)
    t1 = time.perf_counter()
    _figure_6_2(out, ep, m)
    t2 = time.perf_counter()
    if quick:
        _figure_7_2(out, rng7, 10, np.linspace(0, 1, 6), [1, 4, 16, 512], m)
    else:
        alphas = np.union1d([0.01, 0.02, 0.03], np.linspace(0, 1, 21))   # small ones for large n
        _figure_7_2(out, rng7, 100, alphas, [2 ** i for i in range(10)], m)
    t3 = time.perf_counter()
    ep = predictor_example()
    for name, V in [("MC", batch_mc(ep, 3)), ("TD", batch_td(ep, 3))]:
        m[f"ex6.4 batch {name} V(A)"], m[f"ex6.4 batch {name} V(B)"] = float(V[0]), float(V[1])
    m["ex6.2 wall time (s)"], m["fig6.2 wall time (s)"], m["fig7.2 wall time (s)"] = t1 - t0, t2 - t1, t3 - t2
    m["prediction wall time (s)"] = time.perf_counter() - t0
    return m


if __name__ == "__main__":      # the same as python -m rl.tabular --only prediction
    import sys

    from rl.tabular.__main__ import main

    sys.exit(main(["--only", "prediction", *sys.argv[1:]]))
