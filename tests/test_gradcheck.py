"""numerical_gradient, rel_error and check_layer_gradients on functions with known gradients."""
import numpy as np
import pytest

from cnncourse.gradcheck import check_layer_gradients, numerical_gradient, rel_error


def test_numerical_gradient_of_quadratic_any_shape():
    rng = np.random.default_rng(0)
    for shape in [(5,), (3, 4), (2, 3, 2, 2)]:
        x = rng.standard_normal(shape)
        before = x.copy()
        grad = numerical_gradient(lambda v: np.sum(v ** 2) + 3 * np.sum(v), x)
        np.testing.assert_allclose(grad, 2 * before + 3, rtol=1e-8, atol=1e-8)
        np.testing.assert_array_equal(x, before)  # restored exactly
        assert grad.shape == shape and grad.dtype == np.float64


def test_numerical_gradient_of_sin_product():
    x = np.array([0.3, -1.1, 2.0])
    grad = numerical_gradient(lambda v: np.sin(v[0]) * np.cos(v[1]) * v[2], x)
    expected = [np.cos(0.3) * np.cos(-1.1) * 2.0, -np.sin(0.3) * np.sin(-1.1) * 2.0,
                np.sin(0.3) * np.cos(-1.1)]
    np.testing.assert_allclose(grad, expected, rtol=1e-8)


def test_central_difference_beats_one_sided():
    x0 = 1.0
    h = 1e-2
    one_sided = (np.exp(x0 + h) - np.exp(x0)) / h
    central = numerical_gradient(lambda v: np.exp(v[0]), np.array([x0]), h=h)[0]
    assert rel_error(central, np.e) < 1e-4 < rel_error(one_sided, np.e)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] != 1.0:
            raise ArithmeticError("boom")
        return v.sum()

    with pytest.raises(ArithmeticError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_input_errors():
    with pytest.raises(TypeError, match="numpy array"):
        numerical_gradient(lambda v: 0.0, [1.0, 2.0])
    with pytest.raises(TypeError, match="floating dtype"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="positive"):
        numerical_gradient(lambda v: 0.0, np.array([1.0]), h=0.0)


def test_rel_error_formula():
    a = np.array([1.0, 0.0, 2.0])
    b = np.array([1.1, 0.0, 2.0])
    assert rel_error(a, b) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0  # eps guard: no nan
    assert rel_error(1e-11, 0.0) == pytest.approx(1.0)  # |a|+|b| above eps: plain ratio
    assert rel_error(np.array([0.0]), np.array([1e-13]), eps=1e-12) == pytest.approx(1e-13 / 1e-12)
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(2), np.zeros(3))


class _Scale:
    """y = x * W elementwise over the last axis; backward can be broken on purpose."""
    param_names = ("W",)

    def __init__(self, W, broken=False):
        self.W, self.broken = W, broken

    def forward(self, x):
        self.x = x
        return x * self.W

    def backward(self, dout):
        self.dW = (dout * self.x).sum(axis=0)
        if self.broken:
            self.dW = self.dW * 1.01
        return dout * self.W


def test_check_layer_gradients_accepts_right_and_rejects_wrong():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    good = check_layer_gradients(_Scale(rng.standard_normal(3)), x)
    assert set(good) == {"dx", "dW"}
    assert max(good.values()) < 1e-8
    bad = check_layer_gradients(_Scale(rng.standard_normal(3), broken=True), x)
    assert bad["dW"] > 1e-3 and bad["dx"] < 1e-8


def test_check_layer_gradients_refuses_float32_params():
    with pytest.raises(TypeError, match="float64"):
        check_layer_gradients(_Scale(np.ones(3, dtype=np.float32)), np.ones((2, 3)))
