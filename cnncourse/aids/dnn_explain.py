"""Plain logic behind the figures, experiments and widget of notebook 02 (deep neural networks).

numpy only (on top of the numpy core) and unit tested; `cnncourse.viz.dnn` draws the results and
`cnncourse.widgets.dnn` wires controls to them.

(The old pairings of activation and loss, `PerceptronStep` and `ActivationLoss`, and
`multilabel_soft_margin` are layers and losses: they live in `cnncourse.layers`; the spiral
toy set is `cnncourse.data.make_spirals`.)
- Representations: `hidden_activations` of a net, `pca_2d`, `nearest_centroid_accuracy`,
  hand-crafted `ink_profiles`.
- Initialization: `deep_stack_activations` (a plain deep stack at initialization),
  `activation_summary`, `layer_gradient_norms`.
- Optimization on a 2-D problem: `make_regression_2d`, `regression_loss_grid`,
  `regression_gradient`, `optimizer_path`; learning-rate schedules `lr_schedule`.
- Training one epoch at a time: `fit_by_epoch` (wraps `cnncourse.trainer.Trainer`, records
  eval-mode losses and optional parameter snapshots) and `PartialOptimizer` (leaves chosen
  parameters frozen).
- Decision boundaries: `decision_grid`, `count_linear_regions`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .._validate import check_int, check_positive_int
from ..layers import Affine, ReLU, Sigmoid, Tanh, labels_to_indices
from ..optim import init_std
from .cnn_explain import layer_outputs

__all__ = [
    "hidden_activations", "pca_2d", "nearest_centroid_accuracy", "ink_profiles",
    "ACTIVATIONS", "deep_stack_activations", "activation_summary", "layer_gradient_norms",
    "make_regression_2d", "regression_loss_grid", "regression_gradient", "optimizer_path",
    "lr_schedule", "fit_by_epoch", "PartialOptimizer", "decision_grid",
    "count_linear_regions",
]

ACTIVATIONS: dict[str, type] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


# --------------------------------------------------------------------------------------------
# representations
# --------------------------------------------------------------------------------------------
def _activation_layers(net: Any) -> list[Any]:
    kinds = tuple(ACTIVATIONS.values())
    return [layer for layer in net.layers.values() if isinstance(layer, kinds)]


def hidden_activations(net: Any, x: np.ndarray) -> list[np.ndarray]:
    """Output of every hidden activation layer of a `cnncourse.nets` net for inputs x.

    Runs `net.layers` in eval mode (Dropout off) and restores the previous modes. Returns one
    array (N, width_i) per ReLU/Sigmoid/Tanh layer, first hidden layer first; the last entry is
    the representation the output layer classifies.
    """
    if not _activation_layers(net):
        raise ValueError(f"{type(net).__name__} has no hidden activation layers")
    kinds = tuple(ACTIVATIONS.values())
    return [out for name, out in layer_outputs(net, x).items() if isinstance(net.layers[name], kinds)]


def pca_2d(features: Any) -> np.ndarray:
    """Project features (N, D) onto their two principal directions: (N, 2), centred.

    The sign of each direction is fixed (its largest loading is positive), so the picture
    does not flip between runs. Needs N >= 2 and D >= 2.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or f.shape[1] < 2:
        raise ValueError(f"pca_2d needs features of shape (N, D) with N, D >= 2, got {f.shape}")
    centred = f - f.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    directions = vt[:2]
    signs = np.sign(directions[np.arange(2), np.argmax(np.abs(directions), axis=1)])
    directions = directions * np.where(signs == 0, 1.0, signs)[:, None]
    return centred @ directions.T


def nearest_centroid_accuracy(points: Any, labels: Any) -> float:
    """Fraction of points whose nearest class centroid (Euclidean, centroids from the same
    points) is their own class's: a number for "the classes form separate clumps".

    points (N, D), labels (N,) ints. Returns a float in [0, 1].
    """
    p = np.asarray(points, dtype=np.float64)
    t = np.asarray(labels)
    if p.ndim != 2 or t.shape != (p.shape[0],) or p.shape[0] == 0:
        raise ValueError(f"need points (N, D) and labels (N,) with N >= 1, got {p.shape} "
                         f"and {t.shape}")
    classes = np.unique(t)
    centroids = np.stack([p[t == c].mean(axis=0) for c in classes])
    distances = np.linalg.norm(p[:, None, :] - centroids[None, :, :], axis=2)
    return float(np.mean(classes[np.argmin(distances, axis=1)] == t))


def ink_profiles(images: Any) -> np.ndarray:
    """Hand-crafted digit features: the ink in every row and every column.

    Input: images (N, H, W) or (N, 1, H, W). Output: float64 (N, H + W), the H row sums
    followed by the W column sums. 16 numbers for an 8x8 digit instead of 64 pixels.
    """
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3:
        raise ValueError(f"ink_profiles needs images (N, H, W) or (N, 1, H, W), got {a.shape}")
    return np.concatenate([a.sum(axis=2), a.sum(axis=1)], axis=1)


# --------------------------------------------------------------------------------------------
# initialization
# --------------------------------------------------------------------------------------------
def deep_stack_activations(activation: str, weight_init: str | float, depth: int = 10,
                           width: int = 100, n_samples: int = 1000,
                           seed: int = 0) -> list[np.ndarray]:
    """Activations of a plain deep stack right after initialization.

    depth layers of (Affine width -> width, zero bias) -> activation, weights drawn from
    N(0, std^2) with std = cnncourse.optim.init_std(weight_init, width) ("xavier": 1/sqrt(width),
    "he": sqrt(2/width), or a number such as 0.01). The input is n_samples standard-normal
    vectors. Returns depth arrays (n_samples, width), layer 1 first.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    depth = check_positive_int("depth", depth)
    width = check_positive_int("width", width)
    n_samples = check_positive_int("n_samples", n_samples)
    rng = np.random.default_rng(seed)
    std = init_std(weight_init, width)
    out = rng.standard_normal((n_samples, width))
    outputs = []
    for _ in range(depth):
        layer = Affine(std * rng.standard_normal((width, width)), np.zeros(width))
        out = ACTIVATIONS[activation]().forward(layer.forward(out))
        outputs.append(out)
    return outputs


def activation_summary(activations: Sequence[np.ndarray], near: float = 0.01
                       ) -> dict[str, np.ndarray]:
    """Per-layer statistics of a list of activation arrays.

    Returns {"mean": (L,), "std": (L,), "near_zero": (L,)} where near_zero is the fraction of
    values with |a| < near (collapsed tanh units, dead ReLU outputs).
    """
    if len(activations) == 0:
        raise ValueError("activation_summary needs at least one layer")
    arrays = [np.asarray(a, dtype=np.float64) for a in activations]
    return {"mean": np.array([a.mean() for a in arrays]),
            "std": np.array([a.std() for a in arrays]),
            "near_zero": np.array([np.mean(np.abs(a) < near) for a in arrays])}


def _weight_keys(params: dict) -> list[str]:
    keys = [k for k in params if k.startswith("W") and k[1:].isdigit()]
    return sorted(keys, key=lambda k: int(k[1:]))


def layer_gradient_norms(net: Any, x: np.ndarray, t: Any) -> np.ndarray:
    """Frobenius norm of dL/dW_i for every weight matrix W1, W2, ... of a net, first layer
    first, from one backward pass on (x, t). Shape (number of weight matrices,)."""
    grads = net.gradient(x, t)
    keys = _weight_keys(grads)
    if not keys:
        raise ValueError("the net has no parameters named W1, W2, ...")
    return np.array([np.linalg.norm(grads[k]) for k in keys])


# --------------------------------------------------------------------------------------------
# optimization on a 2-D problem whose loss surface can be drawn
# --------------------------------------------------------------------------------------------
def make_regression_2d(n: int = 200, scales: tuple[float, float] = (1.0, 0.3),
                       w_true: tuple[float, float] = (1.0, 2.0), noise: float = 0.3,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A linear-regression data set with two weights: y = X @ w_true + noise.

    The two input features have standard deviations `scales`, so the loss surface over
    (w1, w2) is an elongated bowl (steep along the large feature, flat along the small one).
    Returns X (n, 2) and y (n,), float64.
    """
    n = check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)) * np.asarray(scales, dtype=np.float64)
    y = x @ np.asarray(w_true, dtype=np.float64) + noise * rng.standard_normal(n)
    return x, y


def regression_loss_grid(x: np.ndarray, y: np.ndarray, w1: Any, w2: Any) -> np.ndarray:
    """Loss L(w) = (1/2n) sum_i (x_i . w - y_i)^2 at every grid point (w1[j], w2[i]).

    w1 (J,), w2 (I,) -> array (I, J) (rows follow w2, as matplotlib's contour expects).
    Uses L(w) = (w.S w - 2 w.c + m) / 2 with S = X^T X / n, c = X^T y / n, m = mean(y^2).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    s, c, m = x.T @ x / len(y), x.T @ y / len(y), float(np.mean(y * y))
    a, b = np.meshgrid(np.asarray(w1, dtype=np.float64), np.asarray(w2, dtype=np.float64))
    quad = s[0, 0] * a * a + 2 * s[0, 1] * a * b + s[1, 1] * b * b
    return 0.5 * (quad - 2 * (c[0] * a + c[1] * b) + m)


def regression_gradient(w: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean loss (1/2n) sum (x_i . w - y_i)^2 over the given rows:
    X^T (Xw - y) / n, shape (2,)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return x.T @ (x @ np.asarray(w, dtype=np.float64) - y) / len(y)


def optimizer_path(optimizer: Any, x: np.ndarray, y: np.ndarray, start: Sequence[float],
                   steps: int, batch_size: int | None = None, lrs: Sequence[float] | None = None,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Run `optimizer` (any object with update(params, grads), e.g. cnncourse.optim.Momentum)
    on the 2-D regression problem and record where it goes.

    - start: the initial (w1, w2)
    - steps: number of updates
    - batch_size: rows per gradient (None: all rows, i.e. full-batch gradient descent; 1: plain
      stochastic gradient descent). Rows are drawn without replacement, a fresh permutation
      every pass over the data.
    - lrs: optional learning rate per step (sets optimizer.lr before each step)
    Returns (path (steps + 1, 2), full-data loss at each point (steps + 1,)).
    """
    steps = check_int("steps", steps, 0)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(y)
    batch = n if batch_size is None else check_positive_int("batch_size", batch_size)
    if lrs is not None and len(lrs) < steps:
        raise ValueError(f"lrs has {len(lrs)} learning rates for {steps} steps")
    rng = np.random.default_rng(seed)
    params = {"w": np.array(start, dtype=np.float64).reshape(2)}
    path = [params["w"].copy()]
    order, cursor = rng.permutation(n), 0
    for step in range(steps):
        if cursor + batch > n:
            order, cursor = rng.permutation(n), 0
        rows = order[cursor:cursor + batch]
        cursor += batch
        if lrs is not None:
            optimizer.lr = float(lrs[step])
        optimizer.update(params, {"w": regression_gradient(params["w"], x[rows], y[rows])})
        path.append(params["w"].copy())
    path = np.array(path)
    residuals = path @ x.T - y                   # (steps + 1, n)
    return path, 0.5 * np.mean(residuals ** 2, axis=1)


def lr_schedule(kind: str, lr0: float, steps: int, every: int = 10, gamma: float = 0.5,
                lr_min: float = 0.0) -> np.ndarray:
    """Learning rate for each of `steps` epochs (or updates), as a float64 array.

    - "constant": lr0 throughout
    - "step": lr0 * gamma ** (k // every)            (halve every 10 by default)
    - "cosine": lr_min + (lr0 - lr_min) * (1 + cos(pi * k / steps)) / 2
    """
    steps = check_positive_int("steps", steps)
    every = check_positive_int("every", every)
    if not lr0 > 0:
        raise ValueError(f"lr0 must be positive, got {lr0}")
    k = np.arange(steps)
    if kind == "constant":
        return np.full(steps, float(lr0))
    if kind == "step":
        return lr0 * gamma ** (k // every)
    if kind == "cosine":
        return lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * k / steps)) / 2
    raise ValueError(f"kind must be 'constant', 'step' or 'cosine', got {kind!r}")


# --------------------------------------------------------------------------------------------
# training one epoch at a time
# --------------------------------------------------------------------------------------------
def _loss_and_accuracy(net: Any, x: np.ndarray, t: Any) -> tuple[float, float]:
    # One eval-mode pass: the loss layer alone (no weight-decay term, so runs with and without
    # decay compare) and the accuracy of the same scores.
    scores = net.predict(x)
    loss = float(net.last_layer.forward(scores, t))
    labels = labels_to_indices(t, scores.shape[1])
    return loss, float(np.mean(np.argmax(scores, axis=1) == labels))


def fit_by_epoch(net: Any, x_train: np.ndarray, t_train: Any, x_test: np.ndarray, t_test: Any,
                 optimizer: Any, epochs: int, batch_size: int = 32,
                 lrs: Sequence[float] | None = None, seed: int = 0,
                 keep_params: bool = False) -> dict[str, list]:
    """Train with `cnncourse.trainer.Trainer` one epoch at a time and measure after each epoch.

    - optimizer: an object with update(params, grads) (its state carries over between epochs)
    - lrs: optional learning rate per epoch (sets optimizer.lr)
    - seed: epoch k shuffles with seed + k
    - keep_params: also keep a copy of every parameter after each epoch (for early stopping)
    Returns a history dict of per-epoch lists: "epoch" (1, 2, ...), "lr", "train_loss",
    "test_loss" (the loss layer alone, without weight decay, in eval mode on the whole set),
    "train_acc", "test_acc", and "params" (list of {key: array}) when keep_params.
    """
    from ..trainer import Trainer

    epochs = check_positive_int("epochs", epochs)
    if lrs is not None and len(lrs) < epochs:
        raise ValueError(f"lrs has {len(lrs)} learning rates for {epochs} epochs")
    history: dict[str, list] = {"epoch": [], "lr": [], "train_loss": [], "test_loss": [],
                                "train_acc": [], "test_acc": []}
    if keep_params:
        history["params"] = []
    for epoch in range(1, epochs + 1):
        if lrs is not None:
            optimizer.lr = float(lrs[epoch - 1])
        Trainer(net, x_train, t_train, epochs=1, batch_size=batch_size, optimizer=optimizer,
                seed=seed + epoch, progress=False).fit()
        net.eval()
        try:
            train_loss, train_acc = _loss_and_accuracy(net, x_train, t_train)
            test_loss, test_acc = _loss_and_accuracy(net, x_test, t_test)
        finally:
            net.train()
        history["epoch"].append(epoch)
        history["lr"].append(float(getattr(optimizer, "lr", float("nan"))))
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["train_acc"].append(train_acc)
        history["test_acc"].append(test_acc)
        if keep_params:
            history["params"].append({k: v.copy() for k, v in net.params.items()})
    return history


class PartialOptimizer:
    """Wraps an optimizer so that the parameters named in `frozen` never change.

    update(params, grads) hands only the other keys to `inner.update`, so frozen layers keep
    their (pretrained) weights while the rest trains. `lr` reads and sets the inner lr.
    """

    def __init__(self, inner: Any, frozen: Sequence[str]) -> None:
        if not hasattr(inner, "update"):
            raise TypeError(f"inner must have update(params, grads), got {type(inner).__name__}")
        self.inner, self.frozen = inner, frozenset(frozen)

    @property
    def lr(self) -> float:
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    def update(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        unknown = self.frozen - set(params)
        if unknown:
            raise KeyError(f"frozen keys {sorted(unknown)} are not parameters of the net")
        trainable = [k for k in params if k not in self.frozen]
        self.inner.update({k: params[k] for k in trainable}, {k: grads[k] for k in trainable})


# --------------------------------------------------------------------------------------------
# decision boundaries
# --------------------------------------------------------------------------------------------
def decision_grid(predict: Callable[[np.ndarray], np.ndarray], xlim: tuple[float, float],
                  ylim: tuple[float, float], n: int = 150
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class predicted at every point of an n x n grid over xlim x ylim.

    predict: maps points (M, 2) to scores (M, classes) (e.g. net.predict in eval mode).
    Returns (xx, yy, labels), each (n, n), labels the argmax class.
    """
    n = check_int("n", n, 2)
    xx, yy = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    scores = np.asarray(predict(np.column_stack([xx.ravel(), yy.ravel()])))
    if scores.ndim != 2 or scores.shape[0] != n * n:
        raise ValueError(f"predict must return scores (M, classes), got shape {scores.shape}")
    return xx, yy, np.argmax(scores, axis=1).reshape(n, n)


def count_linear_regions(net: Any, points: np.ndarray) -> int:
    """Number of distinct ReLU on/off patterns among `points`: each pattern is one region on
    which the ReLU net is a single affine function, so this counts the linear pieces the net
    has carved into the part of input space the points cover."""
    if not all(isinstance(layer, ReLU) for layer in _activation_layers(net)):
        raise ValueError("count_linear_regions needs a net whose hidden activations are ReLU")
    pattern = np.concatenate([a > 0 for a in hidden_activations(net, points)], axis=1)
    return int(len(np.unique(pattern, axis=0)))
