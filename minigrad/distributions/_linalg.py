"""Differentiable Cholesky factorisation and triangular solves (what MultivariateNormal needs).

``cholesky(A)``: A (..., n, n) symmetric positive definite -> L (..., n, n) lower, A = L L^T.
``solve_triangular(A, B, upper)``: X = A^{-1} B for triangular A (..., n, n) and B (..., n, k).
Both backwards are written with these same differentiable ops, so any order of derivative works.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..ops import matmul, mT, sum_to
from ..tensor import Tensor

_make = Tensor._make


def _tri_mask(xp: Any, n: int, dtype: Any, upper: bool, diag: float = 1.0) -> Any:
    m = xp.triu(xp.ones((n, n), dtype=dtype)) if upper else xp.tril(xp.ones((n, n), dtype=dtype))
    if diag != 1.0:
        m = m - (1.0 - diag) * xp.eye(n, dtype=dtype)
    return m


class SolveTriangular(Function):
    """X = A^{-1} B, A triangular (lower unless ``upper``), batch dims broadcast.

    dB = A^{-T} dX,  dA = -tri(dB X^T) (only A's triangle is read, so only it gets gradient).
    """

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def forward(self, a: Any, b: Any) -> Any:
        xp = get_array_module(a)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(xp.triu(a) if self.upper else xp.tril(a), batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        self.x = xp.linalg.solve(a, b).astype(b.dtype, copy=False)
        return self.x

    def backward(self, gx: Tensor) -> tuple:
        a, b = self.inputs
        gb = solve_triangular(mT(a), gx, upper=not self.upper)
        ga = None
        if self.needs_input_grad[0]:
            x = self.saved_output(self.x)
            mask = _make(_tri_mask(a.xp, a.shape[-1], a.dtype, self.upper))
            ga = sum_to(-(matmul(gb, mT(x)) * mask), a.shape)
        return ga, (sum_to(gb, b.shape) if self.needs_input_grad[1] else None)


def solve_triangular(a: Tensor, b: Tensor, upper: bool = False) -> Tensor:
    """A^{-1} B for triangular ``a`` (..., n, n) and ``b`` (..., n, k)."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(
            f"solve_triangular: expected A (..., n, n) and B (..., n, k), got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    return SolveTriangular(upper)(a, b)


class Cholesky(Function):
    """L = chol(A), lower, reading A's lower triangle.

    dA = sym(L^{-T} Phi(L^T dL) L^{-1}) with Phi = lower triangle, diagonal halved, sym(X) = (X + X^T)/2.
    """

    def forward(self, a: Any) -> Any:
        xp = get_array_module(a)
        try:
            self.l = xp.linalg.cholesky(a).astype(a.dtype, copy=False)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"cholesky: the input of shape {tuple(a.shape)} is not positive definite"
            ) from None
        if xp is not np and bool(xp.isnan(self.l).any()):
            raise ValueError(f"cholesky: the input of shape {tuple(a.shape)} is not positive definite")
        return self.l

    def backward(self, gl: Tensor) -> Tensor:
        l_ = self.saved_output(self.l)
        n = l_.shape[-1]
        phi = matmul(mT(l_), gl) * _make(_tri_mask(l_.xp, n, l_.dtype, upper=False, diag=0.5))
        lt = mT(l_)
        y = solve_triangular(lt, phi, upper=True)  # L^{-T} Phi
        x = mT(solve_triangular(lt, mT(y), upper=True))  # (L^{-T} Phi) L^{-1}
        return (x + mT(x)) * 0.5


def cholesky(a: Tensor) -> Tensor:
    """The lower Cholesky factor of symmetric positive-definite ``a`` (..., n, n)."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"cholesky: expected square matrices (..., n, n), got shape {tuple(a.shape)}")
    return Cholesky()(a)


def diagonal(a: Tensor) -> Tensor:
    """The diagonal of the last two dims: (..., n, n) -> (..., n)."""
    return (a * _make(a.xp.eye(a.shape[-1], dtype=a.dtype))).sum(-1)


def cholesky_inverse(l_: Tensor) -> Tensor:
    """(L L^T)^{-1} from the lower factor L."""
    eye = _make(l_.xp.broadcast_to(l_.xp.eye(l_.shape[-1], dtype=l_.dtype), l_.shape))
    li = solve_triangular(l_, eye, upper=False)
    return matmul(mT(li), li)
