"""Helpers shared by the op modules: operand conversion, dtype promotion, axis handling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._construct import from_data
from ..backend import get_array_module
from ..dtypes import result_type, scalar_dtype
from ..tensor import Tensor

_make = Tensor._make


def as_tensor_like(x: Any, like: Tensor) -> Tensor:
    """``x`` as a Tensor on ``like``'s device; a Python scalar takes ``like``'s dtype (PyTorch's rule)."""
    data = like.array
    if type(x) is float and data.dtype.kind == "f":  # the common case (x * 0.5) without the checks below
        xp = np if type(data) is np.ndarray else get_array_module(data)
        return _make(xp.asarray(x, dtype=data.dtype))
    if isinstance(x, Tensor):
        return x
    xp = np if type(data) is np.ndarray else get_array_module(data)
    if isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)):
        return _make(xp.asarray(x, dtype=scalar_dtype(x, data.dtype)))
    return from_data(xp.asarray(x))


def binary_operands(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors of one dtype (PyTorch's promotion: float beats int, wider beats narrower)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.array.dtype is b.array.dtype or a.array.dtype == b.array.dtype:
                return a, b
        else:
            b = as_tensor_like(b, a)
    elif isinstance(b, Tensor):
        a = as_tensor_like(a, b)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    da, db = a.array.dtype, b.array.dtype
    if da != db:
        # as in PyTorch, a 0-d tensor does not widen a dimensioned operand of the same category
        ca, cb = _category(da), _category(db)
        if a.array.ndim == 0 and b.array.ndim != 0 and ca == cb:
            dt = db
        elif b.array.ndim == 0 and a.array.ndim != 0 and ca == cb:
            dt = da
        else:
            dt = result_type(da, db)
        if da != dt:
            a = a.to(dt)
        if db != dt:
            b = b.to(dt)
    return a, b


def _category(dt: np.dtype) -> int:
    return 2 if dt.kind == "f" else (0 if dt.kind == "b" else 1)


def check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    """Raise a ValueError naming ``op`` and both shapes unless they broadcast (a plain loop: a hot path)."""
    for m, n in zip(reversed(a.array.shape), reversed(b.array.shape)):
        if m != n and m != 1 and n != 1:
            raise ValueError(
                f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
            )


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in ``[-ndim, ndim)`` as a non-negative axis (0-d tensors accept 0 and -1)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % n


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...] | None:
    """``None`` (all dims) or a sorted tuple of non-negative axes."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    axes = tuple(sorted({normalize_dim(int(d), ndim, op) for d in dim}))
    if ndim == 0:
        return ()
    return axes


def keepdim_shape(shape: Sequence[int], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as size 1."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def is_floating(t: Tensor) -> bool:
    return t.array.dtype.kind == "f"


def dim_aliases(fn: Any) -> Any:
    """Let ``fn`` accept PyTorch's NumPy-style keyword aliases: ``axis=`` for ``dim=``, ``keepdims=``
    for ``keepdim=`` (as ``torch.sum(x, axis=0, keepdims=True)`` does)."""
    import functools

    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            for alias, real in (("axis", "dim"), ("keepdims", "keepdim")):
                if alias in kwargs:
                    if real in kwargs:
                        raise TypeError(f"{name}: got both {real}= and its alias {alias}=")
                    kwargs[real] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return wrapper
