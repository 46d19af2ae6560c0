"""Keras-style summary: the slides' Keras table, agreement with torchinfo on every case-study
model, numpy nets, and that the numpy side never imports torch."""
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import cnncourse
from cnncourse.aids.summary import (LAYER_KINDS, ModelSummary, SummaryRow, channels_last,
                                    format_shape, layer_kind, summary)

KERAS_PARAMS = [896, 0, 18496, 0, 36928, 0, 65600, 650]
KERAS_SHAPES = [(30, 30, 32), (15, 15, 32), (13, 13, 64), (6, 6, 64), (4, 4, 64), (1024,),
                (64,), (10,)]


def test_keras_example_table():
    torch = pytest.importorskip("torch")
    from cnncourse.torch.models import keras_example
    printed = []
    result = summary(keras_example(), (3, 32, 32), channels_last=True, print_fn=printed.append)
    assert isinstance(result, ModelSummary)
    assert [row.params for row in result.rows] == KERAS_PARAMS
    assert [row.keras_shape for row in result.rows] == KERAS_SHAPES
    assert [row.output_shape for row in result.rows][:2] == [(32, 30, 30), (32, 15, 15)]
    assert [row.type for row in result.rows] == ["Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d",
                                                 "Conv2d", "Flatten", "Linear", "Linear"]
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == \
        (122570, 122570, 0)
    text = printed[0]
    for fragment in ("(30, 30, 32)", "(4, 4, 64)", "18,496", "65,600", "Total params: 122,570",
                     "Trainable params: 122,570", "Non-trainable params: 0", "conv1 (Conv2d)"):
        assert fragment in text
    assert "(32, 30, 30)" in result.to_string(channels_last=False)
    assert result["dense1"].params == 65600
    with pytest.raises(KeyError, match="no layer named 'dense3'"):
        result["dense3"]
    plain = result.as_dicts()
    assert plain[0] == {"name": "conv1", "type": "Conv2d", "kind": "conv",
                        "output_shape": [32, 30, 30], "keras_shape": [30, 30, 32],
                        "params": 896, "trainable_params": 896}
    assert [row.kind for row in result.rows] == ["conv", "pool", "conv", "pool", "conv", "other",
                                                 "fc", "fc"]
    assert torch.is_tensor(next(keras_example().parameters()))


def test_verbose_false_prints_nothing(capsys):
    pytest.importorskip("torch")
    from cnncourse.torch.models import lenet5
    result = summary(lenet5(), (1, 32, 32), verbose=False)
    assert capsys.readouterr().out == ""
    summary(lenet5(), (1, 32, 32))
    assert "Total params: 61,706" in capsys.readouterr().out
    assert result.total_params == 61706


def _torchinfo_rows(model, input_size):
    torchinfo = pytest.importorskip("torchinfo")
    stats = torchinfo.summary(model, input_size=(1, *input_size), verbose=0, mode="eval")
    rows = [(layer.class_name, layer.num_params, layer.trainable_params,
             tuple(layer.output_size[1:]))
            for layer in stats.summary_list
            if layer.is_leaf_layer and layer.num_params > 0 and not layer.is_recursive]
    return rows, stats.total_params, stats.trainable_params


def _builders():
    from cnncourse.torch import models as M
    return [
        ("lenet5", M.lenet5, (1, 32, 32)),
        ("lenet5_digits", M.lenet5_digits, (1, 28, 28)),
        ("keras_example", M.keras_example, (3, 32, 32)),
        ("alexnet", M.alexnet, (3, 227, 227)),
        ("alexnet_grouped", lambda: M.alexnet(grouped=True), (3, 227, 227)),
        ("vgg16", M.vgg16, (3, 224, 224)),
        ("nin", M.nin, (3, 32, 32)),
        ("googlenet_aux", lambda: M.googlenet(aux_logits=True), (3, 224, 224)),
        ("resnet18", M.resnet18, (3, 224, 224)),
        ("resnet34_plain", lambda: M.resnet34(plain=True), (3, 112, 112)),
        ("resnet50", M.resnet50, (3, 112, 112)),
        ("mini_vgg", M.mini_vgg, (1, 28, 28)),
        ("mini_resnet", lambda: M.mini_resnet(14), (1, 16, 16)),
        ("generator", M.Generator, (32,)),
        ("discriminator", M.Discriminator, (1, 16, 16)),
        ("toy_generator", M.ToyGenerator, (2,)),
        ("toy_discriminator", lambda: M.ToyDiscriminator(2), (2,)),
    ]


@pytest.mark.parametrize("index", range(17))
def test_matches_torchinfo(index):
    torch = pytest.importorskip("torch")
    name, builder, input_size = _builders()[index]
    torch.manual_seed(0)
    model = builder()
    result = summary(model, input_size, verbose=False)
    expected_rows, expected_total, expected_trainable = _torchinfo_rows(model, input_size)
    mine = [(row.type, row.params, row.trainable_params, row.output_shape)
            for row in result.param_rows()]
    assert mine == expected_rows, name
    assert (result.total_params, result.trainable_params) == (expected_total,
                                                               expected_trainable), name
    assert result.total_params == sum(p.numel() for p in model.parameters())
    # Every parameter shows up in exactly one row, except in layers the eval forward skips
    # (GoogLeNet's auxiliary heads, see test_aux_heads_counted_in_total_even_when_not_run).
    if name != "googlenet_aux":
        assert sum(row.params for row in result.rows) == result.total_params, name


def test_frozen_layers_and_restored_modes():
    torch = pytest.importorskip("torch")
    from cnncourse.torch.models import mini_vgg
    model = mini_vgg()
    for p in model.features[0].parameters():
        p.requires_grad_(False)
    model.train()
    model.classifier.eval()
    result = summary(model, (1, 28, 28), verbose=False)
    frozen = 16 * 9 + 16
    assert result.non_trainable_params == frozen
    assert result.rows[0].trainable_params == 0 and not result.rows[0].trainable
    assert result.rows[1].trainable            # BatchNorm after it still trains
    assert model.features.training and not model.classifier.training   # modes restored
    _, total, trainable = _torchinfo_rows(model, (1, 28, 28))
    assert (result.total_params, result.trainable_params) == (total, trainable)
    assert f"Non-trainable params: {frozen:,}" in result.to_string()
    assert torch.is_grad_enabled()


def test_shared_module_counted_once():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(x)))

    result = summary(Twice(), (4,), verbose=False)
    assert [row.params for row in result.rows] == [20, 0]
    assert result.total_params == 20


def test_aux_heads_counted_in_total_even_when_not_run():
    pytest.importorskip("torch")
    from cnncourse.torch.models import googlenet
    result = summary(googlenet(aux_logits=True), (3, 224, 224), verbose=False)
    assert result.total_params == 7005832 + 6379984
    assert sum(row.params for row in result.rows) == 7005832      # eval mode: no aux rows
    assert not any(row.name.startswith("aux") for row in result.rows)


def test_bad_inputs():
    torch = pytest.importorskip("torch")
    from cnncourse.torch.models import lenet5
    with pytest.raises(ValueError, match="input_size must be a non-empty tuple"):
        summary(lenet5(), (1, 0, 32), verbose=False)
    with pytest.raises(ValueError, match=r"does not accept an input of shape \(1, 3, 32, 32\)"):
        summary(lenet5(), (3, 32, 32), verbose=False)
    with pytest.raises(TypeError, match="has no `layers`"):
        summary(object(), (3,), verbose=False)
    assert torch.is_grad_enabled()


def _numpy_keras_net():
    # The slides' Keras model built from the numpy layers, as a net with `layers`.
    from cnncourse.conv import Convolution
    from cnncourse.layers import Affine, ReLU
    from cnncourse.pooling import Pooling
    rng = np.random.default_rng(0)

    def conv(c_in, c_out):
        return Convolution(rng.standard_normal((c_out, c_in, 3, 3)) * 0.1, np.zeros(c_out))

    class Net:
        def __init__(self):
            self.layers = OrderedDict([
                ("Conv1", conv(3, 32)), ("Relu1", ReLU()), ("Pool1", Pooling(2, 2, stride=2)),
                ("Conv2", conv(32, 64)), ("Relu2", ReLU()), ("Pool2", Pooling(2, 2, stride=2)),
                ("Conv3", conv(64, 64)), ("Relu3", ReLU()),
                ("Affine1", Affine(rng.standard_normal((1024, 64)) * 0.01, np.zeros(64))),
                ("Relu4", ReLU()),
                ("Affine2", Affine(rng.standard_normal((64, 10)) * 0.01, np.zeros(10))),
            ])
    return Net()


def test_numpy_net_summary_matches_keras_numbers():
    pytest.importorskip("cnncourse.conv")
    net = _numpy_keras_net()
    result = summary(net, (3, 32, 32), channels_last=True, verbose=False)
    param_rows = [(row.name, row.params, row.keras_shape) for row in result.param_rows()]
    assert param_rows == [("Conv1", 896, (30, 30, 32)), ("Conv2", 18496, (13, 13, 64)),
                          ("Conv3", 36928, (4, 4, 64)), ("Affine1", 65600, (64,)),
                          ("Affine2", 650, (10,))]
    assert result["Pool2"].output_shape == (64, 6, 6)
    assert (result.total_params, result.non_trainable_params) == (122570, 0)
    assert all(layer.training for layer in net.layers.values())   # modes restored
    assert "Affine1 (Affine)" in result.to_string()


def test_numpy_net_error_names_layer_and_shape():
    pytest.importorskip("cnncourse.conv")
    net = _numpy_keras_net()
    with pytest.raises(ValueError, match=r"layer 'Affine1' \(Affine\) failed on input of "
                                         r"shape \(1, 64, 5, 5\)"):
        summary(net, (3, 34, 34), verbose=False)


def test_numpy_and_torch_summaries_agree():
    pytest.importorskip("torch")
    from cnncourse.torch.models import keras_example
    numpy_rows = summary(_numpy_keras_net(), (3, 32, 32), verbose=False).param_rows()
    torch_rows = summary(keras_example(), (3, 32, 32), verbose=False).param_rows()
    assert [(r.params, r.output_shape, r.kind) for r in numpy_rows] == \
        [(r.params, r.output_shape, r.kind) for r in torch_rows]


def test_channels_last_helper_and_row():
    assert channels_last((32, 30, 30)) == (30, 30, 32)
    assert channels_last((8, 100)) == (100, 8)
    assert channels_last((10,)) == (10,)
    assert channels_last(((3, 4, 5), (7,))) == ((4, 5, 3), (7,))
    row = SummaryRow("a", "Conv2d", (4, 2, 2), 10, 6)
    assert not row.trainable and row.keras_shape == (2, 2, 4)


def test_package_attribute_is_the_function():
    pytest.importorskip("torch")
    from cnncourse import summary as from_import
    from cnncourse.torch.models import lenet5
    assert from_import is summary and cnncourse.summary is summary
    assert cnncourse.summary(lenet5(), (1, 32, 32), verbose=False).total_params == 61706


def test_numpy_side_never_imports_torch():
    code = (
        "import sys\n"
        "import cnncourse, cnncourse.aids.summary, cnncourse.aids.arith\n"
        "from cnncourse import summary\n"
        "s = cnncourse.summary\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules]\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_numpy_nets():
    from cnncourse.nets import DeepMLP, SimpleConvNet
    net = SimpleConvNet((1, 8, 8))
    result = summary(net, (1, 8, 8), verbose=False)
    assert [(row.name, row.output_shape, row.params) for row in result.rows] == [
        ("Conv1", (16, 8, 8), 160), ("Relu1", (16, 8, 8), 0), ("Pool1", (16, 4, 4), 0),
        ("Affine1", (64,), 16 * 4 * 4 * 64 + 64), ("Relu2", (64,), 0), ("Affine2", (10,), 650)]
    assert result.total_params == sum(p.size for p in net.params.values())
    mlp = DeepMLP(64, [32, 16], 10, batch_norm=True, dropout=0.5)
    mlp_result = summary(mlp, (64,), verbose=False, batch_size=4)
    assert mlp_result.total_params == sum(p.size for p in mlp.params.values())
    assert all(row.output_shape in {(32,), (16,), (10,)} for row in mlp_result.rows)
    assert all(layer.training for layer in mlp.layers.values())


def test_meta_device_model():
    # The case-study explorer sizes big models on the meta device without allocating weights.
    torch = pytest.importorskip("torch")
    from cnncourse.torch.models import resnet34
    with torch.device("meta"):
        model = resnet34()
    result = summary(model, (3, 224, 224), verbose=False)
    assert result.total_params == 21797672
    assert result["layer4.2.conv2"].output_shape == (512, 7, 7)


def test_repr_is_short():
    result = ModelSummary("Net", (3,), [SummaryRow("fc", "Linear", (2,), 8, 8)], 8, 8)
    assert repr(result) == "ModelSummary(Net: 1 rows, 8 params, 8 trainable)"
    assert "Total params: 8" in str(result)


# --- one home for the model table: classifier, row type, shape formatter -----------------
def test_layer_kind_of_numpy_layers():
    from cnncourse.conv import Convolution
    from cnncourse.layers import Affine, BatchNorm, Dropout, ReLU, Sigmoid, SoftmaxWithLoss, Tanh
    from cnncourse.pooling import GlobalAvgPooling, Pooling
    layers = [Convolution(np.zeros((2, 1, 3, 3)), np.zeros(2)), Affine(np.zeros((3, 2)), np.zeros(2)),
              BatchNorm(np.ones(2), np.zeros(2)), Pooling(2, 2), GlobalAvgPooling(), ReLU(),
              Sigmoid(), Tanh(), Dropout(0.5), SoftmaxWithLoss(), object()]
    assert [layer_kind(layer) for layer in layers] == [
        "conv", "fc", "norm", "pool", "pool", "act", "act", "act", "dropout", "loss", "other"]


def test_layer_kind_of_torch_modules():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    modules = {"conv": [nn.Conv1d(1, 1, 1), nn.Conv2d(1, 1, 1), nn.ConvTranspose2d(1, 1, 2)],
               "fc": [nn.Linear(2, 2)],
               "norm": [nn.BatchNorm2d(2), nn.LayerNorm(2), nn.GroupNorm(1, 2),
                        nn.LocalResponseNorm(2), nn.InstanceNorm2d(2)],
               "pool": [nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1)],
               "act": [nn.ReLU(), nn.Tanh(), nn.LeakyReLU(0.2), nn.PReLU(), nn.Softmax(dim=1)],
               "dropout": [nn.Dropout(), nn.Dropout2d()],
               "loss": [nn.CrossEntropyLoss()],
               "other": [nn.Flatten(), nn.Sequential(), nn.Identity()]}
    for kind, group in modules.items():
        assert [layer_kind(m) for m in group] == [kind] * len(group), kind
    assert set(modules) == set(LAYER_KINDS)
    # by type, not by name: the old name-based guess called a module named "conv" a conv
    assert layer_kind(nn.Sequential(nn.Linear(2, 2))) == "other"


def test_layer_kind_wants_a_layer_not_a_name():
    with pytest.raises(TypeError, match="layer object, got the str 'conv1'"):
        layer_kind("conv1")


def test_layer_kind_never_imports_torch():
    code = ("import sys\n"
            "from cnncourse.aids.summary import layer_kind\n"
            "from cnncourse.layers import ReLU\n"
            "assert layer_kind(ReLU()) == 'act' and layer_kind(3) == 'other'\n"
            "sys.exit(1 if 'torch' in sys.modules else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_summary_row_checks_its_kind():
    assert SummaryRow("a", "Foo", (2,), 0, 0).kind == "other"
    with pytest.raises(ValueError, match="kind must be one of"):
        SummaryRow("a", "Conv2d", (2,), 0, 0, "Conv2d")


def test_format_shape_is_the_one_shape_formatter():
    assert format_shape((96, 55, 55)) == "(96, 55, 55)"
    assert format_shape((10,)) == "10"
    assert format_shape(()) == "scalar"
    assert format_shape(((10,), (3, 2))) == "10, (3, 2)"
    import cnncourse.aids.model_explorer as explorer
    # the explorer uses this one (no second formatter, no second row type)
    assert getattr(explorer, "format_shape", format_shape) is format_shape
    assert not hasattr(explorer, "LayerRow")


# --- no module shadowed, no import cycle ---------------------------------------------------
def test_torch_summary_stays_a_module():
    pytest.importorskip("torch")
    import inspect

    import cnncourse.torch
    import cnncourse.torch.summary as torch_summary
    assert inspect.ismodule(cnncourse.torch.summary) and cnncourse.torch.summary is torch_summary
    assert cnncourse.torch.summarize_module is torch_summary.summarize_module
    # the torch side imports the types, never the dispatcher that calls back into it
    assert not hasattr(torch_summary, "summary")


def _module_level_imports(path, package_root):
    """cnncourse modules a file imports at module level (not inside functions)."""
    import ast
    module = ".".join(path.relative_to(package_root.parent).with_suffix("").parts)
    is_package = path.name == "__init__.py"
    if is_package:
        module = module.rsplit(".__init__", 1)[0]
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "cnncourse"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cnncourse":
                continue
            found.add(target)
            for alias in node.names:
                found.add(f"{target}.{alias.name}")
    return module, found


def test_no_import_cycle_at_module_level():
    # What runs at import time must form a DAG; the lazy dispatch of cnncourse.summary to the
    # torch side sits inside a function, after both modules are loaded.
    from pathlib import Path
    root = Path(cnncourse.__file__).resolve().parent
    graph = dict(_module_level_imports(path, root) for path in root.rglob("*.py"))
    graph = {m: sorted(i for i in imports if i in graph and i != m) for m, imports in graph.items()}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"
    assert "cnncourse.aids.summary" in graph["cnncourse.torch.summary"]
    assert "cnncourse.torch.summary" not in graph["cnncourse.aids.summary"]
