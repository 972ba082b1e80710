"""An MLP with BatchNorm on the digits: random_split, momentum SGD with a step schedule, a saved and reloaded checkpoint."""
import argparse
import json
import os
import tempfile
from collections import OrderedDict

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset, random_split

parser = argparse.ArgumentParser()
parser.add_argument('--epochs', type=int, default=5)
parser.add_argument('--seed', type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)

digits = load_digits()
dataset = TensorDataset(torch.tensor(digits.data, dtype=torch.float32) / 16.0, torch.tensor(digits.target))
train_set, val_set = random_split(dataset, [1500, len(dataset) - 1500], generator=torch.Generator().manual_seed(42))
train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
val_loader = DataLoader(val_set, batch_size=128)

model = nn.Sequential(OrderedDict([
    ('fc1', nn.Linear(64, 128)),
    ('bn1', nn.BatchNorm1d(128)),
    ('relu1', nn.ReLU()),
    ('drop', nn.Dropout(p=0.2)),
    ('fc2', nn.Linear(128, 10)),
]))
criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)


def evaluate(net):
    net.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for inputs, targets in val_loader:
            outputs = net(inputs)
            loss_sum += criterion(outputs, targets).item() * targets.size(0)
            correct += (outputs.argmax(1) == targets).sum().item()
            total += targets.size(0)
    return loss_sum / total, correct / total


for epoch in range(args.epochs):
    model.train()
    running = 0.0
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        running += loss.item()
    scheduler.step()
    val_loss, val_acc = evaluate(model)
    print(f'epoch {epoch + 1}: train loss {running / len(train_loader):.4f} val loss {val_loss:.4f} '
          f'acc {val_acc:.3f} lr {scheduler.get_last_lr()[0]:.4f}')

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'checkpoint.pt')
    torch.save({'epoch': args.epochs, 'model_state_dict': model.state_dict(),
                'optimizer_state_dict': optimizer.state_dict(), 'loss': val_loss}, path)
    checkpoint = torch.load(path)
    restored = nn.Sequential(OrderedDict([
        ('fc1', nn.Linear(64, 128)), ('bn1', nn.BatchNorm1d(128)), ('relu1', nn.ReLU()),
        ('drop', nn.Dropout(p=0.2)), ('fc2', nn.Linear(128, 10))]))
    restored.load_state_dict(checkpoint['model_state_dict'])
    assert checkpoint['epoch'] == args.epochs
    reloaded_loss, _ = evaluate(restored)
    assert abs(reloaded_loss - val_loss) < 1e-6, (reloaded_loss, val_loss)
print("RESULT " + json.dumps({"loss": val_loss, "accuracy": val_acc}))
