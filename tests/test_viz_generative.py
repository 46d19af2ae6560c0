"""Figures of notebook 08 (`cnncourse.viz.generative`), drawn with the Agg backend."""
from fractions import Fraction

import numpy as np
import pytest

from cnncourse.aids import generative as gen
from cnncourse.data import generative_toy
from cnncourse.viz.generative import (as_float_table, interval_label, plot_accuracy_vs_size,
                                      plot_intervals, plot_tables)




def test_as_float_table_turns_none_into_nan():
    table = as_float_table([[Fraction(1, 3), None], [0, 1.0]])
    assert table.shape == (2, 2) and np.isnan(table[0, 1])
    assert table[0, 0] == pytest.approx(1 / 3)


def test_interval_label_closes_the_first_interval_only():
    assert interval_label(0, Fraction(1, 5), first=True) == "[0, 0.2]"
    assert interval_label(Fraction(1, 5), Fraction(1, 2), first=False) == "(0.2, 0.5]"


def test_plot_tables_draws_every_entry():
    tables = gen.estimate_tables(*generative_toy())
    axes = plot_tables(tables, gen.BINARY_PAIRS)
    assert [ax.get_title() for ax in axes] == ["P(x)", "P(x | y)", "P(x, y)", "P(y | x)"]
    assert len(axes[0].patches) == 4 and all(len(ax.patches) == 8 for ax in axes[1:])
    heights = [p.get_height() for p in axes[3].patches]
    assert heights[:4] == pytest.approx([0, 1 / 3, 1, 0.75])          # y = 0 bars of P(y|x)
    assert "0.33" in [t.get_text() for t in axes[3].texts]


def test_plot_tables_marks_undefined_entries():
    tables = gen.estimate_tables([[1, 1]], [0])
    axes = plot_tables(tables, gen.BINARY_PAIRS)
    assert "undef." in [t.get_text() for t in axes[3].texts]


def test_plot_intervals_segments_and_markers():
    ax = plot_intervals([0.2, 0.3, 0.1, 0.4], gen.BINARY_PAIRS, us=[0.34, 0.83], picks=[1, 3])
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.2, 0.3, 0.1, 0.4])
    texts = [t.get_text() for t in ax.texts]
    assert "[0, 0.2]" in texts and "(0.6, 1]" in texts and "-> (1,1)" in texts
    assert "u = 0.34" in texts


def test_plot_accuracy_vs_size_draws_mean_per_model():
    result = {"n_train": np.array([10, 100]), "a": np.array([[0.5, 0.7], [0.8, 0.8]]),
              "b": np.array([[0.4, 0.4], [0.9, 0.9]])}
    ax = plot_accuracy_vs_size(result, title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_lines()[0].get_ydata().tolist() == pytest.approx([0.6, 0.8])
    assert ax.get_xscale() == "log" and ax.get_title() == "t"
    with pytest.raises(ValueError, match="1 rows for 2 sizes"):
        plot_accuracy_vs_size({"n_train": [1, 2], "a": [[0.5]]})


def test_plot_pixel_model_draws_maps_samples_and_the_current_setting():
    import matplotlib.pyplot as plt

    from cnncourse.viz.generative import plot_pixel_model

    p = np.linspace(0, 1, 3 * 6).reshape(3, 6)
    samples = (p > 0.5).astype(np.int64)
    curves = {"n_train": np.array([3, 30]), "nb": np.array([[0.5, 0.7], [0.8, 0.8]])}
    fig = plot_pixel_model(p, samples, (2, 3), curves=curves, point=(30, [0.7, 0.9], "now"))
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 6 and len(fig.axes) == 7
    assert [ax.get_title() for ax in images[0::2]] == ["k = 0", "k = 1", "k = 2"]
    assert np.allclose(images[2].images[0].get_array(), p[1].reshape(2, 3))     # p[1], top row
    assert np.array_equal(images[3].images[0].get_array(), samples[1].reshape(2, 3))
    accuracy = fig.axes[-1]
    assert accuracy.get_xscale() == "log"
    assert [t.get_text() for t in accuracy.get_legend().get_texts()] == ["nb", "now"]
    star = [line for line in accuracy.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and star[0].get_ydata().tolist() == pytest.approx([0.8])
    plt.close(fig)
    only_maps = plot_pixel_model(p, samples, (2, 3))
    assert len(only_maps.axes) == 6
    plt.close(only_maps)
    with pytest.raises(ValueError, match="image_shape"):
        plot_pixel_model(p, samples, (4, 4))
