"""rl.dqn_lessons: the statistics on cases with known answers, rl.dqn's lesson switches, and a smoke run
of every lesson with tiny budgets."""

from __future__ import annotations

import json

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import minigrad as mg  # noqa: E402
from rl import dqn  # noqa: E402
from rl import dqn_lessons as L  # noqa: E402
from rl.common.logger import EPISODE_LENGTH, EPISODE_RETURN, read_metrics  # noqa: E402


def balance(obs: np.ndarray) -> np.ndarray:
    """Push the cart the way the pole is falling: keeps CartPole up for hundreds of steps."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def test_discounted_returns_of_known_sequences():
    np.testing.assert_allclose(L.discounted_returns(np.array([1.0, 1.0, 1.0]), 0.5), [1.75, 1.5, 1.0])
    np.testing.assert_allclose(L.discounted_returns(np.array([0.0, 0.0, 1.0]), 0.9), [0.81, 0.9, 1.0])
    np.testing.assert_allclose(L.discounted_returns(np.array([2.0, -1.0]), 1.0), [1.0, -1.0])
    # a long run of ones: the geometric sum (1 - gamma^T) / (1 - gamma)
    g = L.discounted_returns(np.ones(300), 0.99)
    assert g[0] == pytest.approx((1 - 0.99 ** 300) / 0.01) and g[-1] == 1.0


def test_overestimation_stats_of_a_hand_made_table():
    table = {0: [1.0, 3.0], 1: [2.0, 0.0], 2: [5.0, 5.0]}
    q_fn = lambda s: np.array([table[int(i)] for i in s[:, 0]])    # noqa: E731
    stats = L.overestimation_stats(q_fn, np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 1.0, 4.0]))
    assert stats[L.Q_PRED] == pytest.approx(10 / 3)       # max per state: 3, 2, 5
    assert stats[L.MC_RETURN] == pytest.approx(2.0)
    assert stats[L.GAP] == pytest.approx(4 / 3)


def test_greedy_rollouts_keep_the_first_states_and_see_the_tail():
    gamma = 0.9
    states, returns = L.greedy_rollouts(balance, "CartPole-v1", gamma, n_episodes=2, n_states=5, tail=20)
    assert states.shape == (10, 4) and returns.shape == (10,)
    # the balancing policy survives the 25 allowed steps: from state t, 25 - t rewards of 1 follow
    expected = [(1 - gamma ** (25 - t)) / (1 - gamma) for t in range(5)]
    np.testing.assert_allclose(returns, expected * 2)
    # the states are the ones the policy visited from the episode seeds' starts
    env = gym.make("CartPole-v1")
    first, _ = env.reset(seed=L.MC_SEED + 1)
    np.testing.assert_allclose(states[5], first, rtol=1e-6)


def test_overestimation_of_a_constant_q_network_on_the_real_returns():
    """A QNetwork whose hidden layer is silenced and whose head's biases are (3, 7) predicts 7
    everywhere: the gap is 7 minus the measured discounted return of the policy."""
    net = dqn.QNetwork(4, 2, [8])
    with mg.no_grad():
        for p in net.parameters():
            p.mul_(0.0)
        net.advantage.bias.copy_(mg.tensor([3.0, 7.0]))
    q_fn = lambda o: net(mg.tensor(o.astype(np.float32)))[:, :, 0].numpy()   # noqa: E731
    stats = L.measure_overestimation("CartPole-v1", 0.5)(0, q_fn, balance)
    assert stats[L.Q_PRED] == pytest.approx(7.0)
    # gamma 0.5 and the policy survives the first MC_STATES states: every G is ~ 1 / (1 - 0.5) = 2
    assert stats[L.MC_RETURN] == pytest.approx(2.0, abs=1e-6)
    assert stats[L.GAP] == pytest.approx(5.0, abs=1e-6)


def test_area_under_curve():
    assert L.area_under_curve(np.array([0, 1, 3]), np.array([0.0, 2.0, 2.0])) == pytest.approx(5 / 3)
    assert L.area_under_curve(np.array([5]), np.array([4.0])) == 4.0
    assert L.area_under_curve(np.array([0, 10]), np.array([1.0, 1.0])) == 1.0


SMOKE = ["--total-timesteps", "600", "--learning-starts", "200", "--train-frequency", "50",
         "--gradient-steps", "4", "--hidden", "16", "--batch-size", "16", "--eval-every", "300",
         "--eval-episodes", "2", "--no-tensorboard", "--no-gif", "--no-progress",
         "--target-network-frequency", "100000"]


def test_no_target_network_bootstraps_from_the_online_network(tmp_path):
    """With the target never refreshed after the start, the TD losses differ once the online network has
    moved; with --no-target-network the bootstrap follows it."""
    losses = {}
    for name, extra in (("target", []), ("online", ["--no-target-network"])):
        dqn.main([*SMOKE, "--gradient-steps", "1", *extra, "--out-dir", str(tmp_path), "--run-name", name])
        rows = read_metrics(tmp_path / name / "metrics.csv")
        losses[name] = [r["losses/td_loss"] for r in rows if "losses/td_loss" in r]
    assert losses["target"][0] == losses["online"][0]        # the first phase starts from equal nets
    assert losses["target"][1:] != losses["online"][1:]


def test_reward_noise_trains_on_noisy_rewards_but_logs_the_real_ones(tmp_path):
    dqn.main([*SMOKE, "--reward-noise", "5.0", "--out-dir", str(tmp_path), "--run-name", "n"])
    rows = [r for r in read_metrics(tmp_path / "n" / "metrics.csv") if EPISODE_RETURN in r]
    assert rows and all(r[EPISODE_RETURN] == r[EPISODE_LENGTH] for r in rows)     # CartPole: 1 per step
    state = mg.load(tmp_path / "n" / "last.ckpt")
    rewards = np.asarray(state["parts"]["buffer"]["rewards"])[:600]
    assert rewards.std() > 2.0                               # what the agent learnt from was noisy


def test_on_eval_hook_is_called_and_logged(tmp_path):
    calls = []

    def hook(step, q_fn, greedy):
        q = q_fn(np.zeros((3, 4), np.float32))
        calls.append((step, q.shape, greedy(np.zeros((3, 4), np.float32)).shape))
        return {"lesson/x": float(step)}

    dqn.main([*SMOKE, "--out-dir", str(tmp_path), "--run-name", "h"], on_eval=hook)
    assert calls == [(300, (3, 2), (3,)), (600, (3, 2), (3,))]
    rows = read_metrics(tmp_path / "h" / "metrics.csv")
    assert [(r["step"], r["lesson/x"]) for r in rows if "lesson/x" in r] == [(300, 300), (600, 600)]


def test_every_lesson_quick(tmp_path):
    summary = L.main(["--quick", "--out", str(tmp_path)])
    assert set(summary) == set(L.LESSONS)
    for lesson, res in summary.items():
        assert (tmp_path / L.FIGURE_NAMES[lesson]).stat().st_size > 10_000
        assert set(res["variants"]) == set(L.LESSONS[lesson]["variants"])
        table_rows = [ln for ln in res["markdown"] if ln.startswith("| ") and "variant" not in ln]
        assert len(table_rows) == len(L.LESSONS[lesson]["variants"])
        for v in res["variants"].values():
            assert len(v["final"]) == 1 and len(v["auc"]) == 1
    over = summary["overestimation"]["variants"]["Double DQN, noisy rewards"]
    assert len(over["gap_mean"]) == 1 and np.isfinite(over["gap_mean"][0])
    saved = json.loads((tmp_path / "lessons.json").read_text())
    rainbow = summary["ablation"]["variants"]["Rainbow"]
    assert saved["ablation"]["variants"]["Rainbow"]["final"] == rainbow["final"]
    assert "## no_target_no_replay" in (tmp_path / "lessons.md").read_text()
    # a second call reads the finished runs back instead of training them again
    before = (tmp_path / "ablation" / "Rainbow" / "s1" / "summary.json").stat().st_mtime_ns
    L.main(["--quick", "--lesson", "ablation", "--out", str(tmp_path)])
    assert (tmp_path / "ablation" / "Rainbow" / "s1" / "summary.json").stat().st_mtime_ns == before
