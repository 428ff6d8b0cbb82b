"""The frozen digit classifier that scores generated images: classifier IS, FID and label accuracy.

    from models._digit_scorer import load_scorer
    scorer = load_scorer("mnist_sample")           # trains once (seconds), then loads from the cache
    scorer.score(samples)                          # {"classifier_is": ..., "classifier_fid": ...}
    scorer.real_floor()                            # the same numbers for 1,000 real test digits

A GAN has no likelihood to report, so its samples are judged by a classifier: an MLP
784-128-64-10 (ReLU; 64-10 for 8x8 digits) trained once, with seed 0, on the training split
(stratified 80/20, seed 0: mnist5k 4,000 / digits 1,437) of the same data the GANs learn. It is
*frozen*: scores are comparable only when they come from the same weights, so every score carries
``scorer.hash`` (the first 12 hex digits of the SHA-256 of its weights), and the weights are cached
in ``minigrad.utils.datasets.data_dir() / "scorers"`` (written atomically, verified on load).

With p(y|x) the classifier's softmax on sample x and p(y) = mean_x p(y|x) over the n samples:

    classifier_is  = exp( mean_x KL(p(y|x) || p(y)) )        1 (one class or blurry) .. 10 (sharp, balanced)
    classifier_fid = |mu_s - mu_r|^2 + tr(S_s + S_r - 2 (S_s S_r)^(1/2))

where (mu, S) are the mean and covariance of the 64 penultimate (post-ReLU) features of the samples
(s) and of the real *training* images (r). IS is blind to memorisation (10 training images repeated
score well); FID catches it. Always print them beside ``real_floor()``: 1,000 real *test* images
scored the same way (the anchors' sklearn MLP(128, 64) gives IS 9.26 / FID 0.97 on mnist5k).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

import minigrad
from minigrad import nn
from minigrad.serialization import CheckpointError, load, save
from minigrad.utils.datasets import data_dir, get_dataset

__all__ = ["DigitScorer", "load_scorer", "inception_score", "frechet_distance"]

SCORER_VERSION = 1
HIDDEN = (128, 64)
EPOCHS = 30
BATCH = 64
LR = 1e-3


def _split(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): images (N, D) float32 in [0, 1], the anchors' split."""
    from .vae import stratified_split

    images, labels = get_dataset(dataset, "all")
    x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    y = np.asarray(labels, dtype=np.int64)
    train, test = stratified_split(y, 0.2, seed=0)
    return x[train], y[train], x[test], y[test]


def _mlp(in_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, HIDDEN[0]), nn.ReLU(),
                         nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], 10))


def weights_hash(state: dict) -> str:
    """First 12 hex digits of the SHA-256 of the weights (names, shapes and float32 bytes, in order)."""
    h = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        a = np.ascontiguousarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value,
                                 dtype=np.float32)
        h.update(name.encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:12]


def inception_score(probs: np.ndarray) -> float:
    """exp(mean_i KL(p(y|x_i) || p(y))) of class probabilities (n, K); 1 <= IS <= K."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def _sqrtm_trace(a: np.ndarray, b: np.ndarray) -> float:
    """tr((A B)^(1/2)) for symmetric PSD A, B (A B has the eigenvalues of the PSD A^(1/2) B A^(1/2))."""
    w, v = np.linalg.eigh(a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = root_a @ b @ root_a
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None))))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Frechet distance of two Gaussians: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))."""
    d = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * _sqrtm_trace(cov1, cov2))
    return max(d, 0.0)


def _stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


class DigitScorer:
    """The frozen classifier of one dataset; see the module docstring for the scores."""

    def __init__(self, dataset: str, model: nn.Sequential, hash_: str) -> None:
        self.dataset = dataset
        self.model = model.eval()
        self.hash = hash_
        self.x_train, self.y_train, self.x_test, self.y_test = _split(dataset)
        self.num_pixels = self.x_train.shape[1]
        self._train_stats = _stats(self.features(self.x_train))
        self._floor: dict | None = None

    def _flat(self, images: Any) -> np.ndarray:
        x = np.asarray(images.numpy() if hasattr(images, "numpy") else images, dtype=np.float32)
        x = x.reshape(len(x), -1)
        if x.shape[1] != self.num_pixels:
            raise ValueError(f"DigitScorer({self.dataset}): images must have {self.num_pixels} pixels each, "
                             f"got shape {np.shape(images)}")
        return x

    def _forward(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """(features (N, 64), probabilities (N, 10)) of images in [0, 1], any shape (N, ...)."""
        x = self._flat(images)
        feats, logits = [], []
        with minigrad.no_grad():
            for i in range(0, len(x), 500):
                h = self.model[:4](minigrad.tensor(x[i:i + 500]))
                feats.append(h.numpy())
                logits.append(self.model[4](h).numpy())
        z = np.concatenate(logits).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return np.concatenate(feats), p / p.sum(axis=1, keepdims=True)

    def features(self, images: Any) -> np.ndarray:
        return self._forward(images)[0]

    def probs(self, images: Any) -> np.ndarray:
        return self._forward(images)[1]

    def score(self, images: Any) -> dict[str, float]:
        """classifier_is and classifier_fid (against the training images' features) of n samples."""
        feats, probs = self._forward(images)
        mu, cov = _stats(feats)
        return {"classifier_is": inception_score(probs),
                "classifier_fid": frechet_distance(mu, cov, *self._train_stats)}

    def label_accuracy(self, images: Any, labels: Any) -> float:
        """Fraction of images that the classifier assigns to the requested label (for conditional models)."""
        return float(np.mean(self.probs(images).argmax(axis=1) == np.asarray(labels)))

    def test_accuracy(self) -> float:
        return self.label_accuracy(self.x_test, self.y_test)

    def real_floor(self) -> dict[str, float]:
        """The scores of the real test images (mnist5k: 1,000; digits: 360): what a perfect model gets."""
        if self._floor is None:
            self._floor = {f"real_{k}": v for k, v in self.score(self.x_test).items()}
        return self._floor


def _train(dataset: str) -> nn.Sequential:
    x, y, _, _ = _split(dataset)
    minigrad.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _mlp(x.shape[1])
    opt = minigrad.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            loss = loss_fn(model(minigrad.tensor(x[idx])), minigrad.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def cache_path(dataset: str) -> Path:
    return data_dir() / "scorers" / f"{dataset}-mlp{HIDDEN[0]}x{HIDDEN[1]}-v{SCORER_VERSION}.ckpt"


_LOADED: dict[str, DigitScorer] = {}


def load_scorer(dataset: str = "mnist_sample") -> DigitScorer:
    """The frozen scorer of ``dataset`` ("mnist_sample" or "digits"): cached, else trained (seconds)."""
    if dataset in _LOADED:
        return _LOADED[dataset]
    path = cache_path(dataset)
    model = None
    if path.is_file():
        try:
            ckpt = load(path)
            model = _mlp(ckpt["in_features"])
            model.load_state_dict(ckpt["state"])
            if weights_hash(model.state_dict()) != ckpt["hash"]:
                raise CheckpointError(f"{path}: weights do not match their recorded hash")
        except (CheckpointError, KeyError) as e:
            print(f"digit scorer: {e}; retraining")
            model = None
    if model is None:
        model = _train(dataset)
        save({"in_features": model[0].in_features, "state": model.state_dict(),
              "hash": weights_hash(model.state_dict())}, path)
    scorer = DigitScorer(dataset, model, weights_hash(model.state_dict()))
    _LOADED[dataset] = scorer
    return scorer


def describe(scorer: DigitScorer) -> str:
    """One line to print beside every score: which classifier, its accuracy, and the real-data floor."""
    floor = scorer.real_floor()
    return (f"scorer {scorer.dataset} MLP{HIDDEN} #{scorer.hash} (test acc {scorer.test_accuracy():.3f}); "
            f"real test data: IS {floor['real_classifier_is']:.2f}, FID {floor['real_classifier_fid']:.2f}")


if __name__ == "__main__":
    import time

    for name in ("digits", "mnist_sample"):
        t0 = time.perf_counter()
        s = load_scorer(name)
        print(describe(s), f"({time.perf_counter() - t0:.1f} s)")
        x = s.x_train
        mu, cov = x.mean(0), np.cov(x, rowvar=False)
        g = np.clip(np.random.default_rng(0).multivariate_normal(mu, cov, size=1000), 0, 1)
        one = s.x_test[s.y_test == 1][:1].repeat(1000, axis=0)
        ten = s.x_train[:10].repeat(100, axis=0)
        noisy = np.clip(s.x_test + np.random.default_rng(1).normal(0, 0.1, s.x_test.shape), 0, 1)
        for label, imgs in [("full-cov Gaussian", g), ("only one image of a 1", one),
                            ("10 train images repeated", ten), ("real + N(0, 0.1)", noisy)]:
            sc = s.score(imgs)
            print(f"  {label:26s} IS {sc['classifier_is']:6.2f}  FID {sc['classifier_fid']:8.2f}")

