"""Tensor conveniences with PyTorch's names: ``Size``, ``Tensor.type``, ``new_zeros``/``new_ones``/...

These are not differentiable ops; they are installed as Tensor methods by ``minigrad.ops``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._construct import from_data
from ..dtypes import as_dtype
from ..tensor import Tensor


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints that prints as ``minigrad.Size([2, 3])``;
    slicing and ``+`` give a Size, ``numel()`` is the product."""

    __slots__ = ()

    def __new__(cls, sizes: Any = ()) -> Size:
        return tuple.__new__(cls, sizes)

    def __repr__(self) -> str:
        return f"minigrad.Size({list(self)})"

    def __getitem__(self, i: Any) -> Any:
        r = tuple.__getitem__(self, i)
        return tuple.__new__(Size, r) if isinstance(i, slice) else r

    def __add__(self, other: Any) -> Size:
        return tuple.__new__(Size, tuple.__add__(self, tuple(other)))

    def __radd__(self, other: Any) -> Size:
        return tuple.__new__(Size, tuple(other) + tuple(self))

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def _shape(self: Tensor) -> Size:
    return tuple.__new__(Size, self.array.shape)


def _size(self: Tensor, dim: int | None = None) -> Any:
    """``shape`` (a :class:`Size`) or the size of one dimension, like PyTorch's ``Tensor.size``."""
    if dim is None:
        return tuple.__new__(Size, self.array.shape)
    if self.array.ndim == 0 or not -self.array.ndim <= dim < self.array.ndim:
        raise IndexError(f"size: dim {dim} is out of range for a tensor of {self.array.ndim} dimensions")
    return self.array.shape[dim]


_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}
_FROM_TYPE_NAME = {v: k for k, v in _TYPE_NAMES.items()}


def type_(self: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """``x.type()``: the type name, e.g. 'minigrad.FloatTensor' ('minigrad.cuda.FloatTensor' on a GPU);
    ``x.type(dtype)``: ``x`` converted to ``dtype``, which may also be such a name ('torch.' works too)."""
    if dtype is None:
        cuda = ".cuda" if self.device.type == "cuda" else ""
        return f"minigrad{cuda}.{_TYPE_NAMES[str(self.dtype)]}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        parts = dtype.split(".")
        if parts[-1] not in _FROM_TYPE_NAME:
            raise TypeError(f"type: unknown tensor type {dtype!r}")
        out = self.to(_FROM_TYPE_NAME[parts[-1]])
        on_cuda = "cuda" in parts[:-1]
        if on_cuda != (self.device.type == "cuda"):
            out = out.to("cuda" if on_cuda else "cpu")
        return out
    return self.to(as_dtype(dtype))


def _new(self: Tensor, fill: Any, size: tuple, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    from ..creation import _finish, _xp
    from ..creation import _shape as shape_of

    dt = self.dtype if dtype is None else as_dtype(dtype)
    xp = self.xp if device is None else _xp(device)
    shape = shape_of(size)
    arr = xp.empty(shape, dtype=dt) if fill is None else xp.full(shape, fill, dtype=dt)
    if device is None:
        from ..backend import to_device

        arr = to_device(arr, self.device)
    return _finish(arr, requires_grad, device)


def new_zeros(
    self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype and device unless given."""
    return _new(self, 0, size, dtype, device, requires_grad)


def new_ones(
    self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Ones of ``size`` with this tensor's dtype and device unless given."""
    return _new(self, 1, size, dtype, device, requires_grad)


def new_empty(
    self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """An uninitialised tensor of ``size`` with this tensor's dtype and device unless given."""
    return _new(self, None, size, dtype, device, requires_grad)


def new_full(
    self: Tensor,
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` everywhere, with this tensor's dtype and device unless given."""
    return _new(self, fill_value, (size,), dtype, device, requires_grad)


def new_tensor(
    self: Tensor, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new leaf tensor copying ``data``, with this tensor's dtype and device unless given."""
    from ..backend import to_device

    src = data.array if isinstance(data, Tensor) else data
    src = to_device(src, "cpu") if not isinstance(src, (list, tuple, int, float, bool)) else src
    arr = np.array(src, dtype=self.dtype if dtype is None else as_dtype(dtype))
    return from_data(arr, requires_grad=requires_grad, device=self.device if device is None else device)
