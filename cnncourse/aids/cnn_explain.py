"""What a CNN computes for one image, layer by layer: the logic behind notebook 06's
feature-map browser (`cnncourse.widgets.feature_maps`).

- `layer_outputs(net, x)`: the output of every layer of `net.layers` for a batch x, in order
  (`cnncourse.aids.dnn_explain.hidden_activations` keeps those of an MLP's activation layers).
- `first_block(net)`: the names of a net's first convolution and of the ReLU and the pooling
  layer that follow it (the CONV -> ReLU -> POOL block).
- `feature_map_view(net, image, channel)`: one channel of that block for one image (kernel,
  map after conv, after ReLU, after pooling) and the net's softmax output; `feature_map_report`
  turns it into the lines of text the widget shows.

Works on any net that follows the net protocol of docs/DESIGN.md (`layers`, an ordered dict
name -> layer, run in order by `predict`). Plain numpy: no matplotlib, no ipywidgets.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..conv import Convolution
from ..layers import ReLU, softmax
from ..pooling import Pooling

__all__ = ["layer_outputs", "first_block", "FeatureMapView", "feature_map_view",
           "feature_map_report"]


def _layers(net: Any) -> OrderedDict:
    layers = getattr(net, "layers", None)
    if not hasattr(layers, "items") or not layers:
        raise ValueError(f"net must have a non-empty ordered dict `layers` (name -> layer), "
                         f"got {type(net).__name__} with layers={layers!r}")
    return layers


def layer_outputs(net: Any, x: Any) -> OrderedDict[str, np.ndarray]:
    """Output of every layer of `net.layers` for the batch x, in the order the net runs them.

    Inputs: net, a net of the course's protocol; x, a batch the first layer accepts, e.g.
    (N, C, H, W). Runs in evaluation mode (Dropout off, BatchNorm with running statistics) and
    restores each layer's `training` flag afterwards, also when a layer raises.
    Returns: OrderedDict name -> array (a copy, so later forward passes do not change it);
    the last entry is the class scores `net.predict(x)` would give in evaluation mode.
    """
    layers = _layers(net)
    modes = {name: layer.training for name, layer in layers.items() if hasattr(layer, "training")}
    outputs: OrderedDict[str, np.ndarray] = OrderedDict()
    try:
        for name in modes:
            layers[name].training = False
        out = np.asarray(x)
        for name, layer in layers.items():
            out = layer.forward(out)
            outputs[name] = np.array(out, copy=True)
    finally:
        for name, mode in modes.items():
            layers[name].training = mode
    return outputs


def first_block(net: Any) -> tuple[str, str, str]:
    """Names (conv, relu, pool) of the net's first `Convolution`, the first `ReLU` after it and
    the first `Pooling` after that ReLU. Raises ValueError naming what is missing."""
    names = list(_layers(net))
    layers = net.layers
    found: list[str] = []
    start = 0
    for kind in (Convolution, ReLU, Pooling):
        hit = next((i for i in range(start, len(names)) if isinstance(layers[names[i]], kind)),
                   None)
        if hit is None:
            after = f" after {found[-1]!r}" if found else ""
            raise ValueError(f"net has no {kind.__name__} layer{after}: the layers are {names}")
        found.append(names[hit])
        start = hit + 1
    return found[0], found[1], found[2]


@dataclass(frozen=True)
class FeatureMapView:
    """One channel of a net's first CONV -> ReLU -> POOL block for one image.

    image (C, H, W); kernel (C, KH, KW), the channel's weights; bias, its bias; conv (OH, OW),
    relu (OH, OW) = max(conv, 0), pool (PH, PW); probabilities (classes,), the softmax of the
    net's scores; names, the (conv, relu, pool) layer names; pool_mode, "max" or "avg".
    """

    image: np.ndarray
    kernel: np.ndarray
    bias: float
    conv: np.ndarray
    relu: np.ndarray
    pool: np.ndarray
    probabilities: np.ndarray
    names: tuple[str, str, str]
    pool_mode: str = "max"

    @property
    def predicted(self) -> int:
        """The class with the largest probability."""
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """The probability of the predicted class."""
        return float(np.max(self.probabilities))


def feature_map_view(net: Any, image: Any, channel: int) -> FeatureMapView:
    """Run one image through the net and keep channel `channel` of its first block.

    Inputs: net (net protocol, with a Convolution -> ReLU -> Pooling block, see `first_block`);
    image (C, H, W), one input without the batch axis; channel, 0 <= channel < F (the number of
    kernels of the first convolution).
    Returns: a `FeatureMapView`; probabilities = softmax(scores of the last layer).
    """
    names = first_block(net)
    conv_layer = net.layers[names[0]]
    n_kernels = int(np.shape(conv_layer.W)[0])
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) \
            or not 0 <= channel < n_kernels:
        raise ValueError(f"channel must be an int in [0, {n_kernels - 1}] (the first "
                         f"convolution has {n_kernels} kernels), got {channel!r}")
    image = np.asarray(image, dtype=float)
    if image.ndim != 3:
        raise ValueError(f"image must be (C, H, W), one image without the batch axis; got shape "
                         f"{image.shape}")
    outputs = layer_outputs(net, image[None])
    scores = list(outputs.values())[-1]
    conv, relu, pool = (outputs[name][0, channel] for name in names)
    return FeatureMapView(image=image, kernel=np.array(conv_layer.W[channel], dtype=float),
                          bias=float(np.asarray(conv_layer.b)[channel]), conv=conv, relu=relu,
                          pool=pool, probabilities=softmax(scores[0]), names=names,
                          pool_mode=str(getattr(net.layers[names[2]], "mode", "max")))


def _range(values: np.ndarray) -> str:
    return f"{float(np.min(values)):+.2f} .. {float(np.max(values)):+.2f}"


def feature_map_report(view: FeatureMapView, channel: int, label: int | None = None) -> str:
    """The lines the browser prints for one view: the prediction, then one line per stage.

    Example (values depend on the net and the image):
        prediction: 7 with probability 98.3% (label 7: right)
        filter 5 (3x3): weights -0.61 .. +0.72, bias +0.03
        after conv (8x8): values -1.20 .. +2.04
        after ReLU (8x8): 23 of 64 units active (> 0), the rest set to 0
        after pool (4x4): the largest value of every window of the ReLU map, max +2.04
    (for an average pool: "the mean of every window").
    """
    if label is None:
        verdict = ""
    else:
        verdict = f" (label {int(label)}: {'right' if view.predicted == int(label) else 'WRONG'})"
    kh, kw = view.kernel.shape[-2:]
    conv_shape = "x".join(str(s) for s in view.conv.shape)
    pool_shape = "x".join(str(s) for s in view.pool.shape)
    active = int(np.count_nonzero(view.relu > 0))
    pooled = ("the mean of every window" if view.pool_mode == "avg"
              else "the largest value of every window")
    return "\n".join([
        f"prediction: {view.predicted} with probability {view.confidence:.1%}{verdict}",
        f"filter {int(channel)} ({kh}x{kw}): weights {_range(view.kernel)}, bias {view.bias:+.2f}",
        f"after conv ({conv_shape}): values {_range(view.conv)}",
        f"after ReLU ({conv_shape}): {active} of {view.relu.size} units active (> 0), "
        f"the rest set to 0",
        f"after pool ({pool_shape}): {pooled} of the ReLU map, "
        f"max {float(np.max(view.pool)):+.2f}",
    ])
