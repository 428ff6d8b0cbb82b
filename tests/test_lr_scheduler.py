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
