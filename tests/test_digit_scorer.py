"""The frozen classifier that scores generated digits (models/_digit_scorer.py): IS, FID, cache."""

import numpy as np
import pytest

from models import _digit_scorer as ds


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MINIGRAD_DATA", str(tmp_path_factory.mktemp("data")))
    ds._LOADED.clear()
    yield ds.load_scorer("digits")
    ds._LOADED.clear()
    mp.undo()


def test_inception_score_bounds():
    k = 10
    assert ds.inception_score(np.full((50, k), 1 / k)) == pytest.approx(1.0)       # blurry: IS 1
    one_hot = np.eye(k)[np.arange(100) % k]
    assert ds.inception_score(one_hot) == pytest.approx(k, rel=1e-6)               # sharp, balanced: IS K
    assert ds.inception_score(np.eye(k)[np.zeros(100, int)]) == pytest.approx(1.0)  # one class: IS 1


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    mu = rng.normal(size=5)
    assert ds.frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert ds.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-1.0]), np.array([[9.0]])) \
        == pytest.approx(4.0 + 1.0)
    # commuting (diagonal) covariances: sum of (sqrt(a) - sqrt(b))^2
    d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    assert ds.frechet_distance(np.zeros(3), np.diag(d1), np.zeros(3), np.diag(d2)) \
        == pytest.approx(np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2))


def test_scorer_separates_real_from_degenerate(scorer):
    assert scorer.test_accuracy() > 0.9
    floor = scorer.real_floor()
    assert floor["real_classifier_is"] > 8.0 and floor["real_classifier_fid"] < 2.0
    ones = scorer.x_test[scorer.y_test == 1][:1].repeat(300, axis=0)
    collapsed = scorer.score(ones)
    assert collapsed["classifier_is"] < 1.5
    assert collapsed["classifier_fid"] > 50 * floor["real_classifier_fid"]
    noise = np.random.default_rng(0).random((300, 64)).astype(np.float32)
    assert scorer.score(noise)["classifier_fid"] > 10 * floor["real_classifier_fid"]
    assert scorer.label_accuracy(scorer.x_test, scorer.y_test) == scorer.test_accuracy()
    with pytest.raises(ValueError, match="64 pixels"):
        scorer.score(np.zeros((3, 28, 28)))


def test_cache_is_reused_and_a_corrupt_cache_is_retrained(scorer, capsys):
    path = ds.cache_path("digits")
    assert path.is_file()
    ds._LOADED.clear()
    again = ds.load_scorer("digits")
    assert again.hash == scorer.hash
    path.write_bytes(path.read_bytes()[:-100])   # truncated: verified on load, then retrained
    ds._LOADED.clear()
    retrained = ds.load_scorer("digits")
    assert "retraining" in capsys.readouterr().out
    assert retrained.hash == scorer.hash          # deterministic training: the same weights
    assert "#" + scorer.hash in ds.describe(scorer)
