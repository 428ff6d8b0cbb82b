"""A convolutional autoencoder on MNIST digits, and what its encoder is worth with few labels.

    python -m models.autoencoder                          # the 5,000 embedded MNIST digits (default)
    python -m models.autoencoder --label-fraction 0.02    # 80 labels: pre-training matters more

Phase 1 (the epochs in metrics.csv): learn to reconstruct the images through a bottleneck,
without any labels::

    encoder: (N, 1, 28, 28) -conv 3x3 stride 2-> (N, C, 14, 14) -conv 3x3 stride 2-> (N, 2C, 7, 7)
             -flatten, linear-> (N, latent)                                   (ReLU after each layer)
    decoder: (N, latent) -linear-> (N, 2C, 7, 7) -conv-transpose 3x3 stride 2-> (N, C, 14, 14)
             -conv-transpose 3x3 stride 2-> (N, 1, 28, 28) logits; sigmoid -> pixel intensities

The loss is the per-pixel binary cross-entropy between the input (intensities in [0, 1]) and the
reconstruction; we also report the mean squared error.

Phase 2 (``finish``): keep only ``label_fraction`` (10%: 400 images) of the training labels and
train the same classifier (encoder -> ReLU -> linear -> ReLU -> linear -> 10 logits) twice, with
the same head initialisation and batch order: once starting from the encoder learned in phase 1
(fine-tuned; ``--freeze-encoder`` trains only the head) and once from a random initialisation.
Both test-accuracy curves go to transfer.csv and transfer.png; the final metrics hold the final
accuracies, their difference (``transfer_gain``) and its mean over the epochs
(``transfer_gain_mean``).

What to expect (seed 0): the pretrained encoder learns faster (68% test accuracy after 3 epochs
against 56% from scratch), but a convolutional network trained from scratch on 400 labels is a
strong baseline on MNIST and catches up: after 15 epochs both are near 85%, within a point or two
of each other (either way, depending on the seed). With fewer labels pre-training matters more:
with ``--label-fraction 0.02`` (80 labels) the pretrained encoder ends 5-8 points ahead.
"""

from __future__ import annotations

import argparse
import copy
import csv
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import Tensor, nn, optim
from minigrad.nn import functional as F
from minigrad.utils.data import DataLoader
from minigrad.utils.datasets import ImageDataset, get_dataset

from . import harness, plots
from .harness import Experiment, accuracy, run

# the autoencoder must reconstruct well; its encoder must make a good classifier from 10% of the labels, and
# one that learns faster than the same network from scratch (higher test accuracy on average over the epochs)
TARGET = [("test_mse", "<=", 0.02), ("pretrained_acc", ">=", 0.83), ("transfer_gain_mean", ">", 0.0)]


class Encoder(nn.Module):
    """(N, 1, 28, 28) -> (N, latent) features."""

    def __init__(self, channels: int = 16, latent: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=1)              # 28 -> 14
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1)   # 14 -> 7
        self.fc = nn.Linear(2 * channels * 7 * 7, latent)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.fc(x.reshape(x.shape[0], -1))


class Decoder(nn.Module):
    """(N, latent) -> (N, 1, 28, 28) logits of the pixel intensities."""

    def __init__(self, channels: int = 16, latent: int = 32) -> None:
        super().__init__()
        self.channels = channels
        self.fc = nn.Linear(latent, 2 * channels * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(2 * channels, channels, 3, stride=2, padding=1, output_padding=1)
        self.deconv2 = nn.ConvTranspose2d(channels, 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, z: Tensor) -> Tensor:
        x = F.relu(self.fc(z)).reshape(z.shape[0], 2 * self.channels, 7, 7)
        x = F.relu(self.deconv1(x))   # 7 -> 14
        return self.deconv2(x)        # 14 -> 28


class AutoEncoder(nn.Module):
    def __init__(self, channels: int = 16, latent: int = 32) -> None:
        super().__init__()
        self.encoder = Encoder(channels, latent)
        self.decoder = Decoder(channels, latent)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction *logits*; ``sigmoid`` of them are the pixel intensities."""
        return self.decoder(F.relu(self.encoder(x)))


class Classifier(nn.Module):
    """An encoder (pretrained or not) and a small MLP head: (N, 1, 28, 28) -> (N, 10) logits."""

    def __init__(self, encoder: Encoder, latent: int, hidden: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(F.relu(self.encoder(x)))


def classify_step(model: nn.Module, batch: Any) -> tuple[Tensor, dict]:
    x, y = batch
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": accuracy(logits, y)}


class ConvAutoEncoder(Experiment):
    """A convolutional autoencoder on MNIST; then its encoder helps a classifier with 10% of the labels."""

    name = "autoencoder"
    defaults = dict(epochs=20, batch_size=64, lr=2e-3, dataset="mnist_sample")
    quick = dict(epochs=2, max_batches=6, clf_epochs=2)
    dataset_choices = ("mnist_sample", "mnist", "fashion_mnist")
    curve_labels = {"loss": "binary cross-entropy per pixel", "mse": "mean squared error per pixel"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--channels", type=int, default=16, help="channels of the first convolution")
        parser.add_argument("--latent", type=int, default=64, help="size of the bottleneck")
        parser.add_argument("--label-fraction", type=float, default=0.1,
                            help="fraction of the training labels the classifiers may use")
        parser.add_argument("--clf-epochs", type=int, default=15, help="epochs of each classifier")
        parser.add_argument("--clf-lr", type=float, default=1e-3)
        parser.add_argument("--freeze-encoder", action="store_true",
                            help="train only the head on the pretrained features (default: fine-tune all)")

    def load_data(self, args: argparse.Namespace) -> tuple[Any, Any]:
        # images in [0, 1], not standardised: they are the targets of the reconstruction
        train, test = get_dataset(args.dataset, "train"), get_dataset(args.dataset, "test")
        return ImageDataset(*train), ImageDataset(*test)

    def build_model(self, args: argparse.Namespace) -> nn.Module:
        return AutoEncoder(args.channels, args.latent)

    def step(self, model: nn.Module, batch: Any, args: argparse.Namespace) -> tuple[Tensor, dict]:
        x, _ = batch  # the labels are not used
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, x)
        with minigrad.no_grad():
            mse = ((logits.sigmoid() - x) ** 2).mean().item()
        return loss, {"mse": mse}

    # --- phase 2: the encoder as a feature extractor with few labels ------------------------------
    def labelled_subset(self, args: argparse.Namespace) -> ImageDataset:
        """The same ``label_fraction`` of each class for every seed (a fixed draw)."""
        labels = self.train_set.targets
        rng = np.random.default_rng(1234)
        keep = []
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            keep.append(rng.permutation(members)[: max(1, round(args.label_fraction * len(members)))])
        idx = np.sort(np.concatenate(keep))
        return ImageDataset(self.train_set.data[idx], labels[idx])

    def train_classifier(self, encoder: Encoder, labelled: ImageDataset, args: argparse.Namespace,
                         tag: str, freeze: bool = False) -> list[float]:
        """Train encoder + head on the labelled subset (only the head if ``freeze``).

        Returns the test accuracy after every epoch."""
        # the same initial head and the same batch order for both classifiers
        harness.seed_everything(harness.epoch_seed(args.seed, 10_000))
        model = Classifier(encoder, args.latent).to(self.device)
        trained = model.head if freeze else model
        optimizer = optim.Adam(trained.parameters(), lr=args.clf_lr)
        loader = DataLoader(labelled, batch_size=32, shuffle=True)
        test_loader = self.test_loader(args)
        accs = []
        for epoch in range(1, args.clf_epochs + 1):
            harness.seed_everything(harness.epoch_seed(args.seed, 10_000 + epoch))
            harness.train_one_epoch(classify_step, model, optimizer, loader, self.device, f"{tag} {epoch}",
                            args.max_batches)
            test = harness.evaluate_loader(classify_step, model, test_loader, self.device, args.max_batches)
            accs.append(test["acc"])
        print(f"  classifier ({tag}, {len(labelled)} labels): test accuracy {accs[-1]:.2%}")
        return accs

    def finish(self, model: nn.Module, args: argparse.Namespace, out: Path) -> dict:
        labelled = self.labelled = self.labelled_subset(args)
        harness.seed_everything(harness.epoch_seed(args.seed, 20_000))
        fresh = Encoder(args.channels, args.latent)
        pretrained = copy.deepcopy(model.encoder)  # a copy: the autoencoder itself stays as trained
        pretrained_name = "pretrained encoder" + (", frozen" if args.freeze_encoder else "")
        self.transfer = {
            pretrained_name: self.train_classifier(pretrained, labelled, args, "pretrained",
                                                   freeze=args.freeze_encoder),
            "from scratch": self.train_classifier(fresh, labelled, args, "scratch"),
        }
        with open(out / "transfer.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", "pretrained_acc", "scratch_acc"])
            for e, (a, b) in enumerate(zip(*self.transfer.values()), start=1):
                w.writerow([e, format(a, ".6g"), format(b, ".6g")])
        pre, scratch = (np.asarray(v) for v in self.transfer.values())
        return {"labels_used": len(labelled),
                "pretrained_acc": float(pre[-1]), "scratch_acc": float(scratch[-1]),
                "transfer_gain": float(pre[-1] - scratch[-1]),        # after the last epoch
                "transfer_gain_mean": float((pre - scratch).mean())}  # averaged over the epochs

    def pictures(self, model: nn.Module, args: argparse.Namespace, out: Path) -> list[Path]:
        x = self.test_set.data[:: len(self.test_set) // 16][:16]  # spread over the classes
        batch = (minigrad.as_tensor(x), minigrad.as_tensor(np.zeros(len(x))))
        recon = _sigmoid(harness.predict(model, [batch], self.device)[0])
        n = len(next(iter(self.transfer.values())))
        n_test = len(self.test_set)   # the classifiers' evaluation reads at most max_batches batches of it
        if args.max_batches:
            n_test = min(n_test, args.max_batches * args.batch_size)
        return [
            plots.reconstructions(x, recon, out / "reconstructions.png", n=16,
                                  title="test digits (top) and their reconstructions (bottom)"),
            plots.compare_runs(self.transfer, out / "transfer.png", ylabel="test accuracy", chance=0.1,
                               title=f"classifier trained on {len(self.labelled)} labels "
                                     f"({args.label_fraction:.0%} of the training set), {n} epochs: "
                                     "pretrained encoder vs from scratch\n"
                                     f"(test accuracy on {n_test:,} test images)"),
        ]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1 / (1 + exp(-a)), without overflow


def main(argv: list[str] | None = None) -> dict:
    return run(ConvAutoEncoder(), argv)


if __name__ == "__main__":
    main()
