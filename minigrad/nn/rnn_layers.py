"""Recurrent layers with PyTorch's signatures, parameter names and shapes: ``RNN``, ``LSTM``, ``GRU`` and the
single-step ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameters (``G`` = 4 for LSTM, 3 for GRU, 1 for RNN; gate blocks in PyTorch's order, LSTM ``i, f, g, o``
and GRU ``r, z, n``; see :mod:`minigrad.nn.rnn`), for layer ``k`` and suffix ``""`` or ``"_reverse"``:

    weight_ih_l{k}{suffix}  (G*hidden_size, input_size if k == 0 else num_directions*hidden_size)
    weight_hh_l{k}{suffix}  (G*hidden_size, hidden_size)
    bias_ih_l{k}{suffix}    (G*hidden_size,)
    bias_hh_l{k}{suffix}    (G*hidden_size,)

so ``model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})`` works.
The cells have ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``. Every parameter starts as
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch.

Each layer and direction runs as one GEMM for the input projection of all steps plus one fused
recurrence node (:func:`minigrad.nn.rnn.lstm_layer` ...); a cell step is two projections plus one fused cell.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import ops as _ops
from ..dtypes import as_dtype, get_default_dtype
from ..random import _uniform
from ..tensor import Tensor
from . import rnn as _rnn
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _new_param(shape: tuple[int, ...], dtype: Any, device: Any) -> Parameter:
    import numpy as np

    p = Parameter(Tensor._make(np.empty(shape, dtype=dtype)))
    if device is not None and str(device) != "cpu":
        p.array = p.to(device).array
    return p


def _reset_uniform(module: Module, hidden_size: int) -> None:
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        p.array[...] = _uniform(p.xp, -stdv, stdv, p.shape, p.dtype)
        p._bump_version()


def _zeros(like: Tensor, shape: tuple[int, ...]) -> Tensor:
    return Tensor._make(like.xp.zeros(shape, dtype=like.dtype))


class RNNBase(Module):
    """Shared implementation of ``RNN``, ``LSTM`` and ``GRU`` (``mode`` is 'LSTM', 'GRU', 'RNN_TANH' or
    'RNN_RELU')."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of an element "
                             f"being zeroed), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but the last recurrent layer, "
                          f"so non-zero dropout expects num_layers greater than 1, but got dropout={dropout} "
                          f"and num_layers={num_layers}", stacklevel=2)
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
        G = _GATES[mode] * hidden_size
        D = 2 if bidirectional else 1
        for k in range(num_layers):
            layer_in = input_size if k == 0 else hidden_size * D
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, _new_param((G, layer_in), dtype, device))
                setattr(self, "weight_hh" + sfx, _new_param((G, hidden_size), dtype, device))
                if bias:
                    setattr(self, "bias_ih" + sfx, _new_param((G,), dtype, device))
                    setattr(self, "bias_hh" + sfx, _new_param((G,), dtype, device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """No-op, for code written for PyTorch (which packs the weights for cuDNN here)."""

    @property
    def _name(self) -> str:
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def _layer_params(self, k: int, d: int) -> tuple:
        sfx = f"_l{k}" + ("_reverse" if d else "")
        p = self._parameters
        return (p["weight_ih" + sfx], p["weight_hh" + sfx], p.get("bias_ih" + sfx), p.get("bias_hh" + sfx))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # --- forward ------------------------------------------------------------------------------------
    def _check_input(self, input: Any) -> bool:
        """Validate the input; return whether it is batched (3-D)."""
        name = self._name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of shape {layout} or, unbatched, (seq_len, "
                             f"input_size); got a {input.ndim}-D input of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size={self.input_size}, got "
                             f"input of shape {tuple(input.shape)}")
        w = self._parameters["weight_ih_l0"]
        if input.dtype != w.dtype:
            raise TypeError(f"{name}: input dtype {input.dtype} does not match the parameters' dtype "
                            f"{w.dtype}")
        return input.ndim == 3

    def _check_hidden(self, h: Any, expected: tuple[int, ...], what: str) -> None:
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name}: {what} must be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != expected:
            raise ValueError(f"{self._name}: expected {what} of shape {expected} (num_layers * "
                             f"num_directions, batch, hidden_size), got {tuple(h.shape)}")

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """input (T, B, I) (or (B, T, I) with ``batch_first``, or unbatched (T, I)); hx (L*D, B, H), for LSTM
        a tuple (h_0, c_0), or None (zeros).

        Returns output (T, B, D*H) (batch_first: (B, T, D*H)) and h_n (L*D, B, H), for LSTM (h_n, c_n).
        """
        batched = self._check_input(input)
        lstm = self.mode == "LSTM"
        x = input if batched else _ops.unsqueeze(input, 1)
        if self.batch_first and batched:
            x = _ops.transpose(x, 0, 1)
        B = x.shape[1]
        D = 2 if self.bidirectional else 1
        LD, H = self.num_layers * D, self.hidden_size
        shape = (LD, B, H) if batched else (LD, H)
        if hx is None:
            h0s = c0s = None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
                self._check_hidden(hx[0], shape, "h_0")
                self._check_hidden(hx[1], shape, "c_0")
                h0, c0 = hx
            else:
                self._check_hidden(hx, shape, "hx")
                h0, c0 = hx, None
            if not batched:
                h0 = _ops.unsqueeze(h0, 1)
                c0 = _ops.unsqueeze(c0, 1) if c0 is not None else None
            h0s = _ops.unbind(h0, 0)
            c0s = _ops.unbind(c0, 0) if c0 is not None else None
        hn: list[Tensor] = []
        cn: list[Tensor] = []
        for k in range(self.num_layers):
            outs = []
            for d in range(D):
                idx = k * D + d
                w_ih, w_hh, b_ih, b_hh = self._layer_params(k, d)
                h0 = None if h0s is None else h0s[idx]
                if lstm:
                    c0 = None if c0s is None else c0s[idx]
                    out, h, c = _rnn.lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=bool(d))
                    cn.append(c)
                elif self.mode == "GRU":
                    out, h = _rnn.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=bool(d))
                else:
                    nl = "relu" if self.mode == "RNN_RELU" else "tanh"
                    out, h = _rnn.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nl, reverse=bool(d))
                outs.append(out)
                hn.append(h)
            x = outs[0] if D == 1 else _ops.cat(outs, 2)
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                x = _ops.dropout(x, self.dropout, True)
        h_n = _ops.stack(hn, 0)
        c_n = _ops.stack(cn, 0) if lstm else None
        if batched:
            output = _ops.transpose(x, 0, 1) if self.batch_first else x
        else:
            output = _ops.squeeze(x, 1)
            h_n = _ops.squeeze(h_n, 1)
            c_n = _ops.squeeze(c_n, 1) if c_n is not None else None
        return (output, (h_n, c_n)) if lstm else (output, h_n)


class RNN(RNNBase):
    """Multi-layer Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Args as PyTorch: input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False. ``forward(input, hx=None) -> (output, h_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device, dtype)


class LSTM(RNNBase):
    """Multi-layer LSTM (gates i, f, g, o): c_t = f c_{t-1} + i g, h_t = o tanh(c_t).

    ``forward(input, hx=None) -> (output, (h_n, c_n))``; shapes as PyTorch (see ``RNNBase.forward``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)


class GRU(RNNBase):
    """Multi-layer GRU (gates r, z, n): n = tanh(x_n + r (h W_hn^T + b_hn)), h_t = (1 - z) n + z h_{t-1}.

    ``forward(input, hx=None) -> (output, h_n)``; shapes as PyTorch.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)


# =================================================================================================
class RNNCellBase(Module):
    """Shared parameters of the single-step cells: weight_ih (G*H, I), weight_hh (G*H, H), biases (G*H,)."""

    _gates = 1
    _kind = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{self._kind}: {what} must be a positive integer, got {v!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
        G = self._gates * hidden_size
        self.weight_ih = _new_param((G, input_size), dtype, device)
        self.weight_hh = _new_param((G, hidden_size), dtype, device)
        if bias:
            self.bias_ih = _new_param((G,), dtype, device)
            self.bias_hh = _new_param((G,), dtype, device)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s

    def _prepare(self, input: Any, hx: Any, n_states: int) -> tuple[Tensor, list[Tensor], bool]:
        """Check shapes; return (2-D input, 2-D states (zeros when hx is None), batched)."""
        name = self._kind
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {input.dtype} does not match the parameters' dtype "
                            f"{self.weight_ih.dtype}")
        batched = input.ndim == 2
        x = input if batched else _ops.unsqueeze(input, 0)
        B, H = x.shape[0], self.hidden_size
        if hx is None:
            return x, [_zeros(x, (B, H)) for _ in range(n_states)], batched
        if n_states == 2 and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
        states = list(hx) if n_states == 2 else [hx]
        want = (B, H) if batched else (H,)
        for s in states:
            if not isinstance(s, Tensor) or tuple(s.shape) != want:
                got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                raise ValueError(f"{name}: expected hidden state of shape {want} for input of shape "
                                 f"{tuple(input.shape)}, got {got}")
        if not batched:
            states = [_ops.unsqueeze(s, 0) for s in states]
        return x, states, batched

    def _projections(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        return (_rnn.gate_projection(x, self.weight_ih, self.bias_ih),
                _rnn.gate_projection(h, self.weight_hh, self.bias_hh))


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh). ``forward(input, hx=None) -> h'``."""

    _kind = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx, 1)
        xg, hg = self._projections(x, h)
        cell = _rnn.rnn_relu_cell if self.nonlinearity == "relu" else _rnn.rnn_tanh_cell
        out = cell(xg, hg)
        return out if batched else _ops.squeeze(out, 0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o). ``forward(input, hx=None) -> (h', c')``; hx = (h, c) of (B, H)."""

    _gates = 4
    _kind = "LSTMCell"

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._prepare(input, hx, 2)
        xg, hg = self._projections(x, h)
        h2, c2 = _rnn.lstm_cell(xg, hg, c)
        if not batched:
            return _ops.squeeze(h2, 0), _ops.squeeze(c2, 0)
        return h2, c2


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n). ``forward(input, hx=None) -> h'``."""

    _gates = 3
    _kind = "GRUCell"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx, 1)
        xg, hg = self._projections(x, h)
        out = _rnn.gru_cell(xg, hg, h)
        return out if batched else _ops.squeeze(out, 0)
