"""Find submissions: nbgrader layout, a flat folder or an LMS zip of `<student>_<assignment>.ipynb`.

`collect(path, assignments)` returns `Submission`s and the names it could not parse, so the TA
can fix them; nothing is silently dropped.
"""
from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@dataclass(frozen=True)
class Submission:
    student: str
    assignment: str
    notebook: Path
    folder: Path | None = None   # the student's submission folder (extra files), nbgrader layout only


def _flat_name(stem: str, assignments: list[str]) -> tuple[str, str] | None:
    # "<student>_<assignment>" with the longest assignment name that fits; LMS prefixes such as
    # "<student>_<id>_<assignment>" keep everything before the assignment as the student id.
    for assignment in sorted(assignments, key=len, reverse=True):
        for sep in ("_", "-", "."):
            suffix = sep + assignment
            if stem.endswith(suffix) and len(stem) > len(suffix):
                student = stem[: -len(suffix)]
                if _STUDENT.match(student):
                    return student, assignment
    return None


def collect(path: str | Path, assignments: list[str], unpack_to: str | Path | None = None
            ) -> tuple[list[Submission], list[str]]:
    """(submissions, unparseable names) under `path` for the given assignment names."""
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        if unpack_to is None:
            raise ValueError("a zip of submissions needs a folder to unpack into (unpack_to)")
        target = Path(unpack_to)
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                name = Path(member.filename).name
                if member.is_dir() or not name.endswith(".ipynb") or name.startswith("."):
                    continue
                with archive.open(member) as src, open(target / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
        path = target
    if not path.is_dir():
        raise FileNotFoundError(f"no submissions folder or zip at {path}")
    found: list[Submission] = []
    bad: list[str] = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():  # nbgrader layout: <student>/<assignment>/<nb>.ipynb
            for assignment_dir in sorted(p for p in entry.iterdir() if p.is_dir()):
                if assignment_dir.name not in assignments:
                    continue
                notebooks = sorted(assignment_dir.glob("*.ipynb"))
                if len(notebooks) != 1:
                    bad.append(f"{assignment_dir}: expected one notebook, found {len(notebooks)}")
                    continue
                found.append(Submission(entry.name, assignment_dir.name, notebooks[0], assignment_dir))
        elif entry.suffix == ".ipynb":
            parsed = _flat_name(entry.stem, assignments)
            if parsed is None:
                bad.append(f"{entry.name}: not <student>_<assignment>.ipynb for any of {assignments}")
                continue
            found.append(Submission(parsed[0], parsed[1], entry))
        else:
            bad.append(f"{entry.name}: not a notebook")
    seen: dict[tuple[str, str], Submission] = {}
    for sub in found:
        key = (sub.student, sub.assignment)
        if key in seen:
            bad.append(f"{sub.notebook}: second submission of {sub.student}/{sub.assignment} (ignored)")
            continue
        seen[key] = sub
    return list(seen.values()), bad
