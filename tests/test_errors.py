"""Error messages name the op and the shapes/dtypes/devices involved, and gradcheck/gradgradcheck
catch (and describe) wrong gradients, including bugs an all-ones upstream gradient would miss."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.autograd import Function

# the module, not the function ``minigrad.tensor``
tensor_module = importlib.import_module("minigrad.tensor")


def f64(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.uniform(-1.0, 1.0, size=shape), dtype="float64", requires_grad=requires_grad)


# --- shape errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [((2, 3), (4, 5)), ((3,), (3, 4, 5)), ((2, 3), (2,))])
def test_matmul_shape_mismatch_names_op_and_both_shapes(a, b):
    with pytest.raises(ValueError) as e:
        mg.randn(*a) @ mg.randn(*b)
    msg = str(e.value)
    assert "matmul" in msg and str(a) in msg and str(b) in msg


def test_matmul_batch_dims_and_0d():
    with pytest.raises(ValueError, match=r"matmul: batch dims of \(2, 2, 3\) and \(3, 3, 1\)"):
        mg.randn(2, 2, 3) @ mg.randn(3, 3, 1)
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least 1 dimension"):
        mg.matmul(mg.randn(3), mg.tensor(2.0))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_broadcast_error_names_op_and_both_shapes(op):
    a, b = mg.rand(2, 3) + 0.5, mg.rand(4) + 0.5
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        getattr(mg, op)(a, b)


def test_broadcast_errors_of_operators_and_where():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(3, 2\)"):
        mg.randn(2, 3) * mg.randn(3, 2)
    with pytest.raises(ValueError, match=r"where: shapes \(2,\) \(condition\), \(3,\) and \(\)"):
        mg.where(mg.randn(2) > 0, mg.randn(3), 0.0)
    with pytest.raises(ValueError, match=r"eq: shapes \(2,\) and \(3,\)"):
        mg.eq(mg.randn(2), mg.randn(3))
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2,\) to \(3,\)"):
        mg.randn(2).expand(3)


def test_cat_and_stack_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\).*tensor 0's \(2, 3\)"):
        mg.cat([mg.randn(2, 3), mg.randn(2, 4)])
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(3,\)"):
        mg.cat([mg.randn(2, 3), mg.randn(3)], dim=1)
    with pytest.raises(ValueError, match="cat: expected a non-empty list"):
        mg.cat([])
    with pytest.raises(ValueError, match=r"stack: .*\(2,\) at entry 0 and \(3,\) at entry 1"):
        mg.stack([mg.randn(2), mg.randn(3)])


def test_reshape_and_dim_errors():
    msg = r"reshape: shape \[4, 2\] is invalid for input of size 6 \(shape \(2, 3\)\)"
    with pytest.raises(RuntimeError, match=msg):
        mg.randn(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match=r"reshape: shape \[-1, -1\]"):
        mg.randn(2, 3).reshape(-1, -1)
    with pytest.raises(IndexError, match="sum: dim 2 is out of range for a tensor of 2 dimensions"):
        mg.randn(2, 3).sum(2)
    with pytest.raises(ValueError, match="permute: got 1 dims for a tensor of 2 dimensions"):
        mg.randn(2, 3).permute(0)
    with pytest.raises(IndexError, match=r"getitem: index 5 is invalid for a tensor of shape \(2, 3\)"):
        mg.randn(2, 3)[5]
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] do not add up to 2"):
        mg.randn(2, 3).split([1, 2])


def test_autograd_usage_errors():
    x = mg.randn(3, requires_grad=True)
    msg = r"backward: grad can be implicitly created only for scalar outputs.*\(3,\)"
    with pytest.raises(RuntimeError, match=msg):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"element 0 of tensors does not require grad"):
        mg.randn(3).sum().backward()
    with pytest.raises(RuntimeError, match=r"element 1 of tensors does not require grad"):
        mg.backward([x.sum(), mg.randn(2).sum()])
    msg = "only floating-point tensors can require gradients, got dtype int64"
    with pytest.raises(RuntimeError, match=msg):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only one-element tensors"):
        x.item()


@pytest.mark.parametrize("bad", ["complex512", "float128", "quaternion"])
def test_unknown_dtype(bad):
    with pytest.raises(TypeError, match=rf"unknown dtype '{bad}'.*supported:.*float32"):
        mg.tensor([1], dtype=bad)
    with pytest.raises(TypeError, match="unknown dtype"):
        mg.zeros(2, dtype=bad)


def test_unsupported_data():
    with pytest.raises(TypeError, match="complex128"):
        mg.tensor(1 + 2j)
    with pytest.raises(TypeError, match="cannot make a tensor"):
        mg.tensor(["a"])
    with pytest.raises(TypeError, match="unsupported dtype complex64"):
        mg.as_tensor(np.ones(2, dtype=np.complex64))


# --- devices ------------------------------------------------------------------------------------
@pytest.mark.skipif(mg.cuda_is_available(), reason="checks the message shown without CuPy and a GPU")
def test_to_cuda_without_cupy_is_a_clear_error():
    makers = (lambda: mg.randn(3).to("cuda"), lambda: mg.randn(3).cuda(), lambda: mg.zeros(3, device="cuda"))
    for make in makers:
        with pytest.raises(RuntimeError, match=r"CuPy with a GPU is not available.*cuda12"):
            make()
    assert not mg.cuda.is_available()


def test_bad_device_string():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mg.device("tpu")


class _FakeGpuArray(np.ndarray):
    """An ndarray subclass standing in for a CuPy array: its type differs from the CPU operand's."""


def test_mixing_devices_names_op_devices_and_shapes(monkeypatch):
    def fake_device_of(a):
        return backend.device("cuda", 0) if isinstance(a, _FakeGpuArray) else backend.CPU

    monkeypatch.setattr(backend, "device_of", fake_device_of)
    monkeypatch.setattr(tensor_module, "device_of", fake_device_of)
    cpu = mg.randn(2, 3)
    gpu = mg.Tensor._make(np.zeros((2, 3), np.float32).view(_FakeGpuArray))
    with pytest.raises(RuntimeError) as e:
        mg.add(cpu, gpu)
    msg = str(e.value)
    assert msg.startswith("Add: expected all tensors on the same device")
    assert "input 0: cpu (2, 3)" in msg and "input 1: cuda:0 (2, 3)" in msg


@pytest.mark.skipif(not mg.cuda_is_available(), reason="needs CuPy and a GPU")
def test_mixing_real_devices():
    with pytest.raises(RuntimeError, match=r"expected all tensors on the same device.*cpu.*cuda"):
        mg.randn(3) + mg.randn(3).to("cuda")


# --- gradcheck ----------------------------------------------------------------------------------
class _WrongAtOneElement(Function):
    """y = a * b whose gradient for b is off by 0.75 at element (1, 2)."""

    seen_gy: list = []

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        _WrongAtOneElement.seen_gy.append(gy.array.copy())
        bump = np.zeros(b.shape)
        bump[1, 2] = 0.75
        return gy * b, gy * a + mg.Tensor._make(bump)


def test_gradcheck_failure_names_input_worst_element_and_both_values():
    a, b = f64(2, 3, seed=1), f64(2, 3, seed=2)
    _WrongAtOneElement.seen_gy = []
    with pytest.raises(mg.GradcheckError) as e:
        mg.gradcheck(lambda a, b: _WrongAtOneElement()(a, b), [a, b])
    msg = str(e.value)
    assert "gradient of input 1 (shape (2, 3)) is wrong" in msg
    assert "worst element at index (1, 2)" in msg
    assert "1 of 6 elements fail" in msg
    m = re.search(r"analytic (\S+), numeric (\S+) ", msg)
    analytic, numeric = float(m.group(1)), float(m.group(2))
    v = _WrongAtOneElement.seen_gy[0]  # the random upstream gradient gradcheck used
    true = (v * a.array)[1, 2]
    assert numeric == pytest.approx(true, rel=1e-4, abs=1e-5)
    assert analytic == pytest.approx(true + 0.75, rel=1e-4, abs=1e-5)
    assert not mg.gradcheck(lambda a, b: _WrongAtOneElement()(a, b), [a, b], raise_exception=False)


def test_gradcheck_passes_a_correct_function_and_checks_dtype():
    x = f64(3, 2)
    assert mg.gradcheck(lambda x: (x * x).tanh(), [x])
    assert mg.gradcheck(lambda x: (x * x).tanh(), [x], fast_mode=True)
    with pytest.raises(ValueError, match="gradcheck: input 0 has dtype float32"):
        mg.gradcheck(lambda x: x * 2, [mg.randn(2, requires_grad=True)])
    with pytest.raises(ValueError, match="no input has requires_grad"):
        mg.gradcheck(lambda x: x * 2, [mg.randn(2)])


class _SoftmaxWrongByARowConstant(Function):
    """Softmax whose backward subtracts mean(dy) per row instead of sum(dy * y): the error
    y * (sum(dy*y) - mean(dy)) is a per-row constant times y, and vanishes when dy is all ones."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        self.y = e / e.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.saved_output(self.y)
        return y * (gy - gy.mean(-1, keepdim=True))


def test_gradcheck_random_cotangent_catches_what_all_ones_misses():
    x = f64(3, 4, seed=3)
    bad = lambda x: _SoftmaxWrongByARowConstant()(x)  # noqa: E731
    # an all-ones upstream gradient (which is what .sum() feeds back) cannot see the bug ...
    assert mg.gradcheck(lambda x: bad(x).sum(), [x])
    # ... the random upstream gradient of gradcheck does, elementwise and in fast (directional) mode
    with pytest.raises(mg.GradcheckError, match=r"gradient of input 0 \(shape \(3, 4\)\) is wrong"):
        mg.gradcheck(bad, [x])
    msg = r"directional derivative for input 0 \(shape \(3, 4\)\) disagrees"
    with pytest.raises(mg.GradcheckError, match=msg):
        mg.gradcheck(bad, [x], fast_mode=True)
    # and the real softmax passes
    assert mg.gradcheck(lambda x: mg.softmax(x, -1), [x])


class _SquareWithConstantX(Function):
    """y = x^2 with dx = 2 x dy, but x taken as a constant in the backward: first derivatives are right,
    second derivatives are not (d/dx of the gradient loses the 2 dy term)."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x_const = mg.Tensor._make(self.inputs[0].array.copy())
        return gy * x_const * 2.0


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = f64(2, 3, seed=4)
    fn = lambda x: _SquareWithConstantX()(x)  # noqa: E731
    assert mg.gradcheck(fn, [x])
    msg = r"gradient of .*: gradient of input 0 \(shape \(2, 3\)\) is wrong"
    with pytest.raises(mg.GradcheckError, match=msg):
        mg.gradgradcheck(fn, [x])
    with pytest.raises(mg.GradcheckError, match="directional derivative for input 0"):
        mg.gradgradcheck(fn, [x], fast_mode=True)
    assert mg.gradgradcheck(lambda x: x * x, [x])


def test_gradient_count_must_match_output_count():
    x = mg.randn(2, requires_grad=True)
    a, b = x * 2, x * 3
    with pytest.raises(RuntimeError, match="grad: got 1 grad_outputs for 2 outputs"):
        mg.grad([a, b], x, grad_outputs=[mg.ones(2)])
    with pytest.raises(RuntimeError, match="backward: got 1 gradients for 2 tensors"):
        mg.backward([a, b], [mg.ones(2)])
    mg.backward([a, b], [mg.ones(2), mg.ones(2)])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
