"""cnncourse._validate: one contract for argument checks (TypeError for the wrong type,
ValueError for a wrong value, both naming the argument; numpy integers in, bool out)."""
import numpy as np
import pytest

from cnncourse._validate import as_float_array, check_int, check_pair, check_positive_int


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3), np.int8(3)])
def test_check_int_accepts_python_and_numpy_integers(value):
    got = check_int("size", value, 0)
    assert got == 3 and type(got) is int


@pytest.mark.parametrize("value", [3.0, 2.5, "3", None, True, False, np.bool_(True),
                                   np.float64(3.0), [3]])
def test_check_int_rejects_non_integers_with_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match=r"^kernel_size must be an integer, got "):
        check_int("kernel_size", value)


def test_check_int_bounds():
    assert check_int("padding", 0, 0) == 0
    assert check_int("shift", -5) == -5                     # no minimum: any integer
    with pytest.raises(ValueError, match=r"^padding must be >= 0, got -1$"):
        check_int("padding", -1, 0)
    with pytest.raises(ValueError, match=r"^stride must be positive, got 0$"):
        check_positive_int("stride", 0)
    with pytest.raises(ValueError, match=r"^stride must be positive, got -2$"):
        check_positive_int("stride", np.int64(-2))
    with pytest.raises(ValueError, match=r"^groups must be >= 2, got 1$"):
        check_int("groups", 1, 2)


@pytest.mark.parametrize("value, expected", [
    (2, (2, 2)), ((1, 3), (1, 3)), ([4, 5], (4, 5)), (np.int64(2), (2, 2)),
    ((np.int64(1), np.uint8(2)), (1, 2)), (np.array([3, 4]), (3, 4)),
])
def test_check_pair_accepts_int_or_pair(value, expected):
    got = check_pair("stride", value, 1)
    assert got == expected and all(type(v) is int for v in got)


@pytest.mark.parametrize("value, error, message", [
    ((1, 2, 3), ValueError, r"^stride must be an int or a pair \(h, w\), got \(1, 2, 3\)"),
    ((1,), ValueError, r"^stride must be an int or a pair"),
    ((1, 0), ValueError, r"^stride\[1\] must be positive, got 0"),
    ((1.0, 2), TypeError, r"^stride\[0\] must be an integer"),
    ("22", TypeError, r"^stride must be an int or a pair \(h, w\) of ints"),
    (2.0, TypeError, r"^stride must be an int or a pair"),
    (True, TypeError, r"^stride must be an int or a pair"),
    (None, TypeError, r"^stride must be an int or a pair"),
])
def test_check_pair_rejects_bad_values(value, error, message):
    with pytest.raises(error, match=message):
        check_pair("stride", value, 1)


def test_as_float_array_keeps_floats_and_converts_the_rest():
    x32 = np.ones((2, 3), dtype=np.float32)
    assert as_float_array("x", x32) is x32                   # no copy for float input
    ints = as_float_array("x", [[1, 2], [3, 4]], 2)
    assert ints.dtype == np.float64 and ints.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert as_float_array("mask", np.array([True, False])).dtype == np.float64
    caller = np.arange(3)
    as_float_array("x", caller)
    assert caller.dtype.kind == "i"                          # the caller's array is untouched


def test_as_float_array_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"^w must be 2-D, got shape \(3,\)$"):
        as_float_array("w", np.ones(3), 2)
    with pytest.raises(TypeError, match=r"^image must hold real numbers, got dtype <U1"):
        as_float_array("image", np.array(["a", "b"]))
    with pytest.raises(TypeError, match="x must hold real numbers"):
        as_float_array("x", np.array([1 + 2j]))
