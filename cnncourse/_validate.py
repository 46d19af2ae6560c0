"""Argument checks shared by the numpy core and the course aids (private: not course API).

One contract everywhere:
- the wrong type raises TypeError, a value out of range raises ValueError;
- both messages start with the argument's name, so the student sees which number is wrong;
- Python ints and numpy integers (np.int64 from a shape, np.uint8, ...) are accepted and
  returned as plain int; bool is rejected although it subclasses int (`kernel_size=True` is a
  bug, not a kernel of size 1).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["check_int", "check_positive_int", "check_pair", "as_float_array"]


def check_int(name: str, value, minimum: int | None = None) -> int:
    """`value` as a plain int.

    Raises TypeError when value is not an integer (floats, strings and bools included) and
    ValueError when it is below `minimum` (no lower bound when minimum is None).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        kind = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return value


def check_positive_int(name: str, value) -> int:
    """`value` as a plain int >= 1 (TypeError for non-integers, ValueError for <= 0)."""
    return check_int(name, value, 1)


def check_pair(name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """An int (used for height and width alike) or a pair (h, w) of ints, as (int, int).

    TypeError when value is neither an integer nor a sequence, or when an entry is not an
    integer; ValueError for a sequence whose length is not 2 or an entry below `minimum`.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return (check_int(f"{name}[0]", value[0], minimum),
                check_int(f"{name}[1]", value[1], minimum))
    if isinstance(value, np.ndarray) and value.shape == (2,):
        return check_pair(name, value.tolist(), minimum)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or a pair (h, w) of ints, got {value!r} "
                        f"({type(value).__name__})")
    single = check_int(name, value, minimum)
    return single, single


def as_float_array(name: str, x, ndim: int | None = None) -> np.ndarray:
    """`x` as a numpy array of a floating dtype: float arrays pass through without a copy,
    integer and bool input becomes float64.

    Raises TypeError for data that is not numeric (strings, objects, complex numbers) and
    ValueError when `ndim` is given and x does not have that many axes.
    """
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
            or x.dtype == np.bool_):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x
