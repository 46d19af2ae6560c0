"""Student ids from the outside world: decode them, escape them per output, name files after them.

A student id comes from a folder name, a file name or a zip member: any length, any bytes (a
Korean Windows zip carries cp949), newlines, a leading ``=``. The grader keeps the id as given
(decoded to text) and never builds a path inside its working area from it; outputs show it
escaped for their format:

- `display(id)`     control characters as ``\\n``, ``\\x1b``...: text report, console, logs
- `csv_cell(text)`  `display`, and a leading ``= + - @`` (or tab, CR, ``'``) quoted with ``'``
                    so a spreadsheet never evaluates it (CSV formula injection)
- `gradebook_id(id)` what the nbgrader gradebook stores (`nbgrader export` writes it to CSV)
- `file_stem(id)`   a file name for results/ and feedback/: the id itself when it is short and
                    plain, otherwise a readable ASCII prefix and a hash of the whole id (unique)
"""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")   # "'" too: the quoting stays one-to-one


def decode_name(raw: bytes | str) -> str:
    """Text of a name read from disk or a zip: UTF-8, else cp949 (Korean Windows), else escaped.

    A str from `os.listdir` with undecodable bytes (surrogate escapes) is re-read as bytes first.
    """
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
            return raw
        except UnicodeEncodeError:
            raw = os.fsencode(raw)
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="backslashreplace")


def display(text: str) -> str:
    """`text` with control, format and line/paragraph-separator characters escaped (one line)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            code = ord(ch)
            out.append({10: "\\n", 13: "\\r", 9: "\\t"}.get(code)
                       or (f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}" if code < 65536
                           else f"\\U{code:08x}"))
        else:
            out.append(ch)
    return "".join(out)


def csv_cell(text: str) -> str:
    """A text cell for a CSV file a spreadsheet may open: one line, never a formula."""
    text = display(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def gradebook_id(student: str) -> str:
    """The id stored in the nbgrader gradebook (whose `export` writes plain CSV)."""
    return csv_cell(student)


def file_stem(student: str) -> str:
    """A file name stem for `student`, unique per id: plain short ids unchanged, others
    ``~<ascii prefix>-<16 hex of sha256(id)>`` (``~`` never starts a plain id)."""
    if _PLAIN.match(student):
        return student
    prefix = re.sub(r"[^A-Za-z0-9_.@-]+", "_", student.encode("ascii", "ignore").decode())[:40]
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"~{prefix.strip('._')}-{digest}"
