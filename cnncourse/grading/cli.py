"""Console scripts: cnncourse-grade (TAs), cnncourse-validate (students), cnncourse-release."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def repo_root() -> Path:
    """The course repository (the folder holding `solutions/`) of this editable install."""
    return Path(__file__).resolve().parents[2]


def _in_repo() -> bool:
    return (repo_root() / "solutions").is_dir() and (repo_root() / "grading" / "demo").is_dir()


# The demo's cheats by link. A wheel cannot hold links (it stores their targets' bytes), so a
# demo class read from the installed package gets them back in its working copy
# (`tests/test_grading_ta.py` checks this table against grading/demo/).
DEMO_LINKS = {
    "submitted/cheat_symlink_file/demo_numpy/solution.ipynb.txt": "../../../solutions/demo_numpy/demo_numpy.ipynb",
    "submitted/cheat_symlink_notebook/demo_numpy/demo_numpy.ipynb": "../../../solutions/demo_numpy/demo_numpy.ipynb",
}


def packaged_demo() -> Path | None:
    """The demo class shipped in the package (`cnncourse.grading.demo`, mapped from
    grading/demo/ at build time), or None when this install has none."""
    import importlib.resources
    try:
        folder = importlib.resources.files("cnncourse.grading.demo")
    except ModuleNotFoundError:
        return None
    marker = folder.joinpath("expected.json")   # a namespace package's files() is a MultiplexedPath
    return Path(str(marker)).parent if marker.is_file() and Path(str(marker)).is_file() else None


def demo_root() -> Path:
    """The bundled demo class: grading/demo/ of the repository, else the packaged copy."""
    repo = repo_root() / "grading" / "demo"
    if (repo / "expected.json").is_file():
        return repo
    folder = packaged_demo()
    if folder is None:
        raise FileNotFoundError("the demo class is neither in the repository (grading/demo) nor in the "
                                "installed package; reinstall cnncourse")
    return folder


def prepare_demo(source: Path, target: Path) -> Path:
    """A working copy of the demo class at `target` (replaced), its links restored."""
    import shutil
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    for name, link in DEMO_LINKS.items():
        path = target / name
        if path.exists() or path.is_symlink():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(link)
    return target


def _course_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    cwd = Path.cwd()
    return cwd if (cwd / "solutions").is_dir() else repo_root()


def grade_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnncourse-grade",
        description="Grade submissions in parallel, sandboxed, with hidden tests run by the grader.")
    parser.add_argument("submissions", help="nbgrader submitted/ folder, a flat folder or zip of "
                        "<student>_<assignment>.ipynb, or 'demo' for the bundled demo class")
    parser.add_argument("--course-root", help="folder with solutions/ (default: cwd or the repository)")
    parser.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    parser.add_argument("--student", help="(re)grade only this student")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    parser.add_argument("--out", help="output folder (default: <course>/grading/course/output)")
    parser.add_argument("--gradebook", help="nbgrader gradebook (default: <course>/grading/course/gradebook.db)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per cell (default 30)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per submission; past it the rest scores 0 (default 300)")
    parser.add_argument("--max-procs", type=int, default=64,
                        help="processes + threads per student kernel (namespace sandboxes; default 64)")
    parser.add_argument("--mem-gb", type=float, default=3.0, help="memory limit per kernel in GiB")
    parser.add_argument("--output-cap-kb", type=int, default=64, help="output kept per cell, in KiB")
    parser.add_argument("--sandbox", choices=["namespaces+uid", "namespaces", "limits-only"],
                        help="force a sandbox level (default: the strongest available)")
    parser.add_argument("--roster", help="roster CSV mapping student ids to LMS ids (with --lms)")
    parser.add_argument("--lms", choices=["canvas", "moodle"],
                        help="also write <out>/<lms>_grades.csv for the LMS's grade import (needs --roster)")
    parser.add_argument("--moodle-id", choices=["email", "idnumber", "username"], default="email",
                        help="the roster column Moodle matches users by (default email)")
    parser.add_argument("--progress-every", type=float, default=5.0,
                        help="seconds between progress lines when stderr is not a terminal (default 5)")
    args = parser.parse_args(argv)
    if (args.roster is None) != (args.lms is None):
        parser.error("--roster and --lms go together (e.g. --roster roster.csv --lms canvas)")
    from .grader import DEFAULT_BUDGET
    from .pipeline import grade

    demo = args.submissions == "demo"
    budget = args.budget if args.budget is not None else DEFAULT_BUDGET
    hide = ()
    if demo:
        try:
            course_root = demo_root()
        except FileNotFoundError as exc:
            print(f"cnncourse-grade: {exc}", file=sys.stderr)
            return 2
        if _in_repo():
            work = repo_root() / "grading" / "course"
            hide = (repo_root(),)
        else:  # an installed package: work in the current folder
            work = Path.cwd() / "cnncourse-demo"
        if any(not (course_root / name).is_symlink() for name in DEMO_LINKS):
            course_root = prepare_demo(course_root, work / "demo-class")
        submissions = course_root / "submitted"
        out = Path(args.out) if args.out else work / "demo-output"
        gradebook = Path(args.gradebook) if args.gradebook else out / "gradebook.db"
        timeout = min(args.timeout, 10.0)
        budget = min(budget, DEMO_BUDGET)
        print(f"demo class: {submissions}\n  sources {course_root / 'solutions'}\n  output  {out}")
    else:
        course_root = _course_root(args.course_root)
        submissions = Path(args.submissions)
        work = course_root / "grading" / "course"
        out = Path(args.out) if args.out else work / "output"
        gradebook = Path(args.gradebook) if args.gradebook else work / "gradebook.db"
        timeout = args.timeout
    start = time.monotonic()
    try:
        results = grade(submissions, assignments=args.assignment, workers=args.workers, out_dir=out,
                        course_root=course_root, student=args.student,
                        force=args.force or demo or args.student is not None,
                        timeout=timeout, output_cap=args.output_cap_kb * 1024,
                        mem_bytes=int(args.mem_gb * 1024**3), sandbox_level=args.sandbox,
                        gradebook=gradebook, progress=True, progress_every=args.progress_every,
                        hide=hide, budget=budget, max_procs=args.max_procs,
                        roster=args.roster, lms=args.lms, lms_identifier=args.moodle_id)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cnncourse-grade: {exc}", file=sys.stderr)
        return 2
    reused = f", reused {results.reused} unchanged" if results.reused else ""
    print(f"graded {results.graded} submission(s){reused} in {time.monotonic() - start:.1f} s -> {out}")
    if args.student is not None:
        _print_scores(results)
    code = _compare_demo(results, complete=args.student is None) if demo else 0
    _next_steps(args, results, out, gradebook, demo)
    return code


def _print_scores(results) -> None:
    from .ids import display
    for r in results:
        score = f"{r.total:g}/{r.max_points:g}" if r.status == "graded" else f"not gradable ({display(r.reason)})"
        print(f"{display(r.student)} / {r.assignment}: {score}")


def _example_id(results) -> str:
    """A student id to show in an example command: a plain one when the class has one."""
    import re
    plain = [r.student for r in results if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.@-]*", r.student)]
    return (plain or [r.student for r in results] or ["STUDENT"])[0]


def _next_steps(args, results, out: Path, gradebook: Path, demo: bool) -> None:
    """What a TA does next: where the outputs are, regrading one student, handing grades in."""
    import shlex

    from .ids import display
    subs = "demo" if demo else shlex.quote(args.submissions)
    course = "" if demo or not args.course_root else f" --course-root {shlex.quote(args.course_root)}"
    again = f"cnncourse-grade {subs}{course}" + (f" --out {shlex.quote(args.out)}" if args.out else "")
    default_db = (repo_root() / "grading" / "course" / "gradebook.db").resolve()
    export = ("nbgrader export" if gradebook.resolve() == default_db
              else f"nbgrader export --db {shlex.quote('sqlite:///' + str(gradebook.resolve()))}")
    lines = ["", "Next steps:",
             f"  outputs:    {out}/",
             "              grades.csv, question_stats.csv, histogram.png, feedback/<assignment>/,",
             "              report.txt (problems, suspicious submissions, LMS export issues)"]
    if results.lms_file is not None:
        lines.append(f"  {args.lms} file: {results.lms_file} (import it in {args.lms.capitalize()}; "
                     "see docs/GRADING.md)")
    lines += [f"  regrade one student:  {again} --student {shlex.quote(display(_example_id(results)))}",
              f"  export for an LMS:    {again} --roster roster.csv --lms canvas",
              "                        (or --lms moodle --moodle-id email|idnumber|username; unchanged"
              " submissions are reused, not regraded)",
              f"  nbgrader's export:    from the course repository, {export}",
              f"                        (nbgrader's grades.csv of the gradebook {gradebook})"]
    print("\n".join(lines))


DEMO_BUDGET = 25.0   # the demo's per-submission budget: its slow student shows the cut-off


def _compare_demo(results, complete: bool = True) -> int:
    import unicodedata

    from .ids import display
    expected = json.loads((demo_root() / "expected.json").read_text(encoding="utf-8"))
    bad = 0
    missing = sorted(set(expected) - {r.student for r in results}) if complete else []
    print(f"\n{'student':<26}{'points':>8}  expected?  note")
    for r in results:
        want = expected.get(r.student, {})
        if r.status == "graded":
            ok = want.get("scores") == r.points()
            shown = f"{r.total:g}/{r.max_points:g}"
        else:
            ok = want.get("status") == r.status
            shown = "n/g"
        bad += not ok
        note = r.reason or (r.problems[0] if r.problems else "")
        name = display(r.student)
        name = name if len(name) <= 25 else name[:22] + "..."
        pad = 26 - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)
        first, *rest = wrap_note(display(note)) or [""]
        print(f"{name}{' ' * max(pad, 1)}{shown:>8}  {'yes' if ok else 'NO '}        {first}")
        for line in rest:
            print(f"{'':<47}{line}")
    for student in missing:
        print(f"{display(student)[:25]:<26}{'-':>8}  NO         expected in expected.json, not graded")
    bad += len(missing)
    print("\nevery score as expected" if not bad else f"\n{bad} score(s) differ from expected.json")
    return 1 if bad else 0


def wrap_note(note: str, width: int = 60) -> list[str]:
    """A demo-table note as lines of at most `width` characters, broken between words (the
    whole note: never cut mid-phrase)."""
    import textwrap
    return textwrap.wrap(note, width=width, break_long_words=True, break_on_hyphens=False)


def validate_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse-validate",
                                     description="Run a notebook in a fresh kernel and show per "
                                                 "exercise whether its visible tests pass.")
    parser.add_argument("notebook")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per cell")
    args = parser.parse_args(argv)
    results = validate_notebook(args.notebook, timeout=args.timeout)
    for r in results:
        print(f"{'PASS' if r['passed'] else 'FAIL'} {r['grade_id']:<32} {r['points']:g}/{r['max_points']:g}"
              f"  {r['message']}")
    total = sum(r["points"] for r in results)
    top = sum(r["max_points"] for r in results)
    print(f"visible tests: {total:g}/{top:g} points (hidden tests decide the grade)")
    return 0 if all(r["passed"] for r in results) else 1


def validate_notebook(notebook: str | Path, timeout: float = 120.0) -> list[dict]:
    """Run `notebook` top to bottom in a fresh kernel (cwd = its folder); one dict per test cell."""
    from . import sandbox
    from .kernel import SandboxedKernel
    from .selfcheck import _test_cells
    path = Path(notebook).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    tests = {grade_id: (points, visible) for grade_id, points, visible in _test_cells(path)}
    data = json.loads(path.read_text(encoding="utf-8"))
    results = []
    with tempfile.TemporaryDirectory(prefix="cnncourse-validate-") as tmp:
        config = sandbox.SandboxConfig(level="limits-only", mem_bytes=0)
        with SandboxedKernel(Path(tmp), config, timeout=timeout, cwd=path.parent) as kernel:
            for cell in data.get("cells", []):
                if cell.get("cell_type") != "code":
                    continue
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                if grade_id in tests:
                    source = tests[grade_id][1]
                run = kernel.execute(source, timeout)
                if run.status == "died":
                    kernel.restart()
                if grade_id in tests:
                    points = tests[grade_id][0]
                    passed = run.status == "ok"
                    ename, evalue = run.error or ("", run.reason)
                    message = ("visible tests passed" if passed else "not answered yet"
                               if ename == "NotImplementedError" else f"{ename}: {evalue}".strip(": "))
                    results.append({"grade_id": grade_id, "passed": passed,
                                    "points": points if passed else 0.0, "max_points": points,
                                    "message": message[:300]})
    return results


def release_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse-release",
                                     description="Regenerate notebooks/ from solutions/.")
    parser.add_argument("assignments", nargs="*", help="default: every assignment in solutions/")
    parser.add_argument("--check", action="store_true",
                        help="only compare a fresh release with notebooks/; exit 1 listing differences")
    parser.add_argument("--course-root", help="folder with solutions/ and notebooks/")
    args = parser.parse_args(argv)
    from .release import release_differences, write_release
    root = _course_root(args.course_root)
    try:
        if args.check:
            differ = release_differences(root, args.assignments or None)
            for path in differ:
                print(f"out of date: {path}")
            if differ:
                print("run cnncourse-release to regenerate them", file=sys.stderr)
                return 1
            print("notebooks/ is up to date")
            return 0
        for path in write_release(root, assignments=args.assignments or None):
            print(f"wrote {os.path.relpath(path, root)}")
    except ValueError as exc:
        print(f"cnncourse-release: {exc}", file=sys.stderr)
        return 2
    return 0
