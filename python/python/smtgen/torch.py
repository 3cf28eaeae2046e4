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
* the first layer and the classifier stay float unless asked otherwise;
* a layer whose input goes negative (a linear bottleneck's sum) stays float, or,
  with ``quantize(..., signed="exact")``, runs on the exact int8 path with signed
  activations, ``dx = 2·max_abs_mean / 255``,
  ``xq = clamp(round_half_even(x / dx), -128, 127)``, computed as two unsigned exact
  GEMMs ``C = A⁺·W − A⁻·W`` (never under a design's windows).

Typical use::

    import smtgen.torch as st
    report = st.quantize(model, calib_loader)       # swaps Conv2d/Linear in place
    st.simulate(model, "sysmt2")                    # or {"layer.name": design}
    st.recalibrate_bn(model, train_loader, batches=17)
    stats = st.layer_stats(model, loader, batches=2)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, Union, cast

import numpy as np
import numpy.typing as npt
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm  # type: ignore[import]

import smtgen as _sm

if TYPE_CHECKING:  # pragma: no cover
    from .assign import Assignment
    from .report import NetworkReport

Design = Union[str, Mapping[str, object], None]
#: A convolution's geometry as the layer op takes it: (stride_h, stride_w, pad_top,
#: pad_bottom, pad_left, pad_right, dilation_h, dilation_w, groups).
Geometry = Tuple[int, int, int, int, int, int, int, int, int]

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
    "WEIGHT_VARIANTS",
    "weight_scales",
]


class UnsupportedLayerError(ValueError):
    """Layers chosen for simulation that cannot run through a design: those smtgen
    cannot lower to its GEMM and those with signed inputs. The message names every
    one with its reason; ``report`` is the :class:`QuantizeReport` with them among
    its float layers (``None`` when raised elsewhere)."""

    report: Optional["QuantizeReport"] = None


def _bar(total: int, desc: str, enabled: bool = True) -> Any:
    """A progress bar over batches on stderr (tqdm; silent when not ``enabled``)."""
    return tqdm(total=total or None, desc=desc, disable=not enabled, unit="batch", file=sys.stderr,
                dynamic_ncols=True)


def _inputs(batch: Any) -> Any:
    """The input tensor of a loader's batch: `x` or the first element of `(x, y, ...)`."""
    if isinstance(batch, (list, tuple)):
        return batch[0]
    return batch


def _run_batches(model: nn.Module, loader: Iterable[Any], batches: int, bar: Any) -> None:
    """Runs ``model`` without gradients on the first ``batches`` batches of ``loader``
    (inputs as :func:`_inputs` takes them), ticking ``bar`` once a batch."""
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= batches:
                break
            model(_inputs(batch))
            bar.update()


def _bn_train_mode(model: nn.Module) -> None:
    """Puts ``model``'s BatchNorm layers in train mode (batch statistics, running
    statistics updated) and every other module in eval mode: dropout and stochastic
    depth (EfficientNet's drop-connect) are training-time noise that would otherwise
    perturb the activation ranges and the statistics a calibration pass collects."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()


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


def weight_scales(w: torch.Tensor, variant: str = "per-channel") -> Tuple[torch.Tensor, int, int]:
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


def _pair(v: Union[int, Tuple[int, ...]], n: int = 2) -> Tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * n


class QuantLayer(nn.Module):
    """A Conv1d, Conv2d or Linear whose integer GEMM runs through smtgen. It owns the
    layer's calibrated activation range (``max_mean``), its quantized weights and the
    design it currently runs under (``"float"``, ``"exact"`` = the int8 baseline
    computed exactly, or an smtgen design point). In ``quant`` mode one call of the
    compiled layer op per batch quantizes the input, lowers it (stride, padding,
    dilation, groups) inside the engine, runs the design's GEMM and dequantizes into
    the output tensor."""

    max_mean: torch.Tensor
    absmax_mean: torch.Tensor
    calib_samples: torch.Tensor
    calib_min: torch.Tensor

    def __init__(self, layer: nn.Module, name: str, jobs: int = 0, max_elements: int = 1 << 24) -> None:
        super().__init__()
        self.layer: Any = layer
        self.name = name
        if isinstance(layer, nn.Conv2d):
            self.kind = "conv"
        elif isinstance(layer, nn.Conv1d):
            self.kind = "conv1d"
        else:
            self.kind = "linear"
        self.register_buffer("max_mean", torch.zeros((), dtype=torch.float64))
        # The mean over calibration samples of each sample's max |x|: the signed scale.
        self.register_buffer("absmax_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("calib_samples", torch.zeros((), dtype=torch.int64))
        self.register_buffer("calib_min", torch.zeros((), dtype=torch.float64))
        self.mode = "float"  # float | calibrate | quant
        self.design: Design = "exact"
        self.collect = False
        self.jobs = jobs
        self.max_elements = max_elements  # the layer op's ceiling on elements per tensor
        self.stats: Dict[str, float] = {}
        self.times: Dict[str, float] = {}
        self._wq: Optional[torch.Tensor] = None
        self._dw: Optional[torch.Tensor] = None
        self.weights = "per-channel"  # a WEIGHT_VARIANTS entry (spec §8)
        self._bias: Optional[npt.NDArray[np.float64]] = None
        #: Signed activations on the exact int8 path (``quantize(signed="exact")``):
        #: such a layer runs only ``"exact"`` or ``"float"``, never a design.
        self.signed = False

    # -- geometry -------------------------------------------------------------------
    def conv_geometry(self, x_hw: Tuple[int, int]) -> Optional[Geometry]:
        """The layer op's convolution geometry for an input of spatial size ``x_hw``
        (H, W; H = 1 for Conv1d): ``(stride_h, stride_w, pad_top, pad_bottom,
        pad_left, pad_right, dilation_h, dilation_w, groups)``; None for Linear.
        ``padding='same'`` is split as torch splits it (the extra row or column at the
        bottom / right); ``'valid'`` is no padding."""
        if self.kind == "linear":
            return None
        conv = self.layer
        nd = 1 if self.kind == "conv1d" else 2
        k = _pair(conv.kernel_size, nd)
        st = _pair(conv.stride, nd)
        dil = _pair(conv.dilation, nd)
        if isinstance(conv.padding, str):
            if conv.padding == "valid":
                pads = [(0, 0)] * nd
            else:  # "same": total dilation·(k-1), the odd one after
                pads = []
                for d, kk in zip(dil, k):
                    total = d * (kk - 1)
                    pads.append((total // 2, total - total // 2))
        else:
            pads = [(p, p) for p in _pair(conv.padding, nd)]
        if nd == 1:
            return (1, st[0], 0, 0, pads[0][0], pads[0][1], 1, dil[0], conv.groups)
        return (st[0], st[1], pads[0][0], pads[0][1], pads[1][0], pads[1][1], dil[0], dil[1], conv.groups)

    # -- quantization -------------------------------------------------------------
    def freeze(self, weights: Optional[str] = None) -> None:
        """Quantizes the weights (per output channel, symmetric, unless ``weights``
        names another of :data:`WEIGHT_VARIANTS`, which is then kept for later
        freezes) and checks the range and the calibration (a NaN or infinite range or
        weight is a ValueError naming the layer)."""
        if weights is not None:
            weight_scales(torch.ones(1), weights)  # rejects an unknown variant up front
            self.weights = weights
        mm = float(self.max_mean)
        if not np.isfinite(mm) or not np.isfinite(float(self.calib_min)):
            raise ValueError(
                f"layer {self.name!r}: calibration saw NaN or infinite inputs (max_mean = {mm}); "
                "check the calibration data and the layers before this one"
            )
        if self.signed:
            if int(self.calib_samples) == 0 or not float(self.absmax_mean) > 0.0:
                raise ValueError(
                    f"layer {self.name!r}: calibration saw no non-zero input (max_abs_mean = "
                    f"{float(self.absmax_mean)}); give quantize() a calibration loader whose inputs reach this layer"
                )
        elif float(self.calib_min) < 0.0:
            raise ValueError(
                f"layer {self.name!r} got negative inputs during calibration (min {float(self.calib_min):.4g}): "
                "smtgen's activations are unsigned 8-bit (post-ReLU, 0..255); "
                f"keep it float with skip=[{self.name!r}], or quantize(..., signed=\"exact\") to run it on "
                "the exact int8 path with signed activations"
            )
        elif int(self.calib_samples) == 0 or mm <= 0.0:
            raise ValueError(
                f"layer {self.name!r}: calibration saw no positive activation "
                f"(max_mean = {mm}); give quantize() a calibration loader "
                "whose inputs reach this layer"
            )
        w = self.layer.weight.detach().to(torch.float64)
        if not bool(torch.isfinite(w).all()):
            bad = int((~torch.isfinite(w)).flatten().nonzero()[0])
            raise ValueError(
                f"layer {self.name!r}: weight holds {float(w.flatten()[bad])} at flat index {bad}; "
                "weights must be finite to be quantized"
            )
        o = w.shape[0]
        dw, lo, hi = weight_scales(w, self.weights)
        shape = (o,) + (1,) * (w.dim() - 1)
        wq = torch.clamp(torch.round(w / dw.reshape(shape)), lo, hi)
        self._wq = wq.to(torch.int8).contiguous()
        self._dw = dw
        self._cache().clear()  # frees the old weights' prepared form (it would not match anyway)
        bias = self.layer.bias
        self._bias = None if bias is None else bias.detach().to(torch.float64).cpu().numpy()

    @property
    def dx(self) -> float:
        """The activation scale: ``max_mean / 255`` (unsigned), or for a signed layer
        ``2·max_abs_mean / 255`` (the weights' symmetric rule, spec §8)."""
        if self.signed:
            return 2.0 * float(self.absmax_mean) / 255.0
        return float(self.max_mean) / 255.0

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        """``clamp(round_half_even(x / dx), 0, 255)`` as float64 integers (the
        reference formula; the layer op computes the same in the compiled core); for a
        signed layer ``clamp(round_half_even(x / dx), -128, 127)``."""
        lo, hi = (-128, 127) if self.signed else (0, 255)
        return torch.clamp(torch.round(x.detach().to(torch.float64) / self.dx), lo, hi)

    # -- the integer layer ----------------------------------------------------------
    def _operands(
        self, x: torch.Tensor
    ) -> Tuple[npt.NDArray[Any], npt.NDArray[Any], Optional[Geometry], Tuple[int, ...]]:
        """``x`` and the weights as the layer op takes them (views where possible),
        the geometry, and the output shape to restore."""
        assert self._wq is not None
        xd = x.detach()
        if xd.device.type != "cpu":
            raise ValueError(f"layer {self.name!r}: input is on {xd.device}; smtgen runs on CPU tensors")
        if xd.dtype not in (torch.float32, torch.float64):
            xd = xd.to(torch.float64)
        wq = self._wq
        if self.kind == "linear":
            lead = tuple(xd.shape[:-1])
            xn = xd.reshape(-1, xd.shape[-1]).numpy()
            return xn, wq.numpy(), None, lead + (wq.shape[0],)
        if self.kind == "conv1d":
            batched = xd.dim() == 3
            x4 = (xd if batched else xd.unsqueeze(0)).unsqueeze(2)
            w4 = wq.unsqueeze(2)
        else:
            batched = xd.dim() == 4
            x4 = xd if batched else xd.unsqueeze(0)
            w4 = wq
        geom = self.conv_geometry((x4.shape[2], x4.shape[3]))
        return x4.numpy(), w4.numpy(), geom, (-1,) if batched else (-2,)

    def _cache(self) -> Any:
        """The layer op's cache of this layer's prepared weights (a ``LayerCache``:
        it prepares again whenever the weights or the design differ from the ones it
        holds, so it never needs invalidating; copies of a layer start empty)."""
        c = self.__dict__.get("_prepared")
        if c is None:
            c = _sm.LayerCache()
            self.__dict__["_prepared"] = c
        return c

    def _layer_op(self, x: torch.Tensor, design: Design) -> torch.Tensor:
        """The layer under ``design`` through the compiled layer op (one call; two
        exact calls for a signed layer, see :meth:`_signed_op`)."""
        assert self._dw is not None
        if self.signed:
            return self._signed_op(x, design)
        out = self._call(x, self.dx, self._dw.numpy(), self._bias, design)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    def _signed_op(self, x: torch.Tensor, design: Design) -> torch.Tensor:
        """The signed exact path (spec §8): ``q = clamp(round_half_even(x / dx), -128,
        127)`` split into ``A⁺ = max(q, 0)`` and ``A⁻ = max(-q, 0)`` (both 0..128),
        each through the compiled layer op's exact GEMM (unit scales, no bias: the
        integer ``C±`` in float64, exact below 2**53), ``C = C⁺ - C⁻`` (exact), then
        ``y = C · dx · dw[o] (+ bias[o])`` in float64 in that order, as the layer op
        dequantizes, rounded once to the input's dtype. A design other than
        ``"exact"`` is a ValueError: the designs' windows are defined on unsigned
        activations."""
        assert self._dw is not None
        if design not in (None, "exact"):
            raise ValueError(
                f"layer {self.name!r} has signed inputs (quantize(signed='exact')): it runs only 'exact' or "
                f"'float', not design {design!r} (the designs' windows are defined on unsigned activations)"
            )
        if x.numel() and not bool(torch.isfinite(x.detach()).all()):
            raise ValueError(f"layer {self.name!r}: input holds NaN or infinite values")
        q = self.quantize_input(x)
        ones = np.ones(self._dw.numel(), dtype=np.float64)
        cpos = self._call(torch.clamp(q, min=0.0), 1.0, ones, None, "exact")
        cneg = self._call(torch.clamp(-q, min=0.0), 1.0, ones, None, "exact")
        c = cpos - cneg
        unbatched = self.kind != "linear" and x.dim() == (2 if self.kind == "conv1d" else 3)
        # Output channels: the last axis of a linear layer, else axis 1 (0 unbatched).
        ch: Tuple[int, ...] = (-1,) if self.kind == "linear" else (
            (-1,) + (1,) * (c.dim() - 1) if unbatched else (1, -1) + (1,) * (c.dim() - 2))
        y = c * self.dx * self._dw.reshape(ch)
        if self._bias is not None:
            y = y + torch.from_numpy(self._bias).reshape(ch)
        return y if y.dtype == x.dtype else y.to(x.dtype)

    def _call(self, x: torch.Tensor, dx: float, dw: npt.NDArray[np.float64],
              bias: Optional[npt.NDArray[np.float64]], design: Design) -> torch.Tensor:
        """One call of the compiled layer op, the output in the op's dtype and the
        layer's output shape."""
        xn, wn, geom, shape = self._operands(x)
        d = "exact" if design is None else design
        y, t = _sm.layer_forward(xn, wn, dx, dw, bias, d, conv=geom,
                                 jobs=self.jobs, name=self.name, max_elements=self.max_elements, times=True,
                                 cache=self._cache())
        for k, v in t.items():
            self.times[k] = self.times.get(k, 0.0) + v
        self.times["calls"] = self.times.get("calls", 0.0) + 1
        out = torch.from_numpy(y)
        if self.kind == "linear":
            out = out.reshape(shape)
        elif self.kind == "conv1d":
            out = out.squeeze(2)
            if shape == (-2,):
                out = out.squeeze(0)
        elif shape == (-2,):
            out = out.squeeze(0)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode != "quant" or self.design == "float":
            if self.mode == "calibrate":
                with torch.no_grad():
                    xd = x.detach()
                    flat = xd.reshape(x.shape[0], -1)
                    per_sample_abs = flat.abs().amax(dim=1).to(torch.float64)
                    # amax propagates NaN and |±inf| is inf: one check on the
                    # per-sample maxima sees every non-finite input.
                    if x.numel() and not bool(torch.isfinite(per_sample_abs).all()):
                        raise ValueError(
                            f"layer {self.name!r}: calibration input holds NaN or infinite values; "
                            "check the calibration data and the layers before this one"
                        )
                    per_sample = flat.amax(dim=1).to(torch.float64)
                    total = int(self.calib_samples) + per_sample.numel()
                    self.max_mean.mul_(int(self.calib_samples) / total).add_(per_sample.sum() / total)
                    self.absmax_mean.mul_(int(self.calib_samples) / total).add_(per_sample_abs.sum() / total)
                    self.calib_samples.fill_(total)
                    self.calib_min.fill_(min(float(self.calib_min), float(xd.min())))
            y: torch.Tensor = self.layer(x)
            return y
        with torch.no_grad():
            out = self._layer_op(x, self.design)
            if self.collect:
                self._accumulate(x)
            return out

    def _accumulate(self, x: torch.Tensor) -> None:
        """Adds this batch's statistics: zeros of the quantized input, the design's
        lane statistics per group (``smtgen.gemm_stats``) and its output error
        against the exact int8 layer, both on the operands the layer op lowers. A
        signed layer runs only the exact path: its zeros, no lane statistics, no error."""
        assert self._dw is not None
        if self.signed:
            xq = self.quantize_input(x)
            self.stats["elements"] = self.stats.get("elements", 0) + xq.numel()
            self.stats["zeros"] = self.stats.get("zeros", 0) + int((xq == 0).sum())
            return
        xn, wn, geom, _ = self._operands(x)
        pairs = _sm.lower(xn, wn, self.dx, conv=geom, name=self.name, max_elements=self.max_elements)
        s = self.stats
        og = self._dw.numel() // len(pairs)
        exact = self.design in (None, "exact")
        for gi, (a, w) in enumerate(pairs):
            ref = _sm.gemm(a, w, "exact").astype(np.float64)
            if exact:
                c = ref
                st = None
            else:
                assert self.design is not None
                c32, st = _sm.gemm_stats(a, w, self.design)
                c = c32.astype(np.float64)
            scale = self._dw.numpy()[gi * og:(gi + 1) * og] * self.dx
            s["err2"] = s.get("err2", 0.0) + float((((c - ref) * scale) ** 2).sum())
            s["ref2"] = s.get("ref2", 0.0) + float(((ref * scale) ** 2).sum())
            if st is not None:
                hist = st["active_histogram"]
                active = sum(i * h for i, h in enumerate(hist))
                s["cycles"] = s.get("cycles", 0) + sum(hist)
                s["collide"] = s.get("collide", 0) + sum(hist[2:])
                s["active"] = s.get("active", 0) + active
                s["reduced"] = s.get("reduced", 0.0) + st["reduced_fraction"] * active
        xq = self.quantize_input(x)
        s["elements"] = s.get("elements", 0) + xq.numel()
        s["zeros"] = s.get("zeros", 0) + int((xq == 0).sum())


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
    #: The simulated layers with signed inputs on the exact int8 path
    #: (``quantize(signed="exact")``); also in :attr:`quantized`.
    signed: List[str] = field(default_factory=list)

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
        if self.signed:
            lines.append("  of them signed, on the exact int8 path only: " + ", ".join(self.signed))
        for name, why in self.float_layers.items():
            macs = self.macs.get(name)
            share = f", {100.0 * macs / self.total_macs:.1f} % of MACs" if macs and self.total_macs else ""
            lines.append(f"  stays float: {name} ({why}{share})")
        return "\n".join(lines)


#: The layer types smtgen simulates.
SIMULATED = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _unsupported(layer: nn.Module) -> Optional[str]:
    """Why smtgen cannot lower ``layer`` (a convolution or linear layer) to its GEMM,
    or ``None`` when it can. The one place that decides it: :func:`quantize` asks it
    for every candidate layer. Every groups, stride, dilation and zero padding
    (symmetric, asymmetric through a ZeroPad in front, ``'same'``, ``'valid'``) of a
    Conv1d or Conv2d is lowered; other padding modes are not."""
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        return f"{type(layer).__name__}: transposed convolutions are not lowered"
    if isinstance(layer, nn.modules.conv._ConvNd) and not isinstance(layer, SIMULATED):
        return f"{type(layer).__name__}: only 1-D and 2-D convolutions are lowered"
    base: Type[nn.Module] = (
        nn.Conv2d if isinstance(layer, nn.Conv2d) else nn.Conv1d if isinstance(layer, nn.Conv1d) else nn.Linear
    )
    if type(layer).forward is not base.forward:
        return (
            f"{type(layer).__name__} overrides {base.__name__}.forward (e.g. padding inside the module), "
            f"so its GEMM is not the {base.__name__}'s; rewrite it as a plain {base.__name__} "
            "(with an nn.ZeroPad2d in front for TF-style 'same' padding)"
        )
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        if layer.padding_mode != "zeros":
            return f"padding_mode={layer.padding_mode!r}"
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
    signed: str = "float",
    progress: bool = True,
    verbose: bool = True,
    max_elements: int = 1 << 24,
) -> QuantizeReport:
    """Swaps the model's Conv2d and Linear layers for :class:`QuantLayer` in place
    and calibrates their activation ranges (``max_mean``) on up to ``batches``
    batches of ``calib_loader`` with BatchNorm in train mode (dropout and stochastic
    depth off) without gradient steps; BatchNorm's running statistics are restored
    afterwards, so the float model is unchanged.
    The first layer and the last (the classifier) stay float unless
    ``include_first`` / ``include_last``; names in ``skip`` stay float too.
    ``max_elements`` is each simulated layer's ceiling on elements per tensor (its
    input, weights or output in one call; 2**24 as the CLI's): raise it for large
    batches of large feature maps, the memory a call takes grows with it.

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

    ``signed="exact"`` (opt-in; default ``"float"``) runs the layers with signed
    inputs on the exact int8 path instead (spec §8): symmetric signed activations
    ``dx = 2·max_abs_mean / 255``, ``xq = clamp(round_half_even(x / dx), -128, 127)``,
    the GEMM computed exactly as ``A⁺·W − A⁻·W`` on the engine. Such a layer runs only
    ``"exact"`` or ``"float"``: under a uniform design it runs float, and a plan
    giving it a design is refused (see :func:`simulate`). They are listed in the
    report's ``signed``.

    Raises ``ValueError`` when no layer is left to simulate. Returns a
    :class:`QuantizeReport` (printed when ``verbose``) that also gives each layer's
    MACs per sample and the share of them the simulated layers carry."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ValueError(f"batches = {batches!r}: allowed a positive integer")
    if unsupported not in ("error", "float"):
        raise ValueError(f"unsupported = {unsupported!r}: allowed 'error' or 'float'")
    if signed not in ("float", "exact"):
        raise ValueError(
            f"signed = {signed!r}: allowed 'float' (layers with signed inputs stay float) or 'exact' "
            "(they run on the exact int8 path with signed activations)"
        )
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
    chosen: List[Tuple[str, nn.Module]] = []
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
            "model has no quantizable layer: smtgen simulates Conv1d, Conv2d and Linear layers and none "
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
        _set_child(model, name, QuantLayer(layer, name, max_elements=max_elements))
    layers = quant_layers(model)
    for q in layers:
        q.mode = "calibrate"
    bn_state = {
        k: v.clone() for k, v in model.state_dict().items() if "running_" in k or "num_batches_tracked" in k
    }
    was_training = model.training
    _bn_train_mode(model)
    bar = _bar(batches, "calibrate", progress)
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
        if float(q.calib_min) < 0.0 and signed == "exact":
            if int(q.calib_samples) == 0 or not float(q.absmax_mean) > 0.0:
                problems[q.name] = "calibration saw no non-zero input (signed layer)"
            else:
                q.signed = True
        elif float(q.calib_min) < 0.0:
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
            if q.signed:
                report.signed.append(q.name)
    report.float_layers.update(problems)
    report.float_layers = dict(sorted(report.float_layers.items(), key=lambda kv: order[kv[0]]))
    report.quantized = kept
    if not kept:
        raise ValueError(
            "model has no quantizable layer: smtgen simulates Conv1d, Conv2d and Linear layers and none "
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
        wn = w.detach().cpu().numpy()
        if ql.kind == "conv1d":  # O x C x K: one row of taps
            wn = wn[:, :, None, :]
        pruned, z = _prune(wn, axis=1)
        pruned = pruned.reshape(tuple(w.shape))
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
    dict with a ``"preset"`` key (a mapping without one names layers). Every design is validated before anything changes.

    A layer with signed inputs (``quantize(signed="exact")``) runs only ``"exact"``
    or ``"float"``: a single design (or ``default``) other than those leaves it
    float, and a mapping that names it with a design is a ValueError. Returns the
    model."""
    layers = _simulated_layers(model)
    by_name = {q.name: q for q in layers}

    def signed_rule(d: Design) -> Design:
        # The designs' windows are defined on unsigned activations: float instead.
        return d if d in (None, "exact", "float") else "float"

    if isinstance(design, Mapping) and "preset" not in design:
        unknown = [k for k in design if k not in by_name]
        if unknown:
            raise ValueError(f"design names layers {unknown} that are not simulated; simulated: {sorted(by_name)}")
        refused = [k for k in design if by_name[k].signed and design[k] not in (None, "exact", "float")]
        if refused:
            raise ValueError(
                f"design gives {[(k, design[k]) for k in refused]}: these layers have signed inputs "
                "(quantize(signed='exact')) and run only 'exact' or 'float'"
            )
        plan: Dict[str, Design] = {}
        for n, q in by_name.items():
            d = cast(Design, design.get(n, default))
            plan[n] = signed_rule(d) if q.signed and n not in design else d
        given: List[object] = list(design.values()) + [default]
        for g in {repr(v): v for v in given}.values():
            _check_design(cast(Design, g))  # every design given, also those signed layers do not take
    else:
        plan = {n: signed_rule(cast(Design, design)) if q.signed else cast(Design, design) for n, q in by_name.items()}
        _check_design(cast(Design, design))
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
    ``batches`` batches of ``loader`` with BatchNorm in train mode (dropout and
    stochastic depth off) without gradients, activation ranges frozen, weights untouched; leaves the model in eval mode. Returns the model.

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
    _bn_train_mode(model)
    bar = _bar(batches, "recalibrate BN", progress)
    try:
        _run_batches(model, loader, batches, bar)
    finally:
        bar.close()
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.eval()
    return model


def layer_stats(model: nn.Module, loader: Iterable[Any], batches: int = 1, progress: bool = False) -> List[Dict[str, Any]]:
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
    bar = _bar(batches, "layer stats", progress)
    try:
        _run_batches(model, loader, batches, bar)
    finally:
        bar.close()
        for q in layers:
            q.collect = False
        model.train(was)
    out: List[Dict[str, Any]] = []
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
                "design": "exact" if exact else (q.design if isinstance(q.design, str) else dict(q.design or {})),
                "zero_fraction": s.get("zeros", 0) / max(s.get("elements", 0), 1),
                "collide_fraction": 0.0 if exact else s.get("collide", 0) / max(s.get("cycles", 0), 1),
                "reduced_fraction": 0.0 if exact else s.get("reduced", 0.0) / max(s.get("active", 0), 1),
                "sqnr_db": float("inf") if err2 == 0 else 10.0 * np.log10(ref2 / err2) if ref2 > 0 else float("-inf"),
            }
        )
    return out


def evaluate(model: nn.Module, loader: Iterable[Any], progress: bool = True, desc: str = "evaluate") -> float:
    """Top-1 accuracy (%) of the model in eval mode over a loader of ``(x, y)``."""
    model.eval()
    correct = total = 0
    try:
        n = len(loader)  # type: ignore[arg-type]
    except TypeError:
        n = 0
    bar = _bar(n, desc, progress)
    with torch.no_grad():
        for x, y in loader:
            pred = model(x).argmax(dim=1)
            correct += int((pred == y).sum())
            total += int(y.numel())
            bar.set_postfix_str(f"top-1 {100.0 * correct / max(total, 1):.2f}%", refresh=False)
            bar.update()
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
