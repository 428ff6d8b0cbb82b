"""Constraints: what values a parameter or a sample may take (``constraints.positive.check(x)``).

``check`` returns a bool Tensor (one entry per event); ``event_dim`` says how many rightmost dims
form one event (1 for ``simplex``, 2 for matrices).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

_make = Tensor._make


def _arr(x: Any) -> Any:
    """The raw array of a Tensor; numbers pass through (so they compare with CuPy arrays too)."""
    return x.array if isinstance(x, Tensor) else x


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Real(Constraint):
    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make(a == a)  # not NaN


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make((a == 0) | (a == 1))


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: float) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return _make(_arr(value) > _arr(self.lower_bound))

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    """lower_bound <= value <= upper_bound (bounds may be tensors)."""

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make((_arr(self.lower_bound) <= a) & (a <= _arr(self.upper_bound)))

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    """lower_bound <= value < upper_bound."""

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make((_arr(self.lower_bound) <= a) & (a < _arr(self.upper_bound)))

    def __repr__(self) -> str:
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make((a % 1 == 0) & (self.lower_bound <= a) & (a <= self.upper_bound))

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        xp = value.xp if isinstance(value, Tensor) else np
        return _make((a >= 0).all(-1) & (xp.abs(a.sum(-1) - 1) < 1e-6))


class _RealVector(Constraint):
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        return _make((a == a).all(-1))


class _LowerCholesky(Constraint):
    """Lower triangular with a positive diagonal."""

    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        xp = value.xp if isinstance(value, Tensor) else np
        tril = (xp.tril(a) == a).all(-1).all(-1)
        diag = (xp.diagonal(a, axis1=-2, axis2=-1) > 0).all(-1)
        return _make(tril & diag)


class _PositiveDefinite(Constraint):
    """Symmetric with positive eigenvalues."""

    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        a = _arr(value)
        xp = value.xp if isinstance(value, Tensor) else np
        sym = xp.isclose(a, xp.swapaxes(a, -1, -2), atol=1e-6).all(-1).all(-1)
        if not bool(sym.all()):
            return _make(sym)
        return _make(sym & (xp.linalg.eigvalsh(a) > 0).all(-1))


class _Dependent(Constraint):
    """A support that depends on the parameters (see the distribution's ``support`` property)."""

    def check(self, value: Tensor) -> Tensor:
        raise ValueError("Cannot determine validity of dependent constraint")


class _IndependentConstraint(Constraint):
    """``base`` with ``reinterpreted_batch_ndims`` more rightmost dims counted as one event."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base.event_dim + self.reinterpreted_batch_ndims

    def check(self, value: Tensor) -> Tensor:
        r = self.base.check(value).array
        for _ in range(self.reinterpreted_batch_ndims):
            r = r.all(-1)
        return _make(r)

    def __repr__(self) -> str:
        return f"Independent({self.base!r}, {self.reinterpreted_batch_ndims})"


real = _Real()
real_vector = _RealVector()
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
nonnegative_integer = _IntegerInterval(0, np.iinfo(np.int64).max)
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
dependent = _Dependent()
greater_than = _GreaterThan
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
independent = _IndependentConstraint
