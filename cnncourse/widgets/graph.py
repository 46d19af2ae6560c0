"""Neuron explorer for notebook 01: sliders for a 2-input sigmoid neuron, redrawing its graph.

Wiring only; the forward/backward pass is `cnncourse.graph.sigmoid_neuron` (the library tape)
and the figure is `cnncourse.viz.graph.draw_graph` of `graph_from_tape`. ipywidgets and
matplotlib are imported inside the builder.
"""
from __future__ import annotations

from ..graph import sigmoid_neuron
from ..viz.graph import draw_graph, graph_from_tape

__all__ = ["neuron_explorer", "SLIDER_NAMES"]

SLIDER_NAMES = ("o1", "o2", "w1", "w2", "b", "t")


def neuron_explorer(o1: float = 2.0, o2: float = -1.0, w1: float = 0.5, w2: float = 1.5,
                    b: float = 0.5, t: float = 1.0, limit: float = 6.0):
    """Six sliders (o1, o2, w1, w2, b, t in [-limit, limit]) and the neuron's computation graph
    with forward values and gradients, redrawn on every change, plus a line with net, o, E and
    dE/dw1, dE/dw2, dE/db.

    Output: an ``ipywidgets.VBox`` (display it in a notebook); its ``.children[0]`` holds the
    sliders, ``.children[1]`` the summary line (HTML), ``.children[2]`` the figure (Output).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    start = dict(o1=o1, o2=o2, w1=w1, w2=w2, b=b, t=t)
    outside = {name: value for name, value in start.items() if not -limit <= value <= limit}
    if outside:
        raise ValueError(f"start values {outside} lie outside the slider range [-{limit}, {limit}]")
    sliders = {name: widgets.FloatSlider(value=value, min=-limit, max=limit, step=0.1,
                                         description=name, continuous_update=False,
                                         layout=widgets.Layout(width="300px"))
               for name, value in start.items()}
    summary = widgets.HTML()
    figure = widgets.Output()

    def redraw(*_):
        tape, numbers = sigmoid_neuron(**{name: s.value for name, s in sliders.items()})
        labels, edges = graph_from_tape(tape.to_data())
        summary.value = (f"net = {numbers['net']:.4g}, o = {numbers['o']:.4g}, E = {numbers['E']:.4g}"
                         f" &nbsp;|&nbsp; dE/dw1 = {numbers['dE/dw1']:.4g}, dE/dw2 = "
                         f"{numbers['dE/dw2']:.4g}, dE/db = {numbers['dE/db']:.4g}")
        with figure:
            figure.clear_output(wait=True)
            fig = draw_graph(labels, edges, digits=3)
            display(fig)
            plt.close(fig)   # displayed once; keep pyplot from showing it again

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    grid = widgets.GridBox(list(sliders.values()),
                           layout=widgets.Layout(grid_template_columns="repeat(3, 310px)"))
    return widgets.VBox([grid, summary, figure])
