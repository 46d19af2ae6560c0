"""Widgets for notebook 03: a convolution-arithmetic explorer and a filter explorer.

Only wiring lives here (ipywidgets and matplotlib are imported inside the builders); the
numbers and images come from the tested functions in `cnncourse.aids.conv_explain` and the figures
from `cnncourse.viz.conv`.
"""
from __future__ import annotations

import numpy as np

from ..aids.conv_explain import arithmetic_report, classic_kernels, filter_image, kernel_to_text
from ._common import pre, with_parts

__all__ = ["conv_arithmetic_explorer", "filter_explorer"]


def conv_arithmetic_explorer(input_size: int = 5, kernel_size: int = 3, *, padding: int = 1,
                             stride: int = 2, dilation: int = 1, max_size: int = 12):
    """Sliders for I, K, P, S, D -> the output-size formula and a drawing of the windows.

    Returns an ipywidgets VBox; its attribute ``sliders`` maps "input_size", "kernel_size",
    "padding", "stride", "dilation" to the IntSliders and ``report`` is the HTML widget with
    the text of `cnncourse.aids.conv_explain.arithmetic_report` (handy for tests and for reading
    the numbers without the drawing); ``drawing`` is the Output holding the figure. Invalid
    settings empty the drawing at once and leave a "no drawing: ..." note in it instead of the
    previous figure.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..viz.conv import draw_windows

    sliders = {
        "input_size": widgets.IntSlider(value=input_size, min=1, max=max_size,
                                        description="input I"),
        "kernel_size": widgets.IntSlider(value=kernel_size, min=1, max=7,
                                         description="kernel K"),
        "padding": widgets.IntSlider(value=padding, min=0, max=4, description="padding P"),
        "stride": widgets.IntSlider(value=stride, min=1, max=4, description="stride S"),
        "dilation": widgets.IntSlider(value=dilation, min=1, max=3, description="dilation D"),
    }
    report = widgets.HTML()
    drawing = widgets.Output()
    shows_message = [False]   # the drawing area holds the "no drawing" note, not a figure

    def update(_change=None) -> None:
        values = {name: slider.value for name, slider in sliders.items()}
        text = arithmetic_report(**values)
        report.value = pre(text)
        if text.startswith("invalid"):
            # clear_output(wait=True) keeps the old figure until new output arrives, which an
            # invalid setting never sends: drop the stale drawing now and say why it is empty.
            drawing.outputs = ()
            drawing.append_stdout(f"no drawing ({text})\n")
            shows_message[0] = True
            return
        if shows_message[0]:
            drawing.outputs = ()
            shows_message[0] = False
        drawing.clear_output(wait=True)
        with drawing:
            fig = draw_windows(**values)
            plt.show()
            plt.close(fig)

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([widgets.VBox(list(sliders.values())), report]), drawing])
    return with_parts(box, sliders=sliders, report=report, drawing=drawing)


def filter_explorer(image, kernels: dict | None = None):
    """Dropdown of kernels (and a padding mode) -> the filtered photo beside the original.

    Input image: (H, W) grey floats in [0, 1]; kernels: name -> (K, K), K odd (defaults to
    `cnncourse.aids.conv_explain.classic_kernels()`). Returns an ipywidgets VBox with attributes
    ``dropdown``, ``mode`` (ToggleButtons "replicate"/"zero") and ``kernel_text`` (HTML
    showing the chosen kernel's numbers).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"filter_explorer expects a grey image (H, W), got shape {image.shape}")
    kernels = classic_kernels() if kernels is None else dict(kernels)
    if not kernels:
        raise ValueError("filter_explorer needs at least one kernel")
    dropdown = widgets.Dropdown(options=list(kernels), value=next(iter(kernels)),
                                description="filter")
    mode = widgets.ToggleButtons(options=["replicate", "zero"], value="replicate",
                                 description="padding")
    kernel_text = widgets.HTML()
    picture = widgets.Output()

    def update(_change=None) -> None:
        kernel = np.asarray(kernels[dropdown.value], dtype=float)
        kernel_text.value = pre(kernel_to_text(kernel))
        filtered = filter_image(image, kernel, mode=mode.value)
        picture.clear_output(wait=True)
        with picture:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
            axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[0].set_title("original")
            if abs(kernel.sum()) < 1e-12:  # edge filters: show how strong, either sign
                strength = np.abs(filtered)
                axes[1].imshow(strength, cmap="gray", vmin=0,
                               vmax=np.percentile(strength, 99) + 1e-12)
                axes[1].set_title(f"|{dropdown.value}|")
            else:
                axes[1].imshow(np.clip(filtered, 0, 1), cmap="gray", vmin=0, vmax=1)
                axes[1].set_title(dropdown.value)
            for ax in axes:
                ax.axis("off")
            plt.show()
            plt.close(fig)

    dropdown.observe(update, names="value")
    mode.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([widgets.VBox([dropdown, mode]), kernel_text]), picture])
    return with_parts(box, dropdown=dropdown, mode=mode, kernel_text=kernel_text)
