"""Release notebooks: regenerated deterministically, no hidden tests, fail only where unanswered."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.release import release_differences, release_notebook, write_release
from cnncourse.grading.spec import AssignmentSpec, bound_names, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "grading" / "demo"
COURSES = [REPO, DEMO]
SOURCES = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(DEMO.glob("solutions/*/*.ipynb"))


def _ids(paths):
    return [f"{p.parent.name}" for p in paths]


@pytest.mark.parametrize("course", COURSES, ids=["course", "demo"])
def test_committed_release_is_up_to_date(course):
    assert release_differences(course) == [], "run cnncourse-release and commit notebooks/"


@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_release_is_deterministic_and_has_no_hidden_tests(source, tmp_path):
    nb = nbformat.read(str(source), as_version=4)
    first, second = release_notebook(nb), release_notebook(nb)
    assert nbformat.writes(first) == nbformat.writes(second)
    text = nbformat.writes(first)
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    ids = [cell.get("id") for cell in first.cells]
    assert len(ids) == len(set(ids)) and None not in ids
    assert all(not cell.get("outputs") for cell in first.cells if cell.cell_type == "code")
    for cell in first.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") or meta.get("locked"):
            assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False


def test_write_release_rejects_unknown_assignment(tmp_path):
    with pytest.raises(ValueError, match="no source notebooks"):
        write_release(DEMO, tmp_path, ["nope"])


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=_ids(SOURCES))
def test_release_fails_only_unanswered(source, tmp_path):
    """The blank release fails every test cell (what `nbgrader validate --invert` checks), and
    only because of NotImplementedError or a name an unanswered cell would have bound."""
    # The solution passing its own tests is nbval's part (the notebooks are in pytest's testpaths).
    released = tmp_path / source.name
    nbformat.write(release_notebook(nbformat.read(str(source), as_version=4)), str(released))
    for path in source.parent.iterdir():
        if path.suffix != ".ipynb" and path.is_file():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    # Which errors does the blank release raise? Only NotImplementedError or a NameError/
    # AttributeError for something an answer cell binds.
    from cnncourse.grading.kernel import SandboxedKernel
    from cnncourse.grading.sandbox import SandboxConfig
    # names the blank release cannot bind: the answers, and whatever a failing cell would bind
    unbound = set(AssignmentSpec.from_source(source).answer_names)
    nb = nbformat.read(str(released), as_version=4)
    with SandboxedKernel(tmp_path / "k", SandboxConfig(level="limits-only", mem_bytes=0),
                         timeout=120, cwd=tmp_path) as kernel:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            run = kernel.execute(cell.source)
            assert run.status != "died", run.reason
            if nbgrader_meta(cell).get("grade"):
                assert run.status == "error", f"{source.name}: {cell.get('id')} passes on the blank release"
            if run.status == "error":
                ename, evalue = run.error
                ok = ename == "NotImplementedError" or (
                    ename in ("NameError", "TypeError", "AttributeError")
                    and any(f"'{n}'" in evalue for n in unbound)) or (
                    ename == "AssertionError" and nbgrader_meta(cell).get("grade"))
                assert ok, f"{source.name}: cell {cell.get('id')} fails with {ename}: {evalue}"
                try:
                    unbound |= bound_names(cell.source)
                except SyntaxError:
                    pass


def test_release_cli_check_lists_stale_notebooks(tmp_path, capsys):
    import shutil
    from cnncourse.grading.cli import release_main
    course = tmp_path / "course"
    shutil.copytree(DEMO / "solutions", course / "solutions")
    assert release_main(["--course-root", str(course)]) == 0
    assert release_main(["--check", "--course-root", str(course)]) == 0
    released = course / "notebooks" / "demo_numpy" / "demo_numpy.ipynb"
    nb = nbformat.read(str(released), as_version=4)
    nb.cells[0].source += "\nedited by hand"
    nbformat.write(nb, str(released))
    capsys.readouterr()
    assert release_main(["--check", "--course-root", str(course)]) == 1
    assert "out of date: notebooks/demo_numpy/demo_numpy.ipynb" in capsys.readouterr().out
    assert release_main(["nope", "--course-root", str(course)]) == 2
