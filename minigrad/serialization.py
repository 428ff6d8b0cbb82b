"""Checkpoints: ``minigrad.save(obj, path)`` / ``minigrad.load(path)`` without pickle.

``obj`` is a nested structure of dicts, lists, tuples, Tensors, arrays, numbers,
strings, booleans and ``None`` (a model's ``state_dict()``, an optimizer's, a
scheduler's, the epoch, ``minigrad.get_rng_state()`` ...). The file is one ``.npz``
archive: every array is its own entry, and the structure is a JSON manifest stored
as a uint8 entry. Nothing is unpickled on load, so a checkpoint cannot run code.

Safety: the file is written to a temporary file in the same directory
(``.NAME.PID.XXXXXXXX.tmp``), flushed and fsync'ed, then renamed over ``path``
(``os.replace`` is atomic), so a crash mid-write leaves the previous checkpoint
intact. A temporary file left by a process that died mid-save is removed by the
next successful ``save`` to, or ``load`` from, the same path. The file gets the
mode ``open(path, "wb")`` would give it (the existing file's, else ``0o666 & ~umask``).
The header records a SHA-256 of the manifest and of every array (name, dtype, shape,
bytes); ``load`` checks it and raises ``CheckpointError`` for a truncated, corrupt or
foreign file. ``save``/``load`` also accept binary file objects (``io.BytesIO``,
``open(..., "wb")``), written and read as they are (no atomic rename there).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
import threading
from typing import IO, Any, Union

import numpy as np

from .backend import cuda_is_available, device_of, to_device
from .tensor import Tensor

_FORMAT = "minigrad-checkpoint"
_VERSION = 1
_HEADER = "__header__"
_TREE = "__tree__"
_MAX_SAFE_INT = 2 ** 53

FileLike = Union[str, "os.PathLike[str]", IO[bytes]]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupt, or not a minigrad checkpoint."""


# --- encoding -------------------------------------------------------------------------------------------
def _is_device_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or (hasattr(x, "__cuda_array_interface__") and hasattr(x, "dtype"))


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _add(self, arr: Any, where: str) -> str:
        host = np.asarray(to_device(arr, "cpu"), order="C")
        if host.dtype.hasobject:
            raise TypeError(f"minigrad.save: object arrays cannot be saved (at {where})")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = host
        return name

    def encode(self, obj: Any, where: str = "obj") -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if -_MAX_SAFE_INT <= obj <= _MAX_SAFE_INT else {"__int__": str(obj)}
        if isinstance(obj, float):
            return obj if np.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, Tensor):
            out: dict[str, Any] = {"__tensor__": self._add(obj.array, where)}
            if obj.requires_grad:
                out["requires_grad"] = True
            if obj.device.type != "cpu":
                out["device"] = str(obj.device)
            return out
        if _is_device_array(obj):
            out = {"__ndarray__": self._add(obj, where)}
            if device_of(obj).type != "cpu":
                out["device"] = str(device_of(obj))
            return out
        if isinstance(obj, (np.generic,)):
            return {"__scalar__": self._add(np.asarray(obj), where)}
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in obj):
                return {k: self.encode(v, f"{where}[{k!r}]") for k, v in obj.items()}
            return {"__dict__": [[self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                                 for k, v in obj.items()]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        raise TypeError(f"minigrad.save: cannot save an object of type {type(obj).__name__} (at {where}); "
                        "checkpoints hold dicts, lists, tuples, Tensors, arrays, numbers, strings and None")


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], map_location: Any) -> None:
        self.arrays = arrays
        self.map_location = map_location

    def _array(self, name: str, dev: str | None) -> Any:
        arr = self.arrays[name]
        target = self.map_location if self.map_location is not None else dev
        if target is not None and str(target).startswith("cuda"):
            if not cuda_is_available() and self.map_location is None:
                return arr  # saved on a GPU, loaded on a machine without one: stay on the CPU
            return to_device(arr, target)
        return arr

    def decode(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            t = Tensor._make(self._array(node["__tensor__"], node.get("device")))
            if node.get("requires_grad"):
                t.requires_grad = True
            return t
        if "__ndarray__" in node:
            return self._array(node["__ndarray__"], node.get("device"))
        if "__scalar__" in node:
            return self.arrays[node["__scalar__"]][()]
        if "__int__" in node:
            return int(node["__int__"])
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__dict__" in node:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in node["__dict__"]}
        return {k: self.decode(v) for k, v in node.items()}


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, (list, tuple)) else k


def _digest(tree_bytes: bytes, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    h.update(tree_bytes)
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(np.asarray(a, order="C").reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _bytes_entry(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-8"), dtype=np.uint8)


def _write_npz(f: Any, entries: dict[str, np.ndarray]) -> None:
    np.savez(f, **entries)


# --- files ------------------------------------------------------------------------------------------------
def _is_file_object(f: Any, method: str) -> bool:
    return not isinstance(f, (str, bytes, os.PathLike)) and callable(getattr(f, method, None))


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, ValueError, OSError):
        return False


_umask_lock = threading.Lock()
_in_progress: set[str] = set()  # temporary files being written by this process right now


def _umask() -> int:
    try:  # Linux: read it without changing it
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _new_file_mode(path: str) -> int:
    """The permission bits ``open(path, "wb")`` would leave: the existing file's, else 0o666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers: a save in this process that did not finish
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temp_files(path: str | os.PathLike) -> list[str]:
    """Delete the temporary files that a ``save`` to ``path`` left when its process died mid-write.

    Only files named like ours (``.NAME.PID.XXXXXXXX.tmp`` beside ``path``) whose process is no
    longer running are removed, so a concurrent save by another live process is left alone.
    Returns the removed paths.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(r"\." + re.escape(os.path.basename(path)) + r"\.(\d+)\.[a-z0-9_]{8}\.tmp\Z")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        full = os.path.join(directory, name)
        if m is None or full in _in_progress or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(full)
            removed.append(full)
    return removed


# --- public API ------------------------------------------------------------------------------------------
def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of Tensors, arrays, numbers, strings) to ``f``.

    ``f`` is a path (written atomically; the file is a ``.npz`` and the name is used as given) or a
    binary file object (written at its current position). Tensors are saved with their dtype,
    shape and ``requires_grad``; GPU arrays are copied to the host.
    """
    enc = _Encoder()
    tree = enc.encode(obj)
    tree_bytes = json.dumps(tree, separators=(",", ":")).encode("utf-8")
    header = {"format": _FORMAT, "version": _VERSION, "sha256": _digest(tree_bytes, enc.arrays),
              "arrays": len(enc.arrays)}
    entries = {_HEADER: _bytes_entry(json.dumps(header)), _TREE: np.frombuffer(tree_bytes, dtype=np.uint8)}
    entries.update(enc.arrays)

    if _is_file_object(f, "write"):
        _write_npz(f, entries)
        with contextlib.suppress(AttributeError, io.UnsupportedOperation):
            f.flush()
        return
    path = os.fspath(f)  # type: ignore[arg-type]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=".tmp", dir=directory)
    _in_progress.add(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_npz(fh, entries)
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600; give the mode open(path, "wb") would
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _in_progress.discard(tmp)
    remove_stale_temp_files(path)
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def load(f: FileLike, map_location: Any = None) -> Any:
    """Read a checkpoint written by ``save``; verifies its SHA-256 before returning anything.

    Args:
        f: the checkpoint file: a path or a binary file object (read from its current position).
        map_location: ``"cpu"`` or ``"cuda"`` to place every tensor there; by default tensors go back
            to the device they were saved from (the CPU when no GPU is available).

    Raises:
        FileNotFoundError: no file at ``f``.
        CheckpointError: the file is truncated, corrupt, or not a minigrad checkpoint.
    """
    if _is_file_object(f, "read"):
        path = str(getattr(f, "name", "<file object>"))
        src: Any = f if _seekable(f) else io.BytesIO(f.read())
    else:
        path = src = os.fspath(f)  # type: ignore[arg-type]
        remove_stale_temp_files(path)  # a save that died mid-write (resuming after a crash)
        if not os.path.exists(path):
            raise FileNotFoundError(f"minigrad.load: no checkpoint at {path}")
    try:
        with np.load(src, allow_pickle=False) as z:
            names = set(z.files)
            if _HEADER not in names or _TREE not in names:
                raise CheckpointError(f"minigrad.load: {path} is not a minigrad checkpoint (no manifest)")
            header = json.loads(z[_HEADER].tobytes().decode("utf-8"))
            if header.get("format") != _FORMAT:
                raise CheckpointError(f"minigrad.load: {path} is not a minigrad checkpoint")
            if int(header.get("version", 0)) > _VERSION:
                raise CheckpointError(f"minigrad.load: {path} has format version {header.get('version')}, "
                                      f"newer than this minigrad supports ({_VERSION})")
            tree_bytes = z[_TREE].tobytes()
            arrays = {n: z[n] for n in names if n not in (_HEADER, _TREE)}
    except CheckpointError:
        raise
    except Exception as e:  # zipfile.BadZipFile (bad CRC, truncated), EOFError, ValueError, zlib.error ...
        raise CheckpointError(f"minigrad.load: {path} is truncated or corrupt "
                              f"({type(e).__name__}: {e})") from e
    if len(arrays) != int(header.get("arrays", -1)):
        raise CheckpointError(f"minigrad.load: {path} is corrupt: expected {header.get('arrays')} arrays, "
                              f"found {len(arrays)}")
    digest = _digest(tree_bytes, arrays)
    if digest != header.get("sha256"):
        raise CheckpointError(f"minigrad.load: {path} is corrupt: SHA-256 of its contents is "
                              f"{digest[:16]}..., the manifest records {str(header.get('sha256'))[:16]}...")
    try:
        tree = json.loads(tree_bytes.decode("utf-8"))
        return _Decoder(arrays, map_location).decode(tree)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"minigrad.load: {path} has a malformed manifest "
                              f"({type(e).__name__}: {e})") from e


__all__ = ["save", "load", "CheckpointError", "remove_stale_temp_files"]
