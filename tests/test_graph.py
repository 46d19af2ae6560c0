"""Forward and backward of the computation-graph nodes and the Graph tape, and the two worked
examples of notebook 01 built on them (sigmoid_neuron, chain_gradients)."""
import math

import numpy as np
import pytest

from cnncourse.graph import (AddNode, BranchNode, ExpNode, Graph, MulNode, ReLUNode, SigmoidNode,
                             SquareNode, chain_gradients, sigmoid_neuron)
from cnncourse.gradcheck import numerical_gradient, rel_error


def test_add_passes_gradient_unchanged_to_both_inputs():
    node = AddNode()
    assert node.forward(2.0, 3.5) == 5.5
    assert node.backward(1.7) == (1.7, 1.7)


def test_mul_swaps_inputs_in_backward():
    node = MulNode()
    assert node.forward(2.0, -3.0) == -6.0
    dx, dy = node.backward(1.5)
    assert dx == pytest.approx(1.5 * -3.0)
    assert dy == pytest.approx(1.5 * 2.0)


def test_branch_returns_copies_and_sums_gradients():
    node = BranchNode(3)
    x = np.array([1.0, -2.0])
    outs = node.forward(x)
    assert len(outs) == 3
    outs[0][0] = 99.0  # a consumer editing its copy must not affect the others
    np.testing.assert_array_equal(outs[1], x)
    dx = node.backward(np.array([1.0, 2.0]), np.array([0.5, 0.5]), np.array([-1.0, 4.0]))
    np.testing.assert_allclose(dx, [0.5, 6.5])
    with pytest.raises(ValueError, match="3 upstream gradients"):
        node.backward(1.0, 2.0)


def test_branch_rejects_bad_n():
    with pytest.raises(ValueError, match="n >= 1"):
        BranchNode(0)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        SigmoidNode().backward(1.0)


@pytest.mark.parametrize("x", [-3.0, -0.4, 0.0, 0.7, 5.0])
def test_sigmoid_local_gradient_is_s_times_one_minus_s(x):
    node = SigmoidNode()
    s = node.forward(x)
    assert s == pytest.approx(1 / (1 + math.exp(-x)))
    assert node.backward(2.0) == pytest.approx(2.0 * s * (1 - s))


def test_sigmoid_is_stable_for_large_inputs():
    node = SigmoidNode()
    out = node.forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, 1.0])
    assert np.all(np.isfinite(node.backward(np.ones(2))))


def test_relu_passes_gradient_only_where_input_positive():
    node = ReLUNode()
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(node.forward(x), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(node.backward(np.array([5.0, 5.0, 5.0])), [0.0, 0.0, 5.0])
    scalar = ReLUNode()
    assert scalar.forward(-1.0) == 0.0 and scalar.backward(3.0) == 0.0


def test_exp_and_square_nodes_match_numerical_gradients():
    x = np.array([[0.3, -1.2], [2.0, 0.1]])
    dout = np.array([[1.0, -0.5], [0.25, 2.0]])
    for node_cls in (ExpNode, SquareNode, SigmoidNode, ReLUNode):
        node = node_cls()
        node.forward(x)
        analytic = node.backward(dout)
        numeric = numerical_gradient(lambda v: np.sum(node_cls().forward(v) * dout), x.copy())
        np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9,
                                   err_msg=node_cls.__name__)


def test_saturated_sigmoid_chain_vanishes_but_relu_keeps_one():
    # Ten layers, each with net = 10 on the forward path (weight 1, bias added to reach 10).
    depth = 10
    sig_grad, relu_grad = 1.0, 1.0
    sig_nodes = [SigmoidNode() for _ in range(depth)]
    relu_nodes = [ReLUNode() for _ in range(depth)]
    for s_node, r_node in zip(sig_nodes, relu_nodes):
        s_node.forward(10.0)
        r_node.forward(10.0)
    for s_node, r_node in zip(reversed(sig_nodes), reversed(relu_nodes)):
        sig_grad = s_node.backward(sig_grad)
        relu_grad = r_node.backward(relu_grad)
    local = 1 / (1 + math.exp(-10.0)) * (1 - 1 / (1 + math.exp(-10.0)))
    assert local < 5e-5
    assert sig_grad == pytest.approx(local ** depth, rel=1e-9)
    assert 1.0 + sig_grad == 1.0  # numerically zero: lost below float64 precision next to 1
    assert relu_grad == 1.0


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_vanishing_gradient_through_a_deep_chain_of_neurons(activation):
    # Each layer: net_k = w * o_{k-1} + b_k with w = 1 and b_k chosen so that net_k = 10.
    g = Graph()
    o = g.input(0.0, "x")
    for k in range(1, 13):
        w = g.input(1.0, f"w{k}")
        b = g.input(10.0 - g.value(o), f"b{k}")
        if k == 1:
            first_bias = b
        net = g.add(g.mul(w, o), b, f"net{k}")
        assert g.value(net) == pytest.approx(10.0)
        o = getattr(g, activation)(net, f"o{k}")
    g.backward(o)
    # dE/dw1 = (prod of the 12 local gradients) * x, with x = 0 here, so look at dE/db1 instead
    first_bias_grad = g.grad(first_bias)
    if activation == "sigmoid":
        assert 0.0 < first_bias_grad and 1.0 + first_bias_grad == 1.0
    else:
        assert first_bias_grad == 1.0


def test_graph_neuron_backward_by_hand():
    g = Graph()
    x, w, b = g.input(2.0, "x"), g.input(-3.0, "w"), g.input(7.0, "b")
    net = g.add(g.mul(x, w, "xw"), b, "net")   # net = 1
    out = g.sigmoid(net, "out")
    g.backward(out)
    s = 1 / (1 + math.exp(-1.0))
    assert g.value(out) == pytest.approx(s)
    assert g.grad(net) == pytest.approx(s * (1 - s))
    assert g.grad(w) == pytest.approx(s * (1 - s) * 2.0)
    assert g.grad(x) == pytest.approx(s * (1 - s) * -3.0)
    assert g.grad(b) == pytest.approx(s * (1 - s))


def test_graph_sums_gradients_at_a_fan_out():
    # f = x * x + exp(x), with x used three times: df/dx = 2x + exp(x).
    for explicit in (False, True):
        g = Graph()
        x = g.input(0.5, "x")
        a, b, c = g.branch(x, 3) if explicit else (x, x, x)
        f = g.add(g.mul(a, b), g.exp(c), "f")
        g.backward(f)
        assert g.grad(x) == pytest.approx(2 * 0.5 + math.exp(0.5))
        if explicit:
            nodes = g.to_data()["nodes"]
            assert [n["out_index"] for n in nodes if n["op"] == "branch"] == [0, 1, 2]
            assert [n["grad"] for n in nodes if n["op"] == "branch"] == pytest.approx(
                [0.5, 0.5, math.exp(0.5)])


def test_graph_to_data_is_plain_and_complete():
    g = Graph()
    x = g.input(3.0, "x")
    y = g.square(x, "y")
    z = g.relu(y, "z")
    unused = g.exp(x, "unused")
    g.backward(z, dout=2.0)
    data = g.to_data()
    assert [n["label"] for n in data["nodes"]] == ["x", "y", "z", "unused"]
    assert [n["op"] for n in data["nodes"]] == ["input", "square", "relu", "exp"]
    assert data["edges"] == [(x, y), (y, z), (x, unused)]
    grads = {n["label"]: n["grad"] for n in data["nodes"]}
    assert grads["z"] == 2.0 and grads["y"] == 2.0 and grads["x"] == pytest.approx(12.0)
    assert grads["unused"] is None


def test_graph_rejects_unknown_ids_and_types():
    g = Graph()
    x = g.input(1.0)
    with pytest.raises(ValueError, match="not a value id"):
        g.add(x, 5)
    with pytest.raises(TypeError, match="floats or numpy arrays"):
        g.input("one")


# -- worked examples of notebook 01 ----------------------------------------------------------
def test_sigmoid_neuron_matches_hand_values_and_numerical_gradient():
    tape, numbers = sigmoid_neuron(2.0, -1.0, 0.5, 1.5, 0.5, 1.0)
    assert isinstance(tape, Graph)
    assert (numbers["net"], numbers["o"], numbers["E"]) == (0.0, 0.5, 0.125)
    assert numbers["dE/dw1"] == pytest.approx(-0.25)
    assert numbers["dE/dw2"] == pytest.approx(0.125)
    assert numbers["dE/db"] == pytest.approx(-0.125)
    assert all(isinstance(value, float) for value in numbers.values())
    labels = [node["label"] for node in tape.to_data()["nodes"] if node["op"] == "input"]
    assert labels == ["o1", "w1", "o2", "w2", "b", "-t", "1/2"]

    def loss(p):
        o1, o2, w1, w2, b = p
        return 0.5 * (1 / (1 + np.exp(-(w1 * o1 + w2 * o2 + b))) - 0.3) ** 2

    point = np.array([0.7, -1.3, 0.4, -0.9, 0.2])
    _, numbers = sigmoid_neuron(*point[:2], *point[2:], t=0.3)
    analytic = [numbers[k] for k in ("dE/do1", "dE/do2", "dE/dw1", "dE/dw2", "dE/db")]
    assert rel_error(analytic, numerical_gradient(loss, point.copy())) < 1e-8


def test_sigmoid_neuron_saturation_shrinks_the_gradient():
    # Notebook 01's comparison: b = -5 saturates the neuron (o near 0), the error grows about
    # 4x while dE/dw1 shrinks about 31x.
    _, before = sigmoid_neuron(o1=2.0, o2=-1.0, w1=0.5, w2=1.5, b=0.5, t=1.0)
    _, saturated = sigmoid_neuron(o1=2.0, o2=-1.0, w1=0.5, w2=1.5, b=-5.0, t=1.0)
    o = saturated["o"]
    assert saturated["dE/dw1"] == pytest.approx((o - 1.0) * o * (1 - o) * 2.0)
    assert round(saturated["E"] / before["E"]) == 4
    assert round(before["dE/dw1"] / saturated["dE/dw1"]) == 31


def test_chain_gradients_sigmoid_is_a_power_of_the_local_gradient():
    s = 1 / (1 + np.exp(-10.0))
    local = s * (1 - s)
    grads = chain_gradients("sigmoid", 5, net=10.0)
    assert grads.shape == (5,) and grads.dtype == np.float64
    # layer k receives L - k + 1 local factors
    assert np.allclose(grads, local ** np.arange(5, 0, -1), rtol=1e-12, atol=0)
    assert np.allclose(chain_gradients("sigmoid", 3, net=0.0), [0.25 ** 3, 0.25 ** 2, 0.25])
    assert chain_gradients("sigmoid", 1, net=0.0).shape == (1,)


def test_chain_gradients_agrees_with_the_graph_tape():
    # The closed form above is what backprop on a tape of sigmoid nodes gives.
    g = Graph()
    o = g.input(0.0, "x")
    biases = []
    for k in range(4):
        biases.append(g.input(10.0 - g.value(o), f"b{k + 1}"))
        o = g.sigmoid(g.add(o, biases[-1]))
    g.backward(o)
    assert np.allclose([g.grad(b) for b in biases], chain_gradients("sigmoid", 4, net=10.0),
                       rtol=1e-9, atol=0)


def test_chain_gradients_relu_and_underflow():
    assert np.array_equal(chain_gradients("relu", 30, net=1.0), np.ones(30))
    assert np.array_equal(chain_gradients("relu", 3, net=0.0), np.zeros(3))
    grads32 = chain_gradients("sigmoid", 11, dtype=np.float32)
    assert grads32.dtype == np.float32
    assert grads32[0] == 0.0 and grads32[1] > 0.0       # 11 factors underflow, 10 do not
    grads64 = chain_gradients("sigmoid", 75)
    assert grads64[0] == 0.0 and grads64[1] > 0.0


def test_chain_gradients_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tanh"):
        chain_gradients("tanh", 3)
    with pytest.raises(ValueError, match="depth"):
        chain_gradients("relu", 0)
    with pytest.raises(ValueError, match="depth"):
        chain_gradients("relu", True)
