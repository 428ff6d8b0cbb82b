"""PixelCNN layers: raster-order causality of MaskedConv2d (single layers, stacks, colour groups),
and the blind spot that masked 3x3 stacks have and gated stacks do not (autograd over all positions)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.masked_conv import causal_mask


def dependence(fn, c_in: int, hw: tuple[int, int], groups: int = 1, seed: int = 0) -> np.ndarray:
    """D[i, o, j, g] = max |d out[colour o at pixel i] / d x[colour g at pixel j]| over a random input.

    Pixels i, j in raster order (H*W of them); colours are consecutive channel blocks."""
    h, w = hw
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((1, c_in, h, w)), requires_grad=True)
    out = fn(x)
    c_out = out.shape[1]
    dep = np.zeros((h * w, groups, h * w, groups))
    for i in range(h * w):
        for o in range(groups):
            sel = np.zeros(out.shape)
            sel[0, o * c_out // groups:(o + 1) * c_out // groups, i // w, i % w] = 1.0
            (g,) = mg.grad([out], [x], [mg.tensor(sel)], retain_graph=True)
            gx = np.abs(g.numpy()[0]).reshape(groups, c_in // groups, h * w).max(1)   # (G, HW)
            dep[i, o] = gx.T
    return dep


def allowed(hw: tuple[int, int], groups: int, mask_type: str) -> np.ndarray:
    """A[i, o, j, g]: whether (j, g) comes before (i, o) (A) or not after it (B), pixel first, then colour."""
    n = hw[0] * hw[1]
    i, o, j, g = np.meshgrid(np.arange(n), np.arange(groups), np.arange(n), np.arange(groups), indexing="ij")
    same = (j == i) & ((g < o) if mask_type == "A" else (g <= o))
    return (j < i) | same


def _seeded(module: nn.Module, seed: int = 0) -> nn.Module:
    mg.manual_seed(seed)
    for p in module.parameters():
        p.data = mg.randn(*p.shape) * 0.5
    return module.to(mg.float64)


def plain_stack(c_in: int, c_hidden: int, n_b: int, k: int = 3, groups: int = 1) -> nn.Module:
    layers: list[nn.Module] = [nn.MaskedConv2d(c_in, c_hidden, k, "A", color_groups=groups)]
    for _ in range(n_b):
        layers += [nn.Tanh(), nn.MaskedConv2d(c_hidden, c_hidden, k, "B", color_groups=groups)]
    return _seeded(nn.Sequential(*layers))


class GatedStack(nn.Module):
    """A gated layer of type A, then n_b of type B; the output is the horizontal stack."""

    def __init__(self, c_in: int, c: int, n_b: int, k: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.GatedPixelCNNLayer(c_in, c, k, "A")]
                                    + [nn.GatedPixelCNNLayer(c, c, k, "B") for _ in range(n_b)])

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h)
        return h


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_single_layer_is_causal(mask_type, k):
    if k == 1 and mask_type == "A":
        pytest.skip("a 1x1 type-A kernel is all zeros (with one colour group): nothing to test")
    layer = _seeded(nn.MaskedConv2d(2, 3, k, mask_type))
    dep = dependence(layer, 2, (5, 5))
    ok = allowed((5, 5), 1, mask_type)
    assert np.all(dep[~ok] == 0.0), "an output depends on a pixel at or after it"
    # the kernel's own window is fully used: each earlier pixel within reach has a nonzero gradient
    r = k // 2
    for i in range(25):
        for j in range(25):
            near = abs(i // 5 - j // 5) <= r and abs(i % 5 - j % 5) <= r
            if near and ok[i, 0, j, 0]:
                assert dep[i, 0, j, 0] > 0, (i, j)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_colour_groups_single_layer(mask_type):
    layer = _seeded(nn.MaskedConv2d(3, 6, 3, mask_type, color_groups=3))
    dep = dependence(layer, 3, (4, 4), groups=3)
    ok = allowed((4, 4), 3, mask_type)
    assert np.all(dep[~ok] == 0.0)
    i, j = np.arange(16)[:, None], np.arange(16)[None, :]
    left = (j == i - 1) & (i % 4 != 0)                            # the left neighbour in the same row
    assert np.all(dep.transpose(0, 2, 1, 3)[left] > 0)            # ... every colour pair is seen


def test_stack_a_then_b_is_strictly_causal():
    dep = dependence(plain_stack(1, 4, 4), 1, (6, 6))
    assert np.all(dep[~allowed((6, 6), 1, "A")] == 0.0)
    assert dep[35, 0, 34, 0] > 0 and dep[35, 0, 28, 0] > 0   # left neighbour, up-left diagonal


def test_colour_stack_orders_pixel_then_colour():
    dep = dependence(plain_stack(3, 6, 3, groups=3), 3, (5, 5), groups=3)
    ok = allowed((5, 5), 3, "A")
    assert np.all(dep[~ok] == 0.0)
    assert dep[12, 2, 12, 0] > 0 and dep[12, 2, 12, 1] > 0 and dep[12, 1, 12, 0] > 0   # B sees R, G
    assert dep[12, 0, 12, 0] == 0.0


def test_mask_types_rule_and_errors():
    a, b = causal_mask("A", 1, 1, (3, 3))[0, 0], causal_mask("B", 1, 1, (3, 3))[0, 0]
    np.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="odd"):
        nn.MaskedConv2d(1, 2, 4)
    with pytest.raises(ValueError, match="'A' or 'B'"):
        nn.MaskedConv2d(1, 2, 3, "C")
    with pytest.raises(ValueError, match="divisible"):
        nn.MaskedConv2d(3, 4, 3, color_groups=3)


def test_masked_weights_get_zero_gradient():
    layer = nn.MaskedConv2d(2, 3, 5, "A")
    layer(mg.randn(2, 2, 6, 6)).square().sum().backward()
    g = layer.weight.grad.numpy()
    assert np.all(g[layer.mask.numpy() == 0] == 0.0)
    assert np.all(g[layer.mask.numpy() == 1] != 0.0)


def test_gated_stack_has_no_blind_spot_plain_stack_has_one():
    hw, n = (6, 6), 36
    mg.manual_seed(0)
    gated = _seeded(GatedStack(1, 4, 5))
    dep_g = dependence(gated, 1, hw)[:, 0, :, 0]
    dep_p = dependence(plain_stack(1, 4, 5), 1, hw)[:, 0, :, 0]
    earlier = np.tril(np.ones((n, n), dtype=bool), -1)           # j < i
    for dep in (dep_g, dep_p):
        assert np.all(dep[~earlier] == 0.0)                      # both causal (strict: the first layer is A)
    assert np.all(dep_g[earlier] > 0), "gated stack: an earlier pixel is unreachable"
    # plain: output (2, 1) can never see (1, 3), one row up and two columns right (and the reach is
    # not the problem: (0, 3), two rows up, is seen)
    i = 2 * 6 + 1
    assert dep_p[i, 1 * 6 + 3] == 0.0 and dep_p[i, 0 * 6 + 3] > 0
    assert dep_g[i, 1 * 6 + 3] > 0
    blind = earlier & (dep_p == 0.0)
    assert blind.sum() > 50                                      # a wedge for every output pixel


def test_gated_layer_class_bias_and_shapes():
    layer = nn.GatedPixelCNNLayer(1, 4, 3, "A", num_classes=3)
    assert np.all(layer.class_bias.weight.numpy() == 0.0)        # starts unconditional
    with mg.no_grad():
        layer.class_bias.weight.copy_(mg.randn(3, 16))
    x = mg.randn(2, 1, 4, 5)
    v, h = layer(x, x, mg.tensor([0, 2]))
    assert v.shape == (2, 4, 4, 5) and h.shape == (2, 4, 4, 5)
    v2, h2 = layer(x, x, mg.tensor([1, 2]))
    assert not np.allclose(h.numpy()[0], h2.numpy()[0]) and np.allclose(h.numpy()[1], h2.numpy()[1])
    with pytest.raises(ValueError, match="labels"):
        layer(x, x)


def test_masked_conv_matches_torch():
    torch = pytest.importorskip("torch")
    layer = nn.MaskedConv2d(3, 6, 5, "B", color_groups=3)
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6)).astype(np.float32)
    w = torch.tensor(layer.weight.numpy() * layer.mask.numpy())
    ref = torch.nn.functional.conv2d(torch.tensor(x), w, torch.tensor(layer.bias.numpy()), padding=2)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), ref.numpy(), atol=1e-5)
