"""Tests for the case-study figures in `cnncourse.viz.models` (Agg backend, no display)."""
from __future__ import annotations

import pytest

import cnncourse.viz.models as viz_models
from cnncourse.aids.summary import LAYER_KINDS
from cnncourse.viz.models import (KIND_COLORS, bar_colors, plot_ilsvrc_errors, plot_layer_params,
                                  shares)




def test_the_plot_module_does_not_classify_layers():
    # Kinds come from cnncourse.aids.summary.layer_kind; learning curves from viz.training.
    assert not hasattr(viz_models, "layer_kind") and not hasattr(viz_models, "plot_curves")


def test_bar_colors_maps_unknown_kinds_to_gray():
    assert bar_colors(["conv", "fc", "norm", "pool", "act"]) == [
        KIND_COLORS["conv"], KIND_COLORS["fc"], KIND_COLORS["norm"], KIND_COLORS["other"],
        KIND_COLORS["other"]]
    assert set(KIND_COLORS) <= set(LAYER_KINDS)


def test_shares_sum_to_one_and_check_input():
    assert shares([1, 3]) == [0.25, 0.75]
    assert sum(shares([34_944, 307_456, 885_120])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-negative"):
        shares([1, -1])
    with pytest.raises(ValueError, match="all parameter counts are 0"):
        shares([0, 0])


def test_plot_layer_params_draws_one_bar_per_layer():
    names = ["conv1", "conv2", "fc6", "fc7"]
    params = [100, 300, 500, 100]
    ax = plot_layer_params(names, params, ["conv", "conv", "fc", "fc"], title="toy")
    assert len(ax.patches) == 4
    assert [p.get_height() for p in ax.patches] == params
    assert [p.get_facecolor() for p in ax.patches][0] != [p.get_facecolor() for p in ax.patches][2]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert "50.0%" in [t.get_text() for t in ax.texts]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["conv: 400 (40.0%)", "fc: 600 (60.0%)"]
    assert ax.get_title() == "toy"


def test_plot_layer_params_log_scale_and_errors():
    ax = plot_layer_params(["a", "b"], [10, 10_000], kinds=["conv", "fc"], log=True)
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="2 names but 3"):
        plot_layer_params(["a", "b"], [1, 2, 3], ["conv", "fc"])
    with pytest.raises(TypeError):
        plot_layer_params(["conv1", "fc6"], [1, 2])       # kinds are given, never guessed
    with pytest.raises(ValueError, match="1 kinds for 2 layers"):
        plot_layer_params(["a", "b"], [1, 2], kinds=["conv"])


def test_plot_ilsvrc_errors():
    labels = ["2011", "2012\nAlexNet", "2015\nResNet"]
    ax = plot_ilsvrc_errors(labels, [25.8, 15.3, 3.57], highlight=labels[1:])
    assert [round(p.get_height(), 2) for p in ax.patches] == [25.8, 15.3, 3.57]
    assert "15.3%" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="percentages"):
        plot_ilsvrc_errors(["x"], [150.0])
    with pytest.raises(ValueError, match="1 labels but 2"):
        plot_ilsvrc_errors(["x"], [1.0, 2.0])


def test_plot_layer_params_draws_kinds_of_summary_rows():
    # The bars take their kinds from the one classifier, through cnncourse.summary's rows.
    from collections import OrderedDict

    import numpy as np

    from cnncourse.aids.summary import summary
    from cnncourse.layers import Affine, ReLU

    class Net:
        layers = OrderedDict([("Affine1", Affine(np.zeros((4, 3)), np.zeros(3))),
                              ("Relu1", ReLU()), ("Affine2", Affine(np.zeros((3, 2)), np.zeros(2)))])

    rows = summary(Net(), (4,), verbose=False).param_rows()
    ax = plot_layer_params([r.name for r in rows], [r.params for r in rows], [r.kind for r in rows])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fc: 23 (100.0%)"]
