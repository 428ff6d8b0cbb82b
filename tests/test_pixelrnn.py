"""PixelRNN (models/pixelrnn.py): causality by autograd, the carried-state sampler against the parallel
forward pass, the likelihood and baselines, a quick run that lowers the loss, determinism."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the models/ package lives in the repo root

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import minigrad  # noqa: E402
from minigrad import autograd  # noqa: E402
from models import pixelrnn  # noqa: E402
from models.harness import read_metrics  # noqa: E402


def small_model(side: int = 5, seed: int = 0) -> pixelrnn.PixelRNN:
    minigrad.manual_seed(seed)
    model = pixelrnn.PixelRNN(side, row_hidden=12, col_features=6, col_hidden=10, head_hidden=8, dropout=0.3)
    return model.eval()


def test_logit_i_depends_on_exactly_the_pixels_before_i() -> None:
    """d logit_i / d x_j == 0 exactly for every j >= i (raster order), and != 0 for every j < i."""
    side = 5
    model = small_model(side)
    rng = np.random.default_rng(0)
    x = minigrad.tensor((rng.random((1, 1, side, side)) < 0.5).astype(np.float32), requires_grad=True)
    logits = model(x).reshape(-1)
    d = side * side
    jac = np.stack([autograd.grad(logits[i], x, retain_graph=True)[0].numpy().reshape(-1) for i in range(d)])
    future = np.triu(np.ones((d, d), dtype=bool))          # j >= i
    assert np.all(jac[future] == 0.0)
    assert np.all(jac[~future] != 0.0), "a blind spot: some earlier pixel does not reach a later logit"


def test_shapes_and_likelihood_units() -> None:
    for side in (8, 14):
        model = small_model(side)
        x = minigrad.as_tensor((np.random.default_rng(1).random((3, 1, side, side)) < 0.4).astype(np.float32))
        logits = model(x)
        assert tuple(logits.shape) == (3, 1, side, side)
        assert tuple(pixelrnn.bernoulli_nll(logits, x).shape) == (3,)
    # a model that says p = 1/2 everywhere costs D ln 2 nats: 1 bit per dimension
    x = minigrad.as_tensor(np.eye(8, dtype=np.float32)[None, None])
    nll = pixelrnn.bernoulli_nll(minigrad.zeros(1, 1, 8, 8), x).numpy()
    np.testing.assert_allclose(nll, [64 * math.log(2)], rtol=1e-6)


def test_sampler_carries_the_states_of_the_parallel_forward_pass() -> None:
    """The logits the pixel-by-pixel sampler used are the logits of the parallel pass on its output."""
    model = small_model(6)
    images, logits = model.sample(7, np.random.default_rng(3), return_logits=True)
    assert images.shape == (7, 1, 6, 6) and images.dtype == np.float32
    assert set(np.unique(images)) <= {0.0, 1.0}
    with minigrad.no_grad():
        again = model(minigrad.as_tensor(images)).numpy()
    np.testing.assert_allclose(logits, again, rtol=1e-5, atol=1e-5)


def test_sampling_is_deterministic_and_completions_keep_the_given_pixels() -> None:
    model = small_model(6)
    a = model.sample(5, np.random.default_rng(4))
    b = model.sample(5, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    known = (np.random.default_rng(5).random((5, 1, 6, 6)) < 0.5).astype(np.float32)
    done = model.sample(5, np.random.default_rng(6), known=known, n_known=18)
    np.testing.assert_array_equal(done.reshape(5, -1)[:, :18], known.reshape(5, -1)[:, :18])
    assert not np.array_equal(done.reshape(5, -1)[:, 18:], known.reshape(5, -1)[:, 18:])


def test_baselines_on_data_with_a_copied_pixel() -> None:
    """x_1 = x_0 and x_2 = not x_0: FVSBN predicts both from x_0; the independent model pays 3 ln 2."""
    rng = np.random.default_rng(0)
    x0 = (rng.random(400) < 0.5).astype(np.float32)
    x = np.stack([x0, x0, 1 - x0], 1)
    train, test = x[:300], x[300:]
    ind = pixelrnn.independent_nll(train, test)
    fv = pixelrnn.fvsbn_nll(train, test)
    assert abs(ind - 3 * math.log(2)) < 0.05
    assert abs(fv - math.log(2)) < 0.2 and fv < ind - 1.0


def test_quick_run_lowers_the_loss_and_repeats_exactly(tmp_path) -> None:
    common = ["--quick", "--no-pictures", "--seed", "2", "--epochs", "3"]
    final = pixelrnn.main([*common, "--out", str(tmp_path / "a")])
    pixelrnn.main([*common, "--out", str(tmp_path / "b")])
    rows = read_metrics(tmp_path / "a" / "metrics.csv")
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 1.0
    assert 0 < final["test_bits_per_dim"] < 1.0
    assert (tmp_path / "a" / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
