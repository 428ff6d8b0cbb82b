"""Stochastic gradient descent with momentum (PyTorch's ``torch.optim.SGD``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative


class SGD(Optimizer):
    """SGD, optionally with (Nesterov) momentum and L2 weight decay.

    With ``g = grad + weight_decay * p`` (``-grad`` when maximizing) and buffer ``b``:
    ``b = g`` on the first step, then ``b = momentum * b + (1 - dampening) * g``;
    the step direction is ``g + momentum * b`` (Nesterov) or ``b``; ``p -= lr * direction``.
    State per parameter: ``momentum_buffer`` (when momentum != 0).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        check_nonnegative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, wd = float(group["dampening"]), float(group["weight_decay"])
        nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, maximize, wd)
            x = p.array
            xp = get_array_module(x)
            if momentum != 0:
                st = self.state.setdefault(p, {})
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = g.copy()
                    st["momentum_buffer"] = buf
                else:
                    buf *= momentum
                    if dampening != 0:
                        t = self._tmp(x, 2)
                        xp.multiply(g, 1.0 - dampening, out=t)
                        buf += t
                    else:
                        buf += g
                if nesterov:
                    t = self._tmp(x, 2)
                    xp.multiply(buf, momentum, out=t)
                    t += g
                    g = t
                else:
                    g = buf
            t = self._tmp(x, 3)
            xp.multiply(g, lr, out=t)
            x -= t
