"""Fused recurrent kernels: LSTM, GRU and Elman RNN cells and whole-sequence layers, as autograd Functions.

Gate layout (PyTorch's, so weights load from a PyTorch ``state_dict`` by name). With ``H`` the hidden
size, the stacked weights are ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih (G*H,)``,
``bias_hh (G*H,)`` and the gate blocks follow each other along the first axis:

- LSTM (G=4), blocks ``i, f, g, o``::

      gates = x @ W_ih^T + b_ih + h @ W_hh^T + b_hh            (B, 4H)
      i, f, o = sigmoid(gates_i), sigmoid(gates_f), sigmoid(gates_o);  g = tanh(gates_g)
      c' = f * c + i * g;   h' = o * tanh(c')

- GRU (G=3), blocks ``r, z, n``; the input part ``xg = x @ W_ih^T + b_ih`` and the hidden part
  ``hg = h @ W_hh^T + b_hh`` stay separate because ``r`` multiplies only the hidden ``n`` block::

      r = sigmoid(xg_r + hg_r);  z = sigmoid(xg_z + hg_z);  n = tanh(xg_n + r * hg_n)
      h' = (1 - z) * n + z * h

- RNN (G=1): ``h' = tanh(xg + hg)`` or ``relu(xg + hg)``.

A multi-layer module names them ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
with the suffix ``_reverse`` for the backward direction of a bidirectional layer.

How a layer is computed. The input projection of every time step is ONE GEMM
(:class:`GateProjection`: ``(T*B, I) @ W_ih^T``). The recurrence over the whole sequence is ONE graph
node (:class:`LSTMSequence`, :class:`GRUSequence`, :class:`RNNSequence`): its forward loops over time on
raw arrays (per step one GEMM ``h @ W_hh^T`` into a preallocated buffer, then the fused cell), saving the
gate activations, and its backward is back-propagation through time on arrays, with the recurrent weight
gradient computed as ONE GEMM over all steps (``dGates^T (4H, T*B) @ H_prev (T*B, H)``).

Higher-order gradients. When the backward pass is itself recorded (``create_graph=True``), the same
backward is built instead from differentiable Functions: per step one :class:`GateProjection` and one
fused cell (:class:`FusedLSTMCell` ...) to recompute the states, and the cell gradients written in
differentiable minigrad ops (:func:`lstm_cell_grads` ...). So gradients of any order are available,
and the fast array path is what plain ``backward()`` runs.

The fused cells are also public (:func:`lstm_cell`, :func:`gru_cell`, :func:`rnn_tanh_cell`,
:func:`rnn_relu_cell`): one node per step, all gate nonlinearities and the state update in one op, for
step-by-step use (``nn.LSTMCell``) or custom loops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _blas
from .. import ops as _ops
from ..autograd import Function
from ..backend import get_array_module
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor

__all__ = [
    "GateProjection", "FusedLSTMCell", "FusedGRUCell", "FusedRNNCell", "LSTMSequence", "GRUSequence",
    "RNNSequence", "gate_projection", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
    "lstm_cell_grads", "gru_cell_grads", "rnn_cell_grads", "lstm_layer", "gru_layer", "rnn_layer",
]

_make = Tensor._make


# =================================================================================================
# Array kernels (NumPy; CuPy arrays go to the fused CUDA kernels in _rnn_cuda.py)
# =================================================================================================
def _sigmoid_(xp: Any, x: Any) -> None:
    """x <- sigmoid(x) = 1 / (1 + e^-x) in place (NumPy).

    Stable: for x < -88 (float32) e^-x overflows to inf and 1 / (1 + inf) = 0 is the correctly rounded
    result, so the overflow warning is silenced. Same relative accuracy as ``ops.unary._sigmoid_array``
    (the e^-|x| form) in half the passes over memory and without temporaries.
    """
    with np.errstate(over="ignore"):
        xp.negative(x, out=x)
        xp.exp(x, out=x)
    x += 1
    xp.divide(1, x, out=x)            # faster than reciprocal in NumPy


def _lstm_step(xp: Any, xg: Any, hg: Any, c: Any, act: Any, c_new: Any, tc: Any, h_new: Any) -> None:
    """One LSTM cell on arrays.

    Inputs: xg, hg (B, 4H) input and hidden gate pre-activations; c (B, H).
    Outputs (written): act (B, 4H) = [i, f, g, o] activations (may be ``hg`` itself), c_new = f c + i g,
    tc = tanh(c_new), h_new = o tc (all (B, H)).
    """
    if xp is not np:
        from . import _rnn_cuda

        _rnn_cuda.lstm_forward(xg, hg, c, act, c_new, tc, h_new)
        return
    H = c.shape[1]
    xp.add(hg, xg, out=act)
    g = act[:, 2 * H:3 * H]
    xp.tanh(g, out=tc)                          # tc holds g for now
    _sigmoid_(xp, act)                          # whole contiguous buffer: strided slices cost more per pass
    g[...] = tc
    xp.multiply(act[:, H:2 * H], c, out=c_new)  # f c
    xp.multiply(act[:, :H], tc, out=tc)         # i g
    c_new += tc
    xp.tanh(c_new, out=tc)
    xp.multiply(act[:, 3 * H:], tc, out=h_new)


def _lstm_step_back(xp: Any, gh: Any, gc: Any, act: Any, c: Any, tc: Any, dg: Any, dc_prev: Any) -> None:
    """Backward of one LSTM cell on arrays (``gh``, ``gc`` are read, not modified).

    dc = gc + gh o (1 - tc^2);  d[i, f, g, o] = [dc g i(1-i), dc c f(1-f), dc i (1-g^2), gh tc o(1-o)]
    written to dg (B, 4H);  dc_prev = dc f (B, H).
    """
    if xp is not np:
        from . import _rnn_cuda

        _rnn_cuda.lstm_backward(gh, gc, act, c, tc, dg, dc_prev)
        return
    H = c.shape[1]
    B = c.shape[0]
    i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
    d = xp.subtract(1, act)                     # activation derivatives, whole buffer: s (1 - s) ...
    d *= act
    dgd = d[:, 2 * H:3 * H]                     # ... and 1 - g^2 for the tanh block
    xp.multiply(g, g, out=dgd)
    xp.subtract(1, dgd, out=dgd)
    dc = xp.multiply(tc, tc)                    # dc = gc + gh o (1 - tc^2)
    xp.subtract(1, dc, out=dc)
    dc *= o
    dc *= gh
    dc += gc
    dg3 = dg.reshape(B, 4, H)
    xp.multiply(dc, g, out=dg3[:, 0])           # d pre = [dc g, dc c, dc i, gh tc] * derivative
    xp.multiply(dc, c, out=dg3[:, 1])
    xp.multiply(dc, i, out=dg3[:, 2])
    xp.multiply(gh, tc, out=dg3[:, 3])
    dg *= d
    xp.multiply(dc, f, out=dc_prev)


def _gru_step(xp: Any, xg: Any, hg: Any, h: Any, act: Any, h_new: Any) -> None:
    """One GRU cell on arrays: xg, hg (B, 3H) input / hidden projections (with biases), h (B, H).

    Writes act (B, 3H) = [r, z, n] and h_new = n + z (h - n).
    """
    if xp is not np:
        from . import _rnn_cuda

        _rnn_cuda.gru_forward(xg, hg, h, act, h_new)
        return
    H = h.shape[1]
    xp.add(xg, hg, out=act)
    _sigmoid_(xp, act)  # r, z; the whole contiguous buffer is cheaper than the strided r|z slice
    n = act[:, 2 * H:]
    xp.multiply(act[:, :H], hg[:, 2 * H:], out=n)
    n += xg[:, 2 * H:]
    xp.tanh(n, out=n)
    xp.subtract(h, n, out=h_new)
    h_new *= act[:, H:2 * H]
    h_new += n


def _gru_step_back(xp: Any, gh: Any, act: Any, hg: Any, h: Any, dxg: Any, dhg: Any, dh: Any) -> None:
    """Backward of one GRU cell on arrays (``gh`` is read; ``dh`` may be ``gh``'s buffer).

    dn = gh (1-z)(1-n^2);  dr = dn hg_n r(1-r);  dz = gh (h-n) z(1-z)
    dxg = [dr, dz, dn];  dhg = [dr, dz, dn r];  dh = gh z (the direct path; the caller adds dhg @ W_hh).
    """
    if xp is not np:
        from . import _rnn_cuda

        _rnn_cuda.gru_backward(gh, act, hg, h, dxg, dhg, dh)
        return
    B, H = h.shape
    n = act[:, 2 * H:]
    d3 = xp.subtract(1, act).reshape(B, 3, H)   # derivatives: r(1-r), z(1-z) ...
    d3 *= act.reshape(B, 3, H)
    xp.multiply(n, n, out=d3[:, 2])             # ... and 1 - n^2
    xp.subtract(1, d3[:, 2], out=d3[:, 2])
    x3 = dxg.reshape(B, 3, H)
    xp.subtract(1, act[:, H:2 * H], out=x3[:, 2])   # dn = gh (1 - z) (1 - n^2)
    x3[:, 2] *= gh
    x3[:, 2] *= d3[:, 2]
    xp.subtract(h, n, out=x3[:, 1])             # dz = gh (h - n) z (1 - z)
    x3[:, 1] *= gh
    xp.multiply(x3[:, 2], hg[:, 2 * H:], out=x3[:, 0])   # dr = dn hg_n r (1 - r)
    x3[:, :2] *= d3[:, :2]
    dhg[...] = dxg
    dhg[:, 2 * H:] *= act[:, :H]                # dhg_n = dn r
    xp.multiply(gh, act[:, H:2 * H], out=dh)


def _rnn_act_(xp: Any, x: Any, relu: bool) -> None:
    if relu:
        xp.maximum(x, 0, out=x)
    else:
        xp.tanh(x, out=x)


def _rnn_act_grad(xp: Any, gh: Any, h: Any, relu: bool, out: Any) -> None:
    """out = gh * act'(pre), from the output h: 1 - h^2 for tanh, [h > 0] for relu."""
    if relu:
        xp.multiply(gh, h > 0, out=out)
    else:
        xp.multiply(h, h, out=out)
        xp.subtract(1, out, out=out)
        out *= gh


# =================================================================================================
# Differentiable cell gradients (used when the backward pass is recorded, for higher-order gradients)
# =================================================================================================
def lstm_cell_grads(gh: Tensor, gc: Tensor, x_gates: Tensor, h_gates: Tensor,
                    c: Tensor) -> tuple[Tensor, Tensor]:
    """Gradients of one LSTM cell, built from differentiable ops (so they can be differentiated again).

    Inputs: gh, gc (B, H) upstream gradients of h' and c'; x_gates, h_gates (B, 4H); c (B, H).
    Returns (d_gates (B, 4H), d_c (B, H)); d_gates is the gradient of both x_gates and h_gates.
    """
    i, f, g, o = _ops.chunk(x_gates + h_gates, 4, 1)
    i, f, g, o = _ops.sigmoid(i), _ops.sigmoid(f), _ops.tanh(g), _ops.sigmoid(o)
    tc = _ops.tanh(f * c + i * g)
    dc = gc + gh * o * (1.0 - tc * tc)
    di = dc * g * (i * (1.0 - i))
    df = dc * c * (f * (1.0 - f))
    dg = dc * i * (1.0 - g * g)
    do = gh * tc * (o * (1.0 - o))
    return _ops.cat([di, df, dg, do], 1), dc * f


def gru_cell_grads(gh: Tensor, x_gates: Tensor, h_gates: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of one GRU cell in differentiable ops: returns (d_x_gates, d_h_gates, d_h_direct).

    dn = gh (1-z)(1-n^2); dr = dn hg_n r(1-r); dz = gh (h-n) z(1-z); d_x = [dr, dz, dn];
    d_h_gates = [dr, dz, dn r]; d_h_direct = gh z.
    """
    xr, xz, xn = _ops.chunk(x_gates, 3, 1)
    hr, hz, hn = _ops.chunk(h_gates, 3, 1)
    r, z = _ops.sigmoid(xr + hr), _ops.sigmoid(xz + hz)
    n = _ops.tanh(xn + r * hn)
    dn = gh * (1.0 - z) * (1.0 - n * n)
    dr = dn * hn * (r * (1.0 - r))
    dz = gh * (h - n) * (z * (1.0 - z))
    return _ops.cat([dr, dz, dn], 1), _ops.cat([dr, dz, dn * r], 1), gh * z


def rnn_cell_grads(gh: Tensor, x_gates: Tensor, h_gates: Tensor, nonlinearity: str) -> Tensor:
    """Gradient of the pre-activation of one Elman cell, in differentiable ops: gh * act'(xg + hg)."""
    pre = x_gates + h_gates
    if nonlinearity == "relu":
        return gh * _make((pre.array > 0).astype(pre.dtype))
    y = _ops.tanh(pre)
    return gh * (1.0 - y * y)


# =================================================================================================
# Functions
# =================================================================================================
class GateProjection(Function):
    """y = x @ W^T (+ b): all gate pre-activations of all positions in one GEMM.

    Inputs: x (..., I), W (G, I), optional b (G,). Output: y (..., G); leading dims are flattened
    into the GEMM's rows. Backward: dx = dy @ W, dW = dy^T x, db = dy summed over the leading dims.
    """

    saved_inputs = ((1,), (0,), ())

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        y = _blas.mm(x.reshape(-1, x.shape[-1]), w.T)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy: Tensor) -> tuple:
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        g2 = _ops.reshape(gy, (-1, w.shape[0])) if gy.ndim != 2 else gy
        gx = _ops.reshape(_ops.matmul(g2, w), x.shape) if need[0] else None
        gw = None
        if need[1]:
            x2 = _ops.reshape(x, (-1, w.shape[1])) if x.ndim != 2 else x
            gw = _ops.matmul(_ops.t(g2), x2)
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, (_ops.sum(g2, 0) if need[2] else None)


class FusedLSTMCell(Function):
    """One LSTM step in one node: (x_gates, h_gates, c) -> (h', c').

    Inputs: x_gates, h_gates (B, 4H) gate pre-activations in the order [i, f, g, o] (biases included);
    c (B, H). Outputs: h' = o tanh(c'), c' = f c + i g. Saves the gate activations and tanh(c').
    Backward: dc = dc' + dh' o (1 - tanh^2 c'); d[i,f,g,o] = [dc g i(1-i), dc c f(1-f), dc i (1-g^2),
    dh' tanh(c') o(1-o)] for both gate inputs; d c = dc f.
    """

    def forward(self, xg: Any, hg: Any, c: Any) -> Any:
        xp = get_array_module(xg)
        act = xp.empty(xg.shape, xg.dtype)
        c_new, tc, h_new = (xp.empty(c.shape, c.dtype) for _ in range(3))
        _lstm_step(xp, xg, hg, c, act, c_new, tc, h_new)
        self.act, self.tc = act, tc
        return h_new, c_new

    def backward(self, gh: Tensor, gc: Tensor) -> tuple:
        xg, hg, c = self.inputs
        need = self.needs_input_grad
        if is_grad_enabled():
            dg, dc = lstm_cell_grads(gh, gc, xg, hg, c)
        else:
            xp = get_array_module(gh.array)
            dga = xp.empty(self.act.shape, self.act.dtype)
            dca = xp.empty(c.shape, c.dtype)
            _lstm_step_back(xp, gh.array, gc.array, self.act, c.array, self.tc, dga, dca)
            dg, dc = _make(dga), _make(dca)
        return (dg if need[0] else None), (dg if need[1] else None), (dc if need[2] else None)


class FusedGRUCell(Function):
    """One GRU step in one node: (x_gates, h_gates, h) -> h'.

    Inputs: x_gates = x W_ih^T + b_ih and h_gates = h W_hh^T + b_hh, both (B, 3H) in the order [r, z, n];
    h (B, H). Output h' = (1 - z) n + z h with r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r h_n).
    Backward: see :func:`gru_cell_grads`; the h input receives only the direct term dh' z.
    """

    def forward(self, xg: Any, hg: Any, h: Any) -> Any:
        xp = get_array_module(xg)
        act = xp.empty(xg.shape, xg.dtype)
        h_new = xp.empty(h.shape, h.dtype)
        _gru_step(xp, xg, hg, h, act, h_new)
        self.act = act
        return h_new

    def backward(self, gh: Tensor) -> tuple:
        xg, hg, h = self.inputs
        need = self.needs_input_grad
        if is_grad_enabled():
            dx, dhg, dh = gru_cell_grads(gh, xg, hg, h)
        else:
            xp = get_array_module(gh.array)
            dxa, dhga = xp.empty(xg.shape, xg.dtype), xp.empty(xg.shape, xg.dtype)
            dha = xp.empty(h.shape, h.dtype)
            _gru_step_back(xp, gh.array, self.act, hg.array, h.array, dxa, dhga, dha)
            dx, dhg, dh = _make(dxa), _make(dhga), _make(dha)
        return (dx if need[0] else None), (dhg if need[1] else None), (dh if need[2] else None)


class FusedRNNCell(Function):
    """One Elman step in one node: h' = act(x_gates + h_gates), act = tanh or relu.

    Inputs: x_gates, h_gates (B, H). Output h' (B, H). Backward: d pre = dh' (1 - h'^2) for tanh,
    dh' [h' > 0] for relu, for both inputs.
    """

    def __init__(self, nonlinearity: str = "tanh") -> None:
        self.relu = nonlinearity == "relu"

    def forward(self, xg: Any, hg: Any) -> Any:
        xp = get_array_module(xg)
        h = xp.add(xg, hg)
        _rnn_act_(xp, h, self.relu)
        self.h = h
        return h

    def backward(self, gh: Tensor) -> tuple:
        self.check_outputs()  # the outputs alias the saved hidden states
        need = self.needs_input_grad
        if is_grad_enabled():
            d = rnn_cell_grads(gh, self.inputs[0], self.inputs[1], "relu" if self.relu else "tanh")
        else:
            xp = get_array_module(gh.array)
            da = xp.empty(self.h.shape, self.h.dtype)
            _rnn_act_grad(xp, gh.array, self.h, self.relu, da)
            d = _make(da)
        return (d if need[0] else None), (d if need[1] else None)


def _steps(T: int, reverse: bool) -> range:
    """Time indices in processing order."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _time_ordered(xp: Any, hs: Any, reverse: bool) -> Any:
    """(T, ...) states stored in processing order -> time order."""
    return xp.ascontiguousarray(hs[::-1]) if reverse else hs


class LSTMSequence(Function):
    """The recurrence of one LSTM layer over a whole sequence, as one node.

    Inputs: xg (T, B, 4H) input projections x_t W_ih^T + b_ih + b_hh (gates [i, f, g, o]); h0, c0 (B, H);
    w_hh (4H, H). Outputs: out (T, B, H) (the h_t, in time order), h_n (B, H), c_n (B, H). With
    ``reverse`` the steps run from t = T-1 down to 0 (the backward direction of a bidirectional layer).
    Forward per step: gates = xg_t + h W_hh^T (one GEMM), then the fused cell.
    Backward (BPTT): per step the fused cell backward and dh_prev = dgates W_hh (one GEMM);
    dW_hh = dgates^T h_prev as one GEMM over all steps; dxg = dgates.
    """

    def __init__(self, reverse: bool = False, save: bool = True) -> None:
        """``reverse``: run from the last step to the first; ``save``: keep what backward needs."""
        self.reverse, self.save = reverse, save

    def forward(self, xg: Any, h0: Any, c0: Any, w: Any) -> Any:
        xp = get_array_module(xg)
        T, B, G = xg.shape
        H, dt, save = G // 4, xg.dtype, self.save
        acts = xp.empty((T if save else 1, B, G), dt)
        tcs = xp.empty((T if save else 1, B, H), dt)
        cs = xp.empty((T + 1 if save else 2, B, H), dt)
        hs = xp.empty((T + 1, B, H), dt)
        cs[0], hs[0] = c0, h0
        wt = xp.ascontiguousarray(w.T)  # (H, 4H): a little faster per step than the transposed view
        with _blas.gemm(2 * B * H * G):  # each step's GEMM: (B, H) x (H, G) or its transpose
            for s, t in enumerate(_steps(T, self.reverse)):
                k = s if save else 0
                a = acts[k]
                xp.matmul(hs[s], wt, out=a)
                c_prev, c_new = (cs[s], cs[s + 1]) if save else (cs[s % 2], cs[(s + 1) % 2])
                _lstm_step(xp, xg[t], a, c_prev, a, c_new, tcs[k], hs[s + 1])
        if save:
            self.acts, self.tcs, self.cs, self.hs = acts, tcs, cs, hs
        # a copy when hs is kept for backward, so that changing the output in place (relu_, dropout with
        # inplace=True) cannot reach the saved hidden states
        out = xp.ascontiguousarray(hs[:0:-1]) if self.reverse else (hs[1:].copy() if save else hs[1:])
        return out, hs[T].copy(), (cs[T] if save else cs[T % 2]).copy()

    def backward(self, gout: Tensor, ghn: Tensor, gcn: Tensor) -> tuple:
        if is_grad_enabled():
            return self._recorded_backward(gout, ghn, gcn)
        xg, h0, c0, w = (x.array for x in self.inputs)
        need = self.needs_input_grad
        xp = get_array_module(xg)
        T, B, G = xg.shape
        H = G // 4
        go = gout.array
        dG = xp.empty((T, B, G), xg.dtype)   # time order
        dh = xp.array(ghn.array, dtype=xg.dtype, copy=True)
        dc = xp.array(gcn.array, dtype=xg.dtype, copy=True)
        dc2 = xp.empty_like(dc)
        steps = list(_steps(T, self.reverse))
        with _blas.gemm(2 * B * H * G):  # each step's GEMM: (B, H) x (H, G) or its transpose
            for s in range(T - 1, -1, -1):
                t = steps[s]
                dh += go[t]
                _lstm_step_back(xp, dh, dc, self.acts[s], self.cs[s], self.tcs[s], dG[t], dc2)
                dc, dc2 = dc2, dc
                if s > 0 or need[1]:
                    xp.matmul(dG[t], w, out=dh)
        gw = None
        if need[3]:
            hprev = _time_ordered(xp, self.hs[:T], self.reverse)
            gw = _make(_blas.mm(dG.reshape(T * B, G).T, hprev.reshape(T * B, H)))
        return (_make(dG) if need[0] else None, _make(dh) if need[1] else None,
                _make(dc) if need[2] else None, gw)

    def _recorded_backward(self, gout: Tensor, ghn: Tensor, gcn: Tensor) -> tuple:
        """The same gradients from differentiable Functions (recompute the states, then BPTT in ops)."""
        xg, h0, c0, w = self.inputs
        T, H = xg.shape[0], w.shape[1]
        xs, gos = _ops.unbind(xg, 0), _ops.unbind(gout, 0)
        h, c = h0, c0
        saved: dict[int, tuple] = {}
        for t in _steps(T, self.reverse):
            hg = GateProjection()(h, w)
            saved[t] = (h, c, hg)
            h, c = FusedLSTMCell()(xs[t], hg, c)
        dh, dc = ghn, gcn
        dgs: list[Any] = [None] * T
        for t in reversed(_steps(T, self.reverse)):
            hp, cp, hg = saved[t]
            dh = dh + gos[t]
            dgs[t], dc = lstm_cell_grads(dh, dc, xs[t], hg, cp)
            dh = _ops.matmul(dgs[t], w)
        dG = _ops.stack(dgs, 0)
        need = self.needs_input_grad
        gw = None
        if need[3]:
            hp = _ops.stack([saved[t][0] for t in range(T)], 0)
            gw = _ops.matmul(_ops.t(_ops.reshape(dG, (-1, 4 * H))), _ops.reshape(hp, (-1, H)))
        return (dG if need[0] else None, dh if need[1] else None, dc if need[2] else None, gw)


class GRUSequence(Function):
    """The recurrence of one GRU layer over a whole sequence, as one node.

    Inputs: xg (T, B, 3H) input projections x_t W_ih^T + b_ih (gates [r, z, n]); h0 (B, H); w_hh (3H, H);
    b_hh (3H,). Outputs: out (T, B, H), h_n (B, H). Forward per step: hg = h W_hh^T + b_hh (one GEMM),
    then the fused cell. Backward (BPTT): per step the fused cell backward and
    dh_prev = dh' z + dhg W_hh; dW_hh = dhg^T h_prev and db_hh = sum dhg over all steps at once.
    """

    def __init__(self, reverse: bool = False, save: bool = True) -> None:
        """``reverse``: run from the last step to the first; ``save``: keep what backward needs."""
        self.reverse, self.save = reverse, save

    def forward(self, xg: Any, h0: Any, w: Any, b: Any) -> Any:
        xp = get_array_module(xg)
        T, B, G = xg.shape
        H, dt, save = G // 3, xg.dtype, self.save
        hgs = xp.empty((T if save else 1, B, G), dt)
        acts = xp.empty((T if save else 1, B, G), dt)
        hs = xp.empty((T + 1, B, H), dt)
        hs[0] = h0
        wt = xp.ascontiguousarray(w.T)
        with _blas.gemm(2 * B * H * G):  # each step's GEMM: (B, H) x (H, G) or its transpose
            for s, t in enumerate(_steps(T, self.reverse)):
                k = s if save else 0
                hg = hgs[k]
                xp.matmul(hs[s], wt, out=hg)
                hg += b
                _gru_step(xp, xg[t], hg, hs[s], acts[k], hs[s + 1])
        if save:
            self.hgs, self.acts, self.hs = hgs, acts, hs
        # a copy when hs is kept for backward, so that changing the output in place (relu_, dropout with
        # inplace=True) cannot reach the saved hidden states
        out = xp.ascontiguousarray(hs[:0:-1]) if self.reverse else (hs[1:].copy() if save else hs[1:])
        return out, hs[T].copy()

    def backward(self, gout: Tensor, ghn: Tensor) -> tuple:
        if is_grad_enabled():
            return self._recorded_backward(gout, ghn)
        xg, h0, w, b = (x.array for x in self.inputs)
        need = self.needs_input_grad
        xp = get_array_module(xg)
        T, B, G = xg.shape
        H = G // 3
        go = gout.array
        dX = xp.empty((T, B, G), xg.dtype)   # time order
        dHG = xp.empty((T, B, G), xg.dtype)
        dh = xp.array(ghn.array, dtype=xg.dtype, copy=True)
        dh2 = xp.empty_like(dh)
        steps = list(_steps(T, self.reverse))
        with _blas.gemm(2 * B * H * G):  # each step's GEMM: (B, H) x (H, G) or its transpose
            for s in range(T - 1, -1, -1):
                t = steps[s]
                dh += go[t]
                _gru_step_back(xp, dh, self.acts[s], self.hgs[s], self.hs[s], dX[t], dHG[t], dh2)
                if s > 0 or need[1]:
                    xp.matmul(dHG[t], w, out=dh)
                    dh += dh2
        gw = gb = None
        if need[2]:
            hprev = _time_ordered(xp, self.hs[:T], self.reverse)
            gw = _make(_blas.mm(dHG.reshape(T * B, G).T, hprev.reshape(T * B, H)))
        if need[3]:
            gb = _make(dHG.reshape(T * B, G).sum(0))
        return (_make(dX) if need[0] else None, _make(dh) if need[1] else None, gw, gb)

    def _recorded_backward(self, gout: Tensor, ghn: Tensor) -> tuple:
        xg, h0, w, b = self.inputs
        T, H = xg.shape[0], w.shape[1]
        xs, gos = _ops.unbind(xg, 0), _ops.unbind(gout, 0)
        h = h0
        saved: dict[int, tuple] = {}
        for t in _steps(T, self.reverse):
            hg = GateProjection()(h, w, b)
            saved[t] = (h, hg)
            h = FusedGRUCell()(xs[t], hg, h)
        dh = ghn
        dxs: list[Any] = [None] * T
        dhgs: list[Any] = [None] * T
        for t in reversed(_steps(T, self.reverse)):
            hp, hg = saved[t]
            dh = dh + gos[t]
            dxs[t], dhgs[t], direct = gru_cell_grads(dh, xs[t], hg, hp)
            dh = direct + _ops.matmul(dhgs[t], w)
        need = self.needs_input_grad
        dHG = _ops.reshape(_ops.stack(dhgs, 0), (-1, 3 * H))
        gw = gb = None
        if need[2]:
            hp = _ops.stack([saved[t][0] for t in range(T)], 0)
            gw = _ops.matmul(_ops.t(dHG), _ops.reshape(hp, (-1, H)))
        if need[3]:
            gb = _ops.sum(dHG, 0)
        return (_ops.stack(dxs, 0) if need[0] else None, dh if need[1] else None, gw, gb)


class RNNSequence(Function):
    """The recurrence of one Elman RNN layer over a whole sequence, as one node.

    Inputs: xg (T, B, H) = x_t W_ih^T + b_ih + b_hh; h0 (B, H); w_hh (H, H). Outputs: out (T, B, H),
    h_n (B, H). Forward per step: h = act(xg_t + h W_hh^T). Backward: d pre_t = dh_t act'(pre_t),
    dh_prev = d pre_t W_hh; dW_hh = d pre^T h_prev over all steps in one GEMM.
    """

    def __init__(self, nonlinearity: str = "tanh", reverse: bool = False, save: bool = True) -> None:
        self.reverse, self.save = reverse, save
        self.nonlinearity = nonlinearity
        self.relu = nonlinearity == "relu"

    def forward(self, xg: Any, h0: Any, w: Any) -> Any:
        xp = get_array_module(xg)
        T, B, H = xg.shape
        hs = xp.empty((T + 1, B, H), xg.dtype)
        hs[0] = h0
        wt = xp.ascontiguousarray(w.T)
        with _blas.gemm(2 * B * H * H):  # each step's GEMM: (B, H) x (H, H) or its transpose
            for s, t in enumerate(_steps(T, self.reverse)):
                h = hs[s + 1]
                xp.matmul(hs[s], wt, out=h)
                h += xg[t]
                _rnn_act_(xp, h, self.relu)
        if self.save:
            self.hs = hs
        # a copy when hs is kept for backward, so that changing the output in place (relu_, dropout with
        # inplace=True) cannot reach the saved hidden states
        out = xp.ascontiguousarray(hs[:0:-1]) if self.reverse else (hs[1:].copy() if self.save else hs[1:])
        return out, hs[T].copy()

    def backward(self, gout: Tensor, ghn: Tensor) -> tuple:
        if is_grad_enabled():
            return self._recorded_backward(gout, ghn)
        xg, h0, w = (x.array for x in self.inputs)
        need = self.needs_input_grad
        xp = get_array_module(xg)
        T, B, H = xg.shape
        go = gout.array
        dP = xp.empty((T, B, H), xg.dtype)
        dh = xp.array(ghn.array, dtype=xg.dtype, copy=True)
        steps = list(_steps(T, self.reverse))
        with _blas.gemm(2 * B * H * H):  # each step's GEMM: (B, H) x (H, H) or its transpose
            for s in range(T - 1, -1, -1):
                t = steps[s]
                dh += go[t]
                _rnn_act_grad(xp, dh, self.hs[s + 1], self.relu, dP[t])
                if s > 0 or need[1]:
                    xp.matmul(dP[t], w, out=dh)
        gw = None
        if need[2]:
            hprev = _time_ordered(xp, self.hs[:T], self.reverse)
            gw = _make(_blas.mm(dP.reshape(T * B, H).T, hprev.reshape(T * B, H)))
        return (_make(dP) if need[0] else None, _make(dh) if need[1] else None, gw)

    def _recorded_backward(self, gout: Tensor, ghn: Tensor) -> tuple:
        xg, h0, w = self.inputs
        T, H = xg.shape[0], w.shape[1]
        xs, gos = _ops.unbind(xg, 0), _ops.unbind(gout, 0)
        h = h0
        saved: dict[int, tuple] = {}
        for t in _steps(T, self.reverse):
            hg = GateProjection()(h, w)
            saved[t] = (h, hg)
            h = FusedRNNCell(self.nonlinearity)(xs[t], hg)
        dh = ghn
        dps: list[Any] = [None] * T
        for t in reversed(_steps(T, self.reverse)):
            hp, hg = saved[t]
            dh = dh + gos[t]
            dps[t] = rnn_cell_grads(dh, xs[t], hg, self.nonlinearity)
            dh = _ops.matmul(dps[t], w)
        need = self.needs_input_grad
        dP = _ops.stack(dps, 0)
        gw = None
        if need[2]:
            hp = _ops.stack([saved[t][0] for t in range(T)], 0)
            gw = _ops.matmul(_ops.t(_ops.reshape(dP, (-1, H))), _ops.reshape(hp, (-1, H)))
        return (dP if need[0] else None, dh if need[1] else None, gw)


# =================================================================================================
# Functional API
# =================================================================================================
def _shape(t: Any) -> tuple:
    return tuple(t.shape)


def _check_cell(op: str, x_gates: Tensor, h_gates: Tensor, state: Tensor | None, gates: int) -> int:
    """Validate (B, G*H) gate inputs and a (B, H) state; return H."""
    for name, t in (("x_gates", x_gates), ("h_gates", h_gates)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if x_gates.ndim != 2 or x_gates.shape[1] % gates:
        raise ValueError(f"{op}: x_gates must have shape (batch, {gates}*hidden), got {_shape(x_gates)}")
    if _shape(h_gates) != _shape(x_gates):
        raise ValueError(f"{op}: h_gates shape {_shape(h_gates)} does not match x_gates shape "
                         f"{_shape(x_gates)}")
    B, H = x_gates.shape[0], x_gates.shape[1] // gates
    if state is not None and _shape(state) != (B, H):
        raise ValueError(f"{op}: state must have shape ({B}, {H}) for gates of shape {_shape(x_gates)}, "
                         f"got {_shape(state)}")
    dts = {t.dtype for t in (x_gates, h_gates, state) if t is not None}
    if len(dts) > 1:
        raise TypeError(f"{op}: all inputs must have one dtype, got {sorted(str(d) for d in dts)}")
    return H


def gate_projection(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x (..., I) @ weight (G, I)^T + bias (G,) -> (..., G) as one GEMM over all leading dims."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"gate_projection: input of shape {_shape(x)} does not match weight of shape "
                         f"{_shape(weight)} (expected last dim {weight.shape[1]})")
    if bias is None:
        return GateProjection()(x, weight)
    return GateProjection()(x, weight, bias)


def lstm_cell(x_gates: Tensor, h_gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Fused LSTM cell: (x_gates, h_gates (B, 4H) in [i, f, g, o] order, c (B, H)) -> (h', c').

    ``x_gates = x W_ih^T + b_ih``, ``h_gates = h W_hh^T + b_hh``; c' = f c + i g, h' = o tanh(c').
    """
    _check_cell("lstm_cell", x_gates, h_gates, c, 4)
    return FusedLSTMCell()(x_gates, h_gates, c)


def gru_cell(x_gates: Tensor, h_gates: Tensor, h: Tensor) -> Tensor:
    """Fused GRU cell: (x_gates, h_gates (B, 3H) in [r, z, n] order, h (B, H)) -> h'.

    h' = (1 - z) n + z h, r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r h_n) (h_n includes b_hn).
    """
    _check_cell("gru_cell", x_gates, h_gates, h, 3)
    return FusedGRUCell()(x_gates, h_gates, h)


def rnn_tanh_cell(x_gates: Tensor, h_gates: Tensor) -> Tensor:
    """Fused Elman cell: h' = tanh(x_gates + h_gates), all (B, H)."""
    _check_cell("rnn_tanh_cell", x_gates, h_gates, None, 1)
    return FusedRNNCell("tanh")(x_gates, h_gates)


def rnn_relu_cell(x_gates: Tensor, h_gates: Tensor) -> Tensor:
    """Fused Elman cell: h' = relu(x_gates + h_gates), all (B, H)."""
    _check_cell("rnn_relu_cell", x_gates, h_gates, None, 1)
    return FusedRNNCell("relu")(x_gates, h_gates)


def _check_layer(op: str, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
                 states: list[tuple[str, Tensor | None]], gates: int) -> tuple[int, int]:
    """Validate a layer's input (T, B, I), weights and initial states; return (B, H)."""
    if x.ndim != 3:
        raise ValueError(f"{op}: input must have shape (seq_len, batch, input_size), got {_shape(x)}")
    if x.shape[0] == 0:
        raise ValueError(f"{op}: expected a sequence length larger than 0, got input of shape {_shape(x)}")
    H = w_hh.shape[1] if w_hh.ndim == 2 else -1
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * H:
        raise ValueError(f"{op}: weight_hh must have shape ({gates}*hidden, hidden), got {_shape(w_hh)}")
    if _shape(w_ih) != (gates * H, x.shape[2]):
        raise ValueError(f"{op}: weight_ih must have shape ({gates * H}, {x.shape[2]}) for input of shape "
                         f"{_shape(x)} and hidden size {H}, got {_shape(w_ih)}")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and _shape(b) != (gates * H,):
            raise ValueError(f"{op}: {name} must have shape ({gates * H},), got {_shape(b)}")
    B = x.shape[1]
    for name, s in states:
        if s is not None and _shape(s) != (B, H):
            raise ValueError(f"{op}: {name} must have shape ({B}, {H}) (batch, hidden) for input of shape "
                             f"{_shape(x)}, got {_shape(s)}")
    dts = {str(t.dtype) for t in [x, w_ih, w_hh, b_ih, b_hh] + [s for _, s in states] if t is not None}
    if len(dts) > 1:
        raise TypeError(f"{op}: input, weights and states must have one dtype, got {sorted(dts)}")
    return B, H


def _zeros_state(x: Tensor, B: int, H: int) -> Tensor:
    return _make(x.xp.zeros((B, H), dtype=x.dtype))


def _needs_save(*ts: Tensor) -> bool:
    return is_grad_enabled() and any(t.requires_grad for t in ts)


def _summed_bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def lstm_layer(x: Tensor, h0: Tensor | None, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None = None, b_hh: Tensor | None = None,
               reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer (one direction) over a sequence.

    Inputs: x (T, B, I); h0, c0 (B, H) or None (zeros); w_ih (4H, I); w_hh (4H, H); b_ih, b_hh (4H,)
    or None. Returns out (T, B, H), h_n (B, H), c_n (B, H). Two graph nodes (plus the bias sum): one GEMM
    for the input projection of all steps, one :class:`LSTMSequence` for the recurrence.
    """
    B, H = _check_layer("lstm_layer", x, w_ih, w_hh, b_ih, b_hh, [("h0", h0), ("c0", c0)], 4)
    h0 = _zeros_state(x, B, H) if h0 is None else h0
    c0 = _zeros_state(x, B, H) if c0 is None else c0
    xg = gate_projection(x, w_ih, _summed_bias(b_ih, b_hh))
    return LSTMSequence(reverse, _needs_save(xg, h0, c0, w_hh))(xg, h0, c0, w_hh)


def gru_layer(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One GRU layer (one direction) over a sequence.

    Inputs: x (T, B, I); h0 (B, H) or None; w_ih (3H, I); w_hh (3H, H); b_ih, b_hh (3H,) or None.
    Returns out (T, B, H), h_n (B, H).
    """
    B, H = _check_layer("gru_layer", x, w_ih, w_hh, b_ih, b_hh, [("h0", h0)], 3)
    h0 = _zeros_state(x, B, H) if h0 is None else h0
    xg = gate_projection(x, w_ih, b_ih)
    if b_hh is None:
        b_hh = _make(x.xp.zeros((3 * H,), dtype=x.dtype))
    return GRUSequence(reverse, _needs_save(xg, h0, w_hh, b_hh))(xg, h0, w_hh, b_hh)


def rnn_layer(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None, nonlinearity: str = "tanh",
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer (one direction): h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Inputs: x (T, B, I); h0 (B, H) or None; w_ih (H, I); w_hh (H, H); biases (H,) or None.
    Returns out (T, B, H), h_n (B, H).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    B, H = _check_layer("rnn_layer", x, w_ih, w_hh, b_ih, b_hh, [("h0", h0)], 1)
    h0 = _zeros_state(x, B, H) if h0 is None else h0
    xg = gate_projection(x, w_ih, _summed_bias(b_ih, b_hh))
    return RNNSequence(nonlinearity, reverse, _needs_save(xg, h0, w_hh))(xg, h0, w_hh)
