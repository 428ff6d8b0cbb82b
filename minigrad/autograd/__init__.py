"""The reverse-mode autograd engine.

Recording. Every differentiable op is a :class:`Function`. Calling one runs its
``forward`` on raw arrays (NumPy or CuPy) and, when gradients are enabled and some
input requires them, wraps each output in a Tensor whose ``grad_fn`` is the
Function instance. That instance is a node of the graph: it keeps its input
Tensors (the edges back towards the leaves) and whatever ``forward`` saved.

Walking. ``backward`` sorts the nodes reachable from the root in reverse
topological order (an iterative depth-first search, so a chain of 100k nodes is
fine), then visits each node once, after all of its consumers: it sums the
gradients that reached each output, calls the node's ``backward`` and hands the
input gradients on, to the producing node or, for a leaf, into ``leaf.grad``.

Higher order. A node's ``backward`` is written with differentiable ops on
Tensors, so with ``create_graph=True`` the backward pass is itself recorded and
can be differentiated again, to any order.
"""

from __future__ import annotations

import sys as _sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as _np

from .. import anomaly
from ..anomaly import _state as _anomaly_state
from ..grad_mode import _set as _set_grad_enabled
from ..grad_mode import _state as _grad_state
from ..grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from ..tensor import Tensor

_ndarray = _np.ndarray
_getrefcount = _sys.getrefcount
_Tensor: Any = None  # set by tensor.py (avoids an import cycle on the hot path)


class Function:
    """Base class of every differentiable op.

    Subclasses implement::

        def forward(self, *arrays) -> array | tuple[array, ...]   # raw NumPy/CuPy arrays
        def backward(self, *grad_outputs) -> Tensor | tuple[Tensor | None, ...]

    ``forward`` may store what backward needs on ``self`` (arrays, shapes, axes).
    ``backward`` receives one Tensor per output (zeros where no gradient arrived)
    and returns one gradient Tensor per input (``None`` for inputs that need none;
    ``self.needs_input_grad[i]`` says which). It must use differentiable ops so that
    higher-order gradients work. ``self.inputs`` are the input Tensors and
    ``self.saved_output(y)`` turns an output array saved in forward back into a
    Tensor that is part of the graph (for derivatives such as d exp(x) = exp(x) dx).
    """

    inputs: tuple
    needs_input_grad: tuple
    _freed = False

    def __call__(self, *inputs: Tensor) -> Any:
        # This is the hot path of every op: plain loops and attribute reads, no generators.
        xs = [x.array for x in inputs]
        if len(xs) > 1:
            t0 = type(xs[0])
            for x in xs:
                if type(x) is not t0:
                    _device_error(self, inputs)
        ys = self.forward(*xs)
        make = _Tensor._make
        needs = [x._requires_grad for x in inputs]
        record = True in needs and getattr(_grad_state, "enabled", True)
        if type(ys) is not tuple:  # one output: the common case
            if type(ys) is not _ndarray:
                ys = _as_array(ys)
            if not record:
                return make(ys)
            self.inputs = inputs
            self.needs_input_grad = tuple(needs)
            self._out_meta = ((ys.shape, ys.dtype),)
            if getattr(_anomaly_state, "enabled", False):
                self._site = anomaly.creation_site()
                anomaly.check_forward(self, (ys,))
            return make(ys, True, self, 0)
        ys = tuple([y if type(y) is _ndarray else _as_array(y) for y in ys])
        if not record:
            return tuple([make(y) for y in ys])
        self.inputs = inputs
        self.needs_input_grad = tuple(needs)
        self._out_meta = tuple([(y.shape, y.dtype) for y in ys])
        if getattr(_anomaly_state, "enabled", False):
            self._site = anomaly.creation_site()
            anomaly.check_forward(self, ys)
        return tuple([make(y, True, self, i) for i, y in enumerate(ys)])

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *gys: Tensor) -> Any:
        raise NotImplementedError(f"{self.name()} has no backward")

    # --- helpers for subclasses -------------------------------------------------
    def saved_output(self, y: Any, index: int = 0) -> Tensor:
        """A Tensor for output ``index`` (array ``y`` saved in forward) that belongs to this graph."""
        return _Tensor._make(y if type(y) is _ndarray else _as_array(y), True, self, index)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def _free(self) -> None:
        """Drop what forward saved; the node can no longer be back-propagated through."""
        d = self.__dict__
        meta, site = d["_out_meta"], d.get("_site")
        d.clear()
        d["_out_meta"], d["_freed"] = meta, True
        if site is not None:
            d["_site"] = site

    def __repr__(self) -> str:
        return f"<{self.name()} node>"


def _as_array(y: Any) -> Any:
    """NumPy turns 0-d results into scalars; make them arrays again (CuPy arrays pass through)."""
    return _np.asarray(y) if isinstance(y, (_np.generic, float, int, bool)) else y


def _device_error(fn: Function, inputs: Sequence[Tensor]) -> None:
    from ..backend import device_of

    if len({str(device_of(t.array)) for t in inputs}) == 1:
        return  # same device, different array types (a NumPy scalar): fine
    devs = ", ".join(f"input {i}: {t.device} {tuple(t.shape)}" for i, t in enumerate(inputs))
    raise RuntimeError(f"{fn.name()}: expected all tensors on the same device, got {devs}")


# ---------------------------------------------------------------------------------
# Hooks and retained gradients of non-leaf tensors are kept on the node that made them.


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` takes the hook away."""

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def _topological_order(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, every consumer before its producers (iterative DFS)."""
    order: list[Function] = []
    visited: set[Function] = set()  # Functions hash by identity
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        if node._freed:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op {node.name()}), but its "
                "saved values were freed by the first backward. Pass retain_graph=True to the first "
                "backward() if you need to call it again."
            )
        stack.append((node, True))
        for x in node.inputs:
            fn = x.grad_fn
            if fn is not None and fn not in visited:
                stack.append((fn, False))
    order.reverse()
    return order


def _zeros_for(meta: tuple, like: Tensor) -> Tensor:
    from ..backend import get_array_module

    shape, dtype = meta
    return _Tensor._make(get_array_module(like.array).zeros(shape, dtype=dtype))


def _accumulate(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else a + b


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """Back-propagate ``root_grads`` from ``roots``.

    Without ``capture`` the gradients accumulate into the ``.grad`` of the leaves.
    With ``capture`` (a list of tensors, leaves or not) nothing is accumulated and
    the gradients with respect to those tensors are returned instead.
    """
    node_grads: dict[Function, list] = {}
    leaf_grads: dict[int, list] = {}  # id(leaf) -> [leaf, grad]
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            entry = leaf_grads.setdefault(id(t), [t, None])
            entry[1] = _accumulate(entry[1], g)
        else:
            slot = node_grads.setdefault(t.grad_fn, [None] * len(t.grad_fn._out_meta))
            slot[t._out_idx] = _accumulate(slot[t._out_idx], g)

    order = _topological_order([t.grad_fn for t in roots if t.grad_fn is not None])

    captured_nodes: dict[tuple[int, int], int] = {}
    captured_leaves: dict[int, int] = {}
    capture_only: set[Function] = set()
    results: list[Tensor | None] = []
    if capture is not None:
        results = [None] * len(capture)
        for i, t in enumerate(capture):
            if t.grad_fn is None:
                captured_leaves[id(t)] = i
            else:
                captured_nodes[(id(t.grad_fn), t._out_idx)] = i
        order, capture_only = _prune(order, capture)

    check_nan = anomaly.is_anomaly_enabled()
    prev_mode = is_grad_enabled()
    _set_grad_enabled(create_graph)
    make = _Tensor._make
    try:
        for node in order:
            gys = node_grads.pop(node, None)
            if gys is None:
                continue
            d = node.__dict__
            hooks, retained = d.get("_out_hooks"), d.get("_retained")
            if hooks or retained or captured_nodes:
                for i, g in enumerate(gys):
                    if g is None:
                        continue
                    if hooks and i in hooks:
                        for h in list(hooks[i]):
                            new = h(g)
                            if new is not None:
                                g = new
                        gys[i] = g
                    if retained and i in retained:
                        t = retained[i]()
                        if t is not None:
                            if create_graph:
                                t.grad = g if t.grad is None else t.grad + g
                            else:
                                t.grad = make(g.array.copy() if t.grad is None else t.grad.array + g.array)
                    if captured_nodes:
                        k = captured_nodes.get((id(node), i))
                        if k is not None:
                            results[k] = _accumulate(results[k], g)
            if capture_only and node in capture_only:
                continue  # only its output's gradient was wanted
            if len(gys) > 1:  # outputs that received no gradient get zeros
                missing = [i for i, g in enumerate(gys) if g is None]
                if len(missing) == len(gys):
                    continue
                for i in missing:
                    gys[i] = _zeros_for(node._out_meta[i], node.inputs[0])
            if check_nan:
                outer = anomaly.set_backward_node(node)
                try:
                    gxs = node.backward(*gys)
                finally:
                    anomaly.set_backward_node(outer)
            else:
                gxs = node.backward(*gys)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if check_nan:
                anomaly.check_backward(node, gxs)
            inputs, needs = node.inputs, node.needs_input_grad
            if len(gxs) != len(inputs):
                raise RuntimeError(
                    f"{node.name()}.backward returned {len(gxs)} gradients for {len(inputs)} inputs"
                )
            for x, gx, need in zip(inputs, gxs, needs):
                if not need or gx is None:
                    continue
                if gx.array.shape != x.array.shape:
                    raise RuntimeError(
                        f"{node.name()}.backward returned a gradient of shape {tuple(gx.shape)} for an "
                        f"input of shape {tuple(x.shape)}"
                    )
                if gx.array.dtype != x.array.dtype:
                    gx = gx.to(x.array.dtype)
                fn = x.grad_fn
                if fn is None:
                    entry = leaf_grads.get(id(x))
                    if entry is None:
                        leaf_grads[id(x)] = [x, gx]
                    else:
                        entry[1] = entry[1] + gx
                else:
                    slot = node_grads.get(fn)
                    if slot is None:
                        slot = node_grads[fn] = [None] * len(fn._out_meta)
                    j = x._out_idx
                    slot[j] = gx if slot[j] is None else slot[j] + gx
            if not retain_graph:
                node._free()
        gys = gxs = gx = None  # drop the loop's references, so leaf gradients can be taken without a copy

        for leaf, g in leaf_grads.values():
            if capture is not None:
                k = captured_leaves.get(id(leaf))
                if k is None:
                    continue  # not asked for: grad() leaves .grad and the hooks of other leaves alone
            if leaf._hooks:
                for h in list(leaf._hooks):
                    new = h(g)
                    if new is not None:
                        g = new
            if capture is not None:
                results[k] = _accumulate(results[k], g)
                continue
            if create_graph:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            elif leaf.grad is None:
                # .grad must own its array: optimizers and clip_grad_norm_ update it in place, and the
                # same gradient Tensor may reach several leaves. Like PyTorch, take the array without a
                # copy when nothing else can see it (saves a large copy per parameter per step).
                a = g.array
                if a.base is None and _getrefcount(a) <= 3 and _getrefcount(g) <= 3 and g.grad_fn is None:
                    leaf.grad = g
                else:
                    leaf.grad = make(a.copy())
            else:
                acc = leaf.grad.array
                if acc.flags.writeable:
                    acc += g.array  # accumulate in place, as PyTorch does
                else:
                    leaf.grad = make(acc + g.array)
    finally:
        _set_grad_enabled(prev_mode)
    return results if capture is not None else None


def _prune(order: list[Function], capture: Sequence[Tensor]) -> tuple[list[Function], set[Function]]:
    """Keep only the nodes that lead to some captured tensor.

    Also returns the nodes that made a captured tensor but whose inputs lead to no other captured
    tensor: the gradient of their output is read, but their backward is not run (nor their saved
    values freed), so ``grad(loss, activation)`` leaves the graph below ``activation`` usable.
    """
    target_nodes = {t.grad_fn for t in capture if t.grad_fn is not None}
    target_leaves = {id(t) for t in capture if t.grad_fn is None}
    feeds: set[Function] = set()  # nodes whose backward sends gradient on towards a captured tensor
    for node in reversed(order):  # producers first
        for x in node.inputs:
            fn = x.grad_fn
            if fn is None:
                hit = id(x) in target_leaves
            else:
                hit = fn in feeds or fn in target_nodes
            if hit:
                feeds.add(node)
                break
    keep = [n for n in order if n in feeds or n in target_nodes]
    return keep, {n for n in target_nodes if n not in feeds}


def _seed_grad(t: Tensor, gradient: Any, who: str) -> Tensor:
    if gradient is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output has shape "
                f"{tuple(t.shape)}; pass gradient= (a tensor of that shape)"
            )
        return _Tensor._make(t.xp.ones(t.shape, dtype=t.dtype))
    if not isinstance(gradient, _Tensor):
        gradient = _Tensor(t.xp.asarray(gradient, dtype=t.dtype))
    if gradient.shape != t.shape:
        raise RuntimeError(
            f"{who}: gradient has shape {tuple(gradient.shape)} but the output has shape {tuple(t.shape)}"
        )
    return gradient


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors`` (see ``Tensor.backward``)."""
    if isinstance(tensors, _Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors]
    else:
        tensors = list(tensors)
        if grad_tensors is None:
            grad_tensors = [None] * len(tensors)
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(
                f"backward: element {i} of tensors does not require grad and does not have a grad_fn "
                f"(shape {tuple(t.shape)}); did you create it under no_grad() or forget requires_grad=True?"
            )
    if isinstance(grad_tensors, _Tensor):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    seeds = [_seed_grad(t, g, "backward") for t, g in zip(tensors, grad_tensors)]
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(list(tensors), seeds, retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    ``grad_outputs`` are the upstream gradients (the vector in a vector-Jacobian
    product), required for non-scalar outputs. With ``create_graph=True`` the
    result is itself differentiable (Hessian-vector products, gradient penalties).
    """
    single_out = isinstance(outputs, _Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, _Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, _Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {tuple(t.shape)}) does not require grad")
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    seeds = [_seed_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outputs, seeds, retain_graph, create_graph, capture=inputs)
    assert res is not None
    for i, r in enumerate(res):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to compute the outputs; "
                "pass allow_unused=True if this is expected"
            )
    return tuple(res)
