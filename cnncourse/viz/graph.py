"""Figures for notebook 01: computation graphs with values and gradients, and vanishing gradients.

A graph is described with plain data so that the layout logic can be tested without drawing:

    labels = {"x": "x", "y": "y", "mul": "*", "out": "f"}
    edges = [GraphEdge("x", "mul", value=2.0, grad=-3.0),
             GraphEdge("y", "mul", value=-3.0, grad=2.0),
             GraphEdge("mul", "out", value=-6.0, grad=1.0)]
    fig = draw_graph(labels, edges)

Every edge shows its forward value above the arrow and the gradient dE/d(value) below it.
Nodes with no incoming edge (inputs) and with no outgoing edge (the result) are drawn as plain
text; operation nodes are drawn as boxes. A tape of `cnncourse.graph.Graph` becomes such a
description with `graph_from_tape(g.to_data())`.

This module only lays out and draws: the numbers it shows (a neuron's values and gradients,
`cnncourse.graph.sigmoid_neuron`; gradients through depth, `cnncourse.graph.chain_gradients`)
are computed in `cnncourse.graph`. matplotlib is imported only inside the drawing functions,
so importing this module stays cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

__all__ = ["GraphEdge", "node_columns", "auto_layout", "format_number", "graph_from_tape",
           "draw_graph", "plot_gradient_through_depth"]

# What an op box shows; inputs show their own label.
OP_SYMBOLS = {"add": "+", "mul": "×", "branch": "copy", "sigmoid": "σ", "relu": "ReLU",
              "exp": "exp", "square": "x²"}


@dataclass(frozen=True)
class GraphEdge:
    """An arrow src -> dst carrying a forward `value` and the backward `grad` dE/d(value).

    `grad=None` draws the edge before the backward pass has run (values only).
    """
    src: str
    dst: str
    value: float
    grad: float | None = None


def _check_edges(names: Sequence[str], edges: Sequence[GraphEdge]) -> None:
    known = set(names)
    for edge in edges:
        for end in (edge.src, edge.dst):
            if end not in known:
                raise ValueError(f"edge {edge.src!r} -> {edge.dst!r} names node {end!r}, "
                                 f"which is not among the nodes {sorted(known)}")
        if edge.src == edge.dst:
            raise ValueError(f"edge {edge.src!r} -> {edge.dst!r} is a self-loop")


def node_columns(names: Sequence[str], edges: Sequence[GraphEdge]) -> dict[str, int]:
    """Column of every node = length of the longest path reaching it from an input.

    Inputs (no incoming edge) get column 0, so every arrow points to the right.
    Input: node names (N,), edges (E,). Output: dict name -> column (int >= 0).
    Raises ValueError on an unknown node name or a cycle (a computation graph is acyclic).
    """
    _check_edges(names, edges)
    incoming: dict[str, list[str]] = {name: [] for name in names}
    for edge in edges:
        incoming[edge.dst].append(edge.src)
    column: dict[str, int] = {}
    # Iterative relaxation: at most N rounds in a DAG; a change in round N means a cycle.
    for _ in range(len(names) + 1):
        changed = False
        for name in names:
            best = max((column.get(src, 0) + 1 for src in incoming[name]), default=0)
            if column.get(name) != best:
                column[name] = best
                changed = True
        if not changed:
            return column
    raise ValueError("the edges contain a cycle; a computation graph must be acyclic")


def auto_layout(names: Sequence[str], edges: Sequence[GraphEdge], dx: float = 2.2,
                dy: float = 1.6, sweeps: int = 4) -> dict[str, tuple[float, float]]:
    """(x, y) position of every node: x = column * dx, nodes of a column stacked dy apart.

    Columns come from `node_columns`, except that an input feeding only later columns is
    pulled right to sit just before its first consumer (so `z` in (x + y) * z stands next to
    the multiply, not beside x and y). Within a column, nodes start in the order of `names`
    (top to bottom) and are then re-sorted by the mean height of their neighbours, sweeping
    left-to-right and back `sweeps` times (the barycentre heuristic), which removes most edge
    crossings. Each column is centred on y = 0. Output: dict name -> (x, y).
    """
    column = node_columns(names, edges)
    preds: dict[str, list[str]] = {name: [] for name in names}
    succs: dict[str, list[str]] = {name: [] for name in names}
    for edge in edges:
        preds[edge.dst].append(edge.src)
        succs[edge.src].append(edge.dst)
    for name in names:
        if not preds[name] and succs[name]:
            column[name] = min(column[dst] for dst in succs[name]) - 1
    by_column: dict[int, list[str]] = {}
    for name in names:
        by_column.setdefault(column[name], []).append(name)
    height: dict[str, float] = {}

    def place(members: list[str]) -> None:
        top = (len(members) - 1) * dy / 2
        for row, name in enumerate(members):
            height[name] = top - row * dy

    for members in by_column.values():
        place(members)
    order = sorted(by_column)
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        for col in (order if forward else order[::-1]):
            def barycentre(name: str) -> float:
                near = (preds if forward else succs)[name] or (succs if forward else preds)[name]
                return -float(np.mean([height[n] for n in near])) if near else -height[name]
            members = sorted(by_column[col], key=barycentre)  # stable: ties keep their order
            by_column[col] = members
            place(members)
    return {name: (column[name] * dx, height[name]) for name in names}


def format_number(value: float | None, digits: int = 3) -> str:
    """Short label for a value: `digits` significant digits, '' for None, no '-0'."""
    if value is None:
        return ""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    return text


def graph_from_tape(data: Mapping[str, list], output_label: str = "E"
                    ) -> tuple[dict[str, str], list[GraphEdge]]:
    """Turn `cnncourse.graph.Graph.to_data()` into (labels, edges) for `draw_graph`.

    data: {"nodes": [{"id", "label", "op", "value", "grad"}, ...], "edges": [(src, dst), ...]}
    with scalar values. An edge src -> dst carries src's value and gradient. The copies a
    `Graph.branch` records (consecutive ids, op "branch", same input) become one "copy" box
    whose outgoing edges show each copy's own gradient, so the sum at a fan-out is visible.
    Every value nobody consumes gets an arrow to a text node `output_label`.
    Output: labels dict name -> text, list of GraphEdge.
    """
    nodes = list(data["nodes"])
    for node in nodes:
        for key in ("value", "grad"):
            if node[key] is not None and np.ndim(node[key]) != 0:
                raise ValueError(f"value {node['label']!r} has {key} of shape "
                                 f"{np.shape(node[key])}; only scalar graphs can be drawn")
    inputs_of = {node["id"]: [] for node in nodes}
    for src, dst in data["edges"]:
        inputs_of[dst].append(src)
    # Map each value id to the box that draws it (branch copies share their first copy's box).
    box_of: dict[int, str] = {}
    previous = None
    for node in nodes:
        is_copy = (node["op"] == "branch" and previous is not None and previous["op"] == "branch"
                   and inputs_of[previous["id"]] == inputs_of[node["id"]])
        box_of[node["id"]] = box_of[previous["id"]] if is_copy else f"v{node['id']}"
        previous = node
    labels: dict[str, str] = {}
    for node in nodes:
        name = box_of[node["id"]]
        if name not in labels:
            labels[name] = (node["label"] if node["op"] == "input"
                            else OP_SYMBOLS.get(node["op"], node["op"]))
    by_id = {node["id"]: node for node in nodes}
    # A merged copy's input edge is the same arrow as the first copy's: draw it once.
    edges = [GraphEdge(box_of[src], box_of[dst], float(by_id[src]["value"]),
                       None if by_id[src]["grad"] is None else float(by_id[src]["grad"]))
             for src, dst in data["edges"] if box_of[dst] == f"v{dst}"]
    consumed = {src for src, _ in data["edges"]}
    sinks = [node for node in nodes if node["id"] not in consumed and node["op"] != "input"]
    if sinks:
        labels[output_label] = output_label
    for node in sinks:
        edges.append(GraphEdge(box_of[node["id"]], output_label, float(node["value"]),
                               None if node["grad"] is None else float(node["grad"])))
    return labels, edges


def draw_graph(labels: Mapping[str, str], edges: Sequence[GraphEdge], ax=None,
               positions: Mapping[str, tuple[float, float]] | None = None,
               title: str | None = None, digits: int = 3):
    """Draw a computation graph: op nodes as boxes, value above / gradient below each edge.

    labels: dict node name -> text shown (e.g. "*", "+", "σ"); its order fixes the top-to-
    bottom order inside a column. edges: GraphEdge list. positions: optional dict name ->
    (x, y); default `auto_layout`. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    names = list(labels)
    positions = dict(positions) if positions is not None else auto_layout(names, edges)
    missing = [name for name in names if name not in positions]
    if missing:
        raise ValueError(f"positions lack the nodes {missing}")
    _check_edges(names, edges)
    has_in = {edge.dst for edge in edges}
    has_out = {edge.src for edge in edges}

    if ax is None:
        xs = [p[0] for p in positions.values()]
        ys = [p[1] for p in positions.values()]
        # Same scale on both axes (aspect "equal"), about 0.75 inch per layout unit.
        width = min(16.0, 0.75 * (max(xs) - min(xs) + 1.2))
        height = 0.75 * (max(ys) - min(ys) + 1.6) * width / (0.75 * (max(xs) - min(xs) + 1.2))
        width, height = max(width, 3.0), max(height, 1.8)
        fig, ax = plt.subplots(figsize=(width, height))
    else:
        fig = ax.figure

    half_h = 0.26

    def half_width(name: str) -> float:
        # Boxes grow with their label so "ReLU" or "copy" fits inside.
        return max(0.32, 0.07 * len(labels[name]) + 0.08)

    for name in names:
        x, y = positions[name]
        is_op = name in has_in and name in has_out
        half_w = half_width(name)
        if is_op:
            ax.add_patch(FancyBboxPatch((x - half_w, y - half_h), 2 * half_w, 2 * half_h,
                                        boxstyle="round,pad=0.04", facecolor="#e8eef7",
                                        edgecolor="#33415c", linewidth=1.4, zorder=3))
        ax.text(x, y, labels[name], ha="center", va="center", fontsize=13,
                fontweight="bold" if is_op else "normal", zorder=4)

    for edge in edges:
        (x0, y0), (x1, y1) = positions[edge.src], positions[edge.dst]
        start = (x0 + (half_width(edge.src) + 0.04 if edge.src in has_in else 0.25), y0)
        end = (x1 - (half_width(edge.dst) + 0.06 if edge.dst in has_out else 0.25), y1)
        ax.annotate("", xy=end, xytext=start, zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#555555", linewidth=1.2))
        # Labels sit 40% of the way along: arrows converging on one box stay apart there.
        mid_x, mid_y = start[0] + 0.4 * (end[0] - start[0]), start[1] + 0.4 * (end[1] - start[1])
        ax.text(mid_x, mid_y + 0.1, format_number(edge.value, digits), ha="center",
                va="bottom", color="#1b7a3a", fontsize=10, zorder=5)
        if edge.grad is not None:
            ax.text(mid_x, mid_y - 0.1, format_number(edge.grad, digits), ha="center",
                    va="top", color="#b3261e", fontsize=10, zorder=5)

    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.text(min(xs) - 0.55, min(ys) - 0.75, "green: forward value   red: gradient dE/d(value)",
            fontsize=8, color="#444444", va="bottom")
    if title:
        ax.set_title(title)
    return fig


def plot_gradient_through_depth(curves: Mapping[str, np.ndarray], ax=None,
                                floor: float | None = None, title: str | None = None):
    """Semilog plot of |gradient| against layer index (1 = first layer, nearest the input).

    curves: dict label -> array (depth,) of gradients, entry k-1 for layer k (e.g. from
    `cnncourse.graph.chain_gradients`). Entries that are
    exactly 0 cannot sit on a log axis: they are drawn at `floor` (default: 1/100 of the
    smallest nonzero magnitude) with an 'x' marker, and the legend says so.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    magnitudes = {}
    for label, grads in curves.items():
        magnitude = np.abs(np.asarray(grads, dtype=np.float64))
        if magnitude.ndim != 1 or magnitude.size == 0:
            raise ValueError(f"curve {label!r} must be a non-empty 1-D array (depth,), "
                             f"got shape {magnitude.shape}")
        magnitudes[label] = magnitude
    if floor is None:
        nonzero = [m[m > 0].min() for m in magnitudes.values() if (m > 0).any()]
        floor = min(nonzero) / 100 if nonzero else 1e-300
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for label, magnitude in magnitudes.items():
        layers = np.arange(1, magnitude.size + 1)
        zero = magnitude == 0
        shown = np.where(zero, floor, magnitude)
        line, = ax.semilogy(layers, shown, marker="o", markersize=3, label=label)
        if zero.any():
            ax.semilogy(layers[zero], shown[zero], linestyle="none", marker="x",
                        color=line.get_color(), label=f"{label}: exactly 0 (drawn at {floor:.1e})")
    ax.set_xlabel("layer k (1 = nearest the input)")
    ax.set_ylabel("|dE/dnet_k|")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
