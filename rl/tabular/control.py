"""TD control experiments over many independent runs: Sutton & Barto Examples 6.6, 6.7; Taxi; FrozenLake.

    python -m rl.tabular.control          # all of them: figures in runs/tabular, numbers printed

- Cliff walking (Example 6.6, Figure 6.4): SARSA, Expected SARSA and Q-learning with ε = 0.1,
  α = 0.5, γ = 1, 500 episodes, 100 runs. Online return per episode, and the greedy path each learns.
- Maximisation bias (Example 6.7, Figure 6.5): Q-learning against Double Q-learning, ε = 0.1,
  α = 0.1, γ = 1, 300 episodes, 10,000 runs: how often the bad "left" action is taken from A.
- Taxi-v4 and FrozenLake-v1 (4x4, slippery): greedy policies scored exactly (expected return over
  the start distribution within the time limit), mean ± std over runs, against the DP optimum.

``run`` returns the measured numbers by name and ``EXPECTED`` holds (book or anchor value,
tolerance) for those that have one. The algorithms are in ``rl.tabular.td_control``.

Measured (seed 0; 69 s of CPU in all, Taxi more than half of it):
- cliff, mean return over episodes 401-500: SARSA -27.8, Q-learning -48.5, Expected SARSA -20.8
  (book -27.3, -49.5); Q-learning's greedy path -13 in 100/100 runs; SARSA's is the safe -17 in 73,
  -19 in 10, -15 in 1, and in 16 the greedy policy loops (scored -100 over the 100-step horizon).
- maximisation bias: Q-learning goes left in up to 93.8% of runs (episode 22), 12.1% at episode 300;
  Double Q-learning 50.5% at most (the tie at the start), 7.0% at episode 300.
- Taxi: Q-learning 7.930 ± 0.000 over 20 runs (every run optimal from ~100k steps); SARSA
  7.866 ± 0.036 (min 7.75). FrozenLake: Q-learning 0.740 ± 0.000 (the greedy policy of value
  iteration at gamma 0.99; the finite-horizon optimum is 0.744).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rl.tabular.mdp import TabularMDP, expected_return, policy_values
from rl.tabular.td_control import GreedyReturn, greedy_policy, train

# name -> (book / anchor value, tolerance); see /work/shared/anchors/rl.md §2.2 and §6
EXPECTED: dict[str, tuple[float, float]] = {
    "cliff_sarsa_return_ep401_500": (-27.3, 3.0),          # S&B Fig 6.4, re-simulated (anchor §2.2)
    "cliff_q_learning_return_ep401_500": (-49.5, 4.0),
    "cliff_sarsa_return_all": (-36.6, 3.0),
    "cliff_q_learning_return_all": (-56.4, 4.0),
    "cliff_q_learning_greedy_return": (-13.0, 0.0),        # the optimal path along the cliff, every run
    "cliff_sarsa_safe_path_fraction": (0.77, 0.15),        # greedy return -17 (anchor: 77% of runs)
    "maxbias_double_q_left_pct_ep300": (5.0, 2.5),         # S&B Fig 6.5: Double Q ends near the 5% floor
    "taxi_q_learning_greedy_return": (7.93, 0.03),         # exact DP optimum within 200 steps
    "taxi_sarsa_greedy_return": (7.93, 0.23),              # SARSA: the table's sampling target >= 7.7
    "frozenlake_q_learning_greedy_success": (0.744, 0.024),  # optimum 0.744, target >= 0.72
}

CLIFF = dict(epsilon=0.1, alpha=0.5, gamma=1.0, episodes=500, runs=100)
MAXBIAS = dict(epsilon=0.1, alpha=0.1, gamma=1.0, episodes=300, runs=10_000, n_actions_b=10)
# Taxi and FrozenLake, per algorithm: alpha (start, end) linear over the budget; epsilon (start, end,
# fraction of the budget to decay over), then constant; q_init everywhere; gamma for learning (the
# score is always the undiscounted expected return within the time limit). Runs and steps per run.
TAXI = {
    # optimistic start (no return exceeds the +20 drop-off) so every action of every state gets tried;
    # alpha = 1 because Taxi is deterministic: the target is exact given the successor's values
    "q_learning": dict(gamma=0.99, alpha=(1.0, 1.0), epsilon=(0.1, 0.01, 1.0), q_init=20.0),
    # SARSA's target samples the next action, exploration included, so it needs a decaying alpha;
    # optimism or alpha = 1 made it slower or unstable in a sweep (5 runs each, see the report)
    "sarsa": dict(gamma=0.99, alpha=(0.5, 0.01), epsilon=(1.0, 0.0, 1.0), q_init=0.0),
}
TAXI_RUNS, TAXI_STEPS = 20, 200_000
LAKE = {
    "q_learning": dict(gamma=0.99, alpha=(0.1, 0.01), epsilon=(1.0, 0.05, 0.5), q_init=0.0),
}
LAKE_RUNS, LAKE_STEPS = 20, 200_000
LEFT, RIGHT = 0, 1          # the two actions of state A in the maximisation-bias MDP


@dataclass
class NoisyRewardMDP(TabularMDP):
    """A TabularMDP with Gaussian reward noise: R is the mean, reward_std (S, A) the standard deviation.

    ``step`` returns R[s, a, s'] + reward_std[s, a] * z with z ~ N(0, 1), one draw per transition.
    """

    reward_std: np.ndarray | None = None

    def step(self, rng: np.random.Generator, s: np.ndarray, a: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s2, r, term = super().step(rng, s, a)
        return s2, r + self.reward_std[s, a] * rng.standard_normal(np.shape(s)), term


def maximization_bias_mdp(n_actions_b: int = 10, mean: float = -0.1, std: float = 1.0
                          ) -> tuple[NoisyRewardMDP, np.ndarray]:
    """Example 6.7: start in A; right -> terminal (reward 0), left -> B (reward 0); each of B's
    ``n_actions_b`` actions -> terminal with reward N(mean, std^2).

    States 0 = A, 1 = B, 2 = terminal. Returns the MDP and the (S, A) initial action values: 0, and
    -inf for the actions A does not have (A has LEFT and RIGHT only), so that they are never taken.
    """
    S, A, B, T = 3, 0, 1, 2
    P = np.zeros((S, n_actions_b, S))
    R = np.zeros_like(P)
    done = np.zeros(P.shape, dtype=bool)
    P[A, LEFT, B] = 1.0
    P[A, RIGHT:, T], done[A, RIGHT:, T] = 1.0, True          # RIGHT (and the unavailable actions) end it
    P[B, :, T], R[B, :, T], done[B, :, T] = 1.0, mean, True
    P[T, :, T], done[T] = 1.0, True
    reward_std = np.zeros((S, n_actions_b))
    reward_std[B] = std
    q_init = np.zeros((S, n_actions_b))
    q_init[A, RIGHT + 1:] = -np.inf
    return NoisyRewardMDP(P, R, done, np.eye(S)[A], name="MaximizationBias", reward_std=reward_std), q_init


def greedy_path(mdp: TabularMDP, q: np.ndarray, max_len: int = 100) -> list[int]:
    """States visited by the greedy policy of q (S, A) from the most likely start (deterministic MDPs)."""
    s, path = int(np.argmax(mdp.p0)), []
    for _ in range(max_len):
        path.append(s)
        a = int(np.argmax(q[s]))
        s2 = int(np.argmax(mdp.P[s, a]))
        if mdp.done[s, a, s2]:
            path.append(s2)
            break
        s = s2
    return path


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Trailing moving average over ``width`` points (fewer at the start): (T,) -> (T,)."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    lo = np.maximum(np.arange(1, len(x) + 1) - width, 0)
    return (c[1:] - c[lo]) / (np.arange(1, len(x) + 1) - lo)


def cliff_walking(rng: np.random.Generator, runs: int, episodes: int) -> dict:
    """Example 6.6 with the book's settings (CLIFF); returns the logs and the greedy returns per run."""
    mdp = TabularMDP.from_gymnasium("CliffWalking-v1")
    out = {"mdp": mdp}
    for algo in ("sarsa", "q_learning", "expected_sarsa"):
        log = train(mdp, algo, rng, n_runs=runs, episodes=episodes, epsilon=CLIFF["epsilon"],
                    alpha=CLIFF["alpha"], gamma=CLIFF["gamma"])
        # a greedy policy can loop forever (no time limit here): score it over 100 steps
        greedy = np.array([expected_return(mdp, greedy_policy(log.q[n]), horizon=100) for n in range(runs)])
        out[algo] = (log, greedy)
    return out


def maximization_bias(rng: np.random.Generator, runs: int, episodes: int) -> dict[str, np.ndarray]:
    """Example 6.7 with the book's settings (MAXBIAS): algorithm -> (episodes,) % of runs going left in A.

    With zero initial values B's untried actions stay at 0 > -0.1, so max_b Q(B, b) >= 0 until all ten
    have been tried and found negative, while Q(A, right) stays exactly 0: Q-learning prefers left in
    nearly every run for a while (peak ~94%, the ε-greedy ceiling being 95%). A scalar re-implementation
    gives the same curve.
    """
    mdp, q_init = maximization_bias_mdp(MAXBIAS["n_actions_b"])
    left = {}
    for algo in ("q_learning", "double_q"):
        log = train(mdp, algo, rng, n_runs=runs, episodes=episodes, epsilon=MAXBIAS["epsilon"],
                    alpha=MAXBIAS["alpha"], gamma=MAXBIAS["gamma"], q_init=q_init)
        left[algo] = 100.0 * (log.first_actions == LEFT).mean(0)
    return left


def linear(start: float, end: float, duration: float):
    """Schedule t -> start + (end - start) min(t / duration, 1): linear, then constant at ``end``."""
    return lambda t: start + (end - start) * min(t / duration, 1.0)


def exact_learning_curves(env_id: str, settings: dict[str, dict], rng: np.random.Generator, runs: int,
                          steps: int, n_evals: int = 20) -> dict:
    """Train each algorithm of ``settings`` (algorithm -> its settings, as in TAXI) on ``runs`` copies of a
    gymnasium toy-text env for ``steps`` steps, scoring every run's greedy policy exactly (gamma = 1,
    within the env's time limit) ``n_evals`` times on the way. Returns {"mdp": mdp, algorithm: TrainLog}."""
    mdp = TabularMDP.from_gymnasium(env_id)
    score = GreedyReturn(mdp)
    out = {"mdp": mdp}
    for algo, s in settings.items():
        (a0, a1), (e0, e1, frac) = s["alpha"], s["epsilon"]
        log = train(mdp, algo, rng, n_runs=runs, steps=steps, gamma=s["gamma"],
                    alpha=linear(a0, a1, steps), epsilon=linear(e0, e1, frac * steps),
                    q_init=np.full((mdp.n_states, mdp.n_actions), s["q_init"]),
                    evaluate=score, evaluate_every=max(steps // n_evals, 1))
        out[algo] = log
    return out


# ---------------------------------------------------------------------------------------------- figures

def plot_cliff_returns(cliff: dict, path: Path, window: int = 10) -> None:
    """Figure 6.4: sum of rewards per episode, mean over runs, then a trailing moving average."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for algo, label, color in (("sarsa", "Sarsa", "C0"), ("expected_sarsa", "Expected Sarsa", "C2"),
                               ("q_learning", "Q-learning", "C3")):
        log, _ = cliff[algo]
        mean = log.returns.mean(0)
        ax.plot(np.arange(1, len(mean) + 1), smooth(mean, window), color=color, lw=1.2, label=label)
    ax.set_ylim(-100, 0)
    ax.set_xlabel("Episodes")
    ax.set_ylabel("Sum of rewards during episode")
    runs = cliff["sarsa"][0].returns.shape[0]
    ax.set_title(f"Cliff walking (S&B Fig. 6.4): ε = 0.1, α = 0.5; mean of {runs} runs, "
                 f"{window}-episode moving average", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cliff_paths(cliff: dict, path: Path) -> None:
    """The greedy policies of one SARSA run (its most common greedy return) and one Q-learning run,
    with max_a Q as colour and the greedy path from S drawn in red."""
    import matplotlib.pyplot as plt

    from rl.tabular.plots import CLIFFWALKING_ARROWS, plot_value_grid

    mdp = cliff["mdp"]
    nrow, ncol = mdp.grid_shape
    cliff_cells = np.zeros((nrow, ncol), dtype=bool)
    cliff_cells[-1, 1:-1] = True
    mask = cliff_cells.copy()
    mask[-1, -1] = True                                        # the goal
    labels = np.full((nrow, ncol), "", dtype=object)
    labels[-1, 0] = "S"
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 5.2))
    for ax, (algo, name) in zip(axes, (("sarsa", "Sarsa"), ("q_learning", "Q-learning"))):
        log, greedy = cliff[algo]
        values, counts = np.unique(greedy, return_counts=True)
        common = values[np.argmax(counts)]
        run = int(np.flatnonzero(greedy == common)[0])
        q = log.q[run]
        v = q.max(-1).reshape(nrow, ncol).copy()
        v[mask] = np.nan
        im = plot_value_grid(ax, v, greedy_policy(q).reshape(nrow, ncol), arrows=CLIFFWALKING_ARROWS,
                             mask=mask, labels=labels, annotate=False, cmap="viridis")
        cells = np.array(greedy_path(mdp, q))
        ax.plot(cells % ncol, cells // ncol, color="red", lw=2.0, alpha=0.7)
        ax.add_patch(plt.Rectangle((0.5, nrow - 1.5), ncol - 2, 1, color="0.75"))
        ax.text(ncol / 2 - 0.5, nrow - 1, "The Cliff", ha="center", va="center", fontsize=9)
        ax.text(ncol - 1, nrow - 1, "G", ha="center", va="center", fontsize=9, fontweight="bold")
        share = 100.0 * np.mean(greedy == common)
        ax.set_title(f"{name}, run {run}: greedy return {common:.0f} (as in {share:.0f}% of runs); "
                     "colour max_a Q", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.02)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_maximization_bias(left: dict[str, np.ndarray], runs: int, path: Path) -> None:
    """Figure 6.5: % of runs taking 'left' from A in each episode, with the ε-greedy floor ε/2 = 5%."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for algo, label, color in (("q_learning", "Q-learning", "C3"), ("double_q", "Double Q-learning", "C2")):
        ax.plot(np.arange(1, len(left[algo]) + 1), left[algo], color=color, lw=1.2, label=label)
    ax.axhline(100 * MAXBIAS["epsilon"] / 2, color="k", ls="--", lw=0.8, label="optimal (5%)")
    ax.set_ylim(0, 100)
    ax.set_xlabel("Episodes")
    ax.set_ylabel("% left actions from A")
    ax.set_title(f"Maximisation bias (S&B Fig. 6.5): ε = 0.1, α = 0.1, {MAXBIAS['n_actions_b']} actions "
                 f"in B, mean of {runs} runs", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_learning_curves(taxi: dict, lake: dict, path: Path) -> None:
    """Exact greedy return (mean ± std over runs) against environment steps, Taxi and FrozenLake."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = ((axes[0], taxi, "Taxi-v4: exact greedy return", 7.93, (-100, 10)),
              (axes[1], lake, "FrozenLake-v1 4x4 slippery: exact greedy success", 0.744, (0, 0.8)))
    colors = {"q_learning": "C3", "sarsa": "C0", "expected_sarsa": "C2"}
    for ax, res, title, optimum, ylim in panels:
        for algo in (k for k in res if k != "mdp"):
            log = res[algo]
            steps, vals = np.array(log.eval_steps), np.array(log.eval_values)       # (K,), (K, N)
            mean, std = vals.mean(1), vals.std(1)
            ax.plot(steps, mean, color=colors[algo], lw=1.2,
                    label=f"{algo}: {mean[-1]:.3f} ± {std[-1]:.3f} ({vals.shape[1]} runs)")
            ax.fill_between(steps, mean - std, mean + std, color=colors[algo], alpha=0.2)
        ax.axhline(optimum, color="k", ls="--", lw=0.8, label=f"optimum (DP) {optimum}")
        if res is lake:
            ax.axhline(0.740, color="k", ls=":", lw=0.8, label="greedy policy of VI at γ = 0.99: 0.740")
        ax.set_ylim(*ylim)
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:.0f}k")
        ax.set_xlabel("environment steps per run")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_frozenlake_values(lake: dict, path: Path) -> None:
    """One Q-learning run on FrozenLake: max_a Q (gamma = 0.99) and the exact success probability of its
    greedy policy from every state (gamma = 1, 100 steps), both with the greedy arrows."""
    import gymnasium as gym
    import matplotlib.pyplot as plt

    from rl.tabular.plots import FROZENLAKE_ARROWS, plot_value_grid

    mdp, log = lake["mdp"], lake["q_learning"]
    shape = mdp.grid_shape
    env = gym.make("FrozenLake-v1")
    labels = env.unwrapped.desc.astype(str)
    env.close()
    q = log.q[0]
    pi = greedy_policy(q)
    mask = mdp.terminal_states.reshape(shape)
    success = policy_values(mdp, pi)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
    panels = ((axes[0], q.max(-1), f"max_a Q (γ = {LAKE['q_learning']['gamma']}), run 0"),
              (axes[1], success, f"exact P(success) of the greedy policy: {mdp.p0 @ success:.3f} from S"))
    for ax, v, title in panels:
        im = plot_value_grid(ax, v.reshape(shape), pi.reshape(shape), arrows=FROZENLAKE_ARROWS, mask=mask,
                             labels=labels, title=title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- run

def run(out: Path, quick: bool = False, seed: int = 0) -> dict[str, float]:
    """All the experiments; figures into ``out``; returns the measured numbers by name (see EXPECTED).

    quick: fewer runs, episodes and steps (a smoke test of seconds; its numbers are not the protocol's:
    the "ep401_500" and "ep300" numbers are then those of the last 100 episodes and the last episode).
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    m: dict[str, float] = {}

    t0 = time.perf_counter()
    cliff = cliff_walking(rng, runs=10 if quick else CLIFF["runs"],
                          episodes=150 if quick else CLIFF["episodes"])
    for algo in ("sarsa", "q_learning", "expected_sarsa"):
        log, greedy = cliff[algo]
        m[f"cliff_{algo}_return_ep401_500"] = float(log.returns[:, -100:].mean())   # the last 100
        m[f"cliff_{algo}_return_all"] = float(log.returns.mean())
        m[f"cliff_{algo}_greedy_return"] = float(np.median(greedy))
    m["cliff_q_learning_greedy_return"] = float(cliff["q_learning"][1].min())      # worst run
    m["cliff_sarsa_safe_path_fraction"] = float(np.mean(cliff["sarsa"][1] == -17))
    m["cliff_sarsa_looping_fraction"] = float(np.mean(cliff["sarsa"][1] <= -100))
    m["cliff_seconds"] = time.perf_counter() - t0
    plot_cliff_returns(cliff, out / "cliff_walking_fig6_4.png")
    plot_cliff_paths(cliff, out / "cliff_walking_greedy_paths.png")

    t0 = time.perf_counter()
    runs = 500 if quick else MAXBIAS["runs"]
    left = maximization_bias(rng, runs=runs, episodes=100 if quick else MAXBIAS["episodes"])
    for algo in ("q_learning", "double_q"):
        m[f"maxbias_{algo}_left_pct_peak"] = float(left[algo].max())
        m[f"maxbias_{algo}_peak_episode"] = float(np.argmax(left[algo]) + 1)
        m[f"maxbias_{algo}_left_pct_ep300"] = float(left[algo][-1])                 # the last one
        m[f"maxbias_{algo}_left_pct_ep291_300"] = float(left[algo][-10:].mean())
    m["maxbias_seconds"] = time.perf_counter() - t0
    plot_maximization_bias(left, runs, out / "maximization_bias_fig6_5.png")

    t0 = time.perf_counter()
    taxi = exact_learning_curves("Taxi-v4", TAXI, rng, runs=2 if quick else TAXI_RUNS,
                                 steps=5_000 if quick else TAXI_STEPS)
    for algo in ("q_learning", "sarsa"):
        final = taxi[algo].eval_values[-1]
        m[f"taxi_{algo}_greedy_return"], m[f"taxi_{algo}_greedy_return_std"] = final.mean(), final.std()
        m[f"taxi_{algo}_greedy_return_min"] = final.min()
    # the batched scorer is the recursion of mdp.expected_return: check it on one run
    check = expected_return(taxi["mdp"], greedy_policy(taxi["q_learning"].q[0]))
    assert np.isclose(check, taxi["q_learning"].eval_values[-1][0]), (check, taxi["q_learning"].eval_values)
    m["taxi_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lake = exact_learning_curves("FrozenLake-v1", LAKE, rng, runs=2 if quick else LAKE_RUNS,
                                 steps=5_000 if quick else LAKE_STEPS)
    final = lake["q_learning"].eval_values[-1]
    m["frozenlake_q_learning_greedy_success"] = float(final.mean())
    m["frozenlake_q_learning_greedy_success_std"] = float(final.std())
    m["frozenlake_q_learning_greedy_success_min"] = float(final.min())
    m["frozenlake_seconds"] = time.perf_counter() - t0
    plot_learning_curves(taxi, lake, out / "taxi_frozenlake_learning_curves.png")
    plot_frozenlake_values(lake, out / "frozenlake_q_learning_values.png")
    return {k: float(v) for k, v in m.items()}


if __name__ == "__main__":      # the same as python -m rl.tabular --only control
    import sys

    from rl.tabular.__main__ import main

    sys.exit(main(["--only", "control", *sys.argv[1:]]))
