"""KURE: the kurtosis regularizer of "Robust Quantization: One Model to Rule Them All"
(Shkolnik et al., NeurIPS 2020), and a robustness report of one model across a family
of quantizers (smtgen's designs and weight-precision variants).

The regularizer, exactly as the paper defines it:

* per regularized weight tensor ``W`` (the whole tensor): ``mu = mean(W)``,
  ``sigma = std(W)`` (unbiased, ``n - 1``), ``Kurt(W) = mean(((W - mu) / sigma) ** 4)``;
* ``R = (1/L) * sum_l (Kurt(W_l) - K_T) ** 2`` over every convolution except the first
  (module order, ``L`` of them); the training loss is ``cross_entropy + lam * R``;
* ``K_T = 1.8`` (the kurtosis of a uniform distribution) and ``lam = 1.0``.

Typical use::

    from smtgen.torch import kure
    print(kure.format_report(kure.report(model)))
    log = kure.finetune(model, train_loader, epochs=2, seed=0)
    st.quantize(model, calib_loader)
    rob = kure.robustness(model, test_loader, lambda: recal_loader)
    print(rob.to_markdown())
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Sized, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

import smtgen as _sm

from . import torch as _st

__all__ = [
    "TARGET",
    "LAMBDA",
    "kurtosis",
    "regularized_convs",
    "loss",
    "LayerKurtosis",
    "report",
    "format_report",
    "EpochLog",
    "FinetuneLog",
    "finetune",
    "Cell",
    "RobustnessReport",
    "robustness",
    "dense_designs",
]

#: K_T: the kurtosis of a uniform distribution, the paper's target.
TARGET = 1.8
#: lambda: the regularizer's weight in every published command.
LAMBDA = 1.0


def kurtosis(w: torch.Tensor) -> torch.Tensor:
    """``mean(((w - mean(w)) / std(w)) ** 4)`` over the whole tensor with the unbiased
    standard deviation; differentiable, in ``w``'s dtype. Rejects a tensor of fewer
    than two elements or of zero spread (the kurtosis is undefined)."""
    if w.numel() < 2:
        raise ValueError(f"kurtosis needs at least 2 elements, got a tensor of shape {tuple(w.shape)}")
    sigma = w.std(unbiased=True)
    if float(sigma.detach()) == 0.0:
        raise ValueError(f"kurtosis of a constant tensor (shape {tuple(w.shape)}, std 0) is undefined")
    k: torch.Tensor = ((w - w.mean()) / sigma).pow(4).mean()
    return k


def _conv_name(model: nn.Module, name: str) -> str:
    """A convolution's name as the user knows it: a layer swapped for a
    :class:`smtgen.torch.QuantLayer` keeps its name (``features.3``, not
    ``features.3.layer``)."""
    if name.endswith(".layer"):
        parent = model.get_submodule(name[: -len(".layer")])
        if isinstance(parent, _st.QuantLayer):
            return parent.name if parent.name else name[: -len(".layer")]
    return name


def _convolutions(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [
        (_conv_name(model, n), m) for n, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)
    ]


def regularized_convs(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """The layers KURE regularizes: every convolution (``Conv1d/2d/3d`` and transposed)
    except the first, in module order, as ``(name, module)``. A model with fewer than
    two convolutions is rejected."""
    convs = _convolutions(model)
    if len(convs) < 2:
        raise ValueError(
            f"KURE regularizes every convolution except the first; the model has {len(convs)} "
            f"convolution(s) ({[n for n, _ in convs]}), so none is left"
        )
    return convs[1:]


def _check_target(target: float) -> float:
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
        raise ValueError(f"target = {target!r}: allowed a finite number (the paper's K_T is 1.8)")
    return float(target)


def loss(model: nn.Module, target: float = TARGET) -> torch.Tensor:
    """``R = (1/L) * sum_l (Kurt(W_l) - target) ** 2`` over :func:`regularized_convs`
    (a differentiable scalar in the weights' dtype); add ``lam * R`` to the task loss."""
    t = _check_target(target)
    terms: List[torch.Tensor] = []
    for name, conv in regularized_convs(model):
        w = conv.weight
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"layer {name!r} has no weight tensor")
        try:
            k = kurtosis(w)
        except ValueError as e:
            raise ValueError(f"layer {name!r}: {e}") from None
        term = torch.square(torch.sub(k, t))
        terms.append(term)
    r: torch.Tensor = torch.stack(terms).mean()
    return r


@dataclass
class LayerKurtosis:
    """One convolution's weight statistics: its name, weight shape, element count,
    kurtosis, and whether KURE regularizes it (every convolution but the first)."""

    name: str
    shape: Tuple[int, ...]
    numel: int
    kurtosis: float
    regularized: bool


def report(model: nn.Module) -> List[LayerKurtosis]:
    """The kurtosis of every convolution's weights (float64), in module order, the
    first (not regularized) included; ``nan`` where it is undefined (a single weight,
    or all weights equal)."""
    out = []
    for i, (name, conv) in enumerate(_convolutions(model)):
        w = conv.weight
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"layer {name!r} has no weight tensor")
        with torch.no_grad():
            try:
                k = float(kurtosis(w.detach().to(torch.float64)))
            except ValueError:
                k = math.nan  # one weight, or all equal: undefined
        out.append(LayerKurtosis(name, tuple(w.shape), int(w.numel()), k, i > 0))
    return out


def format_report(rows: Sequence[LayerKurtosis], after: Optional[Sequence[LayerKurtosis]] = None) -> str:
    """A markdown table of :func:`report` rows; with ``after`` (the same layers after
    fine-tuning) a before/after pair per layer."""
    if after is not None and [r.name for r in rows] != [r.name for r in after]:
        raise ValueError("before and after name different layers")
    head = "| layer | weight shape | regularized | kurtosis |"
    rule = "|---|---|---|---:|"
    if after is not None:
        head = "| layer | weight shape | regularized | kurtosis before | kurtosis after |"
        rule = "|---|---|---|---:|---:|"
    lines = [head, rule]
    for i, r in enumerate(rows):
        shape = "×".join(str(s) for s in r.shape)
        cells = [r.name, shape, "yes" if r.regularized else "no (first)", f"{r.kurtosis:.3f}"]
        if after is not None:
            cells.append(f"{after[i].kurtosis:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class EpochLog:
    """One fine-tuning epoch: mean cross-entropy and mean R over its batches, R at its
    end, training top-1 (%) and wall-clock seconds."""

    epoch: int
    cross_entropy: float
    r_mean: float
    r_end: float
    train_top1: float
    seconds: float


@dataclass
class FinetuneLog:
    """What :func:`finetune` did: its settings, R before it started, and one
    :class:`EpochLog` per epoch."""

    lam: float
    target: float
    lr: float
    seed: int
    r_start: float
    epochs: List[EpochLog] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Total wall-clock seconds."""
        return sum(e.seconds for e in self.epochs)


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} = {v!r}: allowed a positive integer")
    return v


def finetune(
    model: nn.Module,
    loader: Iterable[Tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    lam: float = LAMBDA,
    lr: float = 1e-3,
    seed: int = 0,
    target: float = TARGET,
    progress: bool = True,
) -> FinetuneLog:
    """Fine-tunes a float classifier in place with ``cross_entropy + lam * R``:
    Adam at ``lr`` with a cosine decay to zero over ``epochs`` passes of ``loader``
    (batches ``(x, y)``, labels as class indices), every parameter trained, BatchNorm
    in train mode. ``torch.manual_seed(seed)`` is set first; the loader's own order
    is the caller's (give it a fresh seeded loader for a reproducible result). With
    the same seed, loader and thread count the weights come out bit for bit the
    same. A tqdm bar per epoch on stderr when ``progress``. Leaves the model in eval
    mode; returns a :class:`FinetuneLog`.

    A model already swapped by :func:`smtgen.torch.quantize` is rejected: fine-tune
    the float model, then quantize it."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if _st.quant_layers(model):
        raise ValueError("model holds smtgen QuantLayer modules: fine-tune the float model before quantize()")
    _positive_int("epochs", epochs)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam = {lam!r}: allowed a finite number >= 0 (the paper's lambda is 1.0)")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr = {lr!r}: allowed a finite number > 0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed = {seed!r}: allowed an integer")
    t = _check_target(target)
    regularized_convs(model)  # a model KURE cannot regularize is rejected up front
    steps_per_epoch = len(loader) if isinstance(loader, Sized) else 0
    torch.manual_seed(seed)
    with torch.no_grad():
        r_start = float(loss(model, t))
    log = FinetuneLog(lam=float(lam), target=t, lr=float(lr), seed=seed, r_start=r_start)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched: Optional[torch.optim.lr_scheduler.CosineAnnealingLR] = None
    if steps_per_epoch:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    model.train()
    try:
        for ep in range(epochs):
            t0 = time.time()
            ce_sum = r_sum = 0.0
            correct = total = batches = 0
            r_now = r_start
            bar = tqdm(
                total=steps_per_epoch or None,
                desc=f"KURE (λ = {lam}) epoch {ep + 1}/{epochs}",
                disable=not progress,
                file=sys.stderr,
                leave=True,
            )
            for batch in loader:
                if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                    raise ValueError("finetune needs a loader of (x, y) batches")
                x, y = batch[0], batch[1]
                opt.zero_grad()
                out = model(x)
                ce = F.cross_entropy(out, y)
                r = loss(model, t)
                total_loss = torch.add(ce, r, alpha=lam)
                torch.autograd.backward(total_loss)
                opt.step()
                if sched is not None and sched.last_epoch < epochs * steps_per_epoch:
                    sched.step()
                r_now = float(r.detach())
                ce_sum += float(ce.detach())
                r_sum += r_now
                batches += 1
                correct += int((out.detach().argmax(dim=1) == y).sum())
                total += int(y.numel())
                bar.update(1)
                bar.set_postfix(ce=f"{ce_sum / batches:.3f}", R=f"{r_now:.3f}", top1=f"{100.0 * correct / total:.1f}%")
            bar.close()
            if batches == 0:
                raise ValueError("the loader gave no batch")
            with torch.no_grad():
                r_end = float(loss(model, t))
            log.epochs.append(
                EpochLog(ep + 1, ce_sum / batches, r_sum / batches, r_end, 100.0 * correct / total, time.time() - t0)
            )
    finally:
        model.eval()
    return log


# -- robustness across a family of quantizers -------------------------------------------


def dense_designs() -> List[str]:
    """Every preset whose weights need no 2:4 pruning (the ``sparq-stc-*`` presets
    run only on 2:4-pruned weights, which is another model)."""
    return [d for d in _sm.designs() if not _sm.describe(d)["stc"]]


@dataclass
class Cell:
    """Top-1 (%) of the model under one quantizer: a weight variant
    (:data:`smtgen.torch.WEIGHT_VARIANTS`), a design (``"exact"`` = the int8 GEMM
    computed exactly, or a preset), and whether BatchNorm was recalibrated."""

    variant: str
    design: str
    recal: bool
    top1: float


@dataclass
class RobustnessReport:
    """One model's top-1 across the family: the float model's top-1 and one
    :class:`Cell` per (variant, design, recalibration)."""

    float_top1: float
    cells: List[Cell] = field(default_factory=list)

    def select(self, variant: Optional[str] = None, recal: Optional[bool] = None) -> List[Cell]:
        """The cells of one variant and/or one recalibration setting."""
        return [
            c for c in self.cells if (variant is None or c.variant == variant) and (recal is None or c.recal == recal)
        ]

    def top1(self, variant: str, design: str, recal: bool) -> float:
        """The top-1 of one cell (``KeyError`` when it was not measured)."""
        for c in self.cells:
            if (c.variant, c.design, c.recal) == (variant, design, recal):
                return c.top1
        raise KeyError((variant, design, recal))

    def spread(self, variant: Optional[str] = None, recal: Optional[bool] = None) -> Tuple[float, Cell, Cell]:
        """``(max - min, worst cell, best cell)`` over the selected cells."""
        cells = self.select(variant, recal)
        if not cells:
            raise ValueError(f"no cell for variant={variant!r}, recal={recal!r}")
        worst = min(cells, key=lambda c: c.top1)
        best = max(cells, key=lambda c: c.top1)
        return best.top1 - worst.top1, worst, best

    def variants(self) -> List[str]:
        """The variants measured, in order."""
        return list(dict.fromkeys(c.variant for c in self.cells))

    def designs(self) -> List[str]:
        """The designs measured, in order."""
        return list(dict.fromkeys(c.design for c in self.cells))

    def to_markdown(self) -> str:
        """A design × (variant, recalibration) table of top-1 and the spread / worst
        case per column and over the whole family."""
        cols = [(v, r) for v in self.variants() for r in (False, True) if self.select(v, r)]
        head = "| design | " + " | ".join(f"{v}{' + BN recal' if r else ''}" for v, r in cols) + " |"
        lines = [head, "|---|" + "---:|" * len(cols)]
        for d in self.designs():
            row = []
            for v, r in cols:
                try:
                    row.append(f"{self.top1(v, d, r):.2f}")
                except KeyError:
                    row.append("—")
            lines.append(f"| {d} | " + " | ".join(row) + " |")
        sp = [self.spread(v, r) for v, r in cols]
        lines.append("| **spread** (max − min) | " + " | ".join(f"**{s[0]:.2f}**" for s in sp) + " |")
        lines.append("| **worst** | " + " | ".join(f"{s[1].top1:.2f} ({s[1].design})" for s in sp) + " |")
        return "\n".join(lines)


def robustness(
    model: nn.Module,
    test_loader: Iterable[Tuple[torch.Tensor, torch.Tensor]],
    recal_loader: Callable[[], Iterable[object]],
    *,
    designs: Optional[Sequence[str]] = None,
    variants: Sequence[str] = _st.WEIGHT_VARIANTS,
    recal_batches: int = 17,
    float_top1: Optional[float] = None,
    progress: bool = True,
) -> RobustnessReport:
    """Top-1 of one quantized model (after :func:`smtgen.torch.quantize`) under every
    weight variant × design, as quantized and after BatchNorm recalibration.

    ``designs`` defaults to ``"exact"`` plus :func:`dense_designs`; the ``"w4"``
    variant runs on ``"exact"`` only (4-bit weights on the exact int8 path). For each
    variant every simulated layer's weights are quantized again
    (:meth:`QuantLayer.freeze`); each cell starts from the model's state as given
    (BatchNorm statistics included) and ``recal_loader()`` must return a fresh
    loader for :func:`smtgen.torch.recalibrate_bn` (``recal_batches`` batches).
    ``float_top1`` (measured before quantization) is only carried into the report.
    The model is left as given: state restored, per-channel weights, design exact."""
    layers = _st.quant_layers(model)
    if not layers:
        raise ValueError("model has no simulated layer: call smtgen.torch.quantize(model, loader) first")
    chosen = ["exact"] + dense_designs() if designs is None else list(designs)
    if not chosen:
        raise ValueError("designs is empty")
    for d in chosen:
        if d != "exact":
            _sm.describe(d)  # every design is validated before anything runs
    for v in variants:
        if v not in _st.WEIGHT_VARIANTS:
            raise ValueError(f"variant {v!r}: allowed {', '.join(_st.WEIGHT_VARIANTS)}")
    _positive_int("recal_batches", recal_batches)
    pristine: Dict[str, torch.Tensor] = copy.deepcopy(model.state_dict())
    was = [(q, q.weights, q.design) for q in layers]
    out = RobustnessReport(float_top1=float("nan") if float_top1 is None else float(float_top1))
    try:
        for v in variants:
            for q in layers:
                q.freeze(weights=v)
            for d in ["exact"] if v == "w4" else chosen:
                t0 = time.time()
                model.load_state_dict(pristine)
                _st.simulate(model, d)
                top1 = _st.evaluate(model, test_loader, progress=progress, desc=f"{v} {d}")
                _st.recalibrate_bn(model, recal_loader(), batches=recal_batches, progress=progress)
                top1_recal = _st.evaluate(model, test_loader, progress=progress, desc=f"{v} {d} + BN recal")
                out.cells.append(Cell(v, d, False, top1))
                out.cells.append(Cell(v, d, True, top1_recal))
                if progress:
                    print(
                        f"robustness: {v:11s} {d:16s} top-1 {top1:6.2f}% -> {top1_recal:6.2f}% "
                        f"after BN recal ({time.time() - t0:.0f}s)",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        model.load_state_dict(pristine)
        for q, w, design in was:
            q.freeze(weights=w)
            q.design = design
        model.eval()
    return out
