"""Masked 2-D convolution of PixelCNN: each output pixel sees only the pixels before it in raster order.

Pixels are ordered row by row, left to right (raster order). A convolution whose kernel is zeroed
below and to the right of its centre makes output (r, c) a function of inputs (r', c') with
(r', c') < (r, c) only (mask type A, for the first layer: the pixel itself is excluded) or
(r', c') <= (r, c) (type B, for the later layers: the centre carries features that already exclude
pixel (r, c)). For a k x k kernel with centre (m, m), m = k // 2:

    mask[a, b] = 1  if a < m, or a == m and b < m          (both types)
    mask[m, m] = 1  only for type B

With ``color_groups`` = G > 1 the channels are split into G consecutive blocks (colour 0 = first
in_channels / G channels, and likewise for the outputs), ordered like R < G < B inside a pixel. At
the centre tap an output of colour o then sees input colours g < o (type A) or g <= o (type B);
every other tap is as above. A stack (A, then B, B, ...) keeps the order (pixel, colour).

The mask is a buffer; the layer convolves with weight * mask, so the masked weights get gradient 0
and stay at whatever they were initialised to without ever mattering.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..creation import tensor
from ..tensor import Tensor
from .conv import conv2d
from .conv_layers import Conv2d

__all__ = ["MaskedConv2d", "causal_mask"]

MASK_TYPES = ("A", "B")


def causal_mask(mask_type: str, out_channels: int, in_channels: int, kernel_size: tuple[int, int],
                color_groups: int = 1) -> np.ndarray:
    """The 0/1 mask (out_channels, in_channels, kH, kW) of a raster-order causal convolution.

    kH and kW must be odd. See the module docstring for the rule; ``color_groups`` G splits both
    channel axes into G consecutive blocks ordered inside each pixel.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"causal_mask: mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"causal_mask: kernel_size must be odd, got {kernel_size}")
    if in_channels % color_groups or out_channels % color_groups:
        raise ValueError(f"causal_mask: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                         f"be divisible by color_groups ({color_groups})")
    mh, mw = kh // 2, kw // 2
    mask = np.zeros((out_channels, in_channels, kh, kw), dtype=np.float32)
    mask[:, :, :mh, :] = 1.0           # every row above the centre
    mask[:, :, mh, :mw] = 1.0          # the centre row, left of the centre
    out_color = np.arange(out_channels) * color_groups // out_channels    # (C_out,)
    in_color = np.arange(in_channels) * color_groups // in_channels       # (C_in,)
    if mask_type == "A":
        mask[:, :, mh, mw] = out_color[:, None] > in_color[None, :]
    else:
        mask[:, :, mh, mw] = out_color[:, None] >= in_color[None, :]
    return mask


class MaskedConv2d(Conv2d):
    """A stride-1 'same' convolution (N, C_in, H, W) -> (N, C_out, H, W) that only looks back in raster order.

    mask_type "A" (excludes the centre pixel: the first layer on the image) or "B" (includes it: every
    later layer); kernel_size odd (int or pair); color_groups G: channel blocks ordered inside a pixel
    (G = 3 for PixelCNN's R, G, B). Parameters ``weight`` (C_out, C_in, kH, kW) and ``bias`` as Conv2d;
    buffer ``mask`` of the weight's shape. y = conv2d(x, weight * mask) + bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, mask_type: str = "B",
                 color_groups: int = 1, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        k = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else tuple(kernel_size)
        super().__init__(in_channels, out_channels, k, padding=(k[0] // 2, k[1] // 2), bias=bias,
                         device=device, dtype=dtype)
        self.mask_type, self.color_groups = mask_type, color_groups
        mask = causal_mask(mask_type, out_channels, in_channels, self.kernel_size, color_groups)
        self.register_buffer("mask", tensor(mask, dtype=self.weight.dtype, device=self.weight.device))

    def forward(self, input: Tensor) -> Tensor:
        return conv2d(input, self.weight * self.mask, self.bias, 1, self.padding)

    def extra_repr(self) -> str:
        s = f"{super().extra_repr()}, mask_type={self.mask_type}"
        return s + (f", color_groups={self.color_groups}" if self.color_groups != 1 else "")
