"""Dynamic programming on a known finite MDP: policy evaluation, policy iteration, value iteration.

    V, sweeps = policy_evaluation(mdp, pi, gamma)           # pi: (S,) actions or (S, A) probabilities
    res = policy_iteration(mdp, gamma)                      # res.V (S,), res.policy (S,), res.iterations
    res = value_iteration(mdp, gamma, theta=1e-10)
    V, policies = finite_horizon_optimal(mdp)               # backward induction over the time limit

Everything rests on the one-step look-ahead (Sutton & Barto eq. 4.6)

    q(s, a) = sum_s' P[s, a, s'] (R[s, a, s'] + gamma * (1 - done[s, a, s']) * V(s')),

a single (S, A, S) product here. Policy evaluation sweeps V <- sum_a pi(a|s) q(s, a) either
synchronously (two arrays: the new V is computed from the old one, as in Figure 4.1's k = 1, 2, 3, ...)
or in place (Gauss-Seidel: each state's update sees the states already updated in this sweep, the
book's boxed algorithm); both stop when a sweep changes no value by theta or more. Policy iteration
and value iteration use the synchronous form, which is a few NumPy products per sweep.

``run`` checks the book's Figures 3.2, 3.5 and 4.1 and gymnasium's FrozenLake (``EXPECTED``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from rl.tabular.gridworld import gridworld_3_5, gridworld_4_1
from rl.tabular.mdp import TabularMDP, expected_return, policy_matrix
from rl.tabular.plots import FROZENLAKE_ARROWS, GRIDWORLD_ARROWS, plot_value_grid

# the book's printed values (Sutton & Barto 2nd ed.), one decimal for Chapter 3, integers for Figure 4.1
FIG_3_2 = np.array([[3.3, 8.8, 4.4, 5.3, 1.5],          # Example 3.5, equiprobable random policy, gamma 0.9
                    [1.5, 3.0, 2.3, 1.9, 0.5],
                    [0.1, 0.7, 0.7, 0.4, -0.4],
                    [-1.0, -0.4, -0.4, -0.6, -1.2],
                    [-1.9, -1.3, -1.2, -1.4, -2.0]])
FIG_3_5 = np.array([[22.0, 24.4, 22.0, 19.4, 17.5],     # Example 3.5, optimal values v*
                    [19.8, 22.0, 19.8, 17.8, 16.0],
                    [17.8, 19.8, 17.8, 16.0, 14.4],
                    [16.0, 17.8, 16.0, 14.4, 13.0],
                    [14.4, 16.0, 14.4, 13.0, 11.7]])
FIG_4_1 = np.array([[0, -14, -20, -22],                  # Example 4.1, random policy, gamma 1, k = infinity
                    [-14, -18, -20, -20],
                    [-20, -20, -18, -14],
                    [-22, -20, -14, 0]], dtype=float)


class DPResult(NamedTuple):
    V: np.ndarray           # (S,) state values
    policy: np.ndarray      # (S,) greedy action (the first of tied ones)
    iterations: int         # sweeps (value iteration) or evaluations (policy iteration; the last finds
                            # the policy stable)


def q_values(mdp: TabularMDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """(S, A) one-step look-ahead q(s, a) = E[R + gamma (1 - done) V(S') | s, a]."""
    return (mdp.P * (mdp.R + gamma * ~mdp.done * V)).sum(-1)


def greedy_actions(q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """(S, A) bool: the actions within ``tol`` of the best one in each state (all the ties)."""
    return q >= q.max(-1, keepdims=True) - tol


def policy_evaluation(mdp: TabularMDP, policy: np.ndarray, gamma: float, theta: float = 1e-10,
                      in_place: bool = False, max_sweeps: int = 100_000,
                      V0: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Iterative policy evaluation: V <- sum_a pi(a|s) q(s, a) until a sweep changes V by < theta.

    policy: (S,) actions or (S, A) probabilities. in_place=False sweeps with two arrays (synchronous),
    True updates state by state in one array. Returns the values (S,) and the number of sweeps.
    """
    pi = policy_matrix(mdp, policy)
    V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
    for sweep in range(1, max_sweeps + 1):
        if in_place:
            delta = 0.0
            for s in range(mdp.n_states):
                v = pi[s] @ (mdp.P[s] * (mdp.R[s] + gamma * ~mdp.done[s] * V)).sum(-1)
                delta = max(delta, abs(v - V[s]))
                V[s] = v
        else:
            V_new = (pi * q_values(mdp, V, gamma)).sum(-1)
            delta = np.max(np.abs(V_new - V))
            V = V_new
        if delta < theta:
            return V, sweep
    raise RuntimeError(f"policy_evaluation: no convergence in {max_sweeps} sweeps (improper policy?)")


def policy_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10,
                     policy: np.ndarray | None = None) -> DPResult:
    """Alternate evaluation and greedy improvement until the policy is stable.

    The start policy defaults to the equiprobable random one (with gamma = 1 an arbitrary deterministic
    policy may never terminate and have no finite value). "Stable" means every state's current action
    is already among the greedy ones, so the loop cannot flip forever between equally good actions.
    """
    pi = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions) if policy is None else policy
    V = None
    for it in range(1, 10_000):
        V, _ = policy_evaluation(mdp, pi, gamma, theta, V0=V)
        q = q_values(mdp, V, gamma)
        if np.ndim(pi) == 1 and greedy_actions(q)[np.arange(mdp.n_states), pi].all():
            return DPResult(V, pi, it)
        pi = q.argmax(-1)
    raise RuntimeError("policy_iteration: no stable policy")


def value_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10,
                    max_sweeps: int = 1_000_000) -> DPResult:
    """V <- max_a q(s, a) (synchronous sweeps) until a sweep changes V by < theta; then act greedily."""
    V = np.zeros(mdp.n_states)
    for sweep in range(1, max_sweeps + 1):
        V_new = q_values(mdp, V, gamma).max(-1)
        delta = np.max(np.abs(V_new - V))
        V = V_new
        if delta < theta:
            return DPResult(V, q_values(mdp, V, gamma).argmax(-1), sweep)
    raise RuntimeError(f"value_iteration: no convergence in {max_sweeps} sweeps")


def finite_horizon_optimal(mdp: TabularMDP, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Optimal undiscounted values with H steps to go (H = the MDP's time limit), by backward induction.

    V_0 = 0, V_{k}(s) = max_a q_{k-1}(s, a) with gamma = 1: the best expected return of an episode that is
    truncated after H steps. Returns V_H (S,) and the policies (H, S): row t acts at time t (H - t to go).
    """
    H = mdp.max_steps if horizon is None else horizon
    V = np.zeros(mdp.n_states)
    policies = np.zeros((H, mdp.n_states), dtype=int)
    for k in range(H):
        q = q_values(mdp, V, 1.0)
        V, policies[H - 1 - k] = q.max(-1), q.argmax(-1)
    return V, policies


# --------------------------------------------------------------------------------------------------
# experiments

EXPECTED: dict[str, tuple[float, float]] = {
    # Figure 3.2 / 3.5 / 4.1 print 1 decimal / integers: tolerance half the last printed digit
    "fig3.2 V(A) random": (8.8, 0.05),
    "fig3.2 V(B) random": (5.3, 0.05),
    "fig3.2 V(0,0) random": (3.3, 0.05),
    "fig3.2 V(4,4) random": (-2.0, 0.05),
    "fig3.5 V*(A)": (24.4, 0.05),
    "fig3.5 V*(0,0)": (22.0, 0.05),
    "fig3.5 V*(4,4)": (11.7, 0.05),
    "fig3.2+3.5 max |V - book|": (0.0, 0.05),
    "fig4.1 V(0,3) random": (-22.0, 0.5),
    "fig4.1 V(1,1) random": (-18.0, 0.5),
    "fig4.1 max |V - book|": (0.0, 0.5),
    # rl.md 2.2: exact DP on gymnasium's tables, time limit honoured
    "FrozenLake4x4 optimal E[return] (100 steps)": (0.744, 0.0005),
    "FrozenLake4x4 VI(0.99) greedy E[return]": (0.740, 0.0005),
    "FrozenLake8x8 optimal E[return] (200 steps)": (0.913, 0.0005),
    "FrozenLake8x8 VI(0.99) greedy E[return]": (0.863, 0.0005),
    "FrozenLake4x4 optimal E[return] (no time limit)": (0.824, 0.0005),
    "FrozenLake8x8 optimal E[return] (no time limit)": (1.0, 1e-6),
    "FrozenLake4x4 not slippery optimal E[return]": (1.0, 1e-9),
    "PI == VI greedy values (max |diff|)": (0.0, 1e-6),
}


def _grid(mdp: TabularMDP, x: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(mdp.grid_shape + np.shape(x)[1:])


def _gridworld_experiments(out: Path, m: dict[str, float]) -> None:
    gw = gridworld_3_5()
    random_pi = np.full((gw.n_states, 4), 0.25)
    V_rand, _ = policy_evaluation(gw, random_pi, 0.9)
    vi = value_iteration(gw, 0.9)
    pi_res = policy_iteration(gw, 0.9)
    Vr, Vs = _grid(gw, V_rand), _grid(gw, vi.V)
    for name, (r, c) in {"A": (0, 1), "B": (0, 3), "0,0": (0, 0), "4,4": (4, 4)}.items():
        m[f"fig3.2 V({name}) random"] = float(Vr[r, c])
    for name, (r, c) in {"A": (0, 1), "0,0": (0, 0), "4,4": (4, 4)}.items():
        m[f"fig3.5 V*({name})"] = float(Vs[r, c])
    m["fig3.2+3.5 max |V - book|"] = float(max(np.abs(Vr - FIG_3_2).max(), np.abs(Vs - FIG_3_5).max()))
    m["gridworld3.5 VI sweeps (theta 1e-10)"] = vi.iterations
    m["gridworld3.5 PI improvement steps"] = pi_res.iterations
    diff = np.abs(pi_res.V - vi.V).max()

    fig = Figure(figsize=(9, 4.4))
    titles = ["Fig 3.2: random policy $v_\\pi$ ($\\gamma$=0.9), greedy arrows",
              "Fig 3.5: $v_*$ and the optimal actions"]
    for i, (V, title) in enumerate(zip([V_rand, vi.V], titles)):
        ax = fig.add_subplot(1, 2, i + 1)
        im = plot_value_grid(ax, _grid(gw, V), _grid(gw, greedy_actions(q_values(gw, V, 0.9))),
                             arrows=GRIDWORLD_ARROWS, fmt=".1f", title=title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(out / "gridworld_3_5.png", dpi=110, bbox_inches="tight")

    gw4 = gridworld_4_1()
    random4 = np.full((gw4.n_states, 4), 0.25)
    V4, sweeps2 = policy_evaluation(gw4, random4, 1.0, theta=1e-6)
    _, sweeps1 = policy_evaluation(gw4, random4, 1.0, theta=1e-6, in_place=True)
    V4g = _grid(gw4, V4)
    m["fig4.1 V(0,3) random"] = float(V4g[0, 3])
    m["fig4.1 V(1,1) random"] = float(V4g[1, 1])
    m["fig4.1 max |V - book|"] = float(np.abs(V4g - FIG_4_1).max())
    m["gridworld4.1 sweeps two-array (theta 1e-6)"] = sweeps2
    m["gridworld4.1 sweeps in-place (theta 1e-6)"] = sweeps1
    pi4, vi4 = policy_iteration(gw4, 1.0), value_iteration(gw4, 1.0)
    diff = max(diff, np.abs(pi4.V - vi4.V).max())

    # Figure 4.1: v_k of the random policy after k synchronous sweeps, with the greedy policy w.r.t. v_k
    terminal = _grid(gw4, gw4.terminal_states)
    fig = Figure(figsize=(10, 6.4))
    for i, k in enumerate([0, 1, 2, 3, 10, None]):
        Vk = V4 if k is None else _sweeps(gw4, random4, k)
        ax = fig.add_subplot(2, 3, i + 1)
        plot_value_grid(ax, _grid(gw4, Vk), _grid(gw4, greedy_actions(q_values(gw4, Vk, 1.0))),
                        arrows=GRIDWORLD_ARROWS, mask=terminal, fmt=".1f",
                        title=f"k = {'inf' if k is None else k}")
    fig.suptitle("Fig 4.1: random policy on the 4x4 gridworld, $v_k$ and the greedy policy")
    fig.savefig(out / "gridworld_4_1.png", dpi=110, bbox_inches="tight")
    m["PI == VI greedy values (max |diff|)"] = float(diff)


def _sweeps(mdp: TabularMDP, pi: np.ndarray, k: int) -> np.ndarray:
    """v_k: k synchronous sweeps of policy evaluation from V = 0 (gamma = 1)."""
    V = np.zeros(mdp.n_states)
    for _ in range(k):
        V = (pi * q_values(mdp, V, 1.0)).sum(-1)
    return V


def _frozenlake_experiments(out: Path, m: dict[str, float]) -> None:
    import gymnasium as gym

    fig = Figure(figsize=(11, 5.2))
    envs = [("FrozenLake-v1", "FrozenLake4x4"), ("FrozenLake8x8-v1", "FrozenLake8x8")]
    for i, (env_id, tag) in enumerate(envs):
        mdp = TabularMDP.from_gymnasium(env_id)
        H = mdp.max_steps
        vi = value_iteration(mdp, 0.99)
        best = m[f"{tag} optimal E[return] ({H} steps)"] = float(mdp.p0 @ finite_horizon_optimal(mdp)[0])
        greedy = m[f"{tag} VI(0.99) greedy E[return]"] = expected_return(mdp, vi.policy)
        m[f"{tag} VI(0.99) sweeps (theta 1e-10)"] = vi.iterations
        m[f"{tag} optimal E[return] (no time limit)"] = float(mdp.p0 @ value_iteration(mdp, 1.0).V)
        ax = fig.add_subplot(1, 2, i + 1)
        im = plot_value_grid(ax, _grid(mdp, vi.V), _grid(mdp, vi.policy), arrows=FROZENLAKE_ARROWS,
                             mask=_grid(mdp, mdp.terminal_states),
                             labels=gym.make(env_id).unwrapped.desc.astype(str), fmt=".2f",
                             title=f"{env_id}: $v_*$ ($\\gamma$=0.99) and greedy policy\n"
                                   f"E[return] in {H} steps: greedy {greedy:.3f}, optimal {best:.3f}")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(out / "frozenlake_dp.png", dpi=110, bbox_inches="tight")
    det = TabularMDP.from_gymnasium("FrozenLake-v1", is_slippery=False)
    m["FrozenLake4x4 not slippery optimal E[return]"] = float(det.p0 @ finite_horizon_optimal(det)[0])


def run(out: Path, quick: bool = False, seed: int = 0) -> dict[str, float]:
    """Figures 3.2, 3.5, 4.1 and FrozenLake by DP; writes three PNGs into ``out``. Deterministic (no seed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m: dict[str, float] = {}
    t0 = time.perf_counter()
    _gridworld_experiments(out, m)
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        pass
    else:
        _frozenlake_experiments(out, m)
    m["dp wall time (s)"] = time.perf_counter() - t0
    return m


if __name__ == "__main__":      # the same as python -m rl.tabular --only dp
    import sys

    from rl.tabular.__main__ import main

    sys.exit(main(["--only", "dp", *sys.argv[1:]]))
