"""Returns and advantages: what a reward is worth once the future is counted.

    discounted_returns([5, 0, -2], gamma=1.0)   # -> [3, -2, -2]: the reward-to-go of each step
    gae(rewards, values, next_values, terminated, episode_end, gamma, lam)

Truncation vs termination (gymnasium's ``terminated`` / ``truncated``). An episode that
*terminates* reached an absorbing state: nothing follows, so the target is r + 0. An episode that
is *truncated* (a time limit) was cut off: the state it stopped in still has a future, so the target
bootstraps from the value of the real last observation, r + gamma V(s_final). Treating a time-out as
a termination teaches the agent that states near the time limit are worth less, a classic bug; the
functions here take the two flags apart, and tests check both cases.
"""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Rewards-to-go of one episode: G_t = r_t + gamma G_{t+1}, G_T = 0.

    rewards: (T,) or (T, N) for N episodes of the same length side by side. Returns the same shape.
    With gamma = 1 the reward at step t is credited only to the actions at steps <= t (causality).
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.empty_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
        episode_end: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over a rollout of T steps from N environments.

    rewards, values, terminated, episode_end: (T, N); values[t] = V(s_t)
    next_values: (T, N), V of the observation that followed step t: V(s_{t+1}) inside an episode,
        V(s_final) of the real last observation where the episode was truncated (anything where it
        terminated: it is multiplied by 0)
    terminated: the step entered an absorbing state; episode_end: terminated or truncated at this step
    Returns (advantages, returns), both (T, N), returns = advantages + values (the value targets):
        delta_t = r_t + gamma (1 - terminated_t) V'_t - V(s_t)
        A_t     = delta_t + gamma lam (1 - episode_end_t) A_{t+1}
    lam = 1 gives Monte Carlo returns minus the baseline, lam = 0 the one-step TD error.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    not_term = 1.0 - np.asarray(terminated, dtype=np.float64)
    not_end = 1.0 - np.asarray(episode_end, dtype=np.float64)
    deltas = rewards + gamma * not_term * next_values - values
    adv = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[1:])
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_end[t] * running
        adv[t] = running
    return adv, adv + values

