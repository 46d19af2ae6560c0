"""Layer-by-layer tables of a model: output shape, parameters and cumulative parameters per layer.

The plain logic behind the case-study explorer widget (`cnncourse.widgets.models`). A table is a
list of `cnncourse.aids.summary.SummaryRow` (the one row type: name, type, kind, output_shape,
params, trainable_params), usually `cnncourse.summary(model, input_size).rows`; running totals,
per-kind sums and shares are computed here from the rows. Everything works on plain Python data,
except `layer_rows`, which runs `cnncourse.summary` on a model (torch is imported only then). On
the ``meta`` device the shapes of VGG-16 or ResNet-34 come out without allocating a single
weight:

    with torch.device("meta"):
        model = vgg16()
    rows = layer_rows(model, (3, 224, 224))
    params_by_kind(rows)      # {"conv": 14714688, "fc": 123642856}
"""
from __future__ import annotations

from typing import Sequence

from .summary import SummaryRow, format_shape

__all__ = ["layer_rows", "cumulative_params", "total_params", "params_by_kind", "param_share",
           "row_at", "output_values", "format_count", "format_row", "explorer_view"]


def layer_rows(model, input_size: Sequence[int]) -> list[SummaryRow]:
    """Tabulate a model layer by layer: the rows of `cnncourse.summary(model, input_size)`.

    Inputs: model, a torch ``nn.Module`` (on cpu or on the ``meta`` device, where no weight is
    allocated) or a numpy net of this package; input_size, one example's shape without the
    batch axis, e.g. (3, 224, 224).
    Output: a list of `SummaryRow`, one per executed leaf layer (or module owning parameters
    directly), in call order. A layer called twice (a shared ReLU) gives two rows, its
    parameters counted in the first, so ``cumulative_params(rows)[-1]`` equals the model's
    parameter count whenever every parameter takes part in the forward pass (auxiliary
    classifiers of a model in eval mode do not).
    """
    from .summary import summary  # torch is imported there only for torch models

    return summary(model, tuple(int(s) for s in input_size), verbose=False).rows


def _counts(rows: Sequence[SummaryRow] | Sequence[int]) -> list:
    # Rows give their `params`; plain counts (ints, numpy ints) pass through.
    return [getattr(row, "params", row) for row in rows]


def cumulative_params(rows: Sequence[SummaryRow] | Sequence[int]) -> list[int]:
    """Running totals: out[i] = params[0] + ... + params[i].

    Inputs: N rows (their `params`) or N non-negative ints. Output: a list of N ints.
    """
    totals, running = [], 0
    for i, count in enumerate(_counts(rows)):
        count = int(count)
        if count < 0:
            raise ValueError(f"params[{i}] = {count}: a parameter count cannot be negative")
        running += count
        totals.append(running)
    return totals


def total_params(rows: Sequence[SummaryRow]) -> int:
    """Sum of the parameters in a table (0 for an empty table)."""
    return sum(row.params for row in rows)


def params_by_kind(rows: Sequence[SummaryRow]) -> dict[str, int]:
    """Parameters summed per layer kind, e.g. {"conv": 14714688, "fc": 123642856} for VGG-16.

    Kinds are `SummaryRow.kind` (see `cnncourse.aids.summary.layer_kind`); kinds without
    parameters are left out; the dict keeps first-appearance order.
    """
    totals: dict[str, int] = {}
    for row in rows:
        if row.params:
            totals[row.kind] = totals.get(row.kind, 0) + row.params
    return totals


def param_share(rows: Sequence[SummaryRow], kinds: Sequence[str] | str) -> float:
    """Fraction of all parameters in layers of the given kind(s): sum(kind) / sum(all).

    Example: ``param_share(vgg_rows, "fc")`` is the FC share of VGG-16 (about 0.894).
    """
    if isinstance(kinds, str):
        kinds = (kinds,)
    total = total_params(rows)
    if total == 0:
        raise ValueError("the table has no parameters, so a share is undefined")
    return sum(row.params for row in rows if row.kind in kinds) / total


def row_at(rows: Sequence[SummaryRow], index: int) -> SummaryRow:
    """The row at `index`, with an error that names the valid range."""
    if not rows:
        raise ValueError("the table is empty")
    if not 0 <= index < len(rows):
        raise IndexError(f"layer index {index} is outside 0..{len(rows) - 1}")
    return rows[index]


def output_values(shape: tuple) -> int:
    """Number of values one example produces at a layer (its "neurons").

    (96, 55, 55) -> 290400; () -> 1 (a scalar); several outputs ((10,), (3, 2)) -> 10 + 6.
    """
    if shape and all(isinstance(s, tuple) for s in shape):
        return sum(output_values(s) for s in shape)
    count = 1
    for size in shape:
        count *= int(size)
    return count


def format_count(n: int) -> str:
    """12345678 -> '12,345,678' (the way the lectures write parameter counts)."""
    return f"{int(n):,}"


def format_row(rows: Sequence[SummaryRow], index: int) -> str:
    """One line describing row `index`: index, name, type, output shape, params, cumulative share.

    '[6] fc6 (Linear): output 4096, 37,752,832 params, cumulative 40,086,912 (65.8% of 60,965,224)'
    """
    row = row_at(rows, index)
    total = total_params(rows)
    cumulative = cumulative_params(rows[:index + 1])[-1]
    share = cumulative / total if total else 0.0
    return (f"[{index}] {row.name} ({row.type}): output {format_shape(row.output_shape)}, "
            f"{format_count(row.params)} params, cumulative {format_count(cumulative)} "
            f"({100 * share:.1f}% of {format_count(total)})")


def explorer_view(rows: Sequence[SummaryRow], index: int) -> dict:
    """Everything the explorer widget shows for layer `index` of a table, as plain data.

    Output keys: row (the `SummaryRow`), text (see `format_row`), total (all parameters),
    cumulative (parameters of rows 0..index), fraction (cumulative / total, in [0, 1]),
    layer_fraction (this layer's params / total), neurons (`output_values` of the output
    shape), position ("layer i+1 of N").
    """
    row = row_at(rows, index)
    total = total_params(rows)
    cumulative = cumulative_params(rows[:index + 1])[-1]
    return {
        "row": row,
        "text": format_row(rows, index),
        "total": total,
        "cumulative": cumulative,
        "fraction": cumulative / total if total else 0.0,
        "layer_fraction": row.params / total if total else 0.0,
        "neurons": output_values(row.output_shape),
        "position": f"layer {index + 1} of {len(rows)}",
    }
