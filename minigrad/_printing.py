"""``minigrad.set_printoptions``: how tensors print (PyTorch's options, applied with NumPy's printer).

``format_array(a, prefix)`` is what ``Tensor.__repr__`` calls for its body. Only the options
set here are passed to ``numpy.array2string``; the rest keep NumPy's defaults, so by default a
tensor prints as ``array2string(a, separator=", ", precision=4)``.
"""

from __future__ import annotations

from typing import Any

_DEFAULTS: dict[str, Any] = {"precision": 4, "threshold": None, "edgeitems": None, "linewidth": None,
                             "sci_mode": None}
_PROFILES: dict[str, dict[str, Any]] = {
    "default": {k: v for k, v in _DEFAULTS.items() if k != "sci_mode"},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": 2**63 - 1, "edgeitems": 3, "linewidth": 80},
}
_options: dict[str, Any] = dict(_DEFAULTS)


def set_printoptions(
    precision: int | None = None,
    threshold: int | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set how tensors print, as ``torch.set_printoptions``.

    Args:
        precision: digits after the decimal point (default 4).
        threshold: element count above which the middle is summarised with ``...``.
        edgeitems: items shown at each end of a summarised dimension.
        linewidth: characters per line before wrapping.
        profile: ``"default"``, ``"short"`` or ``"full"`` (never summarise); applied before the others.
        sci_mode: ``True`` always scientific, ``False`` never, ``None`` NumPy's choice.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: unknown profile {profile!r}; expected one of {sorted(_PROFILES)}"
            )
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            if int(value) < 0:
                raise ValueError(f"set_printoptions: {name} must be non-negative, got {value}")
            _options[name] = int(value)
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current options (``None`` where NumPy's default applies)."""
    return dict(_options)


def _reset() -> None:
    _options.clear()
    _options.update(_DEFAULTS)


def format_array(a: Any, prefix: str = "tensor(") -> str:
    """The body of a tensor's repr: ``a`` (a host array) printed with the current options."""
    import numpy as np

    names = {"precision": "precision", "threshold": "threshold", "edgeitems": "edgeitems",
             "linewidth": "max_line_width"}
    kw: dict[str, Any] = {names[k]: v for k, v in _options.items() if k in names and v is not None}
    sci, p = _options["sci_mode"], _options["precision"]
    if sci is not None and a.dtype.kind == "f":
        kw["formatter"] = {"float_kind": (lambda v: f"{v:.{p}e}") if sci else (lambda v: f"{v:.{p}f}")}
    return np.array2string(a, separator=", ", prefix=prefix, **kw)
