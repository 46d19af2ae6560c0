"""Keras-style model summary: one row per layer with its kind, output shape and parameter count.

This module is the one home of the model table: the row type (`SummaryRow`), the result type
(`ModelSummary`), the layer classifier (`layer_kind`) and the shape formatter (`format_shape`).
The torch side (`cnncourse.torch.summary`) imports these; nothing here imports torch at import
time.

`summary(model, input_size)` accepts
- a PyTorch `nn.Module`: summarized by `cnncourse.torch.summary.summarize_module` (imported
  only then, and only if torch is already loaded, which it is whenever a module exists);
- a numpy net of this package (an object with `layers`, each layer naming its learnable
  attributes in `param_names`, see docs/DESIGN.md): summarized here by a dummy forward pass.

Shapes: `input_size` and every row's `output_shape` leave out the batch dimension and keep the
framework's order, channels first: (C, H, W). Keras prints channels last; `row.keras_shape` gives
(H, W, C) and `summary(..., channels_last=True)` prints that order, which is how the slides'
table reads ((30, 30, 32) for the first Conv2D of the Keras example).

The result is a `ModelSummary` dataclass: `rows` (each a `SummaryRow`: name, type,
output_shape, params, trainable_params, kind), `total_params`, `trainable_params`,
`non_trainable_params`; `as_dicts()` gives plain dicts for tests and autograding.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["LAYER_KINDS", "layer_kind", "SummaryRow", "ModelSummary", "format_shape",
           "check_input_size", "summary", "summarize_numpy_net", "channels_last"]

# Families of layers, the vocabulary of every per-kind count (param_breakdown, params_by_kind)
# and of the bar colours in cnncourse.viz.models.
LAYER_KINDS = ("conv", "fc", "norm", "pool", "act", "dropout", "loss", "other")


def _is_torch_module(model: Any) -> bool:
    # A torch module can only exist if torch is already imported; never import it just to check.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


@lru_cache(maxsize=1)
def _numpy_kind_table() -> tuple[tuple[tuple[type, ...], str], ...]:
    # The numpy core: cheap to import, and it never imports torch.
    from ..conv import Convolution
    from ..layers import Affine, BatchNorm, Dropout, MSELoss, ReLU, Sigmoid, SoftmaxWithLoss, Tanh
    from ..pooling import GlobalAvgPooling, Pooling

    return (((Convolution,), "conv"),
            ((Affine,), "fc"),
            ((BatchNorm,), "norm"),
            ((Pooling, GlobalAvgPooling), "pool"),
            ((ReLU, Sigmoid, Tanh), "act"),
            ((Dropout,), "dropout"),
            ((SoftmaxWithLoss, MSELoss), "loss"))


@lru_cache(maxsize=1)
def _torch_kind_table(torch: Any) -> tuple[tuple[tuple[type, ...], str], ...]:
    nn = torch.nn
    from torch.nn.modules.batchnorm import _NormBase          # BatchNorm*d, InstanceNorm*d
    from torch.nn.modules.conv import _ConvNd                  # Conv*d, ConvTranspose*d
    from torch.nn.modules.dropout import _DropoutNd
    from torch.nn.modules.loss import _Loss
    from torch.nn.modules import activation, pooling

    activations = tuple(getattr(activation, name) for name in activation.__all__
                        if name != "MultiheadAttention")
    pools = tuple(getattr(pooling, name) for name in pooling.__all__
                  if "Unpool" not in name)
    return (((_ConvNd,), "conv"),
            ((nn.Linear, nn.Bilinear), "fc"),
            ((_NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm), "norm"),
            (pools, "pool"),
            (activations, "act"),
            ((_DropoutNd,), "dropout"),
            ((_Loss,), "loss"))


def layer_kind(layer: Any) -> str:
    """Family of a layer, decided by its type: one of `LAYER_KINDS`.

    numpy layers of this package: Convolution -> "conv", Affine -> "fc", BatchNorm -> "norm",
    Pooling / GlobalAvgPooling -> "pool", ReLU / Sigmoid / Tanh -> "act", Dropout -> "dropout",
    SoftmaxWithLoss / MSELoss -> "loss".
    torch modules (checked only when torch is already imported; this never imports it):
    Conv*d and ConvTranspose*d -> "conv", Linear -> "fc", BatchNorm / InstanceNorm / LayerNorm /
    GroupNorm / LocalResponseNorm -> "norm", max/avg/adaptive/LP pooling -> "pool", the
    activations of torch.nn (ReLU, Tanh, LeakyReLU, Softmax, ...) -> "act", Dropout* ->
    "dropout", losses -> "loss".
    Anything else (Flatten, Sequential, a custom module owning parameters) -> "other".

    Input: a layer object (not a name: "conv1" and "Conv2d" are strings, not layers).
    Output: str
    """
    if isinstance(layer, (str, type)):
        raise TypeError(f"layer_kind takes a layer object, got the {type(layer).__name__} "
                        f"{layer!r}; pass the layer itself, e.g. model.conv1")
    table = (_torch_kind_table(sys.modules["torch"]) if _is_torch_module(layer)
             else _numpy_kind_table())
    for types, kind in table:
        if isinstance(layer, types):
            return kind
    return "other"


def channels_last(shape: tuple) -> tuple:
    """Reorder a batch-free shape (C, H, W) to Keras's (H, W, C); (C, L) -> (L, C); others as is.

    Nested shapes (a layer returning several tensors) are reordered one by one.
    """
    if shape and all(isinstance(s, tuple) for s in shape):
        return tuple(channels_last(s) for s in shape)
    if len(shape) >= 2:
        return tuple(shape[1:]) + (shape[0],)
    return tuple(shape)


@dataclass(frozen=True)
class SummaryRow:
    """One executed layer.

    - name: the layer's name in the model (dotted module path for torch, key in `layers` for numpy)
    - type: class name (Conv2d, Linear, Convolution, Affine, ...)
    - output_shape: output shape without the batch dimension, channels first
    - params: parameters the layer holds itself (0 when a layer runs again after its first call)
    - trainable_params: how many of them are trained (requires_grad)
    - kind: the layer's family from `layer_kind` ("conv", "fc", "norm", "pool", ...)

    A list of rows is a model table: `cnncourse.aids.model_explorer` adds running totals and
    per-kind sums on top of it.
    """

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable_params: int
    kind: str = "other"

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"kind must be one of {LAYER_KINDS}, got {self.kind!r}")

    @property
    def trainable(self) -> bool:
        """True when every parameter of the layer is trained (also for parameter-free layers)."""
        return self.trainable_params == self.params

    @property
    def keras_shape(self) -> tuple:
        """`output_shape` in Keras order (channels last)."""
        return channels_last(self.output_shape)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict: name, type, kind, output_shape (list), keras_shape (list), params,
        trainable_params."""
        return {"name": self.name, "type": self.type, "kind": self.kind,
                "output_shape": _listify(self.output_shape),
                "keras_shape": _listify(self.keras_shape),
                "params": self.params, "trainable_params": self.trainable_params}


def _listify(shape: tuple) -> list:
    return [_listify(s) if isinstance(s, tuple) else s for s in shape]


@dataclass(repr=False)
class ModelSummary:
    """What `summary` found: the rows and the parameter totals.

    Totals count every parameter of the model once, including those of layers the dummy forward
    pass did not run (e.g. auxiliary heads in eval mode); non-trainable = requires_grad False.
    Buffers (batch-norm running statistics) are not parameters, as in torchinfo.
    """

    model_name: str
    input_size: tuple
    rows: list[SummaryRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    channels_last: bool = False

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (see `SummaryRow.as_dict`)."""
        return [row.as_dict() for row in self.rows]

    def param_rows(self) -> list[SummaryRow]:
        """Only the rows of layers holding parameters."""
        return [row for row in self.rows if row.params > 0]

    def __getitem__(self, name: str) -> SummaryRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer named {name!r}; layers: {[row.name for row in self.rows]}")

    def to_string(self, channels_last: bool | None = None) -> str:
        """The Keras-like table as text."""
        use_channels_last = self.channels_last if channels_last is None else channels_last
        header = ("Layer (type)", "Output Shape", "Param #")
        lines = []
        for row in self.rows:
            shape = row.keras_shape if use_channels_last else row.output_shape
            lines.append((f"{row.name} ({row.type})", format_shape(shape), f"{row.params:,}"))
        widths = [max([len(header[i])] + [len(line[i]) for line in lines]) + 3 for i in range(3)]
        total_width = sum(widths)
        order = "channels last" if use_channels_last else "channels first"
        out = [f'Model: "{self.model_name}"  (input {format_shape(self.input_size)}, '
               f'shapes without batch, {order})',
               "_" * total_width,
               "".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
               "=" * total_width]
        for index, line in enumerate(lines):
            out.append("".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
            out.append("_" * total_width if index < len(lines) - 1 else "=" * total_width)
        if not lines:
            out.append("=" * total_width)
        out += [f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        # Short on purpose: a notebook cell ending in summary(...) has already printed the table.
        return (f"ModelSummary({self.model_name}: {len(self.rows)} rows, "
                f"{self.total_params:,} params, {self.trainable_params:,} trainable)")


def format_shape(shape: Sequence) -> str:
    """A batch-free shape as the summary table and the model explorer print it.

    (96, 55, 55) -> '(96, 55, 55)'; (10,) -> '10' (a vector, as Keras's Dense rows);
    () -> 'scalar' (one number per example); ((10,), (3, 2)) -> '10, (3, 2)' (a layer returning
    several tensors).
    """
    shape = tuple(shape)
    if shape and all(isinstance(s, tuple) for s in shape):
        return ", ".join(format_shape(s) for s in shape)
    if not shape:
        return "scalar"
    if len(shape) == 1:
        return str(shape[0])
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_input_size(input_size: Sequence[int] | int) -> tuple[int, ...]:
    """`input_size` as a tuple of positive ints (an int n becomes (n,)); ValueError otherwise,
    naming the value."""
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        input_size = (input_size,)
    if not isinstance(input_size, Sequence) or not input_size or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in input_size):
        raise ValueError(f"input_size must be a non-empty tuple of positive ints without the "
                         f"batch dimension, e.g. (3, 32, 32); got {input_size!r}")
    return tuple(input_size)


def summarize_numpy_net(net: Any, input_size: Sequence[int] | int,
                        batch_size: int = 1, seed: int = 0) -> ModelSummary:
    """Summarize a numpy net (`net.layers`: ordered dict name -> layer, or a list of layers).

    Runs x ~ N(0, 1) of shape (batch_size, *input_size) through every layer's `forward(x)` in
    order, with `layer.training` set to False (restored afterwards), and records each output
    shape (minus the batch dimension). A layer's parameter count is the total size of the
    arrays named in its `param_names`. Loss layers (forward(x, t)) are not part of `layers`.

    Returns: ModelSummary
    """
    import numpy as np

    size = check_input_size(input_size)
    layers = getattr(net, "layers", None)
    if layers is None:
        raise TypeError(f"{type(net).__name__} has no `layers`; expected a numpy net with an "
                        f"ordered dict of layers (see docs/DESIGN.md) or a torch nn.Module")
    items = list(layers.items()) if hasattr(layers, "items") else \
        [(f"{type(layer).__name__}{i + 1}", layer) for i, layer in enumerate(layers)]
    dtype = np.float64
    for _, layer in items:
        for name in getattr(layer, "param_names", ()):
            dtype = np.asarray(getattr(layer, name)).dtype
            break
    x = np.random.default_rng(seed).standard_normal((batch_size, *size)).astype(dtype)
    saved_modes = {}
    for key, layer in items:
        if hasattr(layer, "training"):
            saved_modes[key] = layer.training
            layer.training = False
    rows = []
    try:
        for key, layer in items:
            try:
                x = layer.forward(x)
            except Exception as error:  # re-raised with the layer and shape that failed
                raise ValueError(f"layer {key!r} ({type(layer).__name__}) failed on input of "
                                 f"shape {tuple(np.shape(x))}: {error}") from error
            params = sum(int(np.asarray(getattr(layer, name)).size)
                         for name in getattr(layer, "param_names", ()))
            rows.append(SummaryRow(str(key), type(layer).__name__, tuple(np.shape(x))[1:],
                                   params, params, layer_kind(layer)))
    finally:
        for key, layer in items:
            if key in saved_modes:
                layer.training = saved_modes[key]
    total = sum(row.params for row in rows)
    return ModelSummary(type(net).__name__, size, rows, total, total)


def summary(model: Any, input_size: Sequence[int] | int, *, channels_last: bool = False,
            verbose: bool = True, print_fn: Callable[[str], Any] = print,
            batch_size: int = 1) -> ModelSummary:
    """Print a Keras-like table of `model` (layer (type), output shape, params) and return it.

    Inputs:
    - model: a torch `nn.Module` or a numpy net of this package (see module docstring)
    - input_size: one example's shape without the batch dimension, e.g. (3, 32, 32)
    - channels_last: print shapes as Keras does, (H, W, C); rows always keep (C, H, W)
    - verbose: print the table through `print_fn` (default `print`); False prints nothing
    - batch_size: batch of the dummy forward pass (run in eval mode, without gradients)

    Returns: ModelSummary with rows (name, type, output_shape, params, trainable_params, kind) and
    total_params, trainable_params, non_trainable_params. For torch models the per-layer and
    total counts equal torchinfo's.
    """
    if _is_torch_module(model):
        from ..torch.summary import summarize_module
        result = summarize_module(model, input_size, batch_size=batch_size)
    else:
        result = summarize_numpy_net(model, input_size, batch_size=batch_size)
    result.channels_last = channels_last
    if verbose:
        print_fn(result.to_string())
    return result
