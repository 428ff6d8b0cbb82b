"""models.dcgan and models.cgan: network shapes, the label pathway, the evaluators, exact resume, and the
zoo's quick run (files written, finite scores)."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.serialization import load, save
from models import cgan, dcgan, run_all
from models._digit_scorer import load_scorer


def small_args(**kw) -> argparse.Namespace:
    base = dict(dataset="digits", z_dim=8, channels=4, batch_size=16, seed=0)
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize("size", [28, 8])
def test_shapes_and_ranges(size):
    mg.manual_seed(0)
    g, d = dcgan.Generator(16, 8, size), dcgan.Discriminator(8, size)
    x = g(mg.randn(5, 16))
    assert tuple(x.shape) == (5, 1, size, size)
    assert float(x.abs().max()) <= 1.0                       # tanh output
    assert tuple(d(x).shape) == (5, 1)
    critic = dcgan.Discriminator(8, size, norm="none")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    with pytest.raises(ValueError):
        dcgan.Discriminator(8, size, norm="layer")


def test_conditional_networks_carry_and_use_the_label():
    mg.manual_seed(0)
    g = dcgan.Generator(8, 4, 28, num_classes=10).eval()
    d = dcgan.Discriminator(4, 28, num_classes=10).eval()
    nn.init.normal_(d.embed.weight, 0.0, 0.5)       # a trained-looking embedding (init is N(0, 0.02))
    z = np.repeat(np.random.default_rng(0).standard_normal((1, 8)), 10, axis=0)
    out = g(cgan.conditional_input(z, np.arange(10))).numpy()
    assert out.shape == (10, 784 + 10)
    np.testing.assert_array_equal(out[:, 784:], np.eye(10, dtype=np.float32))   # the label rides along
    images = out[:, :784]
    # the same z with different labels gives different images; the same (z, y) the same image
    assert np.abs(images[1:] - images[:1]).max(axis=1).min() > 1e-4
    again = g(cgan.conditional_input(z[:1], np.array([3]))).numpy()
    np.testing.assert_allclose(again[0, :784], images[3], atol=1e-6)
    # the projection discriminator scores one image differently under different labels
    x = np.concatenate([np.repeat(images[:1], 10, axis=0), np.eye(10, dtype=np.float32)], axis=1)
    scores = d(mg.tensor(x)).numpy().ravel().astype(np.float64)
    h = d.features(mg.tensor(images[:1].reshape(1, 1, 28, 28))).numpy().ravel().astype(np.float64)
    e = d.embed.weight.numpy().astype(np.float64)             # (F, K): E y is column y
    expected = (e - e[:, :1]).T @ h                           # V(x, y) - V(x, 0) = (E y - E e_0)^T h(x)
    assert np.abs(expected).max() > 1e-6
    np.testing.assert_allclose(scores - scores[0], expected, rtol=1e-3, atol=1e-9)


def test_conditional_trainer_noise_is_noise_then_one_hot():
    trainer = cgan.build_conditional(small_args(loss="nsgan"))
    z = trainer.noise(200).numpy()
    assert z.shape == (200, 8 + 10)
    labels = z[:, 8:]
    assert set(np.unique(labels)) == {0.0, 1.0} and np.all(labels.sum(axis=1) == 1)
    assert len(np.unique(labels.argmax(axis=1))) == 10
    real = trainer.sample_real(50, np.random.default_rng(0))
    assert real.shape == (50, 64 + 10) and real[:, :64].min() >= -1 and real[:, :64].max() <= 1


class _Oracle(nn.Module):
    """A 'generator' that returns a real training image of the requested class (and the label)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, shift: int = 0) -> None:
        super().__init__()
        self.by_class = [x[y == k] for k in range(10)]
        self.shift = shift

    def forward(self, z):
        zz = z.numpy()
        want = (zz[:, -10:].argmax(axis=1) + self.shift) % 10
        rows = np.stack([self.by_class[k][i % len(self.by_class[k])] for i, k in enumerate(want)])
        return mg.tensor(np.concatenate([rows * 2 - 1, zz[:, -10:]], axis=1).astype(np.float32))


def test_conditional_evaluator_scores_requested_labels():
    scorer = load_scorer("digits")
    evaluate = cgan.conditional_evaluator(scorer, 8, z_dim=8, seed=0)
    right = argparse.Namespace(generate=lambda z: _Oracle(scorer.x_train, scorer.y_train)(z).numpy())
    wrong = argparse.Namespace(generate=lambda z: _Oracle(scorer.x_train, scorer.y_train, 1)(z).numpy())
    good, snap = evaluate(right)
    bad, _ = evaluate(wrong)
    assert snap.shape == (10, 64)
    assert good["label_accuracy"] > 0.95 and bad["label_accuracy"] < 0.1
    assert good["classifier_is"] > 8.0 and good["classifier_fid"] < 2.0     # real training images


def test_unconditional_evaluator_sees_blank_samples_as_bad():
    scorer = load_scorer("digits")
    evaluate = dcgan.unconditional_evaluator(scorer, 8, z_dim=8, seed=0)
    blank = argparse.Namespace(generate=lambda z: -np.ones((z.shape[0], 1, 8, 8), np.float32))
    metrics, snap = evaluate(blank)
    assert snap.shape == (10, 64) and snap.max() == 0.0
    assert metrics["classifier_is"] < 1.5 and metrics["classifier_fid"] > 50


def test_to_unit_and_tile():
    x = np.array([[-1.0, 0.0, 1.0, 3.0]])
    np.testing.assert_allclose(dcgan.to_unit(x, 2), [[0.0, 0.5, 1.0, 1.0]])
    from models._dcgan_plots import tile

    m = tile(np.arange(3 * 4, dtype=float).reshape(3, 4) / 12, 2, ncol=2, gap=-1)
    assert m.shape == (5, 5)
    assert m[2, 0] == -1 and m[0, 2] == -1                    # gaps between rows and columns
    np.testing.assert_allclose(m[3:5, 0:2], np.array([[8, 9], [10, 11]]) / 12)   # third image, row 2


@pytest.mark.parametrize("method", ["nsgan", "wgan_gp"])
def test_resume_repeats_an_uninterrupted_run(method, tmp_path):
    """Stopping after 2 evaluations and resuming from the saved state gives the same numbers and weights
    (BatchNorm statistics, both optimisers, the noise generator, the GP's mixing weights)."""
    args = small_args()
    scorer = load_scorer("digits")

    def evaluator():
        return dcgan.unconditional_evaluator(scorer, 8, args.z_dim, args.seed)

    full = dcgan.build(args, method)
    a = dcgan.train_with_evals(full, 4, 2, evaluator(), None, None, log=lambda s: None)
    first = dcgan.build(args, method)
    saved = {}
    dcgan.train_with_evals(first, 2, 2, evaluator(), None, lambda s: saved.update(s), log=lambda s: None)
    save(saved, tmp_path / "last.ckpt")
    resumed = dcgan.build(args, method)
    b = dcgan.train_with_evals(resumed, 4, 2, evaluator(), load(tmp_path / "last.ckpt"), None,
                               log=lambda s: None)
    keys = ("step", "d_loss", "g_loss", "classifier_is", "classifier_fid")
    assert [[e[k] for k in keys] for e in a["evals"]] == [[e[k] for k in keys] for e in b["evals"]]
    for (name, p), (_, q) in zip(full.g.state_dict().items(), resumed.g.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q), err_msg=name)
    assert all(math.isfinite(e["d_loss"]) for e in a["evals"])


def test_methods_configure_the_critic():
    args = small_args()
    gp, clip, ns = dcgan.build(args, "wgan_gp"), dcgan.build(args, "wgan_clip"), dcgan.build(args, "nsgan")
    assert gp.loss.gp_weight == 10.0 and gp.n_critic == 5
    assert clip.loss.clip == 0.01 and clip.n_critic == 5
    assert ns.n_critic == 1 and ns.loss.gp_weight == 0
    clip.train(1)
    w = np.concatenate([np.asarray(p.numpy()).ravel() for p in clip.d.parameters()])
    assert np.abs(w).max() <= 0.01 + 1e-7


def test_zoo_quick_run_writes_files_and_finite_scores(tmp_path):
    results = run_all.run_models(["dcgan", "cgan"], quick=True, out_root=tmp_path)
    assert [r.name for r in results] == ["dcgan", "cgan"]
    for r in results:
        assert r.ok, (r.name, r.problems)
        summary = json.loads((tmp_path / r.name / "summary.json").read_text())
        final = summary["final"]
        assert summary["files"] and final["scorer_hash"] == load_scorer("digits").hash
        for k in ("classifier_is", "classifier_fid", "real_classifier_is", "real_classifier_fid"):
            assert math.isfinite(final[k]), (r.name, k)
    assert 0.0 <= json.loads((tmp_path / "cgan" / "summary.json").read_text())["final"]["label_accuracy"] <= 1
    assert (tmp_path / "cgan" / "class_grid.png").stat().st_size > 0


def test_compare_trains_the_three_losses_on_the_same_networks(tmp_path):
    final = dcgan.main(["--quick", "--compare", "--no-pictures", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "compare.json").read_text())
    assert list(result["runs"]) == ["nsgan", "wgan_gp", "wgan_clip"] and result["d_norm"] == "none"
    assert [r["k"] for r in result["runs"].values()] == [1, 5, 5]
    assert all(math.isfinite(final[f"{m}/classifier_fid"]) for m in result["runs"])
    assert (tmp_path / "compare_wgan_gp" / "last.ckpt").is_file()


def test_ema_shadow_follows_the_average_and_resumes_exactly(tmp_path):
    """G_ema is the warm-started EMA of G's weights; a resumed EMA run repeats an uninterrupted one."""
    args = small_args(ema=0.9, steps=4)
    trainer = dcgan.build(args, "nsgan")
    assert isinstance(trainer, dcgan.EMAGANTrainer) and trainer.g_ema is not trainer.g
    shadow = [p.numpy().astype(np.float64) for p in trainer.g_ema.parameters()]
    for t in range(1, 4):
        trainer.train(1)
        beta = min(0.9, (1 + t) / (10 + t))
        shadow = [beta * s + (1 - beta) * p.numpy() for s, p in zip(shadow, trainer.g.parameters())]
    for s, p in zip(shadow, trainer.g_ema.parameters()):
        np.testing.assert_allclose(p.numpy(), s, rtol=1e-5, atol=1e-7)
    assert not any(p.requires_grad for p in trainer.g_ema.parameters())
    z = trainer.noise(6, np.random.default_rng(0))
    a, b = trainer.generate_ema(z), trainer.generate_ema(z)
    np.testing.assert_array_equal(a, b)                      # standing statistics: no drift between calls
    assert a.shape == (6, 1, 8, 8) and not np.allclose(a, trainer.generate(z))

    scorer = load_scorer("digits")
    evaluator = dcgan.unconditional_evaluator(scorer, 8, args.z_dim, args.seed)
    full = dcgan.train_with_evals(dcgan.build(args, "nsgan"), 4, 2, evaluator, None, None, log=lambda s: None)
    assert {"raw_classifier_fid", "classifier_fid"} <= set(full["evals"][-1])
    saved: dict = {}
    first = dcgan.build(args, "nsgan")
    dcgan.train_with_evals(first, 2, 2, evaluator, None, saved.update, log=lambda s: None)
    save(saved, tmp_path / "last.ckpt")
    again = dcgan.train_with_evals(dcgan.build(args, "nsgan"), 4, 2, evaluator, load(tmp_path / "last.ckpt"),
                                   None, log=lambda s: None)
    keys = ("step", "d_loss", "classifier_fid", "raw_classifier_fid")
    assert [[e[k] for k in keys] for e in full["evals"]] == [[e[k] for k in keys] for e in again["evals"]]


def test_minibatch_std_appends_the_batch_spread():
    h = mg.tensor(np.random.default_rng(0).standard_normal((5, 3, 4, 4)).astype(np.float32))
    out = dcgan.MinibatchStd()(h).numpy()
    assert out.shape == (5, 4, 4, 4)
    np.testing.assert_array_equal(out[:, :3], h.numpy())
    np.testing.assert_allclose(out[:, 3], np.sqrt(h.numpy().var(axis=0) + 1e-8).mean(), rtol=1e-5)
    same = dcgan.MinibatchStd()(mg.tensor(np.repeat(h.numpy()[:1], 5, axis=0))).numpy()
    assert np.abs(same[:, 3]).max() < 1e-3                  # a collapsed batch has spread ~0
    d = dcgan.Discriminator(4, 8, mbstd=True)
    assert tuple(d(mg.randn(3, 1, 8, 8)).shape) == (3, 1)


def test_spectral_discriminator_has_unit_spectral_norms():
    mg.manual_seed(0)
    d = dcgan.Discriminator(4, 8, norm="spectral")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    for _ in range(30):                                      # power iterations run in training forwards
        d(mg.randn(3, 1, 8, 8))
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3
    for m in layers:
        w = m.weight.numpy().reshape(m.weight.shape[0], -1)
        assert abs(np.linalg.svd(w, compute_uv=False)[0] - 1.0) < 0.05


def test_infogan_codes_reach_the_generator_and_the_q_head_learns_them():
    args = small_args(info_codes=4, info_weight=1.0, ema=0.0, steps=30, lr_g=3e-3, lr_d=3e-3)
    trainer = dcgan.build(args, "nsgan")
    assert isinstance(trainer, dcgan.InfoGANTrainer) and trainer.d.q is not None
    z = trainer.noise(12)
    codes = z.numpy()[:, 8:]
    assert z.shape == (12, 8 + 4) and np.array_equal(codes.argmax(1), trainer.last_codes)
    plain = mg.tensor(np.zeros((8, 8), np.float32))
    np.testing.assert_array_equal(trainer.with_codes(plain).numpy()[:, 8:].argmax(1), np.arange(8) % 4)
    assert trainer.generate(plain).shape == (8, 1, 8, 8)
    start = float(trainer._info_loss()) if trainer.d.last_features is not None else math.log(4)
    trainer.train(30)
    trainer.noise(64)
    with mg.no_grad():
        fake = trainer.g(trainer.noise(64))
        trainer.d(fake)
        end = float(trainer._info_loss())
    assert end < 0.5 * start                                 # Q recovers the code from G(z, c)
