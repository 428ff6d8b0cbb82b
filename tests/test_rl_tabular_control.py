"""TD control (rl/tabular/td_control.py) and its experiments (rl/tabular/control.py): update rules by hand,
the simulator against gymnasium, and the book's orderings on fewer runs."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from rl.tabular.control import maximization_bias, maximization_bias_mdp, run  # noqa: E402
from rl.tabular.mdp import TabularMDP, expected_return  # noqa: E402
from rl.tabular.td_control import (  # noqa: E402
    GreedyReturn,
    double_q_update,
    epsilon_greedy,
    epsilon_greedy_probs,
    expected_sarsa_update,
    greedy_policy,
    q_learning_update,
    sarsa_update,
    train,
)

ALPHA, GAMMA = 0.5, 0.9
ONE = dict(s=np.array([0]), a=np.array([0]), r=np.array([1.0]), s2=np.array([1]))


def test_sarsa_update_by_hand():
    q = np.zeros((1, 2, 2))
    q[0, 1] = [3.0, 2.0]
    sarsa_update(q, **ONE, a2=np.array([1]), term=np.array([False]), alpha=ALPHA, gamma=GAMMA)
    assert q[0, 0, 0] == pytest.approx(0.5 * (1 + 0.9 * 2.0))          # uses a' = 1, not the max
    q[0, 0, 0] = 0.0
    sarsa_update(q, **ONE, a2=np.array([1]), term=np.array([True]), alpha=ALPHA, gamma=GAMMA)
    assert q[0, 0, 0] == pytest.approx(0.5 * 1.0)                        # no bootstrap at termination
    assert q[0, 1].tolist() == [3.0, 2.0]


def test_q_learning_update_by_hand():
    q = np.zeros((1, 2, 2))
    q[0, 0, 0], q[0, 1] = 1.0, [3.0, 2.0]
    q_learning_update(q, **ONE, term=np.array([False]), alpha=ALPHA, gamma=GAMMA)
    assert q[0, 0, 0] == pytest.approx(1.0 + 0.5 * (1 + 0.9 * 3.0 - 1.0))


def test_expected_sarsa_update_by_hand():
    q = np.zeros((1, 2, 2))
    q[0, 1] = [3.0, 1.0]
    expected_sarsa_update(q, **ONE, term=np.array([False]), alpha=ALPHA, gamma=GAMMA, eps=0.2)
    v_next = 0.9 * 3.0 + 0.1 * 1.0                 # pi = (1 - eps) on the greedy + eps / 2 each
    assert q[0, 0, 0] == pytest.approx(0.5 * (1 + 0.9 * v_next))
    q = np.zeros((1, 2, 3))
    q[0, 1] = [2.0, 2.0, -np.inf]                  # a tie, and an action the state does not have
    expected_sarsa_update(q, **ONE, term=np.array([False]), alpha=ALPHA, gamma=GAMMA, eps=0.2)
    assert q[0, 0, 0] == pytest.approx(0.5 * (1 + 0.9 * 2.0))


def test_double_q_update_by_hand():
    n = 2000                                       # many copies of the same transition: both branches occur
    q = np.zeros((2, n, 2, 2))
    q[0, :, 1], q[1, :, 1] = [3.0, 1.0], [0.5, 4.0]
    s, a, r, s2 = np.zeros(n, int), np.zeros(n, int), np.ones(n), np.ones(n, int)
    double_q_update(q, s, a, r, s2, np.zeros(n, bool), ALPHA, GAMMA, np.random.default_rng(0))
    upd1 = q[0, :, 0, 0] != 0
    # Q1 updated: argmax Q1(s') = 0, valued by Q2: 0.5; Q2 updated: argmax Q2(s') = 1, valued by Q1: 1.0
    np.testing.assert_allclose(q[0, upd1, 0, 0], 0.5 * (1 + 0.9 * 0.5))
    np.testing.assert_allclose(q[1, ~upd1, 0, 0], 0.5 * (1 + 0.9 * 1.0))
    assert (q[1, upd1, 0, 0] == 0).all() and (q[0, ~upd1, 0, 0] == 0).all()   # one table per run
    assert 0.45 < upd1.mean() < 0.55


def test_epsilon_greedy_frequencies_and_ties():
    rng = np.random.default_rng(0)
    q = np.tile([1.0, 1.0, 0.0, -np.inf], (40_000, 1))
    a = epsilon_greedy(rng, q, 0.3)
    freq = np.bincount(a, minlength=4) / len(a)
    expected = epsilon_greedy_probs(q[:1], 0.3)[0]
    np.testing.assert_allclose(expected, [0.45, 0.45, 0.1, 0.0])
    np.testing.assert_allclose(freq, expected, atol=0.01)


def _gym_step(env_id, s, a, n=1):
    env = gym.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    out = []
    for _ in range(n):
        u.s = s
        s2, r, term, _, _ = u.step(a)
        out.append((int(s2), float(r), bool(term)))
    env.close()
    return out


@pytest.mark.parametrize("env_id", ["CliffWalking-v1", "Taxi-v4"])
def test_step_matches_gymnasium_exactly_on_deterministic_envs(env_id):
    mdp = TabularMDP.from_gymnasium(env_id)
    env = gym.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    s, a = np.divmod(np.arange(mdp.n_states * mdp.n_actions), mdp.n_actions)
    s2, r, term = mdp.step(np.random.default_rng(0), s, a)
    for i in range(len(s)):
        u.s = int(s[i])
        g2, gr, gterm, _, _ = u.step(int(a[i]))
        assert (s2[i], r[i], term[i]) == (g2, gr, gterm), (s[i], a[i])
    env.close()


def test_step_matches_gymnasium_in_distribution_on_frozenlake():
    from scipy.stats import chi2_contingency

    mdp = TabularMDP.from_gymnasium("FrozenLake-v1")
    rng = np.random.default_rng(0)
    n = 1500
    for s, a in [(0, 1), (6, 2), (14, 2), (9, 0)]:       # corners, walls and holes nearby
        ours, _, _ = mdp.step(rng, np.full(n, s), np.full(n, a))
        theirs = np.array([t[0] for t in _gym_step("FrozenLake-v1", s, a, n)])
        states = np.union1d(ours, theirs)
        table = np.array([[np.sum(x == k) for k in states] for x in (ours, theirs)])
        assert len(states) == 3
        assert chi2_contingency(table).pvalue > 1e-3, (s, a, table)
        np.testing.assert_allclose(table[0] / n, mdp.P[s, a, states], atol=0.05)


def test_train_episode_bookkeeping_with_truncation():
    # one state, two actions that loop with reward 1 (a0) or 2 (a1); never terminates, time limit 5
    P = np.ones((1, 2, 1))
    R = np.array([[[1.0], [2.0]]])
    mdp = TabularMDP(P, R, np.zeros((1, 2, 1), bool), np.ones(1), max_steps=5)
    log = train(mdp, "q_learning", np.random.default_rng(0), n_runs=3, episodes=4, epsilon=1.0, alpha=0.5)
    assert log.returns.shape == (3, 4)
    assert ((log.returns >= 5) & (log.returns <= 10)).all()          # 5 steps of reward 1 or 2
    assert log.steps == 20                                            # truncated at 5 steps, every run


def test_greedy_return_matches_expected_return():
    cases = [("CliffWalking-v1", 100, 3), ("FrozenLake-v1", None, 3), ("Taxi-v4", None, 1)]
    for env_id, horizon, n_runs in cases:     # Taxi last: its mdp is used below
        mdp = TabularMDP.from_gymnasium(env_id)
        q = np.random.default_rng(1).normal(size=(n_runs, mdp.n_states, mdp.n_actions))
        fast = GreedyReturn(mdp, horizon=horizon)(q)
        for n in range(n_runs):
            assert fast[n] == pytest.approx(expected_return(mdp, greedy_policy(q[n]), horizon=horizon))
    # and it finds Taxi's optimum 7.93 for the greedy policy of value iteration (gamma 0.99)
    q = np.zeros((mdp.n_states, mdp.n_actions))
    for _ in range(60):
        q = (mdp.P * (mdp.R + 0.99 * ~mdp.done * q.max(-1))).sum(-1)
    assert GreedyReturn(mdp)(q[None])[0] == pytest.approx(7.93)


def test_cliff_walking_sarsa_safer_online_and_q_learning_greedy_optimal():
    mdp = TabularMDP.from_gymnasium("CliffWalking-v1")
    rng = np.random.default_rng(0)
    logs = {algo: train(mdp, algo, rng, n_runs=20, episodes=500, epsilon=0.1, alpha=0.5)
            for algo in ("sarsa", "q_learning")}
    online = {algo: log.returns[:, 400:].mean() for algo, log in logs.items()}
    assert online["sarsa"] > online["q_learning"] + 10           # book: about -25 against -50
    greedy = GreedyReturn(mdp, horizon=100)(logs["q_learning"].q)
    assert (greedy == -13).all()


def test_maximization_bias_double_q_ends_below_q_learning():
    left = maximization_bias(np.random.default_rng(0), runs=2000, episodes=300)
    assert left["q_learning"].max() > 80 and left["double_q"].max() < 60
    assert left["double_q"][-20:].mean() + 2 < left["q_learning"][-20:].mean()
    mdp, q_init = maximization_bias_mdp()
    assert np.isinf(q_init[0, 2:]).all() and mdp.expected_reward[1].mean() == pytest.approx(-0.1)


def test_frozenlake_q_learning_reaches_target_on_reduced_budget():
    from rl.tabular.control import LAKE, exact_learning_curves

    res = exact_learning_curves("FrozenLake-v1", LAKE, np.random.default_rng(0), runs=4, steps=60_000,
                                n_evals=1)
    assert res["q_learning"].eval_values[-1].mean() >= 0.72


def test_run_quick_writes_figures(tmp_path):
    numbers = run(tmp_path, quick=True)
    names = {p.name for p in tmp_path.glob("*.png")}
    assert names == {"cliff_walking_fig6_4.png", "cliff_walking_greedy_paths.png",
                     "maximization_bias_fig6_5.png", "taxi_frozenlake_learning_curves.png",
                     "frozenlake_q_learning_values.png"}
    assert numbers["cliff_q_learning_greedy_return"] == -13
