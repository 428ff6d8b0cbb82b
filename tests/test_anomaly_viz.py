"""Anomaly mode names the op and the user's line behind a NaN/Inf (forward and backward); viz draws
the graph as Graphviz DOT text and renders it (or says clearly that ``dot`` is missing)."""

from __future__ import annotations

import inspect
import re
import runpy
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz

THIS_FILE = Path(__file__).name


def _next_line() -> int:
    """The line number after the caller's current line."""
    return inspect.currentframe().f_back.f_lineno + 1


# --- anomaly mode ------------------------------------------------------------------------------------
def test_forward_nan_names_the_op_and_the_users_line():
    x = mg.tensor([-1.0, 2.0], requires_grad=True)
    with mg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(RuntimeError) as e:
        line = _next_line()
        mg.log(x)  # log of a negative number: NaN
    msg = str(e.value)
    assert "forward of Log produced NaN or Inf" in msg
    assert f'{THIS_FILE}", line {line}' in msg
    assert "mg.log(x)  # log of a negative number" in msg
    assert not mg.is_anomaly_enabled()


def test_backward_inf_names_the_op_and_the_line_that_created_it():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        line = _next_line()
        y = mg.sqrt(x)  # fine forward; d sqrt(x)/dx = 1/(2 sqrt(x)) is inf at 0
        loss = (y * 3.0).sum()
        with pytest.raises(RuntimeError) as e:
            loss.backward()
    msg = str(e.value)
    assert "backward of Sqrt returned NaN or Inf in the gradient of input 0" in msg
    assert f'{THIS_FILE}", line {line}' in msg and "y = mg.sqrt(x)" in msg


def test_backward_with_create_graph_blames_the_op_being_differentiated():
    """With create_graph the backward's own ops are recorded (and checked); the report must still
    name the op whose derivative blew up (Sqrt), not an internal Div."""
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        line = _next_line()
        y = mg.sqrt(x)
        with pytest.raises(RuntimeError) as e:
            mg.grad(y.sum(), x, create_graph=True)
    msg = str(e.value)
    assert "backward of Sqrt produced NaN or Inf" in msg
    assert f'{THIS_FILE}", line {line}' in msg


def test_anomaly_mode_is_off_outside_the_context():
    assert not mg.is_anomaly_enabled()
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()
    x = mg.tensor([-1.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        y = mg.log(x)  # no error: NaN and -inf pass silently
        assert np.isnan(y.numpy()[0]) and np.isinf(y.numpy()[1])
        z = mg.sqrt(mg.tensor([0.0], requires_grad=True))
        z.sum().backward()  # inf gradient, silently


def test_graph_built_outside_anomaly_mode_still_reports_the_op_in_backward():
    x = mg.tensor([0.0], requires_grad=True)
    y = mg.sqrt(x)
    with mg.detect_anomaly(), np.errstate(divide="ignore"), pytest.raises(RuntimeError) as e:
        y.sum().backward()
    assert "backward of Sqrt" in str(e.value) and "created outside anomaly mode" in str(e.value)


def test_detect_anomaly_as_decorator_and_check_nan_false():
    @mg.detect_anomaly()
    def f(x):
        return mg.log(x)

    x = mg.tensor([-1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        with pytest.raises(RuntimeError, match="forward of Log"):
            f(x)
        assert not mg.is_anomaly_enabled()
        with mg.detect_anomaly(check_nan=False):
            y = mg.log(x)  # sites are recorded, values are not checked
        assert np.isnan(y.numpy()).all()
        assert THIS_FILE in y.grad_fn._site


def test_anomaly_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = mg.is_anomaly_enabled()

    with mg.detect_anomaly():
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
    assert seen["enabled"] is False


def test_site_is_found_for_user_code_inside_a_folder_named_minigrad(tmp_path):
    """The user's file is recognised by the package's own location, not by the word 'minigrad' in a path."""
    script = tmp_path / "minigrad" / "user_script.py"
    script.parent.mkdir()
    script.write_text(
        "import numpy as np\n"
        "import minigrad as mg\n"
        "x = mg.tensor([-1.0], requires_grad=True)\n"
        "with mg.detect_anomaly(), np.errstate(invalid='ignore'):\n"
        "    y = mg.log(x)  # the user's line\n"
    )
    with pytest.raises(RuntimeError) as e:
        runpy.run_path(str(script))
    assert f'{script}", line 5' in str(e.value) and "the user's line" in str(e.value)


# --- viz ----------------------------------------------------------------------------------------
def _declared_and_edges(dot: str) -> tuple[set[str], list[tuple[str, str]]]:
    declared = set(re.findall(r"^\s*(\w+) \[label=", dot, flags=re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M)
    return declared, edges


def _check_dot_syntax(dot: str) -> None:
    lines = dot.strip().splitlines()
    assert lines[0] == "digraph minigrad {" and lines[-1] == "}"
    for ln in lines[1:-1]:
        assert ln.endswith(";"), ln
        assert len(re.findall(r'(?<!\\)"', ln)) % 2 == 0, f"unbalanced quotes: {ln}"
    declared, edges = _declared_and_edges(dot)
    for a, b in edges:
        assert a in declared and b in declared, f"edge {a} -> {b} to an undeclared node"


def _mlp_graph():
    x = mg.randn(2, 3)
    w = mg.randn(3, 4, requires_grad=True)
    b = mg.randn(4, requires_grad=True)
    return (x @ w + b).relu().sum()


def test_to_dot_contains_ops_shapes_and_leaves():
    loss = _mlp_graph()
    dot = viz.to_dot(loss)
    _check_dot_syntax(dot)
    for op in ("MatMul", "Add", "ReLU", "Sum"):
        assert f'label="{op}"' in dot
    assert "(2, 3)" in dot and "(3, 4)" in dot and "(2, 4)" in dot and "(4)" in dot
    assert dot.count('label="param') == 2 and dot.count('label="const') == 1
    assert 'label="output\\n() float32"' in dot
    declared, edges = _declared_and_edges(dot)
    assert len(declared) == 1 + 4 + 3 and len(edges) == 1 + 3 + 3


def test_to_dot_of_a_shared_subgraph_declares_each_node_once():
    x = mg.randn(3, requires_grad=True)
    y = x.exp()
    a, b = mg.split(y * y + y, 1)[0], mg.split(y, 2)[1]
    dot = viz.to_dot(a.sum() + b.sum())
    _check_dot_syntax(dot)
    assert dot.count('label="Exp"') == 1
    assert dot.count('label="Split"') == 2


def test_to_dot_handles_a_deep_graph_a_leaf_and_a_freed_graph():
    x = mg.randn(2, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    dot = viz.to_dot(y)
    assert dot.count('label="Mul"') == 20_000
    _check_dot_syntax(dot)
    leaf_dot = viz.to_dot(mg.randn(2, 2), name="just a leaf")
    _check_dot_syntax(leaf_dot)
    assert "just a leaf" in leaf_dot and "(2, 2)" in leaf_dot
    loss = _mlp_graph()
    loss.backward()
    _check_dot_syntax(viz.to_dot(loss))  # freed nodes still draw (without their inputs)


def test_to_dot_escapes_labels():
    w = mg.randn(2, requires_grad=True)
    w.name = 'w"1\\'
    dot = viz.to_dot((w * 2.0).sum(), name='loss "total"\nsecond line')
    _check_dot_syntax(dot)
    assert 'loss \\"total\\"\\nsecond line' in dot
    assert 'w\\"1\\\\' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_dot_accepts_the_output(tmp_path):
    r = subprocess.run(["dot", "-Tsvg"], input=viz.to_dot(_mlp_graph()).encode(), capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


def test_render_without_graphviz_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    out = tmp_path / "graph.png"
    msg = r"Graphviz 'dot' program is not installed; wrote the DOT source to"
    with pytest.raises(RuntimeError, match=msg):
        viz.render(_mlp_graph(), out)
    src = tmp_path / "graph.dot"
    assert src.exists() and src.read_text().startswith("digraph minigrad {")
    assert not out.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_writes_a_png(tmp_path):
    out = viz.render(_mlp_graph(), tmp_path / "graph.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
