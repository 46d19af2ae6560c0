"""Every layer's forward and backward: against numerical gradients (float64, rel. error < 1e-7)
and against torch autograd (torch imported inside the tests)."""
import numpy as np
import pytest

from cnncourse.gradcheck import check_layer_gradients, numerical_gradient, rel_error
from cnncourse.layers import (ActivationLoss, Affine, BatchNorm, Dropout, MSELoss, PerceptronStep,
                              ReLU, Sigmoid, SoftmaxWithLoss, Tanh, cross_entropy_error,
                              labels_to_indices, multilabel_soft_margin, sigmoid, softmax)

TOL = 1e-7


def rng(seed=0):
    return np.random.default_rng(seed)


def away_from_zero(shape, seed=0):
    # ReLU's kink at 0 would spoil a finite difference that straddles it.
    x = rng(seed).standard_normal(shape)
    return x + 0.1 * np.sign(x)


# ------------------------------------------------------------------------------ numerical checks
def test_affine_gradients_on_image_input():
    r = rng(1)
    layer = Affine(r.standard_normal((2 * 3 * 2, 5)), r.standard_normal(5))
    x = r.standard_normal((4, 2, 3, 2))
    # F is linear in each entry, so a central difference has no truncation error and a larger h
    # only shrinks the round-off (~1e-16 |F| / h) that dominates tiny entries of dW.
    errs = check_layer_gradients(layer, x, h=1e-3)
    assert set(errs) == {"dx", "dW", "db"}
    assert max(errs.values()) < TOL, errs
    dx = layer.backward(np.ones((4, 5)))
    assert dx.shape == x.shape  # dx gets the original (N, C, H, W) shape back


@pytest.mark.parametrize("layer_cls", [ReLU, Sigmoid, Tanh])
def test_activation_gradients(layer_cls):
    errs = check_layer_gradients(layer_cls(), away_from_zero((3, 4, 2)))
    assert errs["dx"] < TOL, errs


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_gradients(one_hot):
    x = rng(2).standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    if one_hot:
        t = np.eye(4)[t]
    errs = check_layer_gradients(SoftmaxWithLoss(), x, t=t)
    assert errs["dx"] < TOL, errs


def test_mse_loss_gradients():
    x = rng(3).standard_normal((6, 3))
    t = rng(4).standard_normal((6, 3))
    errs = check_layer_gradients(MSELoss(), x, t=t, dout=2.5)
    assert errs["dx"] < TOL, errs


class _FixedMaskDropout(Dropout):
    """Redraws the same mask on every forward, so a finite difference sees one function."""

    def forward(self, x):
        self.rng = np.random.default_rng(7)
        return super().forward(x)


def test_dropout_gradients_with_fixed_mask():
    errs = check_layer_gradients(_FixedMaskDropout(0.4), rng(5).standard_normal((6, 5)))
    assert errs["dx"] < TOL, errs


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(shape, training):
    r = rng(6)
    layer = BatchNorm(r.standard_normal(3) + 1.0, r.standard_normal(3),
                      running_mean=r.standard_normal(3), running_var=r.random(3) + 0.5)
    layer.training = training
    x = 2.0 * r.standard_normal(shape) + 1.0
    errs = check_layer_gradients(layer, x)
    assert set(errs) == {"dx", "dgamma", "dbeta"}
    assert max(errs.values()) < TOL, errs


# ------------------------------------------------------------------------------ torch autograd
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _torch_grads(torch, fn, *arrays):
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    return out, tensors


def test_affine_matches_torch(torch):
    r = rng(10)
    x, W, b = r.standard_normal((4, 2, 3)), r.standard_normal((6, 5)), r.standard_normal(5)
    dout = r.standard_normal((4, 5))
    layer = Affine(W.copy(), b.copy())
    out = layer.forward(x)
    dx = layer.backward(dout)
    t_out, (tx, tW, tb) = _torch_grads(torch, lambda a, w, c: a.reshape(4, -1) @ w + c, x, W, b)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12)
    assert rel_error(dx, tx.grad.numpy()) < 1e-12
    assert rel_error(layer.dW, tW.grad.numpy()) < 1e-12
    assert rel_error(layer.db, tb.grad.numpy()) < 1e-12


@pytest.mark.parametrize("layer_cls,torch_fn",
                         [(ReLU, "relu"), (Sigmoid, "sigmoid"), (Tanh, "tanh")])
def test_activations_match_torch(layer_cls, torch_fn, torch):
    x = away_from_zero((5, 3), seed=11)
    dout = rng(12).standard_normal((5, 3))
    layer = layer_cls()
    out = layer.forward(x)
    dx = layer.backward(dout)
    t_out, (tx,) = _torch_grads(torch, getattr(torch, torch_fn), x)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert rel_error(dx, tx.grad.numpy()) < 1e-12


def test_softmax_with_loss_matches_torch_cross_entropy(torch):
    x = 5 * rng(13).standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, 3, 1])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(1.0)
    t_loss, (tx,) = _torch_grads(
        torch, lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t)), x)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    assert rel_error(dx, tx.grad.numpy()) < 1e-12


def test_mse_loss_matches_torch(torch):
    y, t = rng(14).standard_normal((5, 3)), rng(15).standard_normal((5, 3))
    layer = MSELoss()
    loss = layer.forward(y, t)
    dy = layer.backward()
    # 0.5 * mean over the batch of the per-sample sum = 0.5 * D * torch's elementwise mean.
    t_loss, (ty,) = _torch_grads(torch,
        lambda a: 0.5 * 3 * torch.nn.functional.mse_loss(a, torch.tensor(t)), y)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    assert rel_error(dy, ty.grad.numpy()) < 1e-12


@pytest.mark.parametrize("shape", [(10, 3), (4, 3, 2, 5)])
def test_batchnorm_train_matches_torch(shape, torch):
    r = rng(16)
    x = 3 * r.standard_normal(shape) + 2
    gamma, beta = r.standard_normal(3), r.standard_normal(3)
    dout = r.standard_normal(shape)
    layer = BatchNorm(gamma.copy(), beta.copy(), momentum=0.9, eps=1e-5)
    out = layer.forward(x)
    dx = layer.backward(dout)
    t_out, (tx, tg, tb) = _torch_grads(torch,
        lambda a, g, c: torch.nn.functional.batch_norm(a, None, None, g, c, training=True,
                                                       eps=1e-5),
        x, gamma, beta)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert rel_error(dx, tx.grad.numpy()) < 1e-9
    assert rel_error(layer.dgamma, tg.grad.numpy()) < 1e-10
    assert rel_error(layer.dbeta, tb.grad.numpy()) < 1e-10


def test_batchnorm_eval_matches_torch(torch):
    r = rng(17)
    x = r.standard_normal((6, 3))
    gamma, beta = r.standard_normal(3), r.standard_normal(3)
    mean, var = r.standard_normal(3), r.random(3) + 0.5
    layer = BatchNorm(gamma.copy(), beta.copy(), running_mean=mean, running_var=var)
    layer.training = False
    dout = r.standard_normal((6, 3))
    out = layer.forward(x)
    dx = layer.backward(dout)
    t_out, (tx,) = _torch_grads(torch, lambda a: torch.nn.functional.batch_norm(
        a, torch.tensor(mean), torch.tensor(var), torch.tensor(gamma), torch.tensor(beta),
        training=False, eps=1e-5), x)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert rel_error(dx, tx.grad.numpy()) < 1e-12


# ------------------------------------------------------------------------------ behaviour
def test_batchnorm_running_statistics_update_in_place():
    r = rng(18)
    layer = BatchNorm(np.ones(2), np.zeros(2), momentum=0.9)
    running_mean = layer.running_mean
    x = r.standard_normal((50, 2)) * [1.0, 3.0] + [5.0, -1.0]
    layer.forward(x)
    assert layer.running_mean is running_mean
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * x.var(axis=0))
    out = layer.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    layer.training = False
    before = layer.running_mean.copy()
    layer.forward(x)
    np.testing.assert_array_equal(layer.running_mean, before)  # eval never updates


def test_batchnorm_rejects_bad_shapes():
    layer = BatchNorm(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 3, H, W\)"):
        layer.forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="same shape"):
        BatchNorm(np.ones(3), np.zeros(2))


def test_dropout_train_and_eval():
    layer = Dropout(0.3, seed=0)
    x = np.ones((200, 100))
    out = layer.forward(x)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7)  # inverted dropout keeps the mean
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)) != 0, kept)
    layer.training = False
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(2 * x), 2 * x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


def test_affine_rejects_wrong_sizes():
    with pytest.raises(ValueError, match=r"W of shape \(D, M\)"):
        Affine(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="6 features per sample"):
        Affine(np.zeros((6, 2)), np.zeros(2)).forward(np.zeros((4, 5)))


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        ReLU().backward(np.ones(3))


def test_softmax_is_stable_and_normalized():
    x = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]])
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    np.testing.assert_allclose(y[0], [0.5, 0.5, 0.0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(y[1], e / e.sum())
    np.testing.assert_allclose(softmax(np.array([1.0, 2.0, 3.0])), e / e.sum())


def test_sigmoid_function():
    assert sigmoid(0.0) == 0.5
    np.testing.assert_allclose(sigmoid(np.array([-800.0, 2.0, 800.0])),
                               [0.0, 1 / (1 + np.exp(-2.0)), 1.0])


def test_cross_entropy_error_indices_one_hot_and_single_sample():
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert cross_entropy_error(y, np.array([0, 2])) == pytest.approx(expected)
    assert cross_entropy_error(y, np.eye(3)[[0, 2]]) == pytest.approx(expected)
    assert cross_entropy_error(y[0], 0) == pytest.approx(-np.log(0.7))
    assert cross_entropy_error(y[0], np.array([1.0, 0.0, 0.0])) == pytest.approx(-np.log(0.7))
    assert np.isfinite(cross_entropy_error(np.array([[1.0, 0.0]]), np.array([1])))


def test_softmax_with_loss_value_and_label_errors():
    x = np.array([[2.0, 1.0, 0.1]])
    layer = SoftmaxWithLoss()
    assert layer.forward(x, np.array([0])) == pytest.approx(-np.log(softmax(x)[0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        layer.forward(x, np.array([3]))
    with pytest.raises(ValueError, match="2 labels for 1 samples"):
        layer.forward(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        layer.forward(x[0], np.array([0]))


def test_mse_loss_convention_and_shape_check():
    y = np.array([[1.0, 2.0], [3.0, 5.0]])
    t = np.array([[1.0, 0.0], [2.0, 5.0]])
    # per sample 0.5 * sum of squares: 0.5 * 4 and 0.5 * 1; mean over the batch of 2
    assert MSELoss().forward(y, t) == pytest.approx((2.0 + 0.5) / 2)
    with pytest.raises(ValueError, match="same shape"):
        MSELoss().forward(np.zeros((4, 1)), np.zeros(4))


def test_labels_to_indices():
    np.testing.assert_array_equal(labels_to_indices(np.eye(4)[[2, 0]], 4), [2, 0])
    np.testing.assert_array_equal(labels_to_indices([1, 3], 4), [1, 3])
    with pytest.raises(ValueError, match="integers"):
        labels_to_indices(np.array([0.5]), 4)
    with pytest.raises(ValueError, match="3 columns"):
        labels_to_indices(np.zeros((2, 3)), 4)


def test_named_params_and_grads_are_the_layer_arrays():
    layer = Affine(np.ones((3, 2)), np.zeros(2))
    params = layer.named_params()
    assert params["W"] is layer.W and params["b"] is layer.b
    layer.forward(np.ones((4, 3)))
    layer.backward(np.ones((4, 2)))
    grads = layer.named_grads()
    np.testing.assert_array_equal(grads["W"], np.full((3, 2), 4.0))
    np.testing.assert_array_equal(grads["b"], [4.0, 4.0])
    assert ReLU().named_params() == {}


def test_layer_base_holds_the_protocol():
    from cnncourse.conv import Convolution
    from cnncourse.layers import Layer
    from cnncourse.pooling import GlobalAvgPooling, Pooling

    class Scale(Layer):
        param_names = ("w",)

        def __init__(self, w):
            super().__init__()
            self.w = np.asarray(w, dtype=float)

        def forward(self, x):
            self.x = np.asarray(x)
            return self.x * self.w

        def backward(self, dout):
            (x,) = self._cached("x")
            self.dw = np.sum(dout * x)
            return dout * self.w

    layer = Scale(2.0)
    assert layer.training is True
    with pytest.raises(RuntimeError, match=r"^Scale\.backward called before forward$"):
        layer.backward(np.ones(3))
    layer.forward(np.arange(3.0))
    np.testing.assert_array_equal(layer.backward(np.ones(3)), [2.0, 2.0, 2.0])
    assert layer.named_params() == {"w": layer.w} and layer.named_grads() == {"w": 3.0}
    assert repr(layer) == "Scale(w=())"
    # Every numpy layer of the course shares this base (conv and pooling included).
    for cls in (Affine, ReLU, Sigmoid, Tanh, SoftmaxWithLoss, MSELoss, Dropout, BatchNorm,
                Convolution, Pooling, GlobalAvgPooling):
        assert issubclass(cls, Layer), cls


# --- old pairings of output activation and loss, and the multi-label loss --------------------------------------------------------------------------
def test_perceptron_step_forward_and_rule():
    step = PerceptronStep()
    x = np.array([[-1.0, 0.0, 2.0]])
    assert np.array_equal(step.forward(x), [[0.0, 0.0, 1.0]])
    dout = np.array([[0.5, -1.0, 2.0]])
    assert np.array_equal(step.backward(dout), dout)  # the perceptron rule: passes the error
    with pytest.raises(RuntimeError, match="before forward"):
        PerceptronStep().backward(dout)


def test_activation_loss_is_sigmoid_then_mse_with_a_correct_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    t = np.eye(3)[[0, 2, 1, 2]]
    loss_layer = ActivationLoss(Sigmoid(), MSELoss())
    s = 1 / (1 + np.exp(-x))
    assert np.isclose(loss_layer.forward(x, t), 0.5 * np.sum((s - t) ** 2) / 4)
    dx = loss_layer.backward(1.0)
    numeric = numerical_gradient(lambda v: ActivationLoss(Sigmoid(), MSELoss()).forward(v, t),
                                 x.copy())
    assert rel_error(dx, numeric) < 1e-7
    assert "Sigmoid" in repr(loss_layer)


def test_a_net_ending_in_activation_loss_trains():
    from cnncourse.trainer import Trainer
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 4))
    t = (x[:, 0] > 0).astype(int)
    from cnncourse.nets import DeepMLP
    net = DeepMLP(4, [], 2, seed=0)
    net.last_layer = ActivationLoss(PerceptronStep(), MSELoss())
    Trainer(net, x, np.eye(2)[t], epochs=20, batch_size=10, optimizer="sgd", lr=0.1,
            progress=False).fit()
    assert net.accuracy(x, t) > 0.9


def test_multilabel_soft_margin_matches_formula_and_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4)) * 3
    y = (rng.random((3, 4)) > 0.5).astype(float)
    loss, dx = multilabel_soft_margin(x, y)
    s = 1 / (1 + np.exp(-x))
    assert isinstance(loss, float)
    assert np.isclose(loss, -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)))
    numeric = numerical_gradient(lambda v: multilabel_soft_margin(v, y)[0], x.copy())
    assert dx.shape == x.shape and rel_error(dx, numeric) < 1e-7


def test_multilabel_soft_margin_is_stable_and_validates():
    loss, dx = multilabel_soft_margin([[1000.0, -1000.0]], [[0.0, 1.0]])
    assert np.isclose(loss, 1000.0) and np.all(np.isfinite(dx))
    with pytest.raises(ValueError, match="same shape"):
        multilabel_soft_margin(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        multilabel_soft_margin(np.zeros((1, 2)), [[2.0, 0.0]])
    with pytest.raises(ValueError, match="at least one"):
        multilabel_soft_margin(np.zeros((0, 2)), np.zeros((0, 2)))


def test_multilabel_soft_margin_agrees_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((5, 3)), (rng.random((5, 3)) > 0.4).astype(float)
    expected = torch.nn.functional.multilabel_soft_margin_loss(torch.tensor(x), torch.tensor(y))
    assert np.isclose(multilabel_soft_margin(x, y)[0], float(expected))
