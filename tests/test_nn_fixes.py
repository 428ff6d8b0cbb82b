"""Channel dropout, norms that are safe at zero, loss broadcast warnings, conv/pool argument validation and
the TypeError for arrays passed to built-in layers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

_rng = np.random.default_rng(11)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# --- channel dropout ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,shape", [(nn.Dropout2d, (4, 6, 3, 3)), (nn.Dropout2d, (4, 6, 3, 5)),
                                       (nn.Dropout1d, (4, 6, 5)), (nn.Dropout1d, (6, 5)),
                                       (nn.Dropout3d, (2, 6, 2, 2, 2)), (nn.Dropout3d, (6, 2, 2, 2))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    mg.manual_seed(0)
    p = 0.4
    d = cls(p, inplace=True)
    x = mg.ones(*shape, requires_grad=True)
    h = x.clone()
    y = d(h)
    assert y is h  # written into its input (through autograd)
    lead = len(shape) - (2 if cls is nn.Dropout2d else 1 if cls is nn.Dropout1d else 3)
    per_channel = y.numpy().reshape(shape[:lead] + (-1,))
    assert (per_channel == per_channel[..., :1]).all()  # every channel is all-zero or all-kept
    vals = set(np.unique(per_channel).tolist())
    assert vals <= {0.0, float(np.float32(1 / (1 - p)))} and len(vals) == 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # dx = mask / (1 - p)
    assert y.dtype == mg.float32 and x.grad.dtype == mg.float32
    d.eval()
    assert d(x) is x
    assert "inplace=True" in repr(d)
    d = cls(p).train()
    y = d(x)
    assert y is not x and (x.numpy() == 1).all()


def test_channel_dropout_statistics_and_edge_cases():
    mg.manual_seed(1)
    y = F.dropout2d(mg.ones(200, 50, 1, 1), 0.3)
    assert abs((y.numpy() == 0).mean() - 0.3) < 0.02
    assert abs(y.numpy().mean() - 1.0) < 0.05
    assert (F.dropout2d(mg.ones(2, 3, 2, 2), 1.0).numpy() == 0).all()
    x = mg.randn(2, 3, 2, 2)
    assert F.dropout2d(x, 0.0) is x and F.dropout2d(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout2d: expected"):
        F.dropout2d(mg.ones(2, 3), 0.5)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = F.dropout2d(mg.ones(2, 4, 5), 0.5)
    assert (y.numpy() == y.numpy()[..., :1]).all()  # (N, C, L): channel-wise over L, as PyTorch


def test_dropout2d_eval_vs_torch(torch):
    x = _rng.normal(size=(2, 3, 4, 4))
    td = torch.nn.Dropout2d(0.3).eval()
    d = nn.Dropout2d(0.3).eval()
    np.testing.assert_array_equal(d(mg.tensor(x)).numpy(), td(torch.tensor(x)).numpy())


# --- norms at zero ------------------------------------------------------------------------------------------
def _zero_row(shape=(3, 4)):
    x = _rng.normal(size=shape)
    x[1] = 0.0
    return x


_NORM_FNS = {
    "normalize": (lambda a, b: F.normalize(a), lambda t, a, b: t.nn.functional.normalize(a)),
    "normalize-p1": (lambda a, b: F.normalize(a, p=1.0), lambda t, a, b: t.nn.functional.normalize(a, p=1.0)),
    "normalize-p3-dim0": (lambda a, b: F.normalize(a.mT, p=3.0, dim=0),
                          lambda t, a, b: t.nn.functional.normalize(a.mT, p=3.0, dim=0)),
    "normalize-inf": (lambda a, b: F.normalize(a, p=math.inf),
                      lambda t, a, b: t.nn.functional.normalize(a, p=math.inf)),
    "cosine_similarity": (F.cosine_similarity, lambda t, a, b: t.nn.functional.cosine_similarity(a, b)),
    "cosine_similarity-both-zero": (lambda a, b: F.cosine_similarity(a, a * 2.0),
                                    lambda t, a, b: t.nn.functional.cosine_similarity(a, a * 2.0)),
    "pairwise_distance-equal": (lambda a, b: F.pairwise_distance(a, a.detach()),
                                lambda t, a, b: t.nn.functional.pairwise_distance(a, a.detach())),
    "vector_norm": (lambda a, b: mg.linalg.vector_norm(a, dim=1),
                    lambda t, a, b: t.linalg.vector_norm(a, dim=1)),
    "CosineSimilarity": (lambda a, b: nn.CosineSimilarity()(a, b),
                         lambda t, a, b: t.nn.CosineSimilarity()(a, b)),
    "PairwiseDistance-p1": (lambda a, b: nn.PairwiseDistance(p=1.0, eps=0.0)(a, b * 0.0 + a.detach()),
                            lambda t, a, b: t.nn.PairwiseDistance(p=1.0, eps=0.0)(a, b * 0.0 + a.detach())),
}


@pytest.mark.parametrize("name", list(_NORM_FNS))
def test_norms_have_finite_gradients_at_zero(name):
    fn = _NORM_FNS[name][0]
    a = mg.tensor(_zero_row(), requires_grad=True)
    b = mg.tensor(_rng.normal(size=(3, 4)), requires_grad=True)
    out = fn(a, b)
    assert np.isfinite(out.numpy()).all()
    (ga,) = mg.grad(out, [a], mg.ones_like(out), create_graph=True)
    assert np.isfinite(ga.numpy()).all()
    if ga.requires_grad:  # second order (where the first derivative is not piecewise constant)
        (gga,) = mg.grad(ga.sum(), [a], allow_unused=True)
        assert gga is None or np.isfinite(gga.numpy()).all()


def test_normalize_gradient_at_zero_is_one_over_eps():
    x = mg.zeros(1, 3, requires_grad=True)
    F.normalize(x, eps=1e-3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 3), 1e3))


@pytest.mark.parametrize("name", list(_NORM_FNS))
def test_norms_at_zero_vs_torch(torch, name):
    fn, tfn = _NORM_FNS[name]
    xa, xb = _zero_row(), _rng.normal(size=(3, 4))
    a, b = mg.tensor(xa, requires_grad=True), mg.tensor(xb, requires_grad=True)
    ta, tb = torch.tensor(xa, requires_grad=True), torch.tensor(xb, requires_grad=True)
    out, tout = fn(a, b), tfn(torch, ta, tb)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-12)
    v = _rng.normal(size=tuple(tout.shape))
    (out * mg.tensor(v)).sum().backward()
    (tout * torch.tensor(v)).sum().backward()
    for x, tx in ((a, ta), (b, tb)):
        if tx.grad is None:
            assert x.grad is None or not x.grad.numpy().any()
        else:
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_clip_grad_norm_with_zero_gradients():
    p = nn.Parameter(mg.ones(3))
    p.grad = mg.zeros(3)
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert float(total) == 0.0 and np.isfinite(p.grad.numpy()).all()


# --- loss broadcast warnings --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss])
def test_regression_losses_warn_on_broadcast(fn):
    x = mg.randn(4, 1)
    msg = r"Using a target size \(\[4\]\) that is different to the input size \(\[4, 1\]\)"
    with pytest.warns(UserWarning, match=msg):
        fn(x, mg.randn(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn(x, mg.randn(4, 1))  # same shape: silent
        fn(x, 0.5)  # a Python number target is broadcast on purpose: silent


def test_loss_module_warns_too():
    with pytest.warns(UserWarning, match="Using a target size"):
        nn.MSELoss()(mg.randn(3, 1), mg.randn(3))


# --- conv / pool argument validation ------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: nn.Conv2d(1, 1, 0), "Conv2d: kernel_size must be positive"),
    (lambda: nn.Conv2d(1, 1, (3, -1)), "Conv2d: kernel_size must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), "Conv2d: stride must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, padding=-1), "Conv2d: padding must be non-negative"),
    (lambda: nn.Conv2d(1, 1, 3, dilation=0), "Conv2d: dilation must be positive"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "Conv2d: in_channels \\(3\\) must be divisible by groups"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), "Conv2d: out_channels \\(3\\) must be divisible by groups"),
    (lambda: nn.Conv2d(0, 3, 3), "Conv2d: in_channels must be a positive integer"),
    (lambda: nn.Conv2d(2, -1, 3), "Conv2d: out_channels must be a positive integer"),
    (lambda: nn.Conv2d(2, 2, 3, groups=0), "Conv2d: groups must be a positive integer"),
    (lambda: nn.Conv1d(1, 1, 0), "Conv1d: kernel_size must be positive"),
    (lambda: nn.Conv1d(1, 1, 3, stride=-2), "Conv1d: stride must be positive"),
    (lambda: nn.ConvTranspose2d(1, 1, 0), "ConvTranspose2d: kernel_size must be positive"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2), "ConvTranspose2d: output_padding"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, output_padding=-1), "ConvTranspose2d: output_padding must be"),
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be positive"),
    (lambda: nn.MaxPool2d(2, stride=0), "MaxPool2d: stride must be positive"),
    (lambda: nn.MaxPool2d(2, padding=-1), "MaxPool2d: padding must be non-negative"),
    (lambda: nn.MaxPool2d(3, padding=2), "MaxPool2d: padding 2 should be at most half"),
    (lambda: nn.MaxPool2d(2, dilation=0), "MaxPool2d: dilation must be positive"),
    (lambda: nn.AvgPool2d(-1), "AvgPool2d: kernel_size must be positive"),
    (lambda: nn.AvgPool2d(2, stride=(1, 0)), "AvgPool2d: stride must be positive"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), "AvgPool2d: divisor_override"),
    (lambda: nn.AdaptiveAvgPool2d(0), "AdaptiveAvgPool2d: output_size"),
    (lambda: nn.AdaptiveAvgPool2d((2, -1)), "AdaptiveAvgPool2d: output_size"),
])
def test_conv_and_pool_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_valid_conv_and_pool_arguments_still_work():
    nn.Conv2d(2, 4, (1, 3), stride=(1, 2), padding="same" if False else 1, groups=2)
    nn.Conv2d(1, 1, 3, padding="same")
    nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=1)
    nn.MaxPool2d(3, stride=None, padding=1)
    nn.AvgPool2d((2, 3), padding=(1, 1))
    nn.AdaptiveAvgPool2d((None, 3))
    assert nn.MaxPool2d(2)(mg.randn(1, 1, 4, 4)).shape == (1, 1, 2, 2)


# --- arrays passed to layers --------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,arg", [
    (lambda: nn.Linear(2, 3), np.ones((1, 2))),
    (lambda: nn.Linear(2, 3), [[1.0, 2.0]]),
    (lambda: nn.Conv2d(1, 1, 3), np.ones((1, 1, 4, 4), dtype=np.float32)),
    (lambda: nn.ReLU(), np.ones(3)),
    (lambda: nn.LayerNorm(2), [1.0, 2.0]),
])
def test_layers_reject_arrays_with_a_clear_type_error(layer, arg):
    m = layer()
    msg = rf"{type(m).__name__}: expected a minigrad Tensor.*mg\.tensor\(\.\.\.\)"
    with pytest.raises(TypeError, match=msg):
        m(arg)


def test_array_check_leaves_user_modules_and_containers_alone():
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 3)

        def forward(self, x):
            return self.lin(mg.tensor(np.asarray(x, dtype=np.float32)))

    assert Wrap()(np.ones((1, 2))).shape == (1, 3)  # a user module may take arrays
    assert Wrap()([[1.0, 2.0]]).shape == (1, 3)
    with pytest.raises(TypeError, match="Linear: expected a minigrad Tensor"):
        nn.Sequential(nn.Linear(2, 3))(np.ones((1, 2)))  # the first built-in layer names itself
    assert nn.Identity()(np.ones(2)).shape == (2,)
    with pytest.raises(TypeError, match="MSELoss"):
        nn.MSELoss()(mg.ones(2), np.ones(2))


@pytest.mark.parametrize("kw", [{}, {"swap": True, "p": 1.0, "reduction": "none"},
                                {"margin": 0.5, "eps": 0.0}])
def test_triplet_margin_loss_vs_torch(torch, kw):
    arrays = [_rng.normal(size=(5, 3)) for _ in range(3)]
    arrays[1][0] = arrays[0][0]  # a zero distance (eps=0 case): finite gradient
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = nn.TripletMarginLoss(**kw)(*xs)
    tout = torch.nn.TripletMarginLoss(**kw)(*ts)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kw", [{}, {"margin": 0.2, "reduction": "sum"}, {"reduction": "none"}])
def test_cosine_embedding_loss_vs_torch(torch, kw):
    a, b = _zero_row((4, 3)), _rng.normal(size=(4, 3))
    y = np.array([1, -1, 1, -1])
    xa, xb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = nn.CosineEmbeddingLoss(**kw)(xa, xb, mg.tensor(y))
    tout = torch.nn.CosineEmbeddingLoss(**kw)(ta, tb, torch.tensor(y))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(xb.grad.numpy(), tb.grad.numpy(), atol=1e-10)
