"""Train and evaluate a net through its layers alone, assigning new parameters instead of
updating them in place.

`cnncourse.trainer.Trainer` hands `net.params` to an optimizer that changes the arrays in place,
so the layers that hold the same arrays see the change. That needs the net in this process.
The functions here use only the net protocol of docs/DESIGN.md --

- `net.layers`: ordered mapping name -> layer; a layer names its learnable attributes in
  `param_names` (no `param_names`: no parameters) and holds the gradient of attribute `W` in
  `dW` after a backward pass;
- `net.gradient(x, t)`: one forward and one backward pass;
- `net.predict(x)`: class scores (N, classes); `layer.training` switches train/eval behaviour --

and write every updated parameter back with an assignment (`layer.W = new_W`). So they also
work on a net that lives in another process and is reached through a proxy whose every read
returns a copy (the grader's view of a student's net). With the same settings they give the
same weights as `Trainer(net, x, t, optimizer="adam", lr=lr, batch_size=..., seed=seed)`:
minibatches from one `np.random.default_rng(seed).permutation` per epoch, and Adam as in
`cnncourse.optim.Adam`. Weight decay a net adds inside `gradient` is not used: the gradients
are read from the layers.

After training, the layers hold new arrays; a net's own `params` dict still refers to the old
ones, so train such a net further only through these functions (or rebuild it).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .optim import Adam
from .trainer import minibatches

__all__ = ["param_slots", "read_params", "count_params", "fit_by_layers", "accuracy_by_layers"]


def _layer_items(net: Any) -> list[tuple[str, Any]]:
    layers = getattr(net, "layers", None)
    if layers is None:
        raise TypeError(f"{type(net).__name__} has no `layers` (an ordered mapping name -> layer)")
    keys = list(layers)
    if not keys:
        raise ValueError("the net has no layers")
    return [(str(key), layers[key]) for key in keys]


def param_slots(net: Any) -> list[tuple[str, Any, str]]:
    """(layer name, layer, attribute) of every learnable parameter, in layer order.

    Example: a SimpleConvNet gives [("Conv1", conv, "W"), ("Conv1", conv, "b"),
    ("Affine1", affine, "W"), ...].
    """
    slots = []
    for key, layer in _layer_items(net):
        try:
            names = tuple(layer.param_names)
        except AttributeError:
            names = ()
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"layer {key!r}: param_names must hold attribute names, got {name!r}")
            slots.append((key, layer, name))
    return slots


def read_params(net: Any) -> dict[str, np.ndarray]:
    """{"<layer>.<attribute>": a copy of the array} for every learnable parameter.

    Raises TypeError for a parameter that is not a float array.
    """
    out = {}
    for key, layer, name in param_slots(net):
        value = np.array(getattr(layer, name))
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"parameter {key}.{name} must be a float array, got dtype {value.dtype}")
        out[f"{key}.{name}"] = value
    return out


def count_params(net: Any) -> int:
    """Number of learnable values in the layers: sum of the sizes of their `param_names` arrays."""
    return int(sum(value.size for value in read_params(net).values()))


def _set_training(net: Any, flag: bool) -> None:
    for _, layer in _layer_items(net):
        layer.training = flag


def _check_shapes(grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
    for key, grad in grads.items():
        if grad.shape != params[key].shape:
            raise ValueError(f"the gradient of {key} has shape {grad.shape}, the parameter "
                             f"{params[key].shape}")


def _grads_from_layers(slots: list, keys: list[str],
                       params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{key: layer.d<name>} read from the layers after a backward pass."""
    grads = {}
    for key, (layer_key, layer, name) in zip(keys, slots):
        grad = getattr(layer, "d" + name, None)
        if grad is None:
            raise ValueError(f"layer {layer_key!r} has no gradient d{name} after net.gradient: "
                             "does the backward pass reach it?")
        grads[key] = np.asarray(grad)
    _check_shapes(grads, params)
    return grads


def _matching_keys(returned: Any, layer_grads: list[np.ndarray]) -> list[str] | None:
    """The key of `returned` (net.gradient's dict) holding each layer gradient, or None.

    Each layer gradient must equal exactly one entry, and no entry may serve two: then later
    steps read the gradients from the dict (one round trip to a remote net instead of one per
    parameter). Otherwise (weight decay added, equal gradients) they are read from the layers.
    """
    if type(returned) is not dict:
        return None
    matched: list[str] = []
    for grad in layer_grads:
        hits = [key for key, value in returned.items()
                if isinstance(value, np.ndarray) and value.shape == grad.shape
                and np.array_equal(value, grad)]
        if len(hits) != 1 or hits[0] in matched:
            return None
        matched.append(hits[0])
    return matched


def fit_by_layers(net: Any, x: np.ndarray, t: np.ndarray, *, epochs: int, batch_size: int,
                  lr: float = 0.001, seed: int = 0,
                  time_limit_s: float | None = None) -> dict[str, float]:
    """Minibatch Adam on `net`, reading gradients from and assigning parameters to its layers.

    Inputs:
    - net: follows the net protocol (see the module docstring)
    - x: (N, ...) inputs; t: (N,) labels (or one-hot (N, classes)), N >= 1
    - epochs, batch_size: one epoch = ceil(N / batch_size) steps over a fresh permutation
    - lr: Adam's learning rate (beta1 0.9, beta2 0.999, eps 1e-8); seed: minibatch order
    - time_limit_s: stop with TimeoutError once the run has taken longer (checked every step)

    Every layer's `training` flag is True during the run and stays True afterwards.
    Returns: {"steps": number of updates, "seconds": wall time}.
    Raises ValueError for a missing gradient or one whose shape differs from its parameter.
    """
    x, t = np.asarray(x), np.asarray(t)
    if len(x) == 0 or len(x) != len(t):
        raise ValueError(f"need N >= 1 samples with one label each, got {len(x)} and {len(t)}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if time_limit_s is not None and not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
    epochs, batch_size = int(epochs), int(batch_size)
    slots = param_slots(net)
    if not slots:
        raise ValueError("the net has no learnable parameters (no layer lists param_names)")
    params = read_params(net)
    keys = list(params)
    optimizer = Adam(lr=lr)
    rng = np.random.default_rng(seed)
    n = len(x)
    start = time.perf_counter()
    steps = 0
    returned_keys: list[str] | None = None   # keys of net.gradient's dict, one per slot
    _set_training(net, True)
    for _ in range(epochs):
        for idx in minibatches(n, batch_size, rng):
            returned = net.gradient(x[idx], t[idx])
            if steps == 0:
                grads = _grads_from_layers(slots, keys, params)
                returned_keys = _matching_keys(returned, [grads[key] for key in keys])
            elif returned_keys is None:
                grads = _grads_from_layers(slots, keys, params)
            else:
                grads = {key: np.asarray(returned[k]) for key, k in zip(keys, returned_keys)}
                _check_shapes(grads, params)
            optimizer.update(params, grads)
            for key, (_, layer, name) in zip(keys, slots):
                setattr(layer, name, params[key])
            steps += 1
            elapsed = time.perf_counter() - start
            if time_limit_s is not None and elapsed > time_limit_s:
                raise TimeoutError(f"training took {elapsed:.1f} s after {steps} steps, over the "
                                   f"limit of {time_limit_s:g} s")
    return {"steps": steps, "seconds": time.perf_counter() - start}


def accuracy_by_layers(net: Any, x: np.ndarray, t: np.ndarray) -> float:
    """Fraction of samples whose largest score in net.predict(x) is the label.

    The pass runs with every layer's `training` flag False (Dropout off, BatchNorm on its running
    statistics); the flags are True afterwards. t: (N,) labels or one-hot (N, classes).
    Raises ValueError when the scores are not (N, classes).
    """
    x, t = np.asarray(x), np.asarray(t)
    if len(x) == 0 or len(x) != len(t):
        raise ValueError(f"need N >= 1 samples with one label each, got {len(x)} and {len(t)}")
    _set_training(net, False)
    try:
        scores = np.asarray(net.predict(x))
    finally:
        _set_training(net, True)
    if scores.ndim != 2 or scores.shape[0] != len(x):
        raise ValueError(f"net.predict gave scores of shape {scores.shape} for {len(x)} inputs; "
                         "expected (N, classes)")
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    return float(np.mean(scores.argmax(axis=1) == labels))
