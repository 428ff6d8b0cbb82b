"""Loss functions (functional forms and modules) with PyTorch's signatures, defaults and reductions.

Every loss is a composition of differentiable ops, so gradients of any order come for free, except the
cross-entropy of (N, C) logits against class indices (the loss of every classifier), which is one fused
node (``CrossEntropyIndices``) whose backward is again written with differentiable ops.
``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``; the weighted/ignored class-index
losses (``nll_loss``, ``cross_entropy``) divide a ``'mean'`` by the sum of the weights of the
non-ignored targets, exactly as PyTorch does.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..grad_mode import is_grad_enabled
from ..ops import clamp, exp, gather, log, log_softmax, softmax, softplus, where
from ..tensor import Tensor
from .module import Module

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "gaussian_nll_loss", "MSELoss",
    "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss", "GaussianNLLLoss", "CrossEntropyIndices",
]

_make = Tensor._make


def _legacy(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """Map PyTorch's deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction ('mean', 'sum' or 'none')")


def _check_reduction(reduction: str, op: str, extra: tuple[str, ...] = ()) -> None:
    if reduction not in ("mean", "sum", "none") + extra:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction "
                         f"(expected one of {('mean', 'sum', 'none') + extra})")


def _as_target(target: Any, like: Tensor) -> Tensor:
    if isinstance(target, Tensor):
        return target
    return _make(like.xp.asarray(target, dtype=like.dtype))


def _broadcast_check(op: str, input: Tensor, target: Tensor, warn: bool = True) -> None:
    """Shapes must broadcast; when they differ, warn as PyTorch does (a (N,) target against an (N, 1) input
    silently gives an (N, N) loss, the classic regression bug)."""
    ishape, tshape = tuple(input.shape), tuple(target.shape)
    if ishape == tshape:
        return
    try:
        np.broadcast_shapes(ishape, tshape)
    except ValueError:
        raise ValueError(f"{op}: input of shape {ishape} and target of shape {tshape} cannot be broadcast "
                         "together") from None
    if warn:
        warnings.warn(f"{op}: Using a target size ({list(tshape)}) that is different to the input size "
                      f"({list(ishape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=3)


# --- regression losses ------------------------------------------------------------------------------
def _weighted_reduce(loss: Tensor, weight: Tensor | None, reduction: str, op: str) -> Tensor:
    """Reduce ``weight * loss``; a weighted 'mean' divides by sum(weight) (PyTorch's rule for mse/l1)."""
    if weight is None:
        return _reduce(loss, reduction, op)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} must have the loss's shape "
                         f"{tuple(loss.shape)}")
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction, op)


def mse_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(input - target)^2, reduced. Shapes broadcast. With ``weight`` (the loss's shape), 'mean' is
    sum(w * l) / sum(w)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    warn = isinstance(target, Tensor)  # a Python number target is broadcast on purpose
    target = _as_target(target, input)
    _broadcast_check("mse_loss", input, target, warn)
    d = input - target
    return _weighted_reduce(d * d, weight, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|input - target|, reduced (``weight`` as in ``mse_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    warn = isinstance(target, Tensor)  # a Python number target is broadcast on purpose
    target = _as_target(target, input)
    _broadcast_check("l1_loss", input, target, warn)
    return _weighted_reduce((input - target).abs(), weight, reduction, "l1_loss")


def smooth_l1_loss(input: Tensor, target: Any, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target; beta = 0 gives L1)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    warn = isinstance(target, Tensor)  # a Python number target is broadcast on purpose
    target = _as_target(target, input)
    _broadcast_check("smooth_l1_loss", input, target, warn)
    d = input - target
    ad = d.abs()
    if beta == 0:
        return _reduce(ad, reduction, "smooth_l1_loss")
    loss = where(ad.array < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); equals delta * smooth_l1(beta=delta)."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    warn = isinstance(target, Tensor)  # a Python number target is broadcast on purpose
    target = _as_target(target, input)
    _broadcast_check("huber_loss", input, target, warn)
    d = input - target
    ad = d.abs()
    loss = where(ad.array < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def gaussian_nll_loss(input: Tensor, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) [+ 0.5 log(2 pi) if full].

    ``var`` has input's shape, or input's shape with the last dim 1 or dropped (one variance per sample),
    or is a scalar. As in PyTorch the clamp to ``eps`` is not differentiated (the gradient passes as if
    ``var`` were unclamped)."""
    _check_reduction(reduction, "gaussian_nll_loss")
    target = _as_target(target, input)
    if not isinstance(var, Tensor):
        var = _make(input.xp.full(input.shape, float(var), dtype=input.dtype))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var of shape {tuple(var.shape)} is incompatible with input "
                             f"of shape {tuple(input.shape)}")
    if bool((var.array < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    clamped = var.xp.maximum(var.array, eps).astype(var.dtype, copy=False)
    v = var + _make(clamped - var.array)  # value max(var, eps), gradient of var
    d = input - target
    loss = (log(v) + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


# --- classification losses ----------------------------------------------------------------------------
def _class_dim(input: Tensor, op: str) -> int:
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dim (C,) or (N, C, ...), got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _weight_shape(input: Tensor, cdim: int) -> tuple[int, ...]:
    shape = [1] * input.ndim
    shape[cdim] = input.shape[cdim]
    return tuple(shape)


def _check_weight(op: str, weight: Tensor | None, c: int) -> None:
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"{op}: weight should be a 1-D tensor of size {c} (number of classes), got shape "
                         f"{tuple(weight.shape)}")


def _class_indices(op: str, input: Tensor, target: Any, cdim: int, ignore_index: int) -> tuple[Any, Any, Any]:
    """(t, ignored, safe): the class-index target as an array, where it equals ``ignore_index``, and t with
    those entries set to 0, after checking its dtype, shape and range."""
    t = target.array if isinstance(target, Tensor) else input.xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer class-index target, got dtype {t.dtype}")
    expected = tuple(input.shape[:cdim]) + tuple(input.shape[cdim + 1:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape "
                         f"{tuple(input.shape)}, got {tuple(t.shape)}")
    xp, c = input.xp, input.shape[cdim]
    ignored = t == ignore_index
    safe = xp.where(ignored, 0, t)
    if safe.size and (int(safe.min()) < 0 or int(safe.max()) >= c):
        bad = safe[(safe < 0) | (safe >= c)].ravel()[0]
        raise IndexError(f"{op}: target {int(bad)} is out of bounds for {c} classes")
    return t, ignored, safe


class CrossEntropyIndices(Function):
    """Cross-entropy of logits x (N, C) against class indices as one node.

    Forward: loss_i = logsumexp(x_i) - x[i, t_i] (0 where t_i is ignored), then 'none' (N,), 'sum' or
    'mean' over the non-ignored rows (nan, with zero gradient, when every row is ignored).
    Backward: dx = (softmax(x) - onehot(t)) * c_i, c_i the upstream gradient reaching row i (divided by
    the count for 'mean'; 0 for ignored rows). With ``create_graph`` it is built from ``softmax`` and
    products, so it can be differentiated again.
    """

    def __init__(self, safe: Any, valid: Any, reduction: str) -> None:
        """``safe`` (N,) class indices (0 where ignored), ``valid`` (N,) bool (not ignored)."""
        self.safe, self.valid, self.reduction = safe, valid, reduction

    def forward(self, x: Any) -> Any:
        xp = get_array_module(x)
        rows = xp.arange(x.shape[0])
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = xp.where(self.valid, xp.log(s[:, 0]) - z[rows, self.safe], x.dtype.type(0))
        e /= s
        self.p = e  # softmax(x), for the first-order backward
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "sum":
            return total
        self.count = int(self.valid.sum())
        return total / x.dtype.type(self.count) if self.count else xp.asarray(np.nan, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        xp = x.xp
        rows = xp.arange(x.shape[0])
        # the weight of each row in the reduced loss: 0 for ignored rows, 1/count for 'mean'
        scale = (1.0 / self.count if self.count else 0.0) if self.reduction == "mean" else 1.0
        row_weight = (self.valid * scale).astype(x.dtype)
        if not is_grad_enabled():  # first-order: on arrays, from the saved softmax
            g = self.p.copy()
            g[rows, self.safe] -= 1
            g *= (gy.array * row_weight)[:, None]
            g[~self.valid] = 0  # exactly, even where the softmax of an ignored row is not finite
            return _make(g)
        onehot = xp.zeros(x.shape, dtype=x.dtype)
        onehot[rows, self.safe] = 1
        return (softmax(x, 1) - _make(onehot)) * (gy * _make(row_weight)).unsqueeze(1)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood from log-probabilities.

    Inputs: input (N, C), (C,) or (N, C, d1, ...); target integer class indices (N,), () or (N, d1, ...).
    loss_i = -weight[t_i] * input[i, t_i] (0 where t_i == ignore_index).
    'mean' divides the sum by sum_i weight[t_i] over the non-ignored targets (nan if there are none).
    The weight is a constant (no gradient flows to it).
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    cdim = _class_dim(input, "nll_loss")
    c = input.shape[cdim]
    _check_weight("nll_loss", weight, c)
    t, ignored, safe = _class_indices("nll_loss", input, target, cdim, ignore_index)
    xp = input.xp
    picked = gather(input, cdim, xp.expand_dims(safe, cdim)).squeeze(cdim)
    if weight is not None:
        w = weight.array.astype(input.dtype, copy=False)[safe]
    else:
        w = xp.ones(t.shape, dtype=input.dtype)
    w = xp.where(ignored, xp.zeros((), dtype=input.dtype), w).astype(input.dtype, copy=False)
    loss = -(picked * _make(w))
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return _safe_mean(total, w.sum())


def _safe_mean(total: Tensor, denom: Any) -> Tensor:
    """total / denom; when every target is ignored (denom 0) the result is nan with zero gradients,
    as in PyTorch (rather than 0 * inf = nan gradients)."""
    xp = total.xp
    if float(denom) == 0.0:
        return total * 0.0 + _make(xp.asarray(np.nan, dtype=total.dtype))
    return total / _make(xp.asarray(denom, dtype=total.dtype))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits and class indices or class probabilities.

    Inputs: logits (N, C), (C,) or (N, C, d1, ...); target either integer class indices (shape without
    the class dim) or probabilities (same shape as input).
    With indices: loss = (1 - ls) * nll(log_softmax(x)) + ls / C * smooth, smooth_i = -sum_c w_c logp_ic
    (0 for ignored targets), and 'mean' divides both by sum_i w[t_i] over non-ignored targets.
    With probabilities: target <- (1 - ls) * target + ls / C, loss_i = -sum_c w_c target_ic logp_ic and
    'mean' divides by the number of samples N * d1 * ... .
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    cdim = _class_dim(input, "cross_entropy")
    c = input.shape[cdim]
    _check_weight("cross_entropy", weight, c)
    if (weight is None and label_smoothing == 0.0 and input.ndim == 2
            and not (isinstance(target, Tensor) and target.dtype.kind == "f")):
        _, ignored, safe = _class_indices("cross_entropy", input, target, cdim, ignore_index)
        return CrossEntropyIndices(safe, ~ignored, reduction)(input)
    logp = log_softmax(input, cdim)
    wshape = _weight_shape(input, cdim)
    w_b = None if weight is None else _make(weight.array.astype(input.dtype, copy=False).reshape(wshape))

    if isinstance(target, Tensor) and target.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"cross_entropy: probability target of shape {tuple(target.shape)} must match "
                             f"the input shape {tuple(input.shape)}")
        tp = target
        if label_smoothing > 0:
            tp = tp * (1.0 - label_smoothing) + label_smoothing / c
        prod = logp * tp
        if w_b is not None:
            prod = prod * w_b
        loss = -prod.sum(cdim)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        return loss.sum() / float(max(input.numel() // c, 1)) if c else loss.sum()

    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    t = target.array if isinstance(target, Tensor) else input.xp.asarray(target)
    xp = input.xp
    ignored = t == ignore_index
    smooth = -((logp * w_b) if w_b is not None else logp).sum(cdim)
    smooth = where(ignored, _make(xp.zeros((), dtype=input.dtype)), smooth)
    if reduction == "none":
        red = smooth
    elif reduction == "sum":
        red = smooth.sum()
    else:
        if weight is not None:
            denom = weight.array.astype(input.dtype, copy=False)[t[~ignored]].sum()
        else:
            denom = (~ignored).sum()
        red = _safe_mean(smooth.sum(), denom)
    return nll * (1.0 - label_smoothing) + red * (label_smoothing / c)


def _log_clamped(x: Tensor) -> Tensor:
    """max(log x, -100) with a finite value (and zero gradient) at x = 0, as PyTorch's BCE."""
    tiny = float(np.exp(np.float64(-100.0)).astype(x.dtype)) or float(np.finfo(x.dtype).tiny)
    return clamp(log(clamp(x, min=tiny)), min=-100.0)


def _bce_arguments(op: str, input: Tensor, target: Any, size_average: bool | None, reduce: bool | None,
                   reduction: str) -> tuple[str, Tensor]:
    """(reduction, target as a Tensor) for the binary cross-entropies, after checking both."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    target = _as_target(target, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as the input size "
                         f"{tuple(input.shape)}")
    return reduction, target


def binary_cross_entropy(input: Tensor, target: Any, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w * (t log x + (1 - t) log(1 - x)), each log clamped to >= -100; input: probabilities in [0, 1]."""
    reduction, target = _bce_arguments("binary_cross_entropy", input, target, size_average, reduce, reduction)
    if input.numel() and (bool((input.array < 0).any()) or bool((input.array > 1).any())):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    loss = -(target * _log_clamped(input) + (1.0 - target) * _log_clamped(1.0 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + BCE in one stable expression (x = logits, t = target, p = pos_weight):

        loss = (1 - t) x + (1 + (p - 1) t) softplus(-x),   softplus(-x) = log(1 + e^-x) = -log sigmoid(x)

    ``pos_weight`` broadcasts against the input (typically shape (C,), one weight per class)."""
    op = "binary_cross_entropy_with_logits"
    reduction, target = _bce_arguments(op, input, target, size_average, reduce, reduction)
    sp = softplus(-input, 1.0, math.inf)
    if pos_weight is not None:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    else:
        loss = (1.0 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: target * (log target - input) (0 where target = 0), or with
    ``log_target`` exp(target) * (target - input). input holds log-probabilities.
    'batchmean' divides the sum by the batch size input.shape[0] (the mathematically correct KL)."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "kl_div", ("batchmean",))
    target = _as_target(target, input)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        pos = target.array > 0
        safe = where(pos, target, _make(target.xp.ones((), dtype=target.dtype)))
        loss = target * (log(safe) - input)
    if reduction == "batchmean":
        return loss.sum() / float(input.shape[0]) if input.ndim else loss.sum()
    return _reduce(loss, reduction, "kl_div")


# ======================================================================================================
# Modules


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _legacy(size_average, reduce, reduction)


class MSELoss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class NLLLoss(_WeightedLoss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class GaussianNLLLoss(_Loss):
    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor) -> Tensor:
        return gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)
