"""Forward and backward of the computation-graph nodes and the Graph tape."""
import math

import numpy as np
import pytest

from cnncourse.graph import (AddNode, BranchNode, ExpNode, Graph, MulNode, ReLUNode, SigmoidNode,
                             SquareNode)
from cnncourse.gradcheck import numerical_gradient


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
