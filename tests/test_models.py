"""Case-study models: exact parameter counts, documented output shapes, a forward and backward
pass on a tiny batch for every model."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncourse.aids import arith  # noqa: E402
from cnncourse.conv import conv_transpose_output_size  # noqa: E402
from cnncourse.torch import models as M  # noqa: E402


@pytest.fixture(scope="module")
def big_models():
    # The 60-140M parameter models take a second each to build: build them once.
    torch.manual_seed(0)
    return {"alexnet": M.alexnet(), "alexnet_grouped": M.alexnet(grouped=True),
            "vgg16": M.vgg16()}


def _conv_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple]:
    shapes = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(out.shape[1:])))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(x)
    for hook in hooks:
        hook.remove()
    return shapes


def test_lenet5_counts_and_shapes():
    model = M.lenet5()
    assert M.count_params(model) == 61706
    assert [sum(p.numel() for p in m.parameters()) for m in model
            if isinstance(m, (nn.Conv2d, nn.Linear))] == [156, 2416, 48120, 10164, 850]
    assert _conv_outputs(model, torch.zeros(1, 1, 32, 32)) == [(6, 28, 28), (16, 10, 10),
                                                                (120, 1, 1)]
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 10)


def test_lenet5_digits_same_layers():
    for size in (28, 32):
        model = M.lenet5_digits(size)
        assert M.count_params(model) == 61706
        assert _conv_outputs(model, torch.zeros(1, 1, size, size))[0] == (6, 28, 28)
    with pytest.raises(ValueError, match="size=16 is not supported"):
        M.lenet5_digits(16)


def test_alexnet_counts(big_models):
    plain, grouped = big_models["alexnet"], big_models["alexnet_grouped"]
    assert M.count_params(plain) == 62378344
    assert M.param_breakdown(plain)["conv"] == 3747200
    assert M.param_breakdown(grouped) == {"conv": 2334080, "fc": 58631144, "norm": 0,
                                          "other": 0, "total": 60965224}
    groups = [m.groups for m in grouped.modules() if isinstance(m, nn.Conv2d)]
    assert groups == [1, 2, 1, 2, 2]


def test_alexnet_neurons_and_forward_backward(big_models):
    model = big_models["alexnet_grouped"]
    x = torch.randn(1, 3, 227, 227)
    shapes = _conv_outputs(model, x)
    assert [arith.num_neurons(s) for s in shapes] == [290400, 186624, 64896, 64896, 43264]
    assert shapes[0] == (96, 55, 55)
    model.train()
    out = model(x)
    assert out.shape == (1, 1000)
    out.sum().backward()
    assert model.features.conv1.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_vgg16_counts_and_shapes(big_models):
    model = big_models["vgg16"]
    assert M.count_params(model) == 138357544
    split = M.param_breakdown(model)
    assert (split["conv"], split["fc"]) == (14714688, 123642856)
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) and m.stride == (1, 1)
               for m in model.modules() if isinstance(m, nn.Conv2d))
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 13
    with torch.no_grad():
        features = model.eval().features(torch.zeros(1, 3, 224, 224))
    assert features.shape == (1, 512, 7, 7)


def test_vgg16_forward_backward_small_input(big_models):
    # The adaptive pool lets a 32x32 image through; full-size backward would cost seconds.
    model = big_models["vgg16"].train()
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 1000)
    out.sum().backward()
    assert model.features[0].weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_keras_example():
    model = M.keras_example()
    assert M.count_params(model) == 122570
    assert [sum(p.numel() for p in m.parameters()) for m in model.children()] == \
        [896, 0, 18496, 0, 36928, 0, 65600, 650]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("builder, count", [
    (M.resnet18, 11689512), (M.resnet34, 21797672), (M.resnet50, 25557032)])
def test_resnet_counts_match_torchvision(builder, count):
    model = builder()
    assert M.count_params(model) == count
    # torchvision's state_dict key layout (so weights saved from torchvision would load).
    keys = set(model.state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer2.0.downsample.0.weight",
            "layer4.1.bn2.weight", "fc.bias"} <= keys


def test_resnet_forward_backward_and_plain():
    model = M.resnet18()
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    assert out.shape == (2, 1000)
    out.sum().backward()
    assert model.conv1.weight.grad is not None
    plain = M.resnet18(plain=True)
    assert not any("downsample" in name for name, _ in plain.named_modules())
    # Same trunk without the three 1x1 projection shortcuts (conv + BN each).
    projections = sum(arith.conv2d_params(1, 1, c, 2 * c, bias=False) + 2 * 2 * c
                      for c in (64, 128, 256))
    assert M.count_params(model) - M.count_params(plain) == projections
    assert plain(x).shape == (2, 1000)


def test_residual_block_adds_identity():
    torch.manual_seed(0)
    block = M.ResidualBlock(8, 8).eval()
    x = torch.randn(2, 8, 5, 5)
    # Zero the last BN scale: F(x) = 0, so y = relu(x) exactly (the identity path).
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    assert torch.allclose(block(x), torch.relu(x))
    plain = M.ResidualBlock(8, 8, skip=False).eval()
    nn.init.zeros_(plain.bn2.weight)
    nn.init.zeros_(plain.bn2.bias)
    assert torch.count_nonzero(plain(x)) == 0
    down = M.ResidualBlock(8, 16, stride=2)
    assert down(x).shape == (2, 16, 3, 3)


def test_bottleneck_block_shapes():
    block = M.BottleneckBlock(64, 16, stride=2)
    assert block(torch.randn(1, 64, 8, 8)).shape == (1, 64, 4, 4)
    assert block.downsample is not None        # stride 2 changes the shape
    same = M.BottleneckBlock(64, 16)
    assert same.downsample is None             # 64 -> 4 * 16: identity fits


def test_inception_module_counts_and_shapes():
    module = M.InceptionModule(192, 64, 96, 128, 16, 32, 32)
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    assert sum(m.weight.numel() for m in convs) == \
        arith.inception_module_params(192, 64, 96, 128, 16, 32, 32, bias=False)
    assert module(torch.zeros(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    naive = M.InceptionModule(192, 64, 96, 128, 16, 32, 32, reductions=False)
    assert sum(m.weight.numel() for m in naive.modules() if isinstance(m, nn.Conv2d)) == 387072
    assert naive(torch.zeros(1, 192, 28, 28)).shape == (1, 64 + 128 + 32 + 192, 28, 28)
    with pytest.raises(ValueError, match="kernel_5x5 must be odd"):
        M.InceptionModule(192, 64, 96, 128, 16, 32, 32, kernel_5x5=4)


def test_googlenet_counts_shapes_aux():
    assert M.count_params(M.googlenet(kernel_5x5=3)) == 6624904          # torchvision
    assert M.count_params(M.googlenet(aux_logits=True, kernel_5x5=3)) == 13004888
    model = M.googlenet(aux_logits=True)
    assert M.count_params(model) == 7005832 + 6379984
    assert sum(p.numel() for p in model.fc.parameters()) == 1025000
    inceptions = [m for m in model.children() if isinstance(m, M.InceptionModule)]
    assert len(inceptions) == 9
    assert inceptions[-1].out_channels == 1024
    model.train()
    x = torch.randn(2, 3, 96, 96)
    logits, aux2, aux1 = model(x)
    assert logits.shape == aux1.shape == aux2.shape == (2, 1000)
    (logits.sum() + 0.3 * (aux1.sum() + aux2.sum())).backward()
    assert model.aux1.fc2.weight.grad is not None
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)   # aux heads off in eval


def test_nin_uses_gap_and_no_fc():
    model = M.nin()
    assert M.param_breakdown(model)["fc"] == 0
    assert M.count_params(model) == 966986
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    out.sum().backward()
    with pytest.raises(ValueError, match="three sizes"):
        M.MLPConv(3, (8, 8), 3)


@pytest.mark.parametrize("builder, size", [
    (lambda: M.lenet5_digits(28), 28), (lambda: M.mini_vgg(28), 28),
    (lambda: M.mini_vgg(16), 16), (lambda: M.mini_resnet(8), 28),
    (lambda: M.mini_resnet(14, plain=True), 16)])
def test_digit_models_forward_backward(builder, size):
    model = builder()
    x = torch.randn(4, 1, size, size)
    out = model(x)
    assert out.shape == (4, 10)
    nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mini_resnet_depth():
    for depth in (8, 14, 20):
        model = M.mini_resnet(depth)
        weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()
                       if not _in_shortcut(model, m))
        assert weighted == depth
    with pytest.raises(ValueError, match="6n \\+ 2.*got 10"):
        M.mini_resnet(10)
    with pytest.raises(ValueError, match="size=30 must be a positive multiple of 4"):
        M.mini_vgg(30)


def _in_shortcut(model, module):
    return any(module is m for name, sub in model.named_modules() if name.endswith("downsample")
               for m in sub.modules())


@pytest.mark.parametrize("img_size", [16, 28, 32])
def test_dcgan_shapes(img_size):
    gen = M.Generator(z_dim=20, img_size=img_size, base_channels=8)
    disc = M.Discriminator(img_size=img_size, base_channels=8)
    z = torch.randn(5, 20)
    fake = gen(z)
    assert fake.shape == (5, 1, img_size, img_size)
    assert fake.abs().max() <= 1                       # tanh output
    logits = disc(fake)
    assert logits.shape == (5,)
    logits.sum().backward()
    assert gen.net.project.weight.grad is not None
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear))
                   for m in list(gen.modules()) + list(disc.modules()))
    sizes = [img_size // 4]
    for _ in range(2):
        sizes.append(conv_transpose_output_size(sizes[-1], 4, stride=2, padding=1))
    assert sizes[-1] == img_size


def test_generator_param_count_formula():
    gen = M.Generator(z_dim=32, img_size=16, base_channels=32)
    expected = (32 * 128 * 4 * 4 + 2 * 128        # project (no bias) + BN
                + 128 * 64 * 4 * 4 + 2 * 64       # up1 (no bias) + BN
                + 64 * 1 * 4 * 4 + 1)             # up2 with bias
    assert M.count_params(gen) == expected
    with pytest.raises(ValueError, match=r"expected z of shape \(N, 32\), got \(3, 7\)"):
        gen(torch.zeros(3, 7))
    with pytest.raises(ValueError, match="img_size=18 must be a positive multiple of 4"):
        M.Generator(img_size=18)


@pytest.mark.parametrize("dim", [1, 2])
def test_toy_gan_models(dim):
    gen = M.ToyGenerator(z_dim=3, out_dim=dim)
    disc = M.ToyDiscriminator(in_dim=dim)
    samples = gen(torch.randn(7, 3))
    assert samples.shape == (7, dim)
    logits = disc(samples)
    assert logits.shape == (7,)
    logits.mean().backward()
    assert all(p.grad is not None for p in gen.parameters())


def test_count_params_trainable_only():
    model = M.lenet5()
    for p in model.c1.parameters():
        p.requires_grad_(False)
    assert M.count_params(model) == 61706
    assert M.count_params(model, trainable_only=True) == 61706 - 156


def test_param_breakdown_uses_the_one_layer_classifier():
    # Kinds come from cnncourse.aids.summary.layer_kind (by module type, not by name): a Linear
    # called "conv" is still "fc"; a PReLU's weight is an activation's; a tied weight counts once.
    from cnncourse.aids.summary import layer_kind

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Linear(4, 4)                  # misleading name, FC by type
            self.norm = nn.LayerNorm(4)
            self.act = nn.PReLU()
            self.scale = nn.Parameter(torch.ones(4))     # owned directly: "other"
            self.head = nn.Linear(4, 4, bias=False)
            self.head.weight = self.conv.weight          # tied

    model = Odd()
    assert [layer_kind(m) for m in (model.conv, model.norm, model.act, model)] == \
        ["fc", "norm", "act", "other"]
    split = M.param_breakdown(model)
    assert split == {"conv": 0, "fc": 20, "norm": 8, "other": 4, "act": 1, "total": 33}
    assert split["total"] == M.count_params(model)


def test_param_breakdown_agrees_with_the_summary_rows():
    from cnncourse.aids.model_explorer import layer_rows, params_by_kind

    with torch.device("meta"):
        model = M.alexnet(grouped=True)
    by_rows = params_by_kind(layer_rows(model, (3, 227, 227)))
    split = M.param_breakdown(model)
    assert by_rows == {kind: count for kind, count in split.items()
                       if kind != "total" and count} == {"conv": 2334080, "fc": 58631144}
