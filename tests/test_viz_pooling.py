"""The notebook-05 figure builders run under Agg and draw what they claim."""
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids import pool_explain as pe  # noqa: E402
from cnncourse.pooling import Pooling  # noqa: E402
from cnncourse.viz import pooling as vp  # noqa: E402



def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _outlines(ax, color):
    from matplotlib.colors import to_rgba
    return [p for p in ax.patches if not p.get_fill() and p.get_edgecolor() == to_rgba(color)]


def test_draw_value_grid_writes_every_number():
    fig, ax = plt.subplots()
    vp.draw_value_grid(ax, np.array([[1.5, 2.0], [3.0, -4.0]]), "t")
    assert _texts(ax) == ["1.5", "2", "3", "-4"] and len(ax.patches) == 4
    assert ax.get_title() == "t"
    with pytest.raises(ValueError, match="2-D"):
        vp.draw_value_grid(ax, np.ones(3))


def test_draw_pooling_tiles_and_outputs():
    x = pe.tie_example()[:4, :4]
    outs = {"max": Pooling(2, 2).forward(x[None, None])[0, 0],
            "avg": Pooling(2, 2, mode="avg").forward(x[None, None])[0, 0]}
    fig = vp.draw_pooling(x, outs, 2, 2)
    assert len(fig.axes) == 3
    assert _texts(fig.axes[1]) == ["3", "3", "4", "5"]
    assert _texts(fig.axes[2]) == ["2.25", "1.25", "2", "4.25"]
    # the four windows get four different fills, matched by their output cells
    input_fills = {p.get_facecolor() for p in fig.axes[0].patches}
    output_fills = {p.get_facecolor() for p in fig.axes[1].patches}
    assert len(input_fills) == 4 and input_fills == output_fills
    overlapping = vp.draw_pooling(pe.tie_example(), {"max": np.zeros((2, 2))}, 3, 3, 2)
    assert len(_outlines(overlapping.axes[0], vp._WINDOW_COLOR)) == 1
    with pytest.raises(ValueError, match="differ in shape"):
        vp.draw_pooling(x, {"a": np.zeros((2, 2)), "b": np.zeros((3, 3))}, 2, 2)
    with pytest.raises(ValueError, match="at least one"):
        vp.draw_pooling(x, {}, 2, 2)


def test_draw_routing_marks_winner_ties_and_gradients():
    x = pe.tie_example()
    fig = vp.draw_routing(x, 2, 2, None, window=(1, 1), upstream=2.0)
    ax_in, ax_max, ax_avg = fig.axes
    assert len(_outlines(ax_in, vp._WINNER_COLOR)) == 1      # one pixel gets the gradient
    assert len(_outlines(ax_in, vp._TIE_COLOR)) == 2         # the two other 5s
    assert _texts(ax_max).count("2") == 1 and _texts(ax_max).count("0") == 35
    assert _texts(ax_avg).count("0.5") == 4
    every = vp.draw_routing(x, 3, 3, 2, window=None)
    assert "every window" in every._suptitle.get_text()
    assert "3" in _texts(every.axes[1])                      # the 5 at (2, 2) wins 3 windows


def test_plot_shift_study_boxes_and_means():
    results = {"input": {"changed": np.array([0.9, 1.0]), "relative": np.array([0.5, 0.7])},
               "max": {"changed": np.array([0.4, 0.6]), "relative": np.array([0.2, 0.4])}}
    fig = vp.plot_shift_study(results)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["input", "max"]
    assert "0.95" in _texts(ax) and "0.50" in _texts(ax)
    rel = vp.plot_shift_study(results, metric="relative")
    assert "0.60" in _texts(rel.axes[0])
    with pytest.raises(ValueError, match="metric"):
        vp.plot_shift_study(results, metric="l1")
    with pytest.raises(ValueError, match="at least one"):
        vp.plot_shift_study({})


def test_plot_param_comparison_stacks_kinds():
    models = {"FC head": {"conv": 100, "fc": 900, "total": 1000},
              "GAP head": {"conv": 100, "fc": 10}}
    fig = vp.plot_param_comparison(models)
    ax = fig.axes[0]
    assert len(ax.patches) == 4                                # 2 models x 2 kinds
    assert "1,000" in _texts(ax) and "110" in _texts(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["conv", "fc"]
    with pytest.raises(ValueError, match="non-negative"):
        vp.plot_param_comparison({"bad": {"fc": -1}})
    with pytest.raises(ValueError, match="at least one"):
        vp.plot_param_comparison({})
