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
