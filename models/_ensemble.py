"""S independent copies of a small MLP evaluated as one batched network ("seed-batched" models).

A leading model axis S runs through every tensor: inputs (S, B, d_in), weights (S, d_in, d_out), biases
(S, 1, d_out), outputs (S, B, d_out). Copy s only ever sees row s of its input, so the S networks stay
independent: if the training loss is the sum of the S per-copy losses, sum_s L_s(theta_s), then
dL/dtheta_s = dL_s/dtheta_s, and an elementwise optimizer (Adam, RMSprop, SGD) gives copy s exactly the
update a separate run would give it. For tiny MLPs minigrad's cost is the per-op overhead, so S seeds
in one batched matmul cost little more than one.

``EnsembleLinear.stack(linears)`` builds the batched layer from S ``nn.Linear`` layers (copying their
weights), so a batched model can start from exactly the initialisation that S separate models get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor, nn
from minigrad.nn.module import Parameter


class EnsembleLinear(nn.Module):
    """S affine maps at once: y[s] = x[s] @ W[s] + b[s]; x (S, B, d_in), W (S, d_in, d_out), b (S, 1, d_out).

    With ``spectral_norm=True`` each W[s] is divided by an estimate of its largest singular value sigma_s
    (Miyato et al. 2018): per copy, one power-iteration step per training forward, v <- normalize(W u),
    u <- normalize(W^T v) (u (S, d_out), v (S, d_in), buffers, no gradient), then sigma_s = v_s^T W_s u_s
    with gradient through W only; eval mode does not update u, v."""

    def __init__(self, n_models: int, in_features: int, out_features: int,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.n_models, self.in_features, self.out_features = n_models, in_features, out_features
        self.weight = Parameter(mg.zeros(n_models, in_features, out_features))
        self.bias = Parameter(mg.zeros(n_models, 1, out_features))
        self.spectral_norm = spectral_norm
        if spectral_norm:
            self.register_buffer("sn_u", mg.zeros(n_models, out_features))
            self.register_buffer("sn_v", mg.zeros(n_models, in_features))

    @classmethod
    def stack(cls, linears: Sequence[nn.Module]) -> EnsembleLinear:
        """The batched layer holding the S layers ``linears`` (each an ``nn.Linear``, with or without
        ``nn.utils.spectral_norm``: then W_orig and its u, v are copied)."""
        first = linears[0]
        sn = hasattr(first, "weight_orig")
        layer = cls(len(linears), first.in_features, first.out_features, spectral_norm=sn)
        w = [(m.weight_orig if sn else m.weight).numpy().T for m in linears]  # nn.Linear: (out, in)
        layer.weight.array[...] = np.stack(w)
        layer.bias.array[...] = np.stack([m.bias.numpy()[None] for m in linears])
        if sn:
            layer.sn_u.array[...] = np.stack([m.weight_u.numpy() for m in linears])
            layer.sn_v.array[...] = np.stack([m.weight_v.numpy() for m in linears])
        return layer

    def effective_weight(self) -> Tensor:
        """W (S, d_in, d_out), or W / sigma per copy under spectral normalisation."""
        if not self.spectral_norm:
            return self.weight
        w = self.weight
        if self.training:
            with mg.no_grad():
                a = w.array
                v = np.einsum("sio,so->si", a, self.sn_u.array)
                v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
                u = np.einsum("sio,si->so", a, v)
                u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
                self.sn_u.array[...] = u
                self.sn_v.array[...] = v
                self.sn_u._bump_version()
                self.sn_v._bump_version()
        u = mg.tensor(self.sn_u.numpy().copy())[:, :, None]  # (S, d_out, 1)
        v = mg.tensor(self.sn_v.numpy().copy())[:, None, :]  # (S, 1, d_in)
        sigma = v @ w @ u  # (S, 1, 1)
        return w / sigma

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.effective_weight() + self.bias

    def extra_repr(self) -> str:
        return (f"n_models={self.n_models}, in_features={self.in_features}, "
                f"out_features={self.out_features}, spectral_norm={self.spectral_norm}")


def stack_sequential(nets: Sequence[nn.Sequential]) -> nn.Sequential:
    """S copies of one ``nn.Sequential`` of Linear and activation layers -> one seed-batched Sequential
    (Linear layers become ``EnsembleLinear``; the activations, elementwise, are reused)."""
    layers: list[nn.Module] = []
    for parts in zip(*nets):
        if isinstance(parts[0], nn.Linear):
            layers.append(EnsembleLinear.stack(parts))
        else:
            layers.append(parts[0])
    return nn.Sequential(*layers)


class Packed(nn.Module):
    """PacGAN's discriminator: m consecutive samples are joined into one input, (..., N, d) ->
    (..., N/m, m d), before ``net`` (so a packed D judges m samples, all real or all fake, at once)."""

    def __init__(self, net: nn.Module, pack: int) -> None:
        super().__init__()
        self.net, self.pack = net, pack

    def forward(self, x: Tensor) -> Tensor:
        *lead, n, d = x.shape
        return self.net(x.reshape(*lead, n // self.pack, d * self.pack))


def unstack_state(module: nn.Module, s: int) -> dict[str, Any]:
    """Copy s of a seed-batched module's state_dict (every entry's leading axis indexed at s), as NumPy."""
    return {k: v.numpy()[s].copy() for k, v in module.state_dict().items()}
