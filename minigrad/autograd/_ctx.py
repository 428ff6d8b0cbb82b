"""PyTorch-style custom functions: static ``forward(ctx, ...)`` / ``backward(ctx, ...)`` and ``F.apply``.

minigrad's own ops subclass :class:`Function` with *instance* methods: ``forward(self, *arrays)``
on raw arrays, ``backward(self, *grads)`` on Tensors, called as ``Op()(x)``. A class whose
``forward`` is a ``staticmethod`` is PyTorch-style instead::

    class Cube(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):            # Tensors in, Tensor(s) out; runs under no_grad
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, gy):            # Tensors in, one gradient (or None) per forward input
            (x,) = ctx.saved_tensors
            return gy * 3 * ctx.k * x ** 2, None

    y = Cube.apply(x, 2.0)

The node placed in the graph is a :class:`CtxFunction` (an ordinary minigrad ``Function``)
that holds a :class:`FunctionCtx` and calls the user's static methods. Saved inputs come back
from ``ctx.saved_tensors`` as the very input Tensors and saved outputs as graph outputs, so a
``backward`` written with differentiable ops supports double backward. The PyTorch 2 variant
with ``forward(*args)`` (no ctx) plus ``setup_context(ctx, inputs, output)`` works too.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..grad_mode import is_grad_enabled, no_grad
from . import Function


def is_ctx_style(cls: type) -> bool:
    """True for a PyTorch-style Function: its ``forward`` is a ``staticmethod``."""
    return isinstance(inspect.getattr_static(cls, "forward", None), staticmethod)


def _uses_setup_context(cls: type) -> bool:
    return isinstance(inspect.getattr_static(cls, "setup_context", None), staticmethod)


def _ctx_style_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    name = type(self).__name__
    raise TypeError(
        f"{name} is a PyTorch-style Function (static forward(ctx, ...)): call it as {name}.apply(x, ...), "
        f"not {name}()(x, ...)"
    )


def prepare_class(cls: type) -> None:
    """Called from ``Function.__init_subclass__``: ``F()(x)`` on a PyTorch-style class gets a clear error."""
    if is_ctx_style(cls) and "__call__" not in cls.__dict__:
        cls.__call__ = _ctx_style_call  # type: ignore[attr-defined]


class FunctionCtx:
    """The ``ctx`` of a PyTorch-style Function: what ``forward`` leaves for ``backward``.

    Attributes set by the user (``ctx.k = k``) are kept as they are. ``needs_input_grad`` has one
    bool per forward argument (``False`` for non-Tensors).
    """

    def __init__(self, fn_cls: type, needs_input_grad: tuple[bool, ...]) -> None:
        self._fn_cls = fn_cls
        self.needs_input_grad = needs_input_grad
        self._to_save: tuple = ()
        self._saved: tuple | None = None
        self._non_differentiable: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep Tensors (inputs, outputs or intermediates, or ``None``) for ``backward``."""
        from ..tensor import Tensor

        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"{self._fn_cls.__name__}.save_for_backward: argument {i} is a {type(t).__name__}; only "
                    "Tensors (or None) can be saved; store other values as attributes (ctx.k = k)"
                )
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; saved inputs/outputs are part of the graph."""
        if self._saved is None:
            raise RuntimeError(
                f"{self._fn_cls.__name__}: saved_tensors is only available in backward (after forward ran)"
            )
        out = []
        for k, (kind, t, version) in enumerate(self._saved):
            if kind == "output":  # the node's saved_output checks the output's version itself
                out.append(self._node.saved_output(t, version))
                continue
            if t is not None and t._version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: {self._fn_cls.__name__}'s saved tensor {k} (shape {tuple(t.shape)}) is at "
                    f"version {t._version}; expected version {version} instead"
                )
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Outputs (returned by forward) that get ``requires_grad=False``; their gradient is always zero."""
        self._non_differentiable = outputs

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for PyTorch compatibility; minigrad always passes zeros for missing output gradients."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Any) -> None:
        raise NotImplementedError(
            f"{self._fn_cls.__name__}: mark_dirty (in-place custom functions) is not supported; return a new "
            "Tensor from forward instead"
        )


class CtxFunction(Function):
    """The graph node of a PyTorch-style Function call: forwards to the user's static methods.

    ``inputs`` are the Tensor arguments of ``F.apply`` (in order); the other arguments are kept
    in their positions and passed to ``forward`` unchanged.
    """

    __slots__ = ("_fn_cls",)  # a slot survives Function._free, so name() still works after backward

    def __init__(self, fn_cls: type, args: tuple, kwargs: dict) -> None:
        self._fn_cls = fn_cls
        self._args = args
        self._kwargs = kwargs

    def name(self) -> str:  # type: ignore[override]  (the user's class, not the adapter)
        return self._fn_cls.__name__

    def forward(self, *arrays: Any) -> Any:
        from ..tensor import Tensor

        cls, args = self._fn_cls, self._args
        enabled = is_grad_enabled()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad and enabled for a in args)
        ctx = self.ctx = FunctionCtx(cls, needs)
        with no_grad():
            if _uses_setup_context(cls):
                out = cls.forward(*args, **self._kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **self._kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise TypeError(
                    f"{cls.__name__}.forward returned a {_type_name(o)} as output {i}; return a Tensor or a "
                    "tuple of Tensors (wrap arrays with mg.tensor)"
                )
        self._outs = outs
        return outs[0].array if single else tuple(o.array for o in outs)

    def _finish(self, result: Any) -> Any:
        """After Function.__call__: resolve saved tensors against the graph, apply mark_non_differentiable."""
        ctx: FunctionCtx = self.ctx
        outs = self._outs
        results = result if isinstance(result, tuple) else (result,)
        recorded = "inputs" in self.__dict__
        if recorded:
            ctx._node = self  # a cycle node -> ctx -> node, broken when backward frees the node
        ctx._saved = tuple(self._resolve(t, outs, recorded) for t in ctx._to_save)
        ctx._to_save = ()
        for m in ctx._non_differentiable:
            for k, o in enumerate(outs):
                if o is m:
                    r = results[k]
                    r._requires_grad, r.grad_fn = False, None
        del self._outs
        return result

    def _resolve(self, t: Any, outs: tuple, recorded: bool) -> tuple:
        """(kind, what, version or output index) for one saved tensor."""
        if t is None:
            return ("tensor", None, 0)
        for a in self._args:
            if a is t:  # an input: the Tensor itself, so backward's ops reach the graph
                return ("tensor", a, a._version)
        if recorded:
            for k, o in enumerate(outs):
                if o is t:  # an output: the graph's output Tensor, through saved_output
                    return ("output", o.array, k)
        return ("tensor", t, t._version)

    def backward(self, *gys: Any) -> Any:
        from ..tensor import Tensor

        cls, args = self._fn_cls, self._args
        gxs = cls.backward(self.ctx, *gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        n = len(args)
        if len(gxs) < n or any(g is not None for g in gxs[n:]):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(gxs)} gradients, expected {n} (one per forward "
                "argument, None for non-Tensor arguments)"
            )
        out = []
        for i, (a, g) in enumerate(zip(args, gxs)):
            if isinstance(a, Tensor):
                if g is not None and not isinstance(g, Tensor):
                    raise TypeError(
                        f"{cls.__name__}.backward returned a {_type_name(g)} for input {i}; return a Tensor "
                        "(wrap an array with minigrad.tensor(...)) or None"
                    )
                out.append(g)
            elif g is not None:
                raise RuntimeError(
                    f"{cls.__name__}.backward returned a gradient for input {i}, which is not a Tensor "
                    f"({type(a).__name__}); return None there"
                )
        return tuple(out)


def _type_name(x: Any) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__name__}"


def apply(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``F.apply(*args)`` for a PyTorch-style Function ``F``: run forward, record one node."""
    from ..tensor import Tensor

    if not is_ctx_style(cls):
        name = cls.__name__
        raise TypeError(
            f"{name} is a minigrad-style Function (forward(self, *arrays) on raw arrays): call it as "
            f"{name}()(x, ...), not {name}.apply(...); or make forward/backward @staticmethods taking ctx"
        )
    if not isinstance(inspect.getattr_static(cls, "backward", None), staticmethod):
        raise TypeError(
            f"{cls.__name__}: a PyTorch-style Function needs a @staticmethod backward(ctx, *grads)"
        )
    node = CtxFunction(cls, args, kwargs)
    tensors = [a for a in args if isinstance(a, Tensor)]
    return node._finish(Function.__call__(node, *tensors))
