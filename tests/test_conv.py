"""Tests for cnncourse.conv: output-size arithmetic, loop versions, im2col/col2im, Convolution.

References: torch.nn.functional.conv2d and autograd (float64), the central-difference gradient
of cnncourse.gradcheck, and small cases computed by hand.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnncourse.conv import (
    Convolution,
    col2im,
    conv_forward_naive,
    conv_output_size,
    conv_transpose_output_size,
    convolve1d,
    convolve2d,
    correlate1d,
    correlate2d,
    im2col,
    multichannel_correlate2d,
    pad1d,
    pad2d,
)
from cnncourse.gradcheck import check_layer_gradients
from cnncourse.layers import Layer

FAST = settings(max_examples=25, deadline=None)


@st.composite
def conv_case(draw, max_n=3):
    """A random valid conv configuration: x (N,C,H,W), W (F,C,KH,KW), b, stride, pad."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(1, 4))
    f = draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    # The padded input must hold at least one kernel.
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    weights = rng.standard_normal((f, c, kh, kw))
    bias = rng.standard_normal(f)
    return x, weights, bias, (sh, sw), (ph, pw)


def torch_conv(x, weights, bias, stride, pad):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(weights), torch.from_numpy(bias),
                    stride=stride, padding=pad).numpy()


# ---------------------------------------------------------------------------------------------
# conv_output_size
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_size, expected", [(5, 3), (6, 3)])
def test_output_size_k3_p1_s2_gives_3_for_5_and_6(input_size, expected):
    assert conv_output_size(input_size, 3, padding=1, stride=2) == expected


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), 30),                                  # no padding
    (dict(padding=1), 32),                         # same padding
    (dict(padding=2), 34),                         # full padding P = K - 1
    (dict(stride=2), 15),                          # strided
    (dict(dilation=2), 28),                        # dilated: effective kernel 5
    (dict(padding=1, stride=2, dilation=2), 15),
])
def test_output_size_known_cases(kwargs, expected):
    assert conv_output_size(32, 3, **kwargs) == expected


def test_output_size_is_keyword_only_after_kernel_size():
    # conv_output_size(7, 3, 1, 2) once meant padding=1, stride=2 here and the reverse in
    # another module: positional padding/stride are refused.
    with pytest.raises(TypeError):
        conv_output_size(7, 3, 1, 2)
    assert conv_output_size(7, 3, padding=1, stride=2) == 4
    assert conv_output_size(7, 3, stride=1, padding=2) == 9


@FAST
@given(i=st.integers(1, 40), k=st.integers(1, 7), p=st.integers(0, 4), s=st.integers(1, 4),
       d=st.integers(1, 3))
def test_output_size_counts_window_positions(i, k, p, s, d):
    effective = k + (k - 1) * (d - 1)
    # Count the window starts one by one: the definition the formula summarizes.
    positions = len(range(0, i + 2 * p - effective + 1, s))
    if positions == 0:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(i, k, padding=p, stride=s, dilation=d)
    else:
        assert conv_output_size(i, k, padding=p, stride=s, dilation=d) == positions


@settings(max_examples=150, deadline=None)
@given(i=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 3), ceil_mode=st.booleans())
def test_output_size_matches_torch(i, k, s, p, d, ceil_mode):
    extent = d * (k - 1) + 1
    if extent > i + 2 * p:
        with pytest.raises(ValueError):
            conv_output_size(i, k, padding=p, stride=s, dilation=d, ceil_mode=ceil_mode)
        return
    x = torch.zeros(1, 1, i)
    if ceil_mode:
        if 2 * p > k:
            return  # PyTorch pooling rejects padding > kernel/2: nothing to compare against
        expected = F.max_pool1d(x, k, s, p, d, ceil_mode=True).shape[-1]
    else:
        expected = F.conv1d(x, torch.zeros(1, 1, k), stride=s, padding=p,
                            dilation=d).shape[-1]
    assert conv_output_size(i, k, padding=p, stride=s, dilation=d,
                            ceil_mode=ceil_mode) == expected


def test_output_size_ceil_mode_matches_googlenet_pools():
    # GoogLeNet's Caffe-style pools: 112 -> 56 -> 28 -> 14 with 3x3/2 and ceil.
    sizes = [112]
    for _ in range(3):
        sizes.append(conv_output_size(sizes[-1], 3, stride=2, ceil_mode=True))
    assert sizes == [112, 56, 28, 14]
    assert conv_output_size(112, 3, stride=2) == 55
    # A window that would start inside the right padding is dropped (PyTorch's rule).
    assert conv_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=0, kernel_size=3), "input_size must be positive, got 0"),
    (dict(input_size=5, kernel_size=0), "kernel_size must be positive, got 0"),
    (dict(input_size=5, kernel_size=3, stride=0), "stride must be positive, got 0"),
    (dict(input_size=5, kernel_size=3, stride=-2), "stride must be positive, got -2"),
    (dict(input_size=5, kernel_size=3, dilation=0), "dilation must be positive, got 0"),
    (dict(input_size=5, kernel_size=3, padding=-1), "padding must be >= 0, got -1"),
    (dict(input_size=3, kernel_size=5), r"effective kernel size 5 .* padded input 3"),
    (dict(input_size=4, kernel_size=3, dilation=2), r"effective kernel size 5 .* padded input 4"),
])
def test_output_size_rejects_impossible_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_output_size(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=5.0, kernel_size=3), "input_size must be an integer, got 5.0"),
    (dict(input_size=5, kernel_size=True), "kernel_size must be an integer, got True"),
    (dict(input_size=5, kernel_size=3, stride="1"), "stride must be an integer"),
    (dict(input_size=5, kernel_size=3, padding=np.bool_(False)), "padding must be an integer"),
])
def test_output_size_rejects_non_integers_with_type_error(kwargs, message):
    with pytest.raises(TypeError, match=message):
        conv_output_size(**kwargs)


def test_output_size_accepts_numpy_integers():
    got = conv_output_size(np.int64(6), np.int32(3), padding=np.int8(1), stride=np.uint8(2))
    assert got == 3 and type(got) is int


# ---------------------------------------------------------------------------------------------
# conv_transpose_output_size
# ---------------------------------------------------------------------------------------------
def test_transpose_output_size_dcgan_examples():
    assert conv_transpose_output_size(1, 7) == 7                         # 1x1 code -> 7x7
    assert conv_transpose_output_size(7, 4, stride=2, padding=1) == 14   # doubles the size
    assert conv_transpose_output_size(14, 4, stride=2, padding=1) == 28
    assert conv_transpose_output_size(3, 3, stride=2, padding=1) == 5
    assert conv_transpose_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6
    assert conv_transpose_output_size(3, 3, dilation=2) == 7             # D(K-1) + I


@settings(max_examples=150, deadline=None)
@given(i=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 3), op=st.integers(0, 2))
def test_transpose_output_size_matches_torch_and_inverts_conv(i, k, s, p, d, op):
    if op >= max(s, d):
        with pytest.raises(ValueError, match="must be smaller than stride"):
            conv_transpose_output_size(i, k, padding=p, stride=s, output_padding=op, dilation=d)
        return
    expected = (i - 1) * s - 2 * p + d * (k - 1) + op + 1
    if expected < 1:
        with pytest.raises(ValueError, match="output would be"):
            conv_transpose_output_size(i, k, padding=p, stride=s, output_padding=op, dilation=d)
        return
    got = conv_transpose_output_size(i, k, padding=p, stride=s, output_padding=op, dilation=d)
    x = torch.zeros(1, 1, i)
    torch_size = F.conv_transpose1d(x, torch.zeros(1, 1, k), stride=s, padding=p,
                                    output_padding=op, dilation=d).shape[-1]
    assert got == torch_size == expected
    # The convolution with the same settings maps the transposed output back to i.
    if op < s:
        assert conv_output_size(got, k, padding=p, stride=s, dilation=d) == i


@pytest.mark.parametrize("call, error, message", [
    (lambda: conv_transpose_output_size(4, 3, stride=2, output_padding=2), ValueError,
     "output_padding=2 must be smaller than stride=2"),
    (lambda: conv_transpose_output_size(1, 1, padding=1), ValueError, "output would be -1"),
    (lambda: conv_transpose_output_size(0, 3), ValueError, "input_size must be positive"),
    (lambda: conv_transpose_output_size(4, 3, output_padding=-1), ValueError,
     "output_padding must be >= 0"),
    (lambda: conv_transpose_output_size(4, 3.0), TypeError, "kernel_size must be an integer"),
    (lambda: conv_transpose_output_size(4, 3, 1, 2), TypeError, "positional"),
])
def test_transpose_output_size_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# padding
# ---------------------------------------------------------------------------------------------
def test_pad1d_zero_and_replicate():
    x = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(pad1d(x, 2, "zero"), [0, 0, 1, 2, 3, 0, 0])
    assert np.array_equal(pad1d(x, 2, "replicate"), [1, 1, 1, 2, 3, 3, 3])


def test_pad2d_zero_and_replicate_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    zero = pad2d(x, 1, "zero")
    assert np.array_equal(zero, [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]])
    copy = pad2d(x, 1, "replicate")
    assert np.array_equal(copy, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_pad2d_pads_only_last_two_axes_with_pair():
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    out = pad2d(x, (1, 2), "replicate")
    assert out.shape == (2, 5, 8) and out.dtype == np.float32
    assert np.array_equal(out[:, 1:4, 2:6], x)
    assert np.array_equal(out[:, 0, 2:6], x[:, 0])        # top row copies the first row
    assert np.array_equal(out[:, 1:4, 0], x[:, :, 0])     # left columns copy the first column


@pytest.mark.parametrize("call, message", [
    (lambda: pad2d(np.ones(3), 1), r"at least 2 axes .* shape \(3,\)"),
    (lambda: pad2d(np.ones((3, 3)), -1), "padding must be >= 0, got -1"),
    (lambda: pad2d(np.ones((3, 3)), 1, "reflect"), "padding mode must be one of"),
    (lambda: pad1d(np.ones(3), 1, "circular"), "padding mode must be one of"),
])
def test_pad_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# 1-D and 2-D loop versions
# ---------------------------------------------------------------------------------------------
def test_correlate1d_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([1.0, 0.0, -1.0])
    assert np.array_equal(correlate1d(x, w), [1 - 3, 2 - 4])
    assert np.array_equal(correlate1d(x, w, padding=1), [0 - 2, 1 - 3, 2 - 4, 3 - 0])
    assert np.array_equal(correlate1d(x, w, padding=1, mode="replicate"), [1 - 2, -2, -2, 3 - 4])
    assert np.array_equal(correlate1d(x, w, padding=1, stride=2), [-2, -2])


def test_convolve1d_flips_the_kernel():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([1.0, 0.0, -1.0])
    assert np.array_equal(convolve1d(x, w), [3 - 1, 4 - 2])
    assert np.array_equal(convolve1d(x, w), correlate1d(x, w[::-1]))
    # numpy's own convolution flips the kernel as well.
    assert np.allclose(convolve1d(x, w), np.convolve(x, w, mode="valid"))


def test_weight_sharing_1d_layer_uses_three_weights():
    # An 8 -> 8 layer with a shared 3-tap kernel: every output row of the equivalent dense
    # matrix holds the same 3 numbers, so 3 weights replace 64.
    w = np.array([0.5, -1.0, 2.0])
    dense = np.stack([correlate1d(np.eye(8)[i], w, padding=1) for i in range(8)], axis=1)
    x = np.arange(8.0)
    assert np.allclose(dense @ x, correlate1d(x, w, padding=1))
    assert set(np.unique(dense)) <= {0.0, 0.5, -1.0, 2.0}


@FAST
@given(case=conv_case(max_n=1))
def test_correlate2d_matches_torch_on_one_channel(case):
    x, weights, bias, stride, pad = case
    out = correlate2d(x[0, 0], weights[0, 0], pad, "zero", stride, bias=float(bias[0]))
    ref = torch_conv(x[:1, :1], weights[:1, :1], bias[:1], stride, pad)[0, 0]
    assert out.shape == ref.shape
    assert np.allclose(out, ref, atol=1e-12)


def test_correlate2d_by_hand_with_bias():
    x = np.arange(9.0).reshape(3, 3)
    w = np.array([[1.0, 0.0], [0.0, -1.0]])
    # out[i, j] = x[i, j] - x[i+1, j+1] = -4 everywhere, plus the bias.
    assert np.array_equal(correlate2d(x, w, bias=1.5), np.full((2, 2), -2.5))


def test_convolve2d_flips_both_axes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6))
    w = rng.standard_normal((3, 2))
    assert np.allclose(convolve2d(x, w, 1, "zero", 2), correlate2d(x, w[::-1, ::-1], 1, "zero", 2))
    # Flipping only one axis is a different operation.
    assert not np.allclose(convolve2d(x, w), correlate2d(x, w[::-1, :]))
    # A delta at the kernel's corner: correlation reads backwards, convolution forwards.
    delta = np.zeros((3, 3))
    delta[0, 0] = 1.0
    image = np.arange(16.0).reshape(4, 4)
    assert np.array_equal(correlate2d(image, delta, padding=1)[1:3, 1:3], image[0:2, 0:2])
    assert np.array_equal(convolve2d(image, delta, padding=1)[1:3, 1:3], image[2:4, 2:4])


def test_zero_vs_replicate_padding_differ_only_at_the_border():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 6))
    w = np.ones((3, 3)) / 9.0
    zero = correlate2d(x, w, padding=1, mode="zero")
    copy = correlate2d(x, w, padding=1, mode="replicate")
    assert np.allclose(zero[1:-1, 1:-1], copy[1:-1, 1:-1])
    # Corner by hand: replicate padding turns the 3x3 window into 4 copies of x[0,0], 2 of x[0,1]
    # and of x[1,0], and one x[1,1].
    corner = (4 * x[0, 0] + 2 * x[0, 1] + 2 * x[1, 0] + x[1, 1]) / 9.0
    assert np.isclose(copy[0, 0], corner)
    assert np.isclose(zero[0, 0], (x[0, 0] + x[0, 1] + x[1, 0] + x[1, 1]) / 9.0)


def test_multichannel_sums_over_channels_and_adds_bias_once():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal((3, 3, 3))
    out = multichannel_correlate2d(x, w, padding=1, bias=2.0)
    per_channel = sum(correlate2d(x[c], w[c], padding=1) for c in range(3))
    assert np.allclose(out, per_channel + 2.0)
    ref = torch_conv(x[None], w[None], np.array([2.0]), 1, 1)[0, 0]
    assert np.allclose(out, ref)


def test_multichannel_rgb_contributions_add_up():
    # One output node of an RGB conv = R part + G part + B part: here 3 + 6 + 0 = 9.
    x = np.zeros((3, 3, 3))
    w = np.zeros((3, 3, 3))
    x[0, 1, 1], w[0, 1, 1] = 3.0, 1.0     # red contributes 3
    x[1, 0, 0], w[1, 0, 0] = 2.0, 3.0     # green contributes 6
    x[2, 2, 2], w[2, 2, 2] = 5.0, 0.0     # blue weight is 0
    assert multichannel_correlate2d(x, w)[0, 0] == 9.0


def test_multichannel_rejects_channel_mismatch():
    with pytest.raises(ValueError, match=r"x has 3 channels .* w has 2"):
        multichannel_correlate2d(np.ones((3, 4, 4)), np.ones((2, 3, 3)))


@pytest.mark.parametrize("call, message", [
    (lambda: correlate1d(np.ones((2, 2)), np.ones(2)), r"x must be 1-D, got shape \(2, 2\)"),
    (lambda: correlate1d(np.ones(2), np.ones(3)), "effective kernel size 3 .* padded input 2"),
    (lambda: correlate2d(np.ones(4), np.ones((2, 2))), r"x must be 2-D, got shape \(4,\)"),
    (lambda: correlate2d(np.ones((2, 2)), np.ones((3, 1))), "effective kernel size 3"),
    (lambda: correlate2d(np.ones((4, 4)), np.ones((2, 2)), stride=0), "stride must be positive"),
    (lambda: correlate2d(np.ones((4, 4)), np.ones((2, 2)), mode="edge"), "padding mode"),
])
def test_loop_versions_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@FAST
@given(case=conv_case(max_n=2))
def test_conv_forward_naive_matches_torch(case):
    x, weights, bias, stride, pad = case
    out = conv_forward_naive(x, weights, bias, stride, pad)
    ref = torch_conv(x, weights, bias, stride, pad)
    assert out.shape == ref.shape
    assert np.allclose(out, ref, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------
def test_im2col_shape_and_rows_by_hand():
    x = np.arange(2 * 1 * 3 * 3, dtype=np.float64).reshape(2, 1, 3, 3)
    col = im2col(x, 2, 2)
    assert col.shape == (2 * 2 * 2, 1 * 2 * 2)
    assert np.array_equal(col[0], [0, 1, 3, 4])          # image 0, top-left window
    assert np.array_equal(col[3], [4, 5, 7, 8])          # image 0, bottom-right window
    assert np.array_equal(col[4], [9, 10, 12, 13])       # image 1 starts at row OH*OW


def test_im2col_column_order_is_channel_then_kernel_row_then_column():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5, 4))
    col = im2col(x, 3, 2, stride=(2, 1), pad=(1, 0))
    x_padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    out_h, out_w = 3, 3
    assert col.shape == (2 * out_h * out_w, 3 * 3 * 2)
    for n, i, j in [(0, 0, 0), (1, 2, 1), (1, 1, 2)]:
        window = x_padded[n, :, 2 * i:2 * i + 3, j:j + 2]
        assert np.array_equal(col[(n * out_h + i) * out_w + j], window.ravel())


@FAST
@given(case=conv_case())
def test_conv_as_im2col_matrix_product_matches_torch(case):
    x, weights, bias, stride, pad = case
    f, _, kh, kw = weights.shape
    ref = torch_conv(x, weights, bias, stride, pad)
    col = im2col(x, kh, kw, stride, pad)
    out = col @ weights.reshape(f, -1).T + bias
    out = out.reshape(x.shape[0], ref.shape[2], ref.shape[3], f).transpose(0, 3, 1, 2)
    assert np.allclose(out, ref, atol=1e-12)


@FAST
@given(case=conv_case(), seed=st.integers(0, 1000))
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    x, weights, _, stride, pad = case
    kh, kw = weights.shape[2:]
    col = im2col(x, kh, kw, stride, pad)
    y = np.random.default_rng(seed).standard_normal(col.shape)
    lhs = np.sum(col * y)
    rhs = np.sum(x * col2im(y, x.shape, kh, kw, stride, pad))
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10)


def test_col2im_sums_overlaps():
    # Folding a col of ones counts how many windows cover each pixel.
    x_shape = (1, 1, 4, 4)
    col = np.ones((1 * 3 * 3, 1 * 2 * 2))
    counts = col2im(col, x_shape, 2, 2)
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    assert np.array_equal(counts[0, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_col2im_keep_dtype(dtype):
    x = np.ones((2, 2, 5, 5), dtype=dtype)
    col = im2col(x, 3, 3, stride=2, pad=1)
    assert col.dtype == dtype
    assert col2im(col, x.shape, 3, 3, stride=2, pad=1).dtype == dtype


@pytest.mark.parametrize("call, message", [
    (lambda: im2col(np.ones((3, 5, 5)), 3, 3), r"4-D \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (lambda: im2col(np.ones((1, 1, 2, 2)), 3, 3), "effective kernel size 3 .* padded input 2"),
    (lambda: im2col(np.ones((1, 1, 5, 5)), 3, 3, stride=0), "stride must be positive"),
    (lambda: col2im(np.ones((9, 8)), (1, 1, 5, 5), 3, 3),
     r"col has shape \(9, 8\), .* needs \(9, 9\)"),
    (lambda: col2im(np.ones((9, 9)), (1, 5, 5), 3, 3), r"x_shape must be \(N, C, H, W\)"),
])
def test_im2col_col2im_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Convolution layer
# ---------------------------------------------------------------------------------------------
@FAST
@given(case=conv_case())
def test_convolution_forward_matches_torch(case):
    x, weights, bias, stride, pad = case
    out = Convolution(weights, bias, stride, pad).forward(x)
    ref = torch_conv(x, weights, bias, stride, pad)
    assert out.shape == ref.shape
    assert np.allclose(out, ref, atol=1e-12)


@FAST
@given(case=conv_case())
def test_convolution_backward_matches_torch_autograd(case):
    x, weights, bias, stride, pad = case
    x_t = torch.tensor(x, requires_grad=True)
    w_t = torch.tensor(weights, requires_grad=True)
    b_t = torch.tensor(bias, requires_grad=True)
    out_t = F.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    dout = np.random.default_rng(0).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.from_numpy(dout))

    layer = Convolution(weights, bias, stride, pad)
    layer.forward(x)
    dx = layer.backward(dout)
    assert dx.shape == x.shape and layer.dW.shape == weights.shape and layer.db.shape == bias.shape
    assert np.allclose(dx, x_t.grad.numpy(), atol=1e-11)
    assert np.allclose(layer.dW, w_t.grad.numpy(), atol=1e-11)
    assert np.allclose(layer.db, b_t.grad.numpy(), atol=1e-11)


@pytest.mark.parametrize("stride, pad, kernel", [(1, 0, (3, 3)), (1, 1, (3, 3)), (2, 1, (3, 2)),
                                                 ((2, 3), (2, 0), (4, 1)), (3, 2, (5, 5))])
def test_convolution_numerical_gradient(stride, pad, kernel):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 6))
    layer = Convolution(rng.standard_normal((4, 3) + kernel), rng.standard_normal(4), stride, pad)
    errors = check_layer_gradients(layer, x, seed=6)
    assert set(errors) == {"dx", "dW", "db"}
    assert max(errors.values()) < 1e-7, errors


def test_teaching_im2col_backward_matches_the_layer():
    # The students' route (dcol = dout rows @ W, dx = col2im(dcol), dW = dout.T @ col) agrees
    # with the layer's faster layout, stride and padding included.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 2, 7, 6))
    weights, bias = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    layer = Convolution(weights, bias, stride=2, pad=1)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, 3)
    col = im2col(x, 3, 2, stride=2, pad=1)
    assert np.allclose(dx, col2im(dout_rows @ weights.reshape(3, -1), x.shape, 3, 2, 2, 1))
    assert np.allclose(layer.dW, (dout_rows.T @ col).reshape(weights.shape))


@FAST
@given(case=conv_case(max_n=4), block_bytes=st.sampled_from([1, 200, 1500, 10**9]))
def test_convolution_blocking_matches_torch(case, block_bytes):
    # A tiny block budget splits images into channel groups; a medium one groups several
    # images per block with a shorter last block; a huge one does everything at once.
    x, weights, bias, stride, pad = case
    layer = Convolution(weights, bias, stride, pad)
    layer.block_bytes = block_bytes
    x_t = torch.tensor(x, requires_grad=True)
    w_t = torch.tensor(weights, requires_grad=True)
    out_t = F.conv2d(x_t, w_t, torch.from_numpy(bias), stride=stride, padding=pad)
    dout = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.from_numpy(dout))
    assert np.allclose(layer.forward(x), out_t.detach().numpy(), atol=1e-12)
    assert np.allclose(layer.backward(dout), x_t.grad.numpy(), atol=1e-11)
    assert np.allclose(layer.dW, w_t.grad.numpy(), atol=1e-11)


def test_shift_taps_match_the_module_docstring_picture():
    from cnncourse.conv import _shift_taps
    taps = _shift_taps(3, 3, pad=(1, 1), in_hw=(4, 4))
    assert [(t.kernel_row, t.kernel_col) for t in taps] == [(a, d) for a in range(3)
                                                            for d in range(3)]
    corner, centre, last = taps[0], taps[4], taps[8]
    assert (corner.shift, corner.pad_rows, corner.pad_cols) == (-5, slice(0, 1), slice(0, 1))
    assert (centre.shift, centre.pad_rows, centre.pad_cols) == (0, slice(4, 4), slice(4, 4))
    assert (last.shift, last.pad_rows, last.pad_cols) == (5, slice(3, 4), slice(3, 4))
    assert [t.is_centre for t in taps] == [False] * 4 + [True] + [False] * 4


@pytest.mark.parametrize("x_shape, kernel, stride, pad", [
    ((2, 3, 4, 4), (3, 3), (1, 1), (1, 1)),     # stride-1 'same': shift taps
    ((1, 2, 5, 3), (5, 3), (1, 1), (2, 1)),
    ((2, 3, 7, 6), (3, 2), (2, 1), (1, 0)),     # anything else: slice taps
    ((1, 2, 2, 3), (4, 4), (1, 1), (2, 2)),
])
def test_gather_is_the_teaching_im2col_in_tap_major_order(x_shape, kernel, stride, pad):
    # cols[n, a, d, c, i, j] == im2col(x)[(n*OH + i)*OW + j, (c*KH + a)*KW + d]
    from cnncourse.conv import _Block, _gather, _ShiftTap, _SliceTap
    x = np.random.default_rng(3).standard_normal(x_shape)
    layer = Convolution(np.ones((2, x_shape[1]) + kernel), np.zeros(2), stride, pad)
    layer.block_bytes = 10**9                                     # one block: the whole batch
    plan = layer._plan(x.shape, x.dtype)
    same = stride == (1, 1) and plan.out_hw == x_shape[2:]
    assert plan.shifted == same
    assert all(isinstance(t, _ShiftTap if same else _SliceTap) for t in plan.taps)
    n, c = x_shape[:2]
    cols = np.full((n, *kernel, c, *plan.out_hw), np.nan)     # every entry must be written
    _gather(x, _Block(n0=0, n1=n, c0=0, c1=c), cols, plan.taps)
    classic = im2col(x, *kernel, stride=stride, pad=pad)
    classic = classic.reshape(n, *plan.out_hw, c, *kernel).transpose(0, 4, 5, 3, 1, 2)
    assert np.array_equal(cols, classic)


def test_blocks_cover_every_image_and_channel_once():
    from cnncourse.conv import _blocks
    for n, c, per_channel, budget in [(5, 3, 10, 1), (5, 3, 10, 70), (5, 7, 10, 25),
                                      (1, 64, 4096, 1 << 20), (32, 3, 9 * 1024 * 4, 1 << 20)]:
        chunk, group, blocks = _blocks(n, c, per_channel, budget)
        covered = np.zeros((n, c), dtype=int)
        for n0, n1, c0, c1 in blocks:
            covered[n0:n1, c0:c1] += 1
            assert n1 - n0 <= chunk and c1 - c0 <= group
            assert (n1 - n0) * (c1 - c0) * per_channel <= max(budget, per_channel)
            assert n1 - n0 == 1 or (c0, c1) == (0, c)   # a buffer slice stays contiguous
        assert np.array_equal(covered, np.ones((n, c), dtype=int))


def test_convolution_reuses_buffers_safely_across_calls_and_geometries():
    # Inputs of different sizes can give the same output size (stride 2): the padding
    # entries of the reused buffer must still be zero, so every call must match torch.
    rng = np.random.default_rng(11)
    weights, bias = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    layer = Convolution(weights, bias, stride=2, pad=1)
    for shape in [(2, 2, 6, 6), (2, 2, 5, 5), (2, 2, 6, 6), (1, 2, 7, 4), (2, 2, 5, 5)]:
        x = rng.standard_normal(shape)
        out = layer.forward(x)
        assert np.allclose(out, torch_conv(x, weights, bias, 2, 1), atol=1e-12), shape
        dx = layer.backward(np.ones_like(out))
        x_t = torch.tensor(x, requires_grad=True)
        F.conv2d(x_t, torch.from_numpy(weights), stride=2, padding=1).sum().backward()
        assert np.allclose(dx, x_t.grad.numpy(), atol=1e-12), shape


@pytest.mark.parametrize("x_shape, kernel, pad", [
    ((2, 3, 2, 2), (7, 7), 3),      # 'same' conv with a kernel much wider than the image
    ((1, 2, 1, 5), (5, 3), (2, 1)),
    ((2, 2, 3, 1), (1, 7), (0, 3)),
    ((1, 1, 2, 3), (6, 4), 2),      # even kernel: not 'same', the general path
])
def test_convolution_kernels_larger_than_the_image(x_shape, kernel, pad):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(x_shape)
    weights = rng.standard_normal((3, x_shape[1]) + kernel)
    bias = rng.standard_normal(3)
    layer = Convolution(weights, bias, pad=pad)
    x_t = torch.tensor(x, requires_grad=True)
    w_t = torch.tensor(weights, requires_grad=True)
    out_t = F.conv2d(x_t, w_t, torch.from_numpy(bias), padding=pad)
    out_t.sum().backward()
    assert np.allclose(layer.forward(x), out_t.detach().numpy(), atol=1e-12)
    assert np.allclose(layer.backward(np.ones(tuple(out_t.shape))), x_t.grad.numpy())
    assert np.allclose(layer.dW, w_t.grad.numpy())


def test_convolution_backward_uses_the_latest_forward():
    rng = np.random.default_rng(12)
    layer = Convolution(rng.standard_normal((2, 1, 2, 2)), np.zeros(2))
    x1, x2 = rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 4, 4))
    layer.forward(x1)
    out = layer.forward(x2)
    layer.backward(np.ones_like(out))
    w_t = torch.tensor(layer.W, requires_grad=True)
    F.conv2d(torch.from_numpy(x2), w_t).sum().backward()
    assert np.allclose(layer.dW, w_t.grad.numpy())


@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0)])
def test_convolution_float32_in_float32_out(stride, pad):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    weights = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    layer = Convolution(weights, bias, stride, pad)
    out = layer.forward(x)
    assert out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32 and layer.dW.dtype == np.float32 and layer.db.dtype == np.float32
    ref = torch_conv(x.astype(np.float64), weights.astype(np.float64),
                     bias.astype(np.float64), stride, pad)
    assert np.allclose(out, ref, atol=1e-4)


def test_convolution_follows_the_layer_protocol():
    weights, bias = np.ones((2, 1, 3, 3)), np.zeros(2)
    layer = Convolution(weights, bias, pad=1)
    assert layer.param_names == ("W", "b") and layer.training is True
    assert layer.W is weights and layer.b is bias
    x = np.ones((1, 1, 4, 4))
    before = layer.forward(x)
    weights -= 1.0   # an optimizer updates in place: the layer must see it
    assert np.array_equal(layer.forward(x), np.zeros_like(before))
    layer.backward(np.ones_like(before))
    assert layer.dW.shape == (2, 1, 3, 3) and np.array_equal(layer.db, [16.0, 16.0])
    # The protocol comes from cnncourse.layers.Layer, not from a copy of it.
    assert isinstance(layer, Layer)
    assert "training" not in vars(Convolution) and "_cached" not in vars(Convolution)
    assert layer.named_params()["W"] is weights and layer.named_grads()["b"] is layer.db
    assert repr(layer) == "Convolution(W=(2, 1, 3, 3), b=(2,))"


def test_convolution_backward_before_forward_names_the_layer():
    with pytest.raises(RuntimeError, match=r"^Convolution\.backward called before forward"):
        Convolution(np.ones((1, 1, 2, 2)), np.zeros(1)).backward(np.ones((1, 1, 1, 1)))


def test_convolution_backward_accepts_any_stride_geometry_left_over():
    # Rows/columns the stride never reaches get zero gradient.
    x = np.ones((1, 1, 6, 6))
    layer = Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), stride=3)
    out = layer.forward(x)
    assert out.shape == (1, 1, 2, 2)
    dx = layer.backward(np.ones_like(out))
    assert np.array_equal(dx[0, 0, 2], np.zeros(6)) and np.array_equal(dx[0, 0, :, 5], np.zeros(6))
    assert dx.sum() == 16.0


@pytest.mark.parametrize("make, x_shape, message", [
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)), (1, 2, 5, 5),
     r"channel mismatch: x has C=2 .* W expects C=3"),
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)), (1, 3, 2, 5),
     r"kernel 3x3 is larger than the padded input 2x5"),
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)), (3, 5, 5),
     r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)"),
])
def test_convolution_forward_rejects_bad_shapes(make, x_shape, message):
    with pytest.raises(ValueError, match=message):
        make().forward(np.ones(x_shape))


@pytest.mark.parametrize("make, message", [
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(3)),
     r"b must have shape \(2,\) to match W \(2, 3, 3, 3\), got \(3,\)"),
    (lambda: Convolution(np.ones((3, 3, 3)), np.zeros(3)), r"W must be 4-D"),
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2), stride=0), "stride must be positive"),
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2), pad=-1), "pad must be >= 0"),
    (lambda: conv_forward_naive(np.ones((1, 2, 5, 5)), np.ones((2, 3, 3, 3)), np.zeros(2)),
     "channel mismatch"),
    (lambda: conv_forward_naive(np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3)), np.zeros(4)),
     r"b must have shape \(2,\)"),
])
def test_convolution_rejects_bad_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_convolution_backward_checks_dout_and_order():
    layer = Convolution(np.ones((2, 1, 3, 3)), np.zeros(2))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((1, 2, 2, 2)))
    layer.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(1, 2, 3, 3\), forward produced "
                                         r"\(1, 2, 2, 2\)"):
        layer.backward(np.ones((1, 2, 3, 3)))
