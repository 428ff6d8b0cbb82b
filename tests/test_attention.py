"""Attention and transformer layers: shapes, masks, errors, and PyTorch (oracle) equality of outputs and
gradients after copying state_dicts across (float64)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

_rng = np.random.default_rng(7)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _to_torch(torch, mod, tmod):
    """Copy ``tmod``'s state_dict (a torch module) into the minigrad module ``mod`` (float64)."""
    tmod.double()
    sd = {k: v.detach().numpy() for k, v in tmod.state_dict().items()}
    assert list(sd) == list(mod.state_dict()), (list(sd), list(mod.state_dict()))
    mod.load_state_dict(sd)
    mod.to(mg.float64)


def _grads_match(torch, mod, tmod, atol=1e-9):
    tparams = dict(tmod.named_parameters())
    for name, p in mod.named_parameters():
        tg = tparams[name].grad
        if p.grad is None:
            assert tg is None or np.allclose(tg.numpy(), 0), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), tg.numpy(), atol=atol, rtol=1e-7, err_msg=name)


def _run_both(torch, mod, tmod, arrays, call, tcall, consts=(), atol=1e-9):
    """Forward both with the same inputs, backprop random cotangents, compare outputs and all gradients."""
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs = call(mod, *xs, *[c[0] for c in consts])
    touts = tcall(tmod, *txs, *[c[1] for c in consts])
    outs = outs if isinstance(outs, tuple) else (outs,)
    touts = touts if isinstance(touts, tuple) else (touts,)
    loss, tloss = 0, 0
    for o, to in zip(outs, touts):
        if to is None:
            assert o is None
            continue
        np.testing.assert_allclose(o.numpy(), to.detach().numpy(), atol=atol, rtol=1e-7)
        v = _rng.normal(size=tuple(to.shape))
        loss = loss + (o * mg.tensor(v)).sum()
        tloss = tloss + (to * torch.tensor(v)).sum()
    loss.backward()
    tloss.backward()
    for x, tx in zip(xs, txs):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=atol, rtol=1e-7)
    _grads_match(torch, mod, tmod, atol)


def _mask_pair(torch, a):
    return mg.tensor(a), torch.tensor(a)


# --- scaled_dot_product_attention ------------------------------------------------------------------
@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "rect-causal", "dead-row", "gqa"])
def test_sdpa_vs_torch(torch, case):
    L, S, E = 4, 5, 3
    hq = 4 if case == "gqa" else 2
    q = _rng.normal(size=(2, hq, L, E))
    k = _rng.normal(size=(2, 2, S, E))
    v = _rng.normal(size=(2, 2, S, 6))
    kw: dict = {}
    mask = None
    if case == "bool":
        mask = _rng.random((L, S)) > 0.3
        mask[:, 0] = True
    elif case == "dead-row":
        mask = np.ones((2, 1, L, S), dtype=bool)
        mask[0, 0, 1] = False  # query 1 of batch 0 attends to nothing: zeros, not NaN
    elif case == "float":
        mask = _rng.normal(size=(2, 1, L, S))
    elif case in ("causal", "rect-causal"):
        kw["is_causal"] = True
    elif case == "scale":
        kw["scale"] = 0.3
    elif case == "gqa":
        kw["enable_gqa"] = True
    xs = [mg.tensor(a, requires_grad=True) for a in (q, k, v)]
    txs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    m, tm = (None, None) if mask is None else _mask_pair(torch, mask)
    out = F.scaled_dot_product_attention(*xs, attn_mask=m, **kw)
    tout = torch.nn.functional.scaled_dot_product_attention(*txs, attn_mask=tm, **kw)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-10)
    assert np.isfinite(out.numpy()).all()
    g = _rng.normal(size=tuple(tout.shape))
    (out * mg.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for x, tx in zip(xs, txs):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-9)


def test_sdpa_float_mask_gets_gradient():
    q, k, v = (mg.randn(2, 3, 4, dtype=mg.float64) for _ in range(3))
    bias = mg.randn(3, 3, dtype=mg.float64, requires_grad=True)
    F.scaled_dot_product_attention(q, k, v, attn_mask=bias).sum().backward()
    assert bias.grad is not None and bias.grad.shape == (3, 3)


def test_sdpa_errors_and_dropout():
    q = mg.randn(2, 3, 4)
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mg.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match="shapes do not match"):
        F.scaled_dot_product_attention(q, mg.randn(2, 3, 5), q)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.shape == (2, 3, 4) and out.dtype == mg.float32


# --- MultiheadAttention --------------------------------------------------------------------------------
_MHA_CASES = {
    "self": dict(kw={}, self_attn=True),
    "cross-kdim-vdim": dict(kw=dict(kdim=3, vdim=5)),
    "cross-same-dims": dict(kw={}),
    "no-bias": dict(kw=dict(bias=False), self_attn=True),
    "bias-kv-zero-attn": dict(kw=dict(add_bias_kv=True, add_zero_attn=True), masks=("kpm", "attn_bool")),
    "batch-first": dict(kw=dict(batch_first=True), self_attn=True),
    "masks-bool": dict(kw={}, masks=("kpm", "attn_bool"), self_attn=True),
    "masks-float": dict(kw={}, masks=("kpm_float", "attn_float3d")),
    "per-head": dict(kw={}, call=dict(average_attn_weights=False)),
    "no-weights-causal": dict(kw={}, masks=("causal",), call=dict(need_weights=False, is_causal=True),
                              self_attn=True),
    "unbatched": dict(kw=dict(kdim=3), unbatched=True, masks=("kpm", "attn_bool")),
}


@pytest.mark.parametrize("name", list(_MHA_CASES))
def test_multihead_attention_vs_torch(torch, name):
    case = _MHA_CASES[name]
    E, H, L, S, N = 4, 2, 3, 5, 2
    kw = case["kw"]
    self_attn = case.get("self_attn", False)
    if self_attn:
        S = L
    torch.manual_seed(0)
    tmod = torch.nn.MultiheadAttention(E, H, **kw)
    mod = nn.MultiheadAttention(E, H, **kw)
    _to_torch(torch, mod, tmod)
    unb = case.get("unbatched", False)
    bf = kw.get("batch_first", False)

    def shape(length, dim):
        if unb:
            return (length, dim)
        return (N, length, dim) if bf else (length, N, dim)

    q = _rng.normal(size=shape(L, E))
    k = _rng.normal(size=shape(S, kw.get("kdim", E)))
    v = _rng.normal(size=shape(S, kw.get("vdim", E)))
    consts, names = [], []
    for m in case.get("masks", ()):
        if m.startswith("kpm"):
            a = _rng.random((S,) if unb else (N, S)) > 0.7
            a[..., 0] = False
            if m == "kpm_float":
                a = np.where(a, -2.0, 0.0)
            names.append("key_padding_mask")
        elif m == "attn_bool":
            a = _rng.random((L, S)) > 0.7
            a[:, 0] = False
            names.append("attn_mask")
        elif m == "attn_float3d":
            a = _rng.normal(size=(N * H, L, S))
            names.append("attn_mask")
        elif m == "causal":
            a = np.triu(np.ones((L, L), dtype=bool), 1)
            names.append("attn_mask")
        consts.append(_mask_pair(torch, a))
    call_kw = case.get("call", {})
    arrays = [q] if self_attn else [q, k, v]

    def call(m, *args):
        xs = args[:len(arrays)]
        qkv = (xs[0], xs[0], xs[0]) if self_attn else xs
        masks = dict(zip(names, args[len(arrays):]))
        return m(*qkv, **masks, **call_kw)

    _run_both(torch, mod, tmod, arrays, call, call, consts)


def test_multihead_attention_parameters_and_errors():
    m = nn.MultiheadAttention(6, 3, kdim=2, vdim=4, add_bias_kv=True)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {"q_proj_weight": (6, 6), "k_proj_weight": (6, 2), "v_proj_weight": (6, 4),
                      "in_proj_bias": (18,), "bias_k": (1, 1, 6), "bias_v": (1, 1, 6),
                      "out_proj.weight": (6, 6), "out_proj.bias": (6,)}
    assert m.in_proj_weight is None
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 1)
    mha = nn.MultiheadAttention(4, 2)
    x = mg.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="is_causal"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="2-D attn_mask"):
        mha(x, x, x, attn_mask=mg.zeros(2, 2))
    with pytest.raises(ValueError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=mg.zeros(3, 3, dtype=mg.bool_ if hasattr(mg, "bool_") else bool))
    out, w = mha(x, x, x)
    assert out.dtype == mg.float32 and w.dtype == mg.float32 and w.shape == (2, 3, 3)
    out.sum().backward()
    assert mha.in_proj_weight.grad.dtype == mg.float32


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = mg.randn(3, 2, 4)
    mha.eval()
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    mha.train()
    _, w = mha(x, x, x, average_attn_weights=False)
    assert (w.numpy() == 0).any()
