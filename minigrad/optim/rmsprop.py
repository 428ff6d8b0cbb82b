"""RMSprop (PyTorch's ``torch.optim.RMSprop``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    With ``g = grad + weight_decay * p``: ``s = alpha s + (1-alpha) g^2``; centered also keeps
    ``a = alpha a + (1-alpha) g`` and uses ``s - a^2``; ``d = sqrt(s [- a^2]) + eps``.
    Without momentum ``p -= lr g / d``; with it ``b = momentum b + g / d`` and ``p -= lr b``.
    State per parameter: ``step``, ``square_avg`` (+ ``grad_avg``, ``momentum_buffer``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        check_nonnegative("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                          alpha=alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        centered, maximize = bool(group["centered"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            x = p.array
            xp = get_array_module(x)
            g = self._grad(p, maximize, wd)
            st = self.state.get(p)
            if st is None:
                st = {"step": 0, "square_avg": xp.zeros_like(x)}
                self.state[p] = st
            st["step"] = int(st["step"]) + 1
            s = st["square_avg"]
            t = self._tmp(x, 2)
            self._ema_square_(s, g, alpha, t)  # s = alpha s + (1 - alpha) g^2
            if centered:
                a = st.get("grad_avg")
                if a is None:
                    a = st["grad_avg"] = xp.zeros_like(x)
                a *= alpha
                xp.multiply(g, 1.0 - alpha, out=t)
                a += t
                xp.multiply(a, a, out=t)
                xp.subtract(s, t, out=t)
                xp.sqrt(t, out=t)
            else:
                xp.sqrt(s, out=t)
            t += eps
            xp.divide(g, t, out=t)
            if momentum > 0:
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = xp.zeros_like(x)
                buf *= momentum
                buf += t
                xp.multiply(buf, lr, out=t)
            else:
                t *= lr
            x -= t
