"""Figures for notebook 03 (convolution arithmetic). matplotlib is imported inside each function.

Every function returns the matplotlib Figure it drew on; the logic it draws (window positions,
filtered images) comes from `cnncourse.aids.conv_explain`.
"""
from __future__ import annotations

import numpy as np

from ..aids.conv_explain import explain_arithmetic, filter_image, window_taps

__all__ = ["draw_windows", "plot_sliding_1d", "plot_filter_grid", "plot_feature_maps",
           "plot_shift_demo"]

_PAD_COLOR = "#d9d9d9"
_WINDOW_COLOR = "#1f77b4"
_OUTPUT_COLOR = "#ff7f0e"


def _grid(ax, n_rows: int, n_cols: int, x0: float = 0.0, fill=None, edge: str = "black"):
    from matplotlib.patches import Rectangle
    for i in range(n_rows):
        for j in range(n_cols):
            color = fill[i][j] if fill is not None else "white"
            ax.add_patch(Rectangle((x0 + j, n_rows - 1 - i), 1, 1, facecolor=color,
                                   edgecolor=edge, linewidth=0.6))


def draw_windows(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                 dilation: int = 1, window: tuple[int, int] = (0, 0), ax=None):
    """Draw a square I x I input with its padding, one window's taps, and the O x O output.

    Inputs: the sizes of `cnncourse.conv.conv_output_size` (keyword-only after kernel_size);
    window = (row, col) of the output cell whose receptive taps are highlighted. Padding cells
    are grey, the K*K taps of the chosen window blue, the top-left tap of every window marked
    with a dot (the stride made visible), and the output grid (O x O) drawn to the right with
    the chosen cell orange.
    Output: the Figure.
    """
    import matplotlib.pyplot as plt

    sizes = dict(padding=padding, stride=stride, dilation=dilation)
    info = explain_arithmetic(input_size, kernel_size, **sizes)
    taps = window_taps(input_size, kernel_size, **sizes)
    out_size = info["output_size"]
    row, col = window
    if not (0 <= row < out_size and 0 <= col < out_size):
        raise ValueError(f"window {window} is outside the {out_size}x{out_size} output")
    padded = info["padded_size"]
    fill = [["white" if padding <= i < padding + input_size and padding <= j < padding + input_size
             else _PAD_COLOR for j in range(padded)] for i in range(padded)]
    for i in taps[row]:
        for j in taps[col]:
            fill[i][j] = _WINDOW_COLOR
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.35 * (padded + out_size + 2) + 1, 0.35 * padded + 1.2))
    else:
        fig = ax.figure
    _grid(ax, padded, padded, fill=fill)
    anchors = taps[:, 0]
    for i in anchors:
        for j in anchors:
            ax.plot(j + 0.5, padded - 1 - i + 0.5, "k.", markersize=3)
    x0 = padded + 1.5
    out_fill = [[_OUTPUT_COLOR if (i, j) == (row, col) else "white" for j in range(out_size)]
                for i in range(out_size)]
    y_offset = (padded - out_size) / 2
    from matplotlib.patches import Rectangle
    for i in range(out_size):
        for j in range(out_size):
            ax.add_patch(Rectangle((x0 + j, y_offset + out_size - 1 - i), 1, 1,
                                   facecolor=out_fill[i][j], edgecolor="black", linewidth=0.6))
    ax.set_xlim(-0.2, x0 + out_size + 0.2)
    ax.set_ylim(-0.2, padded + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"I={input_size}, K={kernel_size}, P={padding}, S={stride}, D={dilation}"
                 f"  ->  O={out_size}  ({info['case']})", fontsize=9)
    return fig


def plot_sliding_1d(x, kernel, *, padding: int = 0, stride: int = 1, flip: bool = False):
    """One row per output: the (zero-padded) 1-D input with the window at that step.

    Inputs: x (I,), kernel (K,); flip=True draws true convolution (the kernel reversed).
    Each row writes the products under the window and the output value at its right, so the
    "sum of elementwise products" is visible. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if x.ndim != 1 or kernel.ndim != 1:
        raise ValueError(f"x and kernel must be 1-D, got shapes {x.shape} and {kernel.shape}")
    weights = kernel[::-1] if flip else kernel
    x_padded = np.pad(x, padding)
    taps = window_taps(x.shape[0], kernel.shape[0], padding=padding, stride=stride)
    n_out = taps.shape[0]
    fig, ax = plt.subplots(figsize=(0.6 * (x_padded.shape[0] + 3), 0.55 * (n_out + 1) + 0.6))
    for o, columns in enumerate(taps):
        y = n_out - o
        fill = [[_PAD_COLOR if (j < padding or j >= padding + x.shape[0]) else "white"
                 for j in range(x_padded.shape[0])]]
        for j in columns:
            fill[0][j] = "#aec7e8"
        from matplotlib.patches import Rectangle
        for j, value in enumerate(x_padded):
            ax.add_patch(Rectangle((j, y), 1, 1, facecolor=fill[0][j], edgecolor="black",
                                   linewidth=0.6))
            ax.text(j + 0.5, y + 0.5, f"{value:g}", ha="center", va="center", fontsize=8)
        for k, j in enumerate(columns):
            ax.text(j + 0.5, y + 0.12, f"x{weights[k]:g}", ha="center", va="center",
                    fontsize=6, color=_WINDOW_COLOR)
        value = float(np.dot(x_padded[columns], weights))
        ax.text(x_padded.shape[0] + 0.6, y + 0.5, f"-> {value:g}", va="center", fontsize=9,
                color=_OUTPUT_COLOR)
    ax.set_xlim(-0.2, x_padded.shape[0] + 2.8)
    ax.set_ylim(0.8, n_out + 1.2)
    ax.axis("off")
    kind = "convolution (kernel flipped)" if flip else "cross-correlation"
    ax.set_title(f"1-D {kind}: kernel {kernel.tolist()}, stride {stride}, padding {padding}",
                 fontsize=9)
    return fig


def plot_feature_maps(maps, titles=None, ncols: int = 4, cmap: str = "gray",
                      size: float = 2.4):
    """Show a stack of 2-D maps (feature maps, kernels, images) in a grid.

    Inputs: maps, an array (N, H, W) or a list of N arrays of shape (H, W) or (H, W, 3);
    titles, N strings or None. Each map gets its own colour scale. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    maps = list(maps)
    if not maps:
        raise ValueError("plot_feature_maps needs at least one map")
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"{len(titles)} titles for {len(maps)} maps")
    ncols = min(ncols, len(maps))
    nrows = -(-len(maps) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(maps):
            continue
        image = np.asarray(maps[index])
        if image.ndim == 3:
            ax.imshow(np.clip(image, 0, 1))
        else:
            ax.imshow(image, cmap=cmap)
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    fig.tight_layout()
    return fig


def plot_filter_grid(image, kernels: dict, ncols: int = 5, mode: str = "replicate",
                     size: float = 2.6):
    """Apply each named kernel to a grey photo and show the results side by side.

    Inputs: image (H, W) floats in [0, 1]; kernels, name -> (K, K) array (K odd).
    Smoothing filters (weights summing to 1) are shown on [0, 1]; edge filters (summing to
    0) by their absolute response so both signs of an edge show, saturated at its
    99th percentile. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"plot_filter_grid expects a grey image (H, W), got {image.shape}")
    names = list(kernels)
    ncols = min(ncols, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 0.8),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        kernel = np.asarray(kernels[name], dtype=float)
        filtered = filter_image(image, kernel, mode=mode)
        if abs(kernel.sum()) < 1e-12:
            strength = np.abs(filtered)
            # A few very strong edges would make the rest black: saturate the top 1 %.
            ax.imshow(strength, cmap="gray", vmin=0, vmax=np.percentile(strength, 99) + 1e-12)
        else:
            ax.imshow(np.clip(filtered, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def plot_shift_demo(before, after):
    """Two binary images and where they differ: ink->paper red, paper->ink green.

    Inputs: before, after (H, W) with values 0/1. Output: the Figure (three panels).
    """
    import matplotlib.pyplot as plt

    before = np.asarray(before).astype(bool)
    after = np.asarray(after).astype(bool)
    if before.shape != after.shape:
        raise ValueError(f"images differ in shape: {before.shape} vs {after.shape}")
    diff = np.ones(before.shape + (3,))
    diff[before & ~after] = (0.85, 0.1, 0.1)
    diff[~before & after] = (0.1, 0.6, 0.1)
    diff[before & after] = (0.6, 0.6, 0.6)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    axes[0].imshow(~before, cmap="gray")
    axes[0].set_title("original")
    axes[1].imshow(~after, cmap="gray")
    axes[1].set_title("shifted")
    axes[2].imshow(diff)
    n_off = int(np.sum(before & ~after))
    n_on = int(np.sum(~before & after))
    axes[2].set_title(f"changed: {n_off} ink->paper (red), {n_on} paper->ink (green)",
                      fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
