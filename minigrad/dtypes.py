"""dtypes and the PyTorch-style promotion rules.

minigrad dtypes are NumPy dtypes (``minigrad.float32 is np.dtype('float32')``).
Policy, as in PyTorch: a Python float becomes float32, a Python int int64, a NumPy
array keeps its dtype; a Python scalar never widens a tensor's dtype (``x * 2.0``
stays float32); float beats int whatever the widths (int64 + float32 -> float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype("float16")
float32 = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = short = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
bool_ = np.dtype("bool")

_DEFAULT_FLOAT = float32

_NAMES = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int8": int8,
    "uint8": uint8,
    "int16": int16,
    "int32": int32,
    "int64": int64,
    "long": int64,
    "bool": bool_,
}
_ALLOWED = set(_NAMES.values())


def get_default_dtype() -> np.dtype:
    """The dtype that Python floats become (float32 unless changed)."""
    return _DEFAULT_FLOAT


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype that Python floats become: float32 or float64."""
    global _DEFAULT_FLOAT
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _DEFAULT_FLOAT = d


def as_dtype(dtype: Any) -> np.dtype:
    """Turn ``float32``, ``'float32'``, ``np.float32`` or ``bool`` into a supported NumPy dtype."""
    if isinstance(dtype, str):
        if dtype not in _NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; supported: {sorted(_NAMES)}")
        return _NAMES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; supported: {sorted(_NAMES)}") from None
    if d not in _ALLOWED:
        raise TypeError(f"unsupported dtype {d}; supported: {sorted(_NAMES)}")
    return d


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def result_type(a: np.dtype, b: np.dtype) -> np.dtype:
    """dtype of a binary op between two tensors, PyTorch's rule: float wins over int/bool."""
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa and not fb:
        return a
    if fb and not fa:
        return b
    return np.promote_types(a, b)


def scalar_dtype(value: Any, other: np.dtype) -> np.dtype:
    """dtype a Python scalar takes when combined with a tensor of dtype ``other``."""
    if isinstance(value, (bool, np.bool_)):
        return other
    if isinstance(value, (int, np.integer)):
        return other if other.kind in "fiu" else int64
    if isinstance(value, (float, np.floating)):
        return other if other.kind == "f" else _DEFAULT_FLOAT
    raise TypeError(f"unsupported scalar {value!r} of type {type(value).__name__}")
