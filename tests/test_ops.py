"""Generated from the op registry (tests/opdb.py): forward vs NumPy, float32 survival, gradcheck and
gradgradcheck with random upstream gradients, for every registered op on every backend."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from opdb import OPS, S, to_arrays, to_tensors

import minigrad as mg
from minigrad.autograd import Function

CASES = [(op, s) for op in OPS for s in op.samples]
IDS = [f"{op.name}-{i}{'-' + s.desc if s.desc else ''}" for op in OPS for i, s in enumerate(op.samples)]


def _flat(out):
    if isinstance(out, mg.Tensor):
        return [out]
    return [o for o in out if isinstance(o, mg.Tensor)]


def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _has_diff_input(args, kwargs):
    vals = list(args) + list(kwargs.values())
    flat = []
    for v in vals:
        flat.extend(v if isinstance(v, list) else [v])
    return [t for t in flat if isinstance(t, mg.Tensor) and t.requires_grad]


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_forward(op, sample: S, xp):
    args, kwargs = to_tensors(sample, xp)
    out = _flat(op.fn(*args, **kwargs))
    if op.ref is None:
        for o in out:
            assert np.isfinite(_host(o.array)).all() or o.numel() == 0
        return
    rargs, rkwargs = to_arrays(sample)
    ref = op.ref(*rargs, **rkwargs)
    refs = [ref] if isinstance(ref, np.ndarray) or np.isscalar(ref) else list(ref)
    assert len(out) == len(refs), f"{op.name}: {len(out)} outputs, reference has {len(refs)}"
    for o, r in zip(out, refs):
        r = np.asarray(r)
        assert tuple(o.shape) == r.shape, f"{op.name}: shape {tuple(o.shape)} != reference {r.shape}"
        np.testing.assert_allclose(_host(o.array), r, atol=op.fwd_atol, rtol=1e-6)


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_float32_survives(op, sample: S, xp):
    """float32 inputs give float32 outputs and float32 gradients (no silent promotion)."""
    if not op.float32:
        pytest.skip("op changes dtype by design")
    args, kwargs = to_tensors(sample, xp, dtype=np.float32)
    leaves = _has_diff_input(args, kwargs)
    out = [o for o in _flat(op.fn(*args, **kwargs)) if o.dtype.kind == "f"]
    for o in out:
        assert o.dtype == np.float32, f"{op.name}: output dtype {o.dtype} from float32 inputs"
    outs = [o for o in out if o.requires_grad]
    if not leaves or not outs:
        return
    gs = mg.grad(outs, leaves, [mg.ones_like(o) for o in outs], allow_unused=True)
    for g in gs:
        if g is not None:
            assert g.dtype == np.float32, f"{op.name}: gradient dtype {g.dtype} from float32 inputs"


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_gradcheck(op, sample: S, xp):
    if not op.gradcheck:
        pytest.skip("not differentiable")
    args, kwargs = to_tensors(sample, xp)
    if not _has_diff_input(args, kwargs):
        pytest.skip("sample has no differentiable input")
    # gradcheck perturbs positional Tensors; lists of tensors are flattened into positions
    flat, rebuild = _flatten_args(args)
    assert mg.gradcheck(lambda *a: op.fn(*rebuild(a), **kwargs), flat, eps=op.eps, atol=op.atol, rtol=op.rtol)


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_gradgradcheck(op, sample: S, xp):
    if not (op.gradcheck and op.gradgrad and sample.gradgrad):
        pytest.skip("second derivative undefined at this sample (a tie)")
    args, kwargs = to_tensors(sample, xp)
    if not _has_diff_input(args, kwargs):
        pytest.skip("sample has no differentiable input")
    flat, rebuild = _flatten_args(args)
    assert mg.gradgradcheck(
        lambda *a: op.fn(*rebuild(a), **kwargs), flat, eps=op.eps, atol=op.atol, rtol=op.rtol
    )


def _flatten_args(args):
    flat, layout = [], []
    for a in args:
        if isinstance(a, list):
            layout.append(len(a))
            flat.extend(a)
        else:
            layout.append(None)
            flat.append(a)

    def rebuild(vals):
        out, k = [], 0
        for n in layout:
            if n is None:
                out.append(vals[k])
                k += 1
            else:
                out.append(list(vals[k : k + n]))
                k += n
        return out

    return flat, rebuild


# --- completeness: an op that is not registered makes this fail ------------------------------------
def _all_function_classes():
    seen, stack = set(), list(Function.__subclasses__())
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        stack.extend(c.__subclasses__())
    return {c for c in seen if c.__module__.startswith("minigrad.") and not inspect.isabstract(c)}


def test_registry_is_complete():
    """Every public differentiable op is registered, and every Function subclass is exercised
    (forward, backward and double backward) by some registered sample."""
    import minigrad.nn.functional  # noqa: F401  (import every module that defines Functions)

    registered = {c for op in OPS for c in op.covers}
    missing_ops = [n for n in mg.ops.DIFFERENTIABLE if n not in registered]
    assert not missing_ops, f"ops not registered in tests/opdb.py: {missing_ops}"

    used: set[type] = set()
    orig = Function.__call__

    def spy(self, *a, **k):
        used.add(type(self))
        return orig(self, *a, **k)

    Function.__call__ = spy
    try:
        for op in OPS:
            for s in op.samples:
                args, kwargs = to_tensors(s, np)
                leaves = _has_diff_input(args, kwargs)
                outs = [o for o in _flat(op.fn(*args, **kwargs)) if o.requires_grad]
                if not leaves or not outs or not op.gradcheck:
                    continue
                vs = [mg.randn_like(o).requires_grad_() for o in outs]
                gs = mg.grad(outs, leaves, vs, create_graph=True, allow_unused=True)
                gs = [g for g in gs if g is not None and g.requires_grad]
                if gs and op.gradgrad and s.gradgrad:
                    mg.grad(gs, leaves + vs, [mg.randn_like(g) for g in gs], allow_unused=True)
    finally:
        Function.__call__ = orig
    classes = _all_function_classes()
    if not mg.cuda_is_available():
        from minigrad.ops.arithmetic import ToDevice

        classes.discard(ToDevice)  # needs a GPU to run
    missing = sorted(c.__qualname__ for c in classes - used)
    assert not missing, f"Function classes not exercised by any registered sample: {missing}"


# --- in-place safety: every op's backward either sees its saved values intact or raises -----------
_MODIFIED = "modified by an inplace operation"


def _grads_after(op, sample, corrupt):
    """Gradients (seeded cotangents) of a fresh forward, after ``corrupt(leaves, outs)`` ran in place."""
    args, kwargs = to_tensors(sample, np)
    leaves = _has_diff_input(args, kwargs)
    outs = [o for o in _flat(op.fn(*args, **kwargs)) if o.requires_grad]
    rng = np.random.default_rng(7)
    vs = [mg.tensor(rng.standard_normal(o.shape)).to(o.dtype) for o in outs]
    if corrupt is not None:
        with mg.no_grad():
            corrupt(leaves, outs)
    gs = mg.grad(outs, leaves, vs, allow_unused=True)
    return [None if g is None else g.numpy().copy() for g in gs]


def _scramble(t):
    try:
        t.mul_(1.37).add_(0.11)
    except (ValueError, RuntimeError) as e:  # a read-only broadcast view
        pytest.skip(f"cannot write into this tensor: {e}")


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_inplace_change_is_caught(op, sample: S):
    """Changing an input or output in place between forward and backward either makes backward raise
    the version-counter error or leaves the gradients unchanged (the op does not read that value):
    catches a ``saved_inputs`` declaration that is too optimistic, or a backward that reads an output
    array without ``saved_output``."""
    if not op.gradcheck:
        pytest.skip("not differentiable")
    args, kwargs = to_tensors(sample, np)
    n_leaves = len(_has_diff_input(args, kwargs))
    n_outs = len([o for o in _flat(op.fn(*args, **kwargs)) if o.requires_grad])
    if not n_leaves or not n_outs:
        pytest.skip("sample has no differentiable input")
    ref = _grads_after(op, sample, None)
    targets = [("input", k) for k in range(n_leaves)] + [("output", k) for k in range(n_outs)]
    for kind, k in targets:
        def corrupt(leaves, outs, kind=kind, k=k):
            _scramble(leaves[k] if kind == "input" else outs[k].detach())

        try:
            got = _grads_after(op, sample, corrupt)
        except RuntimeError as e:
            assert _MODIFIED in str(e), e
            continue
        for g, r in zip(got, ref):
            assert (g is None) == (r is None)
            if g is not None:
                np.testing.assert_allclose(
                    g, r, rtol=1e-7, atol=1e-9,
                    err_msg=f"{op.name}: {kind} {k} changed in place, backward neither raised nor ignored it",
                )
