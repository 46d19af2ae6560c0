"""Grader outputs: grades.csv, question statistics (CSV + printed), histogram, report, feedback.

Feedback pages show the student's own cells with capped outputs, the visible test results and,
for hidden tests, only "passed"/"failed" with a safe kind of failure -- never hidden source.

Student ids, reasons and problem lines hold text from the submission; each output escapes it
for its format (`cnncourse.grading.ids`): grades.csv cells can never start a formula nor break a
line, report.txt lines can never be forged by a newline, HTML is escaped, file names are
`ids.file_stem`s.
"""
from __future__ import annotations

import csv
import html
import re
from pathlib import Path

from .grader import SubmissionResult
from .ids import csv_cell, display, file_stem
from .spec import AssignmentSpec, natural_key

def _fmt(x: float) -> str:
    return f"{x:g}"


def question_keys(specs: dict[str, AssignmentSpec]) -> list[str]:
    return sorted({e.key for s in specs.values() for e in s.exercises}, key=natural_key)


def result_path(out_dir: Path, assignment: str, student: str, suffix: str) -> Path:
    """results/<assignment>/<stem>.json or feedback/<assignment>/<stem>.html for a student id."""
    folder = "results" if suffix == ".json" else "feedback"
    return Path(out_dir) / folder / assignment / f"{file_stem(student)}{suffix}"


def write_grades_csv(path: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> None:
    keys = question_keys(graded_specs(results, specs))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", *keys, "total", "max_points", "status", "reason",
                         "feedback"])
        for r in results:
            points = r.points()
            graded = r.status == "graded"
            row = [csv_cell(r.student), r.assignment]
            row += [(_fmt(points[k]) if graded else "") if k in points else "" for k in keys]
            row += [_fmt(r.total) if graded else "", _fmt(specs[r.assignment].max_points), r.status,
                    csv_cell(r.reason),
                    f"feedback/{r.assignment}/{file_stem(r.student)}.html"]
            writer.writerow(row)


def question_stats(results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> list[dict]:
    """Per assignment and question: graded count, mean, max, share of full and of zero marks."""
    rows = []
    for name, spec in sorted(graded_specs(results, specs).items()):
        graded = [r for r in results if r.assignment == name and r.status == "graded"]
        for ex in spec.exercises:
            scores = [r.points().get(ex.key, 0.0) for r in graded]
            n = len(scores)
            rows.append({"assignment": name, "question": ex.key, "max_points": ex.points, "graded": n,
                         "mean": round(sum(scores) / n, 3) if n else 0.0,
                         "full_marks_pct": round(100 * sum(s == ex.points for s in scores) / n, 1) if n else 0.0,
                         "zero_pct": round(100 * sum(s == 0 for s in scores) / n, 1) if n else 0.0})
    return rows


def graded_specs(results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> dict[str, AssignmentSpec]:
    """The assignments that have at least one submission in `results` (reports show only these)."""
    present = {r.assignment for r in results}
    return {name: spec for name, spec in specs.items() if name in present}


def histogram_bins(top: float) -> list[float]:
    """Bin edges for total points 0..top: one bar centred on each integer score (up to 40
    points), else 20 equal bins."""
    import math
    top = max(float(top), 0.0)
    if top <= 40:
        return [k - 0.5 for k in range(int(math.ceil(top)) + 2)]
    return [top * k / 20 for k in range(21)]


def write_histogram(path: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> None:
    """One panel per assignment that has submissions; bars on integer scores."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    names = sorted(graded_specs(results, specs)) or sorted(specs)[:1]
    fig = Figure(figsize=(5 * max(len(names), 1), 3.5))
    axes = fig.subplots(1, len(names), squeeze=False)[0] if names else []
    for ax, name in zip(axes, names):
        totals = [r.total for r in results if r.assignment == name and r.status == "graded"]
        top = specs[name].max_points
        bins = histogram_bins(top)
        ax.hist(totals, bins=bins, color="#4C72B0", edgecolor="white")
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_title(f"{name}: total points (n={len(totals)})")
        ax.set_xlabel("points")
        ax.set_ylabel("students")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def report_lines(results: list[SubmissionResult], unparseable: list[str]) -> list[str]:
    """One line per problem: not gradable, forbidden library use, repaired notebook, killed
    kernel, unparseable or refused file. Every line is escaped: no text can start a new one."""
    lines = []
    for r in results:
        who = f"{display(r.student)} / {r.assignment}"
        if r.status != "graded":
            lines.append(f"{who}: NOT GRADABLE: {display(r.reason)}")
        for q in r.questions:
            if q.forbidden:
                lines.append(f"{who}: {q.key}: FORBIDDEN library use, scored 0 (review; a TA may "
                             f"overrule in the gradebook): {display('; '.join(q.forbidden))}")
        for problem in r.problems:
            lines.append(f"{who}: {display(problem)}")
    lines += [f"unparseable submission: {display(name)}" for name in unparseable]
    return lines


CELL_LABELS = {"answer": "your answer", "student": "a cell you added",
               "test": "course cell: tests", "locked": "course cell", "course": "course cell"}
MAX_FEEDBACK_IMAGE = 512 * 1024    # base64 characters of one plot kept on a feedback page
MAX_FEEDBACK_IMAGES = 2 * 1024**2  # ... of all plots of one page
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def cell_label(cell: dict) -> str:
    """What a feedback page calls a cell: the student's own cells vs the course's cells."""
    kind = str(cell.get("kind") or "")
    label = CELL_LABELS.get(kind, kind or "cell")
    grade_id = cell.get("grade_id")
    return f"{label} ({grade_id})" if grade_id else label


def _png_outputs(cell: dict, room: int) -> tuple[list[str], int, int]:
    """(plots of a cell as <img> tags, characters used, plots left out) within `room` characters."""
    tags, used, dropped = [], 0, 0
    for output in cell.get("outputs", []):
        png = output.get("png") if isinstance(output, dict) else None
        if not isinstance(png, str):
            continue
        if len(png) > MAX_FEEDBACK_IMAGE or used + len(png) > room or not _BASE64.fullmatch(png):
            dropped += 1
            continue
        compact = "".join(png.split())
        used += len(png)
        tags.append(f"<img alt='plot' src='data:image/png;base64,{compact}'>")
    return tags, used, dropped


def _feedback_html(result: SubmissionResult, spec: AssignmentSpec) -> str:
    esc = html.escape
    student = esc(display(result.student))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{student} - "
             f"{esc(result.assignment)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
             "pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}"
             "pre.course{background:#eef2f8}.ok{color:#060}.bad{color:#a00}"
             "h3.course{color:#456}img{max-width:100%;height:auto}"
             "td,th{padding:.2em .8em;text-align:left;vertical-align:top;overflow-wrap:anywhere}</style>"
             "</head><body>",
             f"<h1>{esc(result.assignment)}: feedback for {student}</h1>"]
    if result.status != "graded":
        parts.append(f"<p class='bad'>Not gradable: {esc(result.reason)}</p>")
    else:
        parts.append(f"<p>Total: <b>{_fmt(result.total)} / {_fmt(result.max_points)}</b></p>")
    parts.append("<table><tr><th>exercise</th><th>points</th><th>visible tests</th><th>hidden tests</th>"
                 "<th>message</th></tr>")
    for q in result.questions:
        hidden = {True: "passed", False: "failed", None: "-"}[q.hidden_ok]
        parts.append(f"<tr><td>{esc(q.key)}</td><td>{_fmt(q.points)} / {_fmt(q.max_points)}</td>"
                     f"<td>{'passed' if q.visible_ok else 'failed'}</td><td>{hidden}</td>"
                     f"<td>{esc(q.message)}</td></tr>")
    parts.append("</table>")
    flagged = [q for q in result.questions if q.forbidden]
    if flagged:
        parts.append("<h2>Library use this assignment forbids</h2><ul>" + "".join(
            f"<li>{esc(q.key)}: {esc(f)}</li>" for q in flagged for f in q.forbidden) + "</ul>")
    if result.problems:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(p)}</li>" for p in result.problems) + "</ul>")
    parts.append("<h2>Your notebook as graded</h2><p>Course cells (instructions, tests) were taken from "
                 "the course's own notebook; your answers and added cells are shown as you wrote them.</p>")
    room = MAX_FEEDBACK_IMAGES
    for cell in result.cells:
        course = cell.get("kind") in ("test", "locked", "course")
        css = " class='course'" if course else ""
        parts.append(f"<h3{css}>{esc(cell_label(cell))}</h3><pre{css}>{esc(cell.get('source', ''))}</pre>")
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if isinstance(o, dict))
        if text:
            parts.append(f"<pre>{esc(text)}</pre>")
        images, used, dropped = _png_outputs(cell, room)
        room -= used
        parts.extend(images)
        if dropped:
            parts.append(f"<p><i>[{dropped} plot(s) left out: over the size limit]</i></p>")
        if cell.get("truncated"):
            parts.append("<p><i>[output truncated]</i></p>")
        if cell.get("error"):
            ename, evalue = cell["error"]
            parts.append(f"<p class='bad'>{esc(ename)}: {esc(evalue[:500])}</p>")
        if cell.get("status") == "died":
            parts.append(f"<p class='bad'>{esc(cell.get('reason', 'kernel died'))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_feedback(out_dir: Path, result: SubmissionResult, spec: AssignmentSpec) -> Path:
    path = result_path(out_dir, result.assignment, result.student, ".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_feedback_html(result, spec), encoding="utf-8")
    return path


def similarity_lines(results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> list[str]:
    """report.txt lines flagging answers equal to the solution and groups of alike answers
    (`similarity`): information for the TA, never a score."""
    from . import similarity
    found = []
    for name, spec in sorted(graded_specs(results, specs).items()):
        solution, stubs = similarity.exercise_sources(spec)
        answers = {r.student: similarity.answers_from_result(r, spec)
                   for r in results if r.assignment == name}
        found.append(similarity.find_similar(name, answers, solution=solution, stubs=stubs))
    return similarity.report_lines(found)


def write_all(out_dir: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec],
              unparseable: list[str], sandbox_line: str, log=print,
              sections: dict[str, list[str]] | None = None) -> None:
    """Every class output from `results` (the whole class: reports are never partial).

    sections: more report.txt sections, title -> lines (e.g. an LMS export's issues).
    """
    specs = graded_specs(results, specs)
    write_grades_csv(out_dir / "grades.csv", results, specs)
    stats = question_stats(results, specs)
    with open(out_dir / "question_stats.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(stats[0]) if stats else ["assignment"])
        writer.writeheader()
        writer.writerows(stats)
    if stats:
        log(f"{'assignment':<20} {'question':<8} {'max':>5} {'graded':>6} {'mean':>6} {'full%':>6} {'zero%':>6}")
    for row in stats:
        log(f"{row['assignment']:<20} {row['question']:<8} {_fmt(row['max_points']):>5} {row['graded']:>6} "
            f"{row['mean']:>6.2f} {row['full_marks_pct']:>6.1f} {row['zero_pct']:>6.1f}")
    write_histogram(out_dir / "histogram.png", results, specs)
    for result in results:
        write_feedback(out_dir, result, specs[result.assignment])
    lines = report_lines(results, unparseable)
    graded = sum(r.status == "graded" for r in results)
    header = [sandbox_line, f"{len(results)} submission(s): {graded} graded, "
              f"{len(results) - graded} not gradable, {len(unparseable)} unparseable file(s)", ""]
    body = lines or ["no problems"]
    similar = similarity_lines(results, specs)
    body += ["", "Suspicious submissions (information for the TA, never a score):"]
    body += similar or ["none flagged"]
    for title, extra in (sections or {}).items():
        body += ["", f"{title}:"] + (extra or ["no issues"])
    (out_dir / "report.txt").write_text("\n".join(header + body) + "\n", encoding="utf-8")
    log(f"{len(lines)} problem line(s), {len(similar)} similarity flag(s) in {out_dir / 'report.txt'}")
