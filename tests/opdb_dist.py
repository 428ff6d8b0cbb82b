"""Registry entries for ``minigrad.distributions`` (imported by tests/opdb.py): every ``log_prob``,
``entropy``, ``rsample`` (noise fixed by reseeding before each call) and KL pair, plus the Cholesky and
triangular-solve Functions, as functions of the parameters, so gradcheck and gradgradcheck run on them."""

from __future__ import annotations

import math

import numpy as np
from opdb import C, S, arr, pos, register

import minigrad as mg
import minigrad.distributions as D
from minigrad.distributions._linalg import cholesky, solve_triangular

_rng = np.random.default_rng(2468)
_LOG2PI = math.log(2 * math.pi)


def probs(*shape: int) -> np.ndarray:
    return _rng.uniform(0.1, 0.9, size=shape)


def _seeded(fn):
    """Call ``fn`` right after ``mg.manual_seed(7)``: finite differences then see the same noise."""

    def wrapped(*a, **k):
        mg.manual_seed(7)
        return fn(*a, **k)

    return wrapped


# --- matrix helpers: parameters -> valid matrices (exactly symmetric / lower with positive diagonal) -----
def _spd(a):
    m = mg.matmul(a, a.mT) + mg.as_tensor(a.xp.eye(a.shape[-1], dtype=a.dtype))
    return (m + m.mT) * 0.5


def _tril(a):
    n = a.shape[-1]
    mask = a.xp.tril(a.xp.ones((n, n), dtype=a.dtype), -1)
    return a * mg.as_tensor(mask) + mg.as_tensor(a.xp.eye(n, dtype=a.dtype)) * 1.5


def _spd_np(a):
    m = a @ np.swapaxes(a, -1, -2) + np.eye(a.shape[-1])
    return (m + np.swapaxes(m, -1, -2)) / 2


def _tril_np(a):
    n = a.shape[-1]
    return a * np.tril(np.ones((n, n)), -1) + np.eye(n) * 1.5


# --- linear algebra Functions --------------------------------------------------------------------
register(
    "dist.cholesky",
    lambda a: cholesky(_spd(a)),
    lambda a: np.linalg.cholesky(_spd_np(a)),
    [S(arr(3, 3)), S(arr(2, 4, 4), desc="batched")],
    covers=("Cholesky",),
)
register(
    "dist.solve_triangular",
    lambda a, b: solve_triangular(_tril(a), b),
    lambda a, b: np.linalg.solve(_tril_np(a), b),
    [S(arr(3, 3), arr(3, 2)), S(arr(3, 3), arr(2, 3, 1), desc="broadcast-batch")],
    covers=("SolveTriangular",),
)
register(
    "dist.solve_triangular_upper",
    lambda a, b: solve_triangular(_tril(a).mT, b, upper=True),
    lambda a, b: np.linalg.solve(np.swapaxes(_tril_np(a), -1, -2), b),
    [S(arr(2, 3, 3), arr(2, 3, 2))],
)


# --- Normal -----------------------------------------------------------------------------------------
def _normal_lp(loc, scale, x):
    return -(((x - loc) / scale) ** 2) / 2 - np.log(scale) - _LOG2PI / 2


register(
    "dist.Normal.log_prob",
    lambda m, s, x: D.Normal(m, s).log_prob(x),
    _normal_lp,
    [S(arr(3), pos(3), arr(4, 3)), S(arr(2, 1), pos(3), arr(2, 3), desc="broadcast")],
)
register(
    "dist.Normal.entropy",
    lambda m, s: D.Normal(m, s).entropy(),
    lambda m, s: np.broadcast_to(0.5 + _LOG2PI / 2 + np.log(s), np.broadcast_shapes(m.shape, s.shape)),
    [S(arr(3), pos(3)), S(arr(2, 1), pos(3), desc="broadcast")],
)
register(
    "dist.Normal.rsample",
    _seeded(lambda m, s: D.Normal(m, s).rsample((4,))),
    None,
    [S(arr(3), pos(3)), S(arr(2, 3), pos(2, 3))],
)
register("dist.Normal.cdf", lambda m, s, x: D.Normal(m, s).cdf(x), None, [S(arr(3), pos(3), arr(2, 3))])
register(
    "dist.Normal.moments",
    lambda m, s: (D.Normal(m, s).mean, D.Normal(m, s).stddev, D.Normal(m, s).variance),
    lambda m, s: (m, s, s * s),
    [S(arr(3), pos(3))],
)


# --- Uniform ---------------------------------------------------------------------------------------
register(
    "dist.Uniform.log_prob",
    lambda lo, hi, x: D.Uniform(lo, hi).log_prob(x),
    lambda lo, hi, x: np.broadcast_to(-np.log(hi - lo), x.shape),
    [S(arr(3, low=-2.0, high=-1.0), pos(3), C(_rng.uniform(-0.9, 0.4, size=(2, 3))))],
)
register(
    "dist.Uniform.entropy",
    lambda lo, hi: D.Uniform(lo, hi).entropy(),
    lambda lo, hi: np.log(hi - lo),
    [S(arr(3, low=-2.0, high=-1.0), pos(3))],
)
register(
    "dist.Uniform.rsample",
    _seeded(lambda lo, hi: D.Uniform(lo, hi).rsample((4,))),
    None,
    [S(arr(3, low=-2.0, high=-1.0), pos(3))],
)
register(
    "dist.Uniform.moments",
    lambda lo, hi: (D.Uniform(lo, hi).mean, D.Uniform(lo, hi).variance),
    lambda lo, hi: ((lo + hi) / 2, (hi - lo) ** 2 / 12),
    [S(arr(3, low=-2.0, high=-1.0), pos(3))],
)


# --- Bernoulli -------------------------------------------------------------------------------------------
_bits = C(_rng.integers(0, 2, size=(4, 3)).astype(np.float64))


def _bern_lp(p, v):
    return v * np.log(p) + (1 - v) * np.log1p(-p)


def _sig(x):
    return 1 / (1 + np.exp(-x))


register(
    "dist.Bernoulli.log_prob", lambda p, v: D.Bernoulli(probs=p).log_prob(v), _bern_lp, [S(probs(3), _bits)]
)
register(
    "dist.Bernoulli.log_prob_logits",
    lambda lg, v: D.Bernoulli(logits=lg).log_prob(v),
    lambda lg, v: _bern_lp(_sig(lg), v),
    [S(arr(3), _bits), S(arr(4, 3) * 10, _bits, desc="large-logits")],
)
register(
    "dist.Bernoulli.entropy",
    lambda p: D.Bernoulli(probs=p).entropy(),
    lambda p: -(p * np.log(p) + (1 - p) * np.log1p(-p)),
    [S(probs(3))],
)
register(
    "dist.Bernoulli.entropy_logits",
    lambda lg: D.Bernoulli(logits=lg).entropy(),
    lambda lg: -(_sig(lg) * np.log(_sig(lg)) + (1 - _sig(lg)) * np.log1p(-_sig(lg))),
    [S(arr(2, 3))],
)


# --- Categorical --------------------------------------------------------------------------------------
_cls = C(_rng.integers(0, 4, size=(5, 3)))


def _cat_lp(p, v):
    lp = np.log(p / p.sum(-1, keepdims=True))
    return np.take_along_axis(np.broadcast_to(lp, v.shape + (p.shape[-1],)), v[..., None], -1)[..., 0]


def _lsm(x):
    return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)


register(
    "dist.Categorical.log_prob",
    lambda p, v: D.Categorical(probs=p).log_prob(v),
    _cat_lp,
    [S(probs(3, 4), _cls)],
)
register(
    "dist.Categorical.log_prob_logits",
    lambda lg, v: D.Categorical(logits=lg).log_prob(v),
    lambda lg, v: _cat_lp(np.exp(_lsm(lg)), v),
    [S(arr(3, 4), _cls), S(arr(4), C(np.array([3, 0, 1])))],
)
register(
    "dist.Categorical.entropy",
    lambda p: D.Categorical(probs=p).entropy(),
    lambda p: -((p / p.sum(-1, keepdims=True)) * np.log(p / p.sum(-1, keepdims=True))).sum(-1),
    [S(probs(3, 4))],
)
register(
    "dist.Categorical.entropy_logits",
    lambda lg: D.Categorical(logits=lg).entropy(),
    lambda lg: -(np.exp(_lsm(lg)) * _lsm(lg)).sum(-1),
    [S(arr(2, 5))],
)


# --- Independent -------------------------------------------------------------------------------------
register(
    "dist.Independent.log_prob",
    lambda m, s, x: D.Independent(D.Normal(m, s), 1).log_prob(x),
    lambda m, s, x: _normal_lp(m, s, x).sum(-1),
    [S(arr(2, 3), pos(2, 3), arr(4, 2, 3))],
)
register(
    "dist.Independent.entropy",
    lambda m, s: D.Independent(D.Normal(m, s), 2).entropy(),
    lambda m, s: (0.5 + _LOG2PI / 2 + np.log(s)).sum((-1, -2)),
    [S(arr(2, 3), pos(2, 3))],
)
register(
    "dist.Independent.rsample",
    _seeded(lambda m, s: D.Independent(D.Normal(m, s), 1).rsample((2,))),
    None,
    [S(arr(2, 3), pos(2, 3))],
)


# --- MultivariateNormal -----------------------------------------------------------------------------------
def _mvn_lp(m, cov, x):
    n = m.shape[-1]
    d = x - m
    maha = np.einsum("...i,...ij,...j->...", d, np.linalg.inv(cov), d)
    return -0.5 * (n * _LOG2PI + maha + np.linalg.slogdet(cov)[1])


def _mvn_ent(cov):
    n = cov.shape[-1]
    return 0.5 * n * (1 + _LOG2PI) + 0.5 * np.linalg.slogdet(cov)[1]


register(
    "dist.MultivariateNormal.log_prob_cov",
    lambda m, a, x: D.MultivariateNormal(m, covariance_matrix=_spd(a)).log_prob(x),
    lambda m, a, x: _mvn_lp(m, _spd_np(a), x),
    [
        S(arr(3), arr(3, 3), arr(4, 3)),
        S(arr(2, 3), arr(3, 3), arr(5, 2, 3), desc="batch-loc"),
        S(arr(3), arr(2, 3, 3), arr(3), desc="batch-cov"),
    ],
)
register(
    "dist.MultivariateNormal.log_prob_tril",
    lambda m, a, x: D.MultivariateNormal(m, scale_tril=_tril(a)).log_prob(x),
    lambda m, a, x: _mvn_lp(m, _tril_np(a) @ np.swapaxes(_tril_np(a), -1, -2), x),
    [S(arr(3), arr(3, 3), arr(4, 3)), S(arr(2, 3), arr(2, 3, 3), arr(2, 3), desc="batched")],
)
register(
    "dist.MultivariateNormal.log_prob_precision",
    lambda m, a, x: D.MultivariateNormal(m, precision_matrix=_spd(a)).log_prob(x),
    lambda m, a, x: _mvn_lp(m, np.linalg.inv(_spd_np(a)), x),
    [S(arr(3), arr(3, 3), arr(2, 3))],
)
register(
    "dist.MultivariateNormal.entropy",
    lambda m, a: D.MultivariateNormal(m, covariance_matrix=_spd(a)).entropy(),
    lambda m, a: np.broadcast_to(_mvn_ent(_spd_np(a)), m.shape[:-1]),
    [S(arr(3), arr(3, 3)), S(arr(2, 3), arr(3, 3), desc="batch-loc")],
)
register(
    "dist.MultivariateNormal.rsample",
    _seeded(lambda m, a: D.MultivariateNormal(m, covariance_matrix=_spd(a)).rsample((4,))),
    None,
    [S(arr(3), arr(3, 3)), S(arr(2, 3), arr(3, 3), desc="batch-loc")],
)
register(
    "dist.MultivariateNormal.moments",
    lambda m, a: (
        D.MultivariateNormal(m, scale_tril=_tril(a)).variance,
        D.MultivariateNormal(m, scale_tril=_tril(a)).covariance_matrix,
        D.MultivariateNormal(m, scale_tril=_tril(a)).precision_matrix,
    ),
    lambda m, a: (
        (_tril_np(a) ** 2).sum(-1),
        _tril_np(a) @ _tril_np(a).T,
        np.linalg.inv(_tril_np(a) @ _tril_np(a).T),
    ),
    [S(arr(3), arr(3, 3))],
)


# --- TransformedDistribution and transforms ---------------------------------------------------------------
def _td(m, s, t):
    return D.TransformedDistribution(D.Normal(m, s), [t])


_y = C(_rng.uniform(-0.8, 0.8, size=(2, 3)))
register(
    "dist.Tanh.log_prob",
    lambda m, s, y: _td(m, s, D.TanhTransform()).log_prob(y),
    lambda m, s, y: _normal_lp(m, s, np.arctanh(y)) - np.log1p(-y * y),
    [S(arr(3), pos(3), _y), S(arr(3), pos(3), arr(2, 3, low=-0.8, high=0.8), desc="grad-value")],
)
register(
    "dist.Sigmoid.log_prob",
    lambda m, s, y: _td(m, s, D.SigmoidTransform()).log_prob(y),
    lambda m, s, y: _normal_lp(m, s, np.log(y / (1 - y))) - np.log(y * (1 - y)),
    [S(arr(3), pos(3), probs(2, 3))],
)
register(
    "dist.Exp.log_prob",
    lambda m, s, y: _td(m, s, D.ExpTransform()).log_prob(y),
    lambda m, s, y: _normal_lp(m, s, np.log(y)) - np.log(y),
    [S(arr(3), pos(3), pos(2, 3))],
)
register(
    "dist.Affine.log_prob",
    lambda m, s, a, b, y: _td(m, s, D.AffineTransform(a, b)).log_prob(y),
    lambda m, s, a, b, y: _normal_lp(m, s, (y - a) / b) - np.log(np.abs(b)),
    [S(arr(3), pos(3), arr(3), pos(3), arr(2, 3))],
)
register(
    "dist.Tanh.rsample",
    _seeded(lambda m, s: _td(m, s, D.TanhTransform()).rsample((2,))),
    None,
    [S(arr(3), pos(3))],
)
register(
    "dist.transforms.ladj",
    lambda x: tuple(
        t.log_abs_det_jacobian(x, t(x))
        for t in (D.TanhTransform(), D.SigmoidTransform(), D.ExpTransform(), D.TanhTransform().inv)
    ),
    lambda x: (np.log1p(-(np.tanh(x) ** 2)), np.log(_sig(x) * (1 - _sig(x))), x, -np.log1p(-x * x)),
    [S(arr(2, 3, low=-0.9, high=0.9))],
)


# --- KL divergences -------------------------------------------------------------------------------------
register(
    "dist.kl.Normal-Normal",
    lambda m1, s1, m2, s2: D.kl_divergence(D.Normal(m1, s1), D.Normal(m2, s2)),
    lambda m1, s1, m2, s2: np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5,
    [S(arr(3), pos(3), arr(3), pos(3)), S(arr(2, 3), pos(3), arr(3), pos(2, 1), desc="broadcast")],
)
register(
    "dist.kl.Bernoulli-Bernoulli",
    lambda p, q: D.kl_divergence(D.Bernoulli(probs=p), D.Bernoulli(probs=q)),
    lambda p, q: p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)),
    [S(probs(3), probs(3))],
)
register(
    "dist.kl.Bernoulli-Bernoulli_logits",
    lambda p, q: D.kl_divergence(D.Bernoulli(logits=p), D.Bernoulli(logits=q)),
    None,
    [S(arr(3), arr(3))],
)


def _kl_cat(p, q):
    p, q = p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    return (p * np.log(p / q)).sum(-1)


register(
    "dist.kl.Categorical-Categorical",
    lambda p, q: D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q)),
    _kl_cat,
    [S(probs(2, 4), probs(2, 4)), S(probs(2, 4), probs(4), desc="broadcast")],
)
register(
    "dist.kl.Categorical-Categorical_logits",
    lambda p, q: D.kl_divergence(D.Categorical(logits=p), D.Categorical(logits=q)),
    lambda p, q: _kl_cat(np.exp(_lsm(p)), np.exp(_lsm(q))),
    [S(arr(2, 4), arr(2, 4))],
)
register(
    "dist.kl.Independent-Independent",
    lambda m1, s1, m2, s2: D.kl_divergence(
        D.Independent(D.Normal(m1, s1), 1), D.Independent(D.Normal(m2, s2), 1)
    ),
    lambda m1, s1, m2, s2: (np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5).sum(-1),
    [S(arr(2, 3), pos(2, 3), arr(2, 3), pos(2, 3))],
)
register(
    "dist.kl.Uniform-Uniform",
    lambda l1, h1, l2, h2: D.kl_divergence(D.Uniform(l1, h1), D.Uniform(l2, h2)),
    lambda l1, h1, l2, h2: np.log((h2 - l2) / (h1 - l1)),
    [
        S(
            arr(3, low=-1.0, high=-0.5),
            pos(3, low=0.5, high=1.0),
            arr(3, low=-2.0, high=-1.5),
            pos(3, low=1.5, high=2.0),
        )
    ],
)


def _kl_mvn_np(m1, c1, m2, c2):
    n = m1.shape[-1]
    i2 = np.linalg.inv(c2)
    d = m2 - m1
    return 0.5 * (
        np.trace(i2 @ c1, axis1=-2, axis2=-1)
        + np.einsum("...i,...ij,...j->...", d, i2, d)
        - n
        + np.linalg.slogdet(c2)[1]
        - np.linalg.slogdet(c1)[1]
    )


register(
    "dist.kl.MultivariateNormal-MultivariateNormal",
    lambda m1, a1, m2, a2: D.kl_divergence(
        D.MultivariateNormal(m1, covariance_matrix=_spd(a1)), D.MultivariateNormal(m2, scale_tril=_tril(a2))
    ),
    lambda m1, a1, m2, a2: _kl_mvn_np(m1, _spd_np(a1), m2, _tril_np(a2) @ np.swapaxes(_tril_np(a2), -1, -2)),
    [S(arr(3), arr(3, 3), arr(3), arr(3, 3)), S(arr(2, 3), arr(3, 3), arr(3), arr(2, 3, 3), desc="batched")],
)


# --- special functions (minigrad.ops.special) and Beta ----------------------------------------------------
try:
    import scipy.special as _sp
except ImportError:  # the forward test then only checks finiteness; test_distributions checks the series
    _sp = None

register(
    "lgamma",
    mg.lgamma,
    np.vectorize(math.lgamma),
    [S(pos(3, 4, low=0.1, high=8.0)), S(arr(5, low=-2.8, high=-2.2), desc="negative")],
    covers=("lgamma", "Lgamma"),
)
register(
    "digamma",
    mg.digamma,
    _sp.digamma if _sp else None,
    [S(pos(3, 4, low=0.1, high=8.0)), S(arr(4, low=-0.8, high=-0.2), desc="negative")],
    covers=("digamma", "Polygamma"),
)
register(
    "polygamma",
    lambda x, n: mg.polygamma(n, x),
    (lambda x, n: _sp.polygamma(n, x)) if _sp else None,
    [S(pos(3, low=0.2, high=6.0), 1), S(pos(2, 3, low=0.5, high=6.0), 2)],
)


def _beta_lp(a, b, x):
    lb = np.vectorize(math.lgamma)
    return (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - (lb(a) + lb(b) - lb(a + b))


register(
    "dist.Beta.log_prob",
    lambda a, b, x: D.Beta(a, b).log_prob(x),
    _beta_lp,
    [S(pos(3), pos(3), probs(4, 3)), S(pos(2, 1), pos(3), probs(2, 3), desc="broadcast")],
)
register("dist.Beta.entropy", lambda a, b: D.Beta(a, b).entropy(), None, [S(pos(3), pos(3))])
register(
    "dist.Beta.moments",
    lambda a, b: (D.Beta(a, b).mean, D.Beta(a, b).variance),
    lambda a, b: (a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))),
    [S(pos(3), pos(3))],
)
register(
    "dist.kl.Beta-Beta",
    lambda a, b, c, d: D.kl_divergence(D.Beta(a, b), D.Beta(c, d)),
    None,
    [S(pos(3), pos(3), pos(3), pos(3))],
)
