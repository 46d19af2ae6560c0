"""Hand grades in: Canvas's gradebook import CSV and Moodle's grade import CSV, through a roster.

The grader knows students by the id their submission carried (grades.csv's ``student``); an LMS
knows them by its own ids. A **roster** CSV, written by the TA, maps one to the other:

    student,name,canvas_id,sis_user_id,sis_login_id,section,email,idnumber,username
    kim_12345,"Kim, Minsu",4711,2024123456,kim.minsu,CNN-01,kim.minsu@uni.ac.kr,2024123456,kimm

- ``student`` (required): the id as the grader shows it (grades.csv's ``student`` column, before
  its formula quoting). Matched exactly (case and spaces count); a near miss is suggested.
- ``name``: the LMS display name, "Last, First" or "First Last" (Canvas's ``Student`` column).
- ``canvas_id`` (digits only), ``sis_user_id``, ``sis_login_id``, ``section``: Canvas's columns.
- ``email``, ``idnumber``, ``username``: what Moodle's import can identify a user by.
Header names ignore case, and spaces, ``-`` and ``_`` are alike (``SIS Login ID`` = ``sis_login_id``);
other columns are ignored; every column but ``student`` may be missing or empty. The file is
UTF-8 (a BOM is fine) or cp949 (what Korean Excel saves). A ``student`` or a non-empty LMS id
given twice is an error naming both rows (it would hand one grade to two people).

Exports (pure: they return rows and a list of issues; `LmsExport.write` writes the file):

- `canvas_gradebook(results, roster, ...)`: the CSV Canvas's Gradebook > Import reads: columns
  ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per assignment, and a
  ``Points Possible`` row under the header. Canvas matches a row by ``ID`` (its user id), else
  ``SIS User ID``, else ``SIS Login ID``, else the name; an assignment column by
  ``"<title> (<canvas assignment id>)"``, else by its exact title, else it offers to create a new
  assignment (pass ``columns={"01_backprop": "01_backprop (123456)"}`` to name them as Canvas's
  own export does). An empty cell changes nothing in Canvas.
- `moodle_grades(results, roster, identifier="email", ...)`: an identifier column (``Email
  address``, ``ID number`` or ``Username``), then one column per grade item. In Moodle's import
  choose "Map from" that column, "Map to" ``useremail``/``useridnumber``/``username``, and map
  each column to its grade item. Moodle aborts the whole import when a row names an unknown
  user, reads a row with an empty identifier as the *previous* row's user, and sets "no grade"
  for an empty cell; so rows without a safe identifier or without any grade are left out, and
  an empty cell in a written row is reported (export one assignment per file to leave other
  grades untouched).

Students the roster does not know are reported, never dropped silently; a *not gradable*
submission leaves its cell empty (never a 0) and is reported; a roster student without a
submission likewise. Text cells are escaped against CSV formula injection with
`ids.csv_cell` (the grader's one escaping rule); an LMS id that the escaping would change
cannot be matched by the LMS, so its row is left out and reported.
"""
from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .ids import csv_cell, display

if TYPE_CHECKING:
    from .grader import SubmissionResult

ROSTER_FIELDS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section",
                 "email", "idnumber", "username")
LMS_ID_FIELDS = ("canvas_id", "sis_user_id", "sis_login_id", "email", "idnumber", "username")
MAX_ROSTER_BYTES = 20 * 1024**2

CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
# Canvas's importer treats these header texts as student-information or computed columns
# (GradebookImporter: reserved names, NON_ASSIGNMENT_COLUMN_HEADERS): never an assignment name.
CANVAS_RESERVED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Integration ID",
                   "Root Account", "LastName", "FirstName")
CANVAS_NON_ASSIGNMENT = ("Current Score", "Current Points", "Current Grade", "Final Score",
                         "Final Points", "Final Grade", "Override Score", "Override Grade",
                         "Override Status")
MOODLE_IDENTIFIERS = {"email": "Email address", "idnumber": "ID number", "username": "Username"}

# issue kinds
NOT_IN_ROSTER = "not in roster"
NOT_GRADABLE = "not gradable"
NO_SUBMISSION = "no submission"
FORBIDDEN = "forbidden use"
NO_IDENTIFIER = "no identifier"
UNSAFE_IDENTIFIER = "unsafe identifier"
ESCAPED = "escaped"
EMPTY_CELL = "empty cell"
NO_POINTS = "no points possible"


@dataclass(frozen=True)
class RosterEntry:
    """One roster row: the grader's student id and that student's LMS columns ("" = unknown)."""
    student: str
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    idnumber: str = ""
    username: str = ""
    row: int = 0                 # line of the roster file (for messages)


@dataclass(frozen=True)
class Roster:
    entries: tuple[RosterEntry, ...]
    source: str = "roster"
    _by_student: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_student", {e.student: e for e in self.entries})

    def get(self, student: str) -> RosterEntry | None:
        return self._by_student.get(student)

    def suggest(self, student: str) -> str | None:
        """A roster id that differs from `student` only in case or surrounding spaces, if any."""
        folded = student.strip().casefold()
        for entry in self.entries:
            if entry.student.strip().casefold() == folded:
                return entry.student
        close = difflib.get_close_matches(student, list(self._by_student), n=1, cutoff=0.9)
        return close[0] if close else None

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(frozen=True)
class ExportIssue:
    """Something a TA must know about an export: a student left out, a cell left empty..."""
    kind: str            # one of the kinds above (NOT_IN_ROSTER, NOT_GRADABLE, ...)
    student: str         # the grader's student id ("" for a whole-assignment issue)
    assignment: str = ""
    detail: str = ""


@dataclass(frozen=True)
class LmsExport:
    lms: str                                  # "canvas" or "moodle"
    rows: tuple[tuple[str, ...], ...]         # header first; every cell already escaped
    issues: tuple[ExportIssue, ...]

    def csv_text(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(self.rows)
        return out.getvalue()

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            handle.write(self.csv_text())
        return path


# ---------------------------------------------------------------------------------------- roster

_FIELD_BY_KEY = {name.replace("_", ""): name for name in ROSTER_FIELDS}


def _field_name(header: str) -> str:
    """The roster field a header names ("SIS Login ID", "sis-login-id" -> "sis_login_id")."""
    key = re.sub(r"[\s_-]+", "", header.strip().lower())
    return _FIELD_BY_KEY.get(key, key)


def parse_roster(text: str, source: str = "roster") -> Roster:
    """A `Roster` from CSV text (format in the module docstring); ValueError naming the problem."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise ValueError(f"{source}: empty roster (a header row with a 'student' column is expected)")
    header = [_field_name(h) for h in rows[0]]
    if "student" not in header:
        raise ValueError(f"{source}: no 'student' column in the header {rows[0]!r}; expected "
                         f"columns {', '.join(ROSTER_FIELDS)}")
    duplicated = sorted({h for h in header if h in ROSTER_FIELDS and header.count(h) > 1})
    if duplicated:
        raise ValueError(f"{source}: column(s) {duplicated} appear more than once in the header")
    index = {name: header.index(name) for name in ROSTER_FIELDS if name in header}
    entries: list[RosterEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            raise ValueError(f"{source}, row {line}: {len(row)} cells but the header has {len(header)}")
        values = {name: row[i].strip() if i < len(row) else "" for name, i in index.items()}
        if not values["student"]:
            raise ValueError(f"{source}, row {line}: empty 'student' cell")
        if values.get("canvas_id") and not values["canvas_id"].isdigit():
            raise ValueError(f"{source}, row {line}: canvas_id {values['canvas_id']!r} is not a "
                             "Canvas user id (digits only)")
        for name in ("student", *LMS_ID_FIELDS):
            value = values.get(name, "")
            if not value:
                continue
            key = (name, value.casefold() if name == "email" else value)
            if key in seen:
                raise ValueError(f"{source}, rows {seen[key]} and {line}: the same {name} "
                                 f"{value!r} (one LMS user would get two students' grades)")
            seen[key] = line
        entries.append(RosterEntry(**values, row=line))
    return Roster(tuple(entries), source)


def read_roster(path: str | Path) -> Roster:
    """`parse_roster` of a file: UTF-8 (with or without BOM), else cp949 (Korean Excel)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > MAX_ROSTER_BYTES:
        raise ValueError(f"{path}: {len(data)} bytes is more than a roster needs ({MAX_ROSTER_BYTES})")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError(f"{path}: neither UTF-8 nor cp949 text; save the roster as CSV UTF-8")
    return parse_roster(text, str(path))


# ------------------------------------------------------------------------------------- the table

def _number(x: float) -> str:
    """Points as a plain decimal (no exponent, at most 4 decimals): 7.5 -> '7.5', 8.0 -> '8'."""
    text = f"{round(float(x), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _table(results: Iterable[SubmissionResult], roster: Roster, assignments: Sequence[str] | None
           ) -> tuple[list[str], dict[tuple[str, str], str], list[ExportIssue], dict]:
    """(assignments, {(student, assignment): points text or ""}, issues, results by key)."""
    results = list(results)
    by_key: dict[tuple[str, str], SubmissionResult] = {}
    for r in results:
        key = (r.student, r.assignment)
        if key in by_key:
            raise ValueError(f"two results for student {display(r.student)!r} in {r.assignment}; "
                             "pass one result per student and assignment")
        by_key[key] = r
    names = list(assignments) if assignments is not None else sorted({r.assignment for r in results})
    if len(set(names)) != len(names):
        raise ValueError(f"assignments {names} name one assignment twice")
    issues: list[ExportIssue] = []
    cells: dict[tuple[str, str], str] = {}
    unknown: dict[str, list[str]] = {}
    for (student, assignment), r in sorted(by_key.items()):
        if assignment not in names:
            continue
        if roster.get(student) is None:
            unknown.setdefault(student, []).append(assignment)
            continue
        if r.status != "graded":
            cells[(student, assignment)] = ""
            issues.append(ExportIssue(NOT_GRADABLE, student, assignment,
                                      f"cell left empty (not a 0): {r.reason}"))
            continue
        cells[(student, assignment)] = _number(r.total)
        flagged = [q.key for q in r.questions if q.forbidden]
        if flagged:
            issues.append(ExportIssue(FORBIDDEN, student, assignment,
                                      f"{', '.join(flagged)} scored 0 for forbidden library use, "
                                      "pending TA review; exported as graded"))
    for student, missing in sorted(unknown.items()):
        hint = roster.suggest(student)
        issues.append(ExportIssue(NOT_IN_ROSTER, student, ", ".join(missing),
                                  "not written: add the student to the roster"
                                  + (f" (the roster has {display(hint)!r})" if hint else "")))
    for entry in roster.entries:
        for assignment in names:
            if (entry.student, assignment) not in cells:
                cells[(entry.student, assignment)] = ""
                issues.append(ExportIssue(NO_SUBMISSION, entry.student, assignment, "cell left empty"))
    return names, cells, issues, by_key


def _unsafe(entry: RosterEntry, fields: Sequence[str]) -> list[str]:
    """LMS id fields of `entry` that formula escaping would change (the LMS could not match them)."""
    return [f for f in fields if getattr(entry, f) and csv_cell(getattr(entry, f)) != getattr(entry, f)]


def _headers(names: Sequence[str], columns: Mapping[str, str] | None) -> list[str]:
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(names))
    if unknown:
        raise ValueError(f"columns given for assignment(s) {unknown} that are not exported ({list(names)})")
    headers = [columns.get(n, n) for n in names]
    for header in headers:
        if not header.strip() or csv_cell(header) != header:
            raise ValueError(f"column name {header!r} is empty or starts like a formula")
    if len(set(headers)) != len(headers):
        raise ValueError(f"two assignments get the same column name: {headers}")
    return headers


def canvas_gradebook(results: Iterable[SubmissionResult], roster: Roster, *,
                     assignments: Sequence[str] | None = None,
                     points_possible: Mapping[str, float] | None = None,
                     columns: Mapping[str, str] | None = None) -> LmsExport:
    """Canvas's gradebook import CSV: one row per roster student, one column per assignment.

    results: the grader's results (any assignments; one per student and assignment).
    assignments: the assignment columns, in order (default: those in `results`, sorted).
    points_possible: assignment -> max points for the ``Points Possible`` row (default: the
        results' own max points), e.g. ``{n: s.max_points for n, s in specs.items()}``.
    columns: assignment -> Canvas column header, e.g. ``"01_backprop (123456)"`` to target the
        Canvas assignment with id 123456 (default: the assignment name, matched by title).
    """
    names, cells, issues, by_key = _table(results, roster, assignments)
    headers = _headers(names, columns)
    for header in headers:
        if header.strip() in CANVAS_RESERVED or any(word in header for word in CANVAS_NON_ASSIGNMENT):
            raise ValueError(f"column name {header!r} is one Canvas reads as a student or total "
                             "column, not an assignment; pass another in columns=")
    points_row = [CANVAS_POINTS_ROW, "", "", "", ""]
    for name in names:
        if points_possible is not None and name in points_possible:
            points_row.append(_number(points_possible[name]))
            continue
        maxima = {r.max_points for (_, a), r in by_key.items() if a == name and r.questions}
        points_row.append(_number(max(maxima)) if maxima else "")
        if len(maxima) != 1:
            issues.append(ExportIssue(NO_POINTS, "", name, "no points possible given"
                                      + ("; results disagree, the largest is used" if maxima else
                                         "; the cell is left empty")))
    rows = [tuple([*CANVAS_STUDENT_COLUMNS, *headers]), tuple(points_row)]
    ids = ("canvas_id", "sis_user_id", "sis_login_id")
    for entry in roster.entries:
        unsafe = _unsafe(entry, ids)
        if unsafe:
            issues.append(ExportIssue(UNSAFE_IDENTIFIER, entry.student, "",
                                      f"row not written: {', '.join(unsafe)} starts like a formula or "
                                      "holds a control character, which Canvas could not match"))
            continue
        if not any(getattr(entry, f) for f in ids):
            if not entry.name:
                issues.append(ExportIssue(NO_IDENTIFIER, entry.student, "",
                                          "row not written: the roster gives no name and no Canvas id"))
                continue
            issues.append(ExportIssue(NO_IDENTIFIER, entry.student, "",
                                      "no canvas_id, sis_user_id or sis_login_id: Canvas matches "
                                      "this row by name only"))
        for f in ("name", "section"):
            value = getattr(entry, f)
            if value and csv_cell(value) != value:
                issues.append(ExportIssue(ESCAPED, entry.student, "",
                                          f"{f} escaped against formula injection (written with a "
                                          "leading ' or escaped control characters)"))
        rows.append(tuple([csv_cell(entry.name), entry.canvas_id, entry.sis_user_id,
                           entry.sis_login_id, csv_cell(entry.section),
                           *(cells[(entry.student, n)] for n in names)]))
    return LmsExport("canvas", tuple(rows), tuple(issues))


def moodle_grades(results: Iterable[SubmissionResult], roster: Roster, *, identifier: str = "email",
                  assignments: Sequence[str] | None = None,
                  columns: Mapping[str, str] | None = None) -> LmsExport:
    """Moodle's grade import CSV: an identifier column, then one column per grade item.

    identifier: the roster field Moodle identifies users by: ``email`` (map to useremail),
        ``idnumber`` (useridnumber) or ``username`` (username).
    assignments, columns: as for `canvas_gradebook` (columns name the grade items' headers).
    Rows without the identifier, with one the escaping would change, or without any grade are
    left out (Moodle would abort, misattribute or clear); each is reported.
    """
    if identifier not in MOODLE_IDENTIFIERS:
        raise ValueError(f"identifier must be one of {sorted(MOODLE_IDENTIFIERS)}, got {identifier!r}")
    names, cells, issues, _ = _table(results, roster, assignments)
    headers = _headers(names, columns)
    rows = [tuple([MOODLE_IDENTIFIERS[identifier], *headers])]
    for entry in roster.entries:
        value = getattr(entry, identifier)
        if not value:
            issues.append(ExportIssue(NO_IDENTIFIER, entry.student, "",
                                      f"row not written: the roster gives no {identifier} (Moodle "
                                      "would give an empty-identifier row to the row before it)"))
            continue
        if _unsafe(entry, (identifier,)):
            issues.append(ExportIssue(UNSAFE_IDENTIFIER, entry.student, "",
                                      f"row not written: its {identifier} starts like a formula or "
                                      "holds a control character, which Moodle could not match"))
            continue
        grades = [cells[(entry.student, n)] for n in names]
        if not any(grades):
            issues.append(ExportIssue(EMPTY_CELL, entry.student, ", ".join(names),
                                      "row not written: no grade to hand in (Moodle would set "
                                      "'no grade' over an existing one)"))
            continue
        for name, grade in zip(names, grades):
            if not grade:
                issues.append(ExportIssue(EMPTY_CELL, entry.student, name,
                                          "empty cell: Moodle's import sets 'no grade' for it; export "
                                          "one assignment per file to leave that grade untouched"))
        rows.append(tuple([value, *grades]))
    return LmsExport("moodle", tuple(rows), tuple(issues))


def issue_lines(issues: Iterable[ExportIssue]) -> list[str]:
    """One report line per issue; student ids, reasons and names escaped (no line can be forged)."""
    lines = []
    for issue in issues:
        who = display(issue.student) if issue.student else "(all students)"
        where = f" / {display(issue.assignment)}" if issue.assignment else ""
        lines.append(f"{who}{where}: {issue.kind.upper()}: {display(issue.detail)}")
    return lines
