"""Image transforms on arrays or Tensors, one image (C, H, W) or a batch (N, C, H, W).

Each transform returns the same kind of object it was given (NumPy/CuPy array or
Tensor) with the same dtype; random transforms draw one set of parameters per
image from a ``minigrad.Generator`` (minigrad's default generator when none is
given, so ``minigrad.manual_seed`` makes them reproducible). Apply them to the
batches a ``DataLoader`` yields: vectorised over the batch, no per-image loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import get_array_module
from ..random import Generator, _normal, _uniform
from ..tensor import Tensor


def _unwrap(x: Any) -> tuple[Any, bool]:
    if isinstance(x, Tensor):
        return x.array, True
    return (x if hasattr(x, "shape") else np.asarray(x)), False


def _wrap(a: Any, was_tensor: bool) -> Any:
    return Tensor._make(a) if was_tensor else a


def _as_batch(a: Any, name: str) -> tuple[Any, bool]:
    """(N, C, H, W) view of ``a`` and whether it was a single image (C, H, W) or (H, W)."""
    if a.ndim == 4:
        return a, False
    if a.ndim == 3:
        return a[None], True
    if a.ndim == 2:
        return a[None, None], True
    raise ValueError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), "
                     f"got shape {tuple(a.shape)}")


def _restore(b: Any, single: bool, ndim: int) -> Any:
    if not single:
        return b
    return b[0] if ndim == 3 else b[0, 0]


def _float_dtype(a: Any) -> np.dtype:
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """Images as float Tensors (C, H, W) (or batches (N, C, H, W)), uint8 scaled to [0, 1].

    * A Tensor is taken to be channels-first already: a float one is returned unchanged (so
      ``Compose([ToTensor(), Normalize(...)])`` works on minigrad's datasets, which serve float
      (C, H, W) Tensors); a uint8 one is scaled to float32 in [0, 1], nothing moved.
    * An array (NumPy/CuPy) or a PIL-like image (anything ``numpy.asarray`` accepts) is an
      image (H, W), (H, W, C) or a batch (N, H, W, C), as torchvision's ``ToTensor`` takes it:
      it becomes (1, H, W), (C, H, W) or (N, C, H, W); integer data (uint8 in [0, 255]) becomes
      float32 in [0, 1]. ``channels_last=False`` says the array is already channels-first.
    """

    def __init__(self, channels_last: bool = True) -> None:
        self.channels_last = channels_last

    def __call__(self, x: Any) -> Tensor:
        if isinstance(x, Tensor):
            a = x.array
            if a.dtype.kind == "f":
                return x
            if a.dtype.kind not in "ui":
                raise TypeError(f"ToTensor: expected an image of numbers, got a Tensor of dtype {a.dtype}")
            return Tensor._make(a.astype(np.float32) / np.float32(255.0))
        a = x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)
        if a.dtype.kind not in "uif":
            raise TypeError(f"ToTensor: expected an image of numbers, got dtype {a.dtype}")
        xp = get_array_module(a)
        if a.ndim == 2:
            a = a[None]
        elif self.channels_last and a.ndim in (3, 4):
            a = xp.moveaxis(a, -1, -3)
        elif a.ndim not in (3, 4):
            raise ValueError(f"ToTensor: expected an image (H, W), (H, W, C) or a batch (N, H, W, C), "
                             f"got shape {tuple(a.shape)}")
        if a.dtype.kind in "ui":
            a = a.astype(np.float32) / np.float32(255.0)
        return Tensor._make(xp.ascontiguousarray(a))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel; mean/std are sequences with one value per channel (or one)."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero: {self.std.tolist()}")

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        if a.ndim < 3:
            raise ValueError(f"Normalize: expected (C, H, W) or (N, C, H, W), got shape {tuple(a.shape)}")
        c = a.shape[-3]
        if self.mean.size not in (1, c) or self.std.size not in (1, c):
            raise ValueError(f"Normalize: {self.mean.size} means / {self.std.size} stds for {c} channels")
        dt = _float_dtype(a)
        m = self.mean.astype(dt).reshape(-1, 1, 1)
        s = self.std.astype(dt).reshape(-1, 1, 1)
        xp = get_array_module(a)
        if xp is not np:
            m, s = xp.asarray(m), xp.asarray(s)
        return _wrap((a.astype(dt, copy=False) - m) / s, was_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class GaussianNoise:
    """Add ``N(mean, std^2)`` noise (same dtype as the input)."""

    def __init__(self, std: float = 0.1, mean: float = 0.0, generator: Generator | None = None) -> None:
        self.std, self.mean, self.generator = float(std), float(mean), generator

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        xp = get_array_module(a)
        dt = _float_dtype(a)
        noise = _normal(np, self.mean, self.std, a.shape, dt, self.generator)
        if xp is not np:
            noise = xp.asarray(noise)
        return _wrap(a.astype(dt, copy=False) + noise, was_tensor)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, mean={self.mean})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p`` (one coin per image)."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        self.p, self.generator = float(p), generator

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        b, single = _as_batch(a, "RandomHorizontalFlip")
        xp = get_array_module(b)
        flip = _uniform(np, 0.0, 1.0, (b.shape[0],), np.float64, self.generator) < self.p
        if xp is not np:
            flip = xp.asarray(flip)
        out = xp.where(flip[:, None, None, None], b[..., ::-1], b)
        return _wrap(_restore(out, single, a.ndim), was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Pad by ``padding`` (with ``fill``) and cut a random ``size`` window per image."""

    def __init__(self, size: int | tuple[int, int], padding: int = 0, fill: float = 0.0,
                 generator: Generator | None = None) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.fill, self.generator = int(padding), fill, generator

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        b, single = _as_batch(a, "RandomCrop")
        xp = get_array_module(b)
        p = self.padding
        if p:
            b = xp.pad(b, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        n, _, h, w = b.shape
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(h, w)}")
        g = self.generator
        top = np.floor(_uniform(np, 0.0, 1.0, (n,), np.float64, g) * (h - th + 1)).astype(np.int64)
        left = np.floor(_uniform(np, 0.0, 1.0, (n,), np.float64, g) * (w - tw + 1)).astype(np.int64)
        rows = top[:, None] + np.arange(th)
        cols = left[:, None] + np.arange(tw)
        if xp is not np:
            rows, cols = xp.asarray(rows), xp.asarray(cols)
        ni = xp.arange(n)[:, None, None, None]
        ci = xp.arange(b.shape[1])[None, :, None, None]
        out = b[ni, ci, rows[:, None, :, None], cols[:, None, None, :]]
        return _wrap(_restore(out, single, a.ndim), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _range(v: Any, name: str, centre: float = 0.0) -> tuple[float, float]:
    if isinstance(v, (int, float)):
        if v < 0:
            raise ValueError(f"RandomAffine: {name} must be non-negative when it is a single number, got {v}")
        return centre - float(v), centre + float(v)
    lo, hi = (float(t) for t in v)
    return lo, hi


class RandomAffine:
    """Random rotation, translation and scaling about the image centre, one draw per image.

    Args:
        degrees: rotation angle range: ``d`` means uniform in [-d, d]; or ``(min, max)``. Positive
            angles turn the image counter-clockwise as displayed (row 0 at the top), as torchvision's.
        translate: ``(a, b)``: horizontal shift uniform in [-a W, a W], vertical in [-b H, b H].
        scale: ``(lo, hi)``: zoom factor uniform in [lo, hi].
        fill: value for pixels that come from outside the image.

    Each output pixel ``q`` samples the input at ``A^-1 (q - c - t) + c`` (``A`` = scale * rotation,
    ``c`` the centre, ``t`` the shift) with bilinear interpolation; zero parameters give the identity.
    """

    def __init__(self, degrees: float | tuple[float, float], translate: tuple[float, float] | None = None,
                 scale: tuple[float, float] | None = None, fill: float = 0.0,
                 generator: Generator | None = None) -> None:
        self.degrees = _range(degrees, "degrees")
        if translate is not None and not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError(f"RandomAffine: translate values should be in [0, 1], got {translate}")
        if scale is not None and not all(s > 0 for s in scale):
            raise ValueError(f"RandomAffine: scale values should be positive, got {scale}")
        self.translate, self.scale, self.fill, self.generator = translate, scale, float(fill), generator

    def _params(self, n: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g = self.generator
        lo, hi = self.degrees
        angle = _uniform(np, lo, hi, (n,), np.float64, g) if hi > lo else np.full(n, lo)
        if self.translate is not None:
            tx = _uniform(np, -1.0, 1.0, (n,), np.float64, g) * (self.translate[0] * w)
            ty = _uniform(np, -1.0, 1.0, (n,), np.float64, g) * (self.translate[1] * h)
        else:
            tx = ty = np.zeros(n)
        if self.scale is not None:
            s0, s1 = self.scale
            sc = _uniform(np, s0, s1, (n,), np.float64, g) if s1 > s0 else np.full(n, float(s0))
        else:
            sc = np.ones(n)
        return angle, tx, ty, sc

    def __call__(self, x: Any) -> Any:
        a, was_tensor = _unwrap(x)
        b, single = _as_batch(a, "RandomAffine")
        n, c, h, w = b.shape
        angle, tx, ty, sc = self._params(n, h, w)
        out = affine_sample(b, angle, tx, ty, sc, self.fill)
        return _wrap(_restore(out, single, a.ndim), was_tensor)

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale})"


def affine_sample(b: Any, angle: np.ndarray, tx: np.ndarray, ty: np.ndarray, scale: np.ndarray,
                  fill: float = 0.0) -> Any:
    """Warp each image of ``b`` (N, C, H, W) by its rotation ``angle`` (degrees), shift and scale.

    Inverse mapping with bilinear interpolation; returns (N, C, H, W) in ``b``'s float dtype.
    """
    xp = get_array_module(b)
    n, c, h, w = b.shape
    dt = _float_dtype(b)
    th = np.deg2rad(np.asarray(angle, dtype=np.float64))
    cos, sin = np.cos(th), np.sin(th)
    inv_s = 1.0 / np.asarray(scale, dtype=np.float64)
    # forward map (x right, y down), counter-clockwise on screen: A = s [[cos, sin], [-sin, cos]];
    # its inverse is [[cos, -sin], [sin, cos]] / s
    a00, a01 = (cos * inv_s)[:, None, None], (-sin * inv_s)[:, None, None]
    a10, a11 = (sin * inv_s)[:, None, None], (cos * inv_s)[:, None, None]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    dx = xs[None] - cx - np.asarray(tx, dtype=np.float64)[:, None, None]
    dy = ys[None] - cy - np.asarray(ty, dtype=np.float64)[:, None, None]
    sx = a00 * dx + a01 * dy + cx  # (N, H, W) source coordinates
    sy = a10 * dx + a11 * dy + cy
    x0 = np.floor(sx)
    y0 = np.floor(sy)
    fx = (sx - x0).astype(dt)
    fy = (sy - y0).astype(dt)
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    flat = b.astype(dt, copy=False).reshape(n, c, h * w)

    def corner(yi: np.ndarray, xi: np.ndarray) -> tuple[Any, Any]:
        valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = (np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)).reshape(n, 1, h * w)
        if xp is not np:
            idx, valid = xp.asarray(idx), xp.asarray(valid)
        vals = xp.take_along_axis(flat, xp.broadcast_to(idx, (n, c, h * w)), axis=2).reshape(n, c, h, w)
        return vals, valid[:, None]

    fxd, fyd = (xp.asarray(fx), xp.asarray(fy)) if xp is not np else (fx, fy)
    fxd, fyd = fxd[:, None], fyd[:, None]
    fill_v = dt.type(fill)
    out = None
    for yi, xi, wgt in ((y0, x0, (1 - fyd) * (1 - fxd)), (y0, x0 + 1, (1 - fyd) * fxd),
                        (y0 + 1, x0, fyd * (1 - fxd)), (y0 + 1, x0 + 1, fyd * fxd)):
        vals, valid = corner(yi, xi)
        term = xp.where(valid, vals, fill_v) * wgt
        out = term if out is None else out + term
    return out


__all__ = ["Compose", "ToTensor", "Normalize", "GaussianNoise", "RandomHorizontalFlip", "RandomCrop",
           "RandomAffine", "affine_sample"]
