"""nn.utils.spectral_norm: PyTorch's names and state_dict keys, power iteration, gradients, torch parity."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import remove_spectral_norm, spectral_norm


def _top_singular_value(w: np.ndarray, dim: int = 0) -> float:
    w = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    return float(np.linalg.svd(w, compute_uv=False)[0])


def test_names_and_state_dict_keys_follow_pytorch():
    mg.manual_seed(0)
    lin = spectral_norm(nn.Linear(4, 3))
    assert list(lin.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight_orig"]
    assert lin.weight_u.shape == (3,) and lin.weight_v.shape == (4,)
    assert np.linalg.norm(lin.weight_u.numpy()) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        spectral_norm(lin)
    conv_t = spectral_norm(nn.ConvTranspose2d(2, 5, 3))  # weight (in=2, out=5, 3, 3): dim 1 by default
    assert conv_t.weight_u.shape == (5,) and conv_t.weight_v.shape == (2 * 3 * 3,)


@pytest.mark.parametrize("make, dim", [(lambda: nn.Linear(6, 4), 0), (lambda: nn.Conv2d(2, 3, 3), 0),
                                       (lambda: nn.ConvTranspose2d(3, 2, 3), 1)])
def test_power_iteration_finds_the_top_singular_value(make, dim):
    mg.manual_seed(1)
    layer = spectral_norm(make())
    w = layer.weight_orig.numpy().copy()
    cin = layer.weight_orig.shape[1 - dim]
    x = mg.randn(2, 6) if isinstance(layer, nn.Linear) else mg.randn(1, cin, 5, 5)
    for _ in range(60):
        layer(x)
    assert _top_singular_value(layer.weight.numpy(), dim) == pytest.approx(1.0, rel=1e-4)
    sigma = _top_singular_value(w, dim)
    np.testing.assert_allclose(layer.weight.numpy() * sigma, w, rtol=1e-4, atol=1e-6)


def test_eval_mode_does_not_update_u_and_v():
    mg.manual_seed(2)
    lin = spectral_norm(nn.Linear(5, 4))
    lin(mg.randn(3, 5))
    u, v = lin.weight_u.numpy().copy(), lin.weight_v.numpy().copy()
    lin.eval()
    y1 = lin(mg.randn(3, 5))
    np.testing.assert_array_equal(lin.weight_u.numpy(), u)
    np.testing.assert_array_equal(lin.weight_v.numpy(), v)
    lin.train()
    lin(mg.randn(3, 5))
    assert not np.array_equal(lin.weight_u.numpy(), u)
    assert y1.shape == (3, 4)


def test_gradcheck_and_gradgradcheck_in_float64():
    mg.manual_seed(3)
    lin = spectral_norm(nn.Linear(4, 3).double())
    lin(mg.randn(2, 4, dtype=mg.float64))  # one power step, then u, v stay fixed in eval mode
    lin.eval()
    x = mg.randn(2, 4, dtype=mg.float64, requires_grad=True)

    def f(w, xin):
        return lin(xin)

    assert mg.gradcheck(f, (lin.weight_orig, x))
    assert mg.gradgradcheck(f, (lin.weight_orig, x))
    conv = spectral_norm(nn.Conv2d(2, 2, 2).double())
    conv.eval()
    xc = mg.randn(1, 2, 3, 3, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda w, xin: conv(xin), (conv.weight_orig, xc))


def test_two_forwards_before_one_backward():
    """A discriminator sees real and fake batches before backward: the power step of the second forward
    must not invalidate the first graph (u and v are copied before use)."""
    mg.manual_seed(4)
    d = spectral_norm(nn.Linear(3, 1))
    loss = d(mg.randn(4, 3)).mean() - d(mg.randn(4, 3)).mean()
    loss.backward()
    assert d.weight_orig.grad is not None and np.isfinite(d.weight_orig.grad.numpy()).all()


def test_remove_and_state_dict_round_trip():
    mg.manual_seed(5)
    lin = spectral_norm(nn.Linear(4, 3))
    x = mg.randn(2, 4)
    lin(x)
    lin.eval()
    y = lin(x).numpy()
    other = spectral_norm(nn.Linear(4, 3))
    other.load_state_dict(lin.state_dict())
    other.eval()
    np.testing.assert_allclose(other(x).numpy(), y, rtol=1e-6)
    remove_spectral_norm(lin)
    assert list(lin.state_dict()) == ["bias", "weight"]
    assert isinstance(lin.weight, nn.Parameter)
    np.testing.assert_allclose(lin(x).numpy(), y, rtol=1e-6)
    with pytest.raises(ValueError, match="not found"):
        remove_spectral_norm(lin)


@pytest.mark.parametrize("kind", ["linear", "conv", "conv_transpose"])
def test_matches_torch_with_the_same_u_init(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tmod = {"linear": lambda: torch.nn.Linear(5, 4), "conv": lambda: torch.nn.Conv2d(2, 3, 3),
            "conv_transpose": lambda: torch.nn.ConvTranspose2d(3, 2, 3)}[kind]()
    mmod = {"linear": lambda: nn.Linear(5, 4), "conv": lambda: nn.Conv2d(2, 3, 3),
            "conv_transpose": lambda: nn.ConvTranspose2d(3, 2, 3)}[kind]()
    tmod = torch.nn.utils.spectral_norm(tmod, n_power_iterations=2)
    mmod = spectral_norm(mmod, n_power_iterations=2)
    assert list(mmod.state_dict()) == list(tmod.state_dict())
    mmod.load_state_dict({k: v.numpy() for k, v in tmod.state_dict().items()})
    rng = np.random.default_rng(0)
    shape = {"linear": (3, 5), "conv": (2, 2, 6, 6), "conv_transpose": (2, 3, 4, 4)}[kind]
    for _ in range(3):  # three training forwards: u, v and the outputs must follow torch's
        x = rng.normal(size=shape).astype(np.float32)
        yt, ym = tmod(torch.tensor(x)), mmod(mg.tensor(x))
        np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mmod.weight_u.numpy(), tmod.weight_u.numpy(), rtol=1e-4, atol=1e-6)
    (yt ** 2).sum().backward()
    (ym ** 2).sum().backward()
    np.testing.assert_allclose(mmod.weight_orig.grad.numpy(), tmod.weight_orig.grad.numpy(),
                               rtol=1e-3, atol=1e-5)
    tmod.eval()
    mmod.eval()
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(mmod(mg.tensor(x)).numpy(), tmod(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_bad_power_iterations_name_the_function():
    with pytest.raises(ValueError, match="spectral_norm: n_power_iterations must be positive, got 0"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
