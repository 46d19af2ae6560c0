"""What every widget builder shares: its text shown as HTML, and its parts as attributes."""
from __future__ import annotations

import html
from typing import Any


def pre(text: str) -> str:
    """`text` as an HTML <pre> block (escaped), for a widgets.HTML report."""
    return f"<pre style='margin:0'>{html.escape(text, quote=False)}</pre>"


def with_parts(box: Any, **parts: Any) -> Any:
    """`box` with each of `parts` set as an attribute (box.row, box.report, ...): how a notebook
    or a test reaches a widget's controls and outputs. Returns `box`."""
    for name, part in parts.items():
        setattr(box, name, part)
    return box
