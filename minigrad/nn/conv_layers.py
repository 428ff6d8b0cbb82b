"""Convolution and pooling layers: Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.

Same constructor arguments, parameter names (``weight``, ``bias``), default initialisation and
``repr`` as PyTorch, so state_dicts can be exchanged. The work is done by ``minigrad.nn.conv``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..creation import empty
from ..dtypes import as_dtype, get_default_dtype
from ..ops.indexing import getitem
from ..tensor import Tensor
from . import init
from .conv import adaptive_avg_pool2d, avg_pool2d, conv2d, conv_transpose2d, max_pool2d
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v: Any, n: int, name: str, cls: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _check_min(cls: str, name: str, values: tuple[int, ...], low: int) -> None:
    """ValueError naming the layer and argument unless every entry of ``values`` is >= ``low``."""
    if any(v < low for v in values):
        what = "positive" if low == 1 else "non-negative"
        shown = values[0] if len(set(values)) == 1 else values
        raise ValueError(f"{cls}: {name} must be {what}, got {shown}")


def _check_channels(cls: str, name: str, v: Any) -> None:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{cls}: {name} must be a positive integer, got {v!r}")


def _pool_args(cls: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1) -> None:
    """Validate a 2-D pool's arguments at construction (PyTorch only finds out in forward)."""
    k = _ntuple(kernel_size, 2, "kernel_size", cls)
    _check_min(cls, "kernel_size", k, 1)
    if stride is not None and not (isinstance(stride, (list, tuple)) and len(stride) == 0):
        _check_min(cls, "stride", _ntuple(stride, 2, "stride", cls), 1)
    d = _ntuple(dilation, 2, "dilation", cls)
    _check_min(cls, "dilation", d, 1)
    pad = _ntuple(padding, 2, "padding", cls)
    _check_min(cls, "padding", pad, 0)
    for pi, ki, di in zip(pad, k, d):
        if pi > (di * (ki - 1) + 1) // 2:
            raise ValueError(f"{cls}: padding {padding} should be at most half of the (effective) kernel "
                             f"size {kernel_size}")


def _mode_index(size: int, before: int, after: int, mode: str, cls: str) -> np.ndarray:
    """Source positions of a dim of length ``size`` padded by (before, after) in ``mode``."""
    i = np.arange(-before, size + after)
    if mode == "reflect":
        if before >= size or after >= size:
            raise ValueError(f"{cls}: reflect padding ({before}, {after}) must be smaller than the input "
                             f"size {size}")
        i = np.abs(i)
        return np.where(i > size - 1, 2 * (size - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, size - 1)
    if before > size or after > size:
        raise ValueError(f"{cls}: circular padding ({before}, {after}) can be at most the input size {size}")
    return i % size


def _pad_mode(x: Tensor, pads: Sequence[tuple[int, int]], mode: str, cls: str) -> Tensor:
    """Pad the last len(pads) dims of x by reading from mirrored/clamped/wrapped positions (differentiable:
    a gather whose backward adds the gradient back onto the positions that were read)."""
    lead = x.ndim - len(pads)
    for k, (before, after) in enumerate(pads):
        if before == 0 and after == 0:
            continue
        idx = _mode_index(x.shape[lead + k], before, after, mode, cls)
        x = getitem(x, (slice(None),) * (lead + k) + (Tensor._make(x.xp.asarray(idx)),))
    return x


class _ConvNd(Module):
    """Shared constructor, initialisation and repr of the convolution layers (n spatial dims)."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", output_padding: Any = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        cls, n = type(self).__name__, self._n
        _check_channels(cls, "in_channels", in_channels)
        _check_channels(cls, "out_channels", out_channels)
        if groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{cls}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{cls}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", cls)
        self.stride = _ntuple(stride, n, "stride", cls)
        self.dilation = _ntuple(dilation, n, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{cls}: invalid padding string {padding!r}, should be one of 'valid', "
                                 "'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{cls}: padding='same' is not supported for strided convolutions")
            self.padding: Any = padding
        else:
            self.padding = _ntuple(padding, n, "padding", cls)
        self.output_padding = _ntuple(output_padding, n, "output_padding", cls)
        _check_min(cls, "kernel_size", self.kernel_size, 1)
        _check_min(cls, "stride", self.stride, 1)
        _check_min(cls, "dilation", self.dilation, 1)
        if not isinstance(self.padding, str):
            _check_min(cls, "padding", self.padding, 0)
        _check_min(cls, "output_padding", self.output_padding, 0)
        for op, st, dl in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(st, dl):
                raise ValueError(f"{cls}: output_padding {self.output_padding} must be smaller than either "
                                 f"stride {self.stride} or dilation {self.dilation}")
        self.padding_mode = padding_mode
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{cls}: only 'zeros' padding mode is supported")
        fk = {"device": device, "dtype": get_default_dtype() if dtype is None else as_dtype(dtype)}
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(*shape, **fk))
        if bias:
            self.bias = Parameter(empty(out_channels, **fk))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * int(np.prod(self.kernel_size))
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _padding_pairs(self) -> list[tuple[int, int]]:
        """(before, after) per spatial dim, for padding modes other than 'zeros'."""
        if self.padding == "valid":
            return [(0, 0)] * self._n
        if self.padding == "same":
            out = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out
        return [(p, p) for p in self.padding]

    def _conv_padding(self) -> Any:
        return 0 if self.padding_mode != "zeros" else self.padding

    def _prepare(self, x: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return x
        return _pad_mode(x, self._padding_pairs(), self.padding_mode, type(self).__name__)

    def extra_repr(self) -> str:
        n = self._n
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str):
            s += f", padding={self.padding}"
        elif self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: (N, C_in, H, W) -> (N, C_out, OH, OW).

    weight (C_out, C_in/groups, kH, kW), bias (C_out,). ``padding`` may be an int, a pair, "valid" or
    "same"; ``padding_mode`` 'zeros' (default), 'reflect', 'replicate' or 'circular'.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        x = self._prepare(input)
        return conv2d(x, self.weight, self.bias, self.stride, self._conv_padding(), self.dilation,
                      self.groups)


class Conv1d(_ConvNd):
    """1-D convolution layer: (N, C_in, L) -> (N, C_out, OL); weight (C_out, C_in/groups, k), bias
    (C_out,)."""

    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        from .conv import conv1d

        x = self._prepare(input)
        return conv1d(x, self.weight, self.bias, self.stride, self._conv_padding(), self.dilation,
                      self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer: (N, C_in, H, W) -> (N, C_out, OH, OW),
    OH = (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1.

    weight (C_in, C_out/groups, kH, kW), bias (C_out,). ``forward(x, output_size)`` picks the
    output_padding that gives the requested size, as PyTorch.
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        out = []
        for d in range(2):
            lo = ((x.shape[-2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                  + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            hi = lo + self.stride[d] - 1
            if not lo <= size[d] <= hi:
                raise ValueError(f"ConvTranspose2d: requested output size {size} is not between {lo} and "
                                 f"{hi} in dim {d} (input shape {tuple(x.shape)})")
            out.append(size[d] - lo)
        return tuple(out)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        op = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                self.dilation)


class MaxPool2d(Module):
    """2-D max pooling: (N, C, H, W) -> (N, C, OH, OW) (and the argmax indices with return_indices)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        _pool_args("MaxPool2d", kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """2-D average pooling: (N, C, H, W) -> (N, C, OH, OW)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        _pool_args("AvgPool2d", kernel_size, stride, padding)
        if divisor_override is not None and divisor_override == 0:
            raise ValueError("AvgPool2d: divisor_override must be non-zero")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size: (N, C, H, W) -> (N, C, *output_size)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        if len(sizes) != 2 or any(s is not None and (not isinstance(s, (int, np.integer)) or s < 1)
                                  for s in sizes):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int or a pair of positive "
                             f"ints (or None), got {output_size!r}")
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
