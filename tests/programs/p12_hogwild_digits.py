"""Hogwild training in the style of pytorch/examples' mnist_hogwild, on the digits: the model's parameters in
shared memory, several torch.multiprocessing workers updating them at once, then an evaluation in the parent."""
import argparse
import json

import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=8)  # converged: the workers' race moves the loss less
parser.add_argument('--num-processes', type=int, default=2)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = x.view(-1, 16 * 2 * 2)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


def train(rank, model, dataset):
    torch.manual_seed(args.seed + rank)
    loader = DataLoader(dataset, batch_size=32, shuffle=True)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    for _ in range(args.epochs):
        for data, target in loader:
            optimizer.zero_grad()
            F.nll_loss(model(data), target).backward()
            optimizer.step()


if __name__ == '__main__':
    torch.manual_seed(args.seed)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target)
    train_set = TensorDataset(images[:1400], labels[:1400])
    test_images, test_labels = images[1400:], labels[1400:]

    model = Net()
    model.share_memory()  # gradients are allocated lazily, and are not shared
    context = mp.get_context('fork')
    processes = []
    for rank in range(args.num_processes):
        p = context.Process(target=train, args=(rank, model, train_set))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
    assert all(p.exitcode == 0 for p in processes)

    model.eval()
    with torch.no_grad():
        output = model(test_images)
        loss = F.nll_loss(output, test_labels).item()
        accuracy = output.argmax(dim=1).eq(test_labels).float().mean().item()
    print(f"test loss {loss:.4f}, accuracy {accuracy:.3f}")
    print("RESULT " + json.dumps({"loss": loss, "accuracy": accuracy}))
