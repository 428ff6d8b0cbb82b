"""Adam and AdamW (PyTorch's ``torch.optim.Adam`` / ``torch.optim.AdamW``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import get_array_module
from .optimizer import Optimizer, check_nonnegative


class Adam(Optimizer):
    """Adam: per-coordinate steps from bias-corrected first and second moment estimates.

    With ``g = grad + weight_decay * p`` (L2 penalty; AdamW decays ``p`` directly instead), step ``t``:
    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (``vmax = max(vmax, v)`` with amsgrad),
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``).
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        name = type(self).__name__
        check_nonnegative(name, lr=lr, eps=eps)
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"{name}: invalid betas {betas}; each must be in [0, 1)")
        check_nonnegative(name, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        b1, b2 = (float(b) for b in group["betas"])
        amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            x = p.array
            xp = np if type(x) is np.ndarray else get_array_module(x)
            if self._decoupled:
                g = self._grad(p, maximize, 0.0)
                if wd != 0:
                    x *= 1.0 - lr * wd
            else:
                g = self._grad(p, maximize, wd)
            st = self.state.get(p)
            if st is None:
                st = {"step": 0, "exp_avg": xp.zeros_like(x), "exp_avg_sq": xp.zeros_like(x)}
                if amsgrad:
                    st["max_exp_avg_sq"] = xp.zeros_like(x)
                self.state[p] = st
            st["step"] = step = int(st["step"]) + 1
            m, v = st["exp_avg"], st["exp_avg_sq"]
            t = self._tmp(x, 2)
            # m = b1 m + (1 - b1) g
            m *= b1
            xp.multiply(g, 1.0 - b1, out=t)
            m += t
            # v = b2 v + (1 - b2) g^2
            v *= b2
            xp.multiply(g, g, out=t)
            t *= 1.0 - b2
            v += t
            if amsgrad:
                vmax = st.get("max_exp_avg_sq")
                if vmax is None:
                    vmax = st["max_exp_avg_sq"] = xp.zeros_like(x)
                xp.maximum(vmax, v, out=vmax)
                v = vmax
            step_size = lr / (1.0 - b1 ** step)
            bc2_sqrt = math.sqrt(1.0 - b2 ** step)
            # denominator sqrt(v) / sqrt(1 - b2^t) + eps, then p -= step_size * m / denominator
            xp.sqrt(v, out=t)
            t /= bc2_sqrt
            t += eps
            xp.divide(m, t, out=t)
            t *= step_size
            x -= t


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step."""

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
