"""Offline data sets for the course. Nothing here downloads anything.

- `load_digits`: scikit-learn's bundled 8x8 handwritten digits (1797 images), optionally
  upsampled to 16, 28 or 32 pixels, with a fixed stratified train/test split.
- `load_photo`: a real photograph shipped with scikit-learn (china.jpg) or matplotlib
  (grace_hopper.jpg), for the filter demos.
- `make_shapes`: synthetic images of circles, squares, triangles and crosses.
- `make_spirals`: two interleaved spiral arms in the plane (a boundary with many bends).
- `generative_toy`: the 10-sample table of the generative-vs-discriminative chapter.
- `sample_gan_toy`: 1-D and 2-D toy distributions for a first GAN.
- `load_mnist_idx`: reads MNIST-style IDX files (optionally gzipped) that a user already has.

scikit-learn and Pillow are imported inside the functions that need them.
"""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from ._validate import check_int

__all__ = ["load_digits", "resize_bilinear", "stratified_split", "to_one_hot", "load_photo",
           "make_shapes", "SHAPE_CLASSES", "make_spirals", "generative_toy", "sample_gan_toy",
           "GAN_TOY_PARAMS", "load_mnist_idx"]

DIGIT_SIZES = (8, 16, 28, 32)
SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
# Parameters of the GAN toy distributions (documented so a notebook can plot the true density).
GAN_TOY_PARAMS = {
    "gaussian1d": {"mean": 4.0, "std": 1.25},
    "ring2d": {"modes": 8, "radius": 2.0, "std": 0.05},
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def to_one_hot(t: Any, num_classes: int) -> np.ndarray:
    """One-hot rows from class indices: t (N,) ints in [0, C) -> float32 (N, C)."""
    t = np.asarray(t)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"to_one_hot needs a 1-D integer array, "
                         f"got shape {t.shape} dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], "
                         f"got min {t.min()}, max {t.max()}")
    out = np.zeros((t.shape[0], num_classes), dtype=np.float32)
    out[np.arange(t.shape[0]), t] = 1.0
    return out


def stratified_split(labels: np.ndarray, test_size: float = 0.25,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train_idx, test_idx) with each class split in the proportion test_size.

    Per class with n_c samples, round(test_size * n_c) go to the test set (at least 1 and at
    most n_c - 1 when n_c >= 2). Deterministic for a given seed, independent of scikit-learn's
    version. Both index arrays are sorted.
    """
    labels = np.asarray(labels)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be strictly between 0 and 1, got {test_size}")
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        n_test = int(round(test_size * idx.size))
        if idx.size >= 2:
            n_test = min(max(n_test, 1), idx.size - 1)
        test_parts.append(idx[:n_test])
        train_parts.append(idx[n_test:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))


def _resize_axis(a: np.ndarray, out_len: int, axis: int) -> np.ndarray:
    in_len = a.shape[axis]
    # Half-pixel centres: output pixel j covers the same stretch of the image as input pixels
    # around (j + 0.5) * in/out - 0.5, so the picture is not shifted.
    pos = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
    pos = np.clip(pos, 0, in_len - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, in_len - 1)
    frac = (pos - lo).astype(a.dtype)
    shape = [1] * a.ndim
    shape[axis] = out_len
    frac = frac.reshape(shape)
    return np.take(a, lo, axis=axis) * (1 - frac) + np.take(a, hi, axis=axis) * frac


def _box_downscale(a: np.ndarray, factor: int, axis: int) -> np.ndarray:
    # Average blocks of `factor` pixels before bilinear shrinking, so thin lines do not alias.
    n = (a.shape[axis] // factor) * factor
    a = np.take(a, np.arange(n), axis=axis)
    shape = list(a.shape)
    shape[axis:axis + 1] = [n // factor, factor]
    return a.reshape(shape).mean(axis=axis + 1)


def resize_bilinear(images: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize of the last two axes (H, W) of an array of any leading shape.

    Input: (..., H, W) float array. Output: (..., out_h, out_w), same dtype. Values are convex
    combinations of input pixels, so the range [min, max] is preserved. When shrinking by 2x or
    more, blocks are averaged first (a box filter) to limit aliasing.
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"resize_bilinear needs at least 2 dimensions (H, W), got {images.shape}")
    if int(out_h) < 1 or int(out_w) < 1:
        raise ValueError(f"output size must be positive, got {out_h}x{out_w}")
    if not np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
    out = images
    for axis, out_len in ((images.ndim - 2, int(out_h)), (images.ndim - 1, int(out_w))):
        factor = out.shape[axis] // out_len
        if factor >= 2:
            out = _box_downscale(out, factor, axis)
        if out.shape[axis] != out_len:
            out = _resize_axis(out, out_len, axis)
    return out.astype(images.dtype, copy=False)


# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------
def load_digits(test_size: float = 0.25, seed: int = 0, size: int = 8, normalize: bool = True,
                flatten: bool = False, one_hot: bool = False
                ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's bundled handwritten digits (1797 images, 10 classes), split stratified.

    Inputs:
    - test_size: fraction of each class put in the test set (0.25 -> 450 test, 1347 train).
    - seed: seed of the split (the default split is fixed).
    - size: 8 (original), 16, 28 or 32; larger sizes are bilinear upsamplings of the 8x8 images.
    - normalize: True -> pixels in [0, 1] (divided by 16); False -> the raw 0..16 scale.
    - flatten: True -> x of shape (N, size * size) instead of (N, 1, size, size).
    - one_hot: True -> t float32 (N, 10) one-hot rows instead of int64 (N,) indices.

    Returns ((x_train, t_train), (x_test, t_test)), x float32.
    """
    if size not in DIGIT_SIZES:
        raise ValueError(f"size must be one of {DIGIT_SIZES}, got {size}")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = bunch.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    labels = bunch.target.astype(np.int64)
    if normalize:
        images /= 16.0
    if size != 8:
        images = resize_bilinear(images, size, size)
    x = images[:, None, :, :]
    if flatten:
        x = x.reshape(x.shape[0], -1)
    t = to_one_hot(labels, 10) if one_hot else labels
    train_idx, test_idx = stratified_split(labels, test_size, seed)
    return (x[train_idx], t[train_idx]), (x[test_idx], t[test_idx])


# --------------------------------------------------------------------------------------------
# photos
# --------------------------------------------------------------------------------------------
PHOTOS = ("china", "grace_hopper")


def _photo_path(name: str) -> Path:
    if name == "china":
        spec = importlib.util.find_spec("sklearn")
        rel = ("datasets", "images", "china.jpg")
    elif name == "grace_hopper":
        # Located through the package path, so matplotlib itself is not imported.
        spec = importlib.util.find_spec("matplotlib")
        rel = ("mpl-data", "sample_data", "grace_hopper.jpg")
    else:
        raise ValueError(f"unknown photo {name!r}; choose one of {PHOTOS}")
    if spec is None or not spec.submodule_search_locations:
        package = "scikit-learn" if name == "china" else "matplotlib"
        raise FileNotFoundError(f"the photo {name!r} ships with {package}, which is not installed")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*rel)
    if not path.is_file():
        raise FileNotFoundError(f"expected the photo {name!r} at {path}, but it is not there")
    return path


def load_photo(name: str = "china", gray: bool = False,
               size: int | tuple[int, int] | None = None) -> np.ndarray:
    """A photograph as float32 in [0, 1].

    Inputs:
    - name: "china" (scikit-learn's china.jpg, 427x640) or "grace_hopper" (matplotlib's, 600x512).
    - gray: True -> luminance 0.299 R + 0.587 G + 0.114 B, shape (H, W).
    - size: None keeps the original; an int makes the LONGER side that many pixels (aspect ratio
      kept); a tuple (H, W) resizes to exactly that.

    Returns (H, W, 3) float32, or (H, W) when gray.
    """
    from PIL import Image

    with Image.open(_photo_path(name)) as im:
        img = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if size is not None:
        h, w = img.shape[:2]
        if isinstance(size, (int, np.integer)):
            if size < 1:
                raise ValueError(f"size must be positive, got {size}")
            scale = size / max(h, w)
            out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
        else:
            out_h, out_w = (int(s) for s in size)
        if gray:
            img = resize_bilinear(img, out_h, out_w)
        else:
            img = resize_bilinear(img.transpose(2, 0, 1), out_h, out_w).transpose(1, 2, 0)
    return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# synthetic shapes
# --------------------------------------------------------------------------------------------
def _shape_mask(kind: int, size: int, cy: float, cx: float, r: float, rng: np.random.Generator
                ) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dy, dx = yy - cy, xx - cx
    if kind == 0:  # circle
        return dy ** 2 + dx ** 2 <= r ** 2
    if kind == 1:  # square
        return (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    if kind == 2:  # triangle, apex up: half-width grows linearly from the apex to the base
        rel = (dy + r) / (2 * r)
        return (rel >= 0) & (rel <= 1) & (np.abs(dx) <= r * rel)
    # cross (plus sign); arms 20-30% of the radius thick on each side of the centre line
    w = r * rng.uniform(0.2, 0.3)
    return ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))


def make_shapes(n: int = 600, size: int = 32, seed: int = 0, noise: float = 0.05
                ) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic images of simple shapes: circle, square, triangle, cross (`SHAPE_CLASSES`).

    Each image has one filled shape of random position, size (radius 20-40% of the image) and
    brightness (0.6-1.0) on a dark background, plus Gaussian pixel noise of std `noise`,
    clipped to [0, 1]. Classes are balanced (n // 4 each, the first n % 4 classes get one more)
    and shuffled.

    Returns x float32 (n, 1, size, size) and t int64 (n,) with t indexing SHAPE_CLASSES.
    """
    if n < 1 or size < 8:
        raise ValueError(f"make_shapes needs n >= 1 and size >= 8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    k = len(SHAPE_CLASSES)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)
    x = np.empty((n, 1, size, size), dtype=np.float32)
    for i, kind in enumerate(labels):
        r = size * rng.uniform(0.2, 0.4)
        cy, cx = rng.uniform(r + 0.5, size - r - 0.5, size=2)
        mask = _shape_mask(int(kind), size, cy, cx, r, rng)
        img = mask * rng.uniform(0.6, 1.0) + noise * rng.standard_normal((size, size))
        x[i, 0] = np.clip(img, 0.0, 1.0)
    return x, labels


# --------------------------------------------------------------------------------------------
# generative toy data
# --------------------------------------------------------------------------------------------
def make_spirals(n: int = 400, turns: float = 2.0, noise: float = 0.05,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms in the plane, one per class: a toy set whose decision
    boundary needs many bends.

    Arm 0 is the curve r (cos 2 pi turns r, sin 2 pi turns r) for r in [0, 1] (points spread
    evenly over the area), arm 1 the same curve rotated by 180 degrees; Gaussian noise of std
    `noise` is added. Returns x float64 (2 * (n // 2), 2) and t int64 with the first half 0.
    """
    n = check_int("n", n, 2)
    rng = np.random.default_rng(seed)
    half = n // 2
    r = np.sqrt(rng.random(half))
    angle = 2 * np.pi * turns * r
    arm = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * half, 2))
    return x, np.repeat(np.array([0, 1], dtype=np.int64), half)


def generative_toy() -> tuple[np.ndarray, np.ndarray]:
    """The 10-sample example of the generative-vs-discriminative chapter.

    X = (0,0),(0,0),(0,1),(0,1),(0,1),(1,0),(1,1),(1,1),(1,1),(1,1); Y = 1,1,1,0,1,0,0,0,0,1.
    Returns X int64 (10, 2) and Y int64 (10,).
    """
    X = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 1], [1, 1], [1, 1], [1, 1]],
                 dtype=np.int64)
    Y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 1], dtype=np.int64)
    return X, Y


def sample_gan_toy(n: int, kind: str = "gaussian1d", seed: int = 0) -> np.ndarray:
    """Samples of a toy "real data" distribution for a first GAN (parameters in GAN_TOY_PARAMS).

    - "gaussian1d": N(4, 1.25^2), returns float32 (n, 1)
    - "ring2d": a mixture of 8 Gaussians (std 0.05) evenly spaced on a circle of radius 2,
      returns float32 (n, 2)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    if kind == "gaussian1d":
        p = GAN_TOY_PARAMS[kind]
        return (p["mean"] + p["std"] * rng.standard_normal((n, 1))).astype(np.float32)
    if kind == "ring2d":
        p = GAN_TOY_PARAMS[kind]
        angles = 2 * np.pi * rng.integers(0, p["modes"], size=n) / p["modes"]
        centres = p["radius"] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return (centres + p["std"] * rng.standard_normal((n, 2))).astype(np.float32)
    raise ValueError(f"unknown kind {kind!r}; choose 'gaussian1d' or 'ring2d'")


# --------------------------------------------------------------------------------------------
# MNIST IDX files
# --------------------------------------------------------------------------------------------
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)


def _read_maybe_gzipped(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: looks gzipped but cannot be decompressed ({err})") from err
    return raw


def _parse_idx(path: Path, expected_magic: int) -> np.ndarray:
    data = _read_maybe_gzipped(path)
    if len(data) < 4:
        raise ValueError(f"{path}: truncated IDX file, only {len(data)} bytes (no header)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        what = "images" if expected_magic == _IDX_IMAGES_MAGIC else "labels"
        raise ValueError(f"{path}: wrong magic number 0x{magic:08x} for an IDX {what} file "
                         f"(expected 0x{expected_magic:08x}); are images and labels swapped?")
    ndim = expected_magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header, {len(data)} bytes of {header}")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) < expected:
        raise ValueError(f"{path}: truncated IDX file, {len(data)} bytes but the header "
                         f"announces {dims} -> {expected} bytes")
    if len(data) > expected:
        raise ValueError(f"{path}: {len(data) - expected} unexpected bytes after the data "
                         f"announced by the header {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_idx(images_path: str | Path, labels_path: str | Path, normalize: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Read an MNIST-style pair of IDX files (plain or gzipped) that are already on disk.

    Inputs: paths of the images file (magic 0x00000803) and the labels file (magic 0x00000801).
    Returns x float32 (N, 1, rows, cols) in [0, 1] (uint8 0..255 when normalize=False) and
    t int64 (N,). Raises ValueError naming the file for a wrong magic number, a truncated
    file, or image and label counts that differ; FileNotFoundError for a missing file.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    for p in (images_path, labels_path):
        if not p.is_file():
            raise FileNotFoundError(f"no such IDX file: {p} (this loader never downloads)")
    images = _parse_idx(images_path, _IDX_IMAGES_MAGIC)
    labels = _parse_idx(labels_path, _IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                         f"{labels.shape[0]} labels")
    x = images[:, None, :, :]
    x = x.astype(np.float32) / 255.0 if normalize else x.copy()
    return x, labels.astype(np.int64)
