"""Registry entries for PyTorch-style custom functions (static ``forward(ctx, ...)``, ``F.apply``).

They exercise ``minigrad.autograd._ctx.CtxFunction``, the node that adapts them: saved inputs,
saved outputs, several outputs, non-Tensor arguments and the ``setup_context`` variant, each
with gradcheck and gradgradcheck (their backwards are written with differentiable ops).
"""

from __future__ import annotations

import numpy as np
from opdb import S, arr, register

import minigrad as mg


class Cube(mg.autograd.Function):
    """k * x**3 with a non-Tensor k; saves its input."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * (3 * ctx.k) * x**2, None


class Exp(mg.autograd.Function):
    """exp(x); saves its output."""

    @staticmethod
    def forward(ctx, x):
        y = mg.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y


class SinCos(mg.autograd.Function):
    """Two outputs (sin x, cos x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return mg.sin(x), mg.cos(x)

    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * mg.cos(x) - gc * mg.sin(x)


class MulAdd(mg.autograd.Function):
    """x * y + alpha, PyTorch 2 style: forward without ctx, plus setup_context."""

    @staticmethod
    def forward(x, y, alpha):
        return x * y + alpha

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, _ = inputs
        ctx.save_for_backward(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        return gx, gy, None


register("custom_cube", Cube.apply, lambda x, k: k * x**3, [S(arr(3, 4), 2.0), S(arr(), -1.5, desc="0-d")])
register("custom_exp", Exp.apply, np.exp, [S(arr(2, 3))])
register("custom_sincos", SinCos.apply, lambda x: (np.sin(x), np.cos(x)), [S(arr(5))])
register(
    "custom_muladd",
    MulAdd.apply,
    lambda x, y, a: x * y + a,
    [S(arr(3, 4), arr(3, 4), 0.5), S(arr(2, 3), arr(2, 3), 1, desc="int-alpha")],
)
