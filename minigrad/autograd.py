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

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as _np

from . import anomaly
from .grad_mode import _set as _set_grad_enabled
from .grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from .tensor import Tensor

_ndarray = _np.ndarray
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
        xs = [x.data for x in inputs]
        if len(xs) > 1:
            t0 = type(xs[0])
            for x in xs:
                if type(x) is not t0:
                    _device_error(self, inputs)
        ys = self.forward(*xs)
        multi = type(ys) is tuple
        if not multi:
            ys = (ys,)
        ys = tuple(y if type(y) is _ndarray else _as_array(y) for y in ys)
        make = _Tensor._make
        if is_grad_enabled():
            for x in inputs:
                if x.requires_grad:
                    break
            else:
                outs = tuple(make(y) for y in ys)
                return outs if multi else outs[0]
            self.inputs = inputs
            self.needs_input_grad = tuple(x.requires_grad for x in inputs)
            self._out_meta = tuple((y.shape, y.dtype) for y in ys)
            if anomaly.is_anomaly_enabled():
                self._site = anomaly.creation_site()
                anomaly.check_forward(self, ys)
            outs = tuple(make(y, True, self, i) for i, y in enumerate(ys))
        else:
            outs = tuple(make(y) for y in ys)
        return outs if multi else outs[0]

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
        keep = {"_out_meta": self._out_meta, "_freed": True}
        site = self.__dict__.get("_site")
        self.__dict__.clear()
        self.__dict__.update(keep)
        if site is not None:
            self._site = site

    def __repr__(self) -> str:
        return f"<{self.name()} node>"


def _as_array(y: Any) -> Any:
    """NumPy turns 0-d results into scalars; make them arrays again (CuPy arrays pass through)."""
    return _np.asarray(y) if isinstance(y, (_np.generic, float, int, bool)) else y


def _device_error(fn: Function, inputs: Sequence[Tensor]) -> None:
    from .backend import device_of

    if len({str(device_of(t.data)) for t in inputs}) == 1:
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
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node._freed:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op {node.name()}), but its "
                "saved values were freed by the first backward. Pass retain_graph=True to the first "
                "backward() if you need to call it again."
            )
        stack.append((node, True))
        for x in node.inputs:
            fn = x.grad_fn
            if fn is not None and id(fn) not in visited:
                stack.append((fn, False))
    order.reverse()
    return order


def _zeros_for(meta: tuple, like: Tensor) -> Tensor:
    from .backend import get_array_module

    shape, dtype = meta
    return _Tensor._make(get_array_module(like.data).zeros(shape, dtype=dtype))


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
    results: list[Tensor | None] = []
    if capture is not None:
        results = [None] * len(capture)
        for i, t in enumerate(capture):
            if t.grad_fn is None:
                captured_leaves[id(t)] = i
            else:
                captured_nodes[(id(t.grad_fn), t._out_idx)] = i
        order = _prune(order, capture)

    check_nan = anomaly.is_anomaly_enabled()
    prev_mode = is_grad_enabled()
    _set_grad_enabled(create_graph)
    try:
        for node in order:
            gys = node_grads.pop(node, None)
            if gys is None:
                continue
            hooks = node.__dict__.get("_out_hooks")
            for i, g in enumerate(gys):
                if g is None:
                    continue
                if hooks and i in hooks:
                    for h in list(hooks[i]):
                        new = h(g)
                        if new is not None:
                            g = new
                    gys[i] = g
                retained = node.__dict__.get("_retained")
                if retained and i in retained:
                    t = retained[i]()
                    if t is not None:
                        t.grad = g if t.grad is None or create_graph else t.grad + g
                if captured_nodes:
                    k = captured_nodes.get((id(node), i))
                    if k is not None:
                        results[k] = _accumulate(results[k], g)
            if all(g is None for g in gys):
                continue
            gys = [g if g is not None else _zeros_for(m, node.inputs[0]) for g, m in zip(gys, node._out_meta)]
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
                if gx.shape != x.shape:
                    raise RuntimeError(
                        f"{node.name()}.backward returned a gradient of shape {tuple(gx.shape)} for an "
                        f"input of shape {tuple(x.shape)}"
                    )
                if gx.dtype != x.dtype:
                    gx = gx.to(x.dtype)
                fn = x.grad_fn
                if fn is None:
                    entry = leaf_grads.setdefault(id(x), [x, None])
                    entry[1] = _accumulate(entry[1], gx)
                else:
                    slot = node_grads.get(fn)
                    if slot is None:
                        slot = node_grads[fn] = [None] * len(fn._out_meta)
                    slot[x._out_idx] = _accumulate(slot[x._out_idx], gx)
            if not retain_graph:
                node._free()

        for leaf, g in leaf_grads.values():
            if leaf._hooks:
                for h in list(leaf._hooks):
                    new = h(g)
                    if new is not None:
                        g = new
            if capture is not None:
                k = captured_leaves.get(id(leaf))
                if k is not None:
                    results[k] = _accumulate(results[k], g)
                continue
            if leaf.grad is None:
                # a fresh array: the same gradient Tensor may reach several leaves, and
                # optimizers and clip_grad_norm_ update .grad in place
                leaf.grad = g if create_graph else _Tensor._make(g.data.copy())
            else:
                leaf.grad = leaf.grad + g if create_graph else _Tensor._make(leaf.grad.data + g.data)
    finally:
        _set_grad_enabled(prev_mode)
    return results if capture is not None else None


def _prune(order: list[Function], capture: Sequence[Tensor]) -> list[Function]:
    """Keep only the nodes from which some captured tensor can be reached."""
    target_nodes = {id(t.grad_fn) for t in capture if t.grad_fn is not None}
    target_leaves = {id(t) for t in capture if t.grad_fn is None}
    useful: set[int] = set()
    for node in reversed(order):  # producers first
        if id(node) in target_nodes:
            useful.add(id(node))
            continue
        for x in node.inputs:
            if (x.grad_fn is None and id(x) in target_leaves) or (
                x.grad_fn is not None and id(x.grad_fn) in useful
            ):
                useful.add(id(node))
                break
    return [n for n in order if id(n) in useful]


def _seed_grad(t: Tensor, gradient: Any, who: str) -> Tensor:
    if gradient is None:
        if t.data.size != 1:
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
    elif grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn "
                f"(shape {tuple(t.shape)}); did you create it under no_grad() or forget requires_grad=True?"
            )
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
