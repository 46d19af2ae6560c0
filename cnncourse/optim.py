"""Optimizers that update a dict of parameter arrays IN PLACE, and weight-initialization scales.

Every optimizer has `update(params, grads)`: for each key of `params`, the array params[key] is
changed in place (`p -= ...`), so the layers that hold the same array object see the new values.

    SGD       p <- p - lr * g
    Momentum  v <- momentum * v - lr * g;  p <- p + v
    AdaGrad   h <- h + g * g;  p <- p - lr * g / (sqrt(h) + eps)
    Adam      m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2  (t-th step)
              p <- p - lr * m_hat / (sqrt(v_hat) + eps)
              with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["Optimizer", "SGD", "Momentum", "AdaGrad", "Adam", "make_optimizer", "init_std"]


class Optimizer:
    """Base class: checks the two dicts and hands each (key, param, grad) to `_step`."""

    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr}")
        self.lr = float(lr)
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        """Update every params[key] in place from grads[key]; both dicts share their keys."""
        missing = [k for k in params if k not in grads]
        if missing:
            raise KeyError(f"no gradient for parameter(s) {missing}")
        for key, param in params.items():
            if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
                raise TypeError(f"parameter {key!r} must be a float numpy array to be updated in "
                                f"place, got {type(param).__name__} {getattr(param, 'dtype', '')}")
            grad = np.asarray(grads[key])
            if grad.shape != param.shape:
                raise ValueError(f"gradient {key!r} has shape {grad.shape} but the parameter "
                                 f"has shape {param.shape}")
            self._step(key, param, grad)

    def _slot(self, key: str, name: str, like: np.ndarray) -> np.ndarray:
        # Per-parameter state (velocity, squared-gradient sums), created on first use.
        slots = self.state.setdefault(key, {})
        if name not in slots:
            slots[name] = np.zeros_like(like)
        return slots[name]

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        extra = {k: v for k, v in vars(self).items() if k not in ("state", "t")}
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in extra.items())})"


class SGD(Optimizer):
    """Plain (minibatch) stochastic gradient descent: p <- p - lr * g."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        param -= self.lr * grad


class Momentum(Optimizer):
    """SGD with momentum: v <- momentum * v - lr * g; p <- p + v (v starts at 0)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        v = self._slot(key, "v", param)
        v *= self.momentum
        v -= self.lr * grad
        param += v


class AdaGrad(Optimizer):
    """AdaGrad: h <- h + g^2; p <- p - lr * g / (sqrt(h) + eps). Steps shrink as h grows."""

    def __init__(self, lr: float = 0.01, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.eps = float(eps)

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        h = self._slot(key, "h", param)
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + self.eps)


class Adam(Optimizer):
    """Adam with bias correction (the same update as torch.optim.Adam without weight decay).

    m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; after t steps
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1}, {beta2}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0

    def update(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        self.t += 1  # one step for the whole dict, not one per key
        super().update(params, grads)

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        m = self._slot(key, "m", param)
        v = self._slot(key, "v", param)
        m += (1.0 - self.beta1) * (grad - m)
        v += (1.0 - self.beta2) * (grad * grad - v)
        m_hat = m / (1.0 - self.beta1 ** self.t)
        v_hat = v / (1.0 - self.beta2 ** self.t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


_OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": AdaGrad, "adam": Adam}


def make_optimizer(name: str, lr: float | None = None, **kwargs: Any) -> Optimizer:
    """An optimizer by name: "sgd", "momentum", "adagrad" or "adam" (case-insensitive).

    lr=None keeps the class default (0.01, or 0.001 for Adam); other keywords go to the class.
    """
    cls = _OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(_OPTIMIZERS)}")
    return cls(**kwargs) if lr is None else cls(lr=lr, **kwargs)


def init_std(kind: str | float, fan_in: int) -> float:
    """Standard deviation of the initial weights of a layer with `fan_in` inputs per unit.

    - "xavier" (also "sigmoid", "tanh"): 1 / sqrt(fan_in)    keeps variance through tanh/sigmoid
    - "he" (also "relu"): sqrt(2 / fan_in)                   makes up for ReLU zeroing half
    - a number: returned as is (e.g. 0.01, too small for a deep tanh net)
    """
    if isinstance(kind, bool):
        raise TypeError("weight_init must be 'he', 'xavier' or a number, got a bool")
    if isinstance(kind, (int, float, np.number)):
        if not kind > 0:
            raise ValueError(f"a weight std must be positive, got {kind}")
        return float(kind)
    if not isinstance(fan_in, (int, np.integer)) or fan_in < 1:
        raise ValueError(f"fan_in must be a positive integer, got {fan_in!r}")
    key = str(kind).lower()
    if key in ("xavier", "sigmoid", "tanh"):
        return 1.0 / math.sqrt(fan_in)
    if key in ("he", "relu"):
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown weight init {kind!r}; use 'he', 'xavier' or a positive number")
