"""Networks built from the numpy layers: a deep MLP and a small convolutional net.

Both follow the net protocol of docs/DESIGN.md:

- `layers`: ordered dict name -> layer, run in order by `predict`; `last_layer` is the loss
  (SoftmaxWithLoss).
- `params`: dict "W1" -> the very array the layer holds, so an optimizer's in-place update is
  seen by the layer.
- `predict(x)` scores (N, classes); `loss(x, t)` mean cross-entropy (+ weight decay);
  `accuracy(x, t, batch_size)` in eval mode; `gradient(x, t)` dict with the keys of `params`;
  `train()` / `eval()` switch every layer's `training` flag.

Weight decay adds 0.5 * lambda * sum ||W||^2 over every weight matrix/kernel (not the biases,
gammas or betas) to the loss, and lambda * W to its gradient.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .conv import Convolution, conv_output_size
from .layers import (Affine, BatchNorm, Dropout, ReLU, Sigmoid, SoftmaxWithLoss, Tanh,
                     labels_to_indices)
from .optim import init_std
from .pooling import Pooling

__all__ = ["Net", "DeepMLP", "SimpleConvNet"]

_ACTIVATIONS = {"relu": ("Relu", ReLU), "sigmoid": ("Sigmoid", Sigmoid), "tanh": ("Tanh", Tanh)}


class Net:
    """Common machinery: registration of parameters, predict/loss/accuracy/gradient, modes."""

    def __init__(self, weight_decay: float = 0.0) -> None:
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        self.layers: OrderedDict[str, Any] = OrderedDict()
        self.params: dict[str, np.ndarray] = {}
        self.last_layer = SoftmaxWithLoss()
        self._owners: dict[str, tuple[Any, str]] = {}  # param key -> (layer, attribute)
        self._decayed: list[str] = []                  # keys that weight decay applies to

    def _add(self, name: str, layer: Any, **param_keys: str) -> None:
        """Append a layer; param_keys maps the layer's attribute ("W") to a key ("W3")."""
        self.layers[name] = layer
        for attr, key in param_keys.items():
            self.params[key] = getattr(layer, attr)
            self._owners[key] = (layer, attr)
            if attr == "W":
                self._decayed.append(key)

    # -- modes --------------------------------------------------------------------------------
    def train(self) -> "Net":
        """Training mode: Dropout drops, BatchNorm uses batch statistics. Returns self."""
        for layer in self.layers.values():
            layer.training = True
        return self

    def eval(self) -> "Net":
        """Evaluation mode: Dropout is the identity, BatchNorm uses running statistics."""
        for layer in self.layers.values():
            layer.training = False
        return self

    @property
    def training(self) -> bool:
        """True when every layer is in training mode."""
        return all(layer.training for layer in self.layers.values())

    # -- forward ------------------------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class scores (N, output_size) for x, in the current mode (see train/eval)."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def _decay_loss(self) -> float:
        if not self.weight_decay:
            return 0.0
        squares = sum(float(np.sum(self.params[key] ** 2)) for key in self._decayed)
        return 0.5 * self.weight_decay * squares

    def loss(self, x: np.ndarray, t: Any) -> float:
        """Mean cross-entropy of predict(x) against t (indices or one-hot) plus weight decay."""
        return self.last_layer.forward(self.predict(x), t) + self._decay_loss()

    def accuracy(self, x: np.ndarray, t: Any, batch_size: int = 256) -> float:
        """Fraction of samples whose largest score is the label; evaluated in eval mode in
        batches of batch_size, then the previous modes are restored."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        x, t = np.asarray(x), np.asarray(t)
        if len(x) == 0:
            raise ValueError("accuracy of an empty set is undefined")
        if len(t) != len(x):
            raise ValueError(f"got {len(x)} samples but {len(t)} labels")
        modes = [layer.training for layer in self.layers.values()]
        self.eval()
        try:
            correct = 0
            for start in range(0, len(x), batch_size):
                scores = self.predict(x[start:start + batch_size])
                labels = labels_to_indices(t[start:start + batch_size], scores.shape[1])
                correct += int(np.sum(np.argmax(scores, axis=1) == labels))
        finally:
            for layer, mode in zip(self.layers.values(), modes):
                layer.training = mode
        return correct / len(x)

    # -- backward -----------------------------------------------------------------------------
    def loss_and_gradient(self, x: np.ndarray, t: Any) -> tuple[float, dict[str, np.ndarray]]:
        """One forward and one backward pass: (loss, {key: dL/d params[key]})."""
        loss = self.loss(x, t)
        dout = self.last_layer.backward(1.0)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        grads = {key: getattr(layer, "d" + attr) for key, (layer, attr) in self._owners.items()}
        for key in self._decayed:
            if self.weight_decay:
                grads[key] = grads[key] + self.weight_decay * self.params[key]
        return loss, grads

    def gradient(self, x: np.ndarray, t: Any) -> dict[str, np.ndarray]:
        """{key: dL/d params[key]} by backpropagation (same keys as `params`)."""
        return self.loss_and_gradient(x, t)[1]

    def __repr__(self) -> str:
        n_params = sum(p.size for p in self.params.values())
        return f"{type(self).__name__}({', '.join(self.layers)}; {n_params} parameters)"


class DeepMLP(Net):
    """Fully connected net: (Affine -> [BatchNorm] -> activation -> [Dropout]) x L, then
    Affine -> softmax with cross-entropy.

    - input_size: features per sample (inputs (N, ...) are flattened by the first Affine)
    - hidden_sizes: list of hidden layer widths, e.g. [100, 100]
    - activation: "relu", "sigmoid" or "tanh"
    - weight_init: "he" (sqrt(2/fan_in)), "xavier" (1/sqrt(fan_in)) or a fixed std
    - dropout: ratio for a Dropout after every hidden activation (0 = none)
    - batch_norm: a BatchNorm between every hidden Affine and its activation
    Parameters: W1, b1, ..., W{L+1}, b{L+1}; gamma_i, beta_i with batch_norm.
    """

    def __init__(self, input_size: int, hidden_sizes: list[int] | tuple[int, ...], output_size: int,
                 activation: str = "relu", weight_init: str | float = "he", dropout: float = 0.0,
                 batch_norm: bool = False, weight_decay: float = 0.0, seed: int = 0,
                 dtype: Any = np.float64) -> None:
        super().__init__(weight_decay)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {activation!r}")
        sizes = [int(input_size), *[int(h) for h in hidden_sizes], int(output_size)]
        if min(sizes) < 1:
            raise ValueError(f"layer sizes must be positive, got {sizes}")
        self.sizes = sizes
        rng = np.random.default_rng(seed)
        act_name, act_cls = _ACTIVATIONS[activation]
        n_affine = len(sizes) - 1
        for i in range(1, n_affine + 1):
            fan_in, fan_out = sizes[i - 1], sizes[i]
            std = init_std(weight_init, fan_in)
            W = (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self._add(f"Affine{i}", Affine(W, np.zeros(fan_out, dtype)), W=f"W{i}", b=f"b{i}")
            if i == n_affine:
                break
            if batch_norm:
                bn = BatchNorm(np.ones(fan_out, dtype), np.zeros(fan_out, dtype))
                self._add(f"BatchNorm{i}", bn, gamma=f"gamma{i}", beta=f"beta{i}")
            self._add(f"{act_name}{i}", act_cls())
            if dropout:
                self._add(f"Dropout{i}", Dropout(dropout, seed=int(rng.integers(2 ** 31))))


class SimpleConvNet(Net):
    """conv -> ReLU -> max pool -> Affine -> ReLU -> Affine -> softmax.

    - input_dim: (C, H, W) of one image, e.g. (1, 8, 8) for the bundled digits
    - conv: dict(filters=F, size=K, pad=P, stride=S); defaults 16, 3, 1, 1
    - pool: size and stride of the max pooling (2 halves H and W)
    - hidden_size: width of the hidden Affine; output_size: classes
    Shapes: (N, C, H, W) -> conv (N, F, OH, OW) -> pool (N, F, PH, PW) -> (N, hidden)
    -> (N, classes)
    with OH = (H + 2P - K) // S + 1 and PH = (OH - pool) // pool + 1.
    Parameters: W1 (F, C, K, K), b1 (F,), W2 (F*PH*PW, hidden), b2, W3 (hidden, classes), b3.
    """

    _CONV_DEFAULTS = {"filters": 16, "size": 3, "pad": 1, "stride": 1}

    def __init__(self, input_dim: tuple[int, int, int] = (1, 8, 8), conv: dict | None = None,
                 hidden_size: int = 64, output_size: int = 10, weight_init: str | float = "he",
                 pool: int = 2, weight_decay: float = 0.0, seed: int = 0,
                 dtype: Any = np.float64) -> None:
        super().__init__(weight_decay)
        conv = dict(conv or {})
        unknown = set(conv) - set(self._CONV_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown conv settings {sorted(unknown)}; "
                             f"use {sorted(self._CONV_DEFAULTS)}")
        conv = {**self._CONV_DEFAULTS, **conv}
        if len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim}")
        channels, height, width = (int(v) for v in input_dim)
        f, k, p, s = conv["filters"], conv["size"], conv["pad"], conv["stride"]
        out_h = conv_output_size(height, k, padding=p, stride=s)
        out_w = conv_output_size(width, k, padding=p, stride=s)
        if out_h < pool or out_w < pool:
            raise ValueError(f"the conv output {out_h}x{out_w} is smaller than the "
                             f"{pool}x{pool} pool")
        pool_h = conv_output_size(out_h, pool, stride=pool)
        pool_w = conv_output_size(out_w, pool, stride=pool)
        self.input_dim, self.conv_param = (channels, height, width), conv
        self.feature_shape = (f, pool_h, pool_w)

        rng = np.random.default_rng(seed)
        fan_conv, fan_hidden = channels * k * k, f * pool_h * pool_w
        W1 = init_std(weight_init, fan_conv) * rng.standard_normal((f, channels, k, k))
        W2 = init_std(weight_init, fan_hidden) * rng.standard_normal((fan_hidden, hidden_size))
        W3 = init_std(weight_init, hidden_size) * rng.standard_normal((hidden_size, output_size))
        self._add("Conv1", Convolution(W1.astype(dtype), np.zeros(f, dtype), stride=s, pad=p),
                  W="W1", b="b1")
        self._add("Relu1", ReLU())
        self._add("Pool1", Pooling(pool, pool, stride=pool))
        self._add("Affine1", Affine(W2.astype(dtype), np.zeros(hidden_size, dtype)), W="W2", b="b2")
        self._add("Relu2", ReLU())
        self._add("Affine2", Affine(W3.astype(dtype), np.zeros(output_size, dtype)), W="W3", b="b3")
