"""CUDA im2col / col2im for the convolution (CuPy arrays only).

Imported lazily by ``minigrad.nn.conv`` inside its CuPy branch, so importing minigrad never imports
CuPy. Both kernels use the exact column grid (no junk columns):

    cols[(c*kH + i)*kW + j, (n*OH + oh)*OW + ow] = x[n, c, oh*sH - pT + i*dH, ow*sW - pL + j*dW]  (0 outside)

im2col runs one thread per column entry; col2im runs one thread per image pixel and gathers the
column entries that read it (no atomics): for each kernel offset (i, j) the pixel was read by output
row oh = (h + pT - i*dH) / sH when that division is exact and in range (same for the width).
"""

from __future__ import annotations

from typing import Any

import cupy  # type: ignore[import-not-found]

_PARAMS = ("int64 N, int64 C, int64 H, int64 W, int64 OH, int64 OW, int64 KH, int64 KW, int64 SH, int64 SW, "
           "int64 PT, int64 PL, int64 DH, int64 DW")

_im2col_kernel = cupy.ElementwiseKernel(
    "raw T x, " + _PARAMS,
    "T col",
    """
    long long ow = i % OW;  long long t = i / OW;
    long long oh = t % OH;  t /= OH;
    long long n = t % N;    t /= N;
    long long kj = t % KW;  t /= KW;
    long long ki = t % KH;  long long c = t / KH;
    long long h = oh * SH - PT + ki * DH;
    long long w = ow * SW - PL + kj * DW;
    col = (h >= 0 && h < H && w >= 0 && w < W) ? x[((n * C + c) * H + h) * W + w] : (T)0;
    """,
    "minigrad_conv_im2col",
)

_col2im_kernel = cupy.ElementwiseKernel(
    "raw T col, " + _PARAMS,
    "T img",
    """
    long long w = i % W;  long long t = i / W;
    long long h = t % H;  t /= H;
    long long c = t % C;  long long n = t / C;
    long long L = N * OH * OW;
    T acc = (T)0;
    for (long long ki = 0; ki < KH; ++ki) {
        long long hh = h + PT - ki * DH;
        if (hh < 0 || hh % SH != 0) continue;
        long long oh = hh / SH;
        if (oh >= OH) continue;
        for (long long kj = 0; kj < KW; ++kj) {
            long long ww = w + PL - kj * DW;
            if (ww < 0 || ww % SW != 0) continue;
            long long ow = ww / SW;
            if (ow >= OW) continue;
            acc += col[((c * KH + ki) * KW + kj) * L + (n * OH + oh) * OW + ow];
        }
    }
    img = acc;
    """,
    "minigrad_conv_col2im",
)


def _args(shape: tuple, g: Any, kh: int, kw: int, oh: int, ow: int) -> tuple:
    n, c, h, w = shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = g.stride, g.padding, g.dilation
    return (n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw)


def im2col(x: Any, g: Any, kh: int, kw: int, oh: int, ow: int) -> Any:
    """Columns (C*kH*kW + 1, N*OH*OW) of the (implicitly zero-padded) input x (N, C, H, W); the last row
    is all ones (the weight gradient's GEMM then also gives the bias gradient)."""
    x = cupy.ascontiguousarray(x)
    n, c = x.shape[:2]
    k = c * kh * kw
    cols = cupy.empty((k + 1, n * oh * ow), dtype=x.dtype)
    _im2col_kernel(x, *_args(x.shape, g, kh, kw, oh, ow), cols[:k])
    cols[k] = 1
    return cols


def col2im(cols: Any, x_shape: tuple, g: Any, kh: int, kw: int, oh: int, ow: int) -> Any:
    """The adjoint of im2col: an image of ``x_shape``, each pixel summing the column entries read from it."""
    img = cupy.empty(x_shape, dtype=cols.dtype)
    _col2im_kernel(cupy.ascontiguousarray(cols), *_args(x_shape, g, kh, kw, oh, ow), img)
    return img
