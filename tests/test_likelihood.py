"""The bits/dim helper every generative model reports through (minigrad.utils.likelihood)."""

import math

import numpy as np
import pytest

import minigrad
from minigrad.utils.likelihood import (
    bits_per_dim,
    discrete_nll,
    logit_transform_logdet,
    nats_from_bits_per_dim,
)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_uniform_model_gives_log2_levels(levels):
    d = 64
    # a uniform discrete model: P(x) = K^-D
    assert bits_per_dim(d * math.log(levels), d) == pytest.approx(math.log2(levels), rel=1e-12)
    # a uniform density on the dequantised cube [0, 1)^D: -ln p(y) = 0
    assert bits_per_dim(discrete_nll(0.0, d, levels), d) == pytest.approx(math.log2(levels), rel=1e-12)


def test_round_trip_and_arrays():
    nll = np.array([80.0, 100.0])
    np.testing.assert_allclose(nats_from_bits_per_dim(bits_per_dim(nll, 784), 784), nll)
    np.testing.assert_allclose(bits_per_dim(nll, 784), nll / (784 * math.log(2)))
    t = bits_per_dim(minigrad.tensor(nll), 784)
    np.testing.assert_allclose(t.numpy(), nll / (784 * math.log(2)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_dims"):
        bits_per_dim(1.0, 0)
    with pytest.raises(ValueError, match="levels"):
        discrete_nll(1.0, 4, 1)


def test_logit_logdet_matches_finite_differences():
    alpha = 1e-3
    y = np.linspace(0.01, 0.99, 7)

    def z(v):
        s = alpha + (1 - 2 * alpha) * v
        return np.log(s) - np.log1p(-s)

    h = 1e-6
    fd = np.log((z(y + h) - z(y - h)) / (2 * h))
    np.testing.assert_allclose(logit_transform_logdet(y, alpha), fd, rtol=1e-6, atol=1e-6)
    t = logit_transform_logdet(minigrad.tensor(y), alpha)
    np.testing.assert_allclose(t.numpy(), fd, rtol=1e-6, atol=1e-6)
