"""Norms: ``vector_norm``, ``matrix_norm``, ``linalg.norm`` and PyTorch's older ``norm``.

The p-norm's gradient is sign(x) |x|^(p-1) / ||x||^(p-1) (x / ||x|| for p = 2), taken as 0 where
||x|| == 0 and at x_i == 0, as in PyTorch: the norm of a zero vector has a zero, not a nan, gradient.
The inf-norms are ``amax``/``amin`` of |x| (ties share the gradient evenly).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import dim_aliases, keepdim_shape, normalize_dims
from .arithmetic import abs, pow, sign
from .reduction import _expand_back, amax, amin, keepdim_shape_drop, sum
from .shape import reshape
from .unary import where

_make = Tensor._make


class VectorNorm(Function):
    """y = (sum |x|^p)^(1/p) over ``axes`` for a finite p != 0.
    dx = dy * sign(x) |x|^(p-1) / y^(p-1), with 0 where y == 0 or x == 0."""

    def __init__(self, p: float, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.p, self.axes, self.keepdims = p, axes, keepdims

    def forward(self, x: Any) -> Any:
        xp, p = get_array_module(x), self.p
        if p == 2:
            y = xp.sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdims))
        elif p == 1:
            y = xp.abs(x).sum(axis=self.axes, keepdims=self.keepdims)
        else:
            y = (xp.abs(x) ** p).sum(axis=self.axes, keepdims=self.keepdims) ** (1.0 / p)
        self.y = xp.asarray(y, dtype=x.dtype)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        x, p = self.inputs[0], self.p
        g = _expand_back(gy, x.shape, self.axes)
        if p == 1:
            return g * sign(x)
        y = _expand_back(self.saved_output(self.y), x.shape, self.axes)
        zero = _make(x.xp.broadcast_to((self.y == 0).reshape(keepdim_shape(x.shape, self.axes)), x.shape))
        y_safe = where(zero, 1.0, y)
        if p == 2:
            return where(zero, 0.0, g * x / y_safe)
        xz = _make(x.array == 0)
        num = sign(x) * pow(where(xz, 1.0, abs(x)), p - 1.0)  # 0 where x == 0, even for p < 1
        return where(zero, 0.0, g * num / pow(y_safe, p - 1.0))


def _float_input(x: Tensor, dtype: Any, op: str) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


@dim_aliases
def vector_norm(
    x: Tensor, ord: float = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """The ``ord``-norm of x over ``dim`` (all dims when None), x treated as a flat vector.

    ord: any float; inf is max |x|, -inf min |x|, 0 the number of nonzeros (no gradient)."""
    x = _float_input(x, dtype, "vector_norm")
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: ord must be a number, got {ord!r}")
    ord = float(ord)
    axes = normalize_dims(dim, x.ndim, "vector_norm")
    if ord == math.inf:
        return amax(abs(x), axes, keepdim) if x.ndim else abs(x)
    if ord == -math.inf:
        return amin(abs(x), axes, keepdim) if x.ndim else abs(x)
    if ord == 0:
        return _make(x.xp.asarray((x.array != 0).sum(axis=axes, keepdims=keepdim), dtype=x.dtype))
    return VectorNorm(ord, axes, keepdim)(x)


@dim_aliases
def matrix_norm(
    x: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """Norm of the matrices over the two dims ``dim``: 'fro', or the induced 1, -1, inf, -inf norms
    (max/min absolute column sum for +-1, row sum for +-inf).  'nuc', 2 and -2 need an SVD and are
    not implemented."""
    x = _float_input(x, dtype, "matrix_norm")
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expected a tensor with at least 2 dims, got shape {tuple(x.shape)}")
    axes = normalize_dims(dim, x.ndim, "matrix_norm")
    if axes is None or len(axes) != 2 or len(tuple(dim)) != 2:
        raise ValueError(f"matrix_norm: dim must be a pair of distinct dims, got {dim!r}")
    rows, cols = (a % x.ndim for a in dim)
    if ord == "fro":
        return VectorNorm(2.0, axes, keepdim)(x)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"matrix_norm: ord={ord!r} needs an SVD, which minigrad does not have")
    if ord not in (1, -1, math.inf, -math.inf):
        raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc', +-1, +-2 or +-inf, got {ord!r}")
    along, across = (rows, cols) if ord in (1, -1) else (cols, rows)
    s = sum(abs(x), along, keepdim=True)
    out = (amax if ord > 0 else amin)(s, across, keepdim=True)
    return out if keepdim else reshape(out, keepdim_shape_drop(x.shape, axes))


@dim_aliases
def norm_linalg(
    x: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """``linalg.norm``: a vector norm when ``dim`` is an int (or x is 1-D), a matrix norm when ``dim``
    is a pair (or x is 2-D); with ``ord`` and ``dim`` both None, the 2-norm of x flattened."""
    if dim is not None and not isinstance(dim, (tuple, list)):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(x, 2, None, keepdim, dtype=dtype)
        if x.ndim == 1:
            return vector_norm(x, ord, None, keepdim, dtype=dtype)
        if x.ndim == 2:
            return matrix_norm(x, ord, (-2, -1), keepdim, dtype=dtype)
        raise ValueError(
            f"linalg.norm: with ord={ord!r} and dim=None the input must be 1-D or 2-D, got shape "
            f"{tuple(x.shape)}"
        )
    if len(dim) == 1:
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must be an int or a pair, got {dim!r}")


@dim_aliases
def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """PyTorch's ``torch.norm``/``Tensor.norm``: p='fro' (2-norm over ``dim``, all dims when None),
    p='nuc' (not implemented), or a number: the vector p-norm over ``dim`` (an int, a tuple or None)."""
    if isinstance(p, str):
        if p == "fro":
            return vector_norm(x, 2, dim, keepdim, dtype=dtype)
        if p == "nuc":
            return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
        raise ValueError(f"norm: p must be 'fro', 'nuc' or a number, got {p!r}")
    return vector_norm(x, 2 if p is None else p, dim, keepdim, dtype=dtype)
