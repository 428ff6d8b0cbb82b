"""The model zoo: every model trains for a few batches (``make train-all-quick``), and --resume is exact."""

from __future__ import annotations

import importlib
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


@pytest.mark.parametrize("name", ["mlp", "cnn", "autoencoder", "char_lstm", "seq2seq", "rnn_classifier",
                                  "vanishing_gradients"])
def test_help_shows_the_real_defaults(name, capsys) -> None:
    module = importlib.import_module(f"models.{name}")
    with pytest.raises(SystemExit):
        module.main(["--help"])
    text = capsys.readouterr().out
    options = text[text.index("options:"):]
    for flag in ("--epochs", "--batch-size", "--seed", "--out"):
        entry = options[options.index("\n  " + flag + " "):].split("\n  --", 2)[1]
        assert "(default: " in entry, f"{name} {flag}: no default shown in {entry!r}"
    assert f"(default: runs/{name})" in text and "(default: None)" not in text


def test_ctrl_c_prints_the_resume_command(tmp_path, capsys, monkeypatch) -> None:
    from models import harness, mlp

    calls = {"n": 0}
    real = harness.train_one_epoch

    def interrupt_in_second_epoch(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(harness, "train_one_epoch", interrupt_in_second_epoch)
    argv = ["--quick", "--epochs", "3", "--out", str(tmp_path / "run"), "--no-pictures"]
    with pytest.raises(SystemExit) as e:
        mlp.main(argv)
    assert e.value.code == 130
    out = capsys.readouterr().out.strip().splitlines()
    run = tmp_path / "run"
    assert out[-1] == (f"mlp: interrupted; {run / 'last.ckpt'} holds epoch 1/3. Continue with: "
                       f"python -m models.mlp --quick --epochs 3 --out {run} --no-pictures --resume")
