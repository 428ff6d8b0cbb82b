"""Reductions (sum, mean, var, std, max/min, prod, argmax) and the softmax family.

A reduction's backward broadcasts the upstream gradient back over the reduced
axes: reshape ``dy`` to the keepdim shape, then ``broadcast_to(x.shape)``.
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import keepdim_shape, normalize_dim, normalize_dims
from .arithmetic import broadcast_to
from .shape import reshape
from .unary import exp, sqrt, where

_make = Tensor._make

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(gy: Tensor, x_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Tensor:
    """dy of a (non-keepdim) reduction over ``axes``, broadcast back to ``x_shape``."""
    ks = keepdim_shape(x_shape, axes)
    if gy.shape != ks:
        gy = reshape(gy, ks)
    return broadcast_to(gy, x_shape)


class Sum(Function):
    """y = sum of x over ``axes``.  dx = dy broadcast back over those axes."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        return _expand_back(gy, self.inputs[0].shape, self.axes)


class Mean(Function):
    """y = mean of x over ``axes`` (n elements each).  dx = dy / n broadcast back."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        shape = self.inputs[0].shape
        n = int(np.prod(shape)) if self.axes is None else int(np.prod([shape[a] for a in self.axes]))
        return _expand_back(gy, shape, self.axes) * (1.0 / builtins.max(n, 1))


def _check_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}")


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all)."""
    if dtype is not None:
        x = x.to(dtype)
    axes = normalize_dims(dim, x.ndim, "sum")
    if x.dtype.kind in "b":
        x = x.to("int64")
    return Sum(axes, keepdim)(x)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or None for all)."""
    _check_float(x, "mean")
    return Mean(normalize_dims(dim, x.ndim, "mean"), keepdim)(x)


def var(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    correction: int | None = None,
) -> Tensor:
    """Variance over ``dim``: sum((x - mean)^2) / (n - correction); correction=1 (unbiased) by default."""
    _check_float(x, "var")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = normalize_dims(dim, x.ndim, "var")
    n = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
    d = x - mean(x, axes, keepdim=True)
    scale = 1.0 / (n - correction) if n > correction else float("nan")
    return sum(d * d, axes, keepdim=keepdim) * scale


def std(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    correction: int | None = None,
) -> Tensor:
    """Standard deviation: sqrt(var)."""
    return sqrt(var(x, dim, unbiased, keepdim, correction))


class AMax(Function):
    """y = max of x over ``axes``.  dx = dy split evenly among the elements equal to the max."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool, is_min: bool) -> None:
        self.axes, self.keepdims, self.is_min = axes, keepdims, is_min

    def forward(self, x: Any) -> Any:
        y = (x.min if self.is_min else x.max)(axis=self.axes, keepdims=True)
        mask = (x == y).astype(x.dtype)
        self.weight = mask / mask.sum(axis=self.axes, keepdims=True)
        return y if self.keepdims else y.reshape(keepdim_shape_drop(x.shape, self.axes))

    def backward(self, gy: Tensor) -> Tensor:
        return _expand_back(gy, self.inputs[0].shape, self.axes) * _make(self.weight)


def keepdim_shape_drop(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    if axes is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _check_nonempty(x: Tensor, axes: tuple[int, ...] | None, op: str) -> None:
    if x.numel() == 0 and (axes is None or builtins.any(x.shape[a] == 0 for a in axes)):
        raise RuntimeError(f"{op}: cannot reduce over a zero-size dimension (shape {tuple(x.shape)})")


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient evenly."""
    axes = normalize_dims(dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax")
    return AMax(axes, keepdim, False)(x)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``; ties share the gradient evenly."""
    axes = normalize_dims(dim, x.ndim, "amin")
    _check_nonempty(x, axes, "amin")
    return AMax(axes, keepdim, True)(x)


def _max_min(x: Tensor, dim: Any, keepdim: bool, is_min: bool, op: str) -> Any:
    if dim is None:
        return amin(x) if is_min else amax(x)
    if isinstance(dim, Tensor):  # max(a, b) elementwise, as torch.max(input, other)
        from .unary import maximum, minimum

        return minimum(x, dim) if is_min else maximum(x, dim)
    axis = normalize_dim(dim, x.ndim, op)
    _check_nonempty(x, (axis,), op)
    idx = (x.array.argmin if is_min else x.array.argmax)(axis=axis, keepdims=True)
    from .indexing import gather

    values = gather(x, axis, _make(idx)) if x.ndim else x
    if not keepdim and x.ndim:
        values = reshape(values, keepdim_shape_drop(x.shape, (axis,)))
        idx = idx.reshape(keepdim_shape_drop(x.shape, (axis,)))
    return values_indices(values, _make(idx))


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices) along ``dim``, the gradient going
    to the index returned; ``max(x, other)``: elementwise maximum."""
    return _max_min(x, dim, keepdim, False, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """Like :func:`max`, for the smallest value."""
    return _max_min(x, dim, keepdim, True, "min")


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (in the flattened tensor when ``dim`` is None); no gradient."""
    if dim is None:
        return _make(x.xp.asarray(x.array.argmax()))
    return _make(x.array.argmax(axis=normalize_dim(dim, x.ndim, "argmax"), keepdims=keepdim))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        return _make(x.xp.asarray(x.array.argmin()))
    return _make(x.array.argmin(axis=normalize_dim(dim, x.ndim, "argmin"), keepdims=keepdim))


def any(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _make(x.xp.asarray(x.array.any(axis=normalize_dims(dim, x.ndim, "any"), keepdims=keepdim)))


def all(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _make(x.xp.asarray(x.array.all(axis=normalize_dims(dim, x.ndim, "all"), keepdims=keepdim)))


class Prod(Function):
    """y = product of x along ``axis`` (or all elements).  dx_i = dy * prod_{j != i} x_j.

    Where x has no zeros that product is y / x_i; otherwise it is formed exactly
    by replacing each x_i with 1 in turn (an n x n expansion), so zeros are fine.
    """

    def __init__(self, axis: int | None, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        y = x.prod(axis=self.axis, keepdims=self.keepdims)
        self.has_zero = bool((x == 0).any())
        self.out = y
        return y

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        axes = _axes(self.axis)
        g = _expand_back(gy, x.shape, axes)
        if not self.has_zero:
            y = _expand_back(self.saved_output(self.out), x.shape, axes)
            return g * y / x
        return g * _prod_except_self(x, self.axis)


def _axes(axis: int | None) -> tuple[int, ...] | None:
    return None if axis is None else (axis,)


def _prod_except_self(x: Tensor, axis: int | None) -> Tensor:
    """For each element, the product of the others along ``axis`` (differentiable, exact with zeros)."""
    from .shape import unsqueeze

    if axis is None:
        return reshape(_prod_except_self(reshape(x, (-1,)), 0), x.shape)
    n = x.shape[axis]
    eye = x.xp.eye(n, dtype=bool).reshape((n, n) + (1,) * (x.ndim - axis - 1))
    xe = unsqueeze(x, axis)  # (..., 1, n, ...): row i of the n x n block replaces x_i by 1
    big_shape = x.shape[:axis] + (n,) + x.shape[axis:]
    rows = where(_make(x.xp.broadcast_to(eye, big_shape)), 1.0, broadcast_to(xe, big_shape))
    return prod(rows, axis + 1)


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Product over one ``dim``, or over all elements."""
    axis = None if dim is None else normalize_dim(dim, x.ndim, "prod")
    return Prod(axis, keepdim)(x)


class LogSumExp(Function):
    """y = log sum exp(x) over ``axes``, computed as m + log sum exp(x - m).  dx = dy * exp(x - y)."""

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.out = y if self.keepdims else y.reshape(keepdim_shape_drop(x.shape, self.axes))
        return self.out

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        y = _expand_back(self.saved_output(self.out), x.shape, self.axes)
        return _expand_back(gy, x.shape, self.axes) * exp(x - y)


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim`` without overflow."""
    _check_float(x, "logsumexp")
    return LogSumExp(normalize_dims(dim, x.ndim, "logsumexp"), keepdim)(x)


class Softmax(Function):
    """y = exp(x - max) / sum exp(x - max) along ``axis``.  dx = y * (dy - sum(dy * y))."""

    saved_inputs = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return y * (gy - sum(gy * y, self.axis, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``.  dx = dy - exp(y) * sum(dy)."""

    saved_inputs = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        s = x - x.max(axis=self.axis, keepdims=True)
        self.y = s - xp.log(xp.exp(s).sum(axis=self.axis, keepdims=True))
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return gy - exp(y) * sum(gy, self.axis, keepdim=True)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Softmax along ``dim`` (max-shifted, so large logits do not overflow)."""
    _check_float(x, "softmax")
    return Softmax(normalize_dim(dim, x.ndim, "softmax"))(x)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    _check_float(x, "log_softmax")
    return LogSoftmax(normalize_dim(dim, x.ndim, "log_softmax"))(x)
