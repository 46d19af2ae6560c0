"""The notebook-05 pooling router is built from tested logic and reacts to its controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids.pool_explain import POOL_SETTINGS, routing_report, tie_example  # noqa: E402
from cnncourse.widgets.pooling import pooling_router  # noqa: E402


def test_router_reports_the_chosen_window():
    box = pooling_router()
    assert isinstance(box, widgets.VBox)
    assert list(box.setting.options) == list(POOL_SETTINGS)
    assert list(box.map_choice.options) == ["ties"]
    assert routing_report(tie_example(), 2, 2, 2, (0, 0)).splitlines()[1] in box.report.value
    assert (box.row.max, box.col.max) == (2, 2)               # 6x6 map, 2x2/2 -> 3x3 output
    box.row.value, box.col.value = 1, 1
    assert "tie: 3 pixels" in box.report.value


def test_router_clamps_sliders_when_the_setting_shrinks_the_output():
    box = pooling_router()
    box.row.value = box.col.value = 2
    box.setting.value = "3x3, stride 2 (overlapping, AlexNet)"
    assert (box.row.max, box.col.max) == (1, 1) and (box.row.value, box.col.value) == (1, 1)
    assert "rows 2..4, cols 2..4" in box.report.value
    box.every_window.value = True
    assert "every one of the 2x2 output cells" in box.report.value and box.row.disabled
    box.every_window.value = False
    assert not box.row.disabled and "window (1, 1)" in box.report.value


def test_router_switches_maps_and_validates():
    digit = np.arange(64.0).reshape(8, 8)
    box = pooling_router({"ties": tie_example(), "ramp": digit}, upstream=3.0)
    box.map_choice.value = "ramp"
    assert box.row.max == 3
    assert "goes entirely to (1, 1)" in box.report.value and "3 / 4 = 0.75" in box.report.value
    with pytest.raises(ValueError, match="2-D"):
        pooling_router({"bad": np.ones(9)})
    with pytest.raises(ValueError, match="at least 3x3"):
        pooling_router({"tiny": np.ones((2, 2))})
    with pytest.raises(ValueError, match="at least one"):
        pooling_router({})
