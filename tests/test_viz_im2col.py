"""The notebook-04 figures (cnncourse.viz.im2col) run under Agg and draw what they claim."""
from __future__ import annotations

import numpy as np
import pytest


import matplotlib.pyplot as plt  # noqa: E402

from cnncourse.conv import col2im, im2col  # noqa: E402
from cnncourse.viz import im2col as vi  # noqa: E402



def test_window_colors_are_distinct_and_bounded():
    colors = vi.window_colors(20)
    assert len(set(colors)) == 20 and all(len(c) == 4 for c in colors)
    assert vi.window_colors(3) == colors[:3]
    for bad in (0, 21):
        with pytest.raises(ValueError, match="1 to 20"):
            vi.window_colors(bad)


@pytest.mark.parametrize("channels, kh, kw, oh, ow", [(1, 3, 3, 2, 2), (2, 3, 2, 3, 4),
                                                      (3, 1, 4, 1, 5)])
def test_tap_index_map_matches_the_real_layouts(channels, kh, kw, oh, ow):
    # Feed an image whose pixels all equal 1 and mark each tap by a one-hot kernel position:
    # the classic map must agree with where cnncourse.conv.im2col puts tap (a, d).
    classic = vi.tap_index_map("classic", channels, kh, kw, oh, ow)
    tap_major = vi.tap_index_map("tap_major", channels, kh, kw, oh, ow)
    assert classic.shape == (oh * ow, channels * kh * kw)
    assert tap_major.shape == (kh * kw * channels, oh * ow)
    x = np.random.default_rng(0).normal(size=(1, channels, oh + kh - 1, ow + kw - 1))
    col = im2col(x, kh, kw)                                   # (OH*OW, C*KH*KW)
    for a in range(kh):
        for d in range(kw):
            t = a * kw + d
            expected = x[0, :, a:a + oh, d:d + ow].reshape(channels, -1)   # (C, OH*OW)
            assert np.allclose(col[classic == t].reshape(oh * ow, channels).T, expected)
            # tap-major: the same numbers, one contiguous block of rows (c) x windows
            rows = np.flatnonzero(tap_major[:, 0] == t)
            assert np.array_equal(rows, np.arange(t * channels, (t + 1) * channels))
            flat = np.flatnonzero(tap_major.reshape(-1) == t)
            assert flat.size == channels * oh * ow and np.all(np.diff(flat) == 1)
    # classic: a tap's numbers are KH*KW apart (one per channel in every row), never adjacent
    classic_positions = np.flatnonzero(classic.reshape(-1) == 0)
    assert classic_positions.size == channels * oh * ow
    assert np.all(np.diff(classic_positions) == kh * kw)


def test_tap_index_map_rejects_bad_input():
    with pytest.raises(ValueError, match="layout"):
        vi.tap_index_map("rows", 1, 3, 3, 2, 2)
    with pytest.raises(ValueError, match="kernel_w"):
        vi.tap_index_map("classic", 1, 3, 0, 2, 2)
    with pytest.raises(ValueError, match="channels"):
        vi.tap_index_map("classic", True, 3, 3, 2, 2)


def test_plot_im2col_writes_every_value_and_one_outline_per_window():
    image = np.arange(1, 21).reshape(4, 5)
    fig = vi.plot_im2col(image, 3, 2, stride=2, pad=1)
    ax_in, ax_col = fig.axes
    col = im2col(image[None, None], 3, 2, stride=2, pad=1)
    # input panel: (4+2)*(5+2) cells plus one unfilled outline per window
    outlines = [p for p in ax_in.patches if not p.get_fill()]
    assert len(outlines) == col.shape[0] == 6
    assert len(ax_in.patches) == 6 * 7 + 6
    col_texts = [t.get_text() for t in ax_col.texts]
    values = [f"{v:g}" for v in col.reshape(-1)]
    for value in set(values):
        assert col_texts.count(value) >= values.count(value)
    assert "5: (1,2)" in col_texts and "6 rows" in ax_col.get_title()


def test_plot_im2col_channels_and_limits():
    fig = vi.plot_im2col(np.arange(24).reshape(2, 3, 4), 2, 2)
    labels = [t.get_text() for t in fig.axes[1].texts]
    assert "1,1,0" in labels and "channel 1" in [t.get_text() for t in fig.axes[0].texts]
    with pytest.raises(ValueError, match="too many"):
        vi.plot_im2col(np.zeros((8, 8)), 3, 3)
    with pytest.raises(ValueError, match="shape"):
        vi.plot_im2col(np.zeros((1, 1, 4, 4)), 3, 3)


def test_plot_overlap_counts_annotates_each_pixel():
    col = im2col(np.ones((1, 1, 5, 4)), 3, 3, pad=1)
    counts = col2im(np.ones_like(col), (1, 1, 5, 4), 3, 3, pad=1)[0, 0]
    fig = vi.plot_overlap_counts(counts, title="coverage")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 20 and texts.count("9") == 3 * 2 and texts.count("4") == 4
    assert fig.axes[0].get_title() == "coverage"
    with pytest.raises(ValueError, match="2-D"):
        vi.plot_overlap_counts(np.ones(3))


def test_plot_col_layouts_reports_runs():
    fig = vi.plot_col_layouts(2, 3, 3, 4, 4, tap=(1, 1))
    titles = [ax.get_title() for ax in fig.axes]
    assert any("32 numbers in 32 contiguous run(s)" in t for t in titles)
    assert any("32 numbers in 1 contiguous run(s)" in t for t in titles)
    with pytest.raises(ValueError, match="outside"):
        vi.plot_col_layouts(1, 3, 3, 2, 2, tap=(3, 0))


def test_plot_timing_ratios_labels_bars():
    fig = vi.plot_timing_ratios({"loops": 8054.5, "torch": 1.0, "mine": 3.5}, "torch")
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    assert {t.get_text() for t in ax.texts} == {"8,054x", "1x", "3.5x"}
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="positive"):
        vi.plot_timing_ratios({"a": 0.0}, "a")
    with pytest.raises(ValueError, match="at least one"):
        vi.plot_timing_ratios({}, "a")


def test_shown_rows_keep_the_chosen_row_central_and_inside():
    assert vi.shown_rows(5, 3) == range(0, 5)                    # everything fits
    assert vi.shown_rows(20, 10, 7) == range(7, 14)
    assert vi.shown_rows(20, 1, 7) == range(0, 7)
    assert vi.shown_rows(20, 19, 7) == range(13, 20)
    assert vi.shown_rows(20, 10, 4) == range(8, 12) and 10 in vi.shown_rows(20, 10, 4)
    for bad_row in (-1, 20):
        with pytest.raises(ValueError, match="row"):
            vi.shown_rows(20, bad_row)
    with pytest.raises(ValueError, match="max_rows"):
        vi.shown_rows(20, 3, 0)


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_plot_im2col_row_highlights_the_row_and_its_window():
    from cnncourse.aids.conv_explain import im2col_example

    x = im2col_example()
    fig = vi.plot_im2col_row(x, 2, 3, 2, stride=2, pad=1)
    ax_in, ax_col = fig.axes
    assert "(n, i, j) = (0, 0, 2)" in ax_in.get_title()
    assert "padded rows 0..1, cols 4..6" in ax_in.get_title()
    assert "9 rows (n, i, j) x 12 columns" in ax_col.get_title()
    # input: 2 channels of 7x8 padded cells, 12 tinted tap cells (6 of them hatched), 2 outlines
    hatched = [p for p in ax_in.patches if p.get_hatch()]
    outlines = [p for p in ax_in.patches if not p.get_fill()]
    assert len(hatched) == 6 and len(outlines) == 2
    assert len(ax_in.patches) == 2 * 7 * 8 + 12 + 2
    assert all(outline.get_width() == 3 and outline.get_height() == 2 for outline in outlines)
    assert [str(k) for k in range(12)] == [t for t in _texts(ax_in) if t.isdigit()][-12:]
    # matrix: 7 of the 9 rows drawn (max_rows=7), each labelled r: (n,i,j)
    labels = [t for t in _texts(ax_col) if ": (" in t]
    assert labels == [f"{r}: (0,{r // 3},{r % 3})" for r in range(7)]
    assert any("rows 7..8 below" in t for t in _texts(ax_col))
    col = im2col(x, 2, 3, stride=2, pad=1)
    values = _texts(ax_col)
    for value in col[2]:
        assert f"{value:g}" in values
    assert len([p for p in ax_col.patches if p.get_hatch()]) == 6    # the row's padding zeros


def test_plot_im2col_row_moves_with_the_row_and_takes_any_image_shape():
    x = np.arange(1, 41).reshape(2, 1, 4, 5)
    late = vi.plot_im2col_row(x, 1, 1, 25)
    assert "(n, i, j) = (1, 1, 0)" in late.axes[0].get_title()
    assert "image 1, channel 0" in _texts(late.axes[0])
    labels = [t for t in _texts(late.axes[1]) if ": (" in t]
    assert labels[0] == "22: (1,0,2)" and labels[-1] == "28: (1,1,3)"
    early = vi.plot_im2col_row(x, 1, 1, 0)
    assert early.axes[0].get_title() != late.axes[0].get_title()
    one_image = vi.plot_im2col_row(np.arange(1, 13).reshape(3, 4), 2, 2, 5, max_rows=3)
    assert [t for t in _texts(one_image.axes[1]) if ": (" in t] == ["3: (0,1,0)", "4: (0,1,1)",
                                                                      "5: (0,1,2)"]
    with pytest.raises(ValueError, match="shape"):
        vi.plot_im2col_row(np.zeros(5), 1, 1, 0)
    with pytest.raises(ValueError, match="row must be below 12"):
        vi.plot_im2col_row(np.zeros((1, 1, 4, 5)), 2, 2, 12)
    plt.close("all")
