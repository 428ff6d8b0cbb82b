"""``minigrad.linalg``: PyTorch's ``torch.linalg`` subset, differentiable and batched over leading dims.

norm, vector_norm, matrix_norm ('fro', +-1, +-inf), inv, det, slogdet, solve, solve_triangular, cholesky,
eigh, eigvalsh,
qr (reduced, m >= n, for the gradient).
"""

from __future__ import annotations

from .ops.decomp import cholesky, det, eigh, eigvalsh, inv, qr, slogdet, solve, solve_triangular
from .ops.norms import matrix_norm, vector_norm
from .ops.norms import norm_linalg as norm

__all__ = [
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "matrix_norm",
    "norm",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "vector_norm",
]
