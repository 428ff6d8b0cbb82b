"""minigrad.save / load with file objects, cleanup of temporary files left by a crashed save, and the
permission bits of saved files (those of open(path, "wb"), not mkstemp's 0600)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import CheckpointError


def _obj():
    return {"w": mg.arange(6, dtype=np.float32).reshape(2, 3), "epoch": 3, "t": (1.5, "x")}


def _check(back):
    np.testing.assert_array_equal(back["w"].numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert back["w"].dtype == np.float32 and back["epoch"] == 3 and back["t"] == (1.5, "x")


def test_bytesio_round_trip_and_verification():
    buf = io.BytesIO()
    mg.save(_obj(), buf)
    buf.seek(0)
    _check(mg.load(buf))
    raw = bytearray(buf.getvalue())
    raw[len(raw) // 3] ^= 0xFF
    with pytest.raises(CheckpointError):
        mg.load(io.BytesIO(bytes(raw)))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        mg.load(io.BytesIO(buf.getvalue()[: len(raw) // 2]))


def test_open_file_objects(tmp_path):
    p = tmp_path / "ck.bin"
    with open(p, "wb") as f:
        mg.save(_obj(), f)
    with open(p, "rb") as f:
        _check(mg.load(f))
    _check(mg.load(p))  # the same bytes as a path


def test_non_seekable_reader():
    buf = io.BytesIO()
    mg.save(_obj(), buf)

    class Stream:
        def __init__(self, data):
            self._b = io.BytesIO(data)

        def read(self, n=-1):
            return self._b.read(n)

        def seekable(self):
            return False

    _check(mg.load(Stream(buf.getvalue())))


def _crash_in_subprocess(path):
    """A separate process that dies (os._exit, no cleanup) half-way through writing a checkpoint."""
    code = textwrap.dedent(f"""
        import os, minigrad as mg
        from minigrad import serialization
        def crash(f, entries):
            f.write(b"PK\\x03\\x04 half of a zip")
            f.flush()
            os._exit(3)
        serialization._write_npz = crash
        mg.save({{"w": mg.ones(3)}}, {str(path)!r})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert r.returncode == 3, r.stderr.decode()


def _temps(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".tmp"))


def test_crashed_save_temp_removed_by_next_save(tmp_path):
    path = tmp_path / "ck.npz"
    mg.save({"epoch": 1}, path)
    _crash_in_subprocess(path)
    assert len(_temps(tmp_path)) == 1  # the dead process's partial file
    assert mg.load(path) == {"epoch": 1}  # load cleans it up too ...
    assert _temps(tmp_path) == []
    _crash_in_subprocess(path)
    mg.save({"epoch": 2}, path)  # ... and so does the next successful save
    assert _temps(tmp_path) == []
    assert mg.load(path) == {"epoch": 2}


def test_temp_of_live_process_and_other_files_are_kept(tmp_path):
    path = tmp_path / "ck.npz"
    live = tmp_path / f".ck.npz.{os.getppid()}.abcd1234.tmp"  # the parent process is alive
    other = tmp_path / ".other.npz.1.abcd1234.tmp"
    live.write_bytes(b"x")
    other.write_bytes(b"x")
    mg.save({"a": 1}, path)
    assert _temps(tmp_path) == sorted([live.name, other.name])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_file_mode_follows_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        mg.save({"a": 1}, tmp_path / "ck.npz")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "ck.npz").st_mode & 0o777 == mode
    assert serialization._umask() == old


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_overwrite_keeps_existing_mode(tmp_path):
    path = tmp_path / "ck.npz"
    mg.save({"a": 1}, path)
    os.chmod(path, 0o640)
    mg.save({"a": 2}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert mg.load(path) == {"a": 2}
