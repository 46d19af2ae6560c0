"""Generative vs discriminative models on a small table and on binary images (notebook 08).

Plain logic, numpy and `fractions` only, unit tested; `cnncourse.viz.generative` draws it.

- `estimate_tables(X, Y)`: the four probability tables of the textbook's Example 4-1,
  P(x), P(x|y), P(x, y) and P(y|x), counted from data as exact fractions.
- `cumulative_intervals`, `interval_sample`: sampling a discrete distribution with a uniform
  number u in [0, 1]; value 0 owns [0, c_0], value i > 0 owns (c_(i-1), c_i], with c_i the
  cumulative sums of the probabilities.
- `posterior`, `bayes_predict`: Bayes' rule P(y|x) = P(x|y) P(y) / sum_y' P(x|y') P(y').
- `BernoulliNaiveBayes`: a class-conditional pixel model for binary images (every pixel an
  independent coin given the class, Laplace smoothing), which can classify and sample.
- `binarize`, `balanced_subset`, `accuracy_vs_training_size`: the data handling of the
  generative-vs-discriminative experiment on the bundled digits.
- `naive_bayes_snapshot`, `naive_bayes_report`: one setting (smoothing, training size) of the
  naive Bayes explorer (`cnncourse.widgets.generative`): pixel maps, samples, accuracies.
- `ring_centres`, `mode_coverage`, `confidence_score`: how well a generator's samples cover the
  modes of a toy distribution, and a classifier-based quality score of generated digits
  (notebook 09).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from numbers import Rational, Real
from typing import Any

import numpy as np

from .._validate import check_int

__all__ = [
    "BINARY_PAIRS", "TABLE_KEYS", "estimate_tables", "cumulative_intervals", "interval_sample",
    "posterior", "bayes_predict", "binarize", "balanced_subset", "BernoulliNaiveBayes",
    "accuracy_vs_training_size", "naive_bayes_snapshot", "naive_bayes_report", "ring_centres",
    "mode_coverage", "confidence_score",
]

# The four values of a 2-D binary feature vector, in the order of the textbook's tables.
BINARY_PAIRS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))
TABLE_KEYS = ("p_x", "p_x_given_y", "p_x_and_y", "p_y_given_x")


def _ratio(count: int, total: int) -> Fraction | None:
    # An empty condition (no sample has this x, or this y) leaves the probability undefined.
    return Fraction(count, total) if total else None


def estimate_tables(X: Any, Y: Any, values: Sequence[tuple] = BINARY_PAIRS,
                    classes: Sequence[int] = (0, 1)) -> dict[str, list]:
    """Estimate P(x), P(y), P(x|y), P(x, y) and P(y|x) by counting, as exact fractions.

    With N samples, n(x, y) the number of samples with features x and label y, n(x) and n(y)
    its row and column sums:

        P(x) = n(x) / N          P(y) = n(y) / N          P(x, y) = n(x, y) / N
        P(x | y) = n(x, y) / n(y)   (each column sums to 1 over x)
        P(y | x) = n(x, y) / n(x)   (each row sums to 1 over y)

    Inputs:
    - X: (N, d) feature vectors (array or nested lists), every row one of `values`
    - Y: (N,) labels, each one of `classes`
    - values: the V possible feature vectors, in table order (default: the four binary pairs)
    - classes: the C possible labels, in column order

    Returns: dict with "p_x" (list of V), "p_y" (list of C), and "p_x_given_y", "p_x_and_y",
    "p_y_given_x" (V lists of C), entries `fractions.Fraction`; an entry whose condition never
    occurs (P(y|x) for an x with n(x) = 0, P(x|y) for a y with n(y) = 0) is None.
    Raises ValueError for N = 0, mismatched lengths, or a row / label outside values / classes.
    """
    rows = [tuple(int(v) for v in row) for row in np.asarray(X).reshape(len(X), -1)] \
        if len(X) else []
    labels = [int(y) for y in np.asarray(Y).reshape(-1)]
    if not rows:
        raise ValueError("need at least one sample to estimate probabilities")
    if len(rows) != len(labels):
        raise ValueError(f"X has {len(rows)} rows but Y has {len(labels)} labels")
    value_index = {tuple(v): i for i, v in enumerate(values)}
    class_index = {int(c): j for j, c in enumerate(classes)}
    counts = np.zeros((len(values), len(classes)), dtype=np.int64)
    for row, label in zip(rows, labels):
        if row not in value_index:
            raise ValueError(f"feature vector {row} is not one of {list(values)}")
        if label not in class_index:
            raise ValueError(f"label {label} is not one of {list(classes)}")
        counts[value_index[row], class_index[label]] += 1
    n = len(rows)
    n_x, n_y = counts.sum(axis=1), counts.sum(axis=0)
    return {
        "p_x": [Fraction(int(c), n) for c in n_x],
        "p_y": [Fraction(int(c), n) for c in n_y],
        "p_x_given_y": [[_ratio(int(counts[i, j]), int(n_y[j])) for j in range(len(classes))]
                        for i in range(len(values))],
        "p_x_and_y": [[Fraction(int(counts[i, j]), n) for j in range(len(classes))]
                      for i in range(len(values))],
        "p_y_given_x": [[_ratio(int(counts[i, j]), int(n_x[i])) for j in range(len(classes))]
                        for i in range(len(values))],
    }


def _probabilities(probs: Sequence[Any]) -> list:
    # Fractions stay exact; other numbers become floats. Checks the numbers form a distribution.
    if len(probs) == 0:
        raise ValueError("probs must hold at least one probability")
    out = []
    for p in probs:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, Real):
            raise TypeError(f"probs must hold real numbers, got {p!r} ({type(p).__name__})")
        out.append(p if isinstance(p, Rational) else float(p))
    if any(p < 0 for p in out):
        raise ValueError(f"probs must be non-negative, got {list(probs)}")
    if abs(float(sum(out)) - 1.0) > 1e-9:
        raise ValueError(f"probs must sum to 1, got a sum of {float(sum(out))}")
    return out


def cumulative_intervals(probs: Sequence[Any]) -> list[tuple[Any, Any]]:
    """The sampling interval of each value: value 0 owns [0, c_0], value i > 0 owns
    (c_(i-1), c_i], with c_i = p_0 + ... + p_i. The last interval ends at 1 exactly (the sum
    of float probabilities can miss 1 by a rounding error). A value of probability 0 owns an
    empty interval (lo == hi) and is never drawn.

    Example: P(x) = (0.2, 0.3, 0.1, 0.4) -> [0, 0.2], (0.2, 0.5], (0.5, 0.6], (0.6, 1.0].

    Inputs: probs, V non-negative numbers summing to 1 (Fractions are kept exact).
    Returns: list of V pairs (lo, hi).
    """
    values = _probabilities(probs)
    intervals, low, total = [], 0, 0
    for p in values:
        total = total + p
        intervals.append((low, total))
        low = total
    last_positive = max(i for i, p in enumerate(values) if p > 0)
    lo, _ = intervals[last_positive]
    intervals[last_positive] = (lo, 1)
    for i in range(last_positive + 1, len(intervals)):
        intervals[i] = (1, 1)
    return intervals


def interval_sample(probs: Sequence[Any], u: Any) -> int:
    """Index of the value whose cumulative interval holds u (see `cumulative_intervals`).

        i = the first index with p_i > 0 and u <= c_i

    u = 0 gives the first value of positive probability; u = 1 (or a u above a float sum that
    rounds below 1) gives the last one. With u ~ Uniform[0, 1], value i comes out with
    probability p_i.

    Inputs: probs (V,) a distribution; u a number in [0, 1].
    Returns: int in [0, V). Raises ValueError for u outside [0, 1] or probs that are not a
    distribution.
    """
    intervals = cumulative_intervals(probs)
    if isinstance(u, (bool, np.bool_)) or not isinstance(u, Real):
        raise TypeError(f"u must be a real number, got {u!r}")
    if not 0 <= u <= 1:
        raise ValueError(f"u must lie in [0, 1], got {u}")
    for i, (lo, hi) in enumerate(intervals):
        if hi > lo and u <= hi:
            return i
    raise AssertionError("unreachable: the last interval ends at 1")


def posterior(p_x_given_y: Any, p_y: Sequence[Any], x_index: int) -> list:
    """Bayes' rule for one feature value x (row `x_index` of the likelihood table):

        P(y | x) = P(x | y) P(y) / sum_y' P(x | y') P(y')

    Inputs: p_x_given_y (V, C) table of P(x|y) (rows x, columns y), p_y (C,) the prior,
    x_index in [0, V). Returns: list of C posteriors (Fractions stay exact).
    Raises ValueError when P(x) = sum_y P(x|y) P(y) is 0 (x never occurs: no posterior).
    """
    row = list(p_x_given_y[x_index])
    if len(row) != len(p_y):
        raise ValueError(f"the likelihood row has {len(row)} classes but p_y has {len(p_y)}")
    joint = [likelihood * prior for likelihood, prior in zip(row, p_y)]
    evidence = sum(joint)
    if evidence == 0:
        raise ValueError(f"P(x) is 0 for x_index={x_index}: the posterior is undefined")
    return [value / evidence for value in joint]


def bayes_predict(p_x_given_y: Any, p_y: Sequence[Any], x_index: int) -> int:
    """The class of highest posterior, argmax_y P(x|y) P(y) (ties: the smaller index)."""
    scores = posterior(p_x_given_y, p_y, x_index)
    return max(range(len(scores)), key=lambda j: (scores[j], -j))


def binarize(images: Any, threshold: float = 0.5) -> np.ndarray:
    """Black-and-white images: 1 where a pixel is >= threshold, else 0. Any shape -> int64."""
    return (np.asarray(images) >= threshold).astype(np.int64)


def balanced_subset(labels: Any, per_class: int | None, seed: int = 0) -> np.ndarray:
    """Indices of a random subset with `per_class` examples of every class (None: all).

    Inputs: labels (N,) ints; per_class >= 1 (at most the size of the smallest class) or None.
    Returns: sorted int64 indices. The same seed gives the same subset.
    """
    labels = np.asarray(labels)
    if per_class is None:
        return np.arange(labels.shape[0])
    per_class = check_int("per_class", per_class, 1)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if members.size < per_class:
            raise ValueError(f"per_class={per_class} but class {c} has only {members.size} examples")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


class BernoulliNaiveBayes:
    """Class-conditional pixel model for binary images: given the class k, pixel j is 1 with
    probability p[k, j], independently of the other pixels ("naive" Bayes).

        p[k, j]    = (n_k(x_j = 1) + alpha) / (n_k + 2 alpha)       Laplace smoothing
        prior[k]   = (n_k + alpha) / (N + K alpha)
        log P(x|k) = sum_j x_j log p[k, j] + (1 - x_j) log(1 - p[k, j])
        predict(x) = argmax_k log P(x|k) + log prior[k]              Bayes' rule

    Without smoothing (alpha = 0) a pixel that is never ink in class k gets p = 0, and one ink
    pixel there makes log P(x|k) = -inf; alpha > 0 keeps every p strictly inside (0, 1).
    After `fit`: `p_` (K, D) and `log_prior_` (K,). sklearn-style: fit(X, y) then predict(X).
    """

    def __init__(self, alpha: float = 1.0, n_classes: int | None = None):
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.alpha = float(alpha)
        self.n_classes = n_classes

    def fit(self, X: Any, y: Any) -> "BernoulliNaiveBayes":
        """X (N, D) of 0/1, y (N,) ints in [0, K). K = n_classes, or max(y) + 1."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"need X (N, D) and y (N,), got {X.shape} and {y.shape}")
        n_classes = self.n_classes if self.n_classes is not None else int(y.max()) + 1
        one_hot = (y[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)  # (N, K)
        counts = one_hot.sum(axis=0)
        self.p_ = (one_hot.T @ X + self.alpha) / (counts[:, None] + 2 * self.alpha)
        self.log_prior_ = np.log((counts + self.alpha) / (counts.sum() + n_classes * self.alpha))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "p_"):
            raise RuntimeError("call fit(X, y) before using the model")

    def log_likelihood(self, X: Any) -> np.ndarray:
        """log P(x_n | y = k) for every row of X (N, D): (N, K) float64."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        return X @ np.log(self.p_).T + (1 - X) @ np.log1p(-self.p_).T

    def predict(self, X: Any) -> np.ndarray:
        """argmax_k log P(x|k) + log P(k) for every row: (N,) int64."""
        return np.argmax(self.log_likelihood(X) + self.log_prior_, axis=1)

    def sample(self, label: int, n: int, seed: int = 0) -> np.ndarray:
        """n binary images of class `label`: (n, D) int64, pixel j = 1 where u < p[label, j]
        with u = np.random.default_rng(seed).random((n, D))."""
        self._check_fitted()
        u = np.random.default_rng(seed).random((n, self.p_.shape[1]))
        return (u < self.p_[label]).astype(np.int64)


def accuracy_vs_training_size(models: Mapping[str, Callable[[], Any]], x_train: Any, t_train: Any,
                              x_test: Any, t_test: Any, per_class_sizes: Sequence[int | None],
                              repeats: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Test accuracy of several classifiers trained on growing balanced subsets.

    For each size in `per_class_sizes` (None = the whole training set, drawn once) and each
    repeat r, the same subset `balanced_subset(t_train, size, seed + r)` trains a fresh model
    from every factory in `models` (objects with sklearn's fit(X, y) / predict(X)).

    Returns: {"n_train": (S,) training-set sizes, name: (S, repeats) accuracies}; the row of a
    None size repeats its single value.
    """
    repeats = check_int("repeats", repeats, 1)
    x_train, t_train = np.asarray(x_train), np.asarray(t_train)
    x_test, t_test = np.asarray(x_test), np.asarray(t_test)
    out: dict[str, np.ndarray] = {name: np.zeros((len(per_class_sizes), repeats))
                                  for name in models}
    n_train = []
    for s, size in enumerate(per_class_sizes):
        for r in range(1 if size is None else repeats):
            idx = balanced_subset(t_train, size, seed + r)
            for name, make in models.items():
                model = make().fit(x_train[idx], t_train[idx])
                accuracy = float(np.mean(model.predict(x_test) == t_test))
                if size is None:        # the whole set: every repeat would be the same run
                    out[name][s, :] = accuracy
                else:
                    out[name][s, r] = accuracy
        n_train.append(len(idx))
    out["n_train"] = np.array(n_train)
    return out


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of `modes` points evenly spaced on a circle, the first at angle 0: (modes, 2).

    The mixture of `cnncourse.data.sample_gan_toy(kind="ring2d")` has its modes here.
    """
    modes = check_int("modes", modes, 1)
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def mode_coverage(samples: Any, centres: Any, max_distance: float) -> np.ndarray:
    """Share of the samples that lie within `max_distance` of each centre (nearest centre only).

        share[c] = #{n : nearest centre of x_n is c and |x_n - centre_c| <= max_distance} / N

    A generator that has collapsed onto a few modes gives a few large shares and zeros; one that
    covers the distribution gives about 1 / len(centres) each. Samples far from every centre
    count for no mode, so the shares sum to at most 1.

    Inputs: samples (N, d), centres (M, d), max_distance > 0. Returns: (M,) float64.
    """
    samples = np.asarray(samples, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"need samples (N, d) and centres (M, d), got {samples.shape} and "
                         f"{centres.shape}")
    if samples.shape[0] == 0:
        raise ValueError("need at least one sample")
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)   # (N, M)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(samples.shape[0]), nearest] <= max_distance
    return np.bincount(nearest[close], minlength=centres.shape[0]) / samples.shape[0]


def confidence_score(probabilities: Any, threshold: float = 0.9) -> dict[str, Any]:
    """A classifier's verdict on generated images: how many it recognises with confidence, and as
    which classes.

        confident = #{n : max_k P(k | x_n) > threshold} / N
        histogram[k] = #{n : argmax_k P(k | x_n) = k}

    Inputs: probabilities (N, K) rows of class probabilities (softmax outputs); threshold in
    [0, 1). Returns: {"confident": float, "histogram": (K,) int64, "classes_seen": number of
    classes predicted at least once}.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[0] == 0:
        raise ValueError(f"probabilities must be (N, K) with N >= 1, got {probabilities.shape}")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
    histogram = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1])
    return {"confident": float(np.mean(probabilities.max(axis=1) > threshold)),
            "histogram": histogram, "classes_seen": int(np.count_nonzero(histogram))}


# --- The naive Bayes explorer of notebook 08: one setting (training size, alpha) at a time. ---

def naive_bayes_snapshot(x_train: Any, t_train: Any, x_test: Any, t_test: Any,
                         per_class: int | None, alpha: float, repeats: int = 20, seed: int = 0,
                         n_classes: int | None = None, sample_seed: int = 0) -> dict[str, Any]:
    """What Bernoulli naive Bayes with smoothing `alpha` learns from `per_class` images per class.

    The training sets are the balanced subsets of `accuracy_vs_training_size` with the same
    `seed` (subset r = `balanced_subset(t_train, per_class, seed + r)`), so "accuracy" is exactly
    the row that function gives a `BernoulliNaiveBayes(alpha, n_classes)` factory at this size,
    and a curve computed there (logistic regression, say) compares like with like.

    Inputs: x_train (N, D) of 0/1, t_train (N,) ints in [0, K); x_test (M, D), t_test (M,);
    per_class, images per class (None: the whole training set); alpha > 0; repeats >= 1 random
    training sets; n_classes K (default max(t_train) + 1); sample_seed for the samples.
    Returns: {"p": (K, D) pixel table of the model fitted on the first training set (subset
    `seed`), "samples": (K, D) int64, row k = that model's `sample(k, 1, seed=sample_seed)`
    (the same uniform numbers for every alpha and size, so only p changes a sample),
    "accuracy": (repeats,) test accuracies (per_class=None: one run, repeated),
    "n_train": images in each training set}.
    """
    x_train, t_train = np.asarray(x_train), np.asarray(t_train)
    if x_train.ndim != 2 or t_train.shape != (x_train.shape[0],):
        raise ValueError(f"need x_train (N, D) and t_train (N,), got {x_train.shape} and "
                         f"{t_train.shape}")
    n_classes = int(t_train.max()) + 1 if n_classes is None else check_int("n_classes",
                                                                           n_classes, 1)
    sample_seed = check_int("sample_seed", sample_seed, 0)

    def make() -> BernoulliNaiveBayes:
        return BernoulliNaiveBayes(alpha=alpha, n_classes=n_classes)

    make()                                  # a bad alpha fails here, before any work
    result = accuracy_vs_training_size({"naive Bayes": make}, x_train, t_train, x_test, t_test,
                                       [per_class], repeats=repeats, seed=seed)
    first = balanced_subset(t_train, per_class, seed)
    model = make().fit(x_train[first], t_train[first])
    samples = np.concatenate([model.sample(k, 1, seed=sample_seed) for k in range(n_classes)])
    return {"p": model.p_, "samples": samples, "accuracy": result["naive Bayes"][0],
            "n_train": int(result["n_train"][0])}


def naive_bayes_report(snapshot: Mapping[str, Any], alpha: float, per_class: int | None,
                       others: Mapping[str, Any] | None = None) -> str:
    """The text of the naive Bayes explorer: the setting, the accuracies, the range of p.

    Inputs: snapshot from `naive_bayes_snapshot`; alpha and per_class, the setting it was made
    with; others, name -> (R,) accuracies of other models on the same training sets (the
    rows of `accuracy_vs_training_size` at this size). Accuracies print as mean +- standard
    deviation over the training sets. Returns: lines of text.
    """
    n_train = int(snapshot["n_train"])
    size = (f"all {n_train} training images" if per_class is None
            else f"{per_class} training image{'s' if per_class != 1 else ''} per class "
                 f"({n_train} in all)")
    runs = np.asarray(snapshot["accuracy"], dtype=float)
    rows = {f"naive Bayes, alpha = {alpha:.3g}": runs}
    rows.update({name: np.asarray(acc, dtype=float) for name, acc in (others or {}).items()})
    width = max(len(name) for name in rows)
    count = "one training set" if per_class is None else f"{runs.size} random training sets"
    lines = [f"{size}, alpha = {alpha:.3g}",
             f"test accuracy, mean +- std over {count}:"]
    lines += [f"  {name:<{width}}  {acc.mean():.3f} +- {acc.std():.3f}"
              for name, acc in rows.items()]
    p = np.asarray(snapshot["p"], dtype=float)
    lines.append(f"pixel probabilities p[k, j] of the first training set: {p.min():.3g} to "
                 f"{p.max():.3g}")
    return "\n".join(lines)

