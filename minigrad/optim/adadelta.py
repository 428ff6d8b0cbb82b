"""Adadelta (PyTorch's ``torch.optim.Adadelta``; Zeiler 2012, "ADADELTA: an adaptive learning rate
method")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative, check_unit_interval


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of past updates to running RMS of gradients.

    With ``g = grad + weight_decay * p`` (``-grad`` when maximizing): ``s = rho s + (1-rho) g^2``,
    ``delta = sqrt(u + eps) / sqrt(s + eps) * g``, ``u = rho u + (1-rho) delta^2``, ``p -= lr * delta``.
    State per parameter: ``step``, ``square_avg`` (``s``), ``acc_delta`` (``u``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        check_nonnegative("Adadelta", lr=lr)
        check_unit_interval("Adadelta", "rho", rho)
        check_nonnegative("Adadelta", eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        wd, maximize = float(group["weight_decay"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            x = p.array
            xp = get_array_module(x)
            g = self._grad(p, maximize, wd)
            st = self.state.get(p)
            if st is None:
                st = {"step": 0, "square_avg": xp.zeros_like(x), "acc_delta": xp.zeros_like(x)}
                self.state[p] = st
            st["step"] = int(st["step"]) + 1
            s, u = st["square_avg"], st["acc_delta"]
            t, delta = self._tmp(x, 2), self._tmp(x, 3)
            self._ema_square_(s, g, rho, t)  # s = rho s + (1 - rho) g^2
            # delta = sqrt(u + eps) / sqrt(s + eps) * g
            xp.add(s, eps, out=t)
            xp.sqrt(t, out=t)
            xp.add(u, eps, out=delta)
            xp.sqrt(delta, out=delta)
            delta /= t
            delta *= g
            self._ema_square_(u, delta, rho, t)  # u = rho u + (1 - rho) delta^2
            delta *= lr
            x -= delta
