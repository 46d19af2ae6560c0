"""The PyTorch side of cnncourse (imports torch): case-study models, the torch half of the
Keras-style summary, training helpers and GAN training.

    import cnncourse
    from cnncourse.torch import models, fit, digits_loaders
    model = models.lenet5_digits()
    cnncourse.summary(model, (1, 28, 28))          # numpy nets and torch modules alike
    history = fit(model, *digits_loaders(size=28), epochs=8)

Submodules: `models`, `summary` (`summarize_module`), `train`, `gan`.
"""
from . import gan, models, summary, train
from .models import count_params, param_breakdown
from .summary import summarize_module
from .train import digits_loaders, evaluate, fit, select_device, set_seed

__all__ = ["models", "summary", "train", "gan", "summarize_module", "count_params",
           "param_breakdown", "fit", "evaluate", "digits_loaders", "select_device", "set_seed"]
