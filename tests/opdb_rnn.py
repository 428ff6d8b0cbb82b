"""Registry entries for the fused recurrent Functions (minigrad/nn/rnn.py): cells, gate projection and
whole-sequence layers, with tiny samples (batch 2, hidden 3, T=3) and float64 NumPy references.

The sequence entries also exercise the cells' Functions through the recorded (create_graph) backward
that gradgradcheck runs.
"""

from __future__ import annotations

import numpy as np
from opdb import S, arr, away, pos, register

from minigrad.nn import rnn

B, H, In, T = 2, 3, 2, 3


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lstm_cell_ref(xg, hg, c):
    i, f, g, o = np.split(xg + hg, 4, axis=1)
    c2 = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c2), c2


def _gru_cell_ref(xg, hg, h):
    xr, xz, xn = np.split(xg, 3, axis=1)
    hr, hz, hn = np.split(hg, 3, axis=1)
    r, z = _sig(xr + hr), _sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def _proj_ref(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def _steps(reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _lstm_layer_ref(x, w_ih, w_hh, b_ih, b_hh, h0=None, c0=None, reverse=False):
    h = np.zeros((x.shape[1], w_hh.shape[1])) if h0 is None else h0
    c = np.zeros_like(h) if c0 is None else c0
    outs = [None] * x.shape[0]
    for t in _steps(reverse):
        h, c = _lstm_cell_ref(_proj_ref(x[t], w_ih, b_ih), _proj_ref(h, w_hh, b_hh), c)
        outs[t] = h
    return np.stack(outs), h, c


def _gru_layer_ref(x, w_ih, w_hh, b_ih, b_hh, h0=None, reverse=False):
    h = np.zeros((x.shape[1], w_hh.shape[1])) if h0 is None else h0
    outs = [None] * x.shape[0]
    for t in _steps(reverse):
        h = _gru_cell_ref(_proj_ref(x[t], w_ih, b_ih), _proj_ref(h, w_hh, b_hh), h)
        outs[t] = h
    return np.stack(outs), h


def _rnn_layer_ref(x, w_ih, w_hh, b_ih, b_hh, h0=None, nonlinearity="tanh", reverse=False):
    h = np.zeros((x.shape[1], w_hh.shape[1])) if h0 is None else h0
    outs = [None] * x.shape[0]
    act = (lambda v: np.maximum(v, 0)) if nonlinearity == "relu" else np.tanh
    for t in _steps(reverse):
        h = act(_proj_ref(x[t], w_ih, b_ih) + _proj_ref(h, w_hh, b_hh))
        outs[t] = h
    return np.stack(outs), h


def _small(*shape):
    return arr(*shape, low=-0.8, high=0.8)


# --- cells and the projection ---------------------------------------------------------------------
register("gate_projection", rnn.gate_projection, _proj_ref,
         [S(arr(B, In), arr(4 * H, In), arr(4 * H)), S(arr(B, H), arr(3 * H, H), desc="no-bias"),
          S(arr(T, B, In), arr(H, In), arr(H), desc="sequence")],
         covers=("gate_projection", "GateProjection"))
register("lstm_cell", rnn.lstm_cell, _lstm_cell_ref, [S(arr(B, 4 * H), arr(B, 4 * H), arr(B, H))],
         covers=("lstm_cell", "FusedLSTMCell"))
register("gru_cell", rnn.gru_cell, _gru_cell_ref, [S(arr(B, 3 * H), arr(B, 3 * H), arr(B, H))],
         covers=("gru_cell", "FusedGRUCell"))
register("rnn_tanh_cell", rnn.rnn_tanh_cell, lambda a, b: np.tanh(a + b), [S(arr(B, H), arr(B, H))],
         covers=("rnn_tanh_cell", "FusedRNNCell"))
# relu: keep the pre-activation away from the kink (|xg| >= 0.3 > |hg|)
register("rnn_relu_cell", rnn.rnn_relu_cell, lambda a, b: np.maximum(a + b, 0),
         [S(away(B, H, gap=0.3), arr(B, H, low=-0.1, high=0.1))], covers=("rnn_relu_cell",))


# --- whole sequences: (x, w_ih, w_hh, b_ih, b_hh [, h0, c0]) -------------------------------------
def _lstm_seq(x, w_ih, w_hh, b_ih, b_hh, h0=None, c0=None, reverse=False):
    return rnn.lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)


def _gru_seq(x, w_ih, w_hh, b_ih, b_hh, h0=None, reverse=False):
    return rnn.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)


def _rnn_seq(x, w_ih, w_hh, b_ih, b_hh, h0=None, nonlinearity="tanh", reverse=False):
    return rnn.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity, reverse=reverse)


register("lstm_layer", _lstm_seq, _lstm_layer_ref,
         [S(arr(T, B, In), _small(4 * H, In), _small(4 * H, H), _small(4 * H), _small(4 * H)),
          S(arr(T, B, In), _small(4 * H, In), _small(4 * H, H), _small(4 * H), _small(4 * H),
            arr(B, H), arr(B, H), reverse=True, desc="initial-state-reverse")],
         covers=("lstm_layer", "LSTMSequence"), atol=1e-5)
register("gru_layer", _gru_seq, _gru_layer_ref,
         [S(arr(T, B, In), _small(3 * H, In), _small(3 * H, H), _small(3 * H), _small(3 * H)),
          S(arr(T, B, In), _small(3 * H, In), _small(3 * H, H), _small(3 * H), _small(3 * H), arr(B, H),
            reverse=True, desc="initial-state-reverse")],
         covers=("gru_layer", "GRUSequence"))
register("rnn_layer", _rnn_seq, _rnn_layer_ref,
         [S(arr(T, B, In), _small(H, In), _small(H, H), _small(H), _small(H), arr(B, H)),
          S(arr(T, B, In), _small(H, In), _small(H, H), _small(H), _small(H), reverse=True, desc="reverse")],
         covers=("rnn_layer", "RNNSequence"))
# relu recurrence: positive inputs and weights keep every pre-activation well above the kink
register("rnn_relu_layer", lambda *a: _rnn_seq(*a, nonlinearity="relu"),
         lambda *a: _rnn_layer_ref(*a, nonlinearity="relu"),
         [S(pos(T, B, In), pos(H, In, low=0.1, high=0.5), pos(H, H, low=0.1, high=0.5),
            pos(H, low=0.1, high=0.5), pos(H, low=0.1, high=0.5))])
