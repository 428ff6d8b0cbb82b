"""One layer of the gated PixelCNN (van den Oord et al. 2016): two stacks, no blind spot.

A stack of masked 3x3 convolutions never sees a wedge of pixels above and to the right of the
current one (the blind spot: the receptive field grows by one column to the right per row up, so
(r - 1, c + 2) is out of reach forever). The gated layer splits the work in two:

    vertical stack   v: a (m + 1) x k kernel over the rows r - m .. r (all k columns, m = k // 2):
                        v_l(r) depends on the image rows <= r, nothing else;
    horizontal stack h: a 1 x (m + 1) kernel over the columns c - m .. c of row r (type A, the
                        first layer: c - m - 1 .. c - 1, so the pixel itself is not seen),
                        plus a 1x1 convolution of the vertical pre-activation *shifted down one row*
                        (row r gets v(r - 1)): rows < r in full, so h never sees the future of its row.

Both use the gated unit  y = tanh(a) * sigmoid(b)  of the two halves of 2C pre-activation
channels, optionally plus a per-class bias (``num_classes``: an embedding of the label added to
a and b of both stacks, initialised to 0). The horizontal stack is residual, h_out = h + W_1x1
gate(.), except in the type-A layer (its input is the image itself). Only h is read out.

Shapes: v, h (N, C_in, H, W) -> v', h' (N, C, H, W); y (N,) int labels or None.
"""

from __future__ import annotations

from ..ops import sigmoid, tanh
from ..tensor import Tensor
from . import init
from .conv_layers import Conv2d
from .functional import pad
from .layers import Embedding
from .module import Module

__all__ = ["GatedPixelCNNLayer", "gate", "shift_down"]


def gate(x: Tensor) -> Tensor:
    """The gated unit: (N, 2C, H, W) -> tanh(x[:, :C]) * sigmoid(x[:, C:]), (N, C, H, W)."""
    c = x.shape[1] // 2
    return tanh(x[:, :c]) * sigmoid(x[:, c:])


def shift_down(x: Tensor) -> Tensor:
    """(N, C, H, W) -> the same with every row moved one down (row 0 zeros, the last row dropped)."""
    return pad(x, (0, 0, 1, 0))[:, :, : x.shape[2]]


class GatedPixelCNNLayer(Module):
    """A gated PixelCNN layer: (v, h[, y]) -> (v', h'), each (N, channels, H, W); see the module docstring.

    in_channels: channels of v and h coming in (the image's for the type-A first layer);
    kernel_size: odd k; mask_type "A" (first layer, excludes the current pixel) or "B";
    num_classes: if given, forward takes labels y (N,) and adds a learned per-class bias.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int = 3, mask_type: str = "B",
                 num_classes: int | None = None) -> None:
        super().__init__()
        if mask_type not in ("A", "B"):
            raise ValueError(f"GatedPixelCNNLayer: mask_type must be 'A' or 'B', got {mask_type!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"GatedPixelCNNLayer: kernel_size must be odd, got {kernel_size}")
        m = kernel_size // 2
        self.mask_type, self.kernel_size, self.channels = mask_type, kernel_size, channels
        self.residual = mask_type == "B" and in_channels == channels
        self.v_conv = Conv2d(in_channels, 2 * channels, (m + 1, kernel_size))
        self.h_conv = Conv2d(in_channels, 2 * channels, (1, m + 1))
        self.v_to_h = Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = Conv2d(channels, channels, 1)
        self.num_classes = num_classes
        if num_classes is not None:
            self.class_bias = Embedding(num_classes, 4 * channels)
            init.zeros_(self.class_bias.weight)      # starts as the unconditional layer

    def forward(self, v: Tensor, h: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        m, width = self.kernel_size // 2, h.shape[3]
        v_pre = self.v_conv(pad(v, (m, m, m, 0)))                          # rows r - m .. r
        left = m + 1 if self.mask_type == "A" else m
        h_pre = self.h_conv(pad(h, (left, 0, 0, 0)))[:, :, :, :width]      # cols c - m (- 1) .. c (- 1)
        h_pre = h_pre + self.v_to_h(shift_down(v_pre))                     # rows < r
        if self.num_classes is not None:
            if y is None:
                raise ValueError("GatedPixelCNNLayer: built with num_classes, forward needs labels y")
            b = self.class_bias(y)[:, :, None, None]                         # (N, 4C, 1, 1)
            c2 = 2 * self.channels
            v_pre, h_pre = v_pre + b[:, :c2], h_pre + b[:, c2:]
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), (h + h_new if self.residual else h_new)

    def extra_repr(self) -> str:
        s = f"channels={self.channels}, kernel_size={self.kernel_size}, mask_type={self.mask_type}"
        return s + (f", num_classes={self.num_classes}" if self.num_classes is not None else "")
