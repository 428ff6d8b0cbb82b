"""Elementwise math, activations, clamping, selection (maximum/minimum/where), comparisons, dropout.

Every backward is the chain rule ``dx = dy * f'(x)`` with ``f'`` written in
differentiable ops, so second derivatives come from differentiating ``f'``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import as_tensor_like, binary_operands, check_broadcast
from .arithmetic import _unbroadcast, unbroadcast_array

_make = Tensor._make


def _const(x: Tensor, array: Any) -> Tensor:
    """A constant (no-grad) tensor, e.g. a mask, on x's device."""
    return _make(array)


# --- exp / log family ---------------------------------------------------------------------------
class Exp(Function):
    """y = e^x.  dx = dy * y."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.saved_output(self.y)

    def backward_arrays(self, gy: Any) -> Any:
        return gy * self.saved_array(self.y)


class Log(Function):
    """y = ln x.  dx = dy / x."""

    def forward(self, x: Any) -> Any:
        return get_array_module(x).log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]

    def backward_arrays(self, gy: Any) -> Any:
        return gy / self.inputs[0].array


class Log1p(Function):
    """y = ln(1 + x), accurate for small x.  dx = dy / (1 + x)."""

    def forward(self, x: Any) -> Any:
        return get_array_module(x).log1p(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.inputs[0] + 1.0)

    def backward_arrays(self, gy: Any) -> Any:
        return gy / (self.inputs[0].array + 1.0)


class Sqrt(Function):
    """y = sqrt(x).  dx = dy / (2 y)."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.saved_output(self.y) * 2.0)

    def backward_arrays(self, gy: Any) -> Any:
        return gy / (self.saved_array(self.y) * 2.0)


class Sin(Function):
    """y = sin x.  dx = dy * cos x."""

    def forward(self, x: Any) -> Any:
        return get_array_module(x).sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * cos(self.inputs[0])

    def backward_arrays(self, gy: Any) -> Any:
        x = self.inputs[0].array
        return gy * get_array_module(x).cos(x)


class Cos(Function):
    """y = cos x.  dx = -dy * sin x."""

    def forward(self, x: Any) -> Any:
        return get_array_module(x).cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        return -(gy * sin(self.inputs[0]))

    def backward_arrays(self, gy: Any) -> Any:
        x = self.inputs[0].array
        return -(gy * get_array_module(x).sin(x))


class Tanh(Function):
    """y = tanh x.  dx = dy * (1 - y^2)."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return gy * (1.0 - y * y)

    def backward_arrays(self, gy: Any) -> Any:
        y = self.saved_array(self.y)
        return gy * (1.0 - y * y)


_expit: list = []  # [scipy.special.expit or None], looked up on first use (scipy is optional)


def _sigmoid_array(xp: Any, x: Any) -> Any:
    """1 / (1 + e^-x) without overflow: uses e^-|x| <= 1 on both branches.

    On NumPy, SciPy's ``expit`` computes the same in one ufunc (within 2 ulp), ~10x faster than the eight
    ufunc calls below on the small arrays of RL networks, where the per-call cost is what counts.
    """
    if xp is np:
        if not _expit:
            try:
                from scipy.special import expit
            except ImportError:  # pragma: no cover - scipy comes with scikit-learn
                expit = None
            _expit.append(expit)
        if _expit[0] is not None:
            y = _expit[0](x)
            return y if y.dtype == x.dtype else y.astype(x.dtype)
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).  dx = dy * y * (1 - y)."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = _sigmoid_array(get_array_module(x), x)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return gy * (y * (1.0 - y))

    def backward_arrays(self, gy: Any) -> Any:
        y = self.saved_array(self.y)
        return gy * (y * (1.0 - y))


def _erf_array(xp: Any, x: Any) -> Any:
    if xp is not np:
        import cupyx.scipy.special as sp  # type: ignore[import-not-found]

        return sp.erf(x)
    try:
        from scipy.special import erf  # scipy comes with scikit-learn; exact to float64 rounding

        return erf(x).astype(x.dtype, copy=False)
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)


class Erf(Function):
    """y = erf x.  dx = dy * 2/sqrt(pi) * e^(-x^2)."""

    def forward(self, x: Any) -> Any:
        return _erf_array(get_array_module(x), x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


def exp(x: Tensor) -> Tensor:
    return Exp()(x)


def log(x: Tensor) -> Tensor:
    return Log()(x)


def log1p(x: Tensor) -> Tensor:
    return Log1p()(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt()(x)


def rsqrt(x: Tensor) -> Tensor:
    return 1.0 / sqrt(x)


def sin(x: Tensor) -> Tensor:
    return Sin()(x)


def cos(x: Tensor) -> Tensor:
    return Cos()(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh()(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid()(x)


def erf(x: Tensor) -> Tensor:
    return Erf()(x)


def square(x: Tensor) -> Tensor:
    return x * x


# --- activations -------------------------------------------------------------------------------
class ReLU(Function):
    """y = max(x, 0).  dx = dy * [x > 0] (the mask is read off y, so forward is a single pass)."""

    saved_inputs = ()

    def forward(self, x: Any) -> Any:
        self.y = get_array_module(x).maximum(x, x.dtype.type(0))
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        return gy * _make(self.saved_output(self.y).array > 0)

    def backward_arrays(self, gy: Any) -> Any:
        return gy * (self.saved_array(self.y) > 0)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x.  dx = dy * (1 if x > 0 else slope)."""

    saved_inputs = ()

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        self.factor = xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))
        return x * self.factor

    def backward(self, gy: Tensor) -> Tensor:
        return gy * _make(self.factor)

    def backward_arrays(self, gy: Any) -> Any:
        return gy * self.factor


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1).  dx = dy * (1 if x > 0 else y + alpha)."""

    saved_inputs = ()

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        self.mask = x > 0
        self.y = xp.where(self.mask, x, self.alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)
        return self.y

    def backward(self, gy: Tensor) -> Tensor:
        y = self.saved_output(self.y)
        return where(_make(self.mask), gy, gy * (y + self.alpha))

    def backward_arrays(self, gy: Any) -> Any:
        y = self.saved_array(self.y)
        return get_array_module(gy).where(self.mask, gy, gy * (y + self.alpha))


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF.  dx = dy * (Phi(x) + x * phi(x))."""

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        return x * (0.5 * (1.0 + _erf_array(xp, x / math.sqrt(2.0)))).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        cdf = (erf(x * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
        pdf = exp(x * x * -0.5) * (1.0 / math.sqrt(2.0 * math.pi))
        return gy * (cdf + x * pdf)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta (linear above ``threshold``).  dx = dy * sigmoid(beta x)."""

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        bx = x * self.beta
        self.linear = bx > self.threshold
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / self.beta
        return xp.where(self.linear, x, soft).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return where(_make(self.linear), gy, gy * sigmoid(x * self.beta))

    def backward_arrays(self, gy: Any) -> Any:
        x = self.inputs[0].array
        xp = get_array_module(x)
        return xp.where(self.linear, gy, gy * _sigmoid_array(xp, x * self.beta))


def relu(x: Tensor) -> Tensor:
    return ReLU()(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU(negative_slope)(x)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU(alpha)(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU; ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "none":
        return GELU()(x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus(beta, threshold)(x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return x * sigmoid(x)


# --- clamping and selection ------------------------------------------------------------------
class Clamp(Function):
    """y = min(max(x, lo), hi).  dx = dy where lo <= x <= hi, else 0."""

    saved_inputs = ()

    def __init__(self, lo: Any, hi: Any) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        self.mask = mask
        return xp.clip(x, self.lo, self.hi).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * _make(self.mask)

    def backward_arrays(self, gy: Any) -> Any:
        return gy * self.mask


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if x.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        from ..dtypes import get_default_dtype

        x = x.to(get_default_dtype())  # as in PyTorch: int tensor clamped to float bounds becomes float
    return Clamp(min, max)(x)


clip = clamp


class Maximum(Function):
    """y = max(a, b) elementwise.  The gradient goes to the larger input; ties split it evenly."""

    saved_inputs = ()

    def forward(self, a: Any, b: Any) -> Any:
        xp = get_array_module(a)
        self.wa = (a > b) + (a == b) * 0.5
        self.wa = self.wa.astype(a.dtype, copy=False)
        return xp.maximum(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        wa = _make(self.wa)
        return _unbroadcast(gy * wa, a), _unbroadcast(gy * (1.0 - wa), b)

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs
        wa = self.wa
        return (unbroadcast_array(gy * wa, a.array.shape) if self.needs_input_grad[0] else None,
                unbroadcast_array(gy * (1.0 - wa), b.array.shape) if self.needs_input_grad[1] else None)


class Minimum(Function):
    """y = min(a, b) elementwise.  The gradient goes to the smaller input; ties split it evenly."""

    saved_inputs = ()

    def forward(self, a: Any, b: Any) -> Any:
        xp = get_array_module(a)
        self.wa = ((a < b) + (a == b) * 0.5).astype(a.dtype, copy=False)
        return xp.minimum(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        wa = _make(self.wa)
        return _unbroadcast(gy * wa, a), _unbroadcast(gy * (1.0 - wa), b)

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs
        wa = self.wa
        return (unbroadcast_array(gy * wa, a.array.shape) if self.needs_input_grad[0] else None,
                unbroadcast_array(gy * (1.0 - wa), b.array.shape) if self.needs_input_grad[1] else None)


def maximum(a: Any, b: Any) -> Tensor:
    a, b = binary_operands("maximum", a, b)
    check_broadcast("maximum", a, b)
    return Maximum()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    a, b = binary_operands("minimum", a, b)
    check_broadcast("minimum", a, b)
    return Minimum()(a, b)


class Where(Function):
    """y = a where cond else b.  da = dy where cond, db = dy elsewhere (cond is a constant)."""

    saved_inputs = ()

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        return get_array_module(a).where(self.cond, a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        zero = gy * 0.0
        c = _make(self.cond)
        ga = _unbroadcast(where(c, gy, zero), a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(where(c, zero, gy), b) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs
        xp = get_array_module(gy)
        zero = gy * 0.0  # not a literal 0: an inf/nan in dy stays nan off its branch, as in backward
        c = self.cond
        ga = unbroadcast_array(xp.where(c, gy, zero), a.array.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast_array(xp.where(c, zero, gy), b.array.shape) if self.needs_input_grad[1] else None
        return ga, gb


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """Elementwise ``input if condition else other``, broadcasting all three."""
    cond = condition.array if isinstance(condition, Tensor) else condition
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("where: at least one of input and other must be a Tensor")
    a, b = binary_operands("where", input, other)
    xp = get_array_module(a.array)
    cond = xp.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: shapes {tuple(cond.shape)} (condition), {tuple(a.shape)} and "
            f"{tuple(b.shape)} cannot be broadcast together"
        ) from None
    if not (a.requires_grad or b.requires_grad):
        return _make(xp.where(cond, a.array, b.array))
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    if cond.shape != shape:
        cond = xp.broadcast_to(cond, shape)
    return Where(cond)(a, b)


# --- comparisons and logic (results carry no gradient) -------------------------------------------
def _compare(name: str, ufunc: str, a: Any, b: Any) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        check_broadcast(name, a, b)
        return _make(getattr(a.xp, ufunc)(a.array, b.array))
    if isinstance(a, Tensor):
        return _make(getattr(a.xp, ufunc)(a.array, _raw(b, a)))
    return _make(getattr(b.xp, ufunc)(_raw(a, b), b.array))


def _raw(v: Any, like: Tensor) -> Any:
    if isinstance(v, (bool, int, float, np.generic)):
        return v
    return as_tensor_like(v, like).array


def lt(a: Any, b: Any) -> Tensor:
    return _compare("lt", "less", a, b)


def le(a: Any, b: Any) -> Tensor:
    return _compare("le", "less_equal", a, b)


def gt(a: Any, b: Any) -> Tensor:
    return _compare("gt", "greater", a, b)


def ge(a: Any, b: Any) -> Tensor:
    return _compare("ge", "greater_equal", a, b)


def eq(a: Any, b: Any) -> Tensor:
    return _compare("eq", "equal", a, b)


def ne(a: Any, b: Any) -> Tensor:
    return _compare("ne", "not_equal", a, b)


def logical_and(a: Any, b: Any) -> Tensor:
    return _compare("logical_and", "logical_and", a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    return _compare("logical_or", "logical_or", a, b)


def logical_not(x: Tensor) -> Tensor:
    return _make(x.xp.logical_not(x.array))


def isnan(x: Tensor) -> Tensor:
    return _make(x.xp.isnan(x.array))


def isinf(x: Tensor) -> Tensor:
    return _make(x.xp.isinf(x.array))


def isfinite(x: Tensor) -> Tensor:
    return _make(x.xp.isfinite(x.array))


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return bool(a.xp.allclose(a.array, b.array, rtol=rtol, atol=atol))


def equal(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool((a.array == b.array).all())


# --- dropout --------------------------------------------------------------------------------------
class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p).  dx = dy * m / (1 - p)."""

    saved_inputs = ()

    def __init__(self, p: float) -> None:
        self.p = p

    def forward(self, x: Any) -> Any:
        from ..random import _uniform

        xp = get_array_module(x)
        keep = _uniform(xp, 0.0, 1.0, x.shape, x.dtype) >= self.p
        self.scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.scale

    def backward(self, gy: Tensor) -> Tensor:
        return gy * _make(self.scale)

    def backward_arrays(self, gy: Any) -> Any:
        return gy * self.scale


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity in eval)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return Dropout(p)(x)


def clamp_min(x: Tensor, min: Any) -> Tensor:
    """``clamp(x, min=min)``."""
    return clamp(x, min=min)


def clamp_max(x: Tensor, max: Any) -> Tensor:
    """``clamp(x, max=max)``."""
    return clamp(x, max=max)
