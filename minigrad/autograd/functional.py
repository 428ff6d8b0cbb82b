"""Higher-level autograd on functions: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``, ``vhp``.

Same signatures and return structures as ``torch.autograd.functional``: ``inputs`` is a Tensor
or a tuple of Tensors and results mirror that (a Tensor for a Tensor, a tuple for a tuple);
outputs of ``func`` likewise. The inputs are detached copies that require grad, so the caller's
graph is untouched; results are detached unless ``create_graph=True``. An output that does not
depend on an input gets zeros there, or an error with ``strict=True``.

Everything is built on reverse mode (``minigrad.grad``): ``jvp`` and ``hvp`` use the
double-vjp trick (the vjp ``u -> J^T u`` is linear in ``u``, so its own vjp with ``v`` is ``J v``),
``jacobian`` takes one vjp per output element, ``hessian`` is the jacobian of the gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..grad_mode import enable_grad
from . import grad as _grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tensor_cls() -> Any:
    from ..tensor import Tensor

    return Tensor


def _as_tuple(x: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(was it a tuple/list, the tuple of Tensors); clear error for anything else."""
    T = _tensor_cls()
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, T):
            where = f"the value at index {i} has" if is_tuple else "it has"
            raise TypeError(
                f"{fn_name}: the {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but {where} type {type(t).__name__}"
            )
    return is_tuple, xs


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    """Undo ``_as_tuple``: unwrap one level (or two, for a pair of flags) where the user passed a Tensor."""
    if isinstance(to_unpack, tuple):
        outer, inner = to_unpack
        if not inner:
            res = tuple(r[0] for r in res)
        if not outer:
            res = res[0]
        return res
    return res if to_unpack else res[0]


def _prepare_inputs(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh tensors requiring grad: linked to the caller's graph only with ``create_graph``."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            with enable_grad():
                out.append(t * 1)  # a non-leaf that keeps the link back to the caller's graph
        else:
            d = t.detach()
            if need_graph and d.dtype.kind == "f":
                d.requires_grad_(True)
            out.append(d)
    return tuple(out)


def _postprocess(xs: Any, create_graph: bool) -> Any:
    if isinstance(xs, tuple):
        return tuple(_postprocess(x, create_graph) for x in xs)
    if xs is None or create_graph:
        return xs
    return xs.detach()


def _autograd_grad(
    outputs: Sequence[Any],
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None,
    create_graph: bool,
    retain_graph: bool | None = None,
) -> tuple:
    """``minigrad.grad`` that skips outputs not requiring grad and returns None for unused inputs."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    diff_inputs = [(i, x) for i, x in enumerate(inputs) if x.requires_grad]
    res: list[Any] = [None] * len(inputs)
    if not pairs or not diff_inputs:
        return tuple(res)
    gs = _grad(
        [o for o, _ in pairs],
        [x for _, x in diff_inputs],
        [g for _, g in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )
    for (i, _), g in zip(diff_inputs, gs):
        res[i] = g
    return tuple(res)


def _fill_in_zeros(
    grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str, fn_name: str
) -> tuple:
    """Replace None gradients by zeros like ``refs`` (or raise in strict mode)."""
    T = _tensor_cls()
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                if stage == "back":
                    msg = f"the output of the user-provided function is independent of input {i}"
                elif stage == "back_trick":
                    msg = f"the gradient with respect to input {i} is independent of the inputs"
                elif stage == "double_back":
                    msg = f"the jacobian of the user-provided function is independent of input {i}"
                else:
                    msg = f"the hessian of the user-provided function is independent of input {i}"
                raise RuntimeError(f"{fn_name}: {msg}; this is not allowed in strict mode")
            g = T._make(r.xp.zeros(r.shape, dtype=r.dtype))
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(
                f"{fn_name}: the jacobian of the user-provided function is independent of input {i}; this is "
                "not allowed in strict mode when create_graph=True"
            )
        out.append(g)
    return tuple(out)


def _check_outputs(outputs: tuple, fn_name: str) -> None:
    T = _tensor_cls()
    for i, o in enumerate(outputs):
        if not isinstance(o, T):
            raise TypeError(
                f"{fn_name}: the outputs of the user-provided function must be Tensors, but output {i} has "
                f"type {type(o).__name__}"
            )


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool, fn_name: str, what: str) -> None:
    if len(v) != len(other):
        raise RuntimeError(
            f"{fn_name}: v is a tuple of {len(v)} Tensors but the {what} has {len(other)}"
            + ("" if is_other_tuple else " (a single Tensor)")
        )
    for i, (a, b) in enumerate(zip(v, other)):
        if tuple(a.shape) != tuple(b.shape):
            pre = f"entry {i} in v" if is_other_tuple else "v"
            raise RuntimeError(
                f"{fn_name}: {pre} has shape {tuple(a.shape)} but the {what} has shape {tuple(b.shape)}"
            )


def _default_v(refs: tuple, fn_name: str, what: str) -> tuple:
    if len(refs) != 1 or refs[0].numel() != 1:
        raise RuntimeError(
            f"{fn_name}: the vector v can only be None if the {what} is a single Tensor with a single element"
        )
    r = refs[0]
    return (_tensor_cls()._make(r.xp.ones(r.shape, dtype=r.dtype)),)


def _prepare_v(
    v: Any, refs: tuple, is_refs_tuple: bool, create_graph: bool, fn_name: str, what: str, default_what: str
) -> tuple:
    """``v`` as a tuple (detached unless ``create_graph``) checked against ``refs`` (the ``what``); when None,
    ones shaped like ``refs`` (allowed only for a single one-element ``default_what``)."""
    if v is None:
        return _default_v(refs, fn_name, default_what)
    _, v = _as_tuple(v, "v", fn_name)
    v = tuple(x.detach() if not create_graph else x for x in v)
    _validate_v(v, refs, is_refs_tuple, fn_name, what)
    return v


def _double_vjp_trick(grads: tuple, us: tuple, v: tuple, create_graph: bool) -> tuple:
    """``grads`` = J^T u is linear in the dummy cotangents ``us``; its vjp with ``v`` (through ``us``) is J v.
    Entries of ``grads`` that are None (no path) are dropped together with their ``v``."""
    pairs = [(g, w) for g, w in zip(grads, v) if g is not None]
    return _autograd_grad([g for g, _ in pairs], us, [w for _, w in pairs], create_graph=create_graph)


def _call(func: Callable, inputs: tuple) -> Any:
    with enable_grad():
        return func(*inputs)


def vjp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(*inputs), v^T J)``: the vector-Jacobian product, shaped like ``inputs``.

    ``v`` is shaped like the outputs; it may be omitted when the output has a single element.
    """
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_outputs(outputs, "vjp")
        v = _prepare_v(
            v, outputs, is_out_tuple, create_graph, "vjp", "output", "output of the user-provided function"
        )
        grads = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, inputs, strict, create_graph, "back", "vjp")
    return (
        _tuple_postprocess(_postprocess(outputs, create_graph), is_out_tuple),
        _tuple_postprocess(_postprocess(res, create_graph), is_in_tuple),
    )


def jvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(*inputs), J v)``: the Jacobian-vector product, shaped like the outputs.

    ``v`` is shaped like ``inputs``; it may be omitted for a single one-element input.
    Computed with two reverse passes (the double-vjp trick).
    """
    T = _tensor_cls()
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_in_tuple, create_graph, "jvp", "input", "input")
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_outputs(outputs, "jvp")
        # u is a dummy cotangent: g(u) = J^T u is linear in u, and the vjp of g with v is J v.
        us = tuple(T._make(o.xp.zeros(o.shape, dtype=o.dtype), requires_grad=o.dtype.kind == "f")
                   for o in outputs)
        grad_res = _autograd_grad(outputs, inputs, us, create_graph=True)
        _fill_in_zeros(grad_res, inputs, strict, create_graph, "back", "jvp")
        grad_res2 = _double_vjp_trick(grad_res, us, v, create_graph)
        jvp_res = _fill_in_zeros(grad_res2, outputs, strict, create_graph, "back_trick", "jvp")
    return (
        _tuple_postprocess(_postprocess(outputs, create_graph), is_out_tuple),
        _tuple_postprocess(_postprocess(jvp_res, create_graph), is_out_tuple),
    )


def _jacobian_rows(out: Any, inputs: tuple, create_graph: bool, strict: bool, i_out: int) -> tuple:
    """d out / d inputs[j] for every j, as Tensors of shape out.shape + inputs[j].shape."""
    from ..ops import stack

    T = _tensor_cls()
    n = out.numel()
    rows: list[list[Any]] = [[] for _ in inputs]
    flat = out.reshape(-1)
    for k in range(n):
        g = (
            _autograd_grad([flat[k]], inputs, None, create_graph=create_graph, retain_graph=True)
            if out.requires_grad
            else (None,) * len(inputs)
        )
        for j, (gj, x) in enumerate(zip(g, inputs)):
            if gj is None:
                if strict:
                    raise RuntimeError(
                        f"jacobian: output {i_out} of the user-provided function is independent of "
                        f"input {j}; this is not allowed in strict mode"
                    )
                gj = T._make(x.xp.zeros(x.shape, dtype=x.dtype))
            rows[j].append(gj)
    res = []
    for j, x in enumerate(inputs):
        if n == 0:
            J = T._make(x.xp.zeros((0, *x.shape), dtype=out.dtype))
        else:
            J = stack(rows[j], 0)
        res.append(J.reshape(*out.shape, *x.shape))
    return tuple(res)


def _jacobian_forward(func: Callable, inputs: tuple, outputs: tuple, create_graph: bool) -> tuple:
    """Columns by jvp: one per input element (``strategy="forward-mode"``)."""
    from ..ops import stack

    T = _tensor_cls()
    cols: list[list[list[Any]]] = [[[] for _ in inputs] for _ in outputs]
    for j, x in enumerate(inputs):
        for k in range(x.numel()):
            basis = []
            for jj, y in enumerate(inputs):
                e = y.xp.zeros(y.numel(), dtype=y.dtype)
                if jj == j:
                    e[k] = 1
                basis.append(T._make(e.reshape(y.shape)))
            _, jv = jvp(func, inputs, tuple(basis), create_graph=create_graph)
            jv = jv if isinstance(jv, tuple) else (jv,)
            for i in range(len(outputs)):
                cols[i][j].append(jv[i])
    res = []
    for i, o in enumerate(outputs):
        row = []
        for j, x in enumerate(inputs):
            if x.numel() == 0:
                J = T._make(o.xp.zeros((*o.shape, 0), dtype=o.dtype))
            else:
                J = stack(cols[i][j], -1)
            row.append(J.reshape(*o.shape, *x.shape))
        res.append(tuple(row))
    return tuple(res)


def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: entry ``[i][j]`` is ``outputs[i].shape + inputs[j].shape``.

    A Tensor when both inputs and outputs are single Tensors; otherwise a tuple (over outputs,
    or inputs) or a tuple of tuples ``[output][input]``. ``vectorize`` is accepted for PyTorch
    compatibility (the computation is the same loop either way).
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f"jacobian: expected strategy to be 'reverse-mode' or 'forward-mode', got {strategy!r}"
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("jacobian: strategy='forward-mode' does not support create_graph=True")
        if not vectorize:
            raise ValueError("jacobian: strategy='forward-mode' requires vectorize=True (as in PyTorch)")
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_outputs(outputs, "jacobian")
        if strategy == "forward-mode":
            res = _jacobian_forward(func, inputs, outputs, create_graph)
        else:
            res = tuple(_jacobian_rows(o, inputs, create_graph, strict, i) for i, o in enumerate(outputs))
    return _tuple_postprocess(_postprocess(res, create_graph), (is_out_tuple, is_in_tuple))


def _single_output(func: Callable, fn_name: str) -> Callable:
    T = _tensor_cls()

    def f(*inp: Any) -> Any:
        out = func(*inp)
        is_tuple, t = _as_tuple(out, "outputs of the user-provided function", fn_name)
        if is_tuple and len(t) != 1:
            raise RuntimeError(f"{fn_name}: the user-provided function must return a single Tensor")
        o = t[0]
        if not isinstance(o, T) or o.numel() != 1:
            raise RuntimeError(
                f"{fn_name}: the Tensor returned by the user-provided function must have a single element, "
                f"got shape {tuple(o.shape)}"
            )
        return o.reshape(())

    return f


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of a scalar ``func``.

    One input: a Tensor of shape ``inputs.shape + inputs.shape``; a tuple of inputs: a tuple of
    tuples, entry ``[i][j]`` of shape ``inputs[i].shape + inputs[j].shape``.
    """
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f"hessian: expected outer_jacobian_strategy to be 'reverse-mode' or 'forward-mode', "
            f"got {outer_jacobian_strategy!r}"
        )
    f = _single_output(func, "hessian")

    def jac_func(*inp: Any) -> Any:
        return jacobian(f, inp, create_graph=True)

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_in_tuple, is_in_tuple))


def _hessian_product(
    func: Callable,
    inputs: Any,
    v: Any,
    create_graph: bool,
    strict: bool,
    fn_name: str,
    product: Callable[[tuple, tuple, tuple], tuple],
) -> tuple[Any, Any]:
    """What vhp and hvp share: ``product(jac, inputs, v)`` with jac = d func / d inputs (kept in the graph)
    gives the gradients w.r.t. ``inputs``; returns ``(func(*inputs), those)`` shaped like ``inputs``."""
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
        inputs = _prepare_inputs(inputs, create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_in_tuple, create_graph, fn_name, "input", "input")
        outputs = _single_output(func, fn_name)(*inputs)
        jac = _autograd_grad([outputs], inputs, None, create_graph=True)
        _fill_in_zeros(jac, inputs, strict, create_graph, "double_back", fn_name)
        grad_res = product(jac, inputs, v)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick", fn_name)
    res = _tuple_postprocess(_postprocess(res, create_graph), is_in_tuple)
    return _postprocess(outputs, create_graph), res


def vhp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(*inputs), v^T H)`` for a scalar ``func``; shaped like ``inputs``."""

    def product(jac: tuple, inputs: tuple, v: tuple) -> tuple:
        return _autograd_grad(jac, inputs, v, create_graph=create_graph)

    return _hessian_product(func, inputs, v, create_graph, strict, "vhp", product)


def hvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """``(func(*inputs), H v)`` for a scalar ``func``; shaped like ``inputs`` (double-vjp trick)."""
    T = _tensor_cls()

    def product(jac: tuple, inputs: tuple, v: tuple) -> tuple:
        us = tuple(T._make(x.xp.zeros(x.shape, dtype=x.dtype), requires_grad=True) for x in inputs)
        double_back = _autograd_grad(jac, inputs, us, create_graph=True)
        return _double_vjp_trick(double_back, us, v, create_graph)

    return _hessian_product(func, inputs, v, create_graph, strict, "hvp", product)
