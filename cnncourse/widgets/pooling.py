"""Widget for notebook 05: the pooling router (where does the upstream gradient go?).

Only wiring lives here (ipywidgets and matplotlib are imported inside the builder); the text
comes from `cnncourse.aids.pool_explain.routing_report`, the drawing from
`cnncourse.viz.pooling.draw_routing`, and the routing itself from `cnncourse.pooling.Pooling`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..aids.pool_explain import POOL_SETTINGS, routing_report, tie_example
from ._common import pre, with_parts

__all__ = ["pooling_router"]


def pooling_router(maps: Mapping[str, np.ndarray] | None = None, upstream: float = 1.0):
    """Pick a map, a pool setting and a window; see where the gradient goes.

    Inputs: maps, name -> 2-D array (H, W) (default: {"ties": `tie_example()`}); upstream,
    the gradient arriving at the chosen output cell. Controls: a map dropdown, a pool-setting
    dropdown (`POOL_SETTINGS`: 2x2/2, AlexNet's overlapping 3x3/2, ...), sliders for the
    output row and column, and an "every window" checkbox that sends `upstream` from every
    output cell at once (overlapping windows then add up).

    Returns an ipywidgets VBox with attributes ``map_choice``, ``setting``, ``row``, ``col``,
    ``every_window`` (the controls) and ``report`` (HTML with `routing_report`'s text, or a
    note when every window is selected).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from ..aids.arith import conv2d_output_shape
    from ..viz.pooling import draw_routing

    maps = {"ties": tie_example()} if maps is None else dict(maps)
    if not maps:
        raise ValueError("pooling_router needs at least one map")
    for name, values in maps.items():
        if np.ndim(values) != 2:
            raise ValueError(f"map {name!r} must be 2-D (H, W), got shape {np.shape(values)}")
        if min(np.shape(values)) < 3:
            raise ValueError(f"map {name!r} must be at least 3x3 for the 3x3 settings, got "
                             f"shape {np.shape(values)}")
    map_choice = widgets.Dropdown(options=list(maps), value=next(iter(maps)), description="map")
    setting = widgets.Dropdown(options=list(POOL_SETTINGS), value=next(iter(POOL_SETTINGS)),
                               description="pooling", style={"description_width": "initial"},
                               layout=widgets.Layout(width="340px"))
    row = widgets.IntSlider(value=0, min=0, max=1, description="out row")
    col = widgets.IntSlider(value=0, min=0, max=1, description="out col")
    every_window = widgets.Checkbox(value=False, description="every window at once")
    report = widgets.HTML()
    picture = widgets.Output()

    def geometry():
        values = np.asarray(maps[map_choice.value], dtype=float)
        pool_h, pool_w, stride = POOL_SETTINGS[setting.value]
        return values, pool_h, pool_w, stride

    updating = []  # non-empty while update() runs: clamping a slider must not redraw twice

    def update(_change=None) -> None:
        if updating:
            return
        updating.append(True)
        try:
            _update()
        finally:
            updating.clear()

    def _update() -> None:
        values, pool_h, pool_w, stride = geometry()
        out_h, out_w = conv2d_output_shape(values.shape, (pool_h, pool_w), stride=stride)
        # Clamp the sliders to the output grid of this map and setting.
        row.max, col.max = out_h - 1, out_w - 1
        window = None if every_window.value else (row.value, col.value)
        row.disabled = col.disabled = every_window.value
        if window is None:
            report.value = pre(f"every one of the {out_h}x{out_w} output cells sends "
                                f"{upstream:g}; dx adds up where windows overlap")
        else:
            report.value = pre(routing_report(values, pool_h, pool_w, stride, window,
                                               upstream))
        picture.clear_output(wait=True)
        with picture:
            fig = draw_routing(values, pool_h, pool_w, stride, window, upstream)
            plt.show()
            plt.close(fig)

    for control in (map_choice, setting, row, col, every_window):
        control.observe(update, names="value")
    update()
    box = widgets.VBox([widgets.HBox([widgets.VBox([map_choice, setting, every_window]),
                                      widgets.VBox([row, col])]), report, picture])
    return with_parts(box, map_choice=map_choice,
                      setting=setting,
                      row=row,
                      col=col,
                      every_window=every_window,
                      report=report)
