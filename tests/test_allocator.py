"""The malloc tuning done at import (minigrad/_allocator.py) takes effect on glibc and can be turned off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = platform.libc_ver()[0] == "glibc" and sys.platform.startswith("linux")


def _tuned(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("MINIGRAD_MALLOC_TUNING", None)
    if env_value is not None:
        env["MINIGRAD_MALLOC_TUNING"] = env_value
    code = "import minigrad; print(minigrad._allocator.MALLOC_TUNED)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(not glibc, reason="malloc tuning applies to glibc only")
def test_malloc_tuning_applies_on_glibc():
    assert _tuned(None) == "True"


def test_malloc_tuning_can_be_turned_off():
    assert _tuned("0") == "False"
