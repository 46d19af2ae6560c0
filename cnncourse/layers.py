"""numpy layers with forward and backward passes (the layer protocol of docs/DESIGN.md).

- `forward(x)` computes the output and caches what `backward` needs.
- `backward(dout)` takes dL/d(out) and returns dL/dx; the gradient of each parameter named in
  `param_names` is stored in the attribute "d" + name (`dW`, `db`, `dgamma`, `dbeta`).
- Losses: `forward(x, t) -> float`, `backward(dout=1.0) -> dx`.
- `training` (default True) switches Dropout and BatchNorm between train and eval behaviour.

Shapes follow CS231n / Saito: a batch of N samples on axis 0, images (N, C, H, W), affine weights
(D_in, D_out).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Layer", "Affine", "ReLU", "Sigmoid", "Tanh", "PerceptronStep", "SoftmaxWithLoss",
           "MSELoss", "ActivationLoss", "Dropout", "BatchNorm", "softmax", "sigmoid",
           "cross_entropy_error", "multilabel_soft_margin", "labels_to_indices"]


# --------------------------------------------------------------------------------------------
# functions
# --------------------------------------------------------------------------------------------
def sigmoid(x: Any) -> Any:
    """Logistic sigmoid, elementwise: sigmoid(x) = 1 / (1 + exp(-x)).

    Input: float or array of any shape. Output: same shape, values in [0, 1]. Computed as
    exp(-log(1 + exp(-x))) so that neither large positive nor large negative x overflows.
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    out = np.exp(-np.logaddexp(0.0, -arr))
    return float(out) if out.ndim == 0 and not isinstance(x, np.ndarray) else out


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: y_k = exp(x_k - max x) / sum_j exp(x_j - max x).

    Input: scores of shape (C,) or (N, C) (any leading shape works). Output: same shape, each
    row positive and summing to 1. Subtracting the row maximum leaves y unchanged and keeps
    exp from overflowing.
    """
    x = np.asarray(x)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def labels_to_indices(t: Any, num_classes: int) -> np.ndarray:
    """Class indices from labels given as indices (N,) or one-hot rows (N, C).

    Input: t, integer indices of shape (N,) (or one int) or one-hot rows of shape
    (N, num_classes). Output: int64 array (N,). Raises ValueError for indices outside
    [0, num_classes - 1], non-integer indices, or one-hot rows of the wrong width.
    """
    t = np.asarray(t)
    if t.ndim == 2:
        if t.shape[1] != num_classes:
            raise ValueError(f"one-hot labels have {t.shape[1]} columns but there are "
                             f"{num_classes} classes")
        return np.argmax(t, axis=1).astype(np.int64)
    if t.ndim > 2:
        raise ValueError(f"labels must be indices (N,) or one-hot (N, C), got shape {t.shape}")
    if not (np.issubdtype(t.dtype, np.integer) or
            (np.issubdtype(t.dtype, np.floating) and np.all(t == np.round(t)))):
        raise ValueError(f"class-index labels must be integers, got dtype {t.dtype}")
    idx = t.astype(np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"class indices must lie in [0, {num_classes - 1}], "
                         f"got min {idx.min()} and max {idx.max()}")
    return idx


def _targets_as_probs(t: Any, y_shape: tuple[int, int]) -> np.ndarray:
    # (N, C) targets are one-hot (or soft) rows; (N,) targets are class indices.
    t = np.asarray(t)
    n, num_classes = y_shape
    if t.ndim == 2:
        if t.shape != y_shape:
            raise ValueError(f"one-hot targets of shape {t.shape} do not match scores {y_shape}")
        return t.astype(np.float64)
    idx = labels_to_indices(t, num_classes)
    if idx.shape[0] != n:
        raise ValueError(f"got {idx.shape[0]} labels for {n} samples (scores of shape {y_shape})")
    probs = np.zeros(y_shape)
    probs[np.arange(n), idx] = 1.0
    return probs


def cross_entropy_error(y: np.ndarray, t: Any, eps: float = 1e-12) -> float:
    """Mean cross-entropy of predicted probabilities y against labels t.

    E = -(1/N) sum_n sum_k t_nk log(max(y_nk, eps))

    Inputs:
    - y: probabilities, (N, C), or (C,) for one sample.
    - t: class indices (N,) (or a single int for one sample) or one-hot rows of y's shape.
    - eps: floor under y so that a probability of exactly 0 gives a large finite loss, not inf.
    Output: float.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        # One sample: t is one index or one one-hot row.
        y = y[None, :]
        t = np.asarray(t)
        t = t[None, :] if t.ndim == 1 else t.reshape(1)
    if y.ndim != 2:
        raise ValueError(f"y must be (N, C) or (C,), got shape {y.shape}")
    probs_t = _targets_as_probs(t, y.shape)
    return float(-np.sum(probs_t * np.log(np.maximum(y, eps))) / y.shape[0])


def multilabel_soft_margin(x: Any, y: Any) -> tuple[float, np.ndarray]:
    """Multi-label soft-margin loss (torch's MultiLabelSoftMarginLoss) and its gradient.

    Each of the C classes is its own yes/no question answered by sigmoid(x_nc):
        loss = -(1/N) sum_n (1/C) sum_c [y_nc log s(x_nc) + (1 - y_nc) log(1 - s(x_nc))]
        dloss/dx_nc = (s(x_nc) - y_nc) / (N C)
    Inputs: scores x (N, C); targets y (N, C) in [0, 1] (several 1s per row allowed).
    Output: (loss as float, dx of shape (N, C)). log s(x) = -log(1 + e^-x) is computed with
    logaddexp, so large scores do not overflow.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"multilabel_soft_margin needs scores and targets of the same shape "
                         f"(N, C), got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("multilabel_soft_margin needs at least one sample and one class")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("multi-label targets must lie in [0, 1]")
    log_s = -np.logaddexp(0.0, -x)            # log sigmoid(x)
    log_one_minus_s = -np.logaddexp(0.0, x)   # log (1 - sigmoid(x))
    loss = -np.mean(y * log_s + (1.0 - y) * log_one_minus_s)
    dx = (sigmoid(x) - y) / x.size
    return float(loss), dx


# --------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------
class Layer:
    """Base class of every numpy layer (here and in `conv`, `pooling`): the protocol in one place.

    - `param_names`: the attributes holding learnable parameters (e.g. ("W", "b")); after
      `backward` the gradient of `name` is in attribute "d" + name. Default: none.
    - `training` (bool, True after __init__): switches Dropout and BatchNorm, and lets a max
      pool record its argmax during forward; nets flip it for every layer at once.
    - `named_params()` / `named_grads()`: dict views of the arrays themselves.
    - `_cached(*names)`: what forward stored for backward; raises RuntimeError
      "<Layer>.backward called before forward" while forward has not stored it yet. So a
      subclass stores its cache as attributes in forward and never sets them in __init__.
    Subclasses call `super().__init__()`.
    """

    param_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def named_params(self) -> dict[str, np.ndarray]:
        """{name: array} for each learnable parameter (the arrays themselves, not copies)."""
        return {name: getattr(self, name) for name in self.param_names}

    def named_grads(self) -> dict[str, np.ndarray]:
        """{name: d<name>} after backward."""
        return {name: getattr(self, "d" + name) for name in self.param_names}

    def _cached(self, *names: str) -> tuple:
        """The attributes `names` set by forward, as a tuple; RuntimeError before forward."""
        try:
            return tuple(getattr(self, n) for n in names)
        except AttributeError:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward") from None

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={getattr(self, n).shape}" for n in self.param_names)
        return f"{type(self).__name__}({shapes})"


def _as_float_array(a: Any) -> np.ndarray:
    # Keep float arrays as they are (the net shares them); turn ints and lists into float64.
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


class Affine(Layer):
    """Fully connected layer: out = x_flat @ W + b.

    - x: (N, d_1, ..., d_k) with d_1 * ... * d_k = D; flattened to x_flat (N, D)
    - W: (D, M), b: (M,)
    - out: (N, M)
    Backward: dx = dout @ W.T (reshaped to x's shape), dW = x_flat.T @ dout, db = sum_n dout.
    """

    param_names = ("W", "b")

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        W = _as_float_array(W)
        b = _as_float_array(b)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"Affine needs W of shape (D, M) and b of shape (M,), "
                             f"got W {W.shape} and b {b.shape}")
        self.W, self.b = W, b
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.W.shape[0]:
            raise ValueError(f"Affine with W {self.W.shape} needs inputs (N, ...) with "
                             f"{self.W.shape[0]} features per sample, got shape {x.shape}")
        self.x_shape = x.shape
        self.x_flat = x.reshape(x.shape[0], -1)
        return self.x_flat @ self.W + self.b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_flat, x_shape = self._cached("x_flat", "x_shape")
        self.dW = x_flat.T @ dout
        self.db = np.sum(dout, axis=0)
        return (dout @ self.W.T).reshape(x_shape)


class ReLU(Layer):
    """out = max(0, x), elementwise, any shape. Backward: dx = dout where x > 0, else 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = np.asarray(x) <= 0
        out = np.array(x, copy=True)
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (mask,) = self._cached("mask")
        dx = np.array(dout, copy=True)
        dx[mask] = 0
        return dx


class Sigmoid(Layer):
    """out = sigmoid(x), elementwise, any shape. Backward: dx = dout * out * (1 - out)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(np.asarray(x))
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (out,) = self._cached("out")
        return dout * out * (1.0 - out)


class Tanh(Layer):
    """out = tanh(x), elementwise, any shape. Backward: dx = dout * (1 - out^2)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (out,) = self._cached("out")
        return dout * (1.0 - out * out)


class PerceptronStep(Layer):
    """The perceptron's step activation: out = 1.0 where x > 0, else 0.0 (any shape).

    The step's true derivative is 0 wherever it exists, so gradient descent could never move
    the weights. The perceptron rule updates them with the error (t - out) times the input, as
    if the step were the identity on the way back: backward(dout) returns dout unchanged.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.out = (x > 0).astype(np.float64)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._cached("out")
        return np.asarray(dout)


class SoftmaxWithLoss(Layer):
    """Softmax followed by the mean cross-entropy loss, fused for stability.

    forward(x, t):
    - x: scores (N, C); t: class indices (N,) or one-hot (N, C) (soft targets whose rows sum to
      1 also work)
    - loss = -(1/N) sum_n sum_k t_nk log softmax(x_n)_k, computed with log-softmax so no log(0)
    backward(dout=1.0): dx = dout * (softmax(x) - t_onehot) / N, shape (N, C).
    """

    def forward(self, x: np.ndarray, t: Any) -> float:
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss needs scores of shape (N, C), got {x.shape}")
        self.t_probs = _targets_as_probs(t, x.shape)
        log_y = _log_softmax(x)
        self.y = np.exp(log_y)
        self.loss = float(-np.sum(self.t_probs * log_y) / x.shape[0])
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        y, t_probs = self._cached("y", "t_probs")
        return (dout / y.shape[0]) * (y - t_probs).astype(y.dtype)


class MSELoss(Layer):
    """Half the sum of squared errors per sample, averaged over the batch.

    forward(y, t):
    - y, t: same shape, (N, ...) with the batch on axis 0; a 1-D y is ONE sample (N = 1)
    - loss = (1/N) * sum_n 0.5 * sum_k (y_nk - t_nk)^2   (the 1/2 cancels the 2 of the square)
    backward(dout=1.0): dy = dout * (y - t) / N, shape of y.
    """

    def forward(self, y: np.ndarray, t: Any) -> float:
        y = np.asarray(y)
        t = np.asarray(t)
        if y.shape != t.shape:
            # Refuse to broadcast: (N, 1) against (N,) would silently give an (N, N) error table.
            raise ValueError(f"MSELoss needs y and t of the same shape, "
                             f"got {y.shape} and {t.shape}")
        self.n = 1 if y.ndim <= 1 else y.shape[0]
        self.diff = y - t
        self.loss = float(0.5 * np.sum(self.diff ** 2) / self.n)
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        diff, n = self._cached("diff", "n")
        return (dout / n) * diff


class ActivationLoss(Layer):
    """An output activation followed by a loss layer, usable as a net's `last_layer`.

    forward(x, t) = loss.forward(activation.forward(x), t)
    backward(dout=1.0) = activation.backward(loss.backward(dout))

    e.g. ActivationLoss(Sigmoid(), MSELoss()) is the classic MLP output (sigmoid units, squared
    error against one-hot targets); ActivationLoss(PerceptronStep(), MSELoss()) the perceptron.
    """

    def __init__(self, activation: Any, loss: Any) -> None:
        super().__init__()
        self.activation, self.loss = activation, loss

    def forward(self, x: np.ndarray, t: Any) -> float:
        return self.loss.forward(self.activation.forward(x), t)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        return self.activation.backward(self.loss.backward(dout))

    def __repr__(self) -> str:
        return f"ActivationLoss({type(self.activation).__name__}, {type(self.loss).__name__})"


class Dropout(Layer):
    """Inverted dropout: in training each unit is kept with probability 1 - ratio and scaled by
    1 / (1 - ratio), so eval mode is the identity and the expected activation is unchanged.

    - x: any shape; out: same shape
    - training: out = x * mask / (1 - ratio), mask ~ Bernoulli(1 - ratio) per element
    - eval: out = x
    Backward: dx = dout * mask / (1 - ratio) in training, dout in eval.
    """

    def __init__(self, ratio: float = 0.5, seed: int | None = None) -> None:
        super().__init__()
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"dropout ratio must be in [0, 1), got {ratio}")
        self.ratio = float(ratio)
        self.rng = np.random.default_rng(seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.training or self.ratio == 0.0:
            self.scaled_mask = None
            return x
        keep = self.rng.random(x.shape) >= self.ratio
        self.scaled_mask = keep.astype(x.dtype) / (1.0 - self.ratio)
        return x * self.scaled_mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        (scaled_mask,) = self._cached("scaled_mask")
        return dout if scaled_mask is None else dout * scaled_mask


class BatchNorm(Layer):
    """Batch normalization over the batch (and, for images, the spatial positions).

    - x: (N, D) with gamma, beta of shape (D,); or (N, C, H, W) with gamma, beta of shape (C,),
      normalized per channel over N, H and W
    - training: mu, var = mean and (biased) variance over the batch;
      x_hat = (x - mu) / sqrt(var + eps); out = gamma * x_hat + beta;
      running_mean = momentum * running_mean + (1 - momentum) * mu (same for running_var)
    - eval: x_hat uses running_mean and running_var instead
    Backward (training), per feature with M samples:
      dx = (gamma / (M * sqrt(var + eps))) * (M * dout - sum(dout) - x_hat * sum(dout * x_hat))
      dgamma = sum(dout * x_hat), dbeta = sum(dout)
    """

    param_names = ("gamma", "beta")

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 eps: float = 1e-5, running_mean: np.ndarray | None = None,
                 running_var: np.ndarray | None = None) -> None:
        super().__init__()
        gamma = _as_float_array(gamma)
        beta = _as_float_array(beta)
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"BatchNorm needs 1-D gamma and beta of the same shape, "
                             f"got {gamma.shape} and {beta.shape}")
        if not 0.0 <= momentum <= 1.0 or not eps > 0:
            raise ValueError(f"BatchNorm needs 0 <= momentum <= 1 and eps > 0, "
                             f"got momentum={momentum}, eps={eps}")
        self.gamma, self.beta = gamma, beta
        self.momentum, self.eps = float(momentum), float(eps)
        d = gamma.shape[0]
        self.running_mean = (np.zeros(d, gamma.dtype) if running_mean is None
                             else np.array(running_mean, dtype=gamma.dtype))
        self.running_var = (np.ones(d, gamma.dtype) if running_var is None
                            else np.array(running_var, dtype=gamma.dtype))
        if self.running_mean.shape != (d,) or self.running_var.shape != (d,):
            raise ValueError(f"running_mean and running_var must have shape ({d},), got "
                             f"{self.running_mean.shape} and {self.running_var.shape}")

    def _to_2d(self, x: np.ndarray) -> np.ndarray:
        d = self.gamma.shape[0]
        if x.ndim == 2 and x.shape[1] == d:
            return x
        if x.ndim == 4 and x.shape[1] == d:
            return x.transpose(0, 2, 3, 1).reshape(-1, d)
        raise ValueError(f"BatchNorm with {d} features needs (N, {d}) or (N, {d}, H, W) input, "
                         f"got shape {x.shape}")

    def _from_2d(self, y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if len(shape) == 2:
            return y
        n, c, h, w = shape
        return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        x2 = self._to_2d(x)
        self.x_shape = x.shape
        if self.training:
            if x2.shape[0] < 2:
                raise ValueError("BatchNorm in training mode needs at least 2 values per feature "
                                 f"to estimate a variance, got input of shape {x.shape}")
            mu = x2.mean(axis=0)
            var = x2.var(axis=0)
            # In place, so that a net's dict of running statistics stays the same objects.
            self.running_mean *= self.momentum
            self.running_mean += (1.0 - self.momentum) * mu
            self.running_var *= self.momentum
            self.running_var += (1.0 - self.momentum) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x2 - mu) * self.inv_std
        self.mode_was_training = self.training
        return self._from_2d(self.gamma * self.x_hat + self.beta, x.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x_hat, inv_std, x_shape = self._cached("x_hat", "inv_std", "x_shape")
        dout2 = self._to_2d(np.asarray(dout))
        self.dbeta = dout2.sum(axis=0)
        self.dgamma = np.sum(dout2 * x_hat, axis=0)
        dx_hat = dout2 * self.gamma
        if self.mode_was_training:
            m = dout2.shape[0]
            dx2 = (inv_std / m) * (m * dx_hat - dx_hat.sum(axis=0)
                                   - x_hat * np.sum(dx_hat * x_hat, axis=0))
        else:
            dx2 = dx_hat * inv_std  # running statistics are constants in eval mode
        return self._from_2d(dx2, x_shape)
