"""Case-study explorer: pick a model, slide over its layers, see shape, parameters, running total.

Wiring only; the logic (tables, shares, text) is `cnncourse.aids.model_explorer`. ipywidgets is
imported inside the builder.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ..aids.model_explorer import explorer_view
from ..aids.summary import SummaryRow

__all__ = ["cumulative_bar_html", "layer_explorer"]


def cumulative_bar_html(fraction: float, layer_fraction: float = 0.0, width_px: int = 420) -> str:
    """An HTML bar: the cumulative share of parameters in blue, this layer's part of it in orange.

    Inputs: fraction (cumulative / total) and layer_fraction (this layer / total), both in
    [0, 1] with layer_fraction <= fraction. Output: an HTML string.
    """
    if not 0.0 <= layer_fraction <= fraction <= 1.0 + 1e-12:
        raise ValueError(f"need 0 <= layer_fraction ({layer_fraction}) <= fraction ({fraction}) <= 1")
    before = 100 * (fraction - layer_fraction)
    layer = 100 * layer_fraction
    return (f'<div style="width:{width_px}px;height:16px;border:1px solid #888;display:flex">'
            f'<div style="width:{before:.2f}%;background:#1f77b4"></div>'
            f'<div style="width:{layer:.2f}%;background:#ff7f0e"></div></div>'
            f'<small>{100 * fraction:.1f}% of all parameters so far '
            f'(this layer: {100 * layer_fraction:.1f}%)</small>')


def layer_explorer(tables: Mapping[str, Sequence[SummaryRow]], start: str | None = None):
    """A widget: a dropdown of models, a slider over the chosen model's layers, and below it the
    layer's row (name, type, output shape, params, cumulative params) with a cumulative bar.

    Inputs: tables, model name -> `SummaryRow`s (from `cnncourse.aids.model_explorer.layer_rows`,
    i.e. `cnncourse.summary(...).rows`); start, the model shown first (default: the first key).
    Output: an ``ipywidgets.VBox`` (display it in a notebook).
    """
    import ipywidgets as widgets

    tables = {name: list(rows) for name, rows in tables.items()}
    if not tables:
        raise ValueError("no model tables to explore")
    empty = [name for name, rows in tables.items() if not rows]
    if empty:
        raise ValueError(f"empty table(s): {empty}")
    start = start if start is not None else next(iter(tables))
    if start not in tables:
        raise ValueError(f"start model {start!r} is not one of {list(tables)}")

    dropdown = widgets.Dropdown(options=list(tables), value=start, description="model")
    slider = widgets.IntSlider(value=0, min=0, max=len(tables[start]) - 1, description="layer",
                               continuous_update=True)
    info = widgets.HTML()
    bar = widgets.HTML()

    def refresh(*_):
        view = explorer_view(tables[dropdown.value], slider.value)
        neurons = f"{view['neurons']:,}" if view["neurons"] else "-"
        info.value = (f"<b>{dropdown.value}</b>, {view['position']}<br>{view['text']}"
                      f"<br>neurons (output values): {neurons}")
        bar.value = cumulative_bar_html(view["fraction"], view["layer_fraction"])

    def on_model(change):
        # Clamp first so the slider never points past the end of a shorter table.
        slider.value = 0
        slider.max = len(tables[change["new"]]) - 1
        refresh()

    dropdown.observe(on_model, names="value")
    slider.observe(refresh, names="value")
    refresh()
    return widgets.VBox([dropdown, slider, info, bar])
