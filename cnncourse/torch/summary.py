"""Keras-style summary of a PyTorch model (the torch half of `cnncourse.summary`).

Forward hooks record every module that is a leaf (has no children) or holds parameters of its
own, in call order, while one dummy batch runs through the model in eval mode without
gradients. Shapes leave out the batch dimension and stay channels first. The row and result
types, the layer classifier and the channels-last display live in `cnncourse.aids.summary`;
this module imports them and nothing that calls back into it (`cnncourse.summary(model, ...)`
is the entry point for numpy and torch models alike).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..aids.summary import ModelSummary, SummaryRow, check_input_size, layer_kind

__all__ = ["summarize_module"]


def _output_shape(output) -> tuple:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape[1:])
    if isinstance(output, (list, tuple)):
        return tuple(_output_shape(item) for item in output if isinstance(item, torch.Tensor)
                     or isinstance(item, (list, tuple)))
    return ()


def summarize_module(model: nn.Module, input_size: Sequence[int] | int,
                     batch_size: int = 1) -> ModelSummary:
    """Summarize `model` by running one dummy batch of shape (batch_size, *input_size).

    The dummy input is N(0, 1) noise on the device and in the floating dtype of the model's
    first parameter (float32 if it has none). Each executed leaf module (or module holding
    parameters directly) gives one row per call; a module called again (a shared ReLU) gives
    another row with params 0, so that every parameter is counted once, as torchinfo does.
    Training flags of all modules are restored afterwards.

    Inputs:
    - model: nn.Module
    - input_size: shape of one example, without the batch dimension, e.g. (3, 224, 224)

    Returns: ModelSummary
    """
    size = check_input_size(input_size)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((batch_size, *size), generator=generator, dtype=dtype).to(device)

    rows: list[SummaryRow] = []
    seen: set[int] = set()
    handles = []

    def make_hook(name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            if id(module) in seen:
                params = trainable = 0
            else:
                seen.add(id(module))
                own = list(module.parameters(recurse=False))
                params = sum(p.numel() for p in own)
                trainable = sum(p.numel() for p in own if p.requires_grad)
            rows.append(SummaryRow(name or type(module).__name__, type(module).__name__,
                                   _output_shape(output), params, trainable,
                                   layer_kind(module)))
        return hook

    for name, module in model.named_modules():
        is_leaf = next(module.children(), None) is None
        has_own = next(module.parameters(recurse=False), None) is not None
        if is_leaf or has_own:
            handles.append(module.register_forward_hook(make_hook(name)))

    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"{type(model).__name__} does not accept an input of shape "
                         f"{tuple(x.shape)} (input_size={size} plus batch): {error}") from error
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode

    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(type(model).__name__, size, rows, total, trainable)
