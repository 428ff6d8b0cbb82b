"""Attention: ``scaled_dot_product_attention``, ``multi_head_attention_forward`` and ``MultiheadAttention``.

PyTorch's signatures, parameter names/shapes and mask conventions, composed of differentiable ops (so
gradients of any order work). Mask conventions, as in PyTorch:

* ``scaled_dot_product_attention``: a boolean ``attn_mask`` says which positions *take part* (True = attend);
  a float mask is added to the scores.
* ``MultiheadAttention``: boolean ``attn_mask`` / ``key_padding_mask`` entries that are True are *masked
  out*; float masks are added to the scores.
"""

from __future__ import annotations

import math
from typing import Any

from .. import ops
from ..creation import empty
from ..dtypes import as_dtype, get_default_dtype
from ..tensor import Tensor
from . import init
from .functional import linear
from .layers import Linear
from .module import Module, Parameter

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "MultiheadAttention"]

_make = Tensor._make


def _softmax_rows(scores: Tensor, safe: bool) -> Tensor:
    """softmax over the last dim; with ``safe`` a row whose scores are all -inf gives zeros (not NaN)."""
    if not safe:
        return ops.softmax(scores, -1)
    xp = scores.xp
    dead = xp.isneginf(scores.array).all(axis=-1, keepdims=True)
    if not bool(dead.any()):
        return ops.softmax(scores, -1)
    w = ops.softmax(ops.masked_fill(scores, _make(dead), 0.0), -1)
    return w * _make((~dead).astype(scores.dtype))


def _bool_to_additive(mask: Any, like: Tensor, masked_when: bool) -> Tensor:
    """A constant additive mask: -inf where ``mask == masked_when``, 0 elsewhere (in ``like``'s dtype)."""
    m = mask.array if isinstance(mask, Tensor) else like.xp.asarray(mask)
    xp = like.xp
    return _make(xp.where(m == masked_when, -xp.inf, 0.0).astype(like.dtype))


def _canonical_mask(mask: Any, name: str, like: Tensor, op: str) -> Tensor | None:
    """None, or a float mask to add to the scores (bool masks: True = masked, MultiheadAttention's rule)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype == bool:
        return _bool_to_additive(mask, like, True)
    if mask.dtype.kind != "f":
        raise TypeError(f"{op}: only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask if mask.dtype == like.dtype else mask.to(like.dtype)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v.

    Inputs: query (*, L, E), key (*, S, E), value (*, S, Ev) (leading dims broadcast). Output: (*, L, Ev).
    ``attn_mask`` broadcastable to (*, L, S): bool (True = attend) or float (added to the scores).
    ``is_causal``: query i attends to keys j <= i (top-left aligned, as PyTorch); not with ``attn_mask``.
    ``scale`` defaults to 1/sqrt(E). Rows with nothing to attend to give 0 (PyTorch's safe softmax).
    ``enable_gqa``: key/value may have fewer heads (dim -3) than query; each is shared by a group.
    Backward: that of the composed matmul/softmax/dropout ops.
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dims (*, L, E), got shape {tuple(t.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: shapes do not match: query {tuple(query.shape)} (*, L, E), key "
                         f"{tuple(key.shape)} (*, S, E), value {tuple(value.shape)} (*, S, Ev)")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise ValueError(f"{op}: with enable_gqa the query heads ({hq}) must be a multiple of the "
                             f"key/value heads ({hk}, {value.shape[-3]})")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(query, ops.mT(key)) * scale
    xp = query.xp
    if is_causal:
        scores = scores + _bool_to_additive(_make(xp.tril(xp.ones((L, S), dtype=bool))), scores, False)
    elif attn_mask is not None:
        if attn_mask.dtype == bool:
            scores = scores + _bool_to_additive(attn_mask, scores, False)
        elif attn_mask.dtype.kind == "f":
            scores = scores + (attn_mask if attn_mask.dtype == scores.dtype else attn_mask.to(scores.dtype))
        else:
            raise TypeError(f"{op}: attn_mask must be bool or floating point, got {attn_mask.dtype}")
    w = _softmax_rows(scores, safe=True)
    if dropout_p > 0.0:
        w = ops.dropout(w, dropout_p, True)
    return ops.matmul(w, value)


def _repeat_heads(t: Tensor, r: int) -> Tensor:
    """(*, H, S, E) -> (*, H*r, S, E), each head repeated r times in a row (repeat_interleave on dim -3)."""
    shape = tuple(t.shape)
    x = ops.unsqueeze(t, -3)
    x = ops.expand(x, *(shape[:-2] + (r,) + shape[-2:]))
    return ops.reshape(x, shape[:-3] + (shape[-3] * r,) + shape[-2:])


def _check_mha_shapes(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                      attn_mask: Tensor | None, num_heads: int) -> bool:
    """PyTorch's shape rules; True for batched (L, N, E) inputs, False for unbatched (L, E)."""
    op = "multi_head_attention_forward"
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"{op}: for batched (3-D) query, key and value must be 3-D too; got {shapes}")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise ValueError(f"{op}: for batched (3-D) query, key_padding_mask must be 2-D (N, S), got shape "
                             f"{tuple(key_padding_mask.shape)}")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise ValueError(f"{op}: attn_mask must be 2-D or 3-D, got shape {tuple(attn_mask.shape)}")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise ValueError(f"{op}: for unbatched (2-D) query, key and value must be 2-D too; got {shapes}")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise ValueError(f"{op}: for unbatched (2-D) query, key_padding_mask must be 1-D (S,), got shape "
                             f"{tuple(key_padding_mask.shape)}")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise ValueError(f"{op}: attn_mask must be 2-D or 3-D, got shape {tuple(attn_mask.shape)}")
            if attn_mask.ndim == 3 and attn_mask.shape != (num_heads, query.shape[0], key.shape[0]):
                raise ValueError(f"{op}: expected a 3-D attn_mask of shape "
                                 f"{(num_heads, query.shape[0], key.shape[0])}, got {tuple(attn_mask.shape)}")
        return False
    raise ValueError(f"{op}: query should be unbatched 2-D (L, E) or batched 3-D (L, N, E), got shape "
                     f"{tuple(query.shape)}")


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
    add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
    training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
    attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None, static_k: Tensor | None = None, static_v: Tensor | None = None,
    average_attn_weights: bool = True, is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention (PyTorch's ``F.multi_head_attention_forward``), sequence-first.

    Inputs: query (L, N, E) or (L, E), key (S, N, kdim), value (S, N, vdim). Masks: ``key_padding_mask``
    (N, S), ``attn_mask`` (L, S) or (N*num_heads, L, S); bool (True = masked) or float (added).
    Output: (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, (N, num_heads, L, S) with
    ``average_attn_weights=False``, or None without ``need_weights``); unbatched inputs drop the N dim.
    """
    op = "multi_head_attention_forward"
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = (ops.unsqueeze(t, 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = ops.unsqueeze(key_padding_mask, 0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise ValueError(f"{op}: was expecting embedding dimension of {embed_dim_to_check}, but got "
                         f"{embed_dim}")
    if embed_dim % num_heads:
        raise ValueError(f"{op}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if key.shape[:2] != value.shape[:2]:
        raise ValueError(f"{op}: key shape {tuple(key.shape)} does not match value shape "
                         f"{tuple(value.shape)}")
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query, op)
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{op}: need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to create this mask.")
    attn_mask = _canonical_mask(attn_mask, "attn_mask", query, op)

    # input projections
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is False but in_proj_weight is None")
        bq = bk = bv = None
        if in_proj_bias is not None:
            bq, bk, bv = ops.chunk(in_proj_bias, 3)
        if query is key and key is value:  # self-attention: one GEMM for q, k and v
            q, k, v = ops.chunk(linear(query, in_proj_weight, in_proj_bias), 3, -1)
        else:
            wq, wk, wv = ops.chunk(in_proj_weight, 3)
            q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is True but q/k/v_proj_weight is None")
        bq = bk = bv = None
        if in_proj_bias is not None:
            bq, bk, bv = ops.chunk(in_proj_bias, 3)
        q = linear(query, q_proj_weight, bq)
        k, v = linear(key, k_proj_weight, bk), linear(value, v_proj_weight, bv)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise ValueError(f"{op}: the shape of the 2-D attn_mask is {tuple(attn_mask.shape)}, but "
                                 f"should be {(tgt_len, src_len)}")
            attn_mask = ops.unsqueeze(attn_mask, 0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise ValueError(f"{op}: the shape of the 3-D attn_mask is {tuple(attn_mask.shape)}, but should "
                             f"be {(bsz * num_heads, tgt_len, src_len)}")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (bsz, src_len):
        raise ValueError(f"{op}: expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                         f"{tuple(key_padding_mask.shape)}")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{op}: bias cannot be added to static key/value")
        k = ops.cat([k, ops.expand(bias_k.reshape(1, 1, embed_dim), 1, bsz, embed_dim)])
        v = ops.cat([v, ops.expand(bias_v.reshape(1, 1, embed_dim), 1, bsz, embed_dim)])
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else ops.pad(key_padding_mask, (0, 1))
    elif (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: bias_k and bias_v must both be given or both be None")

    # (L, N, E) -> (N*H, L, hd)
    q = ops.transpose(q.reshape(tgt_len, bsz * num_heads, head_dim), 0, 1)
    bh = bsz * num_heads
    k = ops.transpose(k.reshape(k.shape[0], bh, head_dim), 0, 1) if static_k is None else static_k
    v = ops.transpose(v.reshape(v.shape[0], bh, head_dim), 0, 1) if static_v is None else static_v
    for name, s in (("static_k", static_k), ("static_v", static_v)):
        if s is not None and (s.shape[0] != bsz * num_heads or s.shape[2] != head_dim):
            raise ValueError(f"{op}: expecting {name} of shape ({bsz * num_heads}, S, {head_dim}), got "
                             f"{tuple(s.shape)}")
    if add_zero_attn:
        zeros = _make(q.xp.zeros((bsz * num_heads, 1, head_dim), dtype=q.dtype))
        k = ops.cat([k, zeros], 1)
        v = ops.cat([v, zeros], 1)
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else ops.pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:  # (N, S) -> (N*H, 1, S), merged into attn_mask
        kpm = ops.expand(key_padding_mask.reshape(bsz, 1, 1, src_len), bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    scores = ops.matmul(q * math.sqrt(1.0 / head_dim), ops.mT(k))
    if attn_mask is not None:
        scores = scores + attn_mask
    # with weights PyTorch uses a plain softmax (NaN rows where everything is masked); without, its SDPA path
    # (zeros there)
    w = _softmax_rows(scores, safe=not need_weights)
    if dropout_p > 0.0:
        w = ops.dropout(w, dropout_p, True)
    out = ops.matmul(w, v)  # (N*H, L, hd)
    out = ops.transpose(out, 0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = ops.squeeze(out, 1)
    if not need_weights:
        return out, None
    w = w.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        w = w.mean(1)
    if not batched:
        w = ops.squeeze(w, 0)
    return out, w


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's constructor, parameters and forward.

    Parameters: ``in_proj_weight`` (3E, E) (or ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E), ``in_proj_bias`` (3E,), ``out_proj`` a
    Linear(E, E), and ``bias_k``/``bias_v`` (1, 1, E) with ``add_bias_kv``. Init as PyTorch: xavier-uniform
    projections, zero biases, xavier-normal bias_k/bias_v.
    forward(query, key, value, ...) -> (output, weights): see ``multi_head_attention_forward``; with
    ``batch_first`` the inputs/output are (N, L, E).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        fk = {"device": device, "dtype": get_default_dtype() if dtype is None else as_dtype(dtype)}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **fk))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **fk))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **fk))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **fk))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **fk))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **fk))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        batched = query.ndim == 3
        if self.batch_first and batched:  # keep the identities that select the fused self-attention path
            if key is value:
                if query is key:
                    query = key = value = ops.transpose(query, 1, 0)
                else:
                    query, key = ops.transpose(query, 1, 0), ops.transpose(key, 1, 0)
                    value = key
            else:
                query, key, value = (ops.transpose(t, 1, 0) for t in (query, key, value))
        out, w = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
            self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = ops.transpose(out, 1, 0)
        return out, w

    def extra_repr(self) -> str:
        return ""
