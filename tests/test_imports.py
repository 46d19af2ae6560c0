"""Import rules of docs/DESIGN.md ("Layers"), checked on the real package.

1. `import cnncourse`, the numpy core and the course aids never pull in torch, matplotlib or
   ipywidgets at import time (checked in a fresh interpreter, because this test process may
   already have imported them).
2. Each layer imports only the layers below it: the numpy core never imports the course aids,
   viz, widgets, the torch side or the grader (read from every `import` statement, also the ones
   inside functions).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnncourse"

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "cnncourse"
# Every module of the core and the aids layers (found in the tree, so a new one is checked too),
# and the student-side grading modules.
LIGHT_MODULES = sorted(
    ".".join(p.relative_to(PACKAGE_DIR.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in PACKAGE_DIR.rglob("*.py")
    if p.relative_to(PACKAGE_DIR).parts[0] not in ("torch", "grading")
) + ["cnncourse.grading.selfcheck", "cnncourse.grading.authoring", "cnncourse.grading.workspace"]
HEAVY = ["torch", "matplotlib", "ipywidgets"]

# Layer of a module, from its path inside the package; what each layer may import from cnncourse.
LAYER_OF_FOLDER = {"": "core", "aids": "aids", "viz": "aids", "widgets": "aids", "torch": "torch",
                   "grading": "grading"}
MAY_IMPORT = {
    "core": {"core"},
    "aids": {"core", "aids", "torch"},       # aids reach the torch side lazily, for torch models only
    "torch": {"core", "aids", "torch"},
    "grading": {"grading"},                   # the grader stands alone: it never runs course code
}

_PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _missing(modules: list[str]) -> list[str]:
    missing = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the parent package itself is missing
            spec = None
        if spec is None:
            missing.append(name)
    return missing


def test_every_listed_module_exists():
    assert _missing(LIGHT_MODULES) == [], "modules named in this test (and DESIGN.md) are gone"


def test_light_modules_load_no_heavy_packages():
    assert _missing(LIGHT_MODULES) == []
    probe = _PROBE.format(modules=LIGHT_MODULES, heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing {LIGHT_MODULES} loaded {loaded}"


def test_data_functions_keep_matplotlib_out():
    # load_photo("grace_hopper") finds matplotlib's sample image without importing matplotlib.
    probe = ("import sys; from cnncourse.data import load_photo; "
             "load_photo('grace_hopper', size=32); print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """'core', 'aids', 'torch' or 'grading' for a module name inside cnncourse."""
    parts = module.split(".")
    if len(parts) == 1:
        return "core"  # the package itself
    folder = parts[1] if (PACKAGE / parts[1]).is_dir() else ""
    return LAYER_OF_FOLDER[folder]


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every cnncourse module a file imports (top level or inside functions), fully qualified."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    source = path.read_text(encoding="utf-8") if source is None else source
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "cnncourse"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cnncourse":
                continue
            found.add(target)
            # `from . import conv` imports the module cnncourse.conv
            found |= {f"{target}.{alias.name}" for alias in node.names
                      if _is_module(f"{target}.{alias.name}")}
    return found


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return ((PACKAGE / relative).with_suffix(".py").is_file()
            or (PACKAGE / relative / "__init__.py").is_file())


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_layer_map_knows_every_folder():
    folders = {p.relative_to(PACKAGE).parts[0] for p in SOURCES if len(p.relative_to(PACKAGE).parts) > 1}
    assert folders <= set(LAYER_OF_FOLDER), f"add {folders - set(LAYER_OF_FOLDER)} to DESIGN.md's layers"


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(p) for p in SOURCES])
def test_layers_import_only_what_they_may(path):
    here = module_name(path)
    if here == "cnncourse":
        allowed = {"core", "aids"}  # the package offers `cnncourse.summary` lazily
    else:
        allowed = MAY_IMPORT[layer_of(here)]
    bad = sorted(m for m in imported_modules(path) if layer_of(m) not in allowed)
    assert not bad, f"{here} ({layer_of(here)} layer) imports {bad}: see docs/DESIGN.md, Layers"


def test_layer_check_catches_a_core_module_importing_aids():
    # The rule above must be able to fail: a core module that imports an aid lazily is caught.
    core_file = PACKAGE / "conv.py"
    imports = imported_modules(core_file, "def f():\n    from .aids import arith\n    return arith\n")
    assert imports == {"cnncourse.aids", "cnncourse.aids.arith"}
    assert {layer_of(m) for m in imports} == {"aids"}
    assert "aids" not in MAY_IMPORT[layer_of(module_name(core_file))]
