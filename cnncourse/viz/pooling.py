"""Figures for notebook 05 (pooling). matplotlib is imported inside each function.

Every function returns the matplotlib Figure it drew on. The numbers come from elsewhere:
pooled maps from `cnncourse.pooling`, gradient routing from `cnncourse.aids.pool_explain`,
parameter counts from the notebook (torch models or `cnncourse.aids.arith`).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..aids.pool_explain import describe_window, route_gradient, window_slices
from .models import KIND_COLORS

__all__ = ["draw_value_grid", "draw_pooling", "draw_routing", "plot_shift_study",
           "plot_param_comparison"]

_WINDOW_COLOR = "#1f77b4"
_WINNER_COLOR = "#d62728"
_TIE_COLOR = "#ff7f0e"
# Pale fills that tell neighbouring non-overlapping windows apart.
_TILE_COLORS = ("#dbe9f6", "#fde4c8", "#dcefd9", "#f3dcef")


def draw_value_grid(ax, values, title: str = "", fills=None, fmt: str = "{:g}",
                    fontsize: float = 8.0) -> None:
    """Draw a 2-D array as a grid of cells with its numbers written in them.

    fills: None (white) or an (H, W) nested sequence / array of matplotlib colours.
    """
    from matplotlib.patches import Rectangle

    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"draw_value_grid expects a 2-D array, got shape {values.shape}")
    height, width = values.shape
    for i in range(height):
        for j in range(width):
            color = "white" if fills is None else fills[i][j]
            ax.add_patch(Rectangle((j, height - 1 - i), 1, 1, facecolor=color,
                                   edgecolor="black", linewidth=0.6))
            ax.text(j + 0.5, height - 0.5 - i, fmt.format(values[i, j]), ha="center",
                    va="center", fontsize=fontsize)
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.1, height + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)


def _outline(ax, height: int, rows: slice, cols: slice, color: str, width: float = 2.5) -> None:
    from matplotlib.patches import Rectangle
    ax.add_patch(Rectangle((cols.start, height - rows.stop), cols.stop - cols.start,
                           rows.stop - rows.start, fill=False, edgecolor=color,
                           linewidth=width))


def draw_pooling(x, outputs: Mapping[str, np.ndarray], pool_h: int, pool_w: int,
                 stride: int | None = None):
    """The input map with its windows, beside each named pooled output.

    Inputs: x (H, W); outputs, name -> (OH, OW) array (e.g. "max pool" -> ...), computed by
    the caller; the pooling geometry. When the windows do not overlap each window gets its
    own pale colour and so does its output cell; otherwise the first window is outlined.
    Output: the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"draw_pooling expects a 2-D map, got shape {x.shape}")
    if not outputs:
        raise ValueError("draw_pooling needs at least one output")
    shapes = {np.asarray(out).shape for out in outputs.values()}
    if len(shapes) != 1:
        raise ValueError(f"outputs differ in shape: {sorted(shapes)}")
    out_h, out_w = shapes.pop()
    step = pool_h if stride is None else stride
    tiles = step >= pool_h and step >= pool_w
    fills = [["white"] * x.shape[1] for _ in range(x.shape[0])]
    out_fills = [["white"] * out_w for _ in range(out_h)]
    if tiles:
        for row in range(out_h):
            for col in range(out_w):
                color = _TILE_COLORS[(row % 2) * 2 + col % 2]
                out_fills[row][col] = color
                rows, cols = window_slices((row, col), pool_h, pool_w, stride)
                for i in range(rows.start, rows.stop):
                    for j in range(cols.start, cols.stop):
                        fills[i][j] = color
    widths = [x.shape[1]] + [out_w] * len(outputs)
    fig, axes = plt.subplots(1, 1 + len(outputs), figsize=(0.45 * sum(widths) + 1.5,
                                                           0.45 * x.shape[0] + 0.8),
                             gridspec_kw={"width_ratios": widths})
    draw_value_grid(axes[0], x, f"input {x.shape[0]}x{x.shape[1]}", fills)
    if not tiles:
        _outline(axes[0], x.shape[0], *window_slices((0, 0), pool_h, pool_w, stride),
                 _WINDOW_COLOR)
    for ax, (name, out) in zip(axes[1:], outputs.items()):
        draw_value_grid(ax, out, name, out_fills)
        margin = (x.shape[0] - out_h) / 2          # centre the output beside the input
        ax.set_ylim(-margin - 0.1, out_h + margin + 0.1)
    fig.suptitle(f"{pool_h}x{pool_w} windows, stride {step}", fontsize=10)
    fig.tight_layout()
    return fig


def draw_routing(x, pool_h: int, pool_w: int, stride: int | None = None,
                 window: tuple[int, int] | None = (0, 0), upstream: float = 1.0):
    """Where an upstream gradient goes under max and under average pooling.

    Three panels: the input map (the chosen window outlined in blue, its tied maxima in
    orange, the pixel that receives the max-pool gradient in red); dx of max pooling; dx of
    average pooling (both from `cnncourse.aids.pool_explain.route_gradient`). With window
    None every output cell receives `upstream` and the panels show the summed dx.
    Output: the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=float)
    dx_max = route_gradient(x, pool_h, pool_w, stride, "max", window, upstream)
    dx_avg = route_gradient(x, pool_h, pool_w, stride, "avg", window, upstream)
    height = x.shape[0]
    fig, axes = plt.subplots(1, 3, figsize=(3 * (0.42 * x.shape[1] + 0.6),
                                            0.42 * height + 1.0))
    fills = [["white"] * x.shape[1] for _ in range(height)]
    receivers = np.argwhere(dx_max != 0)
    for i, j in receivers:
        fills[i][j] = "#f7c6c7"
    draw_value_grid(axes[0], x, "input x", fills)
    if window is not None:
        info = describe_window(x, pool_h, pool_w, stride, window)
        _outline(axes[0], height, info["rows"], info["cols"], _WINDOW_COLOR)
        for i, j in info["maxima"]:
            color = _WINNER_COLOR if (i, j) == info["winner"] else _TIE_COLOR
            _outline(axes[0], height, slice(i, i + 1), slice(j, j + 1), color, 1.8)
        what = f"window {tuple(window)} gets dout = {upstream:g}"
    else:
        what = f"every window gets dout = {upstream:g}"
    for ax, dx, name in ((axes[1], dx_max, "max pool: dx"), (axes[2], dx_avg, "avg pool: dx")):
        dx_fills = [["#f7c6c7" if v > 0 else ("#c6dbef" if v < 0 else "white") for v in row]
                    for row in dx]
        draw_value_grid(ax, dx, name, dx_fills, fmt="{:.3g}")
        if window is not None:
            _outline(ax, height, info["rows"], info["cols"], _WINDOW_COLOR)
    step = pool_h if stride is None else stride
    fig.suptitle(f"{pool_h}x{pool_w} pooling, stride {step}: {what}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_shift_study(results: Mapping[str, Mapping[str, np.ndarray]], metric: str = "changed",
                     ax=None):
    """Distribution over (image, shift) cases of how much each pipeline's output changed.

    Inputs: results from `cnncourse.aids.pool_explain.shift_study`; metric "changed" (the
    fraction of non-blank positions whose value changed) or "relative" (relative L2 change).
    One box per pipeline, its mean written above it. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    if metric not in ("changed", "relative"):
        raise ValueError(f"metric must be 'changed' or 'relative', got {metric!r}")
    if not results:
        raise ValueError("plot_shift_study needs at least one pipeline")
    names = list(results)
    data = [np.asarray(results[name][metric], dtype=float) for name in names]
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.4))
    else:
        fig = ax.figure
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(names) + 1))
    ax.set_xticklabels(names, fontsize=8)
    means = [float(d.mean()) for d in data]
    ax.plot(range(1, len(names) + 1), means, "D", color=_WINNER_COLOR, label="mean")
    for k, mean in enumerate(means, start=1):
        ax.annotate(f"{mean:.2f}", (k, mean), textcoords="offset points", xytext=(8, 4),
                    fontsize=8, color=_WINNER_COLOR)
    label = ("fraction of non-blank values that changed" if metric == "changed"
             else "relative change ||f(Tx) - f(x)|| / ||f(x)||")
    ax.set_ylabel(label, fontsize=8)
    ax.set_title(f"one-pixel shifts: {len(data[0])} cases", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_param_comparison(models: Mapping[str, Mapping[str, int]], ax=None):
    """Horizontal stacked bars: each model's parameters split by layer kind (conv, fc, ...).

    Inputs: models, name -> {kind: count} (e.g. `cnncourse.torch.models.param_breakdown`
    without its "total" key, or written by the caller); kinds coloured as in
    `cnncourse.viz.models.KIND_COLORS`. Each bar is labelled with its total.
    Output: the Figure.
    """
    import matplotlib.pyplot as plt

    if not models:
        raise ValueError("plot_param_comparison needs at least one model")
    for name, counts in models.items():
        if any(int(v) < 0 for v in counts.values()):
            raise ValueError(f"{name}: parameter counts must be non-negative, got {dict(counts)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.7 * len(models) + 1.4))
    else:
        fig = ax.figure
    names = list(models)
    kinds = []
    for counts in models.values():
        kinds += [k for k in counts if k != "total" and k not in kinds]
    lefts = np.zeros(len(names))
    for kind in kinds:
        widths = np.array([int(models[name].get(kind, 0)) for name in names], dtype=float)
        ax.barh(range(len(names)), widths, left=lefts, label=kind,
                color=KIND_COLORS.get(kind, KIND_COLORS["other"]))
        lefts += widths
    for k, total in enumerate(lefts):
        ax.annotate(f"{int(total):,}", (total, k), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("parameters")
    ax.set_xlim(0, lefts.max() * 1.25 if lefts.max() > 0 else 1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
