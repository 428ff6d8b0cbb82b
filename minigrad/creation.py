"""Making tensors: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn`` ... with PyTorch's signatures."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._construct import from_data
from .backend import cupy, device, to_device
from .dtypes import as_dtype, get_default_dtype
from .random import Generator, _integers, _normal, _uniform
from .tensor import Tensor


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor from a list, scalar or array (Python floats become float32, arrays keep their dtype).

    Always copies the data, as in PyTorch (``from_numpy``/``as_tensor`` share memory instead).
    """
    src = data.array if isinstance(data, Tensor) else data
    t = from_data(data, dtype=dtype, requires_grad=requires_grad, device=device)
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
    return from_data(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``a``."""
    return from_data(a)


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
        dtype = from_data(fill_value).dtype
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
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    dtype: Any = None,
    device: Any = None,
    generator: Generator | None = None,
) -> Tensor:
    """Normal samples: ``normal(mean, std)`` with either or both Tensors (broadcast; the output has the
    broadcast shape and the tensors' dtype and device), or ``normal(mean: float, std: float, size)``."""
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal: with float mean and std, size must be given: normal(mean, std, size)")
        if std < 0:
            raise ValueError(f"normal: expects std >= 0.0, but found std {std}")
        return _finish(
            _normal(_xp(device), float(mean), float(std), _shape((size,)), _float_dtype(dtype), generator),
            False,
            device,
        )
    if size is not None:
        raise TypeError("normal: size can only be given with float mean and std")
    like = mean if isinstance(mean, Tensor) else std
    xp = like.xp
    m = mean.array if isinstance(mean, Tensor) else mean
    sd = std.array if isinstance(std, Tensor) else std
    for name, t in (("mean", mean), ("std", std)):
        if isinstance(t, Tensor) and t.dtype.kind != "f":
            raise TypeError(f"normal: expected a floating-point {name} tensor, got dtype {t.dtype}")
    if bool(xp.any(xp.asarray(sd) < 0)):
        raise ValueError("normal: expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(getattr(m, "shape", ()), getattr(sd, "shape", ()))
    except ValueError:
        raise ValueError(
            f"normal: mean of shape {tuple(getattr(m, 'shape', ()))} and std of shape "
            f"{tuple(getattr(sd, 'shape', ()))} cannot be broadcast together"
        ) from None
    tensor_dtypes = [t.dtype for t in (mean, std) if isinstance(t, Tensor)]
    out_dtype = as_dtype(dtype) if dtype is not None else np.result_type(*tensor_dtypes)
    z = _normal(xp, 0.0, 1.0, shape, out_dtype, generator)
    return Tensor._make((z * sd + m).astype(out_dtype, copy=False))


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


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
) -> Tensor:
    """Category indices drawn from each row of the non-negative weights ``input`` (1-D or 2-D).

    Rows need not sum to 1. Without replacement the draws of a row are distinct (each next draw is
    proportional to the remaining weights), so ``num_samples`` may not exceed the row's non-zero
    categories. Output: int64, shape ``(num_samples,)`` or ``(rows, num_samples)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"multinomial: only floating-point dtypes are supported for input, got {input.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise ValueError(f"multinomial: cannot sample n_sample <= 0 samples, got {num_samples}")
    k = input.shape[-1]
    if k == 0:
        raise ValueError("multinomial: the input has no categories (last dim is 0)")
    if not replacement and num_samples > k:
        raise ValueError(
            f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
            f"({num_samples} > {k})"
        )
    p = np.asarray(input.numpy(), dtype=np.float64).reshape(-1, k)
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    total = p.sum(axis=1)
    if (total <= 0).any():
        raise ValueError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rows = p.shape[0]
    if replacement:
        cdf = np.cumsum(p / total[:, None], axis=1)
        cdf[:, -1] = 1.0
        u = _uniform(np, 0.0, 1.0, (rows, num_samples), np.float64, generator)
        idx = np.stack([np.searchsorted(cdf[r], u[r], side="right") for r in range(rows)])
        idx = np.minimum(idx, k - 1)
    else:
        if ((p > 0).sum(axis=1) < num_samples).any():
            raise ValueError(
                "multinomial: invalid multinomial distribution (with replacement=False, not enough "
                f"non-zero categories to sample {num_samples})"
            )
        # exponential race: the first num_samples arrivals of E_j / p_j are a draw without replacement
        e = -np.log1p(-_uniform(np, 0.0, 1.0, (rows, k), np.float64, generator))
        with np.errstate(divide="ignore"):
            keys = np.where(p > 0, e / p, np.inf)
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = idx.astype(np.int64).reshape(input.shape[:-1] + (num_samples,))
    return Tensor._make(to_device(out, input.device))
