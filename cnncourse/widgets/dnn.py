"""Widget for notebook 02: pick an activation and a weight initialization, see the activation
histograms of every layer of a deep stack.

Wiring only: the activations come from `cnncourse.aids.dnn_explain.deep_stack_activations`
and `activation_summary`, the figure from `cnncourse.viz.dnn.plot_activation_histograms`.
ipywidgets and matplotlib are imported inside the builder.
"""
from __future__ import annotations

from ..aids.dnn_explain import ACTIVATIONS, activation_summary, deep_stack_activations
from ._common import with_parts

__all__ = ["activation_explorer", "INIT_CHOICES", "summary_text"]

# label shown in the dropdown -> value passed as weight_init
INIT_CHOICES: dict[str, str | float] = {"std 0.01": 0.01, "std 1.0": 1.0,
                                        "Xavier 1/sqrt(n)": "xavier", "He sqrt(2/n)": "he"}


def summary_text(activation: str, weight_init: str | float, depth: int, width: int = 100,
                 n_samples: int = 500, seed: int = 0) -> str:
    """One line per layer: mean, std and the fraction of |a| < 0.01 of the activations."""
    stats = activation_summary(deep_stack_activations(activation, weight_init, depth, width,
                                                      n_samples, seed))
    lines = [f"{activation}, weight init {weight_init}, {width} units per layer",
             "layer     mean       std  |a|<0.01"]
    for k in range(depth):
        lines.append(f"{k + 1:5d}  {stats['mean'][k]:+.4f}  {stats['std'][k]:8.2e}  "
                     f"{stats['near_zero'][k]:8.0%}")
    return "\n".join(lines)


def activation_explorer(activation: str = "tanh", weight_init: str = "std 0.01", depth: int = 6,
                        width: int = 100, n_samples: int = 500, seed: int = 0):
    """Dropdowns for the activation ("sigmoid", "tanh", "relu") and the initialization (a key
    of INIT_CHOICES), a slider for the depth (2-10); redraws the per-layer histograms of a
    plain deep stack (width units per layer, n_samples standard-normal inputs).

    Returns an ipywidgets VBox with attributes ``controls`` ({"activation", "weight_init",
    "depth"}: the widgets), ``summary`` (HTML widget with `summary_text`) and ``figure``
    (Output).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from ..viz.dnn import plot_activation_histograms

    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if weight_init not in INIT_CHOICES:
        raise ValueError(f"weight_init must be one of {list(INIT_CHOICES)}, got {weight_init!r}")
    if not 2 <= depth <= 10:
        raise ValueError(f"depth must be between 2 and 10, got {depth}")
    controls = {
        "activation": widgets.Dropdown(options=list(ACTIVATIONS), value=activation,
                                       description="activation"),
        "weight_init": widgets.Dropdown(options=list(INIT_CHOICES), value=weight_init,
                                        description="init"),
        "depth": widgets.IntSlider(value=depth, min=2, max=10, description="layers",
                                   continuous_update=False),
    }
    summary = widgets.HTML()
    figure = widgets.Output()

    def redraw(*_):
        act = controls["activation"].value
        init = INIT_CHOICES[controls["weight_init"].value]
        layers = controls["depth"].value
        acts = deep_stack_activations(act, init, layers, width, n_samples, seed)
        text = summary_text(act, init, layers, width, n_samples, seed)
        summary.value = "<pre style='margin:0;font-size:11px'>" + text + "</pre>"
        value_range = (0.0, 1.0) if act == "sigmoid" else (-1.0, 1.0) if act == "tanh" else None
        with figure:
            figure.clear_output(wait=True)
            fig = plot_activation_histograms({f"{act}, {controls['weight_init'].value}": acts},
                                             value_range=value_range)
            display(fig)
            plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(controls.values())), figure, summary])
    return with_parts(box, controls=controls, summary=summary, figure=figure)
