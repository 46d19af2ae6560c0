"""GAN objectives and the textbook training loop (Goodfellow et al. 2014, Algorithm 1).

    J_D = E_x[log D(x)] + E_z[log(1 - D(G(z)))]        D ascends J_D
    J_G = E_z[log(1 - D(G(z)))]                         G descends J_G  ("saturating")
    J_G' = -E_z[log D(G(z))]                            practical "non-saturating" G loss

The objectives below take probabilities D(.) in (0, 1), as the textbook writes them. The
models of `cnncourse.torch.models` return logits l with D = sigmoid(l); the training steps use
log D = logsigmoid(l) and log(1 - D) = logsigmoid(-l), which stay finite where D rounds to 0 or 1.

Algorithm (one iteration): k times { sample m noise vectors and m real examples; update D by
gradient ascent on J_D }, then sample m noise vectors and update G by gradient descent on J_G
(or J_G').
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

__all__ = [
    "discriminator_objective", "generator_objective", "discriminator_loss_from_logits",
    "generator_loss_from_logits", "sample_noise", "discriminator_step", "generator_step",
    "train_step", "train_gan", "is_snapshot_iteration", "to_tanh_range", "from_tanh_range",
    "GENERATOR_LOSSES", "discriminator_probabilities", "DiscriminatorRecorder",
]

GENERATOR_LOSSES = ("non_saturating", "saturating")


def _mean_log(values: Any, complement: bool) -> Any:
    # log(values) or log(1 - values), averaged, in the caller's own number type.
    if isinstance(values, torch.Tensor):
        if ((values <= 0) | (values >= 1)).any():
            raise ValueError("probabilities must lie strictly between 0 and 1")
        return torch.log1p(-values).mean() if complement else torch.log(values).mean()
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError("need at least one probability")
    if np.any((array <= 0) | (array >= 1)):
        raise ValueError(f"probabilities must lie strictly between 0 and 1, got {values!r}")
    return float(np.mean(np.log1p(-array) if complement else np.log(array)))


def discriminator_objective(d_real: Any, d_fake: Any) -> Any:
    """The discriminator's objective (to be maximized), from probabilities.

        J_D = mean(log D(x)) + mean(log(1 - D(G(z))))

    Its maximum 0 is reached when D says 1 on every real and 0 on every fake example.
    Example: D = 0.999 on real, 0.001 on fake: J_D = 2 ln 0.999 = -0.0020010.

    Inputs:
    - d_real: D(x) for real examples, float / array / tensor of shape (m,), values in (0, 1)
    - d_fake: D(G(z)) for generated examples, same kinds, (m,)

    Returns: float for numbers and arrays, a 0-d tensor (differentiable) for tensors
    """
    return _mean_log(d_real, complement=False) + _mean_log(d_fake, complement=True)


def generator_objective(d_fake: Any, kind: str = "saturating") -> Any:
    """What the generator minimizes, from probabilities D(G(z)).

        saturating (minimax game):  J_G  = mean(log(1 - D(G(z))))
        non_saturating (practical): J_G' = -mean(log D(G(z)))

    Early in training D(G(z)) is near 0: J_G is then flat (its slope in the logit l is
    -D(G(z)), about 0), while J_G' has slope -(1 - D(G(z))), about -1, so G still learns.

    Returns: float for numbers and arrays, a 0-d tensor for tensors
    """
    if kind == "saturating":
        return _mean_log(d_fake, complement=True)
    if kind == "non_saturating":
        return -_mean_log(d_fake, complement=False)
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def discriminator_loss_from_logits(real_logits: torch.Tensor,
                                   fake_logits: torch.Tensor) -> torch.Tensor:
    """-J_D computed from logits (D = sigmoid(logit)): minimizing it is ascending J_D.

        loss = -(mean(logsigmoid(l_real)) + mean(logsigmoid(-l_fake)))

    (equal to the binary cross-entropy with targets 1 for real, 0 for fake, summed over the two
    halves). Inputs: (m,) tensors. Returns: 0-d tensor.
    """
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def generator_loss_from_logits(fake_logits: torch.Tensor,
                               kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss from the discriminator's logits on generated examples.

        saturating:     mean(log(1 - D)) = mean(logsigmoid(-l))
        non_saturating: -mean(log D)     = -mean(logsigmoid(l))

    Inputs: fake_logits (m,). Returns: 0-d tensor.
    """
    if kind == "saturating":
        return F.logsigmoid(-fake_logits).mean()
    if kind == "non_saturating":
        return -F.logsigmoid(fake_logits).mean()
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def sample_noise(m: int, z_dim: int, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """m noise vectors z ~ N(0, I) of dimension z_dim: tensor (m, z_dim)."""
    if m < 1 or z_dim < 1:
        raise ValueError(f"m and z_dim must be positive, got m={m}, z_dim={z_dim}")
    return torch.randn(m, z_dim, generator=generator).to(device or "cpu")


def _z_dim(generator: nn.Module) -> int:
    z_dim = getattr(generator, "z_dim", None)
    if not isinstance(z_dim, int):
        raise ValueError(f"{type(generator).__name__} needs an int attribute `z_dim` "
                         f"(the noise size); got {z_dim!r}")
    return z_dim


def _device(module: nn.Module) -> torch.device:
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def discriminator_step(generator: nn.Module, discriminator: nn.Module, real: torch.Tensor,
                       opt_d: torch.optim.Optimizer,
                       noise: torch.Generator | None = None) -> dict[str, float]:
    """One gradient-ascent step of D on J_D with m real examples and m generated ones.

        z ~ N(0, I) (m, z_dim);  fake = G(z) with G held fixed (no gradient into G)
        minimize -J_D = -(mean log D(real) + mean log(1 - D(fake)))

    Inputs: real (m, ...) on D's device. Returns (before the update): {"d_loss": -J_D,
    "objective": J_D, "d_real": mean D(real), "d_fake": mean D(fake)}.
    """
    m = real.shape[0]
    z = sample_noise(m, _z_dim(generator), _device(generator), noise)
    with torch.no_grad():
        fake = generator(z)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake)
    if real_logits.shape != (m,) or fake_logits.shape != (m,):
        raise ValueError(f"discriminator must return (m,) = ({m},) logits, got "
                         f"{tuple(real_logits.shape)} and {tuple(fake_logits.shape)}")
    loss = discriminator_loss_from_logits(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return {"d_loss": float(loss.detach()), "objective": -float(loss.detach()),
            "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
            "d_fake": float(torch.sigmoid(fake_logits.detach()).mean())}


def generator_step(generator: nn.Module, discriminator: nn.Module, m: int,
                   opt_g: torch.optim.Optimizer, kind: str = "non_saturating",
                   noise: torch.Generator | None = None) -> dict[str, float]:
    """One gradient-descent step of G: z ~ N(0, I) (m, z_dim), minimize the generator loss of
    D's logits on G(z) (`generator_loss_from_logits`, saturating or non_saturating). Only G's
    parameters change (opt_g holds them); D's gradients are computed but not applied.

    Returns: {"g_loss": the loss before the update, "d_gen": mean D(G(z))}
    """
    z = sample_noise(m, _z_dim(generator), _device(generator), noise)
    fake_logits = discriminator(generator(z))
    loss = generator_loss_from_logits(fake_logits, kind)
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return {"g_loss": float(loss.detach()),
            "d_gen": float(torch.sigmoid(fake_logits.detach()).mean())}


def train_step(generator: nn.Module, discriminator: nn.Module,
               real_batches: Sequence[torch.Tensor], opt_g: torch.optim.Optimizer,
               opt_d: torch.optim.Optimizer, kind: str = "non_saturating",
               noise: torch.Generator | None = None) -> dict[str, float]:
    """One iteration of the textbook algorithm: k = len(real_batches) discriminator steps (each
    on one real minibatch of m examples and m fakes), then one generator step with m noise
    vectors.

    Returns: the last discriminator step's numbers (d_loss, objective, d_real, d_fake) and the
    generator step's (g_loss, d_gen)
    """
    if len(real_batches) < 1:
        raise ValueError("need at least one real minibatch (k >= 1)")
    stats: dict[str, float] = {}
    for real in real_batches:
        stats = discriminator_step(generator, discriminator, real, opt_d, noise)
    stats.update(generator_step(generator, discriminator, real_batches[-1].shape[0], opt_g,
                                kind, noise))
    return stats


def to_tanh_range(x: Any) -> Any:
    """Map pixels from [0, 1] to the generator's tanh range [-1, 1]: 2x - 1."""
    return 2 * x - 1


def from_tanh_range(x: Any) -> Any:
    """Map generator output from [-1, 1] back to pixels in [0, 1]: (x + 1) / 2."""
    return (x + 1) / 2


def train_gan(generator: nn.Module, discriminator: nn.Module, data: Any, iterations: int = 1000,
              m: int = 64, k: int = 1, lr: float = 2e-4,
              betas: tuple[float, float] = (0.5, 0.999), kind: str = "non_saturating",
              seed: int = 0, device: torch.device | str | None = None, progress: bool = True,
              snapshot_every: int | None = None, n_snapshot: int = 16,
              callback: Callable[[int, dict[str, float]], None] | None = None
              ) -> dict[str, list]:
    """Train a GAN with the textbook algorithm; Adam for both players (DCGAN settings).

    Each iteration draws k real minibatches of m examples (uniformly, without replacement
    inside a minibatch) from `data`, runs `train_step`, and records the numbers.

    Inputs:
    - generator: module with attribute z_dim, z (m, z_dim) -> fake examples shaped like data
    - discriminator: module, examples (m, ...) -> logits (m,)
    - data: real examples (N, ...) as a tensor or numpy array (already in G's output range:
      `to_tanh_range` for images in [0, 1] with the DCGAN Generator)
    - iterations, m (minibatch size), k (D steps per G step), lr, betas
    - kind: "non_saturating" (default, -log D(G(z))) or "saturating" (log(1 - D(G(z))))
    - seed: seeds the parameter-independent randomness (minibatches and noise) and torch
    - snapshot_every: every that many iterations store G(z_fixed) for n_snapshot fixed noise
      vectors (eval mode), for plots of the progress
    - callback(iteration, stats): called after every iteration

    Returns: history dict of per-iteration lists "iteration" (1..iterations, the x axis of
    `cnncourse.viz.training.plot_history`, as "epoch" is for `fit`), "d_loss", "objective"
    (J_D), "d_real", "d_fake", "g_loss", "d_gen"; with snapshot_every also "snapshots": list
    of (iteration, tensor (n_snapshot, ...)) on the CPU
    """
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")
    for name, value in (("iterations", iterations), ("m", m), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    real = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data,
                           dtype=torch.float32)
    if real.shape[0] < m:
        raise ValueError(f"minibatch size m={m} exceeds the {real.shape[0]} real examples")
    torch.manual_seed(seed)
    from .train import select_device
    device = select_device() if device is None else torch.device(device)
    generator.to(device)
    discriminator.to(device)
    real = real.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    draw = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + 1)
    fixed_z = sample_noise(n_snapshot, _z_dim(generator), device,
                           torch.Generator().manual_seed(seed + 2))
    keys = ("d_loss", "objective", "d_real", "d_fake", "g_loss", "d_gen")
    history: dict[str, list] = {"iteration": [], **{key: [] for key in keys}}
    if snapshot_every:
        history["snapshots"] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iterations, desc="GAN training")
    generator.train()
    discriminator.train()
    try:
        for iteration in range(1, iterations + 1):
            batches = [real[torch.randperm(real.shape[0], generator=draw)[:m].to(device)]
                       for _ in range(k)]
            stats = train_step(generator, discriminator, batches, opt_g, opt_d, kind, noise)
            history["iteration"].append(iteration)
            for key in keys:
                history[key].append(stats[key])
            if snapshot_every and is_snapshot_iteration(iteration, snapshot_every):
                generator.eval()
                with torch.no_grad():
                    history["snapshots"].append((iteration, generator(fixed_z).cpu()))
                generator.train()
            if callback is not None:
                callback(iteration, stats)
            if bar is not None:
                bar.update(1)
                if iteration % 50 == 0 or iteration == iterations:
                    bar.set_postfix(d_loss=f"{stats['d_loss']:.3f}",
                                    g_loss=f"{stats['g_loss']:.3f}",
                                    d_real=f"{stats['d_real']:.2f}",
                                    d_fake=f"{stats['d_fake']:.2f}")
    finally:
        if bar is not None:
            bar.close()
    return history


def is_snapshot_iteration(iteration: int, every: int) -> bool:
    """Whether `train_gan(..., snapshot_every=every)` keeps a snapshot after `iteration`
    (1-based): the first iteration and every `every`-th one. One rule for the generator's
    snapshots and the discriminator's recordings."""
    return iteration == 1 or iteration % every == 0


# --- Recording the discriminator during training (notebook 09's training scrubber) -----------


def discriminator_probabilities(discriminator: nn.Module, points: Any) -> np.ndarray:
    """D(x) = sigmoid(logit) at fixed points, without touching the training.

    Runs in eval mode (batch norm uses its running statistics and updates none, dropout is off)
    and without gradients, then restores the module's mode, so recording D between training
    iterations changes neither the model nor any random stream.

    Inputs: points (P,) for a 1-D discriminator, else (P, ...) examples as D takes them
    ((P, in_dim) for a toy discriminator, (P, C, H, W) for images). Returns: float64 array (P,).
    """
    x = torch.as_tensor(np.asarray(points), dtype=torch.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"points must be (P,) or (P, ...) with P >= 1, got shape "
                         f"{tuple(x.shape)}")
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            logits = discriminator(x.to(_device(discriminator)))
    finally:
        discriminator.train(was_training)
    if logits.shape != (x.shape[0],):
        raise ValueError(f"discriminator must return ({x.shape[0]},) logits for "
                         f"{x.shape[0]} points, got {tuple(logits.shape)}")
    return torch.sigmoid(logits).cpu().double().numpy()


class DiscriminatorRecorder:
    """A `train_gan` callback that stores D(x) at fixed points on the snapshot schedule
    (iteration 1 and every `every` iterations), so that each generator snapshot of
    `train_gan(..., snapshot_every=every)` has the discriminator of the same moment.

        recorder = DiscriminatorRecorder(d, x_grid, every=10)
        history = train_gan(g, d, data, snapshot_every=10, callback=recorder)
        recorder.curves      # [(1, D(x_grid)), (10, ...), (20, ...), ...]

    Inputs: discriminator, the module being trained; points (P,) or (P, ...) as for
    `discriminator_probabilities`; every >= 1.
    Recording uses `discriminator_probabilities`: the run is the same with or without it.
    """

    def __init__(self, discriminator: nn.Module, points: Any, every: int):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.discriminator = discriminator
        self.points = np.asarray(points)
        self.every = every
        self.curves: list[tuple[int, np.ndarray]] = []

    def __call__(self, iteration: int, stats: dict[str, float] | None = None) -> None:
        if is_snapshot_iteration(iteration, self.every):
            self.curves.append((iteration,
                                discriminator_probabilities(self.discriminator, self.points)))
