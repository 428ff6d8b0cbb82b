"""``Bernoulli(probs=...)`` or ``Bernoulli(logits=...)``: 0/1 outcomes; densities computed from logits."""

from __future__ import annotations

from typing import Any

from ..ops import broadcast_to, softplus
from ..random import _uniform
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """-[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))] = softplus(l) - t l, stable for any l."""
    return softplus(logits) - logits * target


class Bernoulli(Distribution):
    """P(x = 1) = probs = sigmoid(logits).  log p(x) = x l - softplus(l)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            param = self.logits
        self._param = param
        super().__init__(param.shape, (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Bernoulli:
        new = self._get_checked_instance(Bernoulli, _instance)
        shape = tuple(batch_shape)
        if "probs" in self.__dict__:
            new.probs = broadcast_to(self.probs, shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = broadcast_to(self.logits, shape)
            new._param = new.logits
        return self._expanded(new, shape)

    @lazy_property
    def logits(self) -> Tensor:  # type: ignore[override]
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:  # type: ignore[override]
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        p = self.probs.array
        m = (p >= 0.5).astype(p.dtype)
        return Tensor._make(self.probs.xp.where(p == 0.5, p.dtype.type("nan"), m))

    @property
    def variance(self) -> Tensor:
        return self.probs * (1.0 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        p = self.probs.array
        u = _uniform(self.probs.xp, 0.0, 1.0, shape, p.dtype)
        return Tensor._make((u < self.probs.xp.broadcast_to(p, shape)).astype(p.dtype))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self) -> Tensor:
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        xp = self._param.xp
        values = xp.arange(2, dtype=self._param.dtype).reshape((2,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.broadcast_to(values, (2,) + self._batch_shape)
        return Tensor._make(values)
