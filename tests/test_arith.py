"""Parameter, shape, receptive-field and cost arithmetic (cnncourse.aids.arith), checked against
hand-computed figures from the curriculum and against brute force."""
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from cnncourse.aids import arith


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
    (lambda: arith.conv2d_params(3, 3, 0, 4), "c_in must be >= 1, got 0"),
    (lambda: arith.conv2d_params(3, 3, 6, 4, groups=4), "divisible by groups=4"),
    (lambda: arith.dense_params(-1, 4), "n_in must be >= 1, got -1"),
    (lambda: arith.conv_output_length(4, 7), "exceeds the padded input 4 + 2*0 = 4"),
    (lambda: arith.conv_output_length(8, 3, stride=0), "stride must be >= 1, got 0"),
    (lambda: arith.conv_output_length(8, 3, padding=-1), "padding must be >= 0, got -1"),
    (lambda: arith.conv_transpose_output_length(4, 3, stride=2, output_padding=2),
     "output_padding=2 must be smaller"),
    (lambda: arith.conv_transpose_output_length(1, 1, padding=1), "output would be -1"),
    (lambda: arith.receptive_field([(3, 1), (3,)]), "layer 1 must be"),
    (lambda: arith.receptive_field([(3, 0)]), "layer 0 stride must be >= 1, got 0"),
    (lambda: arith.conv2d_output_shape((5, 5, 5), 3), "input_hw must be an int or a pair"),
    (lambda: arith.num_neurons((55, 0, 96)), "shape[1] must be >= 1, got 0"),
])
def test_bad_input_raises_value_error_naming_the_numbers(call, fragment):
    with pytest.raises(ValueError, match=__import__("re").escape(fragment)):
        call()


def test_non_int_raises_type_error():
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        arith.conv_output_length(5, 2.5)
    with pytest.raises(TypeError, match="k_h must be an int"):
        arith.conv2d_params(True, 3, 1, 1)


def test_conv_output_length_examples():
    assert arith.conv_output_length(5, 3, stride=2, padding=1) == 3
    assert arith.conv_output_length(6, 3, stride=2, padding=1) == 3   # the floor at work
    assert arith.conv_output_length(227, 11, stride=4) == 55          # AlexNet conv1
    assert arith.conv_output_length(55, 3, stride=2) == 27            # overlapping pool
    assert arith.conv_output_length(7, 3, dilation=2) == 3            # dilated: extent 5
    assert arith.conv_output_length(5, 3, padding=2) == 7             # full padding
    assert arith.conv2d_output_shape(32, 3) == (30, 30)
    assert arith.conv2d_output_shape((30, 30), 2, stride=2) == (15, 15)
    assert arith.conv2d_output_shape((13, 20), (3, 5), padding=(1, 2)) == (13, 20)


def test_ceil_mode_matches_googlenet_pools():
    # GoogLeNet's Caffe-style pools: 112 -> 56 -> 28 -> 14 -> 7 with 3x3/2 and ceil.
    sizes = [112]
    for _ in range(3):
        sizes.append(arith.conv_output_length(sizes[-1], 3, stride=2, ceil_mode=True))
    assert sizes == [112, 56, 28, 14]
    assert arith.conv_output_length(112, 3, stride=2) == 55
    # A window that would start inside the right padding is dropped (PyTorch's rule).
    assert arith.conv_output_length(5, 2, stride=2, padding=1, ceil_mode=True) == 3


@settings(max_examples=200, deadline=None)
@given(i=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 3), ceil_mode=st.booleans())
def test_conv_output_length_matches_torch(i, k, s, p, d, ceil_mode):
    torch = pytest.importorskip("torch")
    extent = d * (k - 1) + 1
    if extent > i + 2 * p:
        with pytest.raises(ValueError):
            arith.conv_output_length(i, k, s, p, d, ceil_mode)
        return
    x = torch.zeros(1, 1, i)
    if ceil_mode:
        if 2 * p > k:
            return  # PyTorch pooling rejects padding > kernel/2: nothing to compare against
        expected = torch.nn.functional.max_pool1d(x, k, s, p, d, ceil_mode=True).shape[-1]
    else:
        expected = torch.nn.functional.conv1d(x, torch.zeros(1, 1, k), stride=s, padding=p,
                                              dilation=d).shape[-1]
    assert arith.conv_output_length(i, k, s, p, d, ceil_mode) == expected


@settings(max_examples=100, deadline=None)
@given(i=st.integers(1, 30), k=st.integers(1, 6), s=st.integers(1, 4), p=st.integers(0, 2))
def test_transposed_inverts_conv_shape(i, k, s, p):
    out = (i - 1) * s - 2 * p + k
    if out < 1:
        return
    assert arith.conv_transpose_output_length(i, k, s, p) == out
    # Convolving the transposed output with the same kernel/stride/padding gives i back.
    assert arith.conv_output_length(out, k, s, p) == i


def test_dcgan_transposed_sizes():
    assert arith.conv_transpose_output_length(1, 7) == 7
    assert arith.conv_transpose2d_output_shape(7, 4, stride=2, padding=1) == (14, 14)
    assert arith.conv_transpose2d_output_shape(14, 4, stride=2, padding=1) == (28, 28)
    assert arith.conv_transpose_output_length(4, 3, stride=2, padding=1, output_padding=1) == 8


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
    code = ("import sys, cnncourse.aids.arith; "
            "bad = [m for m in ('torch', 'numpy', 'matplotlib', 'ipywidgets') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
