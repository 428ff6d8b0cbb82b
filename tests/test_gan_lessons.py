"""The GAN lessons: the analytic pieces (JSD, W1, D*, the game's value, the saturation derivatives) against
closed forms and SciPy, and one quick run that writes every file and keeps the lessons' checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from models import gan_lessons as GL
from models.run_all import Result, check_files, check_loss_decreased

X = np.linspace(-10, 10, 20001)


def test_jsd_of_identical_is_zero_and_of_disjoint_is_log2():
    p = GL.mixture_pdf(X, GL.L1_DATA)
    assert GL.js_divergence(p, p, X) == pytest.approx(0.0, abs=1e-12)
    a, b = GL.uniform_pdf(X, 0.0, 1.0), GL.uniform_pdf(X, 1.0, 2.5)      # touching, not overlapping
    assert GL.js_divergence(a, b, X) == pytest.approx(math.log(2), abs=1e-12)
    # half-overlapping segments: JSD = theta log 2 for U[0, 1) vs U[theta, theta + 1)
    assert GL.js_divergence(a, GL.uniform_pdf(X, 0.5, 1.5), X) == pytest.approx(0.5 * math.log(2), abs=1e-3)


def test_jsd_matches_scipy_on_the_same_grid():
    p, q = GL.normal_pdf(X, 0.0, 1.0), GL.normal_pdf(X, 1.5, 0.7)
    # on a uniform grid the trapezoid rule is a weighted sum; the tails (where the end weights differ)
    # are ~e^-50, so SciPy's discrete JS distance (its square root) of the normalised vectors agrees
    ours = GL.js_divergence(p, q, X)
    assert ours == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-9)
    assert 0 < ours < math.log(2)
    assert GL.js_divergence(p, q, X) == pytest.approx(GL.js_divergence(q, p, X), rel=1e-12)  # symmetric


@pytest.mark.parametrize("shift", [0.3, 1.0, 2.5])
def test_w1_of_a_shifted_distribution_is_the_shift(shift):
    p = GL.mixture_pdf(X, GL.L1_DATA)
    q = GL.mixture_pdf(X, [(w, mu + shift, s) for w, mu, s in GL.L1_DATA])
    assert GL.w1_distance(p, q, X) == pytest.approx(shift, abs=1e-4)
    assert GL.w1_distance(GL.uniform_pdf(X, 0, 1), GL.uniform_pdf(X, shift, shift + 1), X) == pytest.approx(
        shift, abs=2e-3)


def test_w1_of_two_centred_gaussians_is_the_scale_gap():
    # W1(N(0, s1^2), N(0, s2^2)) = |s1 - s2| E|Z| = |s1 - s2| sqrt(2 / pi): not a shift
    w = GL.w1_distance(GL.normal_pdf(X, 0, 1), GL.normal_pdf(X, 0, 2), X)
    assert w == pytest.approx(math.sqrt(2 / math.pi), abs=1e-4)


def test_empirical_w1_is_the_optimal_assignment():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 1)), rng.normal(1.0, 2.0, size=(50, 1))
    assert GL.empirical_w1(a, b) == pytest.approx(wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-9)
    pts = rng.normal(size=(40, 2))
    assert GL.empirical_w1(pts, pts + np.array([0.3, -0.4])) == pytest.approx(0.5, rel=1e-9)
    assert GL.empirical_w1(pts, pts[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_optimal_discriminator_maximises_the_value():
    p, q = GL.mixture_pdf(X, GL.L1_DATA), GL.mixture_pdf(X, GL.L1_GEN)
    d_star = GL.optimal_discriminator(p, q)
    assert np.all((d_star >= 0) & (d_star <= 1))
    i = np.argmin(np.abs(X - 0.5))
    assert d_star[i] == pytest.approx(p[i] / (p[i] + q[i]))
    logit = np.log(d_star) - np.log1p(-d_star)
    v_star = GL.game_value(logit, p, q, X)
    assert v_star == pytest.approx(GL.optimal_value(p, q, X), abs=1e-9)     # -2 log 2 + 2 JSD
    rng = np.random.default_rng(1)
    for _ in range(5):                                                       # any other D does worse
        assert GL.game_value(logit + rng.normal(0, 0.3, logit.shape), p, q, X) < v_star
    # p_g = p_data: D* = 1/2 everywhere and V = -2 log 2
    assert GL.game_value(np.zeros_like(X), p, p, X) == pytest.approx(-2 * math.log(2), abs=1e-9)
    assert GL.optimal_discriminator(np.array([0.0]), np.array([0.0]))[0] == 0.5


def test_saturation_derivatives_are_d_and_one_minus_d():
    d = np.array([1e-5, 1e-3, 0.1, 0.5, 0.9])
    c = GL.saturation_curves(d)
    np.testing.assert_allclose(c["minimax"], d, rtol=1e-4)
    np.testing.assert_allclose(c["non_saturating"], 1 - d, rtol=1e-4)


def test_settle_step_and_window_means():
    assert GL.steps_to_settle([0.0, 3.0, 6.0, 3.2, 2.9], 3.0, 0.5) == 4.0
    assert GL.steps_to_settle([3.0, 3.1], 3.0, 0.5) == 1.0
    assert GL.steps_to_settle([0.0, 3.0, 0.0], 3.0, 0.5) == 4.0              # never settles: len + 1
    late, middle = GL.window_means(np.arange(1, 101, dtype=float))       # a linear trace doubles
    assert late / middle == pytest.approx(95.5 / 45.5)
    assert GL.window_means(np.ones(50)) == (1.0, 1.0)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan_lessons")
    final = GL.main(["--quick", "--out", str(out)])
    return out, final


def test_quick_run_writes_every_file_and_every_target_number(quick_run):
    out, final = quick_run
    res = Result("gan_lessons")
    check_files(out, res)
    check_loss_decreased(out, res)
    assert res.ok, res.problems
    files = json.loads((out / "summary.json").read_text())["files"]
    for name in ("curves.png", "metrics.csv", "lesson5.csv", *(f"lesson{k}.png" for k in range(1, 6))):
        assert name in files
    assert {key for key, _, _ in GL.TARGET} <= set(final)


def test_quick_run_keeps_the_lessons(quick_run):
    _, final = quick_run
    # exact pieces hold at any budget
    assert final["l2/curve_max_err"] < 1e-6
    assert final["l3/js_plateau_dev"] <= 1e-9 and final["l3/w1_linear_err"] <= 2e-3
    assert final["l3/js_slope_when_disjoint"] < 1e-9 < 0.99 < final["l3/w1_slope_when_disjoint"]
    # trained pieces: the directions already show after a hundred steps
    assert final["l1/value"] <= final["l1/value_bound"] + 1e-9                 # V(D) <= V(D*)
    assert final["l2/grad_norm_non_saturating"] > final["l2/grad_norm_minimax"]
    assert final["l4/mm_grad_at_fakes"] < final["l4/ns_grad_at_fakes"]
    assert final["l4/mm_grad_at_fakes"] < final["l4/wgan_gp_grad_at_fakes"]
    assert final["l5/none_growth"] > 2 and final["l5/none_gap"] > final["l5/gp_gap"]
    assert final["l5/sn_lipschitz"] <= 1.0


def test_resume_skips_finished_lessons(tmp_path, monkeypatch):
    args = ["--quick", "--lessons", "3", "--no-pictures", "--out", str(tmp_path)]
    first = GL.main(args)

    def must_not_run(_args):
        raise AssertionError("lesson 3 ran again although last.ckpt holds it")

    monkeypatch.setitem(GL.LESSONS, 3, must_not_run)
    second = GL.main([*args, "--resume"])
    assert first == second
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["numbers"]) == ["l3"] and "metrics.csv" not in summary["files"]
