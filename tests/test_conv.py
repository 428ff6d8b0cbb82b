"""Convolution and pooling (minigrad/nn/conv.py, conv_layers.py): the im2col/GEMM fast path against the
loop references of conv_reference.py on many configurations (forward and all gradients), float32,
workspace safety, double backward, error messages, the layers, and PyTorch when it is installed."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import _conv_cpu as CC
from minigrad.nn import _cpu
from minigrad.nn import conv as K
from minigrad.nn.conv_reference import (
    adaptive_avg_pool2d_reference,
    avg_pool2d_reference,
    conv2d_reference,
    conv2d_reference_grads,
    conv_transpose2d_reference,
    conv_transpose2d_reference_grads,
    max_pool2d_reference,
)

rng = np.random.default_rng(7)


def _t(a, grad=True):
    return mg.tensor(np.asarray(a), requires_grad=grad)


def _np(t):
    return np.asarray(t.numpy())


# (N, C, H, W, F, (kH, kW), kwargs)
CONV_CASES = [
    (2, 3, 7, 6, 4, (3, 3), {}),
    (2, 3, 7, 6, 4, (3, 3), dict(padding=1)),
    (1, 2, 8, 8, 3, (3, 3), dict(stride=2, padding=1)),
    (2, 4, 9, 8, 6, (3, 2), dict(stride=(2, 1), padding=(1, 2), groups=2)),
    (1, 2, 9, 9, 2, (3, 3), dict(stride=2, padding=1, dilation=2)),
    (2, 4, 8, 10, 4, (2, 4), dict(padding="same", dilation=(1, 2), groups=4)),
    (2, 2, 6, 7, 3, (4, 4), dict(padding="same")),
    (3, 2, 5, 5, 2, (5, 5), dict(stride=3, padding="valid")),
    (2, 3, 12, 5, 2, (1, 1), dict(stride=(3, 2))),
    (2, 2, 7, 20, 3, (3, 3), dict(padding=(0, 3), dilation=(2, 3))),
    (2, 6, 6, 6, 3, (3, 3), dict(padding=1, groups=3)),
    (1, 1, 4, 30, 2, (1, 5), dict(stride=(1, 3), padding=(0, 2))),
    (2, 2, 5, 5, 2, (5, 5), dict(padding=2)),
    (0, 2, 5, 5, 3, (3, 3), dict(padding=1)),
    (8, 6, 5, 7, 2, (3, 3), dict(padding=1)),
    # rows as wide as the padded image (stride 1 along W, Wp <= 1.25 OW): the input gradient by kernel
    # offsets into a channels-last image (one group, stride 1), or by col2im
    (3, 3, 9, 12, 4, (3, 3), dict(padding=1)),
    (2, 2, 8, 16, 3, (3, 3), dict(padding=(1, 2), dilation=(1, 2))),
    (2, 3, 6, 13, 2, (2, 3), dict(padding="same")),
    (2, 4, 9, 10, 4, (3, 3), dict(padding="same", groups=2)),
    (2, 3, 9, 10, 3, (3, 3), dict(stride=(2, 1), padding=1)),
    (8, 4, 6, 9, 2, (3, 3), dict(padding=1, groups=2)),
    (9, 3, 9, 8, 2, (3, 2), dict(stride=(2, 3), padding=(1, 2), dilation=(1, 2))),
    (8, 2, 4, 6, 1, (2, 2), dict(padding="same")),
    (8, 3, 6, 6, 2, (3, 3), {}),
]


@pytest.fixture(params=["one chunk", "chunk per image, threaded"])
def chunking(request, monkeypatch):
    """The CPU engine as it runs small convolutions (one chunk, this thread), and as it runs large ones
    (many chunks over the helper threads with a one-thread BLAS)."""
    if request.param != "one chunk":
        monkeypatch.setattr(CC, "CHUNK_BYTES", 1)
        monkeypatch.setattr(CC, "_PAR_MIN_FLOPS", 0)
        monkeypatch.setattr(_cpu, "num_threads", 2)
    return request.param


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n,c,h,w,f,k,kw", CONV_CASES)
def test_conv2d_matches_reference(n, c, h, w, f, k, kw, bias, chunking):
    g = kw.get("groups", 1)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c // g) + k)
    b = rng.standard_normal(f) if bias else None
    ref = conv2d_reference(x, wt, b, **kw)
    X, W = _t(x), _t(wt)
    B = _t(b) if bias else None
    y = nn.functional.conv2d(X, W, B, **kw)
    assert y.shape == ref.shape
    np.testing.assert_allclose(_np(y), ref, atol=1e-12, rtol=1e-10)
    gy = rng.standard_normal(ref.shape)
    leaves = [X, W] + ([B] if bias else [])
    grads = mg.grad(y, leaves, mg.tensor(gy))
    rgx, rgw, rgb = conv2d_reference_grads(x, wt, gy, **kw)
    np.testing.assert_allclose(_np(grads[0]), rgx, atol=1e-12, rtol=1e-10)
    np.testing.assert_allclose(_np(grads[1]), rgw, atol=1e-12, rtol=1e-10)
    if bias:
        np.testing.assert_allclose(_np(grads[2]), rgb, atol=1e-12, rtol=1e-10)


TRANSPOSE_CASES = [
    (2, 4, 4, 5, 6, (3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (2, 2, 3, 3, 3, (2, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2))),
    (1, 2, 5, 4, 2, (3, 3), dict(padding=1, dilation=2)),
    (1, 2, 4, 4, 2, (2, 2), dict(output_padding=1, dilation=2)),
    (2, 3, 3, 4, 2, (3, 3), {}),
    (1, 3, 2, 2, 3, (4, 4), dict(stride=3, padding=1, groups=3)),
]


@pytest.mark.parametrize("n,c,h,w,f,k,kw", TRANSPOSE_CASES)
def test_conv_transpose2d_matches_reference(n, c, h, w, f, k, kw, chunking):
    g = kw.get("groups", 1)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((c, f // g) + k)
    b = rng.standard_normal(f)
    ref = conv_transpose2d_reference(x, wt, b, **kw)
    X, W, B = _t(x), _t(wt), _t(b)
    y = nn.functional.conv_transpose2d(X, W, B, **kw)
    assert y.shape == ref.shape
    np.testing.assert_allclose(_np(y), ref, atol=1e-12, rtol=1e-10)
    gy = rng.standard_normal(ref.shape)
    gx, gw, gb = mg.grad(y, [X, W, B], mg.tensor(gy))
    rgx, rgw, rgb = conv_transpose2d_reference_grads(x, wt, gy, **kw)
    np.testing.assert_allclose(_np(gx), rgx, atol=1e-12, rtol=1e-10)
    np.testing.assert_allclose(_np(gw), rgw, atol=1e-12, rtol=1e-10)
    np.testing.assert_allclose(_np(gb), rgb, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("f,kw,hw", [(16, dict(padding=1), 24), (200, dict(padding=1), 24),
                                     (8, dict(stride=2, padding=2), 24), (16, dict(padding=1), 14)])
def test_large_conv_threaded_paths_match_reference_and_single_thread(monkeypatch, f, kw, hw):
    """A batch of 16 in chunks of 3 images (the last chunk has 1) spread over the helper threads gives the
    reference, and bit for bit the result of one thread (the chunks and the order in which their weight
    gradients are summed do not depend on the thread count)."""
    x, w = rng.standard_normal((16, 16, hw, hw)), rng.standard_normal((f, 16, 3, 3))
    b = rng.standard_normal(f)
    oh = (hw + 2 * kw["padding"] - 3) // kw.get("stride", 1) + 1
    gy = rng.standard_normal((16, f, oh, oh))
    geometry = K.ConvGeometry((kw.get("stride", 1),) * 2, (kw["padding"],) * 4, (1, 1), 1)
    plan = CC._Plan(x.shape, w.shape, geometry, oh, oh, x.dtype)
    monkeypatch.setattr(CC, "CHUNK_BYTES", 3 * (plan.k + 1) * plan.cols_per_image * 8)
    runs = []
    for threads in (2, 1):
        monkeypatch.setattr(_cpu, "num_threads", threads)
        X, W, B = _t(x), _t(w), _t(b)
        y = nn.functional.conv2d(X, W, B, **kw)
        runs.append([_np(y)] + [_np(t) for t in mg.grad(y, [X, W, B], mg.tensor(gy))])
    for a, c in zip(*runs):
        np.testing.assert_array_equal(a, c)
    if f == 16 or f == 8:  # the loop reference is slow: check the cheaper configurations
        np.testing.assert_allclose(runs[0][0], conv2d_reference(x, w, b, **kw), atol=1e-10)
        for a, r in zip(runs[0][1:], conv2d_reference_grads(x, w, gy, **kw)):
            np.testing.assert_allclose(a, r, atol=1e-9)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_large_max_pool_threaded_matches_reference_and_single_thread(monkeypatch, kw):
    x = rng.standard_normal((16, 8, 32, 32))  # 1 MiB: the batch is split over the helper threads
    gy = rng.standard_normal((16, 8, 16, 16))
    runs = []
    for threads in (2, 1):
        monkeypatch.setattr(_cpu, "num_threads", threads)
        X = _t(x)
        y, idx = nn.functional.max_pool2d(X, return_indices=True, **kw)
        runs.append([_np(y), _np(idx), _np(mg.grad(y, [X], mg.tensor(gy))[0])])
    for a, c in zip(*runs):
        np.testing.assert_array_equal(a, c)
    ry, ridx = max_pool2d_reference(x, return_indices=True, **kw)
    np.testing.assert_array_equal(runs[0][0], ry)
    np.testing.assert_array_equal(runs[0][1], ridx)


def test_cpu_plan_wide_rows_and_chunks(monkeypatch):
    """Stride 1 along the width and a narrow output: rows as wide as the padded image (when that adds at
    most a quarter more GEMM work); otherwise exact rows. The chunks cover the batch in order, at least
    MIN_CHUNKS of them when there are enough images, each at most CHUNK_BYTES of columns."""
    g = K.ConvGeometry((1, 1), (1, 1, 1, 1), (1, 1), 1)
    p = CC._Plan((64, 32, 14, 14), (64, 32, 3, 3), g, 14, 14, np.float32)
    assert (p.wide, p.owc, p.tail) == (True, 16, 2)
    per_image = (32 * 9 + 1) * 14 * 16 * 4
    assert p.chunks[0] == (0, min(64 // CC.MIN_CHUNKS, CC.CHUNK_BYTES // per_image)) and p.chunks[-1][1] == 64
    assert all(a[1] == b[0] for a, b in zip(p.chunks, p.chunks[1:]))
    strided = CC._Plan((64, 32, 14, 14), (64, 32, 3, 3), K.ConvGeometry((2, 2), (1, 1, 1, 1), (1, 1), 1),
                       7, 7, np.float32)
    assert (strided.wide, strided.owc, strided.tail) == (False, 7, 0)
    valid = K.ConvGeometry((1, 1), (0,) * 4, (1, 1), 1)
    big_kernel = CC._Plan((2, 3, 6, 6), (4, 3, 5, 5), valid, 2, 2, np.float64)
    assert not big_kernel.wide  # 6 columns computed per 2 wanted: exact rows
    assert not CC._Plan((64, 3, 32, 32), (64, 3, 3, 3), g, 32, 32, np.float32).wide  # long rows
    monkeypatch.setattr(CC, "CHUNK_BYTES", 1)
    assert len(CC._Plan((5, 3, 6, 6), (4, 3, 3, 3), g, 6, 6, np.float64).chunks) == 5


def test_conv1d_and_unbatched_match_conv2d_reference():
    x, w, b = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    y = nn.functional.conv1d(_t(x), _t(w), _t(b), stride=2, padding=2, dilation=2, groups=2)
    ref = conv2d_reference(x[:, :, None], w[:, :, None], b, (1, 2), (0, 2), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(_np(y), ref, atol=1e-12)
    y1 = nn.functional.conv1d(_t(x[0]), _t(w), None, padding="same", groups=2)
    assert y1.shape == (6, 11)
    y2 = nn.functional.conv2d(_t(x[0][:, None]), _t(w[:, :, None]), groups=2)
    assert y2.shape == (6, 1, 9)


def test_conv_double_backward_matches_finite_differences():
    """The gradient penalty of WGAN-GP: d/dw of ||d conv(x, w)/dx||^2 (GradInput's backward)."""
    x, w = _t(rng.standard_normal((2, 2, 5, 5))), _t(rng.standard_normal((3, 2, 3, 3)))

    def penalty(w_):
        y = nn.functional.conv2d(x, w_, padding=1, stride=2)
        (gx,) = mg.grad((y * y).sum(), [x], create_graph=True)
        return (gx * gx).sum()

    assert mg.gradcheck(penalty, [w])
    assert mg.gradgradcheck(lambda x_, w_: nn.functional.conv2d(x_, w_, padding=1), [x, w])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=1),
])
def test_max_pool2d_matches_reference(kw):
    x = rng.standard_normal((2, 3, 7, 8))
    X = _t(x)
    y, idx = nn.functional.max_pool2d(X, return_indices=True, **kw)
    ry, ridx = max_pool2d_reference(x, return_indices=True, **kw)
    np.testing.assert_array_equal(_np(y), ry)
    np.testing.assert_array_equal(_np(idx), ridx)
    assert idx.dtype == np.int64
    with mg.no_grad():  # no indices needed: the plain window maximum
        np.testing.assert_array_equal(_np(nn.functional.max_pool2d(X, **kw)), ry)
    gy = rng.standard_normal(ry.shape)
    (gx,) = mg.grad(y, [X], mg.tensor(gy))
    expect = np.zeros((6, 56))
    np.add.at(expect, (np.arange(6)[:, None], ridx.reshape(6, -1)), gy.reshape(6, -1))
    np.testing.assert_allclose(_np(gx), expect.reshape(x.shape), atol=1e-12)


def test_max_pool2d_ties_nan_and_all_minus_inf():
    x = np.zeros((1, 1, 4, 4))
    y, idx = nn.functional.max_pool2d(_t(x), 2, return_indices=True)  # ties: the first position wins
    np.testing.assert_array_equal(_np(idx)[0, 0], [[0, 2], [8, 10]])
    X = _t(x)
    (gx,) = mg.grad(nn.functional.max_pool2d(X, 2).sum(), [X])
    assert _np(gx).sum() == 4 and _np(gx)[0, 0, 0, 0] == 1 and _np(gx)[0, 0, 1, 1] == 0
    x[0, 0, 1, 1] = np.nan
    y = nn.functional.max_pool2d(_t(x, False), 2)
    assert np.isnan(_np(y)[0, 0, 0, 0]) and not np.isnan(_np(y)[0, 0, 1, 1])
    xi = np.full((1, 1, 3, 3), -np.inf)
    y, idx = nn.functional.max_pool2d(_t(xi, False), 2, stride=2, padding=1, return_indices=True)
    assert np.all(_np(y) == -np.inf)
    np.testing.assert_array_equal(_np(idx)[0, 0], [[0, 1], [3, 4]])  # first real position of each window


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True),
    dict(kernel_size=3, padding=1, divisor_override=2),
])
def test_avg_pool2d_matches_reference(kw):
    x = rng.standard_normal((2, 3, 7, 8))
    y = nn.functional.avg_pool2d(_t(x), **kw)
    np.testing.assert_allclose(_np(y), avg_pool2d_reference(x, **kw), atol=1e-12)


@pytest.mark.parametrize("size", [1, 3, (2, 5), (None, 3), (7, 4), (4, 2)])
def test_adaptive_avg_pool2d_matches_reference(size):
    x = rng.standard_normal((2, 3, 7, 8))
    y = nn.functional.adaptive_avg_pool2d(_t(x), size)
    np.testing.assert_allclose(_np(y), adaptive_avg_pool2d_reference(x, size), atol=1e-12)


def test_float32_end_to_end():
    x = mg.randn(2, 4, 9, 9, requires_grad=True)
    w = mg.randn(6, 2, 3, 3, requires_grad=True)
    b = mg.randn(6, requires_grad=True)
    wt = mg.randn(6, 3, 2, 2, requires_grad=True)
    y = nn.functional.conv2d(x, w, b, padding=1, groups=2)
    z = nn.functional.conv_transpose2d(y, wt, stride=2)
    p = nn.functional.max_pool2d(z, 3, 2, 1) + nn.functional.avg_pool2d(z, 2, 2, 1)[..., :9, :9]
    out = nn.functional.adaptive_avg_pool2d(p, 3).sum()
    for t in (y, z, p, out):
        assert t.dtype == np.float32
    gs = mg.grad(out, [x, w, b, wt])
    assert all(g.dtype == np.float32 for g in gs)
    ref = conv2d_reference(_np(x).astype(np.float64), _np(w).astype(np.float64), _np(b).astype(np.float64),
                           padding=1, groups=2)
    np.testing.assert_allclose(_np(y), ref, atol=1e-4, rtol=1e-4)


def test_results_never_alias_workspaces():
    x1, x2 = mg.randn(2, 3, 8, 8), mg.randn(2, 3, 8, 8)
    w = mg.randn(4, 3, 3, 3, requires_grad=True)
    y1 = nn.functional.conv2d(x1, w, padding=1)
    keep = _np(y1).copy()
    y2 = nn.functional.conv2d(x2, w, padding=1)
    np.testing.assert_array_equal(_np(y1), keep)
    (g1,) = mg.grad(y1.sum(), [w])
    g1_keep = _np(g1).copy()
    (g2,) = mg.grad(y2.sum(), [w])  # y1's graph ran first: the columns must be recomputed for x2
    np.testing.assert_array_equal(_np(g1), g1_keep)
    np.testing.assert_allclose(_np(g2), conv2d_reference_grads(_np(x2), _np(w), np.ones(y2.shape), 1, 1)[1],
                               rtol=1e-4, atol=1e-4)
    # the columns kept from a forward pass are not reused for a different call on a modified array
    x = mg.randn(2, 3, 8, 8)
    wd = mg.randn(4, 3, 3, 3, requires_grad=True)
    y = nn.functional.conv2d(x, wd, padding=1)
    x.array[...] = 1.0
    nn.functional.conv2d(x, wd, padding=1)
    (gw,) = mg.grad(y.sum(), [wd])
    np.testing.assert_allclose(_np(gw), conv2d_reference_grads(_np(x), _np(wd), np.ones(y.shape), 1, 1)[1],
                               rtol=1e-4, atol=1e-4)


def test_importing_minigrad_does_not_import_cupy_kernels():
    code = ("import sys, minigrad as mg, minigrad.nn as nn; "
            "x = mg.randn(1, 1, 4, 4, requires_grad=True); "
            "nn.functional.conv2d(x, mg.randn(1, 1, 3, 3)).sum().backward(); "
            "assert 'minigrad.nn._conv_cuda' not in sys.modules; "
            "assert mg.cuda_is_available() or 'cupy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: nn.functional.conv2d(mg.randn(2, 3, 5, 5), mg.randn(4, 2, 3, 3)),
     r"conv2d: input of shape \(2, 3, 5, 5\) has 3 channels, but weight of shape \(4, 2, 3, 3\)"),
    (lambda: nn.functional.conv2d(mg.randn(2, 4, 5, 5), mg.randn(3, 2, 3, 3), groups=2),
     r"conv2d: groups=2 must divide out_channels=3 \(weight shape \(3, 2, 3, 3\)\)"),
    (lambda: nn.functional.conv2d(mg.randn(2, 3, 5, 5), mg.randn(4, 1, 3, 3), groups=2),
     r"conv2d: groups=2 must divide in_channels=3 \(input shape \(2, 3, 5, 5\)\)"),
    (lambda: nn.functional.conv2d(mg.randn(1, 1, 4, 4), mg.randn(1, 1, 5, 5)),
     r"conv2d: kernel size \(5, 5\) \(dilated\) can't be greater than the padded input size \(4, 4\)"),
    (lambda: nn.functional.conv2d(mg.randn(1, 1, 4, 4), mg.randn(1, 1, 3, 3), dilation=2),
     r"kernel size \(5, 5\) \(dilated\).*input shape \(1, 1, 4, 4\)"),
    (lambda: nn.functional.conv2d(mg.randn(1, 4, 4), mg.randn(1, 1, 3)), r"conv2d: expected weight of shape"),
    (lambda: nn.functional.conv2d(mg.randn(4, 4), mg.randn(1, 1, 3, 3)),
     r"conv2d: expected a 3-D .* got shape"),
    (lambda: nn.functional.conv2d(mg.randn(1, 1, 4, 4), mg.randn(2, 1, 3, 3), mg.randn(3)),
     r"conv2d: expected bias of shape \(2,\)"),
    (lambda: nn.functional.conv2d(mg.randn(1, 1, 4, 4), mg.randn(1, 1, 3, 3), stride=2, padding="same"),
     r"padding='same' is not supported for strided convolutions"),
    (lambda: nn.functional.conv2d(mg.randn(1, 1, 4, 4), mg.randn(1, 1, 3, 3).double()),
     r"conv2d: all arguments must have the same dtype"),
    (lambda: nn.functional.conv1d(mg.randn(2, 3, 9), mg.randn(4, 2, 3)),
     r"conv1d: input of shape \(2, 3, 9\) has 3 channels, but weight of shape \(4, 2, 3\)"),
    (lambda: nn.functional.conv_transpose2d(mg.randn(1, 2, 4, 4), mg.randn(3, 2, 3, 3)),
     r"conv_transpose2d: input of shape \(1, 2, 4, 4\) has 2 channels, but weight of shape \(3, 2, 3, 3\)"),
    (lambda: nn.functional.conv_transpose2d(mg.randn(1, 2, 4, 4), mg.randn(2, 2, 3, 3), stride=2,
                                            output_padding=2),
     r"output_padding .* must be smaller than either stride"),
    (lambda: nn.functional.max_pool2d(mg.randn(1, 1, 4, 4), 2, padding=2), r"pad should be at most half"),
    (lambda: nn.functional.max_pool2d(mg.randn(1, 1, 2, 2), 3), r"max_pool2d: output size"),
    (lambda: nn.functional.avg_pool2d(mg.randn(4, 4), 2), r"avg_pool2d: expected a 3-D"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="mirror"), r"padding_mode must be one of"),
])
def test_errors_name_op_and_shapes(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --- layers ----------------------------------------------------------------------------------------
def test_conv_layers_defaults_repr_state_dict_and_init():
    mg.manual_seed(0)
    m = nn.Conv2d(8, 16, 3, padding=1)
    assert repr(m) == "Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert list(m.state_dict().keys()) == ["weight", "bias"]
    assert m.weight.shape == (16, 8, 3, 3) and m.bias.shape == (16,) and m.weight.dtype == np.float32
    bound = 1 / math.sqrt(8 * 9)
    for p in (m.weight, m.bias):
        a = _np(p)
        assert np.abs(a).max() <= bound + 1e-7 and np.abs(a).max() > 0.8 * bound
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m2 = nn.Conv2d(4, 8, (3, 5), stride=2, dilation=2, groups=2, bias=False, padding_mode="reflect")
    assert repr(m2) == ("Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), groups=2, "
                        "bias=False, padding_mode=reflect)")
    assert m2.bias is None and list(m2.state_dict()) == ["weight"] and m2.weight.shape == (8, 2, 3, 5)
    assert repr(nn.Conv1d(3, 6, 5)) == "Conv1d(3, 6, kernel_size=(5,), stride=(1,))"
    t = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    assert repr(t) == ("ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
                       "output_padding=(1, 1))")
    assert t.weight.shape == (4, 2, 3, 3)
    assert np.abs(_np(t.bias)).max() <= 1 / math.sqrt(2 * 9) + 1e-7
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                     "ceil_mode=False)")
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"


def test_conv_layers_forward_shapes_and_output_size():
    x = mg.randn(2, 3, 8, 8)
    assert nn.Conv2d(3, 4, 3, padding="same")(x).shape == (2, 4, 8, 8)
    assert nn.Conv1d(3, 5, 3, stride=2)(mg.randn(2, 3, 9)).shape == (2, 5, 4)
    t = nn.ConvTranspose2d(3, 2, 3, stride=2)
    assert t(x).shape == (2, 2, 17, 17) and t(x, output_size=(18, 18)).shape == (2, 2, 18, 18)
    with pytest.raises(ValueError, match="requested output size"):
        t(x, output_size=(20, 20))
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert y.shape == (2, 3, 4, 4) and idx.shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, 2, 1)(x).shape == (2, 3, 4, 4)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                          ("circular", "wrap")])
def test_conv2d_padding_modes(mode, np_mode):
    m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).double()
    x = rng.standard_normal((2, 2, 5, 6))
    X = _t(x)
    y = m(X)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    np.testing.assert_allclose(_np(y), conv2d_reference(xp, _np(m.weight), _np(m.bias)), atol=1e-12)
    assert mg.gradcheck(lambda a: m(a), [_t(rng.standard_normal((1, 2, 4, 4)))])


# --- PyTorch -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _both(torch, *arrays):
    return ([_t(a) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(2, 1), dilation=(1, 2), groups=2),
                                dict(padding="same", dilation=2), dict(stride=(1, 3), padding="valid")])
def test_conv2d_matches_torch(torch, kw):
    F = torch.nn.functional
    x, w, b = rng.standard_normal((3, 4, 9, 10)), rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 4)), \
        rng.standard_normal(6)
    (mx, mw, mb), (tx, tw, tb) = _both(torch, x, w, b)
    y, ty = nn.functional.conv2d(mx, mw, mb, **kw), F.conv2d(tx, tw, tb, **kw)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-10)
    gy = rng.standard_normal(y.shape)
    ours = mg.grad(y, [mx, mw, mb], mg.tensor(gy))
    theirs = torch.autograd.grad(ty, [tx, tw, tb], torch.tensor(gy))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(_np(a), t.numpy(), atol=1e-10)


def test_conv1d_conv_transpose2d_and_double_backward_match_torch(torch):
    F = torch.nn.functional
    x, w, b = rng.standard_normal((2, 4, 12)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    (mx, mw, mb), (tx, tw, tb) = _both(torch, x, w, b)
    kw = dict(stride=2, padding=1, dilation=2, groups=2)
    y, ty = nn.functional.conv1d(mx, mw, mb, **kw), F.conv1d(tx, tw, tb, **kw)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-10)
    for a, t in zip(mg.grad(y.sum(), [mx, mw, mb]), torch.autograd.grad(ty.sum(), [tx, tw, tb])):
        np.testing.assert_allclose(_np(a), t.numpy(), atol=1e-10)

    x, w, b = rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(6)
    (mx, mw, mb), (tx, tw, tb) = _both(torch, x, w, b)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2))
    y, ty = nn.functional.conv_transpose2d(mx, mw, mb, **kw), F.conv_transpose2d(tx, tw, tb, **kw)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-10)
    gy = rng.standard_normal(y.shape)
    for a, t in zip(mg.grad(y, [mx, mw, mb], mg.tensor(gy)),
                    torch.autograd.grad(ty, [tx, tw, tb], torch.tensor(gy))):
        np.testing.assert_allclose(_np(a), t.numpy(), atol=1e-10)

    # gradient penalty (WGAN-GP): second derivatives through conv2d and conv_transpose2d
    x, w1 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    w2 = rng.standard_normal((3, 2, 2, 2))
    (mx, m1, m2), (tx, t1, t2) = _both(torch, x, w1, w2)

    def penalty(conv, convt, act, grad, x_, a, b_):
        h = convt(act(conv(x_, a, stride=2, padding=1)), b_, stride=2)
        (gx,) = grad(h.square().sum(), x_)
        return (gx * gx).sum()

    pm = penalty(nn.functional.conv2d, nn.functional.conv_transpose2d, mg.tanh,
                 lambda o, i: mg.grad(o, [i], create_graph=True), mx, m1, m2)
    pt = penalty(F.conv2d, F.conv_transpose2d, torch.tanh,
                 lambda o, i: torch.autograd.grad(o, [i], create_graph=True), tx, t1, t2)
    np.testing.assert_allclose(pm.item(), pt.item(), rtol=1e-10)
    for a, t in zip(mg.grad(pm, [mx, m1, m2]), torch.autograd.grad(pt, [tx, t1, t2])):
        np.testing.assert_allclose(_np(a), t.numpy(), atol=1e-9)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
                                dict(kernel_size=3, stride=1)])
def test_pools_match_torch(torch, kw):
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, 9, 8))
    (mx,), (tx,) = _both(torch, x)
    y, idx = nn.functional.max_pool2d(mx, return_indices=True, **kw)
    ty, tidx = F.max_pool2d(tx, return_indices=True, **kw)
    np.testing.assert_array_equal(_np(y), ty.detach().numpy())
    np.testing.assert_array_equal(_np(idx), tidx.numpy())
    gy = rng.standard_normal(y.shape)
    (g,), (tg,) = mg.grad(y, [mx], mg.tensor(gy)), torch.autograd.grad(ty, [tx], torch.tensor(gy))
    np.testing.assert_allclose(_np(g), tg.numpy(), atol=1e-12)

    akw = {k: v for k, v in kw.items() if k != "dilation"}
    for extra in (dict(), dict(count_include_pad=False), dict(divisor_override=5)):
        y, ty = nn.functional.avg_pool2d(mx, **akw, **extra), F.avg_pool2d(tx, **akw, **extra)
        np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-12)
        gy = rng.standard_normal(y.shape)
        (g,), (tg,) = mg.grad(y, [mx], mg.tensor(gy)), torch.autograd.grad(ty, [tx], torch.tensor(gy))
        np.testing.assert_allclose(_np(g), tg.numpy(), atol=1e-12)

    for size in (1, (4, 3), (3, None), 5):
        y, ty = nn.functional.adaptive_avg_pool2d(mx, size), F.adaptive_avg_pool2d(tx, size)
        np.testing.assert_allclose(_np(y), ty.detach().numpy(), atol=1e-12)
        gy = rng.standard_normal(y.shape)
        (g,), (tg,) = mg.grad(y, [mx], mg.tensor(gy)), torch.autograd.grad(ty, [tx], torch.tensor(gy))
        np.testing.assert_allclose(_np(g), tg.numpy(), atol=1e-12)


def test_max_pool2d_nan_and_ties_match_torch(torch):
    x = np.round(rng.standard_normal((2, 2, 7, 7)))  # many ties
    x[0, 0, 1, 1] = x[0, 0, 2, 3] = x[1, 1, 4, 4] = np.nan
    for kw in (dict(kernel_size=3, stride=2), dict(kernel_size=2, stride=1, padding=1), dict(kernel_size=2)):
        y, idx = nn.functional.max_pool2d(_t(x), return_indices=True, **kw)
        ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(_np(y), ty.numpy())
        np.testing.assert_array_equal(_np(idx), tidx.numpy())
        np.testing.assert_array_equal(_np(nn.functional.max_pool2d(_t(x, False), **kw)), ty.numpy())


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv_modules_exchange_state_dicts_with_torch(torch, mode):
    tm = torch.nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode).double()
    m = nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode).double()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 3, 5, 6))
    np.testing.assert_allclose(_np(m(_t(x))), tm(torch.tensor(x)).detach().numpy(), atol=1e-12)
    tt = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, groups=1).double()
    mt = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    mt.load_state_dict({k: v.detach().numpy() for k, v in tt.state_dict().items()})
    np.testing.assert_allclose(_np(mt(_t(x), output_size=(10, 12))),
                               tt(torch.tensor(x), output_size=(10, 12)).detach().numpy(), atol=1e-12)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
