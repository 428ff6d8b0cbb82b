"""Matrix-shaped helpers: triangular parts (``tril``/``triu``) and the ``outer`` product."""

from __future__ import annotations

from typing import Any

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import binary_operands
from .shape import unsqueeze


class Tril(Function):
    """y = the lower (``upper=False``) or upper triangle of each matrix in x (..., m, n), counting
    diagonals from ``k``.  dx = the same triangle of dy."""

    saved_inputs = ()

    def __init__(self, k: int, upper: bool) -> None:
        self.k, self.upper = k, upper

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        m, n = x.shape[-2:]
        mask = xp.tri(m, n, self.k - 1 if self.upper else self.k, dtype=bool)  # broadcasts over the batch
        if self.upper:
            mask = ~mask
        return xp.where(mask, x, x.dtype.type(0))

    def backward(self, gy: Tensor) -> Tensor:
        return Tril(self.k, self.upper)(gy)


def _check_matrix(x: Tensor, op: str) -> None:
    if x.ndim < 2:
        raise ValueError(f"{op}: expected a tensor with at least 2 dims, got shape {tuple(x.shape)}")


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle of the last two dims: entries with col - row <= ``diagonal``, zeros elsewhere."""
    _check_matrix(x, "tril")
    return Tril(int(diagonal), False)(x)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two dims: entries with col - row >= ``diagonal``, zeros elsewhere."""
    _check_matrix(x, "triu")
    return Tril(int(diagonal), True)(x)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """a (n,) and b (m,) give (n, m) with entries a_i * b_j (differentiable as a broadcast product)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.ndim != 1 or b.ndim != 1:
        raise ValueError(
            f"outer: expected two 1-D tensors, got shapes {tuple(getattr(a, 'shape', ()))} and "
            f"{tuple(getattr(b, 'shape', ()))}"
        )
    a, b = binary_operands("outer", a, b)
    return unsqueeze(a, 1) * unsqueeze(b, 0)


ger = outer
