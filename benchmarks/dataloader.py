"""DataLoader throughput with worker processes: an augmentation-heavy dataset at num_workers 0, 1, 2.

Each sample is a 3×64×64 image made by ~2 ms of NumPy work in ``__getitem__`` (a random
crop and flip, an FFT blur, a colour jitter, normalisation), the kind of per-sample
augmentation that worker processes exist to overlap. A second case waits 2 ms per sample
instead (reading from a slow disk, say): it needs no CPU, so it shows the overlap even on a
machine whose cores are busy. Batches of 32; every loader keeps its workers across epochs
(``persistent_workers``), so the figure is the steady state; one epoch is timed per run, the
loaders alternate in A B B A rounds, and each figure is the median. PyTorch's DataLoader over
the same dataset is timed beside ember's.

    python benchmarks/dataloader.py [--rounds 3] [--samples 256] [--json]
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
from harness import argument_parser, interleaved_medians, print_machine, print_table

BATCH, SIZE, WORKERS = 32, 64, (0, 1, 2)


class Augmented:
    """``n`` images; sample i is a fixed image through ``repeats`` rounds of random augmentation."""

    def __init__(self, n: int, repeats: int):
        self.n, self.repeats = n, repeats
        self.images = np.random.default_rng(0).random((8, 3, SIZE + 8, SIZE + 8), dtype=np.float32)
        freq = np.fft.rfftfreq(SIZE)[None, :] ** 2 + np.fft.fftfreq(SIZE)[:, None] ** 2
        self.blur = np.exp(-40.0 * freq).astype(np.float32)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        x = self.images[i % len(self.images)]
        for _ in range(self.repeats):
            top, left = rng.integers(0, 9, 2)
            y = x[:, top:top + SIZE, left:left + SIZE]
            y = y[:, :, ::-1] if rng.random() < 0.5 else y
            y = np.fft.irfft2(np.fft.rfft2(y) * self.blur, s=(SIZE, SIZE)).astype(np.float32)
            y = y * rng.uniform(0.8, 1.2, (3, 1, 1)).astype(np.float32) + rng.uniform(-0.1, 0.1)
        return (y - y.mean()) / (y.std() + 1e-6), i % 10


class Waiting(Augmented):
    """The same images, each after a 2 ms wait instead of the augmentation (I/O-bound loading)."""

    def __getitem__(self, i):
        time.sleep(0.002)
        return self.images[i % len(self.images), :, :SIZE, :SIZE], i % 10


def calibrate(target_ms: float = 2.0) -> tuple[int, float]:
    """The repeats that make one ``__getitem__`` cost about ``target_ms`` of CPU time, and that cost.

    CPU time (``process_time``), not wall time, so that other load on the machine does not skew it.
    """
    def cost_ms(dataset, calls):
        dataset[0]  # first-touch allocations, FFT plans
        start = time.process_time()
        for i in range(calls):
            dataset[i]
        return (time.process_time() - start) / calls * 1e3

    repeats = max(1, round(target_ms / cost_ms(Augmented(1, 1), 200)))
    repeats = max(1, round(repeats * target_ms / cost_ms(Augmented(1, repeats), 50)))  # the fixed costs amortised
    return repeats, cost_ms(Augmented(1, repeats), 100)


def make_epoch(name: str, dataset, num_workers: int):
    """A closure running one epoch of the framework's DataLoader (its workers kept between epochs)."""
    if name == "ember":
        from ember.data import DataLoader
    else:
        from torch.utils.data import DataLoader
    extra = {"persistent_workers": True} if num_workers else {}
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=num_workers, **extra)

    def run():
        for x, _ in loader:
            assert x.shape == (BATCH, 3, SIZE, SIZE)

    return run


def main():
    parser = argument_parser(__doc__.splitlines()[0], rounds=3)
    parser.add_argument("--samples", type=int, default=256, help="samples per epoch (a multiple of 32)")
    args = parser.parse_args()
    print_machine(args)
    repeats, item_ms = calibrate()
    cases = {f"augment {item_ms:.1f} ms CPU": Augmented(args.samples, repeats), "wait 2 ms": Waiting(args.samples, 0)}
    rates = {case: measure(dataset, args) for case, dataset in cases.items()}
    if args.json:
        print(json.dumps({"item_ms": round(item_ms, 2), "batch": BATCH, "samples_per_epoch": args.samples,
                          "rounds": args.rounds, "samples_per_s": rates}, indent=2))
        return
    rows = [[case, k, f"{rate[f'ember {k}']:.0f}", f"{rate[f'ember {k}'] / rate['ember 0']:.2f}x",
             f"{rate[f'torch {k}']:.0f}", f"{rate[f'torch {k}'] / rate['torch 0']:.2f}x"]
            for case, rate in rates.items() for k in WORKERS]
    print_table(["__getitem__", "num_workers", "ember samples/s", "vs 0", "torch samples/s", "vs 0"], rows)
    print(f"\nbatch {BATCH}, {args.samples} samples per epoch, medians of {2 * args.rounds} epochs; workers "
          f"persistent (startup not counted); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")


def measure(dataset, args) -> dict:
    """Samples/s of each framework's loader at each worker count, keyed ``"<framework> <num_workers>"``."""
    runs = {f"{fw} {k}": make_epoch(fw, dataset, k) for k in WORKERS for fw in ("ember", "torch")}
    return {key: round(args.samples / s, 1) for key, s in interleaved_medians(runs, args.rounds).items()}


if __name__ == "__main__":
    main()
