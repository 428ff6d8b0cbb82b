"""The model zoo: every model trains for a few batches (``make train-all-quick``), and --resume is exact."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the models/ package lives in the repo root

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
pytest.importorskip("sklearn")
pytest.importorskip("mlxtend")

from minigrad.serialization import load  # noqa: E402
from models import mlp, run_all  # noqa: E402


def test_discover_finds_the_models() -> None:
    names = run_all.discover()
    assert {"mlp", "cnn", "autoencoder"} <= set(names)
    assert not {"harness", "plots", "run_all"} & set(names)


def test_all_models_quick(tmp_path) -> None:
    """``python -m models.run_all --quick``: each model runs, writes its files, and its loss goes down."""
    results = run_all.run_models(quick=True, out_root=tmp_path)
    failed = {r.name: r.problems for r in results if not r.ok}
    assert not failed, f"models failed the quick run: {failed}"


def test_resume_reproduces_the_uninterrupted_run(tmp_path) -> None:
    """2 epochs in one go == 1 epoch, then --resume to 2: same metrics.csv rows, same final weights."""
    full, part = tmp_path / "full", tmp_path / "part"
    common = ["--quick", "--no-pictures", "--seed", "3"]
    mlp.main([*common, "--epochs", "2", "--out", str(full)])
    mlp.main([*common, "--epochs", "1", "--out", str(part)])
    assert len((part / "metrics.csv").read_text().splitlines()) == 2  # header + epoch 1
    mlp.main([*common, "--epochs", "2", "--out", str(part), "--resume"])

    rows_full = (full / "metrics.csv").read_text().splitlines()
    rows_part = (part / "metrics.csv").read_text().splitlines()
    assert len(rows_full) == 3
    assert rows_part == rows_full

    w_full, w_part = load(full / "final.ckpt")["model"], load(part / "final.ckpt")["model"]
    assert list(w_full) == list(w_part)
    for k in w_full:
        np.testing.assert_array_equal(w_full[k].numpy(), w_part[k].numpy(), err_msg=k)
