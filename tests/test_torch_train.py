"""Training helpers (cnncourse.torch.train) and training figures (cnncourse.viz.training):
loaders over the bundled digits, seeding, fit/evaluate, and the digit models' accuracy."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncourse.torch import models as M  # noqa: E402
from cnncourse.torch.train import (digits_loaders, evaluate, fit, make_optimizer,  # noqa: E402
                                   select_device, set_seed)



def test_digits_loaders_shapes_and_standardization():
    train, test = digits_loaders(size=16, batch_size=50, seed=0)
    x, t = next(iter(train))
    assert x.shape == (50, 1, 16, 16) and x.dtype == torch.float32
    assert t.dtype == torch.int64 and int(t.min()) >= 0 and int(t.max()) <= 9
    assert len(train.dataset) == 1347 and len(test.dataset) == 450
    x_all = train.dataset.tensors[0]
    assert abs(float(x_all.mean())) < 1e-4 and abs(float(x_all.std()) - 1) < 1e-3
    raw, _ = digits_loaders(size=8, standardize=False)
    assert float(raw.dataset.tensors[0].min()) == 0.0 and float(raw.dataset.tensors[0].max()) == 1
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        digits_loaders(batch_size=0)


def test_train_loader_shuffle_repeats_with_seed():
    first = [t.tolist() for _, t in digits_loaders(size=8, seed=3)[0]]
    again = [t.tolist() for _, t in digits_loaders(size=8, seed=3)[0]]
    other = [t.tolist() for _, t in digits_loaders(size=8, seed=4)[0]]
    assert first == again
    assert first != other


def test_select_device_and_set_seed():
    device = select_device()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda")
    set_seed(7)
    a = (torch.rand(3), np.random.rand(3))
    set_seed(7)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not torch.are_deterministic_algorithms_enabled()   # would slow CPU convs 10-20x
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        set_seed(-1)


def test_make_optimizer_names():
    model = nn.Linear(3, 2)
    assert isinstance(make_optimizer(model, "adam"), torch.optim.Adam)
    momentum = make_optimizer(model, "momentum", lr=0.1)
    assert isinstance(momentum, torch.optim.SGD) and momentum.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer(model, "lbfgs")
    with pytest.raises(ValueError, match="lr must be positive, got 0"):
        make_optimizer(model, "sgd", lr=0)


def test_evaluate_counts_correct_predictions():
    # A "model" that predicts the class stored in the first feature.
    class Oracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return nn.functional.one_hot(x[:, 0].long(), 3).float() * 10 + self.dummy

    x = torch.tensor([[0.0], [1.0], [2.0], [1.0]])
    t = torch.tensor([0, 1, 1, 1])                     # third example is wrong
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, t), batch_size=3)
    model = Oracle().train()
    result = evaluate(model, loader)
    assert result["accuracy"] == 0.75
    expected_loss = float(nn.functional.cross_entropy(model(x), t).detach())
    assert abs(result["loss"] - expected_loss) < 1e-6
    assert model.training                               # mode restored


def test_fit_history_and_repeatability(one_thread):
    train, test = digits_loaders(size=8, batch_size=64)

    def run():
        set_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(32, 10))
        return fit(model, train, test, epochs=3, lr=3e-3, progress=False, seed=0)

    history = run()
    assert history["epoch"] == [1, 2, 3]
    # The keys of the numpy Trainer's history (see tests/test_nets.py), plus "lr".
    assert set(history) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                            "epoch_time", "lr"}
    assert all(len(v) == 3 for v in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert all(t > 0 for t in history["epoch_time"])
    assert history["test_acc"][-1] > 0.85
    again = run()
    assert again["train_loss"] == history["train_loss"]
    assert again["test_acc"] == history["test_acc"]


def test_fit_cosine_schedule_and_errors(one_thread):
    train, _ = digits_loaders(size=8, batch_size=256)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    history = fit(model, train, None, epochs=2, lr=0.01, progress=False, schedule="cosine")
    assert set(history) == {"epoch", "train_loss", "train_acc", "epoch_time", "lr"}
    assert history["lr"][0] == pytest.approx(0.01 * (1 + np.cos(np.pi / 2)) / 2)
    assert history["lr"][-1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        fit(model, train, epochs=0, progress=False)
    with pytest.raises(ValueError, match="schedule must be None or 'cosine', got 'step'"):
        fit(model, train, epochs=1, progress=False, schedule="step")


def test_fit_progress_bar_runs(capsys, one_thread):
    train, _ = digits_loaders(size=8, batch_size=512)
    fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), train, epochs=1, progress=True)
    assert "training" in capsys.readouterr().err


def test_lenet5_digits_reaches_97_percent(one_thread):
    train, test = digits_loaders(size=28, batch_size=32, seed=0)
    set_seed(0)
    model = M.lenet5_digits(28)
    history = fit(model, train, test, epochs=8, lr=2e-3, schedule="cosine", progress=False)
    assert history["test_acc"][-1] >= 0.97, history["test_acc"]
    assert evaluate(model, test)["accuracy"] == history["test_acc"][-1]


def test_mini_vgg_and_mini_resnet_learn_digits(one_thread):
    train, test = digits_loaders(size=16, batch_size=32, seed=0)
    for builder, target in ((lambda: M.mini_vgg(16), 0.93), (lambda: M.mini_resnet(8), 0.93)):
        set_seed(0)
        history = fit(builder(), train, test, epochs=2, lr=3e-3, schedule="cosine",
                      progress=False)
        assert history["test_acc"][-1] >= target, history["test_acc"]


# ------------------------------------------------------------------ viz.training
def test_make_grid_layout():
    from cnncourse.viz.training import make_grid
    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 1, 2, 3)
    grid = make_grid(images, nrow=2, padding=1, pad_value=-1)
    assert grid.shape == (3 * 3 + 1, 2 * 4 + 1)
    assert np.array_equal(grid[1:3, 1:4], images[0, 0])
    assert np.array_equal(grid[1:3, 5:8], images[1, 0])
    assert np.array_equal(grid[7:9, 1:4], images[4, 0])
    assert np.all(grid[7:9, 5:8] == -1)                      # empty last cell
    colour = make_grid(torch.zeros(2, 3, 4, 4), nrow=4)
    assert colour.shape == (6, 11, 3)
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 4, 4\)"):
        make_grid(np.zeros((2, 2, 4, 4)))


def test_plot_history_and_sample_grid():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cnncourse.viz.training import plot_history, plot_sample_grid
    h1 = {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.3], "train_acc": [0.5, 0.8, 0.9],
          "test_acc": [0.4, 0.7, 0.85], "epoch_time": [1, 1, 1], "lr": [0.1, 0.1, 0.1]}
    axes = plot_history(h1)
    assert len(axes) == 2
    assert [line.get_label() for line in axes[1].lines] == ["train_acc", "test_acc"]
    assert list(axes[0].lines[0].get_ydata()) == [1.0, 0.5, 0.3]
    assert axes[0].get_xlabel() == "epoch"
    both = plot_history({"plain": h1, "residual": h1}, keys=["test_acc"])
    assert [line.get_label() for line in both[0].lines] == ["plain test_acc",
                                                            "residual test_acc"]
    gan_history = {"iteration": [1, 2], "d_loss": [1.3, 1.2], "g_loss": [0.7, 0.8],
                   "d_real": [0.5, 0.6], "snapshots": [(1, torch.zeros(2, 1, 4, 4))]}
    gan_axes = plot_history(gan_history)
    assert {line.get_label() for line in gan_axes[0].lines} == {"d_loss", "g_loss"}
    assert gan_axes[0].get_xlabel() == "iteration"
    with pytest.raises(ValueError, match=r"keys \['acc'\] not in the history"):
        plot_history(h1, keys=["acc"])
    ax = plot_sample_grid(torch.rand(6, 1, 8, 8) * 2 - 1, nrow=3, value_range=(-1, 1),
                          title="samples")
    assert ax.images[0].get_array().shape == (2 * 9 + 1, 3 * 9 + 1)
    assert ax.get_title() == "samples"
    plt.close("all")


def test_plot_history_draws_numpy_and_torch_histories_alike(one_thread):
    # One plot helper for both training loops: the same panels and curves from either history.
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cnncourse.data import load_digits
    from cnncourse.nets import DeepMLP
    from cnncourse.trainer import Trainer
    from cnncourse.viz.training import history_x, plot_history

    (x_train, t_train), (x_test, t_test) = load_digits(size=8, flatten=True)
    numpy_history = Trainer(DeepMLP(64, [16], 10, seed=0), x_train, t_train, x_test, t_test,
                            epochs=2, batch_size=128, progress=False).fit()
    train, test = digits_loaders(size=8, batch_size=128)
    torch_history = fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), train, test, epochs=2,
                        progress=False)
    shared = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "epoch_time"}
    assert set(numpy_history) - shared == {"batch_loss"}
    assert set(torch_history) - shared == {"lr"}
    panels = {}
    for name, history in (("numpy", numpy_history), ("torch", torch_history)):
        axes = plot_history(history)
        panels[name] = [([line.get_label() for line in ax.lines], ax.get_xlabel())
                        for ax in axes]
        assert list(axes[0].lines[0].get_xdata()) == [1, 2]
    assert panels["numpy"] == panels["torch"] == [
        (["train_loss", "test_loss"], "epoch"), (["train_acc", "test_acc"], "epoch")]
    # the per-batch losses are drawn only when asked for, against the batch count
    batches = plot_history(numpy_history, keys=["batch_loss"])[0]
    assert len(batches.lines[0].get_xdata()) == len(numpy_history["batch_loss"])
    assert batches.get_xlabel() == "step"
    assert history_x(numpy_history, 2)[1] == "epoch"
    plt.close("all")


def test_viz_training_import_is_light():
    import subprocess
    import sys
    code = ("import sys, cnncourse.viz.training; "
            "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_degradation_plain_deep_trains_worse_residual_fixes_it(one_thread):
    # The ResNet paper's observation at digit scale: with the same budget a 32-layer plain
    # net reaches a higher training loss than an 8-layer one; shortcuts remove the gap.
    train, _ = digits_loaders(size=16, batch_size=64, seed=0)
    final_loss = {}
    for depth, plain in ((8, True), (32, True), (32, False)):
        set_seed(0)
        model = M.mini_resnet(depth, plain=plain, width=8)
        history = fit(model, train, None, epochs=2, lr=1e-3, progress=False)
        final_loss[depth, plain] = history["train_loss"][-1]
    assert final_loss[32, True] > final_loss[8, True] + 0.2, final_loss
    assert final_loss[32, False] < final_loss[8, True] - 0.2, final_loss
