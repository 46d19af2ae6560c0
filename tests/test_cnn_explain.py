"""The logic behind notebook 06's feature-map browser (cnncourse.aids.cnn_explain)."""
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest

from cnncourse.aids import cnn_explain as ce
from cnncourse.conv import Convolution
from cnncourse.layers import Affine, ReLU
from cnncourse.nets import DeepMLP, SimpleConvNet
from cnncourse.pooling import Pooling

IMAGE = np.array([[0.0, 1.0, 0.0, 2.0],
                  [3.0, 0.0, 0.0, 1.0],
                  [1.0, 1.0, 4.0, 0.0],
                  [0.0, 2.0, 0.0, 0.0]])
KERNEL = np.array([[1.0, 0.0], [0.0, -1.0]])      # x[i, j] - x[i + 1, j + 1]


def _hand_net(pool_mode="max"):
    """Conv (2 kernels 2x2, no pad) -> ReLU -> pool 2x2 stride 1 -> Affine to 2 classes."""
    weights = np.stack([KERNEL, np.ones((2, 2))])[:, None]            # (2, 1, 2, 2)
    layers = OrderedDict()
    layers["Conv"] = Convolution(weights, np.array([0.5, -3.0]))
    layers["Act"] = ReLU()
    layers["Pool"] = Pooling(2, 2, stride=1, mode=pool_mode)
    layers["Out"] = Affine(np.arange(16.0).reshape(8, 2) / 10, np.array([0.0, -1.0]))
    return SimpleNamespace(layers=layers)


def _hand_stages(channel):
    weights = [KERNEL, np.ones((2, 2))][channel]
    bias = [0.5, -3.0][channel]
    conv = np.array([[np.sum(IMAGE[i:i + 2, j:j + 2] * weights) + bias for j in range(3)]
                     for i in range(3)])
    relu = np.maximum(conv, 0)
    pool = np.array([[relu[i:i + 2, j:j + 2].max() for j in range(2)] for i in range(2)])
    return conv, relu, pool


def test_layer_outputs_gives_every_layer_in_order():
    net = SimpleConvNet(input_dim=(1, 8, 8), seed=3)
    x = np.random.default_rng(0).random((2, 1, 8, 8))
    outputs = ce.layer_outputs(net, x)
    assert list(outputs) == list(net.layers)
    assert [v.shape for v in outputs.values()] == [(2, 16, 8, 8), (2, 16, 8, 8), (2, 16, 4, 4),
                                                   (2, 64), (2, 64), (2, 10)]
    np.testing.assert_array_equal(outputs["Relu1"], np.maximum(outputs["Conv1"], 0))
    np.testing.assert_allclose(outputs["Affine2"], net.predict(x))
    kept = outputs["Conv1"].copy()
    net.predict(np.zeros((2, 1, 8, 8)))                                # a later forward pass
    np.testing.assert_array_equal(outputs["Conv1"], kept)             # does not change them


def test_layer_outputs_runs_in_eval_mode_and_restores_modes():
    net = DeepMLP(5, [7], 2, dropout=0.5, seed=0)
    x = np.random.default_rng(1).standard_normal((4, 5))
    first, second = ce.layer_outputs(net, x), ce.layer_outputs(net, x)
    assert all(np.array_equal(first[k], second[k]) for k in first)    # dropout off: repeatable
    assert net.training                                               # modes restored
    net.eval()
    np.testing.assert_allclose(list(first.values())[-1], net.predict(x))
    ce.layer_outputs(net, x)
    assert not any(layer.training for layer in net.layers.values())   # eval stays eval


def test_layer_outputs_restores_modes_when_a_layer_raises():
    net = SimpleConvNet(input_dim=(1, 8, 8), seed=0)
    with pytest.raises(ValueError):
        ce.layer_outputs(net, np.zeros((1, 1, 5, 5)))                  # wrong size for Affine1
    assert net.training


def test_layer_outputs_rejects_a_net_without_layers():
    with pytest.raises(ValueError, match="layers"):
        ce.layer_outputs(SimpleNamespace(layers=OrderedDict()), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="layers"):
        ce.layer_outputs(object(), np.zeros((1, 3)))


def test_first_block_finds_conv_relu_pool_in_order():
    assert ce.first_block(SimpleConvNet(seed=0)) == ("Conv1", "Relu1", "Pool1")
    assert ce.first_block(_hand_net()) == ("Conv", "Act", "Pool")
    with pytest.raises(ValueError, match="no Convolution"):
        ce.first_block(DeepMLP(4, [3], 2))
    layers = _hand_net().layers
    swapped = OrderedDict([("Conv", layers["Conv"]), ("Pool", layers["Pool"]),
                           ("Act", layers["Act"])])
    with pytest.raises(ValueError, match="no Pooling layer after 'Act'"):
        ce.first_block(SimpleNamespace(layers=swapped))


@pytest.mark.parametrize("channel", [0, 1])
def test_feature_map_view_matches_a_hand_computation(channel):
    net = _hand_net()
    view = ce.feature_map_view(net, IMAGE[None], channel)
    conv, relu, pool = _hand_stages(channel)
    np.testing.assert_allclose(view.conv, conv)
    np.testing.assert_allclose(view.relu, relu)
    np.testing.assert_allclose(view.pool, pool)
    np.testing.assert_array_equal(view.kernel, [[KERNEL, np.ones((2, 2))][channel]])
    assert view.bias == [0.5, -3.0][channel] and view.names == ("Conv", "Act", "Pool")
    features = np.stack([_hand_stages(c)[2] for c in (0, 1)]).reshape(-1)
    scores = features @ (np.arange(16.0).reshape(8, 2) / 10) + np.array([0.0, -1.0])
    expected = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(view.probabilities, expected)
    assert view.predicted == int(np.argmax(expected))
    assert view.confidence == pytest.approx(expected.max())
    assert view.pool_mode == "max"
    np.testing.assert_array_equal(view.image, IMAGE[None])


def test_feature_map_view_mixed_signs_and_avg_pool():
    conv, relu, _ = _hand_stages(0)
    assert (conv < 0).any() and (conv > 0).any()                      # the case tests both signs
    view = ce.feature_map_view(_hand_net("avg"), IMAGE[None].astype(int), 0)
    assert view.pool_mode == "avg" and view.conv.dtype == np.float64
    np.testing.assert_allclose(view.pool, [[relu[i:i + 2, j:j + 2].mean() for j in range(2)]
                                           for i in range(2)])


@pytest.mark.parametrize("channel", [-1, 2, True, 1.0, "0"])
def test_feature_map_view_rejects_bad_channels(channel):
    with pytest.raises(ValueError, match=r"channel must be an int in \[0, 1\]"):
        ce.feature_map_view(_hand_net(), IMAGE[None], channel)


def test_feature_map_view_rejects_a_batch_or_a_bare_map():
    with pytest.raises(ValueError, match=r"image must be \(C, H, W\)"):
        ce.feature_map_view(_hand_net(), IMAGE[None, None], 0)
    with pytest.raises(ValueError, match=r"image must be \(C, H, W\)"):
        ce.feature_map_view(_hand_net(), IMAGE, 0)


def _view(probabilities, relu, pool_mode="max"):
    relu = np.asarray(relu, dtype=float)
    return ce.FeatureMapView(image=np.zeros((1, 4, 4)), kernel=np.array([[[0.5, -0.25],
                                                                          [0.0, 1.0]]]),
                             bias=-0.125, conv=relu - 1.0, relu=relu, pool=relu[:1, :1] + 0.5,
                             probabilities=np.asarray(probabilities), names=("c", "r", "p"),
                             pool_mode=pool_mode)


def test_feature_map_report_lines():
    view = _view([0.1, 0.2, 0.7], [[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    lines = ce.feature_map_report(view, 4, label=2).splitlines()
    assert lines == [
        "prediction: 2 with probability 70.0% (label 2: right)",
        "filter 4 (2x2): weights -0.25 .. +1.00, bias -0.12",
        "after conv (3x3): values -1.00 .. +2.00",
        "after ReLU (3x3): 3 of 9 units active (> 0), the rest set to 0",
        "after pool (1x1): the largest value of every window of the ReLU map, max +0.50",
    ]
    assert "(label 0: WRONG)" in ce.feature_map_report(view, 4, label=0)
    assert "label" not in ce.feature_map_report(view, 4)
    avg = _view([0.6, 0.4], [[1.0]], pool_mode="avg")
    report = ce.feature_map_report(avg, 0, label=np.int64(0))
    assert "prediction: 0 with probability 60.0% (label 0: right)" in report
    assert "the mean of every window" in report and "1 of 1 units" in report
