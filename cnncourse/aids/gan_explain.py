"""Plain logic behind notebook 09's GAN training scrubber: one recorded step of a 1-D GAN run
(the losses of that iteration, the generator's samples, the discriminator's verdict D(x) on a
grid), where D(x) is near 1/2, and the text the scrubber shows.

numpy only and unit tested. The numbers come from the training run (`cnncourse.torch.gan`:
`train_gan`'s history and snapshots, `DiscriminatorRecorder`'s curves); `cnncourse.viz.gan`
draws a step (`plot_training_frame`) and `cnncourse.widgets.gan` wires the slider to it.

Goodfellow et al. (2014), Figure 1: at the game's end the generator's density matches the data's
and the discriminator cannot tell them apart, D(x) = 1/2 everywhere.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import as_float_array

__all__ = ["TrainingFrame", "training_frames", "near_half_intervals", "frame_report"]


@dataclass(frozen=True)
class TrainingFrame:
    """One recorded step of a 1-D GAN run.

    iteration: the step (after that many iterations of Algorithm 4-2);
    d_loss, g_loss: the losses of that iteration (-J_D and the generator's loss, as `train_gan`
    records them, measured before that iteration's updates); d_real, d_fake: mean D on that
    iteration's real and fake minibatches; samples (N,): the generator's samples from fixed
    noise after the step; d_values (P,): D(x) on the grid after the step.
    """

    iteration: int
    d_loss: float
    g_loss: float
    d_real: float
    d_fake: float
    samples: np.ndarray
    d_values: np.ndarray


def training_frames(history: Mapping[str, Sequence], d_curves: Sequence[tuple[int, Any]],
                    x_grid: Any) -> list[TrainingFrame]:
    """Pair the generator snapshots of a run with the recorded D(x) curves, step by step, and look
    up each step's losses in the per-iteration history.

    Inputs:
    - history: `train_gan`'s dict with the per-iteration lists "iteration", "d_loss", "g_loss",
      "d_real", "d_fake" and "snapshots", a list of (iteration, samples (N,) or (N, 1))
    - d_curves: (iteration, D(x) (P,)) pairs recorded at the same iterations as the snapshots
    - x_grid: (P,) the points where D was evaluated

    Returns: one TrainingFrame per snapshot, in the order of the snapshots. Raises ValueError
    (naming the argument) for a history without snapshots, curves recorded at other iterations,
    a curve of another length than x_grid, or samples that are not 1-D.
    """
    x_grid = as_float_array("x_grid", x_grid, ndim=1)
    missing = [key for key in ("iteration", "d_loss", "g_loss", "d_real", "d_fake", "snapshots")
               if key not in history]
    if missing:
        raise ValueError(f"history lacks {missing}: pass train_gan's history of a run with "
                         f"snapshot_every")
    snapshots = list(history["snapshots"])
    if not snapshots:
        raise ValueError("history['snapshots'] is empty: train with snapshot_every")
    steps = [int(iteration) for iteration, _ in snapshots]
    curve_steps = [int(iteration) for iteration, _ in d_curves]
    if curve_steps != steps:
        raise ValueError(f"d_curves were recorded at iterations {curve_steps[:4]}..., the "
                         f"snapshots at {steps[:4]}...: record both on one schedule")
    row_of = {int(iteration): row for row, iteration in enumerate(history["iteration"])}
    frames = []
    for (step, samples), (_, d_values) in zip(snapshots, d_curves):
        step = int(step)
        if step not in row_of:
            raise ValueError(f"history has no iteration {step} (snapshot taken at {step})")
        samples = np.asarray(samples, dtype=np.float64)
        if samples.ndim == 2 and samples.shape[1] == 1:
            samples = samples[:, 0]
        if samples.ndim != 1 or samples.size == 0:
            raise ValueError(f"snapshot {step}: samples must be 1-D, (N,) or (N, 1), got shape "
                             f"{samples.shape}")
        d_values = as_float_array(f"d_curves[{step}]", d_values, ndim=1)
        if d_values.shape != x_grid.shape:
            raise ValueError(f"d_curves at iteration {step} has shape {d_values.shape}, x_grid "
                             f"{x_grid.shape}: evaluate D on x_grid")
        row = row_of[step]
        frames.append(TrainingFrame(step, float(history["d_loss"][row]),
                                    float(history["g_loss"][row]), float(history["d_real"][row]),
                                    float(history["d_fake"][row]), samples, d_values))
    return frames


def near_half_intervals(x: Any, d_values: Any, tol: float = 0.05) -> list[tuple[float, float]]:
    """Where the discriminator cannot tell: the maximal runs of grid points with
    |D(x) - 1/2| <= tol, as (first x, last x) pairs in increasing order.

    Inputs: x (P,) increasing grid; d_values (P,) D(x); tol in [0, 0.5].
    Returns: list of (x_start, x_end) floats; [] when D is never that close to 1/2, and one pair
    (x[0], x[-1]) when it is everywhere on the grid.
    """
    x = as_float_array("x", x, ndim=1)
    d_values = as_float_array("d_values", d_values, ndim=1)
    if x.shape != d_values.shape or x.size == 0:
        raise ValueError(f"x and d_values must have one equal, non-zero length, got {x.shape} "
                         f"and {d_values.shape}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    if not 0 <= tol <= 0.5:
        raise ValueError(f"tol must lie in [0, 0.5], got {tol}")
    near = np.abs(d_values - 0.5) <= tol
    # Starts and ends of the runs of True: where the padded mask changes.
    edges = np.flatnonzero(np.diff(np.concatenate([[False], near, [False]]).astype(np.int8)))
    return [(float(x[start]), float(x[end - 1])) for start, end in zip(edges[::2], edges[1::2])]


def _num(value: float) -> str:
    return f"{round(float(value), 2):g}"


def frame_report(frame: TrainingFrame, x_grid: Any, tol: float = 0.05,
                 last_iteration: int | None = None) -> str:
    """The scrubber's text for one step: the step, the two losses of that iteration, mean D on
    that iteration's minibatches, the generator's sample mean and std, and where D(x) is within
    tol of 1/2 on the grid.

    Example line: "D(x) within 0.05 of 1/2: on all of [-2, 10]" or "... on x in [1.5, 3.2]
    (30% of the grid); D(x) from 0.38 to 0.62".
    """
    x_grid = as_float_array("x_grid", x_grid, ndim=1)
    intervals = near_half_intervals(x_grid, frame.d_values, tol)
    span = f"[{_num(x_grid[0])}, {_num(x_grid[-1])}]"
    share = float(np.mean(np.abs(frame.d_values - 0.5) <= tol))
    if intervals == [(float(x_grid[0]), float(x_grid[-1]))]:
        where = f"on all of {span}"
    elif not intervals:
        where = f"nowhere on {span}"
    else:
        pieces = ", ".join(f"[{_num(lo)}, {_num(hi)}]" for lo, hi in intervals)
        where = f"on x in {pieces} ({share:.0%} of the grid)"
    of_total = f" of {last_iteration}" if last_iteration is not None else ""
    return "\n".join([
        f"iteration {frame.iteration}{of_total}",
        f"losses of this iteration: D {frame.d_loss:.3f} (= -J_D), G {frame.g_loss:.3f}",
        f"mean D on its real minibatch {frame.d_real:.2f}, on its fakes {frame.d_fake:.2f}",
        f"G(z) on {frame.samples.size} fixed seeds: mean {frame.samples.mean():.2f}, "
        f"std {frame.samples.std():.2f}",
        f"D(x) within {tol:g} of 1/2: {where}; D(x) from {frame.d_values.min():.2f} "
        f"to {frame.d_values.max():.2f}",
    ])
