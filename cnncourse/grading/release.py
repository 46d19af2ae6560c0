"""Release notebooks from sources, with nbgrader's own preprocessors (no gradebook needed).

`release_notebook(nb)` applies, in nbgrader's generate_assignment order, LockCells,
ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, ClearHiddenTests,
ClearMarkScheme, ComputeChecksums, CheckCellMetadata -- everything but the header and the
gradebook -- so the result equals what `nbgrader generate_assignment` writes, deterministically.
`source_cells_to_gradebook` runs the first half plus SaveCells to register an assignment;
`answered_notebook` fills a release's answer cells (the demo's students, the wrong-answer tests).
"""
from __future__ import annotations

import copy
import filecmp
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from .spec import find_assignments, nbgrader_meta


def _preprocess(nb, chain, resources: dict):
    for preprocessor in chain:
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def _first_half():
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, ClearSolutions,
                                        ComputeChecksums, LockCells)
    return [LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(), ComputeChecksums()]


def release_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of source notebook `nb` (a copy; `nb` is left as is)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ComputeChecksums)
    chain = _first_half() + [ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(),
                             CheckCellMetadata()]
    released = _preprocess(copy.deepcopy(nb), chain, {"language": "python"})
    for cell in released.cells:  # nbgrader leaves execution counts of cleared cells as they were
        if cell.cell_type == "code":
            cell.execution_count = None
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = cell.source.replace(BARE_STUB, unanswered_stub(grade_id))
    return released


def answered_notebook(nb: nbformat.NotebookNode, replace: dict[str, str] | None = None,
                      unanswered: tuple[str, ...] | list[str] = ()) -> nbformat.NotebookNode:
    """What a student hands in: the release of source notebook `nb` with its answer cells filled.

    Every answer cell gets the solution's source, except the cells named (by grade_id) in
    `replace` (their source is the given text: a wrong answer, say) and in `unanswered` (they
    keep the release's NotImplementedError line). The hidden tests stay out, as in the release.
    Raises ValueError naming any grade_id that is not an answer cell of `nb`.
    """
    replace = dict(replace or {})
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells
               if c.cell_type == "code" and nbgrader_meta(c).get("solution")}
    unknown = sorted((set(replace) | set(unanswered)) - set(answers))
    if unknown:
        raise ValueError(f"{unknown} are not answer cells of this notebook; its answer cells are "
                         f"{sorted(answers)}")
    released = release_notebook(nb)
    for cell in released.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and grade_id in answers and grade_id not in unanswered:
            cell.source = replace.get(grade_id, answers[grade_id])
    return released


BARE_STUB = "raise NotImplementedError()"


def unanswered_stub(grade_id: str) -> str:
    """The line an unanswered cell raises: says which exercise and what to do (Run All stops
    there, so the message is what a student reads first)."""
    match = re.match(r"q(\d+)_", grade_id)
    which = f"Exercise {match.group(1)} ({grade_id})" if match else f"The answer cell {grade_id!r}"
    return (f'raise NotImplementedError("{which} is not answered yet: replace this line with your '
            'answer, run the cell, then run the test cell below it.")')


def source_cells_to_gradebook(nb: nbformat.NotebookNode, db_url: str, assignment: str,
                              notebook: str) -> None:
    """Register `assignment`/`notebook` and its graded cells in an nbgrader gradebook."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveCells
    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment(assignment)
    resources = {"language": "python",
                 "nbgrader": {"db_url": db_url, "assignment": assignment, "notebook": notebook}}
    _preprocess(copy.deepcopy(nb), _first_half() + [SaveCells()], resources)


def write_release(course_root: str | Path, out_root: str | Path | None = None,
                  assignments: list[str] | None = None) -> list[Path]:
    """Regenerate `notebooks/<a>/` from `solutions/<a>/`; returns the written notebook paths.

    Non-notebook files of the source folder (data, images) are copied along.
    """
    course_root = Path(course_root)
    out_root = Path(out_root) if out_root is not None else course_root / "notebooks"
    found = find_assignments(course_root / "solutions")
    unknown = sorted(set(assignments or []) - set(found))
    if unknown:
        raise ValueError(f"no source notebooks for {unknown}; have {sorted(found)}")
    written = []
    for name in assignments or sorted(found):
        src_dir = course_root / "solutions" / name
        dst_dir = out_root / name
        dst_dir.mkdir(parents=True, exist_ok=True)
        for src in sorted(src_dir.iterdir()):
            if src.name.startswith(".") or src.name == "__pycache__":
                continue
            dst = dst_dir / src.name
            if src.suffix == ".ipynb":
                nb = nbformat.read(str(src), as_version=4)
                nbformat.write(release_notebook(nb), str(dst))
                written.append(dst)
            elif src.is_file():
                shutil.copyfile(src, dst)
    return written


def release_differences(course_root: str | Path, assignments: list[str] | None = None) -> list[str]:
    """Paths (relative to the course root) where `notebooks/` differs from a fresh release."""
    course_root = Path(course_root)
    with tempfile.TemporaryDirectory(prefix="cnncourse-release-") as tmp:
        fresh = write_release(course_root, tmp, assignments)
        differ = []
        for path in fresh:
            rel = path.relative_to(tmp)
            committed = course_root / "notebooks" / rel
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                differ.append(str(Path("notebooks") / rel))
        return differ
