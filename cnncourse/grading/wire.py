"""Plain-data wire format between the grader and a student's kernel (JSON text, no pickle).

A value travels as a tagged JSON tree. Only these exact types are plain data:

    None, bool, int, float, str, list, tuple, dict with str keys,
    numpy.ndarray / numpy scalars of a bool, integer, float or complex dtype.

The kernel side (`encode(..., make_handle=...)`) turns anything else into an opaque handle
``{"t": "handle", "id": N}``. The grader side (`decode(..., strict)`) accepts only the tags
above, checks every type with ``type(x) is ...`` when encoding, and never builds any object
other than a builtin container, a builtin scalar or a numpy array of a whitelisted dtype.
"""
from __future__ import annotations

import base64
import importlib
import json
import types
from typing import Any, Callable

import numpy as np

PLAIN_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
})
MAX_DEPTH = 64
MAX_ARRAY_BYTES = 256 * 1024 * 1024


class WireError(ValueError):
    """A value that is not plain data, or a malformed message."""


def _array_to_wire(array: np.ndarray, tag: str) -> dict:
    name = array.dtype.name
    contiguous = np.ascontiguousarray(array, dtype=np.dtype(name))  # native byte order
    return {"t": tag, "dtype": name, "shape": list(array.shape),
            "b64": base64.b64encode(contiguous.tobytes()).decode("ascii")}


def function_reference(func: Any) -> dict:
    """``{"t": "fn", ...}`` for an importable module-level function (``numpy.sin``); else WireError."""
    name = getattr(func, "__name__", None)
    module = getattr(func, "__module__", None)
    if isinstance(func, np.ufunc):
        module = "numpy"
    if not isinstance(name, str) or not isinstance(module, str):
        raise WireError(f"cannot send {func!r}: only importable module-level functions travel")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise WireError(f"cannot send {func!r}: {module}.{name} is not importable") from exc
    if found is not func:
        raise WireError(f"cannot send {func!r}: {module}.{name} is a different object")
    return {"t": "fn", "module": module, "name": name}


# type(np.sum): numpy's array-function dispatchers (np.sum, np.std, np.linalg.norm, ...).
_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, np.ufunc, type(np.sum))


def encode(value: Any, make_handle: Callable[[Any], dict] | None = None, _depth: int = 0) -> Any:
    """Encode `value` as a tagged JSON tree.

    Non-plain values become ``make_handle(value)`` (kernel side) or, when `make_handle` is
    None (grader side), raise WireError -- except module-level functions, sent by reference.
    Objects with a ``_wire_ref`` attribute (grader-side proxies) encode as that reference.
    """
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": str(value)}
    if kind is float:
        return {"t": "float", "v": repr(value)}
    if kind is str:
        return {"t": "str", "v": value}
    if kind is list or kind is tuple:
        return {"t": kind.__name__, "v": [encode(v, make_handle, _depth + 1) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {"t": "dict", "v": [[k, encode(v, make_handle, _depth + 1)] for k, v in value.items()]}
    if kind is np.ndarray and value.dtype.name in PLAIN_DTYPES and value.dtype.fields is None:
        return _array_to_wire(value, "nd")
    if isinstance(value, np.generic) and kind is np.dtype(kind).type and np.dtype(kind).name in PLAIN_DTYPES:
        return _array_to_wire(np.asarray(value), "np")
    ref = getattr(type(value), "_wire_ref", None)
    if ref is not None and make_handle is None:
        return value._wire_ref()
    if make_handle is not None:
        return make_handle(value)
    if isinstance(value, _FUNCTION_TYPES):
        return function_reference(value)
    raise WireError(f"cannot send a {kind.__module__}.{kind.__qualname__}: only plain data "
                    "(numbers, str, None, list/tuple/dict, numeric numpy arrays) travels")


def _decode_array(node: dict) -> np.ndarray:
    dtype_name = node.get("dtype")
    if type(dtype_name) is not str or dtype_name not in PLAIN_DTYPES:
        raise WireError(f"array dtype {dtype_name!r} is not a plain numeric dtype")
    shape = node.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"bad array shape {shape!r}")
    raw_b64 = node.get("b64")
    if type(raw_b64) is not str or len(raw_b64) > MAX_ARRAY_BYTES * 4 // 3 + 8:
        raise WireError("array payload missing or larger than the limit")
    raw = base64.b64decode(raw_b64.encode("ascii"), validate=True)
    dtype = np.dtype(dtype_name)
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise WireError(f"array payload of {len(raw)} bytes does not fit shape {shape} {dtype_name}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(node: Any, resolve_handle: Callable[[dict], Any] | None = None,
           resolve_function: Callable[[dict], Any] | None = None, _depth: int = 0) -> Any:
    """Rebuild a value from its tagged tree, accepting only the plain-data tags.

    ``{"t": "handle"}`` nodes go to `resolve_handle` and ``{"t": "fn"}`` nodes to
    `resolve_function`; when the resolver is None such a node raises WireError.
    """
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if type(node) is not dict or type(node.get("t")) is not str:
        raise WireError(f"malformed wire node of type {type(node).__name__}")
    tag = node["t"]
    value = node.get("v")
    if tag == "none":
        return None
    if tag == "bool" and type(value) is bool:
        return value
    if tag == "int" and type(value) is str and len(value) <= 5000:
        return int(value)
    if tag == "float" and type(value) is str and len(value) <= 40:
        return float(value)
    if tag == "str" and type(value) is str:
        return value
    if tag in ("list", "tuple") and type(value) is list:
        items = [decode(v, resolve_handle, resolve_function, _depth + 1) for v in value]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and type(value) is list:
        out = {}
        for pair in value:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise WireError("malformed dict entry")
            out[pair[0]] = decode(pair[1], resolve_handle, resolve_function, _depth + 1)
        return out
    if tag == "nd":
        return _decode_array(node)
    if tag == "np":
        return _decode_array(node)[()]
    if tag == "handle" and resolve_handle is not None and type(node.get("id")) is int:
        return resolve_handle(node)
    if tag == "fn" and resolve_function is not None:
        return resolve_function(node)
    raise WireError(f"refused wire node with tag {tag!r}")


def dumps(tree: Any) -> str:
    """JSON text of a wire tree (NaN never appears: floats travel as repr strings)."""
    return json.dumps(tree, allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """Parse JSON text of a wire tree; the result still has to go through `decode`."""
    return json.loads(text)
