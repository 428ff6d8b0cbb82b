"""Draw the graph that produced a tensor: ``to_dot(t)`` gives Graphviz DOT text, ``render(t, path)`` a PNG.

Ops are boxes labelled with their name; tensors are ellipses labelled with their
shape (leaves that require grad are filled, as they are the ones that get ``.grad``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .tensor import Tensor


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _esc(text: object) -> str:
    """``text`` safe inside a double-quoted DOT string."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(t: Tensor, name: str = "output") -> str:
    """Graphviz DOT source of the graph behind ``t`` (walked iteratively, so deep graphs are fine)."""
    lines = ["digraph minigrad {", '  rankdir="BT";', '  node [fontname="Helvetica", fontsize=10];']
    seen: set[int] = set()
    lines.append(f'  t{id(t)} [label="{_esc(name)}\\n{_shape(t)} {t.dtype}", shape=ellipse, style=bold];')
    if t.grad_fn is None:
        lines.append("}")
        return "\n".join(lines)
    lines.append(f"  f{id(t.grad_fn)} -> t{id(t)};")
    stack = [t.grad_fn]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        label = _esc(fn.name())
        lines.append(f'  f{id(fn)} [label="{label}", shape=box, style=filled, fillcolor="#dde8f8"];')
        for x in getattr(fn, "inputs", None) or ():
            if x.grad_fn is None:
                if id(x) not in seen:
                    seen.add(id(x))
                    fill = ', style=filled, fillcolor="#f8e0b0"' if x.requires_grad else ""
                    label = _esc(getattr(x, "name", None) or ("param" if x.requires_grad else "const"))
                    lines.append(f'  t{id(x)} [label="{label}\\n{_shape(x)}", shape=ellipse{fill}];')
                lines.append(f"  t{id(x)} -> f{id(fn)};")
            else:
                lines.append(f'  f{id(x.grad_fn)} -> f{id(fn)} [label="{_shape(x)}", fontsize=8];')
                stack.append(x.grad_fn)
    lines.append("}")
    return "\n".join(lines)


def render(t: Tensor, path: str | Path, fmt: str = "png") -> Path:
    """Write the graph of ``t`` to ``path`` with the Graphviz ``dot`` program (``apt install graphviz``).

    Without ``dot`` installed, writes the DOT text next to it (``path`` with suffix .dot) and raises
    ``RuntimeError`` saying so.
    """
    path = Path(path)
    dot = to_dot(t)
    exe = shutil.which("dot")
    if exe is None:
        src = path.with_suffix(".dot")
        src.write_text(dot)
        raise RuntimeError(
            f"render: the Graphviz 'dot' program is not installed; wrote the DOT source to {src}"
        )
    subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot.encode(), check=True)
    return path
