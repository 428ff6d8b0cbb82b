"""Five lessons of GAN theory, each an experiment with a figure and numbers (Goodfellow et al. 2014;
Arjovsky & Bottou 2017; Arjovsky et al. 2017; Mao et al. 2017; Gulrajani et al. 2017; Miyato et al. 2018).

    python -m models.gan_lessons              # all five lessons (~45 s of CPU, ~100 s on 2 busy cores)
    python -m models.gan_lessons --quick      # a smoke test (seconds)
    python -m models.gan_lessons --lessons 3,5

Lesson 1, the optimal discriminator (``lesson1.png``). For a fixed generator density p_g the value of the
game V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)) is maximised pointwise by
D*(x) = p_data(x) / (p_data(x) + p_g(x)), where it equals -2 log 2 + 2 JSD(p_data || p_g). A small MLP
trained with binary cross-entropy on fresh samples of p_data = 1/2 N(-1.5, 0.5^2) + 1/2 N(1.5, 0.5^2)
and p_g = N(0.5, 1) approaches D* (errors on the grid where (p_data + p_g)/2 >= 0.01) and its value,
computed by quadrature, approaches the bound from below (V(D) <= V(D*) pointwise).

Lesson 2, saturation (``lesson2.png``). With l the logit and D = sigma(l), the minimax generator loss
log(1 - D) has d/dl = -D, the non-saturating -log D has d/dl = -(1 - D): when D confidently rejects the
fakes (D(G(z)) -> 0) the first vanishes and the second does not. Shown analytically (the autograd
derivatives of ``mmgan_g_loss``/``nsgan_g_loss`` on the curves), then at a real checkpoint: a 1-D G
whose samples sit near 0, a D pretrained to reject them against data N(3, 0.25^2); the norm of the
gradient w.r.t. G's parameters under each loss, and training on from there (G with plain SGD, so the
gradient's scale is the step's scale; Adam would rescale it). "Settles": the first step from which the
mean of G(z) stays within 0.5 of the data mean (--l2-steps + 1: not within the run). The minimax G is
not stuck for good: its gradient grows with D(G(z)), and with --l2-lr 0.05 it escapes after ~100 steps.

Lesson 3, JS vs Wasserstein (``lesson3.png``, no training). P = U[0, 1) against Q_theta = U[theta,
theta + 1), and N(0, 0.1^2) against N(theta, 0.1^2), for theta in [0, 3]. By quadrature: JSD(P || Q)
rises as theta log 2 (the segments) and is stuck at log 2 once the supports are disjoint (a flat
function of theta: no gradient for a generator that could move theta), while W1 = integral |F_P - F_Q| dx
= theta keeps falling linearly as they approach.

Lesson 4, where the generator's gradient comes from (``lesson4.png``). Fixed separated 1-D sets, real
N(2, 0.3^2) and fake N(-2, 0.3^2); a sigmoid discriminator (BCE), an LSGAN discriminator (least squares,
targets 0/1) and a WGAN-GP critic (lambda = 10) trained on them. Then the gradient of each generator
loss w.r.t. the fake sample positions, d l_G(x)/dx, at the end and while each D trains. The saturated
sigmoid gives the minimax loss sigma(l) l'(x), which falls exponentially to about 0; the WGAN-GP critic
keeps a slope of about 1. The LSGAN discriminator sits in between: its optimum for targets 0/1 is also
D* = p_data / (p_data + p_g), flat on the fakes, so its gradient there shrinks as it fits, but only to
what the network's smoothness leaves (a few 1e-3 here), not exponentially. The non-saturating loss on
the sigmoid D gets l'(x), which keeps growing as the logits sharpen (Arjovsky & Bottou's instability).

Lesson 5, a critic on disjoint data needs a constraint (``lesson5.png``). The WGAN critic loss
E f(fake) - E f(real) on fixed disjoint 2-D sets (real: 256 points of the ring of 8 Gaussians, fake:
256 points of N(0, 0.15^2 I)) has no minimum without a constraint: the unconstrained critic's gap
E f(real) - E f(fake) and its weights grow as long as it trains. Weight clipping (c = 0.01), the gradient
penalty (lambda = 10) and spectral normalisation keep it bounded; the GP critic's gap approaches the exact
W1 of the two point sets (optimal assignment; a few % above it, as the penalty is soft), the SN critic's
stays below it (it is 1-Lipschitz; here about half of W1, as the product of the layers' spectral norms is a
loose bound), and the clipped critic's is tiny (c = 0.01 caps its slope near 1e-3: bounded, but far from
W1 unless rescaled). Every critic starts from the same weights and uses the same Adam. Numbers: the gap is
the mean over the last 10% of the measurements, "growth" that mean over the mean of 40-50% of the run.

Outputs in runs/gan_lessons/: lesson1..5.png, metrics.csv (lesson 1's discriminator training: one row
per evaluation, train_loss = mean BCE), curves.png (that training), lesson5.csv, summary.json (every
number, and "final"), last.ckpt (the finished lessons, for --resume), final.ckpt (the trained networks).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

import minigrad as mg
from minigrad import Tensor, nn, optim
from minigrad.nn import gan_losses as L
from minigrad.nn.utils import spectral_norm
from minigrad.serialization import load, save

from ._toy2d import sample as toy_sample

LOG2 = math.log(2.0)

# lesson 1: p_data a two-Gaussian mixture (weight, mean, std), p_g one Gaussian
L1_DATA = ((0.5, -1.5, 0.5), (0.5, 1.5, 0.5))
L1_GEN = ((1.0, 0.5, 1.0),)
L1_SUPPORT = 0.01            # errors of D are measured where (p_data + p_g) / 2 >= this
# lesson 2: data N(3, 0.25^2); G starts near 0
L2_DATA = (3.0, 0.25)
# lesson 3
L3_SIGMA = 0.1
# lesson 4: fixed 1-D sets
L4_REAL, L4_FAKE, L4_N = (2.0, 0.3), (-2.0, 0.3), 512
# lesson 5
L5_N, L5_FAKE_STD, L5_CLIP, GP_WEIGHT = 256, 0.15, 0.01, 10.0

# every lesson must hold in the default run (python -m models.run_all --check-targets)
TARGET = [
    ("l1/dstar_max_abs_err", "<=", 0.05), ("l1/dstar_mean_abs_err", "<=", 0.02),
    ("l1/value_gap", "<=", 0.005),
    ("l2/grad_norm_ratio", ">=", 100.0), ("l2/settle_ratio", ">=", 5.0),
    ("l3/js_plateau_dev", "<=", 1e-9), ("l3/w1_linear_err", "<=", 2e-3),
    ("l4/mm_grad_at_fakes", "<=", 1e-3), ("l4/lsgan_over_mm", ">=", 100.0),
    ("l4/wgan_gp_over_mm", ">=", 100.0),
    ("l5/none_growth", ">=", 1.5), ("l5/none_gap_over_w1", ">=", 10.0), ("l5/gp_gap_rel_err", "<=", 0.1),
    ("l5/sn_gap_over_w1", "<=", 1.0), ("l5/clip_growth", "<=", 1.1), ("l5/sn_growth", "<=", 1.1),
    ("l5/gp_growth", "<=", 1.1),
]


# --- analytic pieces (NumPy, float64) ---------------------------------------------------------------


def trapezoid(f: np.ndarray, x: np.ndarray) -> float:
    """The trapezoid rule: integral of f over the grid x (both (n,))."""
    return float(np.sum((f[1:] + f[:-1]) * np.diff(x)) / 2)


def normal_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """N(mu, sigma^2) density at x."""
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def mixture_pdf(x: np.ndarray, components: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """sum_k w_k N(x; mu_k, sigma_k^2) for components (w_k, mu_k, sigma_k)."""
    return sum(w * normal_pdf(x, mu, s) for w, mu, s in components)


def mixture_sample(components: Sequence[tuple[float, float, float]], n: int,
                   rng: np.random.Generator) -> np.ndarray:
    """n draws of the mixture, (n, 1) float32."""
    w = np.array([c[0] for c in components])
    k = rng.choice(len(components), size=n, p=w / w.sum())
    mu, s = np.array([c[1] for c in components]), np.array([c[2] for c in components])
    return (mu[k] + s[k] * rng.standard_normal(n)).astype(np.float32)[:, None]


def uniform_pdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """U[a, b) density at x (half-open, so U[0, 1) and U[1, 2) share no grid point)."""
    return ((x >= a) & (x < b)).astype(np.float64) / (b - a)


def optimal_discriminator(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """D*(x) = p(x) / (p(x) + q(x)), the maximiser of p log D + q log(1 - D) at each x (1/2 where
    p = q = 0): the derivative p / D - q / (1 - D) vanishes there."""
    s = p + q
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), 0.5)


def _normalised(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return p / trapezoid(p, x)


def _xlogy_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a log(a / b) with 0 log 0 = 0 (b > 0 wherever a > 0)."""
    pos = a > 0
    return np.where(pos, a * np.log(np.where(pos, a, 1.0) / np.where(pos, b, 1.0)), 0.0)


def js_divergence(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q)/2, in nats, by the trapezoid rule.

    p, q: densities on the grid x (n,), renormalised to integrate to 1 on it. 0 for P = Q; log 2 for
    disjoint supports (then p log(p/m) = p log 2 wherever p > 0)."""
    p, q = _normalised(p, x), _normalised(q, x)
    m = (p + q) / 2
    return 0.5 * trapezoid(_xlogy_ratio(p, m), x) + 0.5 * trapezoid(_xlogy_ratio(q, m), x)


def w1_distance(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """Wasserstein-1 distance of two 1-D densities: W1 = integral |F_P(x) - F_Q(x)| dx (F the CDFs, by
    cumulative trapezoids on the grid x). For Q = P shifted by t, W1 = |t|."""
    p, q = _normalised(p, x), _normalised(q, x)
    dx = np.diff(x)
    cdf = np.concatenate([[0.0], np.cumsum((p - q)[1:] * dx / 2 + (p - q)[:-1] * dx / 2)])
    return trapezoid(np.abs(cdf), x)


def empirical_w1(a: np.ndarray, b: np.ndarray) -> float:
    """Exact W1 of two equal-size point sets (n, d) with the Euclidean cost: the optimal assignment's
    mean distance (for sets of equal size an optimal transport plan is a permutation)."""
    if a.shape != b.shape:
        raise ValueError(f"empirical_w1: sets of shapes {a.shape} and {b.shape}")
    cost = np.linalg.norm(a[:, None, :].astype(np.float64) - b[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def game_value(logits: np.ndarray, p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """V(D, G) = integral p log D + q log(1 - D) dx for D = sigmoid(logits) on the grid x, by quadrature.

    log D = -softplus(-l) and log(1 - D) = -softplus(l), so saturated logits cost no precision."""
    p, q = _normalised(p, x), _normalised(q, x)
    log_d, log_1md = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)
    return trapezoid(p * log_d, x) + trapezoid(q * log_1md, x)


def optimal_value(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """V(D*, G) = -2 log 2 + 2 JSD(p || q): the best the discriminator can do against p_g = q."""
    return -2 * LOG2 + 2 * js_divergence(p, q, x)


# --- small networks ---------------------------------------------------------------------------------


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def as_tensor(a: np.ndarray) -> Tensor:
    return mg.tensor(np.asarray(a, dtype=np.float32))


@mg.no_grad()
def outputs_on(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """net(x) for x (n,) as a float64 array (n,)."""
    return net(as_tensor(x[:, None])).numpy().astype(np.float64).ravel()


def input_grad(loss_fn: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    """d loss_fn(x) / dx for x (n, d): the gradient w.r.t. the sample positions, (n, d) float64."""
    xt = as_tensor(x).requires_grad_()
    (g,) = mg.autograd.grad(loss_fn(xt), xt)
    return g.numpy().astype(np.float64)


def grad_norm(params: Sequence[Tensor]) -> float:
    """The 2-norm of all parameter gradients together (missing gradients count as 0)."""
    return math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in params
                         if p.grad is not None))


def param_norm(net: nn.Module) -> float:
    """The 2-norm of the weights the forward pass uses (for a spectrally normalised layer W_orig / sigma,
    as computed by its last forward), all layers together."""
    total = 0.0
    for m in net.modules():
        if isinstance(m, nn.Linear):
            total += float((m.weight.numpy().astype(np.float64) ** 2).sum())
    return math.sqrt(total)


# --- lesson 1: the optimal discriminator -----------------------------------------------------------


def lesson1(args: argparse.Namespace) -> dict[str, Any]:
    """Train D on fresh samples of p_data (real) vs p_g (fake) with BCE; compare with D* and V(D*).

    Adam (lr ``--l1-lr``, decaying linearly to 0), batch 512 of each, ``--l1-steps`` steps; every
    ``--l1-eval`` steps: V(D, G) by quadrature, |D - D*| on the grid where (p + q)/2 >= L1_SUPPORT."""
    mg.manual_seed(args.seed)
    rng = np.random.default_rng([args.seed, 1])
    x = np.linspace(-8, 8, 16001)
    p, q = mixture_pdf(x, L1_DATA), mixture_pdf(x, L1_GEN)
    d_star = optimal_discriminator(p, q)
    jsd = js_divergence(p, q, x)
    v_star = optimal_value(p, q, x)
    support = (p + q) / 2 >= L1_SUPPORT
    m_weight = (p + q) / 2

    d = mlp([1, args.hidden, args.hidden, 1])
    opt = optim.Adam(d.parameters(), lr=args.l1_lr, betas=(0.9, 0.999))
    rows: list[dict[str, Any]] = []
    losses: list[float] = []

    def evaluate(step: int) -> dict[str, Any]:
        logits = outputs_on(d, x)
        dx = 1 / (1 + np.exp(-logits))
        err = np.abs(dx - d_star)
        return {"epoch": len(rows) + 1, "step": step,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "value": game_value(logits, p, q, x), "value_bound": v_star,
                "dstar_max_abs_err": float(err[support].max()),
                "dstar_mean_abs_err": trapezoid(m_weight * err, x) / trapezoid(m_weight, x)}

    for step in range(1, args.l1_steps + 1):
        for g in opt.param_groups:
            g["lr"] = args.l1_lr * (1 - (step - 1) / args.l1_steps)
        real = as_tensor(mixture_sample(L1_DATA, 512, rng))
        fake = as_tensor(mixture_sample(L1_GEN, 512, rng))
        loss = L.nsgan_d_loss(d(real), d(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if step % args.l1_eval == 0 or step == args.l1_steps:
            rows.append(evaluate(step))
            losses = []
    last = rows[-1]
    logits = outputs_on(d, x)
    return {"x": x, "p": p, "q": q, "d_star": d_star, "d": 1 / (1 + np.exp(-logits)), "support": support,
            "rows": rows, "net": d.state_dict(),
            "numbers": {"jsd": jsd, "value_bound": v_star, "value": last["value"],
                        "value_gap": v_star - last["value"], "dstar_max_abs_err": last["dstar_max_abs_err"],
                        "dstar_mean_abs_err": last["dstar_mean_abs_err"],
                        "bce_floor": -v_star, "final_bce": last["train_loss"]}}


# --- lesson 2: saturation --------------------------------------------------------------------------


def saturation_curves(d_values: np.ndarray) -> dict[str, np.ndarray]:
    """|d l_G / d logit| at D = sigmoid(logit) for each generator loss, by autograd through the library's
    losses (per sample: the batch-mean loss times N). Analytically D (minimax) and 1 - D (non-saturating)."""
    logits = np.log(d_values) - np.log1p(-d_values)
    n = len(d_values)
    out = {}
    for name, fn in (("minimax", L.mmgan_g_loss), ("non_saturating", L.nsgan_g_loss)):
        out[name] = np.abs(input_grad(lambda t, fn=fn: fn(t) * n, logits[:, None])[:, 0])
    return out


def steps_to_settle(trace: Sequence[float], target: float, tol: float) -> float:
    """The first step s (1-based) from which |trace - target| <= tol at every step s, s + 1, ..., or
    len(trace) + 1 when the last value is still farther than ``tol``."""
    outside = np.flatnonzero(np.abs(np.asarray(trace) - target) > tol)
    return float(outside[-1] + 2) if len(outside) else 1.0


def lesson2(args: argparse.Namespace) -> dict[str, Any]:
    """Pretrain D to reject a fixed G, measure G's gradient under both losses, then train on from there."""
    mg.manual_seed(args.seed + 2)
    rng = np.random.default_rng([args.seed, 2])
    g = mlp([1, 32, 1])
    d = mlp([1, args.hidden, args.hidden, 1])
    opt_d = optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def real_batch(n: int) -> Tensor:
        return as_tensor(L2_DATA[0] + L2_DATA[1] * rng.standard_normal((n, 1)))

    def noise(n: int) -> Tensor:
        return as_tensor(rng.standard_normal((n, 1)))

    def d_step(gen: nn.Module) -> float:
        with mg.no_grad():
            fake = gen(noise(256))
        loss = L.nsgan_d_loss(d(real_batch(256)), d(fake))
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        return float(loss)

    for _ in range(args.l2_pretrain):
        d_step(g)
    # the checkpoint: one fixed batch of noise, both losses' gradients w.r.t. G's parameters
    z = noise(512)
    with mg.no_grad():
        logits_ck = d(g(z)).numpy().astype(np.float64).ravel()
    norms = {}
    for name, fn in (("minimax", L.mmgan_g_loss), ("non_saturating", L.nsgan_g_loss)):
        g.zero_grad()
        fn(d(g(z))).backward()
        norms[name] = grad_norm(list(g.parameters()))
    d.zero_grad()
    d_ck = 1 / (1 + np.exp(-logits_ck))

    # train on from the checkpoint: D (Adam, k = 1) and G (SGD) alternate; one run per generator loss
    start = {"g": copy.deepcopy(g.state_dict()), "d": copy.deepcopy(d.state_dict()),
             "opt_d": copy.deepcopy(opt_d.state_dict())}
    runs: dict[str, dict[str, list[float]]] = {}
    for name, fn in (("minimax", L.mmgan_g_loss), ("non_saturating", L.nsgan_g_loss)):
        g.load_state_dict(start["g"])
        d.load_state_dict(start["d"])
        opt_d.load_state_dict(start["opt_d"])
        rng = np.random.default_rng([args.seed, 2, 1])
        opt_g = optim.SGD(g.parameters(), lr=args.l2_lr)
        hist: dict[str, list[float]] = {"grad_norm": [], "mean_g": [], "mean_d_fake": []}
        for _ in range(args.l2_steps):
            d_step(g)
            zt = noise(256)
            out = d(g(zt))
            loss = fn(out)
            opt_g.zero_grad()
            loss.backward()
            hist["grad_norm"].append(grad_norm(list(g.parameters())))
            opt_g.step()
            with mg.no_grad():
                xs = g(noise(512))
                hist["mean_g"].append(float(xs.numpy().mean()))
                logits = d(xs).numpy().astype(np.float64)
                hist["mean_d_fake"].append(float((1 / (1 + np.exp(-logits))).mean()))
        runs[name] = hist
    d_grid = np.logspace(-6, math.log10(0.999), 60)
    curves = saturation_curves(d_grid)
    settle = {name: steps_to_settle(h["mean_g"], L2_DATA[0], 0.5) for name, h in runs.items()}
    return {"d_grid": d_grid, "curves": curves, "d_checkpoint": d_ck, "runs": runs,
            "numbers": {"mean_d_fake": float(d_ck.mean()), "grad_norm_minimax": norms["minimax"],
                        "grad_norm_non_saturating": norms["non_saturating"],
                        "grad_norm_ratio": norms["non_saturating"] / norms["minimax"],
                        "mean_g_start": float(runs["minimax"]["mean_g"][0]),
                        "mean_g_end_minimax": runs["minimax"]["mean_g"][-1],
                        "mean_g_end_non_saturating": runs["non_saturating"]["mean_g"][-1],
                        "data_mean": L2_DATA[0],
                        "steps_to_settle_minimax": settle["minimax"],
                        "steps_to_settle_non_saturating": settle["non_saturating"],
                        "settle_ratio": settle["minimax"] / settle["non_saturating"],
                        "curve_max_err": float(max(np.abs(curves["minimax"] - d_grid).max(),
                                                   np.abs(curves["non_saturating"] - (1 - d_grid)).max()))}}


# --- lesson 3: JS vs Wasserstein -------------------------------------------------------------------


def lesson3(args: argparse.Namespace) -> dict[str, Any]:
    """JSD and W1 of two uniform segments and two narrow Gaussians sliding apart, by quadrature."""
    x = np.linspace(-2.0, 5.0, 70001)        # dx = 1e-4
    thetas = np.linspace(0.0, 3.0, args.l3_points)
    families = {
        "uniform": (uniform_pdf(x, 0.0, 1.0), lambda t: uniform_pdf(x, t, t + 1.0)),
        "gaussian": (normal_pdf(x, 0.0, L3_SIGMA), lambda t: normal_pdf(x, t, L3_SIGMA)),
    }
    out: dict[str, Any] = {"thetas": thetas}
    for name, (p, q_of) in families.items():
        out[f"{name}_js"] = np.array([js_divergence(p, q_of(t), x) for t in thetas])
        out[f"{name}_w1"] = np.array([w1_distance(p, q_of(t), x) for t in thetas])
    # the closed forms for the segments: JSD = min(theta, 1) log 2, W1 = theta
    plateau = thetas >= 1.0                  # the segments are disjoint
    gauss_plateau = thetas >= 1.5            # 15 sigma apart: the Gaussians' tails meet at ~e^-28
    slope_js = np.gradient(out["uniform_js"], thetas)
    slope_w = np.gradient(out["uniform_w1"], thetas)
    out["numbers"] = {
        "js_plateau_dev": float(np.abs(out["uniform_js"][plateau] - LOG2).max()),
        "js_plateau_dev_gaussian": float(np.abs(out["gaussian_js"][gauss_plateau] - LOG2).max()),
        "js_closed_form_err": float(np.abs(out["uniform_js"] - np.minimum(thetas, 1.0) * LOG2).max()),
        "w1_linear_err": float(max(np.abs(out["uniform_w1"] - thetas).max(),
                                   np.abs(out["gaussian_w1"] - thetas).max())),
        "js_slope_when_disjoint": float(np.abs(slope_js[thetas > 1.05]).max()),
        "w1_slope_when_disjoint": float(np.abs(slope_w[thetas > 1.05]).min()),
    }
    return out


# --- lesson 4: the gradient at the fakes -----------------------------------------------------------

L4_KINDS = ("sigmoid", "lsgan", "wgan_gp")

GEN_LOSSES: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = {
    # label -> (which discriminator, generator loss on its outputs)
    "sigmoid, minimax": ("sigmoid", L.mmgan_g_loss),
    "sigmoid, non-saturating": ("sigmoid", L.nsgan_g_loss),
    "LSGAN": ("lsgan", L.lsgan_g_loss),
    "WGAN-GP": ("wgan_gp", L.wgan_g_loss),
}
TINY = 1e-30                 # floor of a denominator (a float32 sigmoid underflows to exactly 0)


def fake_position_grad(net: nn.Module, g_loss: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    """|d l_G(x_i) / d x_i| for each sample x_i (n, d) -> (n,): the gradient a generator receives at its
    samples. The library's losses are batch means, so the per-sample loss is the mean times n."""
    g = input_grad(lambda t: g_loss(net(t)) * t.shape[0], x)
    return np.linalg.norm(g, axis=1)


def train_discriminator(kind: str, real: np.ndarray, fake: np.ndarray, steps: int, every: int, seed: int,
                        hidden: int) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train one discriminator of ``kind`` full-batch on fixed sets (n, 1): sigmoid (BCE on logits),
    lsgan (1/2 E(s_r - 1)^2 + 1/2 E s_f^2) or wgan_gp (E f_f - E f_r + 10 GP); Adam (1e-3, (0.5, 0.9)).

    Every ``every`` steps (and at step 0) records the loss and, for each generator loss that uses this
    discriminator, the mean |d l_G/dx| over the fakes. Returns the network and that history."""
    mg.manual_seed(seed)
    d = mlp([1, hidden, hidden, 1])
    opt = optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.9))
    rng = np.random.default_rng([seed, 4])
    r, f = as_tensor(real), as_tensor(fake)
    mine = {label: fn for label, (k, fn) in GEN_LOSSES.items() if k == kind}
    hist: dict[str, list[float]] = {"step": [], "loss": [], **{label: [] for label in mine}}

    def record(step: int, loss: float) -> None:
        hist["step"].append(step)
        hist["loss"].append(loss)
        for label, fn in mine.items():
            hist[label].append(float(fake_position_grad(d, fn, fake).mean()))

    for step in range(1, steps + 1):
        if kind == "sigmoid":
            loss = L.nsgan_d_loss(d(r), d(f))
        elif kind == "lsgan":
            loss = L.lsgan_d_loss(d(r), d(f))
        else:
            alpha = as_tensor(rng.random((len(real), 1)))
            loss = L.wgan_d_loss(d(r), d(f)) + GP_WEIGHT * L.gradient_penalty(d, r, f, alpha=alpha)
        if step == 1:
            record(0, float(loss))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            record(step, float(loss))
    return d, hist


def lesson4(args: argparse.Namespace) -> dict[str, Any]:
    """Train the three discriminators on the same separated sets; |d l_G/dx| at the fakes and on a line."""
    rng = np.random.default_rng([args.seed, 4])
    real = (L4_REAL[0] + L4_REAL[1] * rng.standard_normal((L4_N, 1))).astype(np.float32)
    fake = (L4_FAKE[0] + L4_FAKE[1] * rng.standard_normal((L4_N, 1))).astype(np.float32)
    nets, hists = {}, {}
    for kind in L4_KINDS:
        nets[kind], hists[kind] = train_discriminator(kind, real, fake, args.l4_steps, args.l4_eval,
                                                      args.seed + 4, args.hidden)
    line = np.linspace(-4, 4, 401)
    grads_line = {label: fake_position_grad(nets[kind], fn, line[:, None])
                  for label, (kind, fn) in GEN_LOSSES.items()}
    mean_grad = {label: hists[kind][label][-1] for label, (kind, _) in GEN_LOSSES.items()}
    outputs = {kind: outputs_on(nets[kind], line) for kind in L4_KINDS}
    sig_fake = 1 / (1 + np.exp(-outputs_on(nets["sigmoid"], fake[:, 0])))
    mm = mean_grad["sigmoid, minimax"]
    return {"line": line, "real": real[:, 0], "fake": fake[:, 0], "outputs": outputs,
            "grads_line": grads_line, "hists": hists, "nets": {k: v.state_dict() for k, v in nets.items()},
            "numbers": {"mm_grad_at_fakes": mm, "ns_grad_at_fakes": mean_grad["sigmoid, non-saturating"],
                        "lsgan_grad_at_fakes": mean_grad["LSGAN"],
                        "wgan_gp_grad_at_fakes": mean_grad["WGAN-GP"],
                        "mean_d_fake": float(sig_fake.mean()),
                        "lsgan_over_mm": mean_grad["LSGAN"] / max(mm, TINY),
                        "wgan_gp_over_mm": mean_grad["WGAN-GP"] / max(mm, TINY)}}


# --- lesson 5: an unconstrained critic diverges ----------------------------------------------------

L5_KINDS = ("none", "clip", "gp", "sn")
L5_LABELS = {"none": "unconstrained", "clip": f"weight clipping (c = {L5_CLIP:g})",
             "gp": f"gradient penalty (lambda = {GP_WEIGHT:g})", "sn": "spectral norm"}


def lipschitz_estimate(critic: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor) -> float:
    """max ||grad_x f(x)|| over the points alpha real + (1 - alpha) fake (a lower bound of Lip(f))."""
    x = (alpha * real + (1 - alpha) * fake).detach().requires_grad_()
    (g,) = mg.autograd.grad(critic(x).sum(), x)
    return float(np.linalg.norm(g.numpy().astype(np.float64), axis=1).max())


def train_critic(kind: str, real: np.ndarray, fake: np.ndarray, steps: int, every: int, seed: int,
                 hidden: int) -> tuple[nn.Module, dict[str, list[float]]]:
    """Minimise E f(fake) - E f(real) (+ the constraint of ``kind``) full-batch on fixed sets (n, 2).

    Every critic starts from the same weights (seeded by ``seed``) and uses Adam (lr 1e-3, betas (0.5,
    0.9)). Every ``every`` steps: the gap E f(real) - E f(fake), the weights' norm, the Lipschitz estimate."""
    mg.manual_seed(seed)
    f = mlp([2, hidden, hidden, 1])
    if kind == "sn":
        for m in f:
            if isinstance(m, nn.Linear):
                spectral_norm(m)
    opt = optim.Adam(f.parameters(), lr=1e-3, betas=(0.5, 0.9))
    rng = np.random.default_rng([seed, 5])
    r, fk = as_tensor(real), as_tensor(fake)
    probe = as_tensor(np.random.default_rng([seed, 55]).random((len(real), 1)))
    hist: dict[str, list[float]] = {"step": [], "gap": [], "weight_norm": [], "lipschitz": [], "loss": []}
    for step in range(1, steps + 1):
        loss = L.wgan_d_loss(f(r), f(fk))
        if kind == "gp":
            alpha = as_tensor(rng.random((len(real), 1)))
            loss = loss + GP_WEIGHT * L.gradient_penalty(f, r, fk, alpha=alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if kind == "clip":
            L.clip_weights_(f, L5_CLIP)
        if step % every == 0 or step == steps:
            with mg.no_grad():
                gap = float(f(r).mean()) - float(f(fk).mean())
            hist["step"].append(step)
            hist["gap"].append(gap)
            hist["weight_norm"].append(param_norm(f))
            hist["lipschitz"].append(lipschitz_estimate(f, r, fk, probe))
            hist["loss"].append(float(loss))
    return f, hist


def window_means(trace: Sequence[float]) -> tuple[float, float]:
    """Means of the last 10% of a trace (steps 0.9N..N) and of the 10% before its middle (0.4N..0.5N).

    Their ratio is the growth over the second half of training: about 1 for a bounded quantity (the
    windows average out step-to-step noise), 2^k for one growing like step^k."""
    a = np.asarray(trace, dtype=np.float64)
    n = len(a)
    w = max(1, n // 10)
    return float(a[n - w:].mean()), float(a[max(0, n // 2 - w): max(1, n // 2)].mean())


def lesson5(args: argparse.Namespace) -> dict[str, Any]:
    """Four critics (unconstrained, clipped, GP, SN) on the same disjoint 2-D sets; gaps vs the exact W1."""
    rng = np.random.default_rng([args.seed, 5])
    real = toy_sample("ring", L5_N, rng)
    fake = (L5_FAKE_STD * rng.standard_normal((L5_N, 2))).astype(np.float32)
    w1 = empirical_w1(real, fake)
    hists, nets, grids = {}, {}, {}
    ticks = np.linspace(-1.6, 1.6, 81)
    plane = np.stack(np.meshgrid(ticks, ticks, indexing="xy"), axis=-1).reshape(-1, 2)
    for kind in L5_KINDS:
        net, hists[kind] = train_critic(kind, real, fake, args.l5_steps, args.l5_eval, args.seed + 5,
                                        args.hidden)
        nets[kind] = net.state_dict()
        net.eval()                           # spectral norm: no power iteration for the picture
        with mg.no_grad():
            grids[kind] = net(as_tensor(plane)).numpy().astype(np.float64).reshape(len(ticks), len(ticks))
    numbers: dict[str, float] = {"w1": w1}
    for kind, h in hists.items():
        late, middle = window_means(h["gap"])
        numbers[f"{kind}_gap"] = late                  # the mean over the last 10% of the measurements
        numbers[f"{kind}_growth"] = late / middle
        numbers[f"{kind}_gap_over_w1"] = late / w1
        numbers[f"{kind}_weight_norm"] = float(h["weight_norm"][-1])
        numbers[f"{kind}_lipschitz"] = float(h["lipschitz"][-1])
    numbers["gp_gap_rel_err"] = abs(numbers["gp_gap"] - w1) / w1
    return {"real": real, "fake": fake, "hists": hists, "nets": nets, "ticks": ticks, "grids": grids,
            "numbers": numbers}


# --- command line and outputs ----------------------------------------------------------------------

LESSONS: dict[int, Callable[[argparse.Namespace], dict[str, Any]]] = {
    1: lesson1, 2: lesson2, 3: lesson3, 4: lesson4, 5: lesson5}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m models.gan_lessons", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--lessons", default="1,2,3,4,5", help="comma-separated lesson numbers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=64, help="width of the discriminators' hidden layers")
    p.add_argument("--l1-steps", type=int, default=4000, help="lesson 1: discriminator steps")
    p.add_argument("--l1-eval", type=int, default=250, help="lesson 1: steps between evaluations")
    p.add_argument("--l1-lr", type=float, default=2e-3, help="lesson 1: Adam's initial learning rate")
    p.add_argument("--l2-pretrain", type=int, default=500, help="lesson 2: D steps before the checkpoint")
    p.add_argument("--l2-steps", type=int, default=400, help="lesson 2: training steps after it")
    p.add_argument("--l2-lr", type=float, default=0.02, help="lesson 2: G's SGD learning rate")
    p.add_argument("--l3-points", type=int, default=121, help="lesson 3: values of theta in [0, 3]")
    p.add_argument("--l4-steps", type=int, default=1500, help="lesson 4: steps per discriminator")
    p.add_argument("--l4-eval", type=int, default=25, help="lesson 4: steps between measurements")
    p.add_argument("--l5-steps", type=int, default=2000, help="lesson 5: steps per critic")
    p.add_argument("--l5-eval", type=int, default=20, help="lesson 5: steps between measurements")
    p.add_argument("--out", default="runs/gan_lessons")
    p.add_argument("--resume", action="store_true", help="skip the lessons finished in OUT/last.ckpt")
    p.add_argument("--quick", action="store_true", help="seconds: every lesson with a tiny budget")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu"], help="only cpu (the networks are tiny)")
    args = p.parse_args(argv)
    if args.quick:
        args.hidden, args.l1_steps, args.l1_eval = 32, 200, 50
        args.l2_pretrain, args.l2_steps, args.l3_points = 100, 30, 31
        args.l4_steps, args.l4_eval, args.l5_steps, args.l5_eval = 100, 10, 100, 10
    args.lessons = sorted({int(s) for s in str(args.lessons).split(",")})
    for k in args.lessons:
        if k not in LESSONS:
            p.error(f"unknown lesson {k}; choose from {sorted(LESSONS)}")
    return args


def _plain(v: Any) -> Any:
    """JSON-friendly copy (NumPy scalars to floats)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: format(v, ".6g") if isinstance(v, float) else v for k, v in r.items()})
    return path


def lesson5_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measurement of lesson 5: step, then per critic gap, weight norm and Lipschitz estimate."""
    hists = res["hists"]
    rows = []
    for i, step in enumerate(hists["none"]["step"]):
        row: dict[str, Any] = {"step": step}
        for kind, h in hists.items():
            for k in ("gap", "weight_norm", "lipschitz"):
                row[f"{kind}_{k}"] = float(h[k][i])
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    done: dict[str, Any] = {}
    if args.resume and (out / "last.ckpt").is_file():
        done = load(out / "last.ckpt")["done"]
        print(f"gan_lessons: resumed; lessons done: {sorted(done)}")
    seconds: dict[str, float] = {}
    for k in args.lessons:
        key = f"l{k}"
        if key in done:
            continue
        t0 = time.perf_counter()
        done[key] = LESSONS[k](args)
        seconds[key] = time.perf_counter() - t0
        done[key]["seconds"] = seconds[key]
        shown = "  ".join(f"{n} {v:.4g}" for n, v in done[key]["numbers"].items())
        print(f"lesson {k} ({seconds[key]:.1f}s): {shown}", flush=True)
        save({"done": done}, out / "last.ckpt")
    results = {key: done[key] for key in (f"l{k}" for k in args.lessons)}
    final: dict[str, float] = {f"{key}/{n}": float(v) for key, r in results.items()
                               for n, v in r["numbers"].items()}
    files = ["last.ckpt", "final.ckpt", "summary.json"]
    if "l1" in results:
        files.append(write_rows(results["l1"]["rows"], out / "metrics.csv").name)
    if "l5" in results:
        files.append(write_rows(lesson5_rows(results["l5"]), out / "lesson5.csv").name)
    nets = {"l1": results["l1"]["net"]} if "l1" in results else {}
    if "l4" in results:
        nets["l4"] = results["l4"]["nets"]
    if "l5" in results:
        nets["l5"] = results["l5"]["nets"]
    save({"nets": nets, "final": final}, out / "final.ckpt")
    from . import _gan_lessons_plots as plots

    if "l1" in results:
        files.append(plots.curves(results["l1"], out / "curves.png").name)
    if not args.no_pictures:
        for key, r in results.items():
            files.append(getattr(plots, key)(r, out / f"lesson{key[1]}.png").name)
    wall = time.perf_counter() - t_start
    summary = {"name": "gan_lessons", "args": {k: v for k, v in vars(args).items()},
               "numbers": {key: _plain(r["numbers"]) for key, r in results.items()},
               "seconds": {key: float(r["seconds"]) for key, r in results.items()},
               "final": final, "wall_seconds": wall, "files": files}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(f"gan_lessons: lessons {args.lessons} in {wall:.1f}s -> {out}")
    return final


if __name__ == "__main__":
    main(sys.argv[1:])
