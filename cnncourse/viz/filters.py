"""Figures of what a CNN learned: its first-layer kernels and the feature maps of one input,
before and after training side by side. matplotlib is imported inside the drawing functions.

`kernel_grid` and `map_grid` are plain numpy (tiling and scaling only); the plot functions draw
their result and return the Figure.

- Kernels are signed: they are drawn on a diverging colour map centred at 0, with ONE colour
  limit for the whole figure (the largest |weight| before and after), so that growth or
  shrinking of the weights shows.
- Feature maps after a ReLU are >= 0 and differ in scale from map to map: each map is scaled
  by its own largest |value| to [0, 1] (a map that is 0 everywhere stays 0).
- Tiles are separated by NaN gaps, drawn in a dark grey so that white (0) kernels stay apart.
- With ncols=None a grid of N tiles is about square: ceil(sqrt(N)) tiles per row.
- `plot_feature_map_stages` follows ONE channel through a CONV -> ReLU -> POOL block: the
  conv map on a diverging map centred at 0, the ReLU and pool maps from 0 up, all three with
  the same colour limit (the largest |value| of the conv map), so a value keeps its colour
  from stage to stage.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["kernel_grid", "map_grid", "plot_kernels", "plot_kernels_before_after",
           "plot_maps_before_after", "plot_feature_map_stages"]

_GAP = np.nan          # tile separators, drawn in the axes' background colour
_GAP_COLOR = "#4d4d4d"


def _tile(tiles: np.ndarray, ncols: int, pad: int) -> np.ndarray:
    """(N, H, W) -> one (rows*(H+pad)-pad, ncols*(W+pad)-pad) array, gaps filled with NaN."""
    n, h, w = tiles.shape
    rows = -(-n // ncols)
    grid = np.full((rows * (h + pad) - pad, ncols * (w + pad) - pad), _GAP)
    for index in range(n):
        r, c = divmod(index, ncols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[index]
    return grid


def _columns(ncols: int | None, n: int) -> int:
    """Tiles per row: ncols (at most n), or about sqrt(n) for a square grid when None."""
    if ncols is None:
        return int(np.ceil(np.sqrt(n)))
    return min(int(ncols), n)


def _check_layout(ncols: int | None, pad: int) -> None:
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer))
                              or ncols < 1):
        raise ValueError(f"ncols must be a positive int or None, got {ncols!r}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be an int >= 0, got {pad!r}")


def kernel_grid(weights: Any, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile a convolution layer's kernels into one 2-D array, values unchanged.

    Inputs:
    - weights: (F, C, K, K) (a conv layer's W) or (F, K, K)
    - ncols: kernels per row when C == 1 (None: about sqrt(F)); with C > 1 each row is one
      kernel, its C channel slices side by side (ncols is then C)
    - pad: NaN pixels between tiles (shown as background)

    Returns: float array (rows*(K+pad)-pad, cols*(K+pad)-pad).
    """
    _check_layout(ncols, pad)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4 or w.shape[0] == 0:
        raise ValueError(f"weights must be (F, C, K, K) or (F, K, K) with F >= 1, got shape "
                         f"{np.shape(weights)}")
    n_filters, channels, kh, kw = w.shape
    if channels == 1:
        return _tile(w[:, 0], _columns(ncols, n_filters), pad)
    return _tile(w.reshape(n_filters * channels, kh, kw), channels, pad)


def map_grid(maps: Any, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile feature maps (C, H, W) into one 2-D array, each map divided by its largest |value|,
    ncols maps per row (None: about sqrt(C)).

    A map that is 0 everywhere stays 0. Returns: float array with values in [-1, 1] ([0, 1]
    for maps after a ReLU) and NaN gaps.
    """
    _check_layout(ncols, pad)
    m = np.asarray(maps, dtype=float)
    if m.ndim != 3 or m.shape[0] == 0:
        raise ValueError(f"maps must be (C, H, W) with C >= 1, got shape {np.shape(maps)}")
    peak = np.abs(m).max(axis=(1, 2), keepdims=True)
    scaled = np.divide(m, peak, out=np.zeros_like(m), where=peak > 0)
    return _tile(scaled, _columns(ncols, m.shape[0]), pad)


def _kernel_limit(*weight_sets: Any) -> float:
    limit = max(float(np.nanmax(np.abs(np.asarray(w, dtype=float)))) for w in weight_sets)
    return limit if limit > 0 else 1.0


def plot_kernels(weights: Any, ax: Any = None, title: str | None = None,
                 ncols: int | None = None, limit: float | None = None,
                 colorbar: bool = True) -> Any:
    """Draw a conv layer's kernels (see `kernel_grid`) on a diverging map, 0 = white.

    limit: colour limit (None: the largest |weight|). Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    grid = kernel_grid(weights, ncols=ncols)
    limit = _kernel_limit(weights) if limit is None else float(limit)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4 * grid.shape[0] / grid.shape[1] + 0.4))
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_facecolor(_GAP_COLOR)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_kernels_before_after(before: Any, after: Any, ncols: int | None = None,
                              titles: tuple[str, str] = ("before training", "after training")):
    """Two panels of the same layer's kernels, before and after training, one colour limit
    (one colour bar, on the right).

    before, after: (F, C, K, K) arrays of equal shape. Returns: the Figure.
    """
    import matplotlib.pyplot as plt

    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} must have one shape")
    limit = _kernel_limit(before, after)
    grid_shape = kernel_grid(before, ncols=ncols).shape
    aspect = grid_shape[0] / grid_shape[1]
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4 * aspect + 0.6), constrained_layout=True)
    for ax, weights, title in zip(axes, (before, after), titles):
        plot_kernels(weights, ax=ax, title=title, ncols=ncols, limit=limit, colorbar=False)
    fig.colorbar(axes[-1].images[0], ax=list(axes), fraction=0.046, pad=0.04)
    return fig


def plot_maps_before_after(image: Any, before: Any, after: Any, ncols: int | None = None,
                           titles: tuple[str, str] = ("before training", "after training")):
    """The input image and its feature maps (C, H, W) before and after training.

    Each map is scaled by its own largest |value| (see `map_grid`). Returns: the Figure.
    """
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=float)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"image must be (H, W) or (1, H, W), got shape {image.shape}")
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} must have one shape")
    grids = [map_grid(before, ncols=ncols), map_grid(after, ncols=ncols)]
    aspect = grids[0].shape[0] / grids[0].shape[1]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4 * aspect + 0.6))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("input", fontsize=10)
    low = -1.0 if min(np.nanmin(g) for g in grids) < 0 else 0.0
    for ax, grid, title in zip(axes[1:], grids, titles):
        ax.imshow(grid, cmap="magma", vmin=low, vmax=1.0, interpolation="nearest")
        ax.set_facecolor(_GAP_COLOR)
        ax.set_title(f"{title}: {before.shape[0]} maps {before.shape[1]}x{before.shape[2]}",
                     fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_feature_map_stages(image: Any, kernel: Any, conv_map: Any, relu_map: Any, pool_map: Any,
                            kernel_limit: float | None = None, title: str | None = None):
    """Five panels: the input, one kernel, and that kernel's map after conv, ReLU and pooling.

    Inputs: image (H, W), (1, H, W) or (3, H, W); kernel (C, K, K) or (K, K), drawn like
    `plot_kernels` with colour limit kernel_limit (None: its largest |weight|; pass one limit
    for several figures to compare them); conv_map, relu_map (OH, OW) and pool_map (PH, PW).
    The three maps share one colour limit, the largest |value| of conv_map (1 when all are 0).
    title: a line over the figure. Returns: the Figure.
    """
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=float)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"image must be (H, W), (1, H, W) or (3, H, W), got shape "
                         f"{np.shape(image)}")
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim == 2:
        kernel = kernel[None]
    if kernel.ndim != 3:
        raise ValueError(f"kernel must be (C, K, K) or (K, K), got shape {kernel.shape}")
    maps = [np.asarray(m, dtype=float) for m in (conv_map, relu_map, pool_map)]
    for name, values in zip(("conv_map", "relu_map", "pool_map"), maps):
        if values.ndim != 2 or values.size == 0:
            raise ValueError(f"{name} must be a non-empty 2-D map, got shape {values.shape}")
    if maps[0].shape != maps[1].shape:
        raise ValueError(f"conv_map {maps[0].shape} and relu_map {maps[1].shape} must have "
                         f"one shape")
    limit = _kernel_limit(maps[0])
    fig, axes = plt.subplots(1, 5, figsize=(12, 2.9))
    if image.ndim == 2:
        axes[0].imshow(image, cmap="gray", interpolation="nearest")
    else:
        axes[0].imshow(np.clip(image, 0, 1), interpolation="nearest")
    axes[0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=10)
    plot_kernels(kernel[None], ax=axes[1], title=f"kernel {kernel.shape[1]}x{kernel.shape[2]}",
                 limit=kernel_limit, colorbar=True)
    stages = [("after conv", "RdBu_r", -limit), ("after ReLU", "magma", 0.0),
              ("after pool", "magma", 0.0)]
    for ax, values, (stage, cmap, low) in zip(axes[2:], maps, stages):
        shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=limit, interpolation="nearest")
        ax.set_title(f"{stage} {values.shape[0]}x{values.shape[1]}", fontsize=10)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
