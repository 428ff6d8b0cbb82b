"""The CPU (NumPy) convolution: im2col + GEMM one chunk of images at a time, the chunks spread over threads.

For x (N, C, H, W) and w (F, C/G, kH, kW) (G groups) the batch is cut into chunks of m images, small
enough that a chunk's columns stay in the cache of the core working on it. The chunks are split over
``_cpu.num_threads`` threads, each calling a one-thread GEMM (``_blas.single_threaded``): no copy ever
touches the whole batch's columns, and the output and dy keep their (N, C, H, W) layout. Per chunk,
with K = C*kH*kW rows and L = OH*OWc columns per image:

    forward       x -> padded -> cols (K+1, L*m)        y = [w | b] @ cols          -> out[chunk]
    weight grad   x -> padded -> cols;  dy -> dyc (F, L*m);  [dw | db] += dyc @ cols^T
    input grad    dy -> dyc;  dcols = w^T @ dyc  (K, L*m);  col2im: kH*kW strided adds -> dx[chunk]
                  (stride 1, wide rows, one group: one small GEMM and one contiguous add per kernel
                  offset into a channels-last image instead; see ``_Plan.input_grad_by_offset``)

where cols[(c, i, j), (oh, n, ow)] = xpad[n, c, oh*sH + i*dH, ow*sW + j*dW] and the last row of cols is
all ones (so the weight gradient's GEMM also gives db = sum of dy, and the forward GEMM adds the bias).

Layout. A chunk's padded images are kept as (C, Hp, m, Wp): row h of all m images side by side. The
columns of one kernel offset (c, i, j) then read, for each output row oh, the m images' rows together.

Wide rows. With stride 1 along the width, each output row is computed OWc = Wp (the padded width) wide
instead of OW. Its last Wp - OW entries are junk (their windows run off the right edge into the next
row), but then the columns of one kernel offset are runs of m*Wp consecutive elements of the padded
buffer (one run of OH*m*Wp with stride 1 along the height too), so im2col and col2im move long runs
instead of runs of OW elements. The junk outputs are dropped when the output is copied out, and dyc is
zero there, so they add nothing to dw or dx. Chosen for narrow outputs (OW < 24; longer rows copy fast
enough as they are) when it costs at most a quarter more GEMM work.

Determinism: the chunks do not depend on the thread count and the per-chunk weight gradients are summed
in chunk order, so the results are bit for bit the same for any number of threads.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .. import _blas
from . import _cpu

CHUNK_BYTES = 2 << 20
"""Target size of one chunk's columns: small enough for a core's cache, large enough that the GEMMs stay
efficient and the per-chunk Python overhead small."""
MIN_CHUNKS = 8
"""A batch is cut into at least this many chunks when it has enough images (work for every thread; a fixed
number, so that the chunks never depend on the thread count)."""
WIDE_BELOW, WIDE_MAX = 24, 1.25
"""Wide rows are used for outputs narrower than WIDE_BELOW when they cost at most WIDE_MAX times the GEMM
work (Wp <= WIDE_MAX * OW)."""
_PAR_MIN_FLOPS = 4e6  # below this a conv runs on the calling thread (the hand-off would cost more)


def _view(buf: Any, offset: int, shape: tuple, strides: tuple) -> Any:
    """A strided view of the flat buffer ``buf`` from element ``offset``, strides in elements (like
    ``as_strided``, several times cheaper to call)."""
    it = buf.itemsize
    return np.ndarray(shape, buf.dtype, buf, offset * it, tuple(v * it for v in strides))


class _Plan:
    """The geometry of one convolution on the CPU: sizes, the padded plane, the column width, the chunks."""

    def __init__(self, x_shape: tuple, w_shape: tuple, g: Any, oh: int, ow: int, dtype: Any) -> None:
        self.n, self.c, self.h, self.w = x_shape
        self.f, self.cg, self.kh, self.kw = w_shape
        self.g, self.oh, self.ow = g, oh, ow
        self.groups = g.groups
        self.dtype = np.dtype(dtype)
        sw, dw = g.stride[1], g.dilation[1]
        pt, pb, pl, pr = g.padding
        self.hp, self.wp = self.h + pt + pb, self.w + pl + pr
        self.wide = sw == 1 and ow < WIDE_BELOW and self.wp <= WIDE_MAX * ow
        self.owc = self.wp if self.wide else ow
        # a wide row reads up to (kW-1)*dW elements past its padded row (into the next one, or this tail)
        self.tail = (self.kw - 1) * dw if self.wide else 0
        # the input gradient by kernel offsets into a channels-last image (see input_grad_by_offset)
        self.by_offset = self.wide and g.stride == (1, 1) and self.groups == 1
        self.k = self.c * self.kh * self.kw
        self.kg = self.cg * self.kh * self.kw
        self.fg = self.f // self.groups
        self.cols_per_image = oh * self.owc
        per_image = (self.k + 1) * self.cols_per_image * self.dtype.itemsize
        m = max(1, min(-(-self.n // MIN_CHUNKS), CHUNK_BYTES // max(per_image, 1)))
        self.chunks = [(s, min(self.n, s + m)) for s in range(0, self.n, m)]
        self.flops = 2.0 * self.f * self.kg * self.n * oh * ow
        self.key = (x_shape, w_shape, g, oh, ow, self.dtype.str)

    def _rows(self, m: int) -> tuple[int, int]:
        """(stride of a channel, stride of a padded row) in a chunk's (C, Hp, m, Wp) buffers."""
        return self.hp * m * self.wp, m * self.wp

    def columns(self, x: Any, s: int, e: int) -> Any:
        """cols (K+1, L*m) of images s..e-1, columns ordered (oh, n, ow) (a workspace of the calling thread;
        the last row is ones)."""
        m, c = e - s, self.c
        (sh, sw), (dh, dw) = self.g.stride, self.g.dilation
        pt, _, pl, _ = self.g.padding
        cs, rs = self._rows(m)
        pad = _cpu.workspace(("pad", self.key, m), c * cs + self.tail, self.dtype, fill=0).a
        body = pad[:c * cs].reshape(c, self.hp, m, self.wp)
        body[:, pt:pt + self.h, :, pl:pl + self.w] = x[s:e].transpose(1, 2, 0, 3)  # the border stays zero
        shape, strides = (c, self.kh, self.kw, self.oh, m, self.owc), (cs, dh * rs, dw, sh * rs, self.wp, sw)
        view = _view(pad, 0, shape, strides)
        cols = _cpu.workspace(("cols", self.key, m), (self.k + 1) * m * self.cols_per_image, self.dtype,
                              fill=1.0).a.reshape(self.k + 1, m * self.cols_per_image)
        np.copyto(cols[:self.k].reshape(view.shape), view)
        return cols

    def dy_columns(self, gy: Any, s: int, e: int) -> Any:
        """dyc (F, L*m): dy of images s..e-1 in the order of the columns, zero in the junk columns of wide
        rows (a workspace)."""
        m = e - s
        a = _cpu.workspace(("dy", self.key, m), self.f * m * self.cols_per_image, self.dtype, fill=0).a
        a4 = a.reshape(self.f, self.oh, m, self.owc)
        a4[:, :, :, :self.ow] = gy[s:e].transpose(1, 2, 0, 3)
        return a.reshape(self.f, m * self.cols_per_image)

    def output(self, y: Any, out: Any, s: int, e: int) -> None:
        """out[s:e] (m, F, OH, OW) = the GEMM result y (F, L*m) without its junk columns."""
        out[s:e] = y.reshape(self.f, self.oh, e - s, self.owc)[:, :, :, :self.ow].transpose(2, 0, 1, 3)

    def col2im(self, dcols: Any, gx: Any, s: int, e: int) -> None:
        """gx[s:e] = the adjoint of ``columns``: each pixel sums the column entries that read it."""
        m, c = e - s, self.c
        (sh, sw), (dh, dw) = self.g.stride, self.g.dilation
        pt, _, pl, _ = self.g.padding
        cs, rs = self._rows(m)
        buf = _cpu.workspace(("col2im", self.key, m), c * cs + self.tail, self.dtype).a
        buf[...] = 0
        d6 = dcols.reshape(c, self.kh, self.kw, self.oh, m, self.owc)
        shape, strides = (c, self.oh, m, self.owc), (cs, sh * rs, self.wp, sw)
        for i in range(self.kh):
            for j in range(self.kw):
                tgt = _view(buf, i * dh * rs + j * dw, shape, strides)
                tgt += d6[:, i, j]
        body = buf[:c * cs].reshape(c, self.hp, m, self.wp)
        gx[s:e] = body[:, pt:pt + self.h, :, pl:pl + self.w].transpose(2, 0, 1, 3)


    def input_grad_by_offset(self, wij: Any, dyc: Any, gx: Any, s: int, e: int) -> None:
        """gx[s:e] from dyc for a stride-1 conv with wide rows and one group, one kernel offset at a time.

        For offset (i, j), d_ij = dyc^T @ w[:, :, i, j] is (L*m, C): rows in column order (oh, n, ow'),
        channels last. In a channels-last padded image (Hp, m, Wp, C) the pixels it adds to, at
        ((oh + i*dH)*m + n)*Wp + ow' + j*dW, are then one contiguous run: each offset is a small GEMM
        whose result is still in cache when it is added, in one contiguous pass (the junk rows of d_ij
        are zero, so what they add past a row's end is nothing). ``wij`` is w as (kH, kW, F, C).
        """
        m, c = e - s, self.c
        dh, dw = self.g.dilation
        pt, _, pl, _ = self.g.padding
        run = self.oh * m * self.wp * c  # elements of one offset's contribution
        size = (self.hp * m * self.wp + self.tail) * c
        buf = _cpu.workspace(("col2im-cl", self.key, m), size, self.dtype).a
        buf[...] = 0
        d = _cpu.workspace(("d_ij", self.key, m), run, self.dtype).a.reshape(-1, c)
        dyc_t = dyc.T
        for i in range(self.kh):
            for j in range(self.kw):
                np.matmul(dyc_t, wij[i, j], out=d)
                off = (i * dh * m * self.wp + j * dw) * c
                tgt = buf[off:off + run]
                tgt += d.reshape(-1)
        body = buf[:self.hp * m * self.wp * c].reshape(self.hp, m, self.wp, c)
        gx[s:e] = body[pt:pt + self.h, :, pl:pl + self.w].transpose(1, 3, 0, 2)


def _run(plan: _Plan, fn: Any) -> None:
    """``fn(index, s, e)`` for every chunk. A conv of several chunks, large enough to pay for the hand-off,
    runs on min(``_cpu.num_threads``, chunks) threads, each with a one-thread BLAS, taking the next chunk
    when done with one (with one thread too when ``num_threads`` is 1, so that the result does not depend
    on the thread count); otherwise the chunks run in order on this thread with BLAS as it is."""
    chunks = plan.chunks
    if len(chunks) < 2 or not _blas.available or plan.flops < _PAR_MIN_FLOPS:
        with _blas.gemm(plan.flops / len(chunks)):  # one GEMM per chunk, threaded by the BLAS policy
            for i, (s, e) in enumerate(chunks):
                fn(i, s, e)
        return
    todo = iter(range(len(chunks)))
    lock = threading.Lock()

    def worker(_lo: int, _hi: int) -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            fn(i, *chunks[i])

    with _blas.single_threaded():
        k = min(_cpu.num_threads, len(chunks))
        _cpu.parallel(worker, k, _cpu.PAR_MIN_BYTES)


def forward(x: Any, w: Any, b: Any, g: Any, oh: int, ow: int) -> Any:
    """y (N, F, OH, OW) = conv2d(x, w) + b: a fresh array."""
    plan = _Plan(x.shape, w.shape, g, oh, ow, x.dtype)
    f, groups = plan.f, plan.groups
    out = np.empty((plan.n, f, oh, ow), dtype=x.dtype)
    if out.size == 0:
        return out
    if plan.k == 0:
        out[...] = 0 if b is None else b.reshape(1, f, 1, 1)
        return out
    if groups == 1:
        wm = w.reshape(f, plan.k)
        if b is not None:  # the bias rides in the GEMM on the row of ones
            wm = np.concatenate([wm, b.reshape(f, 1)], axis=1)
    else:
        wm = w.reshape(groups, plan.fg, plan.kg)
    b4 = None if b is None or groups == 1 else b.reshape(1, f, 1, 1)
    k1 = plan.k + 1 if groups == 1 and b is not None else plan.k

    def chunk(_: int, s: int, e: int) -> None:
        m = e - s
        cols = plan.columns(x, s, e)
        y = _cpu.workspace(("y", plan.key, m), f * m * plan.cols_per_image, x.dtype).a
        if groups == 1:
            np.matmul(wm, cols[:k1], out=y.reshape(f, -1))
        else:
            np.matmul(wm, cols[:plan.k].reshape(groups, plan.kg, -1), out=y.reshape(groups, plan.fg, -1))
        plan.output(y, out, s, e)
        if b4 is not None:
            out[s:e] += b4

    _run(plan, chunk)
    return out


def backward(x: Any, x_shape: tuple, w: Any, w_shape: tuple, gy: Any, g: Any,
             need_x: bool, need_w: bool, need_b: bool) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of y = conv2d(x, w) + b for the output gradient gy (N, F, OH, OW), in one pass over the
    chunks; each is ``None`` unless asked for. dx needs ``w``; dw and db need ``x`` (else may be None)."""
    n, f, oh, ow = gy.shape
    plan = _Plan(x_shape, w_shape, g, oh, ow, gy.dtype)
    groups, k, kg, fg = plan.groups, plan.k, plan.kg, plan.fg
    gx = np.empty(x_shape, gy.dtype) if need_x else None
    if n == 0 or f == 0 or k == 0:
        if gx is not None:
            gx[...] = 0
        gw = np.zeros(w_shape, gy.dtype) if need_w else None
        gb = gy.sum((0, 2, 3)) if need_b else None
        return gx, gw, gb
    if need_x and plan.by_offset:
        wij = np.ascontiguousarray(w.transpose(2, 3, 0, 1))  # (kH, kW, F, C)
    elif need_x:
        w3t = w.reshape(groups, fg, kg).transpose(0, 2, 1)  # (G, Kg, F/G)
    k1 = k + 1 if need_b and groups == 1 else k
    parts: list[Any] = [None] * len(plan.chunks)  # per-chunk [dw | db] (or dw) and db

    def chunk(index: int, s: int, e: int) -> None:
        m = e - s
        dyc = plan.dy_columns(gy, s, e)
        if need_w:
            cols = plan.columns(x, s, e)
            if groups == 1:
                # dw^T = cols @ dyc^T when K >= F: the GEMM's longer output side as its rows
                part = (cols[:k1] @ dyc.T).T if k1 >= f else dyc @ cols[:k1].T
                parts[index] = (part, None)
            else:
                cols3 = cols[:k].reshape(groups, kg, -1)
                part = np.matmul(dyc.reshape(groups, fg, -1), cols3.transpose(0, 2, 1))
                parts[index] = (part, dyc.sum(axis=1) if need_b else None)
        elif need_b:
            parts[index] = (None, dyc.sum(axis=1))
        if need_x and plan.by_offset:
            plan.input_grad_by_offset(wij, dyc, gx, s, e)
        elif need_x:
            dcols = _cpu.workspace(("dcols", plan.key, m), k * m * plan.cols_per_image, gy.dtype).a
            np.matmul(w3t, dyc.reshape(groups, fg, -1), out=dcols.reshape(groups, kg, -1))
            plan.col2im(dcols, gx, s, e)

    _run(plan, chunk)
    gw = gb = None
    if need_w or need_b:
        total = parts[0]
        acc = [None if a is None else a.copy() for a in total]
        for p in parts[1:]:
            for j in range(2):
                if p[j] is not None:
                    acc[j] += p[j]
        if need_w:
            dw = acc[0]
            if groups == 1:
                if need_b:
                    gb = np.ascontiguousarray(dw[:, k])
                gw = np.ascontiguousarray(dw[:, :k]).reshape(w_shape)
            else:
                gw = dw.reshape(w_shape)
        if need_b and gb is None:
            gb = acc[1]
    return gx, gw, gb
