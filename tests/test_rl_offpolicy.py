"""rl.ddpg, rl.td3, rl.sac, rl.naf: the pieces of continuous-action off-policy learning checked on their
own (squashed-Gaussian densities, TD3's targets, the temperature's gradient, NAF's quadratic form,
Polyak averaging, float32 end to end), then each algorithm for a few hundred steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import minigrad as mg  # noqa: E402
from minigrad.gradcheck import gradcheck  # noqa: E402
from rl import ddpg, naf, sac, td3  # noqa: E402
from rl.common.buffers import Batch  # noqa: E402


def _normal_cdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)((x - mu) / (sigma * math.sqrt(2.0))))


def test_tanh_gaussian_density_is_the_numerical_change_of_variables():
    """p(a) of a = tanh(u), u ~ N(mu, sigma^2), against the derivative of its CDF, P(tanh u <= a) =
    Phi((atanh a - mu) / sigma), by central differences: an independent route to the density."""
    mu, sigma = 0.7, 0.9
    dist = sac.squashed_gaussian(mg.tensor([mu], dtype=mg.float64),
                                 mg.tensor([math.log(sigma)], dtype=mg.float64))
    a = np.array([-0.95, -0.5, 0.0, 0.3, 0.8, 0.99])
    h = 1e-6
    cdf = lambda x: _normal_cdf(np.arctanh(x), mu, sigma)    # noqa: E731
    numeric = (cdf(a + h) - cdf(a - h)) / (2 * h)
    logp = np.array([dist.log_prob(mg.tensor([x], dtype=mg.float64)).item() for x in a])
    np.testing.assert_allclose(np.exp(logp), numeric, rtol=1e-5)
    # and the density integrates to one over (-1, 1)
    grid = np.linspace(-1 + 1e-9, 1 - 1e-9, 200_001)
    dens = np.exp(sac.squashed_gaussian(mg.full((len(grid),), mu, dtype=mg.float64),
                                        mg.full((len(grid),), math.log(sigma), dtype=mg.float64))
                  .log_prob(mg.tensor(grid)).numpy())
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=1e-4)


def test_sampled_log_prob_survives_saturation():
    """u = 12 rounds tanh(u) to 1.0 in float32; the cached u keeps log pi finite (no atanh(1))."""
    mg.manual_seed(0)
    actor = sac.TanhGaussianActor(3, 2, [8, 8])
    with mg.no_grad():
        actor.mean.bias.copy_(mg.tensor([12.0, -12.0]))
        actor.mean.weight.mul_(0.0)
    a, logp = actor.sample(mg.zeros(4, 3))
    assert np.all(np.abs(a.numpy()) == 1.0) and np.all(np.isfinite(logp.numpy()))
    # the squashing correction is large and positive (density piles up at the edge of the box)
    assert np.all(logp.numpy() > 10)


def test_reparameterised_log_prob_gradcheck_float64():
    rng = np.random.default_rng(3)
    mu = mg.tensor(rng.normal(size=(3, 2)), dtype=mg.float64, requires_grad=True)
    log_std = mg.tensor(rng.normal(scale=0.3, size=(3, 2)), dtype=mg.float64, requires_grad=True)

    def fn(mu, log_std):
        mg.manual_seed(7)                          # the same eps at every evaluation
        dist = sac.squashed_gaussian(mu, log_std)
        a = dist.rsample()
        return dist.log_prob(a).sum(-1) + a.sum(-1)

    assert gradcheck(fn, (mu, log_std), eps=1e-6, atol=1e-6)


def test_td3_target_smoothing_clipping_and_twin_minimum():
    mu_next = mg.tensor([[0.9], [-0.2], [0.0]])
    eps = mg.tensor([[0.4], [-1.0], [0.7]])
    # 0.9 + 0.4 = 1.3 -> box edge 1; -1.0 is clipped to -0.5 first; 0.7 is clipped to 0.5
    np.testing.assert_allclose(td3.smoothed_target_actions(mu_next, eps, 0.5).numpy(), [[1.0], [-0.7], [0.5]])
    y = td3.twin_target(mg.tensor([1.0, 2.0, 0.5]), mg.tensor([0.0, 1.0, 0.0]), mg.tensor([5.0, 3.0, -1.0]),
                        mg.tensor([4.0, 10.0, -2.0]), gamma=0.5)
    np.testing.assert_allclose(y.numpy(), [1.0 + 0.5 * 4.0, 2.0, 0.5 + 0.5 * -2.0])   # terminated: y = r


@pytest.mark.parametrize("logp, raises", [(2.0, True), (-3.0, False)])
def test_sac_alpha_loss_gradient_sign(logp, raises):
    """Target entropy -1. log pi = 2 means entropy -2 < -1: alpha must grow; log pi = -3 (entropy 3):
    alpha must shrink."""
    temp = sac.Temperature(0.5)
    opt = mg.optim.Adam(temp.parameters(), lr=0.1)
    loss = sac.alpha_loss(temp, mg.full((5,), logp), target_entropy=-1.0)
    loss.backward()
    grad = temp.log_alpha.grad.item()
    assert grad == pytest.approx(-(logp - 1.0))              # d/dlog_alpha of -log_alpha (logp + H)
    opt.step()
    assert (temp().item() > 0.5) == raises


def test_naf_quadratic_form():
    mg.manual_seed(2)
    net = naf.NAFNetwork(5, 3, [16, 16])
    obs = mg.randn(8, 5)
    with mg.no_grad():
        v, mu, L = net(obs)
        np.testing.assert_allclose(net.q(obs, mu).numpy(), v.numpy(), rtol=1e-6, atol=1e-6)  # Q(s, mu) = V
        Ln = L.numpy()
        assert np.all(np.triu(Ln, 1) == 0) and np.all(np.diagonal(Ln, axis1=1, axis2=2) > 0)
        P = Ln @ np.transpose(Ln, (0, 2, 1))
        assert np.all(np.linalg.eigvalsh(P) > 0)                              # positive definite
        rng = np.random.default_rng(0)
        for _ in range(5):
            a = rng.uniform(-1, 1, size=(8, 3)).astype(np.float32)
            adv = naf.advantage(mg.tensor(a), mu, L).numpy()
            d = a - mu.numpy()
            np.testing.assert_allclose(adv, -0.5 * np.einsum("bi,bij,bj->b", d, P, d), rtol=1e-4, atol=1e-6)
            assert np.all(adv <= 0) and np.all(net.q(obs, mg.tensor(a)).numpy() <= v.numpy() + 1e-6)


def test_naf_box_penalty_is_zero_inside_and_pulls_back_from_outside():
    mu = mg.tensor([[0.3, -1.0], [1.5, -2.0]], requires_grad=True)
    pen = naf.box_penalty(mu)
    assert pen.item() == pytest.approx((0.5 ** 2 + 1.0 ** 2) / 2)       # rows summed, then the mean
    pen.backward()
    np.testing.assert_allclose(mu.grad.numpy(), [[0.0, 0.0], [0.5, -1.0]])   # descent moves mu inward


def test_polyak_update():
    a, b = ddpg.QNetwork(3, 1, [4]), ddpg.QNetwork(3, 1, [4])
    before = [p.numpy().copy() for p in b.parameters()]
    ddpg.soft_update(b, a, tau=0.25)
    for p_t, p_b, p_a in zip(b.parameters(), before, a.parameters()):
        np.testing.assert_allclose(p_t.numpy(), 0.75 * p_b + 0.25 * p_a.numpy(), rtol=1e-6)
    ddpg.soft_update(b, a, tau=1.0)
    for p_t, p_a in zip(b.parameters(), a.parameters()):
        np.testing.assert_array_equal(p_t.numpy(), p_a.numpy())


def test_to_env_maps_the_unit_box():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
    np.testing.assert_allclose(ddpg.to_env(np.array([[-1.0, 1.0], [0.5, 3.0]]), low, high),
                               [[-2.0, 1.0], [1.0, 1.0]])


def _batch(rng, n=8, obs_dim=3, act_dim=2, terminated=None):
    return Batch(rng.normal(size=(n, obs_dim)).astype(np.float32),
                 rng.uniform(-1, 1, (n, act_dim)).astype(np.float32), rng.normal(size=n).astype(np.float32),
                 rng.normal(size=(n, obs_dim)).astype(np.float32),
                 np.zeros(n, np.float32) if terminated is None else terminated, np.ones(n, np.int64),
                 np.arange(n), np.ones(n, np.float32))


def test_terminated_transitions_do_not_bootstrap():
    """With terminated = 1 everywhere the DDPG target is r, whatever the target networks say."""
    rng = np.random.default_rng(1)
    batch = _batch(rng, terminated=np.ones(8, np.float32))
    actor, critic = ddpg.Actor(3, 2, [8]), ddpg.QNetwork(3, 2, [8])
    loss, _ = ddpg.critic_loss(ddpg.Args(), batch, actor, critic, ddpg.QNetwork(3, 2, [8]))
    with mg.no_grad():
        q = critic(mg.tensor(batch.obs), mg.tensor(batch.actions)).numpy()
    assert loss.item() == pytest.approx(np.mean((q - batch.rewards) ** 2), rel=1e-5)


def _assert_float32(params, opt):
    for p in params:
        assert p.dtype == mg.float32 and p.grad is not None and p.grad.dtype == mg.float32
        moments = [v for v in opt.state[p].values() if hasattr(v, "dtype")]
        assert len(moments) == 2 and all(np.dtype(v.dtype) == np.float32 for v in moments)


def test_float32_end_to_end():
    """Parameters, gradients and Adam's state stay float32 through one update of each algorithm."""
    rng = np.random.default_rng(0)
    batch = _batch(rng)
    # SAC: critics, actor, temperature
    actor = sac.TanhGaussianActor(3, 2, [8, 8])
    qs = [ddpg.QNetwork(3, 2, [8]) for _ in range(4)]
    q_opt = mg.optim.Adam([*qs[0].parameters(), *qs[1].parameters()], lr=1e-3)
    loss, _ = sac.critic_loss(sac.Args(), batch, actor, *qs, alpha=0.2)
    assert loss.dtype == mg.float32
    loss.backward()
    q_opt.step()
    _assert_float32([*qs[0].parameters(), *qs[1].parameters()], q_opt)
    pi_opt = mg.optim.Adam(actor.parameters(), lr=1e-3)
    pi_loss, logp = sac.actor_loss(mg.tensor(batch.obs), actor, qs[0], qs[1], alpha=0.2)
    assert pi_loss.dtype == mg.float32 and logp.dtype == mg.float32
    pi_loss.backward()
    pi_opt.step()
    _assert_float32(actor.parameters(), pi_opt)
    temp = sac.Temperature(1.0)
    t_opt = mg.optim.Adam(temp.parameters(), lr=1e-3)
    sac.alpha_loss(temp, logp, -2.0).backward()
    t_opt.step()
    _assert_float32(temp.parameters(), t_opt)
    # TD3 critics
    actor_t = ddpg.Actor(3, 2, [8])
    q_opt = mg.optim.Adam([*qs[0].parameters(), *qs[1].parameters()], lr=1e-3)
    q_opt.zero_grad()
    td3.critic_loss(td3.Args(), batch, actor_t, *qs)[0].backward()
    q_opt.step()
    _assert_float32([*qs[0].parameters(), *qs[1].parameters()], q_opt)
    # NAF
    net = naf.NAFNetwork(3, 2, [8, 8])
    opt = mg.optim.Adam(net.parameters(), lr=1e-3)
    loss, _ = naf.naf_loss(naf.Args(), batch, net, naf.NAFNetwork(3, 2, [8, 8]))
    assert loss.dtype == mg.float32
    loss.backward()
    opt.step()
    _assert_float32(net.parameters(), opt)


SMOKE = ["--total-timesteps", "300", "--learning-starts", "220", "--hidden", "16", "16", "--batch-size", "32",
         "--eval-every", "300", "--eval-episodes", "1", "--no-tensorboard", "--no-gif", "--no-progress"]


@pytest.mark.parametrize("algo", [ddpg, td3, sac, naf])
def test_each_algorithm_runs_and_writes_its_files(tmp_path, algo):
    final = algo.main([*SMOKE, "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] == 300 and final["eval_episodes"] == 1
    assert np.isfinite(final["eval_return_mean"])
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"metrics.csv", "curves.png", "summary.json", "last.ckpt"} <= files
    header = (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0]
    assert "losses/qf_loss" in header and "eval/return_mean" in header


def test_sac_resumes_from_its_checkpoint(tmp_path):
    common = [*SMOKE, "--out-dir", str(tmp_path), "--run-name", "r"]
    sac.main(common)
    final = sac.main([*common, "--total-timesteps", "340", "--resume"])
    assert final["env_steps"] == 40                   # only the steps after the saved 300
