#!/usr/bin/env python3
"""KURE on the Fashion-MNIST CNN: one model for every design?

One command (``make fashion-mnist-kure`` or ``python examples/fashion_mnist/kure_run.py``):
fine-tunes the committed CNN (``weights.pt``) with the KURE regularizer
(``smtgen.torch.kure``, K_T = 1.8, lambda = 1.0) into ``weights_kure.pt`` unless that
file exists (``--finetune`` redoes it), and as a control the same fine-tuning with
lambda = 0 (same seed, epochs and learning rate; not committed, cached under ``out/``).
Then, per model, the kurtosis of every convolution and top-1 under every dense preset
and the exact int8 GEMM, for each weight variant of spec §8 (per-channel, per-tensor,
power-of-two steps, 4-bit weights on the exact path), as quantized and after BatchNorm
recalibration. Each model's grid is cached in ``out/kure_<model>.json`` (``--redo``
recomputes; ``--only`` limits a run to some models, so each can run as a separate job).
Writes ``kure_results.md``, ``kure_results.csv``, ``kure_kurtosis.csv`` and
``kure.png`` once every model's grid is there.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fmnist  # noqa: E402
import smtgen.torch as st  # noqa: E402
from smtgen.torch import kure  # noqa: E402

KURE_WEIGHTS = HERE / "weights_kure.pt"
CALIB_BATCHES = 17
BATCH = 128
MODELS = ["base", "control", "kure"]
LABEL = {"base": "committed CNN", "control": "fine-tuned, λ = 0 (control)", "kure": "fine-tuned with KURE"}
VARIANT_LABEL = {
    "per-channel": "int8 per-channel (reference)",
    "per-tensor": "int8 per-tensor",
    "pow2": "int8 per-channel, power-of-two step",
    "w4": "4-bit weights, exact GEMM",
}


def finetune(images, labels, train_idx, lam: float, args) -> tuple[torch.nn.Module, kure.FinetuneLog]:
    model = fmnist.load_weights(fmnist.Net())
    loader = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=args.seed)
    log = kure.finetune(model, loader, epochs=args.epochs, lam=lam, lr=args.lr, seed=args.seed)
    return model, log


def log_dict(log: kure.FinetuneLog) -> Dict[str, Any]:
    return {
        "lam": log.lam, "target": log.target, "lr": log.lr, "seed": log.seed, "r_start": log.r_start,
        "seconds": log.seconds, "threads": torch.get_num_threads(),
        "epochs": [vars(e) for e in log.epochs],
    }


def load_model(name: str, images, labels, train_idx, args) -> torch.nn.Module:
    """The float model ``name``, fine-tuning it first when its weights are missing."""
    if name == "base":
        return fmnist.load_weights(fmnist.Net())
    path, log_path, lam = (
        (args.kure_weights, args.kure_weights.with_suffix(".json"), kure.LAMBDA) if name == "kure"
        else (args.out / "weights_control.pt", args.out / "weights_control.json", 0.0)
    )
    if args.finetune or not path.exists():
        model, log = finetune(images, labels, train_idx, lam, args)
        torch.save(model.state_dict(), path)
        log_path.write_text(json.dumps(log_dict(log), indent=1) + "\n")
        print(f"{name}: fine-tuned {args.epochs} epoch(s) in {log.seconds:.0f}s; wrote {path}", file=sys.stderr)
        return model
    return fmnist.load_weights(fmnist.Net(), path)


def grid(name: str, images, labels, train_idx, test_sub, args) -> Dict[str, Any]:
    model = load_model(name, images, labels, train_idx, args)
    kurt = [vars(r) | {"shape": list(r.shape)} for r in kure.report(model)]
    test = fmnist.Loader(images, labels, test_sub, batch=250)
    t0 = time.time()
    float_top1 = st.evaluate(model, test, desc=f"{name} float")
    calib = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=1)
    st.quantize(model, calib, batches=CALIB_BATCHES)

    def recal() -> fmnist.Loader:
        return fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=2)

    designs = args.designs.split(",") if args.designs else None
    rep = kure.robustness(model, test, recal, designs=designs, recal_batches=CALIB_BATCHES, float_top1=float_top1)
    return {
        "model": name, "float_top1": float_top1, "kurtosis": kurt, "n_test": len(test_sub),
        "seconds": time.time() - t0, "cells": [vars(c) for c in rep.cells],
    }


def as_report(d: Dict[str, Any]) -> kure.RobustnessReport:
    return kure.RobustnessReport(d["float_top1"], [kure.Cell(**c) for c in d["cells"]])


def chart(results: Dict[str, Dict[str, Any]], path: Path) -> None:
    """Left: top-1 per design for the three 8-bit weight variants (bars as quantized,
    black ticks after BN recalibration). Right: the spread per variant as quantized
    and after recalibration, and 4-bit weights on the exact GEMM against int8."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reps = {m: as_report(results[m]) for m in MODELS}
    variants = [v for v in reps["base"].variants() if v != "w4"]
    designs = reps["base"].designs()
    colors = {"base": "#9e9e9e", "control": "#6baed6", "kure": "#d95f02"}
    everything = [c.top1 for m in MODELS for c in reps[m].cells]
    lo, hi = min(everything), max(everything)
    fig, axes = plt.subplots(3, 2, figsize=(14, 10.5), gridspec_kw={"width_ratios": [4.2, 1.6]})
    width = 0.27
    for row, v in enumerate(variants):
        ax = axes[row][0]
        for j, m in enumerate(MODELS):
            xs = [i + (j - 1) * width for i in range(len(designs))]
            ax.bar(xs, [reps[m].top1(v, d, False) for d in designs], width=width, color=colors[m],
                   label=f"{LABEL[m]}, as quantized" if row == 0 else None)
            ax.plot(xs, [reps[m].top1(v, d, True) for d in designs], linestyle="none", marker="_",
                    markersize=8, markeredgewidth=2, color="black",
                    label="after BN recalibration" if (row == 0 and j == 0) else None)
        ax.set_xticks(range(len(designs)))
        ax.set_xticklabels(designs, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(designs) - 0.4)
        ax.set_ylim(lo - 0.5, hi + 0.5)
        ax.set_ylabel("top-1 (%)")
        ax.set_title(f"weights: {VARIANT_LABEL[v]}", fontsize=10, loc="left")
        ax.grid(axis="y", color="#e0e0e0")
        ax.set_axisbelow(True)
    for row, recal in enumerate([False, True]):
        ax = axes[row][1]
        for j, m in enumerate(MODELS):
            xs = [i + (j - 1) * width for i in range(len(variants))]
            ax.bar(xs, [reps[m].spread(v, recal)[0] for v in variants], width=width, color=colors[m])
        ax.set_xticks(range(len(variants)))
        ax.set_xticklabels(variants, fontsize=8)
        ax.set_ylabel("spread over designs (points)", fontsize=8)
        ax.set_title("spread (max − min), " + ("after BN recal" if recal else "as quantized"), fontsize=9)
        ax.grid(axis="y", color="#e0e0e0")
        ax.set_axisbelow(True)
    ax = axes[2][1]
    if "w4" in reps["base"].variants():
        for j, m in enumerate(MODELS):
            for i, (v, recal) in enumerate([("per-channel", False), ("w4", False), ("w4", True)]):
                ax.bar([i + (j - 1) * width], [reps[m].top1(v, "exact", recal)], width=width, color=colors[m])
        ax.set_xticks(range(3))
        ax.set_xticklabels(["int8", "4-bit", "4-bit\n+ BN recal"], fontsize=8)
        w4 = [reps[m].top1("w4", "exact", r) for m in MODELS for r in (False, True)]
        ref = [reps[m].top1("per-channel", "exact", False) for m in MODELS]
        ax.set_ylim(min(w4 + ref) - 1.0, max(w4 + ref) + 0.8)
        ax.set_ylabel("top-1 (%)", fontsize=8)
        ax.set_title("exact GEMM: 4-bit against 8-bit weights", fontsize=9)
        ax.grid(axis="y", color="#e0e0e0")
        ax.set_axisbelow(True)
    n = results["base"]["n_test"]
    fig.suptitle(f"Fashion-MNIST CNN across smtgen's designs and weight quantizers ({n} test images)", fontsize=12)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.965), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.945))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(results: Dict[str, Dict[str, Any]], args) -> None:
    reps = {m: as_report(results[m]) for m in MODELS}
    with open(args.results / "kure_results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "variant", "design", "bn_recal", "top1"])
        for m in MODELS:
            w.writerow([m, "float", "float", "", f"{reps[m].float_top1:.2f}"])
            for c in reps[m].cells:
                w.writerow([m, c.variant, c.design, int(c.recal), f"{c.top1:.2f}"])
    with open(args.results / "kure_kurtosis.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "layer", "shape", "regularized", "kurtosis"])
        for m in MODELS:
            for r in results[m]["kurtosis"]:
                w.writerow([m, r["name"], "x".join(map(str, r["shape"])), int(r["regularized"]), f"{r['kurtosis']:.4f}"])
    kure_log = args.kure_weights.with_suffix(".json")
    kl = json.loads(kure_log.read_text()) if kure_log.exists() else None
    n = results["base"]["n_test"]
    md: List[str] = [f"Fashion-MNIST, {n} test images (seeded stratified split). Models: "
                     + "; ".join(f"**{m}** = {LABEL[m]}" for m in MODELS) + "."]
    if kl:
        md.append(
            f"Fine-tuning: {len(kl['epochs'])} epoch(s) of the 60k training images, Adam lr {kl['lr']} with cosine "
            f"decay, seed {kl['seed']}, K_T = {kl['target']}, λ = {kl['lam']}: {kl['seconds']:.0f} s on "
            f"{kl['threads']} thread(s); R {kl['r_start']:.3f} → {kl['epochs'][-1]['r_end']:.1e}."
        )
    md += ["", "Kurtosis of every convolution's weights (the first is not regularized):", "",
           "| layer | shape | regularized | " + " | ".join(MODELS) + " |", "|---|---|---|" + "---:|" * len(MODELS)]
    for i, r in enumerate(results["base"]["kurtosis"]):
        ks = [f"{results[m]['kurtosis'][i]['kurtosis']:.3f}" for m in MODELS]
        md.append(f"| {r['name']} | {'×'.join(map(str, r['shape']))} | {'yes' if r['regularized'] else 'no'} | "
                  + " | ".join(ks) + " |")
    md += ["", "Spread (max − min of top-1 over the designs of one weight variant) and the worst design:", "",
           "| weights | BN recal | " + " | ".join(f"{m} spread | {m} worst" for m in MODELS) + " |",
           "|---|---|" + "---:|---|" * len(MODELS)]
    for v in reps["base"].variants():
        for recal in (False, True):
            cells = []
            for m in MODELS:
                s, worst, _ = reps[m].spread(v, recal)
                cells += [f"{s:.2f}", f"{worst.top1:.2f} ({worst.design})"]
            md.append(f"| {v} | {'yes' if recal else 'no'} | " + " | ".join(cells) + " |")
    for recal in (False, True):
        cells = []
        for m in MODELS:
            s, worst, _ = reps[m].spread(None, recal)
            cells += [f"{s:.2f}", f"{worst.top1:.2f} ({worst.variant}, {worst.design})"]
        md.append(f"| **whole family** | {'yes' if recal else 'no'} | " + " | ".join(cells) + " |")
    for m in MODELS:
        md += ["", f"### {m}: {LABEL[m]} (float top-1 {reps[m].float_top1:.2f} %)", "", reps[m].to_markdown()]
    secs = sum(results[m]["seconds"] for m in MODELS)
    md += ["", f"Grids measured in {secs:.0f} s in all (torch on {torch.get_num_threads()} thread(s)); "
           f"BN recalibration: {CALIB_BATCHES} batches of {BATCH} augmented training images; the 2:4-sparse "
           "presets are left out (they need 2:4-pruned weights, another model)."]
    (args.results / "kure_results.md").write_text("\n".join(md) + "\n")
    chart(results, args.results / "kure.png")
    print("\n".join(md))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetune", action="store_true", help="fine-tune again (overwrites weights_kure.pt)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=fmnist.TEST_PER_CLASS,
                    help="test images per class (default all 1000: the 10k split)")
    ap.add_argument("--designs", default="", help="comma-separated designs (default: exact and every dense preset)")
    ap.add_argument("--only", default=",".join(MODELS), help="models to measure in this run")
    ap.add_argument("--redo", action="store_true", help="measure again even when out/kure_<model>.json exists")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="cache of per-model grids (git ignores it)")
    ap.add_argument("--results", type=Path, default=HERE, help="where the tables and the chart go")
    ap.add_argument("--kure-weights", type=Path, default=KURE_WEIGHTS,
                    help="the KURE model's weights (its fine-tuning log goes next to it as .json)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    only = [m for m in args.only.split(",") if m]
    bad = [m for m in only if m not in MODELS]
    if bad:
        ap.error(f"--only {bad}: allowed {MODELS}")
    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    test_sub = fmnist.subset(test_idx, args.per_class, labels)
    results: Dict[str, Dict[str, Any]] = {}
    for m in MODELS:
        cache = args.out / f"kure_{m}.json"
        if m in only and (args.redo or args.finetune or not cache.exists()):
            results[m] = grid(m, images, labels, train_idx, test_sub, args)
            cache.write_text(json.dumps(results[m], indent=1) + "\n")
        elif cache.exists():
            results[m] = json.loads(cache.read_text())
    missing = [m for m in MODELS if m not in results]
    if missing:
        print(f"grids still missing for {missing}: run with --only {','.join(missing)}", file=sys.stderr)
        return 0
    sizes = {results[m]["n_test"] for m in MODELS}
    if len(sizes) != 1:
        print(f"the cached grids were measured on different test sets {sizes}: --redo", file=sys.stderr)
        return 1
    write(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
