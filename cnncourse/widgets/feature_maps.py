"""Widget for notebook 06: the feature-map browser of a trained CNN.

Only wiring lives here (ipywidgets and matplotlib are imported inside the builder); the numbers
come from `cnncourse.aids.cnn_explain` (`feature_map_view`, `feature_map_report`), the drawing
from `cnncourse.viz.filters.plot_feature_map_stages`. Nothing is trained here: the widget runs
the nets it is given forward, one image at a time.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..aids.cnn_explain import feature_map_report, feature_map_view, first_block
from ._common import pre, with_parts

__all__ = ["feature_map_browser", "AFTER", "BEFORE"]

AFTER, BEFORE = "after training", "before training"


def _check_inputs(net: Any, images: Any, labels: Any, untrained: Any) -> tuple[np.ndarray, Any]:
    first_block(net)                                     # raises ValueError naming what is missing
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got shape "
                         f"{images.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"labels must be one class index per image ({len(images)}), got "
                             f"shape {labels.shape}")
    if untrained is not None:
        names = first_block(untrained)
        kernels, own = np.shape(untrained.layers[names[0]].W), \
            np.shape(net.layers[first_block(net)[0]].W)
        if kernels != own:
            raise ValueError(f"untrained must have the net's first convolution: its kernels "
                             f"are {kernels}, the net's {own}")
    return images, labels


def feature_map_browser(net: Any, images: Any, labels: Any = None, *, untrained: Any = None,
                        index: int = 0, channel: int = 0):
    """Pick a digit, a first-layer filter and before/after training; see the filter's maps.

    Inputs: net, a trained net of the course's protocol with a Convolution -> ReLU -> Pooling
    block (e.g. `SimpleConvNet`); images (N, C, H, W), e.g. the test digits; labels (N,) class
    indices or None; untrained, the same architecture before training (e.g. the net rebuilt
    with the same seed) or None (then the toggle offers "after training" only); index, channel:
    the starting digit and filter.
    Controls: ``digit`` (IntSlider over the images), ``channel`` (IntSlider over the kernels of
    the first convolution), ``stage`` (ToggleButtons `AFTER` / `BEFORE`).
    Output: ``report`` (HTML with `feature_map_report`'s lines for the chosen net, digit and
    channel) and a figure from `plot_feature_map_stages` (input, kernel, maps after conv, ReLU
    and pool). The kernel colour limit is the largest |weight| of that filter before and after
    training, so switching the toggle shows how far the kernel moved.

    Returns an ipywidgets VBox with those attributes.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..viz.filters import plot_feature_map_stages

    images, labels = _check_inputs(net, images, labels, untrained)
    nets = {AFTER: net} if untrained is None else {AFTER: net, BEFORE: untrained}
    n_kernels = int(np.shape(net.layers[first_block(net)[0]].W)[0])
    for name, value, count in (("index", index, len(images)), ("channel", channel, n_kernels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < count:
            raise ValueError(f"{name} must be an int in [0, {count - 1}], got {value!r}")

    digit = widgets.IntSlider(value=int(index), min=0, max=len(images) - 1, description="digit")
    filter_choice = widgets.IntSlider(value=int(channel), min=0, max=n_kernels - 1,
                                      description="filter")
    stage = widgets.ToggleButtons(options=list(nets), value=AFTER,
                                  disabled=untrained is None)
    report = widgets.HTML()
    picture = widgets.Output()

    def kernel_limit(chosen: int) -> float:
        peaks = [float(np.max(np.abs(each.layers[first_block(each)[0]].W[chosen])))
                 for each in nets.values()]
        return max(max(peaks), 1e-12)

    def update(_change=None) -> None:
        chosen_net = nets[stage.value]
        view = feature_map_view(chosen_net, images[digit.value], filter_choice.value)
        label = None if labels is None else int(labels[digit.value])
        report.value = pre(f"{stage.value}, digit #{digit.value}\n"
                            + feature_map_report(view, filter_choice.value, label))
        picture.clear_output(wait=True)
        with picture:
            fig = plot_feature_map_stages(
                view.image, view.kernel, view.conv, view.relu, view.pool,
                kernel_limit=kernel_limit(filter_choice.value),
                title=f"{stage.value}: digit #{digit.value}, filter {filter_choice.value}")
            plt.show()
            plt.close(fig)

    for control in (digit, filter_choice, stage):
        control.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([digit, filter_choice]), stage, report, picture])
    return with_parts(box, digit=digit, channel=filter_choice, stage=stage, report=report,
                      picture=picture)
