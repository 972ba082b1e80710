"""model.summary: output shapes, parameter counts and receptive fields against hand computation and PyTorch."""
import numpy as np
import pytest
import torch

import ember as em
from ember import nn
from ember.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from ember.nn.summary import UNKNOWN, ModelSummary, summary
from ember.ops import concat


def _quiet(model, shape, **kwargs) -> ModelSummary:
    return summary(model, shape, print_fn=None, **kwargs)


def _hooks_left(model) -> int:
    hooks = [m.__dict__.get("_forward_hooks", {}) for m in model.modules()]
    return sum(len(h.get(kind, ())) for h in hooks for kind in ("pre", "post"))


def _grad_box(model, x: np.ndarray, torch_model=None) -> tuple:
    """Independent oracle: the bounding box (h, w) of the input pixels the centre output unit depends on."""
    if torch_model is not None:
        xt = torch.tensor(x, requires_grad=True)
        y = torch_model(xt)
        y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
        g = xt.grad.numpy()
    else:
        xe = em.tensor(x, requires_grad=True)
        y = model(xe)
        y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
        g = xe.grad.numpy()
    rows, cols = np.nonzero(np.abs(g[0]).sum(axis=0))
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


# -- a conv chain against hand computation and its PyTorch twin ------------------------------------
def _chain():
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3),               # r 3, j 1
        nn.ReLU(),                        # r 3
        nn.Conv2d(4, 6, 3, stride=2),     # r 3 + 2·1 = 5, j 2
        MaxPool2d(2, 2),                  # r 5 + 1·2 = 7, j 4
        nn.Conv2d(6, 8, 3, dilation=2),   # r 7 + 2·2·4 = 23, j 4
        nn.BatchNorm2d(8),                # r 23
        nn.Flatten(),                     # -
        nn.Linear(8 * 7 * 7, 10),         # -
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 6, 3, stride=2), torch.nn.MaxPool2d(2, 2),
        torch.nn.Conv2d(6, 8, 3, dilation=2), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(392, 10))
    return ours, theirs


def test_chain_receptive_fields_match_hand_computation():
    s = _quiet(_chain()[0], (1, 1, 48, 48))
    assert [row.receptive_field for row in s.layers] == [(3, 3), (3, 3), (5, 5), (7, 7), (23, 23), (23, 23), None, None]
    assert [row.jump for row in s.layers][:6] == [(1, 1), (1, 1), (2, 2), (4, 4), (4, 4), (4, 4)]
    assert s.show_receptive_field


def test_chain_shapes_and_parameters_match_torch():
    ours, theirs = _chain()
    shapes = []
    for m in theirs:
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    theirs.eval()(torch.zeros(2, 1, 48, 48))
    s = _quiet(ours, (2, 1, 48, 48))
    assert [row.output_shape for row in s.layers] == shapes
    assert [row.name for row in s.layers] == [str(i) for i in range(8)]
    assert [row.layer_type for row in s.layers] == [type(m).__name__ for m in theirs]
    assert [row.num_params for row in s.layers] == [sum(p.numel() for p in m.parameters()) for m in theirs]
    assert s.total_params == sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert s.trainable_params == s.total_params and s.non_trainable_params == 0
    assert s.output_shape == (2, 10) and s.input_shape == (2, 1, 48, 48)


def test_receptive_field_equals_the_gradient_support_in_torch():
    layers = [(1, 3, (3, 5), (1, 2), (2, 1)), (3, 4, 3, 2, 1), (4, 4, (5, 3), 1, (1, 3))]
    ours = nn.Sequential(*[nn.Conv2d(i, o, k, stride=s, dilation=d, dtype=np.float64) for i, o, k, s, d in layers],
                         AvgPool2d(3, stride=2))
    theirs = torch.nn.Sequential(*[torch.nn.Conv2d(i, o, k, stride=s, dilation=d).double()
                                   for i, o, k, s, d in layers], torch.nn.AvgPool2d(3, stride=2))
    s = _quiet(ours, (1, 1, 96, 96))
    # by hand: rows r = 1+2·2=5, j 1 → 5+2·1=7, j 2 → 7+4·2=15, j 2 → 15+2·2=19, j 4
    #          cols r = 1+4·1=5, j 2 → 5+2·2=9, j 4 → 9+2·3·4=33, j 4 → 33+2·4=41, j 8
    assert s.layers[-1].receptive_field == (19, 41) and s.layers[-1].jump == (4, 8)
    x = np.random.default_rng(0).standard_normal((1, 1, 96, 96))
    assert _grad_box(None, x, theirs) == s.layers[-1].receptive_field


def test_conv1d_fields_are_single_ints():
    net = nn.Sequential(nn.Conv1d(2, 4, 5), nn.Tanh(), nn.Conv1d(4, 4, 3, stride=2), nn.Conv1d(4, 1, 3))
    s = _quiet(net, (3, 2, 40))
    assert [row.receptive_field for row in s.layers] == [(5,), (5,), (7,), (11,)]
    last_row = str(s).splitlines()[3 + len(s.layers) - 1]
    assert last_row.startswith("3 ") and last_row.endswith(" 11")


# -- branches joined by functional code ------------------------------------------------------------
class _Residual(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, dtype=np.float64)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, dtype=np.float64)
        self.downsample = nn.Conv2d(cin, cout, 1, stride, dtype=np.float64) if stride != 1 else None

    def forward(self, x):
        out = self.conv2(self.relu(self.conv1(x)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class _Inception(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.b1 = nn.Conv2d(c, 2, 1, dtype=np.float64)
        self.b3 = nn.Conv2d(c, 2, 3, padding=1, dtype=np.float64)
        self.b5 = nn.Conv2d(c, 2, 5, padding=2, dtype=np.float64)

    def forward(self, x):
        return concat([self.b1(x), self.b3(x), self.b5(x)], dim=1)


def test_residual_blocks_take_the_largest_branch():
    net = nn.Sequential(nn.Conv2d(1, 4, 7, 2, 3, dtype=np.float64), _Residual(4, 4, 1), _Residual(4, 8, 2),
                        nn.Conv2d(8, 2, 3, dtype=np.float64))
    s = _quiet(net, (1, 1, 64, 64))
    fields = {(row.name, row.receptive_field) for row in s.layers}
    # stem r 7 j 2; block 1: 11, 15; block 2: conv1 s2 19 (j 4), conv2 27, shortcut 1×1 s2 keeps 15; last conv 27+2·4
    assert {("1.conv1", (11, 11)), ("1.conv2", (15, 15)), ("1.relu", (15, 15)), ("2.conv1", (19, 19)),
            ("2.conv2", (27, 27)), ("2.downsample", (15, 15)), ("3", (35, 35))} <= fields
    assert [r.receptive_field for r in s.layers if r.name == "2.relu"] == [(19, 19), (27, 27)]
    assert _grad_box(net, np.random.default_rng(1).standard_normal((1, 1, 64, 64))) == (35, 35)


def test_inception_branches_concatenated():
    net = nn.Sequential(nn.Conv2d(1, 3, 3, dtype=np.float64), _Inception(3), nn.Conv2d(6, 1, 3, dtype=np.float64))
    s = _quiet(net, (1, 1, 32, 32))
    assert [row.receptive_field for row in s.layers] == [(3, 3), (3, 3), (5, 5), (7, 7), (9, 9)]
    assert _grad_box(net, np.random.default_rng(2).standard_normal((1, 1, 32, 32))) == (9, 9)


def test_untraceable_maps_show_unknown():
    class Strided(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.up, self.act = nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 2, 2, stride=2), nn.ReLU()

        def forward(self, x):
            return self.act(self.up(self.conv(x)[:, :, ::2, ::2]))  # slicing: functional, no hook sees it

    s = _quiet(Strided(), (1, 1, 16, 16))
    assert [row.receptive_field for row in s.layers] == [(3, 3), UNKNOWN, UNKNOWN]
    assert "?" in str(s)


def test_adaptive_pooling_with_even_bins_is_a_pooling():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), AdaptiveAvgPool2d(4), AdaptiveAvgPool2d(1))
    s = _quiet(net, (1, 1, 10, 10))  # 8×8 map, r 3 → bins of 2: r 4, j 2 → one bin of 4: r 4 + 3·2 = 10
    assert [row.receptive_field for row in s.layers] == [(3, 3), (4, 4), (10, 10)]
    assert _quiet(nn.Sequential(nn.Conv2d(1, 2, 3), AdaptiveAvgPool2d(3)), (1, 1, 10, 10)).layers[1].receptive_field \
        == UNKNOWN


# -- an MLP, totals and the printed table -----------------------------------------------------------
def test_mlp_rows_totals_and_table():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    lines = []
    s = summary(net, (5, 64), print_fn=lines.append)
    assert [row.output_shape for row in s.layers] == [(5, 32), (5, 32), (5, 32), (5, 10)]
    assert [row.num_params for row in s.layers] == [64 * 32 + 32, 0, 0, 32 * 10 + 10]
    assert s.total_params == 64 * 32 + 32 + 330 and s.non_trainable_params == 0
    assert not s.show_receptive_field
    text = "\n".join(lines)
    assert text == str(s) and "Receptive field" not in text and f"Total params: {s.total_params:,}" in text
    assert s.forward_bytes == 4 * (3 * 5 * 32 + 5 * 10) and s.input_bytes == 5 * 64 * 4
    assert s.params_bytes == 4 * s.total_params
    assert s.total_bytes == s.forward_bytes + s.input_bytes + s.params_bytes
    assert repr(s).startswith("ModelSummary(total_params=2,410, trainable_params=2,410")
    assert s.to_dict()["total_params"] == s.total_params


def test_frozen_parameters_are_non_trainable():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    net[0].requires_grad_(False)
    s = _quiet(net, (1, 3, 8, 8))
    assert s.non_trainable_params == 3 * 4 * 9 + 4
    assert s.trainable_params == sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert [row.trainable_params for row in s.layers] == [0, 8, 10]
    assert "Trainable" in str(s).splitlines()[1]
    buffers = sum(b.array.nbytes for b in net.buffers())
    assert s.params_bytes == 4 * s.total_params + buffers


def test_shared_module_is_counted_once():
    class Siamese(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(8, 4)

        def forward(self, x):
            return self.encoder(x) - self.encoder(x * 2)

    s = _quiet(Siamese(), (3, 8))
    assert [(row.name, row.shared) for row in s.layers] == [("encoder", False), ("encoder", True)]
    assert s.total_params == 36 and "(shared)" in str(s)


def test_module_with_its_own_parameters_gets_a_row():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.scale = nn.Parameter(em.ones(2))

        def forward(self, x):
            return self.fc(x) * self.scale

    s = _quiet(Scaled(), (1, 4))
    assert [(row.name, row.layer_type, row.num_params) for row in s.layers] == [("fc", "Linear", 10),
                                                                                ("", "Scaled", 2)]
    assert s.total_params == 12 and s.forward_bytes == 1 * 2 * 4  # the container's output is not counted twice


# -- conventions, modes and hooks -------------------------------------------------------------------
def test_batch_size_dtype_and_method():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64))
    s = net.summary((1, 8, 8), batch_size=4, print_fn=None)
    assert s.input_shape == (4, 1, 8, 8) and s.output_shape == (4, 2, 6, 6)
    assert s.input_bytes == 4 * 64 * 8  # float64, the model's dtype
    assert _quiet(net, [(2, 1, 8, 8)]).output_shape == (2, 2, 6, 6)
    with pytest.raises(ValueError, match="summary: input_shape"):
        _quiet(net, (1, 0, 8))


class _Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.modes = []

    def forward(self, x):
        self.modes.append((self.training, em.is_grad_enabled()))
        return self.fc(x)


def test_runs_in_eval_without_grad_and_restores_each_mode():
    net = nn.Sequential(_Recorder(), nn.Dropout(0.5), nn.Linear(3, 1))
    net.train()
    net[1].eval()  # a per-module mode that must survive
    _quiet(net, (2, 3))
    assert net[0].modes == [(False, False)]
    assert net.training and net[0].training and not net[1].training and net[2].training
    assert _hooks_left(net) == 0


def test_hooks_removed_and_mode_restored_on_error():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 1))  # the last layer does not fit
    net.train()
    with pytest.raises(ValueError):
        _quiet(net, (2, 3))
    assert _hooks_left(net) == 0 and all(m.training for m in net.modules())
