"""``MultivariateNormal(loc, covariance_matrix= | scale_tril= | precision_matrix=)``, via Cholesky.

Everything is computed from the lower factor L (Sigma = L L^T): samples loc + L eps, the Mahalanobis
term |L^{-1}(x - loc)|^2 with a triangular solve, and log det Sigma = 2 sum log diag L.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import broadcast_to, log, matmul, mT, squeeze, sum, unsqueeze
from ..random import _normal
from ..tensor import Tensor
from . import constraints
from ._linalg import cholesky, cholesky_inverse, diagonal, solve_triangular
from .distribution import Distribution
from .utils import as_float_tensor, lazy_property


def batch_mahalanobis(l_: Tensor, x: Tensor) -> Tensor:
    """|L^{-1} x|^2 for L (..., n, n) and x (..., n), batch dims broadcast: shape broadcast(...)."""
    return sum(squeeze(solve_triangular(l_, unsqueeze(x, -1), upper=False), -1) ** 2, -1)


def half_log_det(l_: Tensor) -> Tensor:
    """0.5 log det(L L^T) = sum log diag L."""
    return sum(log(diagonal(l_)), -1)


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over vectors of size n.

    log p(x) = -(n log 2pi + |L^{-1}(x - loc)|^2) / 2 - sum log diag L.
    """

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Any,
        covariance_matrix: Any = None,
        precision_matrix: Any = None,
        scale_tril: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        loc = as_float_tensor(loc)
        if loc.ndim < 1:
            raise ValueError("MultivariateNormal: loc must be at least one-dimensional.")
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum_bool(given) != 1:
            raise ValueError(
                "MultivariateNormal: exactly one of covariance_matrix or precision_matrix or scale_tril "
                "may be specified."
            )
        mat = as_float_tensor(
            next(m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None)
        )
        name = ["covariance_matrix", "precision_matrix", "scale_tril"][given.index(True)]
        if mat.ndim < 2 or mat.shape[-1] != mat.shape[-2]:
            raise ValueError(
                f"MultivariateNormal: {name} must be at least two-dimensional, with optional leading batch "
                f"dimensions, and square; got shape {tuple(mat.shape)}"
            )
        if mat.shape[-1] != loc.shape[-1]:
            raise ValueError(
                f"MultivariateNormal: loc of shape {tuple(loc.shape)} and {name} of shape {tuple(mat.shape)} "
                "disagree on the event size"
            )
        batch = tuple(np.broadcast_shapes(mat.shape[:-2], loc.shape[:-1]))
        n = loc.shape[-1]
        setattr(self, name, broadcast_to(mat, batch + (n, n)) if mat.shape[:-2] != batch else mat)
        self.loc = broadcast_to(loc, batch + (n,)) if loc.shape[:-1] != batch else loc
        super().__init__(batch, (n,), validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = mat
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(mat)
        else:
            # Sigma = P^{-1}: invert through P's own Cholesky factor, then factor Sigma
            self._unbroadcasted_scale_tril = cholesky(_symmetrize(cholesky_inverse(cholesky(mat))))

    def expand(self, batch_shape: Any, _instance: Any = None) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        shape = tuple(batch_shape)
        n = self._event_shape[0]
        new.loc = broadcast_to(self.loc, shape + (n,))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
            if name in self.__dict__:
                setattr(new, name, broadcast_to(self.__dict__[name], shape + (n, n)))
        return self._expanded(new, shape)

    @lazy_property
    def scale_tril(self) -> Tensor:  # type: ignore[override]
        n = self._event_shape[0]
        return broadcast_to(self._unbroadcasted_scale_tril, self._batch_shape + (n, n))

    @lazy_property
    def covariance_matrix(self) -> Tensor:  # type: ignore[override]
        l_ = self._unbroadcasted_scale_tril
        n = self._event_shape[0]
        return broadcast_to(matmul(l_, mT(l_)), self._batch_shape + (n, n))

    @lazy_property
    def precision_matrix(self) -> Tensor:  # type: ignore[override]
        n = self._event_shape[0]
        return broadcast_to(cholesky_inverse(self._unbroadcasted_scale_tril), self._batch_shape + (n, n))

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        v = sum(self._unbroadcasted_scale_tril**2, -1)
        return broadcast_to(v, self._batch_shape + self._event_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = Tensor._make(_normal(self.loc.xp, 0.0, 1.0, shape, self.loc.dtype))
        return self.loc + squeeze(matmul(self._unbroadcasted_scale_tril, unsqueeze(eps, -1)), -1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        m = batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        hld = half_log_det(self._unbroadcasted_scale_tril)
        return (m + self._event_shape[0] * math.log(2 * math.pi)) * -0.5 - hld

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        h = half_log_det(self._unbroadcasted_scale_tril) + 0.5 * n * (1.0 + math.log(2 * math.pi))
        return broadcast_to(h, self._batch_shape) if h.shape != self._batch_shape else h


def _symmetrize(a: Tensor) -> Tensor:
    return (a + mT(a)) * 0.5


def sum_bool(flags: list[bool]) -> int:
    return int(np.sum(flags))
