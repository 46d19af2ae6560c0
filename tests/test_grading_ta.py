"""A TA's day with cnncourse-grade: regrade one student, progress in a pipe, reports of what was
graded, LMS export, similarity flags, next steps, feedback pages, the packaged demo class."""
from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cnncourse.grading import democlass, report
from cnncourse.grading.grader import QuestionResult, SubmissionResult
from cnncourse.grading.pipeline import ProgressLines
from cnncourse.grading.spec import AssignmentSpec

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "grading" / "demo"
SOURCE = DEMO / "solutions" / "demo_numpy" / "demo_numpy.ipynb"
SCRIPT = Path(sys.executable).parent / "cnncourse-grade"
PLOT_CELL = {"cell_type": "code", "execution_count": None, "id": "student-plot", "metadata": {},
             "outputs": [], "source": "import matplotlib.pyplot as plt\nplt.plot([0, 1, 4, 9])\nplt.show()"}


def _notebook(student: str) -> bytes:
    return (DEMO / "submitted" / student / "demo_numpy" / "demo_numpy.ipynb").read_bytes()


def _put(subs: Path, student: str, data: bytes) -> None:
    target = subs / student / "demo_numpy"
    target.mkdir(parents=True, exist_ok=True)
    (target / "demo_numpy.ipynb").write_bytes(data)


def _with_plot(data: bytes) -> bytes:
    nb = json.loads(data)
    nb["cells"].append(PLOT_CELL)
    return json.dumps(nb).encode()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A tiny course (demo_numpy, plus `unused` that nobody submitted) and its class of three."""
    root = tmp_path_factory.mktemp("ta")
    course_root = root / "course"
    for name in ("demo_numpy", "unused"):
        (course_root / "solutions" / name).mkdir(parents=True)
        shutil.copy(SOURCE, course_root / "solutions" / name / f"{name}.ipynb")
    subs = root / "submitted"
    _put(subs, "alice", _notebook("full_marks"))
    _put(subs, "bob", _notebook("partial"))
    _put(subs, "carol", _notebook("blank"))
    roster = root / "roster.csv"
    roster.write_text("student,name,canvas_id,email\nalice,\"A, Alice\",101,alice@uni.ac.kr\n"
                      "bob,\"B, Bob\",102,bob@uni.ac.kr\ncarol,\"C, Carol\",103,carol@uni.ac.kr\n"
                      "dave,\"D, Dave\",104,dave@uni.ac.kr\n", encoding="utf-8")
    return root, course_root, subs, root / "out", roster


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def runs(course):
    """Full run; carol resubmits (with a plot) and is regraded alone; a re-run with an LMS export.
    Every step goes through the real `cnncourse-grade`, stderr a pipe (not a terminal)."""
    root, course_root, subs, out, roster = course
    common = [str(subs), "--course-root", str(course_root), "--out", str(out), "--workers", "2",
              "--timeout", "10", "--budget", "60"]
    first = _cli(common)
    assert first.returncode == 0, first.stderr
    before = {"grades": (out / "grades.csv").read_text(), "report": (out / "report.txt").read_text()}
    _put(subs, "carol", _with_plot(_notebook("full_marks")))
    regrade = _cli(common + ["--student", "carol", "--progress-every", "0"])
    assert regrade.returncode == 0, regrade.stderr
    after = {"grades": (out / "grades.csv").read_text(), "report": (out / "report.txt").read_text()}
    again = _cli(common + ["--roster", str(roster), "--lms", "canvas"])
    assert again.returncode == 0, again.stderr
    return first, before, regrade, after, again


def _grades(text: str) -> dict[str, dict]:
    return {row["student"]: row for row in csv.DictReader(text.splitlines())}


@pytest.mark.slow
def test_regrade_one_student_updates_every_output(course, runs):
    _, course_root, subs, out, _ = course
    first, before, regrade, after, _ = runs
    assert _grades(before["grades"])["carol"]["total"] == "0"
    grades = _grades(after["grades"])
    assert sorted(grades) == ["alice", "bob", "carol"]          # the others kept, carol updated
    assert grades["carol"]["total"] == "8" and grades["bob"] == _grades(before["grades"])["bob"]
    assert "carol / demo_numpy: 8/8" in regrade.stdout          # the new score is printed
    assert "graded 1 submission(s)" in regrade.stdout
    stats = list(csv.DictReader(open(out / "question_stats.csv")))
    q1 = next(s for s in stats if s["question"] == "q1")
    assert q1["graded"] == "3" and float(q1["mean"]) == pytest.approx((2 + 2 + 2) / 3, abs=1e-3)
    assert "3 submission(s): 3 graded" in after["report"]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course_root / 'grading' / 'course' / 'gradebook.db'}") as gb:
        assert gb.find_submission("demo_numpy", "carol").score == pytest.approx(8)
        assert [a.name for a in gb.assignments] == ["demo_numpy"]     # nobody submitted `unused`
        assert gb.find_submission("demo_numpy", "bob").score == pytest.approx(
            float(grades["bob"]["total"]))


@pytest.mark.slow
def test_progress_lines_when_stderr_is_not_a_terminal(runs):
    _, _, regrade, _, _ = runs
    lines = [ln for ln in regrade.stderr.splitlines() if ln.startswith("grading: ")]
    assert lines[0].startswith("grading: 0/1 done (0%)") and "ETA" in lines[0]
    assert lines[-1].startswith("grading: 1/1 done (100%)") and lines[-1].endswith("finished")
    assert "\r" not in regrade.stderr                     # no terminal bar redrawn into a file


def test_progress_lines_every_few_seconds_with_eta():
    now = [0.0]
    written = []

    class Sink:
        def write(self, text):
            written.append(text)

        def flush(self):
            pass

    bar = ProgressLines(4, every=5, stream=Sink(), clock=lambda: now[0])
    now[0] = 2.0
    bar.update()          # 2 s after the last line: nothing
    now[0] = 6.0
    bar.tick()            # 6 s: a line, 1 done in 6 s -> 3 left -> ETA 0:18
    now[0] = 7.0
    bar.update()
    bar.close()
    text = "".join(written).splitlines()
    assert text == ["grading: 0/4 done (0%), 0:00 elapsed, ETA unknown until the first submission is graded",
                    "grading: 1/4 done (25%), 0:06 elapsed, ETA 0:18",
                    "grading: 2/4 done (50%), 0:07 elapsed, ETA 0:07"]


@pytest.mark.slow
def test_reports_show_only_what_was_graded(course, runs):
    _, _, _, out, _ = course
    first, before, _, after, again = runs
    assert "unused" not in before["grades"] and "unused" not in after["grades"]
    assert "unused" not in (out / "question_stats.csv").read_text()
    assert "unused" not in first.stdout and "unused" not in after["report"]
    png = (out / "histogram.png").read_bytes()
    width = struct.unpack(">I", png[16:20])[0]
    assert width == 5 * 90                                     # one panel: demo_numpy only
    # a re-run says what it reused instead of "grading 0" then "graded 3"
    assert "grading 0" not in again.stdout and "nothing new to grade" in again.stdout
    assert "graded 0 submission(s), reused 3 unchanged" in again.stdout


def test_histogram_bars_sit_on_integer_scores():
    assert report.histogram_bins(8) == [k - 0.5 for k in range(10)]
    assert report.histogram_bins(7.5) == [k - 0.5 for k in range(10)]
    assert len(report.histogram_bins(100)) == 21


def test_demo_table_wraps_notes_instead_of_cutting(capsys):
    note = ("cell 3 (q2_relu): a very long note about a kernel that died while running the "
            "student's cell, restarted, then skipped; the rest of the notebook went on")
    result = SubmissionResult("full_marks", "demo_numpy", problems=[note],
                              questions=[QuestionResult(k, k, v, v) for k, v in
                                         json.loads((DEMO / "expected.json").read_text())["full_marks"]["scores"].items()])
    democlass.compare([result], {key: want for key, want in democlass.demo_expected(DEMO).items()
                                 if key[0] == "full_marks"})
    shown = capsys.readouterr().out
    words = " ".join(line.strip() for line in shown.splitlines()[2:] if line.strip()
                     and not line.startswith("full_marks") and "as expected" not in line)
    first = next(line for line in shown.splitlines() if line.startswith("full_marks"))
    assert " ".join([first.split("yes", 1)[1].strip(), words]) == note
    assert all(len(line) <= 47 + 60 for line in shown.splitlines())


@pytest.mark.slow
def test_lms_export_and_its_issues_in_the_report(course, runs):
    _, _, _, out, _ = course
    *_, again = runs
    rows = list(csv.reader((out / "canvas_grades.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "demo_numpy"]
    assert rows[1][0] == "Points Possible" and rows[1][-1] == "8"
    by_id = {row[1]: row[-1] for row in rows[2:]}
    assert by_id["101"] == "8" and by_id["103"] == "8" and by_id["104"] == ""
    text = (out / "report.txt").read_text()
    assert "canvas export canvas_grades.csv" in text
    assert "dave / demo_numpy: NO SUBMISSION" in text
    assert "canvas_grades.csv" in again.stdout


@pytest.mark.slow
def test_similarity_flags_are_in_the_report_and_never_a_score(course, runs):
    _, _, _, out, _ = course
    text = (out / "report.txt").read_text()
    section = text.split("Suspicious submissions", 1)[1]
    assert "alice" in section and "carol" in section
    assert "SAME AS SOLUTION" in section or "SIMILAR" in section
    assert _grades((out / "grades.csv").read_text())["alice"]["total"] == "8"


@pytest.mark.slow
def test_next_steps_are_printed(runs):
    first, *_ = runs
    steps = first.stdout.split("Next steps:", 1)[1]
    for needle in ("grades.csv", "--student alice", "--roster roster.csv --lms canvas", "--lms moodle",
                   "nbgrader export"):
        assert needle in steps, needle


@pytest.mark.slow
def test_feedback_labels_course_cells_wraps_and_keeps_plots(course, runs):
    _, _, _, out, _ = course
    page = (out / "feedback" / "demo_numpy" / "carol.html").read_text()
    assert "<img alt='plot' src='data:image/png;base64,iVBOR" in page      # the student's plot
    assert "white-space:pre-wrap" in page
    assert "course cell: tests (q1_relu_test)" in page or "course cell: tests (" in page
    assert page.count("a cell you added") == 1 and "your answer (" in page     # carol's plot cell
    assert "<h3 class='course'>course cell</h3>" in page      # the release's unlocked check cell
    assert "course cell (setup)" in page and ">student<" not in page


def test_feedback_caps_plots():
    png = "iVBORw0KGgo" + "A" * (report.MAX_FEEDBACK_IMAGE + 10)
    cells = [{"kind": "student", "source": "x" * 500, "outputs": [{"name": "display_data", "text": "", "png": png}]},
             {"kind": "student", "source": "", "outputs": [{"name": "display_data", "text": "",
                                                            "png": "not base64 <script>"}]},
             {"kind": "locked", "source": "# instructions", "outputs": []}]
    result = SubmissionResult("eve", "demo_numpy", cells=cells)
    page = report._feedback_html(result, AssignmentSpec.from_source(SOURCE, "demo_numpy"))
    assert "<img" not in page and page.count("plot(s) left out") == 2
    assert "<script>" not in page and "<h3 class='course'>course cell</h3>" in page


# ---------------------------------------------------------------------------- packaging (issue 9)

def test_demo_links_table_matches_the_demo_class():
    links = {str(p.relative_to(DEMO)): os.readlink(p) for p in DEMO.rglob("*") if p.is_symlink()}
    assert links == democlass.DEMO_LINKS


def test_packages_listed_in_pyproject_are_the_package_folders():
    import tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "cnncourse").rglob("__init__.py")}
    assert set(config["packages"]) == found | {"cnncourse.grading.demo"}
    assert config["package-dir"]["cnncourse.grading.demo"] == "grading/demo"


def test_packaged_demo_gets_its_links_back(tmp_path):
    wheel_like = tmp_path / "site" / "demo"
    shutil.copytree(DEMO, wheel_like, symlinks=False)          # what a wheel holds: no links
    assert not any(p.is_symlink() for p in wheel_like.rglob("*"))
    work = democlass.prepare_demo(wheel_like, tmp_path / "work" / "demo-class")
    for name, target in democlass.DEMO_LINKS.items():
        assert (work / name).is_symlink() and os.readlink(work / name) == target
    assert (work / "expected.json").read_bytes() == (DEMO / "expected.json").read_bytes()


def test_kernel_keeps_plots_within_their_caps(tmp_path):
    from cnncourse.grading import kernel
    k = kernel.SandboxedKernel(tmp_path)       # never started: only its output bookkeeping is used

    def show(png: str):
        run = kernel.CellRun("ok")
        msg = {"msg_type": "display_data", "content": {"data": {"text/plain": "<Figure size 640x480>",
                                                                "image/png": png}}}
        k._collect(msg, run, 0, None)
        return run.outputs

    assert show("iVBORw0KGgo=") == [{"name": "display_data", "text": "", "png": "iVBORw0KGgo="}]
    too_big = show("A" * (kernel.MAX_IMAGE + 1))
    assert too_big == [{"name": "display_data", "text": "[plot left out: over the size limit]\n"}]
    while kernel.MAX_IMAGES_TOTAL - k.images_kept >= kernel.MAX_IMAGE:
        assert "png" in show("A" * kernel.MAX_IMAGE)[0]
    assert "png" in show("A" * (kernel.MAX_IMAGES_TOTAL - k.images_kept))[0]
    assert "png" not in show("AAAA")[0]         # the kernel's total is used up
