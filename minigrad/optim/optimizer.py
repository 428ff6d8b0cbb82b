"""``Optimizer``: the base class of every optimizer (PyTorch's ``torch.optim.Optimizer``).

An optimizer holds *param groups*: a list of dicts, each with a ``"params"`` list
and its own hyperparameters (``lr``, ``weight_decay`` ...); ``defaults`` fills in the
hyperparameters a group leaves out. ``state[p]`` holds the per-parameter buffers
(moments, step counts) as raw arrays of the parameter's dtype and device.

Updates run on raw arrays (``p.array``, ``p.grad.array``) with in-place array ops,
so a step builds no graph and allocates no Tensors. Scratch arrays are cached per
(shape, dtype, device) and shared by parameters of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..backend import device_of, get_array_module, to_device
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor

_SPELLED = {"lr": "learning rate", "eps": "epsilon"}


def check_nonnegative(op: str, **values: float) -> None:
    """Raise ValueError ``"<op>: invalid <name> <value>"`` for the first hyper-parameter that is negative or
    NaN, in the order given (``lr`` and ``eps`` are named "learning rate" and "epsilon", as in PyTorch)."""
    for name, value in values.items():
        if not value >= 0.0:  # written so that NaN (every comparison False) fails too
            raise ValueError(f"{op}: invalid {_SPELLED.get(name, name)} {value}")


def check_unit_interval(op: str, name: str, value: float) -> None:
    """Raise ValueError ``"<op>: invalid <name> <value>"`` unless ``0 <= value <= 1`` (NaN fails)."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{op}: invalid {name} {value}; it must be in [0, 1]")


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__")


class _Required:
    """Marks a hyperparameter that has no default (``lr`` of some optimizers)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: keeps param groups and per-parameter state; subclasses implement ``step``.

    Args:
        params: an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}`` (param groups).
        defaults: hyperparameters used by groups that do not set them.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratch: dict[tuple, Any] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                            "but got a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)

    # --- groups --------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (e.g. layers to unfreeze) with its own hyperparameters."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("add_param_group: params must be an ordered collection (list, tuple), not a set")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize floating-point Tensors, "
                                f"got dtype {p.dtype}")
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once in a group")
        if any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             "parameter group")
        self.param_groups.append(group)

    # --- gradients -----------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to ``None`` by default, else to zeros)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    data = p.grad.array
                    writeable = getattr(getattr(data, "flags", None), "writeable", True)
                    if p.grad.grad_fn is None and writeable:
                        data[...] = 0
                    else:  # part of a graph (create_graph=True) or a read-only view: fresh zeros
                        p.grad = Tensor._make(get_array_module(data).zeros_like(data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient; ``closure`` re-evaluates the loss (returned).

        Each updated parameter's version counter is bumped (its memory changed in place), so a backward
        through a graph that saved the old values can detect the change.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
                for p in group["params"]:
                    if p.grad is not None:  # the parameters _update_group changed
                        p._bump_version()
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """Update, in place, every parameter of ``group`` that has a gradient (and only those)."""
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------------------------
    def _tmp(self, like: Any, slot: int = 0) -> Any:
        """A scratch array shaped like ``like`` (not part of the state; reused across steps)."""
        if type(like) is np.ndarray:  # host arrays: no device in the key (str(device) costs ~1 us per call)
            key: tuple = (like.shape, like.dtype.str, slot)
        else:
            key = (like.shape, like.dtype.str, str(device_of(like)), slot)
        buf = self._scratch.get(key)
        if buf is None:
            buf = get_array_module(like).empty_like(like)
            self._scratch[key] = buf
        return buf

    @staticmethod
    def _ema_square_(avg: Any, x: Any, decay: float, tmp: Any) -> None:
        """In place: ``avg = decay * avg + (1 - decay) * x^2``; the scratch ``tmp`` is overwritten."""
        avg *= decay
        get_array_module(avg).multiply(x, x, out=tmp)
        tmp *= 1.0 - decay
        avg += tmp

    def _grad(self, p: Tensor, maximize: bool, weight_decay: float) -> Any:
        """``g`` (negated when maximizing) plus ``weight_decay * p``, as an array (maybe a scratch one)."""
        g = p.grad.array
        if g.dtype != p.array.dtype:
            g = g.astype(p.array.dtype)
        if not maximize and weight_decay == 0:
            return g
        xp = get_array_module(g)
        out = self._tmp(p.array, 0)
        if maximize:
            xp.negative(g, out=out)
        else:
            out[...] = g
        if weight_decay != 0:
            w = self._tmp(p.array, 1)
            xp.multiply(p.array, weight_decay, out=w)
            out += w
        return out

    # --- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: array or number}}, "param_groups": [{hyper..., "params": [index]}]}``.

        Parameters are numbered across groups in order; arrays are the live state buffers
        (``minigrad.save`` copies them to the file).
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:  # lists (LBFGS's history) copied: the optimizer mutates its own
                    state[index[id(p)]] = {k: list(v) if isinstance(v, list) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state (copied, cast to each parameter's dtype/device)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: loaded state dict has {len(groups)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        name = type(self).__name__
        for i, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters "
                                 f"in the loaded state dict but {len(mine['params'])} in the optimizer")
        saved_state = state_dict["state"]
        new_state: dict[Tensor, dict[str, Any]] = {}
        for saved, mine in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], mine["params"]):
                entry = saved_state.get(idx, saved_state.get(str(idx)))
                if entry is not None:
                    self._check_state_shapes(idx, p, entry)
        for saved, mine in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], mine["params"]):
                entry = saved_state.get(idx, saved_state.get(str(idx)))
                if entry is not None:
                    new_state[p] = {k: self._cast_state(k, v, p) for k, v in entry.items()}
            for k, v in saved.items():
                if k != "params":
                    as_tuple = isinstance(v, list) and isinstance(self.defaults.get(k), tuple)
                    mine[k] = tuple(v) if as_tuple else v
        self.state = new_state

    def _state_shape(self, p: Tensor) -> tuple[int, ...]:
        """The shape of ``p``'s array-valued state buffers (LBFGS overrides: its buffers are flat)."""
        return tuple(p.shape)

    def _check_state_shapes(self, index: Any, p: Tensor, entry: dict[str, Any]) -> None:
        """ValueError naming the parameter index and both shapes if a loaded buffer does not fit ``p``."""
        want = self._state_shape(p)
        for key, value in entry.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                shape = tuple(v.shape) if isinstance(v, Tensor) or _is_array(v) else None
                if shape is None or (shape == () and key == "step") or shape == want:
                    continue
                mine = f"parameter {index} has shape {tuple(p.shape)}"
                if want != tuple(p.shape):
                    mine = f"the optimizer expects {want} ({mine})"
                raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} of parameter {index} "
                                 f"has shape {shape} in the loaded state dict, but {mine}")

    @classmethod
    def _cast_state(cls, key: str, value: Any, p: Tensor) -> Any:
        if isinstance(value, list):
            return [cls._cast_state(key, v, p) for v in value]
        if isinstance(value, Tensor):
            value = value.array
        if _is_array(value):
            if value.ndim == 0 and key == "step":
                return int(value)
            arr = to_device(value, p.device)
            if arr.dtype.kind == "f" and arr.dtype != p.dtype:
                arr = arr.astype(p.dtype)
            return arr.copy() if arr is value else arr
        return value
