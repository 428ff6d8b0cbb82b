"""Matrix products: ``matmul`` (batched, with PyTorch's vector cases) and ``einsum``.

For C = A @ B:  dA = dC @ B^T and dB = A^T @ dC (summed over broadcast batch dims).
For einsum, the gradient of one operand is another einsum: the upstream gradient
contracted with all the other operands, producing that operand's subscripts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _blas
from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import binary_operands
from .arithmetic import _unbroadcast, unbroadcast_array
from .shape import mT, reshape, squeeze, unsqueeze

_make = Tensor._make


class MatMul(Function):
    """C = A @ B for A (..., n, k), B (..., k, m).  dA = dC @ B^T, dB = A^T @ dC."""

    saved_inputs = ((1,), (0,))

    def forward(self, a: Any, b: Any) -> Any:
        return _blas.mm(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        ga = _unbroadcast(MatMul()(gy, mT(b)), a) if self.needs_input_grad[0] else None
        gb = _unbroadcast(MatMul()(mT(a), gy), b) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_arrays(self, gy: Any) -> tuple:
        a, b = self.inputs[0].array, self.inputs[1].array
        need_a, need_b = self.needs_input_grad
        ga = unbroadcast_array(_blas.mm(gy, b.swapaxes(-1, -2)), a.shape) if need_a else None
        gb = unbroadcast_array(_blas.mm(a.swapaxes(-1, -2), gy), b.shape) if need_b else None
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are vectors, leading dims broadcast."""
    a, b = binary_operands("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied ({ka} != {kb})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast"
        ) from None
    va, vb = a.ndim == 1, b.ndim == 1
    if va:
        a = unsqueeze(a, 0)
    if vb:
        b = unsqueeze(b, -1)
    y = MatMul()(a, b)
    if va and vb:
        return reshape(y, ())
    if va:
        return squeeze(y, -2)
    if vb:
        return squeeze(y, -1)
    return y


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors (n, k) @ (k, m), as ``torch.mm`` (no broadcasting)."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.ndim != 2 or b.ndim != 2:
        raise ValueError(
            f"mm: expected two 2-D tensors, got shapes {tuple(getattr(a, 'shape', ()))} and "
            f"{tuple(getattr(b, 'shape', ()))}"
        )
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched matrix product (B, n, k) @ (B, k, m), as ``torch.bmm`` (equal batch sizes, no broadcasting)."""
    if (
        not isinstance(a, Tensor)
        or not isinstance(b, Tensor)
        or a.ndim != 3
        or b.ndim != 3
        or a.shape[0] != b.shape[0]
    ):
        raise ValueError(
            f"bmm: expected two 3-D tensors with the same batch size, got shapes "
            f"{tuple(getattr(a, 'shape', ()))} and {tuple(getattr(b, 'shape', ()))}"
        )
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


# --- einsum ------------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit subscripts (no '...', explicit output) for each operand and the output."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(
            f"einsum: equation {equation!r} names {len(ins)} operands but {len(shapes)} were given"
        )
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    ell_rank = 0
    for s, shp in zip(ins, shapes):
        if "..." in s:
            ell_rank = max(ell_rank, len(shp) - (len(s) - 3))
    ell = "".join(free[:ell_rank])
    subs = []
    for s, shp in zip(ins, shapes):
        if "..." in s:
            n = len(shp) - (len(s) - 3)
            s = s.replace("...", ell[ell_rank - n :] if n else "")
        if len(s) != len(shp):
            raise ValueError(f"einsum: subscripts {s!r} do not match an operand of shape {shp}")
        subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return subs, out


class Einsum(Function):
    """y = einsum(subs -> out).  dx_i = einsum(dy, x_j for j != i -> subs_i)."""

    def __init__(self, subs: list[str], out: str) -> None:
        self.subs, self.out = subs, out

    def forward(self, *xs: Any) -> Any:
        xp = get_array_module(xs[0])
        eq = ",".join(self.subs) + "->" + self.out
        return xp.einsum(eq, *xs, optimize=len(xs) > 2)

    def backward(self, gy: Tensor) -> tuple:
        grads = []
        for i in range(len(self.inputs)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            grads.append(self._grad_of(i, gy))
        return tuple(grads)

    def _grad_of(self, i: int, gy: Tensor) -> Tensor:
        target = self.subs[i]
        x = self.inputs[i]
        others = [(s, t) for j, (s, t) in enumerate(zip(self.subs, self.inputs)) if j != i]
        avail = set(self.out).union(*[set(s) for s, _ in others]) if others else set(self.out)
        # letters of x that appear elsewhere, once each; the rest are broadcast afterwards
        uniq = "".join(dict.fromkeys(c for c in target if c in avail))
        ops_subs = [self.out] + [s for s, _ in others]
        g = einsum(",".join(ops_subs) + "->" + uniq, gy, *[t for _, t in others])
        # letters summed only inside x (absent from uniq): the gradient is constant along them
        # repeated letters (a diagonal such as 'ii'): put the gradient on the diagonal with identity matrices
        sizes = dict(zip(target, x.shape))
        seen: set[str] = set()
        new_target = ""
        extra_subs, extra_ops = [], []
        free = [c for c in _LETTERS if c not in set("".join(self.subs) + self.out)]
        for c in target:
            if c in seen:  # a repeated letter: the gradient lives on the diagonal
                d = free.pop(0)
                new_target += d
                extra_subs.append(c + d)
                extra_ops.append(_make(x.xp.eye(sizes[c], dtype=x.dtype)))
                continue
            seen.add(c)
            new_target += c
            if c not in avail:  # summed inside x only: the gradient is constant along it
                extra_subs.append(c)
                extra_ops.append(_make(x.xp.ones((sizes[c],), dtype=x.dtype)))
        if extra_ops:
            g = einsum(",".join([uniq] + extra_subs) + "->" + new_target, g, *extra_ops)
        return g


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``; supports '...' and repeated letters."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = list(operands)
    if len(ops) > 1:
        ref = ops[0]
        for k in range(1, len(ops)):
            ref, ops[k] = binary_operands("einsum", ref, ops[k])
        ops[0] = ref
        ops = [o if o.dtype == ref.dtype else o.to(ref.dtype) for o in ops]
    subs, out = _parse_einsum(equation, [tuple(o.shape) for o in ops])
    sizes: dict[str, int] = {}
    for k, (s, o) in enumerate(zip(subs, ops)):
        for c, n in zip(s, o.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: subscript {c!r} has size {n} in operand {k} (shape {tuple(o.shape)}) "
                    f"but {sizes[c]} elsewhere"
                )
    return Einsum(subs, out)(*ops)
