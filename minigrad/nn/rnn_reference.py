"""Unfused reference implementations of the recurrent cells and layers, from primitive ops only.

Every step is built from ``matmul``, ``add``, ``chunk``, ``sigmoid``, ``tanh``, ``relu`` and ``mul``
(about twenty graph nodes per LSTM step), so autograd differentiates them to any order with no
hand-written backward. They define what the fused Functions of :mod:`minigrad.nn.rnn` must compute
(same gate layout: LSTM ``[i, f, g, o]``, GRU ``[r, z, n]``) and serve as the speed baseline.
"""

from __future__ import annotations

from .. import ops as _ops
from ..tensor import Tensor


def lstm_cell_reference(x_gates: Tensor, h_gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """x_gates, h_gates (B, 4H), c (B, H) -> (h', c') with c' = f c + i g, h' = o tanh(c')."""
    i, f, g, o = _ops.chunk(x_gates + h_gates, 4, 1)
    i, f, g, o = _ops.sigmoid(i), _ops.sigmoid(f), _ops.tanh(g), _ops.sigmoid(o)
    c_new = f * c + i * g
    return o * _ops.tanh(c_new), c_new


def gru_cell_reference(x_gates: Tensor, h_gates: Tensor, h: Tensor) -> Tensor:
    """x_gates, h_gates (B, 3H) in [r, z, n] order, h (B, H) -> h' = (1 - z) n + z h."""
    xr, xz, xn = _ops.chunk(x_gates, 3, 1)
    hr, hz, hn = _ops.chunk(h_gates, 3, 1)
    r = _ops.sigmoid(xr + hr)
    z = _ops.sigmoid(xz + hz)
    n = _ops.tanh(xn + r * hn)
    return (1.0 - z) * n + z * h


def rnn_cell_reference(x_gates: Tensor, h_gates: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """h' = tanh(x_gates + h_gates) or relu(...)."""
    pre = x_gates + h_gates
    return _ops.relu(pre) if nonlinearity == "relu" else _ops.tanh(pre)


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = _ops.matmul(x, _ops.t(w))
    return y if b is None else y + b


def _input_projection(x: Tensor, w: Tensor, b: Tensor | None) -> list[Tensor]:
    """x (T, B, I) -> the T per-step input projections (B, G), computed as one GEMM."""
    T, B, In = x.shape
    xg = _linear(_ops.reshape(x, (T * B, In)), w, b)
    return list(_ops.unbind(_ops.reshape(xg, (T, B, w.shape[0])), 0))


def _zeros(x: Tensor, B: int, H: int) -> Tensor:
    return Tensor._make(x.xp.zeros((B, H), dtype=x.dtype))


def lstm_layer_reference(x: Tensor, h0: Tensor | None, c0: Tensor | None, w_ih: Tensor, w_hh: Tensor,
                         b_ih: Tensor | None = None, b_hh: Tensor | None = None,
                         reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Same contract as ``rnn.lstm_layer``: x (T, B, I) -> out (T, B, H), h_n, c_n."""
    T, B = x.shape[0], x.shape[1]
    H = w_hh.shape[1]
    h = _zeros(x, B, H) if h0 is None else h0
    c = _zeros(x, B, H) if c0 is None else c0
    xs = _input_projection(x, w_ih, b_ih)
    outs: list = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h, c = lstm_cell_reference(xs[t], _linear(h, w_hh, b_hh), c)
        outs[t] = h
    return _ops.stack(outs, 0), h, c


def gru_layer_reference(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                        b_hh: Tensor | None = None, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Same contract as ``rnn.gru_layer``."""
    T, B = x.shape[0], x.shape[1]
    h = _zeros(x, B, w_hh.shape[1]) if h0 is None else h0
    xs = _input_projection(x, w_ih, b_ih)
    outs: list = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h = gru_cell_reference(xs[t], _linear(h, w_hh, b_hh), h)
        outs[t] = h
    return _ops.stack(outs, 0), h


def rnn_layer_reference(x: Tensor, h0: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                        b_hh: Tensor | None = None, nonlinearity: str = "tanh",
                        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Same contract as ``rnn.rnn_layer``."""
    T, B = x.shape[0], x.shape[1]
    h = _zeros(x, B, w_hh.shape[1]) if h0 is None else h0
    xs = _input_projection(x, w_ih, b_ih)
    outs: list = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h = rnn_cell_reference(xs[t], _linear(h, w_hh, b_hh), nonlinearity)
        outs[t] = h
    return _ops.stack(outs, 0), h
