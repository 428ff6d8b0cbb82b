"""Shape ops: reshape, transpose/permute, squeeze/unsqueeze, expand, cat/stack/split/chunk, pad, repeat.

They move elements without changing values, so each backward moves the gradient
back: reshape undoes reshape, the inverse permutation undoes a permute, split
undoes cat, slicing undoes pad, and summing over the copies undoes repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import normalize_dim
from .arithmetic import broadcast_to

_make = Tensor._make


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    """y = x with a new shape.  dx = reshape(dy, x.shape)."""

    saved_inputs = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return x.reshape(self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return reshape(gy, self.inputs[0].shape)

    def backward_arrays(self, gy: Any) -> Any:
        return gy.reshape(self.inputs[0].array.shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same elements, new shape; one entry may be -1."""
    shape = tuple(int(s) for s in _shape_arg(shape))
    if shape == x.shape:
        return x
    n = x.numel()
    known = int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or n % known)) or (-1 not in shape and known != n):
        raise RuntimeError(
            f"reshape: shape {list(shape)} is invalid for input of size {n} (shape {tuple(x.shape)})"
        )
    return Reshape(shape)(x)


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shp = x.shape
    return reshape(x, shp[:s] + (int(np.prod(shp[s : e + 1])),) + shp[e + 1 :])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = normalize_dim(dim, x.ndim, "unflatten")
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1 :])


class Permute(Function):
    """y = x with its axes reordered by ``axes``.  dx = dy permuted by the inverse order."""

    saved_inputs = ()

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return permute(gy, tuple(int(i) for i in np.argsort(self.axes)))

    def backward_arrays(self, gy: Any) -> Any:
        return gy.transpose(tuple(int(i) for i in np.argsort(self.axes)))


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the dimensions: ``permute(x, (2, 0, 1))``."""
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: got {len(dims)} dims for a tensor of {x.ndim} dimensions")
    axes = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"permute: repeated dim in {dims}")
    if axes == tuple(range(x.ndim)):
        return x
    return Permute(axes)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, tuple(axes))


swapaxes = transpose


def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    s, d = normalize_dim(source, x.ndim, "movedim"), normalize_dim(destination, x.ndim, "movedim")
    axes = [i for i in range(x.ndim) if i != s]
    axes.insert(d, s)
    return permute(x, tuple(axes))


def t(x: Tensor) -> Tensor:
    """Transpose of a tensor of at most 2 dims (all dims reversed, as ``.T``)."""
    return permute(x, tuple(range(x.ndim - 1, -1, -1)))


def mT(x: Tensor) -> Tensor:
    """Swap the last two dims (a batch of matrix transposes)."""
    if x.ndim < 2:
        raise ValueError(f"mT: needs at least 2 dims, got shape {tuple(x.shape)}")
    return transpose(x, -1, -2)


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all of them, or the given one(s) if they have size 1)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = {normalize_dim(d, x.ndim, "squeeze") for d in dims} if x.ndim else set()
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``)."""
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps a dim's size."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the number of dims ({x.ndim})"
        )
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return broadcast_to(x, other.shape)


# --- joining and splitting -------------------------------------------------------------------
class Cat(Function):
    """y = the inputs joined along ``axis``.  Each dx_i is its slice of dy (split)."""

    saved_inputs = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        return get_array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy: Tensor) -> tuple:
        sizes = [x.shape[self.axis] for x in self.inputs]
        return tuple(split(gy, sizes, self.axis))

    def backward_arrays(self, gy: Any) -> tuple:
        bounds = np.cumsum([x.array.shape[self.axis] for x in self.inputs])[:-1].tolist()
        return tuple(get_array_module(gy).split(gy, bounds, axis=self.axis))


class Split(Function):
    """ys = x cut along ``axis`` into pieces of ``sizes``.  dx = cat(dys)."""

    saved_inputs = ()

    def __init__(self, sizes: Sequence[int], axis: int) -> None:
        self.sizes, self.axis = list(sizes), axis

    def forward(self, x: Any) -> Any:
        bounds = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(get_array_module(x).split(x, bounds, axis=self.axis))

    def backward(self, *gys: Tensor) -> Tensor:
        return cat(list(gys), self.axis)

    def backward_arrays(self, *gys: Any) -> Any:
        return get_array_module(gys[0]).concatenate(gys, axis=self.axis)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing ``dim``; all other dims must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ref = tensors[0]
    axis = normalize_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape)) if k != axis):
            raise ValueError(
                f"cat: tensor {i} has shape {tuple(t.shape)}, which does not match tensor 0's "
                f"{tuple(ref.shape)} "
                f"outside dim {axis}"
            )
    from ..dtypes import result_type

    dtype = ref.dtype
    for t in tensors[1:]:
        dtype = result_type(dtype, t.dtype)
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return Cat(axis)(*tensors)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"stack: expects each tensor to be equal size, but got {tuple(tensors[0].shape)} at "
                f"entry 0 and {tuple(t.shape)} at entry {i}"
            )
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given list of sizes."""
    axis = normalize_dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = [int(v) for v in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(
                f"split: sizes {sizes} do not add up to {n}, the size of dim {dim} (shape {tuple(x.shape)})"
            )
    if len(sizes) == 1:
        return (x,)
    return Split(sizes, axis)(x)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` nearly equal pieces (PyTorch's rule: pieces of ceil(n / chunks))."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    size = max(1, -(-n // chunks))
    return split(x, size, dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = normalize_dim(dim, x.ndim, "unbind")
    return tuple(squeeze(p, d) for p in split(x, 1, d))


# --- padding and repetition --------------------------------------------------------------------
class Pad(Function):
    """y = x with constant borders.  dx = the inner slice of dy."""

    saved_inputs = ()

    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths, self.value = widths, value

    def forward(self, x: Any) -> Any:
        return get_array_module(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy: Tensor) -> Tensor:
        from .indexing import getitem

        idx = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return getitem(gy, idx)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with ``value``. ``pad`` lists (before, after) pairs starting from the LAST dim, as in PyTorch:
    ``pad(x, (1, 1, 2, 2))`` pads the last dim by 1 and the one before by 2. Negative widths are not
    supported."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length {len(pad)} must be even and at most 2 * ndim ({2 * x.ndim})")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if all(w == (0, 0) for w in widths):
        return x
    return Pad(tuple(widths), value)(x)


class Repeat(Function):
    """y = x tiled ``reps`` times along each dim.  dx = dy summed over the copies."""

    saved_inputs = ()

    def __init__(self, reps: tuple[int, ...]) -> None:
        self.reps = reps

    def forward(self, x: Any) -> Any:
        return get_array_module(x).tile(x, self.reps)

    def backward(self, gy: Tensor) -> Tensor:
        from .reduction import sum as sum_

        x_shape = self.inputs[0].shape
        lead = len(self.reps) - len(x_shape)
        full = (1,) * lead + tuple(x_shape)
        split_shape: list[int] = []
        for r, s in zip(self.reps, full):
            split_shape += [r, s]
        g = sum_(reshape(gy, tuple(split_shape)), tuple(range(0, 2 * len(full), 2)))
        return reshape(g, x_shape)


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor: ``repeat(x, 2, 3)`` copies it twice along dim -2 and 3 times along dim -1."""
    reps = tuple(int(s) for s in _shape_arg(sizes))
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than the number of "
            f"tensor dims ({x.ndim})"
        )
    return Repeat(reps)(x)


def flip(x: Tensor, dims: Any) -> Tensor:
    from .indexing import getitem

    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = {normalize_dim(d, x.ndim, "flip") for d in dims}
    return getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)))


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """The slice ``start : start + length`` along ``dim`` (``start`` may be negative or a 0-d tensor)."""
    from .indexing import getitem

    axis = normalize_dim(dim, x.ndim, "narrow")
    n = x.shape[axis]
    start = int(start)
    if start < 0:
        start += n
    length = int(length)
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(
            f"narrow: start ({start}) + length ({length}) exceeds dim {axis} of size {n} "
            f"(shape {tuple(x.shape)})"
        )
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))
