"""Normalizing-flow layers: invertible maps with a tractable log|det J|.

A flow f maps data x to a latent z = f(x) with a simple prior p_z (here N(0, I)); by the change of
variables  log p_x(x) = log p_z(f(x)) + log|det df/dx|.  Every layer here is an ``nn.Module`` with

    y, logdet = layer(x)     # forward: y = f(x), logdet = log|det df/dx| per example, shape (N,)
    x = layer.inverse(y)     # the exact inverse (no log-det)

and works on vectors (N, D) and/or images (N, C, H, W) (the second axis is always the "channel").

Usage::

    import minigrad.nn as nn
    from minigrad.nn import flows as fl

    def net(c_in, c_out):                       # any module (N, c_in, ...) -> (N, c_out, ...)
        return nn.Sequential(nn.Linear(c_in, 64), nn.ReLU(), fl.zero_init(nn.Linear(64, c_out)))

    flow = fl.FlowSequential(
        fl.AffineCoupling(fl.alternating_mask(2, 0), net(2, 4), num_channels=2),
        fl.AffineCoupling(fl.alternating_mask(2, 1), net(2, 4), num_channels=2))
    z, logdet = flow(x)                                      # x: (N, 2)
    nll = -(fl.standard_normal_logprob(z) + logdet).mean()  # nats per example
    samples = flow.inverse(mg.randn(64, 2))

Multi-scale images (Glow/RealNVP): ``MultiScaleFlow([level_1, ..., level_L], (C, H, W))``, each
level typically ``FlowSequential(Squeeze(), ActNorm(4C), InvConv1x1(4C), AffineCoupling("channel", ..))``;
after every level but the last, half the channels are factored out to the prior (layout in its docstring).

Coupling convention (``AdditiveCoupling`` / ``AffineCoupling``): the input splits into a kept part x_a
(passed through unchanged, it conditions the rest) and a transformed part x_b.

- ``mask`` an array (1 = kept): a checkerboard ``checkerboard_mask(h, w, parity)`` of shape (1, h, w) for
  images, or ``alternating_mask(d, parity)`` / ``half_mask(d, parity)`` of shape (d,) for vectors. net
  receives the masked input x * mask (same shape as x) and returns, for the affine coupling, 2C channels
  (N, 2C, ...): the first C are the raw log-scales, the last C the shifts; for the additive one, C
  channels (the shift). Outputs at kept positions are ignored.
- ``mask="channel"``: x_a = x[:, :C//2] is kept, x_b = x[:, C//2:] transformed; ``"channel_flip"``:
  x_b = x[:, :C//2] transformed, x_a = x[:, C//2:] kept. net maps x_a (N, C_a, ...) to (N, 2 C_b, ...)
  (affine: raw log-scales then shifts) or (N, C_b, ...) (additive), C_b = channels of x_b.

Affine log-scales are bounded: s = scale_c * tanh(raw), with a learned per-channel ``scale``
(initialised to ``scale_init``), so exp(s) cannot overflow early in training. Zero-initialising net's
last layer (``zero_init``) starts every coupling at the identity.

Numerical care: every layer raises a ``FloatingPointError`` naming itself when its output or log-det is
not finite (``check_finite=False`` on the module, or ``FlowModule.check_finite = False``, turns it off).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import linalg
from ..grad_mode import no_grad
from ..ops import cat, sigmoid, tanh
from ..tensor import Tensor
from ..utils.likelihood import logit_transform_logdet
from .module import Module, Parameter

__all__ = [
    "FlowModule", "FlowSequential", "AdditiveCoupling", "AffineCoupling", "Squeeze", "Unsqueeze",
    "MultiScaleFlow", "ActNorm", "InvConv1x1", "LogitTransform", "checkerboard_mask", "alternating_mask",
    "half_mask", "standard_normal_logprob", "uniform_dequantize", "zero_init",
]

LOG_2PI = math.log(2.0 * math.pi)


# --- helpers -------------------------------------------------------------------------------------------
def standard_normal_logprob(z: Tensor) -> Tensor:
    """log N(z; 0, I) per example: z (N, ...) -> (N,), = -0.5 sum z^2 - 0.5 D log(2 pi)."""
    d = int(np.prod(z.shape[1:]))
    return -0.5 * (z * z).reshape(z.shape[0], -1).sum(1) - 0.5 * d * LOG_2PI


def uniform_dequantize(v: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Integer levels v in {0..K-1} -> y = (v + u) / K, u ~ U[0, 1): a point of [0, 1) (float32).

    Report bits/dim of such data with ``minigrad.utils.likelihood.discrete_nll`` (adds D ln K)."""
    return ((np.asarray(v, dtype=np.float64) + rng.random(np.shape(v))) / levels).astype(np.float32)


def checkerboard_mask(h: int, w: int, parity: int = 0) -> np.ndarray:
    """(1, h, w) float32 mask, 1 (kept) where (i + j) % 2 == parity."""
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return ((i + j) % 2 == parity).astype(np.float32)[None]


def alternating_mask(d: int, parity: int = 0) -> np.ndarray:
    """(d,) float32 mask, 1 (kept) at the indices i with i % 2 == parity."""
    return (np.arange(d) % 2 == parity).astype(np.float32)


def half_mask(d: int, parity: int = 0) -> np.ndarray:
    """(d,) float32 mask: the first half kept (parity 0) or the second half kept (parity 1)."""
    first = np.arange(d) < d // 2
    return (first if parity == 0 else ~first).astype(np.float32)


def zero_init(module: Module) -> Module:
    """Set every parameter of ``module`` to 0 (in place) and return it: a net whose output starts at 0."""
    with no_grad():
        for p in module.parameters():
            p.copy_(np.zeros(p.shape, dtype=p.array.dtype))
    return module


def _per_example_sum(a: Tensor) -> Tensor:
    return a.reshape(a.shape[0], -1).sum(1)


def _zeros_logdet(x: Tensor) -> Tensor:
    return x.new_zeros((x.shape[0],))


def _channel_view(p: Tensor, ndim: int) -> Tensor:
    """A per-channel vector (C,) shaped to broadcast against (N, C, ...) of ``ndim`` dims."""
    return p.reshape((1, p.shape[0]) + (1,) * (ndim - 2))


# --- base and container --------------------------------------------------------------------------------
class FlowModule(Module):
    """Base of the flow layers: ``forward(x) -> (y, logdet (N,))``, ``inverse(y) -> x``.

    ``output_shape(shape)`` maps one example's shape (no batch axis) to the output's (identity unless
    the layer reshapes); ``MultiScaleFlow`` uses it to lay out z without running the flow."""

    check_finite = True

    def inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is missing the required 'inverse' method")

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape)

    def _checked(self, y: Tensor, logdet: Tensor) -> tuple[Tensor, Tensor]:
        if self.check_finite:
            xp = y.xp
            if not bool(xp.isfinite(logdet.array).all()):
                raise FloatingPointError(f"{self._get_name()}: non-finite log-det in forward")
            if not bool(xp.isfinite(y.array).all()):
                raise FloatingPointError(f"{self._get_name()}: non-finite output in forward")
        return y, logdet


class FlowSequential(FlowModule):
    """f = f_K o ... o f_1: forward chains the layers and sums their log-dets; inverse runs in reverse."""

    def __init__(self, *layers: FlowModule) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Any:
        return iter(self._modules.values())

    def __getitem__(self, i: int) -> FlowModule:
        return list(self._modules.values())[i]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = _zeros_logdet(x)
        for layer in self._modules.values():
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def forward_steps(self, x: Tensor) -> list[Tensor]:
        """The input and the output of every layer: [x, f_1(x), f_2(f_1(x)), ...] (for pictures)."""
        out = [x]
        for layer in self._modules.values():
            x, _ = layer(x)
            out.append(x)
        return out

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(list(self._modules.values())):
            y = layer.inverse(y)
        return y

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for layer in self._modules.values():
            shape = layer.output_shape(shape)
        return tuple(shape)


# --- couplings -----------------------------------------------------------------------------------------
class _Coupling(FlowModule):
    """Shared split/merge logic of the coupling layers (see the module docstring for the convention)."""

    def __init__(self, mask: Any, net: Module) -> None:
        super().__init__()
        self.net = net
        if isinstance(mask, str):
            if mask not in ("channel", "channel_flip"):
                raise ValueError(f"{type(self).__name__}: mask must be an array, 'channel' or "
                                 f"'channel_flip', got {mask!r}")
            self.mode = mask
            self.register_buffer("mask", None)
        else:
            self.mode = "mask"
            m = mask.array if isinstance(mask, Tensor) else np.asarray(mask, dtype=np.float32)
            self.register_buffer("mask", Tensor._make(m), persistent=False)

    def _mask_for(self, x: Tensor) -> Tensor:
        m = self.mask
        if m.dtype != x.dtype:
            m = m.to(x.dtype)
        return m

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(kept, transformed) channel blocks in channel mode."""
        c = x.shape[1] // 2
        if self.mode == "channel":
            return x[:, :c], x[:, c:]
        return x[:, c:], x[:, :c]

    def _merge(self, xa: Tensor, xb: Tensor) -> Tensor:
        return cat([xa, xb], 1) if self.mode == "channel" else cat([xb, xa], 1)

    def _channel_range(self, c_total: int) -> slice:
        c = c_total // 2
        return slice(c, c_total) if self.mode == "channel" else slice(0, c)

    def extra_repr(self) -> str:
        return f"mode={self.mode}"


class AdditiveCoupling(_Coupling):
    """NICE: y = x_m + (1 - m) * (x + t(x_m)), x_m = x * m; log|det J| = 0. Inverse: x = y - (1-m) t(y_m).

    net: masked input (same shape as x) -> t (same shape); channel mode: x_a (N, C_a, ..) -> (N, C_b, ..)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mode == "mask":
            m = self._mask_for(x)
            xm = x * m
            y = xm + (1 - m) * (x + self.net(xm))
        else:
            xa, xb = self._split(x)
            y = self._merge(xa, xb + self.net(xa))
        return self._checked(y, _zeros_logdet(x))

    def inverse(self, y: Tensor) -> Tensor:
        if self.mode == "mask":
            m = self._mask_for(y)
            ym = y * m
            return ym + (1 - m) * (y - self.net(ym))
        ya, yb = self._split(y)
        return self._merge(ya, yb - self.net(ya))


class AffineCoupling(_Coupling):
    """RealNVP: y = x_m + (1 - m) * (x * exp(s) + t), (raw, t) = net(x_m), s = scale * tanh(raw).

    log|det J| = sum of s over the transformed entries (N,). Inverse: x = y_m + (1 - m) (y - t) exp(-s),
    with s, t recomputed from y_m = x_m. ``scale`` is a learned per-channel parameter of shape
    (num_channels,) (C of the full input; one shared scalar when ``num_channels`` is None), initialised to
    ``scale_init``: |s| <= |scale|. net outputs 2x the transformed channels: raw log-scales first, then t.
    """

    def __init__(self, mask: Any, net: Module, num_channels: int | None = None,
                 scale_init: float = 1.0) -> None:
        super().__init__(mask, net)
        if num_channels is None and self.mode == "mask" and self.mask.ndim == 1:
            num_channels = self.mask.shape[0]
        n = 1 if num_channels is None else num_channels
        self.scale = Parameter(Tensor._make(np.full((n,), scale_init, dtype=np.float32)))

    def _scale_view(self, ndim: int, channels: slice | None) -> Tensor:
        sc = self.scale
        if channels is not None and sc.shape[0] > 1:
            sc = sc[channels]
        return _channel_view(sc, ndim)

    def _s_t(self, cond: Tensor, ndim: int, channels: slice | None) -> tuple[Tensor, Tensor]:
        h = self.net(cond)
        c = h.shape[1] // 2
        raw, t = h[:, :c], h[:, c:]
        return self._scale_view(ndim, channels) * tanh(raw), t

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.mode == "mask":
            m = self._mask_for(x)
            xm = x * m
            s, t = self._s_t(xm, x.ndim, None)
            s, t = s * (1 - m), t * (1 - m)
            y = xm + (1 - m) * (x * s.exp() + t)
        else:
            xa, xb = self._split(x)
            s, t = self._s_t(xa, x.ndim, self._channel_range(x.shape[1]))
            y = self._merge(xa, xb * s.exp() + t)
        return self._checked(y, _per_example_sum(s))

    def inverse(self, y: Tensor) -> Tensor:
        if self.mode == "mask":
            m = self._mask_for(y)
            ym = y * m
            s, t = self._s_t(ym, y.ndim, None)
            return ym + (1 - m) * ((y - t) * (-s).exp())
        ya, yb = self._split(y)
        s, t = self._s_t(ya, y.ndim, self._channel_range(y.shape[1]))
        return self._merge(ya, (yb - t) * (-s).exp())


# --- reshaping and multi-scale -------------------------------------------------------------------------
def _squeeze(x: Tensor) -> Tensor:
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"Squeeze: height and width must be even, got {h}x{w}")
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def _unsqueeze(y: Tensor) -> Tensor:
    n, c4, h, w = y.shape
    if c4 % 4:
        raise ValueError(f"Unsqueeze: channels must be a multiple of 4, got {c4}")
    c = c4 // 4
    y = y.reshape(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c, h * 2, w * 2)


class Squeeze(FlowModule):
    """Space-to-depth 2x2: (N, C, H, W) -> (N, 4C, H/2, W/2); channel 4c + 2i + j holds pixel (2h+i, 2w+j)
    of input channel c. log|det J| = 0 (a permutation)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return _squeeze(x), _zeros_logdet(x)

    def inverse(self, y: Tensor) -> Tensor:
        return _unsqueeze(y)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (4 * c, h // 2, w // 2)


class Unsqueeze(FlowModule):
    """Depth-to-space, the inverse of ``Squeeze``: (N, 4C, H, W) -> (N, C, 2H, 2W); log|det J| = 0."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return _unsqueeze(x), _zeros_logdet(x)

    def inverse(self, y: Tensor) -> Tensor:
        return _squeeze(y)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (c // 4, 2 * h, 2 * w)


class MultiScaleFlow(FlowModule):
    """Multi-scale architecture: levels run in turn; after each level but the last, the second half of
    the channels, x[:, C//2:], is factored out (sent straight to the prior) and only x[:, :C//2] goes on.

    levels: flows on images (each may start with a ``Squeeze``); input_shape: (C, H, W) of one example.
    z layout, shape (N, C*H*W): the flattened factored-out blocks in level order, then the flattened
    output of the last level: z = [z_1.flatten(1), ..., z_{L-1}.flatten(1), h_L.flatten(1)].
    ``z_shapes`` lists the per-example shape of each block (computed from ``output_shape``)."""

    def __init__(self, levels: Sequence[FlowModule], input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        if not levels:
            raise ValueError("MultiScaleFlow: needs at least one level")
        for i, level in enumerate(levels):
            self.add_module(f"level{i}", level)
        self.input_shape = tuple(input_shape)
        self.z_shapes: list[tuple[int, ...]] = []
        shape = self.input_shape
        for i, level in enumerate(levels):
            shape = level.output_shape(shape)
            if i < len(levels) - 1:
                c = shape[0]
                self.z_shapes.append((c - c // 2,) + tuple(shape[1:]))
                shape = (c // 2,) + tuple(shape[1:])
        self.z_shapes.append(tuple(shape))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[0]
        logdet = _zeros_logdet(x)
        zs = []
        levels = list(self._modules.values())
        for i, level in enumerate(levels):
            x, ld = level(x)
            logdet = logdet + ld
            if i < len(levels) - 1:
                c = x.shape[1] // 2
                zs.append(x[:, c:].reshape(n, -1))
                x = x[:, :c]
        zs.append(x.reshape(n, -1))
        return cat(zs, 1), logdet

    def inverse(self, z: Tensor) -> Tensor:
        n = z.shape[0]
        blocks, start = [], 0
        for shp in self.z_shapes:
            size = int(np.prod(shp))
            blocks.append(z[:, start:start + size].reshape((n,) + shp))
            start += size
        levels = list(self._modules.values())
        h = blocks[-1]
        for i in range(len(levels) - 1, -1, -1):
            if i < len(levels) - 1:
                h = cat([h, blocks[i]], 1)
            h = levels[i].inverse(h)
        return h

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(shape)),)


# --- per-channel affine and 1x1 convolution ------------------------------------------------------------
def _spatial_size(x: Tensor) -> int:
    return int(np.prod(x.shape[2:])) if x.ndim > 2 else 1


class ActNorm(FlowModule):
    """Per-channel affine y = (x + bias) * exp(log_scale) (Glow); log|det J| = H*W*sum(log_scale).

    Data-dependent init: the first forward (while ``initialized`` is False) sets bias = -mean and
    log_scale = -log(std) of that batch per channel (over N, H, W), so its outputs have mean 0, std 1.
    A channel whose batch std is below ``eps`` (a constant channel) is only centred (log_scale 0), so it
    produces no inf/NaN and no huge log-det. ``initialized`` is a persistent bool buffer (state_dict)."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_channels, self.eps = num_channels, eps
        self.bias = Parameter(Tensor._make(np.zeros(num_channels, dtype=np.float32)))
        self.log_scale = Parameter(Tensor._make(np.zeros(num_channels, dtype=np.float32)))
        self.register_buffer("initialized", Tensor._make(np.zeros((), dtype=bool)))

    def _initialize(self, x: Tensor) -> None:
        xp = x.xp
        a = xp.moveaxis(x.array, 1, 0).reshape(x.shape[1], -1).astype(xp.float64)
        mean, std = a.mean(1), a.std(1)
        log_scale = xp.where(std > self.eps, -xp.log(xp.maximum(std, self.eps)), 0.0)
        with no_grad():
            self.bias.copy_(Tensor._make((-mean).astype(self.bias.array.dtype)))
            self.log_scale.copy_(Tensor._make(log_scale.astype(self.log_scale.array.dtype)))
            self.initialized.array = xp.ones((), dtype=bool)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.initialized.array):
            self._initialize(x)
        y = (x + _channel_view(self.bias, x.ndim)) * _channel_view(self.log_scale, x.ndim).exp()
        logdet = (self.log_scale.sum() * _spatial_size(x)).expand(x.shape[0])
        return self._checked(y, logdet)

    def inverse(self, y: Tensor) -> Tensor:
        return y * _channel_view(-self.log_scale, y.ndim).exp() - _channel_view(self.bias, y.ndim)

    def extra_repr(self) -> str:
        return f"{self.num_channels}"


def _random_orthogonal(c: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((c, c)))
    return q * np.sign(np.diag(r))


def _lu_decompose(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial-pivoting LU: w = p @ l @ u, p a permutation, l unit lower, u upper triangular."""
    c = w.shape[0]
    u, perm, l_ = w.astype(np.float64).copy(), np.arange(c), np.eye(c)
    for k in range(c):
        piv = k + int(np.argmax(np.abs(u[k:, k])))
        if piv != k:
            u[[k, piv]], perm[[k, piv]] = u[[piv, k]], perm[[piv, k]]
            l_[[k, piv], :k] = l_[[piv, k], :k]
        for i in range(k + 1, c):
            l_[i, k] = u[i, k] / u[k, k]
            u[i] -= l_[i, k] * u[k]
    p = np.zeros((c, c))
    p[perm, np.arange(c)] = 1.0  # (p^T w) = l u, i.e. rows of w permuted by perm
    return p, l_, np.triu(u)


class InvConv1x1(FlowModule):
    """Invertible 1x1 convolution (Glow): y[:, :, h, w] = W x[:, :, h, w]; on vectors (N, C): y = x W^T.

    log|det J| = H*W*log|det W|. ``lu=False``: W a free (C, C) parameter, random orthogonal at init,
    log|det W| by ``minigrad.linalg.slogdet``. ``lu=True``: W = P L (U + diag(sign_s * exp(log_s))) with
    P a fixed permutation, L unit lower and U strictly upper triangular (learned), so log|det W| =
    sum(log_s), O(C). ``seed`` fixes the initial orthogonal matrix (default: drawn from NumPy's global RNG).
    """

    def __init__(self, num_channels: int, lu: bool = False, seed: int | None = None) -> None:
        super().__init__()
        self.num_channels, self.lu = num_channels, lu
        rng = np.random.default_rng(seed if seed is not None else np.random.randint(2**31))
        w = _random_orthogonal(num_channels, rng)
        f32 = np.float32
        if not lu:
            self.weight = Parameter(Tensor._make(w.astype(f32)))
            return
        p, lo, up = _lu_decompose(w)
        s = np.diag(up)
        self.register_buffer("perm", Tensor._make(p.astype(f32)))
        self.register_buffer("sign_s", Tensor._make(np.sign(s).astype(f32)))
        lower_mask = np.tril(np.ones_like(w), -1).astype(f32)
        self.register_buffer("lower_mask", Tensor._make(lower_mask), persistent=False)
        self.register_buffer("eye", Tensor._make(np.eye(num_channels, dtype=f32)), persistent=False)
        self.lower = Parameter(Tensor._make(lo.astype(f32)))
        self.upper = Parameter(Tensor._make(np.triu(up, 1).astype(f32)))
        self.log_s = Parameter(Tensor._make(np.log(np.abs(s)).astype(f32)))

    def weight_matrix(self) -> Tensor:
        """The (C, C) matrix W (for lu=True assembled from its factors)."""
        if not self.lu:
            return self.weight
        lmask = self.lower_mask.to(self.lower.dtype)
        eye = self.eye.to(self.lower.dtype)
        lo = self.lower * lmask + eye
        up = self.upper * lmask.mT + eye * (self.sign_s.to(self.lower.dtype) * self.log_s.exp())
        return self.perm.to(self.lower.dtype) @ lo @ up

    def log_abs_det_w(self) -> Tensor:
        """log|det W| (a 0-d Tensor)."""
        return self.log_s.sum() if self.lu else linalg.slogdet(self.weight)[1]

    @staticmethod
    def _apply(w: Tensor, x: Tensor) -> Tensor:
        if x.ndim == 2:
            return x @ w.mT
        n, c = x.shape[:2]
        return (w @ x.reshape(n, c, -1)).reshape(x.shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self._apply(self.weight_matrix(), x)
        logdet = (self.log_abs_det_w() * _spatial_size(x)).expand(x.shape[0])
        return self._checked(y, logdet)

    def inverse(self, y: Tensor) -> Tensor:
        return self._apply(linalg.inv(self.weight_matrix()), y)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, lu={self.lu}"


# --- logit ---------------------------------------------------------------------------------------------
class LogitTransform(FlowModule):
    """y in [0, 1) -> z = logit(alpha + (1 - 2 alpha) y), element-wise (RealNVP's pre-processing).

    log|det J| = sum over an example of log(1 - 2 alpha) - log s - log(1 - s), s = alpha + (1 - 2 alpha) y
    (``minigrad.utils.likelihood.logit_transform_logdet``). Inverse: y = (sigmoid(z) - alpha) / (1 - 2 alpha).
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"LogitTransform: alpha must be in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self.alpha + (1.0 - 2.0 * self.alpha) * x
        y = s.log() - (1.0 - s).log()
        return self._checked(y, _per_example_sum(logit_transform_logdet(x, self.alpha)))

    def inverse(self, y: Tensor) -> Tensor:
        return (sigmoid(y) - self.alpha) / (1.0 - 2.0 * self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
