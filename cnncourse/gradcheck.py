"""Numerical gradients (central differences) and relative errors, to check a backward pass.

    numerical_gradient(f, x, h)      dF/dx[i] ~= (f(x + h e_i) - f(x - h e_i)) / (2h)
    rel_error(a, b, eps)             max_i |a_i - b_i| / max(eps, |a_i| + |b_i|)
    check_layer_gradients(layer, x)  both of the above for a layer's dx and every d<param>

The central difference has error O(h^2); the one-sided (f(x + h) - f(x)) / h has error O(h),
which is why a checker with a large h and a one-sided difference reports false alarms.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["numerical_gradient", "rel_error", "check_layer_gradients"]


def _scalar(value: Any, where: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"{where} must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def numerical_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function f with respect to the array x.

    Inputs:
    - f: callable, f(x) -> scalar (a float or a one-element array).
    - x: float ndarray of any shape (float64 for accurate checks). Each element is nudged IN
      PLACE to x[i] + h and x[i] - h, then restored exactly, so f may also read x through a
      closure (a layer's weight array, say).
    - h: step size, > 0.

    Returns:
    - grad: float64 array of x.shape, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array (it is changed in place), got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must have a floating dtype to be nudged by h, got {x.dtype}")
    if not h > 0:
        raise ValueError(f"the step h must be positive, got h={h}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        try:
            x[idx] = original + h
            f_plus = _scalar(f(x), "f")
            x[idx] = original - h
            f_minus = _scalar(f(x), "f")
        finally:
            x[idx] = original  # restore even if f raises, so x is never left nudged
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


def rel_error(a: Any, b: Any, eps: float = 1e-12) -> float:
    """Largest elementwise relative error between a and b.

    rel_error(a, b) = max over i of |a_i - b_i| / max(eps, |a_i| + |b_i|)

    The eps guard keeps 0/0 (both gradients exactly zero, e.g. behind a ReLU) at 0 instead of
    nan. Inputs: arrays (or scalars) of the same shape. Returns a float >= 0 (0.0 when empty).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    denom = np.maximum(eps, np.abs(a) + np.abs(b))
    return float(np.max(np.abs(a - b) / denom))


def check_layer_gradients(layer: Any, x: np.ndarray, dout: Any = None, seed: int = 0,
                          t: Any = None, h: float = 1e-5) -> dict[str, float]:
    """Compare a layer's backward with numerical gradients; return relative errors by name.

    The checked scalar is F = sum(layer.forward(x) * dout), so dF/d(out) = dout and the layer's
    `backward(dout)` must give dF/dx and dF/d<param>. With `t` the layer is a loss:
    F = layer.forward(x, t) * dout (dout a scalar, 1.0 by default) and `backward(dout)` is used.

    Inputs:
    - layer: object with forward/backward and `param_names`; params must be float64 arrays.
    - x: input array (converted to a float64 copy; the caller's array is not touched).
    - dout: upstream gradient of the output's shape; drawn from N(0, 1) with `seed` when None.
    - t: targets for a loss layer, else None.

    Returns: {"dx": err, "d<name>": err for each name in layer.param_names}, each err from
    `rel_error(analytic, numerical)`. A correct float64 layer gives errors around 1e-8 or less.
    The layer's forward must be deterministic (fix a Dropout mask first).
    """
    x = np.array(x, dtype=np.float64)
    names = tuple(getattr(layer, "param_names", ()))
    for name in names:
        p = getattr(layer, name)
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            raise TypeError(f"check gradients in float64: parameter {name!r} is "
                            f"{getattr(p, 'dtype', type(p).__name__)}")

    if t is None:
        out = layer.forward(x)
        if dout is None:
            dout = np.random.default_rng(seed).standard_normal(np.shape(out))
        dout = np.asarray(dout, dtype=np.float64)
        if dout.shape != np.shape(out):
            raise ValueError(f"dout has shape {dout.shape} but the layer's output has shape "
                             f"{np.shape(out)}")

        def objective(_: np.ndarray) -> float:
            return float(np.sum(layer.forward(x) * dout))
    else:
        layer.forward(x, t)
        dout = 1.0 if dout is None else float(dout)

        def objective(_: np.ndarray) -> float:
            return float(layer.forward(x, t)) * dout

    dx = np.array(layer.backward(dout), dtype=np.float64)
    analytic = {"dx": dx}
    for name in names:
        analytic["d" + name] = np.array(getattr(layer, "d" + name), dtype=np.float64)

    errors = {"dx": rel_error(dx, numerical_gradient(objective, x, h))}
    for name in names:
        numeric = numerical_gradient(objective, getattr(layer, name), h)
        errors["d" + name] = rel_error(analytic["d" + name], numeric)
    return errors
