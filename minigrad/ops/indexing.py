"""Indexing: ``x[index]``, gather, scatter_add, index_select, masked_fill.

Reading elements is linear, so the backward writes the gradient back to where the
elements came from, *adding* where an element was read more than once (duplicate
indices accumulate). That scatter is itself an op whose backward is the read again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import normalize_dim

_make = Tensor._make


def unwrap_index(index: Any) -> Any:
    """Replace Tensors (and lists) inside an index by arrays."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(unwrap_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index: Any) -> bool:
    """Only ints, slices, None and Ellipsis: each element is read at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


def _scatter_add_array(xp: Any, target: Any, index: Any, values: Any) -> None:
    """target[index] += values, accumulating duplicates."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx  # type: ignore[import-not-found]

        cupyx.scatter_add(target, index, values)


def _index_add_into(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """zeros(shape) with ``g`` added at ``index`` (IndexAddInto.forward, for ``backward_arrays``)."""
    xp = get_array_module(g)
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        _scatter_add_array(xp, out, index, g)
    return out


class GetItem(Function):
    """y = x[index].  dx = zeros like x with dy added at ``index``."""

    saved_inputs = ()

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Any) -> Any:
        return x[self.index]

    def backward(self, gy: Tensor) -> Tensor:
        return IndexAddInto(self.index, self.inputs[0].shape)(gy)

    def backward_arrays(self, gy: Any) -> Any:
        return _index_add_into(gy, self.index, self.inputs[0].array.shape)


class IndexAddInto(Function):
    """y = zeros(shape) with g added at ``index`` (the backward of getitem).  dg = dy[index]."""

    saved_inputs = ()

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index, self.shape = index, shape

    def forward(self, g: Any) -> Any:
        return _index_add_into(g, self.index, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return GetItem(self.index)(gy)

    def backward_arrays(self, gy: Any) -> Any:
        return gy[self.index]


class IndexPut(Function):
    """y = x with y[index] = v (v broadcast to the shape of x[index], cast to x's dtype).

    dx = dy with zeros at ``index``; dv = dy[index] summed back to v's shape. (With an advanced index
    that names an element twice, NumPy keeps the last write; dv then counts every occurrence.)
    """

    saved_inputs = ()

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Any, v: Any) -> Any:
        y = x.copy()
        y[self.index] = v
        return y

    def backward(self, gy: Tensor) -> tuple:
        from .arithmetic import sum_to

        x, v = self.inputs
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = IndexPut(self.index)(gy, _make(gy.xp.zeros((), dtype=gy.dtype)))
        if self.needs_input_grad[1]:
            gv = getitem(gy, self.index)
            extra = gv.ndim - v.ndim
            if extra < 0:  # v had leading size-1 dims that the assignment dropped
                gv = gv.reshape((1,) * -extra + tuple(gv.shape))
            gv = sum_to(gv, v.shape)
        return gx, gv


def index_put(x: Tensor, index: Any, value: Any) -> Tensor:
    """A copy of ``x`` with ``value`` written at ``index`` (out-of-place ``x[index] = value``)."""
    from ._util import as_tensor_like

    idx = unwrap_index(index)
    if get_array_module(x.array) is not np:
        idx = _index_to_device(idx, get_array_module(x.array))
    v = as_tensor_like(value, x)
    try:
        return IndexPut(idx)(x, v)
    except (IndexError, ValueError) as e:
        raise type(e)(
            f"index_put: cannot assign a value of shape {tuple(v.shape)} to index {index!r} of a tensor of "
            f"shape {tuple(x.shape)}: {e}"
        ) from None


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with NumPy's basic and advanced indexing rules."""
    idx = unwrap_index(index)
    xp = get_array_module(x.array)
    if xp is not np:
        idx = _index_to_device(idx, xp)
    try:
        return GetItem(idx)(x)
    except IndexError as e:
        raise IndexError(
            f"getitem: index {index!r} is invalid for a tensor of shape {tuple(x.shape)}: {e}"
        ) from None


def _index_to_device(idx: Any, xp: Any) -> Any:
    if isinstance(idx, tuple):
        return tuple(_index_to_device(i, xp) for i in idx)
    if isinstance(idx, np.ndarray):
        return xp.asarray(idx)
    return idx


def _along(index: Any, axis: int) -> tuple:
    """The full fancy index that selects ``index`` along ``axis`` and the identity elsewhere."""
    xp = get_array_module(index)
    grids = xp.indices(index.shape, sparse=True)
    return tuple(index if d == axis else grids[d] for d in range(index.ndim))


class Gather(Function):
    """y[i, j] = x[index[i, j], j] (for axis 0).  dx = zeros with dy scatter-added along ``axis``."""

    saved_inputs = ()

    def __init__(self, axis: int, index: Any) -> None:
        self.axis, self.index = axis, index

    def forward(self, x: Any) -> Any:
        return x[_along(self.index, self.axis)]

    def backward(self, gy: Tensor) -> Tensor:
        return IndexAddInto(_along(self.index, self.axis), self.inputs[0].shape)(gy)

    def backward_arrays(self, gy: Any) -> Any:
        return _index_add_into(gy, _along(self.index, self.axis), self.inputs[0].array.shape)


def _check_index_tensor(op: str, x: Tensor, dim: int, index: Any) -> tuple[int, Any]:
    idx = index.array if isinstance(index, Tensor) else get_array_module(x.array).asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    axis = normalize_dim(dim, x.ndim, op)
    if idx.ndim != x.ndim:
        raise ValueError(
            f"{op}: index has {idx.ndim} dims but input has {x.ndim} (shapes {tuple(idx.shape)} and "
            f"{tuple(x.shape)})"
        )
    if any(i > s for d, (i, s) in enumerate(zip(idx.shape, x.shape)) if d != axis):
        raise ValueError(
            f"{op}: index shape {tuple(idx.shape)} is larger than input shape {tuple(x.shape)} "
            f"outside dim {axis}"
        )
    if idx.size and (int(idx.min()) < -x.shape[axis] or int(idx.max()) >= x.shape[axis]):
        raise IndexError(f"{op}: index out of range for dim {axis} of size {x.shape[axis]}")
    return axis, idx


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``out[i][j] = x[index[i][j]][j]`` for dim=0.

    In general ``index`` replaces the coordinate on ``dim``; its other dims may be smaller than x's."""
    axis, idx = _check_index_tensor("gather", x, dim, index)
    return Gather(axis, idx)(x)


class ScatterAdd(Function):
    """y = x with src[i, j] added at (index[i, j], j) (axis 0).  dx = dy, dsrc = gather(dy, axis, index)."""

    saved_inputs = ()

    def __init__(self, axis: int, index: Any) -> None:
        self.axis, self.index = axis, index

    def forward(self, x: Any, src: Any) -> Any:
        out = x.copy()
        src = src[tuple(slice(0, s) for s in self.index.shape)]
        _scatter_add_array(get_array_module(x), out, _along(self.index, self.axis), src)
        return out

    def backward(self, gy: Tensor) -> tuple:
        gsrc = None
        if self.needs_input_grad[1]:
            g = Gather(self.axis, self.index)(gy)
            src_shape = self.inputs[1].shape
            if g.shape != src_shape:
                from .shape import pad

                widths: list[int] = []
                for s_src, s_g in reversed(list(zip(src_shape, g.shape))):
                    widths += [0, s_src - s_g]
                g = pad(g, widths)
            gsrc = g
        return gy, gsrc


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """Out-of-place ``x.scatter_add_(dim, index, src)``: adds each ``src`` element at its ``index``."""
    axis, idx = _check_index_tensor("scatter_add", x, dim, index)
    if any(i > s for i, s in zip(idx.shape, src.shape)):
        raise ValueError(
            f"scatter_add: index shape {tuple(idx.shape)} is larger than src shape {tuple(src.shape)}"
        )
    from ._util import binary_operands

    x, src = binary_operands("scatter_add", x, src)
    return ScatterAdd(axis, idx)(x, src)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """Pick the entries ``index`` (1-D integer tensor) along ``dim``."""
    idx = index.array if isinstance(index, Tensor) else x.xp.asarray(index)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"index_select: index must be a 1-D integer tensor, got shape {tuple(idx.shape)} "
            f"dtype {idx.dtype}"
        )
    axis = normalize_dim(dim, x.ndim, "index_select")
    return getitem(x, (slice(None),) * axis + (idx,))


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` where ``mask`` (bool, broadcastable) is True."""
    from .unary import where

    m = mask.array if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {getattr(m, 'dtype', type(m))}")
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = value.to(x.dtype)
    return where(_make(m), value, x)
