"""Every wrong-answer fixture scores 0 on its exercise and full marks elsewhere.

Fixtures: tests/fixtures/wrong_answers/<assignment>/<name>.py starting with `# grade_id: qN_...`.
Assignments are found in solutions/ and in the demo class (grading/demo/solutions/).

All submissions of a course go through ONE `grade()` call. By default fixtures are batched: a
batch holds at most one fixture per exercise (exercises are independent by DESIGN.md, so each
exercise's score still tells about its own fixture), which keeps the suite within minutes on 2
cores. `CNNCOURSE_WRONG_ANSWERS=each` builds one submission per fixture instead (exact, slow).
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.democlass import read_fixture
from cnncourse.grading.release import answered_notebook, release_notebook
from cnncourse.grading.spec import AssignmentSpec, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "wrong_answers"
COURSES = {p.parent.name: p for p in sorted(REPO.glob("solutions/*/*.ipynb"))}
COURSES.update({p.parent.name: p for p in sorted((REPO / "grading" / "demo").glob("solutions/*/*.ipynb"))})
EACH = os.environ.get("CNNCOURSE_WRONG_ANSWERS", "batched") == "each"
# CNNCOURSE_ASSIGNMENTS=04_im2col_conv_layer,05_pooling grades only those (while writing a notebook).
ONLY = {a for a in os.environ.get("CNNCOURSE_ASSIGNMENTS", "").split(",") if a}
if ONLY:
    COURSES = {a: p for a, p in COURSES.items() if a in ONLY}


def fixtures() -> list[tuple[str, Path, str]]:
    """(assignment, fixture path, answer grade_id) for every fixture file."""
    return [(path.parent.name, path, read_fixture(path)[0]) for path in sorted(FIXTURES.glob("*/*.py"))]


def batches(assignment: str) -> list[dict[str, Path]]:
    """Lists of {answer grade_id: fixture}; at most one fixture per exercise in each batch."""
    per_answer: dict[str, list[Path]] = defaultdict(list)
    for fixture_assignment, path, grade_id in fixtures():
        if fixture_assignment == assignment:
            per_answer[grade_id].append(path)
    if EACH:
        return [{g: p} for g, paths in sorted(per_answer.items()) for p in paths]
    depth = max((len(v) for v in per_answer.values()), default=0)
    return [{g: paths[k] for g, paths in sorted(per_answer.items()) if k < len(paths)} for k in range(depth)]


def _submission(source: Path, replace: dict[str, Path] | None = None, blank: bool = False):
    """What a student hands in: the release, blank or answered as the solution with the
    fixtures' answers in their cells."""
    nb = nbformat.read(str(source), as_version=4)
    if blank:
        return release_notebook(nb)
    return answered_notebook(nb, {grade_id: path.read_text() for grade_id, path in (replace or {}).items()})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(results by (student, assignment), plan: student/assignment -> {answer id: fixture})."""
    from cnncourse.grading.pipeline import grade
    base = tmp_path_factory.mktemp("wrong")
    plan = {}
    roots: dict[Path, list[str]] = {}
    for assignment, source in COURSES.items():
        roots.setdefault(source.parents[2], []).append(assignment)
    results = {}
    for root, assignments in roots.items():
        subs = base / root.name / "submitted"
        for assignment in assignments:
            source = COURSES[assignment]
            entries = {"solution": _submission(source), "blank": _submission(source, blank=True)}
            for k, batch in enumerate(batches(assignment)):
                entries[f"wrong{k:03d}"] = _submission(source, batch)
                plan[(f"wrong{k:03d}", assignment)] = batch
            for student, nb in entries.items():
                target = subs / student / assignment / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, str(target))
        for r in grade(subs, assignments=assignments, course_root=root, out_dir=base / root.name / "out",
                       workers=2, timeout=60, log=lambda *a: None):
            results[(r.student, r.assignment)] = r
    return results, plan


def test_fixture_assignments_exist():
    unknown = {a for a, _, _ in fixtures()} - set(COURSES) - (set() if not ONLY else {a for a, _, _ in fixtures()} - ONLY)
    assert not unknown, f"fixtures for assignments without a source notebook: {unknown}"


def test_batches_hold_one_fixture_per_exercise():
    for assignment in COURSES:
        seen = []
        for batch in batches(assignment):
            assert len(batch) == len(set(batch))
            seen += list(batch.values())
        assert sorted(seen) == sorted(p for a, p, _ in fixtures() if a == assignment)


@pytest.mark.slow
def test_solution_full_blank_zero(graded):
    results, _ = graded
    for assignment in COURSES:
        solution = results[("solution", assignment)]
        assert solution.status == "graded"
        assert solution.total == solution.max_points, \
            (assignment, [(q.key, q.points, q.message) for q in solution.questions])
        assert results[("blank", assignment)].total == 0, assignment


@pytest.mark.slow
def test_each_fixture_zero_on_its_exercise_only(graded):
    results, plan = graded
    specs = {a: AssignmentSpec.from_source(p) for a, p in COURSES.items()}
    failures = []
    for (student, assignment), batch in plan.items():
        r = results[(student, assignment)]
        targets = {specs[assignment].exercise(g).key: path.name for g, path in batch.items()}
        for q in r.questions:
            if q.key in targets and q.points != 0:
                failures.append(f"{assignment}/{targets[q.key]}: accepted, {q.key} scored {q.points}")
            elif q.key not in targets and q.points != q.max_points:
                failures.append(f"{assignment}: {q.key} lost points next to fixtures "
                                f"{sorted(targets.values())} ({q.message})")
    assert not failures, "\n".join(failures)


def _used_names(source: str) -> set[str]:
    import ast
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


def test_exercises_are_independent_so_batching_masks_nothing():
    """Batching is sound only if no exercise's tests read another exercise's answer names:
    then a wrong answer in one exercise cannot change the score of another, and a fixture's 0
    in a batch is its own doing."""
    from cnncourse.grading.spec import bound_names
    problems = []
    for assignment, source in COURSES.items():
        spec = AssignmentSpec.from_source(source)
        answers = {nbgrader_meta(c).get("grade_id"): bound_names(c.source) for c in spec.nb.cells
                   if nbgrader_meta(c).get("solution") and c.cell_type == "code"}
        for ex in spec.exercises:
            own = answers.get(ex.answer_id, set())
            others = set().union(*(names for g, names in answers.items() if g != ex.answer_id)) - own
            leaked = _used_names(ex.visible + "\n" + ex.hidden) & others
            if leaked:
                problems.append(f"{assignment}/{ex.test_id} uses other exercises' answers {sorted(leaked)}")
    assert not problems, "\n".join(problems)
