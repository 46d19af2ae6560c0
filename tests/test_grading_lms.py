"""LMS exports: Canvas's gradebook import CSV and Moodle's grade import CSV, through a roster."""
from __future__ import annotations

import csv
import io

import pytest

from cnncourse.grading import lms
from cnncourse.grading.grader import QuestionResult, SubmissionResult
from cnncourse.grading.ids import csv_cell

ROSTER = """\ufeffStudent,Name,Canvas ID,SIS User ID,SIS Login ID,Section,Email,ID number,notes
kim_12345,"Kim, Minsu",4711,2024123456,kim.minsu,CNN-01,kim.minsu@uni.ac.kr,2024123456,ignored
lee,"Lee, Jiwoo",4712,,lee.jiwoo,CNN-02,lee@uni.ac.kr,2024000002,
park,"Park, Seo",,2024000003,,CNN-01,park@uni.ac.kr,,
choi,"Choi, Dana",4714,,,CNN-02,,2024000004,
"""


def result(student: str, assignment: str, points: list[float], maxima: list[float] | None = None,
           status: str = "graded", reason: str = "", forbidden: int | None = None) -> SubmissionResult:
    maxima = maxima or [2.0] * len(points)
    questions = [QuestionResult(f"q{i + 1}", f"q{i + 1}_test", p, m,
                                forbidden=["answer cell uses cnncourse.conv.im2col"] if forbidden == i else [])
                 for i, (p, m) in enumerate(zip(points, maxima))]
    return SubmissionResult(student, assignment, status=status, reason=reason, questions=questions)


@pytest.fixture
def roster() -> lms.Roster:
    return lms.parse_roster(ROSTER, "roster.csv")


@pytest.fixture
def results() -> list[SubmissionResult]:
    return [
        result("kim_12345", "01_backprop", [2, 2, 1.5]),
        result("kim_12345", "03_conv_arithmetic", [2, 0]),
        result("lee", "01_backprop", [0, 0, 0], status="not gradable", reason="invalid JSON"),
        result("lee", "03_conv_arithmetic", [2, 2], forbidden=1),
        result("park", "01_backprop", [1, 1, 0.25]),
        result("choi", "03_conv_arithmetic", [0, 0]),
        result("stranger", "01_backprop", [2, 2, 2]),
    ]


def kinds(export: lms.LmsExport) -> set[tuple[str, str, str]]:
    return {(i.kind, i.student, i.assignment) for i in export.issues}


def test_roster_reads_the_documented_columns(roster):
    assert len(roster) == 4
    kim = roster.get("kim_12345")
    assert (kim.name, kim.canvas_id, kim.sis_user_id, kim.sis_login_id, kim.section, kim.email,
            kim.idnumber, kim.username) == ("Kim, Minsu", "4711", "2024123456", "kim.minsu", "CNN-01",
                                            "kim.minsu@uni.ac.kr", "2024123456", "")
    assert roster.get("park").canvas_id == "" and roster.get("nobody") is None


def test_roster_file_in_cp949_and_utf8(tmp_path):
    text = "student,name,email\n김민수,김민수,kim@uni.ac.kr\n"
    for encoding in ("cp949", "utf-8", "utf-8-sig"):
        path = tmp_path / f"roster-{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert lms.read_roster(path).get("김민수").email == "kim@uni.ac.kr"


@pytest.mark.parametrize("text, message", [
    ("name,email\nKim,k@x\n", "no 'student' column"),
    ("", "empty roster"),
    ("student,email\nkim,k@x\nkim,l@x\n", "the same student 'kim'"),
    ("student,email\nkim,k@x\nlee,K@X\n", "rows 2 and 3: the same email"),
    ("student,canvas_id\nkim,12a\n", "not a Canvas user id"),
    ("student,email\n,k@x\n", "row 2: empty 'student' cell"),
    ("student,email,email\nkim,k@x,k@x\n", "appear more than once"),
    ("student,email\nkim,k@x,extra\n", "row 2: 3 cells"),
])
def test_roster_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        lms.parse_roster(text, "roster.csv")


def test_canvas_golden(roster, results):
    export = lms.canvas_gradebook(results, roster, points_possible={"01_backprop": 6, "03_conv_arithmetic": 4})
    assert export.csv_text() == (
        "Student,ID,SIS User ID,SIS Login ID,Section,01_backprop,03_conv_arithmetic\r\n"
        "Points Possible,,,,,6,4\r\n"
        '"Kim, Minsu",4711,2024123456,kim.minsu,CNN-01,5.5,2\r\n'
        '"Lee, Jiwoo",4712,,lee.jiwoo,CNN-02,,4\r\n'
        '"Park, Seo",,2024000003,,CNN-01,2.25,\r\n'
        '"Choi, Dana",4714,,,CNN-02,,0\r\n')
    assert kinds(export) == {
        (lms.NOT_GRADABLE, "lee", "01_backprop"),
        (lms.FORBIDDEN, "lee", "03_conv_arithmetic"),
        (lms.NOT_IN_ROSTER, "stranger", "01_backprop"),
        (lms.NO_SUBMISSION, "park", "03_conv_arithmetic"),
        (lms.NO_SUBMISSION, "choi", "01_backprop"),
    }


def test_canvas_points_possible_from_results_and_column_names(roster, results):
    export = lms.canvas_gradebook(results, roster, assignments=["03_conv_arithmetic"],
                                  columns={"03_conv_arithmetic": "03_conv_arithmetic (98765)"})
    rows = list(csv.reader(io.StringIO(export.csv_text())))
    assert rows[0][5:] == ["03_conv_arithmetic (98765)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert [r[5] for r in rows[2:]] == ["2", "4", "", "0"]
    # only this assignment's issues; "stranger" handed in only 01_backprop
    assert {i.assignment for i in export.issues} == {"03_conv_arithmetic"}


def test_canvas_refuses_a_column_canvas_reads_as_something_else(roster, results):
    with pytest.raises(ValueError, match="Canvas reads as a student or total column"):
        lms.canvas_gradebook(results, roster, columns={"01_backprop": "Final Score"})
    with pytest.raises(ValueError, match="not exported"):
        lms.canvas_gradebook(results, roster, columns={"99_nothing": "x"})
    with pytest.raises(ValueError, match="starts like a formula"):
        lms.canvas_gradebook(results, roster, columns={"01_backprop": "=1+1"})


def test_moodle_golden(roster, results):
    export = lms.moodle_grades(results, roster, identifier="email")
    assert export.csv_text() == (
        "Email address,01_backprop,03_conv_arithmetic\r\n"
        "kim.minsu@uni.ac.kr,5.5,2\r\n"
        "lee@uni.ac.kr,,4\r\n"
        "park@uni.ac.kr,2.25,\r\n")
    issues = kinds(export)
    assert (lms.NO_IDENTIFIER, "choi", "") in issues              # no email: row left out, reported
    assert (lms.EMPTY_CELL, "lee", "01_backprop") in issues       # Moodle would clear it: reported
    assert (lms.NOT_GRADABLE, "lee", "01_backprop") in issues
    assert (lms.NOT_IN_ROSTER, "stranger", "01_backprop") in issues


def test_moodle_one_assignment_per_file_omits_rows_without_a_grade(roster, results):
    export = lms.moodle_grades(results, roster, identifier="idnumber", assignments=["01_backprop"],
                               columns={"01_backprop": "Backprop"})
    assert export.csv_text() == "ID number,Backprop\r\n2024123456,5.5\r\n"
    issues = kinds(export)
    assert (lms.EMPTY_CELL, "lee", "01_backprop") in issues       # not gradable: row left out
    assert (lms.NO_IDENTIFIER, "park", "") in issues
    assert (lms.EMPTY_CELL, "choi", "01_backprop") in issues
    with pytest.raises(ValueError, match="identifier must be one of"):
        lms.moodle_grades(results, roster, identifier="name")


def test_not_gradable_is_never_a_zero(roster):
    results = [result("kim_12345", "a", [0, 0], status="not gradable", reason="the grading worker died")]
    for export in (lms.canvas_gradebook(results, roster), lms.moodle_grades(results, roster)):
        assert (lms.NOT_GRADABLE, "kim_12345", "a") in kinds(export)
    canvas = list(csv.reader(io.StringIO(lms.canvas_gradebook(results, roster).csv_text())))
    assert canvas[2][5] == ""
    assert lms.moodle_grades(results, roster).rows == (("Email address", "a"),)


def test_students_missing_from_the_roster_are_reported_with_a_hint(roster):
    results = [result("KIM_12345 ", "a", [1]), result("nobody", "a", [1])]
    export = lms.canvas_gradebook(results, roster)
    missing = {i.student: i for i in export.issues if i.kind == lms.NOT_IN_ROSTER}
    assert set(missing) == {"KIM_12345 ", "nobody"}
    assert "'kim_12345'" in missing["KIM_12345 "].detail
    assert len(export.rows) == 2 + len(roster)          # header, points, roster rows only
    lines = lms.issue_lines(export.issues)
    assert any(line.startswith("nobody / a: NOT IN ROSTER: not written") for line in lines)


def test_formula_injection_is_escaped_or_the_row_left_out():
    roster = lms.parse_roster(
        "student,name,sis_login_id,section,email\n"
        'evil,"=HYPERLINK(""http://x"")",evil1,@sec,evil@x\n'
        "tab,\tTabby,+login,-s,=cmd@x\n"
        "ok,Ok,ok1,s,ok@x\n")
    results = [result(s, "a", [1]) for s in ("evil", "tab", "ok")]
    canvas = lms.canvas_gradebook(results, roster)
    rows = list(csv.reader(io.StringIO(canvas.csv_text())))
    assert rows[2][0] == csv_cell('=HYPERLINK("http://x")') == "'=HYPERLINK(\"http://x\")"
    assert rows[2][4] == "'@sec"
    # "+login" is an identifier: escaping would make it unmatchable, so the row is left out
    assert [r[3] for r in rows[2:]] == ["evil1", "ok1"]
    assert (lms.UNSAFE_IDENTIFIER, "tab", "") in kinds(canvas)
    assert (lms.ESCAPED, "evil", "") in kinds(canvas)
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    moodle = lms.moodle_grades(results, roster)
    assert [r[0] for r in moodle.rows] == ["Email address", "evil@x", "ok@x"]
    assert (lms.UNSAFE_IDENTIFIER, "tab", "") in kinds(moodle)


def test_issue_lines_cannot_forge_a_line():
    roster = lms.parse_roster("student,email\nok,ok@x\n")
    results = [result("x\nok / a: FORGED", "a", [1], status="not gradable", reason="bad\r\nline")]
    lines = lms.issue_lines(lms.canvas_gradebook(results, roster).issues)
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert any(line.startswith("x\\nok / a: FORGED / a: NOT IN ROSTER") for line in lines)


def test_duplicate_results_and_write(tmp_path, roster):
    with pytest.raises(ValueError, match="two results for student"):
        lms.canvas_gradebook([result("kim_12345", "a", [1]), result("kim_12345", "a", [2])], roster)
    export = lms.moodle_grades([result("kim_12345", "a", [1.23456])], roster)
    path = export.write(tmp_path / "moodle.csv")
    assert path.read_bytes() == b"Email address,a\r\nkim.minsu@uni.ac.kr,1.2346\r\n"
