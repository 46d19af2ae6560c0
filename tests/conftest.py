"""Shared fixtures: the repository, the demo class graded once per session, torch on one thread."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "grading" / "demo"


def solution_notebooks() -> list[Path]:
    """Every source notebook under solutions/ (picked up automatically as helpers add them)."""
    return sorted(REPO.glob("solutions/*/*.ipynb"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def demo_expected() -> dict:
    return json.loads((DEMO / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo_graded(tmp_path_factory):
    """(results by student, out_dir, gradebook path, course fingerprint before) of one demo run."""
    from cnncourse.grading.pipeline import grade
    before = {p: p.stat().st_mtime_ns for p in DEMO.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("demo-out")
    from cnncourse.grading.democlass import DEMO_BUDGET
    results = grade(DEMO / "submitted", course_root=DEMO, out_dir=out, workers=2, timeout=5,
                    budget=DEMO_BUDGET, hide=(REPO,), log=lambda *a: None)
    return {r.student: r for r in results}, out, out / "gradebook.db", before


@pytest.fixture
def one_thread():
    """torch on one intra-op thread: on two busy cores it trains several times faster than two."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test that drew leaves no figure open (matplotlib only if a test loaded it)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
