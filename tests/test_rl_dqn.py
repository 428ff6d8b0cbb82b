"""rl.dqn: the components of the DQN family, each checked on its own, then every variant end to end."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import minigrad as mg  # noqa: E402
from rl import dqn  # noqa: E402
from rl.common.buffers import Batch  # noqa: E402


def test_dueling_tables_of_the_seed():
    # V = (2, 0, 4, 1) for four states, with advantage columns that already have mean 0: Q = V + A
    V = mg.tensor([[2.0], [0.0], [4.0], [1.0]])
    A = mg.tensor([[1.0, -1.0], [0.5, -0.5], [-2.0, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(dqn.dueling_combine(V, A).numpy(), V.numpy() + A.numpy())
    # A = (7, 3, 2) is mean-normalised to (3, -1, -2); with V = 1, Q = (4, 0, -1)
    q = dqn.dueling_combine(mg.tensor([[1.0]]), mg.tensor([[7.0, 3.0, 2.0]]))
    np.testing.assert_allclose(q.numpy(), [[4.0, 0.0, -1.0]])


def _brute_force_projection(p, r, d, z):
    """Each shifted atom r + d z_j, clipped, shares its mass with its two neighbours on the support."""
    m = np.zeros_like(p)
    dz = z[1] - z[0]
    for i in range(len(p)):
        for j, zj in enumerate(z):
            tz = min(max(r[i] + d[i] * zj, z[0]), z[-1])
            b = (tz - z[0]) / dz
            lo = int(np.floor(b + 1e-12))
            frac = b - lo
            if frac < 1e-9 or lo == len(z) - 1:
                m[i, lo] += p[i, j]
            else:
                m[i, lo] += p[i, j] * (1 - frac)
                m[i, lo + 1] += p[i, j] * frac
    return m


def test_c51_projection():
    rng = np.random.default_rng(0)
    z = np.linspace(-10, 10, 11)
    p = rng.dirichlet(np.ones(11), size=5)
    r = np.array([0.5, -3.0, 2.0, 30.0, 1.0])
    d = np.array([0.9, 0.99, 0.0, 0.9, 0.5])           # d = 0: a terminal transition
    m = dqn.c51_project(p, r, d, z)
    np.testing.assert_allclose(m.sum(1), 1.0)
    np.testing.assert_allclose(m, _brute_force_projection(p, r, d, z), atol=1e-12)
    # without clipping the projection keeps the mean: E[r + d Z]
    inside = [0, 2, 4]
    np.testing.assert_allclose((m * z).sum(1)[inside], (r + d * (p * z).sum(1))[inside], atol=1e-12)
    assert m[2, 6] == pytest.approx(1.0)               # terminal: all mass on r = 2 (an atom)
    assert m[3, -1] == pytest.approx(1.0)              # r = 30 lies beyond v_max: clipped to it


def test_quantile_huber_loss_gradients_and_minimum():
    rng = np.random.default_rng(1)
    pred = mg.tensor(rng.normal(size=(3, 4)), dtype=mg.float64, requires_grad=True)
    target = mg.tensor(rng.normal(size=(3, 5)), dtype=mg.float64)
    assert mg.gradcheck(lambda p: dqn.quantile_huber_loss(p, target), [pred])
    assert mg.gradgradcheck(lambda p: dqn.quantile_huber_loss(p, target), [pred], atol=1e-4)
    # the loss is smallest at the target distribution's quantiles (tau_i = (2i + 1) / 2N)
    samples = rng.normal(size=(1, 4000))
    tau = (2 * np.arange(4) + 1) / 8
    right = mg.tensor(np.quantile(samples, tau)[None])
    t = mg.tensor(samples)
    best = dqn.quantile_huber_loss(right, t).item()
    for shift in (-0.3, 0.3):
        assert dqn.quantile_huber_loss(right + shift, t).item() > best


def test_noisy_linear_noise_mean_and_gradients():
    mg.manual_seed(0)
    layer = dqn.NoisyLinear(3, 2, sigma0=0.5).to(mg.float64)
    x = mg.tensor(np.random.default_rng(2).normal(size=(4, 3)))
    y1 = layer(x).numpy()
    layer.reset_noise()
    assert not np.allclose(layer(x).numpy(), y1)             # new noise, new function
    layer.eval()
    mean = x.numpy() @ layer.weight_mu.numpy().T + layer.bias_mu.numpy()
    np.testing.assert_allclose(layer(x).numpy(), mean)
    layer.train()
    # the factorised noise: eps_W = f(eps_out) f(eps_in)^T reaches sigma's gradient
    params = [layer.weight_mu, layer.weight_sigma, layer.bias_mu, layer.bias_sigma]
    assert mg.gradcheck(lambda *ps: _noisy_forward(layer, x, *ps), params)
    assert mg.gradgradcheck(lambda *ps: _noisy_forward(layer, x, *ps).tanh(), params)


def _noisy_forward(layer, x, w_mu, w_sigma, b_mu, b_sigma):
    eps_w = layer.eps_out.unsqueeze(1) * layer.eps_in.unsqueeze(0)
    return mg.nn.functional.linear(x, w_mu + w_sigma * eps_w, b_mu + b_sigma * layer.eps_out)


@pytest.mark.parametrize("dueling,noisy,atoms", [(False, False, 1), (True, False, 1), (True, True, 51),
                                                  (False, True, 8)])
def test_q_network_shapes(dueling, noisy, atoms):
    net = dqn.QNetwork(4, 3, [16, 16], dueling=dueling, noisy=noisy, atoms=atoms)
    assert net(mg.randn(5, 4)).shape == (5, 3, atoms)


def test_double_dqn_lets_the_online_network_choose():
    """Online net prefers action 1 at s', the target net action 0: Double DQN rates action 1 with the
    target net, DQN takes the target net's own max."""
    args = dqn.Args(gamma=0.5)
    online, target = dqn.QNetwork(1, 2, []), dqn.QNetwork(1, 2, [])
    with mg.no_grad():
        online.advantage.weight.copy_(mg.tensor([[0.0], [0.0]]))
        online.advantage.bias.copy_(mg.tensor([0.0, 1.0]))
        target.advantage.weight.copy_(mg.tensor([[0.0], [0.0]]))
        target.advantage.bias.copy_(mg.tensor([4.0, 2.0]))
    batch = Batch(np.zeros((1, 1), np.float32), np.array([1]), np.array([1.0], np.float32),
                  np.zeros((1, 1), np.float32), np.array([0.0], np.float32), np.array([1]), np.array([0]),
                  np.ones(1, np.float32))
    _, err, _ = dqn.td_loss(args, online, target, batch, None)
    assert err[0] == pytest.approx(1.0 - (1.0 + 0.5 * 4.0))        # y = 1 + 0.5 max_a Q_target = 3
    args.double = True
    _, err, _ = dqn.td_loss(args, online, target, batch, None)
    assert err[0] == pytest.approx(1.0 - (1.0 + 0.5 * 2.0))        # y = 1 + 0.5 Q_target(s', 1) = 2
    batch = batch._replace(terminated=np.array([1.0], np.float32))
    _, err, _ = dqn.td_loss(args, online, target, batch, None)
    assert err[0] == pytest.approx(1.0 - 1.0)                       # terminated: y = r


def test_polyak_and_hard_target_updates():
    a, b = dqn.QNetwork(2, 2, [4]), dqn.QNetwork(2, 2, [4])
    before = [p.numpy().copy() for p in b.parameters()]
    dqn.update_target(b, a, tau=0.25)
    for p_t, p_b, p_a in zip(b.parameters(), before, a.parameters()):
        np.testing.assert_allclose(p_t.numpy(), 0.75 * p_b + 0.25 * p_a.numpy(), rtol=1e-6)
    dqn.update_target(b, a, tau=1.0)
    for p_t, p_a in zip(b.parameters(), a.parameters()):
        np.testing.assert_array_equal(p_t.numpy(), p_a.numpy())


SMOKE = ["--total-timesteps", "600", "--learning-starts", "200", "--train-frequency", "50",
         "--gradient-steps", "2", "--hidden", "16", "--batch-size", "16", "--eval-every", "300",
         "--eval-episodes", "2", "--no-tensorboard", "--no-gif", "--no-progress"]


@pytest.mark.parametrize("variant", [[], ["--double", "--dueling"], ["--prioritized", "--n-step", "3"],
                                     ["--noisy", "--distributional", "c51"], ["--distributional", "qr"],
                                     ["--rainbow"], ["--exploration", "boltzmann", "--tau", "0.1"],
                                     ["--n-envs", "2"], ["--anneal-lr", "--keep-best"]])
def test_every_variant_runs_and_writes_its_files(tmp_path, variant):
    final = dqn.main([*SMOKE, *variant, "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] == 600 and final["eval_episodes"] == 2
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"metrics.csv", "curves.png", "summary.json", "last.ckpt"} <= files
    if "--keep-best" in variant:
        assert final["selected_step"] in (300, 600)     # one of the periodic evaluations


def test_rainbow_switches_everything_on():
    args = dqn.apply_rainbow(dqn.Args(rainbow=True))
    assert args.double and args.dueling and args.prioritized and args.noisy
    assert args.n_step == 3 and args.distributional == "c51"


def test_float32_end_to_end(tmp_path):
    """Parameters, gradients and Adam's state stay float32 through training (rl.dqn never upcasts)."""
    net, target = dqn.QNetwork(4, 2, [8]), dqn.QNetwork(4, 2, [8])
    opt = mg.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    batch = Batch(rng.normal(size=(8, 4)).astype(np.float32), rng.integers(2, size=8),
                  np.ones(8, np.float32), rng.normal(size=(8, 4)).astype(np.float32),
                  np.zeros(8, np.float32), np.ones(8, np.int64), np.arange(8), np.ones(8, np.float32))
    loss, _, _ = dqn.td_loss(dqn.Args(), net, target, batch, None)
    loss.backward()
    opt.step()
    for p in net.parameters():
        assert p.dtype == mg.float32 and p.grad.dtype == mg.float32
        moments = [v for v in opt.state[p].values() if hasattr(v, "dtype")]     # exp_avg, exp_avg_sq
        assert len(moments) == 2 and all(np.dtype(v.dtype) == np.float32 for v in moments)


def test_resume_restores_networks_optimizer_and_replay(tmp_path):
    args = [*SMOKE, "--out-dir", str(tmp_path), "--run-name", "r"]
    dqn.main(args)
    state = mg.load(tmp_path / "r" / "last.ckpt")
    assert state["step"] == 600 and set(state["parts"]) == {"q", "target", "optimizer", "buffer"}
    assert len(state["parts"]["buffer"]["rewards"]) == 600            # the replay memory travels too
    final = dqn.main([*args, "--resume", "--total-timesteps", "800"])
    assert final["env_steps"] == 200


def test_same_seed_same_curve(tmp_path):
    from rl.common.logger import read_metrics

    rows = []
    for name in ("a", "b"):
        dqn.main([*SMOKE, "--double", "--prioritized", "--out-dir", str(tmp_path), "--run-name", name])
        rows.append([{k: v for k, v in r.items() if k != "charts/SPS"}
                     for r in read_metrics(tmp_path / name / "metrics.csv")])
    assert rows[0] == rows[1] and any("losses/td_loss" in r for r in rows[0])
