"""In-place ops (``add_``, ``+=``, ``x[i] = v``, ``relu_``, ``copy_`` ...) with PyTorch's autograd rules.

Every in-place op writes into the tensor's existing memory and bumps its version counter, which it
shares with its views and with ``detach()`` (not with ``.data``). A Function records the versions of
its inputs at forward; if backward needs a value that has been overwritten since, it raises instead of
computing a wrong gradient (``Function.saved_inputs``, ``Function.saved_output``).

Without autograd (grad mode off, or nothing involved requires grad) the op runs on the array itself.
With autograd (grad mode on and the tensor or an operand requires grad):

- a leaf that requires grad raises, as in PyTorch: its value is what its ``.grad`` refers to (update
  parameters under ``minigrad.no_grad()``);
- a view, or a tensor that has views recorded in the graph, raises: PyTorch re-derives the views'
  histories, minigrad does not (use the out-of-place op);
- otherwise the op is computed out of place on an alias of the old value, the result is copied into
  the tensor's memory and the tensor's ``grad_fn`` becomes the op's node ("rebasing"). Nodes recorded
  before keep sending their gradient to the old producer (``autograd._edge``), and if one of them needs
  the overwritten value, its backward raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops as _ops
from .grad_mode import is_grad_enabled
from .tensor import Tensor

_make = Tensor._make


def _needs_graph(t: Tensor, operands: tuple) -> bool:
    if not is_grad_enabled():
        return False
    if t._requires_grad:
        return True
    return any(isinstance(o, Tensor) and o._requires_grad for o in operands)


def _write(t: Tensor, name: str, new: Any) -> None:
    """Copy the array ``new`` into ``t``'s memory (same shape, dtype castable) and bump the version."""
    a = t.array
    if new.shape != a.shape:
        raise RuntimeError(
            f"{name}: output with shape {tuple(a.shape)} doesn't match the broadcast shape {tuple(new.shape)}"
        )
    if new.dtype != a.dtype and not np.can_cast(new.dtype, a.dtype, "same_kind"):
        raise RuntimeError(
            f"{name}: result type {new.dtype} can't be cast to the desired output type {a.dtype}"
        )
    if new is not a:
        a[...] = new
    t._bump_version()


def _rebase(t: Tensor, name: str, op: Callable, operands: tuple, kwargs: dict) -> Tensor:
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad (shape {tuple(t.shape)}) is being used in an "
            "in-place operation. Update it under `with minigrad.no_grad():` (as optimizers do), or work on "
            "a clone()."
        )
    if t._base is not None or t.__dict__.get("_has_views"):
        what = "a view of another tensor" if t._base is not None else "a tensor whose views are in the graph"
        raise RuntimeError(
            f"{name}: in-place operation with autograd on {what} (shape {tuple(t.shape)}): minigrad does not "
            "re-derive views' histories as PyTorch does; use the out-of-place op (e.g. `x = x.relu()` "
            "instead of `x.relu_()`, or `torch.where`-style masking instead of `x[i] = v`)"
        )
    old = _make(t.array, t._requires_grad, t.grad_fn, t._out_idx)
    old._vc = t._shared_version()
    out = op(old, *operands, **kwargs)
    if out.grad_fn is not None and _old_value_is_read(out, old, operands):
        # like PyTorch's saved "original self": the op's backward needs the value about to be
        # overwritten, so it gets a copy of its own (and a version counter of its own)
        old.array = t.array.copy()
        old._vc = [t._version]
    if not out._requires_grad:
        if not t._requires_grad:  # nothing involved needs a gradient after all
            _write(t, name, out.array)
            return t
        out = _fill_op(old, out)  # a non-differentiable result (floor_, sign_ ...): zero gradient to old
    _write(t, name, out.array)
    hist = [] if t._hist is None else list(t._hist)
    hist.append((t._version, t.grad_fn, t._out_idx))
    t._hist = hist
    retains = t._retains_grad
    if retains:  # .grad is kept for the tensor's new value, not the overwritten one
        retained = t.grad_fn.__dict__.get("_retained")
        if retained is not None:
            retained.pop(t._out_idx, None)
        t._retains_grad = False
    t.grad_fn, t._out_idx, t._requires_grad = out.grad_fn, out._out_idx, True
    if retains:
        t.retain_grad()
    return t


def _reads(node: Any, j: int) -> bool:
    """Whether ``node``'s backward reads the value of its input ``j`` (see ``Function.saved_inputs``)."""
    saved = node.saved_inputs
    if saved is None:
        return True
    if not saved:
        return False
    return any(j in saved[i] for i, need in enumerate(node.needs_input_grad) if need)


def _old_value_is_read(out: Tensor, old: Tensor, operands: tuple) -> bool:
    """Whether a node recorded by this in-place op reads ``old`` in its backward.

    Walks the nodes the op just made (from ``out`` back to ``old`` and the operands; a handful).
    """
    stop = {id(old)} | {id(o) for o in operands if isinstance(o, Tensor)}
    stack, seen = [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        if len(seen) > 64:  # not expected from one in-place op; copy to be safe
            return True
        seen.add(node)
        for j, x in enumerate(node.inputs):
            if x is old:
                if _reads(node, j):
                    return True
            elif id(x) not in stop and x.grad_fn is not None:
                stack.append(x.grad_fn)
    return False


def apply_(t: Tensor, name: str, op: Callable, *operands: Any, **kwargs: Any) -> Tensor:
    """``t <- op(t, *operands, **kwargs)`` in ``t``'s memory; ``op`` is the out-of-place minigrad op."""
    if _needs_graph(t, operands):
        return _rebase(t, name, op, operands, kwargs)
    _write(t, name, op(t, *operands, **kwargs).array)
    return t


def _ufunc_(t: Tensor, name: str, ufunc: str, o: Any, op: Callable, **kwargs: Any) -> Tensor:
    """Fast path for ``add_``/``mul_``...: one ufunc with ``out=`` when no graph is needed."""
    if _needs_graph(t, (o,)):
        return _rebase(t, name, op, (o,), kwargs)
    v = o.array if isinstance(o, Tensor) else o
    alpha = kwargs.get("alpha", 1)
    if alpha != 1:
        v = v * alpha
    a = t.array
    try:
        getattr(t.xp, ufunc)(a, v, out=a)
    except (TypeError, ValueError) as e:  # NumPy's casting errors are TypeErrors
        shape = tuple(getattr(v, "shape", ()))
        dtype = getattr(v, "dtype", type(v).__name__)
        raise RuntimeError(
            f"{name}: cannot update a {a.dtype} tensor of shape {tuple(a.shape)} in place with a {dtype} "
            f"operand of shape {shape}: {e}"
        ) from None
    t._bump_version()
    return t


def _fill_op(old: Tensor, value: Any) -> Tensor:
    """``value`` broadcast to ``old``'s shape, as a graph node (the old value gets a zero gradient)."""
    keep = _make(old.xp.zeros(old.shape, dtype=bool))
    if isinstance(value, Tensor) and value.device != old.device:
        value = value.to(old.device)
    return _ops.where(keep, old, value)


# --- the methods -------------------------------------------------------------------------------
def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """self += alpha * other, in place."""
    return _ufunc_(self, "add_", "add", other, _ops.add, alpha=alpha)


def sub_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """self -= alpha * other, in place."""
    return _ufunc_(self, "sub_", "subtract", other, _ops.sub, alpha=alpha)


def mul_(self: Tensor, other: Any) -> Tensor:
    return _ufunc_(self, "mul_", "multiply", other, _ops.mul)


def div_(self: Tensor, other: Any) -> Tensor:
    return _ufunc_(self, "div_", "true_divide", other, _ops.div)


def pow_(self: Tensor, exponent: Any) -> Tensor:
    return apply_(self, "pow_", _ops.pow, exponent)


def zero_(self: Tensor) -> Tensor:
    if _needs_graph(self, ()):
        return _rebase(self, "zero_", _fill_op, (0,), {})
    self.array[...] = 0
    self._bump_version()
    return self


def fill_(self: Tensor, value: Any) -> Tensor:
    if _needs_graph(self, (value,)):
        return _rebase(self, "fill_", _fill_op, (value,), {})
    v = value.array if isinstance(value, Tensor) else value
    if getattr(v, "ndim", 0) != 0:
        raise RuntimeError(f"fill_: only supports a 0-dimensional value, got shape {tuple(v.shape)}")
    self.array[...] = v
    self._bump_version()
    return self


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this shape, cast to this dtype, moved to this device) into ``self``."""
    shape = tuple(np.shape(src.array if isinstance(src, Tensor) else src))
    if shape != tuple(self.shape):
        try:
            if np.broadcast_shapes(shape, self.shape) != tuple(self.shape):
                raise ValueError
        except ValueError:
            raise RuntimeError(f"copy_: shape {shape} does not broadcast to {tuple(self.shape)}") from None
    if _needs_graph(self, (src,)):
        return _rebase(self, "copy_", _fill_op, (src,), {})
    from .backend import to_device

    v = src.array if isinstance(src, Tensor) else src
    self.array[...] = to_device(v, self.device) if hasattr(v, "shape") else v
    self._bump_version()
    return self


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if _needs_graph(self, (min, max)):
        return _rebase(self, "clamp_", _ops.clamp, (min, max), {})
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    lo = min.array if isinstance(min, Tensor) else min
    hi = max.array if isinstance(max, Tensor) else max
    self.xp.clip(self.array, lo, hi, out=self.array)
    self._bump_version()
    return self


def clamp_min_(self: Tensor, min: Any) -> Tensor:
    return clamp_(self, min=min)


def clamp_max_(self: Tensor, max: Any) -> Tensor:
    return clamp_(self, max=max)


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    return apply_(self, "masked_fill_", _ops.masked_fill, mask, value)


def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, value: float = 1) -> Tensor:
    """self += value * tensor1 * tensor2, in place."""
    return apply_(self, "addcmul_", lambda s, a, b: s + (a * b) * value, tensor1, tensor2)


def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, value: float = 1) -> Tensor:
    """self += value * tensor1 / tensor2, in place."""
    return apply_(self, "addcdiv_", lambda s, a, b: s + (a / b) * value, tensor1, tensor2)


def lerp_(self: Tensor, end: Any, weight: Any) -> Tensor:
    """self += weight * (end - self), in place (Polyak averaging: ``target.lerp_(online, tau)``)."""
    return apply_(self, "lerp_", lambda s, e, w: s + (e - s) * w, end, weight)


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``self[index] = value`` in place; with autograd, the gradient of ``value`` is ``grad[index]``."""
    idx = _ops.unwrap_index(index)
    if _needs_graph(self, (value,)):
        _rebase(self, "setitem", _ops.index_put, (idx, value), {})
        return
    v = value.array if isinstance(value, Tensor) else value
    if isinstance(value, Tensor) and value.device != self.device:
        raise RuntimeError(f"setitem: value is on {value.device} but the tensor is on {self.device}")
    try:
        self.array[idx] = v
    except (IndexError, ValueError, TypeError) as e:
        raise type(e)(
            f"setitem: cannot assign a value of shape {tuple(np.shape(v))} to index {index!r} of a tensor of "
            f"shape {tuple(self.shape)}: {e}"
        ) from None
    self._bump_version()


def _unary_(name: str, op: Callable) -> Callable:
    def method(self: Tensor) -> Tensor:
        return apply_(self, name, op)

    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: writes into this tensor's memory and bumps its version."
    return method


_UNARY = {
    "exp_": _ops.exp,
    "log_": _ops.log,
    "log1p_": _ops.log1p,
    "sqrt_": _ops.sqrt,
    "rsqrt_": _ops.rsqrt,
    "abs_": _ops.abs,
    "neg_": _ops.neg,
    "sin_": _ops.sin,
    "cos_": _ops.cos,
    "tanh_": _ops.tanh,
    "sigmoid_": _ops.sigmoid,
    "relu_": _ops.relu,
    "square_": _ops.square,
    "sign_": _ops.sign,
    "floor_": _ops.floor,
    "ceil_": _ops.ceil,
    "round_": _ops.round,
}


def _install() -> None:
    for name, fn in [
        ("add_", add_),
        ("sub_", sub_),
        ("mul_", mul_),
        ("div_", div_),
        ("pow_", pow_),
        ("zero_", zero_),
        ("fill_", fill_),
        ("copy_", copy_),
        ("clamp_", clamp_),
        ("clip_", clamp_),
        ("clamp_min_", clamp_min_),
        ("clamp_max_", clamp_max_),
        ("masked_fill_", masked_fill_),
        ("addcmul_", addcmul_),
        ("addcdiv_", addcdiv_),
        ("lerp_", lerp_),
        ("__setitem__", setitem),
        ("__iadd__", add_),
        ("__isub__", sub_),
        ("__imul__", mul_),
        ("__itruediv__", div_),
        ("__ipow__", pow_),
    ]:
        setattr(Tensor, name, fn)
    Tensor.subtract_ = sub_
    Tensor.multiply_ = mul_
    Tensor.divide_ = div_
    Tensor.true_divide_ = div_
    for name, op in _UNARY.items():
        setattr(Tensor, name, _unary_(name, op))
    Tensor.negative_ = Tensor.neg_


_install()
