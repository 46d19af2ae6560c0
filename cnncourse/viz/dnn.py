"""Figures for notebook 02 (deep neural networks). Drawing only: every number comes from
`cnncourse.aids.dnn_explain` or the notebook. matplotlib is imported inside the functions.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .training import make_grid

__all__ = ["plot_activation_histograms", "plot_gradient_norms", "plot_optimizer_paths",
           "plot_embedding", "plot_weight_images", "plot_decision_boundary",
           "plot_accuracy_vs_labels"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_activation_histograms(rows: Mapping[str, Sequence[np.ndarray]], bins: int = 30,
                               value_range: tuple[float, float] | None = None,
                               title: str | None = None) -> Any:
    """One row of histograms per configuration, one column per layer.

    Inputs:
    - rows: {"tanh, std 0.01": [layer-1 activations, layer-2 activations, ...], ...}; every
      row must have the same number of layers
    - bins, value_range: of each histogram (None: the range of that row's values)
    Returns: the Figure. Each panel's y axis is the fraction of values in a bin.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not rows:
        raise ValueError("rows must hold at least one configuration")
    depths = {len(layers) for layers in rows.values()}
    if len(depths) != 1 or 0 in depths:
        raise ValueError(f"every row needs the same, nonzero number of layers, "
                         f"got {sorted(depths)}")
    depth = depths.pop()
    fig, axes = plt.subplots(len(rows), depth, figsize=(1.5 * depth + 1, 1.5 * len(rows) + 0.6),
                             squeeze=False, sharey="row")
    for r, (name, layers) in enumerate(rows.items()):
        values = [np.ravel(np.asarray(a, dtype=float)) for a in layers]
        lo, hi = value_range if value_range else (min(v.min() for v in values),
                                                  max(v.max() for v in values))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        for c, v in enumerate(values):
            ax = axes[r, c]
            # np.histogram + one stairs artist: far cheaper to draw than one bar per bin
            counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
            ax.stairs(counts / v.size, edges, fill=True, color="tab:blue")
            # few ticks and no tight_layout: axis drawing dominates the cost of 30+ panels
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=6, labelleft=(c == 0))
            if r == 0:
                ax.set_title(f"layer {c + 1}", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.08, top=0.86 if title else 0.92,
                        wspace=0.12, hspace=0.45)
    return fig


def plot_gradient_norms(norms: Mapping[str, Sequence[float]], ax: Any = None,
                        title: str | None = None) -> Any:
    """Gradient norm of each layer's weights (log scale), one line per net; layer 1 = input
    side. Returns the Axes."""
    ax = _axes(ax, (6, 3.5))
    for name, values in norms.items():
        values = np.asarray(values, dtype=float)
        ax.semilogy(np.arange(1, len(values) + 1), values, "o-", label=name)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("||dL/dW||")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_optimizer_paths(w1: np.ndarray, w2: np.ndarray, loss_grid: np.ndarray,
                         paths: Mapping[str, np.ndarray], optimum: Sequence[float] | None = None,
                         ax: Any = None, title: str | None = None) -> Any:
    """Contours of a 2-D loss surface with each optimizer's path (points (steps + 1, 2)).

    loss_grid has shape (len(w2), len(w1)) (see `dnn_explain.regression_loss_grid`). Contour
    levels are spaced logarithmically above the minimum so the flat valley shows. Returns Axes.
    """
    ax = _axes(ax, (6, 5))
    z = np.asarray(loss_grid, dtype=float)
    if z.shape != (len(w2), len(w1)):
        raise ValueError(f"loss_grid must have shape (len(w2), len(w1)) = ({len(w2)}, "
                         f"{len(w1)}), got {z.shape}")
    floor = z.min()
    levels = floor + np.geomspace(1e-3, max(z.max() - floor, 2e-3), 15)
    ax.contour(w1, w2, z, levels=levels, colors="grey", linewidths=0.6)
    for name, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], ".-", markersize=3, linewidth=1, label=name)
    if paths:
        start = np.asarray(next(iter(paths.values())), dtype=float)[0]
        ax.plot(*start, "ks", markersize=6, label="start")
    if optimum is not None:
        ax.plot(*optimum, "k*", markersize=12, label="minimum")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_xlim(w1[0], w1[-1])
    ax.set_ylim(w2[0], w2[-1])
    ax.legend(fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_embedding(points: np.ndarray, labels: Sequence[int], ax: Any = None,
                   title: str | None = None) -> Any:
    """Scatter of 2-D points coloured by class, each class's label written at its centroid.
    Returns the Axes."""
    ax = _axes(ax, (4.5, 4.5))
    p = np.asarray(points, dtype=float)
    t = np.asarray(labels)
    if p.ndim != 2 or p.shape[1] != 2 or t.shape != (p.shape[0],):
        raise ValueError(f"need points (N, 2) and labels (N,), got {p.shape} and {t.shape}")
    ax.scatter(p[:, 0], p[:, 1], c=t, cmap="tab10", s=6, vmin=0, vmax=9, alpha=0.7)
    for c in np.unique(t):
        cx, cy = p[t == c].mean(axis=0)
        ax.text(cx, cy, str(c), fontsize=12, weight="bold", ha="center", va="center",
                bbox=dict(boxstyle="circle,pad=0.15", fc="white", alpha=0.8))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_weight_images(weights: np.ndarray, image_shape: tuple[int, int] = (8, 8),
                       n: int = 16, nrow: int = 8, ax: Any = None,
                       title: str | None = None) -> Any:
    """First-layer weights as images: column j of W (D_in, D_out) reshaped to image_shape,
    the first n columns, red positive and blue negative on a scale symmetric about 0.
    Returns the Axes."""
    w = np.asarray(weights, dtype=float)
    h, wd = image_shape
    if w.ndim != 2 or w.shape[0] != h * wd:
        raise ValueError(f"weights must be (H*W, units) = ({h * wd}, ...), got {w.shape}")
    n = min(int(n), w.shape[1])
    tiles = w[:, :n].T.reshape(n, h, wd)
    scale = float(np.abs(tiles).max()) or 1.0
    grid = make_grid(tiles, nrow=nrow, padding=1, pad_value=0.0)
    ax = _axes(ax, (0.9 * min(nrow, n), 0.9 * -(-n // nrow) + 0.4))
    ax.imshow(grid, cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(xx: np.ndarray, yy: np.ndarray, labels: np.ndarray, x: np.ndarray,
                           t: Sequence[int], ax: Any = None, title: str | None = None) -> Any:
    """Predicted class over a grid (from `dnn_explain.decision_grid`) as coloured regions,
    with the data points on top. Returns the Axes."""
    ax = _axes(ax, (4, 4))
    ax.contourf(xx, yy, labels, levels=np.arange(labels.max() + 2) - 0.5, cmap="coolwarm",
                alpha=0.35)
    pts = np.asarray(x, dtype=float)
    ax.scatter(pts[:, 0], pts[:, 1], c=np.asarray(t), cmap="coolwarm", s=6, edgecolors="none")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_accuracy_vs_labels(sizes: Sequence[int], accuracies: Mapping[str, Sequence[float]],
                            ax: Any = None, title: str | None = None,
                            xlabel: str = "labelled examples per class") -> Any:
    """Test accuracy against the number of labelled examples (log x axis), one line per
    training strategy. Returns the Axes."""
    ax = _axes(ax, (6, 3.8))
    for name, acc in accuracies.items():
        if len(acc) != len(sizes):
            raise ValueError(f"{name!r} has {len(acc)} accuracies for {len(sizes)} sizes")
        ax.semilogx(sizes, acc, "o-", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax
