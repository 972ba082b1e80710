"""Train an MLP on scikit-learn's 8×8 digits with the Trainer and its callbacks.

    python examples/mlp_digits.py

Prints per-epoch metrics and the test accuracy; writes curves and logs under runs/example.
"""
import ember as em
from ember import nn
from ember.data import DataLoader
from ember.data.datasets import digits
from ember.train import CSVLogger, EarlyStopping, LRSchedulerCallback, Normalizer, PlotCurves, Trainer

em.manual_seed(0)
train_set, test_set = digits(train=True), digits(train=False)
normalizer = Normalizer().fit(train_set.tensors[0])  # μ, σ from the training images only
for dataset in (train_set, test_set):
    dataset.tensors = (normalizer.transform(dataset.tensors[0]), dataset.tensors[1])

model = em.models.MLP(64, hidden=(256,), out_features=10, dropout=0.2)
optimizer = em.optim.Adam(model.parameters(), lr=2e-3)
scheduler = em.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), callbacks=[
    LRSchedulerCallback(scheduler),
    EarlyStopping(monitor="dev_loss", patience=5, restore_best_weights=True),
    CSVLogger("runs/example/metrics.csv"),
    PlotCurves("runs/example/curves.png"),
])
trainer.fit(DataLoader(train_set, batch_size=64, shuffle=True, seed=0),
            dev_loader=DataLoader(test_set, batch_size=256), epochs=20)
print("test accuracy", trainer.evaluate(DataLoader(test_set, batch_size=256))["accuracy"])
