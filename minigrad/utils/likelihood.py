"""Likelihood units shared by every generative model: nats per example, bits per dimension.

A model of D discrete values x_d in {0, ..., K-1} assigns a probability P(x); its negative
log-likelihood NLL(x) = -ln P(x) is in nats per example, and

    bits/dim = NLL / (D ln 2)

(log2 K for a uniform model: D ln K / (D ln 2)). A *density* model (a flow, a Gaussian VAE) works on
dequantised data y = (x + u) / K, u ~ U[0, 1)^D, a point of the cube [0, 1)^D. By Jensen,
-ln P(x) <= E_u[-ln p(y)] + D ln K, with -ln p(y) the density NLL *in the [0, 1) scale*: a model that
first maps y to another space (a logit, y -> z = logit(alpha + (1 - 2 alpha) y)) must add the log|det|
of that map, i.e. -ln p(y) = -ln p_z(z) - ln|dz/dy|. So

    discrete NLL bound = density NLL of y in [0, 1)^D + D ln K       (nats; ``discrete_nll``)

which is what ``bits_per_dim(discrete_nll(nll_y, D, K), D)`` reports for dequantised models.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LN2", "bits_per_dim", "nats_from_bits_per_dim", "discrete_nll", "logit_transform_logdet"]

LN2 = math.log(2.0)


def bits_per_dim(nll_nats: Any, num_dims: int) -> Any:
    """Nats per example (float, array or Tensor) -> bits per dimension: nll / (D ln 2)."""
    if num_dims <= 0:
        raise ValueError(f"bits_per_dim: num_dims must be positive, got {num_dims}")
    return nll_nats / (num_dims * LN2)


def nats_from_bits_per_dim(bpd: Any, num_dims: int) -> Any:
    """The inverse of ``bits_per_dim``: bits/dim -> nats per example (bpd * D ln 2)."""
    return bpd * (num_dims * LN2)


def discrete_nll(density_nll_nats: Any, num_dims: int, levels: int) -> Any:
    """Upper bound on -ln P(x) of K-level data from the NLL of its dequantised version in [0, 1)^D.

    density_nll_nats: -ln p(y) per example with y = (x + u) / K in [0, 1)^D (any logit or other
    change of variables already folded in). Returns density_nll + D ln K: the cube of each discrete
    value has volume K^-D in that scale.
    """
    if levels < 2:
        raise ValueError(f"discrete_nll: levels must be >= 2, got {levels}")
    return density_nll_nats + num_dims * math.log(levels)


def logit_transform_logdet(y: Any, alpha: float) -> Any:
    """log|dz/dy| of z = logit(alpha + (1 - 2 alpha) y), element by element (same shape as y).

    y: array in [0, 1). dz/dy = (1 - 2 alpha) / (s (1 - s)) with s = alpha + (1 - 2 alpha) y, so the
    per-element log-derivative is log(1 - 2 alpha) - log s - log(1 - s). Sum it over an example's
    elements and *subtract* it from the z-space NLL to get the y-space NLL.
    """
    s = alpha + (1.0 - 2.0 * alpha) * y
    return math.log(1.0 - 2.0 * alpha) - _log(s) - _log(1.0 - s)


def _log(a: Any) -> Any:
    log = getattr(a, "log", None)
    if callable(log):  # a Tensor
        return log()
    import numpy as np

    return np.log(a)
