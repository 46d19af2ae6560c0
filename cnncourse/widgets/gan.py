"""Widget for notebook 09: the GAN training scrubber (Goodfellow et al.'s Figure 1, step by step).

Only wiring lives here (ipywidgets and matplotlib are imported inside the builder). The widget
never trains: it shows what a finished run recorded. The steps and their text come from
`cnncourse.aids.gan_explain` (`training_frames`, `near_half_intervals`, `frame_report`), the
drawing from `cnncourse.viz.gan.plot_training_frame`; the run itself from
`cnncourse.torch.gan.train_gan` with a `DiscriminatorRecorder` callback.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import as_float_array
from ..aids.gan_explain import frame_report, near_half_intervals, training_frames
from ._common import pre, with_parts

__all__ = ["gan_training_scrubber"]


def gan_training_scrubber(history: Mapping[str, Sequence], d_curves: Sequence[tuple[int, Any]],
                          x_grid: Any, data_density: Any, tol: float = 0.05, bins: int = 60,
                          density_max: float | None = None):
    """Move a slider over the recorded steps of a 1-D GAN run; see the data density, the
    generator's density and the discriminator's D(x) of that step on one plot, with the step,
    the two losses of that iteration and where D(x) is within `tol` of 1/2 in text.

    Inputs:
    - history: `train_gan`'s history of the run (with "snapshots": train with snapshot_every)
    - d_curves: `DiscriminatorRecorder(...).curves` of the same run, recorded on the same
      schedule: (iteration, D(x_grid) (P,)) pairs
    - x_grid: (P,) increasing points where D was evaluated; the plot spans them
    - data_density: (P,) the data's density on x_grid
    - tol: how close to 1/2 counts as "cannot tell" (0 < tol < 0.5); bins of the generator's
      histogram over x_grid's range
    - density_max: the top of the density axis, the same at every step so that steps compare
      (default 2.2 times the data's peak: the untrained generator's narrow spike is clipped and
      the figure writes its height)

    Returns an ipywidgets VBox with attributes ``step`` (SelectionSlider over the recorded
    iterations), ``play`` (Play button stepping the slider), ``report`` (HTML with
    `frame_report`'s text), ``picture`` (Output with the figure) and ``frames`` (the
    `TrainingFrame`s shown).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..viz.gan import plot_training_frame

    x_grid = as_float_array("x_grid", x_grid, ndim=1)
    if x_grid.size < 2 or np.any(np.diff(x_grid) <= 0):
        raise ValueError(f"x_grid must hold at least 2 strictly increasing points, got shape "
                         f"{x_grid.shape}")
    data_density = as_float_array("data_density", data_density, ndim=1)
    if data_density.shape != x_grid.shape:
        raise ValueError(f"data_density must have the shape of x_grid {x_grid.shape}, got "
                         f"{data_density.shape}")
    if not 0 < tol < 0.5:
        raise ValueError(f"tol must lie strictly between 0 and 0.5, got {tol}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    frames = training_frames(history, d_curves, x_grid)
    by_step = {frame.iteration: frame for frame in frames}
    last_iteration = int(history["iteration"][-1])
    if density_max is None:
        density_max = 2.2 * float(data_density.max())
    if not density_max > 0:
        raise ValueError(f"density_max must be positive, got {density_max}")

    step = widgets.SelectionSlider(options=[frame.iteration for frame in frames],
                                   value=frames[0].iteration, description="iteration",
                                   continuous_update=False,
                                   layout=widgets.Layout(width="520px"))
    play = widgets.Play(value=0, min=0, max=len(frames) - 1, step=1, interval=400,
                        description="play the run")
    widgets.jslink((play, "value"), (step, "index"))
    report = widgets.HTML()
    picture = widgets.Output()

    def update(_change=None) -> None:
        frame = by_step[step.value]
        report.value = pre(frame_report(frame, x_grid, tol, last_iteration))
        picture.clear_output(wait=True)
        with picture:
            fig, ax = plt.subplots(figsize=(9, 3.6))
            plot_training_frame(x_grid, data_density, frame.samples, frame.d_values,
                                near_half=near_half_intervals(x_grid, frame.d_values, tol),
                                bins=bins, density_max=density_max,
                                title=f"after {frame.iteration} of {last_iteration} iterations",
                                ax=ax)
            plt.show()
            plt.close(fig)

    step.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([play, step]), report, picture])
    return with_parts(box, step=step, play=play, report=report, picture=picture, frames=frames)
