"""Widget for notebook 08: the naive Bayes explorer (Laplace smoothing against training size).

Only wiring lives here (ipywidgets and matplotlib are imported inside the builder); the numbers
come from `cnncourse.aids.generative.naive_bayes_snapshot` and `naive_bayes_report`, the figure
from `cnncourse.viz.generative.plot_pixel_model`. The slow part, a discriminative model's
accuracy curve, is computed once before (`accuracy_vs_training_size`) and passed in.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..aids.generative import naive_bayes_report, naive_bayes_snapshot
from ._common import pre, with_parts

__all__ = ["ALPHAS", "naive_bayes_explorer"]

# The smoothing values of the alpha slider: about two per decade, round numbers, 1 included.
ALPHAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def _size_label(per_class: int | None, n_train: int) -> str:
    return f"all {n_train}" if per_class is None else f"{per_class}/class"


def naive_bayes_explorer(x_train: Any, t_train: Any, x_test: Any, t_test: Any,
                         curves: Mapping[str, Any], per_class_sizes: Sequence[int | None],
                         seed: int = 0, image_shape: Sequence[int] | None = None,
                         start: int | None = None):
    """Move Laplace's alpha and the training-set size; see the pixel model and its accuracy.

    Inputs: binary training and test images x_train (N, D), x_test (M, D) with labels t_train,
    t_test; curves, the result of `accuracy_vs_training_size(models, x_train, t_train, x_test,
    t_test, per_class_sizes, repeats=R, seed=seed)` (precomputed: it holds the slow models);
    per_class_sizes and seed, the ones that made `curves`, so naive Bayes is trained on the
    very same R training sets; image_shape (H, W) (default: square); start, the per-class size
    shown first (default: the middle of per_class_sizes).

    Controls: ``alpha`` (a selection slider over `ALPHAS`, 0.001 to 100) and ``per_class``
    (a selection slider over per_class_sizes, value = its index). Output: ``report`` (HTML
    with `naive_bayes_report`: naive Bayes at this alpha next to every model of `curves` at
    this size) and a figure (`plot_pixel_model`: p[k] and one sample per class, and the
    accuracy curves with this setting as a star). Returns the ipywidgets VBox with those
    attributes (the figure's Output widget as ``picture``).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..viz.generative import plot_pixel_model

    sizes = list(per_class_sizes)
    if "n_train" not in curves:
        raise ValueError("curves must be a result of accuracy_vs_training_size (no 'n_train')")
    n_train = np.asarray(curves["n_train"])
    others = {name: np.asarray(runs, dtype=float) for name, runs in curves.items()
              if name != "n_train"}
    if not others:
        raise ValueError("curves holds no model's accuracies")
    if len(sizes) != n_train.shape[0]:
        raise ValueError(f"per_class_sizes has {len(sizes)} sizes but curves has "
                         f"{n_train.shape[0]}")
    shapes = {runs.shape for runs in others.values()}
    (shape,) = shapes if len(shapes) == 1 else (None,)
    if shape is None or len(shape) != 2 or shape[0] != len(sizes):
        raise ValueError(f"curves needs one (S, R) array per model with S = {len(sizes)}, got "
                         f"shapes {sorted(shapes)}")
    repeats = shape[1]               # R training sets per size: naive Bayes uses the same ones
    dim = np.asarray(x_train).shape[1]
    if image_shape is None:
        side = int(round(dim ** 0.5))
        if side * side != dim:
            raise ValueError(f"image_shape is needed: {dim} pixels are not a square image")
        image_shape = (side, side)
    if start is None:
        start_index = len(sizes) // 2
    elif start in sizes:
        start_index = sizes.index(start)
    else:
        raise ValueError(f"start={start} is not one of per_class_sizes {sizes}")

    alpha = widgets.SelectionSlider(options=[(f"{a:g}", a) for a in ALPHAS], value=1.0,
                                    description="alpha (α)", continuous_update=False,
                                    style={"description_width": "initial"})
    per_class = widgets.SelectionSlider(
        options=[(_size_label(s, int(n)), i) for i, (s, n) in enumerate(zip(sizes, n_train))],
        value=start_index, description="training set", continuous_update=False,
        style={"description_width": "initial"}, layout=widgets.Layout(width="420px"))
    report = widgets.HTML()
    picture = widgets.Output()
    cache: dict[tuple[int, float], dict[str, Any]] = {}

    def update(_change=None) -> None:
        index, a = per_class.value, float(alpha.value)
        key = (index, a)
        if key not in cache:
            cache[key] = naive_bayes_snapshot(x_train, t_train, x_test, t_test, sizes[index], a,
                                              repeats=repeats, seed=seed)
        snapshot = cache[key]
        at_this_size = {name: runs[index] for name, runs in others.items()}
        report.value = pre(naive_bayes_report(snapshot, a, sizes[index], at_this_size))
        picture.clear_output(wait=True)
        with picture:
            fig = plot_pixel_model(snapshot["p"], snapshot["samples"], image_shape, curves=curves,
                                   point=(snapshot["n_train"], snapshot["accuracy"],
                                          f"naive Bayes, α = {a:.3g}"))
            plt.show()
            plt.close(fig)

    for control in (alpha, per_class):
        control.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([alpha, per_class]), report, picture])
    return with_parts(box, alpha=alpha, per_class=per_class, report=report, picture=picture)
