"""Datasets and batching (PyTorch's ``torch.utils.data``): ``Dataset``, ``TensorDataset``, ``Subset``,
``random_split``, ``DataLoader`` and ``default_collate``.

``DataLoader`` shuffles with a ``minigrad.Generator`` (or minigrad's default generator,
so ``minigrad.manual_seed`` makes the order reproducible). When the dataset can
fetch a whole batch at once (``TensorDataset``, a ``Subset`` of one, the image
datasets), a batch is one fancy-index per array instead of one ``__getitem__`` per
sample plus stacking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .._construct import from_data
from ..backend import get_array_module, to_device
from ..random import Generator, _permutation
from ..tensor import Tensor


class Dataset:
    """A map-style dataset: ``__getitem__(i)`` returns sample ``i``; ``__len__`` the number of samples.

    Subclasses may also define ``_get_batch(indices)`` (an int64 NumPy array of indices) returning the
    collated batch directly; ``DataLoader`` then uses it instead of per-sample fetching.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _raw(t: Any) -> Any:
    return t.array if isinstance(t, Tensor) else t


def _take(arr: Any, indices: np.ndarray) -> Any:
    """``arr[indices]`` with the index array moved to ``arr``'s device."""
    xp = get_array_module(arr)
    if xp is not np:
        indices = xp.asarray(indices)
    return arr[indices]


class TensorDataset(Dataset):
    """Samples are slices along the first dimension of each tensor: ``ds[i] = (t0[i], t1[i], ...)``.

    Args:
        *tensors: Tensors or arrays with the same first dimension N.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        arrays = [_raw(t) if isinstance(t, Tensor) else (t if hasattr(t, "shape") else np.asarray(t))
                  for t in tensors]
        n = arrays[0].shape[0] if arrays[0].ndim else None
        for i, a in enumerate(arrays):
            if a.ndim == 0 or a.shape[0] != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has shape "
                                 f"{tuple(arrays[0].shape)}, tensor {i} has shape {tuple(a.shape)}")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor._make(a) for t, a in zip(tensors, arrays))

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(t.array[index]) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(_take(t.array, indices)) for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (list, tuple)):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def __getattr__(self, name: str) -> Any:
        if name == "_get_batch" and hasattr(self.__dict__.get("dataset"), "_get_batch"):
            return lambda idx: self.dataset._get_batch(self.indices[idx])
        raise AttributeError(name)


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
        k = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset`` s of the given lengths.

    ``lengths`` may be fractions summing to 1: each split gets ``floor(frac * N)`` samples and the
    remainder is handed out one by one from the first split on (PyTorch's rule).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1 and any(isinstance(x, float) for x in lengths):
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must be in [0, 1], got {lengths}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    lengths = [int(x) for x in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length of "
                         f"the input dataset {n}")
    perm = _permutation(n, generator)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length]))
        start += length
    return out


# --- collation ----------------------------------------------------------------------------------------
def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch.

    Tensors/arrays of shape S -> a Tensor of shape (B, *S); Python floats -> float32 (the default
    dtype), ints -> int64, bools -> bool; tuples/lists are collated field by field (the result
    keeps the container type), dicts key by key; strings stay a list.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor) or hasattr(elem, "__array_interface__") or \
            hasattr(elem, "__cuda_array_interface__"):
        arrays = [_raw(b) for b in batch]
        xp = get_array_module(*arrays)
        if isinstance(elem, np.generic):
            return from_data(np.asarray(arrays))
        shape = arrays[0].shape
        for i, a in enumerate(arrays):
            if a.shape != shape:
                raise RuntimeError(f"default_collate: stack expects each sample to have the same shape, but "
                                   f"got {tuple(shape)} at entry 0 and {tuple(a.shape)} at entry {i}")
        return Tensor._make(xp.stack(arrays))
    if isinstance(elem, (bool, int, float)):
        return from_data(list(batch))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(f)) for f in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    if elem is None:
        return None
    raise TypeError(f"default_collate: batch must contain Tensors, arrays, numbers, dicts, lists or tuples; "
                    f"found {type(elem).__name__}")


def _to(batch: Any, device: Any) -> Any:
    if isinstance(batch, Tensor):
        return batch if batch.device == device else Tensor._make(to_device(batch.array, device))
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


class DataLoader:
    """Iterate over ``dataset`` in (optionally shuffled) mini-batches.

    Args:
        dataset: a ``Dataset`` (anything with ``__getitem__`` and ``__len__``).
        batch_size: samples per batch; ``None`` yields single samples without collation.
        shuffle: draw a new permutation every epoch from ``generator`` (default: minigrad's default
            generator, seeded by ``minigrad.manual_seed``).
        drop_last: drop the last incomplete batch.
        collate_fn: turns a list of samples into a batch (default ``default_collate``).
        generator: a ``minigrad.Generator`` for the shuffling order.
        device: move each batch's Tensors to this device (``"cuda"``).
        sampler: an iterable of indices (replaces ``shuffle``); ``num_workers``/``pin_memory`` are accepted
            and ignored (loading is in-process).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable[[list], Any] | None = None,
                 generator: Generator | None = None, device: Any = None, sampler: Any = None,
                 num_workers: int = 0, pin_memory: bool = False) -> None:
        if batch_size is not None and int(batch_size) <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self.device = device
        self.sampler = sampler
        self.num_workers = num_workers

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _indices(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if self.shuffle:
            return _permutation(n, self.generator).astype(np.int64, copy=False)
        return np.arange(n, dtype=np.int64)

    def __iter__(self) -> Iterator[Any]:
        order = self._indices()
        if self.batch_size is None:
            for i in order:
                yield self._finish(self.dataset[int(i)])
            return
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        fast = self.collate_fn is None and hasattr(self.dataset, "_get_batch")
        collate = self.collate_fn or default_collate
        for start in range(0, stop, bs):
            idx = order[start:start + bs]
            if fast:
                batch = self.dataset._get_batch(idx)
            else:
                batch = collate([self.dataset[int(i)] for i in idx])
            yield self._finish(batch)

    def _finish(self, batch: Any) -> Any:
        return batch if self.device is None else _to(batch, self.device)


__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "default_collate",
           "DataLoader"]
