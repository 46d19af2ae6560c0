"""Example 4-1's tables, the interval sampler, Bayes' rule and the Bernoulli naive Bayes model
(`cnncourse.aids.generative`)."""
from fractions import Fraction

import numpy as np
import pytest

from cnncourse.aids import generative as gen
from cnncourse.data import generative_toy


def test_generative_toy_is_example_4_1():
    X, Y = generative_toy()
    assert X.dtype == np.int64 and Y.dtype == np.int64
    assert [tuple(r) for r in X.tolist()] == [(0, 0), (0, 0), (0, 1), (0, 1), (0, 1), (1, 0),
                                              (1, 1), (1, 1), (1, 1), (1, 1)]
    assert Y.tolist() == [1, 1, 1, 0, 1, 0, 0, 0, 0, 1]


def test_estimate_tables_reproduces_the_textbook_exactly():
    tables = gen.estimate_tables(*generative_toy())
    F = Fraction
    assert tables["p_x"] == [F(1, 5), F(3, 10), F(1, 10), F(2, 5)]
    assert tables["p_y"] == [F(1, 2), F(1, 2)]
    assert tables["p_x_given_y"] == [[0, F(2, 5)], [F(1, 5), F(2, 5)], [F(1, 5), 0], [F(3, 5), F(1, 5)]]
    assert tables["p_x_and_y"] == [[0, F(1, 5)], [F(1, 10), F(1, 5)], [F(1, 10), 0], [F(3, 10), F(1, 10)]]
    assert tables["p_y_given_x"] == [[0, 1], [F(1, 3), F(2, 3)], [1, 0], [F(3, 4), F(1, 4)]]
    assert all(isinstance(v, Fraction) for row in tables["p_y_given_x"] for v in row)


def test_estimate_tables_product_rule_and_undefined_entries():
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, 2, size=(31, 2)), rng.integers(0, 2, size=31)
    t = gen.estimate_tables(X, Y)
    for i in range(4):
        for j in range(2):
            assert t["p_x_and_y"][i][j] == t["p_x_given_y"][i][j] * t["p_y"][j]
            if t["p_x"][i]:
                assert t["p_x_and_y"][i][j] == t["p_y_given_x"][i][j] * t["p_x"][i]
    only = gen.estimate_tables([[1, 1]], [0])
    assert only["p_y_given_x"][0] == [None, None]        # x = (0, 0) never occurs
    assert [row[1] for row in only["p_x_given_y"]] == [None] * 4   # class 1 never occurs
    assert only["p_x_given_y"][0][0] == 0


def test_estimate_tables_rejects_bad_data():
    with pytest.raises(ValueError, match="at least one sample"):
        gen.estimate_tables([], [])
    with pytest.raises(ValueError, match="3 rows but Y has 2"):
        gen.estimate_tables([[0, 0]] * 3, [0, 1])
    with pytest.raises(ValueError, match="not one of"):
        gen.estimate_tables([[0, 2]], [0])
    with pytest.raises(ValueError, match="label 2"):
        gen.estimate_tables([[0, 1]], [2])


def test_cumulative_intervals_of_the_textbook_and_exact_ends():
    p_x = gen.estimate_tables(*generative_toy())["p_x"]
    assert gen.cumulative_intervals(p_x) == [(0, Fraction(1, 5)), (Fraction(1, 5), Fraction(1, 2)),
                                             (Fraction(1, 2), Fraction(3, 5)), (Fraction(3, 5), 1)]
    drift = gen.cumulative_intervals([0.1] * 10)
    assert drift[-1][1] == 1 and sum(0.1 for _ in range(10)) < 1      # the last interval ends at 1
    assert gen.cumulative_intervals([0.5, 0.5, 0.0]) == [(0, 0.5), (0.5, 1), (1, 1)]


@pytest.mark.parametrize("u, index", [(0.34, 1), (0.83, 3), (0, 0), (Fraction(1, 5), 0),
                                      (Fraction(1, 2), 1), (Fraction(3, 5), 2), (1, 3)])
def test_interval_sample_textbook_and_boundaries(u, index):
    p_x = gen.estimate_tables(*generative_toy())["p_x"]
    assert gen.interval_sample(p_x, u) == index


def test_interval_sample_zero_probabilities_and_float_drift():
    assert gen.interval_sample([0.0, 0.5, 0.5], 0) == 1
    assert gen.interval_sample([0.0, 0.5, 0.0, 0.5], 0.5) == 1
    assert gen.interval_sample([0.5, 0.5, 0.0], 1.0) == 1
    assert gen.interval_sample([0.1] * 10, 1.0) == 9
    assert isinstance(gen.interval_sample(np.array([0.25, 0.75]), 0.3), int)


def test_interval_sample_frequencies_follow_the_probabilities():
    probs = [0.2, 0.3, 0.1, 0.4]
    us = np.random.default_rng(1).random(20_000)
    counts = np.bincount([gen.interval_sample(probs, u) for u in us], minlength=4)
    assert np.allclose(counts / us.size, probs, atol=0.01)


@pytest.mark.parametrize("probs, u, message", [([0.5, 0.5], 1.5, "u must lie"), ([0.5, 0.5], -0.1, "u must lie"),
                                               ([0.5, 0.4], 0.3, "sum to 1"), ([1.5, -0.5], 0.3, "non-negative"),
                                               ([], 0.3, "at least one")])
def test_interval_sample_rejects_bad_input(probs, u, message):
    with pytest.raises(ValueError, match=message):
        gen.interval_sample(probs, u)
    with pytest.raises(TypeError):
        gen.interval_sample([0.5, 0.5], "0.3")


def test_posterior_and_prediction_by_bayes_rule():
    t = gen.estimate_tables(*generative_toy())
    for i in range(4):
        assert gen.posterior(t["p_x_given_y"], t["p_y"], i) == t["p_y_given_x"][i]
    assert gen.bayes_predict(t["p_x_given_y"], t["p_y"], 1) == 1
    assert gen.bayes_predict(t["p_x_given_y"], t["p_y"], 3) == 0
    # the prior can outweigh the likelihood; ties go to the smaller index
    assert gen.bayes_predict([[0.1, 0.4]], [0.9, 0.1], 0) == 0
    assert gen.bayes_predict([[0.5, 0.5]], [0.5, 0.5], 0) == 0
    with pytest.raises(ValueError, match="P\\(x\\) is 0"):
        gen.posterior([[0.0, 0.0], [1.0, 1.0]], [0.5, 0.5], 0)
    with pytest.raises(ValueError, match="2 classes but p_y has 3"):
        gen.posterior([[0.5, 0.5]], [0.2, 0.3, 0.5], 0)


def test_binarize_and_balanced_subset():
    assert gen.binarize(np.array([0.2, 0.5, 0.9])).tolist() == [0, 1, 1]
    assert gen.binarize(np.array([0.2, 0.5]), threshold=0.1).dtype == np.int64
    labels = np.array([0, 1, 2] * 10 + [2])
    idx = gen.balanced_subset(labels, 3, seed=4)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3] and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, gen.balanced_subset(labels, 3, seed=4))
    assert not np.array_equal(idx, gen.balanced_subset(labels, 3, seed=5))
    assert gen.balanced_subset(labels, None).tolist() == list(range(31))
    with pytest.raises(ValueError, match="only 10"):
        gen.balanced_subset(labels, 11)


def test_bernoulli_naive_bayes_counts_with_laplace_smoothing():
    X = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0]])
    y = np.array([0, 0, 1])
    model = gen.BernoulliNaiveBayes(alpha=1.0, n_classes=3).fit(X, y)
    assert np.allclose(model.p_, [[3 / 4, 2 / 4, 2 / 4], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.5]])
    assert np.allclose(np.exp(model.log_prior_), [3 / 6, 2 / 6, 1 / 6])
    expected = np.log(model.p_) @ X[0] + np.log(1 - model.p_) @ (1 - X[0])
    assert np.allclose(model.log_likelihood(X[:1])[0], expected)
    assert model.predict(X).tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="alpha must be positive"):
        gen.BernoulliNaiveBayes(alpha=0)
    with pytest.raises(RuntimeError, match="fit"):
        gen.BernoulliNaiveBayes().predict(X)


def test_bernoulli_naive_bayes_log_likelihood_stays_finite_for_large_images():
    rng = np.random.default_rng(2)
    X = (rng.random((50, 4096)) < 0.3).astype(np.int64)
    y = rng.integers(0, 2, size=50)
    model = gen.BernoulliNaiveBayes().fit(X, y)
    assert np.all(np.isfinite(model.log_likelihood(X)))   # a product of 4096 p's would underflow


def test_bernoulli_naive_bayes_samples_reproducibly():
    model = gen.BernoulliNaiveBayes().fit(np.array([[1, 0], [1, 0], [0, 1]]), np.array([0, 0, 1]))
    a = model.sample(0, 2000, seed=3)
    assert a.shape == (2000, 2) and a.dtype == np.int64
    assert np.array_equal(a, model.sample(0, 2000, seed=3))
    assert np.allclose(a.mean(axis=0), model.p_[0], atol=0.03)
    u = np.random.default_rng(3).random((2000, 2))
    assert np.array_equal(a, (u < model.p_[0]).astype(np.int64))


def test_accuracy_vs_training_size_shapes_and_repeatability():
    rng = np.random.default_rng(5)
    centres = rng.random((3, 20)) < 0.5
    labels = np.repeat(np.arange(3), 40)
    flips = rng.random((120, 20)) < 0.1
    X = (centres[labels] ^ flips).astype(np.int64)
    models = {"nb": lambda: gen.BernoulliNaiveBayes(n_classes=3)}
    result = gen.accuracy_vs_training_size(models, X[::2], labels[::2], X[1::2], labels[1::2],
                                           per_class_sizes=[1, 5, None], repeats=4, seed=0)
    assert result["n_train"].tolist() == [3, 15, 60]
    assert result["nb"].shape == (3, 4)
    assert np.all(result["nb"][2] == result["nb"][2, 0])          # the whole set: one run
    assert result["nb"][2, 0] > 0.9
    again = gen.accuracy_vs_training_size(models, X[::2], labels[::2], X[1::2], labels[1::2],
                                          per_class_sizes=[1, 5, None], repeats=4, seed=0)
    assert np.array_equal(result["nb"], again["nb"])


def test_ring_centres_match_the_toy_distribution():
    from cnncourse.data import GAN_TOY_PARAMS, sample_gan_toy
    params = GAN_TOY_PARAMS["ring2d"]
    centres = gen.ring_centres(params["modes"], params["radius"])
    assert centres.shape == (8, 2) and np.allclose(centres[0], [2, 0]) and np.allclose(centres[2], [0, 2])
    samples = sample_gan_toy(4000, "ring2d", seed=0)
    shares = gen.mode_coverage(samples, centres, max_distance=5 * params["std"])
    assert shares.sum() == pytest.approx(1.0) and np.all(np.abs(shares - 1 / 8) < 0.03)


def test_mode_coverage_sees_a_collapsed_generator():
    centres = gen.ring_centres(8, 2.0)
    collapsed = np.repeat(centres[[1, 5]], [300, 100], axis=0) + 0.01
    far = np.zeros((100, 2))                                   # the centre of the ring: no mode
    shares = gen.mode_coverage(np.concatenate([collapsed, far]), centres, max_distance=0.25)
    assert shares.tolist() == [0, 0.6, 0, 0, 0, 0.2, 0, 0]
    with pytest.raises(ValueError, match="need samples"):
        gen.mode_coverage(np.zeros((3, 3)), centres, 0.25)


def test_confidence_score_counts_confident_rows_and_classes():
    probs = np.array([[0.95, 0.05, 0.0], [0.5, 0.4, 0.1], [0.0, 0.05, 0.95], [0.1, 0.0, 0.9]])
    score = gen.confidence_score(probs)
    assert score["confident"] == 0.5
    assert score["histogram"].tolist() == [2, 0, 2] and score["classes_seen"] == 2
    assert gen.confidence_score(probs, threshold=0.45)["confident"] == 1.0
    with pytest.raises(ValueError, match="threshold"):
        gen.confidence_score(probs, threshold=1.0)


def _noisy_prototypes(seed: int = 5):
    # Three classes of 20-pixel images: a random prototype per class with 10 % of pixels flipped.
    rng = np.random.default_rng(seed)
    centres = rng.random((3, 20)) < 0.5
    labels = np.repeat(np.arange(3), 40)
    X = (centres[labels] ^ (rng.random((120, 20)) < 0.1)).astype(np.int64)
    return X[::2], labels[::2], X[1::2], labels[1::2]


def test_naive_bayes_snapshot_matches_the_accuracy_curve_and_its_first_training_set():
    x_train, t_train, x_test, t_test = _noisy_prototypes()
    snap = gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 2, alpha=0.3, repeats=5,
                                    seed=7)
    assert set(snap) == {"p", "samples", "accuracy", "n_train"}
    assert snap["p"].shape == (3, 20) and snap["samples"].shape == (3, 20)
    assert snap["samples"].dtype == np.int64 and snap["n_train"] == 6
    # The same training sets as accuracy_vs_training_size with the same seed: the same row.
    curve = gen.accuracy_vs_training_size(
        {"nb": lambda: gen.BernoulliNaiveBayes(alpha=0.3, n_classes=3)}, x_train, t_train,
        x_test, t_test, [2], repeats=5, seed=7)
    assert np.array_equal(snap["accuracy"], curve["nb"][0])
    # p is the table of the first training set, by the smoothing formula.
    first = gen.balanced_subset(t_train, 2, seed=7)
    ink = np.stack([x_train[first][t_train[first] == k].sum(axis=0) for k in range(3)])
    assert np.allclose(snap["p"], (ink + 0.3) / (2 + 2 * 0.3))
    # Sample k uses the uniform numbers of seed sample_seed, whatever alpha is.
    u = np.random.default_rng(4).random((1, 20))
    again = gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 2, alpha=0.3, repeats=5,
                                     seed=7, sample_seed=4)
    assert np.array_equal(again["samples"][2], (u[0] < snap["p"][2]).astype(np.int64))


def test_naive_bayes_snapshot_alpha_and_size_change_what_it_learns():
    x_train, t_train, x_test, t_test = _noisy_prototypes()
    tiny = gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 1, alpha=0.001, repeats=3)
    one = gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 1, alpha=1.0, repeats=3)
    # One image per class and a tiny alpha: p is almost 0 / 1, the samples copy the image.
    first = gen.balanced_subset(t_train, 1, seed=0)
    images = x_train[first][np.argsort(t_train[first])]
    assert np.allclose(tiny["p"], (images + 0.001) / 1.002)
    assert np.array_equal(tiny["samples"], images)
    assert np.allclose(np.unique(one["p"]), [1 / 3, 2 / 3])      # alpha = 1: (0 or 1 + 1) / 3
    whole = gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, None, alpha=1.0, repeats=3)
    assert whole["n_train"] == 60 and np.all(whole["accuracy"] == whole["accuracy"][0])
    assert whole["accuracy"][0] > 0.9
    with pytest.raises(ValueError, match="alpha must be positive"):
        gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 1, alpha=0.0)
    with pytest.raises(ValueError, match="x_train"):
        gen.naive_bayes_snapshot(x_train[:, 0], t_train, x_test, t_test, 1, alpha=1.0)
    with pytest.raises(ValueError, match="only 20"):
        gen.naive_bayes_snapshot(x_train, t_train, x_test, t_test, 21, alpha=1.0)


def test_naive_bayes_report_lists_every_model_and_the_range_of_p():
    snap = {"p": np.array([[0.25, 0.5], [0.125, 0.75]]), "samples": np.zeros((2, 2)),
            "accuracy": np.array([0.5, 0.7]), "n_train": 4}
    text = gen.naive_bayes_report(snap, 0.01, 2, {"logistic": [0.8, 0.8]})
    lines = text.splitlines()
    assert lines[0] == "2 training images per class (4 in all), alpha = 0.01"
    assert "over 2 random training sets" in lines[1]
    assert lines[2] == "  naive Bayes, alpha = 0.01  0.600 +- 0.100"
    assert lines[3] == "  logistic                   0.800 +- 0.000"
    assert lines[4].endswith("0.125 to 0.75")
    whole = gen.naive_bayes_report(dict(snap, n_train=9), 1.0, None)
    assert whole.startswith("all 9 training images, alpha = 1") and "one training set" in whole
    assert "1 training image per class" in gen.naive_bayes_report(snap, 1.0, 1)
