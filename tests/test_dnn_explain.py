"""The logic behind notebook 02's figures and experiments (cnncourse.aids.dnn_explain)."""
import subprocess
import sys

import numpy as np
import pytest

from cnncourse.aids import dnn_explain as de
from cnncourse.gradcheck import numerical_gradient
from cnncourse.nets import DeepMLP
from cnncourse.optim import SGD, Adam, Momentum, init_std


def test_module_imports_no_heavy_packages():
    code = ("import sys, cnncourse.aids.dnn_explain; "
            "print([m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- representations -----------------------------------------------------------------------
def test_hidden_activations_shapes_and_modes():
    net = DeepMLP(5, [7, 3], 2, dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 5))
    acts = de.hidden_activations(net, x)
    assert [a.shape for a in acts] == [(4, 7), (4, 3)]
    assert all(np.all(a >= 0) for a in acts)
    assert net.training  # modes restored
    again = de.hidden_activations(net, x)  # eval mode: dropout off, so repeatable
    assert np.array_equal(acts[1], again[1])
    with pytest.raises(ValueError, match="no hidden activation"):
        de.hidden_activations(DeepMLP(5, [], 2), x)


def test_pca_2d_finds_the_spread_direction_with_a_fixed_sign():
    rng = np.random.default_rng(4)
    z = rng.standard_normal(200)
    features = np.column_stack([3 * z, -1.5 * z, 0.01 * rng.standard_normal(200)])
    p = de.pca_2d(features)
    assert p.shape == (200, 2)
    assert np.allclose(p.mean(axis=0), 0)
    assert abs(np.corrcoef(p[:, 0], z)[0, 1]) > 0.999
    assert np.var(p[:, 0]) > 1000 * np.var(p[:, 1])
    assert np.allclose(de.pca_2d(features[::-1])[::-1], p)
    with pytest.raises(ValueError, match="N, D >= 2"):
        de.pca_2d(np.zeros((1, 3)))


def test_nearest_centroid_accuracy():
    points = np.array([[0.0, 0.0], [0.2, 0.0], [5.0, 5.0], [5.2, 5.0], [4.0, 4.0]])
    assert de.nearest_centroid_accuracy(points, [0, 0, 1, 1, 1]) == 1.0
    assert de.nearest_centroid_accuracy(points, [0, 1, 0, 1, 0]) < 1.0
    with pytest.raises(ValueError, match="labels"):
        de.nearest_centroid_accuracy(points, [0, 1])


def test_ink_profiles_are_row_then_column_sums():
    images = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    f = de.ink_profiles(images)
    assert f.shape == (2, 7)
    assert np.array_equal(f[1, :3], images[1].sum(axis=1))
    assert np.array_equal(f[1, 3:], images[1].sum(axis=0))
    assert np.array_equal(de.ink_profiles(images[:, None]), f)
    with pytest.raises(ValueError, match="images"):
        de.ink_profiles(np.zeros((2, 16)))


# --- initialization ------------------------------------------------------------------------
def test_deep_stack_collapses_with_small_std_and_keeps_scale_with_he():
    tiny = de.activation_summary(de.deep_stack_activations("tanh", 0.01, depth=6))
    assert tiny["std"][-1] < 1e-5 and tiny["near_zero"][-1] == 1.0
    assert np.all(np.diff(tiny["std"]) < 0)
    he = de.activation_summary(de.deep_stack_activations("relu", "he", depth=6))
    assert 0.3 < he["std"][-1] / he["std"][0] < 3
    xavier = de.deep_stack_activations("tanh", "xavier", depth=3, width=20, n_samples=30)
    assert [a.shape for a in xavier] == [(30, 20)] * 3
    with pytest.raises(ValueError, match="activation"):
        de.deep_stack_activations("softplus", "he")
    with pytest.raises(ValueError, match="depth"):
        de.deep_stack_activations("relu", "he", depth=0)


def test_deep_stack_uses_the_library_std():
    first = de.deep_stack_activations("relu", "he", depth=1, width=50, n_samples=2000, seed=3)[0]
    # Pre-activations ~ N(0, width * std^2) for standard-normal input; ReLU keeps half:
    # E[a^2] = var / 2.
    assert np.isclose(np.mean(first ** 2), 50 * init_std("he", 50) ** 2 / 2, rtol=0.1)


def test_activation_summary_values_and_errors():
    s = de.activation_summary([np.array([0.0, 0.005, 1.0, -1.0])])
    assert np.isclose(s["mean"][0], 0.00125) and np.isclose(s["near_zero"][0], 0.5)
    with pytest.raises(ValueError, match="at least one"):
        de.activation_summary([])


def test_layer_gradient_norms_vanish_with_sigmoid_not_relu():
    rng = np.random.default_rng(5)
    x, t = rng.random((64, 16)), rng.integers(0, 4, 64)
    sig = de.layer_gradient_norms(DeepMLP(16, [16] * 6, 4, activation="sigmoid",
                                          weight_init="xavier", seed=0), x, t)
    relu = de.layer_gradient_norms(DeepMLP(16, [16] * 6, 4, seed=0), x, t)
    assert sig.shape == relu.shape == (7,)
    assert sig[0] / sig[-1] < 1e-2 and relu[0] / relu[-1] > 0.1
    net = DeepMLP(16, [16] * 10, 4, seed=0)
    grads = net.gradient(x, t)
    assert np.isclose(de.layer_gradient_norms(net, x, t)[9], np.linalg.norm(grads["W10"]))


# --- optimization --------------------------------------------------------------------------
def test_regression_grid_and_gradient_agree_with_the_definition():
    x, y = de.make_regression_2d(n=50, seed=1)
    assert x.shape == (50, 2) and y.shape == (50,)
    w1, w2 = np.linspace(-1, 2, 4), np.linspace(0, 3, 3)
    grid = de.regression_loss_grid(x, y, w1, w2)
    assert grid.shape == (3, 4)
    direct = 0.5 * np.mean((x @ np.array([w1[2], w2[1]]) - y) ** 2)
    assert np.isclose(grid[1, 2], direct)
    w = np.array([0.3, -0.7])
    numeric = numerical_gradient(
        lambda v: 0.5 * np.mean((x @ v - y) ** 2), w.copy())
    assert np.allclose(de.regression_gradient(w, x, y), numeric, atol=1e-8)


def test_optimizer_path_full_batch_is_gradient_descent():
    x, y = de.make_regression_2d(n=40, seed=2)
    path, losses = de.optimizer_path(SGD(0.3), x, y, start=(0.0, 0.0), steps=5)
    w = np.zeros(2)
    for _ in range(5):
        w = w - 0.3 * de.regression_gradient(w, x, y)
    assert path.shape == (6, 2) and losses.shape == (6,)
    assert np.allclose(path[-1], w)
    assert np.isclose(losses[-1], 0.5 * np.mean((x @ w - y) ** 2))
    assert np.all(np.diff(losses) < 0)


def test_optimizer_path_minibatches_lrs_and_errors():
    x, y = de.make_regression_2d(n=30, seed=3)
    p1, _ = de.optimizer_path(SGD(0.1), x, y, (1.0, 1.0), 10, batch_size=1, seed=0)
    p2, _ = de.optimizer_path(SGD(0.1), x, y, (1.0, 1.0), 10, batch_size=1, seed=1)
    assert not np.allclose(p1, p2)  # different samples, different steps
    opt = Momentum(0.1)
    zero_lr, _ = de.optimizer_path(opt, x, y, (1.0, 1.0), 3, lrs=[1e-12] * 3)
    assert np.allclose(zero_lr, 1.0) and opt.lr == 1e-12
    with pytest.raises(ValueError, match="learning rates"):
        de.optimizer_path(SGD(0.1), x, y, (0.0, 0.0), 5, lrs=[0.1])
    with pytest.raises(ValueError, match="batch_size"):
        de.optimizer_path(SGD(0.1), x, y, (0.0, 0.0), 5, batch_size=0)


def test_lr_schedules():
    assert np.allclose(de.lr_schedule("constant", 0.1, 3), 0.1)
    assert np.allclose(de.lr_schedule("step", 0.4, 6, every=2), [0.4, 0.4, 0.2, 0.2, 0.1, 0.1])
    cos = de.lr_schedule("cosine", 1.0, 4, lr_min=0.2)
    assert np.isclose(cos[0], 1.0) and np.isclose(cos[2], 0.6) and np.all(np.diff(cos) < 0)
    with pytest.raises(ValueError, match="kind"):
        de.lr_schedule("linear", 0.1, 3)
    with pytest.raises(ValueError, match="lr0"):
        de.lr_schedule("step", 0.0, 3)


# --- training by epoch ---------------------------------------------------------------------
def _toy_classification(seed=0, n=80):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))
    t = (x[:, 0] + x[:, 1] > 0).astype(int)
    return x, t


def test_fit_by_epoch_history_and_snapshots():
    x, t = _toy_classification()
    net = DeepMLP(6, [8], 2, weight_decay=0.1, seed=0)
    history = de.fit_by_epoch(net, x[:60], t[:60], x[60:], t[60:], SGD(0.1), epochs=3,
                              batch_size=20, lrs=[0.1, 0.05, 0.01], keep_params=True)
    assert history["epoch"] == [1, 2, 3] and history["lr"] == [0.1, 0.05, 0.01]
    assert len(history["params"]) == 3 and set(history["params"][0]) == set(net.params)
    assert np.array_equal(history["params"][-1]["W1"], net.params["W1"])
    assert history["params"][0]["W1"] is not net.params["W1"]
    net.eval()
    # losses are the loss layer alone (no weight-decay term), in eval mode
    assert np.isclose(history["test_loss"][-1],
                      net.last_layer.forward(net.predict(x[60:]), t[60:]))
    assert np.isclose(history["test_acc"][-1], net.accuracy(x[60:], t[60:]))
    assert net.loss(x[60:], t[60:]) > history["test_loss"][-1]
    with pytest.raises(ValueError, match="learning rates"):
        de.fit_by_epoch(net, x, t, x, t, SGD(0.1), epochs=2, lrs=[0.1])


def test_fit_by_epoch_plots_with_plot_history():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cnncourse.viz.training import plot_history
    x, t = _toy_classification(1)
    history = de.fit_by_epoch(DeepMLP(6, [4], 2), x, t, x, t, Adam(0.01), 2, keep_params=True)
    axes = plot_history(history)
    assert len(axes) == 2
    plt.close("all")


def test_partial_optimizer_freezes_only_the_named_keys():
    params = {"W1": np.ones(2), "b1": np.ones(2), "W2": np.ones(2)}
    grads = {k: np.ones(2) for k in params}
    opt = de.PartialOptimizer(SGD(0.5), ["W1", "b1"])
    opt.update(params, grads)
    assert np.array_equal(params["W1"], [1, 1]) and np.array_equal(params["b1"], [1, 1])
    assert np.array_equal(params["W2"], [0.5, 0.5])
    opt.lr = 0.25
    assert opt.inner.lr == 0.25 and opt.lr == 0.25
    with pytest.raises(KeyError, match="W9"):
        de.PartialOptimizer(SGD(0.1), ["W9"]).update(params, grads)
    with pytest.raises(TypeError, match="update"):
        de.PartialOptimizer(object(), [])


# --- decision boundaries -------------------------------------------------------------------
def test_decision_grid_and_linear_regions():
    net = DeepMLP(2, [3], 2, seed=0)
    xx, yy, labels = de.decision_grid(net.predict, (-1, 1), (-2, 2), n=5)
    assert xx.shape == yy.shape == labels.shape == (5, 5)
    assert yy[0, 0] == -2 and xx[0, -1] == 1
    expected = np.argmax(net.predict(np.array([[xx[2, 3], yy[2, 3]]])), axis=1)[0]
    assert labels[2, 3] == expected
    with pytest.raises(ValueError, match="scores"):
        de.decision_grid(lambda p: p[:, 0], (0, 1), (0, 1), n=3)
    # one ReLU unit per layer in 1-D: at most 2 patterns per unit
    points = np.column_stack([np.linspace(-3, 3, 50), np.zeros(50)])
    regions = de.count_linear_regions(DeepMLP(2, [4], 2, seed=1), points)
    assert 1 <= regions <= 5  # 4 hyperplanes cut a line into at most 5 pieces
    with pytest.raises(ValueError, match="ReLU"):
        de.count_linear_regions(DeepMLP(2, [4], 2, activation="tanh"), points)
