"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op asks ``get_array_module(array)`` for the module that owns its arrays and
calls it as ``xp``; ops never branch on the backend except where a custom kernel
exists (im2col, the fused recurrent cells).
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # CuPy is optional: present only with the cuda12/cuda13 extras and a GPU.
    import cupy as _cupy

    try:
        _cuda_ok = _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device
        _cuda_ok = False
    if not _cuda_ok:
        _cupy = None
except Exception:  # ImportError, or a CuPy that cannot load its CUDA libraries
    _cupy = None

cupy = _cupy


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return cupy is not None


def get_array_module(*arrays: Any) -> Any:
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


class device:
    """A device: ``device("cpu")``, ``device("cuda")`` or ``device("cuda:1")``.

    Compares equal to its string form, so ``t.device == "cpu"`` works.
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")
        self.type = kind
        self.index = int(idx) if idx else index
        if kind == "cpu":
            self.index = None

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        if self.type != other.type:
            return False
        return self.index is None or other.index is None or self.index == other.index

    def __hash__(self) -> int:
        return hash(self.type)


CPU = device("cpu")


def device_of(array: Any) -> device:
    """The device holding ``array``."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def to_device(array: Any, dev: device | str) -> Any:
    """Copy ``array`` to ``dev`` (a no-op when it is already there)."""
    dev = device(dev)
    if dev.type == "cpu":
        if cupy is not None and isinstance(array, cupy.ndarray):
            return cupy.asnumpy(array)
        return np.asarray(array)
    if cupy is None:
        raise RuntimeError(
            "to(device='cuda'): CuPy with a GPU is not available; install minigrad[cuda12] or [cuda13] "
            "on a machine with an NVIDIA GPU"
        )
    with cupy.cuda.Device(dev.index or 0):
        return cupy.asarray(array)
