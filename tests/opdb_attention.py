"""Registry entries for attention, transformer layers, channel dropout and the zero-safe norms
(imported by tests/opdb.py): forward vs NumPy, float32 survival, gradcheck and gradgradcheck."""

from __future__ import annotations

import math

import numpy as np
from opdb import C, S, arr, register

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

_rng = np.random.default_rng(2468)


def _softmax(x):
    """Softmax over the last axis; rows that are all -inf give zeros."""
    m = np.max(x, -1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(x - m)
    s = e.sum(-1, keepdims=True)
    return np.where(s > 0, e / np.where(s > 0, s, 1.0), 0.0)


def _sdpa_ref(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    L, Sk = q.shape[-2], k.shape[-2]
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        s = np.where(np.tril(np.ones((L, Sk), dtype=bool)), s, -np.inf)
    if attn_mask is not None:
        s = np.where(attn_mask, s, -np.inf) if attn_mask.dtype == bool else s + attn_mask
    return _softmax(s) @ v


_bmask = _rng.random((3, 5)) > 0.4
_bmask[:, 1] = True
_dead = np.ones((3, 5), dtype=bool)
_dead[1] = False  # the second query sees nothing: its output (and gradient) is 0
register("nn.scaled_dot_product_attention", F.scaled_dot_product_attention, _sdpa_ref,
         [S(arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 3)),
          S(arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 3), C(_bmask), desc="bool-mask"),
          S(arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 3), arr(3, 5), desc="float-mask-differentiable"),
          S(arr(2, 2, 4, 3), arr(2, 2, 4, 3), arr(2, 2, 4, 2), is_causal=True, desc="causal-heads"),
          S(arr(3, 4), arr(5, 4), arr(5, 2), scale=0.7, desc="2d-scale"),
          S(arr(1, 3, 4), arr(1, 5, 4), arr(1, 5, 3), C(_dead), desc="fully-masked-row")],
         covers=("nn.scaled_dot_product_attention",))


# --- multi-head attention ---------------------------------------------------------------------------------
def _heads(x, n, h):
    """(T, N, E) -> (N, H, T, hd)."""
    return x.reshape(x.shape[0], n, h, -1).transpose(1, 2, 0, 3)


def _mha_core(Q, K, V, wo, bo, h, attn_mask=None, key_padding_mask=None, average_attn_weights=True,
              zero_attn=False):
    L, n, e = Q.shape
    q, k, v = _heads(Q, n, h), _heads(K, n, h), _heads(V, n, h)
    if zero_attn:
        k = np.concatenate([k, np.zeros(k.shape[:2] + (1, k.shape[3]))], 2)
        v = np.concatenate([v, np.zeros(v.shape[:2] + (1, v.shape[3]))], 2)
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(e // h)
    if attn_mask is not None:
        am = attn_mask.reshape((n, h) + attn_mask.shape[1:]) if attn_mask.ndim == 3 else attn_mask
        pad = s.shape[-1] - am.shape[-1]
        if pad:
            am = np.concatenate([am, np.zeros(am.shape[:-1] + (pad,), dtype=am.dtype)], -1)
        s = np.where(am, -np.inf, s) if am.dtype == bool else s + am
    if key_padding_mask is not None:
        kpm = key_padding_mask
        pad = s.shape[-1] - kpm.shape[-1]
        if pad:
            kpm = np.concatenate([kpm, np.zeros(kpm.shape[:-1] + (pad,), dtype=kpm.dtype)], -1)
        s = np.where(kpm[:, None, None, :], -np.inf, s) if kpm.dtype == bool else s + kpm[:, None, None, :]
    w = _softmax(s)
    o = (w @ v).transpose(2, 0, 1, 3).reshape(L, n, e)
    return o @ wo.T + bo, (w.mean(1) if average_attn_weights else w)


def _mha_ref(q, k, v, w_in, b_in, wo, bo, num_heads=2, **kw):
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    return _mha_core(q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv, wo, bo, num_heads, **kw)


def _mha(q, k, v, w_in, b_in, wo, bo, num_heads=2, **kw):
    return F.multi_head_attention_forward(q, k, v, q.shape[-1], num_heads, w_in, b_in, None, None, False, 0.0,
                                          wo, bo, training=False, **kw)


_kpm = np.zeros((2, 5), dtype=bool)
_kpm[0, 3:] = True
_am = _rng.random((3, 5)) > 0.7
_am[:, 0] = False
register("nn.multi_head_attention", _mha, _mha_ref,
         [S(arr(3, 2, 4), arr(5, 2, 4), arr(5, 2, 4), arr(12, 4), arr(12), arr(4, 4), arr(4)),
          S(arr(3, 2, 4), arr(5, 2, 4), arr(5, 2, 4), arr(12, 4), arr(12), arr(4, 4), arr(4),
            key_padding_mask=C(_kpm), attn_mask=C(_am), desc="bool-masks"),
          S(arr(3, 2, 4), arr(5, 2, 4), arr(5, 2, 4), arr(12, 4), arr(12), arr(4, 4), arr(4),
            attn_mask=C(_rng.normal(size=(4, 3, 5))), average_attn_weights=False,
            desc="float-3d-mask-per-head")])


def _mha_self(x, w_in, b_in, wo, bo, **kw):
    return _mha(x, x, x, w_in, b_in, wo, bo, **kw)


register("nn.multi_head_attention_self", _mha_self, lambda x, *a, **kw: _mha_ref(x, x, x, *a, **kw),
         [S(arr(3, 2, 4), arr(12, 4), arr(12), arr(4, 4), arr(4), num_heads=1)])


def _mha_sep(q, k, v, wq, wk, wv, b_in, wo, bo, bias_k, bias_v, key_padding_mask=None):
    return F.multi_head_attention_forward(q, k, v, 4, 2, None, b_in, bias_k, bias_v, True, 0.0, wo, bo,
                                          training=False, use_separate_proj_weight=True, q_proj_weight=wq,
                                          k_proj_weight=wk, v_proj_weight=wv,
                                          key_padding_mask=key_padding_mask)


def _mha_sep_ref(q, k, v, wq, wk, wv, b_in, wo, bo, bias_k, bias_v, key_padding_mask=None):
    bq, bk, bv = np.split(b_in, 3)
    n = q.shape[1]
    K = np.concatenate([k @ wk.T + bk, np.broadcast_to(bias_k, (1, n, 4))])
    V = np.concatenate([v @ wv.T + bv, np.broadcast_to(bias_v, (1, n, 4))])
    return _mha_core(q @ wq.T + bq, K, V, wo, bo, 2, key_padding_mask=key_padding_mask, zero_attn=True)


register("nn.multi_head_attention_kdim_bias_kv_zero_attn", _mha_sep, _mha_sep_ref,
         [S(arr(3, 2, 4), arr(5, 2, 3), arr(5, 2, 2), arr(4, 4), arr(4, 3), arr(4, 2), arr(12), arr(4, 4),
            arr(4), arr(1, 1, 4), arr(1, 1, 4), key_padding_mask=C(_kpm))])


# --- transformer encoder layer (eval), as a function of its input and all its parameters ------------------
def _call_with_params(module, tensors, *args, **kwargs):
    """Run ``module`` with its parameters (in named_parameters order) replaced by ``tensors``."""
    names = [n for n, _ in module.named_parameters()]
    saved = []
    for name, t in zip(names, tensors):
        path, _, pname = name.rpartition(".")
        owner = module.get_submodule(path) if path else module
        saved.append((owner, pname, owner._parameters[pname]))
        owner._parameters[pname] = t
    try:
        return module(*args, **kwargs)
    finally:
        for owner, pname, p in saved:
            owner._parameters[pname] = p


def _ln(x, w, b, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


def _enc_ref(x, w_in, b_in, wo, bo, w1, b1, w2, b2, g1, be1, g2, be2, norm_first=False, mask=None):
    def sa(y):
        return _mha_ref(y, y, y, w_in, b_in, wo, bo, 2, attn_mask=mask)[0]

    def ff(y):
        return np.maximum(y @ w1.T + b1, 0) @ w2.T + b2

    if norm_first:
        x = x + sa(_ln(x, g1, be1))
        return x + ff(_ln(x, g2, be2))
    x = _ln(x + sa(x), g1, be1)
    return _ln(x + ff(x), g2, be2)


_ENC = {nf: nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, norm_first=nf).eval() for nf in (False, True)}


def _enc(x, *params, norm_first=False, mask=None):
    return _call_with_params(_ENC[norm_first], params, x, src_mask=mask)


def _enc_params():
    return [arr(12, 4), arr(12), arr(4, 4), arr(4), arr(6, 4), arr(6), arr(4, 6), arr(4), arr(4), arr(4),
            arr(4), arr(4)]


register("nn.TransformerEncoderLayer", _enc, _enc_ref,
         [S(arr(3, 2, 4), *_enc_params()),
          S(arr(3, 2, 4), *_enc_params(), norm_first=True, mask=C(np.triu(np.ones((3, 3), dtype=bool), 1)),
            desc="pre-norm-causal")], fwd_atol=1e-8)


# --- channel dropout -------------------------------------------------------------------------------------
def _dropout2d_seeded(x, p=0.5):
    mg.manual_seed(3)  # the same channel mask on every call, so finite differences see a fixed function
    return F.dropout2d(x, p, training=True)


register("nn.dropout2d_eval", lambda x: nn.Dropout2d(0.5).eval()(x), lambda x: x, [S(arr(2, 3, 2, 2))])
register("nn.dropout2d_train", _dropout2d_seeded, None, [S(arr(2, 4, 2, 3))])
register("nn.dropout3d_train", lambda x: (mg.manual_seed(5), F.dropout3d(x, 0.4))[1], None,
         [S(arr(4, 2, 2, 3), desc="unbatched")])
register("nn.dropout1d_eval", lambda x: F.dropout1d(x, 0.3, training=False), lambda x: x, [S(arr(2, 3, 4))])


# --- zero-safe norms -------------------------------------------------------------------------------------
register("nn.pairwise_distance", F.pairwise_distance,
         lambda a, b, p=2.0, eps=1e-6: (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p),
         [S(arr(3, 4), arr(3, 4)), S(arr(3, 4), arr(4), 1.5, desc="broadcast-p1.5")])
register("nn.cosine_similarity_broadcast", F.cosine_similarity,
         lambda a, b, dim=1: (a * b).sum(dim) / (np.linalg.norm(a, axis=dim) * np.linalg.norm(b, axis=dim)),
         [S(arr(3, 4), arr(1, 4)), S(arr(2, 3, 2), arr(2, 3, 2), dim=-1, desc="last-dim")])


def _pd(a, b, p=2.0, eps=1e-6):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)


def _triplet_ref(a, pos_, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    dn = _pd(a, neg, p, eps)
    if swap:
        dn = np.minimum(dn, _pd(pos_, neg, p, eps))
    loss = np.maximum(_pd(a, pos_, p, eps) - dn + margin, 0)
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _cos_emb_ref(x1, x2, t, margin=0.0, reduction="mean"):
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1 * x1).sum(-1) + 1e-12) * ((x2 * x2).sum(-1) + 1e-12))
    loss = np.where(t == 1, 1 - cos, 0) + np.where(t == -1, np.maximum(cos - margin, 0), 0)
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


register("nn.triplet_margin_loss", F.triplet_margin_loss, _triplet_ref,
         [S(arr(4, 3), arr(4, 3), arr(4, 3), margin=2.0),
          S(arr(4, 3), arr(4, 3), arr(4, 3), margin=2.0, p=1.0, swap=True, reduction="none", desc="p1-swap"),
          S(arr(3), arr(3), arr(3), margin=3.0, reduction="sum", desc="unbatched")])
register("nn.cosine_embedding_loss", F.cosine_embedding_loss, _cos_emb_ref,
         [S(arr(4, 3), arr(4, 3), C(np.array([1, -1, 1, -1]))),
          S(arr(4, 3), arr(4, 3), C(np.array([-1, -1, 1, -1])), margin=-0.9, reduction="none", desc="margin"),
          S(arr(3), arr(3), C(np.array(1)), reduction="sum", desc="unbatched")])
