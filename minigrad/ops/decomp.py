"""Differentiable dense linear algebra, batched over leading dims: inv, det, slogdet, solve, cholesky.

Backward formulas (each written in differentiable ops, so higher derivatives work):
  Y = inv(A):         dA = -Y^T dY Y^T
  d = det(A):         dA = dd * d * inv(A)^T
  l = log|det(A)|:    dA = dl * inv(A)^T
  X = solve(A, B):    dB = solve(A^T, dX),  dA = -dB X^T
  L = cholesky(A):    dA = sym(L^-T Phi(L^T dL) L^-1), Phi = lower triangle with the diagonal halved,
                      sym(M) = (M + M^T) / 2
  X = solve_triangular(A, B):  dB = A^-T dX,  dA = -tri(dB X^T) (only A's triangle is read)
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .arithmetic import broadcast_to
from .linalg import matmul
from .matrix import Tril
from .shape import mT, squeeze, unsqueeze

_make = Tensor._make

slogdet_result = namedtuple("slogdet_result", ["sign", "logabsdet"])


def _linalg_call(op: str, f: Any, *arrays: Any) -> Any:
    try:
        return f(*arrays)
    except np.linalg.LinAlgError as e:
        shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
        what = "positive-definite" if op == "cholesky" else "invertible"
        raise RuntimeError(f"{op}: the input of shape {shapes} is not {what} ({e})") from None


def _check_square(op: str, a: Tensor) -> None:
    if not isinstance(a, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(a).__name__}")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: expected a batch of square matrices (..., n, n), got shape {tuple(a.shape)}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {a.dtype}")


def _mat(v: Tensor) -> Tensor:
    """A batch of scalars (...) as (..., 1, 1), to scale a batch of matrices."""
    return unsqueeze(unsqueeze(v, -1), -1)


class Inv(Function):
    """Y = A^-1 for A (..., n, n).  dA = -Y^T dY Y^T."""

    saved_inputs = ()

    def forward(self, a: Any) -> Any:
        self.y = _linalg_call("inv", get_array_module(a).linalg.inv, a)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        yt = mT(self.saved_output(self.y))
        return -matmul(matmul(yt, gy), yt)


class Det(Function):
    """d = det(A) for A (..., n, n).  dA = dd * d * inv(A)^T (A must be invertible for the gradient)."""

    def forward(self, a: Any) -> Any:
        self.y = get_array_module(a).linalg.det(a)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        a = self.inputs[0]
        return _mat(gy * self.saved_output(self.y)) * mT(inv(a))


class LogAbsDet(Function):
    """l = log|det(A)| for A (..., n, n).  dA = dl * inv(A)^T."""

    def forward(self, a: Any) -> Any:
        self.sign, logabs = get_array_module(a).linalg.slogdet(a)
        return logabs

    def backward(self, gy: Tensor) -> Tensor:
        return _mat(gy) * mT(inv(self.inputs[0]))


class Solve(Function):
    """X = A^-1 B for A (..., n, n), B (..., n, k) with equal batch dims.
    dB = solve(A^T, dX), dA = -dB X^T."""

    saved_inputs = ((0,), (0,))

    def forward(self, a: Any, b: Any) -> Any:
        self.x = _linalg_call("solve", get_array_module(a).linalg.solve, a, b)
        return self.x

    def backward(self, gx: Tensor) -> tuple:
        a, _ = self.inputs
        gb = Solve()(mT(a), gx)
        ga = -matmul(gb, mT(self.saved_output(self.x))) if self.needs_input_grad[0] else None
        return ga, gb if self.needs_input_grad[1] else None


class Cholesky(Function):
    """L = cholesky(A), A = L L^T symmetric positive-definite (..., n, n), L lower triangular.
    dA = sym(L^-T Phi(L^T dL) L^-1), Phi(M) = tril(M) with its diagonal halved."""

    saved_inputs = ()

    def forward(self, a: Any) -> Any:
        self.y = _linalg_call("cholesky", get_array_module(a).linalg.cholesky, a)
        return self.y

    def backward(self, gl: Tensor) -> Tensor:
        lo = self.saved_output(self.y)
        n = lo.shape[-1]
        m = matmul(mT(lo), gl)
        half_diag = _make(lo.xp.eye(n, dtype=lo.dtype) * 0.5)
        phi = Tril(0, False)(m) - m * half_diag
        lt = mT(lo)
        y = solve_triangular(lt, phi, upper=True)  # L^-T Phi, by substitution rather than an inverse
        s = mT(solve_triangular(lt, mT(y), upper=True))  # (L^-T Phi) L^-1
        return (s + mT(s)) * 0.5


def _tri_mask(xp: Any, n: int, dtype: Any, upper: bool) -> Any:
    ones = xp.ones((n, n), dtype=dtype)
    return xp.triu(ones) if upper else xp.tril(ones)


class SolveTriangular(Function):
    """X = A^-1 B for triangular A (..., n, n) (lower unless ``upper``) and B (..., n, k); batch dims
    broadcast. Only A's triangle is read.  dB = A^-T dX,  dA = -tri(dB X^T)."""

    saved_inputs = ((0,), (0,))  # both gradients solve with A; A's also reads the output X

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def forward(self, a: Any, b: Any) -> Any:
        xp = get_array_module(a)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(xp.triu(a) if self.upper else xp.tril(a), batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        self.x = _linalg_call("solve_triangular", xp.linalg.solve, a, b).astype(b.dtype, copy=False)
        return self.x

    def backward(self, gx: Tensor) -> tuple:
        from .arithmetic import sum_to

        a, b = self.inputs
        gb = SolveTriangular(not self.upper)(mT(a), gx)
        ga = None
        if self.needs_input_grad[0]:
            mask = _make(_tri_mask(a.xp, a.shape[-1], a.dtype, self.upper))
            ga = sum_to(-(matmul(gb, mT(self.saved_output(self.x))) * mask), a.shape)
        return ga, (sum_to(gb, b.shape) if self.needs_input_grad[1] else None)


def solve_triangular(a: Tensor, b: Tensor, *, upper: bool, left: bool = True) -> Tensor:
    """X with A X = B (``left``) or X A = B, for triangular A (..., n, n) and B (..., n, k) / (..., k, n);
    as ``torch.linalg.solve_triangular``."""
    _check_square("solve_triangular", a)
    if not left:
        return mT(solve_triangular(mT(a), mT(b), upper=not upper))
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise ValueError(
            f"solve_triangular: expected A (..., n, n) and B (..., n, k), got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    return SolveTriangular(upper)(a, b)


def inv(a: Tensor) -> Tensor:
    """Inverse of each square matrix in A (..., n, n); a singular matrix raises a RuntimeError."""
    _check_square("inv", a)
    return Inv()(a)


def det(a: Tensor) -> Tensor:
    """Determinant of each square matrix in A (..., n, n), shape (...)."""
    _check_square("det", a)
    return Det()(a)


def slogdet(a: Tensor) -> Any:
    """(sign, log|det A|) of each square matrix in A (..., n, n); only logabsdet has a gradient."""
    _check_square("slogdet", a)
    fn = LogAbsDet()
    logabs = fn(a)
    return slogdet_result(_make(get_array_module(a.array).asarray(fn.sign, dtype=a.dtype)), logabs)


def logdet(a: Tensor) -> Tensor:
    """log det A (nan where det A < 0, -inf where it is 0), as ``torch.logdet``."""
    from .unary import where

    s, logabs = slogdet(a)
    return where(s.array < 0, float("nan"), logabs)


def solve(a: Tensor, b: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B for A (..., n, n) and B (..., n, k) or a vector B (n,) / (..., n); batch dims
    broadcast.  ``left=False`` solves X A = B instead."""
    _check_square("solve", a)
    if not isinstance(b, Tensor):
        raise TypeError(f"solve: expected B to be a Tensor, got {type(b).__name__}")
    if not left:
        return mT(solve(mT(a), mT(b)))
    if b.dtype != a.dtype:
        from ._util import binary_operands

        a, b = binary_operands("solve", a, b)
    n = a.shape[-1]
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    if vector:
        b = unsqueeze(b, -1)
    if b.shape[-2] != n:
        raise ValueError(
            f"solve: A of shape {tuple(a.shape)} and B of shape {tuple(b.shape)} do not match "
            f"(B needs {n} rows)"
        )
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"solve: batch dims of A {tuple(a.shape)} and B {tuple(b.shape)} cannot be broadcast"
        ) from None
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    x = Solve()(a, b)
    return squeeze(x, -1) if vector else x


def cholesky(a: Tensor, upper: bool = False) -> Tensor:
    """L with A = L L^T for a symmetric positive-definite A (..., n, n) (``upper=True``: U = L^T).
    Only the lower triangle of A is read."""
    _check_square("cholesky", a)
    lo = Cholesky()(a)
    return mT(lo) if upper else lo


# --- eigh and qr ----------------------------------------------------------------------------------
eigh_result = namedtuple("eigh_result", ["eigenvalues", "eigenvectors"])
qr_result = namedtuple("qr_result", ["Q", "R"])


class Eigh(Function):
    """(w, V) = eigh(A) for symmetric A (..., n, n): A = V diag(w) V^T, w ascending.
    dA = V (diag(dw) + skew(V^T dV) / E) V^T, E_ij = w_j - w_i (off the diagonal), skew(M) = (M - M^T)/2.
    The eigenvector part needs distinct eigenvalues (as in PyTorch)."""

    saved_inputs = ()

    def __init__(self, uplo: str) -> None:
        self.uplo = uplo

    def forward(self, a: Any) -> Any:
        self.w, self.v = get_array_module(a).linalg.eigh(a, UPLO=self.uplo)
        return self.w, self.v

    def backward(self, gw: Tensor, gv: Tensor) -> Tensor:
        w, v = self.saved_output(self.w, 0), self.saved_output(self.v, 1)
        n = w.shape[-1]
        eye = v.xp.eye(n, dtype=bool)
        e = unsqueeze(w, -2) - unsqueeze(w, -1)  # e[i, j] = w_j - w_i
        vtgv = matmul(mT(v), gv)
        skew = (vtgv - mT(vtgv)) * 0.5
        from .unary import where

        inner = where(_make(eye), 0.0, skew / where(_make(eye), 1.0, e)) + unsqueeze(gw, -1) * _make(
            eye.astype(v.dtype)
        )
        return matmul(matmul(v, inner), mT(v))


def eigh(a: Tensor, UPLO: str = "L") -> Any:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices A (..., n, n); only the ``UPLO``
    triangle of A is read.  Differentiable (eigenvectors: for distinct eigenvalues)."""
    _check_square("eigh", a)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = Eigh(UPLO)(a)
    return eigh_result(w, v)


def eigvalsh(a: Tensor, UPLO: str = "L") -> Tensor:
    """Eigenvalues (ascending) of symmetric matrices A (..., n, n)."""
    return eigh(a, UPLO).eigenvalues


class QR(Function):
    """(Q, R) = qr(A), reduced, for A (..., m, n) with m >= n: Q (..., m, n) orthonormal columns, R (n, n)
    upper triangular.  With X^-T the inverse transpose:
    dA = Q (dR + tril(Q^T dQ - dQ^T Q + R dR^T - dR R^T) R^-T) + (dQ - Q Q^T dQ) R^-T."""

    saved_inputs = ()

    def forward(self, a: Any) -> Any:
        self.q, self.r = get_array_module(a).linalg.qr(a, mode="reduced")
        return self.q, self.r

    def backward(self, gq: Tensor, gr: Tensor) -> Tensor:
        q, r = self.saved_output(self.q, 0), self.saved_output(self.r, 1)
        qdq = matmul(mT(q), gq)
        rdr = matmul(r, mT(gr))
        low = Tril(0, False)(qdq - mT(qdq) + rdr - mT(rdr))
        r_inv_t = mT(inv(r))
        return matmul(q, gr + matmul(low, r_inv_t)) + matmul(gq - matmul(q, qdq), r_inv_t)


def qr(a: Tensor, mode: str = "reduced") -> Any:
    """QR decomposition A = Q R of A (..., m, n); differentiable for mode='reduced' with m >= n
    (full-rank A).  mode='r' returns (empty Q, R), as in PyTorch, without a gradient."""
    if not isinstance(a, Tensor) or a.ndim < 2 or a.dtype.kind != "f":
        raise ValueError(
            f"qr: expected a floating-point tensor with at least 2 dims, got {getattr(a, 'shape', a)!r}"
        )
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = a.shape[-2], a.shape[-1]
    if mode == "reduced" and m >= n:
        q, r = QR()(a)
        return qr_result(q, r)
    if a.requires_grad:
        raise NotImplementedError(
            f"qr: the gradient is only implemented for mode='reduced' with m >= n, got mode={mode!r} and "
            f"shape {tuple(a.shape)}"
        )
    xp = get_array_module(a.array)
    if mode == "r":
        r = xp.linalg.qr(a.array, mode="r")
        return qr_result(_make(xp.zeros((0,), dtype=a.dtype)), _make(r))
    q, r = xp.linalg.qr(a.array, mode=mode)
    return qr_result(_make(q), _make(r))
