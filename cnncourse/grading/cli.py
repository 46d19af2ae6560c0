"""Console scripts: cnncourse-grade (TAs), cnncourse-validate (students), cnncourse-release."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def repo_root() -> Path:
    """The course repository (the folder holding `solutions/`) of this editable install."""
    return Path(__file__).resolve().parents[2]


def _in_repo() -> bool:
    return (repo_root() / "solutions").is_dir() and (repo_root() / "grading" / "demo").is_dir()


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
    if args.submissions == "demo":
        return _grade_demo(args)
    from .pipeline import grade

    course_root = _course_root(args.course_root)
    work = course_root / "grading" / "course"
    out = Path(args.out) if args.out else work / "output"
    gradebook = Path(args.gradebook) if args.gradebook else work / "gradebook.db"
    start = time.monotonic()
    try:
        results = grade(Path(args.submissions), assignments=args.assignment, course_root=course_root,
                        student=args.student, force=args.force or args.student is not None,
                        timeout=args.timeout, budget=_budget(args), out_dir=out,
                        gradebook=gradebook, **_grade_options(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"cnncourse-grade: {exc}", file=sys.stderr)
        return 2
    reused = f", reused {results.reused} unchanged" if results.reused else ""
    print(f"graded {results.graded} submission(s){reused} in {time.monotonic() - start:.1f} s -> {out}")
    if args.student is not None:
        _print_scores(results)
    _next_steps(args, results, out, gradebook, demo=False)
    return 0


def _grade_options(args) -> dict:
    """The keyword arguments of `pipeline.grade` that the command line sets the same way for
    a class and for the demo."""
    return dict(workers=args.workers, output_cap=args.output_cap_kb * 1024,
                mem_bytes=int(args.mem_gb * 1024**3), sandbox_level=args.sandbox, progress=True,
                progress_every=args.progress_every, max_procs=args.max_procs,
                roster=args.roster, lms=args.lms, lms_identifier=args.moodle_id)


def _budget(args) -> float:
    from .grader import DEFAULT_BUDGET
    return args.budget if args.budget is not None else DEFAULT_BUDGET


def _grade_demo(args) -> int:
    """`cnncourse-grade demo`: the demo class's demo_numpy and, where the course's solutions
    are at hand, the course's own assignments (`democlass`), graded into one output folder and
    gradebook; every score is compared with what the demo expects. Exit 1 when one differs."""
    from . import democlass
    from .pipeline import grade

    course = Path(args.course_root) if args.course_root else repo_root()
    if not (course / "solutions").is_dir():
        if args.course_root:
            print(f"cnncourse-grade: no solutions/ in {course}", file=sys.stderr)
            return 2
        course = None   # an installed package: the demo class alone
    work = repo_root() / "grading" / "course" if _in_repo() else Path.cwd() / "cnncourse-demo"
    try:
        demo = democlass.build_demo(democlass.demo_root(repo_root()), work / "demo-class", course,
                                    args.assignment)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cnncourse-grade: {exc}", file=sys.stderr)
        return 2
    if args.student is not None and all(student != args.student for student, _ in demo.expected):
        print(f"cnncourse-grade: the demo has no student {args.student!r}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else work / "demo-output"
    if args.out is None and args.student is None and out.is_dir():
        # the demo owns its default output: a new run (whose class may differ) starts clean,
        # while --student keeps the rest of the class for the class reports
        shutil.rmtree(out)
    gradebook = Path(args.gradebook) if args.gradebook else out / "gradebook.db"
    print(f"demo class: {demo.folder / 'submitted'}\n  sources {demo.folder / 'solutions'}\n  output  {out}")
    print(demo.describe())
    timeouts, budgets = demo.limits(args.timeout, _budget(args))
    # the course copy inside the repository, and the course the demo was made from, stay hidden
    hide = tuple(p for p in (repo_root() if _in_repo() else None, course) if p is not None)
    start = time.monotonic()
    try:
        results = grade(demo.folder / "submitted", assignments=args.assignment, course_root=demo.folder,
                        student=args.student, force=True, timeout=timeouts, budget=budgets,
                        out_dir=out, gradebook=gradebook, hide=hide, **_grade_options(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"cnncourse-grade: {exc}", file=sys.stderr)
        return 2
    print(f"graded {results.graded} submission(s) in {time.monotonic() - start:.1f} s -> {out}")
    if args.student is not None:
        _print_scores(results)
    bad = demo.compare(results, student=args.student)
    _next_steps(args, results, out, gradebook, demo=True)
    return 1 if bad else 0


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
    course = "" if not args.course_root else f" --course-root {shlex.quote(args.course_root)}"
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
