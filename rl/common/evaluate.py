"""Evaluation: run a policy for whole episodes on a separate environment and report the returns.

    returns = evaluate(greedy_policy, "CartPole-v1", n_episodes=10, seed=10_000)
    record_gif(greedy_policy, "CartPole-v1", "runs/x/episode.gif")

The policy maps a batch of observations (1, *obs_shape) to actions (1, ...); pass the
deterministic one (greedy Q, the mean action) for the numbers reported in ``summary.json``. When
training normalised observations, pass the training ``VecNormalize``: evaluation uses its statistics
frozen, never updating them. Evaluation episodes use their own seeds (seed, seed + 1, ...), so they
never replay the training episodes' starts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]

# Periodic evaluations during training use their own episode seeds (50000, 50001, ...); the final,
# reported one uses ``evaluate``'s default seeds (10000, ...), so choosing the best periodic network
# (``--keep-best``) never peeks at the episodes it is reported on.
PERIODIC_EVAL_SEED = 50_000


def _normalizer(obs_norm: Any) -> Callable[[np.ndarray], np.ndarray]:
    return (lambda o: o) if obs_norm is None else obs_norm.normalize


def run_episode(policy: Policy, env: Any, seed: int, obs_norm: Any = None,
                frames: list | None = None, max_frames: int = 1000) -> tuple[float, int]:
    """One episode on ``env`` (a single gymnasium env): (undiscounted return, length)."""
    norm = _normalizer(obs_norm)
    obs, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    while not done:
        if frames is not None and len(frames) < max_frames:
            frames.append(env.render())
        action = np.asarray(policy(norm(np.asarray(obs, np.float32)[None])))[0]
        if action.ndim == 0:
            action = action.item()
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        length += 1
        done = terminated or truncated
    if frames is not None and len(frames) < max_frames:
        frames.append(env.render())
    return total, length


def evaluate(policy: Policy, env_id: str, n_episodes: int = 10, seed: int = 10_000,
             obs_norm: Any = None, **make_kwargs: Any) -> np.ndarray:
    """Returns (n_episodes,) of the policy on fresh episodes seeded seed, seed + 1, ..."""
    import gymnasium as gym

    env = gym.make(env_id, **make_kwargs)
    try:
        return np.array([run_episode(policy, env, seed + k, obs_norm)[0] for k in range(n_episodes)])
    finally:
        env.close()


def record_gif(policy: Policy, env_id: str, path: str | Path, seed: int = 10_000, obs_norm: Any = None,
               fps: int = 25, max_frames: int = 600, max_width: int = 320, **make_kwargs: Any
               ) -> Path | None:
    """Render one evaluation episode to an animated GIF; None when the environment cannot render
    ``rgb_array`` (or Pillow is missing). Returns the path written (atomically)."""
    import gymnasium as gym

    try:
        from PIL import Image
        env = gym.make(env_id, render_mode="rgb_array", **make_kwargs)
    except Exception:       # no Pillow, or an environment without rgb_array rendering
        return None
    frames: list = []
    try:
        env.reset(seed=seed)
        env.render()
    except Exception as e:  # e.g. MuJoCo without an OpenGL context: the run itself is unaffected
        env.close()
        warnings.warn(f"record_gif: {env_id} cannot render rgb_array frames here ({type(e).__name__}: "
                      f"{e}); no GIF written (MuJoCo on a machine without a display needs "
                      f"MUJOCO_GL=egl or osmesa)", RuntimeWarning, stacklevel=2)
        return None
    try:
        run_episode(policy, env, seed, obs_norm, frames, max_frames)
    finally:
        env.close()
    frames = [f for f in frames if f is not None]
    if not frames:
        return None
    images = []
    for f in frames:
        im = Image.fromarray(np.asarray(f, np.uint8))
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)))
        images.append(im.convert("P", palette=Image.Palette.ADAPTIVE))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0)
    tmp.replace(path)
    return path
