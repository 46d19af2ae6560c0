"""The notebook-02 figure builders (cnncourse.viz.dnn) run under Agg and draw what they claim."""
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids import dnn_explain as de  # noqa: E402
from cnncourse.viz import dnn as vd  # noqa: E402



def test_activation_histograms_grid():
    rows = {"tanh": de.deep_stack_activations("tanh", "xavier", depth=3, n_samples=50),
            "relu": de.deep_stack_activations("relu", "he", depth=3, n_samples=50)}
    fig = vd.plot_activation_histograms(rows, bins=10, title="init")
    assert len(fig.axes) == 6
    assert fig.axes[0].get_title() == "layer 1" and fig.axes[3].get_ylabel() == "relu"
    values, edges, _ = fig.axes[4].patches[0].get_data()
    assert len(values) == 10 and len(edges) == 11
    assert np.isclose(values.sum(), 1.0)  # fractions of the values, one stairs artist per panel
    with pytest.raises(ValueError, match="same, nonzero"):
        vd.plot_activation_histograms({"a": [np.zeros(3)], "b": [np.zeros(3)] * 2})
    with pytest.raises(ValueError, match="at least one"):
        vd.plot_activation_histograms({})


def test_constant_activations_still_draw():
    fig = vd.plot_activation_histograms({"dead": [np.zeros(20), np.zeros(20)]})
    assert len(fig.axes) == 2


def test_gradient_norms_one_line_per_net():
    ax = vd.plot_gradient_norms({"sigmoid": [1e-5, 1e-3, 0.1], "relu": [0.5, 0.6, 0.4]},
                                title="norms")
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]


def test_optimizer_paths_draw_contours_paths_and_markers():
    x, y = de.make_regression_2d(n=30)
    w1, w2 = np.linspace(-2, 3, 20), np.linspace(-2, 4, 15)
    grid = de.regression_loss_grid(x, y, w1, w2)
    paths = {"GD": np.array([[0.0, 0.0], [0.5, 0.5], [0.8, 1.0]]),
             "other": np.array([[0.0, 0.0], [1.0, 0.1]])}
    ax = vd.plot_optimizer_paths(w1, w2, grid, paths, optimum=(1.0, 2.0), title="paths")
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["GD", "other", "start", "minimum"]
    with pytest.raises(ValueError, match="loss_grid"):
        vd.plot_optimizer_paths(w1, w2, grid.T, paths)


def test_embedding_weight_images_boundary_and_accuracy_plots():
    rng = np.random.default_rng(0)
    ax = vd.plot_embedding(rng.standard_normal((30, 2)), np.repeat([0, 1, 2], 10), title="e")
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="points"):
        vd.plot_embedding(np.zeros((3, 3)), [0, 1, 2])
    ax = vd.plot_weight_images(rng.standard_normal((64, 20)), n=12, nrow=6)
    image = ax.images[0].get_array()
    assert image.shape == (2 * 9 + 1, 6 * 9 + 1)
    lo, hi = ax.images[0].get_clim()
    assert np.isclose(lo, -hi)
    with pytest.raises(ValueError, match="weights"):
        vd.plot_weight_images(np.zeros((10, 3)))
    from cnncourse.nets import DeepMLP
    xx, yy, labels = de.decision_grid(DeepMLP(2, [4], 2).predict, (-1, 1), (-1, 1), n=20)
    ax = vd.plot_decision_boundary(xx, yy, labels, rng.standard_normal((10, 2)), [0, 1] * 5,
                                   title="b")
    assert ax.get_title() == "b" and len(ax.collections) >= 2
    ax = vd.plot_accuracy_vs_labels([1, 5, 20], {"a": [0.5, 0.7, 0.9], "b": [0.4, 0.8, 0.9]})
    assert len(ax.lines) == 2 and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="accuracies"):
        vd.plot_accuracy_vs_labels([1, 2], {"a": [0.5]})
