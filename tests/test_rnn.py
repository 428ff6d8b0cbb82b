"""Recurrent kernels and layers: fused vs the unfused reference (forward, gradients, double backward),
module shapes for every option, errors, and agreement with PyTorch when it is installed."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import rnn
from minigrad.nn import rnn_reference as ref
from minigrad.nn.rnn_layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

_rng = np.random.default_rng(7)


def _t(*shape, scale=1.0, dtype=np.float64, grad=True):
    return mg.tensor((_rng.standard_normal(shape) * scale).astype(dtype), requires_grad=grad)


def _assert_close(a, b, atol=1e-10, rtol=1e-7):
    if a is None or b is None:  # an unused input (e.g. the second derivative of relu): must be zero
        other = b if a is None else a
        assert other is None or not np.asarray(other.array).any()
        return
    np.testing.assert_allclose(np.asarray(a.array if isinstance(a, mg.Tensor) else a),
                               np.asarray(b.array if isinstance(b, mg.Tensor) else b), atol=atol, rtol=rtol)


def _grads(outs, inputs, seeds, create_graph=False):
    return mg.grad(list(outs), list(inputs), seeds, create_graph=create_graph, allow_unused=True)


# --- fused vs unfused reference ---------------------------------------------------------------------
CELLS = {
    "lstm": (rnn.lstm_cell, ref.lstm_cell_reference, 4, True),
    "gru": (rnn.gru_cell, ref.gru_cell_reference, 3, True),
    "tanh": (rnn.rnn_tanh_cell, lambda a, b: ref.rnn_cell_reference(a, b, "tanh"), 1, False),
    "relu": (rnn.rnn_relu_cell, lambda a, b: ref.rnn_cell_reference(a, b, "relu"), 1, False),
}


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_reference(kind):
    fused, unfused, G, has_state = CELLS[kind]
    B, H = 3, 4
    args = [_t(B, G * H), _t(B, G * H)] + ([_t(B, H)] if has_state else [])
    outs_f, outs_r = fused(*args), unfused(*args)
    outs_f = outs_f if isinstance(outs_f, tuple) else (outs_f,)
    outs_r = outs_r if isinstance(outs_r, tuple) else (outs_r,)
    for a, b in zip(outs_f, outs_r):
        _assert_close(a, b)
    seeds = [mg.tensor(_rng.standard_normal(o.shape), requires_grad=True) for o in outs_f]
    gf = _grads(outs_f, args, seeds, create_graph=True)
    gr = _grads(outs_r, args, seeds, create_graph=True)
    for a, b in zip(gf, gr):
        _assert_close(a, b)
    # double backward: gradient of |grad|^2 with respect to inputs and seeds
    sf = sum((g * g).sum() for g in gf)
    sr = sum((g * g).sum() for g in gr)
    for a, b in zip(_grads([sf], args + seeds, None), _grads([sr], args + seeds, None)):
        _assert_close(a, b)


def _layer_fns(kind):
    if kind == "lstm":
        return rnn.lstm_layer, ref.lstm_layer_reference, 4
    if kind == "gru":
        return rnn.gru_layer, ref.gru_layer_reference, 3
    nl = "relu" if kind == "relu" else "tanh"
    return ((lambda *a, **k: rnn.rnn_layer(*a, nonlinearity=nl, **k)),
            (lambda *a, **k: ref.rnn_layer_reference(*a, nonlinearity=nl, **k)), 1)


def _layer_args(kind, T, B, In, H, G, init_state, bias=True, scale=0.5):
    x = _t(T, B, In)
    states = []
    if kind == "lstm":
        states = [_t(B, H), _t(B, H)] if init_state else [None, None]
    else:
        states = [_t(B, H)] if init_state else [None]
    w = [_t(G * H, In, scale=scale), _t(G * H, H, scale=scale)]
    b = [_t(G * H, scale=scale), _t(G * H, scale=scale)] if bias else [None, None]
    return [x] + states + w + b


@pytest.mark.parametrize("kind,reverse,init_state,bias", [
    (k, r, s, b) for k in ("lstm", "gru", "tanh", "relu") for r, s, b in
    [(False, False, True), (True, True, True), (False, True, False)]])
def test_layer_matches_reference(kind, reverse, init_state, bias):
    fused, unfused, G = _layer_fns(kind)
    T, B, In, H = 5, 3, 2, 4
    args = _layer_args(kind, T, B, In, H, G, init_state, bias)
    outs_f, outs_r = fused(*args, reverse=reverse), unfused(*args, reverse=reverse)
    assert len(outs_f) == len(outs_r)
    for a, b in zip(outs_f, outs_r):
        assert a.shape == b.shape
        _assert_close(a, b)
    leaves = [a for a in args if a is not None]
    seeds = [mg.as_tensor(_rng.standard_normal(o.shape)) for o in outs_f]
    for a, b in zip(_grads(outs_f, leaves, seeds), _grads(outs_r, leaves, seeds)):
        _assert_close(a, b)


@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh"])
def test_layer_double_backward_matches_reference(kind):
    fused, unfused, G = _layer_fns(kind)
    args = _layer_args(kind, 3, 2, 2, 3, G, True)
    seeds = None
    totals = []
    for fn in (fused, unfused):
        outs = fn(*args, reverse=True)
        if seeds is None:
            seeds = [mg.tensor(_rng.standard_normal(o.shape), requires_grad=True) for o in outs]
        gs = _grads(outs, args, seeds, create_graph=True)
        s = sum((g * g * g).sum() for g in gs)
        totals.append((gs, _grads([s], args + seeds, None)))
    (g1, gg1), (g2, gg2) = totals
    for a, b in zip(g1, g2):
        _assert_close(a, b)
    for a, b in zip(gg1, gg2):
        _assert_close(a, b, atol=1e-9)


def test_layer_gradients_for_a_subset_of_inputs():
    T, B, In, H = 4, 2, 3, 3
    x = _t(T, B, In, grad=False)
    h0, c0 = _t(B, H, grad=False), _t(B, H)
    w_ih, w_hh = _t(4 * H, In, grad=False), _t(4 * H, H)
    out, hn, cn = rnn.lstm_layer(x, h0, c0, w_ih, w_hh)
    out_r, hn_r, cn_r = ref.lstm_layer_reference(x, h0, c0, w_ih, w_hh)
    (out.sum() + cn.sum()).backward()
    g = mg.grad(out_r.sum() + cn_r.sum(), [c0, w_hh])
    _assert_close(c0.grad, g[0])
    _assert_close(w_hh.grad, g[1])


def test_reverse_is_the_flipped_sequence():
    T, B, In, H = 4, 2, 3, 5
    x, h0 = _t(T, B, In), _t(B, H)
    w_ih, w_hh, b = _t(3 * H, In), _t(3 * H, H), _t(3 * H)
    out_r, h_r = rnn.gru_layer(x, h0, w_ih, w_hh, b, b, reverse=True)
    out_f, h_f = rnn.gru_layer(mg.flip(x, 0), h0, w_ih, w_hh, b, b)
    _assert_close(out_r, mg.flip(out_f, 0))
    _assert_close(h_r, h_f)


def test_no_grad_forward_matches_recorded_forward():
    args = _layer_args("lstm", 6, 2, 3, 4, 4, True)
    outs = rnn.lstm_layer(*args)
    with mg.no_grad():
        outs_ng = rnn.lstm_layer(*args)
    for a, b in zip(outs, outs_ng):
        assert not b.requires_grad
        np.testing.assert_array_equal(a.array, b.array)


def test_graph_has_few_nodes_independent_of_length():
    """One input projection GEMM + one recurrence node per layer, whatever T."""

    def count(out):
        seen, stack = set(), [out.grad_fn]
        while stack:
            n = stack.pop()
            if n is None or id(n) in seen:
                continue
            seen.add(id(n))
            stack.extend(x.grad_fn for x in n.inputs)
        return len(seen)

    sizes = []
    for T in (2, 20):
        args = _layer_args("lstm", T, 2, 3, 4, 4, False)
        sizes.append(count(rnn.lstm_layer(*args)[0]))
    assert sizes[0] == sizes[1] <= 3
    cell = LSTMCell(3, 4)
    h, _ = cell(_t(2, 3, dtype=np.float32))
    assert count(h) == 3  # two projections and one fused cell


def test_extreme_inputs_stay_finite():
    """The stable sigmoid: huge pre-activations saturate without overflow warnings or NaN."""
    x = mg.tensor(np.array([[-1e4, 1e4, -90.0, 90.0, 0.0, 3.0, -3.0, 1e4, -1e4, 5.0, -5.0, 0.5]], np.float32),
                  requires_grad=True)
    hg = mg.zeros(1, 12)
    c = mg.zeros(1, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h, c2 = rnn.lstm_cell(x, hg, c)
        h2 = rnn.gru_cell(x[:, :9], hg[:, :9], c)
        (h.sum() + c2.sum() + h2.sum()).backward()
    assert np.isfinite(h.array).all() and np.isfinite(c2.array).all() and np.isfinite(h2.array).all()
    assert np.isfinite(x.grad.array).all()


def test_float32_end_to_end():
    for cls in (LSTM, GRU, RNN):
        m = cls(3, 4, num_layers=2, bidirectional=True)
        x = _t(5, 2, 3, dtype=np.float32)
        out, hn = m(x)
        hn = hn[0] if isinstance(hn, tuple) else hn
        assert out.dtype == np.float32 and hn.dtype == np.float32
        (out.sum() + hn.sum()).backward()
        assert x.grad.dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_cells_match_layers_step_by_step():
    for cls, cell_cls in ((LSTM, LSTMCell), (GRU, GRUCell), (RNN, RNNCell)):
        m, cell = cls(3, 4), cell_cls(3, 4)
        cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
        x = _t(4, 2, 3, dtype=np.float32)
        out, hn = m(x)
        state = None
        for t in range(4):
            state = cell(x[t], state)
            h = state[0] if isinstance(state, tuple) else state
            _assert_close(out[t], h, atol=1e-6, rtol=1e-5)


# --- modules: shapes and options -------------------------------------------------------------------
@pytest.mark.parametrize("cls,layers,bidir,batch_first,with_hx",
                         list(itertools.product([RNN, LSTM, GRU], [1, 2], [False, True], [False, True],
                                                [False, True])))
def test_module_shapes(cls, layers, bidir, batch_first, with_hx):
    T, B, In, H = 4, 3, 5, 6
    D = 2 if bidir else 1
    m = cls(In, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x = _t(*((B, T, In) if batch_first else (T, B, In)), dtype=np.float32)
    hx = None
    if with_hx:
        h0 = _t(layers * D, B, H, dtype=np.float32)
        hx = (h0, _t(layers * D, B, H, dtype=np.float32)) if cls is LSTM else h0
    out, hn = m(x, hx)
    assert out.shape == ((B, T, D * H) if batch_first else (T, B, D * H))
    states = hn if cls is LSTM else (hn,)
    for s in states:
        assert s.shape == (layers * D, B, H)
    # the last layer's final states are the ends of the output sequence
    o = mg.transpose(out, 0, 1) if batch_first else out
    _assert_close(states[0][-D], o[-1, :, :H])
    if bidir:
        _assert_close(states[0][-1], o[0, :, H:])
    loss = out.sum() + sum((s * s).sum() for s in states)
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_unbatched_input(cls):
    m = cls(3, 4, num_layers=2, bidirectional=True)
    x = _t(5, 3, dtype=np.float32)
    out, hn = m(x)
    assert out.shape == (5, 8)
    out_b, hn_b = m(mg.unsqueeze(x, 1))
    _assert_close(out, out_b[:, 0])
    hs, hs_b = (hn, hn_b) if cls is LSTM else ((hn,), (hn_b,))
    for a, b in zip(hs, hs_b):
        assert a.shape == (4, 4)
        _assert_close(a, b[:, 0])


def test_parameters_names_and_init():
    m = LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    expect = []
    for k in range(2):
        for sfx in ("", "_reverse"):
            expect += [f"{p}_l{k}{sfx}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expect
    assert m.weight_ih_l0.shape == (20, 3) and m.weight_ih_l1.shape == (20, 10)
    bound = 1 / np.sqrt(5)
    for p in m.parameters():
        assert p.dtype == np.float32 and np.abs(p.array).max() <= bound
    assert np.abs(m.weight_hh_l0.array).max() > 0.5 * bound  # actually uniform, not zeros
    g = GRU(3, 4, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    c = GRUCell(3, 4)
    assert [n for n, _ in c.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert c.weight_ih.shape == (12, 3)
    assert "LSTM(3, 5, num_layers=2, bidirectional=True)" == repr(m)


def test_dropout_between_layers_train_vs_eval():
    m = LSTM(3, 8, num_layers=3, dropout=0.5)
    x = _t(4, 2, 3, dtype=np.float32)
    mg.manual_seed(1)
    a, _ = m(x)
    b, _ = m(x)
    assert not np.allclose(a.array, b.array)  # fresh masks in training mode
    m.eval()
    c, _ = m(x)
    d, _ = m(x)
    np.testing.assert_array_equal(c.array, d.array)
    plain = LSTM(3, 8, num_layers=3)
    plain.load_state_dict(m.state_dict())
    _assert_close(c, plain(x)[0], atol=0, rtol=0)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        GRU(3, 4, dropout=0.3)


# --- errors -------------------------------------------------------------------------------------------
def test_module_errors_name_the_layer_and_shapes():
    m = LSTM(4, 3, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input.size\(-1\) must be equal to input_size=4.*\(5, 2, 7"):
        m(mg.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(seq_len, batch, input_size.*4-D"):
        m(mg.zeros(5, 2, 1, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 3\).*\(1, 2, 3\)"):
        m(mg.zeros(5, 2, 4), (mg.zeros(1, 2, 3), mg.zeros(2, 2, 3)))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape"):
        m(mg.zeros(5, 2, 4), (mg.zeros(2, 2, 3), mg.zeros(2, 3, 3)))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        m(mg.zeros(5, 2, 4), mg.zeros(2, 2, 3))
    with pytest.raises(TypeError, match="LSTM: input dtype float64 does not match"):
        m(mg.zeros(5, 2, 4, dtype=mg.float64))
    g = GRU(4, 3, batch_first=True)
    with pytest.raises(ValueError, match=r"GRU: expected hx of shape \(1, 2, 3\).*\(1, 5, 3\)"):
        g(mg.zeros(2, 5, 4), mg.zeros(1, 5, 3))
    with pytest.raises(ValueError, match=r"RNN: .*\(batch, seq_len, input_size\)"):
        RNN(4, 3, batch_first=True)(mg.zeros(4))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(4, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTM(4, 0)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        LSTM(4, 3, dropout=1.5)
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(batch, 4\).*\(2, 5\)"):
        LSTMCell(4, 3)(mg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected hidden state of shape \(2, 3\).*\(2, 4\)"):
        GRUCell(4, 3)(mg.zeros(2, 4), mg.zeros(2, 4))
    with pytest.raises(TypeError, match="LSTMCell: hx must be a tuple"):
        LSTMCell(4, 3)(mg.zeros(2, 4), mg.zeros(2, 3))


def test_functional_errors():
    with pytest.raises(ValueError, match=r"lstm_cell: x_gates must have shape \(batch, 4\*hidden\).*\(2, 10"):
        rnn.lstm_cell(mg.zeros(2, 10), mg.zeros(2, 10), mg.zeros(2, 2))
    with pytest.raises(ValueError, match=r"lstm_cell: h_gates shape \(2, 8\) does not match.*\(2, 12"):
        rnn.lstm_cell(mg.zeros(2, 12), mg.zeros(2, 8), mg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"gru_cell: state must have shape \(2, 3\).*got \(3, 3\)"):
        rnn.gru_cell(mg.zeros(2, 9), mg.zeros(2, 9), mg.zeros(3, 3))
    with pytest.raises(ValueError, match=r"lstm_layer: weight_ih must have shape \(12, 2\)"):
        rnn.lstm_layer(mg.zeros(3, 2, 2), None, None, mg.zeros(12, 5), mg.zeros(12, 3))
    with pytest.raises(ValueError, match=r"gru_layer: h0 must have shape \(2, 3\)"):
        rnn.gru_layer(mg.zeros(3, 2, 2), mg.zeros(1, 3), mg.zeros(9, 2), mg.zeros(9, 3))
    with pytest.raises(ValueError, match="sequence length larger than 0"):
        rnn.rnn_layer(mg.zeros(0, 2, 2), None, mg.zeros(3, 2), mg.zeros(3, 3))
    with pytest.raises(TypeError, match="rnn_layer: input, weights and states must have one dtype"):
        rnn.rnn_layer(mg.zeros(3, 2, 2, dtype=mg.float64), None, mg.zeros(3, 2), mg.zeros(3, 3))


def test_importing_does_not_import_cupy_when_absent():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed")
    assert "cupy" not in sys.modules


# --- the CuPy kernels agree with NumPy (runs only with a GPU) -------------------------------------------
def test_backend_matches_numpy(backend, xp):
    if backend == "numpy":
        pytest.skip("compares CuPy against NumPy")
    for kind in ("lstm", "gru", "tanh"):
        fused, _, G = _layer_fns(kind)
        args = _layer_args(kind, 4, 3, 2, 5, G, True, scale=0.8)
        dev = [None if a is None else mg.tensor(xp.asarray(a.array), requires_grad=True) for a in args]
        outs, outs_d = fused(*args, reverse=True), fused(*dev, reverse=True)
        seeds = [mg.as_tensor(_rng.standard_normal(o.shape)) for o in outs]
        gs = _grads(outs, [a for a in args if a is not None], seeds)
        seeds_d = [mg.as_tensor(xp.asarray(s.array)) for s in seeds]
        gs_d = _grads(outs_d, [a for a in dev if a is not None], seeds_d)
        for a, b in zip(list(outs) + list(gs), list(outs_d) + list(gs_d)):
            np.testing.assert_allclose(a.array, b.array.get(), atol=1e-10)
    for kind in ("lstm", "gru"):
        fused, _, G, _ = CELLS[kind]
        a = [_t(3, G * 4), _t(3, G * 4), _t(3, 4)]
        d = [mg.tensor(xp.asarray(v.array), requires_grad=True) for v in a]
        o, od = fused(*a), fused(*d)
        o, od = (o if isinstance(o, tuple) else (o,)), (od if isinstance(od, tuple) else (od,))
        for u, v in zip(list(o) + list(_grads(o, a, [mg.ones_like(t) for t in o])),
                        list(od) + list(_grads(od, d, [mg.ones_like(t) for t in od]))):
            np.testing.assert_allclose(u.array, v.array.get(), atol=1e-10)


# --- PyTorch agreement ---------------------------------------------------------------------------------
def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("name,kw", [
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(num_layers=1)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(num_layers=2, bias=False)),
    ("RNN", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("RNN", dict(num_layers=2, nonlinearity="relu")),
])
def test_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(4, 5, **kw).double()
    ours = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}[name](4, 5, **kw, dtype="float64")
    _load_from_torch(ours, theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    x = _rng.standard_normal((3, 6, 4) if kw.get("batch_first") else (6, 3, 4))
    h0 = _rng.standard_normal((L * D, 3, 5))
    c0 = _rng.standard_normal((L * D, 3, 5))
    tx = torch.tensor(x, requires_grad=True)
    mx = mg.tensor(x, requires_grad=True)
    if name == "LSTM":
        t_out, (t_h, t_c) = theirs(tx, (torch.tensor(h0), torch.tensor(c0)))
        m_out, (m_h, m_c) = ours(mx, (mg.as_tensor(h0), mg.as_tensor(c0)))
        t_states, m_states = [t_h, t_c], [m_h, m_c]
    else:
        t_out, t_h = theirs(tx, torch.tensor(h0))
        m_out, m_h = ours(mx, mg.as_tensor(h0))
        t_states, m_states = [t_h], [m_h]
    _assert_close(m_out, t_out.detach().numpy())
    for a, b in zip(m_states, t_states):
        _assert_close(a, b.detach().numpy())
    w_out = _rng.standard_normal(t_out.shape)
    t_loss = (t_out * torch.tensor(w_out)).sum() + sum((s ** 2).sum() for s in t_states)
    m_loss = (m_out * mg.as_tensor(w_out)).sum() + sum((s ** 2).sum() for s in m_states)
    t_loss.backward()
    m_loss.backward()
    _assert_close(mx.grad, tx.grad.numpy())
    for (_n, p), (_, q) in zip(theirs.named_parameters(), ours.named_parameters()):
        _assert_close(q.grad, p.grad.numpy())


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_match_torch(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(4, 5).double()
    ours = {"LSTMCell": LSTMCell, "GRUCell": GRUCell, "RNNCell": RNNCell}[name](4, 5, dtype="float64")
    _load_from_torch(ours, theirs)
    x, h, c = _rng.standard_normal((3, 4)), _rng.standard_normal((3, 5)), _rng.standard_normal((3, 5))
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    if name == "LSTMCell":
        t_out = torch.cat(theirs(tx, (torch.tensor(h), torch.tensor(c))), 1)
        m_out = mg.cat(list(ours(mx, (mg.as_tensor(h), mg.as_tensor(c)))), 1)
    else:
        t_out, m_out = theirs(tx, torch.tensor(h)), ours(mx, mg.as_tensor(h))
    _assert_close(m_out, t_out.detach().numpy())
    w = _rng.standard_normal(t_out.shape)
    (t_out * torch.tensor(w)).sum().backward()
    (m_out * mg.as_tensor(w)).sum().backward()
    _assert_close(mx.grad, tx.grad.numpy())
    for (_n, p), (_, q) in zip(theirs.named_parameters(), ours.named_parameters()):
        _assert_close(q.grad, p.grad.numpy())
