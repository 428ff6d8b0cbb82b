"""Gradient clipping and parameter/vector conversion (``torch.nn.utils`` names)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..grad_mode import no_grad
from ..ops import cat
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Tensor:
    """Scale all gradients in place so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of per-parameter gradient norms (``inf``: the
    largest absolute entry). Gradients are multiplied by min(1, max_norm / (total + 1e-6)).
    Returns the total norm (before clipping) as a 0-d Tensor in the gradients' dtype.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor._make(np.asarray(0.0, dtype=np.float32))
    xp = grads[0].xp
    dtype = grads[0].dtype
    if norm_type == math.inf:
        norms = [xp.abs(g.array).max() if g.array.size else xp.asarray(0.0, dtype=dtype) for g in grads]
        total = xp.max(xp.stack([xp.asarray(n, dtype=dtype) for n in norms]))
    else:
        p = norm_type
        per = [(xp.abs(g.array.astype(dtype, copy=False)) ** p).sum() ** (1.0 / p) for g in grads]
        total = (xp.stack([xp.asarray(n, dtype=dtype) for n in per]) ** p).sum() ** (1.0 / p)
    total = xp.asarray(total, dtype=dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    coef = max_norm / (float(total) + 1e-6)
    if coef < 1.0:
        for g in grads:
            g.array *= g.array.dtype.type(coef)
            g._bump_version()
    return Tensor._make(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: Any = None) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)
            p.grad._bump_version()


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place; identities kept)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec has shape {tuple(vec.shape)}, expected ({total},)")
    k = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[k:k + n].reshape(p.shape).astype(p.dtype, copy=False)
            p._bump_version()
            k += n


from .spectral_norm import SpectralNorm, remove_spectral_norm, spectral_norm  # noqa: E402

__all__ += ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]
