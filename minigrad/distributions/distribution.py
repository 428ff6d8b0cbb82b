"""``Distribution``: the base class (shapes, argument validation, sample/rsample/log_prob interface).

Shapes follow PyTorch: a sample has shape ``sample_shape + batch_shape + event_shape``; ``log_prob``
returns one value per event, shape ``sample_shape + batch_shape``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grad_mode import no_grad
from ..tensor import Tensor
from . import constraints
from .constraints import Constraint


def _shape(s: Any) -> tuple[int, ...]:
    if isinstance(s, (int, np.integer)):
        return (int(s),)
    return tuple(int(v) for v in s)


class Distribution:
    """Base class of every probability distribution (PyTorch's ``torch.distributions.Distribution``)."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args_default = True
    arg_constraints: dict[str, Constraint] = {}
    support: Any = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument/sample validation on or off for distributions made from now on."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected a bool, got {value!r}")
        Distribution._validate_args_default = value

    def __init__(
        self, batch_shape: Any = (), event_shape: Any = (), validate_args: bool | None = None
    ) -> None:
        self._batch_shape = _shape(batch_shape)
        self._event_shape = _shape(event_shape)
        self._validate_args = Distribution._validate_args_default if validate_args is None else validate_args
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraints.dependent is constraint or param not in self.__dict__:
                    continue  # a lazy parameter that has not been computed
                value = getattr(self, param)
                valid = constraint.check(value)
                if not bool(valid.array.all()):
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                        f"of distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                        f"invalid values:\n{value}"
                    )

    # --- shapes --------------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        raise NotImplementedError(f"{type(self).__name__} does not implement expand")

    def _expanded(self, new: Any, batch_shape: tuple[int, ...]) -> Any:
        """The end of every ``expand``: gives ``new`` (its parameters already expanded) the shapes
        ``batch_shape`` and this event_shape without validating again, and this distribution's
        validate_args; returns ``new``."""
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom __init__ method "
                "must also define a custom .expand() method."
            )
        return cls.__new__(type(self)) if _instance is None else _instance

    # --- sampling and densities ----------------------------------------------------------------
    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A sample (no gradient) of shape ``sample_shape + batch_shape + event_shape``."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised sample: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not support rsample (has_rsample=False)")

    def sample_n(self, n: int) -> Tensor:
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        from ..ops import exp

        return exp(self.entropy())

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        from ..ops import sqrt

        return sqrt(self.variance)

    # --- validation ------------------------------------------------------------------------------
    def _validate_sample(self, value: Any) -> None:
        """Raise ValueError unless ``value`` is a Tensor of a compatible shape inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError(f"The value argument to log_prob must be a Tensor, got {type(value).__name__}")
        n_ev = len(self._event_shape)
        if tuple(value.shape[len(value.shape) - n_ev :]) != self._event_shape or value.ndim < n_ev:
            raise ValueError(
                f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                f"{self._event_shape}."
            )
        actual = value.shape[: value.ndim - n_ev]
        expected = self._batch_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {tuple(value.shape)} vs "
                    f"{self._batch_shape + self._event_shape}."
                )
        support = self.support
        if support is None:
            return
        valid = support.check(value)
        if not bool(valid.array.all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be "
                f"within the support ({support!r}) of the distribution {self!r}, but found invalid "
                f"values:\n{value}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        vals = [self.__dict__[k] for k in names]
        args = ", ".join(
            f"{k}: {v.item() if v.numel() == 1 else tuple(v.shape)}" for k, v in zip(names, vals)
        )
        return f"{type(self).__name__}({args})"
