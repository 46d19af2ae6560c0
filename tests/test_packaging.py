"""The package declares every distribution it imports, and its console scripts start."""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnncourse"


def imported_top_level_names() -> dict[str, str]:
    """Top-level name of every non-stdlib, non-cnncourse import -> one file that imports it."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found = [node.module]
            else:
                continue
            for name in found:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("cnncourse", "__future__", "__main__"):
                    names.setdefault(top, str(path.relative_to(PACKAGE.parent)))
    return names


def declared_distributions() -> set[str]:
    """Distribution names in cnncourse's requirements, base and every extra."""
    requirements = metadata.requires("cnncourse") or []
    return {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-")
            for req in requirements}


def test_every_imported_distribution_is_declared():
    providers = metadata.packages_distributions()
    declared = declared_distributions()
    missing = {}
    for name, where in imported_top_level_names().items():
        dists = {d.lower().replace("_", "-") for d in providers.get(name, [])}
        assert dists, f"{where} imports {name!r}, which no installed distribution provides"
        if not dists & declared:
            missing[name] = (sorted(dists), where)
    assert not missing, f"declare these in pyproject.toml (base or an extra): {missing}"


def test_declared_check_can_fail():
    # The check above compares real names: numpy is declared, a made-up one is not.
    assert "numpy" in declared_distributions()
    assert "not-a-dependency" not in declared_distributions()


def test_console_scripts_start():
    for script in ("cnncourse-grade", "cnncourse-validate", "cnncourse-release"):
        result = subprocess.run([str(Path(sys.executable).parent / script), "--help"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (script, result.stderr)
        assert "usage" in result.stdout.lower(), script
