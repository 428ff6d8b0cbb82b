"""PyTorch as the oracle (float64 unless noted) for the scans, sorting, norms, minigrad.linalg and the
numerics edge cases: values and gradients (random upstream gradients) must match, nan for nan."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # nan/inf edge cases, on purpose

_rng = np.random.default_rng(7)
INF = math.inf


def _outs(o):
    if isinstance(o, (tuple, list)):
        return list(o)
    return [o]


def _np(t):
    if isinstance(t, mg.Tensor):
        return np.asarray(t.numpy())
    return t.detach().cpu().numpy()


def compare(fm, ft, *arrays, dtype="float64", grad=True, atol=1e-8, rtol=1e-6, const=()):
    """Run ``fm`` on minigrad tensors and ``ft`` on torch tensors made from ``arrays``; compare the
    outputs and, when ``grad``, the gradients of every float output (same random cotangents).
    Positions listed in ``const`` are passed without requires_grad."""
    xm, xt = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        floaty = a.dtype.kind == "f"
        rg = grad and floaty and i not in const
        xm.append(mg.tensor(a.astype(dtype) if floaty else a, requires_grad=rg))
        xt.append(torch.tensor(a.astype(dtype) if floaty else a, requires_grad=rg))
    om, ot = _outs(fm(*xm)), _outs(ft(*xt))
    assert len(om) == len(ot)
    for m, t in zip(om, ot):
        assert tuple(m.shape) == tuple(t.shape), (tuple(m.shape), tuple(t.shape))
        np.testing.assert_allclose(_np(m), _np(t), atol=atol, rtol=rtol, equal_nan=True)
    if not grad:
        return
    # outputs with a gradient in both (minigrad's constant outputs such as slogdet's sign or the
    # 0-"norm" carry none; torch's carry an all-zero one)
    pairs = [(m, t) for m, t in zip(om, ot) if t.requires_grad and m.requires_grad]
    leaves_m = [x for x in xm if x.requires_grad]
    leaves_t = [x for x in xt if x.requires_grad]
    if not pairs or not leaves_t:
        return
    cots = [_rng.standard_normal(tuple(t.shape)) for _, t in pairs]
    gm = mg.grad(
        [m for m, _ in pairs], leaves_m, [mg.tensor(c.astype(dtype)) for c in cots], allow_unused=True
    )
    gt = torch.autograd.grad(
        [t for _, t in pairs], leaves_t, [torch.tensor(c.astype(dtype)) for c in cots], allow_unused=True
    )
    for g1, g2 in zip(gm, gt):
        if g2 is None:
            assert g1 is None or not np.any(_np(g1)), "torch gives no gradient, minigrad a nonzero one"
            continue
        assert g1 is not None, "torch gives a gradient, minigrad none"
        np.testing.assert_allclose(_np(g1), _np(g2), atol=atol, rtol=rtol, equal_nan=True)


def A(*shape, low=-2.0, high=2.0):
    return _rng.uniform(low, high, size=shape)


def WC(*shape):
    return A(*shape, low=-1.0, high=1.0) + 3.0 * np.eye(shape[-1])


# --- new ops -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod(dim):
    x = A(3, 4)
    compare(lambda t: mg.cumsum(t, dim), lambda t: torch.cumsum(t, dim), x)
    compare(lambda t: t.cumprod(dim), lambda t: t.cumprod(dim), x)
    compare(lambda t: t.cumsum(dim=dim), lambda t: t.cumsum(dim=dim), x)


def test_cumprod_with_zeros():
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.2], [0.5, 2.0, 0.0, 4.0]])
    compare(lambda t: mg.cumprod(t, 1), lambda t: torch.cumprod(t, 1), x)
    compare(lambda t: mg.cumprod(t, 0), lambda t: torch.cumprod(t, 0), x)


def test_cumsum_int_accumulates_in_int64():
    x = np.array([1, 2, 3], dtype=np.int32)
    compare(lambda t: mg.cumsum(t, 0), lambda t: torch.cumsum(t, 0), x, grad=False)
    assert mg.cumsum(mg.tensor(x), 0).dtype == mg.int64


@pytest.mark.parametrize("kw", [{}, {"descending": True}, {"dim": 0}, {"dim": 0, "descending": True}])
def test_sort_argsort(kw):
    x = _rng.permutation(12).reshape(3, 4) * 0.5
    compare(lambda t: mg.sort(t, **kw), lambda t: torch.sort(t, **kw), x)
    compare(lambda t: t.argsort(**kw), lambda t: t.argsort(**kw), x, grad=False)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_ties(descending):
    x = np.array([[2.0, 1.0, 2.0, 1.0, 3.0, 2.0]])
    compare(
        lambda t: mg.sort(t, descending=descending, stable=True),
        lambda t: torch.sort(t, descending=descending, stable=True),
        x,
    )


@pytest.mark.parametrize("k,dim,largest", [(2, -1, True), (3, 0, True), (1, 1, False), (4, -1, False)])
def test_topk(k, dim, largest):
    x = _rng.permutation(20).reshape(4, 5) * 0.25
    compare(lambda t: mg.topk(t, k, dim, largest), lambda t: torch.topk(t, k, dim, largest), x)
    compare(lambda t: t.topk(k, dim=dim, largest=largest), lambda t: t.topk(k, dim=dim, largest=largest), x)


def test_narrow_tril_triu_outer_clamp():
    x = A(4, 5)
    compare(lambda t: t.narrow(1, 1, 3), lambda t: t.narrow(1, 1, 3), x)
    compare(lambda t: mg.narrow(t, 0, -2, 2), lambda t: torch.narrow(t, 0, -2, 2), x)
    for d in (-1, 0, 2):
        compare(lambda t, d=d: t.tril(d), lambda t, d=d: t.tril(d), A(2, 3, 4))
        compare(lambda t, d=d: mg.triu(t, diagonal=d), lambda t, d=d: torch.triu(t, diagonal=d), x)
    compare(mg.outer, torch.outer, A(3), A(4))
    compare(lambda t: t.clamp_min(0.1), lambda t: t.clamp_min(0.1), x)
    compare(lambda t: mg.clamp_max(t, 0.1), lambda t: torch.clamp_max(t, 0.1), x)


def test_nonzero():
    x = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    compare(mg.nonzero, torch.nonzero, x, grad=False)
    compare(lambda t: mg.nonzero(t, as_tuple=True), lambda t: torch.nonzero(t, as_tuple=True), x, grad=False)
    compare(lambda t: t.nonzero(), lambda t: t.nonzero(), np.zeros((2, 2)), grad=False)


# --- norms -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "p,dim,keepdim",
    [
        ("fro", None, False),
        ("fro", 1, True),
        (1, None, False),
        (3, (0, 1), False),
        (0.5, 0, False),
        (INF, 1, False),
    ],
)
def test_norm(p, dim, keepdim):
    x = A(3, 4)
    compare(lambda t: t.norm(p, dim, keepdim), lambda t: t.norm(p, dim, keepdim), x)
    compare(lambda t: mg.norm(t, p=p, dim=dim), lambda t: torch.norm(t, p=p, dim=dim), x)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, INF, -INF, 0, -1])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_vector_norm(ord, dim):
    x = A(2, 3, 4)
    compare(
        lambda t: mg.linalg.vector_norm(t, ord, dim),
        lambda t: torch.linalg.vector_norm(t, ord, dim),
        x,
    )


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, 1.5, INF, 0])
def test_vector_norm_at_zero_has_zero_gradient(ord):
    compare(lambda t: mg.linalg.vector_norm(t, ord), lambda t: torch.linalg.vector_norm(t, ord), np.zeros(3))
    x = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, -2.0]])
    compare(
        lambda t: mg.linalg.vector_norm(t, ord, dim=1), lambda t: torch.linalg.vector_norm(t, ord, dim=1), x
    )


def test_norm_of_zero_vector():
    compare(lambda t: t.norm(), lambda t: t.norm(), np.zeros((2, 2)))
    compare(lambda t: mg.linalg.norm(t), lambda t: torch.linalg.norm(t), np.zeros(4))


@pytest.mark.parametrize("ord", ["fro", 1, -1, INF, -INF])
def test_matrix_norm(ord):
    x = A(2, 3, 4)
    compare(lambda t: mg.linalg.matrix_norm(t, ord), lambda t: torch.linalg.matrix_norm(t, ord), x)
    compare(
        lambda t: mg.linalg.matrix_norm(t, ord, dim=(0, 2), keepdim=True),
        lambda t: torch.linalg.matrix_norm(t, ord, dim=(0, 2), keepdim=True),
        x,
    )


@pytest.mark.parametrize(
    "shape,ord,dim",
    [
        ((3, 4), None, None),
        ((3, 4), 1, None),
        ((5,), 3, None),
        ((2, 3, 4), None, (1, 2)),
        ((2, 3, 4), INF, 0),
        ((3, 4), "fro", None),
    ],
)
def test_linalg_norm(shape, ord, dim):
    x = A(*shape)
    compare(lambda t: mg.linalg.norm(t, ord, dim), lambda t: torch.linalg.norm(t, ord, dim), x)


# --- linalg ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3)])
def test_inv_det_slogdet(shape):
    a = WC(*shape)
    compare(mg.linalg.inv, torch.linalg.inv, a)
    compare(lambda t: t.inverse(), lambda t: t.inverse(), a)
    compare(mg.linalg.det, torch.linalg.det, a)
    compare(mg.linalg.det, torch.linalg.det, -a)
    compare(mg.linalg.slogdet, torch.linalg.slogdet, -a)
    compare(mg.logdet, torch.logdet, a)
    compare(lambda t: t.slogdet(), lambda t: t.slogdet(), a)


@pytest.mark.parametrize(
    "ashape,bshape,left",
    [
        ((3, 3), (3, 2), True),
        ((3, 3), (3,), True),
        ((2, 3, 3), (3,), True),
        ((2, 3, 3), (2, 3), True),
        ((3, 3), (2, 3, 4), True),
        ((2, 1, 3, 3), (4, 3, 2), True),
        ((3, 3), (2, 3), False),
    ],
)
def test_solve(ashape, bshape, left):
    compare(
        lambda a, b: mg.linalg.solve(a, b, left=left),
        lambda a, b: torch.linalg.solve(a, b, left=left),
        WC(*ashape),
        A(*bshape),
    )


@pytest.mark.parametrize("shape,upper", [((3, 3), False), ((2, 4, 4), False), ((3, 3), True)])
def test_cholesky(shape, upper):
    def spd(lib, t):
        n = t.shape[-1]
        return t @ t.mT + n * lib.eye(n, dtype=t.dtype)

    compare(
        lambda t: mg.linalg.cholesky(spd(mg, t), upper=upper),
        lambda t: torch.linalg.cholesky(spd(torch, t), upper=upper),
        A(*shape),
    )
    compare(lambda t: mg.cholesky(spd(mg, t)), lambda t: torch.linalg.cholesky(spd(torch, t)), A(*shape))


def test_linalg_second_derivatives_match_torch():
    """Hessian-vector products through inv, slogdet and cholesky agree with torch."""
    a = WC(3, 3)
    v = _rng.standard_normal((3, 3))

    def hvp(lib, grad, x, f):
        (g,) = grad(f(x), x, create_graph=True)
        (h,) = grad((g * lib.tensor(v)).sum(), x)
        return h

    def f_m(t):
        return mg.linalg.slogdet(t)[1] + mg.linalg.inv(t).sum() + mg.linalg.cholesky(t @ t.mT).sum()

    def f_t(t):
        return torch.linalg.slogdet(t)[1] + torch.linalg.inv(t).sum() + torch.linalg.cholesky(t @ t.mT).sum()

    hm = hvp(mg, mg.grad, mg.tensor(a, requires_grad=True), f_m)
    ht = hvp(torch, torch.autograd.grad, torch.tensor(a, requires_grad=True), f_t)
    np.testing.assert_allclose(_np(hm), _np(ht), atol=1e-8, rtol=1e-6)


# --- reductions: aliases, correction ------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["sum", "mean", "amax", "amin", "logsumexp", "prod", "var", "std", "argmax", "argmin", "any", "all"],
)
def test_axis_and_keepdims_aliases(name):
    x = A(3, 4)
    grad = name not in ("argmax", "argmin", "any", "all")
    if name in ("any", "all"):
        x = (x > 0).astype(np.float64)
    compare(
        lambda t: getattr(mg, name)(t, axis=1, keepdims=True),
        lambda t: getattr(torch, name)(t, axis=1, keepdims=True),
        x,
        grad=grad,
    )
    compare(
        lambda t: getattr(t, name)(dim=0, keepdim=False),
        lambda t: getattr(t, name)(dim=0, keepdim=False),
        x,
        grad=grad,
    )


def test_softmax_aliases_and_dtype():
    x = A(3, 4)
    compare(lambda t: mg.softmax(t, axis=0), lambda t: torch.softmax(t, axis=0), x)
    compare(lambda t: t.log_softmax(dim=1), lambda t: t.log_softmax(dim=1), x)
    compare(
        lambda t: mg.softmax(t.to(mg.float32), 1, dtype=mg.float64),
        lambda t: torch.softmax(t.float(), 1, dtype=torch.float64),
        x,
    )


def test_max_min_dim_keyword():
    x = A(3, 4)
    compare(lambda t: mg.max(t, dim=1), lambda t: torch.max(t, dim=1), x)
    compare(lambda t: t.min(axis=0, keepdim=True), lambda t: t.min(axis=0, keepdim=True), x)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"unbiased": False},
        {"correction": 0},
        {"correction": 2},
        {"dim": 1, "correction": 0},
        {"dim": (0, 1), "unbiased": True, "keepdim": True},
    ],
)
def test_var_std_correction(kw):
    x = A(3, 4)
    compare(lambda t: mg.var(t, **kw), lambda t: torch.var(t, **kw), x)
    compare(lambda t: t.std(**kw), lambda t: t.std(**kw), x)


def test_var_positional_unbiased():
    x = A(5)
    compare(lambda t: mg.var(t, False), lambda t: torch.var(t, False), x)
    compare(lambda t: t.std(True), lambda t: t.std(True), x)


# --- numerics edge cases -----------------------------------------------------------------------------
MASKED = np.array([[-1e9, -1e9, -1e9, -1e9], [1.0, 2.0, 3.0, 4.0]])
NEG_INF = np.array([[-INF, -INF, -INF], [0.0, -INF, 1.0]])


def test_logsumexp_masked_row_gradient_is_uniform():
    compare(lambda t: mg.logsumexp(t, 1), lambda t: torch.logsumexp(t, 1), MASKED)
    # float32: torch's own gradient is exp(x - y) = 1 here (y - x rounds to 0); minigrad gives 1/n
    x = mg.tensor(MASKED.astype(np.float32), requires_grad=True)
    mg.logsumexp(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0], np.full(4, 0.25), rtol=1e-6)
    y = torch.tensor(MASKED, dtype=torch.float32)
    np.testing.assert_allclose(mg.logsumexp(x, 1).detach().numpy(), torch.logsumexp(y, 1).numpy(), rtol=1e-6)
    for dim in (None, (0, 1)):
        compare(
            lambda t, dim=dim: t.logsumexp(dim),
            lambda t, dim=dim: t.logsumexp(dim if dim else (0, 1)),
            np.full((2, 3), -1e9),
        )


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize(
    "x",
    [MASKED, NEG_INF, np.full((2, 3), 1e9), np.array([[INF, 1.0, 2.0]])],
    ids=["masked", "neg-inf", "huge", "pos-inf"],
)
def test_softmax_family_on_extreme_rows(fn, x):
    # logsumexp's gradient at a +inf entry: torch's exp(x - y) gives nan there and 0 elsewhere, minigrad's
    # softmax nan for the whole row; only the values are compared in that case
    pos_inf = fn == "logsumexp" and np.isposinf(x).any()
    compare(lambda t: getattr(mg, fn)(t, 1), lambda t: getattr(torch, fn)(t, 1), x, grad=not pos_inf)
    if fn != "logsumexp" or not np.isinf(x).any():
        x32 = mg.tensor(x.astype(np.float32))
        t32 = torch.tensor(x, dtype=torch.float32)
        np.testing.assert_allclose(
            getattr(mg, fn)(x32, 1).numpy(), getattr(torch, fn)(t32, 1).numpy(), rtol=1e-6, equal_nan=True
        )


def test_max_ties():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare(lambda t: t.amax(), lambda t: t.amax(), x)
    compare(lambda t: t.amax(1), lambda t: t.amax(1), x)
    compare(lambda t: t.max(), lambda t: t.max(), x)
    compare(lambda t: mg.amin(t, 0), lambda t: torch.amin(t, 0), x)
    # max(dim) sends the whole gradient to the one index it returns (both pick the first here)
    compare(lambda t: t.max(1), lambda t: t.max(1), x)


def test_sqrt_pow_abs_at_zero():
    z = np.array([0.0, 0.0, 1.0])
    compare(mg.sqrt, torch.sqrt, z)
    compare(lambda t: t**0.5, lambda t: t**0.5, z)
    compare(lambda t: t**2.5, lambda t: t**2.5, z)
    compare(lambda t: t**0.0, lambda t: t**0.0, z)
    compare(lambda t: t**-1.0, lambda t: t**-1.0, z)
    compare(mg.abs, torch.abs, z)
    compare(lambda a, b: a**b, lambda a, b: a**b, np.array([0.0, 0.0, 2.0]), np.array([0.0, 0.5, 0.0]))


def test_std_of_constant_has_zero_gradient():
    compare(lambda t: t.std(), lambda t: t.std(), np.ones(4))
    compare(lambda t: mg.std(t, 1), lambda t: torch.std(t, 1), np.array([[1.0, 1.0], [1.0, 2.0]]))


def test_empty_reductions():
    e = np.zeros((0,))
    e2 = np.zeros((2, 0))
    compare(mg.sum, torch.sum, e)
    compare(mg.mean, torch.mean, e)
    compare(mg.prod, torch.prod, e)
    compare(lambda t: mg.logsumexp(t, 0), lambda t: torch.logsumexp(t, 0), e)
    compare(lambda t: mg.logsumexp(t, 1), lambda t: torch.logsumexp(t, 1), e2)
    compare(lambda t: mg.softmax(t, 1), lambda t: torch.softmax(t, 1), e2)
    compare(lambda t: mg.log_softmax(t, -1), lambda t: torch.log_softmax(t, -1), e2)
    compare(lambda t: t.mean(1), lambda t: t.mean(1), e2)
    compare(lambda t: t.sum(1), lambda t: t.sum(1), e2)
    compare(lambda t: t.amax(0), lambda t: t.amax(0), e2)
    compare(lambda t: mg.linalg.vector_norm(t), lambda t: torch.linalg.vector_norm(t), e)
    compare(lambda t: mg.cumsum(t, 1), lambda t: torch.cumsum(t, 1), e2)


def test_normalize_and_cosine_similarity_of_zero_rows():
    """F.normalize / F.cosine_similarity clamp the norm at eps; a zero row must not give nan."""
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    y = A(2, 3)
    compare(mg.nn.functional.normalize, torch.nn.functional.normalize, x)
    compare(
        lambda t: mg.nn.functional.normalize(t, p=1.5, dim=0),
        lambda t: torch.nn.functional.normalize(t, p=1.5, dim=0),
        x,
    )
    compare(mg.nn.functional.cosine_similarity, torch.nn.functional.cosine_similarity, x, y, rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh(shape):
    def f(lib):
        def run(t):
            w, v = lib.linalg.eigh(t + t.mT)
            return w, v * v[..., :1, :]  # eigenvector signs are arbitrary: compare a sign-invariant view

        return run

    compare(f(mg), f(torch), A(*shape))
    compare(lambda t: mg.linalg.eigvalsh(t + t.mT), lambda t: torch.linalg.eigvalsh(t + t.mT), A(*shape))


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (2, 4, 2)])
def test_qr(shape):
    compare(mg.linalg.qr, torch.linalg.qr, A(*shape))


def test_mm_bmm():
    compare(mg.mm, torch.mm, A(3, 4), A(4, 2))
    compare(lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), A(2, 3, 4), A(2, 4, 2))
