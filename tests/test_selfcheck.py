"""Student self-check: check()/check_all() and cnncourse-validate run visible tests only."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnncourse.grading import selfcheck

DEMO = Path(__file__).resolve().parents[1] / "grading" / "demo"
RELEASE = DEMO / "notebooks" / "demo_numpy" / "demo_numpy.ipynb"


def test_digest_roundtrip():
    d = selfcheck.digest(3200, "demo/q4/n_params")
    assert selfcheck.matches_digest(3200, d) and selfcheck.matches_digest(3200.0, d)
    assert not selfcheck.matches_digest(3201, d)
    assert not selfcheck.matches_digest(True, selfcheck.digest(1, "k"))
    assert not selfcheck.matches_digest(object(), selfcheck.digest(1, "k"))
    assert selfcheck.matches_digest(0.1 + 0.2, selfcheck.digest(0.3, "k"))
    assert selfcheck.matches_digest((1, [2.5, "a"]), selfcheck.digest([1, (2.5, "a")], "k"))


def test_digest_is_keyed_long_and_stretched():
    """Equal answers to different questions never share a digest; no short or fast digests."""
    a, b = selfcheck.digest(4, "03/q5/o_strided"), selfcheck.digest(4, "03/q5/p_total_textbook")
    assert a != b and a.split(":")[-1] != b.split(":")[-1]
    key, sig, hexdigest = selfcheck.parse_digest(a)
    assert (key, sig, len(hexdigest)) == ("03/q5/o_strided", 6, 32)        # 128 bits
    assert selfcheck._SCRYPT["n"] * selfcheck._SCRYPT["r"] * 128 >= 16 * 1024**2  # memory-hard, 16 MiB
    # the canonical form is one-to-one: values that print alike never collide
    assert selfcheck.digest(["a,b"], "k") != selfcheck.digest(["a", "b"], "k")
    assert selfcheck.digest("1", "k") != selfcheck.digest(1, "k")
    assert selfcheck.digest(None, "k") != selfcheck.digest("None", "k")


def test_digest_rejects_old_and_malformed_digests():
    for bad in ["5653651b31", "cd2:k:6:zz", "cd2:k:6:" + "0" * 31, "cd1:k:6:" + "0" * 32, 42]:
        with pytest.raises(ValueError, match="digest"):
            selfcheck.matches_digest(4, bad)
    with pytest.raises(ValueError, match="key"):
        selfcheck.digest(4, "has space")


def test_course_digests_are_current_and_distinct():
    """Every visible-test digest in the course parses, has its own key and its own value."""
    import ast
    import json
    repo = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted(repo.glob("solutions/*/*.ipynb")) + sorted(DEMO.glob("solutions/*/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "matches_digest(" not in source:
                continue
            visible = "\n".join(ln for ln in source.split("### BEGIN HIDDEN TESTS")[0].splitlines()
                                 if not ln.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(visible)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "matches_digest":
                    literal = node.args[1]
                    assert isinstance(literal, ast.Constant), f"{path.name}: digest is not a literal"
                    found.append((path.name, selfcheck.parse_digest(literal.value), literal.value))
    assert len(found) >= 5
    keys = [key for _, (key, _, _), _ in found]
    assert len(set(keys)) == len(keys), "two answers share a digest key"
    hexes = [h for _, (_, _, h), _ in found]
    assert len(set(hexes)) == len(hexes), "two answers share a digest"


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
