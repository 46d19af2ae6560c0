"""The PyTorch side of cnncourse (imports torch): case-study models, a Keras-style summary,
training helpers and GAN training.

    from cnncourse.torch import models, summary, fit, digits_loaders
    model = models.lenet5_digits()
    summary(model, (1, 28, 28))
    history = fit(model, *digits_loaders(size=28), epochs=8)
"""
from . import gan, models, train
from .models import count_params, param_breakdown
from .summary import summarize_module, summary
from .train import digits_loaders, evaluate, fit, select_device, set_seed

__all__ = ["models", "train", "gan", "summary", "summarize_module", "count_params",
           "param_breakdown", "fit", "evaluate", "digits_loaders", "select_device", "set_seed"]
