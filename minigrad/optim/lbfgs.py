"""L-BFGS (PyTorch's ``torch.optim.LBFGS``): limited-memory quasi-Newton steps over all parameters at once.

Nocedal & Wright, *Numerical Optimization* (2nd ed.): Algorithm 7.4 (the two-loop recursion for
``H g`` from the last ``m`` pairs ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``, with the initial
Hessian scaled by ``gamma = s.y / y.y``, eq. 7.20), Algorithms 3.5/3.6 (line search for the strong
Wolfe conditions: bracketing, then zoom) with cubic interpolation of two points with values and
slopes (eq. 3.59). The decisions (when to stop, how the bracket shrinks, which pairs enter the
memory) follow PyTorch's implementation so trajectories agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..backend import get_array_module
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative


def cubic_minimizer(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                    bounds: tuple[float, float] | None = None) -> float:
    """The minimizer of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``, clipped to
    ``bounds`` (default: the interval between the points); the bounds' midpoint if the cubic has none.

    ``d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2)``, ``d2 = sqrt(d1^2 - g1 g2)``,
    ``x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)`` (named so that ``x1 <= x2``).
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if not disc >= 0.0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    return min(max(x, lo), hi)


Evaluate = Callable[[float], tuple[float, Any]]


def strong_wolfe(evaluate: Evaluate, t: float, d: Any, f: float, g: Any, gtd: float, c1: float = 1e-4,
                 c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25) -> tuple[float, Any, float, int]:
    """Find a step ``t`` along ``d`` meeting the strong Wolfe conditions
    ``f(t) <= f + c1 t gtd`` and ``|f'(t)| <= -c2 gtd`` (``gtd = g.d < 0``).

    ``evaluate(t)`` returns the loss and flat gradient at ``x + t d``. Returns ``(f, g, t, evaluations)``
    for the best point found (a Wolfe point, or the low end of the final bracket).
    """
    xp = get_array_module(d)
    d_norm = float(xp.max(xp.abs(d)))
    f_new, g_new = evaluate(t)
    evals, it = 1, 0
    gtd_new = float(xp.dot(g_new, d))
    # Bracketing (N&W Alg. 3.5): grow t until an interval is known to contain a Wolfe point.
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    br: list[list[Any]] | None = None  # [t, f, g, gtd] for each end of the bracket
    done = False
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        # extrapolate: the cubic's minimizer, kept within [t + 0.01 (t - t_prev), 10 t]
        t_next = cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                 bounds=(t + 0.01 * (t - t_prev), t * 10.0))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(xp.dot(g_new, d))
        it += 1
    if it == max_ls:  # never bracketed: fall back to [0, t]
        br = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]
    assert br is not None
    # Zoom (N&W Alg. 3.6): shrink the bracket by cubic interpolation until a Wolfe point is found.
    low, high = (0, 1) if br[0][1] <= br[-1][1] else (1, 0)
    insufficient = False
    while not done and it < max_ls:
        a, b = br[0][0], br[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_minimizer(a, br[0][1], br[0][3], b, br[1][1], br[1][3])
        # safeguard: a trial too close to an end (twice in a row, or outside) moves 10% of the width inside
        lo_t, hi_t = min(a, b), max(a, b)
        margin = 0.1 * (hi_t - lo_t)
        if min(hi_t - t, t - lo_t) < margin:
            if insufficient or t >= hi_t or t <= lo_t:
                t = hi_t - margin if abs(t - hi_t) < abs(t - lo_t) else lo_t + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(xp.dot(g_new, d))
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br[low][1]:
            br[high] = [t, f_new, g_new, gtd_new]  # no sufficient decrease: t is the new high end
            low, high = (0, 1) if br[0][1] <= br[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high][0] - br[low][0]) >= 0:
                br[high] = br[low]  # the slope points back past the low end: the old low becomes high
            br[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new = br[low][0], br[low][1], br[low][2]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """L-BFGS over the concatenation of all parameters (one param group; ``step(closure)`` required).

    Each ``step`` runs up to ``max_iter`` iterations (and ``max_eval`` closure calls): the direction is
    ``d = -H g`` from the two-loop recursion over the last ``history_size`` pairs (``-g`` on the very
    first iteration); the step is ``t = lr`` (the very first one ``min(1, 1 / |g|_1) * lr``), or the
    strong-Wolfe line search's with ``line_search_fn="strong_wolfe"``. Stops when ``max|g| <=
    tolerance_grad``, ``g.d > -tolerance_change``, ``max|t d| <= tolerance_change`` or the loss changes
    by less than ``tolerance_change``. The state (directions, history) lives in ``state[params[0]]``
    as flat arrays: ``d``, ``t``, ``old_dirs`` (``y``), ``old_stps`` (``s``), ``ro``, ``H_diag``, ``al``,
    ``prev_flat_grad``, ``prev_loss``, ``n_iter``, ``func_evals``.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None) -> None:
        check_nonnegative("LBFGS", lr=lr, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
        for name, value in (("max_iter", max_iter), ("history_size", history_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"LBFGS: invalid {name} {value!r}; it must be a positive integer")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # --- the parameters as one flat vector -----------------------------------------------------------
    def _numel(self) -> int:
        return sum(int(p.numel()) for p in self._params)

    def _state_shape(self, p: Tensor) -> tuple[int, ...]:
        return (self._numel(),)

    def _flat_grad(self) -> Any:
        parts = []
        for p in self._params:
            xp = get_array_module(p.array)
            if p.grad is None:
                parts.append(xp.zeros(p.array.size, dtype=p.array.dtype))
            else:
                parts.append(p.grad.array.reshape(-1).astype(p.array.dtype, copy=False))
        return get_array_module(parts[0]).concatenate(parts)

    def _add_direction(self, t: float, d: Any) -> None:
        """``params += t * d`` (in place; bumps each parameter's version)."""
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += (t * d[offset:offset + n]).reshape(p.array.shape)
            p._bump_version()
            offset += n

    def _copy_params(self) -> list[Any]:
        return [p.array.copy() for p in self._params]

    def _set_params(self, values: list[Any]) -> None:
        for p, v in zip(self._params, values):
            p.array[...] = v
            p._bump_version()

    # --- the step ------------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss of the first closure call.

        ``closure`` must zero the gradients, compute the loss, call ``backward()`` and return the loss.
        """
        if closure is None:
            raise RuntimeError("LBFGS.step: a closure that re-evaluates the model and returns the loss is "
                               "required, e.g. opt.step(lambda: (opt.zero_grad(), loss_fn().backward()) ...)")

        def evaluate() -> Any:
            with enable_grad():
                return closure()

        with no_grad():
            return self._run(evaluate)

    def _run(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), int(group["max_iter"]), int(group["max_eval"])
        tol_grad, tol_change = float(group["tolerance_grad"]), float(group["tolerance_change"])
        line_search, history_size = group["line_search_fn"], int(group["history_size"])
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        xp = get_array_module(g)
        if float(xp.max(xp.abs(g))) <= tol_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # --- direction: steepest descent first, then the two-loop recursion (N&W Alg. 7.4)
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = float(xp.dot(y, s))
                if ys > 1e-10:  # keep the pair only with positive curvature (H stays positive definite)
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(xp.dot(y, y))
                al = state.get("al")
                if al is None or len(al) != history_size:
                    al = state["al"] = [None] * history_size
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(xp.dot(old_stps[i], q)) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    beta = float(xp.dot(old_dirs[i], d)) * ro[i]
                    d += (al[i] - beta) * old_stps[i]
            if prev_g is None:
                prev_g = g.copy()
            else:
                prev_g[...] = g
            prev_loss = loss
            # --- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.sum(xp.abs(g)))) * lr
            else:
                t = lr
            gtd = float(xp.dot(g, d))
            if gtd > -tol_change:  # not a descent direction (any more)
                break
            ls_evals = 0
            if line_search is not None:
                x0 = self._copy_params()

                def at(step: float, x0: list[Any] = x0, d: Any = d) -> tuple[float, Any]:
                    self._add_direction(step, d)
                    value = float(closure())
                    grad = self._flat_grad()
                    self._set_params(x0)
                    return value, grad

                loss, g, t, ls_evals = strong_wolfe(at, t, d, loss, g, gtd, tolerance_change=tol_change)
                self._add_direction(t, d)
                optimal = float(xp.max(xp.abs(g))) <= tol_grad
            else:
                self._add_direction(t, d)
                optimal = False
                if n_iter != max_iter:  # the last iteration's loss would be wasted (the next step recomputes)
                    loss = float(closure())
                    g = self._flat_grad()
                    optimal = float(xp.max(xp.abs(g))) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            # --- stopping tests
            if n_iter == max_iter or evals >= max_eval or optimal:
                break
            if float(xp.max(xp.abs(d))) * abs(t) <= tol_change:  # no progress in x
                break
            if abs(loss - prev_loss) < tol_change:  # no progress in the loss
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
