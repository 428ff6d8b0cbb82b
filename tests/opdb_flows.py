"""Registry entries for the flow layers of ``minigrad.nn.flows`` (imported by tests/opdb.py).

Each entry is a function of (input, parameters...) that installs the given Tensors as the layer's
parameters and returns (y, logdet), so gradcheck/gradgradcheck (float64) cover the layers' forward
passes with respect to both the data and the weights; the references are plain NumPy."""

from __future__ import annotations

import numpy as np
from opdb import S, arr, pos, register

import minigrad.nn as nn
from minigrad.nn import flows as fl

_rng = np.random.default_rng(77)


def _install(layer, **params):
    """Replace the layer's parameters by the given Tensors (so the registry can differentiate them)."""
    for name, t in params.items():
        layer._parameters[name] = t
    return layer


class _LinearNet(nn.Module):
    """net(h) = h W^T, with W supplied by the caller (the coupling's network in the registry)."""

    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, h):
        return h @ self.w.mT


_MASK4 = fl.alternating_mask(4, 0)


def _affine(x, w, scale):
    layer = _install(fl.AffineCoupling(_MASK4, _LinearNet(w), num_channels=4), scale=scale)
    return layer(x)


def _affine_ref(x, w, scale):
    m = _MASK4
    h = (x * m) @ w.T
    s = scale * np.tanh(h[:, :4]) * (1 - m)
    t = h[:, 4:] * (1 - m)
    return x * m + (1 - m) * (x * np.exp(s) + t), s.sum(1)


def _affine_channel(x, w, scale):
    layer = _install(fl.AffineCoupling("channel", _LinearNet(w), num_channels=4), scale=scale)
    return layer(x)


def _affine_channel_ref(x, w, scale):
    h = x[:, :2] @ w.T
    s = scale[2:] * np.tanh(h[:, :2])
    return np.concatenate([x[:, :2], x[:, 2:] * np.exp(s) + h[:, 2:]], 1), s.sum(1)


def _additive(x, w):
    return fl.AdditiveCoupling(_MASK4, _LinearNet(w))(x)


def _additive_ref(x, w):
    m = _MASK4
    return x * m + (1 - m) * (x + (x * m) @ w.T), np.zeros(x.shape[0])


def _actnorm(x, bias, log_scale):
    layer = _install(fl.ActNorm(x.shape[1]), bias=bias, log_scale=log_scale)
    layer.initialized.array = np.ones((), dtype=bool)  # no data-dependent init: a plain affine map
    return layer(x)


def _actnorm_ref(x, bias, log_scale):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x + bias.reshape(shape)) * np.exp(log_scale.reshape(shape))
    return y, np.full(x.shape[0], log_scale.sum() * np.prod(x.shape[2:]))


def _invconv(x, w):
    return _install(fl.InvConv1x1(w.shape[0]), weight=w)(x)


def _invconv_ref(x, w):
    y = np.einsum("ij,nj...->ni...", w, x)
    return y, np.full(x.shape[0], np.linalg.slogdet(w)[1] * np.prod(x.shape[2:]))


def _invconv_inverse(y, w):
    return _install(fl.InvConv1x1(w.shape[0]), weight=w).inverse(y)


def _invconv_lu(x, lower, upper, log_s):
    layer = fl.InvConv1x1(3, lu=True, seed=5)
    return _install(layer, lower=lower, upper=upper, log_s=log_s)(x)


_LU = fl.InvConv1x1(3, lu=True, seed=5)
_P, _SIGN = _LU.perm.numpy().astype(np.float64), _LU.sign_s.numpy().astype(np.float64)


def _invconv_lu_ref(x, lower, upper, log_s):
    w = _P @ (np.tril(lower, -1) + np.eye(3)) @ (np.triu(upper, 1) + np.diag(_SIGN * np.exp(log_s)))
    y = np.einsum("ij,nj...->ni...", w, x)
    return y, np.full(x.shape[0], log_s.sum() * np.prod(x.shape[2:]))


def _logit(x):
    return fl.LogitTransform(0.05)(x)


def _logit_ref(x):
    s = 0.05 + 0.9 * x
    return np.log(s / (1 - s)), (np.log(0.9) - np.log(s) - np.log(1 - s)).reshape(x.shape[0], -1).sum(1)


def _squeeze(x):
    return fl.Squeeze()(x)


def _squeeze_ref(x):
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
    return y, np.zeros(n)


register("flows.AffineCoupling", _affine, _affine_ref,
         [S(arr(3, 4), arr(8, 4, low=-1, high=1), pos(4))], covers=("AffineCoupling",))
register("flows.AffineCoupling_channel", _affine_channel, _affine_channel_ref,
         [S(arr(3, 4), arr(4, 2, low=-1, high=1), pos(4))])
register("flows.AdditiveCoupling", _additive, _additive_ref, [S(arr(3, 4), arr(4, 4))],
         covers=("AdditiveCoupling",))
register("flows.ActNorm", _actnorm, _actnorm_ref,
         [S(arr(2, 3, 2, 2), arr(3), arr(3, low=-1, high=1)), S(arr(4, 3), arr(3), arr(3), desc="vectors")],
         covers=("ActNorm",))
_W3 = np.linalg.qr(_rng.standard_normal((3, 3)))[0] + 0.1 * _rng.standard_normal((3, 3))
register("flows.InvConv1x1", _invconv, _invconv_ref,
         [S(arr(2, 3, 2, 2), _W3.copy()), S(arr(4, 3), _W3.copy(), desc="vectors")], covers=("InvConv1x1",))
register("flows.InvConv1x1_inverse", _invconv_inverse,
         lambda y, w: np.einsum("ij,nj...->ni...", np.linalg.inv(w), y), [S(arr(2, 3, 2, 2), _W3.copy())])
register("flows.InvConv1x1_lu", _invconv_lu, _invconv_lu_ref,
         [S(arr(2, 3, 2, 2), arr(3, 3, low=-1, high=1), arr(3, 3, low=-1, high=1), arr(3, low=-1, high=1))])
register("flows.LogitTransform", _logit, _logit_ref, [S(pos(3, 4, low=0.05, high=0.95))],
         covers=("LogitTransform",))
register("flows.Squeeze", _squeeze, _squeeze_ref, [S(arr(2, 2, 4, 4))], covers=("Squeeze",))
