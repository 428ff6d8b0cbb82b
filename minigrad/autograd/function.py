"""``minigrad.autograd.function``: where PyTorch keeps ``Function`` and ``FunctionCtx``."""

from __future__ import annotations

from . import Function
from ._ctx import FunctionCtx

__all__ = ["Function", "FunctionCtx"]
