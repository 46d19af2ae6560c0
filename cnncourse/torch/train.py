"""Training helpers for the PyTorch notebooks: device, seeding, digit loaders, fit and evaluate.

Everything runs offline on the bundled digits (`cnncourse.data.load_digits`) and on a CPU in
seconds; CUDA is used when present.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["select_device", "set_seed", "digits_loaders", "make_optimizer", "evaluate", "fit"]

OPTIMIZERS = ("adam", "adamw", "sgd", "momentum", "rmsprop")


def select_device(prefer: str | None = None) -> torch.device:
    """The device to train on: `prefer` if given ("cpu", "cuda", "cuda:1"), else CUDA when
    available, else the CPU.

    Returns: torch.device
    """
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} requested but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python's, numpy's and torch's generators (all devices) so runs repeat.

    deterministic=True also makes cuDNN pick deterministic kernels and turns off its
    autotuning (which chooses kernels by timing). The CPU kernels used here repeat exactly for
    a fixed thread count. `torch.use_deterministic_algorithms` is deliberately not switched
    on: on the CPU it slows convolution training about 10-20x.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def digits_loaders(size: int = 28, batch_size: int = 64, seed: int = 0, test_size: float = 0.25,
                   standardize: bool = True) -> tuple[DataLoader, DataLoader]:
    """DataLoaders over the bundled scikit-learn digits (no download).

    x: float32 (B, 1, size, size), t: int64 (B,). Pixels are first scaled to [0, 1]; with
    standardize=True they become (x - mean) / std with the mean and std of all training pixels
    (the same numbers applied to the test set), which speeds up training noticeably.
    size 8, 16, 28 or 32 (upsampled); test_size 0.25 gives 1347 train and 450 test images.
    The training loader shuffles with its own generator seeded by `seed`; the test loader keeps
    the order.

    Returns: (train_loader, test_loader)
    """
    from ..data import load_digits

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    (x_train, t_train), (x_test, t_test) = load_digits(test_size=test_size, seed=seed, size=size)
    if standardize:
        mean, std = float(x_train.mean()), float(x_train.std())
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
    train = TensorDataset(torch.from_numpy(np.ascontiguousarray(x_train)),
                          torch.from_numpy(np.asarray(t_train, dtype=np.int64)))
    test = TensorDataset(torch.from_numpy(np.ascontiguousarray(x_test)),
                         torch.from_numpy(np.asarray(t_test, dtype=np.int64)))
    shuffle_gen = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=shuffle_gen),
            DataLoader(test, batch_size=max(batch_size, 256), shuffle=False))


def make_optimizer(model: nn.Module, name: str = "adam", lr: float = 1e-3,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Optimizer by name over the model's trainable parameters.

    "adam", "adamw", "sgd" (plain), "momentum" (SGD with momentum 0.9), "rmsprop".
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    key = name.lower()
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if key == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if key == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | str | None = None,
             loss_fn: Callable | None = None) -> dict[str, float]:
    """Mean loss and accuracy of a classifier over a loader of (x, t) batches, in eval mode.

        loss = (1/N) sum_n loss_fn(model(x_n), t_n)    (cross-entropy by default)
        accuracy = (1/N) #{n : argmax model(x_n) = t_n}

    The model's train/eval mode is restored afterwards.

    Returns: {"loss": float, "accuracy": float in [0, 1]}
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        for x, t in loader:
            x, t = x.to(device), t.to(device)
            scores = model(x)
            total_loss += float(loss_fn(scores, t, reduction="sum"))
            correct += int((scores.argmax(dim=1) == t).sum())
            count += len(t)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("the loader yielded no examples")
    return {"loss": total_loss / count, "accuracy": correct / count}


def fit(model: nn.Module, train_loader: DataLoader, test_loader: DataLoader | None = None,
        epochs: int = 5, lr: float = 1e-3, optimizer: str | torch.optim.Optimizer = "adam",
        device: torch.device | str | None = None, seed: int | None = 0, progress: bool = True,
        weight_decay: float = 0.0, loss_fn: Callable | None = None,
        schedule: str | None = None) -> dict[str, list]:
    """Train a classifier with minibatches and record one history entry per epoch.

    Each epoch: for every batch (x, t): loss = loss_fn(model(x), t) (cross-entropy by
    default), backward, optimizer step. Then the test set is evaluated with `evaluate`.

    Inputs:
    - model: nn.Module mapping x (B, ...) to class scores (B, K); moved to `device`
    - train_loader, test_loader: loaders of (x, t) batches (test_loader may be None)
    - epochs: number of passes over train_loader
    - lr, weight_decay, optimizer: an optimizer name (see `make_optimizer`) or an instance
      (then lr and weight_decay are ignored)
    - device: None -> `select_device()`
    - seed: passed to `set_seed` first, and reseeds train_loader's own shuffle generator if it
      has one, so shuffling and dropout repeat; None leaves all generators alone
    - progress: show a tqdm bar (one step per batch, loss and accuracy per epoch)
    - loss_fn: like `nn.functional.cross_entropy` (takes scores, targets and `reduction=`)
    - schedule: None (constant lr) or "cosine": the learning rate of every step follows
      lr * (1 + cos(pi * step / total_steps)) / 2 down to 0 at the end of the last epoch

    Returns: history dict of lists, one entry per epoch, with the keys of the numpy
    `cnncourse.trainer.Trainer.fit` (so `cnncourse.viz.training.plot_history` draws either):
      "epoch" (1..epochs), "train_loss" (mean minibatch loss of the epoch), "train_acc"
      (running accuracy over the epoch's batches, in train mode), "test_loss", "test_acc"
      (`evaluate` after the epoch; absent without test_loader), "epoch_time" (seconds of the
      epoch, evaluation included), and, torch only, "lr" (learning rate at the end of the
      epoch)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if seed is not None:
        set_seed(seed)
        # A loader with its own shuffle generator (digits_loaders) would otherwise continue
        # where the previous run left it, and a second fit would see other minibatches.
        if getattr(train_loader, "generator", None) is not None:
            train_loader.generator.manual_seed(seed)
    device = select_device() if device is None else torch.device(device)
    model.to(device)
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else \
        make_optimizer(model, optimizer, lr=lr, weight_decay=weight_decay)
    loss_fn = loss_fn or nn.functional.cross_entropy
    if schedule not in (None, "cosine"):
        raise ValueError(f"schedule must be None or 'cosine', got {schedule!r}")
    scheduler = None
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=epochs * len(train_loader))

    history: dict[str, list] = {"epoch": [], "train_loss": [], "train_acc": [], "epoch_time": [],
                                "lr": []}
    if test_loader is not None:
        history["test_loss"] = []
        history["test_acc"] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs * len(train_loader), desc="training", leave=True)
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.train()
            total_loss, correct, count = 0.0, 0, 0
            for x, t in train_loader:
                x, t = x.to(device), t.to(device)
                scores = model(x)
                loss = loss_fn(scores, t)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                total_loss += float(loss.detach()) * len(t)
                correct += int((scores.detach().argmax(dim=1) == t).sum())
                count += len(t)
                if bar is not None:
                    bar.update(1)
            history["epoch"].append(epoch)
            history["lr"].append(opt.param_groups[0]["lr"])
            history["train_loss"].append(total_loss / count)
            history["train_acc"].append(correct / count)
            postfix = {"loss": f"{total_loss / count:.4f}", "train_acc": f"{correct / count:.3f}"}
            if test_loader is not None:
                result = evaluate(model, test_loader, device=device, loss_fn=loss_fn)
                history["test_loss"].append(result["loss"])
                history["test_acc"].append(result["accuracy"])
                postfix["test_acc"] = f"{result['accuracy']:.3f}"
            history["epoch_time"].append(time.perf_counter() - start)
            if bar is not None:
                bar.set_postfix(postfix)
    finally:
        if bar is not None:
            bar.close()
    return history
