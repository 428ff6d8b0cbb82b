"""LR schedulers: lr sequences vs torch.optim.lr_scheduler (when installed) and vs closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import SGD, lr_scheduler

N = 25

CONFIGS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 11], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=6)),
    ("LinearLR", dict()),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
]


def closed_form(name, kw, base, e):
    if name == "StepLR":
        return base * kw["gamma"] ** (e // kw["step_size"])
    if name == "MultiStepLR":
        return base * kw["gamma"] ** sum(m <= e for m in kw["milestones"])
    if name == "ExponentialLR":
        return base * kw["gamma"] ** e
    if name == "CosineAnnealingLR":
        lo = kw.get("eta_min", 0.0)
        return lo + (base - lo) * (1 + math.cos(math.pi * e / kw["T_max"])) / 2
    if name == "LinearLR":
        s, f, n = kw.get("start_factor", 1 / 3), kw.get("end_factor", 1.0), kw.get("total_iters", 5)
        return base * (s + (f - s) * min(e, n) / n)
    return base * kw["lr_lambda"](e)


def make(name, kw, lrs=(0.1, 0.02)):
    ps = [mg.zeros(2, requires_grad=True) for _ in lrs]
    opt = SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], lr=0.1)
    return opt, getattr(lr_scheduler, name)(opt, **kw)


def sequence(opt, sched, n=N):
    out = [sched.get_last_lr()]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return np.array(out)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_closed_form(name, kw):
    opt, sched = make(name, kw)
    seq = sequence(opt, sched)
    ref = np.array([[closed_form(name, kw, b, e) for b in (0.1, 0.02)] for e in range(N + 1)])
    np.testing.assert_allclose(seq, ref, rtol=1e-9, atol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == list(seq[-1])


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt, sched = make(name, kw)
    seq = sequence(opt, sched)
    ps = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    ref = [tsched.get_last_lr()]
    for _ in range(N):
        topt.step()
        tsched.step()
        ref.append(tsched.get_last_lr())
    np.testing.assert_allclose(seq, np.array(ref), rtol=1e-12, atol=1e-15)


def test_chained_schedulers_match_torch():
    """Warm-up (LinearLR) and CosineAnnealingLR stepping the same optimizer compose like PyTorch's."""
    torch = pytest.importorskip("torch")
    opt, first = make("LinearLR", dict(start_factor=0.25, total_iters=4))
    second = lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    ps = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1)
    tfirst = torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.25, total_iters=4)
    tsecond = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=12)
    ours, theirs = [], []
    for _ in range(15):
        opt.step()
        topt.step()
        for s in (first, second, tfirst, tsecond):
            s.step()
        ours.append([g["lr"] for g in opt.param_groups])
        theirs.append([g["lr"] for g in topt.param_groups])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8,
                   0.81, 0.82, 0.83, 0.84, 0.85]
PLATEAU_CONFIGS = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, cooldown=2, min_lr=0.01),
    dict(mode="max", patience=1, factor=0.3, threshold=0.05, threshold_mode="abs"),
    dict(patience=0, factor=0.5, threshold=0.1, threshold_mode="rel", min_lr=[0.02, 0.001]),
]


def plateau_sequence(kw):
    opt, _ = make("StepLR", dict(step_size=1000))
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in PLATEAU_METRICS:
        sched.step(m)
        out.append(sched.get_last_lr())
    return np.array(out)


def plateau_reference(kw):
    """The rule written out: count bad epochs, reduce after ``patience`` of them, then cool down."""
    mode, factor, patience = kw.get("mode", "min"), kw.get("factor", 0.1), kw.get("patience", 10)
    th, thm, cooldown = kw.get("threshold", 1e-4), kw.get("threshold_mode", "rel"), kw.get("cooldown", 0)
    min_lr = kw.get("min_lr", 0.0)
    min_lrs = list(min_lr) if isinstance(min_lr, list) else [min_lr] * 2
    lrs, best, bad, cool, out = [0.1, 0.02], math.inf if mode == "min" else -math.inf, 0, 0, []
    for m in PLATEAU_METRICS:
        if mode == "min":
            better = m < (best * (1 - th) if thm == "rel" else best - th)
        else:
            better = m > (best * (1 + th) if thm == "rel" else best + th)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = [max(lr * factor, lo) for lr, lo in zip(lrs, min_lrs)]
            lrs = [n if lr - n > 1e-8 else lr for lr, n in zip(lrs, new)]
            cool, bad = cooldown, 0
        out.append(list(lrs))
    return np.array(out)


@pytest.mark.parametrize("kw", PLATEAU_CONFIGS)
def test_reduce_on_plateau(kw):
    np.testing.assert_allclose(plateau_sequence(kw), plateau_reference(kw), rtol=1e-12)


@pytest.mark.parametrize("kw", PLATEAU_CONFIGS)
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ps = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    ref = []
    for m in PLATEAU_METRICS:
        tsched.step(m)
        ref.append([g["lr"] for g in topt.param_groups])
    np.testing.assert_allclose(plateau_sequence(kw), np.array(ref), rtol=1e-12)


@pytest.mark.parametrize("name,kw", CONFIGS[:-1] + [("ReduceLROnPlateau", dict(patience=1, factor=0.5))],
                         ids=[n for n, _ in CONFIGS[:-1]] + ["ReduceLROnPlateau"])
def test_state_dict_round_trip(name, kw, tmp_path):
    """Checkpoint a scheduler (through minigrad.save) and continue: same lrs as without the break."""
    metrics = iter(PLATEAU_METRICS * 3)

    def advance(opt, sched, n):
        out = []
        for _ in range(n):
            opt.step()
            sched.step(next(metrics)) if name == "ReduceLROnPlateau" else sched.step()
            out.append([g["lr"] for g in opt.param_groups])
        return out

    opt, sched = make(name, kw) if name != "ReduceLROnPlateau" else _plateau(kw)
    advance(opt, sched, 7)
    mg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    saved_metrics = list(PLATEAU_METRICS * 3)[7:]
    cont = advance(opt, sched, 10)

    ck = mg.load(tmp_path / "s.npz")
    opt2, sched2 = make(name, kw) if name != "ReduceLROnPlateau" else _plateau(kw)
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    metrics = iter(saved_metrics)
    resumed = advance(opt2, sched2, 10)
    assert cont == resumed


def _plateau(kw):
    opt, _ = make("StepLR", dict(step_size=1000))
    return opt, lr_scheduler.ReduceLROnPlateau(opt, **kw)


def test_lambda_lr_state_excludes_functions_and_errors():
    opt, sched = make("LambdaLR", dict(lr_lambda=[lambda e: 0.5 ** e, lambda e: 1.0]))
    sched.step()
    sd = sched.state_dict()
    assert "lr_lambdas" not in sd and sd["last_epoch"] == 1
    assert sched.get_last_lr() == [0.05, 0.02]
    with pytest.raises(ValueError, match="lr_lambdas"):
        lr_scheduler.LambdaLR(opt, lr_lambda=[lambda e: 1.0])
    with pytest.raises(KeyError, match="initial_lr"):
        fresh, _ = make("StepLR", dict(step_size=1))
        for g in fresh.param_groups:
            del g["initial_lr"]
        lr_scheduler.StepLR(fresh, step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)


def test_step_with_epoch_uses_closed_form():
    opt, sched = make("CosineAnnealingLR", dict(T_max=10))
    sched.step(5)
    assert sched.last_epoch == 5
    assert math.isclose(sched.get_last_lr()[0], 0.05, rel_tol=1e-12)


# --- OneCycleLR ------------------------------------------------------------------------------------------
ONE_CYCLE = [
    ("SGD", dict(max_lr=1.0, total_steps=30)),
    ("SGD", dict(max_lr=[1.0, 0.4], epochs=4, steps_per_epoch=6, pct_start=0.25, anneal_strategy="linear")),
    ("SGD", dict(max_lr=0.5, total_steps=40, three_phase=True, base_momentum=0.8, max_momentum=0.9)),
    ("SGD", dict(max_lr=0.5, total_steps=20, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0)),
    ("Adam", dict(max_lr=[0.01, 0.02], total_steps=25, pct_start=0.4)),
    ("Adam", dict(max_lr=0.01, total_steps=30, three_phase=True, anneal_strategy="linear",
                  base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.95])),
]


def _one_cycle_opt(lib, opt_name, lrs=(0.1, 0.02)):
    ps = [lib.zeros(2, requires_grad=True) for _ in lrs]
    opt_cls = getattr(lib.optim, opt_name)
    kw = dict(momentum=0.9) if opt_name == "SGD" else {}
    return opt_cls([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], lr=0.1, **kw)


def _lr_and_momentum(opt):
    key = "betas" if "betas" in opt.defaults else "momentum"
    return [[g["lr"], g["betas"][0] if key == "betas" else g["momentum"]] for g in opt.param_groups]


def one_cycle_sequence(lib, opt_name, kw, steps=None):
    opt = _one_cycle_opt(lib, opt_name)
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, **kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    out = []
    for _ in range(total if steps is None else steps):
        out.append(_lr_and_momentum(opt))
        opt.step()
        sched.step()
    return np.array(out), opt, sched


@pytest.mark.parametrize("opt_name,kw", ONE_CYCLE, ids=[f"{o}-{i}" for i, (o, _) in enumerate(ONE_CYCLE)])
def test_one_cycle_shape(opt_name, kw):
    """Starts at max_lr / div_factor, peaks at max_lr at step pct_start * T - 1, ends at the minimum at T - 1;
    momentum mirrors it (max -> base -> max)."""
    seq, opt, _ = one_cycle_sequence(mg, opt_name, kw)
    T = len(seq)
    pct, div, fdiv = kw.get("pct_start", 0.3), kw.get("div_factor", 25.0), kw.get("final_div_factor", 1e4)
    top = np.broadcast_to(np.asarray(kw["max_lr"], dtype=float), (2,))
    peak = round(pct * T - 1)
    np.testing.assert_allclose(seq[0, :, 0], top / div, rtol=1e-12)
    np.testing.assert_allclose(seq[peak, :, 0], top, rtol=1e-12)
    np.testing.assert_allclose(seq[-1, :, 0], top / div / fdiv, rtol=1e-9)
    assert np.all(np.diff(seq[: peak + 1, :, 0], axis=0) > 0)
    if kw.get("three_phase"):
        np.testing.assert_allclose(seq[2 * peak, :, 0], top / div, rtol=1e-9)
        assert np.all(np.diff(seq[peak:2 * peak + 1, :, 0], axis=0) < 0)
    else:
        assert np.all(np.diff(seq[peak:, :, 0], axis=0) < 0)
    if kw.get("cycle_momentum", True):
        hi = np.broadcast_to(np.asarray(kw.get("max_momentum", 0.95), dtype=float), (2,))
        lo = np.broadcast_to(np.asarray(kw.get("base_momentum", 0.85), dtype=float), (2,))
        np.testing.assert_allclose(seq[0, :, 1], hi, rtol=1e-12)
        np.testing.assert_allclose(seq[peak, :, 1], lo, rtol=1e-12)
        np.testing.assert_allclose(seq[-1, :, 1], hi, rtol=1e-12)
        if opt_name == "Adam":
            assert all(g["betas"][1] == 0.999 for g in opt.param_groups)  # beta2 untouched
    else:
        assert np.all(seq[:, :, 1] == 0.9)


@pytest.mark.parametrize("opt_name,kw", ONE_CYCLE, ids=[f"{o}-{i}" for i, (o, _) in enumerate(ONE_CYCLE)])
def test_one_cycle_matches_torch(opt_name, kw):
    torch = pytest.importorskip("torch")
    ours, opt, _ = one_cycle_sequence(mg, opt_name, kw)
    theirs, topt, _ = one_cycle_sequence(torch, opt_name, kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    for g, tg in zip(opt.param_groups, topt.param_groups):
        for key in ("initial_lr", "max_lr", "min_lr"):
            assert math.isclose(g[key], tg[key], rel_tol=1e-15)


def test_one_cycle_errors_and_overstep():
    opt = _one_cycle_opt(mg, "SGD")
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 4 times; .* total steps is 3"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=3)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="expected 2 values for max_lr"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1], total_steps=10)
    ada = mg.optim.Adagrad([mg.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="neither momentum nor betas"):
        lr_scheduler.OneCycleLR(ada, max_lr=0.1, total_steps=10)
    lr_scheduler.OneCycleLR(ada, max_lr=0.1, total_steps=10, cycle_momentum=False)


def test_one_cycle_state_dict_round_trip(tmp_path):
    kw = dict(max_lr=[1.0, 0.4], total_steps=30, three_phase=True)
    opt = _one_cycle_opt(mg, "SGD")
    sched = lr_scheduler.OneCycleLR(opt, **kw)
    for _ in range(8):
        opt.step()
        sched.step()
    mg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    rest = []
    for _ in range(12):
        opt.step()
        sched.step()
        rest.append(_lr_and_momentum(opt))
    ck = mg.load(tmp_path / "s.npz")
    opt2 = _one_cycle_opt(mg, "SGD")
    sched2 = lr_scheduler.OneCycleLR(opt2, max_lr=5.0, total_steps=30, three_phase=True)
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    resumed = []
    for _ in range(12):
        opt2.step()
        sched2.step()
        resumed.append(_lr_and_momentum(opt2))
    assert rest == resumed


# --- SequentialLR ----------------------------------------------------------------------------------------
def _seq_warmup_cosine(opt, L):
    return L.SequentialLR(opt, [L.LinearLR(opt, start_factor=0.1, total_iters=5),
                                L.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)], milestones=[5])


def _seq_three(opt, L):
    return L.SequentialLR(opt, [L.LinearLR(opt, start_factor=0.5, end_factor=0.5, total_iters=3),
                                L.ExponentialLR(opt, gamma=0.9), L.StepLR(opt, step_size=3, gamma=0.5)],
                          milestones=[4, 12])


def _seq_lambda(opt, L):
    return L.SequentialLR(opt, [L.LambdaLR(opt, [lambda e: (e + 1) / 6, lambda e: 1.0]),
                                L.MultiStepLR(opt, milestones=[3, 8], gamma=0.3)], milestones=[6])


def _seq_single(opt, L):
    return L.SequentialLR(opt, [L.ExponentialLR(opt, gamma=0.8)], milestones=[])


SEQUENTIAL = {"warmup_cosine": _seq_warmup_cosine, "three": _seq_three, "lambda": _seq_lambda,
              "single": _seq_single}


def sequential_run(lib, build, n=30):
    ps = [lib.zeros(2, requires_grad=True) for _ in range(2)]
    opt = lib.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1)
    sched = build(opt, lib.optim.lr_scheduler)
    out = [sched.get_last_lr()]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(out)


def test_sequential_closed_form():
    """Warm-up then cosine: LinearLR's closed form for epochs < 5, then the cosine restarted at epoch 5."""
    seq = sequential_run(mg, _seq_warmup_cosine)
    for e, row in enumerate(seq):
        for base, lr in zip((0.1, 0.02), row):
            if e < 5:
                ref = base * (0.1 + 0.9 * e / 5)
            else:
                ref = 0.001 + (base - 0.001) * (1 + math.cos(math.pi * (e - 5) / 20)) / 2
            assert math.isclose(lr, ref, rel_tol=1e-9), (e, lr, ref)


@pytest.mark.parametrize("name", list(SEQUENTIAL))
def test_sequential_matches_torch(name):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(sequential_run(mg, SEQUENTIAL[name]), sequential_run(torch, SEQUENTIAL[name]),
                               rtol=1e-12, atol=1e-15)


def test_lambda_lr_per_group_matches_torch():
    torch = pytest.importorskip("torch")

    def build(opt, L):
        return L.LambdaLR(opt, [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + 0.5 * e)])

    np.testing.assert_allclose(sequential_run(mg, build), sequential_run(torch, build), rtol=1e-12)


@pytest.mark.parametrize("name", ["warmup_cosine", "three"])
def test_sequential_state_dict_round_trip(name, tmp_path):
    def setup():
        opt = SGD([{"params": [mg.zeros(2, requires_grad=True)], "lr": 0.1},
                   {"params": [mg.zeros(2, requires_grad=True)], "lr": 0.02}], lr=0.1)
        return opt, SEQUENTIAL[name](opt, lr_scheduler)

    def advance(opt, sched, n):
        out = []
        for _ in range(n):
            opt.step()
            sched.step()
            out.append([g["lr"] for g in opt.param_groups])
        return out

    opt, sched = setup()
    advance(opt, sched, 4)
    mg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    cont = advance(opt, sched, 12)
    ck = mg.load(tmp_path / "s.npz")
    opt2, sched2 = setup()
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    assert sched2.last_epoch == 4
    assert advance(opt2, sched2, 12) == cont


def test_sequential_errors():
    opt, _ = make("StepLR", dict(step_size=3))
    other, _ = make("StepLR", dict(step_size=3))
    a, b = lr_scheduler.StepLR(opt, step_size=2), lr_scheduler.ExponentialLR(opt, gamma=0.9)
    with pytest.raises(ValueError, match="at least one"):
        lr_scheduler.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="expects 1 milestones for 2 schedulers, got 2"):
        lr_scheduler.SequentialLR(opt, [a, b], milestones=[2, 3])
    with pytest.raises(ValueError, match="scheduler 1 belongs to a different optimizer"):
        lr_scheduler.SequentialLR(opt, [a, lr_scheduler.StepLR(other, step_size=2)], milestones=[2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [a, lr_scheduler.ReduceLROnPlateau(opt)], milestones=[2])
    inner = lr_scheduler.SequentialLR(opt, [a, b], milestones=[2])
    with pytest.raises(ValueError, match="nesting is not supported"):
        lr_scheduler.SequentialLR(opt, [inner, b], milestones=[2])
    with pytest.raises(ValueError, match="holds 1 schedulers"):
        inner.load_state_dict(dict(inner.state_dict(), _schedulers=[a.state_dict()]))
