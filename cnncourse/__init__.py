"""cnncourse: the helper library of a Jupyter course on convolutional neural networks.

`import cnncourse` is cheap: it loads neither torch, matplotlib nor ipywidgets. The numpy core
lives in its own modules (`cnncourse.layers`, `cnncourse.conv`, ...); the torch side is
`cnncourse.torch`, imported only by the notebooks that need it.
"""
__version__ = "0.1.0"

__all__ = ["summary", "__version__"]


def __getattr__(name: str):
    # `cnncourse.summary(model, input_size)` without importing summary machinery up front.
    if name == "summary":
        from .aids.summary import summary
        return summary
    raise AttributeError(f"module 'cnncourse' has no attribute {name!r}")
