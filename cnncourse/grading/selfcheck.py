"""Student-side checks: self-check numeric answers without revealing them.

`digest(value)` turns an answer into a short salted hash; a visible test compares the student's
answer with the digest the instructor computed from the solution:

    assert matches_digest(n_params, "6f1d0c2a9e"), "not yet right: recount the bias terms"

Floats are rounded to `sig` significant digits first, so 0.1 + 0.2 matches 0.3.
"""
from __future__ import annotations

import hashlib
import numbers

_SALT = "cnncourse/v1"


def _canonical(value, sig: int) -> str:
    # bool before int: bool is an int subclass, and True must not match 1.
    if isinstance(value, bool):
        return f"bool:{value}"
    if isinstance(value, numbers.Integral):
        return f"int:{int(value)}"
    if isinstance(value, numbers.Real):
        x = float(value)
        if x.is_integer() and abs(x) < 1e15:
            return f"int:{int(x)}"
        return f"float:{x:.{sig}g}"
    if isinstance(value, str):
        return f"str:{value}"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_canonical(v, sig) for v in value) + ")"
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _canonical(value.tolist(), sig)
    raise TypeError(f"cannot digest an answer of type {type(value).__name__}; "
                    "use a number, a string, or a list/tuple of them")


def digest(value, sig: int = 6) -> str:
    """Salted 10-hex-digit hash of `value` (numbers, strings, nested lists/tuples, arrays)."""
    return hashlib.sha256((_SALT + _canonical(value, sig)).encode()).hexdigest()[:10]


def matches_digest(value, expected_digest: str, sig: int = 6) -> bool:
    """True when `value` hashes to `expected_digest`; False (never an error) for other types."""
    try:
        return digest(value, sig) == expected_digest
    except TypeError:
        return False
