"""Widget for notebook 04: the im2col explorer (which row copies which input pixels?).

Only wiring lives here (ipywidgets and matplotlib are imported inside the builder); the text
comes from `cnncourse.aids.conv_explain.im2col_row_report`, the drawing from
`cnncourse.viz.im2col.plot_im2col_row`, and the matrix itself from the library's
`cnncourse.conv.im2col`.
"""
from __future__ import annotations

import numpy as np

from ..aids.conv_explain import im2col_example, im2col_row_report
from ..conv import conv_output_size
from ._common import pre, with_parts

__all__ = ["im2col_explorer"]

# Slider ranges. Kernels up to min(4, H, W) always fit the input (even without padding), so
# no setting of the sliders is impossible; the input limits keep every cell readable.
_MAX_KERNEL, _MAX_STRIDE, _MAX_PAD = 4, 3, 2
_MAX_IMAGES, _MAX_CHANNELS, _MIN_SIDE, _MAX_SIDE = 3, 3, 2, 8


def _check_setting(name: str, value, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high} for this input, got {value}")
    return int(value)


def im2col_explorer(x=None, *, kernel_h: int = 2, kernel_w: int = 3, stride: int = 2,
                    pad: int = 1, row: int = 0):
    """Pick a kernel, stride and padding; slide over the rows of im2col's matrix.

    Input: x (N, C, H, W), or one image (C, H, W) or (H, W), numeric, with N <= 3, C <= 3 and
    2 <= H, W <= 8 (default `im2col_example()`: one 2-channel 5x6 image); the starting
    kernel size (1 .. min(4, H, W)), stride (1..3), per-side padding (0..2) and row.
    Controls: a "row" slider over the N*OH*OW rows of `cnncourse.conv.im2col(x, ...)` and
    sliders for kernel_h, kernel_w, stride and pad (changing them clamps the row slider).
    Shows `im2col_row_report`'s text (the row's output position (n, i, j) and the input
    pixel, or padding zero, each column copies) and `plot_im2col_row`'s figure.

    Returns an ipywidgets VBox with attributes ``row``, ``kernel_h``, ``kernel_w``,
    ``stride``, ``pad`` (the IntSliders), ``report`` (the HTML text) and ``picture`` (the
    Output holding the figure). Raises ValueError naming the argument for bad input.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..viz.im2col import plot_im2col_row

    x = im2col_example() if x is None else np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"x must hold real numbers, got dtype {x.dtype}")
    if x.ndim in (2, 3):
        x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}")
    n_images, channels, height, width = x.shape
    if not (1 <= n_images <= _MAX_IMAGES and 1 <= channels <= _MAX_CHANNELS
            and _MIN_SIDE <= min(height, width) and max(height, width) <= _MAX_SIDE):
        raise ValueError(f"x must have 1..{_MAX_IMAGES} images, 1..{_MAX_CHANNELS} channels "
                         f"and sides of {_MIN_SIDE}..{_MAX_SIDE} pixels (small enough to read "
                         f"every number), got shape {x.shape}")
    max_kernel = min(_MAX_KERNEL, height, width)
    settings = {"kernel_h": _check_setting("kernel_h", kernel_h, 1, max_kernel),
                "kernel_w": _check_setting("kernel_w", kernel_w, 1, max_kernel),
                "stride": _check_setting("stride", stride, 1, _MAX_STRIDE),
                "pad": _check_setting("pad", pad, 0, _MAX_PAD)}

    def n_rows() -> int:
        out_h = conv_output_size(height, kernel_h_slider.value, padding=pad_slider.value,
                                 stride=stride_slider.value)
        out_w = conv_output_size(width, kernel_w_slider.value, padding=pad_slider.value,
                                 stride=stride_slider.value)
        return n_images * out_h * out_w

    style = {"description_width": "initial"}
    kernel_h_slider = widgets.IntSlider(value=settings["kernel_h"], min=1, max=max_kernel,
                                        description="kernel_h", style=style)
    kernel_w_slider = widgets.IntSlider(value=settings["kernel_w"], min=1, max=max_kernel,
                                        description="kernel_w", style=style)
    stride_slider = widgets.IntSlider(value=settings["stride"], min=1, max=_MAX_STRIDE,
                                      description="stride", style=style)
    pad_slider = widgets.IntSlider(value=settings["pad"], min=0, max=_MAX_PAD,
                                   description="pad", style=style)
    first_max = n_rows() - 1
    row_slider = widgets.IntSlider(value=_check_setting("row", row, 0, first_max), min=0,
                                   max=first_max, description="row of col",
                                   style=style, layout=widgets.Layout(width="520px"))
    report = widgets.HTML()
    picture = widgets.Output()

    updating = []  # non-empty while update() runs: clamping the row slider must not redraw twice

    def update(_change=None) -> None:
        if updating:
            return
        updating.append(True)
        try:
            row_slider.max = n_rows() - 1          # ipywidgets clamps the value as well
            args = (kernel_h_slider.value, kernel_w_slider.value, row_slider.value)
            sizes = {"stride": stride_slider.value, "pad": pad_slider.value}
            report.value = pre(im2col_row_report(x, *args, **sizes))
            picture.clear_output(wait=True)
            with picture:
                fig = plot_im2col_row(x, *args, **sizes)
                plt.show()
                plt.close(fig)
        finally:
            updating.clear()

    controls = (row_slider, kernel_h_slider, kernel_w_slider, stride_slider, pad_slider)
    for control in controls:
        control.observe(update, names="value")
    update()
    box = widgets.VBox([row_slider,
                        widgets.HBox([widgets.VBox([kernel_h_slider, kernel_w_slider]),
                                      widgets.VBox([stride_slider, pad_slider])]),
                        report, picture])
    return with_parts(box, row=row_slider, kernel_h=kernel_h_slider, kernel_w=kernel_w_slider,
                      stride=stride_slider, pad=pad_slider, report=report, picture=picture)
