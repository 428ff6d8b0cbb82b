"""Finite-difference gradient checking, for the ops of minigrad and for the layer you just wrote.

``gradcheck(fn, inputs)`` compares the vector-Jacobian product computed by
backward with one computed from central differences,

    numeric_j = ( <v, fn(x + eps e_j)> - <v, fn(x - eps e_j)> ) / (2 eps),

for a *random* upstream gradient ``v`` (an all-ones ``v`` would miss bugs in ops
whose outputs sum to a constant, such as softmax or normalisation layers).
``gradgradcheck`` does the same for the backward pass itself, so it checks
second derivatives. Use float64 inputs: float32 round-off swamps the check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad as autograd_grad
from .backend import get_array_module
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when analytic and numeric gradients disagree."""


def _as_tuple(x: Any) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _float_outputs(out: Any) -> list[Tensor]:
    outs = _as_tuple(out)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


def _random_like(xp: Any, rng: np.random.Generator, t: Tensor) -> Any:
    return xp.asarray(rng.standard_normal(t.shape).astype(t.dtype))


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    nondet_tol: float = 0.0,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    Args:
        fn: maps the inputs to a Tensor or a tuple of Tensors.
        inputs: Tensors (float64 for those with ``requires_grad``); other values are passed through.
        eps: finite-difference step.
        atol, rtol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.
        nondet_tol: allowed difference between two backward passes (0: they must be identical).
        fast_mode: check one random direction per input instead of every element.
        seed: seeds the random upstream gradients and directions.

    Returns True, or raises ``GradcheckError`` naming the input, the worst element's index and both
    values (returns False instead when ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in diff:
        if inputs[i].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; gradient checking needs float64 "
                "inputs (float32 round-off is larger than the differences it measures)"
            )
    rng = np.random.default_rng(seed)
    all_outs = _float_outputs(fn(*inputs))
    keep = [k for k, o in enumerate(all_outs) if o.requires_grad]
    outs = [all_outs[k] for k in keep]
    if not outs:
        return True  # nothing differentiable comes out: nothing to check
    xp = get_array_module(outs[0].array)
    vs = [_random_like(xp, rng, o) for o in outs]
    xs = [inputs[i] for i in diff]

    def analytic() -> list[Any]:
        outs2 = [o for o in _float_outputs(fn(*inputs)) if o.requires_grad]
        gs = autograd_grad(outs2, xs, [Tensor._make(v) for v in vs], allow_unused=True)
        return [xp.zeros(x.shape, x.dtype) if g is None else g.array for g, x in zip(gs, xs)]

    ana = analytic()
    again = analytic()
    for k, (a, b) in enumerate(zip(ana, again)):
        if a.size and float(xp.abs(a - b).max()) > nondet_tol:
            return _fail(
                f"gradcheck: backward of {_name(fn)} is not deterministic for input {diff[k]}: two runs "
                f"differ by {float(xp.abs(a - b).max()):.3g} > nondet_tol={nondet_tol}",
                raise_exception,
            )

    def f() -> float:
        outs_all = _float_outputs(fn(*inputs))  # grad mode on: fn may itself take gradients
        outs2 = [outs_all[k] for k in keep]
        return float(sum(float((o.array * v).sum()) for o, v in zip(outs2, vs)))

    for k, i in enumerate(diff):
        x = inputs[i]
        a = ana[k]
        if x.numel() == 0:
            continue
        if fast_mode:
            u = _random_like(xp, rng, x)
            u /= max(float(xp.sqrt((u * u).sum())), 1e-12)
            orig = x.array.copy()
            x.array[...] = orig + eps * u
            fp = f()
            x.array[...] = orig - eps * u
            fm = f()
            x.array[...] = orig
            num = (fp - fm) / (2 * eps)
            an = float((a * u).sum())
            if abs(an - num) > atol + rtol * abs(num):
                return _fail(
                    f"gradcheck: {_name(fn)}: directional derivative for input {i} (shape {tuple(x.shape)}) "
                    f"disagrees: analytic {an:.6g}, numeric {num:.6g}",
                    raise_exception,
                )
            continue
        num = np.zeros(x.shape, dtype=np.float64)
        flat = x.array.reshape(-1) if x.array.flags.c_contiguous else None
        if flat is None:
            x.array = x.array.copy()
            flat = x.array.reshape(-1)
        for j in range(flat.size):
            old = float(flat[j])
            flat[j] = old + eps
            fp = f()
            flat[j] = old - eps
            fm = f()
            flat[j] = old
            num.reshape(-1)[j] = (fp - fm) / (2 * eps)
        a_host = np.asarray(a.get() if hasattr(a, "get") else a, dtype=np.float64)
        err = np.abs(a_host - num) - (atol + rtol * np.abs(num))
        if (err > 0).any() or not np.isfinite(a_host).all():
            bad = np.where(~np.isfinite(a_host), np.inf, err)
            j = np.unravel_index(int(np.argmax(bad)), x.shape)
            return _fail(
                f"gradcheck: {_name(fn)}: gradient of input {i} (shape {tuple(x.shape)}) is wrong; "
                f"worst element "
                f"at index {tuple(int(v) for v in j)}: analytic {a_host[j]:.6g}, numeric {num[j]:.6g} "
                f"(|diff| {abs(a_host[j] - num[j]):.3g} > atol + rtol*|numeric| = "
                f"{atol + rtol * abs(num[j]):.3g}); "
                f"{int((err > 0).sum())} of {err.size} elements fail",
                raise_exception,
            )
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    nondet_tol: float = 0.0,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs).

    The upstream gradients ``v`` (random unless ``grad_outputs`` is given) are inputs of
    that map too, so both the dependence on x (the Hessian part) and on v are checked.
    """
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = [o for o in _float_outputs(fn(*inputs)) if o.requires_grad]
    if not outs:
        return True
    rng = np.random.default_rng(seed + 1)
    xp = get_array_module(outs[0].array)
    if grad_outputs is None:
        vs = [Tensor._make(_random_like(xp, rng, o), True) for o in outs]
    else:
        vs = [Tensor._make(v.array.copy(), True) for v in grad_outputs]
    n = len(inputs)

    def first_derivative(*args: Any) -> tuple:
        xs_all, v = args[:n], args[n:]
        outs2 = [o for o in _float_outputs(fn(*xs_all)) if o.requires_grad]
        xs = [xs_all[i] for i in diff]
        gs = autograd_grad(outs2, xs, list(v), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None and g.requires_grad)

    first_derivative.__qualname__ = f"gradient of {_name(fn)}"
    return gradcheck(
        first_derivative,
        tuple(inputs) + tuple(vs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        nondet_tol=nondet_tol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        seed=seed + 2,
    )
