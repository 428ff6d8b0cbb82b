"""CuPy kernels for the fused LSTM and GRU cells (one kernel for a cell's forward, one for its backward).

Used by :mod:`minigrad.nn.rnn` only when the arrays are CuPy arrays; CuPy is imported on first use,
so importing minigrad never imports it. Each kernel runs one thread per (batch, hidden unit) element
and reads/writes the 4 (LSTM) or 3 (GRU) gate columns of that unit, gate blocks laid out as in
PyTorch: LSTM ``[i | f | g | o]``, GRU ``[r | z | n]``, each block ``H`` wide.
The math is documented with the NumPy versions in ``rnn.py`` (``_lstm_step`` and friends).
"""

from __future__ import annotations

from functools import cache
from typing import Any

_PREAMBLE = r"""
template <typename T> __device__ __forceinline__ T mg_sigmoid(T x) {
    const T z = exp(-fabs(x));  // e^-|x| <= 1: no overflow on either branch
    return x >= T(0) ? T(1) / (T(1) + z) : z / (T(1) + z);
}
"""

_LSTM_FWD = r"""
const ptrdiff_t b = i / H, j = i - b * H, k = b * 4 * H + j;
const T gi = mg_sigmoid(xg[k] + hg[k]);
const T gf = mg_sigmoid(xg[k + H] + hg[k + H]);
const T gg = tanh(xg[k + 2 * H] + hg[k + 2 * H]);
const T go = mg_sigmoid(xg[k + 3 * H] + hg[k + 3 * H]);
act[k] = gi; act[k + H] = gf; act[k + 2 * H] = gg; act[k + 3 * H] = go;
const T cn = gf * c + gi * gg;
const T t = tanh(cn);
c_new = cn; tc = t; h_new = go * t;
"""

_LSTM_BWD = r"""
const ptrdiff_t b = i / H, j = i - b * H, k = b * 4 * H + j;
const T gi = act[k], gf = act[k + H], gg = act[k + 2 * H], go = act[k + 3 * H];
const T dc = gc + gh * go * (T(1) - tc * tc);
dg[k] = dc * gg * gi * (T(1) - gi);
dg[k + H] = dc * c * gf * (T(1) - gf);
dg[k + 2 * H] = dc * gi * (T(1) - gg * gg);
dg[k + 3 * H] = gh * tc * go * (T(1) - go);
dc_prev = dc * gf;
"""

_GRU_FWD = r"""
const ptrdiff_t b = i / H, j = i - b * H, k = b * 3 * H + j;
const T r = mg_sigmoid(xg[k] + hg[k]);
const T z = mg_sigmoid(xg[k + H] + hg[k + H]);
const T n = tanh(xg[k + 2 * H] + r * hg[k + 2 * H]);
act[k] = r; act[k + H] = z; act[k + 2 * H] = n;
h_new = n + z * (h - n);
"""

_GRU_BWD = r"""
const ptrdiff_t b = i / H, j = i - b * H, k = b * 3 * H + j;
const T r = act[k], z = act[k + H], n = act[k + 2 * H];
const T dn = gh * (T(1) - z) * (T(1) - n * n);
const T dr = dn * hg[k + 2 * H] * r * (T(1) - r);
const T dz = gh * (h - n) * z * (T(1) - z);
dxg[k] = dr; dxg[k + H] = dz; dxg[k + 2 * H] = dn;
dhg[k] = dr; dhg[k + H] = dz; dhg[k + 2 * H] = dn * r;
dh = gh * z;
"""


@cache
def _kernels() -> dict[str, Any]:
    import cupy  # type: ignore[import-not-found]

    def k(params_in: str, params_out: str, body: str, name: str) -> Any:
        return cupy.ElementwiseKernel(params_in, params_out, body, name, preamble=_PREAMBLE)

    return {
        "lstm_fwd": k("raw T xg, raw T hg, T c, int32 H", "raw T act, T c_new, T tc, T h_new", _LSTM_FWD,
                      "minigrad_lstm_cell_fwd"),
        "lstm_bwd": k("T gh, T gc, raw T act, T c, T tc, int32 H", "raw T dg, T dc_prev", _LSTM_BWD,
                      "minigrad_lstm_cell_bwd"),
        "gru_fwd": k("raw T xg, raw T hg, T h, int32 H", "raw T act, T h_new", _GRU_FWD,
                     "minigrad_gru_cell_fwd"),
        "gru_bwd": k("T gh, raw T act, raw T hg, T h, int32 H", "raw T dxg, raw T dhg, T dh", _GRU_BWD,
                     "minigrad_gru_cell_bwd"),
    }


def _c(a: Any) -> Any:
    import cupy  # type: ignore[import-not-found]

    return cupy.ascontiguousarray(a)


def _h(c: Any) -> Any:
    import numpy as np

    return np.int32(c.shape[-1])


def lstm_forward(xg: Any, hg: Any, c: Any, act: Any, c_new: Any, tc: Any, h_new: Any) -> None:
    """act (B,4H) <- [i, f, g, o]; c_new, tc = tanh(c_new), h_new (B,H). ``act`` may be ``hg``'s buffer."""
    _kernels()["lstm_fwd"](_c(xg), _c(hg), c, _h(c), act, c_new, tc, h_new)


def lstm_backward(gh: Any, gc: Any, act: Any, c: Any, tc: Any, dg: Any, dc_prev: Any) -> None:
    """dg (B,4H) <- gradient of the gate pre-activations; dc_prev (B,H) <- gradient of the previous cell."""
    _kernels()["lstm_bwd"](gh, gc, _c(act), c, tc, _h(c), dg, dc_prev)


def gru_forward(xg: Any, hg: Any, h: Any, act: Any, h_new: Any) -> None:
    """act (B,3H) <- [r, z, n]; h_new (B,H)."""
    _kernels()["gru_fwd"](_c(xg), _c(hg), h, _h(h), act, h_new)


def gru_backward(gh: Any, act: Any, hg: Any, h: Any, dxg: Any, dhg: Any, dh: Any) -> None:
    """dxg, dhg (B,3H) <- gradients of the input / hidden projections; dh (B,H) <- the direct term gh * z."""
    _kernels()["gru_bwd"](gh, _c(act), _c(hg), h, _h(h), dxg, dhg, dh)
