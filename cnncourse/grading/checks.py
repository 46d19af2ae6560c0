"""Comparisons for hidden test blocks: type, shape and dtype before values.

`np.allclose(np.zeros(0), expected)` is True for any expected array (an empty array broadcasts),
and `np.allclose(3, [3, 3])` is True too; a hidden block that compares values alone passes
degenerate answers. `assert_array_equalish` checks, in this order, that the answer is an array
(or a number where a number is expected), that its shape is the expected shape, that its dtype is
of the expected kind (or exactly `dtype`), and only then the values.

Under `cnncourse-grade` this runs in the grader's process on plain data decoded from the
student's kernel (see `cnncourse.grading.wire`), so the student cannot replace it. Messages name
the mismatch (a shape, a dtype, how many entries differ) but never print expected values.
"""
from __future__ import annotations


import numpy as np

_KIND_FAMILY = {"b": "bool", "i": "integer", "u": "integer", "f": "floating", "c": "complex"}


def _family(dtype: np.dtype) -> str:
    return _KIND_FAMILY.get(dtype.kind, dtype.kind)


def assert_array_equalish(actual, expected, *, rtol: float = 1e-7, atol: float = 0.0,
                          dtype=None, name: str = "result") -> None:
    """Raise AssertionError unless `actual` matches `expected` in type, shape, dtype and values.

    actual: what the student's code returned (an np.ndarray, or a number for a scalar answer).
    expected: the instructor's own value (array-like or a number).
    rtol, atol: tolerance for floating/complex values (np.allclose, NaN never equals NaN);
        integer and bool answers must be exactly equal.
    dtype: if given, the exact dtype required (e.g. np.float64); by default the dtype's kind must
        match the expected one (bool / integer / floating / complex), so an int array does not
        pass for a float answer nor a float array for an int answer.
    """
    scalar = not isinstance(expected, np.ndarray) and np.ndim(expected) == 0
    if scalar:
        _check_number(actual, expected, name)
    elif type(actual) is not np.ndarray:
        raise AssertionError(f"{name}: expected a numpy array, got {type(actual).__name__}")
    expected_arr = np.asarray(expected)
    actual_arr = np.asarray(actual)
    if actual_arr.dtype.kind not in _KIND_FAMILY:
        raise AssertionError(f"{name}: dtype {actual_arr.dtype} is not numeric")
    if actual_arr.shape != expected_arr.shape:
        raise AssertionError(f"{name}: shape {actual_arr.shape}, expected {expected_arr.shape}")
    if dtype is not None:
        if actual_arr.dtype != np.dtype(dtype):
            raise AssertionError(f"{name}: dtype {actual_arr.dtype}, expected {np.dtype(dtype)}")
    elif not (scalar and isinstance(expected, (int, float)) and not isinstance(expected, bool)):
        # arrays must match the dtype family; a plain Python int/float accepts either
        if _family(actual_arr.dtype) != _family(expected_arr.dtype):
            raise AssertionError(f"{name}: dtype {actual_arr.dtype} ({_family(actual_arr.dtype)}), "
                                 f"expected {_family(expected_arr.dtype)} dtype")
    if actual_arr.dtype.kind in "biu" and expected_arr.dtype.kind in "biu":
        differ = int(np.count_nonzero(actual_arr != expected_arr))
    else:
        close = np.isclose(actual_arr, expected_arr, rtol=rtol, atol=atol, equal_nan=False)
        differ = int(close.size - np.count_nonzero(close))
    if differ:
        raise AssertionError(f"{name}: {differ} of {expected_arr.size} value(s) differ")


def _check_number(actual, expected, name: str) -> None:
    """A scalar answer: a number (a bool only where a bool is expected), or a 0-d array."""
    if type(actual) is np.ndarray:
        if actual.ndim != 0:
            raise AssertionError(f"{name}: expected a single number, got an array of shape {actual.shape}")
        return
    if not isinstance(actual, (int, float, complex, np.number, np.bool_)):
        raise AssertionError(f"{name}: expected a number, got {type(actual).__name__}")
    want_bool = isinstance(expected, (bool, np.bool_))
    if isinstance(actual, (bool, np.bool_)) != want_bool:
        raise AssertionError(f"{name}: expected {'a bool' if want_bool else 'a number'}, "
                             f"got {type(actual).__name__}")
