"""Classify made-up words by their "language" with a character RNN built from two Linear layers."""
import argparse
import json
import random
import string

import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--iters", type=int, default=1500)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.manual_seed(args.seed)
random.seed(0)

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)

# Each "language" builds words from its own syllables.
SYLLABLES = {"Kappish": ["ka", "ko", "ku", "ki", "ke"], "Zelish": ["zel", "zar", "zor", "zen"],
             "Mimish": ["mim", "mo", "ma", "mu", "mee"], "Tollish": ["tol", "tal", "tul", "til"]}
all_categories = list(SYLLABLES)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = torch.tanh(self.i2h(combined))
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


n_hidden = 64
rnn = RNN(n_letters, n_hidden, n_categories)
criterion = nn.NLLLoss()
learning_rate = 0.01


def randomTrainingExample():
    category = random.choice(all_categories)
    line = "".join(random.choice(SYLLABLES[category]) for _ in range(random.randint(2, 4))).capitalize()
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
    return category, line, category_tensor, lineToTensor(line)


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    # Add parameters' gradients to their values, multiplied by learning rate
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


def categoryFromOutput(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


current_loss, recent = 0, []
for iter in range(1, args.iters + 1):
    category, line, category_tensor, line_tensor = randomTrainingExample()
    output, loss = train(category_tensor, line_tensor)
    recent.append(loss)
    if iter % 500 == 0:
        guess, guess_i = categoryFromOutput(output)
        print('%d %d%% %.4f %s / %s %s' % (iter, iter / args.iters * 100, loss, line, guess,
                                          '✓' if guess == category else '✗ (%s)' % category))

correct = 0
with torch.no_grad():
    for _ in range(200):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        correct += categoryFromOutput(output)[0] == category
print("RESULT " + json.dumps({"loss": sum(recent[-300:]) / 300, "accuracy": correct / 200}))
