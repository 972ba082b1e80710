"""Reproduce the CNN, GRU and MLP rows of the MNIST-1D paper's table (Greydanus 2020) with the Trainer.

    python examples/mnist1d_paper.py --model cnn    # paper: 94% test accuracy
    python examples/mnist1d_paper.py --model gru    # paper: 91% (bidirectional GRU, hidden 6; ~2 min on CPU)
    python examples/mnist1d_paper.py --model mlp    # paper: 68%

The paper's recipe: the standard 4000/1000 split, Adam (lr 1e-2), batches of 100, 6000 steps.
"""
import argparse

from ember import nn
from ember.models.mnist1d import mnist1d_setup
from ember.train import ProgressBar, Trainer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", choices=["cnn", "gru", "mlp"], default="cnn")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--steps", type=int, default=6000)
args = parser.parse_args()

setup = mnist1d_setup(args.model, seed=args.seed, steps=args.steps)
trainer = Trainer(setup.model, setup.optimizer, nn.CrossEntropyLoss(), callbacks=[ProgressBar()])
trainer.fit(setup.train_loader, epochs=setup.epochs)
print(f"{args.model}: test accuracy {trainer.evaluate(setup.test_loader)['accuracy']:.3f}")
