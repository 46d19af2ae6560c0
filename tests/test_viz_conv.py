"""The notebook-03 figure builders run under Agg and draw what they claim."""
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids.conv_explain import classic_kernels  # noqa: E402
from cnncourse.viz import conv as vc  # noqa: E402



def _colored_cells(ax, color):
    from matplotlib.colors import to_rgba
    return sum(1 for patch in ax.patches if patch.get_facecolor() == to_rgba(color))


def test_draw_windows_counts_cells():
    fig = vc.draw_windows(5, 3, padding=1, stride=2, window=(1, 2))
    ax = fig.axes[0]
    padded, out = 7, 3
    assert len(ax.patches) == padded * padded + out * out
    assert _colored_cells(ax, vc._WINDOW_COLOR) == 9
    assert _colored_cells(ax, vc._OUTPUT_COLOR) == 1
    # 7*7 - 5*5 padding cells, none inside the highlighted window at (1, 2)? It touches the
    # right padding column: taps 2..4 on rows, 4..6 on columns -> 3 padding cells are blue.
    assert _colored_cells(ax, vc._PAD_COLOR) == 24 - 3
    assert "O=3" in ax.get_title()


def test_draw_windows_dilated_taps_and_bad_window():
    fig = vc.draw_windows(7, 3, dilation=2)
    assert _colored_cells(fig.axes[0], vc._WINDOW_COLOR) == 9
    with pytest.raises(ValueError, match="outside"):
        vc.draw_windows(7, 3, dilation=2, window=(3, 0))
    with pytest.raises(ValueError, match="larger than the padded input"):
        vc.draw_windows(2, 5)


def test_draw_windows_on_given_axes():
    fig, ax = plt.subplots()
    assert vc.draw_windows(4, 2, ax=ax) is fig


def test_plot_sliding_1d_writes_outputs():
    fig = vc.plot_sliding_1d([1, 2, 3, 4], [1, 0, -1], padding=0)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("-> -2") == 2
    flipped = vc.plot_sliding_1d([1, 2, 3, 4], [1, 0, -1], flip=True)
    assert [t.get_text() for t in flipped.axes[0].texts].count("-> 2") == 2
    assert "convolution" in flipped.axes[0].get_title()
    with pytest.raises(ValueError, match="1-D"):
        vc.plot_sliding_1d(np.ones((2, 2)), [1, 0, -1])


def test_sizes_are_keyword_only_and_padding_stride_mean_what_they_say():
    # padding before stride by name everywhere; a positional call is refused, not misread.
    with pytest.raises(TypeError):
        vc.draw_windows(7, 3, 1, 2)
    with pytest.raises(TypeError):
        vc.plot_sliding_1d([1, 2, 3, 4, 5], [1, 1], 2, 1)
    fig = vc.plot_sliding_1d([1, 2, 3, 4, 5], [1, 1], padding=1, stride=2)
    # Padded input 0 1 2 3 4 5 0, windows at 0, 2, 4: sums 1, 5, 9.
    assert [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("->")] == \
        ["-> 1", "-> 5", "-> 9"]


def test_plot_feature_maps_grid():
    maps = np.random.default_rng(0).random((5, 4, 4))
    fig = vc.plot_feature_maps(maps, titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6
    assert sum(1 for ax in fig.axes if ax.images) == 5
    assert fig.axes[4].get_title() == "e"
    with pytest.raises(ValueError, match="titles"):
        vc.plot_feature_maps(maps, titles=["a"])
    with pytest.raises(ValueError, match="at least one"):
        vc.plot_feature_maps([])


def test_plot_filter_grid_one_panel_per_kernel():
    image = np.random.default_rng(1).random((20, 30))
    kernels = classic_kernels()
    fig = vc.plot_filter_grid(image, kernels, ncols=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == len(kernels)
    assert [ax.get_title() for ax in shown] == list(kernels)
    identity = shown[0].images[0].get_array()
    assert np.allclose(identity, image)
    with pytest.raises(ValueError, match="grey"):
        vc.plot_filter_grid(np.zeros((4, 4, 3)), kernels)


def test_plot_shift_demo_title_counts():
    image = np.zeros((8, 8), dtype=int)
    image[2:6, 3:5] = 1
    shifted = np.roll(image, -2, axis=1)
    fig = vc.plot_shift_demo(image, shifted)
    assert len(fig.axes) == 3
    assert "8 ink->paper" in fig.axes[2].get_title()
    assert "8 paper->ink" in fig.axes[2].get_title()
