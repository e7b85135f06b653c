"""The reference's training script, written the usual way: the yardstick for effmnist's speed.

Self-contained on purpose (it imports nothing from effmnist): torchvision's ``MNIST`` dataset,
a ``DataLoader`` that applies ``ToTensor`` and ``Normalize`` to one image at a time, NCHW
tensors, plain Adam, cosine annealing per batch, clipping at 1.0, one epoch on 54,000 images,
then validation and test accuracy, as in the reference README's ``train_mnist.py``.
``python -m effmnist bench --whole`` times this whole process against ``python -m effmnist
train``. Run it alone with ``python -m effmnist.seed_style --data-dir DIR``.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, random_split
from torchvision import datasets, transforms


class EfficientMNIST(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(64, 10, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(self.dropout(x))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    full = datasets.MNIST(args.data_dir, train=True, download=False, transform=tf)
    test = datasets.MNIST(args.data_dir, train=False, download=False, transform=tf)
    train, val = random_split(full, [54_000, 6_000], generator=torch.Generator().manual_seed(42))
    train_loader = DataLoader(train, batch_size=64, shuffle=True)
    val_loader = DataLoader(val, batch_size=1000)
    test_loader = DataLoader(test, batch_size=1000)
    model = EfficientMNIST()
    print(f"Total parameters: {sum(p.numel() for p in model.parameters()):,}")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.015, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=len(train_loader), eta_min=0.001
    )
    start = time.perf_counter()
    model.train()
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
    seconds = time.perf_counter() - start
    print(f"Validation Accuracy: {evaluate(model, val_loader):.2%}")
    print(f"Test Accuracy: {evaluate(model, test_loader):.2%}")
    print(f"Training completed in {seconds:.2f} seconds")


if __name__ == "__main__":
    main()
