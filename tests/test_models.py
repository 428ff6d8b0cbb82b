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


def test_check_targets_also_runs_the_extra_configurations() -> None:
    pairs = run_all._expand(["vae", "mlp"], quick=False)
    assert pairs[0] == ("vae", None) and ("vae", "conv") in pairs and ("vae", "digits") in pairs
    assert ("mlp", None) in pairs
    assert run_all._expand(["vae"], quick=True) == [("vae", None)]      # --quick: the default run only
    assert run_all._expand(["vae-digits"], quick=False) == [("vae", "digits")]
    with pytest.raises(SystemExit, match="no EXTRA_TARGET_RUNS entry 'nope'"):
        run_all._expand(["vae-nope"], quick=False)


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


def test_model_specific_defaults_reach_their_flags() -> None:
    """``Experiment.defaults`` may set a model's own flags (and settings that are no flags), not only the
    common ones; a flag on the command line still wins."""
    from models.harness import Experiment, parse_args

    class Exp(Experiment):
        name = "toy"
        defaults = dict(epochs=3, hidden=7, not_a_flag="x")

        def add_arguments(self, parser):
            parser.add_argument("--hidden", type=int, default=128)

    args = parse_args(Exp(), [])
    assert (args.epochs, args.hidden, args.not_a_flag) == (3, 7, "x")
    assert parse_args(Exp(), ["--hidden", "5"]).hidden == 5


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


# --- the pictures tell the truth -------------------------------------------------------------------
from matplotlib.colors import to_hex  # noqa: E402

from models import plots, seq2seq  # noqa: E402


@pytest.fixture
def figures(monkeypatch) -> list:
    """The Figure objects the plot helpers draw (captured as they are saved)."""
    captured: list = []
    save = plots._save

    def capture(fig, path):
        captured.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", capture)
    return captured


def _data_axes(fig) -> list:
    """The axes that plot data (not image tiles, colour bars or text panels)."""
    return [ax for ax in fig.axes if ax.lines or ax.patches]


def test_compare_runs_bars_start_at_zero_end_at_one_and_show_values(tmp_path, figures) -> None:
    curves = {"RNN": [0.80, 0.955], "LSTM": [0.90, 0.975], "GRU": [0.92, 0.97]}
    plots.compare_runs(curves, tmp_path / "c.png", ylabel="test accuracy", chance=0.1)
    (fig,) = figures
    lines_ax, bars_ax = fig.axes[:2]
    assert bars_ax.get_ylim() == (0.0, 1.0)
    assert 0.0 <= lines_ax.get_ylim()[0] and lines_ax.get_ylim()[1] <= 1.0
    texts = {t.get_text() for t in bars_ax.texts}
    assert {"95.5%", "97.5%", "97.0%"} <= texts
    chance = [ln for ln in bars_ax.lines if "chance" in ln.get_label()]  # a labelled line at chance level
    assert chance and np.allclose(chance[0].get_ydata(), 0.1)
    # the line plot zooms in on 0.8-0.975: no chance line there (it would be off the axis)
    assert not [ln for ln in lines_ax.lines if "chance" in ln.get_label()]
    assert lines_ax.get_ylabel() == "test accuracy" and bars_ax.get_ylabel().startswith("test accuracy")
    colors = {ln.get_label(): to_hex(ln.get_color()) for ln in lines_ax.lines}
    bar_colors = [to_hex(p.get_facecolor()) for p in bars_ax.patches]
    assert bar_colors == [colors[k] for k in curves]  # the same colour for a run on both panels


def test_seq2seq_accuracy_bars_stay_within_zero_one(tmp_path, figures) -> None:
    src_len = np.array([5, 5, 6, 6, 7])
    ok = np.array([True, True, True, False, False])
    rows = [("123", "321", "321" if c else "111", bool(c)) for c in ok]
    seq2seq.predictions_figure(src_len, ok, rows, tmp_path / "p.png", "reverse")
    bars_ax = figures[0].axes[0]
    assert bars_ax.get_ylim() == (0.0, 1.0)
    assert {"100.0%\nn=2", "50.0%\nn=2", "0.0%\nn=1"} <= {t.get_text() for t in bars_ax.texts}


def _rows_two_models(n: int = 3) -> list[dict]:
    rows = []
    for e in range(1, n + 1):
        a, b = 2.0 / e, 1.5 / e
        rows.append({"epoch": e, "train_loss": a + b, "train_rnn_loss": a, "train_rnn_acc": 0.5 + 0.1 * e,
                     "train_gru_loss": b, "train_gru_acc": 0.6 + 0.1 * e, "test_loss": a + b,
                     "test_rnn_loss": a, "test_rnn_acc": 0.55 + 0.1 * e, "test_gru_loss": b,
                     "test_gru_acc": 0.65 + 0.1 * e, "lr": 1e-3 / e})
    return rows


def test_plot_curves_one_quantity_of_one_model_per_curve(tmp_path, figures) -> None:
    plots.plot_curves(_rows_two_models(), tmp_path / "curves.png", labels={"rnn": "RNN", "gru": "GRU"})
    (fig,) = figures
    axes = _data_axes(fig)
    assert len(axes) == 3  # loss, accuracy, learning rate
    for ax in axes:
        assert ax.get_xlabel() == "epoch"
        assert ax.get_ylabel() and ax.get_ylabel() != "metric"
    loss_ax, acc_ax = axes[:2]
    # the summed total (train_loss = rnn + gru) is not drawn: each curve is one model's own loss
    names = sorted(ln.get_label() for ln in loss_ax.lines)
    assert names == ["GRU test", "GRU train", "RNN test", "RNN train"]
    for ln in loss_ax.lines:
        assert np.max(ln.get_ydata()) <= 2.0 + 1e-9
    assert "one model's own" in fig.get_suptitle()
    assert acc_ax.get_ylabel() == "accuracy" and acc_ax.get_ylim()[1] <= 1.0 and acc_ax.get_ylim()[0] >= 0.0
    # one colour per model, the same in every panel
    colors = {}
    for ax in (loss_ax, acc_ax):
        for ln in ax.lines:
            colors.setdefault(ln.get_label().split()[0], set()).add(to_hex(ln.get_color()))
    assert all(len(c) == 1 for c in colors.values()) and len(set().union(*colors.values())) == 2


def test_plot_curves_single_model_labels_what_is_plotted(tmp_path, figures) -> None:
    rows = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.9, "test_loss": 1.1 / e, "test_acc": 0.95,
             "lr": 1e-3} for e in (1, 2)]
    plots.plot_curves(rows, tmp_path / "curves.png", labels={"loss": "cross-entropy loss"})
    (fig,) = figures
    axes = _data_axes(fig)
    assert [ax.get_ylabel() for ax in axes] == ["cross-entropy loss", "accuracy"]  # constant lr: no panel
    for split, color in (("train", plots.BLUE), ("test", plots.ORANGE)):  # the split's colour in both panels
        used = {to_hex(ln.get_color()) for ax in axes for ln in ax.lines if ln.get_label() == split}
        assert used == {color}


def test_digit_grid_says_what_it_shows(tmp_path, figures) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=1000)
    preds = labels.copy()
    wrong = rng.choice(1000, size=17, replace=False)
    preds[wrong] = (labels[wrong] + 1) % 10
    plots.digit_grid(rng.random((1000, 8, 8)), labels, preds, tmp_path / "p.png")
    (fig,) = figures
    title = fig.get_suptitle()
    assert "98.30%" in title and "1,000 test images" in title and "17 wrong" in title
    random_block, mistakes_block = fig.subfigs
    assert "drawn at random" in random_block.get_suptitle() and "fair sample" in random_block.get_suptitle()
    assert "all 17 mistakes" in mistakes_block.get_suptitle()
    red = to_hex(plots.RED)

    def tiles(sub) -> list:
        return [ax for ax in sub.axes if ax.images]

    assert len(tiles(random_block)) == 20 and len(tiles(mistakes_block)) == 17
    assert all(to_hex(ax.title.get_color()) == red for ax in tiles(mistakes_block))
    # the random block: red exactly where the prediction is wrong, and its heading counts them
    n_red = sum(to_hex(ax.title.get_color()) == red for ax in tiles(random_block))
    assert f"{n_red} of them wrong" in random_block.get_suptitle()


def test_confusion_matrix_labels_its_axes(tmp_path, figures) -> None:
    labels = np.array([0, 0, 1, 1, 2])
    plots.confusion_matrix(labels, np.array([0, 1, 1, 1, 2]), tmp_path / "c.png", num_classes=4)
    ax = figures[0].axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert "5 test images" in ax.get_title() and "80.00%" in ax.get_title()
    assert "no test image of class 3" in ax.get_title()
