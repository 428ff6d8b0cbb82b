"""Checkpoints: everything needed to pick a run up where it stopped, written atomically.

    save_checkpoint(path, step, {"q": q_network, "optimizer": opt, "norm": envs}, rng, extra={...})
    step, extra = load_checkpoint(path, {"q": q_network, "optimizer": opt, "norm": envs}, rng)

Each named part is anything with ``state_dict()`` / ``load_state_dict()`` (modules, optimizers,
``VecNormalize``, ``ReplayBuffer``) or a NumPy array (a Q table, restored in place). The random
generators are saved too. What is not saved: the environments' internal state. A resumed run
starts fresh episodes at the saved step, so its curve continues the interrupted one without
repeating it exactly (the networks, optimizers, statistics and random streams are exact).
``minigrad.save`` writes to a temporary file and renames it, and ``load`` verifies a checksum, so a
crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg

from .seeding import rng_state, set_rng_state


def save_checkpoint(path: str | Path, step: int, parts: dict[str, Any],
                    rng: np.random.Generator | None = None, extra: dict | None = None) -> Path:
    """Write the parts' states, the env step and the random states to ``path``."""
    state = {"step": int(step), "extra": extra or {},
             "parts": {k: (np.array(v) if isinstance(v, np.ndarray) else v.state_dict())
                       for k, v in parts.items()}}
    if rng is not None:
        state["rng"] = rng_state(rng)
    path = Path(path)
    mg.save(state, path)
    return path


def load_checkpoint(path: str | Path, parts: dict[str, Any], rng: np.random.Generator | None = None
                    ) -> tuple[int, dict]:
    """Restore the parts (in place) and the random states; returns (env step, extra)."""
    state = mg.load(path)
    missing = set(parts) - set(state["parts"])
    if missing:
        raise KeyError(f"load_checkpoint: {path} has no state for {sorted(missing)} "
                       f"(it has {sorted(state['parts'])})")
    for k, obj in parts.items():
        saved = state["parts"][k]
        if isinstance(obj, np.ndarray):
            if obj.shape != np.shape(saved):
                raise ValueError(f"load_checkpoint: {k} has shape {obj.shape}, the checkpoint "
                                 f"{np.shape(saved)}")
            obj[...] = saved
        else:
            obj.load_state_dict(saved)
    if rng is not None and "rng" in state:
        set_rng_state(rng, state["rng"])
    return int(state["step"]), state["extra"]
