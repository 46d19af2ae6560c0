"""Course aids: explanations and tables built on the numpy core, for the notebooks to show.

`arith` (parameter, shape and FLOP arithmetic), `summary` (a Keras-style summary of a numpy or
torch model), `model_explorer` (per-layer tables of a model), and the logic behind each
notebook's figures and widgets: `dnn_explain` (02), `conv_explain` (03, 04), `pool_explain`
(05), `cnn_explain` (06), `generative` (08, 09), `gan_explain` (09). Drawing lives in
`cnncourse.viz`, ipywidgets wiring in `cnncourse.widgets`; both sit in this layer too (see
docs/DESIGN.md, "Layers").
"""
