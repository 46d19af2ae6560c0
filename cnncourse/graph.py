"""Computation-graph nodes for the chain rule (연쇄 법칙), in the spirit of micrograd.

Every node turns its inputs into an output in `forward` and, in `backward(dout)`, multiplies the
upstream gradient `dout = dE/d(out)` by its local gradient `d(out)/d(in)`:

    dE/d(in) = dE/d(out) * d(out)/d(in)

`backward` returns one gradient per input: a tuple for a two-input node, a single value for a
one-input node. Nodes work on Python floats and on numpy arrays (elementwise).

    node           forward                      backward(dout)
    AddNode        x + y                        (dout, dout)
    MulNode        x * y                        (dout * y, dout * x)      inputs swapped
    BranchNode(n)  (x, x, ..., x)  n copies     backward(*douts) = sum of douts
    SigmoidNode    s = 1 / (1 + exp(-x))        dout * s * (1 - s)
    ReLUNode       max(0, x)                    dout where x > 0, else 0
    ExpNode        e = exp(x)                   dout * e
    SquareNode     x ** 2                       dout * 2 * x

`Graph` is a small tape that records the nodes as they run, so a notebook can draw the graph with
its forward values and gradients (`Graph.to_data()` returns plain lists and dicts).

Two worked examples of notebook 01 are computed here (and only drawn by `cnncourse.viz.graph`):
`sigmoid_neuron` runs a 2-input sigmoid neuron with squared error forward and backward on a
`Graph`, and `chain_gradients` multiplies local gradients down a deep chain of one-unit layers
(the vanishing gradient).
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np

Value = Union[float, np.ndarray]

__all__ = ["Node", "AddNode", "MulNode", "BranchNode", "SigmoidNode", "ReLUNode", "ExpNode",
           "SquareNode", "Graph", "sigmoid_neuron", "chain_gradients"]


def _as_value(x: Any) -> Value:
    # Keep Python numbers as floats (readable in a notebook); turn lists into arrays.
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (int, float, np.number)) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=float)
    raise TypeError(f"a graph node takes floats or numpy arrays, got {type(x).__name__}")


class Node:
    """Base class: remembers what `backward` needs and refuses a backward before a forward."""

    op = "node"

    def __init__(self) -> None:
        self._cache: tuple | None = None

    def _saved(self) -> tuple:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache


class AddNode(Node):
    """out = x + y. The local gradients are 1 and 1, so dx = dy = dout (a gradient distributor)."""

    op = "add"

    def forward(self, x: Value, y: Value) -> Value:
        x, y = _as_value(x), _as_value(y)
        self._cache = ()
        return x + y

    def backward(self, dout: Value) -> tuple[Value, Value]:
        self._saved()
        return dout, dout


class MulNode(Node):
    """out = x * y. Local gradients d(out)/dx = y and d(out)/dy = x: the inputs are swapped."""

    op = "mul"

    def forward(self, x: Value, y: Value) -> Value:
        x, y = _as_value(x), _as_value(y)
        self._cache = (x, y)
        return x * y

    def backward(self, dout: Value) -> tuple[Value, Value]:
        x, y = self._saved()
        return dout * y, dout * x


class BranchNode(Node):
    """Fan-out (copy): forward returns `n` copies of x; backward(*douts) = sum of the douts.

    A value used in n places influences E along n paths, so by the multivariable chain rule the
    gradients coming back along those paths add up.
    """

    op = "branch"

    def __init__(self, n: int = 2) -> None:
        super().__init__()
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"a branch needs n >= 1 outputs, got n={n!r}")
        self.n = int(n)

    def forward(self, x: Value) -> tuple[Value, ...]:
        x = _as_value(x)
        self._cache = ()
        # Copies, so that a consumer that edits its array in place cannot change the others.
        if isinstance(x, np.ndarray):
            return tuple(x.copy() for _ in range(self.n))
        return tuple(x for _ in range(self.n))

    def backward(self, *douts: Value) -> Value:
        self._saved()
        if len(douts) != self.n:
            raise ValueError(f"this branch has {self.n} outputs, so backward needs {self.n} "
                             f"upstream gradients, got {len(douts)}")
        total = douts[0]
        for d in douts[1:]:
            total = total + d
        return total


def _sigmoid(x: Value) -> Value:
    # exp(-log(1 + exp(-x))) never overflows, for large positive or negative x.
    out = np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))
    return float(out) if np.ndim(out) == 0 else out


class SigmoidNode(Node):
    """s = 1 / (1 + exp(-x)); local gradient s * (1 - s), at most 0.25 and ~0 when |x| is large."""

    op = "sigmoid"

    def forward(self, x: Value) -> Value:
        s = _sigmoid(_as_value(x))
        self._cache = (s,)
        return s

    def backward(self, dout: Value) -> Value:
        (s,) = self._saved()
        return dout * s * (1.0 - s)


class ReLUNode(Node):
    """out = max(0, x); passes dout through where x > 0 and blocks it elsewhere (x = 0 included)."""

    op = "relu"

    def forward(self, x: Value) -> Value:
        x = _as_value(x)
        self._cache = (x,)
        out = np.maximum(x, 0.0)
        return float(out) if np.ndim(out) == 0 else out

    def backward(self, dout: Value) -> Value:
        (x,) = self._saved()
        grad = np.where(np.asarray(x) > 0, dout, 0.0 * np.asarray(dout))
        return float(grad) if np.ndim(grad) == 0 else grad


class ExpNode(Node):
    """e = exp(x); the local gradient is exp(x) itself, so dx = dout * e."""

    op = "exp"

    def forward(self, x: Value) -> Value:
        e = np.exp(_as_value(x))
        e = float(e) if np.ndim(e) == 0 else e
        self._cache = (e,)
        return e

    def backward(self, dout: Value) -> Value:
        (e,) = self._saved()
        return dout * e


class SquareNode(Node):
    """out = x ** 2; local gradient 2x."""

    op = "square"

    def forward(self, x: Value) -> Value:
        x = _as_value(x)
        self._cache = (x,)
        return x * x

    def backward(self, dout: Value) -> Value:
        (x,) = self._saved()
        return dout * 2.0 * x


class Graph:
    """A tape of nodes: records each value, which node made it and from which values.

    Values are referred to by integer ids::

        g = Graph()
        x, w = g.input(2.0, "x"), g.input(-3.0, "w")
        net = g.add(g.mul(x, w, "x*w"), g.input(1.0, "b"), "net")
        out = g.sigmoid(net, "out")
        g.backward(out)            # dE/d(out) = 1
        g.grad(w)                  # dE/dw
        g.to_data()                # {"nodes": [...], "edges": [...]} for drawing

    A value used by several nodes gets the sum of their gradients (an implicit branch);
    `g.branch(v, n)` makes the fan-out explicit with a `BranchNode`.
    """

    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._grads: list[Value | None] = []

    # -- recording ---------------------------------------------------------------------------
    def _record(self, label: str | None, op: str, node: Node | None, inputs: tuple[int, ...],
                value: Value, out_index: int = 0) -> int:
        vid = len(self._entries)
        self._entries.append({"id": vid, "label": label if label is not None else f"{op}{vid}",
                              "op": op, "node": node, "inputs": inputs, "value": value,
                              "out_index": out_index})
        self._grads.append(None)
        return vid

    def _check_id(self, vid: int) -> None:
        if not isinstance(vid, (int, np.integer)) or not 0 <= vid < len(self._entries):
            raise ValueError(f"{vid!r} is not a value id of this graph "
                             f"(ids run from 0 to {len(self._entries) - 1})")

    def input(self, value: Value, label: str | None = None) -> int:
        """Record a leaf value (an input or a parameter) and return its id."""
        return self._record(label, "input", None, (), _as_value(value))

    def _apply(self, node: Node, label: str | None, *inputs: int) -> int:
        for vid in inputs:
            self._check_id(vid)
        value = node.forward(*(self._entries[i]["value"] for i in inputs))
        return self._record(label, node.op, node, tuple(inputs), value)

    def add(self, a: int, b: int, label: str | None = None) -> int:
        """a + b (AddNode); returns the new value id."""
        return self._apply(AddNode(), label, a, b)

    def mul(self, a: int, b: int, label: str | None = None) -> int:
        """a * b (MulNode); returns the new value id."""
        return self._apply(MulNode(), label, a, b)

    def sigmoid(self, a: int, label: str | None = None) -> int:
        """sigmoid(a) (SigmoidNode); returns the new value id."""
        return self._apply(SigmoidNode(), label, a)

    def relu(self, a: int, label: str | None = None) -> int:
        """max(0, a) (ReLUNode); returns the new value id."""
        return self._apply(ReLUNode(), label, a)

    def exp(self, a: int, label: str | None = None) -> int:
        """exp(a) (ExpNode); returns the new value id."""
        return self._apply(ExpNode(), label, a)

    def square(self, a: int, label: str | None = None) -> int:
        """a ** 2 (SquareNode); returns the new value id."""
        return self._apply(SquareNode(), label, a)

    def branch(self, a: int, n: int = 2, labels: list[str] | None = None) -> tuple[int, ...]:
        """Fan a value out into n recorded copies; returns their ids."""
        self._check_id(a)
        if labels is not None and len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for a branch of {n} outputs")
        node = BranchNode(n)
        copies = node.forward(self._entries[a]["value"])
        return tuple(self._record(labels[k] if labels else None, node.op, node, (a,), copies[k], k)
                     for k in range(n))

    # -- backward ----------------------------------------------------------------------------
    def _accumulate(self, vid: int, grad: Value) -> None:
        current = self._grads[vid]
        self._grads[vid] = grad if current is None else current + grad

    def _grad_or_zero(self, vid: int) -> Value:
        g = self._grads[vid]
        return 0.0 * self._entries[vid]["value"] if g is None else g

    def backward(self, output: int, dout: Value = 1.0) -> None:
        """Fill every value's gradient dE/d(value), with dE/d(output) = dout.

        Values are visited in reverse order of creation, which is a reverse topological order
        because a node can only consume values recorded before it.
        """
        self._check_id(output)
        self._grads = [None] * len(self._entries)
        self._grads[output] = _as_value(dout)
        entries = self._entries
        for vid in range(output, -1, -1):
            entry = entries[vid]
            node = entry["node"]
            if node is None:
                continue
            if isinstance(node, BranchNode):
                # All n copies sit next to each other; run the node once, at copy 0.
                if entry["out_index"] != 0:
                    continue
                douts = [self._grad_or_zero(vid + k) for k in range(node.n)]
                self._accumulate(entry["inputs"][0], node.backward(*douts))
                continue
            if self._grads[vid] is None:
                continue  # does not lead to the output
            grads = node.backward(self._grads[vid])
            if len(entry["inputs"]) == 1:
                grads = (grads,)
            for src, g in zip(entry["inputs"], grads):
                self._accumulate(src, g)

    # -- reading -----------------------------------------------------------------------------
    def value(self, vid: int) -> Value:
        """The forward value recorded under id vid."""
        self._check_id(vid)
        return self._entries[vid]["value"]

    def grad(self, vid: int) -> Value:
        """dE/d(value) after `backward`; 0 for a value that does not reach the output."""
        self._check_id(vid)
        return self._grad_or_zero(vid)

    def to_data(self) -> dict[str, list]:
        """Plain data for drawing: nodes and edges (src id, dst id).

        Each node is {"id", "label", "op", "value", "grad", "out_index"}; grad is None for a
        value that does not reach the output (or before `backward`); out_index numbers the
        copies of one `branch` call 0..n-1 and is 0 for every other node.
        """
        nodes = [{"id": e["id"], "label": e["label"], "op": e["op"], "value": e["value"],
                  "grad": self._grads[e["id"]], "out_index": e["out_index"]}
                 for e in self._entries]
        edges = [(src, e["id"]) for e in self._entries for src in e["inputs"]]
        return {"nodes": nodes, "edges": edges}


# -- worked examples of notebook 01 ----------------------------------------------------------
def sigmoid_neuron(o1: float, o2: float, w1: float, w2: float, b: float, t: float
                   ) -> tuple[Graph, dict[str, float]]:
    """A 2-input sigmoid neuron with squared error, run forward and backward on a `Graph`.

        net = w1 o1 + w2 o2 + b,   o = sigmoid(net),   E = (o - t)^2 / 2
        dE/do = o - t,   dE/dnet = (o - t) o (1 - o),   dE/dw_i = dE/dnet * o_i,
        dE/db = dE/dnet,   dE/do_i = dE/dnet * w_i

    The tape is built from mul/add/sigmoid/square nodes (E = (o + (-t))^2 * 1/2), with the
    inputs labelled "o1", "w1", "o2", "w2", "b", "-t", "1/2"; `backward` has run from E.

    Inputs: six floats. Output: (graph, numbers) where graph is the `Graph` (draw it with
    `cnncourse.viz.graph.draw_graph(*graph_from_tape(graph.to_data()))`) and numbers a dict of
    floats: "net", "o", "E", "dE/dw1", "dE/dw2", "dE/db", "dE/do1", "dE/do2".
    """
    g = Graph()
    ids = {name: g.input(float(value), name)
           for name, value in (("o1", o1), ("w1", w1), ("o2", o2), ("w2", w2), ("b", b))}
    net = g.add(g.add(g.mul(ids["w1"], ids["o1"]), g.mul(ids["w2"], ids["o2"])), ids["b"])
    out = g.sigmoid(net)
    error = g.mul(g.square(g.add(out, g.input(-float(t), "-t"))), g.input(0.5, "1/2"))
    g.backward(error)
    numbers = {"net": float(g.value(net)), "o": float(g.value(out)), "E": float(g.value(error))}
    numbers.update({f"dE/d{name}": float(g.grad(ids[name]))
                    for name in ("w1", "w2", "b", "o1", "o2")})
    return g, numbers


def chain_gradients(activation: str, depth: int, net: float = 10.0,
                    dtype: type = np.float64) -> np.ndarray:
    """Gradient reaching each layer of a chain of `depth` one-unit layers (weights 1, dE/do=1).

    Layer k computes o_k = f(net_k) with every net_k = `net`; backprop multiplies the
    upstream gradient by f'(net) per layer:

        g_L = f'(net),   g_k = g_{k+1} * f'(net)   so   g_k = f'(net) ** (L - k + 1)

    activation: "sigmoid" (f' = s(1-s), at most 1/4) or "relu" (f' = 1 if net > 0 else 0).
    Output: array (depth,), entry k-1 = dE/dnet_k, every product rounded to `dtype` (so
    float32 underflows to exactly 0 after fewer layers than float64).
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    if activation == "sigmoid":
        s = dtype(1.0) / (dtype(1.0) + np.exp(-dtype(net)))
        local = dtype(s * (dtype(1.0) - s))
    elif activation == "relu":
        local = dtype(1.0 if net > 0 else 0.0)
    else:
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")
    grads = np.empty(depth, dtype=dtype)
    upstream = dtype(1.0)
    for k in range(depth - 1, -1, -1):
        upstream = dtype(upstream * local)
        grads[k] = upstream
    return grads
