"""Tests for cnncourse.aids.conv_explain: the logic behind notebook 03's figures and widgets."""
import numpy as np
from hypothesis import given, strategies as st
import pytest

from cnncourse.aids import conv_explain as ce
from cnncourse.conv import conv_output_size, correlate1d, correlate2d


def test_classic_kernels_shapes_and_sums():
    kernels = ce.classic_kernels()
    assert set(kernels) == {"identity", "edge_diagonal", "edge_laplace4", "edge_laplace8",
                            "sharpen", "box_blur", "gaussian_blur", "sobel_vertical",
                            "sobel_horizontal"}
    for name, kernel in kernels.items():
        assert kernel.shape == (3, 3), name
    for name in ("identity", "sharpen", "box_blur", "gaussian_blur"):
        assert np.isclose(kernels[name].sum(), 1.0), name
    for name in ("edge_diagonal", "edge_laplace4", "edge_laplace8", "sobel_vertical",
                 "sobel_horizontal"):
        assert kernels[name].sum() == 0.0, name
    # The two Sobel filters are transposes of each other.
    assert np.array_equal(kernels["sobel_vertical"].T, kernels["sobel_horizontal"])
    # A fresh dict each call: editing one must not change the next.
    kernels["identity"][1, 1] = 7
    assert ce.classic_kernels()["identity"][1, 1] == 1


def test_sobel_directions_on_step_images():
    kernels = ce.classic_kernels()
    vertical_edge = np.zeros((6, 6))
    vertical_edge[:, 3:] = 1.0  # intensity changes along x
    horizontal_edge = vertical_edge.T.copy()
    v_on_v = ce.filter_image(vertical_edge, kernels["sobel_vertical"])
    v_on_h = ce.filter_image(horizontal_edge, kernels["sobel_vertical"])
    assert np.abs(v_on_v).max() == 4.0
    assert np.abs(v_on_h).max() == 0.0
    h_on_h = ce.filter_image(horizontal_edge, kernels["sobel_horizontal"])
    assert np.abs(h_on_h).max() == 4.0


def test_effective_kernel_size():
    assert ce.effective_kernel_size(3) == 3
    assert ce.effective_kernel_size(3, 2) == 5
    assert ce.effective_kernel_size(5, 3) == 13
    assert ce.effective_kernel_size(1, 4) == 1
    with pytest.raises(ValueError, match="dilation"):
        ce.effective_kernel_size(3, 0)
    with pytest.raises(TypeError, match="kernel_size"):
        ce.effective_kernel_size(2.5)


@pytest.mark.parametrize("i,k,p,s,d", [(5, 3, 1, 2, 1), (6, 3, 1, 2, 1), (7, 3, 0, 1, 2),
                                       (4, 4, 3, 1, 1), (9, 2, 0, 3, 1), (1, 1, 0, 1, 1)])
def test_window_taps_match_formula_and_stay_inside(i, k, p, s, d):
    taps = ce.window_taps(i, k, padding=p, stride=s, dilation=d)
    assert taps.shape == (conv_output_size(i, k, padding=p, stride=s, dilation=d), k)
    assert taps.min() == 0
    assert taps.max() <= i + 2 * p - 1
    assert np.all(np.diff(taps, axis=1) == d)
    assert np.all(np.diff(taps[:, 0]) == s)


def test_window_taps_reproduce_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=9)
    w = rng.normal(size=3)
    taps = ce.window_taps(9, 3, padding=2, stride=2)
    x_padded = np.pad(x, 2)
    assert np.allclose(x_padded[taps] @ w, correlate1d(x, w, padding=2, stride=2))


def test_window_taps_rejects_impossible_setting():
    with pytest.raises(ValueError, match="larger than the padded input"):
        ce.window_taps(3, 3, dilation=2)


def test_same_and_full_padding_keep_and_grow_size():
    for k in (1, 3, 5, 7):
        for d in (1, 2, 3):
            p = ce.same_padding(k, d)
            assert conv_output_size(10, k, padding=p, dilation=d) == 10
            full = conv_output_size(10, k, padding=ce.full_padding(k, d), dilation=d)
            assert full == 10 + ce.effective_kernel_size(k, d) - 1
    with pytest.raises(ValueError, match="even"):
        ce.same_padding(4)


def test_arithmetic_case_labels():
    assert ce.arithmetic_case(5, 3) == "no padding"
    assert ce.arithmetic_case(5, 3, padding=1) == "same (half) padding"
    assert ce.arithmetic_case(5, 3, padding=2) == "full padding"
    assert ce.arithmetic_case(5, 3, padding=1, stride=2) == "same (half) padding, strided"
    assert ce.arithmetic_case(7, 3, dilation=2) == "no padding, dilated"
    assert ce.arithmetic_case(7, 3, padding=2, dilation=2) == "same (half) padding, dilated"
    assert ce.arithmetic_case(5, 1) == "no padding, same (half) padding"
    assert ce.arithmetic_case(8, 4, padding=1) == "arbitrary padding"
    with pytest.raises(ValueError):
        ce.arithmetic_case(2, 5)


def test_explain_arithmetic_slide_check():
    # The slides' check: K=3, P=1, S=2 gives 3 outputs for I=5 and for I=6.
    five = ce.explain_arithmetic(5, 3, padding=1, stride=2)
    six = ce.explain_arithmetic(6, 3, padding=1, stride=2)
    assert five["output_size"] == six["output_size"] == 3
    assert five["left_out"] == 0 and six["left_out"] == 1
    assert six["padded_size"] == 8 and six["total_padding"] == 2
    assert six["formula"].endswith("= 3")
    dilated = ce.explain_arithmetic(7, 3, dilation=2)
    assert dilated["effective_kernel"] == 5 and dilated["output_size"] == 3


def test_arithmetic_report_valid_and_invalid():
    text = ce.arithmetic_report(6, 3, padding=1, stride=2)
    assert "floor(5/2) + 1 = 3" in text
    assert "reached by no window" in text
    assert "reached by no window" not in ce.arithmetic_report(5, 3, padding=1, stride=2)
    bad = ce.arithmetic_report(2, 5)
    assert bad.startswith("invalid:") and "5" in bad and "2" in bad


def test_shift_image_moves_and_fills_with_zero():
    image = np.arange(1, 13).reshape(3, 4)
    left = ce.shift_image(image, -2)
    assert np.array_equal(left, [[3, 4, 0, 0], [7, 8, 0, 0], [11, 12, 0, 0]])
    down = ce.shift_image(image, 0, 1)
    assert np.array_equal(down[1:], image[:-1]) and not down[0].any()
    both = ce.shift_image(image, 1, -1)
    assert both[0, 1] == image[1, 0] and both[2].sum() == 0 and both[:, 0].sum() == 0
    with pytest.raises(ValueError, match="out of the frame"):
        ce.shift_image(image, 4)
    with pytest.raises(ValueError, match="2-D"):
        ce.shift_image(np.zeros(5), 1)


def test_count_changed_inputs_vertical_bar():
    # A bar 3 px wide and 10 px tall moved 2 px left: per row 2 pixels turn on at the new
    # left edge and 2 turn off at the old right edge.
    image = np.zeros((12, 12), dtype=int)
    image[1:11, 5:8] = 1
    changed, off, on = ce.count_changed_inputs(image, ce.shift_image(image, -2))
    assert (changed, off, on) == (40, 20, 20)
    assert ce.count_changed_inputs(image, image) == (0, 0, 0)
    with pytest.raises(ValueError, match="binary"):
        ce.count_changed_inputs(image * 2, image)
    with pytest.raises(ValueError, match="shape"):
        ce.count_changed_inputs(image, image[:5])


def test_weight_sharing_matrix_is_the_convolution():
    rng = np.random.default_rng(1)
    kernel = np.array([0.4, 0.3, 0.3])
    matrix = ce.weight_sharing_matrix(kernel, 8, padding=1)
    assert matrix.shape == (8, 8)
    x = rng.normal(size=8)
    assert np.allclose(matrix @ x, correlate1d(x, kernel, padding=1))
    # Only 3 distinct non-zero values although the matrix has 64 entries.
    assert set(np.unique(matrix[matrix != 0])) == {0.3, 0.4}
    assert np.count_nonzero(matrix) == 8 * 3 - 2
    valid = ce.weight_sharing_matrix(kernel, 8)
    assert valid.shape == (6, 8)
    with pytest.raises(ValueError, match="1-D"):
        ce.weight_sharing_matrix(np.ones((3, 3)), 8)


def test_filter_image_matches_naive_correlation():
    rng = np.random.default_rng(2)
    image = rng.random((7, 9))
    kernel = rng.normal(size=(3, 3))
    fast_zero = ce.filter_image(image, kernel, mode="zero")
    assert np.allclose(fast_zero, correlate2d(image, kernel, padding=1, mode="zero"))
    fast_rep = ce.filter_image(image, kernel, mode="replicate")
    assert np.allclose(fast_rep, correlate2d(image, kernel, padding=1, mode="replicate"))
    kernel5 = rng.normal(size=(5, 5))
    assert np.allclose(ce.filter_image(image, kernel5, mode="zero"),
                       correlate2d(image, kernel5, padding=2))
    colour = rng.random((6, 5, 3))
    out = ce.filter_image(colour, kernel)
    assert out.shape == colour.shape
    assert np.allclose(out[..., 2], ce.filter_image(colour[..., 2], kernel))


def test_filter_image_identity_and_blur_preserve_flat_image():
    kernels = ce.classic_kernels()
    flat = np.full((5, 5), 0.3)
    for name in ("identity", "box_blur", "gaussian_blur", "sharpen"):
        assert np.allclose(ce.filter_image(flat, kernels[name]), 0.3), name
    assert np.allclose(ce.filter_image(flat, kernels["edge_laplace8"]), 0.0)


def test_filter_image_rejects_bad_input():
    with pytest.raises(ValueError, match="odd"):
        ce.filter_image(np.zeros((4, 4)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="mode"):
        ce.filter_image(np.zeros((4, 4)), np.ones((3, 3)), mode="reflect")
    with pytest.raises(ValueError, match="image"):
        ce.filter_image(np.zeros(4), np.ones((3, 3)))


def test_kernel_to_text():
    text = ce.kernel_to_text(ce.classic_kernels()["gaussian_blur"])
    rows = text.splitlines()
    assert len(rows) == 3
    assert rows[1].split() == ["0.125", "0.25", "0.125"]
    assert rows[0].split()[0] == "0.0625"
    with pytest.raises(ValueError):
        ce.kernel_to_text(np.ones(3))


@given(st.integers(1, 20), st.integers(1, 6), st.integers(0, 4), st.integers(1, 4),
       st.integers(1, 3))
def test_explain_arithmetic_agrees_with_window_taps(i, k, p, s, d):
    k_eff = ce.effective_kernel_size(k, d)
    if k_eff > i + 2 * p:
        assert ce.arithmetic_report(i, k, padding=p, stride=s, dilation=d).startswith("invalid")
        return
    info = ce.explain_arithmetic(i, k, padding=p, stride=s, dilation=d)
    taps = ce.window_taps(i, k, padding=p, stride=s, dilation=d)
    assert info["output_size"] == taps.shape[0]
    # Cells after the last window's last tap are exactly the ones the floor dropped.
    assert info["padded_size"] - 1 - taps[-1, -1] == info["left_out"]
    assert info["left_out"] < s


@pytest.mark.parametrize("call", [
    lambda: ce.window_taps(7, 3, 1, 2),
    lambda: ce.arithmetic_case(7, 3, 1),
    lambda: ce.explain_arithmetic(7, 3, 1, 2),
    lambda: ce.arithmetic_report(7, 3, 1, 2),
    lambda: ce.weight_sharing_matrix(np.ones(3), 8, 1),
])
def test_sizes_after_kernel_size_are_keyword_only(call):
    # Same signature rule as cnncourse.conv.conv_output_size: padding and stride by name.
    with pytest.raises(TypeError):
        call()


def test_numpy_integers_and_type_errors_follow_the_shared_contract():
    assert ce.effective_kernel_size(np.int64(3), np.int32(2)) == 5
    assert type(ce.effective_kernel_size(np.int64(3))) is int
    assert ce.window_taps(np.int64(5), np.int64(3), padding=np.int64(1)).shape == (5, 3)
    assert ce.explain_arithmetic(np.int64(6), 3, padding=1, stride=np.uint8(2))["output_size"] == 3
    with pytest.raises(TypeError, match="dilation must be an integer"):
        ce.effective_kernel_size(3, True)
    with pytest.raises(TypeError, match="stride must be an integer"):
        ce.window_taps(5, 3, stride=1.5)


# --- notebook 04: which input pixels a row of im2col copies ----------------------------------
from cnncourse.conv import im2col  # noqa: E402


@pytest.mark.parametrize("x_shape, kh, kw, s, p", [
    ((1, 2, 5, 6), 2, 3, 2, 1), ((2, 3, 4, 7), 3, 2, 1, 2), ((3, 1, 6, 5), 3, 3, 3, 0),
    ((1, 1, 1, 1), 1, 1, 1, 0), ((2, 2, 3, 3), 4, 1, 2, 1)])
def test_im2col_row_sources_name_what_the_library_copies(x_shape, kh, kw, s, p):
    x = np.arange(1, 1 + np.prod(x_shape)).reshape(x_shape)     # no zeros: 0 in col = padding
    col = im2col(x, kh, kw, stride=s, pad=p)
    out_h = conv_output_size(x_shape[2], kh, padding=p, stride=s)
    out_w = conv_output_size(x_shape[3], kw, padding=p, stride=s)
    for row in range(col.shape[0]):
        info = ce.im2col_row_sources(x_shape, kh, kw, row, stride=s, pad=p)
        n, i, j = info["position"]
        assert info["out_shape"] == (out_h, out_w) and row == (n * out_h + i) * out_w + j
        assert info["window_rows"] == (i * s, i * s + kh - 1)
        assert info["window_cols"] == (j * s, j * s + kw - 1)
        assert info["taps"].shape == info["pixels"].shape == (col.shape[1], 3)
        assert np.array_equal(info["padding"], col[row] == 0)
        for k, ((c, y, z), on_pad) in enumerate(zip(info["pixels"], info["padding"])):
            assert info["taps"][k].tolist() == [c, *divmod(k % (kh * kw), kw)]
            if not on_pad:
                assert col[row, k] == x[n, c, y, z]


def test_im2col_row_sources_hand_case_and_errors():
    info = ce.im2col_row_sources((1, 2, 5, 6), 2, 3, 2, stride=2, pad=1)
    assert info["position"] == (0, 0, 2) and info["out_shape"] == (3, 3)
    assert info["pixels"][:6].tolist() == [[0, -1, 3], [0, -1, 4], [0, -1, 5],
                                           [0, 0, 3], [0, 0, 4], [0, 0, 5]]
    assert info["padding"].tolist() == [True] * 3 + [False] * 3 + [True] * 3 + [False] * 3
    # defaults: stride 1, no padding -> row 5 of a 4x4 input with a 3x3 kernel does not exist
    assert ce.im2col_row_sources((1, 1, 4, 4), 3, 3, 3)["position"] == (0, 1, 1)
    with pytest.raises(ValueError, match="row must be below 4"):
        ce.im2col_row_sources((1, 1, 4, 4), 3, 3, 4)
    with pytest.raises(ValueError, match="row must be"):
        ce.im2col_row_sources((1, 1, 4, 4), 3, 3, -1)
    with pytest.raises(ValueError, match="x_shape"):
        ce.im2col_row_sources((4, 4), 3, 3, 0)
    with pytest.raises(ValueError):
        ce.im2col_row_sources((1, 1, 2, 2), 3, 3, 0)              # the kernel does not fit
    with pytest.raises(ValueError, match="kernel_w"):
        ce.im2col_row_sources((1, 1, 4, 4), 3, 0, 0)


def test_im2col_example_numbers_every_pixel():
    x = ce.im2col_example()
    assert x.shape == (1, 2, 5, 6) and np.issubdtype(x.dtype, np.integer)
    assert x[0, 1, 2, 3] == 30 * 1 + 6 * 2 + 3 + 1 and x.min() == 1 and x.max() == 60
    x[0, 0, 0, 0] = 99                                            # a fresh copy each call
    assert ce.im2col_example()[0, 0, 0, 0] == 1


def test_im2col_row_report_names_position_pixels_and_padding():
    x = ce.im2col_example()
    text = ce.im2col_row_report(x, 2, 3, 4, stride=2, pad=1)
    lines = text.splitlines()
    assert lines[0].startswith("row 4 of col (9 rows x 12 columns) = output position "
                               "(n, i, j) = (0, 1, 1)")
    assert "4 = (0*3 + 1)*3 + 1" in lines[0]
    assert "padded rows 2..3, cols 2..4 = input rows 1..2, cols 1..3" in lines[1]
    # row 4 copies rows 1..2, cols 1..3 of both channels: x[0, 1, 2, 3] = 30 + 12 + 3 + 1
    assert "k=11: x[0,1,2,3]=46" in text and "k=0: x[0,0,1,1]=8" in text
    assert lines[-1] == "0 of the 12 numbers in this row are padding zeros"
    corner = ce.im2col_row_report(x, 2, 3, 0, stride=2, pad=1)
    assert "k=0: pad(-1,-1)=0" in corner and "k=4: x[0,0,0,0]=1" in corner
    assert corner.splitlines()[-1].startswith("8 of the 12 numbers")
    # the values are the library's: every column's value appears after its k
    col = im2col(x / 2, 3, 3, stride=1, pad=2)
    text = ce.im2col_row_report(x / 2, 3, 3, 9, stride=1, pad=2)
    for k, value in enumerate(col[9]):
        assert f"k={k}: " in text and f"={value:g}" in text
    assert "=0.5" in text or "=1.5" in text                      # floats printed as floats
    # arguments with defaults change the result; an image without N is rejected
    assert "(n, i, j) = (0, 0, 2)" in ce.im2col_row_report(x, 3, 3, 2)         # OW = 4
    assert "(n, i, j) = (0, 1, 0)" in ce.im2col_row_report(x, 3, 3, 2, stride=2)  # OW = 2
    assert "pad 2, stride 1" in ce.im2col_row_report(x, 3, 3, 1, pad=2)
    with pytest.raises(ValueError, match="4-D"):
        ce.im2col_row_report(x[0], 2, 2, 0)
