"""2-D toy distributions for GANs and the mode-coverage metrics of the PacGAN/VEEGAN papers.

Datasets (``sample(name, n, rng)`` -> (n, 2) float32):
    ring   8 Gaussians on the unit circle, sigma = 0.01
    grid   25 Gaussians at {-4, -2, 0, 2, 4}^2, sigma = 0.05
    moons  scikit-learn's two moons with noise 0.05 (no discrete modes: only pictures and energy distance)

Metrics of n generated samples against K modes with standard deviation sigma:
    high_quality  fraction of samples within 3 sigma of their nearest mode
    modes         number of modes that receive at least one high-quality sample
    reverse_kl    KL(q || uniform) = log K - H(q), q the histogram of high-quality samples over modes
                  (log K when there is no high-quality sample at all)
"""

from __future__ import annotations

import numpy as np

DATASETS = ("ring", "grid", "moons")
SIGMA = {"ring": 0.01, "grid": 0.05}


def modes(name: str) -> np.ndarray:
    """The K mode centres (K, 2) of ``ring`` (K = 8) or ``grid`` (K = 25)."""
    if name == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "grid":
        ticks = np.arange(-4.0, 5.0, 2.0)
        return np.stack(np.meshgrid(ticks, ticks, indexing="ij"), axis=-1).reshape(-1, 2)
    raise ValueError(f"{name!r} has no modes; choose ring or grid")


def sample(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points of dataset ``name``, (n, 2) float32: a uniformly chosen mode plus N(0, sigma^2 I)."""
    if name == "moons":
        t = rng.uniform(0, np.pi, n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(t), 1 - np.cos(t))
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        return (np.stack([x, y], 1) + rng.normal(0, 0.05, (n, 2))).astype(np.float32)
    centres = modes(name)
    k = rng.integers(0, len(centres), n)
    return (centres[k] + SIGMA[name] * rng.normal(size=(n, 2))).astype(np.float32)


def mode_metrics(name: str, x: np.ndarray) -> dict[str, float]:
    """``modes``, ``high_quality`` and ``reverse_kl`` of the samples x (n, 2), as defined above."""
    centres = modes(name)
    dist = np.linalg.norm(x[:, None, :] - centres[None], axis=-1)  # (n, K)
    nearest = dist.argmin(1)
    hq = dist[np.arange(len(x)), nearest] < 3 * SIGMA[name]
    counts = np.bincount(nearest[hq], minlength=len(centres)).astype(float)
    k = len(centres)
    if counts.sum() == 0:
        rkl = float(np.log(k))
    else:
        q = counts / counts.sum()
        nz = q[q > 0]
        rkl = float(np.log(k) + (nz * np.log(nz)).sum())
    return {"modes": float((counts > 0).sum()), "high_quality": float(hq.mean()), "reverse_kl": rkl}


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """2 E|x - y| - E|x - x'| - E|y - y'| (Szekely): 0 iff the distributions agree; (n, 2), (m, 2)."""
    def mean_dist(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a[:, None] - b[None], axis=-1).mean())
    return 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def mean_and_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n); 0 for one value)."""
    a = np.asarray(values, dtype=float)
    se = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0
    return float(a.mean()), se
