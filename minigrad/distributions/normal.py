"""``Normal(loc, scale)``: the Gaussian; reparameterised samples loc + scale * eps."""

from __future__ import annotations

import math
from typing import Any

from ..ops import broadcast_to, erf, log
from ..random import _normal
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    """N(loc, scale^2).  log p(x) = -(x - loc)^2 / (2 scale^2) - log scale - log sqrt(2 pi)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Normal:
        new = self._get_checked_instance(Normal, _instance)
        shape = tuple(batch_shape)
        new.loc, new.scale = broadcast_to(self.loc, shape), broadcast_to(self.scale, shape)
        return self._expanded(new, shape)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = Tensor._make(_normal(self.loc.xp, 0.0, 1.0, shape, self.loc.dtype))
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return z * z * -0.5 - log(self.scale) - _LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return (erf((value - self.loc) / self.scale * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5

    def entropy(self) -> Tensor:
        return log(self.scale) + (0.5 + _LOG_SQRT_2PI)
