"""Norms and distances safe at zero: ``normalize``, ``cosine_similarity``, ``pairwise_distance``, the
triplet-margin and cosine-embedding losses, and their modules.

Every norm goes through ``ops.norms.vector_norm``, whose backward is PyTorch's subgradient: 0 where the
norm is 0 (a naive sqrt(sum x^2) gives 0/0 = NaN there, and the NaN reaches every input through the chain
rule even when the norm is later clamped away from 0).
"""

from __future__ import annotations

from typing import Any

from ..ops import clamp, maximum, minimum, where
from ..ops.norms import vector_norm
from ..tensor import Tensor
from .loss import _check_reduction, _legacy, _reduce
from .module import Module

__all__ = ["normalize", "cosine_similarity", "pairwise_distance",
           "triplet_margin_loss", "cosine_embedding_loss", "CosineSimilarity", "PairwiseDistance",
           "TripletMarginLoss", "CosineEmbeddingLoss"]

_make = Tensor._make


def _eps(x: Tensor, eps: float) -> Tensor:
    return _make(x.xp.asarray(eps, dtype=x.dtype))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (shape kept). The gradient is finite at the zero vector:
    there the norm is clamped (so it gets no gradient) and dx = dy / eps, as in PyTorch."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    norm = vector_norm(input, p, dim, keepdim=True)
    return input / clamp(norm, eps, None)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps))) along ``dim`` (x1, x2 broadcast).

    As in PyTorch the clamp passes the gradient straight through to the norm (whose own gradient is 0 at
    the zero vector), so the result is finite everywhere and matches PyTorch's gradient.
    """
    if x1.dtype != x2.dtype:
        raise TypeError(f"cosine_similarity: x1 and x2 must have the same dtype, got {x1.dtype} and "
                        f"{x2.dtype}")
    n1 = vector_norm(x1, 2.0, dim, keepdim=True)
    n2 = vector_norm(x2, 2.0, dim, keepdim=True)
    e = _eps(x1, eps)
    n1 = n1 + (maximum(n1, e) - n1).detach()  # clamp_min in value, identity in gradient (PyTorch's rule)
    n2 = n2 + (maximum(n2, e) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (x1, x2 broadcast): (N, D), (N, D) -> (N,)."""
    d = x1 - x2 + eps
    return vector_norm(d, p, -1, keepdim=keepdim) if d.ndim else vector_norm(d, p, None, keepdim=keepdim)


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim`` (``F.cosine_similarity``)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """p-norm distance between the rows of x1 and x2 (``F.pairwise_distance``)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# --- distance-based losses -------------------------------------------------------------------------------
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d = ``pairwise_distance`` (p-norm, eps); ``swap`` uses
    min(d(a, n), d(p, n)). Inputs (N, D) or (D,); output reduced ('none': (N,))."""
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "triplet_margin_loss")
    if anchor.ndim not in (1, 2) or len({t.ndim for t in (anchor, positive, negative)}) != 1:
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must all be 1-D (D,) or 2-D "
                         f"(N, D), got shapes {[tuple(t.shape) for t in (anchor, positive, negative)]}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(d_pos - d_neg + margin, 0.0, None), reduction, "triplet_margin_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1.

    cos = sum(x1 x2) / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) over the last dim (PyTorch's formula: finite
    gradient at the zero vector). Inputs (N, D) with target (N,), or (D,) with a 0-d target.
    """
    reduction = _legacy(size_average, reduce, reduction)
    _check_reduction(reduction, "cosine_embedding_loss")
    if input1.ndim not in (1, 2) or input1.shape != input2.shape or target.ndim != input1.ndim - 1:
        raise ValueError(f"cosine_embedding_loss: expected input1 and input2 of the same shape (N, D) or "
                         f"(D,) and target (N,) or (); got {tuple(input1.shape)}, {tuple(input2.shape)} and "
                         f"{tuple(target.shape)}")
    dim = input1.ndim - 1
    prod = (input1 * input2).sum(dim)
    denom = (((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12)).sqrt()
    cos = prod / denom
    t = target.array if isinstance(target, Tensor) else input1.xp.asarray(target)
    zeros = cos * 0.0
    neg = clamp(cos - margin, 0.0, None)
    loss = where(_make(t == 1), 1.0 - cos, zeros) + where(_make(t == -1), neg, zeros)
    return _reduce(loss, reduction, "cosine_embedding_loss")


class TripletMarginLoss(Module):
    """``F.triplet_margin_loss`` as a module."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap
        self.reduction = _legacy(size_average, reduce, reduction)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                   reduction=self.reduction)


class CosineEmbeddingLoss(Module):
    """``F.cosine_embedding_loss`` as a module."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.margin = margin
        self.reduction = _legacy(size_average, reduce, reduction)

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)
