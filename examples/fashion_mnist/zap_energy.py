#!/usr/bin/env python3
"""Writes the gate-level energy workload of ZAP skipping on the Fashion-MNIST CNN:
layer ``features.6``'s own GEMM under sysmt2 and the skip masks a trained ZAP
predictor gives it at two operating points, for

    smtgen compare --library osu018 --rows 4 --cols 4 --baseline sysmt2 \\
        --presets sysmt2+array.skip=gate --layer-a OUT/A.npy --layer-w OUT/W.npy \\
        --skip-mask OUT/skip_b<budget>.npy

(docs/zap.md, "Energy of skipping, measured"). The model, quantization, predictors
(mask 4, trained under sysmt2 on the same 12,800 training images, seed 0) and
threshold sweep are those of ``run_zap.py``; the operating points are
``operating_point(curves, budget)`` at ``--budgets``. The workload: ``--images``
test images from ``--first`` (default: the first one) (each a 4×4 output map: 16 rows of A per image),
K = 576 (64 channels × 3×3 taps), the first ``--channels`` output channels. Also
prints each point's skip share on these outputs and on the whole layer over the
10,000 test images (the workload is a sample of it).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np
import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fmnist  # noqa: E402
import run_zap  # noqa: E402
import smtgen.torch as st  # noqa: E402
import smtgen.zap as sz  # noqa: E402

LAYER = "features.6"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--design", default="sysmt2")
    ap.add_argument("--mask", type=int, default=4)
    ap.add_argument("--budgets", default="0.1,0.4")
    ap.add_argument("--images", type=int, default=1)
    ap.add_argument("--first", type=int, default=0, help="the first test image of the workload")
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",") if b]

    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    test_sub = fmnist.subset(test_idx, fmnist.TEST_PER_CLASS, labels)
    model = fmnist.load_weights(fmnist.Net())
    calib = fmnist.Loader(images, labels, train_idx, batch=run_zap.BATCH, shuffle=True, augment=True, seed=1)
    st.quantize(model, calib, batches=run_zap.CALIB_BATCHES, progress=False, verbose=False)
    pristine = copy.deepcopy(model.state_dict())
    perm = np.random.default_rng(args.seed).permutation(train_idx)
    tb, sb, b = run_zap.TRAIN_BATCHES, run_zap.SWEEP_BATCHES, run_zap.BATCH
    zap_train = fmnist.Loader(images, labels, perm[: tb * b], batch=b)
    zap_sweep = fmnist.Loader(images, labels, perm[tb * b:(tb + sb) * b], batch=b)
    test = fmnist.Loader(images, labels, test_sub, batch=250)
    model.load_state_dict(pristine)
    st.simulate(model, args.design)
    sk = sz.attach_zap(model, run_zap.LAYERS, mask_type=args.mask, seed=args.seed,
                       example_input=torch.zeros(1, 1, 28, 28))
    sz.train_zap(sk, zap_train, batches=tb, seed=args.seed, progress=False)
    curves = sz.sweep(sk, zap_sweep, batches=sb, progress=False)

    q = dict(model.named_modules())[LAYER]
    assert isinstance(q, st.QuantLayer)
    x = fmnist.to_tensor(images[test_sub[args.first: args.first + args.images]])
    seen = {}
    h = q.register_forward_hook(lambda m, i, o: seen.__setitem__("x", i[0].detach().clone()))
    sk.enable(False)
    with torch.no_grad():
        model(x)
    h.remove()
    a, w = sz.gemm_operands(q, seen["x"])
    w = np.ascontiguousarray(w[:, : args.channels])
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "A.npy", a)
    np.save(args.out / "W.npy", w)
    print(f"{LAYER} under {args.design}: A {a.shape} ({100 * (a == 0).mean():.1f} % zeros), W {w.shape} "
          f"-> {args.out}")
    sk.enable(True).record_masks()
    for budget in budgets:
        op = sz.operating_point(curves, budget)
        sk.set_thresholds(op.thresholds)
        sk.reset_stats()
        top1 = st.evaluate(model, test, progress=False)
        rep = sk.report()
        layer = next(r for r in rep.layers if r.layer == LAYER)
        with torch.no_grad():
            model(x)
        mask = np.ascontiguousarray(sk.skip_mask(LAYER)[:, : args.channels])
        name = f"skip_b{budget:g}.npy"
        np.save(args.out / name, mask)
        th = ", ".join(f"{n} {'off' if t is None else f'{t:+.3f}'}" for n, t in op.thresholds.items())
        print(f"budget {budget:g}: thresholds {th}; top-1 {top1:.2f}; {LAYER} skips {100 * layer.skipped_share:.1f} % "
              f"of its outputs over {len(test_sub)} test images; the workload's mask skips "
              f"{100 * mask.mean():.1f} % ({int(mask.sum())} of {mask.size}) -> {name}; whole network "
              f"{100 * (rep.network_saved_share() or 0):.1f} % of MACs saved net")
    sk.detach()
    return 0


if __name__ == "__main__":
    sys.exit(main())
