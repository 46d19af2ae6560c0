"""Student self-check: check()/check_all() and cnncourse-validate run visible tests only."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnncourse.grading import selfcheck

DEMO = Path(__file__).resolve().parents[1] / "grading" / "demo"
RELEASE = DEMO / "notebooks" / "demo_numpy" / "demo_numpy.ipynb"


def test_digest_roundtrip():
    assert selfcheck.matches_digest(3200, selfcheck.digest(3200))
    assert not selfcheck.matches_digest(True, selfcheck.digest(1))
    assert not selfcheck.matches_digest(object(), selfcheck.digest(1))


def test_find_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(FileNotFoundError, match="found 0 notebooks"):
        selfcheck.find_notebook()
    shutil.copy(RELEASE, tmp_path / "a.ipynb")
    assert selfcheck.find_notebook() == tmp_path / "a.ipynb"
    shutil.copy(RELEASE, tmp_path / "b.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "b.ipynb"))
    assert selfcheck.find_notebook() == tmp_path / "b.ipynb"
    assert selfcheck.find_notebook("a.ipynb") == Path("a.ipynb")


def test_check_reports_pass_fail_and_not_answered(tmp_path, monkeypatch, capsys):
    import numpy as np
    monkeypatch.chdir(tmp_path)
    shutil.copy(RELEASE, tmp_path / "demo_numpy.ipynb")
    ns = {"np": np, "matches_digest": selfcheck.matches_digest}

    def relu(x):
        raise NotImplementedError()
    ns["relu"] = relu
    assert selfcheck.check("q1", namespace=ns)["message"] == "not answered yet"
    ns["relu"] = lambda x: np.maximum(x, 0)
    result = selfcheck.check("q1", namespace=ns)
    assert result["passed"] and result["points"] == 2
    ns["n_params"] = 7 * 7 * 64
    result = selfcheck.check("q4", namespace=ns)
    assert not result["passed"] and "not yet right" in result["message"] and "3200" not in result["message"]
    results = selfcheck.check_all(namespace=ns)
    assert [r["passed"] for r in results] == [True, False, False, False]
    out = capsys.readouterr().out
    assert "visible tests: 2/8 points" in out and "run the answer cell above first" in out
    with pytest.raises(KeyError, match="no test cell"):
        selfcheck.check("q9", namespace=ns)


def test_release_and_package_hold_no_hidden_tests():
    import cnncourse
    pkg = Path(cnncourse.__file__).parent
    for path in list(pkg.rglob("*.py")) + list(DEMO.glob("notebooks/*/*.ipynb")) + \
            list(Path(__file__).resolve().parents[1].glob("notebooks/*/*.ipynb")):
        text = path.read_text()
        assert "### BEGIN HIDDEN TESTS\n" not in text.replace('"### BEGIN HIDDEN TESTS', ""), path


@pytest.mark.slow
def test_validate_cli(tmp_path, capsys):
    from cnncourse.grading.cli import validate_main
    nb = DEMO / "submitted" / "partial" / "demo_numpy" / "demo_numpy.ipynb"
    shutil.copy(nb, tmp_path / "demo_numpy.ipynb")
    assert validate_main([str(tmp_path / "demo_numpy.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "PASS q1_relu_test" in out and "FAIL q3_output_size_test" in out
    assert "visible tests: 4/8 points" in out
