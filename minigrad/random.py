"""Random numbers: one seeded generator per backend, and ``Generator`` objects for explicit streams.

``manual_seed(s)`` seeds NumPy's and (when present) CuPy's default generators, so a
run is reproducible from one number. ``get_rng_state()/set_rng_state()`` save and
restore the CPU generator (checkpoints use them to resume bit-for-bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import cupy


class Generator:
    """A random stream (PyTorch's ``torch.Generator``): ``Generator().manual_seed(0)``."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._np = np.random.Generator(np.random.PCG64())
        self._seed: int | None = None

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._np = np.random.Generator(np.random.PCG64(int(seed)))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict:
        return self._np.bit_generator.state

    def set_state(self, state: dict) -> None:
        self._np.bit_generator.state = state

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying ``numpy.random.Generator``."""
        return self._np


default_generator = Generator()
_cupy_rs: Any = None


def _cupy_state() -> Any:
    global _cupy_rs
    if _cupy_rs is None:
        _cupy_rs = cupy.random.RandomState()
    return _cupy_rs


def manual_seed(seed: int) -> Generator:
    """Seed every backend's default generator."""
    default_generator.manual_seed(seed)
    if cupy is not None:
        global _cupy_rs
        _cupy_rs = cupy.random.RandomState(int(seed))
    return default_generator


def seed() -> int:
    return default_generator.seed()


def get_rng_state() -> dict:
    """The CPU generator's state (a dict of plain values; JSON-serialisable)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _gen(xp: Any, generator: Generator | None) -> Any:
    if xp is np:
        return (generator or default_generator).numpy
    return _cupy_state()


def _uniform(
    xp: Any, a: float, b: float, shape: tuple, dtype: Any, generator: Generator | None = None
) -> Any:
    g = _gen(xp, generator)
    dtype = np.dtype(dtype)
    if xp is np:
        r = g.random(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    else:
        r = g.random_sample(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    if a != 0.0 or b != 1.0:
        r = r * (b - a) + a
    return r.astype(dtype, copy=False)


def _normal(
    xp: Any, mean: float, std: float, shape: tuple, dtype: Any, generator: Generator | None = None
) -> Any:
    g = _gen(xp, generator)
    dtype = np.dtype(dtype)
    fdt = dtype if dtype in (np.float32, np.float64) else np.float64
    r = g.standard_normal(shape, dtype=fdt)
    if std != 1.0 or mean != 0.0:
        r = r * fdt.type(std) + fdt.type(mean)
    return r.astype(dtype, copy=False)


def _integers(
    xp: Any, low: int, high: int, shape: tuple, dtype: Any, generator: Generator | None = None
) -> Any:
    g = _gen(xp, generator)
    if xp is np:
        return g.integers(low, high, size=shape, dtype=dtype)
    return g.randint(low, high, size=shape, dtype=dtype)


def _permutation(n: int, generator: Generator | None = None) -> np.ndarray:
    return (generator or default_generator).numpy.permutation(n)
