"""Slow, obviously correct reference implementations of convolution and pooling (used by the tests only).

Each one is a direct loop over output positions (and kernel offsets), vectorised only over the batch
and channel dims, on plain NumPy arrays, so that it can be read against the definition:

    y[n, f, oh, ow] = b[f] + sum_{c in group(f), i, j} w[f, c, i, j] * xpad[n, c, oh*sH + i*dH, ow*sW + j*dW]
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _padding(padding: Any, kh: int, kw: int, dh: int, dw: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right)."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = _pair(padding)
    return ph, ph, pw, pw


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
                     padding: Any = 0, dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """x (N, C, H, W) or (C, H, W), w (F, C/groups, kH, kW), b (F,) -> (N, F, OH, OW)."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim == 3:
        return conv2d_reference(x[None], w, b, stride, padding, dilation, groups)[0]
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    pt, pb, pl, pr = _padding(padding, kh, kw, dh, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    fg = f // groups
    out = np.zeros((n, f, oh, ow), dtype=np.result_type(x, w))
    for r in range(oh):
        for s in range(ow):
            for g in range(groups):
                patch = xp[:, g * cg:(g + 1) * cg, r * sh:r * sh + dh * (kh - 1) + 1:dh,
                           s * sw:s * sw + dw * (kw - 1) + 1:dw]  # (N, C/G, kH, kW)
                out[:, g * fg:(g + 1) * fg, r, s] = np.einsum("nchw,fchw->nf", patch, w[g * fg:(g + 1) * fg])
    if b is not None:
        out += np.asarray(b).reshape(1, f, 1, 1)
    return out


def conv2d_reference_grads(x: np.ndarray, w: np.ndarray, gy: np.ndarray, stride: Any = 1, padding: Any = 0,
                           dilation: Any = 1, groups: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of conv2d for the output gradient gy, by the same loop: every output position
    sends gy * w back to its window of x and gy * window to w."""
    x, w, gy = np.asarray(x), np.asarray(w), np.asarray(gy)
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    pt, pb, pl, pr = _padding(padding, kh, kw, dh, dw)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    fg = f // groups
    for r in range(gy.shape[2]):
        for s in range(gy.shape[3]):
            hs = slice(r * sh, r * sh + dh * (kh - 1) + 1, dh)
            ws = slice(s * sw, s * sw + dw * (kw - 1) + 1, dw)
            for g in range(groups):
                cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
                gys = gy[:, fs, r, s]  # (N, F/G)
                gxp[:, cs, hs, ws] += np.einsum("nf,fchw->nchw", gys, w[fs])
                gw[fs] += np.einsum("nf,nchw->fchw", gys, xp[:, cs, hs, ws])
    gx = gxp[:, :, pt:pt + h, pl:pl + wd]
    return gx, gw, gy.sum(axis=(0, 2, 3))


def conv_transpose2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: Any = 1,
                               padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                               dilation: Any = 1) -> np.ndarray:
    """x (N, C_in, H, W), w (C_in, C_out/groups, kH, kW) -> (N, C_out, OH, OW).

    Every input pixel scatters x[n, c, h, w] * w[c, :, i, j] to output position
    (h*sH - pH + i*dH, w*sW - pW + j*dW)."""
    x, w = np.asarray(x), np.asarray(w)
    n, cin, h, wd = x.shape
    _, fg, kh, kw = w.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    cg = cin // groups
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    full = np.zeros((n, fg * groups, full_h, full_w), dtype=np.result_type(x, w))
    for r in range(h):
        for s in range(wd):
            hs = slice(r * sh, r * sh + dh * (kh - 1) + 1, dh)
            ws = slice(s * sw, s * sw + dw * (kw - 1) + 1, dw)
            for g in range(groups):
                cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
                full[:, fs, hs, ws] += np.einsum("nc,cfij->nfij", x[:, cs, r, s], w[cs])
    out = full[:, :, ph:full_h - ph, pw:full_w - pw]
    if b is not None:
        out = out + np.asarray(b).reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_reference_grads(x: np.ndarray, w: np.ndarray, gy: np.ndarray, stride: Any = 1,
                                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                                     dilation: Any = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of conv_transpose2d for the output gradient gy (the scatter loop read backwards)."""
    x, w, gy = np.asarray(x), np.asarray(w), np.asarray(gy)
    n, cin, h, wd = x.shape
    _, fg, kh, kw = w.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    ph, pw = _pair(padding)
    oph, opw = _pair(output_padding)
    cg = cin // groups
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + opw
    gfull = np.zeros((n, fg * groups, full_h, full_w), dtype=gy.dtype)
    gfull[:, :, ph:full_h - ph, pw:full_w - pw] = gy
    gx, gw = np.zeros_like(x), np.zeros_like(w)
    for r in range(h):
        for s in range(wd):
            hs = slice(r * sh, r * sh + dh * (kh - 1) + 1, dh)
            ws = slice(s * sw, s * sw + dw * (kw - 1) + 1, dw)
            for g in range(groups):
                cs, fs = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
                win = gfull[:, fs, hs, ws]  # (N, C_out/G, kH, kW)
                gx[:, cs, r, s] += np.einsum("nfij,cfij->nc", win, w[cs])
                gw[cs] += np.einsum("nc,nfij->cfij", x[:, cs, r, s], win)
    return gx, gw, gy.sum(axis=(0, 2, 3))


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    o = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p:
        o -= 1
    return o


def max_pool2d_reference(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                         dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over each window's positions inside the input, scanned row by row (the first maximum wins;
    indices are flat positions in H*W)."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    oh = _pool_out(h, kh, sh, ph, dh, ceil_mode)
    ow = _pool_out(w, kw, sw, pw, dw, ceil_mode)
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for r in range(oh):
        for s in range(ow):
            pos = [(r * sh - ph + i * dh, s * sw - pw + j * dw) for i in range(kh) for j in range(kw)]
            pos = [(a, b) for a, b in pos if 0 <= a < h and 0 <= b < w]
            vals = np.stack([x[:, :, a, b] for a, b in pos], axis=-1)  # (N, C, window)
            k = np.argmax(vals, axis=-1)
            out[:, :, r, s] = np.take_along_axis(vals, k[..., None], -1)[..., 0]
            flat = np.array([a * w + b for a, b in pos])
            idx[:, :, r, s] = flat[k]
    return (out, idx) if return_indices else out


def avg_pool2d_reference(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                         ceil_mode: bool = False, count_include_pad: bool = True,
                         divisor_override: int | None = None) -> np.ndarray:
    """Mean of each window (zero padding), divided as PyTorch does."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    oh = _pool_out(h, kh, sh, ph, 1, ceil_mode)
    ow = _pool_out(w, kw, sw, pw, 1, ceil_mode)
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for r in range(oh):
        for s in range(ow):
            h0, w0 = r * sh - ph, s * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size_pad = (h1 - h0) * (w1 - w0)
            a0, a1, b0, b1 = max(h0, 0), min(h1, h), max(w0, 0), min(w1, w)
            total = x[:, :, a0:a1, b0:b1].sum(axis=(2, 3))
            if divisor_override is not None:
                div = divisor_override
            else:
                div = size_pad if count_include_pad else (a1 - a0) * (b1 - b0)
            out[:, :, r, s] = total / div
    return out


def adaptive_avg_pool2d_reference(x: np.ndarray, output_size: Any) -> np.ndarray:
    """Cell (i, j) averages rows floor(i*H/OH) .. ceil((i+1)*H/OH)-1 and the same for columns."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    oh = h if output_size[0] is None else output_size[0]
    ow = w if output_size[1] is None else output_size[1]
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            a0, a1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            b0, b1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[:, :, i, j] = x[:, :, a0:a1, b0:b1].mean(axis=(2, 3))
    return out
