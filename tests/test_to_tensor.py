"""transforms.ToTensor: float channels-first Tensors (what minigrad's datasets serve) pass through, so
Compose([ToTensor(), Normalize(...)]) works on them; HWC uint8 arrays and PIL-like images become CHW
float in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from test_data import _make_cifar_tar, _sha

import minigrad as mg
from minigrad.utils import datasets as ds
from minigrad.utils import transforms as T
from minigrad.utils.data import DataLoader

MNIST_NORM = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])


def test_float_chw_tensor_passes_through():
    x = mg.rand(3, 5, 7)
    assert T.ToTensor()(x) is x
    b = mg.rand(2, 3, 5, 7)
    assert T.ToTensor()(b) is b


def test_uint8_tensor_is_scaled_not_moved():
    x = mg.tensor(np.full((1, 4, 6), 255, np.uint8))
    y = T.ToTensor()(x)
    assert y.shape == (1, 4, 6) and y.dtype == np.float32 and float(y.numpy().max()) == 1.0


def test_hwc_uint8_array_and_pil_like_images():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    y = T.ToTensor()(hwc)
    assert y.shape == (3, 4, 6) and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), hwc.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)

    class FakePIL:  # PIL images expose __array_interface__; numpy.asarray reads them
        def __init__(self, a):
            self._a = a
            self.__array_interface__ = a.__array_interface__

    y = T.ToTensor()(FakePIL(hwc))
    np.testing.assert_allclose(y.numpy(), hwc.transpose(2, 0, 1) / np.float32(255), rtol=1e-6)
    gray = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    assert T.ToTensor()(FakePIL(gray)).shape == (1, 4, 6)
    nhwc = rng.integers(0, 256, (2, 4, 6, 3), dtype=np.uint8)
    assert T.ToTensor()(nhwc).shape == (2, 3, 4, 6)
    assert T.ToTensor(channels_last=False)(hwc.transpose(2, 0, 1)).shape == (3, 4, 6)


def test_bad_input():
    with pytest.raises(TypeError, match="ToTensor: expected an image of numbers"):
        T.ToTensor()(np.array([["a"]]))
    with pytest.raises(ValueError, match="ToTensor: expected an image"):
        T.ToTensor()(np.zeros(5, np.uint8))


def test_compose_on_image_dataset():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    d = ds.ImageDataset(data, np.arange(5), transform=MNIST_NORM)
    img, label = d[2]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and label == 2
    want = (data[2].astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(img.numpy(), want, rtol=1e-5, atol=1e-6)


def test_compose_on_mnist_and_cifar(tmp_path, monkeypatch):
    """minigrad's MNIST and CIFAR10 classes (small generated files served from file:// URLs)."""
    rng = np.random.default_rng(0)
    served = tmp_path / "served"
    served.mkdir()
    for prefix, n in (("train", 6), ("t10k", 3)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        ds.write_idx(served / f"{prefix}-images-idx3-ubyte.gz", imgs)
        ds.write_idx(served / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    _make_cifar_tar(served / "cifar-10-binary.tar.gz")
    files = {p.name: ([served.as_uri() + "/"], _sha(p.read_bytes())) for p in served.iterdir()}
    monkeypatch.setitem(ds.FILES, "mnist", {k: v for k, v in files.items() if "ubyte" in k})
    monkeypatch.setitem(ds.FILES, "cifar10", {"cifar-10-binary.tar.gz": files["cifar-10-binary.tar.gz"]})
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "cache"))

    mnist = ds.MNIST(train=True, transform=MNIST_NORM)
    plain = ds.MNIST(train=True)
    img, _ = mnist[0]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32
    np.testing.assert_allclose(img.numpy(), (plain[0][0].numpy() - 0.1307) / 0.3081, rtol=1e-5, atol=1e-5)
    xb, yb = next(iter(DataLoader(mnist, batch_size=4)))  # the transform is applied to whole batches
    assert xb.shape == (4, 1, 28, 28) and xb.dtype == np.float32
    np.testing.assert_allclose(xb.numpy(), (plain.arrays()[0][:4] - 0.1307) / 0.3081, rtol=1e-5, atol=1e-5)

    norm3 = T.Compose([T.ToTensor(), T.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])
    cifar = ds.CIFAR10(train=False, transform=norm3)
    img, _ = cifar[1]
    assert img.shape == (3, 32, 32)
    xb, _ = next(iter(DataLoader(cifar, batch_size=3)))
    assert xb.shape == (3, 3, 32, 32)
