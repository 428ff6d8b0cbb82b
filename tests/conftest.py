"""Shared fixtures: the backends to run on (NumPy always, CuPy when a GPU is present)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

BACKENDS = ["numpy"] + (["cupy"] if mg.cuda_is_available() else [])


def xp_of(name: str):
    if name == "numpy":
        return np
    import cupy

    return cupy


@pytest.fixture(params=["numpy", "cupy"])
def backend(request):
    """Run a test on each backend; the CuPy run skips cleanly without CuPy and a GPU."""
    if request.param == "cupy" and not mg.cuda_is_available():
        pytest.skip("CuPy with a GPU is not available")
    return request.param


@pytest.fixture
def xp(backend):
    return xp_of(backend)


@pytest.fixture
def device(backend):
    return "cpu" if backend == "numpy" else "cuda"


@pytest.fixture(autouse=True)
def _seed():
    mg.manual_seed(0)
    yield
