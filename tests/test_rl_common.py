"""The RL plumbing: returns and GAE (truncation vs termination), buffers, environments and their
normalisation, evaluation, logging, seeding, checkpoints and resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from rl.common.args import parse_args, run_dir  # noqa: E402
from rl.common.buffers import ReplayBuffer, RolloutBuffer  # noqa: E402
from rl.common.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from rl.common.envs import (  # noqa: E402
    RunningMeanStd,
    VecNormalize,
    finished_episodes,
    make_vec_env,
    real_next_obs,
)
from rl.common.evaluate import evaluate, record_gif  # noqa: E402
from rl.common.logger import RunLogger, read_metrics  # noqa: E402
from rl.common.returns import discounted_returns, gae  # noqa: E402
from rl.common.seeding import seed_everything  # noqa: E402


# ---- returns ----------------------------------------------------------------------------------
def test_rewards_to_go_credit_assignment():
    # the seed's example: rewards (+5, 0, -2) give rewards-to-go (3, -2, -2)
    np.testing.assert_allclose(discounted_returns([5, 0, -2], gamma=1.0), [3, -2, -2])
    np.testing.assert_allclose(discounted_returns([1, 1, 1], gamma=0.5), [1.75, 1.5, 1.0])
    two = discounted_returns(np.array([[5, 1], [0, 1], [-2, 1]]), gamma=1.0)
    np.testing.assert_allclose(two, [[3, 3], [-2, 2], [-2, 1]])


def _gae_by_hand(r, v, v_next, term, end, gamma, lam):
    adv, a = [], 0.0
    for t in reversed(range(len(r))):
        delta = r[t] + gamma * (0.0 if term[t] else v_next[t]) - v[t]
        a = delta + (0.0 if end[t] else gamma * lam * a)
        adv.append(a)
    return np.array(adv[::-1])


def test_gae_truncation_bootstraps_termination_does_not():
    r = np.array([[1.0], [1.0], [1.0]])
    v = np.array([[0.5], [0.4], [0.3]])
    v_next = np.array([[0.4], [5.0], [0.2]])      # step 1 ended; 5.0 = V(final obs) of that episode
    ended = np.array([[0], [1], [0]])
    adv_term, _ = gae(r, v, v_next, terminated=ended, episode_end=ended, gamma=0.9, lam=0.8)
    adv_trunc, ret = gae(r, v, v_next, terminated=0 * ended, episode_end=ended, gamma=0.9, lam=0.8)
    # terminated: the target at step 1 is r alone; truncated: r + gamma V(s_final)
    assert adv_term[1, 0] == pytest.approx(1.0 - 0.4)
    assert adv_trunc[1, 0] == pytest.approx(1.0 + 0.9 * 5.0 - 0.4)
    # and the advantage never leaks across the episode boundary into step 0's sum beyond step 1
    np.testing.assert_allclose(adv_trunc[:, 0], _gae_by_hand(r[:, 0], v[:, 0], v_next[:, 0], [0, 0, 0],
                                                            [0, 1, 0], 0.9, 0.8))
    np.testing.assert_allclose(ret, adv_trunc + v)


def test_gae_limits():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    v_next = np.concatenate([v[1:], rng.normal(size=(1, 2))])
    zeros = np.zeros((6, 2))
    td, _ = gae(r, v, v_next, zeros, zeros, gamma=0.9, lam=0.0)
    np.testing.assert_allclose(td, r + 0.9 * v_next - v)              # lam = 0: the TD error
    mc, ret = gae(r, v, v_next, zeros, zeros, gamma=0.9, lam=1.0)
    bootstrapped = r.copy()
    bootstrapped[-1] += 0.9 * v_next[-1]
    np.testing.assert_allclose(ret, discounted_returns(bootstrapped, 0.9))   # lam = 1: MC returns


def test_rollout_buffer_uses_final_value_on_truncation():
    buf = RolloutBuffer(n_steps=3, n_envs=2, obs_shape=(1,))
    final = np.array([7.0, 0.0])
    for t in range(3):
        trunc = np.array([t == 1, False])
        term = np.array([False, t == 0])
        buf.add(np.zeros((2, 1)), np.zeros(2), np.zeros(2), np.ones(2), np.full(2, 0.5 - 0.1 * t),
                term, trunc, final if t == 1 else None)
    adv, ret = buf.compute_advantages(last_values=np.array([2.0, 3.0]), gamma=0.9, lam=0.95)
    v = buf.values
    # env 0: truncated at t=1 -> bootstraps 7.0 there, then a new episode bootstraps the last value 2.0
    want0 = _gae_by_hand([1, 1, 1], v[:, 0], [v[1, 0], 7.0, 2.0], [0, 0, 0], [0, 1, 0], 0.9, 0.95)
    # env 1: terminated at t=0 -> no bootstrap there
    want1 = _gae_by_hand([1, 1, 1], v[:, 1], [v[1, 1], v[2, 1], 3.0], [1, 0, 0], [1, 0, 0], 0.9, 0.95)
    np.testing.assert_allclose(adv[:, 0], want0, rtol=1e-6)
    np.testing.assert_allclose(adv[:, 1], want1, rtol=1e-6)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6)
    with pytest.raises(IndexError, match="RolloutBuffer.add"):
        buf.add(np.zeros((2, 1)), np.zeros(2), np.zeros(2), np.ones(2), np.zeros(2), term, trunc)


# ---- replay buffer ------------------------------------------------------------------------------
def test_replay_buffer_ring_and_sampling():
    buf = ReplayBuffer(5, obs_shape=(2,))
    for k in range(3):      # 3 adds of 2 envs: 6 transitions into 5 slots
        obs = np.full((2, 2), k, np.float32) + np.array([[0], [0.5]])
        buf.add(obs, np.array([k, k]), np.array([k, -k]), obs + 1, np.array([0, 1]))
    assert len(buf) == 5 and buf.pos == 1
    assert buf.obs[0, 0] == 2.5          # the oldest transition was overwritten
    batch = buf.sample(64, np.random.default_rng(0))
    assert batch.obs.shape == (64, 2) and batch.actions.shape == (64,) and batch.terminated.shape == (64,)
    np.testing.assert_array_equal(batch.next_obs, batch.obs + 1)
    state = buf.state_dict()
    other = ReplayBuffer(5, obs_shape=(2,))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.get(np.arange(5)).obs, buf.get(np.arange(5)).obs)
    assert other.pos == buf.pos
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, (1,)).sample(1, np.random.default_rng(0))


def test_time_limit_truncation_reaches_the_buffer_as_a_bootstrapping_transition():
    """CartPole cut at 5 steps: truncated, not terminated, and s' is the real last observation."""
    envs = make_vec_env("CartPole-v1", n_envs=2, seed=0, max_episode_steps=5)
    buf = ReplayBuffer(100, obs_shape=(4,))
    obs, _ = envs.reset(seed=0)
    for _ in range(5):
        next_obs, r, term, trunc, info = envs.step(np.zeros(2, np.int64) + [0, 1])
        s2 = real_next_obs(next_obs, term | trunc, info)
        buf.add(obs, np.array([0, 1]), r, s2, term)
        obs = next_obs
    assert trunc.all() and not term.any()
    assert [length for _, length in finished_episodes(info)] == [5, 5]
    assert not np.allclose(s2, next_obs)              # next_obs already starts the next episode
    np.testing.assert_allclose(s2, np.stack(info["final_obs"]))
    assert buf.terminated[:10].sum() == 0             # every stored transition bootstraps
    envs.close()


# ---- normalisation ------------------------------------------------------------------------------
def test_running_mean_std_merges_batches_exactly():
    rng = np.random.default_rng(1)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    rms = RunningMeanStd((3,), epsilon=0.0)
    for chunk in np.array_split(data, 7):
        rms.update(chunk)
    np.testing.assert_allclose(rms.mean, data.mean(0))
    np.testing.assert_allclose(rms.var, data.var(0))


def test_vec_normalize_learns_freezes_and_saves():
    envs = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0), gamma=0.99)
    obs, _ = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        obs, r, term, trunc, info = envs.step(rng.integers(2, size=2))
        if "final_obs" in info:
            done = np.flatnonzero(info["_final_obs"])
            assert np.abs(np.stack(info["final_obs"][done])).max() <= envs.clip   # normalised too
    assert np.abs(obs).max() <= envs.clip
    assert np.abs(r).max() < 1.0          # rewards of 1 divided by the std of the return (> 1)
    assert envs.obs_rms.count > 600
    envs.training = False
    frozen = envs.state_dict()
    envs.step(np.zeros(2, np.int64))
    np.testing.assert_array_equal(envs.obs_rms.mean, frozen["obs_rms"]["mean"])
    other = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=5))
    other.load_state_dict(frozen)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(other.normalize(x), envs.normalize(x))
    envs.close()
    other.close()


# ---- evaluation -------------------------------------------------------------------------------
def _lean_right(obs: np.ndarray) -> np.ndarray:
    return (obs[:, 2] > 0).astype(np.int64)     # push towards the side the pole leans to


def test_evaluate_is_seeded_and_counts_episodes(tmp_path):
    a = evaluate(_lean_right, "CartPole-v1", n_episodes=4, seed=3)
    b = evaluate(_lean_right, "CartPole-v1", n_episodes=4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4,) and a.mean() > 30            # the heuristic balances for a while
    assert evaluate(lambda o: np.zeros(1, np.int64), "CartPole-v1", 4, seed=3).mean() < a.mean()
    pytest.importorskip("PIL")
    path = record_gif(_lean_right, "CartPole-v1", tmp_path / "ep.gif", max_frames=20)
    if path is None:
        pytest.skip("CartPole cannot render rgb_array here (pygame missing)")
    from PIL import Image
    with Image.open(path) as im:
        assert 1 < im.n_frames <= 20 and im.width <= 320
        total = 0                        # Pillow merges identical frames and adds up their durations
        for k in range(im.n_frames):
            im.seek(k)
            total += im.info["duration"]
        assert total == 20 * 40          # 25 frames/s: 40 ms, a whole number of GIF centiseconds


# ---- command line, logging, checkpoints -------------------------------------------------------
def test_parse_args_from_dataclass():
    from dataclasses import dataclass, field

    @dataclass
    class Args:
        env_id: str = "CartPole-v1"
        seed: int = 1
        learning_rate: float = field(default=1e-3, metadata={"help": "step size"})
        tensorboard: bool = True
        hidden: list = field(default_factory=lambda: [64, 64])
        run_name: str = ""
        head: str = "none"            # a plain string: "none" stays a string
        limit: int | None = None

    a = parse_args(Args, ["--env-id", "Acrobot-v1", "--learning-rate", "3e-4", "--no-tensorboard",
                          "--hidden", "32", "16"])
    assert (a.env_id, a.seed, a.learning_rate, a.tensorboard, a.hidden) == ("Acrobot-v1", 1, 3e-4, False,
                                                                            [32, 16])
    assert str(run_dir(a, "dqn")) == "runs/dqn_Acrobot-v1_s1"
    assert a.head == "none" and a.limit is None
    assert parse_args(Args, ["--limit", "5"]).limit == 5
    assert parse_args(Args, ["--limit", "none"]).limit is None
    presets = {"Acrobot-v1": {"learning_rate": 0.5, "seed": 9}, "CartPole-v1": {"tensorboard": False}}
    p = parse_args(Args, ["--env-id", "Acrobot-v1", "--seed", "2"], presets=presets)
    assert (p.learning_rate, p.seed) == (0.5, 2)              # the preset's value, unless given explicitly
    assert p.tensorboard                                      # the default env's preset does not leak
    d = parse_args(Args, [], presets=presets)
    assert d.learning_rate == 1e-3 and not d.tensorboard
    with pytest.raises(ValueError, match="unknown fields"):
        parse_args(Args, ["--env-id", "Acrobot-v1"], presets={"Acrobot-v1": {"nope": 1}})
    with pytest.raises(SystemExit):
        parse_args(Args, ["--seed", "x"])


def test_run_logger_writes_its_files(tmp_path):
    log = RunLogger(tmp_path, {"run_name": "t", "lr": 0.1}, total_steps=100, progress=False)
    for step in range(10, 101, 10):
        log.episode(step, float(step), 10)
        log.scalars(step, **{"losses/td_loss": 1.0 / step})
    log.evaluation(100, [90.0, 110.0])
    summary = log.close({"eval_return_mean": 100.0})
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [r["charts/episodic_return"] for r in rows if "charts/episodic_return" in r] == list(
        map(float, range(10, 101, 10)))
    assert rows[-1]["eval/return_std"] == 10.0
    assert json.loads((tmp_path / "summary.json").read_text())["final"] == summary["final"]
    assert (tmp_path / "curves.png").stat().st_size > 1000
    with open(tmp_path / "metrics.csv") as f:
        assert next(csv.reader(f))[0] == "step"
    if pytest.importorskip("tensorboardX", reason="no TensorBoard writer") is not None:
        assert list(tmp_path.glob("events.out.tfevents.*"))


def test_checkpoint_round_trip_restores_arrays_and_random_streams(tmp_path):
    rng = seed_everything(7)
    q = np.arange(6.0).reshape(2, 3)
    buf = ReplayBuffer(4, (1,))
    buf.add(np.ones((2, 1)), np.array([1, 2]), np.array([0.5, 0.5]), np.ones((2, 1)), np.array([0, 1]))
    save_checkpoint(tmp_path / "c.ckpt", 123, {"q": q, "buffer": buf}, rng, extra={"note": "x"})
    expected = rng.random(3)
    q2, buf2, rng2 = np.zeros((2, 3)), ReplayBuffer(4, (1,)), np.random.default_rng(0)
    step, extra = load_checkpoint(tmp_path / "c.ckpt", {"q": q2, "buffer": buf2}, rng2)
    assert step == 123 and extra == {"note": "x"}
    np.testing.assert_array_equal(q2, q)
    np.testing.assert_array_equal(rng2.random(3), expected)
    assert len(buf2) == 2
    with pytest.raises(KeyError, match="no state for"):
        load_checkpoint(tmp_path / "c.ckpt", {"policy": q2})
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(tmp_path / "c.ckpt", {"q": np.zeros(3)})


# ---- an algorithm end to end: seeding and resume ------------------------------------------------
def _q_learning(tmp_path, name, *extra):
    from rl import q_learning

    final = q_learning.main(["--env-id", "FrozenLake-v1", "--total-timesteps", "4000", "--eval-every", "2000",
                             "--eval-episodes", "20", "--checkpoint-every", "2000", "--no-tensorboard",
                             "--no-gif", "--no-progress", "--out-dir", str(tmp_path), "--run-name", name,
                             *extra])
    return final, read_metrics(tmp_path / name / "metrics.csv")


def test_same_seed_same_curve(tmp_path):
    _, a = _q_learning(tmp_path, "a")
    _, b = _q_learning(tmp_path, "b")
    _, c = _q_learning(tmp_path, "c", "--seed", "2")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "charts/SPS"} for r in rows]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_resume_continues_from_the_checkpoint(tmp_path):
    final, rows = _q_learning(tmp_path, "r")
    assert final["env_steps"] == 4000 and set(final) >= {"eval_return_mean", "eval_return_std",
                                                         "eval_episodes", "seconds", "steps_per_second"}
    assert 0.0 <= final["exact_greedy_return"] <= 0.75
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"metrics.csv", "curves.png", "summary.json", "last.ckpt", "q_table.png"} <= files
    # extend the finished run: it restarts at step 4000, keeps the rows before it and adds the rest
    final2, rows2 = _q_learning(tmp_path, "r", "--resume", "--total-timesteps", "6000")
    assert final2["env_steps"] == 2000
    assert [r for r in rows2 if r["step"] <= 4000] == rows
    assert max(r["step"] for r in rows2) == 6000


def test_benchmark_runs_seeds_and_summarises(tmp_path):
    from rl import benchmark

    runs = ["--", "--total-timesteps", "3000", "--eval-every", "1000", "--eval-episodes", "10", "--no-gif",
            "--no-tensorboard"]
    result = benchmark.main(["q_learning", "--env-id", "FrozenLake-v1", "--seeds", "2",
                             "--out", str(tmp_path), *runs])
    folder = tmp_path / "q_learning_FrozenLake-v1"
    per_seed = [result["per_seed"][s]["eval_return_mean"] for s in ("1", "2")]
    assert result["eval_return_mean"] == pytest.approx(np.mean(per_seed))
    assert result["eval_return_std_across_seeds"] == pytest.approx(np.std(per_seed))
    assert result["env_steps"] == 3000
    # the stochastic policy's training return: the last 10 logged episodes of each seed
    from rl.common.logger import EPISODE_RETURN, column, read_metrics
    last = [np.mean(column(read_metrics(folder / f"s{s}" / "metrics.csv"), EPISODE_RETURN)[1][-10:])
            for s in (1, 2)]
    assert result["training_return_last_mean"] == pytest.approx(np.mean(last))
    table = (folder / "benchmark.md").read_text()
    assert "| 1 |" in table and "| 2 |" in table and "mean ± std across seeds" in table
    assert (folder / "curves.png").stat().st_size > 1000
    steps, values, kind = benchmark.seed_curve(folder / "s1")
    assert list(steps) == [1000, 2000, 3000] and kind == "evaluation return"
    # a finished seed is read back, not rerun
    mtime = (folder / "s1" / "summary.json").stat().st_mtime
    benchmark.main(["q_learning", "--env-id", "FrozenLake-v1", "--seeds", "2", "--out", str(tmp_path)])
    assert (folder / "s1" / "summary.json").stat().st_mtime == mtime


def test_frame_stacking_and_episode_statistics():
    envs = make_vec_env("CartPole-v1", n_envs=3, seed=4, frame_stack=4)
    obs, _ = envs.reset(seed=4)
    assert obs.shape == (3, 4, 4)
    np.testing.assert_array_equal(obs[:, 0], obs[:, 3])     # gymnasium pads with the first observation
    obs2, *_ = envs.step(np.ones(3, np.int64))
    np.testing.assert_array_equal(obs2[:, 2], obs[:, 3])          # the window slides by one frame
    envs.close()


# ---- prioritised replay and n-step returns ------------------------------------------------------
def test_sum_tree_sums_and_finds():
    from rl.common.buffers import SumTree

    tree = SumTree(5)                       # rounded up to 8 leaves
    tree.update(np.arange(5), np.array([1.0, 2.0, 3.0, 0.0, 4.0]))
    assert tree.total == 10.0
    # prefix sums: [0,1) -> 0, [1,3) -> 1, [3,6) -> 2, [6,10) -> 4 (leaf 3 has priority 0)
    np.testing.assert_array_equal(tree.find(np.array([0.0, 0.99, 1.0, 2.9, 3.0, 5.99, 6.0, 9.99])),
                                  [0, 0, 1, 1, 2, 2, 4, 4])
    tree.update(np.array([4]), np.array([0.5]))
    assert tree.total == 6.5


def test_prioritized_replay_draws_in_proportion_and_weights_undo_it():
    from rl.common.buffers import PrioritizedReplayBuffer

    buf = PrioritizedReplayBuffer(4, obs_shape=(1,), alpha=1.0, eps=0.0)
    buf.add(np.arange(4.0)[:, None], np.zeros(4), np.zeros(4), np.zeros((4, 1)), np.zeros(4))
    buf.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    rng = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(200):
        b = buf.sample(50, rng, beta=1.0)
        counts += np.bincount(b.indices, minlength=4)
        # beta = 1: w_i proportional to 1 / P(i), normalised by the largest
        np.testing.assert_allclose(b.weights, (b.indices.min() + 1.0) / (b.indices + 1.0), rtol=1e-6)
    np.testing.assert_allclose(counts / counts.sum(), [0.1, 0.2, 0.3, 0.4], atol=0.01)
    # a new transition gets the largest priority seen so far
    buf2 = PrioritizedReplayBuffer(8, obs_shape=(1,), alpha=1.0, eps=0.0)
    buf2.add(np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros((1, 1)), np.zeros(1))
    buf2.update_priorities(np.array([0]), np.array([5.0]))
    buf2.add(np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros((1, 1)), np.zeros(1))
    assert buf2.tree[np.array([1])][0] == 5.0


def test_n_step_returns_stop_at_termination_and_bootstrap_after_truncation():
    from rl.common.buffers import NStepReturns

    ns = NStepReturns(n=3, gamma=0.5, n_envs=2)
    out = []
    rewards = [(1.0, 10.0), (2.0, 20.0), (4.0, 40.0), (8.0, 80.0)]
    for t, (r0, r1) in enumerate(rewards):
        term = np.array([t == 3, False])       # env 0 terminates at t = 3
        trunc = np.array([False, t == 1])      # env 1 is truncated at t = 1
        got = ns.push(np.array([[t], [100 + t]]), np.array([t, t]), np.array([r0, r1]),
                      np.array([[t + 1], [100 + t + 1]]), term, trunc)
        if got is not None:
            out += list(zip(*got))
    rows = {(int(o[0]), int(k)): (float(r), int(o2[0]), float(d)) for o, a, r, o2, d, k in out}
    # env 0: full 3-step windows, then the tail flushed at termination (no bootstrap)
    assert rows[(0, 3)] == (1 + 0.5 * 2 + 0.25 * 4, 3, 0.0)
    assert rows[(1, 3)] == (2 + 0.5 * 4 + 0.25 * 8, 4, 1.0)
    assert rows[(2, 2)] == (4 + 0.5 * 8, 4, 1.0) and rows[(3, 1)] == (8.0, 4, 1.0)
    # env 1: truncated after 2 steps: both partial windows end at s_final and keep bootstrapping
    assert rows[(100, 2)] == (10 + 0.5 * 20, 102, 0.0) and rows[(101, 1)] == (20.0, 102, 0.0)
    # after the truncation env 1 starts afresh: t = 2, 3 are pending, not yet 3 long
    assert len(ns.pending[1]) == 2
    with pytest.raises(ValueError):
        NStepReturns(0, 0.9, 1)


def test_record_gif_warns_and_writes_nothing_where_the_env_cannot_render(tmp_path):
    import gymnasium as gym

    class NoContext(gym.Env):        # as MuJoCo without an OpenGL context: render() raises
        observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        action_space = gym.spaces.Discrete(2)
        metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

        def __init__(self, render_mode=None):
            self.render_mode = render_mode

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            return np.zeros(2, np.float32), {}

        def step(self, action):
            return np.zeros(2, np.float32), 1.0, True, False, {}

        def render(self):
            raise RuntimeError("an OpenGL platform library has not been loaded")

    gym.register("NoContextRender-v0", entry_point=NoContext)
    try:
        with pytest.warns(RuntimeWarning, match="NoContextRender-v0 cannot render"):
            out = record_gif(lambda o: np.zeros(len(o), np.int64), "NoContextRender-v0", tmp_path / "e.gif")
        assert out is None and not (tmp_path / "e.gif").exists()
    finally:
        gym.registry.pop("NoContextRender-v0")
