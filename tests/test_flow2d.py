"""models/flow2d.py: the true densities behind the reported optima, and the flows it builds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the models/ package lives in the repo root

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import minigrad as mg  # noqa: E402
from models import flow2d  # noqa: E402


@pytest.mark.parametrize("dataset", ["moons", "ring"])
def test_true_density_integrates_to_one(dataset):
    g = np.linspace(-6, 6, 121) if dataset == "ring" else np.linspace(-2.5, 3.5, 121)
    gx, gy = np.meshgrid(g, g)
    p = np.exp(flow2d.true_log_density(dataset, np.stack([gx.ravel(), gy.ravel()], 1)))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("dataset", ["moons", "ring"])
def test_optimum_is_the_entropy_of_the_data(dataset):
    """The stated optimum = E[-log p(x)] under the data distribution (Monte Carlo, 20k points, SE ~0.006)."""
    x, _ = flow2d.make_data(dataset, 20000, seed=5)
    assert -flow2d.true_log_density(dataset, x).mean() == pytest.approx(flow2d.OPTIMUM[dataset], abs=0.02)


@pytest.mark.parametrize("kind", ["realnvp", "nice"])
def test_flow_inverts_and_nice_preserves_volume_up_to_actnorm(kind):
    mg.manual_seed(0)
    flow = flow2d.build_flow(kind, layers=4, hidden=16)
    for p in flow.parameters():  # move the zero-initialised last layers off the identity
        with mg.no_grad():
            p.add_(mg.randn(*p.shape) * 0.3)
    x = mg.tensor(flow2d.make_data("moons", 64, seed=0)[0])
    z, logdet = flow(x)
    assert np.abs(flow.inverse(z).numpy() - x.numpy()).max() < 1e-5
    assert np.ptp(logdet.numpy()) > 1e-3 if kind == "realnvp" else np.ptp(logdet.numpy()) < 1e-6
