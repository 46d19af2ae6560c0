"""`cnncourse-grade demo`: the demo class and the course's own assignments beside it
(cnncourse.grading.democlass), and the pieces it stands on (answered_notebook, limits per
assignment)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cnncourse.grading import democlass
from cnncourse.grading.grader import QuestionResult, SubmissionResult
from cnncourse.grading.release import answered_notebook
from cnncourse.grading.spec import AssignmentSpec, find_assignments, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "grading" / "demo"
COURSE = sorted(find_assignments(REPO / "solutions"))


def _answer_cells(nb) -> dict[str, str]:
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("solution")}


def test_every_course_assignment_has_a_mistake_for_baek():
    assert sorted(democlass.COURSE_MISTAKES) == COURSE
    for assignment, name in democlass.COURSE_MISTAKES.items():
        fixture = REPO / democlass.FIXTURES / assignment / f"{name}.py"
        grade_id, mistake, _ = democlass.read_fixture(fixture)
        spec = AssignmentSpec.from_source(find_assignments(REPO / "solutions")[assignment][0])
        assert spec.exercise(grade_id).answer_id == grade_id, (assignment, name)
        assert mistake and mistake != name, f"{fixture}: no '# mistake:' line"


def test_read_fixture_names_a_file_without_its_header(tmp_path):
    bad = tmp_path / "q1_x.py"
    bad.write_text("def f():\n    return 1\n")
    with pytest.raises(ValueError, match="q1_x.py: a fixture starts with '# grade_id:"):
        democlass.read_fixture(bad)


def test_answered_notebook_fills_the_release():
    source = REPO / "solutions" / "05_pooling" / "05_pooling.ipynb"
    nb = nbformat.read(str(source), as_version=4)
    solution = _answer_cells(nb)
    first, second = list(solution)[:2]
    handed_in = answered_notebook(nb, {first: "wrong = 1\n"}, unanswered=[second])
    answers = _answer_cells(handed_in)
    assert answers[first] == "wrong = 1\n"
    assert "NotImplementedError" in answers[second] and "Exercise 2" in answers[second]
    assert all(answers[g] == solution[g] for g in solution if g not in (first, second))
    assert not any("BEGIN HIDDEN TESTS" in c.source for c in handed_in.cells)   # the release's test cells
    assert _answer_cells(nb) == solution                                         # the source is untouched
    with pytest.raises(ValueError, match=r"\['q9_nothing'\] are not answer cells"):
        answered_notebook(nb, {"q9_nothing": "x = 1\n"})


def test_course_class_is_made_from_the_sources(tmp_path):
    """ahn: full marks everywhere; baek: one exercise at 0 in every assignment; choi: the first
    assignment blank and the second half answered; the notebooks on disk hold what they say."""
    expected = democlass.write_course_class(REPO, tmp_path)
    specs = {a: AssignmentSpec.from_source(find_assignments(REPO / "solutions")[a][0], a) for a in COURSE}
    assert {s for s, _ in expected} == {"ahn", "baek", "choi"}
    assert sorted(a for s, a in expected if s == "choi") == COURSE[:2]
    for (student, assignment), want in expected.items():
        full = {ex.key: ex.points for ex in specs[assignment].exercises}
        zeros = {key for key, points in want.scores.items() if points == 0}
        if student == "ahn":
            assert want.scores == full
        elif student == "baek":
            assert len(zeros) == 1 and {k: v for k, v in want.scores.items() if k not in zeros} == \
                {k: v for k, v in full.items() if k not in zeros}
        elif assignment == COURSE[0]:
            assert zeros == set(full)
        else:
            assert 0 < len(zeros) < len(full)
        notebook = tmp_path / "submitted" / student / assignment / specs[assignment].source_path.name
        unanswered = {g for g, text in _answer_cells(nbformat.read(str(notebook), as_version=4)).items()
                      if "is not answered yet" in text}
        assert {specs[assignment].exercise(g).key for g in unanswered} == (zeros if student == "choi" else set())
    for assignment in COURSE:   # the sources and release files came along
        assert (tmp_path / "solutions" / assignment / specs[assignment].source_path.name).is_file()


def test_build_demo_names_an_unknown_assignment(tmp_path):
    with pytest.raises(ValueError, match=r"no assignment\(s\) \['10_transformers'\]"):
        democlass.build_demo(DEMO, tmp_path / "d", REPO, ["10_transformers"])
    alone = democlass.build_demo(DEMO, tmp_path / "d", None)          # an install without the course
    assert alone.course_assignments == [] and "need the course repository" in alone.describe()
    assert {a for _, a in alone.expected} == {"demo_numpy"}


def test_demo_limits_keep_demo_numpy_quick():
    demo = democlass.Demo(DEMO, {}, ["05_pooling"])
    timeouts, budgets = demo.limits(30.0, 300.0)
    assert timeouts == {"demo_numpy": 10.0, "05_pooling": 30.0}
    assert budgets == {"demo_numpy": democlass.DEMO_BUDGET, "05_pooling": 300.0}


def test_limits_per_assignment_are_checked(tmp_path):
    from cnncourse.grading.pipeline import grade
    with pytest.raises(ValueError, match=r"budget dict has no seconds for assignment\(s\) \['demo_numpy'\]"):
        grade(DEMO / "submitted", course_root=DEMO, out_dir=tmp_path, budget={"other": 5.0})
    with pytest.raises(ValueError, match="timeout must be positive seconds"):
        grade(DEMO / "submitted", course_root=DEMO, out_dir=tmp_path, timeout={"demo_numpy": 0})


def test_compare_shows_what_differs(capsys):
    want = democlass.Expected("graded", {"q1": 2.0, "q2": 0.0}, "q2: a typical mistake")
    accepted = SubmissionResult("baek", "05_pooling", questions=[       # the mistake got through
        QuestionResult("q1", "q1_t", 2.0, 2.0), QuestionResult("q2", "q2_t", 3.0, 3.0)])
    expected = {("baek", "05_pooling"): want, ("choi", "05_pooling"): want}
    assert democlass.compare([accepted], expected) == 2          # a score differs, choi is missing
    shown = capsys.readouterr().out
    row = next(line for line in shown.splitlines() if line.startswith("baek / 05_pooling"))
    assert " NO " in row and row.rstrip().endswith("q2 3/3 (expected 0)")
    assert any(line.startswith("choi / 05_pooling") and "expected, not graded" in line
               for line in shown.splitlines())
    caught = SubmissionResult("baek", "05_pooling", questions=[
        QuestionResult("q1", "q1_t", 2.0, 2.0), QuestionResult("q2", "q2_t", 0.0, 3.0, message="AssertionError")])
    assert democlass.compare([caught], {("baek", "05_pooling"): want}) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("baek"))
    assert " yes " in row and row.rstrip().endswith("q2: a typical mistake")


@pytest.mark.slow
def test_demo_grades_a_course_assignment(tmp_path, capsys):
    from cnncourse.grading.cli import grade_main
    code = grade_main(["demo", "--assignment", COURSE[1], "--out", str(tmp_path / "o"), "--workers", "2"])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "every score as expected" in shown
    for student in ("ahn", "baek", "choi"):
        assert f"{student} / {COURSE[1]}" in shown
    assert "demo_numpy" not in shown.split("graded ", 1)[1].split("Next steps")[0]
    grades = (tmp_path / "o" / "grades.csv").read_text()
    assert grades.count(f",{COURSE[1]},") == 3
