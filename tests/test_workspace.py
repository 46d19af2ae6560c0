"""The student workspace: created from the release, updated without losing a student's work."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from cnncourse.grading.workspace import (START_PAGE, UPDATES, course_map, progress, start_page,
                                         sync_workspace)

REPO = Path(__file__).resolve().parents[1]
DEMO_RELEASE = REPO / "grading" / "demo" / "notebooks"


def _release(tmp_path: Path) -> Path:
    release = tmp_path / "notebooks"
    shutil.copytree(DEMO_RELEASE, release)
    return release


def _touch_release(release: Path, text: str) -> Path:
    path = release / "demo_numpy" / "demo_numpy.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[0].source += f"\n{text}"
    nbformat.write(nb, str(path))
    return path


def test_first_start_copies_the_release_and_writes_the_start_page(tmp_path):
    release = _release(tmp_path)
    actions = sync_workspace(release, tmp_path / "ws")
    assert [(a.path, a.action) for a in actions] == [("demo_numpy/demo_numpy.ipynb", "added")]
    copy = tmp_path / "ws" / "demo_numpy" / "demo_numpy.ipynb"
    assert copy.read_bytes() == (release / "demo_numpy" / "demo_numpy.ipynb").read_bytes()
    page = nbformat.read(str(tmp_path / "ws" / START_PAGE), as_version=4)
    nbformat.validate(page)
    assert "(demo_numpy/demo_numpy.ipynb)" in page.cells[0].source   # a link to the notebook


def test_untouched_notebooks_are_updated_and_answered_ones_kept(tmp_path):
    release = _release(tmp_path)
    ws = tmp_path / "ws"
    sync_workspace(release, ws)
    _touch_release(release, "release 2")
    actions = sync_workspace(release, ws)
    assert [a.action for a in actions] == ["updated"]
    assert "release 2" in (ws / "demo_numpy" / "demo_numpy.ipynb").read_text()

    # The student answers: their copy differs from what was copied. A new release keeps it.
    mine = ws / "demo_numpy" / "demo_numpy.ipynb"
    nb = nbformat.read(str(mine), as_version=4)
    nb.cells[-1].source += "\n# my work"
    nbformat.write(nb, str(mine))
    before = mine.read_bytes()
    _touch_release(release, "release 3")
    actions = sync_workspace(release, ws)
    assert [a.action for a in actions] == ["kept"]
    assert mine.read_bytes() == before
    assert "release 3" in (ws / UPDATES / "demo_numpy" / "demo_numpy.ipynb").read_text()
    assert sync_workspace(release, ws)[0].action == "kept"   # and again: still never overwritten


def test_an_edited_start_page_is_kept(tmp_path):
    release = _release(tmp_path)
    ws = tmp_path / "ws"
    sync_workspace(release, ws)
    (ws / START_PAGE).write_text((ws / START_PAGE).read_text().replace("Start here", "Mine"))
    sync_workspace(release, ws)
    assert "Mine" in (ws / START_PAGE).read_text()


def test_course_map_lists_every_released_notebook_in_order():
    infos = course_map(REPO / "notebooks")
    paths = [i.path for i in infos]
    assert paths == sorted(paths) and len(paths) == len(list((REPO / "notebooks").glob("*/*.ipynb")))
    assert all(i.title and i.exercises > 0 and i.points > 0 for i in infos)
    page = start_page(REPO / "notebooks")
    for info in infos:
        assert f"]({info.path})" in page.cells[0].source


def test_progress_reads_saved_test_cells(tmp_path, capsys):
    release = _release(tmp_path)
    ws = tmp_path / "ws"
    sync_workspace(release, ws)
    path = ws / "demo_numpy" / "demo_numpy.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[0].execution_count = 3                         # ran, no error: passed
    tests[1].execution_count = 4                         # ran with an error: failed
    tests[1].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    nbformat.write(nb, str(path))
    [result] = progress(ws)
    assert (result.passed, result.failed, result.not_run) == (1, 1, len(tests) - 2)
    assert result.points == float(tests[0].metadata["nbgrader"]["points"])
    assert "course so far" in capsys.readouterr().out


def test_cli_creates_and_reports(tmp_path):
    release = _release(tmp_path)
    cmd = [str(Path(sys.executable).parent / "cnncourse-workspace"), str(tmp_path / "ws"),
           "--release", str(release)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "added" in first.stdout and START_PAGE in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "1 unchanged" in second.stdout
    missing = subprocess.run(cmd[:2] + ["--release", str(tmp_path / "nope")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 2 and "cnncourse-release" in missing.stdout
    state = json.loads((tmp_path / "ws" / ".cnncourse-workspace.json").read_text())
    assert "demo_numpy/demo_numpy.ipynb" in state["copied"]


def test_solved_notebooks_mirror_for_self_study(tmp_path):
    from cnncourse.grading.workspace import SOLVED, mirror_solved
    ws = tmp_path / "ws"
    first = mirror_solved(REPO / "grading" / "demo" / "solutions", ws)
    assert [p.relative_to(ws / SOLVED).as_posix() for p in first] == ["demo_numpy/demo_numpy.ipynb"]
    assert "BEGIN SOLUTION" in first[0].read_text()
    (ws / SOLVED / "stray.txt").write_text("old")
    mirror_solved(REPO / "grading" / "demo" / "solutions", ws)          # replaced as a whole
    assert not (ws / SOLVED / "stray.txt").exists()
    assert progress(ws, quiet=True) == []                              # not counted as the student's
