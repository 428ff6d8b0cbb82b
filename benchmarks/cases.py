"""Benchmark cases: one definition per case, run by minigrad and by PyTorch.

minigrad follows PyTorch's names and signatures, so each case is written once against
a small adapter (:class:`Framework`) that hides the few real differences between the
two libraries (how a NumPy array becomes a tensor on a device, how to wait for the
device, how to read a tensor back). Calling ``case.build(fw, quick)`` with the minigrad
adapter gives the minigrad implementation, with the torch adapter the PyTorch one.
Cases marked ``frameworks=("minigrad",)`` (the unfused LSTM reference) are minigrad-only.

This module imports neither minigrad nor torch at import time: each worker process
(see ``benchmarks/run.py``) builds the adapter of its own framework only, so the
minigrad worker never loads torch and the torch worker never loads minigrad.

Inputs are float32 arrays drawn from NumPy generators with fixed seeds, identical in
both workers; layer parameters are overwritten with the same seeded values (by
parameter name), so the two frameworks compute the same numbers and the driver can
compare a fingerprint of each case's outputs (see :func:`fingerprint`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class Target:
    """A pass/fail threshold.

    kind: ``"ratio_le"`` (minigrad/torch time ratio <= value), ``"ratio_lt"`` (ratio < value)
    or ``"speedup_ge"`` (time of this case / time of ``Case.baseline`` >= value, minigrad only).
    """

    kind: str
    value: float

    def describe(self) -> str:
        if self.kind == "ratio_le":
            return f"≤ {self.value:g}× torch"
        if self.kind == "ratio_lt":
            return f"< {self.value:g}× torch"
        if self.kind == "speedup_ge":
            return f"fused ≥ {self.value:g}× faster"
        raise ValueError(f"Target: unknown kind {self.kind!r}")

    def evaluate(self, value: float | None) -> bool | None:
        """True/False for a measured ratio or speed-up; None when it could not be measured."""
        if value is None:
            return None
        if self.kind == "ratio_le":
            return value <= self.value
        if self.kind == "ratio_lt":
            return value < self.value
        if self.kind == "speedup_ge":
            return value >= self.value
        raise ValueError(f"Target: unknown kind {self.kind!r}")


# ----------------------------------------------------------------------------------------------
# Framework adapters


class Framework:
    """What a case needs from a framework, for minigrad or torch on ``cpu`` or ``cuda``."""

    name: str

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    # library namespaces (imported lazily, so that a missing module fails one case only)
    @property
    def lib(self) -> Any:
        raise NotImplementedError

    @property
    def nn(self) -> Any:
        import importlib

        return importlib.import_module(f"{self.name}.nn")

    @property
    def F(self) -> Any:  # noqa: N802  (PyTorch's name for the functional API)
        import importlib

        return importlib.import_module(f"{self.name}.nn.functional")

    @property
    def optim(self) -> Any:
        import importlib

        return importlib.import_module(f"{self.name}.optim")

    def no_grad(self) -> AbstractContextManager:
        return self.lib.no_grad()

    def tensor(self, arr: np.ndarray, requires_grad: bool = False) -> Any:
        """A leaf tensor on ``self.device`` holding a copy of ``arr`` (dtype kept)."""
        raise NotImplementedError

    def numpy(self, t: Any) -> np.ndarray:
        raise NotImplementedError

    def sync(self) -> None:
        """Wait until the device has finished all queued work (a no-op on the CPU)."""

    def prepare(self, module: Any, seed: int) -> Any:
        """Overwrite ``module``'s parameters with seeded values (by name) and move it to the device."""
        module = module.to(self.device)
        with self.no_grad():
            for name, p in module.named_parameters():
                p.copy_(self.tensor(param_values(name, tuple(p.shape), seed)))
        return module

    def info(self) -> dict:
        raise NotImplementedError


class MinigradFramework(Framework):
    name = "minigrad"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        import minigrad

        self._lib = minigrad
        if device == "cuda":
            if not minigrad.cuda.is_available():
                raise RuntimeError("minigrad: CuPy with a GPU is not available")
            from minigrad.backend import cupy

            self._cupy = cupy

    @property
    def lib(self) -> Any:
        return self._lib

    def tensor(self, arr: np.ndarray, requires_grad: bool = False) -> Any:
        return self._lib.tensor(np.array(arr), requires_grad=requires_grad, device=self.device)

    def numpy(self, t: Any) -> np.ndarray:
        return np.asarray(t.detach().numpy())

    def sync(self) -> None:
        if self.device == "cuda":
            self._cupy.cuda.Device().synchronize()

    def info(self) -> dict:
        out: dict[str, Any] = {"minigrad": self._lib.__version__, "numpy": np.__version__}
        try:
            cfg = np.show_config(mode="dicts")
            deps = cfg.get("Build Dependencies", {})
            out["numpy_blas"] = deps.get("blas")
            out["numpy_lapack"] = {k: v for k, v in (deps.get("lapack") or {}).items()
                                   if k in ("name", "version")}
            out["numpy_simd"] = cfg.get("SIMD Extensions")
        except Exception as e:  # noqa: BLE001  (older NumPy: no mode="dicts")
            out["numpy_blas"] = f"unavailable ({type(e).__name__}: {e})"
        if self.device == "cuda":
            cp = self._cupy
            out["cupy"] = cp.__version__
            try:
                props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
                out["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            except Exception as e:  # noqa: BLE001
                out["gpu"] = f"unknown ({e})"
        return out


class TorchFramework(Framework):
    name = "torch"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        import torch

        self._lib = torch
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("torch: CUDA is not available")

    @property
    def lib(self) -> Any:
        return self._lib

    def tensor(self, arr: np.ndarray, requires_grad: bool = False) -> Any:
        t = self._lib.from_numpy(np.array(arr)).to(self.device)
        return t.requires_grad_(requires_grad) if requires_grad else t

    def numpy(self, t: Any) -> np.ndarray:
        return t.detach().cpu().numpy()

    def sync(self) -> None:
        if self.device == "cuda":
            self._lib.cuda.synchronize()

    def info(self) -> dict:
        torch = self._lib
        out: dict[str, Any] = {"torch": torch.__version__, "num_threads": torch.get_num_threads(),
                               "num_interop_threads": torch.get_num_interop_threads()}
        try:
            out["config"] = torch.__config__.show()
            out["parallel_info"] = torch.__config__.parallel_info()
        except Exception as e:  # noqa: BLE001
            out["config"] = f"unavailable ({e})"
        if self.device == "cuda":
            out["gpu"] = torch.cuda.get_device_name()
            out["cuda"] = torch.version.cuda
        return out


def make_framework(name: str, device: str) -> Framework:
    if name == "minigrad":
        return MinigradFramework(device)
    if name == "torch":
        return TorchFramework(device)
    raise ValueError(f"unknown framework {name!r}; expected 'minigrad' or 'torch'")


# ----------------------------------------------------------------------------------------------
# Seeded data, identical in both workers


def randn(seed: int, *shape: int, scale: float = 1.0) -> np.ndarray:
    """float32 standard normal values from a fixed seed."""
    a = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    return a * np.float32(scale) if scale != 1.0 else a


def param_values(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Deterministic float32 values for the parameter called ``name``: U(-1/sqrt(fan_in), +)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 10
    bound = 1.0 / np.sqrt(max(fan_in, 1))
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def fingerprint(arr: np.ndarray) -> list[float]:
    """A short summary of an array that two implementations can compare: [norm, two random projections].

    Two arrays that agree to relative precision ``r`` have fingerprints that agree to about
    ``r * norm``; arrays that differ (a flipped kernel, another gate order) almost surely don't.
    """
    a = np.asarray(arr, dtype=np.float64).ravel()
    probes = np.random.default_rng([12345, a.size]).standard_normal((2, a.size)) / np.sqrt(max(a.size, 1))
    return [float(np.linalg.norm(a)), *(float(v) for v in probes @ a)]


# ----------------------------------------------------------------------------------------------
# Cases


@dataclass
class Bench:
    """A ready-to-time case: ``step()`` does one unit of work; ``check`` are arrays to fingerprint."""

    step: Callable[[], Any]
    check: Sequence[Any] = ()


@dataclass
class Case:
    """One benchmark.

    id: short name used by ``--only``; title: row label in the table.
    build(fw, quick) -> Bench: sets up inputs/modules on ``fw`` and returns the step to time.
    flops(quick): floating-point operations of one step, for the GFLOP/s column (or None).
    ops(quick): number of autograd ops in one step, for the µs/op column (or None).
    per_second: show steps/s (training cases).
    baseline: for a ``speedup_ge`` target, the id of the case it is compared with (minigrad times).
    repeats: default number of timed runs (``--repeats`` overrides).
    """

    id: str
    title: str
    group: str
    build: Callable[[Framework, bool], Bench]
    frameworks: tuple[str, ...] = ("minigrad", "torch")
    target: Target | None = None
    flops: Callable[[bool], float] | None = None
    ops: Callable[[bool], int] | None = None
    per_second: bool = False
    baseline: str | None = None
    repeats: int = 10
    notes: str = ""
    extra: dict = field(default_factory=dict)


CASES: list[Case] = []


def _add(case: Case) -> None:
    if any(c.id == case.id for c in CASES):
        raise ValueError(f"duplicate benchmark case id {case.id!r}")
    CASES.append(case)


def get_case(case_id: str) -> Case:
    for c in CASES:
        if c.id == case_id:
            return c
    raise KeyError(f"unknown benchmark case {case_id!r}")


def _zero_grads(*tensors: Any) -> None:
    for t in tensors:
        t.grad = None


# --- conv2d -------------------------------------------------------------------------------------

# (N, C_in, H, W, C_out, k, pad) -- full size, and the --quick size
CONV_SHAPES = {
    "c1": ((64, 1, 28, 28, 32, 3, 1), (4, 1, 8, 8, 4, 3, 1)),
    "c32": ((64, 32, 14, 14, 64, 3, 1), (4, 4, 6, 6, 8, 3, 1)),
    "c3": ((64, 3, 32, 32, 64, 3, 1), (4, 3, 8, 8, 8, 3, 1)),
}


def _conv_shape(key: str, quick: bool) -> tuple[int, ...]:
    return CONV_SHAPES[key][1 if quick else 0]


def _conv_flops(key: str, quick: bool, backward: bool) -> float:
    n, c, h, w, co, k, p = _conv_shape(key, quick)
    oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
    fwd = 2.0 * n * oh * ow * co * c * k * k
    return 3 * fwd if backward else fwd  # fwd + grad wrt input + grad wrt weight: three GEMMs of one size


def _conv_build(key: str, backward: bool) -> Callable[[Framework, bool], Bench]:
    def build(fw: Framework, quick: bool) -> Bench:
        n, c, h, w, co, k, p = _conv_shape(key, quick)
        conv2d = fw.F.conv2d
        x = fw.tensor(randn(1, n, c, h, w), requires_grad=backward)
        wt = fw.tensor(param_values("weight", (co, c, k, k), 2), requires_grad=backward)
        b = fw.tensor(param_values("bias", (co,), 3), requires_grad=backward)
        if not backward:
            def step() -> Any:
                with fw.no_grad():
                    return conv2d(x, wt, b, stride=1, padding=p)

            return Bench(step, [step()])
        oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
        gy = fw.tensor(randn(4, n, co, oh, ow))

        def step_bwd() -> Any:
            _zero_grads(x, wt, b)
            y = conv2d(x, wt, b, stride=1, padding=p)
            y.backward(gy)
            return y

        step_bwd()
        return Bench(step_bwd, [x.grad, wt.grad, b.grad])

    return build


def _conv_title(key: str, backward: bool) -> str:
    n, c, h, w, co, k, p = CONV_SHAPES[key][0]
    return f"conv2d {'fwd+bwd' if backward else 'fwd'} N={n} {c}→{co} {h}×{w} k{k} p{p}"


for _key in CONV_SHAPES:
    for _bwd in (False, True):
        _add(Case(
            id=f"conv2d_{_key}_{'fwdbwd' if _bwd else 'fwd'}",
            title=_conv_title(_key, _bwd),
            group="conv",
            build=_conv_build(_key, _bwd),
            target=Target("ratio_le", 1.5) if _bwd else None,
            flops=(lambda q, _k=_key, _b=_bwd: _conv_flops(_k, q, _b)),
            repeats=10,
        ))


# --- LSTM / GRU -----------------------------------------------------------------------------------

RNN_SIZE = {False: (50, 64, 64, 256), True: (5, 4, 8, 16)}  # (seq T, batch N, input I, hidden H)
# a small LSTM, where the per-step bookkeeping rather than the GEMMs sets the time: what fusing saves
RNN_SIZE_SMALL = {False: (50, 16, 64, 64), True: (5, 4, 8, 8)}


def _rnn_flops(cell: str, quick: bool, backward: bool, sizes: dict = RNN_SIZE) -> float:
    t, n, i, h = sizes[quick]
    gates = 4 if cell == "LSTM" else 3
    fwd = 2.0 * t * n * gates * h * (i + h)  # the two GEMMs per step; elementwise work not counted
    return 3 * fwd if backward else fwd


def _rnn_run(fw: Framework, module: Any, x: Any) -> Any:
    out, _state = module(x)
    return out


def _rnn_build(cell: str, backward: bool, reference: bool = False,
               sizes: dict = RNN_SIZE) -> Callable[[Framework, bool], Bench]:
    def build(fw: Framework, quick: bool) -> Bench:
        t, n, i, h = sizes[quick]
        if reference:
            module = _reference_lstm(fw, i, h)
        else:
            module = getattr(fw.nn, cell)(i, h)  # num_layers=1, batch_first=False: x is (T, N, I)
        module = fw.prepare(module, seed=7)
        params = list(module.parameters())
        x = fw.tensor(randn(5, t, n, i), requires_grad=backward)
        if not backward:
            def step() -> Any:
                with fw.no_grad():
                    return _rnn_run(fw, module, x)

            return Bench(step, [step()])
        gy = fw.tensor(randn(6, t, n, h))

        def step_bwd() -> Any:
            _zero_grads(x, *params)
            out = _rnn_run(fw, module, x)
            out.backward(gy)
            return out

        out = step_bwd()
        grads = {name: p.grad for name, p in module.named_parameters()}
        return Bench(step_bwd, [out, x.grad, grads.get("weight_hh_l0", params[0].grad)])

    return build


def _reference_lstm(fw: Framework, input_size: int, hidden_size: int) -> Any:
    """The unfused LSTM of ``minigrad/nn/rnn_reference.py`` (minigrad only), as a Module with nn.LSTM's API.

    ``lstm_layer_reference(x, h0, c0, w_ih, w_hh, b_ih, b_hh) -> (out, h_n, c_n)`` builds every time step
    from primitive ops. The module holds the four parameters under nn.LSTM's names, so ``prepare`` gives
    it the same values as the fused ``lstm_fwdbwd`` case, and the outputs can be compared.
    """
    if fw.name != "minigrad":
        raise RuntimeError("the unfused reference LSTM is minigrad-only")
    import importlib

    ref = importlib.import_module("minigrad.nn.rnn_reference")
    layer = ref.lstm_layer_reference
    nn, lib = fw.nn, fw.lib
    g, i, h = 4 * hidden_size, input_size, hidden_size

    class ReferenceLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight_ih_l0 = nn.Parameter(lib.zeros(g, i))
            self.weight_hh_l0 = nn.Parameter(lib.zeros(g, h))
            self.bias_ih_l0 = nn.Parameter(lib.zeros(g))
            self.bias_hh_l0 = nn.Parameter(lib.zeros(g))

        def forward(self, x: Any) -> Any:
            out, h_n, c_n = layer(x, None, None, self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0,
                                  self.bias_hh_l0)
            return out, (h_n, c_n)

    return ReferenceLSTM()


def _rnn_title(cell: str, backward: bool, sizes: dict = RNN_SIZE) -> str:
    t, n, i, h = sizes[False]
    return f"{cell} {'fwd+bwd' if backward else 'fwd'} T={t} N={n} in={i} hid={h}"


for _cell in ("LSTM", "GRU"):
    for _bwd in (False, True):
        _add(Case(
            id=f"{_cell.lower()}_{'fwdbwd' if _bwd else 'fwd'}",
            title=_rnn_title(_cell, _bwd),
            group="rnn",
            build=_rnn_build(_cell, _bwd),
            target=Target("ratio_le", 1.5) if (_bwd and _cell == "LSTM") else None,
            flops=(lambda q, _c=_cell, _b=_bwd: _rnn_flops(_c, q, _b)),
            repeats=10,
        ))

_add(Case(
    id="lstm_unfused_fwdbwd",
    title="LSTM fwd+bwd, unfused reference (minigrad only; ratio = fused speed-up)",
    group="rnn",
    build=_rnn_build("LSTM", True, reference=True),
    frameworks=("minigrad",),
    target=Target("speedup_ge", 3.0),
    baseline="lstm_fwdbwd",
    flops=(lambda q: _rnn_flops("LSTM", q, True)),
    repeats=10,
))
_add(Case(
    id="lstm_small_fwdbwd",
    title=_rnn_title("LSTM", True, RNN_SIZE_SMALL),
    group="rnn",
    build=_rnn_build("LSTM", True, sizes=RNN_SIZE_SMALL),
    flops=(lambda q: _rnn_flops("LSTM", q, True, RNN_SIZE_SMALL)),
    repeats=20,
))
_add(Case(
    id="lstm_small_unfused_fwdbwd",
    title="LSTM fwd+bwd T=50 N=16 in=64 hid=64, unfused reference (minigrad only; ratio = fused speed-up)",
    group="rnn",
    build=_rnn_build("LSTM", True, reference=True, sizes=RNN_SIZE_SMALL),
    frameworks=("minigrad",),
    baseline="lstm_small_fwdbwd",
    flops=(lambda q: _rnn_flops("LSTM", q, True, RNN_SIZE_SMALL)),
    repeats=10,
))


# --- training steps -------------------------------------------------------------------------------

TRAIN_BATCH = {False: 128, True: 8}


def _mlp(nn: Any) -> Any:
    class MLP(nn.Module):
        """784-256-256-10 with ReLU."""

        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc2 = nn.Linear(256, 256)
            self.fc3 = nn.Linear(256, 10)

        def forward(self, x: Any) -> Any:
            return self.fc3(self.fc2(self.fc1(x).relu()).relu())

    return MLP()


def _lenet(nn: Any) -> Any:
    class LeNet(nn.Module):
        """conv32-relu-pool-conv64-relu-pool-fc128-fc10 on 1×28×28."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc1 = nn.Linear(64 * 7 * 7, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            x = self.pool(self.conv1(x).relu())
            x = self.pool(self.conv2(x).relu())
            x = x.reshape(x.shape[0], -1)
            return self.fc2(self.fc1(x).relu())

    return LeNet()


def _train_build(kind: str) -> Callable[[Framework, bool], Bench]:
    def build(fw: Framework, quick: bool) -> Bench:
        n = TRAIN_BATCH[quick]
        model = _mlp(fw.nn) if kind == "mlp" else _lenet(fw.nn)
        model = fw.prepare(model, seed=11)
        opt = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        cross_entropy = fw.F.cross_entropy
        shape = (n, 784) if kind == "mlp" else (n, 1, 28, 28)
        x = fw.tensor(randn(8, *shape))
        y = fw.tensor(np.random.default_rng(9).integers(0, 10, size=n).astype(np.int64))

        def step() -> Any:
            opt.zero_grad()
            loss = cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        loss = step()
        return Bench(step, [loss, model.fc1.weight.grad])

    return build


_add(Case(
    id="train_mlp",
    title="train step MLP 784-256-256-10, batch 128, SGD momentum",
    group="train",
    build=_train_build("mlp"),
    target=Target("ratio_lt", 1.0),
    per_second=True,
    repeats=20,
))
_add(Case(
    id="train_lenet",
    title="train step LeNet conv32-pool-conv64-pool-fc128-fc10, batch 128, SGD momentum",
    group="train",
    build=_train_build("lenet"),
    target=Target("ratio_le", 1.5),
    per_second=True,
    repeats=10,
))


# --- autograd overhead ----------------------------------------------------------------------------

CHAIN_OPS = {False: 1000, True: 100}


def _chain_build(fw: Framework, quick: bool) -> Bench:
    n_ops = CHAIN_OPS[quick]
    x = fw.tensor(randn(12, 16), requires_grad=True)
    w = fw.tensor(randn(13, 16, scale=0.5))
    b = fw.tensor(randn(14, 16, scale=0.1))

    def step() -> Any:
        x.grad = None
        y = x
        for i in range(n_ops):
            r = i % 4
            if r == 0:
                y = y * w
            elif r == 1:
                y = y + b
            elif r == 2:
                y = y.tanh()
            else:
                y = y.sigmoid()
        y.sum().backward()
        return y

    y = step()
    return Bench(step, [y, x.grad])


_add(Case(
    id="autograd_overhead",
    title="autograd overhead: 1000 elementwise ops on a (16,) tensor, fwd+bwd",
    group="overhead",
    build=_chain_build,
    ops=lambda q: CHAIN_OPS[q],
    repeats=30,
))


# --- plain matmul: the BLAS limit -----------------------------------------------------------------


def _gemm_of_conv(key: str, quick: bool) -> tuple[int, int, int]:
    n, c, h, w, co, k, p = _conv_shape(key, quick)
    oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
    return n * oh * ow, c * k * k, co  # im2col: (N*OH*OW, C*k*k) @ (C*k*k, C_out)


MATMULS: dict[str, Callable[[bool], tuple[int, int, int]]] = {
    "matmul_1024": lambda q: (128, 128, 128) if q else (1024, 1024, 1024),
    **{f"matmul_conv_{key}": (lambda q, _k=key: _gemm_of_conv(_k, q)) for key in CONV_SHAPES},
}


def _matmul_build(mkn: Callable[[bool], tuple[int, int, int]]) -> Callable[[Framework, bool], Bench]:
    def build(fw: Framework, quick: bool) -> Bench:
        m, k, n = mkn(quick)
        a = fw.tensor(randn(15, m, k))
        b = fw.tensor(randn(16, k, n))
        matmul = fw.lib.matmul

        def step() -> Any:
            with fw.no_grad():
                return matmul(a, b)

        return Bench(step, [step()])

    return build


for _id, _mkn in MATMULS.items():
    _m, _k, _n = _mkn(False)
    _what = "" if _id == "matmul_1024" else f" (GEMM of conv {_id.split('_')[-1]})"
    _add(Case(
        id=_id,
        title=f"matmul float32 {_m}×{_k} @ {_k}×{_n}{_what}",
        group="matmul",
        build=_matmul_build(_mkn),
        flops=(lambda q, _f=_mkn: 2.0 * float(np.prod(_f(q)))),
        repeats=15,
    ))
