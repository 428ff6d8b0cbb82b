"""Broadcasting arithmetic, dtype/device moves, and the two broadcast ops every backward relies on.

Broadcasting rule for every binary op: if ``x`` was broadcast to the output shape,
its gradient is the upstream gradient summed back to ``x.shape`` (``sum_to``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import device, get_array_module, to_device
from ..tensor import Tensor
from ._util import as_tensor_like, binary_operands, check_broadcast


# --- broadcasting -----------------------------------------------------------------------------
def _sum_to_array(xp: Any, y: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``y`` over the axes along which ``shape`` was broadcast up to ``y.shape``."""
    lead = y.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and y.shape[i + lead] != 1
    )
    if axes:
        y = y.sum(axis=axes, keepdims=True)
    if lead:
        y = y.reshape(shape)
    return y


def unbroadcast_array(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` summed back to ``shape`` (the array twin of ``_unbroadcast``, for ``backward_arrays``)."""
    return g if g.shape == shape else _sum_to_array(None, g, shape)


class SumTo(Function):
    """y = x summed down to ``shape`` (the reverse of broadcasting). dx = broadcast_to(dy, x.shape)."""

    saved_inputs = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        return _sum_to_array(get_array_module(x), x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)

    def backward_arrays(self, gy: Any) -> Any:
        return get_array_module(gy).broadcast_to(gy, self.inputs[0].array.shape)


class BroadcastTo(Function):
    """y = x broadcast to ``shape``. dx = sum_to(dy, x.shape)."""

    saved_inputs = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)

    def backward_arrays(self, gy: Any) -> Any:
        return unbroadcast_array(gy, self.inputs[0].array.shape)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``x`` down to ``shape`` (the shape it was broadcast from)."""
    if tuple(x.shape) == tuple(shape):
        return x
    return SumTo(shape)(x)


def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``x`` broadcast to ``shape`` without copying (PyTorch's ``broadcast_to``/``expand``)."""
    shape = tuple(int(s) for s in shape)
    if tuple(x.shape) == shape:
        return x
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape}") from None
    return BroadcastTo(shape)(x)


def _unbroadcast(g: Tensor, x: Tensor) -> Tensor:
    shape = x.array.shape  # .array.shape, not .shape (a Size): this runs in every binary op's backward
    return g if g.array.shape == shape else sum_to(g, shape)


# --- + - * / --------------------------------------------------------------------------------
class Add(Function):
    """y = a + b.  da = dy, db = dy (each summed back to its shape)."""

    saved_inputs = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return _unbroadcast(gy, a) if need_a else None, _unbroadcast(gy, b) if need_b else None

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (unbroadcast_array(gy, a.array.shape) if need_a else None,
                unbroadcast_array(gy, b.array.shape) if need_b else None)


class Sub(Function):
    """y = a - b.  da = dy, db = -dy."""

    saved_inputs = ()

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        gb = _unbroadcast(neg(gy), b) if self.needs_input_grad[1] else None
        return _unbroadcast(gy, a) if self.needs_input_grad[0] else None, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        # -sum(g) == sum(-g) exactly (rounding is symmetric in sign): negate the smaller array
        return (unbroadcast_array(gy, a.array.shape) if need_a else None,
                -unbroadcast_array(gy, b.array.shape) if need_b else None)


class Mul(Function):
    """y = a * b.  da = dy * b, db = dy * a."""

    saved_inputs = ((1,), (0,))

    def forward(self, a: Any, b: Any) -> Any:
        return a * b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        ga = _unbroadcast(gy * b, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(gy * a, b) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs[0].array, self.inputs[1].array
        need_a, need_b = self.needs_input_grad
        return (unbroadcast_array(gy * b, a.shape) if need_a else None,
                unbroadcast_array(gy * a, b.shape) if need_b else None)


class Div(Function):
    """y = a / b.  da = dy / b, db = -dy * a / b**2."""

    saved_inputs = ((1,), (0, 1))

    def forward(self, a: Any, b: Any) -> Any:
        return a / b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        ga = _unbroadcast(gy / b, a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(neg(gy) * a / (b * b), b) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs[0].array, self.inputs[1].array
        need_a, need_b = self.needs_input_grad
        return (unbroadcast_array(gy / b, a.shape) if need_a else None,
                unbroadcast_array(-gy * a / (b * b), b.shape) if need_b else None)


class Neg(Function):
    """y = -x.  dx = -dy."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return neg(gy)

    def backward_arrays(self, gy: Any) -> Any:
        return -gy


def _binary(cls: type[Function], op: str, a: Any, b: Any) -> Tensor:
    # The common cases inline (each saves microseconds per op on small arrays): two Tensors of one
    # dtype (nothing to convert), and a float Tensor with a Python float (``x * 0.5``, ``1.0 - p``),
    # which becomes a 0-d array of the Tensor's dtype (PyTorch's rule; a 0-d operand always broadcasts).
    if type(a) is Tensor:
        if type(b) is Tensor:
            if a.array.dtype is b.array.dtype:
                if a.array.shape != b.array.shape:
                    check_broadcast(op, a, b)
                return cls()(a, b)
        elif type(b) is float and a.array.dtype.kind == "f":
            return cls()(a, as_tensor_like(b, a))
    elif type(a) is float and type(b) is Tensor and b.array.dtype.kind == "f":
        return cls()(as_tensor_like(a, b), b)
    a, b = binary_operands(op, a, b)
    if a.array.shape != b.array.shape:
        check_broadcast(op, a, b)
    return cls()(a, b)


def add(a: Any, b: Any, alpha: float = 1) -> Tensor:
    """a + alpha * b, broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    return _binary(Add, "add", a, b)


def sub(a: Any, b: Any, alpha: float = 1) -> Tensor:
    """a - alpha * b, broadcasting."""
    if alpha != 1:
        b = mul(b, alpha)
    return _binary(Sub, "sub", a, b)


def mul(a: Any, b: Any) -> Tensor:
    """Elementwise a * b, broadcasting."""
    return _binary(Mul, "mul", a, b)


def div(a: Any, b: Any) -> Tensor:
    """Elementwise a / b (true division; integer tensors give float32)."""
    a, b = binary_operands("div", a, b)
    if a.dtype.kind != "f":
        from ..dtypes import get_default_dtype

        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    if a.shape != b.shape:
        check_broadcast("div", a, b)
    return Div()(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg()(x)


# --- powers -----------------------------------------------------------------------------------
class PowScalar(Function):
    """y = x ** c for a constant c.  dx = dy * c * x ** (c - 1)."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: Any) -> Any:
        return x**self.c

    def backward(self, gy: Tensor) -> Tensor:
        x, c = self.inputs[0], self.c
        if c == 0:
            return gy * 0.0
        if c == 1:
            return gy
        if c == 2:
            return gy * (x * 2.0)
        return gy * (pow(x, c - 1) * float(c))

    def backward_arrays(self, gy: Any) -> Any:
        x, c = self.inputs[0].array, self.c
        if c == 0:
            return gy * 0.0
        if c == 1:
            return gy
        if c == 2:
            return gy * (x * 2.0)
        return gy * (x ** (c - 1) * float(c))


class RPowScalar(Function):
    """y = c ** x for a constant c > 0.  dx = dy * y * log(c)."""

    saved_inputs = ()

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).power(x.dtype.type(self.c), x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.saved_output(self.y) * float(np.log(self.c))

    def backward_arrays(self, gy: Any) -> Any:
        return gy * self.saved_array(self.y) * float(np.log(self.c))


class Pow(Function):
    """y = a ** b.  da = dy * b * a**(b-1) (0 where b == 0), db = dy * y * log(a) (0 where a <= 0)."""

    def forward(self, a: Any, b: Any) -> Any:
        self.y = a**b
        return self.y

    def backward(self, gy: Tensor) -> tuple:
        from .unary import log, where

        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:  # 0 where b == 0 (not 0 * 0^-1 = nan at a == 0), as in PyTorch
            ga = _unbroadcast(where(b.detach() == 0, 0.0, gy * b * pow(a, b - 1.0)), a)
        if self.needs_input_grad[1]:
            safe = a.detach() > 0
            loga = log(where(safe, a, 1.0))
            gb = _unbroadcast(where(safe, gy * self.saved_output(self.y) * loga, 0.0), b)
        return ga, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs[0].array, self.inputs[1].array
        xp = get_array_module(a)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast_array(xp.where(b == 0, 0.0, gy * b * a ** (b - 1.0)), a.shape)
        if self.needs_input_grad[1]:
            safe = a > 0
            loga = xp.log(xp.where(safe, a, 1.0))
            gb = unbroadcast_array(xp.where(safe, gy * self.saved_array(self.y) * loga, 0.0), b.shape)
        return ga, gb


def pow(x: Any, exponent: Any) -> Tensor:
    """x ** exponent; either may be a Python number."""
    if isinstance(x, Tensor) and not isinstance(exponent, Tensor):
        if x.dtype.kind != "f" and isinstance(exponent, float):
            from ..dtypes import get_default_dtype

            x = x.to(get_default_dtype())
        return PowScalar(exponent)(x)
    if not isinstance(x, Tensor) and isinstance(exponent, Tensor) and isinstance(x, (int, float)):
        if x <= 0:
            raise ValueError(f"pow: a scalar base must be positive to differentiate c ** x, got {x}")
        e = exponent if exponent.dtype.kind == "f" else exponent.to("float32")
        return RPowScalar(x)(e)
    return _binary(Pow, "pow", x, exponent)


# --- abs, sign ----------------------------------------------------------------------------------
class Abs(Function):
    """y = |x|.  dx = dy * sign(x) (0 at x == 0, as in PyTorch)."""

    def forward(self, x: Any) -> Any:
        return get_array_module(x).abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * Tensor._make(x.xp.sign(x.array))

    def backward_arrays(self, gy: Any) -> Any:
        x = self.inputs[0].array
        return gy * get_array_module(x).sign(x)


def abs(x: Tensor) -> Tensor:
    return Abs()(x)


def sign(x: Tensor) -> Tensor:
    """Elementwise sign; not differentiable (its derivative is zero almost everywhere)."""
    return Tensor._make(x.xp.sign(x.array))


def floor(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.floor(x.array))


def ceil(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.ceil(x.array))


def round(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.round(x.array))


# --- dtype and device -------------------------------------------------------------------------
class Cast(Function):
    """y = x converted to ``dtype``.  dx = dy converted back to x's dtype."""

    saved_inputs = ()

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return cast(gy, self.inputs[0].dtype)

    def backward_arrays(self, gy: Any) -> Any:
        return gy.astype(self.inputs[0].array.dtype)


def cast(x: Tensor, dtype: Any) -> Tensor:
    if x.dtype == dtype:
        return x
    if x.requires_grad and np.dtype(dtype).kind != "f":
        return Tensor._make(x.array.astype(dtype))  # integer results carry no gradient
    return Cast(dtype)(x)


class ToDevice(Function):
    """y = x copied to another device.  dx = dy copied back."""

    saved_inputs = ()

    def __init__(self, dev: device) -> None:
        self.dev = dev

    def forward(self, x: Any) -> Any:
        from ..backend import device_of

        self.src = device_of(x)
        return to_device(x, self.dev)

    def backward(self, gy: Tensor) -> Tensor:
        return to_device_op(gy, self.src)


def to_device_op(x: Tensor, dev: device) -> Tensor:
    if x.device == dev and x.device.index == device(dev).index:
        return x
    return ToDevice(device(dev))(x)


class Clone(Function):
    """y = a copy of x.  dx = dy."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy

    def backward_arrays(self, gy: Any) -> Any:
        return gy


def clone(x: Tensor) -> Tensor:
    return Clone()(x)
