"""Registry entries (see tests/opdb.py) for scans, sorting, triangular parts, norms and minigrad.linalg.

Matrix samples are well conditioned (a random matrix plus a multiple of the identity); cholesky is
registered through A -> cholesky(A A^T + n I) so that every perturbed input stays symmetric
positive-definite and gradcheck sees the symmetric function."""

from __future__ import annotations

import math

import numpy as np
from opdb import C, S, arr, away, distinct, register

import minigrad as mg


def wc(*shape: int, shift: float = 3.0) -> np.ndarray:
    """A (batch of) well-conditioned square matrices: uniform(-1, 1) entries plus ``shift`` * I."""
    n = shape[-1]
    return arr(*shape, low=-1.0, high=1.0) + shift * np.eye(n)


def _np_vector_norm(x, ord=2, dim=None, keepdim=False):
    a = np.abs(x)
    if ord == math.inf:
        return np.max(a, axis=dim, keepdims=keepdim)
    if ord == -math.inf:
        return np.min(a, axis=dim, keepdims=keepdim)
    return np.sum(a**ord, axis=dim, keepdims=keepdim) ** (1.0 / ord)


def _np_matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False):
    if ord == "fro":
        return _np_vector_norm(x, 2, tuple(dim), keepdim)
    rows, cols = dim
    along, across = (rows, cols) if ord in (1, -1) else (cols, rows)
    s = np.sum(np.abs(x), axis=along, keepdims=True)
    out = (np.max if ord > 0 else np.min)(s, axis=across, keepdims=True)
    return out if keepdim else np.squeeze(out, axis=tuple(d % x.ndim for d in dim))


def _np_linalg_norm(x, ord=None, dim=None, keepdim=False):
    if dim is not None and not isinstance(dim, tuple):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return _np_vector_norm(x, 2, None, keepdim)
        return (
            _np_vector_norm(x, ord, None, keepdim)
            if x.ndim == 1
            else _np_matrix_norm(x, ord, (-2, -1), keepdim)
        )
    if len(dim) == 1:
        return _np_vector_norm(x, 2 if ord is None else ord, dim, keepdim)
    return _np_matrix_norm(x, "fro" if ord is None else ord, dim, keepdim)


def _np_norm(x, p="fro", dim=None, keepdim=False):
    return _np_vector_norm(x, 2 if p == "fro" else p, dim, keepdim)


def _np_sort(x, dim=-1, descending=False, stable=False):
    idx = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, dim), idx


def _np_topk(x, k, dim=-1, largest=True, sorted=True):
    idx = np.take(np.argsort(-x if largest else x, axis=dim, kind="stable"), np.arange(k), axis=dim)
    return np.take_along_axis(x, idx, dim), idx


# Scans
register(
    "cumsum",
    mg.cumsum,
    lambda x, dim: np.cumsum(x, axis=dim),
    [S(arr(3, 4), 1), S(arr(3, 4), 0), S(arr(5), -1), S(arr(2, 0), 1, desc="zero-size")],
)
register(
    "cumprod",
    mg.cumprod,
    lambda x, dim: np.cumprod(x, axis=dim),
    [
        S(arr(3, 4), 1),
        S(arr(2, 3, 2), 0),
        S(np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.2]]), 1, desc="zeros"),
        S(np.array([[0.5, 1.1], [0.0, 2.0], [1.5, 0.0]]), 0, desc="zeros-dim0"),
    ],
)

# Sorting (values differentiable; the reference also checks the indices)
register(
    "sort",
    mg.sort,
    _np_sort,
    [
        S(distinct(3, 5)),
        S(distinct(4, 3), 0),
        S(distinct(6), descending=True),
        S(distinct(2, 3, 4), dim=1, descending=True, stable=True),
    ],
)
register(
    "topk",
    mg.topk,
    _np_topk,
    [S(distinct(3, 5), 2), S(distinct(4, 3), 3, 0), S(distinct(6), 2, largest=False), S(distinct(5), 0)],
)

# Clamping, products and triangles
register("clamp_min", mg.clamp_min, np.maximum, [S(np.array([-1.7, -0.3, 0.2, 0.9]), 0.0)])
register("clamp_max", mg.clamp_max, np.minimum, [S(np.array([[-1.7, -0.3], [0.2, 0.9]]), 0.5)])
register("outer", mg.outer, np.outer, [S(arr(3), arr(4)), S(arr(1), arr(2))], covers=("outer", "ger"))
register(
    "narrow",
    mg.narrow,
    lambda x, d, s, n: np.take(x, np.arange(s % x.shape[d], s % x.shape[d] + n), axis=d),
    [S(arr(4, 5), 1, 1, 3), S(arr(4, 5), 0, -2, 2), S(arr(3), 0, 1, 0, desc="empty")],
)
register(
    "tril",
    mg.tril,
    lambda x, diagonal=0: np.tril(x, diagonal),
    [S(arr(4, 5)), S(arr(2, 3, 4), 1), S(arr(3, 3), diagonal=-1)],
)
register(
    "triu",
    mg.triu,
    lambda x, diagonal=0: np.triu(x, diagonal),
    [S(arr(4, 5)), S(arr(2, 3, 4), -1), S(arr(3, 3), diagonal=2)],
)

# Norms
register(
    "norm",
    mg.norm,
    _np_norm,
    [
        S(away(3, 4)),
        S(away(3, 4), 1, 1),
        S(away(2, 3, 4), 3, (0, 2)),
        S(away(3, 4), "fro", 1, keepdim=True),
        S(distinct(5), math.inf, desc="inf"),
        S(np.zeros(3), desc="zero", gradgrad=False),
    ],
)
register(
    "linalg.vector_norm",
    mg.linalg.vector_norm,
    _np_vector_norm,
    [
        S(away(3, 4)),
        S(away(3, 4), 0.5, 1, desc="p<1"),
        S(away(2, 3), 3, dim=(0, 1)),
        S(distinct(3, 4) + 1.0, math.inf, 1),
        S(distinct(3, 4) - 1.0, -math.inf, 0, keepdim=True),
        S(np.zeros((2, 3)), 2, 1, desc="zero", gradgrad=False),
        S(np.array([0.0, 1.0, -2.0]), 1.5, desc="zero-entry", gradgrad=False),
    ],
)
register(
    "linalg.matrix_norm",
    mg.linalg.matrix_norm,
    _np_matrix_norm,
    [
        S(arr(3, 4)),
        S(arr(2, 3, 4), 1),
        S(arr(3, 4), -1),
        S(arr(3, 4), math.inf),
        S(arr(2, 3, 4), -math.inf, (0, 2), keepdim=True),
    ],
)
register(
    "linalg.norm",
    mg.linalg.norm,
    _np_linalg_norm,
    [
        S(arr(3, 4)),
        S(arr(3, 4), "fro"),
        S(arr(3, 4), 1),
        S(away(5), 3),
        S(arr(2, 3, 4), None, (1, 2)),
        S(away(2, 3), None, 1, keepdim=True),
    ],
)


# minigrad.linalg
def _np_solve(a, b, left=True):
    if not left:
        return np.swapaxes(_np_solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    return np.linalg.solve(a, b[..., None])[..., 0] if vector else np.linalg.solve(a, b)


register(
    "inverse",
    mg.inverse,
    np.linalg.inv,
    [S(wc(3, 3)), S(wc(2, 3, 3)), S(wc(1, 1), desc="1x1")],
    covers=("inverse", "linalg.inv"),
    atol=1e-4,
)
register(
    "det",
    mg.det,
    np.linalg.det,
    [S(wc(3, 3)), S(wc(2, 3, 3)), S(-wc(3, 3), desc="negative")],
    atol=1e-4,
)
register(
    "slogdet",
    mg.slogdet,
    np.linalg.slogdet,
    [S(wc(3, 3)), S(wc(2, 4, 4)), S(-wc(3, 3), desc="negative")],
    atol=1e-4,
)
register(
    "logdet",
    mg.logdet,
    lambda a: np.linalg.slogdet(a)[1],
    [S(wc(3, 3)), S(wc(2, 3, 3))],
    atol=1e-4,
)
register(
    "linalg.solve",
    mg.linalg.solve,
    _np_solve,
    [
        S(wc(3, 3), arr(3, 2)),
        S(wc(2, 3, 3), arr(3), desc="vector"),
        S(wc(3, 3), arr(2, 3, 4), desc="broadcast"),
        S(wc(2, 3, 3), arr(2, 3), desc="batched-vector"),
        S(wc(3, 3), arr(2, 3), left=False, desc="right"),
        S(wc(3, 3), C(arr(3, 2)), desc="constant-B"),
    ],
    atol=1e-4,
)


def _np_solve_triangular(a, b, upper, left=True):
    t = np.triu(a) if upper else np.tril(a)
    if not left:
        return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(t, batch + t.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:]))


register(
    "linalg.solve_triangular",
    mg.linalg.solve_triangular,
    _np_solve_triangular,
    [
        S(wc(3, 3), arr(3, 2), upper=False, desc="lower"),
        S(wc(2, 3, 3), arr(3, 4), upper=True, desc="upper-broadcast"),
        S(wc(3, 3), arr(2, 3), upper=True, left=False, desc="right"),
    ],
    atol=1e-4,
)


def _spd(a):
    n = a.shape[-1]
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


register(
    "cholesky",
    lambda a, **k: mg.cholesky(a @ a.mT + a.shape[-1] * mg.eye(a.shape[-1], dtype=a.dtype), **k),
    lambda a, upper=False: (
        np.swapaxes(np.linalg.cholesky(_spd(a)), -1, -2) if upper else np.linalg.cholesky(_spd(a))
    ),
    [S(arr(3, 3)), S(arr(2, 4, 4)), S(arr(3, 3), upper=True)],
    covers=("cholesky",),
    atol=1e-4,
)


def _sym(a):
    return a + np.swapaxes(a, -1, -2)


def _np_eigh(a, UPLO="L"):
    w, v = np.linalg.eigh(_sym(a), UPLO=UPLO)
    return w, v * v[..., :1, :]


def _mg_eigh(a, UPLO="L"):
    # symmetric input (gradcheck perturbs single entries) and a sign-invariant view of the eigenvectors:
    # column j scaled by its own first entry
    w, v = mg.linalg.eigh(a + a.mT, UPLO=UPLO)
    return w, v * v[..., :1, :]


register(
    "linalg.eigh",
    _mg_eigh,
    _np_eigh,
    [S(arr(3, 3)), S(arr(2, 4, 4)), S(arr(3, 3), UPLO="U")],
    atol=1e-4,
)
register(
    "linalg.eigvalsh",
    lambda a: mg.linalg.eigvalsh(a + a.mT),
    lambda a: np.linalg.eigvalsh(_sym(a)),
    [S(arr(4, 4))],
    covers=("linalg.eigh",),
)
register(
    "linalg.qr",
    mg.linalg.qr,
    lambda a: np.linalg.qr(a),
    [S(wc(3, 3)), S(arr(5, 3)), S(arr(2, 4, 2))],
    atol=1e-4,
)
register("mm", mg.mm, np.matmul, [S(arr(3, 4), arr(4, 2))])
register("bmm", mg.bmm, np.matmul, [S(arr(2, 3, 4), arr(2, 4, 2))])
