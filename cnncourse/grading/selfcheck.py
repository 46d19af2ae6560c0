"""Student-side checks: self-check numeric answers without revealing them.

`digest(value, key)` turns an answer into a keyed, deliberately slow hash; a visible test
compares the student's answer with the digest the instructor computed from the solution at
build time (never pasted by hand):

    assert matches_digest(n_params, "cd2:demo_numpy/q4/n_params:6:3f...e1"), "not yet right"

Format ``cd2:<key>:<sig>:<32 hex digits>``. The key names the answer (``<assignment>/<qN>/<name>``),
so equal answers to different questions never share a digest and no table computed for one
answer serves another; 128 bits make a collision between distinct answers practically impossible;
scrypt (16 MiB, about 50 ms a call) makes every guess expensive. Floats are rounded to `sig`
significant digits first, so 0.1 + 0.2 matches 0.3.

What it cannot do: an answer space of a few thousand values (a small int, a shape) is still
searched in minutes. For such answers the visible test checks the method (call the student's
function on a small hand-computed case), not the value; hidden tests decide either way.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import re

DIGEST_VERSION = "cd2"
_KEY = re.compile(r"^[A-Za-z0-9_.\-/()]{1,120}$")
# scrypt cost: n=2**14, r=8 uses 16 MiB and ~50 ms; memory-hard, so GPUs gain little.
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "maxmem": 64 * 1024 ** 2, "dklen": 16}


def _canonical(value, sig: int) -> str:
    """An injective text form: distinct answers (after rounding floats) give distinct text."""
    # bool before int: bool is an int subclass, and True must not match 1.
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool:1" if value else "bool:0"
    if isinstance(value, numbers.Integral):
        return f"int:{int(value)}"
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isfinite(x) and x.is_integer() and abs(x) < 1e15:
            return f"int:{int(x)}"
        text = f"{x:.{sig}g}"
        return "float:" + ("0" if text == "-0" else text)
    if isinstance(value, str):
        return "str:" + json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v, sig) for v in value) + "]"
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _canonical(value.tolist(), sig)
    raise TypeError(f"cannot digest an answer of type {type(value).__name__}; "
                    "use a number, a string, None, or a list/tuple/array of them")


def _hash(canonical: str, key: str, sig: int) -> str:
    salt = f"cnncourse/{DIGEST_VERSION}/{key}/{sig}".encode()
    return hashlib.scrypt(canonical.encode(), salt=salt, **_SCRYPT).hex()


def digest(value, key: str, *, sig: int = 6) -> str:
    """``"cd2:<key>:<sig>:<hex>"`` for `value` (int, float, str, bool, None, nested lists/tuples,
    numpy arrays and scalars). `key` names the answer, e.g. ``"03_conv_arithmetic/q5/o_strided"``
    (letters, digits and ``_ . - / ( )``): use one key per answer across the course."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"digest key {key!r} must be 1-120 letters, digits or _ . - / ( )")
    if type(sig) is not int or not 1 <= sig <= 17:
        raise ValueError(f"sig must be an int from 1 to 17, got {sig!r}")
    return f"{DIGEST_VERSION}:{key}:{sig}:{_hash(_canonical(value, sig), key, sig)}"


def parse_digest(expected_digest: str) -> tuple[str, int, str]:
    """(key, sig, hex) of a digest string; ValueError naming the problem for anything else."""
    parts = expected_digest.split(":") if isinstance(expected_digest, str) else []
    if (len(parts) != 4 or parts[0] != DIGEST_VERSION or not _KEY.match(parts[1])
            or not parts[2].isdigit() or not re.fullmatch(r"[0-9a-f]{32}", parts[3])):
        raise ValueError(f"{expected_digest!r} is not a {DIGEST_VERSION} digest "
                         f"('{DIGEST_VERSION}:<key>:<sig>:<32 hex>'); recompute it with "
                         "cnncourse.grading.selfcheck.digest(value, key)")
    return parts[1], int(parts[2]), parts[3]


def matches_digest(value, expected_digest: str) -> bool:
    """True when `value` hashes to `expected_digest` (key and rounding come from the digest);
    False (never an error) for a value of another type; ValueError for a malformed digest."""
    key, sig, want = parse_digest(expected_digest)
    try:
        got = _hash(_canonical(value, sig), key, sig)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return False
    return got == want


# --- student self-check: run the visible tests of one exercise in the student's namespace ---

def find_notebook(notebook: str | None = None):
    """Path of the notebook being checked: `notebook`, the only .ipynb in the cwd, or the
    notebook of this Jupyter session (jupyter_server sets JPY_SESSION_NAME for the kernel)."""
    import os
    from pathlib import Path
    if notebook is not None:
        path = Path(notebook)
        if not path.is_file():
            raise FileNotFoundError(f"no notebook at {path}")
        return path
    here = sorted(p for p in Path.cwd().glob("*.ipynb") if not p.name.startswith("."))
    if len(here) == 1:
        return here[0]
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        for candidate in (Path(session), Path.cwd() / Path(session).name):
            if candidate.suffix == ".ipynb" and candidate.is_file():
                return candidate
    raise FileNotFoundError(f"found {len(here)} notebooks in {Path.cwd()} and no Jupyter session "
                            "name; call check(..., notebook='name.ipynb')")


def _test_cells(path) -> list[tuple[str, float, str]]:
    """(grade_id, points, visible source) of every autograded test cell of a notebook."""
    import json
    from .spec import split_hidden
    data = json.loads(open(path, encoding="utf-8").read())
    out = []
    for cell in data.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out.append((meta["grade_id"], float(meta.get("points", 0)), split_hidden(source)[0]))
    return out


def _namespace(namespace: dict | None) -> dict:
    if namespace is not None:
        return namespace
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    import __main__
    return vars(__main__)


def _run_visible(grade_id: str, points: float, source: str, namespace: dict) -> dict:
    try:
        exec(compile(source, f"<visible tests {grade_id}>", "exec"), namespace)
    except NotImplementedError:
        return {"grade_id": grade_id, "passed": False, "points": 0.0, "max_points": points,
                "message": "not answered yet"}
    except NameError as exc:
        return {"grade_id": grade_id, "passed": False, "points": 0.0, "max_points": points,
                "message": f"{exc} -- run the answer cell above first"}
    except AssertionError as exc:
        return {"grade_id": grade_id, "passed": False, "points": 0.0, "max_points": points,
                "message": str(exc) or "an assertion failed"}
    except Exception as exc:  # the student's code may raise anything; report its kind and text
        return {"grade_id": grade_id, "passed": False, "points": 0.0, "max_points": points,
                "message": f"{type(exc).__name__}: {exc}"}
    return {"grade_id": grade_id, "passed": True, "points": points, "max_points": points,
            "message": "visible tests passed (hidden tests decide the grade)"}


def _print(results: list[dict]) -> None:
    for r in results:
        mark = "PASS" if r["passed"] else "FAIL"
        print(f"{mark} {r['grade_id']:<32} {r['points']:g}/{r['max_points']:g}  {r['message']}")


def check(exercise: str, notebook: str | None = None, namespace: dict | None = None,
          quiet: bool = False) -> dict:
    """Run the visible tests of `exercise` ("q3") in the notebook's namespace and print the result.

    Returns {"grade_id", "passed", "points", "max_points", "message"}. Only visible tests are
    run: no hidden test is ever on a student's machine.
    """
    path = find_notebook(notebook)
    cells = [c for c in _test_cells(path) if c[0].startswith(exercise + "_") or c[0] == exercise]
    if not cells:
        raise KeyError(f"no test cell for exercise {exercise!r} in {path.name}")
    result = _run_visible(*cells[0], _namespace(namespace))
    if not quiet:
        _print([result])
    return result


def check_all(notebook: str | None = None, namespace: dict | None = None, quiet: bool = False) -> list[dict]:
    """`check` every exercise of the notebook; prints one line each and the visible total."""
    path = find_notebook(notebook)
    ns = _namespace(namespace)
    results = [_run_visible(*cell, ns) for cell in _test_cells(path)]
    if not quiet:
        _print(results)
        total = sum(r["points"] for r in results)
        top = sum(r["max_points"] for r in results)
        print(f"visible tests: {total:g}/{top:g} points")
    return results
