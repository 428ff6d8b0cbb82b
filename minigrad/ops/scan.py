"""Running reductions along one dim: ``cumsum`` and ``cumprod``.

For y = cumsum(x): dx is the reverse cumulative sum of dy.  For y = cumprod(x):
dx_i = sum_{k >= i} dy_k * prod_{j <= k, j != i} x_j, which is revcumsum(dy * y) / x_i
where x has no zeros; with zeros it is formed exactly (see :class:`CumProd`).
"""

from __future__ import annotations

from typing import Any

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import dim_aliases, normalize_dim
from .arithmetic import broadcast_to
from .shape import flip, unsqueeze
from .unary import where

_make = Tensor._make


def _revcumsum(g: Tensor, axis: int) -> Tensor:
    """sum_{k >= i} g_k along ``axis`` (differentiable)."""
    return flip(CumSum(axis)(flip(g, axis)), axis)


class CumSum(Function):
    """y_i = sum_{j <= i} x_j along ``axis``.  dx_i = sum_{k >= i} dy_k (a reversed cumsum)."""

    saved_inputs = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return get_array_module(x).cumsum(x, axis=self.axis, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return _revcumsum(gy, self.axis)


class CumProd(Function):
    """y_i = prod_{j <= i} x_j along ``axis``.  dx_i = sum_{k >= i} dy_k * prod_{j <= k, j != i} x_j.

    Without zeros in x this is revcumsum(dy * y) / x.  With zeros it is formed exactly by an n x n
    expansion: row i is x with x_i replaced by 1, its cumprod gives prod_{j <= k, j != i} x_j for
    every k, masked to k >= i and contracted with dy.  Both forms are differentiable ops, so first
    and higher derivatives are exact at zeros too (the expansion costs O(n^2) memory along ``axis``).
    """

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        self.has_zero = bool((x == 0).any())
        self.y = get_array_module(x).cumprod(x, axis=self.axis, dtype=x.dtype)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        x, axis = self.inputs[0], self.axis
        if not self.has_zero:
            return _revcumsum(gy * self.saved_output(self.y), axis) / x
        n = x.shape[axis]
        xp = x.xp
        tail = (1,) * (x.ndim - axis - 1)
        big = x.shape[:axis] + (n,) + x.shape[axis:]  # (..., i, k, ...)
        eye = xp.broadcast_to(xp.eye(n, dtype=bool).reshape((n, n) + tail), big)
        rows = where(_make(eye), 1.0, broadcast_to(unsqueeze(x, axis), big))
        after = xp.broadcast_to(xp.triu(xp.ones((n, n), dtype=bool)).reshape((n, n) + tail), big)
        terms = CumProd(axis + 1)(rows) * broadcast_to(unsqueeze(gy, axis), big)
        from .reduction import sum

        return sum(where(_make(after), terms, 0.0), axis + 1)


def _prep(x: Tensor, dim: int, dtype: Any, op: str) -> tuple[Tensor, int]:
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.to("int64")  # as in PyTorch: integer and bool inputs accumulate in int64
    return x, normalize_dim(dim, x.ndim, op)


@dim_aliases
def cumsum(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Cumulative sum along ``dim``."""
    x, axis = _prep(x, dim, dtype, "cumsum")
    if x.ndim == 0:
        return CumSum(0)(x.reshape(1)).reshape(())
    return CumSum(axis)(x)


@dim_aliases
def cumprod(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Cumulative product along ``dim``; gradients are exact where x has zeros (see :class:`CumProd`)."""
    x, axis = _prep(x, dim, dtype, "cumprod")
    if x.ndim == 0:
        return CumProd(0)(x.reshape(1)).reshape(())
    return CumProd(axis)(x)
