"""Smoke test of the benchmark harness (benchmarks/run.py): --quick, minigrad only, a few cheap cases.

It checks that the driver spawns its worker, survives a case whose module is missing (reported as
n/a), and writes the markdown table and the JSON report. Timings are not checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("benchmarks.cases", reason="benchmarks/ not present")


def test_bench_quick_minigrad_only(tmp_path: Path) -> None:
    cases = "matmul_1024,autograd_overhead,conv2d_c1_fwd"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--frameworks", "minigrad", "--only", cases,
         "--repeats", "2", "--warmup", "0", "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "cpu-quick-latest.md").read_text(encoding="utf-8")
    report = json.loads((tmp_path / "cpu-quick-latest.json").read_text(encoding="utf-8"))
    assert "| case | minigrad ms | torch ms |" in md
    rows = {r["id"]: r for r in report["cases"]}
    assert set(rows) == set(cases.split(","))
    for cid in ("matmul_1024", "autograd_overhead"):  # core minigrad only: these must run
        mg = rows[cid]["results"]["minigrad"]
        assert mg["status"] == "ok", mg
        assert mg["median_ms"] > 0 and mg["repeats"] == 2
        assert mg["dtypes"] and set(mg["dtypes"]) == {"float32"}
        assert mg["other_framework_loaded"] is False  # the minigrad worker never imports torch
        assert rows[cid]["results"]["torch"]["status"] == "n/a"
        assert rows[cid]["ratio"] is None
    # conv2d may not exist yet: either it ran, or it is reported as n/a with a reason
    conv = rows["conv2d_c1_fwd"]["results"]["minigrad"]
    assert conv["status"] == "ok" or conv["reason"]
    assert report["machine"]["cpu_count"] >= 1
    assert "numpy_blas" in report["workers"]["minigrad"]
    line = next(ln for ln in md.splitlines() if ln.startswith("| matmul float32 1024"))
    assert "| n/a |" in line  # no torch: ratio column is n/a


def test_select_and_targets() -> None:
    from benchmarks.cases import CASES, Target
    from benchmarks.run import select_cases

    ids = [c.id for c in select_cases(CASES, "conv2d_c32*,train_mlp")]
    assert ids == ["conv2d_c32_fwd", "conv2d_c32_fwdbwd", "train_mlp"]
    assert [c.id for c in select_cases(CASES, "conv2d_c1_fwd")] == ["conv2d_c1_fwd"]  # exact id
    assert {c.id for c in select_cases(CASES, "gru")} == {"gru_fwd", "gru_fwdbwd"}  # substring
    assert Target("ratio_le", 1.5).evaluate(1.5) is True
    assert Target("ratio_lt", 1.0).evaluate(1.0) is False
    assert Target("speedup_ge", 3.0).evaluate(2.9) is False
    assert Target("ratio_le", 1.5).evaluate(None) is None


def test_bench_loaded_starts_and_stops_its_load(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--frameworks", "minigrad", "--only",
         "matmul_1024", "--repeats", "2", "--warmup", "0", "--loaded", "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "cpu-quick-loaded-latest.md").read_text(encoding="utf-8")
    assert "(loaded machine)" in md and "busy-looping process" in md
    report = json.loads((tmp_path / "cpu-quick-loaded-latest.json").read_text(encoding="utf-8"))
    assert report["settings"]["background_load_processes"] >= 1
    if shutil.which("pgrep"):
        leftover = subprocess.run(["pgrep", "-f", "while True: pass"], capture_output=True, text=True)
        assert leftover.stdout.strip() == "", "the busy-looping processes outlived the benchmark"
