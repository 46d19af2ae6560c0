"""What an assignment's source notebook says: exercises, points, locked cells, hidden blocks.

`AssignmentSpec.from_source(path)` reads `solutions/<assignment>/<nb>.ipynb` once; the grader,
the self-check and the release tooling all read the notebook through it.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat is imported when a notebook is read: the student-side
    import nbformat  # self-check (split_hidden) must not pay its multi-second import

HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)",
                          re.S | re.M)
EXERCISE_ID = re.compile(r"^(q\d+)_")


def natural_key(key: str) -> list:
    """Sort key that puts exercise keys in course order: q2 before q10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def split_hidden(source: str) -> tuple[str, str]:
    """(visible part, hidden code) of a test cell; hidden blocks are joined in order.

    >>> split_hidden("assert f(1) == 2\\n### BEGIN HIDDEN TESTS\\nassert f(2) == 3\\n### END HIDDEN TESTS")
    ('assert f(1) == 2\\n', 'assert f(2) == 3\\n')
    """
    begins, ends = source.count("### BEGIN HIDDEN TESTS"), source.count("### END HIDDEN TESTS")
    if begins != ends:
        raise ValueError(f"unbalanced hidden-test markers: {begins} BEGIN vs {ends} END")
    hidden = "".join(m.group(1) for m in HIDDEN_BLOCK.finditer(source))
    visible = HIDDEN_BLOCK.sub("", source)
    if "### BEGIN HIDDEN TESTS" in visible:
        raise ValueError("a hidden-test marker is not on a line of its own")
    return visible, hidden


def _target_names(target: ast.AST) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(t) for t in target.elts)) if target.elts else set()
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return set()  # attribute / subscript targets bind no new name


def bound_names(source: str) -> set[str]:
    """Names bound at top level by `source` (def, class, assignments; not imports).

    Imports are left out on purpose: a hidden block imports its own modules, and a proxy for
    `np` would route the instructor's numpy through the student's kernel.
    """
    tree = ast.parse(source)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names |= _target_names(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names |= _target_names(node.target)
    return names


def load_nbformat():
    """nbformat, imported without jsonschema's optional `rfc3987_syntax` IRI checker.

    That checker compiles ~40 grammars when jsonschema is imported (5 s or more here) and
    validates formats no notebook schema uses; it is kept out of this one import only.
    """
    import sys
    if "nbformat" in sys.modules:
        return sys.modules["nbformat"]
    blocked = "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # makes its import raise ImportError
    try:
        import nbformat
    finally:
        if blocked and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return nbformat


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def forbidden_names(cell, path: Path | str = "") -> tuple[str, ...]:
    """The dotted library names an answer cell forbids (``metadata.cnncourse.forbidden``)."""
    names = (cell.get("metadata", {}).get("cnncourse", {}) or {}).get("forbidden", [])
    if not isinstance(names, list) or not all(isinstance(n, str) and _DOTTED.match(n) for n in names):
        raise ValueError(f"{path}: answer cell {nbgrader_meta(cell).get('grade_id')!r} has a malformed "
                         f"metadata.cnncourse.forbidden {names!r}: a list of dotted names is expected")
    return tuple(names)


@dataclass
class Exercise:
    key: str                 # "q3"
    answer_id: str | None    # grade_id of the answer cell ("q3_output_size")
    test_id: str             # grade_id of the test cell
    points: float
    visible: str             # test cell source without hidden blocks
    hidden: str              # hidden code (may be empty)
    forbidden: tuple[str, ...] = ()   # library names the answer must not use (answer cell metadata)


@dataclass
class AssignmentSpec:
    assignment: str
    notebook: str            # notebook name without .ipynb
    source_path: Path
    nb: nbformat.NotebookNode
    exercises: list[Exercise] = field(default_factory=list)
    answer_names: set[str] = field(default_factory=set)

    @classmethod
    def from_source(cls, path: str | Path, assignment: str | None = None) -> "AssignmentSpec":
        path = Path(path)
        nb = load_nbformat().read(str(path), as_version=4)
        spec = cls(assignment or path.parent.name, path.stem, path, nb)
        answers: dict[str, str] = {}
        forbidden: dict[str, tuple[str, ...]] = {}
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            grade_id = meta.get("grade_id")
            if meta.get("solution") and cell.cell_type == "code":
                answers[grade_id] = cell.source
                forbidden[grade_id] = forbidden_names(cell, path)
                try:
                    spec.answer_names |= bound_names(cell.source)
                except SyntaxError as exc:
                    raise ValueError(f"{path}: answer cell {grade_id} does not parse: {exc}") from exc
            if meta.get("grade") and cell.cell_type == "code":
                visible, hidden = split_hidden(cell.source)
                match = EXERCISE_ID.match(grade_id or "")
                key = match.group(1) if match else grade_id
                answer_id = grade_id[:-5] if grade_id.endswith("_test") else None
                if answer_id not in answers:
                    answer_id = None
                spec.exercises.append(Exercise(key, answer_id, grade_id, float(meta.get("points", 0)),
                                               visible, hidden, forbidden.get(answer_id, ())))
        return spec

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def exercise(self, key: str) -> Exercise:
        for ex in self.exercises:
            if ex.key == key or ex.test_id == key or ex.answer_id == key:
                return ex
        raise KeyError(f"{self.assignment}: no exercise {key!r}; have {[e.key for e in self.exercises]}")

    def locked_cells(self) -> dict[str, nbformat.NotebookNode]:
        """grade_id -> source cell for every cell nbgrader locks (read-only and test cells)."""
        return {nbgrader_meta(c)["grade_id"]: c for c in self.nb.cells
                if nbgrader_meta(c).get("locked") or nbgrader_meta(c).get("grade")
                and not nbgrader_meta(c).get("solution")}


def find_assignments(solutions_root: str | Path) -> dict[str, list[Path]]:
    """assignment name -> its source notebooks under `solutions_root` (sorted)."""
    root = Path(solutions_root)
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
        if notebooks:
            out[folder.name] = notebooks
    return out
