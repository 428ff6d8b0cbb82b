"""The README's worked example, followed literally on a copy of the code, so the steps cannot drift.

"Adding an op": the README's code block goes into a copy of ``minigrad/ops/unary.py``, the names into the
copy's ``minigrad/ops/__init__.py`` as step 2 says, the README's ``register(...)`` line into the copy's
``tests/opdb.py``; then the generated tests of the new op and ``test_registry_is_complete`` must pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start:end]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_adding_an_op_as_the_readme_says(tmp_path: Path) -> None:
    section = _section("Adding an op")
    blocks = _python_blocks(section)
    op_code, check_code, register_line = blocks[0], blocks[1], blocks[-1].strip()
    name = re.search(r"^def (\w+)\(x\):", op_code, flags=re.M).group(1)
    assert f"mg.{name}" in register_line
    for words in ("minigrad/ops/unary.py", "from .unary import (...)", "DIFFERENTIABLE", "_METHODS",
                  "tests/opdb.py"):
        assert words in section, f"the README no longer says {words!r}; update this test with it"

    # the code and the check run as they stand in the README
    namespace: dict = {}
    exec(compile(op_code + "\n" + check_code, "README.md", "exec"), namespace)

    # the three edits, on a copy of the package and its tests
    for folder in ("minigrad", "tests"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    body = "\n".join(ln for ln in op_code.splitlines() if not ln.startswith(("import ", "from ")))
    unary = tmp_path / "minigrad" / "ops" / "unary.py"
    unary.write_text(unary.read_text() + "\n\n" + body + "\n")
    init = tmp_path / "minigrad" / "ops" / "__init__.py"
    text = init.read_text()
    edits = (("from .unary import (\n", f"    {name},\n"), ("_METHODS = [\n", f'    "{name}",\n'),
             ("DIFFERENTIABLE = [\n", f'    "{name}",\n'))
    for anchor, entry in edits:
        assert anchor in text, f"minigrad/ops/__init__.py has no {anchor.strip()!r} any more"
        text = text.replace(anchor, anchor + entry, 1)
    init.write_text(text)
    opdb = tmp_path / "tests" / "opdb.py"
    marker = "# Entries for nn layers"
    text = opdb.read_text()
    opdb.write_text(text.replace(marker, register_line + "\n\n" + marker, 1))

    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_ops.py", "-k",
         f"{name} or registry_is_complete"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", proc.stdout).group(1))
    assert passed >= 11, proc.stdout[-2000:]  # 2 samples x (forward, float32, gradcheck, gradgrad, in-place)
    check = subprocess.run(
        [sys.executable, "-c", f"import minigrad as mg; x = mg.tensor([0.5]); print(x.{name}().item())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert check.returncode == 0 and abs(float(check.stdout) - 0.12011450695827745) < 1e-6, check


@pytest.mark.parametrize("target", ["test", "demo", "train-cnn", "lint", "bench", "check-targets",
                                    "train-all-quick", "test-fast", "oracle", "venv", "clean"])
def test_make_help_lists_every_target(target: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    name = "train-<name>" if target == "train-cnn" else target
    assert f"make {name} " in out
