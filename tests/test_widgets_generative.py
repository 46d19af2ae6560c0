"""The notebook-08 naive Bayes explorer is built from tested logic and reacts to its controls."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids import generative as gen  # noqa: E402
from cnncourse.widgets.generative import ALPHAS, naive_bayes_explorer  # noqa: E402

SIZES = [1, 4, None]


@pytest.fixture(scope="module")
def data():
    """Four classes of 5x5 binary images (noisy prototypes) and an accuracy curve over SIZES."""
    rng = np.random.default_rng(8)
    centres = rng.random((4, 25)) < 0.5
    labels = np.repeat(np.arange(4), 30)
    X = (centres[labels] ^ (rng.random((120, 25)) < 0.15)).astype(np.int64)
    split = (X[::2], labels[::2], X[1::2], labels[1::2])
    models = {"nb, alpha 1": lambda: gen.BernoulliNaiveBayes(alpha=1.0, n_classes=4),
              "fixed guess": lambda: _Constant()}
    curves = gen.accuracy_vs_training_size(models, *split, per_class_sizes=SIZES, repeats=3,
                                           seed=2)
    return split, curves


class _Constant:
    """A 'model' that always says class 0: its accuracy is the share of class 0 (1/4)."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)


def _rows(box):
    return {line.split("  ")[1].strip(): line for line in box.report.value.splitlines()
            if line.startswith("  ")}


@pytest.fixture
def drawn(monkeypatch):
    """Every figure the explorer draws, as (p, samples, point) (an Output widget captures
    nothing outside a kernel, so the drawing function is watched instead)."""
    import cnncourse.viz.generative as viz

    calls, real = [], viz.plot_pixel_model

    def watch(p, samples, image_shape, curves=None, point=None, title=None):
        calls.append((np.array(p), np.array(samples), point))
        return real(p, samples, image_shape, curves=curves, point=point, title=title)

    monkeypatch.setattr(viz, "plot_pixel_model", watch)
    return calls


def test_explorer_starts_in_the_middle_and_compares_on_the_same_training_sets(data, drawn):
    split, curves = data
    box = naive_bayes_explorer(*split, curves, SIZES, seed=2)
    assert isinstance(box, widgets.VBox)
    assert box.per_class.value == 1 and box.alpha.value == 1.0
    assert [label for label, _ in box.alpha.options] == [f"{a:g}" for a in ALPHAS]
    assert box.alpha.options[0][0] == "0.001" and box.alpha.options[-1][0] == "100"
    assert [label for label, _ in box.per_class.options] == ["1/class", "4/class", "all 60"]
    assert box.report.value.startswith("<pre")
    assert "4 training images per class (16 in all), alpha = 1" in box.report.value
    snap = gen.naive_bayes_snapshot(*split, 4, 1.0, repeats=3, seed=2)
    want = gen.naive_bayes_report(snap, 1.0, 4, {name: runs[1] for name, runs in curves.items()
                                                if name != "n_train"})
    assert want.replace(">", "&gt;") in box.report.value
    rows = _rows(box)
    # alpha = 1 on the curve's own training sets: naive Bayes repeats the curve's row exactly.
    assert rows["naive Bayes, alpha = 1"].split()[-3:] == rows["nb, alpha 1"].split()[-3:]
    assert "0.250 +- 0.000" in rows["fixed guess"]
    assert len(drawn) == 1
    p, samples, (n_train, runs, label) = drawn[0]
    assert np.array_equal(p, snap["p"]) and np.array_equal(samples, snap["samples"])
    assert n_train == 16 and np.array_equal(runs, curves["nb, alpha 1"][1]) and "α = 1" in label


def test_explorer_redraws_when_alpha_or_the_size_moves(data, drawn):
    split, curves = data
    box = naive_bayes_explorer(*split, curves, SIZES, seed=2, image_shape=(5, 5), start=1)
    assert box.per_class.value == 0 and "1 training image per class (4 in all)" in box.report.value
    assert "0.333 to 0.667" in box.report.value             # one image, alpha = 1: p is 1/3 or 2/3
    box.alpha.value = 0.001
    assert "alpha = 0.001" in box.report.value and "0.000998 to 0.999" in box.report.value
    assert len(drawn) == 2 and not np.array_equal(drawn[0][0], drawn[1][0])
    # The same single image per class: with p almost 0 / 1 the sample is that image.
    assert np.array_equal(drawn[1][1], np.round(drawn[1][0]).astype(np.int64))
    box.per_class.value = 2
    assert "all 60 training images, alpha = 0.001" in box.report.value
    assert len(drawn) == 3 and drawn[2][2][0] == 60
    assert "one training set" in box.report.value
    box.alpha.value = 100.0
    assert "alpha = 100" in box.report.value
    accuracy_whole = float(_rows(box)["naive Bayes, alpha = 100"].split()[-3])
    assert accuracy_whole == pytest.approx(
        gen.naive_bayes_snapshot(*split, None, 100.0, repeats=3, seed=2)["accuracy"][0], abs=5e-4)


def test_explorer_validates_its_arguments(data):
    split, curves = data
    with pytest.raises(ValueError, match="per_class_sizes has 2 sizes"):
        naive_bayes_explorer(*split, curves, [1, 4])
    with pytest.raises(ValueError, match="n_train"):
        naive_bayes_explorer(*split, {"nb": curves["nb, alpha 1"]}, SIZES)
    with pytest.raises(ValueError, match="no model"):
        naive_bayes_explorer(*split, {"n_train": curves["n_train"]}, SIZES)
    with pytest.raises(ValueError, match="one \\(S, R\\) array"):
        naive_bayes_explorer(*split, {"n_train": curves["n_train"], "x": np.zeros(3)}, SIZES)
    with pytest.raises(ValueError, match="start=3"):
        naive_bayes_explorer(*split, curves, SIZES, start=3)
    x_train, t_train, x_test, t_test = split
    with pytest.raises(ValueError, match="image_shape"):
        naive_bayes_explorer(x_train[:, :24], t_train, x_test[:, :24], t_test, curves, SIZES)
