"""The pictures of models/gan_lessons.py: one figure per lesson, plus curves.png (lesson 1's training).

Every function takes the result dict of one lesson (NumPy arrays and numbers, as the lesson returns it
or as --resume loads it from last.ckpt) and writes one PNG. Colours: minimax red, non-saturating blue,
LSGAN green, WGAN-GP orange, weight clipping purple, spectral norm brown, unconstrained gray.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from . import plots
from .plots import BLUE, BROWN, GRAY, GREEN, ORANGE, PURPLE, RED

LOG2 = math.log(2.0)
GEN_COLORS = {"sigmoid, minimax": RED, "sigmoid, non-saturating": BLUE, "LSGAN": GREEN, "WGAN-GP": ORANGE}
CRITIC_COLORS = {"none": GRAY, "clip": PURPLE, "gp": ORANGE, "sn": BROWN}
CRITIC_LABELS = {"none": "unconstrained", "clip": "weight clipping", "gp": "gradient penalty",
                 "sn": "spectral norm"}


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


def curves(res: dict[str, Any], path: Path) -> Path:
    """Lesson 1's training: the minibatch BCE against its floor, and |D - D*| against the step."""
    rows, num = res["rows"], res["numbers"]
    step = _column(rows, "step")
    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax1.plot(step, _column(rows, "train_loss"), color=BLUE, marker="o", ms=3,
             label="training BCE (window mean)")
    ax1.axhline(num["bce_floor"], color="black", ls="--", lw=1,
                label=f"floor 2 log 2 - 2 JSD = {num['bce_floor']:.4f}")
    ax1.set_xlabel("discriminator step")
    ax1.set_ylabel("BCE of D (real + fake terms)")
    ax1.set_title("lesson 1: D's loss falls to the floor -V(D*, G)\n(a window of 512 + 512 fresh samples per "
                  "step: noise can dip below it)", fontsize=9)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.plot(step, _column(rows, "dstar_max_abs_err"), color=RED, marker="o", ms=3, label="max |D - D*|")
    ax2.plot(step, _column(rows, "dstar_mean_abs_err"), color=BLUE, marker="s", ms=3,
             label="mean |D - D*| (weighted by (p_data + p_g)/2)")
    ax2.set_yscale("log")
    plots.plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("discriminator step")
    ax2.set_ylabel("|D(x) - D*(x)| on the grid")
    ax2.set_title("distance to the optimal discriminator, where (p_data + p_g)/2 >= 0.01", fontsize=9)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return plots._save(fig, path)


def l1(res: dict[str, Any], path: Path) -> Path:
    """Densities, D* and the trained D; |D - D*|; the value V(D_t, G) approaching its bound."""
    x, num, rows = res["x"], res["numbers"], res["rows"]
    view = (x >= -5) & (x <= 5)
    fig = Figure(figsize=(15, 4.2))
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    ax1.fill_between(x[view], res["p"][view], color=BLUE, alpha=0.25, label="p_data (2 Gaussians)")
    ax1.fill_between(x[view], res["q"][view], color=RED, alpha=0.25, label="p_g = N(0.5, 1)")
    ax1.set_ylabel("density")
    ax1.set_xlabel("x")
    twin = ax1.twinx()
    twin.plot(x[view], res["d_star"][view], color="black", lw=2.5, label="D* = p_data / (p_data + p_g)")
    twin.plot(x[view], res["d"][view], color=ORANGE, lw=1.5, ls="--", label="trained D (MLP, BCE)")
    twin.set_ylim(0, 1.5)
    ax1.set_ylim(0, 0.6)                     # room for the legend above the curves
    twin.set_ylabel("D(x)")
    h1, l1_ = ax1.get_legend_handles_labels()
    h2, l2_ = twin.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1_ + l2_, fontsize=7.5, loc="upper center", ncol=2)
    ax1.set_title("the trained discriminator lies on D*", fontsize=10)
    err = np.abs(res["d"] - res["d_star"])
    ax2.plot(x[view], err[view], color=ORANGE, lw=1.2)
    sup = res["support"] & view
    ax2.fill_between(x[view], 0, 1, where=sup[view], color=GRAY, alpha=0.12,
                     transform=ax2.get_xaxis_transform(),
                     label="(p_data + p_g)/2 >= 0.01 (where errors count)")
    ax2.set_yscale("log")
    plots.plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("x")
    ax2.set_ylabel("|D(x) - D*(x)|")
    ax2.set_title(f"error: max {num['dstar_max_abs_err']:.3f}, mean {num['dstar_mean_abs_err']:.4f} "
                  "(on the shaded set)", fontsize=10)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8, loc="lower center")
    step = _column(rows, "step")
    gap = _column(rows, "value_bound") - _column(rows, "value")
    ax3.plot(step, gap, color=ORANGE, marker="o", ms=3, label="V(D*, G) - V(D_t, G) (>= 0)")
    ax3.set_yscale("log")
    plots.plain_log_ticks(ax3.yaxis)
    ax3.set_xlabel("discriminator step t")
    ax3.set_ylabel("value gap (nats)")
    ax3.set_title(f"V(D, G) by quadrature approaches -2 log 2 + 2 JSD = {num['value_bound']:.4f}\n"
                  f"(JSD = {num['jsd']:.4f}; final V(D, G) = {num['value']:.4f}, gap {num['value_gap']:.1e})",
                  fontsize=9)
    ax3.grid(alpha=0.3, which="both")
    ax3.legend(fontsize=8)
    fig.suptitle("Lesson 1: for a fixed generator the best discriminator is D* = p_data / (p_data + p_g), "
                 "and the game's value there is -2 log 2 + 2 JSD", fontsize=11)
    fig.tight_layout()
    return plots._save(fig, path)


def l2(res: dict[str, Any], path: Path) -> Path:
    """|dl_G/dlogit| against D(G(z)); then G's gradient norm and position after the checkpoint."""
    num, runs = res["numbers"], res["runs"]
    d = res["d_grid"]
    fig = Figure(figsize=(15, 4.2))
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    ax1.plot(d, d, color=RED, lw=2, label="minimax log(1 - D): |d/dl| = D")
    ax1.plot(d, 1 - d, color=BLUE, lw=2, label="non-saturating -log D: |d/dl| = 1 - D")
    ax1.plot(d, res["curves"]["minimax"], "o", color=RED, ms=3, mfc="none", label="autograd, mmgan_g_loss")
    ax1.plot(d, res["curves"]["non_saturating"], "o", color=BLUE, ms=3, mfc="none",
             label="autograd, nsgan_g_loss")
    lo, hi = np.quantile(res["d_checkpoint"], [0.05, 0.95])
    ax1.axvspan(lo, hi, color=GRAY, alpha=0.2, label="D(G(z)) at the checkpoint (5-95%)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    plots.plain_log_ticks(ax1.yaxis)
    ax1.set_xlabel("D(G(z)) = sigmoid(l)")
    ax1.set_ylabel("|d loss_G / d logit l| per sample")
    ax1.set_title("the minimax loss's gradient vanishes as D rejects the fake", fontsize=10)
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=7.5)
    for name, color in (("minimax", RED), ("non_saturating", BLUE)):
        h = runs[name]
        steps = np.arange(1, len(h["grad_norm"]) + 1)
        label = name.replace("_", "-")
        ax2.plot(steps, h["grad_norm"], color=color, lw=1, label=label)
        when = settled(num, name, len(h["mean_g"]))
        ax3.plot(steps, h["mean_g"], color=color, lw=1.5,
                 label=f"{label}: settles within 0.5 of the data at step {when}")
    ax2.set_yscale("log")
    plots.plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("training step after the checkpoint")
    ax2.set_ylabel("||d loss_G / d theta_G||")
    ax2.set_title(f"G's gradient: at the checkpoint (mean D(G(z)) = {num['mean_d_fake']:.1e})\n"
                  f"||grad|| {num['grad_norm_minimax']:.3g} (minimax) vs "
                  f"{num['grad_norm_non_saturating']:.3g} (non-saturating): "
                  f"ratio {num['grad_norm_ratio']:.0f}", fontsize=9)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    ax3.axhline(num["data_mean"], color="black", ls="--", lw=1, label="data mean (N(3, 0.25^2))")
    ax3.set_xlabel("training step after the checkpoint")
    ax3.set_ylabel("mean of G(z)")
    ax3.set_title("G trained with plain SGD from the checkpoint (D keeps training, k = 1):\n"
                  "the minimax G barely moves while D(G(z)) stays small", fontsize=9)
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=8, loc="center right", bbox_to_anchor=(1.0, 0.32))   # below 3, above the red
    fig.suptitle("Lesson 2: saturation. d/dl log(1 - sigmoid(l)) = -D, d/dl [-log sigmoid(l)] = -(1 - D)",
                 fontsize=11)
    fig.tight_layout()
    return plots._save(fig, path)


def settled(num: dict[str, float], name: str, steps: int) -> str:
    s = num[f"steps_to_settle_{name}"]
    return f"{s:.0f}" if s <= steps else f"> {steps} (never)"


def l3(res: dict[str, Any], path: Path) -> Path:
    """The two families at two values of theta; JSD and W1 against theta; their slopes."""
    t, num = res["thetas"], res["numbers"]
    fig = Figure(figsize=(15, 4.2))
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    x = np.linspace(-0.5, 3.5, 4001)
    ax1.fill_between(x, ((x >= 0) & (x < 1)).astype(float), color=BLUE, alpha=0.3, step="mid",
                     label="P = U[0, 1)")
    for theta, ls in ((0.5, "-"), (2.0, "--")):
        ax1.plot(x, ((x >= theta) & (x < theta + 1)).astype(float), color=RED, ls=ls, lw=1.5,
                 label=f"Q = U[theta, theta + 1), theta = {theta:g}")
    ax1.set_ylim(0, 1.3)
    ax1.set_xlabel("x")
    ax1.set_ylabel("density")
    ax1.set_title("two segments sliding apart (and N(0, 0.1^2) vs N(theta, 0.1^2))", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    for fam, ls in (("uniform", "-"), ("gaussian", "--")):
        name = "segments" if fam == "uniform" else "Gaussians, sigma 0.1"
        ax2.plot(t, res[f"{fam}_js"], color=RED, ls=ls, lw=2, label=f"JSD, {name}")
        ax2.plot(t, res[f"{fam}_w1"], color=BLUE, ls=ls, lw=2,
                 label=f"W1, {name}" + (" (on the segments' line)" if fam == "gaussian" else ""))
        ax3.plot(t, np.abs(np.gradient(res[f"{fam}_js"], t)), color=RED, ls=ls, lw=2,
                 label=f"|dJSD/dtheta|, {name}")
        ax3.plot(t, np.abs(np.gradient(res[f"{fam}_w1"], t)), color=BLUE, ls=ls, lw=2,
                 label=f"|dW1/dtheta|, {name}")
    ax2.axhline(LOG2, color="black", ls=":", lw=1, label="log 2")
    ax2.set_ylim(-0.1, 1.45 * t.max())     # headroom: the legend sits above the W1 line
    ax2.set_xlabel("theta (distance between the distributions)")
    ax2.set_ylabel("divergence / distance (nats / units of x)")
    ax2.set_title("JSD is stuck at log 2 once the supports are disjoint "
                  f"(max dev {num['js_plateau_dev']:.0e});\n"
                  f"W1 = theta all the way (max |W1 - theta| {num['w1_linear_err']:.0e}), by quadrature",
                  fontsize=9)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7.5, loc="upper left")
    ax3.set_xlabel("theta")
    ax3.set_ylabel("|derivative w.r.t. theta| (finite differences)")
    ax3.set_title("the signal a generator that moves theta would get:\nnone from JSD once disjoint, "
                  "a constant 1 from W1", fontsize=9)
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=7.5)
    fig.suptitle("Lesson 3: Jensen-Shannon vs Wasserstein-1 for two distributions sliding apart "
                 "(exact, no training)", fontsize=11)
    fig.tight_layout()
    return plots._save(fig, path)


def l4(res: dict[str, Any], path: Path) -> Path:
    """The three discriminators on a line; |dl_G/dx| along the line; at the fakes while D trains."""
    line, num, hists = res["line"], res["numbers"], res["hists"]
    fig = Figure(figsize=(15, 4.4))
    ax1, ax2, ax3 = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    out = res["outputs"]
    ax1.plot(line, 1 / (1 + np.exp(-out["sigmoid"])), color=RED, lw=2, label="sigmoid D(x) (BCE)")
    ax1.plot(line, out["lsgan"], color=GREEN, lw=2, label="LSGAN score s(x) (targets 0 / 1)")
    ax1.set_ylim(-0.3, 1.5)
    ax1.set_xlabel("x")
    ax1.set_ylabel("D(x), s(x)")
    twin = ax1.twinx()
    twin.plot(line, out["wgan_gp"], color=ORANGE, lw=2, ls="--", label="WGAN-GP critic f(x) (right axis)")
    twin.set_ylabel("f(x)")
    bins = np.linspace(-4, 4, 81)
    sets = ((res["real"], BLUE, "real N(2, 0.3^2)"), (res["fake"], RED, "fake N(-2, 0.3^2)"))
    for data, color, label in sets:
        h, _ = np.histogram(data, bins=bins, density=True)
        ax1.bar(bins[:-1], h * 0.25, width=np.diff(bins), align="edge", color=color, alpha=0.25, label=label)
    h1, lab1 = ax1.get_legend_handles_labels()
    h2, lab2 = twin.get_legend_handles_labels()
    ax1.legend(h1 + h2, lab1 + lab2, fontsize=7.5, loc="upper left")
    ax1.set_title("the three discriminators after training on the fixed sets", fontsize=10)
    for label, g in res["grads_line"].items():
        ax2.plot(line, np.maximum(g, 1e-30), color=GEN_COLORS[label], lw=1.5, label=label)
    for data, color in ((res["real"], BLUE), (res["fake"], RED)):
        ax2.axvspan(np.quantile(data, 0.02), np.quantile(data, 0.98), color=color, alpha=0.1)
    ax2.set_yscale("log")
    plots.plain_log_ticks(ax2.yaxis)
    ax2.set_xlabel("x (shaded: the fake set left, the real set right)")
    ax2.set_ylabel("|d loss_G(x) / dx| per sample")
    ax2.set_title("the gradient a generator sample at x would receive", fontsize=10)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=7.5)
    for h in hists.values():
        for label in (k for k in h if k not in ("step", "loss")):
            ax3.plot(h["step"], np.maximum(h[label], 1e-30), color=GEN_COLORS[label], lw=1.5, marker="o",
                     ms=2, label=f"{label}: {h[label][-1]:.2g}")
    ax3.set_yscale("log")
    plots.plain_log_ticks(ax3.yaxis)
    ax3.set_xlabel("discriminator training step")
    ax3.set_ylabel("mean |d loss_G / dx| over the fakes")
    ax3.set_title(f"at the fakes while each D trains (final values in the legend);\nmean sigmoid D(fake) at "
                  f"the end: {num['mean_d_fake']:.1e}", fontsize=9)
    ax3.grid(alpha=0.3, which="both")
    ax3.legend(fontsize=7.5, title="generator loss", title_fontsize=8)
    fig.suptitle("Lesson 4: a saturated sigmoid D gives the minimax generator no gradient at its samples "
                 f"({num['mm_grad_at_fakes']:.0e}); the WGAN-GP critic a unit one "
                 f"({num['wgan_gp_grad_at_fakes']:.2g});\nLSGAN a small one "
                 f"({num['lsgan_grad_at_fakes']:.1g}: its optimum p/(p+q) is flat on the fakes too, "
                 "but the gradient does not decay exponentially)",
                 fontsize=10)
    fig.tight_layout()
    return plots._save(fig, path)


def l5(res: dict[str, Any], path: Path) -> Path:
    """Gap, weight norm and Lipschitz estimate against the step; each critic over the plane."""
    hists, num = res["hists"], res["numbers"]
    fig = Figure(figsize=(16, 8.4))
    gs = fig.add_gridspec(2, 12)
    axes = [fig.add_subplot(gs[0, 4 * i: 4 * i + 4]) for i in range(3)]
    keys = (("gap", "E f(real) - E f(fake)"), ("weight_norm", "||weights|| (all layers, as used)"),
            ("lipschitz", "max ||grad_x f|| between the sets"))
    for ax, (key, ylabel) in zip(axes, keys):
        for kind, h in hists.items():
            ax.plot(h["step"], np.maximum(np.abs(h[key]), 1e-12), color=CRITIC_COLORS[kind], lw=1.5,
                    label=f"{CRITIC_LABELS[kind]}: {h[key][-1]:.3g}")
        ax.set_yscale("log")
        plots.plain_log_ticks(ax.yaxis)
        ax.set_xlabel("critic step")
        ax.set_ylabel(ylabel + (" (|.|)" if key == "gap" else ""))
        ax.grid(alpha=0.3, which="both")
    axes[0].axhline(num["w1"], color="black", ls="--", lw=1, label=f"exact W1 of the sets = {num['w1']:.3f}")
    axes[0].set_title(f"the critic's gap: unconstrained x{num['none_growth']:.1f} over the second half,\n"
                      f"GP {num['gp_gap']:.3f}, SN {num['sn_gap']:.3f}, clipping {num['clip_gap']:.1e}",
                      fontsize=9)
    axes[1].set_title("the weights grow without bound only without a constraint", fontsize=9)
    axes[2].axhline(1.0, color="black", ls="--", lw=1, label="1 (what W1's dual asks for)")
    axes[2].set_title("the critic's slope (a lower bound of its Lipschitz constant)", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7.5)
    ticks = res["ticks"]
    for i, kind in enumerate(("none", "clip", "gp", "sn")):
        ax = fig.add_subplot(gs[1, 3 * i: 3 * i + 3])
        grid = res["grids"][kind]
        cs = ax.contourf(ticks, ticks, grid, levels=20, cmap="viridis")
        fig.colorbar(cs, ax=ax, shrink=0.85, format="%.2g")
        ax.scatter(res["fake"][:, 0], res["fake"][:, 1], s=3, color=RED, label="fake")
        ax.scatter(res["real"][:, 0], res["real"][:, 1], s=3, color="white", label="real")
        ax.set_aspect("equal")
        ax.set_title(f"{CRITIC_LABELS[kind]}: f(x) over the plane\n"
                     f"(range {grid.min():.3g} to {grid.max():.3g})", fontsize=9)
        ax.set_xlabel("x1")
        if i == 0:
            ax.set_ylabel("x2")
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Lesson 5: on disjoint data the WGAN critic loss has no minimum; only a constraint keeps "
                 "the critic bounded (real: ring of 8 Gaussians, fake: N(0, 0.15^2 I), 256 each)",
                 fontsize=11)
    fig.tight_layout()
    return plots._save(fig, path)
