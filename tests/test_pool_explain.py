"""Tests for cnncourse.aids.pool_explain: the logic behind notebook 05's figures and router."""
import numpy as np
import pytest

from cnncourse.aids import pool_explain as pe
from cnncourse.conv import Convolution
from cnncourse.pooling import Pooling


def _first_argmax_routing(x, pool_h, pool_w, stride, window):
    """Independent reference: np.argmax on the flattened window is the first maximum in
    row-major order."""
    rows, cols = pe.window_slices(window, pool_h, pool_w, stride)
    dx = np.zeros_like(x, dtype=float)
    a, b = np.unravel_index(np.argmax(x[rows, cols]), (pool_h, pool_w))
    dx[rows.start + a, cols.start + b] = 1.0
    return dx


def test_tie_example_is_fresh_and_has_ties():
    first = pe.tie_example()
    assert first.shape == (6, 6) and first.dtype == np.float64
    first[0, 0] = 99
    assert pe.tie_example()[0, 0] == 1
    x = pe.tie_example()
    assert len(pe.describe_window(x, 2, 2, None, (0, 2))["maxima"]) == 4
    assert len(pe.describe_window(x, 2, 2, None, (1, 1))["maxima"]) == 3


def test_window_slices_follow_the_stride():
    assert pe.window_slices((1, 2), 3, 3, 2) == (slice(2, 5), slice(4, 7))
    assert pe.window_slices((1, 1), 2, 3) == (slice(2, 4), slice(3, 6))   # stride = pool size
    with pytest.raises(ValueError, match="window"):
        pe.window_slices((-1, 0), 2, 2)
    with pytest.raises(TypeError, match="stride"):
        pe.window_slices((0, 0), 2, 2, 1.5)


def test_route_gradient_max_goes_to_first_maximum_only():
    x = pe.tie_example()
    rng = np.random.default_rng(0)
    for pool, stride in [(2, 2), (3, 2), (2, 1), (3, 3)]:
        out_h = (6 - pool) // stride + 1
        for window in [(0, 0), (out_h - 1, out_h - 1), (0, out_h - 1)]:
            upstream = float(rng.normal())
            got = pe.route_gradient(x, pool, pool, stride, "max", window, upstream)
            assert got.shape == (6, 6) and got.dtype == np.float64
            assert np.count_nonzero(got) == 1            # ties never double-count
            expected = upstream * _first_argmax_routing(x, pool, pool, stride, window)
            assert np.allclose(got, expected), (pool, stride, window)


def test_route_gradient_avg_spreads_evenly_and_sums_overlaps():
    x = pe.tie_example()
    dx = pe.route_gradient(x, 3, 3, 2, "avg", (1, 0), upstream=2.0)
    assert np.isclose(dx.sum(), 2.0)
    assert np.allclose(dx[2:5, 0:3], 2.0 / 9) and np.count_nonzero(dx) == 9
    every = pe.route_gradient(x, 3, 3, 2, "avg", None)
    assert np.allclose(every * 9, pe.coverage_counts(6, 6, 3, 3, 2))
    every_max = pe.route_gradient(x, 3, 3, 2, "max", None)
    assert np.isclose(every_max.sum(), 4.0)              # one unit per window, 2x2 windows
    assert every_max[2, 2] == 3.0                        # the 5 at (2, 2) wins three windows


def test_route_gradient_validates():
    x = pe.tie_example()
    with pytest.raises(ValueError, match="mode"):
        pe.route_gradient(x, 2, 2, mode="median")
    with pytest.raises(ValueError, match="outside"):
        pe.route_gradient(x, 2, 2, window=(3, 0))
    with pytest.raises(ValueError, match="2-D"):
        pe.route_gradient(x[None], 2, 2)
    # integer maps are accepted and routed as floats
    assert pe.route_gradient(x.astype(int), 2, 2).dtype == np.float64


def test_coverage_counts():
    counts = pe.coverage_counts(7, 7, 3, 3, 2)
    assert counts.dtype.kind == "i" and counts.max() == 4 and counts.min() == 1
    assert counts.sum() == 9 * 9                          # 3x3 windows of 9 pixels
    tiles = pe.coverage_counts(5, 4, 2, 2)
    assert tiles[:4].tolist() == [[1] * 4] * 4 and tiles[4].tolist() == [0] * 4   # odd height


def test_describe_window_and_report():
    x = pe.tie_example()
    info = pe.describe_window(x, 2, 2, None, (0, 0))
    assert info["maxima"] == [(0, 1), (1, 1)] and info["winner"] == (0, 1)
    assert info["max"] == 3.0 and np.isclose(info["mean"], 2.25) and info["share"] == 0.25
    assert info["values"].shape == (2, 2)
    info["values"][0, 0] = 100                            # a copy, not a view of x
    assert x[0, 0] == 1
    text = pe.routing_report(x, 2, 2, None, (0, 0), upstream=0.5)
    assert "(0, 1)" in text and "tie: 2 pixels" in text and "0.5 / 4 = 0.125" in text
    no_tie = pe.routing_report(x, 2, 2, None, (0, 1))
    assert "tie" not in no_tie
    with pytest.raises(ValueError, match="outside"):
        pe.describe_window(x, 3, 3, 2, (2, 0))


def test_changed_fraction_and_relative_change():
    before = np.array([[[0.0, 1.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    after = np.array([[[0.0, 1.0], [0.0, 3.0]], [[0.0, 0.0], [0.0, 0.0]]])
    assert np.allclose(pe.changed_fraction(before, after), [2 / 3, 0.0])
    rel = pe.relative_change(before[:1], after[:1])
    assert np.allclose(rel, [np.sqrt(4 + 9) / np.sqrt(5)])
    with pytest.raises(ValueError, match="nonzero"):
        pe.relative_change(before, after)
    with pytest.raises(ValueError, match="one shape"):
        pe.changed_fraction(before, after[:, :1])


def test_shift_study_identity_vs_pooling():
    images = np.zeros((2, 8, 8))
    images[0, 2:6, 3] = 1.0                               # a vertical bar
    images[1, 4, 1:6] = 1.0                               # a horizontal bar
    pipelines = {"input": lambda b: b,
                 "max 2x2": lambda b: Pooling(2, 2).forward(b)}
    results = pe.shift_study(images, pipelines, shifts=[(0, 1), (1, 0)])
    assert set(results) == {"input", "max 2x2"}
    for values in results.values():
        assert values["changed"].shape == (4,) and values["relative"].shape == (4,)
    # Cases are shift-major: [bar 1 right, bar 2 right, bar 1 down, bar 2 down].
    # The vertical bar moving right (column 3 -> 4) changes every inked pixel of the input,
    # and it crosses a window border, so every pooled value changes too.
    assert results["input"]["changed"][0] == 1.0 and results["max 2x2"]["changed"][0] == 1.0
    # Moving it down one row (rows 2-5 -> 3-6) changes 2 of 5 inked inputs but only 1 of the
    # 3 pooled values: rows 2-3 and 4-5 are still covered.
    assert np.isclose(results["input"]["changed"][2], 2 / 5)
    assert np.isclose(results["max 2x2"]["changed"][2], 1 / 3)
    with pytest.raises(ValueError, match="pipeline"):
        pe.shift_study(images, {})
    with pytest.raises(ValueError, match="shift"):
        pe.shift_study(images, pipelines, shifts=[])


def test_space_to_depth_round_trip_with_the_library_convolution():
    kernels = pe.space_to_depth_kernels(2)
    assert kernels.shape == (4, 1, 2, 2) and kernels.sum() == 4
    images = np.random.default_rng(1).random((3, 1, 6, 8))
    packed = Convolution(kernels, np.zeros(4), stride=2).forward(images)
    assert packed.shape == (3, 4, 3, 4)
    assert np.allclose(pe.depth_to_space(packed, 2), images)
    with pytest.raises(ValueError, match="maps must be"):
        pe.depth_to_space(packed, 3)


def test_upsample_nearest():
    up = pe.upsample_nearest(np.array([[1, 2], [3, 4]]), 2)
    assert up.tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert pe.upsample_nearest(np.ones((2, 1, 3, 3)), 3).shape == (2, 1, 9, 9)
    with pytest.raises(ValueError, match="spatial"):
        pe.upsample_nearest(np.ones(3), 2)


def test_pool_settings_are_valid_geometries():
    for label, (pool_h, pool_w, stride) in pe.POOL_SETTINGS.items():
        assert pool_h >= 1 and pool_w >= 1 and stride >= 1, label
        pe.route_gradient(pe.tie_example(), pool_h, pool_w, stride)   # fits the 6x6 example
