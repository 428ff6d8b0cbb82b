"""The PyTorch contract in a GAN loop: stepping D between G's forward and backward raises."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import gan_losses as L


def _nets():
    mg.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    d = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    return g, d, optim.Adam(g.parameters(), lr=1e-2), optim.Adam(d.parameters(), lr=1e-2)


def test_stepping_d_between_g_forward_and_backward_raises():
    g, d, _, opt_d = _nets()
    fake = g(mg.randn(16, 2))
    g_loss = L.nsgan_g_loss(d(fake))              # G's graph goes through D's weights
    d_loss = L.nsgan_d_loss(d(mg.randn(16, 2)), d(fake.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()                                  # D's weights change in place ...
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        g_loss.backward()                         # ... so G's backward would use the new ones: refuse


def test_the_correct_order_trains_without_error():
    g, d, opt_g, opt_d = _nets()
    before = [p.numpy().copy() for p in g.parameters()]
    fake = g(mg.randn(16, 2))
    d_loss = L.nsgan_d_loss(d(mg.randn(16, 2)), d(fake.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = L.nsgan_g_loss(d(fake))              # a fresh forward through the updated D
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, g.parameters()))
