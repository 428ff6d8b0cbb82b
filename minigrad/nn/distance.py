"""Norms and distances safe at zero: ``vector_norm``, ``normalize``, ``cosine_similarity``,
``pairwise_distance`` and the ``CosineSimilarity`` / ``PairwiseDistance`` modules.

Everything that takes a norm goes through ``VectorNorm``, whose backward is PyTorch's subgradient:
0 where the norm is 0 (a naive sqrt(sum x^2) gives 0/0 = NaN there, and the NaN reaches every input
through the chain rule even when the norm is later clamped away from 0).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Function
from ..backend import get_array_module
from ..ops import clamp, maximum
from ..ops._util import normalize_dims
from ..tensor import Tensor
from .module import Module

__all__ = ["VectorNorm", "vector_norm", "normalize", "cosine_similarity", "pairwise_distance",
           "CosineSimilarity", "PairwiseDistance"]

_make = Tensor._make


class VectorNorm(Function):
    """y = ||x||_p over ``axes`` (None: all), kept as size-1 dims.

    Input: x (any shape, float). Output: x's shape with the reduced dims of size 1.
    Backward (PyTorch's subgradient, 0 where y == 0): p=2: dx = dy x / y; p=1: dy sign(x);
    p=+-inf: dy sign(x) [|x| == y] / #ties; p=0: 0; other p: dy sign(x) |x|^(p-1) / y^(p-1).
    """

    def __init__(self, p: float, axes: tuple[int, ...] | None) -> None:
        self.p, self.axes = p, axes

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        p, ax = self.p, self.axes
        if p == 2:
            y = xp.sqrt((x * x).sum(axis=ax, keepdims=True))
        elif p == 1:
            y = xp.abs(x).sum(axis=ax, keepdims=True)
        elif p == math.inf:
            y = xp.abs(x).max(axis=ax, keepdims=True)
        elif p == -math.inf:
            y = xp.abs(x).min(axis=ax, keepdims=True)
        elif p == 0:
            y = (x != 0).sum(axis=ax, keepdims=True).astype(x.dtype)
        else:
            y = (xp.abs(x) ** p).sum(axis=ax, keepdims=True) ** (1.0 / p)
        self.y = xp.asarray(y, dtype=x.dtype)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        xp, p = x.xp, self.p
        if p == 0:
            return gy * _make(xp.zeros(x.shape, dtype=x.dtype))
        sign = xp.sign(x.array)
        if p == 1:
            return gy * _make(sign)
        y = self.saved_output(self.y)
        if p in (math.inf, -math.inf):
            ties = (xp.abs(x.array) == self.y).astype(x.dtype)
            return gy * _make(sign * ties / ties.sum(axis=self.axes, keepdims=True))
        safe_y = y + _make((self.y == 0).astype(x.dtype))  # 1 where the norm is 0 (and there x == 0)
        if p == 2:
            return gy * x / safe_y
        return gy * _make(sign) * x.abs() ** (p - 1) / safe_y ** (p - 1)


def vector_norm(x: Tensor, ord: float = 2.0, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The ``ord``-norm of ``x`` over ``dim`` (int, tuple or None for all), with a gradient that is finite
    (0) at the zero vector. Output: x's shape without ``dim`` (size 1 with ``keepdim``)."""
    if x.dtype.kind not in "fc":
        raise TypeError(f"vector_norm: expected a floating point tensor, got dtype {x.dtype}")
    ord = float(ord)
    axes = normalize_dims(dim, x.ndim, "vector_norm")
    y = VectorNorm(ord, axes)(x)
    if keepdim:
        return y
    return y.reshape(tuple(s for i, s in enumerate(x.shape) if axes is not None and i not in axes))


def _eps(x: Tensor, eps: float) -> Tensor:
    return _make(x.xp.asarray(eps, dtype=x.dtype))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (shape kept). The gradient is finite at the zero vector:
    there the norm is clamped (so it gets no gradient) and dx = dy / eps, as in PyTorch."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    norm = vector_norm(input, p, dim, keepdim=True)
    return input / clamp(norm, eps, None)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps))) along ``dim`` (x1, x2 broadcast).

    As in PyTorch the clamp passes the gradient straight through to the norm (whose own gradient is 0 at
    the zero vector), so the result is finite everywhere and matches PyTorch's gradient.
    """
    if x1.dtype != x2.dtype:
        raise TypeError(f"cosine_similarity: x1 and x2 must have the same dtype, got {x1.dtype} and "
                        f"{x2.dtype}")
    n1 = vector_norm(x1, 2.0, dim, keepdim=True)
    n2 = vector_norm(x2, 2.0, dim, keepdim=True)
    e = _eps(x1, eps)
    n1 = n1 + (maximum(n1, e) - n1).detach()  # clamp_min in value, identity in gradient (PyTorch's rule)
    n2 = n2 + (maximum(n2, e) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (x1, x2 broadcast): (N, D), (N, D) -> (N,)."""
    d = x1 - x2 + eps
    return vector_norm(d, p, -1, keepdim=keepdim) if d.ndim else vector_norm(d, p, None, keepdim=keepdim)


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim`` (``F.cosine_similarity``)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """p-norm distance between the rows of x1 and x2 (``F.pairwise_distance``)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
