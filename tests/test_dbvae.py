"""models/dbvae.py: the resampling weights, the detection data set, the sampler and a --quick run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the models/ package lives in the repo root

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
pytest.importorskip("mlxtend")

import minigrad  # noqa: E402
from minigrad import nn  # noqa: E402
from models import dbvae  # noqa: E402
from models.dbvae import COMMON, NEGATIVE, RARE, sampling_probabilities  # noqa: E402


def one_outlier(n: int = 100) -> np.ndarray:
    """Latent means (n, 2): dimension 0 has n - 1 points in [0, 0.5] and one at 10 (alone in the last of
    10 bins over [0, 10]); dimension 1 is constant (one bin holds everything)."""
    mu = np.zeros((n, 2))
    mu[:-1, 0] = np.linspace(0.0, 0.5, n - 1)
    mu[-1, 0] = 10.0
    mu[:, 1] = 3.0
    return mu


@pytest.mark.parametrize("rule", ["max", "product"])
def test_the_point_in_the_sparse_bin_is_drawn_most(rule) -> None:
    p = sampling_probabilities(one_outlier(), alpha=0.01, rule=rule)
    assert p.shape == (100,)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert int(np.argmax(p)) == 99
    np.testing.assert_allclose(p[:99], p[0])   # the others share one bin in both dimensions: equal


def test_the_two_rules_by_hand() -> None:
    """Bin probabilities: dimension 0 has q = 0.99 (99 points) and 0.01 (the outlier), dimension 1 q = 1."""
    a = 0.01
    # product: the constant dimension multiplies everyone by 1 / (1 + a); the ratio is the first factor's
    p = sampling_probabilities(one_outlier(), alpha=a, rule="product")
    assert p[99] / p[0] == pytest.approx((0.99 + a) / (0.01 + a), rel=1e-12)
    # max: dimension 0's weights normalised over the samples, dimension 1 gives everyone 1/100
    w0 = np.r_[np.full(99, 1 / (0.99 + a)), 1 / (0.01 + a)]
    w0 /= w0.sum()
    expected = np.maximum(w0, 1 / 100)
    p = sampling_probabilities(one_outlier(), alpha=a, rule="max")
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-12)


@pytest.mark.parametrize("rule", ["max", "product"])
def test_large_alpha_is_uniform_and_smaller_alpha_focuses_more(rule) -> None:
    mu = np.random.default_rng(0).normal(size=(300, 8))
    np.testing.assert_allclose(sampling_probabilities(mu, alpha=1e9, rule=rule), 1 / 300, rtol=1e-6)
    peak = [sampling_probabilities(mu, alpha=a, rule=rule).max() for a in (10.0, 0.1, 0.001)]
    assert peak[0] < peak[1] < peak[2]


def test_the_product_rule_does_not_overflow_in_high_dimension() -> None:
    """200 factors of up to 1 / alpha = 1e3: the plain product would be 1e600 (inf in float64)."""
    mu = np.random.default_rng(1).normal(size=(50, 200))
    p = sampling_probabilities(mu, alpha=1e-3, rule="product")
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p.max() < 1.0   # not all the mass on one point by rounding


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rule"):
        sampling_probabilities(np.zeros((5, 2)), rule="sum")
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        sampling_probabilities(np.zeros(5))


def test_the_detection_set() -> None:
    x, g = dbvae.make_detection_set("train", 0.03)
    assert x.shape == (8000, 1, 28, 28) and x.dtype == np.float32 and g.shape == (8000,)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert [(g == k).sum() for k in (NEGATIVE, COMMON, RARE)] == [4000, 3880, 120]
    brightness = x.reshape(len(x), -1).mean(axis=1)
    assert brightness[g == COMMON].max() < 0.5 < brightness[g == RARE].min()   # inverted: mostly white
    # the negatives cover the brightness of both digit groups, not only the middle
    neg = brightness[g == NEGATIVE]
    assert (neg < 0.25).mean() > 0.2 and (neg > 0.75).mean() > 0.2
    xt, gt = dbvae.make_detection_set("test", 0.5)
    assert [(gt == k).sum() for k in (NEGATIVE, COMMON, RARE)] == [1000, 500, 500]
    x2, g2 = dbvae.make_detection_set("train", 0.03)   # a fixed draw, whatever the training seed
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_array_equal(x, x2)


class MeanBrightnessEncoder(nn.Module):
    """A fake encoder whose one-dimensional latent mean is the image's mean intensity."""

    def encode(self, x):
        return None, x.reshape(x.shape[0], -1).mean(dim=1, keepdim=True), None


def test_the_sampler_draws_the_rare_group_more_often() -> None:
    images = np.zeros((130, 1, 4, 4), dtype=np.float32)
    groups = np.r_[np.full(95, COMMON), np.full(5, RARE), np.full(30, NEGATIVE)]
    images[:95] = np.linspace(0.05, 0.2, 95)[:, None, None, None]   # dark: the bulk of the positives
    images[95:100] = 0.9                                             # bright: the rare ones
    np.random.seed(0)
    plain = dbvae.DebiasingSampler(images, groups)
    assert sorted(plain) == list(range(130))   # no model: a shuffle of everything
    sampler = dbvae.DebiasingSampler(images, groups, MeanBrightnessEncoder(), alpha=0.01)
    order = np.array(list(sampler))
    assert len(order) == 130 and sorted(order[groups[order] == NEGATIVE]) == list(range(100, 130))
    stats = sampler.history[-1]
    assert stats["sampling_ratio"] > 5 and stats["rare_share_drawn"] > 0.2   # 5% of the positives
    assert stats["rare_share_expected"] == pytest.approx(sampler.probs[-1][95:].sum())


def test_group_metrics() -> None:
    groups = np.array([COMMON, COMMON, RARE, RARE, NEGATIVE, NEGATIVE, NEGATIVE, NEGATIVE])
    logits = np.array([1.0, 2.0, -1.0, 3.0, -1.0, -2.0, 0.5, -0.1])
    m = dbvae.group_metrics(logits, groups)
    assert (m["common_recall"], m["rare_recall"], m["worst_recall"]) == (1.0, 0.5, 0.5)
    assert m["neg_recall"] == 0.75 and m["precision"] == pytest.approx(3 / 4)


def test_vae_loss_is_the_per_pixel_negative_elbo() -> None:
    minigrad.manual_seed(0)
    model = dbvae.DBVAE(channels=2, hidden=8, latent=3)
    x = minigrad.as_tensor(np.random.default_rng(0).uniform(size=(2, 1, 28, 28)).astype(np.float32))
    mu, logvar = minigrad.zeros(2, 3), minigrad.full((2, 3), -30.0)   # z = mu: no noise, KL known
    loss = dbvae.vae_loss(model, x, mu, logvar).numpy()
    logits = model.decoder(mu).numpy().reshape(2, -1)
    xs = x.numpy().reshape(2, -1)
    recon = (np.logaddexp(0, logits) - xs * logits).sum(axis=1)   # BCE with logits, summed over pixels
    kl = 0.5 * 3 * (np.exp(-30.0) - 1 + 30.0)
    np.testing.assert_allclose(loss, (recon + kl) / 784, rtol=1e-4)


def test_quick_run_writes_its_files(tmp_path) -> None:
    final = dbvae.main(["--quick", "--seeds", "2", "--alpha-sweep", "0.1", "--out", str(tmp_path)])
    for key in ("rare_recall", "common_recall", "baseline_rare_recall", "rare_recall_gain",
                "common_recall_drop", "sampling_ratio", "rare_recall_std"):
        assert key in final
    summary = json.loads((tmp_path / "summary.json").read_text())
    for f in ("recall_bars.png", "sampling_extremes.png", "latent_histograms.png", "morph.png",
              "alpha_sweep.png", "seeds.csv", "sampling.csv", "alpha_sweep.csv"):
        assert (tmp_path / f).is_file(), f
    assert {"recall_bars.png", "morph.png", "alpha_sweep.png"} <= set(summary["files"])
