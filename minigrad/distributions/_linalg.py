"""The matrix helpers MultivariateNormal needs, on top of ``minigrad.linalg`` (cholesky, solve_triangular)."""

from __future__ import annotations

from ..ops import matmul, mT
from ..ops.decomp import cholesky as _cholesky
from ..ops.decomp import solve_triangular as _solve_triangular
from ..tensor import Tensor

_make = Tensor._make


def diagonal(a: Tensor) -> Tensor:
    """The diagonal of the last two dims: (..., n, n) -> (..., n)."""
    return (a * _make(a.xp.eye(a.shape[-1], dtype=a.dtype))).sum(-1)


def cholesky_inverse(l_: Tensor) -> Tensor:
    """(L L^T)^{-1} from the lower factor L."""
    eye = _make(l_.xp.broadcast_to(l_.xp.eye(l_.shape[-1], dtype=l_.dtype), l_.shape))
    li = _solve_triangular(l_, eye, upper=False)
    return matmul(mT(li), li)


def cholesky(a: Tensor) -> Tensor:
    """The lower Cholesky factor; a matrix that is not positive definite raises ValueError (as the
    distributions' argument checks do)."""
    try:
        return _cholesky(a)
    except RuntimeError as e:
        raise ValueError(str(e)) from None


def solve_triangular(a: Tensor, b: Tensor, upper: bool = False) -> Tensor:
    return _solve_triangular(a, b, upper=upper)
