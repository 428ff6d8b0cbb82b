"""``minigrad.backends.cudnn``: PyTorch's cuDNN flags, settable and harmless (minigrad never calls cuDNN)."""

from __future__ import annotations

enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """False: minigrad's GPU kernels come from CuPy, not cuDNN."""
    return False


def version() -> None:
    return None
