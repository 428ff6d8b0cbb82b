"""``minigrad.accelerator``: PyTorch's device-agnostic accelerator API; the one accelerator is CUDA (CuPy)."""

from __future__ import annotations

from typing import Any

from . import cuda as _cuda
from .backend import device


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU through CuPy) can be used."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """``device("cuda")`` when a GPU is available, else ``None``."""
    return device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    return _cuda.device_count()


def current_device_index() -> int:
    return _cuda.current_device()


def set_device_index(index: Any) -> None:
    _cuda.set_device(index)


def synchronize(device: Any = None) -> None:
    _cuda.synchronize(device)
