"""Environment creation: gymnasium environments, vectorised, with episode statistics and optional
observation/reward normalisation whose statistics can be frozen and saved with a checkpoint.

    envs = make_vec_env("CartPole-v1", n_envs=4, seed=1)
    obs, _ = envs.reset(seed=1)                       # env i is seeded with seed + i
    obs, rew, terminated, truncated, info = envs.step(actions)
    for ret, length in finished_episodes(info): ...   # undiscounted returns, before any normalisation
    next_obs = real_next_obs(obs, terminated | truncated, info)   # s' for the replay buffer

Autoreset. The vector environment uses gymnasium's *same-step* autoreset: the step that ends an
episode already returns the first observation of the next one, and the real last observation is in
``info["final_obs"]``. A replay buffer must store that one as s' (``real_next_obs``), and a truncated
episode bootstraps from its value; a terminated one does not (see ``returns.py``).

Wrapper order, inside out: the environment and its TimeLimit, optional frame stacking, the vector
env, RecordEpisodeStatistics (so logged returns are the real ones), then ``VecNormalize``.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np


def _headless_mujoco_gl() -> None:
    """MuJoCo renders (for episode GIFs) through an OpenGL context chosen by MUJOCO_GL when
    ``mujoco`` is first imported; on a Linux machine without a display the default (GLFW) cannot
    open one, EGL can. Set it before any MuJoCo environment is made, only where libEGL exists and
    the user has not chosen."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and "MUJOCO_GL" not in os.environ and ctypes.util.find_library("EGL"):
        os.environ["MUJOCO_GL"] = "egl"


def make_env(env_id: str, seed: int = 0, *, frame_stack: int = 0, render_mode: str | None = None,
             **kwargs: Any) -> Callable[[], Any]:
    """A thunk that creates one gymnasium environment (its seed is given at the first reset)."""
    def thunk():
        import gymnasium as gym

        _headless_mujoco_gl()
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
        if frame_stack > 1:
            env = gym.wrappers.FrameStackObservation(env, frame_stack)
        env.action_space.seed(seed)
        return env
    return thunk


def make_vec_env(env_id: str, n_envs: int = 1, seed: int = 0, *, frame_stack: int = 0,
                 normalize_obs: bool = False, normalize_reward: bool = False, gamma: float = 0.99,
                 **kwargs: Any) -> Any:
    """N synchronous copies of an environment (same-step autoreset) with episode statistics, and a
    ``VecNormalize`` on top when either normalisation is asked for."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    fns = [make_env(env_id, seed + i, frame_stack=frame_stack, **kwargs) for i in range(n_envs)]
    envs = SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    if normalize_obs or normalize_reward:
        envs = VecNormalize(envs, normalize_obs=normalize_obs, normalize_reward=normalize_reward,
                            gamma=gamma)
    return envs


def finished_episodes(info: dict) -> list[tuple[float, int]]:
    """(return, length) of every episode that ended at this step, from RecordEpisodeStatistics."""
    if "episode" not in info:
        return []
    ep, mask = info["episode"], info["_episode"]
    return [(float(ep["r"][i]), int(ep["l"][i])) for i in np.flatnonzero(mask)]


def real_next_obs(next_obs: np.ndarray, done: np.ndarray, info: dict) -> np.ndarray:
    """The observation that really followed each step: ``info["final_obs"]`` where an episode ended
    (same-step autoreset put the next episode's first observation in ``next_obs``)."""
    out = np.array(next_obs, copy=True)
    if "final_obs" in info:
        for i in np.flatnonzero(done):
            out[i] = info["final_obs"][i]
    return out


class RunningMeanStd:
    """Mean and variance of a stream of arrays, merged batch by batch (Chan et al.'s parallel update).

    shape: the shape of one sample; update(x) takes a batch (B, *shape).
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        b_mean, b_var, b_count = x.mean(0), x.var(0), len(x)
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta ** 2 * self.count * b_count / total
        self.var, self.count = m2 / total, total

    def state_dict(self) -> dict:
        return {"mean": self.mean, "var": self.var, "count": np.float64(self.count)}

    def load_state_dict(self, state: dict) -> None:
        self.mean = np.asarray(state["mean"], np.float64)
        self.var = np.asarray(state["var"], np.float64)
        self.count = float(state["count"])


class VecNormalize:
    """Normalise a vector environment's observations (running mean/std, clipped) and rewards (divided
    by the running std of the discounted return, clipped), as PPO on continuous control expects.

    ``training = False`` freezes the statistics (evaluation); ``state_dict`` / ``load_state_dict``
    carry them in a checkpoint, so that a reloaded policy sees observations as it was trained on.
    ``info["final_obs"]`` is normalised too, so bootstrapped values see the same scale.
    Everything else is forwarded to the wrapped environment.
    """

    def __init__(self, envs: Any, *, normalize_obs: bool = True, normalize_reward: bool = True,
                 gamma: float = 0.99, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        self.envs = envs
        self.normalize_obs, self.normalize_reward = normalize_obs, normalize_reward
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.obs_rms = RunningMeanStd(envs.single_observation_space.shape)
        self.ret_rms = RunningMeanStd(())
        self.returns = np.zeros(envs.num_envs)
        self.training = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.envs, name)

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """Observations (N, *shape) scaled by the current statistics (no update)."""
        if not self.normalize_obs:
            return obs
        z = (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.envs.reset(**kwargs)
        self.returns[:] = 0.0
        if self.training and self.normalize_obs:
            self.obs_rms.update(obs)
        return self.normalize(obs), info

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, rewards, terminated, truncated, info = self.envs.step(actions)
        if self.training and self.normalize_obs:
            self.obs_rms.update(obs)
        if "final_obs" in info:
            info = dict(info)
            final = info["final_obs"].copy()
            for i in np.flatnonzero(info["_final_obs"]):
                final[i] = self.normalize(np.asarray(final[i])[None])[0]
            info["final_obs"] = final
        if self.normalize_reward:
            self.returns = self.returns * self.gamma + rewards
            if self.training:
                self.ret_rms.update(self.returns)
            self.returns[np.logical_or(terminated, truncated)] = 0.0
            rewards = np.clip(rewards / np.sqrt(self.ret_rms.var + self.epsilon), -self.clip, self.clip)
        return self.normalize(obs), rewards, terminated, truncated, info

    def state_dict(self) -> dict:
        return {"obs_rms": self.obs_rms.state_dict(), "ret_rms": self.ret_rms.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.ret_rms.load_state_dict(state["ret_rms"])
