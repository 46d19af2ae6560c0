"""The notebook-02 widget is wired to the tested activation statistics and reacts to controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import pytest  # noqa: E402

from cnncourse.widgets.dnn import INIT_CHOICES, activation_explorer, summary_text  # noqa: E402


def test_summary_text_has_one_line_per_layer():
    text = summary_text("tanh", 0.01, 4, n_samples=100)
    lines = text.splitlines()
    assert len(lines) == 2 + 4 and lines[0].startswith("tanh, weight init 0.01")
    assert lines[-1].strip().endswith("100%")  # layer 4 of a tanh stack with std 0.01: collapsed


def test_explorer_controls_update_the_summary():
    box = activation_explorer("tanh", "std 0.01", depth=3, n_samples=100)
    assert isinstance(box, widgets.VBox)
    assert set(box.controls) == {"activation", "weight_init", "depth"}
    assert list(box.controls["weight_init"].options) == list(INIT_CHOICES)
    assert "weight init 0.01" in box.summary.value and box.summary.value.count("\n") == 4
    box.controls["weight_init"].value = "He sqrt(2/n)"
    box.controls["activation"].value = "relu"
    assert "relu, weight init he" in box.summary.value
    box.controls["depth"].value = 5
    assert box.summary.value.count("\n") == 6


def test_explorer_rejects_bad_start_values():
    with pytest.raises(ValueError, match="activation"):
        activation_explorer("softmax")
    with pytest.raises(ValueError, match="weight_init"):
        activation_explorer("relu", "he")
    with pytest.raises(ValueError, match="depth"):
        activation_explorer("relu", "std 1.0", depth=12)
