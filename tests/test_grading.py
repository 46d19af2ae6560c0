"""End to end on the bundled demo class: scores, faults, cheats, outputs, gradebook, sandbox."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cnncourse.grading import sandbox
from cnncourse.grading.ids import csv_cell, display, gradebook_id
from cnncourse.grading.spec import AssignmentSpec

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[1] / "grading" / "demo"
SOURCE = DEMO / "solutions" / "demo_numpy" / "demo_numpy.ipynb"


def test_every_demo_student_scores_as_expected(demo_graded, demo_expected):
    results, *_ = demo_graded
    assert sorted(results) == sorted(demo_expected)
    for student, want in demo_expected.items():
        r = results[student]
        assert r.status == want["status"], (student, r.status, r.reason)
        if want["status"] == "graded":
            assert r.points() == want["scores"], (student, r.points(), [q.message for q in r.questions])


def test_faults_are_reported_and_confined(demo_graded, demo_expected):
    results, out, *_ = demo_graded
    report = (out / "report.txt").read_text()
    for student, want in demo_expected.items():
        if want["problem"]:
            lines = [ln for ln in report.splitlines() if ln.startswith(f"{display(student)} / ")]
            assert any(want["problem"] in ln for ln in lines), (student, lines)
    assert "invalid_json / demo_numpy: NOT GRADABLE: invalid JSON" in report
    # a problem student never costs anybody else points
    assert results["full_marks"].total == results["full_marks"].max_points == 8


def test_cheats_score_zero_on_the_cheated_exercise(demo_graded, demo_expected):
    results, *_ = demo_graded
    cheats = {s: w for s, w in demo_expected.items() if s.startswith("cheat_") and w["status"] == "graded"}
    assert len(cheats) >= 10
    for student, want in cheats.items():
        zeroed = [k for k, v in want["scores"].items() if v == 0]
        assert zeroed, student
        for key in zeroed:
            assert results[student].points()[key] == 0, (student, key)


def test_grades_csv_and_stats(demo_graded, demo_expected):
    results, out, *_ = demo_graded
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert len(rows) == len(demo_expected)
    by_student = {r["student"]: r for r in rows}
    assert set(by_student) == {csv_cell(s) for s in demo_expected}
    assert by_student["full_marks"]["total"] == "8" and by_student["full_marks"]["status"] == "graded"
    assert by_student["invalid_json"]["status"] == "not gradable"
    assert by_student["invalid_json"]["total"] == ""        # not gradable is not 0
    assert by_student["partial"]["q3"] == "0" and by_student["partial"]["q1"] == "2"
    stats = list(csv.DictReader(open(out / "question_stats.csv")))
    assert [s["question"] for s in stats] == ["q1", "q2", "q3", "q4"]
    graded = [r for r in results.values() if r.status == "graded"]
    q1_mean = sum(r.points()["q1"] for r in graded) / len(graded)
    assert float(stats[0]["mean"]) == pytest.approx(q1_mean, abs=1e-3)
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feedback_never_shows_hidden_tests(demo_graded):
    results, out, *_ = demo_graded
    spec = AssignmentSpec.from_source(SOURCE)
    release = (DEMO / "notebooks" / "demo_numpy" / "demo_numpy.ipynb").read_text()
    hidden_lines = {ln.strip() for ex in spec.exercises for ln in ex.hidden.splitlines()
                    if len(ln.strip()) > 12 and ln.strip() not in release}
    assert len(hidden_lines) >= 8
    pages = sorted((out / "feedback" / "demo_numpy").glob("*.html"))
    assert len(pages) == len(results)
    for page in pages:
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text
        for line in hidden_lines:
            assert line not in text and line.replace('"', "&quot;") not in text, (page.name, line)
    huge = (out / "feedback" / "demo_numpy" / "huge_print.html")
    assert huge.stat().st_size < 500_000 and "[output truncated]" in huge.read_text()


def test_gradebook_matches_results(demo_graded):
    from nbgrader.api import Gradebook
    results, out, db, _ = demo_graded
    with Gradebook(f"sqlite:///{db}") as gb:
        assert {s.id for s in gb.students} == {gradebook_id(s) for s in results}
        for student, r in results.items():
            submission = gb.find_submission("demo_numpy", gradebook_id(student))
            if r.status == "graded":
                assert submission.score == pytest.approx(r.total), student
                # a forbidden-name zero waits for a TA's review; nothing else does
                assert submission.needs_manual_grade == any(q.forbidden for q in r.questions), student
            else:
                assert submission.needs_manual_grade  # flagged, not silently 0


def test_course_folder_untouched_by_students(demo_graded):
    *_, before = demo_graded
    after = {p: p.stat().st_mtime_ns for p in DEMO.rglob("*") if p.is_file()}
    assert after == before
    assert not list(DEMO.parent.rglob("HACKED")) and not (DEMO.parents[1] / "HACKED").exists()


def test_sandbox_hides_solutions_and_gradebook(tmp_path):
    """Student code in the sandbox can neither read a solution/gradebook nor write the course."""
    from cnncourse.grading.kernel import SandboxedKernel
    db = tmp_path / "course" / "gradebook.db"
    db.parent.mkdir()
    db.write_bytes(b"SQLite format 3\0")
    level = sandbox.detect()
    if level == "limits-only":
        pytest.skip("no namespaces on this machine: the grader warns and grades unprotected")
    repo = DEMO.parents[1]
    config = sandbox.SandboxConfig(hide=[repo, db.parent])
    with SandboxedKernel(tmp_path / "work", config, timeout=20) as kernel:
        for target in (repo / "cnncourse" / "HACKED.py", repo / "solutions" / "HACKED"):
            run = kernel.execute(f"open({str(target)!r}, 'w').write('x')")
            assert run.status == "error", run
        for secret in (SOURCE, db):
            run = kernel.execute(f"open({str(secret)!r}, 'rb').read()")
            assert run.status == "error" and run.error[0] in ("FileNotFoundError", "PermissionError"), run
        run = kernel.execute(f"open({str(DEMO / 'HACKED')!r}, 'w').write('x')")
        assert run.status == "error" and run.error[0] in ("OSError", "PermissionError", "FileNotFoundError"), run
        run = kernel.execute("import socket; socket.create_connection(('1.1.1.1', 80), timeout=2)")
        assert run.status == "error"
        assert kernel.execute("import numpy, cnncourse").status == "ok"
    assert not (DEMO / "HACKED").exists() and not (repo / "cnncourse" / "HACKED.py").exists()


@pytest.mark.parametrize("level", ["namespaces", "namespaces+uid"])
def test_each_namespace_level_hides_the_course(tmp_path, level):
    import os
    from cnncourse.grading.kernel import SandboxedKernel
    if sandbox.detect() == "limits-only" or (level == "namespaces+uid" and os.geteuid() != 0):
        pytest.skip(f"{level} is not available here")
    repo = DEMO.parents[1]
    config = sandbox.SandboxConfig(hide=[repo], level=level)
    with SandboxedKernel(tmp_path / "work", config, timeout=20) as kernel:
        assert kernel.execute(f"open({str(SOURCE)!r}).read()").error[0] == "FileNotFoundError"
        assert kernel.execute(f"open({str(repo / 'cnncourse' / 'X')!r}, 'w')").status == "error"
        assert kernel.execute("open('here.txt', 'w').write('own folder is writable')").status == "ok"
        escape = tmp_path / "outside.txt"   # /tmp is writable for us, not for the kernel
        assert kernel.execute(f"open({str(escape)!r}, 'w')").status == "error"
        assert not escape.exists()
        # Another copy of the course the grader was not told about (say a TA's second checkout)
        # is hidden too: every top-level folder outside the system's own is covered.
        other_copy = tmp_path / "other_checkout" / "solutions.ipynb"
        other_copy.parent.mkdir()
        other_copy.write_text("n_params == 123")
        assert kernel.execute(f"open({str(other_copy)!r}).read()").status == "error"
        assert kernel.execute("import cnncourse.grading.wire").status == "ok"


def test_parallel_equals_serial_and_rerun_skips(tmp_path, demo_graded):
    from cnncourse.grading.pipeline import grade
    results, *_ = demo_graded
    pick = ["full_marks", "partial", "cheat_allclose", "deleted_test_cell", "invalid_json"]
    subs = tmp_path / "submitted"
    for student in pick:
        target = subs / student / "demo_numpy"
        target.mkdir(parents=True)
        src = DEMO / "submitted" / student / "demo_numpy" / "demo_numpy.ipynb"
        (target / "demo_numpy.ipynb").write_bytes(src.read_bytes())
    serial = grade(subs, course_root=DEMO, out_dir=tmp_path / "out", workers=1, timeout=5, log=lambda *a: None)
    assert {r.student: (r.status, r.points()) for r in serial} == \
        {s: (results[s].status, results[s].points()) for s in pick}
    logged = []
    again = grade(subs, course_root=DEMO, out_dir=tmp_path / "out", workers=2, timeout=5, log=logged.append)
    assert any("already graded" in line for line in logged)
    assert [(r.student, r.points()) for r in again] == [(r.student, r.points()) for r in serial]
    one = grade(subs, course_root=DEMO, out_dir=tmp_path / "out", student="partial", force=True,
                timeout=5, log=lambda *a: None)
    assert [r.student for r in one if r.seconds > 0] == ["partial"] or [r.student for r in one] == ["partial"]


def test_flat_folder_and_zip_inputs(tmp_path):
    import zipfile
    from cnncourse.grading.collect import collect
    flat = tmp_path / "flat"
    flat.mkdir()
    src = DEMO / "submitted" / "full_marks" / "demo_numpy" / "demo_numpy.ipynb"
    (flat / "alice_demo_numpy.ipynb").write_bytes(src.read_bytes())
    (flat / "bob-12345_demo_numpy.ipynb").write_bytes(src.read_bytes())
    (flat / "whatever.ipynb").write_bytes(src.read_bytes())
    found, bad = collect(flat, ["demo_numpy"])
    assert sorted(s.student for s in found) == ["alice", "bob-12345"]
    assert len(bad) == 1 and "whatever.ipynb" in bad[0]
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(flat / "alice_demo_numpy.ipynb", "export/alice_demo_numpy.ipynb")
    found, bad = collect(archive, ["demo_numpy"], unpack_to=tmp_path / "unz")
    assert [(s.student, s.assignment) for s in found] == [("alice", "demo_numpy")] and not bad


def test_cli_demo_runs(tmp_path):
    from cnncourse.grading.cli import grade_main
    assert grade_main(["demo", "--out", str(tmp_path / "o"), "--workers", "2", "--student", "partial",
                       "--budget", "60", "--max-procs", "48"]) == 0


def test_wire_rejects_non_plain_values():
    import numpy as np
    from cnncourse.grading import wire
    for value in [1, 2.5, float("nan"), True, None, "s", [1, (2, 3)], {"a": np.arange(3)},
                  np.float32(1.5), np.zeros((2, 0)), np.array([True])]:
        back = wire.decode(wire.loads(wire.dumps(wire.encode(value))))
        assert type(back) is type(value) or isinstance(value, np.generic)
    for bad in [object(), np.array([object()]), {1: 2}, np.ma.array([1]), type("F", (float,), {})(1.0)]:
        with pytest.raises(wire.WireError):
            wire.encode(bad)
    with pytest.raises(wire.WireError):
        wire.decode({"t": "nd", "dtype": "object", "shape": [1], "b64": ""})
    with pytest.raises(wire.WireError):
        wire.decode({"t": "handle", "id": 1})
    assert wire.encode(np.sin) == {"t": "fn", "module": "numpy", "name": "sin"}
    assert wire.encode(np.std) == {"t": "fn", "module": "numpy", "name": "std"}
    assert wire.encode(np.linalg.norm) == {"t": "fn", "module": "numpy.linalg", "name": "norm"}
    with pytest.raises(wire.WireError):
        wire.encode(lambda x: x)


def test_repair_reports_each_fault():
    from cnncourse.grading.grader import NotGradable, repair
    spec = AssignmentSpec.from_source(SOURCE)
    raw = (DEMO / "submitted" / "deleted_answer_and_test" / "demo_numpy" / "demo_numpy.ipynb").read_bytes()
    cells, problems, missing = repair(raw, spec)
    assert missing == {"q3_output_size"}
    assert [c.grade_id for c in cells if c.kind == "test"] == [e.test_id for e in spec.exercises]
    assert all("BEGIN HIDDEN" not in c.source for c in cells)
    with pytest.raises(NotGradable, match="invalid JSON"):
        repair(b"{not json", spec)
    with pytest.raises(NotGradable, match="no list of cells"):
        repair(b'{"cells": 3}', spec)


def test_split_hidden_and_answer_names():
    from cnncourse.grading.spec import bound_names, split_hidden
    visible, hidden = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2")
    assert visible == "a = 1\nb = 2" and hidden == "assert a == 1\n"
    with pytest.raises(ValueError, match="unbalanced"):
        split_hidden("### BEGIN HIDDEN TESTS\nx")
    assert bound_names("import numpy as np\ndef f(): pass\nclass C: pass\nx, (y, *z) = 1, (2, 3)\nw: int = 1\n"
                       "obj.attr = 3") == {"f", "C", "x", "y", "z", "w"}


def test_hidden_blocks_use_only_answer_names():
    """DESIGN rule 2: hidden blocks use only their own names, answer-cell names and builtins."""
    import ast
    import builtins
    for path in sorted(Path(__file__).resolve().parents[1].glob("solutions/*/*.ipynb")) + [SOURCE]:
        spec = AssignmentSpec.from_source(path)
        for ex in spec.exercises:
            if not ex.hidden.strip():
                continue
            tree = ast.parse(ex.hidden)
            bound = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                    bound.add(node.id)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    bound.add(node.name)
                elif isinstance(node, ast.arg):
                    bound.add(node.arg)
                elif isinstance(node, ast.ExceptHandler) and node.name:
                    bound.add(node.name)
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            stray = used - bound - spec.answer_names - set(dir(builtins))
            assert not stray, f"{path.name} {ex.test_id}: hidden block uses {sorted(stray)}"


def test_data_roots_hide_all_but_the_system(tmp_path):
    for name in ("usr", "etc", "home", "work", "tmp"):
        (tmp_path / name).mkdir()
    (tmp_path / "lib").symlink_to(tmp_path / "usr")
    (tmp_path / "file").write_text("")
    assert [p.name for p in sandbox.data_roots(tmp_path)] == ["home", "tmp", "work"]


def test_sandbox_level_is_described():
    text = sandbox.SandboxConfig(level="limits-only").describe()
    assert "NO isolation" in text and "no process limit" in text
    for level in ("namespaces", "namespaces+uid"):
        text = sandbox.SandboxConfig(level=level, max_procs=32).describe()
        assert "IPC" in text and "private /dev/shm" in text and "32 processes" in text
    with pytest.raises(ValueError, match="unknown sandbox level"):
        sandbox.SandboxConfig(level="bogus").resolved_level()
    assert re.search(r"memory limit \d", sandbox.SandboxConfig().describe())


def test_kernel_dies_with_a_killed_grader(tmp_path):
    """A grader killed mid-run (SIGKILL, CI timeout) leaves no student kernel behind."""
    import os
    import signal
    import subprocess
    import sys
    import time
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from cnncourse.grading import sandbox\n"
        "from cnncourse.grading.kernel import SandboxedKernel\n"
        "tmp = Path(sys.argv[1])\n"
        "k = SandboxedKernel(tmp / 'w', sandbox.SandboxConfig(hide=[tmp]), timeout=20)\n"
        "k.start()\n"
        "(tmp / 'started').write_text('1')\n"
        "time.sleep(120)\n")
    grader = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)])
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (tmp_path / "started").exists(), "kernel did not start"
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait()
    time.sleep(1.5)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "w")], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"orphaned kernel processes: {leftovers}"
