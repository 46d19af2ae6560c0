"""Issue 13: what a hostile or unlucky class does to `cnncourse-grade`, through the real pipeline.

The demo class (graded once per session by the `demo_graded` fixture) carries most cases as
students; the rest build small classes here: links and special files, ids from LMS exports,
isolation, a dying worker, malformed kernel messages with one worker.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cnncourse.grading import sandbox
from cnncourse.grading.checks import assert_array_equalish
from cnncourse.grading.forbidden import GRADER_INTERNALS, static_uses, unwatch, watch
from cnncourse.grading.ids import csv_cell, display, file_stem, gradebook_id

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[1] / "grading" / "demo"
FULL = DEMO / "submitted" / "full_marks" / "demo_numpy" / "demo_numpy.ipynb"
FORBIDDEN_CHEATS = ("cheat_forbidden_import", "cheat_forbidden_getattr", "cheat_forbidden_when_graded")
MALLORY = "mallory\nfull_marks - demo_numpy: NOT GRADABLE forged"


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (rather than hang) when grading blocks, e.g. on a FIFO posing as a notebook."""
    def expire(*_):
        raise TimeoutError(f"grading did not finish in {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def notebook(extra_before_q3: str = "", q4: str | None = None) -> bytes:
    """The full-marks notebook, optionally with a student cell before q3 and another q4 answer."""
    data = json.loads(FULL.read_text())
    cells = []
    for cell in data["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "q3_output_size" and extra_before_q3:
            cells.append({"cell_type": "code", "execution_count": None, "id": "student-extra",
                          "metadata": {}, "outputs": [], "source": extra_before_q3})
        if grade_id == "q4_conv_params" and q4 is not None:
            cell["source"] = q4
        cells.append(cell)
    data["cells"] = cells
    return json.dumps(data).encode()


def place(subs: Path, student: str | bytes, content: bytes | None = None) -> Path:
    """submitted/<student>/demo_numpy/demo_numpy.ipynb (student may be raw bytes); returns the folder."""
    folder = os.path.join(os.fsencode(subs), os.fsencode(student), b"demo_numpy")
    os.makedirs(folder)
    if content is not None:
        with open(os.path.join(folder, b"demo_numpy.ipynb"), "wb") as handle:
            handle.write(content)
    return Path(os.fsdecode(folder))


def run_class(subs: Path, out: Path, **kwargs) -> dict:
    from cnncourse.grading.pipeline import grade
    kwargs.setdefault("workers", 2)
    results = grade(subs, course_root=DEMO, out_dir=out, timeout=20, log=lambda *a: None, **kwargs)
    return {r.student: r for r in results}


def all_output_text(out: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*")
                     if p.is_file() and p.suffix in (".csv", ".txt", ".html", ".json"))


# -- links, special files, LMS ids, isolation: one class -----------------------------------

LEAKY = '''import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0x5EED13, 4096, 0o1000 | 0o666)      # IPC_CREAT: a SysV segment
open("/dev/shm/cnncourse-leak-13", "w").write("left behind?")
procs = []
try:
    for _ in range(200):
        procs.append(subprocess.Popen(["sleep", "4242"]))
except OSError:
    pass
print(f"uid {os.getuid()} segment {segment} processes {len(procs)}")'''

SPECIALS_Q4 = '''# Parameters of a conv layer with 64 kernels of 7x7 on a one-channel input, biases included.
import os
seen = set(os.listdir("."))
refused = {"secret.txt", "pipe.bin", "null.dev", "shared.txt"}
n_params = (7 * 7 * 1 + 1) * 64 if "data.txt" in seen and not seen & refused else -1'''

EMAIL = "kim.minsu.2024123456@student.university.ac.kr"          # 45 characters
LONG = "x" * 252                                                 # the longest folder name
CP949 = "김민수".encode("cp949")                                  # a Korean Windows zip, unpacked


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    subs = base / "submitted"
    subs.mkdir()
    secret = base / "instructor" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET-42")
    secret.chmod(0o600)
    solution = base / "instructor" / "demo_numpy.ipynb"          # the instructor's copy, hard-linked
    solution.write_bytes((DEMO / "solutions" / "demo_numpy" / "demo_numpy.ipynb").read_bytes())
    os.link(solution, place(subs, "hardlinked") / "demo_numpy.ipynb")
    os.mkfifo(place(subs, "fifo_notebook") / "demo_numpy.ipynb")
    specials = place(subs, "specials", notebook(q4=SPECIALS_Q4))
    (specials / "data.txt").write_text("a regular file is copied")
    os.symlink(secret, specials / "secret.txt")
    os.mkfifo(specials / "pipe.bin")
    os.link(secret, specials / "shared.txt")
    with contextlib.suppress(PermissionError):
        os.mknod(specials / "null.dev", 0o600 | 0o020000, os.makedev(1, 3))   # /dev/null's numbers
    os.symlink(subs / "specials", subs / "linked_student")
    (subs / "linked_assignment").mkdir()
    os.symlink(specials, subs / "linked_assignment" / "demo_numpy")
    for student in (EMAIL, LONG, CP949):
        place(subs, student, FULL.read_bytes())
    place(subs, "leaky", notebook(extra_before_q3=LEAKY))
    from cnncourse.grading import pipeline
    made = []

    def recording_tmp_root():
        made.append(real_tmp_root())
        return made[-1]

    real_tmp_root = pipeline._short_tmp_root
    out = base / "out"
    try:
        with deadline(600), pytest.MonkeyPatch.context() as mp:
            mp.setattr(pipeline, "_short_tmp_root", recording_tmp_root)
            results = run_class(subs, out)
        yield results, out, made
    finally:  # what older graders left behind, so the machine stays clean whatever happened
        subprocess.run(["ipcrm", "-M", str(0x5EED13)], capture_output=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/shm/cnncourse-leak-13")
        subprocess.run(["pkill", "-KILL", "-f", "^sleep 4242$"], capture_output=True)


def test_links_and_special_files_are_never_followed(hostile_class):
    results, out, *_ = hostile_class
    assert results["hardlinked"].status == "not gradable" and "hard link" in results["hardlinked"].reason
    assert results["fifo_notebook"].status == "not gradable" and "FIFO" in results["fifo_notebook"].reason
    linked = results["linked_assignment"]
    assert linked.status == "not gradable" and "symbolic link" in linked.reason
    specials = results["specials"]
    assert specials.status == "graded" and specials.points()["q4"] == 1.0, specials.problems
    problems = "\n".join(specials.problems)
    for name, kind in [("secret.txt", "symbolic link"), ("pipe.bin", "FIFO"), ("shared.txt", "hard link")]:
        assert any(name in p and kind in p and "refused" in p for p in specials.problems), (name, problems)
    report = (out / "report.txt").read_text(encoding="utf-8")
    assert "linked_student: a symbolic link (refused, not followed)" in report
    assert "linked_student" not in results
    assert "TOP-SECRET-42" not in all_output_text(out)


def test_ids_of_any_length_and_bytes_are_graded(hostile_class):
    results, out, *_ = hostile_class
    for student in (EMAIL, LONG, "김민수"):
        r = results[student]
        assert r.status == "graded" and r.total == 8, (student[:20], r.reason, r.problems)
        page = out / "feedback" / "demo_numpy" / f"{file_stem(student)}.html"
        assert page.is_file() and len(page.name.encode()) <= 255
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert {EMAIL, LONG, "김민수"} <= {row["student"] for row in rows}
    assert (out / "report.txt").read_text(encoding="utf-8")


def test_each_kernel_has_its_own_ipc_shm_and_process_limit(hostile_class):
    results, out, made = hostile_class
    if sandbox.detect() == "limits-only":
        pytest.skip("no namespaces here: the grader says so and runs without IPC isolation")
    leaky = results["leaky"]
    assert leaky.total == 8, leaky.problems
    printed = "".join(o.get("text", "") for c in leaky.cells for o in c["outputs"])
    processes = int(printed.split("processes")[1].split()[0])
    assert processes < 64, printed                                  # RLIMIT_NPROC per kernel
    segments = Path("/proc/sysvipc/shm").read_text().split("\n")[1:]
    assert not [s for s in segments if s.split() and int(s.split()[0]) == 0x5EED13]
    assert not Path("/dev/shm/cnncourse-leak-13").exists()
    left = subprocess.run(["pgrep", "-f", "^sleep 4242$"], capture_output=True, text=True).stdout
    assert not left.strip(), f"processes outlived their kernel: {left}"
    assert len(made) == 1 and not made[0].exists()        # working folders and unzipped files removed


# -- the demo class: forbidden names, degenerate answers, escaping, budget, zip, ids --------

def test_forbidden_library_use_scores_zero_and_is_listed(demo_graded):
    results, out, *_ = demo_graded
    for student in FORBIDDEN_CHEATS:
        q3 = next(q for q in results[student].questions if q.key == "q3")
        assert q3.points == 0 and q3.forbidden, student
        assert "cnncourse.conv.conv_output_size" in q3.message and "overrule" in q3.message
        assert any("called cnncourse.conv.conv_output_size" in f for f in q3.forbidden), (student, q3.forbidden)
    static = [f for f in results["cheat_forbidden_import"].questions[2].forbidden if f.startswith("answer cell")]
    assert static and "from cnncourse.conv import conv_output_size" in static[0]
    # run-time only: a getattr built from pieces, and a call made only when it sees the grader
    for student in ("cheat_forbidden_getattr", "cheat_forbidden_when_graded"):
        assert not [f for f in results[student].questions[2].forbidden if f.startswith("answer cell")]
    flagged = {s for s, r in results.items() if any(q.forbidden for q in r.questions)}
    assert flagged == set(FORBIDDEN_CHEATS)
    report = (out / "report.txt").read_text(encoding="utf-8")
    listed = {ln.split(" / ")[0] for ln in report.splitlines() if "FORBIDDEN" in ln}
    assert listed == set(FORBIDDEN_CHEATS)
    page = (out / "feedback" / "demo_numpy" / "cheat_forbidden_getattr.html").read_text()
    assert "Library use this assignment forbids" in page


def test_static_check_sees_imports_chains_getattr_and_importlib():
    names = ["cnncourse.conv.im2col"]
    uses = {
        "from cnncourse.conv import im2col": 1,
        "import cnncourse.conv as c\ny = c.im2col": 1,
        "import cnncourse\ny = cnncourse.conv.im2col": 1,
        "from cnncourse import conv\nf = getattr(conv, 'im2col')": 1,
        "import importlib\nm = importlib.import_module('cnncourse.conv')\nf = m.im2col": 1,
        "f = __import__('cnncourse.conv', fromlist=['x']).im2col": 1,
        "import sys\nf = sys.modules['cnncourse.conv'].im2col": 1,
        "from cnncourse.conv import *": 1,
        "from cnncourse.conv import pad2d\ndef im2col(x):\n    return pad2d(x, 1)": 0,
        "from cnncourse.grading.forbidden import unwatch": 1,        # switching the watch off
    }
    for source, count in uses.items():
        assert len(static_uses(source, names + list(GRADER_INTERNALS))) == count, source


def test_runtime_watch_counts_calls_through_any_reference_and_restores():
    import cnncourse.conv as conv
    kept = conv.conv_output_size              # a reference taken before the watch starts
    code = kept.__code__
    info = watch(["cnncourse.conv.conv_output_size", "cnncourse.nothing.here"])
    try:
        assert info["unknown"] == ["cnncourse.nothing.here"]
        assert kept(5, 3, padding=1, stride=2) == 3 and getattr(conv, "conv_output_size")(7, 3) == 5
    finally:
        hits = unwatch()["hits"]
    assert hits == {"cnncourse.conv.conv_output_size": 2}
    assert kept.__code__ is code and kept(5, 3) == 3


def test_hidden_comparisons_check_type_shape_and_dtype_first(demo_graded):
    results, *_ = demo_graded
    assert results["cheat_empty_array"].points()["q2"] == 0       # np.allclose alone passed it
    expected = np.array([0.25])
    assert np.allclose(np.zeros(0), expected)                      # the hole
    cases = [(np.zeros(0), expected), (np.array([[0.25]]), expected), ([0.25], expected),
             (np.array([0], dtype=np.int64), np.array([0.0])), (np.array([0.0]), np.array([0])),
             (np.array([np.nan]), expected), (True, 1), (np.array([1.0, 2.0]), 1.0), ("0.25", 0.25)]
    for actual, want in cases:
        with pytest.raises(AssertionError):
            assert_array_equalish(actual, want)
    assert_array_equalish(np.array([0.25 + 1e-12]), expected)
    assert_array_equalish(np.arange(3), np.arange(3))
    assert_array_equalish(3, 3)
    with pytest.raises(AssertionError, match="dtype float64, expected float32"):
        assert_array_equalish(np.zeros(2), np.zeros(2, np.float32), dtype=np.float32)


def test_two_ids_that_sanitize_alike_grade_independently(demo_graded):
    results, out, *_ = demo_graded
    for student in ("same folder", "same_folder"):
        assert results[student].points()["q4"] == 1.0, results[student].problems
    assert file_stem("same folder") != file_stem("same_folder")
    pages = {out / "feedback" / "demo_numpy" / f"{file_stem(s)}.html" for s in ("same folder", "same_folder")}
    assert len(pages) == 2 and all(p.is_file() for p in pages)


def test_outputs_escape_ids_for_their_format(demo_graded):
    results, out, db, _ = demo_graded
    assert MALLORY in results and "=SUM(1;2)" in results and "@cmd" in results
    rows = list(csv.reader(open(out / "grades.csv", encoding="utf-8")))
    for row in rows[1:]:
        for cell in (row[0], row[-2]):   # student and reason: never a formula, never two lines
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and "\n" not in cell, row
    assert ["'=SUM(1;2)", "'@cmd"] == sorted(r[0] for r in rows if r[0] in ("'=SUM(1;2)", "'@cmd"))
    report = (out / "report.txt").read_text(encoding="utf-8").splitlines()
    assert not [ln for ln in report if ln.startswith("full_marks - demo_numpy")]
    assert all(ln.startswith("mallory\\n") for ln in report if "mallory" in ln)
    page = (out / "feedback" / "demo_numpy" / f"{file_stem(MALLORY)}.html").read_text(encoding="utf-8")
    assert "mallory\\nfull_marks" in page and "mallory\nfull_marks" not in page
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{db}") as gb:
        ids = {s.id for s in gb.students}
    assert {"'=SUM(1;2)", "'@cmd", display(MALLORY)} <= ids and not {"=SUM(1;2)", "@cmd"} & ids
    assert gradebook_id("'x") != gradebook_id("x") and csv_cell("-1") == "'-1"


def test_time_budget_scores_the_rest_zero(demo_graded):
    results, out, *_ = demo_graded
    slow = results["slow_everywhere"]
    assert slow.points() == {"q1": 2.0, "q2": 2.0, "q3": 0.0, "q4": 0.0}
    assert any("time budget of 25 s used up" in p for p in slow.problems)
    assert slow.seconds < 25 + 15        # stopped at the budget, not after every slow call
    assert "not graded: time budget" in slow.questions[3].message


def test_zip_members_are_limited_and_reported(demo_graded, tmp_path, monkeypatch):
    results, out, *_ = demo_graded
    report = (out / "report.txt").read_text(encoding="utf-8")
    assert "duplicate of member 김민수_demo_numpy.ipynb" in report
    assert "member bomb_demo_numpy.ipynb: skipped" in report and "limit" in report
    assert "member readme.txt: skipped (not a notebook)" in report
    assert results["김민수"].total == 8                                # cp949 name, no UTF-8 flag
    from cnncourse.grading import collect
    monkeypatch.setattr(collect, "MAX_ZIP_TOTAL_BYTES", 20_000)
    found, bad = collect.collect(DEMO / "submitted" / "lms_export.zip", ["demo_numpy"], unpack_to=tmp_path)
    assert len(found) == 2 and any("unpacks to more than 20000 bytes" in b for b in bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(s.notebook.name for s in found)


def test_old_and_odd_notebooks(demo_graded):
    results, out, *_ = demo_graded
    assert results["nbformat3"].total == 8 and "nbformat 3" in results["nbformat3"].problems[0]
    assert results["not_a_notebook"].reason == "not a notebook (no list of cells)"
    assert results["invalid_json"].reason.startswith("invalid JSON")


def test_what_the_grader_keeps_per_submission_is_capped(demo_graded):
    results, out, *_ = demo_graded
    for student in ("flood_cells", "huge_print"):
        stored = out / "results" / "demo_numpy" / f"{student}.json"
        assert stored.stat().st_size < 2_000_000, student
    flood = results["flood_cells"]
    assert len(flood.cells) <= 300 + 20 and any("code cells added" in p for p in flood.problems)


# -- a worker dies ----------------------------------------------------------------------------

def test_a_dying_worker_costs_only_its_own_submission(tmp_path, monkeypatch):
    from cnncourse.grading import pipeline
    real = pipeline.grade_submission

    def grade_or_die(task):
        if task["student"] == "victim":
            os.kill(os.getpid(), signal.SIGKILL)        # as the kernel OOM killer would
        return real(task)

    monkeypatch.setattr(pipeline, "grade_submission", grade_or_die)
    subs = tmp_path / "submitted"
    for student in ("a", "b", "victim", "c"):
        place(subs, student, FULL.read_bytes())
    with deadline(600):
        results = run_class(subs, tmp_path / "out")
    victim = results["victim"]
    assert victim.status == "not gradable" and "worker died" in victim.reason and "SIGKILL" in victim.reason
    for student in ("a", "b", "c"):
        assert results[student].total == 8, results[student].reason
    report = (tmp_path / "out" / "report.txt").read_text()
    assert [ln.split(" / ")[0] for ln in report.splitlines() if "NOT GRADABLE" in ln] == ["victim"]


# -- malformed kernel messages, one worker ---------------------------------------------------

def send(content: bytes, kind: str = "stream") -> str:
    return (f"k = get_ipython().kernel\n"
            f"k.session.send(k.iopub_socket, {kind!r}, content={content!r}, parent=k.get_parent('shell'))\n"
            "import time; time.sleep(0.5)")


def test_malformed_messages_end_only_their_submission_with_one_worker(tmp_path):
    from cnncourse.grading.cli import grade_main
    subs = tmp_path / "submitted"
    bad = {"content_list": send(b"[1, 2, 3]"),
           "stream_number": send(b'{"name": "stdout", "text": 5}'),
           "traceback_text": send(b'{"ename": "E", "evalue": "v", "traceback": "not a list"}', "error"),
           "not_json": send(b"{not json")}
    for student, cell in bad.items():
        place(subs, student, notebook(extra_before_q3=cell))
    place(subs, "huge_error", notebook(extra_before_q3='raise ValueError("e" * 10_000_000)'))
    place(subs, "fine", FULL.read_bytes())
    out = tmp_path / "out"
    with deadline(600):
        code = grade_main([str(subs), "--course-root", str(DEMO), "--out", str(out), "--workers", "1",
                           "--gradebook", str(tmp_path / "gb.db"), "--timeout", "20"])
    assert code == 0
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    assert rows["fine"]["total"] == "8" and rows["huge_error"]["total"] == "8"
    for student in bad:
        assert (rows[student]["q1"], rows[student]["q2"], rows[student]["q3"], rows[student]["q4"]) == \
            ("2", "2", "0", "0"), rows[student]
    report = (out / "report.txt").read_text()
    for student in bad:
        assert f"{student} / demo_numpy: malformed message from the kernel" in report, student
    stored = json.loads((out / "results" / "demo_numpy" / "huge_error.json").read_text())
    errors = [c["error"] for c in stored["result"]["cells"] if c["error"]]
    assert errors and all(len(e[1]) <= 2000 for e in errors)
