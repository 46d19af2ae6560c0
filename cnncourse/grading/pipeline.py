"""The TA pipeline: collect, grade in parallel sandboxed workers, record, report.

    results = grade("grading/demo/submitted", course_root="grading/demo", out_dir="out")

Workers grade submissions (`grader.grade_submission`); the parent process is the single
writer of the gradebook, the per-submission result files and the reports. A re-run skips a
submission whose result file matches the submission's and the source's hashes (unless
`force=True`).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from . import report, sandbox
from .collect import Submission, collect
from .grader import SubmissionResult, grade_submission
from .spec import AssignmentSpec, find_assignments


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class GradebookWriter:
    """The single writer of the nbgrader gradebook: one connection, one commit per submission."""

    def __init__(self, db_url: str, specs: dict[str, AssignmentSpec]):
        # nbgrader's Gradebook runs the `alembic` command, installed next to this interpreter.
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        from nbgrader.api import Gradebook
        from .release import source_cells_to_gradebook
        self.specs = specs
        with warnings.catch_warnings():  # nbgrader's known SQLAlchemy "not in session" noise
            warnings.simplefilter("ignore")
            with Gradebook(db_url) as gb:
                known = {a.name for a in gb.assignments}
            for name, spec in specs.items():
                if name not in known:
                    source_cells_to_gradebook(spec.nb, db_url, name, spec.notebook)
            self.gb = Gradebook(db_url)

    def record(self, result: SubmissionResult) -> None:
        spec = self.specs[result.assignment]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gb = self.gb
            gb.update_or_create_student(result.student)
            gb.update_or_create_submission(result.assignment, result.student)
            for question in result.questions:
                grade = gb.find_grade(question.test_id, spec.notebook, result.assignment, result.student)
                if result.status == "graded":
                    grade.auto_score = question.points
                    grade.needs_manual_grade = grade.manual_score is not None
                else:  # not gradable: no score at all, flagged for a human
                    grade.auto_score = None
                    grade.needs_manual_grade = True
            gb.db.commit()

    def close(self) -> None:
        self.gb.close()


def grade(submissions: str | Path, assignments: list[str] | None = None, workers: int | None = None,
          out_dir: str | Path = "grading/course/output", course_root: str | Path = ".",
          student: str | None = None, force: bool = False, timeout: float = 30.0,
          output_cap: int = 64 * 1024, mem_bytes: int = 3 * 1024**3, sandbox_level: str | None = None,
          gradebook: str | Path | None = None, progress: bool = False, hide: tuple = (),
          log=print) -> list[SubmissionResult]:
    """Grade every submission under `submissions`; returns one result per student and assignment.

    submissions: nbgrader `submitted/` folder, flat folder or zip of <student>_<assignment>.ipynb.
    course_root: folder holding `solutions/<assignment>/<nb>.ipynb` (the sources, hidden tests
        included) and optionally `notebooks/<assignment>/` (files shipped with the release).
    out_dir: grades.csv, question_stats.csv, histogram.png, report.txt, feedback/, results/.
    gradebook: nbgrader gradebook file (default `<out_dir>/gradebook.db`).
    hide: more folders the student kernels must not see (the course root, the submissions,
        out_dir and the gradebook's folder are always hidden).
    """
    course_root = Path(course_root).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    gradebook = Path(gradebook).resolve() if gradebook else out_dir / "gradebook.db"
    sources = find_assignments(course_root / "solutions")
    if not sources:
        raise FileNotFoundError(f"no source notebooks under {course_root / 'solutions'}")
    names = assignments or sorted(sources)
    unknown = sorted(set(names) - set(sources))
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; the course has {sorted(sources)}")
    for name in names:
        if len(sources[name]) != 1:
            raise ValueError(f"assignment {name} has {len(sources[name])} notebooks; one is supported")
    specs = {name: AssignmentSpec.from_source(sources[name][0], name) for name in names}
    source_hash = {name: _file_hash(sources[name][0]) for name in names}

    tmp_root = Path(tempfile.mkdtemp(prefix="cnncourse-grade-"))
    try:
        found, unparseable = collect(submissions, names, unpack_to=tmp_root / "unzipped")
        if student is not None:
            found = [s for s in found if s.student == student]
        config = {"hide": [str(p) for p in {course_root, out_dir, gradebook.parent, tmp_root,
                                            *(Path(h).resolve() for h in hide),
                                            Path(submissions).resolve().parent if Path(submissions).is_file()
                                            else Path(submissions).resolve()}],
                  "level": sandbox_level, "mem_bytes": mem_bytes}
        level_desc = sandbox.SandboxConfig(**config).describe()
        log(level_desc)
        if sandbox.SandboxConfig(**config).resolved_level() == "limits-only":
            log("WARNING: no sandbox is possible here; grade only trusted submissions on this machine")
        results_dir = out_dir / "results"
        todo, done = [], []
        for sub in found:
            cached = results_dir / sub.assignment / f"{sub.student}.json"
            if cached.exists() and not force:
                data = json.loads(cached.read_text())
                if (data.get("sha256") == _file_hash(sub.notebook)
                        and data.get("source_sha256") == source_hash[sub.assignment]):
                    done.append(SubmissionResult.from_dict(data["result"]))
                    continue
            todo.append(sub)
        if done:
            log(f"{len(done)} submission(s) already graded (use --force to regrade)")
        tasks = [_task(sub, sources, course_root, tmp_root, timeout, output_cap, config) for sub in todo]
        workers = max(1, min(workers or os.cpu_count() or 1, len(tasks) or 1))
        log(f"grading {len(tasks)} submission(s) with {workers} worker(s)")
        writer = GradebookWriter(f"sqlite:///{gradebook}", specs)

        def save(i: int, result: SubmissionResult) -> None:
            # Each result is stored as it arrives: an interrupted run loses nothing finished.
            target = results_dir / result.assignment / f"{result.student}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps({"sha256": result.sha256,
                                          "source_sha256": source_hash[result.assignment],
                                          "result": result.to_dict()}))
            writer.record(result)

        try:
            new_results = _run_tasks(tasks, workers, progress, save)
        finally:
            writer.close()
        all_results = sorted(done + new_results, key=lambda r: (r.assignment, r.student))
        if student is None:  # a single-student regrade keeps the class reports of the full run
            report.write_all(out_dir, all_results, specs, unparseable, level_desc, log)
        else:
            for result in new_results:
                report.write_feedback(out_dir, result, specs[result.assignment])
        return all_results
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def _task(sub: Submission, sources: dict, course_root: Path, tmp_root: Path, timeout: float,
          output_cap: int, config: dict) -> dict:
    extra = []
    release_dir = course_root / "notebooks" / sub.assignment
    if release_dir.is_dir():
        extra += [str(p) for p in sorted(release_dir.iterdir()) if p.is_file() and p.suffix != ".ipynb"]
    if sub.folder is not None:
        extra += [str(p) for p in sorted(sub.folder.iterdir())
                  if p.is_file() and p.suffix != ".ipynb" and p.stat().st_size < 20 * 1024**2]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{sub.student}-{sub.assignment}")
    return {"student": sub.student, "assignment": sub.assignment, "submission": str(sub.notebook),
            "source": str(sources[sub.assignment][0]), "workdir": str(tmp_root / "work" / safe),
            "extra_files": extra, "timeout": timeout, "output_cap": output_cap, "sandbox": config}


def _run_tasks(tasks: list[dict], workers: int, progress: bool, on_result) -> list[SubmissionResult]:
    if not tasks:
        return []
    bar = None
    results: list[SubmissionResult | None] = [None] * len(tasks)
    try:
        if workers == 1:
            bar = _progress_bar(len(tasks), progress)
            for i, task in enumerate(tasks):
                results[i] = SubmissionResult.from_dict(grade_submission(task))
                on_result(i, results[i])
                if bar is not None:
                    bar.update(1)
        else:
            # fork: workers start at once and need no importable __main__; the pool is created
            # before the progress bar's thread exists.
            context = multiprocessing.get_context("fork")
            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(grade_submission, task): i for i, task in enumerate(tasks)}
                bar = _progress_bar(len(tasks), progress)
                for future in cf.as_completed(futures):
                    i = futures[future]
                    try:
                        results[i] = SubmissionResult.from_dict(future.result())
                    except Exception as exc:  # a crashed worker costs only its own submission
                        task = tasks[i]
                        results[i] = SubmissionResult(task["student"], task["assignment"],
                                                      status="not gradable",
                                                      reason=f"grader error: {type(exc).__name__}: {exc}")
                    on_result(i, results[i])
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="nb", desc="grading", smoothing=0.1)
