"""``Tensor``: an array (NumPy or CuPy) plus what autograd needs to know about it.

A tensor is a *leaf* when it was made by the user (``grad_fn is None``); leaves
with ``requires_grad=True`` receive ``.grad`` from ``backward()``. A tensor made
by an op while gradients are recorded has ``grad_fn``: the node of the graph
that produced it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _construct, _printing, autograd
from .autograd import Function, RemovableHandle
from .backend import device, device_of, get_array_module, to_device
from .dtypes import as_dtype, get_default_dtype
from .grad_mode import is_grad_enabled


def _to_array(data: Any, dtype: Any = None, dev: Any = None) -> Any:
    """Array for ``tensor(data)`` following PyTorch's dtype policy."""
    if isinstance(data, Tensor):
        data = data.array
    elif isinstance(data, np.generic):
        data = np.asarray(data)  # a NumPy scalar keeps its dtype, like an array
    if dtype is not None:
        dtype = as_dtype(dtype)
    xp = get_array_module(data)
    if xp is np and not isinstance(data, np.ndarray):
        # Python scalars and (nested) lists: floats -> default float, ints -> int64, bools -> bool
        arr = np.asarray(data)
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(get_default_dtype())
            elif arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
            elif arr.dtype.kind == "b":
                pass
            else:
                raise TypeError(f"tensor: cannot make a tensor from data of dtype {arr.dtype}")
    else:
        arr = data
        if dtype is None and arr.dtype not in _SUPPORTED:
            raise TypeError(f"tensor: unsupported dtype {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if dev is not None:
        arr = to_device(arr, dev)
    return arr


_SUPPORTED = {
    np.dtype(n) for n in ("float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool")
}


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Attributes:
        array: the underlying NumPy or CuPy array (what the engine computes with). Writing
            into it bypasses autograd's safety checks (no version bump).
        data: a Tensor sharing this tensor's memory, with ``requires_grad=False`` and its
            own version counter (PyTorch's ``.data``); see ``detach()`` for the safe variant.
        grad: a Tensor of the same shape, filled in by ``backward()`` (leaves only,
            unless ``retain_grad()`` was called).
        requires_grad: whether ops on this tensor are recorded.
        grad_fn: the node that produced this tensor (``None`` for leaves).
    """

    __slots__ = (
        "array",
        "grad",
        "_requires_grad",
        "grad_fn",
        "_out_idx",
        "_hooks",
        "_retains_grad",
        "_vc",
        "_base",
        "_hist",
        "__weakref__",
        "__dict__",
    )
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected operators

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As ``torch.Tensor(...)``: ``Tensor([1, 2])`` is float32, ``Tensor(2, 3)`` a (2, 3) float tensor of
        zeros (see ``_construct``); ``minigrad.tensor(data)`` keeps the data's dtype."""
        self.array = _construct.tensor_init_args(args, kwargs)
        self.grad: Tensor | None = None
        self._requires_grad = False
        self.grad_fn: Function | None = None
        self._out_idx = 0
        self._hooks: list | None = None
        self._retains_grad = False
        self._vc: list[int] | None = None  # version counter, shared with views; created on first need
        self._base: Tensor | None = None  # the tensor this one is a view of
        self._hist: list | None = None  # earlier producers, when in-place ops re-pointed grad_fn
        if kwargs.get("requires_grad"):
            self.requires_grad = True

    @classmethod
    def _make(
        cls, data: Any, requires_grad: bool = False, grad_fn: Function | None = None, idx: int = 0
    ) -> Tensor:
        """Fast constructor used by the ops: no conversion, no checks."""
        t = object.__new__(cls)
        t.array = data
        t.grad = None
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._out_idx = idx
        t._hooks = None
        t._retains_grad = False
        t._vc = None
        t._base = None
        t._hist = None
        return t

    # --- autograd attributes --------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None and not value:
            raise RuntimeError(
                "requires_grad: you can only change requires_grad of leaf tensors; "
                "use detach() for a non-leaf"
            )
        if value and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                "requires_grad: only floating-point tensors can require gradients, "
                f"got dtype {self.array.dtype}"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def data(self) -> Tensor:
        """A Tensor sharing this memory, not requiring grad, with a version counter of its own.

        Changes made through it are invisible to autograd (as in PyTorch): prefer ``detach()``,
        which shares the version counter, so misuse is caught at ``backward()``.
        """
        return Tensor._make(self.array)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data: the assigned value must be a Tensor, got {type(value).__name__}; "
                "to swap in a raw array use `t.array = a`"
            )
        self.array = value.array

    # --- version counter (in-place safety) ----------------------------------------------------------
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with views and ``detach()``)."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self) -> None:
        """Record an in-place change (every in-place op and optimizer step calls this)."""
        self._shared_version()[0] += 1

    def _shared_version(self) -> list[int]:
        """The version counter itself, created if needed, to share with a view or ``detach()``.

        A tensor gets its counter on first need; its producer node then starts watching it, so that a
        backward reading this output can tell whether it changed (``Function.saved_output``).
        """
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
            if self.grad_fn is not None:
                self.grad_fn._watch_output(self._out_idx, vc)
        return vc

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def detach(self) -> Tensor:
        """A tensor sharing this memory and version counter, cut from the graph (``requires_grad=False``).

        In-place changes through it bump the original's version, so a backward that needs the old
        values raises; ``.data`` is the same without that protection.
        """
        t = Tensor._make(self.array)
        t._vc = self._shared_version()
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after ``backward()`` (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if "_retained" not in node.__dict__:
            node._retained = {}
        node._retained[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            if "_out_hooks" not in node.__dict__:
                node._out_hooks = {}
            hooks = node._out_hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: upstream gradient, same shape as ``self``; may be omitted for a scalar.
            retain_graph: keep the graph's saved values so backward can run again
                (defaults to ``create_graph``).
            create_graph: record the backward pass itself, for higher-order gradients.
            inputs: accumulate only into these leaves.
        """
        if inputs is not None:
            gs = autograd.grad(self, list(inputs), gradient, retain_graph, create_graph, allow_unused=True)
            for t, g in zip(inputs, gs):
                if g is None:
                    continue
                if create_graph:
                    t.grad = g if t.grad is None else t.grad + g
                else:  # a fresh array, as backward() gives: one gradient Tensor may reach several inputs
                    t.grad = Tensor._make(g.array.copy() if t.grad is None else t.grad.array + g.array)
            return
        autograd.backward(self, gradient, retain_graph, create_graph)

    # --- array attributes -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    def size(self, dim: int | None = None) -> Any:
        """``shape`` (as a tuple) or the size of one dimension, like PyTorch's ``Tensor.size``."""
        return self.array.shape if dim is None else self.array.shape[dim]

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> device:
        return device_of(self.array)

    @property
    def xp(self) -> Any:
        """The array module (numpy or cupy) that owns ``data``."""
        return get_array_module(self.array)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def item(self) -> Any:
        if self.array.size != 1:
            raise RuntimeError(
                f"item: only one-element tensors can be converted to a Python scalar, "
                f"got shape {tuple(self.shape)}"
            )
        return self.array.reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array on the host (shares memory on the CPU, as in PyTorch)."""
        return to_device(self.array, "cpu")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)``; differentiable."""
        dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (device, str)) and (
                not isinstance(a, str) or a.split(":")[0] in ("cpu", "cuda")
            ):
                dev = a
            else:
                dtype = a
        out = self
        if dtype is not None:
            out = _ops.cast(out, as_dtype(dtype))
        if dev is not None:
            out = _ops.to_device(out, device(dev))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> Tensor:
        return self.to("cuda" if index is None else f"cuda:{index}")

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def half(self) -> Tensor:
        return self.to(np.float16)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def __repr__(self) -> str:
        body = _printing.format_array(self.numpy(), "tensor(")
        extra = []
        if self.dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
            extra.append(f"dtype={self.dtype}")
        if self.device.type != "cpu":
            extra.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor with {self.array.size} elements is "
                "ambiguous; use .any() or .all()"
            )
        return bool(self.array.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # --- operators ------------------------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor:
        return _ops.add(self, o)

    def __radd__(self, o: Any) -> Tensor:
        return _ops.add(o, self)

    def __sub__(self, o: Any) -> Tensor:
        return _ops.sub(self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return _ops.sub(o, self)

    def __mul__(self, o: Any) -> Tensor:
        return _ops.mul(self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return _ops.mul(o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return _ops.div(self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return _ops.div(o, self)

    def __pow__(self, o: Any) -> Tensor:
        return _ops.pow(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return _ops.pow(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        return _ops.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return _ops.matmul(o, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __lt__(self, o: Any) -> Tensor:
        return _ops.lt(self, o)

    def __le__(self, o: Any) -> Tensor:
        return _ops.le(self, o)

    def __gt__(self, o: Any) -> Tensor:
        return _ops.gt(self, o)

    def __ge__(self, o: Any) -> Tensor:
        return _ops.ge(self, o)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ops.eq(self, o)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ops.ne(self, o)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, o: Any) -> Tensor:
        return _ops.logical_and(self, o)

    def __or__(self, o: Any) -> Tensor:
        return _ops.logical_or(self, o)

    # --- in-place updates: the arithmetic ones (add_, +=, x[i] = v, relu_ ...) are in inplace.py ---------
    def _check_inplace(self, name: str) -> None:
        """In-place random fills have no gradient: they are for leaves under no_grad (initialisers)."""
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"{name}: a tensor that requires grad (shape {tuple(self.shape)}) is being filled in place "
                "with autograd on; do it under `with minigrad.no_grad():`"
            )

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        from .random import _uniform

        self._check_inplace("uniform_")
        self.array[...] = _uniform(self.xp, a, b, self.shape, self.dtype)
        self._bump_version()
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        from .random import _normal

        self._check_inplace("normal_")
        self.array[...] = _normal(self.xp, mean, std, self.shape, self.dtype)
        self._bump_version()
        return self

    # --- methods that mirror the functional ops (filled in by ops/__init__.py) -------------------


autograd._Tensor = Tensor

from . import ops as _ops  # noqa: E402  (the ops need Tensor; Tensor's methods need the ops)
