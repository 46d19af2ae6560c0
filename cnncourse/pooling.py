"""Pooling (풀링, 통합) in numpy: loop references for teaching and fast layers.

* `max_pool_naive`, `avg_pool_naive`: forward passes as explicit loops, for small inputs.
* `Pooling(pool_h, pool_w, stride=None, pad=0, mode="max"|"avg")`: forward/backward layer.
  Max pooling sends each window's gradient to ONE position (the first maximum in row-major
  order, like torch), so ties are never double-counted; average pooling spreads
  dout / (pool_h * pool_w) over the window.
* `GlobalAvgPooling`: (N, C, H, W) -> (N, C), the mean over each feature map.

The layers never build a window matrix: they loop over the pool_h * pool_w offsets inside the
window and combine strided slices of the input, which for the usual 2x2/stride-2 pool means four
elementwise passes. Forward, and max backward when the windows tile the input, work through the
batch a block of feature maps at a time (about `BLOCK_BYTES` of input), so the temporaries of
one block stay in the CPU cache between those passes instead of streaming through main memory
once per pass.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_int, check_pair
from .conv import conv_output_size
from .layers import Layer

__all__ = ["max_pool_naive", "avg_pool_naive", "Pooling", "GlobalAvgPooling"]

POOL_MODES = ("max", "avg")
# Bytes of input per block of feature maps: large enough that the Python loop over blocks
# costs little, small enough that a block and its temporaries fit in a core's L2 cache.
BLOCK_BYTES = 1 << 19


def _pool_geometry(x_shape: tuple, pool_h: int, pool_w: int, stride, pad):
    """Validate a pooling configuration; return (sh, sw, ph, pw, out_h, out_w)."""
    if len(x_shape) != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("pad", pad, 0)
    if ph > pool_h // 2 or pw > pool_w // 2:
        # Wider padding would create windows made only of padding (torch forbids it too).
        raise ValueError(f"pad {(ph, pw)} must be at most half the pool size "
                         f"{(pool_h, pool_w)}")
    height, width = x_shape[2], x_shape[3]
    if pool_h > height + 2 * ph or pool_w > width + 2 * pw:
        raise ValueError(f"pool window {pool_h}x{pool_w} is larger than the padded input "
                         f"{height + 2 * ph}x{width + 2 * pw} (x {tuple(x_shape)}, pad "
                         f"{(ph, pw)})")
    out_h = conv_output_size(height, pool_h, padding=ph, stride=sh)
    out_w = conv_output_size(width, pool_w, padding=pw, stride=sw)
    return sh, sw, ph, pw, out_h, out_w


def _as_image_batch(x) -> np.ndarray:
    """x as a float array of images (N, C, H, W); ints become float64."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {x.shape}")
    return as_float_array("x", x)


def _reduce_into(ufunc: np.ufunc, arrays: list, out: np.ndarray) -> np.ndarray:
    """out = arrays[0] (ufunc) arrays[1] (ufunc) ... for equally shaped arrays, no allocation."""
    if len(arrays) == 1:
        np.copyto(out, arrays[0])
        return out
    ufunc(arrays[0], arrays[1], out=out)
    for array in arrays[2:]:
        ufunc(out, array, out=out)
    return out


def _blocks(n_maps: int, map_bytes: int):
    """Slices over n_maps feature maps, about BLOCK_BYTES of input per slice."""
    step = max(1, BLOCK_BYTES // max(1, map_bytes))
    for start in range(0, n_maps, step):
        yield slice(start, min(start + step, n_maps))


def _keep_first_hits_in_order(taps: list) -> None:
    """Keep, per window, only the first True among the boolean `taps` (views, in row-major
    window order), in place; the last tap takes every window where no earlier tap was True.

    So exactly one tap is True per window, even where nothing matched (a NaN window)."""
    taken = taps[0].copy()
    for tap in taps[1:-1]:
        np.greater(tap, taken, out=tap)      # a hit not preceded by one in its window
        taken |= tap
    if len(taps) > 1:
        np.logical_not(taken, out=taps[-1])


def _first_max_mask(rows: np.ndarray, out: np.ndarray, kw: int,
                    mask: np.ndarray | None = None) -> np.ndarray:
    """Where each window's gradient goes, for windows that tile the maps.

    rows: (B, OH, kh, OW*kw), the maps cut into rows of windows; out: (B, OH, OW), the window
    maxima. Returns a boolean mask shaped like rows (written into `mask` if given), True at
    the first maximum of each window in row-major order only (torch's choice on ties), or at
    the window's last pixel where no pixel equals the maximum (a NaN window).
    """
    mask = np.equal(rows, np.repeat(out, kw, axis=2)[:, :, None, :], out=mask)
    kh = rows.shape[2]
    if kh * kw == 1:
        return mask
    _keep_first_hits_in_order([mask[:, :, a, d::kw] for a in range(kh) for d in range(kw)])
    return mask


def _pool_loops(x, pool_h: int, pool_w: int, stride, pad, fill: float,
                window_value) -> np.ndarray:
    """Shared loop of the teaching references: out[n, c, i, j] = window_value(window), the
    window cut from x padded with `fill`."""
    x = _as_image_batch(x)
    pool_h = check_int("pool_h", pool_h, 1)
    pool_w = check_int("pool_w", pool_w, 1)
    sh, sw, ph, pw, out_h, out_w = _pool_geometry(
        x.shape, pool_h, pool_w, (pool_h, pool_w) if stride is None else stride, pad)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    n_images, channels = x.shape[:2]
    out = np.empty((n_images, channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x_padded[n, c, i * sh:i * sh + pool_h, j * sw:j * sw + pool_w]
                    out[n, c, i, j] = window_value(window)
    return out


def max_pool_naive(x, pool_h: int, pool_w: int, stride=None, pad=0) -> np.ndarray:
    """Max pooling forward with loops (teaching reference).

    Input x: (N, C, H, W). Output: (N, C, OH, OW), OH = floor((H + 2P - pool_h) / S) + 1,
        out[n, c, i, j] = max_{a < pool_h, d < pool_w} x_pad[n, c, i*SH + a, j*SW + d]
    Padding is -inf so it never wins. stride defaults to the pool size.
    """
    return _pool_loops(x, pool_h, pool_w, stride, pad, -np.inf, np.max)


def avg_pool_naive(x, pool_h: int, pool_w: int, stride=None, pad=0) -> np.ndarray:
    """Average pooling forward with loops (teaching reference).

    Input x: (N, C, H, W). Output: (N, C, OH, OW),
        out[n, c, i, j] = (1 / (pool_h * pool_w)) * sum_{a, d} x_pad[n, c, i*SH + a, j*SW + d]
    Zero padding, counted in the divisor (torch's avg_pool2d default count_include_pad=True).
    """
    # window.size is pool_h * pool_w: padding pixels are counted.
    return _pool_loops(x, pool_h, pool_w, stride, pad, 0.0,
                       lambda window: window.sum() / window.size)


class Pooling(Layer):
    """Max or average pooling layer; no parameters, channel count unchanged.

    Pooling(pool_h, pool_w, stride=None, pad=0, mode="max"|"avg"); stride defaults to the
    pool size (non-overlapping windows); stride and pad may be ints or pairs (h, w).
    forward(x): (N, C, H, W) -> (N, C, OH, OW), OH = floor((H + 2P - pool_h) / S) + 1,
        max: out[n, c, i, j] = max_{a, d} x_pad[n, c, i*SH + a, j*SW + d]   (pad = -inf)
        avg: out[n, c, i, j] = mean_{a, d} x_pad[n, c, i*SH + a, j*SW + d]  (pad = 0, counted)
    backward(dout): (N, C, OH, OW) -> dx (N, C, H, W),
        max: dx gets dout[n, c, i, j] at the first argmax of each window only (ties: the first
             in row-major order), summed where overlapping windows pick the same pixel; a
             window containing NaN (its max is NaN) sends its gradient to its last pixel;
        avg: dx[window] += dout[n, c, i, j] / (pool_h * pool_w).
    With `training` True, a max pool whose windows tile the input (stride = pool size, no
    padding) records each window's argmax during forward, as torch records indices; with
    `training` False forward only takes the maxima and backward finds the argmax again.
    """

    def __init__(self, pool_h: int, pool_w: int, stride=None, pad=0, mode: str = "max"):
        super().__init__()
        self.pool_h = check_int("pool_h", pool_h, 1)
        self.pool_w = check_int("pool_w", pool_w, 1)
        self.stride = check_pair("stride", (self.pool_h, self.pool_w) if stride is None
                                 else stride, 1)
        self.pad = check_pair("pad", pad, 0)
        if self.pad[0] > self.pool_h // 2 or self.pad[1] > self.pool_w // 2:
            raise ValueError(f"pad {self.pad} must be at most half the pool size "
                             f"{(self.pool_h, self.pool_w)}")
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {POOL_MODES}, got {mode!r}")
        self.mode = mode

    def _offsets(self, out_h: int, out_w: int):
        """A slice for every offset (a, d) inside the window, in row-major order: the pixels
        at that offset of every window form one strided slice of the (padded) maps."""
        sh, sw = self.stride
        for a in range(self.pool_h):
            for d in range(self.pool_w):
                yield (Ellipsis, slice(a, a + sh * out_h, sh), slice(d, d + sw * out_w, sw))

    def forward(self, x) -> np.ndarray:
        """x: (N, C, H, W) -> out: (N, C, OH, OW)."""
        x = _as_image_batch(x)
        _, _, ph, pw, out_h, out_w = _pool_geometry(x.shape, self.pool_h, self.pool_w,
                                                    self.stride, self.pad)
        if ph or pw:
            fill = -np.inf if self.mode == "max" else 0.0
            x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        else:
            x_padded = np.ascontiguousarray(x)
        # Feature maps as (N*C, H, W), pooled a block of maps at a time (see BLOCK_BYTES).
        n_maps = x.shape[0] * x.shape[1]
        maps = x_padded.reshape(n_maps, *x_padded.shape[2:])
        out = np.empty((x.shape[0], x.shape[1], out_h, out_w), dtype=x.dtype)
        out_maps = out.reshape(n_maps, out_h, out_w)
        offsets = list(self._offsets(out_h, out_w))
        kh, kw = self.pool_h, self.pool_w
        # In training, max pooling over windows that tile the maps also records where each
        # window's gradient will go (as torch records indices), while the block is still in
        # cache; backward then only multiplies. At inference forward only takes maxima.
        record = self.training and self._tiles(ph, pw)
        mask = np.empty((n_maps, out_h, kh, out_w * kw), dtype=bool) if record else None
        for block in _blocks(n_maps, maps.itemsize * maps.shape[1] * maps.shape[2]):
            taps = [maps[block][window_slice] for window_slice in offsets]
            out_block = out_maps[block]
            if self.mode == "avg":
                _reduce_into(np.add, taps, out=out_block)
                out_block *= x.dtype.type(1.0 / len(taps))
                continue
            # One window row at a time: the taps of a row share cache lines of x.
            # np.maximum propagates NaN, like torch.
            _reduce_into(np.maximum, taps[:kw], out=out_block)
            row_max = np.empty_like(out_block) if kh > 1 else None
            for a in range(1, kh):
                _reduce_into(np.maximum, taps[a * kw:(a + 1) * kw], out=row_max)
                np.maximum(out_block, row_max, out=out_block)
            if record:
                _first_max_mask(self._window_rows(maps[block], out_h, out_w), out_block, kw,
                                mask=mask[block])
        self._cache = (x.shape, x.dtype, x_padded, out, (ph, pw, out_h, out_w), mask)
        return out

    def _window_rows(self, maps_block: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
        """maps (B, H, W) -> (B, OH, pool_h, OW*pool_w): the maps cut into rows of windows
        (a view when the windows cover the maps exactly)."""
        kh, kw = self.pool_h, self.pool_w
        return maps_block[:, :out_h * kh, :out_w * kw].reshape(-1, out_h, kh, out_w * kw)

    def _tiles(self, ph: int, pw: int) -> bool:
        """True for max pooling whose windows tile the maps: stride = pool size, no padding."""
        return self.mode == "max" and self.stride == (self.pool_h, self.pool_w) and not (ph or pw)

    def backward(self, dout) -> np.ndarray:
        """dout: (N, C, OH, OW) -> dx: (N, C, H, W)."""
        (cache,) = self._cached("_cache")
        x_shape, x_dtype, x_padded, out, (ph, pw, out_h, out_w), mask = cache
        dout = np.asarray(dout)
        expected = (x_shape[0], x_shape[1], out_h, out_w)
        if dout.shape != expected:
            raise ValueError(f"dout has shape {dout.shape}, forward produced {expected}")
        dtype = np.result_type(dout.dtype, x_dtype)
        if self._tiles(ph, pw):
            return self._max_backward_tiles(x_padded, out, dout, dtype, mask)
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
        if self.mode == "max":
            # The first tap (row-major) equal to the window's max takes the window's whole
            # gradient, so a tie pays once; a NaN window's gradient goes to its last tap.
            hits = [np.equal(x_padded[window_slice], out) for window_slice in offsets]
            _keep_first_hits_in_order(hits)
            for window_slice, hit in zip(offsets, hits):
                deliver(window_slice, dout * hit)
        else:
            share = dout.astype(dtype, copy=False) * dtype.type(1.0 / len(offsets))
            for window_slice in offsets:
                deliver(window_slice, share)
        return dx_padded[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]

    def _max_backward_tiles(self, x, out, dout, dtype, mask) -> np.ndarray:
        """Max backward when the windows tile the input without overlap or padding.

        Same rule as the general path (the first maximum in row-major order takes the
        window's gradient), on whole rows of windows, a block of feature maps at a time: with
        a map viewed as (OH, pool_h, OW*pool_w), `mask` from a training forward (or, after an
        inference forward, `_first_max_mask` now) marks each window's argmax, and one multiply
        with the row-repeated `dout` writes dx contiguously.
        """
        n_images, channels, height, width = x.shape
        out_h, out_w = out.shape[2:]
        kh, kw = self.pool_h, self.pool_w
        n_maps = n_images * channels
        maps = x.reshape(n_maps, height, width)
        out_maps = out.reshape(n_maps, out_h, out_w)
        dout_maps = dout.reshape(n_maps, out_h, out_w)
        covered = (out_h * kh, out_w * kw) == (height, width)
        # Every pixel is written once when the windows cover the input; else zero the rest.
        dx = (np.empty if covered else np.zeros)(x.shape, dtype=dtype)
        dx_maps = dx.reshape(n_maps, height, width)
        for block in _blocks(n_maps, maps.itemsize * height * width):
            if mask is None:
                block_mask = _first_max_mask(self._window_rows(maps[block], out_h, out_w),
                                             out_maps[block], kw)
            else:
                block_mask = mask[block]
            dout_rows = np.repeat(dout_maps[block], kw, axis=2)[:, :, None, :]
            if covered:
                np.multiply(dout_rows, block_mask, out=dx_maps[block].reshape(block_mask.shape))
            else:
                dx_maps[block, :out_h * kh, :out_w * kw] = (dout_rows * block_mask).reshape(
                    -1, out_h * kh, out_w * kw)
        return dx


class GlobalAvgPooling(Layer):
    """Global average pooling (GAP): one number per feature map.

    forward(x): (N, C, H, W) -> (N, C), out[n, c] = (1 / (H*W)) * sum_{i, j} x[n, c, i, j]
    backward(dout): (N, C) -> dx (N, C, H, W), dx[n, c, i, j] = dout[n, c] / (H*W)
    """

    def forward(self, x) -> np.ndarray:
        x = _as_image_batch(x)
        self._x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout) -> np.ndarray:
        (x_shape,) = self._cached("_x_shape")
        dout = np.asarray(dout)
        n_images, channels, height, width = x_shape
        if dout.shape != (n_images, channels):
            raise ValueError(f"dout has shape {dout.shape}, forward produced "
                             f"{(n_images, channels)}")
        share = dout * (1.0 / (height * width))
        return np.broadcast_to(share[:, :, None, None].astype(dout.dtype, copy=False),
                               x_shape).copy()
