"""Special functions: ``lgamma``, ``digamma``, ``polygamma`` (what Beta/Gamma densities need).

d lgamma = digamma = polygamma(0), and d polygamma(n) = polygamma(n + 1), so every derivative is
again a polygamma: gradients of any order come free. SciPy (CPU) or cupyx (GPU) evaluate them when
present; otherwise a shifted asymptotic series (below) does, to about 1e-14 relative.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor

# Bernoulli numbers B_2, B_4, ..., B_16 for the asymptotic series
_B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]
_SHIFT = 16.0


def _special(xp: Any) -> Any:
    try:
        if xp is np:
            import scipy.special as sp
        else:
            import cupyx.scipy.special as sp  # type: ignore[import-not-found]
        return sp
    except ImportError:
        return None


def _lgamma_series(xp: Any, x: Any) -> Any:
    """log|Gamma(x)|: reflection for x < 0.5, shift up to >= 16, then Stirling's series."""
    refl = x < 0.5
    z = xp.where(refl, 1.0 - x, x)
    acc = xp.zeros_like(z)
    for _ in range(int(_SHIFT)):
        small = z < _SHIFT
        acc = acc - xp.where(small, xp.log(xp.where(small, z, 1.0)), 0.0)
        z = xp.where(small, z + 1.0, z)
    s = (z - 0.5) * xp.log(z) - z + 0.5 * math.log(2 * math.pi)
    for k, b in enumerate(_B2K, start=1):
        s = s + b / (2 * k * (2 * k - 1) * z ** (2 * k - 1))
    res = s + acc
    with np.errstate(divide="ignore"):
        reflected = math.log(math.pi) - xp.log(xp.abs(xp.sin(math.pi * x))) - res
    return xp.where(refl, reflected, res)


def _polygamma_series(xp: Any, n: int, x: Any) -> Any:
    """psi^(n)(x) for x > 0: recurrence up to >= 16, then the asymptotic series (digamma for n = 0)."""
    z = x.copy()
    acc = xp.zeros_like(z)
    sign = (-1.0) ** (n + 1)
    fact = math.factorial(n)
    for _ in range(int(_SHIFT)):
        small = z < _SHIFT
        zz = xp.where(small, z, 1.0)
        term = -1.0 / zz if n == 0 else sign * fact / zz ** (n + 1)
        acc = acc + xp.where(small, term, 0.0)
        z = xp.where(small, z + 1.0, z)
    if n == 0:
        s = xp.log(z) - 0.5 / z
        for k, b in enumerate(_B2K, start=1):
            s = s - b / (2 * k * z ** (2 * k))
    else:
        s = math.factorial(n - 1) / z**n + fact / (2 * z ** (n + 1))
        for k, b in enumerate(_B2K, start=1):
            s = s + b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * z ** (2 * k + n))
        s = sign * s
    return s + acc


def _polygamma_array(xp: Any, n: int, x: Any) -> Any:
    sp = _special(xp)
    if sp is not None:
        out = sp.digamma(x) if n == 0 else sp.polygamma(n, x)
        return out.astype(x.dtype, copy=False)
    x64 = x.astype(np.float64)
    if n == 0:  # reflection psi(x) = psi(1 - x) - pi / tan(pi x) for x <= 0
        refl = x64 <= 0
        z = xp.where(refl, 1.0 - x64, x64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _polygamma_series(xp, 0, z) - xp.where(refl, math.pi / xp.tan(math.pi * x64), 0.0)
        return out.astype(x.dtype)
    out = _polygamma_series(xp, n, xp.where(x64 > 0, x64, 1.0))
    return xp.where(x64 > 0, out, np.nan).astype(x.dtype)


def _lgamma_array(xp: Any, x: Any) -> Any:
    sp = _special(xp)
    if sp is not None:
        return sp.gammaln(x).astype(x.dtype, copy=False)
    return _lgamma_series(xp, x.astype(np.float64)).astype(x.dtype)


class Lgamma(Function):
    """y = log|Gamma(x)|.  dx = dy * digamma(x)."""

    def forward(self, x: Any) -> Any:
        return _lgamma_array(get_array_module(x), x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * polygamma(0, self.inputs[0])


class Polygamma(Function):
    """y = psi^(n)(x), the n-th derivative of digamma (n = 0: digamma).  dx = dy * psi^(n+1)(x)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def forward(self, x: Any) -> Any:
        return _polygamma_array(get_array_module(x), self.n, x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * polygamma(self.n + 1, self.inputs[0])


def _check(op: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {x.dtype}")


def lgamma(x: Tensor) -> Tensor:
    """log|Gamma(x)| elementwise."""
    _check("lgamma", x)
    return Lgamma()(x)


def digamma(x: Tensor) -> Tensor:
    """d/dx lgamma(x) elementwise."""
    _check("digamma", x)
    return Polygamma(0)(x)


def polygamma(n: int, x: Tensor) -> Tensor:
    """The n-th derivative of digamma, elementwise (n >= 0)."""
    _check("polygamma", x)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n!r}")
    return Polygamma(int(n))(x)
