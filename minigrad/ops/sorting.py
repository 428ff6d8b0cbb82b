"""Ordering ops: ``sort``, ``argsort``, ``topk`` and ``nonzero``.

``sort`` and ``topk`` return (values, indices); the values are ``gather(x, dim, indices)``, so their
gradient is dy scattered back to the positions the values came from (indices carry no gradient).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from ..backend import get_array_module
from ..tensor import Tensor
from ._util import dim_aliases, normalize_dim
from .indexing import gather

_make = Tensor._make

sort_result = namedtuple("sort_result", ["values", "indices"])
topk_result = namedtuple("topk_result", ["values", "indices"])


def _argsort_array(a: Any, axis: int, descending: bool, stable: bool) -> Any:
    """argsort along ``axis``; descending sorts the negation (nan, as in PyTorch, counts as the largest).

    ``kind='stable'`` is only requested when needed: CuPy's sort is always stable and older CuPy
    versions take no ``kind`` argument."""
    xp = get_array_module(a)
    kw = {"kind": "stable"} if stable else {}
    if not descending:
        return xp.argsort(a, axis=axis, **kw)
    if a.dtype.kind in "bu":
        a = a.astype("int64")
    neg = -a
    if a.dtype.kind == "f":
        neg = xp.where(xp.isnan(a), -xp.inf, neg)
    return xp.argsort(neg, axis=axis, **kw)


@dim_aliases
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """Sort along ``dim``; returns (values, indices) (a namedtuple, as ``torch.return_types.sort``).

    Ties keep their input order when ``stable``; the values are differentiable."""
    if x.ndim == 0:
        return sort_result(x, _make(x.xp.asarray(0)))
    axis = normalize_dim(dim, x.ndim, "sort")
    idx = _argsort_array(x.array, axis, descending, stable)
    return sort_result(gather(x, axis, _make(idx)), _make(idx))


@dim_aliases
def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort ``x`` along ``dim`` (no gradient)."""
    if x.ndim == 0:
        return _make(x.xp.asarray(0))
    return _make(_argsort_array(x.array, normalize_dim(dim, x.ndim, "argsort"), descending, stable))


@dim_aliases
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) entries along ``dim`` as (values, indices); values differentiable.

    The result is always in sorted order (``sorted=False`` allows any order, so sorted is fine)."""
    axis = normalize_dim(dim, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(
            f"topk: k ({k}) is out of range for dim {axis} of size {n} (shape {tuple(x.shape)})"
        )
    if x.ndim == 0:
        return topk_result(x, _make(x.xp.asarray(0)))
    xp = x.xp
    idx = _argsort_array(x.array, axis, largest, False)
    idx = xp.take(idx, xp.arange(k), axis=axis)
    return topk_result(gather(x, axis, _make(idx)), _make(idx))


def nonzero(x: Tensor, as_tuple: bool = False) -> Any:
    """Indices of the nonzero entries: an (n, ndim) int64 tensor, or a tuple of ndim 1-D tensors."""
    xp = x.xp
    a = x.array if x.ndim else x.array.reshape(1)
    coords = xp.nonzero(a)
    if as_tuple:
        return tuple(_make(c.astype("int64")) for c in coords)
    if x.ndim == 0:
        return _make(xp.zeros((int(coords[0].size), 0), dtype="int64"))
    return _make(xp.stack(coords, axis=1).astype("int64", copy=False))


def argwhere(x: Tensor) -> Tensor:
    """Same as ``nonzero(x)``."""
    return nonzero(x)
