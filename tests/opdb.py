"""The op registry: every differentiable op declared once, with sample inputs and a NumPy reference.

``tests/test_ops.py`` generates from each entry, on every available backend:
forward against the reference, float32 survival, gradcheck and gradgradcheck
(float64, random upstream gradients). ``test_registry_is_complete`` fails when a
public op or a ``Function`` subclass is not exercised by some entry here.

To register an op::

    register("exp", mg.exp, np.exp, [S(arr(3, 4)), S(arr(0))])

``arr(...)`` makes a float64 input that will require grad; wrap anything that must
not be differentiated (indices, masks, constant tensors) in ``C(...)``; plain Python
values (ints, tuples, strings) are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minigrad as mg

_rng = np.random.default_rng(1234)


def arr(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """A random float64 array in [low, high)."""
    return _rng.uniform(low, high, size=shape)


def pos(*shape: int, low: float = 0.5, high: float = 2.0) -> np.ndarray:
    """A random positive float64 array (for log, sqrt, division...)."""
    return _rng.uniform(low, high, size=shape)


def away(*shape: int, gap: float = 0.2) -> np.ndarray:
    """Random values at least ``gap`` away from 0 (kinks of relu/abs and friends)."""
    a = _rng.uniform(gap, 2.0, size=shape)
    return a * _rng.choice([-1.0, 1.0], size=shape)


def distinct(*shape: int) -> np.ndarray:
    """Values pairwise at least 0.1 apart (no accidental ties in max/sort-like ops)."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) * 0.1 - n * 0.05).reshape(shape)


class C:
    """A non-differentiable array argument (indices, masks, constants)."""

    def __init__(self, value: Any) -> None:
        self.value = np.asarray(value)


@dataclass
class S:
    """One sample: positional args (arrays become Tensors) and keyword args."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""

    gradgrad: bool = True

    def __init__(self, *args: Any, desc: str = "", gradgrad: bool = True, **kwargs: Any) -> None:
        """``gradgrad=False`` only where the second derivative is undefined (e.g. exactly at a tie)."""
        self.args, self.kwargs, self.desc, self.gradgrad = args, kwargs, desc, gradgrad


@dataclass
class OpEntry:
    name: str
    fn: Callable
    ref: Callable | None
    samples: list[S]
    covers: tuple[str, ...]
    gradcheck: bool = True
    gradgrad: bool = True
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-3
    fwd_atol: float = 1e-6
    float32: bool = True


OPS: list[OpEntry] = []


def register(
    name: str, fn: Callable, ref: Callable | None, samples: list[S], covers: tuple[str, ...] = (), **kw: Any
) -> None:
    OPS.append(OpEntry(name, fn, ref, samples, covers or (name,), **kw))


def to_tensors(sample: S, xp: Any, dtype: Any = np.float64, requires_grad: bool = True) -> tuple[list, dict]:
    """The sample's arguments as Tensors on the backend ``xp``."""

    def conv(a: Any) -> Any:
        if isinstance(a, C):
            v = a.value.astype(dtype) if a.value.dtype.kind == "f" else a.value
            return mg.as_tensor(xp.asarray(v))
        if isinstance(a, np.ndarray):
            return mg.tensor(xp.asarray(a.astype(dtype)), requires_grad=requires_grad)
        if isinstance(a, list) and a and all(isinstance(v, (np.ndarray, C)) for v in a):
            return [conv(v) for v in a]
        if isinstance(a, tuple):
            return tuple(mg.as_tensor(xp.asarray(v.value)) if isinstance(v, C) else v for v in a)
        return a

    return [conv(a) for a in sample.args], {k: conv(v) for k, v in sample.kwargs.items()}


def to_arrays(sample: S) -> tuple[list, dict]:
    def conv(a: Any) -> Any:
        if isinstance(a, C):
            return a.value
        if isinstance(a, list) and a and all(isinstance(v, (np.ndarray, C)) for v in a):
            return [conv(v) for v in a]
        if isinstance(a, tuple):
            return tuple(conv(v) for v in a)
        return a

    return [conv(a) for a in sample.args], {k: conv(v) for k, v in sample.kwargs.items()}


# ================================================================================================
# Arithmetic
register(
    "add",
    mg.add,
    lambda a, b, alpha=1: a + alpha * np.asarray(b),
    [
        S(arr(3, 4), arr(3, 4)),
        S(arr(3, 4), arr(4), desc="broadcast"),
        S(arr(2, 1, 3), arr(4, 1), desc="both-broadcast"),
        S(arr(3), 2.5, desc="scalar"),
        S(arr(0, 3), arr(3), desc="zero-size"),
        S(arr(2, 3), arr(2, 3), alpha=2.0, desc="alpha"),
    ],
)
register(
    "sub",
    mg.sub,
    lambda a, b, alpha=1: np.asarray(a) - alpha * np.asarray(b),
    [S(arr(3, 4), arr(4)), S(1.5, arr(3), desc="scalar-left"), S(arr(2, 3), arr(2, 1), alpha=0.5)],
)
register(
    "mul",
    mg.mul,
    np.multiply,
    [S(arr(3, 4), arr(3, 4)), S(arr(2, 3, 4), arr(3, 1)), S(arr(5), 3.0), S(arr(), arr(2, 2), desc="0-d")],
)
register("div", mg.div, np.divide, [S(arr(3, 4), away(3, 4)), S(arr(2, 3), away(3)), S(2.0, away(4))])
register("neg", mg.neg, np.negative, [S(arr(3, 4)), S(arr())])
register(
    "pow",
    mg.pow,
    np.power,
    [
        S(pos(3, 4), 3),
        S(pos(3), 2.5, desc="float-exponent"),
        S(arr(4), 2),
        S(pos(2, 3), arr(2, 3), desc="tensor-exponent"),
        S(pos(2, 3), arr(3), desc="broadcast-exponent"),
        S(2.0, arr(3), desc="scalar-base"),
        S(arr(3), 0, desc="zero-exponent"),
    ],
    covers=("pow",),
)
register("abs", mg.abs, np.abs, [S(away(3, 4))])
register("clone", mg.clone, np.copy, [S(arr(3, 2))])
register(
    "cast",
    lambda x: mg.cast(x, np.float32).to(np.float64),
    lambda x: x.astype(np.float32).astype(np.float64),
    [S(arr(3))],
    covers=("cast",),
    eps=1e-3,
    atol=1e-3,
    fwd_atol=1e-6,
    float32=False,
)
register("broadcast_to", mg.broadcast_to, np.broadcast_to, [S(arr(3, 1), (2, 3, 4)), S(arr(4), (3, 4))])
register(
    "sum_to", mg.sum_to, lambda x, s: x.sum(0).reshape(s) if x.ndim == 2 else None, [S(arr(3, 4), (1, 4))]
)

# Elementwise math
register("exp", mg.exp, np.exp, [S(arr(3, 4)), S(arr()), S(arr(0, 2))])
register("log", mg.log, np.log, [S(pos(3, 4))])
register("log1p", mg.log1p, np.log1p, [S(pos(3, 4, low=-0.5))])
register("sqrt", mg.sqrt, np.sqrt, [S(pos(3, 4))])
register("rsqrt", mg.rsqrt, lambda x: 1 / np.sqrt(x), [S(pos(5))])
register("sin", mg.sin, np.sin, [S(arr(3, 4))])
register("cos", mg.cos, np.cos, [S(arr(3, 4))])
register("tanh", mg.tanh, np.tanh, [S(arr(3, 4))])
register(
    "sigmoid",
    mg.sigmoid,
    lambda x: np.exp(-np.logaddexp(0, -x)),
    [S(arr(3, 4)), S(C([-800.0, 800.0, 0.0]), desc="no-overflow")],
)
register("erf", mg.erf, None, [S(arr(3, 4))])
register("square", mg.square, np.square, [S(arr(4))])
register("relu", mg.relu, lambda x: np.maximum(x, 0), [S(away(3, 4))])
register(
    "leaky_relu",
    mg.leaky_relu,
    lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
    [S(away(3, 4)), S(away(5), negative_slope=0.2)],
)
register(
    "elu",
    mg.elu,
    lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
    [S(away(3, 4)), S(away(6), alpha=0.5)],
)
register("gelu", mg.gelu, None, [S(arr(3, 4)), S(arr(5), approximate="tanh")])
register(
    "softplus",
    mg.softplus,
    lambda x, beta=1.0, threshold=20.0: np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta),
    [S(arr(3, 4)), S(arr(5), beta=2.0), S(C([30.0, -30.0]), desc="threshold")],
)
register("silu", mg.silu, lambda x: x / (1 + np.exp(-x)), [S(arr(4))])
register(
    "clamp",
    mg.clamp,
    lambda x, min=None, max=None: np.clip(x, min, max),
    [
        S(np.array([-1.7, -0.3, 0.2, 0.9, 1.6]), min=-0.5, max=0.5),
        S(np.array([-1.7, 0.3]), min=0.0),
        S(np.array([[-1.7, 0.3]]), max=0.0),
    ],
    covers=("clamp", "clip"),
)
register(
    "clamp_tensor_bounds",
    lambda x, lo, hi: mg.clamp(x, lo, hi),
    np.clip,
    [S(np.array([-1.7, -0.3, 0.2, 0.9]), np.array([-1.0, -1.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.5, 0.5]))],
)
register(
    "maximum",
    mg.maximum,
    np.maximum,
    [
        S(distinct(3, 4), distinct(3, 4) + 0.05),
        S(arr(3, 4), arr(4)),
        S(np.array([1.0, 2.0]), np.array([1.0, 0.5]), desc="tie", gradgrad=False),
    ],
)
register(
    "minimum",
    mg.minimum,
    np.minimum,
    [
        S(distinct(3, 4), distinct(3, 4) + 0.05),
        S(arr(2, 3), 0.3),
        S(np.array([1.0, 2.0]), np.array([1.0, 3.0]), desc="tie", gradgrad=False),
    ],
)
_mask = C(_rng.random((3, 4)) > 0.5)
register(
    "where",
    mg.where,
    np.where,
    [
        S(_mask, arr(3, 4), arr(3, 4)),
        S(_mask, arr(4), 0.0, desc="scalar"),
        S(C(np.array([True, False])), arr(3, 1), arr(2), desc="broadcast"),
    ],
)
register(
    "dropout",
    lambda x, p: (mg.manual_seed(0), mg.dropout(x, p))[1],
    None,
    [S(arr(4, 5), 0.3), S(arr(3), 0.0, desc="p0")],
)

# Reductions
register(
    "sum",
    mg.sum,
    lambda x, dim=None, keepdim=False: np.sum(x, axis=dim, keepdims=keepdim),
    [
        S(arr(3, 4)),
        S(arr(3, 4), 1),
        S(arr(2, 3, 4), (0, 2), keepdim=True),
        S(arr(2, 3), -1),
        S(arr(0, 3), 0, desc="zero-size"),
        S(arr()),
    ],
)
register(
    "mean",
    mg.mean,
    lambda x, dim=None, keepdim=False: np.mean(x, axis=dim, keepdims=keepdim),
    [S(arr(3, 4)), S(arr(3, 4), 0), S(arr(2, 3, 4), (1, 2), keepdim=True)],
)
register(
    "var",
    mg.var,
    lambda x, dim=None, keepdim=False, unbiased=True: np.var(
        x, axis=dim, keepdims=keepdim, ddof=1 if unbiased else 0
    ),
    [S(arr(3, 4)), S(arr(3, 4), 1), S(arr(2, 3, 4), (0, 2), keepdim=True, unbiased=False)],
)
register(
    "std",
    mg.std,
    lambda x, dim=None, keepdim=False: np.std(x, axis=dim, keepdims=keepdim, ddof=1),
    [S(arr(3, 4)), S(arr(4, 5), 0, keepdim=True)],
)
register(
    "amax",
    mg.amax,
    lambda x, dim=None, keepdim=False: np.max(x, axis=dim, keepdims=keepdim),
    [
        S(distinct(3, 4)),
        S(distinct(3, 4), 1),
        S(distinct(2, 3, 4), (0, 2), keepdim=True),
        S(np.array([[1.0, 3.0, 3.0], [2.0, 0.5, -1.0]]), 1, desc="tie", gradgrad=False),
    ],
)
register(
    "amin",
    mg.amin,
    lambda x, dim=None, keepdim=False: np.min(x, axis=dim, keepdims=keepdim),
    [S(distinct(3, 4)), S(distinct(3, 4), 0), S(np.array([0.5, -1.0, -1.0]), desc="tie", gradgrad=False)],
)
register(
    "max",
    lambda x, *a, **k: mg.max(x, *a, **k)[0] if a or k else mg.max(x),
    lambda x, dim=None, keepdim=False: np.max(x, axis=dim, keepdims=keepdim),
    [S(distinct(3, 4)), S(distinct(3, 4), 1), S(distinct(2, 3, 4), 0, keepdim=True)],
)
register(
    "min",
    lambda x, *a, **k: mg.min(x, *a, **k)[0] if a or k else mg.min(x),
    lambda x, dim=None, keepdim=False: np.min(x, axis=dim, keepdims=keepdim),
    [S(distinct(3, 4)), S(distinct(3, 4), -1)],
)
register(
    "prod",
    mg.prod,
    lambda x, dim=None, keepdim=False: np.prod(x, axis=dim, keepdims=keepdim),
    [
        S(pos(3, 4)),
        S(arr(3, 4), 1),
        S(arr(2, 3), 0, keepdim=True),
        S(np.array([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]]), 1, desc="zero"),
        S(np.array([[1.5, 0.0, 2.0], [0.0, -1.0, 3.0]]), desc="zeros-all"),
    ],
)
register(
    "logsumexp",
    mg.logsumexp,
    lambda x, dim=None, keepdim=False: np.log(np.sum(np.exp(x), axis=dim, keepdims=keepdim)),
    [S(arr(3, 4), 1), S(arr(3, 4)), S(arr(2, 3, 4), (0, 1), keepdim=True)],
)
register(
    "softmax",
    mg.softmax,
    lambda x, dim=-1: np.exp(x) / np.exp(x).sum(axis=dim, keepdims=True),
    [S(arr(3, 4)), S(arr(2, 3, 4), 1), S(arr(5), 0)],
)
register(
    "log_softmax",
    mg.log_softmax,
    lambda x, dim=-1: x - np.log(np.exp(x).sum(axis=dim, keepdims=True)),
    [S(arr(3, 4)), S(arr(2, 3, 4), 0)],
)

# Matrix products
register(
    "matmul",
    mg.matmul,
    np.matmul,
    [
        S(arr(3, 4), arr(4, 5)),
        S(arr(2, 3, 4), arr(4, 5), desc="batched-broadcast"),
        S(arr(2, 1, 3, 4), arr(5, 4, 2), desc="batch-broadcast"),
        S(arr(4), arr(4), desc="dot"),
        S(arr(3, 4), arr(4), desc="matvec"),
        S(arr(4), arr(2, 4, 3), desc="vecmat"),
        S(arr(0, 4), arr(4, 2), desc="zero-size"),
    ],
    covers=("matmul", "mm", "bmm", "dot"),
)
register(
    "einsum",
    mg.einsum,
    np.einsum,
    [
        S("ij,jk->ik", arr(3, 4), arr(4, 5)),
        S("bij,bjk->bik", arr(2, 3, 4), arr(2, 4, 2)),
        S("ii->i", arr(3, 3), desc="diagonal"),
        S("ii", arr(3, 3), desc="trace"),
        S("ij->", arr(2, 3), desc="sum"),
        S("i,j->ij", arr(3), arr(4), desc="outer"),
        S("...ij,...jk", arr(2, 3, 4), arr(4, 2), desc="ellipsis"),
        S("ijk,k->i", arr(2, 3, 4), arr(4), desc="contract-only-in-operand"),
        S("ij,jk,kl->il", arr(2, 3), arr(3, 4), arr(4, 2), desc="three"),
    ],
)

# Shapes
register(
    "reshape",
    mg.reshape,
    np.reshape,
    [S(arr(3, 4), (2, 6)), S(arr(3, 4), (-1,)), S(arr(2, 3, 4), (4, -1))],
    covers=("reshape", "view"),
)
register("flatten", mg.flatten, None, [S(arr(2, 3, 4)), S(arr(2, 3, 4), 1), S(arr(2, 3, 4, 5), 1, 2)])
register("unflatten", mg.unflatten, None, [S(arr(2, 12), 1, (3, 4))])
register(
    "transpose",
    mg.transpose,
    lambda x, a, b: np.swapaxes(x, a, b),
    [S(arr(3, 4), 0, 1), S(arr(2, 3, 4), -1, 0)],
    covers=("transpose", "swapaxes"),
)
register("permute", mg.permute, np.transpose, [S(arr(2, 3, 4), (2, 0, 1)), S(arr(2, 3), (1, 0))])
register("movedim", mg.movedim, np.moveaxis, [S(arr(2, 3, 4), 0, 2)])
register("t", mg.t, np.transpose, [S(arr(3, 4)), S(arr(3))], covers=("t", "mT"))
register("mT", mg.mT, lambda x: np.swapaxes(x, -1, -2), [S(arr(2, 3, 4))])
register("squeeze", mg.squeeze, np.squeeze, [S(arr(3, 1, 4, 1)), S(arr(3, 1, 4), 1), S(arr(1, 3, 1), (0, 2))])
register("unsqueeze", mg.unsqueeze, np.expand_dims, [S(arr(3, 4), 0), S(arr(3, 4), -1), S(arr(3), 1)])
register(
    "expand",
    mg.expand,
    lambda x, *s: np.broadcast_to(
        x, tuple(x.shape[i - (len(s) - x.ndim)] if v == -1 else v for i, v in enumerate(s))
    ),
    [S(arr(3, 1), 3, 4), S(arr(1, 4), 2, -1, 4)],
    covers=("expand", "expand_as"),
)
register(
    "cat",
    mg.cat,
    lambda xs, dim=0: np.concatenate(xs, axis=dim),
    [S([arr(2, 3), arr(4, 3)]), S([arr(2, 3), arr(2, 1), arr(2, 2)], 1), S([arr(2, 0), arr(2, 3)], dim=-1)],
    covers=("cat", "concat", "concatenate"),
)
register(
    "stack",
    mg.stack,
    lambda xs, dim=0: np.stack(xs, axis=dim),
    [S([arr(2, 3), arr(2, 3)]), S([arr(3), arr(3), arr(3)], 1)],
)
register(
    "split",
    mg.split,
    lambda x, s, dim=0: np.split(
        x, np.cumsum(s)[:-1] if isinstance(s, list) else list(range(s, x.shape[dim], s)), axis=dim
    ),
    [S(arr(5, 3), 2), S(arr(3, 6), [1, 2, 3], 1)],
)
register(
    "chunk",
    mg.chunk,
    lambda x, c, dim=0: np.array_split(x, c, axis=dim),
    [S(arr(6, 2), 3), S(arr(2, 4), 2, 1)],
)
register(
    "unbind",
    mg.unbind,
    lambda x, dim=0: [np.take(x, i, axis=dim) for i in range(x.shape[dim])],
    [S(arr(3, 2)), S(arr(2, 3), 1)],
)
register("pad", mg.pad, None, [S(arr(2, 3), (1, 2)), S(arr(2, 3, 4), (1, 0, 2, 1), value=0.5)])
register("repeat", mg.repeat, lambda x, *r: np.tile(x, r), [S(arr(2, 3), 2, 1), S(arr(3), 2, 2)])
register("flip", mg.flip, np.flip, [S(arr(2, 3), 1), S(arr(2, 3), (0, 1))])

# Indexing
register(
    "getitem",
    lambda x, i: x[i],
    lambda x, i: x[i],
    [
        S(arr(4, 5), (1, slice(None, None, 2)), desc="basic"),
        S(arr(4, 5), (Ellipsis, None, 2), desc="ellipsis"),
        S(arr(5, 3), C(np.array([0, 2, 2, 4])), desc="duplicates"),
        S(
            arr(4, 3),
            C(
                np.array(
                    [[True, False, True], [False, False, True], [True, True, True], [False, False, False]]
                )
            ),
            desc="boolean",
        ),
        S(arr(4, 5), (C(np.array([0, 3, 0])), C(np.array([1, 1, 1]))), desc="advanced-pairs"),
        S(arr(3, 4), (slice(1, 3), C(np.array([0, 0, 3]))), desc="mixed"),
    ],
)
_gidx = C(np.array([[0, 1, 1], [2, 0, 0]]))
register(
    "gather",
    mg.gather,
    lambda x, d, i: np.take_along_axis(x, i, d),
    [S(arr(3, 3), 0, _gidx), S(arr(2, 4), 1, C(np.array([[3, 0, 3, 1], [1, 1, 2, 2]])))],
)
register(
    "scatter_add",
    mg.scatter_add,
    None,
    [S(arr(3, 3), 0, _gidx, arr(2, 3)), S(arr(2, 5), 1, C(np.array([[0, 4, 4], [1, 1, 1]])), arr(2, 3))],
)
register(
    "index_select",
    mg.index_select,
    lambda x, d, i: np.take(x, i, axis=d),
    [S(arr(4, 3), 0, C(np.array([3, 0, 3]))), S(arr(2, 5), 1, C(np.array([4, 1])))],
)
register(
    "masked_fill",
    mg.masked_fill,
    lambda x, m, v: np.where(m, v, x),
    [S(arr(3, 4), _mask, 0.5), S(arr(2, 3), C(np.array([True, False, True])), -1.0)],
)

# Device moves: only exercised where a GPU is present.
if mg.cuda_is_available():
    register(
        "to_device",
        lambda x: x.to("cuda").to("cpu") if x.device == "cpu" else x.to("cpu").to("cuda"),
        lambda x: x,
        [S(arr(3, 4))],
    )

# Entries for nn layers, convolution and recurrent kernels live in their own files.
_MODULES = ("opdb_nn", "opdb_conv", "opdb_rnn", "opdb_inplace", "opdb_linalg", "opdb_dist", "opdb_attention",
            "opdb_custom", "opdb_flows")
for _mod in _MODULES:
    try:
        __import__(_mod)
    except ModuleNotFoundError as _e:
        if _e.name != _mod:
            raise
