"""Grade one submission: repair it against the source, run it sandboxed, score it with trust.

`grade_submission(task)` is what a worker process runs. Per exercise:

    points = max points  iff  the visible test cell ran without error in the student's kernel
                         and  the hidden block passed in the grader (see `proxy.run_hidden`)

Locked cells (read-only and test cells) are always taken from the source notebook, test cells
without their hidden blocks, so hidden content never enters the kernel.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .kernel import KernelDied, SandboxedKernel
from .proxy import run_hidden
from .spec import AssignmentSpec, nbgrader_meta, split_hidden

MAX_RESTARTS = 3


@dataclass
class QuestionResult:
    key: str
    test_id: str
    points: float
    max_points: float
    visible_ok: bool = False
    hidden_ok: bool | None = None
    message: str = ""


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
        data = dict(data)
        data["questions"] = [QuestionResult(**q) for q in data.get("questions", [])]
        return cls(**data)


class NotGradable(Exception):
    """The submission cannot be graded at all (e.g. invalid JSON)."""


@dataclass
class RunCell:
    kind: str          # "answer", "test", "locked" or "student"
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


def repair(raw: bytes, spec: AssignmentSpec) -> tuple[list[RunCell], list[str], set[str]]:
    """(cells to run, problems found, answer grade_ids that are missing) for a raw submission."""
    try:
        data = json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotGradable(f"invalid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotGradable("not a notebook (no list of cells)")
    problems: list[str] = []
    locked = {}
    answers = set()
    for cell in spec.nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            answers.add(meta["grade_id"])
        elif meta.get("locked") or meta.get("grade"):
            locked[meta["grade_id"]] = cell
    seen_ids: set[str] = set()
    used: set[str] = set()
    out: list[RunCell] = []
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
            out.append(RunCell("student", source, None))
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


def _run_all(cells: list[RunCell], spec: AssignmentSpec, kernel: SandboxedKernel, timeout: float,
             result: SubmissionResult, missing: set[str]) -> None:
    exercises = {e.test_id: e for e in spec.exercises}
    questions = {e.test_id: QuestionResult(e.key, e.test_id, 0.0, e.points) for e in spec.exercises}
    result.questions = list(questions.values())
    skip: set[int] = set()
    restarts = 0
    index = 0
    feedback: dict[int, dict] = {}

    def restart_and_replay(upto: int) -> bool:
        # Re-run cells [0, upto) except those that killed the kernel before; False: give up.
        nonlocal restarts
        while True:
            restarts += 1
            if restarts > MAX_RESTARTS:
                return False
            kernel.restart()
            for j in range(upto):
                if j in skip:
                    continue
                if kernel.execute(cells[j].source, timeout).status == "died":
                    skip.add(j)
                    break
            else:
                return True

    while index < len(cells):
        cell = cells[index]
        if index in skip:
            index += 1
            continue
        run = kernel.execute(cell.source, timeout)
        feedback[index] = {"kind": cell.kind, "grade_id": cell.grade_id, "source": cell.source,
                           "status": run.status, "outputs": run.outputs, "truncated": run.truncated,
                           "error": list(run.error) if run.error else None,
                           "traceback": run.traceback, "reason": run.reason}
        if run.status == "died":
            skip.add(index)
            result.problems.append(f"cell {index} ({cell.grade_id or cell.kind}): {run.reason}; "
                                   "kernel restarted, cell skipped")
            if cell.kind == "test":
                questions[cell.grade_id].message = f"test cell: {run.reason}"
            if not restart_and_replay(index):
                result.problems.append(f"kernel died more than {MAX_RESTARTS} times; gave up")
                break
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
            if exercise.hidden.strip():
                try:
                    passed, message = run_hidden(exercise.hidden, kernel, spec.answer_names, timeout)
                except KernelDied as exc:
                    passed, message = False, f"hidden tests: failed (kernel died: {exc})"
                    result.problems.append(f"{exercise.key}: kernel died in hidden tests; restarted")
                    if not restart_and_replay(index + 1):
                        result.problems.append(f"kernel died more than {MAX_RESTARTS} times; gave up")
                        question.hidden_ok = False
                        break
                question.hidden_ok = passed
                if question.visible_ok or not question.message:
                    question.message = message if question.visible_ok else question.message
            answer_missing = exercise.answer_id is not None and exercise.answer_id in missing
            if answer_missing:
                question.message = "answer cell deleted"
            ok = question.visible_ok and question.hidden_ok is not False and not answer_missing
            question.points = exercise.points if ok else 0.0
        index += 1
    result.cells = [feedback[i] for i in sorted(feedback)]


def grade_submission(task: dict) -> dict:
    """Worker entry point: grade one submission described by `task`; returns a result dict.

    task keys: student, assignment, submission (path), source (path of the source notebook),
    workdir (throwaway folder), extra_files (paths copied next to the notebook), timeout,
    output_cap, sandbox (SandboxConfig fields as a dict).
    """
    started = time.monotonic()
    path = Path(task["submission"])
    raw = path.read_bytes()
    result = SubmissionResult(task["student"], task["assignment"],
                              sha256=hashlib.sha256(raw).hexdigest())
    config = sandbox.SandboxConfig(**task["sandbox"])
    result.sandbox = config.resolved_level()
    spec = _spec(task["source"], task["assignment"])
    try:
        cells, problems, missing = repair(raw, spec)
    except (NotGradable, ValueError) as exc:
        result.status, result.reason = "not gradable", str(exc)
        result.questions = [QuestionResult(e.key, e.test_id, 0.0, e.points, message="not gradable")
                            for e in spec.exercises]
        result.seconds = time.monotonic() - started
        return result.to_dict()
    result.problems.extend(problems)
    workdir = Path(task["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    for extra in task.get("extra_files", []):
        extra = Path(extra)
        if extra.is_file():
            shutil.copyfile(extra, workdir / extra.name)
    (workdir / path.name).write_bytes(raw)
    kernel = SandboxedKernel(workdir, config, timeout=task["timeout"], output_cap=task["output_cap"])
    try:
        kernel.start()
        _run_all(cells, spec, kernel, task["timeout"], result, missing)
    except KernelDied as exc:
        result.status, result.reason = "not gradable", f"kernel could not start: {exc}"
    finally:
        kernel.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return result.to_dict()


_SPECS: dict[tuple[str, str], AssignmentSpec] = {}


def _spec(source: str, assignment: str) -> AssignmentSpec:
    key = (str(source), assignment)
    if key not in _SPECS:
        _SPECS[key] = AssignmentSpec.from_source(source, assignment)
    return _SPECS[key]
