"""Pictures of tabular solutions: a value heatmap with the greedy policy's arrows on top.

Action conventions differ between environments, so the arrows are given per action index as
(dx, dy) steps on the picture (x to the right, y downwards, as the grid is drawn row 0 at the top).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# (dx, dy) on the picture for each action index
FROZENLAKE_ARROWS = ((-1, 0), (0, 1), (1, 0), (0, -1))     # 0 left, 1 down, 2 right, 3 up
CLIFFWALKING_ARROWS = ((0, -1), (1, 0), (0, 1), (-1, 0))   # 0 up, 1 right, 2 down, 3 left
GRIDWORLD_ARROWS = ((0, -1), (0, 1), (-1, 0), (1, 0))      # 0 north, 1 south, 2 west, 3 east


def plot_value_grid(ax, values: np.ndarray, policy: np.ndarray | None = None, *,
                    arrows: Sequence[tuple[int, int]] = FROZENLAKE_ARROWS,
                    mask: np.ndarray | None = None, labels: np.ndarray | None = None,
                    title: str = "", fmt: str = ".2f", cmap: str = "viridis", annotate: bool = True):
    """Draw a value function on a grid, with the policy's arrows.

    values:  (nrow, ncol) state values (reshape a flat (S,) array to the grid first)
    policy:  (nrow, ncol) action indices, or (nrow, ncol, A) bool/probabilities: an arrow for every
             action with the largest entry (ties show several arrows); None for no arrows
    mask:    (nrow, ncol) bool, True for cells that take no arrow (terminal states, walls)
    labels:  (nrow, ncol) strings drawn in the cell corner (e.g. FrozenLake's S/F/H/G)
    Returns the image, for a colour bar.
    """
    values = np.asarray(values, dtype=float)
    nrow, ncol = values.shape
    im = ax.imshow(values, cmap=cmap)
    lo, hi = np.nanmin(values), np.nanmax(values)
    for r in range(nrow):
        for c in range(ncol):
            light = hi > lo and (values[r, c] - lo) / (hi - lo) > 0.6
            color = "black" if light else "white"
            if annotate:
                ax.text(c, r + 0.32, format(values[r, c], fmt), ha="center", va="center",
                        fontsize=7, color=color)
            if labels is not None:
                ax.text(c - 0.42, r - 0.42, str(labels[r, c]), ha="left", va="top", fontsize=7,
                        color=color, fontweight="bold")
            if policy is None or (mask is not None and mask[r, c]):
                continue
            p = np.asarray(policy[r, c])
            best = [int(p)] if p.ndim == 0 else np.flatnonzero(np.isclose(p, p.max())).tolist()
            for a in best:
                dx, dy = arrows[a]
                ax.arrow(c - 0.18 * dx, r - 0.12 - 0.18 * dy, 0.3 * dx, 0.3 * dy, head_width=0.12,
                         head_length=0.1, length_includes_head=True, color=color)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return im
