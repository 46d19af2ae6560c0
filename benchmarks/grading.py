"""Grade one generated class with plain `nbgrader autograde` and with `cnncourse-grade`; compare.

    .venv/bin/python benchmarks/grading.py [--students 40] [--workers N]

The class: N submissions of the demo assignment (grading/demo), cycling through a full
solution, a partial one and the blank release, so both graders run the same notebooks. Plain
nbgrader runs without any sandbox; cnncourse-grade runs with every protection it has here: the
strongest sandbox available (namespaces incl. IPC, private /dev/shm, process limit, own uid),
hidden tests in the grader, forbidden-name checks (static and at run time), byte-capped output,
time budget, links refused, a worker process per submission. Prints both wall times and the
ratio (target: >= 2x on 2 cores). Results go to benchmarks/results/ (ignored by git).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "grading" / "demo"
ASSIGNMENT = "demo_numpy"
TEMPLATES = ["full_marks", "partial", "blank", "cheat_allclose", "edited_locked_cell"]

NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.Execute.timeout = 30
c.Autograde.create_student = True
"""


def make_class(root: Path, n_students: int) -> Path:
    """submitted/<student>/<assignment>/<nb>.ipynb for `n_students` students; returns submitted/."""
    submitted = root / "submitted"
    for i in range(n_students):
        template = TEMPLATES[i % len(TEMPLATES)]
        src = DEMO / "submitted" / template / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target = submitted / f"student{i:03d}" / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copyfile(src, target / f"{ASSIGNMENT}.ipynb")
    return submitted


def run_nbgrader(root: Path) -> float:
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(root)))
    shutil.copytree(DEMO / "solutions", root / "source")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", ASSIGNMENT, "--force"], cwd=root, env=env,
                   check=True, capture_output=True)
    start = time.perf_counter()
    proc = subprocess.run(nbgrader + ["autograde", ASSIGNMENT, "--force"], cwd=root, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit("nbgrader autograde failed")
    return seconds


def run_cnncourse(submitted: Path, out: Path, workers: int | None) -> tuple[float, list]:
    from cnncourse.grading.pipeline import grade
    start = time.perf_counter()
    results = grade(submitted, course_root=DEMO, out_dir=out, workers=workers, force=True,
                    timeout=30, budget=300, log=lambda *a: None)
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    results_dir = REPO / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnncourse-bench-") as tmp:
        root = Path(tmp) / "nbgrader-course"
        submitted = make_class(root, args.students)
        ours_sub = Path(tmp) / "ours" / "submitted"
        shutil.copytree(submitted, ours_sub)
        t_nbgrader = run_nbgrader(root)
        t_ours, results = run_cnncourse(ours_sub, Path(tmp) / "ours" / "out", args.workers)
    from cnncourse.grading.sandbox import SandboxConfig
    from cnncourse.grading.spec import AssignmentSpec
    spec = AssignmentSpec.from_source(DEMO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    forbidden = sum(bool(e.forbidden) for e in spec.exercises)
    lines = [f"class: {args.students} submissions of {ASSIGNMENT} on {os.cpu_count()} core(s)",
             f"plain nbgrader autograde (no sandbox):  {t_nbgrader:7.1f} s",
             f"cnncourse-grade ({SandboxConfig().describe().split(' (')[0]}):  {t_ours:7.1f} s",
             f"  protections: {SandboxConfig().describe()}; hidden tests in the grader; "
             f"forbidden names watched in {forbidden} exercise(s); budget 300 s per submission; "
             "links refused; one worker process per submission",
             f"speed-up: {t_nbgrader / t_ours:.2f}x (target >= 2x)",
             f"graded: {sum(r.status == 'graded' for r in results)}/{len(results)}"]
    print("\n".join(lines))
    (results_dir / "grading.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
