"""Case-study networks of the course, built as plain `torch.nn.Module`s.

Full-size models reproduce the published layouts and their exact parameter counts:

| builder | input | parameters |
| --- | --- | --- |
| `lenet5()` | 1x32x32 | 61,706 |
| `alexnet()` / `alexnet(grouped=True)` | 3x227x227 | 62,378,344 / 60,965,224 |
| `vgg16()` | 3x224x224 | 138,357,544 |
| `googlenet()` (5x5 branch) / `googlenet(kernel_5x5=3)` | 3x224x224 | 7,005,832 / 6,624,904 |
| `resnet18()`, `resnet34()`, `resnet50()` | 3x224x224 | 11,689,512 / 21,797,672 / 25,557,032 |
| `nin()` | 3x32x32 | 966,986 |
| `keras_example()` | 3x32x32 | (notebook 06 exercise) |

Small variants train on the bundled digits in seconds on a CPU: `lenet5_digits()`, `mini_vgg()`,
`mini_resnet(depth, plain=False)`. The generative models are the DCGAN `Generator` /
`Discriminator` for digit images and the fully connected `ToyGenerator` / `ToyDiscriminator`
for 1-D and 2-D toy distributions. Discriminators return logits; D(x) = sigmoid(logit).

`count_params(model)` and `param_breakdown(model)` count parameters (the conv vs FC split, by
the one layer classifier `cnncourse.aids.summary.layer_kind`).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..aids.summary import layer_kind

__all__ = [
    "count_params", "param_breakdown",
    "lenet5", "lenet5_digits", "alexnet", "vgg16", "keras_example", "KerasExample",
    "MLPConv", "nin", "BasicConv2d", "InceptionModule", "InceptionAux", "GoogLeNet", "googlenet",
    "ResidualBlock", "BottleneckBlock", "ResNet", "resnet18", "resnet34", "resnet50",
    "mini_vgg", "mini_resnet",
    "Generator", "Discriminator", "ToyGenerator", "ToyDiscriminator",
]

# --------------------------------------------------------------------------------------------
# counting
# --------------------------------------------------------------------------------------------
def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of `model` (each shared tensor counted once).

        count = sum over parameters p of numel(p)   (only requires_grad ones if trainable_only)

    Returns: int
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def param_breakdown(model: nn.Module) -> dict[str, int]:
    """Split the parameter count by layer kind (`cnncourse.aids.summary.layer_kind`).

        counts[kind] = sum over modules m with layer_kind(m) == kind of the parameters m owns

    Every module is visited, also those a forward pass skips (GoogLeNet's auxiliary heads in
    eval mode); a parameter shared by two modules is counted once, with the first.

    Returns: dict with keys
    - "conv": convolution and transposed-convolution weights and biases
    - "fc": fully connected (nn.Linear) weights and biases
    - "norm": batch/layer/group/local-response norm scales and shifts
    - "other": parameters held by a module of no other kind (a custom module's own nn.Parameter)
    - any other kind of `LAYER_KINDS` that holds parameters (e.g. "act" for PReLU)
    - "total": the sum, equal to `count_params(model)`
    """
    counts = {"conv": 0, "fc": 0, "norm": 0, "other": 0}
    seen: set[int] = set()
    for module in model.modules():
        own = 0
        for p in module.parameters(recurse=False):
            if id(p) not in seen:
                seen.add(id(p))
                own += p.numel()
        kind = layer_kind(module)
        if own or kind in counts:
            counts[kind] = counts.get(kind, 0) + own
    counts["total"] = sum(counts.values())
    return counts


def _check_size(name: str, size: int, allowed: Sequence[int] | None = None,
                multiple_of: int | None = None) -> None:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{name} must be an int, got {size!r}")
    if allowed is not None and size not in allowed:
        raise ValueError(f"{name}={size} is not supported; use one of {tuple(allowed)}")
    if multiple_of is not None and (size < multiple_of or size % multiple_of):
        raise ValueError(f"{name}={size} must be a positive multiple of {multiple_of}")


# --------------------------------------------------------------------------------------------
# LeNet-5
# --------------------------------------------------------------------------------------------
def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, "Gradient-based learning applied to
    document recognition", Fig. 2), input 1x32x32.

    C1 6@5x5 -> 6x28x28, S2 2x2 subsampling -> 6x14x14, C3 16@5x5 -> 16x10x10, S4 -> 16x5x5,
    C5 120@5x5 -> 120x1x1, F6 84, output 10; tanh activations, average pooling.

    Parameters: C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850 = 61,706. This is the
    usual modern reading: C3 connects every S2 map (the paper's sparse connection table gives
    1,516 instead of 2,416), subsampling has no trainable coefficients (the paper's S2/S4 have
    12 and 32) and the output is a plain linear layer instead of RBF units.

    Input (N, 1, 32, 32) -> output (N, num_classes) logits.
    """
    return nn.Sequential(OrderedDict([
        ("c1", nn.Conv2d(1, 6, kernel_size=5)),
        ("tanh1", nn.Tanh()),
        ("s2", nn.AvgPool2d(2)),
        ("c3", nn.Conv2d(6, 16, kernel_size=5)),
        ("tanh3", nn.Tanh()),
        ("s4", nn.AvgPool2d(2)),
        ("c5", nn.Conv2d(16, 120, kernel_size=5)),
        ("tanh5", nn.Tanh()),
        ("flatten", nn.Flatten()),
        ("f6", nn.Linear(120, 84)),
        ("tanh6", nn.Tanh()),
        ("output", nn.Linear(84, num_classes)),
    ]))


def lenet5_digits(size: int = 28, num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 shaped net for the bundled 1xSxS digits (S = 28 or 32), with modern parts.

    Same layer sizes as `lenet5` (so the same 61,706 parameters): C1 6@5x5 with padding
    (32 - S) / 2 so that a 28x28 digit yields 6x28x28 as in the 32x32 original, then
    ReLU and 2x2 max pooling instead of tanh and average subsampling (trains faster).

    Input (N, 1, S, S) -> output (N, num_classes) logits.
    """
    _check_size("size", size, allowed=(28, 32))
    return nn.Sequential(OrderedDict([
        ("c1", nn.Conv2d(1, 6, kernel_size=5, padding=(32 - size) // 2)),
        ("relu1", nn.ReLU()),
        ("s2", nn.MaxPool2d(2)),
        ("c3", nn.Conv2d(6, 16, kernel_size=5)),
        ("relu3", nn.ReLU()),
        ("s4", nn.MaxPool2d(2)),
        ("c5", nn.Conv2d(16, 120, kernel_size=5)),
        ("relu5", nn.ReLU()),
        ("flatten", nn.Flatten()),
        ("f6", nn.Linear(120, 84)),
        ("relu6", nn.ReLU()),
        ("output", nn.Linear(84, num_classes)),
    ]))


# --------------------------------------------------------------------------------------------
# AlexNet
# --------------------------------------------------------------------------------------------
# The paper's LRN alpha (1e-4) times the window size 5: torch's LocalResponseNorm divides by it.
_LRN_ALPHA = 1e-4 * 5


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky, Sutskever, Hinton 2012, "ImageNet classification with deep
    convolutional neural networks", Fig. 2), input 3x227x227.

    features:
      conv1 96@11x11 stride 4      -> 96x55x55   (290,400 neurons), ReLU, LRN, max pool 3x3/2 -> 27
      conv2 256@5x5 pad 2          -> 256x27x27  (186,624), ReLU, LRN, max pool 3x3/2 -> 13
      conv3 384@3x3 pad 1          -> 384x13x13  (64,896), ReLU
      conv4 384@3x3 pad 1          -> 384x13x13  (64,896), ReLU
      conv5 256@3x3 pad 1          -> 256x13x13  (43,264), ReLU, max pool 3x3/2 -> 256x6x6
    classifier: dropout 0.5, FC 9216->4096, ReLU, dropout 0.5, FC 4096->4096, ReLU, FC ->1000.

    With grouped=True conv2, conv4 and conv5 use groups=2 like the paper's two-GPU split (each
    kernel sees the half of the previous layer on its own GPU; conv3 sees both halves):
    conv 2,334,080 + FC 58,631,144 = 60,965,224 parameters. Without groups the convs have
    3,747,200 and the total is 62,378,344. LRN: size 5, alpha 1e-4, beta 0.75, k 2 (paper); torch divides alpha by the size, so the
    module gets alpha 5e-4 to compute the paper's normalization.

    Input (N, 3, 227, 227) -> output (N, num_classes) logits.
    """

    def __init__(self, num_classes: int = 1000, grouped: bool = False, dropout: float = 0.5):
        super().__init__()
        groups = 2 if grouped else 1
        self.grouped = grouped
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 96, kernel_size=11, stride=4)),
            ("relu1", nn.ReLU(inplace=True)),
            ("norm1", nn.LocalResponseNorm(5, alpha=_LRN_ALPHA, beta=0.75, k=2.0)),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups)),
            ("relu2", nn.ReLU(inplace=True)),
            ("norm2", nn.LocalResponseNorm(5, alpha=_LRN_ALPHA, beta=0.75, k=2.0)),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups)),
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups)),
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ]))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(OrderedDict([
            ("dropout6", nn.Dropout(dropout)),
            ("fc6", nn.Linear(256 * 6 * 6, 4096)),
            ("relu6", nn.ReLU(inplace=True)),
            ("dropout7", nn.Dropout(dropout)),
            ("fc7", nn.Linear(4096, 4096)),
            ("relu7", nn.ReLU(inplace=True)),
            ("fc8", nn.Linear(4096, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


def alexnet(grouped: bool = False, num_classes: int = 1000) -> AlexNet:
    """AlexNet for 3x227x227 input; grouped=True gives the paper's two-GPU groups.

    Parameters: 62,378,344 (conv 3,747,200) or, grouped, 60,965,224 (conv 2,334,080,
    FC 58,631,144). See `AlexNet`.
    """
    return AlexNet(num_classes=num_classes, grouped=grouped)


# --------------------------------------------------------------------------------------------
# VGG-16
# --------------------------------------------------------------------------------------------
_VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M")


def _vgg_features(config: Sequence[int | str], in_channels: int,
                  batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(channels, int(item), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(item)))
        layers.append(nn.ReLU(inplace=True))
        channels = int(item)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG network: `features` (3x3 convs, 2x2 max pools), `avgpool`, `classifier` (FCs)."""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential,
                 pool_size: tuple[int, int] | None):
        super().__init__()
        self.features = features
        # torchvision adds this (a no-op at 224x224) so other input sizes still fit the FCs.
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size) if pool_size else nn.Identity()
        self.flatten = nn.Flatten()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def vgg16(num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-16, configuration D of Simonyan & Zisserman 2015 ("Very deep convolutional networks
    for large-scale image recognition", Table 1), torchvision layout, input 3x224x224.

    13 convs 3x3 stride 1 pad 1 in five blocks (64, 64 | 128, 128 | 256 x3 | 512 x3 | 512 x3),
    each block closed by 2x2/2 max pooling (224 -> 7), then FC 25088->4096, ReLU, dropout,
    FC 4096->4096, ReLU, dropout, FC 4096->num_classes.

    Parameters: conv 14,714,688 + FC 123,642,856 = 138,357,544 (FC share 89.4%).

    Input (N, 3, 224, 224) -> output (N, num_classes) logits.
    """
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )
    return VGG(_vgg_features(_VGG16_CONFIG, 3), classifier, pool_size=(7, 7))


def mini_vgg(size: int = 28, in_channels: int = 1, num_classes: int = 10, width: int = 16,
             hidden: int = 64, dropout: float = 0.3) -> VGG:
    """Small VGG-style net for the bundled digits: two blocks of two 3x3 convs (batch norm,
    ReLU) each closed by 2x2 max pooling, then FC `hidden`, dropout, FC num_classes.

        (N, C, S, S) -> width x S/2 -> 2*width x S/4 -> flatten 2*width*(S/4)^2 -> hidden -> classes

    `size` S must be a multiple of 4. Input (N, in_channels, S, S) -> (N, num_classes) logits.
    """
    _check_size("size", size, multiple_of=4)
    config = (width, width, "M", 2 * width, 2 * width, "M")
    features = _vgg_features(config, in_channels, batch_norm=True)
    flat = 2 * width * (size // 4) ** 2
    classifier = nn.Sequential(
        nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
    return VGG(features, classifier, pool_size=None)


# --------------------------------------------------------------------------------------------
# Keras example from the slides
# --------------------------------------------------------------------------------------------
class KerasExample(nn.Module):
    """The Keras model of the slides, rebuilt in PyTorch, input 3x32x32:

        Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2)
        -> Conv2D(64, 3x3, relu) -> Flatten -> Dense(64, relu) -> Dense(10)

    Notebook 06 has students work out each layer's output shape and parameter count, so this
    docstring does not list them: `cnncourse.summary(keras_example(), (3, 32, 32))` prints them.

    ReLU is applied in `forward` (like Keras's `activation="relu"` argument), so the leaf modules
    and the rows of `summary` are exactly the eight Keras layers.

    Input (N, 3, 32, 32) -> output (N, 10) logits.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.flatten = nn.Flatten()
        self.dense1 = nn.Linear(64 * 4 * 4, 64)
        self.dense2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.flatten(F.relu(self.conv3(x)))
        return self.dense2(F.relu(self.dense1(x)))


def keras_example() -> KerasExample:
    """The slides' Keras CNN for 32x32x3 input; see `KerasExample`."""
    return KerasExample()


# --------------------------------------------------------------------------------------------
# Network in Network
# --------------------------------------------------------------------------------------------
class MLPConv(nn.Sequential):
    """NIN's MLPconv block: a KxK convolution followed by two 1x1 convolutions (a small MLP
    slid over every position), each with ReLU.

        (N, C_in, H, W) -> (N, channels[2], H', W'),  H' = H + 2*padding - K + 1 (stride 1)
    """

    def __init__(self, in_channels: int, channels: Sequence[int], kernel_size: int,
                 padding: int = 0):
        if len(channels) != 3:
            raise ValueError(f"channels must hold three sizes (KxK, 1x1, 1x1), got {channels}")
        c1, c2, c3 = channels
        super().__init__(
            nn.Conv2d(in_channels, c1, kernel_size, padding=padding), nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(c2, c3, kernel_size=1), nn.ReLU(inplace=True),
        )


def nin(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.5) -> nn.Sequential:
    """Network in Network (Lin, Chen, Yan 2014) for 3x32x32 CIFAR-10 input.

    MLPconv(5x5: 192-160-96), max pool 3x3/2, dropout; MLPconv(5x5: 192-192-192), avg pool 3x3/2,
    dropout; MLPconv(3x3: 192-192-num_classes); global average pooling gives one score per class
    map, replacing the fully connected layers (no FC parameters at all). 966,986 parameters.

    Input (N, 3, 32, 32) -> (N, num_classes) logits.
    """
    return nn.Sequential(OrderedDict([
        ("mlpconv1", MLPConv(in_channels, (192, 160, 96), kernel_size=5, padding=2)),
        ("pool1", nn.MaxPool2d(3, stride=2, padding=1)),
        ("dropout1", nn.Dropout(dropout)),
        ("mlpconv2", MLPConv(96, (192, 192, 192), kernel_size=5, padding=2)),
        ("pool2", nn.AvgPool2d(3, stride=2, padding=1)),
        ("dropout2", nn.Dropout(dropout)),
        ("mlpconv3", MLPConv(192, (192, 192, num_classes), kernel_size=3, padding=1)),
        ("gap", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
    ]))


# --------------------------------------------------------------------------------------------
# GoogLeNet
# --------------------------------------------------------------------------------------------
class BasicConv2d(nn.Sequential):
    """Convolution (no bias), batch norm (eps 0.001), ReLU: torchvision GoogLeNet's unit."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        super().__init__(OrderedDict([
            ("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                               padding=padding, bias=False)),
            ("bn", nn.BatchNorm2d(out_channels, eps=0.001)),
            ("relu", nn.ReLU(inplace=True)),
        ]))


class InceptionModule(nn.Module):
    """GoogLeNet inception module (Szegedy et al. 2015, "Going deeper with convolutions",
    Fig. 2b), torchvision layout (each conv is `BasicConv2d`: conv without bias, BN, ReLU).

    Four parallel branches on the same input, concatenated along channels:
      branch1: 1x1 conv -> ch1x1
      branch2: 1x1 conv -> ch3x3red, 3x3 conv (pad 1) -> ch3x3
      branch3: 1x1 conv -> ch5x5red, KxK conv (pad K//2) -> ch5x5, K = kernel_5x5
      branch4: 3x3/1 max pool (pad 1), 1x1 conv -> pool_proj

        (N, C_in, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)

    kernel_5x5=5 follows the paper; torchvision uses 3 there (an upstream quirk kept for its
    pretrained weights), which `kernel_5x5=3` reproduces. With reductions=False the module is
    the paper's naive version (Fig. 2a): 1x1, 3x3 and KxK convs straight on the input and the
    pooled input passed through, giving ch1x1 + ch3x3 + ch5x5 + C_in channels.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, kernel_5x5: int = 5, reductions: bool = True):
        super().__init__()
        if kernel_5x5 % 2 != 1:
            raise ValueError(f"kernel_5x5 must be odd to keep H and W, got {kernel_5x5}")
        pad = kernel_5x5 // 2
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        if reductions:
            self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                         BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                         BasicConv2d(ch5x5red, ch5x5, kernel_size=kernel_5x5,
                                                     padding=pad))
            self.branch4 = nn.Sequential(
                nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                BasicConv2d(in_channels, pool_proj, kernel_size=1))
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        else:
            self.branch2 = BasicConv2d(in_channels, ch3x3, kernel_size=3, padding=1)
            self.branch3 = BasicConv2d(in_channels, ch5x5, kernel_size=kernel_5x5, padding=pad)
            self.branch4 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                         dim=1)


class InceptionAux(nn.Module):
    """GoogLeNet auxiliary classifier (training only), torchvision layout:
    adaptive average pool to 4x4, 1x1 conv 128, FC 2048->1024, ReLU, dropout 0.7, FC ->classes.

        (N, C_in, H, W) -> (N, num_classes)
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.conv(self.pool(x)))
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


_INCEPTION_CONFIG = OrderedDict([
    ("inception3a", (192, 64, 96, 128, 16, 32, 32)),
    ("inception3b", (256, 128, 128, 192, 32, 96, 64)),
    ("maxpool3", None),
    ("inception4a", (480, 192, 96, 208, 16, 48, 64)),
    ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
    ("inception4c", (512, 128, 128, 256, 24, 64, 64)),
    ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
    ("inception4e", (528, 256, 160, 320, 32, 128, 128)),
    ("maxpool4", None),
    ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
    ("inception5b", (832, 384, 192, 384, 48, 128, 128)),
])


class GoogLeNet(nn.Module):
    """GoogLeNet / Inception v1 (Szegedy et al. 2015, Table 1), torchvision layout, 3x224x224.

    Stem: 7x7/2 conv 64, 3x3/2 max pool, 1x1 conv 64, 3x3 conv 192, 3x3/2 max pool (-> 28x28);
    nine inception modules 3a, 3b | 4a-4e | 5a, 5b with 3x3/2 and 2x2/2 max pools between the
    groups (-> 7x7x1024); global average pooling, dropout 0.2, one FC 1024->1000
    (1,025,000 parameters). With aux_logits=True two auxiliary classifiers hang off 4a and 4d;
    in training mode forward returns (logits, aux2, aux1), in eval mode only logits.

    Parameters: 7,005,832 with real 5x5 convs (kernel_5x5=5, paper) or 6,624,904 with
    kernel_5x5=3 (torchvision); aux heads add 6,379,984.

    Input (N, 3, 224, 224) -> (N, num_classes) logits.
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, kernel_5x5: int = 5,
                 dropout: float = 0.2):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, config in _INCEPTION_CONFIG.items():
            if config is None:
                # torchvision's last pool is 2x2/2 (paper: 3x3/2); both map 14x14 to 7x7.
                kernel = 3 if name == "maxpool3" else 2
                setattr(self, name, nn.MaxPool2d(kernel, stride=2, ceil_mode=True))
            else:
                setattr(self, name, InceptionModule(*config, kernel_5x5=kernel_5x5))
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        use_aux = self.aux_logits and self.training
        aux1 = self.aux1(x) if use_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if use_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.flatten(self.avgpool(x))))
        if use_aux:
            return logits, aux2, aux1
        return logits


def googlenet(aux_logits: bool = False, num_classes: int = 1000,
              kernel_5x5: int = 5) -> GoogLeNet:
    """GoogLeNet for 3x224x224 input; see `GoogLeNet` (7,005,832 parameters by default,
    6,624,904 with kernel_5x5=3 as torchvision, +6,379,984 with aux_logits=True)."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, kernel_5x5=kernel_5x5)


# --------------------------------------------------------------------------------------------
# ResNet
# --------------------------------------------------------------------------------------------
def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    # Projection (1x1 conv + BN) only where the shapes change, as torchvision ("option B").
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class ResidualBlock(nn.Module):
    """Basic residual block of ResNet-18/34 (He et al. 2016, Fig. 2), torchvision layout.

        F(x) = BN(conv3x3(ReLU(BN(conv3x3_stride(x)))))
        y = ReLU(F(x) + shortcut(x))     shortcut = identity, or 1x1 conv stride s + BN when
                                          the shape changes
        y = ReLU(F(x))                   with skip=False (the "plain" block, no shortcut at all)

        (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)

    Because y = F(x) + x, dE/dx = dE/dy (1 + dF/dx): the gradient reaches x even if dF/dx is small.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, skip: bool = True):
        super().__init__()
        self.skip = skip
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = _shortcut(in_channels, channels, stride) if skip else None
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        if self.skip:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu2(out)


class BottleneckBlock(nn.Module):
    """Bottleneck residual block of ResNet-50/101/152 (He et al. 2016, Fig. 5), torchvision
    layout (stride on the 3x3 conv): 1x1 conv reduces to `channels`, 3x3 conv, 1x1 conv expands
    to 4 * channels, each followed by BN; y = ReLU(F(x) + shortcut(x)) (or ReLU(F(x)) if
    skip=False).

        (N, C_in, H, W) -> (N, 4 * channels, H / stride, W / stride)
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, skip: bool = True):
        super().__init__()
        out_channels = channels * self.expansion
        self.skip = skip
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = _shortcut(in_channels, out_channels, stride) if skip else None
        self.relu3 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.skip:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu3(out)


class ResNet(nn.Module):
    """ResNet (He, Zhang, Ren, Sun 2016, "Deep residual learning for image recognition",
    Table 1), torchvision layout.

    ImageNet stem (stem="imagenet"): 7x7/2 conv 64, BN, ReLU, 3x3/2 max pool (224 -> 56).
    Small stem (stem="small", for digits/CIFAR): 3x3 conv `widths[0]`, BN, ReLU.
    Then one stage per entry of `layers`, each `layers[i]` blocks with `widths[i]` channels
    (the first block of every stage after the first has stride 2), global average pooling
    and one FC layer. skip=False builds the "plain" counterpart with the same layers minus the
    shortcuts (and minus the projection convs).

        (N, in_channels, H, W) -> (N, num_classes) logits
    """

    def __init__(self, block: type[ResidualBlock] | type[BottleneckBlock],
                 layers: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512),
                 num_classes: int = 1000, in_channels: int = 3, stem: str = "imagenet",
                 skip: bool = True):
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"layers {tuple(layers)} and widths {tuple(widths)} must have the "
                             f"same length")
        # Top-level names conv1/bn1/relu/maxpool/layerN/fc match torchvision's state_dict keys.
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        elif stem == "small":
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        else:
            raise ValueError(f"stem must be 'imagenet' or 'small', got {stem!r}")
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem == "imagenet" else None
        channels = widths[0]
        for index, (num_blocks, width) in enumerate(zip(layers, widths)):
            blocks = []
            for block_index in range(num_blocks):
                stride = 2 if index > 0 and block_index == 0 else 1
                blocks.append(block(channels, width, stride=stride, skip=skip))
                channels = width * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
        self.num_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for index in range(self.num_stages):
            x = getattr(self, f"layer{index + 1}")(x)
        return self.fc(self.flatten(self.avgpool(x)))


def resnet18(plain: bool = False, num_classes: int = 1000) -> ResNet:
    """ResNet-18 for 3x224x224 (torchvision layout): basic blocks [2, 2, 2, 2], 11,689,512
    parameters. plain=True drops the shortcuts (and their 1x1 projections)."""
    return ResNet(ResidualBlock, (2, 2, 2, 2), num_classes=num_classes, skip=not plain)


def resnet34(plain: bool = False, num_classes: int = 1000) -> ResNet:
    """ResNet-34 for 3x224x224 (torchvision layout): basic blocks [3, 4, 6, 3], 21,797,672
    parameters. plain=True drops the shortcuts (and their 1x1 projections)."""
    return ResNet(ResidualBlock, (3, 4, 6, 3), num_classes=num_classes, skip=not plain)


def resnet50(plain: bool = False, num_classes: int = 1000) -> ResNet:
    """ResNet-50 for 3x224x224 (torchvision layout): bottleneck blocks [3, 4, 6, 3],
    25,557,032 parameters. plain=True drops the shortcuts."""
    return ResNet(BottleneckBlock, (3, 4, 6, 3), num_classes=num_classes, skip=not plain)


def mini_resnet(depth: int = 8, plain: bool = False, in_channels: int = 1,
                num_classes: int = 10, width: int = 16) -> ResNet:
    """CIFAR-style ResNet (He et al. 2016, section 4.2) for small images such as the digits.

    depth = 6n + 2 layers with weights: a 3x3 stem conv, three stages of n basic blocks with
    width, 2*width, 4*width channels (strides 1, 2, 2), global average pooling, one FC.
    plain=True gives the same net without shortcuts, for the degradation experiment: on the
    16x16 digits with width=8, two epochs of Adam (lr 1e-3, batch 64) leave plain-32 at a
    clearly higher training loss than plain-8, and the residual 32-layer net below both
    (checked in tests/test_torch_train.py).

    Input (N, in_channels, H, W), any H, W >= 4 -> (N, num_classes) logits.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(ResidualBlock, (n, n, n), widths=(width, 2 * width, 4 * width),
                  num_classes=num_classes, in_channels=in_channels, stem="small",
                  skip=not plain)


# --------------------------------------------------------------------------------------------
# GANs
# --------------------------------------------------------------------------------------------
class Generator(nn.Module):
    """DCGAN generator (Radford, Metz, Chintala 2016): a noise vector z grows into an image
    through transposed convolutions with batch norm and ReLU, tanh at the end; no pooling and
    no fully connected layer (the data flow of a CNN run backwards).

        z (N, z_dim) -> view (N, z_dim, 1, 1)
        ConvT k=S/4, s=1, p=0   -> (N, 4b, S/4, S/4), BN, ReLU
        ConvT k=4,   s=2, p=1   -> (N, 2b, S/2, S/2), BN, ReLU
        ConvT k=4,   s=2, p=1   -> (N, C, S, S), tanh (values in [-1, 1])

    b = base_channels, S = img_size (a multiple of 4: 16, 28, 32). Each up-sampling step follows
    O = (I - 1) * 2 - 2 + 4 = 2I.
    """

    def __init__(self, z_dim: int = 32, img_size: int = 16, channels: int = 1,
                 base_channels: int = 32):
        super().__init__()
        _check_size("img_size", img_size, multiple_of=4)
        self.z_dim = z_dim
        self.img_size = img_size
        self.channels = channels
        b = base_channels
        self.net = nn.Sequential(OrderedDict([
            ("project", nn.ConvTranspose2d(z_dim, 4 * b, img_size // 4, bias=False)),
            ("bn1", nn.BatchNorm2d(4 * b)),
            ("relu1", nn.ReLU(inplace=True)),
            ("up1", nn.ConvTranspose2d(4 * b, 2 * b, 4, stride=2, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(2 * b)),
            ("relu2", nn.ReLU(inplace=True)),
            ("up2", nn.ConvTranspose2d(2 * b, channels, 4, stride=2, padding=1)),
            ("tanh", nn.Tanh()),
        ]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected z of shape (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: strided convolutions (no pooling), batch norm, LeakyReLU(0.2).

        (N, C, S, S) -> Conv k=4 s=2 p=1 -> (N, b, S/2, S/2), LeakyReLU
                     -> Conv k=4 s=2 p=1 -> (N, 2b, S/4, S/4), BN, LeakyReLU
                     -> Conv k=S/4       -> (N, 1, 1, 1) -> logits (N,)

    Returns logits; the textbook's D(x) (probability of "real") is sigmoid(logit).
    """

    def __init__(self, img_size: int = 16, channels: int = 1, base_channels: int = 32):
        super().__init__()
        _check_size("img_size", img_size, multiple_of=4)
        b = base_channels
        self.net = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(channels, b, 4, stride=2, padding=1)),
            ("lrelu1", nn.LeakyReLU(0.2, inplace=True)),
            ("conv2", nn.Conv2d(b, 2 * b, 4, stride=2, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(2 * b)),
            ("lrelu2", nn.LeakyReLU(0.2, inplace=True)),
            ("score", nn.Conv2d(2 * b, 1, img_size // 4)),
            ("flatten", nn.Flatten(0)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ToyGenerator(nn.Module):
    """Fully connected generator for a 1-D or 2-D toy distribution.

        z (N, z_dim) -> Linear hidden, ReLU -> Linear hidden, ReLU -> Linear out_dim -> (N, out_dim)
    """

    def __init__(self, z_dim: int = 2, out_dim: int = 1, hidden: int = 32):
        super().__init__()
        self.z_dim = z_dim
        self.out_dim = out_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """Fully connected discriminator for a 1-D or 2-D toy distribution.

        x (N, in_dim) -> Linear hidden, LeakyReLU(0.2) -> Linear hidden, LeakyReLU -> Linear 1
          -> logits (N,)   (D(x) = sigmoid(logit))
    """

    def __init__(self, in_dim: int = 1, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1), nn.Flatten(0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
