#!/usr/bin/env python3
"""Skipping outputs predicted zero on a pretrained mobile network: EfficientNet-Lite0.

``make efficientnet-zap`` (or ``.venv/bin/python examples/efficientnet_lite0/zap.py``):
the model, photographs and seeded inputs of ``run.py`` (``enet.py``: 512 inputs,
256 for calibration and BN recalibration, 256 for evaluation), quantized the same
way; then, under the int8 baseline (exact), sysmt2 and sysmt4:

* cross-neuron prediction over mask type, neighbourhood (4/8) and k, on every
  conv → BN → ReLU6 chain (stem, the expansion 1×1 convs, the depthwise convs,
  the head): it costs no MACs;
* ZAP over mask types and operating points (budgets of summed lost mass), on the
  chains whose conv has at least ``--zap-min-macs`` MACs per output (a ZAP
  predictor costs 18 per output: on a depthwise conv, 9 per output, it costs twice
  what it could save);
* the Oracle (skips exactly the zeros outside the mask): the ceiling;

each measured as agreement of the top-1 class with the float model on the 256
evaluation inputs (no ImageNet labels here), with and without one BN
recalibration pass (predictors on), and the whole network's MACs saved net of the
predictors' MACs; then energy per inference from the per-design pJ/MAC of
``energy_osu018_4x4.csv`` (docs/networks.md).

Writes ``zap_results.csv``, ``zap_results.md`` and ``zap.png`` into ``--out``
(default: this directory); ``--chart-only CSV`` redraws chart and tables.
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import enet  # noqa: E402
import smtgen.torch as st  # noqa: E402
import smtgen.zap as sz  # noqa: E402

ENERGY_CSV = HERE / "energy_osu018_4x4.csv"
DESIGN_LABEL = {"exact": "int8 (exact)", "sysmt2": "sysmt2", "sysmt4": "sysmt4"}
ENERGY_ROW = {"exact": "baseline", "sysmt2": "sysmt2", "sysmt4": "sysmt4"}
# The grid, in the order it runs (a run stopped early keeps the first phases):
# phase 1, int8: no skipping (± BN pass), cross-neuron mask 5 N=4 k=3 (± BN pass),
# the Oracle, ZAP mask 4 trained and its operating points at the main budgets (one
# ± BN pass); phase 2, sysmt2 and sysmt4: no skipping (± BN pass), the same
# cross-neuron rule, and int8's ZAP predictors and thresholds under the design (a
# predictor reads what the design computed; it is not retrained per design);
# phase 3, int8: the rest of the cross-neuron grid, the other budgets, ZAP mask 5;
# phase 4, sysmt2 and sysmt4: cross-neuron and ZAP after the BN pass.
CN_MAIN: Tuple[int, int, int] = (5, 4, 3)
CN_MORE: List[Tuple[int, int, int]] = [(5, 4, 2), (5, 4, 4), (6, 8, 3), (6, 8, 4), (6, 4, 3), (3, 8, 4)]
ZAP_MAIN_MASK = 4
ZAP_MORE_MASKS = [5]
BUDGETS_MAIN = [0.4, 1.0]
BUDGETS_MORE = [0.15, 2.0]
RECAL_BUDGET = 0.4
ORACLE_MASKS = [5, 4]
FIELDS = ["design", "method", "mask", "share_exact", "param", "budget", "recal", "agree", "skipped", "zero",
          "saved_net", "saved_gross", "predictor_share", "mispred_share", "lost_mass", "layers", "macs_computed",
          "energy_uj", "energy_dense_uj", "secs"]


def pj_per_mac() -> Dict[str, float]:
    """pJ/MAC per design from this example's gate-level energy table."""
    out: Dict[str, float] = {}
    with open(ENERGY_CSV, newline="") as f:
        for r in csv.DictReader(f):
            out[r["design"]] = float(r["pJ/MAC"])
    return out


def conv_macs(model: nn.Module, x: torch.Tensor) -> Dict[str, int]:
    """MACs per image of every conv/linear (simulated layers by their own name)."""
    macs: Dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        inner = m.layer if isinstance(m, st.QuantLayer) else m
        if isinstance(m, st.QuantLayer) or (isinstance(m, (nn.Conv2d, nn.Linear))
                                            and not any(isinstance(p, st.QuantLayer) and p.layer is m
                                                        for p in model.modules())):
            def hook(mod: nn.Module, inp: Any, out: torch.Tensor, name: str = name, inner: nn.Module = inner) -> None:
                if isinstance(inner, nn.Conv2d):
                    per = inner.in_channels // inner.groups * inner.kernel_size[0] * inner.kernel_size[1]
                else:
                    assert isinstance(inner, nn.Linear)
                    per = inner.in_features
                macs[name] = out[0].numel() * per
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model.eval()
        model(x[:1])
    for h in hooks:
        h.remove()
    return macs


class Bench:
    """The quantized model, its pristine state, the data and the float reference."""

    def __init__(self, args: argparse.Namespace):
        self.model = enet.load_model()
        xs = enet.augmented_set(args.n, args.seed)
        half = args.n // 2
        self.calib = enet.batches(xs[:half], args.batch)
        self.evalb = enet.batches(xs[half:], args.batch)
        self.nrecal = min(17, len(self.calib))
        with torch.no_grad():
            self.float_top = torch.cat([self.model(b).argmax(1) for b in self.evalb])
        self.qrep = st.quantize(self.model, self.calib, batches=self.nrecal, unsupported="float",
                                max_elements=1 << 26, progress=False)
        self.pristine = copy.deepcopy(self.model.state_dict())
        # Predictor training and the threshold sweep: disjoint slices of the calibration inputs.
        self.train = self.calib[: args.train_batches]
        self.sweep = self.calib[args.train_batches: args.train_batches + args.sweep_batches]
        self.chains = sz.find_chains(self.model)
        mods = dict(self.model.named_modules())
        self.per_output = {}
        for c in self.chains:
            m = mods[c.conv]
            conv = m.layer if isinstance(m, st.QuantLayer) else m
            self.per_output[c.conv] = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        self.macs = conv_macs(self.model, self.evalb[0])
        self.simulated = {q.name for q in st.quant_layers(self.model) if q.name in self.macs}
        self.net_macs = sum(self.macs.values())
        self.example = self.evalb[0][:1]

    def fresh(self, design: str) -> None:
        self.model.load_state_dict(self.pristine)
        st.simulate(self.model, design)
        self.model.eval()

    def measure(self, sk: Optional[sz.Skipper]) -> Dict[str, Any]:
        if sk is not None:
            sk.reset_stats()
        self.model.eval()
        with torch.no_grad():
            top = torch.cat([self.model(b).argmax(1) for b in self.evalb])
        row: Dict[str, Any] = {"agree": 100.0 * float((top == self.float_top).float().mean())}
        if sk is None:
            row.update(skipped=0.0, zero=None, saved_net=0.0, saved_gross=0.0, predictor_share=0.0,
                       mispred_share=0.0, lost_mass=0.0, layers=0, saved_macs={}, overhead_macs=0.0)
            return row
        rep = sk.report()
        print(rep, file=sys.stderr)
        t = rep.total
        n = max(t.images, 1)
        row.update(
            skipped=t.skipped_share, zero=t.zero_share, saved_net=rep.network_saved_share(True),
            saved_gross=rep.network_saved_share(False), predictor_share=t.overhead_macs / n / self.net_macs,
            mispred_share=t.mispredicted / max(t.outputs, 1), lost_mass=t.lost_mass_share, layers=len(rep.layers),
            saved_macs={r.layer: r.macs_saved / n for r in rep.layers}, overhead_macs=t.overhead_macs / n,
        )
        return row


def energy(bench: Bench, design: str, pj: Dict[str, float], saved: Dict[str, float],
           overhead: float) -> Tuple[float, float, float]:
    """(µJ with skipping, µJ dense, MACs computed) per inference: the simulated layers
    (depthwise and projection convs) at the design's pJ/MAC, every other conv/linear
    (the float ones: stem, expansion convs, head, classifier) and the predictors at
    the baseline's; a skipped MAC at 0 pJ."""
    dense = skip = 0.0
    for name, macs in bench.macs.items():
        e = pj[ENERGY_ROW[design]] if name in bench.simulated else pj["baseline"]
        dense += e * macs
        skip += e * (macs - saved.get(name, 0.0))
    skip += pj["baseline"] * overhead
    return skip / 1e6, dense / 1e6, bench.net_macs - sum(saved.values()) + overhead


def run(args: argparse.Namespace) -> List[Dict[str, Any]]:
    t0 = time.time()
    bench = Bench(args)
    pj = pj_per_mac()
    print(f"setup {time.time() - t0:.0f} s; chains: {len(bench.chains)}; network MACs/image {bench.net_macs:,}",
          file=sys.stderr)
    cn_layers = [c.conv for c in bench.chains]
    zap_layers = [c.conv for c in bench.chains if bench.per_output[c.conv] >= args.zap_min_macs]
    print(f"cross-neuron on {len(cn_layers)} chains, ZAP on {len(zap_layers)}: {zap_layers}", file=sys.stderr)
    rows: List[Dict[str, Any]] = []
    designs = [d for d in args.designs.split(",") if d]
    csv_path = args.out / "zap_results.csv"
    if args.resume and csv_path.exists():
        rows = read_csv(csv_path)
        print(f"resuming: {len(rows)} points already in {csv_path}", file=sys.stderr)
    have = {(str(r["design"]), str(r["method"]), str(r["mask"]), str(r["param"]), budget_key(r["budget"]), int(r["recal"]))
            for r in rows}

    class _OutOfTime(Exception):
        pass

    def todo(d: str, method: str, mask: Any, param: str, budget: Any, rc: int) -> bool:
        """Whether a point is still to measure; past --max-seconds, stop the run."""
        if (d, method, str(mask), param, budget_key(budget), rc) in have:
            return False
        if args.max_seconds and time.time() - t0 > args.max_seconds:
            raise _OutOfTime
        return True

    def emit(design: str, method: str, mask: Any, param: str, budget: Any, recal: int, m: Dict[str, Any],
             secs: float) -> None:
        e, ed, mc = energy(bench, design, pj, m.pop("saved_macs"), m.pop("overhead_macs"))
        row = {"design": design, "method": method, "mask": mask,
               "share_exact": sz.mask_share(mask) if isinstance(mask, int) else "", "param": param,
               "budget": budget, "recal": recal, **m, "macs_computed": mc, "energy_uj": e, "energy_dense_uj": ed,
               "secs": round(secs, 1)}
        rows.append(row)
        have.add((design, method, str(mask), param, budget_key(budget), recal))
        write_csv(rows, csv_path)  # as it goes: a stopped run keeps what finished
        print(f"[{time.time() - t0:6.0f} s] {design:7s} {method:12s} mask {mask!s:3s} {param:10s} "
              f"budget {budget!s:5s} recal {recal}: agree {m['agree']:.2f} %, saved {100 * m['saved_net']:.1f} %"
              f" ({secs:.0f} s)", file=sys.stderr, flush=True)

    def recal() -> None:
        st.recalibrate_bn(bench.model, bench.calib, batches=bench.nrecal, progress=False)

    def none(d: str) -> None:
        for rc in (0, 1):
            if not todo(d, "none", "", "", "", rc):
                continue
            t = time.time()
            bench.fresh(d)
            if rc:
                recal()
            emit(d, "none", "", "", "", rc, bench.measure(None), time.time() - t)

    def cross_neuron(d: str, config: Tuple[int, int, int], recals: Sequence[int]) -> None:
        mask, nb, k = config
        for rc in recals:
            if not todo(d, "cross-neuron", mask, f"n{nb} k{k}", "", rc):
                continue
            t = time.time()
            bench.fresh(d)
            sk = sz.attach_cross_neuron(bench.model, cn_layers, mask, nb, k, example_input=bench.example)
            if rc:
                recal()
            emit(d, "cross-neuron", mask, f"n{nb} k{k}", "", rc, bench.measure(sk), time.time() - t)
            sk.detach()

    def oracle(d: str, mask: int) -> None:
        if not todo(d, "oracle", mask, "", "", 0):
            return
        t = time.time()
        bench.fresh(d)
        sk = sz.attach(bench.model, {n: sz.Oracle(mask) for n in cn_layers}, bench.example)
        emit(d, "oracle", mask, "", "", 0, bench.measure(sk), time.time() - t)
        sk.detach()

    def train(mask: int) -> Tuple[sz.Skipper, sz.Curves]:
        t = time.time()
        bench.fresh("exact")
        sk = sz.attach_zap(bench.model, zap_layers, mask_type=mask, seed=args.seed, example_input=bench.example)
        sz.train_zap(sk, bench.train, batches=len(bench.train), seed=args.seed, progress=False)
        curves = sz.sweep(sk, bench.sweep, batches=len(bench.sweep), progress=False)
        print(f"[{time.time() - t0:6.0f} s] ZAP mask {mask}: trained and swept under int8 in {time.time() - t:.0f} s",
              file=sys.stderr, flush=True)
        return sk, curves

    def zap(d: str, mask: int, sk: sz.Skipper, curves: sz.Curves, budget: float, recals: Sequence[int]) -> None:
        try:
            op = sz.operating_point(curves, budget)
        except ValueError as e:
            print(f"  ZAP mask {mask} budget {budget}: {e}", file=sys.stderr)
            return
        print(f"  ZAP mask {mask} budget {budget}: thresholds "
              f"{ {n: None if v is None else round(v, 3) for n, v in op.thresholds.items()} }", file=sys.stderr)
        for rc in recals:
            if not todo(d, "ZAP", mask, "", budget, rc):
                continue
            t = time.time()
            bench.fresh(d)  # the predictors stay attached (hooks survive load_state_dict)
            sk.set_thresholds(op.thresholds)
            sk.enable(True)
            if rc:
                recal()
            emit(d, "ZAP", mask, "", budget, rc, bench.measure(sk), time.time() - t)
        sk.enable(False)

    try:
        main_sk: Optional[Tuple[sz.Skipper, sz.Curves]] = None
        if "exact" in designs:  # phase 1
            none("exact")
            cross_neuron("exact", CN_MAIN, (0, 1))
            for mask in ORACLE_MASKS:
                oracle("exact", mask)
            main_sk = train(ZAP_MAIN_MASK)
            for b in BUDGETS_MAIN:
                zap("exact", ZAP_MAIN_MASK, *main_sk, b, (0, 1) if b == RECAL_BUDGET else (0,))
        for d in designs:  # phase 2
            if d == "exact":
                continue
            none(d)
            cross_neuron(d, CN_MAIN, (0,))
            if main_sk is not None:
                for b in BUDGETS_MAIN:
                    zap(d, ZAP_MAIN_MASK, *main_sk, b, (0,))
        if "exact" in designs:  # phase 3
            for c in CN_MORE:
                cross_neuron("exact", c, (0,))
            if main_sk is not None:
                for b in BUDGETS_MORE:
                    zap("exact", ZAP_MAIN_MASK, *main_sk, b, (0,))
            for mask in ZAP_MORE_MASKS:
                sk, curves = train(mask)
                for b in BUDGETS_MAIN + BUDGETS_MORE:
                    zap("exact", mask, sk, curves, b, (0,))
                sk.detach()
        for d in designs:  # phase 4: the designs' skipping points after the BN pass
            if d == "exact":
                continue
            cross_neuron(d, CN_MAIN, (1,))
            if main_sk is not None:
                main_sk[0].enable(True)
                zap(d, ZAP_MAIN_MASK, *main_sk, RECAL_BUDGET, (1,))
    except _OutOfTime:
        print(f"--max-seconds {args.max_seconds} reached: stopped; --resume continues", file=sys.stderr)
    print(f"total {time.time() - t0:.0f} s", file=sys.stderr)
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def write_csv(rows: Sequence[Dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(r.get(k)) for k in FIELDS})


def budget_key(b: Any) -> str:
    """A budget as a resume key: the CSV holds 1.0 as "1", so compare canonical forms."""
    return "" if b in ("", None) else f"{float(b):g}"


def read_csv(path: Path) -> List[Dict[str, Any]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def chart(rows: Sequence[Dict[str, Any]], path: Path) -> None:
    """Agreement with float against whole-network MACs saved (net of predictors): one
    column per design, as attached (top) and after one BN pass (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(str(r["design"]) for r in rows))
    fig, axes = plt.subplots(2, len(designs), figsize=(max(9.0, 4.8 * len(designs)), 8.6), sharex=True,
                             sharey=True, squeeze=False)
    zap_colors = {5: "#2171b5", 4: "#238b45", 6: "#08306b", 3: "#807dba"}
    cn_markers = {5: "o", 6: "s", 3: "^"}
    handles: Dict[str, Any] = {}
    for col, d in enumerate(designs):
        for rec in (0, 1):
            ax = axes[rec][col]
            sub = [r for r in rows if r["design"] == d and int(r["recal"]) == rec]
            for r in sub:
                if r["method"] == "none":
                    handles["no skipping"] = ax.axhline(float(r["agree"]), color="grey", lw=1, ls=":")
            for mask, color in zap_colors.items():
                pts = sorted((100 * float(r["saved_net"]), float(r["agree"])) for r in sub
                             if r["method"] == "ZAP" and str(r["mask"]) == str(mask))
                if pts:
                    h, = ax.plot(*zip(*pts), "-", marker=".", color=color, lw=1.5)
                    handles[f"ZAP, mask {mask} ({100 * sz.mask_share(mask):.0f} % exact), budgets"] = h
            for mask, marker in cn_markers.items():
                for nb, face in ((4, "#d94801"), (8, "none")):
                    pts = [(100 * float(r["saved_net"]), float(r["agree"])) for r in sub
                           if r["method"] == "cross-neuron" and str(r["mask"]) == str(mask)
                           and str(r["param"]).startswith(f"n{nb} ")]
                    if pts:
                        h = ax.scatter(*zip(*pts), marker=marker, s=30, facecolors=face, edgecolors="#d94801")
                        handles[f"cross-neuron, mask {mask}, {nb}-neighbourhood (k varies)"] = h
            pts = [(100 * float(r["saved_net"]), float(r["agree"])) for r in sub if r["method"] == "oracle"]
            if pts:
                handles["Oracle (ceiling, masks 5 and 4)"] = ax.scatter(*zip(*pts), marker="*", s=60, color="black")
            ax.grid(True, color="#e0e0e0", lw=0.6)
            ax.set_title(f"{DESIGN_LABEL.get(d, d)}, {'after one BN pass' if rec else 'as attached'}", fontsize=10)
            if rec == 1:
                ax.set_xlabel("MACs saved, whole network, net of predictors (%)")
            if col == 0:
                ax.set_ylabel("top-1 agreement with float, 256 inputs (%)")
    axes[0][0].set_xlim(left=0)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.01))
    fig.suptitle("EfficientNet-Lite0 (pretrained): skipping outputs predicted zero\n"
                 "after conv → BN → ReLU6 (256 inputs; agreement of the top-1 class with float)", fontsize=11)
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tables(rows: Sequence[Dict[str, Any]]) -> str:
    """Markdown tables of the result rows (CSV strings or values)."""

    def pct(v: Any, spec: str = ".1f") -> str:
        return "—" if v in (None, "") else format(100 * float(v), spec)

    def find(d: str, method: str, mask: Any, param: Any, budget: Any, rc: int) -> Optional[Dict[str, Any]]:
        for r in rows:
            if (r["design"] == d and r["method"] == method and str(r["mask"]) == str(mask)
                    and str(r["param"]) == str(param) and str(r["budget"]) == str(budget) and int(r["recal"]) == rc):
                return r
        return None

    out = ["| design | method | mask (exact %) | parameter | skipped % of outputs | MACs saved % (net) | "
           "predictor MACs % | mispredicted % | lost mass % | agree % | agree % after BN pass | µJ/inference "
           "(dense) |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if int(r["recal"]) != 0:
            continue
        b = find(r["design"], r["method"], r["mask"], r["param"], r["budget"], 1)
        mask = f"{r['mask']} ({pct(r['share_exact'], '.0f')})" if str(r["mask"]) else "—"
        param = str(r["param"]).replace("n", "N=").replace(" k", ", k=") if r["method"] == "cross-neuron" else (
            f"budget {float(r['budget']):g}" if r["method"] == "ZAP" else "")
        out.append(
            f"| {DESIGN_LABEL.get(str(r['design']), r['design'])} | {r['method']} | {mask} | {param} | "
            f"{pct(r['skipped'])} | {pct(r['saved_net'])} | {pct(r['predictor_share'], '.2f')} | "
            f"{pct(r['mispred_share'], '.2f')} | {pct(r['lost_mass'], '.2f')} | {float(r['agree']):.2f} | "
            f"{'—' if b is None else format(float(b['agree']), '.2f')} | "
            f"{float(r['energy_uj']):.0f} ({float(r['energy_dense_uj']):.0f}) |"
        )
    return "\n".join(out) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="augmented inputs, half calibration, half evaluation")
    ap.add_argument("--batch", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--designs", default="exact,sysmt2,sysmt4")
    ap.add_argument("--train-batches", type=int, default=8, help="calibration batches that train the predictors")
    ap.add_argument("--sweep-batches", type=int, default=4, help="other calibration batches for the threshold sweep")
    ap.add_argument("--zap-min-macs", type=int, default=100,
                    help="ZAP only on chains whose conv has at least this many MACs per output (predictor: 18)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the points already in OUT/zap_results.csv and measure only the others")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="start no new point after this many seconds (chunks under a shared lock; then --resume)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: one of each kind, int8 only, 60 inputs")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--chart-only", type=Path, default=None, help="only redraw zap.png and the tables from this CSV")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.chart_only is not None:
        rows_in = read_csv(args.chart_only)
        chart(rows_in, args.out / "zap.png")
        (args.out / "zap_results.md").write_text(tables(rows_in))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        global CN_MORE, ZAP_MORE_MASKS, BUDGETS_MAIN, BUDGETS_MORE, ORACLE_MASKS, RECAL_BUDGET
        CN_MORE, ZAP_MORE_MASKS, BUDGETS_MORE, ORACLE_MASKS = [(6, 8, 4)], [5], [1.0], [5]
        BUDGETS_MAIN, RECAL_BUDGET = [0.4], 0.4
    torch.manual_seed(args.seed)
    t0 = time.time()
    try:
        rows = run(args)
    except enet.RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_csv(rows, args.out / "zap_results.csv")
    rows_in = read_csv(args.out / "zap_results.csv")
    chart(rows_in, args.out / "zap.png")
    (args.out / "zap_results.md").write_text(tables(rows_in) + f"\nRun time {time.time() - t0:.0f} s, torch on "
                                             f"{torch.get_num_threads()} thread(s).\n")
    print(tables(rows_in))
    return 0


if __name__ == "__main__":
    sys.exit(main())
