"""Parameter, shape and cost arithmetic for convolutional networks, in plain Python ints.

These are the numbers a student computes by hand for the case-study notebooks (LeNet-5,
AlexNet, VGG-16, GoogLeNet, ResNet) and the DCGAN generator, and the library uses them to check
the models it builds. The one-axis output-size formulas live in `cnncourse.conv`
(`conv_output_size`, `conv_transpose_output_size`); the 2-D shape helpers here apply them to
height and width. Arguments are checked by `cnncourse._validate` (TypeError for a non-integer,
numpy integers welcome; ValueError for a value out of range).

Conventions
- Padding P is per side (PyTorch, Keras "valid"/"same" arithmetic); some textbooks write the
  total padding p = 2P.
- A MAC is one multiply-accumulate; FLOPs are counted as 2 * MACs (one multiply, one add), biases
  and activations left out, as most papers do.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._validate import check_int, check_pair
from ..conv import conv_output_size, conv_transpose_output_size

__all__ = [
    "conv2d_params",
    "dense_params",
    "conv2d_output_shape",
    "conv_transpose2d_output_shape",
    "receptive_field",
    "conv2d_macs",
    "conv2d_flops",
    "dense_macs",
    "dense_flops",
    "inception_module_params",
    "num_neurons",
]


def conv2d_params(k_h: int, k_w: int, c_in: int, c_out: int, bias: bool = True,
                  groups: int = 1) -> int:
    """Number of learnable parameters of a 2-D convolution layer.

    Each of the c_out kernels sees c_in / groups input channels:

        params = k_h * k_w * (c_in / groups) * c_out + (c_out if bias else 0)

    Example: 64 kernels of 7x7 on one channel: (7*7*1 + 1) * 64 = 3200.

    Inputs:
    - k_h, k_w: kernel height and width (>= 1)
    - c_in, c_out: input and output channels, both divisible by groups
    - bias: whether each output channel has a bias
    - groups: channel groups (AlexNet's two-GPU split is groups=2)

    Returns: int
    """
    k_h, k_w = check_int("k_h", k_h, 1), check_int("k_w", k_w, 1)
    c_in, c_out = check_int("c_in", c_in, 1), check_int("c_out", c_out, 1)
    groups = check_int("groups", groups, 1)
    if c_in % groups or c_out % groups:
        raise ValueError(f"c_in={c_in} and c_out={c_out} must both be divisible by "
                         f"groups={groups}")
    return k_h * k_w * (c_in // groups) * c_out + (c_out if bias else 0)


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Number of learnable parameters of a fully connected (dense, affine) layer.

        params = n_in * n_out + (n_out if bias else 0)

    Example: Keras Dense(64) on a flattened 4x4x64 map: 1024 * 64 + 64 = 65,600.

    Inputs:
    - n_in, n_out: input and output features (>= 1)
    - bias: whether each output has a bias

    Returns: int
    """
    n_in = check_int("n_in", n_in, 1)
    n_out = check_int("n_out", n_out, 1)
    return n_in * n_out + (n_out if bias else 0)


def conv2d_output_shape(input_hw: int | Sequence[int], kernel_size: int | Sequence[int],
                        stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                        dilation: int | Sequence[int] = 1,
                        ceil_mode: bool = False) -> tuple[int, int]:
    """Spatial output shape (OH, OW) of a 2-D convolution or pooling layer.

    Applies `cnncourse.conv.conv_output_size` to height and width; every argument is an int
    (same for both axes) or a pair (h, w). ceil_mode as in `conv_output_size` (GoogLeNet's
    pools).

    Example: conv2d_output_shape(32, 3) == (30, 30)  (Keras Conv2D(32, 3x3) on 32x32).

    Returns: tuple (OH, OW)
    """
    i_h, i_w = check_pair("input_hw", input_hw)
    k_h, k_w = check_pair("kernel_size", kernel_size)
    s_h, s_w = check_pair("stride", stride)
    p_h, p_w = check_pair("padding", padding)
    d_h, d_w = check_pair("dilation", dilation)
    return (conv_output_size(i_h, k_h, padding=p_h, stride=s_h, dilation=d_h,
                             ceil_mode=ceil_mode),
            conv_output_size(i_w, k_w, padding=p_w, stride=s_w, dilation=d_w,
                             ceil_mode=ceil_mode))


def conv_transpose2d_output_shape(input_hw: int | Sequence[int],
                                  kernel_size: int | Sequence[int],
                                  stride: int | Sequence[int] = 1,
                                  padding: int | Sequence[int] = 0,
                                  output_padding: int | Sequence[int] = 0,
                                  dilation: int | Sequence[int] = 1) -> tuple[int, int]:
    """Spatial output shape (OH, OW) of a 2-D transposed convolution.

    Applies `cnncourse.conv.conv_transpose_output_size` to height and width; ints or (h, w)
    pairs.

    Example: conv_transpose2d_output_shape(7, 4, stride=2, padding=1) == (14, 14).

    Returns: tuple (OH, OW)
    """
    i_h, i_w = check_pair("input_hw", input_hw)
    k_h, k_w = check_pair("kernel_size", kernel_size)
    s_h, s_w = check_pair("stride", stride)
    p_h, p_w = check_pair("padding", padding)
    o_h, o_w = check_pair("output_padding", output_padding)
    d_h, d_w = check_pair("dilation", dilation)
    return (conv_transpose_output_size(i_h, k_h, padding=p_h, stride=s_h, output_padding=o_h,
                                       dilation=d_h),
            conv_transpose_output_size(i_w, k_w, padding=p_w, stride=s_w, output_padding=o_w,
                                       dilation=d_w))


def receptive_field(layers: Iterable[Sequence[int]]) -> int:
    """Receptive field (along one axis) of one output unit of a stack of conv/pool layers.

    Each layer is (kernel, stride) or (kernel, stride, dilation). With the jump
    j_l = S_1 * ... * S_(l-1) (distance in input pixels between neighbouring units of layer l-1):

        r_0 = 1,   r_l = r_(l-1) + (K_l - 1) * D_l * j_l

    Examples: three stacked 3x3 stride-1 convs see 7 pixels: receptive_field([(3, 1)] * 3) == 7;
    a 3x3 conv, a 2x2/2 pool and a 3x3 conv see 3 + 1 + 2*2 = 8.

    Inputs:
    - layers: iterable of (kernel, stride[, dilation]) with kernel, stride, dilation >= 1

    Returns: int (1 for an empty stack)
    """
    field, jump = 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) not in (2, 3):
            raise ValueError(f"layer {index} must be (kernel, stride) or "
                             f"(kernel, stride, dilation), got {layer!r}")
        kernel, stride = layer[0], layer[1]
        dilation = layer[2] if len(layer) == 3 else 1
        kernel = check_int(f"layer {index} kernel", kernel, 1)
        stride = check_int(f"layer {index} stride", stride, 1)
        dilation = check_int(f"layer {index} dilation", dilation, 1)
        field += (kernel - 1) * dilation * jump
        jump *= stride
    return field


def conv2d_macs(out_h: int, out_w: int, k_h: int, k_w: int, c_in: int, c_out: int,
                groups: int = 1) -> int:
    """Multiply-accumulates of one forward pass of a 2-D convolution, per image.

    Every output value is a dot product over a k_h x k_w x (c_in / groups) window:

        MACs = out_h * out_w * c_out * k_h * k_w * (c_in / groups)

    Example: AlexNet conv1 (55x55x96 outputs, 11x11x3 windows) = 105,415,200 MACs.

    Returns: int
    """
    out_h = check_int("out_h", out_h, 1)
    out_w = check_int("out_w", out_w, 1)
    weights = conv2d_params(k_h, k_w, c_in, c_out, bias=False, groups=groups)
    return out_h * out_w * weights


def conv2d_flops(out_h: int, out_w: int, k_h: int, k_w: int, c_in: int, c_out: int,
                 groups: int = 1) -> int:
    """Floating-point operations of a 2-D convolution's forward pass, per image.

        FLOPs = 2 * MACs   (see `conv2d_macs`; biases not counted)

    Returns: int
    """
    return 2 * conv2d_macs(out_h, out_w, k_h, k_w, c_in, c_out, groups)


def dense_macs(n_in: int, n_out: int) -> int:
    """Multiply-accumulates of a fully connected layer's forward pass, per example.

        MACs = n_in * n_out

    Returns: int
    """
    return dense_params(n_in, n_out, bias=False)


def dense_flops(n_in: int, n_out: int) -> int:
    """Floating-point operations of a fully connected layer, per example: 2 * n_in * n_out.

    Returns: int
    """
    return 2 * dense_macs(n_in, n_out)


def inception_module_params(c_in: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                            ch5x5: int, pool_proj: int, reductions: bool = True,
                            bias: bool = True) -> int:
    """Parameters of a GoogLeNet inception module (paper layout: real 5x5 branch, conv biases).

    With the 1x1 reductions (four branches concatenated):

        1x1:      conv(1, c_in -> ch1x1)
        3x3:      conv(1, c_in -> ch3x3red), conv(3, ch3x3red -> ch3x3)
        5x5:      conv(1, c_in -> ch5x5red), conv(5, ch5x5red -> ch5x5)
        pool:     3x3 max pool, conv(1, c_in -> pool_proj)

    The naive module (reductions=False) applies the 3x3 and 5x5 convs to the input directly and
    passes the pooled input through unchanged: conv(1, c_in -> ch1x1) + conv(3, c_in -> ch3x3)
    + conv(5, c_in -> ch5x5); ch3x3red, ch5x5red and pool_proj are then ignored.

    Example (inception 3a: 192, 64, 96, 128, 16, 32, 32, no biases): 163,328 weights with the
    reductions, 387,072 without.

    Returns: int
    """
    if not reductions:
        return (conv2d_params(1, 1, c_in, ch1x1, bias) + conv2d_params(3, 3, c_in, ch3x3, bias)
                + conv2d_params(5, 5, c_in, ch5x5, bias))
    return (conv2d_params(1, 1, c_in, ch1x1, bias)
            + conv2d_params(1, 1, c_in, ch3x3red, bias)
            + conv2d_params(3, 3, ch3x3red, ch3x3, bias)
            + conv2d_params(1, 1, c_in, ch5x5red, bias)
            + conv2d_params(5, 5, ch5x5red, ch5x5, bias)
            + conv2d_params(1, 1, c_in, pool_proj, bias))


def num_neurons(shape: Sequence[int]) -> int:
    """Number of units in a feature map of the given shape (any order), e.g. 55*55*96 = 290,400.

        neurons = prod(shape)

    Returns: int
    """
    total = 1
    for index, size in enumerate(shape):
        total *= check_int(f"shape[{index}]", size, 1)
    return total
