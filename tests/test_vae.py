"""The VAE of the model zoo: the IW-NLL estimator on a model with a closed-form marginal likelihood,
the closed-form KL against Monte Carlo, gradients through the reparameterised sample, and quick runs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the models/ package lives in the repo root

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
pytest.importorskip("sklearn")
pytest.importorskip("mlxtend")

import minigrad  # noqa: E402
from minigrad.distributions import Normal, kl_divergence  # noqa: E402
from minigrad.gradcheck import gradcheck  # noqa: E402
from minigrad.serialization import load  # noqa: E402
from models import vae  # noqa: E402


class LinearGaussian:
    """p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I), so p(x) = N(b, W W^T + s^2 I) exactly.

    q(z|x) is the exact posterior N(m(x), S) (diagonal here) with its mean shifted and its scales widened
    (unless ``exact``), so the importance weights vary and the bounds are loose."""

    def __init__(self, d: int = 5, latent: int = 3, noise: float = 0.6, exact: bool = False, seed: int = 0):
        rng = np.random.default_rng(seed)
        # orthogonal columns: W^T W is diagonal, so the exact posterior is a diagonal Gaussian, like q
        basis = np.linalg.qr(rng.normal(size=(d, latent)))[0]
        self.w, self.b, self.noise = basis * rng.uniform(0.5, 2.0, latent), rng.normal(size=d), noise
        self.post_cov = np.linalg.inv(np.eye(latent) + self.w.T @ self.w / noise**2)
        self.shift, self.widen = (0.0, 1.0) if exact else (0.4, 1.6)

    def posterior(self, x: minigrad.Tensor) -> Normal:
        mean = (x.numpy() - self.b) @ self.w @ self.post_cov / self.noise**2
        std = np.sqrt(np.diag(self.post_cov)) * self.widen
        std = np.broadcast_to(std, mean.shape).copy()
        return Normal(minigrad.tensor(mean + self.shift), minigrad.tensor(std))

    def prior(self, like: Normal) -> Normal:
        return Normal(minigrad.zeros_like(like.loc), minigrad.ones_like(like.scale))

    def log_likelihood(self, x: minigrad.Tensor, z: minigrad.Tensor) -> minigrad.Tensor:
        mean = z @ minigrad.tensor(self.w.T) + minigrad.tensor(self.b)      # (S, N, d)
        return Normal(mean, self.noise).log_prob(x).sum(-1)

    def exact_log_px(self, x: np.ndarray) -> np.ndarray:
        cov = self.w @ self.w.T + self.noise**2 * np.eye(len(self.b))
        r = x - self.b
        _, logdet = np.linalg.slogdet(cov)
        maha = np.einsum("ni,ij,nj->n", r, np.linalg.inv(cov), r)
        return -0.5 * (maha + logdet + len(self.b) * math.log(2 * math.pi))


def _linear_gaussian_data(model: LinearGaussian, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, model.w.shape[1]))
    return z @ model.w.T + model.b + model.noise * rng.normal(size=(n, len(model.b)))


def test_iw_nll_converges_to_the_exact_marginal_likelihood() -> None:
    model = LinearGaussian()
    x = _linear_gaussian_data(model, 8)
    exact_nll = -model.exact_log_px(x).mean()
    minigrad.manual_seed(0)
    n_draws = 20_000
    log_w = vae.log_importance_weights(model, minigrad.tensor(x), k=n_draws, chunk=2_000)
    assert log_w.shape == (8, n_draws) and log_w.dtype == np.float64
    bounds = vae.iw_bounds(log_w, [1, 1000, n_draws])
    # the ELBO is loose here (q is off by design); the IW estimate closes the gap as k grows
    assert -log_w.mean() - exact_nll > 1.0
    assert abs(bounds[1000] - exact_nll) < 0.1
    assert abs(bounds[n_draws] - exact_nll) < 0.02
    # E[-log (1/k) sum w] >= -log p(x) and it decreases with k: the mean over the n_draws / k disjoint
    # blocks of k draws estimates the expectation (standard error < 0.01)
    expected = {}
    for k in (1, 2, 4, 8, 16, 32, 64):
        blocks = log_w[:, : n_draws // k * k].reshape(len(x), n_draws // k, k)
        expected[k] = float(-vae.log_mean_exp(blocks).mean())
    values = list(expected.values())
    assert all(a > b + 0.01 for a, b in zip(values, values[1:])), expected
    assert values[-1] > exact_nll - 0.02
    # per image and sample set, log-mean-exp >= mean (Jensen): iw_nll <= neg_elbo exactly, for every k
    for k in (2, 10, 1000):
        assert (-vae.log_mean_exp(log_w[:, :k]) <= -log_w[:, :k].mean(1) + 1e-12).all()


def test_iw_weights_are_constant_when_q_is_the_exact_posterior() -> None:
    """log p(x|z) + log p(z) - log q(z|x) = log p(x) for every z: checks the three terms' signs and shapes."""
    model = LinearGaussian(exact=True)
    x = _linear_gaussian_data(model, 4)
    log_w = vae.log_importance_weights(model, minigrad.tensor(x), k=50, chunk=20)
    np.testing.assert_allclose(log_w, np.broadcast_to(model.exact_log_px(x)[:, None], log_w.shape), atol=1e-9)


def test_log_mean_exp_is_stable() -> None:
    a = np.array([[-1000.0, -1000.0 + math.log(3.0)], [800.0, 800.0]])
    np.testing.assert_allclose(vae.log_mean_exp(a), [-1000.0 + math.log(2.0), 800.0])


def test_closed_form_kl_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    mu, std = rng.normal(size=(3, 4)), np.exp(rng.normal(scale=0.5, size=(3, 4)))
    q = Normal(minigrad.tensor(mu), minigrad.tensor(std))
    p = Normal(minigrad.zeros_like(q.loc), minigrad.ones_like(q.scale))
    kl = kl_divergence(q, p).sum(-1).numpy()
    textbook = 0.5 * (mu**2 + std**2 - 1.0 - np.log(std**2)).sum(-1)
    np.testing.assert_allclose(kl, textbook, rtol=1e-12)
    minigrad.manual_seed(1)
    z = q.rsample((100_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).numpy()          # (S, 3)
    err = mc.std(0) / math.sqrt(len(mc))
    assert (np.abs(mc.mean(0) - kl) < 4 * err).all(), (mc.mean(0), kl, err)


def _tiny_vae(likelihood: str) -> vae.VAE:
    minigrad.manual_seed(0)
    shape = (1, 2, 3)
    model = vae.VAE(vae.MLPEncoder(6, 5, 2), vae.MLPDecoder(2, 5, shape), 2, likelihood, laplace_scale=0.7)
    return model.double()


@pytest.mark.parametrize("likelihood,iwae_k",
                         [("bernoulli", 1), ("bernoulli", 3), ("gaussian", 1), ("l1", 2)])
def test_gradients_through_the_reparameterised_sample(likelihood: str, iwae_k: int) -> None:
    """gradcheck of the loss with respect to every weight, the noise eps fixed by re-seeding."""
    model = _tiny_vae(likelihood)
    rng = np.random.default_rng(2)
    x = rng.random((4, 1, 2, 3))
    x = (x > 0.5).astype(np.float64) if likelihood == "bernoulli" else x
    xt = minigrad.tensor(x)
    params = list(model.parameters())

    def loss(*_: minigrad.Tensor) -> minigrad.Tensor:
        minigrad.manual_seed(3)   # the same eps at every evaluation: z = mu + sigma * eps is a function
        return vae.vae_loss(model, xt, kl_weight=0.8, iwae_k=iwae_k)[0]

    assert gradcheck(loss, params, eps=1e-6, atol=1e-6, rtol=1e-4)
    # and the gradient does reach the encoder through z (not only through the closed-form KL)
    for p in params:
        p.grad = None
    loss().backward()
    assert np.abs(model.encoder.net[0].weight.grad.numpy()).sum() > 0


def test_a_different_eps_gives_a_different_loss() -> None:
    """Guards the gradcheck above: the loss really depends on the drawn noise."""
    model, x = _tiny_vae("bernoulli"), minigrad.tensor(np.ones((2, 1, 2, 3)))
    minigrad.manual_seed(3)
    a = vae.vae_loss(model, x)[0].item()
    minigrad.manual_seed(4)
    assert vae.vae_loss(model, x)[0].item() != a


def test_split_and_binarisation() -> None:
    from minigrad.utils.datasets import get_dataset

    _, y = get_dataset("mnist_sample", "all")
    train, test = vae.stratified_split(y)
    assert (len(train), len(test)) == (4000, 1000)
    assert (np.bincount(y[test]) == 100).all()
    _, y_digits = get_dataset("digits", "all")
    assert tuple(map(len, vae.stratified_split(y_digits))) == (1437, 360)
    # --validation: the training split cut again; the test images are never among them
    fit, val = vae.evaluation_split(y, validation=True)
    assert (len(fit), len(val)) == (3200, 800) and (np.bincount(y[val]) == 80).all()
    assert set(fit).isdisjoint(val) and set(fit) | set(val) == set(train) and set(val).isdisjoint(test)
    assert all((a == b).all() for a, b in zip(vae.evaluation_split(y), (train, test)))
    x = np.full((2000,), 0.3, dtype=np.float32)
    b = vae.binarize(x, np.random.default_rng(0))
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.04
    d = vae.dequantize(np.array([0.0, 1.0, 128 / 255], dtype=np.float32), 256, np.random.default_rng(0))
    assert (np.floor(d * 256) == [0, 255, 128]).all()


QUICK_RUNS = {
    "mlp-bernoulli-2d": ["--arch", "mlp", "--latent-dim", "2", "--kl-warmup", "1"],
    "conv-bernoulli-digits": ["--arch", "conv", "--dataset", "digits", "--iwae-k", "3"],
    "mlp-gaussian": ["--arch", "mlp", "--likelihood", "gaussian", "--hidden", "64"],
    "conv-l1": ["--arch", "conv", "--likelihood", "l1", "--channels", "8", "--beta", "0.5"],
}


@pytest.mark.parametrize("name", list(QUICK_RUNS))
def test_quick_run_writes_its_files(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    final = vae.main(["--quick", *QUICK_RUNS[name], "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    for f in summary["files"]:
        assert (out / f).stat().st_size > 0, f
    expected = {"reconstructions.png", "prior_samples.png", "interpolation.png", "traversal.png",
                "kl_per_dim.png", "iw_bound.png"}
    if "2d" in name:
        expected |= {"manifold.png", "latent_means.png"}
    assert expected <= set(summary["files"])
    for key in ("test_neg_elbo", "test_iw_nll", "test_kl", "active_units"):
        assert math.isfinite(final[key]), key
    assert final["test_iw_nll"] <= final["test_neg_elbo"]


def test_resume_continues_the_kl_warmup(tmp_path: Path) -> None:
    """The warm-up counts steps in a buffer, so 1 epoch + --resume == 2 epochs in one go."""
    common = ["--quick", "--no-pictures", "--kl-warmup", "3", "--iw-k", "2", "--iw-images", "8"]
    full, part = tmp_path / "full", tmp_path / "part"
    vae.main([*common, "--epochs", "2", "--out", str(full)])
    vae.main([*common, "--epochs", "1", "--out", str(part)])
    vae.main([*common, "--epochs", "2", "--out", str(part), "--resume"])
    assert (full / "metrics.csv").read_text() == (part / "metrics.csv").read_text()
    weights = load(full / "final.ckpt")["model"]
    assert float(weights["steps"].item()) == 8   # 2 epochs of --quick's 4 batches
    rows = (full / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    w = [float(r.split(",")[header.index("train_kl_weight")]) for r in rows[1:]]
    assert 0 < w[0] < w[1] < 1


def test_conv_changes_the_default_epochs(capsys) -> None:
    for argv, epochs in ((["--help"], 200), (["--arch", "conv", "--help"], vae.CONV_EPOCHS),
                         (["--arch=conv", "--help"], vae.CONV_EPOCHS)):
        with pytest.raises(SystemExit):
            vae.main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert f"passes over the training set (default: {epochs})" in text, argv
