"""DeepMLP and SimpleConvNet: numerical gradient checks on tiny nets, the params/layers sharing
contract, train/eval modes; the Trainer, including SimpleConvNet on the bundled digits."""
import numpy as np
import pytest

from cnncourse.gradcheck import numerical_gradient, rel_error
from cnncourse.layers import Dropout
from cnncourse.nets import DeepMLP, SimpleConvNet
from cnncourse.optim import SGD
from cnncourse.trainer import Trainer

TOL = 1e-6  # a whole net: many entries, each a product of several layers' round-off


def _fix_dropout_masks(net):
    # Reseed every Dropout before each forward so a finite difference sees one function.
    for i, layer in enumerate(net.layers.values()):
        if isinstance(layer, Dropout):
            layer.rng = np.random.default_rng(100 + i)


def _check_net_gradients(net, x, t):
    def loss(_):
        _fix_dropout_masks(net)
        return net.loss(x, t)

    _fix_dropout_masks(net)
    grads = net.gradient(x, t)
    assert set(grads) == set(net.params)
    errors = {}
    for key, param in net.params.items():
        assert grads[key].shape == param.shape, key
        errors[key] = rel_error(grads[key], numerical_gradient(loss, param))
    return errors


def _toy(n=6, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, size=n)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_deep_mlp_gradients(activation):
    x, t = _toy()
    net = DeepMLP(5, [4, 4], 3, activation=activation, weight_init="xavier", seed=1)
    errs = _check_net_gradients(net, x, t)
    assert max(errs.values()) < TOL, errs


def test_deep_mlp_gradients_with_batchnorm_dropout_and_weight_decay():
    x, t = _toy(n=8)
    net = DeepMLP(5, [6, 4], 3, activation="tanh", dropout=0.3, batch_norm=True,
                  weight_decay=0.1, seed=2)
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Tanh1", "Dropout1",
                                "Affine2", "BatchNorm2", "Tanh2", "Dropout2", "Affine3"]
    assert set(net.params) == {"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                               "W3", "b3"}
    errs = _check_net_gradients(net, x, np.eye(3)[t])  # one-hot labels work too
    # BatchNorm subtracts the batch mean, so a bias in front of it has gradient exactly 0: both
    # sides are round-off there, and a relative error of noise against noise means nothing.
    for key in ("b1", "b2"):
        del errs[key]
        assert np.abs(net.gradient(x, t)[key]).max() < 1e-12
    assert max(errs.values()) < TOL, errs


def test_weight_decay_term():
    x, t = _toy()
    plain = DeepMLP(5, [4], 3, seed=3)
    decayed = DeepMLP(5, [4], 3, weight_decay=0.5, seed=3)
    extra = 0.25 * (np.sum(plain.params["W1"] ** 2) + np.sum(plain.params["W2"] ** 2))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + extra)
    g_plain, g_decayed = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g_decayed["W1"], g_plain["W1"] + 0.5 * plain.params["W1"])
    np.testing.assert_allclose(g_decayed["b1"], g_plain["b1"])  # biases are not decayed


def test_simple_conv_net_gradients():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 6, 6))
    t = np.array([0, 2, 1])
    net = SimpleConvNet(input_dim=(2, 6, 6), conv=dict(filters=3, size=3, pad=1, stride=1),
                        hidden_size=5, output_size=3, weight_init=0.3, seed=5)
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert net.params["W1"].shape == (3, 2, 3, 3) and net.params["W2"].shape == (3 * 3 * 3, 5)
    errs = _check_net_gradients(net, x, t)
    assert max(errs.values()) < TOL, errs


def test_simple_conv_net_shapes_with_stride_and_no_pad():
    net = SimpleConvNet(input_dim=(1, 16, 16), conv=dict(filters=4, size=5, pad=0, stride=1),
                        hidden_size=7, output_size=10)
    assert net.feature_shape == (4, 6, 6)  # 16 - 5 + 1 = 12, pooled to 6
    assert net.predict(np.zeros((2, 1, 16, 16))).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown conv settings"):
        SimpleConvNet(conv=dict(filter=3))


def test_params_share_arrays_with_layers_so_updates_reach_them():
    x, t = _toy()
    net = DeepMLP(5, [4], 3, seed=6)
    assert net.params["W1"] is net.layers["Affine1"].W
    assert net.params["b2"] is net.layers["Affine2"].b
    before = net.loss(x, t)
    opt = SGD(lr=0.5)
    for _ in range(20):
        opt.update(net.params, net.gradient(x, t))
    assert net.params["W1"] is net.layers["Affine1"].W
    assert net.loss(x, t) < before


def test_train_eval_modes_and_accuracy():
    x, t = _toy(n=40, seed=7)
    net = DeepMLP(5, [8], 3, dropout=0.5, batch_norm=True, seed=8)
    assert net.training
    assert net.eval() is net and not net.training
    np.testing.assert_array_equal(net.predict(x), net.predict(x))  # eval is deterministic
    net.train()
    assert not np.array_equal(net.predict(x), net.predict(x))  # dropout masks differ
    acc = net.accuracy(x, t, batch_size=7)
    assert net.training  # accuracy restored the mode it found
    net.eval()
    expected = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert acc == pytest.approx(expected)
    assert net.accuracy(x, np.eye(3)[t], batch_size=40) == pytest.approx(expected)
    with pytest.raises(ValueError, match="40 samples but 39 labels"):
        net.accuracy(x, t[:-1])


def test_constructor_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        DeepMLP(4, [3], 2, activation="softplus")
    with pytest.raises(ValueError, match="positive"):
        DeepMLP(4, [0], 2)
    with pytest.raises(ValueError, match="weight_decay"):
        DeepMLP(4, [3], 2, weight_decay=-1)


def test_init_scale_follows_weight_init():
    he = DeepMLP(400, [400], 2, weight_init="he", seed=0).params["W1"].std()
    xavier = DeepMLP(400, [400], 2, weight_init="xavier", seed=0).params["W1"].std()
    fixed = DeepMLP(400, [400], 2, weight_init=0.01, seed=0).params["W1"].std()
    assert he == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert xavier == pytest.approx(np.sqrt(1 / 400), rel=0.02)
    assert fixed == pytest.approx(0.01, rel=0.02)


# ------------------------------------------------------------------------------ Trainer
def test_trainer_history_and_optimizer_choice():
    rng = np.random.default_rng(9)
    centres = rng.standard_normal((3, 4)) * 3
    t = rng.integers(0, 3, size=150)
    x = centres[t] + rng.standard_normal((150, 4))
    net = DeepMLP(4, [10], 3, seed=10)
    trainer = Trainer(net, x[:100], t[:100], x[100:], t[100:], epochs=5, batch_size=16,
                      optimizer="momentum", lr=0.05, seed=0, progress=False)
    hist = trainer.fit()
    # The keys of the torch fit's history (see tests/test_torch_train.py), plus "batch_loss".
    assert {k: len(v) for k, v in hist.items()} == {
        "epoch": 5, "train_loss": 5, "train_acc": 5, "test_loss": 5, "test_acc": 5,
        "batch_loss": 5 * 7, "epoch_time": 5}
    assert hist["epoch"] == [1, 2, 3, 4, 5]
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["test_loss"][-1] < hist["test_loss"][0]
    assert hist["test_acc"][-1] > 0.8
    assert hist["train_acc"][-1] == pytest.approx(net.accuracy(x[:100], t[:100]))
    # test_loss is net.loss on the test set in eval mode, whatever the evaluation batch size
    assert hist["test_loss"][-1] == pytest.approx(net.eval().loss(x[100:], t[100:]), rel=1e-12)
    net.train()


def test_trainer_test_loss_is_batched_and_in_eval_mode():
    x, t = _toy(n=30, seed=13)
    net = DeepMLP(5, [8], 3, dropout=0.5, seed=14)
    hist = Trainer(net, x[:20], t[:20], x[20:], t[20:], epochs=1, batch_size=5,
                   eval_batch_size=3, progress=False).fit()
    assert net.training, "fit leaves the net in training mode"
    expected = net.eval().loss(x[20:], t[20:])      # dropout off: deterministic
    net.train()
    assert hist["test_loss"] == [pytest.approx(expected, rel=1e-12)]


def test_trainer_accepts_an_optimizer_instance_and_shows_progress(capsys):
    x, t = _toy(n=30, seed=11)
    opt = SGD(lr=0.1)
    net = DeepMLP(5, [4], 3, seed=12)
    before = net.params["W1"].copy()
    hist = Trainer(net, x, t, epochs=2, batch_size=10, optimizer=opt, progress=True,
                   verbose=True).fit()
    assert "test_acc" not in hist and "test_loss" not in hist and len(hist["batch_loss"]) == 6
    assert hist["epoch"] == [1, 2]
    assert not np.array_equal(before, net.params["W1"])
    captured = capsys.readouterr()
    assert "epoch 2/2" in captured.err  # the bar
    assert "epoch 2: loss" in captured.out + captured.err  # the verbose line


def test_trainer_input_errors():
    x, t = _toy()
    net = DeepMLP(5, [4], 3)
    with pytest.raises(ValueError, match="6 samples but t_train has 5"):
        Trainer(net, x, t[:5])
    with pytest.raises(ValueError, match="both x_test and t_test"):
        Trainer(net, x, t, x_test=x)
    with pytest.raises(TypeError, match="update"):
        Trainer(net, x, t, optimizer=3)
    with pytest.raises(ValueError, match="named optimizer"):
        Trainer(net, x, t, optimizer=SGD(lr=0.1), lr=0.5)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        x_bad = x.copy()
        x_bad[:, 0] = np.nan
        Trainer(net, x_bad, t, epochs=1, progress=False).fit()


def test_simple_conv_net_learns_the_bundled_digits():
    from cnncourse.data import load_digits

    (x_train, t_train), (x_test, t_test) = load_digits()
    net = SimpleConvNet(input_dim=(1, 8, 8), conv=dict(filters=16, size=3, pad=1, stride=1),
                        hidden_size=64, output_size=10, seed=0)
    hist = Trainer(net, x_train, t_train, x_test, t_test, epochs=8, batch_size=32,
                   optimizer="adam", lr=0.005, seed=0, progress=False).fit()
    assert hist["test_acc"][-1] >= 0.95, hist["test_acc"]


def test_minibatches_cover_each_sample_once_per_epoch():
    from cnncourse.trainer import minibatches
    batches = list(minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    again = list(minibatches(10, 4, np.random.default_rng(0)))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))      # the seed fixes the order
    assert not np.array_equal(np.concatenate(batches), np.arange(10))      # shuffled, not in order
