"""Data: DataLoader, collation, random_split, transforms, embedded datasets, file parsers and downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import urllib.error
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils import datasets as ds
from minigrad.utils import transforms as T
from minigrad.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


class ListDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


# --- DataLoader -------------------------------------------------------------------------------------------
def test_tensor_dataset_batches_in_order():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    dl = DataLoader(TensorDataset(mg.tensor(x), y), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    np.testing.assert_array_equal(batches[0][0].numpy(), x[:4])
    np.testing.assert_array_equal(batches[2][1].numpy(), y[8:])
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert isinstance(batches[0][0], mg.Tensor)
    dl = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(b[1]) for b in dl] == [4, 4]


def test_shuffle_is_seeded_and_a_permutation():
    x = np.arange(50)
    g1, g2 = mg.Generator().manual_seed(3), mg.Generator().manual_seed(3)
    a = np.concatenate([b[0].numpy() for b in DataLoader(TensorDataset(x), 8, shuffle=True, generator=g1)])
    b = np.concatenate([b[0].numpy() for b in DataLoader(TensorDataset(x), 8, shuffle=True, generator=g2)])
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(50)) and a.tolist() != list(range(50))
    # without a generator the default one is used: manual_seed makes it reproducible
    mg.manual_seed(7)
    c = [b[0].numpy() for b in DataLoader(TensorDataset(x), 8, shuffle=True)]
    mg.manual_seed(7)
    d = [b[0].numpy() for b in DataLoader(TensorDataset(x), 8, shuffle=True)]
    for u, v in zip(c, d):
        np.testing.assert_array_equal(u, v)
    # each epoch draws a new order
    dl = DataLoader(TensorDataset(x), 50, shuffle=True)
    assert next(iter(dl))[0].tolist() != next(iter(dl))[0].tolist()


def test_fast_path_equals_per_item_path():
    x = np.random.default_rng(0).standard_normal((13, 3)).astype(np.float32)
    y = np.arange(13)
    tds = TensorDataset(x, y)
    slow = ListDataset([(x[i], int(y[i])) for i in range(13)])
    for dset in (tds, slow):
        g = mg.Generator().manual_seed(1)
        got = [(b[0].numpy(), b[1].numpy()) for b in DataLoader(dset, 5, shuffle=True, generator=g)]
        if dset is tds:
            fast = got
    for (a, b), (c, d) in zip(fast, got):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_default_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = [{"img": np.ones((2, 2), np.float32) * i, "label": i, "w": 0.5, "name": f"s{i}",
              "pair": (np.float32(i), [True, False]), "pt": Point(i, 2.0)} for i in range(3)]
    out = default_collate(batch)
    assert out["img"].shape == (3, 2, 2) and out["img"].dtype == np.float32
    assert out["label"].dtype == np.int64 and out["label"].tolist() == [0, 1, 2]
    assert out["w"].dtype == np.float32
    assert out["name"] == ["s0", "s1", "s2"]
    assert isinstance(out["pair"], tuple) and out["pair"][0].dtype == np.float32
    assert isinstance(out["pair"][1], list) and out["pair"][1][0].dtype == np.bool_
    assert isinstance(out["pt"], Point) and out["pt"].x.tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="same shape"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


def test_collate_fn_batch_size_none_and_sampler():
    dset = ListDataset(list(range(7)))
    assert [b for b in DataLoader(dset, batch_size=None)] == list(range(7))
    out = list(DataLoader(dset, batch_size=3, collate_fn=lambda b: sum(b)))
    assert out == [3, 12, 6]
    out = list(DataLoader(dset, batch_size=2, sampler=[6, 5, 4], collate_fn=list))
    assert out == [[6, 5], [4]]
    with pytest.raises(ValueError):
        DataLoader(dset, batch_size=0)


def test_random_split_and_subset():
    dset = TensorDataset(np.arange(10))
    a, b = random_split(dset, [7, 3], generator=mg.Generator().manual_seed(0))
    assert isinstance(a, Subset)
    ia, ib = a.indices.tolist(), b.indices.tolist()
    assert len(a) == 7 and len(b) == 3 and sorted(ia + ib) == list(range(10))
    c, d = random_split(dset, [7, 3], generator=mg.Generator().manual_seed(0))
    assert c.indices.tolist() == ia
    parts = random_split(dset, [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(TensorDataset(np.arange(11)), [0.5, 0.25, 0.25])
    assert [len(p) for p in parts] == [6, 3, 2]  # floors 5, 2, 2; remainder 2 goes to the first two
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(dset, [3, 3])
    # Subset fetches batches through the TensorDataset fast path
    batch = next(iter(DataLoader(a, batch_size=7)))
    assert batch[0].tolist() == ia
    assert int(a[0][0].item()) == ia[0]
    both = ConcatDataset([a, b])
    assert len(both) == 10 and int(both[7][0].item()) == ib[0]


# --- transforms -------------------------------------------------------------------------------------------
def _images(n=4, c=2, h=9, w=11):
    return np.random.default_rng(1).random((n, c, h, w)).astype(np.float32)


def test_normalize_and_compose():
    x = _images()
    out = T.Normalize([0.5, 0.25], [2.0, 4.0])(x)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 0.25) / 4.0, rtol=1e-6)
    assert out.dtype == np.float32
    t = T.Compose([T.Normalize(0.5, 0.5), T.Normalize(0.0, 2.0)])(mg.tensor(x[0]))
    assert isinstance(t, mg.Tensor) and t.shape == (2, 9, 11)
    np.testing.assert_allclose(t.numpy(), (x[0] - 0.5) / 0.5 / 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        T.Normalize([0.1, 0.2, 0.3], [1, 1, 1])(x)


def test_random_affine_identity_and_shapes():
    x = _images()
    ident = T.RandomAffine(0.0)(x)
    np.testing.assert_array_equal(ident, x)
    ident = T.RandomAffine((0.0, 0.0), translate=(0.0, 0.0), scale=(1.0, 1.0))(mg.tensor(x[0]))
    np.testing.assert_array_equal(ident.numpy(), x[0])
    out = T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1))(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert T.RandomAffine(10)(x[0, 0]).shape == (9, 11)


def test_random_affine_known_motions():
    img = np.zeros((1, 1, 7, 7), np.float32)
    img[0, 0, 3, 5] = 1.0  # two pixels right of the centre
    rot = T.affine_sample(img, np.array([90.0]), np.zeros(1), np.zeros(1), np.ones(1))
    # rotating by +90 degrees (counter-clockwise on screen, y pointing down) moves it above the centre
    assert np.unravel_index(np.argmax(rot[0, 0]), (7, 7)) == (1, 3)
    np.testing.assert_allclose(rot.sum(), 1.0, atol=1e-6)
    shift = T.affine_sample(img, np.zeros(1), np.array([1.0]), np.array([-2.0]), np.ones(1))
    assert shift[0, 0, 1, 6] == 1.0 and shift.sum() == 1.0
    half = T.affine_sample(img, np.zeros(1), np.array([0.5]), np.zeros(1), np.ones(1), fill=0.0)
    np.testing.assert_allclose(half[0, 0, 3, 5:7], [0.5, 0.5])


def test_random_transforms_are_seeded_and_per_image():
    x = np.repeat(_images(1), 6, axis=0)
    for t in (T.RandomAffine(30, translate=(0.2, 0.2)), T.GaussianNoise(0.1), T.RandomHorizontalFlip(),
              T.RandomCrop(7, padding=2)):
        mg.manual_seed(5)
        a = t(x)
        mg.manual_seed(5)
        b = t(x)
        np.testing.assert_array_equal(a, b)
        if not isinstance(t, T.RandomHorizontalFlip):
            assert not np.allclose(a[0], a[1])  # a different draw per image
        g = mg.Generator().manual_seed(1)
        t.generator = g
        c = t(x)
        t.generator = mg.Generator().manual_seed(1)
        np.testing.assert_array_equal(c, t(x))


def test_flip_noise_crop_values():
    x = _images(8)
    out = T.RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(out, x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    noisy = T.GaussianNoise(0.0)(x)
    np.testing.assert_array_equal(noisy, x)
    crop = T.RandomCrop((9, 11))(x)
    np.testing.assert_array_equal(crop, x)
    crop = T.RandomCrop(5, padding=0)(x)
    assert crop.shape == (8, 2, 5, 5)
    to = T.ToTensor()(np.full((4, 5, 3), 255, np.uint8))
    assert to.shape == (3, 4, 5) and to.dtype == np.float32 and float(to.numpy().max()) == 1.0


# --- embedded datasets ------------------------------------------------------------------------------------
def test_load_digits():
    x, y = ds.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    xt, yt = ds.load_digits("test")
    xr, yr = ds.load_digits("train")
    assert len(xt) == 297 and len(xr) == 1500
    np.testing.assert_array_equal(ds.load_digits("test")[1], yt)


def test_load_mnist_sample():
    x, y = ds.load_mnist_sample()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [500] * 10
    xt, yt = ds.load_mnist_sample("test")
    xr, yr = ds.load_mnist_sample("train")
    assert len(xt) == 1000 and len(xr) == 4000 and np.bincount(yt).tolist() == [100] * 10
    # disjoint: no test image also appears in the training split
    train_rows = {r.tobytes() for r in xr.reshape(4000, -1)}
    assert sum(r.tobytes() in train_rows for r in xt.reshape(1000, -1)) < 5
    x2, _ = ds.get_dataset("mnist_sample", "test")
    np.testing.assert_array_equal(x2, xt)


def test_load_char_corpus():
    c = ds.load_char_corpus(max_chars=200_000)
    assert len(c) == 200_000 and c.vocab_size < 128
    assert c.decode(c.encode("def f(x):\n")) == "def f(x):\n"
    assert c.data.dtype == np.int64 and c.decode(c.data[:100]) == c.text[:100]
    tr, va = c.split(0.9)
    assert len(tr) == 180_000 and len(va) == 20_000
    assert ds.load_char_corpus(max_chars=200_000).text == c.text
    with pytest.raises(KeyError, match="vocabulary"):
        c.encode("\u00e9")


# --- file formats -----------------------------------------------------------------------------------------
def test_idx_round_trip(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    ds.write_idx(tmp_path / "im.gz", imgs)
    ds.write_idx(tmp_path / "lb", labels)
    np.testing.assert_array_equal(ds.read_idx(tmp_path / "im.gz"), imgs)
    np.testing.assert_array_equal(ds.read_idx(tmp_path / "lb"), labels)
    f = np.arange(6, dtype=np.float32).reshape(2, 3)
    ds.write_idx(tmp_path / "f", f)
    got = ds.read_idx(tmp_path / "f")
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, f)
    # the byte layout of a hand-written header
    raw = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([7, 8, 9])
    np.testing.assert_array_equal(ds.read_idx(raw), [7, 8, 9])
    with pytest.raises(ValueError, match="header says"):
        ds.read_idx(raw[:-1])
    with pytest.raises(ValueError, match="not an IDX"):
        ds.read_idx(b"\x01\x02\x03\x04")


def _cifar_bytes(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    imgs = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    rec = np.concatenate([labels[:, None], imgs.reshape(n, -1)], axis=1)
    return rec.tobytes(), imgs, labels


def test_cifar_binary_and_tar(tmp_path):
    raw, imgs, labels = _cifar_bytes(4, 0)
    x, y = ds.read_cifar_binary(raw)
    np.testing.assert_array_equal(x, imgs)
    np.testing.assert_array_equal(y, labels)
    assert y.dtype == np.int64
    with pytest.raises(ValueError, match="records"):
        ds.read_cifar_binary(raw[:-1])
    tar_path = _make_cifar_tar(tmp_path / "cifar-10-binary.tar.gz")
    x, y = ds.read_cifar10_tar(tar_path, train=True)
    assert x.shape == (10, 3, 32, 32) and y.shape == (10,)
    x, y = ds.read_cifar10_tar(tar_path, train=False)
    np.testing.assert_array_equal(x, _cifar_bytes(3, 99)[1])


def _make_cifar_tar(path):
    with tarfile.open(path, "w:gz") as tar:
        for name, (n, seed) in {**{f"data_batch_{i}.bin": (2, i) for i in range(1, 6)},
                                "test_batch.bin": (3, 99)}.items():
            raw = _cifar_bytes(n, seed)[0]
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


# --- downloads --------------------------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_from_file_url_verifies_and_caches(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello minigrad" * 100)
    dest = tmp_path / "cache" / "file.bin"
    sha = _sha(src.read_bytes())
    assert ds.download(src.as_uri(), dest, sha) == dest
    assert dest.read_bytes() == src.read_bytes()
    src.unlink()  # cached and verified: no second fetch
    assert ds.download(src.as_uri(), dest, sha) == dest


def test_download_rejects_and_refetches_corrupt_cache(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"good bytes")
    dest = tmp_path / "cache" / "f.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"good bytez")  # a corrupt cached copy
    ds.download(src.as_uri(), dest, _sha(b"good bytes"))
    assert dest.read_bytes() == b"good bytes"


def test_download_bad_checksum_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"tampered")
    dest = tmp_path / "cache" / "f.bin"
    with pytest.raises(ds.ChecksumError, match="SHA-256"):
        ds.download(src.as_uri(), dest, _sha(b"original"))
    assert not dest.exists() and os.listdir(dest.parent) == []
    # a second mirror with the right bytes is used
    good = tmp_path / "good.bin"
    good.write_bytes(b"original")
    ds.download([src.as_uri(), good.as_uri()], dest, _sha(b"original"))
    assert dest.read_bytes() == b"original"


def test_download_interrupted_is_atomic(tmp_path, monkeypatch):
    def broken_fetch(url, out, desc="", timeout=30.0):
        out.write(b"partial data")
        raise ConnectionResetError("connection dropped midway")

    monkeypatch.setattr(ds, "_fetch", broken_fetch)
    dest = tmp_path / "cache" / "f.bin"
    with pytest.raises(ds.DatasetOfflineError):
        ds.download("https://example.invalid/f.bin", dest, _sha(b"x"))
    assert not dest.exists() and os.listdir(dest.parent) == []

    def crash(url, out, desc="", timeout=30.0):
        out.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ds, "_fetch", crash)
    with pytest.raises(KeyboardInterrupt):
        ds.download("https://example.invalid/f.bin", dest, _sha(b"x"))
    assert os.listdir(dest.parent) == []


def test_offline_error_names_fallback(tmp_path, monkeypatch):
    def offline(url, out, desc="", timeout=30.0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ds, "_fetch", offline)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    with pytest.raises(ds.DatasetOfflineError) as e:
        ds.MNIST()
    msg = str(e.value)
    assert "\n" not in msg and "offline" in msg and "mnist_sample" in msg and msg.startswith("MNIST")
    with pytest.raises(ds.DatasetOfflineError, match="char_corpus"):
        ds.TinyShakespeare()
    with pytest.raises(FileNotFoundError, match="download=False"):
        ds.CIFAR10(download=False)


def test_mnist_and_cifar_end_to_end_with_local_files(tmp_path, monkeypatch):
    """MNIST/CIFAR10 classes on small generated files served from file:// URLs with their SHA-256."""
    rng = np.random.default_rng(0)
    served = tmp_path / "served"
    served.mkdir()
    files = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        ds.write_idx(served / f"{prefix}-images-idx3-ubyte.gz", imgs)
        ds.write_idx(served / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n, dtype=np.uint8))
    _make_cifar_tar(served / "cifar-10-binary.tar.gz")
    for p in served.iterdir():
        files[p.name] = ([served.as_uri() + "/"], _sha(p.read_bytes()))
    monkeypatch.setitem(ds.FILES, "mnist", {k: v for k, v in files.items() if "ubyte" in k})
    monkeypatch.setitem(ds.FILES, "cifar10", {"cifar-10-binary.tar.gz": files["cifar-10-binary.tar.gz"]})
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "cache"))

    train = ds.MNIST(train=True)
    assert len(train) == 6 and train.data.shape == (6, 1, 28, 28)
    img, label = train[0]
    assert img.shape == (1, 28, 28) and img.dtype == np.float32 and isinstance(label, int)
    xb, yb = next(iter(DataLoader(train, batch_size=4, shuffle=True)))
    assert xb.shape == (4, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert float(xb.numpy().max()) <= 1.0
    assert (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()
    x, y = ds.get_dataset("mnist", "test")
    assert x.shape == (3, 1, 28, 28) and y.shape == (3,)

    flip = ds.CIFAR10(train=False, transform=T.RandomHorizontalFlip(p=1.0))
    xb, yb = next(iter(DataLoader(flip, batch_size=3)))
    plain = ds.CIFAR10(train=False)
    np.testing.assert_array_equal(xb.numpy(), plain.arrays()[0][..., ::-1])
    assert ds.CIFAR10(train=True, download=False).data.shape == (10, 3, 32, 32)

    # a corrupted cache file is detected and fetched again
    cached = tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    cached.write_bytes(b"garbage")
    with pytest.raises(ds.ChecksumError):
        ds.MNIST(train=False, download=False)
    assert len(ds.MNIST(train=False)) == 3


def test_known_checksums_are_sha256():
    for key, files in ds.FILES.items():
        for name, (urls, sha) in files.items():
            assert len(sha) == 64 and int(sha, 16) >= 0, (key, name)
            assert all(u.startswith(("http://", "https://")) for u in urls)


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    assert ds.data_dir() == Path(tmp_path)
    monkeypatch.delenv("MINIGRAD_DATA")
    assert ds.data_dir() == Path("~/.cache/minigrad").expanduser()


def test_gzip_helper_available():
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_loader_and_transforms_on_device(xp, device):
    """Batches go to ``device``; transforms on device arrays match the NumPy results (skips without CuPy)."""
    x = _images(6)
    xb, yb = next(iter(DataLoader(TensorDataset(x, np.arange(6)), batch_size=4, device=device)))
    assert xb.device == device and yb.device == device
    dev = xp.asarray(x)
    for t in (T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1)), T.RandomHorizontalFlip(),
              T.GaussianNoise(0.1), T.RandomCrop(7, padding=1), T.Normalize([0.5, 0.5], [0.2, 0.3])):
        mg.manual_seed(3)
        a = t(x)
        mg.manual_seed(3)
        b = t(dev)
        assert isinstance(b, xp.ndarray)
        np.testing.assert_allclose(mg.as_tensor(b).numpy(), a, rtol=1e-5, atol=1e-6)
