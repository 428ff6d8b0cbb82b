"""Adagrad (PyTorch's ``torch.optim.Adagrad``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """Adagrad: steps scaled by the root of the running sum of squared gradients.

    With ``g = grad + weight_decay * p`` at step ``t``: ``clr = lr / (1 + (t - 1) lr_decay)``,
    ``s += g^2``, ``p -= clr * g / (sqrt(s) + eps)``. State per parameter: ``step``, ``sum``
    (created at construction, filled with ``initial_accumulator_value``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 maximize: bool = False) -> None:
        check_nonnegative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)  # add_param_group creates each parameter's state

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.array)
        st = {"step": 0, "sum": xp.full_like(p.array, float(group["initial_accumulator_value"]))}
        self.state[p] = st
        return st

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            if p not in self.state:
                self._init_state(p, group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        wd, maximize = float(group["weight_decay"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            x = p.array
            xp = get_array_module(x)
            g = self._grad(p, maximize, wd)
            st = self.state.get(p) or self._init_state(p, group)
            st["step"] = step = int(st["step"]) + 1
            clr = lr / (1.0 + (step - 1) * lr_decay)
            s = st["sum"]
            t = self._tmp(x, 2)
            xp.multiply(g, g, out=t)
            s += t
            xp.sqrt(s, out=t)
            t += eps
            xp.divide(g, t, out=t)
            t *= clr
            x -= t
