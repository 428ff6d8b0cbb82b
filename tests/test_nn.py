"""minigrad.nn: Module mechanics, containers, state_dict, dtype moves, layers, normalisation, losses,
initialisers and gradient clipping (against NumPy, and against PyTorch when it is installed)."""

from __future__ import annotations

import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.nn import init
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3, bias=False)
        self.register_buffer("scale", mg.ones(3))
        self.register_buffer("cache", mg.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.bn(self.fc1(x)))) * self.scale


def _np(t):
    return np.asarray(t.array)


# ================================================================================================
# Module mechanics


def test_registration_and_iteration():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["scale", "cache", "bn.running_mean", "bn.running_var",
                                                  "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "act", "fc2"]
    assert len(list(net.modules())) == 5
    assert len(list(net.parameters(recurse=False))) == 0
    assert net.fc2.bias is None and "bias" in net.fc2._parameters
    assert net.get_submodule("bn") is net.bn and net.get_parameter("fc1.bias") is net.fc1.bias
    # reassigning replaces; deleting removes
    net.fc2 = nn.Linear(8, 2)
    assert net.fc2.weight.shape == (2, 8)
    del net.act
    assert "act" not in dict(net.named_children())
    with pytest.raises(AttributeError):
        _ = net.act


def test_assignment_errors_and_shared_parameters():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter or None"):
        lin.weight = mg.zeros(2, 2)
    lin.bias = None
    assert lin.bias is None and len(list(lin.parameters())) == 1

    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.zeros(2))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()

    shared = nn.Linear(3, 3)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2  # counted once
    assert seq.num_parameters() == 12
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_eval_zero_grad_requires_grad_apply():
    net = Net()
    assert net.training and net.bn.training
    assert net.eval() is net and not net.bn.training and not net.training
    net.train()
    assert net.bn.training
    with pytest.raises(ValueError):
        net.train("yes")
    out = net(mg.randn(5, 4)).sum()
    out.backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net.fc1.weight.grad is not None and float(net.fc1.weight.grad.abs().sum()) == 0.0
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Net"]


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, args, out: out * 0.0)
    h2 = lin.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape))
    assert float(lin(mg.ones(1, 2)).abs().sum()) == 0.0
    assert calls == [(1, 2)]
    h.remove()
    h2.remove()
    assert float(lin(mg.ones(1, 2)).abs().sum()) > 0.0
    assert len(calls) == 1


def test_containers():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is layers[1]
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"] and seq[1] is layers[2]
    assert seq(mg.randn(4, 2)).shape == (4, 1)
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert named.enc is named[0] and list(named.state_dict()) == ["enc.weight", "enc.bias"]

    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 4))
    ml.extend([nn.ReLU()])
    assert len(ml) == 5 and isinstance(ml[-1], nn.ReLU) and len(ml[1:3]) == 2
    assert len(list(ml.parameters())) == 8
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]

    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    pl = nn.ParameterList([mg.zeros(2), mg.ones(3)])
    assert len(list(pl.parameters())) == 2 and pl[1].shape == (3,)


# ================================================================================================
# state_dict


def test_state_dict_contents_and_roundtrip():
    net = Net()
    sd = net.state_dict()
    # PyTorch's order: a module's own parameters and buffers, then its children's
    assert list(sd) == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                        "bn.running_var", "bn.num_batches_tracked", "fc2.weight"]
    assert "cache" not in sd  # non-persistent
    assert not any(v.requires_grad for v in sd.values())
    assert not isinstance(sd["fc1.weight"], nn.Parameter)
    assert np.shares_memory(sd["fc1.weight"].array, net.fc1.weight.array)

    other = Net()
    w_id = id(other.fc1.weight)
    res = other.load_state_dict({k: v.numpy().copy() for k, v in sd.items()})
    assert res.missing_keys == [] and res.unexpected_keys == [] and tuple(res) == ([], [])
    assert id(other.fc1.weight) == w_id  # loaded in place
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(_np(v), _np(sd[k]))
    assert other.bn.num_batches_tracked.dtype == np.int64


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = mg.zeros(1)
    with pytest.raises(RuntimeError) as ei:
        Net().load_state_dict(sd)
    msg = str(ei.value)
    assert "Missing key(s)" in msg and '"fc1.bias"' in msg
    assert "Unexpected key(s)" in msg and '"extra.weight"' in msg
    res = Net().load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["extra.weight"]

    sd = net.state_dict()
    sd["fc2.weight"] = mg.zeros(4, 8)
    target = Net()
    before = target.fc1.weight.numpy().copy()
    with pytest.raises(RuntimeError, match=r"size mismatch for fc2\.weight.*\(4, 8\).*\(3, 8\)"):
        target.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(target.fc1.weight.numpy(), before)  # nothing loaded on error


def test_load_state_dict_casts_dtype():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2).double()
    b.load_state_dict(a.state_dict())
    assert b.weight.dtype == np.float64
    np.testing.assert_allclose(_np(b.weight), _np(a.weight))
    w = b.weight
    b.load_state_dict(a.state_dict(), assign=True)
    assert b.weight is w and w.dtype == np.float32 and not np.shares_memory(w.array, a.weight.array)


def test_repr_and_summary():
    net = Net()
    expected = (
        "Net(\n"
        "  (fc1): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (bn): BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=8, out_features=3, bias=False)\n"
        ")"
    )
    assert repr(net) == expected
    nested = "Sequential(\n  (0): Sequential(\n    (0): Tanh()\n  )\n)"
    assert repr(nn.Sequential(nn.Sequential(nn.Tanh()))) == nested
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.GroupNorm(2, 4, affine=False)) == "GroupNorm(2, 4, eps=1e-05, affine=False, bias=False)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    n = 4 * 8 + 8 + 8 + 8 + 8 * 3
    assert net.num_parameters() == n
    s = net.summary()
    assert f"Total params: {n:,}" in s and "fc1" in s and "BatchNorm1d" in s
    net.fc1.requires_grad_(False)
    assert net.num_parameters(only_trainable=True) == n - 40
    assert repr(nn.Parameter(mg.zeros(2))).startswith("Parameter containing:\n")


def test_copy_and_pickle():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.fc1.weight is not net.fc1.weight and isinstance(clone.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(_np(clone.fc1.weight), _np(net.fc1.weight))
    back = pickle.loads(pickle.dumps(net))
    assert isinstance(back.fc1.weight, nn.Parameter) and back.fc1.weight.requires_grad
    x = mg.randn(3, 4)
    net.eval()
    back.eval()
    np.testing.assert_allclose(_np(back(x)), _np(net(x)))


# ================================================================================================
# dtypes


def test_to_dtype_keeps_identity_and_runs_float64_end_to_end():
    net = Net()
    params = list(net.parameters())
    ids = [id(p) for p in params]
    out = net(mg.randn(6, 4))
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in params)
    assert net.to(mg.float64) is net
    assert [id(p) for p in net.parameters()] == ids
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64 and net.bn.num_batches_tracked.dtype == np.int64
    net.zero_grad()
    y = net(mg.randn(6, 4, dtype=mg.float64))
    assert y.dtype == np.float64
    loss = F.cross_entropy(y, mg.tensor([0, 1, 2, 0, 1, 2]))
    assert loss.dtype == np.float64
    loss.backward()
    assert all(p.grad.dtype == np.float64 for p in net.parameters())
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError):
        net.to(mg.int64)


def test_float32_survives_through_layers_and_losses():
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU(), nn.Dropout(0.1), nn.Linear(6, 3))
    x = mg.randn(5, 4)
    y = model(x)
    assert y.dtype == np.float32
    t = mg.tensor([0, 1, 2, 1, 0])
    losses = [F.cross_entropy(y, t, label_smoothing=0.1), F.mse_loss(y, mg.zeros(5, 3)),
              F.binary_cross_entropy_with_logits(y, mg.ones(5, 3), pos_weight=mg.ones(3)),
              F.gaussian_nll_loss(y, mg.zeros(5, 3), mg.ones(5, 3)), F.huber_loss(y, mg.zeros(5, 3))]
    for loss in losses:
        assert loss.dtype == np.float32
    sum(losses).backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


# ================================================================================================
# BatchNorm / Dropout / Embedding


def test_batchnorm_running_stats_match_numpy():
    bn = nn.BatchNorm1d(3, momentum=0.2)
    rng = np.random.default_rng(0)
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=(8, 3))
        y = bn(mg.tensor(x, dtype=mg.float32))
        rm = 0.8 * rm + 0.2 * x.mean(0)
        rv = 0.8 * rv + 0.2 * x.var(0, ddof=1)
        np.testing.assert_allclose(_np(y), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), atol=1e-4)
    np.testing.assert_allclose(_np(bn.running_mean), rm, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(bn.running_var), rv, rtol=1e-5, atol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    x = rng.normal(size=(4, 3))
    y = bn(mg.tensor(x, dtype=mg.float32))
    np.testing.assert_allclose(_np(y), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-4, atol=1e-4)
    assert int(bn.num_batches_tracked.item()) == 3  # eval does not count


def test_batchnorm_cumulative_average_2d_and_no_tracking():
    bn = nn.BatchNorm2d(2, momentum=None)
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 2, 3, 3)) for _ in range(3)]
    for x in xs:
        bn(mg.tensor(x))
    means = np.mean([x.mean((0, 2, 3)) for x in xs], axis=0)
    vars_ = np.mean([x.var((0, 2, 3), ddof=1) for x in xs], axis=0)
    np.testing.assert_allclose(_np(bn.running_mean), means, atol=1e-5)
    np.testing.assert_allclose(_np(bn.running_var), vars_, atol=1e-5)
    with pytest.raises(ValueError, match="4D"):
        bn(mg.randn(2, 2))

    free = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    assert free.running_mean is None and list(free.state_dict()) == []
    x = rng.normal(size=(5, 2, 3))
    np.testing.assert_allclose(_np(free(mg.tensor(x))), (x - x.mean((0, 2), keepdims=True))
                               / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5), atol=1e-10)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2)(mg.randn(1, 2))


def test_dropout_train_eval():
    d = nn.Dropout(0.25)
    x = mg.ones(200, 50)
    y = _np(d(x))
    frac = (y == 0).mean()
    assert 0.2 < frac < 0.3
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_embedding_padding_idx():
    emb = nn.Embedding(6, 3, padding_idx=1)
    np.testing.assert_array_equal(_np(emb.weight)[1], 0.0)
    idx = mg.tensor([[1, 2, 1], [0, 5, 2]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(_np(out), _np(emb.weight)[_np(idx)])
    (out * mg.randn(2, 3, 3)).sum().backward()
    g = _np(emb.weight.grad)
    np.testing.assert_array_equal(g[1], 0.0)
    assert np.abs(g[2]).sum() > 0 and np.abs(g[3]).sum() == 0
    with mg.no_grad():
        emb.weight.array[1] = 7.0  # a non-zero padding row is still looked up as is
    np.testing.assert_array_equal(_np(emb(mg.tensor([1])))[0], 7.0)
    with pytest.raises(IndexError):
        emb(mg.tensor([6]))
    with pytest.raises(IndexError):
        emb(mg.tensor([-1]))
    capped = nn.Embedding(4, 3, max_norm=1.0)
    with mg.no_grad():
        capped.weight.array[...] = np.array([[3.0, 4.0, 0.0], [0.1, 0.0, 0.0], [2.0, 0.0, 0.0],
                                           [0.0, 0.0, 5.0]])
    out = capped(mg.tensor([0, 1, 0]))
    np.testing.assert_allclose(np.linalg.norm(_np(capped.weight), axis=1), [1.0, 0.1, 2.0, 5.0], rtol=1e-5)
    np.testing.assert_allclose(_np(out)[0], [0.6, 0.8, 0.0], rtol=1e-5)
    pre = nn.Embedding.from_pretrained(mg.randn(4, 2))
    assert not pre.weight.requires_grad and pre.num_embeddings == 4
    w = _np(nn.Embedding(2000, 8).weight)
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1) < 0.03


def test_activation_modules_and_flatten():
    x = mg.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Unflatten(1, (3, 2))(mg.randn(2, 6)).shape == (2, 3, 2)
    assert nn.Identity(5, foo=1)(x) is x
    np.testing.assert_allclose(_np(nn.Softmax(dim=1)(x)).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(_np(nn.LogSoftmax(dim=-1)(x))).sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(_np(nn.Softmax()(x)).sum(0), 1.0, rtol=1e-6)  # implicit dim 0 for 3-D
    for m in [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(), nn.GELU("tanh"), nn.Sigmoid(), nn.Tanh(), nn.Softplus(),
              nn.SiLU(), nn.Mish(), nn.ReLU6(), nn.Hardtanh(), nn.LogSigmoid(), nn.Softsign()]:
        assert m(x).shape == x.shape and m(x).dtype == np.float32


# ================================================================================================
# init


def test_init_statistics_and_dtype():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError):
        init.calculate_gain("nope")
    w = mg.empty(400, 300, dtype=mg.float64)
    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    assert w.dtype == np.float64 and np.abs(_np(w)).max() <= bound
    assert _np(w).std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    init.kaiming_normal_(w, mode="fan_out")
    assert _np(w).std() == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(400), rel=0.03)
    init.xavier_uniform_(w, gain=2.0)
    assert _np(w).std() == pytest.approx(2.0 * math.sqrt(2 / 700), rel=0.03)
    init.xavier_normal_(w)
    assert _np(w).std() == pytest.approx(math.sqrt(2 / 700), rel=0.03)
    conv_w = mg.empty(16, 8, 3, 3)
    init.kaiming_uniform_(conv_w, a=math.sqrt(5))
    assert conv_w.dtype == np.float32 and np.abs(_np(conv_w)).max() <= 1 / math.sqrt(72) + 1e-7
    q = mg.empty(5, 8)
    init.orthogonal_(q, gain=2.0)
    np.testing.assert_allclose(_np(q) @ _np(q).T, 4 * np.eye(5), atol=1e-5)
    t = mg.empty(1000)
    init.trunc_normal_(t, std=1.0, a=-0.5, b=0.5)
    assert np.abs(_np(t)).max() <= 0.5
    init.constant_(t, 0.3)
    np.testing.assert_allclose(_np(t), 0.3, rtol=1e-6)
    init.zeros_(t)
    init.ones_(t)
    assert _np(t).min() == 1.0
    p = nn.Parameter(mg.zeros(3, 3))
    init.normal_(p)  # in place on a Parameter that requires grad
    assert p.requires_grad and p.grad_fn is None and np.abs(_np(p)).sum() > 0
    with pytest.raises(ValueError):
        init.xavier_uniform_(mg.empty(3))


def test_linear_default_init():
    lin = nn.Linear(256, 128)
    w, b = _np(lin.weight), _np(lin.bias)
    assert w.shape == (128, 256) and np.abs(w).max() <= 1 / 16 and np.abs(b).max() <= 1 / 16
    assert w.std() == pytest.approx(1 / 16 / math.sqrt(3), rel=0.03)
    lin64 = nn.Linear(3, 2, dtype=mg.float64)
    assert lin64.weight.dtype == np.float64 and lin64(mg.randn(4, 3, dtype=mg.float64)).dtype == np.float64


# ================================================================================================
# utils


def test_clip_grad_norm_and_value():
    rng = np.random.default_rng(2)
    ps = [nn.Parameter(mg.zeros(3, 4)), nn.Parameter(mg.zeros(5)), nn.Parameter(mg.zeros(2))]
    gs = [rng.normal(size=p.shape).astype(np.float32) for p in ps[:2]]
    for p, g in zip(ps, gs):
        p.grad = mg.tensor(g)
    expected = math.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in gs))
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, mg.Tensor) and total.dtype == np.float32
    assert float(total) == pytest.approx(expected, rel=1e-5)
    new = math.sqrt(sum((_np(p.grad).astype(np.float64) ** 2).sum() for p in ps[:2]))
    assert new == pytest.approx(1.0, rel=1e-4)
    # no clipping when under the limit
    before = [_np(p.grad).copy() for p in ps[:2]]
    assert float(clip_grad_norm_(ps, 10.0)) == pytest.approx(1.0, rel=1e-4)
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(_np(p.grad), b)
    inf_norm = float(clip_grad_norm_(ps, 100.0, norm_type=math.inf))
    assert inf_norm == pytest.approx(max(np.abs(b).max() for b in before))
    one_norm = float(clip_grad_norm_(ps[0], 100.0, norm_type=1))
    assert one_norm == pytest.approx(np.abs(before[0]).sum(), rel=1e-5)
    ps[0].grad.array[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    ps[0].grad = mg.tensor(np.array([[-3.0, 0.1], [2.0, -0.2]], dtype=np.float32))
    clip_grad_value_(ps[0], 0.5)
    np.testing.assert_allclose(_np(ps[0].grad), [[-0.5, 0.1], [0.5, -0.2]], rtol=1e-6)
    assert float(clip_grad_norm_([nn.Parameter(mg.zeros(2))], 1.0)) == 0.0


def test_parameters_vector_roundtrip():
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    w_id = id(lin.weight)
    vector_to_parameters(mg.arange(8, dtype=mg.float32), lin.parameters())
    assert id(lin.weight) == w_id
    np.testing.assert_array_equal(_np(lin.weight).ravel(), np.arange(6))
    np.testing.assert_array_equal(_np(lin.bias), [6, 7])
    with pytest.raises(ValueError):
        vector_to_parameters(mg.zeros(7), lin.parameters())


# ================================================================================================
# losses vs NumPy (the registry checks the gradients)


def test_losses_numpy_edge_cases():
    # all targets ignored -> nan for 'mean', 0 for 'sum' (as PyTorch)
    x = mg.randn(3, 4, requires_grad=True)
    t = mg.tensor([-100, -100, -100])
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = F.cross_entropy(x, t)
    assert math.isnan(float(loss))
    assert type(loss.grad_fn).__name__ == "CrossEntropyIndices"  # (N, C) logits, indices: the fused node
    loss.backward()
    np.testing.assert_array_equal(_np(x.grad), np.zeros((3, 4)))  # nan loss, zero gradient (as PyTorch)
    assert float(F.cross_entropy(x, t, reduction="sum")) == 0.0
    # an ignored row adds exactly nothing, even when its logits are not finite
    xi = mg.tensor([[np.inf, 0.0, 1.0], [0.5, 0.2, 0.1]], dtype=mg.float64, requires_grad=True)
    with np.errstate(invalid="ignore"):
        loss = F.cross_entropy(xi, mg.tensor([-100, 1]))
    assert float(loss) == pytest.approx(-math.log(np.exp(0.2) / np.exp([0.5, 0.2, 0.1]).sum()))
    loss.backward()
    np.testing.assert_array_equal(_np(xi.grad)[0], 0.0)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, mg.tensor([0, 4, 1]))
    with pytest.raises(ValueError):
        F.cross_entropy(x, mg.tensor([0, 1]))
    with pytest.raises(ValueError):
        F.mse_loss(x, x, reduction="avg")
    # BCE clamps the log at -100 and stays finite (with finite gradients) at 0 and 1
    p = mg.tensor([0.0, 1.0, 0.5], dtype=mg.float64, requires_grad=True)
    loss = F.binary_cross_entropy(p, mg.tensor([1.0, 0.0, 1.0], dtype=mg.float64), reduction="sum")
    assert float(loss) == pytest.approx(200 + math.log(2))
    loss.backward()
    assert np.isfinite(_np(p.grad)).all()
    with pytest.raises(ValueError):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))
    # BCE with logits is stable for huge logits
    z = mg.tensor([1000.0, -1000.0])
    big = F.binary_cross_entropy_with_logits(z, mg.tensor([0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(_np(big), [1000.0, 1000.0])
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, -mg.ones(3, 4))
    # module wrappers carry their options
    assert float(nn.CrossEntropyLoss(reduction="sum")(x, mg.tensor([0, 1, 2]))) == pytest.approx(
        float(F.cross_entropy(x, mg.tensor([0, 1, 2]), reduction="sum")))
    assert nn.MSELoss()(x, x).item() == 0.0
    assert float(nn.KLDivLoss(reduction="batchmean", log_target=True)(x, x)) == 0.0
    assert F.one_hot(mg.tensor([0, 2, 1])).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(mg.tensor([0, 1]), 4).shape == (2, 4)


# ================================================================================================
# against PyTorch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _pair(torch, a, requires_grad=True):
    """The same float64 array as a minigrad tensor and a torch tensor, both requiring grad."""
    return (mg.tensor(a, dtype=mg.float64, requires_grad=requires_grad),
            torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))


def _check(torch, mg_fn, t_fn, arrays, consts=(), atol=1e-9):
    """Forward values and the gradients (for a random cotangent) of every array input."""
    pairs = [_pair(torch, a) for a in arrays]
    m_out = mg_fn(*[p[0] for p in pairs], *[c[0] for c in consts])
    t_out = t_fn(*[p[1] for p in pairs], *[c[1] for c in consts])
    np.testing.assert_allclose(_np(m_out), t_out.detach().numpy(), atol=atol, rtol=1e-7)
    v = np.random.default_rng(0).normal(size=tuple(t_out.shape))
    (m_out * mg.tensor(v)).sum().backward()
    (t_out * torch.tensor(v)).sum().backward()
    for (m, t) in pairs:
        np.testing.assert_allclose(_np(m.grad), t.grad.numpy(), atol=atol, rtol=1e-6)


def _const(torch, a):
    return (mg.tensor(a), torch.tensor(a))


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=True),
    dict(weight=True, ignore_index=1),
    dict(ignore_index=2, reduction="sum"),
    dict(label_smoothing=0.15),
    dict(label_smoothing=0.15, weight=True, ignore_index=0),
    dict(label_smoothing=0.3, weight=True, ignore_index=0, reduction="none"),
    dict(label_smoothing=0.3, reduction="sum", ignore_index=3),
]


@pytest.mark.parametrize("kw", CE_CASES, ids=[str(k) for k in CE_CASES])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 2), (4,)], ids=["NC", "NCHW", "C"])
def test_cross_entropy_and_nll_vs_torch(torch, kw, shape):
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, 4, size=tshape)
    kw = dict(kw)
    mkw, tkw = dict(kw), dict(kw)
    if kw.pop("weight", False):
        w = rng.uniform(0.2, 2.0, size=4)
        mkw["weight"], tkw["weight"] = mg.tensor(w), torch.tensor(w)
    mt, tt = _const(torch, t)
    _check(torch, lambda a: F.cross_entropy(a, mt, **mkw),
             lambda a: torch.nn.functional.cross_entropy(a, tt, **tkw), [x])
    mkw.pop("label_smoothing", None)
    tkw.pop("label_smoothing", None)
    _check(torch, lambda a: F.nll_loss(F.log_softmax(a, 0 if len(shape) == 1 else 1), mt, **mkw),
             lambda a: torch.nn.functional.nll_loss(a.log_softmax(0 if len(shape) == 1 else 1), tt, **tkw),
             [x])


@pytest.mark.parametrize("kw", [dict(), dict(reduction="none"), dict(weight=True, label_smoothing=0.2),
                                dict(label_smoothing=0.1, reduction="sum")])
def test_cross_entropy_probability_targets_vs_torch(torch, kw):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3, 2))
    p = rng.dirichlet(np.ones(3), size=(5, 2)).transpose(0, 2, 1)
    kw = dict(kw)
    mkw, tkw = dict(kw), dict(kw)
    if kw.pop("weight", False):
        w = rng.uniform(0.2, 2.0, size=3)
        mkw["weight"], tkw["weight"] = mg.tensor(w), torch.tensor(w)
    # the probability target is differentiable too
    _check(torch, lambda a, b: F.cross_entropy(a, b, **mkw),
             lambda a, b: torch.nn.functional.cross_entropy(a, b, **tkw), [x, p])


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("red", REDUCTIONS)
def test_binary_losses_vs_torch(torch, red):
    rng = np.random.default_rng(5)
    tf = torch.nn.functional
    x, z = rng.uniform(0.02, 0.98, size=(4, 3)), rng.normal(size=(4, 3)) * 3
    t, w, pw = rng.uniform(size=(4, 3)), rng.uniform(0.5, 2, size=(4, 3)), rng.uniform(0.5, 3, size=3)
    mw, tw = _const(torch, w)  # PyTorch does not differentiate the weights of these two losses
    mp, tp = _const(torch, pw)
    _check(torch, lambda a, b: F.binary_cross_entropy(a, b, mw, reduction=red),
             lambda a, b: tf.binary_cross_entropy(a, b, tw, reduction=red), [x, t])
    _check(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, mw, reduction=red, pos_weight=mp),
             lambda a, b: tf.binary_cross_entropy_with_logits(a, b, tw, reduction=red, pos_weight=tp), [z, t])
    _check(torch, lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=red),
             lambda a, b: tf.binary_cross_entropy_with_logits(a, b, reduction=red), [z, t])
    edge = np.array([0.0, 1.0, 1e-50, 0.3])
    mt, tt = _const(torch, np.array([1.0, 0.0, 1.0, 0.0]))
    np.testing.assert_allclose(_np(F.binary_cross_entropy(mg.tensor(edge), mt, reduction=red)),
                               tf.binary_cross_entropy(torch.tensor(edge), tt, reduction=red).numpy())


@pytest.mark.parametrize("red", REDUCTIONS)
def test_regression_losses_vs_torch(torch, red):
    rng = np.random.default_rng(6)
    tf = torch.nn.functional
    a, b = rng.normal(size=(4, 5)) * 2, rng.normal(size=(4, 5))
    w = np.abs(b)
    _check(torch, lambda x, y: F.mse_loss(x, y, reduction=red),
             lambda x, y: tf.mse_loss(x, y, reduction=red), [a, b])
    _check(torch, lambda x, y: F.l1_loss(x, y, reduction=red), lambda x, y: tf.l1_loss(x, y, reduction=red),
             [a, b])
    _check(torch, lambda x, y, v: F.mse_loss(x, y, reduction=red, weight=v),
             lambda x, y, v: tf.mse_loss(x, y, reduction=red, weight=v), [a, b, w])
    _check(torch, lambda x, y, v: F.l1_loss(x, y, reduction=red, weight=v),
             lambda x, y, v: tf.l1_loss(x, y, reduction=red, weight=v), [a, b, w])
    _check(torch, lambda x, y, v: F.huber_loss(x, y, reduction=red, weight=v),
             lambda x, y, v: tf.huber_loss(x, y, reduction=red, weight=v), [a, b, w])


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.4, 0.0, 2.5])
def test_smooth_l1_and_huber_vs_torch(torch, red, beta):
    rng = np.random.default_rng(11)
    tf = torch.nn.functional
    a, b = rng.normal(size=(4, 5)) * 2, rng.normal(size=(4, 5))
    _check(torch, lambda x, y: F.smooth_l1_loss(x, y, reduction=red, beta=beta),
             lambda x, y: tf.smooth_l1_loss(x, y, reduction=red, beta=beta), [a, b])
    if beta > 0:
        _check(torch, lambda x, y: F.huber_loss(x, y, reduction=red, delta=beta),
                 lambda x, y: tf.huber_loss(x, y, reduction=red, delta=beta), [a, b])


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("red", REDUCTIONS + ["batchmean"])
def test_kl_div_vs_torch(torch, red):
    rng = np.random.default_rng(7)
    tf = torch.nn.functional
    x = np.log(rng.dirichlet(np.ones(5), size=4))
    p = rng.dirichlet(np.ones(5), size=4)
    _check(torch, lambda a, b: F.kl_div(a, b, reduction=red), lambda a, b: tf.kl_div(a, b, reduction=red),
             [x, p])
    _check(torch, lambda a, b: F.kl_div(a, b, reduction=red, log_target=True),
             lambda a, b: tf.kl_div(a, b, reduction=red, log_target=True), [x, np.log(p)])
    p[0, 1] = 0.0
    mt, tt = _const(torch, p)
    _check(torch, lambda a: F.kl_div(a, mt, reduction=red), lambda a: tf.kl_div(a, tt, reduction=red), [x])


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("vshape", [(4, 3), (4, 1), (4,)])
def test_gaussian_nll_vs_torch(torch, vshape, full, red):
    rng = np.random.default_rng(8)
    tf = torch.nn.functional
    mu, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.2, 2.0, size=vshape)
    var.flat[0] = 1e-9  # clamped to eps, the gradient still passes (as in PyTorch)
    _check(torch, lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=full, reduction=red),
             lambda a, b, v: tf.gaussian_nll_loss(a, b, v, full=full, reduction=red), [mu, y, var], atol=1e-6)


def test_normalisation_layers_vs_torch(torch):
    rng = np.random.default_rng(9)
    tf = torch.nn.functional
    x4 = rng.normal(size=(3, 4, 2, 3)) * 2 + 1
    w, b = rng.normal(size=4), rng.normal(size=4)
    _check(torch, lambda x, g, h: F.batch_norm(x, None, None, g, h, training=True),
             lambda x, g, h: tf.batch_norm(x, None, None, g, h, training=True), [x4, w, b])
    _check(torch, lambda x, g, h: F.group_norm(x, 2, g, h), lambda x, g, h: tf.group_norm(x, 2, g, h),
             [x4, w, b])
    lw, lb = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    _check(torch, lambda x, g, h: F.layer_norm(x, (2, 3), g, h),
             lambda x, g, h: tf.layer_norm(x, (2, 3), g, h), [x4, lw, lb])
    x3 = rng.normal(size=(5, 4, 3))
    rm, rv = rng.normal(size=4), rng.uniform(0.5, 2, size=4)
    _check(torch, lambda x, g, h: F.batch_norm(x, mg.tensor(rm), mg.tensor(rv), g, h, training=False),
             lambda x, g, h: tf.batch_norm(x, torch.tensor(rm), torch.tensor(rv), g, h, training=False),
             [x3, w, b])

    # modules, with the running statistics over a few steps, then eval
    m_bn, t_bn = nn.BatchNorm1d(4, momentum=0.3).double(), torch.nn.BatchNorm1d(4, momentum=0.3).double()
    for _ in range(3):
        x = rng.normal(size=(6, 4, 3)) * 3
        np.testing.assert_allclose(_np(m_bn(mg.tensor(x))), t_bn(torch.tensor(x)).detach().numpy(),
                                   atol=1e-10)
    np.testing.assert_allclose(_np(m_bn.running_mean), t_bn.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(_np(m_bn.running_var), t_bn.running_var.numpy(), atol=1e-12)
    assert int(m_bn.num_batches_tracked.item()) == int(t_bn.num_batches_tracked.item())
    m_bn.eval()
    t_bn.eval()
    x = rng.normal(size=(2, 4, 3))
    np.testing.assert_allclose(_np(m_bn(mg.tensor(x))), t_bn(torch.tensor(x)).detach().numpy(), atol=1e-10)
    # state dicts are interchangeable
    m2 = nn.BatchNorm1d(4).double()
    m2.load_state_dict({k: v.numpy() for k, v in t_bn.state_dict().items()})
    np.testing.assert_allclose(_np(m2.eval()(mg.tensor(x))), t_bn(torch.tensor(x)).detach().numpy(),
                               atol=1e-10)
    assert list(nn.LayerNorm(3).state_dict()) == list(torch.nn.LayerNorm(3).state_dict())
    assert list(nn.GroupNorm(2, 4).state_dict()) == list(torch.nn.GroupNorm(2, 4).state_dict())


def test_default_init_statistics_vs_torch(torch):
    torch.manual_seed(0)
    t_lin, m_lin = torch.nn.Linear(300, 200), nn.Linear(300, 200)
    for tp, mp in [(t_lin.weight, m_lin.weight), (t_lin.bias, m_lin.bias)]:
        t_arr, m_arr = tp.detach().numpy(), _np(mp)
        assert t_arr.shape == m_arr.shape and t_arr.dtype == m_arr.dtype
        assert m_arr.std() == pytest.approx(t_arr.std(), rel=0.1)
        assert np.abs(m_arr).max() <= np.abs(t_arr).max() * 1.01 + 1e-3
    t_emb, m_emb = torch.nn.Embedding(500, 16), nn.Embedding(500, 16)
    assert _np(m_emb.weight).std() == pytest.approx(t_emb.weight.detach().numpy().std(), rel=0.05)
    for t_mod, m_mod in [(torch.nn.BatchNorm2d(3), nn.BatchNorm2d(3)),
                         (torch.nn.LayerNorm(5), nn.LayerNorm(5))]:
        for (tk, tv), (mk, mv) in zip(t_mod.state_dict().items(), m_mod.state_dict().items()):
            assert tk == mk
            np.testing.assert_array_equal(tv.numpy(), _np(mv))
    for name in ("linear", "relu", "tanh", "sigmoid", "selu", "leaky_relu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert repr(nn.Linear(3, 2)) == repr(torch.nn.Linear(3, 2))
    assert repr(nn.BatchNorm2d(3)) == repr(torch.nn.BatchNorm2d(3))
    assert repr(nn.LayerNorm((2, 3))) == repr(torch.nn.LayerNorm((2, 3)))
    assert repr(nn.Softmax(dim=1)) == repr(torch.nn.Softmax(dim=1))
    for affine in (True, False):
        assert repr(nn.BatchNorm1d(3, affine=affine)) == repr(torch.nn.BatchNorm1d(3, affine=affine))
        assert repr(nn.GroupNorm(1, 3, affine=affine)) == repr(torch.nn.GroupNorm(1, 3, affine=affine))
        assert repr(nn.LayerNorm(3, bias=affine)) == repr(torch.nn.LayerNorm(3, bias=affine))
    no_bias = torch.nn.BatchNorm1d(3, bias=False)
    assert list(nn.BatchNorm1d(3, bias=False).state_dict()) == list(no_bias.state_dict())


def test_clip_grad_norm_vs_torch(torch):
    rng = np.random.default_rng(10)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    for norm_type in (2.0, 1.0, math.inf, 3.0):
        mps = [nn.Parameter(mg.tensor(a)) for a in arrays]
        tps = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
        for mp, tp, a in zip(mps, tps, arrays):
            mp.grad = mg.tensor(a * 2)
            tp.grad = torch.tensor(a * 2)
        m_total = clip_grad_norm_(mps, 0.7, norm_type=norm_type)
        t_total = torch.nn.utils.clip_grad_norm_(tps, 0.7, norm_type=norm_type)
        assert float(m_total) == pytest.approx(float(t_total), rel=1e-10)
        for mp, tp in zip(mps, tps):
            np.testing.assert_allclose(_np(mp.grad), tp.grad.numpy(), rtol=1e-10)
