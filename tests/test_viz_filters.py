"""cnncourse.viz.filters: the grids hold the right values in the right places; the figures draw
them with the promised colour scales."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.viz import filters as vf  # noqa: E402


def test_kernel_grid_places_every_kernel_with_nan_gaps():
    weights = np.arange(5 * 1 * 2 * 2, dtype=float).reshape(5, 1, 2, 2)
    grid = vf.kernel_grid(weights, ncols=3, pad=1)
    assert grid.shape == (2 * 2 + 1, 3 * 2 + 2)
    np.testing.assert_array_equal(grid[0:2, 0:2], weights[0, 0])
    np.testing.assert_array_equal(grid[0:2, 6:8], weights[2, 0])
    np.testing.assert_array_equal(grid[3:5, 3:5], weights[4, 0])
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 2]).all()
    assert np.isnan(grid[3:5, 6:8]).all()                       # the empty sixth tile
    assert np.count_nonzero(~np.isnan(grid)) == weights.size


def test_kernel_grid_default_is_square_and_accepts_3d():
    weights = np.random.default_rng(0).normal(size=(16, 3, 3))
    grid = vf.kernel_grid(weights)
    assert grid.shape == (4 * 4 - 1, 4 * 4 - 1)
    assert vf.kernel_grid(weights[:, None]).shape == grid.shape
    assert vf.kernel_grid(weights, ncols=20).shape == (3, 16 * 4 - 1)   # at most F per row


def test_kernel_grid_multichannel_rows_are_kernels():
    weights = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    grid = vf.kernel_grid(weights, pad=0)
    assert grid.shape == (2 * 2, 3 * 2)
    np.testing.assert_array_equal(grid[2:4, 2:4], weights[1, 1])


def test_map_grid_scales_each_map_and_keeps_zero_maps():
    maps = np.zeros((3, 2, 2))
    maps[0] = [[0, 2], [4, 1]]
    maps[2] = [[-3, 0], [1.5, 0]]
    grid = vf.map_grid(maps, ncols=3, pad=0)
    np.testing.assert_allclose(grid[:, 0:2], maps[0] / 4)
    np.testing.assert_array_equal(grid[:, 2:4], 0.0)            # 0 everywhere stays 0, no NaN
    np.testing.assert_allclose(grid[:, 4:6], maps[2] / 3)
    assert np.nanmax(np.abs(grid)) == 1.0


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.zeros((0, 1, 3, 3)), np.zeros((1, 1, 1, 3, 3))])
def test_kernel_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="weights must be"):
        vf.kernel_grid(bad)


def test_layout_arguments_are_checked():
    with pytest.raises(ValueError, match="ncols"):
        vf.kernel_grid(np.zeros((2, 3, 3)), ncols=0)
    with pytest.raises(ValueError, match="ncols"):
        vf.map_grid(np.zeros((2, 3, 3)), ncols=True)
    with pytest.raises(ValueError, match="pad"):
        vf.map_grid(np.zeros((2, 3, 3)), pad=-1)
    with pytest.raises(ValueError, match="maps must be"):
        vf.map_grid(np.zeros((3, 3)))


def test_plot_kernels_before_after_shares_one_symmetric_scale():
    before = np.full((4, 1, 3, 3), 0.1)
    after = before.copy()
    after[0, 0, 0, 0] = -2.0
    fig = vf.plot_kernels_before_after(before, after)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    for image in images:
        assert image.get_clim() == (-2.0, 2.0)
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["before training", "after training"]
    assert len(fig.axes) == 3                                   # two panels and one colour bar
    with pytest.raises(ValueError, match="one shape"):
        vf.plot_kernels_before_after(before, after[:3])


def test_plot_kernels_on_given_axes_and_zero_weights():
    fig, ax = plt.subplots()
    assert vf.plot_kernels(np.zeros((2, 1, 3, 3)), ax=ax, title="w", colorbar=False) is ax
    assert ax.images[0].get_clim() == (-1.0, 1.0)               # all zero: a unit scale
    assert ax.get_title() == "w" and len(fig.axes) == 1


def test_plot_maps_before_after_panels():
    image = np.random.default_rng(1).random((1, 8, 8))
    before = np.random.default_rng(2).random((16, 8, 8))
    fig = vf.plot_maps_before_after(image, before, before * 3)
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "input" and titles[1].startswith("before training: 16 maps 8x8")
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), image[0])
    np.testing.assert_allclose(np.asarray(fig.axes[1].images[0].get_array()),
                               np.asarray(fig.axes[2].images[0].get_array()))   # per-map scaling
    assert fig.axes[1].images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="image must be"):
        vf.plot_maps_before_after(np.zeros((2, 8, 8)), before, before)
    with pytest.raises(ValueError, match="one shape"):
        vf.plot_maps_before_after(image, before, before[:2])


# --- plot_feature_map_stages (notebook 06's feature-map browser) ----------------------------
def _stages():
    rng = np.random.default_rng(6)
    conv = rng.normal(size=(6, 6))
    conv[0, 0] = -3.0                                  # the largest |value|: negative
    relu = np.maximum(conv, 0)
    pool = relu.reshape(3, 2, 3, 2).max(axis=(1, 3))
    return rng.random((1, 6, 6)), rng.normal(size=(1, 3, 3)), conv, relu, pool


def test_feature_map_stages_draws_each_stage_on_one_colour_limit():
    image, kernel, conv, relu, pool = _stages()
    fig = vf.plot_feature_map_stages(image, kernel, conv, relu, pool, kernel_limit=2.5,
                                     title="digit #3")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["input 6x6", "kernel 3x3", "after conv 6x6",
                                                 "after ReLU 6x6", "after pool 3x3"]
    pictures = [ax.images[0] for ax in panels]
    np.testing.assert_array_equal(pictures[0].get_array(), image[0])
    np.testing.assert_array_equal(pictures[1].get_array(), kernel[0])
    assert pictures[1].get_clim() == (-2.5, 2.5)                      # the given kernel limit
    for picture, values in zip(pictures[2:], (conv, relu, pool)):
        np.testing.assert_array_equal(picture.get_array(), values)
    assert pictures[2].get_clim() == (-3.0, 3.0)                      # centred at 0
    assert pictures[3].get_clim() == pictures[4].get_clim() == (0.0, 3.0)
    assert fig._suptitle.get_text() == "digit #3"
    plt.close(fig)


def test_feature_map_stages_defaults_and_zero_maps():
    image, kernel, _, _, _ = _stages()
    zeros = np.zeros((4, 4))
    fig = vf.plot_feature_map_stages(image[0], kernel[0], zeros, zeros, zeros[:2, :2])
    panels = [ax for ax in fig.axes if ax.get_title()]
    limit = np.abs(kernel).max()
    assert panels[1].images[0].get_clim() == pytest.approx((-limit, limit))  # kernel's own peak
    assert panels[2].images[0].get_clim() == (-1.0, 1.0)              # all 0: limit 1
    assert fig._suptitle is None
    plt.close(fig)
    rgb = np.random.default_rng(0).random((3, 5, 5))
    fig = vf.plot_feature_map_stages(rgb, np.ones((3, 2, 2)), zeros, zeros, zeros)
    assert fig.axes[0].images[0].get_array().shape == (5, 5, 3)
    assert fig.axes[1].get_title() == "kernel 2x2"
    plt.close(fig)


def test_feature_map_stages_rejects_bad_shapes():
    image, kernel, conv, relu, pool = _stages()
    open_before = len(plt.get_fignums())
    with pytest.raises(ValueError, match="image must be"):
        vf.plot_feature_map_stages(np.zeros((2, 6, 6)), kernel, conv, relu, pool)
    with pytest.raises(ValueError, match="kernel must be"):
        vf.plot_feature_map_stages(image, np.zeros(3), conv, relu, pool)
    with pytest.raises(ValueError, match="pool_map must be a non-empty 2-D map"):
        vf.plot_feature_map_stages(image, kernel, conv, relu, pool[None])
    with pytest.raises(ValueError, match="conv_map .* and relu_map .* one shape"):
        vf.plot_feature_map_stages(image, kernel, conv, relu[:5], pool)
    assert len(plt.get_fignums()) == open_before                      # checked before drawing
