"""What ``Tensor(...)`` builds: PyTorch's ``torch.Tensor(...)`` constructor rules.

``torch.Tensor`` is the legacy constructor of the default float type, and differs from
``torch.tensor``:

* ``Tensor()`` is an empty float tensor of shape ``(0,)``;
* ``Tensor(2, 3)`` (integers) is a float tensor *of that size* (minigrad fills it with zeros
  where PyTorch leaves memory uninitialised);
* ``Tensor(data)`` with a (nested) list/tuple or an array of any numeric or bool dtype is a
  float tensor of the default dtype (``Tensor([1, 2])`` is float32, and so is
  ``Tensor(np.array([1.0], dtype=np.float64))``); an array that already has the default dtype
  is used without a copy (memory shared, as in PyTorch);
* ``Tensor(t)`` with a Tensor shares ``t``'s memory and keeps its dtype;
* a Python or NumPy scalar is an error (``Tensor(3.5)``: use ``tensor(3.5)``).

minigrad also accepts ``dtype=`` (the dtype to convert to, instead of the default float) and
``requires_grad=``, which torch.Tensor rejects. ``from_data`` keeps the previous minigrad rule
(``minigrad.tensor``'s: arrays keep their dtype, lists of ints become int64, ...) for internal use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import to_device
from .dtypes import as_dtype, get_default_dtype

_KWARGS = ("dtype", "device", "requires_grad")


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray) or (hasattr(v, "__cuda_array_interface__") and hasattr(v, "dtype"))


def _check_dtype(arr: Any, who: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: cannot make a float tensor from data of dtype {arr.dtype}")


def tensor_init_args(args: tuple, kwargs: dict) -> Any:
    """The array that ``Tensor(*args, **kwargs)`` holds (PyTorch's ``torch.Tensor`` rules; see the module).

    Raises:
        TypeError: unknown keywords, a scalar, non-numeric data, or sizes mixed with other values.
        ValueError: a negative size.
    """
    from .tensor import Tensor

    unknown = [k for k in kwargs if k not in _KWARGS]
    if unknown:
        raise TypeError(
            f"Tensor(): unexpected keyword argument {unknown[0]!r}; accepted: {', '.join(_KWARGS)}"
        )
    dtype = as_dtype(kwargs["dtype"]) if kwargs.get("dtype") is not None else None
    if dtype is not None and dtype.kind not in "biuf":
        raise TypeError(f"Tensor(): unsupported dtype {dtype}")
    device = kwargs.get("device")
    target = dtype if dtype is not None else get_default_dtype()

    if len(args) == 0 or all(_is_int(a) for a in args):  # Tensor() / Tensor(2, 3): a size
        shape = tuple(int(a) for a in args) if args else (0,)
        neg = [s for s in shape if s < 0]
        if neg:
            raise ValueError(f"Tensor(): negative dimension {neg[0]} in size {shape}")
        arr = np.zeros(shape, dtype=target)
        return to_device(arr, device) if device is not None else arr
    if len(args) > 1:
        kinds = ", ".join(type(a).__name__ for a in args)
        raise TypeError(
            "Tensor(): expected sizes (ints) or one data argument (a list, an array or a Tensor), "
            f"got ({kinds})"
        )

    data = args[0]
    if isinstance(data, Tensor):
        arr = data.array  # shares memory, keeps its dtype (as torch.Tensor(t))
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
    elif _is_array(data):
        arr = data
        _check_dtype(arr, "Tensor()")
        if arr.dtype != target:
            arr = arr.astype(target)
    elif isinstance(data, (list, tuple)):
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise TypeError(f"Tensor(): the data is not a rectangular sequence of numbers ({e})") from e
        _check_dtype(arr, "Tensor()")
        arr = arr.astype(target)
    else:
        raise TypeError(
            f"Tensor(): data must be a sequence, an array or a Tensor (got {type(data).__name__}); "
            "for a scalar use minigrad.tensor(value)"
        )
    if device is not None:
        arr = to_device(arr, device)
    return arr


def from_data(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """A Tensor with ``minigrad.tensor``'s dtype rule but no copy (the pre-PyTorch ``Tensor(data)``).

    Internal code that wraps an array of a given dtype uses this (or ``Tensor._make``), never
    ``Tensor(array)``, which converts to the default float type.
    """
    from .tensor import Tensor, _to_array

    t = Tensor._make(_to_array(data, dtype, device))
    if requires_grad:
        t.requires_grad = True
    return t


__all__ = ["tensor_init_args", "from_data"]
