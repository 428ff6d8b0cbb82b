"""Helpers shared by the distributions: parameter broadcasting, probs <-> logits, lazy properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import get_default_dtype
from ..ops import broadcast_to, clamp, log, log1p, log_softmax, sigmoid, softmax, sum
from ..tensor import Tensor


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Every value as a Tensor of one broadcast shape; Python numbers take the tensors' dtype and device
    (the default dtype when there is no tensor)."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not tensors and not all(isinstance(v, (int, float, np.number)) for v in values):
        raise TypeError(
            f"broadcast_all: expected Tensors or numbers, got {[type(v).__name__ for v in values]}"
        )
    like = tensors[0] if tensors else None
    out = []
    for v in values:
        if isinstance(v, Tensor):
            out.append(v)
        elif like is None:
            out.append(Tensor._make(np.asarray(v, dtype=get_default_dtype())))
        else:
            out.append(Tensor._make(like.xp.asarray(v, dtype=like.dtype)))
    shape = np.broadcast_shapes(*(t.shape for t in out))
    return tuple(t if t.shape == shape else broadcast_to(t, shape) for t in out)


def as_float_tensor(v: Any) -> Tensor:
    """A tensor parameter: Tensors pass through, numbers become default-dtype tensors."""
    return v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=get_default_dtype()))


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities clamped to [eps, 1 - eps] (eps = the dtype's machine epsilon), as PyTorch."""
    eps = float(np.finfo(probs.dtype).eps)
    return clamp(probs, eps, 1.0 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    return sigmoid(logits) if is_binary else softmax(logits, -1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log-odds (binary) or log-probabilities (categorical), from clamped probabilities."""
    p = clamp_probs(probs)
    return log(p) - log1p(-p) if is_binary else log(p)


def normalize_logits(logits: Tensor) -> Tensor:
    return log_softmax(logits, -1)


def sum_rightmost(x: Tensor, dim: int) -> Tensor:
    """Sum over the rightmost ``dim`` dims."""
    if dim == 0:
        return x
    return sum(x, tuple(range(x.ndim - dim, x.ndim)))


class lazy_property:  # noqa: N801  (a decorator, named like PyTorch's)
    """A property computed on first access and then stored on the instance."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.name = fn.__name__

    def __get__(self, inst: Any, owner: Any = None) -> Any:
        if inst is None:
            return self
        value = self.fn(inst)
        inst.__dict__[self.name] = value
        return value


def nan_like(t: Tensor, shape: tuple[int, ...] | None = None) -> Tensor:
    """A NaN-filled constant with ``t``'s dtype and device (mean/mode where undefined)."""
    return Tensor._make(t.xp.full(t.shape if shape is None else shape, float("nan"), dtype=t.dtype))
