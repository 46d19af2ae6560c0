"""Grade one submission: repair it against the source, run it sandboxed, score it with trust.

`grade_submission(task)` is what a worker process runs. Per exercise:

    points = max points  iff  the visible test cell ran without error in the student's kernel
                         and  the hidden block passed in the grader (see `proxy.run_hidden`)
                         and  the answer used none of the exercise's forbidden library names
                              (`forbidden`: statically in the answer cell, and at run time
                              while the hidden block ran)

Locked cells (read-only and test cells) are always taken from the source notebook, test cells
without their hidden blocks, so hidden content never enters the kernel. The submission is read
with `collect.safe_read` (never through a link), its extra files likewise; the kernel runs in a
working folder named by the pipeline (never after the student id). What the grader keeps of a
submission is capped (cells, output, error texts, problems) and its time is budgeted: past the
budget, or after a malformed message from the kernel, grading stops and the rest scores 0.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox, wire
from .collect import RefusedFile, file_kind, safe_read
from .forbidden import GRADER_INTERNALS, static_uses
from .ids import decode_name
from .kernel import KernelDied, KernelProtocolError, RemoteError, SandboxedKernel
from .proxy import BudgetExceeded, run_hidden
from .spec import AssignmentSpec, Exercise, nbgrader_meta, split_hidden

MAX_RESTARTS = 3
DEFAULT_BUDGET = 300.0             # seconds of grading per submission (cnncourse-grade --budget)
MAX_STUDENT_CELLS = 300            # code cells a student may add; more are dropped (reported)
MAX_FEEDBACK_SOURCE = 20_000       # characters of a cell's source kept for the feedback page
MAX_PROBLEMS = 60                  # problem lines kept per submission
MAX_PROBLEM_TEXT = 400
MAX_EXTRA_FILES = 50               # files copied from the student's folder ...
MAX_EXTRA_BYTES = 20 * 1024**2     # ... each at most this large ...
MAX_EXTRA_TOTAL = 100 * 1024**2    # ... and at most this much together


@dataclass
class QuestionResult:
    key: str
    test_id: str
    points: float
    max_points: float
    visible_ok: bool = False
    hidden_ok: bool | None = None
    message: str = ""
    forbidden: list[str] = field(default_factory=list)   # uses of forbidden names (scored 0)


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str = "graded"            # "graded" or "not gradable"
    reason: str = ""
    questions: list[QuestionResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sha256: str = ""
    seconds: float = 0.0
    sandbox: str = ""
    cells: list[dict] = field(default_factory=list)   # for the feedback page (capped outputs)
    origin: str = ""                  # where the submission came from (escaped path)

    @property
    def total(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def max_points(self) -> float:
        return sum(q.max_points for q in self.questions)

    def points(self) -> dict[str, float]:
        return {q.key: q.points for q in self.questions}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        known = {f.name for f in dataclasses.fields(cls)}
        q_known = {f.name for f in dataclasses.fields(QuestionResult)}
        data = {k: v for k, v in data.items() if k in known}
        data["questions"] = [QuestionResult(**{k: v for k, v in q.items() if k in q_known})
                             for q in data.get("questions", [])]
        return cls(**data)


class NotGradable(Exception):
    """The submission cannot be graded at all (e.g. invalid JSON)."""


@dataclass
class RunCell:
    kind: str          # "answer", "test", "locked", "course" (an unchanged unlocked course cell) or "student"
    source: str
    grade_id: str | None = None


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    if not isinstance(source, str):
        raise NotGradable("a cell's source is neither text nor a list of lines")
    return source


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _upgrade_v3(data: dict) -> dict:
    """An nbformat 3 notebook (worksheets of cells with `input`) as an nbformat 4 dict."""
    import nbformat
    from nbformat.v3.rwbase import rejoin_lines
    from nbformat.v4.convert import upgrade
    try:
        minor = data.get("nbformat_minor", 0)
        return upgrade(rejoin_lines(nbformat.from_dict(data)), from_version=3,
                       from_minor=minor if type(minor) is int else 0)
    except Exception as exc:  # nbformat raises many kinds on malformed v3 content
        raise NotGradable(f"nbformat 3 notebook that could not be converted ({type(exc).__name__})") from None


def repair(raw: bytes, spec: AssignmentSpec) -> tuple[list[RunCell], list[str], set[str]]:
    """(cells to run, problems found, answer grade_ids that are missing) for a raw submission."""
    try:
        data = json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotGradable(f"invalid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    problems: list[str] = []
    if isinstance(data, dict) and "worksheets" in data and "cells" not in data:
        data = _upgrade_v3(data)
        problems.append("nbformat 3 notebook (converted to nbformat 4)")
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotGradable("not a notebook (no list of cells)")
    locked = {}
    answers = set()
    for cell in spec.nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            answers.add(meta["grade_id"])
        elif meta.get("locked") or meta.get("grade"):
            locked[meta["grade_id"]] = cell
    # the course's own unlocked code cells (setup, plots): run as the student left them, but
    # labelled as course cells on the feedback page when they are unchanged
    course_code = {_norm(c.source) for c in spec.nb.cells
                   if c.cell_type == "code" and not nbgrader_meta(c).get("grade_id") and c.source.strip()}
    seen_ids: set[str] = set()
    used: set[str] = set()
    out: list[RunCell] = []
    added = 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            problems.append(f"cell {index} is not a JSON object (ignored)")
            continue
        cell_id = cell.get("id")
        if isinstance(cell_id, str):
            if cell_id in seen_ids:
                problems.append(f"duplicate cell id {cell_id!r} (graded as separate cells)")
            seen_ids.add(cell_id)
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        source = _cell_source(cell)
        if grade_id in locked and grade_id not in used:
            used.add(grade_id)
            src_cell = locked[grade_id]
            visible = split_hidden(src_cell.source)[0] if src_cell.cell_type == "code" else src_cell.source
            # a notebook built from the source still has the hidden block: that is no edit
            if (_norm(source) not in (_norm(visible), _norm(src_cell.source))
                    or cell.get("cell_type") != src_cell.cell_type):
                problems.append(f"edited locked cell {grade_id!r} (restored from the source)")
            if src_cell.cell_type == "code":
                kind = "test" if nbgrader_meta(src_cell).get("grade") else "locked"
                out.append(RunCell(kind, visible, grade_id))
            continue
        if grade_id in answers and grade_id not in used and cell.get("cell_type") == "code":
            used.add(grade_id)
            out.append(RunCell("answer", source, grade_id))
            continue
        if cell.get("cell_type") == "code":
            added += 1
            if added == MAX_STUDENT_CELLS + 1:
                problems.append(f"more than {MAX_STUDENT_CELLS} code cells added; the rest are not run")
            if added <= MAX_STUDENT_CELLS:
                out.append(RunCell("course" if _norm(source) in course_code else "student", source, None))
    # Put back deleted locked cells right after the cell that precedes them in the source.
    order = [nbgrader_meta(c).get("grade_id") for c in spec.nb.cells]
    for position, grade_id in enumerate(order):
        if grade_id not in locked or grade_id in used:
            continue
        src_cell = locked[grade_id]
        problems.append(f"deleted locked cell {grade_id!r} (restored from the source)")
        used.add(grade_id)
        if src_cell.cell_type != "code":
            continue
        previous = [g for g in order[:position] if g in used and g is not None]
        insert_at = 0
        for i, run_cell in enumerate(out):
            if run_cell.grade_id in previous:
                insert_at = i + 1
        kind = "test" if nbgrader_meta(src_cell).get("grade") else "locked"
        out.insert(insert_at, RunCell(kind, split_hidden(src_cell.source)[0], grade_id))
    missing = answers - used
    for grade_id in sorted(missing):
        problems.append(f"deleted answer cell {grade_id!r} (its exercise scores 0)")
    return out, problems, missing


class _Stop(Exception):
    """Grading of this submission ends here; the exercises not reached score 0."""


def _watch(kernel: SandboxedKernel, op: str, names: list[str], timeout: float) -> dict:
    """Run the kernel-side forbidden-name watch op; its reply must be plain and well formed."""
    reply = wire.decode(kernel.request({"op": op, "names": names}, timeout=timeout))
    if type(reply) is not dict:
        raise RemoteError("ProtocolError", "malformed watch reply")
    return reply


def _run_all(cells: list[RunCell], spec: AssignmentSpec, kernel: SandboxedKernel, timeout: float,
             result: SubmissionResult, missing: set[str], deadline: float, budget: float) -> None:
    exercises = {e.test_id: e for e in spec.exercises}
    questions = {e.test_id: QuestionResult(e.key, e.test_id, 0.0, e.points) for e in spec.exercises}
    answers = {c.grade_id: c.source for c in cells if c.kind == "answer"}
    result.questions = list(questions.values())
    skip: set[int] = set()
    restarts = 0
    index = 0
    feedback: dict[int, dict] = {}

    def left() -> float:
        return deadline - time.monotonic()

    def cell_timeout() -> float:
        if left() <= 0:
            raise _Stop(f"time budget of {budget:g} s used up")
        return min(timeout, left())

    def restart_and_replay(upto: int) -> None:
        # Re-run cells [0, upto) except those that killed the kernel before.
        nonlocal restarts
        while True:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _Stop(f"kernel died more than {MAX_RESTARTS} times; gave up")
            kernel.restart()
            for j in range(upto):
                if j in skip:
                    continue
                run = kernel.execute(cells[j].source, cell_timeout())
                if run.status == "invalid":
                    raise _Stop(run.reason)
                if run.status == "died":
                    if left() <= 0:
                        raise _Stop(f"time budget of {budget:g} s used up")
                    skip.add(j)
                    break
            else:
                return

    def hidden(exercise: Exercise, question: QuestionResult) -> None:
        names = list(exercise.forbidden)
        try:
            if names:
                info = _watch(kernel, "watch", names, cell_timeout())
                for key in ("unknown", "unwatchable"):
                    for name in info.get(key, []) if type(info.get(key)) is list else []:
                        result.problems.append(f"{exercise.key}: forbidden name {str(name)[:100]} is "
                                               f"{'not in the library' if key == 'unknown' else 'not a Python function'}"
                                               " (not watched at run time)")
            passed, message = run_hidden(exercise.hidden, kernel, spec.answer_names, timeout,
                                         deadline=deadline)
            if names:
                hits = _watch(kernel, "unwatch", names, cell_timeout()).get("hits")
                if type(hits) is not dict or not all(type(v) is int for v in hits.values()):
                    raise RemoteError("ProtocolError", "malformed watch report")
                for name, count in sorted(hits.items()):
                    if name in names and count > 0:
                        question.forbidden.append(f"called {name} {count} time(s) while the hidden "
                                                  "tests ran")
        except (RemoteError, wire.WireError) as exc:
            passed, message = False, "hidden tests: failed (the kernel did not answer the grader)"
            if names:
                question.forbidden.append(f"the grader could not watch {', '.join(names)} in your "
                                          f"kernel ({type(exc).__name__})")
        except BudgetExceeded:
            question.hidden_ok = False
            raise _Stop(f"time budget of {budget:g} s used up in the hidden tests of {exercise.key}")
        except KernelProtocolError as exc:
            question.hidden_ok = False
            raise _Stop(str(exc))
        except KernelDied as exc:
            question.hidden_ok = False
            if left() <= 0:
                raise _Stop(f"time budget of {budget:g} s used up in the hidden tests of {exercise.key}")
            passed, message = False, f"hidden tests: failed (kernel died: {exc})"
            result.problems.append(f"{exercise.key}: kernel died in hidden tests; restarted")
            question.hidden_ok = False
            restart_and_replay(index + 1)
        question.hidden_ok = passed
        if question.visible_ok or not question.message:
            question.message = message if question.visible_ok else question.message

    try:
        while index < len(cells):
            cell = cells[index]
            if index in skip:
                index += 1
                continue
            run = kernel.execute(cell.source, cell_timeout())
            feedback[index] = {"kind": cell.kind, "grade_id": cell.grade_id,
                               "source": cell.source[:MAX_FEEDBACK_SOURCE],
                               "status": run.status, "outputs": run.outputs, "truncated": run.truncated,
                               "error": list(run.error) if run.error else None,
                               "traceback": run.traceback, "reason": run.reason}
            if run.status == "invalid":
                raise _Stop(run.reason)
            if run.status == "died":
                if left() <= 0:
                    raise _Stop(f"time budget of {budget:g} s used up")
                skip.add(index)
                result.problems.append(f"cell {index} ({cell.grade_id or cell.kind}): {run.reason}; "
                                       "kernel restarted, cell skipped")
                if cell.kind == "test":
                    questions[cell.grade_id].message = f"test cell: {run.reason}"
                restart_and_replay(index)
                index += 1
                continue
            if run.error and run.error[0] == "MemoryError":
                result.problems.append(f"cell {index} ({cell.grade_id or cell.kind}): MemoryError "
                                       "(hit the memory limit)")
            if run.truncated:
                result.problems.append(f"cell {index} ({cell.grade_id or cell.kind}): output truncated "
                                       f"at {kernel.output_cap} bytes")
            if cell.kind == "test":
                question = questions[cell.grade_id]
                exercise = exercises[cell.grade_id]
                question.visible_ok = run.status == "ok"
                if not question.visible_ok:
                    ename, evalue = run.error or ("Error", "")
                    question.message = ("not answered yet" if ename == "NotImplementedError"
                                        else f"visible tests: {ename}: {evalue}"[:300])
                if exercise.forbidden and exercise.answer_id in answers:
                    question.forbidden += [f"answer cell {use}" for use in static_uses(
                        answers[exercise.answer_id], exercise.forbidden + GRADER_INTERNALS)]
                if exercise.hidden.strip() or exercise.forbidden:
                    hidden(exercise, question)
                _score(question, exercise, missing)
            index += 1
    except _Stop as stop:
        reason = str(stop)
        where = f"cell {index}" + (f" ({cells[index].grade_id or cells[index].kind})" if index < len(cells) else "")
        result.problems.append(f"{reason} at {where}; grading stopped, the rest scores 0")
        for question in questions.values():
            if question.test_id not in {c.grade_id for c in cells[:index] if c.kind == "test"}:
                question.points = 0.0
                question.message = question.message or f"not graded: {reason}"
        if index < len(cells) and cells[index].kind == "test":
            question = questions[cells[index].grade_id]
            question.points = 0.0
            question.message = f"not graded: {reason}"
    result.cells = [feedback[i] for i in sorted(feedback)]


def _score(question: QuestionResult, exercise: Exercise, missing: set[str]) -> None:
    answer_missing = exercise.answer_id is not None and exercise.answer_id in missing
    if answer_missing:
        question.message = "answer cell deleted"
    ok = question.visible_ok and question.hidden_ok is not False and not answer_missing
    if question.forbidden:
        names = ", ".join(exercise.forbidden)
        question.message = (f"uses {names}, which this exercise asks you to implement yourself: "
                            "scored 0 (a TA may overrule)")
        ok = False
    question.points = exercise.points if ok else 0.0


def _copy_student_files(folder: Path, workdir: Path, problems: list[str]) -> None:
    """Copy the regular files next to the student's notebook; refuse links and special files."""
    count = total = 0
    try:
        entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        problems.append(f"could not list the submission folder ({exc.strerror})")
        return
    for entry in entries:
        name = entry.name
        shown = decode_name(name)
        if name.endswith(".ipynb") or name == ".ipynb_checkpoints":
            continue
        info = os.lstat(entry.path)
        kind = file_kind(info.st_mode, info.st_nlink)
        if kind == "a folder":
            problems.append(f"extra folder {shown}/ not copied (only files next to the notebook are)")
            continue
        if kind:
            problems.append(f"extra file {shown} refused: it is {kind} (never followed or copied)")
            continue
        if name.startswith("."):
            problems.append(f"extra file {shown} not copied (hidden file)")
            continue
        if count >= MAX_EXTRA_FILES or total + info.st_size > MAX_EXTRA_TOTAL:
            problems.append(f"extra file {shown} not copied (more than {MAX_EXTRA_FILES} files or "
                            f"{MAX_EXTRA_TOTAL} bytes)")
            continue
        try:
            data = safe_read(entry.path, MAX_EXTRA_BYTES)
        except RefusedFile as exc:
            problems.append(f"extra file refused: {exc}")
            continue
        count += 1
        total += len(data)
        fd = os.open(workdir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def _cap(result: SubmissionResult) -> None:
    """Bound what is kept of one submission (and sent back to the pipeline)."""
    if len(result.problems) > MAX_PROBLEMS:
        extra = len(result.problems) - MAX_PROBLEMS
        result.problems = result.problems[:MAX_PROBLEMS] + [f"... and {extra} more problem line(s)"]
    result.problems = [p[:MAX_PROBLEM_TEXT] for p in result.problems]
    result.reason = result.reason[:MAX_PROBLEM_TEXT]
    for question in result.questions:
        question.message = question.message[:MAX_PROBLEM_TEXT]
        question.forbidden = [f[:MAX_PROBLEM_TEXT] for f in question.forbidden[:10]]


def grade_submission(task: dict) -> dict:
    """Worker entry point: grade one submission described by `task`; returns a result dict.

    task keys: student, assignment, submission (path), folder (the student's folder or None),
    refused (a reason, or ""), origin, source (path of the source notebook), workdir (a
    throwaway folder the pipeline named), release_files (paths copied next to the notebook),
    timeout, budget, output_cap, total_output_cap, sandbox (SandboxConfig fields as a dict).
    """
    started = time.monotonic()
    budget = float(task.get("budget", DEFAULT_BUDGET))
    result = SubmissionResult(task["student"], task["assignment"], origin=task.get("origin", ""))
    config = sandbox.SandboxConfig(**task["sandbox"])
    result.sandbox = config.resolved_level()
    spec = _spec(task["source"], task["assignment"])

    def not_gradable(reason: str) -> dict:
        result.status, result.reason = "not gradable", reason
        result.questions = [QuestionResult(e.key, e.test_id, 0.0, e.points, message="not gradable")
                            for e in spec.exercises]
        result.seconds = time.monotonic() - started
        _cap(result)
        return result.to_dict()

    if task.get("refused"):
        return not_gradable(task["refused"])
    try:
        raw = safe_read(task["submission"])
    except RefusedFile as exc:
        return not_gradable(str(exc))
    result.sha256 = hashlib.sha256(raw).hexdigest()
    try:
        cells, problems, missing = repair(raw, spec)
    except (NotGradable, ValueError, RecursionError) as exc:
        return not_gradable(str(exc) if not isinstance(exc, RecursionError) else "notebook nested too deeply")
    result.problems.extend(problems)
    workdir = Path(task["workdir"])
    workdir.mkdir(parents=True, exist_ok=False)
    kernel = SandboxedKernel(workdir, config, timeout=task["timeout"], output_cap=task["output_cap"],
                             total_output_cap=task.get("total_output_cap", 1024**2))
    try:
        for extra in task.get("release_files", []):   # the course's own data files (trusted)
            (workdir / Path(extra).name).write_bytes(Path(extra).read_bytes())
        if task.get("folder"):
            _copy_student_files(Path(task["folder"]), workdir, result.problems)
        (workdir / f"{spec.notebook}.ipynb").write_bytes(raw)
        kernel.start()
        _run_all(cells, spec, kernel, task["timeout"], result, missing, started + budget, budget)
    except KernelDied as exc:
        result.status, result.reason = "not gradable", f"kernel could not start: {exc}"
    finally:
        kernel.shutdown()
        sandbox.remove_tree(workdir)
    result.seconds = time.monotonic() - started
    _cap(result)
    return result.to_dict()


_SPECS: dict[tuple[str, str], AssignmentSpec] = {}


def _spec(source: str, assignment: str) -> AssignmentSpec:
    key = (str(source), assignment)
    if key not in _SPECS:
        _SPECS[key] = AssignmentSpec.from_source(source, assignment)
    return _SPECS[key]
