"""Sutton & Barto (2nd ed.) chapter 2 on the 10-armed testbed: Figures 2.2-2.6 and Exercise 2.5.

    python -m rl.bandits                    # 2000 runs x 1000 steps, every figure (seconds)
    python -m rl.bandits --quick            # a tiny run, for CI
    python -m rl.bandits --runs 500 --seed 1 --out runs/bandits_500

The testbed is a set of k = 10-armed bandit problems: the true values q*(a) ~ N(0, 1) (N(4, 1) for the
gradient bandit of Fig 2.5) are drawn once per problem, and pulling arm A gives R ~ N(q*(A), 1).
Each problem is one *row* of an array; an agent keeps its estimates as ``(rows, k)`` arrays and picks
every row's action at once, so a 2000-run experiment is a Python loop over the steps only. Rows may
carry different parameters (epsilon, alpha, c, Q1): the configurations of a figure, and every value of a
family in the parameter study of Fig 2.6, are simulated in one batch. All of them face the same 2000
problems for a given seed (common random numbers: only the agents' choices and the reward noise differ).

Results are averaged over runs at every step: the average reward and the fraction of runs that took an
optimal action. ``summary.json`` keeps, per configuration, their means over the last tenth of the steps
(t = 901..1000 by default) and over all steps; the table printed at the end compares them with the
anchor numbers (a vectorised re-simulation of the book's curves: the book shows only the curves).
Pictures, one per figure of the book: fig2_2.png ... fig2_6.png and exercise2_5.png (nonstationary
problems, as in the book's exercise: every q*(a) starts at 0 and takes a random-walk step with standard
deviation 0.01 (``--walk-std``) at every step; epsilon = 0.1 with sample averages against a constant step
size alpha = 0.1, over 10,000 steps).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K = 10  # arms

# ---------------------------------------------------------------------------------------------------
# the testbed


class Testbed:
    """Rows of k-armed Gaussian bandit problems: ``groups`` configurations x ``runs`` problems.

    Row i faces problem i % runs, so every configuration (group) meets the same problems (common
    random numbers: the comparison between configurations does not depend on which problems were drawn).

    q_star:   (runs, k) true action values q*(a); a pull of arm A on a row returns R ~ N(q*(A), 1)
    groups:   number of configurations simulated side by side; the rows are n = groups * runs
    walk_std: 0 for a stationary testbed; otherwise, before every pull, every q*(a) takes an independent
              step ~ N(0, walk_std^2) (the nonstationary problems of Exercise 2.5; walking first means
              the q* already differ at the first step, where "optimal" is then well defined)
    """

    def __init__(self, q_star: np.ndarray, groups: int = 1, walk_std: float = 0.0) -> None:
        self.q_star = np.array(q_star, dtype=float, order="F")   # a copy: the walk changes it
        self.groups = groups
        self.walk_std = float(walk_std)
        self.runs, self.k = self.q_star.shape
        self.problem = np.tile(np.arange(self.runs), groups)   # (n,) the problem of each row
        self._best = self.q_star.max(axis=1)

    @property
    def n(self) -> int:
        return self.groups * self.runs

    def pull(self, actions: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(n,) arms -> (n,) rewards R ~ N(q*(A), 1) and (n,) bool "A is optimal": q*(A) = max_a q*(a)."""
        if self.walk_std > 0:
            self.q_star += self.walk_std * rng.standard_normal((self.runs, self.k))
            self._best = self.q_star.max(axis=1)
        q = flat(self.q_star)[actions * self.runs + self.problem]
        return q + rng.standard_normal(self.n), q == self._best[self.problem]


def testbed_values(runs: int, seed: int, mean: float = 0.0, k: int = K) -> np.ndarray:
    """(runs, k) true values q*(a) ~ N(mean, 1); the same standard normals for every ``mean``."""
    return mean + np.random.default_rng([seed, 0]).standard_normal((runs, k))


# ---------------------------------------------------------------------------------------------------
# helpers


def per_row(value: float | Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
    """A scalar or an (n,) array of parameters -> a float (n,) array (None -> NaN)."""
    return np.broadcast_to(np.asarray(np.nan if value is None else value, dtype=float), (n,)).copy()


def row_array(n: int, k: int, fill: float | np.ndarray = 0.0) -> np.ndarray:
    """An (n, k) float array filled with ``fill`` (a scalar or (n,) per row), in column-major order.

    With k = 10 short rows, reductions over a row (max, sum) are many times faster when each column
    is contiguous: they become element-wise operations on k long vectors.
    """
    a = np.empty((n, k), order="F")
    a[:] = np.asarray(fill, dtype=float).reshape(-1, 1) if np.ndim(fill) else fill
    return a


def flat(a: np.ndarray) -> np.ndarray:
    """(n, k) column-major array -> its (n * k,) flat view: entry (i, j) is at j * n + i.

    Gathering and scattering one entry per row through flat indices is several times faster than
    ``a[rows, cols]``. The agents' arrays are made column-major; assign to them in place (``Q[:] = ...``).
    """
    if not a.flags.f_contiguous:
        raise ValueError("flat: expected a column-major (Fortran-ordered) array; assign in place")
    return a.reshape(-1, order="F")


def argmax_random_ties(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, k) -> (n,) the column of a maximal entry of each row, uniformly at random among ties.

    np.argmax alone always returns the first maximum, which would favour arm 0 (all estimates start
    equal). Rows with a single maximum take it; in rows with ties, a uniform number is drawn per entry and
    the largest one among the maximal entries wins. (The matrix product gives, per row, the number of
    maximal entries and the sum of their column indices, which is the argmax where the maximum is unique:
    much faster than np.argmax over short rows.)
    """
    n, k = values.shape
    is_max = (values == values.max(axis=1, keepdims=True)).astype(float)
    count_and_index = is_max @ np.stack([np.ones(k), np.arange(k)], axis=1)   # (n, 2)
    choice = count_and_index[:, 1].astype(np.intp)
    tied = np.flatnonzero(count_and_index[:, 0] > 1)
    if tied.size:
        choice[tied] = np.where(is_max[tied] > 0, rng.random((tied.size, k)), -1.0).argmax(axis=1)
    return choice


def softmax(h: np.ndarray) -> np.ndarray:
    """(n, k) preferences -> (n, k) probabilities pi(a) = exp h(a) / sum_b exp h(b), row-wise."""
    z = h - h.max(axis=1, keepdims=True)   # shifted for overflow safety; in place from here
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, k) probabilities -> (n,) one draw per row: the inverse CDF at one uniform number u per row.

    The arm is the number of partial sums p(0) + ... + p(j), j < k - 1, that are below u.
    """
    n, k = probs.shape
    u = rng.random(n)
    arms = np.zeros(n, dtype=np.intp)
    partial = np.zeros(n)
    for j in range(k - 1):
        partial += probs[:, j]
        arms += partial < u
    return arms


# ---------------------------------------------------------------------------------------------------
# the agents: act(rng) -> (n,) arms, then update(arms, rewards)


class ActionValueAgent:
    """Base of the action-value methods: estimates Q (n, k) and counts N (n, k), one row per problem.

    After action A with reward R:   N(A) += 1,   Q(A) += step * (R - Q(A)),   with
    step = 1 / N(A) (the sample average of the rewards of A) or a constant alpha (an exponential,
    recency-weighted average, which starts from the initial estimate Q1 and so keeps a bias towards it).

    n:     number of rows (runs times configurations)
    q1:    initial estimates Q1(a), a scalar or one per row
    alpha: constant step size, a scalar or one per row; None or NaN means sample averages
    """

    def __init__(self, n: int, k: int = K, q1: float | np.ndarray = 0.0,
                 alpha: float | np.ndarray | None = None) -> None:
        self.Q = row_array(n, k, per_row(q1, n))
        self.N = row_array(n, k)
        self.alpha = per_row(alpha, n)
        self.sample_average = np.isnan(self.alpha)
        self.rows = np.arange(n)
        self.t = 0  # steps taken so far

    def act(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Move Q(A) towards R in every row: Q(A) += step * (R - Q(A))."""
        i = actions * len(self.rows) + self.rows     # flat index of (row, A)
        Q, N = flat(self.Q), flat(self.N)
        N[i] += 1
        step = np.where(self.sample_average, 1.0 / N[i], self.alpha)
        Q[i] += step * (rewards - Q[i])
        self.t += 1


class EpsilonGreedy(ActionValueAgent):
    """epsilon-greedy: a uniformly random arm with probability epsilon, else argmax_a Q(a), ties at random.

    epsilon: a scalar or one per row (epsilon = 0 is the greedy method). A random arm may be the greedy
    one, so the greedy arm is taken with probability 1 - epsilon + epsilon / k.
    """

    def __init__(self, n: int, epsilon: float | np.ndarray, k: int = K, q1: float | np.ndarray = 0.0,
                 alpha: float | np.ndarray | None = None) -> None:
        super().__init__(n, k, q1, alpha)
        self.epsilon = per_row(epsilon, n)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        n, k = self.Q.shape
        explore = rng.random(n) < self.epsilon
        random_arms = rng.integers(k, size=n)
        return np.where(explore, random_arms, argmax_random_ties(self.Q, rng))


class UCB(ActionValueAgent):
    """Upper-confidence-bound action selection on sample averages.

    A_t = argmax_a [Q_t(a) + c sqrt(ln t / N_t(a))] at step t = 1, 2, ...; an arm with N_t(a) = 0
    counts as maximising, so the untried arms are pulled first (in random order), ties at random.
    c: the degree of exploration, a scalar or one per row.
    """

    def __init__(self, n: int, c: float | np.ndarray, k: int = K) -> None:
        super().__init__(n, k)
        self.c = per_row(c, n)

    def upper_bounds(self) -> np.ndarray:
        """(n, k) Q(a) + c sqrt(ln t / N(a)) for the coming step t = self.t + 1; +inf where N(a) = 0."""
        u = np.maximum(self.N, 1.0)                  # in place from here: one temporary (n, k) array
        np.divide(math.log(self.t + 1), u, out=u)
        np.sqrt(u, out=u)
        u *= self.c[:, None]
        u += self.Q
        u[self.N == 0] = np.inf
        return u

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return argmax_random_ties(self.upper_bounds(), rng)


class GradientBandit:
    """Gradient bandit: a soft-max policy over preferences H (n, k), learned by stochastic gradient ascent.

    pi_t(a) = exp H_t(a) / sum_b exp H_t(b);  after A_t with reward R_t, for every arm a:
        H_{t+1}(a) = H_t(a) + alpha (R_t - baseline_t) (1[a = A_t] - pi_t(a))
    baseline_t = the average of the rewards before step t (R_1, ..., R_{t-1}), and R_1 itself at t = 1
    (so the first step changes nothing); 0 for the variant without baseline.

    alpha:    step size, a scalar or one per row
    baseline: use the baseline, a bool or one per row
    """

    def __init__(self, n: int, alpha: float | np.ndarray, baseline: bool | np.ndarray = True,
                 k: int = K) -> None:
        self.H = row_array(n, k)
        self.alpha = per_row(alpha, n)
        self.use_baseline = per_row(baseline, n).astype(bool)
        self.mean_reward = np.zeros(n)   # average of the rewards so far
        self.rows = np.arange(n)
        self.t = 0
        self._pi = softmax(self.H)

    def act(self, rng: np.random.Generator) -> np.ndarray:
        self._pi = softmax(self.H)
        return sample_categorical(self._pi, rng)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """H += alpha (R - baseline) (onehot(A) - pi), with the pi that chose A."""
        baseline = rewards if self.t == 0 else self.mean_reward
        coef = self.alpha * (rewards - np.where(self.use_baseline, baseline, 0.0))
        self.H -= coef[:, None] * self._pi
        flat(self.H)[actions * len(self.rows) + self.rows] += coef
        self.t += 1
        self.mean_reward += (rewards - self.mean_reward) / self.t


Agent = ActionValueAgent | GradientBandit


# ---------------------------------------------------------------------------------------------------
# simulation


@dataclass
class Curves:
    """One configuration's averages over its runs, at every step t = 1..steps.

    reward:  (steps,) average reward R_t
    optimal: (steps,) fraction of the runs whose A_t was an optimal arm (argmax q*)
    """

    reward: np.ndarray
    optimal: np.ndarray

    def window_means(self, first: int, last: int) -> tuple[float, float]:
        """(average reward, % optimal action) averaged over the steps first..last (1-based, inclusive)."""
        s = slice(first - 1, last)
        return float(self.reward[s].mean()), float(100 * self.optimal[s].mean())


def simulate(agent: Agent, bandit: Testbed, steps: int, rng: np.random.Generator) -> list[Curves]:
    """Run ``agent`` on ``bandit`` for ``steps`` steps; returns one Curves per group of the testbed.

    The n = groups * runs rows are group-major: rows [g * runs, (g + 1) * runs) are configuration g.
    """
    groups = bandit.groups
    reward = np.empty((groups, steps))
    optimal = np.empty((groups, steps))
    for t in range(steps):
        actions = agent.act(rng)
        rewards, hit = bandit.pull(actions, rng)
        agent.update(actions, rewards)
        reward[:, t] = rewards.reshape(groups, -1).mean(axis=1)
        optimal[:, t] = hit.reshape(groups, -1).mean(axis=1)
    return [Curves(reward[g], optimal[g]) for g in range(groups)]


def run_batch(make_agent: Callable[[int], Agent], labels: Sequence[str], runs: int, steps: int, seed: int,
              stream: int, mean: float = 0.0, walk_std: float = 0.0,
              equal_start: bool = False) -> dict[str, Curves]:
    """Simulate ``len(labels)`` configurations side by side, each on the same ``runs`` problems.

    make_agent(n) builds the agent for n = len(labels) * runs rows (parameters with np.repeat(values, runs)).
    The problems come from ``seed`` alone; the agents' and rewards' random numbers from (seed, stream).
    equal_start: every q*(a) starts at 0 (nonstationary problems) instead of N(mean, 1).
    """
    g = len(labels)
    q = np.zeros((runs, K)) if equal_start else testbed_values(runs, seed, mean)
    bandit = Testbed(q, groups=g, walk_std=walk_std)
    curves = simulate(make_agent(g * runs), bandit, steps, np.random.default_rng([seed, stream]))
    return dict(zip(labels, curves))


# ---------------------------------------------------------------------------------------------------
# the experiments of the chapter: label -> Curves (stream numbers keep their random numbers apart)

EPSILONS = (0.0, 0.01, 0.1)
GRADIENT = ((0.1, True), (0.1, False), (0.4, True), (0.4, False))  # (alpha, baseline)
# Fig 2.6: log2 of the parameter values of each family
STUDY_EXPONENTS = {"eps-greedy": range(-7, -1), "gradient": range(-5, 2), "ucb": range(-4, 3),
                   "optimistic": range(-2, 3)}


def eps_label(eps: float) -> str:
    return f"eps={eps:g}"


def gradient_label(alpha: float, baseline: bool) -> str:
    return f"gradient alpha={alpha:g} " + ("baseline" if baseline else "no baseline")


def epsilon_greedy_curves(runs: int, steps: int, seed: int,
                          epsilons: Sequence[float] = EPSILONS) -> dict[str, Curves]:
    """Fig 2.2: epsilon-greedy with sample averages, Q1 = 0."""
    eps = np.repeat(epsilons, runs)
    return run_batch(lambda n: EpsilonGreedy(n, eps), [eps_label(e) for e in epsilons], runs, steps, seed, 1)


def optimistic_curves(runs: int, steps: int, seed: int) -> dict[str, Curves]:
    """Fig 2.3: optimistic greedy (Q1 = 5, eps = 0) vs realistic (Q1 = 0, eps = 0.1), both alpha = 0.1."""
    q1, eps = np.repeat([5.0, 0.0], runs), np.repeat([0.0, 0.1], runs)
    return run_batch(lambda n: EpsilonGreedy(n, eps, q1=q1, alpha=0.1), ["optimistic", "realistic"],
                     runs, steps, seed, 2)


def ucb_curves(runs: int, steps: int, seed: int) -> dict[str, Curves]:
    """Fig 2.4: UCB with c = 2 (compared in the figure with epsilon = 0.1 of Fig 2.2)."""
    return run_batch(lambda n: UCB(n, 2.0), ["ucb c=2"], runs, steps, seed, 3)


def gradient_curves(runs: int, steps: int, seed: int) -> dict[str, Curves]:
    """Fig 2.5: gradient bandit, alpha = 0.1 and 0.4, with and without baseline, on q* ~ N(4, 1)."""
    alpha = np.repeat([a for a, _ in GRADIENT], runs)
    baseline = np.repeat([b for _, b in GRADIENT], runs)
    return run_batch(lambda n: GradientBandit(n, alpha, baseline), [gradient_label(*c) for c in GRADIENT],
                     runs, steps, seed, 4, mean=4.0)


def parameter_study(runs: int, steps: int, seed: int) -> dict[str, dict[int, float]]:
    """Fig 2.6: family -> {log2 of the parameter: average reward over steps 1..steps}.

    eps-greedy (epsilon), gradient bandit with baseline (alpha), UCB (c), greedy with optimistic
    initialisation and alpha = 0.1 (Q1); each family is one batch on the standard testbed.
    """
    builders: dict[str, Callable[[np.ndarray], Callable[[int], Agent]]] = {
        "eps-greedy": lambda p: lambda n: EpsilonGreedy(n, p),
        "gradient": lambda p: lambda n: GradientBandit(n, p, True),
        "ucb": lambda p: lambda n: UCB(n, p),
        "optimistic": lambda p: lambda n: EpsilonGreedy(n, 0.0, q1=p, alpha=0.1),
    }
    study = {}
    for stream, (family, exps) in enumerate(STUDY_EXPONENTS.items(), start=10):
        exps = list(exps)
        params = np.repeat(2.0 ** np.array(exps), runs)
        curves = run_batch(builders[family](params), [str(x) for x in exps], runs, steps, seed, stream)
        study[family] = {x: float(curves[str(x)].reward.mean()) for x in exps}
    return study


def nonstationary_curves(runs: int, steps: int, seed: int, walk_std: float = 0.01) -> dict[str, Curves]:
    """Exercise 2.5: epsilon = 0.1 with sample averages vs constant alpha = 0.1 on random-walking q*."""
    alpha = np.repeat([np.nan, 0.1], runs)
    return run_batch(lambda n: EpsilonGreedy(n, 0.1, alpha=alpha), ["sample-average", "alpha=0.1"],
                     runs, steps, seed, 5, walk_std=walk_std, equal_start=True)


# ---------------------------------------------------------------------------------------------------
# anchors: (average reward, % optimal action) averaged over t = 901..1000, 2000 runs (mean of 3 seeds of a
# vectorised re-simulation; the book's Figs 2.2-2.5 are curves only). Tolerances at 2000 runs, scaled by
# sqrt(2000 / runs) for other sizes (500 runs: +-0.06 and +-3 pp).

ANCHORS = {
    "eps=0": (1.02, 34.5), "eps=0.01": (1.30, 58.4), "eps=0.1": (1.37, 79.8),
    "optimistic": (1.50, 86.0), "realistic": (1.35, 76.3), "ucb c=2": (1.49, 85.5),
    gradient_label(0.1, True): (5.50, 84.9), gradient_label(0.1, False): (5.21, 49.2),
    gradient_label(0.4, True): (5.43, 71.4), gradient_label(0.4, False): (4.80, 28.0),
}
REWARD_TOL, OPTIMAL_TOL, ANCHOR_RUNS = 0.03, 1.5, 2000
SPIKE_ANCHOR = (11, 43.0, 3.0)  # optimistic: step of the spike, % optimal there, tolerance (about 2.7 SE)
STUDY_ANCHORS = {  # Fig 2.6, average reward over the first 1000 steps (seed 0 of the re-simulation)
    "eps-greedy": (1.16, 1.23, 1.30, 1.33, 1.27, 1.11),
    "gradient": (1.10, 1.28, 1.37, 1.39, 1.35, 1.24, 1.06),
    "ucb": (1.41, 1.42, 1.44, 1.48, 1.47, 1.39, 1.16),
    "optimistic": (1.31, 1.39, 1.45, 1.41, 1.32),
}


def tolerance(base: float, runs: int) -> float:
    """An anchor tolerance at 2000 runs scaled to ``runs`` (the standard error goes as 1 / sqrt(runs))."""
    return base * math.sqrt(ANCHOR_RUNS / runs)


def check_rows(final: dict, runs: int) -> list[dict]:
    """Measured vs anchor for every anchored number of ``final`` (1000-step runs only)."""
    rows = []
    for label, (reward, pct) in ANCHORS.items():
        rows.append(dict(name=f"{label}/reward", measured=final[f"{label}/reward"], anchor=reward,
                         tol=tolerance(REWARD_TOL, runs)))
        rows.append(dict(name=f"{label}/optimal_pct", measured=final[f"{label}/optimal_pct"], anchor=pct,
                         tol=tolerance(OPTIMAL_TOL, runs)))
    step, pct, tol = SPIKE_ANCHOR
    rows.append(dict(name="optimistic/spike_step", measured=final["optimistic/spike_step"], anchor=step,
                     tol=0))
    rows.append(dict(name="optimistic/spike_optimal_pct", measured=final["optimistic/spike_optimal_pct"],
                     anchor=pct, tol=tolerance(tol, runs)))
    for family, values in STUDY_ANCHORS.items():
        for x, v in zip(STUDY_EXPONENTS[family], values):
            rows.append(dict(name=f"fig2_6/{family}/2^{x}", measured=final[f"fig2_6/{family}/2^{x}"],
                             anchor=v, tol=tolerance(REWARD_TOL, runs)))
    for r in rows:
        r["pass"] = bool(abs(r["measured"] - r["anchor"]) <= r["tol"] + 1e-9)
    return rows


# ---------------------------------------------------------------------------------------------------
# figures (matplotlib Figure objects: no pyplot state, no GUI backend)

BOOK_COLORS = {"eps=0": "green", "eps=0.01": "red", "eps=0.1": "tab:blue"}


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _steps(c: Curves) -> np.ndarray:
    return np.arange(1, len(c.reward) + 1)


def plot_reward_and_optimal(curves: dict[str, Curves], styles: dict[str, dict], path: Path,
                            title: str) -> Path:
    """Two panels, as in Fig 2.2: average reward (top) and % optimal action (bottom) against steps."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 7.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    for label, c in curves.items():
        top.plot(_steps(c), c.reward, lw=1, **styles[label])
        bottom.plot(_steps(c), 100 * c.optimal, lw=1, **styles[label])
    top.set_ylabel("Average\nreward")
    bottom.set_ylabel("%\nOptimal\naction")
    bottom.set_xlabel("Steps")
    bottom.set_ylim(0, 100)
    bottom.yaxis.set_major_formatter("{x:.0f}%")
    top.legend(loc="lower right")
    bottom.legend(loc="lower right")
    top.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_one(curves: dict[str, Curves], styles: dict[str, dict], path: Path, title: str, what: str,
             annotate_spike: int | None = None, legend_size: float | None = None) -> Path:
    """One panel against steps: ``what`` = "reward" (average reward) or "optimal" (% optimal action)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for label, c in curves.items():
        y = c.reward if what == "reward" else 100 * c.optimal
        ax.plot(_steps(c), y, lw=1, **styles[label])
    if what == "reward":
        ax.set_ylabel("Average\nreward")
    else:
        ax.set_ylabel("%\nOptimal\naction")
        ax.set_ylim(0, 100)
        ax.yaxis.set_major_formatter("{x:.0f}%")
    if annotate_spike is not None:
        c = next(iter(curves.values()))
        t = annotate_spike
        if t <= len(c.optimal):
            y = 100 * c.optimal[t - 1]
            ax.annotate(f"step {t}: {y:.0f}%", (t, y), (15, 45), textcoords="offset points", fontsize=8,
                        arrowprops=dict(arrowstyle="->", lw=0.7, relpos=(0, 0)))
    ax.set_xlabel("Steps")
    ax.legend(loc="lower right", fontsize=legend_size)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


STUDY_STYLE = {
    "eps-greedy": dict(color="red", label="ε-greedy (x = ε)"),
    "gradient": dict(color="green", label="gradient bandit (x = α)"),
    "ucb": dict(color="tab:blue", label="UCB (x = c)"),
    "optimistic": dict(color="black", label="greedy with optimistic\ninitialization α = 0.1 (x = Q₁)"),
}


def plot_parameter_study(study: dict[str, dict[int, float]], path: Path, title: str) -> Path:
    """Fig 2.6: average reward over the first steps against each family's parameter, log2 x-axis."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for family, values in study.items():
        xs = np.array(list(values))
        ax.plot(2.0 ** xs, list(values.values()), marker="o", ms=3, lw=1.2, **STUDY_STYLE[family])
    ticks = np.arange(-7, 3)
    ax.set_xscale("log", base=2)
    ax.set_xticks(2.0 ** ticks, [f"1/{2 ** -x}" if x < 0 else f"{2 ** x}" for x in ticks])
    ax.minorticks_off()
    ax.set_xlabel("ε   α   c   Q₁  (x)")
    ax.set_ylabel("Average\nreward\nover first\n1000 steps")
    ax.set_ylim(min(1.0, ax.get_ylim()[0]), max(1.5, ax.get_ylim()[1]))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def write_figures(res: dict, out: Path, runs: int, steps: int, ns_steps: int, walk_std: float) -> list[Path]:
    """The six pictures of the chapter from the curves in ``res``; returns their paths."""
    proto = f"{runs} runs"
    eps, opt, grad = res["eps"], res["optimistic"], res["gradient"]
    eps_styles = {k: dict(color=BOOK_COLORS[k], label=("ε = 0 (greedy)" if k == "eps=0" else f"ε = {k[4:]}"))
                  for k in eps}
    files = [plot_reward_and_optimal(eps, eps_styles, out / "fig2_2.png",
                                     f"Fig 2.2: ε-greedy, sample averages ({proto})")]
    opt_styles = {"optimistic": dict(color="tab:blue", label="Optimistic, greedy\nQ₁ = 5, ε = 0"),
                  "realistic": dict(color="gray", label="Realistic, ε-greedy\nQ₁ = 0, ε = 0.1")}
    files.append(plot_one(opt, opt_styles, out / "fig2_3.png",
                          f"Fig 2.3: optimistic initial values, α = 0.1 ({proto})", "optimal",
                          annotate_spike=SPIKE_ANCHOR[0]))
    ucb = {"ucb c=2": res["ucb"]["ucb c=2"], "eps=0.1": eps["eps=0.1"]}
    ucb_styles = {"ucb c=2": dict(color="tab:blue", label="UCB c = 2"),
                  "eps=0.1": dict(color="gray", label="ε-greedy ε = 0.1")}
    files.append(plot_one(ucb, ucb_styles, out / "fig2_4.png", f"Fig 2.4: UCB vs ε-greedy ({proto})",
                          "reward"))
    grad_styles = {gradient_label(a, b): dict(color="tab:blue" if b else "saddlebrown",
                                              ls="-" if a == 0.1 else "--",
                                              label=f"α = {a:g}, {'with' if b else 'without'} baseline")
                   for a, b in GRADIENT}
    files.append(plot_one(grad, grad_styles, out / "fig2_5.png",
                          f"Fig 2.5: gradient bandit, q*(a) ~ N(4, 1) ({proto})", "optimal", legend_size=8))
    files.append(plot_parameter_study(res["study"], out / "fig2_6.png",
                                      f"Fig 2.6: parameter study, average reward over the first "
                                      f"{steps} steps ({proto})"))
    ns_styles = {"sample-average": dict(color="red", label="sample averages"),
                 "alpha=0.1": dict(color="tab:blue", label="constant α = 0.1")}
    files.append(plot_reward_and_optimal(res["nonstationary"], ns_styles, out / "exercise2_5.png",
                                         f"Exercise 2.5: nonstationary q* (random walks, σ = {walk_std:g}), "
                                         f"ε = 0.1 ({proto}, {ns_steps} steps)"))
    return files


# ---------------------------------------------------------------------------------------------------
# command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m rl.bandits", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=2000, help="bandit problems per configuration (default 2000)")
    p.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000)")
    p.add_argument("--nonstationary-steps", type=int, default=10_000, help="steps of Exercise 2.5 (10000)")
    p.add_argument("--walk-std", type=float, default=0.01,
                   help="standard deviation of the random-walk steps of q* in Exercise 2.5 (0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bandits", help="folder for the pictures and summary.json")
    p.add_argument("--quick", action="store_true", help="a tiny run (100 runs x 200 steps) for CI")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.steps, args.nonstationary_steps = min(args.runs, 100), min(args.steps, 200), 500
    return args


def summarise(res: dict, steps: int, ns_steps: int) -> dict:
    """Flat ``final`` dict: '<config>/reward' and '<config>/optimal_pct' over the last tenth of the steps,
    '<config>/reward_all' and '<config>/optimal_pct_all' over all steps, the spike, Fig 2.6 values."""
    final: dict = {}
    for group in ("eps", "optimistic", "ucb", "gradient", "nonstationary"):
        n = ns_steps if group == "nonstationary" else steps
        first = n - max(1, n // 10) + 1
        for label, c in res[group].items():
            key = f"nonstationary {label}" if group == "nonstationary" else label
            final[f"{key}/reward"], final[f"{key}/optimal_pct"] = c.window_means(first, n)
            final[f"{key}/reward_all"], final[f"{key}/optimal_pct_all"] = c.window_means(1, n)
    early = res["optimistic"]["optimistic"].optimal[:20]
    final["optimistic/spike_step"] = int(early.argmax()) + 1
    final["optimistic/spike_optimal_pct"] = float(100 * early.max())
    for family, values in res["study"].items():
        for x, v in values.items():
            final[f"fig2_6/{family}/2^{x}"] = v
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()}


def print_table(rows: list[dict], runs: int, seed: int) -> None:
    print(f"\nmeasured vs anchors ({runs} runs, seed {seed}; reward and % optimal averaged over "
          "t = 901..1000)")
    print(f"{'quantity':<42}{'measured':>10}{'anchor':>9}{'tol':>8}  ok")
    for r in rows:
        print(f"{r['name']:<42}{r['measured']:>10.3f}{r['anchor']:>9.2f}{r['tol']:>8.2f}  "
              + ("pass" if r["pass"] else "FAIL"))
    print(f"{sum(r['pass'] for r in rows)}/{len(rows)} within tolerance")


def main(argv: list[str] | None = None) -> dict:
    """Run every experiment, write the pictures and summary.json to --out; return the ``final`` dict."""
    args = parse_args(argv)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs, steps, seed, ns_steps = args.runs, args.steps, args.seed, args.nonstationary_steps
    res = {"eps": epsilon_greedy_curves(runs, steps, seed),
           "optimistic": optimistic_curves(runs, steps, seed),
           "ucb": ucb_curves(runs, steps, seed), "gradient": gradient_curves(runs, steps, seed),
           "study": parameter_study(runs, steps, seed),
           "nonstationary": nonstationary_curves(runs, ns_steps, seed, args.walk_std)}
    sim_seconds = time.perf_counter() - started
    final = summarise(res, steps, ns_steps)
    rows = check_rows(final, runs) if steps == 1000 else []
    files = write_figures(res, out, runs, steps, ns_steps, args.walk_std)
    final.update(runs=runs, steps=steps, seed=seed, nonstationary_steps=ns_steps, walk_std=args.walk_std,
                 checks_passed=sum(r["pass"] for r in rows), checks_total=len(rows),
                 simulation_seconds=round(sim_seconds, 2), seconds=round(time.perf_counter() - started, 2))
    summary = {"name": "bandits", "args": vars(args),
               "protocol": dict(runs=runs, steps=steps, seed=seed, arms=K, nonstationary_steps=ns_steps,
                                walk_std=args.walk_std, window=f"last {max(1, steps // 10)} steps"),
               "final": final, "checks": rows, "files": [f.name for f in files] + ["summary.json"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if rows:
        print_table(rows, runs, seed)
    else:
        print(f"(no anchor check: the anchors are for 1000-step runs, this one has {steps})")
    ns = {k: final[f"nonstationary {k}/optimal_pct"] for k in res["nonstationary"]}
    print(f"Exercise 2.5, % optimal over the last {max(1, ns_steps // 10)} of {ns_steps} steps: "
          + ", ".join(f"{k} {v:.1f}" for k, v in ns.items()))
    print(f"bandits: {runs} runs x {steps} steps, seed {seed}, done in {final['seconds']:.1f}s "
          f"(simulation {sim_seconds:.1f}s) -> {out}")
    return final


if __name__ == "__main__":
    main()
