"""Plain logic behind notebook 05's pooling figures and its pooling-router widget.

numpy only and unit tested; `cnncourse.viz.pooling` draws it and `cnncourse.widgets.pooling`
wires controls to it. The pooling itself is always the library's `cnncourse.pooling.Pooling`,
so what the figures show is what the layers do, tie rule included: a max window sends its
whole gradient to its FIRST maximum in row-major order (as torch does), never to several.

Conventions: a "map" is one 2-D feature map (H, W); `window` = (row, col) names an output
cell, i.e. the window whose top-left input pixel is (row * stride, col * stride); `stride`
None means the pool size (non-overlapping windows); no padding.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .._validate import as_float_array, check_int
from ..pooling import Pooling
from .arith import conv2d_output_shape
from .conv_explain import shift_image

__all__ = [
    "POOL_SETTINGS", "tie_example", "window_slices", "route_gradient", "coverage_counts",
    "describe_window", "routing_report", "changed_fraction", "relative_change",
    "shift_study", "space_to_depth_kernels", "depth_to_space", "upsample_nearest",
]

# The settings the router widget offers: label -> (pool_h, pool_w, stride).
POOL_SETTINGS: dict[str, tuple[int, int, int]] = {
    "2x2, stride 2 (the usual)": (2, 2, 2),
    "3x3, stride 2 (overlapping, AlexNet)": (3, 3, 2),
    "2x2, stride 1 (overlapping)": (2, 2, 1),
    "3x3, stride 3": (3, 3, 3),
}

_MODES = ("max", "avg")


def tie_example() -> np.ndarray:
    """A 6x6 map (float64, a fresh copy each call) full of ties for the router widget.

    With 2x2/2 windows: window (0, 0) holds two 3s, (0, 2) four 2s, (1, 0) two 4s,
    (1, 1) three 5s, (2, 1) two 6s. With 3x3/2 windows the last row and column are read by
    no window, since (6 - 3) % 2 != 0.
    """
    return np.array([[1, 3, 3, 0, 2, 2],
                     [2, 3, 1, 1, 2, 2],
                     [0, 0, 5, 5, 4, 0],
                     [4, 4, 5, 2, 1, 3],
                     [1, 0, 2, 6, 6, 1],
                     [7, 1, 0, 6, 0, 2]], dtype=float)


def _as_map(x) -> np.ndarray:
    return as_float_array("x", x, ndim=2)


def _out_shape(height: int, width: int, pool_h: int, pool_w: int,
               stride: int | None) -> tuple[int, int]:
    """(OH, OW) of pooling an H x W map without padding (stride None: the pool size)."""
    return conv2d_output_shape((height, width), (pool_h, pool_w),
                               stride=(pool_h, pool_w) if stride is None else stride)


def window_slices(window: tuple[int, int], pool_h: int, pool_w: int,
                  stride: int | None = None) -> tuple[slice, slice]:
    """Rows and columns of the input that output cell `window` = (row, col) reads.

    rows = row*S .. row*S + pool_h - 1, cols = col*S .. col*S + pool_w - 1 (stride None:
    S = pool size on each axis). Raises ValueError for a negative index.
    """
    row, col = (check_int("window[0]", window[0], 0), check_int("window[1]", window[1], 0))
    pool_h, pool_w = check_int("pool_h", pool_h, 1), check_int("pool_w", pool_w, 1)
    stride_h = pool_h if stride is None else check_int("stride", stride, 1)
    stride_w = pool_w if stride is None else stride_h
    return (slice(row * stride_h, row * stride_h + pool_h),
            slice(col * stride_w, col * stride_w + pool_w))


def _check_window(window, out_shape: tuple[int, int]) -> tuple[int, int]:
    row, col = (check_int("window[0]", window[0], 0), check_int("window[1]", window[1], 0))
    if row >= out_shape[0] or col >= out_shape[1]:
        raise ValueError(f"window {(row, col)} is outside the {out_shape[0]}x{out_shape[1]} "
                         "output")
    return row, col


def route_gradient(x, pool_h: int, pool_w: int, stride: int | None = None, mode: str = "max",
                   window: tuple[int, int] | None = None, upstream: float = 1.0) -> np.ndarray:
    """Where pooling's backward pass sends an upstream gradient, on one map.

    Input: x (H, W). Output: dx (H, W), float, computed by `cnncourse.pooling.Pooling`'s
    backward with dout = `upstream` at output cell `window` and 0 elsewhere; with window None
    every output cell receives `upstream` (overlapping windows then add up in dx).
    max: the whole upstream value lands on one pixel per window (the first maximum in
    row-major order); avg: every pixel of the window gets upstream / (pool_h * pool_w).
    """
    x = _as_map(x)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    layer = Pooling(pool_h, pool_w, stride=stride, mode=mode)
    out = layer.forward(x[None, None])
    dout = np.zeros_like(out)
    if window is None:
        dout[...] = upstream
    else:
        row, col = _check_window(window, out.shape[2:])
        dout[0, 0, row, col] = upstream
    return layer.backward(dout)[0, 0]


def coverage_counts(height: int, width: int, pool_h: int, pool_w: int,
                    stride: int | None = None) -> np.ndarray:
    """How many pooling windows read each input pixel: an int array (H, W).

    1 everywhere for windows that tile the map, 0 on rows/columns no window reaches (when
    (H - pool_h) % S != 0), up to 4 for AlexNet's 3x3/2 windows.
    """
    out_h, out_w = _out_shape(height, width, pool_h, pool_w, stride)
    counts = np.zeros((height, width), dtype=int)
    for row in range(out_h):
        for col in range(out_w):
            counts[window_slices((row, col), pool_h, pool_w, stride)] += 1
    return counts


def describe_window(x, pool_h: int, pool_w: int, stride: int | None, window: tuple[int, int]
                    ) -> dict:
    """Everything the router says about one window, as plain data.

    Returns a dict with: rows, cols (slices of the map the window reads), values (the
    pool_h x pool_w block), max, mean, maxima (every (r, c) map position holding the max, in
    row-major order), winner (the position the library's max-pool backward sends the
    gradient to, which is maxima[0]) and share (1 / (pool_h * pool_w), the fraction
    of the upstream gradient each pixel receives under average pooling).
    """
    x = _as_map(x)
    out_shape = _out_shape(*x.shape, pool_h, pool_w, stride)
    row, col = _check_window(window, out_shape)
    rows, cols = window_slices((row, col), pool_h, pool_w, stride)
    values = x[rows, cols]
    peak = values.max()
    maxima = [(rows.start + int(r), cols.start + int(c)) for r, c in np.argwhere(values == peak)]
    # The library decides who gets the gradient (its rule: the first maximum, row-major).
    routed = route_gradient(x, pool_h, pool_w, stride, "max", (row, col))
    winner = tuple(int(v) for v in np.argwhere(routed != 0)[0])
    return {"rows": rows, "cols": cols, "values": values.copy(), "max": float(peak),
            "mean": float(values.mean()), "maxima": maxima, "winner": winner,
            "share": 1.0 / (pool_h * pool_w)}


def routing_report(x, pool_h: int, pool_w: int, stride: int | None, window: tuple[int, int],
                   upstream: float = 1.0) -> str:
    """A few lines of text: which pixels the window reads and where `upstream` goes."""
    info = describe_window(x, pool_h, pool_w, stride, window)
    rows, cols = info["rows"], info["cols"]
    n_ties = len(info["maxima"])
    lines = [f"window {tuple(window)} reads rows {rows.start}..{rows.stop - 1}, "
             f"cols {cols.start}..{cols.stop - 1}",
             f"max pool: out = {info['max']:g}; the upstream gradient {upstream:g} goes "
             f"entirely to {info['winner']}"]
    if n_ties > 1:
        others = ", ".join(str(p) for p in info["maxima"][1:])
        lines.append(f"  tie: {n_ties} pixels hold {info['max']:g}; only the first in "
                     f"row-major order gets it; the others ({others}) get 0")
    lines.append(f"avg pool: out = {info['mean']:g}; each of the {pool_h * pool_w} pixels "
                 f"gets {upstream:g} / {pool_h * pool_w} = {upstream * info['share']:g}")
    return "\n".join(lines)


def changed_fraction(before, after, atol: float = 1e-12) -> np.ndarray:
    """Per sample, the fraction of positions whose value changed, among the positions that
    are nonzero before or after (blank background that stays blank is not counted).

    Inputs: two arrays of the same shape (N, ...). Output: float array (N,); a sample that
    is blank in both gives 0.
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape or before.ndim < 2:
        raise ValueError(f"expected two batches (N, ...) of one shape, got {before.shape} "
                         f"and {after.shape}")
    axes = tuple(range(1, before.ndim))
    changed = (np.abs(before - after) > atol).sum(axis=axes)
    support = ((before != 0) | (after != 0)).sum(axis=axes)
    return changed / np.maximum(support, 1)


def relative_change(before, after) -> np.ndarray:
    """Per sample, ||after - before|| / ||before|| (Frobenius norms): float array (N,).

    Raises ValueError when a `before` sample is all zeros (no scale to compare with).
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if before.shape != after.shape or before.ndim < 2:
        raise ValueError(f"expected two batches (N, ...) of one shape, got {before.shape} "
                         f"and {after.shape}")
    flat_before = before.reshape(len(before), -1)
    scale = np.linalg.norm(flat_before, axis=1)
    if np.any(scale == 0):
        raise ValueError("relative_change needs nonzero `before` samples")
    return np.linalg.norm(after.reshape(len(after), -1) - flat_before, axis=1) / scale


def shift_study(images, pipelines: dict[str, Callable[[np.ndarray], np.ndarray]],
                shifts: Sequence[tuple[int, int]] = ((0, 1), (1, 0), (0, -1), (-1, 0))
                ) -> dict[str, dict[str, np.ndarray]]:
    """How much each pipeline's output changes when the input moves by a few pixels.

    Inputs: images (N, H, W); pipelines: name -> function mapping a batch (N, 1, H, W) to a
    batch of maps (N, ...); shifts: (rows, cols) moves (`conv_explain.shift_image`, zero
    fill). Output: name -> {"changed": `changed_fraction`, "relative": `relative_change`},
    each a float array of len(shifts) * N values (one per image and shift, shift-major).
    """
    images = as_float_array("images", images, ndim=3)
    if not pipelines:
        raise ValueError("shift_study needs at least one pipeline")
    shifts = [tuple(int(v) for v in s) for s in shifts]
    if not shifts:
        raise ValueError("shift_study needs at least one shift")
    originals = images[:, None]
    results: dict[str, dict[str, list]] = {name: {"changed": [], "relative": []}
                                           for name in pipelines}
    before = {name: np.asarray(fn(originals)) for name, fn in pipelines.items()}
    for rows, cols in shifts:
        moved = np.stack([shift_image(image, cols, rows) for image in images])[:, None]
        for name, fn in pipelines.items():
            after = np.asarray(fn(moved))
            results[name]["changed"].append(changed_fraction(before[name], after))
            results[name]["relative"].append(relative_change(before[name], after))
    return {name: {key: np.concatenate(parts) for key, parts in values.items()}
            for name, values in results.items()}


def space_to_depth_kernels(k: int) -> np.ndarray:
    """k*k one-hot kernels (k*k, 1, k, k): a k x k convolution with stride k and these
    weights copies pixel (a, b) of every window into channel a*k + b, so it downsamples
    H x W to (H/k) x (W/k) without losing anything (`depth_to_space` undoes it)."""
    k = check_int("k", k, 1)
    return np.eye(k * k).reshape(k * k, 1, k, k)


def depth_to_space(maps, k: int) -> np.ndarray:
    """Inverse of the space-to-depth convolution: (N, k*k, OH, OW) -> (N, 1, OH*k, OW*k)."""
    maps = np.asarray(maps)
    k = check_int("k", k, 1)
    if maps.ndim != 4 or maps.shape[1] != k * k:
        raise ValueError(f"maps must be (N, {k * k}, OH, OW) for k={k}, got {maps.shape}")
    n_images, _, out_h, out_w = maps.shape
    blocks = maps.reshape(n_images, k, k, out_h, out_w).transpose(0, 3, 1, 4, 2)
    return blocks.reshape(n_images, 1, out_h * k, out_w * k)


def upsample_nearest(maps, k: int) -> np.ndarray:
    """Repeat every pixel k times along both spatial axes: (..., H, W) -> (..., H*k, W*k)."""
    maps = np.asarray(maps)
    k = check_int("k", k, 1)
    if maps.ndim < 2:
        raise ValueError(f"maps must have two spatial axes, got shape {maps.shape}")
    return np.repeat(np.repeat(maps, k, axis=-2), k, axis=-1)
