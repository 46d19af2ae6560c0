"""The notebook-09 GAN training scrubber shows recorded steps and reacts to its slider."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse.aids.gan_explain import frame_report, training_frames  # noqa: E402
from cnncourse.viz.gan import gaussian_pdf  # noqa: E402
from cnncourse.widgets.gan import gan_training_scrubber  # noqa: E402

GRID = np.linspace(-2, 10, 49)


def _run():
    """A made-up 1-D run recorded at iterations 1, 10, 20, 30: the generator walks from 0 to 3,
    D goes from a slope to flat 1/2."""
    iterations = list(range(1, 31))
    rng = np.random.default_rng(0)
    steps = [1, 10, 20, 30]
    history = {"iteration": iterations, "d_loss": [1.0 + i / 100 for i in iterations],
               "g_loss": [0.5 + i / 100 for i in iterations], "d_real": [0.6] * 30,
               "d_fake": [0.4] * 30,
               "snapshots": [(s, rng.normal(s / 10, 0.5, (400, 1))) for s in steps]}
    slopes = {1: 0.3, 10: 0.2, 20: 0.05, 30: 0.0}
    curves = [(s, 0.5 + slopes[s] * np.tanh(GRID - 4)) for s in steps]
    return history, curves


@pytest.fixture
def shown(monkeypatch):
    """The figures the widget shows: (G line, D line) y-data, captured at plt.show()."""
    figures = []

    def capture(*_args, **_kwargs):
        fig = plt.gcf()
        ax, ax_d = fig.axes
        figures.append({"title": ax.get_title(), "top": ax.get_ylim()[1],
                        "g": ax.get_lines()[1].get_ydata().copy(),
                        "d": [ln for ln in ax_d.get_lines()
                              if ln.get_label() == "discriminator D(x)"][0].get_ydata().copy()})

    monkeypatch.setattr(plt, "show", capture)
    return figures


def test_scrubber_shows_the_chosen_step(shown):
    history, curves = _run()
    box = gan_training_scrubber(history, curves, GRID, gaussian_pdf(GRID, 4, 1.25))
    assert isinstance(box, widgets.VBox)
    assert isinstance(box.step, widgets.SelectionSlider)
    assert list(box.step.options) == [1, 10, 20, 30] and box.step.value == 1
    assert (box.play.min, box.play.max) == (0, 3)
    frames = training_frames(history, curves, GRID)
    first = frame_report(frames[0], GRID, 0.05, 30)
    assert first.splitlines()[0] == "iteration 1 of 30"
    assert first.splitlines()[-1] in box.report.value
    assert "losses of this iteration: D 1.010 (= -J_D), G 0.510" in box.report.value
    assert len(shown) == 1 and shown[0]["title"] == "after 1 of 30 iterations"
    assert np.allclose(shown[0]["d"], curves[0][1])
    box.step.value = 30
    assert "iteration 30 of 30" in box.report.value
    assert "D 1.300 (= -J_D), G 0.800" in box.report.value
    assert "within 0.05 of 1/2: on all of [-2, 10]" in box.report.value
    assert len(shown) == 2 and shown[1]["title"] == "after 30 of 30 iterations"
    assert np.allclose(shown[1]["d"], 0.5)
    assert not np.allclose(shown[0]["g"], shown[1]["g"])          # the generator moved
    assert shown[0]["top"] == shown[1]["top"] == pytest.approx(2.2 * gaussian_pdf(4, 4, 1.25))
    box.step.index = 2                                              # what the Play button moves
    assert "iteration 20 of 30" in box.report.value and len(shown) == 3


def test_scrubber_tolerance_changes_the_text(shown):
    history, curves = _run()
    box = gan_training_scrubber(history, curves, GRID, gaussian_pdf(GRID, 4, 1.25), tol=0.25)
    assert "within 0.25 of 1/2: on x in" in box.report.value       # slope 0.3: not everywhere
    box.step.value = 10
    assert "within 0.25 of 1/2: on all of [-2, 10]" in box.report.value
    box = gan_training_scrubber(history, curves, GRID, gaussian_pdf(GRID, 4, 1.25), density_max=2.0)
    assert shown[-1]["top"] == 2.0


def test_scrubber_rejects_bad_input():
    history, curves = _run()
    density = gaussian_pdf(GRID, 4, 1.25)
    with pytest.raises(ValueError, match="data_density must have the shape of x_grid"):
        gan_training_scrubber(history, curves, GRID, density[:-1])
    with pytest.raises(ValueError, match="x_grid must hold at least 2 strictly increasing"):
        gan_training_scrubber(history, curves, GRID[::-1], density)
    with pytest.raises(ValueError, match="tol must lie strictly between 0 and 0.5"):
        gan_training_scrubber(history, curves, GRID, density, tol=0.5)
    with pytest.raises(ValueError, match="density_max must be positive"):
        gan_training_scrubber(history, curves, GRID, density, density_max=0.0)
    with pytest.raises(ValueError, match="bins must be a positive int"):
        gan_training_scrubber(history, curves, GRID, density, bins=0)
    with pytest.raises(ValueError, match="one schedule"):
        gan_training_scrubber(history, curves[1:], GRID, density)
    with pytest.raises(ValueError, match="a run with snapshot_every"):
        gan_training_scrubber({k: v for k, v in history.items() if k != "snapshots"}, curves,
                              GRID, density)
