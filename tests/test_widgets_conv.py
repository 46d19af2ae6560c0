"""The notebook-03 widgets are built from tested logic and react to their controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids.conv_explain import arithmetic_report, classic_kernels, kernel_to_text  # noqa: E402
from cnncourse.widgets.conv import conv_arithmetic_explorer, filter_explorer  # noqa: E402


def test_arithmetic_explorer_reports_and_updates():
    box = conv_arithmetic_explorer(input_size=5, kernel_size=3, padding=1, stride=2)
    assert isinstance(box, widgets.VBox)
    assert set(box.sliders) == {"input_size", "kernel_size", "padding", "stride", "dilation"}
    assert all(isinstance(s, widgets.IntSlider) for s in box.sliders.values())
    assert "= 3" in box.report.value
    box.sliders["input_size"].value = 6
    assert "floor(5/2) + 1 = 3" in box.report.value
    box.sliders["dilation"].value = 2
    assert arithmetic_report(6, 3, padding=1, stride=2, dilation=2).splitlines()[0] in box.report.value


def test_arithmetic_explorer_shows_invalid_settings():
    box = conv_arithmetic_explorer(input_size=3, kernel_size=3, padding=0, stride=1)
    box.sliders["kernel_size"].value = 5
    assert "invalid" in box.report.value
    box.sliders["padding"].value = 1
    assert "invalid" not in box.report.value


def test_arithmetic_explorer_drops_the_stale_drawing_on_invalid_settings():
    box = conv_arithmetic_explorer(input_size=6, kernel_size=3, padding=1, stride=2)
    # What the front end holds after a valid setting: the figure of the windows.
    figure = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
              "metadata": {}}
    box.drawing.outputs = (figure,)
    box.sliders["kernel_size"].value = 7
    box.sliders["input_size"].value = 2          # K=7 does not fit 2 + 2*1: invalid
    assert "invalid" in box.report.value
    kinds = [out.get("output_type") for out in box.drawing.outputs]
    assert "display_data" not in kinds, "the figure of the previous, valid setting is still shown"
    note = "".join(out.get("text", "") for out in box.drawing.outputs)
    assert note.startswith("no drawing") and "larger than the padded input" in note
    box.sliders["input_size"].value = 9          # valid again: the note goes away
    assert "invalid" not in box.report.value
    assert not any("no drawing" in out.get("text", "") for out in box.drawing.outputs)


def test_filter_explorer_switches_kernels():
    image = np.random.default_rng(0).random((16, 20))
    box = filter_explorer(image)
    assert isinstance(box, widgets.VBox)
    assert list(box.dropdown.options) == list(classic_kernels())
    box.dropdown.value = "sobel_horizontal"
    expected = kernel_to_text(classic_kernels()["sobel_horizontal"])
    assert expected.splitlines()[0].strip() in box.kernel_text.value
    box.mode.value = "zero"
    assert box.mode.value == "zero"


def test_filter_explorer_custom_kernels_and_errors():
    box = filter_explorer(np.zeros((8, 8)), {"mine": np.ones((5, 5)) / 25})
    assert list(box.dropdown.options) == ["mine"]
    with pytest.raises(ValueError, match="grey"):
        filter_explorer(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="at least one"):
        filter_explorer(np.zeros((8, 8)), {})
