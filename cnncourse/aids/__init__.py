"""Course aids: explanations and tables built on the numpy core, for the notebooks to show.

`arith` (parameter, shape and FLOP arithmetic), `conv_explain` (the logic behind notebook 03's
figures and widgets), `model_explorer` (per-layer tables of a model), `summary` (a Keras-style
summary of a numpy or torch model). Drawing lives in `cnncourse.viz`, ipywidgets wiring in
`cnncourse.widgets`; both sit in this layer too (see docs/DESIGN.md, "Layers").
"""
