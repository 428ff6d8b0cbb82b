"""Registry entries for ``minigrad.nn``: layers as functions of (input, weight, bias), normalisations,
losses and the extra activations of ``nn.functional`` (imported by tests/opdb.py)."""

from __future__ import annotations

import warnings

import numpy as np
from opdb import C, S, arr, away, pos, register

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn.normalization import Normalize
from minigrad.nn.utils import parameters_to_vector

_rng = np.random.default_rng(4321)


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _norm_ref(x, axes, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# --- layers -----------------------------------------------------------------------------------------
register("nn.linear", F.linear, lambda x, w, b=None: x @ w.T + (0 if b is None else b),
         [S(arr(3, 4), arr(5, 4), arr(5)), S(arr(2, 3, 4), arr(2, 4), arr(2), desc="batched"),
          S(arr(3, 4), arr(2, 4), desc="no-bias"), S(arr(4), arr(3, 4), arr(3), desc="vector-input")])
_eidx = C(np.array([[0, 2, 2], [4, 1, 0]]))
register("nn.embedding", lambda w, i: F.embedding(i, w), lambda w, i: w[i], [S(arr(5, 3), _eidx)])


def _emb_pad(w, i, padding_idx):
    # the padding row gets no gradient by design (finite differences would see it), so the outputs
    # looked up at padding positions are masked out: the rest of the gradient is still checked
    keep = (i.array != (padding_idx % w.shape[0]))[..., None].astype(w.dtype)
    return F.embedding(i, w, padding_idx=padding_idx) * mg.as_tensor(keep)


register("nn.embedding_padding", _emb_pad,
         lambda w, i, p: w[i] * (i != p % w.shape[0])[..., None],
         [S(arr(5, 3), _eidx, 2), S(arr(4, 2), C(np.array([3, 0, 3])), -1, desc="negative")])

# --- normalisation -------------------------------------------------------------------------------------
register("nn.Normalize", lambda x: Normalize((1,), 1e-5)(x),
         lambda x: (_norm_ref(x, (1,)), 1 / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)),
         [S(arr(3, 4)), S(arr(2, 3, 2), desc="middle-axis")], covers=("Normalize",))
register("nn.layer_norm", lambda x, w=None, b=None, shape=(4,): F.layer_norm(x, shape, w, b),
         lambda x, w=None, b=None, shape=(4,): _norm_ref(x, tuple(range(x.ndim - len(shape), x.ndim)))
         * (1 if w is None else w) + (0 if b is None else b),
         [S(arr(3, 4), arr(4), arr(4)), S(arr(2, 3, 4), desc="no-affine"),
          S(arr(2, 2, 3), arr(2, 3), arr(2, 3), shape=(2, 3), desc="2d-shape")])


def _gn_ref(x, w=None, b=None, groups=2):
    n, c = x.shape[:2]
    y = _norm_ref(x.reshape(n, groups, -1), (2,)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


register("nn.group_norm", lambda x, w=None, b=None, groups=2: F.group_norm(x, groups, w, b), _gn_ref,
         [S(arr(2, 4, 3), arr(4), arr(4)), S(arr(2, 6), arr(6), arr(6), groups=3, desc="2d"),
          S(arr(2, 2, 2, 2), groups=1, desc="one-group-no-affine")])


def _bn_ref(x, w=None, b=None):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = _norm_ref(x, axes) * (1 if w is None else w.reshape(shape))
    return y + (0 if b is None else b.reshape(shape))


register("nn.batch_norm_train", lambda x, w=None, b=None: F.batch_norm(x, None, None, w, b, training=True),
         _bn_ref, [S(arr(4, 3), arr(3), arr(3)), S(arr(2, 3, 4), arr(3), arr(3), desc="NCL"),
                   S(arr(2, 2, 2, 3), arr(2), arr(2), desc="NCHW"), S(arr(3, 2), desc="no-affine")])
_rm, _rv = C(_rng.normal(size=3)), C(_rng.uniform(0.5, 2.0, size=3))


def _bn_eval_ref(x, rm, rv, w, b):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return (x - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + 1e-5) * w.reshape(shape) + b.reshape(shape)


register("nn.batch_norm_eval", lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=False),
         _bn_eval_ref, [S(arr(4, 3), _rm, _rv, arr(3), arr(3)), S(arr(2, 3, 2), _rm, _rv, arr(3), arr(3))])
register("nn.rms_norm", lambda x, w=None: F.rms_norm(x, (4,), w, eps=1e-6),
         lambda x, w=None: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * (1 if w is None else w),
         [S(arr(3, 4), arr(4)), S(arr(2, 4), desc="no-weight")])

# --- extra activations and helpers ------------------------------------------------------------------------
register("nn.relu6", F.relu6, lambda x: np.clip(x, 0, 6), [S(np.array([-1.0, 0.5, 3.0, 6.5, 7.0]))])
register("nn.hardtanh", F.hardtanh, lambda x, lo=-1.0, hi=1.0: np.clip(x, lo, hi),
         [S(np.array([-1.7, -0.3, 0.4, 1.5])), S(np.array([-1.7, 0.4, 2.5]), -1.0, 2.0)])
register("nn.logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), [S(arr(3, 4))])
register("nn.softsign", F.softsign, lambda x: x / (1 + np.abs(x)), [S(away(3, 4))])
register("nn.mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), [S(arr(3, 4))])
register("nn.softmin", F.softmin, lambda x, dim=-1: np.exp(-x) / np.exp(-x).sum(dim, keepdims=True),
         [S(arr(3, 4)), S(arr(3, 4), 0)])
register("nn.normalize", F.normalize,
         lambda x, p=2.0, dim=1: x / np.maximum((np.abs(x) ** p).sum(dim, keepdims=True) ** (1 / p), 1e-12),
         [S(arr(3, 4)), S(away(3, 4), p=1.0, dim=0, desc="p1")])
register("nn.cosine_similarity", F.cosine_similarity,
         lambda a, b, dim=1: (a * b).sum(dim) / (np.linalg.norm(a, axis=dim) * np.linalg.norm(b, axis=dim)),
         [S(arr(3, 4), arr(3, 4)), S(arr(2, 3), arr(2, 3), dim=0)])
register("nn.parameters_to_vector", lambda a, b: parameters_to_vector([a, b]),
         lambda a, b: np.concatenate([a.ravel(), b.ravel()]), [S(arr(2, 3), arr(4))])


# --- losses -------------------------------------------------------------------------------------------------
def _red(loss, reduction="mean"):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _quiet_mse(*args, **kwargs):
    with warnings.catch_warnings():  # the broadcast sample warns by design (as PyTorch does)
        warnings.simplefilter("ignore", UserWarning)
        return F.mse_loss(*args, **kwargs)


register("nn.mse_loss", _quiet_mse, lambda a, b, reduction="mean": _red((a - b) ** 2, reduction),
         [S(arr(3, 4), arr(3, 4)), S(arr(3, 4), arr(3, 4), reduction="sum"),
          S(arr(3, 4), arr(4), reduction="none", desc="broadcast")])
_l1a = arr(3, 4)
_l1b = _l1a + away(3, 4)
register("nn.l1_loss", F.l1_loss, lambda a, b, reduction="mean": _red(np.abs(a - b), reduction),
         [S(_l1a, _l1b), S(_l1a, _l1b, reduction="none")])


def _smooth_ref(a, b, reduction="mean", beta=1.0):
    d = np.abs(a - b)
    return _red(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta) if beta > 0 else d, reduction)


def _huber_ref(a, b, reduction="mean", delta=1.0):
    d = np.abs(a - b)
    return _red(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


register("nn.smooth_l1_loss", F.smooth_l1_loss, _smooth_ref,
         [S(arr(3, 4), arr(3, 4)), S(arr(3, 4), arr(3, 4), beta=0.5, reduction="sum"),
          S(_l1a, _l1b, beta=0.0, desc="beta0")])
register("nn.huber_loss", F.huber_loss, _huber_ref,
         [S(arr(3, 4), arr(3, 4)), S(arr(3, 4), arr(3, 4), delta=0.5, reduction="none")])


def _nll_ref(x, t, weight=None, ignore_index=-100, reduction="mean"):
    cdim = 0 if x.ndim == 1 else 1
    c = x.shape[cdim]
    w = np.ones(c) if weight is None else weight
    xm = np.moveaxis(x, cdim, -1).reshape(-1, c) if x.ndim > 1 else x[None]
    tf = t.reshape(-1)
    ign = tf == ignore_index
    safe = np.where(ign, 0, tf)
    wt = np.where(ign, 0.0, w[safe])
    loss = -xm[np.arange(len(tf)), safe] * wt
    if reduction == "none":
        return loss.reshape(t.shape)
    return loss.sum() if reduction == "sum" else loss.sum() / wt.sum()


def _ce_ref(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    cdim = 0 if x.ndim == 1 else 1
    c = x.shape[cdim]
    lp = _log_softmax(x, cdim)
    wshape = [1] * x.ndim
    wshape[cdim] = c
    w = np.ones(c) if weight is None else weight
    if t.dtype.kind == "f":
        tt = t * (1 - label_smoothing) + label_smoothing / c
        loss = -(lp * tt * w.reshape(wshape)).sum(cdim)
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.sum() / (x.size / c)
    nll = _nll_ref(lp, t, weight, ignore_index, reduction)
    ign = t == ignore_index
    smooth = np.where(ign, 0.0, -(lp * w.reshape(wshape)).sum(cdim))
    if reduction == "none":
        red = smooth
    elif reduction == "sum":
        red = smooth.sum()
    else:
        red = smooth.sum() / np.where(ign, 0.0, w[np.where(ign, 0, t)]).sum()
    return (1 - label_smoothing) * nll + label_smoothing / c * red


_t4 = C(np.array([0, 2, 1, 2]))
_tign = C(np.array([0, -100, 1, 2]))
_w3 = C(np.array([0.3, 1.0, 2.0]))
_soft = C(_rng.dirichlet(np.ones(3), size=4))
register("nn.cross_entropy", F.cross_entropy, _ce_ref,
         [S(arr(4, 3), _t4), S(arr(4, 3), _t4, reduction="sum"), S(arr(4, 3), _t4, reduction="none"),
          S(arr(4, 3), _tign, _w3, desc="weight-ignore"),
          S(arr(4, 3), C(np.array([0, 5, 1, 5])), ignore_index=5, reduction="sum", desc="custom-ignore"),
          S(arr(4, 3), _tign, _w3, label_smoothing=0.2, desc="smoothing-weight-ignore"),
          S(arr(4, 3), _tign, label_smoothing=0.1, reduction="none", desc="smoothing-none"),
          S(arr(4, 3), _tign, label_smoothing=0.1, reduction="sum", desc="smoothing-sum"),
          S(arr(2, 3, 2, 2), C(np.array([[[0, 1], [2, 2]], [[1, 0], [-100, 2]]])), _w3, desc="spatial"),
          S(arr(3), C(np.array(1)), desc="unbatched"),
          S(arr(4, 3), _soft, desc="probabilities"),
          S(arr(4, 3), _soft, _w3, label_smoothing=0.3, desc="probabilities-weight-smoothing"),
          S(arr(4, 3), _soft, reduction="none", desc="probabilities-none")])
register("nn.nll_loss", F.nll_loss, _nll_ref,
         [S(arr(4, 3), _t4), S(arr(4, 3), _tign, _w3, desc="weight-ignore"),
          S(arr(4, 3), _t4, reduction="none"), S(arr(2, 3, 2), C(np.array([[0, 2], [1, 1]])), reduction="sum",
                                                 desc="spatial")])


def _bce_ref(x, t, weight=None, reduction="mean"):
    loss = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log(1 - x), -100))
    return _red(loss * (1 if weight is None else weight), reduction)


def _bcel_ref(x, t, weight=None, reduction="mean", pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * t * -np.logaddexp(0, -x) + (1 - t) * -np.logaddexp(0, x))
    return _red(loss * (1 if weight is None else weight), reduction)


register("nn.binary_cross_entropy", F.binary_cross_entropy, _bce_ref,
         [S(pos(3, 4, low=0.05, high=0.95), pos(3, 4, low=0.0, high=1.0)),
          S(pos(3, 4, low=0.05, high=0.95), C(_rng.integers(0, 2, (3, 4)).astype(float)), arr(4),
            reduction="sum", desc="weight")])
register("nn.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, _bcel_ref,
         [S(arr(3, 4), pos(3, 4, low=0.0, high=1.0)),
          S(arr(3, 4), C(_rng.integers(0, 2, (3, 4)).astype(float)), pos_weight=pos(4), desc="pos_weight"),
          S(arr(3, 4), pos(3, 4, low=0.0, high=1.0), pos(3, 4), reduction="none", pos_weight=C(pos(4)),
            desc="weight-pos_weight")])


def _kl_ref(x, t, reduction="mean", log_target=False):
    loss = np.exp(t) * (t - x) if log_target else np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), 0)
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return _red(loss, reduction)


register("nn.kl_div", F.kl_div, _kl_ref,
         [S(arr(3, 4), pos(3, 4, low=0.1, high=1.0)), S(arr(3, 4), pos(3, 4), reduction="batchmean"),
          S(arr(3, 4), arr(3, 4), reduction="sum", log_target=True, desc="log_target"),
          S(arr(2, 3), C(np.array([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])), reduction="none",
            desc="zero-target")])


def _gnll_ref(x, t, v, full=False, eps=1e-6, reduction="mean"):
    v = np.asarray(v)
    if v.shape != x.shape:
        v = v.reshape(v.shape + (1,)) if v.shape == x.shape[:-1] else v
    v = np.maximum(v, eps)
    loss = 0.5 * (np.log(v) + (x - t) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0)
    return _red(loss, reduction)


register("nn.gaussian_nll_loss", F.gaussian_nll_loss, _gnll_ref,
         [S(arr(3, 4), arr(3, 4), pos(3, 4)),
          S(arr(3, 4), arr(3, 4), pos(3, 1), full=True, desc="homoscedastic"),
          S(arr(3, 4), arr(3, 4), pos(3), reduction="sum", desc="var-without-last-dim"),
          # var 0.01 is clamped up to eps=0.1 (a larger eps than the default keeps the finite differences
          # well conditioned: with eps=1e-6 the 1/var terms are ~1e6 and swamp float64 round-off)
          S(arr(2, 2), arr(2, 2), C(np.array([[0.01, 1.0], [0.5, 2.0]])), reduction="none", eps=0.1,
            desc="eps-clamp")])
