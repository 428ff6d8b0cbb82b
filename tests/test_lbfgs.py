"""L-BFGS: iterates vs a dense-matrix BFGS reference (NumPy), the strong-Wolfe line search on 1-D functions,
convergence on Rosenbrock, and trajectories vs torch.optim.LBFGS (both line-search modes) when installed;
float32 survival, state_dict round trips, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import LBFGS
from minigrad.optim.lbfgs import cubic_minimizer, strong_wolfe

RNG = np.random.default_rng(1)
A = RNG.standard_normal((10, 5))
B = RNG.standard_normal(10)
X0 = RNG.standard_normal(5)
FEATS = RNG.standard_normal((30, 3))
LABELS = np.where(FEATS @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.5 * RNG.standard_normal(30) > 0, 1.0, -1.0)


# --- problems, written once for minigrad and torch (same method names) ------------------------------------
def least_squares(params, lib):
    (x,) = params
    a, b = lib.tensor(A), lib.tensor(B)
    return ((a @ x - b) ** 2).mean()


def logistic(params, lib):
    w, bias = params  # w: (1, 3), bias: (1,)
    z = (lib.tensor(FEATS) @ w.T).reshape(-1) + bias
    return (1 + (-(lib.tensor(LABELS) * z)).exp()).log().mean() + 0.01 * (w * w).sum()


def rosenbrock(params, lib):
    (x,) = params
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


PROBLEMS = {
    "least_squares": (least_squares, [X0]),
    "logistic": (logistic, [np.array([[0.1, 0.2, -0.1]]), np.array([0.05])]),
    "rosenbrock": (rosenbrock, [np.array([-1.5, 2.0])]),
}


def trajectory(lib, problem, steps, dtype=np.float64, **kw):
    """Iterates (flattened parameters) after each ``step(closure)``, and the optimizer."""
    fn, inits = PROBLEMS[problem]
    params = [lib.tensor(v.astype(dtype), requires_grad=True) for v in inits]
    opt = (mg.optim.LBFGS if lib is mg else lib.optim.LBFGS)(params, **kw)

    def closure():
        opt.zero_grad()
        loss = fn(params, lib)
        loss.backward()
        return loss

    out = []
    for _ in range(steps):
        opt.step(closure)
        out.append(np.concatenate([p.detach().numpy().reshape(-1) for p in params]))
    return np.array(out), opt, params


# --- the reference: BFGS with a dense inverse Hessian rebuilt from the stored pairs ----------------------
def np_grad(x):
    return 2.0 * A.T @ (A @ x - B) / A.shape[0]


def ref_lbfgs_fixed_step(lr, iters, history):
    """L-BFGS without line search, one iteration per step, H from the pairs by the BFGS update formula
    ``H <- V^T H V + rho s s^T`` (``V = I - rho y s^T``) starting from ``gamma I`` (N&W eq. 7.19-7.20)."""
    n = X0.size
    x, pairs, gamma, out = X0.copy(), [], 1.0, []
    g = np_grad(x)
    d, t = -g, min(1.0, 1.0 / np.abs(g).sum()) * lr
    x = x + t * d
    out.append(x)
    for _ in range(iters - 1):
        g_new = np_grad(x)
        y, s = g_new - g, t * d
        if y @ s > 1e-10:
            pairs = (pairs + [(s, y)])[-history:]
            gamma = (s @ y) / (y @ y)
        H = gamma * np.eye(n)
        for s_i, y_i in pairs:
            rho = 1.0 / (y_i @ s_i)
            V = np.eye(n) - rho * np.outer(y_i, s_i)
            H = V.T @ H @ V + rho * np.outer(s_i, s_i)
        d, g, t = -H @ g_new, g_new, lr
        x = x + t * d
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("history", [100, 2])
@pytest.mark.parametrize("lr", [1.0, 0.3])
def test_fixed_step_matches_dense_bfgs(lr, history):
    traj, opt, _ = trajectory(mg, "least_squares", 8, lr=lr, max_iter=1, history_size=history,
                              tolerance_grad=0.0, tolerance_change=0.0)
    np.testing.assert_allclose(traj, ref_lbfgs_fixed_step(lr, 8, history), rtol=1e-9, atol=1e-11)
    st = opt.state[opt.param_groups[0]["params"][0]]
    assert st["n_iter"] == 8 and len(st["old_dirs"]) == min(history, 7)


def test_first_step_is_scaled_gradient_descent():
    traj, opt, (x,) = trajectory(mg, "least_squares", 1, lr=0.5, max_iter=1)
    g = np_grad(X0)
    np.testing.assert_allclose(traj[0], X0 - min(1.0, 1.0 / np.abs(g).sum()) * 0.5 * g, rtol=1e-12)
    st = opt.state[x]
    assert st["func_evals"] == 1 and st["n_iter"] == 1 and st["old_dirs"] == []


def test_max_iter_and_max_eval():
    _, opt, (x,) = trajectory(mg, "least_squares", 1, max_iter=7)
    assert opt.state[x]["n_iter"] == 7 and opt.state[x]["func_evals"] == 7  # the last iterate isn't evaluated
    _, opt, (x,) = trajectory(mg, "least_squares", 1, max_iter=50, max_eval=4)
    assert opt.state[x]["func_evals"] == 4
    assert opt.param_groups[0]["max_eval"] == 4
    assert LBFGS([mg.zeros(2, requires_grad=True)], max_iter=8).param_groups[0]["max_eval"] == 10


def test_quadratic_solved_with_line_search():
    """On a convex quadratic L-BFGS with the strong-Wolfe line search finds the least-squares solution."""
    traj, _, _ = trajectory(mg, "least_squares", 2, line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                            tolerance_change=1e-14)
    np.testing.assert_allclose(traj[-1], np.linalg.lstsq(A, B, rcond=None)[0], atol=1e-8)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_reaches_rosenbrock_minimum(line_search):
    steps, lr = (6, 1.0) if line_search else (10, 1.0)
    traj, opt, (x,) = trajectory(mg, "rosenbrock", steps, lr=lr, max_iter=50, line_search_fn=line_search,
                                 tolerance_change=1e-12)
    np.testing.assert_allclose(traj[-1], [1.0, 1.0], atol=1e-4)
    assert float(rosenbrock([x], mg)) < 1e-8


# --- the line search on its own ----------------------------------------------------------------------------
def test_cubic_minimizer():
    # f(x) = (x - 1)^3 - 3 (x - 1) + 2 ... a cubic with a local minimum at x = 2
    f = lambda x: (x - 1) ** 3 - 3 * (x - 1)  # noqa: E731
    df = lambda x: 3 * (x - 1) ** 2 - 3  # noqa: E731
    assert math.isclose(cubic_minimizer(1.5, f(1.5), df(1.5), 3.0, f(3.0), df(3.0)), 2.0, rel_tol=1e-12)
    assert math.isclose(cubic_minimizer(3.0, f(3.0), df(3.0), 1.5, f(1.5), df(1.5)), 2.0, rel_tol=1e-12)
    # clipped to the bounds; no real minimizer -> the bounds' midpoint
    assert cubic_minimizer(1.5, f(1.5), df(1.5), 3.0, f(3.0), df(3.0), bounds=(2.5, 4.0)) == 2.5
    assert cubic_minimizer(0.0, 0.0, 1.0, 1.0, 2.0 / 3.0, 1.0, bounds=(0.0, 1.0)) == 0.5  # monotonic


@pytest.mark.parametrize("t0", [1e-3, 1.0, 30.0])
def test_strong_wolfe_conditions_hold(t0):
    """phi(t) = f(x + t d) for f(x) = x^4 / 4 - x along d = 1 from x = -1: the returned step meets both
    strong Wolfe conditions (from a tiny, a moderate and a far too long first trial)."""
    c1, c2 = 1e-4, 0.9
    x0, d = np.array([-1.0]), np.array([1.0])

    def evaluate(t):
        x = x0 + t * d
        return float(x[0] ** 4 / 4 - x[0]), x ** 3 - 1

    f0, g0 = evaluate(0.0)
    gtd = float(g0 @ d)
    f, g, t, evals = strong_wolfe(evaluate, t0, d, f0, g0, gtd, c1=c1, c2=c2)
    assert f <= f0 + c1 * t * gtd
    assert abs(float(g @ d)) <= -c2 * gtd
    assert (f, float(g[0])) == evaluate(t)
    assert 1 <= evals <= 25


# --- the oracle -------------------------------------------------------------------------------------------
# Rosenbrock's curved valley amplifies last-bit differences of the two autograds' gradients (1e-13 after a
# few iterations, 1e-8 after ~100), so those runs are kept short; both libraries still reach (1, 1).
ORACLE = [
    ("rosenbrock", dict(lr=0.1), 5),
    ("rosenbrock", dict(line_search_fn="strong_wolfe"), 4),
    ("rosenbrock", dict(lr=1.0, max_iter=5, history_size=3), 6),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=4, history_size=2), 5),
    ("least_squares", dict(lr=0.5, max_iter=4), 5),
    ("least_squares", dict(line_search_fn="strong_wolfe", max_iter=3), 3),
    ("logistic", dict(lr=1.0, max_iter=5), 4),
    ("logistic", dict(line_search_fn="strong_wolfe", max_iter=5, max_eval=9), 4),
]


@pytest.mark.parametrize("problem,kw,steps", ORACLE, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(ORACLE)])
def test_matches_torch(problem, kw, steps):
    torch = pytest.importorskip("torch")
    ours, opt, params = trajectory(mg, problem, steps, **kw)
    theirs, topt, tparams = trajectory(torch, problem, steps, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    st, tst = opt.state[params[0]], topt.state[tparams[0]]
    assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
    assert len(st["old_dirs"]) == len(tst["old_dirs"])
    np.testing.assert_allclose(st["d"], tst["d"].numpy(), rtol=1e-6, atol=1e-10)
    assert math.isclose(st["H_diag"], float(tst["H_diag"]), rel_tol=1e-6)


# --- dtype, state, versions, errors ----------------------------------------------------------------------
@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_float32_preserved(line_search):
    traj, opt, params = trajectory(mg, "logistic", 3, dtype=np.float32, line_search_fn=line_search,
                                   max_iter=5)
    for p in params:
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
    st = opt.state[params[0]]
    for key in ("d", "prev_flat_grad"):
        assert st[key].dtype == np.float32, key
    assert st["old_dirs"] and all(v.dtype == np.float32 for v in st["old_dirs"] + st["old_stps"])
    ref, _, _ = trajectory(mg, "logistic", 3, line_search_fn=line_search, max_iter=5)
    np.testing.assert_allclose(traj, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_identically(line_search, tmp_path):
    fn, inits = PROBLEMS["logistic"]

    def setup():
        params = [mg.tensor(v.copy(), requires_grad=True) for v in inits]
        return params, LBFGS(params, lr=0.8, max_iter=3, line_search_fn=line_search)

    def run(opt, params, n):
        def closure():
            opt.zero_grad()
            loss = fn(params, mg)
            loss.backward()
            return loss

        out = []
        for _ in range(n):
            opt.step(closure)
            out.append(np.concatenate([p.numpy().reshape(-1) for p in params]))
        return np.array(out)

    params, opt = setup()
    run(opt, params, 2)
    mg.save({"params": [p.detach() for p in params], "opt": opt.state_dict()}, tmp_path / "ck.npz")
    after = run(opt, params, 3)
    ck = mg.load(tmp_path / "ck.npz")
    params2, opt2 = setup()
    for p, saved in zip(params2, ck["params"]):
        p.array[...] = saved.array
    opt2.load_state_dict(ck["opt"])
    np.testing.assert_array_equal(after, run(opt2, params2, 3))


def test_load_state_dict_wrong_sizes_raises():
    _, opt, _ = trajectory(mg, "logistic", 1, max_iter=3)
    sd = opt.state_dict()
    params = [mg.zeros((1, 4), dtype=mg.float64, requires_grad=True), mg.zeros(1, dtype=mg.float64,
                                                                                requires_grad=True)]
    with pytest.raises(ValueError, match=r"LBFGS.load_state_dict: state '.*' of parameter 0 has shape \(4,\) "
                                         r"in the loaded state dict, but the optimizer expects \(5,\)"):
        LBFGS(params).load_state_dict(sd)


def test_versions_bumped():
    _, opt, (x,) = trajectory(mg, "least_squares", 1, max_iter=4)
    assert x._version == opt.state[x]["n_iter"] == 4
    _, _, (x,) = trajectory(mg, "least_squares", 1, max_iter=1, line_search_fn="strong_wolfe")
    assert x._version >= 3  # each trial point moves and restores x, then the accepted step


def test_errors():
    w = mg.zeros(3, requires_grad=True)
    opt = LBFGS([w])
    with pytest.raises(RuntimeError, match="LBFGS.step: a closure"):
        opt.step()
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [w]}, {"params": [mg.zeros(2, requires_grad=True)]}])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [mg.zeros(2, requires_grad=True)]})
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="LBFGS: invalid max_iter 0"):
        LBFGS([w], max_iter=0)
    with pytest.raises(ValueError, match="LBFGS: invalid history_size"):
        LBFGS([w], history_size=2.5)


def test_optimal_start_returns_without_moving():
    x = mg.tensor(np.linalg.lstsq(A, B, rcond=None)[0], requires_grad=True)
    opt = LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = least_squares([x], mg)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, mg.Tensor) and x._version == 0 and opt.state[x]["n_iter"] == 0


def test_parameter_without_gradient_stays_put():
    x, unused = mg.tensor(X0.copy(), requires_grad=True), mg.tensor(np.ones(3), requires_grad=True)
    opt = LBFGS([unused, x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = least_squares([x], mg)
        loss.backward()
        return loss

    opt.step(closure)
    assert unused.numpy().tolist() == [1.0, 1.0, 1.0]
    assert opt.state[unused]["d"].shape == (8,)  # the state lives with the first parameter, flat
    np.testing.assert_allclose(x.numpy(), np.linalg.lstsq(A, B, rcond=None)[0], atol=1e-4)
