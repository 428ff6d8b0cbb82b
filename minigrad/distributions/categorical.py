"""``Categorical(probs=...)`` or ``Categorical(logits=...)``: one of K classes per batch element.

Stored normalised: probs sum to 1 along the last dim, logits are log-probabilities (log_softmax).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import broadcast_to, clamp, gather, squeeze, sum
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import (
    as_float_tensor,
    lazy_property,
    logits_to_probs,
    nan_like,
    normalize_logits,
    probs_to_logits,
)


class Categorical(Distribution):
    """P(x = k) = probs[..., k].  log p(k) = log_softmax(logits)[..., k]."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            probs = as_float_tensor(probs)
            if probs.ndim < 1:
                raise ValueError("Categorical: `probs` parameter must be at least one-dimensional.")
            self.probs = probs / sum(probs, -1, keepdim=True)
            param = self.probs
        else:
            logits = as_float_tensor(logits)
            if logits.ndim < 1:
                raise ValueError("Categorical: `logits` parameter must be at least one-dimensional.")
            self.logits = normalize_logits(logits)
            param = self.logits
        self._param = param
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], (), validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Categorical:
        new = self._get_checked_instance(Categorical, _instance)
        shape = tuple(batch_shape)
        pshape = shape + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = broadcast_to(self.probs, pshape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = broadcast_to(self.logits, pshape)
            new._param = new.logits
        new._num_events = self._num_events
        return self._expanded(new, shape)

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self) -> Tensor:  # type: ignore[override]
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:  # type: ignore[override]
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        return nan_like(self._param, self._extended_shape())

    @property
    def mode(self) -> Tensor:
        return Tensor._make(self.probs.array.argmax(-1))

    @property
    def variance(self) -> Tensor:
        return nan_like(self._param, self._extended_shape())

    def sample(self, sample_shape: Any = ()) -> Tensor:
        from ..creation import multinomial

        sample_shape = tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        n = math.prod(sample_shape)
        p2d = self.probs.detach().reshape(-1, self._num_events)
        idx = multinomial(p2d, max(n, 1), replacement=True).array  # (rows, n)
        idx = idx[:, :n].T
        return Tensor._make(idx.reshape(self._extended_shape(sample_shape)))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        v = value.array.astype(np.int64)
        shape = np.broadcast_shapes(v.shape, self.logits.shape[:-1])
        v = value.xp.broadcast_to(v, shape)[..., None]
        logits = self.logits
        if logits.shape[:-1] != shape:
            logits = broadcast_to(logits, shape + (self._num_events,))
        return squeeze(gather(logits, -1, Tensor._make(v)), -1)

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits.dtype).min)
        return -sum(clamp(self.logits, min=min_real) * self.probs, -1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        xp = self._param.xp
        values = xp.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.broadcast_to(values, (self._num_events,) + self._batch_shape)
        return Tensor._make(values)
