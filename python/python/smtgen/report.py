"""One report per network and array: for each design, fidelity to the float model
(and accuracy where labels exist) with and without BatchNorm recalibration,
whole-network cycles on an R×C output-stationary array and the speedup over the
baseline array, array area, energy per inference, and a chart of fidelity against
energy per inference and against throughput per area with the Pareto front.

Entry point: :func:`smtgen.torch.report` (this module's :func:`report`).

**Cycles.** Every simulated layer is a stream of tiles on the array, as smtgen's
cycle formula (``smtgen.cycles``, ``docs/array.md``) counts it: a layer with
``G = ceil(K / T)`` groups per output (``T`` lanes) and ``n`` tiles takes
``G + (n - 1)·max(G, C) + R + 2C - 1 + E`` cycles (``E``: the design's extra edge
latency), each layer started after the previous one drained. Output pixels go on
the array's rows (``R`` per tile) and output channels on its columns (``C`` per
tile), ``n = ceil(M / R)·ceil(N / C)`` per group.

**Grouped and depthwise convolutions** map group by group: each group is its own
GEMM (``M`` = output pixels, ``K`` = taps × channels per group, ``N`` = output
channels per group) streamed back to back, because the output-stationary array
shares each row's activations across its columns and a group's activations are
not the next group's. A depthwise layer (``N = 1`` per group) therefore occupies
one column of ``C``: utilization ``≤ 1/C``, and with ``K`` = 9 or 25 taps a tile's
``G`` is below ``C`` on a 16-wide array, so its tiles issue every ``C`` cycles
whatever the design's lanes: multi-threaded designs gain nothing on depthwise
layers on such an array. Float layers (those :func:`smtgen.torch.quantize` left
float) are not counted: the cycles are those of the simulated part.

**Energy per inference** = Σ over simulated layers of the layer's MACs per sample
(zeros included) × the design's measured energy per MAC (``pJ/MAC`` of a
``smtgen compare --library ...`` CSV, see ``docs/power.md``); it inherits that
measurement's workload, array size, clock and library (its limits are stated
there), so it is a relative, not an absolute, figure for another network.

**Mixed plans** (a design per layer, from :func:`smtgen.assign.assign_designs`):
area is the largest of the designs the plan uses, as if one array ran each layer
in its mode (NB-SMT's 4-thread array running some layers with 2 threads); smtgen's
generated RTL has no such mode switch, so it is a model, not a synthesized array.

**Resuming** (``checkpoint=path``, :mod:`smtgen.checkpoint`): each finished row is
written to the checkpoint atomically with what identifies the run; a later call
reuses the rows there and measures only the rest, and refuses a checkpoint of a
different run. ``stop_at`` stops after the row in progress (``Unfinished``).
"""

from __future__ import annotations

import copy
import csv
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

import smtgen as _sm

Design = Union[str, Mapping[str, object], None]
Plan = Mapping[str, Design]

__all__ = [
    "LayerGeometry",
    "NetworkReport",
    "layer_geometry",
    "layer_cycles",
    "network_cycles",
    "logits",
    "fidelity",
    "read_area",
    "read_energy",
    "report",
    "pareto_front",
    "plot",
]


@dataclass(frozen=True)
class LayerGeometry:
    """A simulated layer's GEMM for one input sample: per group ``m × k · k × n``,
    ``groups`` groups (1 for a dense layer), ``macs`` = groups·m·k·n; ``passes`` = 2
    for a layer with signed inputs on the exact path (``A⁺·W`` then ``A⁻·W`` on the
    unsigned array: twice its cycles and its energy), else 1."""

    name: str
    m: int
    k: int
    n: int
    groups: int = 1
    passes: int = 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates per sample, zeros included."""
        return self.groups * self.m * self.k * self.n


def _inputs(batch: Any) -> torch.Tensor:
    x = batch[0] if isinstance(batch, (list, tuple)) else batch
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"a batch's input must be a torch.Tensor, got {type(x).__name__}")
    return x


def _labels(batch: Any) -> Optional[torch.Tensor]:
    if isinstance(batch, (list, tuple)) and len(batch) > 1 and isinstance(batch[1], torch.Tensor):
        return batch[1]
    return None


def layer_geometry(model: nn.Module, x: torch.Tensor) -> Dict[str, LayerGeometry]:
    """Each simulated layer's GEMM for one sample, read from one forward pass of
    ``x[:1]`` with every simulated layer on its float path (designs restored after)."""
    from . import torch as st

    layers = st.quant_layers(model)
    if not layers:
        raise ValueError("model has no simulated layer: call smtgen.torch.quantize(model, loader) first")
    geoms: Dict[str, LayerGeometry] = {}
    hooks = []
    for q in layers:

        def hook(mod: nn.Module, inp: Tuple[Any, ...], out: torch.Tensor, q: Any = q) -> None:
            w = q.layer.weight
            passes = 2 if q.signed else 1
            if isinstance(q.layer, nn.modules.conv._ConvNd):
                groups = int(q.layer.groups)
                m = int(np.prod(out.shape[2:])) if out.dim() > 2 else 1
                geoms[q.name] = LayerGeometry(q.name, m, int(w[0].numel()), int(w.shape[0]) // groups, groups,
                                              passes)
            else:
                n = int(w.shape[0])
                geoms[q.name] = LayerGeometry(q.name, int(out[0].numel()) // n, int(w.shape[1]), n, 1, passes)

        hooks.append(q.register_forward_hook(hook))
    saved = {q.name: q.design for q in layers}
    was = model.training
    try:
        st.simulate(model, "float")
        model.eval()
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
        st.simulate(model, saved)
        model.train(was)
    return geoms


_EDGE_CACHE: Dict[Tuple[str, int, int, int], Tuple[int, int]] = {}


def _groups_and_edge(design: Design, k: int, rows: int, cols: int) -> Tuple[int, int]:
    """``(G, E)``: groups per output for reduction length ``k`` and the design's extra
    edge latency on an R×C array, read from ``smtgen.cycles`` (baseline for ``exact``)."""
    d: Union[str, Mapping[str, object]] = "baseline" if design is None or design == "exact" else design
    key = (repr(d), k, rows, cols)
    if key not in _EDGE_CACHE:
        r = _sm.cycles(1, k, 1, d, rows=rows, cols=cols)
        g = int(r["groups"])
        _EDGE_CACHE[key] = (g, int(r["cycles"]) - (g + rows + 2 * cols - 1))
    return _EDGE_CACHE[key]


def layer_cycles(geom: LayerGeometry, design: Design, rows: int, cols: int) -> int:
    """Cycles of one layer on an R×C array under ``design`` (the module doc's formula;
    for ``groups == 1`` it equals ``smtgen.cycles(m, k, n, design, rows, cols)``)."""
    g, e = _groups_and_edge(design, geom.k, rows, cols)
    tiles = geom.groups * math.ceil(geom.m / rows) * math.ceil(geom.n / cols)
    return g + (tiles - 1) * max(g, cols) + rows + 2 * cols - 1 + e


def network_cycles(
    geoms: Mapping[str, LayerGeometry], plan: Union[Design, Plan], rows: int, cols: int
) -> Tuple[int, int]:
    """``(cycles, baseline_cycles)`` of the simulated layers for one sample: one design
    for every layer or a plan ``{layer: design}``; layers planned ``"float"`` are not
    counted in either; a signed layer's two passes are (``LayerGeometry.passes``)."""
    cyc = base = 0
    for name, g in geoms.items():
        d: Design = plan.get(name, "exact") if isinstance(plan, Mapping) and _is_plan(plan) else plan  # type: ignore[assignment]
        if d == "float":
            continue
        cyc += g.passes * layer_cycles(g, d, rows, cols)
        base += g.passes * layer_cycles(g, "baseline", rows, cols)
    return cyc, base


def _is_plan(design: Any) -> bool:
    return isinstance(design, Mapping) and "preset" not in design


def _design_name(d: Design) -> str:
    if d is None or d == "exact":
        return "baseline"
    if isinstance(d, str):
        return d
    return str(_sm.describe(d)["name"])


def logits(model: nn.Module, loader: Iterable[Any]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The model's outputs (eval mode, no gradients) over every batch of ``loader``,
    concatenated, and the labels when the batches carry them."""
    was = model.training
    model.eval()
    outs: List[torch.Tensor] = []
    labels: List[torch.Tensor] = []
    with torch.no_grad():
        for batch in loader:
            outs.append(model(_inputs(batch)).detach().to(torch.float64))
            y = _labels(batch)
            if y is not None:
                labels.append(y)
    model.train(was)
    if not outs:
        raise ValueError("the loader gave no batch")
    return torch.cat(outs), (torch.cat(labels) if labels else None)


def fidelity(out: torch.Tensor, ref: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """How close ``out`` is to the reference outputs ``ref`` (both N×classes):
    ``agreement`` = % of samples with the same top-1, ``kl`` = mean KL(softmax(ref) ‖
    softmax(out)) in nats, ``sqnr_db`` = 10·log10(Σref² / Σ(out − ref)²) over the
    logits; with ``labels`` (−1 = unlabelled) ``top1`` = % correct of the labelled."""
    if out.shape != ref.shape:
        raise ValueError(f"outputs {tuple(out.shape)} and reference {tuple(ref.shape)} differ in shape")
    out, ref = out.to(torch.float64), ref.to(torch.float64)
    lp, lq = torch.log_softmax(ref, dim=1), torch.log_softmax(out, dim=1)
    kl = float((lp.exp() * (lp - lq)).sum(dim=1).mean())
    err2 = float((out - ref).pow(2).sum())
    sqnr = float("inf") if err2 == 0 else 10.0 * math.log10(float(ref.pow(2).sum()) / err2)
    res = {
        "agreement": 100.0 * float((out.argmax(1) == ref.argmax(1)).double().mean()),
        "kl": max(kl, 0.0),
        "sqnr_db": sqnr,
    }
    if labels is not None:
        mask = torch.ge(labels, 0)
        if int(mask.sum()) > 0:
            res["top1"] = 100.0 * float((out.argmax(1)[mask] == labels[mask]).double().mean())
    return res


def read_area(path: Union[str, Path]) -> Dict[str, float]:
    """Array area per design from a ``smtgen compare`` CSV: ``array um2`` (with a
    Liberty library) or ``array GE`` (the built-in table), else the PE's column."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no rows")
    for col in ("array um2", "array GE", "PE um2", "PE GE"):
        if col in rows[0]:
            return {r["design"]: float(r[col]) for r in rows}
    raise ValueError(f"{path}: no area column (allowed 'array um2', 'array GE', 'PE um2', 'PE GE'); has {list(rows[0])}")


def read_energy(path: Union[str, Path]) -> Dict[str, float]:
    """Energy per MAC (pJ) per design from a ``smtgen compare --library`` CSV (its
    ``pJ/MAC`` column)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "pJ/MAC" not in rows[0]:
        raise ValueError(f"{path}: no 'pJ/MAC' column (write it with `smtgen compare --library osu018`)")
    return {r["design"]: float(r["pJ/MAC"]) for r in rows if r["pJ/MAC"] not in ("", "-")}


@dataclass
class NetworkReport:
    """The rows of :func:`report` (one per design or plan) and how they were made."""

    rows: List[Dict[str, Any]] = field(default_factory=list)
    rows_per_array: Tuple[int, int] = (16, 16)
    samples: int = 0
    area_unit: str = ""
    notes: List[str] = field(default_factory=list)
    #: Rows taken from a checkpoint instead of measured (``report(checkpoint=...)``).
    from_checkpoint: int = 0

    def to_markdown(self) -> str:
        """The table as Markdown (``—`` where a number does not apply)."""
        r, c = self.rows_per_array
        has_top1 = any(x.get("top1") is not None for x in self.rows)
        head = ["design", "agree %", "KL", "logit SQNR dB", "agree % recal", "KL recal"]
        if has_top1:
            head += ["top-1 %", "top-1 % recal"]
        head += [f"cycles {r}×{c}", "speedup", f"area {self.area_unit}".strip(), "area ×",
                 "thr/area ×", "µJ/inference"]
        lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]

        def f(v: Any, spec: str) -> str:
            return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

        for x in self.rows:
            cells = [x["design"], f(x["agreement"], ".2f"), f(x["kl"], ".4f"), f(x["sqnr_db"], ".1f"),
                     f(x.get("agreement_recal"), ".2f"), f(x.get("kl_recal"), ".4f")]
            if has_top1:
                cells += [f(x.get("top1"), ".0f"), f(x.get("top1_recal"), ".0f")]
            cells += [f(x.get("cycles"), ",d"), f(x.get("speedup"), ".2f"), f(x.get("area"), ",.0f"),
                      f(x.get("area_ratio"), ".2f"), f(x.get("throughput_per_area"), ".2f"),
                      f(x.get("energy_uj"), ".1f")]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_csv(self, path: Union[str, Path]) -> None:
        """Writes every row's numbers to ``path``."""
        keys: List[str] = []
        for x in self.rows:
            keys += [k for k in x if k not in keys and k != "plan"]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for x in self.rows:
                w.writerow({k: ("" if x.get(k) is None else x[k]) for k in keys})

    @classmethod
    def from_csv(cls, path: Union[str, Path], rows: int = 16, cols: int = 16) -> "NetworkReport":
        """A report read back from :meth:`to_csv` (numbers as floats, empty = ``None``),
        e.g. to redraw its chart without running anything."""
        with open(path, newline="") as f:
            data = [{k: (v if k == "design" else (float(v) if v not in ("", None) else None)) for k, v in r.items()}
                    for r in csv.DictReader(f)]
        return cls(rows=data, rows_per_array=(rows, cols))

    def plot(self, path: Union[str, Path], title: str = "", metric: str = "agreement") -> None:
        """The chart (see :func:`plot`)."""
        plot(self, path, title, metric)


def report(
    model: nn.Module,
    loader: Iterable[Any],
    designs: Sequence[Design],
    *,
    rows: int = 16,
    cols: int = 16,
    recal_loader: Optional[Iterable[Any]] = None,
    recal_batches: int = 17,
    momentum: Optional[float] = 0.1,
    recal_seed: int = 0,
    plans: Optional[Mapping[str, Plan]] = None,
    area: Union[None, str, Path, Mapping[str, float]] = None,
    energy: Union[None, str, Path, Mapping[str, float]] = None,
    labelled: Optional[Iterable[Any]] = None,
    progress: bool = False,
    checkpoint: Union[None, str, Path] = None,
    stop_at: Optional[float] = None,
) -> NetworkReport:
    """For float, the exact int8 layers and each design (and each named per-layer
    ``plans`` entry): fidelity of the outputs on ``loader`` to the float model's
    (:func:`fidelity`), before and, with ``recal_loader``, after
    :func:`smtgen.torch.recalibrate_bn` (``recal_batches``, ``momentum``; in train
    mode, so dropout or drop-connect draw random masks: each row recalibrates from
    torch's RNG seeded with ``recal_seed`` in a forked RNG state, so its numbers do not
    depend on the rows measured before it and torch's global RNG is left as it was); accuracy
    on ``labelled`` (batches ``(x, y)``) when given; cycles of the simulated layers on
    an R×C array and the speedup over the baseline; array area from ``area`` (a
    ``{design: area}`` mapping or a ``smtgen compare`` CSV; ratios against
    ``"baseline"``); energy per inference from ``energy`` (``{design: pJ/MAC}`` or a
    ``compare --library`` CSV). The model must be quantized; its BatchNorm state is
    restored between designs and at the end (also when stopped or failing), and it
    is left running ``"exact"``.

    ``checkpoint`` (a file path) makes the report resumable: each finished row (its
    label, measured fidelity numbers and per-layer designs) is written to it at once,
    atomically, with the run's identity (:mod:`smtgen.checkpoint`: the rows' labels
    and designs, number of samples, rows/cols, the recalibration settings, SHA-256
    fingerprints of the evaluation, recalibration and labelled inputs and of the
    model's state, torch's and smtgen's versions). Called again, rows already in a
    matching checkpoint are taken from it and not measured again; a checkpoint of a
    different run raises :class:`smtgen.checkpoint.CheckpointMismatch` naming what
    differs. Cycles, area and energy are recomputed from the layers' shapes each
    time (they cost nothing). With a checkpoint, the recalibration batches (the first
    ``recal_batches`` of ``recal_loader``) are taken once and every row recalibrates
    on those same batches.

    ``stop_at`` (a ``time.time()`` value; needs ``checkpoint``): no new row is started
    after it, once this call has measured at least one row; if rows remain,
    :class:`smtgen.checkpoint.Unfinished` is raised (the finished rows are in the
    checkpoint; call again to continue)."""
    from . import checkpoint as ckp
    from . import torch as st

    layers = st.quant_layers(model)
    if not layers:
        raise ValueError("model has no simulated layer: call smtgen.torch.quantize(model, loader) first")
    if isinstance(rows, bool) or isinstance(cols, bool) or not isinstance(rows, int) or not isinstance(cols, int) \
            or rows < 1 or cols < 1:
        raise ValueError(f"rows, cols = {rows!r}, {cols!r}: allowed positive integers")
    if stop_at is not None and checkpoint is None:
        raise ValueError("stop_at needs checkpoint=path: the rows finished before the stop would be lost")
    if isinstance(recal_seed, bool) or not isinstance(recal_seed, int):
        raise ValueError(f"recal_seed = {recal_seed!r}: allowed an integer")
    for d in designs:
        if _is_plan(d):
            raise ValueError("designs takes design points; give per-layer plans in plans={label: plan}")
        st.simulate(model, d)  # validates it (undone below)
    plans = dict(plans or {})
    for p in plans.values():
        st.simulate(model, p)  # validates the plan's layer names and designs
    areas = dict(read_area(area)) if isinstance(area, (str, Path)) else dict(area or {})
    energies = dict(read_energy(energy)) if isinstance(energy, (str, Path)) else dict(energy or {})
    loader = list(loader)
    if not loader:
        raise ValueError("loader gave no batch")
    labelled_l = list(labelled) if labelled is not None else None
    recal_l: Optional[Iterable[Any]] = recal_loader
    if checkpoint is not None and recal_loader is not None:
        recal_l = list(itertools.islice(recal_loader, recal_batches))
    pristine = copy.deepcopy(model.state_dict())
    geoms = layer_geometry(model, _inputs(loader[0]))
    out = NetworkReport(rows_per_array=(rows, cols))
    if isinstance(area, (str, Path)):
        with open(area) as f:
            out.area_unit = "µm²" if "array um2" in f.readline() else "GE"
    elif area is not None:
        out.area_unit = "(given)"
    out.samples = sum(int(_inputs(b).shape[0]) for b in loader)
    entries: List[Tuple[str, Any]] = [("int8 (exact)", "exact")]
    entries += [(_design_name(d), d) for d in designs if d not in ("exact", None)]
    entries += list(plans.items())

    ck: Optional[ckp.Checkpoint] = None
    if checkpoint is not None:
        identity = {
            "kind": "smtgen.report.report",
            "smtgen": _sm.__version__,
            "torch": torch.__version__,
            "designs": [[label, d] for label, d in entries],
            "samples": out.samples,
            "rows": rows,
            "cols": cols,
            "recalibration": None if recal_l is None else {
                "batches": recal_batches, "momentum": momentum, "seed": recal_seed,
                "inputs": ckp.fingerprint_batches(recal_l)},
            "evaluation inputs": ckp.fingerprint_batches(loader),
            "labelled inputs": None if labelled_l is None else ckp.fingerprint_batches(labelled_l),
            "model": ckp.fingerprint_model(model),
        }
        ck = ckp.Checkpoint.open(checkpoint, identity)

    base_area = areas.get("baseline")
    refs: Dict[str, Any] = {}

    def reference() -> None:
        """The float model's outputs (once, and only when a row is to be measured)."""
        if refs:
            return
        model.load_state_dict(pristine)
        st.simulate(model, "float")
        refs["ref"], _ = logits(model, loader)
        refs["ref_l"], refs["lab"] = logits(model, labelled_l) if labelled_l is not None else (None, None)

    def measure() -> Dict[str, Any]:
        o, _ = logits(model, loader)
        res: Dict[str, Any] = dict(fidelity(o, refs["ref"]))
        if labelled_l is not None and refs["ref_l"] is not None:
            ol, _ = logits(model, labelled_l)
            res["top1"] = fidelity(ol, refs["ref_l"], refs["lab"]).get("top1")
        return res

    def costs(row: Dict[str, Any], plan: Mapping[str, Design]) -> Dict[str, Any]:
        """The row with cycles, speedup, area, throughput per area, energy and plan."""
        cyc, base = network_cycles(geoms, plan, rows, cols)
        row["cycles"], row["speedup"] = cyc, (base / cyc if cyc else None)
        used = {_design_name(x) for x in plan.values() if x != "float"}
        found = [areas[u] for u in used if u in areas]
        row["area"] = max(found) if found and len(found) == len(used) else None
        row["area_ratio"] = row["area"] / base_area if row["area"] is not None and base_area else None
        row["throughput_per_area"] = (
            row["speedup"] / row["area_ratio"] if row["area_ratio"] and row["speedup"] else None
        )
        if energies and all(_design_name(x) in energies for x in plan.values() if x != "float"):
            pj = sum(geoms[n].macs * geoms[n].passes * energies[_design_name(x)]
                     for n, x in plan.items() if x != "float")
            row["energy_uj"] = pj * 1e-6
        else:
            row["energy_uj"] = None
        row["plan"] = {n: _design_name(x) for n, x in plan.items()}
        return row

    measured = 0
    try:
        if ck is not None and "row float" in ck:
            out.rows.append(dict(ck.get("row float")))
            out.from_checkpoint += 1
        else:
            reference()
            row0: Dict[str, Any] = {"design": "float", **fidelity(refs["ref"], refs["ref"])}
            if labelled_l is not None and refs["ref_l"] is not None:
                row0["top1"] = fidelity(refs["ref_l"], refs["ref_l"], refs["lab"]).get("top1")
            out.rows.append(row0)
            if ck is not None:
                ck.put("row float", row0)
        for label, d in entries:
            key = f"row {label}"
            if ck is not None and key in ck:
                saved = ck.get(key)
                out.rows.append(costs(dict(saved["measured"]), saved["designs"]))
                out.from_checkpoint += 1
                continue
            if stop_at is not None and measured and time.time() >= stop_at:
                assert ck is not None
                raise ckp.Unfinished("smtgen.report rows", len(ck), len(entries) + 1, ck.path)
            reference()
            model.load_state_dict(pristine)
            st.simulate(model, d)
            row: Dict[str, Any] = {"design": label, **measure()}
            if recal_l is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(recal_seed)
                    st.recalibrate_bn(model, recal_l, batches=recal_batches, progress=progress, momentum=momentum)
                row.update({f"{k}_recal": v for k, v in measure().items()})
            plan = {q.name: q.design for q in st.quant_layers(model)}
            if ck is not None:
                ck.put(key, {"measured": row, "designs": plan})
            out.rows.append(costs(row, plan))
            measured += 1
    finally:
        model.load_state_dict(pristine)
        st.simulate(model, "exact")
    simulated = sum(g.macs for g in geoms.values())
    out.notes.append(
        f"{len(geoms)} simulated layers, {simulated:,} MACs per sample; fidelity over {out.samples} samples "
        "against the float model"
    )
    if ck is not None:
        out.notes.append(f"{out.from_checkpoint} of {len(out.rows)} rows taken from the checkpoint {ck.path}")
    return out


def pareto_front(points: Sequence[Tuple[float, float]], minimize_x: bool) -> List[int]:
    """Indices of the points no other point dominates (at least as good on both axes
    and better on one: higher y, and lower x when ``minimize_x`` else higher x),
    sorted by x; of identical points the first is kept."""
    idx = []
    for i, (x, y) in enumerate(points):
        dominated = False
        for j, (x2, y2) in enumerate(points):
            if j == i:
                continue
            good_x = x2 <= x if minimize_x else x2 >= x
            if good_x and y2 >= y and ((x2, y2) != (x, y) or j < i):
                dominated = True
                break
        if not dominated:
            idx.append(i)
    return sorted(idx, key=lambda i: points[i][0])


def _place_labels(ax: Any, xs: Sequence[float], ys: Sequence[float], texts: Sequence[str],
                  obstacles: Sequence[Tuple[float, float]] = ()) -> None:
    """Annotates each point with its text at the first of rings of offsets whose box
    overlaps no earlier label, no marker, no obstacle point (samples along drawn
    lines) and stays inside the axes; a leader line joins the farther labels."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    obs = ax.transData.transform(np.array(obstacles, dtype=float).reshape(-1, 2)) if len(obstacles) else []
    own = [Bbox.from_bounds(px - 5, py - 5, 10, 10) for px, py in pts]
    lines = [Bbox.from_bounds(px - 3.5, py - 3.5, 7, 7) for px, py in obs]
    taken: List[Any] = []
    for i in np.argsort([-p[1] for p in pts]):
        best: Optional[Tuple[int, float, float]] = None  # (clashes, dx, dy) of the least bad spot
        placed = None
        for radius in (7, 14, 24, 36, 50, 66, 84, 104, 128, 156):
            for ang in range(0, 360, 15):
                dx, dy = radius * math.cos(math.radians(ang)), radius * math.sin(math.radians(ang))
                ha = "left" if dx > 1 else "right" if dx < -1 else "center"
                va = "bottom" if dy > 1 else "top" if dy < -1 else "center"
                t = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, va=va, fontsize=7,
                                arrowprops=dict(arrowstyle="-", lw=0.4, color="0.5") if radius > 14 else None)
                bb = t.get_window_extent(renderer).expanded(1.04, 1.2)
                inside = axbox.contains(bb.x0, bb.y0) and axbox.contains(bb.x1, bb.y1)
                clashes = (sum(bb.overlaps(b) for b in taken) * 100 + sum(bb.overlaps(b) for b in own) * 10
                           + sum(bb.overlaps(b) for b in lines))
                if inside and not clashes:
                    placed = t
                    break
                if inside and (best is None or clashes < best[0]):
                    best = (clashes, dx, dy)
                t.remove()
            if placed is not None:
                break
        if placed is None:  # no free spot within reach: the least crowded one
            _, dx, dy = best if best is not None else (0, 6.0, 0.0)
            placed = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                                 ha="left" if dx > 1 else "right" if dx < -1 else "center",
                                 va="bottom" if dy > 1 else "top" if dy < -1 else "center", fontsize=7,
                                 arrowprops=dict(arrowstyle="-", lw=0.4, color="0.5"))
        taken.append(placed.get_window_extent(renderer).expanded(1.04, 1.2))


def plot(rep: NetworkReport, path: Union[str, Path], title: str = "", metric: str = "agreement") -> None:
    """Two panels: fidelity (top-1 agreement with the float model, %; filled after
    BN recalibration where measured, hollow as quantized) against energy per
    inference (µJ) and against throughput per area (× the baseline array); the Pareto
    front (red steps) over all points, each design labelled once at its better point.
    ``metric="top1"`` plots accuracy on labelled data (the rows' ``top1`` /
    ``top1_recal``) instead. Rows without the x value are left out of that panel."""
    if metric not in ("agreement", "top1"):
        raise ValueError(f"metric = {metric!r}: allowed 'agreement' or 'top1'")
    ylabel = "top-1 agreement with the float model (%)" if metric == "agreement" else "top-1 accuracy (%)"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rep.rows if r["design"] != "float"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 7))
    panels = [("energy_uj", "energy per inference (µJ, simulated layers)", True),
              ("throughput_per_area", "throughput per area (× baseline array)", False)]
    todo: List[Tuple[Any, List[float], List[float], List[str], List[Tuple[float, float]]]] = []
    handles: Dict[str, Any] = {}
    for ax, (key, xlabel, minimize) in zip(axes, panels):
        sel = [r for r in rows if r.get(key) is not None and r.get(metric) is not None]
        if not sel:
            ax.text(0.5, 0.5, f"no {key} in this report", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        xs = [float(r[key]) for r in sel]
        raw = [float(r[metric]) for r in sel]
        rec = [r.get(f"{metric}_recal") for r in sel]
        pts = list(zip(xs, raw)) + [(x, float(v)) for x, v in zip(xs, rec) if v is not None]
        best = [max(a, float(b)) if b is not None else a for a, b in zip(raw, rec)]
        # Far outliers (a design that only recalibration rescues) would squash the rest:
        # the axis then covers the better points, and those below sit on its floor as ▼.
        span = max(max(best) - min(best), 0.5)
        floor = min(best) - 1.5 * span
        clipped = min(raw) < min(best) - 4 * span
        lo_y = floor if clipped else min(p[1] for p in pts)
        shown = [max(v, floor) if clipped else v for v in raw]
        below = [v < floor for v in raw] if clipped else [False] * len(raw)
        handles["as quantized"] = ax.scatter([x for x, b in zip(xs, below) if not b],
                                             [v for v, b in zip(shown, below) if not b],
                                             facecolors="none", edgecolors="tab:blue", s=32, zorder=3)
        if any(below):
            handles["as quantized, below the axis (see the table)"] = ax.scatter(
                [x for x, b in zip(xs, below) if b], [floor for b in below if b], marker="v",
                facecolors="none", edgecolors="tab:blue", s=40, zorder=3, clip_on=False)
        raw = shown
        if any(v is not None for v in rec):
            rx = [x for x, v in zip(xs, rec) if v is not None]
            ry = [float(v) for v in rec if v is not None]
            handles["after BN recalibration"] = ax.scatter(rx, ry, color="tab:blue", s=32, zorder=3)
            for x, a, b in zip(xs, raw, rec):
                if b is not None:
                    ax.plot([x, x], [a, float(b)], color="tab:blue", lw=0.6, alpha=0.4, zorder=1)
        front = pareto_front(pts, minimize_x=minimize)
        fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
        ax.step(fx, fy, where="pre" if minimize else "post", color="tab:red", lw=1.2, zorder=2)
        handles["Pareto front"] = ax.scatter(fx, fy, s=110, facecolors="none", edgecolors="tab:red", lw=1.2,
                                             zorder=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, color="0.9")
        hi = max(p[1] for p in pts)
        pad = max(hi - lo_y, 1.0)
        ax.set_ylim(lo_y - (0.0 if clipped else 0.12 * pad), hi + 0.12 * pad)
        xr = max(xs) - min(xs) or 1.0
        ax.set_xlim(min(xs) - 0.15 * xr, max(xs) + 0.15 * xr)
        # samples along the drawn front and the recalibration ticks, for the labels to avoid
        line: List[Tuple[float, float]] = []
        for (x0, y0), (x1, y1) in zip(list(zip(fx, fy)), list(zip(fx, fy))[1:]):
            corner = (x0, y1) if minimize else (x1, y0)
            for (ax0, ay0), (ax1, ay1) in (((x0, y0), corner), (corner, (x1, y1))):
                line += [(ax0 + (ax1 - ax0) * t / 24, ay0 + (ay1 - ay0) * t / 24) for t in range(25)]
        for x, a, b in zip(xs, raw, rec):
            if b is not None:
                line += [(x, a + (float(b) - a) * t / 12) for t in range(13)]
        line += [(x, y) for x, y in zip(xs, raw)] + [(x, float(v)) for x, v in zip(xs, rec) if v is not None]
        todo.append((ax, xs, best, [str(r["design"]) for r in sel], line))
    r, c = rep.rows_per_array
    fig.suptitle(title or f"fidelity against energy and throughput per area, {r}×{c} array")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8,
                   frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    for ax, xs, ys, names, line in todo:
        _place_labels(ax, xs, ys, names, line)
    fig.savefig(path, dpi=130)
    plt.close(fig)
