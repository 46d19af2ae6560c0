"""Figures for training runs: learning curves and grids of sample images.

`plot_history` is the one learning-curve helper: the numpy `Trainer.fit`, the torch `fit` and
`train_gan` all return histories it draws (per-epoch lists with the same keys for the two
`fit`s, see docs/DESIGN.md). matplotlib is imported inside the drawing functions only;
`make_grid` and `history_x` are plain numpy.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["history_x", "make_grid", "plot_history", "plot_sample_grid"]


def _is_history(obj: Any) -> bool:
    # A single history maps metric names to lists of numbers.
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(v, (list, tuple, np.ndarray)) for v in obj.values()) and any(
        len(v) and np.isscalar(v[0]) for v in obj.values())


# The x axis of a history (numpy Trainer / torch fit: "epoch"; train_gan: "iteration").
X_KEYS = ("epoch", "iteration")
# Drawn only when asked for by `keys`: bookkeeping, or a different x axis (one loss per batch).
NOT_DRAWN_BY_DEFAULT = ("epoch_time", "lr", "batch_loss")


def _numeric_keys(history: Mapping[str, Sequence]) -> list[str]:
    return [key for key, values in history.items()
            if key not in X_KEYS and len(values) and np.isscalar(values[0])
            and not isinstance(values[0], str)]


def _group_keys(histories: Mapping[str, Mapping[str, Sequence]],
                keys: Sequence[str] | None) -> list[list[str]]:
    available: list[str] = []
    for history in histories.values():
        available += [key for key in _numeric_keys(history) if key not in available]
    if keys is not None:
        missing = [k for k in keys if k not in available]
        if missing:
            raise ValueError(f"keys {missing} not in the history; it has {available}")
        return [list(keys)]
    available = [key for key in available if key not in NOT_DRAWN_BY_DEFAULT]
    losses = [k for k in available if "loss" in k or k == "objective"]
    accuracies = [k for k in available if "acc" in k]
    rest = [k for k in available if k not in losses and k not in accuracies]
    return [group for group in (losses, accuracies, rest) if group]


def history_x(history: Mapping[str, Sequence], length: int) -> tuple[np.ndarray, str]:
    """The x values and axis name for a curve of `length` points from `history`.

    history["epoch"] (Trainer.fit, torch fit) or history["iteration"] (train_gan) when it has
    that many entries; otherwise 1..length, named "step" (e.g. the numpy "batch_loss").
    """
    for key in X_KEYS:
        if key in history and len(history[key]) == length:
            return np.asarray(history[key]), key
    return np.arange(1, length + 1), "step"


def plot_history(history: Mapping[str, Any], ax: Any = None, keys: Sequence[str] | None = None,
                 title: str | None = None) -> Any:
    """Plot learning curves of one history or compare several.

    Inputs:
    - history: a history dict (metric name -> list per epoch or iteration) from the numpy
      `cnncourse.trainer.Trainer.fit`, the torch `cnncourse.torch.train.fit` (both: "epoch",
      "train_loss", "train_acc", "epoch_time", maybe "test_loss", "test_acc") or
      `cnncourse.torch.gan.train_gan` ("iteration", "d_loss", "g_loss", ...), or a dict of such
      histories {"plain-20": h1, "resnet-20": h2} to compare
    - ax: an Axes or a sequence of Axes, one per panel; None creates a figure
    - keys: the metrics to draw in one panel; None draws the losses in one panel, the
      accuracies (if any) in a second and any other metric in a third ("epoch_time", "lr"
      and "batch_loss" only when named in keys)
    - title: figure title

    The x axis is history["epoch"] or history["iteration"] (see `history_x`). Returns: list of
    Axes.
    """
    import matplotlib.pyplot as plt

    histories = {"": history} if _is_history(history) else dict(history)
    if not histories or not all(_is_history(h) for h in histories.values()):
        raise ValueError("history must map metric names to lists of numbers, or names to "
                         "such histories")
    groups = _group_keys(histories, keys)
    if ax is None:
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) < len(groups):
            raise ValueError(f"need {len(groups)} axes for the panels {groups}, got {len(axes)}")
        fig = axes[0].figure
    for panel, group in zip(axes, groups):
        x_names = []
        for run, h in histories.items():
            for key in group:
                if key not in h:
                    continue
                values = np.asarray(h[key], dtype=float)
                x, x_name = history_x(h, len(values))
                if x_name not in x_names:
                    x_names.append(x_name)
                label = f"{run} {key}".strip()
                panel.plot(x, values, label=label, marker="o" if len(values) <= 30 else None,
                           markersize=3)
        panel.set_xlabel(" / ".join(x_names))
        panel.set_ylabel(", ".join(group) if len(group) <= 2 else "value")
        panel.grid(alpha=0.3)
        panel.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return axes


def make_grid(images: Any, nrow: int = 8, padding: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile images into one picture, nrow images per row.

    Inputs:
    - images: array or tensor (N, H, W), (N, 1, H, W) or (N, 3, H, W)
    - nrow: images per row (>= 1); rows = ceil(N / nrow)
    - padding: pixels between tiles, filled with pad_value

    Returns: ndarray (rows*(H+p)+p, nrow*(W+p)+p) for grey images, with a trailing axis of 3
    for colour ones.
    """
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] == 0:
        raise ValueError(f"images must be (N, H, W) or (N, 1|3, H, W) with N >= 1, got shape "
                         f"{np.shape(images)}")
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    n, c, h, w = array.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                   pad_value, dtype=float)
    for index in range(n):
        r, q = divmod(index, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = array[index]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def plot_sample_grid(images: Any, nrow: int = 8, ax: Any = None, title: str | None = None,
                     value_range: tuple[float, float] | None = None, cmap: str = "gray") -> Any:
    """Show images (e.g. generator samples or a batch of digits) as one grid.

    Inputs: images (N, H, W) / (N, C, H, W) array or tensor; nrow images per row; ax (None
    creates a figure); value_range (lo, hi) for the colour scale, e.g. (-1, 1) for tanh output
    (None: the data's own range). Returns: the Axes.
    """
    import matplotlib.pyplot as plt

    grid = make_grid(images, nrow=nrow, padding=1,
                     pad_value=value_range[1] if value_range else float(np.max(
                         images.detach().cpu().numpy() if hasattr(images, "detach")
                         else np.asarray(images))))
    if ax is None:
        rows = grid.shape[0] / max(grid.shape[1], 1)
        _, ax = plt.subplots(figsize=(6, max(1.5, 6 * rows)))
    lo, hi = value_range if value_range else (None, None)
    if grid.ndim == 3 and value_range:
        grid = np.clip((grid - lo) / (hi - lo), 0, 1)
        lo, hi = None, None
    ax.imshow(grid, cmap=cmap if grid.ndim == 2 else None, vmin=lo, vmax=hi)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
