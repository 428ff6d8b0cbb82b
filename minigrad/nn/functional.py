"""``minigrad.nn.functional`` (``F``): stateless versions of the layers, activations and losses.

Everything is a composition of differentiable ops (the normalisations use the fused ``Normalize``
op), so gradients of any order work through all of them.
"""

from __future__ import annotations

import warnings
from typing import Any

from .. import _blas, ops
from ..autograd import Function
from ..inplace import apply_
from ..ops import clamp, gelu, log_softmax, pad, sigmoid, softmax, softplus, tanh, where
from ..tensor import Tensor
from .distance import (
    cosine_embedding_loss,
    cosine_similarity,
    normalize,
    pairwise_distance,
    triplet_margin_loss,
)
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import batch_norm, group_norm, layer_norm, normalize_over, rms_norm

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "silu", "mish",
    "hardtanh", "logsigmoid", "softsign", "softmin", "softmax", "log_softmax", "dropout", "dropout1d",
    "dropout2d", "dropout3d", "linear", "embedding", "layer_norm", "batch_norm", "group_norm", "rms_norm",
    "normalize_over", "one_hot", "pad", "normalize", "cosine_similarity", "pairwise_distance",
    "triplet_margin_loss", "cosine_embedding_loss", "mse_loss", "l1_loss",
    "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "gaussian_nll_loss",
    "relu_", "leaky_relu_", "elu_",
]

_make = Tensor._make


# --- activations (PyTorch's signatures; ``inplace=True`` writes into the input: minigrad/inplace.py) ---
def _maybe_inplace(input: Tensor, inplace: bool, name: str, op: Any, *args: Any) -> Tensor:
    return apply_(input, name, op, *args) if inplace else op(input, *args)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "relu_", ops.relu)


def relu_(input: Tensor) -> Tensor:
    return apply_(input, "relu_", ops.relu)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "leaky_relu_", ops.leaky_relu, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return apply_(input, "leaky_relu_", ops.leaky_relu, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "elu_", ops.elu, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return apply_(input, "elu_", ops.elu, alpha)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "silu_", ops.silu)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (scaling the rest by 1/(1-p)) when ``training``."""
    # in eval (or p = 0) nothing is written, so even a leaf that requires grad comes back as is (PyTorch)
    return _maybe_inplace(input, inplace and training and p > 0.0, "dropout_", ops.dropout, p, training)


def _feature_dropout(input: Tensor, p: float, training: bool, spatial: int, op: str) -> Tensor:
    """Zero whole channels: input (N, C, *S) or unbatched (C, *S) with len(S) == ``spatial``; each channel is
    kept with probability 1-p and scaled by 1/(1-p). Backward: dx = dy * mask (the mask is a constant)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
                         f"got shape {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    if not training or p == 0.0:
        return input
    from ..random import _uniform

    lead = input.ndim - spatial
    shape = tuple(input.shape[:lead]) + (1,) * spatial
    if p == 1.0:
        return input * 0.0
    keep = _uniform(input.xp, 0.0, 1.0, shape, input.dtype) >= p
    return input * _make(keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p)))


def _channel_dropout(input: Tensor, p: float, training: bool, inplace: bool, spatial: int, op: str) -> Tensor:
    """``_feature_dropout``, written into ``input`` with ``inplace`` (only when it changes anything: in eval,
    as in PyTorch, even a leaf that requires grad is returned as is)."""
    if inplace and training and p > 0.0:
        return apply_(input, op + "_", _feature_dropout, p, training, spatial, op)
    return _feature_dropout(input, p, training, spatial, op)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, L) or (C, L): whole channels are zeroed with probability ``p``."""
    return _channel_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, H, W) or (C, H, W): whole channels are zeroed with probability ``p``.

    As in PyTorch, a 3-D input is taken as (N, C, L) (with a warning): channel-wise 1-D dropout.
    """
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. This behavior will change in a future release to interpret the input as one "
                      "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.", UserWarning,
                      stacklevel=2)
        return _channel_dropout(input, p, training, inplace, 1, "dropout2d")
    return _channel_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W)."""
    return _channel_dropout(input, p, training, inplace, 3, "dropout3d")


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(x, 0.0, 6.0, inplace)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """Clamp to [min_val, max_val]."""
    return _maybe_inplace(x, inplace, "hardtanh_", clamp, min_val, max_val)


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return -softplus(-x, 1.0, float("inf"))


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return x / (x.abs() + 1.0)


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(x, inplace, "mish_", lambda t: t * tanh(softplus(t)))


def softmin(x: Tensor, dim: int = -1) -> Tensor:
    """softmax(-x) along ``dim``."""
    return softmax(-x, dim)


# --- layers ----------------------------------------------------------------------------------------------
class Linear(Function):
    """y = x W^T + b as one graph node (the layer in every MLP; three nodes if built from matmul, .mT, +).

    Inputs: x (*, in), W (out, in), b (out,) optional.  Output: (*, out).
    Backward: dx = dy W,  dW = dy^T x (summed over *),  db = sum of dy over *.
    dW comes out of one GEMM as a fresh (out, in) array, so it becomes ``W.grad`` without a copy.
    """

    saved_inputs = ((1,), (0,), ())

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        if x.ndim > 2:  # one 2-D GEMM (NumPy's stacked (N, L, in) @ (in, out) matmul is several times slower)
            y = _blas.mm(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            y = _blas.mm(x, w.T)
        if b is not None:
            y += b
        return y

    def backward_arrays(self, gy: Any) -> tuple:
        # first-order backward: the same three products as ``backward`` on arrays, no graph
        xa, wa = self.inputs[0].array, self.inputs[1].array
        need = self.needs_input_grad
        g2 = gy.reshape(-1, gy.shape[-1])
        grads = (_blas.mm(g2, wa).reshape(xa.shape) if need[0] else None,
                 _blas.mm(g2.T, xa.reshape(-1, xa.shape[-1])) if need[1] else None,
                 g2.sum(axis=(0,)) if len(need) > 2 and need[2] else None)
        return grads[:len(need)]

    def backward(self, gy: Tensor) -> tuple:
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = ops.matmul(gy, w) if need[0] else None
        gw = gb = None
        if need[1] or (len(need) > 2 and need[2]):
            gy2 = ops.reshape(gy, (-1, gy.shape[-1]))
            if need[1]:
                gw = ops.matmul(ops.t(gy2), ops.reshape(x, (-1, x.shape[-1])))
            if len(need) > 2 and need[2]:
                gb = ops.sum(gy2, 0)
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.

    Inputs: input (*, in_features), weight (out_features, in_features), bias (out_features,) or None.
    Output: (*, out_features). Backward: dx = dy W, dW = dy^T x (summed over *), db = sum(dy).
    """
    if input.shape[-1:] != weight.shape[-1:] or weight.ndim != 2 or input.ndim == 0:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} does not match weight of shape "
                         f"{tuple(weight.shape)} (expected input (*, {weight.shape[-1]}) and a 2-D weight)")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not match weight of shape "
                         f"{tuple(weight.shape)}")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        y = input @ weight.mT  # mixed dtypes: let the ops apply the promotion rules
        return y + bias if bias is not None else y
    params = (weight,) if bias is None else (weight, bias)
    if input.ndim == 1:
        return ops.squeeze(Linear()(ops.unsqueeze(input, 0), *params), 0)
    return Linear()(input, *params)


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) for the integer indices ``input`` (any shape).

    Output: input.shape + (dim,). The rows looked up at ``padding_idx`` receive no gradient.
    With ``max_norm`` the referenced rows whose norm exceeds it are renormalised in place first.
    Backward: dW[k] = sum of dy over the positions where input == k (except k == padding_idx).
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    idx = input.array if isinstance(input, Tensor) else weight.xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        raise IndexError(f"embedding: index out of range: indices must be in [0, {num}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    if max_norm is not None:
        xp = weight.xp
        rows = xp.unique(idx.ravel())
        w = weight.array[rows]
        norms = (xp.abs(w) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(weight.dtype)
        weight.array[rows] = w * scale[:, None]
        weight._bump_version()  # renormalised in place, as PyTorch's embedding_renorm_
    out = weight[idx]
    if padding_idx is not None and weight.requires_grad:
        keep = (idx != padding_idx)[..., None]
        out = where(keep, out, out.detach())
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape tensor.shape + (C,) with a 1 at each index (num_classes=-1: C = max + 1)."""
    idx = tensor.array
    xp = tensor.xp
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor, got dtype {idx.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = (idx[..., None] == xp.arange(num_classes)).astype("int64")
    return _make(out)


# --- the kernels of conv.py and rnn.py (convolution, pooling, recurrent cells) ------------------------
from .conv import adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d, conv_transpose2d, max_pool2d  # noqa: E402
from .rnn import gru_cell, lstm_cell, rnn_tanh_cell  # noqa: E402

__all__ += ["conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]
__all__ += ["lstm_cell", "gru_cell", "rnn_tanh_cell"]

from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402

__all__ += ["scaled_dot_product_attention", "multi_head_attention_forward"]
