"""Pooling (풀링, 통합) in numpy: loop references for teaching and fast layers.

* `max_pool_naive`, `avg_pool_naive`: forward passes as explicit loops, for small inputs.
* `Pooling(pool_h, pool_w, stride=None, pad=0, mode="max"|"avg")`: forward/backward layer.
  Max pooling sends each window's gradient to ONE position (the first maximum in row-major
  order, like torch), so ties are never double-counted; average pooling spreads
  dout / (pool_h * pool_w) over the window.
* `GlobalAvgPooling`: (N, C, H, W) -> (N, C), the mean over each feature map.

The layers never build a window matrix: they loop over the pool_h * pool_w offsets inside the
window and combine strided slices of the input, which for the usual 2x2/stride-2 pool means four
elementwise passes.
"""
from __future__ import annotations

import numpy as np

from .conv import _check_int, _pair, conv_output_size

__all__ = ["max_pool_naive", "avg_pool_naive", "Pooling", "GlobalAvgPooling"]

POOL_MODES = ("max", "avg")


def _pool_geometry(x_shape: tuple, pool_h: int, pool_w: int, stride, pad):
    """Validate a pooling configuration; return (sh, sw, ph, pw, out_h, out_w)."""
    if len(x_shape) != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("pad", pad, 0)
    if ph > pool_h // 2 or pw > pool_w // 2:
        # Wider padding would create windows made only of padding (torch forbids it too).
        raise ValueError(f"pad {(ph, pw)} must be at most half the pool size "
                         f"{(pool_h, pool_w)}")
    height, width = x_shape[2], x_shape[3]
    if pool_h > height + 2 * ph or pool_w > width + 2 * pw:
        raise ValueError(f"pool window {pool_h}x{pool_w} is larger than the padded input "
                         f"{height + 2 * ph}x{width + 2 * pw} (x {tuple(x_shape)}, pad "
                         f"{(ph, pw)})")
    out_h = conv_output_size(height, pool_h, ph, sh)
    out_w = conv_output_size(width, pool_w, pw, sw)
    return sh, sw, ph, pw, out_h, out_w


def _as_image_batch(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def _reduce(ufunc: np.ufunc, arrays: list, in_place: bool = False) -> np.ndarray:
    """ufunc.reduce over a list of equally shaped arrays with one allocation at most.

    With in_place=True the first array (a temporary of ours) is reused as the result.
    """
    if len(arrays) == 1:
        return arrays[0] if in_place else arrays[0].copy()
    result = arrays[0] if in_place else ufunc(arrays[0], arrays[1])
    for array in arrays[1 if in_place else 2:]:
        ufunc(result, array, out=result)
    return result


def max_pool_naive(x, pool_h: int, pool_w: int, stride=None, pad=0) -> np.ndarray:
    """Max pooling forward with loops (teaching reference).

    Input x: (N, C, H, W). Output: (N, C, OH, OW), OH = floor((H + 2P - pool_h) / S) + 1,
        out[n, c, i, j] = max_{a < pool_h, d < pool_w} x_pad[n, c, i*SH + a, j*SW + d]
    Padding is -inf so it never wins. stride defaults to the pool size.
    """
    x = _as_image_batch(x)
    pool_h = _check_int("pool_h", pool_h, 1)
    pool_w = _check_int("pool_w", pool_w, 1)
    sh, sw, ph, pw, out_h, out_w = _pool_geometry(
        x.shape, pool_h, pool_w, (pool_h, pool_w) if stride is None else stride, pad)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    n_images, channels = x.shape[:2]
    out = np.empty((n_images, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x_padded[n, c, i * sh:i * sh + pool_h, j * sw:j * sw + pool_w]
                    out[n, c, i, j] = window.max()
    return out


def avg_pool_naive(x, pool_h: int, pool_w: int, stride=None, pad=0) -> np.ndarray:
    """Average pooling forward with loops (teaching reference).

    Input x: (N, C, H, W). Output: (N, C, OH, OW),
        out[n, c, i, j] = (1 / (pool_h * pool_w)) * sum_{a, d} x_pad[n, c, i*SH + a, j*SW + d]
    Zero padding, counted in the divisor (torch's avg_pool2d default count_include_pad=True).
    """
    x = _as_image_batch(x)
    pool_h = _check_int("pool_h", pool_h, 1)
    pool_w = _check_int("pool_w", pool_w, 1)
    sh, sw, ph, pw, out_h, out_w = _pool_geometry(
        x.shape, pool_h, pool_w, (pool_h, pool_w) if stride is None else stride, pad)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n_images, channels = x.shape[:2]
    out = np.empty((n_images, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x_padded[n, c, i * sh:i * sh + pool_h, j * sw:j * sw + pool_w]
                    out[n, c, i, j] = window.sum() / (pool_h * pool_w)
    return out


class Pooling:
    """Max or average pooling layer; no parameters, channel count unchanged.

    Pooling(pool_h, pool_w, stride=None, pad=0, mode="max"|"avg"); stride defaults to the
    pool size (non-overlapping windows); stride and pad may be ints or pairs (h, w).
    forward(x): (N, C, H, W) -> (N, C, OH, OW), OH = floor((H + 2P - pool_h) / S) + 1,
        max: out[n, c, i, j] = max_{a, d} x_pad[n, c, i*SH + a, j*SW + d]   (pad = -inf)
        avg: out[n, c, i, j] = mean_{a, d} x_pad[n, c, i*SH + a, j*SW + d]  (pad = 0, counted)
    backward(dout): (N, C, OH, OW) -> dx (N, C, H, W),
        max: dx gets dout[n, c, i, j] at the first argmax of each window only (ties: the first
             in row-major order), summed where overlapping windows pick the same pixel;
        avg: dx[window] += dout[n, c, i, j] / (pool_h * pool_w).
    """

    param_names: tuple[str, ...] = ()

    def __init__(self, pool_h: int, pool_w: int, stride=None, pad=0, mode: str = "max"):
        self.pool_h = _check_int("pool_h", pool_h, 1)
        self.pool_w = _check_int("pool_w", pool_w, 1)
        self.stride = _pair("stride", (self.pool_h, self.pool_w) if stride is None else stride, 1)
        self.pad = _pair("pad", pad, 0)
        if self.pad[0] > self.pool_h // 2 or self.pad[1] > self.pool_w // 2:
            raise ValueError(f"pad {self.pad} must be at most half the pool size "
                             f"{(self.pool_h, self.pool_w)}")
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
        self.mode = mode
        self.training = True
        self._cache = None

    def _offsets(self, out_h: int, out_w: int):
        """(a, d, slice) for every offset inside the window: the pixels at that offset of
        every window form one strided slice of the padded input."""
        sh, sw = self.stride
        for a in range(self.pool_h):
            for d in range(self.pool_w):
                yield a * self.pool_w + d, (slice(None), slice(None),
                                            slice(a, a + sh * out_h, sh),
                                            slice(d, d + sw * out_w, sw))

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) -> out: (N, C, OH, OW)."""
        x = _as_image_batch(x)
        _, _, ph, pw, out_h, out_w = _pool_geometry(x.shape, self.pool_h, self.pool_w,
                                                    self.stride, self.pad)
        if ph or pw:
            fill = -np.inf if self.mode == "max" else 0.0
            x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        else:
            x_padded = x
        taps = [x_padded[window_slice] for _, window_slice in self._offsets(out_h, out_w)]
        if len(taps) == 1:
            out = taps[0].copy()
        elif self.mode == "max":
            # Reduce one window row at a time: the taps of a row share cache lines of x.
            # np.maximum propagates NaN, like torch.
            row_maxima = [_reduce(np.maximum, taps[a * self.pool_w:(a + 1) * self.pool_w])
                          for a in range(self.pool_h)]
            out = _reduce(np.maximum, row_maxima, in_place=True)
        else:
            out = _reduce(np.add, taps)
            out *= x.dtype.type(1.0 / len(taps))
        # Max backward finds each window's argmax again by comparing the taps with `out`, so
        # the forward pass (also used at inference) stays as cheap as a few np.maximum calls.
        self._cache = (x.shape, x.dtype, x_padded, out, (ph, pw, out_h, out_w))
        return out

    def backward(self, dout) -> np.ndarray:
        """dout: (N, C, OH, OW) -> dx: (N, C, H, W)."""
        if self._cache is None:
            raise RuntimeError("Pooling.backward called before forward")
        x_shape, x_dtype, x_padded, out, (ph, pw, out_h, out_w) = self._cache
        dout = np.asarray(dout)
        expected = (x_shape[0], x_shape[1], out_h, out_w)
        if dout.shape != expected:
            raise ValueError(f"dout has shape {dout.shape}, forward produced {expected}")
        dtype = np.result_type(dout.dtype, x_dtype)
        overlapping = self.stride[0] < self.pool_h or self.stride[1] < self.pool_w
        tiles_exactly = (not (ph or pw) and self.stride == (self.pool_h, self.pool_w)
                         and out_h * self.pool_h == x_shape[2]
                         and out_w * self.pool_w == x_shape[3])
        # When the windows tile the input exactly every pixel is written once: skip zeroing.
        dx_padded = (np.empty if tiles_exactly else np.zeros)(x_padded.shape, dtype=dtype)

        def deliver(window_slice, grad):
            if overlapping:
                dx_padded[window_slice] += grad
            else:
                dx_padded[window_slice] = grad

        offsets = list(self._offsets(out_h, out_w))
        if self.mode == "max" and self.stride == (self.pool_h, self.pool_w) and not (ph or pw):
            return self._max_backward_tiles(x_padded, out, dout, dtype)
        if self.mode == "max":
            # Visit the taps in row-major order; the first tap equal to the window's max takes
            # the window's whole gradient (`taken` marks those windows), so a tie pays once.
            # Every window has a maximum, so the last tap gets what no earlier tap took (this
            # is also where a NaN window sends its gradient).
            taken = None
            for k, (_, window_slice) in enumerate(offsets):
                if k == len(offsets) - 1:
                    hit = np.ones(dout.shape, dtype=bool) if taken is None else ~taken
                else:
                    hit = np.equal(x_padded[window_slice], out)
                    if taken is None:
                        taken = hit.copy()
                    else:
                        np.greater(hit, taken, out=hit)     # hit and not yet taken
                        taken |= hit
                if overlapping:
                    dx_padded[window_slice] += dout * hit
                else:
                    np.multiply(dout, hit, out=dx_padded[window_slice])
        else:
            share = dout.astype(dtype, copy=False) * dtype.type(1.0 / len(offsets))
            for _, window_slice in offsets:
                deliver(window_slice, share)
        return dx_padded[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]


    def _max_backward_tiles(self, x, out, dout, dtype) -> np.ndarray:
        """Max backward when the windows tile the input without overlap or padding.

        Same rule as the general path (first maximum in row-major order takes the window's
        gradient), but computed on whole rows of windows, x viewed as
        (N, C, OH, pool_h, OW*pool_w): one comparison pass and one contiguous write of dx
        instead of pool_h*pool_w strided passes.
        """
        n_images, channels, height, width = x.shape
        out_h, out_w = out.shape[2:]
        kh, kw = self.pool_h, self.pool_w
        rows = x[:, :, :out_h * kh, :out_w * kw].reshape(n_images, channels, out_h, kh,
                                                         out_w * kw)
        mask = np.equal(rows, np.repeat(out, kw, axis=3)[:, :, :, None, :])
        taps = [mask[:, :, :, a, d::kw] for a in range(kh) for d in range(kw)]
        taken = taps[0].copy()
        for tap in taps[1:-1]:
            np.greater(tap, taken, out=tap)      # a maximum not preceded by one in its window
            taken |= tap
        if len(taps) > 1:
            np.logical_not(taken, out=taps[-1])  # the last tap takes what is left
        grad = np.multiply(np.repeat(dout, kw, axis=3)[:, :, :, None, :], mask, dtype=dtype)
        grad = grad.reshape(n_images, channels, out_h * kh, out_w * kw)
        if grad.shape == x.shape:
            return grad
        dx = np.zeros(x.shape, dtype=dtype)      # rows/columns no window reaches get 0
        dx[:, :, :out_h * kh, :out_w * kw] = grad
        return dx

class GlobalAvgPooling:
    """Global average pooling (GAP): one number per feature map.

    forward(x): (N, C, H, W) -> (N, C), out[n, c] = (1 / (H*W)) * sum_{i, j} x[n, c, i, j]
    backward(dout): (N, C) -> dx (N, C, H, W), dx[n, c, i, j] = dout[n, c] / (H*W)
    """

    param_names: tuple[str, ...] = ()

    def __init__(self):
        self.training = True
        self._x_shape = None

    def forward(self, x) -> np.ndarray:
        x = _as_image_batch(x)
        self._x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout) -> np.ndarray:
        if self._x_shape is None:
            raise RuntimeError("GlobalAvgPooling.backward called before forward")
        dout = np.asarray(dout)
        n_images, channels, height, width = self._x_shape
        if dout.shape != (n_images, channels):
            raise ValueError(f"dout has shape {dout.shape}, forward produced "
                             f"{(n_images, channels)}")
        share = dout * (1.0 / (height * width))
        return np.broadcast_to(share[:, :, None, None].astype(dout.dtype, copy=False),
                               self._x_shape).copy()
