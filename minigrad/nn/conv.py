"""Convolution and pooling: conv1d, conv2d, conv_transpose2d, max/avg/adaptive-average pooling.

The convolution is im2col + one GEMM. For an input x of shape (N, C, H, W) and a weight w of shape
(F, C/G, kH, kW) (G groups) the padded input is unfolded, with stride tricks and one copy, into

    cols[(c, i, j), (n, oh, ow)] = xpad[n, c, oh*sH + i*dH, ow*sW + j*dW]     shape (C*kH*kW, N*OH*OW)

and y = w.reshape(G, F/G, C/G*kH*kW) @ cols.reshape(G, C/G*kH*kW, N*OH*OW) (one GEMM, batched over
the groups). The three derivatives of the bilinear map (x, w) -> y are again such maps:

    grad input   dx = col2im(w^T @ dy)      (a transposed convolution; col2im adds the kH*kW
                                             strided slices of the columns back into the image)
    grad weight  dw = dy @ cols^T
    grad output  dy' = conv2d(x', w)         (the second derivatives are these three ops again)

so ``Conv2dForward``, ``Conv2dGradInput`` and ``Conv2dGradWeight`` are Functions whose backward passes
are written with each other, and derivatives of any order work (WGAN-GP's gradient penalty).
``conv_transpose2d`` is ``Conv2dGradInput`` applied to the input.

On NumPy (``_conv_cpu``) the batch is processed in chunks of images small enough for a core's cache,
the chunks spread over threads, each with a one-thread GEMM; a first-order backward computes dx, dw and
db in one pass. On CuPy (``_conv_cuda``) im2col and col2im are CUDA kernels over the whole batch.
Pooling shares the CPU helpers of ``_cpu`` (reused workspaces, helper threads).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import _conv_cpu, _cpu
from ._cpu import clear_workspaces

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
    "adaptive_avg_pool2d",
    "Conv2dForward", "Conv2dGradInput", "Conv2dGradWeight", "MaxPool2dForward", "MaxPool2dGradInput",
    "AvgPool2dForward", "AvgPool2dGradInput", "clear_workspaces",
]

_make = Tensor._make


def _as_strided(xp: Any, a: Any, shape: tuple, strides: tuple) -> Any:
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


# =================================================================================================
# Argument handling
class ConvGeometry(NamedTuple):
    """Hyper-parameters of a 2-D convolution: stride (sH, sW), padding (top, bottom, left, right),
    dilation (dH, dW) and groups."""

    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    groups: int


def _pair(v: Any, name: str, op: str, minimum: int = 1) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        t = (int(v), int(v))
    else:
        try:
            t = tuple(int(a) for a in v)
        except TypeError:
            raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}") from None
        if len(t) == 1:
            t = (t[0], t[0])
        if len(t) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if min(t) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return t


def _out_size(size: int, k: int, s: int, d: int, pad: int) -> int:
    """Output length of a convolution along one dim (``pad`` = total padding of that dim)."""
    return (size + pad - d * (k - 1) - 1) // s + 1


def _as_tensor(x: Any, op: str, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


# =================================================================================================
# Array kernels: the three GEMM-based maps, on NumPy (_conv_cpu) or CuPy (im2col/col2im kernels)
def _check_dtypes(op: str, *arrays: Any) -> None:
    d0 = arrays[0].dtype
    for a in arrays[1:]:
        if a is not None and a.dtype != d0:
            shapes = ", ".join(f"{tuple(b.shape)} {b.dtype}" for b in arrays if b is not None)
            raise TypeError(f"{op}: all arguments must have the same dtype, got {shapes}")
    if d0.kind != "f":
        raise TypeError(f"{op}: expected floating-point tensors, got dtype {d0}")


def conv2d_forward_array(x: Any, w: Any, b: Any, g: ConvGeometry, oh: int, ow: int) -> Any:
    """y (N, F, OH, OW) = conv2d(x, w) + b on raw arrays (a fresh array)."""
    xp = get_array_module(x)
    if xp is np:
        return _conv_cpu.forward(x, w, b, g, oh, ow)
    from ._conv_cuda import im2col

    n = x.shape[0]
    f, cg, kh, kw = w.shape
    groups = g.groups
    if n * f * oh * ow == 0:
        return xp.empty((n, f, oh, ow), dtype=x.dtype)
    ln, kg = n * oh * ow, cg * kh * kw
    cols = im2col(x, g, kh, kw, oh, ow)
    y = xp.matmul(w.reshape(groups, f // groups, kg), cols[:groups * kg].reshape(groups, kg, ln))
    out = y.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(out) if b is None else out + b.reshape(1, f, 1, 1)


def conv2d_backward_arrays(x: Any, x_shape: tuple, w: Any, w_shape: tuple, gy: Any, g: ConvGeometry,
                           need_x: bool, need_w: bool, need_b: bool) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of y = conv2d(x, w) + b for the output gradient gy (N, F, OH, OW), each ``None`` unless
    asked for: dx (``x_shape``) = col2im(w^T @ dy) needs ``w``; dw (``w_shape``) = dy @ cols(x)^T needs
    ``x``; db = dy summed over (N, OH, OW). On NumPy all three come from one pass over the batch."""
    xp = get_array_module(gy)
    if xp is np:
        return _conv_cpu.backward(x, x_shape, w, w_shape, gy, g, need_x, need_w, need_b)
    from ._conv_cuda import col2im, im2col

    n, f, oh, ow = gy.shape
    _, cg, kh, kw = w_shape
    groups = g.groups
    kg, fg, ln = cg * kh * kw, f // groups, n * oh * ow
    if ln == 0 or f == 0 or kg == 0:
        return (xp.zeros(x_shape, gy.dtype) if need_x else None,
                xp.zeros(w_shape, gy.dtype) if need_w else None, gy.sum((0, 2, 3)) if need_b else None)
    gx = gw = gb = None
    grid = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(groups, fg, ln)
    if need_x:
        w3t = w.reshape(groups, fg, kg).transpose(0, 2, 1)
        gx = col2im(xp.matmul(w3t, grid).reshape(groups * kg, ln), x_shape, g, kh, kw, oh, ow)
    if need_w:
        cols = im2col(x, g, kh, kw, oh, ow)[:groups * kg].reshape(groups, kg, ln)
        gw = xp.matmul(grid, cols.transpose(0, 2, 1)).reshape(w_shape)
    if need_b:
        gb = grid.reshape(f, ln).sum(axis=1)
    return gx, gw, gb


def conv2d_grad_input_array(gy: Any, w: Any, g: ConvGeometry, x_hw: tuple[int, int]) -> Any:
    """dx (N, C, H, W) = col2im(w^T @ dy): the input gradient of conv2d (a transposed convolution)."""
    x_shape = (gy.shape[0], w.shape[1] * g.groups) + tuple(x_hw)
    return conv2d_backward_arrays(None, x_shape, w, w.shape, gy, g, True, False, False)[0]


def conv2d_grad_weight_array(x: Any, gy: Any, g: ConvGeometry, k_hw: tuple[int, int],
                             with_bias: bool = False) -> Any:
    """dw (F, C/G, kH, kW) = dy @ cols^T: the weight gradient of conv2d; with ``with_bias`` (dw, db),
    db (F,) = dy summed over (N, OH, OW)."""
    w_shape = (gy.shape[1], x.shape[1] // g.groups) + tuple(k_hw)
    _, gw, gb = conv2d_backward_arrays(x, x.shape, None, w_shape, gy, g, False, True, with_bias)
    return (gw, gb) if with_bias else gw


# =================================================================================================
# The three convolution Functions
class Conv2dForward(Function):
    """y = conv2d(x, w) + b.

    Inputs: x (N, C, H, W), w (F, C/G, kH, kW), optionally b (F,). Output: (N, F, OH, OW) with
    OH = (H + pad_top + pad_bottom - dH*(kH-1) - 1) // sH + 1 (or the given ``out_hw``, which may be
    smaller: used by the backward of a transposed convolution with output_padding).
    Backward: dx = Conv2dGradInput(dy, w), (dw, db) = Conv2dGradWeight(x, dy) (db = dy summed over
    (N, OH, OW)).
    """

    saved_inputs = ((1,), (0,), ())

    def __init__(self, geometry: ConvGeometry, out_hw: tuple[int, int]) -> None:
        self.geometry, self.out_hw = geometry, tuple(out_hw)

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        _check_dtypes("conv2d", x, w, b)
        return conv2d_forward_array(x, w, b, self.geometry, *self.out_hw)

    def backward(self, gy: Tensor) -> tuple:
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        g = self.geometry
        with_bias = len(self.inputs) == 3 and need[2]
        if not is_grad_enabled():  # first-order backward: all three gradients from one pass
            gx, gw, gb = conv2d_backward_arrays(x.array, x.shape, w.array, w.shape, gy.array, g,
                                                need[0], need[1], with_bias)
            grads = tuple(None if a is None else _make(a) for a in (gx, gw, gb))
            return grads[:len(self.inputs)]
        gw = gb = None
        if need[1]:
            gw = Conv2dGradWeight(g, w.shape[2:], with_bias)(x, gy)
            if with_bias:
                gw, gb = gw
        elif with_bias:
            gb = gy.sum((0, 2, 3))
        gx = Conv2dGradInput(g, x.shape[2:])(gy, w) if need[0] else None
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


class Conv2dGradInput(Function):
    """dx = col2im(w^T @ dy): the input gradient of conv2d, i.e. the transposed convolution of dy.

    Inputs: dy (N, F, OH, OW), w (F, C/G, kH, kW). Output: (N, C, H, W) with (H, W) = ``x_hw``.
    The map is bilinear and <conv2d(x, w), dy> = <x, dx>, so its backward for an incoming gradient
    g (N, C, H, W) is d(dy) = conv2d(g, w) and dw = Conv2dGradWeight(g, dy).
    """

    saved_inputs = ((1,), (0,))

    def __init__(self, geometry: ConvGeometry, x_hw: tuple[int, int]) -> None:
        self.geometry, self.x_hw = geometry, tuple(x_hw)

    def forward(self, gy: Any, w: Any) -> Any:
        _check_dtypes("conv2d (input gradient)", gy, w)
        return conv2d_grad_input_array(gy, w, self.geometry, self.x_hw)

    def backward(self, g: Tensor) -> tuple:
        gy, w = self.inputs
        need = self.needs_input_grad
        d_gy = Conv2dForward(self.geometry, gy.shape[2:])(g, w) if need[0] else None
        d_w = Conv2dGradWeight(self.geometry, w.shape[2:])(g, gy) if need[1] else None
        return d_gy, d_w


class Conv2dGradWeight(Function):
    """dw = dy @ cols(x)^T: the weight gradient of conv2d (and, with ``with_bias``, db = sum of dy).

    Inputs: x (N, C, H, W), dy (N, F, OH, OW). Output: dw (F, C/G, kH, kW) with (kH, kW) = ``k_hw``,
    or (dw, db (F,)). Bilinear with <conv2d(x, w) + b, dy> = <w, dw> + <b, db>, so for incoming
    gradients g (like dw) and gb (like db): dx = Conv2dGradInput(dy, g) and d(dy) = conv2d(x, g) + gb.
    """

    saved_inputs = ((1,), (0,))

    def __init__(self, geometry: ConvGeometry, k_hw: tuple[int, int], with_bias: bool = False) -> None:
        self.geometry, self.k_hw, self.with_bias = geometry, tuple(k_hw), with_bias

    def forward(self, x: Any, gy: Any) -> Any:
        _check_dtypes("conv2d (weight gradient)", x, gy)
        return conv2d_grad_weight_array(x, gy, self.geometry, self.k_hw, self.with_bias)

    def backward(self, g: Tensor, gb: Tensor | None = None) -> tuple:
        x, gy = self.inputs
        need = self.needs_input_grad
        d_gy = None
        if need[1]:
            d_gy = Conv2dForward(self.geometry, gy.shape[2:])(*((x, g) if gb is None else (x, g, gb)))
        d_x = Conv2dGradInput(self.geometry, x.shape[2:])(gy, g) if need[0] else None
        return d_x, d_gy

# =================================================================================================
# Functional API
def _same_padding(k: int, d: int) -> tuple[int, int]:
    total = d * (k - 1)
    return total // 2, total - total // 2


def _conv_padding(padding: Any, k_hw: tuple[int, int], dil: tuple[int, int], stride: tuple[int, int],
                  op: str) -> tuple[int, int, int, int]:
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
            return _same_padding(k_hw[0], dil[0]) + _same_padding(k_hw[1], dil[1])
        raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    ph, pw = _pair(padding, "padding", op, minimum=0)
    return (ph, ph, pw, pw)


def _check_bias(op: str, bias: Tensor | None, f: int, w: Tensor) -> None:
    if bias is not None and tuple(bias.shape) != (f,):
        raise ValueError(f"{op}: expected bias of shape ({f},) for weight of shape {tuple(w.shape)}, "
                         f"got {tuple(bias.shape)}")


def _conv2d(x: Tensor, w: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any, groups: int,
            op: str, shapes: tuple | None = None) -> Tensor:
    """conv2d on a batched 4-D input; ``shapes`` = the user's (input, weight) shapes for messages."""
    xs, ws = shapes or (tuple(x.shape), tuple(w.shape))
    stride = _pair(stride, "stride", op)
    dil = _pair(dilation, "dilation", op)
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    if f % groups:
        raise ValueError(f"{op}: groups={groups} must divide out_channels={f} (weight shape {ws})")
    if c % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={c} (input shape {xs})")
    if c != cg * groups:
        raise ValueError(f"{op}: input of shape {xs} has {c} channels, but weight of shape {ws} with "
                         f"groups={groups} expects {cg * groups} input channels")
    _check_bias(op, bias, f, w)
    pad = _conv_padding(padding, (kh, kw), dil, stride, op)
    hp, wp = h + pad[0] + pad[1], wd + pad[2] + pad[3]
    ekh, ekw = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    if ekh > hp or ekw > wp:
        raise ValueError(f"{op}: kernel size ({ekh}, {ekw}) (dilated) can't be greater than the padded input "
                         f"size ({hp}, {wp}) (input shape {xs}, weight shape {ws}, padding {padding!r})")
    g = ConvGeometry(stride, pad, dil, groups)
    out_hw = (_out_size(h, kh, stride[0], dil[0], pad[0] + pad[1]),
              _out_size(wd, kw, stride[1], dil[1], pad[2] + pad[3]))
    args = (x, w) if bias is None else (x, w, bias)
    return Conv2dForward(g, out_hw)(*args)


def _conv_operands(op: str, input: Any, weight: Any, weight_layout: str,
                   spatial: tuple[str, ...] = ("H", "W")) -> tuple[Tensor, Tensor]:
    """input and weight as Tensors, for a convolution over the ``spatial`` dims: a weight with one dim per
    name in ``weight_layout``, an input (C, *spatial) or (N, C, *spatial)."""
    x, w = _as_tensor(input, op, "input"), _as_tensor(weight, op, "weight")
    if w.ndim != 2 + len(spatial):
        raise ValueError(f"{op}: expected weight of shape {weight_layout}, got shape {tuple(w.shape)}")
    if x.ndim not in (1 + len(spatial), 2 + len(spatial)):
        dims = ", ".join(spatial)
        raise ValueError(f"{op}: expected a {1 + len(spatial)}-D (C, {dims}) or "
                         f"{2 + len(spatial)}-D (N, C, {dims}) input, got shape {tuple(x.shape)}")
    return x, w


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch).

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        weight: (F, C/groups, kH, kW).
        bias: (F,) or None.
        stride, dilation: int or (h, w).
        padding: int, (h, w), "valid" (no padding) or "same" (output size = input size, stride 1; an
            odd total padding puts the extra row/column at the bottom/right, as PyTorch).
        groups: input and output channels are split into this many groups convolved separately.

    Returns (N, F, OH, OW), OH = (H + 2*pH - dH*(kH-1) - 1) // sH + 1.
    Backward: dx = transposed convolution of dy with w (col2im of w^T dy), dw = dy @ im2col(x)^T,
    db = dy summed over (N, OH, OW).
    """
    op = "conv2d"
    x, w = _conv_operands(op, input, weight, "(out_channels, in_channels/groups, kH, kW)")
    shapes = (tuple(x.shape), tuple(w.shape))
    if x.ndim == 3:
        return _conv2d(x.unsqueeze(0), w, bias, stride, padding, dilation, groups, op, shapes).squeeze(0)
    return _conv2d(x, w, bias, stride, padding, dilation, groups, op, shapes)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution: input (N, C, L) or (C, L), weight (F, C/groups, k), bias (F,) or None.

    Returns (N, F, OL) with OL = (L + 2*p - d*(k-1) - 1) // s + 1; padding may be "valid"/"same".
    Computed as conv2d on a unit-height image, so the gradients are conv2d's.
    """
    op = "conv1d"
    x, w = _conv_operands(op, input, weight, "(out_channels, in_channels/groups, k)", ("L",))
    shapes = (tuple(x.shape), tuple(w.shape))
    s = _single(stride, "stride", op)
    d = _single(dilation, "dilation", op)
    p = padding if isinstance(padding, str) else _single(padding, "padding", op, minimum=0)
    pad = p if isinstance(p, str) else (0, p)
    x4 = x.unsqueeze(-2)
    if x.ndim == 2:
        x4 = x4.unsqueeze(0)
    y = _conv2d(x4, w.unsqueeze(2), bias, (1, s), pad, (1, d), groups, op, shapes)
    return y.squeeze(2) if x.ndim == 3 else y.squeeze(2).squeeze(0)


def _single(v: Any, name: str, op: str, minimum: int = 1) -> int:
    if not isinstance(v, (int, np.integer)):
        v = tuple(v)
        if len(v) != 1:
            raise ValueError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    v = int(v)
    if v < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v}")
    return v


def _conv_transpose2d(x: Tensor, w: Tensor, bias: Tensor | None, stride: Any, padding: Any,
                      output_padding: Any, groups: int, dilation: Any, op: str, shapes: tuple) -> Tensor:
    xs, ws = shapes
    stride = _pair(stride, "stride", op)
    dil = _pair(dilation, "dilation", op)
    ph, pw = _pair(padding, "padding", op, minimum=0)
    oph, opw = _pair(output_padding, "output_padding", op, minimum=0)
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    n, c, h, wd = x.shape
    cin, fg, kh, kw = w.shape
    if cin % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={cin} (weight shape {ws})")
    if c != cin:
        raise ValueError(f"{op}: input of shape {xs} has {c} channels, but weight of shape {ws} expects "
                         f"{cin} input channels (weight is (in_channels, out_channels/groups, kH, kW))")
    for o, s, d, name in ((oph, stride[0], dil[0], "height"), (opw, stride[1], dil[1], "width")):
        if o >= s and o >= d:
            raise ValueError(f"{op}: output_padding ({oph}, {opw}) must be smaller than either stride "
                             f"{stride} or dilation {dil} ({name})")
    f = fg * groups
    _check_bias(op, bias, f, w)
    out_h = (h - 1) * stride[0] - 2 * ph + dil[0] * (kh - 1) + oph + 1
    out_w = (wd - 1) * stride[1] - 2 * pw + dil[1] * (kw - 1) + opw + 1
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"{op}: output size ({out_h}, {out_w}) is too small (input shape {xs}, weight "
                         f"shape {ws}, stride {stride}, padding {(ph, pw)}, dilation {dil})")
    g = ConvGeometry(stride, (ph, ph, pw, pw), dil, groups)
    y = Conv2dGradInput(g, (out_h, out_w))(x, w)
    if bias is not None:
        y = y + bias.reshape(1, f, 1, 1)
    return y


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_in, C_out/groups, kH, kW).
        bias: (C_out,) or None.
        padding: removed from both sides of the output; output_padding: added to one side.
    Returns (N, C_out, OH, OW) with OH = (H-1)*sH - 2*pH + dH*(kH-1) + output_padding_h + 1.
    Backward: dx = conv2d(dy, w) (same stride/padding/dilation/groups), dw = conv2d weight gradient of
    (dy, x), db = dy summed over (N, OH, OW).
    """
    op = "conv_transpose2d"
    x, w = _conv_operands(op, input, weight, "(in_channels, out_channels/groups, kH, kW)")
    shapes = (tuple(x.shape), tuple(w.shape))
    if x.ndim == 3:
        return _conv_transpose2d(x.unsqueeze(0), w, bias, stride, padding, output_padding, groups, dilation,
                                 op, shapes).squeeze(0)
    return _conv_transpose2d(x, w, bias, stride, padding, output_padding, groups, dilation, op, shapes)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution: input (N, C_in, L) or (C_in, L), weight (C_in, C_out/groups, k).

    Returns (N, C_out, (L-1)*s - 2*p + d*(k-1) + output_padding + 1); computed as conv_transpose2d on a
    unit-height image."""
    op = "conv_transpose1d"
    x, w = _conv_operands(op, input, weight, "(in_channels, out_channels/groups, k)", ("L",))
    shapes = (tuple(x.shape), tuple(w.shape))
    s, d = _single(stride, "stride", op), _single(dilation, "dilation", op)
    p = _single(padding, "padding", op, minimum=0)
    o = _single(output_padding, "output_padding", op, minimum=0)
    x4 = x.unsqueeze(-2)
    if x.ndim == 2:
        x4 = x4.unsqueeze(0)
    y = _conv_transpose2d(x4, w.unsqueeze(2), bias, (1, s), (0, p), (0, o), groups, (1, d), op, shapes)
    return y.squeeze(2) if x.ndim == 3 else y.squeeze(2).squeeze(0)


# =================================================================================================
# Pooling
def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length (ceil_mode: the last window must start inside the input or the
    left padding)."""
    o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p:
        o -= 1
    return o


class _PoolGeometry(NamedTuple):
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]


def _pool_windows(x: Any, pg: _PoolGeometry, fill: float, tag: str) -> Any:
    """The view (N, C, OH, OW, kH, kW) of the windows of x padded with ``fill`` (padding and the
    ceil_mode overhang); the padded copy is a workspace on NumPy."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pg
    hp = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
    wp = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
    if (hp, wp) == (h, w):
        src = x
    else:
        size = n * c * hp * wp
        buf = xp.full(size, fill, x.dtype) if xp is not np else _cpu.workspace(
            (tag, n, c, h, w, ph, pw, hp, wp), size, x.dtype, fill=fill).a
        src = buf.reshape(n, c, hp, wp)
        src[:, :, ph:ph + h, pw:pw + w] = x
    s_n, s_c, s_h, s_w = src.strides
    return _as_strided(xp, src, (n, c, oh, ow, kh, kw), (s_n, s_c, sh * s_h, sw * s_w, dh * s_h, dw * s_w))


def _max_pool_forward(x: Any, pg: _PoolGeometry, need_indices: bool) -> tuple[Any, Any]:
    """(y, indices): the window maxima and the flat index (into H*W) of the first maximum of each window
    (``None`` without ``need_indices``). A NaN is the maximum of its window, as in PyTorch.

    A loop over the kH*kW window offsets (running maximum, and the offset where it last grew); the
    batch is split over the helper threads."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pg
    win = _pool_windows(x, pg, -np.inf, "maxpool")
    best = xp.empty((n, c, oh, ow), x.dtype)
    idx = xp.empty((n, c, oh, ow), np.int64) if need_indices else None
    nan_aware = need_indices and x.size > 0 and bool(xp.isnan(x.max()))
    padded = bool(ph or pw or (oh - 1) * sh + dh * (kh - 1) >= h or (ow - 1) * sw + dw * (kw - 1) >= w)
    rows = (xp.arange(oh) * sh - ph).reshape(oh, 1)
    cols = (xp.arange(ow) * sw - pw).reshape(1, ow)
    # winner's offset from its window's origin in the image, by kernel position k = i*kW + j
    offsets = xp.asarray([(k // kw) * dh * w + (k % kw) * dw for k in range(kh * kw)], dtype=np.int64)

    def run(lo: int, hi: int) -> None:
        wv, b = win[lo:hi], best[lo:hi]
        b[...] = wv[..., 0, 0]
        if not need_indices:
            for k in range(1, kh * kw):
                xp.maximum(b, wv[..., k // kw, k % kw], out=b)  # propagates NaN
            return
        # the winner's kernel position, in the narrowest integer type (fewer bytes per pass)
        arg = xp.zeros(b.shape, np.int8 if kh * kw < 2**7 else np.int16 if kh * kw < 2**15 else np.int32)
        for k in range(1, kh * kw):
            v = wv[..., k // kw, k % kw]
            m = v > b
            if nan_aware:
                m |= v != v  # a NaN wins (the last one, as in PyTorch's scan)
            xp.maximum(b, v, out=b)  # (NaN propagates)
            # arg = where(m, k, arg), as arithmetic: NumPy's masked copies are several times slower
            d = k - arg
            d *= m
            arg += d
        if not padded:
            out = idx[lo:hi]
            xp.take(offsets, arg, out=out, mode="clip")  # arg is always in range; 'clip' skips a
            # bounds-checked copy that makes the default mode ~10x slower
            out += rows * w + cols
            return
        ki, kj = xp.divmod(arg.astype(np.int64), kw)
        ih = ki * dh + rows
        iw = kj * dw + cols
        # a window whose real elements are all -inf keeps a padding position: PyTorch reports the
        # first real position of the window instead
        bad = (ih < 0) | (ih >= h) | (iw < 0) | (iw >= w)
        if bool(bad.any()):
            first_h = rows + dh * xp.maximum(0, -(rows // dh))  # smallest rows + i*dh >= 0
            first_w = cols + dw * xp.maximum(0, -(cols // dw))
            ih = xp.where(bad, xp.broadcast_to(first_h, ih.shape), ih)
            iw = xp.where(bad, xp.broadcast_to(first_w, iw.shape), iw)
        idx[lo:hi] = ih * w + iw

    if xp is np:
        _cpu.parallel(run, n, x.nbytes)
    else:
        run(0, n)
    return best, idx


class MaxPool2dForward(Function):
    """y[n, c, oh, ow] = max of the window of x (padding is -inf).

    Input (N, C, H, W); output (N, C, OH, OW). ``self.indices`` (N, C, OH, OW) int64 holds the flat
    position (into H*W) of the first maximum of each window. Backward: the gradient goes to that
    position (MaxPool2dGradInput).
    """

    saved_inputs = ()

    def __init__(self, pg: _PoolGeometry, need_indices: bool = True) -> None:
        self.pg, self.need_indices = pg, need_indices

    def forward(self, x: Any) -> Any:
        if x.dtype.kind != "f":
            raise TypeError(f"max_pool2d: expected a floating-point input, got dtype {x.dtype}")
        y, self.indices = _max_pool_forward(x, self.pg, self.need_indices)
        return y

    def backward(self, gy: Tensor) -> Tensor:
        (kh, kw), (sh, sw), _, (dh, dw), _ = self.pg
        unique = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1  # windows do not overlap
        return MaxPool2dGradInput(self.indices, self.inputs[0].shape, unique)(gy)


class MaxPool2dGradInput(Function):
    """dx = zeros (N, C, H, W) with dy[n, c, oh, ow] added at position indices[n, c, oh, ow] of plane (n, c).

    The backward of max_pool2d (a scatter). Linear in dy; its backward is the gather g[indices].
    """

    saved_inputs = ()

    def __init__(self, indices: Any, x_shape: tuple, unique: bool) -> None:
        self.indices, self.x_shape, self.unique = indices, tuple(x_shape), unique

    def forward(self, gy: Any) -> Any:
        from ..ops.indexing import _scatter_add_array

        xp = get_array_module(gy)
        n, c, h, w = self.x_shape
        gx = xp.empty(self.x_shape, gy.dtype)
        if gx.size == 0 or gy.size == 0:
            gx[...] = 0
            return gx
        plane = (xp.arange(c, dtype=np.int64) * (h * w)).reshape(1, c, 1)

        def run(lo: int, hi: int) -> None:  # images lo..hi-1: their planes only
            g = gx[lo:hi].reshape(-1)
            g[...] = 0
            flat = self.indices[lo:hi].reshape(hi - lo, c, -1) + plane
            flat += (xp.arange(hi - lo, dtype=np.int64) * (c * h * w)).reshape(-1, 1, 1)
            if self.unique:
                g[flat.reshape(-1)] = gy[lo:hi].reshape(-1)
            else:
                _scatter_add_array(xp, g, flat.reshape(-1), gy[lo:hi].reshape(-1))

        if xp is np:
            _cpu.parallel(run, n, gx.nbytes)
        else:
            run(0, n)
        return gx

    def backward(self, g: Tensor) -> Tensor:
        from ..ops.indexing import gather

        n, c, h, w = self.x_shape
        idx = _make(self.indices.reshape(n, c, -1))
        return gather(g.reshape(n, c, h * w), 2, idx).reshape(self.indices.shape)


def _pool_args(op: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> tuple:
    k = _pair(kernel_size, "kernel_size", op)
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0)
    s = k if no_stride else _pair(stride, "stride", op)
    p = _pair(padding, "padding", op, minimum=0)
    d = _pair(dilation, "dilation", op)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got padding={p} "
                         f"and kernel_size={k}")
    return k, s, p, d


def _pool_input(op: str, x: Any) -> Tensor:
    x = _as_tensor(x, op, "input")
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                         f"got shape {tuple(x.shape)}")
    return x


def _pool_geometry(op: str, x_shape: tuple, k: tuple, s: tuple, p: tuple, d: tuple,
                   ceil_mode: bool) -> _PoolGeometry:
    h, w = x_shape[-2:]
    oh = _pool_out(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = _pool_out(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: output size ({oh}, {ow}) is too small for input of shape {tuple(x_shape)} "
                         f"(kernel_size {k}, stride {s}, padding {p}, dilation {d})")
    return _PoolGeometry(k, s, p, d, (oh, ow))


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-D max pooling.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default: kernel_size), padding (implicit -inf, at most half the kernel),
        dilation: int or (h, w).
        ceil_mode: round the output size up (windows may run past the bottom/right edge).
        return_indices: also return the int64 flat index (into H*W) of each window's maximum.
    Returns (N, C, OH, OW) [and the indices]; OH = (H + 2p - d*(k-1) - 1) // s + 1 (floor mode).
    Backward: each window's gradient goes to its (first) maximum; overlapping windows accumulate.
    """
    op = "max_pool2d"
    x = _pool_input(op, input)
    k, s, p, d = _pool_args(op, kernel_size, stride, padding, dilation)
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    need = return_indices or (is_grad_enabled() and x.requires_grad)
    fn = MaxPool2dForward(_pool_geometry(op, input.shape, k, s, p, d, ceil_mode), need)
    y = fn(x)
    idx = fn.indices
    if unbatched:
        y, idx = y.squeeze(0), idx[0]
    return (y, _make(idx)) if return_indices else y


def _avg_divisor(xp: Any, pg: _PoolGeometry, h: int, w: int, ceil_mode: bool, count_include_pad: bool,
                 divisor_override: int | None, dtype: Any) -> Any:
    """1 / (window size) per output position, (OH, OW), with PyTorch's rules."""
    (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = pg

    def sizes(o: int, k: int, s: int, p: int, size: int) -> np.ndarray:
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        full = end - start
        real = np.minimum(end, size) - np.maximum(start, 0)
        return full if count_include_pad else real

    if divisor_override is not None:
        inv = np.full((oh, ow), 1.0 / divisor_override)
    else:
        inv = 1.0 / np.outer(sizes(oh, kh, sh, ph, h), sizes(ow, kw, sw, pw, w))
    return xp.asarray(inv.astype(dtype))


class AvgPool2dForward(Function):
    """y[n, c, oh, ow] = (sum of the window of x, zero padding) * inv_div[oh, ow].

    Input (N, C, H, W); output (N, C, OH, OW). Linear; backward: AvgPool2dGradInput (the adjoint:
    each dy * inv_div spread back over its window), whose own backward is this op again.
    """

    saved_inputs = ()

    def __init__(self, pg: _PoolGeometry, inv_div: Any) -> None:
        self.pg, self.inv_div = pg, inv_div

    def forward(self, x: Any) -> Any:
        if x.dtype.kind != "f":
            raise TypeError(f"avg_pool2d: expected a floating-point input, got dtype {x.dtype}")
        (kh, kw) = self.pg.kernel
        win = _pool_windows(x, self.pg, 0.0, "avgpool")
        acc = win[..., 0, 0].copy()
        for k in range(1, kh * kw):
            acc += win[..., k // kw, k % kw]
        acc *= self.inv_div.astype(x.dtype, copy=False)
        return acc

    def backward(self, gy: Tensor) -> Tensor:
        return AvgPool2dGradInput(self.pg, self.inv_div, self.inputs[0].shape)(gy)


class AvgPool2dGradInput(Function):
    """dx = sum over windows of dy[n, c, oh, ow] * inv_div[oh, ow] placed on the window's positions.

    Input dy (N, C, OH, OW); output (N, C, H, W). Linear; its backward is AvgPool2dForward.
    """

    saved_inputs = ()

    def __init__(self, pg: _PoolGeometry, inv_div: Any, x_shape: tuple) -> None:
        self.pg, self.inv_div, self.x_shape = pg, inv_div, tuple(x_shape)

    def forward(self, gy: Any) -> Any:
        xp = get_array_module(gy)
        n, c, h, w = self.x_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.pg
        hp = max(h + 2 * ph, (oh - 1) * sh + dh * (kh - 1) + 1)
        wp = max(w + 2 * pw, (ow - 1) * sw + dw * (kw - 1) + 1)
        size = n * c * hp * wp
        if xp is np:
            buf = _cpu.workspace(("avgpool-grad", n, c, hp, wp), size, gy.dtype).a.reshape(n, c, hp, wp)
            buf.fill(0)
        else:
            buf = xp.zeros((n, c, hp, wp), gy.dtype)
        g = gy * self.inv_div.astype(gy.dtype, copy=False)
        s_n, s_c, s_h, s_w = buf.strides
        win = _as_strided(xp, buf, (n, c, oh, ow, kh, kw), (s_n, s_c, sh * s_h, sw * s_w, dh * s_h, dw * s_w))
        for k in range(kh * kw):
            win[..., k // kw, k % kw] += g
        out = xp.empty(self.x_shape, gy.dtype)
        out[...] = buf[:, :, ph:ph + h, pw:pw + w]
        return out

    def backward(self, g: Tensor) -> Tensor:
        return AvgPool2dForward(self.pg, self.inv_div)(g)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default: kernel_size), padding (zeros, at most half the kernel): int or (h, w).
        ceil_mode: round the output size up.
        count_include_pad: divide by the window size including the zero padding (else: by the number
            of real elements in the window).
        divisor_override: divide every window sum by this number instead.
    Returns (N, C, OH, OW). Backward: dy / divisor spread uniformly over each window.
    """
    op = "avg_pool2d"
    x = _pool_input(op, input)
    k, s, p, d = _pool_args(op, kernel_size, stride, padding, 1)
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"{op}: divisor must be not zero (got divisor_override={divisor_override})")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.unsqueeze(0)
    pg = _pool_geometry(op, input.shape, k, s, p, d, ceil_mode)
    inv = _avg_divisor(x.xp, pg, x.shape[2], x.shape[3], ceil_mode, count_include_pad, divisor_override,
                       x.dtype)
    y = AvgPool2dForward(pg, inv)(x)
    return y.squeeze(0) if unbatched else y


def _adaptive_matrix(out: int, size: int, dtype: Any) -> np.ndarray:
    """(out, size): row i averages input positions floor(i*size/out) .. ceil((i+1)*size/out) - 1."""
    m = np.zeros((out, size))
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m.astype(dtype)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (OH, OW) (an int, a pair; None keeps that input size).

    Output cell (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 and likewise for columns
    (PyTorch's windows). Input (N, C, H, W) or (C, H, W). Computed as A_h @ x @ A_w^T with constant
    averaging matrices (avg_pool2d when the sizes divide evenly, a mean for 1x1), so the backward is
    the transposed averaging.
    """
    op = "adaptive_avg_pool2d"
    x = _pool_input(op, input)
    h, w = x.shape[-2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    output_size = tuple(output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {(oh, ow)} for input of shape "
                         f"{tuple(x.shape)}")
    if h == 0 or w == 0:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has an empty spatial dimension")
    if (oh, ow) == (1, 1):
        return x.mean((-2, -1), keepdim=True)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    from ..ops.linalg import matmul

    xp = x.xp
    a_h = _make(xp.asarray(_adaptive_matrix(oh, h, x.dtype)))
    a_wt = _make(xp.asarray(_adaptive_matrix(ow, w, x.dtype).T.copy()))
    return matmul(a_h, matmul(x, a_wt))

