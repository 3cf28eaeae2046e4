#!/usr/bin/env python3
"""What the skipping hooks of ``smtgen.zap`` cost per forward pass, against the same
network without them (a ratio measured in the same run).

The network: a 3x3 conv and ReLU, then six blocks of 1x1 conv 16->96, BN, ReLU6,
1x1 conv 96->16, BN, ReLU (EfficientNet-like channel counts on 28x28 maps), batch
15, every conv after the first simulated under int8 (``exact``), one thread. A
predictor on each of the 12 chains after the first: cross-neuron (checkerboard,
N = 4, k = 3), the Oracle, ZAP (untrained, threshold 0). Prints seconds per pass
(mean of ``--repeat``) and the ratio to the plain pass; ``--profile METHOD`` adds a
cProfile of that method's passes; ``--save DIR`` writes each method's output, to
check that a change to the hooks leaves them bit-identical (``torch.equal``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch
import torch.nn as nn

import smtgen.torch as st
import smtgen.zap as sz


def network() -> Tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    layers: List[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()]
    for _ in range(6):
        layers += [nn.Conv2d(16, 96, 1, bias=False), nn.BatchNorm2d(96), nn.ReLU6(),
                   nn.Conv2d(96, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    model = nn.Sequential(*layers).eval()
    x = torch.rand(15, 3, 28, 28)
    st.quantize(model, [x], batches=1, verbose=False, progress=False)
    st.simulate(model, "exact")
    return model, x


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", default="", help="cross-neuron | oracle | zap")
    ap.add_argument("--save", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, x = network()
    chains = [c.conv for c in sz.find_chains(model)][1:]

    def run() -> Tuple[float, torch.Tensor]:
        t = time.perf_counter()
        with torch.no_grad():
            for _ in range(args.repeat):
                y = model(x)
        return (time.perf_counter() - t) / args.repeat, y

    run()  # warm-up: the layer caches prepare the weights once
    base, _ = run()
    secs: Dict[str, float] = {"plain": base}
    makers: Dict[str, Callable[[], sz.Skipper]] = {
        "cross-neuron": lambda: sz.attach_cross_neuron(model, chains, 5, 4, 3),
        "oracle": lambda: sz.attach(model, {n: sz.Oracle(5) for n in chains}),
        "zap": lambda: sz.attach_zap(model, chains, 5, seed=0),
    }
    for name, make in makers.items():
        sk = make()
        secs[name], y = run()
        if name == args.profile:
            pr = cProfile.Profile()
            pr.enable()
            run()
            pr.disable()
            pstats.Stats(pr).sort_stats("tottime").print_stats(15)
        if args.save is not None:
            args.save.mkdir(parents=True, exist_ok=True)
            torch.save(y, args.save / f"{name}.pt")
        sk.detach()
    for name, s in secs.items():
        print(f"{name:<13} {1000 * s:8.1f} ms per pass  {s / base:5.2f}x plain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
