"""Find submissions: nbgrader layout, a flat folder or LMS zips of `<student>_<assignment>.ipynb`.

`collect(path, assignments, unpack_to)` returns `Submission`s and the lines to report; nothing
is silently dropped. A submission path is never followed: a notebook, a student folder or an
assignment folder that is a symbolic link, a hard link, a FIFO or a device is refused (the
submission is listed as not gradable with the reason), and the files are later read only through
`safe_read` (`O_NOFOLLOW`, `fstat`: a regular file with one link, within a size limit).

Student ids are kept as given (decoded: UTF-8, else cp949, else escaped bytes); no path the
grader builds is derived from them (see `cnncourse.grading.ids`). Report lines hold names as
given: every output escapes them for its format.
"""
from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .ids import decode_name

MAX_NOTEBOOK_BYTES = 50 * 1024**2      # a submitted notebook (the file) larger than this is refused
MAX_ZIP_MEMBER_BYTES = 50 * 1024**2    # one zip member, counted as it is unpacked
MAX_ZIP_TOTAL_BYTES = 2 * 1024**3      # everything unpacked from one zip


class RefusedFile(OSError):
    """A submission path that is not a plain regular file (or too large); never followed."""


@dataclass(frozen=True)
class Submission:
    student: str                 # the id as given (decoded); never used to build a path
    assignment: str
    notebook: Path               # read only through `safe_read`
    folder: Path | None = None   # nbgrader layout: the student's assignment folder (extra files)
    origin: str = ""             # where it came from (as given; outputs escape it)
    refused: str = ""            # non-empty: why the notebook is refused (not gradable)


def file_kind(mode: int, nlink: int) -> str:
    """'' for a regular file with one link, else what it is (for the refusal message)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if nlink != 1:
        return f"a hard link ({nlink} names)"
    return ""


def safe_read(path: str | Path, limit: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """The bytes of `path`, which must be a regular file with one link and at most `limit` bytes.

    Opened with O_NOFOLLOW (a symlink fails), O_NONBLOCK (a FIFO never blocks) and checked with
    fstat on the open descriptor, so what is checked is what is read. RefusedFile otherwise.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise RefusedFile(f"{decode_name(Path(path).name)} is a symbolic link (refused, not followed)") from None
        raise RefusedFile(f"cannot open {decode_name(Path(path).name)}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        kind = file_kind(info.st_mode, info.st_nlink)
        if kind:
            raise RefusedFile(f"{decode_name(Path(path).name)} is {kind} (refused)")
        if info.st_size > limit:
            raise RefusedFile(f"{decode_name(Path(path).name)} has {info.st_size} bytes, more than the "
                              f"limit of {limit}")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise RefusedFile(f"{decode_name(Path(path).name)} grew past the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _lstat_kind(path: str) -> str:
    info = os.lstat(path)
    return file_kind(info.st_mode, info.st_nlink)


def _flat_name(stem: str, assignments: list[str]) -> tuple[str, str] | None:
    # "<student>_<assignment>" with the longest assignment name that fits; LMS prefixes such as
    # "<student>_<id>_<assignment>" keep everything before the assignment as the student id.
    for assignment in sorted(assignments, key=len, reverse=True):
        for sep in ("_", "-", "."):
            suffix = sep + assignment
            if stem.endswith(suffix) and len(stem) > len(suffix):
                return stem[: -len(suffix)], assignment
    return None


def _entries(folder: str) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


def _unpack_zip(archive_path: str, label: str, assignments: list[str], target: Path, tag: str,
                found: list[Submission], bad: list[str]) -> None:
    """Notebooks of an LMS zip into `target` (as <tag>-<n>.ipynb), with limits; all else reported."""
    total = 0
    seen: dict[str, str] = {}
    with zipfile.ZipFile(archive_path) as archive:
        for index, member in enumerate(archive.infolist()):
            raw = member.filename if member.flag_bits & 0x800 else member.filename.encode("cp437")
            full = decode_name(raw)
            where = f"{label}: member {full}"
            if member.is_dir():
                continue
            name = PurePosixPath(full.replace("\\", "/")).name
            mode = member.external_attr >> 16
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                bad.append(f"{where}: skipped ({file_kind(mode, 1) or 'not a regular file'})")
                continue
            if not name.endswith(".ipynb") or name.startswith(".") or "__MACOSX/" in full:
                bad.append(f"{where}: skipped (not a notebook)")
                continue
            if member.flag_bits & 0x1:
                bad.append(f"{where}: skipped (encrypted)")
                continue
            if name in seen:
                bad.append(f"{where}: duplicate of member {seen[name]} (ignored; the first is used)")
                continue
            seen[name] = full
            if member.file_size > MAX_ZIP_MEMBER_BYTES:
                bad.append(f"{where}: skipped ({member.file_size} bytes, more than the limit of "
                           f"{MAX_ZIP_MEMBER_BYTES})")
                continue
            if total + member.file_size > MAX_ZIP_TOTAL_BYTES:
                bad.append(f"{where}: skipped (the zip unpacks to more than {MAX_ZIP_TOTAL_BYTES} bytes)")
                continue
            dest = target / f"{tag}-{index}.ipynb"
            size = 0
            too_big = False
            with archive.open(member) as src, open(dest, "wb") as dst:
                while chunk := src.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_ZIP_MEMBER_BYTES:  # the header lied about the size
                        too_big = True
                        break
                    dst.write(chunk)
            total += size
            if too_big:
                dest.unlink()
                bad.append(f"{where}: skipped (unpacks to more than {MAX_ZIP_MEMBER_BYTES} bytes)")
                continue
            parsed = _flat_name(name[: -len(".ipynb")], assignments)
            if parsed is None:
                bad.append(f"{where}: not <student>_<assignment>.ipynb for any of {assignments}")
                continue
            found.append(Submission(parsed[0], parsed[1], dest, None, origin=where))


def collect(path: str | Path, assignments: list[str], unpack_to: str | Path | None = None
            ) -> tuple[list[Submission], list[str]]:
    """(submissions, report lines) under `path` (a folder or a zip) for these assignment names.

    Zips (the `path` itself, or `*.zip` files in the folder) need `unpack_to`, a folder the
    grader owns. Refused submissions are returned with `refused` set.
    """
    path = Path(path)
    found: list[Submission] = []
    bad: list[str] = []
    zips: list[tuple[str, str]] = []
    if path.is_file() and zipfile.is_zipfile(path):
        zips.append((str(path), decode_name(path.name)))
        entries = []
    elif path.is_dir():
        entries = _entries(str(path))
    else:
        raise FileNotFoundError(f"no submissions folder or zip at {path}")
    for entry in entries:
        shown = decode_name(entry.name)
        if entry.name.startswith("."):
            continue
        kind = _lstat_kind(entry.path)
        if entry.is_dir(follow_symlinks=False):  # nbgrader layout: <student>/<assignment>/<nb>.ipynb
            student = decode_name(entry.name)
            for sub in _entries(entry.path):
                if sub.name not in assignments:
                    continue
                where = f"{shown}/{sub.name}"
                sub_kind = _lstat_kind(sub.path)
                if not sub_kind:
                    bad.append(f"{where}: a file, not an assignment folder")
                    continue
                if sub_kind != "a folder":
                    found.append(Submission(student, sub.name, Path(sub.path), None, origin=where,
                                            refused=f"assignment folder {where} is {sub_kind} (refused, "
                                                    "not followed)"))
                    continue
                notebooks = [e for e in _entries(sub.path) if e.name.endswith(".ipynb")
                             and not e.name.startswith(".")]
                if len(notebooks) != 1:
                    bad.append(f"{where}: expected one notebook, found {len(notebooks)}")
                    continue
                nb_kind = _lstat_kind(notebooks[0].path)
                origin = f"{where}/{decode_name(notebooks[0].name)}"
                found.append(Submission(student, sub.name, Path(notebooks[0].path), Path(sub.path),
                                        origin=origin,
                                        refused=f"{origin} is {nb_kind} (refused, not followed)"
                                        if nb_kind else ""))
        elif entry.name.endswith(".ipynb"):
            name = decode_name(entry.name)
            parsed = _flat_name(name[: -len(".ipynb")], assignments)
            if parsed is None:
                bad.append(f"{shown}: not <student>_<assignment>.ipynb for any of {assignments}")
                continue
            found.append(Submission(parsed[0], parsed[1], Path(entry.path), origin=shown,
                                    refused=f"{shown} is {kind} (refused, not followed)" if kind else ""))
        elif kind:
            bad.append(f"{shown}: {kind} (refused, not followed)")
        elif entry.name.endswith(".zip"):
            if not zipfile.is_zipfile(entry.path):
                bad.append(f"{shown}: not a valid zip file")
                continue
            zips.append((entry.path, shown))
        else:
            bad.append(f"{shown}: not a notebook")
    if zips:
        if unpack_to is None:
            raise ValueError("a zip of submissions needs a folder to unpack into (unpack_to)")
        target = Path(unpack_to)
        target.mkdir(parents=True, exist_ok=True)
        for number, (zip_path, label) in enumerate(zips):
            try:
                _unpack_zip(zip_path, label, assignments, target, f"z{number}", found, bad)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                bad.append(f"{label}: could not read the zip ({type(exc).__name__}: {exc})")
    seen: dict[tuple[str, str], Submission] = {}
    for sub in found:
        key = (sub.student, sub.assignment)
        if key in seen:
            bad.append(f"{sub.origin}: second submission of {sub.student}/{sub.assignment} "
                       f"(ignored; graded: {seen[key].origin})")
            continue
        seen[key] = sub
    return list(seen.values()), bad
