"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm, RMSNorm (functional forms and modules).

All of them standardise ``x`` over some axes with one fused op, :class:`Normalize`, and then apply a
per-feature affine map ``y = xhat * weight + bias`` with ordinary broadcasting ops:

    xhat = (x - mean) * inv_std,   inv_std = 1 / sqrt(var + eps)   (biased var, over ``axes``)

Backward (n = number of elements reduced, means over ``axes``):

    dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) - dinv_std * inv_std^2 * xhat / n

written with differentiable ops on the op's own outputs, so double backward works.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..creation import ones, tensor, zeros
from ..dtypes import as_dtype, get_default_dtype
from ..grad_mode import no_grad
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = [
    "Normalize", "normalize_over", "batch_norm", "layer_norm", "group_norm", "rms_norm", "BatchNorm1d",
    "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
]

_make = Tensor._make


class Normalize(Function):
    """(xhat, inv_std) = ((x - mean) * inv_std, 1 / sqrt(var + eps)), statistics over ``axes`` (keepdim).

    Inputs: x of any shape. Outputs: xhat (x.shape) and inv_std (x.shape with ``axes`` set to 1).
    After the call, ``self.mean`` and ``self.var`` (biased) hold the batch statistics as arrays.
    Backward: dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)) - g_inv * inv_std^2 * xhat / n.
    """

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...], eps: float) -> None:
        self.axes, self.eps = tuple(axes), float(eps)

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        axes = self.axes
        self.n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        inv = (1.0 / xp.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        self.mean, self.var = mean, var
        self.xhat, self.inv = xc * inv, inv
        return self.xhat, self.inv

    def backward(self, g: Tensor, g_inv: Tensor) -> Tensor:
        xhat = self.saved_output(self.xhat, 0)
        inv = self.saved_output(self.inv, 1)
        axes = self.axes
        gx = inv * (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True))
        if g_inv.requires_grad or bool(get_array_module(g_inv.array).any(g_inv.array)):
            gx = gx - g_inv * (inv * inv) * xhat * (1.0 / self.n)
        return gx


def normalize_over(x: Tensor, axes: Sequence[int], eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` with biased statistics over ``axes`` (the fused Normalize op)."""
    axes = tuple(a % x.ndim for a in axes)
    return Normalize(axes, eps)(x)[0]


def _check_float(op: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every dim but the channel dim 1.

    Inputs: input (N, C, *), running_mean/running_var (C,) or None, weight/bias (C,) or None.
    Output: (N, C, *). In training the batch statistics are used and, when given, the running
    statistics are updated in place: ``r = (1 - momentum) * r + momentum * stat`` with the unbiased
    batch variance (n / (n - 1)). Otherwise the running statistics normalise the input.
    """
    _check_float("batch_norm", input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    shape = (1, c) + (1,) * (input.ndim - 2)
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)}, expected ({c},) for input "
                             f"of shape {tuple(input.shape)}")
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {tuple(input.shape)}")
        axes = (0,) + tuple(range(2, input.ndim))
        fn = Normalize(axes, eps)
        y = fn(input)[0]
        m = float(momentum) if momentum is not None else 0.1
        with no_grad():
            if running_mean is not None:
                bm = fn.mean.reshape(c).astype(running_mean.dtype, copy=False)
                running_mean.array[...] = running_mean.array * (1.0 - m) + bm * m
                running_mean._bump_version()
            if running_var is not None:
                bv = (fn.var.reshape(c) * (n / (n - 1))).astype(running_var.dtype, copy=False)
                running_var.array[...] = running_var.array * (1.0 - m) + bv * m
                running_var._bump_version()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        xp = input.xp
        rm = running_mean.array.reshape(shape).astype(input.dtype, copy=False)
        inv = (1.0 / xp.sqrt(running_var.array.reshape(shape) + eps)).astype(input.dtype, copy=False)
        y = (input - _make(rm)) * _make(inv)
    return _affine(y, weight, bias, shape)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims of each sample.

    Inputs: input (*, *normalized_shape), weight/bias of shape normalized_shape or None.
    Output: same shape as input.
    """
    _check_float("layer_norm", input)
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != tuple(ns):
        raise ValueError(f"layer_norm: given normalized_shape={list(ns)}, expected input with shape "
                         f"[*, {', '.join(map(str, ns))}], but got input of size {list(input.shape)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    y = Normalize(axes, eps)(input)[0]
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C / num_groups`` channels (and all spatial positions) of each sample.

    Inputs: input (N, C, *), weight/bias (C,) or None. Output: (N, C, *).
    """
    _check_float("group_norm", input)
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input with at least 2 dims (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: num_channels ({c}) must be divisible by num_groups ({num_groups})")
    x = input.reshape(n, num_groups, -1)
    y = Normalize((2,), eps)(x)[0].reshape(input.shape)
    return _affine(y, weight, bias, (1, c) + (1,) * (input.ndim - 2))


def rms_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims
    (eps defaults to the dtype's machine epsilon, as in PyTorch)."""
    _check_float("rms_norm", input)
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != tuple(ns):
        raise ValueError(f"rms_norm: given normalized_shape={list(ns)}, expected input with shape "
                         f"[*, {', '.join(map(str, ns))}], but got input of size {list(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    axes = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


# ======================================================================================================
# Modules


def _shape_tuple(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _factory(device: Any, dtype: Any) -> dict:
    return {"device": device, "dtype": get_default_dtype() if dtype is None else as_dtype(dtype)}


class _AffineNorm(Module):
    """Base of the normalisation layers: the affine weight starts at 1 and the bias at 0."""

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0


class _BatchNorm(_AffineNorm):
    """Shared implementation of BatchNorm1d/2d; subclasses define ``_check_input_dim``."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        fk = _factory(device, dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.register_parameter("weight", Parameter(ones(num_features, **fk)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_features, **fk)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, **fk))
            self.register_buffer("running_var", ones(num_features, **fk))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=np.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        super().reset_parameters()

    def _check_input_dim(self, x: Tensor) -> None:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                          self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs: statistics per channel over N (and L)."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {x.ndim}D input of shape "
                             f"{tuple(x.shape)})")


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs: statistics per channel over N, H and W."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {x.ndim}D input of shape "
                             f"{tuple(x.shape)})")


class LayerNorm(_AffineNorm):
    """Layer norm over the trailing ``normalized_shape`` dims, with elementwise affine (weight 1, bias 0)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        fk = _factory(device, dtype)
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, **fk))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, **fk))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Group norm: channels split into ``num_groups`` groups, each normalised per sample; channel affine."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        fk = _factory(device, dtype)
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", Parameter(ones(num_channels, **fk)) if affine else None)
        self.register_parameter("bias", Parameter(zeros(num_channels, **fk)) if affine and bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square norm over the trailing ``normalized_shape`` dims (weight initialised to 1)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        fk = _factory(device, dtype)
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, **fk))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
