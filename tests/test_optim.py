"""Optimizers: trajectories vs the published update rules (NumPy, here) and vs torch.optim when installed;
dtype preservation, param groups, zero_grad, closures and state_dict round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import LBFGS, SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

# A small least-squares problem: loss(x) = mean((A x - b)^2), grad = 2 A^T (A x - b) / m.
RNG = np.random.default_rng(0)
A = RNG.standard_normal((8, 5))
B = RNG.standard_normal(8)
X0 = RNG.standard_normal(5)
STEPS = 6


def np_grad(x: np.ndarray) -> np.ndarray:
    return 2.0 * A.T @ (A @ x - B) / A.shape[0]


def run_minigrad(make_opt, steps=STEPS, dtype=np.float64, x0=X0):
    """Trajectory of x under a minigrad optimizer (gradients from autograd)."""
    x = mg.tensor(x0.astype(dtype), requires_grad=True)
    a, b = mg.tensor(A.astype(dtype)), mg.tensor(B.astype(dtype))
    opt = make_opt([x])
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((a @ x - b) ** 2).mean()
        loss.backward()
        opt.step()
        traj.append(x.numpy().copy())
    return np.array(traj), opt, x


# --- reference update rules (the formulas of the papers / PyTorch docs) ------------------------------------
def ref_sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    x, buf, traj = X0.copy(), None, []
    for _ in range(STEPS):
        g = np_grad(x)
        if maximize:
            g = -g
        g = g + weight_decay * x
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        x = x - lr * g
        traj.append(x)
    return np.array(traj)


def ref_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False,
             maximize=False):
    b1, b2 = betas
    x, m, v, vmax, traj = X0.copy(), np.zeros(5), np.zeros(5), np.zeros(5), []
    for t in range(1, STEPS + 1):
        g = np_grad(x)
        if maximize:
            g = -g
        if decoupled:
            x = x * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1 ** t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            vhat = vmax / (1 - b2 ** t)
        else:
            vhat = v / (1 - b2 ** t)
        x = x - lr * mhat / (np.sqrt(vhat) + eps)
        traj.append(x)
    return np.array(traj)


def ref_rmsprop(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    x, s, a, buf, traj = X0.copy(), np.zeros(5), np.zeros(5), np.zeros(5), []
    for _ in range(STEPS):
        g = np_grad(x) + weight_decay * x
        s = alpha * s + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            d = np.sqrt(s - a * a) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum:
            buf = momentum * buf + g / d
            x = x - lr * buf
        else:
            x = x - lr * g / d
        traj.append(x)
    return np.array(traj)


def ref_adagrad(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    x, s, traj = X0.copy(), np.full(5, initial_accumulator_value), []
    for t in range(1, STEPS + 1):
        g = np_grad(x) + weight_decay * x
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        x = x - clr * g / (np.sqrt(s) + eps)
        traj.append(x)
    return np.array(traj)


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    x, s, u, traj = X0.copy(), np.zeros(5), np.zeros(5), []
    for _ in range(STEPS):
        g = np_grad(x)
        if maximize:
            g = -g
        g = g + weight_decay * x
        s = rho * s + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(s + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        x = x - lr * delta
        traj.append(x)
    return np.array(traj)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, betas=(0.8, 0.9), weight_decay=0.05)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1, eps=1e-3, maximize=True)),
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=2.0, rho=0.95, maximize=True)),
]
OPTS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad,
        "Adadelta": Adadelta}


def reference(name, kw):
    if name == "SGD":
        return ref_sgd(**kw)
    if name in ("Adam", "AdamW"):
        kw = dict(kw)
        if name == "AdamW":
            kw.setdefault("weight_decay", 1e-2)
        return ref_adam(decoupled=name == "AdamW", **kw)
    if name == "RMSprop":
        return ref_rmsprop(**kw)
    if name == "Adadelta":
        return ref_adadelta(**kw)
    return ref_adagrad(**kw)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_update_rule(name, kw):
    traj, _, _ = run_minigrad(lambda p: OPTS[name](p, **kw))
    np.testing.assert_allclose(traj, reference(name, kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    traj, _, _ = run_minigrad(lambda p: OPTS[name](p, **kw))
    x = torch.tensor(X0, requires_grad=True)
    a, b = torch.tensor(A), torch.tensor(B)
    opt = getattr(torch.optim, name)([x], **kw)
    ref = []
    for _ in range(STEPS):
        opt.zero_grad()
        ((a @ x - b) ** 2).mean().backward()
        opt.step()
        ref.append(x.detach().numpy().copy())
    np.testing.assert_allclose(traj, np.array(ref), rtol=1e-10, atol=1e-12)


def test_optimizers_converge():
    """A long run reaches the least-squares minimum."""
    x_star = np.linalg.lstsq(A, B, rcond=None)[0]
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.05)):
        traj, _, _ = run_minigrad(make, steps=400)
        np.testing.assert_allclose(traj[-1], x_star, atol=1e-3)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_float32_preserved(name, kw):
    traj, opt, x = run_minigrad(lambda p: OPTS[name](p, **kw), steps=3, dtype=np.float32)
    assert x.dtype == np.float32
    for st in opt.state.values():
        for k, v in st.items():
            if hasattr(v, "dtype"):
                assert v.dtype == np.float32, (k, v.dtype)
    # same trajectory as float64 up to float32 rounding
    ref, _, _ = run_minigrad(lambda p: OPTS[name](p, **kw), steps=3)
    np.testing.assert_allclose(traj, ref, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_state_dict_round_trip_continues_identically(name, kw, tmp_path):
    a, b = mg.tensor(A), mg.tensor(B)

    def steps(opt, x, n):
        out = []
        for _ in range(n):
            opt.zero_grad()
            ((a @ x - b) ** 2).mean().backward()
            opt.step()
            out.append(x.numpy().copy())
        return np.array(out)

    x = mg.tensor(X0, requires_grad=True)
    opt = OPTS[name]([x], **kw)
    steps(opt, x, 3)
    mg.save({"x": x, "opt": opt.state_dict()}, tmp_path / "ck.npz")
    after = steps(opt, x, 4)

    ck = mg.load(tmp_path / "ck.npz")
    x2 = mg.tensor(ck["x"].numpy(), requires_grad=True)
    opt2 = OPTS[name]([x2], lr=123.0)  # hyperparameters come back from the state dict
    opt2.load_state_dict(ck["opt"])
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    resumed = steps(opt2, x2, 4)
    np.testing.assert_array_equal(after, resumed)


def test_load_state_dict_copies_and_casts():
    x = mg.tensor(X0, requires_grad=True)
    opt = Adam([x], lr=0.1)
    x.grad = mg.tensor(np_grad(X0))
    opt.step()
    sd = opt.state_dict()
    y = mg.tensor(X0.astype(np.float32), requires_grad=True)
    opt2 = Adam([y], lr=0.1)
    opt2.load_state_dict(sd)
    st = opt2.state[y]
    assert st["exp_avg"].dtype == np.float32 and st["step"] == 1
    assert st["exp_avg"] is not sd["state"][0]["exp_avg"]
    assert isinstance(opt2.param_groups[0]["betas"], tuple)


def test_load_state_dict_mismatch_raises():
    x, y = mg.zeros(3, requires_grad=True), mg.zeros(2, requires_grad=True)
    sd = SGD([x, y], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="parameter groups|parameters"):
        SGD([x], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        SGD([{"params": [x]}, {"params": [y]}], lr=0.1).load_state_dict(sd)


def test_param_groups_and_add_param_group():
    w = mg.tensor(np.ones(3), requires_grad=True)
    b = mg.tensor(np.ones(2), requires_grad=True)
    opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    w.grad, b.grad = mg.tensor(np.ones(3)), mg.tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(w.numpy(), 0.9)
    np.testing.assert_allclose(b.numpy(), 0.5)
    c = mg.tensor(np.ones(4), requires_grad=True)
    opt.add_param_group({"params": c, "lr": 1.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["momentum"] == 0.0
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [w]})
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1], [2]]


def test_zero_grad_and_missing_grads():
    w = mg.tensor(np.ones(3), requires_grad=True)
    v = mg.tensor(np.ones(3), requires_grad=True)  # never gets a gradient: skipped
    opt = Adam([w, v], lr=0.1)
    (w * 2.0).sum().backward()
    opt.step()
    assert v.numpy().tolist() == [1.0, 1.0, 1.0] and v not in opt.state
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and np.all(w.grad.numpy() == 0)
    opt.zero_grad()
    assert w.grad is None


def test_closure_and_errors():
    w = mg.tensor(np.array([3.0]), requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert math.isclose(float(loss), 9.0) and math.isclose(w.item(), 1.5)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        Adam([w], lr=-1.0)
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="betas"):
        Adam([w], betas=(1.0, 0.9))


def test_step_allocates_no_state_per_step():
    """State buffers are allocated once and updated in place."""
    w = mg.tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    opt = Adam([w], lr=0.1, amsgrad=True)
    w.grad = mg.tensor(np.ones(4, dtype=np.float32))
    opt.step()
    bufs = {k: id(v) for k, v in opt.state[w].items() if hasattr(v, "shape")}
    data_id = id(w.array)
    opt.step()
    assert bufs == {k: id(v) for k, v in opt.state[w].items() if hasattr(v, "shape")}
    assert id(w.array) == data_id


def test_cupy_backend(xp, device):
    """Same update on the GPU (skips without CuPy)."""
    x = mg.tensor(X0.astype(np.float32), device=device, requires_grad=True)
    x.grad = mg.tensor(np_grad(X0).astype(np.float32), device=device)
    opt = Adam([x], lr=0.1)
    opt.step()
    assert isinstance(x.array, xp.ndarray) and x.dtype == np.float32
    assert isinstance(opt.state[x]["exp_avg"], xp.ndarray)


# --- version counters, hyper-parameter checks, state-dict shape checks ----------------------------------
def test_step_bumps_parameter_version():
    """An optimizer step changes each updated parameter in place, so its version counter moves."""
    m = mg.nn.Linear(2, 1)
    opt = SGD(m.parameters(), lr=1.0)
    x = mg.tensor(np.ones((3, 2)))
    loss = m(x).sum()
    assert loss is not None
    m.weight.grad = mg.ones(1, 2)
    w0, b0 = m.weight._version, m.bias._version  # initialisation bumped them already
    opt.step()
    assert m.weight._version == w0 + 1
    assert m.bias._version == b0  # no gradient: not updated, not bumped


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_every_optimizer_bumps_versions(name, kw):
    _, _, x = run_minigrad(lambda p: OPTS[name](p, **kw), steps=3)
    assert x._version == 3


def _lbfgs(params, **kw):
    return LBFGS(params, **kw)


ALL_OPTS = dict(OPTS, LBFGS=_lbfgs)
# the hyper-parameters each optimizer validates (NaN must fail the check, like a negative value)
NAN_CASES = [
    ("SGD", "lr", "learning rate"), ("SGD", "momentum", "momentum"), ("SGD", "weight_decay", "weight_decay"),
    ("Adam", "lr", "learning rate"), ("Adam", "eps", "epsilon"), ("Adam", "betas", "betas"),
    ("Adam", "weight_decay", "weight_decay"),
    ("AdamW", "lr", "learning rate"), ("AdamW", "eps", "epsilon"), ("AdamW", "betas", "betas"),
    ("AdamW", "weight_decay", "weight_decay"),
    ("RMSprop", "lr", "learning rate"), ("RMSprop", "eps", "epsilon"), ("RMSprop", "momentum", "momentum"),
    ("RMSprop", "weight_decay", "weight_decay"), ("RMSprop", "alpha", "alpha"),
    ("Adagrad", "lr", "learning rate"), ("Adagrad", "eps", "epsilon"), ("Adagrad", "lr_decay", "lr_decay"),
    ("Adagrad", "weight_decay", "weight_decay"),
    ("Adagrad", "initial_accumulator_value", "initial_accumulator_value"),
    ("Adadelta", "lr", "learning rate"), ("Adadelta", "eps", "epsilon"), ("Adadelta", "rho", "rho"),
    ("Adadelta", "weight_decay", "weight_decay"),
    ("LBFGS", "lr", "learning rate"), ("LBFGS", "tolerance_grad", "tolerance_grad"),
    ("LBFGS", "tolerance_change", "tolerance_change"),
]


@pytest.mark.parametrize("name,param,spelled", NAN_CASES, ids=[f"{n}-{p}" for n, p, _ in NAN_CASES])
@pytest.mark.parametrize("bad", ["nan", "negative"])
def test_invalid_hyperparameters_rejected(name, param, spelled, bad):
    w = mg.zeros(3, requires_grad=True)
    value = float("nan") if bad == "nan" else -0.5
    if param == "betas":
        for betas in ((value, 0.9), (0.9, value)):
            with pytest.raises(ValueError, match=f"{name}: invalid betas"):
                ALL_OPTS[name]([w], betas=betas)
        return
    with pytest.raises(ValueError, match=f"{name}: invalid {spelled}"):
        ALL_OPTS[name]([w], **{param: value})


def test_rho_and_beta_upper_bounds():
    w = mg.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="Adadelta: invalid rho 1.5"):
        Adadelta([w], rho=1.5)
    Adadelta([w], rho=1.0)  # allowed, as in PyTorch


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_load_state_dict_wrong_shapes_raises_at_load(name, kw):
    """State saved for differently shaped parameters fails in load_state_dict, naming index and shapes."""
    _, opt, _ = run_minigrad(lambda p: OPTS[name](p, **kw), steps=2)
    sd = opt.state_dict()
    if not sd["state"]:  # plain SGD keeps no state: nothing to check against
        return
    y = mg.zeros(4, requires_grad=True)
    other = OPTS[name]([y], **kw)
    before = other.state
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(5,\) in the loaded state dict, but "
                                         r"parameter 0 has shape \(4,\)"):
        other.load_state_dict(sd)
    assert other.state is before  # nothing half-loaded


def test_load_state_dict_wrong_shapes_second_parameter():
    w, b = mg.zeros((2, 3), requires_grad=True), mg.zeros(3, requires_grad=True)
    opt = Adam([w, b], lr=0.1)
    w.grad, b.grad = mg.ones((2, 3)), mg.ones(3)
    opt.step()
    sd = opt.state_dict()
    w2, b2 = mg.zeros((2, 3), requires_grad=True), mg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state 'exp_avg' of parameter 1 has shape "
                                         r"\(3,\).*parameter 1 has shape \(2,\)"):
        Adam([w2, b2], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the loaded state dict but 1"):
        Adam([w2], lr=0.1).load_state_dict(sd)
