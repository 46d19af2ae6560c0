"""cnncourse.by_layers: training through the layer protocol gives Trainer's weights, also on a
net whose every read returns a copy (as the grader's proxy does)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from cnncourse.by_layers import (accuracy_by_layers, count_params, fit_by_layers, param_slots,
                                 read_params)
from cnncourse.nets import DeepMLP, SimpleConvNet
from cnncourse.trainer import Trainer


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(5)
    from cnncourse.data import load_digits
    (x, t), (xt, tt) = load_digits()
    pick = rng.choice(len(x), size=200, replace=False)
    return x[pick], t[pick], xt[:100], tt[:100]


class CopyingProxy:
    """Stands for a net in another process: every attribute or item read returns a deep copy of
    plain data (arrays, dicts, tuples), objects come back as proxies, assignments go through."""

    def __init__(self, target):
        object.__setattr__(self, "_target", target)

    @staticmethod
    def _wrap(value):
        plain = (np.ndarray, np.generic, dict, tuple, list, int, float, str, bool, type(None))
        return copy.deepcopy(value) if type(value) in plain or isinstance(value, np.generic) \
            else CopyingProxy(value)

    def __getattr__(self, name):
        return self._wrap(getattr(self._target, name))

    def __setattr__(self, name, value):
        setattr(self._target, name, copy.deepcopy(value))

    def __getitem__(self, key):
        return self._wrap(self._target[key])

    def __iter__(self):
        return iter(list(self._target))

    def __call__(self, *args, **kwargs):
        return self._wrap(self._target(*copy.deepcopy(args), **copy.deepcopy(kwargs)))


def _layer_arrays(net):
    return {f"{k}.{n}": getattr(layer, n) for k, layer, n in param_slots(net)}


def test_param_slots_and_counts_follow_the_layers():
    net = SimpleConvNet(seed=0)
    slots = [(key, name) for key, _, name in param_slots(net)]
    assert slots == [("Conv1", "W"), ("Conv1", "b"), ("Affine1", "W"), ("Affine1", "b"),
                     ("Affine2", "W"), ("Affine2", "b")]
    assert count_params(net) == sum(p.size for p in net.params.values()) == 17_258
    params = read_params(net)
    assert list(params) == ["Conv1.W", "Conv1.b", "Affine1.W", "Affine1.b", "Affine2.W", "Affine2.b"]
    params["Conv1.W"][...] = 7.0                     # copies: the net is not touched
    assert not np.any(net.params["W1"] == 7.0)


def test_fit_by_layers_matches_trainer(digits):
    x, t, xt, tt = digits
    reference = SimpleConvNet(seed=3)
    Trainer(reference, x, t, epochs=2, batch_size=32, optimizer="adam", lr=0.01, seed=4,
            progress=False).fit()
    net = SimpleConvNet(seed=3)
    run = fit_by_layers(net, x, t, epochs=2, batch_size=32, lr=0.01, seed=4)
    assert run["steps"] == 2 * 7 and run["seconds"] >= 0
    ours = _layer_arrays(net)
    theirs = _layer_arrays(reference)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-10, atol=1e-12, err_msg=key)
    assert accuracy_by_layers(net, xt, tt) == pytest.approx(reference.accuracy(xt, tt))


def test_fit_by_layers_through_a_copying_proxy(digits):
    x, t, xt, tt = digits
    direct = SimpleConvNet(seed=1)
    fit_by_layers(direct, x, t, epochs=1, batch_size=50, lr=0.005, seed=2)
    remote_target = SimpleConvNet(seed=1)
    proxy = CopyingProxy(remote_target)
    fit_by_layers(proxy, x, t, epochs=1, batch_size=50, lr=0.005, seed=2)
    for key, value in _layer_arrays(direct).items():
        np.testing.assert_allclose(_layer_arrays(remote_target)[key], value, rtol=1e-12, err_msg=key)
    assert accuracy_by_layers(proxy, xt, tt) == accuracy_by_layers(direct, xt, tt)
    assert all(layer.training for layer in remote_target.layers.values())


def test_weight_decay_inside_gradient_is_not_used(digits):
    # The gradients come from the layers (dW without decay), so decay changes nothing.
    x, t, _, _ = digits
    plain, decayed = DeepMLP(64, [20], 10, seed=0), DeepMLP(64, [20], 10, seed=0, weight_decay=0.5)
    for net in (plain, decayed):
        fit_by_layers(net, x.reshape(len(x), -1), t, epochs=1, batch_size=40, lr=0.01, seed=0)
    for key, value in _layer_arrays(plain).items():
        np.testing.assert_allclose(_layer_arrays(decayed)[key], value, err_msg=key)


def test_default_seed_and_batch_size_change_the_result(digits):
    x, t, _, _ = digits
    runs = {}
    for seed, batch in [(0, 50), (1, 50), (0, 64)]:
        net = SimpleConvNet(seed=0)
        fit_by_layers(net, x, t, epochs=1, batch_size=batch, lr=0.01, seed=seed)
        runs[seed, batch] = net.layers["Affine2"].W
    assert not np.allclose(runs[0, 50], runs[1, 50])
    assert not np.allclose(runs[0, 50], runs[0, 64])


class _ForgetsFirstLayer(SimpleConvNet):
    """Backpropagates through every layer but the first: Conv1 never gets dW."""

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1.0)
        for layer in list(reversed(self.layers.values()))[:-1]:
            dout = layer.backward(dout)
        return {}


def test_missing_gradient_is_named():
    x = np.zeros((4, 1, 8, 8))
    t = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match="Conv1.*dW"):
        fit_by_layers(_ForgetsFirstLayer(seed=0), x, t, epochs=1, batch_size=2)


def test_time_limit_stops_the_run(digits):
    x, t, _, _ = digits
    with pytest.raises(TimeoutError, match="limit of 1e-09 s"):
        fit_by_layers(SimpleConvNet(seed=0), x, t, epochs=3, batch_size=10, time_limit_s=1e-9)


def test_bad_arguments():
    net = SimpleConvNet(seed=0)
    x, t = np.zeros((4, 1, 8, 8)), np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match="N >= 1"):
        fit_by_layers(net, x[:0], t[:0], epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="one label each"):
        fit_by_layers(net, x, t[:3], epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="positive"):
        fit_by_layers(net, x, t, epochs=0, batch_size=2)
    with pytest.raises(ValueError, match="time_limit_s"):
        fit_by_layers(net, x, t, epochs=1, batch_size=2, time_limit_s=0)
    with pytest.raises(TypeError, match="no `layers`"):
        param_slots(object())

    class NoParams:
        layers = {"Relu": object()}
    with pytest.raises(ValueError, match="no learnable parameters"):
        fit_by_layers(NoParams(), x, t, epochs=1, batch_size=2)

    class IntWeights:
        class _Layer:
            param_names = ("W",)
            W = np.ones((2, 2), dtype=int)
        layers = {"Affine": _Layer()}
    with pytest.raises(TypeError, match="Affine.W must be a float array"):
        read_params(IntWeights())


def test_accuracy_by_layers_uses_eval_mode_and_checks_scores(digits):
    x, t, xt, tt = digits
    net = DeepMLP(64, [30], 10, dropout=0.5, seed=0)
    flat = xt.reshape(len(xt), -1)
    first, second = accuracy_by_layers(net, flat, tt), accuracy_by_layers(net, flat, tt)
    assert first == second == net.accuracy(flat, tt)          # no dropout noise in eval mode
    assert net.training                                         # flags back to True
    one_hot = np.eye(10)[tt]
    assert accuracy_by_layers(net, flat, one_hot) == first

    class FlatScores:
        layers = {"Relu": object.__new__(type("Stub", (), {}))}

        def predict(self, x):
            return np.zeros(len(x))
    with pytest.raises(ValueError, match="expected \\(N, classes\\)"):
        accuracy_by_layers(FlatScores(), flat, tt)
    with pytest.raises(ValueError, match="one label each"):
        accuracy_by_layers(net, flat, tt[:3])
