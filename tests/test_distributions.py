"""minigrad.distributions: shapes, validation, seeding, sample statistics, closed forms, PyTorch oracle,
and the samplers they rest on (``mg.multinomial``, ``mg.normal``). Gradients (any order) of every
log_prob/entropy/rsample/KL are checked through the op registry (tests/opdb_dist.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as D

rng = np.random.default_rng(11)


def T(a, dtype=np.float64, requires_grad=False):
    return mg.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def spd(n, batch=()):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


# --- shapes ------------------------------------------------------------------------------------------
def test_normal_shapes_and_broadcast():
    d = D.Normal(T(np.zeros((3, 1))), T(np.ones(4)))
    assert d.batch_shape == (3, 4) and d.event_shape == ()
    assert d.sample().shape == (3, 4)
    assert d.sample((5,)).shape == (5, 3, 4)
    assert d.rsample((2, 5)).shape == (2, 5, 3, 4)
    assert d.log_prob(T(np.zeros((7, 1, 4)))).shape == (7, 3, 4)
    assert D.Normal(0.0, 1.0).sample((3,)).shape == (3,)
    assert D.Normal(0.0, 1.0).batch_shape == ()


def test_categorical_shapes():
    d = D.Categorical(probs=T(rng.uniform(0.1, 1, size=(2, 3, 5))))
    assert d.batch_shape == (2, 3) and d.event_shape == ()
    s = d.sample((4,))
    assert s.shape == (4, 2, 3) and s.dtype == np.int64
    assert int(s.array.max()) < 5 and int(s.array.min()) >= 0
    assert d.log_prob(s).shape == (4, 2, 3)
    assert d.entropy().shape == (2, 3)
    assert d.enumerate_support().shape == (5, 2, 3)
    assert d.mode.shape == (2, 3)
    assert np.isnan(d.mean.numpy()).all() and d.mean.shape == (2, 3)


def test_mvn_shapes():
    d = D.MultivariateNormal(T(np.zeros((2, 3))), covariance_matrix=T(spd(3)))
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    assert d.sample((4,)).shape == (4, 2, 3)
    assert d.log_prob(d.sample((4,))).shape == (4, 2)
    assert d.entropy().shape == (2,)
    assert d.covariance_matrix.shape == (2, 3, 3) and d.variance.shape == (2, 3)
    with pytest.raises(ValueError, match="event_shape"):
        d.log_prob(T(np.zeros((2, 4))))


def test_independent_reinterprets_batch_dims():
    base = D.Normal(T(np.zeros((2, 3, 4))), T(np.ones((2, 3, 4))))
    d = D.Independent(base, 2)
    assert d.batch_shape == (2,) and d.event_shape == (3, 4)
    x = d.sample((5,))
    assert x.shape == (5, 2, 3, 4)
    np.testing.assert_allclose(d.log_prob(x).numpy(), base.log_prob(x).numpy().sum((-1, -2)))
    np.testing.assert_allclose(d.entropy().numpy(), base.entropy().numpy().sum((-1, -2)))
    assert d.has_rsample
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(base, 4)


def test_expand():
    d = D.Normal(T([0.0, 1.0]), T([1.0, 2.0])).expand((3, 2))
    assert d.batch_shape == (3, 2) and d.sample().shape == (3, 2)
    c = D.Categorical(logits=T(rng.normal(size=4))).expand((2, 3))
    assert c.batch_shape == (2, 3) and c.sample().shape == (2, 3)
    b = D.Bernoulli(probs=T(0.3)).expand((5,))
    assert b.sample((2,)).shape == (2, 5)
    m = D.MultivariateNormal(T(np.zeros(2)), scale_tril=T(np.eye(2))).expand((4,))
    assert m.batch_shape == (4,) and m.sample().shape == (4, 2)
    i = D.Independent(D.Normal(T(np.zeros(3)), T(np.ones(3))), 1).expand((2,))
    assert i.batch_shape == (2,) and i.event_shape == (3,)
    t = D.TransformedDistribution(D.Normal(T([0.0, 1.0]), T([1.0, 2.0])), [D.TanhTransform()]).expand((3, 2))
    assert t.batch_shape == (3, 2) and t.sample((4,)).shape == (4, 3, 2)
    be = D.Beta(T(2.0), T(3.0)).expand((2,))
    assert be.sample().shape == (2,)


# --- validation -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,dist,param",
    [
        (lambda: D.Normal(T([0.0]), T([-1.0])), "Normal", "scale"),
        (lambda: D.Normal(T([float("nan")]), T([1.0])), "Normal", "loc"),
        (lambda: D.Bernoulli(probs=T([1.5])), "Bernoulli", "probs"),
        (lambda: D.Categorical(probs=T([0.5, -0.1, 0.6])), "Categorical", "probs"),
        (
            lambda: D.MultivariateNormal(T([0.0, 0.0]), covariance_matrix=T([[1.0, 2.0], [2.0, 1.0]])),
            "MultivariateNormal",
            "covariance_matrix",
        ),
        (
            lambda: D.MultivariateNormal(T([0.0, 0.0]), scale_tril=T([[1.0, 1.0], [0.0, 1.0]])),
            "MultivariateNormal",
            "scale_tril",
        ),
        (lambda: D.Uniform(T([1.0]), T([0.0])), "Uniform", "low"),
        (lambda: D.Beta(T([1.0]), T([-0.5])), "Beta", "concentration0"),
    ],
)
def test_invalid_parameters_raise(make, dist, param):
    with pytest.raises(ValueError, match=rf"(?s)parameter {param}.*{dist}"):
        make()


@pytest.mark.parametrize(
    "dist,value",
    [
        (lambda: D.Bernoulli(probs=T([0.3, 0.6])), T([0.5, 1.0])),
        (lambda: D.Categorical(probs=T([0.3, 0.7])), mg.tensor([2])),
        (lambda: D.Categorical(probs=T([0.3, 0.7])), mg.tensor([-1])),
        (lambda: D.Uniform(T([0.0]), T([1.0])), T([1.5])),
        (lambda: D.Beta(T([2.0]), T([2.0])), T([1.5])),
        (lambda: D.TransformedDistribution(D.Normal(0.0, 1.0), [D.TanhTransform()]), mg.tensor([1.5])),
    ],
)
def test_log_prob_outside_support_raises(dist, value):
    with pytest.raises(ValueError, match="support"):
        dist().log_prob(value)


def test_validation_can_be_turned_off():
    d = D.Normal(T([0.0]), T([-1.0]), validate_args=False)
    assert d.scale.item() == -1.0
    assert np.isneginf(D.Uniform(T([0.0]), T([1.0]), validate_args=False).log_prob(T([1.5])).numpy()).all()
    D.Distribution.set_default_validate_args(False)
    try:
        D.Bernoulli(probs=T([1.5]))
        D.Bernoulli(probs=T([0.5])).log_prob(T([0.5]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Bernoulli(probs=T([1.5]))
    with pytest.raises(ValueError, match="bool"):
        D.Distribution.set_default_validate_args("yes")


def test_bad_arguments():
    with pytest.raises(ValueError, match="probs.*logits"):
        D.Categorical(probs=T([0.5, 0.5]), logits=T([0.0, 0.0]))
    with pytest.raises(ValueError, match="probs.*logits"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="exactly one"):
        D.MultivariateNormal(T([0.0]), covariance_matrix=T([[1.0]]), scale_tril=T([[1.0]]))
    with pytest.raises(ValueError, match="event size"):
        D.MultivariateNormal(T([0.0, 0.0]), covariance_matrix=T(np.eye(3)))
    with pytest.raises(ValueError, match="broadcastable"):
        D.Normal(T(np.zeros(3)), T(np.ones(3))).log_prob(T(np.zeros(4)))
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Bernoulli(probs=T([0.5])).rsample()
    with pytest.raises(NotImplementedError, match="Normal.*Bernoulli"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=T(0.5)))


# --- seeding and statistics -------------------------------------------------------------------------------
DISTS = {
    "Normal": lambda: D.Normal(T([0.5, -1.0]), T([1.0, 2.0])),
    "Uniform": lambda: D.Uniform(T([-1.0, 0.0]), T([1.0, 3.0])),
    "Bernoulli": lambda: D.Bernoulli(probs=T([0.2, 0.7])),
    "Categorical": lambda: D.Categorical(probs=T([[0.2, 0.3, 0.5], [0.6, 0.0, 0.4]])),
    "MultivariateNormal": lambda: D.MultivariateNormal(
        T([1.0, -1.0]), covariance_matrix=T([[2.0, 0.6], [0.6, 1.0]])
    ),
    "Independent": lambda: D.Independent(D.Normal(T([0.0, 1.0]), T([1.0, 0.5])), 1),
    "Tanh": lambda: D.TransformedDistribution(D.Normal(T([0.0, 1.0]), T([1.0, 0.5])), [D.TanhTransform()]),
    "Beta": lambda: D.Beta(T([0.5, 2.0]), T([0.8, 3.0])),
}


@pytest.mark.parametrize("name", list(DISTS))
def test_manual_seed_makes_samples_reproducible(name):
    d = DISTS[name]()
    mg.manual_seed(123)
    a = d.sample((50,)).numpy()
    mg.manual_seed(123)
    b = d.sample((50,)).numpy()
    c = d.sample((50,)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    assert not d.sample().requires_grad


@pytest.mark.parametrize(
    "name", ["Normal", "Uniform", "Bernoulli", "MultivariateNormal", "Independent", "Beta"]
)
def test_sample_mean_and_variance(name):
    d = DISTS[name]()
    x = d.sample((20000,)).numpy()
    mean, var = d.mean.numpy(), d.variance.numpy()
    se = np.sqrt(var / 20000)
    assert (np.abs(x.mean(0) - mean) < 5 * se + 1e-12).all(), (x.mean(0), mean)
    np.testing.assert_allclose(x.var(0), var, rtol=0.05)
    np.testing.assert_allclose(d.stddev.numpy(), np.sqrt(var), rtol=1e-12)


def test_categorical_frequencies():
    d = DISTS["Categorical"]()
    x = d.sample((20000,)).numpy()
    p = d.probs.numpy()
    for row in range(2):
        freq = np.bincount(x[:, row], minlength=3) / 20000
        np.testing.assert_allclose(freq, p[row], atol=0.015)
    assert (x[:, 1] != 1).all()  # zero probability never drawn


def test_mvn_sample_covariance_and_closed_form():
    cov = spd(3)
    loc = rng.normal(size=3)
    d = D.MultivariateNormal(T(loc), covariance_matrix=T(cov))
    x = d.sample((20000,)).numpy()
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.1 * np.abs(cov).max())
    pts = rng.normal(size=(6, 3))
    diff = pts - loc
    ref = -0.5 * (
        3 * math.log(2 * math.pi)
        + np.einsum("bi,ij,bj->b", diff, np.linalg.inv(cov), diff)
        + np.log(np.linalg.det(cov))
    )
    np.testing.assert_allclose(d.log_prob(T(pts)).numpy(), ref, rtol=1e-10)
    # the three parameterisations agree
    for kw in ({"scale_tril": T(np.linalg.cholesky(cov))}, {"precision_matrix": T(np.linalg.inv(cov))}):
        np.testing.assert_allclose(
            D.MultivariateNormal(T(loc), **kw).log_prob(T(pts)).numpy(), ref, rtol=1e-8
        )
    # diagonal covariance = independent normals
    diag = rng.uniform(0.5, 2, size=3)
    dm = D.MultivariateNormal(T(loc), covariance_matrix=T(np.diag(diag)))
    di = D.Independent(D.Normal(T(loc), T(np.sqrt(diag))), 1)
    np.testing.assert_allclose(dm.log_prob(T(pts)).numpy(), di.log_prob(T(pts)).numpy(), rtol=1e-10)
    np.testing.assert_allclose(dm.entropy().numpy(), di.entropy().numpy(), rtol=1e-10)


def test_rsample_is_differentiable():
    loc, scale = T([0.5, 1.0], requires_grad=True), T([2.0, 3.0], requires_grad=True)
    mg.manual_seed(3)
    x = D.Normal(loc, scale).rsample((4,))
    mg.manual_seed(3)
    eps = D.Normal(T([0.0, 0.0]), T([1.0, 1.0])).sample((4,)).numpy()
    gl, gs = mg.grad(x.sum(), [loc, scale])
    np.testing.assert_allclose(gl.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(gs.numpy(), eps.sum(0))
    assert x.requires_grad and not D.Normal(loc, scale).sample().requires_grad


# --- transforms -------------------------------------------------------------------------------------------
def test_tanh_log_prob_matches_numerical_change_of_variables():
    base = D.Normal(T([0.3]), T([0.8]))
    td = D.TransformedDistribution(base, [D.TanhTransform()])
    y = np.linspace(-0.95, 0.95, 11)
    h = 1e-6
    dxdy = (np.arctanh(y + h) - np.arctanh(y - h)) / (2 * h)  # numerical Jacobian of the inverse
    ref = base.log_prob(T(np.arctanh(y)[:, None])).numpy()[:, 0] + np.log(dxdy)
    np.testing.assert_allclose(td.log_prob(T(y[:, None])).numpy()[:, 0], ref, rtol=1e-7)


def test_tanh_log_det_is_stable_for_large_inputs():
    t = D.TanhTransform()
    x = T([-50.0, -20.0, 0.0, 20.0, 50.0])
    ladj = t.log_abs_det_jacobian(x, t(x)).numpy()
    assert np.isfinite(ladj).all()
    np.testing.assert_allclose(ladj[[0, 4]], 2 * (math.log(2) - 50.0), rtol=1e-12)
    assert ladj[2] == pytest.approx(0.0)


def test_transform_inverses():
    x = T(rng.normal(size=(3, 2)))
    for t in (
        D.TanhTransform(),
        D.SigmoidTransform(),
        D.ExpTransform(),
        D.AffineTransform(1.0, T([2.0, -3.0])),
    ):
        np.testing.assert_allclose(t.inv(t(x)).numpy(), x.numpy(), rtol=1e-8, atol=1e-10)
        assert t.inv.inv is t
        y = t(x)
        np.testing.assert_allclose(
            t.inv.log_abs_det_jacobian(y, x).numpy(), -t.log_abs_det_jacobian(x, y).numpy()
        )
    cached = D.TanhTransform(cache_size=1)
    big = T([30.0])
    assert cached.inv(cached(big)) is big  # atanh(tanh(30)) would be inf without the cache
    a = D.AffineTransform(T([0.0]), T([2.0, 3.0]), event_dim=1)
    assert a.log_abs_det_jacobian(x, a(x)).shape == (3,)
    assert a.sign.numpy().tolist() == [1.0, 1.0]


def test_transformed_distribution_with_affine_is_normal():
    td = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.AffineTransform(T(2.0), T(3.0))])
    y = T(rng.normal(size=5))
    np.testing.assert_allclose(td.log_prob(y).numpy(), D.Normal(T(2.0), T(3.0)).log_prob(y).numpy())
    np.testing.assert_allclose(td.cdf(y).numpy(), D.Normal(T(2.0), T(3.0)).cdf(y).numpy())
    assert td.has_rsample and td.rsample((4,)).shape == (4,)
    affine = D.AffineTransform(T([0.0, 1.0]), T([-1.0, 2.0]))
    flipped = D.TransformedDistribution(D.Normal(0.0, 1.0), [affine])
    np.testing.assert_allclose(flipped.cdf(T([0.5, 0.5])).numpy(), [0.6914624612740131, 0.4012936743170763])


# --- stability --------------------------------------------------------------------------------------------
def test_bernoulli_large_logits_are_stable():
    d = D.Bernoulli(logits=T([-200.0, 200.0, 0.0]))
    lp = d.log_prob(T([1.0, 0.0, 1.0])).numpy()
    np.testing.assert_allclose(lp, [-200.0, -200.0, -math.log(2)])
    np.testing.assert_allclose(d.log_prob(T([0.0, 1.0, 0.0])).numpy(), [0.0, 0.0, -math.log(2)], atol=1e-12)
    assert np.isfinite(d.entropy().numpy()).all()


def test_categorical_stable_logits_and_zero_probs():
    d = D.Categorical(logits=T([1000.0, 0.0, -1000.0]))
    np.testing.assert_allclose(d.log_prob(mg.tensor([0, 1])).numpy(), [0.0, -1000.0])
    z = D.Categorical(probs=T([0.5, 0.5, 0.0]))
    assert z.entropy().item() == pytest.approx(math.log(2))
    assert np.isfinite(z.log_prob(mg.tensor([2])).numpy()).all()


# --- KL registry --------------------------------------------------------------------------------------------
def test_register_kl_dispatches_to_most_specific():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(T([0.0]), T([1.0])), D.Normal(T([1.0]), T([2.0]))
    base = D.kl_divergence(p, q).numpy()  # falls back to Normal-Normal
    D.register_kl(MyNormal, D.Normal)(lambda p, q: mg.zeros(1, dtype=mg.float64))
    try:
        assert D.kl_divergence(p, q).numpy().tolist() == [0.0]
        np.testing.assert_allclose(D.kl_divergence(q, q).numpy(), [0.0])
    finally:
        from minigrad.distributions import kl

        del kl._KL_REGISTRY[MyNormal, D.Normal]
        kl._KL_MEMO.clear()
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), base)
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_kl_infinite_where_support_not_covered():
    assert np.isposinf(D.kl_divergence(D.Uniform(T(0.0), T(2.0)), D.Uniform(T(0.0), T(1.0))).item())
    kl = D.kl_divergence(D.Categorical(probs=T([0.5, 0.5])), D.Categorical(probs=T([1.0, 0.0])))
    assert np.isposinf(kl.item())
    kl = D.kl_divergence(D.Bernoulli(probs=T(0.0)), D.Bernoulli(probs=T(0.5)))
    assert kl.item() == pytest.approx(math.log(2))


# --- float32 survival ---------------------------------------------------------------------------------------
F32 = {
    "Normal": lambda a: D.Normal(a["loc"], a["scale"]),
    "Uniform": lambda a: D.Uniform(a["loc"] - 3.0, a["scale"] + 3.0),
    "Bernoulli": lambda a: D.Bernoulli(probs=a["p"]),
    "BernoulliLogits": lambda a: D.Bernoulli(logits=a["loc"]),
    "Categorical": lambda a: D.Categorical(probs=a["p2"]),
    "CategoricalLogits": lambda a: D.Categorical(logits=a["p2"]),
    "MultivariateNormal": lambda a: D.MultivariateNormal(a["loc"], covariance_matrix=a["cov"]),
    "MultivariateNormalPrecision": lambda a: D.MultivariateNormal(a["loc"], precision_matrix=a["cov"]),
    "Independent": lambda a: D.Independent(D.Normal(a["loc"], a["scale"]), 1),
    "Tanh": lambda a: D.TransformedDistribution(D.Normal(a["loc"], a["scale"]), [D.TanhTransform()]),
    "Beta": lambda a: D.Beta(a["scale"], a["p"]),
    "Sigmoid": lambda a: D.TransformedDistribution(D.Normal(a["loc"], a["scale"]), [D.SigmoidTransform()]),
}


@pytest.mark.parametrize("name", list(F32))
def test_float32_parameters_stay_float32(name):
    args = {
        "loc": T([0.1, -0.2, 0.3], np.float32, True),
        "scale": T([1.0, 0.5, 2.0], np.float32, True),
        "p": T([0.2, 0.5, 0.7], np.float32, True),
        "p2": T([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], np.float32, True),
        "cov": T(spd(3), np.float32, True),
    }
    d = F32[name](args)
    x = d.sample((4,))
    if x.dtype.kind == "f":
        assert x.dtype == np.float32, x.dtype
    lp = d.log_prob(x)
    assert lp.dtype == np.float32
    leaves = [v for v in args.values()]
    gs = mg.grad(lp.sum(), leaves, allow_unused=True)
    assert all(g is None or g.dtype == np.float32 for g in gs)
    if d.has_rsample:
        assert d.rsample().dtype == np.float32
    if name not in ("Tanh", "Sigmoid"):
        assert d.entropy().dtype == np.float32
        assert D.kl_divergence(d, d).dtype == np.float32


# --- mg.multinomial ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "probs,n,kw,match",
    [
        ([0.5, -0.1, 0.6], 1, {}, "element < 0"),
        ([0.5, float("nan"), 0.6], 1, {}, "nan"),
        ([0.5, float("inf")], 1, {}, "inf"),
        ([[0.5, 0.5], [0.0, 0.0]], 1, {}, "sum of probabilities"),
        ([0.5, 0.5], 3, {}, "without replacement"),
        ([0.5, 0.0, 0.5], 3, {}, "not enough non-zero"),
        ([0.5, 0.5], 0, {"replacement": True}, "n_sample <= 0"),
        ([[[0.5, 0.5]]], 1, {}, "1 or 2 dim"),
    ],
)
def test_multinomial_rejects_bad_input(probs, n, kw, match):
    with pytest.raises(ValueError, match=match):
        mg.multinomial(T(probs), n, **kw)


def test_multinomial_shapes_and_dtype():
    assert mg.multinomial(T([0.2, 0.8]), 5, replacement=True).shape == (5,)
    out = mg.multinomial(T([[0.2, 0.8, 0.0], [1.0, 1.0, 1.0]]), 2)
    assert out.shape == (2, 2) and out.dtype == np.int64
    with pytest.raises(TypeError, match="floating"):
        mg.multinomial(mg.tensor([1, 2]), 1)


def test_multinomial_without_replacement_draws_distinct_categories():
    w = T(
        rng.uniform(0.1, 1.0, size=(50, 6)) * (rng.uniform(size=(50, 6)) > 0.2)
        + np.eye(6)[rng.integers(0, 6, 50)]
    )
    nz = (w.numpy() > 0).sum(1).min()
    out = mg.multinomial(w, int(nz)).numpy()
    for row, ws in zip(out, w.numpy()):
        assert len(set(row.tolist())) == len(row)
        assert (ws[row] > 0).all()
    full = mg.multinomial(T([3.0, 1.0, 2.0, 4.0]), 4).numpy()
    assert sorted(full.tolist()) == [0, 1, 2, 3]


def test_multinomial_frequencies():
    p = np.array([0.1, 0.0, 0.6, 0.3])
    out = mg.multinomial(T(p * 5), 20000, replacement=True).numpy()
    np.testing.assert_allclose(np.bincount(out, minlength=4) / 20000, p, atol=0.015)
    # without replacement, the first draw follows p and the second is p renormalised without the first
    first = mg.multinomial(T(np.tile(p, (20000, 1))), 2).numpy()
    np.testing.assert_allclose(np.bincount(first[:, 0], minlength=4) / 20000, p, atol=0.015)
    exp2 = sum(p[i] * np.where(np.arange(4) == i, 0, p) / (1 - p[i]) for i in range(4) if p[i] > 0)
    np.testing.assert_allclose(np.bincount(first[:, 1], minlength=4) / 20000, exp2, atol=0.015)


def test_multinomial_seeding_and_generator():
    mg.manual_seed(5)
    a = mg.multinomial(T([0.3, 0.3, 0.4]), 10, replacement=True).numpy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(a, mg.multinomial(T([0.3, 0.3, 0.4]), 10, replacement=True).numpy())
    g1, g2 = mg.Generator().manual_seed(9), mg.Generator().manual_seed(9)
    np.testing.assert_array_equal(
        mg.multinomial(T([0.3, 0.3, 0.4]), 3, generator=g1).numpy(),
        mg.multinomial(T([0.3, 0.3, 0.4]), 3, generator=g2).numpy(),
    )


# --- mg.normal ----------------------------------------------------------------------------------------------
def test_normal_with_tensors():
    mean = T(np.arange(3.0), np.float32)
    out = mg.normal(mean, 1e-6)
    assert out.shape == (3,) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [0, 1, 2], atol=1e-4)
    std = T([[1.0], [2.0]])
    both = mg.normal(T(np.zeros(3)), std)
    assert both.shape == (2, 3) and both.dtype == np.float64
    assert mg.normal(0.0, std).shape == (2, 1)
    x = mg.normal(T(np.full(20000, 2.0)), T(np.full(20000, 3.0))).numpy()
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1
    assert mg.normal(1.0, 2.0, (4, 5)).shape == (4, 5)
    assert mg.normal(1.0, 2.0, size=(3,)).dtype == mg.get_default_dtype()
    mg.manual_seed(1)
    a = mg.normal(mean, 1.0).numpy()
    mg.manual_seed(1)
    np.testing.assert_array_equal(a, mg.normal(mean, 1.0).numpy())


def test_normal_rejects_bad_arguments():
    with pytest.raises(ValueError, match="std >= 0"):
        mg.normal(T([0.0]), T([-1.0]))
    with pytest.raises(ValueError, match="std >= 0"):
        mg.normal(0.0, -1.0, (2,))
    with pytest.raises(ValueError, match="broadcast"):
        mg.normal(T(np.zeros(3)), T(np.ones(4)))
    with pytest.raises(TypeError, match="size"):
        mg.normal(0.0, 1.0)


# --- PyTorch oracle -----------------------------------------------------------------------------------------
_LOC, _SCALE = rng.normal(size=(2, 3)), rng.uniform(0.5, 2.0, size=(2, 3))
_P, _P2 = rng.uniform(0.1, 0.9, size=(2, 3)), rng.uniform(0.1, 0.9, size=(2, 4))
_LG = rng.normal(size=(2, 4))
_COV, _COV2, _M = spd(3, (2,)), spd(3), rng.normal(size=(2, 3))
_LO, _HI = rng.uniform(-2, -1, size=3), rng.uniform(1, 2, size=3)


def _cases(td):
    """(name, minigrad distribution, torch distribution, values) for every distribution."""
    import torch

    def t(a):
        return torch.tensor(np.asarray(a, dtype=np.float64))

    x = rng.normal(size=(4, 2, 3))
    y = np.tanh(x) * 0.9
    return [
        ("Normal", D.Normal(T(_LOC), T(_SCALE)), td.Normal(t(_LOC), t(_SCALE)), x),
        ("Uniform", D.Uniform(T(_LO), T(_HI)), td.Uniform(t(_LO), t(_HI)), rng.uniform(-1, 1, size=(4, 3))),
        (
            "Bernoulli",
            D.Bernoulli(probs=T(_P)),
            td.Bernoulli(probs=t(_P)),
            rng.integers(0, 2, (4, 2, 3)) * 1.0,
        ),
        (
            "BernoulliLogits",
            D.Bernoulli(logits=T(_LOC)),
            td.Bernoulli(logits=t(_LOC)),
            rng.integers(0, 2, (4, 2, 3)) * 1.0,
        ),
        (
            "Categorical",
            D.Categorical(probs=T(_P2)),
            td.Categorical(probs=t(_P2)),
            rng.integers(0, 4, (5, 2)),
        ),
        (
            "CategoricalLogits",
            D.Categorical(logits=T(_LG)),
            td.Categorical(logits=t(_LG)),
            rng.integers(0, 4, (5, 2)),
        ),
        (
            "MVN-cov",
            D.MultivariateNormal(T(_M), covariance_matrix=T(_COV)),
            td.MultivariateNormal(t(_M), covariance_matrix=t(_COV)),
            x,
        ),
        (
            "MVN-tril",
            D.MultivariateNormal(T(_M[0]), scale_tril=T(np.linalg.cholesky(_COV2))),
            td.MultivariateNormal(t(_M[0]), scale_tril=t(np.linalg.cholesky(_COV2))),
            x,
        ),
        (
            "MVN-precision",
            D.MultivariateNormal(T(_M), precision_matrix=T(_COV)),
            td.MultivariateNormal(t(_M), precision_matrix=t(_COV)),
            x,
        ),
        (
            "Independent",
            D.Independent(D.Normal(T(_LOC), T(_SCALE)), 1),
            td.Independent(td.Normal(t(_LOC), t(_SCALE)), 1),
            x,
        ),
        (
            "Tanh",
            D.TransformedDistribution(D.Normal(T(_LOC), T(_SCALE)), [D.TanhTransform()]),
            td.TransformedDistribution(td.Normal(t(_LOC), t(_SCALE)), [td.TanhTransform()]),
            y,
        ),
        (
            "Sigmoid-Affine",
            D.TransformedDistribution(
                D.Normal(T(_LOC), T(_SCALE)), [D.SigmoidTransform(), D.AffineTransform(1.0, T(_SCALE))]
            ),
            td.TransformedDistribution(
                td.Normal(t(_LOC), t(_SCALE)), [td.SigmoidTransform(), td.AffineTransform(1.0, t(_SCALE))]
            ),
            1.0 + (0.5 + 0.4 * np.tanh(x)) * _SCALE,
        ),
        (
            "Exp",
            D.TransformedDistribution(D.Normal(T(_LOC), T(_SCALE)), [D.ExpTransform()]),
            td.TransformedDistribution(td.Normal(t(_LOC), t(_SCALE)), [td.ExpTransform()]),
            np.exp(x),
        ),
        (
            "Beta",
            D.Beta(T(_SCALE), T(_P * 3)),
            td.Beta(t(_SCALE), t(_P * 3)),
            rng.uniform(0.02, 0.98, size=(4, 2, 3)),
        ),
        (
            "Beta-small",
            D.Beta(T([0.5, 0.3]), T([0.7, 2.0])),
            td.Beta(t([0.5, 0.3]), t([0.7, 2.0])),
            np.array([0.1, 0.9]),
        ),
    ]


def _cmp(a, b, what):
    b = b.detach().numpy()
    a = a.numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("idx", range(15))
def test_against_torch(idx):
    torch = pytest.importorskip("torch")
    td = torch.distributions
    name, p, q, v = _cases(td)[idx]
    vt = torch.tensor(v)
    vm = mg.tensor(v)
    _cmp(p.log_prob(vm), q.log_prob(vt), f"{name}.log_prob")
    assert p.batch_shape == tuple(q.batch_shape) and p.event_shape == tuple(q.event_shape)
    assert p.has_rsample == q.has_rsample or name.startswith("Beta")  # no implicit Gamma gradients
    if not isinstance(p, D.TransformedDistribution):
        _cmp(p.entropy(), q.entropy(), f"{name}.entropy")
        for attr in ("mean", "stddev", "variance", "mode"):
            _cmp(getattr(p, attr), getattr(q, attr), f"{name}.{attr}")


def _kl_cases(td):
    import torch

    def t(a):
        return torch.tensor(np.asarray(a, dtype=np.float64))

    n2 = (rng.normal(size=3), rng.uniform(0.5, 2, size=(2, 3)))
    return [
        (
            "Normal",
            D.Normal(T(_LOC), T(_SCALE)),
            D.Normal(T(n2[0]), T(n2[1])),
            td.Normal(t(_LOC), t(_SCALE)),
            td.Normal(t(n2[0]), t(n2[1])),
        ),
        (
            "Bernoulli",
            D.Bernoulli(probs=T(_P)),
            D.Bernoulli(logits=T(_LOC)),
            td.Bernoulli(probs=t(_P)),
            td.Bernoulli(logits=t(_LOC)),
        ),
        (
            "Categorical",
            D.Categorical(probs=T(_P2)),
            D.Categorical(logits=T(_LG)),
            td.Categorical(probs=t(_P2)),
            td.Categorical(logits=t(_LG)),
        ),
        (
            "Independent",
            D.Independent(D.Normal(T(_LOC), T(_SCALE)), 1),
            D.Independent(D.Normal(T(n2[0]), T(n2[1])), 1),
            td.Independent(td.Normal(t(_LOC), t(_SCALE)), 1),
            td.Independent(td.Normal(t(n2[0]), t(n2[1])), 1),
        ),
        (
            "MVN",
            D.MultivariateNormal(T(_M), covariance_matrix=T(_COV)),
            D.MultivariateNormal(T(_M[0]), scale_tril=T(np.linalg.cholesky(_COV2))),
            td.MultivariateNormal(t(_M), covariance_matrix=t(_COV)),
            td.MultivariateNormal(t(_M[0]), scale_tril=t(np.linalg.cholesky(_COV2))),
        ),
        (
            "Uniform",
            D.Uniform(T(_LO), T(_HI)),
            D.Uniform(T(_LO - 1), T(_HI + np.array([1.0, -1.5, 1.0]))),
            td.Uniform(t(_LO), t(_HI)),
            td.Uniform(t(_LO - 1), t(_HI + np.array([1.0, -1.5, 1.0]))),
        ),
        (
            "Beta",
            D.Beta(T(_SCALE), T(_P)),
            D.Beta(T(_P), T(_SCALE[0])),
            td.Beta(t(_SCALE), t(_P)),
            td.Beta(t(_P), t(_SCALE[0])),
        ),
    ]


@pytest.mark.parametrize("idx", range(7))
def test_kl_against_torch(idx):
    torch = pytest.importorskip("torch")
    name, p, q, tp, tq = _kl_cases(torch.distributions)[idx]
    _cmp(D.kl_divergence(p, q), torch.distributions.kl_divergence(tp, tq), f"KL {name}")
    _cmp(D.kl_divergence(q, p), torch.distributions.kl_divergence(tq, tp), f"KL {name} reversed")


def test_multinomial_errors_like_torch():
    torch = pytest.importorskip("torch")
    for probs, n in (([0.5, -0.1], 1), ([0.0, 0.0], 1), ([0.5, 0.5], 3)):
        with pytest.raises(RuntimeError):
            torch.multinomial(torch.tensor(probs), n)
        with pytest.raises(ValueError):
            mg.multinomial(T(probs), n)


# --- special functions ------------------------------------------------------------------------------------
def test_special_function_series_match_reference():
    """The SciPy-free series (used without SciPy/cupyx) against math.lgamma and finite differences."""
    from minigrad.ops import special

    x = np.concatenate([np.linspace(0.01, 40, 400), [1e-3, 0.5, 1.0, 2.0, 1e3]])
    ref = np.array([math.lgamma(v) for v in x])
    np.testing.assert_allclose(special._lgamma_series(np, x), ref, rtol=1e-13, atol=1e-13)
    xn = np.array([-0.5, -1.5, -2.7, -0.1])
    np.testing.assert_allclose(special._lgamma_series(np, xn), [math.lgamma(v) for v in xn], atol=1e-13)
    h = 1e-5
    for n in range(3):
        if n == 0:
            num = (np.array([math.lgamma(v + h) - math.lgamma(v - h) for v in x[x > 0.1]])) / (2 * h)
        else:
            num = (
                special._polygamma_series(np, n - 1, x[x > 0.1] + h)
                - special._polygamma_series(np, n - 1, x[x > 0.1] - h)
            ) / (2 * h)
        np.testing.assert_allclose(special._polygamma_series(np, n, x[x > 0.1]), num, rtol=1e-6, atol=1e-6)
    # digamma(1) = -Euler's gamma, trigamma(1) = pi^2 / 6
    assert special._polygamma_series(np, 0, np.array([1.0]))[0] == pytest.approx(
        -0.5772156649015329, abs=1e-14
    )
    assert special._polygamma_series(np, 1, np.array([1.0]))[0] == pytest.approx(math.pi**2 / 6, abs=1e-14)


def test_special_functions_api(monkeypatch):
    x = T([0.5, 1.0, 3.0], np.float32)
    assert mg.lgamma(x).dtype == np.float32 and x.digamma().dtype == np.float32
    np.testing.assert_allclose(x.lgamma().numpy(), [math.lgamma(v) for v in (0.5, 1.0, 3.0)], rtol=1e-6)
    np.testing.assert_allclose(x.polygamma(1).numpy(), mg.polygamma(1, x).numpy())
    with pytest.raises(TypeError, match="lgamma.*floating"):
        mg.lgamma(mg.tensor([1, 2]))
    with pytest.raises(ValueError, match="polygamma.*non-negative"):
        mg.polygamma(-1, x)
    from minigrad.ops import special

    y = T([0.3, 2.5, -0.5])
    expect = (mg.lgamma(y).numpy(), mg.digamma(y).numpy(), mg.polygamma(2, T([0.3, 2.5])).numpy())
    monkeypatch.setattr(special, "_special", lambda xp: None)  # the SciPy-free path
    np.testing.assert_allclose(mg.lgamma(y).numpy(), expect[0], rtol=1e-12)
    np.testing.assert_allclose(mg.digamma(y).numpy(), expect[1], rtol=1e-12)
    np.testing.assert_allclose(mg.polygamma(2, T([0.3, 2.5])).numpy(), expect[2], rtol=1e-12)
