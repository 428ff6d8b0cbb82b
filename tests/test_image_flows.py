"""RealNVP and Glow on images (models/realnvp.py, models/glow.py, models/_image_flow.py): the whole flow
inverts, its log-det matches a brute-force Jacobian, bits/dim matches a hand computation, the logit
Gaussian baseline matches scipy, a quick run lowers the loss, temperature sampling stays in [0, 1]."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd.functional import jacobian
from models._image_flow import ImageFlow, logit_gaussian_nll
from models.glow import glow_flow
from models.realnvp import realnvp_flow


def _randomise(model: ImageFlow, seed: int) -> None:
    """Give every zero-initialised parameter small random values, so that no coupling is the identity."""
    rng = np.random.default_rng(seed)
    with mg.no_grad():
        for p in model.parameters():
            a = p.numpy()
            if not a.any():
                p.copy_((0.3 * rng.standard_normal(a.shape)).astype(a.dtype))


def _model(kind: str, shape: tuple[int, int, int], alpha: float = 0.05, seed: int = 0) -> ImageFlow:
    """A tiny float64 RealNVP / Glow, ActNorm initialised on a batch, couplings randomised."""
    mg.manual_seed(seed)
    np.random.seed(seed)
    if kind == "realnvp":
        flow = realnvp_flow(shape, hidden=3, levels=2, n_checker=2, n_channel=2, n_final=2)
    else:
        flow = glow_flow(shape, hidden=3, levels=2, steps=2, lu=kind == "glow_lu", seed=seed)
    model = ImageFlow(flow, shape, levels=17, alpha=alpha).double()
    with mg.no_grad():
        model(mg.tensor(np.random.default_rng(seed + 1).uniform(0, 1, (16,) + shape)))
    _randomise(model, seed + 2)
    return model


KINDS = ["realnvp", "glow", "glow_lu"]


@pytest.mark.parametrize("kind", KINDS)
def test_full_flow_inverts_in_float64(kind):
    model = _model(kind, (1, 8, 8))
    y = mg.tensor(np.random.default_rng(5).uniform(0.01, 0.99, (6, 1, 8, 8)))
    z, logdet = model(y)
    assert z.shape == (6, 64) and logdet.shape == (6,)
    assert np.abs(z.numpy()).max() > 0.1
    err = np.abs(model.decode(z).numpy() - y.numpy()).max()
    assert err < 1e-10, f"{kind}: max |f^-1(f(y)) - y| = {err}"


@pytest.mark.parametrize("kind", KINDS)
def test_logdet_and_bits_per_dim_match_brute_force(kind):
    """On 1x4x4 inputs: log|det dz/dy| against slogdet of the autograd Jacobian (16 x 16), and the
    model's bits/dim against (0.5 |z|^2 + 0.5 D ln 2 pi - log|det| + D ln K) / (D ln 2) by hand."""
    model = _model(kind, (1, 4, 4), seed=3)
    ys = np.random.default_rng(7).uniform(0.02, 0.98, (3, 1, 4, 4))
    d, k = 16, 17
    by_hand = []
    for y in ys:
        yt = mg.tensor(y[None])
        z, logdet = model(yt)
        jac = jacobian(lambda v: model(v)[0], yt).numpy().reshape(d, d)
        sign, brute = np.linalg.slogdet(jac)
        assert sign != 0
        assert abs(float(logdet.numpy()[0]) - brute) < 1e-8
        zz = z.numpy()[0]
        nll = 0.5 * (zz ** 2).sum() + 0.5 * d * math.log(2 * math.pi) - brute
        by_hand.append((nll + d * math.log(k)) / (d * math.log(2)))
    bpd = float(model.bits_per_dim(mg.tensor(ys)).item())
    assert bpd == pytest.approx(float(np.mean(by_hand)), abs=1e-9)


def test_logit_gaussian_baseline_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    alpha = 0.05
    y_train, y_test = rng.uniform(0, 1, (200, 1, 2, 3)), rng.uniform(0, 1, (5, 1, 2, 3))
    nll = logit_gaussian_nll(y_train, y_test, alpha)

    def logit(y):
        s = alpha + (1 - 2 * alpha) * y.reshape(len(y), -1)
        return np.log(s / (1 - s)), np.log((1 - 2 * alpha) / (s * (1 - s))).sum(1)

    z_tr, _ = logit(y_train)
    z_te, jac = logit(y_test)
    ref = -(stats.multivariate_normal(z_tr.mean(0), np.cov(z_tr.T, bias=True)).logpdf(z_te) + jac)
    np.testing.assert_allclose(nll, ref, rtol=1e-10)


@pytest.mark.parametrize("kind", ["realnvp", "glow"])
def test_sampling_shapes_range_and_temperature(kind):
    model = _model(kind, (1, 8, 8)).float()
    cold = model.sample(5, 0.5, np.random.default_rng(1))
    hot = model.sample(5, 1.0, np.random.default_rng(1))
    again = model.sample(5, 0.5, np.random.default_rng(1))
    for s in (cold, hot):
        assert s.shape == (5, 1, 8, 8) and s.dtype == np.float32
        assert s.min() >= 0.0 and s.max() <= 1.0
    np.testing.assert_array_equal(cold, again)
    assert np.abs(cold - hot).max() > 1e-3
    # T = 0 decodes z = 0 for every draw: all samples equal
    flat = model.sample(3, 0.0, np.random.default_rng(2))
    np.testing.assert_allclose(flat[0], flat[2], atol=1e-6)


@pytest.mark.parametrize("name", ["realnvp", "glow"])
def test_quick_run_lowers_the_loss(name, tmp_path):
    import importlib

    module = importlib.import_module(f"models.{name}")
    out = tmp_path / name
    final = module.main(["--quick", "--max-batches", "4", "--out", str(out), "--no-pictures"])
    from models.harness import read_metrics

    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 2 and rows[1]["train_loss"] < rows[0]["train_loss"]
    assert math.isfinite(final["test_bpd"]) and final["test_bpd"] > 0
    # the full-covariance logit Gaussian on digits: the anchors' 2.36 (alpha 1e-6), between 2.2 and 2.6
    assert 2.2 < final["gauss_bpd_alpha1e-6"] < 2.6
    assert json.loads((out / "summary.json").read_text())["final"]["test_bpd"] == final["test_bpd"]


def test_actnorm_is_initialised_on_dequantised_data(tmp_path):
    """After build_model every ActNorm is initialised, and the first layer's bias is minus the mean of
    dequantised logits (finite: no constant background channel)."""
    from minigrad.nn import flows as fl
    from models.glow import Glow
    from models.harness import parse_args

    exp = Glow()
    args = parse_args(exp, ["--quick", "--out", str(tmp_path)])
    exp.args, exp.device, exp.out = args, mg.device("cpu"), tmp_path
    exp.train_set, exp.test_set = exp.load_data(args)
    model = exp.build_model(args)
    norms = [m for m in model.modules() if isinstance(m, fl.ActNorm)]
    assert norms and all(bool(m.initialized.numpy()) for m in norms)
    assert np.isfinite(norms[0].log_scale.numpy()).all() and np.abs(norms[0].log_scale.numpy()).max() > 0.1
