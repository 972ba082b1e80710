"""PyTorch programs run on ember after the import swap alone, with PyTorch's results.

The programs (tests/programs/p*.py) are ordinary PyTorch code in the idioms public examples
use: a polynomial regression with manual SGD, an MNIST-style CNN with Adadelta and StepLR, a
sine-wave LSTMCell model with LBFGS, a VAE, a character RNN classifier, a word-level LSTM
language model, a character GPT, a row-by-row LSTM digit classifier, an MLP with a saved and
reloaded checkpoint, skip-gram with negative sampling, a Transformer language model with gradient
checkpointing saved and loaded whole, Hogwild training in shared memory. Each runs on PyTorch over three seeds
and once on ember; ember's final loss (and accuracy) must fall within PyTorch's spread
(see ``runner.band`` for the tolerance and why).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "programs"))
import runner  # noqa: E402


@pytest.mark.parametrize("program", runner.PROGRAMS, ids=lambda p: p.stem)
def test_program_runs_on_ember_with_pytorchs_results(program):
    theirs = [runner.run("torch", program, seed)[0] for seed in runner.TORCH_SEEDS]
    ours, _ = runner.run("ember", program, runner.TORCH_SEEDS[0])
    assert set(ours) == set(theirs[0])
    for key, value in ours.items():
        lo, hi = runner.band([t[key] for t in theirs])
        assert lo <= value <= hi, f"{program.stem}: ember's {key} {value:.4g} outside PyTorch's [{lo:.4g}, {hi:.4g}]"
