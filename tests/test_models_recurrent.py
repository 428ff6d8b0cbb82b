"""The recurrent models of the zoo: each runs in --quick mode, writes its files and lowers its loss;
char_lstm's sampling and seq2seq's greedy decoding keep their contracts; the vanishing-gradient
analysis shows what it claims. (About half a minute in all.)"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import minigrad  # noqa: E402
from minigrad.utils.datasets import CharCorpus  # noqa: E402

# the pictures each model writes besides the harness's files
EXTRA_FILES = {
    "rnn_classifier": ["compare.png", "rows_read.png", "predictions.png"],
    "seq2seq": ["predictions.png"],
    "char_lstm": ["samples.txt", "samples_final.txt"],
    "vanishing_gradients": ["grad_norms.png", "clipping.png", "grad_norms.csv"],
}


@pytest.mark.parametrize("name", sorted(EXTRA_FILES))
def test_quick_run_writes_files_and_learns(name, tmp_path, monkeypatch):
    if name in ("rnn_classifier",):
        pytest.importorskip("sklearn")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from models.run_all import Result, check_files, check_loss_decreased

    module = importlib.import_module(f"models.{name}")
    out = tmp_path / name
    final = module.main(["--quick", "--out", str(out)])
    res = Result(name)
    check_files(out, res)
    check_loss_decreased(out, res)
    assert res.ok, res.problems
    for f in EXTRA_FILES[name]:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f"{name} did not write {f}"
    for key, _, _ in module.TARGET if isinstance(module.TARGET, list) else [module.TARGET]:
        assert key in final, f"{name}: TARGET names {key}, which the run does not report"


def test_rnn_classifier_single_cell(tmp_path):
    pytest.importorskip("sklearn")
    from models import rnn_classifier

    final = rnn_classifier.main(["--quick", "--cell", "gru", "--epochs", "1", "--no-pictures",
                                 "--out", str(tmp_path)])
    assert {"test_acc", "test_loss", "train_acc"} <= set(final)
    model = rnn_classifier.RowClassifier("lstm", row_size=8, hidden=8)
    x = minigrad.randn(5, 1, 8, 8)
    assert model(x).shape == (5, 10)
    assert model(x, every_step=True).shape == (5, 8, 10)
    # the last step of every_step is the ordinary output
    np.testing.assert_allclose(model(x, every_step=True).numpy()[:, -1], model(x).numpy(), rtol=1e-5)


# --- char_lstm: sampling -----------------------------------------------------------------------------
def test_char_lstm_sampling_gives_valid_characters():
    from models.char_lstm import CharLSTM, RandomWindows, sample, unigram_bpc

    corpus = CharCorpus("the quick brown fox jumps over the lazy dog.\n" * 20)
    model = CharLSTM(corpus.vocab_size, embed=8, hidden=16)
    rng = np.random.default_rng(0)
    for temperature in (0.0, 0.5, 1.0, 2.0):
        text = sample(model, corpus, "the ", 60, temperature, rng)
        assert len(text) == 60
        assert set(text) <= set(corpus.chars)
    # temperature 0 is greedy: deterministic
    assert sample(model, corpus, "fox", 30, 0.0) == sample(model, corpus, "fox", 30, 0.0)
    # the same generator state gives the same sample
    assert (sample(model, corpus, "a", 30, 1.0, np.random.default_rng(5))
            == sample(model, corpus, "a", 30, 1.0, np.random.default_rng(5)))
    with pytest.raises(ValueError):
        sample(model, corpus, "a", 5, -1.0)
    # very low temperature concentrates on the argmax (the greedy continuation)
    assert sample(model, corpus, "fox", 30, 1e-4, rng) == sample(model, corpus, "fox", 30, 0.0)
    assert model.training  # sampling restores the mode

    # the training windows: targets are the inputs shifted by one character
    x, y = RandomWindows(corpus.data, 10, 4)._get_batch(np.arange(4))
    assert x.shape == y.shape == (4, 10)
    assert np.array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    # the unigram baseline of a text on itself is its entropy
    data = np.array([0, 0, 1, 1] * 100)
    assert abs(unigram_bpc(data, data, 2) - 1.0) < 1e-2


# --- seq2seq: greedy decoding --------------------------------------------------------------------------
def test_seq2seq_greedy_decoding_lengths():
    from models.seq2seq import EOS, PAD, Seq2Seq, decode, exact_match, make_pairs, to_arrays

    train, test = make_pairs("reverse", 50, 20, seed=3)
    assert not {s for s, _ in train} & {s for s, _ in test}          # held-out strings
    assert all(t == s[::-1] and 5 <= len(s) <= 10 for s, t in train)
    src, tgt_in, tgt_out = to_arrays(test)
    assert src.shape[1] == 10 and tgt_out.shape[1] == 11
    # every target ends with </s> right after len(source) tokens
    lengths = (src != PAD).sum(1)
    assert np.all(tgt_out[np.arange(len(test)), lengths] == EOS)

    model = Seq2Seq(hidden=16)
    for max_len in (1, 4, tgt_out.shape[1]):
        pred = model.greedy_decode(minigrad.tensor(src), max_len).numpy()
        assert pred.shape == (len(test), max_len)
        assert pred.dtype.kind == "i" and pred.min() >= 0 and pred.max() < model.out.out_features

    # decode() stops at </s>; exact_match compares up to and including it
    seq = np.array([3, 4, 5, EOS, 7, 7])
    assert decode(seq) == "012"
    target = np.array([[3, 4, 5, EOS, PAD, PAD]])
    assert exact_match(seq[None], target).all()
    assert not exact_match(np.array([[3, 4, 6, EOS, 0, 0]]), target).any()
    assert not exact_match(np.array([[3, 4, 5, 6, EOS, 0]]), target).any()   # too long


def test_seq2seq_teacher_forcing_shapes():
    from models.seq2seq import TOKENS, Seq2Seq, make_pairs, to_arrays

    _, test = make_pairs("add", 10, 8, seed=0)
    assert all(int(s.split("+")[0]) + int(s.split("+")[1]) == int(t) for s, t in test)
    src, tgt_in, _ = (minigrad.tensor(a) for a in to_arrays(test))
    logits = Seq2Seq(hidden=8)(src, tgt_in)
    assert logits.shape == (len(test), tgt_in.shape[1], len(TOKENS))


# --- vanishing_gradients: the analysis --------------------------------------------------------------------
def test_gradient_norms_vanish_and_explode():
    from models.vanishing_gradients import analysis

    curves = analysis(hidden=16, steps=30, batch=4)
    ratio = {k: c[0] / c[-1] for k, c in curves.items()}   # gradient at step 1 relative to step T
    assert ratio["RNN sigma=0.5"] < 1e-6                     # vanishes like 0.5^29
    assert ratio["RNN sigma=1.5"] > 1.0                      # explodes
    rnn = [ratio[f"RNN sigma={s:g}"] for s in (0.5, 0.9, 1.0, 1.1, 1.5)]
    assert rnn == sorted(rnn)                                # monotone in the spectral norm
    lstm_open = next(v for k, v in ratio.items() if k.startswith("LSTM forget bias +3"))
    lstm_default = next(v for k, v in ratio.items() if k.startswith("LSTM forget bias +0"))
    assert lstm_open > 100 * lstm_default                    # open forget gates carry the gradient
