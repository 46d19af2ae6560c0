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
from .spec import AssignmentSpec

_NUM = re.compile(r"(\d+)")


def _natural(key: str):
    return [int(t) if t.isdigit() else t for t in _NUM.split(key)]


def _fmt(x: float) -> str:
    return f"{x:g}"


def question_keys(specs: dict[str, AssignmentSpec]) -> list[str]:
    return sorted({e.key for s in specs.values() for e in s.exercises}, key=_natural)


def result_path(out_dir: Path, assignment: str, student: str, suffix: str) -> Path:
    """results/<assignment>/<stem>.json or feedback/<assignment>/<stem>.html for a student id."""
    folder = "results" if suffix == ".json" else "feedback"
    return Path(out_dir) / folder / assignment / f"{file_stem(student)}{suffix}"


def write_grades_csv(path: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> None:
    keys = question_keys(specs)
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
    for name, spec in sorted(specs.items()):
        graded = [r for r in results if r.assignment == name and r.status == "graded"]
        for ex in spec.exercises:
            scores = [r.points().get(ex.key, 0.0) for r in graded]
            n = len(scores)
            rows.append({"assignment": name, "question": ex.key, "max_points": ex.points, "graded": n,
                         "mean": round(sum(scores) / n, 3) if n else 0.0,
                         "full_marks_pct": round(100 * sum(s == ex.points for s in scores) / n, 1) if n else 0.0,
                         "zero_pct": round(100 * sum(s == 0 for s in scores) / n, 1) if n else 0.0})
    return rows


def write_histogram(path: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    names = sorted(specs)
    fig = Figure(figsize=(5 * len(names), 3.5))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        totals = [r.total for r in results if r.assignment == name and r.status == "graded"]
        top = specs[name].max_points
        ax.hist(totals, bins=max(1, min(20, int(top) + 1)), range=(0, top), color="#4C72B0", edgecolor="white")
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


def _feedback_html(result: SubmissionResult, spec: AssignmentSpec) -> str:
    esc = html.escape
    student = esc(display(result.student))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{student} - "
             f"{esc(result.assignment)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
             "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}.ok{color:#060}.bad{color:#a00}"
             "td,th{padding:.2em .8em;text-align:left}</style></head><body>",
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
    parts.append("<h2>Your notebook as graded</h2>")
    for cell in result.cells:
        label = cell.get("grade_id") or cell.get("kind")
        parts.append(f"<h3>{esc(str(label))}</h3><pre>{esc(cell.get('source', ''))}</pre>")
        text = "".join(o.get("text", "") for o in cell.get("outputs", []))
        if text:
            parts.append(f"<pre>{esc(text)}</pre>")
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


def write_all(out_dir: Path, results: list[SubmissionResult], specs: dict[str, AssignmentSpec],
              unparseable: list[str], sandbox_line: str, log=print) -> None:
    write_grades_csv(out_dir / "grades.csv", results, specs)
    stats = question_stats(results, specs)
    with open(out_dir / "question_stats.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(stats[0]) if stats else ["assignment"])
        writer.writeheader()
        writer.writerows(stats)
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
    (out_dir / "report.txt").write_text("\n".join(header + (lines or ["no problems"])) + "\n",
                                        encoding="utf-8")
    log(f"{len(lines)} problem line(s) in {out_dir / 'report.txt'}")
