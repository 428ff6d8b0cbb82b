"""Making tensors: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn`` ... with PyTorch's signatures."""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import cupy, device, to_device
from .dtypes import as_dtype, get_default_dtype
from .random import Generator, _integers, _normal, _uniform
from .tensor import Tensor


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor from a list, scalar or array (Python floats become float32, arrays keep their dtype).

    Always copies the data, as in PyTorch (``from_numpy``/``as_tensor`` share memory instead).
    """
    src = data.array if isinstance(data, Tensor) else data
    t = Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)
    if t.array is src or getattr(t.array, "base", None) is not None:
        t.array = t.array.copy()
    return t


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but returns ``data`` itself when it already is a matching Tensor."""
    if (
        isinstance(data, Tensor)
        and (dtype is None or data.dtype == as_dtype(dtype))
        and (device is None or data.device == device)
    ):
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``a``."""
    return Tensor(a)


def _xp(dev: Any) -> Any:
    if dev is None or device(dev).type == "cpu":
        return np
    if cupy is None:
        to_device(np.zeros(1), dev)  # raises the clear error
    return cupy


def _shape(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _float_dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def _finish(arr: Any, requires_grad: bool, dev: Any) -> Tensor:
    t = Tensor._make(arr)
    if dev is not None and device(dev).type == "cuda" and cupy is not None:
        t.array = to_device(arr, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _finish(_xp(device).zeros(_shape(size), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _finish(_xp(device).ones(_shape(size), dtype=_float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    return _finish(_xp(device).empty(_shape(size), dtype=_float_dtype(dtype)), requires_grad, device)


def full(
    size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return _finish(
        _xp(device).full(_shape((size,)), fill_value, dtype=as_dtype(dtype)), requires_grad, device
    )


def _like(t: Tensor, dtype: Any, device: Any) -> tuple[Any, np.dtype, Any]:
    """(array module, dtype, device) for a ``*_like`` result: ``t``'s unless given."""
    dt = t.dtype if dtype is None else as_dtype(dtype)
    if device is None:
        return t.xp, dt, t.device if t.device.type == "cuda" else None
    return _xp(device), dt, device


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros with ``t``'s shape, and its dtype and device unless given."""
    xp, dt, dev = _like(t, dtype, device)
    return _finish(xp.zeros(t.shape, dtype=dt), requires_grad, dev)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Ones with ``t``'s shape, and its dtype and device unless given."""
    xp, dt, dev = _like(t, dtype, device)
    return _finish(xp.ones(t.shape, dtype=dt), requires_grad, dev)


def full_like(
    t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """``fill_value`` with ``t``'s shape, and its dtype and device unless given."""
    xp, dt, dev = _like(t, dtype, device)
    return _finish(xp.full(t.shape, fill_value, dtype=dt), requires_grad, dev)


def empty_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """An uninitialised (here: zero) tensor with ``t``'s shape, and its dtype and device unless given."""
    return zeros_like(t, dtype, requires_grad, device)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 unless an argument is a float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        floaty = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if floaty else np.int64
    return _finish(_xp(device).arange(start, end, step, dtype=as_dtype(dtype)), requires_grad, device)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    return _finish(_xp(device).linspace(start, end, steps, dtype=_float_dtype(dtype)), requires_grad, device)


def eye(
    n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    return _finish(_xp(device).eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def randn(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    """Standard normal samples."""
    xp = _xp(device)
    return _finish(_normal(xp, 0.0, 1.0, _shape(size), _float_dtype(dtype), generator), requires_grad, device)


def rand(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    xp = _xp(device)
    return _finish(
        _uniform(xp, 0.0, 1.0, _shape(size), _float_dtype(dtype), generator), requires_grad, device
    )


def randint(
    low: int,
    high: int | None = None,
    size: Any = (),
    dtype: Any = None,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    """Integers in [low, high) (int64 by default); ``randint(high, size=...)`` starts at 0."""
    if high is None:
        low, high = 0, low
    xp = _xp(device)
    return _finish(
        _integers(xp, low, high, _shape((size,)), as_dtype(dtype or np.int64), generator), False, device
    )


def randperm(n: int, dtype: Any = None, device: Any = None, generator: Generator | None = None) -> Tensor:
    from .random import _permutation

    return _finish(
        to_device(_permutation(n, generator).astype(as_dtype(dtype or np.int64)), device or "cpu"),
        False,
        None,
    )


def normal(
    mean: float,
    std: float,
    size: Any,
    dtype: Any = None,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    return _finish(
        _normal(_xp(device), mean, std, _shape((size,)), _float_dtype(dtype), generator), False, device
    )


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal samples with ``t``'s shape, and its dtype and device unless given."""
    xp, dt, dev = _like(t, dtype, device)
    return _finish(_normal(xp, 0.0, 1.0, t.shape, dt), requires_grad, dev)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform samples in [0, 1) with ``t``'s shape, and its dtype and device unless given."""
    xp, dt, dev = _like(t, dtype, device)
    return _finish(_uniform(xp, 0.0, 1.0, t.shape, dt), requires_grad, dev)


def randint_like(
    t: Tensor, low: int, high: int | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    """Integers in [low, high) with ``t``'s shape, and its dtype and device unless given;
    ``randint_like(t, high)`` starts at 0."""
    if high is None:
        low, high = 0, low
    xp, dt, dev = _like(t, dtype, device)
    vals = _integers(xp, low, high, t.shape, np.dtype(np.int64))
    return _finish(vals.astype(dt, copy=False), False, dev)


def bernoulli(p: Tensor, generator: Generator | None = None) -> Tensor:
    """0/1 samples with probabilities ``p`` (same shape and dtype as ``p``)."""
    u = _uniform(p.xp, 0.0, 1.0, p.shape, p.dtype, generator)
    return Tensor._make((u < p.array).astype(p.dtype))


def multinomial(probs: Tensor, num_samples: int = 1, generator: Generator | None = None) -> Tensor:
    """Draw category indices with replacement from each row of ``probs`` (1-D or 2-D)."""
    p = np.asarray(probs.numpy(), dtype=np.float64)
    flat = p.reshape(-1, p.shape[-1])
    flat = flat / flat.sum(axis=1, keepdims=True)
    u = _uniform(np, 0.0, 1.0, (flat.shape[0], num_samples), np.float64, generator)
    idx = (np.cumsum(flat, axis=1)[:, None, :] < u[:, :, None]).sum(axis=2)
    idx = np.minimum(idx, flat.shape[1] - 1).astype(np.int64)
    out = idx.reshape(p.shape[:-1] + (num_samples,))
    return Tensor._make(to_device(out, probs.device))
