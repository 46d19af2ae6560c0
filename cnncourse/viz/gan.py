"""Figures for GANs (notebook 09): the generator losses and their gradients, a 1-D generator's
density over training, 2-D samples against the modes of a toy distribution, class histograms.

matplotlib is imported inside the drawing functions. The numbers come from the caller
(`cnncourse.torch.gan`, `cnncourse.aids.generative`); `histogram_density` and `gaussian_pdf` are
the plain helpers the density plot uses, with unit tests.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["gaussian_pdf", "histogram_density", "plot_generator_gradients",
           "plot_density_snapshots", "plot_ring_snapshots", "plot_class_histogram",
           "plot_snapshot_grids", "plot_training_frame"]


def _numpy(values: Any) -> np.ndarray:
    return values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)


def gaussian_pdf(x: Any, mean: float, std: float) -> np.ndarray:
    """Density of N(mean, std^2) at x: exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def histogram_density(samples: Any, edges: Any) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, density) of 1-D samples over fixed bin edges; the density integrates to the
    share of samples inside the edges (samples outside are not renormalized away).

    Inputs: samples (N,) or (N, 1); edges (B + 1,) increasing. Returns two (B,) arrays.
    """
    samples = _numpy(samples).reshape(-1)
    edges = np.asarray(edges, dtype=np.float64)
    counts, _ = np.histogram(samples, bins=edges)
    widths = np.diff(edges)
    return (edges[:-1] + edges[1:]) / 2, counts / (samples.size * widths)


def plot_generator_gradients(d_values: Any, losses: Mapping[str, Any], gradients: Mapping[str, Any],
                             axes: Any = None) -> Any:
    """Two panels against D(G(z)) in (0, 1): the generator losses, and the size of their
    gradients with respect to the discriminator's logit (the signal that reaches G).

    Inputs: d_values (P,) the D(G(z)) grid; losses and gradients, {name: (P,) values}; axes, two
    Axes or None. The gradient panel shows |gradient| on a log scale and shades the region
    D(G(z)) < 0.1 where training starts. Returns: the two Axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax_loss, ax_grad = axes
    d_values = _numpy(d_values)
    for name, values in losses.items():
        ax_loss.plot(d_values, _numpy(values), label=name)
    for name, values in gradients.items():
        ax_grad.plot(d_values, np.abs(_numpy(values)), label=name)
    for ax in (ax_loss, ax_grad):
        ax.axvspan(0, 0.1, color="tab:red", alpha=0.08)
        ax.set_xlabel("D(G(z))")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    ax_loss.set_ylabel("generator loss (minimized)")
    ax_loss.set_title("losses")
    ax_grad.set_yscale("log")
    ax_grad.set_ylabel("|d loss / d logit|")
    ax_grad.set_title("gradient reaching G (shaded: early training)")
    return axes


def plot_density_snapshots(snapshots: Sequence[tuple[int, Any]], true_mean: float, true_std: float,
                           bins: int = 60, value_range: tuple[float, float] | None = None,
                           ax: Any = None) -> Any:
    """Density of a 1-D generator's samples at several training iterations, over the true
    Gaussian density N(true_mean, true_std^2).

    Inputs: snapshots, (iteration, samples (N,) or (N, 1)) pairs; true_mean, true_std; bins over
    value_range (default: mean +- 5 std, widened to hold every snapshot's central 98%); ax.
    Later iterations are drawn in darker colours. Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.8))
    if value_range is None:
        lo, hi = true_mean - 5 * true_std, true_mean + 5 * true_std
        for _, samples in snapshots:
            values = _numpy(samples).reshape(-1)
            lo, hi = min(lo, np.percentile(values, 1)), max(hi, np.percentile(values, 99))
        value_range = (lo, hi)
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    colors = plt.get_cmap("viridis")(np.linspace(0.15, 0.9, max(len(snapshots), 1)))
    for color, (iteration, samples) in zip(colors, snapshots):
        centres, density = histogram_density(samples, edges)
        ax.plot(centres, density, color=color, label=f"G after {iteration} it.")
    grid = np.linspace(value_range[0], value_range[1], 400)
    ax.fill_between(grid, gaussian_pdf(grid, true_mean, true_std), color="k", alpha=0.12,
                    label=f"real N({true_mean:g}, {true_std:g}²)")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_ring_snapshots(real: Any, snapshots: Sequence[tuple[int, Any]],
                        centres: Any | None = None, axes: Any = None, title: str | None = None,
                        limit: float = 3.0) -> Any:
    """Scatter plots of 2-D generator samples (red) over real samples (grey), one panel per
    snapshot, with the mixture's centres marked.

    Inputs: real (N, 2); snapshots, (iteration, samples (n, 2)) pairs; centres (M, 2) or None;
    axes, one Axes per snapshot or None (a new row); title of the row; limit, the half-width of
    the square view. Returns: the list of Axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(snapshots), figsize=(2.3 * len(snapshots), 2.5),
                               squeeze=False)
    axes = list(np.ravel(axes))
    if len(axes) < len(snapshots):
        raise ValueError(f"need {len(snapshots)} axes, got {len(axes)}")
    real = _numpy(real)
    for ax, (iteration, samples) in zip(axes, snapshots):
        samples = _numpy(samples)
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", label="real")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:red", alpha=0.6, label="G(z)")
        if centres is not None:
            c = _numpy(centres)
            ax.scatter(c[:, 0], c[:, 1], marker="x", s=25, c="k")
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{iteration} it.", fontsize=9)
    if title:
        axes[0].set_ylabel(title, fontsize=9)
    return axes


def plot_class_histogram(histograms: Mapping[str, Any], ax: Any = None,
                         title: str | None = None) -> Any:
    """Side-by-side bars of how many samples a classifier assigns to each class, for several
    sources ({"real test digits": counts (K,), "GAN samples": counts (K,)}), as shares.

    Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(len(histograms), 1)
    for i, (name, counts) in enumerate(histograms.items()):
        counts = _numpy(counts).astype(np.float64)
        classes = np.arange(counts.size)
        ax.bar(classes + (i - (len(histograms) - 1) / 2) * width, counts / counts.sum(), width,
               label=name)
    ax.set_xticks(np.arange(max(_numpy(c).size for c in histograms.values())))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("share of samples")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_snapshot_grids(snapshots: Sequence[tuple[int, Any]], n: int = 36, nrow: int = 6,
                        value_range: tuple[float, float] = (-1, 1), axes: Any = None) -> Any:
    """One grid of generated images per snapshot (the first n images of each), side by side.

    Inputs: snapshots, (iteration, images (N, C, H, W)) pairs from `train_gan`; value_range of
    the images ((-1, 1) for tanh output). Returns: the list of Axes.
    """
    import matplotlib.pyplot as plt

    from .training import plot_sample_grid

    if axes is None:
        _, axes = plt.subplots(1, len(snapshots), figsize=(2.4 * len(snapshots), 2.7),
                               squeeze=False)
    axes = list(np.ravel(axes))
    for ax, (iteration, images) in zip(axes, snapshots):
        plot_sample_grid(images[:n], nrow=nrow, ax=ax, value_range=value_range,
                         title=f"{iteration} it.")
    return axes


def plot_training_frame(x_grid: Any, data_density: Any, samples: Any, d_values: Any, *,
                        near_half: Sequence[tuple[float, float]] = (), bins: int = 60,
                        density_max: float | None = None, title: str | None = None,
                        ax: Any = None) -> Any:
    """One step of a 1-D GAN run as in Goodfellow et al.'s Figure 1: the data density (black,
    dotted, shaded), the generator's density (green: a histogram of its samples) and the
    discriminator's output D(x) (blue, dashed, on a right axis from 0 to 1, with a line at 1/2).

    Inputs: x_grid (P,) increasing; data_density (P,) the data's density on x_grid; samples (N,)
    or (N, 1) the generator's samples; d_values (P,) D(x) on x_grid; near_half, (x_start, x_end)
    stretches where D(x) is near 1/2 (shaded blue; computed by the caller, e.g.
    `cnncourse.aids.gan_explain.near_half_intervals`); bins over [x_grid[0], x_grid[-1]];
    density_max, a fixed top of the density axis (so frames compare; a generator peak above it is
    clipped and its height written at the top); title; ax. Returns: the Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    x_grid = _numpy(x_grid).astype(np.float64)
    data_density = _numpy(data_density)
    d_values = _numpy(d_values)
    if data_density.shape != x_grid.shape or d_values.shape != x_grid.shape:
        raise ValueError(f"data_density {data_density.shape} and d_values {d_values.shape} must "
                         f"have the shape of x_grid {x_grid.shape}")
    edges = np.linspace(x_grid[0], x_grid[-1], bins + 1)
    centres, g_density = histogram_density(samples, edges)
    ax.fill_between(x_grid, data_density, color="k", alpha=0.08)
    ax.plot(x_grid, data_density, "k:", lw=2, label="data density")
    ax.step(centres, g_density, where="mid", color="tab:green", lw=1.8,
            label="generator density G")
    top = density_max if density_max is not None else 1.1 * max(data_density.max(),
                                                                g_density.max())
    ax.set_ylim(0, top)
    peak = g_density.max()
    if peak > top:
        at = centres[np.argmax(g_density)]
        ax.annotate(f"G's peak {peak:.2g} (off the chart)", xy=(at, top), xytext=(8, -14),
                    textcoords="offset points", fontsize=8, color="tab:green",
                    arrowprops={"arrowstyle": "->", "color": "tab:green"})
    ax.set_xlim(x_grid[0], x_grid[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax_d = ax.twinx()
    for lo, hi in near_half:
        ax_d.axvspan(lo, hi, color="tab:blue", alpha=0.08, lw=0)
    ax_d.axhline(0.5, color="tab:blue", lw=0.8, alpha=0.6)
    ax_d.plot(x_grid, d_values, "--", color="tab:blue", lw=1.8, label="discriminator D(x)")
    ax_d.set_ylim(0, 1)
    ax_d.set_ylabel("D(x)", color="tab:blue")
    handles = ax.get_legend_handles_labels()[0] + ax_d.get_legend_handles_labels()[0]
    ax_d.legend(handles, [h.get_label() for h in handles], loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax.figure
