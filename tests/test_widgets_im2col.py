"""The notebook-04 im2col explorer is built from tested logic and reacts to its controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cnncourse.viz.im2col as viz_im2col  # noqa: E402
from cnncourse.aids.conv_explain import im2col_example, im2col_row_report  # noqa: E402
from cnncourse.widgets.im2col import im2col_explorer  # noqa: E402


@pytest.fixture
def drawn(monkeypatch):
    """Titles of every figure the explorer draws (the Output widget captures nothing
    outside a kernel, so the drawing function is wrapped instead)."""
    titles = []
    real = viz_im2col.plot_im2col_row

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        titles.append(fig.axes[0].get_title())
        return fig

    monkeypatch.setattr(viz_im2col, "plot_im2col_row", spy)
    return titles


def test_explorer_starts_on_row_0_of_the_default_example(drawn):
    box = im2col_explorer()
    assert isinstance(box, widgets.VBox)
    assert box.children[0] is box.row                        # the first slider is the row
    assert (box.kernel_h.value, box.kernel_w.value, box.stride.value, box.pad.value) == \
        (2, 3, 2, 1)
    assert (box.row.value, box.row.max) == (0, 8)            # 5x6, 2x3, S 2, P 1: 3x3 windows
    expected = im2col_row_report(im2col_example(), 2, 3, 0, stride=2, pad=1)
    assert expected.splitlines()[0] in box.report.value
    assert "8 of the 12 numbers in this row are padding zeros" in box.report.value
    assert len(drawn) == 1 and "(n, i, j) = (0, 0, 0)" in drawn[0]


def test_moving_the_row_changes_text_and_picture(drawn):
    box = im2col_explorer()
    before = box.report.value
    box.row.value = 4
    assert box.report.value != before
    assert "output position (n, i, j) = (0, 1, 1)" in box.report.value
    assert "k=11: x[0,1,2,3]=46" in box.report.value             # 30 + 6*2 + 3 + 1
    assert "0 of the 12 numbers in this row are padding zeros" in box.report.value
    assert len(drawn) == 2 and "(0, 1, 1)" in drawn[-1] and drawn[-1] != drawn[0]
    assert "padded rows 2..3, cols 2..4" in drawn[-1]


def test_settings_clamp_the_row_and_redraw_once(drawn):
    box = im2col_explorer()
    box.stride.value = 1                                       # OH x OW = 6 x 6
    assert box.row.max == 35 and len(drawn) == 2
    box.row.value = 35
    assert "(0, 5, 5)" in box.report.value
    box.kernel_h.value = 4                                     # OH = 5 + 2 - 4 + 1 = 4
    assert (box.row.max, box.row.value) == (23, 23) and len(drawn) == 4
    assert "(0, 3, 5)" in box.report.value and "(0, 3, 5)" in drawn[-1]
    box.pad.value = 0                                          # 2 x 4 windows
    assert (box.row.max, box.row.value) == (7, 7)
    assert "0 of the 24 numbers" in box.report.value and "pad 0, stride 1" in drawn[-1]
    box.stride.value = 3                                       # 1 x 2 windows: (6 - 3)//3 + 1
    assert (box.row.max, box.row.value) == (1, 1)
    assert "(n, i, j) = (0, 0, 1)" in box.report.value


def test_explorer_takes_other_inputs_and_rejects_bad_ones(drawn):
    x = np.arange(1.0, 1 + 2 * 3 * 4).reshape(2, 1, 3, 4) / 4
    box = im2col_explorer(x, kernel_h=3, kernel_w=1, stride=1, pad=0, row=5)
    assert box.kernel_h.max == 3 and box.row.max == 7
    assert "(n, i, j) = (1, 0, 1)" in box.report.value and "=3.5" in box.report.value
    assert "image 1" in box.report.value
    image = im2col_explorer(np.ones((4, 4)), kernel_h=1, kernel_w=1, pad=0, stride=1)
    assert image.row.max == 15
    with pytest.raises(ValueError, match="x must"):
        im2col_explorer(np.ones(5))
    with pytest.raises(ValueError, match="x must have"):
        im2col_explorer(np.ones((1, 1, 9, 4)))
    with pytest.raises(ValueError, match="x must have"):
        im2col_explorer(np.ones((4, 1, 4, 4)))
    with pytest.raises(ValueError, match="real numbers"):
        im2col_explorer(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="kernel_h"):
        im2col_explorer(np.ones((1, 1, 3, 4)), kernel_h=4)
    with pytest.raises(ValueError, match="kernel_w"):
        im2col_explorer(kernel_w=True)
    with pytest.raises(ValueError, match="stride"):
        im2col_explorer(stride=0)
    with pytest.raises(ValueError, match="pad"):
        im2col_explorer(pad=3)
    with pytest.raises(ValueError, match="row"):
        im2col_explorer(row=9)
