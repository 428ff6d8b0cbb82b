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

Fast path. Most backward passes are first order (``create_graph=False``): nothing
needs the graph of the backward itself, so wrapping every intermediate gradient
in a Tensor and dispatching through the ops (binary_operands, Function.__call__,
``_make``) is pure Python overhead, several microseconds per node. For those passes
the engine keeps gradients as raw arrays and calls a node's ``backward_arrays``
when its class defines one (the hot ops do); other nodes get their gradients
wrapped in Tensors and run their ``backward`` under ``no_grad``. The differentiable
``backward`` stays the reference: it is used for ``create_graph=True`` and in
anomaly mode, and tests/test_fast_backward.py checks that both agree on every op
of the op database.
"""

from __future__ import annotations

import itertools as _itertools
import sys as _sys
from collections.abc import Callable, Sequence
from operator import attrgetter as _attrgetter
from typing import TYPE_CHECKING, Any
from weakref import ref as _weakref

import numpy as _np

from .. import anomaly
from ..anomaly import _state as _anomaly_state
from ..grad_mode import _set as _set_grad_enabled
from ..grad_mode import _state as _grad_state
from ..grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from ..tensor import Tensor

_ndarray = _np.ndarray
# Every recorded node gets the next number: a node's inputs were all produced by nodes recorded before
# it (an in-place op re-points a tensor at a *newer* node, but consumers recorded earlier keep their edge
# to the older producer), so decreasing numbers is a valid backward order (see _topological_order).
_next_seq = _itertools.count().__next__
_seq_key = _attrgetter("_seq")
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

    In-place safety: each recorded node keeps the version of its inputs and outputs.
    ``saved_inputs`` (below) declares which input values backward reads; ``saved_output``
    checks the output it returns. A value changed in place since forward makes backward raise.

    Optional fast path for first-order backward passes::

        def backward_arrays(self, *grad_output_arrays) -> array | tuple[array | None, ...]

    the same gradients as ``backward`` computed directly on raw arrays (no Tensors, no graph).
    The engine calls it instead of ``backward`` when ``create_graph=False`` and anomaly mode is
    off. Contract: one array per output in (zeros where no gradient arrived), one array or
    ``None`` per input out (a bare array for a one-input op); never write into the incoming
    arrays (they may be shared with other nodes) and return values equal to ``backward``'s
    (tests/test_fast_backward.py checks this for every op of the op database). Read inputs as
    ``self.inputs[i].array`` (their versions are checked per ``saved_inputs`` before the call)
    and saved outputs through ``self.saved_array(y, i)``. Returning an incoming array unchanged is
    fine: the engine never modifies a gradient array it did not allocate.
    """

    inputs: tuple
    needs_input_grad: tuple
    _freed = False
    # Which inputs' *values* backward reads, for the version-counter check (an in-place change of a
    # saved input between forward and backward raises instead of giving a wrong gradient):
    #   None               every input may be read (the safe default)
    #   ()                 no input values are read, only shapes (add, sum, reshape, getitem ...)
    #   ((1,), (0,))       per input i, the inputs read to compute input i's gradient (mul: a's gradient
    #                      reads b, b's reads a), so ``h.mul_(2)`` on a non-leaf saves nothing it overwrites.
    # Outputs that backward reads go through ``saved_output``, which checks their version itself.
    saved_inputs: tuple | None = None
    # The first-order fast path (see the class docstring); None: the engine wraps the gradients in
    # Tensors and calls ``backward`` under no_grad instead.
    backward_arrays: Callable[..., Any] | None = None

    def __call__(self, *inputs: Tensor) -> Any:
        # This is the hot path of every op: plain loops and attribute reads, no generators. One- and
        # two-input ops (nearly all calls) are unrolled: a list comprehension is a function call of
        # its own on Python 3.11, and this runs once per op.
        n = len(inputs)
        if n == 1:
            a0 = inputs[0].array
            xs: Any = (a0,)
            ys = self.forward(a0)
            needs: Any = (inputs[0]._requires_grad,)
        elif n == 2:
            x0, x1 = inputs
            a0, a1 = x0.array, x1.array
            if type(a1) is not type(a0):
                _device_error(self, inputs)
            xs = (a0, a1)
            ys = self.forward(a0, a1)
            needs = (x0._requires_grad, x1._requires_grad)
        else:
            xs = [x.array for x in inputs]
            if n > 1:
                t0 = type(xs[0])
                for x in xs:
                    if type(x) is not t0:
                        _device_error(self, inputs)
            ys = self.forward(*xs)
            needs = tuple([x._requires_grad for x in inputs])
        make = _Tensor._make
        record = True in needs and _grad_state.enabled
        if type(ys) is not tuple:  # one output: the common case
            if type(ys) is not _ndarray:
                ys = _as_array(ys)
            base = ys.base
            if not record:
                y = make(ys)
                if xs and ((base is not None and (base is xs[0] or base is xs[0].base)) or ys is xs[0]):
                    _mark_view(y, inputs[0], False)
                return y
            self.inputs = inputs
            self.needs_input_grad = needs
            self._seq = _next_seq()
            self._out_meta = ((ys.shape, ys.dtype),)
            # the inputs' versions, for the check before backward (None: all 0, the common case)
            versions = None
            for x in inputs:
                if x._vc is not None:
                    versions = [0 if t._vc is None else t._vc[0] for t in inputs]
                    break
            self._versions = versions
            if _anomaly_state.enabled:
                self._site = anomaly.creation_site()
                anomaly.check_forward(self, (ys,))
            y = make(ys, True, self, 0)
            if (base is not None and (base is xs[0] or base is xs[0].base)) or ys is xs[0]:
                vc = _mark_view(y, inputs[0], True)
                self._out_vcs = {0: (vc, vc[0])}
            return y
        ys = tuple([y if type(y) is _ndarray else _as_array(y) for y in ys])
        outs = [make(y) for y in ys] if not record else [make(y, True, self, i) for i, y in enumerate(ys)]
        x0 = xs[0] if xs else None
        out_vcs = {}
        for i, (y, t) in enumerate(zip(ys, outs)):
            base = y.base
            if x0 is not None and ((base is not None and (base is x0 or base is x0.base)) or y is x0):
                vc = _mark_view(t, inputs[0], record)
                out_vcs[i] = (vc, vc[0])
        if not record:
            return tuple(outs)
        self.inputs = inputs
        self.needs_input_grad = needs
        self._seq = _next_seq()
        self._out_meta = tuple([(y.shape, y.dtype) for y in ys])
        self._versions = [0 if x._vc is None else x._vc[0] for x in inputs]
        if out_vcs:
            self._out_vcs = out_vcs
        if _anomaly_state.enabled:
            self._site = anomaly.creation_site()
            anomaly.check_forward(self, ys)
        return tuple(outs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("forward"), staticmethod):
            _ctx.prepare_class(cls)  # PyTorch-style: F()(x) raises, pointing to F.apply

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """``F.apply(x, ...)`` for a PyTorch-style Function (static ``forward(ctx, ...)``); see ``_ctx``."""
        return _ctx.apply(cls, *args, **kwargs)

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *gys: Tensor) -> Any:
        raise NotImplementedError(f"{self.name()} has no backward")

    # --- helpers for subclasses -------------------------------------------------
    def saved_output(self, y: Any, index: int = 0) -> Tensor:
        """A Tensor for output ``index`` (array ``y`` saved in forward) that belongs to this graph.

        Raises if that output was modified in place since forward (its version moved on).
        """
        watched = self.__dict__.get("_out_vcs")
        if watched is not None and index in watched:
            vc, expected = watched[index]
            if vc[0] != expected:
                raise _version_error(self, "output", index, self._out_meta[index], vc[0], expected)
        return _Tensor._make(y if type(y) is _ndarray else _as_array(y), True, self, index)

    def saved_array(self, y: Any, index: int = 0) -> Any:
        """``saved_output`` for ``backward_arrays``: the array ``y`` (output ``index``, saved in forward),
        after the same check that the output was not modified in place since forward."""
        watched = self.__dict__.get("_out_vcs")
        if watched is not None and index in watched:
            vc, expected = watched[index]
            if vc[0] != expected:
                raise _version_error(self, "output", index, self._out_meta[index], vc[0], expected)
        return y

    def check_outputs(self) -> None:
        """Raise if any output was modified in place since forward: for a backward that reads arrays
        aliasing its outputs directly (the recurrent kernels' saved hidden states) rather than through
        ``saved_output``."""
        for i, (vc, expected) in self.__dict__.get("_out_vcs", {}).items():
            if vc[0] != expected:
                raise _version_error(self, "output", i, self._out_meta[i], vc[0], expected)

    def _watch_output(self, index: int, vc: list[int]) -> None:
        """Output ``index`` just got a version counter (it was viewed, detached or changed in place):
        remember it and its current value, for ``saved_output``/``check_outputs``. Outputs get no
        counter at creation, so an op whose outputs are never touched pays nothing for this."""
        watched = self.__dict__.get("_out_vcs")
        if watched is None:
            watched = self.__dict__["_out_vcs"] = {}
        if index not in watched:
            watched[index] = (vc, vc[0])

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def _free(self) -> None:
        """Drop what forward saved; the node can no longer be back-propagated through.

        (Inlined in ``_run_backward_arrays``: keep the two in step.)"""
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


def _mark_view(view: Tensor, base: Tensor, record: bool) -> list[int]:
    """``view``'s array is a view of ``base``'s: share the version counter, remember the base.

    Recorded views are also listed (weakly) on the root base, so that an in-place op with autograd on
    the base or on one of its views can re-derive the other views' histories (minigrad/inplace.py).
    """
    vc = base._shared_version()
    view._vc = vc
    root = base._base if base._base is not None else base
    view._base = root
    if record:
        views = root.__dict__.get("_views")
        if views is None:
            views = root.__dict__["_views"] = []
        elif len(views) >= 32:  # drop the dead ones (a parameter viewed at every step)
            views[:] = [w for w in views if w() is not None]
        views.append(_weakref(view))
    return vc


def _version_error(
    node: Function, kind: str, index: int, meta: tuple, now: int, expected: int
) -> RuntimeError:
    """PyTorch's error; ``meta`` is the (shape, dtype) of the changed tensor."""
    shape, dtype = meta
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"{node.name()}'s {kind} {index} (a {dtype} tensor of shape {tuple(shape)}) is at version "
        f"{now}; expected version {expected} instead. Hint: the in-place change happened between this op's "
        "forward and backward (an optimizer step, a `+=`, `x[...] = `, an `_`-suffixed method); make it "
        "out of place, or do it after backward()."
    )


def _check_saved_inputs(node: Function, saved: tuple | None) -> None:
    """Raise if an input whose value ``node.backward`` reads was changed in place after forward."""
    inputs, versions = node.inputs, node._versions
    if versions is None:  # every input was at version 0 (had no counter) when recorded
        versions = [0] * len(inputs)
    if saved is None:
        for j, x in enumerate(inputs):
            vc = x._vc
            if vc is not None and vc[0] != versions[j]:
                raise _version_error(node, "input", j, (x.array.shape, x.array.dtype), vc[0], versions[j])
        return
    for reads, need in zip(saved, node.needs_input_grad):
        if need:
            for j in reads:
                vc = inputs[j]._vc
                if vc is not None and vc[0] != versions[j]:
                    a = inputs[j].array
                    raise _version_error(node, "input", j, (a.shape, a.dtype), vc[0], versions[j])


def _position(node: Function, x: Tensor) -> int:
    """The index of ``x`` among ``node``'s inputs (by identity; the slow path, for re-pointed tensors)."""
    for i, y in enumerate(node.inputs):
        if y is x:
            return i
    raise ValueError("not an input of this node")


def _edge(node: Function, i: int, x: Tensor) -> tuple[Function | None, int]:
    """(producer node, output index) of ``node``'s input ``i`` as it was when ``node`` was recorded.

    An in-place op with autograd re-points a tensor at a new producer (``h.mul_(2)``: ``h``'s grad_fn
    becomes the Mul); consumers recorded before it must still send their gradient to the old one.
    """
    hist = x._hist
    if hist is not None:
        v = 0 if node._versions is None else node._versions[i]
        for version, fn, idx in hist:
            if version > v:
                return fn, idx
    return x.grad_fn, x._out_idx


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
    """Nodes reachable from ``roots``, every consumer before its producers.

    A plain search collects the reachable nodes; sorting them by decreasing recording number
    (``_seq``) orders them (a producer is always recorded before its consumers). Cheaper than a
    post-order DFS, which pushes every node twice with a marker tuple, and no recursion (a chain of
    100k nodes is fine).
    """
    visited: set[Function] = set(roots)  # Functions hash by identity
    stack = list(visited)
    while stack:
        node = stack.pop()
        if node._freed:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (op {node.name()}), but its "
                "saved values were freed by the first backward. Pass retain_graph=True to the first "
                "backward() if you need to call it again."
            )
        for x in node.inputs:
            fn = x.grad_fn if x._hist is None else _edge(node, _position(node, x), x)[0]
            if fn is not None and fn not in visited:
                visited.add(fn)
                stack.append(fn)
    return sorted(visited, key=_seq_key, reverse=True)


def _array_module(a: Any) -> Any:
    from ..backend import get_array_module

    return _np if type(a) is _ndarray else get_array_module(a)


def _zeros_for(meta: tuple, like: Tensor) -> Tensor:
    from ..backend import get_array_module

    shape, dtype = meta
    return _Tensor._make(get_array_module(like.array).zeros(shape, dtype=dtype))


def _accumulate(a: Tensor | None, b: Tensor) -> Tensor:
    return b if a is None else a + b


# Whether first-order passes use the array fast path (tests switch it off to compare with the reference).
_fast_state = {"enabled": True}


class reference_backward:
    """Context manager: first-order backward passes use every node's differentiable ``backward`` on
    Tensors (the reference) instead of ``backward_arrays``; for tests and for debugging a fast path."""

    def __enter__(self) -> None:
        self._prev = _fast_state["enabled"]
        _fast_state["enabled"] = False

    def __exit__(self, *exc: Any) -> None:
        _fast_state["enabled"] = self._prev


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

    A first-order pass (no ``create_graph``, no anomaly mode) runs on raw arrays
    (``_run_backward_arrays``); otherwise every gradient is a Tensor and every node's
    differentiable ``backward`` runs (``_run_backward_tensors``).
    """
    if create_graph or not _fast_state["enabled"] or anomaly.is_anomaly_enabled():
        return _run_backward_tensors(roots, root_grads, retain_graph, create_graph, capture)
    return _run_backward_arrays(roots, root_grads, retain_graph, capture)


def _run_backward_tensors(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """The reference engine: gradients are Tensors, each node's ``backward`` is called (recorded when
    ``create_graph``)."""
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
            saved = node.saved_inputs
            if saved is None or saved:
                _check_saved_inputs(node, saved)
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
                if type(gx) is not _Tensor and not isinstance(gx, _Tensor):
                    raise TypeError(
                        f"{node.name()}.backward returned a {type(gx).__module__}.{type(gx).__name__} for "
                        f"input {_position(node, x)}; return a Tensor (wrap an array with "
                        "minigrad.tensor(...)) or None"
                    )
                if gx.array.shape != x.array.shape:
                    raise RuntimeError(
                        f"{node.name()}.backward returned a gradient of shape {tuple(gx.shape)} for an "
                        f"input of shape {tuple(x.shape)}"
                    )
                if gx.array.dtype != x.array.dtype:
                    gx = gx.to(x.array.dtype)
                if x._hist is None:
                    fn, j = x.grad_fn, x._out_idx
                else:
                    fn, j = _edge(node, _position(node, x), x)
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


def _as_grad_arrays(node: Function, gxs: tuple) -> list:
    """The Tensors returned by a node's ``backward`` as arrays (``None`` kept), with the reference engine's
    error for anything else."""
    out = []
    for i, gx in enumerate(gxs):
        if gx is None:
            out.append(None)
            continue
        if type(gx) is not _Tensor and not isinstance(gx, _Tensor):
            raise TypeError(
                f"{node.name()}.backward returned a {type(gx).__module__}.{type(gx).__name__} for "
                f"input {i}; return a Tensor (wrap an array with minigrad.tensor(...)) or None"
            )
        out.append(gx.array)
    return out


def _run_backward_arrays(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Tensor | None] | None:
    """The first-order engine: the same walk as ``_run_backward_tensors`` with every gradient a raw array.

    Nodes with ``backward_arrays`` run it; the others get Tensors around their gradients and run
    ``backward`` (grad mode off, nothing recorded). Tensors are made only where user code sees a
    gradient: hooks, retained ``.grad`` of non-leaves, the leaves' ``.grad`` and ``grad()``'s results.
    Gradients are summed out of place (``a + b``), so a fast path may hand on an incoming array as is.
    """
    node_grads: dict[Function, list] = {}
    leaf_grads: dict[int, list] = {}  # id(leaf) -> [leaf, grad array]
    for t, gt in zip(roots, root_grads):
        g = gt.array
        if t.grad_fn is None:
            entry = leaf_grads.setdefault(id(t), [t, None])
            entry[1] = g if entry[1] is None else entry[1] + g
        else:
            slot = node_grads.setdefault(t.grad_fn, [None] * len(t.grad_fn._out_meta))
            i = t._out_idx
            slot[i] = g if slot[i] is None else slot[i] + g

    order = _topological_order([t.grad_fn for t in roots if t.grad_fn is not None])

    captured_nodes: dict[tuple[int, int], int] = {}
    captured_leaves: dict[int, int] = {}
    capture_only: set[Function] = set()
    results: list[Any] = []
    if capture is not None:
        results = [None] * len(capture)
        for i, t in enumerate(capture):
            if t.grad_fn is None:
                captured_leaves[id(t)] = i
            else:
                captured_nodes[(id(t.grad_fn), t._out_idx)] = i
        order, capture_only = _prune(order, capture)

    prev_mode = is_grad_enabled()
    _set_grad_enabled(False)  # a node without backward_arrays runs its Tensor backward unrecorded
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
                        gt = make(g)
                        for h in list(hooks[i]):
                            new = h(gt)
                            if new is not None:
                                gt = new
                        gys[i] = g = gt.array
                    if retained and i in retained:
                        t = retained[i]()
                        if t is not None:
                            t.grad = make(g.copy() if t.grad is None else t.grad.array + g)
                    if captured_nodes:
                        k = captured_nodes.get((id(node), i))
                        if k is not None:
                            results[k] = g if results[k] is None else results[k] + g
            if capture_only and node in capture_only:
                continue  # only its output's gradient was wanted
            if len(gys) > 1:  # outputs that received no gradient get zeros
                missing = [i for i, g in enumerate(gys) if g is None]
                if len(missing) == len(gys):
                    continue
                xp = _array_module(node.inputs[0].array)
                for i in missing:
                    shape, dtype = node._out_meta[i]
                    gys[i] = xp.zeros(shape, dtype=dtype)
            saved = node.saved_inputs
            if saved is None or saved:
                for x in node.inputs:  # inputs without a version counter were never changed in place
                    if x._vc is not None:
                        _check_saved_inputs(node, saved)
                        break
            fast = node.backward_arrays
            if fast is not None:
                gxs = fast(*gys)
                if type(gxs) is not tuple:
                    gxs = (gxs,)
            else:
                gxs = node.backward(*[make(g) for g in gys])
                gxs = _as_grad_arrays(node, gxs if type(gxs) is tuple else (gxs,))
            inputs, needs = node.inputs, node.needs_input_grad
            if len(gxs) != len(inputs):
                raise RuntimeError(
                    f"{node.name()}.backward returned {len(gxs)} gradients for {len(inputs)} inputs"
                )
            for x, gx, need in zip(inputs, gxs, needs):
                if not need or gx is None:
                    continue
                if type(gx) is not _ndarray:
                    gx = _as_array(gx)  # NumPy ops on 0-d arrays give scalars; CuPy arrays pass
                xa = x.array
                if gx.shape != xa.shape:
                    raise RuntimeError(
                        f"{node.name()}.backward returned a gradient of shape {tuple(gx.shape)} for an "
                        f"input of shape {tuple(xa.shape)}"
                    )
                if gx.dtype != xa.dtype:
                    gx = gx.astype(xa.dtype)
                if x._hist is None:
                    fn, j = x.grad_fn, x._out_idx
                else:
                    fn, j = _edge(node, _position(node, x), x)
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
                    slot[j] = gx if slot[j] is None else slot[j] + gx
            if not retain_graph:  # node._free() inlined (a call per node is measurable here)
                meta, site = d["_out_meta"], d.get("_site")
                d.clear()
                d["_out_meta"], d["_freed"] = meta, True
                if site is not None:
                    d["_site"] = site
        gys = gxs = gx = None  # drop the loop's references, so leaf gradients can be taken without a copy

        for leaf, g in leaf_grads.values():
            if capture is not None:
                k = captured_leaves.get(id(leaf))
                if k is None:
                    continue  # not asked for: grad() leaves .grad and the hooks of other leaves alone
            hooked = False
            if leaf._hooks:
                hooked = True
                gt = make(g)
                for h in list(leaf._hooks):
                    new = h(gt)
                    if new is not None:
                        gt = new
                g = gt.array
            if capture is not None:
                results[k] = g if results[k] is None else results[k] + g
                continue
            if leaf.grad is None:
                # .grad must own its array (optimizers update it in place; one gradient array may reach
                # several leaves). Take it without a copy when nothing else can see it: an array that owns
                # its memory, referenced only by leaf_grads, ``g`` and getrefcount's argument.
                if not hooked and g.base is None and _getrefcount(g) <= 3:
                    leaf.grad = make(g)
                else:
                    leaf.grad = make(g.copy())
            else:
                acc = leaf.grad.array
                if acc.flags.writeable:
                    acc += g  # accumulate in place, as PyTorch does
                else:
                    leaf.grad = make(acc + g)
    finally:
        _set_grad_enabled(prev_mode)
    if capture is None:
        return None
    return [None if r is None else make(r) for r in results]


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
            fn = x.grad_fn if x._hist is None else _edge(node, _position(node, x), x)[0]
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
        gradient = _Tensor._make(t.xp.asarray(gradient, dtype=t.dtype))
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


from . import _ctx  # noqa: E402  (PyTorch-style custom functions; imports Function)
