"""Anomaly mode: find the op that first produced a NaN or Inf.

Inside ``with minigrad.detect_anomaly():`` every recorded op remembers where in
your code it was created, its forward outputs are checked for NaN/Inf, and so are
the gradients its backward returns. The first bad value raises ``RuntimeError``
naming the op and the line of your code that created it. It is slow (a check per
op): use it to debug, not to train.
"""

from __future__ import annotations

import os
import threading
import traceback
from typing import Any


class _AnomalyState(threading.local):
    # Class-level defaults, so that reading an unset switch needs no AttributeError (see grad_mode).
    enabled = False
    check_nan = True
    backward_node = None


_state = _AnomalyState()
_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # frames under it are minigrad's own


def is_anomaly_enabled() -> bool:
    return _state.enabled


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on.

    ``check_nan=False`` only records where each op was created."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = (is_anomaly_enabled(), _state.check_nan)
        _state.enabled, _state.check_nan = True, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        _state.enabled, _state.check_nan = self._prev

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)

        return wrapper


def creation_site() -> str:
    """The innermost stack frame outside minigrad itself: where the user created the op."""
    frames = traceback.extract_stack()[:-1]
    for fr in reversed(frames):
        if not os.path.abspath(fr.filename).startswith(_PKG_DIR):
            return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}\n    {fr.line}'
    fr = frames[-1]
    return f'File "{fr.filename}", line {fr.lineno}, in {fr.name}'


def _bad(array: Any) -> bool:
    if array is None or array.dtype.kind not in "fc":
        return False
    from .backend import get_array_module

    xp = get_array_module(array)
    return not bool(xp.isfinite(array).all())


def check_forward(node: Any, outputs: tuple) -> None:
    if _state.check_nan and any(_bad(o) for o in outputs):
        parent = _state.backward_node
        if parent is not None:  # an op recorded by a backward pass (create_graph=True)
            raise RuntimeError(
                f"detect_anomaly: backward of {parent.name()} produced NaN or Inf "
                f"(in its {node.name()} op).\n"
                f"The {parent.name()} op was created at:\n  {getattr(parent, '_site', '<unknown>')}"
            )
        raise RuntimeError(
            f"detect_anomaly: forward of {node.name()} produced NaN or Inf.\n"
            f"The op was created at:\n  {node._site}"
        )


def set_backward_node(node: Any) -> Any:
    """Tell ``check_forward`` whose backward is running (``None``: none); returns the previous one."""
    prev = _state.backward_node
    _state.backward_node = node
    return prev


def check_backward(node: Any, grads: tuple) -> None:
    if not _state.check_nan:
        return
    for i, g in enumerate(grads):
        if g is not None and _bad(g.array):
            raise RuntimeError(
                f"detect_anomaly: backward of {node.name()} returned NaN or Inf in the gradient of "
                f"input {i}.\nThe op was created at:\n  "
                f"{getattr(node, '_site', '<unknown: created outside anomaly mode>')}"
            )
