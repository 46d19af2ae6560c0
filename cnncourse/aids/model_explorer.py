"""Layer-by-layer tables of a model: output shape, parameters and cumulative parameters per layer.

The plain logic behind the case-study explorer widget (`cnncourse.widgets.models`). A table is a
list of `LayerRow`; everything here works on plain Python data, except `layer_rows`, which runs
`cnncourse.summary` on a model (torch is imported only then). On the ``meta`` device the shapes
of VGG-16 or ResNet-34 come out without allocating a single weight:

    with torch.device("meta"):
        model = vgg16()
    rows = layer_rows(model, (3, 224, 224))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["LayerRow", "make_rows", "rows_from_summary", "layer_rows", "cumulative_params", "total_params",
           "params_by_kind", "param_share", "row_at", "format_count", "format_shape",
           "format_row", "explorer_view"]


@dataclass(frozen=True)
class LayerRow:
    """One layer of a model table.

    index: position in the table (0-based); name: dotted module name ("features.0");
    kind: layer type ("Conv2d"); output_shape: output shape without the batch axis, e.g.
    (96, 55, 55), or None when the layer returns no single tensor; params: parameters this
    layer owns; cumulative: parameters of this layer and every layer above it.
    """
    index: int
    name: str
    kind: str
    output_shape: tuple[int, ...] | None
    params: int
    cumulative: int


def cumulative_params(params: Sequence[int]) -> list[int]:
    """Running totals: out[i] = params[0] + ... + params[i].

    Inputs: params, a sequence of N non-negative ints. Output: a list of N ints.
    """
    totals, running = [], 0
    for i, count in enumerate(params):
        count = int(count)
        if count < 0:
            raise ValueError(f"params[{i}] = {count}: a parameter count cannot be negative")
        running += count
        totals.append(running)
    return totals


def make_rows(layers: Iterable[tuple[str, str, Sequence[int] | None, int]]) -> list[LayerRow]:
    """Build a table from plain tuples (name, kind, output_shape, params), filling in the
    index and the cumulative parameter count.

    Inputs: an iterable of N tuples. Output: a list of N `LayerRow`.
    """
    layers = list(layers)
    for i, layer in enumerate(layers):
        if len(layer) != 4:
            raise ValueError(f"layer {i} is {layer!r}: expected (name, kind, output_shape, params)")
    cumulative = cumulative_params([params for *_, params in layers])
    return [LayerRow(i, str(name), str(kind), None if shape is None else tuple(int(s) for s in shape),
                     int(params), cumulative[i])
            for i, (name, kind, shape, params) in enumerate(layers)]


def _first_shape(shape) -> tuple[int, ...] | None:
    # A layer returning several tensors has a tuple of shapes; the explorer shows the first.
    if shape is None:
        return None
    shape = tuple(shape)
    if shape and all(isinstance(s, tuple) for s in shape):
        return tuple(int(s) for s in shape[0])
    if any(isinstance(s, tuple) for s in shape):
        return None
    return tuple(int(s) for s in shape)


def rows_from_summary(model_summary) -> list[LayerRow]:
    """Turn a `cnncourse.summary` result (a `ModelSummary`) into explorer rows.

    Input: a ModelSummary with `rows` (name, type, output_shape, params). Output: a list of
    `LayerRow` in the same order, with running parameter totals.
    """
    return make_rows((row.name, row.type, _first_shape(row.output_shape), row.params)
                     for row in model_summary.rows)


def layer_rows(model, input_size: Sequence[int]) -> list[LayerRow]:
    """Tabulate a model layer by layer: `cnncourse.summary(model, input_size)` as `LayerRow`s.

    Inputs: model, a torch ``nn.Module`` (on cpu or on the ``meta`` device, where no weight is
    allocated) or a numpy net of this package; input_size, one example's shape without the
    batch axis, e.g. (3, 224, 224).
    Output: a list of `LayerRow`, one per executed leaf layer (or module owning parameters
    directly), in call order. A layer called twice (a shared ReLU) gives two rows, its
    parameters counted in the first, so ``rows[-1].cumulative`` equals the model's parameter
    count whenever every parameter takes part in the forward pass (auxiliary classifiers of
    a model in eval mode do not).
    """
    from .summary import summary  # torch is imported there only for torch models

    return rows_from_summary(summary(model, tuple(int(s) for s in input_size), verbose=False))


def total_params(rows: Sequence[LayerRow]) -> int:
    """Sum of the parameters in a table (0 for an empty table)."""
    return sum(row.params for row in rows)


def params_by_kind(rows: Sequence[LayerRow]) -> dict[str, int]:
    """Parameters summed per layer kind, e.g. {"Conv2d": 14714688, "Linear": 123642856}.

    Kinds without parameters are left out; the dict keeps first-appearance order.
    """
    totals: dict[str, int] = {}
    for row in rows:
        if row.params:
            totals[row.kind] = totals.get(row.kind, 0) + row.params
    return totals


def param_share(rows: Sequence[LayerRow], kinds: Sequence[str] | str) -> float:
    """Fraction of all parameters in layers of the given kind(s): sum(kind) / sum(all).

    Example: ``param_share(vgg_rows, "Linear")`` is the FC share of VGG-16 (about 0.894).
    """
    if isinstance(kinds, str):
        kinds = (kinds,)
    total = total_params(rows)
    if total == 0:
        raise ValueError("the table has no parameters, so a share is undefined")
    return sum(row.params for row in rows if row.kind in kinds) / total


def row_at(rows: Sequence[LayerRow], index: int) -> LayerRow:
    """The row at `index`, with an error that names the valid range."""
    if not rows:
        raise ValueError("the table is empty")
    if not 0 <= index < len(rows):
        raise IndexError(f"layer index {index} is outside 0..{len(rows) - 1}")
    return rows[index]


def format_count(n: int) -> str:
    """12345678 -> '12,345,678' (the way the lectures write parameter counts)."""
    return f"{int(n):,}"


def format_shape(shape: Sequence[int] | None) -> str:
    """(96, 55, 55) -> '96 x 55 x 55'; None -> '-'."""
    if shape is None:
        return "-"
    return " x ".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def format_row(row: LayerRow, total: int) -> str:
    """One line describing a row: index, name, kind, output shape, params, cumulative share."""
    share = row.cumulative / total if total else 0.0
    return (f"[{row.index}] {row.name} ({row.kind}): output {format_shape(row.output_shape)}, "
            f"{format_count(row.params)} params, cumulative {format_count(row.cumulative)} "
            f"({100 * share:.1f}% of {format_count(total)})")


def explorer_view(rows: Sequence[LayerRow], index: int) -> dict:
    """Everything the explorer widget shows for layer `index` of a table, as plain data.

    Output keys: row (the `LayerRow`), text (see `format_row`), total (all parameters),
    fraction (cumulative / total, in [0, 1]), layer_fraction (this layer's params / total),
    neurons (product of the output shape, 0 when unknown), position ("layer i+1 of N").
    """
    row = row_at(rows, index)
    total = total_params(rows)
    neurons = 0
    if row.output_shape is not None:
        neurons = 1
        for size in row.output_shape:
            neurons *= size
    return {
        "row": row,
        "text": format_row(row, total),
        "total": total,
        "fraction": row.cumulative / total if total else 0.0,
        "layer_fraction": row.params / total if total else 0.0,
        "neurons": neurons,
        "position": f"layer {index + 1} of {len(rows)}",
    }
