"""``minigrad.linalg``: PyTorch's ``torch.linalg`` subset, differentiable and batched over leading dims.

norm, vector_norm, matrix_norm ('fro', +-1, +-inf), inv, det, slogdet, solve, cholesky.
"""

from __future__ import annotations

from .ops.decomp import cholesky, det, inv, slogdet, solve
from .ops.norms import matrix_norm, vector_norm
from .ops.norms import norm_linalg as norm

__all__ = ["cholesky", "det", "inv", "matrix_norm", "norm", "slogdet", "solve", "vector_norm"]
