"""Every solution notebook runs top to bottom in a fresh kernel (nbclient, cwd = its folder)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(REPO.glob("grading/demo/solutions/*/*.ipynb"))
if os.environ.get("CNNCOURSE_ASSIGNMENTS"):  # e.g. CNNCOURSE_ASSIGNMENTS=05_pooling while writing one
    NOTEBOOKS = [p for p in NOTEBOOKS if p.parent.name in os.environ["CNNCOURSE_ASSIGNMENTS"].split(",")]
BUDGET_S = 180  # generous runaway guard; the 90 s target is watched in benchmarks, not asserted


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_solution_notebook_runs(path):
    from nbclient import NotebookClient
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    client.execute()
    seconds = time.monotonic() - start
    print(f"{path.relative_to(REPO)}: {seconds:.1f} s")
    assert seconds < BUDGET_S
