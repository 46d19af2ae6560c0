"""The logic behind notebook 09's GAN training scrubber (`cnncourse.aids.gan_explain`)."""
import numpy as np
import pytest

from cnncourse.aids.gan_explain import (TrainingFrame, frame_report, near_half_intervals,
                                        training_frames)


def _run(steps=(1, 10, 20), n=50, grid=np.linspace(-1, 1, 5)):
    """A made-up run: three snapshots and curves, per-iteration losses that name their row."""
    iterations = list(range(1, steps[-1] + 1))
    history = {"iteration": iterations,
               "d_loss": [1000 + i for i in iterations], "g_loss": [2000 + i for i in iterations],
               "d_real": [0.5 + i / 100 for i in iterations],
               "d_fake": [0.5 - i / 100 for i in iterations],
               "snapshots": [(s, np.full((n, 1), float(s))) for s in steps]}
    curves = [(s, np.full(grid.shape, 0.5 + s / 100)) for s in steps]
    return history, curves, grid


def test_near_half_intervals_finds_the_runs():
    x = np.arange(8.0)
    d = np.array([0.9, 0.52, 0.48, 0.2, 0.54, 0.5, 0.5, 0.1])
    assert near_half_intervals(x, d, tol=0.05) == [(1.0, 2.0), (4.0, 6.0)]
    assert near_half_intervals(x, d, tol=0.03) == [(1.0, 2.0), (5.0, 6.0)]
    assert near_half_intervals(x, d, tol=0.5) == [(0.0, 7.0)]            # everywhere
    assert near_half_intervals(x, np.full(8, 0.9)) == []                  # nowhere
    assert near_half_intervals([3.0], [0.5]) == [(3.0, 3.0)]
    assert near_half_intervals(x, np.where(x < 4, 0.5, 0.9)) == [(0.0, 3.0)]   # run at the start
    assert near_half_intervals(x, np.where(x < 4, 0.9, 0.5)) == [(4.0, 7.0)]   # and at the end


def test_near_half_intervals_rejects_bad_input():
    x = np.arange(4.0)
    with pytest.raises(ValueError, match="one equal, non-zero length"):
        near_half_intervals(x, np.full(3, 0.5))
    with pytest.raises(ValueError, match="one equal, non-zero length"):
        near_half_intervals([], [])
    with pytest.raises(ValueError, match="strictly increasing"):
        near_half_intervals([0.0, 2.0, 1.0, 3.0], np.full(4, 0.5))
    with pytest.raises(ValueError, match="tol must lie in"):
        near_half_intervals(x, np.full(4, 0.5), tol=-0.1)
    with pytest.raises(ValueError, match="d_values must be 1-D"):
        near_half_intervals(x, np.full((4, 1), 0.5))


def test_training_frames_pair_snapshots_curves_and_losses():
    history, curves, grid = _run()
    frames = training_frames(history, curves, grid)
    assert [f.iteration for f in frames] == [1, 10, 20]
    assert all(isinstance(f, TrainingFrame) for f in frames)
    second = frames[1]
    assert (second.d_loss, second.g_loss) == (1010.0, 2010.0)      # the row of iteration 10
    assert (second.d_real, second.d_fake) == pytest.approx((0.6, 0.4))
    assert second.samples.shape == (50,) and np.all(second.samples == 10.0)   # (N, 1) -> (N,)
    assert np.allclose(second.d_values, 0.6) and second.d_values.shape == grid.shape


def test_training_frames_reject_mismatched_records():
    history, curves, grid = _run()
    with pytest.raises(ValueError, match="one schedule"):
        training_frames(history, curves[:2], grid)
    with pytest.raises(ValueError, match="evaluate D on x_grid"):
        training_frames(history, [(s, np.zeros(3)) for s, _ in curves], grid)
    with pytest.raises(ValueError, match="lacks \\['snapshots'\\]"):
        training_frames({k: v for k, v in history.items() if k != "snapshots"}, curves, grid)
    with pytest.raises(ValueError, match="is empty"):
        training_frames({**history, "snapshots": []}, [], grid)
    two_d = {**history, "snapshots": [(s, np.zeros((4, 2))) for s, _ in history["snapshots"]]}
    with pytest.raises(ValueError, match="samples must be 1-D"):
        training_frames(two_d, curves, grid)
    with pytest.raises(ValueError, match="history has no iteration 20"):
        training_frames({**history, "iteration": history["iteration"][:15]}, curves, grid)


def test_frame_report_states_step_losses_and_where_d_is_near_half():
    grid = np.linspace(-2, 10, 7)                       # -2, 0, 2, ..., 10
    samples = np.array([1.0, 3.0])
    flat = TrainingFrame(200, 1.3863, 0.6931, 0.51, 0.49, samples, np.full(7, 0.5))
    text = frame_report(flat, grid, tol=0.05, last_iteration=500)
    lines = text.splitlines()
    assert lines[0] == "iteration 200 of 500"
    assert lines[1] == "losses of this iteration: D 1.386 (= -J_D), G 0.693"
    assert lines[2] == "mean D on its real minibatch 0.51, on its fakes 0.49"
    assert lines[3] == "G(z) on 2 fixed seeds: mean 2.00, std 1.00"
    assert lines[4] == "D(x) within 0.05 of 1/2: on all of [-2, 10]; D(x) from 0.50 to 0.50"
    slope = TrainingFrame(50, 1.2, 0.6, 0.7, 0.6, samples,
                          np.array([0.3, 0.47, 0.52, 0.6, 0.5, 0.46, 0.9]))
    text = frame_report(slope, grid)
    assert text.splitlines()[0] == "iteration 50"
    assert text.splitlines()[-1] == ("D(x) within 0.05 of 1/2: on x in [0, 2], [6, 8] "
                                     "(57% of the grid); D(x) from 0.30 to 0.90")
    sure = TrainingFrame(10, 1.0, 0.5, 0.8, 0.2, samples, np.linspace(0.1, 0.3, 7))
    assert "nowhere on [-2, 10]" in frame_report(sure, grid, tol=0.1)
