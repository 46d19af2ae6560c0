"""Build nbgrader source notebooks from code, so that nbgrader metadata is written, never guessed.

An instructor (or a script) lists the cells of a notebook and `write_notebook` writes a
solution notebook with unique cell ids and the nbgrader metadata (schema version 3) that
`nbgrader generate_assignment` expects:

    cells = [
        markdown("# 03 Convolution arithmetic"),
        code("import numpy as np"),
        answer("q1_output_size", "def conv_output_size(...):\n    ### BEGIN SOLUTION\n    ...\n    ### END SOLUTION"),
        tests("q1_output_size_test", 2, "assert conv_output_size(5, 3, 1, 2) == 3\n### BEGIN HIDDEN TESTS\n...\n### END HIDDEN TESTS"),
    ]
    write_notebook(cells, "solutions/03_conv_arithmetic/03_conv_arithmetic.ipynb")

Exercise convention: the answer cell of exercise N has grade_id ``qN_<slug>`` and its test
cell ``qN_<slug>_test``; `cnncourse.grading.selfcheck.check("qN")` finds them by that prefix.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
SCHEMA_VERSION = 3


def _nbgrader_meta(grade_id: str, *, solution: bool, grade: bool, locked: bool,
                   points: float | None = None) -> dict:
    if not _GRADE_ID.match(grade_id):
        raise ValueError(f"grade_id {grade_id!r} must be 1-60 letters, digits, '_' or '-'")
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade:
        if points is None or points <= 0:
            raise ValueError(f"test cell {grade_id!r} needs a positive number of points, got {points!r}")
        meta["points"] = points
    return meta


def markdown(source: str) -> nbformat.NotebookNode:
    """A plain markdown cell (students may edit it; it is not graded)."""
    return nbformat.v4.new_markdown_cell(source.strip("\n"))


def code(source: str) -> nbformat.NotebookNode:
    """A plain code cell: demos, plots, worked examples."""
    return nbformat.v4.new_code_cell(source.strip("\n"))


def readonly(grade_id: str, source: str, kind: str = "code") -> nbformat.NotebookNode:
    """A locked cell nbgrader restores if a student edits it (set-up code, instructions)."""
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source.strip("\n"))
    cell.metadata["nbgrader"] = _nbgrader_meta(grade_id, solution=False, grade=False, locked=True)
    return cell


def answer(grade_id: str, source: str, forbidden: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """An autograded answer cell; the solution sits between BEGIN/END SOLUTION markers.

    `forbidden` names the library references the exercise asks the student to implement, as
    dotted names (``"cnncourse.conv.im2col"``): an answer that uses one of them scores 0 for
    the exercise, with the reason in the feedback. Stored as ``metadata.cnncourse.forbidden``.
    """
    if "### BEGIN SOLUTION" not in source or "### END SOLUTION" not in source:
        raise ValueError(f"answer cell {grade_id!r} has no ### BEGIN SOLUTION / ### END SOLUTION block")
    for name in forbidden:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", name):
            raise ValueError(f"answer cell {grade_id!r}: forbidden name {name!r} must be a dotted "
                             "module path such as 'cnncourse.conv.im2col'")
    cell = nbformat.v4.new_code_cell(source.strip("\n"))
    cell.metadata["nbgrader"] = _nbgrader_meta(grade_id, solution=True, grade=False, locked=False)
    if forbidden:
        cell.metadata["cnncourse"] = {"forbidden": list(forbidden)}
    return cell


def tests(grade_id: str, points: float, source: str) -> nbformat.NotebookNode:
    """An autograder test cell worth `points`: visible tests, then a HIDDEN TESTS block."""
    cell = nbformat.v4.new_code_cell(source.strip("\n"))
    cell.metadata["nbgrader"] = _nbgrader_meta(grade_id, solution=False, grade=True, locked=True,
                                               points=points)
    return cell


def write_notebook(cells: list, path: str | Path, *, kernel: str = "python3") -> Path:
    """Write `cells` as a notebook with deterministic, unique cell ids; returns the path.

    Cell ids are ``<notebook stem>-<index>`` (or the grade_id for nbgrader cells), so a
    regenerated notebook diffs cleanly against the committed one.
    """
    path = Path(path)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": kernel}
    nb.metadata["language_info"] = {"name": "python"}
    seen: set[str] = set()
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", path.stem)[:40]
    for index, cell in enumerate(cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        cell_id = grade_id or f"{stem}-{index:03d}"
        if cell_id in seen:
            raise ValueError(f"{path}: duplicate cell id / grade_id {cell_id!r} (cell {index})")
        seen.add(cell_id)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
