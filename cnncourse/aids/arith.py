"""Parameter, shape and cost arithmetic for convolutional networks, in plain Python.

Nothing here imports numpy or torch: these are the numbers a student computes by hand for the
case-study notebooks (LeNet-5, AlexNet, VGG-16, GoogLeNet, ResNet) and the DCGAN generator, and
the library uses them to check the models it builds.

Conventions
- Padding P is per side (PyTorch, Keras "valid"/"same" arithmetic); some textbooks write the
  total padding p = 2P.
- A MAC is one multiply-accumulate; FLOPs are counted as 2 * MACs (one multiply, one add), biases
  and activations left out, as most papers do.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = [
    "conv2d_params",
    "dense_params",
    "conv_output_length",
    "conv2d_output_shape",
    "conv_transpose_output_length",
    "conv_transpose2d_output_shape",
    "receptive_field",
    "conv2d_macs",
    "conv2d_flops",
    "dense_macs",
    "dense_flops",
    "inception_module_params",
    "num_neurons",
]


def _check_int(name: str, value: int, minimum: int) -> None:
    # bool is an int subclass; True as a kernel size is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _pair(name: str, value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, Sequence) and len(value) == 2:
        return value[0], value[1]
    raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")


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
    for name, value in (("k_h", k_h), ("k_w", k_w), ("c_in", c_in), ("c_out", c_out),
                        ("groups", groups)):
        _check_int(name, value, 1)
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
    _check_int("n_in", n_in, 1)
    _check_int("n_out", n_out, 1)
    return n_in * n_out + (n_out if bias else 0)


def conv_output_length(input_size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window along one axis.

        O = floor((I + 2P - K - (K - 1)(D - 1)) / S) + 1

    (K + (K - 1)(D - 1) is the dilated kernel's extent.) With ceil_mode=True the floor becomes a
    ceiling, as in Caffe-era pooling (GoogLeNet), except that a last window starting entirely
    in the right padding is dropped, as PyTorch does.

    Example: I=5 or I=6, K=3, P=1, S=2 both give O=3; AlexNet conv1 227, K=11, S=4 gives 55.

    Inputs:
    - input_size I (>= 1), kernel_size K (>= 1), stride S (>= 1), padding P per side (>= 0),
      dilation D (>= 1)

    Returns: int O (>= 1); ValueError if the dilated kernel does not fit in the padded input.
    """
    _check_int("input_size", input_size, 1)
    _check_int("kernel_size", kernel_size, 1)
    _check_int("stride", stride, 1)
    _check_int("padding", padding, 0)
    _check_int("dilation", dilation, 1)
    extent = kernel_size + (kernel_size - 1) * (dilation - 1)
    span = input_size + 2 * padding - extent
    if span < 0:
        raise ValueError(f"kernel extent {extent} (kernel_size={kernel_size}, "
                         f"dilation={dilation}) exceeds the padded input "
                         f"{input_size} + 2*{padding} = {input_size + 2 * padding}")
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= input_size + padding:
        out -= 1
    return out


def conv2d_output_shape(input_hw: int | Sequence[int], kernel_size: int | Sequence[int],
                        stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                        dilation: int | Sequence[int] = 1,
                        ceil_mode: bool = False) -> tuple[int, int]:
    """Spatial output shape (OH, OW) of a 2-D convolution or pooling layer.

    Applies `conv_output_length` to height and width; every argument is an int (same for both
    axes) or a pair (h, w).

    Example: conv2d_output_shape(32, 3) == (30, 30)  (Keras Conv2D(32, 3x3) on 32x32).

    Returns: tuple (OH, OW)
    """
    i_h, i_w = _pair("input_hw", input_hw)
    k_h, k_w = _pair("kernel_size", kernel_size)
    s_h, s_w = _pair("stride", stride)
    p_h, p_w = _pair("padding", padding)
    d_h, d_w = _pair("dilation", dilation)
    return (conv_output_length(i_h, k_h, s_h, p_h, d_h, ceil_mode),
            conv_output_length(i_w, k_w, s_w, p_w, d_w, ceil_mode))


def conv_transpose_output_length(input_size: int, kernel_size: int, stride: int = 1,
                                 padding: int = 0, output_padding: int = 0,
                                 dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis (PyTorch ConvTranspose2d).

        O = (I - 1) * S - 2P + D(K - 1) + output_padding + 1

    It inverts `conv_output_length`'s shape map: the DCGAN up-sampling step K=4, S=2, P=1
    doubles the size (7 -> 14 -> 28); K=7, S=1, P=0 turns a 1x1 code into 7x7.

    Inputs: input_size I (>= 1), kernel_size K (>= 1), stride S (>= 1), padding P (>= 0),
    output_padding (0 <= output_padding < max(S, D)), dilation D (>= 1)

    Returns: int O (>= 1)
    """
    _check_int("input_size", input_size, 1)
    _check_int("kernel_size", kernel_size, 1)
    _check_int("stride", stride, 1)
    _check_int("padding", padding, 0)
    _check_int("output_padding", output_padding, 0)
    _check_int("dilation", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding={output_padding} must be smaller than stride={stride} "
                         f"or dilation={dilation}")
    out = (input_size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) \
        + output_padding + 1
    if out < 1:
        raise ValueError(f"transposed convolution output would be {out} (input_size="
                         f"{input_size}, kernel_size={kernel_size}, stride={stride}, "
                         f"padding={padding}); reduce the padding")
    return out


def conv_transpose2d_output_shape(input_hw: int | Sequence[int],
                                  kernel_size: int | Sequence[int],
                                  stride: int | Sequence[int] = 1,
                                  padding: int | Sequence[int] = 0,
                                  output_padding: int | Sequence[int] = 0,
                                  dilation: int | Sequence[int] = 1) -> tuple[int, int]:
    """Spatial output shape (OH, OW) of a 2-D transposed convolution.

    Applies `conv_transpose_output_length` to height and width; ints or (h, w) pairs.

    Example: conv_transpose2d_output_shape(7, 4, stride=2, padding=1) == (14, 14).

    Returns: tuple (OH, OW)
    """
    i_h, i_w = _pair("input_hw", input_hw)
    k_h, k_w = _pair("kernel_size", kernel_size)
    s_h, s_w = _pair("stride", stride)
    p_h, p_w = _pair("padding", padding)
    o_h, o_w = _pair("output_padding", output_padding)
    d_h, d_w = _pair("dilation", dilation)
    return (conv_transpose_output_length(i_h, k_h, s_h, p_h, o_h, d_h),
            conv_transpose_output_length(i_w, k_w, s_w, p_w, o_w, d_w))


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
        _check_int(f"layer {index} kernel", kernel, 1)
        _check_int(f"layer {index} stride", stride, 1)
        _check_int(f"layer {index} dilation", dilation, 1)
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
    _check_int("out_h", out_h, 1)
    _check_int("out_w", out_w, 1)
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
        _check_int(f"shape[{index}]", size, 1)
        total *= size
    return total
