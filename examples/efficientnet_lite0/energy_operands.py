#!/usr/bin/env python3
"""Writes the energy workload behind ``energy_osu018_4x4.csv``: one of EfficientNet-Lite0's
own layers, ``_blocks.1._project_conv``, as quantized operands ``A.npy`` (16 output
pixels x K = 96 input channels, uint8) and ``W.npy`` (96 x its first 16 output
channels, int8), for

    smtgen compare --library osu018 --rows 4 --cols 4 --layer-a OUT/A.npy --layer-w OUT/W.npy

Inputs: 48 seeded augmented photographs (seed 0), calibration on the first 32 in two
batches of 16, the layer's input on image 40, 16 pixels drawn with seed 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import enet  # noqa: E402
import smtgen.torch as st  # noqa: E402

LAYER = "_blocks.1._project_conv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    model = enet.load_model()
    xs = enet.augmented_set(48, 0)
    st.quantize(model, enet.batches(xs[:32], 16), batches=2, unsupported="float", progress=False, verbose=False)
    q = {l.name: l for l in st.quant_layers(model)}[LAYER]
    cap = {}
    h = q.register_forward_hook(lambda mod, i, o: cap.__setitem__("x", i[0]))
    st.simulate(model, "exact")
    with torch.no_grad():
        model(xs[40:41])
    h.remove()
    xq = q.quantize_input(cap["x"])
    c = xq.shape[1]
    a = xq[0].permute(1, 2, 0).reshape(-1, c)
    rows = np.random.default_rng(1).choice(a.shape[0], 16, replace=False)
    A = np.ascontiguousarray(a[rows].numpy().astype(np.uint8))
    W = np.ascontiguousarray(q._wq.reshape(q._wq.shape[0], c).t()[:, :16].numpy().astype(np.int8))
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "A.npy", A)
    np.save(args.out / "W.npy", W)
    print(f"{LAYER}: A {A.shape} ({100 * (A == 0).mean():.0f} % zeros), W {W.shape} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
