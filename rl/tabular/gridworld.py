"""Sutton & Barto's small grid worlds as ``TabularMDP`` arrays.

    mdp = gridworld_3_5()     # Example 3.5: 5x5, A -> A' (+10), B -> B' (+5), -1 off the grid; use gamma=0.9
    mdp = gridworld_4_1()     # Example 4.1: 4x4, terminal corners, -1 per step; use gamma=1

States are numbered row by row (state = row * ncol + col, row 0 at the top). The four actions are
0 north, 1 south, 2 west, 3 east (``rl.tabular.plots.GRIDWORLD_ARROWS``); every move is deterministic.
"""

from __future__ import annotations

import numpy as np

from rl.tabular.mdp import TabularMDP

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))      # (d_row, d_col) of north, south, west, east
NORTH, SOUTH, WEST, EAST = range(4)

# Example 3.5: the special cells (row, col), where they send the agent and the reward for it
A, A_PRIME, B, B_PRIME = (0, 1), (4, 1), (0, 3), (2, 3)


def _deterministic_mdp(next_state: np.ndarray, reward: np.ndarray, done: np.ndarray, p0: np.ndarray,
                       grid_shape: tuple[int, int], name: str) -> TabularMDP:
    """Arrays (S, A) of next state, reward and termination -> a TabularMDP with one-hot P."""
    S, nA = next_state.shape
    P = np.zeros((S, nA, S))
    R = np.zeros((S, nA, S))
    D = np.zeros((S, nA, S), dtype=bool)
    s, a = np.indices((S, nA))
    P[s, a, next_state] = 1.0
    R[s, a, next_state] = reward
    D[s, a, next_state] = done
    return TabularMDP(P, R, D, p0, None, grid_shape, name)


def gridworld_3_5(size: int = 5) -> TabularMDP:
    """Example 3.5 (Figure 3.2): a continuing task, no terminal state.

    From A every action moves to A' with reward +10, from B to B' with +5; a move off the grid leaves
    the state unchanged with reward -1; every other move costs nothing. p0 is uniform (unused by DP).
    """
    S = size * size
    next_state = np.zeros((S, 4), dtype=int)
    reward = np.zeros((S, 4))
    for r in range(size):
        for c in range(size):
            s = r * size + c
            for a, (dr, dc) in enumerate(MOVES):
                if (r, c) == A:
                    (r2, c2), rew = A_PRIME, 10.0
                elif (r, c) == B:
                    (r2, c2), rew = B_PRIME, 5.0
                elif 0 <= r + dr < size and 0 <= c + dc < size:
                    (r2, c2), rew = (r + dr, c + dc), 0.0
                else:
                    (r2, c2), rew = (r, c), -1.0
                next_state[s, a], reward[s, a] = r2 * size + c2, rew
    done = np.zeros((S, 4), dtype=bool)
    return _deterministic_mdp(next_state, reward, done, np.full(S, 1.0 / S), (size, size), "Gridworld 3.5")


def gridworld_4_1(size: int = 4) -> TabularMDP:
    """Example 4.1 (Figure 4.1): an episodic task ending in the top-left or bottom-right corner.

    Every move costs -1; a move off the grid leaves the state unchanged. Entering a corner terminates
    the episode; the corners themselves loop onto themselves with reward 0 (their value is 0).
    p0 is uniform over the 14 non-terminal cells.
    """
    S = size * size
    terminal = {0, S - 1}
    next_state = np.zeros((S, 4), dtype=int)
    reward = np.full((S, 4), -1.0)
    for s in range(S):
        r, c = divmod(s, size)
        for a, (dr, dc) in enumerate(MOVES):
            r2 = min(max(r + dr, 0), size - 1)
            c2 = min(max(c + dc, 0), size - 1)
            next_state[s, a] = r2 * size + c2
    for s in terminal:
        next_state[s], reward[s] = s, 0.0
    done = np.isin(next_state, list(terminal))
    p0 = np.array([0.0 if s in terminal else 1.0 for s in range(S)])
    return _deterministic_mdp(next_state, reward, done, p0 / p0.sum(), (size, size), "Gridworld 4.1")
