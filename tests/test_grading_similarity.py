"""Suspicious submissions: answers equal to the solution, groups of alike answers, never a score."""
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from cnncourse.grading import similarity as sm
from cnncourse.grading.grader import SubmissionResult
from cnncourse.grading.spec import AssignmentSpec

DEMO = Path(__file__).resolve().parents[1] / "grading" / "demo"

STUB = '''def correlate2d(x, w):
    """2-D cross-correlation, no padding, stride 1: (H, W), (KH, KW) -> (H-KH+1, W-KW+1)."""
    # YOUR CODE HERE
    raise NotImplementedError("Exercise 2 (q2_conv2d) is not answered yet")
'''
SOLUTION = '''def correlate2d(x, w):
    """2-D cross-correlation, no padding, stride 1: (H, W), (KH, KW) -> (H-KH+1, W-KW+1)."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    kh, kw = w.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * w)
    return out
    ### END SOLUTION
'''
# the solution, retyped: other names, comments, spacing, no docstring
RENAMED = '''def correlate2d(x, w):
    # turn the inputs into float arrays
    x = np.asarray( x, dtype = float )
    w = np.asarray(w, dtype=float)
    a, b = w.shape
    result = np.zeros((x.shape[0] - a + 1,
                       x.shape[1] - b + 1))
    for r in range(result.shape[0]):   # rows
        for c in range(result.shape[1]):
            result[r, c] = np.sum(x[r:r + a, c:c + b] * w)
    return result
'''
# the solution with one statement added
NEAR = SOLUTION.replace("    kh, kw = w.shape\n", "    kh, kw = w.shape\n    assert x.ndim == 2\n")
# written independently: same task, other code
OTHER = '''def correlate2d(x, w):
    """2-D cross-correlation."""
    H, W = len(x), len(x[0])
    KH, KW = len(w), len(w[0])
    rows = []
    for top in range(H - KH + 1):
        row = []
        for left in range(W - KW + 1):
            total = 0.0
            for dy in range(KH):
                for dx in range(KW):
                    total += x[top + dy][left + dx] * w[dy][dx]
            row.append(total)
        rows.append(row)
    return np.array(rows)
'''
OTHER2 = '''def correlate2d(x, w):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape)
    return np.einsum("ijkl,kl->ij", windows, w)
'''


def run(answers: dict, **kwargs) -> sm.SimilarityReport:
    kwargs.setdefault("solution", {"q2": SOLUTION})
    kwargs.setdefault("stubs", {"q2": STUB})
    kwargs.setdefault("min_tokens", 20)
    return sm.find_similar("03_conv_arithmetic", answers, **kwargs)


def group_sets(report: sm.SimilarityReport) -> list[set[str]]:
    return [set(g.students) for g in report.groups]


def test_normalization_ignores_whitespace_comments_and_docstrings():
    a = sm.fingerprint("def f(x):\n    '''doc'''\n    y = x + 1  # add\n    return y\n")
    b = sm.fingerprint("def f(x):\n\n  # a comment\n  y=x+1\n  return (y)\n".replace("(y)", "y"))
    assert a.exact == b.exact and a.parsed
    # a different constant or operator is a different answer
    assert sm.fingerprint("def f(x):\n    y = x + 2\n    return y\n").exact != a.exact


def test_renaming_keeps_the_data_flow():
    a = sm.fingerprint("a = np.zeros(3)\nb = a + len(a)\nprint(b.sum())\n")
    b = sm.fingerprint("foo = np.zeros(3)\nbar = foo + len(foo)\nprint(bar.sum())\n")
    flow = sm.fingerprint("foo = np.zeros(3)\nbar = foo + len(bar)\nprint(bar.sum())\n")
    attr = sm.fingerprint("a = np.zeros(3)\nb = a + len(a)\nprint(b.mean())\n")
    assert a.exact != b.exact and a.renamed == b.renamed
    assert flow.renamed != a.renamed            # uses another variable where a used its own
    assert attr.renamed != a.renamed            # attribute names and builtins are kept


def test_unparsable_code_falls_back_to_whitespace_and_comments():
    broken = "def f(x:\n    return [x,  # oops\n"
    a, b = sm.fingerprint(broken), sm.fingerprint("def f(x:\n  return [x,\n")
    assert not a.parsed and a.exact == b.exact
    report = run({"kim": {"q2": broken * 6}, "lee": {"q2": (broken * 6).replace("  ", " ")}}, min_tokens=5)
    assert group_sets(report) == [{"kim", "lee"}]
    assert report.groups[0].pairs[0].matches[0].level == sm.IDENTICAL


def test_copies_of_the_solution_are_flagged_with_their_level():
    report = run({"kim": {"q2": SOLUTION.replace("### BEGIN SOLUTION", "# YOUR CODE HERE")},
                  "lee": {"q2": RENAMED}, "park": {"q2": NEAR}, "choi": {"q2": OTHER}})
    levels = {m.student: [(x.exercise, x.level) for x in m.matches] for m in report.solution_matches}
    assert levels == {"kim": [("q2", "identical")], "lee": [("q2", "renamed")], "park": [("q2", "near")]}
    near = next(m for m in report.solution_matches if m.student == "park").matches[0]
    assert sm.THRESHOLD <= near.similarity < 1
    assert all(m.compared == 1 for m in report.solution_matches)


def test_blank_and_stub_answers_never_make_students_alike():
    blank_variants = [
        STUB,
        STUB.replace("    # YOUR CODE HERE\n", ""),                              # comment deleted
        STUB.replace("    raise", "\n\n    raise") + "\n# TODO\n",                   # spacing, comment
        STUB.replace('    raise NotImplementedError("Exercise 2 (q2_conv2d) is not answered yet")\n', ""),
        "", "   \n",
    ]
    answers = {f"s{i}": {"q2": text} for i, text in enumerate(blank_variants * 3)}
    answers["t"] = {}                                                            # cell deleted
    report = run(answers, min_tokens=1)
    assert report.groups == () and report.solution_matches == () and report.common == ()
    assert report.compared == (("q2", 0),)
    assert sm.report_lines(report) == []


def test_groups_of_alike_answers_and_independent_work_left_alone():
    report = run({"kim": {"q2": RENAMED}, "lee": {"q2": RENAMED.replace("result", "res")},
                  "park": {"q2": OTHER}, "choi": {"q2": OTHER2},
                  "jung": {"q2": OTHER.replace("total", "acc").replace("# ", "")}}, solution={})
    assert sorted(map(sorted, group_sets(report))) == [["jung", "park"], ["kim", "lee"]]
    pair = next(g for g in report.groups if "kim" in g.students).pairs[0]
    assert pair.students == ("kim", "lee") and pair.matches == (sm.ExerciseMatch("q2", "renamed", 1.0),)
    assert report.solution_matches == ()                      # no solution given: none looked for


def test_near_identical_pairs_and_the_threshold():
    answers = {"kim": {"q2": SOLUTION}, "lee": {"q2": NEAR}}
    pair = run(answers, solution={}).groups[0].pairs[0].matches[0]
    assert pair.level == sm.NEAR and sm.THRESHOLD <= pair.similarity < 1
    assert run(answers, solution={}, threshold=0.99).groups == ()


def test_short_answers_are_not_compared():
    stub = "def relu(x):\n    raise NotImplementedError()\n"
    short = "def relu(x):\n    return np.maximum(x, 0)\n"
    report = sm.find_similar("a", {"kim": {"q1": short}, "lee": {"q1": short}},
                             solution={"q1": short}, stubs={"q1": stub})
    assert report.groups == () and report.solution_matches == () and report.compared == (("q1", 0),)
    assert sm.find_similar("a", {"kim": {"q1": short}, "lee": {"q1": short}}, stubs={"q1": stub},
                           min_tokens=3).groups != ()


def test_a_common_answer_is_reported_once_not_as_a_group():
    answers = {f"s{i:02d}": {"q2": RENAMED.replace("result", f"r{i}")} for i in range(8)}
    answers.update({"park": {"q2": OTHER}, "choi": {"q2": OTHER2}})
    report = run(answers, solution={})
    assert report.groups == () and len(report.common) == 1
    common = report.common[0]
    assert common.exercise == "q2" and len(common.students) == 8 and not common.solution
    # many students at or near the solution: one line, not one flag each
    answers = {f"s{i:02d}": {"q2": (SOLUTION if i % 2 else NEAR).replace("out", f"o{i}")} for i in range(8)}
    report = run(answers)
    assert report.solution_matches == () and report.groups == ()
    assert [c.solution for c in report.common] == [True] and len(report.common[0].students) == 8
    assert "at or near the instructor's solution" in sm.report_lines(report)[0]


def test_min_exercises_and_several_exercises_per_pair():
    answers = {"kim": {"q1": OTHER, "q2": RENAMED}, "lee": {"q1": OTHER, "q2": OTHER2},
               "park": {"q1": OTHER2, "q2": RENAMED}}
    stubs = {"q1": STUB, "q2": STUB}
    report = sm.find_similar("a", answers, stubs=stubs, min_tokens=20)
    assert group_sets(report) == [{"kim", "lee", "park"}]
    assert [p.students for p in report.groups[0].pairs] == [("kim", "lee"), ("kim", "park")]
    assert sm.find_similar("a", answers, stubs=stubs, min_tokens=20, min_exercises=2).groups == ()


def test_report_lines_escape_ids_and_say_it_is_not_a_score():
    evil = "x\ny / a: SAME AS SOLUTION"
    report = run({evil: {"q2": SOLUTION}, 'q"uote, z': {"q2": RENAMED}, "plain.id@uni": {"q2": RENAMED}})
    lines = sm.report_lines([report])
    assert lines and all("\n" not in line and "\r" not in line for line in lines)
    assert all("not a score" in line for line in lines)
    solution_line = next(line for line in lines if line.startswith("x\\ny"))
    assert "SAME AS SOLUTION in q2 (identical): 1 of 1 compared answer(s)" in solution_line
    group_line = next(line for line in lines if "SIMILAR" in line)
    assert '"q\\"uote, z"' in group_line and "plain.id@uni" in group_line
    assert '"x\\ny / a: SAME AS SOLUTION"' in group_line


def test_three_hundred_students_find_the_planted_copies():
    rng = random.Random(0)
    ops = ["+", "-", "*", "//", "%"]

    def answer() -> str:
        lines = ["def f(x, y):"]
        names = ["x", "y"]
        for i in range(9):
            a, b = rng.choice(names), rng.choice(names)
            lines.append(f"    t{i} = {a} {rng.choice(ops)} {rng.randint(2, 99)} {rng.choice(ops)} {b}")
            names.append(f"t{i}")
        lines.append(f"    return {' + '.join(rng.sample(names, 3))}")
        return "\n".join(lines) + "\n"

    stub = "def f(x, y):\n    raise NotImplementedError()\n"
    answers = {f"student{i:03d}": {q: answer() for q in ("q1", "q2", "q3")} for i in range(300)}
    original = answers["student003"]["q2"]
    renamed = re.sub(r"\bt(\d)", r"tmp\1", original)
    answers["student150"]["q2"] = renamed.replace("    tmp0", "    # copied\n    tmp0")
    lines = original.splitlines()
    lines[5] = "    t4 = x + 1"
    answers["student299"]["q2"] = "\n".join(lines) + "\n"
    report = sm.find_similar("a", answers, stubs={q: stub for q in ("q1", "q2", "q3")})
    assert report.compared == (("q1", 300), ("q2", 300), ("q3", 300))
    assert group_sets(report) == [{"student003", "student150", "student299"}]
    levels = {p.students: p.matches[0].level for p in report.groups[0].pairs}
    assert levels[("student003", "student150")] == sm.RENAMED
    assert levels[("student003", "student299")] == sm.NEAR


def test_inputs_from_the_demo_spec_notebooks_and_results():
    spec = AssignmentSpec.from_source(DEMO / "solutions" / "demo_numpy" / "demo_numpy.ipynb")
    solution, stubs = sm.exercise_sources(spec)
    assert sorted(solution) == sorted(stubs) == ["q1", "q2", "q3", "q4"]
    assert "BEGIN SOLUTION" in solution["q3"] and "NotImplementedError" in stubs["q3"]
    assert sm.answer_keys(spec)["q3_output_size"] == "q3"

    def notebook(student: str) -> bytes:
        return (DEMO / "submitted" / student / "demo_numpy" / "demo_numpy.ipynb").read_bytes()

    answers = {s: sm.answers_from_notebook(notebook(s), spec) for s in ("full_marks", "partial", "blank")}
    assert sorted(answers["full_marks"]) == ["q1", "q2", "q3", "q4"]
    assert sm.answers_from_notebook(b"{not json", spec) == {}
    report = sm.find_similar("demo_numpy", answers, solution=solution, stubs=stubs)
    assert [(m.student, [x.exercise for x in m.matches]) for m in report.solution_matches] == [
        ("full_marks", ["q3"])]                      # q1, q2, q4 are one-liners: not compared
    assert report.groups == ()                       # "partial" and "blank" share nothing long
    # a result's feedback cells give the same answers
    cells = [{"kind": "answer", "grade_id": "q3_output_size", "source": answers["full_marks"]["q3"]},
             {"kind": "test", "grade_id": "q3_output_size_test", "source": "assert True"},
             {"kind": "student", "grade_id": None, "source": "print(1)"}]
    result = SubmissionResult("kim", "demo_numpy", cells=cells)
    assert sm.answers_from_result(result, spec) == {"q3": answers["full_marks"]["q3"]}


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="threshold"):
        sm.find_similar("a", {}, threshold=0)
    with pytest.raises(ValueError, match="shingle"):
        sm.find_similar("a", {}, shingle=0)
