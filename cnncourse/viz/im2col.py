"""Figures for notebook 04 (im2col and the convolution layer). matplotlib is imported inside
each drawing function, so importing this module is cheap.

* `plot_im2col`: which receptive field becomes which row of the unrolled matrix, and which
  (channel, tap) becomes which column (the layout of `cnncourse.conv.im2col`);
* `plot_overlap_counts`: how many windows cover each pixel (what col2im sums);
* `plot_col_layouts`: where one kernel tap's numbers land in memory, in the classic
  (rows = windows) layout and in the tap-major layout of `cnncourse.conv.Convolution`;
* `plot_timing_ratios`: a bar chart of measured times relative to a reference;
* `plot_im2col_row`: one row of the unrolled matrix and the receptive field it copies (the
  picture of the im2col explorer, `cnncourse.widgets.im2col`).

The values drawn come from `cnncourse.conv` or from the caller; the helpers without a leading
``plot_`` (`window_colors`, `tap_index_map`, `shown_rows`) are plain logic with unit tests.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..conv import conv_output_size, im2col

__all__ = ["window_colors", "tap_index_map", "plot_im2col", "plot_overlap_counts",
           "plot_col_layouts", "plot_timing_ratios", "shown_rows", "plot_im2col_row"]

_PAD_COLOR = "#d9d9d9"
LAYOUTS = ("classic", "tap_major")


def window_colors(n: int) -> list[tuple[float, float, float, float]]:
    """`n` distinct RGBA colours (matplotlib's tab10, then tab20's light shades), n <= 20."""
    import matplotlib

    if not 1 <= n <= 20:
        raise ValueError(f"window_colors draws 1 to 20 distinct colours, got n={n}")
    tab10 = list(matplotlib.colormaps["tab10"].colors)
    light = list(matplotlib.colormaps["tab20"].colors)[1::2]
    return [(*rgb, 1.0) for rgb in (tab10 + light)[:n]]


def tap_index_map(layout: str, channels: int, kernel_h: int, kernel_w: int, out_h: int,
                  out_w: int) -> np.ndarray:
    """The kernel tap t = a*KW + d that each entry of one image's unrolled matrix comes from.

    layout "classic" (`cnncourse.conv.im2col`, rows = windows): shape (OH*OW, C*KH*KW),
        entry [i*OW + j, (c*KH + a)*KW + d] = a*KW + d;
    layout "tap_major" (`cnncourse.conv.Convolution`'s cols): shape (KH*KW*C, OH*OW),
        entry [(a*KW + d)*C + c, i*OW + j] = a*KW + d.
    Read in C order, the classic matrix puts one tap's numbers KH*KW apart (C per row);
    the tap-major matrix puts them in one contiguous run of C*OH*OW numbers.
    Output: int array of the layout's shape.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    for name, value in (("channels", channels), ("kernel_h", kernel_h), ("kernel_w", kernel_w),
                        ("out_h", out_h), ("out_w", out_w)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    taps = np.arange(kernel_h * kernel_w)
    if layout == "classic":
        row = np.tile(taps, channels)                         # columns ordered (c, a, d)
        return np.broadcast_to(row, (out_h * out_w, row.size)).copy()
    column = np.repeat(taps, channels)                        # rows ordered (a, d, c)
    return np.broadcast_to(column[:, None], (column.size, out_h * out_w)).copy()


def _cell(ax, x: float, y: float, face, text: str = "", fontsize: float = 7,
          edge: str = "black", linewidth: float = 0.5):
    from matplotlib.patches import Rectangle
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=face, edgecolor=edge, linewidth=linewidth))
    if text:
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=fontsize)


def _value_text(value) -> str:
    value = float(value)
    return f"{value:g}" if abs(value) < 1000 else f"{value:.0e}"


def plot_im2col(image, kernel_h: int, kernel_w: int, stride: int = 1, pad: int = 0,
                max_windows: int = 20):
    """Draw a small image, its receptive fields and the matrix `cnncourse.conv.im2col` makes.

    Inputs: image (H, W) or (C, H, W) (one image; a few channels at most), the kernel size,
    stride and padding of `im2col` (ints). Left: the zero-padded input, one grid per channel,
    padding grey, window r outlined in colour r and numbered at its top-left corner. Right:
    the unrolled matrix, row r = window r = output position (i, j) (row label in the same
    colour), column (c, a, d) = channel c, tap (a, d); every cell shows its value.
    Raises ValueError for more than `max_windows` windows (too many to tell apart).
    Output: the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ValueError(f"image must be (H, W) or (C, H, W), got shape {image.shape}")
    channels, height, width = image.shape
    out_h = conv_output_size(height, kernel_h, padding=pad, stride=stride)
    out_w = conv_output_size(width, kernel_w, padding=pad, stride=stride)
    n_windows = out_h * out_w
    if n_windows > max_windows:
        raise ValueError(f"{n_windows} windows ({out_h}x{out_w}) are too many to draw apart; "
                         f"use a smaller image or a larger stride (max_windows={max_windows})")
    col = im2col(image[None], kernel_h, kernel_w, stride=stride, pad=pad)
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)))
    colors = window_colors(n_windows)
    p_h, p_w = padded.shape[1:]
    n_cols = col.shape[1]
    gap = 1.5
    left_width = channels * p_w + (channels - 1) * gap
    fig_w = 0.42 * (left_width + 3 + n_cols + 3) + 0.8
    fig_h = 0.42 * max(p_h + 2, n_windows + 3) + 0.6
    fig, (ax_in, ax_col) = plt.subplots(
        1, 2, figsize=(fig_w, fig_h),
        gridspec_kw={"width_ratios": [left_width + 1, n_cols + 3]})

    for c in range(channels):
        x0 = c * (p_w + gap)
        for y in range(p_h):
            for x in range(p_w):
                inside = pad <= y < pad + height and pad <= x < pad + width
                _cell(ax_in, x0 + x, p_h - 1 - y, "white" if inside else _PAD_COLOR,
                      _value_text(padded[c, y, x]))
        for r in range(n_windows):
            i, j = divmod(r, out_w)
            inset = 0.06 + 0.05 * (r % 4)
            top, left = i * stride, j * stride
            ax_in.add_patch(Rectangle((x0 + left + inset, p_h - top - kernel_h + inset),
                                      kernel_w - 2 * inset, kernel_h - 2 * inset, fill=False,
                                      edgecolor=colors[r], linewidth=1.8))
            ax_in.text(x0 + left + inset + 0.05, p_h - top - inset - 0.05, str(r),
                       color=colors[r], fontsize=7, ha="left", va="top", fontweight="bold")
        ax_in.text(x0 + p_w / 2, p_h + 0.3, f"channel {c}" if channels > 1 else "input",
                   ha="center", va="bottom", fontsize=8)
    ax_in.set_xlim(-0.3, left_width + 0.3)
    ax_in.set_ylim(-0.3, p_h + 1.2)
    ax_in.set_aspect("equal")
    ax_in.axis("off")
    ax_in.set_title(f"{height}x{width} input, pad {pad}: {n_windows} windows of "
                    f"{kernel_h}x{kernel_w}, stride {stride}", fontsize=9)

    for r in range(n_windows):
        i, j = divmod(r, out_w)
        y = n_windows - 1 - r
        light = (*colors[r][:3], 0.35)
        ax_col.add_patch(Rectangle((-2.6, y), 2.4, 1, facecolor=light, edgecolor=colors[r]))
        ax_col.text(-1.4, y + 0.5, f"{r}: ({i},{j})", ha="center", va="center", fontsize=7)
        for k in range(n_cols):
            _cell(ax_col, k, y, "white", _value_text(col[r, k]))
    for k in range(n_cols):
        c, rest = divmod(k, kernel_h * kernel_w)
        a, d = divmod(rest, kernel_w)
        label = f"{a},{d}" if channels == 1 else f"{c},{a},{d}"
        ax_col.text(k + 0.5, n_windows + 0.2, label, ha="center", va="bottom", fontsize=6,
                    rotation=90 if channels > 1 else 0)
    for c in range(1, channels):
        ax_col.plot([c * kernel_h * kernel_w] * 2, [-0.2, n_windows + 0.2], color="black",
                    linewidth=2)
    ax_col.text(-1.4, n_windows + 0.2, "row: (i, j)", ha="center", va="bottom", fontsize=7)
    ax_col.set_xlim(-2.8, n_cols + 0.2)
    ax_col.set_ylim(-0.3, n_windows + 1.6)
    ax_col.set_aspect("equal")
    ax_col.axis("off")
    header = "(a, d)" if channels == 1 else "(c, a, d)"
    ax_col.set_title(f"im2col: {col.shape[0]} rows (windows) x {n_cols} columns {header}",
                     fontsize=9)
    fig.tight_layout()
    return fig


def plot_overlap_counts(counts, title: str | None = None, ax=None):
    """Annotated heat map of how many windows cover each pixel.

    Input: counts (H, W), e.g. `col2im(np.ones_like(im2col(x, ...)), ...)[0, 0]` for a
    one-image, one-channel x. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be 2-D (H, W), got shape {counts.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.45 * counts.shape[1] + 1.6, 0.45 * counts.shape[0] + 1))
    else:
        fig = ax.figure
    shown = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(float(counts.max()), 1.0))
    for (y, x), value in np.ndenumerate(counts):
        dark = value > 0.6 * counts.max()
        ax.text(x, y, _value_text(value), ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "windows covering each pixel", fontsize=9)
    fig.colorbar(shown, ax=ax, shrink=0.8)
    return fig


def plot_col_layouts(channels: int, kernel_h: int, kernel_w: int, out_h: int, out_w: int,
                     tap: tuple[int, int] = (0, 0), wrap: int | None = None):
    """Where one kernel tap's numbers live in memory, classic layout vs tap-major layout.

    Inputs: the sizes of one image's unrolled matrix; tap = (a, d), the kernel offset whose
    entries are highlighted; wrap, how many numbers one line of the memory strip holds
    (default: one row of the classic matrix times 4).
    Top row: the classic matrix (rows = windows, columns = (c, a, d)) and its memory in C
    order: the tap's numbers are KH*KW apart. Bottom row: the tap-major matrix (rows =
    (a, d, c), columns = windows) and its memory: the tap's numbers are one contiguous run.
    Every cell is tinted by its tap; the chosen tap is drawn dark. Output: the Figure.
    """
    import matplotlib.pyplot as plt

    a, d = tap
    if not (0 <= a < kernel_h and 0 <= d < kernel_w):
        raise ValueError(f"tap {tap} is outside the {kernel_h}x{kernel_w} kernel")
    chosen = a * kernel_w + d
    n_taps = kernel_h * kernel_w
    light = np.array(plt.get_cmap("Pastel1" if n_taps <= 9 else "tab20")(
        np.arange(n_taps) % (9 if n_taps <= 9 else 20)))
    light[:, 3] = 1.0
    dark = np.array([0.12, 0.25, 0.6, 1.0])
    n_numbers = channels * n_taps * out_h * out_w
    wrap = wrap or channels * n_taps * 4
    n_lines = -(-n_numbers // wrap)

    fig, axes = plt.subplots(2, 2, figsize=(11, 6.2),
                             gridspec_kw={"width_ratios": [1, 2.2]})
    for row, layout in enumerate(LAYOUTS):
        taps = tap_index_map(layout, channels, kernel_h, kernel_w, out_h, out_w)
        rgba = light[taps]
        rgba[taps == chosen] = dark
        ax_m, ax_s = axes[row]
        ax_m.imshow(rgba, aspect="auto", interpolation="nearest")
        if layout == "classic":
            ax_m.set_title(f"classic im2col: {taps.shape[0]} windows x {taps.shape[1]} "
                           "(c, a, d)", fontsize=9)
            ax_m.set_xlabel("column (c, a, d)", fontsize=8)
            ax_m.set_ylabel("row = window (i, j)", fontsize=8)
        else:
            ax_m.set_title(f"tap-major cols: {taps.shape[0]} (a, d, c) x {taps.shape[1]} "
                           "windows", fontsize=9)
            ax_m.set_xlabel("column = window (i, j)", fontsize=8)
            ax_m.set_ylabel("row (a, d, c)", fontsize=8)
        ax_m.set_xticks([])
        ax_m.set_yticks([])

        flat = taps.reshape(-1)
        strip = np.ones((n_lines * wrap, 4))
        strip[:n_numbers] = light[flat]
        strip[:n_numbers][flat == chosen] = dark
        ax_s.imshow(strip.reshape(n_lines, wrap, 4), aspect="auto", interpolation="nearest")
        for line in range(1, n_lines):
            ax_s.axhline(line - 0.5, color="white", linewidth=3)
        positions = np.flatnonzero(flat == chosen)
        runs = 1 + int(np.count_nonzero(np.diff(positions) != 1))
        ax_s.set_title(f"its memory in C order, {wrap} numbers a line: tap {tap} is "
                       f"{positions.size} numbers in {runs} contiguous run(s)", fontsize=9)
        ax_s.set_xticks([])
        ax_s.set_yticks([])
    fig.suptitle(f"one image, C={channels}, {kernel_h}x{kernel_w} kernel, {out_h}x{out_w} "
                 f"output: where tap {tap} is copied (dark)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_timing_ratios(ratios: Mapping[str, float], reference: str, ax=None):
    """Horizontal bars of time / reference time on a log axis, each labelled "12.3x".

    Input: ratios, label -> measured time divided by the reference's time (positive);
    reference, the label of the method the ratios are relative to (drawn as a line at 1).
    Output: the Figure.
    """
    import matplotlib.pyplot as plt

    labels = list(ratios)
    values = [float(ratios[k]) for k in labels]
    if not labels:
        raise ValueError("plot_timing_ratios needs at least one ratio")
    if any(not np.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"ratios must be positive and finite, got {dict(zip(labels, values))}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.2))
    else:
        fig = ax.figure
    positions = np.arange(len(labels))[::-1]
    ax.barh(positions, values, color=["tab:gray" if k == reference else "tab:blue"
                                      for k in labels])
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for y, v in zip(positions, values):
        ax.text(v * 1.08, y, f"{v:.3g}x" if v < 1000 else f"{v:,.0f}x", va="center", fontsize=8)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(min(values + [1.0]) / 2, max(values + [1.0]) * 4)
    ax.set_xlabel(f"time relative to {reference} (log scale; lower is faster)", fontsize=8)
    fig.tight_layout()
    return fig


def shown_rows(n_rows: int, row: int, max_rows: int = 7) -> range:
    """The rows of a matrix of `n_rows` rows to draw around row `row`: at most `max_rows`
    consecutive rows, `row` as central as the ends allow (all rows when they fit)."""
    if not 0 <= row < n_rows:
        raise ValueError(f"row must be in 0..{n_rows - 1}, got {row}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    first = min(max(row - max_rows // 2, 0), max(n_rows - max_rows, 0))
    return range(first, min(first + max_rows, n_rows))


_ROW_COLOR = "tab:orange"


def plot_im2col_row(x, kernel_h: int, kernel_w: int, row: int, stride: int = 1, pad: int = 0,
                    max_rows: int = 7):
    """Draw row `row` of `cnncourse.conv.im2col(x, ...)` and the receptive field it copies.

    Inputs: x (N, C, H, W), or one image (C, H, W) or (H, W); the kernel size, stride and
    padding of `im2col` (ints); row in 0 .. N*OH*OW - 1; max_rows, how many rows of the
    matrix to draw around the chosen one.
    Top: the zero-padded channels of the row's image n (padding grey); the window of the
    row outlined and tinted orange, every copied cell labelled with its column index k
    (hatched where it copies a padding zero). Bottom: up to `max_rows` rows of the unrolled
    matrix, each labelled "r: (n,i,j)"; the chosen row tinted and outlined, padding zeros
    grey; column headers k and (c, a, d). Which pixel goes where comes from
    `cnncourse.aids.conv_explain.im2col_row_sources`, the values from the library's im2col.
    Output: the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ..aids.conv_explain import im2col_row_sources

    x = np.asarray(x)
    if x.ndim in (2, 3):
        x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}")
    info = im2col_row_sources(x.shape, kernel_h, kernel_w, row, stride=stride, pad=pad)
    col = im2col(x, kernel_h, kernel_w, stride=stride, pad=pad)
    n_rows, n_cols = col.shape
    rows = shown_rows(n_rows, row, max_rows)
    _, channels, height, width = x.shape
    n, i, j = info["position"]
    out_h, out_w = info["out_shape"]
    (top, bottom), (left, right) = info["window_rows"], info["window_cols"]
    padded = np.pad(x[n], ((0, 0), (pad, pad), (pad, pad)))
    p_h, p_w = padded.shape[1:]
    gap = 1.5
    in_width = channels * p_w + (channels - 1) * gap
    label_width = 3.4
    col_width = label_width + n_cols
    span = max(in_width, col_width, 18.0)                     # 18 cells: room for the titles
    n_shown = len(rows)
    in_height, col_height = p_h + 1.4, n_shown + 2.6
    cell = 0.34                                               # inches per cell
    fig, (ax_in, ax_col) = plt.subplots(
        2, 1, figsize=(cell * span + 0.6, cell * (in_height + col_height) + 0.9),
        gridspec_kw={"height_ratios": [in_height, col_height]})
    light = (*plt.matplotlib.colors.to_rgb(_ROW_COLOR), 0.45)

    # top: the padded input of image n, the window of the row
    x0_of = [(span - in_width) / 2 + c * (p_w + gap) for c in range(channels)]
    for c in range(channels):
        x0 = x0_of[c]
        for y in range(p_h):
            for z in range(p_w):
                inside = pad <= y < pad + height and pad <= z < pad + width
                _cell(ax_in, x0 + z, p_h - 1 - y, "white" if inside else _PAD_COLOR,
                      _value_text(padded[c, y, z]))
        ax_in.text(x0 + p_w / 2, p_h + 0.25, f"image {n}, channel {c}", ha="center",
                   va="bottom", fontsize=8)
    for k, ((c, a, d), is_pad) in enumerate(zip(info["taps"], info["padding"])):
        cx, cy = x0_of[c] + left + d, p_h - 1 - (top + a)
        ax_in.add_patch(Rectangle((cx, cy), 1, 1, facecolor=light, edgecolor="grey",
                                  linewidth=0, hatch="//" if is_pad else None))
        ax_in.text(cx + 0.95, cy + 0.05, str(k), ha="right", va="bottom", fontsize=5.5,
                   color="saddlebrown")
    for c in range(channels):
        ax_in.add_patch(Rectangle((x0_of[c] + left, p_h - 1 - bottom), kernel_w, kernel_h,
                                  fill=False, edgecolor=_ROW_COLOR, linewidth=2.5))
    ax_in.set_xlim(-0.2, span + 0.2)
    ax_in.set_ylim(-0.2, in_height)
    ax_in.set_aspect("equal")
    ax_in.axis("off")
    ax_in.set_title(f"row {row} = output position (n, i, j) = ({n}, {i}, {j})\n"
                    f"its {kernel_h}x{kernel_w} window: padded rows {top}..{bottom}, cols "
                    f"{left}..{right} (pad {pad}, stride {stride}; grey = padding)", fontsize=9)

    # bottom: rows of the unrolled matrix around the chosen one
    cx0 = (span - col_width) / 2 + label_width
    for position, r in enumerate(rows):
        y = n_shown - 1 - position
        chosen = r == row
        r_info = info if chosen else im2col_row_sources(x.shape, kernel_h, kernel_w, r,
                                                         stride=stride, pad=pad)
        rn, ri, rj = r_info["position"]
        ax_col.text(cx0 - 0.2, y + 0.5, f"{r}: ({rn},{ri},{rj})", ha="right", va="center",
                    fontsize=7.5, fontweight="bold" if chosen else "normal",
                    color=_ROW_COLOR if chosen else "black")
        for k in range(n_cols):
            face = light if chosen else (_PAD_COLOR if r_info["padding"][k] else "white")
            _cell(ax_col, cx0 + k, y, face, _value_text(col[r, k]))
            if chosen and r_info["padding"][k]:
                ax_col.add_patch(Rectangle((cx0 + k, y), 1, 1, fill=False, hatch="//",
                                           edgecolor="grey", linewidth=0))
        if chosen:
            ax_col.add_patch(Rectangle((cx0, y), n_cols, 1, fill=False, edgecolor=_ROW_COLOR,
                                       linewidth=2.5))
    for k, (c, a, d) in enumerate(info["taps"]):
        ax_col.text(cx0 + k + 0.5, n_shown + 0.1, f"{k}", ha="center", va="bottom",
                    fontsize=6.5, color="saddlebrown")
        ax_col.text(cx0 + k + 0.5, n_shown + 0.75, f"{c}{a}{d}", ha="center", va="bottom",
                    fontsize=5.5)
    for c in range(1, channels):
        boundary = cx0 + c * kernel_h * kernel_w
        ax_col.plot([boundary] * 2, [-0.1, n_shown + 0.1], color="black", linewidth=2)
    ax_col.text(cx0 - 0.2, n_shown + 0.1, "k", ha="right", va="bottom", fontsize=6.5,
                color="saddlebrown")
    ax_col.text(cx0 - 0.2, n_shown + 0.75, "c a d", ha="right", va="bottom", fontsize=6)
    hidden_above, hidden_below = rows.start, n_rows - rows.stop
    notes = []
    if hidden_above:
        notes.append(f"rows 0..{rows.start - 1} above")
    if hidden_below:
        notes.append(f"rows {rows.stop}..{n_rows - 1} below")
    ax_col.set_xlim(-0.2, span + 0.2)
    ax_col.set_ylim(-0.9 if notes else -0.2, n_shown + 1.6)
    if notes:
        ax_col.text(span / 2, -0.35, "not drawn: " + ", ".join(notes), ha="center",
                    va="top", fontsize=7, color="dimgray")
    ax_col.set_aspect("equal")
    ax_col.axis("off")
    ax_col.set_title(f"im2col matrix: {n_rows} rows (n, i, j) x {n_cols} columns (c, a, d)\n"
                     f"(OH x OW = {out_h} x {out_w}; column k copies the input cell marked k)",
                     fontsize=9)
    fig.tight_layout()
    return fig
