"""Convolution in numpy: output-size arithmetic, readable loop versions, im2col/col2im and a
fast `Convolution` layer.

Two families live here on purpose:

* teaching versions (`correlate1d`, `convolve1d`, `correlate2d`, `convolve2d`,
  `multichannel_correlate2d`, `conv_forward_naive`, `im2col`, `col2im`) written so a student can
  follow every index; they are only meant for small inputs;
* the `Convolution` layer, which computes the same thing with a layout chosen for speed
  (one strided copy per kernel offset and batched matrix products, no 6-D transpose).

Shapes follow CS231n/Saito: images (N, C, H, W), weights (F, C, KH, KW), bias (F,).
Deep-learning "convolution" is cross-correlation (the kernel is not flipped); `convolve*` flip it.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "conv_output_size",
    "pad1d",
    "pad2d",
    "correlate1d",
    "convolve1d",
    "correlate2d",
    "convolve2d",
    "multichannel_correlate2d",
    "conv_forward_naive",
    "im2col",
    "col2im",
    "Convolution",
]

PAD_MODES = ("zero", "replicate")


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_int(name: str, value, minimum: int) -> int:
    """Return `value` as int if it is an integer >= minimum, else raise ValueError naming it."""
    # bool is an int subclass, but conv_output_size(5, True) is a bug, not a kernel of size 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        kind = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return int(value)


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    """Accept an int or a pair of ints (for height and width) and validate both."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return (_check_int(f"{name}[0]", value[0], minimum),
                _check_int(f"{name}[1]", value[1], minimum))
    v = _check_int(name, value, minimum)
    return v, v


def _check_mode(mode: str) -> str:
    if mode not in PAD_MODES:
        raise ValueError(f"padding mode must be one of {PAD_MODES}, got {mode!r}")
    return mode


def _as_float_array(name: str, x, ndim: int) -> np.ndarray:
    """Array view of x with the expected number of axes; integer input becomes float64."""
    x = np.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


# --------------------------------------------------------------------------------------------
# output-size arithmetic
# --------------------------------------------------------------------------------------------
def conv_output_size(input_size: int, kernel_size: int, padding: int = 0, stride: int = 1,
                     dilation: int = 1) -> int:
    """Spatial output size of a convolution or pooling along one axis.

    O = floor((I + 2P - K - (K - 1)(D - 1)) / S) + 1

    with I the input size, K the kernel size, P the padding added on EACH side (textbooks that
    write p for the total padding use p = 2P), S the stride and D the dilation; the dilated
    kernel covers K + (K - 1)(D - 1) input positions.

    Inputs: positive ints input_size, kernel_size, stride, dilation; int padding >= 0.
    Returns: int O >= 1.
    Raises ValueError (naming the numbers) for non-integers (bool included), non-positive sizes,
    stride or dilation, negative padding, or an effective kernel larger than the padded input.
    """
    i = _check_int("input_size", input_size, 1)
    k = _check_int("kernel_size", kernel_size, 1)
    p = _check_int("padding", padding, 0)
    s = _check_int("stride", stride, 1)
    d = _check_int("dilation", dilation, 1)
    effective_kernel = k + (k - 1) * (d - 1)
    padded = i + 2 * p
    if effective_kernel > padded:
        raise ValueError(
            f"effective kernel size {effective_kernel} (kernel_size={k}, dilation={d}) is larger "
            f"than the padded input {padded} (input_size={i} + 2*padding={2 * p})")
    return (padded - effective_kernel) // s + 1


# --------------------------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------------------------
def pad1d(x, padding: int, mode: str = "zero") -> np.ndarray:
    """Pad a 1-D signal by `padding` samples on each side.

    Input x: (L,). Output: (L + 2P,).
    mode "zero": the new samples are 0. mode "replicate" (copy padding): they repeat the nearest
    edge sample, x_pad[j] = x[clip(j - P, 0, L - 1)].
    """
    x = _as_float_array("x", x, 1)
    p = _check_int("padding", padding, 0)
    _check_mode(mode)
    out = np.zeros(x.shape[0] + 2 * p, dtype=x.dtype)
    for j in range(out.shape[0]):
        src = j - p
        if 0 <= src < x.shape[0]:
            out[j] = x[src]
        elif mode == "replicate":
            out[j] = x[min(max(src, 0), x.shape[0] - 1)]
    return out


def pad2d(x, padding, mode: str = "zero") -> np.ndarray:
    """Pad the last two axes (height, width) of an array.

    Input x: (..., H, W); padding: int P or pair (PH, PW), added on each side.
    Output: (..., H + 2PH, W + 2PW), same dtype as x (ints become float64).
    mode "zero": border values are 0. mode "replicate" (copy padding): each border value
    copies the nearest edge pixel, x_pad[i, j] = x[clip(i - PH, 0, H-1), clip(j - PW, 0, W-1)].
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"pad2d needs at least 2 axes (..., H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    ph, pw = _pair("padding", padding, 0)
    _check_mode(mode)
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    # np.pad's "edge" mode is exactly copy padding; "constant" pads with zeros.
    return np.pad(x, widths, mode="constant" if mode == "zero" else "edge")


# --------------------------------------------------------------------------------------------
# teaching versions: plain loops
# --------------------------------------------------------------------------------------------
def correlate1d(x, w, padding: int = 0, mode: str = "zero", stride: int = 1) -> np.ndarray:
    """1-D cross-correlation (the kernel is NOT flipped), written as a loop.

    Input x: (L,), kernel w: (K,). Output: (O,) with O = floor((L + 2P - K) / S) + 1 and
        out[o] = sum_k x_pad[o*S + k] * w[k]
    where x_pad is x padded by P on each side (see `pad1d`).
    """
    x = _as_float_array("x", x, 1)
    w = _as_float_array("w", w, 1)
    out_len = conv_output_size(x.shape[0], w.shape[0], padding, stride)
    x_padded = pad1d(x, padding, mode)
    out = np.zeros(out_len, dtype=np.result_type(x, w))
    for o in range(out_len):
        start = o * stride
        total = 0.0
        for k in range(w.shape[0]):
            total += x_padded[start + k] * w[k]
        out[o] = total
    return out


def convolve1d(x, w, padding: int = 0, mode: str = "zero", stride: int = 1) -> np.ndarray:
    """1-D true convolution: cross-correlation with the kernel flipped.

    Input x: (L,), kernel w: (K,). Output: (O,),
        out[o] = sum_k x_pad[o*S + k] * w[K - 1 - k]
    """
    w = _as_float_array("w", w, 1)
    return correlate1d(x, w[::-1], padding, mode, stride)


def correlate2d(x, w, padding=0, mode: str = "zero", stride=1, bias: float = 0.0) -> np.ndarray:
    """2-D cross-correlation of one channel (what deep learning calls convolution), as loops.

    Input x: (H, W), kernel w: (KH, KW); padding and stride: int or pair (h, w).
    Output: (OH, OW) with OH = floor((H + 2PH - KH) / SH) + 1 (same for OW) and
        out[i, j] = sum_{a, b} x_pad[i*SH + a, j*SW + b] * w[a, b] + bias
    """
    x = _as_float_array("x", x, 2)
    w = _as_float_array("w", w, 2)
    ph, pw = _pair("padding", padding, 0)
    sh, sw = _pair("stride", stride, 1)
    kh, kw = w.shape
    out_h = conv_output_size(x.shape[0], kh, ph, sh)
    out_w = conv_output_size(x.shape[1], kw, pw, sw)
    x_padded = pad2d(x, (ph, pw), mode)
    out = np.zeros((out_h, out_w), dtype=np.result_type(x, w))
    for i in range(out_h):
        for j in range(out_w):
            total = bias
            for a in range(kh):
                for b in range(kw):
                    total += x_padded[i * sh + a, j * sw + b] * w[a, b]
            out[i, j] = total
    return out


def convolve2d(x, w, padding=0, mode: str = "zero", stride=1, bias: float = 0.0) -> np.ndarray:
    """2-D true convolution: cross-correlation with the kernel flipped on BOTH axes.

    Input x: (H, W), kernel w: (KH, KW). Output: (OH, OW),
        out[i, j] = sum_{a, b} x_pad[i*SH + a, j*SW + b] * w[KH-1-a, KW-1-b] + bias
    """
    w = _as_float_array("w", w, 2)
    return correlate2d(x, w[::-1, ::-1], padding, mode, stride, bias)


def multichannel_correlate2d(x, w, padding=0, mode: str = "zero", stride=1,
                             bias: float = 0.0) -> np.ndarray:
    """One filter over a multi-channel image: correlate each channel, then SUM over channels.

    Input x: (C, H, W), kernel w: (C, KH, KW) (one 2-D slice per input channel).
    Output: (OH, OW) — a single feature map,
        out[i, j] = sum_c sum_{a, b} x_pad[c, i*SH + a, j*SW + b] * w[c, a, b] + bias
    The bias is added once, not once per channel.
    """
    x = _as_float_array("x", x, 3)
    w = _as_float_array("w", w, 3)
    if x.shape[0] != w.shape[0]:
        raise ValueError(f"x has {x.shape[0]} channels (shape {x.shape}) but w has "
                         f"{w.shape[0]} (shape {w.shape})")
    out = correlate2d(x[0], w[0], padding, mode, stride, bias)
    for c in range(1, x.shape[0]):
        out += correlate2d(x[c], w[c], padding, mode, stride)
    return out


def _check_conv_shapes(x_shape: tuple, W: np.ndarray, b: np.ndarray | None,
                       stride, pad) -> tuple[int, int, int, int, int, int]:
    """Validate a conv configuration; return (sh, sw, ph, pw, out_h, out_w)."""
    x_shape = tuple(x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x_shape}")
    if W.ndim != 4:
        raise ValueError(f"W must be 4-D (F, C, KH, KW), got shape {W.shape}")
    if x_shape[1] != W.shape[1]:
        raise ValueError(f"channel mismatch: x has C={x_shape[1]} (shape {x_shape}) but W "
                         f"expects C={W.shape[1]} (shape {W.shape})")
    if b is not None and b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},) to match W {W.shape}, "
                         f"got {b.shape}")
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("pad", pad, 0)
    kh, kw = W.shape[2], W.shape[3]
    if kh > x_shape[2] + 2 * ph or kw > x_shape[3] + 2 * pw:
        raise ValueError(f"kernel {kh}x{kw} is larger than the padded input "
                         f"{x_shape[2] + 2 * ph}x{x_shape[3] + 2 * pw} (x {x_shape}, pad "
                         f"{(ph, pw)})")
    out_h = conv_output_size(x_shape[2], kh, ph, sh)
    out_w = conv_output_size(x_shape[3], kw, pw, sw)
    return sh, sw, ph, pw, out_h, out_w


def conv_forward_naive(x, W, b, stride=1, pad=0) -> np.ndarray:
    """Reference multi-channel convolution layer forward pass with explicit loops.

    Input x: (N, C, H, W); weights W: (F, C, KH, KW); bias b: (F,); stride/pad int or pair.
    Output: (N, F, OH, OW) with OH = floor((H + 2PH - KH) / SH) + 1 and
        out[n, f, i, j] = sum_{c, a, d} x_pad[n, c, i*SH + a, j*SW + d] * W[f, c, a, d] + b[f]
    Zero padding. Slow: for tiny inputs and for checking the fast versions.
    """
    x = _as_float_array("x", x, 4)
    W = np.asarray(W)
    b = np.asarray(b)
    sh, sw, ph, pw, out_h, out_w = _check_conv_shapes(x.shape, W, b, stride, pad)
    n_images, _, _, _ = x.shape
    n_filters, _, kh, kw = W.shape
    x_padded = pad2d(x, (ph, pw), "zero")
    out = np.zeros((n_images, n_filters, out_h, out_w), dtype=np.result_type(x, W))
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = x_padded[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


# --------------------------------------------------------------------------------------------
# im2col / col2im (teaching layout)
# --------------------------------------------------------------------------------------------
def im2col(x, kernel_h: int, kernel_w: int, stride=1, pad=0) -> np.ndarray:
    """Unroll every receptive field of a batch of images into one row of a matrix.

    Input x: (N, C, H, W). Output col: (N*OH*OW, C*KH*KW), same dtype as x, with
        col[(n*OH + i)*OW + j, (c*KH + a)*KW + d] = x_pad[n, c, i*SH + a, j*SW + d]
    so a convolution is one matrix product: out = col @ W.reshape(F, -1).T + b.
    Overlapping windows are duplicated: col holds KH*KW/(SH*SW) times more numbers than x.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
    kh = _check_int("kernel_h", kernel_h, 1)
    kw = _check_int("kernel_w", kernel_w, 1)
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("pad", pad, 0)
    n_images, channels, height, width = x.shape
    out_h = conv_output_size(height, kh, ph, sh)
    out_w = conv_output_size(width, kw, pw, sw)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # col6[n, c, a, d, i, j] = x_pad[n, c, i*SH + a, j*SW + d]: one strided slice per offset.
    col6 = np.empty((n_images, channels, kh, kw, out_h, out_w), dtype=x.dtype)
    for a in range(kh):
        for d in range(kw):
            col6[:, :, a, d] = x_padded[:, :, a:a + sh * out_h:sh, d:d + sw * out_w:sw]
    # Rows must be (n, i, j) and columns (c, a, d): move the output position axes first.
    return col6.transpose(0, 4, 5, 1, 2, 3).reshape(n_images * out_h * out_w, -1)


def col2im(col, x_shape, kernel_h: int, kernel_w: int, stride=1, pad=0) -> np.ndarray:
    """Adjoint of `im2col`: fold rows back into images, SUMMING where windows overlap.

    Input col: (N*OH*OW, C*KH*KW); x_shape: (N, C, H, W). Output: (N, C, H, W) in col's dtype,
        x[n, c, y, z] = sum of col[(n*OH + i)*OW + j, (c*KH + a)*KW + d]
                        over all (i, j, a, d) with i*SH + a - PH = y and j*SW + d - PW = z.
    For any y: <im2col(x), y> == <x, col2im(y)>, which is why it gives dx in backward.
    """
    col = np.asarray(col)
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {tuple(x_shape)}")
    n_images, channels, height, width = (_check_int("x_shape", v, 1) for v in x_shape)
    kh = _check_int("kernel_h", kernel_h, 1)
    kw = _check_int("kernel_w", kernel_w, 1)
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("pad", pad, 0)
    out_h = conv_output_size(height, kh, ph, sh)
    out_w = conv_output_size(width, kw, pw, sw)
    expected = (n_images * out_h * out_w, channels * kh * kw)
    if col.shape != expected:
        raise ValueError(f"col has shape {col.shape}, but x_shape {tuple(x_shape)} with kernel "
                         f"{kh}x{kw}, stride {(sh, sw)}, pad {(ph, pw)} needs {expected}")
    col6 = col.reshape(n_images, out_h, out_w, channels, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    x_padded = np.zeros((n_images, channels, height + 2 * ph, width + 2 * pw), dtype=col.dtype)
    for a in range(kh):
        for d in range(kw):
            # += because neighbouring windows share pixels: each copy contributed separately.
            x_padded[:, :, a:a + sh * out_h:sh, d:d + sw * out_w:sw] += col6[:, :, a, d]
    return x_padded[:, :, ph:ph + height, pw:pw + width]


# --------------------------------------------------------------------------------------------
# fast layer
# --------------------------------------------------------------------------------------------
def _valid_span(offset: int, pad: int, stride: int, in_size: int,
                out_size: int) -> tuple[int, int, int]:
    """Output positions whose tap at kernel `offset` reads a real pixel, not padding.

    Output index i reads input row i*stride + offset - pad. Returns (first, stop, row) with
    outputs first..stop-1 valid (possibly none) and `row` the input row read by `first`.
    """
    first = min(out_size, max(0, -((offset - pad) // stride)))   # ceil((pad - offset) / stride)
    stop = min(out_size, (in_size - 1 + pad - offset) // stride + 1)
    stop = max(stop, first)
    return first, stop, first * stride + offset - pad


def _span_slice(start: int, count: int, step: int) -> slice:
    return slice(start, start + step * (count - 1) + 1, step) if count > 0 else slice(0, 0)


def _tap_slices(kh: int, kw: int, stride: tuple[int, int], pad: tuple[int, int],
                in_hw: tuple[int, int], out_hw: tuple[int, int]) -> list:
    """For each kernel tap (a, d): the output block and the input block it pairs with.

    Returns [("slice", a, d, out_rows, out_cols, in_rows, in_cols), ...] such that
    cols[:, a, d, :, out_rows, out_cols] == x[:, :, in_rows, in_cols]; every other output
    position of that tap falls on zero padding (the blocks may be empty).
    """
    (sh, sw), (ph, pw), (h, w), (out_h, out_w) = stride, pad, in_hw, out_hw
    taps = []
    for a in range(kh):
        i0, i1, r0 = _valid_span(a, ph, sh, h, out_h)
        for d in range(kw):
            j0, j1, c0 = _valid_span(d, pw, sw, w, out_w)
            taps.append(("slice", a, d, slice(i0, i1), slice(j0, j1),
                         _span_slice(r0, i1 - i0, sh), _span_slice(c0, j1 - j0, sw)))
    return taps


def _flat_taps(kh: int, kw: int, pad: tuple[int, int], in_hw: tuple[int, int]) -> list:
    """Taps of a stride-1 'same' convolution (output as large as the input) as flat shifts.

    Output position (i, j) of tap (a, d) reads input (i + a - PH, j + d - PW); in a flattened
    image that is a shift by delta = (a - PH)*W + (d - PW). Copying one image's whole
    (channels * H * W) range shifted by delta makes one long contiguous copy; the positions
    that wrapped across a row or channel edge are exactly the tap's padding rows and columns,
    which are zeroed afterwards. Returns [("flat", a, d, delta, bad_rows, bad_cols), ...],
    bad_* being slices (empty when the tap reads no padding along that axis).
    """
    (ph, pw), (h, w) = pad, in_hw

    def bad(shift: int, size: int) -> slice:
        # Clamped: with a kernel wider than the image a tap can read padding only.
        return slice(0, min(size, -shift)) if shift < 0 else slice(max(0, size - shift), size)

    return [("flat", a, d, (a - ph) * w + (d - pw), bad(a - ph, h), bad(d - pw, w))
            for a in range(kh) for d in range(kw)]


def _blocks(n_images: int, channels: int, bytes_per_channel: int,
            block_bytes: int) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Split (images, channels) into blocks whose unrolled input fits in `block_bytes`.

    Returns (images_per_block, channels_per_block, [(n0, n1, c0, c1), ...]). Either a block
    holds all channels of one or more images, or one image is split into channel groups of
    (nearly) equal size; either way a block of x is a run of whole images or one image's
    run of channels.
    """
    per_image = channels * bytes_per_channel
    if per_image <= block_bytes:
        chunk, group = max(1, min(n_images, block_bytes // per_image)), channels
    else:
        group = max(1, block_bytes // bytes_per_channel)
        n_groups = -(-channels // group)                    # ceil division
        chunk, group = 1, -(-channels // n_groups)           # same count, sizes balanced
    blocks = [(n0, min(n_images, n0 + chunk), c0, min(channels, c0 + group))
              for n0 in range(0, n_images, chunk) for c0 in range(0, channels, group)]
    return chunk, group, blocks


def _view(array: np.ndarray, shape: tuple) -> np.ndarray:
    """Reshape that must not copy: results are written through these views."""
    view = array.view()
    view.shape = shape      # raises AttributeError instead of silently copying
    return view


def _gather(x: np.ndarray, block: tuple, cols: np.ndarray, taps: list) -> None:
    """Unroll one block of x into cols (m, KH, KW, g, OH, OW), tap-major:

        cols[n, a, d, c, i, j] = x_pad[n0 + n, c0 + c, i*SH + a, j*SW + d]

    Every entry is written, padding included (as 0), so the scratch buffer needs no care.
    """
    n0, n1, c0, c1 = block
    m, group = n1 - n0, c1 - c0
    n_images, channels, height, width = x.shape
    if taps[0][0] == "flat":
        # One long row per image: this image's channels c0:c1, flattened.
        x_rows = _view(_view(x, (n_images, channels, height * width))[n0:n1, c0:c1],
                       (m, group * height * width))
        length = group * height * width
        for _, a, d, delta, bad_rows, bad_cols in taps:
            plane = cols[:, a, d]
            plane_rows = _view(plane, (m, length))
            lo = min(length, max(0, -delta))
            hi = max(lo, min(length, length - delta))   # a shift past the end copies nothing
            plane_rows[:, lo:hi] = x_rows[:, lo + delta:hi + delta]
            # Wrapped-around and never-written entries are all padding rows/columns.
            plane[:, :, bad_rows] = 0
            plane[:, :, :, bad_cols] = 0
    else:
        x_block = x[n0:n1, c0:c1]
        for _, a, d, out_rows, out_cols, in_rows, in_cols in taps:
            plane = cols[:, a, d]
            plane[:, :, out_rows, out_cols] = x_block[:, :, in_rows, in_cols]
            plane[:, :, :out_rows.start] = 0
            plane[:, :, out_rows.stop:] = 0
            plane[:, :, out_rows, :out_cols.start] = 0
            plane[:, :, out_rows, out_cols.stop:] = 0


def _scatter_add(dx: np.ndarray, block: tuple, dcols: np.ndarray, taps: list) -> None:
    """Adjoint of `_gather`: dx[n, c, y, z] += dcols[n, a, d, c, i, j] over every tap entry
    that read pixel (y, z) (+= because neighbouring windows share pixels).

    For "slice" taps dx must be zero beforehand; for "flat" taps the centre tap, which reads
    every pixel once, is assigned first. dcols is used as scratch (its padding is zeroed).
    """
    n0, n1, c0, c1 = block
    m, group = n1 - n0, c1 - c0
    n_images, channels, height, width = dx.shape
    if taps[0][0] == "flat":
        dx_rows = _view(_view(dx, (n_images, channels, height * width))[n0:n1, c0:c1],
                        (m, group * height * width))
        length = group * height * width
        centre = next(t for t in taps if t[3] == 0 and t[4].start == t[4].stop
                      and t[5].start == t[5].stop)
        dx_rows[...] = _view(dcols[:, centre[1], centre[2]], (m, length))
        for tap in taps:
            if tap is centre:
                continue
            _, a, d, delta, bad_rows, bad_cols = tap
            plane = dcols[:, a, d]
            # Gradient that belongs to padding must not wrap onto a neighbouring pixel.
            plane[:, :, bad_rows] = 0
            plane[:, :, :, bad_cols] = 0
            lo = min(length, max(0, -delta))
            hi = max(lo, min(length, length - delta))   # a shift past the end copies nothing
            dx_rows[:, lo + delta:hi + delta] += _view(plane, (m, length))[:, lo:hi]
    else:
        dx_block = dx[n0:n1, c0:c1]
        for _, a, d, out_rows, out_cols, in_rows, in_cols in taps:
            dx_block[:, :, in_rows, in_cols] += dcols[:, a, d, :, out_rows, out_cols]


class Convolution:
    """Convolution layer (cross-correlation, zero padding) with forward and backward.

    Parameters W: (F, C, KH, KW), b: (F,); stride and pad: int or pair (h, w).
    forward(x): x (N, C, H, W) -> out (N, F, OH, OW),
        out[n, f, i, j] = sum_{c, a, d} x_pad[n, c, i*SH + a, j*SW + d] * W[f, c, a, d] + b[f]
    backward(dout): dout (N, F, OH, OW) -> dx (N, C, H, W); also sets
        dW[f, c, a, d] = sum_{n, i, j} dout[n, f, i, j] * x_pad[n, c, i*SH + a, j*SW + d]
        db[f] = sum_{n, i, j} dout[n, f, i, j]
        dx = col2im(W^T dout): every receptive field gives back its share, overlaps summed
    Computation runs in np.result_type(x, W) (float32 stays float32; ints become float64).

    The maths is the teaching im2col's; the memory layout is chosen for speed:
    * receptive fields are unrolled per image to cols (KH*KW*C, OH*OW), tap-major — the
      transpose of the teaching im2col rows with the columns reordered — with one strided
      copy per kernel tap (one long flat copy for stride-1 'same' convolutions), so there is
      no 6-D transpose and W' @ cols is already in (F, OH*OW) order;
    * the work runs block by block (a few images, or a group of channels of one image) so that
      each block's cols (about `block_bytes`) is still in cache when the matrix product and the
      fold read it; backward unrolls the block again instead of keeping a large cols array.
    """

    param_names = ("W", "b")
    block_bytes = 1 << 20   # size of one block's unrolled input; about half a core's L2 cache

    def __init__(self, W, b, stride=1, pad=0):
        W = np.asarray(W)
        b = np.asarray(b)
        if W.ndim != 4:
            raise ValueError(f"W must be 4-D (F, C, KH, KW), got shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},) to match W {W.shape}, "
                             f"got {b.shape}")
        self.W = W
        self.b = b
        self.stride = _pair("stride", stride, 1)
        self.pad = _pair("pad", pad, 0)
        self.training = True
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._cache = None
        self._scratch: dict[str, np.ndarray] = {}

    def _scratch_view(self, name: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """A C-contiguous array of `shape` carved from a reused scratch buffer."""
        size = int(np.prod(shape))
        buffer = self._scratch.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = np.empty(size, dtype=dtype)
            self._scratch[name] = buffer
        return _view(buffer[:size], shape)

    def _plan(self, x_shape: tuple, dtype: np.dtype):
        """Output size, taps and blocks for an input shape and dtype."""
        sh, sw, ph, pw, out_h, out_w = _check_conv_shapes(x_shape, self.W, self.b,
                                                          self.stride, self.pad)
        n_images, channels, height, width = x_shape
        kh, kw = self.W.shape[2:]
        if (sh, sw) == (1, 1) and (out_h, out_w) == (height, width):
            taps = _flat_taps(kh, kw, (ph, pw), (height, width))
        else:
            taps = _tap_slices(kh, kw, (sh, sw), (ph, pw), (height, width), (out_h, out_w))
        _, _, blocks = _blocks(n_images, channels, kh * kw * out_h * out_w * dtype.itemsize,
                               self.block_bytes)
        return (out_h, out_w), taps, blocks

    def _weight_blocks(self, blocks: list, dtype: np.dtype) -> dict:
        """W' for each channel group: (F, KH*KW*g), columns in the tap-major cols order."""
        n_filters = self.W.shape[0]
        w_tap_major = self.W.transpose(0, 2, 3, 1)           # (F, KH, KW, C)
        return {(c0, c1): np.ascontiguousarray(w_tap_major[..., c0:c1],
                                               dtype=dtype).reshape(n_filters, -1)
                for _, _, c0, c1 in blocks}

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) -> out: (N, F, OH, OW). Caches x for backward."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
        dtype = np.result_type(x.dtype, self.W.dtype)
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        (out_h, out_w), taps, blocks = self._plan(x.shape, dtype)
        x = np.ascontiguousarray(x, dtype=dtype)
        n_images, channels = x.shape[:2]
        n_filters, _, kh, kw = self.W.shape
        weights = self._weight_blocks(blocks, dtype)
        bias = self.b.astype(dtype, copy=False)[:, None]
        out = np.empty((n_images, n_filters, out_h * out_w), dtype=dtype)
        for n0, n1, c0, c1 in blocks:
            m, group = n1 - n0, c1 - c0
            cols = self._scratch_view("cols", (m, kh, kw, group, out_h, out_w), dtype)
            _gather(x, (n0, n1, c0, c1), cols, taps)
            cols = _view(cols, (m, kh * kw * group, out_h * out_w))
            if c0 == 0:
                np.matmul(weights[c0, c1], cols, out=out[n0:n1])
            else:   # one image split into channel groups: add up the groups' contributions
                partial = self._scratch_view("partial", (1, n_filters, out_h * out_w), dtype)
                np.matmul(weights[c0, c1], cols, out=partial)
                out[n0:n1] += partial
            if c1 == channels:
                out[n0:n1] += bias      # while this block of the output is still in cache
        self._cache = (x, (out_h, out_w), dtype)
        return out.reshape(n_images, n_filters, out_h, out_w)

    def backward(self, dout) -> np.ndarray:
        """dout: (N, F, OH, OW) -> dx: (N, C, H, W); stores dW (F, C, KH, KW) and db (F,)."""
        if self._cache is None:
            raise RuntimeError("Convolution.backward called before forward")
        x, (out_h, out_w), dtype = self._cache
        n_filters, channels, kh, kw = self.W.shape
        n_images = x.shape[0]
        expected = (n_images, n_filters, out_h, out_w)
        dout = np.asarray(dout)
        if dout.shape != expected:
            raise ValueError(f"dout has shape {dout.shape}, forward produced {expected}")
        _, taps, blocks = self._plan(x.shape, dtype)
        weights = self._weight_blocks(blocks, dtype)
        dout3 = dout.reshape(n_images, n_filters, out_h * out_w).astype(dtype, copy=False)

        # dW is accumulated transposed and tap-major, (KH, KW, C, F): cols @ dout^T runs
        # faster in OpenBLAS than dout @ cols^T for these shapes (F is the small dimension).
        dW_t = np.zeros((kh, kw, channels, n_filters), dtype=dtype)
        db = np.zeros(n_filters, dtype=dtype)
        dx = (np.empty if taps[0][0] == "flat" else np.zeros)(x.shape, dtype=dtype)
        for n0, n1, c0, c1 in blocks:
            m, group = n1 - n0, c1 - c0
            dout_block = dout3[n0:n1]
            if c0 == 0:
                db += dout_block.sum(axis=(0, 2))
            cols = self._scratch_view("cols", (m, kh, kw, group, out_h, out_w), dtype)
            _gather(x, (n0, n1, c0, c1), cols, taps)
            cols = _view(cols, (m, kh * kw * group, out_h * out_w))
            # (KH*KW*g, OHOW) @ (OHOW, F) per image, summed over the block's images.
            if m == 1:
                contribution = cols[0] @ dout_block[0].T
            else:
                contribution = np.matmul(cols, dout_block.transpose(0, 2, 1)).sum(axis=0)
            dW_t[:, :, c0:c1] += contribution.reshape(kh, kw, group, n_filters)
            dcols = self._scratch_view("dcols", (m, kh, kw, group, out_h, out_w), dtype)
            np.matmul(weights[c0, c1].T, dout_block,
                      out=_view(dcols, (m, kh * kw * group, out_h * out_w)))
            _scatter_add(dx, (n0, n1, c0, c1), dcols, taps)
        self.db = db.astype(self.b.dtype, copy=False)
        self.dW = np.ascontiguousarray(dW_t.transpose(3, 2, 0, 1), dtype=self.W.dtype)
        return dx
