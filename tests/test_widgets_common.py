"""The pieces every widget builder shares (cnncourse.widgets._common)."""
from types import SimpleNamespace

from cnncourse.widgets._common import pre, with_parts


def test_pre_escapes_what_html_would_read_as_markup():
    assert pre("a < b & c > d") == "<pre style='margin:0'>a &lt; b &amp; c &gt; d</pre>"
    assert pre("'quoted' \"text\"").count("&") == 0          # quotes stay readable inside <pre>


def test_with_parts_sets_attributes_and_returns_the_box():
    box = SimpleNamespace()
    assert with_parts(box, row=1, report="r") is box
    assert (box.row, box.report) == (1, "r")
