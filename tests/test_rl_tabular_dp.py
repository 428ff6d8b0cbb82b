"""Dynamic programming and prediction on Sutton & Barto's examples: the book's printed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from rl.tabular import dp, prediction
from rl.tabular.dp import (
    FIG_3_2,
    FIG_3_5,
    FIG_4_1,
    policy_evaluation,
    policy_iteration,
    q_values,
    value_iteration,
)
from rl.tabular.gridworld import EAST, NORTH, SOUTH, WEST, gridworld_3_5, gridworld_4_1
from rl.tabular.mdp import TabularMDP, expected_return
from rl.tabular.prediction import (
    Episodes,
    average_returns,
    batch_limits,
    batch_mc,
    batch_td,
    certainty_equivalence,
    mc,
    nstep_td,
    predictor_example,
    random_walk,
    random_walk_values,
    rms_error,
    sample_episodes,
    td0,
)


def _move(mdp: TabularMDP, s: int, a: int) -> tuple[int, float, bool]:
    s2 = int(np.flatnonzero(mdp.P[s, a])[0])
    assert mdp.P[s, a, s2] == 1.0
    return s2, float(mdp.R[s, a, s2]), bool(mdp.done[s, a, s2])


def test_gridworld_3_5_transitions():
    gw = gridworld_3_5()
    for a in range(4):
        assert _move(gw, 1, a) == (21, 10.0, False)        # A (0,1) -> A' (4,1), +10, whatever the action
        assert _move(gw, 3, a) == (13, 5.0, False)         # B (0,3) -> B' (2,3), +5
    assert _move(gw, 0, NORTH) == (0, -1.0, False)         # off the grid: stay, -1
    assert _move(gw, 0, WEST) == (0, -1.0, False)
    assert _move(gw, 24, SOUTH) == (24, -1.0, False)
    assert _move(gw, 0, EAST) == (1, 0.0, False)           # an ordinary move costs nothing
    assert _move(gw, 12, SOUTH) == (17, 0.0, False)
    assert not gw.terminal_states.any()


def test_gridworld_4_1_transitions():
    gw = gridworld_4_1()
    assert _move(gw, 1, WEST) == (0, -1.0, True)           # into the terminal corner
    assert _move(gw, 1, NORTH) == (1, -1.0, False)         # off the grid: stay, still -1
    assert _move(gw, 5, EAST) == (6, -1.0, False)
    assert _move(gw, 11, SOUTH) == (15, -1.0, True)
    assert np.flatnonzero(gw.terminal_states).tolist() == [0, 15]
    assert gw.p0[[0, 15]].sum() == 0 and np.isclose(gw.p0.sum(), 1)


def test_figure_3_2_and_3_5_to_printed_precision():
    gw = gridworld_3_5()
    V, _ = policy_evaluation(gw, np.full((25, 4), 0.25), 0.9)
    np.testing.assert_array_equal(np.round(V.reshape(5, 5), 1), FIG_3_2)
    vi, pi = value_iteration(gw, 0.9), policy_iteration(gw, 0.9)
    np.testing.assert_array_equal(np.round(vi.V.reshape(5, 5), 1), FIG_3_5)
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-8)
    # Figure 3.5's optimal actions: any at A and B, north or east at (1,0), north or west at (4,4)
    best = q_values(gw, vi.V, 0.9)
    best = best >= best.max(-1, keepdims=True) - 1e-9
    assert best[1].all() and best[3].all()
    assert set(np.flatnonzero(best[5])) == {NORTH, EAST}
    assert set(np.flatnonzero(best[24])) == {NORTH, WEST}


def test_figure_4_1_in_place_and_two_array():
    gw = gridworld_4_1()
    random_pi = np.full((16, 4), 0.25)
    V2, sweeps2 = policy_evaluation(gw, random_pi, 1.0, theta=1e-8)
    V1, sweeps1 = policy_evaluation(gw, random_pi, 1.0, theta=1e-8, in_place=True)
    np.testing.assert_array_equal(np.round(V2.reshape(4, 4)), FIG_4_1)
    np.testing.assert_allclose(V1, V2, atol=1e-5)
    assert sweeps1 < sweeps2                                # in place propagates faster (Section 4.1)
    V3 = np.zeros(16)
    for _ in range(3):                                      # Figure 4.1's k = 3 panel (synchronous sweeps)
        V3 = (random_pi * q_values(gw, V3, 1.0)).sum(-1)
    np.testing.assert_array_equal(np.round(V3.reshape(4, 4), 1),
                                  [[0.0, -2.4, -2.9, -3.0], [-2.4, -2.9, -3.0, -2.9],
                                   [-2.9, -3.0, -2.9, -2.4], [-3.0, -2.9, -2.4, 0.0]])
    vi, pi = value_iteration(gw, 1.0), policy_iteration(gw, 1.0)
    np.testing.assert_allclose(vi.V.reshape(4, 4), -np.array([[0, 1, 2, 3], [1, 2, 3, 2],
                                                                [2, 3, 2, 1], [3, 2, 1, 0]]))
    np.testing.assert_allclose(pi.V, vi.V)


@pytest.mark.parametrize("env_id, optimal, greedy", [("FrozenLake-v1", 0.744, 0.740),
                                                     ("FrozenLake8x8-v1", 0.913, 0.863)])
def test_frozenlake_exact(env_id, optimal, greedy):
    pytest.importorskip("gymnasium")
    mdp = TabularMDP.from_gymnasium(env_id)
    V_H, policies = dp.finite_horizon_optimal(mdp)
    assert round(float(mdp.p0 @ V_H), 3) == optimal
    # the non-stationary optimal policy, evaluated by hand, gives the same number
    V = np.zeros(mdp.n_states)
    for pi in policies[::-1]:
        V = q_values(mdp, V, 1.0)[np.arange(mdp.n_states), pi]
    assert np.isclose(mdp.p0 @ V, mdp.p0 @ V_H)
    vi = value_iteration(mdp, 0.99)
    assert round(expected_return(mdp, vi.policy), 3) == greedy
    pi = policy_iteration(mdp, 0.99)
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-7)
    assert np.isclose(expected_return(mdp, pi.policy), expected_return(mdp, vi.policy))


# ---------------------------------------------------------------------------------------------- prediction

def test_batch_mc_vs_batch_td_example_6_4():
    ep = predictor_example()
    V_mc, V_td = batch_mc(ep, 3), batch_td(ep, 3)
    np.testing.assert_allclose(V_mc, [0.0, 0.75, 0.0], atol=1e-9)
    np.testing.assert_allclose(V_td, [0.75, 0.75, 0.0], atol=1e-9)
    np.testing.assert_allclose(certainty_equivalence(ep, 3), [0.75, 0.75, 0.0], atol=1e-12)


def test_batch_updating_reaches_its_closed_forms_on_random_walk_data():
    ep = sample_episodes(random_walk(5), np.random.default_rng(2), 4 * 20).reshape(4, 20)
    V_td, V_mc = batch_limits(ep, 7, V0=0.5)                    # (4, 21, 7): every prefix of every run
    for run, k in [(0, 1), (1, 5), (3, 20)]:
        data = Episodes(ep.states[run, :k], ep.rewards[run, :k], ep.lengths[run, :k])
        ce, avg = certainty_equivalence(data, 7, V0=0.5), average_returns(data, 7, V0=0.5)
        np.testing.assert_allclose(V_td[run, k], ce, atol=1e-12)
        np.testing.assert_allclose(V_mc[run, k], avg, atol=1e-12)
        np.testing.assert_allclose(batch_td(data, 7, V0=0.5, alpha=0.005), ce, atol=1e-8)
        np.testing.assert_allclose(batch_mc(data, 7, V0=0.5, alpha=0.005), avg, atol=1e-8)
    np.testing.assert_array_equal(V_td[:, 0], 0.5)
    assert not np.allclose(V_td[:, 1:, 1:6], V_mc[:, 1:, 1:6])


def test_random_walk_episodes():
    mdp = random_walk(5)
    np.testing.assert_allclose(random_walk_values(5)[1:6], np.arange(1, 6) / 6)
    np.testing.assert_allclose(random_walk_values(19, -1.0)[1:20], np.arange(1, 20) / 10 - 1)
    ep = sample_episodes(mdp, np.random.default_rng(0), 2000)
    assert (ep.states[:, 0] == 3).all()
    last = ep.states[np.arange(2000), ep.lengths]
    assert np.isin(last, [0, 6]).all()
    np.testing.assert_array_equal(ep.rewards.sum(1), last == 6)       # +1 only on the right exit
    assert abs((last == 6).mean() - 0.5) < 0.04
    assert abs(ep.lengths.mean() - 9.0) < 0.5                          # E[T] from the middle = 3 * 3


def test_monte_carlo_averages_approach_figure_4_1():
    gw = gridworld_4_1()                                  # random policy, starts spread over the 14 cells
    ep = sample_episodes(gw, np.random.default_rng(3), 3000, policy=np.full((16, 4), 0.25))
    assert np.isin(ep.states[np.arange(3000), ep.lengths], [0, 15]).all()
    np.testing.assert_array_equal(ep.rewards.sum(1), -ep.lengths)
    V = average_returns(ep, 16)
    assert np.abs(V.reshape(4, 4) - FIG_4_1).max() < 2.0, V.reshape(4, 4)     # SE about 0.5 here


def test_mc_first_visit_and_every_visit_by_hand():
    # 0 -1-> 1 -2-> 0 -3-> terminal 2, gamma 1: returns G_0 = 6, G_1 = 5, G_2 = 3
    ep = Episodes(np.array([[0, 1, 0, 2]]), np.array([[1.0, 2.0, 3.0]]), np.array([3]))
    first, every = np.zeros((1, 3)), np.zeros((1, 3))
    mc(first, ep, None, first_visit=True, counts=np.zeros((1, 3)))
    mc(every, ep, None, first_visit=False, counts=np.zeros((1, 3)))
    np.testing.assert_allclose(first[0], [6.0, 5.0, 0.0])
    np.testing.assert_allclose(every[0], [4.5, 5.0, 0.0])
    half = np.zeros((1, 3))
    mc(half, ep, 0.5, gamma=0.5)          # G_2 = 3, G_1 = 2 + 1.5, G_0 = 1 + 0.5 * 3.5 = 2.75
    np.testing.assert_allclose(half[0], [1.5 + 0.5 * (2.75 - 1.5), 1.75, 0.0])   # V(0): 3 first, then 2.75


def test_nstep_td_limits_are_td0_and_mc():
    ep = sample_episodes(random_walk(5), np.random.default_rng(1), 8 * 30).reshape(8, 30)
    V0 = np.array([0.3, 0.5, 0.5, 0.5, 0.5, 0.5, -0.2])      # junk in the terminals: must never be used
    Va, Vb, Vc, Vd = (np.tile(V0, (8, 1)) for _ in range(4))
    for k in range(30):
        e = ep.take(k)
        td0(Va, e, 0.1)
        nstep_td(Vb, e, 1, 0.1)
        mc(Vc, e, 0.05)
        nstep_td(Vd, e, 10_000, 0.05)
    np.testing.assert_allclose(Va, Vb, atol=1e-12)
    np.testing.assert_allclose(Vc, Vd, atol=1e-12)
    assert not np.allclose(Va, Vc)


def test_td_beats_mc_on_the_random_walk():
    runs, K = 30, 100
    mdp, truth = random_walk(5), random_walk_values(5)
    ep = sample_episodes(mdp, np.random.default_rng(0), runs * K).reshape(runs, K)
    V0 = np.array([0, 0.5, 0.5, 0.5, 0.5, 0.5, 0])
    V_td = np.tile(V0, (3, runs, 1))
    V_mc = np.tile(V0, (4, runs, 1))
    for k in range(K):
        td0(V_td, ep.take(k), np.array([[0.05], [0.1], [0.15]]))
        mc(V_mc, ep.take(k), np.array([[0.01], [0.02], [0.03], [0.04]]))
    rms_td = rms_error(V_td, truth, np.arange(1, 6)).mean(-1)
    rms_mc = rms_error(V_mc, truth, np.arange(1, 6)).mean(-1)
    assert rms_td.max() < rms_mc.min(), (rms_td, rms_mc)
    assert rms_td.min() < 0.06 and rms_mc.min() < 0.12             # both learn (from 0.236)


@pytest.mark.parametrize("module, pngs", [
    (dp, ["gridworld_3_5", "gridworld_4_1", "frozenlake_dp"]),
    (prediction, ["random_walk_td_mc", "random_walk_batch", "nstep_td_19"])])
def test_run_quick_writes_figures_and_meets_expected(module, pngs, tmp_path):
    if module is dp:
        pytest.importorskip("gymnasium")
    m = module.run(tmp_path, quick=True)
    for name in pngs:
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    for key, (book, tol) in module.EXPECTED.items():
        assert abs(m[key] - book) <= tol, (key, m[key], book)
