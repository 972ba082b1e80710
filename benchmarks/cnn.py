"""CNN speed: ember against PyTorch on the CPU, side by side in one run.

- LeNet-5 training step (batch 64, 32×32 grey images, SGD momentum 0.9): images/s;
- LeNet-5 inference (batch 256): images/s;
- ResNet-18 with the CIFAR stem (batch 32, 3×32×32): forward + backward, images/s;
- single Conv2d forward + backward at several sizes: milliseconds, and ember's achieved
  GFLOP/s against NumPy's float32 matmul peak measured on this machine;
- peak memory of each model case, each framework in a fresh process.

The frameworks alternate in A B B A rounds; every figure is a median (see harness.py).

    python benchmarks/cnn.py [--rounds 5] [--quick]
"""
from __future__ import annotations

import json

import numpy as np
from harness import (
    FRAMEWORKS,
    argument_parser,
    framework,
    interleaved_medians,
    measure_cases,
    print_cases,
    print_machine,
    print_table,
    time_call,
)

# -- the models, built through one API in both frameworks ----------------------------------------


def lenet5(nn):
    """LeNet-5 for 32×32 inputs (ReLU, max-pool): the architecture of ember.models.LeNet5."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet18_cifar(nn, fw):
    """ResNet-18 with the CIFAR stem (3×3 conv, no max-pool), torchvision's block layout."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + identity)

    layers, cin = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


def _batches(shape, classes, count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])) for _ in range(count)]


def training_runner(name, model_name="lenet5", batch=64, steps=10):
    """``steps`` SGD training steps of ``model_name`` on fixed random batches."""
    fw, to_tensor = framework(name)
    nn = fw.nn
    fw.manual_seed(0)
    model = lenet5(nn) if model_name == "lenet5" else resnet18_cifar(nn, fw)
    shape = (batch, 1, 32, 32) if model_name == "lenet5" else (batch, 3, 32, 32)
    batches = [(to_tensor(x), to_tensor(y)) for x, y in _batches(shape, 10, steps)]
    optimizer = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for x, y in batches:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()

    return run


def inference_runner(name, batch=256, steps=10):
    """``steps`` LeNet-5 forward passes in eval mode without autograd."""
    fw, to_tensor = framework(name)
    fw.manual_seed(0)
    model = lenet5(fw.nn).eval()
    batches = [to_tensor(x) for x, _ in _batches((batch, 1, 32, 32), 10, steps)]

    def run():
        with fw.no_grad():
            for x in batches:
                model(x)

    return run


def conv_runner(name, shape, out_channels, kernel, padding):
    """One Conv2d forward + backward (input gradient included) on a fixed input."""
    fw, to_tensor = framework(name)
    fw.manual_seed(0)
    conv = fw.nn.Conv2d(shape[1], out_channels, kernel, padding=padding, bias=False)
    x = to_tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32)).requires_grad_()

    def run():
        y = conv(x)
        y.backward(fw.ones_like(y))

    return run


# -- measurements --------------------------------------------------------------------------------


def matmul_peak_gflops(n=2048, repeats=5) -> float:
    """NumPy's float32 GEMM speed on this machine: the ceiling any im2col convolution can reach."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(time_call(lambda: a @ a) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


MODEL_CASES = {  # name: (runner expression, images per run, unit)
    "LeNet-5 training, batch 64": ("training_runner({fw!r}, 'lenet5', 64, 10)", 64 * 10, "images/s"),
    "LeNet-5 inference, batch 256": ("inference_runner({fw!r}, 256, 10)", 256 * 10, "images/s"),
    "ResNet-18 CIFAR fwd+bwd, batch 32": ("training_runner({fw!r}, 'resnet18', 32, 2)", 32 * 2, "images/s"),
}
CONV_CASES = [  # (N, C, H, W), out_channels, kernel, padding
    ((64, 1, 32, 32), 6, 5, 0),
    ((64, 6, 14, 14), 16, 5, 0),
    ((32, 64, 32, 32), 64, 3, 1),
    ((32, 128, 16, 16), 128, 3, 1),
    ((32, 256, 8, 8), 256, 3, 1),
    ((32, 512, 4, 4), 512, 3, 1),
]


def measure(rounds=5, quick=False, threads=None) -> dict:
    """The model cases (at each of ``threads``, see harness.measure_cases), then the single
    convolutions at the libraries' default threads."""
    models = measure_cases("cnn", MODEL_CASES, rounds, quick, threads)
    peak = matmul_peak_gflops()
    convs = []
    for shape, cout, k, pad in CONV_CASES:
        seconds = interleaved_medians({fw: conv_runner(fw, shape, cout, k, pad) for fw in FRAMEWORKS}, rounds)
        out = (shape[2] + 2 * pad - k + 1) * (shape[3] + 2 * pad - k + 1)
        flops = 3 * 2 * shape[0] * cout * shape[1] * k * k * out  # forward, dW and dx: three GEMMs of this size
        convs.append({"input": shape, "out_channels": cout, "kernel": k, "ms": {fw: round(s * 1e3, 2) for fw, s in
                      seconds.items()}, "ratio": round(seconds["torch"] / seconds["ember"], 3),
                      "ember_gflops": round(flops / seconds["ember"] / 1e9, 1),
                      "fraction_of_matmul_peak": round(flops / seconds["ember"] / 1e9 / peak, 3)})
    return {"models": models, "convs": convs, "matmul_peak_gflops": round(peak, 1), "rounds": rounds}


def main():
    args = argument_parser(__doc__.splitlines()[0], rounds=5).parse_args()
    print_machine(args)
    result = measure(args.rounds, args.quick, args.threads)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_cases(result["models"])
    print()
    print_table(["Conv2d fwd+bwd", "ember ms", "torch ms", "ember/torch", "ember GFLOP/s", "of matmul peak"],
                [[f"{c['input']} -> {c['out_channels']} k{c['kernel']}", c["ms"]["ember"], c["ms"]["torch"],
                  f"{c['ratio']:.2f}x", c["ember_gflops"], f"{c['fraction_of_matmul_peak']:.0%}"]
                 for c in result["convs"]])
    print(f"\nNumPy float32 matmul peak: {result['matmul_peak_gflops']} GFLOP/s; ratios are throughput "
          f"ember/torch (higher is better), medians of {2 * args.rounds} runs")


if __name__ == "__main__":
    main()
