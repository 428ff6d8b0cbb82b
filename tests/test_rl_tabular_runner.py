"""python -m rl.tabular: runs every tabular module, prints measured vs expected and fails on a miss."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gymnasium")
pytest.importorskip("matplotlib")

from rl.tabular.__main__ import check_table, main  # noqa: E402


def test_check_table_flags_misses_and_missing_numbers():
    lines, passed = check_table({"m": {"a": 1.0, "b": 5.0}}, {"m": {"a": (1.05, 0.1), "b": (3.0, 1.0),
                                                                    "c": (0.0, 1.0)}})
    assert passed == {"m.a": True, "m.b": False, "m.c": False}
    assert "missing" in lines[-1] and lines[2].rstrip().endswith("NO")


def test_quick_run_writes_figures_and_summary(tmp_path):
    status = main(["--quick", "--out", str(tmp_path), "--only", "dp,prediction"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert status == (0 if all(summary["checks"].values()) else 1)
    assert summary["checks"] and all(k.split(".")[0] in ("dp", "prediction") for k in summary["checks"])
    assert len(summary["files"]) >= 4
