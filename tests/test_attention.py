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
@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "dead-row", "gqa"])
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
    elif case == "causal":
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


# --- transformer layers -----------------------------------------------------------------------------------
_ENC_CASES = {
    "post-norm-relu": dict(),
    "pre-norm-gelu": dict(norm_first=True, activation="gelu"),
    "batch-first-no-bias": dict(batch_first=True, bias=False),
    "callable-activation": dict(activation="tanh"),
}


@pytest.mark.parametrize("name", list(_ENC_CASES))
@pytest.mark.parametrize("masks", [False, True])
def test_transformer_encoder_layer_vs_torch(torch, name, masks):
    kw = dict(_ENC_CASES[name])
    if kw.get("activation") == "tanh":
        kw["activation"], tact = mg.tanh, torch.tanh
    else:
        tact = kw.get("activation", "relu")
    E, H, S, N = 4, 2, 5, 3
    torch.manual_seed(1)
    tmod = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=6, dropout=0.1,
                                            **{**kw, "activation": tact})
    mod = nn.TransformerEncoderLayer(E, H, dim_feedforward=6, dropout=0.1, **kw)
    _to_torch(torch, mod, tmod)
    mod.eval()
    tmod.eval()
    bf = kw.get("batch_first", False)
    x = _rng.normal(size=(N, S, E) if bf else (S, N, E))
    consts = []
    if masks:
        causal = np.triu(np.ones((S, S), dtype=bool), 1)
        kpm = np.zeros((N, S), dtype=bool)
        kpm[0, -2:] = True
        consts = [_mask_pair(torch, causal), _mask_pair(torch, kpm)]

    def call(m, src, *ms):
        if not ms:
            return m(src)
        return m(src, src_mask=ms[0], src_key_padding_mask=ms[1], is_causal=True)

    _run_both(torch, mod, tmod, [x], call, call, consts, atol=1e-8)


def test_transformer_encoder_stack_vs_torch(torch):
    E, H, S, N = 4, 2, 5, 2
    torch.manual_seed(2)
    tlayer = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=8)
    tmod = torch.nn.TransformerEncoder(tlayer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=8)
    mod = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E))
    assert mod.layers[0] is not layer and mod.layers[0].linear1.weight is not mod.layers[1].linear1.weight
    _to_torch(torch, mod, tmod)
    mod.eval()
    tmod.eval()
    x = _rng.normal(size=(S, N, E))
    mask = nn.Transformer.generate_square_subsequent_mask(S).to(mg.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    np.testing.assert_array_equal(mask.numpy(), tmask.numpy())
    _run_both(torch, mod, tmod, [x], lambda m, s, k: m(s, mask=k), lambda m, s, k: m(s, mask=k),
              [(mask, tmask)], atol=1e-8)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_decoder_layer_vs_torch(torch, norm_first):
    E, H, T, S, N = 4, 2, 3, 5, 2
    torch.manual_seed(3)
    tmod = torch.nn.TransformerDecoderLayer(E, H, dim_feedforward=6, norm_first=norm_first)
    mod = nn.TransformerDecoderLayer(E, H, dim_feedforward=6, norm_first=norm_first)
    _to_torch(torch, mod, tmod)
    mod.eval()
    tmod.eval()
    tgt, mem = _rng.normal(size=(T, N, E)), _rng.normal(size=(S, N, E))
    tm = np.triu(np.ones((T, T), dtype=bool), 1)
    mkpm = np.zeros((N, S), dtype=bool)
    mkpm[1, -1] = True

    def call(m, t, s, a, b):
        return m(t, s, tgt_mask=a, memory_key_padding_mask=b, tgt_is_causal=True)

    _run_both(torch, mod, tmod, [tgt, mem], call, call, [_mask_pair(torch, tm), _mask_pair(torch, mkpm)],
              atol=1e-8)


def test_transformer_vs_torch(torch):
    E, H, S, T, N = 4, 2, 5, 3, 2
    torch.manual_seed(4)
    kw = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=6,
              batch_first=True)
    tmod = torch.nn.Transformer(**kw)
    mod = nn.Transformer(**kw)
    _to_torch(torch, mod, tmod)
    mod.eval()
    tmod.eval()
    src, tgt = _rng.normal(size=(N, S, E)), _rng.normal(size=(N, T, E))
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=mg.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)

    def call(m, s, t, k):
        return m(s, t, tgt_mask=k)

    _run_both(torch, mod, tmod, [src, tgt], call, call, [(mask, tmask)], atol=1e-8)


def test_transformer_training_and_float32():
    mg.manual_seed(0)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True), 2)
    x = mg.randn(3, 5, 8)
    out = model(x, src_key_padding_mask=mg.tensor(np.array([[False] * 5, [False] * 4 + [True],
                                                            [False] * 3 + [True] * 2])))
    assert out.shape == (3, 5, 8) and out.dtype == mg.float32
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == mg.float32, name
        assert np.isfinite(p.grad.numpy()).all(), name
    names = [k for k in model.state_dict()]
    assert "layers.0.self_attn.in_proj_weight" in names and "layers.1.norm2.bias" in names
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(6, 4)
    # a Transformer learns to copy: the loss goes down
    model = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    x = mg.randn(4, 2, 8)
    losses = []
    for _ in range(30):
        loss = F.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert copy.deepcopy(model).linear1.weight is not model.linear1.weight
