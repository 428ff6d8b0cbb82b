"""``minigrad.backends``: the switches PyTorch scripts set (``backends.cudnn.benchmark = True`` ...).

minigrad runs on NumPy or CuPy and has no cuDNN/TF32/MPS code paths, so these are plain
settable flags that change nothing; they exist so code written for PyTorch runs unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import cudnn, mps

cuda = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True))

__all__ = ["cudnn", "mps", "cuda"]
