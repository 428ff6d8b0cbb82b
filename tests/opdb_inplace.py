"""Registry entries for ``index_put`` and the in-place methods taken through autograd.

An in-place op on a non-leaf tensor that requires grad is computed out of place and then copied into
the tensor's memory, re-pointing its ``grad_fn`` ("rebasing", minigrad/inplace.py). Each entry here
runs the in-place method on ``x * 1.0`` (a non-leaf), so gradcheck and gradgradcheck go through that
path; the NumPy reference is the out-of-place result.
"""

from __future__ import annotations

import numpy as np
from opdb import C, S, arr, away, pos, register

import minigrad as mg


def _assign(x, i, v):
    y = x.copy()
    y[i] = v
    return y


register(
    "index_put",
    mg.index_put,
    _assign,
    [
        S(arr(4, 5), (1, slice(None, None, 2)), arr(3), desc="basic"),
        S(arr(4, 5), (slice(1, 3),), arr(1, 5), desc="broadcast-rows"),
        S(arr(5, 3), C(np.array([0, 2, 4])), arr(3, 3), desc="advanced"),
        S(arr(4, 3), C(np.array([[True, False, True]] * 2 + [[False] * 3] * 2)), arr(1), desc="mask"),
        S(arr(3, 4), (slice(0, 2), C(np.array([0, 3]))), 0.5, desc="constant"),
    ],
)


def _nonleaf(x):
    return x * 1.0


def _setitem(x, i, v):
    h = _nonleaf(x)
    h[i] = v
    return h


def _method(name):
    return lambda x, *a, **k: getattr(_nonleaf(x), name)(*a, **k)


def _iadd(x, y):
    h = _nonleaf(x)
    h += y
    return h


def _imul(x, y):
    h = _nonleaf(x)
    h *= y
    return h


_sig = lambda a: 1 / (1 + np.exp(-a))
_mask_row = np.array([True, False, True])
for name, ref, samples in [
    ("add_", lambda x, y, alpha=1: x + alpha * y, [S(arr(3, 4), arr(4)), S(arr(3), arr(3), alpha=-0.5)]),
    ("sub_", lambda x, y: x - y, [S(arr(3, 4), arr(3, 4))]),
    ("mul_", lambda x, y: x * y, [S(arr(3, 4), 2.5, desc="scalar"), S(arr(3, 4), arr(3, 1))]),
    ("div_", lambda x, y: x / y, [S(arr(3, 4), pos(4))]),
    ("pow_", lambda x, e: x**e, [S(pos(3, 4), 3.0)]),
    ("exp_", np.exp, [S(arr(3, 4))]),
    ("log_", np.log, [S(pos(3, 4))]),
    ("sqrt_", np.sqrt, [S(pos(3, 4))]),
    ("tanh_", np.tanh, [S(arr(3, 4))]),
    ("sigmoid_", _sig, [S(arr(3, 4))]),
    ("relu_", lambda x: np.maximum(x, 0), [S(away(3, 4))]),
    ("abs_", np.abs, [S(away(3, 4))]),
    ("neg_", np.negative, [S(arr(3, 4))]),
    ("clamp_", lambda x, lo, hi: np.clip(x, lo, hi), [S(away(3, 4, gap=0.3), -1.0, 1.0)]),
    ("clamp_min_", lambda x, lo: np.maximum(x, lo), [S(away(3, 4, gap=0.3), 0.0)]),
    ("masked_fill_", lambda x, m, v: np.where(m, v, x), [S(arr(2, 3), C(_mask_row), 2.0)]),
    ("addcmul_", lambda x, a, b, value=1: x + value * a * b, [S(arr(3, 4), arr(3, 4), arr(4), value=0.5)]),
    ("addcdiv_", lambda x, a, b, value=1: x + value * a / b, [S(arr(3, 4), arr(3, 4), pos(3, 4), value=-2)]),
    ("lerp_", lambda x, e, w: x + w * (e - x), [S(arr(3, 4), arr(3, 4), 0.3)]),
    ("copy_", lambda x, s: np.broadcast_to(s, x.shape).copy(), [S(arr(3, 4), arr(4))]),
    ("fill_", lambda x, v: np.full_like(x, v), [S(arr(3, 4), arr())]),
]:
    register(f"Tensor.{name}", _method(name), ref, samples, covers=(f"Tensor.{name}",))

register("Tensor.zero_", _method("zero_"), np.zeros_like, [S(arr(3, 4))], covers=("Tensor.zero_",))
register("Tensor.__iadd__", _iadd, lambda x, y: x + y, [S(arr(3, 4), arr(3, 4))], covers=("Tensor.__iadd__",))
register("Tensor.__imul__", _imul, lambda x, y: x * y, [S(arr(3, 4), arr(4))], covers=("Tensor.__imul__",))
register(
    "Tensor.__setitem__",
    _setitem,
    _assign,
    [
        S(arr(4, 5), (1, slice(None, None, 2)), arr(3), desc="basic"),
        S(arr(5, 3), C(np.array([0, 2, 4])), arr(3, 3), desc="advanced"),
        S(arr(4, 3), 2, 7.0, desc="constant"),
    ],
    covers=("Tensor.__setitem__",),
)
