"""Layout logic and figure builders of cnncourse.viz.graph (notebook 01)."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.graph import Graph, chain_gradients, sigmoid_neuron  # noqa: E402
from cnncourse.viz.graph import (GraphEdge, auto_layout, draw_graph, format_number,  # noqa: E402
                                 graph_from_tape, node_columns, plot_gradient_through_depth)

# f = (x + y) * z with its forward values and gradients
XYZ_LABELS = {"x": "x", "y": "y", "z": "z", "add": "+", "mul": "×", "f": "f"}
XYZ_EDGES = [GraphEdge("x", "add", 1.5, -3.0), GraphEdge("y", "add", 2.5, -3.0),
             GraphEdge("add", "mul", 4.0, -3.0), GraphEdge("z", "mul", -3.0, 4.0),
             GraphEdge("mul", "f", -12.0, 1.0)]


def _neuron_tape() -> Graph:
    g = Graph()
    o1, o2 = g.input(2.0, "o1"), g.input(-1.0, "o2")
    w1, w2, b = g.input(0.5, "w1"), g.input(1.5, "w2"), g.input(0.5, "b")
    net = g.add(g.add(g.mul(w1, o1), g.mul(w2, o2)), b)
    g.backward(g.sigmoid(net))
    return g


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_import_does_not_load_matplotlib_ipywidgets_or_torch():
    code = ("import sys, cnncourse.viz.graph, cnncourse.widgets.graph; "
            "sys.exit(1 if {'matplotlib', 'ipywidgets', 'torch'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_node_columns_are_longest_path_from_an_input():
    columns = node_columns(list(XYZ_LABELS), XYZ_EDGES)
    assert columns == {"x": 0, "y": 0, "z": 0, "add": 1, "mul": 2, "f": 3}


def test_node_columns_rejects_cycles_and_unknown_nodes():
    with pytest.raises(ValueError, match="cycle"):
        node_columns(["a", "b"], [GraphEdge("a", "b", 1.0), GraphEdge("b", "a", 1.0)])
    with pytest.raises(ValueError, match="'c'"):
        node_columns(["a", "b"], [GraphEdge("a", "c", 1.0)])
    with pytest.raises(ValueError, match="self-loop"):
        node_columns(["a"], [GraphEdge("a", "a", 1.0)])


def test_auto_layout_pulls_late_inputs_right_and_arrows_point_right():
    positions = auto_layout(list(XYZ_LABELS), XYZ_EDGES, dx=2.0)
    assert positions["z"][0] == positions["add"][0] == 2.0   # z stands just before the multiply
    assert positions["x"][0] == 0.0
    for edge in XYZ_EDGES:
        assert positions[edge.src][0] < positions[edge.dst][0]
    assert len(set(positions.values())) == len(positions), "two nodes share a position"


def _crossings(positions, edges):
    count = 0
    for i, e1 in enumerate(edges):
        for e2 in edges[i + 1:]:
            same_span = (positions[e1.src][0] == positions[e2.src][0]
                         and positions[e1.dst][0] == positions[e2.dst][0])
            if same_span:
                d_src = positions[e1.src][1] - positions[e2.src][1]
                d_dst = positions[e1.dst][1] - positions[e2.dst][1]
                count += d_src * d_dst < 0
    return count


def test_auto_layout_untangles_the_neuron():
    # Inputs recorded as o1, o2, w1, w2 would cross if kept in that order.
    labels, edges = graph_from_tape(_neuron_tape().to_data())
    positions = auto_layout(list(labels), edges)
    assert _crossings(positions, edges) == 0
    naive = auto_layout(list(labels), edges, sweeps=0)
    assert _crossings(naive, edges) > 0


def test_format_number():
    assert format_number(None) == ""
    assert format_number(0.0) == format_number(-0.0) == "0"
    assert format_number(-0.1875, digits=3) == "-0.188"
    assert format_number(-0.1875, digits=4) == "-0.1875"
    assert format_number(4.0) == "4"
    assert format_number(3.7166997618944944e-44) == "3.72e-44"
    assert format_number(float("nan")) == "nan"


def test_graph_from_tape_edges_carry_source_value_and_gradient():
    labels, edges = graph_from_tape(_neuron_tape().to_data())
    assert labels["E"] == "E"
    assert sorted(labels.values()).count("×") == 2
    by_label = {labels[name]: name for name in labels if labels[name] in ("w1", "o1", "σ")}
    w1_edge = next(e for e in edges if e.src == by_label["w1"])
    # dE/dw1 = s'(0) * o1 = 0.25 * 2
    assert w1_edge.value == 0.5 and w1_edge.grad == pytest.approx(0.5)
    out_edge = next(e for e in edges if e.dst == "E")
    assert out_edge.src == by_label["σ"] and out_edge.value == 0.5 and out_edge.grad == 1.0
    assert len(edges) == 10   # 9 recorded inputs of nodes + the arrow to E


def test_graph_from_tape_merges_branch_copies_into_one_box():
    g = Graph()
    x = g.input(3.0, "x")
    a, b = g.branch(x, 2)
    g.backward(g.mul(a, b))
    labels, edges = graph_from_tape(g.to_data())
    copy_boxes = [name for name, text in labels.items() if text == "copy"]
    assert len(copy_boxes) == 1
    into_copy = [e for e in edges if e.dst == copy_boxes[0]]
    out_of_copy = [e for e in edges if e.src == copy_boxes[0]]
    assert len(into_copy) == 1 and len(out_of_copy) == 2
    # The fan-out rule is visible on the figure: incoming gradient = sum of outgoing ones.
    assert into_copy[0].grad == pytest.approx(sum(e.grad for e in out_of_copy)) == 6.0


def test_graph_from_tape_refuses_array_values():
    g = Graph()
    x = g.input(np.array([1.0, 2.0]), "x")
    g.backward(g.square(x), np.ones(2))
    with pytest.raises(ValueError, match="scalar"):
        graph_from_tape(g.to_data())


def test_draw_graph_writes_values_and_gradients():
    fig = draw_graph(XYZ_LABELS, XYZ_EDGES, title="t")
    texts = [t.get_text() for t in fig.axes[0].texts]
    for value in ("1.5", "2.5", "4", "-3", "-12", "1"):
        assert value in texts
    assert texts.count("-3") == 4        # z's value and three gradients of -3
    assert fig.axes[0].get_title() == "t"


def test_draw_graph_without_gradients_and_with_given_axes():
    fig, ax = plt.subplots()
    edges = [GraphEdge(e.src, e.dst, e.value) for e in XYZ_EDGES]
    assert draw_graph(XYZ_LABELS, edges, ax=ax) is fig
    texts = [t.get_text() for t in ax.texts]
    assert "-12" in texts and "1" not in texts


def test_draw_graph_rejects_missing_positions():
    with pytest.raises(ValueError, match="lack"):
        draw_graph(XYZ_LABELS, XYZ_EDGES, positions={"x": (0.0, 0.0)})


def test_plot_gradient_through_depth_marks_exact_zeros():
    sigmoid32 = chain_gradients("sigmoid", 15, dtype=np.float32)
    curves = {"sigmoid f32": sigmoid32, "relu": chain_gradients("relu", 15)}
    fig = plot_gradient_through_depth(curves, title="depth")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    zero_markers = [line for line in ax.get_lines() if "exactly 0" in line.get_label()]
    # 11 or more saturated factors underflow in float32: layers 1..5 of 15
    assert len(zero_markers) == 1
    assert list(zero_markers[0].get_xdata()) == [1, 2, 3, 4, 5]
    floor = np.abs(sigmoid32[sigmoid32 != 0]).min() / 100
    assert np.allclose(zero_markers[0].get_ydata(), floor)
    relu_line = next(line for line in ax.get_lines() if line.get_label() == "relu")
    assert np.array_equal(relu_line.get_ydata(), np.ones(15))


def test_plot_gradient_through_depth_rejects_2d_curves():
    with pytest.raises(ValueError, match="1-D"):
        plot_gradient_through_depth({"bad": np.ones((2, 2))})


def test_sigmoid_neuron_tape_draws_as_one_graph():
    # The numbers come from cnncourse.graph; this module only turns the tape into a figure.
    tape, numbers = sigmoid_neuron(2.0, -1.0, 0.5, 1.5, 0.5, 1.0)
    labels, edges = graph_from_tape(tape.to_data())
    assert "E" in labels and len(edges) == 15   # 14 node inputs + the arrow to E
    into_e = [edge for edge in edges if edge.dst == "E"]
    assert len(into_e) == 1 and into_e[0].value == numbers["E"] and into_e[0].grad == 1.0
    fig = draw_graph(labels, edges)
    assert "0.125" in [t.get_text() for t in fig.axes[0].texts]


def test_plot_module_computes_no_notebook_numbers():
    # Numbers that notebook 01 asserts live in cnncourse.graph, not in the plot module.
    import cnncourse.viz.graph as viz_graph

    assert not hasattr(viz_graph, "chain_gradients") and not hasattr(viz_graph, "neuron_graph")


def test_neuron_explorer_redraws_on_slider_change():
    import ipywidgets as widgets

    from cnncourse.widgets.graph import SLIDER_NAMES, neuron_explorer

    box = neuron_explorer()
    assert isinstance(box, widgets.VBox)
    sliders = {s.description: s for s in box.children[0].children}
    assert tuple(sliders) == SLIDER_NAMES
    summary = box.children[1]
    assert "net = 0," in summary.value and "dE/dw1 = -0.25" in summary.value
    sliders["b"].value = 1.5      # net = 1 now
    assert "net = 1," in summary.value
    assert "dE/dw1 = -0.25" not in summary.value


def test_neuron_explorer_rejects_start_outside_range():
    from cnncourse.widgets.graph import neuron_explorer

    with pytest.raises(ValueError, match="outside"):
        neuron_explorer(w1=10.0, limit=6.0)
