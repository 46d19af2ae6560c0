"""Convolution in numpy: output-size arithmetic, readable loop versions, im2col/col2im and a
fast `Convolution` layer.

Two families live here on purpose:

* teaching versions (`correlate1d`, `convolve1d`, `correlate2d`, `convolve2d`,
  `multichannel_correlate2d`, `conv_forward_naive`, `im2col`, `col2im`) written so a student can
  follow every index; they are only meant for small inputs;
* the `Convolution` layer, which computes the same thing with a layout chosen for speed
  (one copy per kernel offset and one matrix product per block of images, no 6-D transpose).

Shapes follow CS231n/Saito: images (N, C, H, W), weights (F, C, KH, KW), bias (F,).
Deep-learning "convolution" is cross-correlation (the kernel is not flipped); `convolve*` flip it.
Output sizes: `conv_output_size` and `conv_transpose_output_size` (keyword arguments after the
first two: padding and stride are easy to swap by position).

Why the layer unrolls "tap-major" instead of like the teaching `im2col`
-----------------------------------------------------------------------
Both turn the convolution into one matrix product by copying every input number that a window
reads. Take one 4x4 channel, a 3x3 kernel and padding 1 (16 outputs, 9 taps (a, d) per window):

    x = a b c d     im2col (the classic layout): one ROW per output position (i, j), its window
        e f g h         out (0,0):  0 0 0  0 a b  0 e f
        i j k l         out (0,1):  0 0 0  a b c  e f g
        m n o p         ...         16 rows of 9 numbers; each row gathers pieces of three image
                                    rows, so the copy jumps around memory. With C channels and N
                                    images it is built as col6[n, c, a, d, i, j] and then
                                    transposed to (n, i, j, c, a, d): a 6-D transpose that moves
                                    every number far from its neighbours (the slow part), and
                                    col @ W.T comes out (N*OH*OW, F), to be transposed again.

    tap-major (this layer): one ROW per kernel tap (a, d), the pixel that tap reads for EVERY
    output, in output order:
        tap (0,0):  0 0 0 0  0 a b c  0 e f g  0 i j k    x shifted by -5, border set to 0
        tap (0,1):  0 0 0 0  a b c d  e f g h  i j k l    x shifted by -4
        tap (1,1):  a b c d  e f g h  i j k l  m n o p    x itself (the centre tap)
        tap (2,2):  f g h 0  j k l 0  n o p 0  0 0 0 0    x shifted by +5
        ...         9 rows of 16 numbers

With stride 1 and 'same' padding every row is ONE contiguous copy of the flattened image,
shifted by (a - P)*W + (d - P), plus a few zeros where the tap falls on padding (`_ShiftTap`);
with any other stride or padding it is one strided slice of the image per tap (`_SliceTap`).
Channels stack inside each tap: cols[n] has shape (KH*KW*C, OH*OW), rows ordered (a, d, c). The
weights are reordered once to match, W' = W.transpose(0, 2, 3, 1).reshape(F, KH*KW*C) (a tiny
array), and W' @ cols[n] is (F, OH*OW): already out[n]'s layout, so nothing large is ever
transposed. Backward reuses the layout: dW = dout[n] @ cols[n]^T summed over images, and
dcols = W'^T @ dout[n] folded back onto the image by the same taps (`_scatter_add`, the
tap-major col2im). The layer works a block of images (or of one image's channels) at a time,
so a block's cols is still in cache when the matrix product reads it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_float_array, check_int, check_pair
from .layers import Layer

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
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


def _check_mode(mode: str) -> str:
    if mode not in PAD_MODES:
        raise ValueError(f"padding mode must be one of {PAD_MODES}, got {mode!r}")
    return mode


# --------------------------------------------------------------------------------------------
# output-size arithmetic
# --------------------------------------------------------------------------------------------
def conv_output_size(input_size: int, kernel_size: int, *, padding: int = 0, stride: int = 1,
                     dilation: int = 1, ceil_mode: bool = False) -> int:
    """Spatial output size of a convolution or pooling along one axis.

        O = floor((I + 2P - K - (K - 1)(D - 1)) / S) + 1

    with I the input size, K the kernel size, P the padding added on EACH side (textbooks that
    write p for the total padding use p = 2P), S the stride and D the dilation; the dilated
    kernel covers K + (K - 1)(D - 1) input positions.

    Examples: (I=5 or 6, K=3, P=1, S=2) -> 3; AlexNet conv1 (227, K=11, S=4) -> 55.
    With ceil_mode=True the floor becomes a ceiling, as in Caffe-era pooling (GoogLeNet),
    except that a last window starting entirely in the right padding is dropped (PyTorch's
    rule).

    Inputs: ints input_size, kernel_size, stride, dilation >= 1 and padding >= 0; everything
    after kernel_size is keyword-only (padding and stride are easy to swap by position).
    Returns: int O >= 1.
    Raises TypeError for non-integers (bool included) and ValueError (naming the numbers) for
    non-positive sizes, stride or dilation, negative padding, or an effective kernel larger
    than the padded input.
    """
    i = check_int("input_size", input_size, 1)
    k = check_int("kernel_size", kernel_size, 1)
    p = check_int("padding", padding, 0)
    s = check_int("stride", stride, 1)
    d = check_int("dilation", dilation, 1)
    effective_kernel = k + (k - 1) * (d - 1)
    padded = i + 2 * p
    if effective_kernel > padded:
        raise ValueError(
            f"effective kernel size {effective_kernel} (kernel_size={k}, dilation={d}) is larger "
            f"than the padded input {padded} (input_size={i} + 2*padding={2 * p})")
    if not ceil_mode:
        return (padded - effective_kernel) // s + 1
    out = -(-(padded - effective_kernel) // s) + 1          # ceiling division
    if (out - 1) * s >= i + p:      # the last window would start inside the right padding
        out -= 1
    return out


def conv_transpose_output_size(input_size: int, kernel_size: int, *, padding: int = 0,
                               stride: int = 1, output_padding: int = 0,
                               dilation: int = 1) -> int:
    """Spatial output size of a transposed convolution along one axis (PyTorch's
    ConvTranspose2d):

        O = (I - 1) * S - 2P + D(K - 1) + output_padding + 1

    It inverts `conv_output_size`'s shape map: a convolution with the same K, S, P, D maps
    O back to I. Several I give the same convolution output when (I + 2P - K_eff) % S != 0;
    output_padding (added on one side only) picks which of them. DCGAN's up-sampling step
    K=4, S=2, P=1 doubles the size (7 -> 14 -> 28); K=7, S=1, P=0 turns a 1x1 code into 7x7.

    Inputs: ints input_size, kernel_size, stride, dilation >= 1; padding >= 0;
    0 <= output_padding < max(stride, dilation); all but the first two keyword-only.
    Returns: int O >= 1.
    Raises TypeError for non-integers and ValueError for values out of range or a padding so
    large that no output is left.
    """
    i = check_int("input_size", input_size, 1)
    k = check_int("kernel_size", kernel_size, 1)
    p = check_int("padding", padding, 0)
    s = check_int("stride", stride, 1)
    op = check_int("output_padding", output_padding, 0)
    d = check_int("dilation", dilation, 1)
    if op >= max(s, d):
        raise ValueError(f"output_padding={op} must be smaller than stride={s} or "
                         f"dilation={d}")
    out = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"transposed convolution output would be {out} (input_size={i}, "
                         f"kernel_size={k}, stride={s}, padding={p}); reduce the padding")
    return out


# --------------------------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------------------------
def pad1d(x, padding: int, mode: str = "zero") -> np.ndarray:
    """Pad a 1-D signal by `padding` samples on each side.

    Input x: (L,). Output: (L + 2P,).
    mode "zero": the new samples are 0. mode "replicate" (copy padding): they repeat the nearest
    edge sample, x_pad[j] = x[clip(j - P, 0, L - 1)].
    """
    x = as_float_array("x", x, 1)
    p = check_int("padding", padding, 0)
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
    x = as_float_array("x", x)
    ph, pw = check_pair("padding", padding, 0)
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
    x = as_float_array("x", x, 1)
    w = as_float_array("w", w, 1)
    out_len = conv_output_size(x.shape[0], w.shape[0], padding=padding, stride=stride)
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
    w = as_float_array("w", w, 1)
    return correlate1d(x, w[::-1], padding, mode, stride)


def correlate2d(x, w, padding=0, mode: str = "zero", stride=1, bias: float = 0.0) -> np.ndarray:
    """2-D cross-correlation of one channel (what deep learning calls convolution), as loops.

    Input x: (H, W), kernel w: (KH, KW); padding and stride: int or pair (h, w).
    Output: (OH, OW) with OH = floor((H + 2PH - KH) / SH) + 1 (same for OW) and
        out[i, j] = sum_{a, b} x_pad[i*SH + a, j*SW + b] * w[a, b] + bias
    """
    x = as_float_array("x", x, 2)
    w = as_float_array("w", w, 2)
    ph, pw = check_pair("padding", padding, 0)
    sh, sw = check_pair("stride", stride, 1)
    kh, kw = w.shape
    out_h = conv_output_size(x.shape[0], kh, padding=ph, stride=sh)
    out_w = conv_output_size(x.shape[1], kw, padding=pw, stride=sw)
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
    w = as_float_array("w", w, 2)
    return correlate2d(x, w[::-1, ::-1], padding, mode, stride, bias)


def multichannel_correlate2d(x, w, padding=0, mode: str = "zero", stride=1,
                             bias: float = 0.0) -> np.ndarray:
    """One filter over a multi-channel image: correlate each channel, then SUM over channels.

    Input x: (C, H, W), kernel w: (C, KH, KW) (one 2-D slice per input channel).
    Output: (OH, OW) — a single feature map,
        out[i, j] = sum_c sum_{a, b} x_pad[c, i*SH + a, j*SW + b] * w[c, a, b] + bias
    The bias is added once, not once per channel.
    """
    x = as_float_array("x", x, 3)
    w = as_float_array("w", w, 3)
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
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("pad", pad, 0)
    kh, kw = W.shape[2], W.shape[3]
    if kh > x_shape[2] + 2 * ph or kw > x_shape[3] + 2 * pw:
        raise ValueError(f"kernel {kh}x{kw} is larger than the padded input "
                         f"{x_shape[2] + 2 * ph}x{x_shape[3] + 2 * pw} (x {x_shape}, pad "
                         f"{(ph, pw)})")
    out_h = conv_output_size(x_shape[2], kh, padding=ph, stride=sh)
    out_w = conv_output_size(x_shape[3], kw, padding=pw, stride=sw)
    return sh, sw, ph, pw, out_h, out_w


def conv_forward_naive(x, W, b, stride=1, pad=0) -> np.ndarray:
    """Reference multi-channel convolution layer forward pass with explicit loops.

    Input x: (N, C, H, W); weights W: (F, C, KH, KW); bias b: (F,); stride/pad int or pair.
    Output: (N, F, OH, OW) with OH = floor((H + 2PH - KH) / SH) + 1 and
        out[n, f, i, j] = sum_{c, a, d} x_pad[n, c, i*SH + a, j*SW + d] * W[f, c, a, d] + b[f]
    Zero padding. Slow: for tiny inputs and for checking the fast versions.
    """
    x = as_float_array("x", x, 4)
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
    kh = check_int("kernel_h", kernel_h, 1)
    kw = check_int("kernel_w", kernel_w, 1)
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("pad", pad, 0)
    n_images, channels, height, width = x.shape
    out_h = conv_output_size(height, kh, padding=ph, stride=sh)
    out_w = conv_output_size(width, kw, padding=pw, stride=sw)
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
    n_images, channels, height, width = (check_int("x_shape", v, 1) for v in x_shape)
    kh = check_int("kernel_h", kernel_h, 1)
    kw = check_int("kernel_w", kernel_w, 1)
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("pad", pad, 0)
    out_h = conv_output_size(height, kh, padding=ph, stride=sh)
    out_w = conv_output_size(width, kw, padding=pw, stride=sw)
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
class _SliceTap(NamedTuple):
    """One kernel offset (kernel_row, kernel_col) of a convolution, as two matching blocks.

    At this offset, output (i, j) reads input pixel (i*SH + kernel_row - PH,
    j*SW + kernel_col - PW). The outputs whose pixel is real (not padding) form the block
    out_rows x out_cols, and the pixels they read form in_rows x in_cols (strided slices,
    possibly empty):

        cols[n, kernel_row, kernel_col, c, out_rows, out_cols] = x[n, c, in_rows, in_cols]

    Every other output of this offset reads padding, 0.
    """

    kernel_row: int
    kernel_col: int
    out_rows: slice
    out_cols: slice
    in_rows: slice
    in_cols: slice


class _ShiftTap(NamedTuple):
    """One kernel offset of a stride-1 'same' convolution (output as large as the input), as
    a shift of the flattened image.

    Output (i, j) reads input (i + kernel_row - PH, j + kernel_col - PW); in an image
    flattened to rows of C*H*W numbers that is position (c*H + i)*W + j + shift, with
    shift = (kernel_row - PH)*W + (kernel_col - PW). So ONE contiguous copy, shifted by
    `shift`, fills the tap's whole plane. The outputs in rows `pad_rows` or columns `pad_cols`
    read padding (in the flat copy they wrapped around to a neighbouring row or channel) and
    are set to 0 afterwards; the slices are empty when the tap reads no padding on that axis.
    """

    kernel_row: int
    kernel_col: int
    shift: int
    pad_rows: slice
    pad_cols: slice

    @property
    def is_centre(self) -> bool:
        """True for the tap that reads every pixel exactly once: no shift, no padding."""
        return (self.shift == 0 and self.pad_rows.start == self.pad_rows.stop
                and self.pad_cols.start == self.pad_cols.stop)


class _Block(NamedTuple):
    """The part of a batch unrolled at once: images n0:n1, channels c0:c1.

    Either a run of whole images (c0:c1 = all channels) or a run of one image's channels, so
    that a block of x is one contiguous piece of memory.
    """

    n0: int
    n1: int
    c0: int
    c1: int


class _Plan(NamedTuple):
    """How `Convolution` runs on one input shape: output size, taps, blocks."""

    out_hw: tuple[int, int]
    taps: list           # all _ShiftTap (stride-1 'same') or all _SliceTap
    blocks: list         # [_Block, ...]

    @property
    def shifted(self) -> bool:
        return isinstance(self.taps[0], _ShiftTap)


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


def _slice_taps(kh: int, kw: int, stride: tuple[int, int], pad: tuple[int, int],
                in_hw: tuple[int, int], out_hw: tuple[int, int]) -> list[_SliceTap]:
    """A `_SliceTap` for every kernel offset, row-major (the order of the cols planes)."""
    (sh, sw), (ph, pw), (h, w), (out_h, out_w) = stride, pad, in_hw, out_hw
    taps = []
    for a in range(kh):
        i0, i1, row0 = _valid_span(a, ph, sh, h, out_h)
        for d in range(kw):
            j0, j1, col0 = _valid_span(d, pw, sw, w, out_w)
            taps.append(_SliceTap(kernel_row=a, kernel_col=d,
                                  out_rows=slice(i0, i1), out_cols=slice(j0, j1),
                                  in_rows=_span_slice(row0, i1 - i0, sh),
                                  in_cols=_span_slice(col0, j1 - j0, sw)))
    return taps


def _shift_taps(kh: int, kw: int, pad: tuple[int, int],
                in_hw: tuple[int, int]) -> list[_ShiftTap]:
    """A `_ShiftTap` for every kernel offset of a stride-1 'same' convolution, row-major."""
    (ph, pw), (h, w) = pad, in_hw

    def padding_part(shift: int, size: int) -> slice:
        # The outputs whose read position i + shift falls outside 0..size-1; clamped, because
        # with a kernel wider than the image a tap can read padding only.
        return slice(0, min(size, -shift)) if shift < 0 else slice(max(0, size - shift), size)

    return [_ShiftTap(kernel_row=a, kernel_col=d, shift=(a - ph) * w + (d - pw),
                      pad_rows=padding_part(a - ph, h), pad_cols=padding_part(d - pw, w))
            for a in range(kh) for d in range(kw)]


def _blocks(n_images: int, channels: int, bytes_per_channel: int,
            block_bytes: int) -> tuple[int, int, list[_Block]]:
    """Split (images, channels) into blocks whose unrolled input fits in `block_bytes`.

    Returns (images_per_block, channels_per_block, [_Block, ...]). Either a block holds all
    channels of one or more images, or one image is split into channel groups of (nearly)
    equal size; either way a block of x is a run of whole images or one image's run of
    channels.
    """
    per_image = channels * bytes_per_channel
    if per_image <= block_bytes:
        chunk, group = max(1, min(n_images, block_bytes // per_image)), channels
    else:
        group = max(1, block_bytes // bytes_per_channel)
        n_groups = -(-channels // group)                    # ceil division
        chunk, group = 1, -(-channels // n_groups)           # same count, sizes balanced
    blocks = [_Block(n0, min(n_images, n0 + chunk), c0, min(channels, c0 + group))
              for n0 in range(0, n_images, chunk) for c0 in range(0, channels, group)]
    return chunk, group, blocks


# Byte alignment of the arrays the layer's matrix products write: one cache line. OpenBLAS's
# AVX-512 kernels store whole 64-byte lines and run about 20% slower on arrays that start in
# the middle of one (numpy only guarantees 16 bytes); the AVX2 kernels do not care.
_ALIGN = 64


def _aligned_empty(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """np.empty(shape, dtype) whose data starts on a `_ALIGN`-byte boundary."""
    dtype = np.dtype(dtype)
    n_bytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n_bytes + _ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + n_bytes].view(dtype).reshape(shape)


def _view(array: np.ndarray, shape: tuple) -> np.ndarray:
    """Reshape that must not copy: results are written through these views."""
    view = array.view()
    view.shape = shape      # raises AttributeError instead of silently copying
    return view


def _flat_span(length: int, shift: int) -> tuple[int, int]:
    """The positions lo:hi of a flat row of `length` whose position + shift is in the row."""
    lo = min(length, max(0, -shift))
    return lo, max(lo, min(length, length - shift))     # a shift past the end copies nothing


def _image_rows(x: np.ndarray, block: _Block) -> np.ndarray:
    """The block's part of x (N, C, H, W) as one flat row per image: (m, g*H*W), a view."""
    n_images, channels, height, width = x.shape
    per_image = _view(x, (n_images, channels, height * width))[block.n0:block.n1,
                                                                block.c0:block.c1]
    return _view(per_image, (block.n1 - block.n0, (block.c1 - block.c0) * height * width))


def _gather(x: np.ndarray, block: _Block, cols: np.ndarray, taps: list) -> None:
    """Unroll one block of x into cols (m, KH, KW, g, OH, OW), tap-major:

        cols[n, a, d, c, i, j] = x_pad[n0 + n, c0 + c, i*SH + a, j*SW + d]

    Every entry is written, padding included (as 0), so the scratch buffer needs no care.
    """
    if isinstance(taps[0], _ShiftTap):
        x_rows = _image_rows(x, block)
        length = x_rows.shape[1]
        for tap in taps:
            plane = cols[:, tap.kernel_row, tap.kernel_col]
            lo, hi = _flat_span(length, tap.shift)
            _view(plane, (plane.shape[0], length))[:, lo:hi] = \
                x_rows[:, lo + tap.shift:hi + tap.shift]
            # Wrapped-around and never-written entries are all padding rows/columns.
            plane[:, :, tap.pad_rows] = 0
            plane[:, :, :, tap.pad_cols] = 0
        return
    x_block = x[block.n0:block.n1, block.c0:block.c1]
    for tap in taps:
        plane = cols[:, tap.kernel_row, tap.kernel_col]
        rows, columns = tap.out_rows, tap.out_cols
        plane[:, :, rows, columns] = x_block[:, :, tap.in_rows, tap.in_cols]
        plane[:, :, :rows.start] = 0
        plane[:, :, rows.stop:] = 0
        plane[:, :, rows, :columns.start] = 0
        plane[:, :, rows, columns.stop:] = 0


def _scatter_add(dx: np.ndarray, block: _Block, dcols: np.ndarray, taps: list) -> None:
    """Adjoint of `_gather`: dx[n, c, y, z] += dcols[n, a, d, c, i, j] over every tap entry
    that read pixel (y, z) (+= because neighbouring windows share pixels).

    With `_SliceTap`s dx must be zero beforehand. With `_ShiftTap`s the centre tap, which
    reads every pixel exactly once, is assigned first, so dx needs no zeroing; dcols is used
    as scratch (its padding entries are zeroed).
    """
    if isinstance(taps[0], _ShiftTap):
        dx_rows = _image_rows(dx, block)
        m, length = dx_rows.shape
        centre = next(tap for tap in taps if tap.is_centre)
        dx_rows[...] = _view(dcols[:, centre.kernel_row, centre.kernel_col], (m, length))
        for tap in taps:
            if tap is centre:
                continue
            plane = dcols[:, tap.kernel_row, tap.kernel_col]
            # Gradient that belongs to padding must not wrap onto a neighbouring pixel.
            plane[:, :, tap.pad_rows] = 0
            plane[:, :, :, tap.pad_cols] = 0
            lo, hi = _flat_span(length, tap.shift)
            dx_rows[:, lo + tap.shift:hi + tap.shift] += _view(plane, (m, length))[:, lo:hi]
        return
    dx_block = dx[block.n0:block.n1, block.c0:block.c1]
    for tap in taps:
        dx_block[:, :, tap.in_rows, tap.in_cols] += \
            dcols[:, tap.kernel_row, tap.kernel_col, :, tap.out_rows, tap.out_cols]


class Convolution(Layer):
    """Convolution layer (cross-correlation, zero padding) with forward and backward.

    Parameters W: (F, C, KH, KW), b: (F,); stride and pad: int or pair (h, w).
    forward(x): x (N, C, H, W) -> out (N, F, OH, OW),
        out[n, f, i, j] = sum_{c, a, d} x_pad[n, c, i*SH + a, j*SW + d] * W[f, c, a, d] + b[f]
    backward(dout): dout (N, F, OH, OW) -> dx (N, C, H, W); also sets
        dW[f, c, a, d] = sum_{n, i, j} dout[n, f, i, j] * x_pad[n, c, i*SH + a, j*SW + d]
        db[f] = sum_{n, i, j} dout[n, f, i, j]
        dx = col2im(W^T dout): every receptive field gives back its share, overlaps summed
    Computation runs in np.result_type(x, W) (float32 stays float32; ints become float64).

    The maths is the teaching im2col's; the memory layout is the tap-major one of the module
    docstring:
    * receptive fields are unrolled per image to cols (KH*KW*C, OH*OW) with one strided copy
      per kernel tap (`_SliceTap`), or one flat shifted copy for stride-1 'same' convolutions
      (`_ShiftTap`); W' @ cols is already in (F, OH*OW) order, so nothing is transposed;
    * the work runs block by block (`_Block`: a few images, or a group of channels of one
      image) so that a block's cols is still in cache when the matrix product and the fold
      read it; backward unrolls the block again instead of keeping a large cols array.
    """

    param_names = ("W", "b")
    # Bytes of one block's unrolled input: about one core's L2 cache (2 MB here), so a block is
    # still in cache for the matrix products that read it, yet large enough to hold a whole
    # image of a typical layer (64 channels, 3x3, 32x32 in float32: 2.4 MB); splitting an
    # image into channel groups makes the products smaller and adds partial sums. Measured in
    # benchmarks/README.md.
    block_bytes = 5 << 19

    def __init__(self, W, b, stride=1, pad=0):
        W = np.asarray(W)
        b = np.asarray(b)
        if W.ndim != 4:
            raise ValueError(f"W must be 4-D (F, C, KH, KW), got shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},) to match W {W.shape}, "
                             f"got {b.shape}")
        super().__init__()
        self.W = W
        self.b = b
        self.stride = check_pair("stride", stride, 1)
        self.pad = check_pair("pad", pad, 0)
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self._scratch: dict[str, np.ndarray] = {}

    def _scratch_view(self, name: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """A C-contiguous array of `shape` carved from a reused scratch buffer."""
        size = int(np.prod(shape))
        buffer = self._scratch.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = _aligned_empty((size,), dtype)
            self._scratch[name] = buffer
        return _view(buffer[:size], shape)

    def _plan(self, x_shape: tuple, dtype: np.dtype) -> _Plan:
        """Output size, taps and blocks for an input shape and dtype (validates the shapes)."""
        sh, sw, ph, pw, out_h, out_w = _check_conv_shapes(x_shape, self.W, self.b,
                                                          self.stride, self.pad)
        n_images, channels, height, width = x_shape
        kh, kw = self.W.shape[2:]
        if (sh, sw) == (1, 1) and (out_h, out_w) == (height, width):
            taps = _shift_taps(kh, kw, (ph, pw), (height, width))
        else:
            taps = _slice_taps(kh, kw, (sh, sw), (ph, pw), (height, width), (out_h, out_w))
        _, _, blocks = _blocks(n_images, channels, kh * kw * out_h * out_w * dtype.itemsize,
                               self.block_bytes)
        return _Plan(out_hw=(out_h, out_w), taps=taps, blocks=blocks)

    def _weight_blocks(self, blocks: list[_Block], dtype: np.dtype) -> dict:
        """W' for each channel group: (F, KH*KW*g), columns in the tap-major cols order."""
        n_filters = self.W.shape[0]
        w_tap_major = self.W.transpose(0, 2, 3, 1)           # (F, KH, KW, C)
        return {(block.c0, block.c1): np.ascontiguousarray(w_tap_major[..., block.c0:block.c1],
                                                           dtype=dtype).reshape(n_filters, -1)
                for block in blocks}

    def _unroll(self, x: np.ndarray, plan: _Plan, block: _Block, dtype: np.dtype) -> np.ndarray:
        """The block's cols as (m, KH*KW*g, OH*OW), in the reused scratch buffer."""
        kh, kw = self.W.shape[2:]
        m, group = block.n1 - block.n0, block.c1 - block.c0
        cols = self._scratch_view("cols", (m, kh, kw, group) + plan.out_hw, dtype)
        _gather(x, block, cols, plan.taps)
        return _view(cols, (m, kh * kw * group, plan.out_hw[0] * plan.out_hw[1]))

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) -> out: (N, F, OH, OW). Caches x for backward."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
        dtype = np.result_type(x.dtype, self.W.dtype)
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        plan = self._plan(x.shape, dtype)
        x = np.ascontiguousarray(x, dtype=dtype)
        n_images, channels = x.shape[:2]
        n_filters = self.W.shape[0]
        out_h, out_w = plan.out_hw
        weights = self._weight_blocks(plan.blocks, dtype)
        bias = self.b.astype(dtype, copy=False)[:, None]
        out = _aligned_empty((n_images, n_filters, out_h * out_w), dtype)
        for block in plan.blocks:
            cols = self._unroll(x, plan, block, dtype)
            out_block = out[block.n0:block.n1]
            w_block = weights[block.c0, block.c1]
            if block.c0 == 0:
                np.matmul(w_block, cols, out=out_block)
            else:   # one image split into channel groups: add up the groups' contributions
                partial = self._scratch_view("partial", (1, n_filters, out_h * out_w), dtype)
                np.matmul(w_block, cols, out=partial)
                out_block += partial
            if block.c1 == channels:
                out_block += bias      # while this block of the output is still in cache
        self._cache = (x, plan, dtype)
        return out.reshape(n_images, n_filters, out_h, out_w)

    def backward(self, dout) -> np.ndarray:
        """dout: (N, F, OH, OW) -> dx: (N, C, H, W); stores dW (F, C, KH, KW) and db (F,)."""
        (cache,) = self._cached("_cache")
        x, plan, dtype = cache
        out_h, out_w = plan.out_hw
        n_filters, channels, kh, kw = self.W.shape
        n_images = x.shape[0]
        expected = (n_images, n_filters, out_h, out_w)
        dout = np.asarray(dout)
        if dout.shape != expected:
            raise ValueError(f"dout has shape {dout.shape}, forward produced {expected}")
        weights = self._weight_blocks(plan.blocks, dtype)
        dout3 = dout.reshape(n_images, n_filters, out_h * out_w).astype(dtype, copy=False)

        # dW is accumulated transposed and tap-major, (KH, KW, C, F): cols @ dout^T runs
        # faster in OpenBLAS than dout @ cols^T for these shapes (F is the small dimension).
        dW_t = np.zeros((kh, kw, channels, n_filters), dtype=dtype)
        db = np.zeros(n_filters, dtype=dtype)
        dx = (np.empty if plan.shifted else np.zeros)(x.shape, dtype=dtype)
        for block in plan.blocks:
            m, group = block.n1 - block.n0, block.c1 - block.c0
            dout_block = dout3[block.n0:block.n1]
            if block.c0 == 0:
                db += dout_block.sum(axis=(0, 2))
            cols = self._unroll(x, plan, block, dtype)
            # (KH*KW*g, OHOW) @ (OHOW, F) per image, summed over the block's images.
            if m == 1:
                contribution = np.matmul(cols[0], dout_block[0].T, out=self._scratch_view(
                    "dW part", (kh * kw * group, n_filters), dtype))
            else:
                contribution = np.matmul(cols, dout_block.transpose(0, 2, 1)).sum(axis=0)
            dW_t[:, :, block.c0:block.c1] += contribution.reshape(kh, kw, group, n_filters)
            # dcols = W'^T dout: each unrolled input's share of the gradient, folded into dx.
            dcols = self._scratch_view("dcols", (m, kh, kw, group, out_h, out_w), dtype)
            np.matmul(weights[block.c0, block.c1].T, dout_block,
                      out=_view(dcols, (m, kh * kw * group, out_h * out_w)))
            _scatter_add(dx, block, dcols, plan.taps)
        self.db = db.astype(self.b.dtype, copy=False)
        self.dW = np.ascontiguousarray(dW_t.transpose(3, 2, 0, 1), dtype=self.W.dtype)
        return dx
