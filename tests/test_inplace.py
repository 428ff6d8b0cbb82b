"""Version counters and in-place ops: the PyTorch contract (minigrad/inplace.py, autograd's checks).

The registry-wide checks live elsewhere: tests/opdb_inplace.py gradchecks every in-place method through
autograd, and ``test_inplace_change_is_caught`` in tests/test_ops.py changes every op's inputs and
outputs in place between forward and backward.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

MODIFIED = "modified by an inplace operation"


# --- the four silent wrong gradients of the issue now raise ---------------------------------------------
def test_parameter_scaled_under_no_grad_between_forward_and_backward_raises():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    with mg.no_grad():
        w.mul_(10)
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: Mul's input \d \(a float32 tensor of "
                                           r"shape \(3,\)\) "
                                           r"is at version 1; expected version 0"):
        y.backward()


def test_output_zeroed_through_detach_raises():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    y = x.exp()
    y.detach().zero_()
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: Exp's output 0 .* shape \(2,\)"):
        y.sum().backward()


def test_constant_operand_assigned_after_forward_raises():
    a = mg.tensor([1.0, 2.0])
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (w * a).sum()
    a[0] = 100.0
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: Mul's input 1"):
        y.backward()


def test_optimizer_step_between_forward_and_backward_raises():
    m = nn.Linear(2, 1)
    opt = mg.optim.SGD(m.parameters(), lr=1.0)
    x = mg.tensor([[1.0, 1.0]], requires_grad=True)
    loss = m(x).sum()
    m.weight.grad = mg.ones(1, 2)
    v0 = m.weight._version
    opt.step()
    assert m.weight._version == v0 + 1
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: Linear's input 1 .*shape \\(1, 2\\)"):
        loss.backward()


def test_what_backward_does_not_read_may_change():
    """As in PyTorch: add and reshape read no input values, so changing their inputs is fine."""
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([5.0, 5.0])
    y = (w + b).reshape(2, 1).sum()
    b.add_(1.0)
    with mg.no_grad():
        w.mul_(3.0)
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0]


# --- detach() shares the version counter, .data does not ------------------------------------------------
def test_detach_shares_the_version_counter_and_data_does_not():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    d = w.detach()
    d.add_(1.0)
    assert w._version == 1 and d._version == 1 and w.tolist() == [2.0, 3.0]
    raw = w.data
    assert isinstance(raw, mg.Tensor) and not raw.requires_grad and raw.is_leaf
    raw.add_(1.0)
    assert w._version == 1 and raw._version == 1 and w.tolist() == [3.0, 4.0]
    # the documented hazard of .data: the change is invisible to autograd (as in PyTorch)
    y = (w * w).sum()
    w.data.mul_(10.0)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [60.0, 80.0])


def test_data_setter_and_raw_array():
    p = nn.Parameter(mg.zeros(2, 2))
    arr = p.array
    p.data = mg.ones(3)
    assert p.shape == (3,) and p.array is not arr and isinstance(p, nn.Parameter)
    with pytest.raises(TypeError, match="data: the assigned value must be a Tensor"):
        p.data = np.ones(3)


# --- PyTorch training idioms that must work ------------------------------------------------------------
def test_manual_sgd_loop_with_in_place_operators():
    mg.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = mg.randn(16, 3), mg.randn(16, 1)
    w0 = model.weight.numpy().copy()
    loss0 = ((model(x) - y) ** 2).mean()
    loss0.backward()
    ids = [id(p.array) for p in model.parameters()]
    with mg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert [id(p.array) for p in model.parameters()] == ids  # updated in place, not rebound
    np.testing.assert_allclose(model.weight.numpy(), w0 - 0.1 * model.weight.grad.numpy(), rtol=1e-6)
    assert all(p.is_leaf and p.requires_grad for p in model.parameters())
    assert float(((model(x) - y) ** 2).mean()) < float(loss0)


def test_data_idioms_for_updates_and_target_networks():
    mg.manual_seed(0)
    online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    for p in online.parameters():
        p.grad = mg.ones_like(p)
    p = online.weight
    before = p.numpy().copy()
    p.data -= 0.5 * p.grad
    p.data.add_(p.grad, alpha=-0.5)
    np.testing.assert_allclose(p.numpy(), before - 1.0)
    tau = 0.25
    expect = tau * online.weight.numpy() + (1 - tau) * target.weight.numpy()
    for tp, op in zip(target.parameters(), online.parameters()):
        tp.data.copy_(tau * op.data + (1 - tau) * tp.data)
    np.testing.assert_allclose(target.weight.numpy(), expect, rtol=1e-6)
    with mg.no_grad():  # Polyak averaging with lerp_, as CleanRL writes it
        for tp, op in zip(target.parameters(), online.parameters()):
            tp.lerp_(op, 1.0)
    np.testing.assert_allclose(target.weight.numpy(), online.weight.numpy())


def test_in_place_operators_keep_identity_and_memory():
    t = mg.zeros(3)
    arr, alias = t.array, t
    t += 1
    t *= 3
    t -= mg.tensor([1.0, 0.0, 0.0])
    t /= 2
    t **= 2
    assert t is alias and t.array is arr and t.tolist() == [1.0, 2.25, 2.25] and t._version == 5
    i = mg.tensor([1, 2])
    i += 1
    assert i.tolist() == [2, 3] and i.dtype == np.int64
    with pytest.raises(RuntimeError, match="div_: cannot update a int64 tensor"):
        i /= 2
    with pytest.raises(RuntimeError, match=r"add_: cannot update a float32 tensor of shape \(3,\)"):
        t += mg.ones(2, 3)


# --- autograd through in-place ops (rebasing) -----------------------------------------------------------
def test_in_place_on_a_non_leaf_matches_the_out_of_place_gradient():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2
    h += 1
    h.relu_()
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0]
    assert h.grad_fn.name() == "ReLU" and not h.is_leaf


def test_consumers_recorded_before_an_in_place_op_keep_the_old_history():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2
    y = h * 3  # recorded before h is scaled in place: d y / d x = 6
    h.mul_(5)  # h's new history: d h / d x = 10
    (y.sum() + h.sum()).backward()
    assert x.grad.tolist() == [16.0, 16.0, 16.0]


def test_in_place_op_that_needs_the_old_value_keeps_a_copy():
    """As PyTorch saves the "original self": log_ and mul_ by a tensor that requires grad."""
    x = mg.tensor([0.5, 1.5, 2.0], dtype=mg.float64, requires_grad=True)
    w = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64, requires_grad=True)
    h = x * 1.0
    h.log_()
    h.mul_(w)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0 / 1.5, 1.5])
    np.testing.assert_allclose(w.grad.numpy(), np.log([0.5, 1.5, 2.0]))


def test_changing_a_saved_output_in_place_raises_as_in_pytorch():
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: Sigmoid's output 0"):
        y.sum().backward()


def test_setitem_with_autograd():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = mg.zeros(3)
    z[1] = x[0] * 4  # z becomes part of the graph
    z[2:] = x[1:2]
    assert z.requires_grad and z.tolist() == [0.0, 4.0, 2.0]
    (z * mg.tensor([1.0, 1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [4.0, 10.0, 0.0]


def test_leaf_that_requires_grad_cannot_change_in_place_with_autograd_on():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.relu_(), lambda: w.__setitem__(0, 3.0)):
        with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad \(shape \(2,\)\)"):
            op()
    assert w._version == 0 and w.tolist() == [1.0, 2.0]


def test_views_share_the_version_counter():
    p = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (p * p).sum()
    with mg.no_grad():
        v = p.view(-1)
        v[0] = 10.0
        p.t()[1].zero_()
    assert p._version == 2 and p.tolist() == [[10.0, 0.0], [3.0, 0.0]]
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: Mul's input"):
        y.backward()
    # a copy (reshape of a non-contiguous tensor, advanced indexing) is not a view
    c = p.detach().t().reshape(4)
    c[0] = -1.0
    assert p._version == 2
    q = p.detach()[mg.tensor([0, 1])]
    q.zero_()
    assert p._version == 2


def test_in_place_with_autograd_on_a_view_is_refused_clearly():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1.0
    row = h[0]
    with pytest.raises(RuntimeError, match="relu_: in-place operation with autograd on a view"):
        row.relu_()
    with pytest.raises(RuntimeError, match="mul_: in-place operation with autograd on a tensor whose views"):
        h.mul_(2)


def test_inplace_activation_layers():
    mg.manual_seed(0)
    layers = [nn.ReLU(inplace=True), nn.LeakyReLU(0.2, inplace=True), nn.ELU(inplace=True),
              nn.Hardtanh(inplace=True), nn.ReLU6(inplace=True), nn.SiLU(inplace=True)]
    for layer in layers:
        x = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
        h = x * 1.5
        out = layer(h)
        assert out is h  # written into its input, as in PyTorch
        ref_layer = type(layer)(**({"negative_slope": 0.2} if isinstance(layer, nn.LeakyReLU) else {}))
        x2 = mg.tensor(x.numpy(), requires_grad=True)
        np.testing.assert_allclose(out.numpy(), ref_layer(x2 * 1.5).numpy())
        g = mg.grad(out.sum(), x)[0]
        g2 = mg.grad(ref_layer(x2 * 1.5).sum(), x2)[0]
        np.testing.assert_allclose(g.numpy(), g2.numpy())


def test_dcgan_style_discriminator_block_trains():
    """Conv -> BatchNorm -> LeakyReLU(inplace=True), as pytorch/examples' DCGAN writes it."""
    mg.manual_seed(0)
    d = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1, bias=False), nn.BatchNorm2d(4),
                      nn.LeakyReLU(0.2, inplace=True),
                      nn.Flatten(), nn.Linear(4 * 4 * 4, 1))
    x = mg.randn(8, 1, 8, 8)
    d(x).mean().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in d.parameters())


def test_gan_step_order_raises_instead_of_corrupting():
    """Stepping D's optimizer between G's forward through D and G's backward is the classic GAN bug."""
    mg.manual_seed(0)
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    opt_d = mg.optim.SGD(d.parameters(), lr=0.1)
    fake = g(mg.randn(4, 2))
    g_loss = -d(fake).mean()
    d_loss = d(fake.detach()).mean()
    d_loss.backward()
    opt_d.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        g_loss.backward()


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.mul_(3)
    h.sum().backward()
    assert h.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [6.0, 6.0]


def test_version_counter_cost_is_not_paid_without_autograd():
    """The no-grad path of an op creates no counters (only views and in-place changes do)."""
    x = mg.randn(3, 4)
    y = (x * 2).exp().sum(0)
    assert x._vc is None and y._vc is None


def test_custom_backward_returning_an_array_is_named():
    from minigrad.autograd import Function

    class Twice(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            return 2 * gy.array  # wrong: an array, not a Tensor

    x = mg.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"Twice.backward returned a numpy.ndarray for input 0; return a "):
        Twice()(x).sum().backward()


def test_library_in_place_updates_bump_versions():
    """load_state_dict, init, clip_grad_norm_ and BatchNorm's running statistics change tensors in place."""
    m = nn.Linear(2, 2)
    y = m(mg.ones(1, 2, requires_grad=True)).sum()  # the input's gradient reads the weight
    m.load_state_dict({k: v * 2 for k, v in m.state_dict().items()})
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
    w = mg.zeros(3)
    nn.init.uniform_(w)
    assert w._version == 1
    p = nn.Parameter(mg.ones(2))
    p.grad = mg.full((2,), 10.0)
    nn.utils.clip_grad_norm_([p], 1.0)
    assert p.grad._version == 1
    bn = nn.BatchNorm1d(2)
    bn(mg.randn(4, 2))
    assert bn.running_mean._version == 1 and bn.running_var._version == 1
