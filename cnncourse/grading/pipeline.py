"""The TA pipeline: collect, grade in parallel sandboxed workers, record, report.

    results = grade("grading/demo/submitted", course_root="grading/demo", out_dir="out")

Each submission is graded in a process of its own (forked, at most `workers` at a time;
`grader.grade_submission`), in a working folder named by its position in the run, never after
the student id. A worker that dies (killed, out of memory, a grader bug) costs only its own
submission, reported as not gradable; the others go on. A worker past its time budget plus a
margin is killed. The parent process is the single writer of the gradebook, the per-submission
result files and the reports. A re-run skips a submission whose result file matches the
submission's and the source's hashes (unless `force=True`).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import report, sandbox
from .collect import RefusedFile, Submission, collect, safe_read
from .grader import DEFAULT_BUDGET, SubmissionResult, grade_submission
from .ids import gradebook_id
from .report import result_path
from .spec import AssignmentSpec, find_assignments

KILL_MARGIN = 120.0   # seconds past its budget after which a worker is killed outright


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(safe_read(path)).hexdigest()
    except RefusedFile:
        return None


def _short_tmp_root() -> Path:
    # Kernel sockets live in the working folders: keep their paths far below the ~107-byte limit.
    base = tempfile.gettempdir()
    if len(base) > 40 and os.access("/tmp", os.W_OK):
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="cnncourse-grade-", dir=base))


def _alembic_head() -> str:
    """The gradebook schema's alembic head, read in this process.

    nbgrader stamps a new gradebook with the output of `alembic heads`, run as a command: a
    fresh interpreter that imports nbgrader again, seconds per run. alembic's API gives the same
    revision from the same scripts without it.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR
    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


class GradeRun(list):
    """The results of one `grade` call (a list of `SubmissionResult`), with what the run did.

    graded: submissions graded by this run; reused: unchanged submissions whose stored result
    was taken; kept: stored results of submissions outside this run's selection (`student`,
    `assignments`) merged into the class reports; lms_file: the LMS CSV written, if any.
    """
    graded: int = 0
    reused: int = 0
    kept: int = 0
    lms_file: Path | None = None
    out_dir: Path | None = None


def stored_results(out_dir: Path, assignments) -> list[SubmissionResult]:
    """Every result a previous run stored under `out_dir`/results/ for these assignments."""
    found = []
    for name in sorted(assignments):
        folder = Path(out_dir) / "results" / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                result = SubmissionResult.from_dict(data["result"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a damaged file is regraded by the next full run
            if result.assignment == name:
                found.append(result)
    return found


def export_lms(out_dir: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec],
               roster: str | Path, lms: str, identifier: str = "email") -> tuple[Path, list[str]]:
    """Write <out_dir>/<lms>_grades.csv from `results` through `roster`; (path, issue lines)."""
    from . import lms as lms_module
    entries = lms_module.read_roster(roster)
    names = sorted({r.assignment for r in results})
    if lms == "canvas":
        export = lms_module.canvas_gradebook(results, entries, assignments=names,
                                             points_possible={n: specs[n].max_points for n in names})
    elif lms == "moodle":
        export = lms_module.moodle_grades(results, entries, identifier=identifier, assignments=names)
    else:
        raise ValueError(f"lms must be 'canvas' or 'moodle', got {lms!r}")
    path = Path(out_dir) / f"{lms}_grades.csv"
    export.write(path)
    return path, lms_module.issue_lines(export.issues)


class GradebookWriter:
    """The single writer of the nbgrader gradebook: one connection, one commit per submission."""

    def __init__(self, db_url: str, specs: dict[str, AssignmentSpec]):
        # nbgrader's other tools run the `alembic` command, installed next to this interpreter.
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        import nbgrader.api
        nbgrader.api.get_alembic_version = _alembic_head
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
            student = gradebook_id(result.student)
            gb.update_or_create_student(student)
            gb.update_or_create_submission(result.assignment, student)
            for question in result.questions:
                grade = gb.find_grade(question.test_id, spec.notebook, result.assignment, student)
                if result.status == "graded":
                    grade.auto_score = question.points
                    # a forbidden-name zero is flagged so a TA reviews (and may overrule) it
                    grade.needs_manual_grade = grade.manual_score is not None or bool(question.forbidden)
                else:  # not gradable: no score at all, flagged for a human
                    grade.auto_score = None
                    grade.needs_manual_grade = True
            gb.db.commit()

    def close(self) -> None:
        self.gb.close()


def grade(submissions: str | Path, assignments: list[str] | None = None, workers: int | None = None,
          out_dir: str | Path = "grading/course/output", course_root: str | Path = ".",
          student: str | None = None, force: bool = False, timeout: float | dict = 30.0,
          output_cap: int = 64 * 1024, mem_bytes: int = 3 * 1024**3, sandbox_level: str | None = None,
          gradebook: str | Path | None = None, progress: bool = False, hide: tuple = (),
          budget: float | dict = DEFAULT_BUDGET, max_procs: int = 64, total_output_cap: int = 1024**2,
          log=print, progress_every: float = 5.0, roster: str | Path | None = None,
          lms: str | None = None, lms_identifier: str = "email") -> GradeRun:
    """Grade every submission under `submissions`; returns one result per student and assignment.

    submissions: nbgrader `submitted/` folder, flat folder or zip of <student>_<assignment>.ipynb
        (zips inside the folder are read too).
    course_root: folder holding `solutions/<assignment>/<nb>.ipynb` (the sources, hidden tests
        included) and optionally `notebooks/<assignment>/` (files shipped with the release).
    out_dir: grades.csv, question_stats.csv, histogram.png, report.txt, feedback/, results/.
    gradebook: nbgrader gradebook file (default `<out_dir>/gradebook.db`).
    hide: more folders the student kernels must not see (the course root, the submissions,
        out_dir and the gradebook's folder are always hidden).
    timeout: seconds per cell; budget: seconds per submission, after which the rest scores 0;
        either may be a dict {assignment: seconds} naming every assignment graded.
    max_procs: processes + threads per kernel; total_output_cap: output bytes kept per submission.
    student: grade only this student; assignments: only these. The class reports (grades.csv,
        statistics, histogram, report.txt, the LMS file) always cover the whole class: this run's
        results merged with the results earlier runs stored for everybody else.
    progress: False, True ("bar" on a terminal, else "lines"), "bar" or "lines" (a line on
        stderr every `progress_every` seconds with done/total and the ETA: for a pipe or a file).
    roster, lms ("canvas" or "moodle"), lms_identifier (Moodle: email, idnumber or username):
        also write <out_dir>/<lms>_grades.csv (`lms` module); its issues go into report.txt.
    Returns this run's selection (one result per submission graded or reused) as a `GradeRun`.
    """
    if (roster is None) != (lms is None):
        raise ValueError("an LMS export needs both a roster and the LMS (canvas or moodle)")
    if lms is not None and lms not in ("canvas", "moodle"):
        raise ValueError(f"lms must be 'canvas' or 'moodle', got {lms!r}")
    if roster is not None and not Path(roster).is_file():
        raise FileNotFoundError(f"no roster file at {roster}")
    course_root = Path(course_root).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    gradebook = Path(gradebook).resolve() if gradebook else out_dir / "gradebook.db"
    gradebook.parent.mkdir(parents=True, exist_ok=True)
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
    timeouts, budgets = _per_assignment("timeout", timeout, names), _per_assignment("budget", budget, names)
    specs = {name: AssignmentSpec.from_source(sources[name][0], name) for name in names}
    source_hash = {name: hashlib.sha256(sources[name][0].read_bytes()).hexdigest() for name in names}

    tmp_root = _short_tmp_root()
    try:
        found, unparseable = collect(submissions, names, unpack_to=tmp_root / "unzipped")
        if student is not None:
            found = [s for s in found if s.student == student]
        config = {"hide": [str(p) for p in {course_root, out_dir, gradebook.parent, tmp_root,
                                            *(Path(h).resolve() for h in hide),
                                            Path(submissions).resolve().parent if Path(submissions).is_file()
                                            else Path(submissions).resolve()}],
                  "level": sandbox_level, "mem_bytes": mem_bytes, "max_procs": max_procs}
        level_desc = sandbox.SandboxConfig(**config).describe()
        log(level_desc)
        if sandbox.SandboxConfig(**config).resolved_level() == "limits-only":
            log("WARNING: no sandbox is possible here; grade only trusted submissions on this machine")
        todo, done = [], []
        for sub in found:
            cached = result_path(out_dir, sub.assignment, sub.student, ".json")
            if cached.exists() and not force and not sub.refused:
                data = json.loads(cached.read_text())
                if (data.get("sha256") == _file_hash(sub.notebook)
                        and data.get("source_sha256") == source_hash[sub.assignment]
                        and data.get("result", {}).get("student") == sub.student):
                    done.append(SubmissionResult.from_dict(data["result"]))
                    continue
            todo.append(sub)
        if student is not None and not found:
            raise ValueError(f"no submission of student {student!r} for {', '.join(names)} in {submissions}")
        if done:
            log(f"{len(done)} submission(s) already graded and unchanged: their stored results are "
                "reused (use --force to regrade)")
        tasks = [_task(number, sub, sources, course_root, tmp_root, timeouts[sub.assignment],
                       budgets[sub.assignment], output_cap,
                       total_output_cap, config) for number, sub in enumerate(todo)]
        workers = max(1, min(workers or os.cpu_count() or 1, len(tasks) or 1))
        if tasks:
            log(f"grading {len(tasks)} submission(s) with {workers} worker(s)")
        else:
            log("nothing new to grade")
        # only assignments somebody submitted enter the gradebook (nbgrader export lists them all)
        writer = GradebookWriter(f"sqlite:///{gradebook}",
                                 {n: specs[n] for n in sorted({s.assignment for s in found})})
        from .grader import _SPECS  # forked workers inherit the parsed sources
        for name in names:
            _SPECS[(str(sources[name][0]), name)] = specs[name]

        def save(i: int, result: SubmissionResult) -> None:
            # Each result is stored as it arrives: an interrupted run loses nothing finished.
            target = result_path(out_dir, result.assignment, result.student, ".json")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps({"sha256": result.sha256,
                                          "source_sha256": source_hash[result.assignment],
                                          "result": result.to_dict()}))
            writer.record(result)

        mode = ("bar" if sys.stderr.isatty() else "lines") if progress is True else (progress or None)
        try:
            new_results = _run_tasks(tasks, workers, mode, save, progress_every)
        finally:
            writer.close()
        run = GradeRun(sorted(done + new_results, key=lambda r: (r.assignment, r.student)))
        run.graded, run.reused, run.out_dir = len(new_results), len(done), out_dir
        class_results = list(run)
        report_specs = dict(specs)
        if student is not None or assignments is not None:
            # A partial run: everybody else keeps the result an earlier run stored, so every
            # class output stays whole and consistent with the gradebook.
            mine = {(r.student, r.assignment) for r in run}
            others = [r for r in stored_results(out_dir, sources)
                      if (r.student, r.assignment) not in mine and len(sources[r.assignment]) == 1]
            for name in {r.assignment for r in others} - set(report_specs):
                report_specs[name] = AssignmentSpec.from_source(sources[name][0], name)
            class_results = sorted(class_results + others, key=lambda r: (r.assignment, r.student))
            run.kept = len(others)
            if others:
                log(f"class reports: {len(run)} result(s) of this run merged with {len(others)} "
                    "stored result(s) of the other submissions")
        sections = {}
        if roster is not None:
            run.lms_file, issues = export_lms(out_dir, class_results, report_specs, roster, lms,
                                              lms_identifier)
            sections[f"{lms} export {run.lms_file.name} ({len(issues)} issue(s))"] = issues
            log(f"{lms} grades for {len(class_results)} result(s) -> {run.lms_file} "
                f"({len(issues)} issue(s) listed in report.txt)")
        report.write_all(out_dir, class_results, report_specs, unparseable, level_desc, log, sections)
        return run
    finally:
        sandbox.remove_tree(tmp_root)


def _per_assignment(what: str, seconds: float | dict, names: list[str]) -> dict[str, float]:
    """{assignment: seconds} for every name in `names` from one number or a dict of them."""
    given = dict(seconds) if isinstance(seconds, dict) else {name: seconds for name in names}
    missing = sorted(set(names) - set(given))
    if missing:
        raise ValueError(f"the {what} dict has no seconds for assignment(s) {missing}")
    bad = {name: given[name] for name in names if not float(given[name]) > 0}
    if bad:
        raise ValueError(f"{what} must be positive seconds, got {bad}")
    return {name: float(given[name]) for name in names}


def _task(number: int, sub: Submission, sources: dict, course_root: Path, tmp_root: Path,
          timeout: float, budget: float, output_cap: int, total_output_cap: int, config: dict) -> dict:
    release_dir = course_root / "notebooks" / sub.assignment
    release = [str(p) for p in sorted(release_dir.iterdir())
               if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"] if release_dir.is_dir() else []
    return {"student": sub.student, "assignment": sub.assignment, "submission": str(sub.notebook),
            "folder": str(sub.folder) if sub.folder is not None else None, "refused": sub.refused,
            "origin": sub.origin, "source": str(sources[sub.assignment][0]),
            "workdir": str(tmp_root / "w" / str(number)), "release_files": release,
            "timeout": timeout, "budget": budget, "output_cap": output_cap,
            "total_output_cap": total_output_cap, "sandbox": config}


def _worker(task: dict, conn) -> None:
    """Body of a forked worker: grade one submission, send the result, exit without cleanup."""
    code = 0
    try:
        try:
            result = grade_submission(task)
        except Exception as exc:  # a grader bug costs only this submission
            result = _failed(task, f"grader error: {type(exc).__name__}: {str(exc)[:300]}").to_dict()
        conn.send(result)
        conn.close()
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's inherited state


def _failed(task: dict, reason: str) -> SubmissionResult:
    return SubmissionResult(task["student"], task["assignment"], status="not gradable",
                            reason=reason, origin=task.get("origin", ""))


def _death(proc) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _run_tasks(tasks: list[dict], workers: int, progress: str | None, on_result,
               progress_every: float = 5.0) -> list[SubmissionResult]:
    """Grade `tasks` in forked processes, at most `workers` at once; one result per task.

    progress: None, "bar" (tqdm, for a terminal) or "lines" (`ProgressLines` on stderr)."""
    if not tasks:
        return []
    context = multiprocessing.get_context("fork")
    results: list[SubmissionResult | None] = [None] * len(tasks)
    pending = list(range(len(tasks)))
    running: dict = {}      # connection -> (index, process, started)
    bar = (_progress_bar(len(tasks), True) if progress == "bar" else
           ProgressLines(len(tasks), progress_every) if progress == "lines" else None)

    def finish(i: int, result: SubmissionResult) -> None:
        results[i] = result
        on_result(i, result)
        if bar is not None:
            bar.update(1)

    try:
        while pending or running:
            while pending and len(running) < workers:
                i = pending.pop(0)
                receive, send = context.Pipe(duplex=False)
                proc = context.Process(target=_worker, args=(tasks[i], send), daemon=True)
                proc.start()
                send.close()
                running[receive] = (i, proc, time.monotonic())
            ready = multiprocessing.connection.wait(
                list(running) + [proc.sentinel for _, proc, _ in running.values()], timeout=1.0)
            for conn in list(running):
                i, proc, started = running[conn]
                task = tasks[i]
                result = None
                if conn in ready or proc.sentinel in ready:
                    try:
                        if conn.poll():
                            result = SubmissionResult.from_dict(conn.recv())
                    except (EOFError, OSError):
                        result = None
                    if result is None and proc.is_alive() and proc.sentinel not in ready:
                        continue
                    if result is None:
                        proc.join(5)
                        result = _failed(task, "the grading worker died while grading this submission "
                                               f"({_death(proc)}); the other submissions were not affected")
                elif time.monotonic() - started > task["budget"] + KILL_MARGIN:
                    proc.kill()
                    proc.join(5)
                    result = _failed(task, f"grading took more than {task['budget'] + KILL_MARGIN:.0f} s; "
                                           "the worker was stopped")
                else:
                    continue
                proc.join(5)
                conn.close()
                del running[conn]
                sandbox.remove_tree(Path(task["workdir"]))
                finish(i, result)
            if isinstance(bar, ProgressLines):
                bar.tick()
    finally:
        for conn, (_, proc, _) in running.items():
            proc.kill()
            proc.join(5)
            conn.close()
        if bar is not None:
            bar.close()
    return [r for r in results if r is not None]


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    tqdm.monitor_interval = 0  # no monitor thread: workers are forked while the bar is shown
    return tqdm(total=total, unit="nb", desc="grading", smoothing=0.1)


def _seconds(x: float) -> str:
    x = int(round(x))
    return f"{x // 3600}:{x // 60 % 60:02d}:{x % 60:02d}" if x >= 3600 else f"{x // 60}:{x % 60:02d}"


class ProgressLines:
    """Progress for a pipe or a file (`| tee`, a log over ssh): one plain line on `stream` when
    grading starts, then at most one every `every` seconds while it runs, and one at the end:

        grading: 12/40 done (30%), 0:41 elapsed, ETA 1:36
    """

    def __init__(self, total: int, every: float = 5.0, stream=None, clock=time.monotonic):
        self.total, self.every, self.done = total, max(float(every), 0.0), 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = self.last = clock()
        self._write()

    def line(self) -> str:
        elapsed = self.clock() - self.start
        text = (f"grading: {self.done}/{self.total} done ({100 * self.done // max(self.total, 1)}%), "
                f"{_seconds(elapsed)} elapsed")
        if self.done >= self.total:
            return text + ", finished"
        if self.done:
            return text + f", ETA {_seconds(elapsed / self.done * (self.total - self.done))}"
        return text + ", ETA unknown until the first submission is graded"

    def _write(self) -> None:
        self.last = self.clock()
        print(self.line(), file=self.stream, flush=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self.tick()

    def tick(self) -> None:
        if self.clock() - self.last >= self.every and self.done < self.total:
            self._write()

    def close(self) -> None:
        self._write()
