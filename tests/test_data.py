"""Offline data sets: shapes, dtypes, ranges, stratified split, IDX reader errors."""
import gzip
import struct
from fractions import Fraction

import numpy as np
import pytest

from cnncourse.data import (GAN_TOY_PARAMS, SHAPE_CLASSES, generative_toy, load_digits,
                            load_mnist_idx, load_photo, make_shapes, make_spirals, resize_bilinear,
                            sample_gan_toy, stratified_split, to_one_hot)


def test_load_digits_default_shapes_and_stratification():
    (x_tr, t_tr), (x_te, t_te) = load_digits()
    assert x_tr.shape == (1347, 1, 8, 8) and x_te.shape == (450, 1, 8, 8)
    assert x_tr.dtype == np.float32 and t_tr.dtype == np.int64
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0 and x_tr.max() == 1.0
    counts_tr, counts_te = np.bincount(t_tr, minlength=10), np.bincount(t_te, minlength=10)
    # every class split about 3:1 (class sizes 174..183 -> 43..46 test images)
    assert np.all((counts_te >= 43) & (counts_te <= 46)), counts_te
    np.testing.assert_allclose(counts_te / (counts_tr + counts_te), 0.25, atol=0.005)


def test_load_digits_split_is_fixed_and_disjoint():
    (a, ta), (b, tb) = load_digits()
    (a2, _), _ = load_digits()
    np.testing.assert_array_equal(a, a2)
    (c, _), _ = load_digits(seed=1)
    assert not np.array_equal(a, c)
    # the same split as stratified_split on sklearn's labels: disjoint and complete
    from sklearn.datasets import load_digits as sk_load_digits
    labels = sk_load_digits().target
    train_idx, test_idx = stratified_split(labels, 0.25, seed=0)
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert train_idx.size + test_idx.size == labels.size == ta.size + tb.size
    np.testing.assert_array_equal(labels[test_idx], tb)


@pytest.mark.parametrize("size", [16, 28, 32])
def test_load_digits_upsampled(size):
    (x_tr, _), (x_te, _) = load_digits(size=size)
    (x8, _), _ = load_digits()
    assert x_tr.shape == (1347, 1, size, size) and x_tr.dtype == np.float32
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0
    # the picture is the same, only smoother: block-averaging back to 8x8 correlates with the
    # original (bilinear interpolation blurs, so the match is close but not exact)
    back = resize_bilinear(x_tr, 8, 8)
    corr = np.corrcoef(back.ravel(), x8.ravel())[0, 1]
    assert corr > 0.9, corr


def test_load_digits_options():
    (x, t), (x_te, t_te) = load_digits(flatten=True, one_hot=True, normalize=False)
    assert x.shape == (1347, 64) and t.shape == (1347, 10) and t.dtype == np.float32
    assert x.max() == 16.0
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="size must be one of"):
        load_digits(size=12)


def test_stratified_split_proportions():
    labels = np.repeat([0, 1, 2], [40, 20, 4])
    train_idx, test_idx = stratified_split(labels, test_size=0.25, seed=3)
    np.testing.assert_array_equal(np.bincount(labels[test_idx]), [10, 5, 1])
    assert np.union1d(train_idx, test_idx).size == labels.size
    with pytest.raises(ValueError, match="between 0 and 1"):
        stratified_split(labels, test_size=1.0)


def test_resize_bilinear_known_values():
    img = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    up = resize_bilinear(img, 4, 4)
    # half-pixel centres: the first output row/column sits on the input's first row/column
    np.testing.assert_allclose(up[0], [0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up[:, 0], [0.0, 0.5, 1.5, 2.0])
    assert up.dtype == np.float32
    same = resize_bilinear(img, 2, 2)
    np.testing.assert_array_equal(same, img)
    big = np.arange(64, dtype=np.float64).reshape(8, 8)
    np.testing.assert_allclose(resize_bilinear(big, 4, 4),
                               big.reshape(4, 2, 4, 2).mean(axis=(1, 3)))
    with pytest.raises(ValueError, match="positive"):
        resize_bilinear(img, 0, 3)


def test_to_one_hot():
    np.testing.assert_array_equal(to_one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        to_one_hot(np.array([3]), 3)


@pytest.mark.parametrize("name", ["china", "grace_hopper"])
def test_load_photo(name):
    img = load_photo(name)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05
    gray = load_photo(name, gray=True, size=100)
    assert gray.ndim == 2 and max(gray.shape) == 100 and gray.dtype == np.float32
    exact = load_photo(name, size=(30, 40))
    assert exact.shape == (30, 40, 3)


def test_load_photo_china_size_and_unknown_name():
    assert load_photo("china").shape == (427, 640, 3)
    with pytest.raises(ValueError, match="unknown photo"):
        load_photo("mona_lisa")


def test_make_shapes_balanced_and_distinct():
    x, t = make_shapes(n=200, size=32, seed=0)
    assert x.shape == (200, 1, 32, 32) and x.dtype == np.float32 and t.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(t), [50] * len(SHAPE_CLASSES))
    assert 0.0 <= x.min() and x.max() <= 1.0
    # filled area differs by class: a circle fills pi r^2, a square (1.7 r)^2, a triangle r^2
    area = (x[:, 0] > 0.4).sum(axis=(1, 2))
    mean_area = [area[t == k].mean() / (32 * 32) for k in range(4)]
    assert mean_area[2] < mean_area[0]  # triangle smaller than circle of the same radius
    x2, t2 = make_shapes(n=200, size=32, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(t, t2)


def test_generative_toy_reproduces_the_tables():
    X, Y = generative_toy()
    assert X.shape == (10, 2) and Y.shape == (10,)
    assert np.issubdtype(X.dtype, np.integer) and np.issubdtype(Y.dtype, np.integer)
    cells = [(0, 0), (0, 1), (1, 0), (1, 1)]
    match = [np.all(X == c, axis=1) for c in cells]
    p_x = [Fraction(int(m.sum()), 10) for m in match]
    assert p_x == [Fraction(2, 10), Fraction(3, 10), Fraction(1, 10), Fraction(4, 10)]
    p_x_y0 = [Fraction(int((m & (Y == 0)).sum()), int((Y == 0).sum())) for m in match]
    p_x_y1 = [Fraction(int((m & (Y == 1)).sum()), int((Y == 1).sum())) for m in match]
    assert p_x_y0 == [0, Fraction(1, 5), Fraction(1, 5), Fraction(3, 5)]
    assert p_x_y1 == [Fraction(2, 5), Fraction(2, 5), 0, Fraction(1, 5)]
    p_y0_x = [Fraction(int((m & (Y == 0)).sum()), int(m.sum())) for m in match]
    assert p_y0_x == [0, Fraction(1, 3), 1, Fraction(3, 4)]


def test_sample_gan_toy():
    g = sample_gan_toy(20000, "gaussian1d", seed=0)
    assert g.shape == (20000, 1) and g.dtype == np.float32
    p = GAN_TOY_PARAMS["gaussian1d"]
    assert abs(g.mean() - p["mean"]) < 0.05 and abs(g.std() - p["std"]) < 0.05
    r = sample_gan_toy(4000, "ring2d", seed=1)
    assert r.shape == (4000, 2)
    radius = np.linalg.norm(r, axis=1)
    assert np.all(np.abs(radius - 2.0) < 0.4)
    modes = np.round(np.arctan2(r[:, 1], r[:, 0]) / (2 * np.pi / 8)) % 8
    assert np.unique(modes).size == 8
    np.testing.assert_array_equal(sample_gan_toy(5, seed=3), sample_gan_toy(5, seed=3))
    with pytest.raises(ValueError, match="unknown kind"):
        sample_gan_toy(5, "moons")


# ------------------------------------------------------------------------------ IDX
def _write_idx(path, magic, dims, payload, compress=False):
    data = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_idx_roundtrip(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    ip, lp = tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}"
    _write_idx(ip, 0x803, images.shape, images.tobytes(), compress)
    _write_idx(lp, 0x801, labels.shape, labels.tobytes(), compress)
    x, t = load_mnist_idx(ip, lp)
    assert x.shape == (5, 1, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0] * 255, images)
    np.testing.assert_array_equal(t, labels)
    raw, _ = load_mnist_idx(ip, lp, normalize=False)
    np.testing.assert_array_equal(raw[:, 0], images)


def test_load_mnist_idx_errors(tmp_path):
    images = np.zeros((3, 2, 2), dtype=np.uint8)
    labels = np.zeros(3, dtype=np.uint8)
    ip, lp = tmp_path / "img", tmp_path / "lab"
    _write_idx(ip, 0x803, images.shape, images.tobytes())
    _write_idx(lp, 0x801, labels.shape, labels.tobytes())
    with pytest.raises(ValueError, match="wrong magic number 0x00000801"):
        load_mnist_idx(lp, ip)
    short = tmp_path / "short"
    _write_idx(short, 0x803, images.shape, images.tobytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist_idx(short, lp)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="truncated"):
        load_mnist_idx(tiny, lp)
    two = tmp_path / "two"
    _write_idx(two, 0x801, (2,), b"\x00\x01")
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_mnist_idx(ip, two)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_mnist_idx(tmp_path / "missing", lp)


def test_make_spirals():
    x, t = make_spirals(101, seed=0)
    assert x.shape == (100, 2) and t.shape == (100,) and t.dtype == np.int64
    assert np.array_equal(np.bincount(t), [50, 50])
    clean, _ = make_spirals(10, noise=0.0, seed=1)
    assert np.allclose(clean[5:], -clean[:5])
    assert np.all(np.linalg.norm(clean, axis=1) <= 1.0)
