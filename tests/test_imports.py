"""`import cnncourse` and the numpy core must not pull in torch, matplotlib or ipywidgets.

Checked in a fresh interpreter, because this test process may already have imported them.
Modules that do not exist yet are skipped by name (and reported), not silently passed.
"""
import importlib.util
import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    "cnncourse", "cnncourse.graph", "cnncourse.gradcheck", "cnncourse.layers", "cnncourse.conv",
    "cnncourse.pooling", "cnncourse.optim", "cnncourse.nets", "cnncourse.trainer",
    "cnncourse.data", "cnncourse.aids.arith", "cnncourse.aids.summary", "cnncourse.aids.conv_explain",
    "cnncourse.aids.model_explorer", "cnncourse.viz.graph", "cnncourse.viz.conv", "cnncourse.viz.models",
    "cnncourse.viz.training", "cnncourse.widgets.graph", "cnncourse.widgets.conv",
    "cnncourse.widgets.models", "cnncourse.grading.selfcheck", "cnncourse.grading.authoring",
]
HEAVY = ["torch", "matplotlib", "ipywidgets"]

_PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _existing(modules):
    found, missing = [], []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the parent package itself is missing
            spec = None
        (found if spec is not None else missing).append(name)
    return found, missing


def test_core_modules_exist():
    _, missing = _existing(CORE_MODULES)
    if missing:
        pytest.skip(f"not written yet, so not import-checked: {missing}")


def test_core_import_loads_no_heavy_packages():
    found, _ = _existing(CORE_MODULES)
    probe = _PROBE.format(modules=found, heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing {found} loaded {loaded}"


def test_data_functions_keep_matplotlib_out():
    # load_photo("grace_hopper") finds matplotlib's sample image without importing matplotlib.
    probe = ("import sys; from cnncourse.data import load_photo; "
             "load_photo('grace_hopper', size=32); print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
