"""Figures of notebook 09 (`cnncourse.viz.gan`), drawn with the Agg backend."""
import numpy as np
import pytest

from cnncourse.viz.gan import (gaussian_pdf, histogram_density, plot_class_histogram,
                               plot_density_snapshots, plot_generator_gradients,
                               plot_ring_snapshots, plot_snapshot_grids)




def test_gaussian_pdf_integrates_to_one_and_peaks_at_the_mean():
    x = np.linspace(-6, 14, 20001)
    pdf = gaussian_pdf(x, 4.0, 1.25)
    assert np.trapezoid(pdf, x) == pytest.approx(1.0, abs=1e-6)
    assert x[np.argmax(pdf)] == pytest.approx(4.0, abs=1e-3)
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian_pdf(x, 0, 0)


def test_histogram_density_integrates_to_the_share_inside():
    samples = np.concatenate([(np.arange(1000) + 0.5) / 1000, [5.0] * 250])
    edges = np.linspace(0, 1, 11)
    centres, density = histogram_density(samples[:, None], edges)
    assert centres.shape == density.shape == (10,)
    assert np.allclose(centres[:2], [0.05, 0.15])
    assert np.sum(density * np.diff(edges)) == pytest.approx(0.8)      # 250 of 1250 lie outside
    assert np.allclose(density, 0.8)


def test_plot_generator_gradients_draws_losses_and_gradient_sizes():
    d = np.linspace(0.01, 0.99, 50)
    axes = plot_generator_gradients(d, {"sat": np.log1p(-d), "ns": -np.log(d)},
                                    {"sat": -d, "ns": -(1 - d)})
    assert [line.get_label() for line in axes[0].get_lines()] == ["sat", "ns"]
    assert axes[1].get_yscale() == "log"
    assert np.all(axes[1].get_lines()[0].get_ydata() >= 0)             # |gradient|


def test_plot_density_snapshots_one_curve_per_snapshot():
    rng = np.random.default_rng(0)
    snapshots = [(1, rng.normal(0, 0.1, (500, 1))), (100, rng.normal(4, 1.25, (500, 1)))]
    ax = plot_density_snapshots(snapshots, 4.0, 1.25)
    assert [line.get_label() for line in ax.get_lines()] == ["G after 1 it.", "G after 100 it."]
    lo, hi = ax.get_xlim()
    assert lo < -0.1 and hi > 4 + 4 * 1.25


def test_plot_ring_snapshots_and_errors():
    real = np.random.default_rng(1).normal(size=(100, 2))
    snaps = [(10, real * 0.1), (20, real * 0.2)]
    axes = plot_ring_snapshots(real, snaps, centres=np.zeros((8, 2)), title="run")
    assert [ax.get_title() for ax in axes] == ["10 it.", "20 it."]
    assert axes[0].get_ylabel() == "run"
    import matplotlib.pyplot as plt
    _, one_axis = plt.subplots(1, 1)
    with pytest.raises(ValueError, match="need 2 axes"):
        plot_ring_snapshots(real, snaps, axes=[one_axis])


def test_plot_class_histogram_draws_shares():
    ax = plot_class_histogram({"real": np.array([5, 5]), "fake": np.array([1, 3])}, title="t")
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.5, 0.5, 0.25, 0.75])
    assert ax.get_title() == "t"


def test_plot_snapshot_grids_one_panel_per_snapshot():
    images = np.zeros((10, 1, 8, 8))
    axes = plot_snapshot_grids([(1, images), (100, images + 0.5)], n=4, nrow=2)
    assert [ax.get_title() for ax in axes] == ["1 it.", "100 it."]
    assert axes[0].get_images()[0].get_array().shape == (2 * 9 + 1, 2 * 9 + 1)


def test_plot_training_frame_draws_figure_one():
    from cnncourse.viz.gan import plot_training_frame
    x = np.linspace(-2, 10, 121)
    data = gaussian_pdf(x, 4.0, 1.25)
    d_values = np.linspace(0.2, 0.8, 121)
    samples = np.random.default_rng(0).normal(4, 1.25, (4000, 1))
    fig = plot_training_frame(x, data, samples, d_values, near_half=[(2.0, 5.0)], bins=30,
                              density_max=0.5, title="after 7")
    ax, ax_d = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["data density", "generator density G"]
    assert np.allclose(ax.get_lines()[0].get_ydata(), data)
    g_line = ax.get_lines()[1]
    width = 12 / 30
    assert np.sum(g_line.get_ydata()) * width == pytest.approx(1.0, abs=1e-3)   # a density
    assert ax.get_ylim() == (0, 0.5) and ax_d.get_ylim() == (0, 1)
    d_line = [line for line in ax_d.get_lines() if line.get_label() == "discriminator D(x)"][0]
    assert np.allclose(d_line.get_ydata(), d_values)
    spans = [p for p in ax_d.patches]
    assert len(spans) == 1 and spans[0].get_x() == pytest.approx(2.0)
    assert spans[0].get_width() == pytest.approx(3.0)
    assert ax.get_title() == "after 7" and not ax.texts           # nothing clipped


def test_plot_training_frame_marks_a_clipped_peak_and_checks_shapes():
    from cnncourse.viz.gan import plot_training_frame
    x = np.linspace(-2, 10, 61)
    spike = np.full(1000, 0.05)                                   # all samples in one bin
    fig = plot_training_frame(x, gaussian_pdf(x, 4, 1.25), spike, np.full(61, 0.5),
                              bins=60, density_max=0.5)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0, 0.5)
    assert [t.get_text() for t in ax.texts] == ["G's peak 5 (off the chart)"]
    fig = plot_training_frame(x, gaussian_pdf(x, 4, 1.25), spike, np.full(61, 0.5), bins=60)
    assert fig.axes[0].get_ylim()[1] == pytest.approx(5.5)       # default: the highest curve
    with pytest.raises(ValueError, match="must have the shape of x_grid"):
        plot_training_frame(x, np.zeros(60), spike, np.full(61, 0.5))
