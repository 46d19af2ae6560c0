"""Plain logic behind the convolution-arithmetic figures and widgets of notebook 03, and the
im2col explorer of notebook 04 (which input pixels one row of im2col's matrix copies).

Everything here is numpy only and unit tested; `cnncourse.viz.conv` and `cnncourse.viz.im2col`
draw it and `cnncourse.widgets.conv` and `cnncourse.widgets.im2col` wire sliders to it.

Conventions: ``padding`` is the per-side padding P (a total of 2P cells is added along an
axis); sizes are along one spatial axis (square inputs and kernels in the figures); the
effective (dilated) kernel size is ``K_eff = K + (K - 1)(D - 1)``.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_int, check_positive_int
from ..conv import conv_output_size

__all__ = [
    "classic_kernels", "effective_kernel_size", "window_taps", "explain_arithmetic",
    "arithmetic_case", "same_padding", "full_padding",
    "shift_image", "count_changed_inputs", "weight_sharing_matrix", "filter_image",
    "arithmetic_report", "kernel_to_text", "im2col_example", "im2col_row_sources", "im2col_row_report",
]


def classic_kernels() -> dict[str, np.ndarray]:
    """Hand-designed 3x3 filters from image processing, as float64 arrays of shape (3, 3).

    Keys: identity, edge_diagonal, edge_laplace4, edge_laplace8, sharpen, box_blur,
    gaussian_blur, sobel_vertical (responds to vertical edges, i.e. a change along x),
    sobel_horizontal (responds to horizontal edges, a change along y).
    The blurs are normalized (their weights sum to 1); the edge filters sum to 0, so a flat
    region maps to 0.
    """
    return {
        "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
        "edge_diagonal": np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], dtype=float),
        "edge_laplace4": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float),
        "edge_laplace8": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
        "box_blur": np.ones((3, 3)) / 9.0,
        "gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16.0,
        "sobel_vertical": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
        "sobel_horizontal": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    }


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: K_eff = K + (K - 1)(D - 1) = D(K - 1) + 1.

    Inputs: kernel_size K >= 1, dilation D >= 1 (ints). Output: int.
    """
    kernel_size = check_positive_int("kernel_size", kernel_size)
    dilation = check_positive_int("dilation", dilation)
    return dilation * (kernel_size - 1) + 1


def window_taps(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                dilation: int = 1) -> np.ndarray:
    """Positions each window reads, along one axis, in padded coordinates.

    Inputs: sizes as in `cnncourse.conv.conv_output_size` (keyword-only after kernel_size).
    Output: int array of shape (O, K); row o holds the padded indices
    ``o*S + k*D`` for k = 0..K-1. Index i of the padded axis is input cell i - P, so indices
    < P or >= P + I fall on padding.
    """
    out_size = conv_output_size(input_size, kernel_size, padding=padding, stride=stride,
                                dilation=dilation)
    starts = np.arange(out_size) * stride
    return starts[:, None] + np.arange(kernel_size)[None, :] * dilation


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Per-side padding that keeps O = I at stride 1: P = (K_eff - 1) / 2.

    Raises ValueError when K_eff is even (no symmetric padding keeps the size).
    """
    k_eff = effective_kernel_size(kernel_size, dilation)
    if k_eff % 2 == 0:
        raise ValueError(f"an even effective kernel size ({k_eff}) has no symmetric 'same' "
                         "padding; use an odd kernel size")
    return (k_eff - 1) // 2


def full_padding(kernel_size: int, dilation: int = 1) -> int:
    """Per-side padding P = K_eff - 1 that lets every partial overlap count: O = I + K_eff - 1."""
    return effective_kernel_size(kernel_size, dilation) - 1


def arithmetic_case(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                    dilation: int = 1) -> str:
    """Name the cases of Dumoulin & Visin's convolution-arithmetic guide that a setting falls in.

    Returns labels joined by ", ": "no padding" (P = 0), "same (half) padding"
    (P = (K_eff - 1)/2), "full padding" (P = K_eff - 1), "arbitrary padding" otherwise;
    then "strided" (S > 1) and "dilated" (D > 1) when they apply. K = 1 with P = 0 is both
    "no padding" and "same"; it is reported as "no padding, same (half) padding".
    """
    # Validates the setting (the ValueError names the numbers).
    conv_output_size(input_size, kernel_size, padding=padding, stride=stride, dilation=dilation)
    k_eff = effective_kernel_size(kernel_size, dilation)
    labels = []
    if padding == 0:
        labels.append("no padding")
    if k_eff % 2 == 1 and padding == (k_eff - 1) // 2:
        labels.append("same (half) padding")
    if padding == k_eff - 1 and padding > 0:
        labels.append("full padding")
    if not labels:
        labels.append("arbitrary padding")
    if stride > 1:
        labels.append("strided")
    if dilation > 1:
        labels.append("dilated")
    return ", ".join(labels)


def explain_arithmetic(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                       dilation: int = 1) -> dict:
    """Everything the arithmetic explorer shows for one setting, as plain data.

    Returns a dict with keys: output_size O, effective_kernel K_eff, padded_size I + 2P,
    total_padding p = 2P, left_out (padded cells at the end no window reaches,
    (I + 2P - K_eff) mod S), case (see `arithmetic_case`) and formula (a str with the
    numbers substituted into O = floor((I + 2P - K_eff) / S) + 1).
    Raises the ValueError of `conv_output_size` for impossible settings.
    """
    out_size = conv_output_size(input_size, kernel_size, padding=padding, stride=stride,
                                dilation=dilation)
    k_eff = effective_kernel_size(kernel_size, dilation)
    padded = input_size + 2 * padding
    formula = (f"O = floor(({input_size} + 2*{padding} - {kernel_size} - "
               f"({kernel_size}-1)*({dilation}-1)) / {stride}) + 1 = "
               f"floor({padded - k_eff}/{stride}) + 1 = {out_size}")
    return {
        "output_size": out_size,
        "effective_kernel": k_eff,
        "padded_size": padded,
        "total_padding": 2 * padding,
        "left_out": (padded - k_eff) % stride,
        "case": arithmetic_case(input_size, kernel_size, padding=padding, stride=stride,
                                dilation=dilation),
        "formula": formula,
    }


def shift_image(image: np.ndarray, shift_cols: int = 0, shift_rows: int = 0) -> np.ndarray:
    """Translate a 2-D image by whole pixels, filling the uncovered border with 0.

    Input: image (H, W). Output: (H, W), out[i, j] = image[i - shift_rows, j - shift_cols]
    where that index exists, else 0. Negative shifts move left / up.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"shift_image expects a 2-D image (H, W), got shape {image.shape}")
    height, width = image.shape
    if abs(shift_rows) >= height or abs(shift_cols) >= width:
        raise ValueError(f"shift ({shift_rows}, {shift_cols}) moves the whole {height}x{width} "
                         "image out of the frame")
    shifted = np.zeros_like(image)
    src_rows = slice(max(0, -shift_rows), height - max(0, shift_rows))
    dst_rows = slice(max(0, shift_rows), height - max(0, -shift_rows))
    src_cols = slice(max(0, -shift_cols), width - max(0, shift_cols))
    dst_cols = slice(max(0, shift_cols), width - max(0, -shift_cols))
    shifted[dst_rows, dst_cols] = image[src_rows, src_cols]
    return shifted


def count_changed_inputs(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int]:
    """How many inputs of a fully connected layer change between two binary images.

    Inputs: two arrays of the same shape holding 0/1 (or bool); 1 = ink (black).
    Output: (changed, ink_to_paper, paper_to_ink) with changed = ink_to_paper + paper_to_ink.
    """
    before = np.asarray(before)
    after = np.asarray(after)
    if before.shape != after.shape:
        raise ValueError(f"images differ in shape: {before.shape} vs {after.shape}")
    for name, img in (("before", before), ("after", after)):
        if not np.isin(img, (0, 1)).all():
            raise ValueError(f"{name} must be binary (0/1), got values like "
                             f"{np.unique(img)[:5]}")
    before = before.astype(bool)
    after = after.astype(bool)
    ink_to_paper = int(np.sum(before & ~after))
    paper_to_ink = int(np.sum(~before & after))
    return ink_to_paper + paper_to_ink, ink_to_paper, paper_to_ink


def weight_sharing_matrix(kernel: np.ndarray, n_inputs: int, *, padding: int = 0) -> np.ndarray:
    """The dense weight matrix of a 1-D convolution layer (stride 1), to compare with FC.

    Inputs: kernel (K,), n_inputs I, per-side zero padding P.
    Output: matrix M of shape (O, I), O = I + 2P - K + 1, with
    M @ x == cross-correlation of zero-padded x with kernel. Each row holds the same K
    weights shifted by one column: K free parameters instead of O * I.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 1:
        raise ValueError(f"kernel must be 1-D (K,), got shape {kernel.shape}")
    taps = window_taps(n_inputs, kernel.shape[0], padding=padding)
    matrix = np.zeros((taps.shape[0], n_inputs))
    for row, columns in enumerate(taps):
        for k, padded_col in enumerate(columns):
            col = padded_col - padding
            if 0 <= col < n_inputs:  # taps on padding multiply a zero: no weight
                matrix[row, col] = kernel[k]
    return matrix


def filter_image(image: np.ndarray, kernel: np.ndarray, mode: str = "replicate") -> np.ndarray:
    """Cross-correlate a grey or colour image with an odd KxK kernel, keeping its size.

    Inputs: image (H, W) or (H, W, C) (each channel filtered alone), kernel (K, K), K odd;
    mode "replicate" (copy the border pixels) or "zero".
    Output: float array with the image's shape,
    out[i, j] = sum_{u,v} padded[i + u, j + v] * kernel[u, v], P = (K - 1)/2 per side.
    Vectorized as a sum of K*K shifted copies, so a 640x427 photo takes milliseconds.
    """
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"kernel must be square with an odd size, got shape {kernel.shape}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    modes = {"replicate": "edge", "zero": "constant"}
    if mode not in modes:
        raise ValueError(f"mode must be one of {sorted(modes)}, got {mode!r}")
    k = kernel.shape[0]
    pad = (k - 1) // 2
    pad_width = [(pad, pad), (pad, pad)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad_width, mode=modes[mode])
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    for u in range(k):
        for v in range(k):
            if kernel[u, v] != 0.0:
                out += kernel[u, v] * padded[u:u + height, v:v + width]
    return out


def arithmetic_report(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                      dilation: int = 1) -> str:
    """The text the arithmetic explorer prints: the formula with numbers, or why it is invalid.

    Never raises for a bad combination of sizes (a slider setting can be impossible); the
    ValueError's message is returned after "invalid: ".
    """
    try:
        info = explain_arithmetic(input_size, kernel_size, padding=padding, stride=stride,
                                  dilation=dilation)
    except ValueError as err:
        return f"invalid: {err}"
    lines = [
        info["formula"],
        f"effective kernel K_eff = {info['effective_kernel']}, padded input I + 2P = "
        f"{info['padded_size']} (total padding p = 2P = {info['total_padding']})",
        f"case: {info['case']}",
    ]
    if info["left_out"]:
        lines.append(f"the last {info['left_out']} padded cell(s) are reached by no window "
                     "(the floor drops them)")
    return "\n".join(lines)


def kernel_to_text(kernel: np.ndarray) -> str:
    """A kernel as aligned rows of numbers (4 significant digits, 1/16 shows as 0.0625)."""
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D, got shape {kernel.shape}")
    return "\n".join(" ".join(f"{v:.4g}".rjust(7) for v in row)
                     for row in kernel)


# ------------------------------------------------------------------------------------------
# Notebook 04: which input pixels one row of im2col's matrix copies (the im2col explorer)
# ------------------------------------------------------------------------------------------
def im2col_example() -> np.ndarray:
    """The im2col explorer's default input: one image, 2 channels, 5x6 (non-square), int.

    x[0, c, y, z] = 30*c + 6*y + z + 1: the pixels are numbered 1..60 row by row, channel 0
    first, so every number names its pixel and a 0 in im2col's matrix is always padding.
    Output: a fresh array of shape (1, 2, 5, 6).
    """
    return np.arange(1, 61).reshape(1, 2, 5, 6)


def im2col_row_sources(x_shape, kernel_h: int, kernel_w: int, row: int, *, stride: int = 1,
                       pad: int = 0) -> dict:
    """Where row `row` of `cnncourse.conv.im2col(x, kernel_h, kernel_w, stride, pad)` comes from.

    Inputs: x_shape = (N, C, H, W); kernel size, stride and per-side padding P as im2col takes
    them (ints); row in 0 .. N*OH*OW - 1.
    Output: a dict of plain data
      position: (n, i, j), the output position of the row: row = (n*OH + i)*OW + j;
      out_shape: (OH, OW);
      window_rows, window_cols: (first, last) index of the window in PADDED coordinates
        (padded index p is input index p - P);
      taps: int array (C*KH*KW, 3), the (c, a, d) of column k = (c*KH + a)*KW + d;
      pixels: int array (C*KH*KW, 3), the input pixel (c, y, z) that column k copies,
        y = i*S + a - P, z = j*S + d - P (outside 0..H-1 or 0..W-1: a padding cell);
      padding: bool array (C*KH*KW,), True where column k copies a padding zero.
    Raises ValueError for a shape that is not 4-D, impossible sizes (the message of
    `conv_output_size`) or a row outside the matrix.
    """
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {tuple(x_shape)}")
    n_images, channels, height, width = (check_int(f"x_shape[{k}]", v, 0)
                                         for k, v in enumerate(x_shape))
    kernel_h = check_positive_int("kernel_h", kernel_h)
    kernel_w = check_positive_int("kernel_w", kernel_w)
    rows_of = window_taps(height, kernel_h, padding=pad, stride=stride)   # (OH, KH), padded
    cols_of = window_taps(width, kernel_w, padding=pad, stride=stride)    # (OW, KW), padded
    out_h, out_w = rows_of.shape[0], cols_of.shape[0]
    n_rows = n_images * out_h * out_w
    row = check_int("row", row, 0)
    if row >= n_rows:
        raise ValueError(f"row must be below {n_rows} (N*OH*OW = {n_images}*{out_h}*{out_w}), "
                         f"got {row}")
    n, rest = divmod(row, out_h * out_w)
    i, j = divmod(rest, out_w)
    c, a, d = np.unravel_index(np.arange(channels * kernel_h * kernel_w),
                               (channels, kernel_h, kernel_w))
    y = rows_of[i][a] - pad
    z = cols_of[j][d] - pad
    return {
        "position": (int(n), int(i), int(j)),
        "out_shape": (int(out_h), int(out_w)),
        "window_rows": (int(rows_of[i][0]), int(rows_of[i][-1])),
        "window_cols": (int(cols_of[j][0]), int(cols_of[j][-1])),
        "taps": np.stack([c, a, d], axis=1).astype(int),
        "pixels": np.stack([c, y, z], axis=1).astype(int),
        "padding": (y < 0) | (y >= height) | (z < 0) | (z >= width),
    }


def _number_text(value) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def im2col_row_report(x, kernel_h: int, kernel_w: int, row: int, *, stride: int = 1,
                      pad: int = 0) -> str:
    """The im2col explorer's text for one row: its output position and what it copies.

    Inputs: x (N, C, H, W) and the arguments of `cnncourse.conv.im2col`; row as in
    `im2col_row_sources`. The values are read from the library's `im2col(x, ...)[row]`; the
    text names, for every column k (grouped by channel c and kernel row a), the input pixel
    x[n, c, y, z] it copies and its value, or "pad(y,z)" for a padding zero.
    """
    from ..conv import im2col

    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
    info = im2col_row_sources(x.shape, kernel_h, kernel_w, row, stride=stride, pad=pad)
    col = im2col(x, kernel_h, kernel_w, stride=stride, pad=pad)
    n, i, j = info["position"]
    out_h, out_w = info["out_shape"]
    (top, bottom), (left, right) = info["window_rows"], info["window_cols"]
    n_pad = int(info["padding"].sum())
    lines = [
        f"row {row} of col ({col.shape[0]} rows x {col.shape[1]} columns) = output position "
        f"(n, i, j) = ({n}, {i}, {j}):  {row} = ({n}*{out_h} + {i})*{out_w} + {j}",
        f"window: padded rows {top}..{bottom}, cols {left}..{right} = input rows "
        f"{top - pad}..{bottom - pad}, cols {left - pad}..{right - pad} of image {n} "
        f"(pad {pad}, stride {stride})",
        "column k = (c, a, d) copies x[n, c, y, z] (pad(y,z) = a padding zero):",
    ]
    taps, pixels, padding = info["taps"], info["pixels"], info["padding"]
    for start in range(0, len(taps), kernel_w):            # one line per (channel, kernel row)
        c, a, _ = taps[start]
        parts = []
        for k in range(start, start + kernel_w):
            _, y, z = pixels[k]
            source = f"pad({y},{z})" if padding[k] else f"x[{n},{c},{y},{z}]"
            parts.append(f"k={k}: {source}={_number_text(col[row, k])}")
        lines.append(f"  c={c}, a={a}:  " + "   ".join(parts))
    lines.append(f"{n_pad} of the {len(taps)} numbers in this row are padding zeros")
    return "\n".join(lines)
