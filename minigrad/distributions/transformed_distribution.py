"""``TransformedDistribution(base, transforms)``: the law of y = t_n(...t_1(x)) for x ~ base.

log p(y) = log p_base(x) - sum_i log|det d t_i / d x_i| (change of variables, walking back from y).
"""

from __future__ import annotations

from typing import Any

from ..grad_mode import no_grad
from ..tensor import Tensor
from .distribution import Distribution
from .independent import Independent
from .transforms import Transform
from .utils import sum_rightmost


class TransformedDistribution(Distribution):
    arg_constraints: dict = {}

    def __init__(
        self, base_distribution: Distribution, transforms: Any, validate_args: bool | None = None
    ) -> None:
        if isinstance(transforms, Transform):
            transforms = [transforms]
        transforms = list(transforms)
        if not all(isinstance(t, Transform) for t in transforms):
            raise ValueError(
                "TransformedDistribution: transforms must be a Transform or a list of Transforms, got "
                f"{[type(t).__name__ for t in transforms]}"
            )
        self.transforms = transforms
        base_shape = base_distribution.batch_shape + base_distribution.event_shape
        base_event_dim = len(base_distribution.event_shape)
        domain_event_dim = max([base_event_dim] + [t.event_dim for t in transforms])
        if domain_event_dim > base_event_dim:
            if domain_event_dim > len(base_shape):
                raise ValueError(
                    f"TransformedDistribution: base distribution needs at least {domain_event_dim} dims, got "
                    f"shape {base_shape}"
                )
            base_distribution = Independent(base_distribution, domain_event_dim - base_event_dim)
        self.base_dist = base_distribution
        shape = base_shape
        for t in transforms:
            shape = t.forward_shape(shape)
        event_dim = max([len(base_distribution.event_shape)] + [t.event_dim for t in transforms])
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> TransformedDistribution:
        new = self._get_checked_instance(TransformedDistribution, _instance)
        shape = tuple(batch_shape)
        full = shape + self.event_shape
        for t in reversed(self.transforms):
            full = t.inverse_shape(full)
        new.base_dist = self.base_dist.expand(full[: len(full) - len(self.base_dist.event_shape)])
        new.transforms = self.transforms
        return self._expanded(new, shape)

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def support(self) -> Any:  # type: ignore[override]
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            x = self.base_dist.sample(sample_shape)
            for t in self.transforms:
                x = t(x)
            return x

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        lp: Any = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            lp = lp - sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            y = x
        return lp + sum_rightmost(self.base_dist.log_prob(y), event_dim - len(self.base_dist.event_shape))

    def cdf(self, value: Tensor) -> Tensor:
        """The base cdf at the pre-image, flipped (1 - F) where the composed transform decreases."""
        for t in reversed(self.transforms):
            value = t.inv(value)
        v = self.base_dist.cdf(value)
        sign: Any = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int) and sign == 1:
            return v
        return (v - 0.5) * sign + 0.5
