"""nbgrader's own tools on this course layout: release -> (workspace) -> submit -> collect -> export.

Runs in a copy of the course, with PATH not holding the venv (as when a TA types
`.venv/bin/nbgrader export` without activating it), from the folders a student and a TA use.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH="/usr/bin:/bin")


def _run(*args, cwd) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{args} in {cwd}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    for name in ("solutions", "notebooks"):
        shutil.copytree(REPO / name, root / name)
    (root / "grading").mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root / "grading")
    shutil.copy(REPO / "nbgrader_config.py", root)
    return root


@pytest.mark.slow
def test_release_submit_collect_export_on_one_machine(course):
    assignment = "01_backprop"
    _run("nbgrader", "release_assignment", assignment, cwd=course)
    assert (course / "grading" / "exchange" / "cnncourse" / "outbound" / assignment).is_dir()

    # The student: a workspace (its nbgrader config points at the course's exchange), then
    # nbgrader's student commands run inside it, as JupyterLab's Assignment List does.
    _run("cnncourse-workspace", "workspace", cwd=course)
    workspace = course / "workspace"
    assert "cnncourse" in (workspace / "nbgrader_config.py").read_text()
    listed = _run("nbgrader", "list", cwd=workspace)
    assert f"cnncourse {assignment}" in listed.stdout + listed.stderr
    _run("nbgrader", "submit", assignment, cwd=workspace)

    # The TA, from the course root: collect, then export (alembic found without the venv on PATH).
    _run("nbgrader", "collect", assignment, cwd=course)
    submitted = list((course / "grading" / "course" / "submitted").glob(f"*/{assignment}/*.ipynb"))
    assert len(submitted) == 1
    _run("nbgrader", "db", "assignment", "add", assignment, cwd=course)
    _run("nbgrader", "export", cwd=course)
    assert (course / "grades.csv").is_file()
    assert not (course / "gradebook.db").exists(), "a stray gradebook.db next to the course"
    assert (course / "grading" / "course" / "gradebook.db").is_file()
