"""Figures for generative vs discriminative models (notebook 08).

matplotlib is imported inside the drawing functions; `as_float_table` and `interval_label` are
plain helpers with unit tests. The numbers come from `cnncourse.aids.generative`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["as_float_table", "interval_label", "plot_tables", "plot_intervals",
           "plot_accuracy_vs_size", "plot_pixel_model"]

_TABLE_TITLES = {"p_x": "P(x)", "p_x_given_y": "P(x | y)", "p_x_and_y": "P(x, y)",
                 "p_y_given_x": "P(y | x)"}


def as_float_table(table: Any) -> np.ndarray:
    """A table of numbers (Fractions, floats, None for undefined) as a float array, None -> nan."""
    def convert(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return np.nan if value is None else float(value)
    return np.array(convert(list(table)), dtype=float)


def interval_label(lo: Any, hi: Any, first: bool) -> str:
    """'[0, 0.2]' for the first interval, '(0.2, 0.5]' for the others (numbers to 3 places)."""
    return f"{'[' if first else '('}{float(lo):.3g}, {float(hi):.3g}]"


def _value_label(value: Any) -> str:
    return "(" + ",".join(str(v) for v in value) + ")" if isinstance(value, (tuple, list)) \
        else str(value)


def plot_tables(tables: Mapping[str, Any], values: Sequence[Any], classes: Sequence[Any] = (0, 1),
                axes: Any = None) -> Any:
    """Bar charts of the four tables of Example 4-1: P(x), P(x|y), P(x, y), P(y|x).

    Inputs: tables with keys "p_x" (V,), "p_x_given_y", "p_x_and_y", "p_y_given_x" (V, C)
    (Fractions or floats; None where undefined); values, the V feature vectors (x-axis
    labels); classes, the C labels; axes, four Axes or None (a new 1x4 figure).
    Every bar is labelled with its value; an undefined entry is marked "undef.".
    Returns: the list of four Axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 4, figsize=(16, 3.4), sharey=True)
    axes = list(np.ravel(axes))
    names = [_value_label(v) for v in values]
    positions = np.arange(len(values))
    for ax, key in zip(axes, ("p_x", "p_x_given_y", "p_x_and_y", "p_y_given_x")):
        table = as_float_table(tables[key])
        columns = [table] if table.ndim == 1 else [table[:, j] for j in range(table.shape[1])]
        width = 0.8 / len(columns)
        for j, column in enumerate(columns):
            offset = (j - (len(columns) - 1) / 2) * width
            label = None if table.ndim == 1 else f"y = {classes[j]}"
            bars = ax.bar(positions + offset, np.nan_to_num(column), width, label=label)
            for bar, value in zip(bars, column):
                text = "undef." if np.isnan(value) else f"{value:.2f}"
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
        ax.set_xticks(positions, names)
        ax.set_xlabel("x")
        ax.set_title(_TABLE_TITLES[key])
        ax.set_ylim(0, 1.3)             # room above the bars for the labels and the legend
        if table.ndim == 2:
            ax.legend(fontsize="small", loc="upper center", ncol=len(columns), frameon=False)
    return axes


def plot_intervals(probs: Sequence[Any], labels: Sequence[Any], us: Sequence[float] = (),
                   picks: Sequence[int] | None = None, ax: Any = None) -> Any:
    """The unit interval cut into one segment per value (value i owns (c_(i-1), c_i], the
    first [0, c_0]), with markers at the uniform numbers `us`.

    Inputs: probs (V,) a distribution; labels (V,) the values; us, numbers in [0, 1] to mark;
    picks, the index drawn for each u (drawn under its marker; None: not shown); ax.
    Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.9))
    widths = as_float_table(probs)
    starts = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    colors = plt.get_cmap("tab10")(np.arange(len(widths)) % 10)
    for i, (start, width) in enumerate(zip(starts, widths)):
        ax.barh(0, width, left=start, height=0.6, color=colors[i], alpha=0.55, edgecolor="k")
        if width > 0:
            ax.text(start + width / 2, 0.05, _value_label(labels[i]), ha="center", va="center",
                    fontsize=10, weight="bold")
            ax.text(start + width / 2, -0.2, interval_label(start, start + width, i == 0),
                    ha="center", va="center", fontsize=8)
    for n, u in enumerate(us):
        ax.annotate(f"u = {u:g}", (u, 0.3), xytext=(u, 0.75), ha="center", fontsize=9,
                    arrowprops={"arrowstyle": "->"})
        if picks is not None:
            ax.text(u, -0.52, "-> " + _value_label(labels[picks[n]]), ha="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.65, 1.0)
    ax.set_yticks([])
    ax.set_xticks(np.round(np.concatenate([starts, [1.0]]), 3))
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax


def plot_accuracy_vs_size(result: Mapping[str, Any], names: Sequence[str] | None = None,
                          ax: Any = None, title: str | None = None) -> Any:
    """Test accuracy against the number of training examples, mean and +-1 std band per model.

    Inputs: result from `cnncourse.aids.generative.accuracy_vs_training_size`
    ({"n_train": (S,), name: (S, R) accuracies}); names, the models to draw (default all);
    ax; title. The x axis is logarithmic. Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    n_train = np.asarray(result["n_train"])
    for name in names or [k for k in result if k != "n_train"]:
        runs = np.asarray(result[name], dtype=float)
        if runs.shape[0] != n_train.shape[0]:
            raise ValueError(f"{name}: {runs.shape[0]} rows for {n_train.shape[0]} sizes")
        mean, std = runs.mean(axis=1), runs.std(axis=1)
        (line,) = ax.plot(n_train, mean, marker="o", markersize=4, label=name)
        ax.fill_between(n_train, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("training examples (balanced over the classes)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_pixel_model(p: Any, samples: Any, image_shape: Sequence[int], curves: Any = None,
                     point: tuple[float, Any, str] | None = None, title: str | None = None) -> Any:
    """A class-conditional pixel model at a glance (the naive Bayes explorer of notebook 08).

    Left, one column per class k: p[k] as an image (top row, 0 = white, 1 = black) and one
    sample of the model (bottom row). Right, when `curves` is given: test accuracy against
    the training-set size (`plot_accuracy_vs_size(curves)`), with `point` = (n_train,
    accuracies (R,), label) drawn as a star at the mean with a +-1 std bar.

    Inputs: p (K, D) in [0, 1]; samples (K, D) of 0/1; image_shape (H, W) with H * W = D;
    curves, a result of `cnncourse.aids.generative.accuracy_vs_training_size` or None.
    Returns: the Figure.
    """
    import matplotlib.pyplot as plt

    p = np.asarray(p, dtype=float)
    samples = np.asarray(samples)
    n_classes = p.shape[0]
    height, width = (int(v) for v in image_shape)
    if p.ndim != 2 or samples.shape != p.shape or height * width != p.shape[1]:
        raise ValueError(f"need p and samples of one shape (K, H*W) with image_shape {image_shape},"
                         f" got {p.shape} and {samples.shape}")
    ratios = [1.0] * n_classes + ([0.5, 0.65 * n_classes] if curves is not None else [])
    fig = plt.figure(figsize=(0.72 * sum(ratios) + 0.4, 2.6), layout="constrained")
    grid = fig.add_gridspec(2, len(ratios), width_ratios=ratios)
    for k in range(n_classes):
        for row, (images, name) in enumerate(((p, "p[k]"), (samples, "sample"))):
            ax = fig.add_subplot(grid[row, k])
            ax.imshow(images[k].reshape(height, width), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"k = {k}", fontsize=9)
            if k == 0:
                ax.set_ylabel(name, fontsize=9)
    if curves is not None:
        ax = fig.add_subplot(grid[:, -1])
        plot_accuracy_vs_size(curves, ax=ax)
        if point is not None:
            n_train, runs, label = point
            runs = np.asarray(runs, dtype=float)
            ax.errorbar([n_train], [runs.mean()], yerr=[runs.std()], marker="*", markersize=13,
                        color="crimson", capsize=3, linestyle="none", label=label, zorder=5)
            ax.legend(fontsize="x-small", loc="lower right")
        ax.set_xlabel("training images (balanced over the classes)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
