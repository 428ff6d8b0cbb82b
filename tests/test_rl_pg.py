"""Policy gradients: the policy heads (float64 gradchecks, densities), TRPO's conjugate gradient,
Fisher-vector products and line search against direct computations, PPO's loss pieces, and a short
smoke run of every algorithm."""

from __future__ import annotations

import math

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import minigrad as mg  # noqa: E402
from rl import a2c, pg_demos, ppo, reinforce, trpo, vpg  # noqa: E402
from rl.common.envs import make_vec_env  # noqa: E402
from rl.common.policies import (  # noqa: E402
    ActorCritic,
    CategoricalDist,
    DiagGaussianDist,
    TanhGaussianDist,
    explained_variance,
)

F64 = mg.float64


def _t(x, grad=False):
    return mg.tensor(np.asarray(x, np.float64), dtype=F64, requires_grad=grad)


# ---------------------------------------------------------------------------------------------------
# Policy heads
# ---------------------------------------------------------------------------------------------------
def test_head_log_probs_gradcheck_float64():
    rng = np.random.default_rng(0)
    actions = mg.tensor(np.array([0, 2, 1, 2]))
    assert mg.gradcheck(lambda lg: CategoricalDist(lg).log_prob(actions), [_t(rng.normal(size=(4, 3)), True)])
    assert mg.gradcheck(lambda lg: CategoricalDist(lg).entropy(), [_t(rng.normal(size=(4, 3)), True)])
    a = _t(rng.normal(size=(4, 2)))
    for cls in (DiagGaussianDist, TanhGaussianDist):
        assert mg.gradcheck(lambda m, s, cls=cls: cls(m, s).log_prob(a),
                            [_t(rng.normal(size=(4, 2)), True), _t(rng.normal(size=2) * 0.3, True)])
    other = DiagGaussianDist(_t(rng.normal(size=(4, 2))), _t([0.1, -0.2]))
    assert mg.gradcheck(lambda m, s: other.kl(DiagGaussianDist(m, s)),
                        [_t(rng.normal(size=(4, 2)), True), _t([0.3, 0.4], True)])


def test_gaussian_log_prob_entropy_and_kl_closed_forms():
    mean, log_std = np.array([[0.5, -1.0]]), np.array([0.2, -0.7])
    a = np.array([[1.0, 0.0]])
    d = DiagGaussianDist(_t(mean), _t(log_std))
    std = np.exp(log_std)
    expect = np.sum(-0.5 * ((a - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi))
    assert d.log_prob(_t(a)).item() == pytest.approx(expect, rel=1e-12)
    assert d.entropy().item() == pytest.approx(np.sum(log_std + 0.5 * math.log(2 * math.pi * math.e)))
    q = DiagGaussianDist(_t(mean + 1.0), _t(log_std * 0))
    kl = np.sum(np.log(1 / std) + (std ** 2 + 1.0) / 2 - 0.5)       # sigma_q = 1, |mu_p - mu_q| = 1
    assert d.kl(q).item() == pytest.approx(kl, rel=1e-12)


def test_tanh_gaussian_density_integrates_to_one_and_stays_finite():
    """p(a) = N(u) / (1 - tanh(u)^2) with u = atanh(a): a density on (-1, 1)."""
    d = TanhGaussianDist(_t([[0.7]]), _t([0.4]))
    a = np.linspace(-1, 1, 200_001)[1:-1]
    u = np.arctanh(a)[:, None]
    dist = TanhGaussianDist(_t(np.full((len(a), 1), 0.7)), _t([0.4]))
    p = np.exp(dist.log_prob(_t(u)).numpy())
    assert np.trapezoid(p, a) == pytest.approx(1.0, abs=1e-3)
    # the change-of-variables term in its stable form: finite where 1 - tanh(u)^2 underflows
    assert np.isfinite(d.log_prob(_t([[30.0]])).item())
    gaussian = DiagGaussianDist(_t([[0.7]]), _t([0.4])).log_prob(_t([[0.3]])).item()
    naive = gaussian - math.log(1 - math.tanh(0.3) ** 2)
    assert d.log_prob(_t([[0.3]])).item() == pytest.approx(naive, rel=1e-12)


def test_actor_critic_kinds_and_env_actions():
    box = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
    ac = ActorCritic(3, gym.spaces.Discrete(4))
    raw, logp, v = ac.act(np.zeros((5, 3), np.float32))
    assert raw.shape == (5,) and logp.shape == (5,) and v.shape == (5,)
    np.testing.assert_allclose(logp, np.log(0.25), atol=0.05)          # 0.01-gain head: near uniform
    g = ActorCritic(3, box, log_std_init=-1.0)
    assert g.kind == "gaussian" and g.env_actions(np.array([[3.0], [-0.5]])).tolist() == [[2.0], [-0.5]]
    t = ActorCritic(3, box, policy="tanh")
    np.testing.assert_allclose(t.env_actions(np.array([[0.0], [50.0]])), [[0.0], [2.0]])
    s = ActorCritic(3, gym.spaces.Discrete(2), shared=True)
    assert s.distribution(mg.zeros(2, 3)).logits.shape == (2, 2) and s.value(mg.zeros(2, 3)).shape == (2,)
    with pytest.raises(ValueError):
        ActorCritic(3, gym.spaces.Discrete(2), policy="tanh")


def test_explained_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == 1.0
    assert explained_variance(np.full(4, 2.5), y) == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------------------
# TRPO's linear algebra
# ---------------------------------------------------------------------------------------------------
def test_conjugate_gradient_matches_a_direct_solve():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(8, 8))
    A = m @ m.T + 0.5 * np.eye(8)
    b = rng.normal(size=8)
    x = trpo.conjugate_gradient(lambda v: A @ v, b, n_iters=8, residual_tol=0.0)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)
    # residuals shrink as iterations are added (the A-norm error is monotone)
    err = [np.linalg.norm(A @ trpo.conjugate_gradient(lambda v: A @ v, b, k, 0.0) - b) for k in (1, 4, 8)]
    assert err[0] > err[1] > err[2]
    # a clustered spectrum (identity plus rank 2) converges in 3 iterations
    u = rng.normal(size=(8, 2))
    B = np.eye(8) + u @ u.T
    np.testing.assert_allclose(trpo.conjugate_gradient(lambda v: B @ v, b, 3, 0.0), np.linalg.solve(B, b),
                               rtol=1e-8)


def _linear_policy(rng, n_states=5, obs_dim=3, n_actions=3):
    S = _t(rng.normal(size=(n_states, obs_dim)))
    W = _t(rng.normal(size=(obs_dim, n_actions)) * 0.5, True)
    b = _t(rng.normal(size=n_actions) * 0.1, True)
    return S, W, b


def test_fisher_vector_product_matches_the_explicit_fisher_categorical():
    """F = mean_s sum_a pi(a|s) g g^T, g = grad log pi(a|s), built action by action, against the
    double-backward product through KL(pi_old || pi_theta)."""
    rng = np.random.default_rng(1)
    S, W, b = _linear_policy(rng)
    params = [W, b]
    old = CategoricalDist((S @ W + b).detach())
    fvp = trpo.fisher_vector_product(lambda: old.kl(CategoricalDist(S @ W + b)).mean(), params)
    P = W.numel() + b.numel()
    fisher = np.zeros((P, P))
    probs = old.dist.probs.numpy()
    for s in range(S.shape[0]):
        for a in range(3):
            logp = CategoricalDist(S[s:s + 1] @ W + b).log_prob(mg.tensor(np.array([a])))[0]
            g = trpo.flat_grad(logp, params).numpy()
            fisher += probs[s, a] * np.outer(g, g) / S.shape[0]
    for _ in range(3):
        v = rng.normal(size=P)
        np.testing.assert_allclose(fvp(v), fisher @ v, rtol=1e-9, atol=1e-12)
    damped = trpo.fisher_vector_product(lambda: old.kl(CategoricalDist(S @ W + b)).mean(), params, 0.1)
    np.testing.assert_allclose(damped(v), fisher @ v + 0.1 * v, rtol=1e-9, atol=1e-12)


def test_fisher_vector_product_matches_the_explicit_fisher_gaussian():
    """Diagonal Gaussian, mean = S W + b, state-independent log sigma: F = mean_s J_s^T diag(1/sigma^2) J_s
    on the mean's parameters, 2 I on log sigma, no cross terms."""
    rng = np.random.default_rng(2)
    S, W, b = _linear_policy(rng, n_actions=2)
    log_std = _t([0.3, -0.4], True)
    params = [W, b, log_std]
    old = DiagGaussianDist((S @ W + b).detach(), log_std.detach())
    fvp = trpo.fisher_vector_product(lambda: old.kl(DiagGaussianDist(S @ W + b, log_std)).mean(), params)
    n_mean = W.numel() + b.numel()
    inv_var = np.exp(-2 * log_std.numpy())
    fisher = np.zeros((n_mean + 2, n_mean + 2))
    for s in range(S.shape[0]):
        J = np.stack([trpo.flat_grad((S[s:s + 1] @ W + b)[0, d], [W, b]).numpy() for d in range(2)])
        fisher[:n_mean, :n_mean] += J.T @ np.diag(inv_var) @ J / S.shape[0]
    fisher[n_mean:, n_mean:] = 2 * np.eye(2)
    v = rng.normal(size=n_mean + 2)
    np.testing.assert_allclose(fvp(v), fisher @ v, rtol=1e-9, atol=1e-12)


def test_line_search_enforces_the_kl_constraint_and_improvement():
    theta = _t([0.0, 0.0], True)
    g = np.array([1.0, 0.5])

    def surrogate_and_kl():
        th = theta.numpy()
        return float(g @ th - 0.1 * th @ th), float(0.5 * th @ th)     # KL-bar = |theta|^2 / 2

    full = np.array([1.0, 0.5])                                          # KL 0.625 > 0.1
    frac, surr, kl = trpo.line_search([theta], np.zeros(2), full, surrogate_and_kl, 0.0, max_kl=0.1)
    assert 0 < frac < 1 and kl <= 0.1 and surr > 0
    assert frac == pytest.approx(0.8 ** 5)             # KL = 0.625 frac^2 <= 0.1 first at 0.8^5 = 0.33
    np.testing.assert_allclose(theta.numpy(), frac * full)
    # a step against the gradient never improves: rejected, parameters restored
    frac, surr, kl = trpo.line_search([theta], np.zeros(2), -full, surrogate_and_kl, 0.0, max_kl=0.1)
    assert frac == 0.0 and surr == 0.0
    np.testing.assert_allclose(theta.numpy(), [0.0, 0.0])


def test_trpo_step_stays_in_the_trust_region_and_improves():
    mg.manual_seed(0)
    rng = np.random.default_rng(3)
    agent = ActorCritic(4, gym.spaces.Discrete(3), hidden=[16])
    obs = mg.tensor(rng.normal(size=(256, 4)).astype(np.float32))
    actions = mg.tensor(rng.integers(3, size=256))
    adv = mg.tensor(rng.normal(size=256).astype(np.float32))
    args = trpo.Args(max_kl=0.01)
    before = [p.numpy().copy() for p in agent.actor_parameters()]
    stats = trpo.trpo_policy_step(args, agent, obs, actions, adv)
    assert stats["step_fraction"] > 0 and 0 < stats["kl"] <= 0.01
    assert stats["surrogate_improvement"] > 0 and stats["expected_improvement"] > 0
    assert any(not np.allclose(a, p.numpy()) for a, p in zip(before, agent.actor_parameters()))


# ---------------------------------------------------------------------------------------------------
# PPO's loss pieces
# ---------------------------------------------------------------------------------------------------
def test_clipped_surrogate_gradient_vanishes_outside_the_clip():
    ratio = _t([0.5, 1.0, 1.5, 0.5, 1.0, 1.5], True)
    adv = _t([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    loss = ppo.clipped_surrogate_loss(ratio, adv, 0.2)
    loss.backward()
    # A > 0: r = 1.5 is past 1 + eps (no gradient), r = 0.5 is not clipped (the min keeps r A)
    # A < 0: r = 0.5 is past 1 - eps (no gradient), r = 1.5 keeps its gradient
    np.testing.assert_allclose(ratio.grad.numpy(), np.array([-1, -1, 0, 0, 1, 1]) / 6.0)
    assert loss.item() == pytest.approx(-(0.5 + 1.0 + 1.2 - 0.8 - 1.0 - 1.5) / 6.0)


def test_adaptive_kl_beta():
    assert ppo.adapt_kl_beta(1.0, 0.02, 0.01) == 2.0
    assert ppo.adapt_kl_beta(1.0, 0.005, 0.01) == 0.5
    assert ppo.adapt_kl_beta(1.0, 0.01, 0.01) == 1.0


# ---------------------------------------------------------------------------------------------------
# Smoke runs
# ---------------------------------------------------------------------------------------------------
BOOK = ["--eval-episodes", "2", "--no-tensorboard", "--no-gif", "--no-progress"]


@pytest.mark.parametrize("variant", [
    ["--env-id", "CartPole-v1", "--total-timesteps", "512"],
    ["--env-id", "CartPole-v1", "--total-timesteps", "512", "--penalty", "kl", "--shared", "--clip-vloss"],
    ["--env-id", "Pendulum-v1", "--total-timesteps", "256", "--n-steps", "64", "--n-epochs", "2"],
    ["--env-id", "Pendulum-v1", "--total-timesteps", "256", "--n-steps", "64", "--n-epochs", "2",
     "--policy", "tanh", "--target-kl", "0.01"],
])
def test_ppo_runs_and_writes_its_files(tmp_path, variant):
    final = ppo.main([*variant, *BOOK, "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] == int(variant[3]) and final["eval_episodes"] == 2
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"metrics.csv", "curves.png", "summary.json", "last.ckpt"} <= files


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_trpo_runs_and_writes_its_files(tmp_path, env_id):
    final = trpo.main(["--env-id", env_id, "--total-timesteps", "512", "--n-steps", "128", "--n-envs", "2",
                       *BOOK, "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] == 512
    assert (tmp_path / "r" / "summary.json").exists()


def test_ppo_keep_best_restores_the_best_periodic_policy_and_its_obs_statistics(tmp_path):
    from rl.common.checkpoint import load_checkpoint
    from rl.common.evaluate import PERIODIC_EVAL_SEED, evaluate
    from rl.common.logger import EVAL_MEAN, column, read_metrics

    final = ppo.main(["--env-id", "CartPole-v1", "--total-timesteps", "4096", "--n-envs", "2",
                      "--n-steps", "128", "--eval-every", "512", "--keep-best", "--normalize-obs",
                      *BOOK, "--eval-episodes", "3", "--out-dir", str(tmp_path), "--run-name", "r"])
    steps, means = column(read_metrics(tmp_path / "r" / "metrics.csv"), EVAL_MEAN)
    assert len(means) == 8 and means.max() > means.min()  # the evaluations differ, so the choice matters
    best = int(steps[len(means) - 1 - int(np.argmax(means[::-1]))])   # the last of the maxima
    assert final["selected_step"] == best
    # last.ckpt holds the restored policy and observation statistics: its periodic evaluation gives the
    # best logged number again
    args = ppo.Args(normalize_obs=True)
    envs = ppo.make_vec_env("CartPole-v1", n_envs=2, normalize_obs=True)
    agent = ppo.ActorCritic(4, envs.single_action_space, args.hidden, args.activation, args.policy,
                            args.shared, args.log_std_init)
    opt = ppo.mg.optim.Adam(agent.parameters())
    load_checkpoint(tmp_path / "r" / "last.ckpt", {"agent": agent, "optimizer": opt, "norm": envs},
                    np.random.default_rng(0))
    again = evaluate(agent.deterministic, "CartPole-v1", 3, seed=PERIODIC_EVAL_SEED, obs_norm=envs)
    assert again.mean() == pytest.approx(means.max())


def test_ppo_resume_continues_the_step_count(tmp_path):
    common = [*BOOK, "--out-dir", str(tmp_path), "--run-name", "r", "--checkpoint-every", "256",
              "--n-envs", "2", "--n-steps", "64", "--n-epochs", "1"]
    ppo.main(["--total-timesteps", "256", *common])
    final = ppo.main(["--total-timesteps", "512", "--resume", *common])
    assert final["env_steps"] == 256                      # only the second half was run


@pytest.mark.parametrize("baseline", ["none", "mean", "value"])
def test_reinforce_runs_with_each_baseline(tmp_path, baseline):
    final = reinforce.main(["--total-timesteps", "400", "--batch-size", "200", "--baseline", baseline, *BOOK,
                            "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] >= 400


@pytest.mark.parametrize("variant", [["--env-id", "CartPole-v1"], ["--env-id", "CartPole-v1", "--shared"],
                                     ["--env-id", "Pendulum-v1", "--normalize-obs"]])
def test_a2c_runs(tmp_path, variant):
    final = a2c.main([*variant, "--total-timesteps", "400", *BOOK, "--out-dir", str(tmp_path),
                      "--run-name", "r"])
    assert final["env_steps"] == 400


def test_reinforce_batches_are_whole_episodes_with_rewards_to_go():
    envs = make_vec_env("CartPole-v1", n_envs=3, seed=0)
    envs.reset(seed=0)
    agent = ActorCritic(4, envs.single_action_space, [8])

    class NoLog:
        def episode(self, *a):
            pass

        def progress(self, *a):
            pass

    batch, step = reinforce.collect_episodes(envs, agent, 100, 1.0, False, 0, NoLog())
    G = batch["returns"]
    assert len(G) >= 100 and step % 3 == 0 and step >= len(G)
    # with gamma = 1 and reward 1 a step, G counts down to 1 at every episode's last step
    ends = np.flatnonzero(G == 1.0)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert ends[-1] == len(G) - 1
    for s, e in zip(starts, ends):
        np.testing.assert_array_equal(G[s:e + 1], np.arange(e - s + 1, 0, -1))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_vpg_runs(tmp_path, env_id):
    final = vpg.main(["--env-id", env_id, "--total-timesteps", "400", "--n-steps", "100", "--value-iters",
                      "2", *BOOK, "--out-dir", str(tmp_path), "--run-name", "r"])
    assert final["env_steps"] == 400


def test_importance_sampling_demo():
    # a distant proposal: with one sample the estimate is nearly always of the wrong sign
    n, est = pg_demos.importance_sampling_estimates(1000, runs=200, seed=0)
    assert n[0] == 1 and n[-1] == 1000
    assert (est[:, 0] < 0).mean() > 0.9
    # the proposal equal to the target: weights 1, the estimate is the running sample mean
    n, est = pg_demos.importance_sampling_estimates(2000, runs=4, seed=0, mu_p=1.0, mu_q=1.0)
    np.testing.assert_allclose(est[:, -1], 1.0, atol=0.1)


def test_collect_rollout_bootstraps_truncated_episodes_from_the_real_last_observation():
    from rl.common.buffers import RolloutBuffer
    from rl.common.policies import collect_rollout

    class NoLog:
        def episode(self, *a):
            pass

        def progress(self, *a):
            pass

    mg.manual_seed(0)
    envs = make_vec_env("CartPole-v1", n_envs=2, seed=0, max_episode_steps=5)   # truncated at 5 steps
    obs, _ = envs.reset(seed=0)
    agent = ActorCritic(4, envs.single_action_space, [8])
    buffer = RolloutBuffer(7, 2, (4,))
    collect_rollout(envs, agent, buffer, obs.astype(np.float32), 0, NoLog())
    np.testing.assert_array_equal(buffer.truncated[:, 0], [0, 0, 0, 0, 1, 0, 0])
    # replay env 0's first episode: its real last observation, not the next episode's first one
    env = gym.make("CartPole-v1", max_episode_steps=5)
    env.reset(seed=0)
    for a in buffer.actions[:5, 0]:
        last, *_ = env.step(int(a))
    with mg.no_grad():
        v_last = agent.value(mg.tensor(np.asarray(last, np.float32)[None])).item()
    assert buffer.final_values[4, 0] == pytest.approx(v_last, rel=1e-5)
    assert not np.allclose(buffer.obs[5, 0], last)                 # the next row starts a new episode
    assert np.all(buffer.final_values[buffer.truncated == 0] == 0)
