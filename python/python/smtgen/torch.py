"""PyTorch flow over smtgen: quantize a network the reference way, run its integer
GEMMs through a design's golden model bit-exactly, recalibrate BatchNorm under the
design, and measure what the design does to each layer.

Pure Python over the compiled :mod:`smtgen` module, so it works with any torch
version. The recipe is the contract's network-quantization section:

* activations into every simulated layer: unsigned 8-bit per tensor,
  ``dx = max_mean / 255``, ``xq = clamp(round_half_even(x / dx), 0, 255)``, where
  ``max_mean`` is the mean over calibration batches of each sample's maximum;
* weights: signed 8-bit per output channel, symmetric, ``dw[o] = 2·max|w_o| / 255``,
  ``wq = clamp(round_half_even(w / dw[o]), -128, 127)``;
* output ``y = C · dx · dw[o] (+ bias in float)``; BN, ReLU, pooling stay float;
* convolutions lowered with K kernel-tap-major, input-channel-innermost;
* the first layer and the classifier stay float unless asked otherwise.

Typical use::

    import smtgen.torch as st
    report = st.quantize(model, calib_loader)       # swaps Conv2d/Linear in place
    st.simulate(model, "sysmt2")                    # or {"layer.name": design}
    st.recalibrate_bn(model, train_loader, batches=17)
    stats = st.layer_stats(model, loader, batches=2)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import smtgen as _sm

if TYPE_CHECKING:  # pragma: no cover
    from .assign import Assignment
    from .report import NetworkReport

Design = Union[str, Mapping[str, object], None]

__all__ = [
    "QuantLayer",
    "QuantizeReport",
    "UnsupportedLayerError",
    "quantize",
    "simulate",
    "recalibrate_bn",
    "layer_stats",
    "quant_layers",
    "evaluate",
    "report",
    "assign_designs",
    "Progress",
    "WEIGHT_VARIANTS",
    "weight_scales",
]


class UnsupportedLayerError(ValueError):
    """Layers chosen for simulation that cannot run through a design: those smtgen
    cannot lower to its GEMM and those with signed inputs. The message names every
    one with its reason; ``report`` is the :class:`QuantizeReport` with them among
    its float layers (``None`` when raised elsewhere)."""

    report: Optional["QuantizeReport"] = None


class Progress:
    """A small progress printer for loops over batches (stderr). On a terminal it
    redraws one line; elsewhere (CI logs) it prints the start and the end."""

    def __init__(self, total: int, desc: str, enabled: bool = True):
        self.total = max(int(total), 1)
        self.desc = desc
        self.n = 0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.time()
        self.extra = ""
        if self.enabled and not self.tty:
            print(f"{self.desc}: {self.total} batches ...", file=sys.stderr, flush=True)

    def update(self, k: int = 1, extra: str = "") -> None:
        self.n += k
        self.extra = extra
        if self.enabled and self.tty:
            done = int(30 * self.n / self.total)
            dt = time.time() - self.t0
            eta = dt / self.n * (self.total - self.n) if self.n else 0.0
            sys.stderr.write(
                f"\r{self.desc} [{'#' * done}{'.' * (30 - done)}] {self.n}/{self.total} "
                f"{dt:5.1f}s eta {eta:5.1f}s {extra}"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        dt = time.time() - self.t0
        end = f"{self.desc}: {self.n}/{self.total} in {dt:.1f}s {self.extra}"
        if self.tty:
            sys.stderr.write("\r" + end + " " * 20 + "\n")
        else:
            sys.stderr.write(end + "\n")
        sys.stderr.flush()


def _inputs(batch):
    """The input tensor of a loader's batch: `x` or the first element of `(x, y, ...)`."""
    if isinstance(batch, (list, tuple)):
        return batch[0]
    return batch


def _run_batches(model: nn.Module, loader: Iterable, batches: int, bar: Progress) -> None:
    """Runs ``model`` without gradients on the first ``batches`` batches of ``loader``
    (inputs as :func:`_inputs` takes them), ticking ``bar`` once a batch."""
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= batches:
                break
            model(_inputs(batch))
            bar.update()


def _check_design(design: Design) -> Design:
    """Validates a design up front (``ValueError``/``TypeError`` from smtgen)."""
    if design is None or design in ("exact", "float"):
        return design
    _sm.describe(design)
    return design


#: The weight-quantization variants of :meth:`QuantLayer.freeze` (spec §8): the
#: reference ``"per-channel"`` int8 rule, one ``"per-tensor"`` int8 scale, per-channel
#: int8 steps rounded up to a power of two (``"pow2"``), and per-channel 4-bit weights
#: (``"w4"``, integers -8..7 in the int8 GEMM).
WEIGHT_VARIANTS = ("per-channel", "per-tensor", "pow2", "w4")


def weight_scales(w: torch.Tensor, variant: str = "per-channel"):
    """The weight step per output channel (float64, length ``w.shape[0]``) and the
    integer range ``(lo, hi)`` of weight-quantization ``variant`` (spec §8); a channel
    (or, per tensor, a tensor) of zeros gets step 1."""
    if variant not in WEIGHT_VARIANTS:
        raise ValueError(f"weights = {variant!r}: allowed {', '.join(WEIGHT_VARIANTS)}")
    w = w.detach().to(torch.float64)
    o = w.shape[0]
    wmax = w.reshape(o, -1).abs().amax(dim=1)
    if variant == "per-tensor":
        wmax = wmax.amax().expand(o).clone()
    levels, lo, hi = (15.0, -8, 7) if variant == "w4" else (255.0, -128, 127)
    dw = torch.where(wmax > 0, 2.0 * wmax / levels, torch.ones_like(wmax))
    if variant == "pow2":
        # The smallest power of two >= dw, exactly: dw = m * 2^e with m in [0.5, 1).
        m, e = torch.frexp(dw)
        dw = torch.ldexp(torch.ones_like(dw), torch.where(m == 0.5, e - 1, e))
    return dw, lo, hi


class QuantLayer(nn.Module):
    """A Conv2d or Linear whose integer GEMM runs through smtgen. It owns the layer's
    calibrated activation range (``max_mean``), its quantized weights and the design
    it currently runs under (``"float"``, ``"exact"`` = the int8 baseline computed
    exactly, or an smtgen design point)."""

    def __init__(self, layer: nn.Module, name: str):
        super().__init__()
        self.layer = layer
        self.name = name
        self.kind = "conv" if isinstance(layer, nn.Conv2d) else "linear"
        self.register_buffer("max_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("calib_samples", torch.zeros((), dtype=torch.int64))
        self.register_buffer("calib_min", torch.zeros((), dtype=torch.float64))
        self.mode = "float"  # float | calibrate | quant
        self.design: Design = "exact"
        self.collect = False
        self.stats: Dict[str, float] = {}
        self._wq: Optional[torch.Tensor] = None
        self._dw: Optional[torch.Tensor] = None
        self.weights = "per-channel"  # a WEIGHT_VARIANTS entry (spec §8)

    # -- quantization -------------------------------------------------------------
    def freeze(self, weights: Optional[str] = None) -> None:
        """Quantizes the weights (per output channel, symmetric, unless ``weights``
        names another of :data:`WEIGHT_VARIANTS`, which is then kept for later
        freezes) and checks the range."""
        if weights is not None:
            weight_scales(torch.ones(1), weights)  # rejects an unknown variant up front
            self.weights = weights
        if float(self.calib_min) < 0.0:
            raise ValueError(
                f"layer {self.name!r} got negative inputs during calibration (min {float(self.calib_min):.4g}): "
                "smtgen's activations are unsigned 8-bit (post-ReLU, 0..255); "
                f"keep it float with skip=[{self.name!r}]"
            )
        if int(self.calib_samples) == 0 or float(self.max_mean) <= 0.0:
            raise ValueError(
                f"layer {self.name!r}: calibration saw no positive activation "
                f"(max_mean = {float(self.max_mean)}); give quantize() a calibration loader "
                "whose inputs reach this layer"
            )
        w = self.layer.weight.detach().to(torch.float64)
        o = w.shape[0]
        dw, lo, hi = weight_scales(w, self.weights)
        shape = (o,) + (1,) * (w.dim() - 1)
        wq = torch.clamp(torch.round(w / dw.reshape(shape)), lo, hi)
        self._wq = wq.to(torch.int8)
        self._dw = dw

    @property
    def dx(self) -> float:
        """The activation scale ``max_mean / 255``."""
        return float(self.max_mean) / 255.0

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """``clamp(round_half_even(x / dx), 0, 255)`` as float64 integers."""
        return torch.clamp(torch.round(x.detach().to(torch.float64) / self.dx), 0, 255)

    # -- the integer GEMM ---------------------------------------------------------
    def _lower(self, xq: torch.Tensor):
        """The layer's GEMM operands: A (M×K uint8), W (K×N int8), output shape."""
        wq = self._wq
        if self.kind == "linear":
            a = xq.reshape(-1, xq.shape[-1])
            w = wq.t()
            return a, w, None
        conv = self.layer
        n = xq.shape[0]
        o, c, kh, kw = wq.shape
        cols = F.unfold(xq, (kh, kw), padding=conv.padding, stride=conv.stride)
        taps = kh * kw
        length = cols.shape[-1]
        # (N, C·KH·KW, L) -> (N·L, KH·KW·C): kernel-tap-major, input-channel-innermost.
        a = cols.reshape(n, c, taps, length).permute(0, 3, 2, 1).reshape(n * length, taps * c)
        w = wq.permute(2, 3, 1, 0).reshape(taps * c, o)
        h_out = (xq.shape[2] + 2 * conv.padding[0] - kh) // conv.stride[0] + 1
        w_out = (xq.shape[3] + 2 * conv.padding[1] - kw) // conv.stride[1] + 1
        return a, w, (n, h_out, w_out, o)

    def _exact_int(self, xq: torch.Tensor) -> torch.Tensor:
        """The exact int8 layer (no wrap) in float64: exact while |sums| < 2^53."""
        wq = self._wq.to(torch.float64)
        if self.kind == "linear":
            return xq @ wq.t()
        conv = self.layer
        return F.conv2d(xq, wq, None, conv.stride, conv.padding)

    def _design_int(self, xq: torch.Tensor, stats: bool):
        a, w, shape = self._lower(xq)
        an = np.ascontiguousarray(a.numpy().astype(np.uint8))
        wn = np.ascontiguousarray(w.numpy())
        if stats:
            c, st = _sm.gemm_stats(an, wn, self.design)
        else:
            c, st = _sm.gemm(an, wn, self.design), None
        y = torch.from_numpy(np.asarray(c, dtype=np.float64))
        if shape is None:
            y = y.reshape(xq.shape[:-1] + (y.shape[-1],))
        else:
            n, h, wd, o = shape
            y = y.reshape(n, h, wd, o).permute(0, 3, 1, 2).contiguous()
        return y, st

    def _dequant(self, y: torch.Tensor, dtype) -> torch.Tensor:
        ch = (1, -1, 1, 1) if self.kind == "conv" else (1,) * (y.dim() - 1) + (-1,)
        out = y * self.dx * self._dw.reshape(ch)
        if self.layer.bias is not None:
            out = out + self.layer.bias.detach().to(torch.float64).reshape(ch)
        return out.to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "quant" or self.design == "float":
            if self.mode == "calibrate":
                with torch.no_grad():
                    per_sample = x.detach().reshape(x.shape[0], -1).amax(dim=1).to(torch.float64)
                    total = int(self.calib_samples) + per_sample.numel()
                    self.max_mean.mul_(int(self.calib_samples) / total).add_(per_sample.sum() / total)
                    self.calib_samples.fill_(total)
                    self.calib_min.fill_(min(float(self.calib_min), float(x.detach().min())))
            return self.layer(x)
        with torch.no_grad():
            if x.numel() and float(x.min()) < 0.0:
                raise ValueError(
                    f"layer {self.name!r}: negative input {float(x.min()):.4g}; smtgen's activations are "
                    "unsigned 8-bit (post-ReLU, 0..255)"
                )
            xq = self.quantize_input(x)
            if self.design in (None, "exact"):
                y = self._exact_int(xq)
                st = None
            else:
                y, st = self._design_int(xq, self.collect)
            if self.collect:
                self._accumulate(x, xq, y, st)
            return self._dequant(y, x.dtype)

    def _accumulate(self, x, xq, y, st) -> None:
        s = self.stats
        s["elements"] = s.get("elements", 0) + xq.numel()
        s["zeros"] = s.get("zeros", 0) + int((xq == 0).sum())
        if st is None:
            ref = y
            hist = None
        else:
            ref = self._exact_int(xq)
            hist = st["active_histogram"]
        ch = (1, -1, 1, 1) if self.kind == "conv" else (1,) * (y.dim() - 1) + (-1,)
        scale = self._dw.reshape(ch) * self.dx
        err = ((y - ref) * scale).pow(2).sum().item()
        s["err2"] = s.get("err2", 0.0) + err
        s["ref2"] = s.get("ref2", 0.0) + (ref * scale).pow(2).sum().item()
        if hist is not None:
            cycles = sum(hist)
            active = sum(i * h for i, h in enumerate(hist))
            s["cycles"] = s.get("cycles", 0) + cycles
            s["collide"] = s.get("collide", 0) + sum(hist[2:])
            s["active"] = s.get("active", 0) + active
            s["reduced"] = s.get("reduced", 0.0) + st["reduced_fraction"] * active


def quant_layers(model: nn.Module) -> List[QuantLayer]:
    """The model's simulated layers, in module order."""
    return [m for m in model.modules() if isinstance(m, QuantLayer)]


def _simulated_layers(model: nn.Module) -> List[QuantLayer]:
    """The model's simulated layers; a model without one is rejected (call
    :func:`quantize` first)."""
    layers = quant_layers(model)
    if not layers:
        raise ValueError("model has no simulated layer: call smtgen.torch.quantize(model, loader) first")
    return layers


@dataclass
class QuantizeReport:
    """What :func:`quantize` did: the layers it swapped, every convolution or linear
    layer that stays float with the reason, and each such layer's multiply-accumulates
    for one input sample (measured on the first calibration batch), from which the
    share of the network's MACs that runs through the design follows."""

    quantized: List[str] = field(default_factory=list)
    float_layers: Dict[str, str] = field(default_factory=dict)
    macs: Dict[str, int] = field(default_factory=dict)

    @property
    def total_macs(self) -> int:
        """MACs per sample of every convolution and linear layer, simulated or float."""
        return int(sum(self.macs.values()))

    @property
    def simulated_macs(self) -> int:
        """MACs per sample of the simulated layers."""
        return int(sum(self.macs.get(n, 0) for n in self.quantized))

    @property
    def mac_share(self) -> float:
        """The simulated layers' share of :attr:`total_macs` (0..1; 0 when none ran)."""
        total = self.total_macs
        return self.simulated_macs / total if total else 0.0

    def __str__(self) -> str:
        lines = [
            f"smtgen.torch: {len(self.quantized)} simulated layer(s), {len(self.float_layers)} float; "
            f"{100.0 * self.mac_share:.1f} % of the conv/linear MACs "
            f"({self.simulated_macs:,} of {self.total_macs:,} per sample) run through the design"
        ]
        if self.quantized:
            lines.append("  simulated: " + ", ".join(self.quantized))
        for name, why in self.float_layers.items():
            macs = self.macs.get(name)
            share = f", {100.0 * macs / self.total_macs:.1f} % of MACs" if macs and self.total_macs else ""
            lines.append(f"  stays float: {name} ({why}{share})")
        return "\n".join(lines)


def _unsupported(layer: nn.Module) -> Optional[str]:
    """Why smtgen cannot lower ``layer`` (a convolution or linear layer) to its GEMM,
    or ``None`` when it can. The one place that decides it: :func:`quantize` asks it
    for every candidate layer."""
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        return f"{type(layer).__name__}: transposed convolutions are not lowered"
    if isinstance(layer, nn.modules.conv._ConvNd) and not isinstance(layer, nn.Conv2d):
        return f"{type(layer).__name__}: only 2-D convolutions are lowered"
    base = nn.Conv2d if isinstance(layer, nn.Conv2d) else nn.Linear
    if type(layer).forward is not base.forward:
        return (
            f"{type(layer).__name__} overrides {base.__name__}.forward (e.g. padding inside the module), "
            f"so its GEMM is not the {base.__name__}'s; rewrite it as a plain {base.__name__} "
            "(with an nn.ZeroPad2d in front for TF-style 'same' padding)"
        )
    if isinstance(layer, nn.Conv2d):
        if layer.groups != 1:
            return f"groups={layer.groups}"
        if tuple(layer.dilation) != (1, 1):
            return f"dilation={tuple(layer.dilation)}"
        if layer.padding_mode != "zeros":
            return f"padding_mode={layer.padding_mode!r}"
        if isinstance(layer.padding, str):
            return f"padding={layer.padding!r}"
    return None


def _candidate(m: nn.Module) -> bool:
    """A layer :func:`quantize` considers: any convolution (1/2/3-D, transposed) or linear."""
    return isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))


def _macs_per_sample(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Multiply-accumulates of one sample through ``m`` given its input and output."""
    w = m.weight
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{type(m).__name__} has no weight tensor")
    per_out = int(w[0].numel())  # C/groups · taps, or in_features
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        return int(x[0].numel()) * per_out
    return int(y[0].numel()) * per_out


def _set_child(model: nn.Module, name: str, new: nn.Module) -> None:
    parent = model
    parts = name.split(".")
    for p in parts[:-1]:
        parent = getattr(parent, p)
    setattr(parent, parts[-1], new)


def quantize(
    model: nn.Module,
    calib_loader: Iterable[Any],
    *,
    batches: int = 17,
    include_first: bool = False,
    include_last: bool = False,
    skip: Sequence[str] = (),
    unsupported: str = "error",
    progress: bool = True,
    verbose: bool = True,
) -> QuantizeReport:
    """Swaps the model's Conv2d and Linear layers for :class:`QuantLayer` in place
    and calibrates their activation ranges (``max_mean``) on up to ``batches``
    batches of ``calib_loader`` in train mode without gradient steps; BatchNorm's
    running statistics are restored afterwards, so the float model is unchanged.
    The first layer and the last (the classifier) stay float unless
    ``include_first`` / ``include_last``; names in ``skip`` stay float too.

    Every convolution (any dimension, transposed too) and linear layer is looked at
    in one call, and every one that cannot run through a design is found in that
    call: those smtgen cannot lower (the reason from one check, e.g. a grouped
    convolution or a ``Conv1d``), and those whose inputs were negative during
    calibration (a linear bottleneck's signed sum, a first layer on normalized
    images: the designs' windows are defined on unsigned activations, so no design is
    applied to them) or never positive. With ``unsupported="error"`` (the default)
    one :class:`UnsupportedLayerError` names them all, each with its reason, and the
    model is left as given; with ``unsupported="float"`` they all stay float and the
    returned report names them with their reasons.

    Raises ``ValueError`` when no layer is left to simulate. Returns a
    :class:`QuantizeReport` (printed when ``verbose``) that also gives each layer's
    MACs per sample and the share of them the simulated layers carry."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches = {batches!r}: allowed a positive integer")
    if unsupported not in ("error", "float"):
        raise ValueError(f"unsupported = {unsupported!r}: allowed 'error' or 'float'")
    if quant_layers(model):
        raise ValueError("model is already quantized (it holds smtgen QuantLayer modules)")
    candidates = [(n, m) for n, m in model.named_modules() if _candidate(m)]
    names = {n for n, _ in candidates}
    unknown = [s for s in skip if s not in names]
    if unknown:
        raise ValueError(
            f"skip names {unknown} are not convolution/linear layers of the model; its layers are {sorted(names)}"
        )
    report = QuantizeReport()
    problems: Dict[str, str] = {}  # layers asked for that cannot run through a design
    chosen = []
    for i, (name, layer) in enumerate(candidates):
        if name in skip:
            report.float_layers[name] = "in skip"
        elif i == 0 and not include_first:
            report.float_layers[name] = "first layer (include_first=True to simulate it)"
        elif i == len(candidates) - 1 and not include_last:
            report.float_layers[name] = "classifier (include_last=True to simulate it)"
        else:
            why = _unsupported(layer)
            if why is None:
                chosen.append((name, layer))
            else:
                problems[name] = f"cannot be lowered: {type(layer).__name__} with {why}"
    if not chosen:
        report.float_layers.update(problems)
        if problems and unsupported == "error":
            listed = "\n".join(f"  {n}: {why}" for n, why in problems.items())
            err = UnsupportedLayerError(
                f"{len(problems)} layer(s) cannot run through a design:\n{listed}\n"
                'keep them float with unsupported="float", or name them in skip=[...]'
            )
            err.report = report
            raise err
        raise ValueError(
            "model has no quantizable layer: smtgen simulates Conv2d and Linear layers and none "
            f"is left (found {len(candidates)}; float: {report.float_layers or 'none'})"
        )
    # MACs per sample of every candidate, from the first calibration batch.
    hooks = []
    for name, layer in candidates:

        def count(mod: nn.Module, inp: Tuple[torch.Tensor, ...], out: torch.Tensor, name: str = name) -> None:
            if name not in report.macs and isinstance(out, torch.Tensor) and out.dim() > 0:
                report.macs[name] = _macs_per_sample(mod, inp[0], out)

        hooks.append(layer.register_forward_hook(count))
    for name, layer in chosen:
        _set_child(model, name, QuantLayer(layer, name))
    layers = quant_layers(model)
    for q in layers:
        q.mode = "calibrate"
    bn_state = {
        k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches_tracked" in k
    }
    was_training = model.training
    model.train()
    bar = Progress(batches, "calibrate", progress)
    try:
        _run_batches(model, calib_loader, batches, bar)
    except BaseException:
        for q in layers:  # leave the model as it was given
            _set_child(model, q.name, q.layer)
        raise
    finally:
        bar.close()
        for h in hooks:
            h.remove()
        model.load_state_dict({**model.state_dict(), **bn_state}, strict=False)
        model.train(was_training)
    for q in layers:
        if float(q.calib_min) < 0.0:
            problems[q.name] = (
                f"signed inputs (calibration min {float(q.calib_min):.4g}; the designs take unsigned "
                "8-bit activations)"
            )
        elif int(q.calib_samples) == 0 or float(q.max_mean) <= 0.0:
            problems[q.name] = (
                f"calibration saw no positive input (max_mean = {float(q.max_mean)}); "
                "give quantize() a calibration loader whose inputs reach this layer"
            )
    order = {n: i for i, (n, _) in enumerate(candidates)}
    problems = dict(sorted(problems.items(), key=lambda kv: order[kv[0]]))
    if problems and unsupported == "error":
        for q in layers:  # leave the model as it was given
            _set_child(model, q.name, q.layer)
        listed = "\n".join(f"  {n}: {why}" for n, why in problems.items())
        err = UnsupportedLayerError(
            f"{len(problems)} layer(s) cannot run through a design:\n{listed}\n"
            'keep them all float with unsupported="float", or name them in skip=[...] '
            f"(skip={list(problems)!r})"
        )
        report.float_layers.update(problems)
        err.report = report
        raise err
    kept = []
    for q in layers:
        if q.name in problems:
            _set_child(model, q.name, q.layer)
        else:
            q.freeze()
            q.mode = "quant"
            q.design = "exact"
            kept.append(q.name)
    report.float_layers.update(problems)
    report.float_layers = dict(sorted(report.float_layers.items(), key=lambda kv: order[kv[0]]))
    report.quantized = kept
    if not kept:
        raise ValueError(
            "model has no quantizable layer: smtgen simulates Conv2d and Linear layers and none "
            f"is left (found {len(candidates)}; float: {report.float_layers or 'none'})"
        )
    if verbose:
        print(report, file=sys.stderr)
    return report


def prune_2_4(model: nn.Module) -> Dict[str, int]:
    """Prunes every simulated layer's weights to 2:4 along its reduction (the lowered
    GEMM's K for a convolution, ``k = tap * C + c``; input features for a linear layer), as
    2:4-sparse designs (``sparq-stc-*``) require: keeps the two largest ``|w|`` of each
    group of four (ties to the lower index), then quantizes the weights again. Call it
    after :func:`quantize`; it is never applied implicitly. Returns, per layer, how
    many weights it zeroed."""
    from . import prune_2_4 as _prune

    layers = quant_layers(model)
    if not layers:
        raise ValueError("the model has no simulated layer: call quantize() first")
    zeroed: Dict[str, int] = {}
    for ql in layers:
        w = ql.layer.weight
        pruned, z = _prune(w.detach().cpu().numpy(), axis=1)
        with torch.no_grad():
            w.copy_(torch.from_numpy(pruned).to(w.dtype))
        ql.freeze()
        zeroed[ql.name] = z
    return zeroed


def simulate(model: nn.Module, design: Union[Design, Mapping[str, Design]], default: Design = "exact") -> nn.Module:
    """Sets the design every simulated layer runs under: one design for all, or a
    mapping ``{layer_name: design}`` (layers it does not name run ``default``).
    A design is ``"exact"`` (the int8 baseline, computed exactly), ``"float"``
    (the layer's float path), a preset name, a ``"PRESET+key=value"`` string or a
    dict with a ``"preset"`` key (a mapping without one names layers). Every design is validated before anything changes. Returns the model."""
    layers = _simulated_layers(model)
    by_name = {q.name: q for q in layers}
    if isinstance(design, Mapping) and "preset" not in design:
        unknown = [k for k in design if k not in by_name]
        if unknown:
            raise ValueError(f"design names layers {unknown} that are not simulated; simulated: {sorted(by_name)}")
        plan = {n: design.get(n, default) for n in by_name}
    else:
        plan = {n: design for n in by_name}
    for d in plan.values():
        _check_design(d)
    for n, d in plan.items():
        by_name[n].design = d
    return model


def recalibrate_bn(
    model: nn.Module,
    loader: Iterable[Any],
    batches: int = 17,
    progress: bool = True,
    momentum: Optional[float] = 0.1,
) -> nn.Module:
    """Re-estimates BatchNorm's running mean and variance under the current designs:
    ``batches`` batches of ``loader`` in train mode without gradients, activation
    ranges frozen, weights untouched; leaves the model in eval mode. Returns the model.

    The default is the papers' recipe (their code: 17 batches at momentum 0.1), each
    batch moving the running statistics a fraction ``momentum`` towards its own, so
    the statistics the model came with keep a weight of ``(1 - momentum) ** batches``
    (0.17 after 17 batches at 0.1). ``momentum`` is set on every BatchNorm layer for
    the run and its own value restored afterwards, whatever the network was built
    with (TF-ported networks often use 0.01, which would barely move them).
    ``momentum=None`` resets the running statistics and takes the cumulative average
    over the ``batches`` batches, every batch weighted equally: for small calibration
    sets, where a few batches should carry the whole estimate."""
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches = {batches!r}: allowed a positive integer")
    if momentum is not None and (
        isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 < float(momentum) <= 1.0
    ):
        raise ValueError(f"momentum = {momentum!r}: allowed a number in (0, 1] or None (cumulative average)")
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise ValueError("model has no BatchNorm layer to recalibrate")
    if any(not m.track_running_stats for m in bns):
        raise ValueError("a BatchNorm layer has track_running_stats=False: it has no running statistics to recalibrate")
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = None if momentum is None else float(momentum)  # type: ignore[assignment]
        if momentum is None:
            m.reset_running_stats()
    model.train()
    bar = Progress(batches, "recalibrate BN", progress)
    try:
        _run_batches(model, loader, batches, bar)
    finally:
        bar.close()
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.eval()
    return model


def layer_stats(model: nn.Module, loader: Iterable, batches: int = 1, progress: bool = False) -> List[dict]:
    """Per simulated layer, over ``batches`` batches in eval mode: the share of zero
    (quantized) input activations, the
    share of PE cycles (groups) where two or more lanes are active (lanes collide),
    the share of active products computed at reduced precision, and the SQNR (dB) of
    the layer's output against the exact int8 layer on the same input."""
    layers = _simulated_layers(model)
    was = model.training
    model.eval()
    for q in layers:
        q.collect, q.stats = True, {}
    bar = Progress(batches, "layer stats", progress)
    try:
        _run_batches(model, loader, batches, bar)
    finally:
        bar.close()
        for q in layers:
            q.collect = False
        model.train(was)
    out = []
    for q in layers:
        s = q.stats
        exact = q.design in (None, "exact")
        if q.design == "float":
            out.append({"layer": q.name, "design": "float", "zero_fraction": None, "collide_fraction": None,
                        "reduced_fraction": None, "sqnr_db": None})
            continue
        err2, ref2 = s.get("err2", 0.0), s.get("ref2", 0.0)
        out.append(
            {
                "layer": q.name,
                "design": "exact" if exact else (q.design if isinstance(q.design, str) else dict(q.design)),
                "zero_fraction": s.get("zeros", 0) / max(s.get("elements", 0), 1),
                "collide_fraction": 0.0 if exact else s.get("collide", 0) / max(s.get("cycles", 0), 1),
                "reduced_fraction": 0.0 if exact else s.get("reduced", 0.0) / max(s.get("active", 0), 1),
                "sqnr_db": float("inf") if err2 == 0 else 10.0 * np.log10(ref2 / err2) if ref2 > 0 else float("-inf"),
            }
        )
    return out


def evaluate(model: nn.Module, loader: Iterable, progress: bool = True, desc: str = "evaluate") -> float:
    """Top-1 accuracy (%) of the model in eval mode over a loader of ``(x, y)``."""
    model.eval()
    correct = total = 0
    try:
        n = len(loader)  # type: ignore[arg-type]
    except TypeError:
        n = 0
    bar = Progress(n, desc, progress)
    with torch.no_grad():
        for x, y in loader:
            pred = model(x).argmax(dim=1)
            correct += int((pred == y).sum())
            total += int(y.numel())
            bar.update(extra=f"top-1 {100.0 * correct / max(total, 1):.2f}%")
    bar.close()
    return 100.0 * correct / max(total, 1)


def report(model: nn.Module, loader: Iterable[Any], designs: Sequence[Design], **kwargs: object) -> "NetworkReport":
    """One report per network and array: fidelity with and without BN recalibration,
    cycles and speedup on an R×C array, area, energy per inference, and a chart
    (``.plot(path)``). See :func:`smtgen.report.report` for the arguments and the
    method."""
    from .report import report as _report

    return _report(model, loader, designs, **kwargs)  # type: ignore[arg-type]


def assign_designs(model: nn.Module, loader: Iterable[Any], budget: float, **kwargs: object) -> "Assignment":
    """A design per layer within a budget of fidelity loss; see
    :func:`smtgen.assign.assign_designs`."""
    from .assign import assign_designs as _assign

    return _assign(model, loader, budget, **kwargs)  # type: ignore[arg-type]


# KURE (``smtgen.torch.kure``); imported last, it builds on this module.
from . import kure as kure  # noqa: E402
