"""The 2-D GAN lab's pieces: mode metrics, the GAN trainer's exact resume and its collapse warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from models._gan_trainer import GAN_LOSSES, GANTrainer
from models._toy2d import energy_distance, mean_and_se, mode_metrics, modes, sample
from models.gan_toy import build, evaluate, mlp


def test_samples_of_the_data_cover_every_mode():
    rng = np.random.default_rng(0)
    for name, k in (("ring", 8), ("grid", 25)):
        m = mode_metrics(name, sample(name, 2500, rng))
        assert m["modes"] == k
        # a 2-D Gaussian puts 1 - exp(-9/2) = 98.9% of its mass within 3 sigma
        assert m["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
        assert m["reverse_kl"] < 0.02


def test_mode_collapse_and_misses_are_measured():
    centres = modes("ring")
    one_mode = np.repeat(centres[:1], 100, axis=0)
    m = mode_metrics("ring", one_mode)
    assert (m["modes"], m["high_quality"]) == (1, 1.0) and m["reverse_kl"] == pytest.approx(np.log(8))
    half = np.concatenate([np.repeat(centres[:4], 25, axis=0), np.zeros((100, 2))])  # 4 modes + junk
    m = mode_metrics("ring", half)
    assert (m["modes"], m["high_quality"]) == (4, 0.5) and m["reverse_kl"] == pytest.approx(np.log(2))
    assert mode_metrics("grid", np.full((10, 2), 1.0))["modes"] == 0
    assert mean_and_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0 / np.sqrt(3)))


def test_energy_distance_separates_distributions():
    rng = np.random.default_rng(1)
    a, b = sample("moons", 300, rng), sample("moons", 300, rng)
    assert abs(energy_distance(a, b)) < 0.02 < energy_distance(a, b + 0.5)


def _trainer(method="wgan_gp"):
    return build(method, "ring", seed=3, hidden=16, batch_size=32)


@pytest.mark.parametrize("method", ["wgan_gp", "hinge_sn", "pacgan2", "ebgan"])
def test_resume_repeats_an_uninterrupted_run(method):
    whole = _trainer(method)
    whole.train(6)
    half = _trainer(method)
    half.train(3)
    state = half.state_dict()
    resumed = _trainer(method)
    resumed.load_state_dict(state)
    resumed.train(3)
    for a, b in zip(whole.g.parameters(), resumed.g.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(whole.d.state_dict().values(), resumed.d.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert [h["d_loss"] for h in whole.history] == [h["d_loss"] for h in resumed.history]


def test_warns_when_the_discriminator_loss_collapses():
    mg.manual_seed(0)
    g, d = mlp([2, 8, 2]), mlp([2, 16, 1])
    far = lambda n, rng: np.full((n, 2), 6.0, dtype=np.float32) + rng.normal(size=(n, 2)).astype(np.float32)  # noqa: E731
    trainer = GANTrainer(g, d, optim.SGD(g.parameters(), lr=0.0), optim.Adam(d.parameters(), lr=0.05),
                         GAN_LOSSES["gan"], far, z_dim=2, batch_size=32)
    with pytest.warns(RuntimeWarning, match="collapsed"):
        trainer.train(300)
    assert trainer.history[-1]["d_loss"] < 1e-3
    # the same loop with a WGAN critic (no saturating loss) never warns
    mg.manual_seed(0)
    g, d = mlp([2, 8, 2]), mlp([2, 16, 1])
    trainer = GANTrainer(g, d, optim.SGD(g.parameters(), lr=0.0), optim.Adam(d.parameters(), lr=0.05),
                         GAN_LOSSES["wgan_gp"], far, z_dim=2, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.train(60)


@pytest.mark.parametrize("method", ["gan", "wgan_gp", "pacgan2", "hinge_sn", "ebgan", "wgan"])
def test_seed_batched_training_equals_separate_runs(method):
    # one seed-batched run of seeds (3, 7) against two separate runs: same start, same batches, and each
    # copy's update is its own (sum of per-copy losses, elementwise optimizers)
    batched = build(method, "ring", seed=[3, 7], hidden=16, batch_size=32)
    batched.train(4)
    params = dict(batched.g.named_parameters()) | {f"d.{k}": v for k, v in batched.d.named_parameters()}
    for i, seed in enumerate((3, 7)):
        alone = build(method, "ring", seed=seed, hidden=16, batch_size=32)
        alone.train(4)
        named = list(alone.g.named_parameters()) + [(f"d.{k}", v) for k, v in alone.d.named_parameters()]
        for name, p in named:
            mine = params[name.replace("weight_orig", "weight")].numpy()[i]
            ref = p.numpy().T if p.ndim == 2 else p.numpy().reshape(mine.shape)
            np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose([h["d_loss"][i] for h in batched.history],
                                   [h["d_loss"] for h in alone.history], rtol=1e-5, atol=1e-6)
    # the two copies did not train alike (they are different seeds)
    assert not np.allclose(params["0.weight"].numpy()[0], params["0.weight"].numpy()[1])


def test_seed_batched_resume_and_evaluation():
    whole = build("wgan_gp", "ring", seed=[0, 1], hidden=16, batch_size=32)
    whole.train(4)
    half = build("wgan_gp", "ring", seed=[0, 1], hidden=16, batch_size=32)
    half.train(2)
    resumed = build("wgan_gp", "ring", seed=[0, 1], hidden=16, batch_size=32)
    resumed.load_state_dict(half.state_dict())
    resumed.train(2)
    for a, b in zip(whole.g.parameters(), resumed.g.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    metrics, x = evaluate(whole, "ring")
    assert x.shape == (2, 2500, 2) and len(metrics) == 2
    single, _ = evaluate(build("wgan_gp", "ring", seed=1, hidden=16, batch_size=32), "ring")
    fresh, _ = evaluate(build("wgan_gp", "ring", seed=[0, 1], hidden=16, batch_size=32), "ring")
    assert single[0] == fresh[1]


def test_build_overrides_the_method_settings():
    t = build("wgan_gp", "grid", seed=[0, 1], hidden=8, batch_size=16, g_hidden=12, g_layers=4, lr=1e-3,
              n_critic=2, gp_weight=1.0)
    widths = [m.weight.shape for m in t.g if hasattr(m, "weight")]
    assert widths == [(2, 2, 12), (2, 12, 12), (2, 12, 12), (2, 12, 12), (2, 12, 2)]
    assert [m.weight.shape[-1] for m in t.d if hasattr(m, "weight")] == [8, 8, 8, 1]
    assert (t.n_critic, t.loss.gp_weight, t.opt_g.param_groups[0]["lr"]) == (2, 1.0, 1e-3)
    assert GAN_LOSSES["wgan_gp"].gp_weight == 0.1  # the shared loss is not changed
    t.train(2)
    assert len(t.history) == 2
