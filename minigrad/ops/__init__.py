"""Every differentiable op, as functions (``minigrad.exp(x)``) and as Tensor methods (``x.exp()``)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .arithmetic import (
    abs,
    add,
    broadcast_to,
    cast,
    ceil,
    clone,
    div,
    floor,
    mul,
    neg,
    pow,
    round,
    sign,
    sub,
    sum_to,
)
from .arithmetic import to_device_op as to_device
from .decomp import cholesky, det, logdet, slogdet
from .decomp import inv as inverse
from .indexing import gather, getitem, index_select, masked_fill, scatter_add, unwrap_index
from .linalg import bmm, dot, einsum, matmul, mm
from .matrix import ger, outer, tril, triu
from .norms import norm
from .reduction import (
    SafeSqrt,
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    std,
    sum,
    var,
)
from .scan import cumprod, cumsum
from .shape import (
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    expand_as,
    flatten,
    flip,
    movedim,
    mT,
    narrow,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    t,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
)
from .sorting import argsort, argwhere, nonzero, sort, topk
from .tensor_extras import Size, _shape, _size, new_empty, new_full, new_ones, new_tensor, new_zeros, type_
from .unary import (
    allclose,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    dropout,
    elu,
    eq,
    equal,
    erf,
    exp,
    ge,
    gelu,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    leaky_relu,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    ne,
    relu,
    rsqrt,
    sigmoid,
    silu,
    sin,
    softplus,
    sqrt,
    square,
    tanh,
    where,
)

true_divide = divide = div
multiply = mul
subtract = sub
negative = neg

# Tensor methods that are the functional op with the tensor as first argument.
_METHODS = [
    "abs",
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "sign",
    "floor",
    "ceil",
    "round",
    "clone",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "square",
    "clamp",
    "clip",
    "maximum",
    "minimum",
    "sum",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "argmax",
    "argmin",
    "any",
    "all",
    "logsumexp",
    "softmax",
    "log_softmax",
    "reshape",
    "view",
    "flatten",
    "unflatten",
    "transpose",
    "swapaxes",
    "permute",
    "movedim",
    "t",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "broadcast_to",
    "split",
    "chunk",
    "unbind",
    "repeat",
    "flip",
    "gather",
    "scatter_add",
    "index_select",
    "masked_fill",
    "matmul",
    "mm",
    "bmm",
    "dot",
    "narrow",
    "norm",
    "cumsum",
    "cumprod",
    "sort",
    "argsort",
    "topk",
    "clamp_min",
    "clamp_max",
    "nonzero",
    "argwhere",
    "outer",
    "ger",
    "tril",
    "triu",
    "inverse",
    "det",
    "logdet",
    "slogdet",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty",
    "new_tensor",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "isnan",
    "isinf",
    "isfinite",
    "logical_not",
    "logical_and",
    "logical_or",
]


def _install_methods() -> None:
    g = globals()
    for name in _METHODS:
        setattr(Tensor, name, g[name])
    Tensor.T = property(t)
    Tensor.mT = property(mT)
    Tensor.view_as = lambda self, other: reshape(self, other.shape)
    Tensor.reshape_as = lambda self, other: reshape(self, other.shape)
    Tensor.divide = div
    Tensor.multiply = mul
    Tensor.subtract = sub
    Tensor.masked_fill_ = _masked_fill_
    Tensor.cast = cast
    Tensor.type = type_
    Tensor.shape = property(_shape, doc="The shape, a :class:`Size` (a tuple), as ``torch.Size``.")
    Tensor.size = _size
    Tensor.cholesky = cholesky


def _masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    self._check_inplace("masked_fill_")
    m = mask.array if isinstance(mask, Tensor) else mask
    self.array[...] = self.xp.where(m, value, self.array)
    return self


_install_methods()

# The public differentiable ops; tests/test_ops.py checks that each is registered in tests/opdb.py.
DIFFERENTIABLE = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "abs",
    "clone",
    "cast",
    "broadcast_to",
    "sum_to",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "erf",
    "square",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
    "silu",
    "clamp",
    "clip",
    "maximum",
    "minimum",
    "where",
    "dropout",
    "sum",
    "mean",
    "var",
    "std",
    "amax",
    "amin",
    "max",
    "min",
    "prod",
    "logsumexp",
    "softmax",
    "log_softmax",
    "matmul",
    "mm",
    "bmm",
    "dot",
    "einsum",
    "reshape",
    "view",
    "flatten",
    "unflatten",
    "transpose",
    "swapaxes",
    "permute",
    "movedim",
    "t",
    "mT",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "split",
    "chunk",
    "unbind",
    "pad",
    "repeat",
    "flip",
    "getitem",
    "gather",
    "scatter_add",
    "index_select",
    "masked_fill",
    "narrow",
    "norm",
    "linalg.vector_norm",
    "linalg.norm",
    "cumsum",
    "cumprod",
    "sort",
    "topk",
    "clamp_min",
    "clamp_max",
    "outer",
    "ger",
    "tril",
    "triu",
    "inverse",
    "det",
    "slogdet",
    "logdet",
    "cholesky",
    # minigrad.linalg
    "linalg.inv",
    "linalg.solve",
    "linalg.matrix_norm",
    "linalg.eigh",
    "linalg.qr",
]

__all__ = sorted(
    n
    for n, v in list(globals().items())
    if not n.startswith("_")
    and n
    not in {"Any", "Tensor", "annotations", "DIFFERENTIABLE", "unwrap_index", "SafeSqrt", "type_"}
    and not n.startswith("new_")
    and callable(v)
)
