"""Thread-local switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, like PyTorch's. The state is
thread-local, so a ``no_grad`` block in one thread does not change another thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _GradState(threading.local):
    # Class-level defaults: a thread that never set the mode reads them directly. (``getattr(local,
    # name, default)`` on an unset attribute raises and catches AttributeError inside: ~0.35 us, paid
    # twice by every recorded op before this.)
    enabled = True


_state = _GradState()


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the autograd graph."""
    return _state.enabled


def _set(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Base of the context managers; subclasses set ``_mode``."""

    _mode: bool = True

    def __new__(cls, *args: Any) -> Any:
        # bare ``@no_grad`` / ``@enable_grad`` (no parentheses) decorate the function directly
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return cls()(args[0])
        if cls is not set_grad_enabled and args:
            raise TypeError(f"{cls.__name__}() takes no arguments")
        return super().__new__(cls)

    def __enter__(self) -> None:
        self._prev = getattr(self, "_prev", [])
        self._prev.append(is_grad_enabled())
        _set(self._mode)

    def __exit__(self, *exc: Any) -> None:
        _set(self._prev.pop())

    def __call__(self, fn: Callable) -> Callable:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results have ``requires_grad=False``.

    >>> with minigrad.no_grad():
    ...     y = x * 2          # y.grad_fn is None
    """

    _mode = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` is ``no_grad()``; usable as a call, a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = [is_grad_enabled()]
        _set(self._mode)  # takes effect at once when used as a plain call

    def __enter__(self) -> None:
        _set(self._mode)

    def __exit__(self, *exc: Any) -> None:
        _set(self._prev[0])

    def __call__(self, fn: Callable) -> Callable:
        # used as a decorator: the constructor's immediate switch must not outlive the decoration
        _set(self._prev[0])
        return super().__call__(fn)


# --- inference mode -------------------------------------------------------------------------------------
class _InferenceState(threading.local):
    enabled = False  # the default for every thread (see _GradState)


_inference = _InferenceState()


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return _inference.enabled


class inference_mode:
    """Like ``no_grad``, for code that will never need gradients (evaluation, serving).

    A context manager and a decorator (``@inference_mode``, ``@inference_mode()``);
    ``inference_mode(False)`` turns it off again inside (gradients recorded). minigrad has no
    separate inference tensors: inside, tensors are simply made without a graph, as with
    ``no_grad``.
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._prev: list[tuple[bool, bool]] = []

    def __enter__(self) -> None:
        self._prev.append((is_grad_enabled(), is_inference_mode_enabled()))
        _inference.enabled = self.mode
        _set(not self.mode)

    def __exit__(self, *exc: Any) -> None:
        grad, inference = self._prev.pop()
        _set(grad)
        _inference.enabled = inference

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)
