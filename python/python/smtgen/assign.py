"""A design per layer under a budget of fidelity loss, as the NB-SMT paper gives its
most sensitive layers fewer threads.

:func:`assign_designs` starts from every simulated layer on the accurate design
(``fallback``, default the exact int8 baseline) and moves layers, one step at a
time, to the faster designs (``designs``, fastest first, e.g. ``("sysmt4",
"sysmt2")``). Steps are ranked greedily by cycles saved per unit of added layer
noise, the noise of a layer under a design being ``10^(-SQNR/10)`` with the
layer's SQNR against the exact int8 layer on the same input
(:func:`smtgen.torch.layer_stats`, all layers under that design). The longest
prefix of that ranking whose **measured** loss stays within the budget is kept,
found by bisection over the prefix length (a handful of evaluations, assuming loss
grows with the prefix; each evaluated prefix is recorded in ``tried``).

Loss is measured on ``loader`` against the float model's outputs, relative to the
all-``fallback`` model: ``metric="agreement"`` in percentage points of top-1
agreement, ``metric="kl"`` in nats of mean KL divergence of the softmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

import torch.nn as nn

from . import report as _rp

Design = Union[str, Mapping[str, object], None]

__all__ = ["Assignment", "assign_designs"]


@dataclass
class Assignment:
    """The plan :func:`assign_designs` found and what it measured."""

    plan: Dict[str, Design] = field(default_factory=dict)
    loss: float = 0.0
    budget: float = 0.0
    metric: str = "agreement"
    fidelity: Dict[str, float] = field(default_factory=dict)
    reference_fidelity: Dict[str, float] = field(default_factory=dict)
    cycles: int = 0
    baseline_cycles: int = 0
    steps: int = 0
    tried: List[Tuple[int, float]] = field(default_factory=list)
    layer_sqnr: Dict[str, Dict[str, float]] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Baseline cycles over the plan's cycles (simulated layers, one sample)."""
        return self.baseline_cycles / self.cycles if self.cycles else float("nan")

    def counts(self) -> Dict[str, int]:
        """How many layers each design got."""
        out: Dict[str, int] = {}
        for d in self.plan.values():
            k = _rp._design_name(d)
            out[k] = out.get(k, 0) + 1
        return out

    def __str__(self) -> str:
        c = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts().items()))
        unit = "pp of top-1 agreement" if self.metric == "agreement" else "nats of KL"
        return (f"per-layer plan ({c}): speedup {self.speedup:.2f}, measured loss {self.loss:.3f} {unit} "
                f"(budget {self.budget}), {self.steps} step(s) taken")


def _loss(metric: str, fid: Mapping[str, float], ref: Mapping[str, float]) -> float:
    if metric == "agreement":
        return ref["agreement"] - fid["agreement"]
    return fid["kl"] - ref["kl"]


def assign_designs(
    model: nn.Module,
    loader: Iterable[Any],
    budget: float,
    *,
    designs: Sequence[Design] = ("sysmt4", "sysmt2"),
    fallback: Design = "exact",
    metric: str = "agreement",
    rows: int = 16,
    cols: int = 16,
    stats_batches: int = 1,
) -> Assignment:
    """Assigns each simulated layer of a quantized ``model`` one of ``designs``
    (fastest first) or ``fallback`` so that the measured fidelity loss on ``loader``
    (batches of inputs or ``(x, y)``) stays within ``budget`` (see the module doc for
    the method and the metric). Leaves the model running the plan and returns an
    :class:`Assignment` with the plan, its measured loss, speedup on an R×C array
    and the prefixes it tried."""
    from . import torch as st

    if metric not in ("agreement", "kl"):
        raise ValueError(f"metric = {metric!r}: allowed 'agreement' or 'kl'")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget >= 0:
        raise ValueError(f"budget = {budget!r}: allowed a number >= 0")
    if not designs:
        raise ValueError("designs is empty: give at least one design to move layers to")
    layers = st.quant_layers(model)
    if not layers:
        raise ValueError("model has no simulated layer: call smtgen.torch.quantize(model, loader) first")
    for d in list(designs) + [fallback]:
        st.simulate(model, d)  # validates every design up front
    batches = list(loader)
    geoms = _rp.layer_geometry(model, _rp._inputs(batches[0]))
    # Layers with signed inputs (quantize(signed="exact")) run only the exact path: not planned.
    names = [q.name for q in layers if not q.signed]
    if not names:
        raise ValueError("model has no simulated layer with unsigned inputs: nothing a design can run")

    st.simulate(model, "float")
    ref, _ = _rp.logits(model, batches)

    def measure(plan: Mapping[str, Design]) -> Dict[str, float]:
        st.simulate(model, dict(plan))
        out, _ = _rp.logits(model, batches)
        return _rp.fidelity(out, ref)

    base_plan: Dict[str, Design] = {n: fallback for n in names}
    ref_fid = measure(base_plan)

    # Per-layer noise under each design.
    noise: Dict[str, Dict[str, float]] = {n: {} for n in names}
    sqnr: Dict[str, Dict[str, float]] = {n: {} for n in names}
    ladder = [fallback] + list(reversed(list(designs)))  # accurate -> fast
    for d in ladder:
        st.simulate(model, d)
        key = _rp._design_name(d)
        if d in (None, "exact"):
            for n in names:
                noise[n][key], sqnr[n][key] = 0.0, float("inf")
            continue
        for s in st.layer_stats(model, batches, batches=stats_batches):
            if s["layer"] not in noise:
                continue
            db = float(s["sqnr_db"])
            sqnr[s["layer"]][key] = db
            noise[s["layer"]][key] = 0.0 if math.isinf(db) and db > 0 else 10.0 ** (-db / 10.0)

    # Steps: per layer, ladder[i] -> ladder[i+1], ranked by cycles saved per noise added.
    steps: List[Tuple[float, str, int]] = []
    for n in names:
        for i in range(len(ladder) - 1):
            a, b = ladder[i], ladder[i + 1]
            saved = _rp.layer_cycles(geoms[n], a, rows, cols) - _rp.layer_cycles(geoms[n], b, rows, cols)
            added = noise[n][_rp._design_name(b)] - noise[n][_rp._design_name(a)]
            score = saved / max(added, 1e-12)
            steps.append((score, n, i + 1))
    steps.sort(key=lambda t: -t[0])
    order: List[Tuple[str, int]] = []
    level = {n: 0 for n in names}
    pending = [(n, lv) for _, n, lv in steps]
    while pending:  # highest-ranked step whose layer is one rung below it
        for j, (n, lv) in enumerate(pending):
            if level[n] == lv - 1:
                order.append((n, lv))
                level[n] = lv
                del pending[j]
                break
        else:
            break

    def plan_of(p: int) -> Dict[str, Design]:
        plan = dict(base_plan)
        for n, lv in order[:p]:
            plan[n] = ladder[lv]
        return plan

    tried: List[Tuple[int, float]] = []
    cache: Dict[int, Tuple[float, Dict[str, float]]] = {0: (0.0, ref_fid)}

    def loss_at(p: int) -> float:
        if p not in cache:
            fid = measure(plan_of(p))
            cache[p] = (_loss(metric, fid, ref_fid), fid)
            tried.append((p, cache[p][0]))
        return cache[p][0]

    lo, hi = 0, len(order)
    if loss_at(hi) <= budget:
        lo = hi
    else:
        while hi - lo > 1:  # invariant: loss(lo) <= budget < loss(hi)
            mid = (lo + hi) // 2
            if loss_at(mid) <= budget:
                lo = mid
            else:
                hi = mid
    plan = plan_of(lo)
    st.simulate(model, plan)
    cyc, base = _rp.network_cycles(geoms, plan, rows, cols)
    return Assignment(plan=plan, loss=cache[lo][0], budget=float(budget), metric=metric, fidelity=cache[lo][1],
                      reference_fidelity=ref_fid, cycles=cyc, baseline_cycles=base, steps=lo, tried=tried,
                      layer_sqnr=sqnr)

