"""GAN objectives, one training step's shapes and effects, and the textbook loop on the toy
distribution and on a DCGAN."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncourse.torch import gan  # noqa: E402
from cnncourse.torch.models import (Discriminator, Generator, ToyDiscriminator,  # noqa: E402
                                    ToyGenerator)



def test_discriminator_objective_textbook_example():
    value = gan.discriminator_objective(0.999, 0.001)
    assert isinstance(value, float)
    assert value == pytest.approx(2 * math.log(0.999), rel=1e-12)
    assert round(value, 7) == -0.0020010
    # Arrays average over the minibatch; tensors stay tensors (and differentiable).
    assert gan.discriminator_objective(np.array([0.5, 0.8]), [0.2, 0.5]) == pytest.approx(
        (math.log(0.5) + math.log(0.8)) / 2 + (math.log(0.8) + math.log(0.5)) / 2)
    d_fake = torch.tensor([0.3, 0.6], requires_grad=True)
    result = gan.discriminator_objective(torch.tensor([0.9, 0.7]), d_fake)
    result.backward()
    assert torch.allclose(d_fake.grad, -1 / (1 - d_fake.detach()) / 2)
    # A confused discriminator (D = 1/2 everywhere) scores -2 ln 2.
    assert gan.discriminator_objective([0.5] * 4, [0.5] * 4) == pytest.approx(-2 * math.log(2))


def test_generator_objectives():
    assert gan.generator_objective(0.001, "saturating") == pytest.approx(math.log(0.999))
    assert gan.generator_objective(0.001, "non_saturating") == pytest.approx(-math.log(0.001))
    assert gan.generator_objective([0.5, 0.5], "non_saturating") == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.generator_objective(0.5, "minimax")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        gan.discriminator_objective(1.0, 0.5)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        gan.generator_objective(torch.tensor([0.0]))


def test_logit_losses_match_probability_objectives():
    real_logits = torch.tensor([2.0, -0.5, 1.0])
    fake_logits = torch.tensor([-3.0, 0.2, -1.0])
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    assert float(gan.discriminator_loss_from_logits(real_logits, fake_logits)) == pytest.approx(
        -float(gan.discriminator_objective(d_real, d_fake)), rel=1e-6)
    for kind in gan.GENERATOR_LOSSES:
        assert float(gan.generator_loss_from_logits(fake_logits, kind)) == pytest.approx(
            float(gan.generator_objective(d_fake, kind)), rel=1e-6)
    # Stays finite where the probabilities round to 0 or 1.
    assert torch.isfinite(gan.discriminator_loss_from_logits(torch.tensor([200.0]),
                                                             torch.tensor([-200.0])))


def test_saturating_loss_gradient_vanishes_when_d_wins():
    # D is sure the fakes are fake: D(G(z)) = sigmoid(-8) ~ 3e-4.
    logit = torch.tensor([-8.0], requires_grad=True)
    gan.generator_loss_from_logits(logit, "saturating").backward()
    saturating = float(logit.grad.abs())
    logit.grad = None
    gan.generator_loss_from_logits(logit, "non_saturating").backward()
    non_saturating = float(logit.grad.abs())
    assert saturating == pytest.approx(float(torch.sigmoid(torch.tensor(-8.0))), rel=1e-5)
    assert non_saturating == pytest.approx(1 - saturating, rel=1e-5)
    assert non_saturating > 1000 * saturating


def test_one_training_step_shapes_and_who_moves():
    torch.manual_seed(0)
    gen, disc = Generator(z_dim=16, img_size=16, base_channels=8), Discriminator(16, 1, 8)
    m, k = 8, 2
    real_batches = [torch.rand(m, 1, 16, 16) * 2 - 1 for _ in range(k)]
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    z = gan.sample_noise(m, gen.z_dim)
    assert z.shape == (m, 16)
    assert gen(z).shape == (m, 1, 16, 16) and disc(gen(z)).shape == (m,)

    g_before = [p.detach().clone() for p in gen.parameters()]
    d_before = [p.detach().clone() for p in disc.parameters()]
    stats = gan.discriminator_step(gen, disc, real_batches[0], opt_d)
    assert set(stats) == {"d_loss", "objective", "d_real", "d_fake"}
    assert stats["objective"] == pytest.approx(-stats["d_loss"])
    assert 0 < stats["d_real"] < 1 and 0 < stats["d_fake"] < 1
    assert all(torch.equal(a, b) for a, b in zip(g_before, gen.parameters()))   # G fixed
    assert any(not torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))

    d_before = [p.detach().clone() for p in disc.parameters()]
    stats = gan.generator_step(gen, disc, m, opt_g, "saturating")
    assert set(stats) == {"g_loss", "d_gen"} and stats["g_loss"] < 0   # log(1 - D) < 0
    assert any(not torch.equal(a, b) for a, b in zip(g_before, gen.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))  # D fixed

    counts = {"d": 0}
    original = disc.forward

    def counting_forward(x):
        counts["d"] += 1
        return original(x)

    disc.forward = counting_forward
    stats = gan.train_step(gen, disc, real_batches, opt_g, opt_d)
    # k D-steps call D twice (real, fake) each, then the G-step once.
    assert counts["d"] == 2 * k + 1
    assert {"d_loss", "objective", "d_real", "d_fake", "g_loss", "d_gen"} == set(stats)


def test_discriminator_step_checks_logit_shape():
    gen = ToyGenerator(z_dim=2, out_dim=1)
    bad = nn.Linear(1, 1)                      # returns (m, 1), not (m,)
    with pytest.raises(ValueError, match=r"must return \(m,\) = \(4,\) logits, got \(4, 1\)"):
        gan.discriminator_step(gen, bad, torch.zeros(4, 1),
                               torch.optim.SGD(bad.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="needs an int attribute `z_dim`"):
        gan.generator_step(nn.Linear(2, 1), ToyDiscriminator(1), 4,
                           torch.optim.SGD(bad.parameters(), lr=0.1))


def test_toy_gan_learns_the_gaussian(one_thread):
    from cnncourse.data import sample_gan_toy
    data = sample_gan_toy(2000, "gaussian1d", seed=0)
    torch.manual_seed(0)
    gen, disc = ToyGenerator(z_dim=2, out_dim=1), ToyDiscriminator(1)
    with torch.no_grad():
        start_mean = float(gen(torch.randn(2000, 2)).mean())
    history = gan.train_gan(gen, disc, data, iterations=400, m=64, k=1, lr=1e-3,
                            progress=False, seed=0)
    assert set(history) == {"iteration", "d_loss", "objective", "d_real", "d_fake", "g_loss",
                            "d_gen"}
    assert all(len(v) == 400 for v in history.values())
    assert history["iteration"] == list(range(1, 401))   # the x axis of plot_history
    with torch.no_grad():
        samples = gen(torch.randn(4000, 2))
    target_mean = float(data.mean())
    assert abs(start_mean - target_mean) > 2            # starts far from the data ...
    assert abs(float(samples.mean()) - target_mean) < 0.4   # ... and ends close to it
    assert 0.5 < float(samples.std()) < 2.0
    # Near equilibrium D cannot tell: both outputs hover around 1/2.
    assert abs(np.mean(history["d_real"][-50:]) - 0.5) < 0.15
    assert abs(np.mean(history["d_fake"][-50:]) - 0.5) < 0.15


def test_train_gan_dcgan_runs_with_k_and_snapshots(one_thread):
    from cnncourse.data import load_digits
    (x, _), _ = load_digits(size=16)
    images = gan.to_tanh_range(x)
    assert images.min() >= -1 and images.max() <= 1
    torch.manual_seed(0)
    gen = Generator(z_dim=16, img_size=16, base_channels=8)
    disc = Discriminator(16, 1, base_channels=8)
    history = gan.train_gan(gen, disc, images, iterations=6, m=16, k=2, progress=False,
                            snapshot_every=3, n_snapshot=4, kind="saturating")
    assert [it for it, _ in history["snapshots"]] == [1, 3, 6]
    assert all(s.shape == (4, 1, 16, 16) for _, s in history["snapshots"])
    assert len(history["g_loss"]) == 6 and all(g < 0 for g in history["g_loss"])
    assert history["iteration"] == [1, 2, 3, 4, 5, 6]
    assert gen.training and disc.training
    back = gan.from_tanh_range(history["snapshots"][-1][1])
    assert float(back.min()) >= 0 and float(back.max()) <= 1
    with pytest.raises(ValueError, match="m=4000 exceeds the 1347 real examples"):
        gan.train_gan(gen, disc, images, iterations=1, m=4000, progress=False)
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        gan.train_gan(gen, disc, images, iterations=1, k=0, progress=False)


def test_discriminator_probabilities_leave_the_module_as_it_was():
    torch.manual_seed(0)
    disc = Discriminator(img_size=8, base_channels=4)          # has batch norm
    disc.train()
    before = {k: v.clone() for k, v in disc.state_dict().items()}
    points = np.random.default_rng(0).uniform(-1, 1, (5, 1, 8, 8))
    probs = gan.discriminator_probabilities(disc, points)
    assert probs.shape == (5,) and probs.dtype == np.float64
    assert np.all((probs > 0) & (probs < 1))
    assert disc.training                                        # mode restored
    assert all(torch.equal(before[k], v) for k, v in disc.state_dict().items())  # no BN update
    disc.eval()
    with torch.no_grad():
        want = torch.sigmoid(disc(torch.as_tensor(points, dtype=torch.float32))).double().numpy()
    assert np.allclose(probs, want) and not disc.training
    gan.discriminator_probabilities(disc, points)
    assert not disc.training                                    # eval stays eval


def test_discriminator_probabilities_on_a_1d_grid_and_errors():
    torch.manual_seed(0)
    disc = ToyDiscriminator(1)
    grid = np.linspace(-2, 2, 9)
    probs = gan.discriminator_probabilities(disc, grid)          # (P,) -> points (P, 1)
    with torch.no_grad():
        assert np.allclose(probs, torch.sigmoid(disc(torch.tensor(grid[:, None], dtype=torch.float32))).numpy())
    with pytest.raises(ValueError, match="with P >= 1"):
        gan.discriminator_probabilities(disc, np.zeros(0))
    with pytest.raises(ValueError, match=r"must return \(3,\) logits for 3 points, got \(3, 1\)"):
        gan.discriminator_probabilities(nn.Linear(1, 1), np.zeros(3))


def test_discriminator_recorder_follows_the_snapshot_schedule_and_changes_nothing(one_thread):
    from cnncourse.data import sample_gan_toy
    data = sample_gan_toy(500, "gaussian1d", seed=0)
    grid = np.linspace(-2, 10, 25)

    def run(record):
        torch.manual_seed(0)
        gen, disc = ToyGenerator(z_dim=2, out_dim=1, hidden=8), ToyDiscriminator(1, hidden=8)
        recorder = gan.DiscriminatorRecorder(disc, grid, every=4) if record else None
        history = gan.train_gan(gen, disc, data, iterations=10, m=16, lr=1e-2, progress=False,
                                snapshot_every=4, n_snapshot=50, callback=recorder)
        return history, recorder, disc

    plain, _, _ = run(False)
    recorded, recorder, disc = run(True)
    assert [i for i, _ in recorder.curves] == [i for i, _ in recorded["snapshots"]] == [1, 4, 8]
    assert recorded["d_loss"] == plain["d_loss"] and recorded["g_loss"] == plain["g_loss"]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(recorded["snapshots"], plain["snapshots"]))
    assert all(c.shape == (25,) for _, c in recorder.curves)
    assert not np.allclose(recorder.curves[0][1], recorder.curves[-1][1])   # D moved in between
    with pytest.raises(ValueError, match="every must be a positive int, got 0"):
        gan.DiscriminatorRecorder(disc, grid, every=0)
