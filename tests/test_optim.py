"""Optimizer steps on a quadratic, against hand-computed steps and torch.optim."""
import math

import numpy as np
import pytest

from cnncourse.optim import SGD, AdaGrad, Adam, Momentum, init_std, make_optimizer

CURVATURE = np.array([1.0, 4.0, 0.5])
MINIMUM = np.array([2.0, -1.0, 0.5])


def quad_grad(p):
    # f(p) = 0.5 * sum(a * (p - c)^2), so grad = a * (p - c)
    return CURVATURE * (p - MINIMUM)


@pytest.mark.parametrize("opt,steps", [(SGD(lr=0.2), 200), (Momentum(lr=0.05, momentum=0.9), 300),
                                       (AdaGrad(lr=0.5), 2000), (Adam(lr=0.05), 2000)])
def test_optimizers_reach_the_minimum_in_place(opt, steps):
    p = np.zeros(3)
    params = {"p": p}
    for _ in range(steps):
        opt.update(params, {"p": quad_grad(params["p"])})
    assert params["p"] is p  # updated in place, never rebound
    np.testing.assert_allclose(p, MINIMUM, atol=1e-3)


def test_first_steps_by_hand():
    g = np.array([1.0, -2.0])
    p = np.zeros(2); SGD(lr=0.1).update({"w": p}, {"w": g})
    np.testing.assert_allclose(p, [-0.1, 0.2])

    p = np.zeros(2); m = Momentum(lr=0.1, momentum=0.5)
    m.update({"w": p}, {"w": g}); m.update({"w": p}, {"w": g})
    # v1 = -0.1 g, v2 = 0.5 v1 - 0.1 g = -0.15 g; p = v1 + v2 = -0.25 g
    np.testing.assert_allclose(p, -0.25 * g)

    p = np.zeros(2); a = AdaGrad(lr=0.1, eps=0.0)
    a.update({"w": p}, {"w": g}); a.update({"w": p}, {"w": g})
    # h1 = g^2, h2 = 2 g^2: steps 0.1 sign(g) and 0.1 sign(g) / sqrt(2)
    np.testing.assert_allclose(p, -0.1 * np.sign(g) * (1 + 1 / math.sqrt(2)))

    p = np.zeros(2); adam = Adam(lr=0.1, eps=0.0)
    adam.update({"w": p}, {"w": g})
    np.testing.assert_allclose(p, -0.1 * np.sign(g))  # bias-corrected first step = lr * sign(g)


@pytest.mark.parametrize("name,kwargs", [("sgd", {"lr": 0.1}), ("momentum", {"lr": 0.05}),
                                         ("adagrad", {"lr": 0.3}), ("adam", {"lr": 0.05})])
def test_optimizers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    p_np = np.array([0.3, -0.7, 1.5])
    p_t = torch.tensor(p_np.copy(), requires_grad=True)
    ours = make_optimizer(name, **kwargs)
    if name == "sgd":
        theirs = torch.optim.SGD([p_t], lr=kwargs["lr"])
    elif name == "momentum":
        # torch: buf = mu buf + g; p -= lr buf  ==  ours with v = -lr buf (same for constant lr)
        theirs = torch.optim.SGD([p_t], lr=kwargs["lr"], momentum=0.9)
    elif name == "adagrad":
        theirs = torch.optim.Adagrad([p_t], lr=kwargs["lr"], eps=1e-7)
    else:
        theirs = torch.optim.Adam([p_t], lr=kwargs["lr"], eps=1e-8)
    for _ in range(25):
        ours.update({"p": p_np}, {"p": quad_grad(p_np)})
        theirs.zero_grad()
        loss = 0.5 * (torch.tensor(CURVATURE) * (p_t - torch.tensor(MINIMUM)) ** 2).sum()
        loss.backward()
        theirs.step()
    np.testing.assert_allclose(p_np, p_t.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_update_errors():
    opt = SGD(lr=0.1)
    with pytest.raises(KeyError, match="'b'"):
        opt.update({"W": np.zeros(2), "b": np.zeros(1)}, {"W": np.zeros(2)})
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.update({"W": np.zeros(2)}, {"W": np.zeros(3)})
    with pytest.raises(TypeError, match="in place"):
        opt.update({"W": 1.0}, {"W": 0.5})
    with pytest.raises(TypeError, match="in place"):
        opt.update({"W": np.zeros(2, dtype=int)}, {"W": np.zeros(2)})
    with pytest.raises(ValueError, match="learning rate"):
        Adam(lr=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop")


def test_make_optimizer_defaults():
    assert isinstance(make_optimizer("Adam"), Adam) and make_optimizer("adam").lr == 0.001
    assert make_optimizer("momentum", lr=0.5, momentum=0.8).momentum == 0.8


def test_init_std():
    assert init_std("xavier", 100) == pytest.approx(0.1)
    assert init_std("he", 50) == pytest.approx(0.2)
    assert init_std("relu", 50) == init_std("he", 50)
    assert init_std("sigmoid", 4) == 0.5
    assert init_std(0.01, 784) == 0.01
    with pytest.raises(ValueError, match="unknown weight init"):
        init_std("lecun", 10)
    with pytest.raises(ValueError, match="fan_in"):
        init_std("he", 0)
    with pytest.raises(ValueError, match="positive"):
        init_std(-0.1, 10)
