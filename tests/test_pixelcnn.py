"""models/pixelcnn.py: the whole network is causal, band-limited sampling computes the same logits as
the full image, completions keep the given rows, and the NLL is the summed Bernoulli NLL."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from models.pixelcnn import PixelCNN, nll_per_image, sample

CONFIGS = [dict(gated=False), dict(gated=True), dict(gated=False, num_classes=3),
           dict(gated=True, num_classes=3)]


def _model(cfg: dict, seed: int = 0) -> PixelCNN:
    mg.manual_seed(seed)
    model = PixelCNN(channels=8, layers=3, first_kernel=5, **cfg)
    with mg.no_grad():
        for name, p in model.named_parameters():
            if "class_bias" in name:     # zero at initialisation: make the labels matter
                p.copy_(mg.randn(*p.shape) * 0.3)
    return model


@pytest.mark.parametrize("cfg", CONFIGS)
def test_model_is_causal(cfg):
    model = _model(cfg).to(mg.float64)
    rng = np.random.default_rng(0)
    x = mg.tensor((rng.random((1, 1, 6, 6)) < 0.5).astype(np.float64), requires_grad=True)
    y = mg.tensor([2]) if "num_classes" in cfg else None
    out = model(x, y)
    seen_left = 0
    for i in range(36):
        sel = np.zeros((1, 1, 6, 6))
        sel[0, 0, i // 6, i % 6] = 1.0
        (g,) = mg.grad([out], [x], [mg.tensor(sel)], retain_graph=True)
        g = np.abs(g.numpy().ravel())
        assert np.all(g[i:] == 0.0), f"output {i} depends on inputs at or after it"
        seen_left += int(i % 6 > 0 and g[i - 1] > 0)
    assert seen_left >= 20   # of 30 (the ReLU head of a small net can switch a pixel off entirely)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_band_of_rows_gives_the_full_logits(cfg):
    model = _model(cfg, seed=1)
    rng = np.random.default_rng(1)
    x = (rng.random((3, 1, 12, 7)) < 0.4).astype(np.float32)
    y = mg.tensor([0, 1, 2]) if "num_classes" in cfg else None
    with mg.no_grad():
        full = model(mg.tensor(x), y).numpy()
        reach = model.rows_above()
        for r in range(12):
            top = max(0, r - reach)
            band = model(mg.tensor(x[:, :, top:r + 1]), y).numpy()[:, 0, -1]
            np.testing.assert_allclose(band, full[:, 0, r], rtol=1e-5, atol=1e-5)
        # one row less than the reach is not enough (so rows_above is not an overestimate)
        r = reach + 2
        short = model(mg.tensor(x[:, :, r - reach + 1:r + 1]), y).numpy()[:, 0, -1]
        assert not np.allclose(short, full[:, 0, r], atol=1e-6)


def test_sampling_keeps_the_given_rows_and_is_binary():
    model = _model(dict(gated=True))
    given = (np.random.default_rng(2).random((4, 1, 6, 5)) < 0.5).astype(np.float32)
    out = sample(model, 4, (6, 5), np.random.default_rng(0), given=given, start_row=3)
    np.testing.assert_array_equal(out[:, :, :3], given[:, :, :3])
    assert set(np.unique(out)) <= {0.0, 1.0}
    again = sample(model, 4, (6, 5), np.random.default_rng(0), given=given, start_row=3)
    np.testing.assert_array_equal(out, again)


def test_nll_is_summed_bernoulli_nll():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 1, 3, 3))
    x = (rng.random((2, 1, 3, 3)) < 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(2, -1).sum(1)
    np.testing.assert_allclose(nll_per_image(mg.tensor(logits), mg.tensor(x)).numpy(), ref, rtol=1e-10)
