"""Spectral normalisation of a layer's weight (Miyato et al. 2018), with ``torch.nn.utils``'s names.

``spectral_norm(module)`` re-parametrises ``module.weight`` as W = W_orig / sigma(W_orig), where sigma is
the largest singular value of W_orig viewed as a matrix (dim ``dim`` first, the rest flattened):
(out, in) for Linear, (out, in * kh * kw) for Conv2d, (out, in * kh * kw) with dim=1 for ConvTranspose2d.

sigma is estimated by power iteration with two persistent vectors u (rows) and v (columns): in training
mode each forward runs ``n_power_iterations`` steps v <- normalize(W^T u), u <- normalize(W v) (without
gradient), then sigma = u^T W v (with gradient through W only). In eval mode u and v are not updated.

Module state, as in PyTorch: the parameter ``weight_orig``, the buffers ``weight_u`` (rows,) and
``weight_v`` (cols,); ``weight`` becomes a plain attribute recomputed by a forward pre-hook. The
state_dict keys are therefore ``weight_orig``, ``weight_u``, ``weight_v`` (plus ``bias``).
"""

from __future__ import annotations

from typing import Any

from ..grad_mode import no_grad
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_orig``, ``_u`` and ``_v``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        """(d0, ..., dk) -> (d_dim, prod of the others), ``dim`` moved to the front first."""
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def _normalize(self, xp: Any, a: Any) -> Any:
        return a / max(float(xp.linalg.norm(a)), self.eps)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """W_orig / (u^T W_orig v), after updating u and v in place when ``do_power_iteration``."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                w = weight_mat.array
                xp = weight.xp
                for _ in range(self.n_power_iterations):
                    v.array[...] = self._normalize(xp, w.T @ u.array)
                    u.array[...] = self._normalize(xp, w @ v.array)
                u._bump_version()
                v._bump_version()
        # copies: the next forward updates the buffers in place, while this graph may still need them
        u_now, v_now = u.detach().clone(), v.detach().clone()
        sigma = (u_now * (weight_mat @ v_now)).sum()
        return weight / sigma

    def __call__(self, module: Module, inputs: tuple) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> SpectralNorm:
        for hook in module._forward_pre_hooks:
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"spectral_norm: module {type(module).__name__} has no parameter {name!r}")
        with no_grad():
            weight_mat = fn.reshape_weight_to_matrix(weight).array
            h, w = weight_mat.shape
            xp = weight.xp
            from .. import randn

            u = fn._normalize(xp, randn(h, dtype=weight.dtype, device=weight.device).array)
            v = fn._normalize(xp, randn(w, dtype=weight.dtype, device=weight.device).array)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        object.__setattr__(module, name, weight.detach())
        module.register_buffer(name + "_u", Tensor._make(u))
        module.register_buffer(name + "_v", Tensor._make(v))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        module.__dict__.pop(self.name, None)
        for suffix in ("_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach().array.copy()))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Apply spectral normalisation to ``module.<name>`` in place and return ``module``.

    ``dim`` defaults to 0 (the output dimension), or 1 for ConvTranspose layers whose weight is
    (in, out, kh, kw). u and v are initialised from N(0, I) draws of minigrad's generator, normalised."""
    if dim is None:
        from .conv_layers import ConvTranspose2d

        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``module.<name>`` becomes a Parameter again, holding W_orig / sigma."""
    for hook in list(module._forward_pre_hooks):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            module._forward_pre_hooks.remove(hook)
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
