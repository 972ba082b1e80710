"""ONNX export: every supported layer, LeNet-5 and ResNet round-trip through onnxruntime and compute what ember
computes in evaluation mode, with a dynamic batch; unsupported modules fail clearly; files are written atomically."""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

import ember as em
import onnx
from ember import nn
from ember.models.lenet import LeNet5
from ember.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, resnet18
from ember.onnx import CONVERTERS, export, register_converter

RTOL = ATOL = 1e-5


def _randomise_batch_norm(model, rng):
    """Non-trivial running statistics and affine parameters, so BatchNorm's export is really tested."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            C = m.num_features
            m.running_mean.array[...] = rng.standard_normal(C).astype(np.float32) * 0.1
            m.running_var.array[...] = rng.uniform(0.5, 1.5, C).astype(np.float32)
            if m.weight is not None:
                m.weight.array[...] = rng.uniform(0.5, 1.5, C).astype(np.float32)
            if m.bias is not None:
                m.bias.array[...] = rng.standard_normal(C).astype(np.float32) * 0.1
    return model


def roundtrip(model, shape, path, rtol=RTOL, atol=ATOL, **kwargs):
    """Export with batch 2, then run batch 2 and batch 5 in onnxruntime against ember's eval output."""
    rng = np.random.default_rng(0)
    _randomise_batch_norm(model, rng)
    proto = export(model, em.tensor(rng.standard_normal((2, *shape)).astype(np.float32)), path, **kwargs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    for batch in (2, 5):
        data = rng.standard_normal((batch, *shape)).astype(np.float32)
        (got,) = session.run(None, {"input": data})
        with em.no_grad():
            expected = model(em.tensor(data)).numpy()
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    return proto


def _op_types(proto):
    return {node.op_type for node in proto.graph.node}


# -- one tiny model per layer type --------------------------------------------------------------------

LAYERS = {
    "linear": (lambda: nn.Linear(6, 4), (6,), {"Gemm"}),
    "linear-no-bias": (lambda: nn.Linear(6, 4, bias=False), (6,), {"Gemm"}),
    "linear-3d": (lambda: nn.Linear(6, 4), (3, 6), {"MatMul", "Add"}),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3), (3, 8, 9), {"Conv"}),
    "conv2d-pad-stride-dilation": (lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(1, 2)),
                                   (3, 9, 8), {"Conv"}),
    "conv2d-groups-no-bias": (lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), (4, 7, 7), {"Conv"}),
    "conv2d-same-even-kernel": (lambda: nn.Conv2d(3, 2, (4, 3), padding="same"), (3, 9, 8), {"Conv"}),
    "conv2d-same-dilated": (lambda: nn.Conv2d(3, 2, 3, padding="same", dilation=2), (3, 9, 8), {"Conv"}),
    "conv2d-reflect": (lambda: nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), (3, 6, 7), {"Pad", "Conv"}),
    "conv2d-replicate": (lambda: nn.Conv2d(3, 2, 3, padding=2, padding_mode="replicate"), (3, 6, 7), {"Pad", "Conv"}),
    "conv1d": (lambda: nn.Conv1d(3, 5, 3, stride=2, padding=1), (3, 11), {"Conv"}),
    "conv1d-groups-dilation": (lambda: nn.Conv1d(4, 4, 3, padding=2, dilation=2, groups=4), (4, 10), {"Conv"}),
    "maxpool2d": (lambda: nn.MaxPool2d(2), (3, 8, 8), {"MaxPool"}),
    "maxpool2d-pad-ceil": (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (3, 10, 9), {"MaxPool"}),
    "maxpool2d-dilation": (lambda: nn.MaxPool2d(3, 1, dilation=2), (2, 9, 9), {"MaxPool"}),
    "maxpool1d-ceil": (lambda: nn.MaxPool1d(3, 2, ceil_mode=True), (3, 10), {"MaxPool"}),
    "avgpool2d": (lambda: nn.AvgPool2d(2), (3, 8, 8), {"AveragePool"}),
    "avgpool2d-pad": (lambda: nn.AvgPool2d(3, 2, padding=1), (3, 9, 8), {"AveragePool"}),
    "avgpool2d-exclude-pad": (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (3, 9, 8),
                              {"AveragePool"}),
    "avgpool2d-ceil": (lambda: nn.AvgPool2d(4, 3, padding=1, ceil_mode=True), (3, 10, 9), {"AveragePool"}),
    "avgpool2d-ceil-exclude-pad": (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
                                   (3, 10, 9), {"AveragePool"}),
    "avgpool2d-divisor": (lambda: nn.AvgPool2d(3, 2, padding=1, divisor_override=5), (3, 9, 8),
                          {"AveragePool", "Mul"}),
    "avgpool1d-ceil": (lambda: nn.AvgPool1d(4, 3, padding=2, ceil_mode=True), (3, 11), {"AveragePool"}),
    "adaptive-avg-1x1": (lambda: nn.AdaptiveAvgPool2d((1, 1)), (3, 5, 7), {"GlobalAveragePool"}),
    "adaptive-avg-divides": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (3, 4, 9), {"AveragePool"}),
    "adaptive-avg1d": (lambda: nn.AdaptiveAvgPool1d(1), (3, 7), {"GlobalAveragePool"}),
    "adaptive-max-1x1": (lambda: nn.AdaptiveMaxPool2d(1), (3, 5, 7), {"GlobalMaxPool"}),
    "global-avg": (lambda: nn.GlobalAvgPool2d(), (3, 5, 6), {"GlobalAveragePool", "Flatten"}),
    "global-max-keep": (lambda: nn.GlobalMaxPool2d(flatten=False), (3, 5, 6), {"GlobalMaxPool"}),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (3, 4, 5), {"BatchNormalization"}),
    "batchnorm2d-no-affine": (lambda: nn.BatchNorm2d(3, affine=False, eps=1e-3), (3, 4, 5), {"BatchNormalization"}),
    "batchnorm2d-no-bias": (lambda: nn.BatchNorm2d(3, bias=False), (3, 4, 5), {"BatchNormalization"}),
    "batchnorm1d": (lambda: nn.BatchNorm1d(6), (6,), {"BatchNormalization"}),
    "batchnorm1d-3d": (lambda: nn.BatchNorm1d(3), (3, 7), {"BatchNormalization"}),
    "relu": (lambda: nn.ReLU(), (3, 4), {"Relu"}),
    "relu6": (lambda: nn.ReLU6(), (3, 4), {"Clip"}),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.7), (3, 4), {"Clip"}),
    "leaky-relu": (lambda: nn.LeakyReLU(0.2), (3, 4), {"LeakyRelu"}),
    "sigmoid": (lambda: nn.Sigmoid(), (3, 4), {"Sigmoid"}),
    "log-sigmoid": (lambda: nn.LogSigmoid(), (3, 4), {"Softplus", "Neg"}),
    "tanh": (lambda: nn.Tanh(), (3, 4), {"Tanh"}),
    "elu": (lambda: nn.ELU(0.7), (3, 4), {"Elu"}),
    "gelu": (lambda: nn.GELU(), (3, 4), {"Erf"}),
    "gelu-tanh": (lambda: nn.GELU(approximate="tanh"), (3, 4), {"Tanh"}),
    "softplus": (lambda: nn.Softplus(), (3, 4), {"Softplus"}),
    "softplus-beta-threshold": (lambda: nn.Softplus(beta=2.0, threshold=1.0), (3, 4), {"Softplus", "Where"}),
    "silu": (lambda: nn.SiLU(), (3, 4), {"Sigmoid", "Mul"}),
    "softmax": (lambda: nn.Softmax(dim=1), (5,), {"Softmax"}),
    "softmax-last-of-3d": (lambda: nn.Softmax(dim=-1), (3, 4), {"Softmax"}),
    "log-softmax-dim1-of-3d": (lambda: nn.LogSoftmax(dim=1), (3, 4), {"LogSoftmax"}),
    "flatten": (lambda: nn.Flatten(), (3, 4, 5), {"Flatten"}),
    "flatten-middle": (lambda: nn.Flatten(1, 2), (3, 4, 5), {"Reshape"}),
    "flatten-tail": (lambda: nn.Flatten(2), (3, 4, 5), {"Reshape"}),
    "dropout": (lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d(0.3), nn.Flatten(), nn.Dropout(0.5),
                                      nn.Linear(18, 2)), (2, 3, 3), {"Conv", "Flatten", "Gemm"}),
    "identity": (lambda: nn.Sequential(nn.Identity(), nn.ReLU(), nn.Identity()), (4,), {"Relu"}),
    "only-identity": (lambda: nn.Identity(), (4,), {"Identity"}),
    "nested-sequential": (lambda: nn.Sequential(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU()),
                                                nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 2)))),
                          (2, 4, 4), {"Conv", "BatchNormalization", "Relu", "Flatten", "Gemm"}),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_round_trip(case, tmp_path):
    make, shape, ops = LAYERS[case]
    proto = roundtrip(make(), shape, tmp_path / "m.onnx")
    assert ops <= _op_types(proto)


@pytest.mark.parametrize("layer", [nn.LogSigmoid(), nn.Softplus(), nn.Softplus(beta=0.5, threshold=30.0), nn.SiLU(),
                                   nn.GELU(), nn.GELU(approximate="tanh"), nn.ELU(), nn.Sigmoid(), nn.Tanh()],
                         ids=repr)
def test_activations_far_from_zero(layer, tmp_path):
    x = em.tensor(np.linspace(-200, 200, 41, dtype=np.float32).reshape(1, 41))
    export(layer, x, tmp_path / "m.onnx")
    (got,) = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, layer(x).numpy(), rtol=RTOL, atol=ATOL)


def test_gelu_is_one_op_from_opset_20(tmp_path):
    for approximate in ("none", "tanh"):
        proto = roundtrip(nn.GELU(approximate=approximate), (3, 4), tmp_path / "m.onnx", opset_version=20)
        assert _op_types(proto) == {"Gelu"} and proto.opset_import[0].version == 20


def test_circular_padding_needs_opset_19(tmp_path):
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    assert "Pad" in _op_types(roundtrip(conv, (2, 5, 6), tmp_path / "m.onnx", opset_version=19))
    with pytest.raises(NotImplementedError, match="'circular'.*opset_version >= 19"):
        export(conv, em.randn(1, 2, 5, 6), tmp_path / "old.onnx", opset_version=17)


# -- the model zoo --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, side", [({}, 32), ({}, 28), ({"activation": "tanh", "pool": "avg"}, 32),
                                          ({"in_channels": 3, "activation": "gelu", "num_classes": 4}, 30)])
def test_lenet5(kwargs, side, tmp_path):
    model = LeNet5(**kwargs)
    proto = roundtrip(model, (model.in_channels, side, side), tmp_path / "lenet.onnx")
    assert {"Conv", "Gemm", "Flatten"} <= _op_types(proto)
    assert ("Pad" in _op_types(proto)) == (side != 32)


def test_resnet18_cifar_stem(tmp_path):
    model = resnet18(num_classes=10, cifar_stem=True)
    proto = roundtrip(model, (3, 32, 32), tmp_path / "resnet18.onnx")
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Conv") == 20 and ops.count("Add") == 8 and ops.count("BatchNormalization") == 20
    assert {"GlobalAveragePool", "Flatten", "Gemm"} <= set(ops)
    names = {init.name for init in proto.graph.initializer}
    assert {"conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.running_var", "fc.bias"} <= names
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim[:1]] == ["batch"]
    assert proto.graph.output[0].name == "output"


def test_resnet_imagenet_stem_and_bottleneck(tmp_path):
    model = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=5)
    ops = _op_types(roundtrip(model, (3, 32, 32), tmp_path / "r.onnx"))
    assert {"MaxPool", "Add", "GlobalAveragePool"} <= ops


@pytest.mark.parametrize("block", [BasicBlock, Bottleneck])
def test_residual_block_alone(block, tmp_path):
    width = 8 * block.expansion
    down = nn.Sequential(conv1x1(6, width, 2), nn.BatchNorm2d(width))
    proto = roundtrip(block(6, 8, stride=2, downsample=down), (6, 9, 9), tmp_path / "b.onnx")
    assert "Add" in _op_types(proto)


# -- export options and errors ------------------------------------------------------------------------


def test_fixed_batch_when_not_dynamic(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    proto = export(model, em.randn(2, 3), tmp_path / "m.onnx", input_names=("x",), output_names=("y",),
                   dynamic_batch=False)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3] and proto.graph.input[0].name == "x" and proto.graph.output[0].name == "y"
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"x": np.zeros((5, 3), np.float32)})


def test_initializers_carry_state_dict_names_and_shared_layers_are_stored_once(tmp_path):
    shared = nn.Linear(4, 4)
    proto = roundtrip(nn.Sequential(shared, nn.Tanh(), shared), (4,), tmp_path / "m.onnx")
    assert sorted(init.name for init in proto.graph.initializer) == ["0.bias", "0.weight"]
    proto = export(nn.Linear(3, 2), em.randn(2, 3), tmp_path / "top.onnx")
    assert sorted(init.name for init in proto.graph.initializer) == ["bias", "weight"]


def test_exports_in_eval_mode_and_restores_the_flags(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9), nn.BatchNorm1d(4))
    model.train()
    model[2].eval()
    roundtrip(model, (4,), tmp_path / "m.onnx")  # Dropout in training would not match
    model.train()
    model[2].eval()
    export(model, em.randn(2, 4), tmp_path / "m.onnx")
    assert [m.training for m in model.modules()] == [True, True, True, False]


def test_unsupported_module_names_its_path_and_type(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.LayerNorm(4)))
    with pytest.raises(NotImplementedError, match=r"module '1\.1' of type ember\.nn\.normalization\.LayerNorm"):
        export(model, em.randn(2, 4), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layer, shape, why", [
    (nn.MaxPool2d(2, return_indices=True), (1, 3, 4, 4), "return_indices"),
    (nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 4, 4), "track_running_stats=False"),
    (nn.AdaptiveAvgPool2d(3), (1, 3, 7, 7), "does not divide"),
    (nn.AvgPool2d(3, 2, ceil_mode=True, divisor_override=4), (1, 3, 8, 8), "divisor_override"),
])
def test_settings_onnx_cannot_express(layer, shape, why, tmp_path):
    with pytest.raises(NotImplementedError, match=why):
        export(nn.Sequential(nn.Identity(), layer), em.randn(*shape), tmp_path / "m.onnx")


def test_bad_arguments(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="opset_version must be in"):
        export(model, em.randn(1, 3), tmp_path / "m.onnx", opset_version=11)
    with pytest.raises(ValueError, match="one input and one output"):
        export(model, em.randn(1, 3), tmp_path / "m.onnx", input_names=("a", "b"))
    with pytest.raises(ValueError, match="named differently"):
        export(model, em.randn(1, 3), tmp_path / "m.onnx", input_names=("x",), output_names=("x",))
    with pytest.raises(TypeError, match="example_input must be one Tensor"):
        export(model, np.zeros((1, 3), np.float32), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="LeNet5"):  # the model's own input check speaks first
        export(LeNet5(), em.randn(1, 1, 40, 40), tmp_path / "m.onnx")


class _Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_registered_converter_for_a_custom_module(tmp_path, monkeypatch):
    monkeypatch.setitem(CONVERTERS, _Scale, None)

    @register_converter(_Scale)
    def _scale(g, m, x, path):
        factor = g.const(np.array(m.factor, np.float32), f"{path}.factor")
        return g.node("Mul", [x, factor], m(x.tensor), path)

    roundtrip(nn.Sequential(nn.Linear(3, 3), _Scale(2.5)), (3,), tmp_path / "m.onnx")

    @register_converter(_Scale)
    def _lying(g, m, x, path):
        return g.node("Neg", [x], -x.tensor, path)

    with pytest.raises(RuntimeError, match="does not compute its forward"):
        export(nn.Sequential(_Scale(2.5)), em.randn(2, 3), tmp_path / "l.onnx")


# -- files -----------------------------------------------------------------------------------------------


def test_file_is_written_atomically(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "model.onnx"
    proto = export(nn.Linear(3, 2), em.randn(1, 3), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx"]  # no temporary file left
    assert onnx.load(str(target)) == proto
    before = target.read_bytes()

    def fail(model, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save_model", fail)
    with pytest.raises(OSError, match="disk full"):
        export(nn.Linear(3, 5), em.randn(1, 3), target)
    assert target.read_bytes() == before  # the old file stands, and the partial one is gone
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx"]


def test_onnx_is_imported_lazily_with_a_clear_error(monkeypatch, tmp_path):
    code = "import sys, ember.onnx; print('onnx' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install onnx"):
        export(nn.Linear(3, 2), em.randn(1, 3), tmp_path / "m.onnx")
