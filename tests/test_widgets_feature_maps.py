"""The notebook-06 feature-map browser is built from tested logic and reacts to its controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids.cnn_explain import feature_map_report, feature_map_view  # noqa: E402
from cnncourse.nets import DeepMLP, SimpleConvNet  # noqa: E402
from cnncourse.viz import filters as vf  # noqa: E402
from cnncourse.widgets.feature_maps import AFTER, BEFORE, feature_map_browser  # noqa: E402

IMAGES = np.random.default_rng(6).random((5, 1, 8, 8))
LABELS = np.array([3, 1, 4, 1, 5])


def _nets():
    """Two different nets of one architecture standing in for 'trained' and 'untrained'."""
    return SimpleConvNet(input_dim=(1, 8, 8), seed=1), SimpleConvNet(input_dim=(1, 8, 8), seed=2)


@pytest.fixture
def drawn(monkeypatch):
    """Record every figure the browser draws (the arrays it hands to the plot function)."""
    calls = []
    original = vf.plot_feature_map_stages

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(vf, "plot_feature_map_stages", record)
    return calls


def _expected(net, digit, channel, stage):
    view = feature_map_view(net, IMAGES[digit], channel)
    return view, f"{stage}, digit #{digit}\n" + feature_map_report(view, channel, LABELS[digit])


def test_browser_shows_the_chosen_digit_filter_and_net(drawn):
    trained, untrained = _nets()
    box = feature_map_browser(trained, IMAGES, LABELS, untrained=untrained)
    assert isinstance(box, widgets.VBox)
    assert (box.digit.min, box.digit.max, box.channel.max) == (0, 4, 15)
    assert list(box.stage.options) == [AFTER, BEFORE] and not box.stage.disabled
    view, text = _expected(trained, 0, 0, AFTER)
    assert text.splitlines()[1] in box.report.value and "digit #0" in box.report.value
    np.testing.assert_array_equal(drawn[-1][0][0], IMAGES[0])

    first = box.report.value
    box.digit.value = 2                                    # the first slider changes the output
    view, text = _expected(trained, 2, 0, AFTER)
    assert box.report.value != first
    assert all(line.replace(">", "&gt;") in box.report.value for line in text.splitlines())
    np.testing.assert_array_equal(drawn[-1][0][0], IMAGES[2])
    np.testing.assert_array_equal(drawn[-1][0][2], view.conv)

    box.channel.value = 7
    view, text = _expected(trained, 2, 7, AFTER)
    assert "filter 7 (3x3)" in box.report.value
    np.testing.assert_array_equal(drawn[-1][0][1], trained.params["W1"][7])
    np.testing.assert_array_equal(drawn[-1][0][4], view.pool)

    box.stage.value = BEFORE                               # same digit and filter, other net
    view, text = _expected(untrained, 2, 7, BEFORE)
    assert box.report.value.startswith("<pre style='margin:0'>before training, digit #2")
    assert text.splitlines()[1] in box.report.value
    np.testing.assert_array_equal(drawn[-1][0][1], untrained.params["W1"][7])
    np.testing.assert_array_equal(drawn[-1][0][3], view.relu)
    limit = max(np.abs(trained.params["W1"][7]).max(), np.abs(untrained.params["W1"][7]).max())
    assert drawn[-1][1]["kernel_limit"] == pytest.approx(limit)    # one scale before and after
    assert len(drawn) == 4


def test_browser_does_not_train_or_change_the_nets():
    trained, untrained = _nets()
    kept = {k: v.copy() for k, v in trained.params.items()}
    box = feature_map_browser(trained, IMAGES, untrained=untrained, index=4, channel=15)
    box.digit.value, box.stage.value = 1, BEFORE
    assert all(np.array_equal(kept[k], trained.params[k]) for k in kept)
    assert trained.training and untrained.training
    assert "label" not in box.report.value                 # no labels given


def test_browser_without_an_untrained_net_has_one_stage():
    trained, _ = _nets()
    box = feature_map_browser(trained, IMAGES[:1], LABELS[:1])
    assert list(box.stage.options) == [AFTER] and box.stage.disabled
    assert box.digit.max == 0 and "after training, digit #0" in box.report.value


def test_browser_validates_its_inputs():
    trained, untrained = _nets()
    with pytest.raises(ValueError, match="no Convolution"):
        feature_map_browser(DeepMLP(64, [8], 10), IMAGES)
    with pytest.raises(ValueError, match=r"images must be a non-empty batch \(N, C, H, W\)"):
        feature_map_browser(trained, IMAGES[0])
    with pytest.raises(ValueError, match=r"images must be a non-empty batch"):
        feature_map_browser(trained, IMAGES[:0])
    with pytest.raises(ValueError, match=r"labels must be one class index per image \(5\)"):
        feature_map_browser(trained, IMAGES, LABELS[:3])
    with pytest.raises(ValueError, match=r"index must be an int in \[0, 4\]"):
        feature_map_browser(trained, IMAGES, index=5)
    with pytest.raises(ValueError, match=r"channel must be an int in \[0, 15\]"):
        feature_map_browser(trained, IMAGES, channel=-1)
    other = SimpleConvNet(input_dim=(1, 8, 8), conv=dict(filters=8), seed=0)
    with pytest.raises(ValueError, match="untrained must have the net's first convolution"):
        feature_map_browser(trained, IMAGES, untrained=other)
