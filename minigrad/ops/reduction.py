"""Reductions (sum, mean, var, std, max/min, prod, argmax) and the softmax family.

A reduction's backward broadcasts the upstream gradient back over the reduced
axes: reshape ``dy`` to the keepdim shape, then ``broadcast_to(x.shape)``.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import dim_aliases, keepdim_shape, normalize_dim, normalize_dims
from .arithmetic import broadcast_to
from .shape import reshape
from .unary import exp, where

_make = Tensor._make

values_indices = namedtuple("values_indices", ["values", "indices"])


def _expand_back(gy: Tensor, x_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Tensor:
    """dy of a (non-keepdim) reduction over ``axes``, broadcast back to ``x_shape``."""
    ks = keepdim_shape(x_shape, axes)
    if gy.shape != ks:
        gy = reshape(gy, ks)
    return broadcast_to(gy, x_shape)


def _expand_back_array(gy: Any, x_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Any:
    """``_expand_back`` on arrays (for ``backward_arrays``): a read-only broadcast view, no copy."""
    ks = keepdim_shape(x_shape, axes)
    if gy.shape != ks:
        gy = gy.reshape(ks)
    return gy if gy.shape == x_shape else get_array_module(gy).broadcast_to(gy, x_shape)


def _softmax_array(xp: Any, x: Any, axis: Any) -> Any:
    """exp(x - max) / sum exp(x - max) along ``axis`` (Softmax.forward without the node)."""
    if x.size == 0:
        return x.copy()
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Sum(Function):
    """y = sum of x over ``axes``.  dx = dy broadcast back over those axes."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        return _expand_back(gy, self.inputs[0].shape, self.axes)

    def backward_arrays(self, gy: Any) -> Any:
        return _expand_back_array(gy, self.inputs[0].array.shape, self.axes)


class Mean(Function):
    """y = mean of x over ``axes`` (n elements each).  dx = dy / n broadcast back."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        if x.size == 0:  # NumPy would warn; the answer is nan (or empty), as in PyTorch
            s = x.sum(axis=self.axes, keepdims=self.keepdims)
            return get_array_module(x).full(s.shape, np.nan, dtype=x.dtype)
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        shape = self.inputs[0].shape
        n = int(np.prod(shape)) if self.axes is None else int(np.prod([shape[a] for a in self.axes]))
        return _expand_back(gy, shape, self.axes) * (1.0 / builtins.max(n, 1))

    def backward_arrays(self, gy: Any) -> Any:
        shape = self.inputs[0].array.shape
        n = math.prod(shape) if self.axes is None else math.prod([shape[a] for a in self.axes])
        # scaling before broadcasting multiplies the same values (bitwise equal) with fewer flops
        return _expand_back_array(gy * (1.0 / builtins.max(n, 1)), shape, self.axes)


def _check_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}")


@dim_aliases
def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all); an empty reduction gives 0."""
    if dtype is not None:
        x = x.to(dtype)
    axes = normalize_dims(dim, x.ndim, "sum")
    if x.dtype.kind in "b":
        x = x.to("int64")
    return Sum(axes, keepdim)(x)


@dim_aliases
def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or None for all); an empty reduction gives nan, as in PyTorch."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "mean")
    return Mean(normalize_dims(dim, x.ndim, "mean"), keepdim)(x)


def _var_args(dim: Any, unbiased: Any, correction: Any, op: str) -> tuple[Any, float]:
    if isinstance(dim, bool):  # torch.var(x, False): the second positional argument is ``unbiased``
        dim, unbiased = None, dim
    if correction is not None and unbiased is not None:
        raise TypeError(f"{op}: give either correction= or unbiased=, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, float(correction)


@dim_aliases
def var(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over ``dim``: sum((x - mean)^2) / (n - correction); correction=1 (unbiased) by default.

    ``var(x, False)`` reads the bool as ``unbiased``, as in PyTorch; n <= correction gives nan."""
    _check_float(x, "var")
    dim, correction = _var_args(dim, unbiased, correction, "var")
    axes = normalize_dims(dim, x.ndim, "var")
    n = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
    d = x - mean(x, axes, keepdim=True)
    scale = 1.0 / (n - correction) if n > correction else float("nan")
    return sum(d * d, axes, keepdim=keepdim) * scale


class SafeSqrt(Function):
    """y = sqrt(x) for x >= 0.  dx = dy / (2 y) where y > 0 and 0 where y == 0 (PyTorch's std/norm rule:
    a constant input has a zero, not a nan, gradient)."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        zero = _make(self.y == 0)
        return where(zero, 0.0, gy / where(zero, 1.0, y * 2.0))


@dim_aliases
def std(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: sqrt(var); the gradient at zero spread is 0, as in PyTorch."""
    _check_float(x, "std")
    dim, correction = _var_args(dim, unbiased, correction, "std")
    return SafeSqrt()(var(x, dim, keepdim=keepdim, correction=correction))


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


@dim_aliases
def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient evenly."""
    axes = normalize_dims(dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax")
    return AMax(axes, keepdim, False)(x)


@dim_aliases
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


@dim_aliases
def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)``: the largest value; ``max(x, dim)``: (values, indices) along ``dim``, the gradient going
    to the index returned; ``max(x, other)``: elementwise maximum."""
    return _max_min(x, dim, keepdim, False, "max")


@dim_aliases
def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """Like :func:`max`, for the smallest value."""
    return _max_min(x, dim, keepdim, True, "min")


def _arg_reduce(x: Tensor, dim: Any, keepdim: bool, op: str) -> Tensor:
    f = x.array.argmin if op == "argmin" else x.array.argmax
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{op}: cannot reduce an empty tensor (shape {tuple(x.shape)}) without a dim")
        out = x.xp.asarray(f())
        return _make(out.reshape((1,) * x.ndim) if keepdim else out)
    axis = normalize_dim(dim, x.ndim, op)
    _check_nonempty(x, (axis,), op)
    return _make(x.xp.asarray(f(axis=axis, keepdims=keepdim)) if x.ndim else x.xp.asarray(0))


@dim_aliases
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (in the flattened tensor when ``dim`` is None); no gradient."""
    return _arg_reduce(x, dim, keepdim, "argmax")


@dim_aliases
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (in the flattened tensor when ``dim`` is None); no gradient."""
    return _arg_reduce(x, dim, keepdim, "argmin")


@dim_aliases
def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where some element over ``dim`` is nonzero (an int, a tuple, or None for all)."""
    return _make(x.xp.asarray(x.array.any(axis=normalize_dims(dim, x.ndim, "any"), keepdims=keepdim)))


@dim_aliases
def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where every element over ``dim`` is nonzero (an int, a tuple, or None for all)."""
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


@dim_aliases
def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Product over one ``dim``, or over all elements (1 for an empty reduction)."""
    if dtype is not None:
        x = x.to(dtype)
    axis = None if dim is None else normalize_dim(dim, x.ndim, "prod")
    return Prod(axis, keepdim)(x)


class LogSumExp(Function):
    """y = log sum exp(x) over ``axes``, computed as m + log sum exp(x - m) with m the max.
    dx = dy * softmax(x) over ``axes``.

    The gradient is the max-shifted softmax, not exp(x - y): for a row of equal huge-magnitude
    entries (a fully masked row of -1e9) y - x rounds to 0 in float32, exp(x - y) to 1 instead of
    1/n. An empty reduction gives -inf, as in PyTorch.
    """

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        if x.size == 0:
            s = x.sum(axis=self.axes, keepdims=self.keepdims)
            return xp.full(s.shape, -np.inf, dtype=x.dtype)
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else y.reshape(keepdim_shape_drop(x.shape, self.axes))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        axes = tuple(range(x.ndim)) if self.axes is None else self.axes
        return _expand_back(gy, x.shape, self.axes) * Softmax(axes)(x)

    def backward_arrays(self, gy: Any) -> Any:
        x = self.inputs[0].array
        axes = tuple(range(x.ndim)) if self.axes is None else self.axes
        return _expand_back_array(gy, x.shape, self.axes) * _softmax_array(get_array_module(x), x, axes)


@dim_aliases
def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim`` without overflow; -inf over an empty dim."""
    _check_float(x, "logsumexp")
    return LogSumExp(normalize_dims(dim, x.ndim, "logsumexp"), keepdim)(x)


class Softmax(Function):
    """y = exp(x - max) / sum exp(x - max) along ``axis`` (an int, or a tuple of axes).
    dx = y * (dy - sum(dy * y)).  A row of equal entries (even -1e9) gives 1/n; an empty dim, an empty
    result; a row that is all -inf, nan (as in PyTorch)."""

    saved_inputs = ()

    def __init__(self, axis: Any) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        if x.size == 0:
            self.y = x.copy()
            return self.y
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return y * (gy - sum(gy * y, self.axis, keepdim=True))

    def backward_arrays(self, gy: Any) -> Any:
        y = self.saved_array(self.y)
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``.  dx = dy - exp(y) * sum(dy)."""

    saved_inputs = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        if x.size == 0:
            self.y = x.copy()
            return self.y
        s = x - x.max(axis=self.axis, keepdims=True)
        self.y = s - xp.log(xp.exp(s).sum(axis=self.axis, keepdims=True))
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return gy - exp(y) * sum(gy, self.axis, keepdim=True)

    def backward_arrays(self, gy: Any) -> Any:
        y = self.saved_array(self.y)
        return gy - get_array_module(y).exp(y) * gy.sum(axis=self.axis, keepdims=True)


@dim_aliases
def softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """Softmax along ``dim`` (max-shifted, so large logits do not overflow)."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "softmax")
    return Softmax(normalize_dim(dim, x.ndim, "softmax"))(x)


@dim_aliases
def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float(x, "log_softmax")
    return LogSoftmax(normalize_dim(dim, x.ndim, "log_softmax"))(x)
