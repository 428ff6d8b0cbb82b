"""``minigrad.cuda``: the GPU as PyTorch's ``torch.cuda`` names it, backed by CuPy.

Without CuPy and a GPU everything here is harmless: ``is_available()`` is False,
``device_count()`` is 0 and seeding is a no-op (as in PyTorch without CUDA).
"""

from __future__ import annotations

from typing import Any

from . import backend as _backend
from . import random as _random


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return _backend.cuda_is_available()


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy)."""
    if _backend.cupy is None:
        return 0
    return int(_backend.cupy.cuda.runtime.getDeviceCount())


def current_device() -> int:
    """Index of the current GPU."""
    _require("current_device")
    return int(_backend.cupy.cuda.Device().id)


def set_device(device: Any) -> None:
    """Make GPU ``device`` (an index, ``"cuda:N"`` or a ``minigrad.device``) current."""
    _require("set_device")
    _backend.cupy.cuda.Device(_index(device)).use()


def get_device_name(device: Any = None) -> str:
    _require("get_device_name")
    idx = current_device() if device is None else _index(device)
    name = _backend.cupy.cuda.runtime.getDeviceProperties(idx)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device: Any = None) -> None:
    """Wait for the GPU's queued work (no-op without a GPU)."""
    if _backend.cupy is not None:
        _backend.cupy.cuda.Device(None if device is None else _index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seed the GPU generator (CuPy's); a no-op without a GPU, as in PyTorch."""
    if _backend.cupy is not None:
        _random._cupy_rs = _backend.cupy.random.RandomState(int(seed))


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator: minigrad keeps one CuPy generator, so the same as ``manual_seed``."""
    manual_seed(seed)


def empty_cache() -> None:
    """Hand CuPy's cached, unused GPU memory back to the driver (no-op without a GPU)."""
    if _backend.cupy is not None:
        _backend.cupy.get_default_memory_pool().free_all_blocks()
        _backend.cupy.get_default_pinned_memory_pool().free_all_blocks()


def _index(device: Any) -> int:
    if isinstance(device, int):
        return device
    d = _backend.device(device)
    if d.type != "cuda":
        raise ValueError(f"minigrad.cuda: expected a CUDA device, got {device!r}")
    return d.index or 0


def _require(name: str) -> None:
    if not is_available():
        raise RuntimeError(f"minigrad.cuda.{name}: CUDA is not available (CuPy with a GPU is needed)")
