"""Tests for the case-study explorer: the plain logic (`cnncourse.aids.model_explorer`) and the
ipywidgets wiring (`cnncourse.widgets.models`)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from cnncourse.aids.model_explorer import (cumulative_params, explorer_view, format_count,
                                           format_row, output_values, param_share,
                                           params_by_kind, row_at, total_params)
from cnncourse.aids.summary import SummaryRow
from cnncourse.widgets.models import cumulative_bar_html, layer_explorer


def _rows(layers):
    """SummaryRows from (name, type, kind, output_shape, params) tuples."""
    return [SummaryRow(name, type_, shape, params, params, kind)
            for name, type_, kind, shape, params in layers]


# AlexNet's conv and FC layers (paper version with groups), counted by hand in notebook 07.
ALEXNET = _rows([
    ("conv1", "Conv2d", "conv", (96, 55, 55), 34_944), ("pool1", "MaxPool2d", "pool", (96, 27, 27), 0),
    ("conv2", "Conv2d", "conv", (256, 27, 27), 307_456), ("conv3", "Conv2d", "conv", (384, 13, 13), 885_120),
    ("conv4", "Conv2d", "conv", (384, 13, 13), 663_936), ("conv5", "Conv2d", "conv", (256, 13, 13), 442_624),
    ("fc6", "Linear", "fc", (4096,), 37_752_832), ("fc7", "Linear", "fc", (4096,), 16_781_312),
    ("fc8", "Linear", "fc", (1000,), 4_097_000)])


def test_cumulative_params_running_total():
    assert cumulative_params([3, 0, 4, 10]) == [3, 3, 7, 17]
    assert cumulative_params([]) == []


def test_cumulative_params_of_rows():
    totals = cumulative_params(ALEXNET)
    assert totals[5] == 2_334_080  # conv total of the grouped AlexNet
    assert totals[-1] == total_params(ALEXNET) == 60_965_224


def test_cumulative_params_rejects_negative_counts():
    with pytest.raises(ValueError, match=r"params\[1\] = -2"):
        cumulative_params([1, -2])


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=30))
def test_cumulative_params_is_monotone_and_ends_at_sum(counts):
    totals = cumulative_params(counts)
    assert len(totals) == len(counts)
    assert all(b - a == c for a, b, c in zip([0] + totals, totals, counts))
    if counts:
        assert totals[-1] == sum(counts)


def test_params_by_kind_and_share():
    assert params_by_kind(ALEXNET) == {"conv": 2_334_080, "fc": 58_631_144}
    assert param_share(ALEXNET, "fc") == pytest.approx(58_631_144 / 60_965_224)
    assert param_share(ALEXNET, ("fc", "conv")) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no parameters"):
        param_share(_rows([("relu", "ReLU", "act", (4,), 0)]), "fc")


def test_row_at_names_the_valid_range():
    assert row_at(ALEXNET, 6).name == "fc6"
    with pytest.raises(IndexError, match=r"outside 0\.\.8"):
        row_at(ALEXNET, 9)
    with pytest.raises(ValueError, match="empty"):
        row_at([], 0)


def test_output_values():
    assert output_values((96, 55, 55)) == 290_400
    assert output_values((10,)) == 10 and output_values(()) == 1
    assert output_values(((10,), (3, 2))) == 16   # a layer with two outputs


def test_formatting():
    assert format_count(60965224) == "60,965,224"
    text = format_row(ALEXNET, 6)
    assert text.startswith("[6] fc6 (Linear): output 4096,")
    assert "37,752,832 params" in text
    assert "cumulative 40,086,912" in text and "65.8%" in text
    assert "output (96, 55, 55)" in format_row(ALEXNET, 0)


def test_explorer_view_values():
    view = explorer_view(ALEXNET, 0)
    assert view["neurons"] == 290_400 and view["cumulative"] == 34_944
    assert view["fraction"] == pytest.approx(34_944 / 60_965_224)
    assert view["layer_fraction"] == pytest.approx(view["fraction"])
    assert view["position"] == "layer 1 of 9"
    last = explorer_view(ALEXNET, 8)
    assert last["fraction"] == 1.0 and last["neurons"] == 1000
    assert explorer_view(_rows([("x", "Foo", "other", (), 5)]), 0)["neurons"] == 1


# --- layer_rows walks real torch models -------------------------------------------------

torch = pytest.importorskip("torch")
nn = torch.nn


def _lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(),
                         nn.Flatten(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def test_layer_rows_lenet5_shapes_and_params():
    from cnncourse.aids.model_explorer import layer_rows

    rows = layer_rows(_lenet5(), (1, 32, 32))
    assert len(rows) == 12 and all(isinstance(r, SummaryRow) for r in rows)
    assert [r.output_shape for r in rows if r.kind == "conv"] == [(6, 28, 28), (16, 10, 10),
                                                                  (120, 1, 1)]
    assert [r.kind for r in rows[:3]] == ["conv", "act", "pool"]
    assert [r.params for r in rows if r.params] == [156, 2416, 48120, 10164, 850]
    assert cumulative_params(rows)[-1] == 61_706
    assert params_by_kind(rows) == {"conv": 156 + 2416 + 48120, "fc": 10164 + 850}
    assert rows[-1].output_shape == (10,)


def test_layer_rows_on_meta_device_allocates_nothing_and_restores_mode():
    from cnncourse.aids.model_explorer import layer_rows

    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Dropout(),
                              nn.Flatten(), nn.Linear(64 * 8 * 8, 10))
    model.train()
    rows = layer_rows(model, (3, 8, 8))
    assert model.training, "layer_rows must put the model back into training mode"
    assert rows[0].output_shape == (64, 8, 8)
    assert cumulative_params(rows)[-1] == sum(p.numel() for p in model.parameters()) == 1792 + 40970


class _SharedReluBlock(nn.Module):
    """A block that calls one ReLU twice and owns a parameter next to its children."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.relu = nn.ReLU()
        self.scale = nn.Parameter(torch.ones(2, 1, 1))

    def forward(self, x):
        return self.relu(self.scale * self.relu(self.conv(x)) + x)


def test_layer_rows_shared_module_and_direct_parameters():
    from cnncourse.aids.model_explorer import layer_rows

    model = nn.Sequential(_SharedReluBlock(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    rows = layer_rows(model, (2, 4, 4))
    names = [r.name for r in rows]
    assert names.count("0.relu") == 2, names
    assert "0" in names, "a module owning parameters directly needs its own row"
    assert dict((r.name, r.params) for r in rows if r.params) == {"0.conv": 38, "0": 2, "2": 99}
    assert cumulative_params(rows)[-1] == sum(p.numel() for p in model.parameters())


def test_layer_rows_rejects_bad_input_size():
    from cnncourse.aids.model_explorer import layer_rows

    with pytest.raises(ValueError, match="input_size"):
        layer_rows(_lenet5(), (1, 0, 32))


# --- the widget ------------------------------------------------------------------------------

def test_cumulative_bar_html_widths_and_checks():
    html = cumulative_bar_html(0.5, 0.2)
    assert "width:30.00%" in html and "width:20.00%" in html and "50.0%" in html
    with pytest.raises(ValueError, match="layer_fraction"):
        cumulative_bar_html(0.2, 0.5)
    with pytest.raises(ValueError):
        cumulative_bar_html(1.5, 0.1)


def test_layer_explorer_builds_and_reacts():
    widgets = pytest.importorskip("ipywidgets")
    tables = {"AlexNet": ALEXNET,
              "tiny": _rows([("a", "Conv2d", "conv", (2, 2, 2), 10), ("b", "Linear", "fc", (3,), 30)])}
    box = layer_explorer(tables)
    assert isinstance(box, widgets.VBox)
    dropdown, slider, info, bar = box.children
    assert dropdown.value == "AlexNet" and slider.max == 8
    assert "conv1 (Conv2d)" in info.value and "290,400" in info.value
    slider.value = 6
    assert "fc6 (Linear)" in info.value and "37,752,832" in info.value
    dropdown.value = "tiny"
    assert slider.max == 1 and slider.value == 0 and "a (Conv2d)" in info.value
    slider.value = 1
    assert "100.0% of all parameters" in bar.value and "75.0%" in bar.value


def test_layer_explorer_rejects_bad_tables():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="no model tables"):
        layer_explorer({})
    with pytest.raises(ValueError, match="empty table"):
        layer_explorer({"x": []})
    with pytest.raises(ValueError, match="start model"):
        layer_explorer({"x": ALEXNET}, start="y")
