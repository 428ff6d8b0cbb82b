"""Seeding: one call makes a run a function of its seed.

Python's ``random``, NumPy's global generator and minigrad's generator are seeded; the returned
``np.random.Generator`` is the one an algorithm should draw its own numbers from (exploration,
minibatches). Environments are seeded at their first ``reset(seed=...)`` (vector env i gets
seed + i) and their action spaces by ``envs.make_env``. With the same seed, the same code and the
same library versions, a run repeats exactly: the tests check that two runs give the same curve.
"""

from __future__ import annotations

import random

import numpy as np

import minigrad as mg


def seed_everything(seed: int) -> np.random.Generator:
    """Seed random, numpy and minigrad; return a fresh Generator for the algorithm's own draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    mg.manual_seed(seed)
    return np.random.default_rng(seed)


def rng_state(rng: np.random.Generator) -> dict:
    """Everything random about a run at this point, for a checkpoint."""
    return {"numpy_generator": rng.bit_generator.state, "numpy_global": np.random.get_state(),
            "python": random.getstate(), "minigrad": mg.get_rng_state()}


def set_rng_state(rng: np.random.Generator, state: dict) -> None:
    """Restore what ``rng_state`` saved (into ``rng`` and the global generators)."""
    rng.bit_generator.state = state["numpy_generator"]
    np.random.set_state(state["numpy_global"])
    random.setstate(state["python"])
    mg.set_rng_state(state["minigrad"])
