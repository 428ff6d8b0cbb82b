"""Checkpoints: minigrad.save / minigrad.load round-trips, corruption detection, atomic writes, and
bit-for-bit training resume (model + Adam + StepLR + RNG state)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import CheckpointError


def _eq(a, b):
    """Structural equality that compares arrays/Tensors by dtype, shape and bytes (NaN-safe)."""
    if isinstance(a, mg.Tensor):
        return isinstance(b, mg.Tensor) and a.requires_grad == b.requires_grad and _eq(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return type(a) is type(b) and a.tobytes() == b.tobytes()
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _sample():
    return {
        "model": {"w": mg.randn(3, 4), "b": mg.zeros(4, dtype=mg.float64, requires_grad=True)},
        "ints": np.arange(5, dtype=np.int64), "mask": np.array([True, False]), "empty": np.zeros((0, 3)),
        "scalar0d": np.array(2.5, dtype=np.float32), "npscalar": np.float32(1.25), "npint": np.int64(-3),
        "step": 17, "big": 2 ** 100 + 1, "neg_big": -(2 ** 70), "lr": 0.001, "inf": float("inf"),
        "nan": float("nan"), "text": "résumé ✓", "none": None, "flag": True,
        "tuple": (1, "a", (2.0, [3])), "list": [mg.tensor([1, 2]), {"x": 1}],
        "int_keys": {0: {"step": 2, "exp_avg": np.ones(2, np.float32)}, 5: "five"},
        "odd_keys": {"__tensor__": 1, (1, 2): "tuple key", 2.5: "float key", None: "none key"},
        "rng": mg.get_rng_state(),
    }


def test_round_trip_nested(tmp_path):
    obj = _sample()
    mg.save(obj, tmp_path / "ck.npz")
    back = mg.load(tmp_path / "ck.npz")
    assert _eq(obj, back)
    assert back["model"]["w"].dtype == np.float32 and back["model"]["b"].requires_grad
    assert back["scalar0d"].shape == () and isinstance(back["big"], int)


def test_rng_state_round_trip(tmp_path):
    mg.manual_seed(123)
    mg.randn(10)
    mg.save({"rng": mg.get_rng_state()}, tmp_path / "rng.npz")
    expected = mg.randn(5).numpy()
    mg.manual_seed(999)
    mg.set_rng_state(mg.load(tmp_path / "rng.npz")["rng"])
    np.testing.assert_array_equal(mg.randn(5).numpy(), expected)


def test_no_pickle_inside(tmp_path):
    mg.save(_sample(), tmp_path / "ck.npz")
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as z:
        for name in z.files:
            assert z[name].dtype != object


def test_unsupported_type_raises_and_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['f'\]"):
        mg.save({"f": lambda: 0}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    mg.save(_sample(), path)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated|corrupt|not a minigrad"):
            mg.load(path)


def test_every_flipped_byte_is_refused_or_harmless(tmp_path):
    """Flip each byte of a small checkpoint: loading either fails with CheckpointError or returns exactly
    the saved content (bytes of zip metadata such as timestamps do not matter) - never a silent change."""
    obj = {"w": mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), "step": 3, "name": "ab"}
    path = tmp_path / "ck.npz"
    mg.save(obj, path)
    data = bytearray(path.read_bytes())
    refused = 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x5A
        path.write_bytes(bytes(bad))
        try:
            back = mg.load(path)
        except CheckpointError:
            refused += 1
            continue
        assert _eq(obj, back), f"byte {i} flipped changed the content silently"
    assert refused > len(data) // 2


def test_flipped_payload_byte_message(tmp_path):
    path = tmp_path / "ck.npz"
    mg.save({"w": mg.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
        mg.load(path)


def test_foreign_and_missing_files(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(CheckpointError, match="not a minigrad checkpoint"):
        mg.load(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(os.urandom(300))
    with pytest.raises(CheckpointError):
        mg.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing.npz")


def test_interrupted_write_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    old = {"epoch": 1, "w": mg.ones(3)}
    mg.save(old, path)

    def crash_midway(f, entries):
        f.write(b"PK\x03\x04 half of a zip file")
        raise KeyboardInterrupt  # e.g. Ctrl-C or the job being killed while writing

    monkeypatch.setattr(serialization, "_write_npz", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"epoch": 2, "w": mg.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary file left behind
    assert _eq(mg.load(path), old)


# --- training resume ----------------------------------------------------------------------------------------
nn = pytest.importorskip("minigrad.nn")


def _make_model(seed):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 3))


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return mg.tensor(x), mg.tensor(y)


def _train_steps(model, opt, sched, x, y, n):
    losses = []
    for _ in range(n):
        idx = mg.randint(0, 64, (16,))  # batch drawn from the default generator: RNG state matters
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.skipif(not hasattr(nn, "Linear"), reason="minigrad.nn.Linear not available yet")
def test_training_resume_is_bit_exact(tmp_path):
    x, y = _data()
    total, k = 30, 12

    model = _make_model(0)
    opt = mg.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.7)
    mg.manual_seed(42)
    uninterrupted = _train_steps(model, opt, sched, x, y, total)

    model = _make_model(0)
    opt = mg.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.7)
    mg.manual_seed(42)
    first = _train_steps(model, opt, sched, x, y, k)
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "step": k, "rng": mg.get_rng_state()}, tmp_path / "ck.npz")
    del model, opt, sched

    mg.manual_seed(1234)  # a different process state: everything must come from the file
    model2 = _make_model(7)
    opt2 = mg.optim.Adam(model2.parameters(), lr=0.5)
    sched2 = mg.optim.lr_scheduler.StepLR(opt2, step_size=5, gamma=0.7)
    ck = mg.load(tmp_path / "ck.npz")
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    sched2.load_state_dict(ck["scheduler"])
    mg.set_rng_state(ck["rng"])
    assert ck["step"] == k
    rest = _train_steps(model2, opt2, sched2, x, y, total - k)

    assert first + rest == uninterrupted  # bit-for-bit
    assert all(p.dtype == np.float32 for p in model2.parameters())


def test_device_tensors_round_trip(xp, device, tmp_path):
    """GPU tensors and arrays are saved from the host copy and come back on the GPU (skips without CuPy)."""
    obj = {"t": mg.randn(3, device=device), "a": xp.arange(4)}
    mg.save(obj, tmp_path / "ck.npz")
    back = mg.load(tmp_path / "ck.npz")
    assert back["t"].device == device and isinstance(back["a"], xp.ndarray)
    np.testing.assert_array_equal(back["t"].numpy(), obj["t"].numpy())
    cpu = mg.load(tmp_path / "ck.npz", map_location="cpu")
    assert cpu["t"].device == "cpu" and isinstance(cpu["a"], np.ndarray)
