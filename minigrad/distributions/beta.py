"""``Beta(concentration1, concentration0)``: densities on (0, 1) with lgamma/digamma from minigrad.ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import broadcast_to, digamma, lgamma, log, log1p
from ..random import _gen
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


def log_beta(a: Tensor, b: Tensor) -> Tensor:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    """Beta(a, b).  log p(x) = (a - 1) log x + (b - 1) log(1 - x) - log B(a, b).

    Samples come from the backend's Beta sampler and carry no gradient (no ``rsample``: PyTorch
    reparameterises through implicit Gamma gradients, which minigrad does not have).
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval

    def __init__(self, concentration1: Any, concentration0: Any, validate_args: bool | None = None) -> None:
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        super().__init__(self.concentration1.shape, (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        shape = tuple(batch_shape)
        new.concentration1 = broadcast_to(self.concentration1, shape)
        new.concentration0 = broadcast_to(self.concentration0, shape)
        return self._expanded(new, shape)

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        """(a - 1) / (a + b - 2) with a - 1, b - 1 clamped at 0; 1 when both a, b < 1 (as PyTorch)."""
        a, b = self.concentration1.array, self.concentration0.array
        xp = self.concentration1.xp
        am, bm = xp.maximum(a - 1, 0), xp.maximum(b - 1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = am / (am + bm)
        m = xp.where((a < 1) & (b < 1), a.dtype.type(1), m)
        return Tensor._make(m.astype(a.dtype, copy=False))

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total * total * (total + 1.0))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        a, b = self.concentration1.array, self.concentration0.array
        xp = self.concentration1.xp
        g = _gen(xp, None)
        aa = xp.broadcast_to(a, shape).astype(np.float64)
        bb = xp.broadcast_to(b, shape).astype(np.float64)
        x = g.beta(aa, bb, size=shape) if shape else g.beta(aa, bb)
        eps = float(np.finfo(a.dtype).tiny)
        x = xp.clip(xp.asarray(x, dtype=a.dtype), eps, 1.0 - float(np.finfo(a.dtype).eps) / 2)
        return Tensor._make(x)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (a - 1.0) * log(value) + (b - 1.0) * log1p(-value) - log_beta(a, b)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return (
            log_beta(a, b) - (a - 1.0) * digamma(a) - (b - 1.0) * digamma(b) + (total - 2.0) * digamma(total)
        )
