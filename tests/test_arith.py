"""Parameter, shape, receptive-field and cost arithmetic (cnncourse.aids.arith), checked against
hand-computed figures from the curriculum and against brute force."""
import math
import subprocess
import sys

import numpy as np
import pytest

from cnncourse.aids import arith
from cnncourse.conv import conv_output_size, conv_transpose_output_size


def test_conv2d_params_examples():
    assert arith.conv2d_params(7, 7, 1, 64) == 3200          # (7*7*1 + 1) * 64
    assert arith.conv2d_params(3, 3, 3, 32) == 896            # Keras Conv2D(32) on RGB
    assert arith.conv2d_params(3, 3, 32, 64) == 18496
    assert arith.conv2d_params(3, 3, 64, 64) == 36928
    assert arith.conv2d_params(1, 1, 8, 4) == 36              # 1x1 conv: 8 maps -> 4 maps
    assert arith.conv2d_params(3, 3, 8, 4, bias=False) == 288
    assert arith.conv2d_params(5, 7, 2, 3) == 5 * 7 * 2 * 3 + 3   # non-square kernel


def test_conv2d_params_groups_alexnet():
    # AlexNet conv2 with the two-GPU split: each kernel sees 48 of the 96 input maps.
    assert arith.conv2d_params(5, 5, 96, 256, groups=2) == 307456
    assert arith.conv2d_params(5, 5, 96, 256) == 614656
    grouped = (arith.conv2d_params(11, 11, 3, 96) + arith.conv2d_params(5, 5, 96, 256, groups=2)
               + arith.conv2d_params(3, 3, 256, 384) + arith.conv2d_params(3, 3, 384, 384, groups=2)
               + arith.conv2d_params(3, 3, 384, 256, groups=2))
    assert grouped == 2334080
    fc = (arith.dense_params(256 * 6 * 6, 4096) + arith.dense_params(4096, 4096)
          + arith.dense_params(4096, 1000))
    assert fc == 58631144
    assert grouped + fc == 60965224


def test_dense_params():
    assert arith.dense_params(1024, 64) == 65600
    assert arith.dense_params(64, 10) == 650
    assert arith.dense_params(1024, 1000) == 1025000           # GoogLeNet's single FC
    assert arith.dense_params(3, 2, bias=False) == 6


@pytest.mark.parametrize("call, fragment", [
    (lambda: arith.conv2d_params(3, 3, 0, 4), "c_in must be positive, got 0"),
    (lambda: arith.conv2d_params(3, 3, 6, 4, groups=4), "divisible by groups=4"),
    (lambda: arith.dense_params(-1, 4), "n_in must be positive, got -1"),
    (lambda: arith.conv2d_output_shape(4, 7), "larger than the padded input 4"),
    (lambda: arith.conv2d_output_shape(8, 3, stride=(1, 0)), "stride must be positive, got 0"),
    (lambda: arith.conv2d_output_shape(8, 3, padding=-1), "padding must be >= 0, got -1"),
    (lambda: arith.conv_transpose2d_output_shape(4, 3, stride=2, output_padding=2),
     "output_padding=2 must be smaller"),
    (lambda: arith.conv_transpose2d_output_shape(1, 1, padding=1), "output would be -1"),
    (lambda: arith.receptive_field([(3, 1), (3,)]), "layer 1 must be"),
    (lambda: arith.receptive_field([(3, 0)]), "layer 0 stride must be positive, got 0"),
    (lambda: arith.conv2d_output_shape((5, 5, 5), 3), "input_hw must be an int or a pair"),
    (lambda: arith.num_neurons((55, 0, 96)), "shape[1] must be positive, got 0"),
])
def test_bad_input_raises_value_error_naming_the_numbers(call, fragment):
    with pytest.raises(ValueError, match=__import__("re").escape(fragment)):
        call()


@pytest.mark.parametrize("call, fragment", [
    (lambda: arith.conv2d_output_shape(5, 2.5), "kernel_size must be an int"),
    (lambda: arith.conv2d_params(True, 3, 1, 1), "k_h must be an int"),
    (lambda: arith.dense_params(4.0, 3), "n_in must be an int"),
    (lambda: arith.conv2d_output_shape("5", 3), "input_hw must be an int or a pair"),
    (lambda: arith.num_neurons((55, 55.0)), "shape[1] must be an int"),
    (lambda: arith.receptive_field([(3, np.bool_(True))]), "layer 0 stride must be an int"),
])
def test_non_int_raises_type_error(call, fragment):
    with pytest.raises(TypeError, match=__import__("re").escape(fragment)):
        call()


def test_numpy_integers_are_accepted_and_give_python_ints():
    # Sizes often come from array shapes or np.arange: np.int64 must work like int.
    assert arith.dense_params(np.int64(4), 3) == 15
    assert type(arith.dense_params(np.int64(4), np.int32(3))) is int
    assert arith.conv2d_params(np.int64(3), 3, np.uint8(2), 4) == 3 * 3 * 2 * 4 + 4
    assert arith.conv2d_output_shape(np.array([13, 20]), (np.int64(3), 5)) == (11, 16)
    assert arith.num_neurons(np.array([96, 55, 55])) == 290400
    assert arith.receptive_field([(np.int64(3), np.int64(2))] * 2) == 7
    assert type(arith.conv2d_macs(np.int64(2), 2, 3, 3, 1, 1)) is int


def test_2d_output_shapes():
    assert arith.conv2d_output_shape(32, 3) == (30, 30)
    assert arith.conv2d_output_shape((30, 30), 2, stride=2) == (15, 15)
    assert arith.conv2d_output_shape((13, 20), (3, 5), padding=(1, 2)) == (13, 20)
    # Every argument acts on its own axis: stride (1, 2) halves only the width.
    assert arith.conv2d_output_shape((9, 9), 3, stride=(1, 2), dilation=(2, 1)) == (5, 4)
    # GoogLeNet's Caffe-style pools round up.
    assert arith.conv2d_output_shape(112, 3, stride=2, ceil_mode=True) == (56, 56)
    assert arith.conv2d_output_shape(112, 3, stride=2) == (55, 55)


def test_2d_shapes_agree_with_the_one_axis_functions():
    # arith's 2-D helpers apply cnncourse.conv's one-axis formulas per axis (one home).
    assert arith.conv2d_output_shape((7, 6), 3, stride=2, padding=1) == (
        conv_output_size(7, 3, padding=1, stride=2), conv_output_size(6, 3, padding=1, stride=2))
    assert arith.conv_transpose2d_output_shape((4, 5), 3, stride=2, padding=1,
                                               output_padding=(1, 0)) == (
        conv_transpose_output_size(4, 3, padding=1, stride=2, output_padding=1),
        conv_transpose_output_size(5, 3, padding=1, stride=2))
    assert not hasattr(arith, "conv_output_length")
    assert not hasattr(arith, "conv_transpose_output_length")


def test_dcgan_transposed_shapes():
    assert arith.conv_transpose2d_output_shape(1, 7) == (7, 7)
    assert arith.conv_transpose2d_output_shape(7, 4, stride=2, padding=1) == (14, 14)
    assert arith.conv_transpose2d_output_shape(14, 4, stride=2, padding=1) == (28, 28)
    assert arith.conv_transpose2d_output_shape(4, 3, stride=2, padding=1,
                                               output_padding=1) == (8, 8)


def test_receptive_field():
    assert arith.receptive_field([]) == 1
    assert arith.receptive_field([(3, 1)]) == 3
    assert arith.receptive_field([(3, 1)] * 2) == 5
    assert arith.receptive_field([(3, 1)] * 3) == 7           # three 3x3 see a 7x7 patch
    assert arith.receptive_field([(3, 1), (2, 2), (3, 1)]) == 8
    assert arith.receptive_field([(3, 1, 2)]) == 5            # dilation 2: extent 5
    assert arith.receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == 15   # WaveNet-style
    # LeNet-5 C5 sees the whole 32x32 input.
    assert arith.receptive_field([(5, 1), (2, 2), (5, 1), (2, 2), (5, 1)]) == 32


def test_receptive_field_matches_gradient_support():
    # The pixels that influence one output unit are exactly its receptive field.
    torch = pytest.importorskip("torch")
    stack = [(3, 2, 1), (3, 1, 2), (2, 2, 1), (3, 1, 1)]
    size = 64
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for kernel, stride, dilation in stack:
        weight = torch.ones(1, 1, kernel, kernel)
        y = torch.nn.functional.conv2d(y, weight, stride=stride, dilation=dilation)
    y[0, 0, 1, 1].backward()
    rows = torch.nonzero(x.grad[0, 0].sum(dim=1)).flatten()
    assert int(rows.max() - rows.min()) + 1 == arith.receptive_field(stack)


def test_macs_and_flops():
    assert arith.conv2d_macs(55, 55, 11, 11, 3, 96) == 55 * 55 * 96 * 363
    assert arith.conv2d_flops(55, 55, 11, 11, 3, 96) == 2 * 105415200
    assert arith.conv2d_macs(27, 27, 5, 5, 96, 256, groups=2) == 27 * 27 * 256 * 25 * 48
    assert arith.dense_macs(4096, 1000) == 4096000
    assert arith.dense_flops(4096, 1000) == 8192000


def test_macs_match_torch_profile():
    # MACs = output size * weights per output: cross-check through an actual convolution
    # whose weights and input are all ones (each output counts its own multiply-adds).
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    out = conv(torch.ones(1, 4, 9, 9))
    # Interior outputs see the full window; padding zeros remove products at the border,
    # so the total is at most the MAC count and equals it without padding.
    conv_nopad = torch.nn.Conv2d(4, 6, 3, stride=2, groups=2, bias=False)
    torch.nn.init.ones_(conv_nopad.weight)
    out_nopad = conv_nopad(torch.ones(1, 4, 9, 9))
    oh, ow = arith.conv2d_output_shape(9, 3, stride=2)
    assert int(out_nopad.sum()) == arith.conv2d_macs(oh, ow, 3, 3, 4, 6, groups=2)
    oh, ow = arith.conv2d_output_shape(9, 3, stride=2, padding=1)
    assert int(out.sum()) < arith.conv2d_macs(oh, ow, 3, 3, 4, 6, groups=2)


def test_inception_module_params():
    # Inception 3a (192 -> 64 | 96->128 | 16->32 | pool->32), counted without biases.
    with_red = arith.inception_module_params(192, 64, 96, 128, 16, 32, 32, bias=False)
    naive = arith.inception_module_params(192, 64, 96, 128, 16, 32, 32, reductions=False,
                                          bias=False)
    assert with_red == 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    assert with_red == 163328
    assert naive == 192 * 64 + 9 * 192 * 128 + 25 * 192 * 32 == 387072
    assert arith.inception_module_params(192, 64, 96, 128, 16, 32, 32) == 163328 + 64 + 96 + \
        128 + 16 + 32 + 32


def test_num_neurons_alexnet():
    assert arith.num_neurons((96, 55, 55)) == 290400
    assert arith.num_neurons((256, 27, 27)) == 186624
    assert arith.num_neurons((384, 13, 13)) == 64896
    assert arith.num_neurons((256, 13, 13)) == 43264
    assert arith.num_neurons(()) == 1


def test_vgg16_totals_from_arith():
    config = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    conv = sum(arith.conv2d_params(3, 3, c_in, c_out)
               for c_in, c_out in zip([3] + config[:-1], config))
    fc = (arith.dense_params(512 * 7 * 7, 4096) + arith.dense_params(4096, 4096)
          + arith.dense_params(4096, 1000))
    assert (conv, fc, conv + fc) == (14714688, 123642856, 138357544)
    assert math.isclose(fc / (conv + fc), 0.8936, abs_tol=5e-4)


def test_arith_imports_nothing_heavy():
    # numpy comes in with cnncourse.conv (the one home of the output-size formula).
    code = ("import sys, cnncourse.aids.arith; "
            "bad = [m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
