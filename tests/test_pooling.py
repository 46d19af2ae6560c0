"""Tests for cnncourse.pooling: loop references, Pooling (max/avg) and GlobalAvgPooling.

References: torch.nn.functional.max_pool2d / avg_pool2d and autograd (float64), central
differences from cnncourse.gradcheck, and small cases by hand.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnncourse import pooling
from cnncourse.gradcheck import check_layer_gradients
from cnncourse.layers import Layer
from cnncourse.pooling import GlobalAvgPooling, Pooling, avg_pool_naive, max_pool_naive

FAST = settings(max_examples=25, deadline=None)


@st.composite
def pool_case(draw):
    """Random valid pooling: x (N,C,H,W), pool (h, w), stride (h, w), pad (h, w)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    # A permutation has no ties, so the argmax (and torch's choice) is unique.
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(np.float64) / 7.0
    return x, (kh, kw), (sh, sw), (ph, pw)


def torch_pool(mode, x, pool, stride, pad, dout=None):
    """Forward output and (when dout is given) dx from torch autograd."""
    x_t = torch.tensor(x, requires_grad=True)
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    out_t = fn(x_t, pool, stride, pad)
    if dout is None:
        return out_t.detach().numpy(), None
    out_t.backward(torch.from_numpy(dout))
    return out_t.detach().numpy(), x_t.grad.numpy()


# ---------------------------------------------------------------------------------------------
# loop references
# ---------------------------------------------------------------------------------------------
def test_naive_pools_by_hand():
    x = np.array([[1.0, 3.0, 2.0, 0.0],
                  [5.0, 4.0, 1.0, 1.0],
                  [0.0, 2.0, 6.0, 8.0],
                  [1.0, 1.0, 7.0, 3.0]]).reshape(1, 1, 4, 4)
    assert np.array_equal(max_pool_naive(x, 2, 2)[0, 0], [[5, 2], [2, 8]])
    assert np.array_equal(avg_pool_naive(x, 2, 2)[0, 0], [[13 / 4, 4 / 4], [4 / 4, 24 / 4]])
    # Overlapping 3x3 windows with stride 1.
    assert np.array_equal(max_pool_naive(x, 3, 3, stride=1)[0, 0], [[6, 8], [7, 8]])


@FAST
@given(case=pool_case(), mode=st.sampled_from(["max", "avg"]))
def test_naive_pools_match_torch(case, mode):
    x, pool, stride, pad = case
    naive = max_pool_naive if mode == "max" else avg_pool_naive
    out = naive(x, pool[0], pool[1], stride, pad)
    ref, _ = torch_pool(mode, x, pool, stride, pad)
    assert out.shape == ref.shape
    assert np.allclose(out, ref, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Pooling layer
# ---------------------------------------------------------------------------------------------
@FAST
@given(case=pool_case(), mode=st.sampled_from(["max", "avg"]))
def test_pooling_forward_and_backward_match_torch(case, mode):
    x, pool, stride, pad = case
    layer = Pooling(pool[0], pool[1], stride, pad, mode)
    out = layer.forward(x)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    ref_out, ref_dx = torch_pool(mode, x, pool, stride, pad, dout)
    assert out.shape == ref_out.shape
    assert np.allclose(out, ref_out, atol=1e-12)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    assert np.allclose(dx, ref_dx, atol=1e-12)


def test_stride_defaults_to_pool_size_and_halves_the_map():
    layer = Pooling(2, 2)
    assert layer.stride == (2, 2)
    out = layer.forward(np.zeros((2, 5, 8, 6)))
    assert out.shape == (2, 5, 4, 3)   # channels unchanged, H and W halved
    assert Pooling(3, 2).stride == (3, 2)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("stride, pad, pool", [(2, 0, (2, 2)), (1, 0, (2, 2)), (2, 1, (3, 3)),
                                               ((1, 2), (1, 0), (2, 3))])
def test_pooling_numerical_gradient(mode, stride, pad, pool):
    # Distinct values 0.1 apart, far more than h, keep the argmax fixed while nudging. Pooling
    # is piecewise linear, so the central difference has no truncation error and a larger h
    # only shrinks the rounding error (eps * |F| / h) that small gradient entries would feel.
    x = np.random.default_rng(9).permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) / 10.0
    layer = Pooling(pool[0], pool[1], stride, pad, mode)
    errors = check_layer_gradients(layer, x, seed=10, h=1e-3)
    assert errors["dx"] < 1e-7, errors


def test_max_backward_routes_to_one_argmax_per_window_on_ties():
    x = np.ones((1, 1, 4, 4))
    layer = Pooling(2, 2)
    out = layer.forward(x)
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    dx = layer.backward(dout)
    # Every window is a four-way tie: the whole gradient goes to its first (top-left) pixel.
    expected = np.zeros((4, 4))
    expected[0::2, 0::2] = dout[0, 0]
    assert np.array_equal(out, np.ones((1, 1, 2, 2)))
    assert np.array_equal(dx[0, 0], expected)
    assert dx.sum() == dout.sum()


@pytest.mark.parametrize("pool, stride", [((2, 2), None), ((3, 2), None), ((2, 3), (2, 3)),
                                          ((1, 1), None), ((3, 3), 2), ((2, 2), (1, 2))])
def test_max_ties_go_to_the_first_maximum_like_torch(pool, stride):
    # Values from {0, 1, 2} make ties in most windows; 7x8 leaves a row and/or column that
    # no window reaches. Torch picks the first maximum in row-major order too.
    x = np.random.default_rng(15).integers(0, 3, size=(2, 3, 7, 8)).astype(np.float64)
    layer = Pooling(pool[0], pool[1], stride=stride)
    out = layer.forward(x)
    dout = np.random.default_rng(16).standard_normal(out.shape)
    ref_out, ref_dx = torch_pool("max", x, pool, stride if stride is not None else pool, 0, dout)
    assert np.array_equal(out, ref_out)
    assert np.allclose(layer.backward(dout), ref_dx, atol=1e-12)


def test_max_backward_on_ties_with_overlapping_windows_counts_each_window_once():
    x = np.zeros((1, 1, 3, 3))
    layer = Pooling(2, 2, stride=1)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    # Four windows, one unit of gradient each, each to its own top-left pixel.
    assert np.array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_backward_sums_when_overlapping_windows_share_the_argmax():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0       # the centre is the maximum of all four 2x2 windows
    layer = Pooling(2, 2, stride=1)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


def test_avg_backward_spreads_and_divides():
    layer = Pooling(2, 3, mode="avg")
    layer.forward(np.random.default_rng(11).standard_normal((1, 1, 4, 6)))
    dout = np.array([[[[6.0, 12.0], [-6.0, 0.0]]]])
    dx = layer.backward(dout)
    assert np.array_equal(dx[0, 0, :2, :3], np.full((2, 3), 1.0))
    assert np.array_equal(dx[0, 0, :2, 3:], np.full((2, 3), 2.0))
    assert np.array_equal(dx[0, 0, 2:, :3], np.full((2, 3), -1.0))
    assert np.array_equal(dx[0, 0, 2:, 3:], np.zeros((2, 3)))


def test_pixels_no_window_reaches_get_zero_gradient():
    for mode in ("max", "avg"):
        layer = Pooling(2, 2, mode=mode)
        out = layer.forward(np.random.default_rng(12).standard_normal((1, 2, 5, 5)))
        dx = layer.backward(np.ones_like(out))
        assert np.array_equal(dx[:, :, 4, :], np.zeros((1, 2, 5)))
        assert np.array_equal(dx[:, :, :, 4], np.zeros((1, 2, 5)))


def test_max_pooling_is_robust_to_a_small_shift():
    # A bright pixel moved by one inside its 2x2 window does not change the pooled map.
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = 1.0
    shifted = np.zeros_like(x)
    shifted[0, 0, 1, 1] = 1.0
    layer = Pooling(2, 2)
    assert np.array_equal(layer.forward(x), layer.forward(shifted))


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("stride", [2, 1])
def test_pooling_keeps_float32(mode, stride):
    x = np.random.default_rng(13).standard_normal((2, 3, 6, 6)).astype(np.float32)
    layer = Pooling(2, 2, stride=stride, mode=mode)
    out = layer.forward(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    ref, _ = torch_pool(mode, x.astype(np.float64), (2, 2), stride, 0)
    assert np.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("maps_per_block", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool, stride", [((2, 2), None), ((3, 2), None), ((2, 4), None),
                                          ((1, 8), None), ((3, 3), 2), ((2, 2), (1, 2))])
def test_blocked_pooling_matches_torch_across_block_boundaries(monkeypatch, maps_per_block,
                                                               dtype, mode, pool, stride,
                                                               training):
    # The layer pools a block of feature maps at a time; with blocks of 1 or 3 of the 10 maps
    # every block boundary (and a short last block) is crossed. Values from {0, 1, 2} tie in
    # most windows, where the first maximum in row-major order takes the gradient, as in torch.
    # A training forward records each window's argmax; after an inference forward, backward
    # finds it again: both must agree with torch.
    x = np.random.default_rng(17).integers(0, 3, size=(2, 5, 9, 16)).astype(dtype)
    monkeypatch.setattr(pooling, "BLOCK_BYTES", maps_per_block * x[0, 0].nbytes)
    layer = Pooling(pool[0], pool[1], stride=stride, mode=mode)
    layer.training = training
    out = layer.forward(x)
    dout = np.random.default_rng(18).standard_normal(out.shape).astype(dtype)
    ref_out, ref_dx = torch_pool(mode, x.astype(np.float64), pool,
                                 stride if stride is not None else pool, 0,
                                 dout.astype(np.float64))
    dx = layer.backward(dout)
    assert out.dtype == dx.dtype == dtype
    assert np.allclose(out, ref_out, atol=1e-6)
    assert np.allclose(dx, ref_dx, atol=1e-6)


@pytest.mark.parametrize("kh", [1, 2, 3])
@pytest.mark.parametrize("kw", [2, 3, 4])
def test_keep_first_hits_in_order_keeps_exactly_the_first_hit(kh, kw):
    # Masks (B, OH, kh, OW*kw) with one to all True per window: only the first True in
    # row-major window order survives (torch's choice among tied maxima).
    rng = np.random.default_rng(kh * 10 + kw)
    mask = rng.random((3, 4, kh, 5 * kw)) < rng.choice([0.1, 0.5, 0.9], size=(3, 4, 1, 1))
    windows = mask.reshape(3, 4, kh, 5, kw)
    first = np.unravel_index(rng.integers(0, kh * kw, size=(3, 4, 5)), (kh, kw))
    windows[np.arange(3)[:, None, None], np.arange(4)[None, :, None], first[0],
            np.arange(5)[None, None, :], first[1]] = True     # at least one hit per window
    original = windows.copy()
    pooling._keep_first_hits_in_order([mask[:, :, a, d::kw] for a in range(kh)
                                       for d in range(kw)])
    kept = mask.reshape(3, 4, kh, 5, kw)
    # Brute force: the first True of each window, reading its rows left to right.
    flat = original.transpose(0, 1, 3, 2, 4).reshape(3, 4, 5, kh * kw)
    expected = np.zeros_like(flat)
    np.put_along_axis(expected, flat.argmax(axis=3)[..., None], True, axis=3)
    assert np.array_equal(kept.transpose(0, 1, 3, 2, 4).reshape(3, 4, 5, kh * kw), expected)


@pytest.mark.parametrize("training", [True, False])
def test_max_backward_sends_a_nan_windows_gradient_to_one_pixel(monkeypatch, training):
    # A NaN makes its window's maximum NaN (as in torch), which equals no pixel: the window's
    # gradient still goes to exactly one pixel, and blocks without NaN are not affected.
    x = np.random.default_rng(19).permutation(4 * 8 * 8).reshape(2, 2, 8, 8).astype(float)
    x[0, 1, 2, 3] = np.nan
    x[1, 0, 5, 4] = x[1, 0, 5, 5] = np.nan
    monkeypatch.setattr(pooling, "BLOCK_BYTES", x[0, 0].nbytes)
    layer = Pooling(2, 2)
    layer.training = training
    out = layer.forward(x)
    assert np.isnan(out[0, 1, 1, 1]) and np.isnan(out[1, 0, 2, 2])
    assert np.isnan(out).sum() == 2
    dout = np.random.default_rng(20).standard_normal(out.shape)
    dx = layer.backward(dout)
    per_window = dx.reshape(2, 2, 4, 2, 4, 2)
    assert np.allclose(per_window.sum(axis=(3, 5)), dout)
    assert ((per_window != 0).sum(axis=(3, 5)) == 1).all()
    clean = ~np.isnan(out)
    _, ref_dx = torch_pool("max", x, (2, 2), (2, 2), 0, dout)
    clean_pixels = np.repeat(np.repeat(clean, 2, axis=2), 2, axis=3)
    assert np.array_equal(dx[clean_pixels], ref_dx[clean_pixels])


@pytest.mark.parametrize("make, x_shape, dout_shape", [
    (lambda: Pooling(2, 2), (1, 1, 4, 4), (1, 1, 2, 2)),
    (lambda: Pooling(3, 3, stride=2, pad=1, mode="avg"), (1, 2, 5, 5), (1, 2, 3, 3)),
    (lambda: GlobalAvgPooling(), (2, 3, 4, 4), (2, 3)),
])
def test_pooling_layers_follow_the_layer_protocol(make, x_shape, dout_shape):
    layer = make()
    # One protocol for every layer: it comes from cnncourse.layers.Layer, not from a copy.
    assert isinstance(layer, Layer)
    assert "training" not in vars(type(layer)) and "_cached" not in vars(type(layer))
    assert layer.param_names == () and layer.training is True
    assert layer.named_params() == {} and layer.named_grads() == {}
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=rf"^{name}\.backward called before forward"):
        layer.backward(np.ones(dout_shape))
    layer.forward(np.ones(x_shape))
    assert layer.backward(np.ones(dout_shape)).shape == x_shape
    assert repr(layer) == f"{name}()"


@pytest.mark.parametrize("make, message", [
    (lambda: Pooling(0, 2), "pool_h must be positive, got 0"),
    (lambda: Pooling(2, 2, stride=0), "stride must be positive, got 0"),
    (lambda: Pooling(2, 2, pad=-1), "pad must be >= 0, got -1"),
    (lambda: Pooling(2, 2, pad=2), r"pad \(2, 2\) must be at most half the pool size \(2, 2\)"),
    (lambda: Pooling(2, 2, mode="min"), r"mode must be one of \('max', 'avg'\), got 'min'"),
])
def test_pooling_rejects_bad_configuration(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: Pooling(2, 2.5), "pool_w must be an integer, got 2.5"),
    (lambda: Pooling(True, 2), "pool_h must be an integer, got True"),
    (lambda: Pooling(2, 2, stride="2"), "stride must be an int or a pair"),
    (lambda: max_pool_naive(np.ones((1, 1, 4, 4)), 2.0, 2), "pool_h must be an integer"),
])
def test_pooling_rejects_non_integers_with_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_pooling_accepts_numpy_integers():
    layer = Pooling(np.int64(2), np.int32(2), stride=(np.uint8(2), 2), pad=np.int64(0))
    assert (layer.pool_h, layer.pool_w, layer.stride, layer.pad) == (2, 2, (2, 2), (0, 0))
    assert all(type(v) is int for v in (layer.pool_h, *layer.stride, *layer.pad))
    assert layer.forward(np.ones((1, 1, 4, 4))).shape == (1, 1, 2, 2)


@pytest.mark.parametrize("x_shape, message", [
    ((3, 4, 4), r"x must be 4-D \(N, C, H, W\), got shape \(3, 4, 4\)"),
    ((1, 1, 1, 4), r"pool window 2x2 is larger than the padded input 1x4"),
])
def test_pooling_forward_rejects_bad_input(x_shape, message):
    with pytest.raises(ValueError, match=message):
        Pooling(2, 2).forward(np.ones(x_shape))
    with pytest.raises(ValueError, match=message):
        max_pool_naive(np.ones(x_shape), 2, 2)
    with pytest.raises(ValueError, match=message):
        avg_pool_naive(np.ones(x_shape), 2, 2)


def test_pooling_backward_checks_dout_and_order():
    layer = Pooling(2, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 1, 2, 2)))
    layer.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(1, 1, 3, 3\), forward produced "
                                         r"\(1, 1, 2, 2\)"):
        layer.backward(np.ones((1, 1, 3, 3)))


# ---------------------------------------------------------------------------------------------
# GlobalAvgPooling
# ---------------------------------------------------------------------------------------------
def test_global_avg_pooling_forward_backward():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 4, 5))
    layer = GlobalAvgPooling()
    out = layer.forward(x)
    assert out.shape == (2, 3)
    assert np.allclose(out, F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()[:, :, 0, 0])
    dout = rng.standard_normal((2, 3))
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    assert np.allclose(dx, np.broadcast_to(dout[:, :, None, None] / 20.0, x.shape))
    assert check_layer_gradients(GlobalAvgPooling(), x)["dx"] < 1e-7


def test_global_avg_pooling_keeps_float32_and_rejects_bad_input():
    layer = GlobalAvgPooling()
    out = layer.forward(np.ones((2, 3, 4, 4), dtype=np.float32))
    assert out.dtype == np.float32
    assert layer.backward(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"dout has shape \(3, 2\), forward produced \(2, 3\)"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        layer.forward(np.ones((3, 4, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        GlobalAvgPooling().backward(np.ones((2, 3)))
