"""``Uniform(low, high)``: constant density on [low, high); samples low + (high - low) * u."""

from __future__ import annotations

from typing import Any

from ..ops import broadcast_to, clamp, log, where
from ..random import _uniform
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, nan_like


class Uniform(Distribution):
    """U(low, high).  log p(x) = -log(high - low) inside the support, -inf outside."""

    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low: Any, high: Any, validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args and not bool((self.low.array < self.high.array).all()):
            raise ValueError(
                f"Expected parameter low ({type(self.low).__name__} of shape {tuple(self.low.shape)}) of "
                f"distribution {self!r} to satisfy the constraint LessThan(upper_bound=high), but found "
                f"invalid values:\n{self.low}"
            )

    def expand(self, batch_shape: Any, _instance: Any = None) -> Uniform:
        new = self._get_checked_instance(Uniform, _instance)
        shape = tuple(batch_shape)
        new.low, new.high = broadcast_to(self.low, shape), broadcast_to(self.high, shape)
        return self._expanded(new, shape)

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) * 0.5

    @property
    def mode(self) -> Tensor:
        return nan_like(self.high)

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) * (1.0 / 12**0.5)

    @property
    def variance(self) -> Tensor:
        d = self.high - self.low
        return d * d * (1.0 / 12)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = Tensor._make(_uniform(self.low.xp, 0.0, 1.0, shape, self.low.dtype))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low.array <= value.array) & (value.array < self.high.array)
        lp = -log(self.high - self.low)
        lp = broadcast_to(lp, inside.shape) if lp.shape != inside.shape else lp
        return where(Tensor._make(inside), lp, float("-inf"))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return clamp((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value: Tensor) -> Tensor:
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return log(self.high - self.low)
