"""Minibatch training loop for the numpy nets, with a per-epoch history and a tqdm bar.

    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=10, batch_size=64)
    history = trainer.fit()
    history["test_acc"][-1]

tqdm is imported inside `fit` (tqdm.auto picks the notebook widget or the text bar).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .optim import make_optimizer

__all__ = ["Trainer", "minibatches"]


def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """The index arrays of one epoch: a fresh permutation of range(n) from `rng`, cut into
    ceil(n / batch_size) consecutive pieces (the last may be shorter). One home for the
    minibatch order, so `Trainer` and `cnncourse.by_layers.fit_by_layers` draw the same batches
    from the same seed."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


class Trainer:
    """Train `net` (a cnncourse.nets net) with minibatches drawn without replacement each epoch.

    Inputs:
    - net: has params, loss_and_gradient (or gradient and loss), accuracy, train, eval
    - x_train, t_train, x_test, t_test: arrays with N samples on axis 0 (test may be None)
    - epochs, batch_size: one epoch = ceil(N / batch_size) updates over a fresh permutation
    - optimizer: "sgd", "momentum", "adagrad", "adam", or an object with update(params, grads)
    - lr: learning rate for a named optimizer (None: the optimizer's default)
    - seed: seed of the minibatch order
    - progress: show a tqdm bar (tqdm.auto); verbose: print one line per epoch
    - eval_batch_size: batch size of the accuracy and test-loss passes

    `fit()` returns the history dict of per-epoch lists, with the keys of the torch side's
    `cnncourse.torch.train.fit` (so `cnncourse.viz.training.plot_history` draws either):
    - "epoch": 1, 2, ..., epochs
    - "train_loss": mean minibatch loss of each epoch (training mode, weight decay included)
    - "train_acc": accuracy on the whole training set after each epoch (eval mode)
    - "test_loss", "test_acc": loss (as `net.loss`, weight decay included) and accuracy on the
      test set after each epoch (eval mode); both keys are absent without test data
    - "epoch_time": seconds spent in each epoch, evaluation included
    and, numpy only, "batch_loss": the loss of every update (epochs * ceil(N / batch_size)).
    """

    def __init__(self, net: Any, x_train: np.ndarray, t_train: np.ndarray,
                 x_test: np.ndarray | None = None, t_test: np.ndarray | None = None,
                 epochs: int = 10, batch_size: int = 100, optimizer: str | Any = "adam",
                 lr: float | None = None, seed: int = 0, progress: bool = True,
                 verbose: bool = False, eval_batch_size: int = 512) -> None:
        if len(x_train) != len(t_train):
            raise ValueError(f"x_train has {len(x_train)} samples but t_train has {len(t_train)}")
        if (x_test is None) != (t_test is None):
            raise ValueError("give both x_test and t_test, or neither")
        if x_test is not None and len(x_test) != len(t_test):
            raise ValueError(f"x_test has {len(x_test)} samples but t_test has {len(t_test)}")
        if int(epochs) < 1 or int(batch_size) < 1:
            raise ValueError(f"epochs and batch_size must be positive, got {epochs}, {batch_size}")
        self.net = net
        self.x_train, self.t_train = np.asarray(x_train), np.asarray(t_train)
        self.x_test = None if x_test is None else np.asarray(x_test)
        self.t_test = None if t_test is None else np.asarray(t_test)
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        if isinstance(optimizer, str):
            self.optimizer = make_optimizer(optimizer, lr)
        elif hasattr(optimizer, "update"):
            if lr is not None:
                raise ValueError("lr is for a named optimizer; set the learning rate on the "
                                 f"optimizer object you pass ({type(optimizer).__name__})")
            self.optimizer = optimizer
        else:
            raise TypeError(f"optimizer must be a name or have update(params, grads), "
                            f"got {type(optimizer).__name__}")
        self.rng = np.random.default_rng(seed)
        self.progress, self.verbose = bool(progress), bool(verbose)
        self.history: dict[str, list] = {"epoch": [], "train_loss": [], "train_acc": [],
                                         "epoch_time": [], "batch_loss": []}
        if self.x_test is not None:
            self.history["test_loss"] = []
            self.history["test_acc"] = []

    def _step(self, x_batch: np.ndarray, t_batch: np.ndarray) -> float:
        net = self.net
        if hasattr(net, "loss_and_gradient"):
            loss, grads = net.loss_and_gradient(x_batch, t_batch)
        else:
            grads = net.gradient(x_batch, t_batch)
            loss = net.loss(x_batch, t_batch)
        self.optimizer.update(net.params, grads)
        return float(loss)

    def _test_loss(self) -> float:
        # Mean of net.loss over the test set in eval mode, in batches (weighted by batch size).
        net, total = self.net, 0.0
        net.eval()
        try:
            for start in range(0, len(self.x_test), self.eval_batch_size):
                batch = slice(start, start + self.eval_batch_size)
                x_batch, t_batch = self.x_test[batch], self.t_test[batch]
                total += float(net.loss(x_batch, t_batch)) * len(x_batch)
        finally:
            net.train()
        return total / len(self.x_test)

    def fit(self) -> dict[str, list[float]]:
        """Run the epochs; returns (and keeps in self.history) the history dict."""
        from tqdm.auto import tqdm

        n = len(self.x_train)
        steps_per_epoch = -(-n // self.batch_size)
        bar = tqdm(total=self.epochs * steps_per_epoch, disable=not self.progress, unit="batch")
        try:
            for epoch in range(1, self.epochs + 1):
                start = time.perf_counter()
                bar.set_description(f"epoch {epoch}/{self.epochs}")
                self.net.train()
                losses = []
                for i, idx in enumerate(minibatches(n, self.batch_size, self.rng)):
                    loss = self._step(self.x_train[idx], self.t_train[idx])
                    if not np.isfinite(loss):
                        raise FloatingPointError(f"the loss became {loss} at epoch {epoch}, batch "
                                                 f"{i + 1}; lower the learning rate")
                    losses.append(loss)
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                self.history["epoch"].append(epoch)
                self.history["batch_loss"].extend(losses)
                self.history["train_loss"].append(float(np.mean(losses)))
                self.history["train_acc"].append(
                    self.net.accuracy(self.x_train, self.t_train, batch_size=self.eval_batch_size))
                if self.x_test is not None:
                    self.history["test_loss"].append(self._test_loss())
                    self.history["test_acc"].append(self.net.accuracy(
                        self.x_test, self.t_test, batch_size=self.eval_batch_size))
                self.net.train()
                self.history["epoch_time"].append(time.perf_counter() - start)
                summary = (f"epoch {epoch}: loss {self.history['train_loss'][-1]:.4f}, "
                           f"train acc {self.history['train_acc'][-1]:.4f}")
                if self.x_test is not None:
                    summary += f", test acc {self.history['test_acc'][-1]:.4f}"
                bar.set_postfix_str(summary.split(": ", 1)[1], refresh=True)
                if self.verbose and self.progress:
                    bar.write(summary)  # above the bar instead of through it
                elif self.verbose:
                    print(summary)
        finally:
            bar.close()
        return self.history
