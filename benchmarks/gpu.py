"""GPU training steps: ember on CuPy against PyTorch eager fp32 (TF32 off) on the same GPU, in one run.

Cases: LeNet-5 (batch 512, 32×32 grey), ResNet-18 CIFAR (batch 128), an LSTM language model
(vocab 10k, embedding 256, hidden 256, 35 steps, batch 32 and 256) against both PyTorch's
cuDNN ``nn.LSTM`` and a PyTorch ``LSTMCell`` loop, and the GPT of benchmarks/transformer.py.
Each step is timed with CUDA events after warm-up; the frameworks alternate (A B B A) and the
figure is the median. Without a GPU (or without CuPy) it says so and exits 0.

    python benchmarks/gpu.py --rounds 3
"""
from __future__ import annotations

import json
import statistics

import numpy as np
from cnn import lenet5, resnet18_cifar
from harness import argument_parser, print_machine, print_table

VOCAB, EMBED, HIDDEN, SEQ = 10_000, 256, 256, 35


def _timer(name):
    """(start, stop → milliseconds) around GPU work of framework ``name``, with CUDA events."""
    if name == "ember":
        import cupy

        begin, end = cupy.cuda.Event(), cupy.cuda.Event()

        def stop():
            end.record()
            end.synchronize()
            return cupy.cuda.get_elapsed_time(begin, end)

        return begin.record, stop
    import torch

    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def stop():
        end.record()
        end.synchronize()
        return begin.elapsed_time(end)

    return begin.record, stop


def _framework(name):
    if name == "ember":
        import ember as fw

        return fw, lambda a: fw.tensor(a, device="cuda")
    import torch as fw

    return fw, lambda a: fw.from_numpy(a).cuda()


def classifier_step(name, build, shape, classes=10):
    """A closure doing one SGD step of ``build(nn, fw)`` on a fixed batch of ``shape``."""
    fw, to_device = _framework(name)
    fw.manual_seed(0)
    model = build(fw.nn, fw).to("cuda")
    optimizer = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = to_device(rng.standard_normal(shape).astype(np.float32))
    y = to_device(rng.integers(0, classes, shape[0]))
    loss_fn = fw.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def lm_step(name, batch, cell_loop=False):
    """One step of the LSTM language model; ``cell_loop`` runs PyTorch's ``LSTMCell`` step by step."""
    fw, to_device = _framework(name)
    nn = fw.nn
    fw.manual_seed(0)

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBED)
            self.rnn = nn.LSTMCell(EMBED, HIDDEN) if cell_loop else nn.LSTM(EMBED, HIDDEN, batch_first=True)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            e = self.embedding(tokens)
            if not cell_loop:
                return self.decoder(self.rnn(e)[0].reshape(-1, HIDDEN))
            h = c = e.new_zeros(e.shape[0], HIDDEN)
            outputs = []
            for t in range(e.shape[1]):
                h, c = self.rnn(e[:, t], (h, c))
                outputs.append(h)
            return self.decoder(fw.stack(outputs, 1).reshape(-1, HIDDEN))

    model = LanguageModel().to("cuda")
    optimizer = fw.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    tokens, targets = to_device(rng.integers(0, VOCAB, (batch, SEQ))), to_device(rng.integers(0, VOCAB, batch * SEQ))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(tokens), targets).backward()
        optimizer.step()

    return step


def gpt_step(name, batch=64):
    from transformer import BLOCK, build_pair

    (ours, opt), (twin, t_opt) = build_pair(vocab_size=80)
    model, optimizer = (ours, opt) if name == "ember" else (twin, t_opt)
    model.to("cuda")
    fw, to_device = _framework(name)
    rng = np.random.default_rng(0)
    x, y = (to_device(rng.integers(0, 80, (batch, BLOCK))) for _ in range(2))

    def step():
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


CASES = {
    "LeNet-5, batch 512": lambda fw: classifier_step(fw, lambda nn, _: lenet5(nn), (512, 1, 32, 32)),
    "ResNet-18 CIFAR, batch 128": lambda fw: classifier_step(fw, resnet18_cifar, (128, 3, 32, 32)),
    "LSTM LM, batch 32 (torch: cuDNN LSTM)": lambda fw: lm_step(fw, 32),
    "LSTM LM, batch 32 (torch: LSTMCell loop)": lambda fw: lm_step(fw, 32, cell_loop=fw == "torch"),
    "LSTM LM, batch 256 (torch: cuDNN LSTM)": lambda fw: lm_step(fw, 256),
    "LSTM LM, batch 256 (torch: LSTMCell loop)": lambda fw: lm_step(fw, 256, cell_loop=fw == "torch"),
    "GPT (benchmarks/transformer.py), batch 64": lambda fw: gpt_step(fw),
}


def step_ms(step, name, repeats=10, warmup=3) -> float:
    """Milliseconds per step, from CUDA events around ``repeats`` steps after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    start, stop = _timer(name)
    start()
    for _ in range(repeats):
        step()
    return stop() / repeats


def measure(rounds) -> dict:
    results = {}
    for case, make in CASES.items():
        steps = {name: make(name) for name in ("ember", "torch")}
        times = {"ember": [], "torch": []}
        for _ in range(rounds):
            for name in ("ember", "torch", "torch", "ember"):
                times[name].append(step_ms(steps[name], name))
        results[case] = {name: statistics.median(t) for name, t in times.items()}
    return results


def _gpu_ready() -> str | None:
    """None when both frameworks see a GPU; otherwise why not."""
    try:
        import torch

        import ember as em
    except ImportError as err:
        return f"missing {err.name}"
    if not em.cuda_available():
        return "ember sees no GPU (CuPy missing or no device): pip install 'ember[cuda12]'"
    if not torch.cuda.is_available():
        return "PyTorch sees no GPU (a CPU-only wheel?)"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32, as ember computes
    return None


def main():
    args = argument_parser(__doc__.splitlines()[0], rounds=3).parse_args()
    print_machine(args)
    reason = _gpu_ready()
    if reason:
        print(f"no GPU run: {reason}")
        return
    import torch

    print(f"GPU: {torch.cuda.get_device_name(0)}")
    results = measure(args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    rows = [[case, f"{r['ember']:.2f}", f"{r['torch']:.2f}", f"{r['ember'] / r['torch']:.2f}x"]
            for case, r in results.items()]
    print_table(["case (training step)", "ember ms", "torch ms", "ember/torch time"], rows)


if __name__ == "__main__":
    main()
